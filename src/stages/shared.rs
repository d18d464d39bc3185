//! A stage's items worked by several processes at once (`popctl worker`, `run --workers N`):
//! each process claims its next items from the ledger (`store::cluster`) instead of taking
//! them straight from the stage's feed.
//!
//! The process that runs the plan's graph (the *runner*) finds the stage's items, records
//! them as pending, claims and works them like any worker, and follows what the other workers
//! finished: it counts their results in the stage's counters (so the failure policy and the
//! report see the whole stage), streams their movies to the stages downstream, and ends the
//! stage when no item is pending any more. A *worker* claims until the runner ends the stage
//! or the run.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::fetch::receiver_stream;
use super::ledger::ItemKind;
use super::{Counters, StageContext, StageOutcome, items};
use crate::store::cluster::{self, Finished, Member, StageState, WorkerInfo};
use crate::store::ledger::ItemStatus;

/// How long an idle claimer waits before looking again.
const IDLE: Duration = Duration::from_millis(200);

/// How often the runner reads what the other workers finished.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// How far back the runner reads again, for results committed after ones it has read (a
/// result's time is its statement's, a little before its transaction commits).
const OVERLAP: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

/// The runner's part: the ids its feed finds, and who hears of the items other workers
/// skipped (TMDB has no such movie).
pub struct Runner<'a> {
    pub found: mpsc::Receiver<i64>,
    pub on_skipped: &'a (dyn Fn(i64) + Sync),
    /// The feed records what it finds as pending itself (`items::pending`).
    pub recorded: bool,
    /// The stage's items as the ledger had them when it started: those done by an earlier
    /// attempt of the run, in any process, the feed counted already.
    pub known: &'a HashMap<String, ItemStatus>,
    /// Look-ups of the stage (run by any process) find movies the feed never sees: the runner
    /// counts each movie in the stage's total as it claims or follows it.
    pub looks_up: bool,
}

/// The runner's part of a shared stage, beside the stage's feed (which sends the ids it finds
/// to `runner.found`): opens the stage to the workers, claims and works its items with them
/// until none is pending, and ends the stage. Why the claiming stopped and why the work did, if
/// either stopped the stage.
pub async fn lead<T, F, Fut>(
    cx: &StageContext,
    member: &Member,
    kind: ItemKind,
    runner: Runner<'_>,
    stop: &CancellationToken,
    work: F,
) -> (Option<StageOutcome>, Option<StageOutcome>)
where
    T: Claimed,
    F: Fn(String, T) -> Fut,
    Fut: std::future::Future<Output = items::ItemResult>,
{
    let (run_id, stage) = (member.run_id, cx.name());
    if let Err(e) = cluster::set_stage(cx.db(), run_id, stage, StageState::Open).await {
        stop.cancel();
        return (Some(StageOutcome::Failed(e.to_string())), None);
    }
    let (tx, rx) = mpsc::channel(cx.stage.concurrency.max(1) as usize);
    let (claimed, worked) = futures::join!(
        claim(cx, member, kind, Some(runner), tx, stop),
        items::process(cx, stop, receiver_stream(rx), work)
    );
    let ended = async {
        cluster::release(cx.db(), member, stage).await?;
        cluster::set_stage(cx.db(), run_id, stage, StageState::Ended).await
    };
    match ended.await {
        Ok(()) => (claimed, worked),
        Err(e) => (Some(StageOutcome::Failed(e.to_string())), worked),
    }
}

/// The feed of [`lead_recorded`]: its items (recorded as pending as they come), the stage's
/// items as the ledger had them at its start, and who hears of items other workers skipped.
pub struct Recorded<'a, S> {
    pub items: &'a mut S,
    pub known: &'a HashMap<String, ItemStatus>,
    pub on_skipped: &'a (dyn Fn(i64) + Sync),
}

