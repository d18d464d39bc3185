//! Databases for the store tests: SQLite in memory, a SQLite file, and a fresh PostgreSQL
//! database per test (so tests run in parallel), all migrated.

#![expect(
    clippy::disallowed_methods,
    reason = "tests read the database back, and break it on purpose, by SQL as a user's psql would"
)]
#![allow(clippy::unwrap_used)] // helpers shared by tests are not #[test] fns

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use popctl::store::{self, bundle::MovieBundle};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::support;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    SqliteMemory,
    SqliteFile,
    Postgres,
}

pub struct TestDb {
    pub db: DatabaseConnection,
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The prefix of every database (and role) the tests create; the process id follows it.
pub const PREFIX: &str = "popctl_t_";

/// A new, empty PostgreSQL database on the test server, or `None` (skipped loudly) without one.
pub async fn fresh_pg_url() -> Option<String> {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let server = support::pg_url()?;
    let name = format!(
        "{PREFIX}{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        chrono::Utc::now().timestamp_subsec_nanos()
    );
    let admin = sea_orm::Database::connect(server.as_str())
        .await
        .expect("connect to the test PostgreSQL");
    SWEPT.get_or_init(|| sweep(&admin, &server)).await;
    admin
        .execute_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("CREATE DATABASE {name}"),
        ))
        .await
        .expect("create a test database");
    admin.close().await.ok();
    let mut url = url::Url::parse(&server).expect("POPCTL_TEST_PG is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

/// Drops the databases earlier test processes left on a server on this machine: a test's
/// database is not dropped when it ends (the harness has no hook for it, and a failing test's
/// is worth a look), so a developer's own server would collect them run after run. Only those
/// of processes that no longer run, and only where that can be told: a server on loopback,
/// on Linux. A database still in use is not dropped (its error is ignored).
async fn sweep(admin: &DatabaseConnection, server: &str) {
    let local = url::Url::parse(server).ok().is_some_and(|u| {
        matches!(
            u.host_str(),
            None | Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        )
    });
    if !local || !cfg!(target_os = "linux") {
        return;
    }
    let Ok(rows) = admin
        .query_all_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT datname FROM pg_database WHERE starts_with(datname, '{PREFIX}')"),
        ))
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let pid = name[PREFIX.len()..].split('_').next().unwrap_or_default();
        let gone = pid.parse::<u32>().is_ok_and(|pid| {
            pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        });
        if gone {
            // A test that needs a role of its own names it as its database.
            for sql in [
                format!("DROP DATABASE IF EXISTS \"{name}\""),
                format!("DROP ROLE IF EXISTS \"{name}\""),
            ] {
                let _ = admin
                    .execute_raw(Statement::from_string(sea_orm::DbBackend::Postgres, sql))
                    .await;
            }
        }
    }
}

impl TestDb {
    /// An empty database (no schema), or `None` when PostgreSQL is not available.
    pub async fn empty(backend: Backend) -> Option<TestDb> {
        let (url, dir) = match backend {
            Backend::SqliteMemory => ("sqlite::memory:".to_owned(), None),
            Backend::SqliteFile => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path: PathBuf = dir.path().join("popctl-test.db");
                (format!("sqlite://{}", path.display()), Some(dir))
            }
            Backend::Postgres => (fresh_pg_url().await?, None),
        };
        let db = store::connect(&url).await.expect("connect");
        Some(TestDb {
            db,
            url,
            backend,
            _dir: dir,
        })
    }

    /// A migrated database.
    pub async fn migrated(backend: Backend) -> Option<TestDb> {
        let t = Self::empty(backend).await?;
        store::migrate(&t.db).await.expect("migrate");
        Some(t)
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .expect("a row");
        row.try_get_by_index::<i64>(0).expect("a count")
    }

    /// Saves `bundle` outside any run (run 0).
    pub async fn save(&self, bundle: &MovieBundle) -> store::SaveStats {
        self.save_in_run(bundle, 0).await
    }

    pub async fn save_in_run(&self, bundle: &MovieBundle, run: i64) -> store::SaveStats {
        store::save_movie(&self.db, bundle, run)
            .await
            .unwrap_or_else(|e| panic!("saving {}: {e}", bundle.tmdb_id()))
    }
}

/// Runs `test` on a migrated database of `backend` (skipping loudly without PostgreSQL).
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    if let Some(t) = TestDb::migrated(backend).await {
        test(t).await;
    }
}

/// Three tests from one async fn taking a `TestDb`: SQLite memory, SQLite file, PostgreSQL.
macro_rules! on_every_backend {
    ($name:ident) => {
        mod $name {
            use crate::store_db::{Backend, run};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_memory() {
                run(Backend::SqliteMemory, super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_file() {
                run(Backend::SqliteFile, super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres, super::$name).await;
            }
        }
    };
}
pub(crate) use on_every_backend;

/// Every real TMDB details body: (file name, bytes), by file name.
pub fn details_fixtures() -> Vec<(String, Vec<u8>)> {
    support::fixture_files("tmdb/movie_details")
        .into_iter()
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read fixture"))
        })
        .collect()
}

/// One bundle per distinct movie: the fixture with the most appended parts wins.
pub fn richest_bundles() -> Vec<MovieBundle> {
    let mut best: std::collections::BTreeMap<i64, (usize, MovieBundle)> = Default::default();
    for (name, body) in details_fixtures() {
        let bundle = popctl::sources::tmdb::mapping::movie_bundle(&body)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let rows = bundle.row_count();
        let entry = best.entry(bundle.tmdb_id()).or_insert((0, bundle.clone()));
        if rows > entry.0 {
            *entry = (rows, bundle);
        }
    }
    best.into_values().map(|(_, b)| b).collect()
}

/// `bundle` as another movie sharing its people, keywords and companies.
pub fn variant(bundle: &MovieBundle, n: i64) -> MovieBundle {
    bundle.renumbered(n)
}
