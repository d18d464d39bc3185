//! `popctl validate`: load each plan, print every problem at once, the stage order and the
//! request budget. Nothing is written and nothing is fetched.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use crate::plan::dag::Dag;
use crate::plan::{self, Code, LoadOptions, PlanDiagnostic, PlanErrors, RenderStyle, Site};
use crate::report::Shell;

/// How `validate` prints its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Labelled snippets on stderr, status lines and the budget.
    #[default]
    Human,
    /// One JSON document on stdout, for editors and CI.
    Json,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub plans: Vec<PathBuf>,
    pub sets: Vec<String>,
    /// The environment snapshot (overrides and `${VAR}` values).
    pub env: BTreeMap<String, String>,
    pub format: Format,
    /// Treat warnings as errors (those of codes given a level in `levels` excepted).
    pub deny_warnings: bool,
    /// `--allow`, `--warn`, `--deny`, in the order given: for a code named twice the last wins.
    pub levels: Vec<(Code, Level)>,
}

/// What `validate` does with the warnings of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Not shown, not counted.
    Allow,
    /// Shown; the plan stays valid.
    Warn,
    /// Shown as an error; the plan is invalid.
    Deny,
}

impl Options {
    /// The level of a warning: the last `--allow/--warn/--deny` naming its code, else `allow`
    /// for an unset API-key variable (only a run needs the keys, and it refuses to start
    /// without them: CI validates without secrets), else `warn`, or `deny` with
    /// `--deny-warnings`.
    pub fn level_of(&self, d: &PlanDiagnostic) -> Level {
        if let Some((_, level)) = self.levels.iter().rev().find(|(c, _)| *c == d.code) {
            return *level;
        }
        if d.is_unset_api_key() {
            Level::Allow
        } else if self.deny_warnings {
            Level::Deny
        } else {
            Level::Warn
        }
    }

    /// `diagnostics` as this command reports them: allowed warnings left out, denied ones
    /// turned into errors. Errors stay errors whatever their code.
    pub fn apply(&self, diagnostics: Vec<PlanDiagnostic>) -> Vec<PlanDiagnostic> {
        diagnostics
            .into_iter()
            .filter_map(|mut d| {
                if d.is_error() {
                    return Some(d);
                }
                match self.level_of(&d) {
                    Level::Allow => None,
                    Level::Warn => Some(d),
                    Level::Deny => {
                        d.severity = miette::Severity::Error;
                        d.help = Some(match d.help.take() {
                            Some(h) => format!("{h}\n(a warning, denied by this command's flags)"),
                            None => "(a warning, denied by this command's flags)".to_owned(),
                        });
                        Some(d)
                    }
                }
            })
            .collect()
    }
}

/// What `validate` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Plans that are valid (warnings allowed unless denied).
    pub valid: usize,
    pub invalid: usize,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.invalid == 0
    }
}

/// The style diagnostics are drawn in on this shell: coloured where the shell colours.
pub fn render_style(shell: &Shell) -> RenderStyle {
    if shell.color() {
        RenderStyle::Color
    } else {
        RenderStyle::Plain
    }
}

/// Draws diagnostics on stderr.
pub fn print_diagnostics(shell: &Shell, diagnostics: &[PlanDiagnostic]) {
    if !diagnostics.is_empty() {
        shell.err_text(&plan::error::render(diagnostics, render_style(shell)));
    }
}

/// Loads a plan for a command that then uses it (graph, show): warnings but those of `ignore`
/// and unset API-key variables (which only a run needs) are printed, an invalid plan is
/// returned for the caller to report.
pub fn load_for_command(
    path: &std::path::Path,
    sets: &[String],
    env: &BTreeMap<String, String>,
    shell: &Shell,
    ignore: &[plan::Code],
) -> Result<plan::Loaded, plan::PlanErrors> {
    let loaded = plan::load(&LoadOptions {
        path: path.to_path_buf(),
        sets: sets.to_vec(),
        env: env.clone(),
    })?;
    let shown: Vec<_> = loaded
        .warnings
        .iter()
        .filter(|d| !ignore.contains(&d.code) && !d.is_unset_api_key())
        .cloned()
        .collect();
    print_diagnostics(shell, &shown);
    Ok(loaded)
}

/// Diagnostics several plans share (a base they all extend): each is drawn once, and a line
/// at the end says how many plans had it.
#[derive(Default)]
struct Seen {
    /// (code, message, place) of every diagnostic drawn.
    drawn: HashSet<(Code, String, Option<String>)>,
    /// (is an error, code, message) → the plans that had it, in first-seen order.
    plans: Vec<((bool, Code, String), Vec<String>)>,
}

