//! `popctl worker PLAN`: this process as one more worker of a run of PLAN that another
//! process runs (`popctl run PLAN --workers N` starts them itself, `--share` waits for them
//! from other machines). It waits for the newest running run of the plan in the plan's
//! PostgreSQL database, takes its share of the items of the run's open fetch, enrich and
//! people stages (`stages::shared`), and ends when no shared stage is left or the run ends.
//! Everything else (the reset, the swap, the other stages, post-processing) is the runner's,
//! done once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::run::{RunError, point_at_sandbox, unreachable_unresolved};
use crate::plan::{self, LoadOptions, Plan};
use crate::report::Shell;
use crate::sim::SandboxConfig;
use crate::stages::claims::Claims;
use crate::stages::ledger::RunLedger;
use crate::stages::shared::{self, Cluster};
use crate::stages::{self, CounterValues, RunContext, Sources, Stage, StageContext, StageOutcome};
use crate::store::cluster::{self, WorkerInfo};
use crate::store::{self, NextDb, OpenOptions, StoreError, ledger};

/// How often a waiting worker looks for a run, and for newly opened stages.
const LOOK_EVERY: Duration = Duration::from_millis(250);

/// How long the run's database may stay unreadable before a worker gives up on it.
const UNREADABLE_FOR: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub plan: PathBuf,
    pub sets: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// The simulator a `run --sandbox` started, which this worker is pointed at as the run is.
    pub sandbox_at: Option<SocketAddr>,
    /// The local address upstream requests leave from.
    pub local_address: Option<IpAddr>,
    /// How long a claimed item stays this worker's without a heartbeat.
    pub lease: Duration,
    /// How long to wait for a run to join; `None`: as long as it takes.
    pub wait: Option<Duration>,
    /// Replaces the plan's `[cache] mode`, as `run --cache` does (not part of the plan's hash).
    pub cache_mode: Option<plan::CacheMode>,
    /// The most connections its pool takes (`run --workers` gives its own pool's size).
    pub pool_max: Option<u32>,
}

/// What a worker did.
#[derive(Debug)]
pub struct WorkerSummary {
    /// `None` when no run came within `--wait` (or Ctrl-C came first).
    pub run_id: Option<i64>,
    pub worker_id: Option<i64>,
    /// Each shared stage it worked on, with its counts.
    pub stages: Vec<(String, CounterValues, StageOutcome)>,
    pub requests: u64,
    pub seconds: f64,
    /// Why it stopped, for people.
    pub ended: String,
}

