//! How commands take a plan: `PLAN` as a positional argument and `--plan PLAN`, both accepted
//! by every command that takes a plan, so neither habit fails anywhere. (`status`, `db` and
//! `cache`, where a plan is optional, declare the same pair in their own arguments.)

use std::path::PathBuf;

use clap::Args;

/// A plan the command cannot do without (`run`, `graph`, `plan show`).
#[derive(Debug, Clone, Args)]
pub struct PlanArg {
    /// The plan file
    #[arg(
        value_name = "PLAN",
        required_unless_present = "plan_flag",
        conflicts_with = "plan_flag"
    )]
    plan: Option<PathBuf>,
    /// The plan file, like PLAN
    #[arg(long = "plan", id = "plan_flag", value_name = "PLAN")]
    plan_flag: Option<PathBuf>,
}

impl PlanArg {
    /// The plan given either way (clap requires exactly one).
    pub fn path(self) -> PathBuf {
        self.plan.or(self.plan_flag).unwrap_or_default()
    }
}
