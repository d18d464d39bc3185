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

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, RuntimeErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use super::error::StoreError;
use crate::plan::DatabaseConfig;
use crate::plan::database::locality;
use crate::plan::units::human_duration;
use crate::secret::redact_url;

/// Connections in a PostgreSQL pool when the server has room for them.
const PG_POOL: u32 = 16;

/// The fewest connections a PostgreSQL pool works with: a stage holds a transaction while
/// the run's ledger, or a range of links, takes another. Below it, [`open`] refuses at once.
pub const PG_POOL_MIN: u32 = 2;

/// Prepared statements kept per connection. A batched upsert's text depends on its row
/// count, so a save uses a few dozen shapes; sqlx's default of 100 thrashed in the benchmark.
const STATEMENT_CACHE: usize = 1000;

/// How to open a database beyond its URL.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// How long reaching the server may take before giving up with an error naming it.
    pub timeout: Duration,
    /// Create a SQLite file that does not exist (false for commands that only read).
    pub create: bool,
    /// SQLite: open this file instead of the URL's (the new database a swap builds).
    pub sqlite_file: Option<PathBuf>,
    /// PostgreSQL: the one schema every statement uses (the new database a swap builds).
    pub pg_schema: Option<String>,
    /// PostgreSQL: connections this process opens to the server after this pool (the run
    /// lock's), left out of the pool's share of the server's room. Those opened before are
    /// counted by the server already.
    pub after_pool: u32,
    /// Where opening says what people should know (a pool made smaller than usual), for the
    /// caller to show; without it, an informational log line.
    pub notes: Option<Notes>,
    /// PostgreSQL: open every connection of the pool now and keep them while it is open
    /// (runs and workers), so the room the server had for it is still there mid-run, and a
    /// process opened later counts them. Without it the pool grows as it is used (commands
    /// that only read a little).
    pub claim: bool,
    /// PostgreSQL: processes started together that share the server's room (a run and the
    /// workers it starts): the pool takes this share of what is left (1: all of it).
    pub pool_share: u32,
    /// PostgreSQL: the most connections the pool takes (a worker started by a run: the
    /// run's own pool).
    pub pool_max: Option<u32>,
}

/// Warnings of [`open`] for its caller to show as its own; clones share them. Any not taken
/// when the last clone goes are logged as warnings, so none is lost.
#[derive(Debug, Clone, Default)]
pub struct Notes(std::sync::Arc<NoteList>);

#[derive(Debug, Default)]
struct NoteList(std::sync::Mutex<Vec<String>>);

impl Notes {
    fn push(&self, note: String) {
        self.0.lock().push(note);
    }

    /// The notes so far, leaving none.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock())
    }
}

impl NoteList {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for NoteList {
    fn drop(&mut self) {
        for note in self.lock().drain(..) {
            tracing::warn!("{note}");
        }
    }
}

impl OpenOptions {
    /// The pool a PostgreSQL server with room enough gets: [`PG_POOL`], or `pool_max`.
    fn largest_pool(&self) -> u32 {
        self.pool_max.unwrap_or(PG_POOL).clamp(PG_POOL_MIN, PG_POOL)
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            timeout: DatabaseConfig::DEFAULT_CONNECT_TIMEOUT,
            create: true,
            sqlite_file: None,
            pg_schema: None,
            after_pool: 0,
            notes: None,
            claim: false,
            pool_share: 1,
            pool_max: None,
        }
    }
}

/// Opens `url` (`sqlite://file.db`, `sqlite::memory:`, `postgres://…`). A SQLite file is
/// created when missing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, StoreError> {
    open(url, &OpenOptions::default()).await
}

