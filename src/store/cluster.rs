//! One run shared by several worker processes through PostgreSQL: the work queue is the run
//! ledger itself (`import_items`), as Oban, River and graphile-worker keep theirs in the
//! database their users already run — no broker, no server of popctl's own.
//!
//! - A worker registers (`import_workers`) and **claims** a few pending items of an open stage
//!   with `FOR UPDATE SKIP LOCKED`: two workers never get the same item, and neither waits for
//!   the other's locks. A claim is a **lease** (`lease_until`, on the database server's clock,
//!   so the workers' clocks do not matter); the worker's heartbeat pushes its leases forward.
//!   A worker that dies (kill -9, lost network) stops beating, its leases run out, and
//!   another worker claims those items again.
//! - An item's result is written **fenced**: only while the writer still holds the claim
//!   ([`finish`]), inside the transaction that stored its data. A worker that lost its lease
//!   (it was cut off longer than the lease) cannot overwrite what the new holder did; its
//!   transaction is rolled back, so an item's data is written once.
//! - The process that runs the plan's graph opens a stage to the workers (`import_stages`)
//!   when it starts and ends it when every item is finished, so stages stay a graph across
//!   workers.
//!
//! SQL is written by hand here: claiming with `SKIP LOCKED`, leases on the server's clock and
//! fenced updates are PostgreSQL's, and the statements are short.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};

use super::error::StoreError;
use super::ledger::ItemStatus;

/// How a worker is known to the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    pub host: String,
    pub pid: u32,
    /// The local address its requests leave from, when it was given one.
    pub address: Option<String>,
}

impl WorkerInfo {
    /// This process.
    pub fn this_process(address: Option<String>) -> WorkerInfo {
        let host = hostname::get()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "unknown".to_owned());
        WorkerInfo {
            host,
            pid: std::process::id(),
            address,
        }
    }
}

/// A worker of a run as recorded, for `popctl status` and the run report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkerRow {
    pub id: i64,
    pub host: String,
    pub pid: i64,
    pub address: Option<String>,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub items_done: i64,
    pub requests: i64,
    /// The lease it claims items under (it beats every third of it); `None` when not recorded.
    pub lease: Option<Duration>,
    /// Seconds since its last heartbeat, by the database server's clock.
    pub silent_seconds: f64,
}

/// A stage as the workers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageState {
    /// Its items may be claimed.
    Open,
    /// Over: nothing more is claimed.
    Ended,
}

impl StageState {
    fn as_str(self) -> &'static str {
        match self {
            StageState::Open => "open",
            StageState::Ended => "ended",
        }
    }
}

/// This process as a worker of one run: its id, its lease, and the items it holds now.
#[derive(Debug)]
pub struct Member {
    pub worker_id: i64,
    pub run_id: i64,
    pub lease: Duration,
    /// Claimed and not finished, by stage.
    held: Mutex<HashMap<String, HashSet<String>>>,
    /// Items this worker finished.
    done: AtomicU64,
}

