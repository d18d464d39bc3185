//! The sandbox's settings: catalog size and seed, its day and clock, the keys it accepts, rate
//! limits, the OMDb daily quota, faults and latency. Read from a TOML file (unknown keys are errors, with the
//! file position) or built in code by tests and the runner.

use std::path::Path;

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Deserializer, Serialize};

use super::SimError;

/// Which simulated API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    Tmdb,
    Omdb,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Tmdb => "tmdb",
            Api::Omdb => "omdb",
        }
    }
}

/// A token bucket: `burst` requests at once, refilled at `rps` per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub rps: f64,
    pub burst: u32,
}

/// Extra time before every API answer, uniform in `min_ms..=max_ms`. Zero means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Latency {
    pub min_ms: u64,
    pub max_ms: u64,
}

/// Probabilities (0..=1, drawn per API request from the seed) of each fault. They are
/// exclusive: one draw decides which fault, if any, a request meets, so their sum is at most 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// HTTP 500, TMDB `status_code` 11.
    pub p500: f64,
    /// HTTP 502, TMDB `status_code` 43.
    pub p502: f64,
    /// HTTP 503, TMDB `status_code` 9.
    pub p503: f64,
    /// The answer waits `stall_ms` first: longer than a sane client timeout.
    pub stall: f64,
    pub stall_ms: u64,
    /// A 200 whose JSON is cut short (with a `Content-Length` that matches the cut body).
    pub truncate: f64,
    /// Headers promise the whole body, the connection closes part-way through it.
    pub short_body: f64,
    /// The connection closes without any answer.
    pub drop: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::none()
    }
}

impl Faults {
    pub fn none() -> Self {
        Faults {
            p500: 0.0,
            p502: 0.0,
            p503: 0.0,
            stall: 0.0,
            stall_ms: 60_000,
            truncate: 0.0,
            short_body: 0.0,
            drop: 0.0,
        }
    }

    pub(crate) fn probabilities(&self) -> [(&'static str, f64); 7] {
        [
            ("p500", self.p500),
            ("p502", self.p502),
            ("p503", self.p503),
            ("stall", self.stall),
            ("truncate", self.truncate),
            ("short_body", self.short_body),
            ("drop", self.drop),
        ]
    }

    /// Every probability in 0..=1 and their sum at most 1; the error names the key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (key, p) in self.probabilities() {
            if !(0.0..=1.0).contains(&p) {
                return Err((
                    format!("faults.{key}"),
                    format!("a probability must be between 0 and 1, not {p}"),
                ));
            }
        }
        let sum: f64 = self.probabilities().iter().map(|(_, p)| p).sum();
        if sum > 1.0 + 1e-9 {
            return Err((
                "faults".to_string(),
                format!("the fault probabilities add up to {sum}, more than 1"),
            ));
        }
        Ok(())
    }

    pub fn is_none(&self) -> bool {
        self.probabilities().iter().all(|(_, p)| *p == 0.0)
    }
}

/// TMDB movies whose details answer (`movie/{id}`, the numeric id) is odd on purpose, to test
/// what a client does with answers the real API sends rarely. Default: none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OddMovies {
    /// Details answers padded with trailing spaces to `padded_bytes`: still the same JSON, as
    /// big as a test needs.
    pub padded: Vec<u32>,
    pub padded_bytes: u64,
    /// Details answers sent with `Transfer-Encoding: chunked` instead of a `Content-Length`.
    pub chunked: Vec<u32>,
    /// Details answers that are HTTP 200 with TMDB's error envelope
    /// `{"success":false,"status_code":…,"status_message":…}`.
    pub unsuccessful: Vec<Unsuccessful>,
    /// Details answers with the request's query (the key included) in a `request_query`
    /// field, as an API that echoes its request would.
    pub echo_query: Vec<u32>,
}

/// One `odd_movies.unsuccessful` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsuccessful {
    pub id: u32,
    pub status_code: u32,
    /// Default: TMDB's message for `status_code`; required for a code the simulator does not
    /// know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

