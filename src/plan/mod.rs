//! The plan language: parse TOML plan files, layer them (`extends`, `POPCTL_…` env, `--set`),
//! interpolate `${VAR}`, and compile them into a validated [`Plan`].
//!
//! Pure: no network, no database; the only I/O is reading plan files.

pub mod database;
mod model;

pub use model::*;