impl Member {
    pub fn new(worker_id: i64, run_id: i64, lease: Duration) -> Member {
        Member {
            worker_id,
            run_id,
            lease,
            held: Mutex::new(HashMap::new()),
            done: AtomicU64::new(0),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashSet<String>>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this worker holds `key` of `stage` (claimed, not finished).
    pub fn holds(&self, stage: &str, key: &str) -> bool {
        self.held()
            .get(stage)
            .is_some_and(|keys| keys.contains(key))
    }

    fn forget(&self, stage: &str, key: &str) {
        if let Some(keys) = self.held().get_mut(stage) {
            keys.remove(key);
        }
    }

    /// Items this worker finished so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// The keys held now, by stage.
    fn snapshot(&self) -> Vec<(String, Vec<String>)> {
        self.held()
            .iter()
            .filter(|(_, keys)| !keys.is_empty())
            .map(|(stage, keys)| (stage.clone(), keys.iter().cloned().collect()))
            .collect()
    }
}

fn pg(what: &str, db: &impl ConnectionTrait) -> Result<(), StoreError> {
    match db.get_database_backend() {
        DbBackend::Postgres => Ok(()),
        _ => Err(StoreError::OneWriter {
            what: what.to_owned(),
        }),
    }
}

fn stmt(sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

fn secs(d: Duration) -> Value {
    d.as_secs_f64().into()
}

/// Records a worker of run `run_id`; its id.
pub async fn register(
    db: &DatabaseConnection,
    run_id: i64,
    info: &WorkerInfo,
    lease: Duration,
) -> Result<i64, StoreError> {
    pg("sharing a run between workers", db)?;
    let what = || format!("registering a worker of run {run_id}");
    let row = db
        .query_one_raw(stmt(
            "INSERT INTO import_workers \
             (run_id, host, pid, address, started_at, heartbeat_at, items_done, requests, \
             lease_ms) VALUES ($1, $2, $3, $4, now(), now(), 0, 0, $5) RETURNING id",
            vec![
                run_id.into(),
                info.host.clone().into(),
                i64::from(info.pid).into(),
                info.address.clone().into(),
                i64::try_from(lease.as_millis()).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await
        .map_err(StoreError::query(what()))?;
    let row = row.ok_or_else(|| StoreError::Query {
        what: what(),
        source: sea_orm::DbErr::RecordNotInserted,
    })?;
    row.try_get::<i64>("", "id")
        .map_err(StoreError::query(what()))
}

/// The heartbeat: the worker's row says it lives (with its counts) and its leases reach
/// `lease` past now. False when its row is gone (the run's tables were reset under it).
pub async fn heartbeat(
    db: &DatabaseConnection,
    member: &Member,
    requests: u64,
) -> Result<bool, StoreError> {
    let what = || format!("the heartbeat of worker {}", member.worker_id);
    let n = db
        .execute_raw(stmt(
            "UPDATE import_workers SET heartbeat_at = now(), items_done = $2, requests = $3 \
             WHERE id = $1",
            vec![
                member.worker_id.into(),
                i64::try_from(member.done()).unwrap_or(i64::MAX).into(),
                i64::try_from(requests).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await
        .map_err(StoreError::query(what()))?
        .rows_affected();
    for (stage, keys) in member.snapshot() {
        update_keys(
            db,
            "SET lease_until = now() + make_interval(secs => $4) \
             WHERE run_id = $1 AND stage = $2 AND claimed_by = $3 AND status = 'pending'",
            vec![
                member.run_id.into(),
                stage.clone().into(),
                member.worker_id.into(),
                secs(member.lease),
            ],
            &keys,
            what,
        )
        .await?;
    }
    Ok(n > 0)
}

/// `(column LIKE $first OR column LIKE $first+1 …)`: keys that start with one of `prefixes`;
/// the placeholders' values.
fn prefix_match(column: &str, prefixes: &[&str], first: usize) -> (String, Vec<Value>) {
    let each: Vec<String> = (0..prefixes.len())
        .map(|i| format!("{column} LIKE ${}", first + i))
        .collect();
    let values = prefixes.iter().map(|p| format!("{p}%").into()).collect();
    (format!("({})", each.join(" OR ")), values)
}

/// `$first, $first+1, …` for `keys`, and their values.
fn key_list(keys: &[String], first: usize) -> (String, Vec<Value>) {
    let list = (0..keys.len())
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(", ");
    (list, keys.iter().map(|k| k.clone().into()).collect())
}

/// Claims at most `n` pending items of `stage` whose keys start with `prefix` (`movie:`) that
/// no live lease holds, oldest found first; their keys. An item whose key a live lease holds in
/// one of the stages `waits_for` (another fetch stage of the run fetching the same movie) is
/// left for later, when that stage's result can serve it. Each is held by `member` until its
/// lease runs out or it is finished.
pub async fn claim(
    db: &DatabaseConnection,
    member: &Member,
    stage: &str,
    prefixes: &[&str],
    n: usize,
    waits_for: &[String],
) -> Result<Vec<String>, StoreError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let what = || format!("claiming items of stage {stage}");
    let (kinds, kind_values) = prefix_match("i.item_key", prefixes, 6);
    let (others, other_values) = key_list(waits_for, 6 + prefixes.len());
    let busy_elsewhere = if waits_for.is_empty() {
        String::new()
    } else {
        format!(
            "AND NOT EXISTS (SELECT 1 FROM import_items o WHERE o.run_id = $1 \
             AND o.stage IN ({others}) AND o.item_key = i.item_key \
             AND o.status = 'pending' AND o.lease_until >= now()) "
        )
    };
    let mut values: Vec<Value> = vec![
        member.run_id.into(),
        stage.to_owned().into(),
        member.worker_id.into(),
        i64::try_from(n).unwrap_or(i64::MAX).into(),
        secs(member.lease),
    ];
    values.extend(kind_values);
    values.extend(other_values);
    // Stages that wait for each other's claims claim one at a time: two claims at once would
    // not see each other's (uncommitted) leases and could take the same movie.
    let txn = super::begin(db).await?;
    if !waits_for.is_empty() {
        txn.execute_raw(stmt(
            "SELECT pg_advisory_xact_lock(hashtext('popctl claim'), CAST($1 % 2147483647 AS integer))",
            vec![member.run_id.into()],
        ))
        .await
        .map_err(StoreError::query(what()))?;
    }
    let rows = txn
        .query_all_raw(stmt(
            &format!(
                "UPDATE import_items SET claimed_by = $3, \
                 lease_until = now() + make_interval(secs => $5) \
                 WHERE id IN (SELECT i.id FROM import_items i \
                   WHERE i.run_id = $1 AND i.stage = $2 AND i.status = 'pending' \
                   AND {kinds} \
                   AND (i.lease_until IS NULL OR i.lease_until < now()) \
                   {busy_elsewhere}\
                   ORDER BY i.id LIMIT $4 FOR UPDATE OF i SKIP LOCKED) \
                 RETURNING item_key"
            ),
            values,
        ))
        .await
        .map_err(StoreError::query(what()))?;
    txn.commit().await.map_err(StoreError::query(what()))?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        keys.push(
            row.try_get::<String>("", "item_key")
                .map_err(StoreError::query(what()))?,
        );
    }
    member
        .held()
        .entry(stage.to_owned())
        .or_default()
        .extend(keys.iter().cloned());
    Ok(keys)
}

/// Writes the result of an item `member` holds, only while it still holds it; in the
/// transaction (`conn`) that wrote the item's data, so a worker that lost the item writes
/// nothing of it. [`StoreError::LeaseLost`] when it no longer holds it. `updated_at` is the
/// statement's time, not the transaction's start (`now()`), so the runner, which reads the
/// others' results by it, sees a slow save near when it commits.
#[allow(clippy::too_many_arguments)]
pub async fn finish<C: ConnectionTrait>(
    conn: &C,
    member: &Member,
    stage: &str,
    key: &str,
    status: ItemStatus,
    attempts: u32,
    last_error: Option<&str>,
) -> Result<(), StoreError> {
    let n = conn
        .execute_raw(stmt(
            "UPDATE import_items SET status = $5, attempts = $6, last_error = $7, \
             updated_at = clock_timestamp(), lease_until = NULL \
             WHERE run_id = $1 AND stage = $2 AND item_key = $3 AND claimed_by = $4 \
             AND status = 'pending'",
            vec![
                member.run_id.into(),
                stage.to_owned().into(),
                key.to_owned().into(),
                member.worker_id.into(),
                status.as_str().into(),
                i32::try_from(attempts).unwrap_or(i32::MAX).into(),
                last_error.map(str::to_owned).into(),
            ],
        ))
        .await
        .map_err(StoreError::query(format!(
            "recording item {key} of stage {stage}"
        )))?
        .rows_affected();
    member.forget(stage, key);
    if n == 0 {
        return Err(StoreError::LeaseLost {
            stage: stage.to_owned(),
            key: key.to_owned(),
        });
    }
    member.done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Makes the failed items among `keys` of `stage` pending again, free to claim: a resumed
/// run tries its failed movies again, as a run of one process does.
pub async fn retry_failed(
    db: &DatabaseConnection,
    run_id: i64,
    stage: &str,
    keys: &[String],
) -> Result<(), StoreError> {
    update_keys(
        db,
        "SET status = 'pending', claimed_by = NULL, lease_until = NULL \
         WHERE run_id = $1 AND stage = $2 AND status = 'failed'",
        vec![run_id.into(), stage.to_owned().into()],
        keys,
        || format!("making the failed items of stage {stage} pending again"),
    )
    .await
}

/// Gives back the items of `stage` that `member` holds and did not finish (the stage stopped
/// with them claimed), so another worker, or a resumed run, takes them at once.
pub async fn release(
    db: &DatabaseConnection,
    member: &Member,
    stage: &str,
) -> Result<(), StoreError> {
    let keys: Vec<String> = member
        .held()
        .remove(stage)
        .map(|k| k.into_iter().collect())
        .unwrap_or_default();
    update_keys(
        db,
        "SET claimed_by = NULL, lease_until = NULL \
         WHERE run_id = $1 AND stage = $2 AND claimed_by = $3 AND status = 'pending'",
        vec![
            member.run_id.into(),
            stage.to_owned().into(),
            member.worker_id.into(),
        ],
        &keys,
        || format!("giving back the items of stage {stage}"),
    )
    .await
}

/// `UPDATE import_items {head} AND item_key IN (…)` for `keys`, a chunk at a time; `head`'s
/// parameters are `values`, the keys' follow them.
async fn update_keys(
    db: &DatabaseConnection,
    head: &str,
    values: Vec<Value>,
    keys: &[String],
    what: impl Fn() -> String,
) -> Result<(), StoreError> {
    for chunk in keys.chunks(500) {
        let (list, listed) = key_list(chunk, values.len() + 1);
        let mut all = values.clone();
        all.extend(listed);
        db.execute_raw(stmt(
            &format!("UPDATE import_items {head} AND item_key IN ({list})"),
            all,
        ))
        .await
        .map_err(StoreError::query(what()))?;
    }
    Ok(())
}

/// Records that `member` stopped (its items given back first by [`release`]), with its
/// final counts.
pub async fn stopped(
    db: &DatabaseConnection,
    member: &Member,
    requests: u64,
) -> Result<(), StoreError> {
    db.execute_raw(stmt(
        "UPDATE import_workers SET stopped_at = now(), heartbeat_at = now(), items_done = $2, \
         requests = $3 WHERE id = $1",
        vec![
            member.worker_id.into(),
            i64::try_from(member.done()).unwrap_or(i64::MAX).into(),
            i64::try_from(requests).unwrap_or(i64::MAX).into(),
        ],
    ))
    .await
    .map_err(StoreError::query(format!(
        "recording that worker {} stopped",
        member.worker_id
    )))?;
    Ok(())
}

/// What a worker did in one stage of a shared run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageCounts {
    pub items: u64,
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub rows: u64,
}

/// Records what `member` did in `stage` (when its part of the stage ended).
pub async fn record_stage(
    db: &DatabaseConnection,
    member: &Member,
    stage: &str,
    counts: StageCounts,
) -> Result<(), StoreError> {
    let n = |v: u64| sea_orm::Value::from(i64::try_from(v).unwrap_or(i64::MAX));
    db.execute_raw(stmt(
        "INSERT INTO import_worker_stages \
         (worker_id, stage, items, requests, retries, rate_limited, rows) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (worker_id, stage) DO UPDATE SET items = EXCLUDED.items, \
         requests = EXCLUDED.requests, retries = EXCLUDED.retries, \
         rate_limited = EXCLUDED.rate_limited, rows = EXCLUDED.rows",
        vec![
            member.worker_id.into(),
            stage.to_owned().into(),
            n(counts.items),
            n(counts.requests),
            n(counts.retries),
            n(counts.rate_limited),
            n(counts.rows),
        ],
    ))
    .await
    .map_err(StoreError::query(format!(
        "recording what worker {} did in stage {stage}",
        member.worker_id
    )))?;
    Ok(())
}

/// What the workers of run `run_id` other than `member` did, summed per stage.
pub async fn others_by_stage(
    db: &DatabaseConnection,
    member: &Member,
) -> Result<HashMap<String, StageCounts>, StoreError> {
    let what = || format!("reading what the workers of run {} did", member.run_id);
    let rows = db
        .query_all_raw(stmt(
            "SELECT s.stage, CAST(SUM(s.items) AS BIGINT) AS items, \
             CAST(SUM(s.requests) AS BIGINT) AS requests, \
             CAST(SUM(s.retries) AS BIGINT) AS retries, \
             CAST(SUM(s.rate_limited) AS BIGINT) AS rate_limited, \
             CAST(SUM(s.rows) AS BIGINT) AS rows \
             FROM import_worker_stages s JOIN import_workers w ON w.id = s.worker_id \
             WHERE w.run_id = $1 AND w.id <> $2 GROUP BY s.stage",
            vec![member.run_id.into(), member.worker_id.into()],
        ))
        .await
        .map_err(StoreError::query(what()))?;
    let mut out = HashMap::new();
    for row in rows {
        let get = |col: &str| -> Result<u64, StoreError> {
            let v: i64 = row.try_get("", col).map_err(StoreError::query(what()))?;
            Ok(u64::try_from(v).unwrap_or(0))
        };
        let stage: String = row
            .try_get("", "stage")
            .map_err(StoreError::query(what()))?;
        out.insert(
            stage,
            StageCounts {
                items: get("items")?,
                requests: get("requests")?,
                retries: get("retries")?,
                rate_limited: get("rate_limited")?,
                rows: get("rows")?,
            },
        );
    }
    Ok(out)
}

/// Takes the next request slot of `source` in run `run_id`, shared by every worker (a source
/// with `rate_scope = "cluster"`): slots are `period` apart on the database server's clock,
/// and may lag it by `slack` (the source's burst) to pay back a quiet spell. How long to wait
/// for the slot taken.
pub async fn take_slot(
    db: &DatabaseConnection,
    run_id: i64,
    source: &str,
    period: Duration,
    slack: Duration,
) -> Result<Duration, StoreError> {
    let what = || format!("taking a request slot of source {source}");
    let row = db
        .query_one_raw(stmt(
            "INSERT INTO import_budgets AS b (run_id, source, next_at) \
             VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3)) \
             ON CONFLICT (run_id, source) DO UPDATE SET next_at = \
               GREATEST(b.next_at, clock_timestamp() - make_interval(secs => $4)) \
               + make_interval(secs => $3) \
             RETURNING CAST(EXTRACT(EPOCH FROM (next_at - make_interval(secs => $3) \
               - clock_timestamp())) AS DOUBLE PRECISION) AS wait",
            vec![
                run_id.into(),
                source.to_owned().into(),
                secs(period),
                secs(slack),
            ],
        ))
        .await
        .map_err(StoreError::query(what()))?;
    let wait: f64 = match row {
        Some(r) => r.try_get("", "wait").map_err(StoreError::query(what()))?,
        None => 0.0,
    };
    Ok(Duration::try_from_secs_f64(wait.max(0.0)).unwrap_or(Duration::ZERO))
}

/// Opens `stage` of run `run_id` to the workers, or ends it.
pub async fn set_stage(
    db: &DatabaseConnection,
    run_id: i64,
    stage: &str,
    state: StageState,
) -> Result<(), StoreError> {
    pg("sharing a stage between workers", db)?;
    db.execute_raw(stmt(
        "INSERT INTO import_stages (run_id, stage, state, updated_at) VALUES ($1, $2, $3, now()) \
         ON CONFLICT (run_id, stage) DO UPDATE SET state = excluded.state, updated_at = now()",
        vec![
            run_id.into(),
            stage.to_owned().into(),
            state.as_str().into(),
        ],
    ))
    .await
    .map_err(StoreError::query(format!(
        "recording stage {stage} as {}",
        state.as_str()
    )))?;
    Ok(())
}

/// The stages of run `run_id` open to workers now.
pub async fn open_stages(db: &DatabaseConnection, run_id: i64) -> Result<Vec<String>, StoreError> {
    let what = || format!("listing the open stages of run {run_id}");
    let rows = db
        .query_all_raw(stmt(
            "SELECT stage FROM import_stages WHERE run_id = $1 AND state = 'open' ORDER BY stage",
            vec![run_id.into()],
        ))
        .await
        .map_err(StoreError::query(what()))?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "stage"))
        .collect::<Result<_, _>>()
        .map_err(StoreError::query(what()))
}

/// Whether `stage` of run `run_id` is open to workers.
pub async fn is_open(
    db: &DatabaseConnection,
    run_id: i64,
    stage: &str,
) -> Result<bool, StoreError> {
    Ok(open_stages(db, run_id).await?.iter().any(|s| s == stage))
}

/// The stage of `stages` that saved `key` in run `run_id` (its item is `ok`), if one did.
pub async fn done_elsewhere(
    db: &DatabaseConnection,
    run_id: i64,
    stages: &[String],
    key: &str,
) -> Result<Option<String>, StoreError> {
    if stages.is_empty() {
        return Ok(None);
    }
    let what = || format!("looking for {key} in the run's other stages");
    let (list, mut values) = key_list(stages, 3);
    values.splice(0..0, [run_id.into(), key.to_owned().into()]);
    let row = db
        .query_one_raw(stmt(
            &format!(
                "SELECT stage FROM import_items WHERE run_id = $1 AND item_key = $2 \
                 AND stage IN ({list}) AND status = 'ok' ORDER BY id LIMIT 1"
            ),
            values,
        ))
        .await
        .map_err(StoreError::query(what()))?;
    match row {
        Some(row) => Ok(Some(
            row.try_get("", "stage")
                .map_err(StoreError::query(what()))?,
        )),
        None => Ok(None),
    }
}

/// How many items of `stage` whose keys start with one of `prefixes` are still pending,
/// claimed or not.
pub async fn pending_items(
    db: &DatabaseConnection,
    run_id: i64,
    stage: &str,
    prefixes: &[&str],
) -> Result<u64, StoreError> {
    let what = || format!("counting the pending items of stage {stage}");
    let (kinds, kind_values) = prefix_match("item_key", prefixes, 3);
    let mut values: Vec<Value> = vec![run_id.into(), stage.to_owned().into()];
    values.extend(kind_values);
    let row = db
        .query_one_raw(stmt(
            &format!(
                "SELECT COUNT(*) AS n FROM import_items WHERE run_id = $1 AND stage = $2 \
                 AND status = 'pending' AND {kinds}"
            ),
            values,
        ))
        .await
        .map_err(StoreError::query(what()))?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "n").map_err(StoreError::query(what()))?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// An item another worker finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub key: String,
    pub status: ItemStatus,
    pub updated_at: DateTime<Utc>,
}

/// The items of `stage` finished by workers other than `member` since `since` (the server's
/// clock), oldest first.
pub async fn finished_by_others(
    db: &DatabaseConnection,
    member: &Member,
    stage: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<Finished>, StoreError> {
    let what = || format!("reading what other workers finished of stage {stage}");
    let since = since.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let rows = db
        .query_all_raw(stmt(
            "SELECT item_key, status, updated_at FROM import_items \
             WHERE run_id = $1 AND stage = $2 AND updated_at >= $3 \
             AND status <> 'pending' AND claimed_by IS NOT NULL AND claimed_by <> $4 \
             ORDER BY updated_at",
            vec![
                member.run_id.into(),
                stage.to_owned().into(),
                since.into(),
                member.worker_id.into(),
            ],
        ))
        .await
        .map_err(StoreError::query(what()))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let status: String = row
            .try_get("", "status")
            .map_err(StoreError::query(what()))?;
        out.push(Finished {
            key: row
                .try_get("", "item_key")
                .map_err(StoreError::query(what()))?,
            status: ItemStatus::parse(&status)?,
            updated_at: row
                .try_get("", "updated_at")
                .map_err(StoreError::query(what()))?,
        });
    }
    Ok(out)
}

/// The workers of run `run_id`, in the order they joined.
pub async fn workers(db: &DatabaseConnection, run_id: i64) -> Result<Vec<WorkerRow>, StoreError> {
    let what = || format!("listing the workers of run {run_id}");
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(Vec::new());
    }
    let rows = db
        .query_all_raw(stmt(
            "SELECT id, host, pid, address, started_at, heartbeat_at, stopped_at, items_done, \
             requests, lease_ms, CAST(EXTRACT(EPOCH FROM (now() - heartbeat_at)) AS DOUBLE PRECISION) \
             AS silent FROM import_workers WHERE run_id = $1 ORDER BY id",
            vec![run_id.into()],
        ))
        .await
        .map_err(StoreError::query(what()))?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let get = |e| StoreError::query(what())(e);
        out.push(WorkerRow {
            id: r.try_get("", "id").map_err(get)?,
            host: r.try_get("", "host").map_err(get)?,
            pid: r.try_get("", "pid").map_err(get)?,
            address: r.try_get("", "address").map_err(get)?,
            started_at: r.try_get("", "started_at").map_err(get)?,
            heartbeat_at: r.try_get("", "heartbeat_at").map_err(get)?,
            stopped_at: r.try_get("", "stopped_at").map_err(get)?,
            items_done: r.try_get("", "items_done").map_err(get)?,
            requests: r.try_get("", "requests").map_err(get)?,
            lease: r
                .try_get::<Option<i64>>("", "lease_ms")
                .map_err(get)?
                .and_then(|ms| u64::try_from(ms).ok())
                .map(Duration::from_millis),
            silent_seconds: r.try_get("", "silent").map_err(get)?,
        });
    }
    Ok(out)
}

/// The newest run of plan `plan_name` (with `plan_hash`) that is running: what a worker
/// joins.
pub async fn running_run(
    db: &DatabaseConnection,
    plan_name: &str,
    plan_hash: &str,
) -> Result<Option<i64>, StoreError> {
    let what = || format!("finding a running run of plan {plan_name}");
    let row = db
        .query_one_raw(stmt(
            "SELECT id, plan_hash, status FROM import_runs WHERE plan_name = $1 \
             ORDER BY id DESC LIMIT 1",
            vec![plan_name.to_owned().into()],
        ))
        .await
        .map_err(StoreError::query(what()))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let status: String = row
        .try_get("", "status")
        .map_err(StoreError::query(what()))?;
    let hash: String = row
        .try_get("", "plan_hash")
        .map_err(StoreError::query(what()))?;
    if status != "running" || hash != plan_hash {
        return Ok(None);
    }
    Ok(Some(
        row.try_get("", "id").map_err(StoreError::query(what()))?,
    ))
}

/// Whether run `run_id` is still running.
pub async fn is_running(db: &DatabaseConnection, run_id: i64) -> Result<bool, StoreError> {
    Ok(run_status(db, run_id).await?.as_deref() == Some("running"))
}

/// The status of run `run_id` (`running`, `ok`, …), if `db` has it.
pub async fn run_status(
    db: &DatabaseConnection,
    run_id: i64,
) -> Result<Option<String>, StoreError> {
    let what = || format!("reading the status of run {run_id}");
    let row = db
        .query_one_raw(stmt(
            "SELECT status FROM import_runs WHERE id = $1",
            vec![run_id.into()],
        ))
        .await
        .map_err(StoreError::query(what()))?;
    row.map(|r| r.try_get::<String>("", "status"))
        .transpose()
        .map_err(StoreError::query(what()))
}
