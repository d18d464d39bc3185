//! Working through a stage's items: the stage's `concurrency` and `delay`, its failure policy
//! (`on_error`, `max_failures`), stopping early, and Ctrl-C.
//!
//! Items that succeed are marked in the ledger by the stage, inside the transaction that
//! wrote their data, so the ledger never claims what the database lacks. Items that fail or
//! are skipped without writing anything are marked here.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Counters, StageContext, StageOutcome};
use crate::ids::IdSet;
use crate::plan::{MaxFailures, OnError};
use crate::sources::RequestError;
use crate::store::ledger::ItemStatus;

/// How many of a stage's slowest items the report keeps.
pub const SLOWEST: usize = 10;

/// How long one item took, from its start to its result (its waits for the source's rate,
/// the stage's `delay` and retries included), for the report's slowest items.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ItemTime {
    pub key: String,
    pub status: ItemStatus,
    pub seconds: f64,
}

/// How one item ended.
#[derive(Debug)]
pub enum ItemResult {
    /// Done and committed, ledger row included, by the stage; `rows` written.
    Ok { rows: u64 },
    /// Done by another stage of the run; the stage recorded its ledger row.
    Shared,
    /// Nothing to do for this item. `recorded`: the stage already wrote the ledger row in the
    /// transaction that stored what it learnt (OMDb's "no data"); otherwise it is written here.
    Skipped { reason: String, recorded: bool },
    /// This item failed; the stage goes on unless its failure policy says otherwise.
    Failed { error: String, attempts: u32 },
    /// No other item of this stage can succeed now (a rejected key, a spent quota). This
    /// item stays pending, and so do the items not started yet.
    Stop(StageOutcome),
    /// A worker of a shared run lost this item's lease: another worker has it now, and what
    /// this one did was not kept (`store::cluster`).
    Lost(String),
}

impl ItemResult {
    /// The item's status in the ledger after this result.
    fn status(&self) -> ItemStatus {
        match self {
            ItemResult::Ok { .. } | ItemResult::Shared => ItemStatus::Ok,
            ItemResult::Skipped { .. } => ItemStatus::Skipped,
            ItemResult::Failed { .. } => ItemStatus::Failed,
            ItemResult::Stop(_) | ItemResult::Lost(_) => ItemStatus::Pending,
        }
    }
}

/// Spaces a stage's requests by its `delay`, across all of its concurrent tasks.
#[derive(Debug)]
pub struct Pacer {
    delay: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(delay: Duration) -> Self {
        Pacer {
            delay,
            next: Mutex::new(None),
        }
    }

    /// Waits for this stage's next request slot.
    pub async fn wait(&self) {
        if self.delay.is_zero() {
            return;
        }
        let at = reserve(&mut *self.next.lock().await, Instant::now(), self.delay);
        tokio::time::sleep_until(at).await;
    }
}

/// The next free slot at or after `now`, and the slot after it kept in `next`.
fn reserve(next: &mut Option<Instant>, now: Instant, delay: Duration) -> Instant {
    let at = next.map_or(now, |n| n.max(now));
    *next = Some(at + delay);
    at
}

/// Does `work` for each item of `items` (with its ledger key), at most `concurrency` at a
/// time, until the items run out, the failure policy trips, an item says stop, `stop` is
/// cancelled or the run is (Ctrl-C). Items already started always finish.
///
/// Returns `None` when every item was worked through without the policy tripping; the caller
/// decides what that means (usually `Done`).
///
/// Once the stage stops taking items, `items` is no longer polled but lives on (with the
/// caller) while the items in flight finish. So the stream itself must not hold or wait for
/// anything those items need, such as SQLite's only connection: database work it must do
/// goes into a task of its own (see [`pending`]).
pub async fn process<I, S, F, Fut>(
    cx: &StageContext,
    stop: &CancellationToken,
    items: S,
    work: F,
) -> Option<StageOutcome>
where
    S: Stream<Item = (String, I)> + Unpin,
    F: Fn(String, I) -> Fut,
    Fut: Future<Output = ItemResult>,
{
    let concurrency = cx.stage.concurrency.max(1) as usize;
    let run_cancel = cx.run.cancel.clone();
    let stage_stop = stop.clone();
    let stream = items
        .take_until(async move {
            tokio::select! {
                () = run_cancel.cancelled() => {},
                () = stage_stop.cancelled() => {},
            }
        })
        .map(|(key, item)| {
            let work = &work;
            // Each item records its own result: the loop below must not wait for the
            // database while other items' futures (one may hold SQLite's only connection in
            // a transaction) wait for it to poll them.
            async move {
                let began = Instant::now();
                let result = work(key.clone(), item).await;
                cx.time_item(&key, result.status(), began.elapsed());
                record(cx, &key, result).await
            }
        })
        .buffer_unordered(concurrency);
    futures::pin_mut!(stream);

    let mut ended: Option<StageOutcome> = None;
    while let Some(outcome) = stream.next().await {
        if let Some(outcome) = outcome {
            ended.get_or_insert(outcome);
            stop.cancel();
        }
    }
    if ended.is_none() && cx.run.cancel.is_cancelled() {
        return Some(StageOutcome::Interrupted);
    }
    ended
}

