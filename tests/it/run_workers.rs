//! Several processes share one run through PostgreSQL: `popctl run --workers N`, `--share`
//! and `popctl worker`, as real processes against the simulator.

#![expect(
    clippy::disallowed_methods,
    reason = "tests read the ledger back by SQL, as an operator's psql would"
)]
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use popctl::sim::{Latency, SandboxConfig};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::run_support::*;
use crate::store_db::fresh_pg_url;

/// Ten pages of popular movies: 200 movies.
const PAGES: u32 = 10;

/// The movies a process of a shared run finished.
const SHARED_OK: &str =
    "import_items WHERE stage = 'popular' AND status = 'ok' AND claimed_by IS NOT NULL";

fn slow_sim(min_ms: u64, max_ms: u64) -> SandboxConfig {
    SandboxConfig {
        latency: Latency { min_ms, max_ms },
        ..small_sim()
    }
}

/// `(worker id, pid, address, stopped, movies finished)` for every worker of the newest run.
async fn workers(db: &DatabaseConnection) -> Vec<(i64, i64, Option<String>, bool, i64)> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT w.id, w.pid, w.address, w.stopped_at IS NOT NULL AS stopped, \
             (SELECT COUNT(*) FROM import_items i WHERE i.claimed_by = w.id \
              AND i.status <> 'pending' AND i.item_key LIKE 'movie:%') AS finished \
             FROM import_workers w WHERE w.run_id = (SELECT MAX(id) FROM import_runs) \
             ORDER BY w.id"
                .to_owned(),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get("", "id").unwrap(),
                r.try_get("", "pid").unwrap(),
                r.try_get("", "address").unwrap(),
                r.try_get("", "stopped").unwrap(),
                r.try_get("", "finished").unwrap(),
            )
        })
        .collect()
}

/// A process a test started in the background, its stdout and stderr in files of the test's
/// folder, so a wait that fails can say what the process printed.
struct Spawned {
    child: std::process::Child,
    name: String,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

impl Spawned {
    /// Starts `cmd` as `name` (which also names its files in `env`'s folder).
    fn start(env: &Env, name: &str, mut cmd: Command) -> Spawned {
        let (out, err) = (
            env.path(&format!("{name}.stdout")),
            env.path(&format!("{name}.stderr")),
        );
        cmd.stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        Spawned {
            child: cmd.spawn().unwrap(),
            name: name.to_owned(),
            out,
            err,
        }
    }

    fn pid(&self) -> i64 {
        i64::from(self.child.id())
    }

    /// What it printed so far, for a failure message.
    fn printed(&self) -> String {
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- {} stdout\n{}\n--- {} stderr\n{}",
            self.name,
            read(&self.out),
            self.name,
            read(&self.err)
        )
    }

    /// Its exit status once it has ended.
    fn ended(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// SIGKILL, and its exit status.
    fn kill(&mut self) -> std::process::ExitStatus {
        self.child.kill().unwrap();
        self.child.wait().unwrap()
    }

    /// Waits for its end (off the runtime that serves the simulator): its output.
    async fn output(self) -> std::process::Output {
        let Spawned {
            mut child,
            out,
            err,
            ..
        } = self;
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        std::process::Output {
            status,
            stdout: std::fs::read(out).unwrap(),
            stderr: std::fs::read(err).unwrap(),
        }
    }
}

/// Waits until `SELECT COUNT(*) FROM {from}` in the new database a swap run builds beside
/// `url` reaches `n`, while every process of `watched` goes on; the count. The run's reset may
/// be recreating the tables: a query that fails counts as not yet. A process that ends first,
/// or a wait of two minutes, fails the test with what the processes printed.
async fn wait_for_count(url: &str, from: &str, n: i64, watched: &mut [&mut Spawned]) -> i64 {
    let began = Instant::now();
    let printed = |watched: &[&mut Spawned]| {
        watched
            .iter()
            .map(|p| p.printed())
            .collect::<Vec<_>>()
            .join("\n")
    };
    // One connection to each database for the whole wait: a loaded server has few to spare.
    let live = connect(url).await;
    let mut next: Option<DatabaseConnection> = None;
    loop {
        if began.elapsed() > Duration::from_secs(120) {
            panic!("never {n} rows in {from}\n{}", printed(watched));
        }
        for i in 0..watched.len() {
            if let Some(status) = watched[i].ended() {
                panic!(
                    "{} ended ({status}) before {n} rows were in {from}\n{}",
                    watched[i].name,
                    printed(watched)
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if next.is_none() {
            let Some(beside) = popctl::store::NextDb::beside(url, Some(&live))
                .await
                .unwrap()
            else {
                panic!("no database can be beside {url}");
            };
            if !beside.exists(Some(&live)).await.unwrap_or(false) {
                continue;
            }
            // Swapped in, or not yet made: the next round looks again.
            let Ok(db) = beside
                .open(Some(&live), &popctl::store::OpenOptions::default(), false)
                .await
            else {
                continue;
            };
            next = Some(db);
        }
        let db = next.as_ref().unwrap();
        let Ok(Some(row)) = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) FROM {from}"),
            ))
            .await
        else {
            // Its tables being recreated (the reset) or moved (the swap): open it again.
            if let Some(db) = next.take() {
                db.close().await.ok();
            }
            continue;
        };
        let got: i64 = row.try_get_by_index(0).unwrap();
        if got >= n {
            if let Some(db) = next {
                db.close().await.ok();
            }
            live.close().await.ok();
            return got;
        }
    }
}

/// A shared run of five pages (100 movies), two movies at a time in each process, against a
/// simulator answering in `min_ms`–`max_ms`, and the database one process builds from the
/// same run, to compare with.
struct Compared {
    url: String,
    reference: String,
    env: Env,
    sets: Vec<String>,
}

/// The pages of a [`Compared`] run.
const COMPARED_PAGES: u32 = 5;

impl Compared {
    /// `None` without PostgreSQL.
    async fn new(min_ms: u64, max_ms: u64) -> Option<Compared> {
        let (url, reference) = two_databases().await?;
        let env = Env::new(slow_sim(min_ms, max_ms)).await;
        let mut sets = quick(COMPARED_PAGES);
        // Two movies at a time in each process, so a process has its share to hold when killed.
        sets.push("stages.popular.concurrency=2".into());
        let out = output(env.quick(&reference, &sets, &[])).await;
        assert_exit(&out, 0);
        Some(Compared {
            url,
            reference,
            env,
            sets,
        })
    }

