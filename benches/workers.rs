//! One run shared by worker processes through PostgreSQL, measured against the same run in
//! one process: TMDB-bound, as the whole catalog is.
//!
//! The simulator limits each client address to 40 requests/s (burst 40), as TMDB limits each
//! address, and answers every request after 80 ms. `plans/mirror.toml`'s fetch stage takes
//! the export's first `POPCTL_BENCH_MOVIES` movies (default 4,000; OMDb and post-processing
//! off) into a new PostgreSQL database, with the plan's TMDB rate at 40/s:
//!
//! - 1 process: `popctl run` alone, from 127.0.0.1;
//! - 4 processes: `popctl run --workers 3`, the run from 127.0.0.1 and its workers from
//!   127.0.0.2, 127.0.0.3 and 127.0.0.4.
//!
//! The two alternate `POPCTL_BENCH_ROUNDS` times (default 2). Printed per run: the fetch
//! stage's time and the run's, movies per second, TMDB requests by client address and the
//! 429s; then the speedups (1-process time / 4-process time) of the fetch stage and the run.
//!
//! `scripts/with-pg cargo bench --bench workers` (or with `POPCTL_TEST_PG` set). Prints
//! figures; asserts nothing about time.

#![expect(
    clippy::disallowed_methods,
    reason = "the bench makes its databases and counts what they hold by SQL"
)]
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use popctl::sim::{self, Api, Latency, RateLimit, Sandbox, SandboxConfig};

mod support;

use support::{fresh_pg, movies_in, root};

struct Measured {
    fetch: f64,
    wall: f64,
    movies: i64,
    by_address: BTreeMap<String, u64>,
    rate_limited: u64,
}

/// Runs the mirror plan's fetch stage of `movies` movies into `url` with `extra` arguments.
async fn run(sim: &Sandbox, url: &str, movies: u32, extra: &[&str], dir: &Path) -> Measured {
    let report = dir.join("report.json");
    let before = sim.stats();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_popctl"));
    cmd.current_dir(root())
        .args([
            "run",
            "plans/mirror.toml",
            "--quiet",
            "--cache",
            "off",
            "--report",
        ])
        .arg(&report)
        .env("TMDB_API_KEY", sim.tmdb_key())
        .env("OMDB_API_KEY", sim.omdb_key())
        .env_remove("RUST_LOG")
        .env_remove("POPCTL_LOG");
    for set in [
        format!("sources.tmdb.base_url={}", sim.tmdb_base_url()),
        format!("sources.omdb.base_url={}", sim.omdb_base_url()),
        format!("sources.tmdb.files_url={}", sim.files_base_url()),
        format!("database.url={url}"),
        format!("stages.catalog.limit={movies}"),
        "sources.tmdb.rate=40/s".to_owned(),
        "stages.omdb.enabled=false".to_owned(),
        "stages.post.enabled=false".to_owned(),
    ] {
        cmd.arg("--set").arg(set);
    }
    cmd.args(extra);
    let started = Instant::now();
    let out = tokio::task::block_in_place(|| cmd.output().unwrap());
    let outside = started.elapsed().as_secs_f64();
    assert!(
        out.status.code() == Some(0),
        "the run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let fetch = json["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == "catalog")
        .and_then(|s| s["wall_seconds"].as_f64())
        .unwrap_or(f64::NAN);
    let after = sim.stats();
    let by_address = after
        .by_address
        .iter()
        .map(|(a, n)| {
            (
                a.clone(),
                n - before.by_address.get(a).copied().unwrap_or(0),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    let m = Measured {
        fetch,
        wall: json["wall_seconds"].as_f64().unwrap_or(outside),
        movies: movies_in(url).await,
        by_address,
        rate_limited: after.rate_limited - before.rate_limited,
    };
    println!(
        "    fetch stage {:.1} s, run {:.1} s ({outside:.1} s with process start): {} movies, \
         {:.1} movies/s in the fetch stage; requests by address {:?}; {} answered 429",
        m.fetch,
        m.wall,
        m.movies,
        m.movies as f64 / m.fetch,
        m.by_address,
        m.rate_limited
    );
    m
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Ok(server) = std::env::var("POPCTL_TEST_PG") else {
        println!(
            "workers: POPCTL_TEST_PG is unset; run it as `scripts/with-pg cargo bench --bench workers`"
        );
        return;
    };
    let movies: u32 = std::env::var("POPCTL_BENCH_MOVIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000);
    let rounds: usize = std::env::var("POPCTL_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sim = sim::start(SandboxConfig {
            movies: (movies * 2).max(10_000),
            latency: Latency {
                min_ms: 80,
                max_ms: 80,
            },
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        sim.set_limits(
            Api::Tmdb,
            Some(RateLimit {
                rps: 40.0,
                burst: 40,
            }),
        );
        println!(
            "mirror fetch stage, {movies} movies, TMDB limited to 40/s per client address \
             (burst 40), 80 ms latency, PostgreSQL; {rounds} rounds alternating"
        );
        let four = [
            "--workers",
            "3",
            "--worker-address",
            "127.0.0.2",
            "--worker-address",
            "127.0.0.3",
            "--worker-address",
            "127.0.0.4",
        ];
        let mut ratios = Vec::new();
        for round in 0..rounds {
            println!("  round {}:", round + 1);
            let url = fresh_pg(&server, &format!("popctl_bench_w1_{}", std::process::id())).await;
            println!("   1 process:");
            let one = run(&sim, &url, movies, &[], dir.path()).await;
            let url = fresh_pg(&server, &format!("popctl_bench_w4_{}", std::process::id())).await;
            println!("   4 processes:");
            let many = run(&sim, &url, movies, &four, dir.path()).await;
            assert_eq!(one.movies, many.movies, "both hold the same movies");
            ratios.push((one.fetch / many.fetch, one.wall / many.wall));
        }
        for (i, (fetch, wall)) in ratios.iter().enumerate() {
            println!(
                "  round {}: 4 processes are {fetch:.2}× as fast in the fetch stage, {wall:.2}× over the run",
                i + 1
            );
        }
        sim.shutdown().await;
    });
}
