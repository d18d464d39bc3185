//! What the store writes: plain data that `sources::tmdb::mapping` and
//! `sources::omdb::mapping` build from upstream bodies. No HTTP and no SeaORM types here, so the
//! mapping stays pure and the store never sees upstream JSON shapes.
//!
//! A part that the upstream body did not contain is `None` and leaves the stored rows of that
//! part alone; a part that is present (even empty) replaces them.

use chrono::{DateTime, NaiveDate, Utc};

/// One TMDB movie with every part its details body carried.
#[derive(Debug, Clone, PartialEq)]
pub struct MovieBundle {
    pub movie: MovieData,
    pub genres: Option<Vec<Genre>>,
    pub production_companies: Option<Vec<Company>>,
    pub production_countries: Option<Vec<Country>>,
    pub spoken_languages: Option<Vec<Language>>,
    pub credits: Option<Vec<Credit>>,
    pub keywords: Option<Vec<Keyword>>,
    pub videos: Option<Vec<Video>>,
    pub release_dates: Option<Vec<ReleaseDate>>,
    /// TMDB `recommendations`, in TMDB's order.
    pub recommendations: Option<Vec<RelatedMovie>>,
    /// TMDB `similar` (or the legacy `similar_movies`), in TMDB's order.
    pub similar: Option<Vec<RelatedMovie>>,
    pub reviews: Option<Vec<Review>>,
    /// Posters, backdrops and logos.
    pub images: Option<Vec<Image>>,
    pub alternative_titles: Option<Vec<AlternativeTitle>>,
    pub translations: Option<Vec<Translation>>,
    /// TMDB's `watch/providers`: where the movie can be watched, per country.
    pub watch_providers: Option<Vec<WatchProvider>>,
    /// The body as received, for `movie_raw_json`.
    pub raw_body: Option<String>,
}

impl MovieBundle {
    /// A bundle with only the movie row; every part absent.
    pub fn new(movie: MovieData) -> Self {
        MovieBundle {
            movie,
            genres: None,
            production_companies: None,
            production_countries: None,
            spoken_languages: None,
            credits: None,
            keywords: None,
            videos: None,
            release_dates: None,
            recommendations: None,
            similar: None,
            reviews: None,
            images: None,
            alternative_titles: None,
            translations: None,
            watch_providers: None,
            raw_body: None,
        }
    }

    pub fn tmdb_id(&self) -> i64 {
        self.movie.tmdb_id
    }

    /// This bundle as another movie, for tests and benchmarks that need many movies from a few
    /// real bodies: the TMDB id, IMDb id and every globally unique part id (credit, video,
    /// review) are shifted by `n`, while people, keywords, genres and companies stay shared.
    pub fn renumbered(&self, n: i64) -> MovieBundle {
        let mut b = self.clone();
        b.movie.tmdb_id = self.tmdb_id() + n * 10_000_000;
        b.movie.imdb_id = Some(format!("tt9{:09}", b.movie.tmdb_id));
        for id in b
            .credits
            .iter_mut()
            .flatten()
            .filter_map(|c| c.credit_id.as_mut())
        {
            *id = format!("{id}-v{n}");
        }
        for v in b.videos.iter_mut().flatten() {
            v.tmdb_video_id = format!("{}-v{n}", v.tmdb_video_id);
        }
        for r in b.reviews.iter_mut().flatten() {
            r.tmdb_review_id = format!("{}-v{n}", r.tmdb_review_id);
        }
        b
    }

