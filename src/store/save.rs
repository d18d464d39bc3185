//! Writing one movie and all its parts, all or nothing.
//!
//! Every write is an upsert on a natural key, so saving the same bundle twice changes nothing
//! (unchanged rows are not even rewritten) and a newer bundle updates rows in place and removes
//! the ones upstream no longer lists. A part absent from the bundle is not touched.
//!
//! # Shared rows: which copy wins
//!
//! Each movie body embeds its own copy of the rows it shares with other movies (collection,
//! genres, keywords, people, companies, countries, languages), and TMDB's copies disagree:
//! it serves every movie from a cache filled at its own time, so one person's popularity or
//! photo, or one company's logo, differs from movie to movie. A shared row therefore holds one
//! movie's copy, whole, and records whose: `src_run` (the `import_runs` id of the run that
//! saved it, 0 outside a run) and `src_movie_tmdb_id`. A copy replaces the stored one when it
//! ranks at least as high, comparing in turn:
//!
//! 1. the later run: a refresh brings newer data, whichever movie carries it;
//! 2. more of the nullable columns filled (a photo, a logo, an original name…): upstream adds
//!    these and rarely takes them away, so the fuller copy is the newer one as far as the
//!    body tells, and it is the one a film app would rather show;
//! 3. the lower TMDB id of the carrying movie: arbitrary, but fixed.
//!
//! The stored copy is the highest of the copies saved, which does not depend on the order of
//! the saves: two runs of a plan against the same upstream end with the same rows however
//! their saves interleave, and a resumed run (the same run) ends as an uninterrupted one.
//! Within a run, a movie saved again replaces its own copy (equal rank) unless the new copy
//! has fewer columns filled; a later run's copy always replaces. A copy stays until one of
//! equal or higher rank comes, also when its movie no longer carries the row (as before, a
//! shared row is never deleted for that). On PostgreSQL the rank is compared in the upsert's
//! `WHERE` against the row as committed, under the row lock the upsert takes, so concurrent
//! saves cannot lose the higher copy; on SQLite the one connection serializes them.
//!
//! # Credits
//!
//! A credit is keyed by (movie, TMDB `credit_id`). A credit whose id is missing, empty, or
//! shared with a different credit of the same movie gets a fallback key built from the credit:
//! `fallback:cast:<person>:<order>:<character>` or `fallback:crew:<person>:<department>:<job>`
//! (the character cut to 100 characters, `#2`, `#3`… added when two credits would still share
//! a key), so every credit is kept and saving the same body again finds the same keys. Exact
//! repeats of a credit (same id, same everything) are one credit. [`SaveStats`] counts the
//! credits saved under a fallback key, for the run report.
//!
//! # Concurrency
//!
//! Many tasks may save movies that share people, keywords or companies at once. On PostgreSQL
//! each transaction takes its row locks in one global order — collection, movie, then the
//! shared tables in a fixed order with rows sorted by natural key, then the movie's own rows —
//! so two saves can wait for each other but never deadlock, and `ON CONFLICT` turns the
//! insert races into updates. Saves of the same movie serialize on the movie row. On SQLite the
//! single connection serializes whole transactions (see `connect`).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityName, EntityTrait, IdenStatic, Iterable, QueryFilter, QuerySelect, SqlErr,
    TransactionTrait, Value,
};

use super::bundle::{Credit, MovieBundle, Rating, RelatedMovie, Role, sources};
use super::connect::begin;
use super::entities::{
    MovieRows, Provenance, SharedTable, collections, external_ratings, genres, keywords,
    movie_alternative_titles, movie_credits, movie_genres, movie_images, movie_keywords,
    movie_production_companies, movie_production_countries, movie_raw_json, movie_recommendations,
    movie_release_dates, movie_spoken_languages, movie_translations, movie_videos,
    movie_watch_providers, movies, people, production_companies, production_countries, reviews,
    spoken_languages,
};
use super::error::StoreError;
use super::sql::{
    Col, MAX_PARAMS, NaturalKey, OnExisting, delete_missing, replace_rows, upsert,
    upsert_one_returning_id,
};

/// `movie_recommendations.kind` of the movies TMDB lists as recommended and as similar.
pub const RECOMMENDED: &str = "recommended";
pub const SIMILAR: &str = "similar";

