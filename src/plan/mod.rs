//! The plan language: parse TOML plan files, layer them (`extends`, `POPCTL_…` env, `--set`),
//! interpolate `${VAR}`, and compile them into a validated [`Plan`].
//!
//! Pure: no network, no database; the only I/O is reading plan files (and checking that the
//! list files a plan names exist).
//!
//! ```text
//! raw (spanned parse of each layer) -> layer (figment merge, provenance of every value)
//!   -> compile + stage (field by field, every problem gathered) -> checks (across stages)
//!     -> Plan (+ warnings)            budget / render / schema / dag read a compiled Plan
//! ```
//!
//! `keys` declares the format once (tables, keys, types, limits, defaults, docs): the compiler
//! reads values through it, `schema` and docs/plans.md's reference are drawn from it.
//!
//! The entry points: [`load`] for a plan file, [`Plan::require_resolved`] before running it,
//! [`budget()`] for the requests it implies, [`schema::json_schema`] for editors.

mod budget;
mod checks;
mod compile;
pub mod dag;
pub mod database;
pub mod error;
pub mod interpolate;
pub mod keys;
mod layer;
mod model;
pub mod raw;
pub mod render;
pub mod schema;
mod stage;
pub mod suggest;
pub mod units;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use budget::{Budget, SourceBudget, StageBudget, budget, thousands};
pub use compile::{database_url_problem, default_key_var};
pub use error::{Code, Origin, PlanDiagnostic, PlanErrors, RenderStyle, Site};
pub use keys::{
    DEFAULT_CACHE_DIR, DEFAULT_DATABASE_URL, DEFAULT_FILES_URL, DEFAULT_MAX_RATE_LIMITED_WAIT,
};
pub use layer::{ENV_PREFIX, env_var_for};
pub use model::*;

use compile::{Cx, Tbl};
use raw::KeyPath;

/// What to load: a plan file, `--set` overrides and an environment snapshot.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The plan file; `extends` paths in it are relative to it.
    pub path: PathBuf,
    /// `key.path=value` overrides, applied last, in order.
    pub sets: Vec<String>,
    /// The environment: `POPCTL_SECTION__KEY…` overrides and `${VAR}` values. Tests pass their
    /// own map; the CLI passes `std::env::vars()`.
    pub env: BTreeMap<String, String>,
}

impl LoadOptions {
    /// `path` with no overrides and an empty environment.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LoadOptions {
            path: path.into(),
            ..LoadOptions::default()
        }
    }
}

/// A plan that compiled, and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub plan: Plan,
    pub warnings: Vec<PlanDiagnostic>,
}

/// Loads, layers and compiles the plan at `opts.path`. On failure every problem is in the
/// error, warnings included.
pub fn load(opts: &LoadOptions) -> Result<Loaded, PlanErrors> {
    let what = opts.path.display().to_string();
    let layers = layer::load_layers(&opts.path, &opts.sets, &opts.env)
        .map_err(|d| PlanErrors::new(&what, d))?;
    let mut cx = Cx {
        layers: &layers,
        env: &opts.env,
        diags: layers.warnings.clone(),
        unresolved: Vec::new(),
        vars_read: Default::default(),
    };
    let sections = compile::sections(&mut cx, &opts.path);
    let root = KeyPath::root();
    let top = Tbl {
        path: &root,
        dict: &layers.merged,
    };
    let sketches = match compile::sub_table(&mut cx, top, "stages") {
        Some((path, dict)) => stage::sketch(&mut cx, dict, &path),
        None => Vec::new(),
    };
    let stages: Vec<Option<Stage>> = sketches
        .iter()
        .map(|sk| stage::compile(&mut cx, sk, &sections))
        .collect();
    checks::check(&mut cx, &sketches, &stages, &sections);
    compile::unset_warnings(&mut cx);

    let mut diags = std::mem::take(&mut cx.diags);
    diags.sort_by_key(|d| match &d.site {
        Some(site) => (1 + layers.rank(&site.origin), site.span.start),
        None => (0, 0),
    });
    if diags.iter().any(PlanDiagnostic::is_error) {
        return Err(PlanErrors::new(&what, diags));
    }
    let mut plan = Plan {
        name: sections.name,
        description: sections.description,
        files: layers.files.clone(),
        hash: String::new(),
        database: sections.database,
        sources: sections.sources,
        cache: sections.cache,
        data: sections.data,
        stages: stages.into_iter().flatten().collect(),
        unresolved: std::mem::take(&mut cx.unresolved),
    };
    plan.hash = render::hash(&plan);
    Ok(Loaded {
        plan,
        warnings: diags,
    })
}

