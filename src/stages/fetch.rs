//! `fetch`: TMDB movie ids (list or discover pages, explicit `ids`, a curated list, a
//! collection, IMDb ids, a user list, a person's filmography, title searches, an ids file) → one
//! `movie/{id}?append_to_response=…` request per movie → `save_movie_in`, with the movie's
//! ledger row in the same transaction → its id streamed to the stages downstream.
//!
//! Ids are found and fetched at once: the first page's movies are being fetched while the
//! next pages are asked for. A movie another fetch stage of the run has (or is) fetching is
//! not asked again ([`super::claims`]). On `--resume`, pages, entries and movies already done
//! (ok, or skipped as TMDB has no such movie) are not asked again, failed and pending ones are;
//! the movies of pages done earlier come from the ledger.
//!
//! `export` and `changes` follow TMDB's whole catalog; [`catalog`] has their feeds, the
//! movies TMDB no longer has, and the sync watermark.

mod catalog;

use std::collections::HashMap;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::claims::{Claim, Outcome};
use super::items::{self, ItemResult};
use super::ledger::{IMDB, ItemKind, SEARCH, movie_id, movie_key};
use super::{Counters, SharedStage, Stage, StageContext, StageOutcome, shared};
use crate::ids::IdSet;
use crate::lists::{self, ListItem};
use crate::plan::{
    CatalogFilter, DiscoverFilters, FetchSelection, FetchStage, LIST_PAGE_SIZE, ListKind,
    MAX_PAGES, MovieRef, PersonSelection, Refetch, TitleSearch,
};
use crate::sources::Fetched;
use crate::sources::retry::Retrier;
use crate::sources::tmdb::client::{Details, MediaIds, TmdbClient, TmdbError};
use crate::store::bundle::CollectionDetails;
use crate::store::cluster::{self, Member};
use crate::store::ledger::ItemStatus;
use crate::store::{self, StoreError};

pub struct Fetch(pub FetchStage);

/// List pages asked for at once, ahead of the movie requests they feed.
const PAGES_AHEAD: usize = 4;

/// Movie ids found but not yet picked up by a task.
const QUEUE: usize = 256;

#[async_trait]
impl Stage for Fetch {
    fn shared(&self) -> Option<&dyn SharedStage> {
        self.shareable().then_some(self as &dyn SharedStage)
    }

    async fn run(&self, cx: &mut StageContext) -> StageOutcome {
        let cx: &StageContext = cx;
        let tmdb = match self.client(cx) {
            Ok(t) => t,
            Err(failed) => return failed,
        };
        let known = match cx.ledger().items(cx.name()).await {
            Ok(k) => k,
            Err(e) => return StageOutcome::Failed(e.to_string()),
        };
        let stop = CancellationToken::new();
        let retrier = cx.retrier();
        let (tx, rx) = mpsc::channel::<i64>(QUEUE);
        let synced = std::sync::Mutex::new(catalog::Synced::default());
        // New movies of a changes stage that refetches every changed one are admitted by its
        // filter, as an export stage would admit them.
        let admit = match &self.0.selection {
            FetchSelection::Changes {
                refetch: Refetch::All,
                filter,
                ..
            } => Some(filter),
            _ => None,
        };
        let member = match &cx.run.cluster {
            Some(cluster) if self.shareable() => match cluster.member(cx).await {
                Ok(m) => Some(m),
                Err(e) => return StageOutcome::Failed(e.to_string()),
            },
            _ => None,
        };
        let feed = Feed {
            cx,
            tmdb: &tmdb,
            known: &known,
            stop: &stop,
            retrier,
            tx,
            sent: IdSet::default(),
            synced: &synced,
            admit,
            look_ups: member.as_ref().map(|_| Vec::new()),
        };
        let append = &self.0.append;
        let tmdb_ref = &tmdb;
        let noted = Noted::default();
        let noted_ref = &noted;
        let admit = admit.map(|filter| (filter, &synced));
        let work = move |_key: String, id: i64| {
            fetch_one(cx, tmdb_ref, append, id, retrier, noted_ref, admit)
        };
        let (fed, worked) = match member.as_deref() {
            None => {
                let ids = receiver_stream(rx).map(|id| (movie_key(id), id));
                futures::join!(
                    feed.run(&self.0.selection),
                    items::process(cx, &stop, ids, work)
                )
            }
            Some(member) => {
                // Workers of the run take their share of the movies the feed finds.
                let on_skipped = |id: i64| noted.not_found.add(id);
                let runner = shared::Runner {
                    found: rx,
                    on_skipped: &on_skipped,
                    recorded: false,
                    known: &known,
                    looks_up: self.looks_up(),
                };
                let searches = self.searches();
                let (work, searches) = (&work, &searches);
                let work_shared = move |key: String, item: FetchItem| async move {
                    match item {
                        FetchItem::Movie(id) => work(key, id).await,
                        FetchItem::LookUp => look_up(cx, tmdb_ref, retrier, &key, searches).await,
                    }
                };
                let (fed, (claimed, worked)) = futures::join!(
                    feed.run(&self.0.selection),
                    shared::lead(cx, member, ItemKind::Fetch, runner, &stop, work_shared)
                );
                (fed.or(claimed), worked)
            }
        };
        if let Some((_, note)) = noted.odd_credits.note(|n| {
            let movies = if n == 1 { "movie had" } else { "movies had" };
            format!("{n} {movies} credits without a distinct credit_id (kept with a fallback key)")
        }) {
            cx.note(note);
        }
        let not_found = noted.not_found.ids();
        if let Some((n, note)) = noted.not_found.note(|n| {
            let movies = if n == 1 { "movie" } else { "movies" };
            format!("{n} {movies} TMDB does not have (404), skipped")
        }) {
            // A stage of ids that exist nowhere upstream did nothing the plan meant: a typo, or
            // TMDB's ids sent to the sandbox (whose catalog has ids of its own).
            if let FetchSelection::Ids(ids) = &self.0.selection
                && n == ids.len()
                && worked.is_none()
                && fed.is_none()
            {
                return StageOutcome::Failed(format!(
                    "none of the {n} movies the stage names exists at TMDB ({note}); with \
                     --sandbox, ids are the simulator's own (see `popctl sandbox serve`)"
                ));
            }
            cx.note(note);
        }
        if let Some(n) = noted.filtered.count() {
            cx.note(format!(
                "{n} new movies the stage's filter does not admit (popularity, adult or video), not stored"
            ));
        }
        let outcome = items::finish(cx, worked.or(fed));
        if !matches!(outcome, StageOutcome::Done) {
            return outcome;
        }
        let synced = synced.into_inner().unwrap_or_else(|e| e.into_inner());
        match catalog::finish(cx, &self.0, synced, &not_found).await {
            Ok(()) => outcome,
            Err(failed) => failed,
        }
    }
}

