//! The compiler: merged layers → [`Plan`], gathering every problem before returning.
//!
//! It walks the merged plan field by field rather than deserialising it with serde: serde stops
//! at the first error, and a user fixing a plan wants all of them at once, each labelled in the
//! layer that supplied the value. Every table's keys are checked against the lists below
//! (which `schema` is tested against), unknown keys get a "did you mean".
//!
//! Checks that span several stages (needs, cycles, reset order, enrich upstream) live in
//! `checks`.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::value::{Dict, Value};
use miette::Severity;

use super::error::{Code, PlanDiagnostic, Site};
use super::interpolate;
use super::keys::{
    self, Bind, CodeKind, DEFAULT_BURST, DEFAULT_CACHE_DIR, DEFAULT_DATA_DIR, DEFAULT_DATABASE_URL,
    DEFAULT_MAX_RATE_LIMITED_WAIT, DEFAULT_TIMEOUT, DEFAULT_TTL, Elem, Key, Table, Ty,
};
use super::layer::{Layers, absolute};
use super::model::*;
use super::raw::{DATETIME_MARKER, KeyPath, SECRET_KEY, describe};
use super::suggest;
use super::units;
use crate::secret::{Secret, SecretUrl};

/// Where `${…}` is expanded; elsewhere a `$` is just a character of a value that is then
/// checked like any other.
pub const INTERPOLATED_FIELDS: &str =
    "`database.url`, `sources.*.api_key` and `sources.*.base_url`";

fn int_of(v: &Value) -> Option<i128> {
    match v {
        Value::Num(_, n) => n
            .to_i128()
            .or_else(|| n.to_u128().and_then(|u| i128::try_from(u).ok())),
        _ => None,
    }
}

fn float_of(v: &Value) -> Option<f64> {
    match v {
        Value::Num(_, n) => n.to_f64().or_else(|| int_of(v).map(|i| i as f64)),
        _ => None,
    }
}

/// How one string-with-a-unit field is parsed and reported.
struct UnitKind<T> {
    expected: &'static str,
    code: Code,
    what: &'static str,
    help: &'static str,
    parse: fn(&str) -> Result<T, units::UnitError>,
}

/// A table being read, with its path.
#[derive(Clone, Copy)]
pub(crate) struct Tbl<'a> {
    pub path: &'a KeyPath,
    pub dict: &'a Dict,
}

impl<'a> Tbl<'a> {
    pub fn has(&self, key: &Key) -> bool {
        self.dict.contains_key(key.name)
    }

    /// Whether a key whose name is not declared ahead (a step's settings table) is set.
    pub fn has_name(&self, name: &str) -> bool {
        self.dict.contains_key(name)
    }
}

/// The compiler's state: the layers it reads and the problems it found.
pub(crate) struct Cx<'a> {
    pub layers: &'a Layers,
    pub env: &'a BTreeMap<String, String>,
    pub diags: Vec<PlanDiagnostic>,
    pub unresolved: Vec<UnresolvedVar>,
    /// Every variable a `${…}` of the plan names, set or not.
    pub vars_read: BTreeSet<String>,
}

