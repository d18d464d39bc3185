//! The store on SQLite (memory and file) and PostgreSQL: every real details fixture saves with
//! row counts matching its JSON, saves are idempotent and identical across backends, newer
//! bundles remove dropped parts, concurrent saves never fail, the reset guard, and migrations
//! up → down → fresh.

#![expect(
    clippy::disallowed_methods,
    reason = "tests read the database back, and break it on purpose, by SQL as a user's psql would"
)]
#![allow(clippy::unwrap_used)] // helpers shared by tests are not #[test] fns

use popctl::plan::ResetScope;
use popctl::sources::tmdb::mapping::movie_bundle;
use popctl::store::{self, digest::table_digests};
use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::store_db::{
    Backend, TestDb, details_fixtures, on_every_backend, richest_bundles, variant,
};

fn len(v: &Value, path: &[&str]) -> i64 {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return 0,
        }
    }
    cur.as_array().map_or(0, |a| a.len() as i64)
}

/// The offers in a `watch/providers` body: every provider of every monetization type of every
/// country (the recordings repeat none).
fn watch_offers(part: &Value) -> i64 {
    let Some(countries) = part["results"].as_object() else {
        return 0;
    };
    countries
        .values()
        .map(|c| {
            ["flatrate", "free", "ads", "rent", "buy"]
                .iter()
                .map(|kind| len(c, &[kind]))
                .sum::<i64>()
        })
        .sum()
}

async fn fixtures_save_with_matching_counts(t: TestDb) {
    for (name, body) in details_fixtures() {
        let json: Value = serde_json::from_slice(&body).unwrap();
        let id = json["id"].as_i64().unwrap();
        // Each fixture starts from nothing of its movie (several fixtures share a movie).
        t.db.execute_unprepared(&format!("DELETE FROM movies WHERE tmdb_id = {id}"))
            .await
            .unwrap();
        let bundle = movie_bundle(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        t.save(&bundle).await;

        let of = |table: &str| {
            format!(
                "SELECT COUNT(*) FROM {table} WHERE movie_id = (SELECT id FROM movies WHERE tmdb_id = {id})"
            )
        };
        let release_dates: i64 = json
            .get("release_dates")
            .and_then(|r| r["results"].as_array())
            .map_or(0, |countries| {
                countries.iter().map(|c| len(c, &["release_dates"])).sum()
            });
        let similar =
            len(&json, &["similar", "results"]).max(len(&json, &["similar_movies", "results"]));
        // Each distinct file is one image, each distinct (country, title, type) one title,
        // each distinct (language, country) one translation.
        let distinct = |part: &str, lists: &[&str], key: &dyn Fn(&Value) -> String| -> i64 {
            let mut keys = std::collections::HashSet::new();
            for list in lists {
                for item in json[part][*list].as_array().into_iter().flatten() {
                    keys.insert(key(item));
                }
            }
            keys.len() as i64
        };
        let text = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
        let images = distinct("images", &["posters", "backdrops", "logos"], &|i| {
            text(i, "file_path")
        });
        let alternative_titles = distinct("alternative_titles", &["titles"], &|t| {
            format!(
                "{}\u{1f}{}\u{1f}{}",
                text(t, "iso_3166_1"),
                text(t, "title"),
                text(t, "type")
            )
        });
        let translations = distinct("translations", &["translations"], &|t| {
            format!("{}\u{1f}{}", text(t, "iso_639_1"), text(t, "iso_3166_1"))
        });
        let watch_providers = watch_offers(&json["watch/providers"]);
        let checks = [
            ("genres", of("movie_genres"), len(&json, &["genres"])),
            (
                "companies",
                of("movie_production_companies"),
                len(&json, &["production_companies"]),
            ),
            (
                "countries",
                of("movie_production_countries"),
                len(&json, &["production_countries"]),
            ),
            (
                "languages",
                of("movie_spoken_languages"),
                len(&json, &["spoken_languages"]),
            ),
            (
                "cast",
                format!("{} AND credit_type = 'cast'", of("movie_credits")),
                len(&json, &["credits", "cast"]),
            ),
            (
                "crew",
                format!("{} AND credit_type = 'crew'", of("movie_credits")),
                len(&json, &["credits", "crew"]),
            ),
            (
                "keywords",
                of("movie_keywords"),
                len(&json, &["keywords", "keywords"]),
            ),
            (
                "videos",
                of("movie_videos"),
                len(&json, &["videos", "results"]),
            ),
            ("release dates", of("movie_release_dates"), release_dates),
            (
                "recommendations",
                format!("{} AND kind = 'recommended'", of("movie_recommendations")),
                len(&json, &["recommendations", "results"]),
            ),
            (
                "similar",
                format!("{} AND kind = 'similar'", of("movie_recommendations")),
                similar,
            ),
            (
                "reviews",
                of("reviews"),
                len(&json, &["reviews", "results"]),
            ),
            ("images", of("movie_images"), images),
            (
                "alternative titles",
                of("movie_alternative_titles"),
                alternative_titles,
            ),
            ("translations", of("movie_translations"), translations),
            (
                "watch providers",
                of("movie_watch_providers"),
                watch_providers,
            ),
            ("raw bodies", of("movie_raw_json"), 1),
        ];
        for (what, sql, expected) in checks {
            assert_eq!(
                t.count(&sql).await,
                expected,
                "{name}: {what} ({:?})",
                t.backend
            );
        }
        let tmdb_ratings = ["vote_average", "vote_count", "popularity"]
            .iter()
            .filter(|k| !json[**k].is_null())
            .count() as i64;
        assert_eq!(
            t.count(&format!("{} AND source = 'tmdb'", of("external_ratings")))
                .await,
            tmdb_ratings,
            "{name}: tmdb ratings"
        );
        // The raw body is kept byte for byte.
        let raw = t
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                t.db.get_database_backend(),
                format!("SELECT body FROM movie_raw_json WHERE movie_id = (SELECT id FROM movies WHERE tmdb_id = {id})"),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            raw.try_get_by_index::<String>(0).unwrap().as_bytes(),
            body.as_slice(),
            "{name}"
        );
        // Empty release dates, zero runtime and null IMDb ids are stored as NULL.
        if json["release_date"] == "" {
            assert_eq!(
                t.count(&format!(
                    "SELECT COUNT(*) FROM movies WHERE tmdb_id = {id} AND release_date IS NULL"
                ))
                .await,
                1
            );
        }
        if json["runtime"] == 0 {
            assert_eq!(
                t.count(&format!(
                    "SELECT COUNT(*) FROM movies WHERE tmdb_id = {id} AND runtime IS NULL"
                ))
                .await,
                1
            );
        }
    }
}
on_every_backend!(fixtures_save_with_matching_counts);

