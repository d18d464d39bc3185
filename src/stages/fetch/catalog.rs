//! The fetch selections that follow TMDB's whole catalog: `export` (the daily ID export) and
//! `changes` (`/movie/changes` since the database's sync watermark); what becomes of the
//! movies TMDB no longer has; and the watermark itself.
//!
//! The day a stage syncs to is fixed once, at its start, and kept in the ledger (`sync:DAY`):
//! a resumed run reads the same export file, or the changes up to the same day, as its first
//! attempt. The watermark moves only when the stage ended with no failed item, in the
//! database it describes, so a failed or killed refresh reads the same changes again.

use chrono::{Days, NaiveDate, Utc};

use super::{Feed, page_key, record_found};
use crate::plan::{CatalogFilter, FetchStage, OnRemoved, Refetch};
use crate::sources::RequestError;
use crate::sources::tmdb::client::CHANGES_PAGE_SIZE;
use crate::sources::tmdb::export::ExportIds;
use crate::stages::items;
use crate::stages::{Counters, StageContext, StageOutcome};
use crate::store::ledger::ItemStatus;
use crate::store::{self, StoreError, catalog};

/// TMDB's longest `/movie/changes` window.
pub const MAX_WINDOW_DAYS: u64 = 14;

/// What a syncing stage learnt while finding its ids.
#[derive(Debug, Default)]
pub struct Synced {
    /// The day the stage brings the database to: the export's day, or the server's day the
    /// changes were read up to.
    pub day: Option<NaiveDate>,
    /// Every id of the export (for the movies gone from it).
    pub export: Option<ExportIds>,
    /// The movies the database held when a changes stage started, sorted.
    pub held: Vec<i64>,
}

impl Synced {
    pub(super) fn holds(&self, id: i64) -> bool {
        self.held.binary_search(&id).is_ok()
    }
}

/// The ledger key recording the day a syncing stage works to.
fn sync_key(day: NaiveDate) -> String {
    format!("sync:{day}")
}

/// The day an earlier attempt of the run fixed, if any.
fn pinned_day(feed: &Feed<'_>) -> Option<NaiveDate> {
    feed.known
        .keys()
        .filter_map(|k| k.strip_prefix("sync:"))
        .filter_map(|d| d.parse::<NaiveDate>().ok())
        .max()
}

/// Records the stage's day, so a resumed attempt keeps it.
async fn pin(feed: &Feed<'_>, day: NaiveDate) -> Result<(), StageOutcome> {
    let cx = feed.cx;
    let key = sync_key(day);
    cx.ledger()
        .mark(cx.db(), cx.name(), &key, ItemStatus::Ok, 1, None)
        .await
        .map_err(|e| StageOutcome::Failed(e.to_string()))
}

