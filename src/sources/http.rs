//! The one HTTP client every source goes through: the plan's rate for the whole source, a
//! source-wide pause when the server answers 429, retries by the stage's policy, and API keys
//! that are sent as the API expects but never appear in an error, a log line or a `Debug`.
//!
//! The client answers with the first response that is not transient (any 2xx, or a 4xx other
//! than 429) and leaves its meaning to the source (`tmdb`, `omdb`): a 404 is an answer, not an
//! error, at this level. Both APIs always answer JSON, so a 2xx body that does not parse as
//! JSON is treated as truncated and retried.
//!
//! With a cache ([`SourceClient::with_cache`]) a request is looked up first, before the rate
//! limiter, so a hit costs no rate budget and no request; a miss is fetched and the answer
//! stored if the source's [`Classify`] keeps it. In `read-only` mode a miss is an error and
//! nothing is sent.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use super::cache::{CacheTotals, Classify, Lookup, SourceCache, Verdict};
use super::retry::{Decision, Retrier, Transient};
use crate::plan::{CacheMode, Rate, SourceConfig, SourceKind};

/// How the API key travels.
#[derive(Clone)]
enum Auth {
    /// `?api_key=` (TMDB v3 key).
    TmdbQuery(String),
    /// `Authorization: Bearer` (TMDB read access token, a JWT).
    TmdbBearer(String),
    /// `?apikey=` (OMDb).
    OmdbQuery(String),
    None,
}

impl Auth {
    fn secret(&self) -> Option<&str> {
        match self {
            Auth::TmdbQuery(k) | Auth::TmdbBearer(k) | Auth::OmdbQuery(k) => Some(k),
            Auth::None => None,
        }
    }
}

/// A response the source has to interpret.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    /// Tries it took, 1 when the first one answered, 0 when the cache answered.
    pub attempts: u32,
    /// 429 answers met on the way.
    pub rate_limited: u32,
}

impl Reply {
    /// True when the answer came from the cache (no request was made).
    pub fn from_cache(&self) -> bool {
        self.attempts == 0
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// Why a request produced no usable response.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum HttpError {
    #[error("{source_name}: GET {url} failed after {attempts} tries: {last}")]
    #[diagnostic(code(popctl::source::gave_up))]
    GaveUp {
        source_name: String,
        /// With credentials removed.
        url: String,
        attempts: u32,
        last: String,
        rate_limited: u32,
    },
    #[error(
        "{source_name}: GET {url} {reason}, and the cache is read-only (offline): no request was made"
    )]
    #[diagnostic(
        code(popctl::source::offline_miss),
        help(
            "run once with the cache in read-write mode (the default, without --offline) to fill it"
        )
    )]
    OfflineMiss {
        source_name: String,
        /// With credentials removed.
        url: String,
        /// Why the cache could not answer ("is not in the cache").
        reason: &'static str,
    },
    #[error("{source_name}: cannot build an HTTP client: {reason}")]
    #[diagnostic(code(popctl::source::client))]
    Client { source_name: String, reason: String },
}

/// Counters per source, read by the report.
#[derive(Debug, Default)]
pub struct SourceCounters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub bytes: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceTotals {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub bytes: u64,
}

struct Inner {
    name: String,
    kind: SourceKind,
    base_url: String,
    client: reqwest::Client,
    auth: Auth,
    limiter: DefaultDirectRateLimiter,
    /// A 429 slows the whole source, not just the task that met it.
    paused_until: Mutex<Option<Instant>>,
    counters: SourceCounters,
    seed: AtomicU64,
}

/// A handle to one source; cheap to clone, shared by every stage using the source.
#[derive(Clone)]
pub struct SourceClient {
    inner: Arc<Inner>,
    /// Beside `inner`, not in it: a handle with and one without the cache share one rate.
    cache: Option<Arc<SourceCache>>,
}

impl fmt::Debug for SourceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceClient")
            .field("name", &self.inner.name)
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

/// An even pace of `rate.count` per `rate.per`, with no burst: a plan's "40/s" means one
/// request every 25 ms, so the server never sees 40 at once.
fn limiter_for(rate: Rate) -> DefaultDirectRateLimiter {
    let count = rate.count.max(1);
    let period = (rate.per / count).max(Duration::from_nanos(1));
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::MIN);
    RateLimiter::direct(quota)
}

