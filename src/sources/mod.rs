//! Upstream APIs: one HTTP client with rate limit and retry, shared by `tmdb` and `omdb`.

pub mod http;
pub mod retry;
