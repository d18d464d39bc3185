//! `popctl run` end to end: the real binary against the simulator, into real SQLite files.
//! Scenarios of issue 5: the README's first command, faults, rate limits, dedup, streaming,
//! curated lists, failure policy, the response cache, `status`, refusals and `--dry-run`.

#![allow(clippy::unwrap_used)]

use popctl::sim::{Faults, Latency, RateLimit, SandboxConfig};

use crate::run_support::*;

/// The README's first command, exactly: ≥ 200 movies with every part and OMDb ratings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_200_in_the_sandbox_imports_200_movies_with_every_part() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("dev.db").display());
    let report = dir.path().join("report.json");
    let mut cmd = popctl();
    cmd.args(["run", "plans/dev-200.toml", "--sandbox", "--report"])
        .arg(&report)
        .env("DATABASE_URL", &url)
        .env("POPCTL_CACHE__DIR", dir.path().join("cache"));
    let out = output(cmd).await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("Sandbox TMDB and OMDb are simulated at http://127.0.0.1:"),
        "{err}"
    );

    let db = connect(&url).await;
    assert!(count(&db, "movies").await >= 200);
    assert!(count(&db, "movie_credits").await >= 200 * 4);
    assert!(count(&db, "movie_genres").await >= 200);
    assert!(count(&db, "movie_keywords").await >= 200);
    assert!(count(&db, "movie_videos").await >= 200);
    assert!(count(&db, "movie_release_dates").await >= 200);
    let imdb_ratings = count(&db, "external_ratings WHERE source = 'imdb'").await;
    assert!(imdb_ratings >= 180, "{imdb_ratings} IMDb ratings");
    // The simulator's catalog holds the shipped lists' films among its popular movies.
    assert_eq!(count(&db, "movie_list_items").await, 35);
    assert_eq!(last_run_status(&db).await, "ok");

    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["sandbox"], true);
    let stages: Vec<&str> = json["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["reset", "seed", "popular", "omdb", "post"]);
    let popular = &json["stages"][2];
    assert_eq!(popular["status"], "done");
    assert_eq!(popular["ok"], 210, "10 pages and 200 movies");
    let post = &json["stages"][4];
    assert_eq!(post["status"], "done", "{post}");
    assert_eq!(post["ok"], 3, "three post-process steps");
    // When and what: the version, the run's and each stage's start and end, and each
    // stage's floor from the plan's rates (omdb: 200 lookups at 5/s).
    assert_eq!(json["popctl_version"], env!("CARGO_PKG_VERSION"));
    let time = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("{v}"))).unwrap()
    };
    assert!(time(&json["started_at"]) < time(&json["finished_at"]));
    let omdb = &json["stages"][3];
    assert!(time(&omdb["started_at"]) <= time(&omdb["finished_at"]));
    assert!(time(&json["started_at"]) <= time(&omdb["started_at"]));
    assert_eq!(omdb["floor_seconds"], 40.0);
    assert!(omdb["wall_seconds"].as_f64().unwrap() >= 39.0, "{omdb}");
    assert!(count(&db, "cri_scores").await >= 200);
    assert!(json["sources"]["tmdb"]["cache"]["stores"].as_u64().unwrap() >= 210);
    assert!(json["sandbox_served"]["tmdb"].as_u64().unwrap() >= 210);
    assert!(json["sandbox_served"]["omdb"].as_u64().unwrap() >= 180);
    db.close().await.ok();

    // The same command again with the cache warm: the simulator serves nothing, and the
    // database it builds is the same, table by table.
    let warm_url = format!("sqlite://{}?mode=rwc", dir.path().join("warm.db").display());
    let warm_report = dir.path().join("warm.json");
    let mut cmd = popctl();
    cmd.args(["run", "plans/dev-200.toml", "--sandbox", "--report"])
        .arg(&warm_report)
        .env("DATABASE_URL", &warm_url)
        .env("POPCTL_CACHE__DIR", dir.path().join("cache"));
    let out = output(cmd).await;
    assert_exit(&out, 0);
    let warm: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&warm_report).unwrap()).unwrap();
    assert_eq!(warm["status"], "ok");
    assert_eq!(
        warm["sandbox_served"]["tmdb"], 0,
        "{}",
        warm["sandbox_served"]
    );
    assert_eq!(
        warm["sandbox_served"]["omdb"], 0,
        "{}",
        warm["sandbox_served"]
    );
    for source in ["tmdb", "omdb"] {
        assert_eq!(warm["sources"][source]["requests"], 0, "{source}");
        assert_eq!(
            warm["sources"][source]["cache"]["hits"], json["sources"][source]["cache"]["stores"],
            "{source}: every answer stored by the cold run is a hit"
        );
        assert_eq!(warm["sources"][source]["cache"]["misses"], 0, "{source}");
    }
    assert_eq!(digest(&url).await, digest(&warm_url).await);
}

