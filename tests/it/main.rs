//! The integration tests, in one binary so the library is linked once.

mod store;
mod store_db;
mod store_mapping;
mod store_seed;
mod support;
