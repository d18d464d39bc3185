//! What belongs to one movie: join rows to shared tables, credits, videos, release dates,
//! recommendations, reviews, external ratings and the enrichment state per source.

/// A join table between `movies` and a shared table.
macro_rules! join_table {
    ($module:ident, $table:literal, $column:ident, $column_name:literal, $shared:ident) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[sea_orm::model]
            #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key, auto_increment = false)]
                pub movie_id: i64,
                #[sea_orm(primary_key, auto_increment = false)]
                pub $column: i64,
                #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
                pub movie: BelongsTo<super::super::movie::movies::Entity>,
                #[sea_orm(belongs_to, from = $column_name, to = "id", on_delete = "Cascade")]
                pub shared: BelongsTo<super::super::reference::$shared::Entity>,
            }

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

join_table!(movie_genres, "movie_genres", genre_id, "genre_id", genres);
join_table!(
    movie_keywords,
    "movie_keywords",
    keyword_id,
    "keyword_id",
    keywords
);
join_table!(
    movie_production_companies,
    "movie_production_companies",
    company_id,
    "company_id",
    production_companies
);
join_table!(
    movie_production_countries,
    "movie_production_countries",
    country_id,
    "country_id",
    production_countries
);
join_table!(
    movie_spoken_languages,
    "movie_spoken_languages",
    language_id,
    "language_id",
    spoken_languages
);

pub mod movie_credits {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "movie_credits")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// TMDB's `credit_id`, unique with `movie_id`; for a credit whose movie lists no
        /// distinct `credit_id` for it, a key derived from the credit (see `store::save`).
        pub credit_id: String,
        pub movie_id: i64,
        pub person_id: i64,
        /// `cast` or `crew`.
        pub credit_type: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub character: Option<String>,
        pub cast_order: Option<i32>,
        pub department: Option<String>,
        pub job: Option<String>,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
        #[sea_orm(belongs_to, from = "person_id", to = "id", on_delete = "Cascade")]
        pub person: BelongsTo<super::super::reference::people::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod movie_videos {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "movie_videos")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub tmdb_video_id: String,
        pub movie_id: i64,
        pub name: String,
        pub site: String,
        pub video_key: String,
        pub video_type: Option<String>,
        pub size: Option<i32>,
        pub official: Option<bool>,
        #[sea_orm(column_name = "iso_639_1")]
        pub iso_639_1: Option<String>,
        #[sea_orm(column_name = "iso_3166_1")]
        pub iso_3166_1: Option<String>,
        pub published_at: Option<DateTimeUtc>,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod movie_release_dates {
    use sea_orm::entity::prelude::*;

    /// Keyed by (movie, country, type, date, language, note): two releases of one type in one
    /// country are two rows.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "movie_release_dates")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub movie_id: i64,
        #[sea_orm(column_name = "iso_3166_1")]
        pub iso_3166_1: String,
        /// TMDB's release type, 1 (premiere) to 6 (TV).
        pub release_type: i16,
        pub release_date: Date,
        /// "" when TMDB gives none (part of the key, so never NULL).
        #[sea_orm(column_name = "iso_639_1")]
        pub iso_639_1: String,
        /// "" when TMDB gives none (part of the key, so never NULL).
        pub note: String,
        pub certification: Option<String>,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod movie_recommendations {
    use sea_orm::entity::prelude::*;

    /// TMDB `recommendations` and `similar` (and later computed ones), by target TMDB id, kept
    /// whether or not the target is imported; `recommended_movie_id` links it once it is.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "movie_recommendations")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub movie_id: i64,
        pub recommended_tmdb_id: i64,
        pub recommended_movie_id: Option<i64>,
        /// `recommended`, `similar` (from TMDB) or a computed kind.
        pub kind: String,
        /// 1-based position in TMDB's answer.
        pub rank: i32,
        pub score: Option<f64>,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod reviews {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "reviews")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub tmdb_review_id: String,
        pub movie_id: i64,
        pub author: String,
        pub author_username: Option<String>,
        pub rating: Option<f64>,
        #[sea_orm(column_type = "Text")]
        pub content: String,
        /// When the review was written (upstream time, not a bookkeeping stamp).
        pub created_at: Option<DateTimeUtc>,
        pub updated_at: Option<DateTimeUtc>,
        pub url: Option<String>,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod external_ratings {
    use sea_orm::entity::prelude::*;

    /// One rating figure of one movie from one source: (movie, source, metric) is unique.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "external_ratings")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub movie_id: i64,
        /// `external_sources.name`.
        pub source: String,
        pub metric: String,
        pub value: f64,
        /// The top of the scale (10, 100), none for counts.
        pub scale: Option<f64>,
        pub fetched_at: DateTimeUtc,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod movie_enrichment {
    use sea_orm::entity::prelude::*;

    /// What a source answered for a movie, so reruns do not ask again.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "movie_enrichment")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub movie_id: i64,
        pub source: String,
        /// `fetched`, `no_data` or `no_imdb_id`.
        pub state: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub reason: Option<String>,
        pub checked_at: DateTimeUtc,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}
