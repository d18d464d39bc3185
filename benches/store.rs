//! Saving 2,000 movies built from the real TMDB fixtures (ids varied, people, keywords and
//! companies shared) into a SQLite file and into PostgreSQL, and for PostgreSQL a `COPY` of the
//! very rows the saves wrote, for scale. Prints figures; asserts nothing about time.
//!
//! Then, on copies of the saved database with every recommendation linked, deleting 1% of the
//! movies with and without the index on `recommended_movie_id`, alternately.
//!
//! `cargo bench --bench store` (SQLite only), or `scripts/with-pg cargo bench --bench store`
//! for PostgreSQL as well (`POPCTL_TEST_PG` names the server). `POPCTL_BENCH_MOVIES` changes
//! the count.

#![expect(
    clippy::disallowed_methods,
    reason = "the bench prepares and reads back its database by SQL"
)]
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use popctl::sources::tmdb::mapping::movie_bundle;
use popctl::store::{self, MovieBundle};
use sea_orm::sqlx::{Connection, postgres::PgConnection};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// Tables in foreign-key order, for the COPY reference.
const TABLES: [&str; 32] = [
    "collections",
    "genres",
    "keywords",
    "people",
    "person_images",
    "person_translations",
    "production_companies",
    "production_countries",
    "spoken_languages",
    "external_sources",
    "cultural_authorities",
    "movies",
    "movie_raw_json",
    "movie_genres",
    "movie_keywords",
    "movie_production_companies",
    "movie_production_countries",
    "movie_spoken_languages",
    "movie_credits",
    "movie_videos",
    "movie_release_dates",
    "movie_images",
    "movie_alternative_titles",
    "movie_translations",
    "movie_watch_providers",
    "movie_recommendations",
    "reviews",
    "external_ratings",
    "movie_enrichment",
    "curated_lists",
    "movie_list_items",
    "cri_scores",
];

fn bundles(count: usize) -> Vec<MovieBundle> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tmdb/movie_details");
    let mut best: BTreeMap<i64, MovieBundle> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures/tmdb/movie_details") {
        let body = std::fs::read(entry.unwrap().path()).unwrap();
        let b = movie_bundle(&body).unwrap();
        let better = best
            .get(&b.tmdb_id())
            .is_none_or(|old| b.row_count() > old.row_count());
        if better {
            best.insert(b.tmdb_id(), b);
        }
    }
    let base: Vec<_> = best.into_values().collect();
    // POPCTL_BENCH_NO_RAW leaves the raw bodies out, to see what storing them costs.
    let strip = std::env::var_os("POPCTL_BENCH_NO_RAW").is_some();
    (0..count)
        .map(|i| {
            let mut b = base[i % base.len()].renumbered(i as i64 + 1);
            if strip {
                b.raw_body = None;
            }
            b
        })
        .collect()
}

struct Figures {
    elapsed: Duration,
    movies: usize,
    rows: u64,
}

impl Figures {
    fn print(&self, label: &str) {
        let secs = self.elapsed.as_secs_f64();
        println!(
            "{label:<34} {:>6} movies in {:>7.2} s = {:>7.1} movies/s, {:>9.0} rows/s ({} rows)",
            self.movies,
            secs,
            self.movies as f64 / secs,
            self.rows as f64 / secs,
            self.rows
        );
    }
}

async fn save_all(db: &DatabaseConnection, bundles: &[MovieBundle], tasks: usize) -> Figures {
    let start = Instant::now();
    let rows: u64 = futures::stream::iter(bundles)
        .map(|b| async move { store::save_movie(db, b, 0).await.unwrap().written })
        .buffer_unordered(tasks)
        .fold(0, |acc, n| async move { acc + n })
        .await;
    Figures {
        elapsed: start.elapsed(),
        movies: bundles.len(),
        rows,
    }
}

async fn sqlite(bundles: &[MovieBundle]) {
    let dir = tempfile::tempdir().unwrap();
    for tasks in [1, 8] {
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let _ = std::fs::remove_file(dir.path().join("bench.db"));
        let db = store::connect(&url).await.unwrap();
        store::migrate(&db).await.unwrap();
        save_all(&db, bundles, tasks)
            .await
            .print(&format!("sqlite file, {tasks} task(s)"));
        let again = save_all(&db, bundles, tasks).await;
        again.print(&format!("sqlite file, {tasks} task(s), re-save"));
        db.close().await.ok();
    }
    let saved = dir.path().join("bench.db");
    let linked = link_all(&format!("sqlite://{}", saved.display()), bundles.len()).await;
    let copies: Vec<String> = (0..6)
        .map(|n| {
            let copy = dir.path().join(format!("delete-{n}.db"));
            std::fs::copy(&saved, &copy).unwrap();
            format!("sqlite://{}", copy.display())
        })
        .collect();
    deletes("sqlite file", &copies, bundles.len(), linked).await;
}

async fn fresh_pg(server: &str, name: &str) -> String {
    let admin = sea_orm::Database::connect(server).await.unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin
            .execute_raw(Statement::from_string(sea_orm::DbBackend::Postgres, sql))
            .await
            .unwrap();
    }
    let mut url = url::Url::parse(server).unwrap();
    url.set_path(name);
    url.to_string()
}