    /// The shared run into `url` with `extra` arguments.
    fn run(&self, extra: &[&str]) -> Command {
        self.env.quick(&self.url, &self.sets, extra)
    }

    /// The run with `sets`, shared (`--share`, leases of 2 s), and one `popctl worker` for it,
    /// both started.
    fn run_with_a_worker(&self, sets: &[String]) -> (Spawned, Spawned) {
        let run = self
            .env
            .quick(&self.url, sets, &["--share", "--lease", "2s"]);
        let worker = worker_cmd(
            &self.env,
            &self.url,
            sets,
            &["--lease", "2s", "--wait", "60s"],
        );
        (
            Spawned::start(&self.env, "run", run),
            Spawned::start(&self.env, "worker", worker),
        )
    }

    /// Every movie saved, each finished by one process (`why` is said when not), and the
    /// database the one of one process.
    async fn assert_same_as_one_process(&self, why: &str) {
        let db = connect(&self.url).await;
        assert_eq!(
            stage_items(&db, "popular").await,
            (100 + COMPARED_PAGES as i64, 0, 0, 0)
        );
        let ws = workers(&db).await;
        assert_eq!(
            ws.iter().map(|w| w.4).sum::<i64>(),
            200,
            "each movie fetched and enriched by one process{why}: {ws:?}"
        );
        drop(db);
        assert_eq!(digest(&self.url).await, digest(&self.reference).await);
    }
}

/// `popctl worker` for the quick plan of `env`, with `sets`, into `url`.
fn worker_cmd(env: &Env, url: &str, sets: &[String], extra: &[&str]) -> Command {
    let mut cmd = popctl();
    cmd.arg("worker").arg("plans/quick-20.toml");
    cmd.args(set_args(&worker_sets(env, url, sets)));
    cmd.args(extra);
    cmd.envs(worker_keys(env));
    cmd
}

/// The `--set` pairs of [`worker_cmd`]: the simulator's sources, `sets`, the database and the
/// cache folder.
fn worker_sets(env: &Env, url: &str, sets: &[String]) -> Vec<String> {
    let mut all = env.source_sets();
    all.extend(sets.iter().cloned());
    all.push(format!("database.url={url}"));
    all.push(format!("cache.dir={}", env.path("cache").display()));
    all
}

/// The API keys a worker of `env` finds in its environment.
fn worker_keys(env: &Env) -> [(String, String); 2] {
    [
        ("TMDB_API_KEY".to_owned(), env.sim.tmdb_key().to_owned()),
        ("OMDB_API_KEY".to_owned(), env.sim.omdb_key().to_owned()),
    ]
}

/// Two fresh PostgreSQL databases: one for a shared run, one for the run of one process it is
/// compared with; `None` without PostgreSQL.
async fn two_databases() -> Option<(String, String)> {
    let url = fresh_pg_url().await?;
    let reference = fresh_pg_url()
        .await
        .expect("a second database on the same server");
    Some((url, reference))
}

/// The stage `name` of the JSON report at `path`.
fn report_stage(path: &std::path::Path, name: &str) -> serde_json::Value {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no stage {name}: {report}"))
}

/// How many processes finished items of `stage` whose keys start with `prefix`.
async fn processes_that_did(url: &str, stage: &str, prefix: &str) -> i64 {
    let db = connect(url).await;
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        format!(
            "SELECT COUNT(DISTINCT claimed_by) FROM import_items \
             WHERE stage = '{stage}' AND item_key LIKE '{prefix}%' AND status <> 'pending'"
        ),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index(0)
    .unwrap()
}

/// A plan `name` in `env`'s folder: base.toml's sources, a reset and a seed of genres, then
/// `stages` (TOML; they need `seed`). Its path.
fn plan_file(env: &Env, name: &str, stages: &str) -> String {
    let base = root().join("plans/base.toml").display().to_string();
    let text = format!(
        r#"[plan]
name = "{name}"
extends = {base}

[stages.reset]
kind = "reset"

[stages.seed]
kind = "seed"
needs = ["reset"]
sets = ["genres"]

{stages}"#,
        base = toml::Value::String(base),
    );
    let path = env.path(&format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The movies of the fetch stage are shared: each is asked of TMDB once, the run and each of
/// its workers (from the address it was given) fetch some, and the database is the one a run
/// of one process builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_the_movies_and_build_the_same_database() {
    let Some((url, reference)) = two_databases().await else {
        return;
    };
    let env = Env::new(slow_sim(40, 80)).await;
    let sets = quick(PAGES);

    let alone_report = env.path("alone.json");
    let out = output(env.quick(
        &reference,
        &sets,
        &["--report", alone_report.to_str().unwrap()],
    ))
    .await;
    assert_exit(&out, 0);
    let movies = |env: &Env| env.sim.stats().count("GET /3/movie/{id}", 200);
    let omdb = |env: &Env| env.sim.stats().count("GET /?i=", 200);
    let alone = (movies(&env), omdb(&env));
    assert_eq!(alone.0, 200);
    assert!(alone.1 > 150, "most movies have an IMDb id: {alone:?}");

    let shared_report = env.path("shared.json");
    let out = output(env.quick(
        &url,
        &sets,
        &[
            "--workers",
            "2",
            "--worker-address",
            "127.0.0.2",
            "--worker-address",
            "127.0.0.3",
            "--report",
            shared_report.to_str().unwrap(),
        ],
    ))
    .await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("2 worker processes share"), "{err}");
    assert!(
        err.contains("3 processes shared the run's movies: 400 items"),
        "{err}"
    );
    // Each movie asked once of TMDB and once of OMDb, by one process.
    assert_eq!(movies(&env) - alone.0, 200, "{:?}", env.sim.stats());
    assert_eq!(omdb(&env) - alone.1, alone.1, "{:?}", env.sim.stats());
    // The report counts the whole of each stage, every process's requests and rows included.
    for name in ["popular", "omdb"] {
        let (a, b) = (
            report_stage(&alone_report, name),
            report_stage(&shared_report, name),
        );
        for field in ["total", "ok", "skipped", "failed", "requests"] {
            assert_eq!(a[field], b[field], "{name}.{field}: {a} vs {b}");
        }
        // Rows written: a shared row (a keyword, a company) is counted by the save that
        // writes it, which depends on which movies are saved at the same time; without the
        // workers' rows a third would be missing.
        let rows = |s: &serde_json::Value| s["rows"].as_u64().unwrap();
        assert!(
            rows(&a).abs_diff(rows(&b)) <= rows(&a) / 50,
            "{name}.rows: {a} vs {b}"
        );
    }

    let db = connect(&url).await;
    let ws = workers(&db).await;
    assert_eq!(ws.len(), 3, "the run and its two workers: {ws:?}");
    assert!(
        ws.iter().all(|w| w.3),
        "every worker recorded as stopped: {ws:?}"
    );
    assert!(
        ws.iter().all(|w| w.4 > 0),
        "every process fetched some: {ws:?}"
    );
    // 200 fetched and 200 enriched (asked or recorded without a request).
    assert_eq!(ws.iter().map(|w| w.4).sum::<i64>(), 400, "{ws:?}");
    let mut addresses: Vec<_> = ws.iter().filter_map(|w| w.2.clone()).collect();
    addresses.sort();
    assert_eq!(addresses, ["127.0.0.2", "127.0.0.3"]);
    let by_address = env.sim.stats().by_address;
    for a in ["127.0.0.2", "127.0.0.3"] {
        assert!(
            by_address.get(a).copied().unwrap_or(0) > 0,
            "no request came from {a}: {by_address:?}"
        );
    }
    assert_eq!(stage_items(&db, "popular").await.0, 200 + PAGES as i64);
    drop(db);
    assert_eq!(digest(&url).await, digest(&reference).await);
}

/// A worker killed with SIGKILL while it holds movies loses them when its lease runs out;
/// the run takes them over and ends with the database a run of one process builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_its_movies_to_the_run() {
    let Some(c) = Compared::new(150, 250).await else {
        return;
    };
    // TMDB paced at 10 requests/s in each process, so the fetch lasts long enough for the
    // worker to start, claim movies and be seen holding them, however loaded the machine.
    let mut sets = c.sets.clone();
    sets.push("sources.tmdb.rate=10/s".into());
    let (mut runner, mut worker) = c.run_with_a_worker(&sets);
    let pid = worker.pid();

