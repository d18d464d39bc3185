//! Progress of a run: one bar per running stage when stderr is a terminal; otherwise a plain
//! line per running stage every few seconds (CI logs, pipes), or `stage-…` messages with
//! `--message-format json`; nothing with `--quiet` (JSON messages are written even then:
//! they are the command's output, not its chatter).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::Shell;
use super::events::Event;
use crate::plan;
use crate::stages::executor::Observer;
use crate::stages::{CounterValues, Counters, StageOutcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// indicatif bars on stderr.
    Bars,
    /// Status lines through the shell.
    Lines,
    /// `stage-started`, `stage-progress`, `stage-finished` messages (`--message-format json`).
    Events,
    Off,
}

impl ProgressMode {
    /// Messages with JSON, else bars on a terminal, lines otherwise, nothing when quiet.
    pub fn detect(shell: &Shell) -> Self {
        if shell.is_json() {
            ProgressMode::Events
        } else if shell.is_quiet() {
            ProgressMode::Off
        } else if shell.is_err_tty() {
            ProgressMode::Bars
        } else {
            ProgressMode::Lines
        }
    }
}

struct Running {
    name: String,
    /// The stages this one takes items from: while they run, its total still grows.
    needs: Vec<String>,
    counters: Arc<Counters>,
    bar: Option<ProgressBar>,
}

/// The executor's observer. [`Progress::spawn_ticker`] refreshes what it shows.
pub struct Progress {
    mode: ProgressMode,
    shell: Shell,
    multi: MultiProgress,
    running: Mutex<Vec<Running>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Progress {
    pub fn new(mode: ProgressMode, shell: Shell) -> Arc<Self> {
        let multi = MultiProgress::with_draw_target(match mode {
            ProgressMode::Bars => ProgressDrawTarget::stderr_with_hz(8),
            _ => ProgressDrawTarget::hidden(),
        });
        Arc::new(Progress {
            mode,
            shell,
            multi,
            running: Mutex::new(Vec::new()),
        })
    }

    pub fn mode(&self) -> ProgressMode {
        self.mode
    }

    /// The bars, for log output to be written around them; `None` when there are none.
    pub fn bars(&self) -> Option<MultiProgress> {
        (self.mode == ProgressMode::Bars).then(|| self.multi.clone())
    }

    /// Redraws the bars often and writes a line per running stage every `every`, until the
    /// returned task is aborted.
    pub fn spawn_ticker(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let tick = Duration::from_millis(250);
            let mut since = Duration::ZERO;
            loop {
                tokio::time::sleep(tick).await;
                since += tick;
                let lines = since >= every;
                if lines {
                    since = Duration::ZERO;
                }
                me.refresh(lines);
            }
        })
    }

    fn refresh(&self, lines: bool) {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        for r in running.iter() {
            let v = r.counters.values();
            let activity = r.counters.activity();
            if let Some(bar) = &r.bar {
                bar.set_length(expected_total(r, &running));
                bar.set_position(v.done());
                // The activity first: a bar's message is cut at the terminal's width, and
                // the counters of a stage with an activity (its steps) say little meanwhile.
                bar.set_message(match &activity {
                    Some(now) => format!("{now}; {}", compact(&v)),
                    None => compact(&v),
                });
            } else if lines {
                match self.mode {
                    ProgressMode::Lines => self
                        .shell
                        .status("Progress", line(&r.name, &v, activity.as_deref())),
                    ProgressMode::Events => self.shell.event(&Event::StageProgress {
                        stage: r.name.clone(),
                        done: v.done(),
                        counters: v,
                        activity,
                    }),
                    _ => {}
                }
            }
        }
    }

    /// Clears the bars before the report is printed.
    pub fn clear(&self) {
        let _ = self.multi.clear();
    }
}

/// The items a stage will have when its running producers are done: its own known total plus
/// what they have yet to pass on. Without it the ETA of a stage fed by another is the time
/// to finish what has arrived so far (the omdb stage said "eta 5s" with 35 s to go).
fn expected_total(r: &Running, running: &[Running]) -> u64 {
    let v = r.counters.values();
    let coming: u64 = running
        .iter()
        .filter(|p| r.needs.contains(&p.name))
        .map(|p| {
            let pv = p.counters.values();
            pv.total.saturating_sub(pv.done())
        })
        .sum();
    (v.total + coming).max(v.done())
}

