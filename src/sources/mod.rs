//! Upstream APIs: one HTTP client with rate limit and retry, shared by `tmdb` and `omdb`, and
//! for each API its response shapes and their pure mapping into store bundles.

pub mod cache;
pub mod http;
mod lenient;
pub mod omdb;
pub mod pace;
pub mod retry;
pub mod series;
pub mod tmdb;

pub use lenient::MappingError;

/// What a request that ended in `error` cost: (tries, 429 answers met).
pub fn cost(error: &http::HttpError) -> (u32, u32) {
    error.cost()
}

/// A failed request of any API, as the stages weigh it: what it cost, and whether the source
/// can answer anything more.
pub trait RequestError: std::fmt::Display {
    /// True when no other request of this source can succeed (a rejected or missing key).
    fn stops_source(&self) -> bool;

    /// What the failed request cost: (tries, 429 answers met).
    fn cost(&self) -> (u32, u32);
}

/// A value from an upstream API with what it cost to get it.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    pub value: T,
    /// Tries it took, 1 when the first one answered.
    pub attempts: u32,
    /// 429 answers met on the way.
    pub rate_limited: u32,
}
