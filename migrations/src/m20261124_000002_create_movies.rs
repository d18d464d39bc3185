//! The `movies` table and, beside it, the raw upstream bodies (`movie_raw_json`), kept apart
//! so that listing movies never loads the blobs.

use sea_orm_migration::sea_orm::{DbBackend, Statement};
use sea_orm_migration::{prelude::*, schema::*};

use crate::{foreign_key, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Movies::Table)
                    .col(big_pk_auto(Movies::Id))
                    .col(big_integer(Movies::TmdbId))
                    .col(string_null(Movies::ImdbId))
                    .col(string(Movies::Title))
                    .col(string_null(Movies::OriginalTitle))
                    .col(string_null(Movies::OriginalLanguage))
                    .col(text_null(Movies::Overview))
                    .col(text_null(Movies::Tagline))
                    .col(string_null(Movies::Status))
                    .col(date_null(Movies::ReleaseDate))
                    .col(integer_null(Movies::Runtime))
                    .col(big_integer_null(Movies::Budget))
                    .col(big_integer_null(Movies::Revenue))
                    .col(double_null(Movies::Popularity))
                    .col(double_null(Movies::VoteAverage))
                    .col(big_integer_null(Movies::VoteCount))
                    .col(boolean(Movies::Adult))
                    .col(string_null(Movies::Homepage))
                    .col(string_null(Movies::PosterPath))
                    .col(string_null(Movies::BackdropPath))
                    .col(big_integer_null(Movies::CollectionId))
                    .col(string_null(Movies::OriginCountry))
                    .col(string_null(Movies::Rated))
                    .col(text_null(Movies::AwardsText))
                    .col(integer_null(Movies::OscarWins))
                    .col(integer_null(Movies::OscarNominations))
                    .col(integer_null(Movies::AwardWins))
                    .col(integer_null(Movies::AwardNominations))
                    .col(big_integer_null(Movies::BoxOfficeUsd))
                    .col(timestamp_with_time_zone(Movies::CreatedAt))
                    .col(timestamp_with_time_zone(Movies::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_movies_collection",
                        (Movies::Table, Movies::CollectionId),
                        (Collections::Table, Collections::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_movies_tmdb_id",
                Movies::Table,
                [Movies::TmdbId],
            ))
            .await?;
        // Unique only where present: both backends let several rows hold NULL.
        manager
            .create_index(unique_index(
                "ux_movies_imdb_id",
                Movies::Table,
                [Movies::ImdbId],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_movies_collection_id",
                Movies::Table,
                [Movies::CollectionId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MovieRawJson::Table)
                    .col(big_pk_auto(MovieRawJson::Id))
                    .col(big_integer(MovieRawJson::MovieId))
                    .col(string(MovieRawJson::Source))
                    .col(text(MovieRawJson::Body))
                    .col(timestamp_with_time_zone(MovieRawJson::FetchedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_raw_json_movie",
                        (MovieRawJson::Table, MovieRawJson::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_raw_json_movie_source",
                MovieRawJson::Table,
                [MovieRawJson::MovieId, MovieRawJson::Source],
            ))
            .await?;

        // Raw bodies average tens of KB and PostgreSQL compresses each one; lz4 does it several
        // times faster than the default pglz. Only where the server was built with lz4.
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            let lz4 = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' \
                     AND 'lz4' = ANY(enumvals)",
                ))
                .await?
                .is_some();
            if lz4 {
                db.execute_unprepared(
                    "ALTER TABLE movie_raw_json ALTER COLUMN body SET COMPRESSION lz4",
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MovieRawJson::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Movies::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Collections {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Movies {
    Table,
    Id,
    TmdbId,
    ImdbId,
    Title,
    OriginalTitle,
    OriginalLanguage,
    Overview,
    Tagline,
    Status,
    ReleaseDate,
    Runtime,
    Budget,
    Revenue,
    Popularity,
    VoteAverage,
    VoteCount,
    Adult,
    Homepage,
    PosterPath,
    BackdropPath,
    CollectionId,
    OriginCountry,
    Rated,
    AwardsText,
    OscarWins,
    OscarNominations,
    AwardWins,
    AwardNominations,
    BoxOfficeUsd,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MovieRawJson {
    Table,
    Id,
    MovieId,
    Source,
    Body,
    FetchedAt,
}
