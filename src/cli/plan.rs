//! `popctl plan show PLAN`

use std::process::ExitCode;

use crate::ops::show::{self, Options};
use crate::report::Shell;

/// Work with plan files.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(subcommand)]
    pub command: PlanCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PlanCommand {
    /// Print the fully resolved plan (layers merged, variables expanded, defaults filled in)
    /// with secrets masked.
    Show {
        #[command(flatten)]
        plan: super::plan_arg::PlanArg,
        /// Override a key, like `--set stages.popular.pages=2` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
}

pub fn exec(args: PlanArgs, shell: &Shell) -> ExitCode {
    match args.command {
        PlanCommand::Show { plan, sets } => {
            let opts = Options {
                plan: plan.path(),
                sets,
                env: super::env_snapshot(),
            };
            super::plan_result(show::run(&opts, shell), shell)
        }
    }
}
