//! The one HTTP client every source goes through: the plan's rate for the whole source, a
//! source-wide pause when the server answers 429, retries by the stage's policy, answers no
//! bigger than the source's `max_body`, and API keys that are sent as the API expects but
//! never appear in an error, a log line or a `Debug`.
//!
//! The rate is kept by [`pace`](super::pace), not by an off-the-shelf limiter: an even pace
//! counted from each request lost every late timer wake-up for good (91–93% of 40/s, measured
//! with 8 tasks on a loaded machine), while a fixed schedule of slots pays them back (99.4–99.7%
//! in the same measurement) and still never lets more than the rate's `count` requests into
//! any window of its `per`; `pace` says why governor could not do both.
//!
//! The client answers with the first response that is not transient (any 2xx, or a 4xx other
//! than 429) and leaves its meaning to the source (`tmdb`, `omdb`): a 404 is an answer, not an
//! error, at this level. Both APIs always answer JSON, so a 2xx body that does not parse as
//! JSON is treated as truncated and retried. A 429 is waited out without using up a try, for
//! at most the source's `max_rate_limited_wait` per request (`retry` has the rules).
//!
//! Bodies are read as a stream and never past `max_body`: a `Content-Length` above it fails
//! the request before any of the body is read, a body without one is cut off at the limit. So
//! one runaway answer cannot take the process's memory, and it is not retried: it would
//! answer the same.
//!
//! With a cache ([`SourceClient::with_cache`]) a request is looked up first, before the rate
//! limiter, so a hit costs no rate budget and no request; a miss is fetched and the answer
//! stored if the source's [`Classify`] keeps it. In `read-only` mode a miss is an error and
//! nothing is sent.
//!
//! A client may be bound to a local IP address ([`SourceClient::new_bound`]): TMDB meters
//! requests per client address, so worker processes each bound to their own address
//! (127.0.0.2, 127.0.0.3, … against the sandbox) each get the whole limit.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::cache::{CacheTotals, Classify, Lookup, SourceCache, Verdict};
use super::pace::Pacer;
use super::retry::{Decision, Retrier, Transient};
use super::series::{Event, Series, SeriesReport};
use crate::plan::units::{format_duration, format_size, human_duration, human_size};
use crate::plan::{CacheMode, Rate, SourceConfig, SourceKind};
use crate::secret::{self, Secret};

/// The most of a 429 answer's body read (to reuse the connection); its content adds nothing.
const RATE_LIMITED_BODY: u64 = 64 * 1024;

