//! The compiled plan: what every later layer (dag, stages, runner) consumes.
//!
//! Everything here is already checked: `needs` name existing stages, durations and rates are
//! parsed, retry policies are merged with `[defaults.retry]`, and limits are in range. Spans
//! and raw TOML stay in the parsing layer; nothing downstream needs them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::error::Site;
use crate::secret::{Secret, SecretUrl};

/// Implements `as_str` and `ALL` for a plan word enum, in the spelling plans use.
macro_rules! plan_words {
    ($ty:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in documentation order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The word a plan uses for this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }

            /// Every word, in documentation order.
            pub fn words() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.as_str()).collect()
            }

            /// The value a plan word names.
            pub fn from_word(word: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == word)
            }
        }

        impl Scalar for $ty {
            fn to_value(&self) -> Option<FieldValue> {
                Some(FieldValue::Word(self.as_str()))
            }

            fn from_value(v: FieldValue) -> Option<Self> {
                match v {
                    FieldValue::Word(w) => Self::from_word(w),
                    _ => None,
                }
            }
        }
    };
}

/// The value of a model field that one plan key sets, as the key's type reads and writes it
/// (`plan::keys::Bind`): the compiler reads a key into one of these and the field takes it;
/// `plan show` and the reference's defaults write the field's through the same key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue {
    Bool(bool),
    /// An integer, or a size in bytes.
    Int(i128),
    Float(f64),
    Duration(Duration),
    Rate(Rate),
    /// One of the key's words.
    Word(&'static str),
}

/// A model field type a plan key can be bound to.
pub trait Scalar: Sized {
    /// `None`: the field is unset (an `Option` that is `None`), so the key is not written.
    fn to_value(&self) -> Option<FieldValue>;
    /// `None` when the value is not of this field's type (a binding to the wrong field).
    fn from_value(v: FieldValue) -> Option<Self>;
}

/// `Scalar` for a type held by one variant of [`FieldValue`].
macro_rules! scalar {
    ($($ty:ty => $variant:ident),+) => {$(
        impl Scalar for $ty {
            fn to_value(&self) -> Option<FieldValue> {
                Some(FieldValue::$variant(*self))
            }
            fn from_value(v: FieldValue) -> Option<Self> {
                match v {
                    FieldValue::$variant(x) => Some(x),
                    _ => None,
                }
            }
        }
    )+};
}

scalar!(bool => Bool, f64 => Float, Duration => Duration, Rate => Rate);

/// `Scalar` for an integer type, which takes the integers it can hold.
macro_rules! int_scalar {
    ($($ty:ty),+) => {$(
        impl Scalar for $ty {
            fn to_value(&self) -> Option<FieldValue> {
                Some(FieldValue::Int(i128::from(*self)))
            }
            fn from_value(v: FieldValue) -> Option<Self> {
                match v {
                    FieldValue::Int(n) => <$ty>::try_from(n).ok(),
                    _ => None,
                }
            }
        }
    )+};
}

int_scalar!(u32, u64);

impl<T: Scalar> Scalar for Option<T> {
    fn to_value(&self) -> Option<FieldValue> {
        self.as_ref().and_then(T::to_value)
    }
    fn from_value(v: FieldValue) -> Option<Self> {
        T::from_value(v).map(Some)
    }
}

/// A validated, fully layered plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub name: String,
    pub description: Option<String>,
    /// The files that were layered to build this plan, the plan itself first, then what it
    /// `extends`, in order. Paths as given (relative to the current directory when the plan's
    /// path was), normalised.
    pub files: Vec<PathBuf>,
    /// A stable hash of the resolved plan (secrets excluded), recorded with each run so
    /// `--resume` can tell when the plan changed under it.
    pub hash: String,
    pub database: DatabaseConfig,
    /// Keyed by the source's name in the plan (`[sources.<name>]`).
    pub sources: BTreeMap<String, SourceConfig>,
    pub cache: CacheConfig,
    pub data: DataConfig,
    /// In the order they appear in the plan; use `dag` for execution order.
    pub stages: Vec<Stage>,
    /// Every `${VAR}` that had no value when the plan was loaded, with its place.
    /// [`Plan::require_resolved`] turns those still unresolved into errors.
    pub unresolved: Vec<UnresolvedVar>,
}

