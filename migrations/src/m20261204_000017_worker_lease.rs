//! `import_workers.lease_ms`: the lease a worker claims its items under (`--lease`), so that
//! `popctl status` tells a worker that is only between two heartbeats (one every third of its
//! lease) from one that is gone. NULL for workers recorded before it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{add_columns, drop_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            ImportWorkers::Table,
            [big_integer_null(ImportWorkers::LeaseMs)],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, ImportWorkers::Table, [ImportWorkers::LeaseMs]).await
    }
}

#[derive(DeriveIden)]
enum ImportWorkers {
    Table,
    LeaseMs,
}
