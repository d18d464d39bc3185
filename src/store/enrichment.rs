//! OMDb data for a movie, and what each enrichment source answered for it.
//!
//! The state (`fetched`, `no_data` with OMDb's reason, `no_imdb_id`) is kept per movie and
//! source with the time it was learned, so a rerun asks again only where the answer may have
//! changed: never for "no data" unless the plan says so, and for "no IMDb id" only once TMDB
//! has given the movie one.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, StreamTrait, Value,
};

use super::bundle::{OmdbRecord, sources};
use super::connect::begin;
use super::entities::{movie_enrichment, movies};
use super::error::StoreError;
use super::save::{SaveStats, Saver};
use super::sql::{OnExisting, upsert};
use crate::ids::IdSet;

/// What a source answered for a movie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrichmentState {
    Fetched,
    /// The source has nothing for the movie; `reason` is its own words.
    NoData {
        reason: String,
    },
    /// The movie has no IMDb id, so OMDb could not be asked.
    NoImdbId,
}

impl EnrichmentState {
    pub fn as_str(&self) -> &'static str {
        match self {
            EnrichmentState::Fetched => "fetched",
            EnrichmentState::NoData { .. } => "no_data",
            EnrichmentState::NoImdbId => "no_imdb_id",
        }
    }
}

/// Which movies an enrich stage considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrichmentScope {
    /// Movies without an answer from the source yet.
    Missing,
    /// Every movie, also those already fetched.
    All,
}

/// When a movie the source had no data for is asked about again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoDataRetry {
    Never,
    Always,
    /// When the "no data" answer was recorded before this time.
    CheckedBefore(DateTime<Utc>),
}

impl NoDataRetry {
    /// Whether a "no data" answer recorded at `checked_at` is asked about again.
    pub fn asks(self, checked_at: Option<DateTime<Utc>>) -> bool {
        match self {
            NoDataRetry::Never => false,
            NoDataRetry::Always => true,
            NoDataRetry::CheckedBefore(cutoff) => checked_at.is_none_or(|t| t < cutoff),
        }
    }
}

fn check_source(source: &str) -> Result<&'static str, StoreError> {
    sources::ALL
        .iter()
        .copied()
        .find(|s| *s == source)
        .ok_or_else(|| StoreError::UnknownSource {
            name: source.to_owned(),
        })
}

async fn movie_id<C: ConnectionTrait>(conn: &C, tmdb_id: i64) -> Result<i64, StoreError> {
    let stmt = Query::select()
        .column("id")
        .from("movies")
        .and_where(Expr::col("tmdb_id").eq(tmdb_id))
        .to_owned();
    let row = conn
        .query_one(&stmt)
        .await
        .map_err(StoreError::query(format!(
            "looking up TMDB movie {tmdb_id}"
        )))?
        .ok_or(StoreError::UnknownMovie { tmdb_id })?;
    row.try_get::<i64>("", "id")
        .map_err(StoreError::query(format!(
            "looking up TMDB movie {tmdb_id}"
        )))
}

/// Writes what OMDb knows about movie `tmdb_id`: content rating, awards, box office, the IMDb,
/// Rotten Tomatoes and Metacritic ratings (those OMDb no longer gives are removed) and the raw
/// body. Does not set the enrichment state; call [`set_enrichment_state`] in the same
/// transaction. Start the transaction with [`super::begin`].
pub async fn save_omdb_in<C: ConnectionTrait>(
    conn: &C,
    tmdb_id: i64,
    record: &OmdbRecord,
) -> Result<SaveStats, StoreError> {
    let id = movie_id(conn, tmdb_id).await?;
    let mut saver = Saver::new(conn, tmdb_id);
    let update = movies::Entity::update_many()
        .set(movies::ActiveModel::from_omdb(record, saver.now))
        .filter(movies::Column::Id.eq(id));
    saver.stats.written += update
        .exec(conn)
        .await
        .map_err(|source| StoreError::Save {
            tmdb_id,
            step: "saving OMDb fields",
            source,
        })?
        .rows_affected;
    saver
        .ratings_of(
            id,
            &[sources::IMDB, sources::ROTTEN_TOMATOES, sources::METACRITIC],
            &record.ratings,
        )
        .await?;
    saver
        .raw(id, sources::OMDB, record.raw_body.as_deref())
        .await?;
    Ok(saver.stats)
}