impl Plan {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    pub fn stage_mut(&mut self, name: &str) -> Option<&mut Stage> {
        self.stages.iter_mut().find(|s| s.name == name)
    }

    /// How many stages of kind `fetch` the plan has.
    pub fn fetch_stages(&self) -> usize {
        self.stages
            .iter()
            .filter(|s| matches!(s.kind, StageKind::Fetch(_)))
            .count()
    }
}

/// Where seed files and curated lists live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataConfig {
    /// Absolute. `[data] dir` is relative to the plan file that sets it; the default `data` is
    /// relative to the current directory.
    pub dir: PathBuf,
}

impl DataConfig {
    /// `<dir>/lists/<name>.toml`: a curated list or a cultural list.
    pub fn list_file(&self, name: &str) -> PathBuf {
        self.dir.join("lists").join(format!("{name}.toml"))
    }
}

/// Which interpolated field an unresolved variable sits in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarField {
    DatabaseUrl,
    /// The source's name.
    ApiKey(String),
    /// The source's name; `written` is the value as it stood with the variable unexpanded, so
    /// an override (`run --sandbox`) is recognised as resolving it.
    BaseUrl {
        source: String,
        written: String,
    },
}

/// A `${VAR}` without default whose variable was unset at load time.
#[derive(Debug, Clone, PartialEq)]
pub struct UnresolvedVar {
    pub var: String,
    /// The key path, like `sources.tmdb.api_key`.
    pub key: String,
    pub field: VarField,
    /// Where the `${VAR}` is written, when the plan text is at hand.
    pub site: Option<Site>,
    /// A variable set in the environment whose name is close to `var` (`TMDB_API_KEY` for
    /// `TMDB_KEY`): probably the one meant.
    pub similar: Option<String>,
}

/// A string value that came from the plan after `${VAR}` interpolation.
///
/// `Unresolved` is kept instead of failing at compile time because `validate` only warns
/// about an unset variable; `run` turns it into an error naming the variable.
#[derive(Clone, PartialEq, Eq)]
pub enum Interpolated<T> {
    Value(T),
    /// The variable named here is unset and the value had no default.
    Unresolved {
        var: String,
    },
}

impl<T> Interpolated<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Interpolated::Value(v) => Some(v),
            Interpolated::Unresolved { .. } => None,
        }
    }
}

/// Values may be secrets, so `Debug` never prints one.
impl<T> fmt::Debug for Interpolated<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interpolated::Value(_) => f.write_str("Value(***)"),
            Interpolated::Unresolved { var } => write!(f, "Unresolved({var})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseConfig {
    pub url: Interpolated<SecretUrl>,
    /// How long connecting may take before the run (or `db`, `status`) gives up with an error
    /// naming the server.
    pub connect_timeout: Duration,
}

impl DatabaseConfig {
    /// `connect_timeout` when the plan sets none (and for `--url` commands).
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    Tmdb,
    Omdb,
}

plan_words!(SourceKind { Tmdb => "tmdb", Omdb => "omdb" });

