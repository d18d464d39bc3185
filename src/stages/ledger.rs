//! The run's rows in the ledger (`store::ledger`): the run itself, each stage's items and a
//! marker row per stage that ran to its end, so `--resume` redoes neither finished stages
//! ([`RunLedger::done_earlier`]) nor finished items, and tries failed and pending items again.
//!
//! Item keys: `movie:<tmdb id>` (fetch and enrich), `person:<tmdb id>` (people), `page:<n>`
//! (a list page), `imdb:<id>` (a curated-list entry looked up by IMDb id), `entry:<n>` (a
//! curated-list entry that cannot be looked up), and [`STAGE_KEY`] for the stage as a whole.
//!
//! A `reset` stage keeps the ledger through the drop (`store::reset`), so the run keeps its
//! number and the earlier runs stay; [`RunLedger::after_reset`] marks the reset done, and
//! records the run again when the history could not be kept.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::plan::Plan;
use crate::plan::dag::Dag;
use crate::store::cluster::{self, Member};
use crate::store::ledger::{self, ItemStatus, Run, RunStatus};
use crate::store::{StoreError, begin};

/// The key of the row that records a finished stage.
pub const STAGE_KEY: &str = "(stage)";

/// `movie:<tmdb id>`.
pub fn movie_key(tmdb_id: i64) -> String {
    format!("movie:{tmdb_id}")
}

/// The TMDB id in a `movie:` key.
pub fn movie_id(key: &str) -> Option<i64> {
    ItemKind::Movie.id(key)
}

/// `person:<tmdb id>`.
pub fn person_key(tmdb_id: i64) -> String {
    format!("person:{tmdb_id}")
}

/// What the items of a stage workers share are, by their ledger keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// `movie:<tmdb id>` (enrich).
    Movie,
    /// `person:<tmdb id>` (people).
    Person,
    /// `movie:<tmdb id>`, and the look-ups that find a movie: `imdb:<imdb id>`,
    /// `search:<title>` (fetch).
    Fetch,
}

impl ItemKind {
    /// The start of the keys that name an item by its TMDB id.
    pub fn prefix(self) -> &'static str {
        match self {
            ItemKind::Movie | ItemKind::Fetch => "movie:",
            ItemKind::Person => "person:",
        }
    }

    /// The starts of every key of this kind.
    pub fn prefixes(self) -> &'static [&'static str] {
        match self {
            ItemKind::Movie => &["movie:"],
            ItemKind::Person => &["person:"],
            ItemKind::Fetch => &["movie:", IMDB, SEARCH],
        }
    }

    /// The key of `tmdb_id`.
    pub fn key(self, tmdb_id: i64) -> String {
        format!("{}{tmdb_id}", self.prefix())
    }

    /// The TMDB id in a key of this kind; `None` for a look-up.
    pub fn id(self, key: &str) -> Option<i64> {
        key.strip_prefix(self.prefix())?.parse().ok()
    }
}

/// The start of the key of a movie looked up by its IMDb id.
pub const IMDB: &str = "imdb:";

/// The start of the key of a movie looked up by its title.
pub const SEARCH: &str = "search:";

/// Rows written per statement when recording many pending items.
const CHUNK: usize = 500;

/// One run's ledger; cheap to clone.
#[derive(Debug, Clone)]
pub struct RunLedger {
    db: DatabaseConnection,
    run_id: Arc<AtomicI64>,
    plan_name: String,
    plan_hash: String,
    /// This process as one worker of a run shared through PostgreSQL: the items it claimed
    /// are finished fenced by their claim (`store::cluster`).
    member: Arc<std::sync::OnceLock<Arc<Member>>>,
}

impl RunLedger {
    /// Records a new run of the plan.
    pub async fn start(
        db: &DatabaseConnection,
        plan_name: &str,
        plan_hash: &str,
    ) -> Result<Self, StoreError> {
        let id = ledger::start_run(db, plan_name, plan_hash).await?;
        Ok(RunLedger {
            db: db.clone(),
            run_id: Arc::new(AtomicI64::new(id)),
            plan_name: plan_name.to_owned(),
            plan_hash: plan_hash.to_owned(),
            member: Arc::default(),
        })
    }

    /// Continues `run`, marking it running again.
    pub async fn resume(db: &DatabaseConnection, run: &Run) -> Result<Self, StoreError> {
        ledger::reopen_run(db, run.id).await?;
        Ok(RunLedger {
            db: db.clone(),
            run_id: Arc::new(AtomicI64::new(run.id)),
            plan_name: run.plan_name.clone(),
            plan_hash: run.plan_hash.clone(),
            member: Arc::default(),
        })
    }

    /// The ledger of run `run_id`, running in another process, for a worker joining it.
    pub fn join(db: &DatabaseConnection, run_id: i64, plan_name: &str, plan_hash: &str) -> Self {
        RunLedger {
            db: db.clone(),
            run_id: Arc::new(AtomicI64::new(run_id)),
            plan_name: plan_name.to_owned(),
            plan_hash: plan_hash.to_owned(),
            member: Arc::default(),
        }
    }

    /// From now on this ledger (and its clones) is written by this process as worker `member`
    /// of the run; false when it already was (by another member).
    pub fn set_member(&self, member: Arc<Member>) -> bool {
        self.member.set(member).is_ok()
    }

    /// This process as a worker of the run, once it joined it as one.
    pub fn member(&self) -> Option<&Arc<Member>> {
        self.member.get()
    }

    pub fn run_id(&self) -> i64 {
        self.run_id.load(Ordering::SeqCst)
    }

