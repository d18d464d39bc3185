//! The command line: clap definitions and a short `exec` per verb that calls into `ops`.
//!
//! Exit codes: 0 done, 1 failed, 2 invalid plan or usage, 3 finished partially.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub mod db;

#[derive(Debug, Parser)]
#[command(
    name = "popctl",
    version,
    about = "Drop and repopulate a movie database from TMDB and OMDb, following a TOML plan"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The verbs. Each one is a file in `cli/` that fills an `ops` options struct.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work on the database schema by hand: migrate, status, reset
    Db(db::DbArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(command) => match command {
            Command::Db(args) => db::exec(args),
        },
        None => {
            // No verb yet: show what exists rather than failing silently.
            let _ = Cli::command().print_help();
            ExitCode::from(2)
        }
    }
}
