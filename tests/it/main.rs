//! The integration tests, in one binary so the library is linked once.

mod store;
mod store_db;
mod support;
