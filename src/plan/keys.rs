//! The plan format, declared once: every table, its keys, each key's type, limits, default and
//! description, and the model field a key sets.
//!
//! Everything that needs to know the format reads it from here: the compiler (`compile`,
//! `stage`) checks a table's keys against its [`Table`] and reads each value through its
//! [`Key`], so names, limits and word lists come from one place; `schema` turns the tables
//! into the JSON Schema for editors; [`markdown`] draws the reference tables of
//! docs/plans.md (a test keeps the file in step); a test renders plans setting every key and
//! checks `render` writes each one, with the value it was given.
//!
//! A key whose value is one field of the compiled model is bound to it (`.sets(field!(…))`,
//! a [`Bind`]): `Cx::read_bound` reads it into the field through the key's type, `render`
//! writes it back through the same type, and with `field!(default …)` its default
//! ([`Unset::Model`]) is the field's in the model's `Default`. Adding such a key is its
//! declaration here and its field in the model. Keys whose value is not one field (an API key
//! with its variable, a fetch stage's `list`, `pages` and filters, which become one
//! `FetchSelection`) keep a reader in `compile`/`stage` and a line in `render`; other
//! defaults are the model's typed constants, which a key only points at.
//!
//! Hand-written tables with bindings rather than a derive: what a plan says (a key, its unit,
//! its limits, how an error is worded) is not the shape of the compiled model, so a derive on
//! the model could not say it, and a derive on shadow types would be a second declaration.

use std::any::Any;
use std::time::Duration;

use super::model::*;
use super::units::{format_duration, format_rate, format_size};

/// The database a plan uses when it names none: a SQLite file in the current directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://popctl-dev.db?mode=rwc";
pub const DEFAULT_CONCURRENCY: u32 = 4;
pub const MAX_CONCURRENCY: u32 = 256;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Turns a source takes at once to pay back a stall: 1 keeps every window of the rate within
/// its count (see `sources::pace`).
pub const DEFAULT_BURST: u32 = 1;
/// How long one request may wait out 429 answers: long enough to ride out a server that is
/// slower than the plan's rate for a while, short enough that a run against a source that
/// never lets up ends with failed items instead of hanging.
pub const DEFAULT_MAX_RATE_LIMITED_WAIT: Duration = Duration::from_secs(600);
pub const DEFAULT_TTL: Duration = Duration::from_secs(86_400);
pub const DEFAULT_CACHE_DIR: &str = ".popctl/cache";
pub const DEFAULT_DATA_DIR: &str = "data";
/// Pages of a list a fetch stage reads when it sets no `pages`.
pub const DEFAULT_PAGES: u32 = 1;
/// The largest share of the movies a database holds that one stage may mark or delete as
/// gone from TMDB: TMDB removes some 0.2% a day, so more in one run means an export or a
/// changes feed cut short upstream, not a catalog that shrank.
pub const DEFAULT_MAX_REMOVED: f64 = 0.05;
/// The changes a `changes` stage reads when the database records no sync yet: TMDB's own
/// default window.
pub const DEFAULT_FIRST_WINDOW: Duration = Duration::from_secs(86_400);
/// Where TMDB serves its daily ID exports.
pub const DEFAULT_FILES_URL: &str = "https://files.tmdb.org";

/// What a key's value is.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// Any string.
    Str,
    /// A string in which `${VAR}` is expanded.
    Interpolated,
    /// A path, relative to the plan file that writes it.
    Path,
    /// The name of something the plan or its data folder defines (a source, a list).
    Name,
    Bool,
    /// An integer in `min..=max`.
    Int {
        min: i128,
        max: i128,
    },
    /// A number in `min..=max` (`max` may be infinite); `above_min` excludes `min` itself.
    Float {
        min: f64,
        max: f64,
        above_min: bool,
    },
    Duration,
    /// A duration longer than zero; `zero` labels a zero in the error.
    PositiveDuration {
        zero: &'static str,
    },
    Rate,
    /// A size above zero; `zero` labels a zero in the error.
    Size {
        zero: &'static str,
    },
    MaxFailures,
    /// One of a fixed list of words.
    Word(fn() -> Vec<&'static str>),
    /// An array of words, at most `max` of them (0: no limit).
    Words {
        words: fn() -> Vec<&'static str>,
        max: usize,
    },
    /// An array of names.
    Names,
    /// An array of non-empty strings (a free vocabulary, such as TMDB's crew jobs).
    Strs,
    /// An array of positive integer ids.
    Ids,
    /// An array of IMDb title ids (`"tt0133093"`).
    ImdbIds,
    /// A TMDB list id: a positive integer, or a string of hex digits (an older list's id).
    ListId,
    /// An array of tables with keys of their own.
    Tables(&'static Table),
    /// A date, `"YYYY-MM-DD"` (a TOML date too).
    Date,
    /// A two-letter code.
    Code(CodeKind),
    /// TMDB's AND/OR list: an array (AND, sent joined by `,`) whose string elements may hold
    /// alternatives joined by `|` (OR).
    AndOr(Elem),
    /// A table with keys of its own.
    Table(&'static Table),
    /// A table of any names, each holding a value of this type.
    Map(&'static Ty),
    /// `[stages.<name>]`: a table of any names, each a stage of one of [`STAGE_KINDS`].
    Stages,
    /// `[defaults.<kind>]`: any key of a stage of this kind but `kind`.
    KindDefaults(&'static str),
}

/// What a two-letter code names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// ISO 639-1, lower case: `"en"`.
    Language,
    /// ISO 3166-1 alpha-2, upper case: `"US"`.
    Country,
    /// A language, or a language and a country, as TMDB's `language` takes it: `"fr"`,
    /// `"fr-FR"`.
    Locale,
}

/// What each alternative of an [`Ty::AndOr`] list is.
#[derive(Debug, Clone, Copy)]
pub enum Elem {
    /// A TMDB id (≥ 1).
    Id,
    /// A TMDB genre id, or a genre's name in the seed data's genres file.
    Genre,
    /// An integer in `min..=max`.
    Int { min: i128, max: i128 },
    /// One of a fixed list of words.
    Word(fn() -> Vec<&'static str>),
}

/// What a key is when a plan does not set it.
#[derive(Debug, Clone, Copy)]
pub enum Unset {
    /// No value: the key is optional and means something only when set.
    None,
    /// A value, as a plan would write it.
    Value(fn() -> toml::Value),
    /// A value that depends on something else (the file name, the source's kind), in words.
    Prose(fn() -> String),
    /// The key must be set.
    Required,
    /// The value of the key's field in its model's `Default` (a [`Bind::Field`] made with
    /// `field!(default …)`).
    Model,
}

/// The field of the compiled model a key sets: the compiler reads the key into it through
/// the key's type, `render` writes it back through the same type, and [`Unset::Model`] reads
/// the key's default from it. A key without one is read and written by hand (its value is not
/// one field: `api_key`, a fetch stage's `list`).
///
/// Type-erased (`dyn Any`) so one [`Table`] of keys serves every model; each binding checks
/// that it is given its own model, and the tests read and write every bound key.
#[derive(Debug, Clone, Copy)]
pub enum Bind {
    /// A field of a [`Scalar`] type.
    Field {
        /// `None`: not this binding's model; `Some(None)`: the field is unset.
        get: fn(&dyn Any) -> Option<Option<FieldValue>>,
        /// `false`: not this binding's model, or a value of another type.
        set: fn(&mut dyn Any, FieldValue) -> bool,
        /// The field's value in the model's `Default`, for [`Unset::Model`].
        default: Option<fn() -> Option<FieldValue>>,
    },
    /// A field holding the model of the key's [`Ty::Table`] (`weights`).
    Table {
        get: fn(&dyn Any) -> Option<&dyn Any>,
        get_mut: fn(&mut dyn Any) -> Option<&mut dyn Any>,
    },
}

/// The [`Bind`] of a key to a field of a model: `field!(SourceConfig, burst)`, or
/// `field!(default CriSettings, imdb_votes_full)` to take the key's default
/// ([`Unset::Model`]) from `CriSettings::default()`.
macro_rules! field {
    (@bind $model:ty, $($f:ident).+, $default:expr) => {
        Bind::Field {
            get: |m| m.downcast_ref::<$model>().map(|m| Scalar::to_value(&m.$($f).+)),
            set: |m, v| match (m.downcast_mut::<$model>(), Scalar::from_value(v)) {
                (Some(m), Some(v)) => {
                    m.$($f).+ = v;
                    true
                }
                _ => false,
            },
            default: $default,
        }
    };
    (default $model:ty, $($f:ident).+) => {
        field!(@bind $model, $($f).+, Some(|| Scalar::to_value(&<$model>::default().$($f).+)))
    };
    ($model:ty, $($f:ident).+) => {
        field!(@bind $model, $($f).+, None)
    };
}

/// The [`Bind`] of a table key to the field of `model` holding the table's own model.
macro_rules! table_field {
    ($model:ty, $f:ident) => {
        Bind::Table {
            get: |m| m.downcast_ref::<$model>().map(|m| &m.$f as &dyn Any),
            get_mut: |m| {
                m.downcast_mut::<$model>()
                    .map(|m| &mut m.$f as &mut dyn Any)
            },
        }
    };
}

/// One key of a table.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub ty: Ty,
    pub default: Unset,
    /// What it does, in the words of the reference.
    pub doc: &'static str,
    /// The model field it sets, when it is one.
    pub bind: Option<Bind>,
}

/// One table of the plan format.
#[derive(Debug)]
pub struct Table {
    /// What the table is for.
    pub doc: &'static str,
    pub keys: &'static [Key],
}

impl Table {
    pub fn names(&self) -> Vec<&'static str> {
        self.keys.iter().map(|k| k.name).collect()
    }

    pub fn get(&self, name: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.name == name)
    }
}

impl Key {
    /// The integer limits of an `Int` key (every integer otherwise).
    pub fn int_range(&self) -> std::ops::RangeInclusive<i128> {
        match self.ty {
            Ty::Int { min, max } => min..=max,
            _ => i128::MIN..=i128::MAX,
        }
    }

    /// The words of a `Word` or `Words` key (none otherwise).
    pub fn words(&self) -> Vec<&'static str> {
        match self.ty {
            Ty::Word(w) | Ty::Words { words: w, .. } => w(),
            _ => Vec::new(),
        }
    }

    /// The default as a plan would write it (`"15s"`, `4`), or in words; `None` when the key
    /// has no default.
    pub fn default_text(&self) -> Option<String> {
        match self.default {
            Unset::Prose(p) => Some(p()),
            _ => self.default_value().map(|v| v.to_string()),
        }
    }

    /// The default as a plan would write it, when it is a value.
    pub fn default_value(&self) -> Option<toml::Value> {
        match self.default {
            Unset::Value(v) => Some(v()),
            Unset::Model => match self.bind {
                Some(Bind::Field {
                    default: Some(d), ..
                }) => d().map(|v| self.to_toml(v)),
                _ => None,
            },
            Unset::Prose(_) | Unset::None | Unset::Required => None,
        }
    }

    /// A value of the key's field as a plan writes it: a duration, rate or size as its text.
    pub fn to_toml(&self, v: FieldValue) -> toml::Value {
        use toml::Value as T;
        match v {
            FieldValue::Bool(b) => T::Boolean(b),
            FieldValue::Int(n) => match (self.ty, u64::try_from(n)) {
                (Ty::Size { .. }, Ok(n)) => T::String(format_size(n)),
                // The key's limits keep its integers within TOML's (a test reads them all).
                _ => T::Integer(i64::try_from(n).unwrap_or(i64::MAX)),
            },
            FieldValue::Float(f) => T::Float(f),
            FieldValue::Duration(d) => duration(d),
            FieldValue::Rate(r) => T::String(format_rate(r)),
            FieldValue::Word(w) => word(w),
        }
    }

    /// The key, bound to a field of the model its table is read into.
    const fn sets(self, bind: Bind) -> Key {
        Key {
            bind: Some(bind),
            ..self
        }
    }
}

