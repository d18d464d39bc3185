//! People's details on SQLite and PostgreSQL: every real `/person/{id}` recording is stored
//! with its exact values (the legacy `deathday: ""` as NULL, stray spaces trimmed from places
//! and other names), the details leave the movie copies' columns and their ranking alone, and
//! the credits select who a people stage asks about.

#![expect(
    clippy::disallowed_methods,
    reason = "tests reset the database by SQL, as a user's psql would"
)]
#![allow(clippy::unwrap_used)] // helpers shared by tests are not #[test] fns

use chrono::NaiveDate;
use popctl::sources::tmdb::mapping::{movie_bundle, person_details};
use popctl::store::entities::people;
use popctl::store::people::{
    CreditFilter, credited_people, people_without_details, save_person_in,
};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::Value;

use crate::store_db::{TestDb, on_every_backend};
use crate::support::fixture_files;

/// Every recorded person body: (file name, JSON, bytes).
fn person_fixtures() -> Vec<(String, Value, Vec<u8>)> {
    fixture_files("tmdb/person")
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let json = serde_json::from_slice(&bytes).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, json, bytes)
        })
        .collect()
}

async fn stored(t: &TestDb, tmdb_id: i64) -> people::Model {
    people::Entity::find()
        .all(&t.db)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.tmdb_id == tmdb_id)
        .unwrap_or_else(|| panic!("no person {tmdb_id}"))
}

