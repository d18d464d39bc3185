//! The JSON Schema of the plan format, for TOML editors (Taplo, Even Better TOML): completion,
//! hover docs and checks while typing.
//!
//! The types here only describe the format; the compiler (`compile`, `stage`) is what checks
//! plans. A test keeps the two in step: every table's properties equal the compiler's key
//! lists, and every enumeration equals the model's words.

// The types are never built: they exist for their derived schema.
#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::model::{
    APPEND_PARTS, Backoff, CacheMode, EnrichScope, ListKind, OnError, PostStep, ResetMode,
    ResetScope, SORT_BY, SeedSet, SourceKind,
};

/// A string from a fixed list of words.
macro_rules! word_schema {
    ($name:ident, $doc:literal, $words:expr) => {
        #[doc = $doc]
        struct $name;
        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let words: Vec<&str> = $words;
                json_schema!({ "type": "string", "enum": words, "description": $doc })
            }
        }
    };
}

word_schema!(
    SourceKindWord,
    "Which API a source speaks.",
    SourceKind::words()
);
word_schema!(ListWord, "A TMDB movie list.", ListKind::words());
word_schema!(
    ResetModeWord,
    "How a reset replaces the live data.",
    ResetMode::words()
);
word_schema!(
    ResetScopeWord,
    "What a reset may drop.",
    ResetScope::words()
);
word_schema!(
    AppendWord,
    "A TMDB `append_to_response` part.",
    APPEND_PARTS.to_vec()
);
word_schema!(
    SortByWord,
    "The order of discover results.",
    SORT_BY.to_vec()
);
word_schema!(
    ScopeWord,
    "Which movies an enrich stage looks up.",
    EnrichScope::words()
);
word_schema!(
    SeedSetWord,
    "A set of reference rows the seed stage writes.",
    SeedSet::words()
);
word_schema!(StepWord, "A post-process step.", PostStep::words());
word_schema!(
    OnErrorWord,
    "What a failed item does to its stage.",
    OnError::words()
);
word_schema!(
    BackoffWord,
    "How the pause between retries grows.",
    Backoff::words()
);
word_schema!(
    CacheModeWord,
    "How the HTTP response cache is used.",
    CacheMode::words()
);

/// "500ms", "15s", "2m", "1h", "1d".
struct DurationText;
impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^\\s*[0-9]+(ms|s|m|h|d)\\s*$",
            "description": "A whole number and a unit: ms, s, m, h or d (\"500ms\", \"15s\", \"1d\")."
        })
    }
}

/// "40/s", "300/10s", "1000/day".
struct RateText;
impl JsonSchema for RateText {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^\\s*[0-9]+\\s*/\\s*(ms|s|m|h|d|day|[0-9]+(ms|s|m|h|d))\\s*$",
            "description": "Requests per period: \"40/s\", \"300/10s\", \"1000/day\" (also /m, /h)."
        })
    }
}

/// "8MiB", "512KiB", or an integer of bytes.
struct SizeValue;
impl JsonSchema for SizeValue {
    fn schema_name() -> Cow<'static, str> {
        "Size".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Bytes: a whole number and a unit, B, KiB, MiB, GiB (or kB, MB, GB), like \"8MiB\"; or an integer of bytes.",
            "anyOf": [
                { "type": "integer", "minimum": 1 },
                { "type": "string", "pattern": "^\\s*[0-9]+(B|KiB|MiB|GiB|kB|KB|MB|GB)\\s*$" }
            ]
        })
    }
}

/// A count, a ratio or a percentage.
struct MaxFailuresValue;
impl JsonSchema for MaxFailuresValue {
    fn schema_name() -> Cow<'static, str> {
        "MaxFailures".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Failed items tolerated before the stage fails: a count (10), a ratio (0.05) or a percentage (\"5%\").",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "number", "minimum": 0, "maximum": 1 },
                { "type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*%$" }
            ]
        })
    }
}

/// A popctl plan: what to reset, seed, fetch from TMDB, enrich from OMDb and compute, as a DAG of
/// stages. See docs/plans.md.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "popctl plan")]
struct PlanFile {
    plan: Option<PlanTable>,
    database: Option<DatabaseTable>,
    /// API sources by name. `tmdb` and `omdb` are of their own kind; other names set `kind`.
    sources: Option<BTreeMap<String, SourceTable>>,
    defaults: Option<DefaultsTable>,
    /// The stages, by name. Each runs after the stages in its `needs`.
    stages: Option<BTreeMap<String, StageTable>>,
    data: Option<DataTable>,
    cache: Option<CacheTable>,
}

