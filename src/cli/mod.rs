//! The command line: clap definitions and a short `exec` per verb that calls into `ops`.
//!
//! Exit codes: 0 done, 1 failed, 2 invalid plan or usage, 3 finished partially.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::plan::PlanErrors;
use crate::report::{Shell, Verbosity};

pub mod cache;
pub mod db;
pub mod graph;
pub mod plan;
pub mod sandbox;
pub mod schema;
pub mod validate;

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
    Validate(validate::ValidateArgs),
    Graph(graph::GraphArgs),
    Schema(schema::SchemaArgs),
    Plan(plan::PlanArgs),
    /// Run the built-in TMDB/OMDb simulator.
    Sandbox(sandbox::SandboxArgs),
    /// Work on the database schema by hand: migrate, status, reset
    Db(db::DbArgs),
    Cache(cache::CacheArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let shell = Shell::stdio(Verbosity::Normal);
    match cli.command {
        Some(Command::Validate(args)) => validate::exec(args, &shell),
        Some(Command::Graph(args)) => graph::exec(args, &shell),
        Some(Command::Schema(args)) => schema::exec(args, &shell),
        Some(Command::Plan(args)) => plan::exec(args, &shell),
        Some(Command::Sandbox(args)) => sandbox::exec(args),
        Some(Command::Db(args)) => db::exec(args),
        Some(Command::Cache(args)) => cache::exec(args, &shell),
        None => {
            // No verb: show what exists rather than failing silently.
            let _ = Cli::command().print_help();
            ExitCode::from(2)
        }
    }
}

/// The process environment for plan loading (overrides and `${VAR}` values). Variables whose
/// name or value is not UTF-8 cannot be plan values and are skipped rather than panicking.
fn env_snapshot() -> std::collections::BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Exit code 0, or 2 after printing every problem of an invalid plan.
fn plan_result(result: Result<(), PlanErrors>, shell: &Shell) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(errors) => {
            crate::ops::validate::print_diagnostics(shell, &errors.diagnostics);
            shell.error(errors.summary());
            ExitCode::from(2)
        }
    }
}