    // Wait until the worker holds movies (claimed, not finished) in the run's new database.
    let held = wait_for_count(
        &c.url,
        &format!(
            "import_items i JOIN import_workers w ON w.id = i.claimed_by \
             WHERE w.pid = {pid} AND i.status = 'pending'"
        ),
        1,
        &mut [&mut runner, &mut worker],
    )
    .await;
    assert!(!worker.kill().success());

    let out = runner.output().await;
    assert_exit(&out, 0);
    let db = connect(&c.url).await;
    let ws = workers(&db).await;
    let dead = ws
        .iter()
        .find(|w| w.1 == pid)
        .expect("the killed worker's row");
    assert!(
        !dead.3,
        "a killed worker cannot record that it stopped: {ws:?}"
    );
    drop(db);
    c.assert_same_as_one_process(&format!(" ({held} were held by the killed one)"))
        .await;
}

/// The same with the enrich stage: a worker killed while it holds movies to ask OMDb about
/// loses them to the run, and the database is the one a run of one process builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_its_omdb_movies_to_the_run() {
    let Some(c) = Compared::new(150, 250).await else {
        return;
    };
    // OMDb paced at 5 requests/s in each process, so each holds its claimed movies long
    // enough to be seen holding them, however loaded the machine.
    let mut sets = c.sets.clone();
    sets.push("sources.omdb.rate=5/s".into());
    let (mut runner, mut worker) = c.run_with_a_worker(&sets);
    let pid = worker.pid();

    let held = wait_for_count(
        &c.url,
        &format!(
            "import_items i JOIN import_workers w ON w.id = i.claimed_by \
             WHERE w.pid = {pid} AND i.status = 'pending' AND i.stage = 'omdb'"
        ),
        1,
        &mut [&mut runner, &mut worker],
    )
    .await;
    assert!(!worker.kill().success());

    let out = runner.output().await;
    assert_exit(&out, 0);
    let db = connect(&c.url).await;
    let (ok, failed, skipped, pending) = stage_items(&db, "omdb").await;
    assert_eq!(
        (ok + skipped, failed, pending),
        (100, 0, 0),
        "{}",
        stderr(&out)
    );
    drop(db);
    c.assert_same_as_one_process(&format!(
        " ({held} OMDb movies were held by the killed one)"
    ))
    .await;
}

