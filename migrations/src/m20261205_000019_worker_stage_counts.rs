//! `import_worker_stages`: what each worker of a shared run did in each stage it took part in
//! (items finished, requests, retries, 429 answers, rows written), written by the worker when
//! its part of the stage ends, so the run's report counts the whole stage, not only the
//! runner's own share.

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
                    .table(ImportWorkerStages::Table)
                    .col(big_integer(ImportWorkerStages::WorkerId))
                    .col(string(ImportWorkerStages::Stage))
                    .col(big_integer(ImportWorkerStages::Items))
                    .col(big_integer(ImportWorkerStages::Requests))
                    .col(big_integer(ImportWorkerStages::Retries))
                    .col(big_integer(ImportWorkerStages::RateLimited))
                    .col(big_integer(ImportWorkerStages::Rows))
                    .primary_key(
                        Index::create()
                            .col(ImportWorkerStages::WorkerId)
                            .col(ImportWorkerStages::Stage),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_import_worker_stages_worker",
                        (ImportWorkerStages::Table, ImportWorkerStages::WorkerId),
                        (ImportWorkers::Table, ImportWorkers::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImportWorkerStages::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ImportWorkers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ImportWorkerStages {
    Table,
    WorkerId,
    Stage,
    Items,
    Requests,
    Retries,
    RateLimited,
    Rows,
}
