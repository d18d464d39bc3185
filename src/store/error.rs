//! Errors of the store, each with a stable code (`popctl::store::…`).

use sea_orm::DbErr;

/// What to do about a server that takes no more connections.
const NO_ROOM_HELP: &str = "close other sessions (SELECT usename, datname, application_name \
     FROM pg_stat_activity), or raise the limit: max_connections in postgresql.conf, ALTER \
     ROLE … CONNECTION LIMIT, ALTER DATABASE … CONNECTION LIMIT";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StoreError {
    #[error("cannot open database {url}: {source}")]
    #[diagnostic(
        code(popctl::store::connect),
        help(
            "check the URL: sqlite://path/to/file.db, sqlite::memory: or postgres://user@host/db"
        )
    )]
    Connect {
        /// With any password removed.
        url: String,
        #[source]
        source: DbErr,
    },

    #[error("cannot reach the database server at {place} ({url}): {reason}")]
    #[diagnostic(
        code(popctl::store::unreachable),
        help(
            "check that the server runs and listens there, and the URL (`database.url` or \
             DATABASE_URL); `database.connect_timeout` sets how long to wait"
        )
    )]
    Unreachable {
        /// Where the driver connects ("127.0.0.1:5432", "the unix socket in /run/x").
        place: String,
        /// With any password removed.
        url: String,
        reason: String,
    },

    #[error(
        "the database server of {url} takes {free} more connection(s) ({limit}); popctl needs \
         {needs}"
    )]
    #[diagnostic(code(popctl::store::no_room), help("{}", NO_ROOM_HELP))]
    NoRoom {
        /// With any password removed.
        url: String,
        free: i64,
        limit: String,
        needs: i64,
    },

    #[error(
        "the database server of {url} gave {got} of the {wanted} connection(s) it had room \
         for, {tries} times: other clients are taking connections as popctl opens its own"
    )]
    #[diagnostic(code(popctl::store::crowded), help("{}", NO_ROOM_HELP))]
    Crowded {
        /// With any password removed.
        url: String,
        got: u32,
        wanted: u32,
        tries: u32,
    },

    #[error("the database server of {url} refuses another connection: {reason}")]
    #[diagnostic(code(popctl::store::refused), help("{}", NO_ROOM_HELP))]
    Refused {
        /// With any password removed.
        url: String,
        reason: String,
    },

    #[error(
        "refusing to replace the data of {url}: the server answered from {addr}, which is not \
         this machine, although the URL looked local"
    )]
    #[diagnostic(
        code(popctl::store::remote_server),
        help(
            "a host name that resolves elsewhere cannot pass the reset guard; if replacing \
             that database is intended, set `allow_remote = true` on the reset stage"
        )
    )]
    RemoteServer { url: String, addr: String },

    #[error("no database at {path}")]
    #[diagnostic(
        code(popctl::store::no_database),
        help(
            "check the path; `popctl db migrate --url …` or a run of a plan creates the database"
        )
    )]
    NoDatabase { path: String },

    #[error("{url} holds no popctl schema: none of its migrations is applied")]
    #[diagnostic(
        code(popctl::store::no_schema),
        help(
            "is it the right database? `popctl db migrate` or a run of a plan creates the schema"
        )
    )]
    NoSchema { url: String },

    #[error("{url} has {pending} pending migrations, so its tables are not the ones popctl reads")]
    #[diagnostic(
        code(popctl::store::pending_migrations),
        help("`popctl db migrate` applies them")
    )]
    PendingMigrations { url: String, pending: usize },

    #[error("migrating the schema failed: {0}")]
    #[diagnostic(code(popctl::store::migrate))]
    Migrate(#[source] DbErr),

    #[error("refusing to reset {url}: it is not a local database, and a reset drops every table")]
    #[diagnostic(
        code(popctl::store::remote_reset),
        help(
            "local means a SQLite file, localhost, 127.0.0.1, ::1 or a unix socket; to reset \
             this database anyway set `allow_remote = true` on the reset stage (or pass \
             --allow-remote)"
        )
    )]
    RemoteReset { url: String },

    #[error("refusing to reset: {dependents}")]
    #[diagnostic(
        code(popctl::store::foreign_dependents),
        help(
            "a reset drops popctl's tables, which would break these; drop or change them \
             first, or set `scope = \"database\"` on the reset stage to drop every table"
        )
    )]
    ForeignDependents { dependents: String },

    #[error("cannot swap in the new database ({what}): the live database is not open")]
    #[diagnostic(code(popctl::store::swap_target))]
    SwapTarget { what: String },

    #[error("the database has no current schema (the role's search_path names none that exists)")]
    #[diagnostic(
        code(popctl::store::no_current_schema),
        help("create the schema, or set the role's search_path to one that exists")
    )]
    NoCurrentSchema,

    #[error("another popctl run is working on {url} ({holder})")]
    #[diagnostic(
        code(popctl::store::busy),
        help("wait for it to end (`popctl status` shows it), or stop it; then run again")
    )]
    Busy { url: String, holder: String },

    #[error("cannot take the run lock of {url}: {reason}")]
    #[diagnostic(code(popctl::store::lock))]
    Lock { url: String, reason: String },

    #[error("{path}: {reason}")]
    #[diagnostic(code(popctl::store::file))]
    File { path: String, reason: String },

    #[error("saving TMDB movie {tmdb_id} failed while {step}: {source}")]
    #[diagnostic(code(popctl::store::save))]
    Save {
        tmdb_id: i64,
        step: &'static str,
        #[source]
        source: DbErr,
    },

    #[error(
        "TMDB movie {tmdb_id} has IMDb id {imdb_id}, which another movie in the database already has"
    )]
    #[diagnostic(
        code(popctl::store::duplicate_imdb_id),
        help("TMDB occasionally lists one film twice; the first one imported keeps the IMDb id")
    )]
    DuplicateImdbId { tmdb_id: i64, imdb_id: String },

    #[error("TMDB movie {tmdb_id} is not in the database")]
    #[diagnostic(
        code(popctl::store::unknown_movie),
        help("enrichment needs the movie imported by a fetch stage first")
    )]
    UnknownMovie { tmdb_id: i64 },

    #[error(
        "unknown external source {name:?}; known: tmdb, omdb, imdb, rotten_tomatoes, metacritic"
    )]
    #[diagnostic(code(popctl::store::unknown_source))]
    UnknownSource { name: String },

    #[error("{what} of TMDB movie {tmdb_id} has {len} entries, more than one statement can carry")]
    #[diagnostic(code(popctl::store::too_large))]
    TooLarge {
        tmdb_id: i64,
        what: &'static str,
        len: usize,
    },

    #[error("{what}: no database connection became free within the pool's wait ({source})")]
    #[diagnostic(
        code(popctl::store::no_connection),
        help(
            "on PostgreSQL the server may be refusing new connections (\"too many clients\"): \
             other sessions took the room popctl saw when it started (see pg_stat_activity); \
             or every connection was busy for that long"
        )
    )]
    NoConnection {
        what: String,
        #[source]
        source: DbErr,
    },

    #[error("{what}: {source}")]
    #[diagnostic(code(popctl::store::query))]
    Query {
        what: String,
        #[source]
        source: DbErr,
    },

    #[error("{table}.{column} holds {value:?}, which popctl does not know")]
    #[diagnostic(
        code(popctl::store::bad_value),
        help(
            "the database was written by another program or version; `popctl db reset` rebuilds it"
        )
    )]
    BadValue {
        table: &'static str,
        column: &'static str,
        value: String,
    },

    #[error("{path}: {message}")]
    #[diagnostic(code(popctl::store::seed_file))]
    SeedFile { path: String, message: String },

    #[error(
        "item {key} of stage {stage} is no longer this worker's: its lease ran out and another \
         worker may have taken it"
    )]
    #[diagnostic(
        code(popctl::store::lease_lost),
        help(
            "a worker that cannot reach the database for longer than its lease (`--lease`) loses \
             its items; nothing it did for this item was kept"
        )
    )]
    LeaseLost { stage: String, key: String },

    #[error(
        "{what} needs PostgreSQL: the plan's database is SQLite, which has one writer at a time"
    )]
    #[diagnostic(
        code(popctl::store::one_writer),
        help(
            "run the plan without workers, or point `database.url` (or DATABASE_URL) at a \
             PostgreSQL database that every worker can reach"
        )
    )]
    OneWriter { what: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    List(#[from] crate::lists::ListError),
}

impl StoreError {
    pub(crate) fn query(what: impl Into<String>) -> impl FnOnce(DbErr) -> StoreError {
        let what = what.into();
        move |source| match source {
            DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout) => {
                StoreError::NoConnection { what, source }
            }
            source => StoreError::Query { what, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_that_gave_no_connection_is_told_apart_from_a_failed_query() {
        let waited = StoreError::query("writing the ledger")(DbErr::ConnectionAcquire(
            sea_orm::ConnAcquireErr::Timeout,
        ));
        assert!(matches!(waited, StoreError::NoConnection { .. }));
        assert_eq!(
            waited.to_string(),
            "writing the ledger: no database connection became free within the pool's wait \
             (Failed to acquire connection from pool: Connection pool timed out)"
        );
        let failed = StoreError::query("writing the ledger")(DbErr::Custom("boom".into()));
        assert!(matches!(failed, StoreError::Query { .. }));
    }
}