    /// How many rows saving this bundle writes at most (for rows/s figures).
    pub fn row_count(&self) -> usize {
        fn len<T>(part: &Option<Vec<T>>) -> usize {
            part.as_ref().map_or(0, Vec::len)
        }
        let credits = self.credits.as_deref().unwrap_or(&[]);
        let mut people: Vec<i64> = credits.iter().map(|c| c.person.tmdb_id).collect();
        people.sort_unstable();
        people.dedup();
        1 + usize::from(self.movie.collection.is_some())
            + usize::from(self.raw_body.is_some())
            + self.movie.tmdb_ratings().len()
            + 2 * (len(&self.genres)
                + len(&self.production_companies)
                + len(&self.production_countries)
                + len(&self.spoken_languages)
                + len(&self.keywords))
            + people.len()
            + credits.len()
            + len(&self.videos)
            + len(&self.release_dates)
            + len(&self.recommendations)
            + len(&self.similar)
            + len(&self.reviews)
            + len(&self.images)
            + len(&self.alternative_titles)
            + len(&self.translations)
            + len(&self.watch_providers)
    }
}

/// The columns of `movies` that come from TMDB.
#[derive(Debug, Clone, PartialEq)]
pub struct MovieData {
    pub tmdb_id: i64,
    pub imdb_id: Option<String>,
    pub title: String,
    pub original_title: Option<String>,
    pub original_language: Option<String>,
    pub overview: Option<String>,
    pub tagline: Option<String>,
    pub status: Option<String>,
    /// `None` for TMDB's `""`.
    pub release_date: Option<NaiveDate>,
    /// `None` for TMDB's 0.
    pub runtime: Option<i32>,
    /// `None` for TMDB's 0.
    pub budget: Option<i64>,
    /// `None` for TMDB's 0.
    pub revenue: Option<i64>,
    pub popularity: Option<f64>,
    pub vote_average: Option<f64>,
    pub vote_count: Option<i64>,
    pub adult: bool,
    pub homepage: Option<String>,
    pub poster_path: Option<String>,
    pub backdrop_path: Option<String>,
    pub collection: Option<Collection>,
    /// `None` when the body has no `origin_country` (bodies before 2024).
    pub origin_country: Option<Vec<String>>,
}

impl MovieData {
    /// A movie with only its id and title set.
    pub fn new(tmdb_id: i64, title: impl Into<String>) -> Self {
        MovieData {
            tmdb_id,
            imdb_id: None,
            title: title.into(),
            original_title: None,
            original_language: None,
            overview: None,
            tagline: None,
            status: None,
            release_date: None,
            runtime: None,
            budget: None,
            revenue: None,
            popularity: None,
            vote_average: None,
            vote_count: None,
            adult: false,
            homepage: None,
            poster_path: None,
            backdrop_path: None,
            collection: None,
            origin_country: None,
        }
    }

