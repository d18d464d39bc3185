//! What the response cache costs and saves: dev-200-like traffic (movie details with five
//! appended parts, list pages, OMDb lookups) through the real `SourceClient` against the
//! sandbox on loopback, without a cache, cold (every answer fetched and stored) and warm (a
//! rerun: every answer read from disk); then the cache's own lookup and store times.
//!
//! `cargo bench --bench cache` (release build). `CACHE_BENCH_MOVIES` sets the movies
//! (default 200), `CACHE_BENCH_CONCURRENCY` the requests in flight (default 8, as dev-200).
//! Rates are set far above the plans' so the figures show HTTP and disk, not the pacing; a
//! real cold run is bounded by TMDB's 40/s and OMDb's 5/s instead.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use popctl::plan::{
    Backoff, CacheConfig, CacheMode, Interpolated, Rate, RetryPolicy, SourceConfig, SourceKind,
};
use popctl::sim::{self, ListKind, Sandbox, SandboxConfig};
use popctl::sources::cache::{Lookup, SourceCache, dir};
use popctl::sources::http::SourceClient;
use popctl::sources::retry::Retrier;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

type Request = (SourceKind, String, Vec<(&'static str, String)>);

/// What dev-200 asks: 10 popular pages, details of each movie, OMDb for each IMDb id.
fn dev_requests(s: &Sandbox, movies: usize) -> Vec<Request> {
    let ids = s.catalog().list_ids(ListKind::Popular);
    let mut out: Vec<Request> = (1..=movies.div_ceil(20))
        .map(|p| {
            (
                SourceKind::Tmdb,
                "movie/popular".to_string(),
                vec![("page", p.to_string())],
            )
        })
        .collect();
    for id in ids.iter().take(movies) {
        out.push((
            SourceKind::Tmdb,
            format!("movie/{id}"),
            vec![(
                "append_to_response",
                "credits,keywords,videos,release_dates,external_ids".to_string(),
            )],
        ));
        if let Some(imdb) = s.catalog().entries().iter().find(|e| e.id == *id)
            && let Some(i) = &imdb.imdb_id
        {
            out.push((SourceKind::Omdb, String::new(), vec![("i", i.clone())]));
        }
    }
    out
}

fn source(kind: SourceKind, base_url: String) -> SourceConfig {
    SourceConfig {
        rate_scope: popctl::plan::RateScope::Worker,
        burst: 1,
        name: kind.as_str().to_string(),
        kind,
        api_key: Interpolated::Value(popctl::secret::Secret::new("sandbox")),
        api_key_var: None,
        base_url,
        rate: Rate {
            count: 100_000,
            per: Duration::from_secs(1),
        },
        timeout: Duration::from_secs(30),
        daily_quota: None,
        max_body: kind.default_max_body(),
        max_rate_limited_wait: popctl::plan::DEFAULT_MAX_RATE_LIMITED_WAIT,
        store_raw: true,
        files_url: popctl::plan::DEFAULT_FILES_URL.to_string(),
        language: None,
        region: None,
    }
}

fn clients(s: &Sandbox, cache: Option<&CacheConfig>) -> BTreeMap<SourceKind, SourceClient> {
    [
        (SourceKind::Tmdb, s.tmdb_base_url()),
        (SourceKind::Omdb, s.omdb_base_url()),
    ]
    .into_iter()
    .map(|(kind, url)| {
        let config = source(kind, url);
        let mut c =
            SourceClient::new(&config, Some(popctl::secret::Secret::new("sandbox"))).unwrap();
        if let Some(cache) = cache {
            let sc = SourceCache::open(cache, &config).unwrap().unwrap();
            c = c.with_cache(Arc::new(sc));
        }
        (kind, c)
    })
    .collect()
}

async fn pass(
    clients: &BTreeMap<SourceKind, SourceClient>,
    requests: &[Request],
    concurrency: usize,
) -> Duration {
    let retrier = Retrier::new(RetryPolicy {
        attempts: 3,
        backoff: Backoff::Fixed,
        initial: Duration::from_millis(10),
        max: Duration::from_millis(10),
        jitter: false,
    });
    let start = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(requests)
        .map(|(kind, path, query)| {
            let c = &clients[kind];
            let retrier = &retrier;
            async move { c.get(path, query, retrier).await.unwrap().status }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200));
    start.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn line(name: &str, d: Duration, n: usize, upstream: u64) {
    println!(
        "{name:<26} {:>9.1} ms  {:>8.1} µs/request  {upstream:>5} upstream requests",
        ms(d),
        d.as_secs_f64() * 1e6 / n as f64
    );
}

/// Sequential lookups and stores of every entry, straight on `SourceCache`.
fn raw_cache_times(root: &Path, s: &Sandbox, requests: &[Request]) {
    let config = CacheConfig {
        mode: CacheMode::ReadWrite,
        dir: root.to_path_buf(),
        ttl: BTreeMap::new(),
        default_ttl: Duration::from_secs(86_400),
        negative_ttl: Duration::from_secs(86_400),
    };
    let tmdb = SourceCache::open(&config, &source(SourceKind::Tmdb, s.tmdb_base_url()))
        .unwrap()
        .unwrap();
    let omdb = SourceCache::open(&config, &source(SourceKind::Omdb, s.omdb_base_url()))
        .unwrap()
        .unwrap();
    let keyed: Vec<_> = requests
        .iter()
        .map(|(kind, path, query)| {
            let c = if *kind == SourceKind::Tmdb {
                &tmdb
            } else {
                &omdb
            };
            (c, c.key(path, query))
        })
        .collect();
    let start = Instant::now();
    let mut bodies = Vec::new();
    for (c, key) in &keyed {
        match c.lookup(key) {
            Lookup::Hit(h) => bodies.push((h.status, h.body)),
            Lookup::Miss(m) => panic!("{m:?}"),
        }
    }
    let lookups = start.elapsed();
    let scratch = tempfile::tempdir().unwrap();
    let scratch_config = CacheConfig {
        dir: scratch.path().to_path_buf(),
        ..config
    };
    let store = SourceCache::open(
        &scratch_config,
        &source(SourceKind::Tmdb, s.tmdb_base_url()),
    )
    .unwrap()
    .unwrap();
    let start = Instant::now();
    for ((_, key), (status, body)) in keyed.iter().zip(&bodies) {
        assert!(store.store(
            key,
            *status,
            body,
            popctl::sources::cache::Verdict::Positive
        ));
    }
    let stores = start.elapsed();
    let n = keyed.len() as f64;
    println!(
        "one thread, {} entries: lookup {:.1} µs/entry, store {:.1} µs/entry",
        keyed.len(),
        lookups.as_secs_f64() * 1e6 / n,
        stores.as_secs_f64() * 1e6 / n
    );
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let movies = env_or("CACHE_BENCH_MOVIES", 200);
    let concurrency = env_or("CACHE_BENCH_CONCURRENCY", 8);
    let s = sim::start(SandboxConfig::default()).await.unwrap();
    let requests = dev_requests(&s, movies);
    let n = requests.len();
    println!(
        "{n} requests ({movies} movies), {concurrency} in flight, sandbox of {} movies",
        s.catalog().entries().len()
    );
    let dir = tempfile::tempdir().unwrap();
    let cache = CacheConfig {
        mode: CacheMode::ReadWrite,
        dir: dir.path().to_path_buf(),
        ttl: BTreeMap::new(),
        default_ttl: Duration::from_secs(86_400),
        negative_ttl: Duration::from_secs(86_400),
    };

    let upstream = |s: &Sandbox| s.stats().requests;
    let before = upstream(&s);
    let d = pass(&clients(&s, None), &requests, concurrency).await;
    line("no cache", d, n, upstream(&s) - before);
    let before = upstream(&s);
    let cold = clients(&s, Some(&cache));
    let d = pass(&cold, &requests, concurrency).await;
    line("cold (fetch + store)", d, n, upstream(&s) - before);
    for run in 1..=3 {
        let before = upstream(&s);
        let warm = clients(&s, Some(&cache));
        let d = pass(&warm, &requests, concurrency).await;
        line(&format!("warm rerun {run}"), d, n, upstream(&s) - before);
        let hits: u64 = warm.values().map(|c| c.cache_totals().unwrap().hits).sum();
        assert_eq!(hits as usize, n);
    }

    let stats = dir::stats(dir.path(), None, std::time::SystemTime::now()).unwrap();
    for st in &stats {
        println!(
            "{:<5} {:>5} entries, {:>9} bytes on disk for {:>10} bytes of bodies ({:.1}x)",
            st.source,
            st.entries,
            st.bytes,
            st.body_bytes,
            st.body_bytes as f64 / st.bytes.max(1) as f64
        );
    }
    raw_cache_times(dir.path(), &s, &requests);
    s.shutdown().await;
}
