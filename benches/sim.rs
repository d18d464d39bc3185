//! Throughput of the sandbox on loopback, latency and faults off: many concurrent reqwest
//! clients replay an importer-like mix of requests and the figures are printed.
//!
//! `cargo bench --bench sim` (release build). `SIM_BENCH_REQUESTS` sets the requests per
//! scenario (default 40,000), `SIM_BENCH_CONCURRENCY` the concurrent requests (default 64).
//! Client and server share the machine's cores, so these are lower bounds for the server.
//!
//! Last, the daily movie ID export of a catalog of `SIM_BENCH_EXPORT_MOVIES` (default
//! 1,000,000) is downloaded and decompressed as a stream: its size, speed, and how much it
//! raised the process's peak memory (Linux `VmHWM`, reset first through `clear_refs`).

#![expect(
    clippy::disallowed_methods,
    reason = "the bench drives the simulator with plain clients, to measure the server alone"
)]
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use popctl::sim::{self, Catalog, ListKind, SandboxConfig};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An importer's traffic: details with appended parts, plain details, list pages, discover,
/// and OMDb lookups, spread over the whole catalog.
fn importer_mix(catalog: &Catalog, tmdb: &str, omdb: &str, n: usize) -> Vec<String> {
    let ids: Vec<u32> = catalog.entries().iter().map(|e| e.id).collect();
    let imdb: Vec<String> = catalog
        .entries()
        .iter()
        .filter_map(|e| e.imdb_id.clone())
        .collect();
    let popular = catalog.list_ids(ListKind::Popular);
    (0..n)
        .map(|i| {
            let id = ids[(i * 7919) % ids.len()];
            match i % 20 {
                0..=7 => format!(
                    "{tmdb}/movie/{id}?api_key=sandbox&append_to_response=credits,keywords,videos,release_dates,external_ids"
                ),
                8..=11 => format!("{tmdb}/movie/{id}?api_key=sandbox"),
                12 | 13 => format!(
                    "{tmdb}/movie/popular?api_key=sandbox&page={}",
                    1 + i % 500.min(popular.len() / 20)
                ),
                14 => format!("{tmdb}/movie/top_rated?api_key=sandbox&page={}", 1 + i % 20),
                15 => format!(
                    "{tmdb}/discover/movie?api_key=sandbox&sort_by=vote_average.desc&vote_count.gte=200&page={}",
                    1 + i % 10
                ),
                _ => format!("{omdb}/?i={}&apikey=sandbox", imdb[(i * 31) % imdb.len()]),
            }
        })
        .collect()
}

struct Run {
    requests: usize,
    bytes: usize,
    errors: usize,
    elapsed: Duration,
}

