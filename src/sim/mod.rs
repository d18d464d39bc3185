//! A local simulator of TMDB v3 and OMDb: same URLs, JSON shapes, status codes and rate-limit
//! answers, over a deterministic seeded catalog. Used by `popctl sandbox serve`,
//! `popctl run --sandbox`, the tests and the benchmarks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), popctl::sim::SimError> {
//! let sandbox = popctl::sim::start(popctl::sim::SandboxConfig::default()).await?;
//! let tmdb = sandbox.tmdb_base_url(); // http://127.0.0.1:PORT/3, key "sandbox"
//! let omdb = sandbox.omdb_base_url(); // http://127.0.0.1:PORT/?i=…&apikey=sandbox
//! let files = sandbox.files_base_url(); // http://127.0.0.1:PORT/p/exports/movie_ids_…json.gz
//! # let _ = (tmdb, omdb);
//! let stats = sandbox.stats();        // what was served, for assertions
//! # let _ = stats;
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! One request goes through: latency → the API's rate limit (429; one token bucket per client
//! IP address, as TMDB meters per address, so workers bound to 127.0.0.2, 127.0.0.3, … each get
//! the whole limit) → an injected fault → the key (401) → OMDb's daily quota (one for all
//! addresses: it belongs to the key) → the route → the configured odd answers
//! (`odd_movies`). `/__sandbox/*` (stats and steering) and the export files under `/p/` skip
//! all of that. The sandbox clock (`now`) decides which day of the catalog's history is served.
//! See `docs/sandbox.md`.

mod catalog;
mod config;
pub mod export;
mod faults;
mod generate;
mod history;
mod http;
mod limits;
pub mod model;
mod omdb;
mod rng;
mod stats;
mod tmdb;
mod words;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use chrono::NaiveDateTime;
use miette::{NamedSource, SourceSpan};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use crate::plan::ListKind;
pub use catalog::{
    AndOr, Catalog, Discover, Filmography, IndexEntry, ListEntry, Range, STRAY_MAX_ID, SortKey,
};
pub use config::{
    Api, DEFAULT_CLOCK_TIME, DEFAULT_PADDED_BYTES, DEFAULT_TODAY, Faults, Latency, MAX_DAYS_AHEAD,
    MAX_MOVIES, MAX_PADDED_BYTES, OddMovies, RateLimit, SandboxConfig, Unsuccessful,
};
pub use generate::Person;
pub use history::{DAILY_CHANGE_RATE, DAILY_REMOVAL_RATE};
pub use stats::{ApiStats, FaultStats, Stats};
pub use tmdb::Part;

use faults::Fault;
use http::{ReadError, Request, Response};
use limits::{Limiter, Quota};
use stats::{FaultKind, Recorder};

/// Why the sandbox could not start or its settings could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SimError {
    #[error("cannot read the sandbox config {path}: {reason}")]
    #[diagnostic(code(popctl::sim::read_config))]
    ReadConfig { path: String, reason: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(Box<ConfigError>),

    #[error("invalid sandbox setting `{key}`: {message}")]
    #[diagnostic(code(popctl::sim::invalid_setting))]
    InvalidSetting { key: String, message: String },

    #[error("cannot listen on 127.0.0.1:{port}: {reason}")]
    #[diagnostic(
        code(popctl::sim::bind),
        help("pick another port with --port, or 0 for any free one")
    )]
    Bind { port: u16, reason: String },

    #[error("the sandbox failed to start: {reason} (a bug, please report it)")]
    #[diagnostic(code(popctl::sim::internal))]
    Internal { reason: String },
}

/// A sandbox config file that does not parse or holds a bad value, with its position.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("invalid sandbox config {origin}: {message}")]
#[diagnostic(
    code(popctl::sim::config),
    help("see sandbox.example.toml or docs/sandbox.md for every setting")
)]
pub struct ConfigError {
    pub origin: String,
    pub message: String,
    #[source_code]
    pub src: NamedSource<String>,
    #[label("{message}")]
    pub span: Option<SourceSpan>,
}

impl SimError {
    pub(crate) fn config(
        origin: &str,
        text: &str,
        span: Option<std::ops::Range<usize>>,
        message: String,
    ) -> Self {
        SimError::Config(Box::new(ConfigError {
            origin: origin.to_string(),
            message,
            src: NamedSource::new(origin, text.to_string()),
            span: span.map(|r| SourceSpan::from(r.start..r.end)),
        }))
    }
}