impl Fetch {
    /// The stage's TMDB client.
    fn client(&self, cx: &StageContext) -> Result<TmdbClient, StageOutcome> {
        let Some(tmdb) = cx.run.sources.tmdb.get(&self.0.source).cloned() else {
            return Err(StageOutcome::Failed(format!(
                "the plan has no TMDB source named `{}`",
                self.0.source
            )));
        };
        Ok(match self.0.selection {
            // A changed movie's cached answer is the one before the change.
            FetchSelection::Changes { .. } => tmdb.without_cache(),
            _ => tmdb,
        })
    }

    /// Whether workers of a shared run may take this stage's movies. A changes stage that
    /// refetches every changed movie admits new ones by what its feed learnt, which only the
    /// runner knows: it fetches alone.
    /// The title searches of the stage, by ledger key, for the processes that claim them.
    fn searches(&self) -> HashMap<String, TitleSearch> {
        match &self.0.selection {
            FetchSelection::Search(searches) => searches
                .iter()
                .map(|q| (search_key(q), q.clone()))
                .collect(),
            _ => HashMap::new(),
        }
    }

    /// Whether the stage finds movies by looking them up (`/find`, `/search/movie`).
    fn looks_up(&self) -> bool {
        match &self.0.selection {
            FetchSelection::CuratedList { .. }
            | FetchSelection::ImdbIds(_)
            | FetchSelection::Search(_) => true,
            FetchSelection::IdsFile { ids, .. } => {
                ids.iter().any(|r| matches!(r, MovieRef::Imdb(_)))
            }
            _ => false,
        }
    }

    fn shareable(&self) -> bool {
        !matches!(
            self.0.selection,
            FetchSelection::Changes {
                refetch: Refetch::All,
                ..
            }
        )
    }
}

#[async_trait]
impl SharedStage for Fetch {
    fn source(&self) -> &str {
        &self.0.source
    }

    /// Claims the stage's movies and fetches them until the runner ends the stage (see
    /// [`super::shared`]).
    async fn work_shared(&self, cx: &StageContext, member: &Member) -> StageOutcome {
        let tmdb = match self.client(cx) {
            Ok(t) => t,
            Err(failed) => return failed,
        };
        let retrier = cx.retrier();
        let noted = Noted::default();
        let searches = self.searches();
        let (tmdb, noted, append, searches) = (&tmdb, &noted, &self.0.append, &searches);
        let work = move |key: String, item: FetchItem| async move {
            match item {
                FetchItem::Movie(id) => fetch_one(cx, tmdb, append, id, retrier, noted, None).await,
                FetchItem::LookUp => look_up(cx, tmdb, retrier, &key, searches).await,
            }
        };
        shared::take_part(cx, member, ItemKind::Fetch, work).await
    }
}

/// The other enabled fetch stages of the run, when `cx`'s stage is a fetch stage: in a shared
/// run, a movie one of them saved (in any process) is not fetched again, and one it is fetching
/// waits.
pub fn siblings(cx: &StageContext) -> Vec<String> {
    if !matches!(cx.stage.kind, crate::plan::StageKind::Fetch(_)) {
        return Vec::new();
    }
    cx.run
        .plan
        .stages
        .iter()
        .filter(|s| s.enabled && s.name != cx.name())
        .filter(|s| matches!(s.kind, crate::plan::StageKind::Fetch(_)))
        .map(|s| s.name.clone())
        .collect()
}

/// Movies worth a word in the report, gathered as the stage's tasks meet them.
#[derive(Default)]
struct Noted {
    /// Saved with credits that lack a distinct `credit_id`, which the store kept under
    /// fallback keys: upstream data is odd there.
    odd_credits: TmdbIds,
    /// Answered 404: TMDB has no such movie (now).
    not_found: TmdbIds,
    /// New movies of a changes stage its filter did not admit.
    filtered: TmdbIds,
}

/// TMDB ids, gathered from concurrent tasks.
#[derive(Default)]
pub(super) struct TmdbIds(std::sync::Mutex<Vec<i64>>);

impl TmdbIds {
    /// Ids named in a note, at most.
    const SHOWN: usize = 10;

