//! `popctl status`: the recent runs recorded in a database's ledger, how each ended, its
//! item counts, and the failed items of a run with their errors.

use std::fmt::Write as _;

use chrono::SecondsFormat;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::report::Shell;
use crate::stages::ledger::STAGE_KEY;
use crate::store::ledger::{self, Run};
use crate::store::{self, StoreError, redact_url};

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

pub async fn run(opts: &Options, shell: &Shell) -> Result<(), StoreError> {
    let mut out = String::new();
    let db = match store::connect_existing(&opts.url).await {
        Ok(db) => db,
        // The first run of a plan that swaps leaves no live file until it ends well; its new
        // database is what there is to show.
        Err(StoreError::NoDatabase { path }) => {
            let pending = pending(None, opts).await?;
            if pending.is_empty() {
                return Err(StoreError::NoDatabase { path });
            }
            shell.note(format!("no database at {path} yet"));
            out.push_str(pending.trim_start());
            shell.out_text(&out);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let migrated = store::schema_status(&db)
        .await?
        .iter()
        .any(|(name, applied)| name.contains("run_ledger") && *applied);
    if migrated {
        let runs = ledger::recent_runs(&db, opts.plan.as_deref(), opts.limit).await?;
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
            out.push_str(&runs_table(&db, &runs).await?);
        }
        if let Some(run_id) = opts.run.or(runs.first().map(|r| r.id)) {
            out.push_str(&failed_section(&db, run_id, opts).await?);
        }
    } else {
        shell.note(format!(
            "{} has no run ledger yet: no run was recorded there",
            redact_url(&opts.url)
        ));
    }
    out.push_str(&pending(Some(&db), opts).await?);
    db.close().await.ok();
    shell.out_text(&out);
    Ok(())
}

/// The failed items of run `run_id` with their last errors, or a line saying there are none
/// when that run was asked for by id.
async fn failed_section(
    db: &DatabaseConnection,
    run_id: i64,
    opts: &Options,
) -> Result<String, StoreError> {
    let mut out = String::new();
    let failed = ledger::failed_items(db, run_id).await?;
    if failed.is_empty() {
        if opts.run.is_some() {
            let _ = writeln!(out, "\nrun {run_id}: no failed items");
        }
        return Ok(out);
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
    Ok(out)
}

/// The new database an unfinished swap run is building beside the live one: its newest run
/// and that run's failed items; nothing when there is none.
async fn pending(live: Option<&DatabaseConnection>, opts: &Options) -> Result<String, StoreError> {
    let Some(next) = store::NextDb::beside(&opts.url, live).await? else {
        return Ok(String::new());
    };
    if !next.exists(live).await? {
        return Ok(String::new());
    }
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
    match runs.first() {
        Some(run) => {
            out.push_str(&runs_table(&db, std::slice::from_ref(run)).await?);
            if opts.run.is_none() {
                out.push_str(&failed_section(&db, run.id, opts).await?);
            }
        }
        None => out.push_str("(no run recorded in it yet: it was stopped inside its reset)\n"),
    }
    out.push_str(
        "\n`popctl run PLAN --resume` continues it and swaps it in once every stage has ended \
         well; a run without --resume starts over\n",
    );
    db.close().await.ok();
    Ok(out)
}

async fn runs_table(db: &DatabaseConnection, runs: &[Run]) -> Result<String, StoreError> {
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
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 || i >= 5 {
                    format!("{c:>w$}", w = widths[i])
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    for note in notes {
        let _ = writeln!(out, "{note}");
    }
    Ok(out)
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
