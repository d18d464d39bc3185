//! The new database a `mode = "swap"` reset builds beside the live one, and the swap that puts
//! it in place once every stage has ended well. Until then the live data is not touched: a
//! failed, partial, interrupted or killed run leaves it exactly as it was, and `--resume`
//! continues the new database, whose ledger holds the run.
//!
//! - **SQLite**: the new database is a sibling file, `<live file>.next`. When the live file
//!   does not exist yet, the finished new file is renamed into place. Otherwise the swap copies
//!   popctl's tables into the live file in one transaction: renaming over a SQLite file that an
//!   app has open is how SQLite databases get corrupted (the app's journal or WAL would then be
//!   applied to the wrong file), an app's open connections would go on with the unlinked old
//!   file, and the app's own tables in that file would be lost. Inside one transaction, the
//!   app's connections see the old data until the swap commits and the new data from their next
//!   transaction on.
//! - **PostgreSQL**: the new database is a schema of its own, `<live schema>_popctl_next`.
//!   The swap drops popctl's live tables and moves the new ones into the live schema in one
//!   transaction; sessions of the app wait for it (milliseconds) and then see the new tables.
//!
//! Either way only popctl's tables are replaced (`reset::popctl_tables`); other tables stay,
//! and one that depends on popctl's stops the swap before anything changes.

use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::connect::{OpenOptions, open, quote_ident, sqlite_file};
use super::error::StoreError;
use super::reset::{dependents, object_names, popctl_tables};
use crate::plan::ResetScope;

/// The new database beside a live one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextDb {
    url: String,
    place: Place,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    Sqlite { live: PathBuf, next: PathBuf },
    Postgres { live: String, next: String },
}

/// PostgreSQL's limit on identifier length, in bytes.
const MAX_IDENT: usize = 63;
const NEXT_SUFFIX: &str = "_popctl_next";

impl NextDb {
    /// The new database beside the live one `url` names; `live` is an open connection to it
    /// (PostgreSQL: to learn its schema). `None` for an in-memory SQLite database, which
    /// cannot have a sibling.
    pub async fn beside(
        url: &str,
        live: Option<&DatabaseConnection>,
    ) -> Result<Option<NextDb>, StoreError> {
        if url.starts_with("sqlite:") {
            let Some(live) = sqlite_file(url)? else {
                return Ok(None);
            };
            let mut name = live.as_os_str().to_owned();
            name.push(".next");
            return Ok(Some(NextDb {
                url: url.to_owned(),
                place: Place::Sqlite {
                    live,
                    next: PathBuf::from(name),
                },
            }));
        }
        let Some(db) = live else {
            return Ok(None);
        };
        let schema = current_schema(db).await?;
        let mut base = schema.clone();
        while base.len() + NEXT_SUFFIX.len() > MAX_IDENT {
            base.pop();
        }
        Ok(Some(NextDb {
            url: url.to_owned(),
            place: Place::Postgres {
                live: schema,
                next: format!("{base}{NEXT_SUFFIX}"),
            },
        }))
    }

    /// Where the new database is, for people: "popctl-dev.db.next", "schema public_popctl_next".
    pub fn describe(&self) -> String {
        match &self.place {
            Place::Sqlite { next, .. } => next.display().to_string(),
            Place::Postgres { next, .. } => format!("schema {next}"),
        }
    }

    /// Whether the live database is a SQLite file that does not exist yet.
    pub fn live_missing(&self) -> bool {
        matches!(&self.place, Place::Sqlite { live, .. } if !live.exists())
    }

    /// The new database beside `url` when one is there (a run that has not swapped yet), for
    /// readers that look at it as well as at the live one.
    pub async fn pending(
        url: &str,
        live: Option<&DatabaseConnection>,
    ) -> Result<Option<NextDb>, StoreError> {
        match NextDb::beside(url, live).await? {
            Some(next) if next.exists(live).await? => Ok(Some(next)),
            _ => Ok(None),
        }
    }

