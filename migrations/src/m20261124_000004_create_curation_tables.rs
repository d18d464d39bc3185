//! Curated lists and their items (filled by post-processing), and the Cultural Relevance Index
//! scores computed from them.

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
                    .table(CuratedLists::Table)
                    .col(big_pk_auto(CuratedLists::Id))
                    .col(big_integer(CuratedLists::AuthorityId))
                    .col(string(CuratedLists::Name))
                    .col(integer(CuratedLists::Year))
                    .col(string(CuratedLists::ListType))
                    .col(text(CuratedLists::Source))
                    .foreign_key(&mut foreign_key(
                        "fk_curated_lists_authority",
                        (CuratedLists::Table, CuratedLists::AuthorityId),
                        (CulturalAuthorities::Table, CulturalAuthorities::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_curated_lists_natural",
                CuratedLists::Table,
                [
                    CuratedLists::AuthorityId,
                    CuratedLists::Name,
                    CuratedLists::Year,
                ],
            ))
            .await?;

        // `award_category` is "" for lists without categories so that it can take part in the
        // unique key (a NULL would let the same item be linked twice).
        manager
            .create_table(
                Table::create()
                    .table(MovieListItems::Table)
                    .col(big_pk_auto(MovieListItems::Id))
                    .col(big_integer(MovieListItems::ListId))
                    .col(big_integer(MovieListItems::MovieId))
                    .col(integer_null(MovieListItems::Position))
                    .col(string(MovieListItems::AwardCategory).default(""))
                    .col(string_null(MovieListItems::AwardResult))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_list_items_list",
                        (MovieListItems::Table, MovieListItems::ListId),
                        (CuratedLists::Table, CuratedLists::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_list_items_movie",
                        (MovieListItems::Table, MovieListItems::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_list_items_natural",
                MovieListItems::Table,
                [
                    MovieListItems::ListId,
                    MovieListItems::MovieId,
                    MovieListItems::AwardCategory,
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_movie_list_items_movie_id",
                MovieListItems::Table,
                [MovieListItems::MovieId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CriScores::Table)
                    .col(big_pk_auto(CriScores::Id))
                    .col(big_integer(CriScores::MovieId))
                    .col(string(CriScores::Version))
                    .col(double(CriScores::Overall))
                    .col(double(CriScores::Timelessness))
                    .col(double(CriScores::CulturalPenetration))
                    .col(double(CriScores::ArtisticImpact))
                    .col(double(CriScores::InstitutionalRecognition))
                    .col(double(CriScores::PublicReception))
                    .col(double_null(CriScores::Confidence))
                    .col(timestamp_with_time_zone(CriScores::ComputedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_cri_scores_movie",
                        (CriScores::Table, CriScores::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_cri_scores_movie_version",
                CriScores::Table,
                [CriScores::MovieId, CriScores::Version],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CriScores::Table.into_iden(),
            MovieListItems::Table.into_iden(),
            CuratedLists::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Movies {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CulturalAuthorities {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CuratedLists {
    Table,
    Id,
    AuthorityId,
    Name,
    Year,
    ListType,
    Source,
}

#[derive(DeriveIden)]
enum MovieListItems {
    Table,
    Id,
    ListId,
    MovieId,
    Position,
    AwardCategory,
    AwardResult,
}

#[derive(DeriveIden)]
enum CriScores {
    Table,
    Id,
    MovieId,
    Version,
    Overall,
    Timelessness,
    CulturalPenetration,
    ArtisticImpact,
    InstitutionalRecognition,
    PublicReception,
    Confidence,
    ComputedAt,
}
