//! `popctl db digest` and `db status` as a user runs them: the same data gives the same digest
//! (two SQLite files, two PostgreSQL databases, and across the two backends), one changed row
//! changes the digest and the hash of its table alone, and a database that is missing or not
//! popctl's is a clear error that creates and changes nothing.

#![expect(
    clippy::disallowed_methods,
    reason = "tests read the database back, and break it on purpose, by SQL as a user's psql would"
)]
#![allow(clippy::unwrap_used)]

use sea_orm::{ConnectionTrait, Statement};

use crate::run_support::*;

/// Changes one movie's title in the database at `url`.
async fn retitle_one_movie(url: &str) {
    let db = connect(url).await;
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        "UPDATE movies SET title = title || ' (edited)' WHERE id = (SELECT MIN(id) FROM movies)"
            .to_owned(),
    ))
    .await
    .unwrap();
    db.close().await.ok();
}

/// The tables whose rows or hash differ between two `db digest --format json` documents.
fn differing_tables(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let (a, b) = (
        a["tables"].as_object().unwrap(),
        b["tables"].as_object().unwrap(),
    );
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    a.iter()
        .filter(|(name, t)| b[name.as_str()] != **t)
        .map(|(name, _)| name.clone())
        .collect()
}

/// Two databases filled by the same run have the same digest; one changed row makes it
/// differ, in that row's table only.
async fn same_data_same_digest(a: String, b: String) {
    let env = Env::new(small_sim()).await;
    for url in [&a, &b] {
        assert_exit(&output(env.quick(url, &quick(1), &[])).await, 0);
    }
    let (da, db) = (digest_json(&a).await, digest_json(&b).await);
    assert_eq!(da["tables"]["movies"]["rows"], 20);
    assert_eq!(da["digest"], db["digest"], "{da}\n{db}");
    assert!(differing_tables(&da, &db).is_empty());

    retitle_one_movie(&b).await;
    let changed = digest_json(&b).await;
    assert_ne!(da["digest"], changed["digest"]);
    assert_eq!(differing_tables(&da, &changed), ["movies"]);
    assert_eq!(
        changed["tables"]["movies"]["rows"], 20,
        "a changed row, not a new one"
    );

    // The human form: a line per table (rows and the start of its hash), then the digest.
    let mut cmd = popctl();
    cmd.args(["db", "digest", "--url", &a]);
    let out = output(cmd).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["table", "rows", "hash"], "{text}");
    let hash = da["tables"]["movies"]["hash"].as_str().unwrap();
    assert!(lines.contains(&vec!["movies", "20", &hash[..12]]), "{text}");
    assert_eq!(
        text.lines().last().unwrap(),
        format!("database digest: {}", da["digest"].as_str().unwrap())
    );
    assert_eq!(lines.len(), da["tables"].as_object().unwrap().len() + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_data_has_the_same_digest_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = |n: &str| format!("sqlite://{}?mode=rwc", dir.path().join(n).display());
    same_data_same_digest(url("a.db"), url("b.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_data_has_the_same_digest_on_postgres_and_on_sqlite() {
    let Some(a) = crate::store_db::fresh_pg_url().await else {
        return;
    };
    let b = crate::store_db::fresh_pg_url().await.unwrap();
    same_data_same_digest(a.clone(), b).await;
    // The same run into SQLite: the same digest as on PostgreSQL.
    let env = Env::new(small_sim()).await;
    let sqlite = env.sqlite("same.db");
    assert_exit(&output(env.quick(&sqlite, &quick(1), &[])).await, 0);
    assert_eq!(digest(&sqlite).await, digest(&a).await);
}

/// `db digest`, `db status` and `status` on a SQLite file that is not there: "no database at",
/// exit 1, and still no file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_missing_database_is_an_error_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    // `mode=rwc` would create the file for a command that writes.
    let url = format!("sqlite://{}?mode=rwc", path.display());
    for args in [
        &["db", "digest", "--url"][..],
        &["db", "status", "--url"][..],
        &["status", "--url"][..],
    ] {
        let mut cmd = popctl();
        cmd.args(args).arg(&url);
        let out = output(cmd).await;
        assert_exit(&out, 1);
        let err = flat(&stderr(&out));
        assert!(
            err.contains(&format!("no database at {}", path.display())),
            "{args:?}: {err}"
        );
        assert!(!path.exists(), "{args:?} created {}", path.display());
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A database without popctl's schema: the digest says so, and the database is left as it
/// was (no migration table created).
async fn a_foreign_database_has_no_digest(url: &str) {
    let foreign = sea_orm::Database::connect(url).await.unwrap();
    let backend = foreign.get_database_backend();
    foreign
        .execute_raw(Statement::from_string(
            backend,
            "CREATE TABLE notes (body TEXT)".to_owned(),
        ))
        .await
        .unwrap();
    let mut cmd = popctl();
    cmd.args(["db", "digest", "--url", url]);
    let out = output(cmd).await;
    assert_exit(&out, 1);
    let err = flat(&stderr(&out));
    assert!(err.contains("holds no popctl schema"), "{err}");
    assert!(err.contains("popctl db migrate"), "{err}");
    let tables = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'"
        }
        _ => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
    };
    let row = foreign
        .query_one_raw(Statement::from_string(backend, tables.to_owned()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 1, "only `notes`");
    foreign.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_without_popctls_schema_has_no_digest() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("notes.db").display()
    );
    a_foreign_database_has_no_digest(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_without_popctls_schema_has_no_digest() {
    let Some(url) = crate::store_db::fresh_pg_url().await else {
        return;
    };
    a_foreign_database_has_no_digest(&url).await;
}
