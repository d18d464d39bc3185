//! Stage kinds, one file per kind, behind one trait, and the executor that runs them as a DAG.
//!
//! - [`Stage`]: what a kind does with a [`StageContext`] (its settings, the run's database,
//!   ledger and sources, its counters, its upstream input and downstream output).
//! - [`executor`]: starts each stage when its `needs` allow, wires streaming between stages.
//! - [`items`]: the one place a stage's items are worked through (concurrency, `delay`,
//!   failure policy, Ctrl-C). [`ledger`]: the run's rows in `import_runs`/`import_items`.
//!   [`claims`]: a movie listed by two fetch stages is fetched once.
//! - [`reset`], [`seed`], [`fetch`], [`enrich`], [`people`], [`post_process`]: the kinds (the
//!   steps of `post_process` are in [`post`]).

pub mod claims;
pub mod enrich;
pub mod executor;
pub mod fetch;
pub mod items;
pub mod ledger;
pub mod people;
pub mod post;
pub mod post_process;
pub mod reset;
pub mod seed;
pub mod shared;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::plan::{self, Plan, SourceKind};
use crate::sources::cache::{CacheError, SourceCache};
use crate::sources::http::{HttpError, SourceClient};
use crate::sources::omdb::client::OmdbClient;
use crate::sources::retry::Retrier;
use crate::sources::tmdb::client::TmdbClient;
use crate::store::ledger::ItemStatus;
use claims::Claims;
use items::Pacer;
use ledger::RunLedger;

/// The clients of the plan's sources, by source name. Each client is shared by every stage
/// that uses the source, so the source's rate and 429 pauses are shared too.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub tmdb: BTreeMap<String, TmdbClient>,
    pub omdb: BTreeMap<String, OmdbClient>,
}

/// Why the sources could not be set up.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SourceSetupError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cache(#[from] CacheError),
}

impl Sources {
    /// One client per source of `plan`, with the keys as the plan now holds them (resolved:
    /// call `Plan::require_resolved` first), behind the plan's response cache unless its mode
    /// is `off`. `cache_origin` keys cached answers by what a server serves instead of its
    /// address (the sandbox, on a new port each run).
    pub fn build(plan: &Plan, cache_origin: Option<&str>) -> Result<Sources, SourceSetupError> {
        Sources::build_bound(plan, cache_origin, None)
    }

    /// [`Sources::build`] with every source's connections going out from `local_address`
    /// (see [`SourceClient::new_bound`]): worker processes on one machine, each bound to its
    /// own address, then each get an upstream's per-address rate limit.
    pub fn build_bound(
        plan: &Plan,
        cache_origin: Option<&str>,
        local_address: Option<IpAddr>,
    ) -> Result<Sources, SourceSetupError> {
        let mut sources = Sources::default();
        for (name, config) in &plan.sources {
            let key = config.api_key.value().cloned();
            let mut http = SourceClient::new_bound(config, key, local_address)?;
            if let Some(mut cache) = SourceCache::open(&plan.cache, config)? {
                if let Some(origin) = cache_origin {
                    cache = cache.with_origin(origin);
                }
                http = http.with_cache(Arc::new(cache));
            }
            match config.kind {
                SourceKind::Tmdb => {
                    let client = TmdbClient::new(http, config.api_key_var.clone())
                        .with_store_raw(config.store_raw)
                        .with_locale(config.language.clone(), config.region.clone());
                    sources.tmdb.insert(name.clone(), client);
                }
                SourceKind::Omdb => {
                    let client = OmdbClient::new(http, config.api_key_var.clone())
                        .with_store_raw(config.store_raw);
                    sources.omdb.insert(name.clone(), client);
                }
            }
        }
        Ok(sources)
    }

    /// Every source's client, by source name.
    pub fn clients(&self) -> impl Iterator<Item = (&String, &SourceClient)> {
        let tmdb = self.tmdb.iter().map(|(n, c)| (n, c.http()));
        let omdb = self.omdb.iter().map(|(n, c)| (n, c.http()));
        tmdb.chain(omdb)
    }
}

/// What a stage did, counted as it goes; the progress display reads these live.
#[derive(Debug, Default)]
pub struct Counters {
    /// Items known so far; grows while a list is paged or upstream stages stream.
    pub total: AtomicU64,
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub skipped: AtomicU64,
    /// Among `ok`: movies another fetch stage of the run fetched (no request of this stage).
    pub shared: AtomicU64,
    /// Items left pending for a later `--resume` (a spent quota).
    pub pending: AtomicU64,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Rows the stage inserted, changed or removed.
    pub rows: AtomicU64,
    /// What a stage whose items are few and long is doing inside the current one ("which
    /// step, how far"), for the progress display; `None` between items.
    activity: std::sync::Mutex<Option<String>>,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CounterValues {
    pub total: u64,
    pub ok: u64,
    pub failed: u64,
    pub skipped: u64,
    pub shared: u64,
    pub pending: u64,
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub rows: u64,
}

impl CounterValues {
    /// Items that have an outcome.
    pub fn done(&self) -> u64 {
        self.ok + self.failed + self.skipped
    }
}

impl Counters {
    pub fn add(field: &AtomicU64, n: u64) {
        field.fetch_add(n, Ordering::Relaxed);
    }

