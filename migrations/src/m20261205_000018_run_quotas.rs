//! `import_quotas`: the requests a run made of a source with a daily quota, per UTC day, counted
//! by every process of the run (the runner and its workers) in one row each takes from with a
//! short `INSERT … ON CONFLICT DO UPDATE … WHERE used < quota`, so together they stop at the
//! quota instead of each spending its own.

use sea_orm_migration::{prelude::*, schema::*};

use crate::foreign_key;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ImportQuotas::Table)
                    .col(big_integer(ImportQuotas::RunId))
                    .col(string(ImportQuotas::Source))
                    .col(string_len(ImportQuotas::Day, 10))
                    .col(big_integer(ImportQuotas::Used))
                    .primary_key(
                        Index::create()
                            .col(ImportQuotas::RunId)
                            .col(ImportQuotas::Source)
                            .col(ImportQuotas::Day),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_import_quotas_run",
                        (ImportQuotas::Table, ImportQuotas::RunId),
                        (ImportRuns::Table, ImportRuns::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImportQuotas::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ImportRuns {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ImportQuotas {
    Table,
    RunId,
    Source,
    Day,
    Used,
}