/// 10% 5xx, 5% stalls and 2% truncated bodies: every item still ends ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_are_retried_until_every_item_is_ok() {
    let env = Env::new(SandboxConfig {
        faults: Faults {
            p500: 0.04,
            p502: 0.03,
            p503: 0.03,
            stall: 0.05,
            stall_ms: 20_000,
            truncate: 0.02,
            ..Faults::none()
        },
        ..small_sim()
    })
    .await;
    let url = env.sqlite("faults.db");
    let mut sets = quick(2);
    sets.extend([
        "defaults.retry.attempts=12".to_string(),
        "stages.omdb.retry.attempts=12".to_string(),
        "sources.tmdb.timeout=1s".to_string(),
        "sources.omdb.timeout=1s".to_string(),
    ]);
    let out = output(env.quick(&url, &sets, &[])).await;
    assert_exit(&out, 0);
    let stats = env.sim.stats();
    assert!(
        stats.faults.http_500 + stats.faults.http_502 + stats.faults.http_503 > 0,
        "{stats:?}"
    );
    assert!(
        stats.faults.stalled + stats.faults.truncated > 0,
        "{stats:?}"
    );
    let db = connect(&url).await;
    let (ok, failed, _, pending) = stage_items(&db, "popular").await;
    assert_eq!((ok, failed, pending), (42, 0, 0), "2 pages and 40 movies");
    let (_, failed, _, pending) = stage_items(&db, "omdb").await;
    assert_eq!((failed, pending), (0, 0));
    assert_eq!(count(&db, "movies").await, 40);
    // Retries were needed and made.
    assert!(stderr(&out).contains("retrying"), "{}", stderr(&out));
}

/// The plan's rate at or under the simulator's limit: no 429 at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_under_the_servers_limit_meets_no_429() {
    let env = Env::new(SandboxConfig {
        tmdb_limit: Some(RateLimit {
            rps: 40.0,
            burst: 10,
        }),
        omdb_limit: Some(RateLimit {
            rps: 20.0,
            burst: 5,
        }),
        ..small_sim()
    })
    .await;
    let url = env.sqlite("limits.db");
    let mut sets = quick(2);
    sets.extend([
        "sources.tmdb.rate=40/s".to_string(),
        "sources.omdb.rate=20/s".to_string(),
    ]);
    let out = output(env.quick(&url, &sets, &[])).await;
    assert_exit(&out, 0);
    let stats = env.sim.stats();
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    assert!(stats.tmdb.requests >= 42);
}

/// The simulator's limit below the plan's rate: 429s, Retry-After honoured, every item ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_limit_below_the_plans_rate_still_ends_ok() {
    let env = Env::new(SandboxConfig {
        tmdb_limit: Some(RateLimit {
            rps: 15.0,
            burst: 3,
        }),
        ..small_sim()
    })
    .await;
    let url = env.sqlite("slow.db");
    let mut sets = quick(2);
    sets.extend([
        "sources.tmdb.rate=60/s".to_string(),
        "defaults.retry.attempts=20".to_string(),
    ]);
    let report = env.path("report.json");
    let mut cmd = env.quick(&url, &sets, &[]);
    cmd.arg("--report").arg(&report);
    let out = output(cmd).await;
    assert_exit(&out, 0);
    let stats = env.sim.stats();
    assert!(stats.tmdb.rate_limited > 0, "{stats:?}");
    let db = connect(&url).await;
    assert_eq!(count(&db, "movies").await, 40);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(
        json["sources"]["tmdb"]["rate_limited"].as_u64(),
        Some(stats.tmdb.rate_limited),
        "the report counts the 429s the server sent"
    );
}

