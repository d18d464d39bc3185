//! `import_budgets`: one row per source of a run shared by workers whose `rate_scope` is
//! `cluster` — the next free request slot of the whole cluster (`next_at`, on the database
//! server's clock). Each request takes the slot and moves it one period on, in one short
//! `UPDATE`, so the workers together keep the source's one rate.

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
                    .table(ImportBudgets::Table)
                    .col(big_integer(ImportBudgets::RunId))
                    .col(string(ImportBudgets::Source))
                    .col(timestamp_with_time_zone(ImportBudgets::NextAt))
                    .primary_key(
                        Index::create()
                            .col(ImportBudgets::RunId)
                            .col(ImportBudgets::Source),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_import_budgets_run",
                        (ImportBudgets::Table, ImportBudgets::RunId),
                        (ImportRuns::Table, ImportRuns::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImportBudgets::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ImportRuns {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ImportBudgets {
    Table,
    RunId,
    Source,
    NextAt,
}
