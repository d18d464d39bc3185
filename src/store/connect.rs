//! Opening a database and bringing its schema up to date.
//!
//! SQLite gets ONE connection: a single serialized writer. SQLite allows one writer at a time
//! anyway, and a deferred transaction that reads and then writes gets SQLITE_BUSY at once,
//! without the busy handler, when another connection wrote in between; with one connection
//! that cannot happen, and queued tasks wait in the pool's fair queue instead of sleeping in
//! the busy handler. WAL, a busy timeout and `BEGIN IMMEDIATE` ([`begin`]) still guard against
//! *other processes* (the user's app, the sqlite3 shell) using the same file meanwhile.
//! The catch: a task holding a transaction must not also use the pool for another query (it
//! would wait for itself); pass the transaction along instead.
//!
//! PostgreSQL gets a pool; concurrent saves are safe there through `ON CONFLICT` upserts in a
//! fixed table order with rows sorted by natural key (see `save`).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    RuntimeErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use super::error::{StoreError, redact_url};

/// Prepared statements kept per connection. A batched upsert's text depends on its row
/// count, so a save uses a few dozen shapes; sqlx's default of 100 thrashed in the benchmark.
const STATEMENT_CACHE: usize = 1000;

/// Opens `url` (`sqlite://file.db`, `sqlite::memory:`, `postgres://…`). A SQLite file is
/// created when missing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, StoreError> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(300));
    if url.starts_with("sqlite:") {
        options
            .max_connections(1)
            .min_connections(1)
            // An in-memory database lives as long as its one connection.
            .idle_timeout(None)
            .max_lifetime(None)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // NORMAL in WAL mode keeps every commit atomic; only the last commits
                    // before a power cut may be lost, which a dev database can afford.
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
                    // 64 MiB of page cache (the default is 2 MiB): the unique indexes that
                    // every upsert probes stay in memory for a few thousand movies.
                    .pragma("cache_size", "-65536")
                    .pragma("temp_store", "memory")
                    // Checkpoint every 16,000 WAL pages (64 MiB) instead of 1,000: a burst of
                    // saves (46 KB raw bodies each) checkpoints a sixteenth as often, and each
                    // checkpoint's two fsyncs (about 25 ms each here) were a fifth of a save's
                    // time; a page rewritten by several saves reaches the database file once.
                    // `benches/store.rs`: +16% at 4,000, +20% more at 16,000
                    // (docs/benchmarks.md). The WAL file keeps its high-water size, up to
                    // 64 MiB, until the last connection closes.
                    .pragma("wal_autocheckpoint", "16000")
                    .statement_cache_capacity(STATEMENT_CACHE)
            });
    } else {
        options
            .max_connections(16)
            .min_connections(1)
            .map_sqlx_postgres_opts(|o| o.statement_cache_capacity(STATEMENT_CACHE));
    }
    Database::connect(options)
        .await
        .map_err(|source| StoreError::Connect {
            url: redact_url(url),
            source,
        })
}

/// Opens a database that must already exist, to read it (`db status`, `db digest`,
/// `status`): a missing SQLite file is an error instead of a new empty database, and its
/// journal mode is left as it is. (Not a read-only connection: on a database in WAL mode that
/// would leave empty `-wal` and `-shm` files behind, which a read-write connection removes
/// when it closes.)
pub async fn connect_existing(url: &str) -> Result<DatabaseConnection, StoreError> {
    if !url.starts_with("sqlite:") {
        return connect(url).await;
    }
    let parsed = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Connect {
        url: redact_url(url),
        source: DbErr::Conn(RuntimeErr::Internal(e.to_string())),
    })?;
    let path = parsed.get_filename();
    // An in-memory database has no file to find (and is empty).
    if path != Path::new(":memory:") && !path.exists() {
        return Err(StoreError::NoDatabase {
            path: path.display().to_string(),
        });
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(false)
                .busy_timeout(Duration::from_secs(30))
        });
    Database::connect(options)
        .await
        .map_err(|source| StoreError::Connect {
            url: redact_url(url),
            source,
        })
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    Migrator::up(db, None).await.map_err(StoreError::Migrate)
}

/// Starts a write transaction: `BEGIN IMMEDIATE` on SQLite (the write lock is taken up front,
/// through the busy handler, instead of failing on the first write), a plain `BEGIN`
/// elsewhere. Use it for every transaction that writes.
pub async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, StoreError> {
    let options = match db.get_database_backend() {
        DbBackend::Sqlite => TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        },
        _ => TransactionOptions::default(),
    };
    db.begin_with_options(options)
        .await
        .map_err(StoreError::query("starting a transaction"))
}
