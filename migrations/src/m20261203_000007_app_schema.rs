//! The schema as a film app reads it: indexes for the queries such an app makes, the CRI
//! formula version as a number, and a view with each movie's ratings side by side.
//!
//! - Movies are listed by release date, popularity and title, and ranked by CRI score within a
//!   formula version; each of those gets an index.
//! - `cri_scores.version` held the formula version as text (`'1'`), so `version = 1` did not
//!   match on PostgreSQL and sorted as text everywhere; it becomes an integer. SQLite cannot
//!   change a column's type, so there the table is rebuilt (nothing references it).
//! - `movie_ratings`: one row per movie with IMDb, Rotten Tomatoes, Metacritic and TMDB ratings
//!   as columns, from `external_ratings` (one row per source and metric), NULL where unknown.

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::{drop_index, foreign_key, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `(index, column)` of the lookup indexes this migration adds to `movies`.
const MOVIE_INDEXES: [(&str, Movies); 3] = [
    ("ix_movies_release_date", Movies::ReleaseDate),
    ("ix_movies_popularity", Movies::Popularity),
    ("ix_movies_title", Movies::Title),
];

/// The view's columns: `(column, source, metric, integer)` over `external_ratings`.
const RATING_COLUMNS: [(&str, &str, &str, bool); 7] = [
    ("imdb_rating", "imdb", "rating", false),
    ("imdb_votes", "imdb", "votes", true),
    ("rotten_tomatoes", "rotten_tomatoes", "tomatometer", true),
    ("metacritic", "metacritic", "metascore", true),
    ("tmdb_vote_average", "tmdb", "vote_average", false),
    ("tmdb_vote_count", "tmdb", "vote_count", true),
    ("tmdb_popularity", "tmdb", "popularity", false),
];

/// `CREATE VIEW movie_ratings …`, the same text for both backends.
fn ratings_view() -> String {
    let columns: Vec<String> = RATING_COLUMNS
        .iter()
        .map(|(column, source, metric, integer)| {
            let value = format!(
                "MAX(CASE WHEN r.source = '{source}' AND r.metric = '{metric}' THEN r.value END)"
            );
            if *integer {
                format!("CAST({value} AS BIGINT) AS {column}")
            } else {
                format!("{value} AS {column}")
            }
        })
        .collect();
    format!(
        "CREATE VIEW movie_ratings AS SELECT m.id AS movie_id, m.tmdb_id, m.imdb_id, m.title, {} \
         FROM movies m LEFT JOIN external_ratings r ON r.movie_id = m.id \
         GROUP BY m.id, m.tmdb_id, m.imdb_id, m.title",
        columns.join(", ")
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // SQLite keeps a view whose tables were dropped (`Migrator::fresh` drops tables only),
        // so a fresh schema may still hold one from before.
        db.execute_unprepared("DROP VIEW IF EXISTS movie_ratings")
            .await?;
        for (name, column) in MOVIE_INDEXES {
            manager
                .create_index(index(name, Movies::Table, [column]))
                .await?;
        }
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "ALTER TABLE cri_scores ALTER COLUMN version TYPE integer \
                     USING version::integer",
                )
                .await?;
            }
            _ => rebuild_cri_scores(manager, CriVersion::Integer).await?,
        }
        manager
            .create_index(index(
                "ix_cri_scores_version_overall",
                CriScores::Table,
                [CriScores::Version, CriScores::Overall],
            ))
            .await?;
        db.execute_unprepared(&ratings_view()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP VIEW IF EXISTS movie_ratings")
            .await?;
        manager
            .drop_index(drop_index(
                "ix_cri_scores_version_overall",
                CriScores::Table,
            ))
            .await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "ALTER TABLE cri_scores ALTER COLUMN version TYPE varchar \
                     USING version::varchar",
                )
                .await?;
            }
            _ => rebuild_cri_scores(manager, CriVersion::Text).await?,
        }
        for (name, _) in MOVIE_INDEXES {
            manager.drop_index(drop_index(name, Movies::Table)).await?;
        }
        Ok(())
    }
}

/// The type `cri_scores.version` is rebuilt with.
#[derive(Clone, Copy)]
enum CriVersion {
    Integer,
    Text,
}

/// SQLite: `cri_scores` again with `version` of type `to`, rows copied (the version cast),
/// the old table dropped and the new one renamed into its place.
async fn rebuild_cri_scores(manager: &SchemaManager<'_>, to: CriVersion) -> Result<(), DbErr> {
    let (version, cast) = match to {
        CriVersion::Integer => (integer(CriScores::Version), "INTEGER"),
        CriVersion::Text => (string(CriScores::Version), "TEXT"),
    };
    manager
        .create_table(
            Table::create()
                .table(CriScoresNext::Table)
                .col(big_pk_auto(CriScores::Id))
                .col(big_integer(CriScores::MovieId))
                .col(version)
                .col(double(CriScores::Overall))
                .col(double(CriScores::Timelessness))
                .col(double(CriScores::CulturalPenetration))
                .col(double(CriScores::ArtisticImpact))
                .col(double(CriScores::InstitutionalRecognition))
                .col(double(CriScores::PublicReception))
                .col(double_null(CriScores::Confidence))
                .col(timestamp_with_time_zone(CriScores::ComputedAt))
                .foreign_key(&mut foreign_key(
                    "fk_cri_scores_movie",
                    (CriScoresNext::Table, CriScores::MovieId),
                    (Movies::Table, Movies::Id),
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
    let db = manager.get_connection();
    db.execute_unprepared(&format!(
        "INSERT INTO cri_scores_next (id, movie_id, version, overall, timelessness, \
         cultural_penetration, artistic_impact, institutional_recognition, public_reception, \
         confidence, computed_at) \
         SELECT id, movie_id, CAST(version AS {cast}), overall, timelessness, \
         cultural_penetration, artistic_impact, institutional_recognition, public_reception, \
         confidence, computed_at FROM cri_scores"
    ))
    .await?;
    manager
        .drop_table(Table::drop().table(CriScores::Table).to_owned())
        .await?;
    manager
        .rename_table(
            Table::rename()
                .table(CriScoresNext::Table, CriScores::Table)
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "ux_cri_scores_movie_version",
            CriScores::Table,
            [CriScores::MovieId, CriScores::Version],
        ))
        .await
}

#[derive(DeriveIden, Clone, Copy)]
enum Movies {
    Table,
    Id,
    Title,
    ReleaseDate,
    Popularity,
}

#[derive(DeriveIden)]
enum CriScores {
    Table,
    Id,
    MovieId,
    Version,
    Overall,
    Timelessness,
    CulturalPenetration,
    ArtisticImpact,
    InstitutionalRecognition,
    PublicReception,
    Confidence,
    ComputedAt,
}

#[derive(DeriveIden)]
enum CriScoresNext {
    Table,
}