/// The shared state of a running sandbox.
struct State {
    catalog: Catalog,
    seed: u64,
    addr: SocketAddr,
    tmdb_key: String,
    omdb_key: String,
    tmdb_limit: Limiter,
    omdb_limit: Limiter,
    quota: Quota,
    faults: RwLock<Faults>,
    latency: RwLock<Latency>,
    /// The simulated UTC time: which day of the catalog is served, which exports are out.
    clock: RwLock<NaiveDateTime>,
    odd_movies: OddMovies,
    /// Numbers API requests; fault and latency draws are keyed by it.
    seq: AtomicU64,
    stats: Recorder,
}

impl State {
    fn faults(&self) -> Faults {
        *self.faults.read().unwrap_or_else(|e| e.into_inner())
    }

    fn latency(&self) -> Latency {
        *self.latency.read().unwrap_or_else(|e| e.into_inner())
    }

    fn clock(&self) -> NaiveDateTime {
        *self.clock.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the clock; its day must be within the catalog's history.
    fn set_clock(&self, now: NaiveDateTime) -> Result<(), String> {
        config::check_clock(self.catalog.today(), now)?;
        *self.clock.write().unwrap_or_else(|e| e.into_inner()) = now;
        Ok(())
    }

    fn stats(&self) -> Stats {
        self.stats.snapshot(self.quota.used())
    }

    fn limiter(&self, api: Api) -> &Limiter {
        match api {
            Api::Tmdb => &self.tmdb_limit,
            Api::Omdb => &self.omdb_limit,
        }
    }
}

/// A running sandbox. Dropping it stops the server too, but [`Sandbox::shutdown`] also waits
/// for the connections to close.
pub struct Sandbox {
    state: Arc<State>,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.state.addr)
            .field("catalog", &self.state.catalog)
            .finish_non_exhaustive()
    }
}

/// Where a sandbox listening on `addr` serves `api`: TMDB under `/3`, OMDb at the root.
pub fn base_url(api: Api, addr: SocketAddr) -> String {
    match api {
        Api::Tmdb => format!("http://{addr}/3"),
        Api::Omdb => format!("http://{addr}"),
    }
}