/// How the API key travels.
#[derive(Clone)]
enum Auth {
    /// `?api_key=` (TMDB v3 key).
    TmdbQuery(Secret),
    /// `Authorization: Bearer` (TMDB read access token, a JWT).
    TmdbBearer(Secret),
    /// `?apikey=` (OMDb).
    OmdbQuery(Secret),
    None,
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
    /// The server's clock when it answered (its `Date` header); `None` from the cache.
    pub date: Option<DateTime<Utc>>,
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
    #[error("{}", too_large_message(self))]
    #[diagnostic(
        code(popctl::source::body_too_large),
        help(
            "raise `sources.{source_name}.max_body` in the plan if answers this big are expected"
        )
    )]
    TooLarge {
        source_name: String,
        kind: SourceKind,
        /// With credentials removed.
        url: String,
        /// The answer's `Content-Length`; `None` when it sent none and reading stopped at the
        /// limit.
        announced: Option<u64>,
        limit: u64,
        attempts: u32,
        rate_limited: u32,
    },
    #[error(
        "{source_name}: GET {url} was answered 429 Too Many Requests {rate_limited} times; after \
         waiting {} for the rate limit to pass, waiting another {} would go past \
         max_rate_limited_wait = {} (sources.{source_name}.max_rate_limited_wait)",
        human_duration(*.waited),
        human_duration(*.next_wait),
        format_duration(*.limit)
    )]
    #[diagnostic(
        code(popctl::source::rate_limited),
        help(
            "lower `sources.{source_name}.rate` to what the server allows, or raise `sources.{source_name}.max_rate_limited_wait`"
        )
    )]
    RateLimited {
        source_name: String,
        /// With credentials removed.
        url: String,
        /// Time spent waiting out 429 answers.
        waited: Duration,
        /// The wait the last 429 called for.
        next_wait: Duration,
        limit: Duration,
        attempts: u32,
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

fn too_large_message(e: &HttpError) -> String {
    let HttpError::TooLarge {
        source_name,
        kind,
        url,
        announced,
        limit,
        ..
    } = e
    else {
        return String::new();
    };
    let api = kind.display_name();
    let setting = format!(
        "max_body = {} (sources.{source_name}.max_body)",
        format_size(*limit)
    );
    match announced {
        Some(n) => format!(
            "{source_name}: {api} answered {} for GET {url}, more than {setting}",
            human_size(*n)
        ),
        None => format!(
            "{source_name}: {api} answered more than {} for GET {url} (without a Content-Length; \
             reading stopped there), more than {setting}",
            human_size(*limit)
        ),
    }
}

impl HttpError {
    /// What the failed request cost: (tries, 429 answers met).
    pub fn cost(&self) -> (u32, u32) {
        match self {
            HttpError::GaveUp {
                attempts,
                rate_limited,
                ..
            }
            | HttpError::TooLarge {
                attempts,
                rate_limited,
                ..
            }
            | HttpError::RateLimited {
                attempts,
                rate_limited,
                ..
            } => (*attempts, *rate_limited),
            HttpError::OfflineMiss { .. } | HttpError::Client { .. } => (0, 0),
        }
    }
}

/// Why one try produced no usable answer.
enum Failure {
    /// HTTP 429, with the server's `Retry-After` if it sent one.
    RateLimited {
        retry_after: Option<Duration>,
    },
    Transient(Transient, String),
    /// The body is larger than `max_body`; the `Content-Length`, if there was one.
    TooLarge {
        announced: Option<u64>,
    },
}

/// Why a body could not be read whole.
enum BodyError {
    /// `read`: the bytes read before stopping (none when `Content-Length` said it all).
    TooLarge {
        announced: Option<u64>,
        read: u64,
    },
    Cut(reqwest::Error),
}

/// Reads `resp`'s body, never more than `limit` bytes: a `Content-Length` above it is refused
/// before reading, a longer body without one is cut off as soon as it passes the limit.
async fn read_bounded(mut resp: reqwest::Response, limit: u64) -> Result<Bytes, BodyError> {
    let announced = resp.content_length();
    if let Some(n) = announced
        && n > limit
    {
        return Err(BodyError::TooLarge { announced, read: 0 });
    }
    // Most bodies arrive in one chunk, kept as it is; later chunks are gathered in a buffer.
    let mut first: Option<Bytes> = None;
    let mut gathered = BytesMut::new();
    let mut read = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Cut)? {
        read += chunk.len() as u64;
        if read > limit {
            return Err(BodyError::TooLarge {
                announced: None,
                read,
            });
        }
        if first.is_none() && gathered.is_empty() {
            first = Some(chunk);
            continue;
        }
        if let Some(f) = first.take() {
            let expected = announced.unwrap_or(0).min(limit) as usize;
            gathered.reserve(expected.max(f.len() + chunk.len()));
            gathered.extend_from_slice(&f);
        }
        gathered.extend_from_slice(&chunk);
    }
    Ok(first.unwrap_or_else(|| gathered.freeze()))
}

/// Counters per source, read by the report.
#[derive(Debug, Default)]
pub struct SourceCounters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub bytes: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
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
    max_body: u64,
    max_rate_limited_wait: Duration,
    /// The longest a request may take; for a download, the longest it may stall.
    timeout: Duration,
    client: reqwest::Client,
    auth: Auth,
    /// The plan's rate, and the pause after a 429, for every task using the source.
    pacer: Pacer,
    /// The cluster's turn, when the workers of a shared run share this source's rate.
    shared_pace: std::sync::OnceLock<Arc<dyn super::pace::SharedPace>>,
    counters: SourceCounters,
    /// The same events second by second, for the report's chart.
    series: Series,
    rate: Rate,
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