const fn key(name: &'static str, ty: Ty, default: Unset, doc: &'static str) -> Key {
    Key {
        name,
        ty,
        default,
        doc,
        bind: None,
    }
}

fn duration(d: Duration) -> toml::Value {
    toml::Value::String(format_duration(d))
}

fn int(n: impl Into<i64>) -> toml::Value {
    toml::Value::Integer(n.into())
}

fn word(w: &str) -> toml::Value {
    toml::Value::String(w.to_owned())
}

fn words(ws: Vec<&str>) -> toml::Value {
    toml::Value::Array(ws.into_iter().map(word).collect())
}

/// "TMDB `x`, OMDb `y`" for a default that depends on the source's kind.
fn per_kind(f: impl Fn(SourceKind) -> toml::Value) -> String {
    SourceKind::ALL
        .iter()
        .map(|k| format!("{} `{}`", k.display_name(), f(*k)))
        .collect::<Vec<_>>()
        .join(", ")
}

const U32: i128 = u32::MAX as i128;
/// The largest integer TOML holds.
const TOML_INT: i128 = i64::MAX as i128;

pub mod plan {
    use super::*;
    pub const NAME: Key = key(
        "name",
        Ty::Str,
        Unset::Prose(|| "the file name without `.toml`".into()),
        "shown in output and run records",
    );
    pub const DESCRIPTION: Key = key("description", Ty::Str, Unset::None, "");
    pub const EXTENDS: Key = key(
        "extends",
        Ty::Path,
        Unset::None,
        "a plan file to layer this one over, relative to this file; this plan's values win, tables merge, arrays replace",
    );
}

pub static PLAN: Table = Table {
    doc: "Name, description and the plan this one extends.",
    keys: &[plan::NAME, plan::DESCRIPTION, plan::EXTENDS],
};

pub mod database {
    use super::*;
    pub const URL: Key = key(
        "url",
        Ty::Interpolated,
        Unset::Value(|| word(DEFAULT_DATABASE_URL)),
        "`sqlite://file.db?mode=rwc`, `sqlite::memory:`, `postgres://user@host/db` (or `postgresql://`); read by the drivers' own parsers, so a URL they refuse is an error here",
    );
    pub const CONNECT_TIMEOUT: Key = key(
        "connect_timeout",
        Ty::PositiveDuration {
            zero: "no time at all",
        },
        Unset::Value(|| duration(DatabaseConfig::DEFAULT_CONNECT_TIMEOUT)),
        "how long reaching the server may take before `run`, `db` and `status` stop with an error naming it; not part of the plan's hash",
    )
    .sets(field!(DatabaseConfig, connect_timeout));
}

pub static DATABASE: Table = Table {
    doc: "The database to repopulate.",
    keys: &[database::URL, database::CONNECT_TIMEOUT],
};

pub mod data {
    use super::*;
    pub const DIR: Key = key(
        "dir",
        Ty::Path,
        Unset::Prose(|| format!("`{DEFAULT_DATA_DIR}` in the current directory")),
        "seed files and curated lists (`<dir>/lists/<name>.toml`)",
    );
}

pub static DATA: Table = Table {
    doc: "Where seed files and curated lists live.",
    keys: &[data::DIR],
};

pub mod cache {
    use super::*;
    pub const MODE: Key = key(
        "mode",
        Ty::Word(CacheMode::words),
        Unset::Value(|| word(CacheMode::ReadWrite.as_str())),
        "`read-write`: use fresh entries, store answers; `read-only` (`--offline`): never send a request, a miss is an error, expired entries still serve; `refresh`: always fetch, store the answers; `off`: no cache",
    )
    .sets(field!(CacheConfig, mode));
    pub const DIR: Key = key(
        "dir",
        Ty::Path,
        Unset::Prose(|| format!("`{DEFAULT_CACHE_DIR}` in the current directory")),
        "relative to the plan file when set in one",
    );
    pub const TTL: Key = key(
        "ttl",
        Ty::Map(&Ty::Duration),
        Unset::Prose(|| format!("`{}` for every source", duration(DEFAULT_TTL))),
        "how long a cached answer stays fresh, per source name, e.g. `ttl = { tmdb = \"1d\", omdb = \"7d\" }`; names must be sources of the plan",
    );
    pub const NEGATIVE_TTL: Key = key(
        "negative_ttl",
        Ty::Duration,
        Unset::Value(|| duration(DEFAULT_TTL)),
        "how long a \"no such thing\" answer is kept (TMDB 404, OMDb \"Error getting data.\")",
    )
    .sets(field!(CacheConfig, negative_ttl));
}

pub static CACHE: Table = Table {
    doc: "The HTTP response cache.",
    keys: &[cache::MODE, cache::DIR, cache::TTL, cache::NEGATIVE_TTL],
};

