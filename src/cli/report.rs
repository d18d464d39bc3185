//! `popctl report RUN`

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::report::{Options, run};
use crate::report::Shell;

use super::db::DbTarget;

/// Show the report of a finished run from the database's ledger: the table `run` printed, or
/// with --html one self-contained page with charts
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The run's number, as `popctl status` lists it
    #[arg(value_name = "RUN")]
    pub run: i64,
    #[command(flatten)]
    pub target: DbTarget,
    /// Write the report as one self-contained HTML page with charts to FILE
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

pub fn exec(args: ReportArgs, shell: &Shell) -> ExitCode {
    let (url, _) = match args.target.resolve(shell) {
        Ok(resolved) => resolved,
        Err(code) => return code,
    };
    let options = Options {
        url,
        run: args.run,
        html: args.html,
    };
    super::block_on(shell, run(&options, shell))
}
