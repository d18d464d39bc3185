//! What keeping a database in step with TMDB's whole catalog needs: where the last sync got
//! to, and which movies TMDB no longer has.
//!
//! - `catalog_sync`: one row per TMDB source (by the plan's source name): the day the database
//!   is in step with TMDB up to (`synced_to`, the day of the ID export a mirror read, or the
//!   last day of the changes a refresh read) and the run that got it there. A `changes` stage
//!   reads TMDB's changes from that day on.
//! - `movies.removed_on`: the day popctl found TMDB no longer has the movie (404, or gone from
//!   the export) for plans with `on_removed = "mark"`; NULL while TMDB has it. An index serves
//!   the app's `WHERE removed_on IS NULL`.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{drop_index, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CatalogSync::Table)
                    .col(string(CatalogSync::Source).primary_key())
                    .col(date(CatalogSync::SyncedTo))
                    .col(big_integer(CatalogSync::RunId))
                    .col(timestamp_with_time_zone(CatalogSync::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Movies::Table)
                    .add_column(date_null(Movies::RemovedOn))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_movies_removed_on",
                Movies::Table,
                [Movies::RemovedOn],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(drop_index("ix_movies_removed_on", Movies::Table))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Movies::Table)
                    .drop_column(Movies::RemovedOn)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(CatalogSync::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum CatalogSync {
    Table,
    Source,
    SyncedTo,
    RunId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Movies {
    Table,
    RemovedOn,
}
