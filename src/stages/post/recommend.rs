//! The `recommendations` step, in two parts:
//!
//! 1. Resolution: TMDB's `recommended` and `similar` rows are stored by target TMDB id whether
//!    or not the target is imported; every row whose target is now a movie in the database
//!    gets `recommended_movie_id`. A later fetch that imports more movies makes more rows
//!    resolvable, so each run links what it can. Each range of rows is committed as it is
//!    linked, before part 2 begins ([`link`]): several at once on PostgreSQL, one after
//!    another on SQLite.
//! 2. In one transaction, computed similarity among the imported movies (see
//!    [`super::similarity`]) from the genres, keywords, cast and crew stored for them, written
//!    as rows of kind [`COMPUTED_KIND`] with their score and rank. Each movie's computed rows
//!    become exactly this run's top N: those that dropped out are removed.
//!
//! Movies are identified by TMDB id in the computation, so ties (broken by the lower id) fall
//! the same way on every backend, whatever surrogate ids the rows got.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use sea_orm::sea_query::{Expr, ExprTrait, Order};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, StreamTrait};
use serde::Serialize;

use super::error::PostError;
use super::read::{all, each_row, get, select};
use super::similarity::{
    FeatureFamily, IndexBuilder, Pair, SimilarityParams, SimilarityStats, spans,
};
use super::steps::PostEvent;
use crate::plan::PostStep;
use crate::store::derived::{self, ComputedRecommendation, TMDB_KINDS};
use crate::store::{SaveStats, begin};

const STEP: PostStep = PostStep::Recommendations;

pub use crate::store::derived::COMPUTED_KIND;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RecommendationsReport {
    /// TMDB recommendation and similar rows linked to their target in this run.
    pub links_resolved: u64,
    /// TMDB rows whose target is imported, after this run (all of them are linked).
    pub links_total_resolved: u64,
    /// TMDB rows whose target is not imported.
    pub links_unresolved: u64,
    /// Computed rows after this run.
    pub computed_pairs: u64,
    /// Movies with at least one computed recommendation.
    pub movies_with_computed: u64,
    pub similarity: SimilarityStats,
}

/// Movies whose similar movies are written at a time (a statement each, about 10 rows a
/// movie); the index computes several such at a time ([`super::similarity::SimilarityIndex::ranges`]).
const MOVIES_AT_A_TIME: usize = 2048;

/// Starts `f` at once on a thread where blocking is fine (the similarity computation uses
/// every core); the future gives its result.
fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> impl Future<Output = Result<T, PostError>> {
    let running = tokio::task::spawn_blocking(f);
    async move {
        running.await.map_err(|e| PostError::Internal {
            step: STEP.as_str(),
            message: format!("the similarity computation did not finish: {e}"),
        })
    }
}

