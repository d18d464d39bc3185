//! Shared test helpers: where the real upstream fixtures are, and which PostgreSQL to use.

#![allow(dead_code)] // each test module uses a different subset
#![allow(clippy::print_stderr)] // a skipped test must say so loudly

use std::path::PathBuf;

/// `../shared/fixtures` beside the project, or `None` (after a loud message) when this checkout
/// has no `shared/` next to it. Under `CI=true` a missing folder fails instead.
pub fn fixtures_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "../shared/fixtures is missing under CI=true"
    );
    eprintln!(
        "\n!!! SKIPPED: ../shared/fixtures not found beside the project; fixture tests did not run !!!\n"
    );
    None
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