/// Where a sandbox listening on `addr` serves the export files (TMDB's files host).
pub fn files_base_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// Builds the catalog and starts serving on 127.0.0.1 (`config.port`, 0 for any free port).
pub async fn start(config: SandboxConfig) -> Result<Sandbox, SimError> {
    config
        .validate()
        .map_err(|(key, message)| SimError::InvalidSetting { key, message })?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
        .await
        .map_err(|e| SimError::Bind {
            port: config.port,
            reason: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| SimError::Bind {
        port: config.port,
        reason: e.to_string(),
    })?;
    let (seed, movies, today, clock) = (config.seed, config.movies, config.today, config.clock());
    let catalog = tokio::task::spawn_blocking(move || Catalog::generate(seed, movies, today))
        .await
        .map_err(|e| SimError::Internal {
            reason: format!("building the catalog failed: {e}"),
        })?;
    let state = Arc::new(State {
        catalog,
        seed,
        addr,
        tmdb_key: config.tmdb_key,
        omdb_key: config.omdb_key,
        tmdb_limit: Limiter::new(config.tmdb_limit),
        omdb_limit: Limiter::new(config.omdb_limit),
        quota: Quota::new(config.omdb_daily_quota),
        faults: RwLock::new(config.faults),
        latency: RwLock::new(config.latency),
        clock: RwLock::new(clock),
        odd_movies: config.odd_movies,
        seq: AtomicU64::new(0),
        stats: Recorder::default(),
    });
    let cancel = CancellationToken::new();
    let task = tokio::spawn(accept_loop(listener, state.clone(), cancel.clone()));
    tracing::debug!(%addr, movies, seed, "sandbox listening");
    Ok(Sandbox {
        state,
        cancel,
        task: Some(task),
    })
}

impl Sandbox {
    pub fn addr(&self) -> SocketAddr {
        self.state.addr
    }

    /// `http://127.0.0.1:PORT/3`.
    pub fn tmdb_base_url(&self) -> String {
        base_url(Api::Tmdb, self.state.addr)
    }

    /// `http://127.0.0.1:PORT` (OMDb answers at `/?i=…`).
    pub fn omdb_base_url(&self) -> String {
        base_url(Api::Omdb, self.state.addr)
    }

    /// `http://127.0.0.1:PORT`, the stand-in for `https://files.tmdb.org`: the daily export
    /// is at `/p/exports/movie_ids_MM_DD_YYYY.json.gz` under it.
    pub fn files_base_url(&self) -> String {
        files_base_url(self.state.addr)
    }

    /// The simulated UTC time.
    pub fn clock(&self) -> NaiveDateTime {
        self.state.clock()
    }

    /// Moves the simulated clock (to any time whose day is `today` ..= `today` +
    /// [`MAX_DAYS_AHEAD`]): the catalog is then served as of its day. A response cache keyed
    /// by the start config's [`SandboxConfig::cache_origin`] does not know of the move: a
    /// client that caches starts another sandbox (with `now` set) for another day instead.
    pub fn set_clock(&self, now: NaiveDateTime) -> Result<(), SimError> {
        self.state
            .set_clock(now)
            .map_err(|message| SimError::InvalidSetting {
                key: "now".to_string(),
                message,
            })
    }

    pub fn tmdb_key(&self) -> &str {
        &self.state.tmdb_key
    }

    pub fn omdb_key(&self) -> &str {
        &self.state.omdb_key
    }

    /// The same data as `GET /__sandbox/stats`.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// The catalog being served, to compare imported data with.
    pub fn catalog(&self) -> &Catalog {
        &self.state.catalog
    }

    /// A new OMDb day: the quota counts from zero again.
    pub fn reset_quota(&self) {
        self.state.quota.reset();
    }

    pub fn set_omdb_quota(&self, quota: Option<u32>) {
        self.state.quota.set(quota);
    }

    /// Replaces the fault probabilities for the requests from now on.
    pub fn set_faults(&self, faults: Faults) -> Result<(), SimError> {
        faults
            .validate()
            .map_err(|(key, message)| SimError::InvalidSetting { key, message })?;
        *self.state.faults.write().unwrap_or_else(|e| e.into_inner()) = faults;
        Ok(())
    }

    pub fn set_latency(&self, latency: Latency) -> Result<(), SimError> {
        if latency.min_ms > latency.max_ms {
            return Err(SimError::InvalidSetting {
                key: "latency".to_string(),
                message: "min_ms is larger than max_ms".to_string(),
            });
        }
        *self
            .state
            .latency
            .write()
            .unwrap_or_else(|e| e.into_inner()) = latency;
        Ok(())
    }

    /// Replaces an API's rate limit (`None`: unlimited) for every client address; each
    /// address's bucket starts full again.
    pub fn set_limits(&self, api: Api, limit: Option<RateLimit>) {
        self.state.limiter(api).set(limit);
    }

    /// Stops accepting, closes every connection and waits for the server task to end.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, cancel: CancellationToken) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(connection(state.clone(), stream, peer.ip()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("sandbox: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// Which part of the server a path belongs to.
enum Area {
    Control,
    Tmdb,
    Omdb,
    Files,
    Other,
}

fn area(path: &str) -> Area {
    if path.starts_with("/__sandbox") {
        Area::Control
    } else if path == "/3" || path.starts_with("/3/") {
        Area::Tmdb
    } else if path == "/" {
        Area::Omdb
    } else if path.starts_with("/p/") {
        Area::Files
    } else {
        Area::Other
    }
}

async fn connection(state: Arc<State>, mut stream: TcpStream, peer: IpAddr) {
    let _ = stream.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    loop {
        let req = match http::read_request(&mut stream, &mut buf).await {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad(status, why)) => {
                let r = Response::text(status, why);
                let _ = r.write(&mut stream, r.body.len(), r.body.len(), true).await;
                return;
            }
        };
        let close = !req.keep_alive;
        let keep = match area(&req.path) {
            Area::Tmdb => api_request(&state, Api::Tmdb, peer, &req, &mut stream, &mut buf).await,
            Area::Omdb => api_request(&state, Api::Omdb, peer, &req, &mut stream, &mut buf).await,
            Area::Files => export::serve(state.clone(), &req, &mut stream).await,
            Area::Control => send(&mut stream, &control(&state, &req), close).await,
            Area::Other => send(&mut stream, &Response::text(404, "Not Found"), close).await,
        };
        if close || !keep {
            return;
        }
    }
}

/// Writes a whole response; false when the connection is gone.
async fn send(stream: &mut TcpStream, r: &Response, close: bool) -> bool {
    r.write(stream, r.body.len(), r.body.len(), close)
        .await
        .is_ok()
}

/// Waits `d`, or less if the client closes the connection meanwhile (false then). Bytes of a
/// pipelined next request are kept in `buf`.
async fn wait_or_gone(stream: &mut TcpStream, buf: &mut BytesMut, d: Duration) -> bool {
    let sleep = tokio::time::sleep(d);
    tokio::pin!(sleep);
    loop {
        buf.reserve(1024);
        tokio::select! {
            () = &mut sleep => return true,
            read = stream.read_buf(buf) => match read {
                Ok(0) | Err(_) => return false,
                Ok(_) if buf.len() > 1 << 20 => return false,
                Ok(_) => {}
            },
        }
    }
}

/// One TMDB or OMDb request from `peer`, faults included. False when the connection must
/// close.
async fn api_request(
    state: &State,
    api: Api,
    peer: IpAddr,
    req: &Request,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> bool {
    let _in_flight = state.stats.begin(api);
    let seq = state.seq.fetch_add(1, Ordering::Relaxed);
    let close = !req.keep_alive;
    let tmdb_route = tmdb::route(&req.path);
    let label = match api {
        Api::Tmdb => tmdb_route.label(),
        Api::Omdb => omdb::label(req),
    };

    let delay = faults::latency(&state.latency(), state.seed, seq);
    if !delay.is_zero() && !wait_or_gone(stream, buf, delay).await {
        return false;
    }

    // The API's edge refuses excess traffic before the backend (and its faults) sees it.
    if let Err(refused) = state.limiter(api).check(peer, Instant::now()) {
        let r = match api {
            Api::Tmdb => tmdb::rate_limited(refused.count, refused.limit, refused.retry_after),
            // OMDb documents no per-second limit; its CDN answers like this when one applies.
            Api::Omdb => Response::text(429, "error code: 1015")
                .with_header("Retry-After", refused.retry_after.to_string()),
        };
        state.stats.answered(api, peer, label, 429);
        return send(stream, &r, close).await;
    }

    let fault = faults::pick(&state.faults(), state.seed, seq);
    match fault {
        Some(Fault::Status(status)) => {
            state.stats.fault(match status {
                500 => FaultKind::Http500,
                502 => FaultKind::Http502,
                _ => FaultKind::Http503,
            });
            state.stats.answered(api, peer, label, status);
            return send(stream, &faults::server_error(api, status), close).await;
        }
        Some(Fault::Drop) => {
            state.stats.fault(FaultKind::Dropped);
            return false;
        }
        Some(Fault::Stall(d)) => {
            state.stats.fault(FaultKind::Stalled);
            if !wait_or_gone(stream, buf, d).await {
                return false;
            }
        }
        Some(Fault::Truncate | Fault::ShortBody) | None => {}
    }

    let response = match api {
        Api::Tmdb if !tmdb::authorized(req, &state.tmdb_key) => tmdb::unauthorized(),
        Api::Tmdb => tmdb::odd(
            &state.odd_movies,
            &tmdb_route,
            req,
            tmdb::serve(&state.catalog, &tmdb_route, req, state.clock().date())
                .with_header("Cache-Control", "public, max-age=28800")
                .with_header("Date", http::date(state.clock())),
        ),
        Api::Omdb => match omdb::check_key(req, &state.omdb_key) {
            Some(refusal) => refusal,
            None if !state.quota.take() => {
                state.stats.quota_exhausted(peer, label);
                return send(stream, &omdb::quota_reached(), close).await;
            }
            None => omdb::serve(&state.catalog, req),
        },
    };
    state.stats.answered(api, peer, label, response.status);
    let len = response.body.len();
    match fault {
        Some(Fault::Truncate) if response.status == 200 && len >= 2 => {
            state.stats.fault(FaultKind::Truncated);
            let cut = faults::cut_point(state.seed, seq, len);
            response.write(stream, cut, cut, close).await.is_ok()
        }
        Some(Fault::ShortBody) if len >= 2 => {
            state.stats.fault(FaultKind::ShortBody);
            let cut = faults::cut_point(state.seed, seq, len);
            let _ = response.write(stream, len, cut, true).await;
            false
        }
        _ => send(stream, &response, close).await,
    }
}

/// `POST /__sandbox/limits`: every limit at once; a missing key means none.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Limits {
    tmdb: Option<RateLimit>,
    omdb: Option<RateLimit>,
    omdb_daily_quota: Option<u32>,
}

/// `POST /__sandbox/clock`: `{"now": "2025-06-20T09:00:00Z"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Clock {
    now: String,
}

