//! What several processes sharing one run need (`popctl worker`, `popctl run --workers N`),
//! kept in the ledger they already share, so PostgreSQL is the whole coordination:
//!
//! - `import_items.claimed_by` / `lease_until`: the worker that holds a pending item and until
//!   when. A worker claims items with `FOR UPDATE SKIP LOCKED`, its heartbeat pushes its
//!   leases forward, and an item whose lease has run out (its worker died) is claimed again by
//!   another. The worker that finishes an item stays in `claimed_by`, so the ledger says who
//!   did what. `ix_import_items_claim` serves the claim (a stage's pending items in the order
//!   they were found), `ix_import_items_finished` the runner's reading of what other workers
//!   finished since it last looked.
//! - `import_workers`: one row per worker process of a run (host, pid, the address its
//!   requests leave from, last heartbeat, items done, requests made), for `popctl status`.
//! - `import_stages`: the stages of a run open to workers (`open`) and those ended (`ended`),
//!   written by the process that runs the plan's graph.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{add_columns, drop_columns, drop_index, foreign_key, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            ImportItems::Table,
            [
                big_integer_null(ImportItems::ClaimedBy),
                timestamp_with_time_zone_null(ImportItems::LeaseUntil),
            ],
        )
        .await?;
        manager
            .create_index(index(
                "ix_import_items_claim",
                ImportItems::Table,
                [
                    ImportItems::RunId,
                    ImportItems::Stage,
                    ImportItems::Status,
                    ImportItems::Id,
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_import_items_finished",
                ImportItems::Table,
                [
                    ImportItems::RunId,
                    ImportItems::Stage,
                    ImportItems::UpdatedAt,
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ImportWorkers::Table)
                    .col(big_pk_auto(ImportWorkers::Id))
                    .col(big_integer(ImportWorkers::RunId))
                    .col(string(ImportWorkers::Host))
                    .col(big_integer(ImportWorkers::Pid))
                    .col(string_null(ImportWorkers::Address))
                    .col(timestamp_with_time_zone(ImportWorkers::StartedAt))
                    .col(timestamp_with_time_zone(ImportWorkers::HeartbeatAt))
                    .col(timestamp_with_time_zone_null(ImportWorkers::StoppedAt))
                    .col(big_integer(ImportWorkers::ItemsDone).default(0))
                    .col(big_integer(ImportWorkers::Requests).default(0))
                    .foreign_key(&mut foreign_key(
                        "fk_import_workers_run",
                        (ImportWorkers::Table, ImportWorkers::RunId),
                        (ImportRuns::Table, ImportRuns::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_import_workers_run_id",
                ImportWorkers::Table,
                [ImportWorkers::RunId],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ImportStages::Table)
                    .col(big_integer(ImportStages::RunId))
                    .col(string(ImportStages::Stage))
                    .col(string(ImportStages::State))
                    .col(timestamp_with_time_zone(ImportStages::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(ImportStages::RunId)
                            .col(ImportStages::Stage),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_import_stages_run",
                        (ImportStages::Table, ImportStages::RunId),
                        (ImportRuns::Table, ImportRuns::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImportStages::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ImportWorkers::Table).to_owned())
            .await?;
        for name in ["ix_import_items_finished", "ix_import_items_claim"] {
            manager
                .drop_index(drop_index(name, ImportItems::Table))
                .await?;
        }
        drop_columns(
            manager,
            ImportItems::Table,
            [ImportItems::LeaseUntil, ImportItems::ClaimedBy],
        )
        .await
    }
}

#[derive(DeriveIden)]
enum ImportRuns {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ImportItems {
    Table,
    Id,
    RunId,
    Stage,
    Status,
    UpdatedAt,
    ClaimedBy,
    LeaseUntil,
}

#[derive(DeriveIden)]
enum ImportWorkers {
    Table,
    Id,
    RunId,
    Host,
    Pid,
    Address,
    StartedAt,
    HeartbeatAt,
    StoppedAt,
    ItemsDone,
    Requests,
}

#[derive(DeriveIden)]
enum ImportStages {
    Table,
    RunId,
    Stage,
    State,
    UpdatedAt,
}
