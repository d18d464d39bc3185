//! What belongs to one movie: join rows to shared tables, credits, videos, release dates,
//! recommendations, reviews, images, alternative titles, translations, watch providers,
//! external ratings and the enrichment state per source.

/// A join table between `movies` and a shared table.
macro_rules! join_table {
    ($module:ident, $table:literal, $column:ident, $key:ident, $column_name:literal, $shared:ident) => {
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

            /// (movie, shared row): what `store::save` links and unlinks by.
            impl crate::store::sql::NaturalKey for Entity {
                const KEY: &'static [Column] = &[Column::MovieId, Column::$key];
            }
        }
    };
}

join_table!(
    movie_genres,
    "movie_genres",
    genre_id,
    GenreId,
    "genre_id",
    genres
);
join_table!(
    movie_keywords,
    "movie_keywords",
    keyword_id,
    KeywordId,
    "keyword_id",
    keywords
);
join_table!(
    movie_production_companies,
    "movie_production_companies",
    company_id,
    CompanyId,
    "company_id",
    production_companies
);
join_table!(
    movie_production_countries,
    "movie_production_countries",
    country_id,
    CountryId,
    "country_id",
    production_countries
);
join_table!(
    movie_spoken_languages,
    "movie_spoken_languages",
    language_id,
    LanguageId,
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

pub mod movie_images {
    use sea_orm::entity::prelude::*;

    /// A poster, backdrop or logo of a movie (`bundle::image_kinds`).
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "movie_images")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub movie_id: i64,
        pub file_path: String,
        pub kind: String,
        #[sea_orm(column_name = "iso_639_1")]
        pub iso_639_1: Option<String>,
        pub width: Option<i32>,
        pub height: Option<i32>,
        pub aspect_ratio: Option<f64>,
        pub vote_average: Option<f64>,
        pub vote_count: Option<i32>,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod movie_alternative_titles {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "movie_alternative_titles")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub movie_id: i64,
        #[sea_orm(column_name = "iso_3166_1")]
        pub iso_3166_1: String,
        pub title: String,
        /// "" when TMDB gives none.
        pub title_type: String,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod movie_translations {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "movie_translations")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub movie_id: i64,
        #[sea_orm(column_name = "iso_639_1")]
        pub iso_639_1: String,
        #[sea_orm(column_name = "iso_3166_1")]
        pub iso_3166_1: String,
        pub name: Option<String>,
        pub english_name: Option<String>,
        pub title: Option<String>,
        pub overview: Option<String>,
        pub tagline: Option<String>,
        pub homepage: Option<String>,
        pub runtime: Option<i32>,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod movie_watch_providers {
    use sea_orm::entity::prelude::*;

    /// Where a movie can be watched in one country: one provider under one monetization type
    /// (`flatrate`, `free`, `ads`, `rent`, `buy`), with the country's TMDB `link`.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "movie_watch_providers")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub movie_id: i64,
        #[sea_orm(column_name = "iso_3166_1")]
        pub iso_3166_1: String,
        pub monetization_type: String,
        pub provider_id: i64,
        pub provider_name: String,
        pub logo_path: Option<String>,
        pub display_priority: Option<i32>,
        pub link: Option<String>,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

// How popctl writes these tables: each one's natural key, and its rows from `store::bundle`
// (or what a post-processing step computed).

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;

use crate::store::bundle;
use crate::store::sql::NaturalKey;

/// A table of rows that belong to one movie, which `store::save` replaces as a whole.
pub(crate) trait MovieRows: NaturalKey {
    /// The column naming the movie.
    const MOVIE: Self::Column;
}

impl MovieRows for movie_credits::Entity {
    const MOVIE: movie_credits::Column = movie_credits::Column::MovieId;
}

impl MovieRows for movie_videos::Entity {
    const MOVIE: movie_videos::Column = movie_videos::Column::MovieId;
}

impl MovieRows for movie_release_dates::Entity {
    const MOVIE: movie_release_dates::Column = movie_release_dates::Column::MovieId;
}

impl MovieRows for reviews::Entity {
    const MOVIE: reviews::Column = reviews::Column::MovieId;
}

impl NaturalKey for movie_credits::Entity {
    /// A credit id is unique within its movie (see `store::save`).
    const KEY: &'static [movie_credits::Column] = &[
        movie_credits::Column::MovieId,
        movie_credits::Column::CreditId,
    ];
}

impl movie_credits::ActiveModel {
    /// The credit `c` of movie `movie_id` under `key`, its person's row being `person_id`.
    pub(crate) fn new(key: String, movie_id: i64, person_id: i64, c: &bundle::Credit) -> Self {
        let (character, order, department, job) = match &c.role {
            bundle::Role::Cast { character, order } => (character.clone(), *order, None, None),
            bundle::Role::Crew { department, job } => (None, None, department.clone(), job.clone()),
        };
        movie_credits::ActiveModel {
            credit_id: Set(key),
            movie_id: Set(movie_id),
            person_id: Set(person_id),
            credit_type: Set(c.role.kind().to_owned()),
            character: Set(character),
            cast_order: Set(order),
            department: Set(department),
            job: Set(job),
            ..Default::default()
        }
    }
}

impl NaturalKey for movie_videos::Entity {
    const KEY: &'static [movie_videos::Column] = &[movie_videos::Column::TmdbVideoId];
}

impl movie_videos::ActiveModel {
    pub(crate) fn new(movie_id: i64, v: &bundle::Video) -> Self {
        movie_videos::ActiveModel {
            tmdb_video_id: Set(v.tmdb_video_id.clone()),
            movie_id: Set(movie_id),
            name: Set(v.name.clone()),
            site: Set(v.site.clone()),
            video_key: Set(v.key.clone()),
            video_type: Set(v.video_type.clone()),
            size: Set(v.size),
            official: Set(v.official),
            iso_639_1: Set(v.iso_639_1.clone()),
            iso_3166_1: Set(v.iso_3166_1.clone()),
            published_at: Set(v.published_at),
            ..Default::default()
        }
    }
}

impl NaturalKey for movie_release_dates::Entity {
    const KEY: &'static [movie_release_dates::Column] = &[
        movie_release_dates::Column::MovieId,
        movie_release_dates::Column::Iso31661,
        movie_release_dates::Column::ReleaseType,
        movie_release_dates::Column::ReleaseDate,
        movie_release_dates::Column::Iso6391,
        movie_release_dates::Column::Note,
    ];
}

