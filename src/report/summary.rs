//! The report at the end of a run: a table per stage for people, the same as JSON for
//! `--report FILE` and for the run's row in the ledger, which `popctl report RUN` reads back
//! (so every field added later has a default: older rows still read).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::plan::error::plural;
use crate::plan::units::human_size;
use crate::sources::cache::CacheTotals;
use crate::sources::http::SourceTotals;
use crate::sources::series::SeriesReport;
use crate::stages::StageOutcome;
use crate::stages::executor::StageReport;
use crate::store::ledger::RunStatus;

/// What one source did over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceReport {
    /// Over the network.
    #[serde(flatten)]
    pub totals: SourceTotals,
    /// Through the response cache; `None` when its mode is `off`.
    #[serde(default)]
    pub cache: Option<CacheTotals>,
    /// The plan's rate for the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_second: Option<f64>,
    /// The same second by second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// The popctl that ran it.
    #[serde(default)]
    pub popctl_version: String,
    pub plan: String,
    pub plan_hash: String,
    pub run_id: i64,
    /// Continued an earlier, unfinished run (`--resume`).
    pub resumed: bool,
    /// Against the built-in simulator (`--sandbox`).
    pub sandbox: bool,
    pub status: RunStatus,
    pub exit_code: u8,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Set as the run is recorded, with `wall_seconds`.
    #[serde(default)]
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub wall_seconds: f64,
    /// The live database, password masked.
    pub database: String,
    /// Set when the run built a new database beside the live one (`mode = "swap"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_database: Option<NewDatabase>,
    pub stages: Vec<StageReport>,
    pub sources: BTreeMap<String, SourceReport>,
    /// The most memory the process held (Linux `VmHWM`), when the platform tells.
    #[serde(default)]
    pub peak_rss_bytes: Option<u64>,
    /// With `--sandbox`: the requests the simulator itself answered, which a warm response
    /// cache brings to zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_served: Option<SandboxServed>,
    /// The processes that shared the run's fetch, enrich and people stages (`--workers`,
    /// `--share`), this one first; empty for a run of one process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<WorkerReport>,
}

/// One process of a shared run, as the ledger has it at the run's end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerReport {
    pub id: i64,
    pub host: String,
    pub pid: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Items it finished (saved, skipped or failed), every stage.
    pub items_done: i64,
    /// Upstream requests it made, every source.
    pub requests: i64,
}

/// The new database a swap run built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDatabase {
    /// Where it is (was): a file or a schema.
    pub place: String,
    /// True once it replaced popctl's live tables.
    pub swapped: bool,
    /// How long the swap took (SQLite: a rename, or a copy of popctl's tables into the live
    /// file; PostgreSQL: moving tables between schemas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap_seconds: Option<f64>,
}

/// Requests that reached the `--sandbox` simulator, per API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxServed {
    pub tmdb: u64,
    pub omdb: u64,
    /// 429 answers, both APIs.
    pub rate_limited: u64,
}

/// How a run ended, from how its stages ended: any failed stage fails the run; Ctrl-C
/// interrupts it; a stage that stopped early or did not run, or items that failed or are
/// pending, make it partial.
pub fn run_status(stages: &[StageReport], interrupted: bool) -> RunStatus {
    if stages
        .iter()
        .any(|s| matches!(s.outcome, StageOutcome::Failed(_)))
    {
        RunStatus::Failed
    } else if interrupted
        || stages
            .iter()
            .any(|s| s.outcome == StageOutcome::Interrupted)
    {
        RunStatus::Interrupted
    } else if stages.iter().any(|s| {
        matches!(
            s.outcome,
            StageOutcome::Partial(_) | StageOutcome::Skipped(_)
        ) || s.counters.failed > 0
            || s.counters.pending > 0
    }) {
        RunStatus::Partial
    } else {
        RunStatus::Ok
    }
}

