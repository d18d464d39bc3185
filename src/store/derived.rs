//! Writing what the `post_process` steps derive from stored data: list items linked to
//! movies, CRI scores, computed recommendations and the links of TMDB's, the reviews beyond a
//! cap. The steps compute; these functions write, each table through its entity (see `sql`).
//! They run inside the step's transaction and return [`DbErr`] for the step to name itself in.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, IdenStatic, Statement, StreamTrait, TryGetable,
};

use super::entities::{
    cri_scores, cultural_authorities, movie_list_items, movie_recommendations, reviews,
};
use super::save::{RECOMMENDED, SIMILAR};
use super::sql::{MAX_PARAMS, OnExisting, delete_ids, upsert};
use crate::lists::Authority;

/// `movie_recommendations.kind` of the rows the `recommendations` step computes.
pub const COMPUTED_KIND: &str = "computed";

/// Rows made into entity rows at a time by the writers of a row per movie or more: a million
/// computed recommendations are written without a million `ActiveModel`s in memory.
const CHUNK: usize = 1000;

/// Computed recommendations written or removed by one statement on SQLite, where
/// [`CHUNK`] holds on PostgreSQL. The step writes them inside its transaction, and there SQLite
/// keeps a statement journal for each multi-row write that may fail halfway: the first image of
/// every page the statement changes, in memory (`temp_store = memory`), until it ends. A
/// computed row lands on a page of its own in the index on `recommended_movie_id`, so the
/// journal grows with the statement's rows and, as the index outgrows them, with the catalog:
/// 7.3 MB of a 100,000-movie post stage's peak with 1,000 rows a statement (`heaptrack`). With
/// 64 the stage alone peaked at 62.2 and 62.4 MB against 78.5 (128: 63.3, 63.5; 256: 64.8,
/// 65.3), its writing as fast (docs/benchmarks.md): the pages a statement changes are nearly
/// all its own at any of these sizes, so smaller statements journal hardly more in all.
/// PostgreSQL keeps no such journal and pays a round trip a statement.
const SQLITE_COMPUTED_ROWS: usize = 64;

/// Computed rows a statement writes or removes on `conn`'s backend.
fn computed_rows_at_once<C: ConnectionTrait>(conn: &C) -> usize {
    match conn.get_database_backend() {
        DbBackend::Sqlite => SQLITE_COMPUTED_ROWS,
        _ => CHUNK,
    }
}

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
pub async fn remove_list_items_not_in<C: ConnectionTrait + StreamTrait>(
    conn: &C,
    list_id: i64,
    keep: &HashSet<(i64, String)>,
) -> Result<u64, DbErr> {
    use movie_list_items::Column;
    remove_unless_kept::<movie_list_items::Entity, _, _, _>(
        conn,
        Expr::col(Column::ListId.as_str()).eq(list_id),
        [Column::MovieId, Column::AwardCategory],
        |movie: &i64, category: &String| keep.contains(&(*movie, category.clone())),
        MAX_PARAMS,
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
    let mut written = 0;
    for chunk in scores.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|s| cri_scores::ActiveModel::new(version, s, computed_at))
            .collect();
        written += upsert(conn, OnExisting::UPDATE, rows).await?;
    }
    Ok(written)
}

/// The ids from the lowest to the highest `id` of `table` in ranges of `size` (none when it has
/// no rows), for a step that reads or changes a range at a time: its memory is then a range's
/// rows whatever the size of the table; gaps between ids leave some ranges empty.
pub async fn id_ranges<C: ConnectionTrait>(
    conn: &C,
    table: &'static str,
    size: i64,
) -> Result<IdRanges, DbErr> {
    let stmt = Query::select()
        .expr_as(Func::min(Expr::col("id")), "low")
        .expr_as(Func::max(Expr::col("id")), "high")
        .from(table)
        .to_owned();
    let (mut low, mut high) = (None, None);
    if let Some(row) = conn.query_one(&stmt).await? {
        low = row.try_get::<Option<i64>>("", "low")?;
        high = row.try_get::<Option<i64>>("", "high")?;
    }
    let (next, high) = low.zip(high).unwrap_or((1, 0));
    Ok(IdRanges {
        next: Some(next),
        high,
        size: Ord::max(size, 1),
    })
}

