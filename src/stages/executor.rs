//! Runs the stages of a plan as a DAG.
//!
//! A stage starts as soon as every stage it needs has ended well — except that an enrich or
//! people stage streaming (`streaming = true`, the default) from fetch stages it needs directly
//! starts as soon as those have started, and works on their movies as they are saved. Independent
//! stages run side by side. A stage whose need failed, ended partially or was interrupted does
//! not run (it is `skipped`), so a resumed run does it later on complete data.
//!
//! Streaming never deadlocks: a producer waits for room in a consumer's bounded channel only
//! once the consumer runs (and a running consumer always drains it); before that it drops
//! what does not fit, and the consumer reads everything committed until its start from the
//! ledger. Memory stays bounded by the channels, whatever the number of movies.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::items::ItemTime;
use super::{
    CounterValues, Counters, Emitter, RunContext, Stage, StageContext, StageOutcome, StreamTarget,
    UpstreamInput,
};
use crate::plan::dag::Dag;
use crate::plan::{self, EnrichScope, StageKind};

/// Movie ids in flight between a producer and a consumer.
const STREAM_CAPACITY: usize = 512;

/// What the progress display is told.
pub trait Observer: Send + Sync {
    fn started(&self, stage: &plan::Stage, counters: Arc<Counters>);
    fn finished(&self, stage: &plan::Stage, outcome: &StageOutcome, counters: &CounterValues);
}

/// An observer that shows nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl Observer for Silent {
    fn started(&self, _: &plan::Stage, _: Arc<Counters>) {}
    fn finished(&self, _: &plan::Stage, _: &StageOutcome, _: &CounterValues) {}
}

/// How one stage went, for the report (read back from the ledger by `popctl report`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StageReport {
    pub name: String,
    pub kind: String,
    #[serde(flatten)]
    pub outcome: StageOutcome,
    #[serde(flatten)]
    pub counters: CounterValues,
    #[serde(
        rename = "wall_seconds",
        serialize_with = "secs",
        deserialize_with = "from_secs"
    )]
    pub wall: Duration,
    /// When the stage began and ended its work (not set for a stage that did not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The least time the plan's rates and delays allow for the stage's requests (the
    /// budget), to set `wall_seconds` against; filled in by the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Its slowest items, slowest first (stages that work through items).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slowest: Vec<ItemTime>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

fn from_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let seconds = <f64 as serde::Deserialize>::deserialize(d)?;
    Duration::try_from_secs_f64(seconds).map_err(serde::de::Error::custom)
}

/// What to execute.
pub struct Execution {
    pub run: Arc<RunContext>,
    pub dag: Dag,
    /// The stages `--only`/`--from` chose (every stage when neither was given).
    pub selected: HashSet<String>,
    /// Stages an earlier attempt of the run finished with nothing left to do (`--resume`:
    /// [`super::ledger::RunLedger::done_earlier`]).
    pub done_earlier: HashSet<String>,
    /// The implementation of every stage that runs.
    pub built: HashMap<String, Box<dyn Stage>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Waiting,
    Running,
    Ended(StageOutcome),
}

/// How a stage waits for one of its needs.
struct Need {
    name: String,
    /// Streamed: running is enough.
    streamed: bool,
    rx: watch::Receiver<Phase>,
}

impl Execution {
    /// Why a stage does not run, if it does not.
    fn idle(&self, stage: &plan::Stage) -> Option<StageOutcome> {
        if !self.selected.contains(&stage.name) {
            Some(StageOutcome::NotSelected)
        } else if !stage.enabled {
            Some(StageOutcome::Disabled)
        } else if self.done_earlier.contains(&stage.name) {
            Some(StageOutcome::DoneEarlier)
        } else {
            None
        }
    }

    /// The enabled fetch stages upstream of `name`, directly or not.
    fn producers(&self, name: &str) -> Vec<String> {
        let plan = &self.run.plan;
        self.dag
            .ancestors(name)
            .into_iter()
            .filter_map(|a| plan.stage(a))
            .filter(|s| s.enabled && matches!(s.kind, StageKind::Fetch(_)))
            .map(|s| s.name.clone())
            .collect()
    }
}

