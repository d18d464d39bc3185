//! The JSON Schema of the plan format, for TOML editors (Taplo, Even Better TOML): completion,
//! hover docs and checks while typing.
//!
//! Drawn from the format's declaration in `keys`, which the compiler reads too, so the schema
//! cannot name a key the compiler refuses or miss one it reads. The compiler is what checks
//! plans; the schema only helps while typing (it cannot say, for example, that a duration must
//! be above zero or that `initial` may not exceed `max`).

use serde_json::{Map, Value, json};

use super::keys::{self, CodeKind, Elem, Key, Table, Ty};
use super::model::{IMDB_ID_PATTERN, STAGE_KINDS};

/// The JSON Schema (draft-07, which Taplo understands) of a plan file.
pub fn json_schema() -> Value {
    let mut root = table(&keys::TOP);
    if let Value::Object(o) = &mut root {
        o.insert(
            "$schema".into(),
            json!("http://json-schema.org/draft-07/schema#"),
        );
        o.insert("title".into(), json!("popctl plan"));
    }
    root
}

fn table(t: &Table) -> Value {
    let properties: Map<String, Value> =
        t.keys.iter().map(|k| (k.name.to_owned(), key(k))).collect();
    object(t.doc, properties)
}

fn object(doc: &str, properties: Map<String, Value>) -> Value {
    let mut o = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    });
    if !doc.is_empty() {
        o["description"] = json!(doc);
    }
    o
}

fn key(k: &Key) -> Value {
    let mut v = ty(&k.ty);
    let mut doc = k.doc.to_owned();
    if let Some(j) = k.default_value().and_then(|d| serde_json::to_value(d).ok()) {
        v["default"] = j;
    }
    if let Some(d) = k.default_text() {
        if !doc.is_empty() {
            doc.push_str(". ");
        }
        doc.push_str(&format!("Default: {d}."));
    }
    if let Some(unit) = v.get("description").and_then(Value::as_str) {
        doc = format!("{doc} {unit}").trim().to_owned();
    }
    if !doc.is_empty() {
        v["description"] = json!(doc);
    }
    v
}