impl SourceKind {
    /// The API's own spelling, for messages.
    pub fn display_name(self) -> &'static str {
        match self {
            SourceKind::Tmdb => "TMDB",
            SourceKind::Omdb => "OMDb",
        }
    }

    /// The API root used when a source sets no `base_url`.
    pub fn default_base_url(self) -> &'static str {
        match self {
            SourceKind::Tmdb => "https://api.themoviedb.org/3",
            SourceKind::Omdb => "https://www.omdbapi.com",
        }
    }

    /// The rate used when a source sets no `rate`: TMDB allows about 40 requests per second;
    /// OMDb publishes no rate, only a daily quota, so it gets a gentle default.
    pub fn default_rate(self) -> Rate {
        match self {
            SourceKind::Tmdb => Rate {
                count: 40,
                per: Duration::from_secs(1),
            },
            SourceKind::Omdb => Rate {
                count: 5,
                per: Duration::from_secs(1),
            },
        }
    }

    /// The largest answer read when a source sets no `max_body`. The biggest recorded TMDB
    /// details answer (credits, images and keywords appended) is about 260 KiB, so 8 MiB leaves
    /// room for the biggest films while a runaway body cannot take the process's memory; an
    /// OMDb record is a few KiB.
    pub fn default_max_body(self) -> u64 {
        match self {
            SourceKind::Tmdb => 8 << 20,
            SourceKind::Omdb => 1 << 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    pub name: String,
    pub kind: SourceKind,
    pub api_key: Interpolated<Secret>,
    /// The environment variable the key was read from (`TMDB_API_KEY`), for error messages
    /// that tell the user what to set without ever showing the key.
    pub api_key_var: Option<String>,
    pub base_url: String,
    /// One budget shared by every stage that uses this source.
    pub rate: Rate,
    /// Requests that may go at once to pay back a stall (`sources::pace`).
    pub burst: u32,
    /// Whose budget `rate` is when a run is shared by workers: each worker's, or one for all.
    pub rate_scope: RateScope,
    pub timeout: Duration,
    pub daily_quota: Option<u32>,
    /// The largest answer body read, in bytes; a bigger answer fails its request unread.
    pub max_body: u64,
    /// The longest one request may spend waiting out 429 answers before it fails.
    pub max_rate_limited_wait: Duration,
    /// Keep each movie's answer body as received (`movie_raw_json`); off, only the tables.
    pub store_raw: bool,
    /// TMDB's files host (daily ID exports), without a trailing `/`.
    pub files_url: String,
    /// TMDB's `language` for every request (`fr-FR`); `None`: TMDB's default.
    pub language: Option<String>,
    /// TMDB's `region` for the lists and discover.
    pub region: Option<String>,
}

/// `count` requests per `per` ("40/s", "300/10s", "1000/day").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// Requests per second (0 for a rate of 0).
    pub fn per_second(&self) -> f64 {
        f64::from(self.count) / self.per.as_secs_f64().max(f64::MIN_POSITIVE)
    }

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

plan_words!(CacheMode { Off => "off", ReadWrite => "read-write", ReadOnly => "read-only", Refresh => "refresh" });

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

plan_words!(Backoff { Exponential => "exponential", Fixed => "fixed" });

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries including the first; 1 means no retry.
    pub attempts: u32,
    pub backoff: Backoff,
    pub initial: Duration,
    pub max: Duration,
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// `[defaults.retry]` when a plan sets nothing: 4 tries, exponential from 500 ms to 30 s,
    /// with jitter.
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            backoff: Backoff::Exponential,
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            jitter: true,
        }
    }
}

/// Whose budget a source's `rate` is in a run shared by worker processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateScope {
    /// Each worker paces itself at the rate (TMDB limits each client address).
    Worker,
    /// The workers share one budget, kept in the run's database.
    Cluster,
}

plan_words!(RateScope { Worker => "worker", Cluster => "cluster" });

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Fail,
    Continue,
}

plan_words!(OnError { Fail => "fail", Continue => "continue" });

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
    /// The least time between two requests of this stage (stage-wide, whatever the
    /// concurrency), on top of the source's rate. Zero: only the rate applies.
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
    People(PeopleStage),
    PostProcess(PostProcessStage),
}

/// The stage kinds a plan can name, in documentation order.
pub const STAGE_KINDS: &[&str] = &["reset", "seed", "fetch", "enrich", "people", "post_process"];

