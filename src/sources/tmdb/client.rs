//! TMDB requests over the shared [`SourceClient`]: list and discover pages, movie details with
//! `append_to_response`, `find` by IMDb id, and the genre list.
//!
//! Branches on the HTTP status first, then on TMDB's `status_code` or `{"errors": […]}` body
//! (`../shared/api-facts.md`): 401 stops the source with the name of the key variable to fix,
//! 404 is an answer ("no such movie"), any other 4xx is a permanent error carrying TMDB's own
//! message. Transient failures (429, 5xx, broken bodies) were already retried by the client.

use bytes::Bytes;
use serde::Deserialize;

use crate::plan::{DiscoverFilters, ListKind, MAX_PAGES};
use crate::sources::http::{HttpError, Reply, SourceClient, snippet};
use crate::sources::retry::Retrier;
use crate::sources::tmdb::mapping;
use crate::sources::{Fetched, MappingError};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TmdbError {
    #[error(
        "{source_name}: TMDB rejected the API key (HTTP 401: {message}); {}",
        key_help(.key_var.as_deref())
    )]
    #[diagnostic(code(popctl::tmdb::unauthorized))]
    Unauthorized {
        source_name: String,
        key_var: Option<String>,
        message: String,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Http(#[from] HttpError),
    #[error("{source_name}: GET {url} answered HTTP {status}: {message}")]
    #[diagnostic(code(popctl::tmdb::rejected))]
    Rejected {
        source_name: String,
        url: String,
        status: u16,
        message: String,
    },
    #[error("{source_name}: GET {url}: {error}")]
    #[diagnostic(code(popctl::tmdb::unexpected_body))]
    UnexpectedBody {
        source_name: String,
        url: String,
        error: Box<MappingError>,
    },
}

fn key_help(var: Option<&str>) -> String {
    match var {
        Some(v) => format!("set {v} to a valid TMDB v3 API key or API read access token"),
        None => "set the source's api_key to a valid TMDB v3 API key or API read access token"
            .to_string(),
    }
}

impl TmdbError {
    /// True when no other request of this source can succeed (a rejected key).
    pub fn stops_source(&self) -> bool {
        matches!(self, TmdbError::Unauthorized { .. })
    }

    /// What the failed request cost: (tries, 429 answers met). An answer the client
    /// returned took one try.
    pub fn cost(&self) -> (u32, u32) {
        match self {
            TmdbError::Http(e) => crate::sources::cost(e),
            _ => (1, 0),
        }
    }
}

/// One page of a list: the movie ids in TMDB's order and how many pages the list has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    pub ids: Vec<i64>,
    /// As TMDB reports it; may exceed the 500 pages TMDB serves.
    pub total_pages: u32,
}

/// A details answer.
#[derive(Debug, Clone)]
pub enum Details {
    /// The body, for `tmdb::mapping::movie_bundle`.
    Found(Bytes),
    /// HTTP 404: TMDB has no movie with this id.
    NotFound,
}

#[derive(Deserialize)]
struct RawListPage {
    results: Vec<RawId>,
    total_pages: u32,
}

#[derive(Deserialize)]
struct RawId {
    id: i64,
}

#[derive(Deserialize)]
struct RawFind {
    movie_results: Vec<RawId>,
}

/// TMDB's two error shapes: `{status_code, status_message}` and `{errors: [...]}`.
#[derive(Deserialize)]
struct RawError {
    status_code: Option<i64>,
    status_message: Option<String>,
    errors: Option<Vec<String>>,
}

/// TMDB's own words for an error body, or the start of the body when it has another shape.
pub fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<RawError>(body) {
        Ok(RawError {
            status_message: Some(m),
            status_code,
            ..
        }) => match status_code {
            Some(c) => format!("{m} (status_code {c})"),
            None => m,
        },
        Ok(RawError {
            errors: Some(errs), ..
        }) if !errs.is_empty() => errs.join("; "),
        _ => snippet(body),
    }
}

/// A TMDB source: its HTTP client and the environment variable its key comes from.
#[derive(Debug, Clone)]
pub struct TmdbClient {
    http: SourceClient,
    key_var: Option<String>,
}

impl TmdbClient {
    pub fn new(http: SourceClient, key_var: Option<String>) -> Self {
        TmdbClient { http, key_var }
    }

    pub fn http(&self) -> &SourceClient {
        &self.http
    }

