//! `reset`: drop every table and recreate the schema through the migrations — guarded, since
//! it destroys data: only local databases, unless the plan says `allow_remote = true`.

use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;

use super::error::{StoreError, redact_url};
use crate::plan::database::is_local_database_url;

/// Drops every table of the database `db` (opened from `url`) and applies all migrations.
/// Refuses, before touching anything, when `url` is not local and `allow_remote` is false.
pub async fn reset(
    db: &DatabaseConnection,
    url: &str,
    allow_remote: bool,
) -> Result<(), StoreError> {
    if !allow_remote && !is_local_database_url(url) {
        return Err(StoreError::RemoteReset {
            url: redact_url(url),
        });
    }
    // `fresh` drops every table in the database (or PostgreSQL schema), not only ours, so a
    // half-migrated or hand-edited schema cannot make the reset fail.
    Migrator::fresh(db).await.map_err(StoreError::Migrate)
}

/// The reset guard alone, to check before even connecting: `Err` when `url` is not local
/// and `allow_remote` is false.
pub fn reset_allowed(url: &str, allow_remote: bool) -> Result<(), StoreError> {
    if !allow_remote && !is_local_database_url(url) {
        return Err(StoreError::RemoteReset {
            url: redact_url(url),
        });
    }
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
