//! TMDB requests over the shared [`SourceClient`]: list and discover pages, movie details with
//! `append_to_response`, person details, `find` by IMDb id, and the genre list.
//!
//! Branches on the HTTP status first, then on TMDB's `status_code` or `{"errors": […]}` body
//! (`../shared/api-facts.md`): 401 stops the source with the name of the key variable to fix,
//! 404 is an answer ("no such movie"), any other 4xx is a permanent error carrying TMDB's own
//! message. Transient failures (429, 5xx, broken bodies) were already retried by the client.
//!
//! TMDB sometimes wraps an error in a 200: `{"success":false,"status_code":34,…}`. Every
//! answer passes [`TmdbClient::get`], which reads that shape before any endpoint parses the
//! body: status_code 34 ("could not be found") means what a 404 means, any other code is an
//! error with TMDB's own code and message, never a "missing field" from the parser.

use bytes::Bytes;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::plan::{CreditRole, DiscoverFilters, ListKind, MAX_PAGES, TitleSearch};
use crate::sources::http::{HttpError, Reply, SourceClient, snippet};
use crate::sources::lenient::non_empty;
use crate::sources::retry::Retrier;
use crate::sources::tmdb::mapping;
use crate::sources::{Fetched, MappingError};
use crate::store::bundle::{Collection, CollectionDetails, MovieBundle};

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
    #[error(
        "{source_name}: GET {url}: TMDB answered {status} with status_code {status_code}: {message}"
    )]
    #[diagnostic(code(popctl::tmdb::unsuccessful))]
    Unsuccessful {
        source_name: String,
        url: String,
        status: u16,
        status_code: i64,
        message: String,
    },
    #[error("{source_name}: GET {url}: {error}")]
    #[diagnostic(code(popctl::tmdb::unexpected_body))]
    UnexpectedBody {
        source_name: String,
        url: String,
        error: Box<MappingError>,
    },
    #[error("{source_name}: the movie ID export {url}: {message}")]
    #[diagnostic(code(popctl::tmdb::export))]
    Export {
        source_name: String,
        url: String,
        message: String,
    },
}

fn key_help(var: Option<&str>) -> String {
    match var {
        Some(v) => format!("set {v} to a valid TMDB v3 API key or API read access token"),
        None => "set the source's api_key to a valid TMDB v3 API key or API read access token"
            .to_string(),
    }
}

impl crate::sources::RequestError for TmdbError {
    fn stops_source(&self) -> bool {
        matches!(self, TmdbError::Unauthorized { .. })
    }

    /// An answer the client returned took one try.
    fn cost(&self) -> (u32, u32) {
        match self {
            TmdbError::Http(e) => crate::sources::cost(e),
            _ => (1, 0),
        }
    }
}

/// One page of `/movie/changes`: the changed movies with their `adult` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesPage {
    pub changed: Vec<(i64, bool)>,
    /// As TMDB reports it, which is not always right (`../shared/api-facts.md`): paging
    /// stops at the first page with no ids too.
    pub total_pages: u32,
}

/// The page size of `/movie/changes`.
pub const CHANGES_PAGE_SIZE: usize = 100;

/// One page of a list: the movie ids in TMDB's order and how many pages the list has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    pub ids: Vec<i64>,
    /// As TMDB reports it; may exceed the 500 pages TMDB serves.
    pub total_pages: u32,
}

/// A details answer (of a movie or a person).
#[derive(Debug, Clone)]
pub enum Details {
    /// The body, for `tmdb::mapping::movie_bundle` (or `person_details`).
    Found(Bytes),
    /// TMDB has no movie with this id; how it said so ("HTTP 404").
    NotFound(NotFound),
}

/// The two ways TMDB says "no such thing".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFound {
    /// HTTP 404.
    Http404,
    /// HTTP 200 with `{"success":false,"status_code":34}`.
    StatusCode34,
}

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotFound::Http404 => "HTTP 404",
            NotFound::StatusCode34 => "HTTP 200 with status_code 34",
        })
    }
}

