//! Stopping and resuming `popctl run`: a spent OMDb quota, SIGKILL at random points (the
//! final database must equal that of an uninterrupted run, on SQLite and PostgreSQL), Ctrl-C,
//! a plan changed under `--resume`, and keys that never reach any output.

#![expect(
    clippy::disallowed_methods,
    reason = "tests read the database back, and break it on purpose, by SQL as a user's psql would"
)]
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use popctl::sim::{Faults, Latency, SandboxConfig};

use crate::run_support::*;

/// OMDb's quota runs out half way: exit 3 with the rest pending; after the quota resets,
/// `--resume` finishes them without a single TMDB request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_quota_ends_partially_and_resume_finishes_without_tmdb() {
    let env = Env::new(SandboxConfig {
        omdb_daily_quota: Some(15),
        ..small_sim()
    })
    .await;
    let url = env.sqlite("quota.db");
    let a = quick(2);
    let out = output(env.quick(&url, &a, &[])).await;
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("OMDb answered \"Request limit reached!\""),
        "{err}"
    );
    assert!(err.contains("--resume"), "{err}");
    let db = connect_next(&url).await;
    assert_eq!(last_run_status(&db).await, "partial");
    let (ok, failed, skipped, pending) = stage_items(&db, "omdb").await;
    assert_eq!(failed, 0);
    assert!(pending > 0, "items stay pending");
    assert_eq!(ok + skipped + pending, 40, "every movie is in the ledger");
    let (fetched, _, _, _) = stage_items(&db, "popular").await;
    assert_eq!(fetched, 42);

    // The next day, with a paid key.
    env.sim.set_omdb_quota(Some(1000));
    env.sim.reset_quota();
    let tmdb_before = env.sim.stats().tmdb.requests;
    let out = output(env.quick(&url, &a, &["--resume"])).await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("Resuming plan `quick-20` (run 1)"), "{err}");
    assert!(err.contains("popular  fetch         done earlier"), "{err}");
    assert_eq!(
        env.sim.stats().tmdb.requests,
        tmdb_before,
        "no TMDB request on resume"
    );
    // Swapped in: the live database holds the run now.
    let db = connect(&url).await;
    let (ok2, failed, skipped2, pending) = stage_items(&db, "omdb").await;
    assert_eq!((failed, pending), (0, 0));
    assert_eq!(ok2 + skipped2, 40);
    assert_eq!(last_run_status(&db).await, "ok");
    assert_eq!(count(&db, "movie_enrichment").await, 40);
}

/// A source's `daily_quota` stops the run at it, before OMDb itself would (exit 3, the rest
/// pending), and is counted in the run's database: resumed the same day, the run asks nothing
/// more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plans_daily_quota_stops_the_run_and_holds_through_resume() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("plan-quota.db");
    let mut sets = quick(2);
    sets.push("sources.omdb.daily_quota=10".into());
    let asked = |env: &Env| env.sim.stats().omdb.requests;
    let out = output(env.quick(&url, &sets, &[])).await;
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("today's daily_quota of 10 requests is spent"),
        "{err}"
    );
    assert_eq!(asked(&env), 10, "the quota, not one request more");
    let db = connect_next(&url).await;
    let (ok, failed, skipped, pending) = stage_items(&db, "omdb").await;
    assert_eq!(failed, 0);
    assert!(pending > 0, "items stay pending");
    assert_eq!(ok + skipped + pending, 40, "every movie is in the ledger");
    drop(db);

    let out = output(env.quick(&url, &sets, &["--resume"])).await;
    assert_exit(&out, 3);
    assert_eq!(
        asked(&env),
        10,
        "the day's quota is spent: {}",
        stderr(&out)
    );
}