/// Items recorded as pending per ledger statement as they arrive.
const PENDING_CHUNK: usize = 256;

/// The items of `ids` still to do, as (ledger key by `key`, id): each recorded as pending
/// before it is worked on (in chunks, as they arrive), each once; items done by an earlier
/// attempt (ok or skipped in `known`) are counted, not redone. When the ledger refuses the
/// write, `fail` is told why (the stage must stop).
pub fn pending<'a>(
    cx: &'a StageContext,
    ids: BoxStream<'a, i64>,
    known: &'a HashMap<String, ItemStatus>,
    key: fn(i64) -> String,
    fail: &'a (dyn Fn(String) + Sync),
) -> BoxStream<'a, (String, i64)> {
    let mut seen = IdSet::default();
    let c = &cx.counters;
    ids.filter(move |id| {
        let new = seen.insert(*id);
        if new {
            Counters::add(&c.total, 1);
            match known.get(&key(*id)) {
                Some(ItemStatus::Ok) => Counters::add(&c.ok, 1),
                Some(ItemStatus::Skipped) => Counters::add(&c.skipped, 1),
                _ => return futures::future::ready(true),
            }
        }
        futures::future::ready(false)
    })
    .ready_chunks(PENDING_CHUNK)
    .then(move |chunk| async move {
        let keys: Vec<String> = chunk.iter().map(|id| key(*id)).collect();
        // The write runs in a task of its own, not in this stream's future. When the stage
        // stops taking items (Ctrl-C, a spent quota), `process` stops polling this stream but
        // keeps it until the items in flight have finished. A write caught in between waits
        // in the pool's fair queue for SQLite's only connection (or holds it), and the pool
        // hands the connection to the first waiter when it is released: to a future that is
        // never polled again. The items in flight (and the fetch stages' saves) then wait for
        // that connection, and `process` waits for them. The run would stall until the 300 s
        // acquire timeout failed them. A task of its own always finishes and releases the
        // connection, whether or not this stream is polled again.
        let (ledger, db, stage) = (cx.ledger().clone(), cx.db().clone(), cx.name().to_owned());
        let recorded = tokio::spawn(async move { ledger.ensure(&db, &stage, &keys).await }).await;
        match recorded {
            Ok(Ok(())) => {}
            Ok(Err(e)) => fail(e.to_string()),
            Err(e) => fail(format!("recording items as pending failed: {e}")),
        }
        stream::iter(chunk.into_iter().map(move |id| (key(id), id)))
    })
    .flatten()
    .boxed()
}

/// An item whose request failed: its tries counted; the stage stops when the source can
/// answer nothing more (a rejected key), else the item failed.
pub fn request_failed(c: &Counters, error: &impl RequestError) -> ItemResult {
    let (attempts, rate_limited) = error.cost();
    c.request(attempts, rate_limited);
    if error.stops_source() {
        return ItemResult::Stop(StageOutcome::Failed(error.to_string()));
    }
    ItemResult::Failed {
        error: error.to_string(),
        attempts,
    }
}

/// Counts one item's result and writes the ledger rows the stage did not; says when the
/// stage must stop.
pub async fn record(cx: &StageContext, key: &str, result: ItemResult) -> Option<StageOutcome> {
    let c = &cx.counters;
    match result {
        ItemResult::Ok { rows } => {
            Counters::add(&c.ok, 1);
            Counters::add(&c.rows, rows);
            None
        }
        ItemResult::Shared => {
            Counters::add(&c.ok, 1);
            Counters::add(&c.shared, 1);
            None
        }
        ItemResult::Skipped { reason, recorded } => {
            Counters::add(&c.skipped, 1);
            tracing::debug!(stage = %cx.name(), item = %key, "skipped: {reason}");
            if recorded {
                return None;
            }
            mark(cx, key, ItemStatus::Skipped, 0, &reason).await
        }
        ItemResult::Failed { error, attempts } => {
            Counters::add(&c.failed, 1);
            tracing::warn!(stage = %cx.name(), item = %key, "failed: {error}");
            if let Some(stop) = mark(cx, key, ItemStatus::Failed, attempts, &error).await {
                return Some(stop);
            }
            policy_so_far(cx)
        }
        ItemResult::Stop(outcome) => {
            // The item that met the stop stays pending.
            Counters::add(&c.pending, 1);
            Some(outcome)
        }
        ItemResult::Lost(why) => {
            // Counted by the worker that holds it now.
            tracing::warn!(stage = %cx.name(), item = %key, "{why}");
            None
        }
    }
}

