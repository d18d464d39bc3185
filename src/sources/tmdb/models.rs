//! TMDB v3 response shapes, as lenient as real bodies require: every field that some recorded
//! body lacks or nulls is optional, unknown fields are ignored, and numbers may be strings.

use serde::Deserialize;

use crate::sources::lenient::{id, opt_f64, opt_i64};

/// `GET /movie/{id}` with whatever `append_to_response` parts it carries.
#[derive(Debug, Deserialize)]
pub struct MovieDetails {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default)]
    pub imdb_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub original_title: Option<String>,
    #[serde(default)]
    pub original_language: Option<String>,
    #[serde(default)]
    pub overview: Option<String>,
    #[serde(default)]
    pub tagline: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub release_date: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub runtime: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub budget: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub revenue: Option<i64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub popularity: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub vote_average: Option<f64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub vote_count: Option<i64>,
    #[serde(default)]
    pub adult: Option<bool>,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub poster_path: Option<String>,
    #[serde(default)]
    pub backdrop_path: Option<String>,
    #[serde(default)]
    pub belongs_to_collection: Option<CollectionRef>,
    #[serde(default)]
    pub origin_country: Option<Vec<String>>,
    #[serde(default)]
    pub genres: Option<Vec<NamedId>>,
    #[serde(default)]
    pub production_companies: Option<Vec<Company>>,
    #[serde(default)]
    pub production_countries: Option<Vec<Country>>,
    #[serde(default)]
    pub spoken_languages: Option<Vec<Language>>,
    // Appended parts.
    #[serde(default)]
    pub credits: Option<Credits>,
    #[serde(default)]
    pub keywords: Option<Keywords>,
    #[serde(default)]
    pub videos: Option<Results<Video>>,
    #[serde(default)]
    pub release_dates: Option<Results<CountryReleases>>,
    #[serde(default)]
    pub recommendations: Option<Results<MovieSummary>>,
    #[serde(default)]
    pub similar: Option<Results<MovieSummary>>,
    /// The legacy name of `similar`.
    #[serde(default)]
    pub similar_movies: Option<Results<MovieSummary>>,
    #[serde(default)]
    pub reviews: Option<Results<Review>>,
    #[serde(default)]
    pub external_ids: Option<ExternalIds>,
    #[serde(default)]
    pub images: Option<Images>,
    #[serde(default)]
    pub alternative_titles: Option<AlternativeTitles>,
    #[serde(default)]
    pub translations: Option<Translations>,
    /// Appended under TMDB's own spelling, `"watch/providers"`.
    #[serde(default, rename = "watch/providers")]
    pub watch_providers: Option<WatchProviders>,
}