/// 0 all done, 1 failed, 3 finished partially (interrupted runs included: `--resume` goes on).
pub fn exit_code(status: RunStatus) -> u8 {
    match status {
        RunStatus::Ok => 0,
        RunStatus::Failed => 1,
        RunStatus::Running | RunStatus::Partial | RunStatus::Interrupted => 3,
    }
}

impl RunReport {
    /// Marks the run's end: `finished_at` and `wall_seconds` since `started` (a clock that
    /// only goes forward).
    pub fn ended(&mut self, started: std::time::Instant) {
        self.finished_at = Some(chrono::Utc::now());
        self.wall_seconds = started.elapsed().as_secs_f64();
    }

    /// The report as JSON, redacted: the one form written to the report file and to
    /// `import_runs`.
    pub fn to_json(&self) -> serde_json::Value {
        crate::secret::redact_json(serde_json::to_value(self).unwrap_or(serde_json::Value::Null))
    }

    /// A report read back from its JSON (a report file, a run's row in `import_runs`).
    pub fn from_json(json: serde_json::Value) -> Result<RunReport, serde_json::Error> {
        serde_json::from_value(json)
    }

    /// The report as the ledger keeps it: redacted, through its JSON and back.
    pub fn recorded(&self) -> Result<RunReport, serde_json::Error> {
        RunReport::from_json(self.to_json())
    }

    /// The table and the lines under it.
    pub fn table(&self) -> String {
        self.table_within(None)
    }

