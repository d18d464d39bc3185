//! `popctl worker PLAN`

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::ops::worker::{self, Options, WorkerSummary};
use crate::report::Shell;

/// Join a running run of PLAN as one more worker: take a share of the items of its fetch,
/// enrich and people stages. The run is started elsewhere with `popctl run PLAN --share` (or `--workers N`, which
/// starts workers itself) and its database must be PostgreSQL. Waits for a run when there is
/// none yet; ends when the run's shared stages have ended. Exit codes: 0 done, 1 failed, 2
/// invalid plan or usage, 3 no run came within --wait or interrupted.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub plan: super::plan_arg::PlanArg,
    /// Override a key, like `--set database.url=…` (repeatable; applied last). A worker's plan
    /// must be the runner's: a run of another version of the plan is not joined
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// The local address this worker's upstream requests leave from
    #[arg(long, value_name = "IP")]
    pub local_address: Option<IpAddr>,
    /// How long a claimed item stays this worker's without a heartbeat (it beats every third
    /// of it); after that, another worker takes it over
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = super::run::lease)]
    pub lease: Duration,
    /// The response cache's mode for this worker, instead of the plan's `[cache] mode` (as
    /// `run --cache`; `run --workers` gives its own to the workers it starts)
    #[arg(long, value_enum, value_name = "MODE")]
    pub cache: Option<super::run::CacheArg>,
    /// Give up when no run has come after DURATION (default: wait as long as it takes)
    #[arg(long, value_name = "DURATION", value_parser = wait)]
    pub wait: Option<Duration>,
    /// The simulator a `run --sandbox` serves at (set by `run --workers` for the workers it
    /// starts)
    #[arg(long, value_name = "ADDR", hide = true)]
    pub sandbox_at: Option<SocketAddr>,
    /// The most PostgreSQL connections this worker's pool takes (set by `run --workers` to
    /// its own pool's size, so the workers it starts share the server's room with it)
    #[arg(long, value_name = "N", hide = true)]
    pub pool_max: Option<u32>,
}

fn wait(text: &str) -> Result<Duration, String> {
    crate::plan::units::parse_duration(text).map_err(|e| e.to_string())
}

pub fn exec(args: WorkerArgs, shell: &Shell) -> ExitCode {
    let shell = shell.clone();
    let opts = Options {
        plan: args.plan.path(),
        sets: args.sets,
        env: super::env_snapshot(),
        sandbox_at: args.sandbox_at,
        local_address: args.local_address,
        lease: args.lease,
        wait: args.wait,
        cache_mode: args.cache.map(crate::plan::CacheMode::from),
        pool_max: args.pool_max,
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
        let signals = tokio::spawn(super::run::interrupts(cancel.clone(), shell.clone()));
        let result = worker::work(&opts, &shell, cancel).await;
        signals.abort();
        match result {
            Ok(summary) => print(&summary, &shell),
            Err(e) => {
                let code = e.exit_code();
                match e {
                    crate::ops::run::RunError::InvalidPlan(errors) => {
                        crate::ops::validate::print_plan_errors(&shell, &errors)
                    }
                    other => shell.failure(other),
                }
                code
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(500));
    ExitCode::from(code)
}

/// One line per stage worked on, and the exit code.
fn print(summary: &WorkerSummary, shell: &Shell) -> u8 {
    let Some(run_id) = summary.run_id else {
        shell.warn(format!("worker stopped: {}", summary.ended));
        return 3;
    };
    let mut failed = false;
    for (stage, v, outcome) in &summary.stages {
        failed |= matches!(outcome, crate::stages::StageOutcome::Failed(_));
        shell.status(
            "Worked",
            format!(
                "stage {stage} of run {run_id}: {} movies fetched, {} skipped, {} failed ({})",
                v.ok,
                v.skipped,
                v.failed,
                outcome.label()
            ),
        );
    }
    shell.status(
        "Stopped",
        format!(
            "worker {} after {:.1} s and {} requests: {}",
            summary
                .worker_id
                .map_or_else(|| "(never joined)".to_owned(), |id| id.to_string()),
            summary.seconds,
            summary.requests,
            summary.ended
        ),
    );
    if failed { 1 } else { 0 }
}
