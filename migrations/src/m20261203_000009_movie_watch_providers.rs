//! A table for the `append_to_response` part `watch/providers`: where a movie can be watched,
//! per country (TMDB's data from JustWatch), which plans could ask for but nothing stored.
//!
//! One row per (movie, country, monetization type, provider): a provider that both rents and
//! sells a movie in a country is two rows. TMDB gives one `link` per country (its page of the
//! movie's offers there); every row of the country carries it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{foreign_key, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MovieWatchProviders::Table)
                    .col(big_pk_auto(MovieWatchProviders::Id))
                    .col(big_integer(MovieWatchProviders::MovieId))
                    .col(string(MovieWatchProviders::Iso31661))
                    .col(string(MovieWatchProviders::MonetizationType))
                    .col(big_integer(MovieWatchProviders::ProviderId))
                    .col(string(MovieWatchProviders::ProviderName))
                    .col(string_null(MovieWatchProviders::LogoPath))
                    .col(integer_null(MovieWatchProviders::DisplayPriority))
                    .col(string_null(MovieWatchProviders::Link))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_watch_providers_movie",
                        (MovieWatchProviders::Table, MovieWatchProviders::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_watch_providers_natural",
                MovieWatchProviders::Table,
                [
                    MovieWatchProviders::MovieId,
                    MovieWatchProviders::Iso31661,
                    MovieWatchProviders::MonetizationType,
                    MovieWatchProviders::ProviderId,
                ],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MovieWatchProviders::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Movies {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MovieWatchProviders {
    Table,
    Id,
    MovieId,
    #[sea_orm(iden = "iso_3166_1")]
    Iso31661,
    MonetizationType,
    ProviderId,
    ProviderName,
    LogoPath,
    DisplayPriority,
    Link,
}
