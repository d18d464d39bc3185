//! popctl: drop and repopulate a movie database from TMDB and OMDb, following a TOML plan.
//!
//! Data flows one way through the modules:
//!
//! ```text
//! plan (parse, layer, interpolate, validate: pure)
//!   -> dag (stage order, cycles, dot/mermaid)
//!     -> stages (one file per kind, behind one trait)
//!       -> sources (one rate-limited, retrying HTTP client shared by tmdb and omdb)
//!         -> store (entities and idempotent upserts through SeaORM)
//!           -> report (the one output path: status lines, progress, run summary)
//! ```
//!
//! `sim` is the local simulator of both APIs used by `--sandbox`, tests and benchmarks.
//! `cli` is a thin clap layer; each verb calls one function in `ops`.

pub mod cli;
pub mod dag;
pub mod lists;
pub mod ops;
pub mod plan;
pub mod report;
pub mod secret;
pub mod sim;
pub mod sources;
pub mod stages;
pub mod store;
