//! The command line: clap definitions and a short `exec` per verb that calls into `ops`.
//!
//! Exit codes: 0 done, 1 failed, 2 invalid plan or usage, 3 finished partially.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::plan::PlanErrors;
use crate::report::logging::{self, LogFormat};
use crate::report::{ColorChoice, MessageFormat, Shell, Verbosity};

pub mod cache;
pub mod completions;
pub mod db;
pub mod graph;
pub mod man;
pub mod plan;
pub mod plan_arg;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod schema;
pub mod status;
pub mod validate;
pub mod worker;

#[derive(Debug, Parser)]
#[command(
    name = "popctl",
    version,
    about = "Drop and repopulate a movie database from TMDB and OMDb, following a TOML plan"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every command takes, before or after its name.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Colour on stderr: `auto` (on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces
    /// it), `always` or `never`
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value = "auto"
    )]
    pub color: ColorArg,
    /// More log lines: `-v` popctl's informational ones, `-vv` debug, `-vvv` trace (without
    /// -v or -q, POPCTL_LOG or RUST_LOG set the filter; the default shows warnings)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Say less: no status lines, notes, progress or run table; log lines for errors only.
    /// Warnings about the outcome, errors and data on stdout still show
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// `human`, or `json`: one JSON object per line on stdout (each with a `reason`, see
    /// docs/messages.md), log lines as JSON on stderr, no tables, bars or colour
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "FMT",
        default_value = "human"
    )]
    pub message_format: MessageFormatArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormatArg {
    Human,
    Json,
}

impl GlobalArgs {
    /// -1 with `-q`, else the number of `-v`s.
    fn level(&self) -> i8 {
        if self.quiet {
            -1
        } else {
            i8::try_from(self.verbose).unwrap_or(i8::MAX)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

impl From<ColorArg> for ColorChoice {
    fn from(arg: ColorArg) -> ColorChoice {
        match arg {
            ColorArg::Auto => ColorChoice::Auto,
            ColorArg::Always => ColorChoice::Always,
            ColorArg::Never => ColorChoice::Never,
        }
    }
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
    Worker(worker::WorkerArgs),
    Report(report::ReportArgs),
    Completions(completions::CompletionsArgs),
    Man(man::ManArgs),
}

pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    // clap draws its own help and usage errors before `--color` is parsed; an explicit
    // `--color` is looked up first so they follow it too (`auto` is clap's own default).
    let mut command = Cli::command();
    match early_color(&args) {
        Some(ColorArg::Always) => command = command.color(clap::ColorChoice::Always),
        Some(ColorArg::Never) => command = command.color(clap::ColorChoice::Never),
        Some(ColorArg::Auto) | None => {}
    }
    let matches = command.get_matches_from(&args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let json = cli.global.message_format == MessageFormatArg::Json
        || cli.command.as_ref().is_some_and(Command::asks_json);
    let color = ColorChoice::from(cli.global.color).for_stderr() && !json;
    install_diagnostic_handler(color);
    let level = cli.global.level();
    let shell = Shell::stdio(
        if level < 0 {
            Verbosity::Quiet
        } else {
            Verbosity::Normal
        },
        color,
    )
    .with_format(if json {
        MessageFormat::Json
    } else {
        MessageFormat::Human
    });
    let filter = logging::filter_for(
        level,
        std::env::var("POPCTL_LOG")
            .or_else(|_| std::env::var("RUST_LOG"))
            .ok(),
    );
    // `run` installs the logger itself, around its progress bars.
    if !matches!(cli.command, Some(Command::Run(_))) {
        logging::init(log_format(&shell), filter.as_deref(), color, None);
    }
    match cli.command {
        Some(Command::Validate(args)) => validate::exec(args, &shell),
        Some(Command::Graph(args)) => graph::exec(args, &shell),
        Some(Command::Schema(args)) => schema::exec(args, &shell),
        Some(Command::Plan(args)) => plan::exec(args, &shell),
        Some(Command::Sandbox(args)) => sandbox::exec(args, &shell),
        Some(Command::Db(args)) => db::exec(args, &shell),
        Some(Command::Cache(args)) => cache::exec(args, &shell),
        Some(Command::Run(args)) => run::exec(args, &shell, filter.as_deref()),
        Some(Command::Status(args)) => status::exec(args, &shell),
        Some(Command::Worker(args)) => worker::exec(args, &shell),
        Some(Command::Report(args)) => report::exec(args, &shell),
        Some(Command::Completions(args)) => completions::exec(args, &shell),
        Some(Command::Man(args)) => man::exec(args, &shell),
        None => {
            // No verb: show what exists rather than failing silently (as an `error` message
            // with JSON, where help text would break the stream).
            if shell.is_json() {
                shell.error("no command given: `popctl --help` lists them");
            } else {
                let _ = Cli::command().print_help();
            }
            ExitCode::from(2)
        }
    }
}

impl Command {
    /// One of the flags `--message-format json` replaced, kept hidden so that scripts
    /// written for them still work: `validate`'s and `db digest`'s `--format json`, `cache
    /// stats --json`, `run --log-format json`.
    fn asks_json(&self) -> bool {
        match self {
            Command::Validate(args) => args.format == validate::FormatArg::Json,
            Command::Db(args) => args.asks_json(),
            Command::Cache(args) => args.asks_json(),
            Command::Run(args) => args.log_format == run::LogFormatArg::Json,
            _ => false,
        }
    }
}

/// Log lines follow the message format: JSON on stderr beside JSON messages on stdout.
fn log_format(shell: &Shell) -> LogFormat {
    if shell.is_json() {
        LogFormat::Json
    } else {
        LogFormat::Text
    }
}

/// The value of the last `--color WHEN` / `--color=WHEN` before a `--`, if it is a valid one.
fn early_color(args: &[OsString]) -> Option<ColorArg> {
    let mut found = None;
    let mut words = args.iter().skip(1).map(|a| a.to_str());
    while let Some(word) = words.next() {
        let value = match word {
            Some("--") => break,
            Some("--color") => words.next().flatten(),
            Some(w) => w.strip_prefix("--color="),
            None => None,
        };
        if let Some(v) = value.and_then(|v| ColorArg::from_str(v, false).ok()) {
            found = Some(v);
        }
    }
    found
}

/// Every error a command reports through miette (`{:?}` of a `miette::Report`) is drawn as
/// plan diagnostics are: colour as decided, no mid-word wrapping.
fn install_diagnostic_handler(color: bool) {
    let style = if color {
        crate::plan::RenderStyle::Color
    } else {
        crate::plan::RenderStyle::Plain
    };
    // Set once per process; a second call (there is none outside tests) changes nothing.
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(crate::plan::error::handler(style))
    }));
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
            shell.failure(e);
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
            crate::ops::validate::print_plan_errors(shell, &errors);
            ExitCode::from(2)
        }
    }
}

/// Ctrl-C, or SIGTERM where there is one (a service manager, `kill`, `docker stop`).
async fn stop_signal() {
    StopSignals::new().next().await;
}

/// Ctrl-C and SIGTERM as they come, listened to from creation on: a second signal right after
/// the first is not missed (a listener made after a signal came does not see it).
pub(crate) struct StopSignals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    pub(crate) fn new() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(int), Ok(term)) => Some((int, term)),
                _ => None,
            };
            StopSignals { unix }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// The next Ctrl-C or SIGTERM.
    pub(crate) async fn next(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.unix {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
