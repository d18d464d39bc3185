//! The few statement shapes the store writes with, built through sea-query so that one code
//! path renders for SQLite and PostgreSQL: batched upserts (`INSERT … ON CONFLICT`) that only
//! touch rows whose values changed, and deletes of rows an upstream list no longer has.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};

/// Bind parameters per statement we allow ourselves. SQLite's limit is 32766 and
/// PostgreSQL's 65535; staying well under both leaves room for the rest of the statement.
pub(crate) const MAX_PARAMS: usize = 30_000;

/// Rows per `INSERT` for a table of `columns` columns: bounded by [`MAX_PARAMS`] and by 1000,
/// the batch size stack-notes measured fastest (4000 was slower on both backends).
pub(crate) fn batch_rows(columns: usize) -> usize {
    (MAX_PARAMS / columns.max(1)).clamp(1, 1000)
}

/// What an upsert does with a row whose conflict key already exists.
pub(crate) enum OnExisting<'a> {
    /// Leave it as it is.
    Keep,
    /// Overwrite `set` from the new row, but only when one of them differs, so re-imports do
    /// not rewrite (and on PostgreSQL, bloat) unchanged rows. Columns in `keep_when_null` keep
    /// their stored value when the new row has none (older bodies carry fewer fields).
    Update {
        set: &'a [&'static str],
        keep_when_null: &'a [&'static str],
    },
    /// Overwrite `set` from the new row where `when` holds (an SQL condition over `excluded`
    /// and the stored row, named by its table) and one of them differs: for rules about which
    /// of two rows wins.
    UpdateWhen {
        set: &'a [&'static str],
        when: &'a str,
    },
    /// Overwrite `set` every time.
    Overwrite { set: &'a [&'static str] },
}

/// `INSERT INTO table (columns) VALUES … ON CONFLICT (conflict) …`, in batches. Returns the
/// number of rows inserted or changed. Rows must be deduplicated on `conflict` and, for a
/// deterministic lock order on PostgreSQL, sorted by it.
pub(crate) async fn upsert<C: ConnectionTrait>(
    conn: &C,
    table: &'static str,
    columns: &[&'static str],
    conflict: &[&'static str],
    on_existing: OnExisting<'_>,
    rows: Vec<Vec<Value>>,
) -> Result<u64, DbErr> {
    let mut written = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut stmt = Query::insert();
        stmt.into_table(table).columns(columns.iter().copied());
        for row in rows.by_ref().take(batch_rows(columns.len())) {
            stmt.values(row.into_iter().map(Expr::val))
                .map_err(|e| DbErr::Custom(format!("building an insert into {table}: {e}")))?;
        }
        stmt.on_conflict(on_conflict(table, conflict, &on_existing));
        written += conn.execute(&stmt).await?.rows_affected();
    }
    Ok(written)
}

/// A one-row upsert that returns the row's `id` and whether the row is new. PostgreSQL tells
/// through `xmax = 0` on the returned row; on SQLite, whose one connection serializes writers
/// (see `connect`), a look-up just before the upsert is as good.
pub(crate) async fn upsert_one_returning_id<C: ConnectionTrait>(
    conn: &C,
    table: &'static str,
    columns: &[&'static str],
    conflict: (&'static str, Value),
    on_existing: OnExisting<'_>,
    row: Vec<Value>,
) -> Result<(i64, bool), DbErr> {
    let postgres = conn.get_database_backend() == DbBackend::Postgres;
    let existed_before = if postgres {
        None
    } else {
        let select = Query::select()
            .column("id")
            .from(table)
            .and_where(Expr::col(conflict.0).eq(conflict.1.clone()))
            .to_owned();
        Some(conn.query_one(&select).await?.is_some())
    };
    let mut stmt = Query::insert();
    stmt.into_table(table)
        .columns(columns.iter().copied())
        .values(row.into_iter().map(Expr::val))
        .map_err(|e| DbErr::Custom(format!("building an insert into {table}: {e}")))?;
    stmt.on_conflict(on_conflict(table, &[conflict.0], &on_existing));
    let mut returning = vec![Expr::col("id")];
    if postgres {
        returning.push(Expr::cust("xmax = 0"));
    }
    stmt.returning(Query::returning().exprs(returning));
    let row = conn
        .query_one(&stmt)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("{table} row just written")))?;
    let id = row.try_get_by_index::<i64>(0)?;
    let inserted = match existed_before {
        Some(existed) => !existed,
        None => row.try_get_by_index::<bool>(1)?,
    };
    Ok((id, inserted))
}

fn on_conflict(table: &str, conflict: &[&'static str], on_existing: &OnExisting<'_>) -> OnConflict {
    let mut oc = OnConflict::columns(conflict.iter().copied());
    match on_existing {
        OnExisting::Keep => {
            oc.do_nothing();
        }
        OnExisting::Overwrite { set } => {
            oc.update_columns(set.iter().copied());
        }
        OnExisting::Update {
            set,
            keep_when_null,
        } => {
            let mut changed = Vec::with_capacity(set.len());
            for col in *set {
                let new = if keep_when_null.contains(col) {
                    format!(r#"COALESCE(excluded."{col}", "{table}"."{col}")"#)
                } else {
                    format!(r#"excluded."{col}""#)
                };
                changed.push(format!(r#""{table}"."{col}" IS DISTINCT FROM {new}"#));
                oc.value(*col, Expr::cust(new));
            }
            oc.action_and_where(Expr::cust(changed.join(" OR ")));
        }
        OnExisting::UpdateWhen { set, when } => {
            let changed: Vec<String> = set
                .iter()
                .map(|col| format!(r#""{table}"."{col}" IS DISTINCT FROM excluded."{col}""#))
                .collect();
            oc.update_columns(set.iter().copied());
            oc.action_and_where(Expr::cust(format!(
                "({when}) AND ({})",
                changed.join(" OR ")
            )));
        }
    }
    oc.to_owned()
}

/// Deletes the rows of `table` with `owner_col = owner` (and `filters`) whose `key_col` is not
/// in `keep`: what upstream no longer lists. Returns how many went.
pub(crate) async fn delete_missing<C: ConnectionTrait>(
    conn: &C,
    table: &'static str,
    owner: (&'static str, i64),
    filters: &[(&'static str, Value)],
    key_col: &'static str,
    keep: Vec<Value>,
) -> Result<u64, DbErr> {
    let mut stmt = Query::delete();
    stmt.from_table(table)
        .and_where(Expr::col(owner.0).eq(owner.1));
    for (col, value) in filters {
        stmt.and_where(Expr::col(*col).eq(value.clone()));
    }
    if !keep.is_empty() {
        stmt.and_where(Expr::col(key_col).is_not_in(keep));
    }
    Ok(conn.execute(&stmt).await?.rows_affected())
}

/// Deletes the rows of `table` whose `id` is in `ids`, in statements of at most
/// [`MAX_PARAMS`] ids. Returns how many went.
pub(crate) async fn delete_ids<C: ConnectionTrait>(
    conn: &C,
    table: &'static str,
    ids: &[i64],
) -> Result<u64, DbErr> {
    let mut deleted = 0;
    for chunk in ids.chunks(MAX_PARAMS) {
        let delete = Query::delete()
            .from_table(table)
            .and_where(Expr::col("id").is_in(chunk.iter().copied()))
            .to_owned();
        deleted += conn.execute(&delete).await?.rows_affected();
    }
    Ok(deleted)
}