async fn replay(urls: Arc<Vec<String>>, concurrency: usize) -> Run {
    let clients: Vec<reqwest::Client> = (0..8)
        .map(|_| {
            reqwest::Client::builder()
                .pool_max_idle_per_host(concurrency)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap()
        })
        .collect();
    let next = Arc::new(AtomicUsize::new(0));
    let bytes = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (urls, next, bytes, errors) =
                (urls.clone(), next.clone(), bytes.clone(), errors.clone());
            let client = clients[w % clients.len()].clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(url) = urls.get(i) else { break };
                    match client.get(url).send().await {
                        Ok(resp) if resp.status().is_success() => match resp.bytes().await {
                            Ok(b) => {
                                bytes.fetch_add(b.len(), Ordering::Relaxed);
                            }
                            Err(_) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        },
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    Run {
        requests: urls.len(),
        bytes: bytes.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
    }
}

fn print(name: &str, run: &Run) {
    let secs = run.elapsed.as_secs_f64();
    println!(
        "{name:<34} {:>7} requests in {secs:>6.2} s = {:>8.0} requests/s, {:>6.1} MB/s, avg body {:>6.0} B, errors {}",
        run.requests,
        run.requests as f64 / secs,
        run.bytes as f64 / secs / 1e6,
        run.bytes as f64 / run.requests.max(1) as f64,
        run.errors
    );
}

/// Counts the lines and bytes of the decompressed export as they come.
#[derive(Default)]
struct CountLines {
    lines: u64,
    bytes: u64,
}

impl Write for CountLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn export(movies: u32) {
    let t = Instant::now();
    let sandbox = sim::start(SandboxConfig {
        movies,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let built = t.elapsed();
    // The peak from here on is what the download adds (Linux; elsewhere no figure).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = popctl::mem::peak_rss_bytes();
    let url = format!(
        "{}{}{}",
        sandbox.files_base_url(),
        sim::export::PREFIX,
        sim::export::file_name(sandbox.catalog().today())
    );
    let t = Instant::now();
    let mut resp = reqwest::Client::new().get(&url).send().await.unwrap();
    let mut gz = flate2::write::GzDecoder::new(CountLines::default());
    let mut compressed = 0u64;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        compressed += chunk.len() as u64;
        gz.write_all(&chunk).unwrap();
    }
    let CountLines {
        lines,
        bytes: lines_bytes,
    } = gz.finish().unwrap();
    let secs = t.elapsed().as_secs_f64();
    let growth = match (reset, before, popctl::mem::peak_rss_bytes()) {
        (true, Some(b), Some(a)) => format!("{:.1} MB", (a - b) as f64 / 1e6),
        _ => "unknown".to_string(),
    };
    println!(
        "export of {movies} movies (index built in {:.1} s): {lines} lines, {:.1} MB of lines as {:.1} MB gzip in {secs:.2} s = {:.0} lines/s; peak memory +{growth} while served",
        built.as_secs_f64(),
        lines_bytes as f64 / 1e6,
        compressed as f64 / 1e6,
        lines as f64 / secs,
    );
    sandbox.shutdown().await;
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let requests = env_or("SIM_BENCH_REQUESTS", 40_000);
    let concurrency = env_or("SIM_BENCH_CONCURRENCY", 64);
    println!(
        "sandbox throughput on loopback: {requests} requests per scenario, {concurrency} concurrent, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    for movies in [10_000u32, 100_000] {
        let t = Instant::now();
        let catalog = Catalog::generate(42, movies, sim::SandboxConfig::default().today);
        println!(
            "catalog index of {movies:>7} movies built in {:>7.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        drop(catalog);
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sandbox = sim::start(SandboxConfig::default()).await.unwrap();
        let tmdb = sandbox.tmdb_base_url();
        let omdb = sandbox.omdb_base_url();

        // Warm the connection pools and the allocator.
        let warm = importer_mix(sandbox.catalog(), &tmdb, &omdb, 2_000);
        replay(Arc::new(warm), concurrency).await;

        let small: Vec<String> = (0..requests)
            .map(|_| format!("{tmdb}/genre/movie/list?api_key=sandbox"))
            .collect();
        print(
            "small bodies (genre list)",
            &replay(Arc::new(small), concurrency).await,
        );

        let mix = importer_mix(sandbox.catalog(), &tmdb, &omdb, requests);
        print("importer mix", &replay(Arc::new(mix), concurrency).await);

        let heavy: Vec<String> = importer_mix(sandbox.catalog(), &tmdb, &omdb, requests * 20 / 8)
            .into_iter()
            .filter(|u| u.contains("append_to_response"))
            .take(requests)
            .collect();
        print(
            "details + 5 appended parts",
            &replay(Arc::new(heavy), concurrency).await,
        );

        let stats = sandbox.stats();
        println!(
            "sandbox counted {} requests, {} in flight at most",
            stats.requests, stats.max_in_flight
        );
        sandbox.shutdown().await;

        export(env_or("SIM_BENCH_EXPORT_MOVIES", 1_000_000) as u32).await;
    });
}
