//! Reading rows for the steps. Every read names its step and what it reads, so a failure says
//! where; every value that the database could hold but a step cannot use is a
//! [`PostError::BadValue`] naming the table, column and row.

use futures::TryStreamExt;
use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{ConnectionTrait, QueryResult, StreamTrait, TryGetable};

use super::error::PostError;
use crate::plan::PostStep;

/// `SELECT columns FROM table`.
pub(super) fn select(table: &'static str, columns: &[&'static str]) -> SelectStatement {
    Query::select()
        .columns(columns.iter().copied())
        .from(table)
        .to_owned()
}

/// Every row `stmt` selects.
pub(super) async fn all<C: ConnectionTrait>(
    conn: &C,
    step: PostStep,
    table: &'static str,
    stmt: &SelectStatement,
) -> Result<Vec<QueryResult>, PostError> {
    conn.query_all(stmt)
        .await
        .map_err(PostError::query(step, format!("reading {table}")))
}

/// Calls `each` on every row `stmt` selects, one row at a time: a table read whole (the credits
/// of every movie) never sits in memory as query results, only as what `each` keeps of it.
pub(super) async fn each_row<C: StreamTrait>(
    conn: &C,
    step: PostStep,
    table: &'static str,
    stmt: &SelectStatement,
    mut each: impl FnMut(&QueryResult) -> Result<(), PostError>,
) -> Result<(), PostError> {
    let fail = || PostError::query(step, format!("reading {table}"));
    let rows = conn.stream(stmt).await.map_err(fail())?;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.try_next().await.map_err(fail())? {
        each(&row)?;
    }
    Ok(())
}

/// Column `column` of a row of `table`.
pub(super) fn get<T: TryGetable>(
    row: &QueryResult,
    step: PostStep,
    table: &'static str,
    column: &'static str,
) -> Result<T, PostError> {
    row.try_get::<T>("", column)
        .map_err(PostError::query(step, format!("reading {table}.{column}")))
}

/// A count or other whole number stored as a float (`external_ratings.value`), or a
/// [`PostError::BadValue`] when it is negative or not finite.
pub(super) fn count_value(
    step: PostStep,
    table: &'static str,
    column: &'static str,
    row: i64,
    value: f64,
) -> Result<u64, PostError> {
    if value.is_finite() && value >= 0.0 {
        // Counts are whole; a fraction would only come from another writer, and rounding
        // it is the least surprising reading.
        Ok(value.round() as u64)
    } else {
        Err(PostError::BadValue {
            step: step.as_str(),
            table,
            column,
            row,
            value: value.to_string(),
            expected: "a count of 0 or more",
        })
    }
}