impl Feed<'_> {
    /// The movies of the export that `filter` admits, most popular first.
    pub(super) async fn export(
        &mut self,
        filter: &CatalogFilter,
        limit: Option<u32>,
    ) -> Option<StageOutcome> {
        let cx = self.cx;
        let source = &cx.run.plan.sources[self.tmdb.http().name()];
        let pinned = pinned_day(self);
        let read = self
            .tmdb
            .export(&source.files_url, pinned, filter, limit, &self.retrier)
            .await;
        let (day, mut ids) = match read {
            Ok(r) => r,
            Err(e) => return Some(self.halt(StageOutcome::Failed(e.to_string()))),
        };
        if pinned.is_none()
            && let Err(stop) = pin(self, day).await
        {
            return Some(self.halt(stop));
        }
        cx.note(format!(
            "the movie ID export of {day}: {} movies listed, {} taken{}",
            ids.listed.len(),
            ids.wanted.len(),
            match limit {
                Some(n) => format!(" (the {n} most popular the filter admits)"),
                None => " (every one the filter admits)".to_owned(),
            }
        ));
        let wanted = std::mem::take(&mut ids.wanted);
        {
            let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
            synced.day = Some(day);
            synced.export = Some(ids);
        }
        // In slices, so the first movies are being fetched while the ledger takes the rest;
        // widened a slice at a time (the whole list as i64s is 8 bytes a movie more).
        for chunk in wanted.chunks(EXPORT_SLICE) {
            if self.stopping() {
                break;
            }
            let chunk: Vec<i64> = chunk.iter().map(|&id| i64::from(id)).collect();
            if let Some(stop) = self.ids(&chunk).await {
                return Some(stop);
            }
        }
        None
    }

    /// The movies changed since the watermark, window by window, page by page.
    pub(super) async fn changes(
        &mut self,
        refetch: Refetch,
        first_window: std::time::Duration,
    ) -> Option<StageOutcome> {
        let cx = self.cx;
        let source = self.tmdb.http().name().to_owned();
        let watermark = match catalog::watermark(cx.db(), &source).await {
            Ok(w) => w,
            Err(e) => return Some(self.halt(StageOutcome::Failed(e.to_string()))),
        };
        let held = match catalog::held_movies(cx.db(), false).await {
            Ok(h) => h,
            Err(e) => return Some(self.halt(StageOutcome::Failed(e.to_string()))),
        };
        // The server's day, from TMDB's own clock (a sandbox's is its own), fixed for the run.
        let today = match pinned_day(self) {
            Some(day) => day,
            None => {
                let day = match self.server_day().await {
                    Ok(d) => d,
                    Err(stop) => return Some(self.halt(stop)),
                };
                if let Err(stop) = pin(self, day).await {
                    return Some(self.halt(stop));
                }
                day
            }
        };
        let start = match watermark {
            Some(w) => w,
            None => {
                let days = first_window.as_secs().div_ceil(86_400).max(1);
                cx.note(format!(
                    "no sync of source `{source}` recorded in this database: the changes of the \
                     last {days} day{} only (run an `export` stage to mirror the catalog first)",
                    if days == 1 { "" } else { "s" }
                ));
                today.checked_sub_days(Days::new(days)).unwrap_or(today)
            }
        };
        {
            let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
            synced.day = Some(today);
            synced.held = held;
        }
        if start > today {
            cx.note(format!(
                "the database is synced to {start}, after TMDB's day {today}: no changes to read"
            ));
            return None;
        }
        let mut changed = 0u64;
        let mut not_held = 0u64;
        let mut adult = 0u64;
        let mut window_start = start;
        while window_start <= today && !self.stopping() {
            let window_end = window_start
                .checked_add_days(Days::new(MAX_WINDOW_DAYS - 1))
                .map_or(today, |d| d.min(today));
            let mut page = 1u32;
            loop {
                if self.stopping() {
                    return None;
                }
                let key = format!("changes:{window_start}..{window_end}:{}", page_key(page));
                let found = match self
                    .changes_page(&key, window_start, window_end, page)
                    .await
                {
                    Ok(f) => f,
                    Err(stop) => return Some(self.halt(stop)),
                };
                let Some((ids, total_pages)) = found else {
                    // Failed, and recorded so: the stage's failure policy decides.
                    break;
                };
                let empty = ids.is_empty();
                for (id, is_adult) in ids {
                    changed += 1;
                    let holds = self
                        .synced
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .holds(id);
                    if !holds {
                        if refetch == Refetch::Held {
                            not_held += 1;
                            continue;
                        }
                        if is_adult && !self.admit.is_some_and(|f| f.adult) {
                            adult += 1;
                            continue;
                        }
                    }
                    if !self.hand_over(id).await {
                        return None;
                    }
                }
                if empty || page >= total_pages {
                    break;
                }
                page += 1;
            }
            let Some(next) = window_end.checked_add_days(Days::new(1)) else {
                break;
            };
            window_start = next;
        }
        let mut note = format!("{changed} changes listed from {start} to {today}");
        if not_held > 0 {
            note.push_str(&format!(
                ", {not_held} of movies the database does not hold (not fetched: `refetch = \"held\"`)"
            ));
        }
        if adult > 0 {
            note.push_str(&format!(", {adult} adult titles left out"));
        }
        cx.note(note);
        None
    }

    /// TMDB's day: the `Date` of a changes answer with TMDB's own window.
    async fn server_day(&self) -> Result<NaiveDate, StageOutcome> {
        let c = &self.cx.counters;
        self.cx.pacer.wait().await;
        match self.tmdb.changes_page(None, 1, &self.retrier).await {
            Ok(fetched) => {
                c.request(fetched.attempts, fetched.rate_limited);
                Ok(fetched.value.1.unwrap_or_else(|| Utc::now().date_naive()))
            }
            Err(e) => {
                let (attempts, rate_limited) = e.cost();
                c.request(attempts, rate_limited);
                Err(StageOutcome::Failed(e.to_string()))
            }
        }
    }

    /// One page of changes, recorded with its movies; `Ok(None)` when it failed (recorded as
    /// failed), `Err` when the stage must stop. A page done by an earlier attempt is asked
    /// again (its ids are not in the ledger by window), which costs one request.
    async fn changes_page(
        &self,
        key: &str,
        start: NaiveDate,
        end: NaiveDate,
        page: u32,
    ) -> Result<Option<(Vec<(i64, bool)>, u32)>, StageOutcome> {
        let cx = self.cx;
        let c = &cx.counters;
        let resumed = self.known.get(key) == Some(&ItemStatus::Ok);
        if !resumed {
            Counters::add(&c.total, 1);
        }
        cx.pacer.wait().await;
        match self
            .tmdb
            .changes_page(Some((start, end)), page, &self.retrier)
            .await
        {
            Ok(fetched) => {
                c.request(fetched.attempts, fetched.rate_limited);
                let (p, _) = fetched.value;
                if p.changed.len() > CHANGES_PAGE_SIZE {
                    tracing::debug!(key, n = p.changed.len(), "a changes page longer than 100");
                }
                if !resumed {
                    // Only the movies handed over become the stage's items (`hand_over`).
                    record_found(cx, key, &[], fetched.attempts, None)
                        .await
                        .map_err(|e| StageOutcome::Failed(e.to_string()))?;
                    Counters::add(&c.ok, 1);
                }
                Ok(Some((p.changed, p.total_pages)))
            }
            Err(e) => match items::record(cx, key, items::request_failed(c, &e)).await {
                Some(stop) => Err(stop),
                None => Ok(None),
            },
        }
    }
}

