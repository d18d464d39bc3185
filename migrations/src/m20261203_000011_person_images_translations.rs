//! Tables for the parts a `people` stage may append to `/person/{id}`: `images` (the person's
//! profile pictures) and `translations` (the biography in other languages).
//!
//! Each is keyed within its person: an image by its `file_path`, a translation by language and
//! country. Rows go with their person (`ON DELETE CASCADE`).

use sea_orm_migration::{prelude::*, schema::*};

use crate::{foreign_key, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PersonImages::Table)
                    .col(big_pk_auto(PersonImages::Id))
                    .col(big_integer(PersonImages::PersonId))
                    .col(string(PersonImages::FilePath))
                    .col(string_null(PersonImages::Iso6391))
                    .col(integer_null(PersonImages::Width))
                    .col(integer_null(PersonImages::Height))
                    .col(double_null(PersonImages::AspectRatio))
                    .col(double_null(PersonImages::VoteAverage))
                    .col(integer_null(PersonImages::VoteCount))
                    .foreign_key(&mut foreign_key(
                        "fk_person_images_person",
                        (PersonImages::Table, PersonImages::PersonId),
                        (People::Table, People::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_person_images_person_file",
                PersonImages::Table,
                [PersonImages::PersonId, PersonImages::FilePath],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PersonTranslations::Table)
                    .col(big_pk_auto(PersonTranslations::Id))
                    .col(big_integer(PersonTranslations::PersonId))
                    .col(string(PersonTranslations::Iso6391))
                    .col(string(PersonTranslations::Iso31661))
                    .col(string_null(PersonTranslations::Name))
                    .col(string_null(PersonTranslations::EnglishName))
                    .col(text_null(PersonTranslations::Biography))
                    .foreign_key(&mut foreign_key(
                        "fk_person_translations_person",
                        (PersonTranslations::Table, PersonTranslations::PersonId),
                        (People::Table, People::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_person_translations_natural",
                PersonTranslations::Table,
                [
                    PersonTranslations::PersonId,
                    PersonTranslations::Iso6391,
                    PersonTranslations::Iso31661,
                ],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PersonTranslations::Table.into_iden(),
            PersonImages::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PersonImages {
    Table,
    Id,
    PersonId,
    FilePath,
    #[sea_orm(iden = "iso_639_1")]
    Iso6391,
    Width,
    Height,
    AspectRatio,
    VoteAverage,
    VoteCount,
}

#[derive(DeriveIden)]
enum PersonTranslations {
    Table,
    Id,
    PersonId,
    #[sea_orm(iden = "iso_639_1")]
    Iso6391,
    #[sea_orm(iden = "iso_3166_1")]
    Iso31661,
    Name,
    EnglishName,
    Biography,
}