/// The plan of the failed-items tests: 30 movies by id (no list pages, so each failed item is
/// one request and nothing else hides behind it), failed items let through, no retries (the
/// seed stage's one request aside).
fn retry_plan(env: &Env, ids: &[u32]) -> String {
    let base = root().join("plans/base.toml").display().to_string();
    let text = format!(
        r#"[plan]
name = "retry-failed"
extends = {base}

[stages.reset]
kind = "reset"

[stages.seed]
kind = "seed"
needs = ["reset"]
retry = {{ attempts = 20 }}

[stages.popular]
kind = "fetch"
needs = ["seed"]
ids = {ids:?}
append = ["credits", "keywords", "external_ids", "release_dates"]
on_error = "continue"
retry = {{ attempts = 1 }}

[stages.omdb]
kind = "enrich"
needs = ["popular"]
on_error = "continue"
retry = {{ attempts = 1 }}

[stages.post]
kind = "post_process"
needs = ["omdb"]
steps = ["cri_scores"]
"#,
        base = toml::Value::String(base),
    );
    let path = env.path("retry-failed.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Fast rates and retries, no response cache (the simulator's counts are what is read).
const RETRY_SETS: [&str; 10] = [
    "--set",
    "cache.mode=off",
    "--set",
    "sources.tmdb.rate=400/s",
    "--set",
    "sources.omdb.rate=400/s",
    "--set",
    "defaults.retry.initial=10ms",
    "--set",
    "defaults.retry.max=200ms",
];

/// Every item of `stage` in the newest run: key → (status, attempts).
async fn items_of(
    db: &sea_orm::DatabaseConnection,
    stage: &str,
) -> std::collections::BTreeMap<String, (String, i64)> {
    use sea_orm::{ConnectionTrait, Statement};
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT item_key, status, attempts FROM import_items WHERE stage = '{stage}' \
                 AND item_key <> '(stage)' AND run_id = (SELECT MAX(id) FROM import_runs)"
            ),
        ))
        .await
        .unwrap();
    rows.into_iter()
        .map(|r| {
            let key: String = r.try_get_by_index(0).unwrap();
            let status: String = r.try_get_by_index(1).unwrap();
            let attempts: i32 = r.try_get_by_index(2).unwrap();
            (key, (status, i64::from(attempts)))
        })
        .collect()
}

