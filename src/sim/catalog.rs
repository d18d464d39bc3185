//! The simulated movie catalog: a light index of every movie built at start (ids, titles,
//! popularity, votes, dates, genres, IMDb ids, collections), and everything else generated on
//! demand from `hash(seed, id)` by [`generate`](super::generate). Same seed, same size and same
//! `today` give the same catalog, byte for byte.
//!
//! The index is what lists, discover, `find`, OMDb title lookups and `movie/changes` need to
//! order and filter the whole catalog; details, credits and the rest are too large to keep for
//! every movie and are cheap to regenerate. The index describes the catalog on `today`; what
//! happens to it on the days after is [`history`](super::history).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::{Datelike, Days, NaiveDate};

use super::model::{Collection, Movie, MovieSummary, Page};
use super::rng::{Rng, tag};
use super::words;
use crate::plan::{DiscoverFilters, ListKind, MONETIZATION_TYPES};

/// Movies per page, as on TMDB.
pub const PAGE_SIZE: usize = 20;
/// `movie/changes` items per page.
pub const CHANGES_PAGE_SIZE: usize = 100;

/// Ids up to this one that the catalog does not hold still answer `movie/{id}`, its parts and
/// OMDb: with a *stray* movie drawn from the id as a catalog movie is, so that a plan naming real
/// TMDB ids (`ids = [550, 603]`) runs in the sandbox. TMDB's own ids had reached about 1.6
/// million by 2026. Above this bound an id the catalog does not hold is TMDB's 404. Strays are
/// in no list, search, export or change feed, and never disappear.
pub const STRAY_MAX_ID: u32 = 2_000_000;
/// A stray's IMDb number is this plus its TMDB id: above every number the catalog draws
/// (`IMDB_NUMBERS`), so no two movies share one and OMDb can find the stray from it.
const STRAY_IMDB_BASE: u32 = 30_000_000;

/// One movie in the index. Everything here is also what the generated bodies say.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub id: u32,
    pub title: String,
    pub original_title: String,
    /// ISO 639-1.
    pub original_language: &'static str,
    pub popularity: f64,
    pub vote_count: u32,
    pub vote_average: f64,
    /// `None` when TMDB shows `""` (a quirk of real data).
    pub release_date: Option<NaiveDate>,
    /// The date the movie really came out, known even when TMDB shows none (OMDb has it).
    pub(crate) date: NaiveDate,
    pub genre_ids: Vec<u16>,
    pub imdb_id: Option<String>,
    /// False for the movies OMDb answers `Error getting data.` for.
    pub omdb_has_data: bool,
    /// Index into the catalog's collections.
    pub(crate) collection: Option<u32>,
}

impl IndexEntry {
    pub fn year(&self) -> i32 {
        self.date.year()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CollectionEntry {
    pub id: u32,
    pub name: String,
    /// Catalog indices, oldest first.
    pub members: Vec<u32>,
}

/// A sort order of `discover/movie`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Popularity,
    VoteAverage,
    VoteCount,
    PrimaryReleaseDate,
    Title,
    Revenue,
}

impl SortKey {
    /// TMDB's `sort_by` (`vote_average.desc`): the key and whether it is descending.
    pub fn parse(sort_by: &str) -> Option<(SortKey, bool)> {
        let (field, dir) = sort_by.rsplit_once('.')?;
        let key = match field {
            "popularity" => SortKey::Popularity,
            "vote_average" => SortKey::VoteAverage,
            "vote_count" => SortKey::VoteCount,
            "primary_release_date" | "release_date" => SortKey::PrimaryReleaseDate,
            "title" | "original_title" => SortKey::Title,
            "revenue" => SortKey::Revenue,
            _ => return None,
        };
        match dir {
            "asc" => Some((key, false)),
            "desc" => Some((key, true)),
            _ => None,
        }
    }
}

/// TMDB's AND/OR list: `28,12|16` means 28 and (12 or 16). Empty: no condition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AndOr<T>(pub Vec<Vec<T>>);

impl<T: PartialEq + std::str::FromStr> AndOr<T> {
    fn parse(v: &str) -> Option<Self> {
        v.split(',')
            .map(|g| g.split('|').map(|x| x.trim().parse().ok()).collect())
            .collect::<Option<Vec<Vec<T>>>>()
            .map(AndOr)
    }

    /// Every group has one of its values in `have` (true when there are no groups).
    pub fn all_in(&self, have: &[T]) -> bool {
        self.0.iter().all(|g| g.iter().any(|x| have.contains(x)))
    }

    /// None of the values is in `have`.
    pub fn none_in(&self, have: &[T]) -> bool {
        !self.0.iter().flatten().any(|x| have.contains(x))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A range of `.gte` / `.lte` bounds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Range<T> {
    pub gte: Option<T>,
    pub lte: Option<T>,
}

impl<T: PartialOrd + Copy> Range<T> {
    pub fn contains(&self, x: T) -> bool {
        self.gte.is_none_or(|lo| x >= lo) && self.lte.is_none_or(|hi| x <= hi)
    }

    pub fn is_set(&self) -> bool {
        self.gte.is_some() || self.lte.is_some()
    }
}

/// The `discover/movie` parameters the simulator honours: every filter a plan accepts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Discover {
    pub sort: Option<(SortKey, bool)>,
    pub primary_release_year: Option<i32>,
    pub primary_release_date: Range<NaiveDate>,
    /// Any release of `release_types` in `region` (any country without one) in this year.
    pub year: Option<i32>,
    /// Any release of `release_types` in `region` in this range.
    pub release_date: Range<NaiveDate>,
    pub region: Option<String>,
    pub release_types: AndOr<u8>,
    pub genres: AndOr<u16>,
    pub without_genres: AndOr<u16>,
    pub keywords: AndOr<u32>,
    pub without_keywords: AndOr<u32>,
    pub cast: AndOr<u32>,
    pub crew: AndOr<u32>,
    pub people: AndOr<u32>,
    pub companies: AndOr<u32>,
    pub without_companies: AndOr<u32>,
    pub vote_count: Range<u32>,
    pub vote_average: Range<f64>,
    pub runtime: Range<u32>,
    /// `en|fr`: any of them.
    pub original_language: Option<Vec<String>>,
    pub origin_country: Option<Vec<String>>,
    pub certification_country: Option<String>,
    /// Any of these certifications in `certification_country`.
    pub certification: Option<Vec<String>>,
    pub certification_gte: Option<String>,
    pub certification_lte: Option<String>,
    pub watch_region: Option<String>,
    pub watch_providers: AndOr<u32>,
    pub without_watch_providers: AndOr<u32>,
    pub monetization: AndOr<String>,
    pub include_adult: bool,
    pub include_video: bool,
}

impl Discover {
    /// Reads TMDB's query parameters; unknown names are ignored, as TMDB ignores them. An
    /// invalid value is `Err` with the message TMDB's validation answer carries.
    pub fn parse<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Discover, String> {
        fn bad(name: &str, what: &str) -> String {
            format!("{name} must be {what}")
        }
        fn date(name: &str, v: &str) -> Result<NaiveDate, String> {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .filter(|_| v.len() == 10)
                .ok_or_else(|| bad(name, "a date (YYYY-MM-DD)"))
        }
        fn num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
            v.trim().parse().map_err(|_| bad(name, "a number"))
        }
        fn list<T: PartialEq + std::str::FromStr>(name: &str, v: &str) -> Result<AndOr<T>, String> {
            AndOr::parse(v).ok_or_else(|| bad(name, "a list of ids joined by `,` or `|`"))
        }
        fn code(name: &str, v: &str, upper: bool) -> Result<String, String> {
            let ok = v.len() == 2
                && v.chars().all(|c| {
                    if upper {
                        c.is_ascii_uppercase()
                    } else {
                        c.is_ascii_lowercase()
                    }
                });
            if ok {
                Ok(v.to_owned())
            } else {
                Err(bad(name, "a two-letter code"))
            }
        }
        fn flag(name: &str, v: &str) -> Result<bool, String> {
            match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(bad(name, "true or false")),
            }
        }
        let mut d = Discover::default();
        for (name, v) in params {
            match name {
                "sort_by" => {
                    d.sort = Some(SortKey::parse(v).ok_or_else(|| bad(name, "a valid sort order"))?)
                }
                "primary_release_year" => d.primary_release_year = Some(num(name, v)?),
                "year" => d.year = Some(num(name, v)?),
                "primary_release_date.gte" => d.primary_release_date.gte = Some(date(name, v)?),
                "primary_release_date.lte" => d.primary_release_date.lte = Some(date(name, v)?),
                "release_date.gte" => d.release_date.gte = Some(date(name, v)?),
                "release_date.lte" => d.release_date.lte = Some(date(name, v)?),
                "region" => d.region = Some(code(name, v, true)?),
                "with_release_type" => {
                    d.release_types = list(name, v)?;
                    if d.release_types
                        .0
                        .iter()
                        .flatten()
                        .any(|t| !(1..=6).contains(t))
                    {
                        return Err(bad(name, "release types 1 to 6"));
                    }
                }
                "with_genres" => d.genres = list(name, v)?,
                "without_genres" => d.without_genres = list(name, v)?,
                "with_keywords" => d.keywords = list(name, v)?,
                "without_keywords" => d.without_keywords = list(name, v)?,
                "with_cast" => d.cast = list(name, v)?,
                "with_crew" => d.crew = list(name, v)?,
                "with_people" => d.people = list(name, v)?,
                "with_companies" => d.companies = list(name, v)?,
                "without_companies" => d.without_companies = list(name, v)?,
                "vote_count.gte" => d.vote_count.gte = Some(num(name, v)?),
                "vote_count.lte" => d.vote_count.lte = Some(num(name, v)?),
                "vote_average.gte" => d.vote_average.gte = Some(num(name, v)?),
                "vote_average.lte" => d.vote_average.lte = Some(num(name, v)?),
                "with_runtime.gte" => d.runtime.gte = Some(num(name, v)?),
                "with_runtime.lte" => d.runtime.lte = Some(num(name, v)?),
                "with_original_language" => {
                    d.original_language = Some(
                        v.split('|')
                            .map(|c| code(name, c, false))
                            .collect::<Result<_, _>>()?,
                    )
                }
                "with_origin_country" => {
                    d.origin_country = Some(
                        v.split('|')
                            .map(|c| code(name, c, true))
                            .collect::<Result<_, _>>()?,
                    )
                }
                "certification_country" => d.certification_country = Some(code(name, v, true)?),
                "certification" => {
                    d.certification = Some(v.split('|').map(str::to_owned).collect())
                }
                "certification.gte" => d.certification_gte = Some(v.to_owned()),
                "certification.lte" => d.certification_lte = Some(v.to_owned()),
                "watch_region" => d.watch_region = Some(code(name, v, true)?),
                "with_watch_providers" => d.watch_providers = list(name, v)?,
                "without_watch_providers" => d.without_watch_providers = list(name, v)?,
                "with_watch_monetization_types" => {
                    d.monetization = list(name, v)?;
                    if d.monetization
                        .0
                        .iter()
                        .flatten()
                        .any(|m| !MONETIZATION_TYPES.contains(&m.as_str()))
                    {
                        return Err(bad(name, "flatrate, free, ads, rent or buy"));
                    }
                }
                "include_adult" => d.include_adult = flag(name, v)?,
                "include_video" => d.include_video = flag(name, v)?,
                _ => {}
            }
        }
        Ok(d)
    }

