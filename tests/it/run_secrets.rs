//! Real runs with keys and a database password that must reach no output: not stdout or
//! stderr (logs at trace level included), not the report file, not the report in
//! `import_runs`, not the stored raw bodies, even when the API echoes the key in its bodies.

#![expect(
    clippy::disallowed_methods,
    reason = "tests call the simulator with a plain client and read the database back, and break it on purpose, by SQL as a user's psql would"
)]
#![allow(clippy::unwrap_used)]

use popctl::sim::{Catalog, Faults, ListKind, SandboxConfig};
use sea_orm::{ConnectionTrait, Statement};

use crate::run_support::*;

const TMDB_KEY: &str = "tmdbKEY-leak-9Qx7Zp";
const OMDB_KEY: &str = "omdbKEY-leak-4Wv2Lm";
const DB_PASSWORD: &str = "dbPASS-leak-3Kq8Zt";

/// The simulator with the keys above, a few server errors (so retries are logged), and every
/// details answer of the first popular page echoing its query, key included.
fn echoing_sim() -> SandboxConfig {
    let mut config = SandboxConfig {
        tmdb_key: TMDB_KEY.into(),
        omdb_key: OMDB_KEY.into(),
        faults: Faults {
            p500: 0.15,
            ..Faults::none()
        },
        ..small_sim()
    };
    let catalog = Catalog::generate(config.seed, config.movies, config.today);
    config.odd_movies.echo_query = catalog.list_ids(ListKind::Popular)[..20].to_vec();
    config
}

fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "`{s}` found in {what}:\n{text}");
    }
}

/// The text of every row of `column` in `table`.
async fn texts(db: &sea_orm::DatabaseConnection, table: &str, column: &str) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT {column} FROM {table}"),
        ))
        .await
        .unwrap();
    rows.iter()
        .filter_map(|r| r.try_get_by_index::<Option<String>>(0).unwrap())
        .collect()
}

/// Runs the quick plan into `url` at trace level with a report; checks every output for the
/// secrets and returns the database.
async fn run_and_check(env: &Env, url: &str, secrets: &[&str]) -> sea_orm::DatabaseConnection {
    // The echo is on: a details answer holds the key.
    let id = env.sim.catalog().list_ids(ListKind::Popular)[0];
    let body = reqwest::get(format!(
        "{}/movie/{id}?api_key={TMDB_KEY}",
        env.sim.tmdb_base_url()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(body.contains(TMDB_KEY), "{body}");

    let report = env.path("report.json");
    let mut sets = quick(1);
    sets.push("defaults.retry.attempts=12".into());
    sets.push("stages.omdb.retry.attempts=12".into());
    let out = output(env.quick(url, &sets, &["-vvv", "--report", report.to_str().unwrap()])).await;
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("retrying"),
        "faults were met and logged"
    );
    assert!(stderr(&out).contains("DEBUG"), "debug lines were written");
    assert_hidden("stdout", &stdout(&out), secrets);
    assert_hidden("stderr", &stderr(&out), secrets);
    assert_hidden(
        "the report file",
        &std::fs::read_to_string(&report).unwrap(),
        secrets,
    );

    let db = connect(url).await;
    let stats = texts(&db, "import_runs", "stats").await;
    assert!(!stats.is_empty());
    for s in &stats {
        assert_hidden("import_runs.stats", s, secrets);
    }
    for body in texts(&db, "movie_raw_json", "body").await {
        assert_hidden("movie_raw_json", &body, secrets);
    }
    // The echoed TMDB bodies were not stored; the OMDb ones, which echo nothing, were.
    assert_eq!(count(&db, "movies").await, 20);
    assert_eq!(count(&db, "movie_raw_json WHERE source = 'tmdb'").await, 0);
    assert!(count(&db, "movie_raw_json WHERE source = 'omdb'").await > 0);
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_reach_no_output_even_when_the_api_echoes_them() {
    let env = Env::new(echoing_sim()).await;
    let url = env.sqlite("secrets.db");
    let db = run_and_check(&env, &url, &[TMDB_KEY, OMDB_KEY]).await;
    db.close().await.unwrap();
    // Nor any file the run wrote: the database, its journal, the report.
    for file in files_under(env.dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert_hidden(&file.display().to_string(), &text, &[TMDB_KEY, OMDB_KEY]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_password_reaches_no_output() {
    let Some(url) = crate::store_db::fresh_pg_url().await else {
        return;
    };
    // The test server trusts its clients: the password is sent and ignored.
    let mut with_password = url::Url::parse(&url).unwrap();
    with_password.set_password(Some(DB_PASSWORD)).unwrap();
    let env = Env::new(echoing_sim()).await;
    run_and_check(
        &env,
        with_password.as_str(),
        &[TMDB_KEY, OMDB_KEY, DB_PASSWORD],
    )
    .await;
}

/// A one-letter key is never shown, but is not searched for in text either: every `e` of the
/// output would become `***`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_letter_key_does_not_mangle_the_output() {
    let env = Env::new(SandboxConfig {
        tmdb_key: "e".into(),
        ..small_sim()
    })
    .await;
    let url = env.sqlite("short.db");
    let report = env.path("report.json");
    let out = output(env.quick(&url, &quick(1), &["--report", report.to_str().unwrap()])).await;
    assert_exit(&out, 0);
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(report.contains("\"peak_rss_bytes\""), "{report}");
    assert!(!report.contains("***"), "{report}");
    assert!(!stderr(&out).contains("***"), "{}", stderr(&out));
}
