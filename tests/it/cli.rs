//! The conventions every command follows, as a user meets them on a terminal or in a pipe:
//! colour (`--color`, NO_COLOR, CLICOLOR_FORCE), and commands that find nothing to do say so
//! and exit non-zero. Each test runs the real binary; its stderr is a pipe, as when
//! redirected to a file.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with no colour settings of its own in the environment (the tests set them).
fn popctl() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_popctl"));
    cmd.current_dir(root())
        .stdin(Stdio::null())
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env_remove("POPCTL_LOG")
        .env_remove("TMDB_API_KEY")
        .env_remove("OMDB_API_KEY");
    for var in [
        "NO_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
        "FORCE_COLOR",
        "TERM",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn has_escapes(text: &str) -> bool {
    text.contains("\x1b[")
}

/// A plan that loads with a warning (a key written in the plan), whose database file is in
/// `dir` and which keeps no response cache.
fn plan_with_a_warning(dir: &Path) -> PathBuf {
    let path = dir.join("warns.toml");
    std::fs::write(
        &path,
        format!(
            "[plan]\nname = \"warns\"\nextends = \"{}\"\n\n[sources.omdb]\napi_key = \"literal-key\"\n\n\
             [database]\nurl = \"sqlite://{}?mode=rwc\"\n\n[cache]\nmode = \"off\"\n\n\
             [stages.reset]\nkind = \"reset\"\n",
            root().join("plans/base.toml").display(),
            dir.join("warns.db").display(),
        ),
    )
    .unwrap();
    path
}

/// What a user sees of each kind of coloured output: a plan diagnostic with a status line
/// (`validate`), an error drawn by miette (`db status` of a missing file) and log lines of a
/// run (`POPCTL_LOG=info`).
fn three_outputs(dir: &Path, setup: impl Fn(&mut Command)) -> [String; 3] {
    let plan = plan_with_a_warning(dir);
    let mut validate = popctl();
    validate.arg("validate").arg(&plan);
    let mut db = popctl();
    db.args(["db", "status", "--url"])
        .arg(format!("sqlite://{}", dir.join("missing.db").display()));
    let mut run = popctl();
    run.arg("run")
        .arg(&plan)
        .arg("--sandbox")
        .env("POPCTL_LOG", "info");
    let mut outs = Vec::new();
    for (mut cmd, code) in [(validate, 0), (db, 1), (run, 0)] {
        setup(&mut cmd);
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{cmd:?}\n{}", stderr(&out));
        outs.push(stderr(&out));
    }
    outs.try_into().unwrap()
}

#[test]
fn a_pipe_gets_no_escape_codes_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let [validate, db, run] = three_outputs(dir.path(), |_| {});
    assert!(validate.contains("literal_api_key"), "{validate}");
    assert!(db.contains("no database at"), "{db}");
    assert!(run.contains(" INFO "), "{run}");
    for text in [validate, db, run] {
        assert!(!has_escapes(&text), "{text:?}");
    }
}

#[test]
fn color_always_colours_the_shell_the_diagnostics_and_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    for text in three_outputs(dir.path(), |cmd| {
        cmd.args(["--color", "always"]);
    }) {
        assert!(has_escapes(&text), "{text}");
    }
    // Before the verb, as a global flag, and for clap's own usage errors too.
    let out = popctl()
        .args(["--color=always", "validate", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(has_escapes(&stderr(&out)), "{}", stderr(&out));
}

#[test]
fn clicolor_force_colours_a_pipe_unless_no_color_or_never_says_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    for text in three_outputs(dir.path(), |cmd| {
        cmd.env("CLICOLOR_FORCE", "1");
    }) {
        assert!(has_escapes(&text), "{text}");
    }
    for text in three_outputs(dir.path(), |cmd| {
        cmd.env("CLICOLOR_FORCE", "1").env("NO_COLOR", "1");
    }) {
        assert!(!has_escapes(&text), "{text:?}");
    }
    for text in three_outputs(dir.path(), |cmd| {
        cmd.env("CLICOLOR_FORCE", "1").args(["--color", "never"]);
    }) {
        assert!(!has_escapes(&text), "{text:?}");
    }
}

