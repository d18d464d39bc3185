//! Discover by TMDB's own parameters, end to end: the shipped "horror of the 1980s" example
//! run against the sandbox stores exactly the movies the simulator's catalog holds for its
//! filters, cut to its `limit`.

#![expect(
    clippy::disallowed_methods,
    reason = "the test reads the database back by SQL, as a user's sqlite3 would"
)]
#![allow(clippy::unwrap_used)]

use popctl::plan::{FetchSelection, StageKind};
use popctl::sim::{Catalog, Discover, SandboxConfig};
use sea_orm::{ConnectionTrait, Statement};

use crate::run_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_horror_80s_example_stores_only_1980s_horror_cut_to_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let url = run_in_sandbox("examples/horror-80s.toml", dir.path()).await;

    // What the plan asks for, as the sandbox's catalog answers it.
    let plan = load_plan("examples/horror-80s.toml");
    let Some(StageKind::Fetch(fetch)) = plan.stage("horror80s").map(|s| &s.kind) else {
        panic!("no fetch stage `horror80s`");
    };
    let FetchSelection::List { limit, filters, .. } = &fetch.selection else {
        panic!("horror80s fetches a list");
    };
    assert_eq!(*limit, Some(50));
    let config = SandboxConfig::default();
    let catalog = Catalog::generate(config.seed, config.movies, config.today);
    let matching = catalog.discover_ids(&Discover::try_from(filters).unwrap());
    assert!(
        matching.len() > 50,
        "only {} 1980s horror movies",
        matching.len()
    );
    let mut expected: Vec<i64> = matching[..50].iter().map(|&id| i64::from(id)).collect();
    expected.sort_unstable();

    let db = connect(&url).await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT tmdb_id FROM movies ORDER BY tmdb_id".to_owned(),
        ))
        .await
        .unwrap();
    let stored: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get_by_index::<i64>(0).unwrap())
        .collect();
    assert_eq!(
        stored, expected,
        "the first 50 of discover's answer, no more"
    );
    // Checked in the database itself, not only against the catalog.
    let outside_80s = "movies WHERE release_date IS NULL \
                       OR release_date < '1980-01-01' OR release_date > '1989-12-31'";
    assert_eq!(count(&db, outside_80s).await, 0);
    let not_horror = "movies WHERE id NOT IN (SELECT mg.movie_id FROM movie_genres mg \
                      JOIN genres g ON g.id = mg.genre_id WHERE g.name = 'Horror')";
    assert_eq!(count(&db, not_horror).await, 0);
    assert_eq!(last_run_status(&db).await, "ok");
    db.close().await.ok();
}

/// `queries`: one stage pages several discover queries (one per year here, over common
/// filters); each query's `limit` is its own, a movie two queries find is fetched once, and
/// each query's pages have their own ledger items.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stage_pages_several_queries_and_fetches_each_movie_once() {
    let env = Env::new(small_sim()).await;
    let plan = write_plan(
        &env,
        "years",
        r#"[stages.seed]
kind = "seed"

[stages.years]
kind = "fetch"
needs = ["seed"]
list = "discover"
limit = 25
filters = { sort_by = "vote_count.desc", "vote_count.gte" = 1 }
queries = [{ primary_release_year = 1999 }, { primary_release_year = 2005 }, { "primary_release_date.gte" = "1999-01-01", "primary_release_date.lte" = "2005-12-31", sort_by = "popularity.desc" }]
"#,
    );
    let loaded = load_plan(&plan);
    let Some(StageKind::Fetch(fetch)) = loaded.stage("years").map(|s| &s.kind) else {
        panic!("no fetch stage `years`");
    };
    let queries = fetch.selection.list_queries();
    assert_eq!(queries.len(), 3);
    // A query's own `sort_by` replaces the common one; the common filter stays.
    assert_eq!(queries[0].get("sort_by"), Some("vote_count.desc"));
    assert_eq!(queries[2].get("sort_by"), Some("popularity.desc"));
    assert!(queries.iter().all(|q| q.get("vote_count.gte") == Some("1")));

    let catalog = env.sim.catalog();
    let matching: Vec<Vec<u32>> = queries
        .iter()
        .map(|q| catalog.discover_ids(&Discover::try_from(*q).unwrap()))
        .collect();
    let found: Vec<Vec<u32>> = matching
        .iter()
        .map(|ids| ids.iter().copied().take(25).collect())
        .collect();
    // Up to two pages a query (25 movies), fewer when the query has fewer; at least one.
    let pages: u64 = matching
        .iter()
        .map(|ids| ids.len().div_ceil(20).clamp(1, 2) as u64)
        .sum();
    assert!(pages > 3, "one query should need a second page: {pages}");
    let expected: std::collections::BTreeSet<i64> =
        found.iter().flatten().map(|&id| i64::from(id)).collect();
    let named: usize = found.iter().map(Vec::len).sum();
    assert!(
        named > expected.len(),
        "the third query overlaps the first two: {found:?}"
    );

    let db_url = env.sqlite("years.db");
    let out = output(env.quick_plan(plan.to_str().unwrap(), &db_url)).await;
    assert_exit(&out, 0);
    let db = connect(&db_url).await;
    assert_eq!(stored_tmdb_ids(&db).await, expected);
    let stats = env.sim.stats();
    let details: u64 = stats.routes["GET /3/movie/{id}"].values().sum();
    assert_eq!(details, expected.len() as u64, "each movie fetched once");
    // Each page a ledger item of its query.
    assert_eq!(stats.routes["GET /3/discover/movie"][&200], pages);
    let recorded = count(
        &db,
        "import_items WHERE stage = 'years' AND item_key LIKE 'q%:page:%' AND status = 'ok'",
    )
    .await;
    assert_eq!(recorded as u64, pages);
}