impl Seen {
    /// The diagnostics of one plan that were not drawn yet.
    fn fresh(&mut self, plan: &str, diagnostics: &[PlanDiagnostic]) -> Vec<PlanDiagnostic> {
        let mut fresh = Vec::new();
        for d in diagnostics {
            let group = (d.is_error(), d.code, d.message.clone());
            match self.plans.iter_mut().find(|(g, _)| *g == group) {
                Some((_, plans)) if !plans.iter().any(|p| p == plan) => plans.push(plan.to_owned()),
                Some(_) => {}
                None => self.plans.push((group, vec![plan.to_owned()])),
            }
            let place = d.site.as_ref().map(Site::position);
            if self.drawn.insert((d.code, d.message.clone(), place)) {
                fresh.push(d.clone());
            }
        }
        fresh
    }

    /// `warning × 8 plans: …` for each diagnostic more than one plan had.
    fn summarise(&self, shell: &Shell) {
        for ((error, _, message), plans) in &self.plans {
            if plans.len() < 2 {
                continue;
            }
            let times = plan::error::plural(plans.len(), "plan");
            if *error {
                shell.error_repeated(&times, message);
            } else {
                shell.warn_repeated(&times, message);
            }
        }
    }
}

pub fn run(opts: &Options, shell: &Shell) -> Outcome {
    let mut outcome = Outcome {
        valid: 0,
        invalid: 0,
    };
    let mut json_plans = Vec::new();
    let mut seen = Seen::default();
    for path in &opts.plans {
        let load = LoadOptions {
            path: path.clone(),
            sets: opts.sets.clone(),
            env: opts.env.clone(),
        };
        let shown = path.display().to_string();
        match plan::load(&load) {
            Ok(loaded) => {
                let budget = plan::budget(&loaded.plan);
                let mut found = loaded.warnings;
                found.extend(budget.quota_warnings());
                let diagnostics = opts.apply(found);
                let denied = diagnostics.iter().filter(|d| d.is_error()).count();
                let warnings = diagnostics.len() - denied;
                let valid = denied == 0;
                if valid {
                    outcome.valid += 1;
                } else {
                    outcome.invalid += 1;
                }
                match opts.format {
                    Format::Json => json_plans.push(serde_json::json!({
                        "path": shown,
                        "valid": valid,
                        "name": loaded.plan.name,
                        "hash": loaded.plan.hash,
                        "order": Dag::new(&loaded.plan).map(|d| d.order().map(str::to_owned).collect::<Vec<_>>()).unwrap_or_default(),
                        "diagnostics": diagnostics.iter().map(PlanDiagnostic::to_json).collect::<Vec<_>>(),
                        "budget": budget.to_json(),
                    })),
                    Format::Human => {
                        print_diagnostics(shell, &seen.fresh(&shown, &diagnostics));
                        let counts = format!(
                            "plan `{}`: {}, {}{}",
                            loaded.plan.name,
                            plan::error::plural(loaded.plan.stages.len(), "stage"),
                            plan::error::plural(loaded.plan.sources.len(), "source"),
                            if warnings == 0 {
                                String::new()
                            } else {
                                format!(", {}", plan::error::plural(warnings, "warning"))
                            }
                        );
                        if valid {
                            shell.status("Validated", format!("{shown} ({counts})"));
                        } else {
                            shell.error(format!(
                                "{shown} is invalid: {} denied ({counts})",
                                plan::error::plural(denied, "warning")
                            ));
                        }
                        if let Ok(dag) = Dag::new(&loaded.plan)
                            && !dag.is_empty()
                        {
                            shell.status("Order", order_line(&dag));
                        }
                        for line in budget.lines() {
                            shell.status("Budget", line);
                        }
                    }
                }
            }
            Err(errors) => {
                outcome.invalid += 1;
                let errors = PlanErrors::new(&shown, opts.apply(errors.diagnostics));
                match opts.format {
                    Format::Json => json_plans.push(serde_json::json!({
                        "path": shown,
                        "valid": false,
                        "diagnostics": errors.diagnostics.iter().map(PlanDiagnostic::to_json).collect::<Vec<_>>(),
                        "budget": null,
                    })),
                    Format::Human => {
                        print_diagnostics(shell, &seen.fresh(&shown, &errors.diagnostics));
                        shell.error(errors.summary());
                    }
                }
            }
        }
    }
    match opts.format {
        Format::Json => {
            let doc = serde_json::json!({ "valid": outcome.ok(), "plans": json_plans });
            shell.out_text(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            ));
        }
        Format::Human => seen.summarise(shell),
    }
    outcome
}

/// `reset → seed → {top_rated, now_playing, upcoming} → omdb → post`.
pub fn order_line(dag: &Dag) -> String {
    dag.levels()
        .iter()
        .map(|level| match level.as_slice() {
            [one] => (*one).to_owned(),
            many => format!("{{{}}}", many.join(", ")),
        })
        .collect::<Vec<_>>()
        .join(" → ")
}