/// Rows a save (or any store write) inserted or changed, and rows it removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SaveStats {
    pub written: u64,
    pub deleted: u64,
    /// Credits saved under a fallback key because their movie lists no distinct `credit_id`
    /// for them (see the module doc).
    pub fallback_credits: u64,
}

impl std::ops::AddAssign for SaveStats {
    fn add_assign(&mut self, other: SaveStats) {
        self.written += other.written;
        self.deleted += other.deleted;
        self.fallback_credits += other.fallback_credits;
    }
}

/// Saves `bundle` in its own transaction, as part of run `run` (its `import_runs` id, 0
/// outside a run), which ranks its copies of shared rows (see the module doc).
pub async fn save_movie(
    db: &DatabaseConnection,
    bundle: &MovieBundle,
    run: i64,
) -> Result<SaveStats, StoreError> {
    let txn = begin(db).await?;
    let stats = Saver::new(&txn, bundle.tmdb_id()).save(bundle, run).await?;
    txn.commit().await.map_err(|source| StoreError::Save {
        tmdb_id: bundle.tmdb_id(),
        step: "committing",
        source,
    })?;
    Ok(stats)
}

/// Saves `bundle` inside the caller's transaction (the runner adds its ledger row to it), as
/// part of run `run` (see [`save_movie`]). Start the transaction with [`super::begin`].
pub async fn save_movie_in(
    txn: &DatabaseTransaction,
    bundle: &MovieBundle,
    run: i64,
) -> Result<SaveStats, StoreError> {
    let tmdb_id = bundle.tmdb_id();
    // A savepoint, so that a failed save leaves the caller's transaction usable (PostgreSQL
    // aborts the whole transaction on an error otherwise) and nothing of this movie behind.
    let sp = txn.begin().await.map_err(|source| StoreError::Save {
        tmdb_id,
        step: "opening a savepoint",
        source,
    })?;
    let stats = Saver::new(&sp, tmdb_id).save(bundle, run).await?;
    sp.commit().await.map_err(|source| StoreError::Save {
        tmdb_id,
        step: "releasing the savepoint",
        source,
    })?;
    Ok(stats)
}

pub(crate) struct Saver<'c, C> {
    pub conn: &'c C,
    pub tmdb_id: i64,
    /// The run saving the movie (0 outside a run), which ranks its copies of shared rows.
    pub run: i64,
    pub now: DateTime<Utc>,
    pub stats: SaveStats,
    /// The movie row was just inserted, so it has no parts to remove.
    pub fresh: bool,
}

impl<'c, C: ConnectionTrait> Saver<'c, C> {
    pub(crate) fn new(conn: &'c C, tmdb_id: i64) -> Self {
        Saver {
            conn,
            tmdb_id,
            run: 0,
            now: Utc::now(),
            stats: SaveStats::default(),
            fresh: false,
        }
    }

