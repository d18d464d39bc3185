//! `reset`: drop every table and recreate the schema through the migrations.
//!
//! The guard against wiping a database that is not on this machine lives in `store::reset`,
//! so `popctl db reset` and this stage share it. The reset drops the run ledger too; the run
//! is recorded again right after, with the reset as its first finished stage.

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
        if let Err(e) = store::reset(cx.db(), &cx.run.database_url, self.0.allow_remote).await {
            return StageOutcome::Failed(e.to_string());
        }
        if let Err(e) = cx.ledger().after_reset(cx.name()).await {
            return StageOutcome::Failed(e.to_string());
        }
        Counters::add(&c.ok, 1);
        StageOutcome::Done
    }
}
