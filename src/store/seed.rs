//! The `seed` stage: reference data from files under `data/` that users edit without touching
//! code — `seed/external_sources.toml`, `seed/genres.toml` (the 19 TMDB genres, used when the
//! plan has no TMDB source to ask), `seed/authorities.toml` — and the definitions (not the
//! items) of the curated lists in `lists/*.toml`.
//!
//! Seeding is an upsert by natural key: running it again changes only what the files changed.

use std::collections::BTreeMap;
use std::path::Path;

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Value};
use serde::Deserialize;

use super::connect::begin;
use super::entities::{cultural_authorities, curated_lists, external_sources, genres};
use super::error::StoreError;
use super::sql::{OnExisting, upsert};
use crate::lists::{Authority, AuthorityKind, CuratedList, load_lists};
use crate::plan::SeedSet;

/// Rows written per set, and notes for the user (e.g. conflicting authority definitions).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SeedStats {
    pub external_sources: u64,
    pub genres: u64,
    pub authorities: u64,
    pub lists: u64,
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesFile {
    sources: Vec<SourceRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceRow {
    name: String,
    display_name: String,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthoritiesFile {
    authorities: Vec<Authority>,
}

fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, StoreError> {
    let text = std::fs::read_to_string(path).map_err(|e| StoreError::SeedFile {
        path: path.display().to_string(),
        message: format!("cannot read: {e}"),
    })?;
    toml::from_str(&text).map_err(|e| StoreError::SeedFile {
        path: path.display().to_string(),
        message: e.to_string().trim_end().to_owned(),
    })
}

/// Seeds `sets` from the files under `data_dir`. `genres` are TMDB's (from
/// `/genre/movie/list`, see `sources::tmdb::mapping::genre_list`) when the runner has a TMDB
/// source; otherwise `seed/genres.toml` is used. One transaction: all or nothing.
pub async fn seed(
    db: &DatabaseConnection,
    sets: &[SeedSet],
    genres: Option<Vec<(i64, String)>>,
    data_dir: &Path,
) -> Result<SeedStats, StoreError> {
    let mut sets = sets.to_vec();
    sets.sort();
    sets.dedup();
    let mut stats = SeedStats::default();
    let seed_dir = data_dir.join("seed");

    // Read and check every file before writing anything.
    let sources_rows = if sets.contains(&SeedSet::ExternalSources) {
        let path = seed_dir.join("external_sources.toml");
        let file: SourcesFile = read_toml(&path)?;
        for s in &file.sources {
            if s.name.trim().is_empty() {
                return Err(StoreError::SeedFile {
                    path: path.display().to_string(),
                    message: "a source has an empty name".into(),
                });
            }
        }
        Some(file.sources)
    } else {
        None
    };
    let genre_rows = if sets.contains(&SeedSet::Genres) {
        Some(match genres {
            Some(g) => g,
            None => {
                let path = crate::genres::file(data_dir);
                crate::genres::read(&path)
                    .map_err(|message| StoreError::SeedFile {
                        path: path.display().to_string(),
                        message,
                    })?
                    .into_iter()
                    .map(|g| (g.id, g.name))
                    .collect()
            }
        })
    } else {
        None
    };
    let lists = if sets.contains(&SeedSet::Lists) || sets.contains(&SeedSet::Authorities) {
        load_lists(&data_dir.join("lists"))?
    } else {
        Vec::new()
    };
    let mut authorities: BTreeMap<String, (AuthorityKind, f64)> = BTreeMap::new();
    if sets.contains(&SeedSet::Authorities) {
        let path = seed_dir.join("authorities.toml");
        let file: AuthoritiesFile = read_toml(&path)?;
        for a in file.authorities {
            if !(0.0..=1.0).contains(&a.trust) || a.name.trim().is_empty() {
                return Err(StoreError::SeedFile {
                    path: path.display().to_string(),
                    message: format!(
                        "authority {:?}: needs a name and a trust from 0 to 1",
                        a.name
                    ),
                });
            }
            authorities.insert(a.name, (a.kind, a.trust));
        }
    }
    // List files name their authority; the authorities file wins where both define one.
    for list in &lists {
        let a = &list.authority;
        match authorities.get(&a.name) {
            None => {
                authorities.insert(a.name.clone(), (a.kind, a.trust));
            }
            Some((kind, trust)) if *kind != a.kind || *trust != a.trust => {
                stats.warnings.push(format!(
                    "{}: authority {:?} is defined as {} with trust {} in seed/authorities.toml; \
                     the list file's {} with trust {} is ignored",
                    list.file.display(),
                    a.name,
                    kind.as_str(),
                    trust,
                    a.kind.as_str(),
                    a.trust
                ));
            }
            Some(_) => {}
        }
    }

    let txn = begin(db).await?;
    if let Some(rows) = sources_rows {
        let mut rows = rows;
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        let rows: Vec<_> = rows
            .into_iter()
            .map(|s| external_sources::ActiveModel {
                name: Set(s.name),
                display_name: Set(s.display_name),
                url: Set(s.url),
                ..Default::default()
            })
            .collect();
        stats.external_sources = upsert(&txn, OnExisting::UPDATE, rows)
            .await
            .map_err(StoreError::query("seeding external sources"))?;
    }
    if let Some(rows) = genre_rows {
        let map: BTreeMap<i64, String> = rows.into_iter().collect();
        let rows = map
            .into_iter()
            .map(|(id, name)| genres::ActiveModel::seeded(id, name))
            .collect();
        stats.genres = upsert(&txn, OnExisting::UPDATE, rows)
            .await
            .map_err(StoreError::query("seeding genres"))?;
    }
    if !authorities.is_empty() {
        let rows = authorities
            .iter()
            .map(|(name, (kind, trust))| {
                cultural_authorities::ActiveModel::new(name, *kind, *trust)
            })
            .collect();
        stats.authorities = upsert(&txn, OnExisting::UPDATE, rows)
            .await
            .map_err(StoreError::query("seeding cultural authorities"))?;
    }
    if sets.contains(&SeedSet::Lists) {
        for list in &lists {
            let authority_id = authority_id(&txn, &list.authority.name).await?;
            stats.lists += upsert_list_definitions(&txn, &mut [(authority_id, list)])
                .await
                .map_err(StoreError::query(format!(
                    "seeding list {}",
                    list.file.display()
                )))?;
        }
    }
    txn.commit()
        .await
        .map_err(StoreError::query("committing the seed"))?;
    Ok(stats)
}

/// Upserts the definitions (not the items) of `lists`, each with its authority's row id, by
/// (authority, name, year). Sorts `lists` by that key first, for the lock order.
pub(crate) async fn upsert_list_definitions<C: ConnectionTrait>(
    conn: &C,
    lists: &mut [(i64, &CuratedList)],
) -> Result<u64, DbErr> {
    lists.sort_by(|a, b| (a.0, &a.1.name, a.1.year).cmp(&(b.0, &b.1.name, b.1.year)));
    let rows = lists
        .iter()
        .map(|(authority_id, list)| curated_lists::ActiveModel::definition(*authority_id, list))
        .collect();
    upsert(conn, OnExisting::UPDATE, rows).await
}

async fn authority_id<C: ConnectionTrait>(conn: &C, name: &str) -> Result<i64, StoreError> {
    let stmt = Query::select()
        .column("id")
        .from("cultural_authorities")
        .and_where(Expr::col("name").eq(Value::from(name)))
        .to_owned();
    let what = || format!("looking up authority {name:?}");
    let row = conn
        .query_one(&stmt)
        .await
        .map_err(StoreError::query(what()))?
        .ok_or_else(|| StoreError::Query {
            what: what(),
            source: sea_orm::DbErr::RecordNotFound(name.to_owned()),
        })?;
    row.try_get("", "id").map_err(StoreError::query(what()))
}
