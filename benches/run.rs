//! `popctl run` end to end against the simulator, measured: the release `popctl` binary runs
//! shipped plans into a SQLite file while the simulator serves from this process.
//!
//! 1. `dev-200` with TMDB at 40/s and OMDb at 5/s (the plan's rates and the simulator's
//!    limits) and 30–150 ms latency: wall time, the floor the limits impose (the larger of
//!    TMDB requests / 40 and OMDb requests / 5, since the two overlap) and their ratio.
//! 2. `full-sequential` (the old way) under the same conditions, for the speedup.
//! 3. 2,000 and 10,000 movies with every limit lifted: movies per second and peak memory.
//! 4. The README's first command, `run plans/dev-200.toml --sandbox`, with the response cache
//!    cold and then warm: wall times and what the sandbox served.
//! 5. What the swap costs: the same import with `mode = "swap"` (into an empty database, then
//!    over live data) and `mode = "in_place"`, interleaved, with the swap's own time.
//! 6. Pacing at the rate floor: 2,000 movies from TMDB alone (dev-200's fetch stage, 100
//!    pages; OMDb and post-processing off) at the plan's 40/s, the simulator limiting TMDB to
//!    40/s (burst 40) with 80 ms latency on every answer: the run time against its floor
//!    (TMDB requests / 40). `POPCTL_BENCH_BASELINE=/path/to/popctl` runs another build of
//!    popctl (main's, say) too, alternating with this one, `POPCTL_BENCH_ROUNDS` times
//!    (default 2), and prints the ratios.
//! 7. The whole catalog at scale: `plans/mirror.toml` from a 100,000-movie simulator with
//!    every limit lifted, 10,000 movies (`limit`) and then all 100,000, into SQLite and (with
//!    `POPCTL_BENCH_PG`, a server with its default durability, `fsync` on) PostgreSQL: movies
//!    per second, peak memory, and each stage's time (the post-processing steps on the whole
//!    database among them).
//!
//! Every run prints each source's achieved rate against the plan's: the requests in the
//! whole seconds of its per-second series between its first and its last (those two,
//! partly idle, left out).
//!
//! `cargo bench --bench run`. `POPCTL_BENCH=limits|sequential|scale|cache|swap|pacing|mirror` runs one
//! part (default: all; the sequential run alone takes about four minutes). With
//! `POPCTL_TEST_PG` set (`scripts/with-pg cargo bench --bench run`) the scale runs also go to
//! PostgreSQL. Prints figures; asserts nothing about time.

#![expect(
    clippy::disallowed_methods,
    reason = "the bench prepares and reads back its database by SQL"
)]
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use popctl::sim::{self, Api, Latency, RateLimit, Sandbox, SandboxConfig};

mod support;

use support::{movies_in, root};

struct Measured {
    wall: f64,
    tmdb: u64,
    omdb: u64,
    rate_limited: u64,
    status: String,
    peak_rss: Option<u64>,
    /// How long the swap at the end took, when the run built a new database.
    swap: Option<f64>,
}

/// Runs `plan` against `sim` into `db_url` with `sets`, and reads the report it writes.
fn run(sim: &Sandbox, plan: &str, db_url: &str, sets: &[&str], dir: &Path) -> Measured {
    run_with(
        Path::new(env!("CARGO_BIN_EXE_popctl")),
        sim,
        plan,
        db_url,
        sets,
        dir,
    )
}