    /// Whether a filter needs the movie's details (runtime, companies, origin, revenue).
    fn needs_details(&self) -> bool {
        self.runtime.is_set()
            || !self.companies.is_empty()
            || !self.without_companies.is_empty()
            || self.origin_country.is_some()
            || self.sort.is_some_and(|(k, _)| k == SortKey::Revenue)
    }

    fn needs_releases(&self) -> bool {
        self.year.is_some()
            || self.release_date.is_set()
            || !self.release_types.is_empty()
            || self.certification.is_some()
            || self.certification_gte.is_some()
            || self.certification_lte.is_some()
    }
}

/// A plan's discover filters as the sandbox applies them, so a test can ask the catalog for
/// exactly the ids a plan's fetch stage should have imported.
impl TryFrom<&DiscoverFilters> for Discover {
    type Error = String;
    fn try_from(f: &DiscoverFilters) -> Result<Self, String> {
        Discover::parse(f.query().iter().map(|(n, v)| (*n, v.as_str())))
    }
}

/// Watch providers the simulator offers (TMDB's ids): Netflix, Amazon Prime Video, Apple TV,
/// Google Play, Hulu, Disney Plus, YouTube.
/// The watch providers of the sandbox: TMDB id, name, logo and display priority, as TMDB's
/// recordings list them.
pub const WATCH_PROVIDERS: &[(u32, &str, &str, u32)] = &[
    (8, "Netflix", "/pbpMk2JmcoNnQwx5JGpXngfoWtp.jpg", 0),
    (
        9,
        "Amazon Prime Video",
        "/pvske1MyAoymrs5bguRfVqYiM9a.jpg",
        1,
    ),
    (2, "Apple TV Store", "/SPnB1qiCkYfirS2it3hZORwGVn.jpg", 3),
    (
        3,
        "Google Play Movies",
        "/8z7rC8uIDaTM91X0ZfkRf04ydj2.jpg",
        5,
    ),
    (15, "Hulu", "/bxBlRPEPpMVDc4jMhSrTf2339DW.jpg", 1),
    (337, "Disney Plus", "/97yvRBw1GzX7fXprcF80er19ot.jpg", 3),
    (192, "YouTube", "/pTnn5JwWr4p3pG8H6VrpiQo7Vs0.jpg", 22),
];

/// The countries `watch/providers` lists, with the monetization types offered there (free and
/// ad-supported offers are not everywhere, as in TMDB's recordings). Discover's
/// `watch_region` may name any country; one not listed here offers every type.
pub const WATCH_REGIONS: &[(&str, &[&str])] = &[
    ("CA", &["flatrate", "ads", "rent", "buy"]),
    ("DE", &["flatrate", "free", "ads", "rent", "buy"]),
    ("FR", &["flatrate", "rent", "buy"]),
    ("GB", &["flatrate", "free", "rent", "buy"]),
    ("US", &["flatrate", "rent", "buy"]),
];
const WATCH: u64 = 0x3a7c;

/// Minimum votes for `top_rated`, like TMDB's hidden threshold.
const TOP_RATED_MIN_VOTES: u32 = 200;

pub struct Catalog {
    pub(crate) seed: u64,
    pub(crate) today: NaiveDate,
    pub(crate) entries: Vec<IndexEntry>,
    by_id: HashMap<u32, u32>,
    by_imdb: HashMap<String, u32>,
    by_title: HashMap<String, Vec<u32>>,
    pub(crate) collections: Vec<CollectionEntry>,
    collection_by_id: HashMap<u32, u32>,
    /// Catalog indices by each discover order (descending).
    pub(crate) popular: Vec<u32>,
    by_vote_average: Vec<u32>,
    by_vote_count: Vec<u32>,
    by_date: Vec<u32>,
    by_title_order: Vec<u32>,
    top_rated: Vec<u32>,
    pub(crate) people: u32,
    pub(crate) keywords: u32,
    pub(crate) companies: u32,
    /// The last `movie/changes` window answered: a client pages through one window, and each
    /// page would otherwise draw every movie's days again.
    pub(crate) changes_memo: super::history::ChangesMemo,
    /// Each person's credits, by person id: drawn from every movie's credits the first time a
    /// filmography is asked for.
    filmographies: std::sync::OnceLock<HashMap<u32, Filmography>>,
}

/// A person's credits in the catalog's movies, in id order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filmography {
    /// `(movie, character)`.
    pub cast: Vec<(u32, String)>,
    /// `(movie, department, job)`.
    pub crew: Vec<(u32, String, String)>,
}

