//! OMDb lookups by IMDb id over the shared [`SourceClient`].
//!
//! OMDb answers almost everything with HTTP 200 and `{"Response":"False","Error":…}`; only a
//! bad or missing key and the spent daily limit come as 401 (`../shared/api-facts.md`). The
//! meaning of each answer is `omdb::mapping::omdb_answer`'s; this layer adds the request, the
//! cost and errors that name the source and the key variable.

use crate::sources::http::{HttpError, SourceClient};
use crate::sources::omdb::mapping::{OmdbAnswer, omdb_answer};
use crate::sources::retry::Retrier;
use crate::sources::{Fetched, MappingError};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum OmdbError {
    #[error(
        "{source_name}: OMDb rejected the API key ({message}); {}",
        key_help(.key_var.as_deref())
    )]
    #[diagnostic(code(popctl::omdb::unauthorized))]
    Unauthorized {
        source_name: String,
        key_var: Option<String>,
        message: &'static str,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Http(#[from] HttpError),
    #[error("{source_name}: GET {url}: {error}")]
    #[diagnostic(code(popctl::omdb::unexpected_body))]
    UnexpectedBody {
        source_name: String,
        url: String,
        error: Box<MappingError>,
    },
}

fn key_help(var: Option<&str>) -> String {
    match var {
        Some(v) => format!("set {v} to a valid OMDb API key"),
        None => "set the source's api_key to a valid OMDb API key".to_string(),
    }
}

impl crate::sources::RequestError for OmdbError {
    fn stops_source(&self) -> bool {
        matches!(self, OmdbError::Unauthorized { .. })
    }

    /// An answer the client returned took one try.
    fn cost(&self) -> (u32, u32) {
        match self {
            OmdbError::Http(e) => crate::sources::cost(e),
            _ => (1, 0),
        }
    }
}

/// What OMDb said about one IMDb id, once key problems are taken out.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    Found(Box<crate::store::OmdbRecord>),
    /// "Incorrect IMDb ID.", "Error getting data.", "…not found!": OMDb's own words.
    NoData(String),
    /// "Request limit reached!": nothing more until the quota resets.
    LimitReached,
}

/// An OMDb source: its HTTP client and the environment variable its key comes from.
#[derive(Debug, Clone)]
pub struct OmdbClient {
    http: SourceClient,
    key_var: Option<String>,
    /// The source's `store_raw`: whether records keep the body as received.
    store_raw: bool,
}

impl OmdbClient {
    pub fn new(http: SourceClient, key_var: Option<String>) -> Self {
        OmdbClient {
            http,
            key_var,
            store_raw: true,
        }
    }

    /// With `store_raw = false`, records leave the body as received out.
    pub fn with_store_raw(mut self, store_raw: bool) -> Self {
        self.store_raw = store_raw;
        self
    }

    pub fn http(&self) -> &SourceClient {
        &self.http
    }

    /// `?i=<imdb_id>`.
    pub async fn by_imdb_id(
        &self,
        imdb_id: &str,
        retrier: &Retrier,
    ) -> Result<Fetched<Lookup>, OmdbError> {
        let query = [("i", imdb_id.to_string())];
        let reply = self.http.get("", &query, retrier).await?;
        let answer =
            omdb_answer(reply.status, &reply.body).map_err(|error| OmdbError::UnexpectedBody {
                source_name: self.http.name().to_string(),
                url: self.http.display_url("", &query),
                error: Box::new(error),
            })?;
        let unauthorized = |message| OmdbError::Unauthorized {
            source_name: self.http.name().to_string(),
            key_var: self.key_var.clone(),
            message,
        };
        let value = match answer {
            OmdbAnswer::Found(mut record) => {
                if !self.store_raw {
                    record.raw_body = None;
                }
                Lookup::Found(record)
            }
            OmdbAnswer::NoData { reason } => Lookup::NoData(reason),
            OmdbAnswer::LimitReached => Lookup::LimitReached,
            OmdbAnswer::InvalidKey => return Err(unauthorized("Invalid API key!")),
            OmdbAnswer::NoKey => return Err(unauthorized("No API key provided.")),
        };
        Ok(Fetched {
            value,
            attempts: reply.attempts,
            rate_limited: reply.rate_limited,
        })
    }
}