    /// [`Self::table`] for a terminal `width` columns wide: when the whole table is wider,
    /// columns with nothing to say (every stage 0) go first, then `kind`, so rows do not wrap.
    /// Without a width (a file, a pipe) every column stays, for scripts that read them.
    pub fn table_within(&self, width: Option<usize>) -> String {
        let header = [
            "stage", "kind", "status", "ok", "failed", "skipped", "pending", "requests", "retries",
            "429s", "rows", "time",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
        for s in &self.stages {
            let c = &s.counters;
            let ran = !matches!(
                s.outcome,
                StageOutcome::DoneEarlier
                    | StageOutcome::Disabled
                    | StageOutcome::NotSelected
                    | StageOutcome::Skipped(_)
            );
            let n = |v: u64| if ran { v.to_string() } else { "-".to_owned() };
            rows.push(vec![
                s.name.clone(),
                s.kind.to_string(),
                s.outcome.label().to_string(),
                n(c.ok),
                n(c.failed),
                n(c.skipped),
                n(c.pending),
                n(c.requests),
                n(c.retries),
                n(c.rate_limited),
                n(c.rows),
                if ran {
                    format!("{:.1}s", s.wall.as_secs_f64())
                } else {
                    "-".to_owned()
                },
            ]);
        }
        let mut out = String::new();
        let measure = |rows: &[Vec<String>]| -> Vec<usize> {
            (0..rows[0].len())
                .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
                .collect()
        };
        let total = |widths: &[usize]| widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
        if let Some(limit) = width {
            // Right to left among the counters, so `failed` is the last to go.
            let droppable = ["429s", "retries", "pending", "skipped", "failed", "kind"];
            for name in droppable {
                if total(&measure(&rows)) <= limit {
                    break;
                }
                let Some(i) = rows[0].iter().position(|h| h == name) else {
                    continue;
                };
                let silent = rows[1..].iter().all(|r| r[i] == "0" || r[i] == "-");
                if silent || name == "kind" {
                    for row in &mut rows {
                        row.remove(i);
                    }
                }
            }
        }
        let left = rows[0]
            .iter()
            .position(|h| h == "status")
            .map_or(1, |i| i + 1);
        let widths = measure(&rows);
        for (n, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, cell)| {
                    if i < left {
                        format!("{cell:<w$}", w = widths[i])
                    } else {
                        format!("{cell:>w$}", w = widths[i])
                    }
                })
                .collect();
            let _ = writeln!(out, "{}", cells.join("  ").trim_end());
            if n == 0 {
                let _ = writeln!(out, "{}", "-".repeat(total(&widths)));
            }
        }
        for s in &self.stages {
            if let Some(why) = s.outcome.reason() {
                let _ = writeln!(out, "{} {}: {why}", s.name, s.outcome.label());
            }
            if s.counters.failed > 0 {
                let _ = writeln!(
                    out,
                    "{}: {} failed (`popctl status` lists them with their errors)",
                    s.name,
                    count(s.counters.failed, "item")
                );
            }
            if s.counters.shared > 0 {
                let _ = writeln!(
                    out,
                    "{}: {} of its movies were fetched once, by another fetch stage of the run",
                    s.name, s.counters.shared
                );
            }
            for note in &s.notes {
                let _ = writeln!(out, "{}: {note}", s.name);
            }
        }
        for (name, s) in &self.sources {
            let t = &s.totals;
            let _ = write!(
                out,
                "source {name}: {} requests, {} retries, {} answered 429, {}",
                t.requests,
                t.retries,
                t.rate_limited,
                human_size(t.bytes)
            );
            if let Some(c) = &s.cache {
                let _ = write!(
                    out,
                    "; cache {} hits ({} read), {} misses, {} stored",
                    c.hits,
                    human_size(c.bytes_read),
                    c.misses,
                    c.stores
                );
                if c.stale_hits > 0 {
                    let _ = write!(out, ", {} hits past their TTL", c.stale_hits);
                }
                if c.corrupt + c.write_errors > 0 {
                    let _ = write!(
                        out,
                        ", {} damaged entries, {} failed writes",
                        c.corrupt, c.write_errors
                    );
                }
            }
            out.push('\n');
        }
        if !self.workers.is_empty() {
            let each: Vec<String> = self
                .workers
                .iter()
                .map(|w| {
                    let place = w.address.as_deref().unwrap_or(&w.host);
                    format!("{} on {place} (pid {}) {}", w.id, w.pid, w.items_done)
                })
                .collect();
            let _ = writeln!(
                out,
                "{} processes shared the run's movies: {} items, {} requests in all (worker \
                 on address, items: {})",
                self.workers.len(),
                self.workers.iter().map(|w| w.items_done).sum::<i64>(),
                self.workers.iter().map(|w| w.requests).sum::<i64>(),
                each.join("; ")
            );
        }
        if let Some(served) = &self.sandbox_served {
            let _ = writeln!(
                out,
                "the sandbox served {} TMDB and {} OMDb requests ({} answered 429)",
                served.tmdb, served.omdb, served.rate_limited
            );
        }
        match &self.new_database {
            Some(n) if n.swapped => {
                let _ = writeln!(
                    out,
                    "the new database replaced popctl's tables in {}",
                    self.database
                );
            }
            Some(n) => {
                let _ = writeln!(
                    out,
                    "the live database {} is unchanged; the new one ({}) is swapped in when \
                     the run has ended well",
                    self.database, n.place
                );
            }
            None => {}
        }
        let _ = writeln!(
            out,
            "run {} of plan `{}`: {} in {:.1}s{}{}",
            self.run_id,
            self.plan,
            self.status.as_str(),
            self.wall_seconds,
            if self.resumed { " (resumed)" } else { "" },
            if self.sandbox {
                " against the sandbox"
            } else {
                ""
            },
        );
        if let Some(next) = self.next_step() {
            let _ = writeln!(out, "{next}");
        }
        out
    }

    /// What to do after a run that did not end `ok`: `--resume` continues it, trying its
    /// failed and pending items again.
    fn next_step(&self) -> Option<String> {
        let failed: u64 = self.stages.iter().map(|s| s.counters.failed).sum();
        let pending: u64 = self.stages.iter().map(|s| s.counters.pending).sum();
        let again = match (failed, pending) {
            (0, 0) => String::new(),
            (f, 0) => format!(" and tries its {} again", count(f, "failed item")),
            (0, p) => format!(" and does its {}", count(p, "pending item")),
            (f, p) => format!(" and tries its {f} failed and {p} pending items again"),
        };
        let resume = format!(
            "the same command with --resume continues run {}{again}",
            self.run_id
        );
        match self.status {
            RunStatus::Ok | RunStatus::Running => None,
            RunStatus::Partial | RunStatus::Interrupted => Some(format!("next: {resume}")),
            RunStatus::Failed => Some(format!("next: once what failed is fixed, {resume}")),
        }
    }
}

