//! The `cultural_lists` step: the curated lists of `<data.dir>/lists/*.toml` (or the plan's
//! selection) in the database, their items linked to the imported movies.
//!
//! An item names its movie by IMDb id, TMDB id, or title + year, tried in that order:
//! - an IMDb or TMDB id matches the movie with that id;
//! - a title + year matches the movies whose normalised `title` or `original_title` is the
//!   title and whose release year is the year, exactly (case, accents, punctuation and a `&`
//!   for "and" do not matter). When the item also has an IMDb id, which did not match, only
//!   movies without an IMDb id can match by title: one with another IMDb id is another film.
//!   An item with a TMDB id that is not imported is not in the database; its title is not
//!   tried, for the same reason.
//! - Several movies for one title + year is an *ambiguous* match: reported with the
//!   candidates and not linked. Guessing would put a film on a list it is not on.
//!
//! Authorities are inserted when missing and never changed: `seed` (from
//! `seed/authorities.toml`) owns them, and a list file's differing definition draws a
//! warning, as `seed` does. List definitions are upserted, and each list's items become
//! exactly what matched now: items that no longer match are removed. Lists in the database
//! that this step did not load are left alone. All of it is one transaction.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, StreamTrait, Value};
use serde::Serialize;

use super::error::PostError;
use super::read::{all, each_row, get, select};
use crate::lists::{AuthorityKind, CuratedList, ListItem, load_list, load_lists};
use crate::plan::{CulturalListSettings, PostStep};
use crate::store::derived::{self, ListItemRow};
use crate::store::seed::upsert_list_definitions;
use crate::store::{SaveStats, begin};

const STEP: PostStep = PostStep::CulturalLists;

/// What the step did for one list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListCoverage {
    pub file: PathBuf,
    pub authority: String,
    pub name: String,
    pub year: i32,
    /// Items in the file.
    pub items: usize,
    /// Items linked to an imported movie.
    pub matched: usize,
    /// Items whose movie is not imported, as the file names them.
    pub not_in_database: Vec<String>,
    /// Items whose title + year fits several imported movies; none of them is linked.
    pub ambiguous: Vec<AmbiguousItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmbiguousItem {
    /// The item as the file names it (`"Crash" (2004)`).
    pub item: String,
    /// The movies it could be, by TMDB id.
    pub candidates: Vec<MovieLabel>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovieLabel {
    pub tmdb_id: i64,
    pub title: String,
    pub year: Option<i32>,
}

/// The coverage of every list the step loaded, in load order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CulturalListsReport {
    pub lists: Vec<ListCoverage>,
}

impl CulturalListsReport {
    pub fn items(&self) -> usize {
        self.lists.iter().map(|l| l.items).sum()
    }

    pub fn matched(&self) -> usize {
        self.lists.iter().map(|l| l.matched).sum()
    }

    pub fn not_in_database(&self) -> usize {
        self.lists.iter().map(|l| l.not_in_database.len()).sum()
    }

    pub fn ambiguous(&self) -> usize {
        self.lists.iter().map(|l| l.ambiguous.len()).sum()
    }
}

/// Reads the lists the settings select: the named files, in the plan's order, or every file
/// of `<data_dir>/lists`, by file name. Two files defining one list are an error.
pub(super) fn load(
    settings: &CulturalListSettings,
    data_dir: &Path,
) -> Result<Vec<CuratedList>, PostError> {
    let dir = data_dir.join("lists");
    let lists = match &settings.lists {
        Some(names) => names
            .iter()
            .map(|name| load_list(&dir.join(format!("{name}.toml"))))
            .collect::<Result<Vec<_>, _>>()?,
        None => load_lists(&dir)?,
    };
    let mut seen: HashMap<(&str, &str, i32), &Path> = HashMap::new();
    for list in &lists {
        let key = (list.authority.name.as_str(), list.name.as_str(), list.year);
        if let Some(first) = seen.insert(key, &list.file) {
            return Err(PostError::DuplicateList {
                first: first.to_owned(),
                second: list.file.clone(),
                authority: list.authority.name.clone(),
                name: list.name.clone(),
                year: list.year,
            });
        }
    }
    Ok(lists)
}