/// [`lead`] for a stage whose feed records what it finds as pending itself
/// (`items::pending`): passes the items of `items` to the claiming until they end or the
/// stage stops, and leaves the rest in `items` (for the caller to record as pending when a
/// spent quota stopped the stage). Why the stage stopped, if it did.
pub async fn lead_recorded<T, S, F, Fut>(
    cx: &StageContext,
    member: &Member,
    kind: ItemKind,
    feed: Recorded<'_, S>,
    stop: &CancellationToken,
    work: F,
) -> Option<StageOutcome>
where
    T: Claimed,
    S: futures::Stream<Item = (String, i64)> + Unpin,
    F: Fn(String, T) -> Fut,
    Fut: std::future::Future<Output = items::ItemResult>,
{
    use futures::StreamExt;
    let Recorded {
        items,
        known,
        on_skipped,
    } = feed;
    let (found_tx, found) = mpsc::channel(FOUND);
    let feed = async {
        loop {
            let next = tokio::select! {
                next = items.next() => next,
                () = stop.cancelled() => None,
                () = cx.run.cancel.cancelled() => None,
            };
            let Some((_, id)) = next else { break };
            if found_tx.send(id).await.is_err() {
                break;
            }
        }
        drop(found_tx);
    };
    let runner = Runner {
        found,
        on_skipped,
        recorded: true,
        known,
        looks_up: false,
    };
    let ((), (claimed, worked)) = futures::join!(feed, lead(cx, member, kind, runner, stop, work));
    worked.or(claimed)
}

/// Items found ahead of the claiming.
const FOUND: usize = 1_024;

/// A worker's part of a shared stage: claims its items and works them until the runner ends
/// the stage or the run, then lets go of what it still holds.
pub async fn take_part<T, F, Fut>(
    cx: &StageContext,
    member: &Member,
    kind: ItemKind,
    work: F,
) -> StageOutcome
where
    T: Claimed,
    F: Fn(String, T) -> Fut,
    Fut: std::future::Future<Output = items::ItemResult>,
{
    let stop = CancellationToken::new();
    let (tx, rx) = mpsc::channel(cx.stage.concurrency.max(1) as usize);
    let (claimed, worked) = futures::join!(
        claim(cx, member, kind, None, tx, &stop),
        items::process(cx, &stop, receiver_stream(rx), work)
    );
    if let Err(e) = cluster::release(cx.db(), member, cx.name()).await {
        return StageOutcome::Failed(e.to_string());
    }
    items::finish(cx, worked.or(claimed))
}

/// What a claimed key is to the stage's tasks: a TMDB id, or (a fetch stage's) a movie or a
/// look-up.
pub trait Claimed: Sized + Send {
    /// The item a key of `kind` names; `None` for a key that is not one.
    fn from_key(kind: ItemKind, key: &str) -> Option<Self>;
}

impl Claimed for i64 {
    fn from_key(kind: ItemKind, key: &str) -> Option<i64> {
        kind.id(key)
    }
}

/// Claims items of `cx`'s stage for `member` and sends them to `tx` (as `(ledger key, item)`)
/// as the stage's tasks have room, until the stage is over: for the runner, its feed has
/// ended and no item is pending; for a worker, the runner ended the stage or the run. Returns
/// why the stage must stop, if it must (and then stops the stage's other parts through `stop`).
pub async fn claim<T: Claimed>(
    cx: &StageContext,
    member: &Member,
    kind: ItemKind,
    runner: Option<Runner<'_>>,
    tx: mpsc::Sender<(String, T)>,
    stop: &CancellationToken,
) -> Option<StageOutcome> {
    let outcome = claim_until_over(cx, member, kind, runner, tx, stop).await;
    if outcome.is_some() {
        stop.cancel();
    }
    outcome
}

