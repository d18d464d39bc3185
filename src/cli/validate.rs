//! `popctl validate PLAN...`

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::validate::{self, Format, Options};
use crate::report::Shell;

/// Check plans without running them: every problem at once, the stage order and the request
/// budget. Exit code 0 when valid (warnings allowed), 2 when not.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Plan files.
    #[arg(required = true, value_name = "PLAN")]
    pub plans: Vec<PathBuf>,
    /// Override a key, like `--set stages.popular.pages=2` (repeatable; applied last).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// `human` (labelled snippets) or `json` (for editors and CI).
    #[arg(long, value_enum, default_value = "human")]
    pub format: FormatArg,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    Human,
    Json,
}

pub fn exec(args: ValidateArgs, shell: &Shell) -> ExitCode {
    let opts = Options {
        plans: args.plans,
        sets: args.sets,
        env: super::env_snapshot(),
        format: match args.format {
            FormatArg::Human => Format::Human,
            FormatArg::Json => Format::Json,
        },
        deny_warnings: args.deny_warnings,
    };
    if validate::run(&opts, shell).ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
