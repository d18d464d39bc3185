//! The `cri_scores` step: the Cultural Relevance Index of every imported movie, from what the
//! database holds, written to `cri_scores` under [`FORMULA_VERSION`].
//!
//! Where each input comes from:
//! - list memberships: `movie_list_items` of `curated_lists` with their authority's kind and
//!   trust. Lists count as loaded (a movie on none is a known 0) once any item is linked;
//!   before that they are unknown, and confidence is lower.
//! - awards: the counts the OMDb awards parser stored on `movies` (parsed again from
//!   `awards_text` if they are missing); no `awards_text` means unknown.
//! - `external_ratings`: IMDb rating and votes, Rotten Tomatoes, Metacritic, and TMDB's vote
//!   average, vote count and popularity.
//! - the release year from `movies.release_date`; ages are measured against the run's year.
//!
//! Every movie gets a row, also one without any data (overall 0, confidence 0): the row says
//! the movie was scored and how little was known. Rows of other formula versions are kept.
//! `computed_at` is the run's as-of date (midnight UTC): the step never reads the clock.

use std::collections::HashMap;
use std::ops::Range;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, StreamTrait};
use serde::Serialize;

use super::cri::{AwardCounts, Cri, CriInputs, FORMULA_VERSION, ListMembership, Placement};
use super::error::PostError;
use super::read::{all, count_value, each_row, get, select};
use crate::lists::{AuthorityKind, AwardResult, ListType};
use crate::plan::PostStep;
use crate::sources::omdb::awards;
use crate::store::bundle::{Awards, metrics, sources};
use crate::store::derived::{self, CriRow};
use crate::store::{SaveStats, begin};

const STEP: PostStep = PostStep::CriScores;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CriReport {
    pub formula_version: i32,
    pub movies_scored: u64,
    /// Movies about which nothing was known (confidence 0).
    pub movies_without_data: u64,
    /// Means over the scored movies; 0 when there are none.
    pub mean_overall: f64,
    pub mean_confidence: f64,
}

fn bad(
    table: &'static str,
    column: &'static str,
    row: i64,
    value: impl ToString,
    expected: &'static str,
) -> PostError {
    PostError::BadValue {
        step: STEP.as_str(),
        table,
        column,
        row,
        value: value.to_string(),
        expected,
    }
}

/// Movies scored and written at a time, by id range: the step's memory is a range's inputs
/// and rows, whatever the size of the catalog.
const MOVIES_AT_A_TIME: i64 = 10_000;

/// Computes and stores the score of every movie.
pub(super) async fn run(
    db: &DatabaseConnection,
    cri: &Cri,
    computed_at: DateTime<Utc>,
) -> Result<(CriReport, SaveStats), PostError> {
    let txn = begin(db).await?;
    let mut memberships = list_memberships(&txn).await?;
    let mut report = CriReport {
        formula_version: FORMULA_VERSION,
        ..CriReport::default()
    };
    let mut written = 0;
    let ranges = derived::id_ranges(&txn, "movies", MOVIES_AT_A_TIME)
        .await
        .map_err(PostError::query(STEP, "reading the range of movies.id"))?;
    for ids in ranges {
        let mut inputs = movie_inputs(&txn, &ids).await?;
        add_ratings(&txn, &ids, &mut inputs).await?;
        let mut movies: Vec<(i64, CriInputs)> = inputs.into_iter().collect();
        movies.sort_unstable_by_key(|(id, _)| *id);
        let mut rows = Vec::with_capacity(movies.len());
        for (id, mut inputs) in movies {
            // Lists count as loaded once any item is linked: then a movie on none is a known 0.
            if let Some(memberships) = memberships.as_mut() {
                inputs.lists = Some(memberships.remove(&id).unwrap_or_default());
            }
            let s = cri.score(&inputs);
            report.movies_scored += 1;
            report.mean_overall += s.overall;
            report.mean_confidence += s.confidence;
            if s.confidence == 0.0 {
                report.movies_without_data += 1;
            }
            let d = s.dimensions;
            rows.push(CriRow {
                movie_id: id,
                overall: s.overall,
                timelessness: d.timelessness,
                cultural_penetration: d.cultural_penetration,
                artistic_impact: d.artistic_impact,
                institutional_recognition: d.institutional_recognition,
                public_reception: d.public_reception,
                confidence: s.confidence,
            });
        }
        written += derived::save_cri_scores(&txn, FORMULA_VERSION, &rows, computed_at)
            .await
            .map_err(PostError::query(STEP, "saving scores"))?;
    }
    if report.movies_scored > 0 {
        let n = report.movies_scored as f64;
        report.mean_overall /= n;
        report.mean_confidence /= n;
    }
    txn.commit()
        .await
        .map_err(PostError::query(STEP, "committing"))?;
    let rows = SaveStats {
        written,
        ..SaveStats::default()
    };
    Ok((report, rows))
}