/// A worker that joined a run before the run's reset keeps waiting while the reset leaves the
/// run's database without the run's row (it drops the ledger's tables and writes the row back
/// right after), and stops only once the run has really ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_waits_through_the_window_of_the_runs_reset() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let env = Env::new(small_sim()).await;
    let mut migrate = popctl();
    migrate.args(["db", "migrate", "--url", &url]);
    assert_exit(&output(migrate).await, 0);
    // The run a worker of these settings joins: same plan, same hash.
    let plan = popctl::plan::load(&popctl::plan::LoadOptions {
        path: root().join("plans/quick-20.toml"),
        sets: worker_sets(&env, &url, &quick(1)),
        env: worker_keys(&env).into(),
    })
    .unwrap()
    .plan;
    let db = connect(&url).await;
    let run_id = popctl::store::ledger::start_run(&db, &plan.name, &plan.hash)
        .await
        .unwrap();
    let cmd = worker_cmd(&env, &url, &quick(1), &["--wait", "30s"]);
    let mut worker = Spawned::start(&env, "worker", cmd);
    let began = Instant::now();
    while !worker.printed().contains(&format!("Joined run {run_id}")) {
        assert!(worker.ended().is_none(), "{}", worker.printed());
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "{}",
            worker.printed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sql = |q: String| {
        let db = &db;
        async move {
            db.execute_raw(Statement::from_string(db.get_database_backend(), q))
                .await
                .unwrap()
        }
    };
    // The reset's window, made long: the run's row is gone for six of the worker's looks.
    sql(format!("DELETE FROM import_runs WHERE id = {run_id}")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        worker.ended().is_none(),
        "the worker stopped while the run was being reset\n{}",
        worker.printed()
    );
    sql(format!(
        "INSERT INTO import_runs (id, plan_name, plan_hash, started_at, status) \
         VALUES ({run_id}, '{}', '{}', now(), 'failed')",
        plan.name, plan.hash
    ))
    .await;
    let out = worker.output().await;
    assert_exit(&out, 0);
    let err = flat(&stderr(&out));
    assert!(err.contains("the run ended"), "{err}");
}