/// `1 failed item`, `5 failed items`.
fn count(n: u64, what: &str) -> String {
    plural(usize::try_from(n).unwrap_or(usize::MAX), what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::CounterValues;
    use std::time::Duration;

    fn stage(name: &str, outcome: StageOutcome, counters: CounterValues) -> StageReport {
        StageReport {
            name: name.into(),
            kind: "fetch".into(),
            outcome,
            counters,
            wall: Duration::from_millis(1500),
            started_at: None,
            finished_at: None,
            floor_seconds: None,
            notes: Vec::new(),
            slowest: Vec::new(),
        }
    }

    #[test]
    fn status_from_stages() {
        let ok = CounterValues::default();
        let done = stage("a", StageOutcome::Done, ok);
        assert_eq!(
            run_status(std::slice::from_ref(&done), false),
            RunStatus::Ok
        );
        assert_eq!(
            run_status(std::slice::from_ref(&done), true),
            RunStatus::Interrupted
        );
        let partial = stage("b", StageOutcome::Partial("quota".into()), ok);
        assert_eq!(
            run_status(&[done.clone(), partial], false),
            RunStatus::Partial
        );
        let failed_items = stage("c", StageOutcome::Done, CounterValues { failed: 1, ..ok });
        assert_eq!(run_status(&[failed_items], false), RunStatus::Partial);
        let failed = stage("d", StageOutcome::Failed("401".into()), ok);
        assert_eq!(run_status(&[done, failed], false), RunStatus::Failed);
        assert_eq!(exit_code(RunStatus::Ok), 0);
        assert_eq!(exit_code(RunStatus::Failed), 1);
        assert_eq!(exit_code(RunStatus::Partial), 3);
    }

    #[test]
    fn the_table_has_a_row_per_stage_and_the_reasons_under_it() {
        let report = RunReport {
            popctl_version: "0.0.0".into(),
            plan: "dev".into(),
            plan_hash: "h".into(),
            run_id: 4,
            resumed: true,
            sandbox: false,
            status: RunStatus::Partial,
            exit_code: 3,
            started_at: chrono::Utc::now(),
            finished_at: None,
            wall_seconds: 2.0,
            database: "sqlite://dev.db".into(),
            new_database: Some(NewDatabase {
                place: "dev.db.next".into(),
                swapped: false,
                swap_seconds: None,
            }),
            stages: vec![
                stage("reset", StageOutcome::DoneEarlier, CounterValues::default()),
                stage(
                    "popular",
                    StageOutcome::Done,
                    CounterValues {
                        ok: 18,
                        failed: 2,
                        requests: 20,
                        ..CounterValues::default()
                    },
                ),
                stage(
                    "omdb",
                    StageOutcome::Partial("quota spent".into()),
                    CounterValues {
                        ok: 10,
                        pending: 5,
                        requests: 11,
                        ..CounterValues::default()
                    },
                ),
            ],
            sources: BTreeMap::new(),
            peak_rss_bytes: None,
            sandbox_served: None,
            workers: Vec::new(),
        };
        // On a terminal 64 columns wide: the silent counters and `kind` go, the rest stays.
        let narrow = report.table_within(Some(64));
        let rows: Vec<&str> = narrow.lines().take(5).collect();
        assert!(rows.iter().all(|l| l.chars().count() <= 64), "{narrow}");
        assert_eq!(
            rows[0].split_whitespace().collect::<Vec<_>>(),
            [
                "stage", "status", "ok", "failed", "pending", "requests", "rows", "time"
            ],
            "{narrow}"
        );
        assert!(
            report
                .table_within(Some(200))
                .starts_with(&report.table()[..100])
        );

        let table = report.table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("stage"), "{table}");
        assert!(
            lines[2].starts_with("reset    fetch  done earlier   -"),
            "{table}"
        );
        assert!(lines[3].contains("done"), "{table}");
        assert!(lines[4].contains("partial"), "{table}");
        assert!(table.contains("omdb partial: quota spent"), "{table}");
        assert!(
            table
                .contains("popular: 2 items failed (`popctl status` lists them with their errors)"),
            "{table}"
        );
        assert!(
            table.contains(
                "the live database sqlite://dev.db is unchanged; the new one (dev.db.next)"
            ),
            "{table}"
        );
        assert!(!table.contains("omdb: "), "{table}");
        assert!(
            table.ends_with(
                "run 4 of plan `dev`: partial in 2.0s (resumed)\n\
                 next: the same command with --resume continues run 4 and tries its 2 failed \
                 and 5 pending items again\n"
            ),
            "{table}"
        );
    }

    #[test]
    fn sizes_are_in_binary_units_as_everywhere_else() {
        let mut report = RunReport {
            popctl_version: "0.0.0".into(),
            started_at: chrono::Utc::now(),
            finished_at: None,
            plan: "dev".into(),
            plan_hash: "h".into(),
            run_id: 1,
            resumed: false,
            sandbox: false,
            status: RunStatus::Ok,
            exit_code: 0,
            wall_seconds: 1.0,
            database: "sqlite://dev.db".into(),
            new_database: None,
            stages: Vec::new(),
            sources: BTreeMap::new(),
            peak_rss_bytes: None,
            sandbox_served: None,
            workers: Vec::new(),
        };
        report.sources.insert(
            "tmdb".into(),
            SourceReport {
                totals: SourceTotals {
                    bytes: 1_500_000,
                    ..SourceTotals::default()
                },
                cache: Some(CacheTotals {
                    bytes_read: 1536,
                    ..CacheTotals::default()
                }),
                rate_per_second: None,
                series: None,
            },
        );
        let table = report.table();
        assert!(
            table.contains("0 answered 429, 1.4 MiB; cache 0 hits (1.5 KiB read)"),
            "{table}"
        );
    }

    #[test]
    fn the_next_step_follows_how_the_run_ended() {
        let mut report = RunReport {
            popctl_version: "0.0.0".into(),
            started_at: chrono::Utc::now(),
            finished_at: None,
            plan: "dev".into(),
            plan_hash: "h".into(),
            run_id: 2,
            resumed: false,
            sandbox: false,
            status: RunStatus::Ok,
            exit_code: 0,
            wall_seconds: 1.0,
            database: "sqlite://dev.db".into(),
            new_database: None,
            stages: vec![stage("a", StageOutcome::Done, CounterValues::default())],
            sources: BTreeMap::new(),
            peak_rss_bytes: None,
            sandbox_served: None,
            workers: Vec::new(),
        };
        assert_eq!(report.next_step(), None);
        report.status = RunStatus::Interrupted;
        assert_eq!(
            report.next_step().as_deref(),
            Some("next: the same command with --resume continues run 2")
        );
        report.stages[0].counters.failed = 1;
        report.status = RunStatus::Partial;
        assert_eq!(
            report.next_step().as_deref(),
            Some(
                "next: the same command with --resume continues run 2 and tries its 1 failed item again"
            )
        );
        report.status = RunStatus::Failed;
        assert!(
            report
                .next_step()
                .is_some_and(|n| n.starts_with("next: once what failed is fixed, the same command")),
        );
    }
}
