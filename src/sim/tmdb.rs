//! TMDB v3 under `/3`: routing, auth, parameter checks and bodies, as the real API answers
//! them (see `../shared/api-facts.md`).
//!
//! Where TMDB's behaviour is undocumented and unrecorded the simulator says so here: a discover
//! filter with an invalid value (a bad date, an unknown `sort_by`) gets TMDB's validation
//! answer, 422 with `{"errors":[…]}`; unknown discover parameters are ignored; a missing
//! `external_source` on `find` means `imdb_id`.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::catalog::{Catalog, Discover, ListEntry, fmt_date};
use super::config::OddMovies;
use super::http::{Request, Response};
use super::model::{ChangedId, MovieSummary, Page};
use super::words;
use crate::plan::ListKind;

/// The appendable parts the simulator serves. Others (`lists`, `account_states`, the legacy
/// `releases`/`trailers`) are ignored, as TMDB ignores unknown ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    AlternativeTitles,
    Changes,
    Credits,
    ExternalIds,
    Images,
    Keywords,
    Recommendations,
    ReleaseDates,
    Reviews,
    Similar,
    Translations,
    Videos,
    WatchProviders,
}

impl Part {
    pub const ALL: [Part; 13] = [
        Part::AlternativeTitles,
        Part::Changes,
        Part::Credits,
        Part::ExternalIds,
        Part::Images,
        Part::Keywords,
        Part::Recommendations,
        Part::ReleaseDates,
        Part::Reviews,
        Part::Similar,
        Part::Translations,
        Part::Videos,
        Part::WatchProviders,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Part::AlternativeTitles => "alternative_titles",
            Part::Changes => "changes",
            Part::Credits => "credits",
            Part::ExternalIds => "external_ids",
            Part::Images => "images",
            Part::Keywords => "keywords",
            Part::Recommendations => "recommendations",
            Part::ReleaseDates => "release_dates",
            Part::Reviews => "reviews",
            Part::Similar => "similar",
            Part::Translations => "translations",
            Part::Videos => "videos",
            Part::WatchProviders => "watch/providers",
        }
    }

    pub fn from_name(name: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.name() == name)
    }

    fn route(self) -> &'static str {
        match self {
            Part::AlternativeTitles => "GET /3/movie/{id}/alternative_titles",
            Part::Changes => "GET /3/movie/{id}/changes",
            Part::Credits => "GET /3/movie/{id}/credits",
            Part::ExternalIds => "GET /3/movie/{id}/external_ids",
            Part::Images => "GET /3/movie/{id}/images",
            Part::Keywords => "GET /3/movie/{id}/keywords",
            Part::Recommendations => "GET /3/movie/{id}/recommendations",
            Part::ReleaseDates => "GET /3/movie/{id}/release_dates",
            Part::Reviews => "GET /3/movie/{id}/reviews",
            Part::Similar => "GET /3/movie/{id}/similar",
            Part::Translations => "GET /3/movie/{id}/translations",
            Part::Videos => "GET /3/movie/{id}/videos",
            Part::WatchProviders => "GET /3/movie/{id}/watch/providers",
        }
    }

    /// Standalone bodies carry the movie id; appended ones and the paged related lists do not.
    fn standalone_has_id(self) -> bool {
        !matches!(self, Part::Recommendations | Part::Similar | Part::Changes)
    }
}

