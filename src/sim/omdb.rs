//! OMDb at `/`: `?i=` (IMDb id), `?t=` (title, optional `y=`) and `?s=` (search), with OMDb's
//! error texts and status codes: auth and quota errors are HTTP 401, every other failure is a
//! 200 with `{"Response":"False","Error":…}`. Answers are always JSON (`r=xml` is ignored).

use serde::Serialize;

use super::catalog::Catalog;
use super::http::{Request, Response};
use super::model::OmdbAnswer;

pub(crate) const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The route as counted in stats.
pub(crate) fn label(req: &Request) -> &'static str {
    if req.param("i").is_some() {
        "GET /?i="
    } else if req.param("t").is_some() {
        "GET /?t="
    } else if req.param("s").is_some() {
        "GET /?s="
    } else {
        "GET /"
    }
}

/// `{"Response":"False","Error":message}` with HTTP `status`.
pub(crate) fn error(status: u16, message: &str) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Body<'a> {
        response: &'a str,
        error: &'a str,
    }
    with_headers(Response::json(
        status,
        &Body {
            response: "False",
            error: message,
        },
    ))
}

fn with_headers(r: Response) -> Response {
    r.with_content_type(CONTENT_TYPE)
        .with_header("Cache-Control", "public, max-age=86400")
}

/// The key check: `None` when the key is right, else the 401 answer.
pub(crate) fn check_key(req: &Request, key: &str) -> Option<Response> {
    match req.param("apikey") {
        None | Some("") => Some(error(401, "No API key provided.")),
        Some(k) if k == key => None,
        Some(_) => Some(error(401, "Invalid API key!")),
    }
}

pub(crate) fn quota_reached() -> Response {
    error(401, "Request limit reached!")
}

/// What OMDb calls a well-formed IMDb id: `tt` and 7 or 8 digits.
fn well_formed(id: &str) -> bool {
    id.strip_prefix("tt")
        .is_some_and(|d| (7..=8).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Answers a request already past the key, quota and rate-limit checks.
pub(crate) fn serve(catalog: &Catalog, req: &Request) -> Response {
    let full_plot = req.param("plot") == Some("full");
    if let Some(id) = req.param("i") {
        let id = id.trim();
        if !well_formed(id) {
            return error(200, "Incorrect IMDb ID.");
        }
        return match catalog.omdb(id, full_plot) {
            Some(OmdbAnswer::Movie(m)) => with_headers(Response::json(200, &m)),
            Some(OmdbAnswer::NoData) | None => error(200, "Error getting data."),
        };
    }
    if let Some(title) = req.param("t") {
        return by_title(catalog, title, req, full_plot);
    }
    if let Some(query) = req.param("s") {
        return search(catalog, query, req);
    }
    error(200, "Incorrect IMDb ID.")
}

fn not_found_for(kind: Option<&str>) -> Response {
    match kind {
        Some("series") => error(200, "Series not found!"),
        Some("episode") => error(200, "Series or episode not found!"),
        _ => error(200, "Movie not found!"),
    }
}

fn by_title(catalog: &Catalog, title: &str, req: &Request, full_plot: bool) -> Response {
    let kind = req.param("type");
    if kind.is_some_and(|k| k != "movie") {
        return not_found_for(kind);
    }
    let year: Option<i32> = req.param("y").and_then(|y| y.trim().parse().ok());
    let hit = catalog
        .ids_for_title(title.trim())
        .into_iter()
        .filter_map(|id| catalog.entry(id))
        .filter(|e| e.omdb_has_data && e.imdb_id.is_some())
        .find(|e| year.is_none_or(|y| e.year() == y));
    match hit
        .and_then(|e| e.imdb_id.as_deref())
        .and_then(|imdb| catalog.omdb(imdb, full_plot))
    {
        Some(OmdbAnswer::Movie(m)) => with_headers(Response::json(200, &m)),
        _ => not_found_for(kind),
    }
}

/// OMDb's search: 10 per page, `totalResults` as a string; one-letter queries are
/// "Too many results.".
fn search(catalog: &Catalog, query: &str, req: &Request) -> Response {
    let kind = req.param("type");
    if kind.is_some_and(|k| k != "movie") {
        return not_found_for(kind);
    }
    let query = query.trim().to_lowercase();
    if query.chars().count() < 2 {
        return error(200, "Too many results.");
    }
    let year: Option<i32> = req.param("y").and_then(|y| y.trim().parse().ok());
    let page: usize = req
        .param("page")
        .and_then(|p| p.parse().ok())
        .filter(|p| (1..=100).contains(p))
        .unwrap_or(1);
    let hits: Vec<_> = catalog
        .entries()
        .iter()
        .filter(|e| e.omdb_has_data && e.imdb_id.is_some())
        .filter(|e| year.is_none_or(|y| e.year() == y))
        .filter(|e| e.title.to_lowercase().contains(&query))
        .collect();
    let results: Vec<SearchHit> = hits
        .iter()
        .skip((page - 1) * 10)
        .take(10)
        .filter_map(|e| {
            let imdb = e.imdb_id.clone()?;
            let poster = match catalog.omdb(&imdb, false)? {
                OmdbAnswer::Movie(m) => m.poster,
                OmdbAnswer::NoData => return None,
            };
            Some(SearchHit {
                title: e.title.clone(),
                year: e.year().to_string(),
                imdb_id: imdb,
                kind: "movie".to_string(),
                poster,
            })
        })
        .collect();
    if results.is_empty() {
        return not_found_for(kind);
    }
    #[derive(Serialize)]
    struct SearchPage {
        #[serde(rename = "Search")]
        search: Vec<SearchHit>,
        #[serde(rename = "totalResults")]
        total_results: String,
        #[serde(rename = "Response")]
        response: &'static str,
    }
    with_headers(Response::json(
        200,
        &SearchPage {
            search: results,
            total_results: hits.len().to_string(),
            response: "True",
        },
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SearchHit {
    title: String,
    year: String,
    #[serde(rename = "imdbID")]
    imdb_id: String,
    #[serde(rename = "Type")]
    kind: String,
    poster: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imdb_id_format() {
        assert!(well_formed("tt0137523"));
        assert!(well_formed("tt10919380"));
        assert!(!well_formed("tt596799"));
        assert!(!well_formed("tt123456789"));
        assert!(!well_formed("nm0000123"));
        assert!(!well_formed("tt12a4567"));
    }
}
