//! The plan as written: each layer's text, its TOML data, and where every key and value sits in
//! that text.
//!
//! figment merges layers but keeps no byte offsets (stack-notes, gotcha 1), so every layer is
//! also parsed with toml's spanned `DeTable` into a [`SpanIndex`]: key path → key span and value
//! span. A diagnostic about `stages.popular.pages` finds its label through the layer that
//! supplied the value. Syntax errors come from the same spanned parse, every one of them.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use figment::value::{Dict, Num, Tag, Value};
use miette::NamedSource;
use toml::de::{DeTable, DeValue};

use super::error::{Code, Origin, PlanDiagnostic, Site};

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path into the plan (`stages.popular.append[3]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    pub fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        KeyPath(segs)
    }

    pub fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        KeyPath(segs)
    }

    pub fn from_keys<S: AsRef<str>>(keys: &[S]) -> Self {
        KeyPath(
            keys.iter()
                .map(|k| Seg::Key(k.as_ref().to_owned()))
                .collect(),
        )
    }

    pub fn parent(&self) -> Option<KeyPath> {
        let (_, rest) = self.0.split_last()?;
        Some(KeyPath(rest.to_vec()))
    }

    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if is_bare_key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    write!(f, "{k:?}")?;
                }
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Where a key and its value sit in a layer's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spans {
    /// `None` for array elements.
    pub key: Option<Range<usize>>,
    pub value: Range<usize>,
}

/// Key path → spans, for one layer.
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    map: HashMap<KeyPath, Spans>,
}

impl SpanIndex {
    pub fn get(&self, path: &KeyPath) -> Option<&Spans> {
        self.map.get(path)
    }

    /// Indexes a parsed document; `shift` moves every span (for a value parsed out of a larger
    /// text, like the right-hand side of `--set key=value`).
    fn add_table(&mut self, table: &DeTable<'_>, path: &KeyPath, shift: isize) {
        for (key, value) in table.iter() {
            let child = path.key(key.get_ref());
            self.map.insert(
                child.clone(),
                Spans {
                    key: Some(shifted(key.span(), shift)),
                    value: shifted(value.span(), shift),
                },
            );
            self.add_value(value.get_ref(), &child, shift);
        }
    }

    fn add_value(&mut self, value: &DeValue<'_>, path: &KeyPath, shift: isize) {
        match value {
            DeValue::Table(t) => self.add_table(t, path, shift),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let child = path.index(i);
                    self.map.insert(
                        child.clone(),
                        Spans {
                            key: None,
                            value: shifted(item.span(), shift),
                        },
                    );
                    self.add_value(item.get_ref(), &child, shift);
                }
            }
            _ => {}
        }
    }

    fn insert(&mut self, path: KeyPath, spans: Spans) {
        self.map.insert(path, spans);
    }
}

fn shifted(r: Range<usize>, shift: isize) -> Range<usize> {
    let move_by = |x: usize| x.saturating_add_signed(shift);
    move_by(r.start)..move_by(r.end)
}

/// A layer's text as a miette source, shared by every site in it.
pub type Source = Arc<NamedSource<Arc<str>>>;

/// A layer's text as diagnostics show it: with its API keys masked ([`mask_api_keys`]), so no
/// snippet of any diagnostic shows a key, whatever the layer it came from. The data is parsed
/// from the text as written.
pub fn named_source(name: &str, text: &str) -> Source {
    Arc::new(NamedSource::new(name, Arc::from(mask_api_keys(text))).with_language("TOML"))
}

/// The key whose values are secrets: `sources.<name>.api_key`, however it is written.
pub const SECRET_KEY: &str = "api_key";

/// `text` with the value of every `api_key` assignment replaced by as many `*` as it has
/// bytes, so every span into the text stays valid: `api_key = "k3y"` in a plan file (or
/// `"api_key" = …`, `sources.tmdb.api_key = …`, a comment holding one),
/// `POPCTL_SOURCES__TMDB__API_KEY=k3y` and `--set sources.tmdb.api_key=k3y` alike. It reads
/// the text, not its parse, so a file with syntax errors is masked too. `${VAR}` references
/// stay readable; a `:-default` in them is masked.
pub fn mask_api_keys(text: &str) -> String {
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let mut out = bytes.to_vec();
    for (at, _) in lower.match_indices(SECRET_KEY) {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        let mut i = at + SECRET_KEY.len();
        if matches!(bytes.get(i), Some(b'"' | b'\'')) {
            i += 1;
        }
        let skip_blanks = |mut i: usize| {
            while matches!(bytes.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
            i
        };
        i = skip_blanks(i);
        if bytes.get(i) != Some(&b'=') {
            continue;
        }
        let value = value_range(bytes, skip_blanks(i + 1));
        mask_value(bytes, value, &mut out);
    }
    // Only ASCII bytes of whole characters were replaced by ASCII.
    String::from_utf8(out).unwrap_or_else(|_| "*".repeat(text.len()))
}

/// The content of the value starting at `start`: inside its quotes (`"…"`, `'…'`, or tripled),
/// or bare up to a `,`, `}`, `]` or `#` (an override's value is the rest of its text, blanks
/// included); never past the end of its line unless tripled.
fn value_range(bytes: &[u8], start: usize) -> Range<usize> {
    let line_end = |from: usize| {
        bytes[from.min(bytes.len())..]
            .iter()
            .position(|b| matches!(b, b'\n' | b'\r'))
            .map_or(bytes.len(), |p| from + p)
    };
    match bytes.get(start) {
        Some(&q @ (b'"' | b'\'')) => {
            let triple = bytes.get(start..start + 3) == Some(&[q, q, q][..]);
            if triple {
                let from = start + 3;
                let end = bytes[from..]
                    .windows(3)
                    .position(|w| w == [q, q, q])
                    .map_or(bytes.len(), |p| from + p);
                return from..end;
            }
            let from = start + 1;
            let mut i = from;
            let end = line_end(from);
            while i < end && bytes[i] != q {
                // A basic string's escapes (`\"`) do not end it.
                i += if q == b'"' && bytes[i] == b'\\' { 2 } else { 1 };
            }
            from..i.min(end)
        }
        _ => {
            let end = line_end(start);
            let stop = bytes[start.min(end)..end]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b'#'))
                .map_or(end, |p| start + p);
            start.min(stop)..stop
        }
    }
}

