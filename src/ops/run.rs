//! `popctl run`: load and check the plan, pick the stages, open the database and the run
//! ledger, build the sources, execute the DAG and report.
//!
//! Data flows one way: plan (`plan::load`, `require_resolved`) → DAG → stages → sources →
//! store → report. Everything that can be checked is checked before anything is written
//! (stage names, stage kinds, unset variables, the reset guard, a changed plan on
//! `--resume`), so a refused run leaves the database untouched. `--dry-run` is the same path
//! stopped before the first side effect: it prints the stages in order with the requests each
//! will make and the time the rates imply.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::worker::LocalWorkers;
use crate::plan::CacheMode;
use crate::plan::dag::Dag;
use crate::plan::{
    self, Interpolated, LoadOptions, Plan, PlanErrors, SourceKind, units::human_duration,
};
use crate::report::events::Event;
use crate::report::summary::{self, RunReport, SourceReport};
use crate::report::{Shell, html};
use crate::secret::redact_url;
use crate::secret::{Secret, redact};
use crate::sim::{self, SandboxConfig};
use crate::stages::claims::Claims;
use crate::stages::executor::{self, Execution, Observer};
use crate::stages::ledger::RunLedger;
use crate::stages::shared::Cluster;
use crate::stages::{self, RunContext, SourceSetupError, Sources, StageOutcome};
use crate::store::cluster::WorkerInfo;
use crate::store::ledger::RunStatus;
use crate::store::{self, NextDb, OpenOptions, StoreError, ledger};
use sea_orm::DatabaseConnection;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub plan: PathBuf,
    /// `--set key.path=value` overrides.
    pub sets: Vec<String>,
    /// The environment snapshot (overrides and `${VAR}` values).
    pub env: BTreeMap<String, String>,
    /// Start the simulator in-process and point every source at it.
    pub sandbox: bool,
    /// Continue the last unfinished run of the plan.
    pub resume: bool,
    /// With `resume`: continue even though the plan changed since that run started.
    pub force: bool,
    /// Run only these stages (the others count as done).
    pub only: Vec<String>,
    /// Run this stage and every stage downstream of it.
    pub from: Option<String>,
    pub dry_run: bool,
    /// Write the report as JSON here.
    pub report: Option<PathBuf>,
    /// Write the report as an HTML page with charts here.
    pub report_html: Option<PathBuf>,
    /// Replaces the plan's `[cache] mode` (`--offline` is `read-only`, `--cache MODE`)
    /// without changing the plan's hash: how answers are cached does not change the data.
    pub cache_mode: Option<CacheMode>,
    /// Share the run's fetch stages with worker processes (`popctl worker`), here or on other
    /// machines (PostgreSQL only).
    pub share: bool,
    /// Start this many `popctl worker` processes beside the run (implies `share`).
    pub workers: usize,
    /// The local addresses the started workers' requests leave from, handed out in turn.
    pub worker_addresses: Vec<std::net::IpAddr>,
    /// The local address this process's upstream requests leave from.
    pub local_address: Option<std::net::IpAddr>,
    /// How long an item claimed by a worker stays its without a heartbeat.
    pub lease: std::time::Duration,
}

/// How long the workers a run started have, once its graph has ended, to stop by themselves.
const WORKERS_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// What `run` did.
#[derive(Debug)]
pub enum Outcome {
    /// `--dry-run`: the plan was printed, nothing ran.
    DryRun,
    Ran(Box<RunReport>),
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::DryRun => 0,
            Outcome::Ran(report) => report.exit_code,
        }
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RunError {
    #[error("{}", .0.summary())]
    #[diagnostic(code(popctl::run::invalid_plan))]
    InvalidPlan(PlanErrors),

    #[error("plan `{plan}` has no stage named `{name}` ({option})")]
    #[diagnostic(code(popctl::run::unknown_stage), help("its stages: {known}"))]
    UnknownStage {
        plan: String,
        name: String,
        option: &'static str,
        known: String,
    },

    #[error("plan `{plan}` has nothing to run: {why}")]
    #[diagnostic(code(popctl::run::nothing_to_run), help("{help}"))]
    NothingToRun {
        plan: String,
        why: String,
        help: &'static str,
    },

    #[error(
        "plan `{plan}` changed since run {run_id} started (its hash was {old}, it is {new} now), \
         so --resume would finish that run with a different plan"
    )]
    #[diagnostic(
        code(popctl::run::plan_changed),
        help(
            "run without --resume to start over, undo the change, or add --force to continue \
             run {run_id} with the plan as it is now"
        )
    )]
    PlanChanged {
        plan: String,
        run_id: i64,
        old: String,
        new: String,
    },

    #[error("cannot start the sandbox: {0}")]
    #[diagnostic(code(popctl::run::sandbox))]
    Sandbox(String),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] StoreError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Source(#[from] SourceSetupError),

    #[error("cannot write the report to {path}: {reason}")]
    #[diagnostic(code(popctl::run::report))]
    Report { path: String, reason: String },

    #[error("{0}")]
    #[diagnostic(code(popctl::run::workers))]
    Workers(String),
}

