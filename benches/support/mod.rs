//! What the end-to-end benches (`run`, `workers`) share: the project root, a fresh
//! PostgreSQL database, and how many movies a database holds.

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Statement};

/// The project root: plans are given relative to it.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A new, empty database `name` on the PostgreSQL server at `server` (one left by an earlier
/// bench is dropped first); its URL.
pub async fn fresh_pg(server: &str, name: &str) -> String {
    let admin = sea_orm::Database::connect(server).await.unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin
            .execute_raw(Statement::from_string(sea_orm::DbBackend::Postgres, sql))
            .await
            .unwrap();
    }
    admin.close().await.ok();
    let mut url = url::Url::parse(server).unwrap();
    url.set_path(name);
    url.to_string()
}

/// The rows of `movies` in the database at `url`.
pub async fn movies_in(url: &str) -> i64 {
    let db = popctl::store::connect(url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM movies".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    let n = row.try_get_by_index::<i64>(0).unwrap();
    db.close().await.ok();
    n
}
