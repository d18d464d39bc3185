//! Serde helpers for upstream numbers that are sometimes strings (`"popularity":"93.49"` in old
//! TMDB bodies) and for the error type both mappings share.

use serde::{Deserialize, Deserializer};

/// Why an upstream body could not become a bundle or record: what and where.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum MappingError {
    #[error("{what}: not JSON: {reason}")]
    #[diagnostic(code(popctl::mapping::not_json))]
    NotJson { what: String, reason: String },
    #[error("{what}: at `{path}`: {reason}")]
    #[diagnostic(code(popctl::mapping::shape))]
    Shape {
        what: String,
        path: String,
        reason: String,
    },
    #[error("{what}: `{field}` = {value:?}: {reason}")]
    #[diagnostic(code(popctl::mapping::value))]
    Value {
        what: String,
        field: String,
        value: String,
        reason: String,
    },
}

/// Deserializes `body` as `T`, naming the JSON path of the first mismatch.
pub(crate) fn from_body<'de, T: Deserialize<'de>>(
    what: &str,
    body: &'de [u8],
) -> Result<T, MappingError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            MappingError::NotJson {
                what: what.to_owned(),
                reason: inner.to_string(),
            }
        } else {
            MappingError::Shape {
                what: what.to_owned(),
                path,
                reason: inner.to_string(),
            }
        }
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrString {
    Int(i64),
    Float(f64),
    Str(String),
}

/// A number given as a JSON number or a numeric string; `null` and `""` are `None`.
pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match Option::<NumOrString>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrString::Int(i)) => Ok(Some(i as f64)),
        Some(NumOrString::Float(f)) => Ok(Some(f)),
        Some(NumOrString::Str(s)) if s.trim().is_empty() => Ok(None),
        Some(NumOrString::Str(s)) => s
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("expected a number, got {s:?}"))),
    }
}

/// An integer given as a JSON number (integral) or a numeric string; `null` and `""` are `None`.
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<NumOrString>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrString::Int(i)) => Ok(Some(i)),
        Some(NumOrString::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        Some(NumOrString::Float(f)) => Err(serde::de::Error::custom(format!(
            "expected an integer, got {f}"
        ))),
        Some(NumOrString::Str(s)) if s.trim().is_empty() => Ok(None),
        Some(NumOrString::Str(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("expected an integer, got {s:?}"))),
    }
}

/// An id that must be there, as a number or a numeric string.
pub(crate) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    opt_i64(d)?.ok_or_else(|| serde::de::Error::custom("expected an id, got null"))
}

/// `""` and whitespace-only strings as `None`.
pub(crate) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}
