//! `popctl report RUN`: the report of a finished run as its ledger row keeps it: the table
//! `run` printed, or with `--html FILE` the page with charts that `run --report-html` writes.
//!
//! The run is looked up in the database given and, when it is not there, in the new database
//! an unfinished swap run is building beside it (where `status` finds it too).

use std::path::PathBuf;

use crate::report::events::Event;
use crate::report::{Shell, html, summary::RunReport};
use crate::secret::{redact, redact_url};
use crate::store::ledger::{self, Item, RunStatus};
use crate::store::{self, StoreError};

#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub run: i64,
    /// Write the page here instead of printing the table.
    pub html: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ReportError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] StoreError),

    #[error("run {id} is not recorded in {url}")]
    #[diagnostic(
        code(popctl::report::no_such_run),
        help("`popctl status` lists the runs recorded there")
    )]
    NoSuchRun {
        id: i64,
        /// With any password removed.
        url: String,
    },

    #[error("run {id} has not finished, so it has no report yet")]
    #[diagnostic(
        code(popctl::report::unfinished),
        help(
            "a run records its report when it ends; one stopped at once stays unfinished until \
             `popctl run PLAN --resume` ends it"
        )
    )]
    Unfinished { id: i64 },

    #[error("the report recorded for run {id} cannot be read: {reason}")]
    #[diagnostic(
        code(popctl::report::unreadable),
        help(
            "it was recorded by a popctl whose report had other fields; `popctl status` still lists the run"
        )
    )]
    Unreadable { id: i64, reason: String },

    #[error("cannot write the report to {path}: {reason}")]
    #[diagnostic(code(popctl::report::write))]
    Write { path: String, reason: String },
}

/// Prints the table of run `opts.run`, or writes its page to `opts.html`.
pub async fn run(opts: &Options, shell: &Shell) -> Result<(), ReportError> {
    let (report, failed) = recorded(&opts.url, opts.run).await?;
    match &opts.html {
        Some(path) => {
            std::fs::write(path, html::render(&report, &failed)).map_err(|e| {
                ReportError::Write {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                }
            })?;
            shell.status(
                "Wrote",
                format!("the report of run {} to {}", opts.run, path.display()),
            );
        }
        None if !shell.is_json() => shell.out_text(&redact(&report.table())),
        None => {}
    }
    shell.event(&Event::Report {
        report: report.to_json(),
        html: opts.html.as_ref().map(|p| p.display().to_string()),
    });
    Ok(())
}

/// The recorded report of run `id` and its failed items, from the database at `url` or the
/// new database beside it.
async fn recorded(url: &str, id: i64) -> Result<(RunReport, Vec<Item>), ReportError> {
    let live = match store::connect_existing(url).await {
        Ok(db) => Some(db),
        // The first run of a plan that swaps leaves no live file until it ends well.
        Err(StoreError::NoDatabase { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let mut found = match &live {
        Some(db) => from(db, id).await,
        None => Ok(None),
    };
    if matches!(found, Ok(None))
        && let Some(next) = store::NextDb::pending(url, live.as_ref()).await?
    {
        let db = next
            .open(live.as_ref(), &store::OpenOptions::default(), false)
            .await?;
        found = from(&db, id).await;
        db.close().await.ok();
    }
    if let Some(db) = live {
        db.close().await.ok();
    }
    found?.ok_or_else(|| ReportError::NoSuchRun {
        id,
        url: redact_url(url),
    })
}

/// Run `id` from the ledger of `db`, if it is there.
async fn from(
    db: &sea_orm::DatabaseConnection,
    id: i64,
) -> Result<Option<(RunReport, Vec<Item>)>, ReportError> {
    if !ledger::exists(db).await? {
        return Ok(None);
    }
    let Some(run) = ledger::run_by_id(db, id).await? else {
        return Ok(None);
    };
    let stats = match (run.status, run.stats) {
        (RunStatus::Running, _) | (_, None) => return Err(ReportError::Unfinished { id }),
        (_, Some(stats)) => stats,
    };
    let report = RunReport::from_json(stats).map_err(|e| ReportError::Unreadable {
        id,
        reason: e.to_string(),
    })?;
    Ok(Some((report, ledger::failed_items(db, id).await?)))
}
