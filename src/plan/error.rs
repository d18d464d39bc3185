//! Plan diagnostics: every problem found while loading a plan, with a stable code, a labelled
//! span into the layer that supplied the value (a plan file, a `POPCTL_…` variable or a `--set`
//! argument), help, and a severity.
//!
//! `compile` gathers all of them before returning, so [`PlanErrors`] renders every problem at
//! once (miette `#[related]`). The same diagnostics serialise to JSON for editors and CI.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, Severity,
};

/// Declares [`Code`]: each variant with its documentation and its stable name, once.
macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        /// The stable code of each kind of plan problem, rendered as `popctl::plan::<what>`.
        ///
        /// Codes are part of the interface (editors and CI match on them, `validate --allow`
        /// names them): add new ones, never rename.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[$doc])* $variant,)+
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name),+
                }
            }
        }
    };
}

codes! {
    /// A plan file cannot be read.
    Io => "popctl::plan::io",
    /// TOML syntax error.
    Syntax => "popctl::plan::syntax",
    /// A key that the plan format does not have.
    UnknownField => "popctl::plan::unknown_field",
    /// A required key is absent.
    MissingField => "popctl::plan::missing_field",
    /// A value of the wrong TOML type.
    WrongType => "popctl::plan::wrong_type",
    /// A number outside its allowed range.
    OutOfRange => "popctl::plan::out_of_range",
    /// A value that is not one of the allowed words.
    InvalidValue => "popctl::plan::invalid_value",
    /// `kind` names no stage kind.
    UnknownKind => "popctl::plan::unknown_kind",
    /// `list` names no TMDB list.
    UnknownList => "popctl::plan::unknown_list",
    /// An `append` part TMDB does not know.
    UnknownAppend => "popctl::plan::unknown_append",
    /// More than 20 `append` parts.
    TooManyAppend => "popctl::plan::too_many_append",
    /// A `fetch` stage names none or several of its selections (`list`, `ids`, `person`, …).
    FetchSelection => "popctl::plan::fetch_selection",
    /// Discover filters on a list other than `discover`.
    DiscoverFilter => "popctl::plan::discover_filter",
    /// A stage names a source the plan does not define.
    UnknownSource => "popctl::plan::unknown_source",
    /// A stage uses a source of the wrong kind (enrich from TMDB, fetch from OMDb).
    SourceKind => "popctl::plan::source_kind",
    /// `needs` names a stage that does not exist.
    UnknownNeed => "popctl::plan::unknown_need",
    /// Stages need each other in a cycle.
    Cycle => "popctl::plan::cycle",
    /// An invalid duration.
    InvalidDuration => "popctl::plan::invalid_duration",
    /// An invalid rate.
    InvalidRate => "popctl::plan::invalid_rate",
    /// A malformed `${…}` or a `$` that is not `$$`.
    Interpolation => "popctl::plan::interpolation",
    /// A variable that is unset and has no default (warning at validate, error at run).
    UnsetVariable => "popctl::plan::unset_variable",
    /// An API key written in the plan instead of `${…}` (warning).
    LiteralApiKey => "popctl::plan::literal_api_key",
    /// `reset` against a database that is not on this machine, without `allow_remote`.
    RemoteReset => "popctl::plan::remote_reset",
    /// A stage that writes without running after the plan's `reset`.
    ResetOrder => "popctl::plan::reset_order",
    /// An `enrich` stage with `scope = "upstream"` and no upstream fetch stage.
    EnrichWithoutUpstream => "popctl::plan::enrich_without_upstream",
    /// `external_ids` missing from an `append` an enrich stage depends on (warning).
    MissingExternalIds => "popctl::plan::missing_external_ids",
    /// A `people` stage with no upstream fetch stage.
    PeopleWithoutUpstream => "popctl::plan::people_without_upstream",
    /// `credits` missing from an `append` a people stage depends on (warning).
    MissingCredits => "popctl::plan::missing_credits",
    /// `extends` chains back onto itself.
    ExtendsCycle => "popctl::plan::extends_cycle",
    /// A file named by the plan (a curated list, an ids file) does not exist.
    MissingFile => "popctl::plan::missing_file",
    /// A duplicate entry (warning where harmless, error where ambiguous).
    Duplicate => "popctl::plan::duplicate",
    /// Settings for a post-process step that is not in `steps` (warning).
    UnusedSettings => "popctl::plan::unused_settings",
    /// A malformed database or API URL.
    InvalidUrl => "popctl::plan::invalid_url",
    /// A malformed `--set` argument or `POPCTL_…` variable.
    Override => "popctl::plan::override",
    /// A stage or source name that cannot be used as an identifier.
    InvalidName => "popctl::plan::invalid_name",
    /// The plan needs more requests than a source's `daily_quota` (warning).
    Quota => "popctl::plan::quota",
    /// An invalid size (`max_body`).
    InvalidSize => "popctl::plan::invalid_size",
    /// A date that is not `YYYY-MM-DD`, or no such day.
    InvalidDate => "popctl::plan::invalid_date",
    /// A range whose lower end (`.gte`) is above its upper end (`.lte`).
    EmptyRange => "popctl::plan::empty_range",
    /// A genre name the seed data's genres file does not have.
    UnknownGenre => "popctl::plan::unknown_genre",
    /// A stage key that moved into `filters` (warning; an error beside `filters`).
    MovedKey => "popctl::plan::moved_key",
}

