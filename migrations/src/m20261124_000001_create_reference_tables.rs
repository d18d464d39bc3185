//! Tables shared between movies: collections, genres, keywords, people, production companies,
//! countries and languages, plus the external sources of ratings and the cultural authorities
//! behind curated lists. Each has a surrogate id and a named unique index on its natural key,
//! which the importer's upserts target.

use sea_orm_migration::{prelude::*, schema::*};

use crate::unique_index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Collections::Table)
                    .col(big_pk_auto(Collections::Id))
                    .col(big_integer(Collections::TmdbId))
                    .col(string(Collections::Name))
                    .col(string_null(Collections::PosterPath))
                    .col(string_null(Collections::BackdropPath))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_collections_tmdb_id",
                Collections::Table,
                [Collections::TmdbId],
            ))
            .await?;

        for (table, index) in [
            (Genres::Table.into_iden(), "ux_genres_tmdb_id"),
            (Keywords::Table.into_iden(), "ux_keywords_tmdb_id"),
        ] {
            manager
                .create_table(
                    Table::create()
                        .table(table.clone())
                        .col(big_pk_auto(Genres::Id))
                        .col(big_integer(Genres::TmdbId))
                        .col(string(Genres::Name))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(unique_index(index, table, [Genres::TmdbId]))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(People::Table)
                    .col(big_pk_auto(People::Id))
                    .col(big_integer(People::TmdbId))
                    .col(string(People::Name))
                    .col(string_null(People::OriginalName))
                    .col(small_integer_null(People::Gender))
                    .col(string_null(People::KnownForDepartment))
                    .col(string_null(People::ProfilePath))
                    .col(double_null(People::Popularity))
                    .col(boolean_null(People::Adult))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_people_tmdb_id",
                People::Table,
                [People::TmdbId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProductionCompanies::Table)
                    .col(big_pk_auto(ProductionCompanies::Id))
                    .col(big_integer(ProductionCompanies::TmdbId))
                    .col(string(ProductionCompanies::Name))
                    .col(string_null(ProductionCompanies::LogoPath))
                    .col(string_null(ProductionCompanies::OriginCountry))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_production_companies_tmdb_id",
                ProductionCompanies::Table,
                [ProductionCompanies::TmdbId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProductionCountries::Table)
                    .col(big_pk_auto(ProductionCountries::Id))
                    .col(string(ProductionCountries::Iso31661))
                    .col(string(ProductionCountries::Name))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_production_countries_iso_3166_1",
                ProductionCountries::Table,
                [ProductionCountries::Iso31661],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SpokenLanguages::Table)
                    .col(big_pk_auto(SpokenLanguages::Id))
                    .col(string(SpokenLanguages::Iso6391))
                    .col(string(SpokenLanguages::Name))
                    .col(string_null(SpokenLanguages::EnglishName))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_spoken_languages_iso_639_1",
                SpokenLanguages::Table,
                [SpokenLanguages::Iso6391],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ExternalSources::Table)
                    .col(big_pk_auto(ExternalSources::Id))
                    .col(string(ExternalSources::Name))
                    .col(string(ExternalSources::DisplayName))
                    .col(string_null(ExternalSources::Url))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_external_sources_name",
                ExternalSources::Table,
                [ExternalSources::Name],
            ))
            .await?;

        // The sources the importer writes ratings and states for: ratings reference them by
        // name, so they exist from the start (the seed stage fills in names and URLs).
        let mut insert = Query::insert();
        insert
            .into_table(ExternalSources::Table)
            .columns([ExternalSources::Name, ExternalSources::DisplayName]);
        for name in ["tmdb", "omdb", "imdb", "rotten_tomatoes", "metacritic"] {
            insert
                .values([name.into(), name.into()])
                .map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        manager.exec_stmt(insert).await?;

        manager
            .create_table(
                Table::create()
                    .table(CulturalAuthorities::Table)
                    .col(big_pk_auto(CulturalAuthorities::Id))
                    .col(string(CulturalAuthorities::Name))
                    .col(string(CulturalAuthorities::Kind))
                    .col(double(CulturalAuthorities::Trust))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_cultural_authorities_name",
                CulturalAuthorities::Table,
                [CulturalAuthorities::Name],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CulturalAuthorities::Table.into_iden(),
            ExternalSources::Table.into_iden(),
            SpokenLanguages::Table.into_iden(),
            ProductionCountries::Table.into_iden(),
            ProductionCompanies::Table.into_iden(),
            People::Table.into_iden(),
            Keywords::Table.into_iden(),
            Genres::Table.into_iden(),
            Collections::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Collections {
    Table,
    Id,
    TmdbId,
    Name,
    PosterPath,
    BackdropPath,
}

/// Genres and keywords have the same shape: an id, TMDB's id and a name.
#[derive(DeriveIden)]
enum Genres {
    Table,
    Id,
    TmdbId,
    Name,
}

#[derive(DeriveIden)]
enum Keywords {
    Table,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
    TmdbId,
    Name,
    OriginalName,
    Gender,
    KnownForDepartment,
    ProfilePath,
    Popularity,
    Adult,
}

#[derive(DeriveIden)]
enum ProductionCompanies {
    Table,
    Id,
    TmdbId,
    Name,
    LogoPath,
    OriginCountry,
}

#[derive(DeriveIden)]
enum ProductionCountries {
    Table,
    Id,
    #[sea_orm(iden = "iso_3166_1")]
    Iso31661,
    Name,
}

#[derive(DeriveIden)]
enum SpokenLanguages {
    Table,
    Id,
    #[sea_orm(iden = "iso_639_1")]
    Iso6391,
    Name,
    EnglishName,
}

#[derive(DeriveIden)]
enum ExternalSources {
    Table,
    Id,
    Name,
    DisplayName,
    Url,
}

#[derive(DeriveIden)]
enum CulturalAuthorities {
    Table,
    Id,
    Name,
    Kind,
    Trust,
}
