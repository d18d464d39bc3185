//! TMDB v3: the response shapes (`models`) and their mapping into store bundles (`mapping`).
//! Pure: bytes in, data out. The HTTP calls are the runner's, through `sources::http`.

pub mod mapping;
pub mod models;
