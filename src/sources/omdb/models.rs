//! The OMDb `?i=` / `?t=` response: every value is a string, `"N/A"` when unknown.

use serde::Deserialize;

/// A title answer, or an error answer (`Response: "False"` with `Error`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TitleResponse {
    #[serde(default)]
    pub response: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub year: Option<String>,
    #[serde(default)]
    pub rated: Option<String>,
    #[serde(default)]
    pub released: Option<String>,
    #[serde(default)]
    pub runtime: Option<String>,
    #[serde(default)]
    pub awards: Option<String>,
    #[serde(default)]
    pub metascore: Option<String>,
    #[serde(default, rename = "imdbRating")]
    pub imdb_rating: Option<String>,
    #[serde(default, rename = "imdbVotes")]
    pub imdb_votes: Option<String>,
    #[serde(default, rename = "imdbID")]
    pub imdb_id: Option<String>,
    #[serde(default, rename = "Type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub box_office: Option<String>,
    /// Absent from bodies before 2017; entries in any order, any of them may be missing.
    #[serde(default)]
    pub ratings: Option<Vec<RatingEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RatingEntry {
    pub source: String,
    pub value: String,
}
