//! `popctl sandbox serve`: the TMDB/OMDb simulator on its own, for trying popctl without API
//! keys or pointing other tools at it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::ops::sandbox::{self, Options};
use crate::report::Shell;
use crate::sim::SimError;

#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub command: SandboxCommand,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve a simulated TMDB (under /3) and OMDb (at /) on 127.0.0.1 until Ctrl-C, after
    /// printing on stdout the `export` lines that point plans at it.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1; 0 picks a free one [default: the config's `port`, else 8787]
    #[arg(long)]
    pub port: Option<u16>,
    /// Sandbox settings: catalog, keys, rate limits, quota, faults, latency
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seed of the generated catalog (same seed, same bodies)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of movies in the catalog
    #[arg(long)]
    pub movies: Option<u32>,
    /// Print the `export` lines that point plans at this sandbox (as serving does on stdout)
    /// and exit without serving: `eval "$(popctl sandbox serve --print-env)"`
    #[arg(long)]
    pub print_env: bool,
}

pub fn exec(args: SandboxArgs, shell: &Shell) -> ExitCode {
    let SandboxCommand::Serve(args) = args.command;
    let shell = shell.clone();
    let options = Options {
        config: args.config,
        port: args.port,
        seed: args.seed,
        movies: args.movies,
    };
    if args.print_env {
        return match sandbox::print_env(&options, &shell) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                shell.failure(e);
                ExitCode::from(2)
            }
        };
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            shell.error(format!("cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(sandbox::serve(&options, &shell, super::stop_signal())) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match e {
                SimError::ReadConfig { .. }
                | SimError::Config(_)
                | SimError::InvalidSetting { .. } => 2,
                SimError::Bind { .. } | SimError::Internal { .. } => 1,
            };
            shell.failure(e);
            ExitCode::from(code)
        }
    }
}