/// `on_error = "continue"` with items failing: the run ends partial (exit 3) with the failed
/// items and the next command in its report. `--resume`, once the servers answer again,
/// asks for exactly the failed items, the stages downstream take up the movies it now gets,
/// and the database equals that of a run that never failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_items_are_tried_again_on_resume_and_reach_the_stages_downstream() {
    let env = Env::new(small_sim()).await;
    let ids: Vec<u32> = env.sim.catalog().entries()[..30]
        .iter()
        .map(|e| e.id)
        .collect();
    let plan = retry_plan(&env, &ids);
    let reference = env.sqlite("reference.db");
    assert_exit(
        &output(env.run_cmd(&plan, &reference, &RETRY_SETS)).await,
        0,
    );

    let url = env.sqlite("failing.db");
    env.sim
        .set_faults(Faults {
            p503: 0.3,
            ..Faults::none()
        })
        .unwrap();
    let out = output(env.run_cmd(&plan, &url, &RETRY_SETS)).await;
    assert_exit(&out, 3);
    // Not swapped in yet: the run is in the new database beside the live one.
    let db = connect_next(&url).await;
    assert_eq!(last_run_status(&db).await, "partial");
    let fetch_before = items_of(&db, "popular").await;
    let omdb_before = items_of(&db, "omdb").await;
    let failed = |items: &std::collections::BTreeMap<String, (String, i64)>| {
        items.values().filter(|(s, _)| s == "failed").count()
    };
    let (failed_fetch, failed_omdb) = (failed(&fetch_before), failed(&omdb_before));
    assert!(failed_fetch > 0, "some movies failed: {fetch_before:?}");
    assert_eq!(fetch_before.len(), 30);
    let saved = 30 - failed_fetch as i64;
    assert_eq!(count(&db, "movies").await, saved);
    assert_eq!(
        count(&db, "cri_scores").await,
        saved,
        "post ran on what was there"
    );
    let err = stderr(&out);
    let items = |n: usize| {
        if n == 1 {
            "1 item".to_owned()
        } else {
            format!("{n} items")
        }
    };
    assert!(
        err.contains(&format!(
            "popular: {} failed (`popctl status` lists them with their errors)",
            items(failed_fetch)
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "next: the same command with --resume continues run 1 and tries its {} failed {} again",
            failed_fetch + failed_omdb,
            if failed_fetch + failed_omdb == 1 {
                "item"
            } else {
                "items"
            }
        )),
        "{err}"
    );

    env.sim.set_faults(Faults::none()).unwrap();
    let before = env.sim.stats();
    let mut resume = RETRY_SETS.to_vec();
    resume.push("--resume");
    let out = output(env.run_cmd(&plan, &url, &resume)).await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("Resuming plan `retry-failed` (run 1)"),
        "{err}"
    );
    for stage in ["reset", "seed"] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("{stage} ")) && l.contains("done earlier")),
            "{stage} is not run again:\n{err}"
        );
    }
    let after = env.sim.stats();
    assert_eq!(
        after.tmdb.requests - before.tmdb.requests,
        failed_fetch as u64,
        "TMDB is asked for the failed movies and nothing else"
    );
    // OMDb: the movies it failed on, and the movies fetched now (those with an IMDb id).
    // Swapped in now: the live database holds the run.
    let db = connect(&url).await;
    let omdb_after = items_of(&db, "omdb").await;
    let asked_now = omdb_after
        .iter()
        .filter(|(key, (_, attempts))| {
            *attempts > 0
                && !omdb_before
                    .get(*key)
                    .is_some_and(|(s, _)| s == "ok" || s == "skipped")
        })
        .count();
    assert!(asked_now >= failed_omdb);
    assert_eq!(after.omdb.requests - before.omdb.requests, asked_now as u64);
    assert!(
        omdb_after.len() > omdb_before.len(),
        "the movies fetched now are enriched"
    );
    assert_eq!(last_run_status(&db).await, "ok");
    assert_eq!(stage_items(&db, "popular").await, (30, 0, 0, 0));
    let (_, failed, _, pending) = stage_items(&db, "omdb").await;
    assert_eq!((failed, pending), (0, 0));
    assert_eq!(count(&db, "movie_enrichment").await, 30);
    assert_eq!(
        count(&db, "cri_scores").await,
        30,
        "post ran again on every movie"
    );
    db.close().await.ok();
    assert_eq!(
        digest(&url).await,
        digest(&reference).await,
        "the resumed database differs from one that never failed"
    );
}

