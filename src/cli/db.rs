//! `popctl db migrate | status | reset | digest`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::validate::FormatArg;
use crate::ops::db::{Action, Options, plan_database, run};
use crate::plan::ResetScope;
use crate::report::Shell;

#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub action: DbAction,
}

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Apply pending migrations
    Migrate(DbTarget),
    /// Show the migrations and the row counts of the main tables
    Status(DbTarget),
    /// Drop popctl's tables and recreate them, in place (local databases only)
    Reset {
        #[command(flatten)]
        target: DbTarget,
        /// Reset even a database that is not on this machine
        #[arg(long)]
        allow_remote: bool,
        /// `popctl`: only the tables popctl created; `database`: every table
        #[arg(long, value_name = "SCOPE", default_value = "popctl", value_parser = parse_scope)]
        scope: ResetScope,
    },
    /// Print each table's row count and a hash of its rows by natural keys (never surrogate
    /// ids or timestamps), then the digest of the whole database: two databases with the same
    /// digest hold the same data
    Digest {
        #[command(flatten)]
        target: DbTarget,
        /// The flag `--message-format` replaced (`--format json` is `--message-format
        /// json`), kept for scripts that use it
        #[arg(long, value_enum, default_value = "human", hide = true)]
        format: FormatArg,
    },
}

/// Which database: `--url` (or `DATABASE_URL`), or the one a plan writes to.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("plan_given").args(["plan", "plan_path"]))]
pub struct DbTarget {
    /// The database of this plan (its `[database] url`), the same as --plan PLAN
    #[arg(value_name = "PLAN", id = "plan_path", conflicts_with = "plan")]
    pub plan_path: Option<PathBuf>,
    /// sqlite://file.db, sqlite::memory: or postgres://user@host/db
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub url: Option<String>,
    /// The database of this plan (its `[database] url`); wins over --url and DATABASE_URL
    #[arg(long, value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// With a plan: override a plan key, like `--set database.url=sqlite://x.db` (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "plan_given")]
    pub sets: Vec<String>,
}

impl DbTarget {
    /// The database URL, and the plan's name when a plan gave it; `Err` is the exit code
    /// after the problem was printed.
    pub fn resolve(self, shell: &Shell) -> Result<(String, Option<String>), ExitCode> {
        if let Some(plan) = self.plan.as_ref().or(self.plan_path.as_ref()) {
            return match plan_database(plan, &self.sets, &super::env_snapshot()) {
                Ok((url, name)) => Ok((url, Some(name))),
                Err(errors) => {
                    crate::ops::validate::print_plan_errors(shell, &errors);
                    Err(ExitCode::from(2))
                }
            };
        }
        match self.url {
            Some(url) => Ok((url, None)),
            None => {
                shell
                    .error("which database? pass --url URL, set DATABASE_URL, or name a plan (PLAN or --plan PLAN)");
                Err(ExitCode::from(2))
            }
        }
    }
}

impl DbArgs {
    /// `db digest --format json`, the old spelling of `--message-format json`.
    pub fn asks_json(&self) -> bool {
        matches!(
            self.action,
            DbAction::Digest {
                format: FormatArg::Json,
                ..
            }
        )
    }
}

pub fn exec(args: DbArgs, shell: &Shell) -> ExitCode {
    let (target, action) = match args.action {
        DbAction::Migrate(t) => (t, Action::Migrate),
        DbAction::Status(t) => (t, Action::Status),
        DbAction::Reset {
            target,
            allow_remote,
            scope,
        } => (
            target,
            Action::Reset {
                allow_remote,
                scope,
            },
        ),
        DbAction::Digest { target, .. } => (target, Action::Digest),
    };
    let url = match target.resolve(shell) {
        Ok((url, _)) => url,
        Err(code) => return code,
    };
    let options = Options { url, action };
    super::block_on(shell, run(&options, shell))
}

fn parse_scope(s: &str) -> Result<ResetScope, String> {
    ResetScope::from_word(s).ok_or_else(|| {
        format!(
            "`{s}` is not a reset scope; use one of: {}",
            ResetScope::words().join(", ")
        )
    })
}
