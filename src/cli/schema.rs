//! `popctl schema`

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::schema::{self, Options};
use crate::report::Shell;

/// Print the JSON Schema of plan files, for Taplo / Even Better TOML (see docs/plans.md).
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

pub fn exec(args: SchemaArgs, shell: &Shell) -> ExitCode {
    match schema::run(
        &Options {
            output: args.output,
        },
        shell,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            shell.error(e);
            ExitCode::FAILURE
        }
    }
}
