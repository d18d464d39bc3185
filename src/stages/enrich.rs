//! `enrich`: OMDb ratings, awards and box office for movies, looked up by IMDb id.
//!
//! Which movies: with `scope = "upstream"`, those its upstream fetch stages saved in this run
//! (from the ledger, and streamed while they run); with `"missing"`, every movie without an
//! OMDb answer yet; with `"all"`, every movie. A movie without an IMDb id, or one OMDb already
//! answered "no data" for (unless `retry_no_data`), is recorded without a request, so reruns
//! do not spend the daily quota on known answers.
//!
//! With a `daily_quota` on the source, each request first takes one from the day's quota in the
//! run's database (`store::quota`), so the processes of a shared run spend one quota between
//! them. A spent quota, or OMDb's "Request limit reached!", stops the stage cleanly: requests in
//! flight finish, and every movie not done is recorded as pending (also those upstream stages
//! still stream in), for `--resume` once the quota resets.
//!
//! In a run shared by workers (`stages::shared`), the runner finds the movies and records them
//! as pending; every process claims and asks about its share. Ledger key: `movie:<tmdb id>`.

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
use super::ledger::{ItemKind, movie_key};
use super::{Counters, SharedStage, Stage, StageContext, StageOutcome, UpstreamInput, shared};
use crate::plan::{EnrichScope, EnrichStage};
use crate::sources::RequestError;
use crate::sources::omdb::client::{Lookup, OmdbClient};
use crate::sources::retry::Retrier;
use crate::store::bundle::sources::OMDB;
use crate::store::cluster::{self, Member};
use crate::store::ledger::ItemStatus;
use crate::store::quota::Quota;
use crate::store::{self, EnrichmentScope, EnrichmentState, NoDataRetry, StoreError};

pub struct Enrich(pub EnrichStage);

#[async_trait]
impl Stage for Enrich {
    fn shared(&self) -> Option<&dyn SharedStage> {
        Some(self)
    }

    async fn run(&self, cx: &mut StageContext) -> StageOutcome {
        let input = cx.input.take();
        let cx: &StageContext = cx;
        let omdb = match self.client(cx) {
            Ok(o) => o,
            Err(failed) => return failed,
        };
        let known = match cx.ledger().items(cx.name()).await {
            Ok(k) => k,
            Err(e) => return StageOutcome::Failed(e.to_string()),
        };
        let ids = match self.movies(cx, input).await {
            Ok(ids) => ids,
            Err(e) => return StageOutcome::Failed(e.to_string()),
        };
        let member = match &cx.run.cluster {
            Some(cluster) => match cluster.member(cx).await {
                Ok(m) => Some(m),
                Err(e) => return StageOutcome::Failed(e.to_string()),
            },
            None => None,
        };
        let stop = CancellationToken::new();
        let problem: Mutex<Option<String>> = Mutex::new(None);
        let fail = |why: String| {
            *problem.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
            stop.cancel();
        };
        let mut items = items::pending(cx, ids, &known, movie_key, &fail);
        let quota = self.quota(cx);
        let (retrier, no_data) = (cx.retrier(), self.no_data_retry());
        let (omdb, quota) = (&omdb, quota.as_ref());
        let work = |_key: String, id: i64| enrich_one(cx, omdb, quota, id, retrier, no_data);
        let stopped = match member.as_deref() {
            None => items::process(cx, &stop, &mut items, work).await,
            Some(member) => {
                // Workers of the run take their share of the movies, recorded as pending as
                // they are found.
                let kind = ItemKind::Movie;
                let feed = shared::Recorded {
                    items: &mut items,
                    known: &known,
                    on_skipped: &|_| {},
                };
                shared::lead_recorded(cx, member, kind, feed, &stop, work).await
            }
        };
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
            if let Some(member) = member.as_deref() {
                // Found but never claimed, or let go by a worker the quota stopped too.
                match cluster::pending_items(cx.db(), member.run_id, cx.name(), &["movie:"]).await {
                    Ok(n) => {
                        let counted = cx.counters.values().pending;
                        Counters::add(&cx.counters.pending, n.saturating_sub(counted));
                    }
                    Err(e) => return StageOutcome::Failed(e.to_string()),
                }
            }
        }
        items::finish(cx, stopped)
    }
}

impl Enrich {
    /// The stage's OMDb client.
    fn client(&self, cx: &StageContext) -> Result<OmdbClient, StageOutcome> {
        cx.run
            .sources
            .omdb
            .get(&self.0.source)
            .cloned()
            .ok_or_else(|| {
                StageOutcome::Failed(format!(
                    "the plan has no OMDb source named `{}`",
                    self.0.source
                ))
            })
    }

    /// The source's daily quota, counted in the run's database by all its processes.
    fn quota(&self, cx: &StageContext) -> Option<Quota> {
        let limit = cx.run.plan.sources.get(&self.0.source)?.daily_quota?;
        Some(Quota::new(
            cx.db().clone(),
            cx.ledger().run_id(),
            &self.0.source,
            limit,
        ))
    }
}

#[async_trait]
impl SharedStage for Enrich {
    fn source(&self) -> &str {
        &self.0.source
    }

    /// Claims the stage's movies and asks OMDb about them until the runner ends the stage
    /// (see [`super::shared`]).
    async fn work_shared(&self, cx: &StageContext, member: &Member) -> StageOutcome {
        let omdb = match self.client(cx) {
            Ok(o) => o,
            Err(failed) => return failed,
        };
        let quota = self.quota(cx);
        let (retrier, no_data) = (cx.retrier(), self.no_data_retry());
        let (omdb, quota) = (&omdb, quota.as_ref());
        let work = |_key: String, id: i64| enrich_one(cx, omdb, quota, id, retrier, no_data);
        shared::take_part(cx, member, ItemKind::Movie, work).await
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
        Ok(stream::iter(movies).boxed())
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
    quota: Option<&Quota>,
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
    if let Some(quota) = quota {
        match quota.take().await {
            Ok(true) => {}
            Ok(false) => {
                return ItemResult::Stop(StageOutcome::Partial(format!(
                    "{}: today's daily_quota of {} requests is spent (counted in the database by \
                     every process of the run); the movies not done are pending: run again \
                     with --resume once the quota resets",
                    omdb.http().name(),
                    quota.limit()
                )));
            }
            Err(e) => {
                return ItemResult::Failed {
                    error: e.to_string(),
                    attempts: 0,
                };
            }
        }
    }
    let fetched = omdb.by_imdb_id(&imdb_id, &retrier).await;
    // Retries are requests too.
    let attempts = match &fetched {
        Ok(f) => f.attempts,
        Err(e) => e.cost().0,
    };
    if let Some(quota) = quota
        && let Err(e) = quota.spend(attempts.saturating_sub(1)).await
    {
        return ItemResult::Failed {
            error: e.to_string(),
            attempts,
        };
    }
    let fetched = match fetched {
        Ok(f) => f,
        Err(e) => return items::request_failed(c, &e),
    };
    c.request(fetched.attempts, fetched.rate_limited);
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