/// Joins the newest running run of the plan of `opts` and works on its shared stages.
pub async fn work(
    opts: &Options,
    shell: &Shell,
    cancel: CancellationToken,
) -> Result<WorkerSummary, RunError> {
    let started = Instant::now();
    let loaded = plan::load(&LoadOptions {
        path: opts.plan.clone(),
        sets: opts.sets.clone(),
        env: opts.env.clone(),
    })
    .map_err(RunError::InvalidPlan)?;
    let mut plan = loaded.plan;
    if let Some(mode) = opts.cache_mode {
        plan.cache.mode = mode;
    }
    let sandbox = SandboxConfig::default();
    if let Some(addr) = opts.sandbox_at {
        point_at_sandbox(&mut plan, addr, &sandbox);
    }
    let shared = shared_stages(&plan);
    if shared.is_empty() {
        return Err(RunError::NothingToRun {
            plan: plan.name.clone(),
            why: "none of its stages can be shared with workers (fetch, enrich and people stages are)"
                .into(),
            help: "workers take a share of the items of a plan's fetch, enrich and people stages; run \
                   the plan itself with `popctl run`",
        });
    }
    let needed: HashSet<String> = shared
        .iter()
        .filter_map(|(_, s)| Some(s.shared()?.source().to_owned()))
        .collect();
    plan.require_resolved_for(|s| needed.contains(s))
        .map_err(RunError::InvalidPlan)?;
    let url = match plan.database.url.value() {
        Some(url) => url.expose().to_owned(),
        None => unreachable_unresolved(&opts.plan)?,
    };
    if !url.starts_with("postgres") {
        return Err(StoreError::OneWriter {
            what: "`popctl worker`".into(),
        }
        .into());
    }
    // Looking for the run takes a small pool; the one it works with, opened once the run is
    // found in the live database or the new one beside it, claims its share.
    let look = OpenOptions {
        timeout: plan.database.connect_timeout,
        pool_max: Some(store::PG_POOL_MIN),
        ..OpenOptions::default()
    };
    let live = store::open(&url, &look).await?;
    shell.status(
        "Waiting",
        format!(
            "for a run of plan `{}` in {}",
            plan.name,
            crate::secret::redact_url(&url)
        ),
    );
    let Some((next, run)) = find_run(&plan, &url, &live, &look, opts.wait, &cancel).await? else {
        return Ok(WorkerSummary {
            run_id: None,
            worker_id: None,
            stages: Vec::new(),
            requests: 0,
            seconds: started.elapsed().as_secs_f64(),
            ended: if cancel.is_cancelled() {
                "interrupted before a run came".into()
            } else {
                "no run came within --wait".into()
            },
        });
    };
    let notes = store::Notes::default();
    let open = OpenOptions {
        notes: Some(notes.clone()),
        claim: true,
        pool_max: opts.pool_max,
        ..look
    };
    let db = match &next {
        Some(next) => next.open(Some(&live), &open, false).await?,
        None => store::open(&url, &open).await?,
    };
    for note in notes.take() {
        shell.warn(note);
    }
    shell.status("Joined", format!("run {} of plan `{}`", run.id, plan.name));
    let origin = opts.sandbox_at.map(|_| sandbox.cache_origin());
    let sources = Sources::build_bound(&plan, origin.as_deref(), opts.local_address)?;
    let cluster = Arc::new(Cluster::new(
        WorkerInfo::this_process(opts.local_address.map(|a| a.to_string())),
        opts.lease,
    ));
    let plan = Arc::new(plan);
    let cx = Arc::new(RunContext {
        plan: plan.clone(),
        db: db.clone(),
        database_url: url.clone(),
        ledger: RunLedger::join(&db, run.id, &plan.name, &plan.hash),
        sources: sources.clone(),
        claims: Arc::new(Claims::new(plan.fetch_stages())),
        cluster: Some(cluster.clone()),
        cancel: cancel.clone(),
        as_of: run.started_at.date_naive(),
    });
    let (stages, ended) = work_on(&cx, &live, &shared, &cluster).await;
    let requests = sources.clients().map(|(_, c)| c.totals().requests).sum();
    let left = cluster.leave(&db, requests).await;
    let summary = WorkerSummary {
        run_id: Some(run.id),
        worker_id: cluster.joined().map(|m| m.worker_id),
        stages,
        requests,
        seconds: started.elapsed().as_secs_f64(),
        ended,
    };
    db.close().await.ok();
    live.close().await.ok();
    match left {
        // The run's tables moved into the live schema (its swap): nothing to record there.
        Err(e) if summary.ended.starts_with("the run ended") => {
            tracing::debug!("not recorded as stopped: {e}");
            Ok(summary)
        }
        Err(e) => Err(e.into()),
        Ok(()) => Ok(summary),
    }
}

/// The plan's stages a worker may take a share of, by name (enabled, and `Stage::shared`).
fn shared_stages(plan: &Plan) -> Vec<(String, Arc<dyn Stage>)> {
    plan.stages
        .iter()
        .filter(|s| s.enabled)
        .map(|s| (s.name.clone(), Arc::<dyn Stage>::from(stages::build(s))))
        .filter(|(_, s)| s.shared().is_some())
        .collect()
}

