//! The cache directory as a whole: what `popctl cache stats | clear | prune` see and do.
//!
//! Only files shaped like the cache's own are ever read or removed: entries
//! `<source>/<2 hex>/<62 hex>` and temporary files beside them. A `[cache] dir` pointed at the
//! wrong folder by mistake therefore loses nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{CacheError, TEMP_PREFIX, check_source_name, entry};
use crate::plan::CacheConfig;

/// A temporary file younger than this may belong to a writer that is still running.
pub const TEMP_GRACE: Duration = Duration::from_secs(3600);

/// How old an entry may get, per source and for negative answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub ttl: BTreeMap<String, Duration>,
    pub default_ttl: Duration,
    pub negative_ttl: Duration,
}

impl Expiry {
    /// The TTLs of a plan's `[cache]`.
    pub fn from_config(config: &CacheConfig) -> Self {
        Expiry {
            ttl: config.ttl.clone(),
            default_ttl: config.default_ttl,
            negative_ttl: config.negative_ttl,
        }
    }

    /// One age limit for every entry.
    pub fn uniform(age: Duration) -> Self {
        Expiry {
            ttl: BTreeMap::new(),
            default_ttl: age,
            negative_ttl: age,
        }
    }

    fn ttl_of(&self, source: &str, negative: bool) -> Duration {
        if negative {
            self.negative_ttl
        } else {
            self.ttl.get(source).copied().unwrap_or(self.default_ttl)
        }
    }
}

/// What one source's part of the cache holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceStats {
    pub source: String,
    /// Readable entries.
    pub entries: u64,
    /// Of `entries`: negative answers.
    pub negative: u64,
    /// Of `entries`: past their TTL, when TTLs were given.
    pub expired: Option<u64>,
    /// Bytes on disk of the readable entries.
    pub bytes: u64,
    /// The answers' bodies, uncompressed.
    pub body_bytes: u64,
    /// Files that fail their checksum or sit under the wrong name.
    pub damaged: u64,
    pub damaged_bytes: u64,
    /// Temporary files of writers that are running or died.
    pub temp_files: u64,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
}

/// Files and bytes removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    pub files: u64,
    pub bytes: u64,
}

impl Removed {
    fn add(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
    }
}

/// What `prune` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    pub expired: Removed,
    pub damaged: Removed,
    /// Temporary files older than [`TEMP_GRACE`].
    pub temp: Removed,
}

/// A file of the cache, as found on disk.
enum Found {
    /// A readable entry.
    Entry(entry::Meta),
    Damaged,
    Temp {
        modified: Option<SystemTime>,
    },
}

struct File {
    path: PathBuf,
    size: u64,
    found: Found,
}

/// Every source's statistics, by source name. With `expiry`, entries past their TTL at `now`
/// are counted. A missing directory holds nothing.
pub fn stats(
    root: &Path,
    expiry: Option<&Expiry>,
    now: SystemTime,
) -> Result<Vec<SourceStats>, CacheError> {
    let mut out = Vec::new();
    for source in sources(root)? {
        let mut s = SourceStats {
            source: source.clone(),
            expired: expiry.map(|_| 0),
            ..SourceStats::default()
        };
        for file in files(&root.join(&source))? {
            match file.found {
                Found::Entry(meta) => {
                    s.entries += 1;
                    s.bytes += file.size;
                    s.body_bytes += meta.body_len;
                    s.negative += u64::from(meta.negative);
                    if let (Some(e), Some(n)) = (expiry, s.expired.as_mut()) {
                        *n += u64::from(is_expired(e, &source, &meta, now));
                    }
                    let at = DateTime::<Utc>::from(meta.stored_at);
                    s.oldest = Some(s.oldest.map_or(at, |o| o.min(at)));
                    s.newest = Some(s.newest.map_or(at, |o| o.max(at)));
                }
                Found::Damaged => {
                    s.damaged += 1;
                    s.damaged_bytes += file.size;
                }
                Found::Temp { .. } => s.temp_files += 1,
            }
        }
        out.push(s);
    }
    Ok(out)
}

/// Removes every entry and temporary file of `source`, or of every source.
pub fn clear(root: &Path, source: Option<&str>) -> Result<Removed, CacheError> {
    let names = match source {
        Some(s) => {
            check_source_name(s)?;
            vec![s.to_string()]
        }
        None => sources(root)?,
    };
    let mut removed = Removed::default();
    for name in names {
        let dir = root.join(&name);
        for file in files(&dir)? {
            remove(&file.path, file.size, &mut removed)?;
        }
        remove_empty_dirs(&dir);
    }
    Ok(removed)
}

