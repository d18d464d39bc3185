//! `popctl status`: the recent runs recorded in a database's ledger, how each ended, its
//! item counts, the worker processes that shared a run (PostgreSQL) and the failed items of a
//! run with their errors.

use std::fmt::Write as _;

use chrono::SecondsFormat;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::report::Shell;
use crate::report::events::Event;
use crate::secret::redact_url;
use crate::stages::ledger::STAGE_KEY;
use crate::store::cluster::{self, WorkerRow};
use crate::store::ledger::{self, Run};
use crate::store::{self, StoreError};

/// A worker silent for longer than twice its lease is taken for lost: it has missed five
/// heartbeats by then (one every third of the lease), and the items it held are already free
/// for the others to claim. A worker whose lease was not recorded is judged by the default
/// lease, 30 s.
fn lost_after_seconds(worker: &WorkerRow) -> f64 {
    2.0 * worker.lease.map_or(30.0, |l| l.as_secs_f64())
}

/// Why `status` has nothing to show.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StatusError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] StoreError),

    #[error("run {id} is not recorded in {url}")]
    #[diagnostic(code(popctl::status::no_such_run))]
    NoSuchRun {
        id: i64,
        /// With any password removed.
        url: String,
        #[help]
        help: String,
    },

    #[error("run {id} is a run of plan `{found}`, not of `{plan}`")]
    #[diagnostic(
        code(popctl::status::run_of_another_plan),
        help("leave out --plan (give the database with --url) to see runs of every plan")
    )]
    RunOfAnotherPlan {
        id: i64,
        found: String,
        plan: String,
    },
}

#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    /// Only runs of this plan.
    pub plan: Option<String>,
    /// How many runs to show, newest first.
    pub limit: u64,
    /// Whose failed items to show; the newest shown run when `None`.
    pub run: Option<i64>,
    /// Failed items shown at most.
    pub max_failed: usize,
}

/// Item counts of one run, stage markers left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub ok: u64,
    pub failed: u64,
    pub skipped: u64,
    pub pending: u64,
}

/// What `status` found, for the `status` message: each part as JSON beside the text.
#[derive(Default)]
struct Found {
    runs: Vec<serde_json::Value>,
    failed: Option<serde_json::Value>,
    new_database: Option<serde_json::Value>,
}

impl Found {
    fn print(self, out: &str, opts: &Options, shell: &Shell) {
        if shell.is_json() {
            shell.event(&Event::Status {
                database: redact_url(&opts.url),
                runs: self.runs,
                failed: self.failed,
                new_database: self.new_database,
            });
        } else {
            shell.out_text(out);
        }
    }
}

