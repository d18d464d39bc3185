//! `popctl status`

use std::process::ExitCode;

use crate::ops::status::{Options, run};
use crate::report::Shell;

use super::db::DbTarget;

/// Show the recent runs recorded in a database, how each ended, and for the newest one (or
/// --run ID) the worker processes that shared it and its failed items with their errors.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: DbTarget,
    /// Runs to show, newest first
    #[arg(long, default_value_t = 10)]
    pub limit: u64,
    /// Show the workers and failed items of this run
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,
    /// Failed items to show at most
    #[arg(long, default_value_t = 50)]
    pub max_failed: usize,
}

pub fn exec(args: StatusArgs, shell: &Shell) -> ExitCode {
    let (url, plan) = match args.target.resolve(shell) {
        Ok(resolved) => resolved,
        Err(code) => return code,
    };
    let options = Options {
        url,
        plan,
        limit: args.limit,
        run: args.run,
        max_failed: args.max_failed,
    };
    super::block_on(shell, run(&options, shell))
}