/// An entry of a simulated user list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListEntry {
    Movie(u32),
    /// A TV show (lists may hold them), by an id of its own.
    Tv(u32),
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("seed", &self.seed)
            .field("today", &self.today)
            .field("movies", &self.entries.len())
            .field("collections", &self.collections.len())
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// Builds the index of `movies` movies. Takes about 10 ms per 10,000 movies.
    pub fn generate(seed: u64, movies: u32, today: NaiveDate) -> Catalog {
        let n = movies as usize;
        let mut entries = Vec::with_capacity(n);
        let mut ids = Rng::new(seed, tag::IDS, 0);
        let mut id = 2 + ids.below(12) as u32;
        let mut imdb_taken = HashSet::with_capacity(n);
        for _ in 0..n {
            entries.push(index_entry(seed, id, today, &mut imdb_taken));
            id += 1 + ids.skewed(220, 2.0) as u32;
        }
        let collections = assign_collections(seed, &mut entries);
        cast_known_films(&mut entries, &known_films(), today);

        let by_id = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id, i as u32))
            .collect();
        let by_imdb = entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.imdb_id.clone().map(|m| (m, i as u32)))
            .collect();
        let mut by_title: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            by_title
                .entry(e.title.to_lowercase())
                .or_default()
                .push(i as u32);
        }
        let collection_by_id = collections
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i as u32))
            .collect();

        let order = |key: &dyn Fn(&IndexEntry, &IndexEntry) -> std::cmp::Ordering| {
            let mut v: Vec<u32> = (0..n as u32).collect();
            v.sort_by(|&a, &b| {
                let (ea, eb) = (&entries[a as usize], &entries[b as usize]);
                key(ea, eb).then(ea.id.cmp(&eb.id))
            });
            v
        };
        let popular = order(&|a, b| b.popularity.total_cmp(&a.popularity));
        let by_vote_average = order(&|a, b| {
            b.vote_average
                .total_cmp(&a.vote_average)
                .then(b.vote_count.cmp(&a.vote_count))
        });
        let by_vote_count = order(&|a, b| b.vote_count.cmp(&a.vote_count));
        let by_date = order(&|a, b| b.release_date.cmp(&a.release_date));
        let by_title_order = order(&|a, b| b.title.cmp(&a.title));
        let top_rated = by_vote_average
            .iter()
            .copied()
            .filter(|&i| entries[i as usize].vote_count >= TOP_RATED_MIN_VOTES)
            .collect();

        Catalog {
            seed,
            today,
            people: (movies.saturating_mul(4)).clamp(2_000, 260_000),
            keywords: (KEYWORD_POOL).min(movies.saturating_mul(2).max(200)),
            companies: (movies / 8).clamp(150, 6_000),
            entries,
            by_id,
            by_imdb,
            by_title,
            collections,
            collection_by_id,
            popular,
            by_vote_average,
            by_vote_count,
            by_date,
            by_title_order,
            top_rated,
            changes_memo: super::history::ChangesMemo::default(),
            filmographies: std::sync::OnceLock::new(),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The simulator's "today": lists, windows and statuses are relative to it.
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every movie, in id order.
    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    pub fn entry(&self, id: u32) -> Option<&IndexEntry> {
        self.index_of(id).map(|i| &self.entries[i])
    }

    pub(crate) fn index_of(&self, id: u32) -> Option<usize> {
        self.by_id.get(&id).map(|&i| i as usize)
    }

    /// Is `id` a stray (see [`STRAY_MAX_ID`])?
    pub fn is_stray(&self, id: u32) -> bool {
        (1..=STRAY_MAX_ID).contains(&id) && !self.by_id.contains_key(&id)
    }

    /// Movie `id` as the per-movie endpoints serve it: its catalog entry, or a stray's.
    pub(crate) fn served(&self, id: u32) -> Option<Cow<'_, IndexEntry>> {
        match self.index_of(id) {
            Some(i) => Some(Cow::Borrowed(&self.entries[i])),
            None => self.is_stray(id).then(|| Cow::Owned(self.stray(id))),
        }
    }

    fn stray(&self, id: u32) -> IndexEntry {
        let mut e = index_entry(self.seed, id, self.today, &mut HashSet::new());
        e.imdb_id = e.imdb_id.map(|_| format_imdb(STRAY_IMDB_BASE + id));
        e
    }

    /// The TMDB id of the movie with this IMDb id, in the catalog or a stray.
    pub fn id_for_imdb(&self, imdb_id: &str) -> Option<u32> {
        if let Some(&i) = self.by_imdb.get(imdb_id) {
            return Some(self.entries[i as usize].id);
        }
        let n: u32 = imdb_id.strip_prefix("tt")?.parse().ok()?;
        let id = n.checked_sub(STRAY_IMDB_BASE)?;
        (self.served(id)?.imdb_id.as_deref() == Some(imdb_id)).then_some(id)
    }

    /// Catalog movies whose English title is `title` (any case).
    pub fn ids_for_title(&self, title: &str) -> Vec<u32> {
        self.by_title
            .get(&title.to_lowercase())
            .map(|v| v.iter().map(|&i| self.entries[i as usize].id).collect())
            .unwrap_or_default()
    }

    /// The entries of user list `id` (`list/{id}`): any id of digits or hex digits names a
    /// list, drawn from the id: 5 to 60 movies, popular ones likelier, and now and then a TV
    /// show. `None` for an id that is not one.
    pub fn user_list(&self, id: &str) -> Option<Vec<ListEntry>> {
        if !crate::plan::is_list_id(id) {
            return None;
        }
        let key = id
            .to_ascii_lowercase()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        let mut r = Rng::new(self.seed, tag::USER_LIST, key);
        let len = 5 + r.below(56) as usize;
        let mut entries = Vec::with_capacity(len);
        let mut taken = HashSet::new();
        let n = self.popular.len() as u64;
        let mut tries = 0;
        while entries.len() < len && n > 0 && tries < len * 20 {
            tries += 1;
            if r.chance(0.1) {
                entries.push(ListEntry::Tv(1 + r.below(200_000) as u32));
                continue;
            }
            let i = self.popular[r.skewed(n, 1.6) as usize];
            let id = self.entries[i as usize].id;
            if taken.insert(id) {
                entries.push(ListEntry::Movie(id));
            }
        }
        Some(entries)
    }

    /// The movie ids of user list `id`, in its order.
    pub fn user_list_ids(&self, id: &str) -> Vec<u32> {
        self.user_list(id)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| match e {
                ListEntry::Movie(m) => Some(m),
                ListEntry::Tv(_) => None,
            })
            .collect()
    }

    /// Person `id`'s credits in the catalog's movies; `None` when the pool has no such
    /// person. Consistent with every movie's `credits`: they are drawn from them.
    pub fn filmography(&self, id: u32) -> Option<Filmography> {
        self.person_index(id)?;
        let all = self.filmographies.get_or_init(|| {
            let mut all: HashMap<u32, Filmography> = HashMap::new();
            for e in &self.entries {
                let Some(c) = self.credits(e.id) else {
                    continue;
                };
                for m in c.cast {
                    all.entry(m.id).or_default().cast.push((e.id, m.character));
                }
                for m in c.crew {
                    all.entry(m.id)
                        .or_default()
                        .crew
                        .push((e.id, m.department, m.job));
                }
            }
            all
        });
        Some(all.get(&id).cloned().unwrap_or_default())
    }

    /// `search/movie`: the catalog's movies whose title (or original title) holds `query`,
    /// any case, released in `year` if given; exact titles first, then the most popular.
    pub fn search_ids(&self, query: &str, year: Option<i32>) -> Vec<u32> {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return Vec::new();
        }
        let mut found: Vec<(bool, u32)> = self
            .popular
            .iter()
            .map(|&i| &self.entries[i as usize])
            .filter(|e| {
                year.is_none_or(|y| e.release_date.is_some_and(|d| d.year() == y) || e.year() == y)
            })
            .filter_map(|e| {
                let title = e.title.to_lowercase();
                let exact = title == q || e.original_title.to_lowercase() == q;
                (exact || title.contains(&q) || e.original_title.to_lowercase().contains(&q))
                    .then_some((!exact, e.id))
            })
            .collect();
        // Stable: within each group, the popularity order.
        found.sort_by_key(|(inexact, _)| *inexact);
        found.into_iter().map(|(_, id)| id).collect()
    }

    /// Ids of the collections, in the order they were created.
    pub fn collection_ids(&self) -> Vec<u32> {
        self.collections.iter().map(|c| c.id).collect()
    }

    /// `collection/{id}`.
    pub fn collection(&self, id: u32) -> Option<Collection> {
        let c = &self.collections[*self.collection_by_id.get(&id)? as usize];
        let first = &self.entries[c.members[0] as usize];
        let overview = format!(
            "The {} films that began with {}.",
            c.members.len(),
            first.title
        );
        let (poster_path, backdrop_path) = self.collection_images(id);
        Some(Collection {
            id,
            name: c.name.clone(),
            overview,
            poster_path,
            backdrop_path,
            parts: c
                .members
                .iter()
                .map(|&i| self.summary_at(i as usize, true))
                .collect(),
        })
    }

    /// A collection's poster and backdrop, as `collection/{id}` shows them (a details body's
    /// `belongs_to_collection` may carry an older copy).
    pub(crate) fn collection_images(&self, id: u32) -> (Option<String>, Option<String>) {
        let mut r = Rng::new(self.seed, tag::COLLECTION, u64::from(id));
        (
            image_path(&mut r, 0.1, "jpg"),
            image_path(&mut r, 0.2, "jpg"),
        )
    }

    pub(crate) fn collection_entry(&self, index: u32) -> &CollectionEntry {
        &self.collections[index as usize]
    }

    /// The details of a movie (`movie/{id}` without appended parts).
    pub fn movie(&self, id: u32) -> Option<Movie> {
        self.served(id).map(|e| self.movie_of(&e))
    }

    /// The movie as list pages show it.
    pub fn summary(&self, id: u32) -> Option<MovieSummary> {
        self.served(id).map(|e| self.summary_of(&e, false))
    }

    pub(crate) fn summary_at(&self, index: usize, media_type: bool) -> MovieSummary {
        self.summary_of(&self.entries[index], media_type)
    }

    pub(crate) fn summary_of(&self, e: &IndexEntry, media_type: bool) -> MovieSummary {
        let m = self.movie_of(e);
        MovieSummary {
            adult: m.adult,
            backdrop_path: m.backdrop_path,
            genre_ids: e.genre_ids.clone(),
            id: m.id,
            media_type: media_type.then(|| "movie".to_string()),
            original_language: m.original_language,
            original_title: m.original_title,
            overview: m.overview,
            popularity: m.popularity,
            poster_path: m.poster_path,
            release_date: m.release_date,
            softcore: false,
            title: m.title,
            video: m.video,
            vote_average: m.vote_average,
            vote_count: m.vote_count,
        }
    }

    /// The `dates` window of `now_playing` or `upcoming` (`None` for the other lists).
    pub fn list_window(&self, kind: ListKind) -> Option<(NaiveDate, NaiveDate)> {
        let t = self.today;
        match kind {
            ListKind::NowPlaying => Some((t - Days::new(35), t + Days::new(7))),
            ListKind::Upcoming => Some((t + Days::new(7), t + Days::new(28))),
            _ => None,
        }
    }

    /// The release dates `trending` keeps: on TMDB, what is looked at now is mostly recent;
    /// the simulator takes the popular movies released in the last month (day) or quarter
    /// (week).
    fn trending_window(&self, kind: ListKind) -> Option<(NaiveDate, NaiveDate)> {
        let t = self.today;
        match kind {
            ListKind::TrendingDay => Some((t - Days::new(30), t)),
            ListKind::TrendingWeek => Some((t - Days::new(90), t)),
            _ => None,
        }
    }

    /// The catalog ids of a whole list, in the order TMDB would page them.
    pub fn list_ids(&self, kind: ListKind) -> Vec<u32> {
        if kind == ListKind::Discover {
            return self.discover_ids(&Discover::default());
        }
        let order: &[u32] = match kind {
            ListKind::TopRated => &self.top_rated,
            _ => &self.popular,
        };
        let window = self
            .list_window(kind)
            .or_else(|| self.trending_window(kind));
        order
            .iter()
            .map(|&i| &self.entries[i as usize])
            .filter(|e| match window {
                Some((lo, hi)) => e.release_date.is_some_and(|d| d >= lo && d <= hi),
                None => true,
            })
            .map(|e| e.id)
            .collect()
    }

    /// One page (1-based) of a list.
    pub fn list_page(&self, kind: ListKind, page: u32) -> Page<MovieSummary> {
        match kind {
            // Whole-catalog orders: slice them instead of copying every id.
            ListKind::Popular | ListKind::TopRated => {
                let order = if kind == ListKind::Popular {
                    &self.popular
                } else {
                    &self.top_rated
                };
                let start = (page.max(1) as usize - 1) * PAGE_SIZE;
                let results = order
                    .iter()
                    .skip(start)
                    .take(PAGE_SIZE)
                    .map(|&i| self.summary_at(i as usize, false))
                    .collect();
                Page {
                    page,
                    results,
                    total_pages: order.len().div_ceil(PAGE_SIZE) as u32,
                    total_results: order.len() as u32,
                }
            }
            _ => self.page_of(&self.list_ids(kind), page),
        }
    }

    /// The catalog ids matching `query`, in its order. Cheap conditions (the index) are tried
    /// first; details, credits, keywords, releases and providers are generated only for the
    /// movies that pass them, and only when a filter asks.
    pub fn discover_ids(&self, query: &Discover) -> Vec<u32> {
        let (key, descending) = query.sort.unwrap_or((SortKey::Popularity, true));
        let order: &[u32] = match key {
            SortKey::Popularity | SortKey::Revenue => &self.popular,
            SortKey::VoteAverage => &self.by_vote_average,
            SortKey::VoteCount => &self.by_vote_count,
            SortKey::PrimaryReleaseDate => &self.by_date,
            SortKey::Title => &self.by_title_order,
        };
        let mut revenue: HashMap<u32, u64> = HashMap::new();
        let mut keep = |i: usize| {
            let e = &self.entries[i];
            let primary_ok = match e.release_date {
                Some(d) => {
                    query.primary_release_year.is_none_or(|y| d.year() == y)
                        && query.primary_release_date.contains(d)
                }
                None => {
                    query.primary_release_year.is_none() && !query.primary_release_date.is_set()
                }
            };
            let cheap = primary_ok
                && query.genres.all_in(&e.genre_ids)
                && query.without_genres.none_in(&e.genre_ids)
                && query.vote_count.contains(e.vote_count)
                && query.vote_average.contains(e.vote_average)
                && query
                    .original_language
                    .as_ref()
                    .is_none_or(|l| l.iter().any(|l| l == e.original_language));
            if !cheap {
                return false;
            }
            // Every generated movie is neither adult nor a video; the checks keep the
            // simulator honest should that change.
            let m = (query.needs_details() || !query.include_adult || !query.include_video)
                .then(|| self.movie_at(i));
            if let Some(m) = &m {
                let companies: Vec<u32> = m.production_companies.iter().map(|c| c.id).collect();
                let ok = (query.include_adult || !m.adult)
                    && (query.include_video || !m.video)
                    && query.runtime.contains(m.runtime)
                    && query.companies.all_in(&companies)
                    && query.without_companies.none_in(&companies)
                    && query
                        .origin_country
                        .as_ref()
                        .is_none_or(|c| c.iter().any(|c| m.origin_country.contains(c)));
                if !ok {
                    return false;
                }
                revenue.insert(e.id, m.revenue);
            }
            if !query.cast.is_empty() || !query.crew.is_empty() || !query.people.is_empty() {
                let Some(c) = self.credits(e.id) else {
                    return false;
                };
                let cast: Vec<u32> = c.cast.iter().map(|p| p.id).collect();
                let crew: Vec<u32> = c.crew.iter().map(|p| p.id).collect();
                let people: Vec<u32> = cast.iter().chain(&crew).copied().collect();
                if !(query.cast.all_in(&cast)
                    && query.crew.all_in(&crew)
                    && query.people.all_in(&people))
                {
                    return false;
                }
            }
            if !query.keywords.is_empty() || !query.without_keywords.is_empty() {
                let ids: Vec<u32> = self
                    .keywords(e.id)
                    .map(|k| k.keywords.iter().map(|k| k.id).collect())
                    .unwrap_or_default();
                if !(query.keywords.all_in(&ids) && query.without_keywords.none_in(&ids)) {
                    return false;
                }
            }
            if query.needs_releases() && !self.releases_match(e.id, query) {
                return false;
            }
            if let Some(region) = &query.watch_region {
                let offers = self.watch_offers(e.id, region);
                let providers: Vec<u32> = offers.iter().map(|(p, _)| *p).collect();
                let kinds: Vec<String> = offers.iter().map(|(_, k)| (*k).to_owned()).collect();
                if !(query.watch_providers.all_in(&providers)
                    && query.without_watch_providers.none_in(&providers)
                    && query.monetization.all_in(&kinds))
                {
                    return false;
                }
            }
            true
        };
        let mut ids: Vec<u32> = if descending {
            order
                .iter()
                .filter(|&&i| keep(i as usize))
                .map(|&i| self.entries[i as usize].id)
                .collect()
        } else {
            order
                .iter()
                .rev()
                .filter(|&&i| keep(i as usize))
                .map(|&i| self.entries[i as usize].id)
                .collect()
        };
        if key == SortKey::Revenue {
            // Stable: equal revenues keep the popularity order.
            ids.sort_by_key(|id| {
                let r = revenue.get(id).copied().unwrap_or_default();
                if descending { u64::MAX - r } else { r }
            });
        }
        ids
    }

    /// Whether a movie has a release matching the query's `year`, `release_date`,
    /// `with_release_type` (in `region` when set) and certification filters.
    fn releases_match(&self, id: u32, q: &Discover) -> bool {
        let Some(rd) = self.release_dates(id) else {
            return false;
        };
        let dated = rd
            .results
            .iter()
            .filter(|c| q.region.as_ref().is_none_or(|r| *r == c.iso_3166_1));
        let releases: Vec<(u8, NaiveDate)> = dated
            .flat_map(|c| c.release_dates.iter())
            .filter_map(|r| {
                let d = NaiveDate::parse_from_str(r.release_date.get(..10)?, "%Y-%m-%d").ok()?;
                Some((r.kind, d))
            })
            .collect();
        let kinds: Vec<u8> = releases.iter().map(|(k, _)| *k).collect();
        // Each AND group of types needs a release; the dates apply to releases of those types.
        let typed = |k: u8| {
            q.release_types.is_empty() || q.release_types.0.iter().flatten().any(|t| *t == k)
        };
        let dates_ok = (!q.release_date.is_set() && q.year.is_none())
            || releases.iter().any(|(k, d)| {
                typed(*k) && q.release_date.contains(*d) && q.year.is_none_or(|y| d.year() == y)
            });
        if !(q.release_types.all_in(&kinds) && dates_ok) {
            return false;
        }
        let wants_certification = q.certification.is_some()
            || q.certification_gte.is_some()
            || q.certification_lte.is_some();
        if !wants_certification {
            return true;
        }
        let Some(country) = &q.certification_country else {
            return false;
        };
        let system = words::certifications(country);
        let rank = |c: &str| system.iter().position(|x| *x == c);
        rd.results
            .iter()
            .filter(|c| c.iso_3166_1 == *country)
            .flat_map(|c| c.release_dates.iter())
            .any(|r| {
                let c = r.certification.as_str();
                !c.is_empty()
                    && q.certification
                        .as_ref()
                        .is_none_or(|l| l.iter().any(|x| x == c))
                    && q.certification_gte.as_deref().is_none_or(
                        |lo| matches!((rank(c), rank(lo)), (Some(a), Some(b)) if a >= b),
                    )
                    && q.certification_lte.as_deref().is_none_or(
                        |hi| matches!((rank(c), rank(hi)), (Some(a), Some(b)) if a <= b),
                    )
            })
    }

    /// Where a movie can be watched in `region`: (provider id, monetization type), the same
    /// for the same seed, movie and region. Released movies only.
    pub fn watch_offers(&self, id: u32, region: &str) -> Vec<(u32, &'static str)> {
        let Some(e) = self.served(id) else {
            return Vec::new();
        };
        if e.date > self.today {
            return Vec::new();
        }
        let region_id = region.bytes().fold(0u64, |h, b| h << 8 | u64::from(b));
        let mut r = Rng::new(self.seed, WATCH ^ region_id, u64::from(id));
        let types = WATCH_REGIONS
            .iter()
            .find(|(code, _)| *code == region)
            .map_or(MONETIZATION_TYPES, |(_, types)| *types);
        let mut offers = Vec::new();
        for &(p, ..) in WATCH_PROVIDERS {
            if r.chance(0.2) {
                offers.push((p, *r.pick(types)));
            }
        }
        offers
    }

    /// `movie/{id}/watch/providers` (without the `id`): [`Catalog::watch_offers`] in each of
    /// [`WATCH_REGIONS`] that has any, each type's providers by display priority.
    pub fn watch_providers(&self, id: u32) -> Option<super::model::WatchProviders> {
        use super::model::{CountryOffers, ProviderOffer};
        let e = self.served(id)?;
        let slug: String = e
            .title
            .to_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let mut results = std::collections::BTreeMap::new();
        for &(region, _) in WATCH_REGIONS {
            let mut offers = self.watch_offers(id, region);
            if offers.is_empty() {
                continue;
            }
            let info = |p: u32| WATCH_PROVIDERS.iter().find(|w| w.0 == p);
            offers.sort_by_key(|(p, _)| info(*p).map(|w| (w.3, w.0)));
            let mut country = CountryOffers {
                link: format!("https://www.themoviedb.org/movie/{id}-{slug}/watch?locale={region}"),
                ..CountryOffers::default()
            };
            for (p, kind) in offers {
                let Some(&(provider_id, name, logo, priority)) = info(p) else {
                    continue;
                };
                let offer = ProviderOffer {
                    logo_path: logo.to_owned(),
                    provider_id,
                    provider_name: name.to_owned(),
                    display_priority: priority,
                };
                match kind {
                    "flatrate" => country.flatrate.push(offer),
                    "free" => country.free.push(offer),
                    "ads" => country.ads.push(offer),
                    "rent" => country.rent.push(offer),
                    _ => country.buy.push(offer),
                }
            }
            results.insert(region.to_owned(), country);
        }
        Some(super::model::WatchProviders { results })
    }

    pub fn discover_page(&self, query: &Discover, page: u32) -> Page<MovieSummary> {
        self.page_of(&self.discover_ids(query), page)
    }

    /// A page of summaries over `ids`; past the end, `results` is empty (as on TMDB).
    pub(crate) fn page_of(&self, ids: &[u32], page: u32) -> Page<MovieSummary> {
        let start = (page.max(1) as usize - 1) * PAGE_SIZE;
        let results = ids
            .iter()
            .skip(start)
            .take(PAGE_SIZE)
            .filter_map(|&id| self.index_of(id).map(|i| self.summary_at(i, false)))
            .collect();
        Page {
            page,
            results,
            total_pages: ids.len().div_ceil(PAGE_SIZE) as u32,
            total_results: ids.len() as u32,
        }
    }
}

