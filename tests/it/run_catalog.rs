//! The whole catalog, end to end against the simulator's days: `plans/mirror.toml` (the daily
//! ID export) on one day, `plans/refresh.toml` (`/movie/changes`) some days later, compared by
//! database digest with a fresh mirror of the later day; a refresh killed mid-run and run
//! again; the watermark; and the guard against a feed cut short.

#![expect(
    clippy::disallowed_methods,
    reason = "the test reads the database back by SQL, as a user's sqlite3 would"
)]
#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use chrono::{Days, NaiveDate};
use popctl::sim::SandboxConfig;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::run_support::*;

/// Days between the mirror and the refresh: enough for the simulator to change a quarter of
/// its catalog and remove some movies.
const LATER: u64 = 10;

fn sim_config() -> SandboxConfig {
    SandboxConfig {
        seed: 11,
        movies: 500,
        ..SandboxConfig::default()
    }
}

/// `--set` pairs for the shipped mirror and refresh plans against `env`'s simulator: its
/// files host, fast rates, no cache, short retries.
fn sets(env: &Env) -> Vec<String> {
    vec![
        format!("sources.tmdb.files_url={}", env.sim.files_base_url()),
        "cache.mode=off".into(),
        "sources.tmdb.rate=1000/s".into(),
        "sources.omdb.rate=1000/s".into(),
        "defaults.retry.initial=10ms".into(),
        "defaults.retry.max=200ms".into(),
    ]
}

fn run(env: &Env, plan: &str, db: &str, extra: &[String]) -> std::process::Command {
    let args: Vec<String> = set_args(&sets(env))
        .into_iter()
        .chain(extra.iter().cloned())
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.run_cmd(plan, db, &args)
}

async fn run_ok(env: &Env, plan: &str, db: &str) -> String {
    let out = output(run(env, plan, db, &[])).await;
    assert_exit(&out, 0);
    stdout(&out) + &stderr(&out)
}

fn noon(day: NaiveDate) -> chrono::NaiveDateTime {
    day.and_hms_opt(12, 0, 0).unwrap()
}

async fn watermark(db: &DatabaseConnection) -> Option<String> {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT CAST(synced_to AS TEXT) FROM catalog_sync WHERE source = 'tmdb'".to_owned(),
    ))
    .await
    .unwrap()
    .map(|r| r.try_get_by_index::<String>(0).unwrap())
}

async fn tmdb_ids(db: &DatabaseConnection) -> Vec<i64> {
    stored_tmdb_ids(db).await.into_iter().collect()
}

/// What the simulator's export of `day` lists, as the mirror takes it (no adult or video).
fn exported(env: &Env, day: NaiveDate) -> Vec<i64> {
    let mut ids: Vec<i64> = env
        .sim
        .catalog()
        .export(day)
        .filter(|e| !e.adult && !e.video)
        .map(|e| i64::from(e.id))
        .collect();
    ids.sort_unstable();
    ids
}

