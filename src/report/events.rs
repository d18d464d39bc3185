//! The messages of `--message-format json`: what every command writes to stdout, one JSON
//! object per line, as cargo does with its own `--message-format json`.
//!
//! Each message has a `reason` naming its kind (stable: add new reasons and fields, never
//! rename) and `popctl_version`. Every line carries the version, not only the first, so a
//! reader that picks one line (`tail -n1`, `grep`) still knows which popctl wrote it.
//! docs/messages.md describes every reason and field; a test checks it against the schema
//! derived from [`Event`] here, so the two cannot drift apart.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::plan::error::DiagnosticRecord;
use crate::sources::cache::dir::Removed;
use crate::stages::CounterValues;

/// One message of the stream.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Event {
    /// `run`: the run has a number and a database and its stages are about to start.
    RunStarted {
        plan: String,
        run_id: i64,
        /// Continues an earlier, unfinished run (`--resume`).
        resumed: bool,
        /// Against the built-in simulator.
        sandbox: bool,
        /// What the run writes to, password masked.
        database: String,
    },
    /// `run`: a stage began its work.
    StageStarted { stage: String, kind: String },
    /// `run`: a running stage's counters, at most once a second per stage.
    StageProgress {
        stage: String,
        /// Items with an outcome (ok, failed or skipped).
        done: u64,
        #[schemars(with = "serde_json::Value")]
        counters: CounterValues,
        /// What a stage of few long items is doing inside the current one, such as
        /// `recommendations: computing similar movies, 43,008/100,000 movies`.
        #[serde(skip_serializing_if = "Option::is_none")]
        activity: Option<String>,
    },
    /// `run`: a stage ended; `status` is its outcome (`done`, `partial`, `failed`, …).
    StageFinished {
        stage: String,
        status: String,
        #[schemars(with = "serde_json::Value")]
        counters: CounterValues,
    },
    /// A warning of any command (not a plan diagnostic, which has its own reason).
    Warning { message: String },
    /// A plan diagnostic (an error or a warning with a code and a place in the plan).
    Diagnostic(DiagnosticRecord),
    /// The command failed: its last message, before a non-zero exit.
    Error {
        /// The stable code, like `popctl::plan::invalid` or `popctl::store::no_database`.
        code: Option<String>,
        message: String,
        /// The causes under the message, outermost first.
        causes: Vec<String>,
        help: Option<String>,
        /// Where the problem is, when it has a place in a file.
        location: Option<Location>,
    },
    /// `run`: the run ended; `report` is the JSON report (`--report FILE`).
    RunFinished {
        #[schemars(with = "serde_json::Value")]
        report: serde_json::Value,
    },
    /// `report`: a recorded run's report (as in `run-finished`), and where `--html` wrote its
    /// page.
    Report {
        #[schemars(with = "serde_json::Value")]
        report: serde_json::Value,
        html: Option<String>,
    },
    /// `validate`: every plan checked.
    ValidationFinished {
        /// No plan is invalid.
        valid: bool,
        /// Per plan: `path`, `valid`, `name`, `hash`, `order`, `diagnostics` (as the
        /// `diagnostic` message), `budget`.
        #[schemars(with = "Vec<serde_json::Value>")]
        plans: Vec<serde_json::Value>,
    },
    /// `db status`: migrations and, once all are applied, the main tables' row counts.
    DbStatus {
        database: String,
        migrations: Vec<Migration>,
        /// `null` while migrations are pending.
        rows: Option<BTreeMap<String, u64>>,
    },
    /// `db digest`: rows and hash per table, and the digest of the whole database.
    DbDigest {
        database: String,
        digest: String,
        #[schemars(with = "BTreeMap<String, serde_json::Value>")]
        tables: serde_json::Map<String, serde_json::Value>,
    },
    /// `db migrate`: every migration is applied.
    DbMigrated { database: String },
    /// `db reset`: popctl's tables were dropped and recreated.
    DbReset { database: String },
    /// `status`: the runs recorded in a database.
    Status {
        database: String,
        /// Newest first, with item counts.
        #[schemars(with = "Vec<serde_json::Value>")]
        runs: Vec<serde_json::Value>,
        /// The failed items of the newest run (or of `--run ID`).
        #[schemars(with = "Option<serde_json::Value>")]
        failed: Option<serde_json::Value>,
        /// An unfinished new database being built beside this one (a swap run).
        #[schemars(with = "Option<serde_json::Value>")]
        new_database: Option<serde_json::Value>,
    },
    /// `cache stats`: entries, sizes and ages per source.
    CacheStats {
        dir: String,
        #[schemars(with = "serde_json::Value")]
        sources: serde_json::Value,
    },
    /// `cache clear`: entries removed, all or one source's.
    CacheCleared {
        dir: String,
        source: Option<String>,
        #[schemars(with = "serde_json::Value")]
        removed: Removed,
    },
    /// `cache prune`: files removed, by why.
    CachePruned {
        dir: String,
        #[schemars(with = "serde_json::Value")]
        expired: Removed,
        #[schemars(with = "serde_json::Value")]
        damaged: Removed,
        #[schemars(with = "serde_json::Value")]
        temp: Removed,
    },
    /// A document a command prints on stdout in human mode (a graph, a schema, a resolved
    /// plan, a dry run, completions, a man page, sandbox addresses), as text.
    Output { text: String },
}