/// Removes entries past their TTL at `now`, damaged files, and temporary files older than
/// [`TEMP_GRACE`].
pub fn prune(root: &Path, expiry: &Expiry, now: SystemTime) -> Result<Pruned, CacheError> {
    let mut pruned = Pruned::default();
    for source in sources(root)? {
        let dir = root.join(&source);
        for file in files(&dir)? {
            let slot = match &file.found {
                Found::Entry(meta) if is_expired(expiry, &source, meta, now) => &mut pruned.expired,
                Found::Entry(_) => continue,
                Found::Damaged => &mut pruned.damaged,
                Found::Temp { modified } => {
                    let age = modified
                        .and_then(|m| now.duration_since(m).ok())
                        .unwrap_or(Duration::ZERO);
                    if age < TEMP_GRACE {
                        continue;
                    }
                    &mut pruned.temp
                }
            };
            remove(&file.path, file.size, slot)?;
        }
        remove_empty_dirs(&dir);
    }
    Ok(pruned)
}

fn is_expired(expiry: &Expiry, source: &str, meta: &entry::Meta, now: SystemTime) -> bool {
    let age = now.duration_since(meta.stored_at).unwrap_or(Duration::ZERO);
    age >= expiry.ttl_of(source, meta.negative)
}

fn remove(path: &Path, size: u64, removed: &mut Removed) -> Result<(), CacheError> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            removed.add(size);
            Ok(())
        }
        // Another process removed or replaced it first: nothing left to do.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CacheError::io("remove", path, &e)),
    }
}

/// Drops shard directories and the source directory once empty; a directory that still
/// holds something (a writer got in between) simply stays.
fn remove_empty_dirs(dir: &Path) {
    if let Ok(shards) = std::fs::read_dir(dir) {
        for shard in shards.flatten() {
            let _ = std::fs::remove_dir(shard.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Source directories under `root`, by name (none when `root` does not exist).
pub fn sources(root: &Path) -> Result<Vec<String>, CacheError> {
    let mut names: Vec<String> = read_dir(root)?
        .into_iter()
        .filter(|(name, path)| check_source_name(name).is_ok() && path.is_dir())
        .map(|(name, _)| name)
        .collect();
    names.sort();
    Ok(names)
}

/// The cache's files in one source directory.
fn files(source_dir: &Path) -> Result<Vec<File>, CacheError> {
    let mut out = Vec::new();
    for (shard, shard_path) in read_dir(source_dir)? {
        if shard.len() != 2 || !is_lower_hex(&shard) || !shard_path.is_dir() {
            continue;
        }
        for (name, path) in read_dir(&shard_path)? {
            let is_entry = name.len() == 62 && is_lower_hex(&name);
            if !is_entry && !name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => m,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(CacheError::io("read", &path, &e)),
            };
            let found = if is_entry {
                judge(&path, &format!("{shard}{name}"))?
            } else {
                Found::Temp {
                    modified: meta.modified().ok(),
                }
            };
            out.push(File {
                path,
                size: meta.len(),
                found,
            });
        }
    }
    Ok(out)
}

/// Reads an entry whole (its checksum covers all of it) and checks it sits under its own key.
fn judge(path: &Path, hash: &str) -> Result<Found, CacheError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Damaged),
        Err(e) => return Err(CacheError::io("read", path, &e)),
    };
    Ok(match entry::decode_meta(&bytes) {
        Ok((meta, _)) if hex::encode(Sha256::digest(meta.request.as_bytes())) == hash => {
            Found::Entry(meta)
        }
        _ => Found::Damaged,
    })
}