pub mod source {
    use super::*;
    pub const KIND: Key = key(
        "kind",
        Ty::Word(SourceKind::words),
        Unset::Prose(|| "the table name, when it is `tmdb` or `omdb`".into()),
        "which API the source speaks; required for any other name, e.g. `[sources.tmdb_eu] kind = \"tmdb\"`",
    );
    pub const API_KEY: Key = key(
        "api_key",
        Ty::Interpolated,
        Unset::Prose(|| "`\"${<NAME>_API_KEY}\"` (`${TMDB_API_KEY}`, `${TMDB_EU_API_KEY}`)".into()),
        "a key written literally draws a warning: plans get committed",
    );
    pub const BASE_URL: Key = key(
        "base_url",
        Ty::Interpolated,
        Unset::Prose(|| per_kind(|k| word(k.default_base_url()))),
        "the API root, http or https; a trailing `/` is dropped",
    );
    pub const RATE: Key = key(
        "rate",
        Ty::Rate,
        Unset::Prose(|| per_kind(|k| word(&format_rate(k.default_rate())))),
        "one budget for every stage using this source",
    )
    .sets(field!(SourceConfig, rate));
    pub const BURST: Key = key(
        "burst",
        Ty::Int {
            min: 1,
            max: crate::sources::pace::MAX_WINDOW as i128,
        },
        Unset::Value(|| int(DEFAULT_BURST)),
        "requests that may go at once to pay back a stall (the machine held the process off the CPU, every task was busy saving) of up to that many periods of the rate; a window of the rate's period may then hold `rate + burst - 1` requests. 1 keeps every window within the rate; more suits an API that meters with a token bucket holding at least `burst` (TMDB documents only \"somewhere in the 40 requests per second range\"; a 429 pauses the source as ever)",
    )
    .sets(field!(SourceConfig, burst));
    pub const RATE_SCOPE: Key = key(
        "rate_scope",
        Ty::Word(RateScope::words),
        Unset::Value(|| word(RateScope::Worker.as_str())),
        "in a run shared by workers (`run --workers`, `popctl worker`): `worker` paces each process at `rate` on its own (TMDB limits each client address: give each worker its own), `cluster` shares one `rate` between them all through the run's database (an API that limits the key, not the address)",
    )
    .sets(field!(SourceConfig, rate_scope));
    pub const TIMEOUT: Key = key(
        "timeout",
        Ty::PositiveDuration {
            zero: "no time to answer",
        },
        Unset::Value(|| duration(DEFAULT_TIMEOUT)),
        "per request",
    )
    .sets(field!(SourceConfig, timeout));
    pub const DAILY_QUOTA: Key = key(
        "daily_quota",
        Ty::Int { min: 1, max: U32 },
        Unset::None,
        "requests the key allows per day (a free OMDb key allows 1,000): an enrich stage stops there (exit 3, the rest pending for `--resume`), its requests counted per UTC day in the run's database by all of the run's processes; `validate` warns when the plan needs more",
    )
    .sets(field!(SourceConfig, daily_quota));
    pub const MAX_BODY: Key = key(
        "max_body",
        Ty::Size {
            zero: "no answer would fit",
        },
        Unset::Prose(|| per_kind(|k| word(&format_size(k.default_max_body())))),
        "the largest answer read: a bigger one fails its item without being read or retried",
    )
    .sets(field!(SourceConfig, max_body));
    pub const MAX_RATE_LIMITED_WAIT: Key = key(
        "max_rate_limited_wait",
        Ty::PositiveDuration {
            zero: "no time to wait out a 429",
        },
        Unset::Value(|| duration(DEFAULT_MAX_RATE_LIMITED_WAIT)),
        "how long one request may spend waiting out 429 answers, which do not use up `retry.attempts`; past it the item fails",
    )
    .sets(field!(SourceConfig, max_rate_limited_wait));
    pub const FILES_URL: Key = key(
        "files_url",
        Ty::Str,
        Unset::Value(|| word(DEFAULT_FILES_URL)),
        "TMDB only: the host of the daily ID exports (`/p/exports/movie_ids_MM_DD_YYYY.json.gz`), http or https; no key is sent to it",
    );
    pub const LANGUAGE: Key = key(
        "language",
        Ty::Code(CodeKind::Locale),
        Unset::Prose(|| "TMDB's (`\"en-US\"`)".into()),
        "TMDB only: the language of titles, overviews and taglines (`\"fr-FR\"`), sent with every request; TMDB keeps the original where it has no translation. Images of that language and without text are kept. Every translation is stored whatever this is (`append = [\"translations\"]`)",
    );
    pub const REGION: Key = key(
        "region",
        Ty::Code(CodeKind::Country),
        Unset::None,
        "TMDB only: the country whose releases `now_playing`, `upcoming`, `popular` and `top_rated` follow (`\"FR\"`), and discover's when its filters set no `region`",
    );
    pub const STORE_RAW: Key = key(
        "store_raw",
        Ty::Bool,
        Unset::Value(|| toml::Value::Boolean(true)),
        "keep each movie's answer body as received in `movie_raw_json` (about 70% of a database's size); `false` keeps only the tables (a movie saved again loses the body stored before)",
    )
    .sets(field!(SourceConfig, store_raw));
}

pub static SOURCE: Table = Table {
    doc: "One API source: credentials, address, and the rate shared by every stage that uses it.",
    keys: &[
        source::KIND,
        source::API_KEY,
        source::BASE_URL,
        source::RATE,
        source::BURST,
        source::RATE_SCOPE,
        source::TIMEOUT,
        source::DAILY_QUOTA,
        source::MAX_BODY,
        source::MAX_RATE_LIMITED_WAIT,
        source::FILES_URL,
        source::LANGUAGE,
        source::REGION,
        source::STORE_RAW,
    ],
};

pub mod retry {
    use super::*;
    pub const ATTEMPTS: Key = key(
        "attempts",
        Ty::Int { min: 1, max: 100 },
        Unset::Model,
        "tries including the first",
    )
    .sets(field!(default RetryPolicy, attempts));
    pub const BACKOFF: Key = key(
        "backoff",
        Ty::Word(Backoff::words),
        Unset::Model,
        "how the pause between tries grows",
    )
    .sets(field!(default RetryPolicy, backoff));
    pub const INITIAL: Key = key("initial", Ty::Duration, Unset::Model, "the first pause")
        .sets(field!(default RetryPolicy, initial));
    pub const MAX: Key = key(
        "max",
        Ty::Duration,
        Unset::Model,
        "the longest pause; `initial` may not exceed it",
    )
    .sets(field!(default RetryPolicy, max));
    pub const JITTER: Key = key("jitter", Ty::Bool, Unset::Model, "randomise pauses")
        .sets(field!(default RetryPolicy, jitter));
}

pub static RETRY: Table = Table {
    doc: "How a failed request is retried; a stage's `retry` overrides these field by field.",
    keys: &[
        retry::ATTEMPTS,
        retry::BACKOFF,
        retry::INITIAL,
        retry::MAX,
        retry::JITTER,
    ],
};

pub mod defaults {
    use super::*;
    pub const RETRY: Key = key(
        "retry",
        Ty::Table(&super::RETRY),
        Unset::None,
        "the retry policy every stage starts from",
    );
    const fn of_kind(kind: &'static str, doc: &'static str) -> Key {
        key(kind, Ty::KindDefaults(kind), Unset::None, doc)
    }
    const DOC: &str = "keys every stage of this kind starts from; a stage's own key replaces the default's whole value";
    pub const RESET: Key = of_kind("reset", DOC);
    pub const SEED: Key = of_kind("seed", DOC);
    pub const FETCH: Key = of_kind("fetch", DOC);
    pub const ENRICH: Key = of_kind("enrich", DOC);
    pub const PEOPLE: Key = of_kind("people", DOC);
    pub const POST_PROCESS: Key = of_kind("post_process", DOC);
}

pub static DEFAULTS: Table = Table {
    doc: "Defaults every stage starts from: `retry` for all, and a table per stage kind (`[defaults.fetch]`) of that kind's keys.",
    keys: &[
        defaults::RETRY,
        defaults::RESET,
        defaults::SEED,
        defaults::FETCH,
        defaults::ENRICH,
        defaults::PEOPLE,
        defaults::POST_PROCESS,
    ],
};

pub mod stage {
    use super::*;
    pub const KIND: Key = key(
        "kind",
        Ty::Word(|| STAGE_KINDS.to_vec()),
        Unset::Required,
        "what the stage does",
    );
    pub const NEEDS: Key = key(
        "needs",
        Ty::Names,
        Unset::Value(|| toml::Value::Array(Vec::new())),
        "stages that run first; no cycles. `\"kind:fetch\"` names every other stage of that kind",
    );
    pub const ENABLED: Key = key(
        "enabled",
        Ty::Bool,
        Unset::Value(|| toml::Value::Boolean(true)),
        "a disabled stage stays in the graph but does not run",
    );
    pub const CONCURRENCY: Key = key(
        "concurrency",
        Ty::Int {
            min: 1,
            max: MAX_CONCURRENCY as i128,
        },
        Unset::Value(|| int(DEFAULT_CONCURRENCY)),
        "requests (or items) in flight at once",
    )
    .sets(field!(Stage, concurrency));
    pub const DELAY: Key = key(
        "delay",
        Ty::Duration,
        Unset::Value(|| duration(Duration::ZERO)),
        "the least time between two requests **of this stage** (stage-wide, whatever `concurrency`), on top of the source's rate",
    )
    .sets(field!(Stage, delay));
    pub const RETRY: Key = key(
        "retry",
        Ty::Table(&super::RETRY),
        Unset::Prose(|| "`[defaults.retry]`".into()),
        "field by field over `[defaults.retry]`: `retry = { attempts = 2 }`",
    );
    pub const ON_ERROR: Key = key(
        "on_error",
        Ty::Word(OnError::words),
        Unset::Value(|| word(OnError::Fail.as_str())),
        "what a failed item does",
    )
    .sets(field!(Stage, on_error));
    pub const MAX_FAILURES: Key = key(
        "max_failures",
        Ty::MaxFailures,
        Unset::None,
        "failed items (a count, or a ratio of the stage's items) before the stage fails",
    );
    pub const STREAMING: Key = key(
        "streaming",
        Ty::Bool,
        Unset::Value(|| toml::Value::Boolean(true)),
        "start on upstream items as they arrive; `false` waits for upstream stages to finish",
    )
    .sets(field!(Stage, streaming));
}

/// The keys every stage has; each kind adds its own ([`of_kind`]).
pub static STAGE: Table = Table {
    doc: "What every stage has.",
    keys: &[
        stage::KIND,
        stage::NEEDS,
        stage::ENABLED,
        stage::CONCURRENCY,
        stage::DELAY,
        stage::RETRY,
        stage::ON_ERROR,
        stage::MAX_FAILURES,
        stage::STREAMING,
    ],
};