/// Runs every stage of `exec` and reports each, in execution order.
pub async fn execute(mut exec: Execution, observer: Arc<dyn Observer>) -> Vec<StageReport> {
    let plan = exec.run.plan.clone();
    let order: Vec<String> = exec.dag.order().map(str::to_owned).collect();
    let runs: HashSet<&str> = plan
        .stages
        .iter()
        .filter(|s| exec.idle(s).is_none())
        .map(|s| s.name.as_str())
        .collect();

    preload_claims(&exec).await;

    // Wire the streams: each consuming stage gets a channel, each producer it streams from a
    // sender.
    let mut inputs: HashMap<String, UpstreamInput> = HashMap::new();
    let mut outputs: HashMap<String, Vec<StreamTarget>> = HashMap::new();
    let mut streamed_from: HashMap<String, Vec<String>> = HashMap::new();
    for stage in &plan.stages {
        let upstream_scope = match &stage.kind {
            StageKind::Enrich(e) => e.scope == EnrichScope::Upstream,
            StageKind::People(_) => true,
            _ => false,
        };
        if !upstream_scope || !runs.contains(stage.name.as_str()) {
            continue;
        }
        let producers = exec.producers(&stage.name);
        if producers.is_empty() {
            continue;
        }
        let streamed: Vec<String> = if stage.streaming {
            exec.dag
                .needs(&stage.name)
                .into_iter()
                .filter(|n| producers.iter().any(|p| p == n) && runs.contains(n))
                .map(str::to_owned)
                .collect()
        } else {
            Vec::new()
        };
        let started = Arc::new(AtomicBool::new(false));
        let rx = if streamed.is_empty() {
            None
        } else {
            let (tx, rx) = mpsc::channel(STREAM_CAPACITY);
            for p in &streamed {
                outputs.entry(p.clone()).or_default().push(StreamTarget {
                    tx: tx.clone(),
                    started: started.clone(),
                });
            }
            Some(rx)
        };
        let live = producers.iter().any(|p| runs.contains(p.as_str()));
        inputs.insert(
            stage.name.clone(),
            UpstreamInput {
                producers,
                rx,
                started,
                live,
            },
        );
        streamed_from.insert(stage.name.clone(), streamed);
    }

    let mut phases: HashMap<String, (watch::Sender<Phase>, watch::Receiver<Phase>)> = order
        .iter()
        .map(|n| (n.clone(), watch::channel(Phase::Waiting)))
        .collect();
    let mut built = std::mem::take(&mut exec.built);
    let mut idle_reports = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for name in &order {
        let Some(stage) = plan.stage(name).cloned() else {
            continue;
        };
        let Some((phase_tx, _)) = phases.get(name) else {
            continue;
        };
        let phase_tx = phase_tx.clone();
        if let Some(outcome) = exec.idle(&stage) {
            let _ = phase_tx.send(Phase::Ended(outcome.clone()));
            idle_reports.push(StageReport {
                name: stage.name.clone(),
                kind: stage.kind.name().to_owned(),
                outcome,
                counters: CounterValues::default(),
                wall: Duration::ZERO,
                started_at: None,
                finished_at: None,
                floor_seconds: None,
                notes: Vec::new(),
                slowest: Vec::new(),
            });
            continue;
        }
        let Some(implementation) = built.remove(name) else {
            let _ = phase_tx.send(Phase::Ended(StageOutcome::Failed(
                "internal error: the stage was not built before the run (a bug, please report)"
                    .to_owned(),
            )));
            continue;
        };
        let streamed = streamed_from.remove(name).unwrap_or_default();
        let needs: Vec<Need> = exec
            .dag
            .needs(name)
            .into_iter()
            .filter_map(|n| {
                phases.get(n).map(|(_, rx)| Need {
                    name: n.to_owned(),
                    streamed: streamed.iter().any(|s| s == n),
                    rx: rx.clone(),
                })
            })
            .collect();
        let streamed_rx: Vec<(String, watch::Receiver<Phase>)> = needs
            .iter()
            .filter(|n| n.streamed)
            .map(|n| (n.name.clone(), n.rx.clone()))
            .collect();
        let mut cx = StageContext::new(stage.clone(), exec.run.clone());
        cx.input = inputs.remove(name);
        cx.output = Emitter::new(outputs.remove(name).unwrap_or_default());
        let observer = observer.clone();
        tasks.spawn(async move {
            let counters = cx.counters.clone();
            let cancel = cx.run.cancel.clone();
            let mut wall = Duration::ZERO;
            let mut span = None;
            let outcome = match wait_for_needs(needs, &cancel).await {
                Err(outcome) => outcome,
                Ok(()) => {
                    let _ = phase_tx.send(Phase::Running);
                    observer.started(&stage, counters.clone());
                    let start = Instant::now();
                    let began = chrono::Utc::now();
                    let mut outcome = implementation.run(&mut cx).await;
                    wall = start.elapsed();
                    span = Some((began, chrono::Utc::now()));
                    if outcome == StageOutcome::Done {
                        outcome = upstream_check(streamed_rx);
                    }
                    if outcome == StageOutcome::Done
                        && let Err(e) = cx.run.ledger.mark_stage_done(&stage.name).await
                    {
                        outcome = StageOutcome::Failed(e.to_string());
                    }
                    outcome
                }
            };
            // Before `Ended`, while the stages that wait for this one still wait: done after
            // it, closing the statements let their "Started" line come before this one's
            // "Finished".
            crate::store::forget_statements(cx.db()).await;
            // Ended before the context (and its senders) goes, so a consumer whose input
            // closes sees how its producers ended.
            let _ = phase_tx.send(Phase::Ended(outcome.clone()));
            let notes = cx.take_notes();
            let slowest = cx.take_slowest();
            drop(cx);
            crate::mem::release_freed();
            // Which stage set a run's peak (the report has the run's only).
            tracing::debug!(
                stage = %stage.name,
                peak_rss_bytes = crate::mem::peak_rss_bytes(),
                "stage done"
            );
            let mut values = counters.values();
            if outcome == StageOutcome::Interrupted {
                // Known items without an outcome wait in the ledger for `--resume`: the final
                // table counts them as `status` does.
                values.pending = values
                    .pending
                    .max(values.total.saturating_sub(values.done()));
            }
            observer.finished(&stage, &outcome, &values);
            StageReport {
                name: stage.name.clone(),
                kind: stage.kind.name().to_owned(),
                outcome,
                counters: values,
                wall,
                started_at: span.map(|(b, _)| b),
                finished_at: span.map(|(_, e)| e),
                floor_seconds: None,
                notes,
                slowest,
            }
        });
    }
    // Only the tasks hold senders now: a stage whose task is gone reads as ended.
    phases.clear();

    let mut reports = idle_reports;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(report) => reports.push(report),
            Err(e) => tracing::error!("a stage task ended abnormally: {e}"),
        }
    }
    let position: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    reports.sort_by_key(|r| position.get(r.name.as_str()).copied().unwrap_or(usize::MAX));
    reports
}