/// A movie on two lists is fetched once; both stages count it and stream it downstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_movie_listed_by_two_fetch_stages_is_fetched_once() {
    let env = Env::new(small_sim()).await;
    let popular: Vec<i64> = env.sim.catalog().list_ids(popctl::sim::ListKind::Popular)[..20]
        .iter()
        .map(|&id| id as i64)
        .collect();
    // The second stage lists 10 of page 1's movies and 5 others.
    let others: Vec<i64> = env.sim.catalog().list_ids(popctl::sim::ListKind::Popular)[100..105]
        .iter()
        .map(|&id| id as i64)
        .collect();
    let ids: Vec<String> = popular[..10]
        .iter()
        .chain(&others)
        .map(i64::to_string)
        .collect();
    let plan = env.path("two-lists.toml");
    std::fs::write(
        &plan,
        format!(
            r#"
[plan]
name = "two-lists"
extends = "{base}"

[sources.tmdb]
rate = "400/s"

[sources.omdb]
rate = "400/s"

[stages.reset]
kind = "reset"

[stages.popular]
kind = "fetch"
needs = ["reset"]
list = "popular"
append = ["credits"]

[stages.picked]
kind = "fetch"
needs = ["reset"]
ids = [{ids}]
append = ["credits"]

[stages.omdb_picked]
kind = "enrich"
needs = ["picked"]
"#,
            base = root().join("plans/base.toml").display(),
            ids = ids.join(", ")
        ),
    )
    .unwrap();
    let url = env.sqlite("two.db");
    let report = env.path("report.json");
    let mut cmd = env.run_cmd(plan.to_str().unwrap(), &url, &[]);
    cmd.arg("--report").arg(&report);
    let out = output(cmd).await;
    assert_exit(&out, 0);
    let stats = env.sim.stats();
    let details: u64 = stats.routes["GET /3/movie/{id}"].values().sum();
    assert_eq!(details, 25, "20 + 5 distinct movies, each asked once");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let stage = |name: &str| {
        json["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    let (p, k) = (stage("popular"), stage("picked"));
    assert_eq!(
        p["shared"].as_u64().unwrap() + k["shared"].as_u64().unwrap(),
        10
    );
    assert_eq!(k["ok"], 15);
    // The enrich stage downstream of `picked` got all 15, shared ones included.
    let db = connect(&url).await;
    let (ok, _, skipped, _) = stage_items(&db, "omdb_picked").await;
    assert_eq!(ok + skipped, 15);
}

/// Streaming: the enrich stage starts while the fetch stage still runs; `streaming = false`
/// makes it wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrich_streams_from_fetch_unless_the_plan_says_otherwise() {
    let env = Env::new(SandboxConfig {
        latency: Latency {
            min_ms: 20,
            max_ms: 40,
        },
        ..small_sim()
    })
    .await;
    let position = |text: &str, needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in\n{text}"))
    };
    for (streaming, db) in [(true, "s.db"), (false, "n.db")] {
        let mut sets = quick(2);
        sets.push(format!("stages.omdb.streaming={streaming}"));
        let url = env.sqlite(db);
        let out = output(env.quick(&url, &sets, &[])).await;
        assert_exit(&out, 0);
        let err = stderr(&out);
        let started = position(&err, "Started omdb (enrich)");
        let finished = position(&err, "Finished popular: done");
        assert_eq!(
            started < finished,
            streaming,
            "streaming = {streaming}:\n{err}"
        );
    }
}