/// A parsed TMDB path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    List(ListKind),
    Latest,
    MovieChanges,
    Details(&'a str),
    Part(&'a str, Part),
    Discover,
    Genres,
    Configuration,
    Collection(&'a str),
    Person(&'a str),
    PersonCredits(&'a str),
    UserList(&'a str),
    SearchMovie,
    Find(&'a str),
    Unknown,
}

pub(crate) fn route(path: &str) -> Route<'_> {
    let rest = path.strip_prefix("/3/").unwrap_or("");
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        ["movie", "popular"] => Route::List(ListKind::Popular),
        ["movie", "top_rated"] => Route::List(ListKind::TopRated),
        ["movie", "now_playing"] => Route::List(ListKind::NowPlaying),
        ["movie", "upcoming"] => Route::List(ListKind::Upcoming),
        ["trending", "movie", "day"] => Route::List(ListKind::TrendingDay),
        ["trending", "movie", "week"] => Route::List(ListKind::TrendingWeek),
        ["movie", "latest"] => Route::Latest,
        ["movie", "changes"] => Route::MovieChanges,
        ["movie", id] => Route::Details(id),
        ["movie", id, part] => match Part::from_name(part) {
            Some(p) => Route::Part(id, p),
            None => Route::Unknown,
        },
        ["movie", id, "watch", "providers"] => Route::Part(id, Part::WatchProviders),
        ["discover", "movie"] => Route::Discover,
        ["genre", "movie", "list"] => Route::Genres,
        ["configuration"] => Route::Configuration,
        ["collection", id] => Route::Collection(id),
        ["person", id] => Route::Person(id),
        ["person", id, "movie_credits"] => Route::PersonCredits(id),
        ["list", id] => Route::UserList(id),
        ["search", "movie"] => Route::SearchMovie,
        ["find", id] => Route::Find(id),
        _ => Route::Unknown,
    }
}

impl Route<'_> {
    /// The route as counted in stats.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Route::List(ListKind::Popular) => "GET /3/movie/popular",
            Route::List(ListKind::TopRated) => "GET /3/movie/top_rated",
            Route::List(ListKind::NowPlaying) => "GET /3/movie/now_playing",
            Route::List(ListKind::Upcoming) => "GET /3/movie/upcoming",
            Route::List(ListKind::TrendingDay) => "GET /3/trending/movie/day",
            Route::List(ListKind::TrendingWeek) => "GET /3/trending/movie/week",
            Route::Latest => "GET /3/movie/latest",
            Route::MovieChanges => "GET /3/movie/changes",
            Route::Details(_) => "GET /3/movie/{id}",
            Route::Part(_, p) => p.route(),
            Route::Discover | Route::List(ListKind::Discover) => "GET /3/discover/movie",
            Route::Genres => "GET /3/genre/movie/list",
            Route::Configuration => "GET /3/configuration",
            Route::Collection(_) => "GET /3/collection/{id}",
            Route::Person(_) => "GET /3/person/{id}",
            Route::PersonCredits(_) => "GET /3/person/{id}/movie_credits",
            Route::UserList(_) => "GET /3/list/{list_id}",
            Route::SearchMovie => "GET /3/search/movie",
            Route::Find(_) => "GET /3/find/{external_id}",
            Route::Unknown => "GET /3/(unknown)",
        }
    }
}

/// TMDB's messages for the status codes the simulator answers with (TMDB's error table; 25,
/// the rate limit, has a message with numbers in it: [`rate_limited`]).
const STATUS_MESSAGES: &[(u32, &str)] = &[
    (7, "Invalid API key: You must be granted a valid key."),
    (
        9,
        "Service offline: This service is temporarily offline, try again later.",
    ),
    (11, "Internal error: Something went wrong, contact TMDb."),
    (
        20,
        "Invalid date range: Should be a range no longer than 14 days.",
    ),
    (
        22,
        "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer.",
    ),
    (
        27,
        "Too many append to response objects: The maximum number of remote calls is 20.",
    ),
    (34, "The resource you requested could not be found."),
    (43, "Couldn't connect to the backend server."),
];

/// TMDB's message for `code`, when the simulator knows it.
pub(crate) fn status_message(code: u32) -> Option<&'static str> {
    STATUS_MESSAGES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, m)| *m)
}

/// The codes [`status_message`] knows.
pub(crate) fn known_status_codes() -> impl Iterator<Item = u32> {
    STATUS_MESSAGES.iter().map(|(c, _)| *c)
}

/// TMDB's error body for `code` with its own message.
pub(crate) fn coded_error(status: u16, code: u32) -> Response {
    error(status, code, status_message(code).unwrap_or_default())
}