/// The ranges [`id_ranges`] yields.
#[derive(Debug, Clone)]
pub struct IdRanges {
    next: Option<i64>,
    high: i64,
    size: i64,
}

impl IdRanges {
    /// The ranges still to come.
    pub fn remaining(&self) -> u64 {
        match self.next.filter(|from| *from <= self.high) {
            Some(from) => {
                let span = i128::from(self.high) - i128::from(from);
                u64::try_from(span / i128::from(self.size) + 1).unwrap_or(u64::MAX)
            }
            None => 0,
        }
    }
}

impl Iterator for IdRanges {
    type Item = std::ops::Range<i64>;

    fn next(&mut self) -> Option<Self::Item> {
        let from = self.next.filter(|from| *from <= self.high)?;
        let to = from.saturating_add(self.size);
        self.next = (to > from).then_some(to);
        Some(from..to)
    }
}

/// Rows of `movie_recommendations`, by id range, that one statement of
/// [`link_recommendations`] covers: SQLite gathers the rows an `UPDATE … FROM` changes before
/// changing them, in memory, so the whole table in one statement grew the process by about
/// 40 bytes a row (8 MB for the 210,000 rows of 20,000 movies; 4 million rows at 100,000).
pub const LINK_RANGE: i64 = 50_000;

/// Sets `recommended_movie_id` on every TMDB row with an id in `ids` whose target is imported
/// and not yet linked. Returns how many rows it linked.
pub async fn link_recommendations<C: ConnectionTrait>(
    conn: &C,
    ids: std::ops::Range<i64>,
) -> Result<u64, DbErr> {
    // `UPDATE … FROM`, which SQLite (3.33 on) and PostgreSQL both run: one join on the
    // unique `movies.tmdb_id` instead of a subquery per row. The range is bound, not written
    // into the text, so every range runs one prepared statement: a text per range is a
    // statement per range in the connection's cache (1,000 kept, some 5 KB each on SQLite).
    let kinds = TMDB_KINDS.map(|k| format!("'{k}'")).join(", ");
    let sql = format!(
        "UPDATE movie_recommendations SET recommended_movie_id = movies.id FROM movies \
         WHERE movies.tmdb_id = movie_recommendations.recommended_tmdb_id \
         AND movie_recommendations.kind IN ({kinds}) \
         AND movie_recommendations.recommended_movie_id IS NULL \
         AND movie_recommendations.id >= $1 AND movie_recommendations.id < $2"
    );
    let values = [ids.start.into(), ids.end.into()];
    let backend = conn.get_database_backend();
    Ok(conn
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .rows_affected())
}

/// Upserts computed recommendations as rows of kind [`COMPUTED_KIND`], after sorting them by
/// key (movie row id, target TMDB id) for the lock order and for
/// [`remove_computed_not_in`]; the pairs must be distinct.
pub async fn save_computed_recommendations<C: ConnectionTrait>(
    conn: &C,
    computed: &mut [ComputedRecommendation],
) -> Result<u64, DbErr> {
    computed.sort_unstable_by_key(|r| (r.movie_id, r.target_tmdb_id));
    let mut written = 0;
    for chunk in computed.chunks(computed_rows_at_once(conn)) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|r| movie_recommendations::ActiveModel::computed(COMPUTED_KIND, r))
            .collect();
        written += upsert(conn, OnExisting::UPDATE, rows).await?;
    }
    Ok(written)
}

