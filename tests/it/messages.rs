//! `--message-format json` (docs/messages.md): the real binary against the simulator. Every
//! line of stdout is one JSON object with a `reason` and `popctl_version`; stderr carries
//! JSON log lines only (no table, bar or colour); each command ends with its answer or an
//! `error`; the flags it replaced still work.

#![allow(clippy::unwrap_used)]

use serde_json::Value;

use crate::run_support::*;

/// Every line of `text` parsed, failing on the first that is not one JSON object.
fn lines(text: &str, what: &str) -> Vec<Value> {
    text.lines()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: {e}: {l:?}\n{text}"));
            assert!(v.is_object(), "{what}: {l}");
            v
        })
        .collect()
}

/// The messages on stdout, each checked for its `reason` and `popctl_version`.
fn messages(out: &std::process::Output) -> Vec<Value> {
    let all = lines(&stdout(out), "stdout");
    for m in &all {
        assert!(m["reason"].is_string(), "{m}");
        assert_eq!(m["popctl_version"], env!("CARGO_PKG_VERSION"), "{m}");
    }
    all
}

fn reasons(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["reason"].as_str().unwrap())
        .collect()
}

/// The one message of `reason`, which is the last line.
fn last_is<'a>(messages: &'a [Value], reason: &str) -> &'a Value {
    let last = messages.last().unwrap_or_else(|| panic!("no message"));
    assert_eq!(last["reason"], reason, "{messages:?}");
    assert_eq!(
        messages.iter().filter(|m| m["reason"] == reason).count(),
        1,
        "{messages:?}"
    );
    last
}

/// What is written to stderr in JSON mode: JSON log lines only, no colour, no human table.
fn assert_json_logs(out: &std::process::Output) -> Vec<Value> {
    let err = stderr(out);
    assert!(!err.contains('\x1b'), "escape codes on stderr: {err:?}");
    assert!(!err.contains("requests  retries"), "the table: {err}");
    lines(&err, "stderr")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_run_streams_one_json_message_per_line_then_each_command_its_answer() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("json.db");
    let mut sets = quick(2);
    sets.push("cache.mode=read-write".into());
    let mut cmd = env.quick(&url, &sets, &["--message-format", "json"]);
    // Colour asked for everywhere: JSON mode has none all the same.
    cmd.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
    let out = output(cmd).await;
    assert_exit(&out, 0);
    let all = messages(&out);
    let order = reasons(&all);
    let at = |reason: &str| order.iter().position(|r| *r == reason).unwrap();
    assert!(at("run-started") < at("stage-started"), "{order:?}");
    let finished = last_is(&all, "run-finished");
    let report = &finished["report"];
    assert_eq!(report["status"], "ok", "{report}");
    assert_eq!(all[at("run-started")]["run_id"], report["run_id"]);
    // Every stage that ran was started, then finished, between the two.
    let ran: Vec<&str> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["started_at"].is_string())
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(ran, ["reset", "seed", "popular", "omdb", "post"]);
    for stage in ran {
        let of = |reason: &str| {
            all.iter()
                .position(|m| m["reason"] == reason && m["stage"] == stage)
                .unwrap_or_else(|| panic!("no {reason} of {stage}: {order:?}"))
        };
        assert!(at("run-started") < of("stage-started"));
        assert!(of("stage-started") < of("stage-finished"));
        assert!(of("stage-finished") < at("run-finished"));
        assert_eq!(all[of("stage-finished")]["status"], "done");
    }
    assert_eq!(
        all[order.iter().rposition(|r| *r == "stage-finished").unwrap()]["counters"]["failed"],
        0
    );
    // Logs: popctl's own events at the default level, as JSON.
    let logs = assert_json_logs(&out);
    assert!(
        logs.iter()
            .any(|l| l["target"] == "popctl::status" && l["verb"] == "Running"),
        "{}",
        stderr(&out)
    );
    assert!(
        logs.iter()
            .all(|l| l["level"] != "INFO" || l["target"].as_str().unwrap().starts_with("popctl")),
        "only popctl's info events: {}",
        stderr(&out)
    );

    // Each command that reads what the run left gives its one answer.
    let answer = |args: &[&str], reason: &'static str| {
        let mut cmd = popctl();
        cmd.args(args).args(["--message-format", "json"]);
        let out = cmd.output().unwrap();
        assert_exit(&out, 0);
        assert_json_logs(&out);
        let all = messages(&out);
        last_is(&all, reason).clone()
    };
    let db = answer(&["db", "status", "--url", &url], "db-status");
    assert_eq!(db["rows"]["movies"], 40, "{db}");
    assert!(
        db["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["applied"] == true)
    );
    let status = answer(&["status", "--url", &url], "status");
    assert_eq!(status["runs"][0]["status"], "ok", "{status}");
    assert_eq!(status["runs"][0]["id"], report["run_id"]);
    assert_eq!(status["failed"]["items"], serde_json::json!([]));
    let cache_dir = env.path("cache");
    let cache = answer(
        &["cache", "stats", "--dir", cache_dir.to_str().unwrap()],
        "cache-stats",
    );
    assert!(!cache["sources"].as_array().unwrap().is_empty(), "{cache}");
    let run_id = report["run_id"].to_string();
    let recorded = answer(&["report", &run_id, "--url", &url], "report");
    assert_eq!(recorded["report"]["run_id"], report["run_id"], "{recorded}");
    assert_eq!(recorded["report"]["stages"], report["stages"]);
    assert_eq!(recorded["html"], serde_json::Value::Null);
    let digest = answer(&["db", "digest", "--url", &url], "db-digest");
    assert_eq!(digest["tables"]["movies"]["rows"], 40);
    let valid = answer(&["validate", "plans/quick-20.toml"], "validation-finished");
    assert_eq!(valid["valid"], true);
    assert_eq!(valid["plans"][0]["name"], "quick-20");
    // A document (here the graph) comes wrapped, so stdout stays JSON.
    let graph = answer(&["graph", "plans/quick-20.toml"], "output");
    assert!(
        graph["text"].as_str().unwrap().starts_with("digraph"),
        "{graph}"
    );
}

