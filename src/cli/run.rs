//! `popctl run PLAN`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::ops::run::{self, Options, Outcome, RunError};
use crate::plan::CacheMode;
use crate::report::Shell;
use crate::report::logging::{self, LogFormat};
use crate::report::progress::{Progress, ProgressMode};

/// Run a plan: its stages as a DAG, against TMDB and OMDb (or the built-in sandbox), into the
/// plan's database. Exit codes: 0 all done, 1 failed, 2 invalid plan or usage, 3 finished
/// partially (a spent quota, failed items, Ctrl-C): `--resume` goes on from there.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub plan: super::plan_arg::PlanArg,
    /// Start the TMDB/OMDb simulator in-process and point every source at it (no API keys,
    /// no network)
    #[arg(long)]
    pub sandbox: bool,
    /// Continue the last unfinished run of this plan: finished stages and items are not redone
    #[arg(long)]
    pub resume: bool,
    /// With --resume: continue even though the plan changed since that run started
    #[arg(long, requires = "resume")]
    pub force: bool,
    /// Run only this stage (repeatable); the others count as done
    #[arg(long, value_name = "STAGE", conflicts_with = "from")]
    pub only: Vec<String>,
    /// Run this stage and every stage downstream of it
    #[arg(long, value_name = "STAGE")]
    pub from: Option<String>,
    /// Print the stages in order with the requests each will make and the time the rates
    /// imply; touch nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Override a key, like `--set stages.popular.pages=2` (repeatable; applied last)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Also write the report as JSON to FILE
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page with charts to FILE (stage
    /// timeline, requests per second against the rate, items, slowest and failed items, cache)
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
    /// Answer only from the response cache, never asking the APIs (cache mode `read-only`)
    #[arg(long, conflicts_with = "cache")]
    pub offline: bool,
    /// The response cache's mode for this run, instead of the plan's `[cache] mode`
    #[arg(long, value_enum, value_name = "MODE")]
    pub cache: Option<CacheArg>,
    #[command(flatten)]
    pub workers: WorkerArgs,
    /// The flag `--message-format` replaced (`--log-format json` is `--message-format json`),
    /// kept for scripts that use it
    #[arg(long, value_enum, default_value = "text", hide = true)]
    pub log_format: LogFormatArg,
}

/// Sharing a run with worker processes (PostgreSQL only; see docs/run.md).
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Start N `popctl worker` processes beside this run; they and this process share the
    /// movies of the fetch stages (implies --share)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub workers: usize,
    /// Open the run's fetch stages to `popctl worker` processes started elsewhere
    #[arg(long)]
    pub share: bool,
    /// A local address the started workers' requests leave from (repeatable; handed out in
    /// turn), e.g. one per address an upstream limits separately
    #[arg(long, value_name = "IP", requires = "workers")]
    pub worker_address: Vec<std::net::IpAddr>,
    /// The local address this process's upstream requests leave from
    #[arg(long, value_name = "IP")]
    pub local_address: Option<std::net::IpAddr>,
    /// How long a worker's claimed item stays its without a heartbeat (it beats every third
    /// of it); after that, another worker takes it over
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = lease)]
    pub lease: Duration,
}

/// A lease: a duration of at least a second (a heartbeat every third of it).
pub fn lease(text: &str) -> Result<Duration, String> {
    let d = crate::plan::units::parse_duration(text).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) {
        return Err(format!("{text} is too short: a lease is at least 1s"));
    }
    Ok(d)
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CacheArg {
    Off,
    ReadWrite,
    ReadOnly,
    Refresh,
}

impl From<CacheArg> for CacheMode {
    fn from(arg: CacheArg) -> CacheMode {
        match arg {
            CacheArg::Off => CacheMode::Off,
            CacheArg::ReadWrite => CacheMode::ReadWrite,
            CacheArg::ReadOnly => CacheMode::ReadOnly,
            CacheArg::Refresh => CacheMode::Refresh,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

/// How often a plain progress line is written when stderr is not a terminal.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// How often a running stage's `stage-progress` message is written with JSON messages.
const PROGRESS_EVENT_EVERY: Duration = Duration::from_secs(1);

/// `filter` is the log filter the global `-v`/`-q` and the environment chose
/// ([`logging::filter_for`]); the run installs the logger itself, around its progress bars.
pub fn exec(args: RunArgs, shell: &Shell, filter: Option<&str>) -> ExitCode {
    let shell = shell.clone();
    // `--log-format json` is one of the spellings of `--message-format json`, which the
    // shell already follows.
    let format = if shell.is_json() {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    let progress = Progress::new(ProgressMode::detect(&shell), shell.clone());
    logging::init(format, filter, shell.color(), progress.bars());
    let opts = Options {
        plan: args.plan.path(),
        sets: args.sets,
        env: super::env_snapshot(),
        sandbox: args.sandbox,
        resume: args.resume,
        force: args.force,
        only: args.only,
        from: args.from,
        dry_run: args.dry_run,
        report: args.report,
        report_html: args.report_html,
        cache_mode: if args.offline {
            Some(CacheMode::ReadOnly)
        } else {
            args.cache.map(CacheMode::from)
        },
        share: args.workers.share || args.workers.workers > 0,
        workers: args.workers.workers,
        worker_addresses: args.workers.worker_address,
        local_address: args.workers.local_address,
        lease: args.workers.lease,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            shell.error(format!("cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let signals = tokio::spawn(interrupts(cancel.clone(), shell.clone()));
        let ticker = progress.spawn_ticker(if shell.is_json() {
            PROGRESS_EVENT_EVERY
        } else {
            PROGRESS_EVERY
        });
        let result = run::run(&opts, &shell, progress.clone(), cancel).await;
        ticker.abort();
        signals.abort();
        progress.clear();
        match result {
            Ok(outcome) => {
                if let Outcome::Ran(report) = &outcome {
                    run::print_report(report, &shell);
                }
                outcome.exit_code()
            }
            Err(e) => report_error(e, &shell),
        }
    });
    // Requests still waiting on a stalled server must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(500));
    ExitCode::from(code)
}

fn report_error(e: RunError, shell: &Shell) -> u8 {
    let code = e.exit_code();
    match e {
        RunError::InvalidPlan(errors) => crate::ops::validate::print_plan_errors(shell, &errors),
        other => shell.failure(other),
    }
    code
}

/// The first Ctrl-C (or SIGTERM) stops scheduling: items in flight finish and commit, and
/// the run is recorded as interrupted. A second one stops at once.
pub(super) async fn interrupts(cancel: CancellationToken, shell: Shell) {
    let mut signals = super::StopSignals::new();
    signals.next().await;
    shell.warn(
        "interrupted: finishing the items in flight and recording the run (Ctrl-C again to stop at once)",
    );
    cancel.cancel();
    signals.next().await;
    shell.error(
        "stopped at once; the run stays unfinished, and `popctl run PLAN --resume` continues it",
    );
    std::process::exit(130);
}
