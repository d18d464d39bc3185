//! `enrich`: OMDb ratings, awards and box office for movies, looked up by IMDb id.
//!
//! Which movies: with `scope = "upstream"`, those its upstream fetch stages saved in this run
//! (from the ledger, and streamed while they run); with `"missing"`, every movie without an
//! OMDb answer yet; with `"all"`, every movie. A movie without an IMDb id, or one OMDb already
//! answered "no data" for (unless `retry_no_data`), is recorded without a request, so reruns
//! do not spend the daily quota on known answers.
//!
//! OMDb's "Request limit reached!" stops the stage cleanly: requests in flight finish, and
//! every movie not done is recorded as pending (also those upstream stages still stream in),
//! for `--resume` once the quota resets. Ledger key: `movie:<tmdb id>`.

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, Value};
use tokio_util::sync::CancellationToken;

use super::fetch::receiver_stream;
use super::items::{self, ItemResult};
use super::ledger::movie_key;
use super::{Counters, Stage, StageContext, StageOutcome, UpstreamInput};
use crate::plan::{EnrichScope, EnrichStage};
use crate::sources::omdb::client::{Lookup, OmdbClient};
use crate::sources::retry::Retrier;
use crate::store::bundle::sources::OMDB;
use crate::store::ledger::ItemStatus;
use crate::store::{self, EnrichmentScope, EnrichmentState, NoDataRetry, StoreError};

pub struct Enrich(pub EnrichStage);

#[async_trait]
impl Stage for Enrich {
    async fn run(&self, cx: &mut StageContext) -> StageOutcome {
        let input = cx.input.take();
        let cx: &StageContext = cx;
        let Some(omdb) = cx.run.sources.omdb.get(&self.0.source).cloned() else {
            return StageOutcome::Failed(format!(
                "the plan has no OMDb source named `{}`",
                self.0.source
            ));
        };
        let known = match cx.ledger().items(cx.name()).await {
            Ok(k) => k,
            Err(e) => return StageOutcome::Failed(e.to_string()),
        };
        let ids = match self.movies(cx, input).await {
            Ok(ids) => ids,
            Err(e) => return StageOutcome::Failed(e.to_string()),
        };
        let stop = CancellationToken::new();
        let problem: Mutex<Option<String>> = Mutex::new(None);
        let fail = |why: String| {
            *problem.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
            stop.cancel();
        };
        let mut items = items::pending(cx, ids, &known, movie_key, &fail);
        let retrier = cx.retrier();
        let no_data = self.no_data_retry();
        let omdb = &omdb;
        let work = |_key: String, id: i64| enrich_one(cx, omdb, id, retrier, no_data);
        let stopped = items::process(cx, &stop, &mut items, work).await;
        if let Some(why) = problem.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return StageOutcome::Failed(why);
        }
        if matches!(stopped, Some(StageOutcome::Partial(_))) {
            // Keep taking what upstream stages still send, so every movie of the run is in the
            // ledger as pending; no request is made for them.
            let cancel = cx.run.cancel.clone();
            let rest = items.take_until(cancel.cancelled_owned());
            futures::pin_mut!(rest);
            while rest.next().await.is_some() {
                Counters::add(&cx.counters.pending, 1);
            }
        }
        items::finish(cx, stopped)
    }
}

impl Enrich {
    /// When movies OMDb had no data for are asked about again: `retry_no_data` always,
    /// `retry_no_data_after` once their answer is that old (so daily runs do not spend the
    /// quota on them), else never.
    fn no_data_retry(&self) -> NoDataRetry {
        match (self.0.retry_no_data, self.0.retry_no_data_after) {
            (true, _) => NoDataRetry::Always,
            (false, Some(after)) => chrono::Duration::from_std(after)
                .ok()
                .and_then(|after| Utc::now().checked_sub_signed(after))
                .map_or(NoDataRetry::Never, NoDataRetry::CheckedBefore),
            (false, None) => NoDataRetry::Never,
        }
    }

