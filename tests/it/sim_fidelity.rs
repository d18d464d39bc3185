//! Fidelity: the sandbox's bodies have the shape of the real ones recorded in
//! `tests/fixtures`.
//!
//! A body's *shape* is the set of its key paths (`$.credits.cast[].name`) with the JSON types
//! seen at each (`null`, `bool`, `int`, `float`, `string`, `array`, `object`). For each kind of
//! body (details, each appended part, each standalone part, each list, configuration, genres,
//! changes, find, OMDb movie and search, every error) the real recordings of that kind are
//! compared with sandbox bodies of the same kind:
//!
//! - **Nothing invented.** Every path the sandbox emits appears in at least one recording of
//!   the same resource, with a type some recording has there. An `int` is accepted where
//!   recordings have `float` (TMDB prints `7.0` as `7`), not the other way round.
//!   "The same resource" pools what TMDB serves in several places: a standalone part with the
//!   same part appended to details, and a movie list item in any list, recommendations,
//!   similar or `find` page (so a field seen only in 2026 list recordings may appear in every list).
//! - **Null only where real data has null.** `null` is accepted where a recording of the same
//!   API has `null` under the same key name (`poster_path` is null in some similar results,
//!   `imdb_id` in some details, so they may be null in a list page or in `external_ids`).
//! - **Nothing missing.** A path is required when *every* recording that has its parent has
//!   it (for array items: every recording whose array is non-empty). So fields only old bodies
//!   have (`releases`, 2019's missing `success`) and fields only new bodies have are not
//!   required by this rule: old-only fields are rightly absent from a simulator of today's API.
//! - **Newest fields.** Fields that only recent recordings have are the current API, so the
//!   short lists `NEWEST_*` below require them explicitly (`origin_country`, OMDb's `Ratings`…).
//! - **Countries are keys.** An object key that is a country code (`watch/providers` maps each
//!   country to its offers) stands for any country: `$.results.{country}.link`.
//!
//! Parts the sandbox does not serve (`lists`, `account_states`, legacy
//! `releases`/`trailers`/`similar_movies`, search, trending, TV) are left out; the kinds that
//! have no recording (the 429 and status-27 bodies) are checked field by field in `sim.rs`.

// Test helpers panic with the failure in hand, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use popctl::sim::{Faults, Part, Sandbox, SandboxConfig};
use serde_json::Value;

use super::sim::{client, get_json, omdb, sandbox_with, tmdb};
use super::support::fixtures_dir;

