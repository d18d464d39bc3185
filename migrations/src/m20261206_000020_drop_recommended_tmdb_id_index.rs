//! Drops `ix_movie_recommendations_recommended_tmdb_id`, which nothing reads: the
//! `recommendations` step links TMDB's rows by ranges of row ids joined to `movies` on its
//! unique `tmdb_id`, upserts find a row by the natural key's unique index (movie, kind,
//! target), and deleting a movie clears the links through `recommended_movie_id`'s index. What
//! it cost was on every write of the table: each TMDB row saved, each link set (an update
//! that changes an indexed column writes an entry in every index) and each computed row. In
//! the post-processing steps at 100,000 movies (2.8 million TMDB rows, a million computed)
//! dropping it took writing the computed rows from 34–36 s to 22–25 s on SQLite and from
//! 32–38 s to 24–31 s on PostgreSQL, and setting the links there from 38–45 s to 31–37 s
//! (docs/benchmarks.md). An app that looks rows up by target TMDB id can create its own.

use sea_orm_migration::prelude::*;

use crate::{drop_index, index};

const NAME: &str = "ix_movie_recommendations_recommended_tmdb_id";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                drop_index(NAME, MovieRecommendations::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                NAME,
                MovieRecommendations::Table,
                [MovieRecommendations::RecommendedTmdbId],
            ))
            .await
    }
}

#[derive(DeriveIden)]
enum MovieRecommendations {
    Table,
    RecommendedTmdbId,
}
