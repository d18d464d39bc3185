//! Curated list files (`data/lists/<name>.toml`): a cultural authority, a list definition and
//! its items, written by hand and cited. Pure: text in, validated list out; every error names
//! the file and, for an item, its position.
//!
//! ```toml
//! source = "https://www.oscars.org/oscars/ceremonies/2024"
//!
//! [authority]
//! name = "Academy of Motion Picture Arts and Sciences"
//! kind = "award"        # award | collection | critic | platform
//! trust = 0.95          # 0..=1
//!
//! [list]
//! name = "Academy Award for Best Picture"
//! year = 2024
//! type = "award"        # ranked | unranked | award
//!
//! [[items]]             # identified by imdb_id, tmdb_id, or title + year
//! title = "Oppenheimer"
//! year = 2023
//! category = "Best Picture"   # award lists: category and result
//! result = "won"              # won | nominated
//! # ranked lists: position = 1, 2, …
//! ```

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ListError {
    #[error("{file}: cannot read: {message}")]
    #[diagnostic(code(popctl::lists::read))]
    Read { file: PathBuf, message: String },

    #[error("{file}: not a valid list file: {message}")]
    #[diagnostic(
        code(popctl::lists::syntax),
        help("a list file has `source`, [authority], [list] and [[items]]; see data/lists/")
    )]
    Syntax { file: PathBuf, message: String },

    #[error("{file}: {message}")]
    #[diagnostic(code(popctl::lists::invalid))]
    Invalid { file: PathBuf, message: String },

    #[error("{file}: item {number} ({item}): {message}")]
    #[diagnostic(code(popctl::lists::invalid_item))]
    Item {
        file: PathBuf,
        /// 1-based, in file order.
        number: usize,
        /// How the item identifies its movie, for finding it in the file.
        item: String,
        message: String,
    },
}