/// Prints the runs, the failed items and any new database being built beside this one. A run
/// asked for with `--run` that is in neither database is an error, not an empty list.
pub async fn run(opts: &Options, shell: &Shell) -> Result<(), StatusError> {
    let mut out = String::new();
    let mut found = Found::default();
    let db = match store::connect_existing(&opts.url).await {
        Ok(db) => db,
        // The first run of a plan that swaps leaves no live file until it ends well; its new
        // database is what there is to show.
        Err(StoreError::NoDatabase { path }) => {
            let next = pending(None, opts).await?;
            if next.text.is_empty() {
                return Err(StoreError::NoDatabase { path }.into());
            }
            if let Some(id) = opts.run
                && !next.has_run
            {
                return Err(no_such_run(id, &opts.url, None));
            }
            shell.note(format!("no database at {path} yet"));
            out.push_str(next.text.trim_start());
            found.new_database = next.json;
            found.print(&out, opts, shell);
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let result = live(&db, opts, shell, &mut out, &mut found).await;
    db.close().await.ok();
    result?;
    found.print(&out, opts, shell);
    Ok(())
}

/// The live database's part of `status`, then the new database's, into `out`.
async fn live(
    db: &DatabaseConnection,
    opts: &Options,
    shell: &Shell,
    out: &mut String,
    answer: &mut Found,
) -> Result<(), StatusError> {
    let schema = store::schema_status(db).await?;
    let applied = |part: &str| {
        schema
            .iter()
            .any(|(name, applied)| name.contains(part) && *applied)
    };
    let migrated = applied("run_ledger");
    // A database last migrated by an older popctl has no workers table to read.
    let shared = applied("run_workers");
    let mut newest = None;
    let mut found = false;
    if migrated {
        let runs = ledger::recent_runs(db, opts.plan.as_deref(), opts.limit).await?;
        newest = runs.first().map(|r| r.id);
        if runs.is_empty() {
            let _ = writeln!(
                out,
                "no runs recorded{}",
                opts.plan
                    .as_ref()
                    .map(|p| format!(" for plan `{p}`"))
                    .unwrap_or_default()
            );
        } else {
            let (text, rows) = runs_table(db, &runs, shared).await?;
            out.push_str(&text);
            answer.runs = rows;
        }
        match opts.run {
            Some(id) => {
                if let Some(plan) = run_plan(db, id).await? {
                    if let Some(asked) = opts.plan.as_ref().filter(|p| **p != plan) {
                        return Err(StatusError::RunOfAnotherPlan {
                            id,
                            found: plan,
                            plan: asked.clone(),
                        });
                    }
                    found = true;
                    out.push_str(&workers_section(db, id, shared).await?);
                    let (text, failed) = failed_section(db, id, opts).await?;
                    out.push_str(&text);
                    answer.failed = Some(failed);
                }
            }
            None => {
                if let Some(id) = newest {
                    out.push_str(&workers_section(db, id, shared).await?);
                    let (text, failed) = failed_section(db, id, opts).await?;
                    out.push_str(&text);
                    answer.failed = Some(failed);
                }
            }
        }
    } else {
        shell.note(format!(
            "{} has no run ledger yet: no run was recorded there",
            redact_url(&opts.url)
        ));
    }
    let next = pending(Some(db), opts).await?;
    if let Some(id) = opts.run
        && !found
        && !next.has_run
    {
        return Err(no_such_run(id, &opts.url, newest));
    }
    out.push_str(&next.text);
    answer.new_database = next.json;
    Ok(())
}

fn no_such_run(id: i64, url: &str, newest: Option<i64>) -> StatusError {
    StatusError::NoSuchRun {
        id,
        url: redact_url(url),
        help: match newest {
            Some(n) => format!(
                "the newest run there is {n}; `popctl status` without --run lists the recent ones"
            ),
            None => "no run is recorded there yet".to_owned(),
        },
    }
}

/// The plan of run `id`, or `None` when no such run is recorded.
async fn run_plan(db: &DatabaseConnection, id: i64) -> Result<Option<String>, StoreError> {
    let stmt = Query::select()
        .column("plan_name")
        .from("import_runs")
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    let what = || format!("looking up run {id}");
    match db
        .query_one(&stmt)
        .await
        .map_err(StoreError::query(what()))?
    {
        Some(row) => Ok(Some(
            row.try_get("", "plan_name")
                .map_err(StoreError::query(what()))?,
        )),
        None => Ok(None),
    }
}

/// The failed items of run `run_id` with their last errors, or a line saying there are none
/// when that run was asked for by id; and the same as JSON (`run_id`, `items`, `more`).
async fn failed_section(
    db: &DatabaseConnection,
    run_id: i64,
    opts: &Options,
) -> Result<(String, serde_json::Value), StoreError> {
    let mut out = String::new();
    let failed = ledger::failed_items(db, run_id).await?;
    let json = serde_json::json!({
        "run_id": run_id,
        "items": failed.iter().take(opts.max_failed).map(|item| serde_json::json!({
            "stage": item.stage,
            "key": item.key,
            "attempts": item.attempts,
            "last_error": item.last_error,
        })).collect::<Vec<_>>(),
        "more": failed.len().saturating_sub(opts.max_failed),
    });
    if failed.is_empty() {
        if opts.run.is_some() {
            let _ = writeln!(out, "\nrun {run_id}: no failed items");
        }
        return Ok((out, json));
    }
    let _ = writeln!(out, "\nfailed items of run {run_id}:");
    for item in failed.iter().take(opts.max_failed) {
        let _ = writeln!(
            out,
            "  {} {} ({} {}): {}",
            item.stage,
            item.key,
            item.attempts,
            if item.attempts == 1 { "try" } else { "tries" },
            item.last_error.as_deref().unwrap_or("no error recorded")
        );
    }
    if failed.len() > opts.max_failed {
        let _ = writeln!(out, "  … and {} more", failed.len() - opts.max_failed);
    }
    Ok((out, json))
}

/// What `status` shows of the new database an unfinished swap run is building beside the
/// live one.
struct Next {
    /// Its newest run and that run's failed items; empty when there is no such database.
    text: String,
    /// Whether that run is the one `--run` asked for.
    has_run: bool,
    /// `place`, `runs` and `failed`, for the `status` message; `None` when there is no such
    /// database.
    json: Option<serde_json::Value>,
}

/// The new database an unfinished swap run is building beside the live one: its newest run
/// and that run's failed items (shown when no other run was asked for, or when it is the one
/// asked for).
async fn pending(live: Option<&DatabaseConnection>, opts: &Options) -> Result<Next, StoreError> {
    let none = Next {
        text: String::new(),
        has_run: false,
        json: None,
    };
    let Some(next) = store::NextDb::pending(&opts.url, live).await? else {
        return Ok(none);
    };
    let mut out = format!(
        "\na new database is being built beside this one ({}), not swapped in yet:\n",
        next.describe()
    );
    let db = next
        .open(live, &store::OpenOptions::default(), false)
        .await?;
    let migrated = store::schema_status(&db)
        .await
        .is_ok_and(|m| m.iter().all(|(_, applied)| *applied));
    let runs = if migrated {
        ledger::recent_runs(&db, opts.plan.as_deref(), 1).await?
    } else {
        Vec::new()
    };
    let mut has_run = false;
    let mut json = serde_json::json!({
        "place": next.describe(),
        "runs": [],
        "failed": null,
    });
    match runs.first() {
        Some(run) => {
            let (text, rows) = runs_table(&db, std::slice::from_ref(run), true).await?;
            out.push_str(&text);
            json["runs"] = rows.into();
            has_run = opts.run == Some(run.id);
            if opts.run.is_none() || has_run {
                out.push_str(&workers_section(&db, run.id, true).await?);
                let (text, failed) = failed_section(&db, run.id, opts).await?;
                out.push_str(&text);
                json["failed"] = failed;
            }
        }
        None => out.push_str("(no run recorded in it yet: it was stopped inside its reset)\n"),
    }
    out.push_str(
        "\n`popctl run PLAN --resume` continues it and swaps it in once every stage has ended \
         well; a run without --resume starts over\n",
    );
    db.close().await.ok();
    Ok(Next {
        text: out,
        has_run,
        json: Some(json),
    })
}

/// The runs as a table, and as JSON (one object a run, with its item counts and its workers;
/// `shared`: whether the database has a workers table).
async fn runs_table(
    db: &DatabaseConnection,
    runs: &[Run],
    shared: bool,
) -> Result<(String, Vec<serde_json::Value>), StoreError> {
    let mut json = Vec::new();
    let mut rows = vec![
        [
            "run",
            "plan",
            "status",
            "started (UTC)",
            "took",
            "ok",
            "failed",
            "skipped",
            "pending",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    let mut notes = Vec::new();
    for run in runs {
        let c = counts(db, run.id).await?;
        json.push(serde_json::json!({
            "id": run.id,
            "plan": run.plan_name,
            "plan_hash": run.plan_hash,
            "status": run.status.as_str(),
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "ok": c.ok,
            "failed": c.failed,
            "skipped": c.skipped,
            "pending": c.pending,
            "stages": run.stats.as_ref().and_then(|s| s.get("stages")).cloned(),
            "workers": run_workers(db, run.id, shared)
                .await?
                .iter()
                .map(worker_json)
                .collect::<Vec<_>>(),
        }));
        let took = run
            .finished_at
            .map(|f| {
                format!(
                    "{:.1}s",
                    (f - run.started_at).num_milliseconds() as f64 / 1000.0
                )
            })
            .unwrap_or_else(|| "-".to_owned());
        rows.push(vec![
            run.id.to_string(),
            run.plan_name.clone(),
            run.status.as_str().to_owned(),
            run.started_at
                .to_rfc3339_opts(SecondsFormat::Secs, true)
                .replace('T', " ")
                .trim_end_matches('Z')
                .to_owned(),
            took,
            c.ok.to_string(),
            c.failed.to_string(),
            c.skipped.to_string(),
            c.pending.to_string(),
        ]);
        if let Some(stages) = stage_summary(run) {
            notes.push(format!("run {}: {stages}", run.id));
        }
    }
    let mut out = table(&rows, "", |i| i == 0 || i >= 5);
    for note in notes {
        let _ = writeln!(out, "{note}");
    }
    Ok((out, json))
}

/// `reset done, seed done, omdb partial (the quota is spent)` from the run's stored report.
fn stage_summary(run: &Run) -> Option<String> {
    let stages = run.stats.as_ref()?.get("stages")?.as_array()?;
    let parts: Vec<String> = stages
        .iter()
        .filter_map(|s| {
            let name = s.get("name")?.as_str()?;
            let status = s.get("status")?.as_str()?.replace('_', " ");
            Some(match s.get("reason").and_then(|r| r.as_str()) {
                Some(reason) => format!("{name} {status} ({reason})"),
                None => format!("{name} {status}"),
            })
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Item counts of run `run_id` by status, the rows marking finished stages left out.
pub async fn counts(db: &DatabaseConnection, run_id: i64) -> Result<Counts, StoreError> {
    let stmt = Query::select()
        .column("status")
        .expr_as(Expr::col("item_key").count(), "n")
        .from("import_items")
        .and_where(Expr::col("run_id").eq(run_id))
        .and_where(Expr::col("item_key").ne(STAGE_KEY))
        .group_by_col("status")
        .order_by("status", Order::Asc)
        .to_owned();
    let what = || format!("counting the items of run {run_id}");
    let mut c = Counts::default();
    for row in db
        .query_all(&stmt)
        .await
        .map_err(StoreError::query(what()))?
    {
        let status: String = row
            .try_get("", "status")
            .map_err(StoreError::query(what()))?;
        let n: i64 = row.try_get("", "n").map_err(StoreError::query(what()))?;
        let n = u64::try_from(n).unwrap_or(0);
        match status.as_str() {
            "ok" => c.ok = n,
            "failed" => c.failed = n,
            "skipped" => c.skipped = n,
            "pending" => c.pending = n,
            other => {
                return Err(StoreError::BadValue {
                    table: "import_items",
                    column: "status",
                    value: other.to_owned(),
                });
            }
        }
    }
    Ok(c)
}

/// `rows` (the first one the header) in columns two spaces apart, each line after `indent`;
/// the columns `right` says are aligned right (numbers), the others left.
fn table(rows: &[Vec<String>], indent: &str, right: impl Fn(usize) -> bool) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if right(i) {
                    format!("{c:>w$}", w = widths[i])
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        let _ = writeln!(out, "{indent}{}", cells.join("  ").trim_end());
    }
    out
}

/// How a worker of a run is doing, as far as its row tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// Not stopped, and it beat within twice its lease.
    Working,
    /// It recorded that it stopped.
    Stopped,
    /// Not stopped, and silent longer: killed, cut off, or its machine is gone.
    Lost,
}

impl WorkerState {
    pub fn of(worker: &WorkerRow) -> WorkerState {
        if worker.stopped_at.is_some() {
            WorkerState::Stopped
        } else if worker.silent_seconds > lost_after_seconds(worker) {
            WorkerState::Lost
        } else {
            WorkerState::Working
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Working => "working",
            WorkerState::Stopped => "stopped",
            WorkerState::Lost => "lost",
        }
    }
}

/// Movies a second over the worker's life as its row last recorded it (to its stop, or to its
/// last heartbeat: the counts are as of then); `None` before it has lived a millisecond.
pub fn worker_rate(worker: &WorkerRow) -> Option<f64> {
    let end = worker.stopped_at.unwrap_or(worker.heartbeat_at);
    let ms = (end - worker.started_at).num_milliseconds();
    (ms > 0).then(|| worker.items_done as f64 * 1000.0 / ms as f64)
}

/// `3s ago`, `4m 10s ago`, `2h 5m ago`, `3d 1h ago`.
fn ago(seconds: f64) -> String {
    // Both ends are the database server's clock, but a heartbeat committed after the reading
    // transaction began can look a hair in the future.
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m {}s ago", s / 60, s % 60),
        3600..86400 => format!("{}h {}m ago", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h ago", s / 86400, s % 86400 / 3600),
    }
}

/// The workers of run `run_id`; none when the database has no workers table (`shared` false).
async fn run_workers(
    db: &DatabaseConnection,
    run_id: i64,
    shared: bool,
) -> Result<Vec<WorkerRow>, StoreError> {
    if shared {
        cluster::workers(db, run_id).await
    } else {
        Ok(Vec::new())
    }
}

fn worker_json(worker: &WorkerRow) -> serde_json::Value {
    serde_json::json!({
        "id": worker.id,
        "host": worker.host,
        "pid": worker.pid,
        "address": worker.address,
        "started_at": worker.started_at,
        "heartbeat_at": worker.heartbeat_at,
        "stopped_at": worker.stopped_at,
        "heartbeat_seconds_ago": worker.silent_seconds.max(0.0),
        "state": WorkerState::of(worker).as_str(),
        "items_done": worker.items_done,
        "requests": worker.requests,
        "items_per_second": worker_rate(worker),
    })
}

/// The worker processes that shared run `run_id` as a table with their sum; empty for a run
/// of one process.
async fn workers_section(
    db: &DatabaseConnection,
    run_id: i64,
    shared: bool,
) -> Result<String, StoreError> {
    let workers = run_workers(db, run_id, shared).await?;
    Ok(workers_text(run_id, &workers))
}

fn workers_text(run_id: i64, workers: &[WorkerRow]) -> String {
    let mut out = String::new();
    if workers.is_empty() {
        return out;
    }
    let mut rows = vec![
        [
            "worker",
            "host",
            "pid",
            "address",
            "heartbeat",
            "state",
            "items",
            "requests",
            "items/s",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for w in workers {
        rows.push(vec![
            w.id.to_string(),
            w.host.clone(),
            w.pid.to_string(),
            w.address.clone().unwrap_or_else(|| "-".to_owned()),
            ago(w.silent_seconds),
            WorkerState::of(w).as_str().to_owned(),
            w.items_done.to_string(),
            w.requests.to_string(),
            worker_rate(w).map_or_else(|| "-".to_owned(), |r| format!("{r:.1}")),
        ]);
    }
    let _ = writeln!(out, "\nworkers of run {run_id}:");
    out.push_str(&table(&rows, "  ", |i| matches!(i, 0 | 2 | 6 | 7 | 8)));
    let items: i64 = workers.iter().map(|w| w.items_done).sum();
    let requests: i64 = workers.iter().map(|w| w.requests).sum();
    let _ = writeln!(
        out,
        "  {} {}: {items} {}, {requests} {}",
        workers.len(),
        plural(workers.len() as i64, "worker", "workers"),
        plural(items, "item", "items"),
        plural(requests, "request", "requests"),
    );
    if workers
        .iter()
        .any(|w| WorkerState::of(w) == WorkerState::Lost)
    {
        let _ = writeln!(
            out,
            "  lost: not stopped, and silent for over twice its lease (killed or cut off); the \
             items it held go to the other workers as their leases run out"
        );
    }
    out
}

fn plural(n: i64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone, Utc};

    use super::*;

    fn worker(id: i64, stopped: bool, silent: f64, items: i64) -> WorkerRow {
        let started = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let end = started + TimeDelta::seconds(10);
        WorkerRow {
            id,
            host: "box".into(),
            pid: 4000 + id,
            address: (id == 2).then(|| "127.0.0.2".to_owned()),
            started_at: started,
            heartbeat_at: end,
            stopped_at: stopped.then_some(end),
            items_done: items,
            requests: items + 1,
            lease: None,
            silent_seconds: silent,
        }
    }

    #[test]
    fn a_worker_is_lost_only_when_it_did_not_stop_and_fell_silent() {
        assert_eq!(
            WorkerState::of(&worker(1, false, 3.0, 0)),
            WorkerState::Working
        );
        assert_eq!(
            WorkerState::of(&worker(1, false, 61.0, 0)),
            WorkerState::Lost
        );
        assert_eq!(
            WorkerState::of(&worker(1, true, 9999.0, 0)),
            WorkerState::Stopped
        );
        // A worker on a five-minute lease beats every 100 s: 90 s of silence is not lost.
        let mut long = worker(1, false, 90.0, 0);
        long.lease = Some(std::time::Duration::from_secs(300));
        assert_eq!(WorkerState::of(&long), WorkerState::Working);
        long.silent_seconds = 601.0;
        assert_eq!(WorkerState::of(&long), WorkerState::Lost);
    }

    #[test]
    fn the_rate_runs_from_its_start_to_its_last_word() {
        assert_eq!(worker_rate(&worker(1, true, 0.0, 25)), Some(2.5));
        let mut w = worker(1, false, 0.0, 20);
        w.heartbeat_at = w.started_at;
        assert_eq!(worker_rate(&w), None);
    }

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(ago(-0.2), "0s ago");
        assert_eq!(ago(3.4), "3s ago");
        assert_eq!(ago(250.0), "4m 10s ago");
        assert_eq!(ago(7500.0), "2h 5m ago");
        assert_eq!(ago(3.0 * 86400.0 + 3600.0), "3d 1h ago");
    }

    #[test]
    fn workers_print_as_a_table_with_their_sum() {
        assert_eq!(workers_text(7, &[]), "");
        let text = workers_text(7, &[worker(1, true, 2.0, 22), worker(2, false, 125.0, 18)]);
        assert_eq!(
            text,
            "\nworkers of run 7:\n\
             \x20 worker  host   pid  address    heartbeat  state    items  requests  items/s\n\
             \x20      1  box   4001  -          2s ago     stopped     22        23      2.2\n\
             \x20      2  box   4002  127.0.0.2  2m 5s ago  lost        18        19      1.8\n\
             \x20 2 workers: 40 items, 42 requests\n\
             \x20 lost: not stopped, and silent for over twice its lease (killed or cut off); the \
             items it held go to the other workers as their leases run out\n"
        );
    }
}