/// Name, description and the plan this one extends.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct PlanTable {
    /// The plan's name (default: the file name without `.toml`).
    name: Option<String>,
    description: Option<String>,
    /// A plan file to layer this one on, relative to this file. This plan's values win; tables
    /// merge; arrays replace.
    extends: Option<String>,
}

/// The database to repopulate.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct DatabaseTable {
    /// `sqlite://file.db?mode=rwc`, `sqlite::memory:` or `postgres://user@host/db`; `${VAR}`
    /// and `${VAR:-default}` are expanded (default: "sqlite://popctl-dev.db?mode=rwc").
    url: Option<String>,
    /// How long connecting may take before popctl gives up with an error naming the server
    /// (default: "10s").
    connect_timeout: Option<String>,
}

/// One API source: credentials, address, and the rate shared by every stage that uses it.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct SourceTable {
    /// Required unless the source is named `tmdb` or `omdb`.
    kind: Option<SourceKindWord>,
    /// Use `${TMDB_API_KEY}`: a literal key draws a warning (default: `${<NAME>_API_KEY}`).
    api_key: Option<String>,
    /// The API root (default: TMDB "https://api.themoviedb.org/3", OMDb "https://www.omdbapi.com").
    base_url: Option<String>,
    /// One budget for every stage using this source (default: TMDB "40/s", OMDb "5/s").
    rate: Option<RateText>,
    /// Per request (default "15s").
    timeout: Option<DurationText>,
    /// Requests the key allows per day; `validate` warns when a plan needs more.
    #[schemars(range(min = 1))]
    daily_quota: Option<u32>,
    /// The largest answer read; a bigger one fails its item unread, without retry (default:
    /// TMDB "8MiB", OMDb "1MiB").
    max_body: Option<SizeValue>,
    /// How long one request may wait out 429 answers, which do not count as tries; past it the
    /// item fails (default "10m").
    max_rate_limited_wait: Option<DurationText>,
    /// Keep each movie's answer body as received in `movie_raw_json` (default true); false
    /// keeps only the tables, a much smaller database.
    store_raw: Option<bool>,
}

/// Defaults every stage starts from.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct DefaultsTable {
    retry: Option<RetryTable>,
}

/// How a failed request is retried; a stage's `retry` overrides these field by field.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct RetryTable {
    /// Tries including the first (default 4).
    #[schemars(range(min = 1, max = 100))]
    attempts: Option<u32>,
    /// Default "exponential".
    backoff: Option<BackoffWord>,
    /// First pause (default "500ms").
    initial: Option<DurationText>,
    /// Longest pause (default "30s").
    max: Option<DurationText>,
    /// Randomise pauses (default true).
    jitter: Option<bool>,
}

/// Where seed files and curated lists live.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct DataTable {
    /// Relative to this plan file (default: `data` in the current directory).
    dir: Option<String>,
}

/// The HTTP response cache.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct CacheTable {
    /// Default "read-write".
    mode: Option<CacheModeWord>,
    /// Relative to this plan file (default: `.popctl/cache` in the current directory).
    dir: Option<String>,
    /// How long a cached answer stays fresh, per source name (default "1d").
    ttl: Option<BTreeMap<String, DurationText>>,
    /// How long a "not found" answer stays fresh (default "1d").
    negative_ttl: Option<DurationText>,
}

/// What every stage has.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct Common {
    /// Stages that must run first.
    needs: Option<Vec<String>>,
    /// Default true.
    enabled: Option<bool>,
    /// Requests in flight at once (default 4).
    #[schemars(range(min = 1, max = 256))]
    concurrency: Option<u32>,
    /// The least time between two requests of this stage (default "0ms").
    delay: Option<DurationText>,
    /// Overrides `[defaults.retry]` field by field.
    retry: Option<RetryTable>,
    /// Default "fail".
    on_error: Option<OnErrorWord>,
    max_failures: Option<MaxFailuresValue>,
    /// Start on upstream items as they arrive (default true) or wait for upstream stages.
    streaming: Option<bool>,
}

/// A stage: one of five kinds, chosen by `kind`.
#[derive(JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum StageTable {
    Reset(ResetTable),
    Seed(SeedTable),
    Fetch(FetchTable),
    Enrich(EnrichTable),
    PostProcess(PostProcessTable),
}