impl<'a> Cx<'a> {
    /// How many errors have been reported so far.
    pub fn errors(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    pub fn push(&mut self, d: PlanDiagnostic) {
        self.diags.push(d);
    }

    pub fn value_site(&self, path: &KeyPath) -> Option<Site> {
        self.layers.value_site(path)
    }

    pub fn key_site(&self, path: &KeyPath) -> Option<Site> {
        self.layers.key_site(path)
    }

    fn type_error(&mut self, path: &KeyPath, v: &Value, expected: &str) {
        let help = match v {
            Value::String(_, s) if s.contains("${") => Some(format!(
                "`${{…}}` is only expanded in {INTERPOLATED_FIELDS}; override other keys with a `POPCTL_…` variable or `--set`"
            )),
            Value::String(_, s) if expected == "an array" => Some(format!(
                "a list, even of one: `[{}]`",
                toml::Value::String(s.clone())
            )),
            _ => None,
        };
        // A secret written with the wrong type is still a secret: say what it is, not what.
        let found = match v {
            Value::Num(..) if path.last_key() == Some(SECRET_KEY) => "a number".to_owned(),
            _ => describe(v),
        };
        self.push(
            PlanDiagnostic::error(
                Code::WrongType,
                format!("`{path}` must be {expected}, found {found}"),
            )
            .at(self.value_site(path), format!("expected {expected}"))
            .key(path.to_string())
            .maybe_help(help),
        );
    }

    pub fn out_of_range(&mut self, path: &KeyPath, message: String, label: &str) {
        self.push(
            PlanDiagnostic::error(Code::OutOfRange, message)
                .at(self.value_site(path), label)
                .key(path.to_string()),
        );
    }

    /// Reports that the value at `path` is empty (an array, a string) where it cannot be.
    pub fn empty_value(&mut self, path: &KeyPath, label: &str, help: Option<String>) {
        let mut d = PlanDiagnostic::error(Code::InvalidValue, format!("`{path}` is empty"))
            .at(self.value_site(path), label)
            .key(path.to_string());
        if let Some(help) = help {
            d = d.help(help);
        }
        self.push(d);
    }

    /// Reports the keys of `t` outside `allowed`. `what` names the table in the message.
    pub fn check_keys(&mut self, t: Tbl<'_>, table: &Table, what: &str) {
        let allowed = table.names();
        let allowed = allowed.as_slice();
        for key in t.dict.keys() {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            let path = t.path.key(key);
            let help = suggest::did_you_mean(key, allowed)
                .unwrap_or_else(|| format!("expected one of {}", suggest::one_of(allowed)));
            self.push(
                PlanDiagnostic::error(Code::UnknownField, format!("unknown key `{key}` in {what}"))
                    .at(self.key_site(&path), "unknown key")
                    .key(path.to_string())
                    .help(help),
            );
        }
    }

    /// Reads each key of `table` that `t` sets and that is bound to a model field ([`Bind`])
    /// into `model`, through the key's type; a bound table key (a step's `weights`) is checked
    /// against its table and read into its own model. The table's other keys are the caller's.
    pub fn read_bound(&mut self, t: Tbl<'_>, table: &Table, model: &mut dyn Any) {
        for key in table.keys {
            let Some(bind) = key.bind else { continue };
            if !t.has(key) {
                continue;
            }
            match (bind, key.ty) {
                (Bind::Field { set, .. }, _) => {
                    if let Some(v) = self.field_value(t, key)
                        && !set(model, v)
                    {
                        self.unbound(t, key);
                    }
                }
                (Bind::Table { get_mut, .. }, Ty::Table(inner)) => {
                    let Some((path, dict)) = sub_table(self, t, key.name) else {
                        continue;
                    };
                    let sub = Tbl { path: &path, dict };
                    self.check_keys(sub, inner, &format!("`{path}`"));
                    match get_mut(model) {
                        Some(m) => self.read_bound(sub, inner, m),
                        None => self.unbound(t, key),
                    }
                }
                (Bind::Table { .. }, _) => self.unbound(t, key),
            }
        }
    }

    /// The value of a bound key, read by its type.
    fn field_value(&mut self, t: Tbl<'_>, key: &Key) -> Option<FieldValue> {
        match key.ty {
            Ty::Bool => self.bool(t, key).map(FieldValue::Bool),
            Ty::Int { .. } => self.int(t, key).map(FieldValue::Int),
            Ty::Size { .. } => self.size(t, key).map(|n| FieldValue::Int(n.into())),
            Ty::Float { .. } => self.float(t, key).map(FieldValue::Float),
            Ty::Duration | Ty::PositiveDuration { .. } => {
                self.duration(t, key).map(FieldValue::Duration)
            }
            Ty::Rate => self.rate(t, key).map(FieldValue::Rate),
            Ty::Word(words) => {
                let what = format!("`{}` value", key.name);
                let (_, w) = self.word(t, key, Code::InvalidValue, &what)?;
                words().into_iter().find(|x| *x == w).map(FieldValue::Word)
            }
            _ => {
                self.unbound(t, key);
                None
            }
        }
    }

    /// A key bound to a field its type or model does not fit: a mistake in popctl's
    /// declaration, reported on the key instead of a panic (the tests read every bound key).
    fn unbound(&mut self, t: Tbl<'_>, key: &Key) {
        let path = t.path.key(key.name);
        self.push(
            PlanDiagnostic::error(
                Code::InvalidValue,
                format!("popctl cannot store `{path}` in its plan model"),
            )
            .at(self.key_site(&path), "bound to a field of another type")
            .key(path.to_string())
            .help("this is a bug in popctl's plan declaration (`plan::keys`); please report it"),
        );
    }

    /// The table at `t.key`, or `None` when absent or not a table (reported).
    pub fn table<'v>(&mut self, path: &KeyPath, v: &'v Value) -> Option<&'v Dict> {
        match v {
            Value::Dict(_, d) if !d.contains_key(DATETIME_MARKER) => Some(d),
            other => {
                self.type_error(path, other, "a table");
                None
            }
        }
    }

    pub fn string<'v>(&mut self, t: Tbl<'v>, key: &Key) -> Option<(KeyPath, &'v str)> {
        let key = key.name;
        let v = t.dict.get(key)?;
        let path = t.path.key(key);
        match v {
            Value::String(_, s) => Some((path, s.as_str())),
            other => {
                self.type_error(&path, other, "a string");
                None
            }
        }
    }

    pub fn bool(&mut self, t: Tbl<'_>, key: &Key) -> Option<bool> {
        let key = key.name;
        let v = t.dict.get(key)?;
        match v {
            Value::Bool(_, b) => Some(*b),
            other => {
                self.type_error(&t.path.key(key), other, "`true` or `false`");
                None
            }
        }
    }

    /// An integer within the key's limits.
    pub fn int(&mut self, t: Tbl<'_>, key: &Key) -> Option<i128> {
        let range = key.int_range();
        let key = key.name;
        let v = t.dict.get(key)?;
        let path = t.path.key(key);
        let Some(n) = int_of(v) else {
            self.type_error(&path, v, "an integer");
            return None;
        };
        if !range.contains(&n) {
            // Limits at the type's maximum are not limits a user needs to read.
            let end = (*range.end() < i128::from(u32::MAX)).then_some(*range.end());
            self.out_of_range(
                &path,
                range_message(&path, range.start(), end, n),
                "out of range",
            );
            return None;
        }
        Some(n)
    }

    /// An integer within the key's limits, which fit a `u32`.
    pub fn uint(&mut self, t: Tbl<'_>, key: &Key) -> Option<u32> {
        self.int(t, key).and_then(|n| u32::try_from(n).ok())
    }

    /// An integer within the key's limits, which fit a `u64`.
    pub fn ulong(&mut self, t: Tbl<'_>, key: &Key) -> Option<u64> {
        self.int(t, key).and_then(|n| u64::try_from(n).ok())
    }

    /// A number (integer or float) within the key's limits.
    pub fn float(&mut self, t: Tbl<'_>, key: &Key) -> Option<f64> {
        let (min, max, above_min) = match key.ty {
            Ty::Float {
                min,
                max,
                above_min,
            } => (min, max, above_min),
            _ => (f64::NEG_INFINITY, f64::INFINITY, false),
        };
        let v = t.dict.get(key.name)?;
        let path = t.path.key(key.name);
        let Some(f) = float_of(v) else {
            self.type_error(&path, v, "a number");
            return None;
        };
        let message = if !f.is_finite() || f < min || f > max {
            let end = max.is_finite().then_some(max);
            range_message(&path, &min, end, f)
        } else if above_min && f == min {
            format!("`{path}` must be above {min}, found {f}")
        } else {
            return Some(f);
        };
        self.out_of_range(&path, message, "out of range");
        None
    }

    /// A string that must be one of the key's words.
    pub fn word<'v>(
        &mut self,
        t: Tbl<'v>,
        key: &Key,
        code: Code,
        what: &str,
    ) -> Option<(KeyPath, &'v str)> {
        let allowed = key.words();
        let allowed = allowed.as_slice();
        let (path, s) = self.string(t, key)?;
        if allowed.contains(&s) {
            return Some((path, s));
        }
        self.unknown_word(&path, s, allowed, code, what);
        None
    }

    fn unknown_word(&mut self, path: &KeyPath, s: &str, allowed: &[&str], code: Code, what: &str) {
        let help = suggest::did_you_mean(s, allowed)
            .unwrap_or_else(|| format!("expected one of {}", suggest::one_of(allowed)));
        self.push(
            PlanDiagnostic::error(code, format!("unknown {what} `{s}`"))
                .at(self.value_site(path), format!("not a known {what}"))
                .key(path.to_string())
                .help(help),
        );
    }

    /// An array; each element is passed to `item` with its path.
    pub fn array<'v, T>(
        &mut self,
        t: Tbl<'v>,
        key: &Key,
        mut item: impl FnMut(&mut Self, KeyPath, &'v Value) -> Option<T>,
    ) -> Option<Vec<(KeyPath, T)>> {
        let key = key.name;
        let v = t.dict.get(key)?;
        let path = t.path.key(key);
        let Value::Array(_, items) = v else {
            self.type_error(&path, v, "an array");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, v) in items.iter().enumerate() {
            let p = path.index(i);
            match item(self, p.clone(), v) {
                Some(x) => out.push((p, x)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// An array of strings.
    pub fn strings<'v>(&mut self, t: Tbl<'v>, key: &Key) -> Option<Vec<(KeyPath, &'v str)>> {
        self.array(t, key, |cx, p, v| match v {
            Value::String(_, s) => Some(s.as_str()),
            other => {
                cx.type_error(&p, other, "a string");
                None
            }
        })
    }

    /// An array of the key's words.
    pub fn words<'v>(
        &mut self,
        t: Tbl<'v>,
        key: &Key,
        code: Code,
        what: &str,
    ) -> Option<Vec<(KeyPath, &'v str)>> {
        let allowed = key.words();
        let allowed = allowed.as_slice();
        let items = self.strings(t, key)?;
        let mut ok = true;
        for (p, s) in &items {
            if !allowed.contains(s) {
                self.unknown_word(p, s, allowed, code, what);
                ok = false;
            }
        }
        ok.then_some(items)
    }

    /// A date, `"YYYY-MM-DD"` or a TOML date (`1980-01-01`).
    pub fn date(&mut self, t: Tbl<'_>, key: &Key) -> Option<chrono::NaiveDate> {
        let v = t.dict.get(key.name)?;
        let path = t.path.key(key.name);
        let text = match v {
            Value::String(_, s) => s.as_str(),
            Value::Dict(_, d) => match d.get(DATETIME_MARKER) {
                Some(Value::String(_, s)) => s.as_str(),
                _ => {
                    self.type_error(&path, v, "a date like \"1980-01-01\"");
                    return None;
                }
            },
            other => {
                self.type_error(&path, other, "a date like \"1980-01-01\"");
                return None;
            }
        };
        let shaped = text.len() == 10
            && text.chars().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }
            });
        let reason = match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) if shaped => return Some(d),
            _ if !shaped => "not YYYY-MM-DD",
            _ => "no such day",
        };
        self.push(
            PlanDiagnostic::error(
                Code::InvalidDate,
                format!("invalid date `{text}` for `{path}`"),
            )
            .at(self.value_site(&path), reason)
            .key(path.to_string())
            .help("a date is year-month-day with zeros: \"1980-01-01\""),
        );
        None
    }

    /// A two-letter language or country code, as the key's [`CodeKind`] says.
    pub fn code(&mut self, t: Tbl<'_>, key: &Key) -> Option<String> {
        let kind = match key.ty {
            Ty::Code(k) => k,
            _ => CodeKind::Country,
        };
        let (path, s) = self.string(t, key)?;
        let (what, letters, example) = match kind {
            CodeKind::Language => (
                "an ISO 639-1 language code",
                "two lower-case letters",
                "\"en\"",
            ),
            CodeKind::Country => (
                "an ISO 3166-1 country code",
                "two upper-case letters",
                "\"US\"",
            ),
            CodeKind::Locale => (
                "a language code, or language-country",
                "two lower-case letters, maybe `-` and two upper-case ones",
                "\"fr\" or \"fr-FR\"",
            ),
        };
        let two = |s: &str, upper: bool| {
            s.len() == 2
                && s.chars().all(|c| {
                    if upper {
                        c.is_ascii_uppercase()
                    } else {
                        c.is_ascii_lowercase()
                    }
                })
        };
        let fits = match kind {
            CodeKind::Language => two(s, false),
            CodeKind::Country => two(s, true),
            CodeKind::Locale => match s.split_once('-') {
                Some((lang, country)) => two(lang, false) && two(country, true),
                None => two(s, false),
            },
        };
        if fits {
            return Some(s.to_owned());
        }
        self.push(
            PlanDiagnostic::error(
                Code::InvalidValue,
                format!("`{path}` = {s:?} is not {what}"),
            )
            .at(self.value_site(&path), format!("expected {letters}"))
            .key(path.to_string())
            .help(format!("like {example}")),
        );
        None
    }

    /// TMDB's AND/OR list as it is sent: elements joined by `,` (AND), the alternatives in
    /// one string element by `|` (OR). `genre` resolves a genre name (and reports one it
    /// cannot).
    pub fn and_or(
        &mut self,
        t: Tbl<'_>,
        key: &Key,
        genre: &mut dyn FnMut(&mut Self, &KeyPath, &str) -> Option<i64>,
    ) -> Option<String> {
        let Ty::AndOr(elem) = key.ty else {
            return None;
        };
        let items = self.array(t, key, |cx, p, v| cx.and_or_item(elem, &p, v, genre))?;
        if items.is_empty() {
            let p = t.path.key(key.name);
            self.empty_value(
                &p,
                "nothing to filter by",
                Some("list at least one value, or remove the filter".into()),
            );
            return None;
        }
        Some(
            items
                .into_iter()
                .map(|(_, s)| s)
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    fn and_or_item(
        &mut self,
        elem: Elem,
        p: &KeyPath,
        v: &Value,
        genre: &mut dyn FnMut(&mut Self, &KeyPath, &str) -> Option<i64>,
    ) -> Option<String> {
        let expected = match elem {
            Elem::Id => "an id, or ids joined by `|`",
            Elem::Genre => "a genre name or id, or several joined by `|`",
            Elem::Int { .. } => "an integer, or integers joined by `|`",
            Elem::Word(_) => "a word, or words joined by `|`",
        };
        match v {
            Value::Num(..) => match int_of(v) {
                Some(n) => self.alternative_int(elem, p, n).map(|n| n.to_string()),
                None => {
                    self.type_error(p, v, expected);
                    None
                }
            },
            Value::String(_, s) => {
                let mut out = Vec::new();
                let mut ok = true;
                for part in s.split('|').map(str::trim) {
                    let one = match (part.parse::<i128>(), elem) {
                        _ if part.is_empty() => {
                            self.push(
                                PlanDiagnostic::error(
                                    Code::InvalidValue,
                                    format!("`{p}` = {s:?} has an empty alternative"),
                                )
                                .at(self.value_site(p), "nothing between the `|`")
                                .key(p.to_string())
                                .help("join alternatives with one `|`: \"Horror|Thriller\""),
                            );
                            None
                        }
                        (Ok(n), _) => self.alternative_int(elem, p, n),
                        (Err(_), Elem::Genre) => genre(self, p, part).map(i128::from),
                        (Err(_), Elem::Word(words)) => {
                            let words = words();
                            if words.contains(&part) {
                                out.push(part.to_owned());
                                continue;
                            }
                            self.unknown_word(p, part, &words, Code::InvalidValue, "value");
                            None
                        }
                        (Err(_), Elem::Id | Elem::Int { .. }) => {
                            self.type_error(p, v, expected);
                            None
                        }
                    };
                    match one {
                        Some(n) => out.push(n.to_string()),
                        None => ok = false,
                    }
                }
                ok.then(|| out.join("|"))
            }
            other => {
                self.type_error(p, other, expected);
                None
            }
        }
    }

    /// An integer alternative of an AND/OR list, checked against its element's limits.
    fn alternative_int(&mut self, elem: Elem, p: &KeyPath, n: i128) -> Option<i128> {
        let (min, max, what) = match elem {
            Elem::Id => (1, i128::from(u64::MAX), "an id"),
            Elem::Genre => (1, i128::from(u32::MAX), "a genre id"),
            Elem::Int { min, max } => (min, max, "a value"),
            Elem::Word(words) => {
                let words = words();
                self.unknown_word(p, &n.to_string(), &words, Code::InvalidValue, "value");
                return None;
            }
        };
        if (min..=max).contains(&n) {
            return Some(n);
        }
        let end = (max < i128::from(u32::MAX)).then_some(max);
        self.out_of_range(p, range_message(p, &min, end, n), &format!("not {what}"));
        None
    }

    /// Reports repeated entries: a warning where a repeat is harmless, an error where it is
    /// ambiguous. True when there were none.
    pub fn duplicates<T: PartialEq + std::fmt::Display>(
        &mut self,
        items: &[(KeyPath, T)],
        what: &str,
        severity: Severity,
    ) -> bool {
        let mut none = true;
        for (i, (p, x)) in items.iter().enumerate() {
            if items[..i].iter().any(|(_, y)| y == x) {
                let message = format!("{what} `{x}` is listed twice");
                let (d, help) = match severity {
                    Severity::Error => (
                        PlanDiagnostic::error(Code::Duplicate, message),
                        "list each entry once",
                    ),
                    _ => (
                        PlanDiagnostic::warning(Code::Duplicate, message),
                        "remove the repeated entry",
                    ),
                };
                self.push(
                    d.at(self.value_site(p), "listed before")
                        .key(p.to_string())
                        .help(help),
                );
                none = false;
            }
        }
        none
    }

    /// A duration; a key of type `PositiveDuration` must also be longer than zero.
    pub fn duration(&mut self, t: Tbl<'_>, key: &Key) -> Option<Duration> {
        let d = self.duration_named(t, key.name)?;
        if let Ty::PositiveDuration { zero } = key.ty
            && d.is_zero()
        {
            let p = t.path.key(key.name);
            self.out_of_range(&p, format!("`{p}` must be longer than zero"), zero);
            return None;
        }
        Some(d)
    }

    /// A duration under a name the plan chose (a source's `ttl`).
    pub fn duration_named(&mut self, t: Tbl<'_>, key: &str) -> Option<Duration> {
        self.unit(t, key, UnitKind {
            expected: "a duration like \"500ms\" or \"15s\"",
            code: Code::InvalidDuration,
            what: "duration",
            help: "a duration is a whole number and a unit: ms, s, m, h or d (\"500ms\", \"15s\", \"1d\")",
            parse: units::parse_duration,
        })
    }

    pub fn rate(&mut self, t: Tbl<'_>, key: &Key) -> Option<Rate> {
        self.unit(t, key.name, UnitKind {
            expected: "a rate like \"40/s\"",
            code: Code::InvalidRate,
            what: "rate",
            help: "a rate is requests per period: \"40/s\", \"300/10s\", \"1000/day\" (also /m, /h)",
            parse: units::parse_rate,
        })
    }

    /// A size: an integer of bytes, or a string with a unit ("8MiB"); never zero.
    pub fn size(&mut self, t: Tbl<'_>, key: &Key) -> Option<u64> {
        let size = self.size_named(t, key.name)?;
        if let Ty::Size { zero } = key.ty
            && size == 0
        {
            let p = t.path.key(key.name);
            self.out_of_range(&p, format!("`{p}` must be larger than zero"), zero);
            return None;
        }
        Some(size)
    }

    fn size_named(&mut self, t: Tbl<'_>, key: &str) -> Option<u64> {
        let v = t.dict.get(key)?;
        let path = t.path.key(key);
        if let Value::Num(..) = v {
            return match int_of(v).map(u64::try_from) {
                Some(Ok(n)) => Some(n),
                Some(Err(_)) => {
                    self.out_of_range(
                        &path,
                        format!("`{path}` cannot be negative"),
                        "a negative size",
                    );
                    None
                }
                None => {
                    self.type_error(&path, v, "a size like \"8MiB\" or an integer of bytes");
                    None
                }
            };
        }
        self.unit(t, key, UnitKind {
            expected: "a size like \"8MiB\" or an integer of bytes",
            code: Code::InvalidSize,
            what: "size",
            help: "a size is a whole number and a unit: B, KiB, MiB, GiB (or kB, MB, GB), like \"8MiB\"; or an integer of bytes",
            parse: units::parse_size,
        })
    }

    fn unit<T>(&mut self, t: Tbl<'_>, key: &str, kind: UnitKind<T>) -> Option<T> {
        let (path, s) = self.string_unit(t, key, kind.expected)?;
        match (kind.parse)(s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(
                    PlanDiagnostic::error(
                        kind.code,
                        format!("invalid {} `{s}` for `{path}`", kind.what),
                    )
                    .at(self.value_site(&path), e.reason)
                    .key(path.to_string())
                    .help(kind.help),
                );
                None
            }
        }
    }

    /// A string holding a unit; a bare number gets a hint about the missing unit.
    fn string_unit<'v>(
        &mut self,
        t: Tbl<'v>,
        key: &str,
        expected: &str,
    ) -> Option<(KeyPath, &'v str)> {
        let v = t.dict.get(key)?;
        let path = t.path.key(key);
        match v {
            Value::String(_, s) => Some((path, s.as_str())),
            Value::Num(..) => {
                self.push(
                    PlanDiagnostic::error(
                        Code::WrongType,
                        format!("`{path}` must be {expected}, found {}", describe(v)),
                    )
                    .at(self.value_site(&path), "a number without a unit")
                    .key(path.to_string())
                    .help("write the unit in a string, like \"15s\" or \"40/s\""),
                );
                None
            }
            other => {
                self.type_error(&path, other, expected);
                None
            }
        }
    }

    /// A path relative to the plan file that wrote it (or the current directory).
    pub fn path(&mut self, t: Tbl<'_>, key: &Key) -> Option<PathBuf> {
        let (path, s) = self.string(t, key)?;
        if s.trim().is_empty() {
            self.empty_value(&path, "expected a directory", None);
            return None;
        }
        let base = self.layers.base_dir_of(&path);
        Some(absolute(&base.join(s)))
    }

    /// Expands `${…}` in the string at `path`; unset variables become warnings and
    /// [`UnresolvedVar`]s. Returns the expansion, or `None` on a syntax error (reported).
    /// `site` is where the string is written (or, for a default, what to point at instead).
    pub fn interpolate(
        &mut self,
        path: &KeyPath,
        text: &str,
        site: Option<Site>,
        field: impl Fn(&str) -> VarField,
    ) -> Option<interpolate::Expansion> {
        let offset = site
            .as_ref()
            .and_then(|s| content_offset(s.snippet(), text));
        let sub = |span: std::ops::Range<usize>| match (&site, offset) {
            (Some(s), Some(o)) => Some(s.sub(o + span.start..o + span.end)),
            (s, _) => s.clone(),
        };
        let expansion = match interpolate::expand(text, self.env) {
            Ok(e) => e,
            Err(e) => {
                self.push(
                    PlanDiagnostic::error(
                        Code::Interpolation,
                        format!("invalid `${{…}}` interpolation in `{path}`"),
                    )
                    .at(sub(e.span.clone()), e.reason)
                    .key(path.to_string())
                    .help("`${VAR}` or `${VAR:-default}` insert a variable; `$$` is a literal `$`"),
                );
                return None;
            }
        };
        self.vars_read.extend(expansion.vars.iter().cloned());
        // Warned about in `unset_warnings`, once every variable the plan reads is known.
        for unset in &expansion.unset {
            self.unresolved.push(UnresolvedVar {
                var: unset.name.clone(),
                key: path.to_string(),
                field: field(&expansion.value),
                site: sub(unset.span.clone()),
                similar: None,
            });
        }
        Some(expansion)
    }
}

