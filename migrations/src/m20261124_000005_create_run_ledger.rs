//! The run ledger: one `import_runs` row per `popctl run`, one `import_items` row per unit of
//! work (a movie to fetch, a movie to enrich), so an interrupted run can be resumed.

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
                    .table(ImportRuns::Table)
                    .col(big_pk_auto(ImportRuns::Id))
                    .col(string(ImportRuns::PlanName))
                    .col(string(ImportRuns::PlanHash))
                    .col(timestamp_with_time_zone(ImportRuns::StartedAt))
                    .col(timestamp_with_time_zone_null(ImportRuns::FinishedAt))
                    .col(string(ImportRuns::Status))
                    .col(text_null(ImportRuns::Stats))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_import_runs_plan_name",
                ImportRuns::Table,
                [ImportRuns::PlanName],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ImportItems::Table)
                    .col(big_pk_auto(ImportItems::Id))
                    .col(big_integer(ImportItems::RunId))
                    .col(string(ImportItems::Stage))
                    .col(string(ImportItems::ItemKey))
                    .col(string(ImportItems::Status))
                    .col(integer(ImportItems::Attempts).default(0))
                    .col(text_null(ImportItems::LastError))
                    .col(timestamp_with_time_zone(ImportItems::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_import_items_run",
                        (ImportItems::Table, ImportItems::RunId),
                        (ImportRuns::Table, ImportRuns::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_import_items_run_stage_key",
                ImportItems::Table,
                [ImportItems::RunId, ImportItems::Stage, ImportItems::ItemKey],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_import_items_run_status",
                ImportItems::Table,
                [ImportItems::RunId, ImportItems::Status],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImportItems::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ImportRuns::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ImportRuns {
    Table,
    Id,
    PlanName,
    PlanHash,
    StartedAt,
    FinishedAt,
    Status,
    Stats,
}

#[derive(DeriveIden)]
enum ImportItems {
    Table,
    Id,
    RunId,
    Stage,
    ItemKey,
    Status,
    Attempts,
    LastError,
    UpdatedAt,
}