impl Plan {
    /// What `run` calls before touching anything: every `${VAR}` still unresolved becomes an
    /// error naming the variable and its place, and the reset guard is checked again against
    /// the database URL as it now stands (an override after loading may have changed it).
    pub fn require_resolved(&self) -> Result<(), PlanErrors> {
        self.require_resolved_for(|_| true)
    }

    /// [`Plan::require_resolved`] for a run that asks only the sources `needed` says it
    /// needs: the keys and addresses of the others may stay unset.
    pub fn require_resolved_for(&self, needed: impl Fn(&str) -> bool) -> Result<(), PlanErrors> {
        let mut diags = Vec::new();
        for u in &self.unresolved {
            let still = match &u.field {
                VarField::DatabaseUrl => {
                    matches!(self.database.url, Interpolated::Unresolved { .. })
                }
                VarField::ApiKey(source) => {
                    needed(source)
                        && self
                            .sources
                            .get(source)
                            .is_some_and(|s| matches!(s.api_key, Interpolated::Unresolved { .. }))
                }
                VarField::BaseUrl { source, written } => {
                    needed(source)
                        && self
                            .sources
                            .get(source)
                            .is_some_and(|s| s.base_url == *written)
                }
            };
            if !still {
                continue;
            }
            let place = u
                .site
                .as_ref()
                .map(|s| format!(" at {}", s.position()))
                .unwrap_or_default();
            diags.push(
                PlanDiagnostic::error(
                    Code::UnsetVariable,
                    format!(
                        "environment variable `{}` is not set; `{}`{place} needs it",
                        u.var, u.key
                    ),
                )
                .at(u.site.clone(), format!("`{}` is unset", u.var))
                .key(u.key.clone())
                .help(format!(
                    "{}export {}=… and run again, or give a default: `${{{}:-…}}`",
                    compile::did_you_mean_variable(u.similar.as_deref()),
                    u.var,
                    u.var
                )),
            );
        }
        if let Interpolated::Value(url) = &self.database.url
            && !database::is_local_database_url(url.expose())
        {
            for stage in &self.stages {
                if let StageKind::Reset(r) = &stage.kind
                    && stage.enabled
                    && !r.allow_remote
                {
                    diags.push(checks::remote_reset_error(&stage.name, url.expose()));
                }
            }
        }
        if diags.is_empty() {
            return Ok(());
        }
        let what = self
            .files
            .first()
            .map(|f| f.display().to_string())
            .unwrap_or_else(|| self.name.clone());
        Err(PlanErrors::new(&what, diags))
    }

    /// The TMDB source a seed stage asks for TMDB's genres: the plan's first, by name.
    pub fn genre_source(&self) -> Option<&str> {
        self.sources
            .iter()
            .find(|(_, s)| s.kind == SourceKind::Tmdb)
            .map(|(name, _)| name.as_str())
    }

    /// The source `stage` asks, if any.
    pub fn source_of<'a>(&'a self, stage: &'a Stage) -> Option<&'a str> {
        match &stage.kind {
            StageKind::Seed(seed) if seed.sets.contains(&SeedSet::Genres) => self.genre_source(),
            kind => kind.source(),
        }
    }

    /// The plan as TOML with every default filled in and secrets masked (`popctl plan show`).
    pub fn to_toml(&self) -> String {
        render::to_toml(self, render::Render::Show)
    }
}
