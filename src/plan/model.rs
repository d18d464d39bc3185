//! The compiled plan: what every later layer (dag, stages, runner) consumes.
//!
//! Everything here is already checked: `needs` name existing stages, durations and rates are
//! parsed, retry policies are merged with `[defaults.retry]`, and limits are in range. Spans
//! and raw TOML stay in the parsing layer; nothing downstream needs them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A validated, fully layered plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub name: String,
    pub description: Option<String>,
    /// The files that were layered to build this plan, the plan itself first, then what it
    /// `extends`, in order.
    pub files: Vec<PathBuf>,
    /// A stable hash of the resolved plan (secrets excluded), recorded with each run so
    /// `--resume` can tell when the plan changed under it.
    pub hash: String,
    pub database: DatabaseConfig,
    /// Keyed by the source's name in the plan (`[sources.<name>]`).
    pub sources: BTreeMap<String, SourceConfig>,
    pub cache: CacheConfig,
    /// In the order they appear in the plan; use `dag` for execution order.
    pub stages: Vec<Stage>,
}

impl Plan {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }
}

/// A string value that came from the plan after `${VAR}` interpolation.
///
/// `Unresolved` is kept instead of failing at compile time because `validate` only warns
/// about an unset variable; `run` turns it into an error naming the variable.
#[derive(Clone, PartialEq, Eq)]
pub enum Interpolated {
    Value(String),
    /// The variable named here is unset and the value had no default.
    Unresolved {
        var: String,
    },
}

impl Interpolated {
    pub fn value(&self) -> Option<&str> {
        match self {
            Interpolated::Value(v) => Some(v),
            Interpolated::Unresolved { .. } => None,
        }
    }
}

/// Secrets must never reach output, so `Debug` never prints a value.
impl fmt::Debug for Interpolated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interpolated::Value(_) => f.write_str("Value(***)"),
            Interpolated::Unresolved { var } => write!(f, "Unresolved({var})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseConfig {
    pub url: Interpolated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    Tmdb,
    Omdb,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Tmdb => "tmdb",
            SourceKind::Omdb => "omdb",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    pub name: String,
    pub kind: SourceKind,
    pub api_key: Interpolated,
    /// The environment variable the key was read from (`TMDB_API_KEY`), for error messages
    /// that tell the user what to set without ever showing the key.
    pub api_key_var: Option<String>,
    pub base_url: String,
    /// One budget shared by every stage that uses this source.
    pub rate: Rate,
    pub timeout: Duration,
    pub daily_quota: Option<u32>,
}

/// `count` requests per `per` ("40/s", "300/10s", "1000/day").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// The shortest time `requests` requests can take at this rate.
    pub fn time_for(&self, requests: u64) -> Duration {
        if self.count == 0 {
            return Duration::MAX;
        }
        self.per.mul_f64(requests as f64 / f64::from(self.count))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    Off,
    ReadWrite,
    ReadOnly,
    Refresh,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    pub mode: CacheMode,
    pub dir: PathBuf,
    /// Per source name; a source without an entry uses `default_ttl`.
    pub ttl: BTreeMap<String, Duration>,
    pub default_ttl: Duration,
    pub negative_ttl: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    Exponential,
    Fixed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries including the first; 1 means no retry.
    pub attempts: u32,
    pub backoff: Backoff,
    pub initial: Duration,
    pub max: Duration,
    pub jitter: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Fail,
    Continue,
}

/// How many failed items a stage tolerates before it fails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxFailures {
    Count(u64),
    /// A fraction of the stage's items, 0.0..=1.0.
    Ratio(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    pub needs: Vec<String>,
    pub enabled: bool,
    pub concurrency: u32,
    /// Pause between two requests of this stage, on top of the source's rate.
    pub delay: Duration,
    pub retry: RetryPolicy,
    pub on_error: OnError,
    pub max_failures: Option<MaxFailures>,
    /// Start on upstream items as they finish (true) or wait for upstream stages to end.
    pub streaming: bool,
    pub kind: StageKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StageKind {
    Reset(ResetStage),
    Seed(SeedStage),
    Fetch(FetchStage),
    Enrich(EnrichStage),
    PostProcess(PostProcessStage),
}

impl StageKind {
    pub fn name(&self) -> &'static str {
        match self {
            StageKind::Reset(_) => "reset",
            StageKind::Seed(_) => "seed",
            StageKind::Fetch(_) => "fetch",
            StageKind::Enrich(_) => "enrich",
            StageKind::PostProcess(_) => "post_process",
        }
    }

    /// The source this stage calls, if any.
    pub fn source(&self) -> Option<&str> {
        match self {
            StageKind::Fetch(f) => Some(&f.source),
            StageKind::Enrich(e) => Some(&e.source),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetStage {
    pub allow_remote: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SeedSet {
    ExternalSources,
    Genres,
    Authorities,
    Lists,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedStage {
    pub sets: Vec<SeedSet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Popular,
    TopRated,
    NowPlaying,
    Upcoming,
    Discover,
}

impl ListKind {
    /// The TMDB path of the list, under the API root.
    pub fn path(self) -> &'static str {
        match self {
            ListKind::Popular => "movie/popular",
            ListKind::TopRated => "movie/top_rated",
            ListKind::NowPlaying => "movie/now_playing",
            ListKind::Upcoming => "movie/upcoming",
            ListKind::Discover => "discover/movie",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiscoverFilters {
    pub sort_by: Option<String>,
    pub primary_release_year: Option<u16>,
    pub with_genres: Vec<u32>,
    pub vote_count_gte: Option<u32>,
}

impl DiscoverFilters {
    /// Query parameters in TMDB's spelling (`vote_count.gte`).
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(s) = &self.sort_by {
            q.push(("sort_by", s.clone()));
        }
        if let Some(y) = self.primary_release_year {
            q.push(("primary_release_year", y.to_string()));
        }
        if !self.with_genres.is_empty() {
            let ids: Vec<String> = self.with_genres.iter().map(u32::to_string).collect();
            q.push(("with_genres", ids.join(",")));
        }
        if let Some(v) = self.vote_count_gte {
            q.push(("vote_count.gte", v.to_string()));
        }
        q
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchSelection {
    /// `pages` pages of a TMDB list (or of discover with `filters`).
    List {
        list: ListKind,
        pages: u32,
        filters: DiscoverFilters,
    },
    /// Exactly these TMDB ids.
    Ids(Vec<u64>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchStage {
    pub source: String,
    pub selection: FetchSelection,
    /// `append_to_response` parts, as TMDB spells them; at most 20.
    pub append: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrichScope {
    /// Movies produced by this stage's upstream fetch stages in this run.
    Upstream,
    /// Every movie in the database without OMDb data.
    Missing,
    /// Every movie in the database.
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrichStage {
    pub source: String,
    pub scope: EnrichScope,
    /// Ask again for movies OMDb answered "no data" for in an earlier run.
    pub retry_no_data: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostStep {
    CulturalLists,
    CriScores,
    Recommendations,
    Reviews,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PostProcessStage {
    pub steps: Vec<PostStep>,
    /// Step settings (`[stages.<name>.cri]`, …) as given in the plan; each step checks its own.
    pub settings: BTreeMap<String, toml::Value>,
}
