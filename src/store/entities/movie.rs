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
        /// The day popctl found TMDB no longer has the movie (`on_removed = "mark"`).
        pub removed_on: Option<Date>,
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

// How popctl writes these tables: each one's natural key, and its rows from `store::bundle`.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;

use crate::store::bundle::{MovieData, OmdbRecord};
use crate::store::sql::NaturalKey;

impl NaturalKey for movies::Entity {
    const KEY: &'static [movies::Column] = &[movies::Column::TmdbId];
}

impl movies::ActiveModel {
    /// The columns of the movie that come from TMDB, stamped `now`; OMDb's are left alone.
    pub(crate) fn from_tmdb(m: &MovieData, collection_id: Option<i64>, now: DateTime<Utc>) -> Self {
        movies::ActiveModel {
            tmdb_id: Set(m.tmdb_id),
            imdb_id: Set(m.imdb_id.clone()),
            title: Set(m.title.clone()),
            original_title: Set(m.original_title.clone()),
            original_language: Set(m.original_language.clone()),
            overview: Set(m.overview.clone()),
            tagline: Set(m.tagline.clone()),
            status: Set(m.status.clone()),
            release_date: Set(m.release_date),
            runtime: Set(m.runtime),
            budget: Set(m.budget),
            revenue: Set(m.revenue),
            popularity: Set(m.popularity),
            vote_average: Set(m.vote_average),
            vote_count: Set(m.vote_count),
            adult: Set(m.adult),
            homepage: Set(m.homepage.clone()),
            poster_path: Set(m.poster_path.clone()),
            backdrop_path: Set(m.backdrop_path.clone()),
            collection_id: Set(collection_id),
            origin_country: Set(m.origin_country.as_ref().map(|c| c.join(","))),
            // TMDB has the movie (again): it answered with it.
            removed_on: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    }
}

impl movies::ActiveModel {
    /// The columns of the movie that come from OMDb, stamped `now`; TMDB's are left alone.
    pub(crate) fn from_omdb(record: &OmdbRecord, now: DateTime<Utc>) -> Self {
        let awards = record.awards;
        let count = |n: Option<u32>| n.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        movies::ActiveModel {
            rated: Set(record.rated.clone()),
            awards_text: Set(record.awards_text.clone()),
            oscar_wins: Set(count(awards.map(|a| a.oscar_wins))),
            oscar_nominations: Set(count(awards.map(|a| a.oscar_nominations))),
            award_wins: Set(count(awards.map(|a| a.total_wins))),
            award_nominations: Set(count(awards.map(|a| a.total_nominations))),
            box_office_usd: Set(record.box_office_usd),
            updated_at: Set(now),
            ..Default::default()
        }
    }
}

impl NaturalKey for movie_raw_json::Entity {
    const KEY: &'static [movie_raw_json::Column] = &[
        movie_raw_json::Column::MovieId,
        movie_raw_json::Column::Source,
    ];
}

impl movie_raw_json::ActiveModel {
    pub(crate) fn new(movie_id: i64, source: &str, body: &str, now: DateTime<Utc>) -> Self {
        movie_raw_json::ActiveModel {
            movie_id: Set(movie_id),
            source: Set(source.to_owned()),
            body: Set(body.to_owned()),
            fetched_at: Set(now),
            ..Default::default()
        }
    }
}
