//! The pure heart of the `post_process` stage: what it computes from data already stored.
//!
//! - [`cri`]: the Cultural Relevance Index of one movie from its list memberships, awards,
//!   critic and audience scores, popularity and age.
//! - [`similarity`]: computed recommendations among the imported movies from shared genres,
//!   keywords, cast and crew.
//!
//! Nothing here touches the database, the network or the clock: the stage reads rows, turns
//! them into these inputs, and writes the outputs back. That keeps every number reproducible
//! and testable without a run.

pub mod cri;
pub mod similarity;
