//! `popctl db migrate | status | reset`.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::ops::db::{Action, Options, run};
use crate::report::{Shell, Verbosity};

#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub action: DbAction,
}

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Apply pending migrations
    Migrate(UrlArg),
    /// Show the migrations and the row counts of the main tables
    Status(UrlArg),
    /// Drop every table and recreate the schema (local databases only)
    Reset {
        #[command(flatten)]
        url: UrlArg,
        /// Reset even a database that is not on this machine
        #[arg(long)]
        allow_remote: bool,
    },
}

#[derive(Debug, Args)]
pub struct UrlArg {
    /// sqlite://file.db, sqlite::memory: or postgres://user@host/db
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub url: String,
}

pub fn exec(args: DbArgs) -> ExitCode {
    let shell = Shell::stdio(Verbosity::Normal);
    let (url, action) = match args.action {
        DbAction::Migrate(u) => (u.url, Action::Migrate),
        DbAction::Status(u) => (u.url, Action::Status),
        DbAction::Reset { url, allow_remote } => (url.url, Action::Reset { allow_remote }),
    };
    let options = Options { url, action };
    let outcome = tokio::runtime::Runtime::new()
        .map_err(|e| e.to_string())
        .map(|rt| rt.block_on(run(&options, &shell)));
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            shell.err_text(&format!("{:?}\n", miette::Report::new(e)));
            ExitCode::from(1)
        }
        Err(e) => {
            shell.error(format!("cannot start the async runtime: {e}"));
            ExitCode::from(1)
        }
    }
}