    /// Records the cost of one request: the tries it took and the 429s met.
    pub fn request(&self, attempts: u32, rate_limited: u32) {
        Self::add(&self.requests, u64::from(attempts));
        Self::add(&self.retries, u64::from(attempts.saturating_sub(1)));
        Self::add(&self.rate_limited, u64::from(rate_limited));
    }

    /// Says what the stage is doing inside its current item; `None` when it is between items.
    pub fn set_activity(&self, activity: Option<String>) {
        *self.activity.lock().unwrap_or_else(|e| e.into_inner()) = activity;
    }

    pub fn activity(&self) -> Option<String> {
        self.activity
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn values(&self) -> CounterValues {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CounterValues {
            total: l(&self.total),
            ok: l(&self.ok),
            failed: l(&self.failed),
            skipped: l(&self.skipped),
            shared: l(&self.shared),
            pending: l(&self.pending),
            requests: l(&self.requests),
            retries: l(&self.retries),
            rate_limited: l(&self.rate_limited),
            rows: l(&self.rows),
        }
    }
}

/// How a stage ended (or why it did not run).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum StageOutcome {
    Done,
    /// Finished by an earlier attempt of this run (`--resume`); not run again.
    DoneEarlier,
    /// Stopped early for a reason a later `--resume` can get past (a spent quota, an upstream
    /// stage that did not finish); its remaining items are pending.
    Partial(String),
    Failed(String),
    /// Ctrl-C: items in flight finished, the rest are pending.
    Interrupted,
    /// Not run because a stage it needs did not finish.
    Skipped(String),
    /// `enabled = false` in the plan.
    Disabled,
    /// Left out by `--only` or `--from`.
    NotSelected,
}

impl StageOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            StageOutcome::Done => "done",
            StageOutcome::DoneEarlier => "done earlier",
            StageOutcome::Partial(_) => "partial",
            StageOutcome::Failed(_) => "failed",
            StageOutcome::Interrupted => "interrupted",
            StageOutcome::Skipped(_) => "skipped",
            StageOutcome::Disabled => "disabled",
            StageOutcome::NotSelected => "not selected",
        }
    }

    /// True when stages that need this one may run.
    pub fn satisfies_needs(&self) -> bool {
        matches!(
            self,
            StageOutcome::Done
                | StageOutcome::DoneEarlier
                | StageOutcome::Disabled
                | StageOutcome::NotSelected
        )
    }

    /// Why the stage did not end well, if it says.
    pub fn reason(&self) -> Option<&str> {
        match self {
            StageOutcome::Partial(r) | StageOutcome::Failed(r) | StageOutcome::Skipped(r) => {
                Some(r)
            }
            _ => None,
        }
    }
}

/// What every stage of a run shares.
pub struct RunContext {
    pub plan: Arc<Plan>,
    pub db: DatabaseConnection,
    /// The database URL as resolved (for `reset`'s guard).
    pub database_url: String,
    pub ledger: RunLedger,
    pub sources: Sources,
    pub claims: Arc<Claims>,
    /// Set when the run is shared with worker processes (`run --workers`, `popctl worker`).
    pub cluster: Option<Arc<shared::Cluster>>,
    /// Ctrl-C: stop scheduling new items.
    pub cancel: CancellationToken,
    /// The run's date (of its first attempt): what derived data is computed as of.
    pub as_of: chrono::NaiveDate,
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("plan", &self.plan.name)
            .field("run_id", &self.ledger.run_id())
            .finish_non_exhaustive()
    }
}

/// Where a fetch stage sends the TMDB ids of the movies it saved: to every downstream stage
/// that streams from it. Dropping it tells them this stage is done.
#[derive(Debug, Default)]
pub struct Emitter {
    targets: Vec<StreamTarget>,
}

/// One streaming consumer, as a producer sees it.
#[derive(Debug, Clone)]
pub struct StreamTarget {
    pub tx: mpsc::Sender<i64>,
    /// Set by the consumer when it starts. Before that a producer never waits for room in the
    /// channel (the consumer may be waiting for another stage): it drops what does not fit,
    /// and the consumer reads everything committed before it started from the ledger.
    pub started: Arc<AtomicBool>,
}

impl Emitter {
    pub fn new(targets: Vec<StreamTarget>) -> Self {
        Emitter { targets }
    }

