//! The schema as a film app reads it, on SQLite and PostgreSQL: the `movie_ratings` view with
//! each movie's ratings side by side, the CRI formula version as an integer (also for rows an
//! older popctl wrote as text), the indexes an app's queries use, and sources that leave raw
//! bodies out.

#![expect(
    clippy::disallowed_methods,
    reason = "tests read the database back, and break it on purpose, by SQL as a user's psql would"
)]
#![allow(clippy::unwrap_used)]

use migration::{Migrator, MigratorTrait};
use popctl::sources::omdb::mapping::{OmdbAnswer, omdb_answer};
use popctl::sources::tmdb::mapping::movie_bundle;
use popctl::store::{self, MovieBundle};
use sea_orm::{ConnectionTrait, Statement};

use crate::store_db::{Backend, TestDb, on_every_backend};

fn bundle(tmdb_id: i64, imdb_id: &str) -> MovieBundle {
    let body = format!(
        r#"{{"id":{tmdb_id},"title":"Movie {tmdb_id}","imdb_id":"{imdb_id}","release_date":"1999-03-31",
            "vote_average":8.2,"vote_count":26000,"popularity":71.5}}"#
    );
    movie_bundle(body.as_bytes()).unwrap()
}

const OMDB_BODY: &str = r#"{"Title":"Movie 603","Year":"1999","Rated":"R","Released":"31 Mar 1999",
  "Runtime":"136 min","Genre":"Action, Sci-Fi","Director":"Lana Wachowski, Lilly Wachowski",
  "Awards":"Won 4 Oscars. 42 wins & 52 nominations total",
  "Ratings":[{"Source":"Internet Movie Database","Value":"8.7/10"},
             {"Source":"Rotten Tomatoes","Value":"83%"},{"Source":"Metacritic","Value":"73/100"}],
  "Metascore":"73","imdbRating":"8.7","imdbVotes":"2,112,345","imdbID":"tt0133093",
  "Type":"movie","BoxOffice":"$172,076,928","Response":"True"}"#;

/// How many migrations to undo to be back before the one that made `cri_scores.version` an
/// integer (`m20261203_000007_app_schema`) — itself and every later one.
fn since_app_schema() -> u32 {
    let back = Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name() == "m20261203_000007_app_schema")
        .expect("the migration that made the CRI version an integer");
    u32::try_from(back + 1).unwrap()
}