impl movie_release_dates::ActiveModel {
    pub(crate) fn new(movie_id: i64, d: &bundle::ReleaseDate) -> Self {
        movie_release_dates::ActiveModel {
            movie_id: Set(movie_id),
            iso_3166_1: Set(d.iso_3166_1.clone()),
            release_type: Set(d.release_type),
            release_date: Set(d.date),
            iso_639_1: Set(d.iso_639_1.clone()),
            note: Set(d.note.clone()),
            certification: Set(d.certification.clone()),
            ..Default::default()
        }
    }
}

impl NaturalKey for movie_recommendations::Entity {
    const KEY: &'static [movie_recommendations::Column] = &[
        movie_recommendations::Column::MovieId,
        movie_recommendations::Column::Kind,
        movie_recommendations::Column::RecommendedTmdbId,
    ];
}

impl movie_recommendations::ActiveModel {
    /// A movie TMDB lists for movie `movie_id` under `kind` (`recommended`, `similar`); the
    /// link to its row is made later, by the `recommendations` step.
    pub(crate) fn listed(movie_id: i64, kind: &str, r: &bundle::RelatedMovie) -> Self {
        movie_recommendations::ActiveModel {
            movie_id: Set(movie_id),
            kind: Set(kind.to_owned()),
            recommended_tmdb_id: Set(r.tmdb_id),
            rank: Set(r.rank),
            ..Default::default()
        }
    }

    /// A recommendation computed among the imported movies, linked to its target's row.
    pub(crate) fn computed(kind: &str, r: &crate::store::derived::ComputedRecommendation) -> Self {
        movie_recommendations::ActiveModel {
            movie_id: Set(r.movie_id),
            kind: Set(kind.to_owned()),
            recommended_tmdb_id: Set(r.target_tmdb_id),
            recommended_movie_id: Set(Some(r.target_movie_id)),
            rank: Set(r.rank),
            score: Set(Some(r.score)),
            ..Default::default()
        }
    }
}

impl NaturalKey for reviews::Entity {
    const KEY: &'static [reviews::Column] = &[reviews::Column::TmdbReviewId];
}

impl reviews::ActiveModel {
    pub(crate) fn new(movie_id: i64, r: &bundle::Review) -> Self {
        reviews::ActiveModel {
            tmdb_review_id: Set(r.tmdb_review_id.clone()),
            movie_id: Set(movie_id),
            author: Set(r.author.clone()),
            author_username: Set(r.author_username.clone()),
            rating: Set(r.rating),
            content: Set(r.content.clone()),
            created_at: Set(r.created_at),
            updated_at: Set(r.updated_at),
            url: Set(r.url.clone()),
            ..Default::default()
        }
    }
}