    /// The TMDB ids to consider, in the order they become known.
    async fn movies<'a>(
        &self,
        cx: &'a StageContext,
        input: Option<UpstreamInput>,
    ) -> Result<BoxStream<'a, i64>, StoreError> {
        let scope = match (self.0.scope, input) {
            (EnrichScope::Upstream, Some(input)) => {
                // From now on producers wait for room in the channel instead of dropping ids;
                // everything they committed before is in the ledger read next.
                input.started.store(true, Ordering::SeqCst);
                let saved = cx.ledger().ok_movies(&input.producers).await?;
                if !saved.is_empty() || input.live {
                    let live = match input.rx {
                        Some(rx) => receiver_stream(rx).boxed(),
                        None => stream::empty().boxed(),
                    };
                    return Ok(stream::iter(saved).chain(live).boxed());
                }
                cx.note(format!(
                    "none of the fetch stages upstream ({}) runs or ran in this run, so this stage \
                     enriches every movie without OMDb data instead (scope \"missing\")",
                    input.producers.join(", ")
                ));
                EnrichmentScope::Missing
            }
            (EnrichScope::Upstream, None) => {
                cx.note(
                    "no fetch stage upstream is enabled, so this stage enriches every movie \
                     without OMDb data instead (scope \"missing\")",
                );
                EnrichmentScope::Missing
            }
            (EnrichScope::Missing, _) => EnrichmentScope::Missing,
            (EnrichScope::All, _) => EnrichmentScope::All,
        };
        let movies =
            store::enrichment_candidates(cx.db(), OMDB, scope, self.no_data_retry()).await?;
        Ok(stream::iter(movies.into_iter().map(|m| m.tmdb_id)).boxed())
    }
}

/// What the database knows about a movie for OMDb: its IMDb id and OMDb's last answer.
struct Known {
    imdb_id: Option<String>,
    state: Option<String>,
    reason: Option<String>,
    checked_at: Option<DateTime<Utc>>,
}

async fn known_about(cx: &StageContext, tmdb_id: i64) -> Result<Option<Known>, StoreError> {
    let stmt = Query::select()
        .expr_as(Expr::col(("movies", "imdb_id")), "imdb_id")
        .expr_as(Expr::col(("movie_enrichment", "state")), "state")
        .expr_as(Expr::col(("movie_enrichment", "reason")), "reason")
        .expr_as(Expr::col(("movie_enrichment", "checked_at")), "checked_at")
        .from("movies")
        .left_join(
            "movie_enrichment",
            Expr::col(("movie_enrichment", "movie_id"))
                .equals(("movies", "id"))
                .and(Expr::col(("movie_enrichment", "source")).eq(Value::from(OMDB))),
        )
        .and_where(Expr::col(("movies", "tmdb_id")).eq(tmdb_id))
        .to_owned();
    let what = || format!("looking up TMDB movie {tmdb_id} for OMDb");
    let Some(row) = cx
        .db()
        .query_one(&stmt)
        .await
        .map_err(StoreError::query(what()))?
    else {
        return Ok(None);
    };
    let get = |col: &str| -> Result<Option<String>, StoreError> {
        row.try_get("", col).map_err(StoreError::query(what()))
    };
    Ok(Some(Known {
        imdb_id: get("imdb_id")?,
        state: get("state")?,
        reason: get("reason")?,
        checked_at: row
            .try_get("", "checked_at")
            .map_err(StoreError::query(what()))?,
    }))
}

