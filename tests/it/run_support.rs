//! Helpers for the `popctl run` tests: a simulator in the test process, a temporary folder for
//! databases, plans and reports, and the real `popctl` binary pointed at both.

#![expect(
    clippy::disallowed_methods,
    reason = "tests read the database back, and break it on purpose, by SQL as a user's psql would"
)]
#![allow(dead_code)] // each test module uses a different subset
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use popctl::sim::{self, Sandbox, SandboxConfig};
use popctl::store;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// The project root: plans are given relative to it, as a user would.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A small catalog, no latency, no faults, no limits: fast and deterministic.
pub fn small_sim() -> SandboxConfig {
    SandboxConfig {
        movies: 2_000,
        ..SandboxConfig::default()
    }
}

/// A simulator and a scratch folder for one test.
pub struct Env {
    pub sim: Sandbox,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub async fn new(config: SandboxConfig) -> Env {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = sim::start(config).await.unwrap();
        Env {
            sim,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A SQLite file in the scratch folder.
    pub fn sqlite(&self, name: &str) -> String {
        format!("sqlite://{}?mode=rwc", self.path(name).display())
    }

    /// `--set` arguments pointing a plan's `tmdb` and `omdb` sources at the simulator.
    pub fn source_sets(&self) -> Vec<String> {
        vec![
            format!("sources.tmdb.base_url={}", self.sim.tmdb_base_url()),
            format!("sources.omdb.base_url={}", self.sim.omdb_base_url()),
        ]
    }

    /// `popctl run PLAN` against the simulator into `db_url`, with `extra` arguments; keys
    /// come from the environment as in real use.
    pub fn run_cmd(&self, plan: &str, db_url: &str, extra: &[&str]) -> Command {
        let mut cmd = popctl();
        cmd.arg("run").arg(plan);
        for set in self.source_sets() {
            cmd.arg("--set").arg(set);
        }
        cmd.arg("--set").arg(format!("database.url={db_url}"));
        // The response cache, when a test turns it on, stays in the scratch folder.
        cmd.arg("--set")
            .arg(format!("cache.dir={}", self.path("cache").display()));
        cmd.args(extra);
        cmd.env("TMDB_API_KEY", self.sim.tmdb_key())
            .env("OMDB_API_KEY", self.sim.omdb_key());
        cmd
    }
}

impl Env {
    /// `popctl run PLAN` with quick-20's fast settings (rates, retries, no cache), minus its
    /// stage override.
    pub fn quick_plan(&self, plan: &str, db_url: &str) -> Command {
        let sets: Vec<String> = quick(1)
            .into_iter()
            .filter(|s| !s.starts_with("stages."))
            .collect();
        let args = set_args(&sets);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run_cmd(plan, db_url, &args)
    }

    /// `popctl run plans/quick-20.toml` with `sets` (see [`quick`]) and `extra` arguments.
    pub fn quick(&self, db_url: &str, sets: &[String], extra: &[&str]) -> Command {
        let mut args = set_args(sets);
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run_cmd("plans/quick-20.toml", db_url, &args)
    }
}

/// The `popctl` binary with a clean environment for logs and databases.
pub fn popctl() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_popctl"));
    cmd.current_dir(root())
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env_remove("POPCTL_LOG")
        .env_remove("TMDB_API_KEY")
        .env_remove("OMDB_API_KEY")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` to its end without blocking the runtime that serves the simulator.
pub async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts the exit code, showing the output when it differs.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// Quick runs: the shipped `quick-20` plan, `pages` pages, rates well above the simulator's
/// speed so tests do not wait on them, retries that never wait long, no response cache (the
/// simulator's counts are what the tests read).
pub fn quick(pages: u32) -> Vec<String> {
    vec![
        "cache.mode=off".into(),
        format!("stages.popular.pages={pages}"),
        "sources.tmdb.rate=400/s".into(),
        "sources.omdb.rate=400/s".into(),
        "defaults.retry.initial=10ms".into(),
        "defaults.retry.max=200ms".into(),
    ]
}

/// `--set` pairs for `Command::args`.
pub fn set_args(sets: &[String]) -> Vec<String> {
    sets.iter()
        .flat_map(|s| ["--set".to_string(), s.clone()])
        .collect()
}

pub async fn connect(url: &str) -> DatabaseConnection {
    store::connect(url).await.unwrap()
}

/// The new database a swap run is building beside the live one at `url` (where an
/// unfinished run's data and ledger are), opened as popctl opens it.
pub async fn connect_next(url: &str) -> DatabaseConnection {
    let live = match url.starts_with("sqlite:") {
        true => None,
        false => Some(connect(url).await),
    };
    let next = store::NextDb::beside(url, live.as_ref())
        .await
        .unwrap()
        .expect("a database with a sibling");
    assert!(
        next.exists(live.as_ref()).await.unwrap(),
        "no new database beside {url}"
    );
    next.open(live.as_ref(), &store::OpenOptions::default(), false)
        .await
        .unwrap()
}

/// `popctl db digest --url URL --format json`: each table's rows and hash, and the digest.
pub async fn digest_json(url: &str) -> serde_json::Value {
    let mut cmd = popctl();
    cmd.args(["db", "digest", "--format", "json", "--url", url]);
    let out = output(cmd).await;
    assert_exit(&out, 0);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The digest of the database at `url` as `popctl db digest` gives it: equal digests, same
/// data (natural keys, no surrogate ids or bookkeeping times).
pub async fn digest(url: &str) -> String {
    let json = digest_json(url).await;
    json["digest"].as_str().unwrap().to_owned()
}

/// `SELECT COUNT(*)` of a table (or of `table WHERE …`).
pub async fn count(db: &DatabaseConnection, from: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) FROM {from}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Item statuses of a stage in the newest run: (ok, failed, skipped, pending), stage marker
/// left out.
pub async fn stage_items(db: &DatabaseConnection, stage: &str) -> (i64, i64, i64, i64) {
    let mut out = [0i64; 4];
    for (i, status) in ["ok", "failed", "skipped", "pending"].iter().enumerate() {
        out[i] = count(
            db,
            &format!(
                "import_items WHERE stage = '{stage}' AND status = '{status}' \
                 AND item_key <> '(stage)' AND run_id = (SELECT MAX(id) FROM import_runs)"
            ),
        )
        .await;
    }
    (out[0], out[1], out[2], out[3])
}

/// The status of the newest run.
pub async fn last_run_status(db: &DatabaseConnection) -> String {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT status FROM import_runs ORDER BY id DESC LIMIT 1".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<String>(0).unwrap()
}

/// Every file under `dir` (a SQLite database with its WAL and shared memory, a report).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// A small pseudo-random generator for kill points, seeded by the clock or by
/// `POPCTL_TEST_SEED`; the seed is printed so a failure can be replayed (the same kill
/// times: the same points as far as the machine runs as fast as it did).
pub struct Rng(u64);

impl Rng {
    pub fn from_clock(what: &str) -> Rng {
        let given = std::env::var("POPCTL_TEST_SEED").ok().map(|s| {
            s.trim()
                .parse::<u64>()
                .unwrap_or_else(|e| panic!("POPCTL_TEST_SEED={s:?} is not a seed: {e}"))
        });
        let seed = given.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        }) | 1;
        eprintln!("{what}: random seed {seed} (replay with POPCTL_TEST_SEED={seed})");
        Rng(seed)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A rendered error as one line: miette wraps long messages at the terminal's width.
pub fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The plan at `path` (relative to the project root, or absolute), compiled with placeholder
/// keys: what a test compares a run's database with.
pub fn load_plan(path: impl AsRef<Path>) -> popctl::plan::Plan {
    popctl::plan::load(&popctl::plan::LoadOptions {
        path: root().join(path),
        sets: Vec::new(),
        env: [("TMDB_API_KEY", "k"), ("OMDB_API_KEY", "k")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
    })
    .unwrap()
    .plan
}

/// A shipped plan or example run with `--sandbox` into a SQLite file of `dir`, its cache in
/// `dir/cache`; exits 0. Gives the database URL.
pub async fn run_in_sandbox(plan: &str, dir: &Path) -> String {
    let url = format!("sqlite://{}?mode=rwc", dir.join("sandbox.db").display());
    let mut cmd = popctl();
    cmd.args(["run", plan, "--sandbox"])
        .env("DATABASE_URL", &url)
        .env("POPCTL_CACHE__DIR", dir.join("cache"));
    let out = output(cmd).await;
    assert_exit(&out, 0);
    url
}

/// The TMDB ids of the movies a database holds.
pub async fn stored_tmdb_ids(db: &DatabaseConnection) -> std::collections::BTreeSet<i64> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT tmdb_id FROM movies".to_owned(),
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get_by_index::<i64>(0).unwrap())
    .collect()
}

/// A plan file `name` in `env`'s folder: `[plan]` with that name extending plans/base.toml,
/// then `body`.
pub fn write_plan(env: &Env, name: &str, body: &str) -> PathBuf {
    let path = env.path(&format!("{name}.toml"));
    let text = format!(
        "[plan]\nname = \"{name}\"\nextends = \"{}\"\n\n{body}",
        root().join("plans/base.toml").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// An executed SQL statement, for tests that add an app's own tables or roles.
pub async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql).await.unwrap();
}

/// Waits until no session of `role` is left on the server: a process that ended closed its
/// connections, but the server notices a moment later.
pub async fn no_sessions_of(admin: &DatabaseConnection, role: &str) {
    for _ in 0..200 {
        let left = count(admin, &format!("pg_stat_activity WHERE usename = '{role}'")).await;
        if left == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("sessions of {role} are still open after 10 s");
}

/// A role with a database of its own that takes `limit` connections: (admin connection,
/// role, the role's URL). Named as a test database is, so that a later test process sweeps
/// both away if this one fails before [`drop_role`].
pub async fn limited_role(server: &str, limit: u32) -> (DatabaseConnection, String, String) {
    let admin = connect(server).await;
    let role = format!(
        "{}{}_role_{}",
        crate::store_db::PREFIX,
        std::process::id(),
        chrono::Utc::now().timestamp_subsec_nanos()
    );
    exec(
        &admin,
        &format!("CREATE ROLE {role} LOGIN CONNECTION LIMIT {limit}"),
    )
    .await;
    exec(&admin, &format!("CREATE DATABASE {role} OWNER {role}")).await;
    let mut url = url::Url::parse(server).unwrap();
    url.set_username(&role).unwrap();
    url.set_path(&role);
    (admin, role, url.to_string())
}

/// Drops what [`limited_role`] made, once its sessions are gone.
pub async fn drop_role(admin: &DatabaseConnection, role: &str) {
    no_sessions_of(admin, role).await;
    exec(admin, &format!("DROP DATABASE {role}")).await;
    exec(admin, &format!("DROP ROLE {role}")).await;
}