// --- nothing to do is not success -----------------------------------------------------------

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{cmd:?}\n{}", stderr(&out));
    out
}

fn fails_with(cmd: &mut Command, code: i32, says: &[&str]) -> String {
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{cmd:?}\n{err}");
    for s in says {
        assert!(err.contains(s), "{cmd:?}: no {s:?} in\n{err}");
    }
    err
}

#[test]
fn status_of_a_run_that_is_not_recorded_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_with_a_warning(dir.path());
    run_ok(popctl().arg("run").arg(&plan).arg("--sandbox"));
    let url = format!("sqlite://{}", dir.path().join("warns.db").display());

    fails_with(
        popctl().args(["status", "--url", &url, "--run", "99"]),
        1,
        &[
            &format!("run 99 is not recorded in {url}"),
            "the newest run there is 1",
        ],
    );
    let out = run_ok(popctl().args(["status", "--url", &url, "--run", "1"]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("run 1: no failed items"),
        "{out:?}"
    );
    // A run of another plan, asked for through a plan, is not that plan's.
    fails_with(
        popctl()
            .args(["status", "--plan", "plans/quick-20.toml", "--run", "1"])
            .args(["--set", &format!("database.url={url}")]),
        1,
        &["run 1 is a run of plan `warns`, not of `quick-20`"],
    );
}

#[test]
fn resetting_a_database_file_that_is_not_there_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    fails_with(
        popctl().args(["db", "reset", "--url", &url]),
        1,
        &["no database at", "db migrate"],
    );
    assert!(!file.exists());
    run_ok(popctl().args(["db", "migrate", "--url", &url]));
    run_ok(popctl().args(["db", "reset", "--url", &url]));
}

#[test]
fn the_graph_of_a_plan_without_stages_is_an_error_not_an_empty_picture() {
    let out = popctl()
        .args(["graph", "plans/base.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        stderr(&out).contains("plan `base` (plans/base.toml) has no stages"),
        "{}",
        stderr(&out)
    );
}

// --- completions and manual pages ----------------------------------------------------------

#[test]
fn completions_are_generated_for_each_shell_and_bash_loads_them() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run_ok(popctl().args(["completions", shell]));
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["validate", "sandbox", "color"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let out = popctl().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // bash sources the script and completes a verb from its start, as on a command line.
    if Path::new("/bin/bash").exists() {
        let out = Command::new("/bin/bash")
            .arg("-c")
            .arg(format!(
                "source <({:?} completions bash) && COMP_WORDS=(popctl val) && COMP_CWORD=1 \
                 && _popctl popctl val popctl && echo \"${{COMPREPLY[@]}}\"",
                env!("CARGO_BIN_EXE_popctl")
            ))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "validate");
    }
}

#[test]
fn man_prints_the_main_page_or_writes_one_page_per_command() {
    let out = run_ok(popctl().arg("man"));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH popctl 1"), "{page}");
    for word in ["validate", "completions", "\\-\\-color"] {
        assert!(page.contains(word), "no {word} in the page");
    }

    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let out = run_ok(popctl().arg("man").arg("-o").arg(&pages));
    let mut names: Vec<String> = std::fs::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in [
        "popctl.1",
        "popctl-run.1",
        "popctl-db-status.1",
        "popctl-cache-clear.1",
        "popctl-man.1",
    ] {
        assert!(names.iter().any(|n| n == name), "no {name} in {names:?}");
    }
    assert!(
        stderr(&out).contains(&format!("Wrote {} manual pages", names.len())),
        "{}",
        stderr(&out)
    );
    let run = std::fs::read_to_string(pages.join("popctl-run.1")).unwrap();
    assert!(
        run.contains(&format!(
            ".TH popctl-run 1  \"popctl {}\"",
            env!("CARGO_PKG_VERSION")
        )),
        "{run}"
    );
    // Global flags are on every command's page.
    assert!(
        run.contains("\\-\\-color") && run.contains("\\-\\-resume"),
        "{run}"
    );
}

