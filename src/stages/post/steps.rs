//! [`execute`]: the steps of one `post_process` stage against the database, in the order the
//! plan lists them, each in its own transaction, each idempotent (running it again on the same
//! data leaves the database digest unchanged).
//!
//! Everything that can be checked without the database is checked before the first step
//! writes: the list files are read and validated, the CRI and recommendation settings
//! checked. A failing step leaves nothing of itself behind; the steps before it stay done.

use std::fmt;
use std::path::Path;

use chrono::NaiveDate;
use sea_orm::DatabaseConnection;
use serde::{Serialize, Serializer};

use super::cri::{Cri, CriParams};
use super::cultural::{self, CulturalListsReport};
use super::error::PostError;
use super::recommend::{self, RecommendationsReport};
use super::reviews::{self, ReviewsReport};
use super::scores::{self, CriReport};
use super::similarity::SimilarityParams;
use crate::plan::{CriSettings, PostProcessStage, PostStep, RecommendationSettings};

/// What [`execute`] tells its caller as it goes, for status lines and progress.
#[derive(Debug, Clone, Copy)]
pub enum PostEvent<'a> {
    Started { step: PostStep },
    Finished { report: &'a StepReport },
}

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
        written: u64,
        deleted: u64,
        warnings: Vec<String>,
    ) -> Self {
        StepReport {
            step: PostStep::CulturalLists,
            rows_written: written,
            rows_deleted: deleted,
            warnings,
            detail: StepDetail::CulturalLists(report),
        }
    }

    pub(super) fn cri_scores(report: CriReport, written: u64) -> Self {
        StepReport {
            step: PostStep::CriScores,
            rows_written: written,
            rows_deleted: 0,
            warnings: Vec::new(),
            detail: StepDetail::CriScores(report),
        }
    }

    pub(super) fn recommendations(
        report: RecommendationsReport,
        written: u64,
        deleted: u64,
    ) -> Self {
        StepReport {
            step: PostStep::Recommendations,
            rows_written: written,
            rows_deleted: deleted,
            warnings: Vec::new(),
            detail: StepDetail::Recommendations(report),
        }
    }

    pub(super) fn reviews(report: ReviewsReport, deleted: u64) -> Self {
        StepReport {
            step: PostStep::Reviews,
            rows_written: 0,
            rows_deleted: deleted,
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

/// The CRI parameters a plan's settings give.
pub fn cri_params(s: &CriSettings) -> CriParams {
    CriParams {
        timelessness: s.weights.timelessness,
        cultural_penetration: s.weights.cultural_penetration,
        artistic_impact: s.weights.artistic_impact,
        institutional_recognition: s.weights.institutional_recognition,
        public_reception: s.weights.public_reception,
        imdb_votes_full: s.imdb_votes_full,
        tmdb_votes_full: s.tmdb_votes_full,
        popularity_full: s.popularity_full,
        classic_age_years: s.classic_age_years,
    }
}

/// The similarity parameters a plan's settings give; `common_share` is not a plan setting
/// and keeps its default.
pub fn similarity_params(s: &RecommendationSettings) -> SimilarityParams {
    SimilarityParams {
        genres: s.weights.genres,
        keywords: s.weights.keywords,
        cast: s.weights.cast,
        crew: s.weights.crew,
        top_n: s.top_n as usize,
        min_score: s.min_score,
        ..SimilarityParams::default()
    }
}

/// Runs the steps of `stage` against `db`, in the plan's order.
///
/// - `data_dir`: the plan's `[data] dir`; list files are read from `<data_dir>/lists`.
/// - `as_of`: the run's date. Movie ages for the CRI are measured against its year, and it is
///   stored as `computed_at`; nothing here reads the clock, so a rerun with the same date and
///   data writes the same rows.
/// - `progress`: called when each step starts and finishes.
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
    let cri = Cri::new(cri_params(&stage.cri), chrono::Datelike::year(&as_of))?;
    let similarity = similarity_params(&stage.recommendations);
    similarity.check()?;
    let computed_at = as_of.and_time(chrono::NaiveTime::MIN).and_utc();

    let mut report = PostReport::default();
    for &step in &stage.steps {
        progress(PostEvent::Started { step });
        let done = match step {
            PostStep::CulturalLists => cultural::run(db, &lists).await?,
            PostStep::CriScores => scores::run(db, &cri, computed_at).await?,
            PostStep::Recommendations => recommend::run(db, similarity).await?,
            PostStep::Reviews => reviews::run(db, stage.reviews.per_movie).await?,
        };
        progress(PostEvent::Finished { report: &done });
        report.steps.push(done);
    }
    Ok(report)
}
