//! The one output path: status lines, warnings, progress bars and the run summary.
//!
//! The library never prints directly; everything user-facing goes through here so `--quiet`,
//! non-terminal output and tests (which capture into a buffer) behave the same everywhere.

mod shell;

pub use shell::{Captured, Shell, Verbosity};