/// Masks `range` of `bytes` into `out`, keeping `${VAR}` references (not their defaults).
fn mask_value(bytes: &[u8], range: Range<usize>, out: &mut [u8]) {
    let mut i = range.start;
    while i < range.end {
        if bytes.get(i..i + 2) == Some(b"${") {
            i += 2;
            while i < range.end && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            if bytes.get(i..i + 2) == Some(b":-") {
                i += 2;
                while i < range.end && bytes[i] != b'}' {
                    out[i] = b'*';
                    i += 1;
                }
            }
            if i < range.end && bytes[i] == b'}' {
                i += 1;
            }
            continue;
        }
        out[i] = b'*';
        i += 1;
    }
}

/// One parsed layer: its text, data and span index.
#[derive(Debug, Clone)]
pub struct RawLayer {
    pub origin: Origin,
    pub source: Source,
    pub index: SpanIndex,
    pub data: Dict,
}

impl RawLayer {
    /// The site of `path`'s key (or of its value when it has no key, like an array element).
    pub fn key_site(&self, path: &KeyPath) -> Option<Site> {
        let spans = self.index.get(path)?;
        let span = spans.key.clone().unwrap_or_else(|| spans.value.clone());
        Some(Site::new(self.origin.clone(), self.source.clone(), span))
    }

    pub fn value_site(&self, path: &KeyPath) -> Option<Site> {
        let spans = self.index.get(path)?;
        Some(Site::new(
            self.origin.clone(),
            self.source.clone(),
            spans.value.clone(),
        ))
    }