/// [`save_omdb_in`] and the `fetched` state in a transaction of its own.
pub async fn save_omdb(
    db: &DatabaseConnection,
    tmdb_id: i64,
    record: &OmdbRecord,
) -> Result<SaveStats, StoreError> {
    let txn = begin(db).await?;
    let stats = save_omdb_in(&txn, tmdb_id, record).await?;
    set_enrichment_state(&txn, tmdb_id, sources::OMDB, EnrichmentState::Fetched).await?;
    txn.commit().await.map_err(StoreError::query(format!(
        "committing OMDb data of TMDB movie {tmdb_id}"
    )))?;
    Ok(stats)
}

/// Records what `source` (an `external_sources` name such as `omdb`) answered for the movie,
/// stamped with the current time.
pub async fn set_enrichment_state<C: ConnectionTrait>(
    conn: &C,
    tmdb_id: i64,
    source: &str,
    state: EnrichmentState,
) -> Result<(), StoreError> {
    let source = check_source(source)?;
    let id = movie_id(conn, tmdb_id).await?;
    let what = || format!("recording the {source} state of TMDB movie {tmdb_id}");
    let reason = match &state {
        EnrichmentState::NoData { reason } => Some(reason.clone()),
        _ => None,
    };
    let row = movie_enrichment::ActiveModel {
        movie_id: Set(id),
        source: Set(source.to_owned()),
        state: Set(state.as_str().to_owned()),
        reason: Set(reason),
        checked_at: Set(Utc::now()),
        ..Default::default()
    };
    upsert(conn, OnExisting::OVERWRITE, vec![row])
        .await
        .map_err(StoreError::query(what()))?;
    Ok(())
}

/// The TMDB ids of the movies an enrich stage on `source` should ask about, ascending.
///
/// `Missing`: movies with no answer yet. `All`: also those already fetched. Either way, movies
/// the source had no data for come back only as `no_data` says, and movies marked "no IMDb
/// id" only once they have one. Movies without an IMDb id and no state are included so the
/// caller can record that.
pub async fn enrichment_candidates(
    db: &DatabaseConnection,
    source: &str,
    scope: EnrichmentScope,
    no_data: NoDataRetry,
) -> Result<IdSet, StoreError> {
    let source = check_source(source)?;
    let stmt = Query::select()
        .expr_as(Expr::col(("movies", "tmdb_id")), "tmdb_id")
        .expr_as(Expr::col(("movies", "imdb_id")), "imdb_id")
        .expr_as(Expr::col(("movie_enrichment", "state")), "state")
        .expr_as(Expr::col(("movie_enrichment", "checked_at")), "checked_at")
        .from("movies")
        .left_join(
            "movie_enrichment",
            Expr::col(("movie_enrichment", "movie_id"))
                .equals(("movies", "id"))
                .and(Expr::col(("movie_enrichment", "source")).eq(Value::from(source))),
        )
        .to_owned();
    let what = || format!("listing movies to enrich from {source}");
    let mut out = IdSet::default();
    // Read as a stream: the whole catalog's rows at once were tens of megabytes at 100,000
    // movies, where the candidates kept are a few bits each (their ids; the caller reads the
    // rest of a movie when it comes to it).
    let rows = db.stream(&stmt).await.map_err(StoreError::query(what()))?;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.try_next().await.map_err(StoreError::query(what()))? {
        let tmdb_id: i64 = row
            .try_get("", "tmdb_id")
            .map_err(StoreError::query(what()))?;
        let imdb_id: Option<String> = row
            .try_get("", "imdb_id")
            .map_err(StoreError::query(what()))?;
        let state: Option<String> = row
            .try_get("", "state")
            .map_err(StoreError::query(what()))?;
        let wanted = match state.as_deref() {
            None => true,
            Some("fetched") => scope == EnrichmentScope::All,
            Some("no_data") => no_data.asks(
                row.try_get("", "checked_at")
                    .map_err(StoreError::query(what()))?,
            ),
            Some("no_imdb_id") => imdb_id.is_some(),
            Some(other) => {
                return Err(StoreError::BadValue {
                    table: "movie_enrichment",
                    column: "state",
                    value: other.to_owned(),
                });
            }
        };
        if wanted {
            out.insert(tmdb_id);
        }
    }
    Ok(out)
}