/// A curated list: tmdb ids directly, IMDb ids through `find`, title-only entries recorded as
/// skipped with the reason; nothing dropped silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_curated_list_fetches_its_movies_and_says_what_it_skipped() {
    let env = Env::new(small_sim()).await;
    let entries: Vec<(u32, String)> = env
        .sim
        .catalog()
        .entries()
        .iter()
        .filter_map(|e| Some((e.id, e.imdb_id.clone()?)))
        .take(2)
        .collect();
    let data = env.path("data");
    std::fs::create_dir_all(data.join("lists")).unwrap();
    std::fs::write(
        data.join("lists/picks.toml"),
        format!(
            r#"source = "https://example.org/picks"

[authority]
name = "Test Critics"
kind = "critic"
trust = 0.5

[list]
name = "Picks"
year = 2024
type = "ranked"

[[items]]
tmdb_id = {a}
position = 1

[[items]]
imdb_id = "{b}"
position = 2

[[items]]
imdb_id = "tt9999998"
position = 3

[[items]]
title = "A Film Nobody Identified"
year = 1999
position = 4
"#,
            a = entries[0].0,
            b = entries[1].1,
        ),
    )
    .unwrap();
    let plan = env.path("curated.toml");
    std::fs::write(
        &plan,
        format!(
            r#"
[plan]
name = "curated"
extends = "{base}"

[data]
dir = "{data}"

[stages.reset]
kind = "reset"

[stages.picks]
kind = "fetch"
needs = ["reset"]
curated_list = "picks"
"#,
            base = root().join("plans/base.toml").display(),
            data = data.display()
        ),
    )
    .unwrap();
    let url = env.sqlite("curated.db");
    let out = output(env.run_cmd(plan.to_str().unwrap(), &url, &[])).await;
    assert_exit(&out, 0);
    let db = connect(&url).await;
    assert_eq!(count(&db, "movies").await, 2);
    assert_eq!(
        count(
            &db,
            &format!(
                "movies WHERE tmdb_id IN ({}, {})",
                entries[0].0, entries[1].0
            )
        )
        .await,
        2
    );
    let reasons = popctl::store::ledger::items(&db, 1, "picks").await.unwrap();
    let skipped: Vec<String> = reasons
        .iter()
        .filter(|i| i.status == popctl::store::ledger::ItemStatus::Skipped)
        .map(|i| format!("{}: {}", i.key, i.last_error.clone().unwrap_or_default()))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped
            .iter()
            .any(|s| s.starts_with("imdb:tt9999998: TMDB has no movie with IMDb id tt9999998")),
        "{skipped:?}"
    );
    assert!(
        skipped.iter().any(|s| s.starts_with(
            "entry:4: list entry 4 (\"A Film Nobody Identified\" (1999)) has no tmdb_id or imdb_id"
        )),
        "{skipped:?}"
    );
}

/// `on_error = "continue"`: failed items are recorded with their errors, the run finishes
/// partially (exit 3), and `status` shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_items_are_recorded_and_shown_by_status() {
    let env = Env::new(SandboxConfig {
        faults: Faults {
            p503: 0.3,
            ..Faults::none()
        },
        ..small_sim()
    })
    .await;
    let url = env.sqlite("failing.db");
    let mut sets = quick(2);
    sets.extend([
        "defaults.retry.attempts=1".to_string(),
        "stages.omdb.retry.attempts=1".to_string(),
        "stages.popular.on_error=continue".to_string(),
        "stages.omdb.on_error=continue".to_string(),
    ]);
    let out = output(env.quick(&url, &sets, &[])).await;
    assert_exit(&out, 3);
    // Not swapped in: the run's data and ledger are in the new database beside the live one.
    let db = connect_next(&url).await;
    let (_, failed_fetch, _, _) = stage_items(&db, "popular").await;
    let (_, failed_enrich, _, _) = stage_items(&db, "omdb").await;
    assert!(failed_fetch + failed_enrich > 0);
    assert_eq!(last_run_status(&db).await, "partial");

    let mut status = popctl();
    status.args(["status", "--url", &url]);
    let shown = output(status).await;
    assert_exit(&shown, 0);
    let text = stdout(&shown);
    assert!(text.contains("quick-20  partial"), "{text}");
    assert!(text.contains("failed items of run 1:"), "{text}");
    assert!(text.contains("(1 try): "), "{text}");
    assert!(text.contains("HTTP 503"), "{text}");
}

/// `on_error = "fail"` (the default): the first failed item fails the stage, the stages after
/// it do not run, exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_item_fails_the_stage_by_default() {
    let env = Env::new(SandboxConfig {
        faults: Faults {
            p503: 0.5,
            ..Faults::none()
        },
        ..small_sim()
    })
    .await;
    let url = env.sqlite("fail.db");
    let mut sets = quick(3);
    sets.push("defaults.retry.attempts=1".to_string());
    let out = output(env.quick(&url, &sets, &[])).await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("on_error = \"fail\""), "{err}");
    let db = connect_next(&url).await;
    assert_eq!(last_run_status(&db).await, "failed");
}

