//! The response cache in front of the real HTTP client, against the simulator over loopback,
//! with real files: hits cost no request, damage is refetched, TTLs come from an injected
//! clock, errors are never kept, and no credential reaches the cache directory.

// Test helpers panic with the failure in hand, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use popctl::plan::{
    Backoff, CacheConfig, CacheMode, Interpolated, Rate, RetryPolicy, SourceConfig, SourceKind,
};
use popctl::sim::{self, Api, Faults, RateLimit, Sandbox, SandboxConfig};
use popctl::sources::cache::{Clock, Lookup, SourceCache, Verdict, entry};
use popctl::sources::http::{HttpError, Reply, SourceClient};
use popctl::sources::retry::Retrier;

const DAY: Duration = Duration::from_secs(86_400);

async fn sandbox(config: SandboxConfig) -> Sandbox {
    sim::start(SandboxConfig {
        movies: 500,
        ..config
    })
    .await
    .expect("the sandbox starts")
}

pub fn source(kind: SourceKind, base_url: String) -> SourceConfig {
    SourceConfig {
        rate_scope: popctl::plan::RateScope::Worker,
        burst: 1,
        name: kind.as_str().to_string(),
        kind,
        api_key: Interpolated::Value(popctl::secret::Secret::new("unused")),
        api_key_var: None,
        base_url,
        rate: Rate {
            count: 1000,
            per: Duration::from_secs(1),
        },
        timeout: Duration::from_secs(10),
        daily_quota: None,
        max_body: kind.default_max_body(),
        max_rate_limited_wait: popctl::plan::DEFAULT_MAX_RATE_LIMITED_WAIT,
        store_raw: true,
        files_url: popctl::plan::DEFAULT_FILES_URL.to_string(),
        language: None,
        region: None,
    }
}

/// TTLs as in `plans/base.toml`: TMDB a day, OMDb a week, negative answers a day.
pub fn cache_config(dir: &Path, mode: CacheMode) -> CacheConfig {
    CacheConfig {
        mode,
        dir: dir.to_path_buf(),
        ttl: BTreeMap::from([("tmdb".to_string(), DAY), ("omdb".to_string(), 7 * DAY)]),
        default_ttl: DAY,
        negative_ttl: DAY,
    }
}

/// A clock the test moves by hand; starts at the real time.
fn manual_clock() -> (Clock, Arc<Mutex<SystemTime>>) {
    let now = Arc::new(Mutex::new(SystemTime::now()));
    let read = Arc::clone(&now);
    (Arc::new(move || *read.lock().unwrap()), now)
}

fn client(
    config: &SourceConfig,
    key: &str,
    cache: &CacheConfig,
    clock: Option<Clock>,
) -> SourceClient {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut c = SourceCache::open(cache, config).unwrap().unwrap();
    if let Some(clock) = clock {
        c = c.with_clock(clock);
    }
    SourceClient::new(config, Some(popctl::secret::Secret::new(key)))
        .unwrap()
        .with_cache(Arc::new(c))
}

fn tmdb_client(s: &Sandbox, cache: &CacheConfig) -> SourceClient {
    client(
        &source(SourceKind::Tmdb, s.tmdb_base_url()),
        s.tmdb_key(),
        cache,
        None,
    )
}

fn omdb_client(s: &Sandbox, cache: &CacheConfig, clock: Option<Clock>) -> SourceClient {
    client(
        &source(SourceKind::Omdb, s.omdb_base_url()),
        s.omdb_key(),
        cache,
        clock,
    )
}

/// Quick retries and a short cap on `Retry-After`, so a test never waits on the server.
fn retrier(attempts: u32) -> Retrier {
    let mut r = Retrier::new(RetryPolicy {
        attempts,
        backoff: Backoff::Fixed,
        initial: Duration::from_millis(1),
        max: Duration::from_millis(5),
        jitter: false,
    });
    r.max_server_wait = Duration::from_millis(5);
    r
}