    /// Whether a new database is there (from a run that has not swapped yet).
    pub async fn exists(&self, live: Option<&DatabaseConnection>) -> Result<bool, StoreError> {
        match (&self.place, live) {
            (Place::Sqlite { next, .. }, _) => Ok(next.exists()),
            (Place::Postgres { next, .. }, Some(db)) => schema_exists(db, next).await,
            (Place::Postgres { .. }, None) => Ok(false),
        }
    }

    /// Opens the new database, creating it when `create` (an empty file or schema).
    pub async fn open(
        &self,
        live: Option<&DatabaseConnection>,
        opts: &OpenOptions,
        create: bool,
    ) -> Result<DatabaseConnection, StoreError> {
        let mut opts = opts.clone();
        opts.create = create;
        match &self.place {
            Place::Sqlite { next, .. } => {
                opts.sqlite_file = Some(next.clone());
            }
            Place::Postgres { next, .. } => {
                if create && let Some(db) = live {
                    let sql = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(next));
                    db.execute_unprepared(&sql)
                        .await
                        .map_err(StoreError::query(format!("creating schema {next}")))?;
                }
                opts.pg_schema = Some(next.clone());
            }
        }
        open(&self.url, &opts).await
    }

    /// Removes the new database (an unfinished run's, when a new run starts over).
    pub async fn discard(&self, live: Option<&DatabaseConnection>) -> Result<(), StoreError> {
        match (&self.place, live) {
            (Place::Sqlite { next, .. }, _) => remove_sqlite(next),
            (Place::Postgres { next, .. }, Some(db)) => {
                let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(next));
                db.execute_unprepared(&sql)
                    .await
                    .map_err(StoreError::query(format!("dropping schema {next}")))?;
                Ok(())
            }
            (Place::Postgres { .. }, None) => Ok(()),
        }
    }

    /// Puts the new database in place of popctl's live tables. `next` is closed first (a
    /// SQLite file is checkpointed as it closes). `live` is the live database, open unless it
    /// is a SQLite file that does not exist yet.
    /// With `ResetScope::Database` every other table of the live database goes too.
    pub async fn swap(
        &self,
        next: DatabaseConnection,
        live: Option<&DatabaseConnection>,
        scope: ResetScope,
    ) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        next.close()
            .await
            .map_err(StoreError::query("closing the new database"))?;
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "swap: the new database closed (checkpointed)"
        );
        match (&self.place, live) {
            // Closing checkpointed the new file and removed its log, unless another
            // connection still has it open: then the copy below reads it through its log.
            (Place::Sqlite { live: path, next }, None)
                if !path.exists() && !sqlite_files(next)[1].exists() =>
            {
                rename_into_place(next, path)
            }
            (Place::Sqlite { next, .. }, live) => {
                let opened;
                let db = match live {
                    Some(db) => db,
                    None => {
                        opened = open(&self.url, &OpenOptions::default()).await?;
                        &opened
                    }
                };
                copy_sqlite(db, next, scope).await?;
                remove_sqlite(next)
            }
            (Place::Postgres { live, next }, Some(db)) => move_schema(db, next, live, scope).await,
            (Place::Postgres { .. }, None) => Err(StoreError::SwapTarget {
                what: self.describe(),
            }),
        }
    }
}

/// The schema unqualified names resolve to.
async fn current_schema(db: &DatabaseConnection) -> Result<String, StoreError> {
    let what = "reading the database's current schema";
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_schema() AS s",
        ))
        .await
        .map_err(StoreError::query(what))?;
    let schema: Option<String> = match row {
        Some(r) => r.try_get("", "s").map_err(StoreError::query(what))?,
        None => None,
    };
    schema.ok_or(StoreError::NoCurrentSchema)
}

async fn schema_exists(db: &DatabaseConnection, schema: &str) -> Result<bool, StoreError> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_namespace WHERE nspname = $1",
            [schema.into()],
        ))
        .await
        .map_err(StoreError::query(format!("looking for schema {schema}")))?;
    Ok(row.is_some())
}

/// The file and the journal files SQLite keeps beside it.
fn sqlite_files(path: &Path) -> [PathBuf; 4] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [
        path.to_path_buf(),
        with("-wal"),
        with("-shm"),
        with("-journal"),
    ]
}

