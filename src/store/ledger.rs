//! The run ledger: `import_runs` (one row per run) and `import_items` (one row per unit of work
//! per stage), so that an interrupted run can be resumed and its failures shown.
//!
//! The runner writes an item's final status in the same transaction as the data the item
//! produced ([`mark_item`] takes any connection, a transaction included), so the ledger never
//! claims what the database lacks.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{import_items, import_runs};
use super::error::StoreError;
use super::sql::{OnExisting, upsert};

/// How a run ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Ok,
    Failed,
    /// Finished with items left (e.g. a spent quota).
    Partial,
    /// Stopped by Ctrl-C.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Partial => "partial",
            RunStatus::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "running" => RunStatus::Running,
            "ok" => RunStatus::Ok,
            "failed" => RunStatus::Failed,
            "partial" => RunStatus::Partial,
            "interrupted" => RunStatus::Interrupted,
            other => {
                return Err(StoreError::BadValue {
                    table: "import_runs",
                    column: "status",
                    value: other.to_owned(),
                });
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Pending,
    Ok,
    Failed,
    Skipped,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::Ok => "ok",
            ItemStatus::Failed => "failed",
            ItemStatus::Skipped => "skipped",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "pending" => ItemStatus::Pending,
            "ok" => ItemStatus::Ok,
            "failed" => ItemStatus::Failed,
            "skipped" => ItemStatus::Skipped,
            other => {
                return Err(StoreError::BadValue {
                    table: "import_items",
                    column: "status",
                    value: other.to_owned(),
                });
            }
        })
    }
}

/// A run as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: i64,
    pub plan_name: String,
    pub plan_hash: String,
    pub started_at: chrono::DateTime<Utc>,
    pub finished_at: Option<chrono::DateTime<Utc>>,
    pub status: RunStatus,
    pub stats: Option<serde_json::Value>,
}

impl TryFrom<import_runs::Model> for Run {
    type Error = StoreError;

    fn try_from(m: import_runs::Model) -> Result<Self, StoreError> {
        let stats = match m.stats {
            None => None,
            Some(text) => Some(
                serde_json::from_str(&text).map_err(|_| StoreError::BadValue {
                    table: "import_runs",
                    column: "stats",
                    value: text.chars().take(80).collect(),
                })?,
            ),
        };
        Ok(Run {
            id: m.id,
            plan_name: m.plan_name,
            plan_hash: m.plan_hash,
            started_at: m.started_at,
            finished_at: m.finished_at,
            status: RunStatus::parse(&m.status)?,
            stats,
        })
    }
}

/// An item as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub run_id: i64,
    pub stage: String,
    pub key: String,
    pub status: ItemStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub updated_at: chrono::DateTime<Utc>,
}

impl TryFrom<import_items::Model> for Item {
    type Error = StoreError;

    fn try_from(m: import_items::Model) -> Result<Self, StoreError> {
        Ok(Item {
            run_id: m.run_id,
            stage: m.stage,
            key: m.item_key,
            status: ItemStatus::parse(&m.status)?,
            attempts: u32::try_from(m.attempts).unwrap_or(0),
            last_error: m.last_error,
            updated_at: m.updated_at,
        })
    }
}

/// Records the start of a run of `plan_name` and returns its id.
pub async fn start_run<C: ConnectionTrait>(
    conn: &C,
    plan_name: &str,
    plan_hash: &str,
) -> Result<i64, StoreError> {
    let run = import_runs::ActiveModel {
        plan_name: Set(plan_name.to_owned()),
        plan_hash: Set(plan_hash.to_owned()),
        started_at: Set(Utc::now()),
        finished_at: Set(None),
        status: Set(RunStatus::Running.as_str().to_owned()),
        stats: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(StoreError::query(format!("recording a run of {plan_name}")))?;
    Ok(run.id)
}

/// Records how run `run_id` ended, with its report.
pub async fn finish_run<C: ConnectionTrait>(
    conn: &C,
    run_id: i64,
    status: RunStatus,
    stats: &serde_json::Value,
) -> Result<(), StoreError> {
    let update = Query::update()
        .table("import_runs")
        .values([
            ("status", Expr::val(status.as_str())),
            ("stats", Expr::val(stats.to_string())),
            ("finished_at", Expr::val(Utc::now())),
        ])
        .and_where(Expr::col("id").eq(run_id))
        .to_owned();
    let n = conn
        .execute(&update)
        .await
        .map_err(StoreError::query(format!("finishing run {run_id}")))?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::Query {
            what: format!("finishing run {run_id}"),
            source: sea_orm::DbErr::RecordNotFound(format!("run {run_id}")),
        });
    }
    Ok(())
}

