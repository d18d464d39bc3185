//! The one output path: status lines, warnings, progress bars, logs and the run summary.
//!
//! The library never prints directly; everything user-facing goes through here so `--quiet`,
//! non-terminal output and tests (which capture into a buffer) behave the same everywhere.
//!
//! - [`Shell`]: status lines and data. [`progress`]: bars or periodic lines while a run goes.
//! - [`logging`]: `tracing` setup, with API keys redacted from every line.
//! - [`ColorChoice`]: `--color`, the one decision on colour that all of these follow.
//! - [`summary`]: the run report, as a table and as JSON.
//! - [`html`]: the same report as one self-contained page with charts ([`svg`] draws them).

mod color;
pub mod html;
pub mod logging;
pub mod progress;
mod shell;
pub mod summary;
pub mod svg;

pub use color::ColorChoice;
pub use shell::{Captured, Shell, Verbosity};