async fn mirror_then_refresh(a: String, b: String) {
    let env = Env::new(sim_config()).await;
    let today = env.sim.catalog().today();
    let later = today + Days::new(LATER);
    // The simulator must change and remove movies in between, or the test shows nothing.
    let gone: Vec<i64> = exported(&env, today)
        .into_iter()
        .filter(|id| !exported(&env, later).contains(id))
        .collect();
    assert!(
        !gone.is_empty(),
        "no movie of the catalog is removed by {later}"
    );

    let said = run_ok(&env, "plans/mirror.toml", &a).await;
    assert!(said.contains(&format!("synced to {today}")), "{said}");
    let db = connect(&a).await;
    assert_eq!(tmdb_ids(&db).await, exported(&env, today));
    assert_eq!(
        watermark(&db).await.as_deref(),
        Some(today.to_string().as_str())
    );
    let mirrored = digest(&a).await;

    env.sim.set_clock(noon(later)).unwrap();
    let said = run_ok(&env, "plans/refresh.toml", &a).await;
    assert!(said.contains(&format!("synced to {later}")), "{said}");
    assert!(said.contains("TMDB no longer has"), "{said}");
    assert_ne!(digest(&a).await, mirrored, "the refresh changed nothing");
    assert_eq!(
        watermark(&db).await.as_deref(),
        Some(later.to_string().as_str())
    );
    assert_eq!(tmdb_ids(&db).await, exported(&env, later));
    let (ok, failed, _, pending) = stage_items(&db, "changes").await;
    assert_eq!((failed, pending), (0, 0));
    assert!(ok > gone.len() as i64, "only {ok} items refreshed");
    // Each removal is in the ledger.
    let removed = count(
        &db,
        "import_items WHERE stage = 'changes' AND item_key LIKE 'removed:%' \
         AND run_id = (SELECT MAX(id) FROM import_runs)",
    )
    .await;
    assert_eq!(removed, gone.len() as i64);

    // A fresh mirror of the later day holds the same data.
    run_ok(&env, "plans/mirror.toml", &b).await;
    let (mut refreshed, mut fresh) = (digest_json(&a).await, digest_json(&b).await);
    // Shared rows (a person, a studio, a collection) hold one movie's copy of the row, and
    // TMDB's copies disagree from movie to movie; a later run's copy wins (see `store::save`),
    // so which copy a row holds depends on the runs that saved it. Those tables must hold the
    // same rows; every other table, the same content.
    let fresh_db = connect(&b).await;
    for (table, key) in SHARED_COPIES {
        let (r, f) = (&mut refreshed["tables"][table], &mut fresh["tables"][table]);
        assert_eq!(r["rows"], f["rows"], "{table}");
        r["hash"] = serde_json::Value::Null;
        f["hash"] = serde_json::Value::Null;
        assert_eq!(
            keys_of(&db, table, key).await,
            keys_of(&fresh_db, table, key).await,
            "{table}: other rows than a fresh mirror's"
        );
    }
    assert_eq!(
        refreshed["tables"], fresh["tables"],
        "mirror + refresh differs from a fresh mirror of {later}"
    );
}

/// The shared tables whose rows hold one movie's copy, with their natural key.
const SHARED_COPIES: [(&str, &str); 3] = [
    ("people", "tmdb_id"),
    ("production_companies", "tmdb_id"),
    ("collections", "tmdb_id"),
];

