//! An index on `movie_recommendations.recommended_movie_id`, the one foreign key to `movies`
//! that had none. Deleting a movie (`on_removed = "delete"`, a refetch that finds it gone)
//! sets the links pointing at it to NULL (`ON DELETE SET NULL`); without an index both
//! PostgreSQL and SQLite read the whole table for each movie deleted, which at the whole
//! catalog (tens of millions of rows) turns a day's removals into hours.

use sea_orm_migration::prelude::*;

use crate::{drop_index, index};

const NAME: &str = "ix_movie_recommendations_recommended_movie_id";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                NAME,
                MovieRecommendations::Table,
                [MovieRecommendations::RecommendedMovieId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(drop_index(NAME, MovieRecommendations::Table))
            .await
    }
}

#[derive(DeriveIden)]
enum MovieRecommendations {
    Table,
    RecommendedMovieId,
}