/// Export ids handed over between two ledger writes.
const EXPORT_SLICE: usize = 2_000;

/// After the stage's items: the movies TMDB no longer has are handled as the plan says, then
/// the watermark moves. `Err` with the stage's outcome when it must fail.
pub async fn finish(
    cx: &StageContext,
    stage: &FetchStage,
    synced: Synced,
    not_found: &[i64],
) -> Result<(), StageOutcome> {
    let failed = |e: StoreError| StageOutcome::Failed(e.to_string());
    let syncs = stage.selection.syncs();
    if !syncs && not_found.is_empty() {
        // Nothing can be gone, and no watermark moves.
        return Ok(());
    }
    // Movies marked gone by an earlier run stay marked; only the others can go now (and
    // count toward `max_removed`). Deleting takes the marked ones too.
    let held = catalog::held_movies(cx.db(), stage.on_removed != OnRemoved::Delete)
        .await
        .map_err(failed)?;
    let holds = |id: &i64| held.binary_search(id).is_ok();
    let mut gone: Vec<i64> = not_found.iter().copied().filter(holds).collect();
    if let Some(export) = &synced.export {
        gone.extend(held.iter().copied().filter(|id| !export.lists(*id)));
    }
    gone.sort_unstable();
    gone.dedup();
    if !gone.is_empty() && stage.on_removed != OnRemoved::Keep {
        let share = gone.len() as f64 / held.len().max(1) as f64;
        if share > stage.max_removed {
            return Err(StageOutcome::Failed(format!(
                "TMDB no longer has {} of the {} movies the database holds ({:.1}%), more than \
                 `max_removed` = {}%: none was {}. An export or changes feed cut short upstream \
                 looks like this; if TMDB really removed them, raise `max_removed`",
                gone.len(),
                held.len(),
                share * 100.0,
                stage.max_removed * 100.0,
                if stage.on_removed == OnRemoved::Delete {
                    "deleted"
                } else {
                    "marked"
                },
            )));
        }
    }
    let day = synced.day.unwrap_or_else(|| cx.run.as_of);
    let txn = store::begin(cx.db()).await.map_err(failed)?;
    let db_err =
        |what: &'static str| move |e: sea_orm::DbErr| StageOutcome::Failed(format!("{what}: {e}"));
    let removed = match stage.on_removed {
        OnRemoved::Keep => catalog::Removed::default(),
        OnRemoved::Mark => catalog::mark_removed(&txn, &gone, day)
            .await
            .map_err(db_err("marking the movies TMDB no longer has"))?,
        OnRemoved::Delete => catalog::delete_movies(&txn, &gone)
            .await
            .map_err(db_err("deleting the movies TMDB no longer has"))?,
    };
    if stage.on_removed != OnRemoved::Keep {
        let keys: Vec<String> = gone.iter().map(|id| format!("removed:{id}")).collect();
        cx.ledger()
            .ensure(&txn, cx.name(), &keys)
            .await
            .map_err(failed)?;
        for key in &keys {
            cx.ledger()
                .mark(&txn, cx.name(), key, ItemStatus::Ok, 0, None)
                .await
                .map_err(failed)?;
        }
    }
    let values = cx.counters.values();
    if syncs && values.failed == 0 && values.pending == 0 {
        catalog::set_watermark(&txn, &stage.source, day, cx.ledger().run_id(), Utc::now())
            .await
            .map_err(failed)?;
    }
    txn.commit()
        .await
        .map_err(|e| StageOutcome::Failed(format!("committing the sync: {e}")))?;
    Counters::add(&cx.counters.rows, removed.movies + removed.shared);
    if !gone.is_empty() {
        let mut shown: Vec<String> = gone.iter().take(10).map(i64::to_string).collect();
        if gone.len() > 10 {
            shown.push("…".to_owned());
        }
        let done = match stage.on_removed {
            OnRemoved::Keep => "kept (`on_removed = \"keep\"`)".to_owned(),
            OnRemoved::Mark => format!("marked removed on {day} ({} newly)", removed.movies),
            OnRemoved::Delete => format!(
                "deleted, with {} shared rows no other movie used",
                removed.shared
            ),
        };
        cx.note(format!(
            "{} movies TMDB no longer has, {done}: {}",
            gone.len(),
            shown.join(", ")
        ));
    }
    if syncs {
        if values.failed == 0 && values.pending == 0 {
            cx.note(format!(
                "the database is synced to {day} (source `{}`)",
                stage.source
            ));
        } else {
            cx.note(format!(
                "the sync watermark stays where it was: {} movies failed or are pending; the next \
                 run reads the same changes again",
                values.failed + values.pending
            ));
        }
    }
    Ok(())
}
