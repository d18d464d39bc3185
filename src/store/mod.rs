//! The database: connection, migrations, entities and idempotent all-or-nothing upserts.
//!
//! - [`connect`], [`migrate`], [`begin`]: opening a database (see `connect` for why SQLite
//!   gets one connection) and starting write transactions; [`connect_existing`] and
//!   [`require_schema`] for commands that only read one.
//! - [`save_movie`], [`save_movie_in`]: one TMDB movie and all its parts, all or nothing.
//! - [`save_omdb_in`], [`set_enrichment_state`], [`enrichment_candidates`]: OMDb data and
//!   what each source answered, so reruns do not spend quota on known answers.
//! - [`quota`]: a source's daily quota, counted by every process of a run.
//! - [`people`]: people's details (`/person/{id}`) and who a `people` stage asks about.
//! - [`collection`]: a collection's own details (`/collection/{id}`).
//! - [`reset`]: drop and recreate popctl's tables, guarded against remote databases;
//!   [`open`] with its preflight and [`confirm_local`]; [`NextDb`]: the new database a swap
//!   builds beside the live one.
//! - [`derived`]: what the `post_process` steps compute, written back.
//! - [`seed`], [`ledger`], [`digest`]; [`carry_history`]: the ledger a new database inherits.
//!
//! Every table is written through its entity: `sql` says how.

// clippy.toml keeps SQL written as text out of every other module.
#![allow(
    clippy::disallowed_methods,
    reason = "the store is where SQL is written as text"
)]

pub mod bundle;
pub mod catalog;
pub mod cluster;
pub mod collection;
mod connect;
pub mod derived;
pub mod digest;
pub mod enrichment;
pub mod entities;
mod error;
mod history;
pub mod ledger;
mod lock;
pub mod people;
pub mod quota;
mod reset;
mod save;
pub mod seed;
pub(crate) mod sql;
mod swap;

pub use bundle::{MovieBundle, OmdbRecord, PersonDetails};
pub use connect::{
    Notes, OpenOptions, PG_POOL_MIN, begin, confirm_local, connect, connect_existing,
    forget_statements, idle_connections, migrate, open, pool_size, sqlite_file,
};
pub use digest::digest;
pub use enrichment::{
    EnrichmentScope, EnrichmentState, NoDataRetry, enrichment_candidates, save_omdb, save_omdb_in,
    set_enrichment_state,
};
pub use error::StoreError;
pub use history::{Carried, carry_history};
pub use lock::RunLock;
pub use reset::{
    ResetPlan, check_reset, popctl_tables, require_schema, reset, reset_allowed, row_count,
    schema_status,
};
pub use save::{SaveStats, save_movie, save_movie_in};
pub use swap::NextDb;