    pub fn path(&self) -> Option<&Path> {
        match &self.origin {
            Origin::File(p) => Some(p),
            _ => None,
        }
    }
}

/// Parses a plan file's text. `display` is how the file is named in diagnostics.
pub fn parse_file(path: &Path, display: &str, text: &str) -> Result<RawLayer, Vec<PlanDiagnostic>> {
    let origin = Origin::File(path.to_path_buf());
    let source = named_source(display, text);
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        let found: Vec<(&toml::de::Error, Option<Duplicate>)> =
            errors.iter().map(|e| (e, duplicate(text, e))).collect();
        // toml goes on parsing a repeated table as the first one, so each key of the repeat
        // that the first already has is reported again: one problem, said once.
        let tables: Vec<(KeyPath, usize)> = found
            .iter()
            .filter_map(|(_, d)| d.as_ref().filter(|d| d.table))
            .map(|d| (d.path.clone(), d.again.start))
            .collect();
        let consequence = |d: &Duplicate| {
            !d.table
                && tables
                    .iter()
                    .any(|(path, at)| *at < d.again.start && d.path.0.starts_with(&path.0))
        };
        let mut errors: Vec<PlanDiagnostic> = found
            .into_iter()
            .filter(|(_, d)| !d.as_ref().is_some_and(consequence))
            .map(|(e, d)| match d {
                Some(dup) => duplicate_error(&origin, &source, dup),
                None => syntax_error(&origin, &source, e, text.len()),
            })
            .collect();
        errors.sort_by_key(|d| d.site.as_ref().map_or(0, |s| s.span.start));
        return Err(errors);
    }
    // The spanned parse accepted the text; a second, typed parse converts values (it rejects
    // what the spanned one lets through, such as integers beyond 64 bits).
    let table: toml::Table =
        toml::from_str(text).map_err(|e| vec![syntax_error(&origin, &source, &e, text.len())])?;
    let mut index = SpanIndex::default();
    index.add_table(doc.get_ref(), &KeyPath::root(), 0);
    Ok(RawLayer {
        origin,
        source,
        index,
        data: table_to_dict(&table),
    })
}

fn syntax_error(
    origin: &Origin,
    source: &Source,
    e: &toml::de::Error,
    len: usize,
) -> PlanDiagnostic {
    let span = e.span().unwrap_or(len..len);
    let message = e.message().trim().to_owned();
    let (first, rest) = match message.split_once('\n') {
        Some((first, rest)) => (first.to_owned(), Some(rest.trim().to_owned())),
        None => (message.clone(), None),
    };
    PlanDiagnostic::error(Code::Syntax, format!("TOML syntax error: {first}"))
        .at(Some(Site::new(origin.clone(), source.clone(), span)), first)
        .maybe_help(rest.filter(|r| !r.is_empty()))
}

/// A key or table defined twice in one file, and where it was first defined.
struct Duplicate {
    path: KeyPath,
    /// A `[table]` header rather than a key.
    table: bool,
    again: Range<usize>,
    first: Range<usize>,
}

/// toml reports a duplicate with the span of the second definition only; the first is found
/// by working out the full key path at that span (the table header it sits under, plus its
/// own dotted key) and looking that path up in a parse of the text before it. `None` when any
/// step fails (arrays of tables, inline tables): the plain syntax error is shown then.
fn duplicate(text: &str, e: &toml::de::Error) -> Option<Duplicate> {
    if !e.message().starts_with("duplicate key") {
        return None;
    }
    let again = e.span()?;
    let line_start = text.get(..again.start)?.rfind('\n').map_or(0, |i| i + 1);
    let head = text.get(line_start..again.end)?.trim_start();
    let (path, table) = if let Some(header) = head.strip_prefix('[') {
        if header.starts_with('[') {
            return None;
        }
        (key_path_of(&format!("{header} = 0"))?, true)
    } else {
        let mut path = enclosing_header(text.get(..line_start)?)?;
        path.0.extend(key_path_of(&format!("{head} = 0"))?.0);
        (path, false)
    };
    let before = text.get(..line_start)?;
    let (doc, _) = DeTable::parse_recoverable(before);
    let mut index = SpanIndex::default();
    index.add_table(doc.get_ref(), &KeyPath::root(), 0);
    let first = index.get(&path)?.key.clone()?;
    Some(Duplicate {
        path,
        table,
        again,
        first,
    })
}

