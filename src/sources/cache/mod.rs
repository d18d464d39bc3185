//! An on-disk cache of raw upstream answers, so a rerun after a schema or mapping change costs
//! no API calls (and none of OMDb's 1,000 a day).
//!
//! - **What**: raw bodies with their status, per source, keyed by method, URL and canonical
//!   query without credentials ([`RequestKey`]). Parsing happens after the cache, so a change
//!   to the mapping never needs a refetch.
//! - **Where**: `<dir>/<source>/<2 hex>/<62 hex>`, one file per answer ([`entry`] has the
//!   format: compressed, checksummed). `<dir>` is the plan's `[cache] dir`.
//! - **Which answers**: the source decides, through a [`Classify`] function: real answers are
//!   kept for the source's `ttl`, "no such thing" answers (TMDB 404, OMDb "Error getting
//!   data.") for `negative_ttl`, and errors that may read differently next time (401, OMDb's
//!   quota) never. Transient failures (5xx, 429, timeouts, cut bodies) never get this far:
//!   the HTTP client retries them or gives up.
//! - **Many writers**: an entry is written to a temporary file in its own directory and
//!   renamed over the old one, so a reader sees a whole old entry or a whole new one, whatever
//!   other threads or processes do. Nothing is locked; two writers of one key both write
//!   complete answers and the last rename wins.
//! - **Damage**: a torn, truncated or corrupted file fails its checksum, is counted, logged and
//!   treated as a miss; the refetched answer replaces it. Never a crash, never bad data.
//! - **Modes**: `read-write` reads fresh entries and stores answers; `read-only` (what
//!   `--offline` means) never touches the network, serves entries even past their TTL (stale
//!   data beats none when offline) and turns a miss into an error; `refresh` never reads but
//!   stores everything it fetches; `off` is no cache at all.
//!
//! [`SourceClient::with_cache`](crate::sources::http::SourceClient::with_cache) puts a cache
//! in front of a client; `popctl cache stats|clear|prune` work on the directory ([`dir`]).

pub mod dir;
pub mod entry;
mod key;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

pub use key::{CREDENTIAL_PARAMS, RequestKey, is_credential};

use crate::plan::{CacheConfig, CacheMode, SourceConfig, SourceKind};
use crate::sources::omdb::mapping::is_no_data_error;
use crate::sources::tmdb::client::{STATUS_NOT_FOUND, unsuccessful};

/// The name of the marker that tells backup tools the directory is a cache
/// (<https://bford.info/cachedir/>).
const TAG_FILE: &str = "CACHEDIR.TAG";
const TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by popctl: raw TMDB/OMDb answers.\n\
# `popctl cache clear` empties it; nothing here is needed to rebuild a database.\n";

/// Prefix of a file being written; never read as an entry.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Why the cache cannot be used or managed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CacheError {
    #[error("cannot create the cache directory {path}: {reason}")]
    #[diagnostic(
        code(popctl::cache::create_dir),
        help(
            "set another `[cache] dir` (or --set cache.dir=…), or turn it off with `mode = \"off\"`"
        )
    )]
    CreateDir { path: String, reason: String },

    #[error("cannot {action} {path}: {reason}")]
    #[diagnostic(code(popctl::cache::io))]
    Io {
        action: &'static str,
        path: String,
        reason: String,
    },

    #[error("`{name}` is not a source name")]
    #[diagnostic(
        code(popctl::cache::source_name),
        help("source names use letters, digits, `_` and `-`, as in the plan's [sources.<name>]")
    )]
    SourceName { name: String },
}

impl CacheError {
    fn io(action: &'static str, path: &Path, e: &std::io::Error) -> Self {
        CacheError::Io {
            action,
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

/// Source names are directory names, so only the plan's own alphabet gets through
/// (`--source ../..` must not reach outside the cache).
pub fn check_source_name(name: &str) -> Result<(), CacheError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(CacheError::SourceName {
            name: name.to_string(),
        })
    }
}

/// What the cache may do with an answer. The source decides, since only it knows what its
/// API's bodies mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A real answer: kept for the source's `ttl`.
    Positive,
    /// "No such thing": kept for `negative_ttl`.
    Negative,
    /// Never stored: an error that may read differently next time.
    Never,
}

/// Sorts an answer (status, raw body) for the cache.
pub type Classify = fn(u16, &[u8]) -> Verdict;