    fn fail(&self, step: &'static str) -> impl FnOnce(DbErr) -> StoreError + use<'c, C> {
        let tmdb_id = self.tmdb_id;
        move |source| StoreError::Save {
            tmdb_id,
            step,
            source,
        }
    }

    fn too_large(&self, what: &'static str, len: usize) -> Result<(), StoreError> {
        if len > MAX_PARAMS {
            return Err(StoreError::TooLarge {
                tmdb_id: self.tmdb_id,
                what,
                len,
            });
        }
        Ok(())
    }

    async fn save(mut self, b: &MovieBundle, run: i64) -> Result<SaveStats, StoreError> {
        self.run = run;
        let collection_id = self.collection(b).await?;
        let movie_id = self.movie(b, collection_id).await?;

        let src = self.provenance();
        if let Some(genres) = &b.genres {
            let rows = sorted(
                genres
                    .iter()
                    .map(|g| (g.tmdb_id, genres::ActiveModel::copy(g, src))),
            );
            self.shared("saving genres", rows).await?;
            let keys = genres.iter().map(|g| g.tmdb_id.into()).collect();
            self.join::<movie_genres::Entity, genres::Entity>(movie_id, keys)
                .await?;
        }
        if let Some(keywords) = &b.keywords {
            let rows = sorted(
                keywords
                    .iter()
                    .map(|k| (k.tmdb_id, keywords::ActiveModel::copy(k, src))),
            );
            self.shared("saving keywords", rows).await?;
            let keys = keywords.iter().map(|k| k.tmdb_id.into()).collect();
            self.join::<movie_keywords::Entity, keywords::Entity>(movie_id, keys)
                .await?;
        }
        if let Some(companies) = &b.production_companies {
            let rows = sorted(
                companies
                    .iter()
                    .map(|c| (c.tmdb_id, production_companies::ActiveModel::copy(c, src))),
            );
            self.shared("saving production companies", rows).await?;
            let keys = companies.iter().map(|c| c.tmdb_id.into()).collect();
            self.join::<movie_production_companies::Entity, production_companies::Entity>(
                movie_id, keys,
            )
            .await?;
        }
        if let Some(countries) = &b.production_countries {
            let rows = sorted(countries.iter().map(|c| {
                (
                    c.iso_3166_1.clone(),
                    production_countries::ActiveModel::copy(c, src),
                )
            }));
            self.shared("saving production countries", rows).await?;
            let keys = countries
                .iter()
                .map(|c| c.iso_3166_1.clone().into())
                .collect();
            self.join::<movie_production_countries::Entity, production_countries::Entity>(
                movie_id, keys,
            )
            .await?;
        }
        if let Some(languages) = &b.spoken_languages {
            let rows = sorted(languages.iter().map(|l| {
                (
                    l.iso_639_1.clone(),
                    spoken_languages::ActiveModel::copy(l, src),
                )
            }));
            self.shared("saving spoken languages", rows).await?;
            let keys = languages
                .iter()
                .map(|l| l.iso_639_1.clone().into())
                .collect();
            self.join::<movie_spoken_languages::Entity, spoken_languages::Entity>(movie_id, keys)
                .await?;
        }
        if b.credits.is_some() {
            self.credits(movie_id, b).await?;
        }
        if let Some(videos) = &b.videos {
            self.videos(movie_id, videos).await?;
        }
        if let Some(dates) = &b.release_dates {
            self.release_dates(movie_id, dates).await?;
        }
        if let Some(recs) = &b.recommendations {
            self.related(movie_id, RECOMMENDED, recs).await?;
        }
        if let Some(similar) = &b.similar {
            self.related(movie_id, SIMILAR, similar).await?;
        }
        if let Some(reviews) = &b.reviews {
            self.reviews(movie_id, reviews).await?;
        }
        if let Some(images) = &b.images {
            let rows = images
                .iter()
                .map(|m| {
                    let row = movie_images::ActiveModel::new(movie_id, m);
                    (m.file_path.clone(), row)
                })
                .collect();
            self.replace_by_id(movie_id, movie_images::Column::FilePath, rows)
                .await?;
        }
        if let Some(titles) = &b.alternative_titles {
            use movie_alternative_titles as t;
            let rows = titles
                .iter()
                .map(|a| {
                    let key = (a.iso_3166_1.clone(), a.title.clone(), a.title_type.clone());
                    (key, t::ActiveModel::new(movie_id, a))
                })
                .collect();
            self.replace_by_key::<t::Entity, _>(movie_id, rows, |m: t::Model| {
                (m.id, (m.iso_3166_1, m.title, m.title_type))
            })
            .await?;
        }
        if let Some(translations) = &b.translations {
            use movie_translations as t;
            let rows = translations
                .iter()
                .map(|tr| {
                    let key = (tr.iso_639_1.clone(), tr.iso_3166_1.clone());
                    (key, t::ActiveModel::new(movie_id, tr))
                })
                .collect();
            self.replace_by_key::<t::Entity, _>(movie_id, rows, |m: t::Model| {
                (m.id, (m.iso_639_1, m.iso_3166_1))
            })
            .await?;
        }
        if let Some(providers) = &b.watch_providers {
            use movie_watch_providers as t;
            let rows = providers
                .iter()
                .map(|w| {
                    let kind = w.monetization_type.to_owned();
                    let key = (w.iso_3166_1.clone(), kind, w.provider_id);
                    (key, t::ActiveModel::new(movie_id, w))
                })
                .collect();
            self.replace_by_key::<t::Entity, _>(movie_id, rows, |m: t::Model| {
                (m.id, (m.iso_3166_1, m.monetization_type, m.provider_id))
            })
            .await?;
        }
        self.ratings(movie_id, sources::TMDB, &b.movie.tmdb_ratings())
            .await?;
        self.raw(movie_id, sources::TMDB, b.raw_body.as_deref())
            .await?;
        Ok(self.stats)
    }

    /// Whose copy of the shared rows this save writes.
    fn provenance(&self) -> Provenance {
        Provenance {
            run: self.run,
            movie_tmdb_id: self.tmdb_id,
        }
    }

    async fn collection(&mut self, b: &MovieBundle) -> Result<Option<i64>, StoreError> {
        let Some(c) = &b.movie.collection else {
            return Ok(None);
        };
        let row = collections::ActiveModel::copy(c, self.provenance());
        self.shared("saving its collection", vec![row]).await?;
        let id = collections::Entity::find()
            .select_only()
            .column(collections::Column::Id)
            .filter(collections::Column::TmdbId.eq(c.tmdb_id))
            .into_tuple::<i64>()
            .one(self.conn)
            .await
            .and_then(|id| {
                id.ok_or_else(|| DbErr::RecordNotFound("collections row just written".into()))
            })
            .map_err(self.fail("looking up its collection"))?;
        Ok(Some(id))
    }

    async fn movie(
        &mut self,
        b: &MovieBundle,
        collection_id: Option<i64>,
    ) -> Result<i64, StoreError> {
        let m = &b.movie;
        let row = movies::ActiveModel::from_tmdb(m, collection_id, self.now);
        // Always rewritten (no "only if changed"): the upsert also takes the movie's row lock,
        // which serializes concurrent saves of the same movie.
        let result = upsert_one_returning_id(
            self.conn,
            OnExisting::Overwrite {
                except: &[movies::Column::CreatedAt],
            },
            row,
        )
        .await;
        match result {
            Ok((id, inserted)) => {
                self.stats.written += 1;
                // A movie new to the database has no parts yet: nothing can be stale.
                self.fresh = inserted;
                Ok(id)
            }
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(ref msg)) if msg.contains("imdb")) => {
                Err(StoreError::DuplicateImdbId {
                    tmdb_id: self.tmdb_id,
                    imdb_id: m.imdb_id.clone().unwrap_or_default(),
                })
            }
            Err(e) => Err(self.fail("saving the movie row")(e)),
        }
    }

    /// Upserts this movie's copies of shared rows (sorted by natural key), each replacing the
    /// stored copy only when it ranks at least as high (see the module doc).
    async fn shared<A>(&mut self, saving: &'static str, rows: Vec<A>) -> Result<(), StoreError>
    where
        A: ActiveModelTrait,
        A::Entity: SharedTable,
    {
        self.too_large(A::Entity::default().table_name(), rows.len())?;
        let when = outranks::<A::Entity>();
        self.stats.written += upsert(self.conn, OnExisting::UpdateWhen { when: &when }, rows)
            .await
            .map_err(self.fail(saving))?;
        Ok(())
    }

    /// Makes the movie's rows in join table `J` exactly links to the rows of shared table `S`
    /// with these natural keys. `J`'s natural key is (movie, shared row).
    async fn join<J, S>(&mut self, movie_id: i64, keys: Vec<Value>) -> Result<(), StoreError>
    where
        J: NaturalKey,
        S: NaturalKey,
    {
        let table = J::default().table_name();
        let [movie_col, shared_col] = J::KEY else {
            return Err(self.fail(table)(DbErr::Custom(format!(
                "{table} is not keyed by (movie, shared row)"
            ))));
        };
        let (movie_col, shared_col) = (movie_col.as_str(), shared_col.as_str());
        let shared = S::default().table_name();
        let shared_key = S::KEY[0].as_str();
        let shared_ids = Query::select()
            .column("id")
            .from(shared)
            .and_where(Expr::col(shared_key).is_in(keys.clone()))
            .to_owned();
        if !keys.is_empty() {
            let select = Query::select()
                .expr(Expr::val(movie_id))
                .column("id")
                .from(shared)
                .and_where(Expr::col(shared_key).is_in(keys.clone()))
                .to_owned();
            let insert = Query::insert()
                .into_table(table)
                .columns([movie_col, shared_col])
                .select_from(select)
                .map_err(|e| self.fail(table)(DbErr::Custom(e.to_string())))?
                .on_conflict(
                    sea_orm::sea_query::OnConflict::columns([movie_col, shared_col])
                        .do_nothing()
                        .to_owned(),
                )
                .to_owned();
            self.stats.written += self
                .conn
                .execute(&insert)
                .await
                .map_err(self.fail(table))?
                .rows_affected();
        }
        if self.fresh {
            return Ok(());
        }
        let mut delete = Query::delete();
        delete
            .from_table(table)
            .and_where(Expr::col(movie_col).eq(movie_id));
        if !keys.is_empty() {
            delete.and_where(Expr::col(shared_col).not_in_subquery(shared_ids));
        }
        self.stats.deleted += self
            .conn
            .execute(&delete)
            .await
            .map_err(self.fail(table))?
            .rows_affected();
        Ok(())
    }

    async fn credits(&mut self, movie_id: i64, b: &MovieBundle) -> Result<(), StoreError> {
        let credits = b.credits.as_deref().unwrap_or_default();
        self.too_large("credits", credits.len())?;
        let (keyed, fallback) = credit_keys(credits);
        self.stats.fallback_credits += fallback;

        // One body lists a person once per credit, with the same copy each time.
        let mut people = BTreeMap::new();
        for (_, c) in &keyed {
            people.entry(c.person.tmdb_id).or_insert(&c.person);
        }
        let src = self.provenance();
        let rows = people
            .values()
            .map(|p| people::ActiveModel::copy(p, src))
            .collect();
        self.shared("saving people", rows).await?;

        let ids = self
            .person_ids(people.keys().copied().collect())
            .await
            .map_err(self.fail("looking up people"))?;
        let mut rows = Vec::with_capacity(keyed.len());
        for (key, c) in keyed {
            let person_id = ids.get(&c.person.tmdb_id).copied().ok_or_else(|| {
                self.fail("linking credits")(DbErr::RecordNotFound(format!(
                    "person {} just written",
                    c.person.tmdb_id
                )))
            })?;
            rows.push((
                key.clone(),
                movie_credits::ActiveModel::new(key, movie_id, person_id, c),
            ));
        }
        self.replace_by_id(movie_id, movie_credits::Column::CreditId, rows)
            .await
    }

    /// Upserts a part whose rows carry an upstream id (`key`, given with each row), sorted by
    /// it for the lock order, then removes the movie's rows whose id upstream no longer lists.
    async fn replace_by_id<A>(
        &mut self,
        movie_id: i64,
        key: Col<A>,
        mut rows: Vec<(String, A)>,
    ) -> Result<(), StoreError>
    where
        A: ActiveModelTrait,
        A::Entity: MovieRows,
    {
        let table = A::Entity::default().table_name();
        self.too_large(table, rows.len())?;
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let keep: Vec<Value> = rows.iter().map(|(k, _)| k.clone().into()).collect();
        self.stats.written += upsert(
            self.conn,
            OnExisting::UPDATE,
            rows.into_iter().map(|(_, row)| row).collect(),
        )
        .await
        .map_err(self.fail(table))?;
        if self.fresh {
            return Ok(());
        }
        self.stats.deleted +=
            delete_missing::<A::Entity, _>(self.conn, (A::Entity::MOVIE, movie_id), &[], key, keep)
                .await
                .map_err(self.fail(table))?;
        Ok(())
    }

    /// [`Self::replace_by_id`] for a part whose natural key has several columns: the rows
    /// upstream no longer lists are found by reading the movie's stored rows (`id_and_key`
    /// of each) rather than in SQL.
    async fn replace_by_key<E, K>(
        &mut self,
        movie_id: i64,
        rows: Vec<(K, E::ActiveModel)>,
        id_and_key: impl Fn(E::Model) -> (i64, K),
    ) -> Result<(), StoreError>
    where
        E: MovieRows + NaturalKey,
        E::ActiveModel: ActiveModelTrait<Entity = E>,
        K: Ord + std::hash::Hash,
    {
        let table = E::default().table_name();
        self.too_large(table, rows.len())?;
        let of = E::MOVIE.eq(movie_id);
        let (written, deleted) =
            replace_rows::<E, _, _>(self.conn, rows, of, self.fresh, id_and_key)
                .await
                .map_err(self.fail(table))?;
        self.stats.written += written;
        self.stats.deleted += deleted;
        Ok(())
    }

    async fn person_ids(&self, tmdb_ids: Vec<i64>) -> Result<HashMap<i64, i64>, DbErr> {
        let mut ids = HashMap::with_capacity(tmdb_ids.len());
        for chunk in tmdb_ids.chunks(MAX_PARAMS) {
            let rows = people::Entity::find()
                .select_only()
                .columns([people::Column::TmdbId, people::Column::Id])
                .filter(people::Column::TmdbId.is_in(chunk.iter().copied()))
                .into_tuple::<(i64, i64)>()
                .all(self.conn)
                .await?;
            ids.extend(rows);
        }
        Ok(ids)
    }

    async fn videos(
        &mut self,
        movie_id: i64,
        videos: &[super::bundle::Video],
    ) -> Result<(), StoreError> {
        let rows = videos
            .iter()
            .map(|v| {
                (
                    v.tmdb_video_id.clone(),
                    movie_videos::ActiveModel::new(movie_id, v),
                )
            })
            .collect();
        self.replace_by_id(movie_id, movie_videos::Column::TmdbVideoId, rows)
            .await
    }

    async fn release_dates(
        &mut self,
        movie_id: i64,
        dates: &[super::bundle::ReleaseDate],
    ) -> Result<(), StoreError> {
        use movie_release_dates as t;
        let rows = dates
            .iter()
            .map(|d| {
                let key = (
                    d.iso_3166_1.clone(),
                    d.release_type,
                    d.date,
                    d.iso_639_1.clone(),
                    d.note.clone(),
                );
                (key, t::ActiveModel::new(movie_id, d))
            })
            .collect();
        self.replace_by_key::<t::Entity, _>(movie_id, rows, |m: t::Model| {
            let key = (
                m.iso_3166_1,
                m.release_type,
                m.release_date,
                m.iso_639_1,
                m.note,
            );
            (m.id, key)
        })
        .await
    }

    async fn related(
        &mut self,
        movie_id: i64,
        kind: &'static str,
        related: &[RelatedMovie],
    ) -> Result<(), StoreError> {
        use movie_recommendations as t;
        self.too_large("recommendations", related.len())?;
        let mut sorted_related = related.to_vec();
        sorted_related.sort_by_key(|r| r.tmdb_id);
        let rows = sorted_related
            .iter()
            .map(|r| t::ActiveModel::listed(movie_id, kind, r))
            .collect();
        self.stats.written += upsert(self.conn, OnExisting::UPDATE, rows)
            .await
            .map_err(self.fail("saving recommendations"))?;
        if self.fresh {
            return Ok(());
        }
        let keep = related.iter().map(|r| r.tmdb_id.into()).collect();
        self.stats.deleted += delete_missing::<t::Entity, _>(
            self.conn,
            (t::Column::MovieId, movie_id),
            &[(t::Column::Kind, kind.into())],
            t::Column::RecommendedTmdbId,
            keep,
        )
        .await
        .map_err(self.fail("removing dropped recommendations"))?;
        Ok(())
    }

    async fn reviews(
        &mut self,
        movie_id: i64,
        reviews: &[super::bundle::Review],
    ) -> Result<(), StoreError> {
        let rows = reviews
            .iter()
            .map(|r| {
                (
                    r.tmdb_review_id.clone(),
                    reviews::ActiveModel::new(movie_id, r),
                )
            })
            .collect();
        self.replace_by_id(movie_id, reviews::Column::TmdbReviewId, rows)
            .await
    }

    /// Makes the movie's ratings from the given sources exactly `ratings`: each source listed
    /// in `owned` that has no figure in `ratings` any more loses its row.
    pub(crate) async fn ratings_of(
        &mut self,
        movie_id: i64,
        owned: &[&'static str],
        ratings: &[Rating],
    ) -> Result<(), StoreError> {
        let mut sorted_ratings = ratings.to_vec();
        sorted_ratings.sort_by_key(|r| (r.source, r.metric));
        sorted_ratings.dedup_by_key(|r| (r.source, r.metric));
        let rows = sorted_ratings
            .iter()
            .map(|r| external_ratings::ActiveModel::new(movie_id, r, self.now))
            .collect();
        // A figure fetched again unchanged is not rewritten for its new time.
        let on_existing = OnExisting::Update {
            except: &[external_ratings::Column::FetchedAt],
        };
        self.stats.written += upsert(self.conn, on_existing, rows)
            .await
            .map_err(self.fail("saving ratings"))?;
        if self.fresh {
            return Ok(());
        }
        for source in owned {
            let keep = sorted_ratings
                .iter()
                .filter(|r| r.source == *source)
                .map(|r| r.metric.into())
                .collect::<Vec<Value>>();
            // With nothing left from this source, every metric of it goes.
            self.stats.deleted += delete_missing::<external_ratings::Entity, _>(
                self.conn,
                (external_ratings::Column::MovieId, movie_id),
                &[(external_ratings::Column::Source, Value::from(*source))],
                external_ratings::Column::Metric,
                keep,
            )
            .await
            .map_err(self.fail("removing dropped ratings"))?;
        }
        Ok(())
    }

    async fn ratings(
        &mut self,
        movie_id: i64,
        source: &'static str,
        ratings: &[Rating],
    ) -> Result<(), StoreError> {
        self.ratings_of(movie_id, &[source], ratings).await
    }

    /// The body `source` answered for the movie, or none: without one (`store_raw = false`,
    /// or a body that echoed a secret) an older body goes too, so a stored body always is the
    /// one the movie's rows came from.
    pub(crate) async fn raw(
        &mut self,
        movie_id: i64,
        source: &'static str,
        body: Option<&str>,
    ) -> Result<(), StoreError> {
        let Some(body) = body else {
            use movie_raw_json::Column;
            self.stats.deleted += delete_missing::<movie_raw_json::Entity, _>(
                self.conn,
                (Column::MovieId, movie_id),
                &[(Column::Source, source.into())],
                Column::Source,
                Vec::new(),
            )
            .await
            .map_err(self.fail("removing the raw body"))?;
            return Ok(());
        };
        let row = movie_raw_json::ActiveModel::new(movie_id, source, body, self.now);
        self.stats.written += upsert(self.conn, OnExisting::OVERWRITE, vec![row])
            .await
            .map_err(self.fail("saving the raw body"))?;
        Ok(())
    }
}

/// Rows sorted and deduplicated by natural key, for a deterministic lock order.
fn sorted<K: Ord, R>(rows: impl Iterator<Item = (K, R)>) -> Vec<R> {
    let map: BTreeMap<K, R> = rows.collect();
    map.into_values().collect()
}

/// The condition, over `excluded` and the stored row, under which a copy of a row of `s`
/// replaces the stored one: it ranks at least as high by (run, columns filled, lower movie id).
/// Row values compare left to right on both backends.
fn outranks<E: SharedTable>() -> String {
    let stored = format!(r#""{}""#, E::default().table_name());
    let (src_run, src_movie) = (E::SRC_RUN.as_str(), E::SRC_MOVIE.as_str());
    let col = |row: &str, c: &str| format!(r#"{row}."{c}""#);
    let mut new = vec![col("excluded", src_run)];
    let mut old = vec![col(&stored, src_run)];
    // The nullable columns are the optional ones upstream.
    let optional: Vec<&str> = E::Column::iter()
        .filter(|c| c.def().is_null())
        .map(|c| c.as_str())
        .filter(|c| !E::NOT_COPIED.iter().any(|n| n.as_str() == *c))
        .collect();
    if !optional.is_empty() {
        let filled = |row: &str| {
            optional
                .iter()
                .map(|c| format!("(CASE WHEN {} IS NULL THEN 0 ELSE 1 END)", col(row, c)))
                .collect::<Vec<_>>()
                .join(" + ")
        };
        new.push(filled("excluded"));
        old.push(filled(&stored));
    }
    // The lower movie id ranks higher: the sides swap.
    new.push(col(&stored, src_movie));
    old.push(col("excluded", src_movie));
    format!("({}) >= ({})", new.join(", "), old.join(", "))
}

/// Longest character name a fallback credit key quotes (keys stay well within index limits).
const FALLBACK_CHARACTER_CHARS: usize = 100;

/// Each credit to save with its key, and how many keys are fallbacks (see the module doc):
/// TMDB's `credit_id` when it names exactly one credit of the movie, else one derived from
/// the credit. Exact repeats are dropped. The same list gives the same keys.
fn credit_keys(credits: &[Credit]) -> (Vec<(String, &Credit)>, u64) {
    let mut unique: Vec<&Credit> = Vec::with_capacity(credits.len());
    let mut by_id: HashMap<(Option<&str>, i64), Vec<usize>> = HashMap::new();
    for c in credits {
        let same = by_id
            .entry((c.credit_id.as_deref(), c.person.tmdb_id))
            .or_default();
        if same.iter().any(|&i| unique[i] == c) {
            continue;
        }
        same.push(unique.len());
        unique.push(c);
    }
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for id in unique.iter().filter_map(|c| c.credit_id.as_deref()) {
        *uses.entry(id).or_default() += 1;
    }
    let mut taken: HashSet<String> = uses
        .iter()
        .filter(|(_, n)| **n == 1)
        .map(|(id, _)| (*id).to_owned())
        .collect();
    let mut fallback = 0;
    let keyed = unique
        .into_iter()
        .map(|c| match c.credit_id.as_deref() {
            Some(id) if uses[id] == 1 => (id.to_owned(), c),
            _ => {
                fallback += 1;
                let base = fallback_key(c);
                let mut key = base.clone();
                let mut n = 1;
                while !taken.insert(key.clone()) {
                    n += 1;
                    key = format!("{base}#{n}");
                }
                (key, c)
            }
        })
        .collect();
    (keyed, fallback)
}

fn fallback_key(c: &Credit) -> String {
    let person = c.person.tmdb_id;
    match &c.role {
        Role::Cast { character, order } => {
            let order = order.map(|o| o.to_string()).unwrap_or_default();
            let character: String = character
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(FALLBACK_CHARACTER_CHARS)
                .collect();
            format!("fallback:cast:{person}:{order}:{character}")
        }
        Role::Crew { department, job } => format!(
            "fallback:crew:{person}:{}:{}",
            department.as_deref().unwrap_or(""),
            job.as_deref().unwrap_or("")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::bundle::Person;

    fn credit(id: Option<&str>, person: i64, role: Role) -> Credit {
        Credit {
            credit_id: id.map(str::to_owned),
            person: Person {
                tmdb_id: person,
                name: format!("P{person}"),
                original_name: None,
                gender: None,
                known_for_department: None,
                profile_path: None,
                popularity: None,
                adult: None,
            },
            role,
        }
    }

    fn cast(character: &str, order: i32) -> Role {
        Role::Cast {
            character: Some(character.to_owned()),
            order: Some(order),
        }
    }

    fn crew(job: &str) -> Role {
        Role::Crew {
            department: Some("Crew".to_owned()),
            job: Some(job.to_owned()),
        }
    }

    #[test]
    fn credits_without_a_distinct_id_get_fallback_keys() {
        let long = |end: &str| format!("{}{end}", "x".repeat(100));
        let credits = [
            credit(Some("a"), 1, cast("Hero", 0)),
            credit(Some("b"), 2, cast("Villain", 1)),
            credit(Some("b"), 3, cast("Sidekick", 2)),
            credit(None, 4, cast("Mother", 3)),
            credit(None, 5, crew("Editor")),
            // The same entry twice, with an id or without: one credit.
            credit(Some("c"), 6, crew("Writer")),
            credit(Some("c"), 6, crew("Writer")),
            credit(None, 7, crew("Grip")),
            credit(None, 7, crew("Grip")),
            // Two roles that differ only past the part of the character a key quotes.
            credit(None, 8, cast(&long("1"), 4)),
            credit(None, 8, cast(&long("2"), 4)),
        ];
        let (keyed, fallback) = credit_keys(&credits);
        let keys: Vec<String> = keyed.iter().map(|(k, _)| k.clone()).collect();
        let quoted = format!("fallback:cast:8:4:{}", "x".repeat(100));
        assert_eq!(
            keys,
            [
                "a".to_owned(),
                "fallback:cast:2:1:Villain".to_owned(),
                "fallback:cast:3:2:Sidekick".to_owned(),
                "fallback:cast:4:3:Mother".to_owned(),
                "fallback:crew:5:Crew:Editor".to_owned(),
                "c".to_owned(),
                "fallback:crew:7:Crew:Grip".to_owned(),
                quoted.clone(),
                format!("{quoted}#2"),
            ]
        );
        assert_eq!(fallback, 7);
        // The same list gives the same keys.
        assert_eq!(credit_keys(&credits).0, keyed);
    }

    #[test]
    fn the_rank_compares_run_then_filled_columns_then_the_lower_movie() {
        assert_eq!(
            outranks::<genres::Entity>(),
            r#"(excluded."src_run", "genres"."src_movie_tmdb_id") >= ("genres"."src_run", excluded."src_movie_tmdb_id")"#
        );
        let people = outranks::<people::Entity>();
        assert!(
            people.starts_with(
                r#"(excluded."src_run", (CASE WHEN excluded."original_name" IS NULL THEN 0 ELSE 1 END) + "#
            ),
            "{people}"
        );
        assert_eq!(people.matches("CASE WHEN").count(), 12, "{people}");
    }
}