/// A title for matching: lower case, common Latin accents folded, `&` read as "and", every
/// run of other characters that are not letters or digits one space.
pub(crate) fn normalise_title(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut gap = false;
    for c in title.chars().flat_map(char::to_lowercase) {
        let mut buf = [0u8; 4];
        let piece: &str = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => "a",
            'ç' | 'č' | 'ć' => "c",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' => "e",
            'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
            'ñ' | 'ń' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => "o",
            'ù' | 'ú' | 'û' | 'ü' | 'ū' => "u",
            'ý' | 'ÿ' => "y",
            'š' | 'ś' => "s",
            'ž' | 'ź' | 'ż' => "z",
            'ł' => "l",
            'æ' => "ae",
            'œ' => "oe",
            'ß' => "ss",
            '&' => {
                gap = true;
                "and"
            }
            c if c.is_alphanumeric() => c.encode_utf8(&mut buf),
            _ => {
                gap = true;
                continue;
            }
        };
        if gap && !out.is_empty() {
            out.push(' ');
        }
        // "and" is a word of its own: whatever follows it starts another.
        gap = c == '&';
        out.push_str(piece);
    }
    out
}

/// One imported movie, as matching needs it.
#[derive(Debug, Clone)]
struct Movie {
    id: i64,
    tmdb_id: i64,
    imdb_id: Option<String>,
    title: String,
    year: Option<i32>,
}

/// The imported movies, by every way an item can name one.
#[derive(Debug, Default)]
struct MovieIndex {
    movies: Vec<Movie>,
    by_imdb: HashMap<String, usize>,
    by_tmdb: HashMap<i64, usize>,
    by_title: HashMap<(String, i32), Vec<usize>>,
}

impl MovieIndex {
    fn add(&mut self, movie: Movie, original_title: Option<&str>) {
        let i = self.movies.len();
        if let Some(imdb) = &movie.imdb_id {
            self.by_imdb.insert(imdb.clone(), i);
        }
        self.by_tmdb.insert(movie.tmdb_id, i);
        if let Some(year) = movie.year {
            let mut titles = vec![normalise_title(&movie.title)];
            titles.extend(original_title.map(normalise_title));
            titles.dedup();
            for t in titles {
                self.by_title.entry((t, year)).or_default().push(i);
            }
        }
        self.movies.push(movie);
    }

    fn label(&self, i: usize) -> MovieLabel {
        let m = &self.movies[i];
        MovieLabel {
            tmdb_id: m.tmdb_id,
            title: m.title.clone(),
            year: m.year,
        }
    }
}

#[derive(Debug, PartialEq)]
enum Match {
    Movie(usize),
    Missing,
    Ambiguous(Vec<usize>),
}

fn resolve(index: &MovieIndex, item: &ListItem) -> Match {
    if let Some(&i) = item.imdb_id.as_ref().and_then(|id| index.by_imdb.get(id)) {
        return Match::Movie(i);
    }
    if let Some(tmdb_id) = item.tmdb_id {
        return index
            .by_tmdb
            .get(&tmdb_id)
            .map_or(Match::Missing, |&i| Match::Movie(i));
    }
    let (Some(title), Some(year)) = (&item.title, item.year) else {
        return Match::Missing;
    };
    let mut candidates: Vec<usize> = index
        .by_title
        .get(&(normalise_title(title), year))
        .into_iter()
        .flatten()
        .copied()
        .filter(|&i| item.imdb_id.is_none() || index.movies[i].imdb_id.is_none())
        .collect();
    candidates.sort_by_key(|&i| index.movies[i].tmdb_id);
    candidates.dedup();
    match candidates.as_slice() {
        [] => Match::Missing,
        [i] => Match::Movie(*i),
        _ => Match::Ambiguous(candidates),
    }
}

/// What the lists' items can name a movie by: only movies named so can match, so only they
/// are indexed, and the index stays the size of the lists, not of the catalog.
#[derive(Debug, Default)]
struct Wanted {
    imdb: HashSet<String>,
    tmdb: HashSet<i64>,
    titles: HashSet<(String, i32)>,
}

impl Wanted {
    fn of(lists: &[CuratedList]) -> Wanted {
        let mut wanted = Wanted::default();
        for item in lists.iter().flat_map(|l| &l.items) {
            wanted.imdb.extend(item.imdb_id.clone());
            wanted.tmdb.extend(item.tmdb_id);
            if let (Some(title), Some(year)) = (&item.title, item.year) {
                wanted.titles.insert((normalise_title(title), year));
            }
        }
        wanted
    }

