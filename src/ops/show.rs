//! `popctl plan show`: the fully resolved plan (layers merged, variables expanded, every
//! default filled in) as TOML, with API keys and database passwords masked.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::plan::{self, PlanErrors};
use crate::report::Shell;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub plan: PathBuf,
    pub sets: Vec<String>,
    pub env: BTreeMap<String, String>,
}

pub fn run(opts: &Options, shell: &Shell) -> Result<(), PlanErrors> {
    let loaded = super::validate::load_for_command(&opts.plan, &opts.sets, &opts.env, shell, &[])?;
    let mut layers: Vec<String> = loaded
        .plan
        .files
        .iter()
        .rev()
        .map(|f| f.display().to_string())
        .collect();
    if opts
        .env
        .keys()
        .any(|k| k.starts_with(plan::ENV_PREFIX) && k.contains("__"))
    {
        layers.push("POPCTL_… environment".to_owned());
    }
    if !opts.sets.is_empty() {
        layers.push("--set".to_owned());
    }
    let mut text = format!(
        "# The resolved plan {} (hash {}); secrets masked.\n# Layers, lowest first: {}\n\n",
        opts.plan.display(),
        loaded.plan.hash.get(..12).unwrap_or(&loaded.plan.hash),
        layers.join(", "),
    );
    text.push_str(&loaded.plan.to_toml());
    shell.out_text(&text);
    Ok(())
}
