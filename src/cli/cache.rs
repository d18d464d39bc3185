//! `popctl cache stats | clear [--source S] | prune`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::ops::cache::{self, Action, Options};
use crate::report::Shell;

/// Look into or empty the cache of raw TMDB/OMDb answers (`reset` never touches it).
#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,
    #[command(flatten)]
    pub place: Place,
}

#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// Entries, sizes and ages per source
    Stats {
        #[command(flatten)]
        plan: PlanPath,
        /// The flag `--message-format json` replaced, kept for scripts that use it
        #[arg(long, hide = true)]
        json: bool,
    },
    /// Remove every entry, or those of one source
    Clear {
        #[command(flatten)]
        plan: PlanPath,
        /// Only this source (its name in the plan, like `omdb`)
        #[arg(long, value_name = "SOURCE")]
        source: Option<String>,
    },
    /// Remove expired entries, damaged files and leftovers of interrupted writes
    Prune {
        #[command(flatten)]
        plan: PlanPath,
        /// Expire everything older than this (`12h`, `7d`) instead of the plan's TTLs
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: Option<std::time::Duration>,
    },
}

/// The plan as a positional argument of the action: `popctl cache stats plans/dev-200.toml`.
#[derive(Debug, Args)]
pub struct PlanPath {
    /// A plan whose `[cache]` gives the directory and the TTLs (the same as --plan PLAN)
    #[arg(value_name = "PLAN", id = "plan_path")]
    pub path: Option<PathBuf>,
}

/// Which cache: `--dir`, else the plan's `[cache] dir`, else `.popctl/cache`.
#[derive(Debug, Args)]
pub struct Place {
    /// A plan whose `[cache]` gives the directory and the TTLs
    #[arg(long, global = true, value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// The cache directory (wins over the plan's)
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Override a plan key, like `--set cache.dir=/tmp/cache` (repeatable)
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    crate::plan::units::parse_duration(text).map_err(|e| e.to_string())
}

impl CacheArgs {
    /// `cache stats --json`, the old spelling of `--message-format json`.
    pub fn asks_json(&self) -> bool {
        matches!(self.action, CacheAction::Stats { json: true, .. })
    }
}

pub fn exec(args: CacheArgs, shell: &Shell) -> ExitCode {
    let (action, plan) = match args.action {
        CacheAction::Stats { plan, .. } => (Action::Stats, plan),
        CacheAction::Clear { source, plan } => (Action::Clear { source }, plan),
        CacheAction::Prune { older_than, plan } => (Action::Prune { older_than }, plan),
    };
    // `--plan` is global to the cache commands, PLAN belongs to each: clap cannot tie the two.
    let plan = match (args.place.plan, plan.path) {
        (Some(a), Some(b)) if a != b => {
            shell.error(format!(
                "two plans given ({} and --plan {}): give one",
                b.display(),
                a.display()
            ));
            return ExitCode::from(2);
        }
        (a, b) => a.or(b),
    };
    let opts = Options {
        plan,
        sets: args.place.sets,
        env: super::env_snapshot(),
        dir: args.place.dir,
        action,
    };
    match cache::run(&opts, shell) {
        Ok(()) => ExitCode::SUCCESS,
        Err(cache::CacheCommandError::Plan(errors)) => super::plan_result(Err(errors), shell),
        Err(e) => {
            let code = e.exit_code();
            shell.failure(e);
            ExitCode::from(code)
        }
    }
}