async fn enrich_one(
    cx: &StageContext,
    omdb: &OmdbClient,
    tmdb_id: i64,
    retrier: Retrier,
    no_data: NoDataRetry,
) -> ItemResult {
    let known = match known_about(cx, tmdb_id).await {
        Ok(Some(k)) => k,
        Ok(None) => {
            return ItemResult::Failed {
                error: format!("TMDB movie {tmdb_id} is not in the database"),
                attempts: 0,
            };
        }
        Err(e) => {
            return ItemResult::Failed {
                error: e.to_string(),
                attempts: 0,
            };
        }
    };
    let Some(imdb_id) = known.imdb_id else {
        let why = "TMDB gives no IMDb id for this movie, so OMDb cannot be asked";
        return record(cx, tmdb_id, EnrichmentState::NoImdbId, why, 0).await;
    };
    if known.state.as_deref() == Some("no_data") && !no_data.asks(known.checked_at) {
        let when = known
            .checked_at
            .map(|t| format!(" on {}", t.format("%Y-%m-%d")))
            .unwrap_or_default();
        return ItemResult::Skipped {
            reason: format!(
                "OMDb had no data for {imdb_id} in an earlier run{when} ({}); set retry_no_data \
                 = true, or retry_no_data_after, to ask again",
                known.reason.unwrap_or_default()
            ),
            recorded: false,
        };
    }
    let c = &cx.counters;
    cx.pacer.wait().await;
    let fetched = match omdb.by_imdb_id(&imdb_id, &retrier).await {
        Ok(f) => f,
        Err(e) => return items::request_failed(c, &e),
    };
    c.request(fetched.attempts, fetched.rate_limited);
    let attempts = fetched.attempts;
    match fetched.value {
        Lookup::Found(record) => match save(cx, tmdb_id, &record, attempts).await {
            Ok(rows) => ItemResult::Ok { rows },
            Err(e) => ItemResult::Failed {
                error: format!("{imdb_id}: {e}"),
                attempts,
            },
        },
        Lookup::NoData(reason) => {
            let why = format!("OMDb has no data for {imdb_id}: {reason}");
            record(
                cx,
                tmdb_id,
                EnrichmentState::NoData { reason },
                &why,
                attempts,
            )
            .await
        }
        Lookup::LimitReached => ItemResult::Stop(StageOutcome::Partial(format!(
            "{}: OMDb answered \"Request limit reached!\": the key's daily quota is spent; \
             the movies not done are pending: run again with --resume once the quota resets",
            omdb.http().name()
        ))),
    }
}

/// OMDb's data, the `fetched` state and the ledger row, all or nothing.
async fn save(
    cx: &StageContext,
    tmdb_id: i64,
    record: &store::OmdbRecord,
    attempts: u32,
) -> Result<u64, StoreError> {
    let txn = store::begin(cx.db()).await?;
    let stats = store::save_omdb_in(&txn, tmdb_id, record).await?;
    store::set_enrichment_state(&txn, tmdb_id, OMDB, EnrichmentState::Fetched).await?;
    cx.ledger()
        .mark(
            &txn,
            cx.name(),
            &movie_key(tmdb_id),
            ItemStatus::Ok,
            attempts,
            None,
        )
        .await?;
    txn.commit().await.map_err(StoreError::query(format!(
        "committing OMDb data of TMDB movie {tmdb_id}"
    )))?;
    Ok(stats.written + stats.deleted)
}

/// A movie OMDb cannot help with: the state and a skipped ledger row, in one transaction.
async fn record(
    cx: &StageContext,
    tmdb_id: i64,
    state: EnrichmentState,
    why: &str,
    attempts: u32,
) -> ItemResult {
    let saved = async {
        let txn = store::begin(cx.db()).await?;
        store::set_enrichment_state(&txn, tmdb_id, OMDB, state).await?;
        cx.ledger()
            .mark(
                &txn,
                cx.name(),
                &movie_key(tmdb_id),
                ItemStatus::Skipped,
                attempts,
                Some(why),
            )
            .await?;
        txn.commit().await.map_err(StoreError::query(format!(
            "recording the OMDb state of TMDB movie {tmdb_id}"
        )))
    }
    .await;
    match saved {
        Ok(()) => ItemResult::Skipped {
            reason: why.to_owned(),
            recorded: true,
        },
        Err(e) => ItemResult::Failed {
            error: e.to_string(),
            attempts,
        },
    }
}