/// A TMDB key the server rejects stops the source with an error naming the variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_tmdb_key_stops_with_the_variable_to_fix() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("401.db");
    let mut cmd = env.quick(&url, &quick(1), &[]);
    cmd.env("TMDB_API_KEY", "not-the-right-key");
    let out = output(cmd).await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("TMDB rejected the API key (HTTP 401"), "{err}");
    assert!(err.contains("TMDB_API_KEY"), "{err}");
    // The seed stage meets it first (the genre list); nothing after it runs.
    assert!(
        err.contains("popular skipped: needs `seed`, which ended failed"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_stages_and_unset_keys_are_refused_before_anything_is_written() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("refused.db");
    let out = output(env.run_cmd("plans/quick-20.toml", &url, &["--only", "popularr"])).await;
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("plan `quick-20` has no stage named `popularr` (--only)"),
        "{err}"
    );
    assert!(
        err.contains("its stages: reset, seed, popular, omdb, post"),
        "{err}"
    );

    let mut cmd = env.run_cmd("plans/quick-20.toml", &url, &[]);
    cmd.env_remove("OMDB_API_KEY");
    let out = output(cmd).await;
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("environment variable `OMDB_API_KEY` is not set"),
        "{err}"
    );
    assert!(!env.path("refused.db").exists(), "nothing was written");
}

/// `--dry-run`: the stages in order with their requests and the time the rates imply; no
/// database, no request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_plan_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dry.db");
    let mut cmd = popctl();
    cmd.args(["run", "plans/dev-200.toml", "--sandbox", "--dry-run"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        );
    let out = output(cmd).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    let shown = format!(
        "database sqlite://{}?mode=rwc: a new database is built beside it and replaces \
         popctl's tables when every stage has ended well",
        db.display()
    );
    let expected = [
        "plan `dev-200`: stages in order",
        &shown,
        "  1. reset (reset)",
        "  2. seed (seed); after reset",
        "  3. popular (fetch): tmdb, at most 210 requests, at least 5.3s; after seed",
        "  4. omdb (enrich): omdb, at most 200 requests, at least 40s; after popular",
        "  5. post (post_process); after omdb",
        "budget omdb: at most 200 requests, at least 40s at 5/s; daily quota 1,000",
        "budget tmdb: at most 210 requests (10 list pages + 200 details), at least 5.3s at 40/s",
        "the rates allow no less than 40s for the whole plan",
    ];
    assert_eq!(text.lines().collect::<Vec<_>>(), expected, "{text}");
    assert!(!db.exists());
}

/// `--quiet`: no progress, no table; only warnings and errors would show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_runs_say_nothing_when_all_goes_well() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("quiet.db");
    let out = output(env.quick(&url, &quick(1), &["--quiet"])).await;
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "");
    assert_eq!(stdout(&out), "");
}

/// `status` and `db status` find the database through the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_db_take_the_database_from_a_plan() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("by-plan.db");
    assert_exit(&output(env.quick(&url, &quick(1), &[])).await, 0);
    let at = format!("database.url={url}");

    let mut cmd = popctl();
    cmd.args(["status", "--plan", "plans/quick-20.toml", "--set", &at]);
    let out = output(cmd).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("  1  quick-20  ok"), "{text}");
    assert!(
        text.contains("run 1: reset done, seed done, popular done, omdb done, post done"),
        "{text}"
    );

    let mut cmd = popctl();
    cmd.args([
        "db",
        "status",
        "--plan",
        "plans/quick-20.toml",
        "--set",
        &at,
    ]);
    let out = output(cmd).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    let movies = text.lines().find(|l| l.trim_start().starts_with("movies "));
    assert_eq!(
        movies.map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["movies", "20"]),
        "{text}"
    );

    let mut cmd = popctl();
    cmd.args(["db", "migrate"]);
    let out = output(cmd).await;
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("which database?"), "{}", stderr(&out));
}