/// The movies with ids in `ids`, with their release year and awards, by `movies.id`.
async fn movie_inputs<C: ConnectionTrait + StreamTrait>(
    conn: &C,
    ids: &Range<i64>,
) -> Result<HashMap<i64, CriInputs>, PostError> {
    let t = "movies";
    let stmt = select(
        t,
        &[
            "id",
            "release_date",
            "awards_text",
            "oscar_wins",
            "oscar_nominations",
            "award_wins",
            "award_nominations",
        ],
    )
    .and_where(Expr::col("id").gte(ids.start))
    .and_where(Expr::col("id").lt(ids.end))
    .to_owned();
    let mut out = HashMap::new();
    each_row(conn, STEP, t, &stmt, |row| {
        let id: i64 = get(row, STEP, t, "id")?;
        let release: Option<chrono::NaiveDate> = get(row, STEP, t, "release_date")?;
        let text: Option<String> = get(row, STEP, t, "awards_text")?;
        let mut counts = [0u32; 4];
        let mut complete = true;
        for (slot, column) in counts.iter_mut().zip([
            "oscar_wins",
            "oscar_nominations",
            "award_wins",
            "award_nominations",
        ]) {
            match get::<Option<i32>>(row, STEP, t, column)? {
                Some(n) => {
                    *slot = u32::try_from(n).map_err(|_| bad(t, column, id, n, "0 or more"))?
                }
                None => complete = false,
            }
        }
        let awards = text.map(|text| {
            let parsed = if complete {
                Awards {
                    oscar_wins: counts[0],
                    oscar_nominations: counts[1],
                    total_wins: counts[2],
                    total_nominations: counts[3],
                    complete: true,
                }
            } else {
                awards::parse(&text)
            };
            AwardCounts::from_parsed(&parsed)
        });
        out.insert(
            id,
            CriInputs {
                awards,
                release_year: release.map(|d| chrono::Datelike::year(&d)),
                ..CriInputs::default()
            },
        );
        Ok(())
    })
    .await?;
    Ok(out)
}

