//! `popctl cache stats | clear | prune`: the response cache as a whole, outside a run.
//!
//! The cache directory is `--dir`, else the plan's `[cache] dir` (with `--set` and `POPCTL_…`
//! overrides, as a run would see it), else `.popctl/cache` in the current directory. `reset`
//! never touches the cache; these commands are the only way popctl empties it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::plan::units::human_size;
use crate::plan::{
    self, CacheConfig, Code, DEFAULT_CACHE_DIR, LoadOptions, PlanDiagnostic, PlanErrors,
};
use crate::report::Shell;
use crate::report::events::Event;
use crate::sources::cache::CacheError;
use crate::sources::cache::dir::{self, Expiry, Removed, SourceStats};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Entries, sizes and ages per source.
    Stats,
    /// Remove every entry, or one source's.
    Clear { source: Option<String> },
    /// Remove expired entries (by the plan's TTLs, or older than `older_than`), damaged files
    /// and temporary files that writers left behind.
    Prune { older_than: Option<Duration> },
}

#[derive(Debug, Clone)]
pub struct Options {
    /// A plan whose `[cache]` gives the directory and the TTLs.
    pub plan: Option<PathBuf>,
    pub sets: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Wins over the plan's `[cache] dir`.
    pub dir: Option<PathBuf>,
    pub action: Action,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CacheCommandError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(#[from] PlanErrors),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Cache(#[from] CacheError),

    #[error("`prune` needs to know which entries are too old")]
    #[diagnostic(
        code(popctl::cache::prune_needs_ttl),
        help(
            "give a plan to use its [cache] TTLs (--plan plans/dev-200.toml), or an age (--older-than 7d)"
        )
    )]
    NoExpiry,

    #[error("cannot find the current directory: {reason}")]
    #[diagnostic(code(popctl::cache::current_dir))]
    CurrentDir { reason: String },

    #[error("no cache at {dir}")]
    #[diagnostic(
        code(popctl::cache::no_cache),
        help(
            "a run whose `[cache] mode` is not `off` creates it; --dir DIR or --plan PLAN names \
             another cache"
        )
    )]
    NoCache { dir: String },

    #[error("no source `{source_name}` in the cache at {dir}")]
    #[diagnostic(code(popctl::cache::unknown_source))]
    UnknownSource {
        source_name: String,
        dir: String,
        #[help]
        help: String,
    },
}

impl CacheCommandError {
    /// 2 for a bad plan or bad arguments, 1 for a failure on disk.
    pub fn exit_code(&self) -> u8 {
        match self {
            CacheCommandError::Plan(_)
            | CacheCommandError::NoExpiry
            | CacheCommandError::UnknownSource { .. }
            | CacheCommandError::Cache(CacheError::SourceName { .. }) => 2,
            CacheCommandError::Cache(_)
            | CacheCommandError::CurrentDir { .. }
            | CacheCommandError::NoCache { .. } => 1,
        }
    }
}

pub fn run(opts: &Options, shell: &Shell) -> Result<(), CacheCommandError> {
    let (config, plan_sources) = match &opts.plan {
        Some(path) => {
            let (config, sources) = load_cache_config(path, opts, shell)?;
            (Some(config), sources)
        }
        None => (None, Vec::new()),
    };
    let root = match (&opts.dir, &config) {
        (Some(d), _) => absolute(d)?,
        (None, Some(c)) => c.dir.clone(),
        (None, None) => absolute(Path::new(DEFAULT_CACHE_DIR))?,
    };
    let expiry = config.as_ref().map(Expiry::from_config);
    let shown = root.display();
    // A cache that is not there has nothing to show, clear or prune: most likely the wrong
    // directory (a typo in --dir, another working directory) rather than an empty cache.
    if !root.is_dir() {
        return Err(CacheCommandError::NoCache {
            dir: shown.to_string(),
        });
    }
    match &opts.action {
        Action::Stats => {
            let stats = dir::stats(&root, expiry.as_ref(), SystemTime::now())?;
            if shell.is_json() {
                shell.event(&Event::CacheStats {
                    dir: shown.to_string(),
                    sources: serde_json::to_value(&stats).unwrap_or_default(),
                });
            } else if stats.is_empty() {
                shell.note(format!("the cache at {shown} is empty"));
            } else {
                shell.status("Cache", &shown);
                shell.out_text(&table(&stats));
            }
        }
        Action::Clear { source } => {
            if let Some(name) = source {
                check_known_source(name, &root, &plan_sources)?;
            }
            let removed = dir::clear(&root, source.as_deref())?;
            let whose = match source {
                Some(s) => format!(" of source `{s}`"),
                None => String::new(),
            };
            shell.status(
                "Cleared",
                format!("{}{whose} from {shown}", files(removed, "entry", "entries")),
            );
            shell.event(&Event::CacheCleared {
                dir: shown.to_string(),
                source: source.clone(),
                removed,
            });
        }
        Action::Prune { older_than } => {
            let expiry = match (older_than, expiry) {
                (Some(age), _) => Expiry::uniform(*age),
                (None, Some(e)) => e,
                (None, None) => return Err(CacheCommandError::NoExpiry),
            };
            let p = dir::prune(&root, &expiry, SystemTime::now())?;
            shell.status(
                "Pruned",
                format!(
                    "{}, {}, {} from {shown}",
                    files(p.expired, "expired entry", "expired entries"),
                    files(p.damaged, "damaged file", "damaged files"),
                    files(
                        p.temp,
                        "leftover temporary file",
                        "leftover temporary files"
                    ),
                ),
            );
            shell.event(&Event::CachePruned {
                dir: shown.to_string(),
                expired: p.expired,
                damaged: p.damaged,
                temp: p.temp,
            });
        }
    }
    Ok(())
}

