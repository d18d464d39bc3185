//! One run per database at a time. Two runs that build beside the same live database would
//! discard or swap each other's new database, so a run holds a lock on its database from its
//! preflight to its end, and a second one is refused at once, with a clear word.
//!
//! - **SQLite:** an OS lock (`flock`, through `std::fs::File::try_lock`) on the file
//!   `<file>.popctl-lock` beside the database. SQLite's own locks are POSIX record locks,
//!   which are independent of this one, and which a process loses when it closes any handle
//!   of the file, so they could not serve. The file stays (removing a lock file races with
//!   the next run taking it); the OS releases the lock when the process ends, however it ends.
//! - **PostgreSQL:** a session advisory lock (`pg_try_advisory_lock`) on a connection of its
//!   own, keyed by the database and schema, released when that connection closes, so a killed
//!   run never leaves it behind. A run that ends lets go of it explicitly: the server releases a
//!   closed connection's lock only once it has ended that session, which a run started right
//!   after can beat.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::str::FromStr;

use sea_orm::sqlx::Connection as _;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};

use super::connect::sqlite_file;
use super::error::StoreError;
use crate::secret::redact_url;

/// Held while a run works on a database; dropping it releases the lock.
#[derive(Debug)]
pub enum RunLock {
    File(File),
    Postgres(Box<PgConnection>),
    /// An in-memory SQLite database is private to its process: nothing to lock.
    None,
}

impl RunLock {
    /// Takes the run lock of the database `url` names, or says who holds it.
    pub async fn acquire(url: &str) -> Result<RunLock, StoreError> {
        if url.starts_with("sqlite:") {
            let Some(db) = sqlite_file(url)? else {
                return Ok(RunLock::None);
            };
            let mut name = db.into_os_string();
            name.push(".popctl-lock");
            return lock_file(PathBuf::from(name), url);
        }
        let failed = |e: &dyn std::fmt::Display| StoreError::Lock {
            url: redact_url(url),
            reason: e.to_string(),
        };
        let options = PgConnectOptions::from_str(url).map_err(|e| failed(&e))?;
        let mut conn = PgConnection::connect_with(&options)
            .await
            .map_err(|e| failed(&e))?;
        // One key per database and schema (the schema a run's tables live in), in the same
        // statement that takes it.
        let got: bool = sea_orm::sqlx::query_scalar(
            "SELECT pg_try_advisory_lock(('x' || substr(md5('popctl run ' || current_database() \
             || '.' || current_schema()), 1, 16))::bit(64)::bigint)",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(|e| failed(&e))?;
        if !got {
            let _ = conn.close().await;
            return Err(StoreError::Busy {
                url: redact_url(url),
                holder: "another session of this server".to_owned(),
            });
        }
        Ok(RunLock::Postgres(Box::new(conn)))
    }

    /// Releases the lock now, and on PostgreSQL before this returns (dropping it releases it
    /// too, but the server only notices the closed connection a moment later).
    pub async fn release(self) {
        if let RunLock::Postgres(mut conn) = self {
            let _ = sea_orm::sqlx::query("SELECT pg_advisory_unlock_all()")
                .execute(&mut *conn)
                .await;
            let _ = conn.close().await;
        }
    }
}

fn lock_file(path: PathBuf, url: &str) -> Result<RunLock, StoreError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(RunLock::File(file)),
        Err(TryLockError::WouldBlock) => Err(StoreError::Busy {
            url: redact_url(url),
            holder: format!("the process holding {}", path.display()),
        }),
        Err(TryLockError::Error(e)) => Err(StoreError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}
