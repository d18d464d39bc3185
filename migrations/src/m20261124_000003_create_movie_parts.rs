//! What belongs to one movie: the join tables to shared rows, credits, videos, release dates,
//! recommendations, reviews, external ratings and the per-source enrichment state.
//!
//! Every part has a unique index on its natural key (upstream id, or the columns that identify
//! a row within its movie), so a re-import updates rows in place instead of duplicating them.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{foreign_key, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The join tables: (table, column pointing at the shared row, shared table).
fn joins() -> [(&'static str, &'static str, &'static str); 5] {
    [
        ("movie_genres", "genre_id", "genres"),
        ("movie_keywords", "keyword_id", "keywords"),
        (
            "movie_production_companies",
            "company_id",
            "production_companies",
        ),
        (
            "movie_production_countries",
            "country_id",
            "production_countries",
        ),
        ("movie_spoken_languages", "language_id", "spoken_languages"),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column, shared) in joins() {
            manager
                .create_table(
                    Table::create()
                        .table(table)
                        .col(big_integer(Movies::MovieId))
                        .col(big_integer(column))
                        .primary_key(Index::create().col(Movies::MovieId).col(column))
                        .foreign_key(&mut foreign_key(
                            &format!("fk_{table}_movie"),
                            (table, "movie_id"),
                            (Movies::Table, Movies::Id),
                            ForeignKeyAction::Cascade,
                        ))
                        .foreign_key(&mut foreign_key(
                            &format!("fk_{table}_{column}"),
                            (table, column),
                            (shared, "id"),
                            ForeignKeyAction::Cascade,
                        ))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("ix_{table}_{column}"))
                        .table(table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(MovieCredits::Table)
                    .col(big_pk_auto(MovieCredits::Id))
                    .col(string(MovieCredits::CreditId))
                    .col(big_integer(MovieCredits::MovieId))
                    .col(big_integer(MovieCredits::PersonId))
                    .col(string(MovieCredits::CreditType))
                    .col(text_null(MovieCredits::Character))
                    .col(integer_null(MovieCredits::CastOrder))
                    .col(string_null(MovieCredits::Department))
                    .col(string_null(MovieCredits::Job))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_credits_movie",
                        (MovieCredits::Table, MovieCredits::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_credits_person",
                        (MovieCredits::Table, MovieCredits::PersonId),
                        (People::Table, People::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_credits_credit_id",
                MovieCredits::Table,
                [MovieCredits::CreditId],
            ))
            .await?;
        for (name, col) in [
            ("ix_movie_credits_movie_id", MovieCredits::MovieId),
            ("ix_movie_credits_person_id", MovieCredits::PersonId),
        ] {
            manager
                .create_index(index(name, MovieCredits::Table, [col]))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(MovieVideos::Table)
                    .col(big_pk_auto(MovieVideos::Id))
                    .col(string(MovieVideos::TmdbVideoId))
                    .col(big_integer(MovieVideos::MovieId))
                    .col(string(MovieVideos::Name))
                    .col(string(MovieVideos::Site))
                    .col(string(MovieVideos::VideoKey))
                    .col(string_null(MovieVideos::VideoType))
                    .col(integer_null(MovieVideos::Size))
                    .col(boolean_null(MovieVideos::Official))
                    .col(string_null(MovieVideos::Iso6391))
                    .col(string_null(MovieVideos::Iso31661))
                    .col(timestamp_with_time_zone_null(MovieVideos::PublishedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_videos_movie",
                        (MovieVideos::Table, MovieVideos::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_videos_tmdb_video_id",
                MovieVideos::Table,
                [MovieVideos::TmdbVideoId],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_movie_videos_movie_id",
                MovieVideos::Table,
                [MovieVideos::MovieId],
            ))
            .await?;

        // Language and note are part of the key (TMDB lists, e.g., two theatrical releases in
        // one country, one with a note "IMAX"), so they are NOT NULL with "" for none: a NULL
        // would make two identical rows distinct to the unique index.
        manager
            .create_table(
                Table::create()
                    .table(MovieReleaseDates::Table)
                    .col(big_pk_auto(MovieReleaseDates::Id))
                    .col(big_integer(MovieReleaseDates::MovieId))
                    .col(string(MovieReleaseDates::Iso31661))
                    .col(small_integer(MovieReleaseDates::ReleaseType))
                    .col(date(MovieReleaseDates::ReleaseDate))
                    .col(string(MovieReleaseDates::Iso6391).default(""))
                    .col(string(MovieReleaseDates::Note).default(""))
                    .col(string_null(MovieReleaseDates::Certification))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_release_dates_movie",
                        (MovieReleaseDates::Table, MovieReleaseDates::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_release_dates_natural",
                MovieReleaseDates::Table,
                [
                    MovieReleaseDates::MovieId,
                    MovieReleaseDates::Iso31661,
                    MovieReleaseDates::ReleaseType,
                    MovieReleaseDates::ReleaseDate,
                    MovieReleaseDates::Iso6391,
                    MovieReleaseDates::Note,
                ],
            ))
            .await?;

        // The target is a TMDB id, not a foreign key: a recommended movie is usually not
        // imported (yet). `recommended_movie_id` is filled when it is.
        manager
            .create_table(
                Table::create()
                    .table(MovieRecommendations::Table)
                    .col(big_pk_auto(MovieRecommendations::Id))
                    .col(big_integer(MovieRecommendations::MovieId))
                    .col(big_integer(MovieRecommendations::RecommendedTmdbId))
                    .col(big_integer_null(MovieRecommendations::RecommendedMovieId))
                    .col(string(MovieRecommendations::Kind))
                    .col(integer(MovieRecommendations::Rank))
                    .col(double_null(MovieRecommendations::Score))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_recommendations_movie",
                        (MovieRecommendations::Table, MovieRecommendations::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_recommendations_recommended_movie",
                        (
                            MovieRecommendations::Table,
                            MovieRecommendations::RecommendedMovieId,
                        ),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_recommendations_natural",
                MovieRecommendations::Table,
                [
                    MovieRecommendations::MovieId,
                    MovieRecommendations::Kind,
                    MovieRecommendations::RecommendedTmdbId,
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_movie_recommendations_recommended_tmdb_id",
                MovieRecommendations::Table,
                [MovieRecommendations::RecommendedTmdbId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reviews::Table)
                    .col(big_pk_auto(Reviews::Id))
                    .col(string(Reviews::TmdbReviewId))
                    .col(big_integer(Reviews::MovieId))
                    .col(string(Reviews::Author))
                    .col(string_null(Reviews::AuthorUsername))
                    .col(double_null(Reviews::Rating))
                    .col(text(Reviews::Content))
                    .col(timestamp_with_time_zone_null(Reviews::CreatedAt))
                    .col(timestamp_with_time_zone_null(Reviews::UpdatedAt))
                    .col(string_null(Reviews::Url))
                    .foreign_key(&mut foreign_key(
                        "fk_reviews_movie",
                        (Reviews::Table, Reviews::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_reviews_tmdb_review_id",
                Reviews::Table,
                [Reviews::TmdbReviewId],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_reviews_movie_id",
                Reviews::Table,
                [Reviews::MovieId],
            ))
            .await?;

        // One row per (movie, source, metric): IMDb rating and IMDb votes, Rotten Tomatoes and
        // Metacritic never overwrite each other.
        manager
            .create_table(
                Table::create()
                    .table(ExternalRatings::Table)
                    .col(big_pk_auto(ExternalRatings::Id))
                    .col(big_integer(ExternalRatings::MovieId))
                    .col(string(ExternalRatings::Source))
                    .col(string(ExternalRatings::Metric))
                    .col(double(ExternalRatings::Value))
                    .col(double_null(ExternalRatings::Scale))
                    .col(timestamp_with_time_zone(ExternalRatings::FetchedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_external_ratings_movie",
                        (ExternalRatings::Table, ExternalRatings::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_external_ratings_source",
                        (ExternalRatings::Table, ExternalRatings::Source),
                        (ExternalSources::Table, ExternalSources::Name),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_external_ratings_natural",
                ExternalRatings::Table,
                [
                    ExternalRatings::MovieId,
                    ExternalRatings::Source,
                    ExternalRatings::Metric,
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MovieEnrichment::Table)
                    .col(big_pk_auto(MovieEnrichment::Id))
                    .col(big_integer(MovieEnrichment::MovieId))
                    .col(string(MovieEnrichment::Source))
                    .col(string(MovieEnrichment::State))
                    .col(text_null(MovieEnrichment::Reason))
                    .col(timestamp_with_time_zone(MovieEnrichment::CheckedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_enrichment_movie",
                        (MovieEnrichment::Table, MovieEnrichment::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_enrichment_source",
                        (MovieEnrichment::Table, MovieEnrichment::Source),
                        (ExternalSources::Table, ExternalSources::Name),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_enrichment_movie_source",
                MovieEnrichment::Table,
                [MovieEnrichment::MovieId, MovieEnrichment::Source],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MovieEnrichment::Table.into_iden(),
            ExternalRatings::Table.into_iden(),
            Reviews::Table.into_iden(),
            MovieRecommendations::Table.into_iden(),
            MovieReleaseDates::Table.into_iden(),
            MovieVideos::Table.into_iden(),
            MovieCredits::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for (table, _, _) in joins() {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Movies {
    Table,
    Id,
    MovieId,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ExternalSources {
    Table,
    Name,
}

#[derive(DeriveIden)]
enum MovieCredits {
    Table,
    Id,
    CreditId,
    MovieId,
    PersonId,
    CreditType,
    Character,
    CastOrder,
    Department,
    Job,
}

#[derive(DeriveIden)]
enum MovieVideos {
    Table,
    Id,
    TmdbVideoId,
    MovieId,
    Name,
    Site,
    VideoKey,
    VideoType,
    Size,
    Official,
    #[sea_orm(iden = "iso_639_1")]
    Iso6391,
    #[sea_orm(iden = "iso_3166_1")]
    Iso31661,
    PublishedAt,
}

#[derive(DeriveIden)]
enum MovieReleaseDates {
    Table,
    Id,
    MovieId,
    #[sea_orm(iden = "iso_3166_1")]
    Iso31661,
    ReleaseType,
    ReleaseDate,
    #[sea_orm(iden = "iso_639_1")]
    Iso6391,
    Note,
    Certification,
}

#[derive(DeriveIden)]
enum MovieRecommendations {
    Table,
    Id,
    MovieId,
    RecommendedTmdbId,
    RecommendedMovieId,
    Kind,
    Rank,
    Score,
}

#[derive(DeriveIden)]
enum Reviews {
    Table,
    Id,
    TmdbReviewId,
    MovieId,
    Author,
    AuthorUsername,
    Rating,
    Content,
    CreatedAt,
    UpdatedAt,
    Url,
}

#[derive(DeriveIden)]
enum ExternalRatings {
    Table,
    Id,
    MovieId,
    Source,
    Metric,
    Value,
    Scale,
    FetchedAt,
}

#[derive(DeriveIden)]
enum MovieEnrichment {
    Table,
    Id,
    MovieId,
    Source,
    State,
    Reason,
    CheckedAt,
}