/// A warning for each variable left unset, with the set variable it was probably meant to be
/// (see [`similar_variable`]).
pub(crate) fn unset_warnings(cx: &mut Cx<'_>) {
    for i in 0..cx.unresolved.len() {
        let similar = similar_variable(&cx.unresolved[i].var, cx.env, &cx.vars_read);
        let u = &mut cx.unresolved[i];
        u.similar = similar;
        let warning = PlanDiagnostic::warning(
            Code::UnsetVariable,
            format!(
                "environment variable `{}` is not set (used by `{}`)",
                u.var, u.key
            ),
        )
        .at(u.site.clone(), format!("`{}` is unset", u.var))
        .key(u.key.clone())
        .help(format!(
            "{}export {} before `popctl run`, or give a default: `${{{}:-…}}`; `validate` only warns",
            did_you_mean_variable(u.similar.as_deref()),
            u.var,
            u.var
        ));
        cx.push(warning);
    }
}

/// A set variable whose name is close to the unset `name`: a typo (`TMDB_KEY` for
/// `TMDB_API_KEY`) is likelier than a missing export when one exists. Variables the plan reads
/// itself are not candidates (`OMDB_API_KEY` is not a typo of an unset `TMDB_API_KEY`), nor
/// are empty ones. Only the name is ever shown, never the value.
fn similar_variable(
    name: &str,
    env: &BTreeMap<String, String>,
    read: &BTreeSet<String>,
) -> Option<String> {
    let candidates: Vec<&str> = env
        .iter()
        .filter(|(k, v)| !v.is_empty() && !read.contains(*k))
        .map(|(k, _)| k.as_str())
        .collect();
    super::suggest::closest(name, &candidates).map(str::to_owned)
}