/// SQLite has one writer: `--workers`, `--share` and `popctl worker` say so before anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_workers() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("one.db");
    for flag in [&["--workers", "2"][..], &["--share"][..]] {
        let out = output(env.quick(&url, &quick(1), flag)).await;
        assert_exit(&out, 1);
        let err = flat(&stderr(&out));
        assert!(err.contains("needs PostgreSQL"), "{err}");
        assert!(err.contains(flag[0]), "{err}");
    }
    assert!(!env.path("one.db").exists(), "nothing was created");
    let out = output(worker_cmd(&env, &url, &quick(1), &["--wait", "1s"])).await;
    assert_exit(&out, 1);
    let err = flat(&stderr(&out));
    assert!(err.contains("`popctl worker` needs PostgreSQL"), "{err}");
}

/// A worker that finds no run within `--wait` says so and exits 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_without_a_run_gives_up_after_its_wait() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let env = Env::new(small_sim()).await;
    let out = output(worker_cmd(&env, &url, &quick(1), &["--wait", "1s"])).await;
    assert_exit(&out, 3);
    let err = flat(&stderr(&out));
    assert!(err.contains("no run came within --wait"), "{err}");
}

/// A shared run killed with SIGKILL (its worker left running) is resumed with `--resume`: the
/// movies the dead run held are taken over once their leases run out, and the database is
/// the one a run of one process builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_shared_run_resumes_to_the_same_database() {
    let Some(c) = Compared::new(100, 200).await else {
        return;
    };
    let mut first = Spawned::start(&c.env, "first", c.run(&["--workers", "1", "--lease", "2s"]));
    wait_for_count(&c.url, SHARED_OK, 20, &mut [&mut first]).await;
    first.kill();

    let report = c.env.path("resumed.json");
    let out = output(c.run(&[
        "--resume",
        "--workers",
        "1",
        "--lease",
        "2s",
        "--report",
        report.to_str().unwrap(),
    ]))
    .await;
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("Resuming"), "{}", stderr(&out));
    c.assert_same_as_one_process("").await;
    // The report counts each movie once: done before the kill, or after it.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for stage in report["stages"].as_array().unwrap() {
        if stage["name"] == "popular" || stage["name"] == "omdb" {
            let n = |f: &str| stage[f].as_u64().unwrap();
            assert_eq!(n("ok") + n("skipped") + n("failed"), n("total"), "{stage}");
        }
    }
}

/// `popctl status --url URL` (text, or the `status` message with `--message-format json`).
async fn status(url: &str, json: bool) -> std::process::Output {
    let mut cmd = popctl();
    cmd.args(["status", "--url", url]);
    if json {
        cmd.args(["--message-format", "json"]);
    }
    let out = output(cmd).await;
    assert_exit(&out, 0);
    out
}

/// The `status` message of `popctl status --message-format json`.
fn status_message(out: &std::process::Output) -> serde_json::Value {
    stdout(out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|m| m["reason"] == "status")
        .unwrap_or_else(|| panic!("no status message: {}", stdout(out)))
}

/// A run and the workers it starts share a tight server's room: the run's pool takes its
/// share (a third, beside 2 workers) and each worker's no more than the run's, so all three
/// work, instead of the run taking the usual 16 and the workers finding no room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_and_its_workers_share_a_tight_servers_room() {
    let Some(server) = crate::support::pg_url() else {
        return;
    };
    let (admin, role, url) = limited_role(&server, 20).await;
    let env = Env::new(slow_sim(40, 80)).await;
    let out = output(env.quick(&url, &quick(2), &["--workers", "2"])).await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(!err.contains("ended with an error"), "{err}");
    // 20 less the live database's pool and the run lock (2 or 3, as it happens), by 3.
    assert!(
        err.contains("shared by 3 processes): popctl's pool takes 5 instead of 16")
            || err.contains("shared by 3 processes): popctl's pool takes 6 instead of 16"),
        "{err}"
    );
    let db = connect(&url).await;
    let ws = workers(&db).await;
    assert_eq!(ws.len(), 3, "the run and its 2 workers: {ws:?}");
    db.close().await.unwrap();
    drop_role(&admin, &role).await;
}