/// Which stages `--resume` leaves alone: those that ran to their end with no failed or pending
/// item, and whose upstream stages did too; a disabled stage has nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_is_done_earlier_only_with_nothing_left_in_it_or_upstream() {
    use popctl::plan::dag::Dag;
    use popctl::plan::{self, LoadOptions};
    use popctl::stages::ledger::RunLedger;
    use popctl::store::ledger::ItemStatus;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("l.db").display());
    let db = connect(&url).await;
    popctl::store::migrate(&db).await.unwrap();
    let load = |sets: &[&str]| {
        plan::load(&LoadOptions {
            path: root().join("plans/quick-20.toml"),
            sets: sets.iter().map(|s| s.to_string()).collect(),
            env: Default::default(),
        })
        .unwrap()
        .plan
    };
    let stages = ["reset", "seed", "popular", "omdb", "post"];
    // One run per case: `items` are (stage, key, status) besides every stage's end marker.
    let done = async |plan: &plan::Plan, ended: &[&str], items: &[(&str, ItemStatus)]| {
        let ledger = RunLedger::start(&db, &plan.name, &plan.hash).await.unwrap();
        for stage in ended {
            ledger.mark_stage_done(stage).await.unwrap();
        }
        for (stage, status) in items {
            ledger
                .mark(&db, stage, "movie:1", *status, 1, None)
                .await
                .unwrap();
        }
        let dag = Dag::new(plan).unwrap();
        let mut done: Vec<String> = ledger
            .done_earlier(plan, &dag)
            .await
            .unwrap()
            .into_iter()
            .collect();
        done.sort_by_key(|s| stages.iter().position(|n| n == s));
        done
    };
    let plan = load(&[]);
    assert_eq!(done(&plan, &stages, &[]).await, stages);
    assert_eq!(
        done(
            &plan,
            &stages,
            &[("popular", ItemStatus::Ok), ("omdb", ItemStatus::Skipped)]
        )
        .await,
        stages,
        "ok and skipped items are finished"
    );
    // Failed or pending items keep the stage and everything downstream of it to do.
    assert_eq!(
        done(&plan, &stages, &[("popular", ItemStatus::Failed)]).await,
        ["reset", "seed"]
    );
    assert_eq!(
        done(&plan, &stages, &[("omdb", ItemStatus::Pending)]).await,
        ["reset", "seed", "popular"]
    );
    // A stage that did not run to its end.
    assert_eq!(
        done(&plan, &["reset", "seed", "omdb", "post"], &[]).await,
        ["reset", "seed"]
    );
    // A disabled stage has nothing to do: what is downstream of it counts on what is above.
    let plan = load(&["stages.omdb.enabled=false"]);
    assert_eq!(
        done(&plan, &["reset", "seed", "popular", "post"], &[]).await,
        ["reset", "seed", "popular", "post"]
    );
    assert_eq!(
        done(
            &plan,
            &["reset", "seed", "popular", "post"],
            &[("popular", ItemStatus::Failed)]
        )
        .await,
        ["reset", "seed"]
    );
    db.close().await.ok();
}

/// A plan that changed since the run started is not resumed unless `--force`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_changed_plan_unless_forced() {
    let env = Env::new(SandboxConfig {
        omdb_daily_quota: Some(5),
        ..small_sim()
    })
    .await;
    let url = env.sqlite("changed.db");
    let a = quick(1);
    let out = output(env.quick(&url, &a, &[])).await;
    assert_exit(&out, 3);
    env.sim.reset_quota();
    env.sim.set_omdb_quota(None);
    let mut changed = quick(1);
    changed.push("stages.omdb.concurrency=3".into());
    let c = changed;
    let out = output(env.quick(&url, &c, &["--resume"])).await;
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("plan `quick-20` changed since run 1 started"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    let out = output(env.quick(&url, &c, &["--resume", "--force"])).await;
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("continuing it anyway (--force)"));
}

/// The runs behind the SIGKILL test: a small plan with some latency, so kills land mid-run.
fn kill_sets() -> Vec<String> {
    let mut sets = quick(3);
    sets.push("stages.popular.append=[\"credits\",\"keywords\",\"videos\",\"release_dates\",\"external_ids\",\"reviews\",\"similar\"]".into());
    sets
}

