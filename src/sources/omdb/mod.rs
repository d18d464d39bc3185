//! OMDb: the lookup by IMDb id (`client`), the response shape (`models`), its mapping into a
//! store record (`mapping`) and the parser of the free-text `Awards` field (`awards`).
//! All but `client` are pure: bytes in, data out.

pub mod awards;
pub mod client;
pub mod mapping;
pub mod models;
