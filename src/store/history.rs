//! The run history a new database inherits. A swap run builds its database from nothing, and
//! the ledger of earlier runs (`import_runs`, `import_items`) would go with the old tables at
//! the swap: run numbers would start again at 1 and `popctl status` would forget every run
//! before. It is copied into the new database before the new run starts.

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryOrder, Statement,
};

use super::StoreError;
use super::entities::{import_items, import_runs};

/// Rows read and written at a time, so a long history does not sit in memory whole.
const PAGE: u64 = 2_000;

/// What [`carry_history`] copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Carried {
    pub runs: u64,
    pub items: u64,
}

/// Copies the ledger of `from` (the live database, whose schema is current) into `into` (a
/// new, migrated, empty database), ids kept, so the next run continues the numbering.
pub async fn carry_history(
    from: &DatabaseConnection,
    into: &DatabaseConnection,
) -> Result<Carried, StoreError> {
    let what = "carrying the run history into the new database";
    let txn = super::begin(into).await?;
    let mut carried = Carried::default();
    let mut runs = import_runs::Entity::find()
        .order_by_asc(import_runs::Column::Id)
        .paginate(from, PAGE);
    while let Some(page) = runs
        .fetch_and_next()
        .await
        .map_err(StoreError::query(what))?
    {
        carried.runs += page.len() as u64;
        let rows = page.into_iter().map(|m| m.into_active_model().reset_all());
        import_runs::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .map_err(StoreError::query(what))?;
    }
    let mut items = import_items::Entity::find()
        .order_by_asc(import_items::Column::Id)
        .paginate(from, PAGE);
    while let Some(page) = items
        .fetch_and_next()
        .await
        .map_err(StoreError::query(what))?
    {
        carried.items += page.len() as u64;
        let rows = page.into_iter().map(|m| m.into_active_model().reset_all());
        import_items::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .map_err(StoreError::query(what))?;
    }
    // PostgreSQL's sequences do not see ids written explicitly; SQLite's AUTOINCREMENT does.
    if txn.get_database_backend() == DbBackend::Postgres {
        for table in ["import_runs", "import_items"] {
            txn.execute_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ),
            ))
            .await
            .map_err(StoreError::query(what))?;
        }
    }
    txn.commit().await.map_err(StoreError::query(what))?;
    Ok(carried)
}

/// Where [`keep_through_reset`] holds the ledger while the reset drops and recreates the
/// tables: `(ledger table, holding table)`, parents first.
pub(crate) const HELD: [(&str, &str); 2] = [
    ("import_runs", "popctl_held_import_runs"),
    ("import_items", "popctl_held_import_items"),
];

/// Copies the ledger aside before a reset drops it. A copy left by a reset that was killed
/// before [`restore_after_reset`] is the older history and is kept as it is.
pub(crate) async fn keep_through_reset(db: &DatabaseConnection) -> Result<(), StoreError> {
    let names: Vec<String> = super::reset::object_names(db)
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    if HELD.iter().any(|(_, held)| has(held)) || !HELD.iter().all(|(table, _)| has(table)) {
        return Ok(());
    }
    let what = "keeping the run history through the reset";
    let txn = super::begin(db).await?;
    for (table, held) in HELD {
        txn.execute_unprepared(&format!("CREATE TABLE {held} AS SELECT * FROM {table}"))
            .await
            .map_err(StoreError::query(what))?;
    }
    txn.commit().await.map_err(StoreError::query(what))
}

/// Puts the ledger kept by [`keep_through_reset`] back into the recreated tables. `Ok(Some)`
/// says why it could not (a history whose columns no longer fit): then it is dropped, and
/// the reset goes on without it.
pub(crate) async fn restore_after_reset(
    db: &DatabaseConnection,
) -> Result<Option<String>, StoreError> {
    let names: Vec<String> = super::reset::object_names(db)
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    if !HELD.iter().all(|(_, held)| names.iter().any(|x| x == held)) {
        return Ok(None);
    }
    let what = "restoring the run history after the reset";
    let columns = |table: &str| -> String {
        use sea_orm::{IdenStatic, Iterable};
        let names: Vec<&str> = if table == "import_runs" {
            import_runs::Column::iter().map(|c| c.as_str()).collect()
        } else {
            import_items::Column::iter().map(|c| c.as_str()).collect()
        };
        names.join(", ")
    };
    let txn = super::begin(db).await?;
    let mut problem = None;
    for (table, held) in HELD {
        let cols = columns(table);
        let sql = format!("INSERT INTO {table} ({cols}) SELECT {cols} FROM {held}");
        if let Err(e) = txn.execute_unprepared(&sql).await {
            problem = Some(format!(
                "the run history could not be kept through the reset ({e}); it starts again \
                 with this run"
            ));
            break;
        }
    }
    if problem.is_some() {
        txn.rollback().await.map_err(StoreError::query(what))?;
        let txn = super::begin(db).await?;
        drop_held(&txn).await?;
        txn.commit().await.map_err(StoreError::query(what))?;
        return Ok(problem);
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        for (table, _) in HELD {
            txn.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ))
            .await
            .map_err(StoreError::query(what))?;
        }
    }
    drop_held(&txn).await?;
    txn.commit().await.map_err(StoreError::query(what))?;
    Ok(None)
}

async fn drop_held<C: ConnectionTrait>(conn: &C) -> Result<(), StoreError> {
    for (_, held) in HELD.iter().rev() {
        conn.execute_unprepared(&format!("DROP TABLE IF EXISTS {held}"))
            .await
            .map_err(StoreError::query("dropping the kept run history"))?;
    }
    Ok(())
}