impl Code {
    /// The code named `name`: in full (`popctl::plan::unset_variable`) or by its last part
    /// (`unset_variable`, as `validate --allow` takes it).
    pub fn parse(name: &str) -> Option<Code> {
        let name = name.trim();
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == name || c.short() == name)
    }

    /// The last part of the name: `unset_variable`.
    pub fn short(self) -> &'static str {
        let name = self.as_str();
        name.rsplit("::").next().unwrap_or(name)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which layer supplied a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A plan file (the one named on the command line or one it `extends`).
    File(PathBuf),
    /// A `POPCTL_…` environment variable, by name.
    Env(String),
    /// The n-th `--set` argument (0-based).
    Set(usize),
}

/// A place in a layer's text: what a label points at.
#[derive(Clone, PartialEq)]
pub struct Site {
    pub origin: Origin,
    /// The layer's text, named for display (a path, `environment`, `--set`).
    pub source: Arc<NamedSource<Arc<str>>>,
    /// Byte range in the layer's text.
    pub span: Range<usize>,
    /// 1-based line and column (in characters) of the span's start.
    pub line: usize,
    pub col: usize,
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.source.name(), self.line, self.col)
    }
}

impl Site {
    pub fn new(origin: Origin, source: Arc<NamedSource<Arc<str>>>, span: Range<usize>) -> Self {
        let text: &str = source.inner();
        let start = span.start.min(text.len());
        let before = text.get(..start).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Site {
            origin,
            source,
            span,
            line,
            col,
        }
    }

    /// The text the span covers.
    pub fn snippet(&self) -> &str {
        let text: &str = self.source.inner();
        text.get(self.span.clone()).unwrap_or("")
    }

    /// A narrower site inside this one (`range` is relative to this span's start).
    pub fn sub(&self, range: Range<usize>) -> Site {
        let start = self.span.start + range.start;
        let end = (self.span.start + range.end).min(self.span.end);
        Site::new(
            self.origin.clone(),
            self.source.clone(),
            start..end.max(start),
        )
    }

    /// `file:line:col` for messages.
    pub fn position(&self) -> String {
        format!("{}:{}:{}", self.source.name(), self.line, self.col)
    }
}

/// One problem in a plan.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PlanDiagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// The label on the span: a lower-case phrase.
    pub label: Option<String>,
    pub help: Option<String>,
    /// The key path the problem is about (`stages.popular.pages`), when there is one.
    pub key: Option<String>,
    pub site: Option<Site>,
    /// More labelled places in the same text as `site` ("first defined here").
    pub related: Vec<(Site, String)>,
}

