//! The seed data's genres file, `<data.dir>/seed/genres.toml`: TMDB's movie genres by id and
//! English name. The `seed` stage stores them when the plan has no TMDB source to ask
//! (`store::seed`); the plan compiler resolves the genre names a discover filter writes
//! (`with_genres = ["Horror"]`) through them, so a plan can name genres without knowing ids.

use std::path::Path;

use serde::Deserialize;

/// One genre of the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genre {
    pub id: i64,
    pub name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenresFile {
    genres: Vec<Genre>,
}

/// The genres of `<data_dir>/seed/genres.toml`.
pub fn file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("seed").join("genres.toml")
}

/// Reads the genres file at `path`; the error says why in words (the caller names the file).
pub fn read(path: &Path) -> Result<Vec<Genre>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    toml::from_str::<GenresFile>(&text)
        .map(|f| f.genres)
        .map_err(|e| e.to_string().trim_end().to_owned())
}