/// Where an error is.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Location {
    pub file: Option<String>,
    /// From 1.
    pub line: usize,
    /// From 1.
    pub col: usize,
}

/// One migration of `db status`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Migration {
    pub name: String,
    pub applied: bool,
}

/// The line written for `event`: the event, then `popctl_version`.
pub fn line(event: &Event) -> String {
    #[derive(Serialize)]
    struct Message<'a> {
        #[serde(flatten)]
        event: &'a Event,
        popctl_version: &'static str,
    }
    let text = serde_json::to_string(&Message {
        event,
        popctl_version: env!("CARGO_PKG_VERSION"),
    })
    .unwrap_or_else(|e| {
        format!(
            "{{\"reason\":\"error\",\"code\":null,\"message\":\"cannot write a message: {e}\",\
             \"causes\":[],\"help\":\"a bug, please report\",\"location\":null}}"
        )
    });
    format!("{text}\n")
}

/// The `error` message for a failure that miette describes: its code, message, causes, help
/// and the place of its first label in a named source.
pub fn error_of(diagnostic: &dyn miette::Diagnostic) -> Event {
    let mut causes = Vec::new();
    let mut next = std::error::Error::source(diagnostic);
    while let Some(cause) = next {
        causes.push(cause.to_string());
        next = cause.source();
    }
    let location = diagnostic.labels().and_then(|mut labels| {
        let label = labels.next()?;
        let source = diagnostic.source_code()?;
        let contents = source.read_span(label.inner(), 0, 0).ok()?;
        Some(Location {
            file: contents.name().map(str::to_owned),
            line: contents.line() + 1,
            col: contents.column() + 1,
        })
    });
    Event::Error {
        code: diagnostic.code().map(|c| c.to_string()),
        message: diagnostic.to_string(),
        causes,
        help: diagnostic.help().map(|h| h.to_string()),
        location,
    }
}

/// The JSON Schema of every message, from which docs/messages.md is checked.
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(Event)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason the code can emit, with its fields, read from the schema.
    fn reasons() -> Vec<(String, Vec<String>)> {
        let schema = serde_json::to_value(schema()).unwrap();
        let variants = schema["oneOf"].as_array().expect("one schema per reason");
        let mut out = Vec::new();
        for v in variants {
            // A newtype variant (`diagnostic`) merges its struct's schema through a `$ref`.
            let mut props = v["properties"].as_object().cloned().unwrap_or_default();
            if let Some(target) = v["$ref"]
                .as_str()
                .or_else(|| v["allOf"][0]["$ref"].as_str())
            {
                let name = target.rsplit('/').next().unwrap();
                if let Some(p) = schema["$defs"][name]["properties"].as_object() {
                    props.extend(p.clone());
                }
            }
            let reason = props["reason"]["const"]
                .as_str()
                .or_else(|| props["reason"]["enum"][0].as_str())
                .expect("a reason constant")
                .to_owned();
            let fields = props.keys().filter(|k| *k != "reason").cloned().collect();
            out.push((reason, fields));
        }
        out
    }

    #[test]
    fn every_reason_and_field_is_documented() {
        let doc = include_str!("../../docs/messages.md");
        let reasons = reasons();
        assert!(reasons.len() >= 18, "{reasons:?}");
        for (reason, fields) in &reasons {
            let heading = format!("### `{reason}`");
            let start = doc
                .find(&heading)
                .unwrap_or_else(|| panic!("docs/messages.md has no `{heading}`"));
            let section = &doc[start + heading.len()..];
            let section = &section[..section.find("\n### ").unwrap_or(section.len())];
            for field in fields {
                assert!(
                    section.contains(&format!("`{field}`")),
                    "docs/messages.md does not describe `{field}` of `{reason}`"
                );
            }
        }
        assert!(doc.contains("`popctl_version`"));
    }

    #[test]
    fn a_progress_message_has_an_activity_only_while_there_is_one() {
        let progress = |activity: Option<&str>| {
            let text = line(&Event::StageProgress {
                stage: "post".into(),
                done: 2,
                counters: CounterValues::default(),
                activity: activity.map(str::to_owned),
            });
            serde_json::from_str::<serde_json::Value>(&text).unwrap()
        };
        assert!(progress(None).get("activity").is_none());
        let doing = "recommendations: computing similar movies, 2,048/100,000 movies";
        assert_eq!(progress(Some(doing))["activity"], doing);
    }

    #[test]
    fn each_line_is_one_object_with_reason_first_and_the_version() {
        let text = line(&Event::Warning {
            message: "careful".into(),
        });
        assert!(text.ends_with('\n') && text.trim_end().lines().count() == 1);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["reason"], "warning");
        assert_eq!(v["message"], "careful");
        assert_eq!(v["popctl_version"], env!("CARGO_PKG_VERSION"));
        assert!(text.starts_with("{\"reason\":\"warning\""), "{text}");
    }
}
