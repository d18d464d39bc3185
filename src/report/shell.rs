//! [`Shell`]: where every user-facing line goes. Status lines and warnings go to stderr,
//! machine-readable output (JSON, dot, schemas) to stdout. Tests build a shell over buffers
//! and read back exactly what a user would have seen.
//!
//! With `--message-format json` ([`MessageFormat::Json`]) the same calls write
//! [`Event`]s instead, one JSON object per line on stdout: warnings and errors become
//! messages, documents are wrapped in `output` messages, and status lines and notes become
//! log events (JSON on stderr), so nothing drawn for people is mixed into either stream.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use super::events::{self, Event};

/// How much the shell says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    #[default]
    Normal,
    /// Only warnings, errors and stdout data.
    Quiet,
}

/// What the shell writes: text for people, or JSON messages for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageFormat {
    #[default]
    Human,
    /// `--message-format json`: [`Event`]s on stdout, JSON logs on stderr.
    Json,
}

enum Sink {
    Std,
    Buffer(Arc<Mutex<Vec<u8>>>),
}

impl Sink {
    fn write(&self, err: bool, bytes: &[u8]) {
        // Output that cannot be written (a closed pipe) is not worth a panic or an error
        // that would hide the real outcome of the command.
        match self {
            Sink::Std if err => {
                let _ = io::stderr().lock().write_all(bytes);
            }
            Sink::Std => {
                let mut out = io::stdout().lock();
                let _ = out.write_all(bytes);
                let _ = out.flush();
            }
            Sink::Buffer(buf) => buf
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(bytes),
        }
    }
}

/// The one output path of the library. Cheap to clone; clones share the sink.
#[derive(Clone)]
pub struct Shell {
    out: Arc<Sink>,
    err: Arc<Sink>,
    verbosity: Verbosity,
    color: bool,
    format: MessageFormat,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell")
            .field("verbosity", &self.verbosity)
            .finish_non_exhaustive()
    }
}

/// What a test shell captured.
#[derive(Clone, Default)]
pub struct Captured {
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
}

impl Captured {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Shell {
    /// The process's stdout and stderr; `color` (see [`super::ColorChoice`]) says whether the
    /// lines on stderr are coloured.
    pub fn stdio(verbosity: Verbosity, color: bool) -> Self {
        Shell {
            out: Arc::new(Sink::Std),
            err: Arc::new(Sink::Std),
            verbosity,
            color,
            format: MessageFormat::Human,
        }
    }

    /// A shell writing into memory, for tests.
    pub fn capture(verbosity: Verbosity) -> (Self, Captured) {
        let captured = Captured::default();
        let shell = Shell {
            out: Arc::new(Sink::Buffer(captured.out.clone())),
            err: Arc::new(Sink::Buffer(captured.err.clone())),
            verbosity,
            color: false,
            format: MessageFormat::Human,
        };
        (shell, captured)
    }

    /// This shell writing in `format`; JSON is never coloured.
    pub fn with_format(&self, format: MessageFormat) -> Self {
        Shell {
            format,
            color: self.color && format == MessageFormat::Human,
            ..self.clone()
        }
    }

    /// True with `--message-format json`: commands give their answers as [`Event`]s.
    pub fn is_json(&self) -> bool {
        self.format == MessageFormat::Json
    }

    /// Writes `event` as a line on stdout with `--message-format json`; nothing otherwise
    /// (the human form of the same answer is the caller's). Redacted like log lines.
    pub fn event(&self, event: &Event) {
        if self.is_json() {
            let line = events::line(event);
            self.out
                .write(false, crate::secret::redact(&line).as_bytes());
        }
    }

    /// A failure miette describes: drawn on stderr, or the `error` message.
    pub fn failure<E: miette::Diagnostic + Send + Sync + 'static>(&self, error: E) {
        if self.is_json() {
            self.event(&events::error_of(&error));
        } else {
            let text = format!("{:?}\n", miette::Report::new(error));
            self.err_text(&crate::secret::redact(&text));
        }
    }

    /// This shell (same sinks, same colour) saying as much as `verbosity` allows.
    pub fn with_verbosity(&self, verbosity: Verbosity) -> Self {
        Shell {
            verbosity,
            ..self.clone()
        }
    }

    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Whether stderr is coloured: status lines, diagnostics and log lines follow this.
    pub fn color(&self) -> bool {
        self.color
    }