/// [`run`] with the popctl binary at `bin`.
fn run_with(
    bin: &Path,
    sim: &Sandbox,
    plan: &str,
    db_url: &str,
    sets: &[&str],
    dir: &Path,
) -> Measured {
    let report = dir.join("report.json");
    let mut cmd = Command::new(bin);
    cmd.current_dir(root())
        .args(["run", plan, "--quiet", "--cache", "off", "--report"])
        .arg(&report)
        .arg("--set")
        .arg(format!("sources.tmdb.base_url={}", sim.tmdb_base_url()))
        .arg("--set")
        .arg(format!("sources.omdb.base_url={}", sim.omdb_base_url()))
        .arg("--set")
        .arg(format!("database.url={db_url}"))
        .env("TMDB_API_KEY", sim.tmdb_key())
        .env("OMDB_API_KEY", sim.omdb_key())
        .env_remove("RUST_LOG")
        .env_remove("POPCTL_LOG");
    for set in sets {
        cmd.arg("--set").arg(set);
    }
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let outside = started.elapsed().as_secs_f64();
    assert!(
        out.status.code() == Some(0),
        "{plan} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let source = |name: &str, field: &str| json["sources"][name][field].as_u64().unwrap_or(0);
    for stage in json["stages"].as_array().into_iter().flatten() {
        if let Some(wall) = stage["wall_seconds"].as_f64().filter(|w| *w > 0.0) {
            println!(
                "      stage {}: {wall:.1} s",
                stage["name"].as_str().unwrap_or("?"),
            );
        }
    }
    let m = Measured {
        wall: json["wall_seconds"].as_f64().unwrap_or(outside),
        tmdb: source("tmdb", "requests"),
        omdb: source("omdb", "requests"),
        rate_limited: source("tmdb", "rate_limited") + source("omdb", "rate_limited"),
        status: json["status"].as_str().unwrap_or("?").to_owned(),
        peak_rss: json["peak_rss_bytes"].as_u64(),
        swap: json["new_database"]["swap_seconds"].as_f64(),
    };
    println!(
        "    {plan}: {:.1} s in the run ({outside:.1} s with process start), {} TMDB + {} OMDb requests, {} answered 429, status {}",
        m.wall, m.tmdb, m.omdb, m.rate_limited, m.status
    );
    for (name, s) in json["sources"].as_object().into_iter().flatten() {
        let configured = s["rate_per_second"].as_f64().unwrap_or(0.0);
        if let Some(achieved) = achieved_rate(&s["series"]) {
            println!(
                "      {name}: achieved {achieved:.2} requests/s of the configured {configured}/s ({:.1}%)",
                100.0 * achieved / configured
            );
        }
    }
    m
}

/// A source's requests per second over the whole seconds of its series between its first
/// and its last busy one, or `None` when there are none.
fn achieved_rate(series: &serde_json::Value) -> Option<f64> {
    let width = series["bucket_seconds"].as_f64()?;
    let requests: Vec<u64> = series["requests"]
        .as_array()?
        .iter()
        .map(|n| n.as_u64().unwrap_or(0))
        .collect();
    let first = requests.iter().position(|&n| n > 0)?;
    let last = requests.iter().rposition(|&n| n > 0)?;
    let inner = requests.get(first + 1..last)?;
    (!inner.is_empty()).then(|| inner.iter().sum::<u64>() as f64 / (inner.len() as f64 * width))
}

fn sqlite(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    format!("sqlite://{}?mode=rwc", path.display())
}

/// The simulator at the real APIs' pace: TMDB 40/s (burst 40), OMDb 5/s (burst 5), `latency`
/// on every answer.
async fn limited_sim(latency: Latency) -> Sandbox {
    let sim = sim::start(SandboxConfig {
        latency,
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
    sim.set_limits(Api::Omdb, Some(RateLimit { rps: 5.0, burst: 5 }));
    sim
}

fn floor(m: &Measured) -> f64 {
    (m.tmdb as f64 / 40.0).max(m.omdb as f64 / 5.0)
}

async fn limits(dir: &Path) -> f64 {
    println!("dev-200, TMDB 40/s, OMDb 5/s, latency 30–150 ms (sandbox limits the same)");
    let sim = limited_sim(Latency {
        min_ms: 30,
        max_ms: 150,
    })
    .await;
    let url = sqlite(dir, "dev200.db");
    let m = tokio::task::block_in_place(|| run(&sim, "plans/dev-200.toml", &url, &[], dir));
    let f = floor(&m);
    println!(
        "    floor max({} / 40, {} / 5) = {f:.1} s; wall / floor = {:.3}",
        m.tmdb,
        m.omdb,
        m.wall / f
    );
    m.wall
}

async fn sequential(dir: &Path) -> f64 {
    println!("full-sequential (the old way), same conditions");
    let sim = limited_sim(Latency {
        min_ms: 30,
        max_ms: 150,
    })
    .await;
    let url = sqlite(dir, "seq.db");
    let m = tokio::task::block_in_place(|| run(&sim, "plans/full-sequential.toml", &url, &[], dir));
    println!(
        "    floor of its requests at the rates: {:.1} s; wall / that floor = {:.3}",
        floor(&m),
        m.wall / floor(&m)
    );
    m.wall
}

async fn scale(dir: &Path) {
    println!("limits lifted (no latency, no server limits, rates 100000/s), dev-200's stages");
    let sim = sim::start(SandboxConfig::default()).await.unwrap();
    let mut targets = vec![("SQLite", None)];
    if let Ok(pg) = std::env::var("POPCTL_TEST_PG") {
        targets.push(("PostgreSQL", Some(pg)));
    }
    for (what, pg) in targets {
        for movies in [2_000u32, 10_000] {
            let pages = format!("stages.popular.pages={}", movies / 20);
            let sets = [
                pages.as_str(),
                "sources.tmdb.rate=100000/s",
                "sources.omdb.rate=100000/s",
                "sources.omdb.daily_quota=1000000",
            ];
            let url = match &pg {
                None => sqlite(dir, &format!("scale-{movies}.db")),
                Some(server) => fresh_pg(server, movies).await,
            };
            println!("  {what}, {movies} movies:");
            let m =
                tokio::task::block_in_place(|| run(&sim, "plans/dev-200.toml", &url, &sets, dir));
            let saved = movies_in(&url).await;
            println!(
                "    {saved} movies saved: {:.0} movies/s; peak memory {}",
                saved as f64 / m.wall,
                m.peak_rss
                    .map(|b| format!("{:.0} MB", b as f64 / 1e6))
                    .unwrap_or_else(|| "unknown".into())
            );
        }
    }
}

/// The whole catalog from a 100,000-movie simulator, limits lifted: 10,000 movies, then all.
async fn mirror(dir: &Path) {
    println!("plans/mirror.toml, 100,000-movie catalog, limits lifted (rates 100000/s)");
    let sim = sim::start(SandboxConfig {
        movies: 100_000,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let files = format!("sources.tmdb.files_url={}", sim.files_base_url());
    let mut targets = vec![("SQLite", None)];
    if let Ok(pg) = std::env::var("POPCTL_BENCH_PG") {
        targets.push(("PostgreSQL", Some(pg)));
    }
    // `POPCTL_BENCH_SIZES=100000` runs one size only.
    let sizes: Vec<u32> = std::env::var("POPCTL_BENCH_SIZES")
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|_| vec![10_000, 100_000]);
    for (what, pg) in &targets {
        for &movies in &sizes {
            let limit = format!("stages.catalog.limit={movies}");
            let sets = [
                files.as_str(),
                limit.as_str(),
                "sources.tmdb.rate=100000/s",
                "sources.omdb.rate=100000/s",
                "sources.omdb.daily_quota=1000000",
            ];
            let url = match pg {
                None => sqlite(dir, &format!("mirror-{movies}.db")),
                Some(server) => fresh_pg(server, movies).await,
            };
            println!("  {what}, {movies} movies:");
            let m =
                tokio::task::block_in_place(|| run(&sim, "plans/mirror.toml", &url, &sets, dir));
            let saved = movies_in(&url).await;
            println!(
                "    {saved} movies saved: {:.0} movies/s over the whole run; peak memory {}",
                saved as f64 / m.wall,
                m.peak_rss
                    .map(|b| format!("{:.0} MB", b as f64 / 1e6))
                    .unwrap_or_else(|| "unknown".into())
            );
            if pg.is_none() {
                std::fs::remove_file(dir.join(format!("mirror-{movies}.db"))).ok();
            }
        }
    }
}

/// What building beside the live data costs: the same import three times into one database,
/// interleaved — swap into a database that does not exist yet (SQLite: a rename), swap over
/// the live data (SQLite: a copy of popctl's tables into the live file in one transaction),
/// and the old way, dropping the live tables first (`mode = "in_place"`).
async fn swap(dir: &Path) {
    println!("swap vs in place (limits lifted, dev-200's stages)");
    let sim = sim::start(SandboxConfig::default()).await.unwrap();
    let mut targets = vec![("SQLite", None)];
    if let Ok(pg) = std::env::var("POPCTL_TEST_PG") {
        targets.push(("PostgreSQL", Some(pg)));
    }
    for (what, pg) in targets {
        for movies in [2_000u32, 10_000] {
            let pages = format!("stages.popular.pages={}", movies / 20);
            let url = match &pg {
                None => sqlite(dir, &format!("swap-{movies}.db")),
                Some(server) => fresh_pg(server, movies).await,
            };
            println!("  {what}, {movies} movies:");
            for (label, mode) in [
                ("swap, no live data yet", "swap"),
                ("swap over the live data", "swap"),
                ("in place", "in_place"),
                ("swap over the live data", "swap"),
            ] {
                let mode = format!("stages.reset.mode={mode}");
                let sets = [
                    pages.as_str(),
                    mode.as_str(),
                    "sources.tmdb.rate=100000/s",
                    "sources.omdb.rate=100000/s",
                    "sources.omdb.daily_quota=1000000",
                ];
                let m = tokio::task::block_in_place(|| {
                    run(&sim, "plans/dev-200.toml", &url, &sets, dir)
                });
                match m.swap {
                    Some(s) => println!(
                        "    {label}: run {:.1} s, of which the swap {s:.2} s ({:.1}%)",
                        m.wall,
                        100.0 * s / m.wall
                    ),
                    None => println!("    {label}: run {:.1} s", m.wall),
                }
            }
        }
    }
}

/// Issue 14's pacing case: 2,000 movies from TMDB alone at 40/s against a server allowing 40/s
/// with 80 ms latency, where the rate, not the server or the store, sets the pace.
async fn pacing(dir: &Path) {
    println!(
        "pacing: 2,000 movies from TMDB alone, plan 40/s, sandbox 40/s (burst 40), 80 ms latency, SQLite"
    );
    let sim = limited_sim(Latency {
        min_ms: 80,
        max_ms: 80,
    })
    .await;
    let sets = [
        "stages.popular.pages=100",
        "stages.omdb.enabled=false",
        "stages.post.enabled=false",
    ];
    let this = PathBuf::from(env!("CARGO_BIN_EXE_popctl"));
    let baseline = std::env::var_os("POPCTL_BENCH_BASELINE").map(PathBuf::from);
    let rounds: usize = std::env::var("POPCTL_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    let mut ratios: Vec<(&str, f64)> = Vec::new();
    // The default pace (`burst = 1`: no window over 40), and a burst of 10 paying stalls back.
    let burst: &[&str] = &["sources.tmdb.burst=10"];
    for round in 0..rounds {
        let mut builds: Vec<(&str, &PathBuf, &[&str])> = vec![
            ("this build", &this, &[]),
            ("this build, burst 10", &this, burst),
        ];
        if let Some(b) = &baseline {
            builds.push(("baseline", b, &[]));
        }
        // Rotate which goes first, so none always meets the machine in the same state.
        let n = builds.len();
        builds.rotate_left(round % n);
        for (label, bin, extra) in builds {
            println!("  {label} (round {}):", round + 1);
            let url = sqlite(dir, "pacing.db");
            let all: Vec<&str> = sets.iter().chain(extra).copied().collect();
            let m = tokio::task::block_in_place(|| {
                run_with(bin, &sim, "plans/dev-200.toml", &url, &all, dir)
            });
            let floor = m.tmdb as f64 / 40.0;
            let ratio = m.wall / floor;
            println!(
                "    floor {} / 40 = {floor:.1} s; wall / floor = {ratio:.3}",
                m.tmdb
            );
            ratios.push((label, ratio));
        }
    }
    for label in ["this build", "this build, burst 10", "baseline"] {
        let mine: Vec<String> = ratios
            .iter()
            .filter(|(l, _)| *l == label)
            .map(|(_, r)| format!("{r:.3}"))
            .collect();
        if !mine.is_empty() {
            println!("  {label}: wall / floor {}", mine.join(", "));
        }
    }
}

/// `popctl run plans/dev-200.toml --sandbox` as the README gives it, into `db_url`, with the
/// response cache in `cache_dir`: the run's wall time, with process start, and the TMDB and
/// OMDb requests the sandbox served.
fn sandbox_run(db_url: &str, cache_dir: &Path, dir: &Path) -> (f64, f64, u64, u64) {
    let report = dir.join("sandbox-report.json");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_popctl"))
        .current_dir(root())
        .args([
            "run",
            "plans/dev-200.toml",
            "--sandbox",
            "--quiet",
            "--report",
        ])
        .arg(&report)
        .env("DATABASE_URL", db_url)
        .env("POPCTL_CACHE__DIR", cache_dir)
        .env_remove("RUST_LOG")
        .env_remove("POPCTL_LOG")
        .output()
        .unwrap();
    let outside = started.elapsed().as_secs_f64();
    assert!(
        out.status.code() == Some(0),
        "dev-200 --sandbox failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let served = |api: &str| json["sandbox_served"][api].as_u64().unwrap_or(0);
    (
        json["wall_seconds"].as_f64().unwrap_or(outside),
        outside,
        served("tmdb"),
        served("omdb"),
    )
}

fn cache(dir: &Path) {
    println!("run plans/dev-200.toml --sandbox (the plan's rates: TMDB 40/s, OMDb 5/s), SQLite");
    let cache_dir = dir.join("cache");
    let _ = std::fs::remove_dir_all(&cache_dir);
    let passes = ["cold", "warm", "warm", "warm"];
    for (i, pass) in passes.iter().enumerate() {
        let url = sqlite(dir, &format!("cache-{i}.db"));
        let (wall, outside, tmdb, omdb) = sandbox_run(&url, &cache_dir, dir);
        println!(
            "    {pass}: {wall:.2} s in the run ({outside:.2} s with process start); the sandbox served {tmdb} TMDB + {omdb} OMDb requests"
        );
    }
}

/// A new database on the PostgreSQL server at `server`, for a run of `movies` movies.
async fn fresh_pg(server: &str, movies: u32) -> String {
    support::fresh_pg(
        server,
        &format!("popctl_bench_run_{}_{movies}", std::process::id()),
    )
    .await
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let part = std::env::var("POPCTL_BENCH").unwrap_or_default();
    let want = |p: &str| part.is_empty() || part == p;
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut fast = None;
        if want("limits") {
            fast = Some(limits(dir.path()).await);
        }
        if want("sequential") {
            let slow = sequential(dir.path()).await;
            if let Some(fast) = fast {
                println!(
                    "    speedup of dev-200 over full-sequential: {:.1}×",
                    slow / fast
                );
            }
        }
        if want("scale") {
            scale(dir.path()).await;
        }
        if want("cache") {
            tokio::task::block_in_place(|| cache(dir.path()));
        }
        if want("swap") {
            swap(dir.path()).await;
        }
        if want("pacing") {
            pacing(dir.path()).await;
        }
        if want("mirror") {
            mirror(dir.path()).await;
        }
    });
}