/// Distinct keyword names the generator can make (see `generate::keyword`).
pub(crate) const KEYWORD_POOL: u32 = 540;

/// `/{27 letters}.{ext}`, or `None` with probability `none`.
pub(crate) fn image_path(r: &mut Rng, none: f64, ext: &str) -> Option<String> {
    if r.chance(none) {
        None
    } else {
        Some(format!("/{}.{ext}", r.token(27)))
    }
}

fn index_entry(seed: u64, id: u32, today: NaiveDate, imdb_taken: &mut HashSet<u32>) -> IndexEntry {
    let mut r = Rng::new(seed, tag::INDEX, u64::from(id));
    let lang = &words::LANGUAGES[*r.weighted(words::LANGUAGE_WEIGHTS)];

    // Where in time the movie sits decides which lists it can appear in.
    let bucket = r.f64();
    let (date, boost) = if bucket < 0.03 {
        (today - Days::new(35) + Days::new(r.below(43)), 4.0)
    } else if bucket < 0.045 {
        (today + Days::new(8 + r.below(21)), 3.0)
    } else if bucket < 0.055 {
        (today + Days::new(29 + r.below(400)), 0.7)
    } else {
        let years_ago = (100.0 * r.f64().powf(2.5)) as i32;
        let year = today.year() - years_ago;
        let jan1 = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today);
        let d = jan1 + Days::new(r.below(365));
        (d.min(today - Days::new(36)), 1.0)
    };
    let blank_date = r.chance(0.01);

    let fame = 0.6 * (1.0 - r.f64()).powf(-1.0 / 1.1);
    let popularity = round3((fame * boost * (0.8 + 0.4 * r.f64())).min(9_500.0));

    let vote_count = if date > today || r.chance(0.04) {
        0
    } else {
        let age = (today - date).num_days() as f64 / 365.0;
        let noise = (r.normal(0.0, 0.8)).exp();
        (popularity.powf(1.15) * (2.0 + age).powf(0.8) * noise).min(38_000.0) as u32
    };
    let vote_average = if vote_count == 0 {
        0.0
    } else {
        let spread = 0.9 + 2.5 / f64::from(vote_count).sqrt();
        round3(r.normal(6.3, spread).clamp(1.0, 9.2))
    };

    let genre_count = *r.weighted(&[(1usize, 35), (2, 40), (3, 25)]);
    let mut genre_ids = Vec::with_capacity(genre_count);
    while genre_ids.len() < genre_count {
        let g = *r.weighted(words::GENRE_WEIGHTS);
        if !genre_ids.contains(&g) {
            genre_ids.push(g);
        }
    }

    let (title, original_title) = titles(seed, id, lang.iso);

    let imdb_id = if r.chance(0.95) {
        let (lo, hi) = match date.year() {
            ..2000 => (1_000, 999_999),
            2000..2015 => (100_000, 3_999_999),
            _ => (4_000_000, 29_999_999),
        };
        Some(format_imdb(unique_imdb(&mut r, (lo, hi), imdb_taken)))
    } else {
        None
    };
    let omdb_has_data = !r.chance(0.03);

    IndexEntry {
        id,
        title,
        original_title,
        original_language: lang.iso,
        popularity,
        vote_count,
        vote_average,
        release_date: (!blank_date).then_some(date),
        date,
        genre_ids,
        imdb_id,
        omdb_has_data,
        collection: None,
    }
}