/// Critic and audience scores, vote counts and popularity from `external_ratings`. Figures
/// the CRI does not use (other sources, other metrics) are passed over.
async fn add_ratings<C: ConnectionTrait + StreamTrait>(
    conn: &C,
    ids: &Range<i64>,
    inputs: &mut HashMap<i64, CriInputs>,
) -> Result<(), PostError> {
    let t = "external_ratings";
    let stmt = select(t, &["id", "movie_id", "source", "metric", "value"])
        .and_where(Expr::col("movie_id").gte(ids.start))
        .and_where(Expr::col("movie_id").lt(ids.end))
        .to_owned();
    each_row(conn, STEP, t, &stmt, |row| {
        let id: i64 = get(row, STEP, t, "id")?;
        let movie_id: i64 = get(row, STEP, t, "movie_id")?;
        let source: String = get(row, STEP, t, "source")?;
        let metric: String = get(row, STEP, t, "metric")?;
        let value: f64 = get(row, STEP, t, "value")?;
        // The foreign key makes a rating without its movie impossible; read defensively.
        let Some(i) = inputs.get_mut(&movie_id) else {
            return Ok(());
        };
        let count = || count_value(STEP, t, "value", id, value);
        match (source.as_str(), metric.as_str()) {
            (sources::IMDB, metrics::RATING) => i.imdb_rating = Some(value),
            (sources::IMDB, metrics::VOTES) => i.imdb_votes = Some(count()?),
            (sources::ROTTEN_TOMATOES, metrics::TOMATOMETER) => i.rotten_tomatoes = Some(value),
            (sources::METACRITIC, metrics::METASCORE) => i.metacritic = Some(value),
            (sources::TMDB, metrics::VOTE_AVERAGE) => i.tmdb_vote_average = Some(value),
            (sources::TMDB, metrics::VOTE_COUNT) => i.tmdb_vote_count = Some(count()?),
            (sources::TMDB, metrics::POPULARITY) => i.tmdb_popularity = Some(value),
            _ => {}
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Every movie's list memberships by `movies.id`, or `None` when no list item is linked at
/// all (then whether a movie is on a list is unknown, not 0). As big as the lists, not as the
/// catalog: a movie on no list has no entry.
async fn list_memberships<C: ConnectionTrait>(
    conn: &C,
) -> Result<Option<HashMap<i64, Vec<ListMembership>>>, PostError> {
    let t = "cultural_authorities";
    let mut authorities = HashMap::new();
    for row in all(conn, STEP, t, &select(t, &["id", "kind", "trust"])).await? {
        let id: i64 = get(&row, STEP, t, "id")?;
        let kind: String = get(&row, STEP, t, "kind")?;
        let kind = AuthorityKind::from_word(&kind).ok_or_else(|| {
            bad(
                t,
                "kind",
                id,
                &kind,
                "award, collection, critic or platform",
            )
        })?;
        authorities.insert(id, (kind, get::<f64>(&row, STEP, t, "trust")?));
    }
    let t = "curated_lists";
    let mut lists = HashMap::new();
    for row in all(
        conn,
        STEP,
        t,
        &select(t, &["id", "authority_id", "list_type"]),
    )
    .await?
    {
        let id: i64 = get(&row, STEP, t, "id")?;
        let authority: i64 = get(&row, STEP, t, "authority_id")?;
        let list_type: String = get(&row, STEP, t, "list_type")?;
        let list_type = ListType::from_word(&list_type)
            .ok_or_else(|| bad(t, "list_type", id, &list_type, "ranked, unranked or award"))?;
        let (kind, trust) = authorities.get(&authority).copied().ok_or_else(|| {
            bad(
                t,
                "authority_id",
                id,
                authority,
                "a cultural authority's id",
            )
        })?;
        lists.insert(id, (kind, trust, list_type));
    }

    let t = "movie_list_items";
    let items = all(
        conn,
        STEP,
        t,
        &select(
            t,
            &["id", "list_id", "movie_id", "position", "award_result"],
        ),
    )
    .await?;
    if items.is_empty() {
        return Ok(None);
    }
    let mut memberships: HashMap<i64, Vec<ListMembership>> = HashMap::new();
    for row in items {
        let id: i64 = get(&row, STEP, t, "id")?;
        let list_id: i64 = get(&row, STEP, t, "list_id")?;
        let movie_id: i64 = get(&row, STEP, t, "movie_id")?;
        let (kind, trust, list_type) = lists
            .get(&list_id)
            .copied()
            .ok_or_else(|| bad(t, "list_id", id, list_id, "a curated list's id"))?;
        let placement = match list_type {
            ListType::Ranked => {
                let position: Option<i32> = get(&row, STEP, t, "position")?;
                match position
                    .and_then(|p| u32::try_from(p).ok())
                    .filter(|p| *p > 0)
                {
                    Some(position) => Placement::Ranked { position },
                    None => {
                        return Err(bad(
                            t,
                            "position",
                            id,
                            position.map_or_else(|| "NULL".to_owned(), |p| p.to_string()),
                            "a position from 1 on an item of a ranked list",
                        ));
                    }
                }
            }
            ListType::Unranked => Placement::Unranked,
            ListType::Award => {
                let result: Option<String> = get(&row, STEP, t, "award_result")?;
                match result.as_deref().and_then(AwardResult::from_word) {
                    Some(r) => Placement::Award(r),
                    None => {
                        return Err(bad(
                            t,
                            "award_result",
                            id,
                            result.as_deref().unwrap_or("NULL"),
                            "won or nominated on an item of an award list",
                        ));
                    }
                }
            }
        };
        memberships
            .entry(movie_id)
            .or_default()
            .push(ListMembership {
                trust,
                kind,
                placement,
            });
    }
    Ok(Some(memberships))
}