impl StageKind {
    pub fn name(&self) -> &'static str {
        match self {
            StageKind::Reset(_) => "reset",
            StageKind::Seed(_) => "seed",
            StageKind::Fetch(_) => "fetch",
            StageKind::Enrich(_) => "enrich",
            StageKind::People(_) => "people",
            StageKind::PostProcess(_) => "post_process",
        }
    }

    /// Every kind but `reset` writes rows, so each must run after the plan's reset.
    pub fn writes(&self) -> bool {
        !matches!(self, StageKind::Reset(_))
    }

    /// The source this stage calls, if any.
    pub fn source(&self) -> Option<&str> {
        match self {
            StageKind::Fetch(f) => Some(&f.source),
            StageKind::Enrich(e) => Some(&e.source),
            StageKind::People(p) => Some(&p.source),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResetStage {
    pub allow_remote: bool,
    pub mode: ResetMode,
    pub scope: ResetScope,
}

impl ResetStage {
    /// Whether the run builds a new database beside the live one and swaps it in.
    pub fn swaps(&self) -> bool {
        self.mode == ResetMode::Swap
    }
}

/// How a reset replaces the live data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetMode {
    /// Build a complete new database beside the live one and swap it in when every stage has
    /// ended well; until then the live data is untouched.
    #[default]
    Swap,
    /// Drop the live tables first and rebuild them where they are.
    InPlace,
}

plan_words!(ResetMode { Swap => "swap", InPlace => "in_place" });

/// What a reset may drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetScope {
    /// Only the tables popctl's migrations create (its data, its ledger, its migration
    /// record); other tables of the database stay.
    #[default]
    Popctl,
    /// Every table of the database (or PostgreSQL schema).
    Database,
}

plan_words!(ResetScope { Popctl => "popctl", Database => "database" });

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SeedSet {
    ExternalSources,
    Genres,
    Authorities,
    Lists,
}

plan_words!(SeedSet {
    ExternalSources => "external_sources",
    Genres => "genres",
    Authorities => "authorities",
    Lists => "lists",
});

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
    /// `trending/movie/day`: what people look at today.
    TrendingDay,
    /// `trending/movie/week`.
    TrendingWeek,
    Discover,
}

plan_words!(ListKind {
    Popular => "popular",
    TopRated => "top_rated",
    NowPlaying => "now_playing",
    Upcoming => "upcoming",
    TrendingDay => "trending_day",
    TrendingWeek => "trending_week",
    Discover => "discover",
});

/// What an IMDb title id looks like (`tt` and at least seven digits), as a JSON Schema pattern.
pub const IMDB_ID_PATTERN: &str = "^tt[0-9]{7,}$";