/// Replaces popctl's tables with fresh ones: by default a new database is built beside the
/// live one and swapped in when every stage has ended well.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct ResetTable {
    #[serde(flatten)]
    common: Common,
    /// Allow resetting a database that is not on this machine (default false).
    allow_remote: Option<bool>,
    /// "swap" (default): build beside the live data, swap at the end; "in_place": drop first.
    mode: Option<ResetModeWord>,
    /// "popctl" (default): drop only popctl's own tables; "database": every table.
    scope: Option<ResetScopeWord>,
}

/// Writes reference rows.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct SeedTable {
    #[serde(flatten)]
    common: Common,
    /// Default: all four.
    sets: Option<Vec<SeedSetWord>>,
}

/// Fetches movies from TMDB: exactly one of `list`, `ids` or `curated_list`.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct FetchTable {
    #[serde(flatten)]
    common: Common,
    /// A TMDB source (default "tmdb").
    source: Option<String>,
    list: Option<ListWord>,
    /// Pages of the list, 20 movies each (default 1).
    #[schemars(range(min = 1, max = 500))]
    pages: Option<u32>,
    /// Exactly these TMDB movie ids.
    ids: Option<Vec<u64>>,
    /// Exactly the movies of `<data.dir>/lists/<name>.toml`.
    curated_list: Option<String>,
    /// `append_to_response` parts, at most 20.
    #[schemars(length(max = 20))]
    append: Option<Vec<AppendWord>>,
    /// Discover only.
    sort_by: Option<SortByWord>,
    /// Discover only.
    #[schemars(range(min = 1870, max = 2100))]
    primary_release_year: Option<u16>,
    /// Discover only: TMDB genre ids.
    with_genres: Option<Vec<u32>>,
    /// Discover only.
    vote_count_gte: Option<u32>,
}

/// Adds OMDb data to movies.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct EnrichTable {
    #[serde(flatten)]
    common: Common,
    /// An OMDb source (default "omdb").
    source: Option<String>,
    /// Default "upstream": the movies of upstream fetch stages.
    scope: Option<ScopeWord>,
    /// Ask again for movies OMDb had no data for (default false).
    retry_no_data: Option<bool>,
}

/// Computes derived data.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct PostProcessTable {
    #[serde(flatten)]
    common: Common,
    /// Default: all four, in this order.
    steps: Option<Vec<StepWord>>,
    cultural_lists: Option<CulturalListsTable>,
    cri: Option<CriTable>,
    recommendations: Option<RecommendationsTable>,
    reviews: Option<ReviewsTable>,
}

/// Settings of the `cultural_lists` step.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct CulturalListsTable {
    /// List names in `<data.dir>/lists` (default: every list there).
    lists: Option<Vec<String>>,
}

/// Settings of the `cri_scores` step.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct CriTable {
    weights: Option<CriWeightsTable>,
    /// Default 1000000.
    #[schemars(range(min = 1))]
    imdb_votes_full: Option<u64>,
    /// Default 20000.
    #[schemars(range(min = 1))]
    tmdb_votes_full: Option<u64>,
    /// Default 100.0.
    #[schemars(range(min = 0))]
    popularity_full: Option<f64>,
    /// Default 25.
    #[schemars(range(min = 1, max = 200))]
    classic_age_years: Option<u32>,
}

/// Each ≥ 0 (default 0.2), sum > 0.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct CriWeightsTable {
    #[schemars(range(min = 0))]
    timelessness: Option<f64>,
    #[schemars(range(min = 0))]
    cultural_penetration: Option<f64>,
    #[schemars(range(min = 0))]
    artistic_impact: Option<f64>,
    #[schemars(range(min = 0))]
    institutional_recognition: Option<f64>,
    #[schemars(range(min = 0))]
    public_reception: Option<f64>,
}

/// Settings of the `recommendations` step.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct RecommendationsTable {
    /// Default 10.
    #[schemars(range(min = 1, max = 100))]
    top_n: Option<u32>,
    /// Default 0.05.
    #[schemars(range(min = 0, max = 1))]
    min_score: Option<f64>,
    weights: Option<RecommendationWeightsTable>,
}

/// Each ≥ 0, sum > 0 (defaults 0.3, 0.3, 0.25, 0.15).
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct RecommendationWeightsTable {
    #[schemars(range(min = 0))]
    genres: Option<f64>,
    #[schemars(range(min = 0))]
    keywords: Option<f64>,
    #[schemars(range(min = 0))]
    cast: Option<f64>,
    #[schemars(range(min = 0))]
    crew: Option<f64>,
}