/// Marks run `run_id` as running again (for `--resume`).
pub async fn reopen_run<C: ConnectionTrait>(conn: &C, run_id: i64) -> Result<(), StoreError> {
    let update = Query::update()
        .table("import_runs")
        .values([
            ("status", Expr::val(RunStatus::Running.as_str())),
            (
                "finished_at",
                Expr::val(Option::<chrono::DateTime<Utc>>::None),
            ),
        ])
        .and_where(Expr::col("id").eq(run_id))
        .to_owned();
    conn.execute(&update)
        .await
        .map_err(StoreError::query(format!("reopening run {run_id}")))?;
    Ok(())
}

/// The newest run of `plan_name` that did not end `ok` (running, interrupted, failed or
/// partial): what `--resume` continues.
pub async fn last_unfinished_run(
    db: &DatabaseConnection,
    plan_name: &str,
) -> Result<Option<Run>, StoreError> {
    let latest = import_runs::Entity::find()
        .filter(import_runs::Column::PlanName.eq(plan_name))
        .order_by_desc(import_runs::Column::Id)
        .one(db)
        .await
        .map_err(StoreError::query(format!(
            "finding the last run of {plan_name}"
        )))?;
    match latest {
        Some(m) if m.status != RunStatus::Ok.as_str() => Ok(Some(Run::try_from(m)?)),
        _ => Ok(None),
    }
}

/// Whether `db` has the run ledger's tables (its migration applied): a database no run was
/// recorded in may not.
pub async fn exists(db: &DatabaseConnection) -> Result<bool, StoreError> {
    Ok(super::schema_status(db)
        .await?
        .iter()
        .any(|(name, applied)| name.contains("run_ledger") && *applied))
}

/// Run `run_id`, if the ledger has it.
pub async fn run_by_id<C: ConnectionTrait>(
    conn: &C,
    run_id: i64,
) -> Result<Option<Run>, StoreError> {
    import_runs::Entity::find_by_id(run_id)
        .one(conn)
        .await
        .map_err(StoreError::query(format!("reading run {run_id}")))?
        .map(Run::try_from)
        .transpose()
}

/// The most recent runs, newest first, of one plan or of all.
pub async fn recent_runs(
    db: &DatabaseConnection,
    plan_name: Option<&str>,
    limit: u64,
) -> Result<Vec<Run>, StoreError> {
    let mut query = import_runs::Entity::find().order_by_desc(import_runs::Column::Id);
    if let Some(name) = plan_name {
        query = query.filter(import_runs::Column::PlanName.eq(name));
    }
    query
        .limit(limit)
        .all(db)
        .await
        .map_err(StoreError::query("listing recent runs"))?
        .into_iter()
        .map(Run::try_from)
        .collect()
}

