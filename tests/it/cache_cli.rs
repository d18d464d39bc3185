//! `popctl cache stats | clear | prune` as a user runs them, on a cache directory filled with
//! real entries.

// Test helpers panic with the failure in hand, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use assert_cmd::cargo::CommandCargoExt;
use popctl::plan::{CacheMode, SourceKind};
use popctl::sources::cache::{Clock, SourceCache, Verdict};
use serde_json::Value;

use crate::cache::{cache_config, source};

fn cache(root: &Path, kind: SourceKind, stamp: SystemTime) -> SourceCache {
    let config = cache_config(root, CacheMode::ReadWrite);
    let source = source(kind, kind.default_base_url().to_string());
    let clock: Clock = Arc::new(move || stamp);
    SourceCache::open(&config, &source)
        .unwrap()
        .unwrap()
        .with_clock(clock)
}

/// TMDB: two movies and a 404, stored now. OMDb: one title now, one stored 30 days ago
/// (past the 7 days of `plans/base.toml`).
fn fill(root: &Path) {
    let tmdb = cache(root, SourceKind::Tmdb, SystemTime::now());
    for path in ["movie/1", "movie/2"] {
        let body = format!(r#"{{"id":1,"overview":"{}"}}"#, "long text ".repeat(200));
        assert!(tmdb.store(
            &tmdb.key(path, &[]),
            200,
            body.as_bytes(),
            Verdict::Positive
        ));
    }
    let gone = tmdb.key("movie/404", &[]);
    assert!(tmdb.store(&gone, 404, br#"{"status_code":34}"#, Verdict::Negative));
    let omdb = cache(root, SourceKind::Omdb, SystemTime::now());
    let k = omdb.key("", &[("i", "tt0000001".into())]);
    assert!(omdb.store(&k, 200, br#"{"Title":"A"}"#, Verdict::Positive));
    let month_ago = SystemTime::now() - Duration::from_secs(30 * 86_400);
    let old = cache(root, SourceKind::Omdb, month_ago);
    let k = old.key("", &[("i", "tt0000002".into())]);
    assert!(old.store(&k, 200, br#"{"Title":"B"}"#, Verdict::Positive));
}

fn plan() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/dev-200.toml")
}

/// Runs popctl; returns exit code, stdout, stderr.
fn popctl(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("popctl")
        .unwrap()
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_stats(args: &[&str]) -> Value {
    let (code, out, err) = popctl(args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn stats_of<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == name)
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

#[test]
fn stats_show_each_source_in_a_table_and_in_json() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let d = dir.path().to_str().unwrap();

    let (code, out, err) = popctl(&["cache", "stats", "--dir", d]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("Cache {d}")), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("source  entries  negative  expired"),
        "{out}"
    );
    assert!(lines[1].starts_with("omdb"), "{out}");
    let tmdb: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(tmdb[..4], ["tmdb", "3", "1", "-"], "{out}");

    let doc = json_stats(&["cache", "stats", "--dir", d, "--json"]);
    assert_eq!(doc["dir"], d);
    assert_eq!(stats_of(&doc, "omdb")["entries"], 2);
    assert_eq!(stats_of(&doc, "tmdb")["negative"], 1);
    assert_eq!(
        stats_of(&doc, "tmdb")["expired"],
        Value::Null,
        "no plan, no TTLs"
    );

    // With the plan, its TTLs say what is expired; `--set` moves the directory.
    let set = format!("cache.dir={d}");
    let plan = plan();
    let plan = plan.to_str().unwrap();
    let doc = json_stats(&["cache", "stats", "--plan", plan, "--set", &set, "--json"]);
    assert_eq!(doc["dir"], d);
    assert_eq!(stats_of(&doc, "omdb")["expired"], 1);
    assert_eq!(stats_of(&doc, "tmdb")["expired"], 0);

    // No cache yet: a note, not an error.
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = popctl(&["cache", "stats", "--dir", empty.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(err.contains("is empty"), "{err}");
}

#[test]
fn prune_and_clear_remove_what_they_say() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let d = dir.path().to_str().unwrap();
    let plan = plan();
    let plan = plan.to_str().unwrap();
    let entries = |name: &str| -> u64 {
        stats_of(&json_stats(&["cache", "stats", "--dir", d, "--json"]), name)["entries"]
            .as_u64()
            .unwrap()
    };

    let (code, _, err) = popctl(&["cache", "prune", "--dir", d]);
    assert_eq!(code, 2, "prune without TTLs is a usage error: {err}");
    assert!(err.contains("popctl::cache::prune_needs_ttl"), "{err}");

    let set = format!("cache.dir={d}");
    let (code, _, err) = popctl(&["cache", "prune", "--plan", plan, "--set", &set]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Pruned 1 expired entry"), "{err}");
    assert_eq!((entries("omdb"), entries("tmdb")), (1, 3));

    let (code, _, err) = popctl(&["cache", "clear", "--dir", d, "--source", "omdb"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Cleared 1 entry (") && err.contains("B) of source `omdb` from"),
        "{err}"
    );
    assert!(!dir.path().join("omdb").exists());
    assert_eq!(entries("tmdb"), 3);

    let (code, _, err) = popctl(&["cache", "prune", "--dir", d, "--older-than", "0ms"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Pruned 3 expired entries"), "{err}");

    fill(dir.path());
    let (code, _, err) = popctl(&["cache", "clear", "--dir", d]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Cleared 5 entries"), "{err}");
    let doc = json_stats(&["cache", "stats", "--dir", d, "--json"]);
    assert_eq!(doc["sources"], serde_json::json!([]));
    assert!(
        dir.path().join("CACHEDIR.TAG").is_file(),
        "the directory itself stays"
    );
}

#[test]
fn bad_arguments_exit_2_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, _, err) = popctl(&["cache", "clear", "--dir", d, "--source", "../etc"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`../etc` is not a source name"), "{err}");
    let (code, _, err) = popctl(&["cache", "prune", "--dir", d, "--older-than", "1.5s"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--older-than"), "{err}");
    let missing = dir.path().join("no-such-plan.toml");
    let (code, _, err) = popctl(&["cache", "stats", "--plan", missing.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no-such-plan.toml"), "{err}");
}

#[test]
fn clearing_a_source_nobody_knows_is_an_error_that_suggests_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let d = dir.path().to_str().unwrap();
    let (code, _, err) = popctl(&["cache", "clear", "--dir", d, "--source", "omdbx"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no source `omdbx` in the cache at")
            && err.contains("did you mean `omdb`? the sources are `omdb` and `tmdb`"),
        "{err}"
    );
    assert!(!err.contains("Cleared"), "{err}");
    // Nothing was removed.
    let doc = json_stats(&["cache", "stats", "--dir", d, "--json"]);
    assert_eq!(stats_of(&doc, "omdb")["entries"], 2);

    // A source the plan defines is known even when the cache holds nothing of it yet.
    let (code, _, err) = popctl(&["cache", "clear", "--dir", d, "--source", "tmdb"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = popctl(&[
        "cache",
        "clear",
        "--plan",
        plan().to_str().unwrap(),
        "--dir",
        d,
        "--source",
        "tmdb",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Cleared 0 entries"), "{err}");
    let (code, _, err) = popctl(&["cache", "clear", "--dir", d, "--source", "tmdb"]);
    assert_eq!(
        code, 2,
        "without the plan `tmdb` is unknown once cleared: {err}"
    );
    assert!(err.contains("the sources are `omdb`"), "{err}");
}

#[test]
fn a_cache_directory_that_is_not_there_is_an_error_for_every_action() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo");
    let m = missing.to_str().unwrap();
    for args in [
        vec!["cache", "stats", "--dir", m],
        vec!["cache", "clear", "--dir", m],
        vec!["cache", "prune", "--dir", m, "--older-than", "1d"],
    ] {
        let (code, _, err) = popctl(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(&format!("no cache at {m}")), "{args:?}: {err}");
        assert!(!missing.exists(), "{args:?} created it");
    }
    // An empty one is a real, empty cache.
    std::fs::create_dir(&missing).unwrap();
    let (code, _, err) = popctl(&["cache", "stats", "--dir", m]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("is empty"), "{err}");
}