fn q(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

async fn get(c: &SourceClient, path: &str, query: &[(&'static str, String)]) -> Reply {
    c.get(path, query, &retrier(3)).await.unwrap()
}

/// Every file below `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Entry files (not the CACHEDIR.TAG, not temporary files).
fn entries_under(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.file_name().unwrap().len() == 62)
        .collect()
}

fn some_ids(s: &Sandbox, n: usize) -> Vec<u32> {
    s.catalog().entries().iter().take(n).map(|e| e.id).collect()
}

#[tokio::test]
async fn a_second_identical_request_makes_no_upstream_request() {
    let s = sandbox(SandboxConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let c = tmdb_client(&s, &cache_config(dir.path(), CacheMode::ReadWrite));
    let id = some_ids(&s, 1)[0];
    let path = format!("movie/{id}");
    let query = q(&[
        ("append_to_response", "credits,keywords"),
        ("language", "en-US"),
    ]);

    let first = get(&c, &path, &query).await;
    assert_eq!(first.status, 200);
    assert!(!first.from_cache());
    assert_eq!(s.stats().tmdb.requests, 1);

    // The same question in another parameter order is the same key.
    let reordered = q(&[
        ("language", "en-US"),
        ("append_to_response", "credits,keywords"),
    ]);
    let second = get(&c, &path, &reordered).await;
    assert!(second.from_cache());
    assert_eq!(second.status, 200);
    assert_eq!(second.body, first.body, "the cache gives back the raw body");
    assert_eq!(s.stats().tmdb.requests, 1, "the simulator saw one request");
    assert_eq!(c.totals().requests, 1);

    // A client started later (a rerun) finds it on disk, as does a clone.
    let rerun = tmdb_client(&s, &cache_config(dir.path(), CacheMode::ReadWrite));
    assert!(get(&rerun, &path, &query).await.from_cache());
    assert!(get(&rerun.clone(), &path, &query).await.from_cache());
    // Another question is not.
    let other = get(&c, &path, &q(&[("language", "de-DE")])).await;
    assert!(!other.from_cache());
    assert_eq!(s.stats().tmdb.requests, 2);

    let t = c.cache_totals().unwrap();
    assert_eq!((t.hits, t.misses, t.stores, t.corrupt), (1, 2, 2, 0));
    assert!(t.bytes_written > 0 && t.bytes_read > 0);
    let bodies = (first.body.len() + other.body.len()) as u64;
    assert!(
        t.bytes_written < bodies,
        "entries are compressed: {} bytes written for {bodies} bytes of bodies",
        t.bytes_written,
    );
    assert_eq!(rerun.cache_totals().unwrap().hits, 2);
    // A handle without the cache shares the source but always asks.
    assert!(!get(&c.without_cache(), &path, &query).await.from_cache());
    assert_eq!(s.stats().tmdb.requests, 3);
    s.shutdown().await;
}

#[tokio::test]
async fn a_damaged_entry_is_ignored_counted_and_refetched() {
    let s = sandbox(SandboxConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = cache_config(dir.path(), CacheMode::ReadWrite);
    let c = tmdb_client(&s, &config);
    let ids = some_ids(&s, 3);
    let mut originals = Vec::new();
    for id in &ids {
        originals.push(get(&c, &format!("movie/{id}"), &[]).await.body);
    }
    let cache = c.cache().unwrap();
    let path_of = |id: u32| cache.path_of(&cache.key(&format!("movie/{id}"), &[]));
    // Torn (cut short), one flipped bit in the middle, and emptied.
    let torn = std::fs::read(path_of(ids[0])).unwrap();
    std::fs::write(path_of(ids[0]), &torn[..torn.len() / 2]).unwrap();
    let mut flipped = std::fs::read(path_of(ids[1])).unwrap();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x08;
    std::fs::write(path_of(ids[1]), &flipped).unwrap();
    std::fs::write(path_of(ids[2]), b"").unwrap();

    let before = s.stats().tmdb.requests;
    for (id, original) in ids.iter().zip(&originals) {
        let again = get(&c, &format!("movie/{id}"), &[]).await;
        assert!(!again.from_cache(), "a damaged entry must not answer");
        assert_eq!(&again.body, original, "the refetch gives the real answer");
    }
    assert_eq!(s.stats().tmdb.requests, before + 3);
    assert_eq!(c.cache_totals().unwrap().corrupt, 3);
    // The refetched answers replaced the damaged files.
    for (id, original) in ids.iter().zip(&originals) {
        let hit = get(&c, &format!("movie/{id}"), &[]).await;
        assert!(hit.from_cache());
        assert_eq!(&hit.body, original);
    }
    assert_eq!(s.stats().tmdb.requests, before + 3);
    s.shutdown().await;
}

#[tokio::test]
async fn entries_expire_by_the_source_ttl_and_negative_ones_by_negative_ttl() {
    let s = sandbox(SandboxConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (clock, now) = manual_clock();
    let c = omdb_client(
        &s,
        &cache_config(dir.path(), CacheMode::ReadWrite),
        Some(clock),
    );
    let entry = s
        .catalog()
        .entries()
        .iter()
        .find(|e| e.omdb_has_data && e.imdb_id.is_some())
        .unwrap();
    let found = q(&[("i", entry.imdb_id.as_deref().unwrap())]);
    // Well-formed but unknown: OMDb's "Error getting data." at HTTP 200.
    let unknown = q(&[("i", "tt9999999")]);
    let requests = || s.stats().omdb.requests;

    assert!(!get(&c, "", &found).await.from_cache());
    let no_data = get(&c, "", &unknown).await;
    assert_eq!(no_data.status, 200);
    assert!(String::from_utf8_lossy(&no_data.body).contains("Error getting data."));
    assert!(get(&c, "", &found).await.from_cache());
    assert!(
        get(&c, "", &unknown).await.from_cache(),
        "negative answers are kept"
    );
    assert_eq!(requests(), 2);

    // A day and a second later: the negative TTL (1 day) is over, OMDb's 7 days are not.
    *now.lock().unwrap() += DAY + Duration::from_secs(1);
    assert!(get(&c, "", &found).await.from_cache());
    assert!(!get(&c, "", &unknown).await.from_cache());
    assert_eq!(requests(), 3);
    // The refetched negative answer was stored again, stamped with the new time.
    assert!(get(&c, "", &unknown).await.from_cache());

    // A week later the positive one expires too.
    *now.lock().unwrap() += 6 * DAY;
    assert!(!get(&c, "", &found).await.from_cache());
    assert_eq!(requests(), 4);
    assert_eq!(c.cache_totals().unwrap().expired, 2);
    s.shutdown().await;
}

#[tokio::test]
async fn sandbox_runs_share_entries_whatever_their_port_and_never_with_the_real_api() {
    let config = SandboxConfig {
        seed: 7,
        movies: 300,
        ..SandboxConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_config(dir.path(), CacheMode::ReadWrite);
    let sandbox_client = |s: &Sandbox| {
        let src = source(SourceKind::Tmdb, s.tmdb_base_url());
        let c = SourceCache::open(&cache, &src)
            .unwrap()
            .unwrap()
            .with_origin(config.cache_origin());
        SourceClient::new(&src, Some(popctl::secret::Secret::new(s.tmdb_key())))
            .unwrap()
            .with_cache(Arc::new(c))
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cold = sim::start(config.clone()).await.unwrap();
    let path = format!("movie/{}", some_ids(&cold, 1)[0]);
    let fetched = get(&sandbox_client(&cold), &path, &[]).await;
    assert!(!fetched.from_cache());
    cold.shutdown().await;

    // The next run's sandbox listens elsewhere and serves the same bodies.
    let warm = sim::start(config.clone()).await.unwrap();
    let again = get(&sandbox_client(&warm), &path, &[]).await;
    assert!(again.from_cache());
    assert_eq!(again.body, fetched.body);
    assert_eq!(warm.stats().requests, 0);
    // Keyed by its base URL, a client of the same source does not see sandbox answers.
    assert!(
        !get(&tmdb_client(&warm, &cache), &path, &[])
            .await
            .from_cache()
    );
    // Nor does a sandbox with another catalog.
    let other = SandboxConfig {
        seed: 8,
        ..config.clone()
    };
    assert_ne!(other.cache_origin(), config.cache_origin());
    warm.shutdown().await;
}

#[tokio::test]
async fn tmdb_404_is_kept_as_a_negative_answer() {
    let s = sandbox(SandboxConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let c = tmdb_client(&s, &cache_config(dir.path(), CacheMode::ReadWrite));
    let missing = "movie/987654321";
    assert_eq!(get(&c, missing, &[]).await.status, 404);
    let again = get(&c, missing, &[]).await;
    assert!(again.from_cache());
    assert_eq!(again.status, 404);
    assert!(String::from_utf8_lossy(&again.body).contains("status_code"));
    assert_eq!(s.stats().count("GET /3/movie/{id}", 404), 1);
    let cache = c.cache().unwrap();
    let bytes = std::fs::read(cache.path_of(&cache.key(missing, &[]))).unwrap();
    let stored = entry::decode(&bytes).unwrap();
    assert!(stored.meta.negative);
    assert_eq!(stored.meta.status, 404);
    s.shutdown().await;
}

#[tokio::test]
async fn server_errors_rate_limits_and_key_errors_are_never_kept() {
    let s = sandbox(SandboxConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = cache_config(dir.path(), CacheMode::ReadWrite);
    let c = tmdb_client(&s, &config);
    let ids = some_ids(&s, 3);

    // 5xx: every try fails, the client gives up, nothing is stored.
    s.set_faults(Faults {
        p503: 1.0,
        ..Faults::none()
    })
    .unwrap();
    let path = format!("movie/{}", ids[0]);
    let err = c.get(&path, &[], &retrier(2)).await.unwrap_err();
    assert!(matches!(err, HttpError::GaveUp { .. }), "{err}");
    assert_eq!(s.stats().faults.http_503, 2);
    assert!(entries_under(dir.path()).is_empty());
    s.set_faults(Faults::none()).unwrap();
    let ok = get(&c, &path, &[]).await;
    assert!(!ok.from_cache());
    assert_eq!(ok.status, 200);
    assert_eq!(entries_under(dir.path()).len(), 1);

    // 429: one request a thousand seconds; the second request is refused until its time for
    // waiting out 429s is spent, and not kept.
    s.set_limits(
        Api::Tmdb,
        Some(RateLimit {
            rps: 0.001,
            burst: 1,
        }),
    );
    let first = format!("movie/{}", ids[1]);
    let limited = format!("movie/{}", ids[2]);
    assert_eq!(get(&c, &first, &[]).await.status, 200);
    let impatient = client(
        &SourceConfig {
            max_rate_limited_wait: Duration::from_millis(250),
            store_raw: true,
            ..source(SourceKind::Tmdb, s.tmdb_base_url())
        },
        s.tmdb_key(),
        &config,
        None,
    );
    let err = impatient.get(&limited, &[], &retrier(1)).await.unwrap_err();
    let HttpError::RateLimited { rate_limited, .. } = err else {
        panic!("{err}");
    };
    assert!(rate_limited >= 2, "{rate_limited} 429s");
    assert_eq!(s.stats().tmdb.rate_limited, u64::from(rate_limited));
    s.set_limits(Api::Tmdb, None);
    assert!(!get(&c, &limited, &[]).await.from_cache());
    assert_eq!(entries_under(dir.path()).len(), 3);

    // 401 from TMDB (a wrong key) is an answer for the source to read, but not for keeping.
    let wrong = client(
        &source(SourceKind::Tmdb, s.tmdb_base_url()),
        "not-the-key",
        &config,
        None,
    );
    let unauthorized = format!("movie/{}", ids[0] + 1_000_000);
    for _ in 0..2 {
        let r = get(&wrong, &unauthorized, &[]).await;
        assert_eq!(r.status, 401);
        assert!(!r.from_cache());
    }
    assert_eq!(s.stats().tmdb.unauthorized, 2);

    // OMDb: a bad key and the spent daily quota are 401s, never kept.
    let bad_omdb = client(
        &source(SourceKind::Omdb, s.omdb_base_url()),
        "wrong",
        &config,
        None,
    );
    let omdb = omdb_client(&s, &config, None);
    let title = q(&[("i", "tt0000001")]);
    for _ in 0..2 {
        assert_eq!(get(&bad_omdb, "", &title).await.status, 401);
    }
    s.set_omdb_quota(Some(0));
    for _ in 0..2 {
        let r = get(&omdb, "", &title).await;
        assert_eq!(r.status, 401);
        assert!(String::from_utf8_lossy(&r.body).contains("Request limit reached!"));
    }
    assert_eq!(s.stats().omdb.requests, 4);
    assert_eq!(entries_under(dir.path()).len(), 3, "only the three 200s");
    s.shutdown().await;
}

#[tokio::test]
async fn read_only_answers_from_disk_and_turns_a_miss_into_an_error_without_a_request() {
    let s = sandbox(SandboxConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let ids = some_ids(&s, 2);
    let cached = format!("movie/{}", ids[0]);
    let filler = tmdb_client(&s, &cache_config(dir.path(), CacheMode::ReadWrite));
    let original = get(&filler, &cached, &[]).await;
    assert_eq!(s.stats().tmdb.requests, 1);

    let offline = tmdb_client(&s, &cache_config(dir.path(), CacheMode::ReadOnly));
    let hit = get(&offline, &cached, &[]).await;
    assert!(hit.from_cache());
    assert_eq!(hit.body, original.body);

    let missing = format!("movie/{}", ids[1]);
    let err = offline
        .get(&missing, &q(&[("language", "en-US")]), &retrier(3))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, HttpError::OfflineMiss { .. }), "{text}");
    assert!(
        text.contains(&format!("{}/{missing}?language=en-US", s.tmdb_base_url())),
        "names the request: {text}"
    );
    assert!(
        text.contains("is not in the cache") && text.contains("read-only"),
        "{text}"
    );
    assert!(!text.contains(s.tmdb_key()), "no credential in: {text}");
    assert_eq!(s.stats().tmdb.requests, 1, "read-only sends nothing");
    assert_eq!(offline.totals().requests, 0);

    // A damaged entry is a miss too, and says so.
    let cache = offline.cache().unwrap();
    std::fs::write(cache.path_of(&cache.key(&cached, &[])), b"torn").unwrap();
    let err = offline.get(&cached, &[], &retrier(3)).await.unwrap_err();
    assert!(err.to_string().contains("damaged entry"), "{err}");
    assert_eq!(s.stats().tmdb.requests, 1);

    // Refresh always asks and always stores.
    let refresh = tmdb_client(&s, &cache_config(dir.path(), CacheMode::Refresh));
    assert!(!get(&refresh, &cached, &[]).await.from_cache());
    assert_eq!(s.stats().tmdb.requests, 2);
    assert!(get(&offline, &cached, &[]).await.from_cache());
    s.shutdown().await;
}

#[tokio::test]
async fn no_credential_reaches_a_file_name_or_a_file() {
    const TMDB_KEY: &str = "tmdbKEY-q7Rz0Xv3Lm9P";
    const OMDB_KEY: &str = "omdbKEY-Wd52Hs8Tn1Bc";
    // TMDB's read access token travels in `Authorization: Bearer`.
    const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwb3BjdGwtdGVzdCJ9.Zm9vYmFyQmF6UXV4";
    let by_query = sandbox(SandboxConfig {
        tmdb_key: TMDB_KEY.to_string(),
        omdb_key: OMDB_KEY.to_string(),
        ..SandboxConfig::default()
    })
    .await;
    let by_header = sandbox(SandboxConfig {
        tmdb_key: TOKEN.to_string(),
        ..SandboxConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = cache_config(dir.path(), CacheMode::ReadWrite);
    let ids = some_ids(&by_query, 2);
    let imdb = by_query.catalog().entries()[0].imdb_id.clone().unwrap();

    let tmdb = tmdb_client(&by_query, &config);
    let omdb = omdb_client(&by_query, &config, None);
    let bearer = client(
        &source(SourceKind::Tmdb, by_header.tmdb_base_url()),
        TOKEN,
        &config,
        None,
    );
    let append = q(&[("append_to_response", "credits,videos")]);
    for c in [&tmdb, &bearer] {
        assert_eq!(
            get(c, &format!("movie/{}", ids[0]), &append).await.status,
            200
        );
        assert_eq!(
            get(c, "movie/popular", &q(&[("page", "1")])).await.status,
            200
        );
        assert_eq!(get(c, "movie/987654321", &[]).await.status, 404);
    }
    assert_eq!(get(&omdb, "", &q(&[("i", &imdb)])).await.status, 200);
    assert_eq!(get(&omdb, "", &q(&[("i", "tt9999999")])).await.status, 200);
    // A caller that passes the key in the query by mistake does not get it stored either.
    let leaky = q(&[("i", &imdb), ("apikey", OMDB_KEY), ("plot", "full")]);
    assert_eq!(get(&omdb, "", &leaky).await.status, 200);
    assert_eq!(
        by_header.stats().tmdb.requests,
        3,
        "the bearer token was accepted"
    );

    let files = files_under(dir.path());
    assert!(entries_under(dir.path()).len() >= 8, "{files:?}");
    for file in &files {
        let shown = file.display().to_string();
        let raw = std::fs::read(file).unwrap();
        let mut texts = vec![shown.clone(), String::from_utf8_lossy(&raw).into_owned()];
        if let Ok(e) = entry::decode(&raw) {
            texts.push(e.meta.request);
            texts.push(String::from_utf8_lossy(&e.body).into_owned());
        }
        for secret in [TMDB_KEY, OMDB_KEY, TOKEN, "api_key", "apikey", "Bearer"] {
            for t in &texts {
                assert!(!t.contains(secret), "`{secret}` found in {shown}");
            }
        }
    }
    by_query.shutdown().await;
    by_header.shutdown().await;
}

/// A server that answers every request with 200 and the request line in the body, as an
/// API that echoes its query (key included) would.
async fn echo_server() -> String {
    let addr = crate::support::loopback_server(|line| {
        serde_json::json!({ "request": line })
            .to_string()
            .into_bytes()
    })
    .await;
    format!("http://{addr}")
}

#[tokio::test]
async fn an_answer_that_echoes_the_key_is_not_stored() {
    let base = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let key = "echoKEY-3vT9pQ";
    let c = client(
        &source(SourceKind::Omdb, base),
        key,
        &cache_config(dir.path(), CacheMode::ReadWrite),
        None,
    );
    let r = get(&c, "", &q(&[("i", "tt0000001")])).await;
    assert!(
        String::from_utf8_lossy(&r.body).contains(key),
        "the server echoes"
    );
    assert!(!get(&c, "", &q(&[("i", "tt0000001")])).await.from_cache());
    assert!(entries_under(dir.path()).is_empty());
    assert_eq!(c.cache_totals().unwrap().stores, 0);
}

/// Set in the child processes of `concurrent_writers_on_one_key_leave_one_whole_entry`.
const WRITER_ENV: &str = "POPCTL_TEST_CACHE_WRITER_DIR";
const WRITES: usize = 25;
const PAD: usize = 200_000;

/// A cache of its own, as another process or thread would have.
fn writer_cache(dir: &Path) -> SourceCache {
    let config = cache_config(dir, CacheMode::ReadWrite);
    SourceCache::open(
        &config,
        &source(SourceKind::Tmdb, "http://127.0.0.1:9/3".into()),
    )
    .unwrap()
    .unwrap()
}

fn write_many(dir: &Path, writer: &str) {
    let cache = writer_cache(dir);
    let key = cache.key("movie/1", &[]);
    for n in 0..WRITES {
        let body = format!(
            r#"{{"writer":"{writer}","n":{n},"pad":"{}"}}"#,
            noise(writer.len() as u64 * 7919 + n as u64)
        );
        assert!(cache.store(&key, 200, body.as_bytes(), Verdict::Positive));
    }
}

/// `PAD` hex digits that barely compress, so each entry is large on disk and writes overlap.
fn noise(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..PAD)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap()
        })
        .collect()
}

/// A body a writer could have written.
fn check_whole(body: &[u8]) {
    let v: serde_json::Value = serde_json::from_slice(body).expect("a whole JSON body");
    let pad = v["pad"].as_str().unwrap();
    assert_eq!(pad.len(), PAD);
    assert!(pad.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(v["writer"].is_string() && v["n"].is_u64());
}

#[test]
fn concurrent_writers_on_one_key_leave_one_whole_entry() {
    if let Ok(dir) = std::env::var(WRITER_ENV) {
        // This run is one of the child writers started below.
        let dir = Path::new(&dir);
        write_many(dir, &format!("process-{}", std::process::id()));
        // Proof for the parent that this process ran and wrote.
        let done = SourceCache::open(
            &cache_config(dir, CacheMode::ReadWrite),
            &source(SourceKind::Omdb, "http://127.0.0.1:9".into()),
        )
        .unwrap()
        .unwrap();
        let key = done.key(&format!("done/{}", std::process::id()), &[]);
        assert!(done.store(&key, 200, b"{}", Verdict::Positive));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<std::process::Child> = (0..3)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "cache::concurrent_writers_on_one_key_leave_one_whole_entry",
                    "--test-threads=1",
                    "--quiet",
                ])
                .env(WRITER_ENV, dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let writing = AtomicUsize::new(3);
    let reads = std::thread::scope(|scope| {
        for t in 0..3 {
            let (dir, writing) = (dir.path(), &writing);
            scope.spawn(move || {
                write_many(dir, &format!("thread-{t}"));
                writing.fetch_sub(1, Ordering::SeqCst);
            });
        }
        let reader = scope.spawn(|| {
            let cache = writer_cache(dir.path());
            let key = cache.key("movie/1", &[]);
            let mut hits = 0;
            // Read for as long as anyone writes: any half-written entry would be seen.
            while writing.load(Ordering::SeqCst) > 0 {
                if let Lookup::Hit(h) = cache.lookup(&key) {
                    check_whole(&h.body);
                    hits += 1;
                }
            }
            (hits, cache.totals())
        });
        reader.join().unwrap()
    });
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer process failed");
    }
    let (hits, totals) = reads;
    assert_eq!(totals.corrupt, 0, "a reader saw a half-written entry");
    assert!(hits > 0, "the reader never overlapped the writers");
    assert_eq!(totals.hits, hits);
    assert_eq!(
        entries_under(&dir.path().join("omdb")).len(),
        3,
        "every process wrote"
    );
    let files = files_under(&dir.path().join("tmdb"));
    assert_eq!(
        files.len(),
        1,
        "one entry, no temporary file left: {files:?}"
    );
    let last = entry::decode(&std::fs::read(&files[0]).unwrap()).unwrap();
    check_whole(&last.body);
}