impl RunError {
    /// 2 when the plan or the command line is the problem, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::InvalidPlan(_)
            | RunError::UnknownStage { .. }
            | RunError::NothingToRun { .. }
            | RunError::PlanChanged { .. } => 2,
            _ => 1,
        }
    }
}

/// Runs the plan of `opts`. `cancel` is Ctrl-C: stop scheduling, finish what is in flight.
pub async fn run(
    opts: &Options,
    shell: &Shell,
    observer: Arc<dyn Observer>,
    cancel: CancellationToken,
) -> Result<Outcome, RunError> {
    let started = Instant::now();
    let started_at_utc = chrono::Utc::now();
    let loaded = plan::load(&LoadOptions {
        path: opts.plan.clone(),
        sets: opts.sets.clone(),
        env: opts.env.clone(),
    })
    .map_err(RunError::InvalidPlan)?;
    // The sandbox stands in for every source's key and address: warnings about those being
    // unset do not apply.
    let warnings: Vec<_> = loaded
        .warnings
        .into_iter()
        .filter(|d| {
            !(opts.sandbox
                && d.code == plan::Code::UnsetVariable
                && d.key.as_deref().is_some_and(|k| k.starts_with("sources.")))
        })
        .collect();
    crate::ops::validate::print_diagnostics(shell, &warnings);
    let mut plan = loaded.plan;
    let dag = Dag::new(&plan).map_err(|e| {
        RunError::InvalidPlan(PlanErrors::new(
            &opts.plan.display().to_string(),
            vec![plan::PlanDiagnostic::error(
                plan::Code::Cycle,
                e.to_string(),
            )],
        ))
    })?;
    let selected = select(&plan, &dag, &opts.only, opts.from.as_deref())?;
    nothing_to_run(&plan, &selected)?;
    if let Some(mode) = opts.cache_mode {
        plan.cache.mode = mode;
    }
    let mut built = HashMap::new();
    for stage in plan
        .stages
        .iter()
        .filter(|s| s.enabled && selected.contains(&s.name))
    {
        built.insert(stage.name.clone(), stages::build(stage));
    }

    // One config for the sandbox that serves and for the cache origin its answers are kept
    // under, so the two cannot drift apart.
    let sandbox_config = SandboxConfig::default();
    let sandbox = if opts.sandbox && !opts.dry_run {
        let sandbox = sim::start(sandbox_config.clone())
            .await
            .map_err(|e| RunError::Sandbox(e.to_string()))?;
        point_at_sandbox(&mut plan, sandbox.addr(), &sandbox_config);
        shell.status(
            "Sandbox",
            format!(
                "TMDB and OMDb are simulated at {} (no API keys, no network)",
                sandbox.omdb_base_url()
            ),
        );
        Some(sandbox)
    } else {
        if opts.sandbox {
            point_at(
                &mut plan,
                ("(sandbox)", "(sandbox)", "(sandbox)"),
                &sandbox_config.tmdb_key,
                &sandbox_config.omdb_key,
            );
        }
        None
    };
    // Only the keys of the sources the selected stages ask are needed; a dry run asks none.
    let needed: HashSet<String> = plan
        .stages
        .iter()
        .filter(|s| s.enabled && selected.contains(&s.name) && !opts.dry_run)
        .filter_map(|s| plan.source_of(s).map(str::to_owned))
        .collect();
    plan.require_resolved_for(|source| needed.contains(source))
        .map_err(RunError::InvalidPlan)?;
    let url = match plan.database.url.value() {
        Some(url) => url.expose().to_owned(),
        None => unreachable_unresolved(&opts.plan)?,
    };
    let reset = resets(&plan, &selected);
    if opts.share && !url.starts_with("postgres") {
        return Err(StoreError::OneWriter {
            what: if opts.workers > 0 {
                "`--workers`".to_owned()
            } else {
                "`--share`".to_owned()
            },
        }
        .into());
    }

    if opts.dry_run {
        shell.out_text(&dry_run_text(&plan, &dag, &selected, &url, reset.as_ref()));
        return Ok(Outcome::DryRun);
    }
    for warning in plan::budget(&plan).quota_warnings() {
        shell.warn(warning.message);
    }

    let mut target = Target::open(&plan, &url, reset.as_ref(), opts, shell).await?;
    let db = target.db.clone();
    let history = target.live.as_ref().filter(|_| target.created);
    let (ledger, resumed) = match open_ledger(&db, history, &plan, opts, shell).await {
        Ok(opened) => opened,
        // A run killed in the middle of its reset can leave a half-dropped schema that the
        // migrations cannot bring up to date. A plan that resets anyway repairs it first.
        Err(RunError::Store(e)) if reset.is_some() => {
            let r = reset.clone().unwrap_or(plan::ResetStage {
                allow_remote: false,
                mode: plan::ResetMode::InPlace,
                scope: plan::ResetScope::Popctl,
            });
            shell.warn(format!(
                "cannot use the database as it is ({e}); the plan resets it anyway, so it is reset first"
            ));
            store::reset(&db, &url, r.allow_remote, r.scope).await?;
            (RunLedger::start(&db, &plan.name, &plan.hash).await?, false)
        }
        Err(e) => return Err(e),
    };
    // A resumed run computes derived data as of the day it started, like the run it continues.
    let as_of = match (resumed, ledger::recent_runs(&db, Some(&plan.name), 1).await) {
        (true, Ok(runs)) => runs
            .into_iter()
            .find(|r| r.id == ledger.run_id())
            .map(|r| r.started_at.date_naive()),
        _ => None,
    }
    .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let done_earlier = ledger.done_earlier(&plan, &dag).await?;
    let origin = sandbox.as_ref().map(|_| sandbox_config.cache_origin());
    let sources = Sources::build_bound(&plan, origin.as_deref(), opts.local_address)?;
    shell.status(
        if resumed { "Resuming" } else { "Running" },
        format!(
            "plan `{}` (run {}) into {}",
            plan.name,
            ledger.run_id(),
            target.describe()
        ),
    );
    shell.event(&Event::RunStarted {
        plan: plan.name.clone(),
        run_id: ledger.run_id(),
        resumed,
        sandbox: sandbox.is_some(),
        database: redact_url(&url),
    });

    let cluster = opts.share.then(|| {
        Arc::new(Cluster::new(
            WorkerInfo::this_process(opts.local_address.map(|a| a.to_string())),
            opts.lease,
        ))
    });
    let workers = if opts.workers > 0 {
        let started = LocalWorkers::start(
            opts.workers,
            opts,
            sandbox.as_ref().map(|s| s.addr()),
            store::pool_size(&target.db),
        )?;
        shell.status(
            "Workers",
            format!(
                "{} worker processes share the fetch, enrich and people stages' items with this one",
                started.len()
            ),
        );
        Some(started)
    } else {
        None
    };
    let plan = Arc::new(plan);
    let run = Arc::new(RunContext {
        plan: plan.clone(),
        db: db.clone(),
        database_url: url.clone(),
        ledger: ledger.clone(),
        sources: sources.clone(),
        claims: Arc::new(Claims::new(plan.fetch_stages())),
        cluster: cluster.clone(),
        cancel: cancel.clone(),
        as_of,
    });
    let reports = executor::execute(
        Execution {
            run,
            dag,
            selected,
            done_earlier,
            built,
        },
        observer,
    )
    .await;
    if let Some(cluster) = &cluster
        && let Err(e) = cluster
            .leave(
                &db,
                sources.clients().map(|(_, c)| c.totals().requests).sum(),
            )
            .await
    {
        shell.warn(format!(
            "cannot record this process as a stopped worker: {e}"
        ));
    }
    if let Some(workers) = workers {
        let n = workers.len();
        let failed = workers.stop(WORKERS_GRACE, opts.lease).await;
        if failed > 0 {
            shell.warn(format!(
                "{failed} of the {n} workers this run started ended with an error (shown above); \
                 the movies they held were taken over by the others"
            ));
        }
    }

    let shared_by = match &cluster {
        Some(c) if c.joined().is_some() => store::cluster::workers(&db, ledger.run_id())
            .await
            .unwrap_or_else(|e| {
                shell.warn(format!(
                    "the report lists no workers: cannot read them: {e}"
                ));
                Vec::new()
            })
            .into_iter()
            .map(|w| summary::WorkerReport {
                id: w.id,
                host: w.host,
                pid: w.pid,
                address: w.address,
                items_done: w.items_done,
                requests: w.requests,
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut status = summary::run_status(&reports, cancel.is_cancelled());
    // A new database is swapped in only when it holds the whole plan: every stage ended
    // well in it, now or in an earlier attempt of the run.
    let complete = reports.iter().all(|r| {
        matches!(
            r.outcome,
            StageOutcome::Done | StageOutcome::DoneEarlier | StageOutcome::Disabled
        )
    });
    if target.next.is_some() && status == RunStatus::Ok && !complete {
        status = RunStatus::Partial;
    }
    let floors = plan::budget(&plan);
    let mut reports = reports;
    if let Some(member) = cluster.as_ref().and_then(|c| c.joined())
        && let Err(e) = crate::stages::shared::add_others(&db, member, &mut reports).await
    {
        shell.warn(format!(
            "the stages' requests and rows are this process's alone: cannot read the other \
             workers' counts: {e}"
        ));
    }
    for r in &mut reports {
        r.floor_seconds = floors
            .stages
            .iter()
            .find(|b| b.stage == r.name && r.started_at.is_some())
            .map(|b| b.min_duration.as_secs_f64());
    }
    let mut report = RunReport {
        popctl_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: started_at_utc,
        finished_at: None,
        plan: plan.name.clone(),
        plan_hash: plan.hash.clone(),
        run_id: ledger.run_id(),
        resumed,
        sandbox: sandbox.is_some(),
        status,
        exit_code: summary::exit_code(status),
        wall_seconds: 0.0,
        database: redact_url(&url),
        new_database: target.next.as_ref().map(|next| summary::NewDatabase {
            place: next.describe(),
            swapped: false,
            swap_seconds: None,
        }),
        stages: reports,
        sources: sources
            .clients()
            .map(|(name, http)| {
                let report = SourceReport {
                    totals: http.totals(),
                    cache: http.cache_totals(),
                    rate_per_second: Some(http.rate_per_second()),
                    series: Some(http.series()),
                };
                (name.clone(), report)
            })
            .collect(),
        peak_rss_bytes: crate::mem::peak_rss_bytes(),
        workers: shared_by,
        sandbox_served: sandbox.as_ref().map(|sandbox| {
            let stats = sandbox.stats();
            summary::SandboxServed {
                tmdb: stats.tmdb.requests,
                omdb: stats.omdb.requests,
                rate_limited: stats.rate_limited,
            }
        }),
    };
    // Read before `finish` closes the database; every item has its final status by now.
    let failed = match &opts.report_html {
        Some(_) => ledger::failed_items(&db, ledger.run_id())
            .await
            .unwrap_or_else(|e| {
                shell.warn(format!(
                    "the HTML report lists no failed items: cannot read them: {e}"
                ));
                Vec::new()
            }),
        None => Vec::new(),
    };
    let lock = std::mem::replace(&mut target.lock, store::RunLock::None);
    let finished = target.finish(&ledger, &mut report, shell, started).await;
    // Held to the end of the run, swap included; let go before the process ends, so a run
    // started right after does not find it held.
    lock.release().await;
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    finished?;
    if let Some(path) = &opts.report {
        let text = format!(
            "{}\n",
            serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
        );
        std::fs::write(path, text).map_err(|e| RunError::Report {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    if let Some(path) = &opts.report_html {
        // Drawn from the report as the ledger keeps it, so `popctl report RUN --html` later
        // draws the same page.
        let recorded = report.recorded().map_err(|e| RunError::Report {
            path: path.display().to_string(),
            reason: format!("the report does not read back (a bug, please report): {e}"),
        })?;
        std::fs::write(path, html::render(&recorded, &failed)).map_err(|e| RunError::Report {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(Outcome::Ran(Box::new(report)))
}

/// The database a run writes to: the live one, or the new one a swap builds beside it.
struct Target {
    /// What the run writes to.
    db: DatabaseConnection,
    /// The live database, open unless it is a SQLite file that does not exist yet.
    live: Option<DatabaseConnection>,
    url: String,
    open: OpenOptions,
    /// Set when the run builds a new database to swap in.
    next: Option<NextDb>,
    scope: plan::ResetScope,
    /// The new database was created by this run: it inherits the live run history.
    created: bool,
    /// One run per database at a time, from the preflight to the end.
    lock: store::RunLock,
}

impl Target {
    /// The preflight, then the database to write to. Everything that can refuse the run is
    /// checked before anything is written: the reset guard (from the URL as the driver reads
    /// it, then from the server's own address), that the server answers within
    /// `database.connect_timeout`, and that nothing outside popctl's tables depends on them.
    async fn open(
        plan: &Plan,
        url: &str,
        reset: Option<&plan::ResetStage>,
        opts: &Options,
        shell: &Shell,
    ) -> Result<Target, RunError> {
        let guarded = reset.is_some_and(|r| !r.allow_remote);
        if guarded {
            // Refused before connecting: nothing about a remote database is touched.
            store::reset_allowed(url, false)?;
        }
        // What opening says (a smaller pool) is shown for the database the run writes to.
        let (live_notes, next_notes) = (store::Notes::default(), store::Notes::default());
        let open = OpenOptions {
            timeout: plan.database.connect_timeout,
            notes: Some(next_notes.clone()),
            claim: true,
            // The workers it starts open their pools after this one, in what it leaves.
            pool_share: u32::try_from(opts.workers)
                .unwrap_or(u32::MAX)
                .saturating_add(1),
            ..OpenOptions::default()
        };
        // A SQLite file that does not exist yet is not created here: a swap run renames its
        // new database into place instead.
        let live_exists = match store::sqlite_file(url)? {
            Some(file) => file.exists(),
            None => true,
        };
        let live = if live_exists {
            // The run lock's connection comes after this pool, and so does the pool of the
            // new database a swap run builds beside it.
            let swaps = reset.is_some_and(plan::ResetStage::swaps);
            let first = OpenOptions {
                after_pool: 1 + if swaps { store::PG_POOL_MIN } else { 0 },
                notes: Some(live_notes.clone()),
                // A swap run works in the new database; the live one's pool only waits for
                // the swap, and takes what that needs as it goes.
                claim: !swaps,
                ..open.clone()
            };
            Some(store::open(url, &first).await?)
        } else {
            None
        };
        let lock = store::RunLock::acquire(url).await?;
        match Self::open_locked(plan, url, reset, opts, shell, live, open).await {
            Ok(target) => {
                // A swap run's live pool only waits for the swap: its note is not shown.
                let (live_notes, next_notes) = (live_notes.take(), next_notes.take());
                let notes = match target.next {
                    Some(_) => next_notes,
                    None => live_notes,
                };
                for note in notes {
                    shell.warn(note);
                }
                Ok(Target { lock, ..target })
            }
            Err(e) => {
                // Let go at once: a script's next run must not find it still held.
                lock.release().await;
                Err(e)
            }
        }
    }

    /// The rest of [`Target::open`], under the run lock (its `lock` is left to the caller).
    async fn open_locked(
        plan: &Plan,
        url: &str,
        reset: Option<&plan::ResetStage>,
        opts: &Options,
        shell: &Shell,
        live: Option<DatabaseConnection>,
        open: OpenOptions,
    ) -> Result<Target, RunError> {
        let guarded = reset.is_some_and(|r| !r.allow_remote);
        if guarded && let Some(live) = &live {
            store::confirm_local(live, url).await?;
        }
        // Any run may find the new database of an unfinished swap run beside the live one.
        let beside = NextDb::beside(url, live.as_ref()).await?;
        let pending = match &beside {
            Some(next) if next.exists(live.as_ref()).await? => Some(next.clone()),
            _ => None,
        };
        let swap = reset.is_some_and(plan::ResetStage::swaps);
        let scope = reset.map_or(plan::ResetScope::Popctl, |r| r.scope);
        if let Some(r) = reset
            && let Some(live) = &live
        {
            let checked = store::check_reset(live, r.scope).await?;
            if let Some(warning) = checked.warning()
                && !opts.resume
            {
                shell.warn(warning);
            }
        }
        let resumes_next = match &pending {
            Some(next) if opts.resume => resumable(next, live.as_ref(), &open, plan).await?,
            _ => false,
        };
        // A run left unfinished in the live database (an in-place reset, or a plan without
        // one) is continued where it is.
        let resumes_live = opts.resume
            && !resumes_next
            && match &live {
                Some(db) => unfinished_in(db, plan).await?,
                None => false,
            };
        let next = match pending {
            Some(next) if resumes_next => Some((next, false)),
            Some(next) if swap && !resumes_live => {
                shell.warn(format!(
                    "discarding the new database beside this one ({}): it holds no unfinished \
                     run of plan `{}`{}; this run starts over",
                    next.describe(),
                    plan.name,
                    if opts.resume {
                        ""
                    } else {
                        " to resume (--resume continues one)"
                    }
                ));
                next.discard(live.as_ref()).await?;
                Some((next, true))
            }
            Some(next) => {
                shell.note(format!(
                    "a new database from an unfinished run is beside this one ({}); this run \
                     writes to the live database",
                    next.describe()
                ));
                None
            }
            None if swap && !resumes_live => match beside {
                Some(next) => Some((next, true)),
                None => {
                    shell.note(
                        "an in-memory database cannot be built beside itself; the reset runs in place",
                    );
                    None
                }
            },
            None => None,
        };
        let (db, next, created) = match next {
            Some((next, create)) => (
                next.open(live.as_ref(), &open, create).await?,
                Some(next),
                create,
            ),
            None => {
                let db = match &live {
                    Some(db) => db.clone(),
                    None => store::open(url, &open).await?,
                };
                (db, None, false)
            }
        };
        Ok(Target {
            db,
            live,
            url: url.to_owned(),
            open,
            next,
            scope,
            created,
            lock: store::RunLock::None,
        })
    }

    /// Where the run writes, for people.
    fn describe(&self) -> String {
        match &self.next {
            Some(next) => format!(
                "a new database ({}) beside {}",
                next.describe(),
                redact_url(&self.url)
            ),
            None => redact_url(&self.url),
        }
    }

    /// Records how the run ended and, when it built a complete new database, swaps it in first:
    /// the run is recorded where its data now is.
    async fn finish(
        self,
        ledger: &RunLedger,
        report: &mut RunReport,
        shell: &Shell,
        started: Instant,
    ) -> Result<(), RunError> {
        let Target {
            db,
            live,
            url,
            open,
            next,
            scope,
            created: _,
            lock: _,
        } = self;
        let Some(next) = next else {
            report.ended(started);
            ledger.finish(report.status, &report.to_json()).await?;
            db.close().await.ok();
            return Ok(());
        };
        if report.status != RunStatus::Ok {
            report.ended(started);
            ledger.finish(report.status, &report.to_json()).await?;
            db.close().await.ok();
            if let Some(live) = live {
                live.close().await.ok();
            }
            return Ok(());
        }
        let swap_started = Instant::now();
        let swapped = next.swap(db.clone(), live.as_ref(), scope).await;
        let swap_seconds = swap_started.elapsed().as_secs_f64();
        let live = match (swapped, live) {
            (Err(e), live) => {
                // The live data is as it was; the new database stays for `--resume`, which
                // finds every stage done and tries the swap again.
                report.status = RunStatus::Failed;
                report.exit_code = summary::exit_code(RunStatus::Failed);
                report.ended(started);
                let reopened = next.open(live.as_ref(), &open, false).await?;
                ledger::finish_run(&reopened, ledger.run_id(), report.status, &report.to_json())
                    .await?;
                reopened.close().await.ok();
                return Err(e.into());
            }
            (Ok(()), Some(live)) => live,
            (Ok(()), None) => store::open(&url, &open).await?,
        };
        if let Some(n) = &mut report.new_database {
            n.swapped = true;
            n.swap_seconds = Some(swap_seconds);
        }
        shell.status(
            "Swapped",
            format!(
                "the new database replaced popctl's tables in {} ({})",
                redact_url(&url),
                human_duration_precise(swap_seconds)
            ),
        );
        report.ended(started);
        ledger::finish_run(&live, ledger.run_id(), report.status, &report.to_json()).await?;
        live.close().await.ok();
        Ok(())
    }
}

/// Whether `next` holds an unfinished run of `plan` that `--resume` can continue.
async fn resumable(
    next: &NextDb,
    live: Option<&DatabaseConnection>,
    open: &OpenOptions,
    plan: &Plan,
) -> Result<bool, RunError> {
    let db = next.open(live, open, false).await?;
    let found = match store::schema_status(&db).await {
        Ok(m) if m.iter().all(|(_, applied)| *applied) => unfinished_in(&db, plan).await?,
        // A new database killed inside its reset: continuing it redoes the reset.
        _ => true,
    };
    db.close().await.ok();
    Ok(found)
}

/// Whether `db` has popctl's ledger with an unfinished run of `plan`.
async fn unfinished_in(db: &DatabaseConnection, plan: &Plan) -> Result<bool, RunError> {
    // The ledger's tables are enough; `open_ledger` applies newer migrations.
    let ledger_there = ledger::exists(db).await.unwrap_or(false);
    Ok(ledger_there && ledger::last_unfinished_run(db, &plan.name).await?.is_some())
}

/// Prints the report the way `run` does: the table (unless quiet) and an error line for each
/// stage that failed.
pub fn print_report(report: &RunReport, shell: &Shell) {
    if shell.is_json() {
        shell.event(&Event::RunFinished {
            report: report.to_json(),
        });
        return;
    }
    if !shell.is_quiet() {
        shell.err_text(&redact(&report.table_within(shell.err_width())));
    } else {
        for s in &report.stages {
            if let stages::StageOutcome::Failed(why) = &s.outcome {
                shell.error(redact(&format!("stage `{}` failed: {why}", s.name)).into_owned());
            }
        }
    }
}

/// A compiled plan has every `${VAR}` resolved after `require_resolved`; this is its error if
/// that ever stops holding.
pub(crate) fn unreachable_unresolved(plan: &std::path::Path) -> Result<String, RunError> {
    Err(RunError::InvalidPlan(PlanErrors::new(
        &plan.display().to_string(),
        vec![plan::PlanDiagnostic::error(
            plan::Code::UnsetVariable,
            "the database URL is unresolved (a bug, please report)".to_owned(),
        )],
    )))
}

/// Points every source at the simulator, with its keys. The plan's rates stay as planned.
fn point_at(
    plan: &mut Plan,
    (tmdb_url, omdb_url, files_url): (&str, &str, &str),
    tmdb_key: &str,
    omdb_key: &str,
) {
    for source in plan.sources.values_mut() {
        if source.kind == SourceKind::Tmdb {
            source.files_url = files_url.to_owned();
        }
        let (url, key) = match source.kind {
            SourceKind::Tmdb => (tmdb_url, tmdb_key),
            SourceKind::Omdb => (omdb_url, omdb_key),
        };
        source.base_url = url.to_owned();
        source.api_key = Interpolated::Value(Secret::new(key));
        source.api_key_var = None;
    }
}

/// Points every source of `plan` at the simulator serving at `addr`, with the keys of
/// `config`: a `run --sandbox` and the workers it starts ask the same simulator.
pub(crate) fn point_at_sandbox(
    plan: &mut Plan,
    addr: std::net::SocketAddr,
    config: &SandboxConfig,
) {
    point_at(
        plan,
        (
            &sim::base_url(sim::Api::Tmdb, addr),
            &sim::base_url(sim::Api::Omdb, addr),
            &sim::files_base_url(addr),
        ),
        &config.tmdb_key,
        &config.omdb_key,
    );
}

/// The stages `--only` / `--from` choose: every stage when neither is given.
fn select(
    plan: &Plan,
    dag: &Dag,
    only: &[String],
    from: Option<&str>,
) -> Result<HashSet<String>, RunError> {
    let known = || {
        plan.stages
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let check = |name: &str, option: &'static str| {
        if dag.contains(name) {
            Ok(())
        } else {
            Err(RunError::UnknownStage {
                plan: plan.name.clone(),
                name: name.to_owned(),
                option,
                known: known(),
            })
        }
    };
    for name in only {
        check(name, "--only")?;
    }
    let mut chosen: HashSet<String> = plan.stages.iter().map(|s| s.name.clone()).collect();
    if !only.is_empty() {
        chosen.retain(|s| only.contains(s));
    }
    if let Some(from) = from {
        check(from, "--from")?;
        let downstream: HashSet<&str> = dag.descendants(from).into_iter().collect();
        chosen.retain(|s| s == from || downstream.contains(s.as_str()));
    }
    Ok(chosen)
}

/// Refuses a run that would start no stage: reporting it `ok` would tell the user something
/// was refreshed when nothing was.
fn nothing_to_run(plan: &Plan, selected: &HashSet<String>) -> Result<(), RunError> {
    if plan
        .stages
        .iter()
        .any(|s| s.enabled && selected.contains(&s.name))
    {
        return Ok(());
    }
    let err = |why: String, help| RunError::NothingToRun {
        plan: plan.name.clone(),
        why,
        help,
    };
    if plan.stages.is_empty() {
        return Err(err(
            "it has no stages".to_owned(),
            "a plan without stages is a base for others (`extends`); run a plan that extends it",
        ));
    }
    let mut off: Vec<&str> = plan
        .stages
        .iter()
        .filter(|s| selected.contains(&s.name))
        .map(|s| s.name.as_str())
        .collect();
    off.sort_unstable();
    Err(err(
        format!(
            "every stage selected is disabled (`enabled = false`): {}",
            off.join(", ")
        ),
        "enable one (e.g. `--set stages.NAME.enabled=true`) or select others with --only/--from",
    ))
}

/// The selected, enabled reset stage, if one will run.
fn resets(plan: &Plan, selected: &HashSet<String>) -> Option<plan::ResetStage> {
    plan.stages.iter().find_map(|s| match &s.kind {
        plan::StageKind::Reset(r) if s.enabled && selected.contains(&s.name) => Some(r.clone()),
        _ => None,
    })
}

/// Brings the schema up to date, then starts a new run or, with `--resume`, reopens the last
/// unfinished run of the plan. `history` is the live database whose run history a new
/// database inherits.
async fn open_ledger(
    db: &sea_orm::DatabaseConnection,
    history: Option<&sea_orm::DatabaseConnection>,
    plan: &Plan,
    opts: &Options,
    shell: &Shell,
) -> Result<(RunLedger, bool), RunError> {
    store::migrate(db).await?;
    if let Some(live) = history {
        inherit_history(live, db, shell).await?;
    }
    if opts.resume {
        match ledger::last_unfinished_run(db, &plan.name).await? {
            Some(run) => {
                if run.plan_hash != plan.hash {
                    if !opts.force {
                        return Err(RunError::PlanChanged {
                            plan: plan.name.clone(),
                            run_id: run.id,
                            old: short(&run.plan_hash),
                            new: short(&plan.hash),
                        });
                    }
                    shell.warn(format!(
                        "plan `{}` changed since run {} started; continuing it anyway (--force)",
                        plan.name, run.id
                    ));
                }
                return Ok((RunLedger::resume(db, &run).await?, true));
            }
            None => shell.note(format!(
                "--resume: no unfinished run of plan `{}` in this database; starting a new run",
                plan.name
            )),
        }
    }
    Ok((RunLedger::start(db, &plan.name, &plan.hash).await?, false))
}

/// Copies the live run history into the new database, so run numbers go on and `status` keeps
/// the earlier runs after the swap. A live database without popctl's schema has none; one
/// whose schema is behind keeps its history until the swap, which the user is told.
async fn inherit_history(
    live: &sea_orm::DatabaseConnection,
    next: &sea_orm::DatabaseConnection,
    shell: &Shell,
) -> Result<(), RunError> {
    let status = store::schema_status(live).await?;
    let pending = status.iter().filter(|(_, applied)| !applied).count();
    if pending == status.len() {
        return Ok(());
    }
    if pending > 0 {
        shell.warn(format!(
            "the live database's schema is {pending} migration(s) behind, so its run history is \
             not carried into the new database; after the swap `popctl status` starts from this run"
        ));
        return Ok(());
    }
    let carried = store::carry_history(live, next).await?;
    tracing::debug!(
        runs = carried.runs,
        items = carried.items,
        "run history carried into the new database"
    );
    Ok(())
}

/// `0.42s`, `12.3s`: a swap's time, which is often well under a second.
fn human_duration_precise(seconds: f64) -> String {
    if seconds < 10.0 {
        format!("{seconds:.2}s")
    } else {
        format!("{seconds:.1}s")
    }
}

fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// The stages in order with the requests each makes and the least time the rates imply.
fn dry_run_text(
    plan: &Plan,
    dag: &Dag,
    selected: &HashSet<String>,
    url: &str,
    reset: Option<&plan::ResetStage>,
) -> String {
    // The budget of what runs: stages left out count as disabled.
    let mut chosen = plan.clone();
    for stage in &mut chosen.stages {
        stage.enabled &= selected.contains(&stage.name);
    }
    let budget = plan::budget(&chosen);
    let mut out = format!("plan `{}`: stages in order\n", plan.name);
    let shown = redact_url(url);
    out.push_str(&match reset {
        Some(r) if r.mode == plan::ResetMode::Swap => format!(
            "database {shown}: a new database is built beside it and replaces popctl's \
             tables when every stage has ended well\n"
        ),
        Some(_) => format!("database {shown}: popctl's tables are dropped first (in place)\n"),
        None => format!("database {shown}\n"),
    });
    for (i, name) in dag.order().enumerate() {
        let Some(stage) = plan.stage(name) else {
            continue;
        };
        let mut line = format!("{:>3}. {name} ({})", i + 1, stage.kind.name());
        if !selected.contains(name) {
            line.push_str(": not selected");
        } else if !stage.enabled {
            line.push_str(": disabled");
        } else if let Some(b) = budget.stages.iter().find(|b| b.stage == name) {
            match (&b.source, b.requests) {
                (Some(src), Some(n)) => {
                    line.push_str(&format!(": {src}, at most {} requests", plan::thousands(n)));
                }
                (Some(src), None) => {
                    line.push_str(&format!(": {src}, requests counted at run time"))
                }
                _ => {}
            }
            if let Some(note) = &b.note {
                line.push_str(&format!(" ({note})"));
            }
            if !b.min_duration.is_zero() {
                line.push_str(&format!(", at least {}", human_duration(b.min_duration)));
            }
        }
        let needs = dag.needs(name);
        if !needs.is_empty() {
            line.push_str(&format!("; after {}", needs.join(", ")));
        }
        out.push_str(&line);
        out.push('\n');
    }
    for line in budget.lines() {
        out.push_str(&format!("budget {line}\n"));
    }
    out.push_str(&format!(
        "the rates allow no less than {} for the whole plan\n",
        human_duration(budget.min_duration)
    ));
    out
}