/// TMDB's status_code for "The resource you requested could not be found."
pub const STATUS_NOT_FOUND: i64 = 34;

/// An answer of [`TmdbClient::get`].
enum Answer {
    Body(Reply),
    NotFound(Reply, NotFound),
}

/// `{"success":false,…}` in a 2xx answer: TMDB's status_code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsuccessful {
    pub status_code: i64,
    pub message: String,
}

/// Reads a 2xx body as TMDB's error envelope: `Some` when it says `"success": false`. Real
/// answers have no `success` key; the quick scan spares them a second parse.
pub fn unsuccessful(body: &[u8]) -> Option<Unsuccessful> {
    #[derive(Deserialize)]
    struct Envelope {
        success: Option<bool>,
        status_code: Option<i64>,
        status_message: Option<String>,
    }
    const KEY: &[u8] = b"\"success\"";
    if !body.windows(KEY.len()).any(|w| w == KEY) {
        return None;
    }
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    if envelope.success != Some(false) {
        return None;
    }
    Some(Unsuccessful {
        status_code: envelope.status_code.unwrap_or(0),
        message: envelope.status_message.unwrap_or_else(|| snippet(body)),
    })
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
struct RawCollection {
    id: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    overview: Option<String>,
    #[serde(default)]
    poster_path: Option<String>,
    #[serde(default)]
    backdrop_path: Option<String>,
    #[serde(default)]
    parts: Vec<RawId>,
}

impl From<RawCollection> for CollectionDetails {
    fn from(raw: RawCollection) -> Self {
        CollectionDetails {
            collection: Collection {
                tmdb_id: raw.id,
                name: raw.name.unwrap_or_default(),
                poster_path: non_empty(raw.poster_path),
                backdrop_path: non_empty(raw.backdrop_path),
            },
            overview: non_empty(raw.overview),
            parts: raw.parts.into_iter().map(|p| p.id).collect(),
        }
    }
}

/// An entry of a user list or of a filmography: a movie, or something else (a TV show, a
/// person): `media_type` says which, or, where it is absent, a `title` (movies have one, TV
/// shows a `name`).
#[derive(Deserialize)]
struct RawMedia {
    id: i64,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    title: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    job: Option<String>,
}

impl RawMedia {
    fn is_movie(&self) -> bool {
        match self.media_type.as_deref() {
            Some(t) => t == "movie",
            None => self.title.is_some(),
        }
    }
}

#[derive(Deserialize)]
struct RawUserList {
    #[serde(default)]
    items: Vec<RawMedia>,
    #[serde(default)]
    total_pages: Option<u32>,
}

#[derive(Deserialize)]
struct RawMovieCredits {
    #[serde(default)]
    cast: Vec<RawMedia>,
    #[serde(default)]
    crew: Vec<RawMedia>,
}

#[derive(Deserialize)]
struct RawSearch {
    results: Vec<RawId>,
}

/// The movies of a user list page or of a filmography.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaIds {
    /// Movie ids, each once, in TMDB's order.
    pub ids: Vec<i64>,
    /// Entries that are not movies (TV shows, people), left out.
    pub other: usize,
    /// The list's page count (1 for a filmography).
    pub total_pages: u32,
}

impl MediaIds {
    fn gather<'a>(entries: impl Iterator<Item = &'a RawMedia>, total_pages: u32) -> MediaIds {
        let mut seen = std::collections::HashSet::new();
        let mut out = MediaIds {
            total_pages,
            ..MediaIds::default()
        };
        for e in entries {
            if !e.is_movie() {
                out.other += 1;
            } else if seen.insert(e.id) {
                out.ids.push(e.id);
            }
        }
        out
    }
}