/// The standalone `movie/{id}/watch/providers` recordings, appended to a details body as TMDB
/// appends them, save one row per offer with the recorded values; `link` is the country's.
async fn watch_provider_recordings_save_every_offer(t: TestDb) {
    let files = crate::support::fixture_files("tmdb/movie_parts");
    let files: Vec<_> = files
        .iter()
        .filter(|p| p.to_string_lossy().contains("watch_providers"))
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for file in files {
        let mut part: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let id = part["id"].as_i64().unwrap();
        // Appended, the part has no `id` of its own.
        part.as_object_mut().unwrap().remove("id");
        let expected = watch_offers(&part);
        assert!(expected > 400, "{}: {expected} offers", file.display());
        let body = serde_json::json!({"id": id, "title": "Movie", "watch/providers": part});
        let bundle = movie_bundle(&serde_json::to_vec(&body).unwrap()).unwrap();
        t.save(&bundle).await;
        let of = format!(
            "SELECT COUNT(*) FROM movie_watch_providers WHERE movie_id = \
             (SELECT id FROM movies WHERE tmdb_id = {id})"
        );
        assert_eq!(t.count(&of).await, expected, "{}", file.display());
        // One offer checked value by value, and the country's link on every row of it.
        let us = &part["results"]["US"];
        let first = &us["rent"][0];
        let sql = format!(
            "{of} AND iso_3166_1 = 'US' AND monetization_type = 'rent' AND provider_id = {} \
             AND provider_name = '{}' AND logo_path = '{}' AND display_priority = {} \
             AND link = '{}'",
            first["provider_id"],
            first["provider_name"].as_str().unwrap().replace('\'', "''"),
            first["logo_path"].as_str().unwrap(),
            first["display_priority"],
            us["link"].as_str().unwrap()
        );
        assert_eq!(t.count(&sql).await, 1, "{}: {sql}", file.display());
        let without_link = format!("{of} AND link IS NULL");
        assert_eq!(t.count(&without_link).await, 0, "{}", file.display());
    }
}
on_every_backend!(watch_provider_recordings_save_every_offer);