async fn one_row(t: &TestDb, sql: &str) -> sea_orm::QueryResult {
    t.db.query_one_raw(Statement::from_string(
        t.db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .unwrap_or_else(|| panic!("{sql}: no row"))
}

/// One row per movie, each source's rating in its own column; NULL where a source has none.
async fn ratings_sit_side_by_side_in_the_view(t: TestDb) {
    t.save(&bundle(603, "tt0133093")).await;
    t.save(&bundle(604, "tt0234215")).await;
    let OmdbAnswer::Found(record) = omdb_answer(200, OMDB_BODY.as_bytes()).unwrap() else {
        panic!("the OMDb body is a title");
    };
    store::save_omdb(&t.db, 603, &record).await.unwrap();

    assert_eq!(t.count("SELECT COUNT(*) FROM movie_ratings").await, 2);
    let row = one_row(
        &t,
        "SELECT imdb_rating, imdb_votes, rotten_tomatoes, metacritic, tmdb_vote_average, \
         tmdb_vote_count, tmdb_popularity, imdb_id FROM movie_ratings \
         WHERE movie_id = (SELECT id FROM movies WHERE tmdb_id = 603)",
    )
    .await;
    assert_eq!(row.try_get::<f64>("", "imdb_rating").unwrap(), 8.7);
    assert_eq!(row.try_get::<i64>("", "imdb_votes").unwrap(), 2_112_345);
    assert_eq!(row.try_get::<i64>("", "rotten_tomatoes").unwrap(), 83);
    assert_eq!(row.try_get::<i64>("", "metacritic").unwrap(), 73);
    assert_eq!(row.try_get::<f64>("", "tmdb_vote_average").unwrap(), 8.2);
    assert_eq!(row.try_get::<i64>("", "tmdb_vote_count").unwrap(), 26_000);
    assert_eq!(row.try_get::<f64>("", "tmdb_popularity").unwrap(), 71.5);
    assert_eq!(row.try_get::<String>("", "imdb_id").unwrap(), "tt0133093");

    let row = one_row(
        &t,
        "SELECT imdb_rating, metacritic, tmdb_vote_average FROM movie_ratings \
         WHERE movie_id = (SELECT id FROM movies WHERE tmdb_id = 604)",
    )
    .await;
    assert_eq!(row.try_get::<Option<f64>>("", "imdb_rating").unwrap(), None);
    assert_eq!(row.try_get::<Option<i64>>("", "metacritic").unwrap(), None);
    assert_eq!(
        row.try_get::<Option<f64>>("", "tmdb_vote_average").unwrap(),
        Some(8.2)
    );
}
on_every_backend!(ratings_sit_side_by_side_in_the_view);

/// A database an older popctl wrote (`cri_scores.version` as text) keeps its scores through
/// the migration, as integers, and back as text when the migration is undone.
async fn cri_versions_written_as_text_become_integers(t: TestDb) {
    // Back to the schema before the version was an integer, with a score written then. The
    // movie is saved first: today's entities write today's columns.
    t.save(&bundle(603, "tt0133093")).await;
    Migrator::down(&t.db, Some(since_app_schema()))
        .await
        .unwrap();
    t.db.execute_unprepared(
        "INSERT INTO cri_scores (movie_id, version, overall, timelessness, cultural_penetration, \
         artistic_impact, institutional_recognition, public_reception, confidence, computed_at) \
         SELECT id, '1', 61.5, 1, 2, 3, 4, 5, 0.8, '2026-12-01T00:00:00Z' FROM movies",
    )
    .await
    .unwrap();

    store::migrate(&t.db).await.unwrap();
    assert_eq!(
        t.count("SELECT COUNT(*) FROM cri_scores WHERE version = 1 AND overall = 61.5")
            .await,
        1
    );
    let scores = {
        use popctl::store::entities::cri_scores;
        use sea_orm::EntityTrait;
        cri_scores::Entity::find().all(&t.db).await.unwrap()
    };
    assert_eq!(scores.len(), 1);
    assert_eq!(scores[0].version, 1);
    assert_eq!(scores[0].confidence, Some(0.8));
    // Still one score per movie and version.
    let again =
        t.db.execute_unprepared(
            "INSERT INTO cri_scores (movie_id, version, overall, timelessness, \
             cultural_penetration, artistic_impact, institutional_recognition, public_reception, \
             computed_at) SELECT id, 1, 1, 1, 1, 1, 1, 1, '2026-12-01T00:00:00Z' FROM movies",
        )
        .await;
    assert!(again.is_err(), "a second score of version 1 was accepted");

    Migrator::down(&t.db, Some(since_app_schema()))
        .await
        .unwrap();
    let row = one_row(&t, "SELECT version FROM cri_scores").await;
    assert_eq!(row.try_get::<String>("", "version").unwrap(), "1");
    store::migrate(&t.db).await.unwrap();
    assert_eq!(t.count("SELECT COUNT(*) FROM movie_ratings").await, 1);
}
on_every_backend!(cri_versions_written_as_text_become_integers);

/// The lookups an app makes read an index (SQLite's plan says which; PostgreSQL picks by
/// table size, so there the indexes are checked by name).
async fn an_apps_queries_use_indexes(t: TestDb) {
    for id in 1..=50 {
        t.save(&bundle(id, &format!("tt{id:07}"))).await;
    }
    let indexes = [
        (
            "ix_movies_release_date",
            "SELECT id FROM movies ORDER BY release_date DESC LIMIT 20",
        ),
        (
            "ix_movies_popularity",
            "SELECT id FROM movies ORDER BY popularity DESC LIMIT 20",
        ),
        (
            "ix_movies_title",
            "SELECT id FROM movies WHERE title = 'Movie 7'",
        ),
        (
            "ix_cri_scores_version_overall",
            "SELECT movie_id FROM cri_scores WHERE version = 1 ORDER BY overall DESC LIMIT 20",
        ),
    ];
    for (index, query) in indexes {
        match t.backend {
            Backend::Postgres => {
                let n = t
                    .count(&format!(
                        "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() \
                         AND indexname = '{index}'"
                    ))
                    .await;
                assert_eq!(n, 1, "{index}");
            }
            _ => {
                let rows =
                    t.db.query_all_raw(Statement::from_string(
                        t.db.get_database_backend(),
                        format!("EXPLAIN QUERY PLAN {query}"),
                    ))
                    .await
                    .unwrap();
                let plan: Vec<String> = rows
                    .iter()
                    .map(|r| r.try_get::<String>("", "detail").unwrap())
                    .collect();
                assert!(plan.iter().any(|d| d.contains(index)), "{query}: {plan:?}");
            }
        }
    }
}
on_every_backend!(an_apps_queries_use_indexes);

/// Without a body (`store_raw = false`, or one withheld because it echoed a key) a movie saved
/// again loses the body stored before, so a stored body is always the one its rows came from.
async fn a_save_without_a_body_removes_the_older_one(t: TestDb) {
    let with_body = bundle(603, "tt0133093");
    assert!(with_body.raw_body.is_some());
    t.save(&with_body).await;
    assert_eq!(t.count("SELECT COUNT(*) FROM movie_raw_json").await, 1);
    let mut without = with_body.clone();
    without.raw_body = None;
    let stats = t.save(&without).await;
    assert_eq!(stats.deleted, 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM movie_raw_json").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM movies").await, 1);
}
on_every_backend!(a_save_without_a_body_removes_the_older_one);

/// A body with `images`, `alternative_titles` and `translations` appended.
fn with_parts(images: &[(&str, &str)], titles: &[(&str, &str)], tagline_fr: &str) -> MovieBundle {
    let image = |(list, path): &(&str, &str)| {
        (
            list.to_string(),
            serde_json::json!({"file_path": path, "iso_639_1": null, "width": 1920,
                "height": 1080, "aspect_ratio": 1.778, "vote_average": 5.2, "vote_count": 3}),
        )
    };
    let mut lists = serde_json::json!({"posters": [], "backdrops": [], "logos": []});
    for (list, value) in images.iter().map(image) {
        lists[list].as_array_mut().unwrap().push(value);
    }
    let titles: Vec<_> = titles
        .iter()
        .map(|(country, title)| serde_json::json!({"iso_3166_1": country, "title": title, "type": ""}))
        .collect();
    let body = serde_json::json!({
        "id": 603, "title": "The Matrix", "imdb_id": "tt0133093",
        "images": lists,
        "alternative_titles": {"titles": titles},
        "translations": {"translations": [
            {"iso_3166_1": "FR", "iso_639_1": "fr", "name": "Français", "english_name": "French",
             "data": {"title": "Matrix", "overview": "", "tagline": tagline_fr, "homepage": "", "runtime": 0}},
            {"iso_3166_1": "US", "iso_639_1": "en", "name": "English", "english_name": "English",
             "data": {"title": "The Matrix", "overview": "Neo.", "tagline": "", "homepage": "", "runtime": 136}}
        ]}
    });
    movie_bundle(&serde_json::to_vec(&body).unwrap()).unwrap()
}

/// Images, alternative titles and translations are stored in their tables, an unchanged save
/// writes nothing, and a newer body replaces them: gone entries are removed, changed ones
/// updated.
async fn images_titles_and_translations_are_stored_and_replaced(t: TestDb) {
    let first = with_parts(
        &[
            ("posters", "/p1.jpg"),
            ("backdrops", "/b1.jpg"),
            ("logos", "/l1.png"),
        ],
        &[("DE", "Matrix"), ("JP", "マトリックス")],
        "Bienvenue",
    );
    t.save(&first).await;
    assert_eq!(t.count("SELECT COUNT(*) FROM movie_images").await, 3);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movie_images WHERE kind = 'logo' AND file_path = '/l1.png'")
            .await,
        1
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movie_alternative_titles")
            .await,
        2
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM movie_translations").await, 2);
    // Empty texts and a zero runtime are unknown, not values.
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM movie_translations WHERE iso_639_1 = 'fr' \
             AND overview IS NULL AND runtime IS NULL AND tagline = 'Bienvenue'"
        )
        .await,
        1
    );
    // Saved again unchanged, only the movie row (it carries the row lock) and its raw body
    // are written: no part row is rewritten.
    assert_eq!(t.save(&first).await.written, 2);

    let newer = with_parts(
        &[("posters", "/p1.jpg"), ("posters", "/p2.jpg")],
        &[("DE", "Matrix")],
        "Bienvenue dans la matrice",
    );
    let stats = t.save(&newer).await;
    assert_eq!(stats.deleted, 3, "{stats:?}");
    assert_eq!(t.count("SELECT COUNT(*) FROM movie_images").await, 2);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movie_images WHERE file_path IN ('/b1.jpg', '/l1.png')")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movie_alternative_titles")
            .await,
        1
    );
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM movie_translations WHERE tagline = 'Bienvenue dans la matrice'"
        )
        .await,
        1
    );
}
on_every_backend!(images_titles_and_translations_are_stored_and_replaced);