type Shape = BTreeMap<String, BTreeSet<&'static str>>;

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn shape_into(v: &Value, path: &str, out: &mut Shape) {
    out.entry(path.to_string()).or_default().insert(type_of(v));
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                // Country codes are a map's keys, not fields (`watch/providers` results): any
                // country stands for every other.
                let country = k.len() == 2 && k.bytes().all(|b| b.is_ascii_uppercase());
                let k = if country { "{country}" } else { k.as_str() };
                shape_into(x, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for x in items {
                shape_into(x, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

fn shape(v: &Value) -> Shape {
    let mut s = Shape::new();
    shape_into(v, "$", &mut s);
    s
}

fn parent(path: &str) -> &str {
    if let Some(p) = path.strip_suffix("[]") {
        return p;
    }
    path.rfind('.').map_or("$", |i| &path[..i])
}

/// What a comparison may draw on besides the recordings of the kind itself.
#[derive(Default)]
struct Pool<'a> {
    /// Recordings of the same resource served elsewhere: they widen what is allowed, not
    /// what is required.
    also: &'a [Value],
    /// Key names that are `null` somewhere in the API's recordings.
    nullable: Option<&'a BTreeSet<String>>,
}

impl<'a> Pool<'a> {
    fn new(also: &'a [Value], nullable: &'a BTreeSet<String>) -> Self {
        Pool {
            also,
            nullable: Some(nullable),
        }
    }
}

fn union_of(shapes: impl IntoIterator<Item = Shape>) -> Shape {
    let mut union = Shape::new();
    for s in shapes {
        for (p, t) in s {
            union.entry(p).or_default().extend(t);
        }
    }
    union
}

fn leaf(path: &str) -> &str {
    let p = path.trim_end_matches("[]");
    p.rfind('.').map_or(p, |i| &p[i + 1..])
}

/// Compares sandbox bodies with recordings of one kind; returns the problems found.
fn compare(kind: &str, real: &[Value], sim: &[Value], newest: &[&str], pool: &Pool) -> Vec<String> {
    assert!(!real.is_empty(), "{kind}: no recordings to compare with");
    assert!(!sim.is_empty(), "{kind}: no sandbox bodies to compare");
    let real_shapes: Vec<Shape> = real.iter().map(shape).collect();
    let union = union_of(
        real_shapes
            .iter()
            .cloned()
            .chain(pool.also.iter().map(shape)),
    );
    let ours = union_of(sim.iter().map(shape));
    let mut problems = Vec::new();
    for (path, types) in &ours {
        let Some(allowed) = union.get(path) else {
            problems.push(format!("{kind}: {path} is in no recording"));
            continue;
        };
        for t in types {
            let ok = allowed.contains(t)
                || (*t == "int" && allowed.contains("float"))
                || (*t == "null" && pool.nullable.is_some_and(|n| n.contains(leaf(path))));
            if !ok {
                problems.push(format!(
                    "{kind}: {path} is {t} here, recordings have {allowed:?}"
                ));
            }
        }
    }
    for path in union.keys() {
        let par = parent(path);
        let in_kind = real_shapes.iter().any(|s| s.contains_key(path));
        let required = in_kind
            && real_shapes
                .iter()
                .all(|s| !s.contains_key(par) || s.contains_key(path));
        if (required && ours.contains_key(par) || newest.contains(&path.as_str()))
            && !ours.contains_key(path)
        {
            problems.push(format!("{kind}: {path} is missing"));
        }
    }
    problems
}

/// Key names that are `null` somewhere under `sub` (every recording of one API).
fn nullable_keys(dir: &Path, sub: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut stack = vec![dir.join(sub)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "json") {
                let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                for (path, types) in shape(&v) {
                    if types.contains("null") {
                        keys.insert(leaf(&path).to_string());
                    }
                }
            }
        }
    }
    keys
}

fn read(dir: &Path, sub: &str, name_has: &[&str]) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
        .unwrap_or_else(|e| panic!("{sub}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.ends_with(".json") && name_has.iter().any(|n| name.contains(n))
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no fixture in {sub} whose name has one of {name_has:?}"
    );
    files
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// Keys of appended parts in recorded details bodies (served or not).
const PART_KEYS: &[&str] = &[
    "account_states",
    "alternative_titles",
    "changes",
    "credits",
    "external_ids",
    "images",
    "keywords",
    "lists",
    "recommendations",
    "release_dates",
    "releases",
    "reviews",
    "similar",
    "similar_movies",
    "trailers",
    "translations",
    "videos",
    "watch/providers",
];

const NEWEST_DETAILS: &[&str] = &[
    "$.origin_country",
    "$.original_language",
    "$.spoken_languages[].english_name",
    "$.video",
];

const NEWEST_OMDB: &[&str] = &[
    "$.Ratings",
    "$.Ratings[].Source",
    "$.Ratings[].Value",
    "$.DVD",
    "$.BoxOffice",
    "$.Production",
    "$.Website",
];

async fn start() -> Sandbox {
    sandbox_with(SandboxConfig {
        seed: 21,
        movies: 3_000,
        ..SandboxConfig::default()
    })
    .await
}

/// Sample movies covering the catalog's variety: the most popular ones (with reviews,
/// videos, collections) and the quirky ones (no IMDb id, no date, no runtime, no poster).
fn sample(s: &Sandbox) -> Vec<u32> {
    let cat = s.catalog();
    let mut ids: Vec<u32> = cat.list_ids(popctl::sim::ListKind::Popular)[..40].to_vec();
    let quirks: [&dyn Fn(&popctl::sim::model::Movie) -> bool; 5] = [
        &|m| m.imdb_id.is_none(),
        &|m| m.release_date.is_empty(),
        &|m| m.runtime == 0,
        &|m| m.poster_path.is_none(),
        &|m| m.belongs_to_collection.is_some(),
    ];
    for quirk in quirks {
        ids.extend(
            cat.entries()
                .iter()
                .filter(|e| quirk(&cat.movie(e.id).unwrap()))
                .take(3)
                .map(|e| e.id),
        );
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn report(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} shape differences from the recordings:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Recording file names of standalone parts contain the part's name (`550-credits__c-eg`).
fn standalone_recordings(dir: &Path, part: Part) -> Vec<Value> {
    let names: &[&str] = match part {
        Part::Changes => &["-changes"],
        Part::Translations => &["-translations"],
        Part::WatchProviders => &["-watch_providers"],
        other => &[other.name()],
    };
    read(dir, "tmdb/movie_parts", names)
}

/// Every recording of `part`, appended to details or on its own; for recommendations and
/// similar also every list page (the same movie list item).
fn same_resource(dir: &Path, details: &[Value], part: Part) -> Vec<Value> {
    let parts: &[Part] = match part {
        Part::Recommendations | Part::Similar => &[Part::Recommendations, Part::Similar],
        _ => &[part],
    };
    let mut all = Vec::new();
    for &p in parts {
        all.extend(details.iter().filter_map(|v| v.get(p.name()).cloned()));
        all.extend(standalone_recordings(dir, p));
    }
    if parts.len() > 1 {
        all.extend(read(dir, "tmdb/lists", &[""]));
    }
    all
}

/// Compares a part (appended or standalone) with its recordings, pooled with the recordings
/// of the same resource elsewhere.
fn compare_part(
    dir: &Path,
    details: &[Value],
    part: Part,
    kind: &str,
    real: &[Value],
    ours: &[Value],
    nullable: &BTreeSet<String>,
) -> Vec<String> {
    let also = same_resource(dir, details, part);
    compare(kind, real, ours, &[], &Pool::new(&also, nullable))
}

#[tokio::test]
async fn details_and_every_appended_part_have_the_recorded_shapes() {
    let dir = fixtures_dir();
    let s = start().await;
    let c = client();
    let nullable = nullable_keys(&dir, "tmdb");
    let recorded = read(&dir, "tmdb/movie_details", &[""]);
    let all_parts = Part::ALL.map(|p| p.name()).join(",");
    let mut plain = Vec::new();
    let mut appended = Vec::new();
    for id in sample(&s) {
        let (status, v) = get_json(&c, &tmdb(&s, &format!("movie/{id}"))).await;
        assert_eq!(status, 200);
        plain.push(v);
        let (status, v) = get_json(
            &c,
            &tmdb(&s, &format!("movie/{id}?append_to_response={all_parts}")),
        )
        .await;
        assert_eq!(status, 200);
        appended.push(v);
    }
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Value::Object(m) = &mut v {
            for k in PART_KEYS {
                m.remove(*k);
            }
        }
        v
    };
    let core: Vec<Value> = recorded.iter().map(strip).collect();
    let pool = Pool::new(&[], &nullable);
    let mut problems = compare("details", &core, &plain, NEWEST_DETAILS, &pool);
    let appended_core: Vec<Value> = appended.iter().map(strip).collect();
    problems.extend(compare(
        "details",
        &core,
        &appended_core,
        NEWEST_DETAILS,
        &pool,
    ));
    for part in Part::ALL {
        let name = part.name();
        let real: Vec<Value> = recorded
            .iter()
            .filter_map(|v| v.get(name).cloned())
            .collect();
        let ours: Vec<Value> = appended.iter().map(|v| v[name].clone()).collect();
        let kind = format!("appended {name}");
        problems.extend(compare_part(
            &dir, &recorded, part, &kind, &real, &ours, &nullable,
        ));
    }
    report(problems);
    s.shutdown().await;
}

#[tokio::test]
async fn standalone_parts_have_the_recorded_shapes() {
    let dir = fixtures_dir();
    let s = start().await;
    let c = client();
    let nullable = nullable_keys(&dir, "tmdb");
    let details = read(&dir, "tmdb/movie_details", &[""]);
    let ids = sample(&s);
    let mut problems = Vec::new();
    for part in Part::ALL {
        let real = standalone_recordings(&dir, part);
        if real.is_empty() {
            // No standalone recording (translations): the appended comparison covers it.
            continue;
        }
        let mut ours = Vec::new();
        for id in &ids {
            // A two-week window, so some sample movies have changes to show.
            let query = if part == Part::Changes {
                "?start_date=2025-06-01&end_date=2025-06-15"
            } else {
                ""
            };
            let (status, v) =
                get_json(&c, &tmdb(&s, &format!("movie/{id}/{}{query}", part.name()))).await;
            assert_eq!(status, 200);
            ours.push(v);
        }
        let kind = format!("movie/{{id}}/{}", part.name());
        problems.extend(compare_part(
            &dir, &details, part, &kind, &real, &ours, &nullable,
        ));
    }
    report(problems);
    s.shutdown().await;
}

#[tokio::test]
async fn lists_and_meta_endpoints_have_the_recorded_shapes() {
    let dir = fixtures_dir();
    let s = start().await;
    let c = client();
    let imdb: Vec<String> = s
        .catalog()
        .entries()
        .iter()
        .filter_map(|e| e.imdb_id.clone())
        .take(5)
        .collect();
    let nullable = nullable_keys(&dir, "tmdb");
    let lists = read(&dir, "tmdb/lists", &[""]);
    let mut problems = Vec::new();
    let kinds: Vec<(&str, &str, &[&str], Vec<String>)> = vec![
        (
            "popular",
            "tmdb/lists",
            &["popular"],
            vec!["movie/popular".into(), "movie/popular?page=2".into()],
        ),
        (
            "top_rated",
            "tmdb/lists",
            &["top_rated"],
            vec!["movie/top_rated".into()],
        ),
        (
            "now_playing",
            "tmdb/lists",
            &["now_playing"],
            vec!["movie/now_playing".into()],
        ),
        (
            "upcoming",
            "tmdb/lists",
            &["upcoming"],
            vec!["movie/upcoming".into()],
        ),
        (
            "discover",
            "tmdb/lists",
            &["discover"],
            vec![
                "discover/movie".into(),
                "discover/movie?sort_by=vote_average.desc&vote_count.gte=100".into(),
            ],
        ),
        (
            "configuration",
            "tmdb/meta",
            &["configuration"],
            vec!["configuration".into()],
        ),
        (
            "genres",
            "tmdb/meta",
            &["genre"],
            vec!["genre/movie/list".into()],
        ),
        (
            "movie/changes",
            "tmdb/meta",
            &["movie_changes"],
            vec!["movie/changes".into(), "movie/changes?page=2".into()],
        ),
        (
            "find",
            "tmdb/meta",
            &["find_"],
            imdb.iter()
                .map(|i| format!("find/{i}?external_source=imdb_id"))
                .collect(),
        ),
    ];
    for (kind, sub, names, paths) in kinds {
        let real = read(&dir, sub, names);
        let mut ours = Vec::new();
        for path in paths {
            let (status, v) = get_json(&c, &tmdb(&s, &path)).await;
            assert_eq!(status, 200, "{path}");
            ours.push(v);
        }
        // Every list page holds the same movie item as the others.
        let also: Vec<Value> = match (sub, kind) {
            ("tmdb/lists", _) => lists.clone(),
            (_, "find") => lists
                .iter()
                .map(|l| serde_json::json!({ "movie_results": l["results"] }))
                .collect(),
            _ => Vec::new(),
        };
        let pool = Pool::new(&also, &nullable);
        problems.extend(compare(kind, &real, &ours, &[], &pool));
    }
    report(problems);
    s.shutdown().await;
}

#[tokio::test]
async fn omdb_movies_and_searches_have_the_recorded_shapes() {
    let dir = fixtures_dir();
    let s = start().await;
    let c = client();
    let mut movies = Vec::new();
    for e in s
        .catalog()
        .entries()
        .iter()
        .filter(|e| e.omdb_has_data && e.imdb_id.is_some())
        .take(60)
    {
        for plot in ["", "&plot=full"] {
            let (status, v) = get_json(
                &c,
                &omdb(&s, &format!("i={}{plot}", e.imdb_id.as_ref().unwrap())),
            )
            .await;
            assert_eq!(status, 200);
            movies.push(v);
        }
    }
    let mut problems = compare(
        "omdb movie",
        &read(&dir, "omdb/movie", &[""]),
        &movies,
        NEWEST_OMDB,
        &Pool::default(),
    );
    let word = s.catalog().entries()[0]
        .title
        .split(' ')
        .next_back()
        .unwrap()
        .to_string();
    let (status, search) = get_json(&c, &omdb(&s, &format!("s={word}"))).await;
    assert_eq!(status, 200);
    problems.extend(compare(
        "omdb search",
        &read(&dir, "omdb/search", &[""]),
        &[search],
        &[],
        &Pool::default(),
    ));
    report(problems);
    s.shutdown().await;
}

#[tokio::test]
async fn every_error_body_has_the_recorded_shape_and_status() {
    let dir = fixtures_dir();
    let s = start().await;
    let c = client();
    let unknown_imdb = (0..100)
        .map(|k| format!("tt{}", 9_999_999 - k))
        .find(|i| s.catalog().id_for_imdb(i).is_none())
        .unwrap();
    let base = s.tmdb_base_url();
    let omdb_base = s.omdb_base_url();
    // (recordings' file name prefix, status, the sandbox request that must answer alike)
    let cases: Vec<(&str, &str, u16, String)> = vec![
        (
            "tmdb/errors",
            "400-invalid-page",
            400,
            tmdb(&s, "movie/popular?page=0"),
        ),
        (
            "tmdb/errors",
            "401-invalid-api-key",
            401,
            format!("{base}/movie/popular?api_key=nope"),
        ),
        ("tmdb/errors", "404-", 404, tmdb(&s, "movie/999999999")),
        (
            "tmdb/errors",
            "422-invalid-date-range",
            422,
            tmdb(
                &s,
                "movie/changes?start_date=2025-01-01&end_date=2025-02-01",
            ),
        ),
        (
            "tmdb/errors",
            "422-validation-errors-array",
            422,
            tmdb(&s, "movie/changes?start_date=yesterday"),
        ),
        (
            "omdb/errors",
            "401-invalid-api-key",
            401,
            format!("{omdb_base}/?i=tt0000001&apikey=nope"),
        ),
        ("omdb/errors", "i-malformed", 200, omdb(&s, "i=tt596799")),
        (
            "omdb/errors",
            "i-tt9999999",
            200,
            omdb(&s, &format!("i={unknown_imdb}")),
        ),
        (
            "omdb/errors",
            "t-movie-not-found",
            200,
            omdb(&s, "t=Meen+of+Stal+Zz"),
        ),
        (
            "omdb/errors",
            "t-type-series",
            200,
            omdb(&s, "t=Anything&type=series"),
        ),
        (
            "omdb/errors",
            "episode-series-or-episode",
            200,
            omdb(&s, "t=X&Season=1&Episode=2&type=episode"),
        ),
        ("omdb/errors", "s-movie-not-found", 200, omdb(&s, "s=Zzqxw")),
        ("omdb/errors", "s-too-many-results", 200, omdb(&s, "s=A")),
    ];
    let mut problems = Vec::new();
    for (sub, prefix, status, url) in &cases {
        let real: Vec<Value> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect();
        assert!(!real.is_empty(), "no fixture in {sub} named {prefix}*");
        let (got, v) = get_json(&c, url).await;
        assert_eq!(got, *status, "{prefix}: {url}");
        problems.extend(compare(
            &format!("{sub}/{prefix}"),
            &real,
            std::slice::from_ref(&v),
            &[],
            &Pool::default(),
        ));
        if sub.starts_with("omdb") {
            // OMDb clients branch on the exact text.
            assert!(
                real.iter().any(|r| r["Error"] == v["Error"]),
                "{prefix}: {v}"
            );
        } else if let Some(code) = v.get("status_code") {
            assert!(
                real.iter().any(|r| &r["status_code"] == code),
                "{prefix}: {v}"
            );
        }
    }

    // The quota answer and the 500 need the sandbox steered first.
    s.set_omdb_quota(Some(0));
    let (got, v) = get_json(&c, &omdb(&s, "i=tt0000001")).await;
    assert_eq!(got, 401);
    let real = read(&dir, "omdb/errors", &["401-request-limit-reached"]);
    problems.extend(compare(
        "omdb request limit",
        &real,
        std::slice::from_ref(&v),
        &[],
        &Pool::default(),
    ));
    assert_eq!(v["Error"], real[0]["Error"]);
    s.set_faults(Faults {
        p500: 1.0,
        ..Faults::none()
    })
    .unwrap();
    let (got, v) = get_json(&c, &tmdb(&s, "configuration")).await;
    assert_eq!(got, 500);
    let real = read(&dir, "tmdb/errors", &["500-internal-error"]);
    problems.extend(compare(
        "tmdb 500",
        &real,
        std::slice::from_ref(&v),
        &[],
        &Pool::default(),
    ));
    assert_eq!(v, real[0]);
    report(problems);
    s.shutdown().await;
}

/// Keys of appended parts in recorded person bodies.
const PERSON_PART_KEYS: &[&str] = &[
    "changes",
    "combined_credits",
    "external_ids",
    "images",
    "movie_credits",
    "tagged_images",
    "translations",
    "tv_credits",
];

#[tokio::test]
async fn person_details_have_the_recorded_shape_and_match_the_credits() {
    let dir = fixtures_dir();
    let s = start().await;
    let c = client();
    let nullable = nullable_keys(&dir, "tmdb");
    let real: Vec<Value> = read(&dir, "tmdb/person", &[""])
        .into_iter()
        .map(|mut v| {
            if let Value::Object(m) = &mut v {
                for k in PERSON_PART_KEYS {
                    m.remove(*k);
                }
            }
            v
        })
        .collect();
    // People credited in the sample movies, cast and crew, as their credits name them.
    let cat = s.catalog();
    let mut credited = BTreeMap::new();
    for id in sample(&s) {
        let credits = cat.credits(id).unwrap();
        for p in credits.cast.iter().take(3) {
            credited.insert(p.id, (p.name.clone(), p.gender));
        }
        for p in credits.crew.iter().take(2) {
            credited.insert(p.id, (p.name.clone(), p.gender));
        }
    }
    let mut ours = Vec::new();
    for (id, (name, gender)) in credited.iter().take(80) {
        let (status, v) = get_json(&c, &tmdb(&s, &format!("person/{id}"))).await;
        assert_eq!(status, 200, "person {id}");
        assert_eq!(v["name"], name.as_str(), "person {id}");
        assert_eq!(v["gender"], *gender, "person {id}");
        ours.push(v);
    }
    assert!(
        ours.iter().any(|v| v["birthday"].is_null())
            && ours.iter().any(|v| v["deathday"].is_string()),
        "the sample has sparse and deceased people"
    );
    // An id no person has is TMDB's 404.
    let (status, v) = get_json(&c, &tmdb(&s, "person/101")).await;
    assert_eq!(status, 404);
    assert_eq!(v["status_code"], 34);
    let pool = Pool::new(&[], &nullable);
    report(compare(
        "person/{id}",
        &real,
        &ours,
        &["$.known_for_department"],
        &pool,
    ));
    s.shutdown().await;
}

#[tokio::test]
async fn person_parts_have_the_recorded_shapes() {
    let dir = fixtures_dir();
    let s = start().await;
    let c = client();
    let nullable = nullable_keys(&dir, "tmdb");
    let recorded = read(&dir, "tmdb/person", &[""]);
    let cat = s.catalog();
    let mut ids: Vec<u32> = sample(&s)
        .into_iter()
        .flat_map(|id| {
            cat.credits(id)
                .unwrap()
                .cast
                .into_iter()
                .take(4)
                .map(|p| p.id)
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut ours: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for id in ids.iter().take(60) {
        let (status, v) = get_json(
            &c,
            &tmdb(
                &s,
                &format!("person/{id}?append_to_response=images,translations"),
            ),
        )
        .await;
        assert_eq!(status, 200);
        for part in ["images", "translations"] {
            ours.entry(part).or_default().push(v[part].clone());
        }
    }
    let mut problems = Vec::new();
    for (part, standalone) in [("images", "-images"), ("translations", "-translations")] {
        // Appended bodies have no `id`; the standalone recordings widen what is allowed.
        let real: Vec<Value> = recorded
            .iter()
            .filter_map(|v| v.get(part).filter(|p| p.is_object()).cloned())
            .collect();
        let also: Vec<Value> = read(&dir, "tmdb/person_parts", &[standalone])
            .into_iter()
            .map(|mut v| {
                if let Value::Object(m) = &mut v {
                    m.remove("id");
                }
                v
            })
            .collect();
        problems.extend(compare(
            &format!("person appended {part}"),
            &real,
            &ours[part],
            &[],
            &Pool::new(&also, &nullable),
        ));
    }
    report(problems);
    s.shutdown().await;
}
