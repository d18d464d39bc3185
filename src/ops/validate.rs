//! `popctl validate`: load each plan, print every problem at once, the stage order and the
//! request budget. Nothing is written and nothing is fetched.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::dag::Dag;
use crate::plan::{self, LoadOptions, PlanDiagnostic, RenderStyle};
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
    /// Treat warnings as errors.
    pub deny_warnings: bool,
}

/// What `validate` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Plans that are valid (warnings allowed unless `deny_warnings`).
    pub valid: usize,
    pub invalid: usize,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.invalid == 0
    }
}

/// The style diagnostics are drawn in on this shell.
pub fn render_style(shell: &Shell) -> RenderStyle {
    if shell.is_err_tty() && std::env::var_os("NO_COLOR").is_none() {
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
/// are printed, an invalid plan is returned for the caller to report.
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
        .filter(|d| !ignore.contains(&d.code))
        .cloned()
        .collect();
    print_diagnostics(shell, &shown);
    Ok(loaded)
}

pub fn run(opts: &Options, shell: &Shell) -> Outcome {
    let mut outcome = Outcome {
        valid: 0,
        invalid: 0,
    };
    let mut json_plans = Vec::new();
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
                let mut warnings = loaded.warnings;
                warnings.extend(budget.quota_warnings());
                let valid = !opts.deny_warnings || warnings.is_empty();
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
                        "diagnostics": warnings.iter().map(PlanDiagnostic::to_json).collect::<Vec<_>>(),
                        "budget": budget.to_json(),
                    })),
                    Format::Human => {
                        print_diagnostics(shell, &warnings);
                        let counts = format!(
                            "plan `{}`: {}, {}{}",
                            loaded.plan.name,
                            plan::error::plural(loaded.plan.stages.len(), "stage"),
                            plan::error::plural(loaded.plan.sources.len(), "source"),
                            if warnings.is_empty() {
                                String::new()
                            } else {
                                format!(", {}", plan::error::plural(warnings.len(), "warning"))
                            }
                        );
                        if valid {
                            shell.status("Validated", format!("{shown} ({counts})"));
                        } else {
                            shell.error(format!("{shown} has warnings and --deny-warnings is set ({counts})"));
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
                match opts.format {
                    Format::Json => json_plans.push(serde_json::json!({
                        "path": shown,
                        "valid": false,
                        "diagnostics": errors.diagnostics.iter().map(PlanDiagnostic::to_json).collect::<Vec<_>>(),
                        "budget": null,
                    })),
                    Format::Human => {
                        print_diagnostics(shell, &errors.diagnostics);
                        shell.error(errors.summary());
                    }
                }
            }
        }
    }
    if opts.format == Format::Json {
        let doc = serde_json::json!({ "valid": outcome.ok(), "plans": json_plans });
        shell.out_text(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ));
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
