//! SeaORM entities, one file per table family, re-exported flat: `entities::movies::Entity`.
//!
//! They mirror the migrations in the `migration` crate, which own the schema; a test checks
//! every entity against the migrated schema on SQLite and PostgreSQL.

mod curation;
mod ledger;
mod movie;
mod parts;
mod reference;

pub use curation::{cri_scores, curated_lists, movie_list_items};
pub use ledger::{
    catalog_sync, import_budgets, import_items, import_quotas, import_runs, import_stages,
    import_worker_stages, import_workers,
};
pub use movie::{movie_raw_json, movies};
pub(crate) use parts::MovieRows;
pub use parts::{
    external_ratings, movie_alternative_titles, movie_credits, movie_enrichment, movie_genres,
    movie_images, movie_keywords, movie_production_companies, movie_production_countries,
    movie_recommendations, movie_release_dates, movie_spoken_languages, movie_translations,
    movie_videos, movie_watch_providers, reviews,
};
pub(crate) use reference::{Provenance, SharedTable};
pub use reference::{
    collections, cultural_authorities, external_sources, genres, keywords, people, person_images,
    person_translations, production_companies, production_countries, spoken_languages,
};
