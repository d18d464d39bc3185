//! Rows shared between movies (collections, genres, keywords, people, companies, countries,
//! languages) and the reference data that seed writes (external sources, cultural authorities).
//! Each shared row holds one movie's copy of it and records whose (`src_run`,
//! `src_movie_tmdb_id`).

pub mod collections {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "collections")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub tmdb_id: i64,
        pub name: String,
        pub poster_path: Option<String>,
        pub backdrop_path: Option<String>,
        /// Whose copy of the row this is (see `store::save`): the run that saved it
        /// (`import_runs.id`, 0 outside a run) and the TMDB id of the movie that carried it.
        pub src_run: i64,
        pub src_movie_tmdb_id: i64,
        /// From `/collection/{id}`, which no movie's copy carries (see `store::collection`).
        #[sea_orm(column_type = "Text", nullable)]
        pub overview: Option<String>,
        pub details_fetched_at: Option<DateTimeUtc>,
        #[sea_orm(has_many)]
        pub movies: HasMany<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod genres {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "genres")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub tmdb_id: i64,
        pub name: String,
        /// Whose copy of the row this is (see `store::save`): the run that saved it
        /// (`import_runs.id`, 0 outside a run) and the TMDB id of the movie that carried it.
        pub src_run: i64,
        pub src_movie_tmdb_id: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod keywords {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "keywords")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub tmdb_id: i64,
        pub name: String,
        /// Whose copy of the row this is (see `store::save`): the run that saved it
        /// (`import_runs.id`, 0 outside a run) and the TMDB id of the movie that carried it.
        pub src_run: i64,
        pub src_movie_tmdb_id: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod people {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "people")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub tmdb_id: i64,
        pub name: String,
        pub original_name: Option<String>,
        pub gender: Option<i16>,
        pub known_for_department: Option<String>,
        pub profile_path: Option<String>,
        pub popularity: Option<f64>,
        pub adult: Option<bool>,
        /// Whose copy of the row this is (see `store::save`): the run that saved it
        /// (`import_runs.id`, 0 outside a run) and the TMDB id of the movie that carried it.
        pub src_run: i64,
        pub src_movie_tmdb_id: i64,
        // TMDB's `/person/{id}` details, which a `people` stage fills (see `store::people`);
        // NULL until then.
        #[sea_orm(column_type = "Text", nullable)]
        pub biography: Option<String>,
        pub birthday: Option<Date>,
        pub deathday: Option<Date>,
        pub place_of_birth: Option<String>,
        pub imdb_id: Option<String>,
        pub homepage: Option<String>,
        /// The other names TMDB lists, as a JSON array of strings.
        #[sea_orm(column_type = "Text", nullable)]
        pub also_known_as: Option<String>,
        /// When a people stage last fetched the details (NULL: never).
        pub details_fetched_at: Option<DateTimeUtc>,
        #[sea_orm(has_many)]
        pub credits: HasMany<super::super::parts::movie_credits::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod person_images {
    use sea_orm::entity::prelude::*;

    /// A profile picture of a person (`/person/{id}` with `images` appended).
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "person_images")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        pub file_path: String,
        #[sea_orm(column_name = "iso_639_1")]
        pub iso_639_1: Option<String>,
        pub width: Option<i32>,
        pub height: Option<i32>,
        pub aspect_ratio: Option<f64>,
        pub vote_average: Option<f64>,
        pub vote_count: Option<i32>,
        #[sea_orm(belongs_to, from = "person_id", to = "id", on_delete = "Cascade")]
        pub person: BelongsTo<super::people::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod person_translations {
    use sea_orm::entity::prelude::*;

    /// A person's biography in one language of one country (`translations` appended).
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "person_translations")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        #[sea_orm(column_name = "iso_639_1")]
        pub iso_639_1: String,
        #[sea_orm(column_name = "iso_3166_1")]
        pub iso_3166_1: String,
        pub name: Option<String>,
        pub english_name: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub biography: Option<String>,
        #[sea_orm(belongs_to, from = "person_id", to = "id", on_delete = "Cascade")]
        pub person: BelongsTo<super::people::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod production_companies {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "production_companies")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub tmdb_id: i64,
        pub name: String,
        pub logo_path: Option<String>,
        pub origin_country: Option<String>,
        /// Whose copy of the row this is (see `store::save`): the run that saved it
        /// (`import_runs.id`, 0 outside a run) and the TMDB id of the movie that carried it.
        pub src_run: i64,
        pub src_movie_tmdb_id: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod production_countries {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "production_countries")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique, column_name = "iso_3166_1")]
        pub iso_3166_1: String,
        pub name: String,
        /// Whose copy of the row this is (see `store::save`): the run that saved it
        /// (`import_runs.id`, 0 outside a run) and the TMDB id of the movie that carried it.
        pub src_run: i64,
        pub src_movie_tmdb_id: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod spoken_languages {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "spoken_languages")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique, column_name = "iso_639_1")]
        pub iso_639_1: String,
        pub name: String,
        pub english_name: Option<String>,
        /// Whose copy of the row this is (see `store::save`): the run that saved it
        /// (`import_runs.id`, 0 outside a run) and the TMDB id of the movie that carried it.
        pub src_run: i64,
        pub src_movie_tmdb_id: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod external_sources {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "external_sources")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub name: String,
        pub display_name: String,
        pub url: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cultural_authorities {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "cultural_authorities")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub name: String,
        /// `award`, `collection`, `critic` or `platform`.
        pub kind: String,
        /// 0.0..=1.0: how much a list from this authority counts.
        pub trust: f64,
        #[sea_orm(has_many)]
        pub lists: HasMany<super::super::curation::curated_lists::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

