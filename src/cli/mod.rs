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
pub mod run;
pub mod sandbox;
pub mod schema;
pub mod status;
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
    /// Work on the database by hand: migrate, status, reset, digest
    Db(db::DbArgs),
    Cache(cache::CacheArgs),
    Run(run::RunArgs),
    Status(status::StatusArgs),
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
        Some(Command::Run(args)) => run::exec(args),
        Some(Command::Status(args)) => status::exec(args),
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

/// Runs `work` on a new runtime: exit code 0, or 1 after printing its error.
fn block_on<E: miette::Diagnostic + Send + Sync + 'static>(
    shell: &Shell,
    work: impl std::future::Future<Output = Result<(), E>>,
) -> ExitCode {
    let outcome = tokio::runtime::Runtime::new()
        .map_err(|e| e.to_string())
        .map(|rt| rt.block_on(work));
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

/// Ctrl-C, or SIGTERM where there is one (a service manager, `kill`, `docker stop`).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