impl PlanDiagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        PlanDiagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            label: None,
            help: None,
            key: None,
            site: None,
            related: Vec::new(),
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        PlanDiagnostic {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    pub fn at(mut self, site: Option<Site>, label: impl Into<String>) -> Self {
        self.site = site;
        self.label = Some(label.into());
        self
    }

    /// Labels another place in the same text as the main label, like where a duplicate was
    /// first defined. A place in another text is left out: a snippet shows one text.
    pub fn also(mut self, site: Site, label: impl Into<String>) -> Self {
        let same_text = self
            .site
            .as_ref()
            .is_some_and(|s| s.source.name() == site.source.name());
        if same_text {
            self.related.push((site, label.into()));
        }
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// An unset variable that only a source's API key needs: it matters when the plan runs
    /// (and `run` refuses to start without it), not while checking the plan.
    pub fn is_unset_api_key(&self) -> bool {
        self.code == Code::UnsetVariable
            && self
                .key
                .as_deref()
                .is_some_and(|k| k.starts_with("sources.") && k.ends_with(".api_key"))
    }

    /// The diagnostic for editors and CI: file, line, col, code, message, help, severity.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.to_record()).unwrap_or(serde_json::Value::Null)
    }

    /// [`Self::to_json`] as a typed record (the `diagnostic` message of
    /// `--message-format json`).
    pub fn to_record(&self) -> DiagnosticRecord {
        let (file, origin, line, col, end_line, end_col) = match &self.site {
            Some(site) => {
                let end = Site::new(
                    site.origin.clone(),
                    site.source.clone(),
                    site.span.end..site.span.end,
                );
                let (file, origin) = match &site.origin {
                    Origin::File(p) => (Some(p.display().to_string()), "file".to_owned()),
                    Origin::Env(var) => (None, format!("env:{var}")),
                    Origin::Set(i) => (None, format!("set:{i}")),
                };
                (
                    file,
                    Some(origin),
                    Some(site.line),
                    Some(site.col),
                    Some(end.line),
                    Some(end.col),
                )
            }
            None => (None, None, None, None, None, None),
        };
        DiagnosticRecord {
            severity: severity_str(self.severity),
            code: self.code.as_str(),
            message: self.message.clone(),
            label: self.label.clone(),
            help: self.help.clone(),
            key: self.key.clone(),
            file,
            origin,
            source: self.site.as_ref().map(|s| s.source.name().to_owned()),
            line,
            col,
            end_line,
            end_col,
            related: self
                .related
                .iter()
                .map(|(site, label)| RelatedRecord {
                    line: site.line,
                    col: site.col,
                    label: label.clone(),
                })
                .collect(),
        }
    }
}

/// A plan diagnostic as JSON: what `validate --message-format json` and the `diagnostic`
/// message carry. Lines and columns count from 1.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct DiagnosticRecord {
    /// `error`, `warning` or `advice`.
    pub severity: &'static str,
    /// The stable code, like `popctl::plan::unknown_need`.
    pub code: &'static str,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
    /// The plan key, like `stages.popular.pages`.
    pub key: Option<String>,
    /// The plan file the value came from (none for an environment variable or `--set`).
    pub file: Option<String>,
    /// `file`, `env:VAR` or `set:N`.
    pub origin: Option<String>,
    /// The name of the text the span is in.
    pub source: Option<String>,
    pub line: Option<usize>,
    pub col: Option<usize>,
    pub end_line: Option<usize>,
    pub end_col: Option<usize>,
    /// Other places the problem involves ("first defined here").
    pub related: Vec<RelatedRecord>,
}

/// A second place of a diagnostic.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct RelatedRecord {
    pub line: usize,
    pub col: usize,
    pub label: String,
}

pub fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Advice => "advice",
    }
}

impl Diagnostic for PlanDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code.as_str()))
    }

    fn severity(&self) -> Option<Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.site
            .as_ref()
            .map(|s| &*s.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let site = self.site.as_ref()?;
        let label = LabeledSpan::new_primary_with_span(
            self.label.clone(),
            (site.span.start, site.span.len()),
        );
        let related = self.related.iter().map(|(s, l)| {
            LabeledSpan::new_with_span(Some(l.clone()), (s.span.start, s.span.len()))
        });
        Some(Box::new(std::iter::once(label).chain(related)))
    }
}

/// Every problem found in a plan; returned when at least one is an error. Warnings found on
/// the way are included so a user sees everything at once.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Diagnostic)]
#[error("{summary}")]
#[diagnostic(code(popctl::plan::invalid))]
pub struct PlanErrors {
    summary: String,
    #[related]
    pub diagnostics: Vec<PlanDiagnostic>,
}

impl PlanErrors {
    /// `what` names the plan (`plans/dev-200.toml`).
    pub fn new(what: &str, diagnostics: Vec<PlanDiagnostic>) -> Self {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = diagnostics.len() - errors;
        let summary = format!(
            "{what} is invalid: {}{}",
            plural(errors, "error"),
            if warnings > 0 {
                format!(", {}", plural(warnings, "warning"))
            } else {
                String::new()
            }
        );
        PlanErrors {
            summary,
            diagnostics,
        }
    }