async fn saving_twice_changes_nothing(t: TestDb) {
    let bundles = richest_bundles();
    for b in &bundles {
        t.save(b).await;
    }
    let first = store::digest(&t.db).await.unwrap();
    let tables = table_digests(&t.db).await.unwrap();
    let mut again = store::SaveStats::default();
    for b in &bundles {
        again += t.save(b).await;
    }
    assert_eq!(store::digest(&t.db).await.unwrap(), first);
    assert_eq!(table_digests(&t.db).await.unwrap(), tables);
    // Unchanged rows are not rewritten: only each movie row (always touched, it carries the
    // row lock), its raw body and its TMDB ratings (their fetch time moves) are written.
    let per_movie_max: u64 = bundles
        .iter()
        .map(|b| 2 + b.movie.tmdb_ratings().len() as u64)
        .sum();
    assert!(
        again.written <= per_movie_max,
        "{again:?} > {per_movie_max}"
    );
    assert_eq!(again.deleted, 0);
    if !bundles.is_empty() {
        assert!(
            tables["movie_credits"].rows > 1000,
            "{:?}",
            tables["movie_credits"]
        );
    }
}
on_every_backend!(saving_twice_changes_nothing);

/// The same data gives the same digest on every backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_agree_across_backends() {
    let bundles = richest_bundles();
    let mut digests = Vec::new();
    for backend in [
        Backend::SqliteMemory,
        Backend::SqliteFile,
        Backend::Postgres,
    ] {
        let Some(t) = TestDb::migrated(backend).await else {
            continue;
        };
        for b in &bundles {
            t.save(b).await;
        }
        digests.push((
            backend,
            table_digests(&t.db).await.unwrap(),
            store::digest(&t.db).await.unwrap(),
        ));
    }
    for (backend, tables, digest) in &digests[1..] {
        assert_eq!(tables, &digests[0].1, "{backend:?} vs {:?}", digests[0].0);
        assert_eq!(digest, &digests[0].2);
    }
}

async fn newer_bundle_replaces_parts(t: TestDb) {
    let (_, body) = details_fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("607-"))
        .expect("the fixture of Men in Black (607)");
    let old = movie_bundle(&body).unwrap();
    t.save(&old).await;
    let id = old.tmdb_id();

    let mut json: Value = serde_json::from_slice(&body).unwrap();
    let cast = json["credits"]["cast"].as_array_mut().unwrap();
    let dropped_credit = cast.remove(0)["credit_id"].as_str().unwrap().to_owned();
    cast[0]["character"] = "Someone Else".into();
    let videos = json["videos"]["results"].as_array_mut().unwrap();
    let dropped_video = videos.remove(0)["id"].as_str().unwrap().to_owned();
    json["genres"].as_array_mut().unwrap().pop();
    json["release_dates"]["results"][0]["release_dates"]
        .as_array_mut()
        .unwrap()
        .clear();
    json["title"] = "Men in Black (restored)".into();
    json["vote_count"] = Value::Null;
    let new_body = serde_json::to_vec(&json).unwrap();
    let new = movie_bundle(&new_body).unwrap();
    let stats = t.save(&new).await;
    assert!(stats.deleted >= 4, "{stats:?}");

    let of_movie = format!("(SELECT id FROM movies WHERE tmdb_id = {id})");
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM movie_credits WHERE credit_id = '{dropped_credit}'"
        ))
        .await,
        0
    );
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM movie_videos WHERE tmdb_video_id = '{dropped_video}'"
        ))
        .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movie_credits WHERE character = 'Someone Else'")
            .await,
        1
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movies WHERE title = 'Men in Black (restored)'")
            .await,
        1
    );
    assert_eq!(
        t.count(&format!("SELECT COUNT(*) FROM external_ratings WHERE movie_id = {of_movie} AND metric = 'vote_count'")).await,
        0
    );
    // The movie's parts now equal those of a database that only ever saw the new bundle.
    let fresh = TestDb::migrated(Backend::SqliteMemory).await.unwrap();
    fresh.save(&new).await;
    let (a, b) = (
        table_digests(&t.db).await.unwrap(),
        table_digests(&fresh.db).await.unwrap(),
    );
    for table in [
        "movies",
        "movie_credits",
        "movie_videos",
        "movie_genres",
        "movie_release_dates",
        "movie_keywords",
        "movie_recommendations",
        "reviews",
        "external_ratings",
        "movie_raw_json",
    ] {
        assert_eq!(a[table], b[table], "{table}");
    }

    // A bundle without a part leaves that part alone.
    let mut partial = new.clone();
    partial.credits = None;
    partial.videos = None;
    t.save(&partial).await;
    assert_eq!(
        table_digests(&t.db).await.unwrap()["movie_credits"],
        a["movie_credits"]
    );
    assert_eq!(
        table_digests(&t.db).await.unwrap()["movie_videos"],
        a["movie_videos"]
    );
}
on_every_backend!(newer_bundle_replaces_parts);