/// With the response cache on, a second run asks TMDB nothing it asked before, and the report
/// counts the hits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_is_answered_by_the_cache() {
    let env = Env::new(small_sim()).await;
    let mut sets = quick(1);
    sets.retain(|s| s != "cache.mode=off");
    let first = output(env.quick(&env.sqlite("one.db"), &sets, &[])).await;
    assert_exit(&first, 0);
    let asked = env.sim.stats().requests;
    assert!(asked >= 21 + 15);
    let report = env.path("second.json");
    let second = output(env.quick(
        &env.sqlite("two.db"),
        &sets,
        &["--report", report.to_str().unwrap()],
    ))
    .await;
    assert_exit(&second, 0);
    assert_eq!(
        env.sim.stats().requests,
        asked,
        "no request to TMDB or OMDb the second time"
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["sources"]["tmdb"]["requests"], 0);
    assert_eq!(json["sources"]["omdb"]["requests"], 0);
    assert!(json["sources"]["tmdb"]["cache"]["hits"].as_u64().unwrap() >= 21);
    assert!(json["sources"]["omdb"]["cache"]["hits"].as_u64().unwrap() >= 15);
    let db = connect(&env.sqlite("two.db")).await;
    assert_eq!(count(&db, "movies").await, 20);
    db.close().await.ok();
    let cold = digest(&env.sqlite("one.db")).await;
    assert_eq!(cold, digest(&env.sqlite("two.db")).await);
    // --offline answers from the cache alone; --cache off asks again.
    let offline = output(env.quick(&env.sqlite("three.db"), &sets, &["--offline"])).await;
    assert_exit(&offline, 0);
    assert_eq!(env.sim.stats().requests, asked);
    assert_eq!(cold, digest(&env.sqlite("three.db")).await);
    let off = output(env.quick(&env.sqlite("four.db"), &sets, &["--cache", "off"])).await;
    assert_exit(&off, 0);
    assert!(env.sim.stats().requests > asked);
}

/// Offline with a cold cache: the first miss is a clear error and nothing is asked upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_with_nothing_cached_says_so_and_asks_nothing() {
    let env = Env::new(small_sim()).await;
    let mut sets = quick(1);
    sets.retain(|s| s != "cache.mode=off");
    let out = output(env.quick(&env.sqlite("cold.db"), &sets, &["--offline"])).await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("not in the cache"), "{err}");
    assert_eq!(env.sim.stats().requests, 0);
}

/// `--only post` recomputes what is derived from the stored data, asks nothing upstream, and
/// leaves the database as it was when nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_post_recomputes_without_asking_upstream() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("post.db");
    let out = output(env.quick(&url, &quick(1), &[])).await;
    assert_exit(&out, 0);
    let before = digest(&url).await;
    let asked = env.sim.stats().requests;
    let db = connect(&url).await;
    let scores = count(&db, "cri_scores").await;
    assert_eq!(scores, 20, "one score per movie");
    db.close().await.ok();

    let report = env.path("post.json");
    let out = output(env.quick(
        &url,
        &quick(1),
        &["--only", "post", "--report", report.to_str().unwrap()],
    ))
    .await;
    assert_exit(&out, 0);
    assert_eq!(env.sim.stats().requests, asked, "no upstream request");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let statuses: Vec<&str> = json["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "not_selected",
            "not_selected",
            "not_selected",
            "not_selected",
            "done"
        ]
    );
    assert_eq!(before, digest(&url).await, "a rerun changes nothing");
}

/// A run that would start no stage is refused with the reason, never reported `ok`: the base
/// plan (no stages) and a selection of disabled stages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_nothing_to_run_says_so_and_fails() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("nothing.db");
    let out = output(env.run_cmd("plans/base.toml", &url, &[])).await;
    assert_exit(&out, 2);
    let err = flat(&stderr(&out));
    assert!(
        err.contains("plan `base` has nothing to run: it has no stages"),
        "{err}"
    );
    assert!(!err.contains("Started"), "{err}");

    let out = output(env.quick(
        &url,
        &quick(1),
        &["--only", "omdb", "--set", "stages.omdb.enabled=false"],
    ))
    .await;
    assert_exit(&out, 2);
    let err = flat(&stderr(&out));
    assert!(
        err.contains("every stage selected is disabled (`enabled = false`): omdb"),
        "{err}"
    );
}

/// `--log-format json` (now `--message-format json`) at the default level: stage messages on
/// stdout, and on stderr JSON logs of popctl's own events (its status lines) without
/// dependency chatter such as each migration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_popctls_events_at_the_default_level() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("json.db");
    let out = output(env.quick(&url, &quick(1), &["--log-format", "json"])).await;
    assert_exit(&out, 0);
    let parse = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let messages = parse(&stdout(&out));
    let count = |reason: &str| messages.iter().filter(|m| m["reason"] == reason).count();
    assert!(count("stage-started") >= 3, "{}", stdout(&out));
    assert!(count("stage-finished") >= 3, "{}", stdout(&out));
    let err = stderr(&out);
    let logs = parse(&err);
    assert!(
        logs.iter().any(|e| e["target"] == "popctl::status"),
        "popctl's status lines: {err}"
    );
    assert!(
        logs.iter().all(|e| e["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("popctl"))
            || e["level"] != "INFO"),
        "only popctl's info events: {err}"
    );
}