/// `status` shows the processes that shared the newest run, stopped, with what each did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_workers_of_a_shared_run() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let env = Env::new(slow_sim(40, 80)).await;
    let out = output(env.quick(&url, &quick(2), &["--workers", "1"])).await;
    assert_exit(&out, 0);
    let db = connect(&url).await;
    let ws = workers(&db).await;
    assert_eq!(ws.len(), 2, "the run and its worker: {ws:?}");
    drop(db);

    let text = stdout(&status(&url, false).await);
    assert!(text.contains("workers of run "), "{text}");
    assert!(
        text.contains("worker  host") && text.contains("items/s"),
        "{text}"
    );
    for (id, pid, ..) in &ws {
        let row = text
            .lines()
            .find(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells.first() == Some(&id.to_string().as_str())
                    && cells.get(2) == Some(&pid.to_string().as_str())
            })
            .unwrap_or_else(|| panic!("no row for worker {id}: {text}"));
        assert!(row.contains("stopped"), "{row}");
        assert!(row.contains(" ago"), "{row}");
    }
    assert!(text.contains("2 workers: 80 items, "), "{text}");
    assert!(!text.contains("lost"), "{text}");

    let message = status_message(&status(&url, true).await);
    let listed = message["runs"][0]["workers"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{message}");
    assert!(listed.iter().all(|w| w["state"] == "stopped"), "{message}");
    assert!(
        listed.iter().all(|w| w["stopped_at"].is_string()
            && w["heartbeat_seconds_ago"].is_number()
            && w["requests"].as_i64().unwrap() > 0),
        "{message}"
    );
    assert_eq!(
        listed
            .iter()
            .map(|w| w["items_done"].as_i64().unwrap())
            .sum::<i64>(),
        80,
        "{message}"
    );
    let pids: Vec<i64> = listed.iter().map(|w| w["pid"].as_i64().unwrap()).collect();
    assert_eq!(pids, ws.iter().map(|w| w.1).collect::<Vec<_>>());
}

