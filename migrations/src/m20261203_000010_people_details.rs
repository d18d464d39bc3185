//! What a person's own page needs, which the copies movies embed in their credits lack:
//! TMDB's `/person/{id}` details, filled in by a `people` stage.
//!
//! `biography`, `birthday`, `deathday`, `place_of_birth`, `imdb_id`, `homepage` and
//! `also_known_as` (the other names TMDB lists, as a JSON array of strings) are NULL until a
//! people stage fetched the person, and where TMDB has nothing; `details_fetched_at` says when
//! it did (NULL: never), so a run can tell who still lacks details.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{add_columns, drop_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            text_null(People::Biography),
            date_null(People::Birthday),
            date_null(People::Deathday),
            string_null(People::PlaceOfBirth),
            string_null(People::ImdbId),
            string_null(People::Homepage),
            text_null(People::AlsoKnownAs),
            timestamp_with_time_zone_null(People::DetailsFetchedAt),
        ];
        add_columns(manager, People::Table, columns).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            People::DetailsFetchedAt,
            People::AlsoKnownAs,
            People::Homepage,
            People::ImdbId,
            People::PlaceOfBirth,
            People::Deathday,
            People::Birthday,
            People::Biography,
        ];
        drop_columns(manager, People::Table, columns).await
    }
}

#[derive(DeriveIden)]
enum People {
    Table,
    Biography,
    Birthday,
    Deathday,
    PlaceOfBirth,
    ImdbId,
    Homepage,
    AlsoKnownAs,
    DetailsFetchedAt,
}