/// The key path of a one-line `a.b."c" = 0`.
fn key_path_of(line: &str) -> Option<KeyPath> {
    let doc = DeTable::parse(line).ok()?;
    let mut path = KeyPath::root();
    let mut table = doc.get_ref();
    loop {
        let mut entries = table.iter();
        let (key, value) = entries.next()?;
        if entries.next().is_some() {
            return None;
        }
        path = path.key(key.get_ref());
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => return Some(path),
        }
    }
}

/// The path of the last `[table]` header in `before` (the root when there is none).
fn enclosing_header(before: &str) -> Option<KeyPath> {
    for line in before.lines().rev() {
        let Some(header) = line.trim_start().strip_prefix('[') else {
            continue;
        };
        if header.starts_with('[') {
            // Inside an array of tables: the path would need the element's index.
            return None;
        }
        // An array value continued on its own line (`[1, 2],`) is not a header.
        let Some(end) = header.find(']') else {
            continue;
        };
        if let Some(path) = key_path_of(&format!("{} = 0", &header[..end])) {
            return Some(path);
        }
    }
    Some(KeyPath::root())
}

fn duplicate_error(origin: &Origin, source: &Source, dup: Duplicate) -> PlanDiagnostic {
    let site = |span| Site::new(origin.clone(), source.clone(), span);
    let (what, help) = if dup.table {
        (
            "table",
            "a table is written once: merge the two into one `[…]` table",
        )
    } else {
        ("key", "a key is set once per table: keep one of the two")
    };
    PlanDiagnostic::error(
        Code::Syntax,
        format!("TOML syntax error: {what} `{}` is defined twice", dup.path),
    )
    .at(Some(site(dup.again)), "defined again here")
    .also(site(dup.first), "first defined here")
    .key(dup.path.to_string())
    .help(help)
}

/// A layer made of one `key.path = value` override (a `--set` argument or a `POPCTL_…`
/// variable). `text` is what the user wrote; `key_spans` locate each key segment in it and
/// `value_at` is where the value starts.
pub fn override_layer(
    origin: Origin,
    name: &str,
    text: &str,
    keys: &[(String, Range<usize>)],
    value_at: usize,
) -> RawLayer {
    let source = named_source(name, text);
    let value_text = &text[value_at..];
    let mut index = SpanIndex::default();
    let mut path = KeyPath::root();
    for (key, span) in keys {
        path = path.key(key);
        index.insert(
            path.clone(),
            Spans {
                key: Some(span.clone()),
                value: value_at..text.len(),
            },
        );
    }
    // A value that is valid TOML (`2`, `true`, `["credits"]`) keeps its type; anything else
    // (`40/s`, `popular`) is a string, so nobody has to quote inside a shell.
    const PREFIX: &str = "v = ";
    let doc_text = format!("{PREFIX}{value_text}");
    let value = match (
        DeTable::parse(&doc_text),
        toml::from_str::<toml::Table>(&doc_text),
    ) {
        (Ok(doc), Ok(mut table)) if table.len() == 1 => {
            let shift = value_at as isize - PREFIX.len() as isize;
            if let Some(v) = doc.get_ref().iter().next().map(|(_, v)| v) {
                index.add_value(v.get_ref(), &path, shift);
            }
            match table.remove("v") {
                Some(toml::Value::Datetime(d)) => Value::from(d.to_string()),
                Some(v) => toml_to_value(&v),
                None => Value::from(value_text.to_owned()),
            }
        }
        _ => Value::from(value_text.to_owned()),
    };
    let mut data = value;
    for (key, _) in keys.iter().rev() {
        let mut dict = Dict::new();
        dict.insert(key.clone(), data);
        data = Value::Dict(Tag::Default, dict);
    }
    let data = match data {
        Value::Dict(_, d) => d,
        _ => Dict::new(),
    };
    RawLayer {
        origin,
        source,
        index,
        data,
    }
}