async fn concurrent_overlapping_saves_never_fail(t: TestDb) {
    let base = richest_bundles();
    // 50 tasks: variants share people, keywords, companies and genres; every tenth task saves
    // a movie another task saves at the same time.
    let bundles: Vec<_> = (0..50)
        .map(|i| {
            let b = &base[i % base.len()];
            if i % 10 == 9 {
                variant(b, 1)
            } else {
                variant(b, i as i64 + 1)
            }
        })
        .collect();
    let db = t.db.clone();
    let tasks: Vec<_> = bundles
        .iter()
        .cloned()
        .map(|b| {
            let db = db.clone();
            tokio::spawn(async move { store::save_movie(&db, &b, 0).await.map(|_| b.tmdb_id()) })
        })
        .collect();
    for task in futures::future::join_all(tasks).await {
        task.unwrap()
            .unwrap_or_else(|e| panic!("concurrent save failed on {:?}: {e}", t.backend));
    }
    let mut ids: Vec<_> = bundles.iter().map(|b| b.tmdb_id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movies").await,
        ids.len() as i64
    );
    // Every credit of every movie once (the fixtures repeat no credit).
    let credits: std::collections::BTreeMap<i64, usize> = bundles
        .iter()
        .map(|b| (b.tmdb_id(), b.credits.as_ref().map_or(0, Vec::len)))
        .collect();
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movie_credits").await,
        credits.values().sum::<usize>() as i64
    );
    let mut people: Vec<_> = bundles
        .iter()
        .flat_map(|b| b.credits.iter().flatten().map(|c| c.person.tmdb_id))
        .collect();
    people.sort_unstable();
    people.dedup();
    assert_eq!(
        t.count("SELECT COUNT(*) FROM people").await,
        people.len() as i64
    );
}
on_every_backend!(concurrent_overlapping_saves_never_fail);

async fn reset_guard_refuses_remote_and_drops_nothing(t: TestDb) {
    let b = &richest_bundles()[0];
    t.save(b).await;
    let before = store::digest(&t.db).await.unwrap();
    for remote in [
        "postgres://me:secret@db.example.com/prod",
        "postgres://u@10.0.0.5/db",
    ] {
        let err = store::reset(&t.db, remote, false, ResetScope::Popctl)
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("refusing to reset") && !msg.contains("secret"),
            "{msg}"
        );
        assert_eq!(
            store::digest(&t.db).await.unwrap(),
            before,
            "nothing dropped"
        );
    }
    // Local: everything goes, the schema comes back.
    store::reset(&t.db, &t.url, false, ResetScope::Popctl)
        .await
        .unwrap();
    assert_eq!(t.count("SELECT COUNT(*) FROM movies").await, 0);
    assert!(
        store::schema_status(&t.db)
            .await
            .unwrap()
            .iter()
            .all(|(_, applied)| *applied)
    );
    t.save(b).await;
    // allow_remote lets the stage reset a database whatever its URL.
    store::reset(
        &t.db,
        "postgres://u@db.example.com/prod",
        true,
        ResetScope::Popctl,
    )
    .await
    .unwrap();
    assert_eq!(t.count("SELECT COUNT(*) FROM movies").await, 0);
}
on_every_backend!(reset_guard_refuses_remote_and_drops_nothing);

