//! `reset`: drop popctl's tables and recreate them through the migrations — guarded, since it
//! destroys data: only local databases, unless the plan says `allow_remote = true`.
//!
//! popctl owns only what its migrations create: its data tables, its run ledger and the
//! migrations' own record. That set is not written down a second time: [`popctl_tables`]
//! applies the migrations to an empty in-memory database and reads back what they made. A
//! reset drops those tables and leaves the app's own (`users`, …), naming them in a warning,
//! unless the plan asks for `scope = "database"`. A foreign table with a foreign key into
//! popctl's tables (or, on PostgreSQL, a view built on them) would break or block the drop, so
//! it stops the reset before anything is dropped.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::OnceCell;

use super::connect::quote_ident;
use super::error::StoreError;
use crate::plan::ResetScope;
use crate::plan::database::is_local_database_url;
use crate::secret::redact_url;

/// What a reset kept and why it may proceed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResetPlan {
    /// Tables (and views) of the database that popctl did not create, which the reset keeps.
    pub kept: Vec<String>,
    /// Why the run history could not be kept through the reset, if it could not.
    pub history: Option<String>,
}

impl ResetPlan {
    /// The warning to show when the reset keeps tables, if it does.
    pub fn warning(&self) -> Option<String> {
        if self.kept.is_empty() {
            return self.history.clone();
        }
        let n = self.kept.len();
        Some(format!(
            "the reset keeps {n} table{} popctl did not create: {} (`scope = \"database\"` on \
             the reset stage drops {} too)",
            if n == 1 { "" } else { "s" },
            self.kept.join(", "),
            if n == 1 { "it" } else { "them" },
        ))
    }
}

/// The tables and views popctl's migrations create, by name, sorted.
pub async fn popctl_tables() -> Result<&'static [String], StoreError> {
    static TABLES: OnceCell<Vec<String>> = OnceCell::const_new();
    let tables = TABLES
        .get_or_try_init(|| async {
            let scratch = sea_orm::Database::connect("sqlite::memory:")
                .await
                .map_err(StoreError::query("opening a scratch database"))?;
            Migrator::up(&scratch, None)
                .await
                .map_err(StoreError::Migrate)?;
            let names = object_names(&scratch).await?;
            scratch.close().await.ok();
            Ok::<_, StoreError>(names.into_iter().map(|(name, _)| name).collect())
        })
        .await?;
    Ok(tables)
}

/// Every table and view of the database's current schema: `(name, is_view)`, sorted.
pub(crate) async fn object_names<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<(String, bool)>, StoreError> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name, type = 'view' AS is_view FROM sqlite_master \
             WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        _ => {
            "SELECT c.relname AS name, c.relkind = 'v' AS is_view FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v') \
             ORDER BY c.relname"
        }
    };
    let what = "listing the tables of the database";
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map_err(StoreError::query(what))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("", "name").map_err(StoreError::query(what))?;
        let is_view: bool = row
            .try_get("", "is_view")
            .map_err(StoreError::query(what))?;
        out.push((name, is_view));
    }
    Ok(out)
}

/// The guard: `Err` when `url` is not local and `allow_remote` is false. Checked before
/// connecting; `connect::confirm_local` checks the server's own answer after.
pub fn reset_allowed(url: &str, allow_remote: bool) -> Result<(), StoreError> {
    if !allow_remote && !is_local_database_url(url) {
        return Err(StoreError::RemoteReset {
            url: redact_url(url),
        });
    }
    Ok(())
}

/// Checks that a reset of `scope` can drop popctl's tables of `db` without breaking anything
/// else, and says what it would keep. Touches nothing.
pub async fn check_reset(
    db: &DatabaseConnection,
    scope: ResetScope,
) -> Result<ResetPlan, StoreError> {
    if scope == ResetScope::Database {
        return Ok(ResetPlan::default());
    }
    let ours = popctl_tables().await?;
    let kept: Vec<String> = object_names(db)
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| !ours.contains(name))
        .filter(|name| !super::history::HELD.iter().any(|(_, held)| held == name))
        .collect();
    let blockers = dependents(db, ours).await?;
    if !blockers.is_empty() {
        return Err(StoreError::ForeignDependents {
            dependents: blockers.join("; "),
        });
    }
    Ok(ResetPlan {
        kept,
        history: None,
    })
}