/// A `collection/{id}` body: the collection's details and its movies.
pub fn parse_collection(body: &[u8]) -> Result<CollectionDetails, serde_json::Error> {
    serde_json::from_slice::<RawCollection>(body).map(Into::into)
}

/// A page of `list/{id}`: its movies, and how many entries were something else.
pub fn parse_user_list(body: &[u8]) -> Result<MediaIds, serde_json::Error> {
    let raw: RawUserList = serde_json::from_slice(body)?;
    Ok(MediaIds::gather(
        raw.items.iter(),
        raw.total_pages.unwrap_or(1).max(1),
    ))
}

/// The movies of `person/{id}/movie_credits` that `role` (and, for crew, `jobs`: empty is
/// every job) takes; a movie credited twice counts once.
pub fn parse_movie_credits(
    body: &[u8],
    role: CreditRole,
    jobs: &[String],
) -> Result<MediaIds, serde_json::Error> {
    let raw: RawMovieCredits = serde_json::from_slice(body)?;
    let cast = raw.cast.iter().filter(|_| role != CreditRole::Crew);
    let crew = raw.crew.iter().filter(|c| {
        role != CreditRole::Cast
            && (jobs.is_empty()
                || c.job
                    .as_deref()
                    .is_some_and(|j| jobs.iter().any(|x| x == j)))
    });
    Ok(MediaIds::gather(cast.chain(crew), 1))
}

/// The first result of a `search/movie` answer, if any.
pub fn parse_search(body: &[u8]) -> Result<Option<i64>, serde_json::Error> {
    let raw: RawSearch = serde_json::from_slice(body)?;
    Ok(raw.results.first().map(|r| r.id))
}

#[derive(Deserialize)]
struct RawChangesPage {
    results: Vec<RawChanged>,
    #[serde(default)]
    total_pages: u32,
}

#[derive(Deserialize)]
struct RawChanged {
    id: i64,
    #[serde(default)]
    adult: Option<bool>,
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
    /// The source's `store_raw`: whether movie bundles keep the body as received.
    store_raw: bool,
    /// The source's `language` and `region`, sent as TMDB's parameters of the same names.
    language: Option<String>,
    region: Option<String>,
}

impl TmdbClient {
    pub fn new(http: SourceClient, key_var: Option<String>) -> Self {
        TmdbClient {
            http,
            key_var,
            store_raw: true,
            language: None,
            region: None,
        }
    }

    /// Titles, overviews and taglines in `language` (every request), and lists of `region`.
    pub fn with_locale(mut self, language: Option<String>, region: Option<String>) -> Self {
        self.language = language;
        self.region = region;
        self
    }

    /// With `store_raw = false`, [`TmdbClient::movie_bundle`] leaves the body out.
    pub fn with_store_raw(mut self, store_raw: bool) -> Self {
        self.store_raw = store_raw;
        self
    }

    /// A details body as the store writes it, with the body as received unless the source
    /// says `store_raw = false`.
    pub fn movie_bundle(&self, body: &[u8]) -> Result<MovieBundle, MappingError> {
        let mut bundle = mapping::movie_bundle(body)?;
        if !self.store_raw {
            bundle.raw_body = None;
        }
        Ok(bundle)
    }

