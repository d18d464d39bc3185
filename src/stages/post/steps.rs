//! [`execute`]: the steps of one `post_process` stage against the database, in the order the
//! plan lists them, each in its own transaction, each idempotent (running it again on the same
//! data leaves the database digest unchanged).
//!
//! Everything that can be checked without the database is checked before the first step
//! writes: the list files are read and validated, the CRI and recommendation settings
//! checked. A failing step leaves nothing of itself behind; the steps before it stay done.
//! One exception, on PostgreSQL: the links of TMDB's recommendations to imported movies are
//! committed range by range, several at once, before the recommendations step computes
//! anything (each link follows from the stored rows alone, so one set is right whatever the
//! rest of the step does).

use std::path::Path;

use chrono::NaiveDate;
use sea_orm::DatabaseConnection;

use super::cri::{Cri, CriParams};
use super::cultural;
use super::error::PostError;
use super::recommend;
use super::report::{PostReport, StepReport};
use super::reviews;
use super::scores;
use super::similarity::SimilarityParams;
use crate::plan::{PostProcessStage, PostStep};

/// What [`execute`] tells its caller as it goes, for status lines and progress.
#[derive(Debug, Clone, Copy)]
pub enum PostEvent<'a> {
    Started {
        step: PostStep,
    },
    /// How far a long step is: `done` of `total` `units` through its part `doing` (a `total`
    /// of 0: a part with nothing to count).
    Working {
        step: PostStep,
        doing: &'static str,
        done: u64,
        total: u64,
        units: &'static str,
    },
    Finished {
        report: &'a StepReport,
    },
}

/// Runs the steps of `stage` against `db`, in the plan's order.
///
/// - `data_dir`: the plan's `[data] dir`; list files are read from `<data_dir>/lists`.
/// - `as_of`: the run's date. Movie ages for the CRI are measured against its year, and it is
///   stored as `computed_at`; nothing here reads the clock, so a rerun with the same date and
///   data writes the same rows.
/// - `progress`: called when each step starts and finishes, and as a long step goes.
pub async fn execute(
    db: &DatabaseConnection,
    stage: &PostProcessStage,
    data_dir: &Path,
    as_of: NaiveDate,
    progress: &(dyn Fn(PostEvent<'_>) + Sync),
) -> Result<PostReport, PostError> {
    let lists = if stage.steps.contains(&PostStep::CulturalLists) {
        cultural::load(&stage.cultural_lists, data_dir)?
    } else {
        Vec::new()
    };
    let cri = Cri::new(CriParams::from(&stage.cri), chrono::Datelike::year(&as_of))?;
    let similarity = SimilarityParams::from(&stage.recommendations);
    similarity.check()?;
    let computed_at = as_of.and_time(chrono::NaiveTime::MIN).and_utc();

    let mut report = PostReport::default();
    for &step in &stage.steps {
        progress(PostEvent::Started { step });
        let done = match step {
            PostStep::CulturalLists => {
                let (report, rows, warnings) = cultural::run(db, &lists).await?;
                StepReport::cultural_lists(report, rows, warnings)
            }
            PostStep::CriScores => {
                let (report, rows) = scores::run(db, &cri, computed_at).await?;
                StepReport::cri_scores(report, rows)
            }
            PostStep::Recommendations => {
                let (report, rows) = recommend::run(db, similarity, progress).await?;
                StepReport::recommendations(report, rows)
            }
            PostStep::Reviews => {
                StepReport::reviews(reviews::run(db, stage.reviews.per_movie).await?)
            }
        };
        crate::mem::release_freed();
        // How big the process got by the end of each step, for `RUST_LOG=popctl=debug`: the
        // steps read the whole catalog, so this is where memory would grow with it.
        tracing::debug!(
            step = step.as_str(),
            peak_rss_bytes = crate::mem::peak_rss_bytes(),
            "post-processing step done"
        );
        progress(PostEvent::Finished { report: &done });
        report.steps.push(done);
    }
    Ok(report)
}