/// "did you mean `TMDB_API_KEY` (set in the environment)? otherwise " or nothing.
pub(crate) fn did_you_mean_variable(similar: Option<&str>) -> String {
    similar
        .map(|s| format!("did you mean `{s}` (set in the environment)? otherwise "))
        .unwrap_or_default()
}

/// "`pages` must be between 1 and 500, found 0" or "… must be at least 1, found 0".
fn range_message<T: std::fmt::Display>(
    path: &KeyPath,
    start: &T,
    end: Option<T>,
    found: T,
) -> String {
    match end {
        Some(end) => format!("`{path}` must be between {start} and {end}, found {found}"),
        None => format!("`{path}` must be at least {start}, found {found}"),
    }
}

/// Where the string's content starts inside its written form, when it is written plainly
/// (`"…"`, `'…'` or bare in an override), so labels can point inside the string.
fn content_offset(snippet: &str, value: &str) -> Option<usize> {
    if snippet == value {
        return Some(0);
    }
    let inner = snippet.get(1..snippet.len().checked_sub(1)?)?;
    let quoted = (snippet.starts_with('"') && snippet.ends_with('"'))
        || (snippet.starts_with('\'') && snippet.ends_with('\''));
    (quoted && inner == value).then_some(1)
}

/// Valid stage and source names: they appear in `needs`, in `POPCTL_…` variables, in
/// `graph` output and in the database's run records.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The compiled plan sections, before they are assembled into a [`Plan`].
pub(crate) struct Sections {
    pub name: String,
    pub description: Option<String>,
    pub database: DatabaseConfig,
    pub sources: BTreeMap<String, SourceConfig>,
    /// The kind of every source named in the plan, even one that failed to compile, so
    /// stages are not blamed for a broken source.
    pub source_kinds: BTreeMap<String, Option<SourceKind>>,
    pub default_retry: RetryPolicy,
    pub data: DataConfig,
    pub cache: CacheConfig,
}