async fn keys_of(db: &DatabaseConnection, table: &str, key: &str) -> Vec<i64> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT {key} FROM {table} ORDER BY {key}"),
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get_by_index::<i64>(0).unwrap())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_then_refresh_equals_a_fresh_mirror_of_the_later_day_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = |n: &str| format!("sqlite://{}?mode=rwc", dir.path().join(n).display());
    mirror_then_refresh(url("a.db"), url("b.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_then_refresh_equals_a_fresh_mirror_of_the_later_day_on_postgres() {
    let Some(a) = crate::store_db::fresh_pg_url().await else {
        return;
    };
    let b = crate::store_db::fresh_pg_url().await.unwrap();
    mirror_then_refresh(a, b).await;
}

/// A refresh killed mid-run leaves the watermark where it was; run again (not resumed), it
/// reads the same changes and ends where an uninterrupted refresh does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_refresh_starts_again_from_its_watermark() {
    let env = Env::new(sim_config()).await;
    let today = env.sim.catalog().today();
    let later = today + Days::new(LATER);
    let (killed, reference) = (env.sqlite("killed.db"), env.sqlite("reference.db"));
    run_ok(&env, "plans/mirror.toml", &killed).await;
    run_ok(&env, "plans/mirror.toml", &reference).await;
    env.sim.set_clock(noon(later)).unwrap();
    run_ok(&env, "plans/refresh.toml", &reference).await;

    // Slow enough that the kill lands among the refetches.
    let slow = vec!["--set".to_owned(), "sources.tmdb.rate=40/s".to_owned()];
    let mut cmd = run(&env, "plans/refresh.toml", &killed, &slow);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let db = connect(&killed).await;
    let started = std::time::Instant::now();
    loop {
        let refetched = count(
            &db,
            "import_items WHERE stage = 'changes' AND item_key LIKE 'movie:%' AND status = 'ok' \
             AND run_id = (SELECT MAX(id) FROM import_runs)",
        )
        .await;
        if refetched >= 10 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the refresh refetched nothing in 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(!status.success(), "the refresh ended before the kill");
    assert_eq!(
        watermark(&db).await.as_deref(),
        Some(today.to_string().as_str()),
        "a killed refresh moved the watermark"
    );

    let said = run_ok(&env, "plans/refresh.toml", &killed).await;
    assert!(said.contains(&format!("from {today} to {later}")), "{said}");
    assert_eq!(digest(&killed).await, digest(&reference).await);
    assert_eq!(
        watermark(&db).await.as_deref(),
        Some(later.to_string().as_str())
    );
}

/// A mirror whose export lists far fewer movies than the database holds (a file cut short
/// upstream looks like that) removes none and fails, saying why; `mark` marks instead of
/// deleting; a movie TMDB has again loses its mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removals_are_guarded_and_marked_when_asked() {
    let env = Env::new(sim_config()).await;
    let db_url = env.sqlite("guard.db");
    run_ok(&env, "plans/mirror.toml", &db_url).await;
    let db = connect(&db_url).await;
    let held = count(&db, "movies").await;

    // `limit` cuts what is fetched, not what the export lists: the movies beyond the 50 most
    // popular are not taken for removed.
    let limited = vec!["--set".to_owned(), "stages.catalog.limit=50".to_owned()];
    let out = output(run(&env, "plans/mirror.toml", &db_url, &limited)).await;
    assert_exit(&out, 0);
    assert_eq!(count(&db, "movies").await, held);

    // Ten days on, with `mark` and a tiny `max_removed`: the stage fails, nothing is marked.
    let later = env.sim.catalog().today() + Days::new(LATER);
    env.sim.set_clock(noon(later)).unwrap();
    let strict = vec![
        "--set".to_owned(),
        "stages.catalog.on_removed=mark".to_owned(),
        "--set".to_owned(),
        "stages.catalog.max_removed=0.001".to_owned(),
    ];
    let out = output(run(&env, "plans/mirror.toml", &db_url, &strict)).await;
    assert_exit(&out, 1);
    let said = stdout(&out) + &stderr(&out);
    assert!(said.contains("more than `max_removed`"), "{said}");
    assert_eq!(count(&db, "movies WHERE removed_on IS NOT NULL").await, 0);

    // Allowed: they are marked, and stay.
    let mark = vec![
        "--set".to_owned(),
        "stages.catalog.on_removed=mark".to_owned(),
    ];
    let out = output(run(&env, "plans/mirror.toml", &db_url, &mark)).await;
    assert_exit(&out, 0);
    let marked = count(&db, &format!("movies WHERE removed_on = '{later}'")).await;
    assert!(marked > 0, "nothing marked");
    assert_eq!(count(&db, "movies").await, held);

    // The next sync does not count them again: with the strict `max_removed`, it ends well.
    let out = output(run(&env, "plans/mirror.toml", &db_url, &strict)).await;
    assert_exit(&out, 0);
    assert_eq!(
        count(&db, &format!("movies WHERE removed_on = '{later}'")).await,
        marked
    );
}

/// The shipped plans run as a user tries them first: `--sandbox`, a small `limit`; the refresh
/// then reads the sandbox's changes since the mirror's day, for the movies the mirror took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_mirror_and_refresh_run_in_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    let fast = [
        "--set",
        "sources.tmdb.rate=1000/s",
        "--set",
        "sources.omdb.rate=1000/s",
        "--set",
        "cache.mode=off",
    ];
    for (plan, extra) in [
        ("plans/mirror.toml", Some("stages.catalog.limit=60")),
        (
            "plans/refresh.toml",
            Some("stages.changes.changes.refetch=held"),
        ),
    ] {
        let mut cmd = popctl();
        cmd.args(["run", plan, "--sandbox"])
            .args(fast)
            .env("DATABASE_URL", &url);
        if let Some(set) = extra {
            cmd.args(["--set", set]);
        }
        let out = output(cmd).await;
        assert_exit(&out, 0);
        let said = stdout(&out) + &stderr(&out);
        assert!(said.contains("the database is synced to"), "{plan}: {said}");
    }
    let db = connect(&url).await;
    assert_eq!(count(&db, "movies").await, 60);
    assert!(watermark(&db).await.is_some());
}