pub mod reset {
    use super::*;
    pub const MODE: Key = key(
        "mode",
        Ty::Word(ResetMode::words),
        Unset::Model,
        "`swap`: build a complete new database beside the live one (SQLite: `<file>.next`; PostgreSQL: schema `<schema>_popctl_next`) and swap it in when every stage has ended well, so a failed or interrupted run leaves the live data as it was; `in_place`: drop the live tables first",
    )
    .sets(field!(default ResetStage, mode));
    pub const SCOPE: Key = key(
        "scope",
        Ty::Word(ResetScope::words),
        Unset::Model,
        "`popctl`: only the tables popctl's migrations create are replaced, other tables stay (named in a warning) and a table or view that depends on popctl's stops the run before anything is written; `database`: every table goes",
    )
    .sets(field!(default ResetStage, scope));
    pub const ALLOW_REMOTE: Key = key(
        "allow_remote",
        Ty::Bool,
        Unset::Model,
        "allow resetting a database that is not on this machine",
    )
    .sets(field!(default ResetStage, allow_remote));
}

pub static RESET: Table = Table {
    doc: "Replaces popctl's tables with fresh ones: by default a new database is built beside the live one and swapped in when every stage has ended well.",
    keys: &[reset::MODE, reset::SCOPE, reset::ALLOW_REMOTE],
};

pub mod seed {
    use super::*;
    pub const SETS: Key = key(
        "sets",
        Ty::Words {
            words: SeedSet::words,
            max: 0,
        },
        Unset::Value(|| words(SeedSet::words())),
        "not empty; a repeated set draws a warning",
    );
}

pub static SEED: Table = Table {
    doc: "Writes reference rows.",
    keys: &[seed::SETS],
};

pub mod fetch {
    use super::*;
    pub const SOURCE: Key = key(
        "source",
        Ty::Name,
        Unset::Value(|| word(SourceKind::Tmdb.as_str())),
        "a source of kind `tmdb`",
    );
    pub const LIST: Key = key("list", Ty::Word(ListKind::words), Unset::None, "");
    pub const PAGES: Key = key(
        "pages",
        Ty::Int {
            min: 1,
            max: MAX_PAGES as i128,
        },
        Unset::Value(|| int(DEFAULT_PAGES)),
        "only with `list`; 20 movies a page",
    );
    pub const IDS: Key = key(
        "ids",
        Ty::Ids,
        Unset::None,
        "TMDB movie ids; not empty; a repeated id draws a warning. An id TMDB answers 404 for is skipped and named under the report; a stage none of whose ids exist fails (with `--sandbox`, every id up to 2,000,000 answers: the simulator's own, or a movie drawn from the id)",
    );
    pub const COLLECTION: Key = key(
        "collection",
        Ty::Int { min: 1, max: U32 },
        Unset::None,
        "the movies of a TMDB collection (a franchise: 10 is Star Wars, 119 The Lord of the Rings), by its id",
    );
    pub const IMDB_IDS: Key = key(
        "imdb_ids",
        Ty::ImdbIds,
        Unset::None,
        "movies by IMDb id, each looked up with TMDB's `/find` (one request each); an id TMDB does not know is skipped and named in the ledger",
    );
    pub const TMDB_LIST: Key = key(
        "tmdb_list",
        Ty::ListId,
        Unset::None,
        "the movies of a TMDB user list (`/list/{id}`, every page), by its id: `tmdb_list = 1`, or an older list's hex id as a string; its TV shows and people are left out, counted in a note",
    );
    pub const PERSON: Key = key(
        "person",
        Ty::Table(&super::PERSON),
        Unset::None,
        "a person's filmography (`/person/{id}/movie_credits`, one request): `person = { id = 287, role = \"crew\", jobs = [\"Director\"] }`; a movie they are credited on twice counts once",
    );
    pub const SEARCH: Key = key(
        "search",
        Ty::Tables(&super::SEARCH),
        Unset::None,
        "movies by title, each searched with `/search/movie` (one request each), taking the first result: `search = [{ title = \"The Matrix\", year = 1999 }]`; a search with no result is skipped and named in the ledger",
    );
    pub const IDS_FILE: Key = key(
        "ids_file",
        Ty::Str,
        Unset::None,
        "the movies of `<data.dir>/lists/<file>`, which must exist: one id a line, a TMDB id (`603`) or an IMDb id (`tt0133093`, looked up with `/find`); `#` starts a comment, blank lines are skipped; a line that is neither is an error `popctl validate` reports with its line",
    );
    pub const CURATED_LIST: Key = key(
        "curated_list",
        Ty::Name,
        Unset::None,
        "exactly the movies of `<data.dir>/lists/<name>.toml`, which must exist",
    );
    pub const APPEND: Key = key(
        "append",
        Ty::Words {
            words: || APPEND_PARTS.to_vec(),
            max: MAX_APPEND,
        },
        Unset::Value(|| toml::Value::Array(Vec::new())),
        "`append_to_response` parts, at most 20; a repeated part draws a warning. Each is stored in tables (`images` in `movie_images`: posters, backdrops and logos; `alternative_titles` in `movie_alternative_titles`; `translations` in `movie_translations`; `watch/providers`, TMDB's own spelling, in `movie_watch_providers`: per country, provider and monetization type; `external_ids` fills `movies.imdb_id`)",
    );
    pub const LIMIT: Key = key(
        "limit",
        Ty::Int { min: 1, max: U32 },
        Unset::None,
        "with `list` (not with `pages`): this many movies, at most 10000 (fewer when the list is shorter), pages follow from it, 20 movies a page; with `export`: this many of the most popular movies",
    );
    pub const EXPORT: Key = key(
        "export",
        Ty::Table(&super::EXPORT),
        Unset::None,
        "every movie of TMDB's daily ID export (the newest file out on `files_url`), filtered, most popular first; `export = {}` takes all but adult and video entries. Ends by recording the export's day as the database's sync watermark, which a `changes` stage starts from",
    );
    pub const CHANGES: Key = key(
        "changes",
        Ty::Table(&super::CHANGES),
        Unset::None,
        "the movies TMDB's `/movie/changes` lists since the database's sync watermark, in windows of at most 14 days, every page; ends by moving the watermark to the server's day. Without a watermark, the last `first_window`",
    );
    pub const ON_REMOVED: Key = key(
        "on_removed",
        Ty::Word(OnRemoved::words),
        Unset::Value(|| word(OnRemoved::default().as_str())),
        "a movie the database holds that TMDB no longer has (404 when fetched, or missing from the whole export): `mark` sets `movies.removed_on`, `delete` deletes it with its rows and the people, companies and keywords no other movie uses, `keep` leaves it",
    )
    .sets(field!(FetchStage, on_removed));
    pub const MAX_REMOVED: Key = key(
        "max_removed",
        Ty::Float {
            min: 0.0,
            max: 1.0,
            above_min: false,
        },
        Unset::Value(|| toml::Value::Float(DEFAULT_MAX_REMOVED)),
        "the largest share of the database's movies one stage may mark or delete as gone; above it the stage fails and removes none (an export cut short upstream must not empty the database)",
    )
    .sets(field!(FetchStage, max_removed));
    pub const FILTERS: Key = key(
        "filters",
        Ty::Table(&super::DISCOVER),
        Unset::None,
        "`list = \"discover\"` only: TMDB `/discover/movie` parameters by TMDB's own names, e.g. `filters = { \"primary_release_date.gte\" = \"1980-01-01\", with_genres = [\"Horror\"] }`",
    );
    pub const QUERIES: Key = key(
        "queries",
        Ty::Tables(&super::DISCOVER),
        Unset::None,
        "`list = \"discover\"` only: several discover queries paged by one stage, each its own filters over `filters` (`queries = [{ primary_release_year = 1980 }, { primary_release_year = 1981 }]`); `limit` and `pages` count per query, and a movie two queries find is fetched once",
    );

    /// A stage key from before `filters`, still read as the filter it became, with a
    /// warning; beside `filters` it is an error.
    pub struct Moved {
        /// The old key: its own name, the filter's type.
        pub key: Key,
        pub to: &'static Key,
    }

    /// The discover filters that used to be stage keys.
    pub const MOVED_TO_FILTERS: &[Moved] = &[
        Moved {
            key: Key {
                name: "sort_by",
                ..discover::SORT_BY
            },
            to: &discover::SORT_BY,
        },
        Moved {
            key: Key {
                name: "primary_release_year",
                ..discover::PRIMARY_RELEASE_YEAR
            },
            to: &discover::PRIMARY_RELEASE_YEAR,
        },
        Moved {
            key: Key {
                name: "with_genres",
                ..discover::WITH_GENRES
            },
            to: &discover::WITH_GENRES,
        },
        Moved {
            key: Key {
                name: "vote_count_gte",
                ..discover::VOTE_COUNT_GTE
            },
            to: &discover::VOTE_COUNT_GTE,
        },
    ];
}

pub static FETCH: Table = Table {
    doc: "Fetches movies from TMDB: exactly one of `list`, `ids`, `curated_list`, `collection`, `imdb_ids`, `tmdb_list`, `person`, `search`, `ids_file`, `export` or `changes`.",
    keys: &[
        fetch::SOURCE,
        fetch::LIST,
        fetch::PAGES,
        fetch::LIMIT,
        fetch::IDS,
        fetch::CURATED_LIST,
        fetch::COLLECTION,
        fetch::IMDB_IDS,
        fetch::TMDB_LIST,
        fetch::PERSON,
        fetch::SEARCH,
        fetch::IDS_FILE,
        fetch::APPEND,
        fetch::FILTERS,
        fetch::QUERIES,
        fetch::EXPORT,
        fetch::CHANGES,
        fetch::ON_REMOVED,
        fetch::MAX_REMOVED,
    ],
};