/// Compiles everything but the stages.
pub(crate) fn sections(cx: &mut Cx<'_>, root_file: &Path) -> Sections {
    let root_path = KeyPath::root();
    let top = Tbl {
        path: &root_path,
        dict: &cx.layers.merged,
    };
    cx.check_keys(top, &keys::TOP, "the plan (top level)");

    let mut name = root_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plan".to_owned());
    let mut description = None;
    if let Some((path, dict)) = sub_table(cx, top, "plan") {
        let t = Tbl { path: &path, dict };
        cx.check_keys(t, &keys::PLAN, "`[plan]`");
        // A plan's name and description are its own: those of a file it extends name that
        // file (a plan extending base.toml is not "base", and its runs are not base's).
        let own = |cx: &Cx<'_>, p: &KeyPath| match cx.layers.origin_of(p) {
            Some(super::error::Origin::File(file)) => cx.layers.files.first() == Some(file),
            _ => true,
        };
        if let Some((p, n)) = cx.string(t, &keys::plan::NAME)
            && own(cx, &p)
        {
            name = n.to_owned();
        }
        description = cx
            .string(t, &keys::plan::DESCRIPTION)
            .filter(|(p, _)| own(cx, p))
            .map(|(_, d)| d.to_owned());
        if let Some((p, _)) = cx.string(t, &keys::plan::EXTENDS)
            && !matches!(cx.layers.origin_of(&p), Some(super::error::Origin::File(_)))
        {
            cx.push(
                PlanDiagnostic::error(
                    Code::Override,
                    "`plan.extends` can only be set in a plan file",
                )
                .at(cx.value_site(&p), "set by an override")
                .key("plan.extends")
                .help("write `extends` in the `[plan]` table of the file"),
            );
        }
    }

    let (sources, source_kinds) = compile_sources(cx, top);
    let database = compile_database(cx, top);
    let default_retry = match sub_table(cx, top, "defaults") {
        Some((path, dict)) => {
            let t = Tbl { path: &path, dict };
            cx.check_keys(t, &keys::DEFAULTS, "`[defaults]`");
            for kind in STAGE_KINDS {
                if let Some((path, dict)) = sub_table(cx, t, kind) {
                    check_kind_defaults(cx, Tbl { path: &path, dict }, kind);
                }
            }
            retry(cx, t, &RetryPolicy::default())
        }
        None => RetryPolicy::default(),
    };
    let data = DataConfig {
        dir: match sub_table(cx, top, "data") {
            Some((path, dict)) => {
                let t = Tbl { path: &path, dict };
                cx.check_keys(t, &keys::DATA, "`[data]`");
                cx.path(t, &keys::data::DIR)
            }
            None => None,
        }
        .unwrap_or_else(|| absolute(Path::new(DEFAULT_DATA_DIR))),
    };
    let cache = compile_cache(cx, top, &source_kinds);
    Sections {
        name,
        description,
        database,
        sources,
        source_kinds,
        default_retry,
        data,
        cache,
    }
}

