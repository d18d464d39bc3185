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
        #[sea_orm(has_many)]
        pub credits: HasMany<super::super::parts::movie_credits::Entity>,
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