    /// The ids gathered so far, sorted.
    fn ids(&self) -> Vec<i64> {
        let mut ids = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// How many, if any.
    fn count(&self) -> Option<usize> {
        let n = self.ids().len();
        (n > 0).then_some(n)
    }

    pub(super) fn add(&self, tmdb_id: i64) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tmdb_id);
    }

    /// `what(n)` and the first ids, sorted, with how many there were; `None` without any.
    pub(super) fn note(&self, what: impl Fn(usize) -> String) -> Option<(usize, String)> {
        let mut ids = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        if ids.is_empty() {
            return None;
        }
        ids.sort_unstable();
        ids.dedup();
        let n = ids.len();
        let mut shown: Vec<String> = ids.iter().take(Self::SHOWN).map(i64::to_string).collect();
        if n > Self::SHOWN {
            shown.push("…".to_owned());
        }
        Some((n, format!("{}: {}", what(n), shown.join(", "))))
    }
}

/// Turns a channel into a stream.
pub fn receiver_stream<T>(mut rx: mpsc::Receiver<T>) -> impl futures::Stream<Item = T> + Unpin {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Finds the stage's movie ids and hands them to the tasks that fetch them.
struct Feed<'a> {
    cx: &'a StageContext,
    tmdb: &'a TmdbClient,
    known: &'a HashMap<String, ItemStatus>,
    stop: &'a CancellationToken,
    retrier: Retrier,
    tx: mpsc::Sender<i64>,
    /// Ids handed over (or done earlier), so a movie listed twice is fetched once.
    sent: IdSet,
    /// What an `export` or `changes` selection learns for the stage's end.
    synced: &'a std::sync::Mutex<catalog::Synced>,
    /// The filter a changes stage admits new movies by.
    admit: Option<&'a CatalogFilter>,
    /// In a run shared by workers: the look-ups (`imdb:`, `search:`) found and not yet
    /// recorded as pending, for every process to claim, instead of asked here one by one.
    look_ups: Option<Vec<String>>,
}

