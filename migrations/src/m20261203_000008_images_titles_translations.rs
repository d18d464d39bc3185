//! Tables for the `append_to_response` parts `images`, `alternative_titles` and `translations`,
//! which plans could ask for but only the raw body kept.
//!
//! Each is keyed within its movie: an image by its `file_path` (TMDB's own id for it), an
//! alternative title by country, title and type, a translation by language and country. Key
//! columns without a value hold "" rather than NULL, which a unique index would count as
//! distinct.

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
                    .table(MovieImages::Table)
                    .col(big_pk_auto(MovieImages::Id))
                    .col(big_integer(MovieImages::MovieId))
                    .col(string(MovieImages::FilePath))
                    .col(string(MovieImages::Kind))
                    .col(string_null(MovieImages::Iso6391))
                    .col(integer_null(MovieImages::Width))
                    .col(integer_null(MovieImages::Height))
                    .col(double_null(MovieImages::AspectRatio))
                    .col(double_null(MovieImages::VoteAverage))
                    .col(integer_null(MovieImages::VoteCount))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_images_movie",
                        (MovieImages::Table, MovieImages::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_images_movie_file",
                MovieImages::Table,
                [MovieImages::MovieId, MovieImages::FilePath],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MovieAlternativeTitles::Table)
                    .col(big_pk_auto(MovieAlternativeTitles::Id))
                    .col(big_integer(MovieAlternativeTitles::MovieId))
                    .col(string(MovieAlternativeTitles::Iso31661))
                    .col(string(MovieAlternativeTitles::Title))
                    .col(string(MovieAlternativeTitles::TitleType).default(""))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_alternative_titles_movie",
                        (
                            MovieAlternativeTitles::Table,
                            MovieAlternativeTitles::MovieId,
                        ),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_alternative_titles_natural",
                MovieAlternativeTitles::Table,
                [
                    MovieAlternativeTitles::MovieId,
                    MovieAlternativeTitles::Iso31661,
                    MovieAlternativeTitles::Title,
                    MovieAlternativeTitles::TitleType,
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MovieTranslations::Table)
                    .col(big_pk_auto(MovieTranslations::Id))
                    .col(big_integer(MovieTranslations::MovieId))
                    .col(string(MovieTranslations::Iso6391))
                    .col(string(MovieTranslations::Iso31661))
                    .col(string_null(MovieTranslations::Name))
                    .col(string_null(MovieTranslations::EnglishName))
                    .col(string_null(MovieTranslations::Title))
                    .col(text_null(MovieTranslations::Overview))
                    .col(string_null(MovieTranslations::Tagline))
                    .col(string_null(MovieTranslations::Homepage))
                    .col(integer_null(MovieTranslations::Runtime))
                    .foreign_key(&mut foreign_key(
                        "fk_movie_translations_movie",
                        (MovieTranslations::Table, MovieTranslations::MovieId),
                        (Movies::Table, Movies::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_movie_translations_natural",
                MovieTranslations::Table,
                [
                    MovieTranslations::MovieId,
                    MovieTranslations::Iso6391,
                    MovieTranslations::Iso31661,
                ],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MovieTranslations::Table.into_iden(),
            MovieAlternativeTitles::Table.into_iden(),
            MovieImages::Table.into_iden(),
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
enum MovieImages {
    Table,
    Id,
    MovieId,
    FilePath,
    Kind,
    #[sea_orm(iden = "iso_639_1")]
    Iso6391,
    Width,
    Height,
    AspectRatio,
    VoteAverage,
    VoteCount,
}

#[derive(DeriveIden)]
enum MovieAlternativeTitles {
    Table,
    Id,
    MovieId,
    #[sea_orm(iden = "iso_3166_1")]
    Iso31661,
    Title,
    TitleType,
}

#[derive(DeriveIden)]
enum MovieTranslations {
    Table,
    Id,
    MovieId,
    #[sea_orm(iden = "iso_639_1")]
    Iso6391,
    #[sea_orm(iden = "iso_3166_1")]
    Iso31661,
    Name,
    EnglishName,
    Title,
    Overview,
    Tagline,
    Homepage,
    Runtime,
}