    /// TMDB's own figures as `external_ratings` rows (source `tmdb`).
    pub fn tmdb_ratings(&self) -> Vec<Rating> {
        let mut ratings = Vec::new();
        if let Some(v) = self.vote_average {
            ratings.push(Rating::new(
                sources::TMDB,
                metrics::VOTE_AVERAGE,
                v,
                Some(10.0),
            ));
        }
        if let Some(v) = self.vote_count {
            ratings.push(Rating::new(
                sources::TMDB,
                metrics::VOTE_COUNT,
                v as f64,
                None,
            ));
        }
        if let Some(v) = self.popularity {
            ratings.push(Rating::new(sources::TMDB, metrics::POPULARITY, v, None));
        }
        ratings
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub tmdb_id: i64,
    pub name: String,
    pub poster_path: Option<String>,
    pub backdrop_path: Option<String>,
}

/// A collection as `/collection/{id}` gives it: the row its movies share, its overview, and
/// the TMDB ids of its movies in TMDB's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionDetails {
    pub collection: Collection,
    /// `None` where TMDB shows none (`""`).
    pub overview: Option<String>,
    pub parts: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genre {
    pub tmdb_id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyword {
    pub tmdb_id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    pub tmdb_id: i64,
    pub name: String,
    pub logo_path: Option<String>,
    pub origin_country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country {
    pub iso_3166_1: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language {
    pub iso_639_1: String,
    pub name: String,
    pub english_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub tmdb_id: i64,
    pub name: String,
    pub original_name: Option<String>,
    pub gender: Option<i16>,
    pub known_for_department: Option<String>,
    pub profile_path: Option<String>,
    pub popularity: Option<f64>,
    pub adult: Option<bool>,
}

/// TMDB's `/person/{id}` details: what a person's page shows beyond the copy movies embed.
/// Empty texts are `None`; `deathday` `""` (a legacy quirk) is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonDetails {
    pub tmdb_id: i64,
    pub name: String,
    pub known_for_department: Option<String>,
    pub profile_path: Option<String>,
    pub biography: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub deathday: Option<NaiveDate>,
    /// Trimmed: TMDB's editors leave stray spaces (`"Los Angeles, California, USA "`).
    pub place_of_birth: Option<String>,
    pub imdb_id: Option<String>,
    pub homepage: Option<String>,
    /// Other names, each trimmed, empty ones and repeats left out, in TMDB's order.
    pub also_known_as: Vec<String>,
    /// The appended `images` (profile pictures, kind [`image_kinds::PROFILE`]); `None` when
    /// not asked for.
    pub images: Option<Vec<Image>>,
    /// The appended `translations` (biographies); `None` when not asked for.
    pub translations: Option<Vec<PersonTranslation>>,
}

/// A person's biography in one language of one country; none where that language has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonTranslation {
    pub iso_639_1: String,
    pub iso_3166_1: String,
    pub name: Option<String>,
    pub english_name: Option<String>,
    pub biography: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Credit {
    /// TMDB's `credit_id`; `None` when the body has none (bodies from before credit ids
    /// existed, or an empty one). The store keys a credit without a distinct id by the credit
    /// itself (see `store::save`).
    pub credit_id: Option<String>,
    pub person: Person,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Cast {
        character: Option<String>,
        order: Option<i32>,
    },
    Crew {
        department: Option<String>,
        job: Option<String>,
    },
}

impl Role {
    pub fn kind(&self) -> &'static str {
        match self {
            Role::Cast { .. } => "cast",
            Role::Crew { .. } => "crew",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Video {
    pub tmdb_video_id: String,
    pub name: String,
    pub site: String,
    pub key: String,
    pub video_type: Option<String>,
    pub size: Option<i32>,
    pub official: Option<bool>,
    pub iso_639_1: Option<String>,
    pub iso_3166_1: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
}

/// `movie_images.kind` values.
pub mod image_kinds {
    pub const POSTER: &str = "poster";
    pub const BACKDROP: &str = "backdrop";
    pub const LOGO: &str = "logo";
    /// A person's picture (`person_images`).
    pub const PROFILE: &str = "profile";
}

/// One image of a movie or a person; `file_path` identifies it (TMDB serves it under any size).
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub file_path: String,
    /// One of [`image_kinds`].
    pub kind: &'static str,
    /// The language of the text on it; none for a picture without text.
    pub iso_639_1: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub aspect_ratio: Option<f64>,
    pub vote_average: Option<f64>,
    pub vote_count: Option<i32>,
}

/// A title the movie is known by in a country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlternativeTitle {
    pub iso_3166_1: String,
    pub title: String,
    /// "" when none (the column is part of the natural key): TMDB's `type`, e.g.
    /// "romanization", "working title".
    pub title_type: String,
}

/// One way to watch the movie in one country: a provider under a monetization type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchProvider {
    pub iso_3166_1: String,
    /// One of `plan::MONETIZATION_TYPES`: `flatrate`, `free`, `ads`, `rent`, `buy`.
    pub monetization_type: &'static str,
    pub provider_id: i64,
    pub provider_name: String,
    pub logo_path: Option<String>,
    pub display_priority: Option<i32>,
    /// TMDB's page of the movie's offers in this country.
    pub link: Option<String>,
}

/// The movie's texts in one language of one country; none where that language has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    pub iso_639_1: String,
    pub iso_3166_1: String,
    pub name: Option<String>,
    pub english_name: Option<String>,
    pub title: Option<String>,
    pub overview: Option<String>,
    pub tagline: Option<String>,
    pub homepage: Option<String>,
    /// Minutes; none when TMDB says 0.
    pub runtime: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseDate {
    pub iso_3166_1: String,
    /// 1 premiere, 2 limited theatrical, 3 theatrical, 4 digital, 5 physical, 6 TV.
    pub release_type: i16,
    pub date: NaiveDate,
    /// "" when none (the column is part of the natural key).
    pub iso_639_1: String,
    /// "" when none (the column is part of the natural key).
    pub note: String,
    pub certification: Option<String>,
}

/// A movie TMDB lists as recommended or similar; `rank` is 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelatedMovie {
    pub tmdb_id: i64,
    pub rank: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub tmdb_review_id: String,
    pub author: String,
    pub author_username: Option<String>,
    pub rating: Option<f64>,
    pub content: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
}

/// One figure for `external_ratings`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    /// An `external_sources.name` (see [`sources`]).
    pub source: &'static str,
    /// See [`metrics`].
    pub metric: &'static str,
    pub value: f64,
    /// The top of the scale, `None` for counts.
    pub scale: Option<f64>,
}