    /// Whether any key [`resolve`] could look `movie` up by is one an item asks for.
    fn names(&self, movie: &Movie, original_title: Option<&str>) -> bool {
        movie
            .imdb_id
            .as_ref()
            .is_some_and(|id| self.imdb.contains(id))
            || self.tmdb.contains(&movie.tmdb_id)
            || movie.year.is_some_and(|year| {
                std::iter::once(movie.title.as_str())
                    .chain(original_title)
                    .any(|t| self.titles.contains(&(normalise_title(t), year)))
            })
    }
}

/// The movies the lists' items name, read one row at a time.
async fn movie_index<C: ConnectionTrait + StreamTrait>(
    conn: &C,
    lists: &[CuratedList],
) -> Result<MovieIndex, PostError> {
    let wanted = Wanted::of(lists);
    let t = "movies";
    let stmt = select(
        t,
        &[
            "id",
            "tmdb_id",
            "imdb_id",
            "title",
            "original_title",
            "release_date",
        ],
    );
    let mut index = MovieIndex::default();
    each_row(conn, STEP, t, &stmt, |row| {
        let release: Option<chrono::NaiveDate> = get(row, STEP, t, "release_date")?;
        let original: Option<String> = get(row, STEP, t, "original_title")?;
        let movie = Movie {
            id: get(row, STEP, t, "id")?,
            tmdb_id: get(row, STEP, t, "tmdb_id")?,
            imdb_id: get(row, STEP, t, "imdb_id")?,
            title: get(row, STEP, t, "title")?,
            year: release.map(|d| chrono::Datelike::year(&d)),
        };
        if wanted.names(&movie, original.as_deref()) {
            index.add(movie, original.as_deref());
        }
        Ok(())
    })
    .await?;
    Ok(index)
}

/// Runs the step over `lists` (from [`load`]).
pub(super) async fn run(
    db: &DatabaseConnection,
    lists: &[CuratedList],
) -> Result<(CulturalListsReport, SaveStats, Vec<String>), PostError> {
    let txn = begin(db).await?;
    let index = movie_index(&txn, lists).await?;
    let mut report = CulturalListsReport::default();
    let mut warnings = Vec::new();
    let (mut written, mut deleted) = (0, 0);

    let authority_ids = authorities(&txn, lists, &mut warnings, &mut written).await?;

    let mut definitions: Vec<(i64, &CuratedList)> = lists
        .iter()
        .map(|l| (authority_ids[&l.authority.name], l))
        .collect();
    written += upsert_list_definitions(&txn, &mut definitions)
        .await
        .map_err(PostError::query(STEP, "saving list definitions"))?;
    let list_ids = list_ids(&txn, authority_ids.values().copied().collect()).await?;

    for list in lists {
        let list_id = list_ids
            .get(&(
                authority_ids[&list.authority.name],
                list.name.clone(),
                list.year,
            ))
            .copied()
            .ok_or_else(|| PostError::Internal {
                step: STEP.as_str(),
                message: format!("list {:?} was not found right after saving it", list.name),
            })?;
        let (coverage, items) = link(&index, list, &mut warnings);
        report.lists.push(coverage);
        let (w, d) = save_items(&txn, list_id, items).await?;
        written += w;
        deleted += d;
    }
    txn.commit()
        .await
        .map_err(PostError::query(STEP, "committing"))?;
    let rows = SaveStats {
        written,
        deleted,
        ..SaveStats::default()
    };
    Ok((report, rows, warnings))
}