/// TOML datetimes have no place in a plan; they stay recognisable so a type error can say
/// "found a datetime" instead of pretending it was a string.
pub const DATETIME_MARKER: &str = "$__toml_private_datetime";

pub fn toml_to_value(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::from(s.clone()),
        toml::Value::Integer(i) => Value::Num(Tag::Default, Num::I64(*i)),
        toml::Value::Float(f) => Value::Num(Tag::Default, Num::F64(*f)),
        toml::Value::Boolean(b) => Value::Bool(Tag::Default, *b),
        toml::Value::Datetime(d) => {
            let mut dict = Dict::new();
            dict.insert(DATETIME_MARKER.to_owned(), Value::from(d.to_string()));
            Value::Dict(Tag::Default, dict)
        }
        toml::Value::Array(items) => {
            Value::Array(Tag::Default, items.iter().map(toml_to_value).collect())
        }
        toml::Value::Table(t) => Value::Dict(Tag::Default, table_to_dict(t)),
    }
}

fn table_to_dict(t: &toml::Table) -> Dict {
    t.iter()
        .map(|(k, v)| (k.clone(), toml_to_value(v)))
        .collect()
}

/// `base/../x` → `x`, without touching the file system (the file may not exist yet; the
/// display name should be the one a user would type).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let last = out.components().next_back();
                match last {
                    Some(Component::Normal(_)) => {
                        out.pop();
                    }
                    Some(Component::RootDir | Component::Prefix(_)) => {}
                    _ => out.push(".."),
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// What a value is, for "found …" in type errors.
pub fn describe(v: &Value) -> String {
    match v {
        Value::String(_, s) => {
            let shown: String = s.chars().take(40).collect();
            if shown.len() < s.len() {
                format!("the string \"{shown}…\"")
            } else {
                format!("the string {s:?}")
            }
        }
        Value::Char(_, c) => format!("the character {c:?}"),
        Value::Bool(_, b) => format!("`{b}`"),
        Value::Num(_, n) => match n.to_f64() {
            Some(f) => format!("the float {f}"),
            None => "an integer".to_owned(),
        },
        Value::Dict(_, d) if d.contains_key(DATETIME_MARKER) => "a datetime".to_owned(),
        Value::Dict(..) => "a table".to_owned(),
        Value::Array(..) => "an array".to_owned(),
        Value::Empty(..) => "nothing".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_masked_in_every_way_they_are_written_and_spans_stay() {
        let cases = [
            (
                "api_key = \"k3y-é\"\nrate = \"1/s\"",
                "api_key = \"******\"\nrate = \"1/s\"",
            ),
            ("\"api_key\" = 'k3y'", "\"api_key\" = '***'"),
            (
                "tmdb.api_key=\"\"\"k\n3\"\"\"",
                "tmdb.api_key=\"\"\"***\"\"\"",
            ),
            (
                "a = { api_key = \"k\\\"y\", rate = \"1/s\" }",
                "a = { api_key = \"****\", rate = \"1/s\" }",
            ),
            ("# api_key = \"old\"\nx = 1", "# api_key = \"***\"\nx = 1"),
            (
                "POPCTL_SOURCES__TMDB__API_KEY=k3y k3y",
                "POPCTL_SOURCES__TMDB__API_KEY=*******",
            ),
            (
                "sources.tmdb.api_key=12345678",
                "sources.tmdb.api_key=********",
            ),
            (
                "api_key = \"${TMDB_API_KEY}\"",
                "api_key = \"${TMDB_API_KEY}\"",
            ),
            ("api_key = \"${K:-dflt}x\"", "api_key = \"${K:-****}*\""),
            (
                "api_key = \"unterminated\nnext = 1",
                "api_key = \"************\nnext = 1",
            ),
            // Not assignments of an `api_key`.
            (
                "api_key_var = \"TMDB_API_KEY\"",
                "api_key_var = \"TMDB_API_KEY\"",
            ),
            ("rapi_key = \"x\"", "rapi_key = \"x\""),
            ("the api_key is unset", "the api_key is unset"),
        ];
        for (text, masked) in cases {
            assert_eq!(mask_api_keys(text), masked, "{text:?}");
            assert_eq!(mask_api_keys(text).len(), text.len(), "{text:?}");
        }
    }

    #[test]
    fn a_layers_source_is_masked_and_its_data_is_not() {
        let text = "[sources.tmdb]\napi_key = \"s3cr3t-k3y\"\nrate = 4\n";
        let l = layer(text);
        let tmdb = l.data["sources"].as_dict().unwrap()["tmdb"]
            .as_dict()
            .unwrap();
        assert_eq!(tmdb["api_key"].as_str(), Some("s3cr3t-k3y"));
        assert_eq!(snippet(&l, "sources.tmdb.api_key", false), "\"**********\"");
        assert_eq!(snippet(&l, "sources.tmdb.rate", false), "4");
        let set = override_layer(
            Origin::Set(0),
            "--set",
            "sources.tmdb.api_key=s3cr3t",
            &[
                ("sources".into(), 0..7),
                ("tmdb".into(), 8..12),
                ("api_key".into(), 13..20),
            ],
            21,
        );
        let tmdb = set.data["sources"].as_dict().unwrap()["tmdb"]
            .as_dict()
            .unwrap();
        assert_eq!(tmdb["api_key"].as_str(), Some("s3cr3t"));
        assert!(!set.source.inner().contains("s3cr3t"));
    }

    fn layer(text: &str) -> RawLayer {
        parse_file(Path::new("p.toml"), "p.toml", text).unwrap()
    }

    fn snippet(layer: &RawLayer, path: &str, key: bool) -> String {
        let path = KeyPath(
            path.split('.')
                .map(|s| match s.parse::<usize>() {
                    Ok(n) => Seg::Index(n),
                    Err(_) => Seg::Key(s.to_owned()),
                })
                .collect(),
        );
        let site = if key {
            layer.key_site(&path)
        } else {
            layer.value_site(&path)
        };
        site.map(|s| s.snippet().to_owned()).unwrap_or_default()
    }

    #[test]
    fn keys_values_headers_and_array_items_are_indexed() {
        let l = layer(
            "[stages.popular]\nkind = \"fetch\"\nappend = [\"credits\", \"videos\"]\nretry = { attempts = 2 }\n",
        );
        assert_eq!(snippet(&l, "stages.popular", true), "popular");
        assert_eq!(snippet(&l, "stages.popular", false), "[stages.popular]");
        assert_eq!(snippet(&l, "stages.popular.kind", false), "\"fetch\"");
        assert_eq!(snippet(&l, "stages.popular.append.1", false), "\"videos\"");
        assert_eq!(
            snippet(&l, "stages.popular.retry.attempts", true),
            "attempts"
        );
    }

    #[test]
    fn every_syntax_error_is_reported_with_a_span() {
        let errors = parse_file(Path::new("p.toml"), "p.toml", "a = \nb = 1\nc = ]\n").unwrap_err();
        assert!(!errors.is_empty());
        assert!(
            errors
                .iter()
                .all(|e| e.code == Code::Syntax && e.site.is_some())
        );
        let lines: Vec<usize> = errors
            .iter()
            .map(|e| e.site.as_ref().unwrap().line)
            .collect();
        assert_eq!(lines, vec![1, 3], "{errors:#?}");
    }

    #[test]
    fn a_duplicate_points_at_its_first_definition_too() {
        let first_line = |text: &str| {
            let errors = parse_file(Path::new("p.toml"), "p.toml", text).unwrap_err();
            assert_eq!(errors.len(), 1, "{errors:#?}");
            let e = &errors[0];
            let related: Vec<(usize, String)> =
                e.related.iter().map(|(s, l)| (s.line, l.clone())).collect();
            (e.message.clone(), e.site.as_ref().unwrap().line, related)
        };
        // A repeated table: its keys are not reported again.
        assert_eq!(
            first_line("[s.a]\nk = 1\n[s.b]\nk = 2\n[s.a]\nk = 3\n"),
            (
                "TOML syntax error: table `s.a` is defined twice".to_owned(),
                5,
                vec![(1, "first defined here".to_owned())]
            )
        );
        assert_eq!(
            first_line("[s.\"a b\"]\n x.y = 1\n\n x.y = 2\n"),
            (
                "TOML syntax error: key `s.\"a b\".x.y` is defined twice".to_owned(),
                4,
                vec![(2, "first defined here".to_owned())]
            )
        );
        // At the root, before any header, and after an array value broken over lines.
        assert_eq!(
            first_line("a = 1\na = 2\n").2,
            vec![(1, "first defined here".to_owned())]
        );
        assert_eq!(
            first_line("[t]\nv = [\n[1, 2],\n]\nv = 3\n").2,
            vec![(2, "first defined here".to_owned())]
        );
        // Inside an array of tables there is no path to look up: the plain error stays.
        let (message, _, related) = first_line("[[a]]\nb = 1\nb = 2\n");
        assert_eq!(
            (message.as_str(), related),
            ("TOML syntax error: duplicate key", vec![])
        );
    }

    #[test]
    fn integers_beyond_64_bits_are_a_syntax_error_not_a_panic() {
        let errors =
            parse_file(Path::new("p.toml"), "p.toml", "a = 99999999999999999999\n").unwrap_err();
        assert_eq!(errors[0].code, Code::Syntax);
    }

    #[test]
    fn override_values_keep_toml_types_or_fall_back_to_strings() {
        let keys = |t: &str| -> Vec<(String, Range<usize>)> {
            let mut at = 0;
            t.split('.')
                .map(|k| {
                    let r = at..at + k.len();
                    at += k.len() + 1;
                    (k.to_owned(), r)
                })
                .collect()
        };
        let l = override_layer(
            Origin::Set(0),
            "--set",
            "stages.p.pages=2",
            &keys("stages.p.pages"),
            15,
        );
        let v = &l.data["stages"].as_dict().unwrap()["p"].as_dict().unwrap()["pages"];
        assert_eq!(v.to_i128(), Some(2));
        let l = override_layer(
            Origin::Set(0),
            "--set",
            "sources.t.rate=40/s",
            &keys("sources.t.rate"),
            15,
        );
        let v = &l.data["sources"].as_dict().unwrap()["t"].as_dict().unwrap()["rate"];
        assert_eq!(v.as_str(), Some("40/s"));
        let text = "stages.p.append=[\"credits\", \"x\"]";
        let l = override_layer(Origin::Set(0), "--set", text, &keys("stages.p.append"), 16);
        assert_eq!(snippet(&l, "stages.p.append.1", false), "\"x\"");
        assert_eq!(snippet(&l, "stages.p", true), "p");
    }

    #[test]
    fn paths_display_like_toml_keys() {
        let p = KeyPath::root()
            .key("stages")
            .key("top rated")
            .key("append")
            .index(3);
        assert_eq!(p.to_string(), "stages.\"top rated\".append[3]");
    }

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(
            normalize(Path::new("examples/../plans/base.toml")),
            PathBuf::from("plans/base.toml")
        );
        assert_eq!(
            normalize(Path::new("./a/./b.toml")),
            PathBuf::from("a/b.toml")
        );
        assert_eq!(
            normalize(Path::new("../x.toml")),
            PathBuf::from("../x.toml")
        );
    }
}