/// Movies saved by an earlier attempt of the run need no fetch stage now.
async fn preload_claims(exec: &Execution) {
    let plan = &exec.run.plan;
    // Only another fetch stage would ask (`claims`' module doc); reading every movie saved
    // would cost memory for nothing.
    if plan.fetch_stages() < 2 {
        return;
    }
    for stage in &plan.stages {
        if !matches!(stage.kind, StageKind::Fetch(_)) {
            continue;
        }
        match exec
            .run
            .ledger
            .ok_movies(std::slice::from_ref(&stage.name))
            .await
        {
            Ok(ids) => exec
                .run
                .claims
                .preload(ids.into_iter().map(|id| (id, stage.name.clone()))),
            // Not fatal: the movies would only be fetched again.
            Err(e) => tracing::warn!(stage = %stage.name, "cannot read the ledger: {e}"),
        }
    }
}

/// Waits until every need has ended well, or for streamed needs until they run.
async fn wait_for_needs(
    needs: Vec<Need>,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), StageOutcome> {
    for mut need in needs {
        loop {
            let phase = need.rx.borrow_and_update().clone();
            match phase {
                Phase::Ended(o) if o.satisfies_needs() => break,
                Phase::Ended(StageOutcome::Interrupted) => return Err(StageOutcome::Interrupted),
                Phase::Ended(o) => {
                    return Err(StageOutcome::Skipped(format!(
                        "needs `{}`, which ended {}",
                        need.name,
                        o.label()
                    )));
                }
                Phase::Running if need.streamed => break,
                _ => {}
            }
            tokio::select! {
                changed = need.rx.changed() => {
                    if changed.is_err() {
                        return Err(StageOutcome::Skipped(format!(
                            "needs `{}`, which never ended", need.name
                        )));
                    }
                }
                () = cancel.cancelled() => return Err(StageOutcome::Interrupted),
            }
        }
    }
    if cancel.is_cancelled() {
        return Err(StageOutcome::Interrupted);
    }
    Ok(())
}

/// A streaming consumer that drained its input is complete only if its producers are: a
/// producer that failed or stopped leaves movies the consumer never saw.
fn upstream_check(streamed: Vec<(String, watch::Receiver<Phase>)>) -> StageOutcome {
    for (name, rx) in streamed {
        let phase = rx.borrow().clone();
        match phase {
            Phase::Ended(o) if o.satisfies_needs() => {}
            Phase::Ended(o) => {
                return StageOutcome::Partial(format!(
                    "upstream stage `{name}` ended {}, so movies it did not fetch are still to do",
                    o.label()
                ));
            }
            _ => {
                return StageOutcome::Partial(format!(
                    "upstream stage `{name}` had not ended when this stage ran out of input"
                ));
            }
        }
    }
    StageOutcome::Done
}
