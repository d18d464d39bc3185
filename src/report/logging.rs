//! Logs: `tracing` to stderr as text or JSON, filtered by `POPCTL_LOG` or `RUST_LOG`, written
//! between redraws of the progress bars so neither tears the other's lines.
//!
//! Every log line and panic message passes through [`crate::secret::redact`] before it is
//! written, whatever a dependency logs at trace level (a URL with `?api_key=…`, a header).

use std::io::Write;

use indicatif::MultiProgress;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::secret::redact;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// What is shown without `POPCTL_LOG`/`RUST_LOG`: warnings (retries, failed items) and errors.
pub const DEFAULT_FILTER: &str = "warn";

/// The default filter of JSON logs: also popctl's own info events (stage started, progress,
/// finished), which are what a program reading the stream is after; dependencies' info lines
/// (each migration) stay out.
pub const DEFAULT_JSON_FILTER: &str = "warn,popctl=info";

/// The log filter for the global `-q`/`-v` flags: `level` is -1 for `-q`, 0 for neither, and
/// the number of `-v`s. A flag on the command line wins over the environment; without one,
/// `env` (the value of `POPCTL_LOG`, else `RUST_LOG`) is the filter, else [`DEFAULT_FILTER`].
///
/// `-v` and `-vv` raise popctl's own events a step further than its dependencies', whose info
/// lines (each migration, each SQL statement) would bury popctl's.
pub fn filter_for(level: i8, env: Option<String>) -> Option<String> {
    let chosen = match level {
        ..=-1 => "error",
        0 => return env,
        1 => "warn,popctl=info",
        2 => "info,popctl=debug",
        _ => "debug,popctl=trace",
    };
    Some(chosen.to_owned())
}

/// Installs the global subscriber and a panic hook that redacts. `filter` is the value of
/// `POPCTL_LOG` or `RUST_LOG`; an invalid one is reported and the default used. `ansi` is
/// the process's colour decision ([`super::ColorChoice`]): text lines carry escape codes only
/// then. A second call (tests) changes nothing.
pub fn init(format: LogFormat, filter: Option<&str>, ansi: bool, bars: Option<MultiProgress>) {
    let default = match format {
        LogFormat::Text => DEFAULT_FILTER,
        LogFormat::Json => DEFAULT_JSON_FILTER,
    };
    let (filter, problem) = match filter.filter(|f| !f.trim().is_empty()) {
        None => (EnvFilter::new(default), None),
        Some(f) => match EnvFilter::try_new(f) {
            Ok(filter) => (filter, None),
            Err(e) => (
                EnvFilter::new(default),
                Some(format!("ignoring the log filter {f:?}: {e}")),
            ),
        },
    };
    let writer = StderrAroundBars { bars };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi && format == LogFormat::Text)
        .with_target(true);
    let installed = match format {
        LogFormat::Text => builder.compact().try_init().is_ok(),
        LogFormat::Json => builder.json().flatten_event(true).try_init().is_ok(),
    };
    if installed {
        std::panic::set_hook(Box::new(|info| {
            let text = format!("popctl panicked (a bug, please report): {info}\n");
            let text = redact(&text);
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }));
    }
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
}

#[derive(Clone)]
struct StderrAroundBars {
    bars: Option<MultiProgress>,
}

/// Collects one event, then writes it whole (redacted) when dropped.
struct LineWriter {
    bars: Option<MultiProgress>,
    buf: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        let text = redact(&text);
        let write = || {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        };
        match &self.bars {
            Some(bars) => bars.suspend(write),
            None => write(),
        }
    }
}

impl<'a> MakeWriter<'a> for StderrAroundBars {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            bars: self.bars.clone(),
            buf: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_choose_the_filter_and_win_over_the_environment() {
        let env = || Some("popctl::sources=debug".to_owned());
        assert_eq!(filter_for(0, None), None);
        assert_eq!(filter_for(0, env()), env());
        assert_eq!(filter_for(-1, env()).as_deref(), Some("error"));
        assert_eq!(filter_for(1, env()).as_deref(), Some("warn,popctl=info"));
        assert_eq!(filter_for(2, None).as_deref(), Some("info,popctl=debug"));
        assert_eq!(filter_for(5, None).as_deref(), Some("debug,popctl=trace"));
        for level in -1..=3 {
            if let Some(f) = filter_for(level, None) {
                assert!(EnvFilter::try_new(&f).is_ok(), "{f}");
            }
        }
    }
}