fn read_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>, CacheError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CacheError::io("list", dir, &e)),
    };
    let mut out = Vec::new();
    for item in rd {
        let item = item.map_err(|e| CacheError::io("list", dir, &e))?;
        if let Ok(name) = item.file_name().into_string() {
            out.push((name, item.path()));
        }
    }
    Ok(out)
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::cache::{Clock, SourceCache, Verdict};
    use std::sync::Arc;

    // In the past, so that `SystemTime::now()` is later still.
    const T0: u64 = 1_600_000_000;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn cache(root: &Path, source: &str, stamp: u64) -> SourceCache {
        let config = CacheConfig {
            mode: crate::plan::CacheMode::ReadWrite,
            dir: root.to_path_buf(),
            ttl: BTreeMap::new(),
            default_ttl: Duration::from_secs(100),
            negative_ttl: Duration::from_secs(10),
        };
        let kind = crate::plan::SourceKind::Tmdb;
        let src = crate::plan::SourceConfig {
            rate_scope: crate::plan::RateScope::Worker,
            name: source.to_string(),
            kind,
            api_key: crate::plan::Interpolated::Value(crate::secret::Secret::new("k")),
            api_key_var: None,
            base_url: kind.default_base_url().to_string(),
            rate: kind.default_rate(),
            burst: 1,
            timeout: Duration::from_secs(1),
            daily_quota: None,
            max_body: kind.default_max_body(),
            max_rate_limited_wait: crate::plan::DEFAULT_MAX_RATE_LIMITED_WAIT,
            store_raw: true,
            files_url: crate::plan::DEFAULT_FILES_URL.to_string(),
            language: None,
            region: None,
        };
        let clock: Clock = Arc::new(move || at(stamp));
        SourceCache::open(&config, &src)
            .unwrap()
            .unwrap()
            .with_clock(clock)
    }

    /// Three entries of `tmdb` (one negative), one of `omdb`, a damaged file, a temp file
    /// and a stranger that must survive everything.
    fn fill(root: &Path) -> PathBuf {
        let tmdb = cache(root, "tmdb", T0);
        for id in 1..=2 {
            let k = tmdb.key(&format!("movie/{id}"), &[]);
            assert!(tmdb.store(&k, 200, br#"{"id":1}"#, Verdict::Positive));
        }
        let k = tmdb.key("movie/404", &[]);
        assert!(tmdb.store(&k, 404, br#"{"status_code":34}"#, Verdict::Negative));
        let omdb = cache(root, "omdb", T0 + 50);
        let k = omdb.key("", &[("i", "tt1".into())]);
        assert!(omdb.store(&k, 200, br#"{"Title":"x"}"#, Verdict::Positive));
        let damaged = tmdb.path_of(&tmdb.key("movie/1", &[]));
        std::fs::write(&damaged, b"torn").unwrap();
        let shard = damaged.parent().unwrap();
        std::fs::write(shard.join(format!("{TEMP_PREFIX}1-1")), b"half").unwrap();
        let stranger = root.join("tmdb").join("notes.txt");
        std::fs::write(&stranger, b"mine").unwrap();
        stranger
    }

    #[test]
    fn stats_count_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path());
        let expiry = Expiry::uniform(Duration::from_secs(30));
        let s = stats(dir.path(), Some(&expiry), at(T0 + 60)).unwrap();
        let names: Vec<&str> = s.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(names, ["omdb", "tmdb"]);
        let tmdb = &s[1];
        assert_eq!(
            (tmdb.entries, tmdb.negative, tmdb.damaged, tmdb.temp_files),
            (2, 1, 1, 1)
        );
        assert_eq!(tmdb.expired, Some(2));
        assert_eq!(s[0].expired, Some(0));
        assert!(tmdb.bytes > 0 && tmdb.body_bytes > 0);
        assert_eq!(tmdb.oldest, Some(DateTime::<Utc>::from(at(T0))));
        assert_eq!(stats(dir.path(), None, at(T0)).unwrap()[1].expired, None);
        assert!(
            stats(&dir.path().join("absent"), None, at(T0))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn prune_removes_expired_damaged_and_old_temp_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let stranger = fill(dir.path());
        let expiry = Expiry {
            ttl: BTreeMap::from([("omdb".to_string(), Duration::from_secs(1000))]),
            default_ttl: Duration::from_secs(100),
            negative_ttl: Duration::from_secs(10),
        };
        // At +20 s only the negative answer is past its TTL; the temp file is young.
        let p = prune(dir.path(), &expiry, at(T0 + 20)).unwrap();
        assert_eq!((p.expired.files, p.damaged.files, p.temp.files), (1, 1, 0));
        let p = prune(dir.path(), &expiry, SystemTime::now() + TEMP_GRACE * 2).unwrap();
        assert_eq!((p.expired.files, p.temp.files), (2, 1));
        assert!(stranger.is_file());
        let left = stats(dir.path(), None, at(T0)).unwrap();
        assert_eq!(left.iter().map(|s| s.entries).sum::<u64>(), 0);
    }

    #[test]
    fn clear_one_source_or_all() {
        let dir = tempfile::tempdir().unwrap();
        let stranger = fill(dir.path());
        let r = clear(dir.path(), Some("omdb")).unwrap();
        assert_eq!(r.files, 1);
        assert!(!dir.path().join("omdb").exists());
        let r = clear(dir.path(), None).unwrap();
        assert_eq!(r.files, 4, "two entries, a damaged file, a temp file");
        assert!(stranger.is_file());
        assert_eq!(clear(dir.path(), Some("nothing-here")).unwrap().files, 0);
        assert!(clear(dir.path(), Some("../x")).is_err());
    }
}