    /// Page `page` (1..=500) of `list`, with `filters` for discover.
    pub async fn list_page(
        &self,
        list: ListKind,
        filters: &DiscoverFilters,
        page: u32,
        retrier: &Retrier,
    ) -> Result<Fetched<ListPage>, TmdbError> {
        let mut query = vec![("page", page.clamp(1, MAX_PAGES).to_string())];
        if list == ListKind::Discover {
            query.extend(filters.query());
        }
        let path = list.path();
        let reply = self.get(path, &query, retrier, false).await?;
        let raw: RawListPage = self.parse(path, &query, &reply, "TMDB list page")?;
        Ok(fetched(
            ListPage {
                ids: raw.results.into_iter().map(|r| r.id).collect(),
                total_pages: raw.total_pages,
            },
            &reply,
        ))
    }

    /// `movie/{id}` with the `append_to_response` parts.
    pub async fn details(
        &self,
        id: i64,
        append: &[String],
        retrier: &Retrier,
    ) -> Result<Fetched<Details>, TmdbError> {
        let path = format!("movie/{id}");
        let mut query = Vec::new();
        if !append.is_empty() {
            query.push(("append_to_response", append.join(",")));
        }
        let reply = self.get(&path, &query, retrier, true).await?;
        let value = if reply.status == 404 {
            Details::NotFound
        } else {
            Details::Found(reply.body.clone())
        };
        Ok(fetched(value, &reply))
    }

    /// The TMDB id of the movie with IMDb id `imdb_id`, if TMDB knows one.
    pub async fn find_imdb(
        &self,
        imdb_id: &str,
        retrier: &Retrier,
    ) -> Result<Fetched<Option<i64>>, TmdbError> {
        let path = format!("find/{imdb_id}");
        let query = [("external_source", "imdb_id".to_string())];
        let reply = self.get(&path, &query, retrier, true).await?;
        if reply.status == 404 {
            return Ok(fetched(None, &reply));
        }
        let raw: RawFind = self.parse(&path, &query, &reply, "TMDB find answer")?;
        Ok(fetched(raw.movie_results.first().map(|r| r.id), &reply))
    }

    /// TMDB's movie genres as `(id, name)`, for the seed stage.
    pub async fn genres(
        &self,
        retrier: &Retrier,
    ) -> Result<Fetched<Vec<(i64, String)>>, TmdbError> {
        let path = "genre/movie/list";
        let reply = self.get(path, &[], retrier, false).await?;
        let genres =
            mapping::genre_list(&reply.body).map_err(|error| self.unexpected(path, &[], error))?;
        Ok(fetched(genres, &reply))
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        retrier: &Retrier,
        allow_404: bool,
    ) -> Result<Reply, TmdbError> {
        let reply = self.http.get(path, query, retrier).await?;
        match reply.status {
            200..=299 => Ok(reply),
            404 if allow_404 => Ok(reply),
            401 => Err(TmdbError::Unauthorized {
                source_name: self.http.name().to_string(),
                key_var: self.key_var.clone(),
                message: self.http.redact(&error_message(&reply.body)),
            }),
            status => Err(TmdbError::Rejected {
                source_name: self.http.name().to_string(),
                url: self.http.display_url(path, query),
                status,
                message: self.http.redact(&error_message(&reply.body)),
            }),
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        reply: &Reply,
        what: &str,
    ) -> Result<T, TmdbError> {
        serde_json::from_slice(&reply.body).map_err(|e| {
            self.unexpected(
                path,
                query,
                MappingError::Shape {
                    what: what.to_string(),
                    path: format!("line {} column {}", e.line(), e.column()),
                    reason: e.to_string(),
                },
            )
        })
    }

    fn unexpected(&self, path: &str, query: &[(&str, String)], error: MappingError) -> TmdbError {
        TmdbError::UnexpectedBody {
            source_name: self.http.name().to_string(),
            url: self.http.display_url(path, query),
            error: Box::new(error),
        }
    }
}

fn fetched<T>(value: T, reply: &Reply) -> Fetched<T> {
    Fetched {
        value,
        attempts: reply.attempts,
        rate_limited: reply.rate_limited,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_from_both_shapes() {
        let a = br#"{"status_code":7,"status_message":"Invalid API key: You must be granted a valid key.","success":false}"#;
        assert_eq!(
            error_message(a),
            "Invalid API key: You must be granted a valid key. (status_code 7)"
        );
        let b = br#"{"errors":["query must be provided"]}"#;
        assert_eq!(error_message(b), "query must be provided");
        assert_eq!(error_message(b"<html>"), "<html>");
    }

    #[test]
    fn key_help_names_the_variable() {
        assert!(key_help(Some("TMDB_API_KEY")).starts_with("set TMDB_API_KEY "));
        assert!(key_help(None).contains("api_key"));
    }
}