/// Links resolvable TMDB rows, then computes and stores the similar movies.
pub(super) async fn run(
    db: &DatabaseConnection,
    params: SimilarityParams,
    progress: &(dyn Fn(PostEvent<'_>) + Sync),
) -> Result<(RecommendationsReport, SaveStats), PostError> {
    let working = |doing, units| {
        move |done, total| {
            progress(PostEvent::Working {
                step: STEP,
                doing,
                done,
                total,
                units,
            });
        }
    };
    // Phase times and the peak memory after each for `RUST_LOG=popctl=debug`: how long and how
    // big, not what, so no clock reaches data.
    let started = Instant::now();
    let linking = working("linking TMDB's recommendations to movies", "parts");
    let mut report = RecommendationsReport {
        links_resolved: link(db, &linking).await?,
        ..RecommendationsReport::default()
    };
    let txn = begin(db).await?;
    (report.links_total_resolved, report.links_unresolved) = link_counts(&txn).await?;

    let resolved_in = started.elapsed();
    let peak_resolved = crate::mem::peak_rss_bytes();
    working("reading genres, keywords, cast and crew", "")(0, 0);
    let computed = working("computing similar movies", "movies");
    let (builder, rows) = index_input(&txn, &params).await?;
    let read_in = started.elapsed();
    let peak_read = crate::mem::peak_rss_bytes();
    let index = Arc::new(blocking(move || builder.build()).await??);
    report.similarity = index.stats();
    let indexed_in = started.elapsed();
    let peak_indexed = crate::mem::peak_rss_bytes();

    let beyond = |p: Pair| PostError::Internal {
        step: STEP.as_str(),
        message: format!(
            "similarity returned positions {} and {}, beyond the {} movies it was given",
            p.position,
            p.similar_position,
            rows.len()
        ),
    };
    let row_at = |position: u32| rows.get(position as usize).copied();
    let mut written = report.links_resolved;
    let mut deleted = 0;
    // The movies by row id (the index's positions), a range of them at a time: computed,
    // written [`MOVIES_AT_A_TIME`] at a time, and their rows no longer produced removed, so no
    // more than two ranges' results are ever in memory, and the rows go into the table's
    // (movie, …) index in its order rather than all over it.
    let (mut done, total) = (0, rows.len() as u64);
    computed(done, total);
    // The next range is computed while this one is written: the computation is the process's
    // work and the writing mostly the database's, so the two overlap instead of taking turns.
    let compute = |searched: std::ops::Range<usize>| {
        let ix = Arc::clone(&index);
        (searched.clone(), blocking(move || ix.similar(searched)))
    };
    let mut ranges = index.ranges();
    let mut next = ranges.next().map(compute);
    let (mut waited, mut writing) = (Duration::ZERO, Duration::ZERO);
    while let Some((searched, computing)) = next.take() {
        let start = Instant::now();
        let (pairs, scored) = computing.await??;
        waited += start.elapsed();
        // Each range is searched by threads of their own, whose allocator arenas keep what
        // the range freed. Given back as soon as its search has ended, before the next
        // range's threads start (where the search is slower than the writes, PostgreSQL),
        // and once the range is written (where it is the other way round, as it was on
        // both backends when this call came: 4–6 MB off the step's peak at 100,000 movies;
        // docs/benchmarks.md).
        crate::mem::release_freed();
        next = ranges.next().map(compute);
        let start = Instant::now();
        report.similarity.candidate_pairs += scored;
        let mut pairs = pairs.into_iter().peekable();
        for range in spans(searched, MOVIES_AT_A_TIME) {
            let mut saved = Vec::new();
            while let Some(p) = pairs.next_if(|p| (p.position as usize) < range.end) {
                saved.push(ComputedRecommendation {
                    movie_id: row_at(p.position).ok_or_else(|| beyond(p))?,
                    target_tmdb_id: index.id(p.similar_position).ok_or_else(|| beyond(p))?,
                    target_movie_id: row_at(p.similar_position).ok_or_else(|| beyond(p))?,
                    rank: i32::try_from(p.rank).unwrap_or(i32::MAX),
                    score: p.score,
                });
                if p.rank == 1 {
                    report.movies_with_computed += 1;
                }
            }
            report.computed_pairs += saved.len() as u64;
            written += derived::save_computed_recommendations(&txn, &mut saved)
                .await
                .map_err(PostError::query(STEP, "saving computed recommendations"))?;
            deleted += derived::remove_computed_not_in(&txn, &rows[range.clone()], &saved)
                .await
                .map_err(PostError::query(
                    STEP,
                    "removing rows of movie_recommendations no longer produced",
                ))?;
            done += range.len() as u64;
            computed(done, total);
        }
        writing += start.elapsed();
        crate::mem::release_freed();
    }
    let computed_in = started.elapsed();
    let peak_computed = crate::mem::peak_rss_bytes();
    txn.commit()
        .await
        .map_err(PostError::query(STEP, "committing"))?;
    tracing::debug!(
        resolve = ?resolved_in,
        read_features = ?(read_in - resolved_in),
        index = ?(indexed_in - read_in),
        similar_and_write = ?(computed_in - indexed_in),
        waiting_for_similar = ?waited,
        writing = ?writing,
        commit = ?(started.elapsed() - computed_in),
        peak_resolved,
        peak_read,
        peak_indexed,
        peak_computed,
        "recommendations step phases"
    );
    let rows = SaveStats {
        written,
        deleted,
        ..SaveStats::default()
    };
    Ok((report, rows))
}

/// Ranges of TMDB rows linked at once on PostgreSQL, each in a transaction of its own: one
/// server process runs an `UPDATE` on one core. Two at once linked a million rows in 17–20 s
/// against 34–43 s one after the other on a 2-core machine, and the whole 2.8 million of
/// 100,000 movies in 25.6–30.7 s against 31.0–36.6 s four at once (docs/benchmarks.md; then
/// with a foreign key on `recommended_movie_id`, whose check locked the movie each row points
/// at, since replaced by a trigger on `movies`: migration 21).
const LINKS_AT_ONCE: usize = 2;

/// Links every TMDB row whose target is imported and not yet linked, by ranges of row ids,
/// before the step's transaction begins. `progress(done, total)` counts ranges.
///
/// Each range is committed as it is done: a link follows from the stored rows alone, so a
/// range linked stays right whatever happens to the rest of the step, and a step that fails
/// or is killed leaves the rest to the next run. On PostgreSQL, [`LINKS_AT_ONCE`] ranges at a
/// time, each in a transaction of its own. SQLite has one writer, so there the ranges are
/// linked one after another, each statement its own transaction: inside a transaction SQLite
/// keeps a statement journal for a write that may fail halfway (a link may break its foreign
/// key), the first image of every page the statement changes, in memory (`temp_store =
/// memory`), and a range's links change pages all over the index on `recommended_movie_id`.
/// In the step's transaction that journal was 32 MB of a 100,000-movie post stage's peak
/// (`heaptrack`; docs/benchmarks.md), growing with the catalog; a statement on its own needs
/// none, since SQLite's own journal undoes it whole.
async fn link(
    db: &DatabaseConnection,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<u64, PostError> {
    const WHAT: &str = "linking recommendations to imported movies";
    let ranges = derived::id_ranges(db, "movie_recommendations", derived::LINK_RANGE)
        .await
        .map_err(PostError::query(STEP, WHAT))?;
    let total = ranges.remaining();
    progress(0, total);
    let done = AtomicU64::new(0);
    let one_done = || progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
    if db.get_database_backend() != DbBackend::Postgres {
        let mut linked = 0;
        for ids in ranges {
            linked += derived::link_recommendations(db, ids)
                .await
                .map_err(PostError::query(STEP, WHAT))?;
            one_done();
        }
        return Ok(linked);
    }
    futures::stream::iter(ranges)
        .map(|ids| async {
            let own = begin(db).await?;
            let linked = derived::link_recommendations(&own, ids)
                .await
                .map_err(PostError::query(STEP, WHAT))?;
            own.commit().await.map_err(PostError::query(STEP, WHAT))?;
            one_done();
            Ok::<_, PostError>(linked)
        })
        .buffer_unordered(LINKS_AT_ONCE)
        .try_fold(0, |all, linked| async move { Ok(all + linked) })
        .await
}

/// TMDB rows (linked, not linked).
#[expect(
    clippy::disallowed_methods,
    reason = "COUNT(*) as SQL text; this read has yet to move into store with the rest"
)]
async fn link_counts<C: ConnectionTrait>(conn: &C) -> Result<(u64, u64), PostError> {
    let t = "movie_recommendations";
    let mut stmt = select(t, &[]);
    stmt.expr_as(Expr::cust("COUNT(*)"), "total")
        .expr_as(Expr::cust("COUNT(recommended_movie_id)"), "linked")
        .and_where(Expr::col("kind").is_in(TMDB_KINDS));
    let rows = all(conn, STEP, t, &stmt).await?;
    let (mut total, mut linked) = (0i64, 0i64);
    if let Some(row) = rows.first() {
        total = get(row, STEP, t, "total")?;
        linked = get(row, STEP, t, "linked")?;
    }
    let linked = u64::try_from(linked).unwrap_or(0);
    Ok((
        linked,
        u64::try_from(total).unwrap_or(0).saturating_sub(linked),
    ))
}

/// The similarity index's input: every movie by row id, with the genres, keywords, cast and
/// crew stored for it (feature ids are the rows' own ids: the computation only compares them),
/// read by movie as streams into the builder; and the movies' row ids by index position.
async fn index_input<C: ConnectionTrait + StreamTrait>(
    conn: &C,
    params: &SimilarityParams,
) -> Result<(IndexBuilder, Vec<i64>), PostError> {
    let by_movie = |t, columns: &[&'static str], column| {
        let mut stmt = select(t, columns);
        stmt.order_by(column, Order::Asc);
        stmt
    };
    let t = "movies";
    let (mut rows, mut ids): (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
    each_row(
        conn,
        STEP,
        t,
        &by_movie(t, &["id", "tmdb_id"], "id"),
        |row| {
            rows.push(get(row, STEP, t, "id")?);
            ids.push(get(row, STEP, t, "tmdb_id")?);
            Ok(())
        },
    )
    .await?;
    let mut builder = IndexBuilder::new(ids, params)?;
    // The foreign keys make every row's movie one of those read; were one not, the row would
    // have no movie to count for.
    let position = |movie_id: i64| rows.binary_search(&movie_id).ok();
    for (t, column, family) in [
        ("movie_genres", "genre_id", FeatureFamily::Genre),
        ("movie_keywords", "keyword_id", FeatureFamily::Keyword),
    ] {
        let stmt = by_movie(t, &["movie_id", column], "movie_id");
        each_row(conn, STEP, t, &stmt, |row| {
            if let Some(at) = position(get(row, STEP, t, "movie_id")?) {
                builder.add(family, at, get(row, STEP, t, column)?)?;
            }
            Ok(())
        })
        .await?;
    }
    let t = "movie_credits";
    let stmt = by_movie(
        t,
        &["id", "movie_id", "person_id", "credit_type"],
        "movie_id",
    );
    each_row(conn, STEP, t, &stmt, |row| {
        let Some(at) = position(get(row, STEP, t, "movie_id")?) else {
            return Ok(());
        };
        let person: i64 = get(row, STEP, t, "person_id")?;
        let kind: String = get(row, STEP, t, "credit_type")?;
        let family = match kind.as_str() {
            "cast" => FeatureFamily::Cast,
            "crew" => FeatureFamily::Crew,
            _ => {
                return Err(PostError::BadValue {
                    step: STEP.as_str(),
                    table: t,
                    column: "credit_type",
                    row: get(row, STEP, t, "id")?,
                    value: kind,
                    expected: "cast or crew",
                });
            }
        };
        builder.add(family, at, person)?;
        Ok(())
    })
    .await?;
    Ok((builder, rows))
}
