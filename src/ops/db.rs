//! `popctl db migrate | status | reset`: working on the schema by hand, on a database given
//! by URL or by a plan.

use std::collections::BTreeMap;
use std::path::Path;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::plan::{self, Code, Interpolated, LoadOptions, PlanDiagnostic, PlanErrors, ResetScope};
use crate::report::Shell;
use crate::store::{self, StoreError, redact_url};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Apply pending migrations.
    Migrate,
    /// Show each migration and the row counts of the main tables.
    Status,
    /// Drop popctl's tables (or every table) and recreate the schema.
    Reset {
        allow_remote: bool,
        scope: ResetScope,
    },
}

#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub action: Action,
}

/// Tables whose row counts `status` shows.
const COUNTED: [&str; 12] = [
    "movies",
    "people",
    "movie_credits",
    "genres",
    "keywords",
    "movie_videos",
    "movie_release_dates",
    "reviews",
    "external_ratings",
    "movie_enrichment",
    "curated_lists",
    "import_runs",
];

/// The database plan `path` writes to (`[database] url`, after overrides and `${VAR}`
/// expansion) and the plan's name. API keys are not needed for this.
pub fn plan_database(
    path: &Path,
    sets: &[String],
    env: &BTreeMap<String, String>,
) -> Result<(String, String), PlanErrors> {
    let loaded = plan::load(&LoadOptions {
        path: path.to_path_buf(),
        sets: sets.to_vec(),
        env: env.clone(),
    })?;
    let plan = loaded.plan;
    match &plan.database.url {
        Interpolated::Value(url) => Ok((url.clone(), plan.name)),
        Interpolated::Unresolved { var } => Err(PlanErrors::new(
            &path.display().to_string(),
            vec![
                PlanDiagnostic::error(
                    Code::UnsetVariable,
                    format!("environment variable `{var}` is not set; `database.url` needs it"),
                )
                .key("database.url")
                .help(format!("export {var}=… or pass --url")),
            ],
        )),
    }
}

pub async fn run(options: &Options, shell: &Shell) -> Result<(), StoreError> {
    let shown = redact_url(&options.url);
    if let Action::Reset { allow_remote, .. } = options.action {
        // Refuse before connecting: nothing about a remote database is touched.
        store::reset_allowed(&options.url, allow_remote)?;
    }
    let db = store::connect(&options.url).await?;
    match options.action {
        Action::Migrate => {
            store::migrate(&db).await?;
            shell.status("Migrated", &shown);
        }
        Action::Reset {
            allow_remote,
            scope,
        } => {
            if !allow_remote {
                store::confirm_local(&db, &options.url).await?;
            }
            let plan = store::reset(&db, &options.url, allow_remote, scope).await?;
            if let Some(warning) = plan.warning() {
                shell.warn(warning);
            }
            shell.status("Reset", &shown);
        }
        Action::Status => status(&db, shell).await?,
    }
    db.close().await.ok();
    Ok(())
}

async fn status(db: &DatabaseConnection, shell: &Shell) -> Result<(), StoreError> {
    let migrations = store::schema_status(db).await?;
    let mut out = String::from("migrations:\n");
    for (name, applied) in &migrations {
        let state = if *applied { "applied" } else { "pending" };
        out.push_str(&format!("  {state:<8} {name}\n"));
    }
    if migrations.iter().all(|(_, applied)| *applied) {
        out.push_str("rows:\n");
        for table in COUNTED {
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    format!("SELECT COUNT(*) FROM {table}"),
                ))
                .await
                .map_err(StoreError::query(format!("counting {table}")))?;
            let n = row
                .map(|r| r.try_get_by_index::<i64>(0))
                .transpose()
                .map_err(StoreError::query(format!("counting {table}")))?
                .unwrap_or(0);
            out.push_str(&format!("  {table:<20} {n:>9}\n"));
        }
    } else {
        shell.note("pending migrations: run `popctl db migrate`");
    }
    shell.out_text(&out);
    Ok(())
}