// --- -v and -q ------------------------------------------------------------------------------

#[test]
fn v_and_q_set_the_log_level_of_every_command_and_win_over_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_with_a_warning(dir.path());
    let run = |flags: &[&str], env: Option<&str>| {
        let mut cmd = popctl();
        cmd.args(flags).arg("run").arg(&plan).arg("--sandbox");
        if let Some(filter) = env {
            cmd.env("POPCTL_LOG", filter);
        }
        stderr(&run_ok(&mut cmd))
    };
    let plain = run(&[], None);
    assert!(plain.contains("Running plan `warns`"), "{plain}");
    assert!(
        !plain.contains(" INFO ") && !plain.contains(" DEBUG "),
        "{plain}"
    );
    let debug = run(&["-vv"], None);
    assert!(debug.contains(" DEBUG popctl::"), "{debug}");
    // -q: no status lines, and log lines for errors only, whatever POPCTL_LOG says; the plan's
    // warning about its outcome still shows.
    let quiet = run(&["-q"], Some("info"));
    assert!(
        !quiet.contains("Running") && !quiet.contains(" INFO "),
        "{quiet}"
    );
    assert!(quiet.contains("literal_api_key"), "{quiet}");

    // Commands other than `run` log too: -vvv shows the migrations a `db migrate` applies,
    // -v only popctl's own informational lines.
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("logs.db").display());
    let out = run_ok(popctl().args(["-vvv", "db", "migrate", "--url", &url]));
    assert!(
        stderr(&out).contains("INFO sea_orm_migration"),
        "{}",
        stderr(&out)
    );
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("logs2.db").display()
    );
    let out = run_ok(popctl().args(["db", "migrate", "--url", &url, "-v"]));
    assert!(!stderr(&out).contains("INFO"), "{}", stderr(&out));

    let out = popctl()
        .args(["-q", "-v", "validate", "plans/dev-200.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

// --- PLAN or --plan PLAN ----------------------------------------------------------------------

#[test]
fn every_command_that_takes_a_plan_takes_it_either_way() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_with_a_warning(dir.path());
    let plan = plan.to_str().unwrap();
    let cache_dir = dir.path().join("cache");
    std::fs::create_dir(&cache_dir).unwrap();
    let cache_set = format!("cache.dir={}", cache_dir.display());
    run_ok(popctl().args(["db", "migrate", plan]));
    let commands: [&[&str]; 7] = [
        &["validate"],
        &["graph"],
        &["plan", "show"],
        &["run", "--dry-run"],
        &["status"],
        &["db", "status"],
        &["cache", "stats", "--json", "--set", &cache_set],
    ];
    for words in commands {
        let positional = run_ok(popctl().args(words).arg(plan));
        let flag = run_ok(popctl().args(words).args(["--plan", plan]));
        assert_eq!(
            String::from_utf8_lossy(&positional.stdout),
            String::from_utf8_lossy(&flag.stdout),
            "{words:?}"
        );
        assert_eq!(stderr(&positional), stderr(&flag), "{words:?}");
        assert!(
            !positional.stdout.is_empty() || !positional.stderr.is_empty(),
            "{words:?} said nothing"
        );
        // Two different plans are one too many.
        let both = popctl()
            .args(words)
            .arg(plan)
            .args(["--plan", "plans/dev-200.toml"])
            .output()
            .unwrap();
        if words[0] != "validate" {
            assert_eq!(both.status.code(), Some(2), "{words:?}: {}", stderr(&both));
        }
    }
    // validate takes several, either way.
    let out = run_ok(popctl().args(["validate", "plans/quick-20.toml", "--plan", plan]));
    assert_eq!(
        stderr(&out).matches("Validated").count(),
        2,
        "{}",
        stderr(&out)
    );
}
