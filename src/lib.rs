//! popctl: drop and repopulate a movie database from TMDB and OMDb, following a TOML plan.
//!
//! Data flows one way through the modules:
//!
//! ```text
//! plan (parse, layer, interpolate, validate: pure; its dag orders the stages)
//!   -> stages (one file per kind, behind one trait; they drive sources and store)
//!     -> sources (one rate-limited, retrying HTTP client shared by tmdb and omdb)
//!       -> store (entities and idempotent upserts through SeaORM)
//!         -> report (the one output path: status lines, progress, run summary, HTML page,
//!            JSON messages)
//! ```
//!
//! Beside the flow: `secret` (the `Secret` type and the one redaction path, used by every
//! layer), `lists` (the curated lists shipped with popctl, read by `store` and `stages`),
//! `genres` (the seed data's genres file, read by `store` and by `plan` for genre names), `ids`
//! (a compact set of TMDB ids, for `stages` and `store`) and `mem` (the process's memory, for
//! `stages` and `report`). `sim` is the local simulator of both APIs used by `--sandbox`, tests
//! and benchmarks; only `ops` starts it. `cli` is a thin clap layer; each verb calls one
//! function in `ops`.

pub mod cli;
pub mod genres;
pub mod ids;
pub mod lists;
pub mod mem;
pub mod ops;
pub mod plan;
pub mod report;
pub mod secret;
pub mod sim;
pub mod sources;
pub mod stages;
pub mod store;
