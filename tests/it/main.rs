//! The integration tests, in one binary so the library is linked once.

mod plan;
mod support;