    /// The same source without the response cache, for a stage whose answers must be new
    /// (a changed movie's details).
    pub fn without_cache(&self) -> TmdbClient {
        TmdbClient {
            http: self.http.without_cache(),
            ..self.clone()
        }
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
            query.extend(filters.query().iter().cloned());
        }
        // Trending has no region; discover's own `region` filter wins over the source's.
        if let Some(region) = &self.region
            && !matches!(list, ListKind::TrendingDay | ListKind::TrendingWeek)
            && filters.get("region").is_none()
        {
            query.push(("region", region.clone()));
        }
        let path = list.path();
        let reply = self
            .get(path, &query, retrier)
            .await?
            .found(self, path, &query)?;
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
        // With a language, TMDB answers only that language's images unless told which others
        // to add: keep those without text too (most backdrops), as without a language.
        if let Some(language) = &self.language
            && append.iter().any(|p| p == "images")
        {
            let iso = language.split('-').next().unwrap_or(language);
            query.push(("include_image_language", format!("{iso},null")));
        }
        Ok(match self.get(&path, &query, retrier).await? {
            Answer::Body(reply) => fetched(Details::Found(reply.body.clone()), &reply),
            Answer::NotFound(reply, how) => fetched(Details::NotFound(how), &reply),
        })
    }

    /// `person/{id}` with the `append_to_response` parts: a person's details, for
    /// `tmdb::mapping::person_details`.
    pub async fn person(
        &self,
        id: i64,
        append: &[String],
        retrier: &Retrier,
    ) -> Result<Fetched<Details>, TmdbError> {
        let path = format!("person/{id}");
        let mut query = Vec::new();
        if !append.is_empty() {
            query.push(("append_to_response", append.join(",")));
        }
        Ok(match self.get(&path, &query, retrier).await? {
            Answer::Body(reply) => fetched(Details::Found(reply.body.clone()), &reply),
            Answer::NotFound(reply, how) => fetched(Details::NotFound(how), &reply),
        })
    }

    /// The TMDB id of the movie with IMDb id `imdb_id`, if TMDB knows one.
    pub async fn find_imdb(
        &self,
        imdb_id: &str,
        retrier: &Retrier,
    ) -> Result<Fetched<Option<i64>>, TmdbError> {
        let path = format!("find/{imdb_id}");
        let query = [("external_source", "imdb_id".to_string())];
        let reply = match self.get(&path, &query, retrier).await? {
            Answer::Body(reply) => reply,
            Answer::NotFound(reply, _) => return Ok(fetched(None, &reply)),
        };
        let raw: RawFind = self.parse(&path, &query, &reply, "TMDB find answer")?;
        Ok(fetched(raw.movie_results.first().map(|r| r.id), &reply))
    }

    /// Page `page` of the movies changed from `start` to `end` (at most 14 days), asked of
    /// TMDB itself (never the cache: changes are news). With no window, TMDB's own: the last
    /// day. Also returns the server's day, from its `Date` header.
    pub async fn changes_page(
        &self,
        window: Option<(NaiveDate, NaiveDate)>,
        page: u32,
        retrier: &Retrier,
    ) -> Result<Fetched<(ChangesPage, Option<NaiveDate>)>, TmdbError> {
        let path = "movie/changes";
        let mut query = Vec::new();
        if let Some((start, end)) = window {
            query.push(("start_date", start.to_string()));
            query.push(("end_date", end.to_string()));
        }
        query.push(("page", page.to_string()));
        let http = self.http.without_cache();
        let reply = self
            .get_via(&http, path, &query, retrier)
            .await?
            .found(self, path, &query)?;
        let raw: RawChangesPage = self.parse(path, &query, &reply, "TMDB changes page")?;
        let day = reply.date.map(|d| d.date_naive());
        Ok(fetched(
            (
                ChangesPage {
                    changed: raw
                        .results
                        .into_iter()
                        .map(|r| (r.id, r.adult.unwrap_or(false)))
                        .collect(),
                    total_pages: raw.total_pages,
                },
                day,
            ),
            &reply,
        ))
    }

    /// An error about the export at `url`.
    pub(crate) fn export_error(&self, url: &str, message: String) -> TmdbError {
        TmdbError::Export {
            source_name: self.http.name().to_string(),
            url: crate::secret::redact(url).into_owned(),
            message,
        }
    }

    /// Collection `id`: its details and the ids of its movies (its `parts`, in TMDB's order);
    /// `None` when TMDB has no such collection.
    pub async fn collection(
        &self,
        id: u64,
        retrier: &Retrier,
    ) -> Result<Fetched<Option<CollectionDetails>>, TmdbError> {
        let path = format!("collection/{id}");
        let reply = match self.get(&path, &[], retrier).await? {
            Answer::Body(reply) => reply,
            Answer::NotFound(reply, _) => return Ok(fetched(None, &reply)),
        };
        let raw: RawCollection = self.parse(&path, &[], &reply, "TMDB collection")?;
        Ok(fetched(Some(raw.into()), &reply))
    }

    /// Page `page` of user list `id`; `None` when TMDB has no such list.
    pub async fn user_list_page(
        &self,
        id: &str,
        page: u32,
        retrier: &Retrier,
    ) -> Result<Fetched<Option<MediaIds>>, TmdbError> {
        let path = format!("list/{id}");
        let query = [("page", page.to_string())];
        let reply = match self.get(&path, &query, retrier).await? {
            Answer::Body(reply) => reply,
            Answer::NotFound(reply, _) => return Ok(fetched(None, &reply)),
        };
        let ids = parse_user_list(&reply.body)
            .map_err(|e| self.unexpected(&path, &query, shape("TMDB list", &e)))?;
        Ok(fetched(Some(ids), &reply))
    }

    /// The movies of person `id`'s filmography that `role` and `jobs` take; `None` when TMDB
    /// has no such person.
    pub async fn person_movie_ids(
        &self,
        id: u64,
        role: CreditRole,
        jobs: &[String],
        retrier: &Retrier,
    ) -> Result<Fetched<Option<MediaIds>>, TmdbError> {
        let path = format!("person/{id}/movie_credits");
        let reply = match self.get(&path, &[], retrier).await? {
            Answer::Body(reply) => reply,
            Answer::NotFound(reply, _) => return Ok(fetched(None, &reply)),
        };
        let ids = parse_movie_credits(&reply.body, role, jobs)
            .map_err(|e| self.unexpected(&path, &[], shape("TMDB movie credits", &e)))?;
        Ok(fetched(Some(ids), &reply))
    }

    /// The id of the first movie `search/movie` finds for `q`, if any.
    pub async fn search_movie(
        &self,
        q: &TitleSearch,
        retrier: &Retrier,
    ) -> Result<Fetched<Option<i64>>, TmdbError> {
        let path = "search/movie";
        let mut query = vec![("query", q.title.clone())];
        if let Some(year) = q.year {
            query.push(("year", year.to_string()));
        }
        let reply = self
            .get(path, &query, retrier)
            .await?
            .found(self, path, &query)?;
        let id = parse_search(&reply.body)
            .map_err(|e| self.unexpected(path, &query, shape("TMDB search answer", &e)))?;
        Ok(fetched(id, &reply))
    }

    /// TMDB's movie genres as `(id, name)`, for the seed stage.
    pub async fn genres(
        &self,
        retrier: &Retrier,
    ) -> Result<Fetched<Vec<(i64, String)>>, TmdbError> {
        let path = "genre/movie/list";
        let reply = self.get(path, &[], retrier).await?.found(self, path, &[])?;
        let genres =
            mapping::genre_list(&reply.body).map_err(|error| self.unexpected(path, &[], error))?;
        Ok(fetched(genres, &reply))
    }

    /// Every TMDB request goes through here: the one place an answer's status and TMDB's
    /// error envelope are read.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        retrier: &Retrier,
    ) -> Result<Answer, TmdbError> {
        self.get_via(&self.http, path, query, retrier).await
    }

    /// [`TmdbClient::get`] through `http`: the source's client, or a handle on it without the
    /// cache.
    async fn get_via(
        &self,
        http: &SourceClient,
        path: &str,
        query: &[(&str, String)],
        retrier: &Retrier,
    ) -> Result<Answer, TmdbError> {
        let with_language;
        let query = match &self.language {
            Some(language) => {
                with_language = [query, &[("language", language.clone())]].concat();
                with_language.as_slice()
            }
            None => query,
        };
        let reply = http.get(path, query, retrier).await?;
        match reply.status {
            200..=299 => match unsuccessful(&reply.body) {
                None => Ok(Answer::Body(reply)),
                Some(u) if u.status_code == STATUS_NOT_FOUND => {
                    Ok(Answer::NotFound(reply, NotFound::StatusCode34))
                }
                Some(u) => Err(TmdbError::Unsuccessful {
                    source_name: self.http.name().to_string(),
                    url: self.http.display_url(path, query),
                    status: reply.status,
                    status_code: u.status_code,
                    message: crate::secret::redact(&u.message).into_owned(),
                }),
            },
            404 => Ok(Answer::NotFound(reply, NotFound::Http404)),
            401 => Err(TmdbError::Unauthorized {
                source_name: self.http.name().to_string(),
                key_var: self.key_var.clone(),
                message: crate::secret::redact(&error_message(&reply.body)).into_owned(),
            }),
            status => Err(TmdbError::Rejected {
                source_name: self.http.name().to_string(),
                url: self.http.display_url(path, query),
                status,
                message: crate::secret::redact(&error_message(&reply.body)).into_owned(),
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

impl Answer {
    /// The body, for a request where "not found" is not an answer (a list page, the genres):
    /// TMDB's own status and message as an error then.
    fn found(
        self,
        client: &TmdbClient,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Reply, TmdbError> {
        match self {
            Answer::Body(reply) => Ok(reply),
            Answer::NotFound(reply, how) => {
                let source_name = client.http.name().to_string();
                let url = client.http.display_url(path, query);
                Err(match how {
                    NotFound::Http404 => TmdbError::Rejected {
                        source_name,
                        url,
                        status: reply.status,
                        message: crate::secret::redact(&error_message(&reply.body)).into_owned(),
                    },
                    NotFound::StatusCode34 => TmdbError::Unsuccessful {
                        source_name,
                        url,
                        status: reply.status,
                        status_code: STATUS_NOT_FOUND,
                        message: crate::secret::redact(
                            &unsuccessful(&reply.body)
                                .map(|u| u.message)
                                .unwrap_or_default(),
                        )
                        .into_owned(),
                    },
                })
            }
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

/// A body that is not the shape expected.
fn shape(what: &str, e: &serde_json::Error) -> MappingError {
    MappingError::Shape {
        what: what.to_string(),
        path: format!("line {} column {}", e.line(), e.column()),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tmdb")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn real_user_lists_give_their_movies() {
        // Every entry says `media_type = "movie"`.
        let marvel = parse_user_list(&fixture("lists/list_1_marvel_universe__c-eg.json")).unwrap();
        assert_eq!(
            (marvel.ids.len(), marvel.other, marvel.total_pages),
            (59, 0, 1)
        );
        assert_eq!(marvel.ids[0], 634649);
        let watched = parse_user_list(&fixture("lists/list_509_watched__tmdblib.json")).unwrap();
        assert_eq!(
            (watched.ids.len(), watched.other, watched.total_pages),
            (16, 0, 1)
        );
        // An older list: no `media_type`, movies known by their `title`.
        let oscars = parse_user_list(&fixture(
            "lists/list_509ec17b_best_picture_legacy-2014__php-tmdb.json",
        ))
        .unwrap();
        assert_eq!((oscars.ids.len(), oscars.other), (85, 0));
        // TV shows and people are counted, not kept.
        let mixed = br#"{"items":[{"id":1,"media_type":"movie","title":"A"},{"id":2,"media_type":"tv","name":"B"},{"id":3,"media_type":"person","name":"C"},{"id":1,"media_type":"movie","title":"A"}],"total_pages":3}"#;
        let mixed = parse_user_list(mixed).unwrap();
        assert_eq!((mixed.ids, mixed.other, mixed.total_pages), (vec![1], 2, 3));
        assert!(parse_user_list(br#"{"items":[{"media_type":"movie"}]}"#).is_err());
    }

    #[test]
    fn real_filmographies_give_their_movies_each_once() {
        let jobs = |j: &[&str]| j.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let count = |file: &str, role: CreditRole, j: &[&str]| {
            let ids = parse_movie_credits(&fixture(file), role, &jobs(j)).unwrap();
            (ids.ids.len(), ids.other)
        };
        let one = "person_parts/1-movie_credits__18months-2022.json";
        assert_eq!(count(one, CreditRole::Cast, &[]), (104, 0));
        assert_eq!(count(one, CreditRole::Crew, &[]), (96, 0));
        assert_eq!(count(one, CreditRole::Any, &[]), (195, 0));
        assert_eq!(count(one, CreditRole::Crew, &["Director"]), (19, 0));
        let c31 = "person_parts/31-movie_credits__c-eg.json";
        assert_eq!(count(c31, CreditRole::Cast, &[]), (150, 0));
        assert_eq!(count(c31, CreditRole::Crew, &[]), (38, 0));
        assert_eq!(count(c31, CreditRole::Any, &[]), (172, 0));
        // Cast credits, and crew credits of the jobs: his three films as director he acts in.
        assert_eq!(count(c31, CreditRole::Any, &["Director"]), (150, 0));
        let c62 = "person_parts/62-movie_credits__tmdblib.json";
        assert_eq!(count(c62, CreditRole::Any, &[]), (167, 0));
        assert_eq!(count(c62, CreditRole::Crew, &["Director"]), (0, 0));
        // This body holds TV credits (`name`, `first_air_date`, no `title`): none is a movie.
        let tv = "person_parts/19292-movie_credits__moviebase.json";
        assert_eq!(count(tv, CreditRole::Any, &[]), (0, 33));
    }

    #[test]
    fn real_searches_give_their_first_result() {
        let first = |file: &str| parse_search(&fixture(file)).unwrap();
        assert_eq!(first("lists/search_movie__c-eg.json"), Some(550));
        assert_eq!(
            first("lists/search_movie_the_matrix__flexget-2017.json"),
            Some(603)
        );
        assert_eq!(
            first("lists/search_movie_matrix_resurrections__flexget-2022.json"),
            Some(624860)
        );
        assert_eq!(
            first("lists/search_movie_single_result__jdrouet.json"),
            Some(21778)
        );
        assert_eq!(
            parse_search(br#"{"page":1,"results":[],"total_pages":0}"#).unwrap(),
            None
        );
    }

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
    fn the_error_envelope_is_told_from_answers() {
        let missing = br#"{"success":false,"status_code":34,"status_message":"The resource you requested could not be found."}"#;
        assert_eq!(
            unsuccessful(missing),
            Some(Unsuccessful {
                status_code: 34,
                message: "The resource you requested could not be found.".into()
            })
        );
        // TMDB's own "it worked" envelope, a plain answer, and an answer whose text says
        // "success" are answers.
        let ok = br#"{"success":true,"status_code":1,"status_message":"Success."}"#;
        assert_eq!(unsuccessful(ok), None);
        assert_eq!(unsuccessful(br#"{"id":603,"title":"The Matrix"}"#), None);
        let text = br#"{"id":1,"overview":""success": false, said the critics"}"#;
        assert_eq!(unsuccessful(text), None);
        // An envelope without a code or message still says what it was.
        let bare = br#"{"success":false}"#;
        assert_eq!(
            unsuccessful(bare),
            Some(Unsuccessful {
                status_code: 0,
                message: r#"{"success":false}"#.into()
            })
        );
    }

    #[test]
    fn key_help_names_the_variable() {
        assert!(key_help(Some("TMDB_API_KEY")).starts_with("set TMDB_API_KEY "));
        assert!(key_help(None).contains("api_key"));
    }
}
