//! `people`: TMDB's details (`person/{id}`) of the people credited in the movies the stage's
//! upstream fetch stages saved in this run — everyone (`select = "all"`), or the cast billed
//! before `cast_top` and the crew credited with one of `jobs` — one request per person, with
//! the stage's own `concurrency` on the source's shared rate.
//!
//! Movies come as an enrich stage's do: those saved earlier in the run from the ledger, then,
//! while the fetch stages run, streamed as each is committed. The people of each batch of
//! movies are read from their stored credits; each person is asked about once. A person TMDB
//! has no page for (404) is skipped and named in a note under the report. When no fetch stage
//! upstream runs in this execution or ran earlier in the run (`--only people`), the stage
//! takes the people of every movie in the database whose details were never fetched.
//!
//! With `append`, each request carries those parts (`images`, `translations`), stored with
//! the person. Ledger key: `person:<tmdb id>`; `--resume` does not ask again for the people
//! done (ok, or skipped as TMDB has no such person). In a run shared by workers
//! (`stages::shared`), the runner finds the people and records them as pending; every process
//! claims and fetches its share.

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use tokio_util::sync::CancellationToken;

use super::fetch::{TmdbIds, receiver_stream};
use super::items::{self, ItemResult};
use super::ledger::{ItemKind, person_key};
use super::{SharedStage, Stage, StageContext, StageOutcome, UpstreamInput, shared};
use crate::plan::{PeopleSelect, PeopleStage};
use crate::sources::retry::Retrier;
use crate::sources::tmdb::client::{Details, TmdbClient};
use crate::sources::tmdb::mapping;
use crate::store::cluster::Member;
use crate::store::ledger::ItemStatus;
use crate::store::people::{CreditFilter, credited_people, people_without_details};
use crate::store::{self, PersonDetails, StoreError};

pub struct People(pub PeopleStage);

/// Movies whose credits are read in one query, as they arrive.
const MOVIE_CHUNK: usize = 64;

/// Where the stage's work stands, shared by its item stream and its tasks.
struct Shared<'a> {
    cx: &'a StageContext,
    stop: CancellationToken,
    /// Why the stage must fail (the database refused a read or a ledger write).
    problem: Mutex<Option<String>>,
    /// People TMDB answered 404 for.
    not_found: TmdbIds,
}

impl Shared<'_> {
    fn fail(&self, why: String) {
        *self.problem.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        self.stop.cancel();
    }
}

#[async_trait]
impl Stage for People {
    fn shared(&self) -> Option<&dyn SharedStage> {
        Some(self)
    }

    async fn run(&self, cx: &mut StageContext) -> StageOutcome {
        let input = cx.input.take();
        let cx: &StageContext = cx;
        let Some(tmdb) = cx.run.sources.tmdb.get(&self.0.source).cloned() else {
            return StageOutcome::Failed(format!(
                "the plan has no TMDB source named `{}`",
                self.0.source
            ));
        };
        let known = match cx.ledger().items(cx.name()).await {
            Ok(k) => k,
            Err(e) => return StageOutcome::Failed(e.to_string()),
        };
        let filter = self.filter();
        let shared = Shared {
            cx,
            stop: CancellationToken::new(),
            problem: Mutex::new(None),
            not_found: TmdbIds::default(),
        };
        let people = match self.people(&shared, input, &filter).await {
            Ok(p) => p,
            Err(e) => return StageOutcome::Failed(e.to_string()),
        };
        let member = match &cx.run.cluster {
            Some(cluster) => match cluster.member(cx).await {
                Ok(m) => Some(m),
                Err(e) => return StageOutcome::Failed(e.to_string()),
            },
            None => None,
        };
        let fail = |why: String| shared.fail(why);
        let mut items = items::pending(cx, people, &known, person_key, &fail);
        let retrier = cx.retrier();
        let (tmdb, shared_ref, append) = (&tmdb, &shared, &self.0.append);
        let work = |_key: String, id: i64| fetch_person(shared_ref, tmdb, append, id, retrier);
        let stopped = match member.as_deref() {
            None => items::process(cx, &shared.stop, items, work).await,
            Some(member) => {
                // Workers of the run take their share of the people, recorded as pending as
                // they are found.
                let on_skipped = |id: i64| shared.not_found.add(id);
                let stop = &shared.stop;
                let kind = ItemKind::Person;
                let feed = shared::Recorded {
                    items: &mut items,
                    known: &known,
                    on_skipped: &on_skipped,
                };
                shared::lead_recorded(cx, member, kind, feed, stop, work).await
            }
        };
        if let Some(why) = shared
            .problem
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            return StageOutcome::Failed(why);
        }
        if let Some((_, note)) = shared.not_found.note(|n| {
            let people = if n == 1 { "person" } else { "people" };
            format!("{n} {people} TMDB does not have (404), skipped")
        }) {
            cx.note(note);
        }
        items::finish(cx, stopped)
    }
}

#[async_trait]
impl SharedStage for People {
    fn source(&self) -> &str {
        &self.0.source
    }