/// Unknown keys of `[defaults.<kind>]`. Their values are checked in each stage they are
/// copied into (see `layer::apply_kind_defaults`), where a diagnostic points back here.
fn check_kind_defaults(cx: &mut Cx<'_>, t: Tbl<'_>, kind: &str) {
    let kind_key = keys::stage::KIND.name;
    let allowed: Vec<&str> = keys::STAGE
        .keys
        .iter()
        .chain(keys::of_kind(kind).keys)
        .map(|k| k.name)
        .filter(|n| *n != kind_key)
        .collect();
    let moved: Vec<&str> = match kind {
        "fetch" => keys::fetch::MOVED_TO_FILTERS
            .iter()
            .map(|m| m.key.name)
            .collect(),
        _ => Vec::new(),
    };
    for key in t.dict.keys() {
        if allowed.contains(&key.as_str()) || moved.contains(&key.as_str()) {
            continue;
        }
        let path = t.path.key(key);
        let help = if key == kind_key {
            format!(
                "the table's name is the kind: `[defaults.{kind}]` applies to every `{kind}` stage"
            )
        } else {
            suggest::did_you_mean(key, &allowed)
                .unwrap_or_else(|| format!("a `{kind}` stage takes {}", suggest::one_of(&allowed)))
        };
        cx.push(
            PlanDiagnostic::error(
                Code::UnknownField,
                format!("unknown key `{key}` in `[defaults.{kind}]`"),
            )
            .at(cx.key_site(&path), "unknown key")
            .key(path.to_string())
            .help(help),
        );
    }
}

/// The sub-table `key` of `t`, with its path; `None` when absent or not a table (reported).
pub(crate) fn sub_table<'v>(cx: &mut Cx<'_>, t: Tbl<'v>, key: &str) -> Option<(KeyPath, &'v Dict)> {
    let v = t.dict.get(key)?;
    let path = t.path.key(key);
    let dict = cx.table(&path, v)?;
    Some((path, dict))
}