impl NaturalKey for external_ratings::Entity {
    const KEY: &'static [external_ratings::Column] = &[
        external_ratings::Column::MovieId,
        external_ratings::Column::Source,
        external_ratings::Column::Metric,
    ];
}

impl external_ratings::ActiveModel {
    pub(crate) fn new(movie_id: i64, r: &bundle::Rating, now: DateTime<Utc>) -> Self {
        external_ratings::ActiveModel {
            movie_id: Set(movie_id),
            source: Set(r.source.to_owned()),
            metric: Set(r.metric.to_owned()),
            value: Set(r.value),
            scale: Set(r.scale),
            fetched_at: Set(now),
            ..Default::default()
        }
    }
}

impl NaturalKey for movie_enrichment::Entity {
    const KEY: &'static [movie_enrichment::Column] = &[
        movie_enrichment::Column::MovieId,
        movie_enrichment::Column::Source,
    ];
}

impl MovieRows for movie_images::Entity {
    const MOVIE: movie_images::Column = movie_images::Column::MovieId;
}

impl NaturalKey for movie_images::Entity {
    const KEY: &'static [movie_images::Column] = &[
        movie_images::Column::MovieId,
        movie_images::Column::FilePath,
    ];
}

impl movie_images::ActiveModel {
    pub(crate) fn new(movie_id: i64, m: &bundle::Image) -> Self {
        movie_images::ActiveModel {
            movie_id: Set(movie_id),
            file_path: Set(m.file_path.clone()),
            kind: Set(m.kind.to_owned()),
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

impl MovieRows for movie_alternative_titles::Entity {
    const MOVIE: movie_alternative_titles::Column = movie_alternative_titles::Column::MovieId;
}

impl NaturalKey for movie_alternative_titles::Entity {
    const KEY: &'static [movie_alternative_titles::Column] = &[
        movie_alternative_titles::Column::MovieId,
        movie_alternative_titles::Column::Iso31661,
        movie_alternative_titles::Column::Title,
        movie_alternative_titles::Column::TitleType,
    ];
}

impl movie_alternative_titles::ActiveModel {
    pub(crate) fn new(movie_id: i64, t: &bundle::AlternativeTitle) -> Self {
        movie_alternative_titles::ActiveModel {
            movie_id: Set(movie_id),
            iso_3166_1: Set(t.iso_3166_1.clone()),
            title: Set(t.title.clone()),
            title_type: Set(t.title_type.clone()),
            ..Default::default()
        }
    }
}

impl MovieRows for movie_translations::Entity {
    const MOVIE: movie_translations::Column = movie_translations::Column::MovieId;
}

impl NaturalKey for movie_translations::Entity {
    const KEY: &'static [movie_translations::Column] = &[
        movie_translations::Column::MovieId,
        movie_translations::Column::Iso6391,
        movie_translations::Column::Iso31661,
    ];
}

impl movie_translations::ActiveModel {
    pub(crate) fn new(movie_id: i64, t: &bundle::Translation) -> Self {
        movie_translations::ActiveModel {
            movie_id: Set(movie_id),
            iso_639_1: Set(t.iso_639_1.clone()),
            iso_3166_1: Set(t.iso_3166_1.clone()),
            name: Set(t.name.clone()),
            english_name: Set(t.english_name.clone()),
            title: Set(t.title.clone()),
            overview: Set(t.overview.clone()),
            tagline: Set(t.tagline.clone()),
            homepage: Set(t.homepage.clone()),
            runtime: Set(t.runtime),
            ..Default::default()
        }
    }
}

impl MovieRows for movie_watch_providers::Entity {
    const MOVIE: movie_watch_providers::Column = movie_watch_providers::Column::MovieId;
}

impl NaturalKey for movie_watch_providers::Entity {
    const KEY: &'static [movie_watch_providers::Column] = &[
        movie_watch_providers::Column::MovieId,
        movie_watch_providers::Column::Iso31661,
        movie_watch_providers::Column::MonetizationType,
        movie_watch_providers::Column::ProviderId,
    ];
}

impl movie_watch_providers::ActiveModel {
    pub(crate) fn new(movie_id: i64, w: &bundle::WatchProvider) -> Self {
        movie_watch_providers::ActiveModel {
            movie_id: Set(movie_id),
            iso_3166_1: Set(w.iso_3166_1.clone()),
            monetization_type: Set(w.monetization_type.to_owned()),
            provider_id: Set(w.provider_id),
            provider_name: Set(w.provider_name.clone()),
            logo_path: Set(w.logo_path.clone()),
            display_priority: Set(w.display_priority),
            link: Set(w.link.clone()),
            ..Default::default()
        }
    }
}