// How popctl writes these tables: each one's natural key, and its rows from what the store is
// given (`store::bundle`, the seed files). `store::save` says why shared rows carry whose copy
// they are.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;

use crate::lists::AuthorityKind;
use crate::store::bundle;
use crate::store::sql::NaturalKey;

/// Whose copy of a shared row a write is: the run saving it (`import_runs.id`, 0 outside a
/// run) and the TMDB id of the movie that carried it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Provenance {
    pub run: i64,
    pub movie_tmdb_id: i64,
}

/// A table of rows shared between movies, which keeps one movie's copy of each row and
/// records whose (see `store::save`).
pub(crate) trait SharedTable: NaturalKey {
    /// The run that saved the copy.
    const SRC_RUN: Self::Column;
    /// The TMDB id of the movie that carried it.
    const SRC_MOVIE: Self::Column;
    /// Nullable columns no movie's copy carries (a person's details): written by another
    /// writer, so they do not rank copies.
    const NOT_COPIED: &'static [Self::Column] = &[];
}

/// Declares a shared table's natural key and its provenance columns, and the columns no
/// movie's copy carries, if any.
macro_rules! shared_table {
    ($module:ident, $key:ident $(, not_copied: [$($col:ident),* $(,)?])?) => {
        impl NaturalKey for $module::Entity {
            const KEY: &'static [$module::Column] = &[$module::Column::$key];
        }

        impl SharedTable for $module::Entity {
            const SRC_RUN: $module::Column = $module::Column::SrcRun;
            const SRC_MOVIE: $module::Column = $module::Column::SrcMovieTmdbId;
            $(const NOT_COPIED: &'static [$module::Column] = &[$($module::Column::$col),*];)?
        }
    };
}

shared_table!(collections, TmdbId, not_copied: [Overview, DetailsFetchedAt]);
shared_table!(genres, TmdbId);
shared_table!(keywords, TmdbId);
shared_table!(
    people,
    TmdbId,
    not_copied: [
        Biography,
        Birthday,
        Deathday,
        PlaceOfBirth,
        ImdbId,
        Homepage,
        AlsoKnownAs,
        DetailsFetchedAt,
    ]
);
shared_table!(production_companies, TmdbId);
shared_table!(production_countries, Iso31661);
shared_table!(spoken_languages, Iso6391);

impl collections::ActiveModel {
    pub(crate) fn copy(c: &bundle::Collection, src: Provenance) -> Self {
        collections::ActiveModel {
            tmdb_id: Set(c.tmdb_id),
            name: Set(c.name.clone()),
            poster_path: Set(c.poster_path.clone()),
            backdrop_path: Set(c.backdrop_path.clone()),
            src_run: Set(src.run),
            src_movie_tmdb_id: Set(src.movie_tmdb_id),
            ..Default::default()
        }
    }

    /// A collection's details as `/collection/{id}` gives them, fetched at `now` by run `run`.
    /// The name, images and provenance are for a collection no movie has carried yet (the
    /// writer keeps a stored row's own, see `store::collection`).
    pub(crate) fn details(d: &bundle::CollectionDetails, run: i64, now: DateTime<Utc>) -> Self {
        collections::ActiveModel {
            tmdb_id: Set(d.collection.tmdb_id),
            name: Set(d.collection.name.clone()),
            poster_path: Set(d.collection.poster_path.clone()),
            backdrop_path: Set(d.collection.backdrop_path.clone()),
            src_run: Set(run),
            // No movie carried this copy: any movie's copy outranks it.
            src_movie_tmdb_id: Set(i64::MAX),
            overview: Set(d.overview.clone()),
            details_fetched_at: Set(Some(now)),
            ..Default::default()
        }
    }
}

impl genres::ActiveModel {
    pub(crate) fn copy(g: &bundle::Genre, src: Provenance) -> Self {
        genres::ActiveModel {
            tmdb_id: Set(g.tmdb_id),
            name: Set(g.name.clone()),
            src_run: Set(src.run),
            src_movie_tmdb_id: Set(src.movie_tmdb_id),
            ..Default::default()
        }
    }

    /// A genre from the seed's genre list, which carries no copy of a movie.
    pub(crate) fn seeded(tmdb_id: i64, name: String) -> Self {
        genres::ActiveModel {
            tmdb_id: Set(tmdb_id),
            name: Set(name),
            ..Default::default()
        }
    }
}

impl keywords::ActiveModel {
    pub(crate) fn copy(k: &bundle::Keyword, src: Provenance) -> Self {
        keywords::ActiveModel {
            tmdb_id: Set(k.tmdb_id),
            name: Set(k.name.clone()),
            src_run: Set(src.run),
            src_movie_tmdb_id: Set(src.movie_tmdb_id),
            ..Default::default()
        }
    }
}

impl people::ActiveModel {
    pub(crate) fn copy(p: &bundle::Person, src: Provenance) -> Self {
        people::ActiveModel {
            tmdb_id: Set(p.tmdb_id),
            name: Set(p.name.clone()),
            original_name: Set(p.original_name.clone()),
            gender: Set(p.gender),
            known_for_department: Set(p.known_for_department.clone()),
            profile_path: Set(p.profile_path.clone()),
            popularity: Set(p.popularity),
            adult: Set(p.adult),
            src_run: Set(src.run),
            src_movie_tmdb_id: Set(src.movie_tmdb_id),
            ..Default::default()
        }
    }
}

impl people::ActiveModel {
    /// A person's details as `/person/{id}` gives them, fetched at `now` by run `run`. The
    /// name, department, photo and provenance are for a person no movie has carried yet (the
    /// writer keeps a stored row's own, see `store::people`).
    pub(crate) fn details(d: &bundle::PersonDetails, run: i64, now: DateTime<Utc>) -> Self {
        let also_known_as = (!d.also_known_as.is_empty())
            .then(|| serde_json::Value::from(d.also_known_as.clone()).to_string());
        people::ActiveModel {
            tmdb_id: Set(d.tmdb_id),
            name: Set(d.name.clone()),
            known_for_department: Set(d.known_for_department.clone()),
            profile_path: Set(d.profile_path.clone()),
            src_run: Set(run),
            // No movie carried this copy: any movie's copy outranks it.
            src_movie_tmdb_id: Set(i64::MAX),
            biography: Set(d.biography.clone()),
            birthday: Set(d.birthday),
            deathday: Set(d.deathday),
            place_of_birth: Set(d.place_of_birth.clone()),
            imdb_id: Set(d.imdb_id.clone()),
            homepage: Set(d.homepage.clone()),
            also_known_as: Set(also_known_as),
            details_fetched_at: Set(Some(now)),
            ..Default::default()
        }
    }
}

impl production_companies::ActiveModel {
    pub(crate) fn copy(c: &bundle::Company, src: Provenance) -> Self {
        production_companies::ActiveModel {
            tmdb_id: Set(c.tmdb_id),
            name: Set(c.name.clone()),
            logo_path: Set(c.logo_path.clone()),
            origin_country: Set(c.origin_country.clone()),
            src_run: Set(src.run),
            src_movie_tmdb_id: Set(src.movie_tmdb_id),
            ..Default::default()
        }
    }
}

impl production_countries::ActiveModel {
    pub(crate) fn copy(c: &bundle::Country, src: Provenance) -> Self {
        production_countries::ActiveModel {
            iso_3166_1: Set(c.iso_3166_1.clone()),
            name: Set(c.name.clone()),
            src_run: Set(src.run),
            src_movie_tmdb_id: Set(src.movie_tmdb_id),
            ..Default::default()
        }
    }
}

impl spoken_languages::ActiveModel {
    pub(crate) fn copy(l: &bundle::Language, src: Provenance) -> Self {
        spoken_languages::ActiveModel {
            iso_639_1: Set(l.iso_639_1.clone()),
            name: Set(l.name.clone()),
            english_name: Set(l.english_name.clone()),
            src_run: Set(src.run),
            src_movie_tmdb_id: Set(src.movie_tmdb_id),
            ..Default::default()
        }
    }
}

impl NaturalKey for external_sources::Entity {
    const KEY: &'static [external_sources::Column] = &[external_sources::Column::Name];
}

impl NaturalKey for cultural_authorities::Entity {
    const KEY: &'static [cultural_authorities::Column] = &[cultural_authorities::Column::Name];
}

impl cultural_authorities::ActiveModel {
    pub(crate) fn new(name: &str, kind: AuthorityKind, trust: f64) -> Self {
        cultural_authorities::ActiveModel {
            name: Set(name.to_owned()),
            kind: Set(kind.as_str().to_owned()),
            trust: Set(trust),
            ..Default::default()
        }
    }
}

impl NaturalKey for person_images::Entity {
    const KEY: &'static [person_images::Column] = &[
        person_images::Column::PersonId,
        person_images::Column::FilePath,
    ];
}

impl person_images::ActiveModel {
    pub(crate) fn new(person_id: i64, m: &bundle::Image) -> Self {
        person_images::ActiveModel {
            person_id: Set(person_id),
            file_path: Set(m.file_path.clone()),
            iso_639_1: Set(m.iso_639_1.clone()),
            width: Set(m.width),
            height: Set(m.height),
            aspect_ratio: Set(m.aspect_ratio),
            vote_average: Set(m.vote_average),
            vote_count: Set(m.vote_count),
            ..Default::default()
        }
    }
}

impl NaturalKey for person_translations::Entity {
    const KEY: &'static [person_translations::Column] = &[
        person_translations::Column::PersonId,
        person_translations::Column::Iso6391,
        person_translations::Column::Iso31661,
    ];
}

impl person_translations::ActiveModel {
    pub(crate) fn new(person_id: i64, t: &bundle::PersonTranslation) -> Self {
        person_translations::ActiveModel {
            person_id: Set(person_id),
            iso_639_1: Set(t.iso_639_1.clone()),
            iso_3166_1: Set(t.iso_3166_1.clone()),
            name: Set(t.name.clone()),
            english_name: Set(t.english_name.clone()),
            biography: Set(t.biography.clone()),
            ..Default::default()
        }
    }
}
