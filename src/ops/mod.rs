//! One function per CLI verb: `Options` in, outcome out. The CLI fills the options; tests call these directly.

pub mod cache;
pub mod db;
pub mod graph;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod schema;
pub mod show;
pub mod status;
pub mod validate;
pub mod worker;