    /// Sends `tmdb_id` downstream. Call it after the movie's transaction committed.
    pub async fn emit(&self, tmdb_id: i64) {
        for t in &self.targets {
            if t.started.load(Ordering::SeqCst) {
                // A consumer that already ended no longer listens; that is not an error.
                let _ = t.tx.send(tmdb_id).await;
            } else {
                let _ = t.tx.try_send(tmdb_id);
            }
        }
    }
}

/// The movies of an enrich stage with `scope = "upstream"`, or of a people stage: what its
/// upstream fetch stages saved in this run, from the ledger and, while they run, streamed.
#[derive(Debug)]
pub struct UpstreamInput {
    /// Every fetch stage upstream of the consumer (directly or not), enabled in the plan.
    pub producers: Vec<String>,
    /// Movies streamed by the producers that run now, if the consumer streams.
    pub rx: Option<mpsc::Receiver<i64>>,
    pub started: Arc<AtomicBool>,
    /// True when at least one producer runs in this execution.
    pub live: bool,
}

/// Everything one stage gets to do its work.
pub struct StageContext {
    pub stage: plan::Stage,
    pub run: Arc<RunContext>,
    pub counters: Arc<Counters>,
    pub input: Option<UpstreamInput>,
    pub output: Emitter,
    /// The stage's `delay` between its requests, across all of its tasks.
    pub pacer: Pacer,
    /// Things the user should know about, shown under the report.
    pub notes: Mutex<Vec<String>>,
    /// The stage's slowest items so far, slowest first.
    slowest: Mutex<Vec<items::ItemTime>>,
}

impl StageContext {
    pub fn new(stage: plan::Stage, run: Arc<RunContext>) -> Self {
        let pacer = Pacer::new(stage.delay);
        StageContext {
            stage,
            run,
            counters: Arc::new(Counters::default()),
            input: None,
            output: Emitter::default(),
            pacer,
            notes: Mutex::new(Vec::new()),
            slowest: Mutex::new(Vec::with_capacity(items::SLOWEST + 1)),
        }
    }

    pub fn name(&self) -> &str {
        &self.stage.name
    }

    pub fn retrier(&self) -> Retrier {
        Retrier::new(self.stage.retry)
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.run.db
    }

    pub fn ledger(&self) -> &RunLedger {
        &self.run.ledger
    }

    pub fn note(&self, note: impl Into<String>) {
        self.notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(note.into());
    }

    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Keeps `key` among the stage's [`items::SLOWEST`] slowest items if it took long enough;
    /// only an item that gets in costs an allocation.
    pub fn time_item(&self, key: &str, status: ItemStatus, took: std::time::Duration) {
        let seconds = took.as_secs_f64();
        let mut slowest = self.slowest.lock().unwrap_or_else(|e| e.into_inner());
        if slowest.len() >= items::SLOWEST && slowest.last().is_some_and(|l| l.seconds >= seconds) {
            return;
        }
        let at = slowest.partition_point(|t| t.seconds >= seconds);
        slowest.insert(
            at,
            items::ItemTime {
                key: key.to_owned(),
                status,
                seconds: (seconds * 1000.0).round() / 1000.0,
            },
        );
        slowest.truncate(items::SLOWEST);
    }

    /// The slowest items, slowest first.
    pub fn take_slowest(&self) -> Vec<items::ItemTime> {
        std::mem::take(&mut *self.slowest.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// One stage kind.
#[async_trait]
pub trait Stage: Send + Sync {
    /// Does the stage's work and says how it ended. Items that finish are in the ledger (in
    /// the same transaction as their data); the executor records the stage as done.
    async fn run(&self, cx: &mut StageContext) -> StageOutcome;

    /// This stage as workers of a shared run take part in it, if they do (`shared`).
    fn shared(&self) -> Option<&dyn SharedStage> {
        None
    }
}

/// A stage whose items the workers of a shared run take a share of (`shared`).
#[async_trait]
pub trait SharedStage: Send + Sync {
    /// The source the stage asks.
    fn source(&self) -> &str;

    /// A worker's part: claims the stage's items and works them until the runner ends the
    /// stage or the run.
    async fn work_shared(
        &self,
        cx: &StageContext,
        member: &crate::store::cluster::Member,
    ) -> StageOutcome;
}

/// The implementation of a compiled stage.
pub fn build(stage: &plan::Stage) -> Box<dyn Stage> {
    match &stage.kind {
        plan::StageKind::Reset(s) => Box::new(reset::Reset(s.clone())),
        plan::StageKind::Seed(s) => Box::new(seed::Seed(s.clone())),
        plan::StageKind::Fetch(s) => Box::new(fetch::Fetch(s.clone())),
        plan::StageKind::Enrich(s) => Box::new(enrich::Enrich(s.clone())),
        plan::StageKind::People(s) => Box::new(people::People(s.clone())),
        plan::StageKind::PostProcess(s) => Box::new(post_process::PostProcess(s.clone())),
    }
}
