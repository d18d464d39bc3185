//! The `post_process` stage: what is derived from data already stored.
//!
//! [`execute`] runs a stage's steps against the database:
//! - `cultural_lists` ([`cultural`]): curated list files linked to the imported movies;
//! - `cri_scores` ([`scores`]): the Cultural Relevance Index of every movie;
//! - `recommendations` ([`recommend`]): TMDB recommendations resolved to imported movies,
//!   plus similar movies computed from genres, keywords, cast and crew;
//! - `reviews` ([`reviews`]): the plan's cap on stored TMDB reviews per movie.
//!
//! The pure heart, which touches neither the database, the network nor the clock:
//! - [`cri`]: the CRI of one movie from its list memberships, awards, critic and audience
//!   scores, popularity and age.
//! - [`similarity`]: computed recommendations among the imported movies.
//!
//! The steps read rows, turn them into those inputs and write the outputs back, which keeps
//! every number reproducible and testable without a run.

pub mod cri;
pub mod cultural;
mod error;
mod read;
pub mod recommend;
mod report;
pub mod reviews;
pub mod scores;
pub mod similarity;
mod steps;

pub use error::PostError;
pub use report::{PostReport, StepDetail, StepReport};
pub use steps::{PostEvent, execute};