/// What the store should hold for a text field: `None` for null or "".
fn text(json: &Value, key: &str) -> Option<String> {
    json[key]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn date(json: &Value, key: &str) -> Option<NaiveDate> {
    text(json, key).map(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").unwrap())
}

/// Each recording, stored on its own (a person no movie carried), reads back field by field as
/// the recording says; the
/// trailing spaces of `place_of_birth` and of other names are trimmed.
async fn person_recordings_are_stored_with_their_values(t: TestDb) {
    let fixtures = person_fixtures();
    assert_eq!(fixtures.len(), 15);
    for (name, json, bytes) in &fixtures {
        let id = json["id"].as_i64().unwrap();
        let details = person_details(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Each recording starts from nothing of its person (several share one).
        t.db.execute_unprepared(&format!("DELETE FROM people WHERE tmdb_id = {id}"))
            .await
            .unwrap();
        save_person_in(&t.db, &details, 7, chrono::Utc::now())
            .await
            .unwrap();
        let p = stored(&t, id).await;
        assert_eq!(p.name, json["name"].as_str().unwrap(), "{name}");
        assert_eq!(p.biography, text(json, "biography"), "{name}");
        assert_eq!(p.birthday, date(json, "birthday"), "{name}");
        assert_eq!(p.deathday, date(json, "deathday"), "{name}");
        assert_eq!(
            p.place_of_birth,
            text(json, "place_of_birth").map(|s| s.trim().to_owned()),
            "{name}"
        );
        assert_eq!(p.imdb_id, text(json, "imdb_id"), "{name}");
        assert_eq!(p.homepage, text(json, "homepage"), "{name}");
        assert_eq!(p.profile_path, text(json, "profile_path"), "{name}");
        assert_eq!(
            p.known_for_department,
            text(json, "known_for_department"),
            "{name}"
        );
        let mut names: Vec<String> = Vec::new();
        for n in json["also_known_as"].as_array().unwrap() {
            let n = n.as_str().unwrap().trim().to_owned();
            if !n.is_empty() && !names.contains(&n) {
                names.push(n);
            }
        }
        let stored_names: Vec<String> = p
            .also_known_as
            .as_deref()
            .map(|a| serde_json::from_str(a).unwrap())
            .unwrap_or_default();
        assert_eq!(stored_names, names, "{name}");
        assert!(p.details_fetched_at.is_some(), "{name}");
        // Appended images and translations, one row per distinct file and language.
        let of = |table: &str| {
            format!(
                "SELECT COUNT(*) FROM {table} WHERE person_id = \
                 (SELECT id FROM people WHERE tmdb_id = {id})"
            )
        };
        let distinct = |part: &str, list: &str, key: &dyn Fn(&Value) -> String| -> i64 {
            let items = json[part][list].as_array().cloned().unwrap_or_default();
            items
                .iter()
                .map(key)
                .collect::<std::collections::HashSet<_>>()
                .len() as i64
        };
        let images = distinct("images", "profiles", &|i| i["file_path"].to_string());
        let translations = distinct("translations", "translations", &|t| {
            format!("{}{}", t["iso_639_1"], t["iso_3166_1"])
        });
        assert_eq!(t.count(&of("person_images")).await, images, "{name}");
        assert_eq!(
            t.count(&of("person_translations")).await,
            translations,
            "{name}"
        );
    }
    // Angelina Jolie's (her only recording): 28 pictures, 25 biographies.
    let jolie_rows = |table: &str| {
        format!(
            "SELECT COUNT(*) FROM {table} WHERE person_id = \
             (SELECT id FROM people WHERE tmdb_id = 11701)"
        )
    };
    assert_eq!(t.count(&jolie_rows("person_images")).await, 28);
    assert_eq!(t.count(&jolie_rows("person_translations")).await, 25);
    // One row per person, however many recordings of them.
    assert_eq!(t.count("SELECT COUNT(*) FROM people").await, 9);
    // The quirks, named.
    let sinise = stored(&t, 33).await;
    assert_eq!(sinise.deathday, None, "the legacy `deathday: \"\"` is NULL");
    assert_eq!(sinise.homepage, None);
    let jolie = stored(&t, 11701).await;
    assert_eq!(
        jolie.place_of_birth.as_deref(),
        Some("Los Angeles, California, USA")
    );
    let lucas = stored(&t, 1).await;
    assert!(
        lucas
            .also_known_as
            .as_deref()
            .unwrap()
            .starts_with(r#"["George Walton Lucas Jr.","#),
        "{:?}",
        lucas.also_known_as
    );
    let anderson = stored(&t, 12312).await;
    assert_eq!(anderson.deathday, NaiveDate::from_ymd_opt(2017, 8, 31));
    let sparse = stored(&t, 6_395_076).await;
    assert_eq!(
        (sparse.birthday, sparse.biography, sparse.imdb_id),
        (None, None, None)
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM people WHERE deathday IS NOT NULL")
            .await,
        2,
        "Richard Anderson and Frank Sinatra"
    );
}
on_every_backend!(person_recordings_are_stored_with_their_values);

/// A movie whose cast has Brad Pitt (287) first and whose crew has a director and a composer.
fn movie_with(id: i64, profile: &str) -> popctl::store::MovieBundle {
    let body = serde_json::json!({
        "id": id, "title": format!("Movie {id}"),
        "credits": {
            "cast": [
                {"id": 287, "name": "Brad Pitt", "credit_id": format!("c{id}a"), "order": 0,
                 "character": "Tyler", "profile_path": profile, "popularity": 10.0},
                {"id": 819, "name": "Edward Norton", "credit_id": format!("c{id}b"), "order": 1,
                 "character": "Narrator"},
                {"id": 1283, "name": "Helena Bonham Carter", "credit_id": format!("c{id}c"),
                 "order": 2, "character": "Marla"}
            ],
            "crew": [
                {"id": 7467, "name": "David Fincher", "credit_id": format!("c{id}d"),
                 "department": "Directing", "job": "Director"},
                {"id": 1000, "name": "A Composer", "credit_id": format!("c{id}e"),
                 "department": "Sound", "job": "Original Music Composer"}
            ]
        }
    });
    movie_bundle(&serde_json::to_vec(&body).unwrap()).unwrap()
}

/// The details leave the movie copy's columns and provenance alone (the photo too: which copy
/// a row holds must not depend on whether the details came first), and a movie saved
/// afterwards leaves the details alone.
async fn details_leave_the_movie_copies_alone(t: TestDb) {
    t.save_in_run(&movie_with(550, "/a.jpg"), 3).await;
    let (_, _, brad) = person_fixtures()
        .into_iter()
        .find(|(n, ..)| n == "287-brad-pitt__jdrouet.json")
        .unwrap();
    let details = person_details(&brad).unwrap();
    save_person_in(&t.db, &details, 3, chrono::Utc::now())
        .await
        .unwrap();
    let p = stored(&t, 287).await;
    assert_eq!((p.src_run, p.src_movie_tmdb_id), (3, 550));
    assert_eq!(p.popularity, Some(10.0));
    assert_eq!(p.profile_path.as_deref(), Some("/a.jpg"));
    assert_eq!(p.name, "Brad Pitt");
    // A later run's copy replaces the copy, and the details stay.
    t.save_in_run(&movie_with(100, "/b.jpg"), 4).await;
    let p = stored(&t, 287).await;
    assert_eq!((p.src_run, p.src_movie_tmdb_id), (4, 100));
    assert_eq!(p.profile_path.as_deref(), Some("/b.jpg"));
    assert_eq!(p.birthday, NaiveDate::from_ymd_opt(1963, 12, 18));
    assert!(p.biography.is_some() && p.details_fetched_at.is_some());
    // A person no movie carried yet gets the details' own department and photo.
    let (_, _, lucas) = person_fixtures()
        .into_iter()
        .find(|(n, ..)| n.starts_with("1-george-lucas"))
        .unwrap();
    save_person_in(
        &t.db,
        &person_details(&lucas).unwrap(),
        4,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let p = stored(&t, 1).await;
    assert_eq!(p.known_for_department.as_deref(), Some("Directing"));
    assert_eq!(
        p.profile_path.as_deref(),
        Some("/WCSZzWdtPmdRxH9LUCVi2JPCSJ.jpg")
    );
    assert_eq!((p.src_run, p.src_movie_tmdb_id), (4, i64::MAX));
}
on_every_backend!(details_leave_the_movie_copies_alone);

/// `credited` takes the cast billed before `cast_top` and the crew of `jobs`; `all` everyone;
/// people whose details were fetched are no longer "without details".
async fn credits_select_the_people_to_ask_about(t: TestDb) {
    t.save(&movie_with(550, "/a.jpg")).await;
    t.save(&movie_with(551, "/a.jpg")).await;
    let movies = [550, 551];
    let director = CreditFilter::Credited {
        cast_top: 2,
        jobs: vec!["Director".into()],
    };
    assert_eq!(
        credited_people(&t.db, &movies, &director).await.unwrap(),
        [287, 819, 7467]
    );
    let cast_only = CreditFilter::Credited {
        cast_top: 1,
        jobs: Vec::new(),
    };
    assert_eq!(
        credited_people(&t.db, &[551], &cast_only).await.unwrap(),
        [287]
    );
    let nobody = CreditFilter::Credited {
        cast_top: 0,
        jobs: Vec::new(),
    };
    assert!(
        credited_people(&t.db, &movies, &nobody)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        credited_people(&t.db, &movies, &CreditFilter::All)
            .await
            .unwrap(),
        [287, 819, 1000, 1283, 7467]
    );
    assert!(
        credited_people(&t.db, &[9], &CreditFilter::All)
            .await
            .unwrap()
            .is_empty()
    );

    let (_, _, brad) = person_fixtures()
        .into_iter()
        .find(|(n, ..)| n == "287-brad-pitt__jdrouet.json")
        .unwrap();
    save_person_in(
        &t.db,
        &person_details(&brad).unwrap(),
        0,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(
        people_without_details(&t.db, &director).await.unwrap(),
        [819, 7467]
    );
}
on_every_backend!(credits_select_the_people_to_ask_about);