impl Feed<'_> {
    /// Returns why the stage must stop, if it must.
    async fn run(mut self, selection: &FetchSelection) -> Option<StageOutcome> {
        let stopped = self.find_all(selection).await;
        if stopped.is_some() {
            return stopped;
        }
        self.record_look_ups().await.err()
    }

    /// In a run shared by workers, takes `key` (a look-up of the stage's selection) to be
    /// recorded as pending for every process to claim, instead of asking it here: true then.
    async fn defer_look_up(&mut self, key: &str) -> Result<bool, StageOutcome> {
        let Some(look_ups) = &mut self.look_ups else {
            return Ok(false);
        };
        Counters::add(&self.cx.counters.total, 1);
        look_ups.push(key.to_owned());
        if look_ups.len() >= LOOK_UPS_AT_ONCE {
            self.record_look_ups().await?;
        }
        Ok(true)
    }

    /// Records the look-ups taken so far as pending (failed ones of an earlier attempt too).
    async fn record_look_ups(&mut self) -> Result<(), StageOutcome> {
        let Some(look_ups) = &mut self.look_ups else {
            return Ok(());
        };
        if look_ups.is_empty() {
            return Ok(());
        }
        let keys = std::mem::take(look_ups);
        let (cx, stage) = (self.cx, self.cx.name());
        let recorded = async {
            cx.ledger().ensure(cx.db(), stage, &keys).await?;
            let run_id = cx.ledger().run_id();
            cluster::retry_failed(cx.db(), run_id, stage, &keys).await
        };
        recorded
            .await
            .map_err(|e| self.halt(StageOutcome::Failed(e.to_string())))
    }

    async fn find_all(&mut self, selection: &FetchSelection) -> Option<StageOutcome> {
        // Movies recorded by an earlier attempt of the run, from pages or entries done then.
        let mut earlier: Vec<i64> = self.known.keys().filter_map(|k| movie_id(k)).collect();
        earlier.sort_unstable();
        let done_earlier = earlier
            .iter()
            .filter(|id| self.known.get(&movie_key(**id)) == Some(&ItemStatus::Ok))
            .count();
        if done_earlier > 0 {
            self.cx.note(format!(
                "{done_earlier} movies were fetched by an earlier attempt of this run"
            ));
        }
        for id in earlier {
            if !self.hand_over(id).await {
                return None;
            }
        }
        match selection {
            FetchSelection::Ids(ids) => {
                let ids: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
                self.ids(&ids).await
            }
            FetchSelection::List {
                list,
                pages,
                limit,
                filters,
                queries,
            } if queries.is_empty() => self.pages(*list, *pages, *limit, filters, None).await,
            FetchSelection::List {
                list,
                pages,
                limit,
                queries,
                ..
            } => {
                // One query after another: each is short (a few pages), and its movies
                // stream to the fetching tasks while the next is paged.
                for (i, query) in queries.iter().enumerate() {
                    if self.stopping() {
                        break;
                    }
                    if let Some(stop) = self.pages(*list, *pages, *limit, query, Some(i)).await {
                        return Some(stop);
                    }
                }
                None
            }
            FetchSelection::CuratedList { path, .. } => self.curated(path).await,
            FetchSelection::Collection(id) => self.collection(*id).await,
            FetchSelection::ImdbIds(ids) => {
                self.look_up_each(ids.iter().map(|i| LookUp::Imdb(i))).await
            }
            FetchSelection::TmdbList(id) => self.user_list(id).await,
            FetchSelection::Person(p) => self.person(p).await,
            FetchSelection::Search(searches) => {
                self.look_up_each(searches.iter().map(LookUp::Title)).await
            }
            FetchSelection::IdsFile { ids, .. } => {
                let direct: Vec<i64> = ids
                    .iter()
                    .filter_map(|r| match r {
                        MovieRef::Tmdb(id) => i64::try_from(*id).ok(),
                        MovieRef::Imdb(_) => None,
                    })
                    .collect();
                if let Some(stop) = self.ids(&direct).await {
                    return Some(stop);
                }
                let by_imdb = ids.iter().filter_map(|r| match r {
                    MovieRef::Imdb(imdb_id) => Some(LookUp::Imdb(imdb_id)),
                    MovieRef::Tmdb(_) => None,
                });
                self.look_up_each(by_imdb).await
            }
            FetchSelection::Export { filter, limit } => self.export(filter, *limit).await,
            FetchSelection::Changes {
                refetch,
                first_window,
                ..
            } => self.changes(*refetch, *first_window).await,
        }
    }

    /// Sends `id` to the fetching tasks unless it was sent already or is finished (ok or
    /// skipped); false when the stage is stopping.
    async fn hand_over(&mut self, id: i64) -> bool {
        if !self.sent.insert(id) {
            return true;
        }
        let c = &self.cx.counters;
        Counters::add(&c.total, 1);
        // Finished by an earlier attempt: saved, or TMDB had no such movie (404).
        match self.known.get(&movie_key(id)) {
            Some(ItemStatus::Ok) => {
                Counters::add(&c.ok, 1);
                return true;
            }
            Some(ItemStatus::Skipped) => {
                Counters::add(&c.skipped, 1);
                return true;
            }
            _ => {}
        }
        tokio::select! {
            sent = self.tx.send(id) => sent.is_ok(),
            () = self.stop.cancelled() => false,
            () = self.cx.run.cancel.cancelled() => false,
        }
    }

    fn stopping(&self) -> bool {
        self.stop.is_cancelled() || self.cx.run.cancel.is_cancelled()
    }

    async fn ids(&mut self, ids: &[i64]) -> Option<StageOutcome> {
        let keys: Vec<String> = ids.iter().map(|&id| movie_key(id)).collect();
        if let Err(e) = self
            .cx
            .ledger()
            .ensure(self.cx.db(), self.cx.name(), &keys)
            .await
        {
            return Some(self.halt(StageOutcome::Failed(e.to_string())));
        }
        for &id in ids {
            if !self.hand_over(id).await {
                break;
            }
        }
        None
    }

    async fn pages(
        &mut self,
        list: ListKind,
        pages: u32,
        limit: Option<u32>,
        filters: &DiscoverFilters,
        query: Option<usize>,
    ) -> Option<StageOutcome> {
        let mut last = pages.min(MAX_PAGES);
        // Page 1 alone first: it says how many pages the list has.
        let mut next = 1;
        while next <= last && !self.stopping() {
            let batch: Vec<u32> = if next == 1 {
                vec![1]
            } else {
                (next..=last.min(next + PAGES_AHEAD as u32 - 1)).collect()
            };
            next += batch.len() as u32;
            let todo: Vec<u32> = batch
                .into_iter()
                .filter(|p| self.known.get(&query_page_key(query, *p)) != Some(&ItemStatus::Ok))
                .collect();
            let fetched = futures::stream::iter(todo)
                .map(|page| self.page(list, filters, page, limit, query))
                .buffered(PAGES_AHEAD)
                .collect::<Vec<_>>()
                .await;
            for result in fetched {
                match result {
                    Ok((ids, total_pages)) => {
                        last = last.min(total_pages.max(1));
                        for id in ids {
                            if !self.hand_over(id).await {
                                return None;
                            }
                        }
                    }
                    Err(stop) => return Some(self.halt(stop)),
                }
            }
        }
        None
    }

    /// One list page: its ids and the list's page count, recorded with the page's ledger row.
    /// `Err` when the stage must stop; a page that failed is counted and recorded here.
    async fn page(
        &self,
        list: ListKind,
        filters: &DiscoverFilters,
        page: u32,
        limit: Option<u32>,
        query: Option<usize>,
    ) -> Result<(Vec<i64>, u32), StageOutcome> {
        let cx = self.cx;
        let c = &cx.counters;
        let key = query_page_key(query, page);
        Counters::add(&c.total, 1);
        cx.pacer.wait().await;
        match self
            .tmdb
            .list_page(list, filters, page, &self.retrier)
            .await
        {
            Ok(fetched) => {
                c.request(fetched.attempts, fetched.rate_limited);
                let mut ids = fetched.value.ids;
                // `limit` cuts the last page: movies before this page plus its own.
                if let Some(limit) = limit {
                    let before = u64::from(page - 1) * LIST_PAGE_SIZE;
                    let room = u64::from(limit).saturating_sub(before);
                    ids.truncate(usize::try_from(room).unwrap_or(usize::MAX));
                }
                let keys: Vec<String> = ids.iter().map(|&id| movie_key(id)).collect();
                let saved = record_found(cx, &key, &keys, fetched.attempts, None).await;
                match saved {
                    Ok(()) => {
                        Counters::add(&c.ok, 1);
                        Ok((ids, fetched.value.total_pages))
                    }
                    Err(e) => Err(StageOutcome::Failed(e.to_string())),
                }
            }
            Err(e) => match items::record(cx, &key, items::request_failed(c, &e)).await {
                Some(stop) => Err(stop),
                None => Ok((Vec::new(), u32::MAX)),
            },
        }
    }

    async fn curated(&mut self, path: &std::path::Path) -> Option<StageOutcome> {
        let list = match lists::load_list(path) {
            Ok(list) => list,
            Err(e) => return Some(self.halt(StageOutcome::Failed(e.to_string()))),
        };
        let direct: Vec<i64> = list.items.iter().filter_map(|i| i.tmdb_id).collect();
        if let Some(stop) = self.ids(&direct).await {
            return Some(stop);
        }
        for (n, item) in list.items.iter().enumerate() {
            if self.stopping() {
                break;
            }
            if item.tmdb_id.is_some() {
                continue;
            }
            let found = match &item.imdb_id {
                Some(imdb_id) => self.find(imdb_id).await,
                None => self.unidentified(n + 1, item).await.map(|()| None),
            };
            match self.take_found(found).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(stop) => return Some(stop),
            }
        }
        None
    }

    /// Hands over the movie a look-up found, if any: `Ok(false)` when the stage is stopping,
    /// `Err` when the look-up stopped it.
    /// Looks each movie up (`/find`, `/search/movie`) one after another, handing each found
    /// movie over as it comes.
    async fn look_up_each<'l>(
        &mut self,
        look_ups: impl Iterator<Item = LookUp<'l>>,
    ) -> Option<StageOutcome> {
        for look_up in look_ups {
            if self.stopping() {
                break;
            }
            let found = match look_up {
                LookUp::Imdb(imdb_id) => self.find(imdb_id).await,
                LookUp::Title(q) => self.search(q).await,
            };
            match self.take_found(found).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(stop) => return Some(stop),
            }
        }
        None
    }

    async fn take_found(
        &mut self,
        found: Result<Option<i64>, StageOutcome>,
    ) -> Result<bool, StageOutcome> {
        match found {
            Ok(Some(id)) => Ok(self.hand_over(id).await),
            Ok(None) => Ok(true),
            Err(stop) => Err(self.halt(stop)),
        }
    }

    /// The movies of a TMDB collection, recorded with the collection's ledger row.
    async fn collection(&mut self, id: u64) -> Option<StageOutcome> {
        let cx = self.cx;
        let c = &cx.counters;
        let key = format!("collection:{id}");
        if self.known.get(&key) == Some(&ItemStatus::Ok) {
            // Its movies are among the `movie:` rows handed over already.
            return None;
        }
        Counters::add(&c.total, 1);
        cx.pacer.wait().await;
        let result = match self.tmdb.collection(id, &self.retrier).await {
            Ok(fetched) => {
                c.request(fetched.attempts, fetched.rate_limited);
                match fetched.value {
                    Some(details) => {
                        let keys: Vec<String> =
                            details.parts.iter().map(|&m| movie_key(m)).collect();
                        let recorded =
                            record_found(cx, &key, &keys, fetched.attempts, Some(&details)).await;
                        if let Err(e) = recorded {
                            return Some(self.halt(StageOutcome::Failed(e.to_string())));
                        }
                        Counters::add(&c.ok, 1);
                        for movie in details.parts {
                            if !self.hand_over(movie).await {
                                break;
                            }
                        }
                        return None;
                    }
                    None => {
                        return Some(self.halt(StageOutcome::Failed(format!(
                            "TMDB has no collection {id} (with --sandbox, collections are the \
                             simulator's own: the ids of `belongs_to_collection` in its movies)"
                        ))));
                    }
                }
            }
            Err(e) => items::request_failed(c, &e),
        };
        items::record(cx, &key, result)
            .await
            .map(|stop| self.halt(stop))
    }

    /// Settles a request that names movies (a list page, a filmography, a search): its
    /// ledger row records them as pending, or the failure.
    async fn settle<T>(
        &self,
        key: &str,
        result: Result<Fetched<Option<T>>, TmdbError>,
        movies: impl Fn(&T) -> Vec<i64>,
    ) -> Asked<T> {
        let cx = self.cx;
        let c = &cx.counters;
        match result {
            Ok(fetched) => {
                c.request(fetched.attempts, fetched.rate_limited);
                let Some(value) = fetched.value else {
                    return Asked::Missing;
                };
                let keys: Vec<String> = movies(&value).into_iter().map(movie_key).collect();
                match record_found(cx, key, &keys, fetched.attempts, None).await {
                    Ok(()) => {
                        Counters::add(&c.ok, 1);
                        Asked::Found(value)
                    }
                    Err(e) => Asked::Stop(StageOutcome::Failed(e.to_string())),
                }
            }
            Err(e) => match items::record(cx, key, items::request_failed(c, &e)).await {
                Some(stop) => Asked::Stop(stop),
                None => Asked::Failed,
            },
        }
    }

    /// The movies of a TMDB user list, every page, each page recorded with its ledger row;
    /// its entries that are not movies are counted in a note.
    async fn user_list(&mut self, id: &str) -> Option<StageOutcome> {
        let (mut page, mut last, mut other) = (1_u32, 1_u32, 0_usize);
        while page <= last && !self.stopping() {
            let key = format!("tmdb_list:{id}:{page}");
            Counters::add(&self.cx.counters.total, 1);
            self.cx.pacer.wait().await;
            let result = self.tmdb.user_list_page(id, page, &self.retrier).await;
            match self
                .settle(&key, result, |m: &MediaIds| m.ids.clone())
                .await
            {
                Asked::Found(m) => {
                    last = m.total_pages.min(MAX_PAGES);
                    other += m.other;
                    for movie in m.ids {
                        if !self.hand_over(movie).await {
                            return None;
                        }
                    }
                }
                Asked::Missing if page == 1 => {
                    return Some(self.halt(StageOutcome::Failed(format!(
                        "TMDB has no list {id} (with --sandbox, every list id names a list of \
                         the simulator's own movies)"
                    ))));
                }
                // The list got shorter while it was read.
                Asked::Missing => break,
                Asked::Failed => {}
                Asked::Stop(stop) => return Some(self.halt(stop)),
            }
            page += 1;
        }
        if other > 0 {
            self.cx.note(format!(
                "TMDB list {id}: {other} entries that are not movies (TV shows, people) were left out"
            ));
        }
        None
    }

    /// The movies of a person's filmography, recorded with the person's ledger row.
    async fn person(&mut self, p: &PersonSelection) -> Option<StageOutcome> {
        let key = format!("person:{}", p.id);
        if self.known.get(&key) == Some(&ItemStatus::Ok) {
            // Its movies are among the `movie:` rows handed over already.
            return None;
        }
        Counters::add(&self.cx.counters.total, 1);
        self.cx.pacer.wait().await;
        let result = self
            .tmdb
            .person_movie_ids(p.id, p.role, &p.jobs, &self.retrier)
            .await;
        match self
            .settle(&key, result, |m: &MediaIds| m.ids.clone())
            .await
        {
            Asked::Found(m) => {
                if m.other > 0 {
                    self.cx.note(format!(
                        "person {}: {} credits that are not movies were left out",
                        p.id, m.other
                    ));
                }
                for movie in m.ids {
                    if !self.hand_over(movie).await {
                        break;
                    }
                }
                None
            }
            Asked::Missing => Some(self.halt(StageOutcome::Failed(format!(
                "TMDB has no person {} (with --sandbox, people are the simulator's own: the ids \
                 its movies' credits name)",
                p.id
            )))),
            Asked::Failed => None,
            Asked::Stop(stop) => Some(self.halt(stop)),
        }
    }

    /// The first movie a title search finds, recorded with the search's ledger row; a search
    /// that finds none is a skipped item saying so.
    async fn search(&mut self, q: &TitleSearch) -> Result<Option<i64>, StageOutcome> {
        let key = search_key(q);
        if self
            .known
            .get(&key)
            .is_some_and(|s| *s != ItemStatus::Failed && *s != ItemStatus::Pending)
        {
            // Done earlier: its movie (if any) is among the `movie:` rows already handed over.
            return Ok(None);
        }
        if self.defer_look_up(&key).await? {
            return Ok(None);
        }
        Counters::add(&self.cx.counters.total, 1);
        self.cx.pacer.wait().await;
        let result = self.tmdb.search_movie(q, &self.retrier).await;
        match self.settle(&key, result, |&id| vec![id]).await {
            Asked::Found(id) => Ok(Some(id)),
            Asked::Missing => {
                let skipped = ItemResult::Skipped {
                    reason: format!("TMDB finds no movie titled {q}"),
                    recorded: false,
                };
                match items::record(self.cx, &key, skipped).await {
                    Some(stop) => Err(stop),
                    None => Ok(None),
                }
            }
            Asked::Failed => Ok(None),
            Asked::Stop(stop) => Err(stop),
        }
    }

    /// The TMDB id of a list entry known by its IMDb id, recorded with its ledger row.
    async fn find(&mut self, imdb_id: &str) -> Result<Option<i64>, StageOutcome> {
        let cx = self.cx;
        let c = &cx.counters;
        let key = format!("{IMDB}{imdb_id}");
        if self
            .known
            .get(&key)
            .is_some_and(|s| *s != ItemStatus::Failed && *s != ItemStatus::Pending)
        {
            // Done earlier: its movie (if any) is among the `movie:` rows already handed over.
            return Ok(None);
        }
        if self.defer_look_up(&key).await? {
            return Ok(None);
        }
        Counters::add(&c.total, 1);
        cx.pacer.wait().await;
        let result = match self.tmdb.find_imdb(imdb_id, &self.retrier).await {
            Ok(fetched) => {
                c.request(fetched.attempts, fetched.rate_limited);
                match fetched.value {
                    Some(id) => {
                        match record_found(cx, &key, &[movie_key(id)], fetched.attempts, None).await
                        {
                            Ok(()) => {
                                Counters::add(&c.ok, 1);
                                return Ok(Some(id));
                            }
                            Err(e) => return Err(StageOutcome::Failed(e.to_string())),
                        }
                    }
                    None => ItemResult::Skipped {
                        reason: format!("TMDB has no movie with IMDb id {imdb_id}"),
                        recorded: false,
                    },
                }
            }
            Err(e) => items::request_failed(c, &e),
        };
        match items::record(cx, &key, result).await {
            Some(stop) => Err(stop),
            None => Ok(None),
        }
    }

    /// A list entry with only a title (and year): there is no search endpoint to look it up
    /// by, so it is recorded as skipped, saying what would identify it.
    async fn unidentified(&self, number: usize, item: &ListItem) -> Result<(), StageOutcome> {
        let key = format!("entry:{number}");
        if self.known.get(&key) == Some(&ItemStatus::Skipped) {
            return Ok(());
        }
        Counters::add(&self.cx.counters.total, 1);
        let skipped = ItemResult::Skipped {
            reason: format!(
                "list entry {number} ({item}) has no tmdb_id or imdb_id; popctl does not search \
                 TMDB by title, so add one of them to the list file"
            ),
            recorded: false,
        };
        match items::record(self.cx, &key, skipped).await {
            Some(stop) => Err(stop),
            None => Ok(()),
        }
    }

    fn halt(&self, outcome: StageOutcome) -> StageOutcome {
        self.stop.cancel();
        outcome
    }
}