/// A body with `watch/providers` appended: `offers` as (country, type, provider id, name).
fn with_offers(offers: &[(&str, &str, i64, &str)]) -> MovieBundle {
    let mut results = serde_json::Map::new();
    for (country, kind, id, name) in offers {
        let c = results
            .entry(country.to_string())
            .or_insert_with(|| {
                serde_json::json!({"link": format!("https://www.themoviedb.org/movie/603-the-matrix/watch?locale={country}")})
            });
        let list = c
            .as_object_mut()
            .unwrap()
            .entry(kind.to_string())
            .or_insert_with(|| serde_json::json!([]));
        list.as_array_mut().unwrap().push(serde_json::json!({
            "logo_path": "/logo.jpg", "provider_id": id, "provider_name": name,
            "display_priority": 3
        }));
    }
    let body = serde_json::json!({
        "id": 603, "title": "The Matrix", "imdb_id": "tt0133093",
        "watch/providers": {"results": results}
    });
    movie_bundle(&serde_json::to_vec(&body).unwrap()).unwrap()
}

/// Watch providers are stored one row per country, type and provider; an unchanged save
/// writes none; a newer body replaces them (gone offers removed, renamed ones updated); a
/// body without the part leaves them alone.
async fn watch_providers_are_stored_and_replaced(t: TestDb) {
    let first = with_offers(&[
        ("US", "flatrate", 8, "Netflix"),
        ("US", "rent", 2, "Apple TV"),
        ("US", "buy", 2, "Apple TV"),
        ("DE", "ads", 9, "Amazon Prime Video"),
    ]);
    t.save(&first).await;
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movie_watch_providers").await,
        4
    );
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM movie_watch_providers WHERE iso_3166_1 = 'US' AND provider_id = 2 \
             AND link = 'https://www.themoviedb.org/movie/603-the-matrix/watch?locale=US'"
        )
        .await,
        2,
        "rent and buy are two rows with the country's link"
    );
    assert_eq!(
        t.save(&first).await.written,
        2,
        "only the movie and its body"
    );

    let newer = with_offers(&[
        ("US", "flatrate", 8, "Netflix"),
        ("US", "rent", 2, "Apple TV Store"),
    ]);
    let stats = t.save(&newer).await;
    assert_eq!(stats.deleted, 2, "{stats:?}");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movie_watch_providers").await,
        2
    );
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM movie_watch_providers WHERE provider_name = 'Apple TV Store'"
        )
        .await,
        1
    );
    t.save(&bundle(603, "tt0133093")).await;
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movie_watch_providers").await,
        2
    );
}
on_every_backend!(watch_providers_are_stored_and_replaced);
