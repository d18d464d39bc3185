//! The few statement shapes the store writes with, built through sea-query so that one code
//! path renders for SQLite and PostgreSQL: batched upserts (`INSERT … ON CONFLICT`) that only
//! touch rows whose values changed, and deletes of rows an upstream list no longer has.
//!
//! Upserts take rows as the entity's `ActiveModel`: the table, its columns and their types are
//! the entity's, and its natural key ([`NaturalKey`]) is declared beside it, so a writer names
//! no column by string and a new column is one entity field (plus its migration).

use sea_orm::sea_query::SimpleExpr;
use sea_orm::sea_query::{Expr, ExprTrait, InsertStatement, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityName, EntityTrait, IdenStatic,
    Iterable, QueryFilter, Value,
};

/// Bind parameters per statement we allow ourselves. SQLite's limit is 32766 and
/// PostgreSQL's 65535; staying well under both leaves room for the rest of the statement.
pub(crate) const MAX_PARAMS: usize = 30_000;

/// Rows per `INSERT` for a table of `columns` columns: bounded by [`MAX_PARAMS`] and by 1000,
/// the batch size stack-notes measured fastest (4000 was slower on both backends).
pub(crate) fn batch_rows(columns: usize) -> usize {
    (MAX_PARAMS / columns.max(1)).clamp(1, 1000)
}

/// The natural key of a table: the unique columns its upserts conflict on, declared beside the
/// entity.
pub(crate) trait NaturalKey: EntityTrait {
    const KEY: &'static [Self::Column];
}

/// A column of the table `A` writes.
pub(crate) type Col<A> = <<A as ActiveModelTrait>::Entity as EntityTrait>::Column;