/// What a request naming movies came to.
enum Asked<T> {
    Found(T),
    /// TMDB has no such list, person, or search result.
    Missing,
    /// Failed, and recorded as a failed item.
    Failed,
    Stop(StageOutcome),
}

/// One movie to look up by what names it.
enum LookUp<'a> {
    Imdb(&'a str),
    Title(&'a TitleSearch),
}

/// The ledger key of a title search.
fn search_key(q: &TitleSearch) -> String {
    format!("{SEARCH}{q}")
}

/// Look-ups recorded as pending per ledger statement, in a shared run.
const LOOK_UPS_AT_ONCE: usize = 256;

/// A claimed item of a shared fetch stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchItem {
    /// A movie to fetch.
    Movie(i64),
    /// A look-up (`imdb:`, `search:`) that finds one.
    LookUp,
}

impl shared::Claimed for FetchItem {
    fn from_key(kind: ItemKind, key: &str) -> Option<FetchItem> {
        match kind.id(key) {
            Some(id) => Some(FetchItem::Movie(id)),
            None if key.starts_with(IMDB) || key.starts_with(SEARCH) => Some(FetchItem::LookUp),
            None => None,
        }
    }
}

/// A look-up claimed in a run shared by workers: asks TMDB which movie an IMDb id or a title
/// is, and records the movie it finds as pending in the stage (with the look-up's own row, in
/// one transaction), for any process to claim and fetch.
async fn look_up(
    cx: &StageContext,
    tmdb: &TmdbClient,
    retrier: Retrier,
    key: &str,
    searches: &HashMap<String, TitleSearch>,
) -> ItemResult {
    let c = &cx.counters;
    let (fetched, missing) = if let Some(imdb_id) = key.strip_prefix(IMDB) {
        cx.pacer.wait().await;
        let missing = format!("TMDB has no movie with IMDb id {imdb_id}");
        (tmdb.find_imdb(imdb_id, &retrier).await, missing)
    } else if let Some(q) = searches.get(key) {
        cx.pacer.wait().await;
        let missing = format!("TMDB finds no movie titled {q}");
        (tmdb.search_movie(q, &retrier).await, missing)
    } else {
        return ItemResult::Failed {
            error: format!("{key} is not a look-up of stage {}", cx.name()),
            attempts: 0,
        };
    };
    let fetched = match fetched {
        Ok(f) => f,
        Err(e) => return items::request_failed(c, &e),
    };
    c.request(fetched.attempts, fetched.rate_limited);
    let attempts = fetched.attempts;
    match fetched.value {
        Some(id) => match record_found(cx, key, &[movie_key(id)], attempts, None).await {
            Ok(()) => ItemResult::Ok { rows: 0 },
            Err(e @ StoreError::LeaseLost { .. }) => ItemResult::Lost(e.to_string()),
            Err(e) => ItemResult::Failed {
                error: e.to_string(),
                attempts,
            },
        },
        None => ItemResult::Skipped {
            reason: missing,
            recorded: false,
        },
    }
}

