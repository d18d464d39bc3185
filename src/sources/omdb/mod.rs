//! OMDb: the response shape (`models`), its mapping into a store record (`mapping`) and the
//! parser of the free-text `Awards` field (`awards`). Pure: bytes in, data out.

pub mod awards;
pub mod mapping;
pub mod models;
