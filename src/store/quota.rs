//! A source's daily quota, counted in the run's database so every process of the run (the
//! runner and its workers, `store::cluster`) spends one quota between them: each request takes
//! one from the day's row before it goes, and none is taken past the quota. Counted per run and
//! UTC day, so a run resumed the next day starts the new day's count; OMDb's own "Request limit
//! reached!" still stops runs that share a key with other runs.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use super::StoreError;
use super::entities::import_quotas::Column;

/// One source's quota in one run.
#[derive(Debug, Clone)]
pub struct Quota {
    db: DatabaseConnection,
    run_id: i64,
    source: String,
    limit: u32,
}

impl Quota {
    pub fn new(db: DatabaseConnection, run_id: i64, source: &str, limit: u32) -> Quota {
        Quota {
            db,
            run_id,
            source: source.to_owned(),
            limit,
        }
    }

    /// The quota a day.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Takes one request from today's quota: false when it is spent.
    pub async fn take(&self) -> Result<bool, StoreError> {
        self.add(1, true).await
    }

    /// Counts `n` requests made beyond the ones taken (retries), whether or not they fit.
    pub async fn spend(&self, n: u32) -> Result<(), StoreError> {
        if n > 0 {
            self.add(n, false).await?;
        }
        Ok(())
    }

    /// Requests counted today.
    pub async fn used(&self) -> Result<u64, StoreError> {
        let stmt = Query::select()
            .column(Column::Used)
            .from(super::entities::import_quotas::Entity)
            .and_where(Expr::col(Column::RunId).eq(self.run_id))
            .and_where(Expr::col(Column::Source).eq(self.source.as_str()))
            .and_where(Expr::col(Column::Day).eq(today()))
            .to_owned();
        let what = || format!("reading the quota used of source {}", self.source);
        let row = self
            .db
            .query_one(&stmt)
            .await
            .map_err(StoreError::query(what()))?;
        let used: i64 = match row {
            Some(r) => r.try_get("", "used").map_err(StoreError::query(what()))?,
            None => 0,
        };
        Ok(u64::try_from(used).unwrap_or(0))
    }

    async fn add(&self, n: u32, within: bool) -> Result<bool, StoreError> {
        if within && n > self.limit {
            return Ok(false);
        }
        let table = super::entities::import_quotas::Entity;
        let mut on_conflict = OnConflict::columns([Column::RunId, Column::Source, Column::Day]);
        on_conflict.value(
            Column::Used,
            Expr::col((table, Column::Used)).add(i64::from(n)),
        );
        if within {
            on_conflict.action_and_where(
                Expr::col((table, Column::Used))
                    .add(i64::from(n))
                    .lte(i64::from(self.limit)),
            );
        }
        let what = || {
            format!(
                "counting a request of source {} against its daily quota",
                self.source
            )
        };
        let mut stmt = Query::insert();
        stmt.into_table(table)
            .columns([Column::RunId, Column::Source, Column::Day, Column::Used])
            .values([
                self.run_id.into(),
                self.source.as_str().into(),
                today().into(),
                i64::from(n).into(),
            ])
            .map_err(|e| StoreError::query(what())(sea_orm::DbErr::Custom(e.to_string())))?
            .on_conflict(on_conflict)
            .returning_col(Column::Used);
        let row = self
            .db
            .query_one(&stmt)
            .await
            .map_err(StoreError::query(what()))?;
        Ok(row.is_some())
    }
}

/// Today's UTC date, the day a quota counts in.
fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}