impl Rating {
    pub fn new(source: &'static str, metric: &'static str, value: f64, scale: Option<f64>) -> Self {
        Rating {
            source,
            metric,
            value,
            scale,
        }
    }
}

/// The names of `external_sources` rows the importer writes ratings and states for.
pub mod sources {
    pub const TMDB: &str = "tmdb";
    pub const OMDB: &str = "omdb";
    pub const IMDB: &str = "imdb";
    pub const ROTTEN_TOMATOES: &str = "rotten_tomatoes";
    pub const METACRITIC: &str = "metacritic";
    pub const ALL: [&str; 5] = [TMDB, OMDB, IMDB, ROTTEN_TOMATOES, METACRITIC];
}

/// `external_ratings.metric` values.
pub mod metrics {
    pub const VOTE_AVERAGE: &str = "vote_average";
    pub const VOTE_COUNT: &str = "vote_count";
    pub const POPULARITY: &str = "popularity";
    pub const RATING: &str = "rating";
    pub const VOTES: &str = "votes";
    pub const TOMATOMETER: &str = "tomatometer";
    pub const METASCORE: &str = "metascore";
}

/// What OMDb knows about one movie, as the store writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct OmdbRecord {
    pub imdb_id: String,
    pub title: Option<String>,
    /// `movie`, `series` or `episode`.
    pub kind: Option<String>,
    pub year: Option<String>,
    /// Content rating (`Rated`): "PG-13", "R", …
    pub rated: Option<String>,
    pub released: Option<NaiveDate>,
    pub runtime_minutes: Option<i32>,
    /// The `Awards` text as given, `None` for "N/A".
    pub awards_text: Option<String>,
    pub awards: Option<Awards>,
    /// `BoxOffice` in whole US dollars.
    pub box_office_usd: Option<i64>,
    /// IMDb rating and votes, Rotten Tomatoes and Metacritic, whichever OMDb had.
    pub ratings: Vec<Rating>,
    /// The body as received, for `movie_raw_json`.
    pub raw_body: Option<String>,
}

/// Counts parsed from OMDb's `Awards` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Awards {
    pub oscar_wins: u32,
    /// Oscar nominations the text states. "Won N Oscars." states no losing nominations, so
    /// this is then N: a lower bound.
    pub oscar_nominations: u32,
    /// Wins of every award, the headline ones included.
    pub total_wins: u32,
    /// Nominations that did not win, of every award, the headline ones included (IMDb counts
    /// wins and nominations apart).
    pub total_nominations: u32,
    /// False when part of the text was not understood; the counts are then what was.
    pub complete: bool,
}
