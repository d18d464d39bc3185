//! The `reviews` step: at most `per_movie` stored TMDB reviews per movie.
//!
//! Which are kept: the newest by `created_at` (when the review was written), reviews without
//! a date after dated ones, and between equal dates the lower `tmdb_review_id`, so the choice
//! is the same on every run and backend. Newest first because a sample of reviews is most
//! useful when it says what people think now; TMDB lists the oldest first, so its first page
//! alone would keep the oldest. `per_movie = 0` removes every review.
//!
//! A later fetch stores a movie's page of reviews again (the fetch mirrors TMDB); running
//! this step after it caps them again, to the same selection. One transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde::Serialize;

use super::error::PostError;
use super::read::{all, get, select};
use crate::plan::PostStep;
use crate::store::begin;
use crate::store::derived;

const STEP: PostStep = PostStep::Reviews;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReviewsReport {
    pub per_movie: u32,
    /// Movies with at least one review after the step.
    pub movies_with_reviews: u64,
    /// Movies that had more than `per_movie` reviews.
    pub movies_capped: u64,
    pub reviews_kept: u64,
    pub reviews_removed: u64,
}

struct Stored {
    id: i64,
    created_at: Option<DateTime<Utc>>,
    tmdb_review_id: String,
}

/// Removes the reviews beyond the first `per_movie` of each movie.
pub(super) async fn run(
    db: &DatabaseConnection,
    per_movie: u32,
) -> Result<ReviewsReport, PostError> {
    let txn = begin(db).await?;
    let t = "reviews";
    let stmt = select(t, &["id", "movie_id", "created_at", "tmdb_review_id"]);
    let mut by_movie: BTreeMap<i64, Vec<Stored>> = BTreeMap::new();
    for row in all(&txn, STEP, t, &stmt).await? {
        by_movie
            .entry(get(&row, STEP, t, "movie_id")?)
            .or_default()
            .push(Stored {
                id: get(&row, STEP, t, "id")?,
                created_at: get(&row, STEP, t, "created_at")?,
                tmdb_review_id: get(&row, STEP, t, "tmdb_review_id")?,
            });
    }
    let cap = per_movie as usize;
    let mut report = ReviewsReport {
        per_movie,
        ..ReviewsReport::default()
    };
    let mut removed = Vec::new();
    for reviews in by_movie.values_mut() {
        if reviews.len() > cap {
            report.movies_capped += 1;
            reviews.sort_by(|a, b| {
                // Newest first; `None` (no date) after every date.
                b.created_at
                    .cmp(&a.created_at)
                    .then_with(|| a.tmdb_review_id.cmp(&b.tmdb_review_id))
            });
            removed.extend(reviews.drain(cap..).map(|r| r.id));
        }
        if !reviews.is_empty() {
            report.movies_with_reviews += 1;
            report.reviews_kept += reviews.len() as u64;
        }
    }
    report.reviews_removed = derived::remove_reviews(&txn, &removed)
        .await
        .map_err(PostError::query(STEP, "removing reviews beyond the cap"))?;
    txn.commit()
        .await
        .map_err(PostError::query(STEP, "committing"))?;
    Ok(report)
}