/// `{"status_code":…,"status_message":…,"success":false}`, TMDB's 4xx error body.
pub(crate) fn error(status: u16, code: u32, message: &str) -> Response {
    #[derive(Serialize)]
    struct Body<'a> {
        status_code: u32,
        status_message: &'a str,
        success: bool,
    }
    Response::json(
        status,
        &Body {
            status_code: code,
            status_message: message,
            success: false,
        },
    )
}

pub(crate) fn unauthorized() -> Response {
    coded_error(401, 7)
}

fn not_found() -> Response {
    coded_error(404, 34)
}

fn invalid_page() -> Response {
    coded_error(400, 22)
}

/// TMDB's 429 (no success field, as in the documented body), with `Retry-After` in seconds.
pub(crate) fn rate_limited(count: u64, limit: u32, retry_after: u64) -> Response {
    Response::json(
        429,
        &serde_json::json!({
            "status_code": 25,
            "status_message": format!(
                "Your request count ({count}) is over the allowed limit of {limit}."
            ),
        }),
    )
    .with_header("Retry-After", retry_after.to_string())
}

/// True when the request carries `key` as `?api_key=` or as a bearer token.
pub(crate) fn authorized(req: &Request, key: &str) -> bool {
    req.param("api_key") == Some(key)
        || req
            .authorization
            .as_deref()
            .and_then(|h| h.strip_prefix("Bearer "))
            .is_some_and(|t| t.trim() == key)
}

/// `page` as TMDB checks it: absent is 1, otherwise an integer in 1..=500.
fn page(req: &Request) -> Result<u32, Response> {
    match req.param("page") {
        None => Ok(1),
        Some(p) => match p.trim().parse::<u32>() {
            Ok(n @ 1..=500) => Ok(n),
            _ => Err(invalid_page()),
        },
    }
}

/// Answers a request already authorised and past the rate limit, as TMDB would on `day` (the
/// sandbox clock's day: movie ids, details and changes follow it, see `sim::history`).
pub(crate) fn serve(
    catalog: &Catalog,
    route: &Route<'_>,
    req: &Request,
    day: NaiveDate,
) -> Response {
    let result = match route {
        Route::List(kind) => list(catalog, *kind, req),
        Route::Latest => catalog
            .entries()
            .iter()
            .rev()
            .find(|e| catalog.alive_on(e.id, day))
            .map(|e| details(catalog, &e.id.to_string(), req, day))
            .unwrap_or_else(|| Ok(not_found())),
        Route::MovieChanges => movie_changes(catalog, req, day),
        Route::Details(id) => details(catalog, id, req, day),
        Route::Part(id, part) => standalone_part(catalog, id, *part, req, day),
        Route::Discover => discover(catalog, req),
        Route::Genres => Ok(genres()),
        Route::Configuration => Ok(configuration()),
        Route::Collection(id) => Ok(id
            .parse::<u32>()
            .ok()
            .and_then(|id| catalog.collection(id))
            .map_or_else(not_found, |c| Response::json(200, &c))),
        Route::Person(id) => Ok(person(catalog, id, req)),
        Route::PersonCredits(id) => Ok(person_credits(catalog, id)),
        Route::UserList(id) => user_list(catalog, id, req),
        Route::SearchMovie => search_movie(catalog, req),
        Route::Find(id) => Ok(find(catalog, id, req)),
        Route::Unknown => Ok(not_found()),
    };
    result.unwrap_or_else(|e| e)
}

/// The details answer of a movie listed in `odd_movies`, made odd as configured: TMDB's error
/// envelope in a 200, the request's query echoed, a body padded with trailing spaces, chunked
/// transfer. Other answers pass unchanged.
pub(crate) fn odd(
    odd: &OddMovies,
    route: &Route<'_>,
    req: &Request,
    response: Response,
) -> Response {
    let Route::Details(id) = route else {
        return response;
    };
    let Ok(id) = id.parse::<u32>() else {
        return response;
    };
    if response.status != 200 {
        return response;
    }
    let mut response = match odd.unsuccessful(id) {
        Some((code, message)) => error(200, code, message),
        None => response,
    };
    if odd.echo_query.contains(&id)
        && let Ok(serde_json::Value::Object(mut body)) = serde_json::from_slice(&response.body)
    {
        let query: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        body.insert("request_query".into(), query.join("&").into());
        response.body = serde_json::to_vec(&body).unwrap_or_default();
    }
    if odd.padded.contains(&id) {
        let len = usize::try_from(odd.padded_bytes).unwrap_or(usize::MAX);
        if response.body.len() < len {
            response.body.resize(len, b' ');
        }
    }
    if odd.chunked.contains(&id) {
        response.chunked = true;
    }
    response
}