/// Settings of the `reviews` step.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReviewsTable {
    /// Default 5.
    #[schemars(range(min = 0, max = 100))]
    per_movie: Option<u32>,
}

/// The JSON Schema (draft-07, which Taplo understands) of a plan file.
pub fn json_schema() -> serde_json::Value {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<PlanFile>();
    let mut value = schema.to_value();
    strip_null(&mut value);
    value
}

/// TOML has no null: `Option` fields are optional keys, not nullable values.
fn strip_null(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(obj) => {
            if let Some(serde_json::Value::Array(types)) = obj.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    obj.insert("type".to_owned(), only);
                }
            }
            let null = serde_json::json!({ "type": "null" });
            if let Some(serde_json::Value::Array(options)) = obj.get_mut("anyOf") {
                options.retain(|o| *o != null);
                if options.len() == 1 {
                    let only = options.remove(0);
                    obj.remove("anyOf");
                    if let serde_json::Value::Object(inner) = only {
                        obj.extend(inner);
                    }
                }
            }
            for (_, child) in obj.iter_mut() {
                strip_null(child);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::compile::keys;
    use crate::plan::model::STAGE_KINDS;
    use std::collections::BTreeSet;

    fn props<'a>(schema: &'a serde_json::Value, node: &'a serde_json::Value) -> BTreeSet<String> {
        let node = resolve(schema, node);
        node["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn resolve<'a>(
        schema: &'a serde_json::Value,
        node: &'a serde_json::Value,
    ) -> &'a serde_json::Value {
        match node.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or_default();
                resolve(schema, &schema["definitions"][name])
            }
            None => node,
        }
    }

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn schema_tables_have_exactly_the_compilers_keys() {
        let s = json_schema();
        assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(props(&s, &s), set(keys::TOP));
        let p = &s["properties"];
        assert_eq!(props(&s, &p["plan"]), set(keys::PLAN));
        assert_eq!(props(&s, &p["database"]), set(keys::DATABASE));
        assert_eq!(props(&s, &p["data"]), set(keys::DATA));
        assert_eq!(props(&s, &p["cache"]), set(keys::CACHE));
        assert_eq!(props(&s, &p["defaults"]), set(keys::DEFAULTS));
        let retry = &resolve(&s, &p["defaults"])["properties"]["retry"];
        assert_eq!(props(&s, retry), set(keys::RETRY));
        let source = &resolve(&s, &p["sources"])["additionalProperties"];
        assert_eq!(props(&s, source), set(keys::SOURCE));

        let stage = resolve(&s, &resolve(&s, &p["stages"])["additionalProperties"]);
        let variants = stage["oneOf"].as_array().unwrap();
        assert_eq!(variants.len(), STAGE_KINDS.len());
        for v in variants {
            let v = resolve(&s, v);
            let kind = v["properties"]["kind"]["const"].as_str().unwrap();
            assert!(STAGE_KINDS.contains(&kind));
            let mut expected = set(keys::STAGE);
            expected.extend(set(keys::of_kind(kind)));
            assert_eq!(props(&s, v), expected, "stage kind {kind}");
            assert_eq!(v["additionalProperties"], false, "stage kind {kind}");
        }
        let post = variants
            .iter()
            .map(|v| resolve(&s, v))
            .find(|v| v["properties"]["kind"]["const"] == "post_process")
            .unwrap();
        let pp = &post["properties"];
        assert_eq!(props(&s, &pp["cri"]), set(keys::CRI));
        assert_eq!(
            props(&s, &resolve(&s, &pp["cri"])["properties"]["weights"]),
            set(keys::CRI_WEIGHTS)
        );
        assert_eq!(
            props(&s, &pp["recommendations"]),
            set(keys::RECOMMENDATIONS)
        );
        assert_eq!(
            props(
                &s,
                &resolve(&s, &pp["recommendations"])["properties"]["weights"]
            ),
            set(keys::RECOMMENDATION_WEIGHTS)
        );
        assert_eq!(props(&s, &pp["reviews"]), set(keys::REVIEWS));
        assert_eq!(props(&s, &pp["cultural_lists"]), set(keys::CULTURAL_LISTS));
    }

    #[test]
    fn word_lists_come_from_the_model_and_no_field_is_nullable() {
        let s = json_schema();
        assert_eq!(
            s["definitions"]["ListWord"]["enum"],
            serde_json::json!(ListKind::words())
        );
        assert_eq!(
            s["definitions"]["AppendWord"]["enum"],
            serde_json::json!(APPEND_PARTS)
        );
        assert!(!s.to_string().contains("\"null\""));
    }
}
