//! `popctl run` end to end against upstream answers that are not plain: bodies over
//! `max_body`, a server far slower than the plan's rate, TMDB's `{"success":false}` in a 200.
//! Issue 12: a run never leaves the app without its data.

#![allow(clippy::unwrap_used)]

use popctl::sim::{ListKind, OddMovies, RateLimit, SandboxConfig, Unsuccessful};
use popctl::store::ledger::{self, ItemStatus};

use crate::run_support::*;

/// The first `n` movies of the first page of `popular`, the page quick runs fetch.
fn popular(env: &Env, n: usize) -> Vec<u32> {
    env.sim.catalog().list_ids(ListKind::Popular)[..n].to_vec()
}

/// `(status, last error)` of item `movie:<id>` of `stage` in the newest run.
/// The item of movie `id` in `stage` of the newest run in the new database a swap run left
/// beside the live one at `url` (the runs here end partially, so nothing is swapped in).
async fn movie_item(url: &str, stage: &str, id: u32) -> (ItemStatus, String) {
    let db = connect_next(url).await;
    let newest = count(&db, "import_runs").await;
    let run = ledger::items(&db, newest, stage).await.unwrap();
    let key = format!("movie:{id}");
    let item = run.iter().find(|i| i.key == key).unwrap();
    (item.status, item.last_error.clone().unwrap_or_default())
}

fn report(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Two detail answers of 20 MiB, one with `Content-Length` and one chunked, under the default
/// `max_body` of 8 MiB: both movies fail with the message that names the setting, every other
/// movie is imported, nothing oversized is cached, and the process never held the bodies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_over_max_body_fail_their_movies_and_the_run_goes_on() {
    let probe = Env::new(small_sim()).await;
    let odd = popular(&probe, 2);
    drop(probe);
    let (with_length, chunked) = (odd[0], odd[1]);
    let env = Env::new(SandboxConfig {
        odd_movies: OddMovies {
            padded: vec![with_length, chunked],
            chunked: vec![chunked],
            ..OddMovies::default()
        },
        ..small_sim()
    })
    .await;
    let url = env.sqlite("big.db");
    let mut sets = quick(1);
    sets.extend([
        "cache.mode=read-write".to_string(),
        "stages.popular.on_error=continue".to_string(),
    ]);
    let report_path = env.path("report.json");
    let mut cmd = env.quick(&url, &sets, &[]);
    cmd.arg("--report").arg(&report_path);
    let out = output(cmd).await;
    assert_exit(&out, 3);

    let base = env.sim.tmdb_base_url();
    let (status, error) = movie_item(&url, "popular", with_length).await;
    assert_eq!(status, ItemStatus::Failed);
    assert!(
        error.starts_with(&format!(
            "tmdb: TMDB answered 20.0 MiB for GET {base}/movie/{with_length}?append_to_response="
        )) && error.ends_with(", more than max_body = 8MiB (sources.tmdb.max_body)"),
        "{error}"
    );
    let (status, error) = movie_item(&url, "popular", chunked).await;
    assert_eq!(status, ItemStatus::Failed);
    assert!(
        error.starts_with(&format!(
            "tmdb: TMDB answered more than 8.0 MiB for GET {base}/movie/{chunked}?"
        )) && error.contains("without a Content-Length"),
        "{error}"
    );
    let db = connect_next(&url).await;
    assert_eq!(
        stage_items(&db, "popular").await,
        (19, 2, 0, 0),
        "a page and 18 movies ok"
    );
    assert_eq!(count(&db, "movies").await, 18);
    // Each was asked once: an answer that big would come back the same.
    let stats = env.sim.stats();
    assert_eq!(stats.count("GET /3/movie/{id}", 200), 20, "{stats:?}");

    let json = report(&report_path);
    let peak = json["peak_rss_bytes"].as_u64().unwrap();
    assert!(
        peak < 120 << 20,
        "peak memory {} MiB: an oversized body was held",
        peak >> 20
    );

    // Offline, the two are not in the cache: they were never stored. The others are (the
    // resumed stage asks only for the two).
    let out = output(env.quick(&url, &sets, &["--offline", "--resume"])).await;
    assert_exit(&out, 3);
    assert_eq!(count(&db, "import_runs").await, 1);
    assert_eq!(stage_items(&db, "popular").await, (19, 2, 0, 0));
    for id in [with_length, chunked] {
        let (status, error) = movie_item(&url, "popular", id).await;
        assert_eq!(status, ItemStatus::Failed);
        assert!(error.contains("is not in the cache"), "{error}");
    }
}