/// Inserts the lists' authorities that are missing and returns every one's id by name. A
/// stored definition that differs from a list file's draws a warning.
async fn authorities<C: ConnectionTrait>(
    conn: &C,
    lists: &[CuratedList],
    warnings: &mut Vec<String>,
    written: &mut u64,
) -> Result<BTreeMap<String, i64>, PostError> {
    let t = "cultural_authorities";
    let mut wanted: BTreeMap<&str, &CuratedList> = BTreeMap::new();
    for list in lists {
        wanted.entry(list.authority.name.as_str()).or_insert(list);
    }
    *written += derived::insert_missing_authorities(conn, wanted.values().map(|l| &l.authority))
        .await
        .map_err(PostError::query(STEP, "saving cultural authorities"))?;

    let names: Vec<Value> = wanted.keys().map(|n| (*n).into()).collect();
    let mut stmt = select(t, &["id", "name", "kind", "trust"]);
    stmt.and_where(Expr::col("name").is_in(names));
    let mut ids = BTreeMap::new();
    for row in all(conn, STEP, t, &stmt).await? {
        let id: i64 = get(&row, STEP, t, "id")?;
        let name: String = get(&row, STEP, t, "name")?;
        let kind: String = get(&row, STEP, t, "kind")?;
        let trust: f64 = get(&row, STEP, t, "trust")?;
        let stored = AuthorityKind::from_word(&kind).ok_or_else(|| PostError::BadValue {
            step: STEP.as_str(),
            table: t,
            column: "kind",
            row: id,
            value: kind.clone(),
            expected: "award, collection, critic or platform",
        })?;
        for list in lists.iter().filter(|l| l.authority.name == name) {
            let a = &list.authority;
            if a.kind != stored || a.trust != trust {
                warnings.push(format!(
                    "{}: authority {name:?} is stored as {} with trust {trust}; the list \
                     file's {} with trust {} is ignored",
                    list.file.display(),
                    stored.as_str(),
                    a.kind.as_str(),
                    a.trust
                ));
            }
        }
        ids.insert(name, id);
    }
    if let Some(missing) = wanted.keys().find(|n| !ids.contains_key(**n)) {
        return Err(PostError::Internal {
            step: STEP.as_str(),
            message: format!("authority {missing:?} was not found right after saving it"),
        });
    }
    Ok(ids)
}

/// Ids of the lists of these authorities, by (authority id, name, year).
async fn list_ids<C: ConnectionTrait>(
    conn: &C,
    authorities: Vec<i64>,
) -> Result<HashMap<(i64, String, i32), i64>, PostError> {
    let t = "curated_lists";
    let mut stmt = select(t, &["id", "authority_id", "name", "year"]);
    stmt.and_where(Expr::col("authority_id").is_in(authorities));
    let mut ids = HashMap::new();
    for row in all(conn, STEP, t, &stmt).await? {
        ids.insert(
            (
                get(&row, STEP, t, "authority_id")?,
                get(&row, STEP, t, "name")?,
                get(&row, STEP, t, "year")?,
            ),
            get(&row, STEP, t, "id")?,
        );
    }
    Ok(ids)
}

/// Resolves every item of `list`; returns its coverage and the rows to store, sorted by key.
fn link(
    index: &MovieIndex,
    list: &CuratedList,
    warnings: &mut Vec<String>,
) -> (ListCoverage, Vec<ListItemRow>) {
    let mut coverage = ListCoverage {
        file: list.file.clone(),
        authority: list.authority.name.clone(),
        name: list.name.clone(),
        year: list.year,
        items: list.items.len(),
        matched: 0,
        not_in_database: Vec::new(),
        ambiguous: Vec::new(),
    };
    let mut rows: BTreeMap<(i64, String), ListItemRow> = BTreeMap::new();
    let mut first_item: HashMap<(i64, String), usize> = HashMap::new();
    for (n, item) in list.items.iter().enumerate() {
        let i = match resolve(index, item) {
            Match::Movie(i) => i,
            Match::Missing => {
                coverage.not_in_database.push(item.to_string());
                continue;
            }
            Match::Ambiguous(candidates) => {
                coverage.ambiguous.push(AmbiguousItem {
                    item: item.to_string(),
                    candidates: candidates.into_iter().map(|i| index.label(i)).collect(),
                });
                continue;
            }
        };
        let movie = &index.movies[i];
        let category = item.category.clone().unwrap_or_default();
        let key = (movie.id, category.clone());
        if let Some(first) = first_item.get(&key) {
            warnings.push(format!(
                "{}: items {} and {} both name TMDB movie {} ({:?}); the first is kept",
                list.file.display(),
                first + 1,
                n + 1,
                movie.tmdb_id,
                movie.title
            ));
            continue;
        }
        first_item.insert(key.clone(), n);
        coverage.matched += 1;
        rows.insert(
            key,
            ListItemRow {
                movie_id: movie.id,
                category,
                // `parse_list` refuses positions beyond i32.
                position: item.position.and_then(|p| i32::try_from(p).ok()),
                result: item.result.map(|r| r.as_str()),
            },
        );
    }
    (coverage, rows.into_values().collect())
}

