//! Same upstream, same database (issue 12): two clean `popctl run`s of one plan, each saving
//! its movies from 8 concurrent tasks in whatever order they finish, end with the same
//! database although the simulator's movies carry disagreeing copies of the people, companies
//! and collections they share, as TMDB's cached bodies do.

#![expect(
    clippy::disallowed_methods,
    reason = "tests read the database back, and break it on purpose, by SQL as a user's psql would"
)]
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use popctl::sim::{Latency, SandboxConfig};
use popctl::store::entities::movies;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Statement};

use crate::run_support::*;

/// Rows of a two-column integer query, for comparing what two databases say.
async fn pairs(db: &DatabaseConnection, sql: &str) -> Vec<(i64, i64)> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.try_get_by_index::<i64>(0).unwrap(),
            r.try_get_by_index::<i64>(1).unwrap(),
        )
    })
    .collect()
}

async fn two_clean_runs_end_with_the_same_database(first: String, second: String) {
    let env = Env::new(SandboxConfig {
        // Answers of varying delay, so the saves finish in a different order each run.
        latency: Latency {
            min_ms: 1,
            max_ms: 25,
        },
        ..small_sim()
    })
    .await;
    let mut sets = quick(3);
    sets.push("stages.popular.concurrency=8".into());
    let mut digests = Vec::new();
    let mut provenance = Vec::new();
    for url in [&first, &second] {
        let out = output(env.quick(url, &sets, &[])).await;
        assert_exit(&out, 0);
        digests.push(digest(url).await);
        let db = connect(url).await;
        provenance.push(
            pairs(
                &db,
                "SELECT tmdb_id, src_movie_tmdb_id FROM people ORDER BY tmdb_id",
            )
            .await,
        );
        db.close().await.ok();
    }

    // The test means something only if the movies imported disagree about someone.
    let db = connect(&first).await;
    let movies = movies::Entity::find().all(&db).await.unwrap();
    assert_eq!(movies.len(), 60);
    let mut copies: BTreeMap<u32, BTreeSet<u64>> = BTreeMap::new();
    for m in &movies {
        let credits = env.sim.catalog().credits(m.tmdb_id as u32).unwrap();
        let people = credits
            .cast
            .iter()
            .map(|c| (c.id, c.popularity))
            .chain(credits.crew.iter().map(|c| (c.id, c.popularity)));
        for (person, popularity) in people {
            copies
                .entry(person)
                .or_default()
                .insert(popularity.to_bits());
        }
    }
    let disagreeing = copies.values().filter(|c| c.len() > 1).count();
    assert!(
        disagreeing >= 10,
        "only {disagreeing} people have disagreeing copies"
    );

    assert_eq!(provenance[0], provenance[1], "whose copy each person is");
    assert_eq!(digests[0], digests[1], "the two runs' databases differ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clean_concurrent_runs_end_with_the_same_database_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = |n: &str| format!("sqlite://{}?mode=rwc", dir.path().join(n).display());
    two_clean_runs_end_with_the_same_database(url("first.db"), url("second.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clean_concurrent_runs_end_with_the_same_database_on_postgres() {
    let Some(first) = crate::store_db::fresh_pg_url().await else {
        return;
    };
    let second = crate::store_db::fresh_pg_url().await.unwrap();
    two_clean_runs_end_with_the_same_database(first, second).await;
}