fn page_key(page: u32) -> String {
    format!("page:{page}")
}

/// A list page's ledger key: `page:3`, or `q2:page:3` for the second of several queries.
fn query_page_key(query: Option<usize>, page: u32) -> String {
    match query {
        None => page_key(page),
        Some(i) => format!("q{}:{}", i + 1, page_key(page)),
    }
}

/// Records a page or list entry as done, with the movies it named as pending (and, for a
/// collection, its details), in one transaction: a resumed run knows those movies without
/// asking again.
async fn record_found(
    cx: &StageContext,
    key: &str,
    movie_keys: &[String],
    attempts: u32,
    collection: Option<&CollectionDetails>,
) -> Result<(), StoreError> {
    let txn = store::begin(cx.db()).await?;
    if let Some(details) = collection {
        let run = cx.ledger().run_id();
        store::collection::save_collection_in(&txn, details, run, chrono::Utc::now()).await?;
    }
    cx.ledger().ensure(&txn, cx.name(), movie_keys).await?;
    cx.ledger()
        .mark(&txn, cx.name(), key, ItemStatus::Ok, attempts, None)
        .await?;
    txn.commit()
        .await
        .map_err(StoreError::query(format!("recording {key}")))
}

/// Fetches and saves one movie, or takes the outcome of the stage that did. With `admit`, a
/// movie the database did not hold when the stage started is stored only if the filter
/// admits it.
async fn fetch_one(
    cx: &StageContext,
    tmdb: &TmdbClient,
    append: &[String],
    id: i64,
    retrier: Retrier,
    noted: &Noted,
    admit: Option<(&CatalogFilter, &std::sync::Mutex<catalog::Synced>)>,
) -> ItemResult {
    if let Some(member) = cx.ledger().member() {
        // Another process may have saved it for another fetch stage of the run.
        let key = movie_key(id);
        match cluster::done_elsewhere(cx.db(), member.run_id, &siblings(cx), &key).await {
            Ok(Some(owner)) => return shared(cx, id, &owner, Outcome::Saved).await,
            Ok(None) => {}
            Err(e) => {
                return ItemResult::Failed {
                    error: e.to_string(),
                    attempts: 0,
                };
            }
        }
    }
    let guard = match cx.run.claims.claim(id, cx.name()).await {
        Claim::Mine(guard) => guard,
        Claim::Settled { owner, outcome } => return shared(cx, id, &owner, outcome).await,
    };
    let c = &cx.counters;
    cx.pacer.wait().await;
    let fetched = match tmdb.details(id, append, &retrier).await {
        Ok(f) => f,
        Err(e) => {
            let failed = items::request_failed(c, &e);
            match &failed {
                ItemResult::Failed { error, .. } => guard.settle(Outcome::Failed(error.clone())),
                // Abandoned, not failed: no stage of the run gets this movie now.
                _ => drop(guard),
            }
            return failed;
        }
    };
    c.request(fetched.attempts, fetched.rate_limited);
    let attempts = fetched.attempts;
    let body = match fetched.value {
        Details::NotFound(how) => {
            noted.not_found.add(id);
            guard.settle(Outcome::NotFound);
            return ItemResult::Skipped {
                reason: format!("TMDB has no movie {id} ({how})"),
                recorded: false,
            };
        }
        Details::Found(body) => body,
    };
    let failed = |error: String| ItemResult::Failed { error, attempts };
    let bundle = match tmdb.movie_bundle(&body) {
        Ok(b) if b.tmdb_id() == id => b,
        Ok(b) => {
            let error = format!(
                "TMDB answered movie {} when asked for movie {id}",
                b.tmdb_id()
            );
            guard.settle(Outcome::Failed(error.clone()));
            return failed(error);
        }
        Err(e) => {
            let error = format!("TMDB movie {id}: {e}");
            guard.settle(Outcome::Failed(error.clone()));
            return failed(error);
        }
    };
    if let Some((filter, synced)) = admit
        && !synced.lock().unwrap_or_else(|e| e.into_inner()).holds(id)
    {
        let video = serde_json::from_slice::<VideoFlag>(&body).is_ok_and(|v| v.video);
        let m = &bundle.movie;
        if !filter.admits(m.adult, video, m.popularity.unwrap_or(0.0)) {
            noted.filtered.add(id);
            // Nothing of it is stored; another stage that wants it asks TMDB itself.
            drop(guard);
            return ItemResult::Skipped {
                reason: format!("new movie {id} not admitted by the stage's filter"),
                recorded: false,
            };
        }
    }
    drop(body);
    match save(cx, &bundle, attempts).await {
        Err(e @ StoreError::LeaseLost { .. }) => {
            // Another worker has it now and settles it there.
            drop(guard);
            ItemResult::Lost(e.to_string())
        }
        Ok(stats) => {
            guard.settle(Outcome::Saved);
            if stats.fallback_credits > 0 {
                noted.odd_credits.add(id);
            }
            cx.output.emit(id).await;
            ItemResult::Ok {
                rows: stats.written + stats.deleted,
            }
        }
        Err(e) => {
            let error = format!("TMDB movie {id}: {e}");
            guard.settle(Outcome::Failed(error.clone()));
            failed(error)
        }
    }
}