/// A movie id as TMDB accepts it in paths (its number, or its IMDb id) of a movie there on
/// `day`.
fn resolve(catalog: &Catalog, id: &str, day: NaiveDate) -> Option<u32> {
    if id.starts_with("tt") {
        catalog.id_for_imdb(id)
    } else {
        id.parse::<u32>().ok()
    }
    .filter(|n| catalog.alive_on(*n, day))
}

fn list(catalog: &Catalog, kind: ListKind, req: &Request) -> Result<Response, Response> {
    let page = page(req)?;
    let body = catalog.list_page(kind, page);
    Ok(match catalog.list_window(kind) {
        Some((minimum, maximum)) => {
            #[derive(Serialize)]
            struct Dates {
                maximum: String,
                minimum: String,
            }
            #[derive(Serialize)]
            struct Dated {
                dates: Dates,
                #[serde(flatten)]
                page: Page<MovieSummary>,
            }
            Response::json(
                200,
                &Dated {
                    dates: Dates {
                        maximum: fmt_date(maximum),
                        minimum: fmt_date(minimum),
                    },
                    page: body,
                },
            )
        }
        None => Response::json(200, &body),
    })
}

fn details(
    catalog: &Catalog,
    id: &str,
    req: &Request,
    day: NaiveDate,
) -> Result<Response, Response> {
    let id = resolve(catalog, id, day).ok_or_else(not_found)?;
    let mut parts: Vec<Part> = Vec::new();
    if let Some(list) = req.param("append_to_response") {
        let names: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if names.len() > 20 {
            return Err(coded_error(400, 27));
        }
        for name in names {
            if let Some(p) = Part::from_name(name)
                && !parts.contains(&p)
            {
                parts.push(p);
            }
        }
    }
    let mut movie = catalog.movie_on(id, day).ok_or_else(not_found)?;
    if let Some(lang) = req.param("language") {
        translate(catalog, &mut movie, lang);
    }
    let out = details_bytes(catalog, &movie, &parts, day).ok_or_else(not_found)?;
    Ok(Response::json_bytes(200, out))
}

impl Catalog {
    /// The body the sandbox answers to `movie/{id}?append_to_response=<parts>` (in English,
    /// on `today`), without HTTP: tests and benchmarks fill a database from it fast, through
    /// the same mapping as a run.
    pub fn details_body(&self, id: u32, parts: &[Part]) -> Option<Vec<u8>> {
        details_bytes(self, &self.movie(id)?, parts, self.today())
    }
}

/// `movie` with `parts` appended as extra top-level keys, in the order given.
fn details_bytes(
    catalog: &Catalog,
    movie: &super::model::Movie,
    parts: &[Part],
    day: NaiveDate,
) -> Option<Vec<u8>> {
    let mut out = serde_json::to_vec(movie).ok()?;
    out.pop();
    for &part in parts {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(part.name().as_bytes());
        out.extend_from_slice(b"\":");
        write_part(
            catalog,
            &mut out,
            movie.id,
            part,
            1,
            default_window(day),
            false,
        );
    }
    out.push(b'}');
    Some(out)
}

/// `language=xx` (or `xx-YY`) replaces title, overview and tagline with that translation
/// where it has them, as TMDB does.
fn translate(catalog: &Catalog, movie: &mut super::model::Movie, lang: &str) {
    let iso = lang.split('-').next().unwrap_or(lang);
    if iso == "en" {
        return;
    }
    let Some(t) = catalog
        .translations(movie.id)
        .and_then(|t| t.translations.into_iter().find(|t| t.iso_639_1 == iso))
    else {
        return;
    };
    if !t.data.title.is_empty() {
        movie.title = t.data.title;
    }
    if !t.data.overview.is_empty() {
        movie.overview = t.data.overview;
    }
    if !t.data.tagline.is_empty() {
        movie.tagline = t.data.tagline;
    }
}