async fn claim_until_over<T: Claimed>(
    cx: &StageContext,
    member: &Member,
    kind: ItemKind,
    mut runner: Option<Runner<'_>>,
    tx: mpsc::Sender<(String, T)>,
    stop: &CancellationToken,
) -> Option<StageOutcome> {
    let stage = cx.name().to_owned();
    let db = cx.db();
    let mut found_open = runner.is_some();
    let mut found: Vec<i64> = Vec::new();
    let mut follow = Follow::new(kind);
    let waits_for = super::fetch::siblings(cx);
    // Each movie in the stage's total once: those the feed found, and those look-ups found.
    let mut counted: Option<HashSet<i64>> = runner
        .as_ref()
        .is_some_and(|r| r.looks_up)
        .then(HashSet::new);
    let fail = |e: crate::store::StoreError| Some(StageOutcome::Failed(e.to_string()));
    loop {
        if stop.is_cancelled() || cx.run.cancel.is_cancelled() {
            break;
        }
        if let Some(r) = &mut runner {
            loop {
                match r.found.try_recv() {
                    Ok(id) => found.push(id),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        found_open = false;
                        break;
                    }
                }
            }
            if !found.is_empty() {
                if let Some(counted) = &mut counted {
                    counted.extend(found.iter().copied());
                }
                let keys: Vec<String> = found.drain(..).map(|id| kind.key(id)).collect();
                let recorded = async {
                    if !r.recorded {
                        cx.ledger().ensure(db, &stage, &keys).await?;
                    }
                    cluster::retry_failed(db, member.run_id, &stage, &keys).await
                };
                if let Err(e) = recorded.await {
                    return fail(e);
                }
            }
            if follow.due() {
                match follow.read(cx, member, r.known).await {
                    Ok(done) => {
                        if let Some(stop) = take(cx, done, r.on_skipped, &mut counted).await {
                            return Some(stop);
                        }
                    }
                    Err(e) => return fail(e),
                }
            }
        }
        let room = tx.capacity();
        let claimed =
            match cluster::claim(db, member, &stage, kind.prefixes(), room, &waits_for).await {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
        let got = !claimed.is_empty();
        for key in claimed {
            if let Some(counted) = &mut counted
                && let Some(id) = kind.id(&key)
                && counted.insert(id)
            {
                Counters::add(&cx.counters.total, 1);
            }
            let Some(item) = T::from_key(kind, &key) else {
                continue;
            };
            tokio::select! {
                sent = tx.send((key, item)) => if sent.is_err() { break },
                () = stop.cancelled() => break,
            }
        }
        if got {
            continue;
        }
        let over = match &runner {
            Some(_) if !found_open => {
                match cluster::pending_items(db, member.run_id, &stage, kind.prefixes()).await {
                    Ok(n) => n == 0,
                    Err(e) => return fail(e),
                }
            }
            Some(_) => false,
            None => {
                let open = cluster::is_open(db, member.run_id, &stage).await;
                let running = cluster::is_running(db, member.run_id).await;
                match (open, running) {
                    (Ok(o), Ok(r)) => !o || !r,
                    (Err(e), _) | (_, Err(e)) => return fail(e),
                }
            }
        };
        if over {
            break;
        }
        // Wait for room for more, for newly found items, or a while.
        let more_found = async {
            match &mut runner {
                Some(r) if found_open => r.found.recv().await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep(IDLE) => {}
            () = stop.cancelled() => {}
            () = cx.run.cancel.cancelled() => {}
            id = more_found => match id {
                Some(id) => found.push(id),
                None => found_open = false,
            },
            permit = tx.reserve(), if room == 0 => drop(permit),
        }
    }
    if let Some(r) = &runner {
        // Everything the others finished, including what committed after the last look.
        follow.since = None;
        match follow.read(cx, member, r.known).await {
            Ok(done) => return take(cx, done, r.on_skipped, &mut counted).await,
            Err(e) => return fail(e),
        }
    }
    None
}

/// What a worker's counters of a stage record for the run's report (`cluster::record_stage`).
pub fn counts(v: &super::CounterValues) -> cluster::StageCounts {
    cluster::StageCounts {
        items: v.done(),
        requests: v.requests,
        retries: v.retries,
        rate_limited: v.rate_limited,
        rows: v.rows,
    }
}

/// Adds to the runner's stage reports what the other workers did in each stage: their
/// requests, retries, 429s and rows (their items are counted as the runner follows them).
pub async fn add_others(
    db: &sea_orm::DatabaseConnection,
    member: &Member,
    reports: &mut [super::executor::StageReport],
) -> Result<(), crate::store::StoreError> {
    let others = cluster::others_by_stage(db, member).await?;
    for r in reports {
        if let Some(o) = others.get(&r.name) {
            let c = &mut r.counters;
            c.requests += o.requests;
            c.retries += o.retries;
            c.rate_limited += o.rate_limited;
            c.rows += o.rows;
        }
    }
    Ok(())
}

/// Takes in what other workers finished as if this process had: counted, their movies
/// streamed downstream; says when the failure policy, their failures counted, stops the stage.
async fn take(
    cx: &StageContext,
    done: Vec<(Option<i64>, ItemStatus)>,
    on_skipped: &(dyn Fn(i64) + Sync),
    counted: &mut Option<HashSet<i64>>,
) -> Option<StageOutcome> {
    let c = &cx.counters;
    let mut failed = false;
    for (id, status) in done {
        if let (Some(counted), Some(id)) = (counted.as_mut(), id)
            && counted.insert(id)
        {
            Counters::add(&c.total, 1);
        }
        match status {
            ItemStatus::Ok => {
                Counters::add(&c.ok, 1);
                if let Some(id) = id {
                    cx.output.emit(id).await;
                }
            }
            ItemStatus::Skipped => {
                Counters::add(&c.skipped, 1);
                if let Some(id) = id {
                    on_skipped(id);
                }
            }
            ItemStatus::Failed => {
                Counters::add(&c.failed, 1);
                failed = true;
            }
            ItemStatus::Pending => {}
        }
    }
    if !failed {
        return None;
    }
    items::policy_so_far(cx)
}

/// What the runner has read of the other workers' results.
struct Follow {
    kind: ItemKind,
    since: Option<DateTime<Utc>>,
    seen: HashSet<String>,
    last: Option<Instant>,
}

impl Follow {
    fn new(kind: ItemKind) -> Follow {
        Follow {
            kind,
            since: None,
            seen: HashSet::new(),
            last: None,
        }
    }

    fn due(&mut self) -> bool {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|l| now.duration_since(l) < FOLLOW_EVERY)
        {
            return false;
        }
        self.last = Some(now);
        true
    }

    /// The results not read before, as `(tmdb id, status)` (no id for a look-up), but for
    /// those `known` has as done before the stage started (by an earlier attempt of the run).
    async fn read(
        &mut self,
        cx: &StageContext,
        member: &Member,
        known: &HashMap<String, ItemStatus>,
    ) -> Result<Vec<(Option<i64>, ItemStatus)>, crate::store::StoreError> {
        let rows = cluster::finished_by_others(
            cx.db(),
            member,
            cx.name(),
            self.since.map(|s| s - OVERLAP),
        )
        .await?;
        let mut out = Vec::new();
        for Finished {
            key,
            status,
            updated_at,
        } in rows
        {
            self.since = Some(self.since.map_or(updated_at, |s| s.max(updated_at)));
            let id = self.kind.id(&key);
            if id.is_none() && !self.kind.prefixes().iter().any(|p| key.starts_with(p)) {
                continue;
            }
            if matches!(known.get(&key), Some(ItemStatus::Ok | ItemStatus::Skipped)) {
                continue;
            }
            if self.seen.insert(key) {
                out.push((id, status));
            }
        }
        Ok(out)
    }
}