pub mod person {
    use super::*;
    pub const ID: Key = key(
        "id",
        Ty::Int { min: 1, max: U32 },
        Unset::Required,
        "the person's TMDB id (287 is Brad Pitt)",
    );
    pub const ROLE: Key = key(
        "role",
        Ty::Word(CreditRole::words),
        Unset::Value(|| word(CreditRole::default().as_str())),
        "`cast`: the movies they act in; `crew`: the movies they worked on behind the camera; `any`: both",
    );
    pub const JOBS: Key = key(
        "jobs",
        Ty::Strs,
        Unset::None,
        "with `role = \"crew\"` or `\"any\"`: only crew credits of these jobs, as TMDB spells them (`\"Director\"`); unset: every job",
    );
}

pub static PERSON: Table = Table {
    doc: "`person = { … }` of a fetch stage: whose filmography, and which part of it.",
    keys: &[person::ID, person::ROLE, person::JOBS],
};

pub mod search {
    use super::*;
    pub const TITLE: Key = key(
        "title",
        Ty::Str,
        Unset::Required,
        "the title searched for, not empty",
    );
    pub const YEAR: Key = key(
        "year",
        Ty::Int {
            min: 1870,
            max: 2100,
        },
        Unset::None,
        "the release year, which narrows the search",
    );
}

pub static SEARCH: Table = Table {
    doc: "One element of a fetch stage's `search = [{ … }]`: a movie by its title.",
    keys: &[search::TITLE, search::YEAR],
};

pub mod export {
    use super::*;
    pub const MIN_POPULARITY: Key = key(
        "min_popularity",
        Ty::Float {
            min: 0.0,
            max: f64::INFINITY,
            above_min: false,
        },
        Unset::None,
        "only movies at least this popular (TMDB's `popularity`; half the catalog is below 1)",
    )
    .sets(field!(CatalogFilter, min_popularity));
    pub const ADULT: Key = key("adult", Ty::Bool, Unset::Model, "include adult titles")
        .sets(field!(default CatalogFilter, adult));
    pub const VIDEO: Key = key(
        "video",
        Ty::Bool,
        Unset::Model,
        "include video releases (`video: true`: concerts, making-ofs…)",
    )
    .sets(field!(default CatalogFilter, video));
}

/// Which movies of TMDB's daily export a fetch stage takes.
pub static EXPORT: Table = Table {
    doc: "The movies of TMDB's daily ID export a fetch stage takes: `export = { min_popularity = 1.0 }`.",
    keys: &[export::MIN_POPULARITY, export::ADULT, export::VIDEO],
};

pub mod changes {
    use super::*;
    pub const REFETCH: Key = key(
        "refetch",
        Ty::Word(Refetch::words),
        Unset::Value(|| word(Refetch::default().as_str())),
        "`held`: the changed movies the database holds; `all`: every changed movie, a new one kept when `min_popularity`, `adult` and `video` admit it (as an `export` stage would)",
    );
    pub const FIRST_WINDOW: Key = key(
        "first_window",
        Ty::PositiveDuration {
            zero: "no changes to read",
        },
        Unset::Value(|| duration(DEFAULT_FIRST_WINDOW)),
        "without a watermark (no sync recorded in the database yet): the changes of this many last days",
    );
}

/// Which changed movies a `changes` fetch stage refetches.
pub static CHANGES: Table = Table {
    doc: "The movies of TMDB's `/movie/changes` a fetch stage refetches: `changes = { refetch = \"all\" }`.",
    keys: &[
        changes::REFETCH,
        changes::FIRST_WINDOW,
        export::MIN_POPULARITY,
        export::ADULT,
        export::VIDEO,
    ],
};

pub mod discover {
    use super::*;
    const fn filter(name: &'static str, ty: Ty, doc: &'static str) -> Key {
        key(name, ty, Unset::None, doc)
    }
    const DATE: Ty = Ty::Date;
    const IDS: Ty = Ty::AndOr(Elem::Id);
    const GENRES: Ty = Ty::AndOr(Elem::Genre);
    const COUNTRY: Ty = Ty::Code(CodeKind::Country);
    const VOTES: Ty = Ty::Int { min: 0, max: U32 };
    const AVERAGE: Ty = Ty::Float {
        min: 0.0,
        max: 10.0,
        above_min: false,
    };
    const MINUTES: Ty = Ty::Int {
        min: 0,
        max: 10_000,
    };
    const YEARS: Ty = Ty::Int {
        min: 1870,
        max: 2100,
    };
    pub const SORT_BY: Key = filter(
        "sort_by",
        Ty::Word(|| super::SORT_BY.to_vec()),
        "the order; TMDB's default is `popularity.desc`",
    );
    pub const CERTIFICATION: Key = filter(
        "certification",
        Ty::Str,
        "a certification of `certification_country` (`\"R\"`; `\"PG|PG-13\"` for either)",
    );
    pub const CERTIFICATION_GTE: Key = filter(
        "certification.gte",
        Ty::Str,
        "this certification or above, in `certification_country`'s order",
    );
    pub const CERTIFICATION_LTE: Key = filter(
        "certification.lte",
        Ty::Str,
        "this certification or below, in `certification_country`'s order",
    );
    pub const CERTIFICATION_COUNTRY: Key = filter(
        "certification_country",
        COUNTRY,
        "the country whose certifications `certification*` name; required with them",
    );
    pub const INCLUDE_ADULT: Key = filter(
        "include_adult",
        Ty::Bool,
        "include adult titles (TMDB: `false` when unset)",
    );
    pub const INCLUDE_VIDEO: Key = filter(
        "include_video",
        Ty::Bool,
        "include video releases (TMDB: `false` when unset)",
    );
    pub const PRIMARY_RELEASE_YEAR: Key = filter(
        "primary_release_year",
        YEARS,
        "released (first release) in this year",
    );
    pub const PRIMARY_RELEASE_DATE_GTE: Key = filter(
        "primary_release_date.gte",
        DATE,
        "first released on or after this date",
    );
    pub const PRIMARY_RELEASE_DATE_LTE: Key = filter(
        "primary_release_date.lte",
        DATE,
        "first released on or before this date",
    );
    pub const REGION: Key = filter(
        "region",
        COUNTRY,
        "release dates and types of this country (with `release_date.*`, `with_release_type`)",
    );
    pub const RELEASE_DATE_GTE: Key = filter(
        "release_date.gte",
        DATE,
        "a release (of `with_release_type`, in `region`) on or after this date",
    );
    pub const RELEASE_DATE_LTE: Key = filter(
        "release_date.lte",
        DATE,
        "a release (of `with_release_type`, in `region`) on or before this date",
    );
    pub const VOTE_AVERAGE_GTE: Key = filter("vote_average.gte", AVERAGE, "rated at least this");
    pub const VOTE_AVERAGE_LTE: Key = filter("vote_average.lte", AVERAGE, "rated at most this");
    pub const VOTE_COUNT_GTE: Key = filter("vote_count.gte", VOTES, "at least this many votes");
    pub const VOTE_COUNT_LTE: Key = filter("vote_count.lte", VOTES, "at most this many votes");
    pub const WATCH_REGION: Key = filter(
        "watch_region",
        COUNTRY,
        "the country of `with_watch_providers` and `with_watch_monetization_types`; required with them",
    );
    pub const WITH_CAST: Key = filter("with_cast", IDS, "TMDB person ids in the cast");
    pub const WITH_COMPANIES: Key = filter("with_companies", IDS, "TMDB company ids");
    pub const WITH_CREW: Key = filter("with_crew", IDS, "TMDB person ids in the crew");
    pub const WITH_GENRES: Key = filter(
        "with_genres",
        GENRES,
        "genres by name (`\"Horror\"`, from `<data.dir>/seed/genres.toml`) or TMDB id",
    );
    pub const WITH_KEYWORDS: Key = filter("with_keywords", IDS, "TMDB keyword ids");
    pub const WITH_ORIGIN_COUNTRY: Key =
        filter("with_origin_country", COUNTRY, "made in this country");
    pub const WITH_ORIGINAL_LANGUAGE: Key = filter(
        "with_original_language",
        Ty::Code(CodeKind::Language),
        "in this original language",
    );
    pub const WITH_PEOPLE: Key = filter("with_people", IDS, "TMDB person ids, cast or crew");
    pub const WITH_RELEASE_TYPE: Key = filter(
        "with_release_type",
        Ty::AndOr(Elem::Int {
            min: *RELEASE_TYPES.start(),
            max: *RELEASE_TYPES.end(),
        }),
        "release types (1 premiere, 2 limited theatrical, 3 theatrical, 4 digital, 5 physical, 6 TV), in `region` when set",
    );
    pub const WITH_RUNTIME_GTE: Key =
        filter("with_runtime.gte", MINUTES, "at least this many minutes");
    pub const WITH_RUNTIME_LTE: Key =
        filter("with_runtime.lte", MINUTES, "at most this many minutes");
    pub const WITH_WATCH_MONETIZATION_TYPES: Key = filter(
        "with_watch_monetization_types",
        Ty::AndOr(Elem::Word(|| MONETIZATION_TYPES.to_vec())),
        "how it can be watched in `watch_region`",
    );
    pub const WITH_WATCH_PROVIDERS: Key = filter(
        "with_watch_providers",
        IDS,
        "TMDB watch provider ids, in `watch_region`",
    );
    pub const WITHOUT_COMPANIES: Key = filter("without_companies", IDS, "not these companies");
    pub const WITHOUT_GENRES: Key =
        filter("without_genres", GENRES, "not these genres (names or ids)");
    pub const WITHOUT_KEYWORDS: Key = filter("without_keywords", IDS, "not these keywords");
    pub const WITHOUT_WATCH_PROVIDERS: Key = filter(
        "without_watch_providers",
        IDS,
        "not on these watch providers, in `watch_region`",
    );
    pub const YEAR: Key = filter("year", YEARS, "any release in this year");