async fn migrations_up_down_fresh(t: TestDb) {
    use migration::{Migrator, MigratorTrait};
    let tables = [
        "movies",
        "people",
        "movie_credits",
        "curated_lists",
        "import_items",
        "cri_scores",
    ];
    let manager = migration::SchemaManager::new(&t.db);
    for table in tables {
        assert!(manager.has_table(table).await.unwrap(), "{table} after up");
    }
    // Migration 20 dropped the index on the target's TMDB id; the one deletes use stays.
    let indexed = |index| manager.has_index("movie_recommendations", index);
    assert!(
        !indexed("ix_movie_recommendations_recommended_tmdb_id")
            .await
            .unwrap()
    );
    assert!(
        indexed("ix_movie_recommendations_recommended_movie_id")
            .await
            .unwrap()
    );
    Migrator::down(&t.db, None).await.unwrap();
    for table in tables {
        assert!(
            !manager.has_table(table).await.unwrap(),
            "{table} after down"
        );
    }
    assert!(
        store::schema_status(&t.db)
            .await
            .unwrap()
            .iter()
            .all(|(_, applied)| !applied)
    );
    Migrator::fresh(&t.db).await.unwrap();
    for table in tables {
        assert!(
            manager.has_table(table).await.unwrap(),
            "{table} after fresh"
        );
    }
    // Up again is a no-op.
    store::migrate(&t.db).await.unwrap();
}
on_every_backend!(migrations_up_down_fresh);

/// A duplicate IMDb id is a clear error, and the failed save leaves nothing behind.
/// A migration that fails halfway leaves nothing of itself, so the next attempt starts again
/// from the migration before it: a run killed while it migrates is the same case (on SQLite,
/// sea-orm-migration alone would leave the first half, and every later attempt would fail on
/// it).
async fn a_migration_that_fails_halfway_leaves_nothing_of_itself(t: TestDb) {
    use migration::{Migrator, MigratorTrait};
    Migrator::down(&t.db, None).await.unwrap();
    Migrator::up(&t.db, Some(6)).await.unwrap();
    // Migration 7 creates three indexes on `movies`; one already there fails its third.
    t.db.execute_unprepared("CREATE INDEX ix_movies_title ON movies (title)")
        .await
        .unwrap();
    let e = store::migrate(&t.db).await.unwrap_err();
    assert!(e.to_string().contains("ix_movies_title"), "{e}");
    let manager = migration::SchemaManager::new(&t.db);
    assert!(
        !manager
            .has_index("movies", "ix_movies_release_date")
            .await
            .unwrap(),
        "the failed migration's first index stayed"
    );
    let applied = |status: Vec<(String, bool)>| status.iter().filter(|(_, a)| *a).count();
    assert_eq!(applied(store::schema_status(&t.db).await.unwrap()), 6);
    t.db.execute_unprepared("DROP INDEX ix_movies_title")
        .await
        .unwrap();
    store::migrate(&t.db).await.unwrap();
    let status = store::schema_status(&t.db).await.unwrap();
    assert_eq!(applied(status.clone()), status.len());
    assert!(
        manager
            .has_index("movies", "ix_movies_release_date")
            .await
            .unwrap()
    );
}
on_every_backend!(a_migration_that_fails_halfway_leaves_nothing_of_itself);