/// The counters a bar shows after its numbers: only those that are not zero, so the line
/// stays short; the bar's `{wide_msg}` cuts it to the terminal's width.
fn compact(v: &CounterValues) -> String {
    let mut parts = vec![format!("{} req", v.requests)];
    for (n, what) in [
        (v.failed, "failed"),
        (v.skipped, "skipped"),
        (v.retries, "retries"),
        (v.rate_limited, "× 429"),
        (v.pending, "pending"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

/// A stage's `Progress` line: its counts, then what it is doing inside its current item.
fn line(stage: &str, v: &CounterValues, activity: Option<&str>) -> String {
    let mut line = format!("{stage}: {}/{} items, {}", v.done(), v.total, detail(v));
    if let Some(now) = activity {
        line.push_str("; ");
        line.push_str(now);
    }
    line
}

fn detail(v: &CounterValues) -> String {
    format!(
        "{} failed, {} skipped, {} requests, {} retries, {} × 429",
        v.failed, v.skipped, v.requests, v.retries, v.rate_limited
    )
}

impl Observer for Progress {
    fn started(&self, stage: &plan::Stage, counters: Arc<Counters>) {
        let bar = (self.mode == ProgressMode::Bars).then(|| {
            let bar = self.multi.add(ProgressBar::new(0));
            // The stage name is bold only where the shell colours (`--color`).
            let prefix = if self.shell.color() {
                "{prefix:>12.bold}"
            } else {
                "{prefix:>12}"
            };
            // About 60 columns before the message, which fills what is left of the terminal's
            // width and is cut there: a line never wraps (a wrapped bar redraws as two).
            let style = ProgressStyle::with_template(&format!(
                "{prefix} [{{bar:20}}] {{pos:>5}}/{{len:<5}} {{rate:>7}} eta {{eta:<4}} {{wide_msg}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.1}/s", state.per_sec());
                },
            )
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(stage.name.clone());
            bar
        });
        match self.mode {
            ProgressMode::Lines => self
                .shell
                .status("Started", format!("{} ({})", stage.name, stage.kind.name())),
            ProgressMode::Events => self.shell.event(&Event::StageStarted {
                stage: stage.name.clone(),
                kind: stage.kind.name().to_owned(),
            }),
            _ => {}
        }
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Running {
                name: stage.name.clone(),
                needs: stage.needs.clone(),
                counters,
                bar,
            });
    }

    fn finished(&self, stage: &plan::Stage, outcome: &StageOutcome, v: &CounterValues) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let Some(i) = running.iter().position(|r| r.name == stage.name) else {
            // A stage that never started (skipped, interrupted before its turn).
            return;
        };
        let r = running.remove(i);
        if let Some(bar) = r.bar {
            bar.set_length(v.total.max(v.done()));
            bar.set_position(v.done());
            bar.finish_with_message(format!("{} — {}", outcome.label(), compact(v)));
        }
        match self.mode {
            ProgressMode::Lines => self.shell.status(
                "Finished",
                format!(
                    "{}: {}, {} ok, {} failed, {} skipped, {} pending",
                    stage.name,
                    outcome.label(),
                    v.ok,
                    v.failed,
                    v.skipped,
                    v.pending
                ),
            ),
            ProgressMode::Events => self.shell.event(&Event::StageFinished {
                stage: stage.name.clone(),
                status: outcome.label().to_owned(),
                counters: *v,
            }),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_ends_with_what_the_stage_is_doing() {
        let v = CounterValues {
            total: 3,
            ok: 2,
            ..CounterValues::default()
        };
        let doing = "recommendations: computing similar movies, 2,048/100,000 movies";
        assert_eq!(
            line("post", &v, Some(doing)),
            format!(
                "post: 2/3 items, 0 failed, 0 skipped, 0 requests, 0 retries, 0 × 429; {doing}"
            )
        );
        assert!(line("post", &v, None).ends_with("0 × 429"));
    }
}