/// TMDB: 2xx is an answer, 404 (status_code 34) is "no such movie", and so is a 2xx saying
/// `{"success":false,"status_code":34}`. 401 (bad key), 400 and 422 (our request was wrong,
/// e.g. a page past 500), a 2xx with any other `"success":false` and everything else are not
/// kept.
pub fn tmdb_verdict(status: u16, body: &[u8]) -> Verdict {
    match status {
        200..=299 => match unsuccessful(body) {
            None => Verdict::Positive,
            Some(u) if u.status_code == STATUS_NOT_FOUND => Verdict::Negative,
            Some(_) => Verdict::Never,
        },
        404 => Verdict::Negative,
        _ => Verdict::Never,
    }
}

/// OMDb answers nearly everything with HTTP 200. `{"Response":"False"}` with "Incorrect IMDb
/// ID.", "Error getting data." or "… not found!" means no data; any other `Error` at 200
/// ("Too many results.", or a message we do not know) is not kept, and neither is anything
/// that is not HTTP 200 (401: bad key, no key, daily limit reached).
pub fn omdb_verdict(status: u16, body: &[u8]) -> Verdict {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(rename = "Response")]
        response: Option<String>,
        #[serde(rename = "Error")]
        error: Option<String>,
    }
    if status != 200 {
        return Verdict::Never;
    }
    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        return Verdict::Never;
    };
    let failed = envelope
        .response
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case("false"));
    if !failed {
        return Verdict::Positive;
    }
    match envelope.error.as_deref() {
        Some(e) if is_no_data_error(e) => Verdict::Negative,
        _ => Verdict::Never,
    }
}

/// The rules of an API.
pub fn verdict_for(kind: SourceKind) -> Classify {
    match kind {
        SourceKind::Tmdb => tmdb_verdict,
        SourceKind::Omdb => omdb_verdict,
    }
}

/// The time entries are stamped and judged by; tests move it instead of sleeping.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Counters of one source's cache, read by the run report.
#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    stale_hits: AtomicU64,
    misses: AtomicU64,
    expired: AtomicU64,
    corrupt: AtomicU64,
    bytes_read: AtomicU64,
    stores: AtomicU64,
    bytes_written: AtomicU64,
    write_errors: AtomicU64,
}

/// A snapshot of one source's counters. Bytes are bytes on disk (compressed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CacheTotals {
    /// Answers served from the cache (no request made).
    pub hits: u64,
    /// Of `hits`: entries past their TTL, served because the cache is read-only.
    pub stale_hits: u64,
    /// Lookups that found nothing usable.
    pub misses: u64,
    /// Of `misses`: entries past their TTL.
    pub expired: u64,
    /// Of `misses`: torn, truncated, corrupted or unreadable entries.
    pub corrupt: u64,
    pub bytes_read: u64,
    /// Answers written.
    pub stores: u64,
    pub bytes_written: u64,
    /// Answers that could not be written (disk full, permissions); each costs a refetch later.
    pub write_errors: u64,
}

/// Why a lookup found nothing usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// The mode does not read (`refresh`, `off`); not counted.
    NotReading,
    Absent,
    Expired,
    Corrupt,
}

impl Miss {
    /// For "GET … {reason}" messages.
    pub fn describe(self) -> &'static str {
        match self {
            Miss::NotReading => "is not read from the cache in this mode",
            Miss::Absent => "is not in the cache",
            Miss::Expired => "has only an expired entry in the cache",
            Miss::Corrupt => "has a damaged entry in the cache",
        }
    }
}

/// An answer found in the cache.
#[derive(Debug, Clone)]
pub struct Cached {
    pub status: u16,
    pub body: Bytes,
    pub negative: bool,
    pub stored_at: SystemTime,
    /// Past its TTL (only served in `read-only` mode).
    pub stale: bool,
}

#[derive(Debug, Clone)]
pub enum Lookup {
    Hit(Cached),
    Miss(Miss),
}

/// One source's part of the cache: its directory, TTLs, rules and counters. Shared (in an
/// `Arc`) by every clone of the source's client.
pub struct SourceCache {
    source: String,
    dir: PathBuf,
    mode: CacheMode,
    ttl: Duration,
    negative_ttl: Duration,
    origin: String,
    classify: Classify,
    clock: Clock,
    counters: Counters,
}

impl std::fmt::Debug for SourceCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceCache")
            .field("source", &self.source)
            .field("dir", &self.dir)
            .field("mode", &self.mode)
            .field("ttl", &self.ttl)
            .field("negative_ttl", &self.negative_ttl)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Temporary file names must differ between every writer: the process id separates
