//! PostgreSQL: `movie_recommendations.recommended_movie_id` loses its foreign key, and a trigger
//! on `movies` does what the key's actions did: a movie deleted sets the links pointing at it
//! to NULL, a movie's id changed moves them along. SQLite keeps the key.
//!
//! Why: the column is the link popctl derives for a row from its target's TMDB id, and every
//! value popctl writes into it comes from a row of `movies` read in the same statement (the
//! links are an `UPDATE … FROM movies`) or the same transaction (the computed rows). The key
//! checked each such value again, a query of its own per row with the target locked `FOR KEY
//! SHARE`: in a profile of the post-processing steps at 100,000 movies (2.8 million links,
//! a million computed rows) the server spent a third of its time in foreign-key checks, of
//! which this key's are four of every five. Without it the stage took 48.4–54.6 s against
//! 67.1–70.4 s with it, three runs each, alternating (docs/benchmarks.md, 2026-12-07). SQLite
//! checks a key in-process for a fraction of that, and would have to rebuild the table to
//! drop one.
//!
//! What the trigger keeps: whoever deletes a movie (popctl's `on_removed = "delete"`, an app's
//! admin) leaves no link pointing at it. What it does not: refuse a value that names no movie,
//! which only a writer other than popctl could store, or a movie deleted by another session
//! at the moment a link to it is being set. The trigger names its table through the schema of
//! the `movies` row that fired it, so it keeps working when a swap moves the tables into the
//! live schema (`store::swap` moves the function along with them).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::foreign_key;

const KEY: &str = "fk_movie_recommendations_recommended_movie";
const FUNCTION: &str = "popctl_movies_unlink_recommendations";
const TRIGGER: &str = "movies_unlink_recommendations";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        // OR REPLACE: a reset drops popctl's tables (and with them the trigger), not the
        // function, and then runs every migration again.
        db.execute_unprepared(&format!(
            "CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$
             BEGIN
               IF TG_OP = 'DELETE' THEN
                 EXECUTE format('UPDATE %I.movie_recommendations SET recommended_movie_id = NULL \
                                 WHERE recommended_movie_id = $1', TG_TABLE_SCHEMA)
                   USING OLD.id;
               ELSIF NEW.id IS DISTINCT FROM OLD.id THEN
                 EXECUTE format('UPDATE %I.movie_recommendations SET recommended_movie_id = $2 \
                                 WHERE recommended_movie_id = $1', TG_TABLE_SCHEMA)
                   USING OLD.id, NEW.id;
               END IF;
               RETURN NULL;
             END
             $body$"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "CREATE TRIGGER {TRIGGER} AFTER DELETE OR UPDATE OF id ON movies \
             FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
        ))
        .await?;
        manager
            .drop_foreign_key(
                ForeignKey::drop()
                    .name(KEY)
                    .table(MovieRecommendations::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {TRIGGER} ON movies"))
            .await?;
        db.execute_unprepared(&format!("DROP FUNCTION IF EXISTS {FUNCTION}()"))
            .await?;
        // The key refuses a link to no movie, which without it another writer may have left.
        db.execute_unprepared(
            "UPDATE movie_recommendations SET recommended_movie_id = NULL \
             WHERE recommended_movie_id IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM movies WHERE movies.id = movie_recommendations.recommended_movie_id)",
        )
        .await?;
        manager
            .create_foreign_key(
                foreign_key(
                    KEY,
                    (
                        MovieRecommendations::Table,
                        MovieRecommendations::RecommendedMovieId,
                    ),
                    (Movies::Table, Movies::Id),
                    ForeignKeyAction::SetNull,
                )
                .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum MovieRecommendations {
    Table,
    RecommendedMovieId,
}

#[derive(DeriveIden)]
enum Movies {
    Table,
    Id,
}