/// The flags `--message-format json` replaced still give JSON messages, and `--help` shows
/// only the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_flags_are_hidden_aliases_of_message_format_json() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("old.db");
    let mut sets = quick(1);
    sets.push("cache.mode=read-write".into());
    let out = output(env.quick(&url, &sets, &["--log-format", "json"])).await;
    assert_exit(&out, 0);
    assert_json_logs(&out);
    last_is(&messages(&out), "run-finished");

    let cache_dir = env.path("cache");
    for (args, reason) in [
        (
            vec!["validate", "--format", "json", "plans/quick-20.toml"],
            "validation-finished",
        ),
        (
            vec!["db", "digest", "--format", "json", "--url", &url],
            "db-digest",
        ),
        (
            vec![
                "cache",
                "stats",
                "--json",
                "--dir",
                cache_dir.to_str().unwrap(),
            ],
            "cache-stats",
        ),
    ] {
        let out = popctl().args(&args).output().unwrap();
        assert_exit(&out, 0);
        assert_json_logs(&out);
        last_is(&messages(&out), reason);
    }

    for (args, old) in [
        (vec!["validate", "--help"], "--format"),
        (vec!["db", "digest", "--help"], "--format"),
        (vec!["cache", "stats", "--help"], "--json"),
        (vec!["run", "--help"], "--log-format"),
    ] {
        let out = popctl().args(&args).output().unwrap();
        assert_exit(&out, 0);
        let help = stdout(&out);
        assert!(help.contains("--message-format <FMT>"), "{help}");
        assert!(!help.contains(old), "{args:?} shows {old}: {help}");
    }
}

/// An invalid plan: every problem as a `diagnostic` with its place, then an `error` placed at
/// the first one, exit 2; `validate` lists them in its answer. A failure elsewhere (no
/// database) is an `error` with its code, exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_the_last_message_with_their_code_and_place() {
    let env = Env::new(small_sim()).await;
    let plan = env.path("bad.toml");
    std::fs::write(
        &plan,
        format!(
            "[plan]\nname = \"bad\"\nextends = \"{}\"\n\n[stages.reset]\nkind = \"reset\"\n\n\
             [stages.seed]\nkind = \"seed\"\nneeds = [\"nope\"]\n",
            root().join("plans/base.toml").display()
        ),
    )
    .unwrap();
    let plan = plan.to_str().unwrap();
    let out = output({
        let mut cmd = popctl();
        cmd.args(["--message-format", "json", "run", plan, "--sandbox"]);
        cmd
    })
    .await;
    assert_exit(&out, 2);
    assert_json_logs(&out);
    let all = messages(&out);
    let diagnostic = all
        .iter()
        .find(|m| m["reason"] == "diagnostic" && m["severity"] == "error")
        .unwrap_or_else(|| panic!("{all:?}"));
    assert_eq!(
        diagnostic["code"], "popctl::plan::unknown_need",
        "{diagnostic}"
    );
    assert_eq!(diagnostic["file"], plan);
    assert_eq!(diagnostic["line"], 10, "{diagnostic}");
    assert!(diagnostic["col"].as_u64().unwrap() > 1);
    let error = last_is(&all, "error");
    assert_eq!(error["code"], "popctl::plan::invalid");
    assert_eq!(error["location"]["file"], plan);
    assert_eq!(error["location"]["line"], 10);

    let out = popctl()
        .args(["validate", "--message-format", "json", plan])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let all = messages(&out);
    let answer = last_is(&all, "validation-finished");
    assert_eq!(answer["valid"], false);
    assert_eq!(answer["plans"][0]["diagnostics"][0]["line"], 10, "{answer}");

    let missing = format!("sqlite://{}", env.path("missing.db").display());
    let out = popctl()
        .args([
            "db",
            "status",
            "--message-format",
            "json",
            "--url",
            &missing,
        ])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert_json_logs(&out);
    let all = messages(&out);
    let error = last_is(&all, "error");
    assert!(
        error["code"].as_str().unwrap().starts_with("popctl::"),
        "{error}"
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("no database at"),
        "{error}"
    );
    assert!(!env.path("missing.db").exists());

    // An error drawn from another file than a plan (the simulator's settings) is placed too.
    let settings = env.path("sandbox.toml");
    std::fs::write(&settings, "seed = 1\n[faults]\np503 = 0.5\ndrop = 0.9\n").unwrap();
    let out = popctl()
        .args([
            "sandbox",
            "serve",
            "--port",
            "0",
            "--message-format",
            "json",
            "--config",
        ])
        .arg(&settings)
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let all = messages(&out);
    let error = last_is(&all, "error");
    assert_eq!(error["code"], "popctl::sim::config", "{error}");
    assert_eq!(error["location"]["line"], 2, "{error}");
    assert_eq!(error["location"]["col"], 1, "{error}");
    assert!(
        error["location"]["file"]
            .as_str()
            .unwrap()
            .ends_with("sandbox.toml")
    );

    // No command: an `error`, not the help text, which would break the stream.
    let out = popctl()
        .args(["--message-format", "json"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let all = messages(&out);
    assert!(
        last_is(&all, "error")["message"]
            .as_str()
            .unwrap()
            .contains("--help")
    );
}
