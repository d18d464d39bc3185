//! `popctl validate PLAN...`

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::validate::{self, Level, Options};
use crate::plan::Code;
use crate::report::Shell;

/// Check plans without running them: every problem at once, the stage order and the request
/// budget. Exit code 0 when valid (warnings allowed), 2 when not.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Plan files.
    #[arg(value_name = "PLAN", required_unless_present = "plan_flags")]
    pub plans: Vec<PathBuf>,
    /// A plan file, like PLAN (repeatable; checked after the PLAN arguments)
    #[arg(long = "plan", id = "plan_flags", value_name = "PLAN")]
    pub plan_flags: Vec<PathBuf>,
    /// Override a key, like `--set stages.popular.pages=2` (repeatable; applied last).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// The flag `--message-format` replaced (`--format json` is `--message-format json`),
    /// kept for scripts that use it
    #[arg(long, value_enum, default_value = "human", hide = true)]
    pub format: FormatArg,
    /// Treat warnings as errors (but those of codes given to --allow or --warn).
    #[arg(long)]
    pub deny_warnings: bool,
    /// Do not report warnings of this code, like `unset_variable` or
    /// `popctl::plan::literal_api_key` (repeatable)
    #[arg(long, value_name = "CODE", value_parser = parse_code)]
    pub allow: Vec<Code>,
    /// Report warnings of this code even where they are left out by default: `--warn
    /// unset_variable` also warns about unset API-key variables (repeatable)
    #[arg(long, value_name = "CODE", value_parser = parse_code)]
    pub warn: Vec<Code>,
    /// Make warnings of this code errors (repeatable)
    #[arg(long, value_name = "CODE", value_parser = parse_code)]
    pub deny: Vec<Code>,
}

/// A diagnostic code, in full or by its last part; a typo gets the closest code.
fn parse_code(text: &str) -> Result<Code, String> {
    Code::parse(text).ok_or_else(|| {
        let short: Vec<&str> = Code::ALL.iter().map(|c| c.short()).collect();
        let name = text.rsplit("::").next().unwrap_or(text);
        match crate::plan::suggest::closest(name, &short) {
            Some(close) => format!("no diagnostic code `{text}`: did you mean `{close}`?"),
            None => format!(
                "no diagnostic code `{text}`; the codes are listed in docs/plans.md, like \
                 `unset_variable` or `popctl::plan::quota`"
            ),
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Human,
    Json,
}

pub fn exec(args: ValidateArgs, shell: &Shell) -> ExitCode {
    let mut levels: Vec<(Code, Level)> = Vec::new();
    for (codes, level, flag) in [
        (&args.allow, Level::Allow, "--allow"),
        (&args.warn, Level::Warn, "--warn"),
        (&args.deny, Level::Deny, "--deny"),
    ] {
        for &code in codes {
            if let Some((_, other)) = levels.iter().find(|(c, l)| *c == code && *l != level) {
                let other = match other {
                    Level::Allow => "--allow",
                    Level::Warn => "--warn",
                    Level::Deny => "--deny",
                };
                shell.error(format!(
                    "`{}` is given to both {other} and {flag}: give it one level",
                    code.short()
                ));
                return ExitCode::from(2);
            }
            levels.push((code, level));
        }
    }
    let opts = Options {
        plans: args.plans.into_iter().chain(args.plan_flags).collect(),
        sets: args.sets,
        env: super::env_snapshot(),
        deny_warnings: args.deny_warnings,
        levels,
    };
    if validate::run(&opts, shell).ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
