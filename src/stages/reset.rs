//! `reset`: drop popctl's tables and recreate the schema through the migrations.
//!
//! The stage resets the database the run writes to: with `mode = "swap"` (the default) that is
//! the new database beside the live one, which the run swaps in at its end (`ops::run`,
//! `store::NextDb`); with `mode = "in_place"` it is the live database itself. The guard against
//! wiping a database that is not on this machine lives in `store::reset`, so `popctl db reset`
//! and this stage share it. The run ledger is kept through the reset (`store::reset`), so the
//! run keeps its number; the reset is marked done in it right after.

use async_trait::async_trait;

use super::{Counters, Stage, StageContext, StageOutcome};
use crate::plan::ResetStage;
use crate::store;

pub struct Reset(pub ResetStage);

#[async_trait]
impl Stage for Reset {
    async fn run(&self, cx: &mut StageContext) -> StageOutcome {
        let c = &cx.counters;
        Counters::add(&c.total, 1);
        let r = &self.0;
        let url = &cx.run.database_url;
        let before = match cx.ledger().recorded().await {
            Ok(run) => run,
            Err(e) => return StageOutcome::Failed(e.to_string()),
        };
        match store::reset(cx.db(), url, r.allow_remote, r.scope).await {
            Ok(plan) => {
                if let Some(warning) = plan.warning() {
                    cx.note(warning);
                }
            }
            Err(e) => return StageOutcome::Failed(e.to_string()),
        }
        if let Err(e) = cx.ledger().after_reset(cx.name(), before.as_ref()).await {
            return StageOutcome::Failed(e.to_string());
        }
        Counters::add(&c.ok, 1);
        StageOutcome::Done
    }
}