async fn duplicate_imdb_id_is_a_clear_error(t: TestDb) {
    let bundles = richest_bundles();
    let b = &bundles[0];
    t.save(b).await;
    let before = store::digest(&t.db).await.unwrap();
    let mut other = variant(b, 7);
    other.movie.imdb_id = b.movie.imdb_id.clone();
    let err = store::save_movie(&t.db, &other, 0).await.unwrap_err();
    assert!(
        matches!(err, store::StoreError::DuplicateImdbId { .. }),
        "{err}"
    );
    assert_eq!(store::digest(&t.db).await.unwrap(), before);

    // Inside the caller's transaction the failure is contained to the save.
    let txn = store::begin(&t.db).await.unwrap();
    assert!(store::save_movie_in(&txn, &other, 0).await.is_err());
    let mut fine = variant(b, 8);
    fine.movie.imdb_id = None;
    store::save_movie_in(&txn, &fine, 0).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM movies WHERE tmdb_id = {}",
            fine.tmdb_id()
        ))
        .await,
        1
    );
}
on_every_backend!(duplicate_imdb_id_is_a_clear_error);

/// Deleting a row (a movie TMDB removed, a person no movie uses any more) makes the database
/// find the rows pointing at it; without an index on the pointing column that reads the
/// whole table once per row deleted. So every foreign-key column leads an index, but those
/// pointing at `external_sources`, the seed's few rows that popctl never deletes.
async fn every_foreign_key_column_leads_an_index(t: TestDb) {
    let sql = match t.backend {
        Backend::Postgres => {
            "SELECT c.conrelid::regclass::text || '.' || a.attname || ' -> ' \
             || c.confrelid::regclass::text AS fk \
             FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace \
             AND NOT EXISTS (SELECT 1 FROM pg_index i \
               WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]) \
             ORDER BY 1"
        }
        _ => {
            "SELECT m.name || '.' || f.\"from\" || ' -> ' || f.\"table\" AS fk \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table' AND f.seq = 0 \
             AND NOT EXISTS (SELECT 1 FROM pragma_index_list(m.name) il, \
               pragma_index_info(il.name) ii WHERE ii.seqno = 0 AND ii.name = f.\"from\") \
             ORDER BY 1"
        }
    };
    let rows =
        t.db.query_all_raw(sea_orm::Statement::from_string(
            t.db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap();
    let unindexed: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "fk").unwrap())
        .collect();
    assert_eq!(
        unindexed,
        [
            "external_ratings.source -> external_sources",
            "movie_enrichment.source -> external_sources",
        ],
        "foreign keys without an index on their column"
    );
}
on_every_backend!(every_foreign_key_column_leads_an_index);

/// The statements the pool's connections keep, in all, once every one is back in the pool.
async fn cached_statements(db: &sea_orm::DatabaseConnection) -> usize {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => in_pool(db.get_postgres_connection_pool()).await,
        _ => in_pool(db.get_sqlite_connection_pool()).await,
    }
}

async fn in_pool<DB: sea_orm::sqlx::Database + sea_orm::sqlx::database::HasStatementCache>(
    pool: &sea_orm::sqlx::Pool<DB>,
) -> usize {
    use sea_orm::sqlx::Connection as _;
    let patience = std::time::Duration::from_secs(10);
    let idle = store::idle_connections(pool, patience).await;
    assert_eq!(idle.len(), pool.size() as usize, "every connection idle");
    let cached = idle.iter().map(|c| c.cached_statements_size()).sum();
    // Back in the pool before what follows looks for idle connections (each goes back in a
    // task of its own; the idle count reads wrapped below zero only while one is taken).
    drop(idle);
    let back = tokio::time::Instant::now() + patience;
    while pool.num_idle() != pool.size() as usize && tokio::time::Instant::now() < back {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    cached
}

/// What a stage's saves prepared is given back when it ends (`forget_statements`), and the
/// next saves prepare again and write the same.
async fn prepared_statements_are_forgotten_and_prepared_again(t: TestDb) {
    let bundles = richest_bundles();
    for b in &bundles {
        t.save(b).await;
    }
    let before = store::digest(&t.db).await.unwrap();
    let cached = cached_statements(&t.db).await;
    assert!(cached > 10, "{cached} statements cached after saving");
    store::forget_statements(&t.db).await;
    assert_eq!(cached_statements(&t.db).await, 0);
    for b in &bundles {
        t.save(b).await;
    }
    assert_eq!(store::digest(&t.db).await.unwrap(), before);
    let again = cached_statements(&t.db).await;
    assert!(again > 10, "{again} statements cached after saving again");
}
on_every_backend!(prepared_statements_are_forgotten_and_prepared_again);