/// Opens `url` as `opts` say. A PostgreSQL server is reached once first, within
/// `opts.timeout`, so an unreachable one is reported at once with its address and the
/// driver's reason (the pool alone would retry silently until its acquire timeout).
pub async fn open(url: &str, opts: &OpenOptions) -> Result<DatabaseConnection, StoreError> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(opts.timeout)
        .acquire_timeout(Duration::from_secs(300));
    if url.starts_with("sqlite:") {
        let file = match &opts.sqlite_file {
            Some(file) => Some(file.clone()),
            None => sqlite_file(url)?,
        };
        if let Some(file) = &file
            && !opts.create
            && !file.exists()
        {
            return Err(StoreError::NoDatabase {
                path: file.display().to_string(),
            });
        }
        let create = opts.create;
        options
            .max_connections(1)
            .min_connections(1)
            // An in-memory database lives as long as its one connection.
            .idle_timeout(None)
            .max_lifetime(None)
            .map_sqlx_sqlite_opts(move |o| {
                let o = match &file {
                    Some(file) => o.filename(file),
                    None => o,
                };
                o.create_if_missing(create)
                    .journal_mode(SqliteJournalMode::Wal)
                    // NORMAL in WAL mode keeps every commit atomic; only the last commits
                    // before a power cut may be lost, which a dev database can afford.
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
                    // 16 MiB of page cache (the default is 2 MiB) for the unique indexes every
                    // upsert probes. 64 MiB, the size until 2026-12-04, saved no faster and held
                    // 50 MB more through a whole run: a 10,000-movie mirror took 0.87 of the
                    // time with 16 MiB (peak 67 MB against 119); docs/benchmarks.md.
                    .pragma("cache_size", "-16384")
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
        if let Some(schema) = &opts.pg_schema {
            options.set_schema_search_path(quote_ident(schema));
        }
        options
            .min_connections(1)
            // Connections are only made after the probe reached the server; a wait past a
            // minute means it is gone or overloaded.
            .acquire_timeout(Duration::from_secs(60))
            .map_sqlx_postgres_opts(|o| o.statement_cache_capacity(STATEMENT_CACHE));
        return open_postgres(url, opts, options).await;
    }
    Database::connect(options)
        .await
        .map_err(|source| StoreError::Connect {
            url: redact_url(url),
            source,
        })
}

/// Times [`open_postgres`] asks the server's room, sizes and claims a pool before giving up:
/// each time after the first, now counting what other clients took meanwhile. One of them can
/// go to a server that is full for a moment ([`open_postgres`]), so four where three did.
const CLAIM_TRIES: u32 = 4;

/// Opens a PostgreSQL pool no larger than the server's room ([`Room::pool_size`]), and with
/// `opts.claim` opens all its connections before returning. Processes started together
/// (a run and its workers) each see the room before the others' pools are claimed; the one
/// that then gets fewer connections than it sized its pool for sizes it again, rather than
/// finding out mid-run, when a query would wait a minute for a connection the server will not
/// give (sqlx retries "too many clients" as if the server were starting up).
async fn open_postgres(
    url: &str,
    opts: &OpenOptions,
    mut options: ConnectOptions,
) -> Result<DatabaseConnection, StoreError> {
    let mut tries = 0;
    loop {
        tries += 1;
        let room = match probe_postgres(url, opts.timeout).await {
            Ok(room) => room,
            // Asking again after falling short, the server can still count the connections
            // this process has just closed (a server process leaves a moment after its
            // client) beside those another process is claiming: full for a moment, not for
            // good. The first probe's refusal stays final, so a process with no room hears
            // it at once.
            Err(StoreError::Refused { .. }) if (2..CLAIM_TRIES).contains(&tries) => {
                tracing::info!("the database server is full for now; asking it again");
                wait_to_ask_again(tries).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let pool = room.pool_size(url, opts)?;
        options.max_connections(pool);
        if opts.claim {
            // Claimed connections are kept: one closed for idling or age could be taken by
            // another client before the pool opens it again. (Not `min_connections`: the pool
            // would open those one by one, retrying a refusal until its acquire timeout.)
            options.idle_timeout(None).max_lifetime(None);
        }
        let db =
            Database::connect(options.clone())
                .await
                .map_err(|source| StoreError::Connect {
                    url: redact_url(url),
                    source,
                })?;
        if opts.claim {
            let got = claim(db.get_postgres_connection_pool(), pool, opts.timeout).await;
            if got < pool {
                db.close().await.ok();
                if tries < CLAIM_TRIES {
                    tracing::info!(
                        "the database server gave {got} of {pool} connections; asking it again"
                    );
                    wait_to_ask_again(tries).await;
                    continue;
                }
                return Err(StoreError::Crowded {
                    url: redact_url(url),
                    got,
                    wanted: pool,
                    tries,
                });
            }
        }
        // A pool held to `pool_max` is as large as asked.
        if pool < opts.largest_pool() {
            let shared = match opts.pool_share {
                0 | 1 => String::new(),
                n => format!(", shared by {n} processes"),
            };
            let note = format!(
                "the database server has room for {} more connection(s) ({}{shared}): popctl's \
                 pool takes {pool} instead of {}",
                room.free,
                room.limit,
                opts.largest_pool()
            );
            match &opts.notes {
                Some(notes) => notes.push(note),
                // `db` and `status` read a little: a smaller pool changes nothing for them.
                None => tracing::info!("{note}"),
            }
        }
        return Ok(db);
    }
}

/// The size of `db`'s PostgreSQL pool; `None` for other databases.
pub fn pool_size(db: &DatabaseConnection) -> Option<u32> {
    (db.get_database_backend() == DbBackend::Postgres).then(|| {
        db.get_postgres_connection_pool()
            .options()
            .get_max_connections()
    })
}

/// Waits before [`open_postgres`] asks the server again, after `tries` times: processes that
/// fell short together would ask together again; a wait of a random length lets one claim
/// before the other asks.
async fn wait_to_ask_again(tries: u32) {
    tokio::time::sleep(jitter(Duration::from_millis(200) * tries)).await;
}

/// A random duration below `most`, from the standard library's randomly keyed hasher.
fn jitter(most: Duration) -> Duration {
    use std::hash::{BuildHasher as _, Hasher as _};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    most.mul_f64((random % 1000) as f64 / 1000.0)
}

/// Opens every connection of `pool` (`size`), all held at once so none is used twice, within
/// `within`. Returns how many it had: fewer when the server refused some or was slow. A
/// refused connection is retried by the pool until `within` runs out, so while any are
/// missing the server is asked every [`CLAIM_LOOK`] on a connection already held; full
/// twice running, it gives up on the rest at once.
async fn claim(pool: &sea_orm::sqlx::PgPool, size: u32, within: Duration) -> u32 {
    use futures::StreamExt as _;
    let deadline = tokio::time::Instant::now() + within;
    let mut pending: futures::stream::FuturesUnordered<_> =
        (0..size).map(|_| pool.acquire()).collect();
    let mut held = Vec::new();
    let mut full = 0;
    loop {
        tokio::select! {
            got = pending.next() => match got {
                Some(Ok(conn)) => held.push(conn),
                // Missing from the count, which is the answer.
                Some(Err(_)) => {}
                None => break,
            },
            () = tokio::time::sleep(CLAIM_LOOK) => {
                let Some(conn) = held.first_mut() else { continue };
                // The asking connection stays held: room for none but it means full.
                match Room::ask(conn).await {
                    Ok(room) if room.free <= 1 => full += 1,
                    _ => full = 0,
                }
                if full >= 2 {
                    break;
                }
            }
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    held.len() as u32
}

/// How long a claim waits without a new connection before asking the server whether it is
/// full.
const CLAIM_LOOK: Duration = Duration::from_millis(100);

/// The file a `sqlite:` URL names, as the driver reads it; `None` for an in-memory database
/// and for other databases.
pub fn sqlite_file(url: &str) -> Result<Option<PathBuf>, StoreError> {
    if !url.starts_with("sqlite:") {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Connect {
        url: redact_url(url),
        source: DbErr::Conn(RuntimeErr::Internal(e.to_string())),
    })?;
    let file = options.get_filename();
    let memory = url.contains(":memory:")
        || url.contains("mode=memory")
        || file.as_os_str().is_empty()
        || file.as_os_str() == ":memory:";
    Ok((!memory).then(|| file.to_path_buf()))
}

/// One connection to the server, made and dropped within `timeout`, so "cannot reach" is
/// said early and plainly; on it the server says how many more connections it takes.
async fn probe_postgres(url: &str, timeout: Duration) -> Result<Room, StoreError> {
    use sea_orm::sqlx::Connection as _;
    let place = locality(url).place();
    let unreachable = |reason: String| StoreError::Unreachable {
        place: place.clone(),
        url: redact_url(url),
        reason,
    };
    let options = PgConnectOptions::from_str(url).map_err(|e| unreachable(e.to_string()))?;
    let mut conn = match tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await {
        Err(_) => {
            return Err(unreachable(format!(
                "no answer within {} (database.connect_timeout)",
                human_duration(timeout)
            )));
        }
        // The server is there but takes no more connections (SQLSTATE 53300): said as such,
        // with its reason ("too many clients already", a role's or database's limit).
        Ok(Err(sea_orm::sqlx::Error::Database(e))) if e.code().as_deref() == Some("53300") => {
            return Err(StoreError::Refused {
                url: redact_url(url),
                reason: e.message().to_owned(),
            });
        }
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Ok(Ok(conn)) => conn,
    };
    let room = match Room::ask(&mut conn).await {
        Ok(room) => room,
        // An aid, not a condition: a server that does not answer it (one only speaking
        // PostgreSQL's protocol, say) gets the usual pool.
        Err(e) => {
            tracing::info!("the database server did not say how many connections it takes: {e}");
            Room::unknown()
        }
    };
    let _ = conn.close().await;
    Ok(room)
}

/// How many more connections the server takes from this user in this database, and the
/// limit that says so: the server's `max_connections` (less the slots kept for superusers),
/// the role's and the database's `CONNECTION LIMIT`. Without asking, a pool that outgrew
/// them waited its whole acquire timeout and said only "pool timed out": the driver retries
/// "too many clients" as if the server were starting up, and drops the reason.
#[derive(Debug, Clone, PartialEq)]
struct Room {
    /// Connections still free.
    free: i64,
    /// The limit that leaves the fewest, in words.
    limit: String,
}

impl Room {
    async fn ask(conn: &mut PgConnection) -> Result<Room, sea_orm::sqlx::Error> {
        // Only client backends count against these limits (autovacuum and WAL senders have
        // slots of their own). Superusers are held to none but max_connections itself.
        use sea_orm::sqlx::Row as _;
        let row = sea_orm::sqlx::query(
            "SELECT current_user::text, current_database()::text, r.rolsuper, \
                   current_setting('max_connections')::int8, \
                   current_setting('superuser_reserved_connections')::int8 \
                     + coalesce(current_setting('reserved_connections', true), '0')::int8, \
                   count(a.*) FILTER (WHERE a.backend_type = 'client backend'), \
                   r.rolconnlimit::int8, \
                   count(a.*) FILTER (WHERE a.backend_type = 'client backend' \
                     AND a.usename = current_user), \
                   (SELECT datconnlimit::int8 FROM pg_database WHERE datname = current_database()), \
                   count(a.*) FILTER (WHERE a.backend_type = 'client backend' \
                     AND a.datname = current_database()) \
                 FROM pg_roles r, pg_stat_activity a WHERE r.rolname = current_user \
                 GROUP BY r.rolsuper, r.rolconnlimit",
        )
        .fetch_one(&mut *conn)
        .await?;
        Ok(Room::of(Limits {
            user: row.try_get(0)?,
            database: row.try_get(1)?,
            superuser: row.try_get(2)?,
            max: row.try_get(3)?,
            reserved: row.try_get(4)?,
            used: row.try_get(5)?,
            role_limit: row.try_get(6)?,
            role_used: row.try_get(7)?,
            db_limit: row.try_get(8)?,
            db_used: row.try_get(9)?,
        }))
    }

    /// Room enough for the usual pool, when the server does not say.
    fn unknown() -> Room {
        Room {
            free: i64::MAX,
            limit: "not known".to_owned(),
        }
    }

    /// The room the limits leave; `-1` is PostgreSQL's "no limit" for a role or database.
    /// The asking connection is counted in `l`'s figures but not here: it closes before the
    /// pool opens.
    fn of(l: Limits) -> Room {
        let mut limits = Vec::new();
        let reserved = if l.superuser { 0 } else { l.reserved };
        let kept = match reserved {
            0 => String::new(),
            n => format!(" less {n} kept for superusers"),
        };
        let others = |used: i64| used - 1;
        limits.push((
            l.max - reserved - others(l.used),
            format!(
                "max_connections is {}{kept}, {} in use",
                l.max,
                others(l.used)
            ),
        ));
        // A role's or database's own limit, where it has one.
        for (what, name, limit, used) in [
            ("role", &l.user, l.role_limit, l.role_used),
            ("database", &l.database, l.db_limit, l.db_used),
        ] {
            if !l.superuser && limit >= 0 {
                limits.push((
                    limit - others(used),
                    format!(
                        "{what} {name} has CONNECTION LIMIT {limit}, {} in use",
                        others(used)
                    ),
                ));
            }
        }
        let (free, limit) = limits
            .into_iter()
            .min_by_key(|(free, _)| *free)
            .unwrap_or_default();
        Room { free, limit }
    }

    /// The pool's size: [`PG_POOL`], or what the room leaves beside the `after_pool`
    /// connections opened later, divided by the `pool_share` processes sharing it, at most
    /// `pool_max`; an error when what is left is under [`PG_POOL_MIN`]. The share is never
    /// less than that least pool: a process whose share is smaller still runs, and one
    /// started after it may find no room.
    fn pool_size(&self, url: &str, opts: &OpenOptions) -> Result<u32, StoreError> {
        let after_pool = opts.after_pool;
        let left = self.free.saturating_sub(i64::from(after_pool));
        if left < i64::from(PG_POOL_MIN) {
            return Err(StoreError::NoRoom {
                url: redact_url(url),
                free: self.free.max(0),
                limit: self.limit.clone(),
                needs: i64::from(PG_POOL_MIN + after_pool),
            });
        }
        let share = left / i64::from(opts.pool_share.max(1));
        let most = opts.largest_pool();
        Ok(u32::try_from(share)
            .unwrap_or(PG_POOL)
            .clamp(PG_POOL_MIN, most))
    }
}

/// What [`Room::ask`] reads.
struct Limits {
    user: String,
    database: String,
    superuser: bool,
    max: i64,
    reserved: i64,
    used: i64,
    role_limit: i64,
    role_used: i64,
    db_limit: i64,
    db_used: i64,
}

/// Confirms after connecting that the server is on this machine, as the URL said: PostgreSQL
/// names the address it answered on (`inet_server_addr()`: NULL over a unix socket). A name
/// that resolves elsewhere than it looks cannot talk the reset guard around.
pub async fn confirm_local(db: &DatabaseConnection, url: &str) -> Result<(), StoreError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT inet_server_addr()::text AS addr",
        ))
        .await
        .map_err(StoreError::query("asking the server for its address"))?;
    let addr: Option<String> = match row {
        Some(row) => row
            .try_get("", "addr")
            .map_err(StoreError::query("asking the server for its address"))?,
        None => None,
    };
    server_is_local(addr.as_deref()).map_err(|addr| StoreError::RemoteServer {
        url: redact_url(url),
        addr,
    })
}

/// `Ok` when the server's own address (`None`: a unix socket) is this machine's loopback.
fn server_is_local(addr: Option<&str>) -> Result<(), String> {
    let Some(text) = addr else {
        return Ok(());
    };
    // inet's text form may carry a prefix length ("127.0.0.1/32").
    let bare = text.split('/').next().unwrap_or(text);
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(()),
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()) => {
            Ok(())
        }
        _ => Err(text.to_owned()),
    }
}