/// A run of one process shows no workers; a worker that never said it stopped and has been
/// silent for minutes shows as lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_a_silent_worker_as_lost() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let env = Env::new(small_sim()).await;
    let out = output(env.quick(&url, &quick(1), &[])).await;
    assert_exit(&out, 0);

    let text = stdout(&status(&url, false).await);
    assert!(!text.contains("worker"), "a run of one process: {text}");
    let message = status_message(&status(&url, true).await);
    assert_eq!(message["runs"][0]["workers"], serde_json::json!([]));

    let db = connect(&url).await;
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        "INSERT INTO import_workers \
         (run_id, host, pid, address, started_at, heartbeat_at, items_done, requests) \
         VALUES ((SELECT MAX(id) FROM import_runs), 'gone-host', 4242, '10.0.0.9', \
         now() - interval '10 minutes', now() - interval '5 minutes', 600, 650)"
            .to_owned(),
    ))
    .await
    .unwrap();
    drop(db);

    let text = stdout(&status(&url, false).await);
    let row = text
        .lines()
        .find(|l| l.contains("gone-host"))
        .unwrap_or_else(|| panic!("no row for the lost worker: {text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[2..4], ["4242", "10.0.0.9"], "pid and address: {row}");
    assert!(row.contains(" 5m "), "silent for five minutes: {row}");
    assert!(row.contains("lost"), "{row}");
    // 600 movies in the five minutes it lived until its last heartbeat.
    assert!(row.trim_end().ends_with("2.0"), "{row}");
    assert!(text.contains("1 worker: 600 items, 650 requests"), "{text}");
    assert!(text.contains("lost: not stopped"), "{text}");

    let message = status_message(&status(&url, true).await);
    let listed = message["runs"][0]["workers"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{message}");
    assert_eq!(listed[0]["state"], "lost");
    assert_eq!(listed[0]["stopped_at"], serde_json::Value::Null);
    assert_eq!(listed[0]["items_per_second"], 2.0);
    assert!(
        listed[0]["heartbeat_seconds_ago"].as_f64().unwrap() >= 300.0,
        "{message}"
    );
}

/// `rate_scope = "cluster"`: the run and its workers share one rate, so together they take at
/// least as long as the rate allows for their requests; each still does its share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_rate_is_shared_by_every_worker() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let env = Env::new(small_sim()).await;
    // 10/s, so the stage lasts long enough for both workers to start and take a share on a
    // loaded machine (at 20/s CI once saw the run end before one of them had registered).
    let mut sets = quick(5);
    sets.push("sources.tmdb.rate=10/s".into());
    sets.push("sources.tmdb.rate_scope=cluster".into());
    let report = env.path("report.json");
    let report_arg = report.display().to_string();
    let out = output(env.quick(
        &url,
        &sets,
        &[
            "--workers",
            "2",
            "--worker-address",
            "127.0.0.2",
            "--worker-address",
            "127.0.0.3",
            "--report",
            &report_arg,
        ],
    ))
    .await;
    assert_exit(&out, 0);
    let stage = report_stage(&report, "popular");
    let seconds = stage["wall_seconds"].as_f64().unwrap();
    // 100 movies and 5 pages at 10/s between them all: the first goes at once.
    assert!(
        seconds >= 104.0 / 10.0,
        "105 requests in {seconds:.2} s: faster than the one shared rate of 10/s"
    );
    let db = connect(&url).await;
    let ws = workers(&db).await;
    assert_eq!(ws.len(), 3, "{ws:?}");
    assert!(
        ws.iter().all(|w| w.4 > 0),
        "every process fetched some: {ws:?}"
    );
    assert_eq!(count(&db, "import_budgets WHERE source = 'tmdb'").await, 1);
}

/// SIGINT to a run with workers (as a service manager stops it): the run and its workers
/// finish the movies in flight, give back what they hold and stop; `--resume` completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_stops_its_workers_and_resumes() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let env = Env::new(slow_sim(100, 200)).await;
    let pages = 5;
    let mut sets = quick(pages);
    sets.push("stages.popular.concurrency=2".into());
    let mut run = Spawned::start(
        &env,
        "run",
        env.quick(&url, &sets, &["--workers", "2", "--lease", "30s"]),
    );
    wait_for_count(&url, SHARED_OK, 10, &mut [&mut run]).await;
    let sent = Command::new("kill")
        .args(["-INT", &run.pid().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = run.output().await;
    assert_exit(&out, 3);

    let db = connect_next(&url).await;
    assert_eq!(last_run_status(&db).await, "interrupted");
    let ws = workers(&db).await;
    assert_eq!(ws.len(), 3, "{ws:?}");
    assert!(
        ws.iter().all(|w| w.3),
        "every process recorded as stopped: {ws:?}"
    );
    for w in &ws {
        assert!(
            !std::path::Path::new(&format!("/proc/{}", w.1)).exists(),
            "process {} is still there",
            w.1
        );
    }
    // Nothing is left held: what was not finished is free for the next attempt at once,
    // not after the 30 s lease.
    assert_eq!(
        count(
            &db,
            "import_items WHERE status = 'pending' AND lease_until > now()"
        )
        .await,
        0
    );
    drop(db);

    let out = output(env.quick(&url, &sets, &["--resume", "--workers", "1"])).await;
    assert_exit(&out, 0);
    let db = connect(&url).await;
    assert_eq!(
        stage_items(&db, "popular").await,
        (100 + pages as i64, 0, 0, 0)
    );
}

/// A daily quota is one for the run and its workers, counted in the database: together they
/// ask OMDb exactly the quota and stop (exit 3), the rest pending, as one process would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_spend_one_daily_quota_between_them() {
    let Some(url) = fresh_pg_url().await else {
        return;
    };
    let env = Env::new(slow_sim(20, 40)).await;
    let mut sets = quick(PAGES);
    sets.push("sources.omdb.daily_quota=30".into());
    let out = output(env.quick(&url, &sets, &["--workers", "2"])).await;
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("today's daily_quota of 30 requests is spent"),
        "{err}"
    );
    assert_eq!(env.sim.stats().omdb.requests, 30, "{err}");
    let db = connect_next(&url).await;
    let (ok, failed, skipped, pending) = stage_items(&db, "omdb").await;
    assert_eq!(failed, 0);
    assert!(pending > 0, "items stay pending");
    assert_eq!(ok + skipped + pending, 200, "every movie is in the ledger");
    assert_eq!(
        count(&db, "import_quotas WHERE source = 'omdb' AND used = 30").await,
        1
    );
    // Nothing is left held.
    assert_eq!(
        count(
            &db,
            "import_items WHERE lease_until > now() AND status = 'pending'"
        )
        .await,
        0
    );
}

/// The people of a people stage are shared too: each person asked of TMDB once, more than one
/// process fetched some, and the database is the one a run of one process builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_the_people_of_a_people_stage() {
    use crate::run_people::{FAST, people_plan, person_answers};
    let Some((url, reference)) = two_databases().await else {
        return;
    };
    let env = Env::new(slow_sim(20, 40)).await;
    let plan = people_plan(&env, "");
    // At FAST's 400/s three processes ask the people in a fifth of a second, less than the
    // quarter second between a worker's looks for a newly opened stage; at 20/s each it takes
    // a second or more, so a worker can join it even on a loaded machine.
    let paced = [&FAST[..], &["--set", "sources.tmdb.rate=20/s"]].concat();
    let out = output(env.run_cmd(&plan, &reference, &paced)).await;
    assert_exit(&out, 0);
    let alone = person_answers(&env, 200);
    assert!(alone > 40, "{alone} people");

    let out = output(env.run_cmd(&plan, &url, &[&paced[..], &["--workers", "2"]].concat())).await;
    assert_exit(&out, 0);
    assert_eq!(
        person_answers(&env, 200) - alone,
        alone,
        "each person asked once: {}",
        stderr(&out)
    );
    let by = processes_that_did(&url, "people", "person:").await;
    assert!(by >= 2, "the people were fetched by {by} process(es)");
    assert_eq!(digest(&url).await, digest(&reference).await);
}

