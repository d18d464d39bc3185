//! `post_process`: what is derived from the data already stored (cultural-list memberships,
//! CRI scores, recommendations, the cap on reviews), by `post::execute`, each step in its own
//! transaction. The stage's items are its steps; each step's summary is a note of the report.

use async_trait::async_trait;

use super::post::{self, PostEvent};
use super::{Counters, Stage, StageContext, StageOutcome};
use crate::plan::{PostProcessStage, thousands};

pub struct PostProcess(pub PostProcessStage);

#[async_trait]
impl Stage for PostProcess {
    async fn run(&self, cx: &mut StageContext) -> StageOutcome {
        let c = cx.counters.clone();
        Counters::add(&c.total, self.0.steps.len() as u64);
        let progress = |event: PostEvent<'_>| match event {
            PostEvent::Started { .. } => {}
            PostEvent::Working {
                step,
                doing,
                done,
                total,
                units,
            } => c.set_activity(Some(if total == 0 {
                format!("{}: {doing}", step.as_str())
            } else {
                format!(
                    "{}: {doing}, {}/{} {units}",
                    step.as_str(),
                    thousands(done),
                    thousands(total)
                )
            })),
            PostEvent::Finished { report } => {
                c.set_activity(None);
                Counters::add(&c.ok, 1);
                Counters::add(&c.rows, report.rows_written + report.rows_deleted);
            }
        };
        let run = &cx.run;
        match post::execute(&run.db, &self.0, &run.plan.data.dir, run.as_of, &progress).await {
            Ok(report) => {
                for step in &report.steps {
                    cx.note(step.to_string());
                    for warning in &step.warnings {
                        cx.note(format!("{}: {warning}", step.step.as_str()));
                    }
                }
                StageOutcome::Done
            }
            Err(e) => {
                Counters::add(&c.failed, 1);
                StageOutcome::Failed(e.to_string())
            }
        }
    }
}