/// The one field of a details body the filter needs that the bundle does not keep.
#[derive(serde::Deserialize)]
struct VideoFlag {
    #[serde(default)]
    video: bool,
}

/// The movie and its ledger row, all or nothing.
async fn save(
    cx: &StageContext,
    bundle: &store::MovieBundle,
    attempts: u32,
) -> Result<store::SaveStats, StoreError> {
    let id = bundle.tmdb_id();
    let txn = store::begin(cx.db()).await?;
    let stats = store::save_movie_in(&txn, bundle, cx.ledger().run_id()).await?;
    cx.ledger()
        .mark(
            &txn,
            cx.name(),
            &movie_key(id),
            ItemStatus::Ok,
            attempts,
            None,
        )
        .await?;
    txn.commit().await.map_err(|source| StoreError::Save {
        tmdb_id: id,
        step: "committing",
        source,
    })?;
    Ok(stats)
}

/// A movie another fetch stage of the run took care of.
async fn shared(cx: &StageContext, id: i64, owner: &str, outcome: Outcome) -> ItemResult {
    match outcome {
        Outcome::Saved => {
            let key = movie_key(id);
            let marked = cx
                .ledger()
                .mark(cx.db(), cx.name(), &key, ItemStatus::Ok, 0, None)
                .await;
            match marked {
                Ok(()) => {
                    cx.output.emit(id).await;
                    if owner == cx.name() {
                        ItemResult::Ok { rows: 0 }
                    } else {
                        ItemResult::Shared
                    }
                }
                Err(e) => ItemResult::Failed {
                    error: e.to_string(),
                    attempts: 0,
                },
            }
        }
        Outcome::NotFound => ItemResult::Skipped {
            reason: format!("TMDB has no movie {id} (as it told stage `{owner}`)"),
            recorded: false,
        },
        Outcome::Failed(error) => ItemResult::Failed {
            error: format!("stage `{owner}` could not fetch it: {error}"),
            attempts: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movie_ids_make_one_note_naming_the_first_ten() {
        let ids = TmdbIds::default();
        let what = |n: usize| format!("{n} odd");
        assert_eq!(ids.note(what), None);
        ids.add(603);
        assert_eq!(ids.note(what).unwrap(), (1, "1 odd: 603".to_owned()));
        for id in (1..=12).rev() {
            ids.add(id);
        }
        ids.add(3);
        assert_eq!(
            ids.note(what).unwrap(),
            (12, "12 odd: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, …".to_owned())
        );
    }
}
