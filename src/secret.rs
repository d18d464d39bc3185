//! Secrets (API keys, database passwords) and the one path that keeps them out of output.
//!
//! A [`Secret`] or [`SecretUrl`] never formats its value: `Debug` and `Display` show
//! [`MASK`], and the value is read only through `expose`, where it is sent (the HTTP request,
//! the database connection). Making one registers its value, so [`redact`] removes it from
//! every text that leaves the process afterwards: log lines, panic messages, diagnostics, the
//! run report (its file and its `import_runs` row), and [`leaks`] keeps it out of anything
//! stored (the response cache, raw bodies).
//!
//! A value shorter than [`MIN_REDACTED_LEN`] is still a secret (never formatted), but is not
//! searched for in text: replacing every `y` of a one-letter key would mangle every line
//! (`peak_rss_b***tes`) and hide nothing.

use std::borrow::Cow;
use std::fmt;
use std::sync::RwLock;

/// What a secret is shown as.
pub const MASK: &str = "***";

/// The shortest value searched for in text by [`redact`] and [`leaks`].
pub const MIN_REDACTED_LEN: usize = 8;

/// Every registered value, longest first so a value containing another is replaced whole.
static REGISTRY: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Keeps `value` out of every text passed to [`redact`] from now on, if it is long enough to
/// be told apart from ordinary text.
fn register(value: &str) {
    if value.chars().count() < MIN_REDACTED_LEN {
        return;
    }
    let mut known = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|s| s == value) {
        known.push(value.to_owned());
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every registered secret replaced by [`MASK`]; borrowed when there was none.
pub fn redact(text: &str) -> Cow<'_, str> {
    let known = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for s in known.iter() {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), MASK));
        }
    }
    out
}

/// True when `bytes` hold a registered secret: such a body must not be stored.
pub fn leaks(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let known = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    known.iter().any(|s| text.contains(s.as_str()))
}

/// `value` with every string in it passed through [`redact`] (keys included).
pub fn redact_json(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(redact(&s).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(redact_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (redact(&k).into_owned(), redact_json(v)))
                .collect(),
        ),
        other => other,
    }
}

/// `url` as shown to people: its password (user info or `password=` parameter) replaced by
/// [`MASK`], whatever its length, then any registered secret.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return redact(url).into_owned();
    };
    let mut changed = false;
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(MASK));
        changed = true;
    }
    // libpq and sqlx also take the password as a query parameter.
    if parsed.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" { MASK.into() } else { v };
                (k.into_owned(), v.into_owned())
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
        changed = true;
    }
    if changed {
        redact(parsed.as_str()).into_owned()
    } else {
        redact(url).into_owned()
    }
}

/// The password in `url`, if it has one (user info or `password=` parameter).
fn url_password(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    if let Some(p) = parsed.password() {
        let decoded = percent_decode(p);
        return Some(decoded);
    }
    parsed
        .query_pairs()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.into_owned())
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("p={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// An API key or password: formatted only as [`MASK`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        Secret(value)
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// A URL that may hold a password (a database URL): formatted with the password masked
/// ([`redact_url`]).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        if let Some(password) = url_password(&url) {
            register(&password);
        }
        SecretUrl(url)
    }

    /// The URL with its password, for the one place that connects.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", redact_url(&self.0))
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl<'de> serde::Deserialize<'de> for SecretUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretUrl::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_format_and_are_redacted_from_text() {
        let key = Secret::new("k3y-secret-module-test");
        assert_eq!(format!("{key} {key:?}"), "*** Secret(***)");
        assert_eq!(key.expose(), "k3y-secret-module-test");
        assert_eq!(
            redact("GET /movie/1?api_key=k3y-secret-module-test&x=1"),
            "GET /movie/1?api_key=***&x=1"
        );
        assert!(matches!(redact("nothing to hide"), Cow::Borrowed(_)));
        assert!(leaks(b"{\"echo\":\"k3y-secret-module-test\"}"));
        assert!(!leaks(b"{\"echo\":\"k3y\"}"));
    }

    #[test]
    fn a_short_value_stays_secret_but_does_not_mangle_text() {
        let key = Secret::new("y");
        assert_eq!(format!("{key}"), MASK);
        assert_eq!(redact("peak_rss_bytes"), "peak_rss_bytes");
        assert!(!leaks(b"yes"));
    }

    #[test]
    fn urls_show_no_password() {
        assert_eq!(
            redact_url("postgres://me:s3cret@db.example.com/prod"),
            "postgres://me:***@db.example.com/prod"
        );
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            redact_url("postgres://me@db/prod?sslmode=require&password=s3cret"),
            "postgres://me@db/prod?sslmode=require&password=***"
        );
        let url = SecretUrl::new("postgres://me:pa%24%24word-in-url@db/prod");
        assert_eq!(url.to_string(), "postgres://me:***@db/prod");
        assert_eq!(format!("{url:?}"), "SecretUrl(postgres://me:***@db/prod)");
        assert_eq!(redact("login pa$$word-in-url failed"), "login *** failed");
    }

    #[test]
    fn json_strings_and_keys_are_redacted() {
        Secret::new("json-secret-value-1");
        let v =
            serde_json::json!({"a": ["x json-secret-value-1 y", 3], "json-secret-value-1": true});
        assert_eq!(
            redact_json(v),
            serde_json::json!({"a": ["x *** y", 3], "***": true})
        );
    }
}