/// Two fetch stages that want the same movies, worked by three processes: each movie is asked
/// of TMDB once (a stage takes what another saved, in whichever process), and the database is
/// the one a run of one process builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fetch_stages_share_their_movies_across_workers() {
    let Some((url, reference)) = two_databases().await else {
        return;
    };
    let env = Env::new(slow_sim(20, 60)).await;
    let plan = plan_file(
        &env,
        "twice",
        r#"[stages.popular]
kind = "fetch"
needs = ["seed"]
list = "popular"
pages = 4
concurrency = 3

[stages.again]
kind = "fetch"
needs = ["seed"]
list = "popular"
pages = 4
concurrency = 3
"#,
    );
    let movies = |env: &Env| env.sim.stats().count("GET /3/movie/{id}", 200);
    let sets = set_args(&quick(1)[..1]);
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();

    let out = output(env.run_cmd(&plan, &reference, &sets)).await;
    assert_exit(&out, 0);
    let alone = movies(&env);
    assert_eq!(alone, 80, "one process asks each movie once");

    let out = output(env.run_cmd(&plan, &url, &[&sets[..], &["--workers", "2"]].concat())).await;
    assert_exit(&out, 0);
    assert_eq!(movies(&env) - alone, 80, "{}", stderr(&out));
    let db = connect(&url).await;
    for stage in ["popular", "again"] {
        assert_eq!(stage_items(&db, stage).await, (84, 0, 0, 0), "{stage}");
    }
    drop(db);
    assert_eq!(digest(&url).await, digest(&reference).await);
}

/// The look-ups of a fetch stage (`imdb_ids`: one `/find` each) are shared too: every process
/// claims some, each is asked once, the movies they find are fetched once by whichever process
/// claims them, and the database and the stage's counts are those of a run of one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_the_look_ups_of_a_fetch_stage() {
    let Some((url, reference)) = two_databases().await else {
        return;
    };
    let env = Env::new(slow_sim(30, 60)).await;
    let catalog = env.sim.catalog();
    let mut imdb: Vec<String> = catalog
        .list_ids(popctl::plan::ListKind::Popular)
        .into_iter()
        .filter_map(|id| catalog.entry(id).and_then(|e| e.imdb_id.clone()))
        .take(60)
        .collect();
    assert_eq!(imdb.len(), 60);
    // A movie named twice, and an id no movie has.
    imdb.push(imdb[0].clone());
    imdb.push("tt9999999".into());
    let listed: Vec<String> = imdb.iter().map(|i| format!("\"{i}\"")).collect();
    let stages = format!(
        r#"[stages.picked]
kind = "fetch"
needs = ["seed"]
imdb_ids = [{}]
concurrency = 3
"#,
        listed.join(", ")
    );
    let plan = plan_file(&env, "picked", &stages);
    let finds = |env: &Env| env.sim.stats().count("GET /3/find/{external_id}", 200);
    let movies = |env: &Env| env.sim.stats().count("GET /3/movie/{id}", 200);
    let sets = set_args(&quick(1)[..1]);
    let report = |name: &str| env.path(name).display().to_string();
    let (alone_report, shared_report) = (report("alone.json"), report("shared.json"));

    let args = |report: &str| -> Vec<String> {
        let mut a = sets.clone();
        a.extend(["--report".to_owned(), report.to_owned()]);
        a
    };
    let alone_args = args(&alone_report);
    let alone_args: Vec<&str> = alone_args.iter().map(String::as_str).collect();
    let out = output(env.run_cmd(&plan, &reference, &alone_args)).await;
    assert_exit(&out, 0);
    let alone = (finds(&env), movies(&env));
    assert_eq!(alone.1, 60, "{alone:?}");

    let mut shared_args = args(&shared_report);
    shared_args.extend(["--workers".to_owned(), "2".to_owned()]);
    let shared_args: Vec<&str> = shared_args.iter().map(String::as_str).collect();
    let out = output(env.run_cmd(&plan, &url, &shared_args)).await;
    assert_exit(&out, 0);
    assert_eq!(
        (finds(&env) - alone.0, movies(&env) - alone.1),
        alone,
        "each look-up and each movie asked once: {}",
        stderr(&out)
    );
    let by = processes_that_did(&url, "picked", "imdb:").await;
    assert!(by >= 2, "the look-ups were made by {by} process(es)");
    let (a, b) = (
        report_stage(std::path::Path::new(&alone_report), "picked"),
        report_stage(std::path::Path::new(&shared_report), "picked"),
    );
    for field in ["total", "ok", "skipped", "failed", "requests"] {
        assert_eq!(a[field], b[field], "{field}: {a} vs {b}");
    }
    assert_eq!(digest(&url).await, digest(&reference).await);
}