    /// Pairs whose lower end may not exceed the upper.
    pub const RANGES: &[(&Key, &Key)] = &[
        (&PRIMARY_RELEASE_DATE_GTE, &PRIMARY_RELEASE_DATE_LTE),
        (&RELEASE_DATE_GTE, &RELEASE_DATE_LTE),
        (&VOTE_AVERAGE_GTE, &VOTE_AVERAGE_LTE),
        (&VOTE_COUNT_GTE, &VOTE_COUNT_LTE),
        (&WITH_RUNTIME_GTE, &WITH_RUNTIME_LTE),
    ];

    /// Filters that mean something only with another one set: (filter, the one it needs).
    pub const REQUIRES: &[(&Key, &Key)] = &[
        (&CERTIFICATION, &CERTIFICATION_COUNTRY),
        (&CERTIFICATION_GTE, &CERTIFICATION_COUNTRY),
        (&CERTIFICATION_LTE, &CERTIFICATION_COUNTRY),
        (&WITH_WATCH_PROVIDERS, &WATCH_REGION),
        (&WITHOUT_WATCH_PROVIDERS, &WATCH_REGION),
        (&WITH_WATCH_MONETIZATION_TYPES, &WATCH_REGION),
    ];
}

/// TMDB `/discover/movie`'s parameters, by its own names (`page` is popctl's to set, and
/// `language` the source's).
pub static DISCOVER: Table = Table {
    doc: "The filters of a discover stage: TMDB's `/discover/movie` parameters. An array is AND (sent joined by `,`); alternatives in one string element are OR (`\"Horror|Thriller\"`).",
    keys: &[
        discover::SORT_BY,
        discover::CERTIFICATION,
        discover::CERTIFICATION_GTE,
        discover::CERTIFICATION_LTE,
        discover::CERTIFICATION_COUNTRY,
        discover::INCLUDE_ADULT,
        discover::INCLUDE_VIDEO,
        discover::PRIMARY_RELEASE_YEAR,
        discover::PRIMARY_RELEASE_DATE_GTE,
        discover::PRIMARY_RELEASE_DATE_LTE,
        discover::REGION,
        discover::RELEASE_DATE_GTE,
        discover::RELEASE_DATE_LTE,
        discover::VOTE_AVERAGE_GTE,
        discover::VOTE_AVERAGE_LTE,
        discover::VOTE_COUNT_GTE,
        discover::VOTE_COUNT_LTE,
        discover::WATCH_REGION,
        discover::WITH_CAST,
        discover::WITH_COMPANIES,
        discover::WITH_CREW,
        discover::WITH_GENRES,
        discover::WITH_KEYWORDS,
        discover::WITH_ORIGIN_COUNTRY,
        discover::WITH_ORIGINAL_LANGUAGE,
        discover::WITH_PEOPLE,
        discover::WITH_RELEASE_TYPE,
        discover::WITH_RUNTIME_GTE,
        discover::WITH_RUNTIME_LTE,
        discover::WITH_WATCH_MONETIZATION_TYPES,
        discover::WITH_WATCH_PROVIDERS,
        discover::WITHOUT_COMPANIES,
        discover::WITHOUT_GENRES,
        discover::WITHOUT_KEYWORDS,
        discover::WITHOUT_WATCH_PROVIDERS,
        discover::YEAR,
    ],
};

pub mod enrich {
    use super::*;
    pub const SOURCE: Key = key(
        "source",
        Ty::Name,
        Unset::Value(|| word(SourceKind::Omdb.as_str())),
        "a source of kind `omdb`",
    );
    pub const SCOPE: Key = key(
        "scope",
        Ty::Word(EnrichScope::words),
        Unset::Value(|| word(EnrichScope::Upstream.as_str())),
        "the movies of upstream fetch stages in this run / every movie in the database without OMDb data / every movie in the database",
    )
    .sets(field!(EnrichStage, scope));
    pub const RETRY_NO_DATA: Key = key(
        "retry_no_data",
        Ty::Bool,
        Unset::Value(|| toml::Value::Boolean(false)),
        "ask again for movies OMDb had no data for in an earlier run",
    )
    .sets(field!(EnrichStage, retry_no_data));
    pub const RETRY_NO_DATA_AFTER: Key = key(
        "retry_no_data_after",
        Ty::PositiveDuration {
            zero: "that is every run: use `retry_no_data = true`",
        },
        Unset::None,
        "ask again for movies whose \"no data\" answer is at least this old (`\"90d\"`), so daily runs do not spend the quota on them every day; not with `retry_no_data = true`",
    )
    .sets(field!(EnrichStage, retry_no_data_after));
}

pub static ENRICH: Table = Table {
    doc: "Adds OMDb data (ratings, awards, box office) to movies.",
    keys: &[
        enrich::SOURCE,
        enrich::SCOPE,
        enrich::RETRY_NO_DATA,
        enrich::RETRY_NO_DATA_AFTER,
    ],
};

pub mod people {
    use super::*;
    pub const SOURCE: Key = key(
        "source",
        Ty::Name,
        Unset::Value(|| word(SourceKind::Tmdb.as_str())),
        "a source of kind `tmdb`; its rate is shared with every other stage using it",
    );
    pub const SELECT: Key = key(
        "select",
        Ty::Word(PeopleSelect::words),
        Unset::Value(|| word(PeopleSelect::default().as_str())),
        "`all`: everyone credited in the upstream movies, cast and crew; `credited`: the cast billed before `cast_top` and the crew of `jobs`",
    )
    .sets(field!(PeopleStage, select));
    pub const CAST_TOP: Key = key(
        "cast_top",
        Ty::Int {
            min: 0,
            max: PeopleStage::MAX_CAST_TOP as i128,
        },
        Unset::Value(|| int(PeopleStage::DEFAULT_CAST_TOP)),
        "with `select = \"credited\"`: cast members whose billing `order` is below this (`0`: no cast)",
    )
    .sets(field!(PeopleStage, cast_top));
    pub const JOBS: Key = key(
        "jobs",
        Ty::Strs,
        Unset::Value(|| words(PeopleStage::default_jobs())),
        "with `select = \"credited\"`: crew members credited with one of these jobs, as TMDB spells them (`\"Director\"`, `\"Original Music Composer\"`); `[]`: no crew",
    );
    pub const APPEND: Key = key(
        "append",
        Ty::Words {
            words: || PERSON_APPEND_PARTS.to_vec(),
            max: MAX_APPEND,
        },
        Unset::Value(|| toml::Value::Array(Vec::new())),
        "`append_to_response` parts of each person's request, stored in tables (`images`: profile pictures in `person_images`; `translations`: biographies per language in `person_translations`); a repeated part draws a warning",
    );
}

pub static PEOPLE: Table = Table {
    doc: "Fetches TMDB's details of people credited in the movies upstream fetch stages saved: biography, birthday, deathday, place of birth, IMDb id, homepage, other names.",
    keys: &[
        people::SOURCE,
        people::SELECT,
        people::CAST_TOP,
        people::JOBS,
        people::APPEND,
    ],
};

pub mod cri_weights {
    use super::*;
    const fn weight(name: &'static str, bind: Bind) -> Key {
        key(
            name,
            Ty::Float {
                min: 0.0,
                max: f64::INFINITY,
                above_min: false,
            },
            Unset::Model,
            "",
        )
        .sets(bind)
    }
    pub const TIMELESSNESS: Key = weight("timelessness", field!(default CriWeights, timelessness));
    pub const CULTURAL_PENETRATION: Key = weight(
        "cultural_penetration",
        field!(default CriWeights, cultural_penetration),
    );
    pub const ARTISTIC_IMPACT: Key = weight(
        "artistic_impact",
        field!(default CriWeights, artistic_impact),
    );
    pub const INSTITUTIONAL_RECOGNITION: Key = weight(
        "institutional_recognition",
        field!(default CriWeights, institutional_recognition),
    );
    pub const PUBLIC_RECEPTION: Key = weight(
        "public_reception",
        field!(default CriWeights, public_reception),
    );
}

pub static CRI_WEIGHTS: Table = Table {
    doc: "The weight of each CRI dimension: each ≥ 0, their sum > 0; unnamed weights keep their default.",
    keys: &[
        cri_weights::TIMELESSNESS,
        cri_weights::CULTURAL_PENETRATION,
        cri_weights::ARTISTIC_IMPACT,
        cri_weights::INSTITUTIONAL_RECOGNITION,
        cri_weights::PUBLIC_RECEPTION,
    ],
};

