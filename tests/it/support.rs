//! Shared test helpers: where the real upstream fixtures are, and which PostgreSQL to use.

#![allow(dead_code)] // each test module uses a different subset
#![allow(clippy::print_stderr)] // a skipped test must say so loudly

use std::path::PathBuf;

/// `tests/fixtures`: the recorded TMDB and OMDb bodies (see its `PROVENANCE.md`).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The `.json` files directly in `tests/fixtures/<sub>`, sorted; panics when there are none, so
/// that no test passes by testing zero files.
pub fn fixture_files(sub: &str) -> Vec<PathBuf> {
    let dir = fixtures_dir().join(sub);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .json fixture in {}", dir.display());
    files
}

/// The PostgreSQL server URL for tests (`POPCTL_TEST_PG`, set by `scripts/test`), or `None`
/// after a loud message. Under `CI=true` a missing server fails instead of skipping.
pub fn pg_url() -> Option<String> {
    match std::env::var("POPCTL_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "POPCTL_TEST_PG is unset under CI=true: PostgreSQL tests must run in CI"
            );
            eprintln!(
                "\n!!! SKIPPED: POPCTL_TEST_PG is unset; PostgreSQL tests did not run (use scripts/test) !!!\n"
            );
            None
        }
    }
}