/// Adds `keys` of `stage` to run `run_id` as pending; keys already there keep their status.
pub async fn ensure_items<C: ConnectionTrait>(
    conn: &C,
    run_id: i64,
    stage: &str,
    keys: &[String],
) -> Result<u64, StoreError> {
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    sorted.dedup();
    let now = Utc::now();
    let mut written = 0;
    // A thousand rows made at a time, so a stage of 100,000 movies never has all its keys as
    // entity rows at once.
    for chunk in sorted.chunks(1000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|k| import_items::ActiveModel {
                run_id: Set(run_id),
                stage: Set(stage.to_owned()),
                item_key: Set((*k).clone()),
                status: Set(ItemStatus::Pending.as_str().to_owned()),
                attempts: Set(0),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect();
        written += upsert(conn, OnExisting::Keep, rows)
            .await
            .map_err(StoreError::query(format!(
                "recording the items of stage {stage}"
            )))?;
    }
    Ok(written)
}

/// Sets the outcome of one item (inserting it when `ensure_items` did not).
pub async fn mark_item<C: ConnectionTrait>(
    conn: &C,
    run_id: i64,
    stage: &str,
    key: &str,
    status: ItemStatus,
    attempts: u32,
    last_error: Option<&str>,
) -> Result<(), StoreError> {
    let row = import_items::ActiveModel {
        run_id: Set(run_id),
        stage: Set(stage.to_owned()),
        item_key: Set(key.to_owned()),
        status: Set(status.as_str().to_owned()),
        attempts: Set(i32::try_from(attempts).unwrap_or(i32::MAX)),
        last_error: Set(last_error.map(str::to_owned)),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    upsert(conn, OnExisting::OVERWRITE, vec![row])
        .await
        .map_err(StoreError::query(format!(
            "recording item {key} of stage {stage}"
        )))?;
    Ok(())
}

/// The status of one item of a run, if it is recorded.
pub async fn item_status(
    db: &DatabaseConnection,
    run_id: i64,
    stage: &str,
    key: &str,
) -> Result<Option<ItemStatus>, StoreError> {
    import_items::Entity::find()
        .filter(import_items::Column::RunId.eq(run_id))
        .filter(import_items::Column::Stage.eq(stage))
        .filter(import_items::Column::ItemKey.eq(key))
        .one(db)
        .await
        .map_err(StoreError::query(format!(
            "reading item {key} of stage {stage}"
        )))?
        .map(|m| ItemStatus::parse(&m.status))
        .transpose()
}

/// The items of one stage of a run, by key.
pub async fn items(
    db: &DatabaseConnection,
    run_id: i64,
    stage: &str,
) -> Result<Vec<Item>, StoreError> {
    import_items::Entity::find()
        .filter(import_items::Column::RunId.eq(run_id))
        .filter(import_items::Column::Stage.eq(stage))
        .order_by_asc(import_items::Column::ItemKey)
        .all(db)
        .await
        .map_err(StoreError::query(format!(
            "listing the items of stage {stage}"
        )))?
        .into_iter()
        .map(Item::try_from)
        .collect()
}

/// The failed items of a run, by stage and key.
pub async fn failed_items(db: &DatabaseConnection, run_id: i64) -> Result<Vec<Item>, StoreError> {
    import_items::Entity::find()
        .filter(import_items::Column::RunId.eq(run_id))
        .filter(import_items::Column::Status.eq(ItemStatus::Failed.as_str()))
        .order_by(import_items::Column::Stage, Order::Asc)
        .order_by(import_items::Column::ItemKey, Order::Asc)
        .all(db)
        .await
        .map_err(StoreError::query(format!(
            "listing the failed items of run {run_id}"
        )))?
        .into_iter()
        .map(Item::try_from)
        .collect()
}

/// Item counts by status for each stage of a run.
pub async fn item_counts(
    db: &DatabaseConnection,
    run_id: i64,
) -> Result<Vec<(String, ItemStatus, u64)>, StoreError> {
    let stmt = Query::select()
        .columns(["stage", "status"])
        .expr_as(Expr::col("item_key").count(), "n")
        .from("import_items")
        .and_where(Expr::col("run_id").eq(run_id))
        .group_by_columns(["stage", "status"])
        .order_by("stage", Order::Asc)
        .order_by("status", Order::Asc)
        .to_owned();
    let what = || format!("counting the items of run {run_id}");
    let mut out = Vec::new();
    for row in db
        .query_all(&stmt)
        .await
        .map_err(StoreError::query(what()))?
    {
        let stage: String = row
            .try_get("", "stage")
            .map_err(StoreError::query(what()))?;
        let status: String = row
            .try_get("", "status")
            .map_err(StoreError::query(what()))?;
        let n: i64 = row.try_get("", "n").map_err(StoreError::query(what()))?;
        out.push((
            stage,
            ItemStatus::parse(&status)?,
            u64::try_from(n).unwrap_or(0),
        ));
    }
    Ok(out)
}
