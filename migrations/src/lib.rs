//! The popctl schema as sea-orm-migration migrations.
//!
//! Migrations own their identifiers and never import the application's entities, so an old
//! migration keeps meaning what it meant when it was written.

pub use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![]
    }
}