async fn mark(
    cx: &StageContext,
    key: &str,
    status: ItemStatus,
    attempts: u32,
    why: &str,
) -> Option<StageOutcome> {
    let ledger = cx.ledger();
    match ledger
        .mark(cx.db(), cx.name(), key, status, attempts, Some(why))
        .await
    {
        Ok(()) => None,
        Err(e @ crate::store::StoreError::LeaseLost { .. }) => {
            tracing::warn!(stage = %cx.name(), item = %key, "{e}");
            None
        }
        Err(e) => Some(StageOutcome::Failed(format!(
            "cannot record item {key} in the ledger: {e}"
        ))),
    }
}

/// Whether the failures counted so far fail the stage now (a count policy, or `on_error =
/// "fail"`; a ratio waits for the end).
pub fn policy_so_far(cx: &StageContext) -> Option<StageOutcome> {
    let v = cx.counters.values();
    policy_trips(
        cx.stage.on_error,
        cx.stage.max_failures,
        v.failed,
        v.total,
        false,
    )
    .map(StageOutcome::Failed)
}

/// Whether `failed` failed items out of `total` fail the stage. A ratio is judged only once
/// the stage has finished (`finished`), when the total is known; a count as soon as it is
/// passed. With `on_error = "fail"` and no `max_failures`, one failure is enough.
pub fn policy_trips(
    on_error: OnError,
    max_failures: Option<MaxFailures>,
    failed: u64,
    total: u64,
    finished: bool,
) -> Option<String> {
    if failed == 0 {
        return None;
    }
    match (max_failures, on_error) {
        (Some(MaxFailures::Count(n)), _) => {
            (failed > n).then(|| format!("{failed} items failed, more than max_failures = {n}"))
        }
        (Some(MaxFailures::Ratio(r)), _) => {
            if !finished || total == 0 {
                return None;
            }
            let ratio = failed as f64 / total as f64;
            (ratio > r).then(|| {
                format!(
                    "{failed} of {total} items failed ({:.1}%), more than max_failures = {:.1}%",
                    ratio * 100.0,
                    r * 100.0
                )
            })
        }
        (None, OnError::Fail) => Some(if failed == 1 {
            "an item failed and on_error = \"fail\"".to_owned()
        } else {
            format!("{failed} items failed and on_error = \"fail\"")
        }),
        (None, OnError::Continue) => None,
    }
}

/// What a stage that worked through its items ends as: `Done` unless the policy, judged on
/// the final counts, fails it.
pub fn finish(cx: &StageContext, stopped: Option<StageOutcome>) -> StageOutcome {
    if let Some(outcome) = stopped {
        return outcome;
    }
    let v = cx.counters.values();
    match policy_trips(
        cx.stage.on_error,
        cx.stage.max_failures,
        v.failed,
        v.total,
        true,
    ) {
        Some(why) => StageOutcome::Failed(why),
        None => StageOutcome::Done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_policy() {
        use MaxFailures::*;
        use OnError::*;
        assert_eq!(policy_trips(Fail, None, 0, 10, false), None);
        assert!(policy_trips(Fail, None, 1, 10, false).is_some());
        assert_eq!(policy_trips(Continue, None, 5, 10, true), None);
        assert_eq!(policy_trips(Fail, Some(Count(2)), 2, 10, false), None);
        assert!(policy_trips(Continue, Some(Count(2)), 3, 10, false).is_some());
        // A ratio waits for the end, when the total is known.
        assert_eq!(policy_trips(Fail, Some(Ratio(0.1)), 5, 10, false), None);
        assert!(policy_trips(Fail, Some(Ratio(0.1)), 5, 10, true).is_some());
        assert_eq!(policy_trips(Fail, Some(Ratio(0.5)), 5, 10, true), None);
    }

    #[test]
    fn the_pacer_hands_out_spaced_slots() {
        let d = Duration::from_millis(100);
        let t0 = Instant::now();
        let mut next = None;
        // Four tasks asking at once get slots 100 ms apart.
        let slots: Vec<Duration> = (0..4).map(|_| reserve(&mut next, t0, d) - t0).collect();
        assert_eq!(
            slots,
            [0, 100, 200, 300].map(Duration::from_millis).to_vec()
        );
        // A request long after the last slot goes at once.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(reserve(&mut next, later, d), later);
    }
}
