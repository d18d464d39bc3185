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
    let db = store::connect_existing(&opts.url).await?;
    let migrated = store::schema_status(&db)
        .await?
        .iter()
        .any(|(name, applied)| name.contains("run_ledger") && *applied);
    if !migrated {
        shell.note(format!(
            "{} has no run ledger yet: no run was recorded there",
            redact_url(&opts.url)
        ));
        db.close().await.ok();
        return Ok(());
    }
    let runs = ledger::recent_runs(&db, opts.plan.as_deref(), opts.limit).await?;
    let mut out = String::new();
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
    let shown = opts.run.or(runs.first().map(|r| r.id));
    if let Some(run_id) = shown {
        let failed = ledger::failed_items(&db, run_id).await?;
        if failed.is_empty() {
            if opts.run.is_some() {
                let _ = writeln!(out, "\nrun {run_id}: no failed items");
            }
        } else {
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
        }
    }
    db.close().await.ok();
    shell.out_text(&out);
    Ok(())
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
