//! Whose copy a shared row holds, and credits keyed within their movie.
//!
//! Movies embed copies of the rows they share (people, companies, keywords, …), and TMDB's
//! copies of one row disagree between movies. The importer keeps one copy by a fixed rule
//! (see `store::save`), for which each shared row records where its copy came from:
//! `src_run`, the `import_runs` id of the run that saved it (0 outside a run), and
//! `src_movie_tmdb_id`, the TMDB id of the movie whose body carried it. Rows written before
//! this migration get run 0 and the largest id, so that any later copy replaces them.
//!
//! `movie_credits` becomes unique on `(movie_id, credit_id)` instead of `credit_id` alone: a
//! credit id that upstream repeats for another movie no longer moves the credit between
//! movies, and the keys the importer derives for credits without a distinct `credit_id` only
//! need to be unique within their movie. The new index also serves look-ups by movie, so the
//! plain index on `movie_id` goes.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{drop_index, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The shared tables that movies carry copies of.
const SHARED: [&str; 7] = [
    "collections",
    "genres",
    "keywords",
    "people",
    "production_companies",
    "production_countries",
    "spoken_languages",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in SHARED {
            // One column per statement: SQLite alters one thing at a time.
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(big_integer(Provenance::SrcRun).default(0))
                        .to_owned(),
                )
                .await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(big_integer(Provenance::SrcMovieTmdbId).default(i64::MAX))
                        .to_owned(),
                )
                .await?;
        }

        manager
            .drop_index(drop_index(
                "ux_movie_credits_credit_id",
                MovieCredits::Table,
            ))
            .await?;
        manager
            .drop_index(drop_index("ix_movie_credits_movie_id", MovieCredits::Table))
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_credits_movie_credit_id",
                MovieCredits::Table,
                [MovieCredits::MovieId, MovieCredits::CreditId],
            ))
            .await
    }

    /// Fails when two movies now hold the same credit id, which the old schema cannot store.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(drop_index(
                "ux_movie_credits_movie_credit_id",
                MovieCredits::Table,
            ))
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_credits_credit_id",
                MovieCredits::Table,
                [MovieCredits::CreditId],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_movie_credits_movie_id",
                MovieCredits::Table,
                [MovieCredits::MovieId],
            ))
            .await?;

        for table in SHARED {
            for column in [Provenance::SrcMovieTmdbId, Provenance::SrcRun] {
                manager
                    .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                    .await?;
            }
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Provenance {
    SrcRun,
    SrcMovieTmdbId,
}

#[derive(DeriveIden)]
enum MovieCredits {
    Table,
    MovieId,
    CreditId,
}