fn compile_sources(
    cx: &mut Cx<'_>,
    top: Tbl<'_>,
) -> (
    BTreeMap<String, SourceConfig>,
    BTreeMap<String, Option<SourceKind>>,
) {
    let mut sources = BTreeMap::new();
    let mut kinds = BTreeMap::new();
    let Some((path, dict)) = sub_table(cx, top, "sources") else {
        return (sources, kinds);
    };
    for (name, value) in dict {
        let spath = path.key(name);
        if !is_valid_name(name) {
            cx.push(
                PlanDiagnostic::error(
                    Code::InvalidName,
                    format!("`{name}` is not a valid source name"),
                )
                .at(cx.key_site(&spath), "invalid name")
                .key(spath.to_string())
                .help("use letters, digits, `_` and `-`"),
            );
        }
        let Some(sdict) = cx.table(&spath, value) else {
            kinds.insert(name.clone(), None);
            continue;
        };
        let t = Tbl {
            path: &spath,
            dict: sdict,
        };
        let kind = source_kind(cx, t, name);
        kinds.insert(name.clone(), kind);
        if let Some(kind) = kind
            && let Some(config) = source(cx, t, name, kind)
        {
            sources.insert(name.clone(), config);
        }
    }
    (sources, kinds)
}

fn source_kind(cx: &mut Cx<'_>, t: Tbl<'_>, name: &str) -> Option<SourceKind> {
    cx.check_keys(t, &keys::SOURCE, &format!("source `{name}`"));
    if t.has(&keys::source::KIND) {
        return cx
            .word(t, &keys::source::KIND, Code::InvalidValue, "source kind")
            .and_then(|(_, w)| SourceKind::from_word(w));
    }
    if let Some(kind) = SourceKind::from_word(name) {
        return Some(kind);
    }
    cx.push(
        PlanDiagnostic::error(Code::MissingField, format!("source `{name}` needs a `kind`"))
            .at(cx.key_site(t.path), "which API is this?")
            .key(t.path.to_string())
            .help("a source named other than `tmdb` or `omdb` says which API it is: `kind = \"tmdb\"` or `kind = \"omdb\"`"),
    );
    None
}

/// `TMDB_EU_API_KEY` for source `tmdb-eu`.
pub fn default_key_var(source: &str) -> String {
    format!("{}_API_KEY", source.to_ascii_uppercase().replace('-', "_"))
}

fn source(cx: &mut Cx<'_>, t: Tbl<'_>, name: &str, kind: SourceKind) -> Option<SourceConfig> {
    let key_var = default_key_var(name);
    let key_path = t.path.key("api_key");
    let (written, key_text) = match cx.string(t, &keys::source::API_KEY) {
        Some((_, s)) => (true, s.to_owned()),
        None if t.has(&keys::source::API_KEY) => (true, String::new()),
        None => (false, format!("${{{key_var}}}")),
    };
    // An unwritten key defaults to `${<NAME>_API_KEY}`; point at the source table then.
    let key_site = if written {
        cx.value_site(&key_path)
    } else {
        cx.key_site(t.path)
    };
    let api_key = cx
        .interpolate(&key_path, &key_text, key_site, |_| VarField::ApiKey(name.to_owned()))
        .map(|e| {
            if written && e.vars.is_empty() && !e.value.is_empty() {
                cx.push(
                    PlanDiagnostic::warning(Code::LiteralApiKey, format!("the API key of source `{name}` is written in the plan"))
                        .at(cx.value_site(&key_path), "a literal API key")
                        .key(key_path.to_string())
                        .help(format!("use `api_key = \"${{{key_var}}}\"` and keep the key in the environment: plans get committed")),
                );
            }
            let api_key_var = e.vars.first().cloned();
            let value = match e.unset.first() {
                Some(u) => Interpolated::Unresolved { var: u.name.clone() },
                None => Interpolated::Value(Secret::new(e.value)),
            };
            (value, api_key_var)
        });

    let url_path = t.path.key("base_url");
    let base_url = match cx.string(t, &keys::source::BASE_URL) {
        Some((_, s)) => {
            let s = s.to_owned();
            let site = cx.value_site(&url_path);
            cx.interpolate(&url_path, &s, site, |written| VarField::BaseUrl {
                source: name.to_owned(),
                written: written.to_owned(),
            })
            .and_then(|e| {
                if e.is_resolved() && !valid_http_url(&e.value) {
                    cx.push(
                        PlanDiagnostic::error(
                            Code::InvalidUrl,
                            format!("`{url_path}` is not an http(s) URL"),
                        )
                        .at(cx.value_site(&url_path), "expected http:// or https://")
                        .key(url_path.to_string())
                        .help(format!("the default is \"{}\"", kind.default_base_url())),
                    );
                    return None;
                }
                Some(e.value.trim_end_matches('/').to_owned())
            })
        }
        None => Some(kind.default_base_url().to_owned()),
    };
    let files_url = files_url(cx, t, kind);
    let language = tmdb_only(cx, t, &keys::source::LANGUAGE, kind);
    let region = tmdb_only(cx, t, &keys::source::REGION, kind);
    let (api_key, api_key_var) = api_key?;
    let mut source = SourceConfig {
        name: name.to_owned(),
        kind,
        api_key,
        api_key_var,
        base_url: base_url?,
        rate: kind.default_rate(),
        burst: DEFAULT_BURST,
        rate_scope: RateScope::Worker,
        timeout: DEFAULT_TIMEOUT,
        daily_quota: None,
        max_body: kind.default_max_body(),
        max_rate_limited_wait: DEFAULT_MAX_RATE_LIMITED_WAIT,
        store_raw: true,
        files_url: files_url?,
        language: language?,
        region: region?,
    };
    cx.read_bound(t, &keys::SOURCE, &mut source);
    Some(source)
}

/// A code key only a TMDB source takes: `Some(None)` when unset, `None` when wrong (reported).
fn tmdb_only(cx: &mut Cx<'_>, t: Tbl<'_>, key: &Key, kind: SourceKind) -> Option<Option<String>> {
    if !t.has(key) {
        return Some(None);
    }
    if kind != SourceKind::Tmdb {
        let p = t.path.key(key.name);
        let help = format!("remove it: `{}` is a TMDB parameter", key.name);
        not_tmdb(cx, &p, kind, "only a TMDB source takes it", help);
        return None;
    }
    cx.code(t, key).map(Some)
}