/// Every IMDb number the catalog may use: the eras' ranges together.
const IMDB_NUMBERS: (i64, i64) = (1_000, 29_999_999);
/// Draws in a movie's era before it takes any free IMDb number.
const ERA_TRIES: u32 = 8;

/// A free IMDb number, drawn in `era` and, once that looks full (a catalog of millions has
/// more old movies than the old range has numbers), in the whole range: at most 5 million
/// movies take a sixth of it, so the draw ends.
fn unique_imdb(r: &mut Rng, era: (i64, i64), taken: &mut HashSet<u32>) -> u32 {
    for _ in 0..ERA_TRIES {
        let n = r.range(era.0, era.1) as u32;
        if taken.insert(n) {
            return n;
        }
    }
    loop {
        let n = r.range(IMDB_NUMBERS.0, IMDB_NUMBERS.1) as u32;
        if taken.insert(n) {
            return n;
        }
    }
}

/// The curated lists shipped with popctl (`data/lists`), built in so that the catalog holds
/// their films and a sandbox run shows list memberships and the CRI's cultural dimension.
const SHIPPED_LISTS: [(&str, &str); 3] = [
    (
        "data/lists/academy-award-best-picture-2010-2024.toml",
        include_str!("../../data/lists/academy-award-best-picture-2010-2024.toml"),
    ),
    (
        "data/lists/afi-100-years-100-movies-2007.toml",
        include_str!("../../data/lists/afi-100-years-100-movies-2007.toml"),
    ),
    (
        "data/lists/sight-and-sound-critics-poll-2022.toml",
        include_str!("../../data/lists/sight-and-sound-critics-poll-2022.toml"),
    ),
];