    pub fn is_quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }

    /// True when stderr is an interactive terminal (progress bars make sense).
    pub fn is_err_tty(&self) -> bool {
        matches!(*self.err, Sink::Std) && io::stderr().is_terminal()
    }

    /// The terminal's width when stderr is one, for output that must not wrap.
    pub fn err_width(&self) -> Option<usize> {
        if !self.is_err_tty() {
            return None;
        }
        console::Term::stderr()
            .size_checked()
            .map(|(_, cols)| usize::from(cols))
    }

    /// A right-aligned status verb and a message: `   Validated plans/dev-200.toml`.
    pub fn status(&self, verb: &str, message: impl std::fmt::Display) {
        if self.is_json() {
            tracing::info!(target: "popctl::status", verb, "{message}");
            return;
        }
        if self.is_quiet() {
            return;
        }
        let line = if self.color {
            format!("\x1b[1;32m{verb:>12}\x1b[0m {message}\n")
        } else {
            format!("{verb:>12} {message}\n")
        };
        self.err.write(true, line.as_bytes());
    }

    pub fn warn(&self, message: impl std::fmt::Display) {
        if self.is_json() {
            self.event(&Event::Warning {
                message: message.to_string(),
            });
            return;
        }
        self.labelled("warning", "\x1b[1;33m", message);
    }

    /// An error without a code or a place; with JSON, the `error` message.
    pub fn error(&self, message: impl std::fmt::Display) {
        if self.is_json() {
            self.event(&Event::Error {
                code: None,
                message: message.to_string(),
                causes: Vec::new(),
                help: None,
                location: None,
            });
            return;
        }
        self.labelled("error", "\x1b[1;31m", message);
    }

    /// `warning × 8 plans: …`: one line for a warning that `times` places share.
    pub fn warn_repeated(&self, times: &str, message: impl std::fmt::Display) {
        self.labelled(&format!("warning × {times}"), "\x1b[1;33m", message);
    }

    /// `error × 3 plans: …`, as [`Shell::warn_repeated`].
    pub fn error_repeated(&self, times: &str, message: impl std::fmt::Display) {
        self.labelled(&format!("error × {times}"), "\x1b[1;31m", message);
    }

    pub fn note(&self, message: impl std::fmt::Display) {
        if self.is_json() {
            tracing::info!(target: "popctl::note", "{message}");
        } else if !self.is_quiet() {
            self.labelled("note", "\x1b[1;36m", message);
        }
    }

    fn labelled(&self, label: &str, ansi: &str, message: impl std::fmt::Display) {
        if self.is_json() {
            // `warning × 8 plans`: the grouped lines of `validate`, whose JSON lists each.
            tracing::warn!(target: "popctl::status", label, "{message}");
            return;
        }
        let line = if self.color {
            format!("{ansi}{label}\x1b[0m: {message}\n")
        } else {
            format!("{label}: {message}\n")
        };
        self.err.write(true, line.as_bytes());
    }

    /// Free text to stderr (a rendered diagnostic, a table), shown even when quiet. With
    /// JSON it is a log event: callers give their JSON form through [`Shell::event`].
    pub fn err_text(&self, text: &str) {
        if self.is_json() {
            tracing::info!(target: "popctl::text", "{}", text.trim_end());
            return;
        }
        self.err.write(true, text.as_bytes());
    }

    /// Data for stdout (JSON, dot, a schema): never suppressed. With JSON, an `output`
    /// message holding the text, so every line of stdout stays one JSON object.
    pub fn out_text(&self, text: &str) {
        if self.is_json() {
            self.event(&Event::Output {
                text: text.to_owned(),
            });
            return;
        }
        self.out.write(false, text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_separates_streams_and_quiet_drops_status() {
        let (shell, cap) = Shell::capture(Verbosity::Normal);
        shell.status("Validated", "plans/dev-200.toml");
        shell.warn("careful");
        shell.out_text("{}\n");
        assert_eq!(
            cap.stderr(),
            "   Validated plans/dev-200.toml\nwarning: careful\n"
        );
        assert_eq!(cap.stdout(), "{}\n");

        let (quiet, cap) = Shell::capture(Verbosity::Quiet);
        quiet.status("Validated", "x");
        quiet.note("n");
        quiet.warn("w");
        assert_eq!(cap.stderr(), "warning: w\n");
    }
}
