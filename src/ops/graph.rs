//! `popctl graph`: the stage DAG of a plan as Graphviz dot or a mermaid flowchart, each node
//! labelled with its kind and key settings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::plan::dag::Dag;
use crate::plan::{self, PlanErrors};
use crate::report::Shell;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Dot,
    Mermaid,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub plan: PathBuf,
    pub sets: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub format: Format,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GraphError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(#[from] PlanErrors),

    /// An empty graph would be drawn as an empty picture, which looks like a broken pipeline.
    #[error("plan `{name}` ({path}) has no stages: there is no graph to draw")]
    #[diagnostic(
        code(popctl::graph::no_stages),
        help("is it a base that other plans `extends`? draw one of those instead")
    )]
    NoStages { name: String, path: String },
}

/// Prints the graph on stdout; warnings go to stderr. An invalid plan is returned as is.
pub fn run(opts: &Options, shell: &Shell) -> Result<(), GraphError> {
    // The graph does not depend on keys or URLs: an unset variable is only noise here.
    let loaded = super::validate::load_for_command(
        &opts.plan,
        &opts.sets,
        &opts.env,
        shell,
        &[plan::Code::UnsetVariable],
    )?;
    if loaded.plan.stages.is_empty() {
        return Err(GraphError::NoStages {
            name: loaded.plan.name,
            path: opts.plan.display().to_string(),
        });
    }
    let dag = Dag::new(&loaded.plan).map_err(|e| {
        // The compiler rejects cycles and unknown needs; reaching this is a bug.
        PlanErrors::new(
            &opts.plan.display().to_string(),
            vec![plan::PlanDiagnostic::error(
                plan::Code::Cycle,
                format!("internal error, please report: {e}"),
            )],
        )
    })?;
    shell.out_text(&match opts.format {
        Format::Dot => dag.to_dot(),
        Format::Mermaid => dag.to_mermaid(),
    });
    Ok(())
}
