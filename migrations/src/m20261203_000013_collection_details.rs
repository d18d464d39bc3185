//! What a franchise page needs that the copies movies embed (`belongs_to_collection`: id, name,
//! poster, backdrop) lack: the collection's `overview` from TMDB's `/collection/{id}`, written
//! when a fetch stage names the collection; `details_fetched_at` says when (NULL: never).

use sea_orm_migration::{prelude::*, schema::*};

use crate::{add_columns, drop_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            text_null(Collections::Overview),
            timestamp_with_time_zone_null(Collections::DetailsFetchedAt),
        ];
        add_columns(manager, Collections::Table, columns).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [Collections::DetailsFetchedAt, Collections::Overview];
        drop_columns(manager, Collections::Table, columns).await
    }
}

#[derive(DeriveIden)]
enum Collections {
    Table,
    Overview,
    DetailsFetchedAt,
}
