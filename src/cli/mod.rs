//! The command line: clap definitions and a short `exec` per verb that calls into `ops`.
//!
//! Exit codes: 0 done, 1 failed, 2 invalid plan or usage, 3 finished partially.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "popctl",
    version,
    about = "Drop and repopulate a movie database from TMDB and OMDb, following a TOML plan"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {}
}