pub mod cri {
    use super::*;
    pub const WEIGHTS: Key = key(
        "weights",
        Ty::Table(&super::CRI_WEIGHTS),
        Unset::None,
        "each ≥ 0, sum > 0; unnamed weights keep their default",
    )
    .sets(table_field!(CriSettings, weights));
    pub const IMDB_VOTES_FULL: Key = key(
        "imdb_votes_full",
        Ty::Int {
            min: 1,
            max: TOML_INT,
        },
        Unset::Model,
        "IMDb votes that count as full cultural reach",
    )
    .sets(field!(default CriSettings, imdb_votes_full));
    pub const TMDB_VOTES_FULL: Key = key(
        "tmdb_votes_full",
        Ty::Int {
            min: 1,
            max: TOML_INT,
        },
        Unset::Model,
        "TMDB votes that count as full cultural reach",
    )
    .sets(field!(default CriSettings, tmdb_votes_full));
    pub const POPULARITY_FULL: Key = key(
        "popularity_full",
        Ty::Float {
            min: 0.0,
            max: f64::INFINITY,
            above_min: true,
        },
        Unset::Model,
        "TMDB popularity that counts as full current attention",
    )
    .sets(field!(default CriSettings, popularity_full));
    pub const CLASSIC_AGE_YEARS: Key = key(
        "classic_age_years",
        Ty::Int { min: 1, max: 200 },
        Unset::Model,
        "age at which a movie that is still watched counts as fully timeless",
    )
    .sets(field!(default CriSettings, classic_age_years));
}

pub static CRI: Table = Table {
    doc: "Settings of the `cri_scores` step (the cultural relevance index).",
    keys: &[
        cri::WEIGHTS,
        cri::IMDB_VOTES_FULL,
        cri::TMDB_VOTES_FULL,
        cri::POPULARITY_FULL,
        cri::CLASSIC_AGE_YEARS,
    ],
};

pub mod recommendation_weights {
    use super::*;
    const fn weight(name: &'static str, bind: Bind) -> Key {
        key(
            name,
            Ty::Float {
                min: 0.0,
                max: f64::INFINITY,
                above_min: false,
            },
            Unset::Model,
            "",
        )
        .sets(bind)
    }
    pub const GENRES: Key = weight("genres", field!(default RecommendationWeights, genres));
    pub const KEYWORDS: Key = weight("keywords", field!(default RecommendationWeights, keywords));
    pub const CAST: Key = weight("cast", field!(default RecommendationWeights, cast));
    pub const CREW: Key = weight("crew", field!(default RecommendationWeights, crew));
}

pub static RECOMMENDATION_WEIGHTS: Table = Table {
    doc: "The weight of each similarity feature: each ≥ 0, their sum > 0; unnamed weights keep their default.",
    keys: &[
        recommendation_weights::GENRES,
        recommendation_weights::KEYWORDS,
        recommendation_weights::CAST,
        recommendation_weights::CREW,
    ],
};

pub mod recommendations {
    use super::*;
    pub const TOP_N: Key = key(
        "top_n",
        Ty::Int { min: 1, max: 100 },
        Unset::Model,
        "recommendations kept per movie",
    )
    .sets(field!(default RecommendationSettings, top_n));
    pub const MIN_SCORE: Key = key(
        "min_score",
        Ty::Float {
            min: 0.0,
            max: 1.0,
            above_min: false,
        },
        Unset::Model,
        "similarity below which a pair is dropped",
    )
    .sets(field!(default RecommendationSettings, min_score));
    pub const WEIGHTS: Key = key(
        "weights",
        Ty::Table(&super::RECOMMENDATION_WEIGHTS),
        Unset::None,
        "each ≥ 0, sum > 0; unnamed weights keep their default",
    )
    .sets(table_field!(RecommendationSettings, weights));
}

pub static RECOMMENDATIONS: Table = Table {
    doc: "Settings of the `recommendations` step.",
    keys: &[
        recommendations::TOP_N,
        recommendations::MIN_SCORE,
        recommendations::WEIGHTS,
    ],
};

pub mod cultural_lists {
    use super::*;
    pub const LISTS: Key = key(
        "lists",
        Ty::Names,
        Unset::Prose(|| "every file in `<data.dir>/lists`".into()),
        "list names; each `<data.dir>/lists/<name>.toml` must exist",
    );
}

pub static CULTURAL_LISTS: Table = Table {
    doc: "Settings of the `cultural_lists` step.",
    keys: &[cultural_lists::LISTS],
};

pub mod reviews {
    use super::*;
    pub const PER_MOVIE: Key = key(
        "per_movie",
        Ty::Int { min: 0, max: 100 },
        Unset::Model,
        "reviews kept per movie",
    )
    .sets(field!(default ReviewSettings, per_movie));
}

pub static REVIEWS: Table = Table {
    doc: "Settings of the `reviews` step.",
    keys: &[reviews::PER_MOVIE],
};

pub mod post_process {
    use super::*;
    pub const STEPS: Key = key(
        "steps",
        Ty::Words {
            words: PostStep::words,
            max: 0,
        },
        Unset::Prose(|| "all four, in this order".into()),
        "not empty, no repeats",
    );
    pub const CULTURAL_LISTS: Key = key(
        "cultural_lists",
        Ty::Table(&super::CULTURAL_LISTS),
        Unset::None,
        "settings of the `cultural_lists` step",
    );
    pub const CRI: Key = key(
        "cri",
        Ty::Table(&super::CRI),
        Unset::None,
        "settings of the `cri_scores` step",
    );
    pub const RECOMMENDATIONS: Key = key(
        "recommendations",
        Ty::Table(&super::RECOMMENDATIONS),
        Unset::None,
        "settings of the `recommendations` step",
    );
    pub const REVIEWS: Key = key(
        "reviews",
        Ty::Table(&super::REVIEWS),
        Unset::None,
        "settings of the `reviews` step",
    );

    /// The settings table of a step.
    pub fn settings(step: PostStep) -> &'static Key {
        match step {
            PostStep::CulturalLists => &CULTURAL_LISTS,
            PostStep::CriScores => &CRI,
            PostStep::Recommendations => &RECOMMENDATIONS,
            PostStep::Reviews => &REVIEWS,
        }
    }
}

pub static POST_PROCESS: Table = Table {
    doc: "Computes derived data.",
    keys: &[
        post_process::STEPS,
        post_process::CULTURAL_LISTS,
        post_process::CRI,
        post_process::RECOMMENDATIONS,
        post_process::REVIEWS,
    ],
};

/// The kind-specific keys of each stage kind.
pub fn of_kind(kind: &str) -> &'static Table {
    static NONE: Table = Table { doc: "", keys: &[] };
    match kind {
        "reset" => &RESET,
        "seed" => &SEED,
        "fetch" => &FETCH,
        "enrich" => &ENRICH,
        "people" => &PEOPLE,
        "post_process" => &POST_PROCESS,
        _ => &NONE,
    }
}

pub mod top {
    use super::*;
    static SOURCE_TABLE: Ty = Ty::Table(&super::SOURCE);
    pub const PLAN: Key = key("plan", Ty::Table(&super::PLAN), Unset::None, "");
    pub const DATABASE: Key = key("database", Ty::Table(&super::DATABASE), Unset::None, "");
    pub const SOURCES: Key = key(
        "sources",
        Ty::Map(&SOURCE_TABLE),
        Unset::None,
        "API sources by name. `tmdb` and `omdb` are of their own kind; other names set `kind`.",
    );
    pub const DEFAULTS: Key = key("defaults", Ty::Table(&super::DEFAULTS), Unset::None, "");
    pub const STAGES: Key = key(
        "stages",
        Ty::Stages,
        Unset::None,
        "The stages, by name. Each runs after the stages in its `needs`.",
    );
    pub const DATA: Key = key("data", Ty::Table(&super::DATA), Unset::None, "");
    pub const CACHE: Key = key("cache", Ty::Table(&super::CACHE), Unset::None, "");
}

/// The top level of a plan file.
pub static TOP: Table = Table {
    doc: "A popctl plan: what to reset, seed, fetch from TMDB, enrich from OMDb and compute, as a DAG of stages. See docs/plans.md.",
    keys: &[
        top::PLAN,
        top::DATABASE,
        top::SOURCES,
        top::DEFAULTS,
        top::STAGES,
        top::DATA,
        top::CACHE,
    ],
};

/// Every table by the name docs/plans.md's reference uses for it.
pub static TABLES: &[(&str, &Table)] = &[
    ("plan", &PLAN),
    ("database", &DATABASE),
    ("data", &DATA),
    ("cache", &CACHE),
    ("source", &SOURCE),
    ("defaults", &DEFAULTS),
    ("retry", &RETRY),
    ("stage", &STAGE),
    ("reset", &RESET),
    ("seed", &SEED),
    ("fetch", &FETCH),
    ("person", &PERSON),
    ("search", &SEARCH),
    ("discover", &DISCOVER),
    ("export", &EXPORT),
    ("changes", &CHANGES),
    ("enrich", &ENRICH),
    ("people", &PEOPLE),
    ("post_process", &POST_PROCESS),
    ("cultural_lists", &CULTURAL_LISTS),
    ("cri", &CRI),
    ("cri_weights", &CRI_WEIGHTS),
    ("recommendations", &RECOMMENDATIONS),
    ("recommendation_weights", &RECOMMENDATION_WEIGHTS),
    ("reviews", &REVIEWS),
];