fn clock_body(state: &State) -> Response {
    Response::json(
        200,
        &serde_json::json!({
            "now": config::fmt_clock(state.clock()),
            "today": catalog::fmt_date(state.catalog.today()),
        }),
    )
}

/// The steering API: never rate-limited, faulted or delayed.
fn control(state: &State, req: &Request) -> Response {
    fn bad(message: String) -> Response {
        Response::json(400, &serde_json::json!({ "error": message }))
    }
    fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
        serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON body: {e}")))
    }
    let result = match (req.method.as_str(), req.path.trim_end_matches('/')) {
        ("GET", "/__sandbox") => Ok(Response::json(
            200,
            &serde_json::json!({
                "tmdb_base_url": base_url(Api::Tmdb, state.addr),
                "omdb_base_url": base_url(Api::Omdb, state.addr),
                "files_base_url": files_base_url(state.addr),
                "tmdb_key": state.tmdb_key,
                "omdb_key": state.omdb_key,
                "movies": state.catalog.len(),
                "seed": state.seed,
                "today": catalog::fmt_date(state.catalog.today()),
                "now": config::fmt_clock(state.clock()),
            }),
        )),
        ("GET", "/__sandbox/clock") => Ok(clock_body(state)),
        ("POST", "/__sandbox/clock") => parse::<Clock>(&req.body).and_then(|c| {
            let now = config::parse_clock(&c.now).map_err(bad)?;
            state.set_clock(now).map_err(|m| bad(format!("now: {m}")))?;
            Ok(clock_body(state))
        }),
        ("GET", "/__sandbox/stats") => Ok(Response::json(200, &state.stats())),
        ("POST", "/__sandbox/reset-quota") => {
            state.quota.reset();
            Ok(Response::json(
                200,
                &serde_json::json!({ "omdb_quota_used": 0 }),
            ))
        }
        ("GET", "/__sandbox/faults") => Ok(Response::json(200, &state.faults())),
        ("POST", "/__sandbox/faults") => parse::<Faults>(&req.body).and_then(|f| {
            f.validate().map_err(|(k, m)| bad(format!("{k}: {m}")))?;
            *state.faults.write().unwrap_or_else(|e| e.into_inner()) = f;
            Ok(Response::json(200, &f))
        }),
        ("GET", "/__sandbox/latency") => Ok(Response::json(200, &state.latency())),
        ("POST", "/__sandbox/latency") => parse::<Latency>(&req.body).and_then(|l| {
            if l.min_ms > l.max_ms {
                return Err(bad("latency: min_ms is larger than max_ms".to_string()));
            }
            *state.latency.write().unwrap_or_else(|e| e.into_inner()) = l;
            Ok(Response::json(200, &l))
        }),
        ("GET", "/__sandbox/limits") => Ok(Response::json(
            200,
            &Limits {
                tmdb: state.tmdb_limit.limit(),
                omdb: state.omdb_limit.limit(),
                omdb_daily_quota: state.quota.quota(),
            },
        )),
        ("POST", "/__sandbox/limits") => parse::<Limits>(&req.body).and_then(|l| {
            for (name, limit) in [("tmdb", l.tmdb), ("omdb", l.omdb)] {
                if let Some(x) = limit
                    && (!(x.rps > 0.0 && x.rps.is_finite()) || x.burst == 0)
                {
                    return Err(bad(format!("{name}: rps must be > 0 and burst >= 1")));
                }
            }
            state.tmdb_limit.set(l.tmdb);
            state.omdb_limit.set(l.omdb);
            state.quota.set(l.omdb_daily_quota);
            Ok(Response::json(200, &l))
        }),
        _ => Ok(Response::json(
            404,
            &serde_json::json!({
                "error": format!("no sandbox endpoint {} {}", req.method, req.path),
                "endpoints": [
                    "GET /__sandbox", "GET /__sandbox/stats", "POST /__sandbox/reset-quota",
                    "GET|POST /__sandbox/faults", "GET|POST /__sandbox/latency",
                    "GET|POST /__sandbox/limits", "GET|POST /__sandbox/clock"
                ],
            }),
        )),
    };
    result.unwrap_or_else(|e| e)
}
