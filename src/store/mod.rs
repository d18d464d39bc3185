//! The database: connection, migrations, entities and idempotent all-or-nothing upserts.

pub mod bundle;
pub mod entities;