/// Makes the items of list `list_id` exactly `items`. Returns rows written and removed.
async fn save_items<C: ConnectionTrait + StreamTrait>(
    conn: &C,
    list_id: i64,
    items: Vec<ListItemRow>,
) -> Result<(u64, u64), PostError> {
    let t = "movie_list_items";
    let keep: HashSet<(i64, String)> = items
        .iter()
        .map(|r| (r.movie_id, r.category.clone()))
        .collect();
    let written = derived::save_list_items(conn, list_id, items)
        .await
        .map_err(PostError::query(STEP, "saving list items"))?;
    let deleted = derived::remove_list_items_not_in(conn, list_id, &keep)
        .await
        .map_err(PostError::query(
            STEP,
            format!("removing rows of {t} no longer produced"),
        ))?;
    Ok((written, deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movie(id: i64, imdb: Option<&str>, title: &str, year: i32) -> Movie {
        Movie {
            id,
            tmdb_id: id * 10,
            imdb_id: imdb.map(str::to_owned),
            title: title.to_owned(),
            year: Some(year),
        }
    }

    fn item(imdb: Option<&str>, tmdb: Option<i64>, title: Option<(&str, i32)>) -> ListItem {
        ListItem {
            imdb_id: imdb.map(str::to_owned),
            tmdb_id: tmdb,
            title: title.map(|t| t.0.to_owned()),
            year: title.map(|t| t.1),
            position: None,
            category: None,
            result: None,
        }
    }

    fn index() -> MovieIndex {
        let mut index = MovieIndex::default();
        index.add(movie(1, Some("tt0000001"), "Amélie", 2001), None);
        index.add(
            movie(2, None, "Parasite", 2019),
            Some("기생충"), // a Korean original title still matches by the English one
        );
        index.add(movie(3, Some("tt0000003"), "Crash", 2004), None);
        index.add(movie(4, Some("tt0000004"), "Crash", 2004), None);
        index.add(movie(5, None, "Crash", 1996), None);
        index
    }

    #[test]
    fn titles_normalise_case_accents_punctuation_and_ampersands() {
        assert_eq!(normalise_title("Amélie"), "amelie");
        assert_eq!(
            normalise_title("  Crouching Tiger, Hidden Dragon! "),
            "crouching tiger hidden dragon"
        );
        assert_eq!(
            normalise_title("Harold & Kumar"),
            normalise_title("Harold and Kumar")
        );
        assert_eq!(normalise_title("Se7en"), "se7en");
        assert_eq!(normalise_title("WALL·E"), "wall e");
        assert_eq!(normalise_title("기생충"), "기생충");
        assert_eq!(normalise_title(""), "");
    }

    #[test]
    fn items_match_by_imdb_tmdb_or_title_and_year() {
        let ix = index();
        assert_eq!(
            resolve(&ix, &item(Some("tt0000001"), None, None)),
            Match::Movie(0)
        );
        assert_eq!(resolve(&ix, &item(None, Some(20), None)), Match::Movie(1));
        assert_eq!(
            resolve(&ix, &item(None, None, Some(("AMELIE", 2001)))),
            Match::Movie(0)
        );
        assert_eq!(
            resolve(&ix, &item(None, None, Some(("기생충", 2019)))),
            Match::Movie(1)
        );
        assert_eq!(
            resolve(&ix, &item(None, None, Some(("Amélie", 2002)))),
            Match::Missing,
            "the year must match"
        );
        assert_eq!(
            resolve(&ix, &item(None, None, Some(("Crash", 2004)))),
            Match::Ambiguous(vec![2, 3])
        );
        assert_eq!(
            resolve(&ix, &item(None, None, Some(("Crash", 1996)))),
            Match::Movie(4)
        );
    }

    #[test]
    fn an_id_that_is_not_imported_never_falls_back_to_another_film() {
        let ix = index();
        // Another IMDb id: only movies without one may match by title, and Crash (2004) has one.
        assert_eq!(
            resolve(&ix, &item(Some("tt0000009"), None, Some(("Crash", 2004)))),
            Match::Missing
        );
        // Parasite has no IMDb id in the database, so the title may match it.
        assert_eq!(
            resolve(
                &ix,
                &item(Some("tt6751668"), None, Some(("Parasite", 2019)))
            ),
            Match::Movie(1)
        );
        // A TMDB id is exact: not imported means not in the database.
        assert_eq!(
            resolve(&ix, &item(None, Some(999), Some(("Parasite", 2019)))),
            Match::Missing
        );
    }
}