/// Reports a TMDB-only key set on a source of another `kind`.
fn not_tmdb(cx: &mut Cx<'_>, p: &KeyPath, kind: SourceKind, label: &str, help: String) {
    cx.push(
        PlanDiagnostic::error(
            Code::InvalidValue,
            format!("`{p}` is set on a source of kind `{}`", kind.as_str()),
        )
        .at(cx.key_site(p), label)
        .key(p.to_string())
        .help(help),
    );
}

/// TMDB's files host: an http(s) URL, for a TMDB source only.
fn files_url(cx: &mut Cx<'_>, t: Tbl<'_>, kind: SourceKind) -> Option<String> {
    let Some((p, url)) = cx.string(t, &keys::source::FILES_URL) else {
        return (!t.has(&keys::source::FILES_URL)).then(|| keys::DEFAULT_FILES_URL.to_owned());
    };
    if kind != SourceKind::Tmdb {
        let help = "remove it: `files_url` is where TMDB serves its daily ID exports".to_owned();
        not_tmdb(cx, &p, kind, "only TMDB has a files host", help);
        return None;
    }
    if !valid_http_url(url) {
        cx.push(
            PlanDiagnostic::error(Code::InvalidUrl, format!("`{p}` is not an http(s) URL"))
                .at(cx.value_site(&p), "expected http:// or https://")
                .key(p.to_string())
                .help(format!("the default is \"{}\"", keys::DEFAULT_FILES_URL)),
        );
        return None;
    }
    Some(url.trim_end_matches('/').to_owned())
}

fn valid_http_url(s: &str) -> bool {
    url::Url::parse(s)
        .map(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        })
        .unwrap_or(false)
}

fn compile_database(cx: &mut Cx<'_>, top: Tbl<'_>) -> DatabaseConfig {
    let mut db = DatabaseConfig {
        url: Interpolated::Value(SecretUrl::new(DEFAULT_DATABASE_URL)),
        connect_timeout: DatabaseConfig::DEFAULT_CONNECT_TIMEOUT,
    };
    if let Some((path, dict)) = sub_table(cx, top, "database") {
        let t = Tbl { path: &path, dict };
        cx.check_keys(t, &keys::DATABASE, "`[database]`");
        cx.read_bound(t, &keys::DATABASE, &mut db);
        if let Some((p, s)) = cx.string(t, &keys::database::URL) {
            let site = cx.value_site(&p);
            if let Some(e) = cx.interpolate(&p, s, site, |_| VarField::DatabaseUrl) {
                if let Some(u) = e.unset.first() {
                    db.url = Interpolated::Unresolved {
                        var: u.name.clone(),
                    };
                } else if let Some(reason) = database_url_problem(&e.value) {
                    cx.push(
                        PlanDiagnostic::error(Code::InvalidUrl, format!("`database.url` is not a database URL popctl can use: {reason}"))
                            .at(cx.value_site(&p), reason.clone())
                            .key("database.url")
                            .help("use `sqlite://file.db?mode=rwc`, `sqlite::memory:` or `postgres://user@host/db`"),
                    );
                } else {
                    db.url = Interpolated::Value(SecretUrl::new(e.value));
                }
            }
        }
    }
    db
}

/// Why `url` cannot be a popctl database, if it cannot: the drivers' own parsers have the
/// last word on a URL they accept.
pub fn database_url_problem(url: &str) -> Option<String> {
    if url.starts_with("sqlite:") {
        return None;
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return match super::database::locality(url) {
            super::database::Locality::Invalid(why) => Some(why),
            _ => None,
        };
    }
    if url.is_empty() {
        return Some("it is empty".to_owned());
    }
    Some("only sqlite: and postgres:// URLs are supported".to_owned())
}

fn compile_cache(
    cx: &mut Cx<'_>,
    top: Tbl<'_>,
    sources: &BTreeMap<String, Option<SourceKind>>,
) -> CacheConfig {
    let mut cache = CacheConfig {
        mode: CacheMode::ReadWrite,
        dir: absolute(Path::new(DEFAULT_CACHE_DIR)),
        ttl: BTreeMap::new(),
        default_ttl: DEFAULT_TTL,
        negative_ttl: DEFAULT_TTL,
    };
    let Some((path, dict)) = sub_table(cx, top, "cache") else {
        return cache;
    };
    let t = Tbl { path: &path, dict };
    cx.check_keys(t, &keys::CACHE, "`[cache]`");
    cx.read_bound(t, &keys::CACHE, &mut cache);
    if let Some(dir) = cx.path(t, &keys::cache::DIR) {
        cache.dir = dir;
    }
    if let Some((tpath, tdict)) = sub_table(cx, t, "ttl") {
        let names: Vec<&str> = sources.keys().map(String::as_str).collect();
        for source in tdict.keys() {
            if !sources.contains_key(source) {
                let p = tpath.key(source);
                cx.push(
                    PlanDiagnostic::error(
                        Code::UnknownSource,
                        format!(
                            "`cache.ttl` names source `{source}`, which the plan does not define"
                        ),
                    )
                    .at(cx.key_site(&p), "no such source")
                    .key(p.to_string())
                    .maybe_help(suggest::did_you_mean(source, &names)),
                );
                continue;
            }
            let tt = Tbl {
                path: &tpath,
                dict: tdict,
            };
            if let Some(d) = cx.duration_named(tt, source) {
                cache.ttl.insert(source.clone(), d);
            }
        }
    }
    cache
}

/// `retry` fields of `t` over `base`, field by field.
pub(crate) fn retry(cx: &mut Cx<'_>, t: Tbl<'_>, base: &RetryPolicy) -> RetryPolicy {
    let Some((path, dict)) = sub_table(cx, t, "retry") else {
        return *base;
    };
    let r = Tbl { path: &path, dict };
    cx.check_keys(r, &keys::RETRY, &format!("`{path}`"));
    let mut policy = *base;
    cx.read_bound(r, &keys::RETRY, &mut policy);
    if policy.initial > policy.max {
        let at = if r.has(&keys::retry::MAX) {
            path.key("max")
        } else {
            path.key("initial")
        };
        cx.out_of_range(
            &at,
            format!(
                "`{path}`: `initial` ({}) is longer than `max` ({})",
                units::format_duration(policy.initial),
                units::format_duration(policy.max)
            ),
            "initial backoff above the maximum",
        );
    }
    policy
}
