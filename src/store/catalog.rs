//! Keeping the database in step with TMDB's whole catalog: the sync watermark each TMDB
//! source's `export` and `changes` stages leave, the movies the database holds, and what
//! becomes of the ones TMDB no longer has.
//!
//! The watermark is a row in the database it describes, so a swap carries it with the data it
//! is true of, and a run that fails before its stage ends leaves the old one: the next
//! `changes` stage reads again from where the data is known to be.

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, StreamTrait,
};

use super::entities::{catalog_sync, movies};
use super::error::StoreError;
use super::sql::{MAX_PARAMS, NaturalKey, OnExisting, upsert};

impl NaturalKey for catalog_sync::Entity {
    const KEY: &'static [catalog_sync::Column] = &[catalog_sync::Column::Source];
}

/// The day the database holds TMDB source `source`'s catalog as of, if a sync recorded one.
pub async fn watermark<C: ConnectionTrait>(
    conn: &C,
    source: &str,
) -> Result<Option<NaiveDate>, StoreError> {
    let row = catalog_sync::Entity::find_by_id(source.to_owned())
        .one(conn)
        .await
        .map_err(StoreError::query("reading the sync watermark"))?;
    Ok(row.map(|r| r.synced_to))
}

/// Records that the database holds `source`'s catalog as of `day`, as run `run_id` left it.
pub async fn set_watermark<C: ConnectionTrait>(
    conn: &C,
    source: &str,
    day: NaiveDate,
    run_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = catalog_sync::ActiveModel {
        source: Set(source.to_owned()),
        synced_to: Set(day),
        run_id: Set(run_id),
        updated_at: Set(now),
    };
    upsert(conn, OnExisting::OVERWRITE, vec![row])
        .await
        .map(drop)
        .map_err(StoreError::query("recording the sync watermark"))
}

/// The TMDB ids of the movies the database holds, sorted: all of them, or only those not
/// marked as gone from TMDB (`unmarked`).
pub async fn held_movies<C: ConnectionTrait + StreamTrait>(
    conn: &C,
    unmarked: bool,
) -> Result<Vec<i64>, StoreError> {
    let mut find = movies::Entity::find();
    if unmarked {
        find = find.filter(movies::Column::RemovedOn.is_null());
    }
    // Streamed: the driver's rows are several times the size of the ids (118 bytes a movie
    // read whole, 12 MB at 100,000 movies), and the whole catalog is read.
    let what = "listing the movies held";
    let mut rows = find
        .select_only()
        .column(movies::Column::TmdbId)
        .order_by_asc(movies::Column::TmdbId)
        .into_tuple::<i64>()
        .stream(conn)
        .await
        .map_err(StoreError::query(what))?;
    let mut held = Vec::new();
    while let Some(id) = rows.try_next().await.map_err(StoreError::query(what))? {
        held.push(id);
    }
    Ok(held)
}

/// The shared tables whose rows only exist for the movies that use them, with the
/// `(table, column)` that uses them. Genres are seeded whole and stay.
const USED_BY: &[(&str, &str, &str)] = &[
    ("people", "movie_credits", "person_id"),
    ("keywords", "movie_keywords", "keyword_id"),
    (
        "production_companies",
        "movie_production_companies",
        "company_id",
    ),
    (
        "production_countries",
        "movie_production_countries",
        "country_id",
    ),
    ("spoken_languages", "movie_spoken_languages", "language_id"),
    ("collections", "movies", "collection_id"),
];

/// What [`remove_movies`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    /// Movies marked or deleted (not those marked before).
    pub movies: u64,
    /// Shared rows deleted because no movie used them any more.
    pub shared: u64,
}

/// Marks the movies with these TMDB ids as gone from TMDB on `day` (those not marked yet).
pub async fn mark_removed<C: ConnectionTrait>(
    conn: &C,
    tmdb_ids: &[i64],
    day: NaiveDate,
) -> Result<Removed, DbErr> {
    let mut marked = 0;
    for chunk in tmdb_ids.chunks(MAX_PARAMS) {
        let update = Query::update()
            .table(movies::Entity)
            .value(movies::Column::RemovedOn, day)
            .and_where(Expr::col(movies::Column::TmdbId).is_in(chunk.iter().copied()))
            .and_where(Expr::col(movies::Column::RemovedOn).is_null())
            .to_owned();
        marked += conn.execute(&update).await?.rows_affected();
    }
    Ok(Removed {
        movies: marked,
        shared: 0,
    })
}

/// Deletes the movies with these TMDB ids with every row of theirs (the foreign keys
/// cascade), then the shared rows (people, keywords, companies, countries, languages,
/// collections) no movie uses any more: a fresh import of the same catalog would not have
/// them either.
pub async fn delete_movies<C: ConnectionTrait>(
    conn: &C,
    tmdb_ids: &[i64],
) -> Result<Removed, DbErr> {
    let mut removed = Removed::default();
    for chunk in tmdb_ids.chunks(MAX_PARAMS) {
        let delete = Query::delete()
            .from_table(movies::Entity)
            .and_where(Expr::col(movies::Column::TmdbId).is_in(chunk.iter().copied()))
            .to_owned();
        removed.movies += conn.execute(&delete).await?.rows_affected();
    }
    if removed.movies == 0 {
        return Ok(removed);
    }
    let backend = conn.get_database_backend();
    for (table, user, column) in USED_BY {
        let sql = format!(
            "DELETE FROM {table} WHERE NOT EXISTS \
             (SELECT 1 FROM {user} u WHERE u.{column} = {table}.id)"
        );
        removed.shared += conn
            .execute_raw(Statement::from_string(backend, sql))
            .await?
            .rows_affected();
    }
    Ok(removed)
}