/// `as_str` and `from_word` for a word enum of list files, in the spelling files and the
/// database use.
macro_rules! words {
    ($ty:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }

            /// The value a word names (as stored in the database), if any.
            pub fn from_word(word: &str) -> Option<Self> {
                match word {
                    $($word => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

/// Who made a list, which decides the CRI dimension the list speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorityKind {
    /// Award bodies (the Academy): institutional recognition.
    Award,
    /// Canon collections (AFI 100, a national film registry): timelessness.
    Collection,
    /// Critics' polls (Sight and Sound): artistic impact.
    Critic,
    /// Audience platforms (a site's user-voted top list): cultural penetration.
    Platform,
}

words!(AuthorityKind {
    Award => "award",
    Collection => "collection",
    Critic => "critic",
    Platform => "platform",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListType {
    Ranked,
    Unranked,
    Award,
}

words!(ListType {
    Ranked => "ranked",
    Unranked => "unranked",
    Award => "award",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwardResult {
    Won,
    Nominated,
}

words!(AwardResult {
    Won => "won",
    Nominated => "nominated",
});

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authority {
    pub name: String,
    pub kind: AuthorityKind,
    pub trust: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListItem {
    #[serde(default)]
    pub imdb_id: Option<String>,
    #[serde(default)]
    pub tmdb_id: Option<i64>,
    #[serde(default)]
    pub title: Option<String>,
    /// The film's year, with `title`.
    #[serde(default)]
    pub year: Option<i32>,
    #[serde(default)]
    pub position: Option<u32>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub result: Option<AwardResult>,
}

impl fmt::Display for ListItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.imdb_id {
            write!(f, "imdb_id {id}")
        } else if let Some(id) = self.tmdb_id {
            write!(f, "tmdb_id {id}")
        } else {
            match (&self.title, self.year) {
                (Some(t), Some(y)) => write!(f, "{t:?} ({y})"),
                (Some(t), None) => write!(f, "{t:?}"),
                _ => f.write_str("no identifier"),
            }
        }
    }
}

/// A validated list file.
#[derive(Debug, Clone, PartialEq)]
pub struct CuratedList {
    pub file: PathBuf,
    pub source: String,
    pub authority: Authority,
    pub name: String,
    pub year: i32,
    pub list_type: ListType,
    pub items: Vec<ListItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    source: String,
    authority: Authority,
    list: RawList,
    #[serde(default)]
    items: Vec<ListItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    name: String,
    year: i32,
    #[serde(rename = "type")]
    list_type: ListType,
}

/// Parses and validates the text of list file `file`.
pub fn parse_list(file: &Path, text: &str) -> Result<CuratedList, ListError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| ListError::Syntax {
        file: file.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let invalid = |message: String| ListError::Invalid {
        file: file.to_owned(),
        message,
    };
    if raw.source.trim().is_empty() {
        return Err(invalid(
            "`source` must say where the list comes from".into(),
        ));
    }
    if raw.authority.name.trim().is_empty() {
        return Err(invalid("[authority] `name` is empty".into()));
    }
    if !(0.0..=1.0).contains(&raw.authority.trust) {
        return Err(invalid(format!(
            "[authority] `trust` is {}, expected 0 to 1",
            raw.authority.trust
        )));
    }
    if raw.list.name.trim().is_empty() {
        return Err(invalid("[list] `name` is empty".into()));
    }
    if !(1000..=9999).contains(&raw.list.year) {
        return Err(invalid(format!(
            "[list] `year` is {}, expected a four-digit year",
            raw.list.year
        )));
    }
    if raw.items.is_empty() {
        return Err(invalid("the list has no [[items]]".into()));
    }

    let list_type = raw.list.list_type;
    let mut positions = HashSet::new();
    let mut identities = HashSet::new();
    for (i, item) in raw.items.iter().enumerate() {
        let bad = |message: String| ListError::Item {
            file: file.to_owned(),
            number: i + 1,
            item: item.to_string(),
            message,
        };
        if let Some(id) = &item.imdb_id {
            let digits = id.strip_prefix("tt").unwrap_or("");
            if digits.len() < 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("imdb_id {id:?} is not like tt0111161")));
            }
        }
        if item.tmdb_id.is_some_and(|id| id <= 0) {
            return Err(bad("tmdb_id must be positive".into()));
        }
        if item.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(bad("title is empty".into()));
        }
        if item.title.is_some() != item.year.is_some()
            && item.imdb_id.is_none()
            && item.tmdb_id.is_none()
        {
            return Err(bad("title and year go together".into()));
        }
        if item.imdb_id.is_none() && item.tmdb_id.is_none() && item.title.is_none() {
            return Err(bad("needs imdb_id, tmdb_id, or title and year".into()));
        }
        match list_type {
            ListType::Ranked => {
                let Some(p) = item.position else {
                    return Err(bad("a ranked list needs a position for every item".into()));
                };
                if p == 0 {
                    return Err(bad("positions start at 1".into()));
                }
                if i32::try_from(p).is_err() {
                    return Err(bad(format!("position {p} is too large")));
                }
                if !positions.insert(p) {
                    return Err(bad(format!("position {p} is used twice")));
                }
                if item.category.is_some() || item.result.is_some() {
                    return Err(bad("category and result belong to award lists".into()));
                }
            }
            ListType::Award => {
                if item.category.as_deref().is_none_or(|c| c.trim().is_empty())
                    || item.result.is_none()
                {
                    return Err(bad(
                        "an award list needs category and result (won|nominated)".into(),
                    ));
                }
                if item.position.is_some() {
                    return Err(bad("position belongs to ranked lists".into()));
                }
            }
            ListType::Unranked => {
                if item.position.is_some() || item.category.is_some() || item.result.is_some() {
                    return Err(bad(
                        "an unranked list takes no position, category or result".into(),
                    ));
                }
            }
        }
        if !identities.insert((item.to_string(), item.category.clone())) {
            return Err(bad("listed twice".into()));
        }
    }
    Ok(CuratedList {
        file: file.to_owned(),
        source: raw.source.trim().to_owned(),
        authority: raw.authority,
        name: raw.list.name.trim().to_owned(),
        year: raw.list.year,
        list_type,
        items: raw.items,
    })
}

/// Reads and parses one list file.
pub fn load_list(file: &Path) -> Result<CuratedList, ListError> {
    let text = std::fs::read_to_string(file).map_err(|e| ListError::Read {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    parse_list(file, &text)
}

/// Every `*.toml` in `dir`, by file name; none when `dir` does not exist.
pub fn load_lists(dir: &Path) -> Result<Vec<CuratedList>, ListError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(ListError::Read {
                file: dir.to_owned(),
                message: e.to_string(),
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| ListError::Read {
                file: dir.to_owned(),
                message: e.to_string(),
            })?
            .path();
        if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort();
    files.iter().map(|f| load_list(f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"
source = "a citation"
[authority]
name = "Some Academy"
kind = "award"
trust = 0.9
"#;

    fn parse(text: &str) -> Result<CuratedList, String> {
        parse_list(Path::new("lists/x.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn award_list() {
        let list = parse(&format!(
            r#"{HEAD}
[list]
name = "Best Picture"
year = 2020
type = "award"
[[items]]
title = "Parasite"
year = 2019
category = "Best Picture"
result = "won"
[[items]]
imdb_id = "tt0111161"
category = "Best Picture"
result = "nominated"
"#
        ))
        .unwrap();
        assert_eq!(list.list_type, ListType::Award);
        assert_eq!(list.items.len(), 2);
        assert_eq!(list.items[1].result, Some(AwardResult::Nominated));
    }

    #[test]
    fn errors_name_file_and_item() {
        let ranked = |items: &str| {
            parse(&format!(
                "{HEAD}\n[list]\nname = \"Top\"\nyear = 1998\ntype = \"ranked\"\n{items}"
            ))
        };
        let err =
            ranked("[[items]]\ntmdb_id = 1\nposition = 1\n[[items]]\ntmdb_id = 2\n").unwrap_err();
        assert_eq!(
            err,
            "lists/x.toml: item 2 (tmdb_id 2): a ranked list needs a position for every item"
        );
        let err =
            ranked("[[items]]\ntmdb_id = 1\nposition = 1\n[[items]]\ntmdb_id = 2\nposition = 1\n")
                .unwrap_err();
        assert!(
            err.contains("item 2") && err.contains("position 1 is used twice"),
            "{err}"
        );
        let err = ranked("[[items]]\ntmdb_id = 1\nposition = 3000000000\n").unwrap_err();
        assert!(err.contains("position 3000000000 is too large"), "{err}");
        let err = ranked("[[items]]\nimdb_id = \"tt12\"\nposition = 1\n").unwrap_err();
        assert!(err.contains("item 1") && err.contains("tt12"), "{err}");
        let err = ranked("[[items]]\ntitle = \"X\"\nposition = 1\n").unwrap_err();
        assert!(err.contains("title and year go together"), "{err}");
        let err = ranked("[[items]]\nposition = 1\n").unwrap_err();
        assert!(err.contains("needs imdb_id"), "{err}");
        let err = ranked("[[items]]\ntmdb_id = 1\nposition = 1\nrank = 3\n").unwrap_err();
        assert!(
            err.starts_with("lists/x.toml: not a valid list file") && err.contains("rank"),
            "{err}"
        );
        let err = ranked("").unwrap_err();
        assert!(err.contains("no [[items]]"), "{err}");
    }

    #[test]
    fn trust_out_of_range() {
        let text = format!(
            "{}\n[list]\nname = \"L\"\nyear = 2000\ntype = \"unranked\"\n[[items]]\ntmdb_id = 5\n",
            HEAD.replace("0.9", "1.5")
        );
        assert!(parse(&text).unwrap_err().contains("`trust` is 1.5"));
    }
}
