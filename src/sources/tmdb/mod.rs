//! TMDB v3: the requests (`client`), the response shapes (`models`) and their mapping into
//! store bundles (`mapping`). `models` and `mapping` are pure: bytes in, data out.

pub mod client;
pub mod export;
pub mod mapping;
pub mod models;