/// A real film the catalog plays: its title, year and IMDb id where the list gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KnownFilm {
    pub title: String,
    pub year: i32,
    pub imdb_id: Option<String>,
}

/// Every film of the shipped lists named by title and year, once (a film on two lists is one
/// film). The files are popctl's own and a test parses them all, so one that did not parse
/// would fail that test rather than go missing here unseen.
pub(crate) fn known_films() -> Vec<KnownFilm> {
    let mut films: Vec<KnownFilm> = Vec::new();
    for (file, text) in SHIPPED_LISTS {
        let Ok(list) = crate::lists::parse_list(std::path::Path::new(file), text) else {
            continue;
        };
        for item in list.items {
            let (Some(title), Some(year)) = (item.title, item.year) else {
                continue;
            };
            let same = |f: &KnownFilm| match (&f.imdb_id, &item.imdb_id) {
                (Some(a), Some(b)) => a == b,
                _ => f.title == title && f.year == year,
            };
            if !films.iter().any(same) {
                films.push(KnownFilm {
                    title,
                    year,
                    imdb_id: item.imdb_id,
                });
            }
        }
    }
    films
}

/// Casts `films` onto movies of the catalog: the film at position k becomes the movie ranked
/// 2 + 3k by popularity among those already out and in no collection, taking its title, year
/// and IMDb id (the movie that held that IMDb id loses it), so the films sit in the first
/// pages of `popular` and OMDb knows them. Everything else about the movie stays generated.
fn cast_known_films(entries: &mut [IndexEntry], films: &[KnownFilm], today: NaiveDate) {
    let out_by = today - Days::new(36);
    let mut ranked: Vec<usize> = (0..entries.len())
        // Not a collection's movie: its title and its collection's name go together.
        .filter(|&i| entries[i].collection.is_none())
        .filter(|&i| entries[i].release_date.is_some_and(|d| d <= out_by))
        .collect();
    ranked.sort_by(|&a, &b| {
        let (ea, eb) = (&entries[a], &entries[b]);
        eb.popularity
            .total_cmp(&ea.popularity)
            .then(ea.id.cmp(&eb.id))
    });
    let mut by_imdb: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.imdb_id.clone().map(|m| (m, i)))
        .collect();
    for (k, film) in films.iter().enumerate() {
        let Some(&i) = ranked.get(2 + 3 * k) else {
            break;
        };
        let id = entries[i].id;
        let date = NaiveDate::from_ymd_opt(film.year, 1 + id % 12, 1 + id % 28)
            .unwrap_or(entries[i].date)
            .min(out_by);
        if let Some(imdb) = &film.imdb_id {
            if let Some(holder) = by_imdb.remove(imdb) {
                entries[holder].imdb_id = None;
            }
            if let Some(old) = entries[i].imdb_id.take() {
                by_imdb.remove(&old);
            }
            entries[i].imdb_id = Some(imdb.clone());
            by_imdb.insert(imdb.clone(), i);
        }
        let e = &mut entries[i];
        e.title.clone_from(&film.title);
        e.original_title.clone_from(&film.title);
        e.original_language = "en";
        e.date = date;
        e.release_date = Some(date);
        e.omdb_has_data = true;
    }
}

/// `tt` and at least 7 digits, as IMDb writes ids.
pub(crate) fn format_imdb(n: u32) -> String {
    format!("tt{n:07}")
}

fn titles(seed: u64, id: u32, lang: &str) -> (String, String) {
    let mut r = Rng::new(seed, tag::TITLE, u64::from(id));
    let adj = r.pick(words::TITLE_ADJECTIVES);
    let noun = r.pick(words::TITLE_NOUNS);
    let noun2 = r.pick(words::TITLE_NOUNS);
    let place = r.pick(words::TITLE_PLACES);
    let title = match r.below(7) {
        0 => format!("The {adj} {noun}"),
        1 => format!("{noun} of {place}"),
        2 => format!("{adj} {noun}"),
        3 => format!("The {noun} and the {noun2}"),
        4 => format!("{adj} Summer in {place}"),
        5 => (*noun).to_string(),
        _ => format!("A {noun} for the {adj} {noun2}"),
    };
    let original = if lang == "en" {
        title.clone()
    } else {
        let native = words::native_words(lang);
        let a = r.pick(native);
        let b = r.pick(native);
        if a == b {
            (*a).to_string()
        } else {
            format!("{a} {b}")
        }
    };
    (title, original)
}

/// Groups some movies into collections (2–6 films each) and renames the later films as
/// sequels of the first, so a collection reads like one.
fn assign_collections(seed: u64, entries: &mut [IndexEntry]) -> Vec<CollectionEntry> {
    let n = entries.len();
    let mut r = Rng::new(seed, tag::COLLECTION, 0);
    let mut next_id = 8 + r.below(500) as u32;
    let mut out = Vec::new();
    for i in 0..n {
        if entries[i].collection.is_some() || !r.chance(0.02) {
            continue;
        }
        let size = 2 + r.skewed(5, 1.5) as usize;
        let mut members = vec![i];
        let mut j = i;
        while members.len() < size {
            j += 1 + r.below(40) as usize;
            if j >= n {
                break;
            }
            if entries[j].collection.is_none() {
                members.push(j);
            }
        }
        if members.len() < 2 {
            continue;
        }
        members.sort_by_key(|&m| (entries[m].date, entries[m].id));
        let base = entries[members[0]].title.clone();
        let base_original = entries[members[0]].original_title.clone();
        let index = out.len() as u32;
        for (k, &m) in members.iter().enumerate() {
            if k > 0 {
                let suffix = match r.below(3) {
                    0 => format!(" {}", k + 1),
                    1 => format!(": Part {}", roman(k + 1)),
                    _ => format!(" {}: {}", k + 1, r.pick(words::TITLE_NOUNS)),
                };
                entries[m].title = format!("{base}{suffix}");
                entries[m].original_title = format!("{base_original}{suffix}");
            }
            entries[m].collection = Some(index);
        }
        out.push(CollectionEntry {
            id: next_id,
            name: format!("{base} Collection"),
            members: members.iter().map(|&m| m as u32).collect(),
        });
        next_id += 1 + r.below(3000) as u32;
    }
    out
}