    /// Claims the stage's people and fetches them until the runner ends the stage (see
    /// [`super::shared`]).
    async fn work_shared(&self, cx: &StageContext, member: &Member) -> StageOutcome {
        let Some(tmdb) = cx.run.sources.tmdb.get(&self.0.source).cloned() else {
            return StageOutcome::Failed(format!(
                "the plan has no TMDB source named `{}`",
                self.0.source
            ));
        };
        let shared = Shared {
            cx,
            stop: CancellationToken::new(),
            problem: Mutex::new(None),
            not_found: TmdbIds::default(),
        };
        let retrier = cx.retrier();
        let (tmdb, shared_ref, append) = (&tmdb, &shared, &self.0.append);
        let work = |_key: String, id: i64| fetch_person(shared_ref, tmdb, append, id, retrier);
        shared::take_part(cx, member, ItemKind::Person, work).await
    }
}

impl People {
    /// The credits the plan selects people by.
    fn filter(&self) -> CreditFilter {
        match self.0.select {
            PeopleSelect::All => CreditFilter::All,
            PeopleSelect::Credited => CreditFilter::Credited {
                cast_top: self.0.cast_top,
                jobs: self.0.jobs.clone(),
            },
        }
    }

    /// The TMDB ids of the people to consider, in the order they become known (repeats
    /// included: [`pending_items`] drops them).
    async fn people<'a>(
        &self,
        shared: &'a Shared<'a>,
        input: Option<UpstreamInput>,
        filter: &'a CreditFilter,
    ) -> Result<BoxStream<'a, i64>, StoreError> {
        let cx = shared.cx;
        match input {
            Some(input) => {
                // From now on producers wait for room in the channel instead of dropping ids;
                // everything they committed before is in the ledger read next.
                input.started.store(true, Ordering::SeqCst);
                let saved = cx.ledger().ok_movies(&input.producers).await?;
                if !saved.is_empty() || input.live {
                    let live = match input.rx {
                        Some(rx) => receiver_stream(rx).boxed(),
                        None => stream::empty().boxed(),
                    };
                    let movies = stream::iter(saved).chain(live).boxed();
                    return Ok(credited(shared, movies, filter));
                }
                cx.note(format!(
                    "none of the fetch stages upstream ({}) runs or ran in this run, so this \
                     stage fetches the people of every movie in the database whose details were \
                     never fetched",
                    input.producers.join(", ")
                ));
            }
            None => cx.note(
                "no fetch stage upstream is enabled, so this stage fetches the people of every \
                 movie in the database whose details were never fetched",
            ),
        }
        let ids = people_without_details(cx.db(), filter).await?;
        Ok(stream::iter(ids).boxed())
    }
}

/// The people `filter` selects in `movies`, read from their stored credits a batch of movies
/// at a time.
fn credited<'a>(
    shared: &'a Shared<'a>,
    movies: BoxStream<'a, i64>,
    filter: &'a CreditFilter,
) -> BoxStream<'a, i64> {
    movies
        .ready_chunks(MOVIE_CHUNK)
        .then(move |chunk| async move {
            // In a task of its own, for the reason `items::pending` gives.
            let (db, filter) = (shared.cx.db().clone(), filter.clone());
            let read =
                tokio::spawn(async move { credited_people(&db, &chunk, &filter).await }).await;
            match read {
                Ok(Ok(ids)) => ids,
                Ok(Err(e)) => {
                    shared.fail(e.to_string());
                    Vec::new()
                }
                Err(e) => {
                    shared.fail(format!(
                        "reading the people of the movies saved failed: {e}"
                    ));
                    Vec::new()
                }
            }
        })
        .flat_map(stream::iter)
        .boxed()
}

/// Fetches and stores one person's details.
async fn fetch_person(
    shared: &Shared<'_>,
    tmdb: &TmdbClient,
    append: &[String],
    id: i64,
    retrier: Retrier,
) -> ItemResult {
    let cx = shared.cx;
    let c = &cx.counters;
    cx.pacer.wait().await;
    let fetched = match tmdb.person(id, append, &retrier).await {
        Ok(f) => f,
        Err(e) => return items::request_failed(c, &e),
    };
    c.request(fetched.attempts, fetched.rate_limited);
    let attempts = fetched.attempts;
    let failed = |error: String| ItemResult::Failed { error, attempts };
    let body = match fetched.value {
        Details::NotFound(how) => {
            shared.not_found.add(id);
            return ItemResult::Skipped {
                reason: format!("TMDB has no person {id} ({how})"),
                recorded: false,
            };
        }
        Details::Found(body) => body,
    };
    let details = match mapping::person_details(&body) {
        Ok(d) if d.tmdb_id == id => d,
        Ok(d) => {
            return failed(format!(
                "TMDB answered person {} when asked for person {id}",
                d.tmdb_id
            ));
        }
        Err(e) => return failed(format!("TMDB person {id}: {e}")),
    };
    match save(cx, &details, attempts).await {
        Ok(rows) => ItemResult::Ok { rows },
        Err(e) => failed(format!("TMDB person {id}: {e}")),
    }
}

/// The person's details and their ledger row, all or nothing.
async fn save(
    cx: &StageContext,
    details: &PersonDetails,
    attempts: u32,
) -> Result<u64, StoreError> {
    let id = details.tmdb_id;
    let txn = store::begin(cx.db()).await?;
    let rows =
        store::people::save_person_in(&txn, details, cx.ledger().run_id(), Utc::now()).await?;
    cx.ledger()
        .mark(
            &txn,
            cx.name(),
            &person_key(id),
            ItemStatus::Ok,
            attempts,
            None,
        )
        .await?;
    txn.commit().await.map_err(StoreError::query(format!(
        "committing the details of TMDB person {id}"
    )))?;
    Ok(rows)
}