/// Killed with SIGKILL at random points, then `--resume` until done: the database equals that
/// of an uninterrupted run, table by table.
async fn killed_runs_resume_to_the_same_database(reference: String, killed: String) {
    let env = Env::new(SandboxConfig {
        latency: Latency {
            min_ms: 2,
            max_ms: 15,
        },
        ..small_sim()
    })
    .await;
    let a = kill_sets();
    let start = std::time::Instant::now();
    let out = output(env.quick(&reference, &a, &[])).await;
    let took = start.elapsed().as_millis() as u64;
    assert_exit(&out, 0);
    let expected = digest(&reference).await;

    // The live database holds an earlier import (one page) while the killed runs build theirs.
    let mut one_page = a.clone();
    one_page.push("stages.popular.pages=1".into());
    assert_exit(&output(env.quick(&killed, &one_page, &[])).await, 0);
    let before = digest(&killed).await;
    assert_ne!(before, expected);

    let mut rng = Rng::from_clock("kill points");
    for attempt in 0..4 {
        let mut cmd = env.quick(&killed, &a, &[]);
        if attempt > 0 {
            cmd.arg("--resume");
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        // Anywhere from the start (before the reset is done) to the end of a whole run.
        let wait = Duration::from_millis(took / 20 + rng.below(took));
        tokio::time::sleep(wait).await;
        let _ = child.kill();
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        eprintln!("attempt {attempt}: killed after {wait:?} ({status})");
        // Until a run swaps its new database in, the live one is exactly as it was.
        let live = digest(&killed).await;
        assert!(
            live == before || live == expected,
            "attempt {attempt}: the live database changed before a swap"
        );
    }
    let mut done = false;
    for _ in 0..3 {
        let out = output(env.quick(&killed, &a, &["--resume"])).await;
        if out.status.code() == Some(0) {
            done = true;
            break;
        }
        eprintln!("resume ended {:?}:\n{}", out.status, stderr(&out));
    }
    assert!(done, "the resumed run never finished");
    assert_eq!(
        digest(&killed).await,
        expected,
        "resumed database differs from the uninterrupted one"
    );
    let db = connect(&killed).await;
    assert_eq!(count(&db, "movies").await, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_then_resume_equals_an_uninterrupted_run_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = |n: &str| format!("sqlite://{}?mode=rwc", dir.path().join(n).display());
    killed_runs_resume_to_the_same_database(url("reference.db"), url("killed.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_then_resume_equals_an_uninterrupted_run_on_postgres() {
    let Some(reference) = crate::store_db::fresh_pg_url().await else {
        return;
    };
    let killed = crate::store_db::fresh_pg_url().await.unwrap();
    killed_runs_resume_to_the_same_database(reference, killed).await;
}

/// How long a test waits for a line of a child's or for its exit before it kills the child
/// and fails with everything the child wrote: far more than any step here takes, and less
/// than SQLite's connection acquire timeout (300 s), so a stalled run fails the test instead
/// of hanging it or ending late with another exit code.
const STALL_LIMIT: Duration = Duration::from_secs(120);

/// A `popctl` child whose stderr is read line by line on a thread, every line kept.
struct Watched {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watched {
    fn spawn(mut cmd: Command) -> Watched {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watched {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn text(&self) -> String {
        self.seen.join("\n")
    }

    /// Waits (off the runtime) for a line containing `needle`.
    async fn wait_for(self, needle: &'static str) -> Watched {
        tokio::task::spawn_blocking(move || {
            let mut w = self;
            let deadline = std::time::Instant::now() + STALL_LIMIT;
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match w.lines.recv_timeout(left) {
                    Ok(line) => {
                        let hit = line.contains(needle);
                        w.seen.push(line);
                        if hit {
                            return w;
                        }
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        w.fail(&format!("no line with {needle:?} within {STALL_LIMIT:?}"))
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        let status = w.child.wait().unwrap();
                        panic!(
                            "popctl ended ({status}) without a line with {needle:?}:\n{}",
                            w.text()
                        );
                    }
                }
            }
        })
        .await
        .unwrap()
    }

    /// Waits (off the runtime) for the child to exit; its stderr is then read to the end.
    async fn exit(self) -> (std::process::ExitStatus, String) {
        tokio::task::spawn_blocking(move || {
            let mut w = self;
            let deadline = std::time::Instant::now() + STALL_LIMIT;
            let status = loop {
                if let Some(status) = w.child.try_wait().unwrap() {
                    break status;
                }
                if std::time::Instant::now() > deadline {
                    w.fail(&format!("popctl did not exit within {STALL_LIMIT:?}"));
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            w.seen.extend(w.lines.iter());
            (status, w.text())
        })
        .await
        .unwrap()
    }

    /// Kills the child and fails with what it wrote.
    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.seen.extend(self.lines.iter());
        panic!("{why}; killed it. Its output:\n{}", self.text());
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// The ledger's movies recorded as saved by the `popular` stage (for [`count`]).
const OK_MOVIES: &str =
    "import_items WHERE stage = 'popular' AND status = 'ok' AND item_key LIKE 'movie:%'";

/// Movies committed before the interrupting signal.
const MID_SAVES: i64 = 20;

/// Interrupted by `signal` (INT or TERM) while movies are being saved and enriched: items in
/// flight finish and commit, the run is recorded as interrupted (exit 3), and `--resume`
/// finishes it.
async fn interrupted_mid_saves_then_resumed(signal: &str) {
    let env = Env::new(SandboxConfig {
        latency: Latency {
            min_ms: 20,
            max_ms: 60,
        },
        ..small_sim()
    })
    .await;
    let url = env.sqlite("interrupted.db");
    let mut a = quick(5);
    // OMDb keeps up with TMDB, so the enrich stage takes each movie as it commits and records
    // it as pending while the fetch stage's saves queue for SQLite's one connection: the
    // moments when a stage that stops taking items could leave a task waiting for that
    // connection unpolled (the run stalled in 9 of 30 runs of this test when it could).
    a.push("stages.omdb.concurrency=8".into());
    let child = Watched::spawn(env.quick(&url, &a, &[]));
    let mut child = child.wait_for("Started omdb").await;
    // Interrupt in the thick of the saves, whatever the machine's load (at "Started omdb" the
    // list pages can still be in flight): once 20 of the 100 movies are committed to the new
    // database the run builds.
    let watcher = connect_next(&url).await;
    let deadline = std::time::Instant::now() + STALL_LIMIT;
    while count(&watcher, OK_MOVIES).await < MID_SAVES {
        if std::time::Instant::now() > deadline {
            child.fail(&format!("fewer than {MID_SAVES} movies saved"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    watcher.close().await.unwrap();
    child.signal(signal);
    let (status, text) = child.exit().await;
    assert_eq!(status.code(), Some(3), "{text}");
    assert!(
        text.contains("interrupted: finishing the items in flight"),
        "{text}"
    );
    assert!(
        text.contains("run 1 of plan `quick-20`: interrupted"),
        "{text}"
    );

    assert!(
        text.contains("the same command with --resume continues run 1"),
        "{text}"
    );
    // The final table counts the items left for `--resume` as `status` does.
    let kinds = ["reset", "seed", "fetch", "enrich", "post_process"];
    let table_pending: u64 = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() > 6 && kinds.contains(&w[1]))
        .map(|w| w[6].parse::<u64>().unwrap())
        .sum();
    let mut status = popctl();
    status.args(["status", "--url", &url]);
    let shown = stdout(&output(status).await);
    let status_pending: u64 = shown
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.first() == Some(&"1") && w.get(1) == Some(&"quick-20"))
        .and_then(|w| w.last()?.parse().ok())
        .unwrap_or_else(|| panic!("{shown}"));
    assert_eq!(table_pending, status_pending, "{text}\n{shown}");
    assert!(status_pending > 0, "{shown}");

    let db = connect_next(&url).await;
    assert_eq!(last_run_status(&db).await, "interrupted");
    // The ledger claims nothing the database lacks.
    let saved = count(&db, "movies").await;
    let ok_movies = count(&db, OK_MOVIES).await;
    assert!(
        ok_movies <= saved && ok_movies > 0,
        "{ok_movies} ok movie rows, {saved} movies"
    );
    assert!(saved < 100, "interrupted before the end");

    let out = output(env.quick(&url, &a, &["--resume"])).await;
    assert_exit(&out, 0);
    assert_eq!(count(&connect(&url).await, "movies").await, 100);
}

/// A real SIGINT (Ctrl-C) mid-saves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_finishes_what_is_in_flight_and_resume_completes_the_run() {
    interrupted_mid_saves_then_resumed("INT").await;
}

/// SIGTERM (a service manager, `docker stop`) mid-saves: the same as Ctrl-C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_what_is_in_flight_and_resume_completes_the_run() {
    interrupted_mid_saves_then_resumed("TERM").await;
}

/// A second Ctrl-C stops at once, even with requests hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_stops_at_once() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("twice.db");
    let a = quick(2);
    let cmd = env.quick(&url, &a, &[]);
    // From the first movie on, every request hangs longer than the test will wait.
    env.sim
        .set_faults(Faults {
            stall: 1.0,
            stall_ms: 600_000,
            ..Faults::none()
        })
        .unwrap();
    let child = Watched::spawn(cmd).wait_for("Started seed").await;
    child.signal("INT");
    let child = child.wait_for("interrupted: finishing").await;
    child.signal("INT");
    let (status, text) = child.exit().await;
    assert!(text.contains("stopped at once"), "{text}");
    assert_eq!(status.code(), Some(130), "{text}");
    let db = connect_next(&url).await;
    assert_eq!(last_run_status(&db).await, "running", "left for --resume");
}

/// Distinctive keys, trace-level text logs, JSON logs, the report, progress lines, errors
/// and the database file: not one byte of any of them holds a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_never_reach_any_output() {
    const TMDB_KEY: &str = "tmdbK3Y-d1st1nct-5f1e2d3c4b5a6978";
    const OMDB_KEY: &str = "omdbK3Y-d1st1nct-a1b2c3";
    const WRONG_KEY: &str = "wr0ngK3Y-d1st1nct-77aa55";
    let env = Env::new(SandboxConfig {
        tmdb_key: TMDB_KEY.into(),
        omdb_key: OMDB_KEY.into(),
        // Retries log their URLs.
        faults: Faults {
            p503: 0.1,
            ..Faults::none()
        },
        ..small_sim()
    })
    .await;
    let url = env.sqlite("keys.db");
    let mut sets = quick(1);
    sets.push("defaults.retry.attempts=10".into());
    sets.push("stages.omdb.retry.attempts=10".into());
    let a = sets;
    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    let keep = |outputs: &mut Vec<(String, Vec<u8>)>, what: &str, out: &std::process::Output| {
        outputs.push((format!("{what} stdout"), out.stdout.clone()));
        outputs.push((format!("{what} stderr"), out.stderr.clone()));
    };

    let report = env.path("report.json");
    let mut cmd = env.quick(&url, &a, &[]);
    cmd.arg("--report").arg(&report).env("RUST_LOG", "trace");
    let out = output(cmd).await;
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("TRACE"), "trace logs were on");
    keep(&mut outputs, "trace text", &out);

    let mut cmd = env.quick(&url, &a, &[]);
    cmd.args(["--log-format", "json"])
        .env("POPCTL_LOG", "trace");
    let out = output(cmd).await;
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("\"level\":\"TRACE\""),
        "JSON trace logs were on"
    );
    assert!(
        stdout(&out).contains("\"reason\":\"stage-finished\""),
        "stage messages"
    );
    keep(&mut outputs, "trace json", &out);

    // Keys the servers reject: the errors name the variable, never the value.
    let mut cmd = env.quick(&url, &a, &[]);
    cmd.env("TMDB_API_KEY", WRONG_KEY).env("RUST_LOG", "trace");
    let out = output(cmd).await;
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("TMDB_API_KEY"));
    keep(&mut outputs, "wrong tmdb key", &out);
    let mut cmd = env.quick(&url, &a, &[]);
    cmd.env("OMDB_API_KEY", WRONG_KEY);
    let out = output(cmd).await;
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("OMDB_API_KEY"), "{}", stderr(&out));
    keep(&mut outputs, "wrong omdb key", &out);

    let mut status = popctl();
    status.args(["status", "--url", &url]);
    let out = output(status).await;
    keep(&mut outputs, "status", &out);

    for file in files_under(env.dir.path()) {
        outputs.push((file.display().to_string(), std::fs::read(&file).unwrap()));
    }
    assert!(outputs.iter().any(|(what, _)| what.ends_with("keys.db")));
    for (what, bytes) in &outputs {
        let text = String::from_utf8_lossy(bytes);
        for key in [TMDB_KEY, OMDB_KEY, WRONG_KEY] {
            assert!(!text.contains(key), "{what} contains a key");
        }
    }
}
