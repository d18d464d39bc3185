//! `popctl graph PLAN --format dot|mermaid`

use std::process::ExitCode;

use crate::ops::graph::{self, Format, Options};
use crate::report::Shell;

/// Print the stage graph of a plan: `popctl graph plans/dev-200.toml | dot -Tsvg > plan.svg`.
#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub plan: super::plan_arg::PlanArg,
    #[arg(long, value_enum, default_value = "dot")]
    pub format: FormatArg,
    /// Override a key, like `--set stages.popular.pages=2` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    Dot,
    Mermaid,
}

pub fn exec(args: GraphArgs, shell: &Shell) -> ExitCode {
    let opts = Options {
        plan: args.plan.path(),
        sets: args.sets,
        env: super::env_snapshot(),
        format: match args.format {
            FormatArg::Dot => Format::Dot,
            FormatArg::Mermaid => Format::Mermaid,
        },
    };
    match graph::run(&opts, shell) {
        Ok(()) => ExitCode::SUCCESS,
        Err(graph::GraphError::Plan(errors)) => super::plan_result(Err(errors), shell),
        Err(e) => {
            shell.failure(e);
            ExitCode::from(2)
        }
    }
}
