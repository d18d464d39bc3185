//! The popctl schema as sea-orm-migration migrations.
//!
//! Migrations own their identifiers and never import the application's entities, so an old
//! migration keeps meaning what it meant when it was written.

#![allow(
    clippy::disallowed_methods,
    reason = "migrations are where SQL is written as text (clippy.toml keeps it to them and store)"
)]

pub use sea_orm_migration::MigrationStatus;
pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_reference_tables;
mod m20261124_000002_create_movies;
mod m20261124_000003_create_movie_parts;
mod m20261124_000004_create_curation_tables;
mod m20261124_000005_create_run_ledger;
mod m20261201_000006_shared_row_provenance;
mod m20261203_000007_app_schema;
mod m20261203_000008_images_titles_translations;
mod m20261203_000009_movie_watch_providers;
mod m20261203_000010_people_details;
mod m20261203_000011_person_images_translations;
mod m20261203_000012_catalog_sync;
mod m20261203_000013_collection_details;
mod m20261204_000014_recommended_movie_index;
mod m20261204_000015_run_workers;
mod m20261204_000016_shared_rate;
mod m20261204_000017_worker_lease;
mod m20261205_000018_run_quotas;
mod m20261205_000019_worker_stage_counts;
mod m20261206_000020_drop_recommended_tmdb_id_index;
mod m20261207_000021_recommended_movie_trigger;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_reference_tables::Migration),
            Box::new(m20261124_000002_create_movies::Migration),
            Box::new(m20261124_000003_create_movie_parts::Migration),
            Box::new(m20261124_000004_create_curation_tables::Migration),
            Box::new(m20261124_000005_create_run_ledger::Migration),
            Box::new(m20261201_000006_shared_row_provenance::Migration),
            Box::new(m20261203_000007_app_schema::Migration),
            Box::new(m20261203_000008_images_titles_translations::Migration),
            Box::new(m20261203_000009_movie_watch_providers::Migration),
            Box::new(m20261203_000010_people_details::Migration),
            Box::new(m20261203_000011_person_images_translations::Migration),
            Box::new(m20261203_000012_catalog_sync::Migration),
            Box::new(m20261203_000013_collection_details::Migration),
            Box::new(m20261204_000014_recommended_movie_index::Migration),
            Box::new(m20261204_000015_run_workers::Migration),
            Box::new(m20261204_000016_shared_rate::Migration),
            Box::new(m20261204_000017_worker_lease::Migration),
            Box::new(m20261205_000018_run_quotas::Migration),
            Box::new(m20261205_000019_worker_stage_counts::Migration),
            Box::new(m20261206_000020_drop_recommended_tmdb_id_index::Migration),
            Box::new(m20261207_000021_recommended_movie_trigger::Migration),
        ]
    }
}

/// Adds `columns` to `table`, one statement each: SQLite alters one thing at a time.
async fn add_columns(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    columns: impl IntoIterator<Item = ColumnDef>,
) -> Result<(), DbErr> {
    let table = table.into_iden();
    for mut column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table.clone())
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// Drops `columns` from `table`, one statement each, as [`add_columns`] added them.
async fn drop_columns<C: IntoIden>(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    columns: impl IntoIterator<Item = C>,
) -> Result<(), DbErr> {
    let table = table.into_iden();
    for column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table.clone())
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// A named unique index: the importer's upserts name these columns as their conflict target.
fn unique_index<T, C, I>(name: &str, table: T, columns: I) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIndexColumn,
    I: IntoIterator<Item = C>,
{
    let mut unique = index(name, table, columns);
    unique.unique();
    unique
}

/// A named index for lookups.
fn index<T, C, I>(name: &str, table: T, columns: I) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIndexColumn,
    I: IntoIterator<Item = C>,
{
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column);
    }
    index.to_owned()
}

/// Drops the index `name` of `table`: what a migration's `down` does with [`index`]'s.
fn drop_index<T: IntoIden>(name: &str, table: T) -> IndexDropStatement {
    Index::drop().name(name).table(table).to_owned()
}

/// A named foreign key `from -> to`. Declared inside `CREATE TABLE` because SQLite cannot add
/// one to an existing table.
fn foreign_key<FT, FC, TT, TC>(
    name: &str,
    from: (FT, FC),
    to: (TT, TC),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement
where
    FT: IntoIden,
    FC: IntoIden,
    TT: IntoIden,
    TC: IntoIden,
{
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}
