//! The integration tests, in one binary so the library is linked once.

mod cache;
mod cache_cli;
mod cli;
mod db_cli;
mod plan;
mod post;
mod post_db;
mod report_html;
mod run;
mod run_merge;
mod run_resume;
mod run_secrets;
mod run_sources;
mod run_support;
mod run_swap;
mod sim;
mod sim_cli;
mod sim_fidelity;
mod sources;
mod store;
mod store_app;
mod store_db;
mod store_mapping;
mod store_seed;
mod store_shared;
mod support;