/// How the reference describes a type.
pub fn type_text(ty: &Ty) -> String {
    let quoted = |ws: Vec<&str>| {
        ws.iter()
            .map(|w| format!("`\"{w}\"`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match ty {
        Ty::Str => "string".into(),
        Ty::Interpolated => "string, interpolated".into(),
        Ty::Path => "string (path)".into(),
        Ty::Name => "name".into(),
        Ty::Bool => "boolean".into(),
        Ty::Int { min, max } if *max >= U32 => format!("integer ≥ {min}"),
        Ty::Int { min, max } => format!("integer {min}..={max}"),
        Ty::Float {
            min,
            max,
            above_min,
        } => match (max.is_finite(), above_min) {
            (true, _) => format!("number {min}..={max}"),
            (false, true) => format!("number > {min}"),
            (false, false) => format!("number ≥ {min}"),
        },
        Ty::Duration => "duration".into(),
        Ty::PositiveDuration { .. } => "duration, above zero".into(),
        Ty::Rate => "rate".into(),
        Ty::Size { .. } => "size, above zero".into(),
        Ty::MaxFailures => "integer ≥ 0, number 0.0..=1.0, or `\"5%\"`".into(),
        Ty::Word(w) => quoted(w()),
        Ty::Words { words, .. } => format!("array of {}", quoted(words())),
        Ty::Names => "array of names".into(),
        Ty::Strs => "array of strings".into(),
        Ty::Ids => "array of ids (≥ 1)".into(),
        Ty::ImdbIds => "array of IMDb ids (`\"tt0133093\"`)".into(),
        Ty::ListId => "list id: integer ≥ 1, or hex digits as a string".into(),
        Ty::Tables(t) => format!(
            "array of tables: {}",
            t.keys
                .iter()
                .map(|k| format!("`{}`", k.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Ty::Date => "date `\"YYYY-MM-DD\"`".into(),
        Ty::Code(CodeKind::Language) => "language code (ISO 639-1: `\"en\"`)".into(),
        Ty::Code(CodeKind::Country) => "country code (ISO 3166-1: `\"US\"`)".into(),
        Ty::Code(CodeKind::Locale) => {
            "language, or language-country (`\"fr\"`, `\"fr-FR\"`)".into()
        }
        Ty::AndOr(elem) => {
            let one = match elem {
                Elem::Id => "ids (≥ 1)".to_owned(),
                Elem::Genre => "genre names or ids".to_owned(),
                Elem::Int { min, max } => format!("integers {min}..={max}"),
                Elem::Word(w) => quoted(w()),
            };
            format!("array of {one} (AND); `\"a|b\"` in one element is OR")
        }
        Ty::Table(t) => format!(
            "table: {}",
            t.keys
                .iter()
                .map(|k| format!("`{}`", k.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Ty::Map(inner) => format!("table: name → {}", type_text(inner)),
        Ty::Stages => "table: name → stage".into(),
        Ty::KindDefaults(kind) => {
            format!("table: any key of a `kind = \"{kind}\"` stage but `kind`")
        }
    }
}

/// The reference table of `table` in Markdown, as docs/plans.md shows it.
pub fn markdown(table: &Table) -> String {
    let mut out = String::from("| key | type | default | |\n|---|---|---|---|\n");
    for k in table.keys {
        let default = match k.default {
            Unset::Required => "required".to_owned(),
            Unset::None => "—".to_owned(),
            Unset::Prose(p) => p(),
            Unset::Value(_) | Unset::Model => k
                .default_value()
                .map_or_else(|| "—".to_owned(), |v| format!("`{v}`")),
        };
        // A `|` inside a cell (TMDB's OR, `"a|b"`) would end it.
        let cell = |s: &str| s.replace('|', "\\|");
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            k.name,
            cell(&type_text(&k.ty)),
            cell(&default),
            cell(k.doc)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_key_has_a_type_its_field_takes_and_model_defaults_resolve() {
        let mut bound = 0;
        for (name, t) in TABLES {
            for k in t.keys {
                let at = format!("{name}.{}", k.name);
                match (k.bind, k.ty) {
                    (Some(Bind::Field { .. }), ty) => {
                        bound += 1;
                        assert!(
                            matches!(
                                ty,
                                Ty::Bool
                                    | Ty::Int { .. }
                                    | Ty::Size { .. }
                                    | Ty::Float { .. }
                                    | Ty::Duration
                                    | Ty::PositiveDuration { .. }
                                    | Ty::Rate
                                    | Ty::Word(_)
                            ),
                            "{at}: a bound key of type {ty:?} cannot be read into a field"
                        );
                        if let Ty::Int { max, .. } = ty {
                            assert!(max <= TOML_INT, "{at}: limits beyond TOML's integers");
                        }
                    }
                    (Some(Bind::Table { .. }), ty) => {
                        assert!(matches!(ty, Ty::Table(_)), "{at}: {ty:?} bound as a table")
                    }
                    (None, _) => {}
                }
                if let Unset::Model = k.default {
                    assert!(
                        k.default_value().is_some(),
                        "{at}: `Unset::Model` without a model default (`field!(default …)`)"
                    );
                }
            }
        }
        // The scalar keys of sources, stages and the post-process steps at least.
        assert!(bound >= 40, "{bound} bound keys");
        assert_eq!(
            reset::MODE.default_value(),
            Some(toml::Value::String("swap".into()))
        );
        assert_eq!(
            cri_weights::TIMELESSNESS.default_value(),
            Some(toml::Value::Float(0.2))
        );
        assert_eq!(retry::INITIAL.default_text().as_deref(), Some("\"500ms\""));
    }

    #[test]
    fn a_binding_refuses_another_model_and_another_type() {
        let Some(Bind::Field { get, set, .. }) = source::BURST.bind else {
            panic!("`burst` is bound to a field");
        };
        let mut retry = RetryPolicy::default();
        assert_eq!(get(&retry), None);
        assert!(!set(&mut retry, FieldValue::Int(2)));
        let Some(Bind::Field { get, set, .. }) = retry::ATTEMPTS.bind else {
            panic!("`attempts` is bound to a field");
        };
        assert!(!set(&mut retry, FieldValue::Bool(true)));
        assert!(!set(&mut retry, FieldValue::Int(-1)));
        assert!(set(&mut retry, FieldValue::Int(7)));
        assert_eq!(get(&retry), Some(Some(FieldValue::Int(7))));
    }

    #[test]
    fn every_table_lists_each_key_once_and_defaults_render() {
        let tables: Vec<&Table> = TABLES.iter().map(|(_, t)| *t).collect();
        for t in tables.iter().chain([&&TOP]) {
            let names = t.names();
            let mut unique = names.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "{names:?}");
            for k in t.keys {
                let _ = k.default_text();
            }
        }
        // The model's defaults, read through the keys.
        assert_eq!(stage::CONCURRENCY.default_text().as_deref(), Some("4"));
        assert_eq!(
            source::RATE.default_text().as_deref(),
            Some("TMDB `\"40/s\"`, OMDb `\"5/s\"`")
        );
        assert_eq!(
            cri::POPULARITY_FULL.default_text().as_deref(),
            Some("100.0")
        );
        // Every table a plan can reach has its place in the reference.
        fn reach(t: &'static Table, out: &mut Vec<&'static Table>) {
            for k in t.keys {
                match k.ty {
                    Ty::Table(inner) | Ty::Map(&Ty::Table(inner)) | Ty::Tables(inner) => {
                        out.push(inner);
                        reach(inner, out);
                    }
                    Ty::Stages => {
                        out.push(&STAGE);
                        reach(&STAGE, out);
                        for kind in STAGE_KINDS {
                            out.push(of_kind(kind));
                            reach(of_kind(kind), out);
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut reached = Vec::new();
        reach(&TOP, &mut reached);
        for t in reached {
            assert!(
                tables.iter().any(|x| std::ptr::eq(*x, t)),
                "a table missing from TABLES: {}",
                t.doc
            );
        }
        // `[defaults]` has a table for each stage kind, and only those.
        for kind in STAGE_KINDS {
            assert!(
                matches!(DEFAULTS.get(kind).map(|k| &k.ty), Some(Ty::KindDefaults(k)) if k == kind),
                "{kind}"
            );
        }
        // No stage kind's own keys shadow the common ones.
        for kind in STAGE_KINDS {
            for k in of_kind(kind).keys {
                assert!(STAGE.get(k.name).is_none(), "{kind}.{}", k.name);
            }
        }
    }

    /// docs/plans.md's reference tables are drawn from the declaration; with
    /// `POPCTL_BLESS=1` the test rewrites them instead of failing.
    #[test]
    fn the_reference_in_docs_is_drawn_from_the_declaration() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/plans.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        let mut rest = doc.as_str();
        let mut seen = Vec::new();
        while let Some(start) = rest.find("<!-- keys: ") {
            let (before, after) = rest.split_at(start);
            out.push_str(before);
            let name_end = after.find(" -->").unwrap();
            let name = &after["<!-- keys: ".len()..name_end];
            let table = TABLES
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("docs/plans.md names table `{name}`, unknown"))
                .1;
            let end = after.find("<!-- /keys -->").unwrap();
            out.push_str(&format!("<!-- keys: {name} -->\n{}", markdown(table)));
            rest = &after[end..];
            seen.push(name);
        }
        out.push_str(rest);
        for (name, _) in TABLES {
            assert!(
                seen.contains(name),
                "docs/plans.md has no `<!-- keys: {name} -->`"
            );
        }
        if std::env::var_os("POPCTL_BLESS").is_some() {
            std::fs::write(&path, &out).unwrap();
        } else {
            assert!(
                out == doc,
                "docs/plans.md's reference tables are stale: run `POPCTL_BLESS=1 cargo test --lib keys`"
            );
        }
    }
}