    pub fn errors(&self) -> impl Iterator<Item = &PlanDiagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn summary(&self) -> &str {
        &self.summary
    }
}

pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// How diagnostics are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderStyle {
    /// Unicode boxes and colour, for a terminal.
    Color,
    /// Unicode boxes, no colour, fixed width: stable for snapshots and logs.
    Plain,
}

/// The width diagnostics are wrapped at, whatever the terminal: the same text in a terminal,
/// a log file and a snapshot.
pub const RENDER_WIDTH: usize = 100;

/// How popctl draws every diagnostic (plan problems and the errors of every command): unicode
/// boxes, colour only with [`RenderStyle::Color`], wrapped at [`RENDER_WIDTH`] between words
/// only. textwrap would otherwise break after a `-` or `/` and inside long words, which cuts
/// file names and URLs in two (`plans/dev-` / `200.toml`).
pub fn handler(style: RenderStyle) -> GraphicalReportHandler {
    let theme = match style {
        RenderStyle::Color => GraphicalTheme::unicode(),
        RenderStyle::Plain => GraphicalTheme::unicode_nocolor(),
    };
    GraphicalReportHandler::new_themed(theme)
        .with_width(RENDER_WIDTH)
        .with_links(false)
        .with_break_words(false)
        .with_word_separator(textwrap::WordSeparator::AsciiSpace)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation)
}

/// Draws each diagnostic with its labelled snippet, one after another.
pub fn render(diagnostics: &[PlanDiagnostic], style: RenderStyle) -> String {
    let handler = handler(style);
    let mut out = String::new();
    for d in diagnostics {
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Arc<NamedSource<Arc<str>>> {
        Arc::new(NamedSource::new("plan.toml", Arc::from(text)))
    }

    #[test]
    fn site_lines_and_columns_are_one_based_in_characters() {
        let src = source("a = 1\nname = \"é\" # x\n");
        let site = Site::new(Origin::File("plan.toml".into()), src.clone(), 13..17);
        assert_eq!((site.line, site.col), (2, 8));
        assert_eq!(site.snippet(), "\"é\"");
        let site = Site::new(Origin::File("plan.toml".into()), src, 0..1);
        assert_eq!((site.line, site.col), (1, 1));
    }

    #[test]
    fn json_carries_position_code_and_severity() {
        let src = source("[stages.x]\npages = 0\n");
        let site = Site::new(Origin::File("plan.toml".into()), src, 19..20);
        let d = PlanDiagnostic::error(Code::OutOfRange, "`pages` must be between 1 and 500")
            .at(Some(site), "0 pages")
            .key("stages.x.pages")
            .help("use 1 to 500");
        let json = d.to_json();
        assert_eq!(json["file"], "plan.toml");
        assert_eq!(json["line"], 2);
        assert_eq!(json["col"], 9);
        assert_eq!(json["end_col"], 10);
        assert_eq!(json["code"], "popctl::plan::out_of_range");
        assert_eq!(json["severity"], "error");
        assert_eq!(json["help"], "use 1 to 500");
    }

    #[test]
    fn file_names_and_words_are_never_cut_when_wrapping() {
        let path = "plans/a-rather-long-folder-name/with-several-hyphens/dev-200.toml";
        for lead in 0..40 {
            let d = PlanDiagnostic::error(
                Code::Io,
                format!(
                    "{} cannot read `{path}`, which `extends` names",
                    "x".repeat(lead)
                ),
            )
            .help(format!("{} check `{path}`", "y ".repeat(lead)));
            let rendered = render(&[d], RenderStyle::Plain);
            assert_eq!(rendered.matches(path).count(), 2, "{rendered}");
        }
    }

    #[test]
    fn summary_counts_errors_and_warnings() {
        let e = PlanErrors::new(
            "p.toml",
            vec![
                PlanDiagnostic::error(Code::Cycle, "a"),
                PlanDiagnostic::warning(Code::LiteralApiKey, "b"),
                PlanDiagnostic::error(Code::Cycle, "c"),
            ],
        );
        assert_eq!(e.summary(), "p.toml is invalid: 2 errors, 1 warning");
        assert_eq!(e.errors().count(), 2);
    }
}