impl SourceClient {
    /// Builds the client for `config`. `api_key` is the resolved key (the plan keeps unset
    /// variables unresolved; the runner resolves them and reports a missing one by name).
    pub fn new(config: &SourceConfig, api_key: Option<String>) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("popctl/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| HttpError::Client {
                source_name: config.name.clone(),
                reason: describe(&e),
            })?;
        let auth = match (config.kind, api_key) {
            (_, None) => Auth::None,
            (SourceKind::Tmdb, Some(k)) if looks_like_jwt(&k) => Auth::TmdbBearer(k),
            (SourceKind::Tmdb, Some(k)) => Auth::TmdbQuery(k),
            (SourceKind::Omdb, Some(k)) => Auth::OmdbQuery(k),
        };
        Ok(SourceClient {
            inner: Arc::new(Inner {
                name: config.name.clone(),
                kind: config.kind,
                base_url: config.base_url.trim_end_matches('/').to_string(),
                client,
                auth,
                limiter: limiter_for(config.rate),
                paused_until: Mutex::new(None),
                counters: SourceCounters::default(),
                seed: AtomicU64::new(seed_from_clock()),
            }),
            cache: None,
        })
    }

    /// This client with `cache` in front of it (see [`SourceCache::open`]).
    pub fn with_cache(mut self, cache: Arc<SourceCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// A handle on the same source (same rate, same counters) that never uses the cache, for
    /// requests whose answers change by the minute.
    pub fn without_cache(&self) -> Self {
        SourceClient {
            inner: Arc::clone(&self.inner),
            cache: None,
        }
    }

    pub fn cache(&self) -> Option<&Arc<SourceCache>> {
        self.cache.as_ref()
    }

    /// The cache's counters, when there is a cache.
    pub fn cache_totals(&self) -> Option<CacheTotals> {
        self.cache.as_ref().map(|c| c.totals())
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn kind(&self) -> SourceKind {
        self.inner.kind
    }

    pub fn totals(&self) -> SourceTotals {
        let c = &self.inner.counters;
        SourceTotals {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
        }
    }

    /// Replaces every occurrence of this source's key in `text`.
    pub fn redact(&self, text: &str) -> String {
        redact_secret(text, self.inner.auth.secret())
    }

    /// The URL of `path` and `query` as shown to people: no credentials.
    pub fn display_url(&self, path: &str, query: &[(&str, String)]) -> String {
        let mut url = format!("{}/{}", self.inner.base_url, path.trim_start_matches('/'));
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(v);
        }
        self.redact(&url)
    }

    /// GET `path` with `query`, retrying transient failures by `retrier`; through the cache
    /// when there is one, with the API's rules for what it keeps.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        retrier: &Retrier,
    ) -> Result<Reply, HttpError> {
        match &self.cache {
            Some(c) => {
                self.get_classified(path, query, retrier, c.classifier())
                    .await
            }
            None => self.fetch(path, query, retrier).await,
        }
    }

    /// [`SourceClient::get`] with `classify` deciding whether the answer is kept (for a
    /// request whose answers the API's default rules judge wrongly).
    pub async fn get_classified(
        &self,
        path: &str,
        query: &[(&str, String)],
        retrier: &Retrier,
        classify: Classify,
    ) -> Result<Reply, HttpError> {
        let Some(cache) = &self.cache else {
            return self.fetch(path, query, retrier).await;
        };
        let key = cache.key(path, query);
        match cache.lookup_async(&key).await {
            Lookup::Hit(hit) => {
                tracing::debug!(source = %self.inner.name, request = %key.canonical(), "cache hit");
                return Ok(Reply {
                    status: hit.status,
                    body: hit.body,
                    attempts: 0,
                    rate_limited: 0,
                });
            }
            Lookup::Miss(miss) if cache.mode() == CacheMode::ReadOnly => {
                return Err(HttpError::OfflineMiss {
                    source_name: self.inner.name.clone(),
                    url: self.display_url(path, query),
                    reason: miss.describe(),
                });
            }
            Lookup::Miss(_) => {}
        }
        let reply = self.fetch(path, query, retrier).await?;
        let verdict = classify(reply.status, &reply.body);
        // The key never holds credentials; an API that echoes the key in a body must not
        // put it on disk either.
        let leaks = self
            .inner
            .auth
            .secret()
            .is_some_and(|k| !k.is_empty() && String::from_utf8_lossy(&reply.body).contains(k));
        if verdict != Verdict::Never && !leaks {
            cache
                .store_async(&key, reply.status, reply.body.clone(), verdict)
                .await;
        }
        Ok(reply)
    }

    /// The network part of a GET: rate limit, retries.
    async fn fetch(
        &self,
        path: &str,
        query: &[(&str, String)],
        retrier: &Retrier,
    ) -> Result<Reply, HttpError> {
        let inner = &self.inner;
        let url = format!("{}/{}", inner.base_url, path.trim_start_matches('/'));
        let shown = self.display_url(path, query);
        let mut rate_limited = 0u32;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.wait_for_turn().await;
            inner.counters.requests.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(source = %inner.name, url = %shown, attempt, "GET");
            let failure = match self.send_once(&url, query).await {
                Ok((status, body)) => {
                    inner
                        .counters
                        .bytes
                        .fetch_add(body.len() as u64, Ordering::Relaxed);
                    match classify(status, &body) {
                        Ok(()) => {
                            return Ok(Reply {
                                status,
                                body,
                                attempts: attempt,
                                rate_limited,
                            });
                        }
                        Err((t, why)) => (t, why),
                    }
                }
                Err(t) => t,
            };
            let (transient, why) = failure;
            if let Transient::RateLimited { retry_after } = &transient {
                rate_limited += 1;
                inner.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                let backoff = match retrier.next(&transient, 1, 0.0) {
                    Decision::RetryAfter(d) => d,
                    Decision::GiveUp => retrier.policy.initial,
                };
                let pause = retry_after
                    .unwrap_or(backoff)
                    .max(backoff)
                    .min(retrier.max_server_wait);
                self.pause_source(pause);
            }
            match retrier.next(&transient, attempt, self.draw()) {
                Decision::GiveUp => {
                    return Err(HttpError::GaveUp {
                        source_name: inner.name.clone(),
                        url: shown,
                        attempts: attempt,
                        last: self.redact(&why),
                        rate_limited,
                    });
                }
                Decision::RetryAfter(wait) => {
                    inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        source = %inner.name,
                        url = %shown,
                        attempt,
                        tries_left = retrier.policy.attempts - attempt,
                        wait_ms = wait.as_millis() as u64,
                        "{}; retrying",
                        self.redact(&why)
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn wait_for_turn(&self) {
        loop {
            let until = *self
                .inner
                .paused_until
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => break,
            }
        }
        self.inner.limiter.until_ready().await;
    }

    fn pause_source(&self, pause: Duration) {
        let until = Instant::now() + pause;
        let mut slot = self
            .inner
            .paused_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if slot.is_none_or(|t| t < until) {
            *slot = Some(until);
        }
    }

    async fn send_once(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<(u16, Bytes), (Transient, String)> {
        let inner = &self.inner;
        let mut req = inner.client.get(url).query(query);
        req = match &inner.auth {
            Auth::TmdbQuery(k) => req.query(&[("api_key", k)]),
            Auth::OmdbQuery(k) => req.query(&[("apikey", k)]),
            Auth::TmdbBearer(k) => req.bearer_auth(k),
            Auth::None => req,
        };
        let resp = req.send().await.map_err(|e| transport_failure(&e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if status == 429 {
            // Drain the body so the connection can be reused; its content adds nothing.
            let _ = resp.bytes().await;
            return Err((
                Transient::RateLimited { retry_after },
                "HTTP 429 Too Many Requests".to_string(),
            ));
        }
        let body = resp.bytes().await.map_err(|e| {
            (
                Transient::Body,
                format!("HTTP {status}, body cut short: {}", describe(&e)),
            )
        })?;
        Ok((status, body))
    }

    fn draw(&self) -> f64 {
        // splitmix64: jitter only needs spread, not cryptographic quality.
        let mut z = self
            .inner
            .seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Sorts a complete response into "the source should read it" or a transient failure.
fn classify(status: u16, body: &[u8]) -> Result<(), (Transient, String)> {
    if status >= 500 {
        return Err((
            Transient::Server { status },
            format!("HTTP {status}: {}", snippet(body)),
        ));
    }
    if (200..300).contains(&status)
        && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err()
    {
        return Err((
            Transient::Body,
            format!(
                "HTTP {status} with a body that is not complete JSON ({} bytes)",
                body.len()
            ),
        ));
    }
    Ok(())
}

fn transport_failure(e: &reqwest::Error) -> (Transient, String) {
    let text = describe(e);
    if e.is_timeout() {
        (Transient::Timeout, format!("timed out: {text}"))
    } else if e.is_body() || e.is_decode() {
        (Transient::Body, format!("body cut short: {text}"))
    } else {
        (Transient::Connection, format!("connection failed: {text}"))
    }
}

/// A reqwest error with its causes but without its URL: reqwest puts the full URL, key
/// included, into its errors' Display.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The first 512 characters of a body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(512).collect();
    if text.chars().nth(512).is_some() {
        s.push('…');
    }
    s
}

fn redact_secret(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(k) if !k.is_empty() => text.replace(k, "***"),
        _ => text.to_string(),
    }
}

fn looks_like_jwt(key: &str) -> bool {
    key.starts_with("eyJ") && key.matches('.').count() == 2
}

fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5EED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_and_broken_json_are_transient() {
        assert!(matches!(
            classify(503, b"{}"),
            Err((Transient::Server { status: 503 }, _))
        ));
        assert!(matches!(
            classify(200, b"{\"page\":1,\"res"),
            Err((Transient::Body, _))
        ));
        assert!(classify(200, b"{\"page\":1}").is_ok());
        // A 404 is an answer for the source to read, even without JSON.
        assert!(classify(404, b"not json").is_ok());
    }

    #[test]
    fn redaction_removes_every_copy_of_the_key() {
        let s = redact_secret("a=k3y&b=k3y", Some("k3y"));
        assert_eq!(s, "a=***&b=***");
        assert_eq!(redact_secret("x", Some("")), "x");
    }

    #[test]
    fn jwt_detection() {
        assert!(looks_like_jwt("eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4In0.sig"));
        assert!(!looks_like_jwt("0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn snippet_is_bounded() {
        let long = vec![b'a'; 2000];
        assert_eq!(snippet(&long).chars().count(), 513);
    }
}