/// `store_raw = false` on both sources: the tables are filled as always and no answer body is
/// kept; a later run with the default keeps them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_with_store_raw_false_keep_no_bodies() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("lean.db");
    let mut sets = quick(1);
    sets.extend([
        "sources.tmdb.store_raw=false".to_string(),
        "sources.omdb.store_raw=false".to_string(),
    ]);
    let out = output(env.quick(&url, &sets, &[])).await;
    assert_exit(&out, 0);
    let db = connect(&url).await;
    assert_eq!(count(&db, "movies").await, 20);
    assert!(count(&db, "external_ratings").await > 20);
    assert_eq!(count(&db, "movie_raw_json").await, 0);
    db.close().await.unwrap();

    let out = output(env.quick(&url, &quick(1), &[])).await;
    assert_exit(&out, 0);
    let db = connect(&url).await;
    assert!(count(&db, "movie_raw_json").await >= 20);
}

/// Every part a plan may append is stored in tables: images, alternative titles and
/// translations from the simulator land in theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_images_titles_and_translations_are_stored() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("parts.db");
    let mut sets = quick(1);
    sets.push(
        r#"stages.popular.append=["credits","images","alternative_titles","translations","watch/providers"]"#.into(),
    );
    let out = output(env.quick(&url, &sets, &[])).await;
    assert_exit(&out, 0);
    let db = connect(&url).await;
    assert_eq!(count(&db, "movies").await, 20);
    for table in [
        "movie_images",
        "movie_alternative_titles",
        "movie_translations",
        "movie_watch_providers",
    ] {
        assert!(count(&db, table).await >= 20, "{table}");
    }
    let with_poster = count(
        &db,
        "(SELECT DISTINCT m.id FROM movies m JOIN movie_images i ON i.movie_id = m.id \
         AND i.file_path = m.poster_path AND i.kind = 'poster') AS x",
    )
    .await;
    assert!(with_poster > 0, "a movie's poster is among its images");
}

/// A fetch stage of ids: ids TMDB does not have are named in a note; when it has none of them
/// (TMDB's ids sent to the sandbox, whose catalog has its own) the stage fails and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_tmdb_does_not_have_are_named_and_none_at_all_fails() {
    let env = Env::new(small_sim()).await;
    let known = env.sim.catalog().list_ids(popctl::sim::ListKind::Popular)[0];
    // Above every catalog id and above the ids a stray answers for.
    let missing = env
        .sim
        .catalog()
        .entries()
        .iter()
        .map(|e| e.id)
        .max()
        .unwrap()
        .max(popctl::sim::STRAY_MAX_ID)
        + 1_000;
    let plan_with = |ids: &str| {
        let plan = env.path(&format!("ids-{}.toml", ids.len()));
        std::fs::write(
            &plan,
            format!(
                r#"
[plan]
name = "ids"
extends = "{base}"

[sources.tmdb]
rate = "400/s"

[stages.picked]
kind = "fetch"
ids = [{ids}]
"#,
                base = root().join("plans/base.toml").display(),
            ),
        )
        .unwrap();
        plan
    };

    let some = plan_with(&format!("{known}, {missing}"));
    let out = output(env.run_cmd(some.to_str().unwrap(), &env.sqlite("some.db"), &[])).await;
    assert_exit(&out, 0);
    let err = flat(&stderr(&out));
    assert!(
        err.contains(&format!(
            "1 movie TMDB does not have (404), skipped: {missing}"
        )),
        "{err}"
    );

    let none = plan_with(&format!("{missing}, {}", missing + 1));
    let out = output(env.run_cmd(none.to_str().unwrap(), &env.sqlite("none.db"), &[])).await;
    assert_exit(&out, 1);
    let err = flat(&stderr(&out));
    assert!(
        err.contains("none of the 2 movies the stage names exists at TMDB"),
        "{err}"
    );
    assert!(err.contains("ids are the simulator's own"), "{err}");
}
