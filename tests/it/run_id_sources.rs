//! More ways to say which movies: `trending_day` / `trending_week` lists, a TMDB collection,
//! IMDb ids through `/find`; several stages naming the same movie fetch it once.

#![expect(
    clippy::disallowed_methods,
    reason = "the test reads the database back by SQL, as a user's sqlite3 would"
)]
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use popctl::plan::ListKind;
use sea_orm::{ConnectionTrait, Statement};

use crate::run_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trending_a_collection_and_imdb_ids_store_their_movies_each_fetched_once() {
    let env = Env::new(small_sim()).await;
    let catalog = env.sim.catalog();
    let trending: Vec<u32> = catalog.list_ids(ListKind::TrendingWeek);
    assert!(
        trending.len() >= 5,
        "the sandbox trends {} movies",
        trending.len()
    );
    let trending: Vec<u32> = trending.into_iter().take(5).collect();
    let collection = catalog.collection_ids()[0];
    let members: Vec<u32> = catalog
        .collection(collection)
        .unwrap()
        .parts
        .iter()
        .map(|p| p.id)
        .collect();
    // Two IMDb ids of trending movies (so two stages name them), one of the collection's,
    // and one no movie has.
    let imdb_of = |id: u32| catalog.entry(id).unwrap().imdb_id.clone().unwrap();
    let by_imdb = [trending[0], trending[1], members[0]];
    let unknown = "tt9999999";
    let imdb_list: Vec<String> = by_imdb
        .iter()
        .map(|&id| format!("\"{}\"", imdb_of(id)))
        .chain([format!("\"{unknown}\"")])
        .collect();

    let plan = env.path("sources.toml");
    std::fs::write(
        &plan,
        format!(
            r#"[plan]
name = "sources"
extends = "{base}"

[stages.seed]
kind = "seed"

[stages.trending]
kind = "fetch"
needs = ["seed"]
list = "trending_week"
limit = 5
append = ["external_ids"]

[stages.franchise]
kind = "fetch"
needs = ["seed"]
collection = {collection}
append = ["external_ids"]

[stages.picked]
kind = "fetch"
needs = ["seed"]
imdb_ids = [{imdb}]
append = ["external_ids"]
"#,
            base = root().join("plans/base.toml").display(),
            imdb = imdb_list.join(", "),
        ),
    )
    .unwrap();
    let db_url = env.sqlite("sources.db");
    let out = output(env.quick_plan(plan.to_str().unwrap(), &db_url)).await;
    assert_exit(&out, 0);

    let expected: BTreeSet<i64> = trending
        .iter()
        .chain(&members)
        .chain(&by_imdb)
        .map(|&id| i64::from(id))
        .collect();
    let db = connect(&db_url).await;
    let stored: BTreeSet<i64> = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT tmdb_id FROM movies".to_owned(),
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index::<i64>(0).unwrap())
        .collect();
    assert_eq!(stored, expected);
    // One details request per movie, though trending[0] and trending[1] were named twice.
    let stats = env.sim.stats();
    let details: u64 = stats.routes["GET /3/movie/{id}"].values().sum();
    assert_eq!(details, expected.len() as u64);
    assert_eq!(stats.routes["GET /3/trending/movie/week"][&200], 1);
    assert_eq!(stats.routes["GET /3/collection/{id}"][&200], 1);
    assert_eq!(
        stats.routes["GET /3/find/{external_id}"]
            .values()
            .sum::<u64>(),
        4
    );
    // The unknown IMDb id is a skipped item that says why.
    let said = count(
        &db,
        &format!(
            "import_items WHERE stage = 'picked' AND item_key = 'imdb:{unknown}' \
             AND status = 'skipped' AND last_error LIKE '%no movie with IMDb id%'"
        ),
    )
    .await;
    assert_eq!(said, 1);
}

/// A collection TMDB does not have fails its stage, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_collection_fails_its_stage_with_the_reason() {
    let env = Env::new(small_sim()).await;
    let plan = env.path("collection.toml");
    std::fs::write(
        &plan,
        format!(
            "[plan]\nname = \"c\"\nextends = \"{}\"\n\n[stages.popular]\nkind = \"fetch\"\ncollection = 999999999\n",
            root().join("plans/base.toml").display()
        ),
    )
    .unwrap();
    let db_url = env.sqlite("c.db");
    let out = output(env.quick_plan(plan.to_str().unwrap(), &db_url)).await;
    assert_exit(&out, 1);
    let said = stdout(&out) + &stderr(&out);
    assert!(said.contains("TMDB has no collection 999999999"), "{said}");
}