/// Is `s` shaped like an IMDb title id (`tt0133093`)?
pub fn is_imdb_id(s: &str) -> bool {
    s.strip_prefix("tt")
        .is_some_and(|d| d.len() >= 7 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Movies per page of every TMDB list.
pub const LIST_PAGE_SIZE: u64 = 20;

/// TMDB refuses pages beyond 500.
pub const MAX_PAGES: u32 = 500;

/// The most movies a list stage's `limit` can ask for: every page TMDB serves.
pub const MAX_LIMIT: u32 = MAX_PAGES * LIST_PAGE_SIZE as u32;

/// TMDB refuses more than 20 `append_to_response` parts (error 27).
pub const MAX_APPEND: usize = 20;

/// The `append_to_response` parts a plan may ask for.
pub const APPEND_PARTS: &[&str] = &[
    "credits",
    "keywords",
    "videos",
    "release_dates",
    "external_ids",
    "images",
    "reviews",
    "recommendations",
    "similar",
    "alternative_titles",
    "translations",
    "watch/providers",
];

/// The `append_to_response` parts of `person/{id}` a people stage may ask for: those popctl
/// stores (`person_images`, `person_translations`).
pub const PERSON_APPEND_PARTS: &[&str] = &["images", "translations"];

/// The `sort_by` values of discover, as TMDB documents them.
pub const SORT_BY: &[&str] = &[
    "popularity.desc",
    "popularity.asc",
    "vote_average.desc",
    "vote_average.asc",
    "vote_count.desc",
    "vote_count.asc",
    "primary_release_date.desc",
    "primary_release_date.asc",
    "title.desc",
    "title.asc",
    "original_title.desc",
    "original_title.asc",
    "revenue.desc",
    "revenue.asc",
];

/// `with_release_type`'s values: 1 premiere, 2 limited theatrical, 3 theatrical, 4 digital,
/// 5 physical, 6 TV.
pub const RELEASE_TYPES: std::ops::RangeInclusive<i128> = 1..=6;

/// `with_watch_monetization_types`' words.
pub const MONETIZATION_TYPES: &[&str] = &["flatrate", "free", "ads", "rent", "buy"];

impl ListKind {
    /// The TMDB path of the list, under the API root.
    pub fn path(self) -> &'static str {
        match self {
            ListKind::Popular => "movie/popular",
            ListKind::TopRated => "movie/top_rated",
            ListKind::NowPlaying => "movie/now_playing",
            ListKind::Upcoming => "movie/upcoming",
            ListKind::TrendingDay => "trending/movie/day",
            ListKind::TrendingWeek => "trending/movie/week",
            ListKind::Discover => "discover/movie",
        }
    }
}

/// The filters of a discover stage: TMDB `/discover/movie` parameters, each by TMDB's own name
/// and with the value as sent (`("with_genres", "27,53")`: `,` is AND, `|` is OR), in the
/// order `keys::DISCOVER` declares them. Genre names are already ids here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiscoverFilters(pub Vec<(&'static str, String)>);

impl DiscoverFilters {
    /// The query parameters to send.
    pub fn query(&self) -> &[(&'static str, String)] {
        &self.0
    }

    /// The value sent for `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FetchSelection {
    /// `pages` pages of a TMDB list (or of discover with `filters`); with `limit`, `pages`
    /// is `ceil(limit / 20)` and only the first `limit` movies are fetched.
    List {
        list: ListKind,
        pages: u32,
        limit: Option<u32>,
        filters: DiscoverFilters,
        /// Discover only: the queries the stage pages one after another, each `filters`
        /// with its own over it (already merged); empty: the one query `filters`. `pages`
        /// and `limit` count per query.
        queries: Vec<DiscoverFilters>,
    },
    /// Exactly these TMDB ids.
    Ids(Vec<u64>),
    /// Exactly the movies of a curated list file (`<data.dir>/lists/<name>.toml`).
    CuratedList { name: String, path: PathBuf },
    /// The movies of a TMDB collection (a franchise), by the collection's id.
    Collection(u64),
    /// The movies with these IMDb ids, looked up with `/find`.
    ImdbIds(Vec<String>),
    /// The movies of a TMDB user list (`/list/{id}`, every page), by the list's id: digits,
    /// or an older list's hex id.
    TmdbList(String),
    /// A person's filmography (`/person/{id}/movie_credits`).
    Person(PersonSelection),
    /// The first result of each title search (`/search/movie`).
    Search(Vec<TitleSearch>),
    /// The ids of a file in the data folder (`<data.dir>/lists/<name>`), read when the plan
    /// is compiled.
    IdsFile {
        name: String,
        path: PathBuf,
        ids: Vec<MovieRef>,
    },
    /// The movies of TMDB's daily ID export that `filter` admits, most popular first, the
    /// first `limit` of them.
    Export {
        filter: CatalogFilter,
        limit: Option<u32>,
    },
    /// The movies `/movie/changes` lists since the database's sync watermark.
    Changes {
        refetch: Refetch,
        /// The window read when the database records no sync yet.
        first_window: Duration,
        /// Admits the changed movies the database does not hold (with `Refetch::All`).
        filter: CatalogFilter,
    },
}

impl FetchSelection {
    /// The queries of a list selection: its `queries`, or its `filters` alone.
    pub fn list_queries(&self) -> Vec<&DiscoverFilters> {
        match self {
            FetchSelection::List {
                filters, queries, ..
            } if queries.is_empty() => vec![filters],
            FetchSelection::List { queries, .. } => queries.iter().collect(),
            _ => Vec::new(),
        }
    }

    /// Does the stage follow TMDB's catalog as a whole (and so record the sync watermark)?
    pub fn syncs(&self) -> bool {
        matches!(
            self,
            FetchSelection::Export { .. } | FetchSelection::Changes { .. }
        )
    }
}

/// Which credits of a person's filmography a `person` selection takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CreditRole {
    Cast,
    Crew,
    /// Cast and crew.
    #[default]
    Any,
}

plan_words!(CreditRole { Cast => "cast", Crew => "crew", Any => "any" });

/// `person = { id = 287, role = "crew", jobs = ["Director"] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonSelection {
    pub id: u64,
    pub role: CreditRole,
    /// Crew credits of these jobs only (TMDB's spelling); empty: every job.
    pub jobs: Vec<String>,
}