fn standalone_part(
    catalog: &Catalog,
    id: &str,
    part: Part,
    req: &Request,
    day: NaiveDate,
) -> Result<Response, Response> {
    let id = resolve(catalog, id, day).ok_or_else(not_found)?;
    let page = match part {
        Part::Reviews | Part::Recommendations | Part::Similar => page(req)?,
        _ => 1,
    };
    let window = match part {
        Part::Changes => changes_window(req, day)?,
        _ => default_window(day),
    };
    let mut out = Vec::with_capacity(4096);
    write_part(catalog, &mut out, id, part, page, window, true);
    Ok(Response::json_bytes(200, out))
}

/// The changes endpoints' window without dates: the day before `day`, and `day`.
fn default_window(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    (day - Days::new(1), day)
}

/// Serialises one part of movie `id` into `out`: page `page` of a paged part, the changes of
/// `window`. `standalone` adds the `id` key the sub-resource endpoints have.
fn write_part(
    catalog: &Catalog,
    out: &mut Vec<u8>,
    id: u32,
    part: Part,
    page: u32,
    (start, end): (NaiveDate, NaiveDate),
    standalone: bool,
) {
    #[derive(Serialize)]
    struct WithId<'a, T: Serialize> {
        id: u32,
        #[serde(flatten)]
        inner: &'a T,
    }
    fn put<T: Serialize>(out: &mut Vec<u8>, id: Option<u32>, value: &T) {
        let written = match id {
            Some(id) => serde_json::to_writer(&mut *out, &WithId { id, inner: value }),
            None => serde_json::to_writer(&mut *out, value),
        };
        if let Err(e) = written {
            tracing::error!("sandbox bug: cannot serialise a part: {e}");
            out.extend_from_slice(b"null");
        }
    }
    let id_key = (standalone && part.standalone_has_id()).then_some(id);
    match part {
        Part::AlternativeTitles => put(out, id_key, &catalog.alternative_titles(id)),
        Part::Changes => put(out, id_key, &catalog.changes(id, start, end)),
        Part::Credits => put(out, id_key, &catalog.credits(id)),
        Part::ExternalIds => put(out, id_key, &catalog.external_ids(id)),
        Part::Images => put(out, id_key, &catalog.images(id)),
        Part::Keywords => put(out, id_key, &catalog.keywords(id)),
        Part::ReleaseDates => put(out, id_key, &catalog.release_dates(id)),
        Part::Translations => put(out, id_key, &catalog.translations(id)),
        Part::Videos => put(out, id_key, &catalog.videos(id)),
        Part::WatchProviders => put(out, id_key, &catalog.watch_providers(id)),
        Part::Reviews => {
            let all = catalog.reviews(id).unwrap_or_default();
            put(out, id_key, &page_of(all, page));
        }
        Part::Recommendations | Part::Similar => {
            let ids = if part == Part::Similar {
                catalog.similar_ids(id)
            } else {
                catalog.recommendation_ids(id)
            }
            .unwrap_or_default();
            let mut p = catalog.page_of(&ids, page);
            if part == Part::Recommendations {
                for m in &mut p.results {
                    m.media_type = Some("movie".to_string());
                }
            }
            put(out, id_key, &p);
        }
    }
}

fn page_of<T>(all: Vec<T>, page: u32) -> Page<T> {
    let total = all.len();
    let per = super::catalog::PAGE_SIZE;
    let results = all
        .into_iter()
        .skip((page as usize - 1) * per)
        .take(per)
        .collect();
    Page {
        page,
        results,
        total_pages: total.div_ceil(per) as u32,
        total_results: total as u32,
    }
}