/// The default size of a padded answer: a details body 20 MiB long.
pub const DEFAULT_PADDED_BYTES: u64 = 20 << 20;

/// The largest padded answer: enough to exceed any sane client limit, not enough to strain
/// the machine serving it.
pub const MAX_PADDED_BYTES: u64 = 256 << 20;

impl Default for OddMovies {
    fn default() -> Self {
        OddMovies {
            padded: Vec::new(),
            padded_bytes: DEFAULT_PADDED_BYTES,
            chunked: Vec::new(),
            unsuccessful: Vec::new(),
            echo_query: Vec::new(),
        }
    }
}

impl OddMovies {
    /// The envelope for movie `id`, if it answers one: (status_code, status_message).
    pub(crate) fn unsuccessful(&self, id: u32) -> Option<(u32, &str)> {
        let u = self.unsuccessful.iter().find(|u| u.id == id)?;
        let message = u
            .status_message
            .as_deref()
            .or_else(|| super::tmdb::status_message(u.status_code))?;
        Some((u.status_code, message))
    }

    /// `padded_bytes` in range; every `unsuccessful` entry has a message.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.padded_bytes > MAX_PADDED_BYTES {
            return Err((
                "odd_movies.padded_bytes".to_string(),
                format!(
                    "padded_bytes must be at most {MAX_PADDED_BYTES} (256 MiB), not {}",
                    self.padded_bytes
                ),
            ));
        }
        for u in &self.unsuccessful {
            if u.status_message.is_none() && super::tmdb::status_message(u.status_code).is_none() {
                return Err((
                    "odd_movies.unsuccessful".to_string(),
                    format!(
                        "status_code {} needs a status_message (the sandbox knows the messages of {})",
                        u.status_code,
                        super::tmdb::known_status_codes()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The default "today" of the catalog: fixed, so that the same seed gives the same bodies on
/// every day (lists like `upcoming` and `movie/changes` are relative to it).
pub const DEFAULT_TODAY: (i32, u32, u32) = (2025, 6, 15);

/// How far past `today` the clock may go. Each day past `today` costs a details answer one draw
/// (its revision counts the days the movie changed), so the span is bounded; a year is more
/// than any refresh test needs.
pub const MAX_DAYS_AHEAD: u64 = 366;

/// The clock's time of day when a config gives none: noon UTC, when that day's export file is
/// out (it appears at 08:00 UTC).
pub const DEFAULT_CLOCK_TIME: (u32, u32, u32) = (12, 0, 0);

/// Everything the sandbox needs; `Default` is what `popctl sandbox serve` uses without a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    pub seed: u64,
    pub movies: u32,
    /// 0 picks a free port.
    pub port: u16,
    #[serde(deserialize_with = "date_or_string", serialize_with = "date_string")]
    pub today: NaiveDate,
    /// The simulated clock (UTC): the catalog as of its day, and which export files are out.
    /// `None`: `today` at noon. Its day is `today` ..= `today` + [`MAX_DAYS_AHEAD`]: the
    /// catalog as generated is the one of `today`, and movies change and disappear on the days
    /// after it (see `sim::history`).
    #[serde(
        deserialize_with = "clock_or_string",
        serialize_with = "clock_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub now: Option<NaiveDateTime>,
    /// Accepted as `?api_key=` or `Authorization: Bearer`.
    pub tmdb_key: String,
    /// Accepted as `?apikey=`.
    pub omdb_key: String,
    /// `None`: no limit.
    pub tmdb_limit: Option<RateLimit>,
    pub omdb_limit: Option<RateLimit>,
    /// Requests per (simulated) day before `Request limit reached!`; `None`: no quota.
    pub omdb_daily_quota: Option<u32>,
    pub faults: Faults,
    pub latency: Latency,
    pub odd_movies: OddMovies,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let (y, m, d) = DEFAULT_TODAY;
        SandboxConfig {
            seed: 42,
            movies: 10_000,
            port: 0,
            today: NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default(),
            now: None,
            tmdb_key: "sandbox".to_string(),
            omdb_key: "sandbox".to_string(),
            tmdb_limit: None,
            omdb_limit: None,
            omdb_daily_quota: None,
            faults: Faults::none(),
            latency: Latency::default(),
            odd_movies: OddMovies::default(),
        }
    }
}

/// The largest catalog the sandbox builds (the index holds about 150 bytes per movie).
pub const MAX_MOVIES: u32 = 5_000_000;

impl SandboxConfig {
    /// The origin to key this sandbox's answers by in the response cache
    /// (`SourceCache::with_origin`). It listens on a new port each run, but the same version,
    /// seed, catalog size and date always serve the same bodies; a real API's answers never
    /// share its entries.
    /// The clock's day is part of it when it is not `today`: movies change from day to day.
    pub fn cache_origin(&self) -> String {
        let day = self.clock().date();
        let later = if day == self.today {
            String::new()
        } else {
            format!(":day={day}")
        };
        format!(
            "sandbox:popctl-{}:seed={}:movies={}:today={}{later}",
            env!("CARGO_PKG_VERSION"),
            self.seed,
            self.movies,
            self.today
        )
    }

    /// The simulated clock: `now`, or `today` at noon.
    pub fn clock(&self) -> NaiveDateTime {
        self.now.unwrap_or_else(|| default_clock(self.today))
    }

    /// Reads a TOML file. Syntax errors, unknown keys, wrong types and out-of-range values are
    /// reported with the file name and the position of the offending key or value.
    pub fn from_file(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::ReadConfig {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, SimError> {
        let config: SandboxConfig = toml::from_str(text).map_err(|e| {
            SimError::config(origin, text, e.span(), e.message().trim_end().to_string())
        })?;
        if let Err((key, message)) = config.validate() {
            let span = span_of(text, &key);
            return Err(SimError::config(origin, text, span, message));
        }
        Ok(config)
    }

    /// Checks values serde cannot: the error is the dotted key and what is wrong with it.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.movies == 0 || self.movies > MAX_MOVIES {
            return Err((
                "movies".to_string(),
                format!(
                    "movies must be between 1 and {MAX_MOVIES}, not {}",
                    self.movies
                ),
            ));
        }
        for (key, value) in [("tmdb_key", &self.tmdb_key), ("omdb_key", &self.omdb_key)] {
            if value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == '&') {
                return Err((
                    key.to_string(),
                    "a key must be non-empty, without spaces or '&'".to_string(),
                ));
            }
        }
        for (key, limit) in [
            ("tmdb_limit", self.tmdb_limit),
            ("omdb_limit", self.omdb_limit),
        ] {
            if let Some(l) = limit {
                if !(l.rps > 0.0 && l.rps.is_finite()) {
                    return Err((
                        format!("{key}.rps"),
                        format!("rps must be a positive number, not {}", l.rps),
                    ));
                }
                if l.burst == 0 {
                    return Err((
                        format!("{key}.burst"),
                        "burst must be at least 1".to_string(),
                    ));
                }
            }
        }
        if self.latency.min_ms > self.latency.max_ms {
            return Err((
                "latency.min_ms".to_string(),
                format!(
                    "min_ms ({}) is larger than max_ms ({})",
                    self.latency.min_ms, self.latency.max_ms
                ),
            ));
        }
        if let Some(now) = self.now {
            check_clock(self.today, now).map_err(|m| ("now".to_string(), m))?;
        }
        self.faults.validate()?;
        self.odd_movies.validate()
    }
}

/// `today` at [`DEFAULT_CLOCK_TIME`].
pub(crate) fn default_clock(today: NaiveDate) -> NaiveDateTime {
    let (h, m, s) = DEFAULT_CLOCK_TIME;
    today.and_time(NaiveTime::from_hms_opt(h, m, s).unwrap_or_default())
}

/// The clock's day must lie in `today ..= today + MAX_DAYS_AHEAD`.
pub(crate) fn check_clock(today: NaiveDate, now: NaiveDateTime) -> Result<(), String> {
    let last = today + Days::new(MAX_DAYS_AHEAD);
    if now.date() < today || now.date() > last {
        return Err(format!(
            "the clock's day {} is outside {today} ..= {last}: the catalog is the one of \
             `today` and its history runs {MAX_DAYS_AHEAD} days past it",
            now.date()
        ));
    }
    Ok(())
}

/// A UTC time as the config and the steering API write it: `2025-06-20T09:00:00Z` (the `Z`
/// may be left out; another offset is converted to UTC).
pub(crate) fn parse_clock(text: &str) -> Result<NaiveDateTime, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.naive_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| format!("expected a UTC time like 2025-06-20T09:00:00Z, found `{text}`"))
}