    /// The run as recorded now (`None` if the ledger lacks it), for [`Self::after_reset`].
    pub async fn recorded(&self) -> Result<Option<Run>, StoreError> {
        ledger::run_by_id(&self.db, self.run_id()).await
    }

    /// Marks the reset done in the run `before` was (see [`Self::recorded`]), or, when the
    /// reset could not keep it, records the run again with the reset as its first finished
    /// stage. One transaction.
    pub async fn after_reset(
        &self,
        reset_stage: &str,
        before: Option<&Run>,
    ) -> Result<(), StoreError> {
        let txn = begin(&self.db).await?;
        let now = ledger::run_by_id(&txn, self.run_id()).await?;
        let kept = matches!((before, &now), (Some(b), Some(n)) if b.started_at == n.started_at && b.plan_hash == n.plan_hash);
        let id = if kept {
            self.run_id()
        } else {
            ledger::start_run(&txn, &self.plan_name, &self.plan_hash).await?
        };
        ledger::mark_item(&txn, id, reset_stage, STAGE_KEY, ItemStatus::Ok, 1, None).await?;
        txn.commit()
            .await
            .map_err(StoreError::query("recording the run after the reset"))?;
        self.run_id.store(id, Ordering::SeqCst);
        Ok(())
    }

    /// Every item of `stage` in this run and its status.
    pub async fn items(&self, stage: &str) -> Result<HashMap<String, ItemStatus>, StoreError> {
        Ok(ledger::items(&self.db, self.run_id(), stage)
            .await?
            .into_iter()
            .map(|i| (i.key, i.status))
            .collect())
    }

    /// The TMDB ids of the movies `stages` finished (`ok`) in this run.
    pub async fn ok_movies(&self, stages: &[String]) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::new();
        for stage in stages {
            for item in ledger::items(&self.db, self.run_id(), stage).await? {
                if item.status == ItemStatus::Ok
                    && let Some(id) = movie_id(&item.key)
                {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    /// Whether `stage` ran to its end in an earlier attempt of this run (its items may still
    /// hold failures: see [`RunLedger::done_earlier`]).
    pub async fn stage_done(&self, stage: &str) -> Result<bool, StoreError> {
        let status = ledger::item_status(&self.db, self.run_id(), stage, STAGE_KEY).await?;
        Ok(status == Some(ItemStatus::Ok))
    }

    /// The stages `--resume` does not run again: each ran to its end in an earlier attempt of
    /// this run with nothing left to do (no failed or pending item), and so did every stage
    /// upstream of it. A stage whose items failed (`on_error = "continue"` let the run go on)
    /// runs again and tries them; every stage downstream of it runs again too, over what it
    /// has not done yet (finished items are skipped through the ledger, `post_process`
    /// recomputes), or the movies the retried items bring would never reach them. Disabled
    /// stages have nothing to do. Empty for a new run.
    pub async fn done_earlier(
        &self,
        plan: &Plan,
        dag: &Dag,
    ) -> Result<HashSet<String>, StoreError> {
        let left: HashSet<String> = ledger::item_counts(&self.db, self.run_id())
            .await?
            .into_iter()
            .filter(|(_, status, n)| {
                *n > 0 && matches!(status, ItemStatus::Failed | ItemStatus::Pending)
            })
            .map(|(stage, _, _)| stage)
            .collect();
        // Stages with nothing left to do, themselves and upstream.
        let mut clear: HashSet<&str> = HashSet::new();
        let mut done = HashSet::new();
        for name in dag.order() {
            let Some(stage) = plan.stage(name) else {
                continue;
            };
            if !dag.needs(name).iter().all(|n| clear.contains(n)) {
                continue;
            }
            if !stage.enabled {
                clear.insert(name);
            } else if !left.contains(name) && self.stage_done(name).await? {
                clear.insert(name);
                done.insert(name.to_owned());
            }
        }
        Ok(done)
    }

    pub async fn mark_stage_done(&self, stage: &str) -> Result<(), StoreError> {
        ledger::mark_item(
            &self.db,
            self.run_id(),
            stage,
            STAGE_KEY,
            ItemStatus::Ok,
            1,
            None,
        )
        .await
    }

    /// Adds `keys` as pending; keys already recorded keep their status.
    pub async fn ensure<C: ConnectionTrait>(
        &self,
        conn: &C,
        stage: &str,
        keys: &[String],
    ) -> Result<(), StoreError> {
        for chunk in keys.chunks(CHUNK) {
            ledger::ensure_items(conn, self.run_id(), stage, chunk).await?;
        }
        Ok(())
    }

    /// Records the outcome of one item, inside `conn` (a transaction when data goes with it).
    pub async fn mark<C: ConnectionTrait>(
        &self,
        conn: &C,
        stage: &str,
        key: &str,
        status: ItemStatus,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        if let Some(member) = self.member.get()
            && member.holds(stage, key)
        {
            return cluster::finish(conn, member, stage, key, status, attempts, error).await;
        }
        ledger::mark_item(conn, self.run_id(), stage, key, status, attempts, error).await
    }

    /// Records how the run ended, with its report.
    pub async fn finish(
        &self,
        status: RunStatus,
        stats: &serde_json::Value,
    ) -> Result<(), StoreError> {
        ledger::finish_run(&self.db, self.run_id(), status, stats).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movie_keys_round_trip() {
        assert_eq!(movie_key(550), "movie:550");
        assert_eq!(movie_id("movie:550"), Some(550));
        assert_eq!(movie_id("page:1"), None);
        assert_eq!(movie_id("movie:x"), None);
    }
}