/// `name` as a quoted SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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
    // An in-memory database has no file to find (and is empty).
    if let Some(path) = sqlite_file(url)?
        && !path.exists()
    {
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

/// Empties the prepared-statement caches of the pool's idle connections; a connection in use
/// keeps its own. A stage's saves prepare statements of many shapes (a batched upsert's text
/// depends on its row count), each kept with its text and columns until its connection
/// closes; a stage that ends leaves them to the next, whose own peak (the post stage's
/// similarity index) then comes on top. Before a 10,000-movie mirror's post stage this gave
/// back 10.6 of 47.8 MB on PostgreSQL (docs/benchmarks.md). A later statement of a known
/// shape is prepared again, once per connection.
pub async fn forget_statements(db: &DatabaseConnection) {
    use sea_orm::DatabaseConnectionType as Kind;
    let forgotten = match &db.inner {
        Kind::SqlxPostgresPoolConnection(_) => forget_idle(db.get_postgres_connection_pool()).await,
        Kind::SqlxSqlitePoolConnection(_) => forget_idle(db.get_sqlite_connection_pool()).await,
        _ => Ok(()),
    };
    // Only memory is at stake: a connection that failed to forget keeps its statements.
    if let Err(e) = forgotten {
        tracing::debug!("prepared statements not forgotten: {e}");
    }
}

/// [`forget_statements`] on one pool.
async fn forget_idle<DB: sea_orm::sqlx::Database + sea_orm::sqlx::database::HasStatementCache>(
    pool: &sea_orm::sqlx::Pool<DB>,
) -> Result<(), sea_orm::sqlx::Error> {
    use sea_orm::sqlx::Connection as _;
    let mut idle = idle_connections(pool, Duration::from_millis(20)).await;
    let mut result = Ok(());
    for conn in &mut idle {
        result = result.and(conn.clear_cached_statements().await);
    }
    result
}

/// Takes the pool's connections as they become idle, until it holds all of them or
/// `patience` runs out (then those it has). A connection just let go goes back to its pool
/// in a task of its own, so right after a query it is neither in use nor idle yet; and the
/// pool's count of idle connections cannot say when they all are, since it briefly reads
/// below zero (wrapped) while a connection is handed back and taken again.
pub async fn idle_connections<DB: sea_orm::sqlx::Database>(
    pool: &sea_orm::sqlx::Pool<DB>,
    patience: Duration,
) -> Vec<sea_orm::sqlx::pool::PoolConnection<DB>> {
    let deadline = tokio::time::Instant::now() + patience;
    let mut held = Vec::new();
    loop {
        held.extend(std::iter::from_fn(|| pool.try_acquire()));
        if held.len() >= pool.size() as usize || tokio::time::Instant::now() >= deadline {
            return held;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Applies every pending migration, each whole or not at all: a run killed while it migrates
/// leaves the schema as it was before a migration, never half of one (whose next attempt
/// would fail on what the first half made). sea-orm-migration wraps each migration in a
/// transaction on PostgreSQL only; SQLite's DDL is transactional too, so there the pending
/// migrations run in one transaction of popctl's.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Migrator::up(db, None).await.map_err(StoreError::Migrate);
    }
    let txn = begin(db).await?;
    Migrator::up(&txn, None)
        .await
        .map_err(StoreError::Migrate)?;
    txn.commit().await.map_err(StoreError::Migrate)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(superuser: bool, role_limit: i64, db_limit: i64) -> Limits {
        // The asking connection is in every count: 30 client backends, 3 of the role's, 2 in
        // the database.
        Limits {
            user: "app".into(),
            database: "films".into(),
            superuser,
            max: 40,
            reserved: 3,
            used: 30,
            role_limit,
            role_used: 3,
            db_limit,
            db_used: 2,
        }
    }

    #[test]
    fn the_tightest_limit_gives_the_room() {
        let server = Room::of(limits(false, -1, -1));
        assert_eq!(server.free, 40 - 3 - 29);
        assert_eq!(
            server.limit,
            "max_connections is 40 less 3 kept for superusers, 29 in use"
        );
        let role = Room::of(limits(false, 5, -1));
        assert_eq!(
            (role.free, role.limit.as_str()),
            (3, "role app has CONNECTION LIMIT 5, 2 in use")
        );
        let database = Room::of(limits(false, 10, 2));
        assert_eq!(
            (database.free, database.limit.as_str()),
            (1, "database films has CONNECTION LIMIT 2, 1 in use")
        );
        // A superuser is held to max_connections alone, reserved slots included.
        let superuser = Room::of(limits(true, 5, 2));
        assert_eq!(
            (superuser.free, superuser.limit.as_str()),
            (11, "max_connections is 40, 29 in use")
        );
    }

    #[test]
    fn the_pool_takes_what_the_room_leaves_down_to_its_least() {
        let room = |free| Room {
            free,
            limit: "role app has CONNECTION LIMIT 9, 0 in use".into(),
        };
        let after = |after_pool| OpenOptions {
            after_pool,
            ..OpenOptions::default()
        };
        let url = "postgres://a@h/d";
        assert_eq!(room(100).pool_size(url, &after(1)).ok(), Some(PG_POOL));
        assert_eq!(room(17).pool_size(url, &after(1)).ok(), Some(16));
        assert_eq!(room(9).pool_size(url, &after(3)).ok(), Some(6));
        assert_eq!(room(2).pool_size(url, &after(0)).ok(), Some(2));
        let Err(e) = room(4).pool_size("postgres://a:secret@h/d", &after(3)) else {
            panic!("a room of 4 cannot hold a pool of 2 and 3 more");
        };
        assert_eq!(
            e.to_string(),
            "the database server of postgres://a:***@h/d takes 4 more connection(s) (role app \
             has CONNECTION LIMIT 9, 0 in use); popctl needs 5"
        );
        assert!(matches!(
            room(-3).pool_size(url, &after(0)),
            Err(StoreError::NoRoom { free: 0, .. })
        ));
    }

    #[test]
    fn processes_started_together_take_their_share_of_the_room() {
        let room = |free| Room {
            free,
            limit: "role app has CONNECTION LIMIT 20, 2 in use".into(),
        };
        let shared = |pool_share, pool_max| OpenOptions {
            pool_share,
            pool_max,
            ..OpenOptions::default()
        };
        let url = "postgres://a@h/d";
        // A run and 2 workers on 18 connections: 6 each; on 100, the usual pool each.
        assert_eq!(room(18).pool_size(url, &shared(3, None)).ok(), Some(6));
        assert_eq!(
            room(100).pool_size(url, &shared(3, None)).ok(),
            Some(PG_POOL)
        );
        // A share below the least pool is the least pool, as long as the room holds one.
        assert_eq!(
            room(4).pool_size(url, &shared(3, None)).ok(),
            Some(PG_POOL_MIN)
        );
        assert!(room(1).pool_size(url, &shared(3, None)).is_err());
        // A worker takes no more than the run's pool, and no less than the least.
        assert_eq!(room(12).pool_size(url, &shared(1, Some(6))).ok(), Some(6));
        assert_eq!(room(4).pool_size(url, &shared(1, Some(6))).ok(), Some(4));
        assert_eq!(
            room(12).pool_size(url, &shared(1, Some(0))).ok(),
            Some(PG_POOL_MIN)
        );
    }

    #[test]
    fn the_servers_own_address_decides() {
        assert!(server_is_local(None).is_ok());
        assert!(server_is_local(Some("127.0.0.1/32")).is_ok());
        assert!(server_is_local(Some("127.4.5.6")).is_ok());
        assert!(server_is_local(Some("::1/128")).is_ok());
        assert!(server_is_local(Some("::ffff:127.0.0.1")).is_ok());
        assert_eq!(
            server_is_local(Some("192.0.2.2/32")),
            Err("192.0.2.2/32".to_owned())
        );
        assert!(server_is_local(Some("2001:db8::1")).is_err());
        assert!(server_is_local(Some("garbage")).is_err());
    }

    #[test]
    fn sqlite_files_as_the_driver_reads_them() {
        assert_eq!(
            sqlite_file("sqlite://popctl-dev.db?mode=rwc")
                .ok()
                .flatten(),
            Some(PathBuf::from("popctl-dev.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:").ok().flatten(), None);
        assert_eq!(
            sqlite_file("sqlite://x.db?mode=memory").ok().flatten(),
            None
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("public"), "\"public\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