fn ty(t: &Ty) -> Value {
    match t {
        Ty::Str | Ty::Interpolated | Ty::Path | Ty::Name => json!({ "type": "string" }),
        Ty::Bool => json!({ "type": "boolean" }),
        Ty::Int { min, max } => {
            let mut v =
                json!({ "type": "integer", "minimum": i64::try_from(*min).unwrap_or(i64::MIN) });
            if let Ok(max) = u32::try_from(*max) {
                v["maximum"] = json!(max);
            }
            v
        }
        Ty::Float {
            min,
            max,
            above_min,
        } => {
            let mut v = json!({ "type": "number" });
            v[if *above_min {
                "exclusiveMinimum"
            } else {
                "minimum"
            }] = json!(min);
            if max.is_finite() {
                v["maximum"] = json!(max);
            }
            v
        }
        Ty::Duration | Ty::PositiveDuration { .. } => json!({
            "type": "string",
            "pattern": "^\\s*[0-9]+(ms|s|m|h|d)\\s*$",
            "description": "A whole number and a unit: ms, s, m, h or d (\"500ms\", \"15s\", \"1d\")."
        }),
        Ty::Rate => json!({
            "type": "string",
            "pattern": "^\\s*[0-9]+\\s*/\\s*(ms|s|m|h|d|day|[0-9]+(ms|s|m|h|d))\\s*$",
            "description": "Requests per period: \"40/s\", \"300/10s\", \"1000/day\" (also /m, /h)."
        }),
        Ty::Size { .. } => json!({
            "anyOf": [
                { "type": "integer", "minimum": 1 },
                { "type": "string", "pattern": "^\\s*[0-9]+(B|KiB|MiB|GiB|kB|KB|MB|GB)\\s*$" }
            ]
        }),
        Ty::MaxFailures => json!({
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "number", "minimum": 0, "maximum": 1 },
                { "type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*%\\s*$" }
            ]
        }),
        Ty::Word(words) => json!({ "type": "string", "enum": words() }),
        Ty::Words { words, max } => {
            let mut v = json!({ "type": "array", "items": { "type": "string", "enum": words() } });
            if *max > 0 {
                v["maxItems"] = json!(max);
            }
            v
        }
        Ty::Names => json!({ "type": "array", "items": { "type": "string" } }),
        Ty::Strs => json!({ "type": "array", "items": { "type": "string", "minLength": 1 } }),
        Ty::Ids => json!({ "type": "array", "items": { "type": "integer", "minimum": 1 } }),
        Ty::ImdbIds => json!({
            "type": "array",
            "items": { "type": "string", "pattern": IMDB_ID_PATTERN }
        }),
        Ty::Date => json!({
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "description": "A date: \"YYYY-MM-DD\"."
        }),
        Ty::Code(CodeKind::Language) => json!({ "type": "string", "pattern": "^[a-z]{2}$" }),
        Ty::Code(CodeKind::Country) => json!({ "type": "string", "pattern": "^[A-Z]{2}$" }),
        Ty::Code(CodeKind::Locale) => {
            json!({ "type": "string", "pattern": "^[a-z]{2}(-[A-Z]{2})?$" })
        }
        Ty::AndOr(elem) => {
            let one = match elem {
                Elem::Id | Elem::Genre => json!({ "type": "integer", "minimum": 1 }),
                Elem::Int { min, max } => json!({
                    "type": "integer",
                    "minimum": i64::try_from(*min).unwrap_or(i64::MIN),
                    "maximum": i64::try_from(*max).unwrap_or(i64::MAX)
                }),
                Elem::Word(words) => json!({ "type": "string", "enum": words() }),
            };
            // A string element may hold alternatives (`a|b`), or a genre's name.
            json!({
                "type": "array",
                "minItems": 1,
                "items": { "anyOf": [one, { "type": "string", "minLength": 1 }] },
                "description": "An array is AND; alternatives joined by `|` in one string element are OR."
            })
        }
        Ty::ListId => json!({
            "anyOf": [
                { "type": "integer", "minimum": 1 },
                { "type": "string", "pattern": "^[0-9a-fA-F]+$" }
            ]
        }),
        Ty::Table(t) => table(t),
        Ty::Tables(t) => json!({ "type": "array", "minItems": 1, "items": table(t) }),
        Ty::Map(inner) => json!({ "type": "object", "additionalProperties": ty(inner) }),
        Ty::Stages => {
            let variants: Vec<Value> = STAGE_KINDS
                .iter()
                .map(|kind| {
                    let own = keys::of_kind(kind);
                    let mut properties: Map<String, Value> = Map::new();
                    for k in keys::STAGE.keys.iter().chain(own.keys) {
                        properties.insert(k.name.to_owned(), key(k));
                    }
                    properties.insert(keys::stage::KIND.name.to_owned(), json!({ "const": kind }));
                    let mut v = object(own.doc, properties);
                    v["required"] = json!([keys::stage::KIND.name]);
                    v
                })
                .collect();
            json!({ "type": "object", "additionalProperties": { "oneOf": variants } })
        }
        Ty::KindDefaults(kind) => {
            let mut properties: Map<String, Value> = Map::new();
            for k in keys::STAGE.keys.iter().chain(keys::of_kind(kind).keys) {
                if k.name != keys::stage::KIND.name {
                    properties.insert(k.name.to_owned(), key(k));
                }
            }
            object(
                &format!("Keys every `{kind}` stage starts from."),
                properties,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn props(node: &Value) -> BTreeSet<String> {
        node["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn stages_are_one_of_each_kind_with_the_common_keys() {
        let s = json_schema();
        assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(s["additionalProperties"], false);
        let variants = s["properties"]["stages"]["additionalProperties"]["oneOf"]
            .as_array()
            .unwrap();
        assert_eq!(variants.len(), STAGE_KINDS.len());
        for (v, kind) in variants.iter().zip(STAGE_KINDS) {
            assert_eq!(v["properties"]["kind"]["const"], *kind);
            assert_eq!(v["additionalProperties"], false);
            let p = props(v);
            assert!(p.contains("concurrency") && p.contains("needs"), "{kind}");
            for k in keys::of_kind(kind).keys {
                assert!(p.contains(k.name), "{kind}.{}", k.name);
            }
        }
        let fetch = &variants[2]["properties"];
        assert_eq!(fetch["pages"]["maximum"], 500);
        assert_eq!(fetch["append"]["maxItems"], 20);
        assert_eq!(fetch["pages"]["default"], 1);
        let timeout = &s["properties"]["sources"]["additionalProperties"]["properties"]["timeout"];
        assert_eq!(timeout["default"], "15s");
        assert!(!s.to_string().contains("\"null\""));
    }
}