fn roman(n: usize) -> &'static str {
    ["I", "II", "III", "IV", "V", "VI", "VII", "VIII"][n.clamp(1, 8) - 1]
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub(crate) fn fmt_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 15).unwrap()
    }

    #[test]
    fn any_id_up_to_the_bound_answers_the_same_stray_and_others_do_not() {
        let cat = Catalog::generate(5, 1_500, today());
        let max = cat.entries().iter().map(|e| e.id).max().unwrap();
        let stray = (max + 1..max + 500)
            .find(|&id| cat.served(id).is_some_and(|e| e.imdb_id.is_some()))
            .unwrap();
        assert!(cat.is_stray(stray) && cat.entry(stray).is_none());
        // The same movie each time, and from a catalog of another size with the same seed.
        let movie = cat.movie(stray).unwrap();
        assert_eq!(cat.movie(stray), Some(movie.clone()));
        let bigger = Catalog::generate(5, 1_600, today());
        if bigger.is_stray(stray) {
            assert_eq!(bigger.movie(stray), Some(movie.clone()));
        }
        assert_eq!(movie.id, stray);
        assert!(!movie.title.is_empty());
        // Its parts and OMDb answer too; its IMDb id leads back to it and to no catalog movie.
        assert!(cat.credits(stray).is_some() && cat.release_dates(stray).is_some());
        let imdb = movie.imdb_id.clone().unwrap();
        assert_eq!(cat.id_for_imdb(&imdb), Some(stray));
        assert!(
            cat.entries()
                .iter()
                .all(|e| e.imdb_id.as_ref() != Some(&imdb))
        );
        assert!(cat.omdb(&imdb, false).is_some());
        // It is in no list, export or change feed.
        assert!(!cat.list_ids(ListKind::Popular).contains(&stray));
        assert!(cat.export(today()).all(|x| x.id != stray));
        assert_eq!(
            cat.changes(stray, today(), today()).unwrap().changes.len(),
            0
        );
        // Catalog ids are not strays; ids above the bound and 0 answer nothing.
        let first = cat.entries()[0].id;
        assert!(!cat.is_stray(first));
        assert_eq!(cat.movie(first), Some(cat.movie_at(0)));
        for id in [0, STRAY_MAX_ID + 1, u32::MAX] {
            assert_eq!(cat.movie(id), None, "{id}");
            assert!(!cat.alive_on(id, today()), "{id}");
        }
        let beyond = format!("tt{}", STRAY_IMDB_BASE + STRAY_MAX_ID + 1);
        assert_eq!(cat.id_for_imdb(&beyond), None);
    }

    #[test]
    fn lists_filmographies_and_searches_follow_the_catalog() {
        let cat = Catalog::generate(5, 1_500, today());
        // Any id of (hex) digits names a list, the same each time; other ids none.
        let list = cat.user_list("42").unwrap();
        assert_eq!(cat.user_list("42").unwrap(), list);
        assert!((5..=60).contains(&list.len()));
        assert_eq!(cat.user_list("509EC17B"), cat.user_list("509ec17b"));
        assert_eq!(cat.user_list("not-a-list"), None);
        assert_eq!(cat.user_list("0"), None);
        let movies = cat.user_list_ids("42");
        let unique: HashSet<u32> = movies.iter().copied().collect();
        assert_eq!(unique.len(), movies.len());
        assert!(movies.iter().all(|m| cat.entry(*m).is_some()));
        // A filmography holds exactly the movies whose credits name the person.
        let movie = cat.entries()[10].id;
        let director = cat
            .credits(movie)
            .unwrap()
            .crew
            .into_iter()
            .find(|c| c.job == "Director")
            .unwrap();
        let film = cat.filmography(director.id).unwrap();
        assert!(
            film.crew
                .contains(&(movie, "Directing".into(), "Director".into()))
        );
        for (m, _, job) in &film.crew {
            assert!(
                cat.credits(*m)
                    .unwrap()
                    .crew
                    .iter()
                    .any(|c| c.id == director.id && &c.job == job)
            );
        }
        assert_eq!(cat.filmography(101), None, "not a person of the pool");
        // A title search finds the movie, exact titles first; the year narrows it.
        let e = cat.entry(movie).unwrap();
        let found = cat.search_ids(&e.title.to_uppercase(), Some(e.year()));
        assert!(found.contains(&movie));
        assert!(
            cat.entry(found[0])
                .unwrap()
                .title
                .eq_ignore_ascii_case(&e.title)
        );
        assert!(cat.search_ids(&e.title, Some(1800)).is_empty());
        assert!(cat.search_ids("  ", None).is_empty());
    }

    #[test]
    fn the_shipped_lists_films_are_in_the_first_pages_of_popular() {
        let films = known_films();
        // Every item of the shipped lists names a title and year; a film on two lists counts
        // once (the AFI and Sight and Sound lists share some).
        let items: usize = SHIPPED_LISTS
            .iter()
            .map(|(f, text)| {
                crate::lists::parse_list(std::path::Path::new(f), text)
                    .unwrap_or_else(|e| panic!("{f}: {e}"))
                    .items
                    .len()
            })
            .sum();
        assert!(films.len() > 25 && films.len() <= items, "{}", films.len());
        let cat = Catalog::generate(7, 2_000, today());
        let popular: Vec<u32> = cat
            .list_ids(ListKind::Popular)
            .into_iter()
            .take(200)
            .collect();
        for film in &films {
            let ids = cat.ids_for_title(&film.title);
            let id = match &film.imdb_id {
                Some(imdb) => cat.id_for_imdb(imdb).unwrap_or_else(|| panic!("{film:?}")),
                None => *ids.first().unwrap_or_else(|| panic!("{film:?}")),
            };
            let e = cat.entry(id).unwrap();
            assert_eq!(
                (e.title.as_str(), e.year()),
                (film.title.as_str(), film.year)
            );
            assert!(ids.contains(&id), "{film:?} by title");
            assert!(
                popular.contains(&id),
                "{film:?} is not in the first 10 pages"
            );
            assert!(e.omdb_has_data);
        }
    }

    #[test]
    fn index_is_deterministic_and_seed_sensitive() {
        let a = Catalog::generate(42, 2_000, today());
        let b = Catalog::generate(42, 2_000, today());
        let c = Catalog::generate(43, 2_000, today());
        assert_eq!(a.entries, b.entries);
        assert_eq!(a.collections, b.collections);
        assert_ne!(a.entries, c.entries);
    }

    #[test]
    fn ids_and_imdb_ids_are_unique_and_about_95_percent_have_imdb() {
        let cat = Catalog::generate(7, 10_000, today());
        let ids: HashSet<u32> = cat.entries.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), 10_000);
        let imdb: Vec<&String> = cat
            .entries
            .iter()
            .filter_map(|e| e.imdb_id.as_ref())
            .collect();
        let distinct: HashSet<&&String> = imdb.iter().collect();
        assert_eq!(distinct.len(), imdb.len());
        let share = imdb.len() as f64 / 10_000.0;
        assert!((0.93..0.97).contains(&share), "imdb share {share}");
        assert!(imdb.iter().all(|m| m.starts_with("tt") && m.len() >= 9));
    }

    #[test]
    fn imdb_numbers_stay_unique_when_an_era_is_full() {
        let mut r = Rng::new(1, tag::INDEX, 0);
        let mut taken = HashSet::new();
        let era = (1_000, 1_099);
        let drawn: Vec<u32> = (0..300)
            .map(|_| unique_imdb(&mut r, era, &mut taken))
            .collect();
        assert_eq!(taken.len(), 300);
        assert!(drawn.iter().all(|&n| i64::from(n) >= IMDB_NUMBERS.0));
        assert!(drawn.iter().filter(|&&n| n < 1_100).count() >= 90);
    }

    #[test]
    fn lists_have_sensible_sizes_and_orders() {
        let cat = Catalog::generate(7, 10_000, today());
        let popular = cat.list_ids(ListKind::Popular);
        assert_eq!(popular.len(), 10_000);
        let pops: Vec<f64> = popular
            .iter()
            .map(|id| cat.entry(*id).unwrap().popularity)
            .collect();
        assert!(pops.windows(2).all(|w| w[0] >= w[1]));
        // Power law: the top movie is far more popular than the median one.
        assert!(
            pops[0] > 50.0 * pops[5_000],
            "{} vs {}",
            pops[0],
            pops[5_000]
        );

        let top = cat.list_ids(ListKind::TopRated);
        assert!(
            top.len() > 500 && top.len() < 6_000,
            "top_rated {}",
            top.len()
        );
        let now = cat.list_ids(ListKind::NowPlaying);
        let up = cat.list_ids(ListKind::Upcoming);
        assert!(now.len() > 100, "now_playing {}", now.len());
        assert!(up.len() > 60, "upcoming {}", up.len());
        let (lo, hi) = cat.list_window(ListKind::Upcoming).unwrap();
        assert!(up.iter().all(|id| {
            let d = cat.entry(*id).unwrap().release_date.unwrap();
            d >= lo && d <= hi
        }));
    }

    #[test]
    fn collections_hold_two_or_more_movies_named_alike() {
        let cat = Catalog::generate(7, 10_000, today());
        assert!(cat.collections.len() > 100);
        for c in &cat.collections {
            assert!(c.members.len() >= 2);
            let first = &cat.entries[c.members[0] as usize].title;
            assert_eq!(c.name, format!("{first} Collection"));
            for &m in &c.members[1..] {
                assert!(cat.entries[m as usize].title.starts_with(first.as_str()));
            }
        }
    }

    #[test]
    fn discover_filters_and_orders() {
        let cat = Catalog::generate(7, 5_000, today());
        let q = Discover {
            sort: Some((SortKey::PrimaryReleaseDate, false)),
            primary_release_year: Some(2010),
            genres: AndOr(vec![vec![18]]),
            ..Discover::default()
        };
        let ids = cat.discover_ids(&q);
        assert!(!ids.is_empty());
        let dates: Vec<NaiveDate> = ids
            .iter()
            .map(|id| cat.entry(*id).unwrap().release_date.unwrap())
            .collect();
        assert!(dates.windows(2).all(|w| w[0] <= w[1]));
        assert!(dates.iter().all(|d| d.year() == 2010));
        assert!(
            ids.iter()
                .all(|id| cat.entry(*id).unwrap().genre_ids.contains(&18))
        );

        let q = Discover {
            vote_count: Range {
                gte: Some(1_000),
                lte: None,
            },
            sort: Some((SortKey::VoteAverage, true)),
            ..Discover::default()
        };
        let ids = cat.discover_ids(&q);
        let avgs: Vec<f64> = ids
            .iter()
            .map(|id| cat.entry(*id).unwrap().vote_average)
            .collect();
        assert!(avgs.windows(2).all(|w| w[0] >= w[1]));
        assert!(
            ids.iter()
                .all(|id| cat.entry(*id).unwrap().vote_count >= 1_000)
        );
    }

    #[test]
    fn a_plans_discover_filters_select_what_the_sandbox_serves() {
        let cat = Catalog::generate(7, 3_000, today());
        let filters = DiscoverFilters(vec![
            ("sort_by", "vote_average.desc".to_string()),
            ("primary_release_year", "2010".to_string()),
            ("vote_count.gte", "10".to_string()),
            ("with_genres", "18,35|27".to_string()),
        ]);
        let d = Discover::try_from(&filters).unwrap();
        assert_eq!(d.sort, Some((SortKey::VoteAverage, true)));
        assert_eq!(d.primary_release_year, Some(2010));
        assert_eq!(d.genres, AndOr(vec![vec![18], vec![35, 27]]));
        assert_eq!(d.vote_count.gte, Some(10));
        assert_eq!(
            Discover::try_from(&DiscoverFilters::default()).unwrap(),
            Discover::default()
        );
        assert_eq!(
            cat.list_ids(ListKind::Discover),
            cat.list_ids(ListKind::Popular)
        );
        assert_eq!(SortKey::parse("title.asc"), Some((SortKey::Title, false)));
        assert_eq!(
            SortKey::parse("revenue.desc"),
            Some((SortKey::Revenue, true))
        );
        assert_eq!(SortKey::parse("budget.desc"), None);
        assert_eq!(SortKey::parse("title.up"), None);
    }

    #[test]
    fn every_filter_a_plan_accepts_narrows_discover_to_movies_that_have_it() {
        let cat = Catalog::generate(7, 2_000, today());
        let all = cat.discover_ids(&Discover::default());
        let ids = |params: &[(&str, &str)]| {
            let q = Discover::parse(params.iter().copied()).unwrap();
            let ids = cat.discover_ids(&q);
            assert!(
                !ids.is_empty() && ids.len() < all.len(),
                "{params:?}: {}",
                ids.len()
            );
            ids
        };
        // A keyword, a cast member and a company of the most popular movie find it.
        let first = all[0];
        let kw = cat.keywords(first).unwrap().keywords[0].id.to_string();
        let actor = cat.credits(first).unwrap().cast[0].id.to_string();
        let index = cat.index_of(first).unwrap();
        let movie = cat.movie_at(index);
        for params in [
            vec![("with_keywords", kw.as_str())],
            vec![("with_cast", actor.as_str())],
            vec![("with_people", actor.as_str())],
        ] {
            assert!(ids(&params).contains(&first), "{params:?}");
        }
        if let Some(c) = movie.production_companies.first() {
            let company = c.id.to_string();
            assert!(ids(&[("with_companies", company.as_str())]).contains(&first));
        }
        for id in ids(&[("with_runtime.gte", "90"), ("with_runtime.lte", "100")]) {
            let m = cat.movie(id).unwrap();
            assert!((90..=100).contains(&m.runtime), "{}", m.runtime);
        }
        for id in ids(&[("with_original_language", "fr")]) {
            assert_eq!(cat.entry(id).unwrap().original_language, "fr");
        }
        for id in ids(&[("with_genres", "27|53"), ("without_genres", "35")]) {
            let g = &cat.entry(id).unwrap().genre_ids;
            assert!(
                (g.contains(&27) || g.contains(&53)) && !g.contains(&35),
                "{g:?}"
            );
        }
        for id in ids(&[("with_release_type", "4"), ("region", "US")]) {
            let rd = cat.release_dates(id).unwrap();
            assert!(
                rd.results
                    .iter()
                    .any(|c| c.iso_3166_1 == "US" && c.release_dates.iter().any(|r| r.kind == 4))
            );
        }
        for id in ids(&[("certification_country", "US"), ("certification", "R")]) {
            let rd = cat.release_dates(id).unwrap();
            assert!(
                rd.results.iter().any(|c| c.iso_3166_1 == "US"
                    && c.release_dates.iter().any(|r| r.certification == "R"))
            );
        }
        for id in ids(&[
            ("watch_region", "US"),
            ("with_watch_providers", "8"),
            ("with_watch_monetization_types", "flatrate|rent"),
        ]) {
            assert!(cat.watch_offers(id, "US").iter().any(|(p, _)| *p == 8));
        }
        let dates = ids(&[
            ("primary_release_date.gte", "1980-01-01"),
            ("primary_release_date.lte", "1989-12-31"),
        ]);
        for id in dates {
            assert_eq!(cat.entry(id).unwrap().year() / 10, 198);
        }
        let by_revenue = ids(&[("sort_by", "revenue.desc"), ("vote_count.gte", "100")]);
        let revenues: Vec<u64> = by_revenue
            .iter()
            .map(|id| cat.movie(*id).unwrap().revenue)
            .collect();
        assert!(revenues.windows(2).all(|w| w[0] >= w[1]));
        // Invalid values are refused with TMDB's validation message.
        for bad in [
            ("primary_release_date.gte", "1980-1-1"),
            ("sort_by", "budget.desc"),
            ("with_release_type", "7"),
            ("with_genres", "Horror"),
            ("include_adult", "yes"),
        ] {
            let e = Discover::parse([bad]).unwrap_err();
            assert!(e.starts_with(bad.0), "{e}");
        }
    }

    #[test]
    fn pages_are_twenty_and_past_the_end_is_empty() {
        let cat = Catalog::generate(7, 1_000, today());
        let p = cat.list_page(ListKind::Popular, 1);
        assert_eq!(p.results.len(), 20);
        assert_eq!(p.total_results, 1_000);
        assert_eq!(p.total_pages, 50);
        let past = cat.list_page(ListKind::Popular, 51);
        assert!(past.results.is_empty());
        assert_eq!(past.page, 51);
    }
}