/// Beats for `member` every third of its lease until `cancel`: its row says it lives, and its
/// leases are pushed forward. `requests` gives the requests made so far, for `popctl status`.
pub fn heartbeat(
    db: sea_orm::DatabaseConnection,
    member: Arc<Member>,
    requests: impl Fn() -> u64 + Send + 'static,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = (member.lease / 3).max(Duration::from_millis(100));
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            match cluster::heartbeat(&db, &member, requests()).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    worker = member.worker_id,
                    "this worker's row is gone from import_workers (the run's tables were reset?)"
                ),
                Err(e) => tracing::warn!(worker = member.worker_id, "heartbeat failed: {e}"),
            }
        }
    })
}

/// This process's way into a shared run: it joins as a worker the first time a stage is
/// shared, after any reset of the run's tables (a reset drops `import_workers`).
#[derive(Debug)]
pub struct Cluster {
    info: WorkerInfo,
    lease: Duration,
    joined: tokio::sync::OnceCell<Arc<Member>>,
    /// Stops the heartbeat.
    stop: CancellationToken,
}

impl Cluster {
    pub fn new(info: WorkerInfo, lease: Duration) -> Cluster {
        Cluster {
            info,
            lease,
            joined: tokio::sync::OnceCell::new(),
            stop: CancellationToken::new(),
        }
    }