fn remove_sqlite(path: &Path) -> Result<(), StoreError> {
    for file in sqlite_files(path) {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::File {
                    path: file.display().to_string(),
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// The live file does not exist: the closed new file becomes it, atomically, and the
/// directory entry is made durable.
fn rename_into_place(next: &Path, live: &Path) -> Result<(), StoreError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |e: std::io::Error| StoreError::File {
            path,
            reason: e.to_string(),
        }
    };
    std::fs::rename(next, live).map_err(io(live))?;
    let dir = match live.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io(&dir))
}

/// Replaces popctl's tables in the live SQLite file `db` with those of the file `next`, in
/// one transaction on the live file's one connection.
async fn copy_sqlite(
    db: &DatabaseConnection,
    next: &Path,
    scope: ResetScope,
) -> Result<(), StoreError> {
    let ours = popctl_tables().await?;
    let blockers = dependents(db, ours).await?;
    if scope == ResetScope::Popctl && !blockers.is_empty() {
        return Err(StoreError::ForeignDependents {
            dependents: blockers.join("; "),
        });
    }
    let what = "swapping in the new database";
    let exec = |sql: String| async move {
        db.execute_unprepared(&sql)
            .await
            .map_err(StoreError::query(format!("{what}: {sql}")))
    };
    // Outside a transaction, as SQLite requires; the pool's one connection keeps both.
    exec("PRAGMA foreign_keys = OFF".to_owned()).await?;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "ATTACH DATABASE ? AS popctl_next",
        [next.display().to_string().into()],
    ))
    .await
    .map_err(StoreError::query(format!(
        "{what}: attaching {}",
        next.display()
    )))?;
    let started = std::time::Instant::now();
    let copied = copy_attached(db, ours, scope).await;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "swap: popctl's tables copied into the live file"
    );
    let _ = exec("DETACH DATABASE popctl_next".to_owned()).await;
    exec("PRAGMA foreign_keys = ON".to_owned()).await?;
    copied
}

async fn copy_attached(
    db: &DatabaseConnection,
    ours: &[String],
    scope: ResetScope,
) -> Result<(), StoreError> {
    let what = "swapping in the new database";
    let txn = super::begin(db).await?;
    let exec = |sql: String| {
        let txn = &txn;
        async move {
            txn.execute_unprepared(&sql)
                .await
                .map_err(StoreError::query(format!("{what}: {sql}")))
        }
    };
    for (name, is_view) in object_names(&txn).await? {
        if scope == ResetScope::Database || ours.contains(&name) {
            let kind = if is_view { "VIEW" } else { "TABLE" };
            exec(format!("DROP {kind} main.{}", quote_ident(&name))).await?;
        }
    }
    let rows = txn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT type, name, sql FROM popctl_next.sqlite_master \
             WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' \
             ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid",
        ))
        .await
        .map_err(StoreError::query(what))?;
    let mut autoincrement = false;
    for row in rows {
        let kind: String = row.try_get("", "type").map_err(StoreError::query(what))?;
        let name: String = row.try_get("", "name").map_err(StoreError::query(what))?;
        let sql: String = row.try_get("", "sql").map_err(StoreError::query(what))?;
        // Unqualified, CREATE makes the object in `main`, the live file.
        exec(sql.clone()).await?;
        if kind == "table" {
            autoincrement |= sql.to_ascii_uppercase().contains("AUTOINCREMENT");
            let t = quote_ident(&name);
            exec(format!(
                "INSERT INTO main.{t} SELECT * FROM popctl_next.{t}"
            ))
            .await?;
        }
    }
    if autoincrement {
        let names = ours
            .iter()
            .map(|n| format!("'{}'", n.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(", ");
        exec(format!(
            "DELETE FROM main.sqlite_sequence WHERE name IN ({names})"
        ))
        .await?;
        exec(
            "INSERT INTO main.sqlite_sequence SELECT * FROM popctl_next.sqlite_sequence".to_owned(),
        )
        .await?;
    }
    let broken = txn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA main.foreign_key_check",
        ))
        .await
        .map_err(StoreError::query(what))?;
    if !broken.is_empty() {
        // Dropped with the transaction: the live file stays as it was.
        return Err(StoreError::ForeignDependents {
            dependents: format!(
                "{} rows of the live database would point at rows the new one lacks",
                broken.len()
            ),
        });
    }
    txn.commit().await.map_err(StoreError::query(what))
}

