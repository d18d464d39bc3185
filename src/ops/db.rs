//! `popctl db migrate | status | reset | digest`: working on the schema by hand, and telling
//! whether two databases hold the same data, on a database given by URL or by a plan.

use std::collections::BTreeMap;
use std::path::Path;

use sea_orm::DatabaseConnection;

use crate::plan::{self, Code, Interpolated, LoadOptions, PlanDiagnostic, PlanErrors, ResetScope};
use crate::report::Shell;
use crate::report::events::{Event, Migration};
use crate::secret::redact_url;
use crate::store::{self, StoreError};

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
    /// Print each table's row count and hash, and the database's digest (`store::digest`).
    Digest,
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
        Interpolated::Value(url) => Ok((url.expose().to_owned(), plan.name)),
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
    if let Action::Reset { .. } = options.action {
        // A reset of a SQLite file that is not there would create one and report it reset:
        // most likely a mistyped path. `migrate` is what creates a database.
        store::connect_existing(&options.url)
            .await?
            .close()
            .await
            .ok();
    }
    let db = match options.action {
        Action::Migrate | Action::Reset { .. } => store::connect(&options.url).await?,
        // Reading a database must not create one where there was none.
        Action::Status | Action::Digest => store::connect_existing(&options.url).await?,
    };
    let done = match options.action {
        Action::Migrate => store::migrate(&db).await.map(|()| {
            shell.status("Migrated", &shown);
            shell.event(&Event::DbMigrated {
                database: shown.clone(),
            });
        }),
        Action::Reset {
            allow_remote,
            scope,
        } => reset(&db, &options.url, allow_remote, scope, shell).await,
        Action::Status => status(&db, &shown, shell).await,
        Action::Digest => digest(&db, &options.url, shell).await,
    };
    db.close().await.ok();
    done
}

/// `db reset`: in place, guarded by the URL and then by the server's own address.
async fn reset(
    db: &DatabaseConnection,
    url: &str,
    allow_remote: bool,
    scope: ResetScope,
    shell: &Shell,
) -> Result<(), StoreError> {
    if !allow_remote {
        store::confirm_local(db, url).await?;
    }
    let plan = store::reset(db, url, allow_remote, scope).await?;
    if let Some(warning) = plan.warning() {
        shell.warn(warning);
    }
    shell.status("Reset", redact_url(url));
    shell.event(&Event::DbReset {
        database: redact_url(url),
    });
    Ok(())
}

/// How many hex digits of a table's hash the human output shows.
const HASH_PREFIX: usize = 12;

/// Each table's rows and hash, then the database's digest: equal digests, same data.
async fn digest(db: &DatabaseConnection, url: &str, shell: &Shell) -> Result<(), StoreError> {
    store::require_schema(db, url).await?;
    let tables = store::digest::table_digests(db).await?;
    let whole = store::digest::combine(&tables);
    if shell.is_json() {
        shell.event(&Event::DbDigest {
            database: redact_url(url),
            digest: whole,
            tables: tables
                .iter()
                .map(|(name, t)| {
                    let entry = serde_json::json!({ "rows": t.rows, "hash": t.hex() });
                    ((*name).to_owned(), entry)
                })
                .collect(),
        });
        return Ok(());
    }
    let width = tables.keys().map(|n| n.len()).max().unwrap_or(0).max(5);
    let mut out = format!("{:<width$}  {:>9}  hash\n", "table", "rows");
    for (name, t) in &tables {
        let hash = t.hex();
        let prefix = hash.get(..HASH_PREFIX).unwrap_or(&hash);
        out.push_str(&format!("{name:<width$}  {:>9}  {prefix}\n", t.rows));
    }
    out.push_str(&format!("database digest: {whole}\n"));
    shell.out_text(&out);
    Ok(())
}

async fn status(db: &DatabaseConnection, shown: &str, shell: &Shell) -> Result<(), StoreError> {
    let migrations = store::schema_status(db).await?;
    let mut out = String::from("migrations:\n");
    for (name, applied) in &migrations {
        let state = if *applied { "applied" } else { "pending" };
        out.push_str(&format!("  {state:<8} {name}\n"));
    }
    let mut rows = None;
    if migrations.iter().all(|(_, applied)| *applied) {
        out.push_str("rows:\n");
        let counted = rows.insert(BTreeMap::new());
        for table in COUNTED {
            let n = store::row_count(db, table).await?;
            out.push_str(&format!("  {table:<20} {n:>9}\n"));
            counted.insert(table.to_owned(), u64::try_from(n).unwrap_or(0));
        }
    } else {
        shell.note("pending migrations: run `popctl db migrate`");
    }
    if shell.is_json() {
        shell.event(&Event::DbStatus {
            database: shown.to_owned(),
            migrations: migrations
                .into_iter()
                .map(|(name, applied)| Migration { name, applied })
                .collect(),
            rows,
        });
    } else {
        shell.out_text(&out);
    }
    Ok(())
}