async fn postgres(bundles: &[MovieBundle], server: &str) {
    let mut saved_url = String::new();
    let mut saved = None;
    for tasks in [1, 8] {
        let url = fresh_pg(server, &format!("popctl_bench_{tasks}")).await;
        let db = store::connect(&url).await.unwrap();
        store::migrate(&db).await.unwrap();
        let figures = save_all(&db, bundles, tasks).await;
        figures.print(&format!("postgres, {tasks} task(s)"));
        save_all(&db, bundles, tasks)
            .await
            .print(&format!("postgres, {tasks} task(s), re-save"));
        db.close().await.ok();
        if tasks == 8 {
            saved = Some(figures);
            saved_url = url;
        }
    }
    let saved = saved.unwrap();

    let linked = link_all(&saved_url, bundles.len()).await;
    let admin = sea_orm::Database::connect(server).await.unwrap();
    let template = url::Url::parse(&saved_url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    let mut copies = Vec::new();
    for n in 0..6 {
        let name = format!("popctl_bench_delete_{n}");
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name} TEMPLATE {template}"),
        ] {
            admin.execute_unprepared(&sql).await.unwrap();
        }
        let mut url = url::Url::parse(server).unwrap();
        url.set_path(&name);
        copies.push(url.to_string());
    }
    admin.close().await.ok();
    deletes("postgres", &copies, bundles.len(), linked).await;

    // COPY the rows the saves wrote into an empty copy of the schema.
    let mut data = Vec::new();
    let mut source = PgConnection::connect(&saved_url).await.unwrap();
    for table in TABLES {
        let chunks: Vec<_> = source
            .copy_out_raw(&format!("COPY {table} TO STDOUT"))
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        data.push((table, chunks.concat()));
    }
    let target_url = fresh_pg(server, "popctl_bench_copy").await;
    let db = store::connect(&target_url).await.unwrap();
    store::migrate(&db).await.unwrap();
    // The migration's own rows would collide with the copied ones.
    db.execute_unprepared("TRUNCATE external_sources CASCADE")
        .await
        .unwrap();
    db.close().await.ok();
    let mut target = PgConnection::connect(&target_url).await.unwrap();
    let start = Instant::now();
    let mut rows = 0;
    for (table, bytes) in &data {
        let mut copy = target
            .copy_in_raw(&format!("COPY {table} FROM STDIN"))
            .await
            .unwrap();
        copy.send(bytes.as_slice()).await.unwrap();
        rows += copy.finish().await.unwrap();
    }
    let copy = Figures {
        elapsed: start.elapsed(),
        movies: bundles.len(),
        rows,
    };
    copy.print("postgres COPY of the same rows");
    println!(
        "{:<34} {:.1}x the time of COPY ({} rows saved vs {} copied, counting the upserts' \
         rows; COPY counts final rows)",
        "postgres save (8 tasks) vs COPY",
        saved.elapsed.as_secs_f64() / copy.elapsed.as_secs_f64(),
        saved.rows,
        rows
    );
}

/// One movie in this many is deleted by [`deletes`]: 1%, about what TMDB removes in five days.
const DELETE_ONE_IN: usize = 100;

/// Links every `movie_recommendations` row to a movie of the database at `url`, as in a mirror
/// of the whole catalog (the bench's renumbered bundles recommend movies it does not have);
/// returns the rows, and the TMDB ids of one movie in [`DELETE_ONE_IN`].
async fn link_all(url: &str, movies: usize) -> (i64, Vec<i64>) {
    let db = store::connect(url).await.unwrap();
    let link = format!(
        "UPDATE movie_recommendations SET recommended_movie_id = m.id \
         FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS k FROM movies) m \
         WHERE m.k = movie_recommendations.id % {movies}"
    );
    db.execute_unprepared(&link).await.unwrap();
    let rows = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM movie_recommendations",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    let doomed = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT tmdb_id FROM movies ORDER BY id",
        ))
        .await
        .unwrap()
        .iter()
        .step_by(DELETE_ONE_IN)
        .map(|r| r.try_get::<i64>("", "tmdb_id").unwrap())
        .collect();
    db.close().await.ok();
    (rows, doomed)
}

/// Deleting 1% of the movies (about what TMDB removes in five days) from copies of one linked
/// database (`copies`, two per round), with the index on `recommended_movie_id` (migration
/// 14) and without it: `ON DELETE SET NULL` then reads the whole table once per movie deleted.
/// Rounds alternate the two.
async fn deletes(label: &str, copies: &[String], movies: usize, (rows, doomed): (i64, Vec<i64>)) {
    for pair in copies.chunks(2) {
        for (url, indexed) in pair.iter().zip([true, false]) {
            let db = store::connect(url).await.unwrap();
            if !indexed {
                db.execute_unprepared("DROP INDEX ix_movie_recommendations_recommended_movie_id")
                    .await
                    .unwrap();
            }
            let start = Instant::now();
            let removed = store::catalog::delete_movies(&db, &doomed).await.unwrap();
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(removed.movies, doomed.len() as u64);
            let index = if indexed { "indexed" } else { "no index" };
            println!(
                "{label}, delete {} of {movies} movies ({rows} recommendation rows), {index}: \
                 {secs:.3} s",
                doomed.len()
            );
            db.close().await.ok();
        }
    }
}

fn main() {
    let count = std::env::var("POPCTL_BENCH_MOVIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let bundles = bundles(count);
    let rows: usize = bundles.iter().map(MovieBundle::row_count).sum();
    println!("{count} bundles from the TMDB fixtures, {rows} rows at most");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sqlite(&bundles).await;
        match std::env::var("POPCTL_TEST_PG") {
            Ok(server) if !server.is_empty() => postgres(&bundles, &server).await,
            _ => println!("postgres: skipped (POPCTL_TEST_PG unset; use scripts/with-pg)"),
        }
    });
}