/// Replaces popctl's tables in schema `live` with every table and view of schema `next`, then
/// drops `next`, in one transaction.
async fn move_schema(
    db: &DatabaseConnection,
    next: &str,
    live: &str,
    scope: ResetScope,
) -> Result<(), StoreError> {
    let what = "swapping in the new database";
    let started = std::time::Instant::now();
    let ours = popctl_tables().await?;
    let txn = super::begin(db).await?;
    let exec = |sql: String| {
        let txn = &txn;
        async move {
            txn.execute_unprepared(&sql)
                .await
                .map_err(StoreError::query(format!("{what}: {sql}")))
        }
    };
    // An app's long transaction on a live table would make the swap wait for its locks; a
    // minute is plenty for an app's request, and better than hanging with no word.
    exec("SET LOCAL lock_timeout = '60s'".to_owned()).await?;
    exec(format!("SET LOCAL search_path = {}", quote_ident(live))).await?;
    let blockers = dependents(&txn, ours).await?;
    if scope == ResetScope::Popctl && !blockers.is_empty() {
        return Err(StoreError::ForeignDependents {
            dependents: blockers.join("; "),
        });
    }
    let present = object_names(&txn).await?;
    for views in [true, false] {
        let names: Vec<String> = present
            .iter()
            .filter(|(n, v)| *v == views && (scope == ResetScope::Database || ours.contains(n)))
            .map(|(n, _)| format!("{}.{}", quote_ident(live), quote_ident(n)))
            .collect();
        if !names.is_empty() {
            let kind = if views { "VIEW" } else { "TABLE" };
            // CASCADE only when the plan asked for the whole database to go.
            let cascade = if scope == ResetScope::Database {
                " CASCADE"
            } else {
                ""
            };
            exec(format!(
                "DROP {kind} IF EXISTS {}{cascade}",
                names.join(", ")
            ))
            .await?;
        }
    }
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "swap: popctl's live tables dropped"
    );
    exec(format!("SET LOCAL search_path = {}", quote_ident(next))).await?;
    for (name, is_view) in object_names(&txn).await? {
        let kind = if is_view { "VIEW" } else { "TABLE" };
        exec(format!(
            "ALTER {kind} {}.{} SET SCHEMA {}",
            quote_ident(next),
            quote_ident(&name),
            quote_ident(live)
        ))
        .await?;
    }
    // The functions of popctl's triggers (`movies`' unlinking of recommendations) go along
    // with their tables; the live schema's own copy lost its trigger with the live tables.
    for function in function_signatures(&txn).await? {
        exec(format!(
            "DROP FUNCTION IF EXISTS {}.{function}",
            quote_ident(live)
        ))
        .await?;
        exec(format!(
            "ALTER FUNCTION {}.{function} SET SCHEMA {}",
            quote_ident(next),
            quote_ident(live)
        ))
        .await?;
    }
    // RESTRICT: anything left behind is an error, not something to drop unseen.
    exec(format!("DROP SCHEMA {}", quote_ident(next))).await?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "swap: the new tables moved into the live schema"
    );
    txn.commit().await.map_err(StoreError::query(what))?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "swap: committed");
    Ok(())
}

/// The functions of the current schema, each as its signature (`name(argument types)`), which
/// `DROP FUNCTION` and `ALTER FUNCTION` name it by.
async fn function_signatures<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, StoreError> {
    let what = "listing the functions of the new database";
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT p.oid::regprocedure::text AS signature FROM pg_proc p \
             WHERE p.pronamespace = current_schema()::regnamespace ORDER BY 1",
        ))
        .await
        .map_err(StoreError::query(what))?;
    rows.iter()
        .map(|row| row.try_get("", "signature"))
        .collect::<Result<_, _>>()
        .map_err(StoreError::query(what))
}
