//! `popctl graph`: the stage DAG of a plan as Graphviz dot or a mermaid flowchart, each node
//! labelled with its kind and key settings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::dag::Dag;
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

/// Prints the graph on stdout; warnings go to stderr. An invalid plan is returned as is.
pub fn run(opts: &Options, shell: &Shell) -> Result<(), PlanErrors> {
    // The graph does not depend on keys or URLs: an unset variable is only noise here.
    let loaded = super::validate::load_for_command(
        &opts.plan,
        &opts.sets,
        &opts.env,
        shell,
        &[plan::Code::UnsetVariable],
    )?;
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