/// One title search: `{ title = "The Matrix", year = 1999 }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleSearch {
    pub title: String,
    pub year: Option<u16>,
}

impl std::fmt::Display for TitleSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.year {
            Some(y) => write!(f, "\"{}\" ({y})", self.title),
            None => write!(f, "\"{}\"", self.title),
        }
    }
}

/// A movie named by a TMDB id or an IMDb id (a line of an `ids_file`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MovieRef {
    Tmdb(u64),
    Imdb(String),
}

/// Is `s` shaped like a TMDB list id: digits (not 0) or an older list's hex id?
pub fn is_list_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_hexdigit())
        && s.bytes().any(|b| b != b'0')
}

/// Which movies of the whole catalog a stage takes, as TMDB's export describes them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CatalogFilter {
    pub min_popularity: Option<f64>,
    pub adult: bool,
    pub video: bool,
}

impl CatalogFilter {
    /// Does the filter take a movie with these flags and popularity?
    pub fn admits(&self, adult: bool, video: bool, popularity: f64) -> bool {
        (self.adult || !adult)
            && (self.video || !video)
            && self.min_popularity.is_none_or(|min| popularity >= min)
    }
}

/// Which changed movies a changes stage refetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Refetch {
    /// Those the database holds.
    #[default]
    Held,
    /// Every one; those the database does not hold yet when the stage's filter admits them.
    All,
}

plan_words!(Refetch { Held => "held", All => "all" });

/// What becomes of a movie the database holds once TMDB no longer has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnRemoved {
    /// `movies.removed_on` is set; the movie and its rows stay.
    #[default]
    Mark,
    /// The movie, its rows, and the shared rows no other movie uses are deleted.
    Delete,
    /// Nothing happens.
    Keep,
}

plan_words!(OnRemoved { Mark => "mark", Delete => "delete", Keep => "keep" });

#[derive(Debug, Clone, PartialEq)]
pub struct FetchStage {
    pub source: String,
    pub selection: FetchSelection,
    /// `append_to_response` parts, as TMDB spells them; at most 20.
    pub append: Vec<String>,
    pub on_removed: OnRemoved,
    /// The largest share of the held movies the stage may mark or delete.
    pub max_removed: f64,
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

plan_words!(EnrichScope { Upstream => "upstream", Missing => "missing", All => "all" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrichStage {
    pub source: String,
    pub scope: EnrichScope,
    /// Ask again for movies OMDb answered "no data" for in an earlier run.
    pub retry_no_data: bool,
    /// Ask again for those whose "no data" answer is at least this old.
    pub retry_no_data_after: Option<Duration>,
}

/// Which people of the upstream movies a `people` stage fetches the details of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeopleSelect {
    /// Everyone credited, cast and crew.
    All,
    /// The top-billed cast (`cast_top`) and the crew of some jobs (`jobs`).
    #[default]
    Credited,
}

plan_words!(PeopleSelect { All => "all", Credited => "credited" });

/// A `people` stage: TMDB's details (`/person/{id}`) of the people credited in the movies its
/// upstream fetch stages saved in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeopleStage {
    pub source: String,
    pub select: PeopleSelect,
    /// With `credited`: cast members billed before this place (`order < cast_top`).
    pub cast_top: u32,
    /// With `credited`: crew members credited with one of these jobs (TMDB's spelling).
    pub jobs: Vec<String>,
    /// `append_to_response` parts of `person/{id}`, as TMDB spells them.
    pub append: Vec<String>,
}

impl PeopleStage {
    /// `cast_top` when a plan sets none: the billing a film page shows first.
    pub const DEFAULT_CAST_TOP: u32 = 10;
    /// The most a plan may ask for: more than any movie's cast.
    pub const MAX_CAST_TOP: u32 = 10_000;

