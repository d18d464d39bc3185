//! A canonical digest of the database's content, to compare two databases: SQLite with
//! PostgreSQL, a resumed run with an uninterrupted one, a second import with the first.
//!
//! Every data table is read row by row; each row becomes a canonical JSON line in which
//! surrogate ids are replaced by the natural keys they point at (a credit names its movie's and
//! person's TMDB ids) and bookkeeping times (`created_at`/`updated_at` of movies, `fetched_at`,
//! `checked_at`, `computed_at`, a person's `details_fetched_at`) are left out. Upstream times (a review's date) are content and
//! stay. A shared row's provenance (`src_run`, `src_movie_tmdb_id`: whose copy it holds, see
//! `save`) is left out too: it says how the row got there, not what the app reads, and the
//! values the rule picked are in the digest. The line hashes are summed (an order-free
//! multiset hash), so no sort is needed, the memory used does not grow with the database, and
//! the backends' collations do not matter.
//!
//! Left out as a whole: the migration bookkeeping table, the run ledger (`import_runs`,
//! `import_items`, and `import_workers`/`import_stages`/`import_budgets`/
//! `import_worker_stages`/`import_quotas` of runs shared by workers or with a daily quota),
//! which records how the data got there (attempts, times, run counts) and legitimately
//! differs between a resumed and an uninterrupted run of the same plan, and the
//! sync watermark (`catalog_sync`), which names the run that set it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use sea_orm::{DatabaseConnection, EntityTrait};
use serde_json::{Value as J, json};
use sha2::{Digest as _, Sha256};

use super::entities::*;
use super::error::StoreError;

/// The digest of one table: how many rows and the sum of their line hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableDigest {
    pub rows: u64,
    sum: [u64; 4],
}

impl TableDigest {
    fn add(&mut self, line: &str) {
        let hash = Sha256::digest(line.as_bytes());
        let mut carry = 0u128;
        for (i, limb) in self.sum.iter_mut().enumerate() {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&hash[i * 8..i * 8 + 8]);
            let v = u128::from(*limb) + u128::from(u64::from_le_bytes(bytes)) + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
        self.rows += 1;
    }

    pub fn hex(&self) -> String {
        self.sum.iter().map(|l| format!("{l:016x}")).collect()
    }
}

/// The digest of the whole database: a hex SHA-256 over every table's digest.
pub async fn digest(db: &DatabaseConnection) -> Result<String, StoreError> {
    Ok(combine(&table_digests(db).await?))
}

/// The digest of a database from its tables' digests (as [`table_digests`] gives them).
pub fn combine(tables: &BTreeMap<&'static str, TableDigest>) -> String {
    let mut hasher = Sha256::new();
    for (name, t) in tables {
        hasher.update(format!("{name}\t{}\t{}\n", t.rows, t.hex()));
    }
    hex::encode(hasher.finalize())
}

