//! A collection's own details (`/collection/{id}`), written when a fetch stage names the
//! collection.
//!
//! A `collections` row is shared between movies and holds one movie's copy of the collection
//! (`belongs_to_collection`: name, poster, backdrop), picked by a rule that does not depend on
//! the order of the saves (see `save`). The overview is no part of any copy: movies saved before
//! or after leave it alone, and it does not rank copies. The details' own name and images are
//! written only for a collection no movie has carried yet; for the others those columns stay
//! the copy's, so that a run's result does not depend on whether the collection's body came
//! before or after its movies (a fetch stage saves movies while it reads further sources), as
//! `store::people` does for people.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::bundle::CollectionDetails;
use super::entities::collections;
use super::error::StoreError;
use super::sql::{OnExisting, upsert};

/// Writes the details of one collection inside the caller's transaction; the rows written.
pub async fn save_collection_in<C: ConnectionTrait>(
    conn: &C,
    details: &CollectionDetails,
    run: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let row = collections::ActiveModel::details(details, run, now);
    upsert(
        conn,
        OnExisting::Update {
            except: &[
                collections::Column::Name,
                collections::Column::PosterPath,
                collections::Column::BackdropPath,
                collections::Column::SrcRun,
                collections::Column::SrcMovieTmdbId,
            ],
        },
        vec![row],
    )
    .await
    .map_err(StoreError::query(format!(
        "saving the details of TMDB collection {}",
        details.collection.tmdb_id
    )))
}
