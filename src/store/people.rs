//! People's details (`/person/{id}`) and who a `people` stage asks about.
//!
//! [`credited_people`] finds the people credited in some movies (everyone, or the top-billed
//! cast and the crew of some jobs); [`people_without_details`] those credited anywhere in the
//! database whose details were never fetched. [`save_person_in`] writes one person's details,
//! with the appended images and translations it carries (`person_images`,
//! `person_translations`, replaced as a whole like a movie's parts; a part not asked for is
//! left alone), inside the caller's transaction (the stage adds its ledger row to it).
//!
//! A `people` row is shared between movies and holds one movie's copy of the person, picked by
//! a rule that does not depend on the order of the saves (see `save`). The details are no
//! part of any copy: movies saved before or after leave them alone, and they do not rank
//! copies. The details' own `known_for_department` and `profile_path` are written only for a
//! person no movie has carried yet (inserted with the name the details give): for the others
//! those columns stay the copy's, so that a run's result does not depend on whether a movie's
//! save came before or after the person's details (a people stage streams while fetch stages
//! save).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Cond, Expr, ExprTrait, Order, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Value};

use super::bundle::PersonDetails;
use super::entities::{movie_credits, movies, people, person_images, person_translations};
use super::error::StoreError;
use super::sql::{MAX_PARAMS, OnExisting, replace_rows, upsert};

/// Which credits of a movie count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditFilter {
    /// Every credit, cast and crew.
    All,
    /// Cast billed before `cast_top` (`order < cast_top`) and crew with one of `jobs`.
    Credited { cast_top: u32, jobs: Vec<String> },
}

impl CreditFilter {
    /// The condition on `movie_credits`, or `None` when it selects no credit at all.
    fn condition(&self) -> Option<Cond> {
        let (cast_top, jobs) = match self {
            CreditFilter::All => return Some(Cond::all()),
            CreditFilter::Credited { cast_top, jobs } => (*cast_top, jobs),
        };
        let col = |c: movie_credits::Column| Expr::col((movie_credits::Entity, c));
        let mut any = Cond::any();
        if cast_top > 0 {
            any = any.add(
                Cond::all()
                    .add(col(movie_credits::Column::CreditType).eq("cast"))
                    .add(col(movie_credits::Column::CastOrder).lt(i64::from(cast_top))),
            );
        }
        if !jobs.is_empty() {
            let jobs: Vec<Value> = jobs.iter().map(|j| j.clone().into()).collect();
            any = any.add(
                Cond::all()
                    .add(col(movie_credits::Column::CreditType).eq("crew"))
                    .add(col(movie_credits::Column::Job).is_in(jobs)),
            );
        }
        (!any.is_empty()).then_some(any)
    }
}

/// The TMDB ids of the people `filter` selects among the credits of the movies with these
/// TMDB ids, each once, in id order.
pub async fn credited_people<C: ConnectionTrait>(
    conn: &C,
    movie_tmdb_ids: &[i64],
    filter: &CreditFilter,
) -> Result<Vec<i64>, StoreError> {
    let Some(condition) = filter.condition() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for chunk in movie_tmdb_ids.chunks(MAX_PARAMS / 2) {
        let movies_col = Expr::col((movies::Entity, movies::Column::TmdbId));
        let cond = Cond::all()
            .add(condition.clone())
            .add(movies_col.is_in(chunk.iter().copied()));
        out.extend(person_ids(conn, cond, "the people credited in the movies saved").await?);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The TMDB ids of the people `filter` selects among the credits of every movie in the
/// database, whose details no people stage has fetched yet, in id order.
pub async fn people_without_details<C: ConnectionTrait>(
    conn: &C,
    filter: &CreditFilter,
) -> Result<Vec<i64>, StoreError> {
    let Some(condition) = filter.condition() else {
        return Ok(Vec::new());
    };
    let cond = Cond::all()
        .add(condition)
        .add(Expr::col((people::Entity, people::Column::DetailsFetchedAt)).is_null());
    person_ids(conn, cond, "the people without details").await
}

async fn person_ids<C: ConnectionTrait>(
    conn: &C,
    cond: Cond,
    what: &str,
) -> Result<Vec<i64>, StoreError> {
    let tmdb_id = (people::Entity, people::Column::TmdbId);
    let stmt = Query::select()
        .distinct()
        .column(tmdb_id)
        .from(movie_credits::Entity)
        .inner_join(
            people::Entity,
            Expr::col((people::Entity, people::Column::Id))
                .equals((movie_credits::Entity, movie_credits::Column::PersonId)),
        )
        .inner_join(
            movies::Entity,
            Expr::col((movies::Entity, movies::Column::Id))
                .equals((movie_credits::Entity, movie_credits::Column::MovieId)),
        )
        .cond_where(cond)
        .order_by(tmdb_id, Order::Asc)
        .to_owned();
    let failed = || format!("reading {what}");
    conn.query_all(&stmt)
        .await
        .map_err(StoreError::query(failed()))?
        .into_iter()
        .map(|row| {
            row.try_get_by_index::<i64>(0)
                .map_err(StoreError::query(failed()))
        })
        .collect()
}

/// Writes one person's details, fetched at `now` by run `run`, inside `conn` (see the module
/// doc for what it leaves alone). Returns the rows written or removed.
pub async fn save_person_in<C: ConnectionTrait>(
    conn: &C,
    details: &PersonDetails,
    run: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let tmdb_id = details.tmdb_id;
    let failed =
        |what: &str| StoreError::query(format!("saving the {what} of TMDB person {tmdb_id}"));
    let row = people::ActiveModel::details(details, run, now);
    let mut rows = upsert(
        conn,
        OnExisting::Update {
            except: &[
                people::Column::Name,
                people::Column::KnownForDepartment,
                people::Column::ProfilePath,
                people::Column::SrcRun,
                people::Column::SrcMovieTmdbId,
            ],
        },
        vec![row],
    )
    .await
    .map_err(failed("details"))?;
    if details.images.is_none() && details.translations.is_none() {
        return Ok(rows);
    }
    let person_id: i64 = people::Entity::find()
        .select_only()
        .column(people::Column::Id)
        .filter(people::Column::TmdbId.eq(tmdb_id))
        .into_tuple()
        .one(conn)
        .await
        .and_then(|id| id.ok_or_else(|| DbErr::RecordNotFound("people row just written".into())))
        .map_err(failed("details"))?;
    if let Some(images) = &details.images {
        use person_images as t;
        let new = images
            .iter()
            .map(|m| (m.file_path.clone(), t::ActiveModel::new(person_id, m)))
            .collect();
        let of = t::Column::PersonId.eq(person_id);
        let (written, deleted) =
            replace_rows::<t::Entity, _, _>(conn, new, of, false, |m: t::Model| {
                (m.id, m.file_path)
            })
            .await
            .map_err(failed("images"))?;
        rows += written + deleted;
    }
    if let Some(translations) = &details.translations {
        use person_translations as t;
        let new = translations
            .iter()
            .map(|tr| {
                let key = (tr.iso_639_1.clone(), tr.iso_3166_1.clone());
                (key, t::ActiveModel::new(person_id, tr))
            })
            .collect();
        let of = t::Column::PersonId.eq(person_id);
        let (written, deleted) =
            replace_rows::<t::Entity, _, _>(conn, new, of, false, |m: t::Model| {
                (m.id, (m.iso_639_1, m.iso_3166_1))
            })
            .await
            .map_err(failed("translations"))?;
        rows += written + deleted;
    }
    Ok(rows)
}