/// `watch/providers`: per country code, TMDB's `link` and the providers of each monetization
/// type. A type a country has none of is absent.
#[derive(Debug, Deserialize)]
pub struct WatchProviders {
    #[serde(default)]
    pub results: std::collections::BTreeMap<String, CountryProviders>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CountryProviders {
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub flatrate: Vec<Provider>,
    #[serde(default)]
    pub free: Vec<Provider>,
    #[serde(default)]
    pub ads: Vec<Provider>,
    #[serde(default)]
    pub rent: Vec<Provider>,
    #[serde(default)]
    pub buy: Vec<Provider>,
}

#[derive(Debug, Deserialize)]
pub struct Provider {
    #[serde(deserialize_with = "id")]
    pub provider_id: i64,
    #[serde(default)]
    pub provider_name: Option<String>,
    #[serde(default)]
    pub logo_path: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub display_priority: Option<i64>,
}

/// `images`: posters, backdrops and logos, each with its language where it has text.
#[derive(Debug, Deserialize)]
pub struct Images {
    #[serde(default)]
    pub backdrops: Vec<Image>,
    #[serde(default)]
    pub posters: Vec<Image>,
    #[serde(default)]
    pub logos: Vec<Image>,
}

#[derive(Debug, Deserialize)]
pub struct Image {
    pub file_path: String,
    #[serde(default)]
    pub iso_639_1: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub width: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub height: Option<i64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub aspect_ratio: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub vote_average: Option<f64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub vote_count: Option<i64>,
}

/// `alternative_titles` of a movie is `{"titles": [...]}` (a TV show's is `{"results": [...]}`).
#[derive(Debug, Deserialize)]
pub struct AlternativeTitles {
    #[serde(default, alias = "results")]
    pub titles: Vec<AlternativeTitle>,
}

#[derive(Debug, Deserialize)]
pub struct AlternativeTitle {
    pub iso_3166_1: String,
    pub title: String,
    #[serde(default, rename = "type")]
    pub title_type: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Translations {
    #[serde(default)]
    pub translations: Vec<Translation>,
}

#[derive(Debug, Deserialize)]
pub struct Translation {
    /// Missing in older bodies, which name only the language.
    #[serde(default)]
    pub iso_3166_1: String,
    pub iso_639_1: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub english_name: Option<String>,
    #[serde(default)]
    pub data: Option<TranslationData>,
}

/// A translation's texts; `""` where the language has none.
#[derive(Debug, Default, Deserialize)]
pub struct TranslationData {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub overview: Option<String>,
    #[serde(default)]
    pub tagline: Option<String>,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub runtime: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct NamedId {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CollectionRef {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub poster_path: Option<String>,
    #[serde(default)]
    pub backdrop_path: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Company {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub logo_path: Option<String>,
    #[serde(default)]
    pub origin_country: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Country {
    pub iso_3166_1: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Language {
    pub iso_639_1: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub english_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Credits {
    #[serde(default)]
    pub cast: Vec<CastMember>,
    #[serde(default)]
    pub crew: Vec<CrewMember>,
}

/// Person fields shared by cast and crew entries.
#[derive(Debug, Deserialize)]
pub struct PersonFields {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub original_name: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub gender: Option<i64>,
    #[serde(default)]
    pub known_for_department: Option<String>,
    #[serde(default)]
    pub profile_path: Option<String>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub popularity: Option<f64>,
    #[serde(default)]
    pub adult: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct CastMember {
    #[serde(flatten)]
    pub person: PersonFields,
    #[serde(default)]
    pub credit_id: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub cast_id: Option<i64>,
    #[serde(default)]
    pub character: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub order: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct CrewMember {
    #[serde(flatten)]
    pub person: PersonFields,
    #[serde(default)]
    pub credit_id: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub job: Option<String>,
}

/// `keywords` of a movie is `{"keywords": [...]}` (a TV show's is `{"results": [...]}`).
#[derive(Debug, Deserialize)]
pub struct Keywords {
    #[serde(default, alias = "results")]
    pub keywords: Vec<NamedId>,
}

/// Any part shaped `{"results": [...]}`, paged or not (only page 1 is ever appended).
#[derive(Debug, Deserialize)]
pub struct Results<T> {
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
}

#[derive(Debug, Deserialize)]
pub struct Video {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default, rename = "type")]
    pub video_type: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub size: Option<i64>,
    #[serde(default)]
    pub official: Option<bool>,
    #[serde(default)]
    pub iso_639_1: Option<String>,
    #[serde(default)]
    pub iso_3166_1: Option<String>,
    #[serde(default)]
    pub published_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CountryReleases {
    pub iso_3166_1: String,
    #[serde(default)]
    pub release_dates: Vec<Release>,
}

#[derive(Debug, Deserialize)]
pub struct Release {
    #[serde(default)]
    pub certification: Option<String>,
    #[serde(default)]
    pub iso_639_1: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    pub release_date: String,
    #[serde(rename = "type", deserialize_with = "id")]
    pub release_type: i64,
}

/// An entry of `recommendations`, `similar` and the list endpoints.
#[derive(Debug, Deserialize)]
pub struct MovieSummary {
    #[serde(deserialize_with = "id")]
    pub id: i64,
}

#[derive(Debug, Deserialize)]
pub struct Review {
    pub id: String,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub author_details: Option<AuthorDetails>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AuthorDetails {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub rating: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub struct ExternalIds {
    #[serde(default)]
    pub imdb_id: Option<String>,
}

/// `GET /genre/movie/list`.
#[derive(Debug, Deserialize)]
pub struct GenreList {
    pub genres: Vec<NamedId>,
}

/// `GET /person/{id}`, appended parts ignored.
#[derive(Debug, Deserialize)]
pub struct PersonDetails {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub known_for_department: Option<String>,
    #[serde(default)]
    pub profile_path: Option<String>,
    #[serde(default)]
    pub biography: Option<String>,
    #[serde(default)]
    pub birthday: Option<String>,
    /// `""` in bodies from before 2015 for the living.
    #[serde(default)]
    pub deathday: Option<String>,
    #[serde(default)]
    pub place_of_birth: Option<String>,
    #[serde(default)]
    pub imdb_id: Option<String>,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub also_known_as: Option<Vec<String>>,
    // Appended parts a people stage may ask for.
    #[serde(default)]
    pub images: Option<PersonImages>,
    #[serde(default)]
    pub translations: Option<PersonTranslations>,
}

/// A person's `images`: profile pictures.
#[derive(Debug, Deserialize)]
pub struct PersonImages {
    #[serde(default)]
    pub profiles: Vec<Image>,
}

#[derive(Debug, Deserialize)]
pub struct PersonTranslations {
    #[serde(default)]
    pub translations: Vec<PersonTranslation>,
}

#[derive(Debug, Deserialize)]
pub struct PersonTranslation {
    #[serde(default)]
    pub iso_3166_1: String,
    pub iso_639_1: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub english_name: Option<String>,
    #[serde(default)]
    pub data: Option<PersonTranslationData>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PersonTranslationData {
    #[serde(default)]
    pub biography: Option<String>,
}