fn discover(catalog: &Catalog, req: &Request) -> Result<Response, Response> {
    let page = page(req)?;
    let params = req.query.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    // TMDB's validation answer: HTTP 422 with `{"errors":[…]}` (api-facts.md).
    let query = Discover::parse(params)
        .map_err(|e| Response::json(422, &serde_json::json!({ "errors": [e] })))?;
    Ok(Response::json(200, &catalog.discover_page(&query, page)))
}

/// The `start_date`/`end_date` window of the changes endpoints on `day`: the last day by
/// default, at most 14 days.
fn changes_window(req: &Request, day: NaiveDate) -> Result<(NaiveDate, NaiveDate), Response> {
    let parse = |name: &str| -> Result<Option<NaiveDate>, Response> {
        match req.param(name) {
            None => Ok(None),
            Some(v) => NaiveDate::parse_from_str(v.get(..10).unwrap_or(v), "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    Response::json(
                        422,
                        &serde_json::json!({ "errors": [format!("{name} is not a valid date")] }),
                    )
                }),
        }
    };
    let end = parse("end_date")?.unwrap_or(day);
    let start = parse("start_date")?.unwrap_or(end - Days::new(1));
    if (end - start).num_days() > 14 {
        return Err(coded_error(422, 20));
    }
    Ok((start, end))
}

fn movie_changes(catalog: &Catalog, req: &Request, day: NaiveDate) -> Result<Response, Response> {
    let page = page(req)?;
    let (start, end) = changes_window(req, day)?;
    // Nothing has changed yet on the days after the clock's.
    let ids = if start <= day {
        catalog.changed_ids(start, end.min(day))
    } else {
        std::sync::Arc::default()
    };
    let per = super::catalog::CHANGES_PAGE_SIZE;
    #[derive(Serialize)]
    struct ChangesPage {
        results: Vec<ChangedId>,
        page: u32,
        total_pages: u32,
        total_results: u32,
    }
    let total = ids.len();
    Ok(Response::json(
        200,
        &ChangesPage {
            results: ids
                .iter()
                .skip((page as usize - 1) * per)
                .take(per)
                .cloned()
                .collect(),
            page,
            total_pages: total.div_ceil(per) as u32,
            total_results: total as u32,
        },
    ))
}

