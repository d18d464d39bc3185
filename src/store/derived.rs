//! Writing what the `post_process` steps derive from stored data: list items linked to
//! movies, CRI scores, computed recommendations and the links of TMDB's, the reviews beyond a
//! cap. The steps compute; these functions write, each table through its entity (see `sql`).
//! They run inside the step's transaction and return [`DbErr`] for the step to name itself in.

use std::collections::HashSet;
use std::hash::Hash;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, IdenStatic, Statement, TryGetable, Value};

use super::entities::{
    cri_scores, cultural_authorities, movie_list_items, movie_recommendations, reviews,
};
use super::save::{RECOMMENDED, SIMILAR};
use super::sql::{OnExisting, delete_ids, upsert};
use crate::lists::Authority;

/// `movie_recommendations.kind` of the rows the `recommendations` step computes.
pub const COMPUTED_KIND: &str = "computed";

/// The kinds stored from TMDB, which [`link_recommendations`] links.
pub const TMDB_KINDS: [&str; 2] = [RECOMMENDED, SIMILAR];

/// One computed recommendation of a movie: its target by TMDB id and row id, its 1-based rank
/// and score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComputedRecommendation {
    /// The row id of the movie it is for.
    pub movie_id: i64,
    pub target_tmdb_id: i64,
    pub target_movie_id: i64,
    pub rank: i32,
    pub score: f64,
}

/// One `movie_list_items` row of a list: (movie id, award category) is its key within the
/// list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItemRow {
    pub movie_id: i64,
    /// "" for lists without categories.
    pub category: String,
    pub position: Option<i32>,
    pub result: Option<&'static str>,
}

/// One movie's CRI under a formula version.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CriRow {
    pub movie_id: i64,
    pub overall: f64,
    pub timelessness: f64,
    pub cultural_penetration: f64,
    pub artistic_impact: f64,
    pub institutional_recognition: f64,
    pub public_reception: f64,
    pub confidence: f64,
}

/// Inserts the authorities that are missing; stored ones are left as they are (`seed` owns
/// them). Sorts by name first, for the lock order; names must be distinct.
pub async fn insert_missing_authorities<'a, C: ConnectionTrait>(
    conn: &C,
    authorities: impl IntoIterator<Item = &'a Authority>,
) -> Result<u64, DbErr> {
    let mut authorities: Vec<&Authority> = authorities.into_iter().collect();
    authorities.sort_by(|a, b| a.name.cmp(&b.name));
    let rows = authorities
        .into_iter()
        .map(|a| cultural_authorities::ActiveModel::new(&a.name, a.kind, a.trust))
        .collect();
    upsert(conn, OnExisting::Keep, rows).await
}

/// Upserts the items of list `list_id` (sorted by key, as [`ListItemRow`] says).
pub async fn save_list_items<C: ConnectionTrait>(
    conn: &C,
    list_id: i64,
    items: Vec<ListItemRow>,
) -> Result<u64, DbErr> {
    let rows = items
        .into_iter()
        .map(|item| movie_list_items::ActiveModel::new(list_id, item))
        .collect();
    upsert(conn, OnExisting::UPDATE, rows).await
}

/// Removes the items of list `list_id` whose (movie id, award category) is not in `keep`.
pub async fn remove_list_items_not_in<C: ConnectionTrait>(
    conn: &C,
    list_id: i64,
    keep: &HashSet<(i64, String)>,
) -> Result<u64, DbErr> {
    use movie_list_items::Column;
    remove_unless_kept::<movie_list_items::Entity, _, _, _>(
        conn,
        (Column::ListId, list_id.into()),
        [Column::MovieId, Column::AwardCategory],
        keep,
    )
    .await
}

/// Upserts the scores (sorted by movie) under formula `version`, computed at `computed_at`.
pub async fn save_cri_scores<C: ConnectionTrait>(
    conn: &C,
    version: i32,
    scores: &[CriRow],
    computed_at: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let rows = scores
        .iter()
        .map(|s| cri_scores::ActiveModel::new(version, s, computed_at))
        .collect();
    upsert(conn, OnExisting::UPDATE, rows).await
}

/// Sets `recommended_movie_id` on every TMDB row whose target is imported and not yet linked.
/// Returns how many rows it linked.
pub async fn link_recommendations<C: ConnectionTrait>(conn: &C) -> Result<u64, DbErr> {
    // `UPDATE … FROM`, which SQLite (3.33 on) and PostgreSQL both run: one join on the
    // unique `movies.tmdb_id` instead of a subquery per row.
    let kinds = TMDB_KINDS.map(|k| format!("'{k}'")).join(", ");
    let sql = format!(
        "UPDATE movie_recommendations SET recommended_movie_id = movies.id FROM movies \
         WHERE movies.tmdb_id = movie_recommendations.recommended_tmdb_id \
         AND movie_recommendations.kind IN ({kinds}) \
         AND movie_recommendations.recommended_movie_id IS NULL"
    );
    let result = conn
        .execute_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?;
    Ok(result.rows_affected())
}

/// Upserts computed recommendations as rows of kind [`COMPUTED_KIND`]. Sorts them by key
/// first, for the lock order; (movie, target) pairs must be distinct.
pub async fn save_computed_recommendations<C: ConnectionTrait>(
    conn: &C,
    mut computed: Vec<ComputedRecommendation>,
) -> Result<u64, DbErr> {
    computed.sort_by_key(|r| (r.movie_id, r.target_tmdb_id));
    let rows = computed
        .iter()
        .map(|r| movie_recommendations::ActiveModel::computed(COMPUTED_KIND, r))
        .collect();
    upsert(conn, OnExisting::UPDATE, rows).await
}

/// Removes the computed rows whose (movie row id, target TMDB id) is not in `keep`.
pub async fn remove_computed_not_in<C: ConnectionTrait>(
    conn: &C,
    keep: &HashSet<(i64, i64)>,
) -> Result<u64, DbErr> {
    use movie_recommendations::Column;
    remove_unless_kept::<movie_recommendations::Entity, _, _, _>(
        conn,
        (Column::Kind, COMPUTED_KIND.into()),
        [Column::MovieId, Column::RecommendedTmdbId],
        keep,
    )
    .await
}

/// Removes the reviews with these row ids.
pub async fn remove_reviews<C: ConnectionTrait>(conn: &C, ids: &[i64]) -> Result<u64, DbErr> {
    delete_ids::<reviews::Entity, _>(conn, ids).await
}

/// Deletes the rows of `E` where `scope` holds whose `key` is not in `keep`: what a step's
/// output no longer has. Returns how many went.
async fn remove_unless_kept<E, C, A, B>(
    conn: &C,
    scope: (E::Column, Value),
    key: [E::Column; 2],
    keep: &HashSet<(A, B)>,
) -> Result<u64, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
    A: TryGetable + Eq + Hash,
    B: TryGetable + Eq + Hash,
{
    let [a, b] = key.map(|c| c.as_str());
    let stmt = Query::select()
        .columns(["id", a, b])
        .from(E::default().table_name())
        .and_where(Expr::col(scope.0.as_str()).eq(scope.1))
        .to_owned();
    let mut stale = Vec::new();
    for row in conn.query_all(&stmt).await? {
        if !keep.contains(&(row.try_get("", a)?, row.try_get("", b)?)) {
            stale.push(row.try_get::<i64>("", "id")?);
        }
    }
    delete_ids::<E, _>(conn, &stale).await
}
