//! What the steps of a `post_process` stage did: [`StepReport`] per step, [`PostReport`] for
//! the stage. The runner (`steps`) builds them from what each step returns, so the steps do
//! not depend on the runner or on this module.

use std::fmt;

use serde::{Serialize, Serializer};

use super::cultural::CulturalListsReport;
use super::recommend::RecommendationsReport;
use super::reviews::ReviewsReport;
use super::scores::CriReport;
use crate::plan::PostStep;
use crate::store::SaveStats;

/// What every step did, in the order they ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PostReport {
    pub steps: Vec<StepReport>,
}

impl PostReport {
    pub fn step(&self, step: PostStep) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.step == step)
    }

    pub fn rows_written(&self) -> u64 {
        self.steps.iter().map(|s| s.rows_written).sum()
    }

    pub fn rows_deleted(&self) -> u64 {
        self.steps.iter().map(|s| s.rows_deleted).sum()
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    #[serde(serialize_with = "step_word")]
    pub step: PostStep,
    /// Rows inserted or changed (unchanged rows are not rewritten).
    pub rows_written: u64,
    /// Rows removed: items that no longer match, dropped recommendations, capped reviews.
    pub rows_deleted: u64,
    /// Things the user should know that did not stop the step.
    pub warnings: Vec<String>,
    pub detail: StepDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepDetail {
    CulturalLists(CulturalListsReport),
    CriScores(CriReport),
    Recommendations(RecommendationsReport),
    Reviews(ReviewsReport),
}

fn step_word<S: Serializer>(step: &PostStep, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(step.as_str())
}

impl StepReport {
    pub(super) fn cultural_lists(
        report: CulturalListsReport,
        rows: SaveStats,
        warnings: Vec<String>,
    ) -> Self {
        StepReport {
            step: PostStep::CulturalLists,
            rows_written: rows.written,
            rows_deleted: rows.deleted,
            warnings,
            detail: StepDetail::CulturalLists(report),
        }
    }

    pub(super) fn cri_scores(report: CriReport, rows: SaveStats) -> Self {
        StepReport {
            step: PostStep::CriScores,
            rows_written: rows.written,
            rows_deleted: rows.deleted,
            warnings: Vec::new(),
            detail: StepDetail::CriScores(report),
        }
    }

    pub(super) fn recommendations(report: RecommendationsReport, rows: SaveStats) -> Self {
        StepReport {
            step: PostStep::Recommendations,
            rows_written: rows.written,
            rows_deleted: rows.deleted,
            warnings: Vec::new(),
            detail: StepDetail::Recommendations(report),
        }
    }

    /// The step only removes reviews: those are its rows deleted.
    pub(super) fn reviews(report: ReviewsReport) -> Self {
        StepReport {
            step: PostStep::Reviews,
            rows_written: 0,
            rows_deleted: report.reviews_removed,
            warnings: Vec::new(),
            detail: StepDetail::Reviews(report),
        }
    }
}

/// One line for a status message: `cri_scores: 200 movies scored (mean confidence 0.81) …`.
impl fmt::Display for StepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.step.as_str())?;
        match &self.detail {
            StepDetail::CulturalLists(r) => write!(
                f,
                "{} lists, {} of {} items matched, {} not in the database, {} ambiguous",
                r.lists.len(),
                r.matched(),
                r.items(),
                r.not_in_database(),
                r.ambiguous()
            )?,
            StepDetail::CriScores(r) => write!(
                f,
                "{} movies scored (formula {}, mean {:.1}, mean confidence {:.2})",
                r.movies_scored, r.formula_version, r.mean_overall, r.mean_confidence
            )?,
            StepDetail::Recommendations(r) => write!(
                f,
                "{} TMDB links resolved ({} linked, {} to movies not imported), {} computed \
                 recommendations for {} movies",
                r.links_resolved,
                r.links_total_resolved,
                r.links_unresolved,
                r.computed_pairs,
                r.movies_with_computed
            )?,
            StepDetail::Reviews(r) => write!(
                f,
                "{} movies with reviews, {} kept, {} removed (at most {} per movie)",
                r.movies_with_reviews, r.reviews_kept, r.reviews_removed, r.per_movie
            )?,
        }
        write!(
            f,
            "; {} rows written, {} removed",
            self.rows_written, self.rows_deleted
        )
    }
}
