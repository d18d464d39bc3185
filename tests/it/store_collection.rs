//! Collections' own details on SQLite and PostgreSQL: every real `/collection/{id}` recording
//! is stored with its overview, name and images, and the details and the copies the movies
//! carry (`belongs_to_collection`) leave each other alone whichever comes first.

#![expect(
    clippy::disallowed_methods,
    reason = "tests reset the database by SQL, as a user's psql would"
)]
#![allow(clippy::unwrap_used)] // helpers shared by tests are not #[test] fns

use popctl::sources::tmdb::client::parse_collection;
use popctl::store::collection::save_collection_in;
use popctl::store::entities::collections;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::Value;

use crate::store_db::{TestDb, on_every_backend, richest_bundles};
use crate::support::fixture_files;

/// Every recorded collection body (not its images or translations, answers of their own
/// endpoints): (file name, JSON, bytes).
pub fn collection_fixtures() -> Vec<(String, Value, Vec<u8>)> {
    fixture_files("tmdb/collection")
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let what = name.split("__").next().unwrap_or_default();
            if what.ends_with("-images") || what.ends_with("-translations") {
                return None;
            }
            let bytes = std::fs::read(&p).unwrap();
            let json = serde_json::from_slice(&bytes).unwrap();
            Some((name, json, bytes))
        })
        .collect()
}

async fn stored(t: &TestDb, tmdb_id: i64) -> collections::Model {
    collections::Entity::find()
        .all(&t.db)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.tmdb_id == tmdb_id)
        .unwrap_or_else(|| panic!("no collection {tmdb_id}"))
}

fn text(json: &Value, key: &str) -> Option<String> {
    json[key]
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

/// Each recording, stored on its own, reads back as it says: one row per collection, its
/// overview, name and images; its parts are the movies a stage then fetches.
async fn collection_recordings_are_stored_with_their_values(t: TestDb) {
    let fixtures = collection_fixtures();
    assert_eq!(
        fixtures.len(),
        7,
        "{:?}",
        fixtures.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let now = chrono::Utc::now();
    for (name, json, bytes) in &fixtures {
        let id = json["id"].as_i64().unwrap();
        let details = parse_collection(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let parts: Vec<i64> = json["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect();
        assert_eq!(details.parts, parts, "{name}");
        // Each recording starts from nothing of its collection (several share one).
        t.db.execute_unprepared(&format!("DELETE FROM collections WHERE tmdb_id = {id}"))
            .await
            .unwrap();
        save_collection_in(&t.db, &details, 7, now).await.unwrap();
        let c = stored(&t, id).await;
        assert_eq!(c.overview, text(json, "overview"), "{name}");
        assert!(
            c.overview.is_some(),
            "{name}: every recording has an overview"
        );
        assert_eq!(c.name, json["name"].as_str().unwrap(), "{name}");
        assert_eq!(c.poster_path, text(json, "poster_path"), "{name}");
        assert_eq!(c.backdrop_path, text(json, "backdrop_path"), "{name}");
        assert_eq!((c.src_run, c.src_movie_tmdb_id), (7, i64::MAX), "{name}");
        assert!(c.details_fetched_at.is_some(), "{name}");
    }
    // Star Wars (10, four recordings), The Lord of the Rings (119), Back to the Future (264).
    assert_eq!(t.count("SELECT COUNT(*) FROM collections").await, 3);
    let parts = |id: i64| {
        let (_, json, _) = fixtures.iter().find(|(_, j, _)| j["id"] == id).unwrap();
        json["parts"].as_array().unwrap().len()
    };
    assert_eq!((parts(119), parts(264)), (3, 3));
}
on_every_backend!(collection_recordings_are_stored_with_their_values);

/// A movie's copy of its collection and the collection's details leave each other alone,
/// whichever is saved first, and the movie points at the collection's row.
async fn details_and_movie_copies_leave_each_other_alone(t: TestDb) {
    let fixtures = collection_fixtures();
    let body = |id: i64| {
        let (_, _, bytes) = fixtures.iter().find(|(_, j, _)| j["id"] == id).unwrap();
        parse_collection(bytes).unwrap()
    };
    let bundles = richest_bundles();
    let movie = |id: i64| bundles.iter().find(|b| b.movie.tmdb_id == id).unwrap();
    let now = chrono::Utc::now();
    // The Fellowship of the Ring (120) before its collection's details; Back to the Future
    // (105) after.
    t.save_in_run(movie(120), 3).await;
    save_collection_in(&t.db, &body(119), 3, now).await.unwrap();
    save_collection_in(&t.db, &body(264), 3, now).await.unwrap();
    t.save_in_run(movie(105), 3).await;
    for (collection, film) in [(119, 120), (264, 105)] {
        let c = stored(&t, collection).await;
        let copy = movie(film).movie.collection.clone().unwrap();
        assert_eq!((c.src_run, c.src_movie_tmdb_id), (3, film), "{collection}");
        assert_eq!(c.name, copy.name);
        assert_eq!(c.poster_path, copy.poster_path);
        assert_eq!(c.overview, body(collection).overview, "{collection}");
        let linked = t
            .count(&format!(
                "SELECT COUNT(*) FROM movies m JOIN collections c ON m.collection_id = c.id \
                 WHERE m.tmdb_id = {film} AND c.tmdb_id = {collection}"
            ))
            .await;
        assert_eq!(linked, 1, "{film} in {collection}");
    }
}
on_every_backend!(details_and_movie_copies_leave_each_other_alone);