impl SourceClient {
    /// From now on every request also waits for a turn of `pace`, shared with other
    /// processes; false when a shared pace was set already.
    pub fn share_pace(&self, pace: Arc<dyn super::pace::SharedPace>) -> bool {
        self.inner.shared_pace.set(pace).is_ok()
    }

    /// Builds the client for `config`. `api_key` is the resolved key (the plan keeps unset
    /// variables unresolved; the runner resolves them and reports a missing one by name).
    pub fn new(config: &SourceConfig, api_key: Option<Secret>) -> Result<Self, HttpError> {
        Self::new_bound(config, api_key, None)
    }

    /// [`SourceClient::new`] whose connections, downloads included, go out from
    /// `local_address` (`None`: the address the system picks). The address must be one of
    /// this machine's; an upstream that rate-limits per client address then counts this
    /// client apart from others on the same machine.
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that builds an upstream HTTP client (clippy.toml)"
    )]
    pub fn new_bound(
        config: &SourceConfig,
        api_key: Option<Secret>,
        local_address: Option<IpAddr>,
    ) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .local_address(local_address)
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
            (SourceKind::Tmdb, Some(k)) if looks_like_jwt(k.expose()) => Auth::TmdbBearer(k),
            (SourceKind::Tmdb, Some(k)) => Auth::TmdbQuery(k),
            (SourceKind::Omdb, Some(k)) => Auth::OmdbQuery(k),
        };
        Ok(SourceClient {
            inner: Arc::new(Inner {
                name: config.name.clone(),
                kind: config.kind,
                base_url: config.base_url.trim_end_matches('/').to_string(),
                max_body: config.max_body,
                max_rate_limited_wait: config.max_rate_limited_wait,
                timeout: config.timeout,
                client,
                auth,
                pacer: Pacer::new(config.rate, config.burst),
                shared_pace: std::sync::OnceLock::new(),
                counters: SourceCounters::default(),
                series: Series::new(),
                rate: config.rate,
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

    /// What the source did second by second so far.
    pub fn series(&self) -> SeriesReport {
        self.inner.series.snapshot()
    }

    /// The plan's rate for the source, in requests per second.
    pub fn rate_per_second(&self) -> f64 {
        self.inner.rate.per_second()
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
        secret::redact(&url).into_owned()
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
                self.inner.series.record(Event::CacheHit);
                tracing::debug!(source = %self.inner.name, request = %key.canonical(), "cache hit");
                return Ok(Reply {
                    status: hit.status,
                    body: hit.body,
                    attempts: 0,
                    rate_limited: 0,
                    date: None,
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
        if verdict != Verdict::Never && !secret::leaks(&reply.body) {
            cache
                .store_async(&key, reply.status, reply.body.clone(), verdict)
                .await;
        }
        Ok(reply)
    }

    /// The network part of a GET: rate limit, retries, waiting out 429s.
    async fn fetch(
        &self,
        path: &str,
        query: &[(&str, String)],
        retrier: &Retrier,
    ) -> Result<Reply, HttpError> {
        let result = self.fetch_tries(path, query, retrier).await;
        if result.is_err() {
            self.inner.series.record(Event::Error);
        }
        result
    }

    async fn fetch_tries(
        &self,
        path: &str,
        query: &[(&str, String)],
        retrier: &Retrier,
    ) -> Result<Reply, HttpError> {
        let inner = &self.inner;
        let url = format!("{}/{}", inner.base_url, path.trim_start_matches('/'));
        let shown = self.display_url(path, query);
        // Requests sent, and the tries among them that count toward `retry.attempts` (a 429
        // does not).
        let mut sent = 0u32;
        let mut tries = 0u32;
        let mut rate_limited = 0u32;
        let mut rate_limited_waited = Duration::ZERO;
        let mut rate_limited_since: Option<Instant> = None;
        loop {
            inner.pacer.turn().await;
            if let Some(shared) = inner.shared_pace.get() {
                shared.turn().await;
            }
            if let Some(since) = rate_limited_since.take() {
                rate_limited_waited += since.elapsed();
            }
            sent += 1;
            inner.counters.requests.fetch_add(1, Ordering::Relaxed);
            inner.series.record(Event::Request);
            tracing::debug!(source = %inner.name, url = %shown, attempt = sent, "GET");
            let failure = match self.send_once(&url, query).await {
                Ok((status, body, date)) => match classify(status, &body) {
                    Ok(()) => {
                        return Ok(Reply {
                            status,
                            body,
                            attempts: sent,
                            rate_limited,
                            date,
                        });
                    }
                    Err((t, why)) => Failure::Transient(t, why),
                },
                Err(f) => f,
            };
            let (transient, why) = match failure {
                Failure::Transient(t, why) => (t, why),
                Failure::TooLarge { announced } => {
                    return Err(HttpError::TooLarge {
                        source_name: inner.name.clone(),
                        kind: inner.kind,
                        url: shown,
                        announced,
                        limit: inner.max_body,
                        attempts: sent,
                        rate_limited,
                    });
                }
                Failure::RateLimited { retry_after } => {
                    rate_limited += 1;
                    inner.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                    inner.series.record(Event::RateLimited);
                    let step = retrier.after_rate_limited(
                        retry_after,
                        rate_limited,
                        rate_limited_waited,
                        inner.max_rate_limited_wait,
                        self.draw(),
                    );
                    inner.pacer.pause(step.source_pause);
                    match step.decision {
                        Decision::GiveUp => {
                            return Err(HttpError::RateLimited {
                                source_name: inner.name.clone(),
                                url: shown,
                                waited: rate_limited_waited,
                                next_wait: step.wait,
                                limit: inner.max_rate_limited_wait,
                                attempts: sent,
                                rate_limited,
                            });
                        }
                        Decision::RetryAfter(wait) => {
                            inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                            inner.series.record(Event::Retry);
                            // Expected when the plan's rate is above the server's, and counted
                            // in the report: not a warning.
                            tracing::info!(
                                source = %inner.name,
                                url = %shown,
                                rate_limited,
                                wait_ms = wait.as_millis() as u64,
                                "HTTP 429 Too Many Requests; waiting it out"
                            );
                            rate_limited_since = Some(Instant::now());
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                }
            };
            tries += 1;
            match retrier.next(&transient, tries, self.draw()) {
                Decision::GiveUp => {
                    return Err(HttpError::GaveUp {
                        source_name: inner.name.clone(),
                        url: shown,
                        attempts: sent,
                        last: secret::redact(&why).into_owned(),
                        rate_limited,
                    });
                }
                Decision::RetryAfter(wait) => {
                    inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                    inner.series.record(Event::Retry);
                    tracing::warn!(
                        source = %inner.name,
                        url = %shown,
                        attempt = tries,
                        tries_left = retrier.policy.attempts - tries,
                        wait_ms = wait.as_millis() as u64,
                        "{}; retrying",
                        secret::redact(&why)
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn send_once(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<(u16, Bytes, Option<DateTime<Utc>>), Failure> {
        let inner = &self.inner;
        let mut req = inner.client.get(url).query(query);
        req = match &inner.auth {
            Auth::TmdbQuery(k) => req.query(&[("api_key", k.expose())]),
            Auth::OmdbQuery(k) => req.query(&[("apikey", k.expose())]),
            Auth::TmdbBearer(k) => req.bearer_auth(k.expose()),
            Auth::None => req,
        };
        let resp = req.send().await.map_err(|e| {
            let (t, why) = transport_failure(&e);
            Failure::Transient(t, why)
        })?;
        let status = resp.status().as_u16();
        let date = server_date(&resp);
        if status == 429 {
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            // Drain a small body so the connection can be reused; a big one closes it.
            let _ = read_bounded(resp, RATE_LIMITED_BODY).await;
            return Err(Failure::RateLimited { retry_after });
        }
        match read_bounded(resp, inner.max_body).await {
            Ok(body) => {
                inner
                    .counters
                    .bytes
                    .fetch_add(body.len() as u64, Ordering::Relaxed);
                Ok((status, body, date))
            }
            Err(BodyError::TooLarge { announced, read }) => {
                inner.counters.bytes.fetch_add(read, Ordering::Relaxed);
                Err(Failure::TooLarge { announced })
            }
            Err(BodyError::Cut(e)) => Err(Failure::Transient(
                Transient::Body,
                format!("HTTP {status}, body cut short: {}", describe(&e)),
            )),
        }
    }

    /// Starts a download of `url` from a host of the source's beside its API (TMDB's files
    /// host): no credentials, not paced (the host documents no limit), no cache, and no
    /// overall timeout — a body of hundreds of megabytes is read as it comes, and fails only
    /// when it stalls for the source's `timeout`. One try: the caller, who reads the body,
    /// knows whether starting over is worth it.
    pub async fn download(&self, url: &str) -> Result<Download, DownloadError> {
        let inner = &self.inner;
        tracing::debug!(source = %inner.name, url = %secret::redact(url), "GET (download)");
        let resp = inner
            .client
            .get(url)
            .timeout(Duration::from_secs(DOWNLOAD_LIMIT_SECS))
            .send();
        let resp = match tokio::time::timeout(inner.timeout, resp).await {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                let (transient, why) = transport_failure(&e);
                return Err(DownloadError::Transient(transient, why));
            }
            Err(_) => {
                return Err(DownloadError::Transient(
                    Transient::Timeout,
                    format!("no answer within {}", format_duration(inner.timeout)),
                ));
            }
        };
        Ok(Download {
            status: resp.status().as_u16(),
            date: server_date(&resp),
            idle: inner.timeout,
            resp,
            client: self.clone(),
        })
    }

    /// A number in `0..1` for a retry's jitter.
    pub fn jitter(&self) -> f64 {
        self.draw()
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

/// The longest a download may take in all (its stalls are caught sooner): a whole-catalog
/// export is some 500 MB.
const DOWNLOAD_LIMIT_SECS: u64 = 6 * 3600;

/// Why a download did not start.
#[derive(Debug)]
pub enum DownloadError {
    /// Worth trying again later: the connection, a timeout.
    Transient(Transient, String),
}

impl fmt::Display for DownloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownloadError::Transient(_, why) => f.write_str(why),
        }
    }
}

/// A download under way: its status and server time, and the body piece by piece.
pub struct Download {
    pub status: u16,
    /// The server's clock when it answered (its `Date` header).
    pub date: Option<DateTime<Utc>>,
    idle: Duration,
    resp: reqwest::Response,
    client: SourceClient,
}

impl Download {
    /// The next piece of the body, `None` at its end; `Err` (with why) when the connection
    /// broke or nothing came for the source's `timeout`.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        match tokio::time::timeout(self.idle, self.resp.chunk()).await {
            Ok(Ok(chunk)) => {
                if let Some(c) = &chunk {
                    let counters = &self.client.inner.counters;
                    counters.bytes.fetch_add(c.len() as u64, Ordering::Relaxed);
                }
                Ok(chunk)
            }
            Ok(Err(e)) => Err(format!("the download broke off: {}", describe(&e))),
            Err(_) => Err(format!(
                "the download stalled: nothing came for {}",
                format_duration(self.idle)
            )),
        }
    }
}

/// The server's `Date` header, if it sent a valid one.
fn server_date(resp: &reqwest::Response) -> Option<DateTime<Utc>> {
    let value = resp.headers().get(reqwest::header::DATE)?.to_str().ok()?;
    DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|d| d.with_timezone(&Utc))
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