    /// `jobs` when a plan sets none: who made the film.
    pub fn default_jobs() -> Vec<&'static str> {
        vec!["Director", "Screenplay", "Writer"]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostStep {
    CulturalLists,
    CriScores,
    Recommendations,
    Reviews,
}

plan_words!(PostStep {
    CulturalLists => "cultural_lists",
    CriScores => "cri_scores",
    Recommendations => "recommendations",
    Reviews => "reviews",
});

#[derive(Debug, Clone, PartialEq)]
pub struct PostProcessStage {
    /// In the order they run; no duplicates.
    pub steps: Vec<PostStep>,
    /// Settings of every step, defaults filled in (also for steps not in `steps`).
    pub cultural_lists: CulturalListSettings,
    pub cri: CriSettings,
    pub recommendations: RecommendationSettings,
    pub reviews: ReviewSettings,
}

/// `[stages.<name>.cultural_lists]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CulturalListSettings {
    /// List names (files `<data.dir>/lists/<name>.toml`); `None` means every file there.
    pub lists: Option<Vec<String>>,
}

/// `[stages.<name>.cri]`: the cultural relevance index.
#[derive(Debug, Clone, PartialEq)]
pub struct CriSettings {
    pub weights: CriWeights,
    /// IMDb votes at which the vote component is full.
    pub imdb_votes_full: u64,
    /// TMDB votes at which the vote component is full.
    pub tmdb_votes_full: u64,
    /// TMDB popularity at which the popularity component is full.
    pub popularity_full: f64,
    /// Age in years from which a film counts as a classic.
    pub classic_age_years: u32,
}

/// Each ≥ 0 and their sum > 0 (the step normalises them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CriWeights {
    pub timelessness: f64,
    pub cultural_penetration: f64,
    pub artistic_impact: f64,
    pub institutional_recognition: f64,
    pub public_reception: f64,
}

impl Default for CriWeights {
    fn default() -> Self {
        CriWeights {
            timelessness: 0.2,
            cultural_penetration: 0.2,
            artistic_impact: 0.2,
            institutional_recognition: 0.2,
            public_reception: 0.2,
        }
    }
}

impl CriWeights {
    pub fn sum(&self) -> f64 {
        self.timelessness
            + self.cultural_penetration
            + self.artistic_impact
            + self.institutional_recognition
            + self.public_reception
    }
}

impl Default for CriSettings {
    fn default() -> Self {
        CriSettings {
            weights: CriWeights::default(),
            imdb_votes_full: 1_000_000,
            tmdb_votes_full: 20_000,
            popularity_full: 100.0,
            classic_age_years: 25,
        }
    }
}

/// `[stages.<name>.recommendations]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendationSettings {
    /// Recommendations kept per movie, 1..=100.
    pub top_n: u32,
    /// Similarity below which a pair is dropped, 0..=1.
    pub min_score: f64,
    pub weights: RecommendationWeights,
}

/// Each ≥ 0 and their sum > 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecommendationWeights {
    pub genres: f64,
    pub keywords: f64,
    pub cast: f64,
    pub crew: f64,
}

impl Default for RecommendationSettings {
    fn default() -> Self {
        RecommendationSettings {
            top_n: 10,
            min_score: 0.05,
            weights: RecommendationWeights::default(),
        }
    }
}

impl Default for RecommendationWeights {
    fn default() -> Self {
        RecommendationWeights {
            genres: 0.3,
            keywords: 0.3,
            cast: 0.25,
            crew: 0.15,
        }
    }
}

impl RecommendationWeights {
    pub fn sum(&self) -> f64 {
        self.genres + self.keywords + self.cast + self.crew
    }
}

/// `[stages.<name>.reviews]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewSettings {
    /// Reviews kept per movie, 0..=100.
    pub per_movie: u32,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        ReviewSettings { per_movie: 5 }
    }
}