/// Waits for a running run of `plan`: in the new database of a swap run beside the live one,
/// or in the live one.
async fn find_run(
    plan: &Plan,
    url: &str,
    live: &DatabaseConnection,
    look: &OpenOptions,
    wait: Option<Duration>,
    cancel: &CancellationToken,
) -> Result<Option<(Option<NextDb>, ledger::Run)>, RunError> {
    let deadline = wait.map(|w| Instant::now() + w);
    let mut other_hash_noted = false;
    loop {
        let mut places: Vec<(Option<NextDb>, DatabaseConnection)> = Vec::new();
        if let Some(next) = NextDb::beside(url, Some(live)).await?
            && next.exists(Some(live)).await?
        {
            let db = next.open(Some(live), look, false).await?;
            places.push((Some(next), db));
        }
        places.push((None, live.clone()));
        for (next, db) in places {
            // A database still being reset or migrated has no ledger yet: not this round.
            if !ledger::exists(&db).await.unwrap_or(false) {
                continue;
            }
            let Ok(Some(run)) = ledger::last_unfinished_run(&db, &plan.name).await else {
                continue;
            };
            if run.status != ledger::RunStatus::Running {
                continue;
            }
            if run.plan_hash == plan.hash {
                // Closed before the worker's own pool counts the server's room.
                if next.is_some() {
                    db.close().await.ok();
                }
                return Ok(Some((next, run)));
            }
            if !other_hash_noted {
                other_hash_noted = true;
                tracing::warn!(
                    "run {} of plan `{}` runs another version of the plan (hash {} here, {} there); \
                     a worker joins only a run of the same plan, so it waits",
                    run.id,
                    plan.name,
                    &plan.hash[..plan.hash.len().min(12)],
                    &run.plan_hash[..run.plan_hash.len().min(12)],
                );
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
        tokio::select! {
            () = cancel.cancelled() => return Ok(None),
            () = tokio::time::sleep(LOOK_EVERY) => {}
        }
    }
}

/// Takes a share of each shared stage the runner opens, until none is left to open or the run
/// ends; what each stage did, and why the worker stopped.
async fn work_on(
    run: &Arc<RunContext>,
    live: &DatabaseConnection,
    shared: &[(String, Arc<dyn Stage>)],
    cluster: &Arc<Cluster>,
) -> (Vec<(String, CounterValues, StageOutcome)>, String) {
    let by_name: HashMap<&str, &Arc<dyn Stage>> =
        shared.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let run_id = run.ledger.run_id();
    let db = &run.db;
    let mut started: HashSet<String> = HashSet::new();
    // Tasks of their own: a stage's saves must go on while this loop waits for the pool (a
    // transaction that is not polled holds its locks, and the pool, for everyone).
    let mut working = tokio::task::JoinSet::new();
    let mut done = Vec::new();
    let mut unreadable: Option<Instant> = None;
    let ended = loop {
        if run.cancel.is_cancelled() {
            break "interrupted (Ctrl-C)".to_owned();
        }
        let looked = async {
            let open = cluster::open_stages(db, run_id).await?;
            let status = cluster::run_status(db, run_id).await?;
            Ok::<_, StoreError>((open, status))
        };
        let (open, running) = match looked.await {
            Ok((open, Some(status))) => {
                unreadable = None;
                (open, status == "running")
            }
            // The run's reset drops and recreates its tables (the ledger's run row is written
            // back right after), and its swap moves them into the live schema: both leave the
            // run's database without the run, or unreadable, for a while.
            looked => {
                let why = match looked {
                    Err(e) => e.to_string(),
                    Ok(_) => format!("run {run_id} is not in its database"),
                };
                if let Ok(Some(status)) = cluster::run_status(live, run_id).await
                    && status != "running"
                {
                    break format!("the run ended ({status})");
                }
                let since = *unreadable.get_or_insert_with(Instant::now);
                if since.elapsed() >= UNREADABLE_FOR {
                    break format!("cannot follow run {run_id}: {why}");
                }
                (Vec::new(), true)
            }
        };
        for name in open {
            let Some(part) = by_name.get(name.as_str()) else {
                continue;
            };
            if !started.insert(name.clone()) {
                continue;
            }
            let Some(stage) = run.plan.stage(&name).cloned() else {
                continue;
            };
            let cx = StageContext::new(stage, run.clone());
            let (part, cluster) = (Arc::clone(part), cluster.clone());
            working.spawn(async move {
                let member = match cluster.member(&cx).await {
                    Ok(member) => member,
                    Err(e) => {
                        let failed = StageOutcome::Failed(e.to_string());
                        return (cx.name().to_owned(), cx.counters.values(), failed);
                    }
                };
                let outcome = match part.shared() {
                    Some(part) => part.work_shared(&cx, &member).await,
                    None => StageOutcome::Failed("this stage is not shared".into()),
                };
                let counters = cx.counters.values();
                let counts = shared::counts(&counters);
                if let Err(e) = cluster::record_stage(&cx.run.db, &member, cx.name(), counts).await
                {
                    tracing::warn!("the run's report will miss this worker's counts: {e}");
                }
                (cx.name().to_owned(), counters, outcome)
            });
        }
        if working.is_empty() {
            if !running {
                break "the run ended".to_owned();
            }
            if started.len() == by_name.len() {
                break "every shared stage of the run ended".to_owned();
            }
        }
        tokio::select! {
            Some(joined) = working.join_next(), if !working.is_empty() => done.push(stage_ended(joined)),
            () = tokio::time::sleep(LOOK_EVERY) => {}
            () = run.cancel.cancelled() => {}
        }
    };
    // Stages in flight finish what they hold (Ctrl-C stops their claiming).
    while let Some(joined) = working.join_next().await {
        done.push(stage_ended(joined));
    }
    (done, ended)
}

/// A stage task's result; a task that panicked is a failed stage (its claims run out).
fn stage_ended(
    joined: Result<(String, CounterValues, StageOutcome), tokio::task::JoinError>,
) -> (String, CounterValues, StageOutcome) {
    joined.unwrap_or_else(|e| {
        (
            "(a stage)".to_owned(),
            CounterValues::default(),
            StageOutcome::Failed(format!("its task ended abnormally: {e}")),
        )
    })
}

/// The `popctl worker` processes a `run --workers N` starts beside itself.
pub struct LocalWorkers {
    children: Vec<tokio::process::Child>,
}

impl LocalWorkers {
    /// Starts `n` workers of the plan of `opts` (its overrides and environment), the i-th
    /// sending its requests from `addresses[i % len]` when addresses are given, pointed at
    /// the run's simulator when it has one, each with a pool no larger than `pool` (the
    /// run's own) when given.
    pub fn start(
        n: usize,
        opts: &super::run::Options,
        sandbox_at: Option<SocketAddr>,
        pool: Option<u32>,
    ) -> Result<LocalWorkers, RunError> {
        let exe = std::env::current_exe().map_err(|e| {
            RunError::Workers(format!(
                "cannot find popctl's own executable to start workers: {e}"
            ))
        })?;
        let mut children = Vec::with_capacity(n);
        for i in 0..n {
            let mut cmd = tokio::process::Command::new(&exe);
            // Quiet: the run reports for everyone; a worker's warnings and errors still show.
            cmd.arg("--quiet").arg("worker").arg(&opts.plan);
            for set in &opts.sets {
                cmd.arg("--set").arg(set);
            }
            cmd.arg("--lease")
                .arg(format!("{}ms", opts.lease.as_millis()))
                // The run exists already; a worker that finds none in a minute has a problem.
                .arg("--wait")
                .arg("60s");
            if !opts.worker_addresses.is_empty() {
                let address = opts.worker_addresses[i % opts.worker_addresses.len()];
                cmd.arg("--local-address").arg(address.to_string());
            }
            if let Some(addr) = sandbox_at {
                cmd.arg("--sandbox-at").arg(addr.to_string());
            }
            if let Some(mode) = opts.cache_mode {
                cmd.arg("--cache").arg(mode.as_str());
            }
            if let Some(pool) = pool {
                cmd.arg("--pool-max").arg(pool.to_string());
            }
            cmd.env_clear()
                .envs(&opts.env)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .kill_on_drop(true);
            let child = cmd.spawn().map_err(|e| {
                RunError::Workers(format!("cannot start worker {} of {n}: {e}", i + 1))
            })?;
            children.push(child);
        }
        Ok(LocalWorkers { children })
    }

    /// How many were started.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Lets the workers end: they stop by themselves once the run's shared stages have ended;
    /// those still going after `grace` are asked to stop (SIGINT: they finish the items in
    /// flight and give back what they hold), and killed after `lease` more. How many exited
    /// with an error.
    pub async fn stop(mut self, grace: Duration, lease: Duration) -> usize {
        let mut failed = 0;
        let deadline = Instant::now() + grace;
        for child in &mut self.children {
            let waited = tokio::time::timeout_at(deadline, child.wait()).await;
            if let Ok(Ok(status)) = waited {
                failed += usize::from(!status.success());
                continue;
            }
            #[cfg(unix)]
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGINT,
                );
            }
            match tokio::time::timeout(lease, child.wait()).await {
                // Asked to stop, a worker exits 3 (interrupted): not a failure.
                Ok(Ok(status)) => failed += usize::from(!matches!(status.code(), Some(0 | 3))),
                _ => {
                    let _ = child.kill().await;
                    failed += 1;
                }
            }
        }
        failed
    }
}
