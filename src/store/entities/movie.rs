//! The movie row and its raw upstream bodies.

// The many-to-many relations of `movies` name their junction tables as siblings.
use super::parts::{movie_genres, movie_keywords};

pub mod movies {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "movies")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub tmdb_id: i64,
        #[sea_orm(unique)]
        pub imdb_id: Option<String>,
        pub title: String,
        pub original_title: Option<String>,
        pub original_language: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub overview: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub tagline: Option<String>,
        pub status: Option<String>,
        pub release_date: Option<Date>,
        pub runtime: Option<i32>,
        pub budget: Option<i64>,
        pub revenue: Option<i64>,
        pub popularity: Option<f64>,
        pub vote_average: Option<f64>,
        pub vote_count: Option<i64>,
        pub adult: bool,
        pub homepage: Option<String>,
        pub poster_path: Option<String>,
        pub backdrop_path: Option<String>,
        pub collection_id: Option<i64>,
        /// TMDB's `origin_country`, comma-separated ("GB,US").
        pub origin_country: Option<String>,
        /// OMDb `Rated` (content rating).
        pub rated: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub awards_text: Option<String>,
        pub oscar_wins: Option<i32>,
        pub oscar_nominations: Option<i32>,
        pub award_wins: Option<i32>,
        pub award_nominations: Option<i32>,
        pub box_office_usd: Option<i64>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        #[sea_orm(belongs_to, from = "collection_id", to = "id", on_delete = "SetNull")]
        pub collection: BelongsTo<Option<super::super::reference::collections::Entity>>,
        #[sea_orm(has_many, via = "movie_genres")]
        pub genres: HasMany<super::super::reference::genres::Entity>,
        #[sea_orm(has_many, via = "movie_keywords")]
        pub keywords: HasMany<super::super::reference::keywords::Entity>,
        #[sea_orm(has_many)]
        pub credits: HasMany<super::super::parts::movie_credits::Entity>,
        #[sea_orm(has_many)]
        pub videos: HasMany<super::super::parts::movie_videos::Entity>,
        #[sea_orm(has_many)]
        pub release_dates: HasMany<super::super::parts::movie_release_dates::Entity>,
        #[sea_orm(has_many)]
        pub reviews: HasMany<super::super::parts::reviews::Entity>,
        #[sea_orm(has_many)]
        pub ratings: HasMany<super::super::parts::external_ratings::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod movie_raw_json {
    use sea_orm::entity::prelude::*;

    /// One raw upstream body per movie and source (`tmdb`, `omdb`), as received.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "movie_raw_json")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub movie_id: i64,
        pub source: String,
        #[sea_orm(column_type = "Text")]
        pub body: String,
        pub fetched_at: DateTimeUtc,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}