fn find(catalog: &Catalog, external_id: &str, req: &Request) -> Response {
    let source = req.param("external_source").unwrap_or("imdb_id");
    let movie_results: Vec<MovieSummary> = if source == "imdb_id" {
        catalog
            .id_for_imdb(external_id)
            .and_then(|id| catalog.summary(id))
            .map(|mut s| {
                s.media_type = Some("movie".to_string());
                s
            })
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    let empty: [(); 0] = [];
    Response::json(
        200,
        &serde_json::json!({
            "movie_results": movie_results,
            "person_results": empty,
            "tv_results": empty,
            "tv_episode_results": empty,
            "tv_season_results": empty,
        }),
    )
}

/// `person/{id}`, with the appended parts the sandbox knows (`images`, `translations`); others
/// are ignored, as TMDB ignores unknown ones.
fn person(catalog: &Catalog, id: &str, req: &Request) -> Response {
    let Some((id, details)) = id
        .parse::<u32>()
        .ok()
        .and_then(|id| Some((id, catalog.person_details(id)?)))
    else {
        return not_found();
    };
    let Ok(serde_json::Value::Object(mut body)) = serde_json::to_value(&details) else {
        return coded_error(500, 11);
    };
    let parts = req.param("append_to_response").unwrap_or_default();
    for part in parts.split(',').map(str::trim) {
        let value = match part {
            "images" => serde_json::to_value(catalog.person_images(id)),
            "translations" => serde_json::to_value(catalog.person_translations(id)),
            _ => continue,
        };
        if let Ok(v) = value {
            body.insert(part.to_owned(), v);
        }
    }
    Response::json(200, &body)
}

/// `person/{id}/movie_credits`: the movies of the catalog that credit the person, as their
/// credits say.
fn person_credits(catalog: &Catalog, id: &str) -> Response {
    let Some((id, film)) = id
        .parse::<u32>()
        .ok()
        .and_then(|id| Some((id, catalog.filmography(id)?)))
    else {
        return not_found();
    };
    let entry = |movie: u32, extra: &[(&str, serde_json::Value)]| {
        let mut v = catalog
            .index_of(movie)
            .and_then(|i| serde_json::to_value(catalog.summary_at(i, false)).ok())
            .unwrap_or_default();
        if let serde_json::Value::Object(o) = &mut v {
            for (k, x) in extra {
                o.insert((*k).to_owned(), x.clone());
            }
        }
        v
    };
    let cast: Vec<serde_json::Value> = film
        .cast
        .iter()
        .enumerate()
        .map(|(n, (movie, character))| {
            entry(
                *movie,
                &[
                    ("character", character.as_str().into()),
                    ("credit_id", format!("{movie:x}c{id:x}").into()),
                    ("order", n.into()),
                ],
            )
        })
        .collect();
    let crew: Vec<serde_json::Value> = film
        .crew
        .iter()
        .map(|(movie, department, job)| {
            entry(
                *movie,
                &[
                    ("credit_id", format!("{movie:x}j{id:x}").into()),
                    ("department", department.as_str().into()),
                    ("job", job.as_str().into()),
                ],
            )
        })
        .collect();
    Response::json(
        200,
        &serde_json::json!({ "cast": cast, "crew": crew, "id": id }),
    )
}

/// `list/{id}`: a user list of the catalog's movies (and a few TV shows), 20 entries a page.
fn user_list(catalog: &Catalog, id: &str, req: &Request) -> Result<Response, Response> {
    let page = page(req)?;
    let Some(entries) = catalog.user_list(id) else {
        return Ok(not_found());
    };
    let start = (page as usize - 1) * super::catalog::PAGE_SIZE;
    let items: Vec<serde_json::Value> = entries
        .iter()
        .skip(start)
        .take(super::catalog::PAGE_SIZE)
        .filter_map(|e| match *e {
            ListEntry::Movie(m) => catalog
                .index_of(m)
                .and_then(|i| serde_json::to_value(catalog.summary_at(i, true)).ok()),
            ListEntry::Tv(t) => Some(serde_json::json!({
                "id": t,
                "media_type": "tv",
                "name": format!("Show {t}"),
                "original_name": format!("Show {t}"),
                "first_air_date": "2010-01-01",
                "origin_country": ["US"],
            })),
        })
        .collect();
    let total = entries.len();
    Ok(Response::json(
        200,
        &serde_json::json!({
            "created_by": "sandbox",
            "description": "",
            "favorite_count": 0,
            "id": id,
            "iso_639_1": "en",
            "item_count": total,
            "items": items,
            "name": format!("List {id}"),
            "page": page,
            "poster_path": null,
            "total_pages": total.div_ceil(super::catalog::PAGE_SIZE).max(1),
            "total_results": total,
        }),
    ))
}

/// `search/movie?query=…&year=…`: the catalog's movies by title.
fn search_movie(catalog: &Catalog, req: &Request) -> Result<Response, Response> {
    let page = page(req)?;
    let Some(query) = req.param("query").filter(|q| !q.trim().is_empty()) else {
        return Err(Response::json(
            422,
            &serde_json::json!({ "errors": ["query must be provided"] }),
        ));
    };
    let year = match req.param("year") {
        None => None,
        Some(y) => Some(y.trim().parse::<i32>().map_err(|_| {
            Response::json(
                422,
                &serde_json::json!({ "errors": ["year must be a number"] }),
            )
        })?),
    };
    let ids = catalog.search_ids(query, year);
    Ok(Response::json(200, &catalog.page_of(&ids, page)))
}

fn genres() -> Response {
    let genres: Vec<super::model::Genre> = words::GENRES
        .iter()
        .map(|(id, name)| super::model::Genre {
            id: *id,
            name: (*name).to_string(),
        })
        .collect();
    Response::json(200, &serde_json::json!({ "genres": genres }))
}

fn configuration() -> Response {
    Response::json(
        200,
        &serde_json::json!({
            "change_keys": [
                "adult", "also_known_as", "alternative_titles", "budget", "cast", "certifications",
                "crew", "genres", "homepage", "images", "imdb_id", "name", "original_title",
                "overview", "plot_keywords", "production_companies", "production_countries",
                "releases", "revenue", "runtime", "spoken_languages", "status", "tagline", "title",
                "translations", "video", "videos"
            ],
            "images": {
                "base_url": "http://image.tmdb.org/t/p/",
                "secure_base_url": "https://image.tmdb.org/t/p/",
                "backdrop_sizes": ["w300", "w780", "w1280", "original"],
                "logo_sizes": ["w45", "w92", "w154", "w185", "w300", "w500", "original"],
                "poster_sizes": ["w92", "w154", "w185", "w342", "w500", "w780", "original"],
                "profile_sizes": ["w45", "w185", "h632", "original"],
                "still_sizes": ["w92", "w185", "w300", "original"]
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_labels() {
        assert_eq!(route("/3/movie/popular"), Route::List(ListKind::Popular));
        assert_eq!(route("/3/movie/550"), Route::Details("550"));
        assert_eq!(route("/3/movie/550/"), Route::Details("550"));
        assert_eq!(route("/3/movie/tt0137523"), Route::Details("tt0137523"));
        assert_eq!(
            route("/3/movie/550/release_dates"),
            Route::Part("550", Part::ReleaseDates)
        );
        assert_eq!(route("/3/movie/550/lists"), Route::Unknown);
        assert_eq!(route("/3/list/1"), Route::UserList("1"));
        assert_eq!(
            route("/3/person/287/movie_credits"),
            Route::PersonCredits("287")
        );
        assert_eq!(route("/3/search/movie"), Route::SearchMovie);
        assert_eq!(route("/3/list/1").label(), "GET /3/list/{list_id}");
        assert_eq!(
            route("/3/movie/550/watch/providers"),
            Route::Part("550", Part::WatchProviders)
        );
        assert_eq!(route("/3/movie/550/watch"), Route::Unknown);
        assert_eq!(route("/3/genre/movie/list"), Route::Genres);
        assert_eq!(route("/3/find/tt1"), Route::Find("tt1"));
        assert_eq!(route("/3/person/100"), Route::Person("100"));
        assert_eq!(route("/3/person/100").label(), "GET /3/person/{id}");
        assert_eq!(route("/3/tv/1"), Route::Unknown);
        assert_eq!(route("/3"), Route::Unknown);
        assert_eq!(
            route("/3/movie/550/credits").label(),
            "GET /3/movie/{id}/credits"
        );
    }

    fn get(q: &str, auth: Option<&str>) -> Request {
        Request {
            method: "GET".into(),
            path: "/3/movie/1".into(),
            query: url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            authorization: auth.map(str::to_string),
            keep_alive: true,
            body: vec![],
        }
    }

    #[test]
    fn auth_by_query_or_bearer() {
        assert!(authorized(&get("api_key=s", None), "s"));
        assert!(authorized(&get("", Some("Bearer s")), "s"));
        assert!(!authorized(&get("api_key=x", None), "s"));
        assert!(!authorized(&get("", Some("Basic s")), "s"));
        assert!(!authorized(&get("", None), "s"));
    }

    #[test]
    fn every_code_answered_has_its_message() {
        for code in [7, 9, 11, 20, 22, 27, 34, 43] {
            assert!(
                status_message(code).is_some_and(|m| !m.is_empty()),
                "{code}"
            );
        }
        assert_eq!(status_message(25), None);
        assert_eq!(known_status_codes().count(), STATUS_MESSAGES.len());
    }

    #[test]
    fn page_bounds() {
        assert_eq!(page(&get("", None)).ok(), Some(1));
        assert_eq!(page(&get("page=500", None)).ok(), Some(500));
        for bad in ["page=0", "page=501", "page=abc", "page=-1", "page=1.5"] {
            let r = page(&get(bad, None)).unwrap_err();
            assert_eq!(r.status, 400, "{bad}");
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(v["status_code"], 22);
        }
    }
}