/// The form [`parse_clock`] reads.
pub(crate) fn fmt_clock(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The byte range of dotted `key` in `text`, for error labels.
fn span_of(text: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut span = None;
    for part in key.split('.') {
        let (k, v) = table.iter().find(|(k, _)| k.get_ref().as_ref() == part)?;
        span = Some(if part == key.rsplit('.').next().unwrap_or(part) {
            v.span()
        } else {
            k.span()
        });
        match v.get_ref() {
            toml::de::DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    span
}

/// A TOML date or time, or a string holding one, as text.
fn toml_time_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Toml(toml::value::Datetime),
        Text(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::Toml(dt) => dt.to_string(),
        Either::Text(s) => s,
    })
}

fn date_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let text = toml_time_text(d)?;
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
        serde::de::Error::custom(format!("expected a date like 2025-06-15, found `{text}`"))
    })
}

fn clock_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDateTime>, D::Error> {
    parse_clock(&toml_time_text(d)?)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn clock_string<S: serde::Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&fmt_clock(*t)),
        None => s.serialize_none(),
    }
}

fn date_string<S: serde::Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses() {
        let text = r#"
seed = 7
movies = 500
port = 8787
today = 2024-01-31
tmdb_key = "k1"
omdb_key = "k2"
omdb_daily_quota = 1000
tmdb_limit = { rps = 40, burst = 40 }

[omdb_limit]
rps = 10.5
burst = 2

[latency]
min_ms = 30
max_ms = 150

[faults]
p500 = 0.01
stall = 0.001
stall_ms = 45000
drop = 0.002
"#;
        let c = SandboxConfig::from_toml(text, "sandbox.toml").unwrap();
        assert_eq!(c.seed, 7);
        assert_eq!(c.movies, 500);
        assert_eq!(c.today, NaiveDate::from_ymd_opt(2024, 1, 31).unwrap());
        assert_eq!(
            c.tmdb_limit,
            Some(RateLimit {
                rps: 40.0,
                burst: 40
            })
        );
        assert_eq!(c.omdb_limit.unwrap().rps, 10.5);
        assert_eq!(c.omdb_daily_quota, Some(1000));
        assert_eq!(
            c.latency,
            Latency {
                min_ms: 30,
                max_ms: 150
            }
        );
        assert_eq!(c.faults.p500, 0.01);
        assert_eq!(c.faults.stall_ms, 45_000);
        assert_eq!(c.faults.p502, 0.0);
    }

    #[test]
    fn today_also_reads_as_a_string_and_an_empty_file_is_the_default() {
        let c = SandboxConfig::from_toml("today = \"2023-05-04\"", "x").unwrap();
        assert_eq!(c.today, NaiveDate::from_ymd_opt(2023, 5, 4).unwrap());
        assert_eq!(
            SandboxConfig::from_toml("", "x").unwrap(),
            SandboxConfig::default()
        );
    }

    #[test]
    fn the_clock_reads_as_utc_and_stays_within_the_history() {
        let clock = |text: &str| SandboxConfig::from_toml(text, "x").map(|c| c.clock());
        let t = |text: &str| text.parse::<NaiveDateTime>().unwrap();
        assert_eq!(clock("").unwrap(), t("2025-06-15T12:00:00"));
        assert_eq!(
            clock("now = 2025-06-16T09:00:00Z").unwrap(),
            t("2025-06-16T09:00:00")
        );
        assert_eq!(
            clock("now = 2025-06-16T09:00:00").unwrap(),
            t("2025-06-16T09:00:00")
        );
        assert_eq!(
            clock("now = \"2025-06-16T09:00:00+02:00\"").unwrap(),
            t("2025-06-16T07:00:00")
        );
        let (message, _) = error_text("now = 2025-06-16");
        assert!(message.contains("expected a UTC time"), "{message}");
        let text = "today = 2025-06-15\nnow = 2026-06-17T00:00:00Z\n";
        let (message, span) = error_text(text);
        assert!(message.contains("2025-06-15 ..= 2026-06-16"), "{message}");
        let span = span.unwrap();
        assert_eq!(&text[span.offset()..span.offset() + 4], "2026");
    }

    fn error_text(text: &str) -> (String, Option<miette::SourceSpan>) {
        match SandboxConfig::from_toml(text, "sandbox.toml") {
            Err(SimError::Config(e)) => (e.message, e.span),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_keys_are_errors_at_their_position() {
        let text = "seed = 1\n[faults]\np500 = 0.1\np501 = 0.2\n";
        let (message, span) = error_text(text);
        assert!(message.contains("p501"), "{message}");
        let span = span.unwrap();
        assert_eq!(&text[span.offset()..span.offset() + 4], "p501");
    }

    #[test]
    fn wrong_types_and_bad_values_point_at_the_value() {
        let (message, _) = error_text("movies = \"many\"");
        assert!(message.contains("invalid type"), "{message}");

        let text = "[faults]\np503 = 1.5\n";
        let (message, span) = error_text(text);
        assert!(message.contains("between 0 and 1"), "{message}");
        let span = span.unwrap();
        assert_eq!(&text[span.offset()..span.offset() + span.len()], "1.5");

        let text = "[latency]\nmin_ms = 200\nmax_ms = 100\n";
        let (message, _) = error_text(text);
        assert!(message.contains("larger than"), "{message}");

        let (message, _) = error_text("[faults]\np500 = 0.6\ndrop = 0.6\n");
        assert!(message.contains("more than 1"), "{message}");

        let (message, _) = error_text("movies = 0");
        assert!(message.contains("between 1"), "{message}");

        let (message, _) = error_text("tmdb_limit = { rps = 0, burst = 1 }");
        assert!(message.contains("positive"), "{message}");

        let (message, _) = error_text("today = 2024-13-01");
        assert!(!message.is_empty());

        let (message, _) = error_text("[odd_movies]\npadded_bytes = 999999999999\n");
        assert!(message.contains("at most"), "{message}");

        let text = "[odd_movies]\nunsuccessful = [{ id = 5, status_code = 99 }]\n";
        let (message, span) = error_text(text);
        assert!(
            message.contains("status_code 99 needs a status_message"),
            "{message}"
        );
        assert!(span.is_some());
    }

    #[test]
    fn odd_movies_parse_with_defaults() {
        let text = r#"
[odd_movies]
padded = [603, 604]
chunked = [604]
unsuccessful = [{ id = 605, status_code = 34 }, { id = 606, status_code = 99, status_message = "Odd." }]
"#;
        let c = SandboxConfig::from_toml(text, "sandbox.toml").unwrap();
        let odd = &c.odd_movies;
        assert_eq!(odd.padded, [603, 604]);
        assert_eq!(odd.padded_bytes, DEFAULT_PADDED_BYTES);
        assert_eq!(odd.chunked, [604]);
        assert_eq!(
            odd.unsuccessful(605),
            Some((34, "The resource you requested could not be found."))
        );
        assert_eq!(odd.unsuccessful(606), Some((99, "Odd.")));
        assert_eq!(odd.unsuccessful(603), None);
    }
}
