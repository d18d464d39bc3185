//! Upstream APIs: one HTTP client with rate limit and retry, shared by `tmdb` and `omdb`, and
//! for each API its response shapes and their pure mapping into store bundles.

pub mod cache;
pub mod http;
mod lenient;
pub mod omdb;
pub mod retry;
pub mod tmdb;

pub use lenient::MappingError;
