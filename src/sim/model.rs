//! The bodies the simulator serves, as typed values: field names, order and JSON types follow
//! the recorded TMDB and OMDb bodies in `tests/fixtures` (the newest recordings where they
//! differ). Tests and the runner's end-to-end checks read these types straight from
//! [`Catalog`](super::Catalog) to compare what was imported with what was served.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Genre {
    pub id: u16,
    pub name: String,
}

/// `belongs_to_collection` in a movie's details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionRef {
    pub backdrop_path: Option<String>,
    pub id: u32,
    pub name: String,
    pub poster_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Company {
    pub id: u32,
    pub logo_path: Option<String>,
    pub name: String,
    pub origin_country: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Country {
    pub iso_3166_1: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpokenLanguage {
    pub english_name: String,
    pub iso_639_1: String,
    pub name: String,
}

/// `GET /3/movie/{id}` without appended parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Movie {
    pub adult: bool,
    pub backdrop_path: Option<String>,
    pub belongs_to_collection: Option<CollectionRef>,
    pub budget: u64,
    pub genres: Vec<Genre>,
    /// `""` for about half the catalog, as on TMDB.
    pub homepage: String,
    pub id: u32,
    /// `null` for about 5% of the catalog.
    pub imdb_id: Option<String>,
    pub origin_country: Vec<String>,
    pub original_language: String,
    pub original_title: String,
    pub overview: String,
    pub popularity: f64,
    pub poster_path: Option<String>,
    pub production_companies: Vec<Company>,
    pub production_countries: Vec<Country>,
    /// `YYYY-MM-DD`, or `""` when TMDB has no date.
    pub release_date: String,
    pub revenue: u64,
    /// Minutes; 0 when unknown.
    pub runtime: u32,
    pub softcore: bool,
    pub spoken_languages: Vec<SpokenLanguage>,
    pub status: String,
    pub tagline: String,
    pub title: String,
    pub video: bool,
    pub vote_average: f64,
    pub vote_count: u32,
}

/// One movie in a list page, a collection, `find`, recommendations or similar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovieSummary {
    pub adult: bool,
    pub backdrop_path: Option<String>,
    pub genre_ids: Vec<u16>,
    pub id: u32,
    /// Present in `find`, recommendations and collection parts, absent from list pages.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    pub original_language: String,
    pub original_title: String,
    pub overview: String,
    pub popularity: f64,
    pub poster_path: Option<String>,
    pub release_date: String,
    pub softcore: bool,
    pub title: String,
    pub video: bool,
    pub vote_average: f64,
    pub vote_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CastMember {
    pub adult: bool,
    pub gender: u8,
    pub id: u32,
    pub known_for_department: String,
    pub name: String,
    pub original_name: String,
    pub popularity: f64,
    pub profile_path: Option<String>,
    pub cast_id: u32,
    pub character: String,
    pub credit_id: String,
    pub order: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrewMember {
    pub adult: bool,
    pub gender: u8,
    pub id: u32,
    pub known_for_department: String,
    pub name: String,
    pub original_name: String,
    pub popularity: f64,
    pub profile_path: Option<String>,
    pub credit_id: String,
    pub department: String,
    pub job: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credits {
    pub cast: Vec<CastMember>,
    pub crew: Vec<CrewMember>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyword {
    pub id: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keywords {
    pub keywords: Vec<Keyword>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Video {
    pub iso_639_1: String,
    pub iso_3166_1: String,
    pub name: String,
    pub key: String,
    pub site: String,
    pub size: u32,
    #[serde(rename = "type")]
    pub kind: String,
    pub official: bool,
    pub published_at: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Videos {
    pub results: Vec<Video>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub aspect_ratio: f64,
    pub height: u32,
    pub iso_3166_1: Option<String>,
    pub iso_639_1: Option<String>,
    pub file_path: String,
    pub vote_average: f64,
    pub vote_count: u32,
    pub width: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Images {
    pub backdrops: Vec<Image>,
    pub logos: Vec<Image>,
    pub posters: Vec<Image>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseDate {
    pub certification: String,
    pub descriptors: Vec<String>,
    pub iso_639_1: String,
    pub note: String,
    /// `YYYY-MM-DDT00:00:00.000Z`.
    pub release_date: String,
    /// 1 premiere, 2 limited theatrical, 3 theatrical, 4 digital, 5 physical, 6 TV.
    #[serde(rename = "type")]
    pub kind: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountryReleases {
    pub iso_3166_1: String,
    pub release_dates: Vec<ReleaseDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseDates {
    pub results: Vec<CountryReleases>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalIds {
    pub imdb_id: Option<String>,
    pub wikidata_id: Option<String>,
    pub facebook_id: Option<String>,
    pub instagram_id: Option<String>,
    pub twitter_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorDetails {
    pub name: String,
    pub username: String,
    pub avatar_path: Option<String>,
    pub rating: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub author: String,
    pub author_details: AuthorDetails,
    pub content: String,
    pub created_at: String,
    pub id: String,
    pub updated_at: String,
    pub url: String,
}

/// A page of a paged part (`reviews`, `recommendations`, `similar`) or of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub page: u32,
    pub results: Vec<T>,
    pub total_pages: u32,
    pub total_results: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlternativeTitle {
    pub iso_3166_1: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlternativeTitles {
    pub titles: Vec<AlternativeTitle>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranslationData {
    pub homepage: String,
    pub overview: String,
    pub runtime: u32,
    pub tagline: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Translation {
    pub iso_3166_1: String,
    pub iso_639_1: String,
    pub name: String,
    pub english_name: String,
    pub data: TranslationData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Translations {
    pub translations: Vec<Translation>,
}

/// `GET /3/person/{id}` without appended parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonDetails {
    pub adult: bool,
    pub also_known_as: Vec<String>,
    /// `""` for the few the sandbox has no biography for, as on TMDB.
    pub biography: String,
    pub birthday: Option<String>,
    pub deathday: Option<String>,
    pub gender: u8,
    pub homepage: Option<String>,
    pub id: u32,
    pub imdb_id: Option<String>,
    pub known_for_department: String,
    pub name: String,
    pub place_of_birth: Option<String>,
    pub popularity: f64,
    pub profile_path: Option<String>,
}

/// A person's appended `images`: profile pictures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonImages {
    pub profiles: Vec<Image>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonTranslationData {
    pub biography: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonTranslation {
    pub iso_3166_1: String,
    pub iso_639_1: String,
    pub name: String,
    pub english_name: String,
    pub data: PersonTranslationData,
}

/// A person's appended `translations`: the biography per language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonTranslations {
    pub translations: Vec<PersonTranslation>,
}

/// `watch/providers`: per country code, TMDB's link and the providers of each monetization
/// type the country has offers of (a type without any is absent, as on TMDB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchProviders {
    pub results: std::collections::BTreeMap<String, CountryOffers>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CountryOffers {
    pub link: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flatrate: Vec<ProviderOffer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub free: Vec<ProviderOffer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ads: Vec<ProviderOffer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rent: Vec<ProviderOffer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buy: Vec<ProviderOffer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderOffer {
    pub logo_path: String,
    pub provider_id: u32,
    pub provider_name: String,
    pub display_priority: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeValue {
    pub id: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeItem {
    pub id: String,
    pub action: String,
    pub time: String,
    pub iso_639_1: String,
    pub iso_3166_1: String,
    pub value: ChangeValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub key: String,
    pub items: Vec<ChangeItem>,
}

/// `movie/{id}/changes`: `[]` when the movie did not change in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    pub changes: Vec<Change>,
}

/// One item of `movie/changes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangedId {
    pub id: u32,
    pub adult: bool,
    pub softcore: bool,
}

/// One line of the daily movie ID export (`movie_ids_MM_DD_YYYY.json.gz`): these five fields,
/// in this order, as TMDB writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedId {
    pub adult: bool,
    pub id: u32,
    pub original_title: String,
    pub popularity: f64,
    pub video: bool,
}

/// `collection/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    pub id: u32,
    pub name: String,
    pub overview: String,
    pub poster_path: Option<String>,
    pub backdrop_path: Option<String>,
    pub parts: Vec<MovieSummary>,
}

/// One `Ratings[]` entry of an OMDb record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OmdbRating {
    pub source: String,
    pub value: String,
}

/// An OMDb movie record (`/?i=tt…`): every value a string, `"N/A"` when missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OmdbMovie {
    pub title: String,
    pub year: String,
    pub rated: String,
    pub released: String,
    pub runtime: String,
    pub genre: String,
    pub director: String,
    pub writer: String,
    pub actors: String,
    pub plot: String,
    pub language: String,
    pub country: String,
    pub awards: String,
    pub poster: String,
    pub ratings: Vec<OmdbRating>,
    pub metascore: String,
    #[serde(rename = "imdbRating")]
    pub imdb_rating: String,
    #[serde(rename = "imdbVotes")]
    pub imdb_votes: String,
    #[serde(rename = "imdbID")]
    pub imdb_id: String,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "DVD")]
    pub dvd: String,
    pub box_office: String,
    pub production: String,
    pub website: String,
    pub response: String,
}

/// What OMDb answers for an IMDb id of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub enum OmdbAnswer {
    Movie(Box<OmdbMovie>),
    /// `{"Response":"False","Error":"Error getting data."}`: OMDb knows the id but has no record.
    NoData,
}
