//! A TMDB source's `language` and `region`: the franchise example in `fr-FR` stores French
//! titles where TMDB has them (and every translation, picture and watch provider), and the
//! lists are asked for the source's region.

#![expect(
    clippy::disallowed_methods,
    reason = "the test reads the database back by SQL, as a user's sqlite3 would"
)]
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use popctl::plan::{FetchSelection, StageKind};
use popctl::sim::{Catalog, SandboxConfig};
use sea_orm::{ConnectionTrait, Statement};

use crate::run_support::*;

/// The requests the response cache under `dir` holds answers for (`GET …/movie/1?…`).
fn cached_requests(dir: &Path) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .filter_map(|f| {
            let bytes = std::fs::read(f).ok()?;
            let start = bytes.iter().position(|&b| b == b'{')?;
            let mut header = serde_json::Deserializer::from_slice(&bytes[start..])
                .into_iter::<serde_json::Value>();
            let request = header.next()?.ok()?["request"].as_str()?.to_owned();
            Some(request)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_french_franchise_example_stores_french_titles_translations_and_providers() {
    let dir = tempfile::tempdir().unwrap();
    let url = run_in_sandbox("examples/franchise-fr.toml", dir.path()).await;
    let cache = dir.path().join("cache");
    let plan = load_plan("examples/franchise-fr.toml");
    let Some(StageKind::Fetch(fetch)) = plan.stage("franchise").map(|s| &s.kind) else {
        panic!("no fetch stage `franchise`");
    };
    let FetchSelection::Collection(collection) = fetch.selection else {
        panic!("the franchise is a collection");
    };
    let config = SandboxConfig::default();
    let catalog = Catalog::generate(config.seed, config.movies, config.today);
    let parts = catalog.collection(collection as u32).unwrap().parts;
    assert!(parts.len() >= 2, "a franchise of {}", parts.len());

    // Each movie's title as TMDB gives it in French: the French translation's, else the
    // original English one.
    let expected: BTreeMap<i64, String> = parts
        .iter()
        .map(|p| {
            let english = catalog.movie(p.id).unwrap().title;
            let french = catalog
                .translations(p.id)
                .and_then(|t| t.translations.into_iter().find(|t| t.iso_639_1 == "fr"))
                .map(|t| t.data.title)
                .filter(|t| !t.is_empty());
            (i64::from(p.id), french.unwrap_or(english))
        })
        .collect();
    let in_french = parts
        .iter()
        .filter(|p| expected[&i64::from(p.id)] != catalog.movie(p.id).unwrap().title)
        .count();
    assert!(
        in_french >= 1,
        "no movie of the franchise has a French title"
    );

    let db = connect(&url).await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT tmdb_id, title FROM movies ORDER BY tmdb_id",
        ))
        .await
        .unwrap();
    let stored: BTreeMap<i64, String> = rows
        .iter()
        .map(|r| {
            (
                r.try_get::<i64>("", "tmdb_id").unwrap(),
                r.try_get::<String>("", "title").unwrap(),
            )
        })
        .collect();
    assert_eq!(stored, expected);
    // The appended parts, every language and country kept.
    for table in [
        "movie_translations",
        "movie_images",
        "movie_watch_providers",
    ] {
        assert!(count(&db, table).await > 0, "{table} is empty");
    }

    // Every TMDB request asked in French; the details asked for French and text-free images.
    let requests = cached_requests(&cache.join("tmdb"));
    assert!(requests.len() > parts.len(), "{requests:?}");
    for r in &requests {
        assert!(r.contains("language=fr-FR"), "{r}");
        if r.contains("append_to_response") {
            assert!(r.contains("include_image_language=fr%2Cnull"), "{r}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_asked_for_the_source_region_unless_discover_names_its_own() {
    let env = Env::new(small_sim()).await;
    let plan = write_plan(
        &env,
        "region",
        r#"[sources.tmdb]
region = "FR"

[defaults.fetch]
needs = ["seed"]
limit = 2

[stages.seed]
kind = "seed"

[stages.popular]
kind = "fetch"
list = "popular"

[stages.trending]
kind = "fetch"
list = "trending_week"

[stages.discover]
kind = "fetch"
list = "discover"
filters = { region = "DE", sort_by = "popularity.desc" }
"#,
    );
    let db = env.sqlite("region.db");
    let mut cmd = env.quick_plan(plan.to_str().unwrap(), &db);
    cmd.args(["--set", "cache.mode=read-write"]);
    let out = output(cmd).await;
    assert_exit(&out, 0);
    let requests = cached_requests(&env.path("cache").join("tmdb"));
    let page = |path: &str| {
        requests
            .iter()
            .find(|r| r.contains(path) && r.contains("page=1"))
            .unwrap_or_else(|| panic!("no {path} page in {requests:?}"))
            .clone()
    };
    assert!(page("/movie/popular").contains("region=FR"));
    assert!(!page("/trending/movie/week").contains("region="));
    let discover = page("/discover/movie");
    assert!(
        discover.contains("region=DE") && !discover.contains("region=FR"),
        "{discover}"
    );
    // No language set: TMDB's default, nothing sent.
    assert!(
        requests.iter().all(|r| !r.contains("language=")),
        "{requests:?}"
    );
}