/// What an upsert does with a row whose natural key already exists. "The written columns" are
/// those the rows set, outside the natural key.
pub(crate) enum OnExisting<'a, C> {
    /// Leave it as it is.
    Keep,
    /// Overwrite the written columns but `except` from the new row, but only when one of them
    /// differs, so re-imports do not rewrite (and on PostgreSQL, bloat) unchanged rows.
    Update { except: &'a [C] },
    /// Overwrite the written columns where `when` holds (an SQL condition over `excluded` and
    /// the stored row, named by its table) and one of them differs: for rules about which of
    /// two rows wins.
    UpdateWhen { when: &'a str },
    /// Overwrite the written columns but `except` every time.
    Overwrite { except: &'a [C] },
}

impl<C> OnExisting<'_, C> {
    /// [`OnExisting::Update`] of every written column.
    pub(crate) const UPDATE: Self = OnExisting::Update { except: &[] };
    /// [`OnExisting::Overwrite`] of every written column.
    pub(crate) const OVERWRITE: Self = OnExisting::Overwrite { except: &[] };
}

/// A table's write shape, from its entity: its name, the columns the rows set (in the
/// entity's order; every row must set the same ones), its natural key and what to update.
struct Shape {
    table: &'static str,
    columns: Vec<&'static str>,
    key: Vec<&'static str>,
    action: Action,
}

/// [`OnExisting`] resolved to column names.
enum Action {
    Keep,
    Update(Vec<&'static str>),
    UpdateWhen(Vec<&'static str>, String),
    Overwrite(Vec<&'static str>),
}

impl Shape {
    fn of<A>(first: &A, on_existing: &OnExisting<'_, Col<A>>) -> Shape
    where
        A: ActiveModelTrait,
        A::Entity: NaturalKey,
    {
        let written: Vec<Col<A>> = Col::<A>::iter().filter(|c| !first.is_not_set(*c)).collect();
        let key = <A::Entity as NaturalKey>::KEY;
        let set = |except: &[Col<A>]| -> Vec<&'static str> {
            let excluded = |c: &Col<A>| key.iter().chain(except).any(|k| k.as_str() == c.as_str());
            written
                .iter()
                .filter(|c| !excluded(c))
                .map(|c| c.as_str())
                .collect()
        };
        let action = match on_existing {
            // Every written column is in the key (a row is all key): nothing to update.
            _ if set(&[]).is_empty() => Action::Keep,
            OnExisting::Keep => Action::Keep,
            OnExisting::Update { except } => Action::Update(set(except)),
            OnExisting::UpdateWhen { when } => Action::UpdateWhen(set(&[]), (*when).to_owned()),
            OnExisting::Overwrite { except } => Action::Overwrite(set(except)),
        };
        Shape {
            table: A::Entity::default().table_name(),
            columns: written.iter().map(|c| c.as_str()).collect(),
            key: key.iter().map(|c| c.as_str()).collect(),
            action,
        }
    }

    /// The row's values in the order of `columns`; an error for a row that sets other columns
    /// than the first row (a bug in its writer).
    fn values<A: ActiveModelTrait>(&self, mut row: A) -> Result<Vec<Value>, DbErr> {
        let mut values = Vec::with_capacity(self.columns.len());
        let mut n = 0;
        for c in Col::<A>::iter() {
            match row.take(c).into_value() {
                Some(v) if self.columns.get(n) == Some(&c.as_str()) => {
                    values.push(v);
                    n += 1;
                }
                None if self.columns.get(n) != Some(&c.as_str()) => {}
                _ => {
                    return Err(DbErr::Custom(format!(
                        "rows for {} set different columns (at {})",
                        self.table,
                        c.as_str()
                    )));
                }
            }
        }
        Ok(values)
    }

    fn insert(&self) -> InsertStatement {
        let mut stmt = Query::insert();
        stmt.into_table(self.table)
            .columns(self.columns.iter().copied());
        stmt
    }

    fn on_conflict(&self) -> OnConflict {
        let table = self.table;
        let mut oc = OnConflict::columns(self.key.iter().copied());
        let changed = |set: &[&str]| {
            set.iter()
                .map(|col| format!(r#""{table}"."{col}" IS DISTINCT FROM excluded."{col}""#))
                .collect::<Vec<_>>()
                .join(" OR ")
        };
        match &self.action {
            Action::Keep => {
                oc.do_nothing();
            }
            Action::Overwrite(set) => {
                oc.update_columns(set.iter().copied());
            }
            Action::Update(set) => {
                oc.update_columns(set.iter().copied());
                oc.action_and_where(Expr::cust(changed(set)));
            }
            Action::UpdateWhen(set, when) => {
                oc.update_columns(set.iter().copied());
                oc.action_and_where(Expr::cust(format!("({when}) AND ({})", changed(set))));
            }
        }
        oc.to_owned()
    }
}

/// `INSERT INTO table (columns) VALUES … ON CONFLICT (natural key) …`, in batches, of the
/// columns the rows set. Returns the number of rows inserted or changed. Rows must be
/// deduplicated on the natural key and, for a deterministic lock order on PostgreSQL, sorted
/// by it.
pub(crate) async fn upsert<A, C>(
    conn: &C,
    on_existing: OnExisting<'_, Col<A>>,
    rows: Vec<A>,
) -> Result<u64, DbErr>
where
    A: ActiveModelTrait,
    A::Entity: NaturalKey,
    C: ConnectionTrait,
{
    let Some(first) = rows.first() else {
        return Ok(0);
    };
    let shape = Shape::of(first, &on_existing);
    let on_conflict = shape.on_conflict();
    let mut written = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut stmt = shape.insert();
        for row in rows.by_ref().take(batch_rows(shape.columns.len())) {
            stmt.values(shape.values(row)?.into_iter().map(Expr::val))
                .map_err(|e| {
                    DbErr::Custom(format!("building an insert into {}: {e}", shape.table))
                })?;
        }
        stmt.on_conflict(on_conflict.clone());
        written += conn.execute(&stmt).await?.rows_affected();
    }
    Ok(written)
}

/// A one-row upsert that returns the row's `id` and whether the row is new. PostgreSQL tells
/// through `xmax = 0` on the returned row; on SQLite, whose one connection serializes writers
/// (see `connect`), a look-up just before the upsert is as good. The natural key must be one
/// column.
pub(crate) async fn upsert_one_returning_id<A, C>(
    conn: &C,
    on_existing: OnExisting<'_, Col<A>>,
    row: A,
) -> Result<(i64, bool), DbErr>
where
    A: ActiveModelTrait,
    A::Entity: NaturalKey,
    C: ConnectionTrait,
{
    let shape = Shape::of(&row, &on_existing);
    let [key] = <A::Entity as NaturalKey>::KEY else {
        return Err(DbErr::Custom(format!(
            "{} has a natural key of several columns",
            shape.table
        )));
    };
    let key_value = row
        .get(*key)
        .into_value()
        .ok_or_else(|| DbErr::Custom(format!("a {} row without its key", shape.table)))?;
    let postgres = conn.get_database_backend() == DbBackend::Postgres;
    let existed_before = if postgres {
        None
    } else {
        let select = Query::select()
            .column("id")
            .from(shape.table)
            .and_where(Expr::col(key.as_str()).eq(key_value))
            .to_owned();
        Some(conn.query_one(&select).await?.is_some())
    };
    let mut stmt = shape.insert();
    stmt.values(shape.values(row)?.into_iter().map(Expr::val))
        .map_err(|e| DbErr::Custom(format!("building an insert into {}: {e}", shape.table)))?;
    stmt.on_conflict(shape.on_conflict());
    let mut returning = vec![Expr::col("id")];
    if postgres {
        returning.push(Expr::cust("xmax = 0"));
    }
    stmt.returning(Query::returning().exprs(returning));
    let row = conn
        .query_one(&stmt)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("{} row just written", shape.table)))?;
    let id = row.try_get_by_index::<i64>(0)?;
    let inserted = match existed_before {
        Some(existed) => !existed,
        None => row.try_get_by_index::<bool>(1)?,
    };
    Ok((id, inserted))
}

/// Deletes the rows of `E` with `owner = value` (and `filters`) whose `key` is not in `keep`:
/// what upstream no longer lists. Returns how many went.
pub(crate) async fn delete_missing<E: EntityTrait, C: ConnectionTrait>(
    conn: &C,
    owner: (E::Column, i64),
    filters: &[(E::Column, Value)],
    key: E::Column,
    keep: Vec<Value>,
) -> Result<u64, DbErr> {
    let mut stmt = Query::delete();
    stmt.from_table(E::default().table_name())
        .and_where(Expr::col(owner.0.as_str()).eq(owner.1));
    for (col, value) in filters {
        stmt.and_where(Expr::col(col.as_str()).eq(value.clone()));
    }
    if !keep.is_empty() {
        stmt.and_where(Expr::col(key.as_str()).is_not_in(keep));
    }
    Ok(conn.execute(&stmt).await?.rows_affected())
}

/// Deletes the rows of `E` whose `id` is in `ids`, in statements of at most [`MAX_PARAMS`]
/// ids. Returns how many went.
/// Makes the rows of `E` that `of` selects (one owner's: a movie's, a person's) exactly `rows`,
/// given with their natural keys: upserted in key order, and, unless `fresh` (the owner was
/// just inserted, so it has none), the stored rows not among them removed. Those are found by
/// reading the owner's rows (`id_and_key` of each) rather than in SQL, as the key may have
/// several columns. Returns (rows written, rows removed).
pub(crate) async fn replace_rows<E, K, C>(
    conn: &C,
    mut rows: Vec<(K, E::ActiveModel)>,
    of: SimpleExpr,
    fresh: bool,
    id_and_key: impl Fn(E::Model) -> (i64, K),
) -> Result<(u64, u64), DbErr>
where
    E: NaturalKey,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
    K: Ord + std::hash::Hash,
    C: ConnectionTrait,
{
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let (keys, rows): (Vec<K>, Vec<_>) = rows.into_iter().unzip();
    let written = upsert(conn, OnExisting::UPDATE, rows).await?;
    if fresh {
        return Ok((written, 0));
    }
    let wanted: std::collections::HashSet<K> = keys.into_iter().collect();
    let stale: Vec<i64> = E::find()
        .filter(of)
        .all(conn)
        .await?
        .into_iter()
        .map(&id_and_key)
        .filter(|(_, key)| !wanted.contains(key))
        .map(|(id, _)| id)
        .collect();
    Ok((written, delete_ids::<E, _>(conn, &stale).await?))
}

pub(crate) async fn delete_ids<E: EntityTrait, C: ConnectionTrait>(
    conn: &C,
    ids: &[i64],
) -> Result<u64, DbErr> {
    let mut deleted = 0;
    for chunk in ids.chunks(MAX_PARAMS) {
        let delete = Query::delete()
            .from_table(E::default().table_name())
            .and_where(Expr::col("id").is_in(chunk.iter().copied()))
            .to_owned();
        deleted += conn.execute(&delete).await?.rows_affected();
    }
    Ok(deleted)
}