/// `--source NAME` must name a source that the cache holds or the plan defines: clearing a
/// misspelt one would remove nothing and say so as if it had done its job.
fn check_known_source(
    name: &str,
    root: &Path,
    plan_sources: &[String],
) -> Result<(), CacheCommandError> {
    crate::sources::cache::check_source_name(name)?;
    let mut known = dir::sources(root)?;
    known.extend(plan_sources.iter().cloned());
    known.sort();
    known.dedup();
    if known.iter().any(|k| k == name) {
        return Ok(());
    }
    let held = if known.is_empty() {
        "it holds no source".to_owned()
    } else {
        format!("the sources are {}", plan::suggest::all_of(&known))
    };
    let help = match plan::suggest::closest(name, &known) {
        Some(close) => format!("did you mean `{close}`? {held}"),
        None => held,
    };
    Err(CacheCommandError::UnknownSource {
        source_name: name.to_owned(),
        dir: root.display().to_string(),
        help,
    })
}

/// The plan's `[cache]` and its sources' names. Only its warnings about what this command
/// uses are shown: an unset API key matters to a run, not to looking into the cache.
fn load_cache_config(
    path: &Path,
    opts: &Options,
    shell: &Shell,
) -> Result<(CacheConfig, Vec<String>), PlanErrors> {
    let loaded = plan::load(&LoadOptions {
        path: path.to_path_buf(),
        sets: opts.sets.clone(),
        env: opts.env.clone(),
    })?;
    let relevant: Vec<PlanDiagnostic> = loaded
        .warnings
        .into_iter()
        .filter(|d| d.code != Code::UnsetVariable)
        .collect();
    super::validate::print_diagnostics(shell, &relevant);
    let sources = loaded.plan.sources.keys().cloned().collect();
    Ok((loaded.plan.cache, sources))
}

fn absolute(path: &Path) -> Result<PathBuf, CacheCommandError> {
    std::path::absolute(path).map_err(|e| CacheCommandError::CurrentDir {
        reason: e.to_string(),
    })
}

/// "3 entries (12.0 KiB)".
fn files(r: Removed, one: &str, many: &str) -> String {
    let noun = if r.files == 1 { one } else { many };
    format!("{} {noun} ({})", r.files, human_size(r.bytes))
}

/// The `stats` table, one row a source.
fn table(stats: &[SourceStats]) -> String {
    let header = [
        "source", "entries", "negative", "expired", "on disk", "bodies", "damaged", "oldest",
        "newest",
    ];
    let rows: Vec<[String; 9]> = stats
        .iter()
        .map(|s| {
            let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".to_string(), |t| {
                    t.format("%Y-%m-%d %H:%M UTC").to_string()
                })
            };
            [
                s.source.clone(),
                s.entries.to_string(),
                s.negative.to_string(),
                s.expired.map_or("-".to_string(), |n| n.to_string()),
                human_size(s.bytes),
                human_size(s.body_bytes),
                s.damaged.to_string(),
                when(s.oldest),
                when(s.newest),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| match i {
                // Names and dates left, numbers right.
                0 | 7 | 8 => format!("{c:<w$}"),
                _ => format!("{c:>w$}"),
            })
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_columns() {
        let s = SourceStats {
            source: "tmdb".into(),
            entries: 1200,
            bytes: 3 << 20,
            ..SourceStats::default()
        };
        let t = table(&[s]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("source  entries  negative  expired"));
        assert!(lines[1].starts_with("tmdb       1200         0        -"));
        assert!(lines[1].contains("3.0 MiB"));
    }
}