    /// This process as a worker of `cx`'s run: registered, its ledger writing fenced, its
    /// heartbeat beating.
    pub async fn member(&self, cx: &StageContext) -> Result<Arc<Member>, crate::store::StoreError> {
        self.joined
            .get_or_try_init(|| async {
                let run_id = cx.ledger().run_id();
                let id = cluster::register(cx.db(), run_id, &self.info, self.lease).await?;
                let member = Arc::new(Member::new(id, run_id, self.lease));
                cx.ledger().set_member(member.clone());
                for (name, client) in cx.run.sources.clients() {
                    let Some(config) = cx.run.plan.sources.get(name) else {
                        continue;
                    };
                    if config.rate_scope == crate::plan::RateScope::Cluster {
                        let period = config.rate.per / config.rate.count.max(1);
                        client.share_pace(Arc::new(ClusterPace {
                            db: cx.db().clone(),
                            run_id,
                            source: name.clone(),
                            period,
                            slack: period * config.burst.saturating_sub(1),
                        }));
                    }
                }
                let sources = cx.run.sources.clone();
                heartbeat(
                    cx.db().clone(),
                    member.clone(),
                    move || sources.clients().map(|(_, c)| c.totals().requests).sum(),
                    self.stop.clone(),
                );
                Ok(member)
            })
            .await
            .cloned()
    }

    /// The member, if this process joined.
    pub fn joined(&self) -> Option<&Arc<Member>> {
        self.joined.get()
    }

    /// Stops the heartbeat and records this worker as stopped, with the requests it made.
    pub async fn leave(
        &self,
        db: &sea_orm::DatabaseConnection,
        requests: u64,
    ) -> Result<(), crate::store::StoreError> {
        self.stop.cancel();
        match self.joined.get() {
            Some(member) => cluster::stopped(db, member, requests).await,
            None => Ok(()),
        }
    }
}

/// The one rate of a source the workers share (`rate_scope = "cluster"`): each request takes
/// the cluster's next slot from the run's database and waits for it.
#[derive(Debug)]
struct ClusterPace {
    db: sea_orm::DatabaseConnection,
    run_id: i64,
    source: String,
    period: Duration,
    slack: Duration,
}

#[async_trait::async_trait]
impl crate::sources::pace::SharedPace for ClusterPace {
    async fn turn(&self) {
        match cluster::take_slot(&self.db, self.run_id, &self.source, self.period, self.slack).await
        {
            Ok(wait) => tokio::time::sleep(wait).await,
            Err(e) => {
                // Never faster than the shared rate: without a slot, wait a whole period.
                tracing::warn!(source = %self.source, "no shared request slot: {e}");
                tokio::time::sleep(self.period).await;
            }
        }
    }
}
