//! `${VAR}` interpolation inside plan strings.
//!
//! Syntax: `${VAR}`, `${VAR:-default}` (the default also applies when `VAR` is set but empty,
//! as in a shell) and `$$` for a literal `$`. Any other `$` is an error, so a password with a
//! `$` in a database URL can never be half-interpolated by accident.
//!
//! Expansion happens on parsed string values (never on raw TOML), and only in the fields the
//! compiler allows (`database.url`, `sources.*.api_key`, `sources.*.base_url`). Variables come
//! from an environment snapshot passed in by the caller, so tests never touch the process
//! environment.

use std::collections::BTreeMap;
use std::ops::Range;

/// A syntax error in an interpolated string; `span` is a byte range in the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub reason: String,
    pub span: Range<usize>,
}

/// A `${VAR}` without default whose variable is unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetVar {
    pub name: String,
    /// Byte range of the whole `${…}` in the string.
    pub span: Range<usize>,
}

/// The result of expanding one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    /// The expanded text; an unset variable without default stays as written (`${VAR}`).
    pub value: String,
    /// Every variable named, in order (set or not).
    pub vars: Vec<String>,
    pub unset: Vec<UnsetVar>,
}

impl Expansion {
    pub fn is_resolved(&self) -> bool {
        self.unset.is_empty()
    }
}

/// True when `text` contains any interpolation syntax (`${` or `$$`).
pub fn has_interpolation(text: &str) -> bool {
    text.contains('$')
}

/// Expands `text` against `env`.
pub fn expand(text: &str, env: &BTreeMap<String, String>) -> Result<Expansion, InterpolationError> {
    let mut out = Expansion {
        value: String::with_capacity(text.len()),
        vars: Vec::new(),
        unset: Vec::new(),
    };
    let mut rest = text;
    let mut offset = 0;
    while let Some(dollar) = rest.find('$') {
        out.value.push_str(&rest[..dollar]);
        let start = offset + dollar;
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.value.push('$');
            offset = start + 2;
            rest = tail;
            continue;
        }
        let Some(body_and_tail) = after.strip_prefix('{') else {
            return Err(InterpolationError {
                reason: "a lone `$`: write `$$` for a literal `$`, or `${VAR}` for a variable"
                    .into(),
                span: start..start + 1,
            });
        };
        let Some(close) = body_and_tail.find('}') else {
            return Err(InterpolationError {
                reason: "unclosed `${`: add a `}`".into(),
                span: start..text.len(),
            });
        };
        let body = &body_and_tail[..close];
        let end = start + 2 + close + 1;
        let (name, default) = match body.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (body, None),
        };
        check_name(name, start..end)?;
        out.vars.push(name.to_owned());
        let value = env.get(name).filter(|v| default.is_none() || !v.is_empty());
        match (value, default) {
            (Some(v), _) => out.value.push_str(v),
            (None, Some(d)) => out.value.push_str(d),
            (None, None) => {
                out.value.push_str(&text[start..end]);
                out.unset.push(UnsetVar {
                    name: name.to_owned(),
                    span: start..end,
                });
            }
        }
        offset = end;
        rest = &text[end..];
    }
    out.value.push_str(rest);
    Ok(out)
}

fn check_name(name: &str, span: Range<usize>) -> Result<(), InterpolationError> {
    if name.is_empty() {
        return Err(InterpolationError {
            reason: "empty variable name in `${}`".into(),
            span,
        });
    }
    let valid = name
        .chars()
        .enumerate()
        .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if !valid {
        let hint = if name.contains('-') || name.contains(':') {
            " (a default is written `${VAR:-default}`)"
        } else {
            ""
        };
        return Err(InterpolationError {
            reason: format!("`{name}` is not a variable name: use letters, digits and `_`{hint}"),
            span,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn plain_text_is_unchanged() {
        let e = expand("https://api.themoviedb.org/3", &env(&[])).unwrap();
        assert_eq!(e.value, "https://api.themoviedb.org/3");
        assert!(e.vars.is_empty() && e.is_resolved());
    }

    #[test]
    fn set_variables_and_defaults() {
        let vars = env(&[("KEY", "abc"), ("EMPTY", "")]);
        assert_eq!(expand("${KEY}", &vars).unwrap().value, "abc");
        assert_eq!(expand("k=${KEY}&x", &vars).unwrap().value, "k=abc&x");
        assert_eq!(
            expand("${NOPE:-sqlite://a.db?mode=rwc}", &vars)
                .unwrap()
                .value,
            "sqlite://a.db?mode=rwc"
        );
        assert_eq!(expand("${KEY:-other}", &vars).unwrap().value, "abc");
        // As in a shell, `:-` also replaces an empty value, a bare `${VAR}` keeps it empty.
        assert_eq!(expand("${EMPTY:-d}", &vars).unwrap().value, "d");
        assert_eq!(expand("[${EMPTY}]", &vars).unwrap().value, "[]");
        assert_eq!(expand("${NOPE:-}", &vars).unwrap().value, "");
        assert_eq!(
            expand("${KEY}${KEY}", &vars).unwrap().vars,
            vec!["KEY", "KEY"]
        );
    }

    #[test]
    fn double_dollar_is_a_literal_dollar() {
        let e = expand("pa$$word and $${KEY}", &env(&[("KEY", "x")])).unwrap();
        assert_eq!(e.value, "pa$word and ${KEY}");
        assert!(e.vars.is_empty());
    }

    #[test]
    fn unset_variable_stays_and_is_reported_with_its_span() {
        let e = expand("key=${TMDB_API_KEY}", &env(&[])).unwrap();
        assert_eq!(e.value, "key=${TMDB_API_KEY}");
        assert_eq!(
            e.unset,
            vec![UnsetVar {
                name: "TMDB_API_KEY".into(),
                span: 4..19
            }]
        );
        assert!(!e.is_resolved());
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        let bad = |t: &str| expand(t, &env(&[])).unwrap_err();
        assert_eq!(bad("a$b").span, 1..2);
        assert!(bad("a$b").reason.starts_with("a lone `$`"));
        assert_eq!(bad("x${KEY").span, 1..6);
        assert_eq!(bad("x${KEY").reason, "unclosed `${`: add a `}`");
        assert_eq!(bad("${}").reason, "empty variable name in `${}`");
        assert!(
            bad("${1X}")
                .reason
                .starts_with("`1X` is not a variable name")
        );
        assert!(bad("${A-b}").reason.contains("${VAR:-default}"));
        assert_eq!(bad("ok ${A B}").span, 3..9);
        assert!(bad("trailing $").reason.starts_with("a lone `$`"));
    }
}