/// Removes the computed rows of the movies with row ids `movies` whose target TMDB id is not
/// theirs in `keep`, which [`save_computed_recommendations`] sorted by (movie, target).
pub async fn remove_computed_not_in<C: ConnectionTrait + StreamTrait>(
    conn: &C,
    movies: &[i64],
    keep: &[ComputedRecommendation],
) -> Result<u64, DbErr> {
    use movie_recommendations::Column;
    if movies.is_empty() {
        return Ok(0);
    }
    remove_unless_kept::<movie_recommendations::Entity, _, _, _>(
        conn,
        Expr::col(Column::Kind.as_str())
            .eq(COMPUTED_KIND)
            .and(Expr::col(Column::MovieId.as_str()).is_in(movies.iter().copied())),
        [Column::MovieId, Column::RecommendedTmdbId],
        |movie: &i64, target: &i64| {
            keep.binary_search_by_key(&(*movie, *target), |r| (r.movie_id, r.target_tmdb_id))
                .is_ok()
        },
        computed_rows_at_once(conn),
    )
    .await
}

/// Removes the reviews with these row ids.
pub async fn remove_reviews<C: ConnectionTrait>(conn: &C, ids: &[i64]) -> Result<u64, DbErr> {
    delete_ids::<reviews::Entity, _>(conn, ids).await
}

/// Deletes the rows of `E` where `scope` holds whose `key` is not kept: what a step's output
/// no longer has, `at_once` rows a statement. The rows are read as a stream, so only the ids
/// of those to delete are held. Returns how many went.
async fn remove_unless_kept<E, C, A, B>(
    conn: &C,
    scope: Expr,
    key: [E::Column; 2],
    kept: impl Fn(&A, &B) -> bool,
    at_once: usize,
) -> Result<u64, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait + StreamTrait,
    A: TryGetable,
    B: TryGetable,
{
    let [a, b] = key.map(|c| c.as_str());
    let stmt = Query::select()
        .columns(["id", a, b])
        .from(E::default().table_name())
        .and_where(scope)
        .to_owned();
    let mut stale = Vec::new();
    {
        let mut rows = std::pin::pin!(conn.stream(&stmt).await?);
        while let Some(row) = rows.try_next().await? {
            if !kept(&row.try_get("", a)?, &row.try_get("", b)?) {
                stale.push(row.try_get::<i64>("", "id")?);
            }
        }
    }
    let mut deleted = 0;
    for ids in stale.chunks(at_once.max(1)) {
        deleted += delete_ids::<E, _>(conn, ids).await?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use std::ops::Range;

    use super::IdRanges;

    fn ranges(low: i64, high: i64, size: i64) -> Vec<Range<i64>> {
        IdRanges {
            next: Some(low),
            high,
            size,
        }
        .collect()
    }

    #[test]
    fn remaining_counts_the_ranges_to_come() {
        let mut r = IdRanges {
            next: Some(3),
            high: 9,
            size: 3,
        };
        for left in (0..=3).rev() {
            assert_eq!(r.remaining(), left);
            r.next();
        }
        let whole = IdRanges {
            next: Some(i64::MIN),
            high: i64::MAX,
            size: 1,
        };
        assert_eq!(whole.remaining(), u64::MAX);
        let empty = IdRanges {
            next: Some(1),
            high: 0,
            size: 10,
        };
        assert_eq!(empty.remaining(), 0);
    }

    #[test]
    fn ranges_cover_every_id_once() {
        assert_eq!(ranges(3, 9, 3), [3..6, 6..9, 9..12]);
        assert_eq!(ranges(5, 5, 100), vec![Range { start: 5, end: 105 }]);
        // An empty table: `id_ranges` starts at 1 and ends at 0.
        assert_eq!(ranges(1, 0, 10), []);
        // Near the end of i64 the last range stops there instead of wrapping around.
        assert_eq!(
            ranges(i64::MAX - 3, i64::MAX - 1, 2),
            [i64::MAX - 3..i64::MAX - 1, i64::MAX - 1..i64::MAX]
        );
    }
}