/// processes, this counter the writers of one process (all caches share it).
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl SourceCache {
    /// The cache of `source` under `config`, or `None` when the mode is `off`. Keys use the
    /// source's `base_url` as origin; see [`SourceCache::with_origin`] for a simulator.
    ///
    /// A mode that writes creates the directory now, so a directory that cannot be created
    /// stops the run before its first request rather than warning on every answer.
    pub fn open(config: &CacheConfig, source: &SourceConfig) -> Result<Option<Self>, CacheError> {
        if config.mode == CacheMode::Off {
            return Ok(None);
        }
        check_source_name(&source.name)?;
        let ttl = config
            .ttl
            .get(&source.name)
            .copied()
            .unwrap_or(config.default_ttl);
        let cache = SourceCache {
            source: source.name.clone(),
            dir: config.dir.join(&source.name),
            mode: config.mode,
            ttl,
            negative_ttl: config.negative_ttl,
            origin: source.base_url.clone(),
            classify: verdict_for(source.kind),
            clock: Arc::new(SystemTime::now),
            counters: Counters::default(),
        };
        if cache.writes() {
            prepare_root(&config.dir)?;
            std::fs::create_dir_all(&cache.dir).map_err(|e| CacheError::CreateDir {
                path: cache.dir.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        Ok(Some(cache))
    }

    /// Keys answers by `origin` instead of the base URL. The sandbox listens on a new port
    /// each run, so `popctl run --sandbox` passes a name of what it serves (seed, catalog
    /// size, date) to share entries between runs, and to keep them apart from the real API's.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }

    /// Replaces the API's rules ([`verdict_for`]) for what is kept.
    pub fn with_classifier(mut self, classify: Classify) -> Self {
        self.classify = classify;
        self
    }

    /// Stamps and judges entries by `clock` instead of the system time.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn mode(&self) -> CacheMode {
        self.mode
    }

    /// `<dir>/<source>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn negative_ttl(&self) -> Duration {
        self.negative_ttl
    }

    pub fn classifier(&self) -> Classify {
        self.classify
    }

    fn reads(&self) -> bool {
        matches!(self.mode, CacheMode::ReadWrite | CacheMode::ReadOnly)
    }

    fn writes(&self) -> bool {
        matches!(self.mode, CacheMode::ReadWrite | CacheMode::Refresh)
    }

    /// The key of a GET of `path` with `query` on this source.
    pub fn key(&self, path: &str, query: &[(&str, String)]) -> RequestKey {
        RequestKey::new(&self.origin, "GET", path, query)
    }

    /// Where the entry of `key` lives.
    pub fn path_of(&self, key: &RequestKey) -> PathBuf {
        let (shard, rest) = key.hash().split_at(2);
        self.dir.join(shard).join(rest)
    }

    pub fn totals(&self) -> CacheTotals {
        let c = &self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheTotals {
            hits: l(&c.hits),
            stale_hits: l(&c.stale_hits),
            misses: l(&c.misses),
            expired: l(&c.expired),
            corrupt: l(&c.corrupt),
            bytes_read: l(&c.bytes_read),
            stores: l(&c.stores),
            bytes_written: l(&c.bytes_written),
            write_errors: l(&c.write_errors),
        }
    }

    /// Looks `key` up (blocking file I/O).
    pub fn lookup(&self, key: &RequestKey) -> Lookup {
        if !self.reads() {
            return Lookup::Miss(Miss::NotReading);
        }
        let c = &self.counters;
        match self.read(key) {
            Ok((hit, size)) => {
                c.hits.fetch_add(1, Ordering::Relaxed);
                if hit.stale {
                    c.stale_hits.fetch_add(1, Ordering::Relaxed);
                }
                c.bytes_read.fetch_add(size, Ordering::Relaxed);
                Lookup::Hit(hit)
            }
            Err(miss) => {
                c.misses.fetch_add(1, Ordering::Relaxed);
                match miss {
                    Miss::Expired => c.expired.fetch_add(1, Ordering::Relaxed),
                    Miss::Corrupt => c.corrupt.fetch_add(1, Ordering::Relaxed),
                    Miss::Absent | Miss::NotReading => 0,
                };
                Lookup::Miss(miss)
            }
        }
    }

    fn read(&self, key: &RequestKey) -> Result<(Cached, u64), Miss> {
        let path = self.path_of(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Miss::Absent),
            Err(e) => {
                tracing::warn!(source = %self.source, "cannot read cache entry {}: {e}; fetching it again", path.display());
                return Err(Miss::Corrupt);
            }
        };
        let entry = match entry::decode(&bytes) {
            Ok(e) => e,
            Err(damage) => {
                tracing::warn!(source = %self.source, request = %key.canonical(), "cache entry {} is damaged ({damage}); ignoring it", path.display());
                return Err(Miss::Corrupt);
            }
        };
        if entry.meta.request != key.canonical() {
            // A file moved by hand, or a SHA-256 collision: either way not this answer.
            tracing::warn!(source = %self.source, request = %key.canonical(), "cache entry {} answers `{}`; ignoring it", path.display(), entry.meta.request);
            return Err(Miss::Corrupt);
        }
        let ttl = if entry.meta.negative {
            self.negative_ttl
        } else {
            self.ttl
        };
        let age = (self.clock)()
            .duration_since(entry.meta.stored_at)
            .unwrap_or(Duration::ZERO);
        let stale = age >= ttl;
        if stale && self.mode != CacheMode::ReadOnly {
            return Err(Miss::Expired);
        }
        let hit = Cached {
            status: entry.meta.status,
            body: Bytes::from(entry.body),
            negative: entry.meta.negative,
            stored_at: entry.meta.stored_at,
            stale,
        };
        Ok((hit, bytes.len() as u64))
    }

    /// Stores an answer when the mode writes and `verdict` keeps it (blocking file I/O).
    /// Returns whether it was written. A failed write costs only a refetch later, so it is
    /// counted and logged, not raised.
    pub fn store(&self, key: &RequestKey, status: u16, body: &[u8], verdict: Verdict) -> bool {
        let negative = match verdict {
            Verdict::Never => return false,
            Verdict::Negative => true,
            Verdict::Positive => false,
        };
        if !self.writes() {
            return false;
        }
        let bytes = entry::encode(key.canonical(), status, negative, (self.clock)(), body);
        match self.write_atomically(&self.path_of(key), &bytes) {
            Ok(()) => {
                self.counters.stores.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .bytes_written
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                true
            }
            Err(e) => {
                self.counters.write_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(source = %self.source, request = %key.canonical(), "cannot write a cache entry under {}: {e}", self.dir.display());
                false
            }
        }
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(
            "{TEMP_PREFIX}{}-{}",
            std::process::id(),
            TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(bytes))
            .and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// [`SourceCache::lookup`] off the async threads.
    pub async fn lookup_async(self: &Arc<Self>, key: &RequestKey) -> Lookup {
        let (cache, key) = (Arc::clone(self), key.clone());
        tokio::task::spawn_blocking(move || cache.lookup(&key))
            .await
            .unwrap_or(Lookup::Miss(Miss::Absent))
    }

    /// [`SourceCache::store`] off the async threads.
    pub async fn store_async(
        self: &Arc<Self>,
        key: &RequestKey,
        status: u16,
        body: Bytes,
        verdict: Verdict,
    ) -> bool {
        let (cache, key) = (Arc::clone(self), key.clone());
        tokio::task::spawn_blocking(move || cache.store(&key, status, &body, verdict))
            .await
            .unwrap_or(false)
    }
}

/// Creates the cache root with its `CACHEDIR.TAG`.
fn prepare_root(root: &Path) -> Result<(), CacheError> {
    std::fs::create_dir_all(root).map_err(|e| CacheError::CreateDir {
        path: root.display().to_string(),
        reason: e.to_string(),
    })?;
    let tag = root.join(TAG_FILE);
    if !tag.exists() {
        std::fs::write(&tag, TAG).map_err(|e| CacheError::io("write", &tag, &e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use crate::plan::Interpolated;

    fn source(kind: SourceKind) -> SourceConfig {
        SourceConfig {
            rate_scope: crate::plan::RateScope::Worker,
            name: kind.as_str().to_string(),
            kind,
            api_key: Interpolated::Value(crate::secret::Secret::new("k")),
            api_key_var: None,
            base_url: kind.default_base_url().to_string(),
            rate: kind.default_rate(),
            burst: 1,
            timeout: Duration::from_secs(1),
            daily_quota: None,
            max_body: kind.default_max_body(),
            max_rate_limited_wait: crate::plan::DEFAULT_MAX_RATE_LIMITED_WAIT,
            store_raw: true,
            files_url: crate::plan::DEFAULT_FILES_URL.to_string(),
            language: None,
            region: None,
        }
    }

    fn config(dir: &Path, mode: CacheMode) -> CacheConfig {
        CacheConfig {
            mode,
            dir: dir.to_path_buf(),
            ttl: BTreeMap::from([("omdb".to_string(), Duration::from_secs(7 * 86_400))]),
            default_ttl: Duration::from_secs(100),
            negative_ttl: Duration::from_secs(10),
        }
    }

    /// A clock tests move by hand.
    fn manual_clock() -> (Clock, Arc<Mutex<SystemTime>>) {
        let now = Arc::new(Mutex::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        ));
        let read = Arc::clone(&now);
        let clock: Clock = Arc::new(move || *read.lock().unwrap());
        (clock, now)
    }

    fn open(dir: &Path, mode: CacheMode, kind: SourceKind) -> SourceCache {
        SourceCache::open(&config(dir, mode), &source(kind))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn verdicts_follow_each_api() {
        assert_eq!(tmdb_verdict(200, b"{}"), Verdict::Positive);
        assert_eq!(tmdb_verdict(404, b"{}"), Verdict::Negative);
        let missing = br#"{"success":false,"status_code":34,"status_message":"The resource you requested could not be found."}"#;
        assert_eq!(tmdb_verdict(200, missing), Verdict::Negative);
        let internal = br#"{"success":false,"status_code":11,"status_message":"Internal error"}"#;
        assert_eq!(tmdb_verdict(200, internal), Verdict::Never);
        // A real answer that mentions "success" in a text is still an answer.
        let text = br#"{"id":1,"overview":"a \"success\": false story"}"#;
        assert_eq!(tmdb_verdict(200, text), Verdict::Positive);
        for status in [400, 401, 422, 429, 500, 503] {
            assert_eq!(tmdb_verdict(status, b"{}"), Verdict::Never, "{status}");
        }
        let omdb = |status, body: &str| omdb_verdict(status, body.as_bytes());
        assert_eq!(
            omdb(200, r#"{"Title":"x","Response":"True"}"#),
            Verdict::Positive
        );
        for no_data in [
            "Incorrect IMDb ID.",
            "Error getting data.",
            "Movie not found!",
            "Series or episode not found!",
        ] {
            let body = format!(r#"{{"Response":"False","Error":"{no_data}"}}"#);
            assert_eq!(omdb(200, &body), Verdict::Negative, "{no_data}");
        }
        for never in [
            (401, r#"{"Response":"False","Error":"Invalid API key!"}"#),
            (
                401,
                r#"{"Response":"False","Error":"Request limit reached!"}"#,
            ),
            (
                401,
                r#"{"Response":"False","Error":"No API key provided."}"#,
            ),
            (200, r#"{"Response":"False","Error":"Too many results."}"#),
            (200, r#"{"Response":"False","Error":"Something new"}"#),
            (200, "not json"),
            (503, "{}"),
        ] {
            assert_eq!(omdb(never.0, never.1), Verdict::Never, "{never:?}");
        }
    }

    #[test]
    fn per_source_ttl_with_default() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            open(dir.path(), CacheMode::ReadWrite, SourceKind::Omdb).ttl(),
            Duration::from_secs(7 * 86_400)
        );
        let tmdb = open(dir.path(), CacheMode::ReadWrite, SourceKind::Tmdb);
        assert_eq!(tmdb.ttl(), Duration::from_secs(100));
        assert_eq!(tmdb.dir(), dir.path().join("tmdb"));
        assert!(dir.path().join(TAG_FILE).is_file());
        let off = SourceCache::open(
            &config(dir.path(), CacheMode::Off),
            &source(SourceKind::Tmdb),
        );
        assert!(off.unwrap().is_none());
    }

    #[test]
    fn read_only_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("never");
        let c = open(&root, CacheMode::ReadOnly, SourceKind::Tmdb);
        assert!(matches!(
            c.lookup(&c.key("movie/1", &[])),
            Lookup::Miss(Miss::Absent)
        ));
        assert!(!c.store(&c.key("movie/1", &[]), 200, b"{}", Verdict::Positive));
        assert!(!root.exists());
    }

    #[test]
    fn ttl_and_negative_ttl_by_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let (clock, now) = manual_clock();
        let c = open(dir.path(), CacheMode::ReadWrite, SourceKind::Tmdb).with_clock(clock);
        let found = c.key("movie/1", &[]);
        let gone = c.key("movie/2", &[]);
        assert!(c.store(&found, 200, br#"{"id":1}"#, Verdict::Positive));
        assert!(c.store(&gone, 404, br#"{"status_code":34}"#, Verdict::Negative));
        let hit = |k: &RequestKey| matches!(c.lookup(k), Lookup::Hit(_));
        assert!(hit(&found) && hit(&gone));
        *now.lock().unwrap() += Duration::from_secs(10);
        assert!(hit(&found));
        assert!(matches!(c.lookup(&gone), Lookup::Miss(Miss::Expired)));
        *now.lock().unwrap() += Duration::from_secs(90);
        assert!(matches!(c.lookup(&found), Lookup::Miss(Miss::Expired)));
        let t = c.totals();
        assert_eq!((t.hits, t.misses, t.expired), (3, 2, 2));

        // Read-only serves what read-write calls expired, and says so.
        let (ro_clock, ro_now) = manual_clock();
        *ro_now.lock().unwrap() = *now.lock().unwrap();
        let ro = open(dir.path(), CacheMode::ReadOnly, SourceKind::Tmdb).with_clock(ro_clock);
        match ro.lookup(&found) {
            Lookup::Hit(h) => assert!(h.stale && h.body.as_ref() == br#"{"id":1}"#),
            other => panic!("expected a stale hit, got {other:?}"),
        }
        assert_eq!(ro.totals().stale_hits, 1);
    }

    #[test]
    fn modes_read_and_write_as_documented() {
        let dir = tempfile::tempdir().unwrap();
        let rw = open(dir.path(), CacheMode::ReadWrite, SourceKind::Tmdb);
        let refresh = open(dir.path(), CacheMode::Refresh, SourceKind::Tmdb);
        let k = rw.key("movie/1", &[]);
        assert!(refresh.store(&k, 200, br#"{"v":1}"#, Verdict::Positive));
        assert!(matches!(refresh.lookup(&k), Lookup::Miss(Miss::NotReading)));
        assert_eq!(refresh.totals().misses, 0, "refresh does not look up");
        match rw.lookup(&k) {
            Lookup::Hit(h) => assert_eq!(h.body.as_ref(), br#"{"v":1}"#),
            other => panic!("{other:?}"),
        }
        assert!(!rw.store(&k, 401, b"{}", Verdict::Never));
    }

    #[test]
    fn damaged_entries_are_misses_counted_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path(), CacheMode::ReadWrite, SourceKind::Tmdb);
        let k = c.key("movie/2", &[]);
        assert!(c.store(&k, 200, br#"{"id":2,"title":"x"}"#, Verdict::Positive));
        let path = c.path_of(&k);
        let good = std::fs::read(&path).unwrap();
        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 0x20;
        for bad in [&good[..good.len() - 7], &flipped[..], b"", b"garbage"] {
            std::fs::write(&path, bad).unwrap();
            assert!(matches!(c.lookup(&k), Lookup::Miss(Miss::Corrupt)));
        }
        // An intact entry of another request in this file's place is not this answer.
        let other = entry::encode("GET elsewhere", 200, false, SystemTime::now(), b"{}");
        std::fs::write(&path, other).unwrap();
        assert!(matches!(c.lookup(&k), Lookup::Miss(Miss::Corrupt)));
        assert_eq!(c.totals().corrupt, 5);
        assert!(c.store(&k, 200, br#"{"id":2}"#, Verdict::Positive));
        assert!(matches!(c.lookup(&k), Lookup::Hit(_)));
    }

    #[test]
    fn a_failed_write_is_counted_not_raised() {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path(), CacheMode::ReadWrite, SourceKind::Tmdb);
        let k = c.key("movie/3", &[]);
        // A file where the shard directory should be makes every write there fail.
        let shard = c.path_of(&k).parent().unwrap().to_path_buf();
        std::fs::write(&shard, b"in the way").unwrap();
        assert!(!c.store(&k, 200, b"{}", Verdict::Positive));
        assert_eq!(c.totals().write_errors, 1);
    }

    #[test]
    fn source_names_cannot_escape_the_directory() {
        for bad in ["", "..", "../x", "a/b", "a b", "tmdb\0"] {
            assert!(check_source_name(bad).is_err(), "{bad:?}");
        }
        check_source_name("tmdb_eu-2").unwrap();
    }
}