/// What outside popctl's tables depends on them: foreign keys from other tables (they would
/// dangle or block the drop) and, on PostgreSQL, views (they block it). Each as a sentence.
pub(crate) async fn dependents<C: ConnectionTrait>(
    db: &C,
    ours: &[String],
) -> Result<Vec<String>, StoreError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => {
            "SELECT m.name AS dependent, f.\"table\" AS target, 'foreign key' AS how \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'"
        }
        _ => {
            "SELECT sn.nspname || '.' || src.relname AS dependent, dst.relname AS target, \
                    'foreign key ' || c.conname AS how \
             FROM pg_constraint c \
             JOIN pg_class src ON src.oid = c.conrelid \
             JOIN pg_namespace sn ON sn.oid = src.relnamespace \
             JOIN pg_class dst ON dst.oid = c.confrelid \
             JOIN pg_namespace dn ON dn.oid = dst.relnamespace \
             WHERE c.contype = 'f' AND dn.nspname = current_schema() \
               AND NOT (sn.nspname = current_schema() AND src.relname = ANY($1)) \
             UNION \
             SELECT vn.nspname || '.' || v.relname, t.relname, 'view' \
             FROM pg_depend d \
             JOIN pg_rewrite r ON r.oid = d.objid \
             JOIN pg_class v ON v.oid = r.ev_class \
             JOIN pg_namespace vn ON vn.oid = v.relnamespace \
             JOIN pg_class t ON t.oid = d.refobjid \
             JOIN pg_namespace tn ON tn.oid = t.relnamespace \
             WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass \
               AND tn.nspname = current_schema() AND v.oid <> t.oid \
               AND NOT (vn.nspname = current_schema() AND v.relname = ANY($1))"
        }
    };
    let stmt = match backend {
        DbBackend::Sqlite => Statement::from_string(backend, sql),
        _ => Statement::from_sql_and_values(backend, sql, [ours.to_vec().into()]),
    };
    let what = "looking for tables that depend on popctl's";
    let rows = db
        .query_all_raw(stmt)
        .await
        .map_err(StoreError::query(what))?;
    let mut out = Vec::new();
    for row in rows {
        let dependent: String = row
            .try_get("", "dependent")
            .map_err(StoreError::query(what))?;
        let target: String = row.try_get("", "target").map_err(StoreError::query(what))?;
        let how: String = row.try_get("", "how").map_err(StoreError::query(what))?;
        let outside = match backend {
            DbBackend::Sqlite => !ours.contains(&dependent),
            _ => true,
        };
        if outside && ours.contains(&target) {
            out.push(format!(
                "{dependent} ({how}) depends on popctl's `{target}`"
            ));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Drops popctl's tables of `db` (every table with `ResetScope::Database`) and applies all
/// migrations. Refuses, before touching anything, when `url` is not local and `allow_remote`
/// is false, or when another table depends on popctl's (see [`check_reset`]).
pub async fn reset(
    db: &DatabaseConnection,
    url: &str,
    allow_remote: bool,
    scope: ResetScope,
) -> Result<ResetPlan, StoreError> {
    reset_allowed(url, allow_remote)?;
    let mut plan = check_reset(db, scope).await?;
    match scope {
        // `fresh` drops every table in the database (or PostgreSQL schema), so a half-migrated
        // or hand-edited schema cannot make the reset fail.
        ResetScope::Database => Migrator::fresh(db).await.map_err(StoreError::Migrate)?,
        // The run history is not data the reset replaces: it is kept aside and put back.
        ResetScope::Popctl => {
            super::history::keep_through_reset(db).await?;
            drop_popctl_tables(db).await?;
            super::migrate(db).await?;
            plan.history = super::history::restore_after_reset(db).await?;
        }
    }
    Ok(plan)
}

/// Drops every table and view of popctl's that `db` holds, in one transaction.
async fn drop_popctl_tables(db: &DatabaseConnection) -> Result<(), StoreError> {
    let ours = popctl_tables().await?;
    let present: Vec<(String, bool)> = object_names(db)
        .await?
        .into_iter()
        .filter(|(name, _)| ours.contains(name))
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let txn = super::begin(db).await?;
    let what = "dropping popctl's tables";
    if backend == DbBackend::Sqlite {
        // Dropping a parent before its children would run the foreign keys' implicit
        // deletes; deferred, they are judged at commit, when the children are gone too.
        txn.execute_unprepared("PRAGMA defer_foreign_keys = ON")
            .await
            .map_err(StoreError::query(what))?;
    }
    // Views first (they may be built on the tables); no CASCADE anywhere: anything else that
    // depends on these was refused by `check_reset` and must never be dropped silently.
    for views in [true, false] {
        let names: Vec<String> = present
            .iter()
            .filter(|(_, v)| *v == views)
            .map(|(n, _)| quote_ident(n))
            .collect();
        let kind = if views { "VIEW" } else { "TABLE" };
        let statements = match backend {
            // PostgreSQL drops tables that reference each other only in one statement.
            DbBackend::Postgres if !names.is_empty() => {
                vec![format!("DROP {kind} IF EXISTS {}", names.join(", "))]
            }
            _ => names
                .iter()
                .map(|n| format!("DROP {kind} IF EXISTS {n}"))
                .collect(),
        };
        for sql in statements {
            txn.execute_unprepared(&sql)
                .await
                .map_err(StoreError::query(what))?;
        }
    }
    txn.commit().await.map_err(StoreError::query(what))?;
    Ok(())
}

/// Each migration by name and whether it is applied, oldest first. Reads only: a database
/// without the migrations table keeps it that way (every migration is pending).
pub async fn schema_status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>, StoreError> {
    let migrations = Migrator::get_migration_with_status_read_only(db)
        .await
        .map_err(StoreError::query("reading the migration status"))?;
    Ok(migrations
        .into_iter()
        .map(|m| {
            let applied = matches!(m.status(), migration::MigrationStatus::Applied);
            (m.name().to_owned(), applied)
        })
        .collect())
}

/// How many rows `table` (one of popctl's, named by the caller, not by input) has.
pub async fn row_count(db: &DatabaseConnection, table: &str) -> Result<i64, StoreError> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) FROM {}", quote_ident(table)),
        ))
        .await
        .map_err(StoreError::query(format!("counting {table}")))?;
    Ok(row
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()
        .map_err(StoreError::query(format!("counting {table}")))?
        .unwrap_or(0))
}

/// `Ok` when every migration is applied, so the tables are the ones popctl reads; otherwise an
/// error saying whether the schema is missing altogether or behind. `url` names the database.
pub async fn require_schema(db: &DatabaseConnection, url: &str) -> Result<(), StoreError> {
    let status = schema_status(db).await?;
    let pending = status.iter().filter(|(_, applied)| !applied).count();
    let url = redact_url(url);
    if pending == 0 {
        Ok(())
    } else if pending == status.len() {
        Err(StoreError::NoSchema { url })
    } else {
        Err(StoreError::PendingMigrations { url, pending })
    }
}