/// A server that allows 5 requests a second against a plan that sends 400, with one try per
/// request: the 429s are waited out without using it up, every item ends ok and every 429 is
/// counted. The enrich stage waits for the fetch stage, so its 20 lookups come at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_far_slower_than_the_plan_fails_nothing_with_one_try() {
    let env = Env::new(SandboxConfig {
        tmdb_limit: Some(RateLimit { rps: 5.0, burst: 5 }),
        omdb_limit: Some(RateLimit { rps: 5.0, burst: 5 }),
        ..small_sim()
    })
    .await;
    let url = env.sqlite("slow.db");
    let mut sets = quick(1);
    sets.extend([
        "defaults.retry.attempts=1".to_string(),
        "stages.omdb.retry.attempts=1".to_string(),
        "stages.omdb.streaming=false".to_string(),
    ]);
    let report_path = env.path("report.json");
    let mut cmd = env.quick(&url, &sets, &[]);
    cmd.arg("--report").arg(&report_path);
    let out = output(cmd).await;
    assert_exit(&out, 0);

    let stats = env.sim.stats();
    assert!(stats.tmdb.rate_limited > 0, "{stats:?}");
    assert!(stats.omdb.rate_limited > 0, "{stats:?}");
    let db = connect(&url).await;
    assert_eq!(stage_items(&db, "popular").await, (21, 0, 0, 0));
    let (_, failed, _, pending) = stage_items(&db, "omdb").await;
    assert_eq!((failed, pending), (0, 0));
    assert_eq!(count(&db, "movies").await, 20);

    let json = report(&report_path);
    for (source, served) in [("tmdb", &stats.tmdb), ("omdb", &stats.omdb)] {
        assert_eq!(
            json["sources"][source]["rate_limited"].as_u64(),
            Some(served.rate_limited),
            "{source}: the report counts every 429 the server sent"
        );
    }
    let stage_429s: u64 = json["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rate_limited"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(stage_429s, stats.rate_limited);
}

/// TMDB answers 200 `{"success":false,"status_code":34}` for one movie and status_code 11 for
/// another: the first is skipped as a 404 would be, the second fails with TMDB's own words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmdb_success_false_in_a_200_skips_or_fails_the_movie_in_tmdbs_words() {
    let probe = Env::new(small_sim()).await;
    let odd = popular(&probe, 2);
    drop(probe);
    let (missing, broken) = (odd[0], odd[1]);
    let env = Env::new(SandboxConfig {
        odd_movies: OddMovies {
            unsuccessful: vec![
                Unsuccessful {
                    id: missing,
                    status_code: 34,
                    status_message: None,
                },
                Unsuccessful {
                    id: broken,
                    status_code: 11,
                    status_message: None,
                },
            ],
            ..OddMovies::default()
        },
        ..small_sim()
    })
    .await;
    let url = env.sqlite("success-false.db");
    let mut sets = quick(1);
    sets.extend([
        "defaults.retry.attempts=1".to_string(),
        "stages.popular.on_error=continue".to_string(),
    ]);
    let out = output(env.quick(&url, &sets, &[])).await;
    assert_exit(&out, 3);

    let (status, reason) = movie_item(&url, "popular", missing).await;
    assert_eq!(status, ItemStatus::Skipped);
    assert_eq!(
        reason,
        format!("TMDB has no movie {missing} (HTTP 200 with status_code 34)")
    );
    let (status, error) = movie_item(&url, "popular", broken).await;
    assert_eq!(status, ItemStatus::Failed);
    assert!(
        error.ends_with(
            ": TMDB answered 200 with status_code 11: Internal error: Something went wrong, contact TMDb."
        ),
        "{error}"
    );
    assert!(!error.contains("missing field"), "{error}");
    let db = connect_next(&url).await;
    assert_eq!(stage_items(&db, "popular").await, (19, 1, 1, 0));
}