fn time(t: &DateTime<Utc>) -> J {
    J::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn opt_time(t: &Option<DateTime<Utc>>) -> J {
    t.as_ref().map_or(J::Null, time)
}

fn lookup<K: std::hash::Hash + Eq, V: Clone + Into<J>>(map: &HashMap<K, V>, key: &K) -> J {
    map.get(key).cloned().map_or(J::Null, Into::into)
}

async fn all_rows<E, F>(
    db: &DatabaseConnection,
    out: &mut BTreeMap<&'static str, TableDigest>,
    table: &'static str,
    line: F,
) -> Result<(), StoreError>
where
    E: EntityTrait,
    F: Fn(E::Model) -> J,
{
    let what = || format!("reading {table} for the digest");
    let mut stream = E::find()
        .stream(db)
        .await
        .map_err(StoreError::query(what()))?;
    let mut digest = TableDigest::default();
    while let Some(model) = stream.try_next().await.map_err(StoreError::query(what()))? {
        digest.add(&line(model).to_string());
    }
    out.insert(table, digest);
    Ok(())
}

async fn id_map<E, K, F>(db: &DatabaseConnection, key: F) -> Result<HashMap<i64, K>, StoreError>
where
    E: EntityTrait,
    F: Fn(E::Model) -> (i64, K),
{
    Ok(E::find()
        .all(db)
        .await
        .map_err(StoreError::query("reading keys for the digest"))?
        .into_iter()
        .map(key)
        .collect())
}

/// The digest of each data table, by table name.
pub async fn table_digests(
    db: &DatabaseConnection,
) -> Result<BTreeMap<&'static str, TableDigest>, StoreError> {
    let movies_ = id_map::<movies::Entity, _, _>(db, |m| (m.id, m.tmdb_id)).await?;
    let collections_ = id_map::<collections::Entity, _, _>(db, |m| (m.id, m.tmdb_id)).await?;
    let genres_ = id_map::<genres::Entity, _, _>(db, |m| (m.id, m.tmdb_id)).await?;
    let keywords_ = id_map::<keywords::Entity, _, _>(db, |m| (m.id, m.tmdb_id)).await?;
    let people_ = id_map::<people::Entity, _, _>(db, |m| (m.id, m.tmdb_id)).await?;
    let companies = id_map::<production_companies::Entity, _, _>(db, |m| (m.id, m.tmdb_id)).await?;
    let countries =
        id_map::<production_countries::Entity, _, _>(db, |m| (m.id, m.iso_3166_1)).await?;
    let languages = id_map::<spoken_languages::Entity, _, _>(db, |m| (m.id, m.iso_639_1)).await?;
    let authorities = id_map::<cultural_authorities::Entity, _, _>(db, |m| (m.id, m.name)).await?;
    let lists = id_map::<curated_lists::Entity, _, _>(db, |m| {
        let authority = lookup(&authorities, &m.authority_id);
        (m.id, json!([authority, m.name, m.year]))
    })
    .await?;
    let movie = |id: i64| lookup(&movies_, &id);

    let mut out = BTreeMap::new();
    let o = &mut out;
    all_rows::<collections::Entity, _>(db, o, "collections", |m| {
        json!([
            m.tmdb_id,
            m.name,
            m.poster_path,
            m.backdrop_path,
            m.overview
        ])
    })
    .await?;
    all_rows::<genres::Entity, _>(db, o, "genres", |m| json!([m.tmdb_id, m.name])).await?;
    all_rows::<keywords::Entity, _>(db, o, "keywords", |m| json!([m.tmdb_id, m.name])).await?;
    all_rows::<people::Entity, _>(db, o, "people", |m| {
        json!([
            m.tmdb_id,
            m.name,
            m.original_name,
            m.gender,
            m.known_for_department,
            m.profile_path,
            m.popularity,
            m.adult,
            m.biography,
            m.birthday.map(|d| d.to_string()),
            m.deathday.map(|d| d.to_string()),
            m.place_of_birth,
            m.imdb_id,
            m.homepage,
            m.also_known_as
        ])
    })
    .await?;
    all_rows::<person_images::Entity, _>(db, o, "person_images", |m| {
        json!([
            lookup(&people_, &m.person_id),
            m.file_path,
            m.iso_639_1,
            m.width,
            m.height,
            m.aspect_ratio,
            m.vote_average,
            m.vote_count
        ])
    })
    .await?;
    all_rows::<person_translations::Entity, _>(db, o, "person_translations", |m| {
        json!([
            lookup(&people_, &m.person_id),
            m.iso_639_1,
            m.iso_3166_1,
            m.name,
            m.english_name,
            m.biography
        ])
    })
    .await?;
    all_rows::<production_companies::Entity, _>(db, o, "production_companies", |m| {
        json!([m.tmdb_id, m.name, m.logo_path, m.origin_country])
    })
    .await?;
    all_rows::<production_countries::Entity, _>(db, o, "production_countries", |m| {
        json!([m.iso_3166_1, m.name])
    })
    .await?;
    all_rows::<spoken_languages::Entity, _>(db, o, "spoken_languages", |m| {
        json!([m.iso_639_1, m.name, m.english_name])
    })
    .await?;
    all_rows::<external_sources::Entity, _>(db, o, "external_sources", |m| {
        json!([m.name, m.display_name, m.url])
    })
    .await?;
    all_rows::<cultural_authorities::Entity, _>(db, o, "cultural_authorities", |m| {
        json!([m.name, m.kind, m.trust])
    })
    .await?;
    all_rows::<movies::Entity, _>(db, o, "movies", |m| {
        json!([
            m.tmdb_id,
            m.imdb_id,
            m.title,
            m.original_title,
            m.original_language,
            m.overview,
            m.tagline,
            m.status,
            m.release_date.map(|d| d.to_string()),
            m.runtime,
            m.budget,
            m.revenue,
            m.popularity,
            m.vote_average,
            m.vote_count,
            m.adult,
            m.homepage,
            m.poster_path,
            m.backdrop_path,
            m.collection_id.map(|id| lookup(&collections_, &id)),
            m.origin_country,
            m.rated,
            m.awards_text,
            m.oscar_wins,
            m.oscar_nominations,
            m.award_wins,
            m.award_nominations,
            m.box_office_usd,
            m.removed_on.map(|d| d.to_string())
        ])
    })
    .await?;
    all_rows::<movie_raw_json::Entity, _>(db, o, "movie_raw_json", |m| {
        json!([movie(m.movie_id), m.source, m.body])
    })
    .await?;
    all_rows::<movie_genres::Entity, _>(db, o, "movie_genres", |m| {
        json!([movie(m.movie_id), lookup(&genres_, &m.genre_id)])
    })
    .await?;
    all_rows::<movie_keywords::Entity, _>(db, o, "movie_keywords", |m| {
        json!([movie(m.movie_id), lookup(&keywords_, &m.keyword_id)])
    })
    .await?;
    all_rows::<movie_production_companies::Entity, _>(db, o, "movie_production_companies", |m| {
        json!([movie(m.movie_id), lookup(&companies, &m.company_id)])
    })
    .await?;
    all_rows::<movie_production_countries::Entity, _>(db, o, "movie_production_countries", |m| {
        json!([movie(m.movie_id), lookup(&countries, &m.country_id)])
    })
    .await?;
    all_rows::<movie_spoken_languages::Entity, _>(db, o, "movie_spoken_languages", |m| {
        json!([movie(m.movie_id), lookup(&languages, &m.language_id)])
    })
    .await?;
    all_rows::<movie_credits::Entity, _>(db, o, "movie_credits", |m| {
        json!([
            m.credit_id,
            movie(m.movie_id),
            lookup(&people_, &m.person_id),
            m.credit_type,
            m.character,
            m.cast_order,
            m.department,
            m.job
        ])
    })
    .await?;
    all_rows::<movie_videos::Entity, _>(db, o, "movie_videos", |m| {
        json!([
            m.tmdb_video_id,
            movie(m.movie_id),
            m.name,
            m.site,
            m.video_key,
            m.video_type,
            m.size,
            m.official,
            m.iso_639_1,
            m.iso_3166_1,
            opt_time(&m.published_at)
        ])
    })
    .await?;
    all_rows::<movie_release_dates::Entity, _>(db, o, "movie_release_dates", |m| {
        json!([
            movie(m.movie_id),
            m.iso_3166_1,
            m.release_type,
            m.release_date.to_string(),
            m.iso_639_1,
            m.note,
            m.certification
        ])
    })
    .await?;
    all_rows::<movie_images::Entity, _>(db, o, "movie_images", |m| {
        json!([
            movie(m.movie_id),
            m.file_path,
            m.kind,
            m.iso_639_1,
            m.width,
            m.height,
            m.aspect_ratio,
            m.vote_average,
            m.vote_count
        ])
    })
    .await?;
    all_rows::<movie_alternative_titles::Entity, _>(db, o, "movie_alternative_titles", |m| {
        json!([movie(m.movie_id), m.iso_3166_1, m.title, m.title_type])
    })
    .await?;
    all_rows::<movie_translations::Entity, _>(db, o, "movie_translations", |m| {
        json!([
            movie(m.movie_id),
            m.iso_639_1,
            m.iso_3166_1,
            m.name,
            m.english_name,
            m.title,
            m.overview,
            m.tagline,
            m.homepage,
            m.runtime
        ])
    })
    .await?;
    all_rows::<movie_watch_providers::Entity, _>(db, o, "movie_watch_providers", |m| {
        json!([
            movie(m.movie_id),
            m.iso_3166_1,
            m.monetization_type,
            m.provider_id,
            m.provider_name,
            m.logo_path,
            m.display_priority,
            m.link
        ])
    })
    .await?;
    all_rows::<movie_recommendations::Entity, _>(db, o, "movie_recommendations", |m| {
        json!([
            movie(m.movie_id),
            m.kind,
            m.recommended_tmdb_id,
            m.recommended_movie_id.map(movie),
            m.rank,
            m.score
        ])
    })
    .await?;
    all_rows::<reviews::Entity, _>(db, o, "reviews", |m| {
        json!([
            m.tmdb_review_id,
            movie(m.movie_id),
            m.author,
            m.author_username,
            m.rating,
            m.content,
            opt_time(&m.created_at),
            opt_time(&m.updated_at),
            m.url
        ])
    })
    .await?;
    all_rows::<external_ratings::Entity, _>(db, o, "external_ratings", |m| {
        json!([movie(m.movie_id), m.source, m.metric, m.value, m.scale])
    })
    .await?;
    all_rows::<movie_enrichment::Entity, _>(db, o, "movie_enrichment", |m| {
        json!([movie(m.movie_id), m.source, m.state, m.reason])
    })
    .await?;
    all_rows::<curated_lists::Entity, _>(db, o, "curated_lists", |m| {
        json!([
            lookup(&authorities, &m.authority_id),
            m.name,
            m.year,
            m.list_type,
            m.source
        ])
    })
    .await?;
    all_rows::<movie_list_items::Entity, _>(db, o, "movie_list_items", |m| {
        json!([
            lookup(&lists, &m.list_id),
            movie(m.movie_id),
            m.award_category,
            m.position,
            m.award_result
        ])
    })
    .await?;
    all_rows::<cri_scores::Entity, _>(db, o, "cri_scores", |m| {
        json!([
            movie(m.movie_id),
            m.version,
            m.overall,
            m.timelessness,
            m.cultural_penetration,
            m.artistic_impact,
            m.institutional_recognition,
            m.public_reception,
            m.confidence
        ])
    })
    .await?;
    Ok(out)
}
