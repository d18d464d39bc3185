//! The plan language end to end: shipped plans, the invalid corpus (one problem per file, with
//! rendered snapshots), exact spans across layers, interpolation at validate and at run,
//! `plan show`, budgets, and the CLI verbs that only read plans.

// Helpers outside `#[test]` functions panic on broken fixtures too; that is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use popctl::plan::dag::Dag;
use popctl::plan::{
    self, Code, EnrichScope, FetchSelection, Interpolated, ListKind, LoadOptions, MaxFailures,
    Origin, PlanDiagnostic, PlanErrors, PostStep, RenderStyle, StageKind,
};
use popctl::secret::{Secret, SecretUrl};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn keys() -> BTreeMap<String, String> {
    env(&[
        ("TMDB_API_KEY", "tmdb-test-key"),
        ("OMDB_API_KEY", "omdb-test-key"),
    ])
}

fn load(
    path: impl Into<PathBuf>,
    env: BTreeMap<String, String>,
    sets: &[&str],
) -> Result<plan::Loaded, PlanErrors> {
    plan::load(&LoadOptions {
        path: path.into(),
        sets: sets.iter().map(|s| (*s).to_owned()).collect(),
        env,
    })
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn only_error(e: &PlanErrors) -> &PlanDiagnostic {
    let errors: Vec<&PlanDiagnostic> = e.errors().collect();
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    errors[0]
}

/// (line, col, snippet) of a diagnostic's label.
fn at(d: &PlanDiagnostic) -> (usize, usize, String) {
    let site = d.site.as_ref().expect("diagnostic has a location");
    (site.line, site.col, site.snippet().to_owned())
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

// --- shipped plans --------------------------------------------------------------------------

#[test]
fn every_shipped_plan_and_example_validates_without_warnings_when_keys_are_set() {
    let mut files = toml_files(&root().join("plans"));
    files.extend(toml_files(&root().join("examples")));
    assert!(files.len() >= 7, "{files:?}");
    for file in files {
        let loaded =
            load(&file, keys(), &[]).unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
        assert!(
            loaded.warnings.is_empty(),
            "{}: {:#?}",
            file.display(),
            loaded.warnings
        );
        assert!(loaded.plan.require_resolved().is_ok(), "{}", file.display());
        assert!(
            plan::budget(&loaded.plan).quota_warnings().is_empty(),
            "{}",
            file.display()
        );
    }
}

#[test]
fn dev_200_compiles_to_the_issue_plan() {
    let p = load(root().join("plans/dev-200.toml"), keys(), &[])
        .unwrap()
        .plan;
    assert_eq!(p.name, "dev-200");
    let order: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["reset", "seed", "popular", "omdb", "post"]);
    let popular = p.stage("popular").unwrap();
    assert_eq!(popular.concurrency, 8);
    let StageKind::Fetch(f) = &popular.kind else {
        panic!("fetch")
    };
    assert_eq!(
        f.selection,
        FetchSelection::List {
            list: ListKind::Popular,
            pages: 10,
            limit: None,
            filters: Default::default(),
            queries: Vec::new(),
        }
    );
    assert_eq!(f.append.len(), 8);
    let omdb = p.stage("omdb").unwrap();
    // `retry = { attempts = 2 }` overrides one field of [defaults.retry].
    assert_eq!(omdb.retry.attempts, 2);
    assert_eq!(omdb.retry.max, Duration::from_secs(30));
    assert!(
        matches!(&omdb.kind, StageKind::Enrich(e) if e.scope == EnrichScope::Upstream && e.source == "omdb")
    );
    let StageKind::PostProcess(post) = &p.stage("post").unwrap().kind else {
        panic!("post")
    };
    assert_eq!(
        post.steps,
        [
            PostStep::CulturalLists,
            PostStep::CriScores,
            PostStep::Recommendations
        ]
    );
    assert_eq!(post.recommendations.top_n, 10);
    let tmdb = &p.sources["tmdb"];
    assert_eq!(
        tmdb.api_key,
        Interpolated::Value(Secret::new("tmdb-test-key"))
    );
    assert_eq!(tmdb.api_key_var.as_deref(), Some("TMDB_API_KEY"));
    assert_eq!(tmdb.rate.count, 40);
    assert_eq!(p.sources["omdb"].daily_quota, Some(1000));
    assert_eq!(
        p.database.url,
        Interpolated::Value(SecretUrl::new("sqlite://popctl-dev.db?mode=rwc"))
    );
    // base.toml's `[data] dir = "../data"` is relative to plans/.
    assert_eq!(p.data.dir, root().join("data"));
    assert_eq!(p.cache.ttl["omdb"], Duration::from_secs(7 * 86_400));
    assert_eq!(
        p.files,
        [
            root().join("plans/dev-200.toml"),
            root().join("plans/base.toml")
        ]
    );
}

#[test]
fn source_limits_default_by_kind_and_read_sizes_and_durations() {
    let p = load(root().join("plans/dev-200.toml"), keys(), &[])
        .unwrap()
        .plan;
    assert_eq!(p.sources["tmdb"].max_body, 8 << 20);
    assert_eq!(p.sources["omdb"].max_body, 1 << 20);
    for s in p.sources.values() {
        assert_eq!(s.max_rate_limited_wait, Duration::from_secs(600));
    }
    let p = load(
        root().join("plans/dev-200.toml"),
        keys(),
        &[
            "sources.tmdb.max_body=512KiB",
            "sources.omdb.max_body=5000",
            "sources.omdb.max_rate_limited_wait=90s",
        ],
    )
    .unwrap()
    .plan;
    assert_eq!(p.sources["tmdb"].max_body, 512 << 10);
    assert_eq!(p.sources["omdb"].max_body, 5000);
    assert_eq!(
        p.sources["omdb"].max_rate_limited_wait,
        Duration::from_secs(90)
    );
    let shown = plan::render::to_toml(&p, plan::render::Render::Show);
    assert!(shown.contains("max_body = \"512KiB\"\n"), "{shown}");
    assert!(shown.contains("max_body = \"5000B\"\n"), "{shown}");
    assert!(
        shown.contains("max_rate_limited_wait = \"90s\"\n"),
        "{shown}"
    );

    // An integer is bytes, however few.
    let p = load(
        root().join("plans/dev-200.toml"),
        keys(),
        &["sources.tmdb.max_body=8"],
    )
    .unwrap()
    .plan;
    assert_eq!(p.sources["tmdb"].max_body, 8);

    for (set, code, message) in [
        (
            "sources.tmdb.max_body=-1",
            Code::OutOfRange,
            "`sources.tmdb.max_body` cannot be negative",
        ),
        (
            "sources.tmdb.max_body=\"8\"",
            Code::InvalidSize,
            "invalid size `8` for `sources.tmdb.max_body`",
        ),
        (
            "sources.tmdb.max_body=true",
            Code::WrongType,
            "`sources.tmdb.max_body` must be a size like \"8MiB\" or an integer of bytes, found `true`",
        ),
        (
            "sources.omdb.max_rate_limited_wait=10",
            Code::WrongType,
            "`sources.omdb.max_rate_limited_wait` must be a duration like \"500ms\" or \"15s\", found an integer",
        ),
    ] {
        let errors = load(root().join("plans/dev-200.toml"), keys(), &[set]).unwrap_err();
        let e = only_error(&errors);
        assert_eq!((e.code, e.message.as_str()), (code, message), "{set}");
        assert!(e.site.is_some(), "{set}: located");
    }
}

#[test]
fn categories_fetches_three_lists_side_by_side() {
    let p = load(root().join("plans/categories.toml"), keys(), &[])
        .unwrap()
        .plan;
    let dag = Dag::new(&p).unwrap();
    assert_eq!(
        dag.levels(),
        vec![
            vec!["reset"],
            vec!["seed"],
            vec!["top_rated", "now_playing", "upcoming"],
            vec!["omdb"],
            vec!["post"]
        ]
    );
}

#[test]
fn budget_of_dev_200_and_a_plan_over_its_omdb_quota() {
    let p = load(root().join("plans/dev-200.toml"), keys(), &[])
        .unwrap()
        .plan;
    let b = plan::budget(&p);
    let tmdb = b.sources.iter().find(|s| s.source == "tmdb").unwrap();
    let omdb = b.sources.iter().find(|s| s.source == "omdb").unwrap();
    assert_eq!((tmdb.requests, omdb.requests), (210, 200));
    assert_eq!(tmdb.min_duration, Duration::from_millis(5250));
    assert_eq!(omdb.min_duration, Duration::from_secs(40));
    assert_eq!(b.min_duration, Duration::from_secs(40));
    assert!(b.quota_warnings().is_empty());
    // Each stage's own floor: its requests at its source's rate.
    let stage = |name: &str| {
        b.stages
            .iter()
            .find(|s| s.stage == name)
            .unwrap()
            .min_duration
    };
    assert_eq!(stage("popular"), Duration::from_millis(5250));
    assert_eq!(stage("omdb"), Duration::from_secs(40));
    assert_eq!(stage("seed"), Duration::ZERO);

    // 100 pages = 2,000 movies = 2,000 OMDb calls against a 1,000/day key.
    let big = load(
        root().join("plans/dev-200.toml"),
        keys(),
        &["stages.popular.pages=100"],
    )
    .unwrap()
    .plan;
    let warnings = plan::budget(&big).quota_warnings();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].code, Code::Quota);
    assert_eq!(
        warnings[0].message,
        "source `omdb` needs up to 2,000 requests, but its `daily_quota` is 1,000"
    );

    // The old way: 200 OMDb calls one second apart take at least 199 s whatever the rate.
    let seq = load(root().join("plans/full-sequential.toml"), keys(), &[])
        .unwrap()
        .plan;
    let omdb = plan::budget(&seq)
        .sources
        .into_iter()
        .find(|s| s.source == "omdb")
        .unwrap();
    assert_eq!(omdb.min_duration, Duration::from_secs(199));
}

// --- the invalid corpus -----------------------------------------------------------------------

#[test]
fn every_invalid_plan_yields_its_own_located_error() {
    let dir = root().join("tests/plans/invalid");
    let files = toml_files(&dir);
    assert!(files.len() >= 30, "only {} invalid plans", files.len());
    let mut codes = std::collections::BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expected = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks `# expect: <code>`", file.display()))
            .trim();
        let relative = file.strip_prefix(root()).unwrap().to_path_buf();
        let errors = match load(&relative, keys(), &[]) {
            Ok(_) => panic!("{} should be invalid", file.display()),
            Err(e) => e,
        };
        let error = only_error(&errors);
        assert_eq!(error.code.as_str(), expected, "{}", file.display());
        let site = error
            .site
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no location", file.display()));
        assert!(
            site.line > 2,
            "{}: label on the comment lines",
            file.display()
        );
        codes.insert(expected.to_owned());

        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let rendered = plan::error::render(&errors.diagnostics, RenderStyle::Plain);
        insta::assert_snapshot!(name, rendered);
    }
    assert!(
        codes.len() >= 25,
        "the corpus covers only {} codes",
        codes.len()
    );
}

#[test]
fn an_unset_variable_suggests_a_set_one_with_a_close_name() {
    let file = Path::new("tests/plans/warn/similar-variable.toml");
    let loaded = load(file, keys(), &[]).unwrap();
    let rendered = plan::error::render(&loaded.warnings, RenderStyle::Plain);
    insta::assert_snapshot!("similar-variable", rendered);
    assert_eq!(loaded.warnings.len(), 1, "{rendered}");
    // At run time the error says the same.
    let error = loaded.plan.require_resolved().unwrap_err();
    assert!(
        only_error(&error)
            .help
            .as_deref()
            .is_some_and(|h| h.starts_with("did you mean `TMDB_API_KEY` (set in the environment)?")),
        "{error:?}"
    );
    // A variable the plan reads itself is no typo: with only OMDB_API_KEY set, the unset
    // TMDB_API_KEY suggests nothing.
    let loaded = load(
        root().join("plans/dev-200.toml"),
        env(&[("OMDB_API_KEY", "k")]),
        &[],
    )
    .unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:#?}", loaded.warnings);
    let help = loaded.warnings[0].help.as_deref().unwrap();
    assert!(help.starts_with("export TMDB_API_KEY before"), "{help}");
}

#[test]
fn a_duplicate_table_is_reported_once_with_where_it_was_first_defined() {
    let errors = load(
        "tests/plans/invalid/syntax-duplicate-table.toml",
        keys(),
        &[],
    )
    .unwrap_err();
    let json = only_error(&errors).to_json();
    assert_eq!(json["line"], 13);
    assert_eq!(json["key"], "stages.reset");
    assert_eq!(
        json["related"],
        serde_json::json!([{ "line": 6, "col": 9, "label": "first defined here" }])
    );
}

#[test]
fn several_problems_are_all_reported_at_once_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.toml",
        r#"[sources.tmdb]
api_key = "${TMDB_API_KEY}"
rate = "fast"

[stages.popular]
kind = "fetch"
list = "popularr"
pages = 0
concurency = 8
"#,
    );
    let e = load(&p, keys(), &[]).unwrap_err();
    let codes: Vec<Code> = e.errors().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            Code::InvalidRate,
            Code::UnknownList,
            Code::OutOfRange,
            Code::UnknownField
        ]
    );
    assert_eq!(e.summary(), format!("{} is invalid: 4 errors", p.display()));
}

// --- exact spans through layers --------------------------------------------------------------

#[test]
fn spans_point_into_the_layer_that_supplied_the_value() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "base.toml",
        "[sources.tmdb]\napi_key = \"${TMDB_API_KEY}\"\nrate = \"40/s\"\n\n[stages.popular]\nkind = \"fetch\"\nlist = \"popular\"\npages = 3\n",
    );
    let child = write(
        dir.path(),
        "child.toml",
        "[plan]\nextends = \"base.toml\"\n\n[stages.popular]\nconcurrency = 0\n",
    );

    // A bad value in the child file: labelled in the child.
    let e = load(&child, keys(), &[]).unwrap_err();
    let d = only_error(&e);
    assert_eq!(d.code, Code::OutOfRange);
    assert_eq!(at(d), (5, 15, "0".into()));
    assert!(
        d.site
            .as_ref()
            .unwrap()
            .source
            .name()
            .ends_with("child.toml")
    );
    assert_eq!(d.key.as_deref(), Some("stages.popular.concurrency"));

    // A bad value the base supplies: labelled in the base, though the child was loaded.
    let e = load(
        &child,
        keys(),
        &["stages.popular.concurrency=2", "sources.tmdb.rate=x"],
    )
    .unwrap_err();
    let d = only_error(&e);
    assert_eq!(d.code, Code::InvalidRate);
    assert_eq!(d.site.as_ref().unwrap().origin, Origin::Set(1));
    assert_eq!(at(d), (1, 19, "x".into()));

    // An environment override: labelled in `NAME=value`.
    let mut vars = keys();
    vars.insert("POPCTL_STAGES__POPULAR__CONCURRENCY".into(), "2".into());
    vars.insert("POPCTL_STAGES__POPULAR__PAGES".into(), "900".into());
    let e = load(&child, vars, &[]).unwrap_err();
    let d = only_error(&e);
    assert_eq!(
        d.site.as_ref().unwrap().origin,
        Origin::Env("POPCTL_STAGES__POPULAR__PAGES".into())
    );
    assert_eq!(d.site.as_ref().unwrap().source.name(), "environment");
    assert_eq!(at(d), (1, 31, "900".into()));

    // A table is pointed at in the file, even when an override also adds a key to it.
    let mut vars = keys();
    vars.insert("POPCTL_STAGES__POPULAR__CONCURRENCY".into(), "2".into());
    let reset = write(
        dir.path(),
        "reset.toml",
        "[plan]\nextends = \"child.toml\"\n\n[stages.reset]\nkind = \"reset\"\n",
    );
    let e = load(&reset, vars, &[]).unwrap_err();
    let d = only_error(&e);
    assert_eq!(d.code, Code::ResetOrder);
    // The topmost file writing `[stages.popular]` is child.toml.
    assert_eq!(at(d), (4, 9, "popular".into()));
    assert!(
        d.site
            .as_ref()
            .unwrap()
            .source
            .name()
            .ends_with("child.toml")
    );

    // A base value that is fine, overridden badly by the child, is the child's fault.
    let e = load(
        &child,
        keys(),
        &["stages.popular.concurrency=2", "stages.popular.pages=[1]"],
    )
    .unwrap_err();
    assert_eq!(at(only_error(&e)), (1, 22, "[1]".into()));
}

#[test]
fn spans_of_keys_array_items_and_interpolations() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.toml",
        "[sources.tmdb]\napi_key = \"${TMDB_API_KEY}\"\n\n[stages.popular]\nkind = \"fetch\"\nlist = \"popular\"\nappend = [\"credits\", \"keyword\"]\nconcurency = 2\n",
    );
    let e = load(&p, keys(), &[]).unwrap_err();
    let errors: Vec<&PlanDiagnostic> = e.errors().collect();
    assert_eq!(at(errors[0]), (7, 22, "\"keyword\"".into()));
    assert_eq!(errors[0].help.as_deref(), Some("did you mean `keywords`?"));
    assert_eq!(at(errors[1]), (8, 1, "concurency".into()));
    assert_eq!(
        errors[1].help.as_deref(),
        Some("did you mean `concurrency`?")
    );

    // An unset variable is labelled on the `${…}` inside the string.
    let q = write(
        dir.path(),
        "q.toml",
        "[database]\nurl = \"postgres://app@localhost/${DB_NAME}\"\n",
    );
    let loaded = load(&q, env(&[]), &[]).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].code, Code::UnsetVariable);
    assert_eq!(at(&loaded.warnings[0]), (2, 33, "${DB_NAME}".into()));
}

// --- interpolation and layering ---------------------------------------------------------------

#[test]
fn unset_variable_warns_at_validate_and_fails_at_run_with_its_place() {
    let loaded = load(root().join("plans/dev-200.toml"), env(&[]), &[]).unwrap();
    let unset: Vec<&str> = loaded.warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(
        unset,
        [
            "popctl::plan::unset_variable",
            "popctl::plan::unset_variable"
        ]
    );
    let p = loaded.plan;
    assert_eq!(
        p.sources["tmdb"].api_key,
        Interpolated::Unresolved {
            var: "TMDB_API_KEY".into()
        }
    );

    let e = p.require_resolved().unwrap_err();
    let messages: Vec<&str> = e.errors().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "environment variable `OMDB_API_KEY` is not set; `sources.omdb.api_key` at plans/dev-200.toml:16:12 needs it",
            "environment variable `TMDB_API_KEY` is not set; `sources.tmdb.api_key` at plans/dev-200.toml:10:12 needs it",
        ]
        .map(|m| m.replace("plans/dev-200.toml", &root().join("plans/dev-200.toml").display().to_string()))
    );

    // What `run --sandbox` does: override every source's key and address after loading.
    let mut sandboxed = p.clone();
    for source in sandboxed.sources.values_mut() {
        source.api_key = Interpolated::Value(Secret::new("sandbox"));
        source.base_url = "http://127.0.0.1:9".into();
    }
    assert!(sandboxed.require_resolved().is_ok());
}

#[test]
fn unresolved_base_url_is_resolved_by_an_override() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.toml",
        "[sources.tmdb]\napi_key = \"k\"\nbase_url = \"${TMDB_URL}\"\n",
    );
    let loaded = load(&p, env(&[]), &[]).unwrap();
    let codes: Vec<Code> = loaded.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, [Code::LiteralApiKey, Code::UnsetVariable]);
    let mut plan = loaded.plan;
    assert_eq!(plan.require_resolved().unwrap_err().errors().count(), 1);
    plan.sources.get_mut("tmdb").unwrap().base_url = "http://127.0.0.1:9".into();
    assert!(plan.require_resolved().is_ok());
    let resolved = load(&p, env(&[("TMDB_URL", "http://127.0.0.1:8080/3/")]), &[])
        .unwrap()
        .plan;
    assert_eq!(resolved.sources["tmdb"].base_url, "http://127.0.0.1:8080/3");
}

#[test]
fn layering_order_is_extends_then_env_then_set() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "plans/base.toml",
        "[plan]\nname = \"base\"\ndescription = \"shared\"\n\n[data]\ndir = \"../shared-data\"\n\n[sources.tmdb]\napi_key = \"${K}\"\n\n[stages.popular]\nkind = \"fetch\"\nlist = \"popular\"\npages = 1\nappend = [\"credits\", \"videos\"]\n",
    );
    let child = write(
        dir.path(),
        "me/dev.toml",
        "[plan]\nextends = \"../plans/base.toml\"\n\n[cache]\ndir = \"cache\"\n\n[stages.popular]\npages = 2\nappend = [\"keywords\"]\n",
    );
    let vars = env(&[
        ("K", "x"),
        ("POPCTL_STAGES__POPULAR__PAGES", "3"),
        ("POPCTL_STAGES__POPULAR__CONCURRENCY", "5"),
    ]);

    let p = load(&child, vars.clone(), &[]).unwrap().plan;
    // The name is the plan file's: base.toml's is not inherited (its runs are not base's).
    assert_eq!(p.name, "dev");
    assert_eq!(p.description, None);
    let s = p.stage("popular").unwrap();
    let StageKind::Fetch(f) = &s.kind else {
        panic!()
    };
    assert!(
        matches!(f.selection, FetchSelection::List { pages: 3, .. }),
        "env beats the child file"
    );
    assert_eq!(s.concurrency, 5);
    assert_eq!(f.append, ["keywords"], "arrays replace, they do not merge");
    // Paths are relative to the file that wrote them.
    assert_eq!(
        p.data.dir,
        plan::raw::normalize(&dir.path().join("shared-data"))
    );
    assert_eq!(
        p.cache.dir,
        plan::raw::normalize(&dir.path().join("me/cache"))
    );

    let p = load(&child, vars, &["stages.popular.pages=4"])
        .unwrap()
        .plan;
    let StageKind::Fetch(f) = &p.stage("popular").unwrap().kind else {
        panic!()
    };
    assert!(
        matches!(f.selection, FetchSelection::List { pages: 4, .. }),
        "--set beats env"
    );
}

#[test]
fn reset_guard_accepts_local_databases_and_refuses_remote_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.toml",
        "[database]\nurl = \"${DATABASE_URL:-sqlite://dev.db?mode=rwc}\"\n\n[stages.reset]\nkind = \"reset\"\n",
    );
    assert!(load(&p, env(&[]), &[]).is_ok());
    for local in [
        "postgres://u@localhost/db",
        "postgres://u@127.0.0.1:5432/db",
        "postgres://u@[::1]/db",
        "postgres://u@localhost/db?host=/run/postgresql",
        "postgres://u@db.internal.example/db?hostaddr=127.0.0.1",
    ] {
        assert!(
            load(&p, env(&[("DATABASE_URL", local)]), &[]).is_ok(),
            "{local}"
        );
    }
    let remote = env(&[(
        "DATABASE_URL",
        "postgres://app:secret@db.internal.example:5432/prod",
    )]);
    let e = load(&p, remote.clone(), &[]).unwrap_err();
    let d = only_error(&e);
    assert_eq!(d.code, Code::RemoteReset);
    assert!(
        d.message.contains("db.internal.example:5432") && !d.message.contains("secret"),
        "{}",
        d.message
    );
    assert!(load(&p, remote, &["stages.reset.allow_remote=true"]).is_ok());

    // The URL is judged as the driver reads it: query parameters win over the authority.
    for (url, place) in [
        (
            "postgres://u@localhost:5432/db?host=192.0.2.2",
            "192.0.2.2:5432",
        ),
        (
            "postgres://u@localhost:5432/db?hostaddr=192.0.2.2",
            "192.0.2.2:5432",
        ),
        (
            "postgres://u@127.0.0.1/db?host=db.example.com",
            "db.example.com:5432",
        ),
        (
            "postgres://u@[::1]/db?hostaddr=2001:db8::1",
            "[2001:db8::1]:5432",
        ),
    ] {
        let e = load(&p, env(&[("DATABASE_URL", url)]), &[]).unwrap_err();
        let d = only_error(&e);
        assert_eq!(d.code, Code::RemoteReset, "{url}");
        assert!(d.message.contains(place), "{url}: {}", d.message);
    }
    // A URL the driver cannot read is an error of its own, not a guess.
    let e = load(
        &p,
        env(&[("DATABASE_URL", "postgres://u@/db?host=/run/postgresql")]),
        &[],
    )
    .unwrap_err();
    assert_eq!(only_error(&e).code, Code::InvalidUrl);

    // A URL that only becomes known after loading is checked again before running.
    let mut plan = load(&p, env(&[]), &[]).unwrap().plan;
    plan.database.url =
        Interpolated::Value(SecretUrl::new("postgres://app@db.internal.example/prod"));
    assert_eq!(
        only_error(&plan.require_resolved().unwrap_err()).code,
        Code::RemoteReset
    );
}

#[test]
fn curated_lists_and_post_process_settings() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "data/lists/afi-100.toml", "# list\n");
    write(dir.path(), "data/lists/sight-and-sound.toml", "# list\n");
    let p = write(
        dir.path(),
        "p.toml",
        r#"[data]
dir = "data"

[sources.tmdb]
api_key = "${K}"

[stages.classics]
kind = "fetch"
curated_list = "afi-100"
max_failures = "5%"

[stages.post]
kind = "post_process"
needs = ["classics"]
steps = ["cultural_lists", "cri_scores"]

[stages.post.cultural_lists]
lists = ["sight-and-sound"]

[stages.post.cri]
weights = { timelessness = 0.5 }
classic_age_years = 30

[stages.post.reviews]
per_movie = 3
"#,
    );
    let loaded = load(&p, env(&[("K", "x")]), &[]).unwrap();
    // Settings for `reviews`, which `steps` does not run.
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].code, Code::UnusedSettings);
    let plan = loaded.plan;
    let classics = plan.stage("classics").unwrap();
    assert_eq!(classics.max_failures, Some(MaxFailures::Ratio(0.05)));
    let StageKind::Fetch(f) = &classics.kind else {
        panic!()
    };
    assert_eq!(
        f.selection,
        FetchSelection::CuratedList {
            name: "afi-100".into(),
            path: plan.data.list_file("afi-100")
        }
    );
    let StageKind::PostProcess(post) = &plan.stage("post").unwrap().kind else {
        panic!()
    };
    assert_eq!(
        post.cultural_lists.lists.as_deref(),
        Some(&["sight-and-sound".to_owned()][..])
    );
    assert_eq!(post.cri.weights.timelessness, 0.5);
    assert_eq!(post.cri.weights.public_reception, 0.2);
    assert_eq!(post.cri.classic_age_years, 30);
    assert_eq!(post.reviews.per_movie, 3);

    let e = load(
        &p,
        env(&[("K", "x")]),
        &["stages.classics.curated_list=afi-10"],
    )
    .unwrap_err();
    let d = only_error(&e);
    assert_eq!(d.code, Code::MissingFile);
    assert_eq!(d.help.as_deref(), Some("did you mean `afi-100`?"));
}

#[test]
fn external_ids_missing_for_an_enrich_stage_is_a_warning() {
    let loaded = load(
        root().join("plans/dev-200.toml"),
        keys(),
        &[r#"stages.popular.append=["credits"]"#],
    )
    .unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].code, Code::MissingExternalIds);
    assert_eq!(
        loaded.warnings[0].site.as_ref().unwrap().origin,
        Origin::Set(0)
    );
}

#[test]
fn hash_is_stable_ignores_secrets_and_follows_meaning() {
    let path = root().join("plans/dev-200.toml");
    let a = load(&path, keys(), &[]).unwrap().plan.hash;
    let b = load(&path, keys(), &[]).unwrap().plan.hash;
    let other_keys = env(&[("TMDB_API_KEY", "another"), ("OMDB_API_KEY", "keys")]);
    let c = load(&path, other_keys, &[]).unwrap().plan.hash;
    let d = load(&path, keys(), &["stages.popular.pages=2"])
        .unwrap()
        .plan
        .hash;
    assert_eq!(a.len(), 64);
    assert_eq!(a, b);
    assert_eq!(a, c, "API keys are not part of the hash");
    assert_ne!(a, d);
}

// --- plan show ----------------------------------------------------------------------------

#[test]
fn show_masks_secrets_and_round_trips_to_the_same_plan() {
    let dir = tempfile::tempdir().unwrap();
    let vars = env(&[
        ("TMDB_API_KEY", "tmdb-secret-1234"),
        ("OMDB_API_KEY", "omdb-secret-5678"),
        ("DATABASE_URL", "postgres://app:db-pass-9@localhost/movies"),
    ]);
    let loaded = load(root().join("plans/categories.toml"), vars.clone(), &[]).unwrap();
    let shown = loaded.plan.to_toml();
    for secret in ["tmdb-secret-1234", "omdb-secret-5678", "db-pass-9"] {
        assert!(!shown.contains(secret), "{secret} leaked:\n{shown}");
    }
    assert!(
        shown.contains("url = \"postgres://app:***@localhost/movies\""),
        "{shown}"
    );
    assert!(shown.contains("api_key = \"***\""), "{shown}");

    // The shown plan is itself a plan with the same meaning (keys restored from the env).
    let again = shown
        .replace("\"***\"", "\"${TMDB_API_KEY}\"")
        .replace("app:***@", "app@");
    let p = write(dir.path(), "shown.toml", &again);
    let reloaded = load(&p, vars, &[]).unwrap();
    let mut expected = loaded.plan.clone();
    expected.database.url = Interpolated::Value(SecretUrl::new("postgres://app@localhost/movies"));
    assert_eq!(reloaded.plan.stages, expected.stages);
    assert_eq!(reloaded.plan.cache, expected.cache);
}

// --- the CLI -------------------------------------------------------------------------------

fn popctl() -> Command {
    let mut cmd = Command::cargo_bin("popctl").unwrap();
    cmd.current_dir(root())
        .env_remove("TMDB_API_KEY")
        .env_remove("OMDB_API_KEY")
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1");
    cmd
}

#[test]
fn cli_validate_shipped_plans_exits_0_and_prints_order_and_budget() {
    let mut args = vec!["validate".to_owned()];
    for dir in ["plans", "examples"] {
        for f in toml_files(&root().join(dir)) {
            args.push(f.strip_prefix(root()).unwrap().display().to_string());
        }
    }
    let out = popctl()
        .args(&args)
        .env("TMDB_API_KEY", "k")
        .env("OMDB_API_KEY", "k")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("   Validated plans/dev-200.toml (plan `dev-200`: 5 stages, 2 sources)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("       Order reset → seed → popular → omdb → post"),
        "{stderr}"
    );
    assert!(stderr.contains("      Budget tmdb: at most 210 requests (10 list pages + 200 details), at least 5.3s at 40/s"), "{stderr}");
    assert!(
        stderr.contains(
            "      Budget omdb: at most 200 requests, at least 40s at 5/s; daily quota 1,000"
        ),
        "{stderr}"
    );
}

#[test]
fn cli_validate_warnings_keep_exit_0_unless_denied() {
    let validate = |args: &[&str]| {
        let out = popctl().arg("validate").args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Unset API keys are a run's business: not reported, so CI without secrets passes even
    // with --deny-warnings.
    for args in [
        &["plans/quick-20.toml"][..],
        &["--deny-warnings", "plans/quick-20.toml"],
    ] {
        let (code, stderr) = validate(args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("unset_variable"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("(plan `quick-20`: 5 stages, 2 sources)"),
            "{stderr}"
        );
    }
    // Asked for, they are reported, as warnings or as errors.
    let (code, stderr) = validate(&["--warn", "unset_variable", "plans/quick-20.toml"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("popctl::plan::unset_variable") && stderr.contains("2 warnings)"),
        "{stderr}"
    );
    let (code, stderr) = validate(&[
        "--deny",
        "popctl::plan::unset_variable",
        "plans/quick-20.toml",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("plans/quick-20.toml is invalid: 2 warnings denied"),
        "{stderr}"
    );
    // Other warnings warn, fail with --deny-warnings, and can be allowed.
    let key = ["--set", "sources.omdb.api_key=literal"];
    let (code, stderr) = validate(&[&key[..], &["plans/quick-20.toml"]].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("literal_api_key"), "{stderr}");
    let (code, _) = validate(&[&key[..], &["--deny-warnings", "plans/quick-20.toml"]].concat());
    assert_eq!(code, Some(2));
    let (code, stderr) = validate(
        &[
            &key[..],
            &[
                "--deny-warnings",
                "--allow",
                "literal_api_key",
                "plans/quick-20.toml",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("literal_api_key"), "{stderr}");
}

#[test]
fn every_code_is_documented_and_parses_in_full_and_short() {
    let docs = std::fs::read_to_string(root().join("docs/plans.md")).unwrap();
    for &code in Code::ALL {
        assert!(
            docs.contains(&format!("| `{}` |", code.as_str())),
            "{code} is not in docs/plans.md's table"
        );
        assert_eq!(Code::parse(code.as_str()), Some(code));
        assert_eq!(Code::parse(code.short()), Some(code));
    }
    assert_eq!(Code::parse("popctl::plan::nothing"), None);
}

#[test]
fn cli_validate_groups_what_several_plans_share() {
    let mut args = vec!["validate".to_owned(), "--warn=unset_variable".to_owned()];
    for dir in ["plans", "examples"] {
        for f in toml_files(&root().join(dir)) {
            args.push(f.strip_prefix(root()).unwrap().display().to_string());
        }
    }
    let plans = args.len() - 2;
    let out = popctl().args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // plans/base.toml's two `${…}` are drawn once, not once per plan extending it.
    assert_eq!(
        stderr.matches("╭─[plans/base.toml:16:12]").count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "warning × {plans} plans: environment variable `TMDB_API_KEY` is not set (used by \
             `sources.tmdb.api_key`)\n"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.matches("Validated ").count(), plans, "{stderr}");
}

#[test]
fn cli_validate_every_invalid_plan_exits_2() {
    for file in toml_files(&root().join("tests/plans/invalid")) {
        let out = popctl().arg("validate").arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", file.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("is invalid: 1 error"),
            "{}: {stderr}",
            file.display()
        );
    }
}

#[test]
fn cli_validate_json_lists_diagnostics_with_positions() {
    let out = popctl()
        .args([
            "validate",
            "--format",
            "json",
            "tests/plans/invalid/unknown-stage-key.toml",
            "plans/quick-20.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    let bad = &doc["plans"][0];
    assert_eq!(bad["valid"], false);
    let diagnostics = bad["diagnostics"].as_array().unwrap();
    assert_eq!(
        diagnostics.len(),
        1,
        "the error alone: unset API keys are not reported unless asked"
    );
    let d = diagnostics
        .iter()
        .find(|d| d["severity"] == "error")
        .unwrap();
    assert_eq!(d["file"], "tests/plans/invalid/unknown-stage-key.toml");
    assert_eq!((d["line"].as_u64(), d["col"].as_u64()), (Some(9), Some(1)));
    assert_eq!(d["code"], "popctl::plan::unknown_field");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["help"], "did you mean `concurrency`?");
    assert_eq!(d["key"], "stages.popular.concurency");
    let ok = &doc["plans"][1];
    assert_eq!(ok["valid"], true);
    assert_eq!(ok["budget"]["sources"][1]["requests"], 21);
    assert_eq!(ok["diagnostics"], serde_json::json!([]));
    assert_eq!(
        ok["order"],
        serde_json::json!(["reset", "seed", "popular", "omdb", "post"])
    );
}

#[test]
fn cli_graph_dot_and_mermaid() {
    let out = popctl()
        .args(["graph", "plans/categories.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("graph_categories_dot", String::from_utf8_lossy(&out.stdout));
    let out = popctl()
        .args(["graph", "plans/dev-200.toml", "--format", "mermaid"])
        .env_remove("TMDB_API_KEY")
        .env_remove("OMDB_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("TMDB_API_KEY"),
        "the graph needs no keys, so it says nothing of them: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!(
        "graph_dev_200_mermaid",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = popctl()
        .args(["graph", "tests/plans/invalid/needs-cycle.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("dependency cycle: seed → post → popular → seed")
    );
}

#[test]
fn cli_schema_is_json_schema_and_plan_show_masks() {
    let out = popctl().arg("schema").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(schema["properties"]["stages"].is_object());

    let out = popctl()
        .args([
            "plan",
            "show",
            "examples/alice-dev.toml",
            "--set",
            "stages.popular.pages=2",
        ])
        .env("TMDB_API_KEY", "visible-only-in-env")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(!shown.contains("visible-only-in-env"));
    assert!(shown.contains("# Layers, lowest first: plans/base.toml, plans/dev-200.toml, examples/alice-dev.toml, --set"), "{shown}");
    assert!(
        shown.contains("[stages.popular]\nkind = \"fetch\""),
        "{shown}"
    );
    assert!(shown.contains("pages = 2\n"), "{shown}");
    assert!(
        shown.contains("api_key = \"${OMDB_API_KEY}\""),
        "an unset variable is shown as written: {shown}"
    );
}

/// One command of [`cli_keys_from_any_layer_never_reach_diagnostics`].
struct KeyCase {
    what: &'static str,
    args: Vec<String>,
    /// A `POPCTL_…` override to set.
    env: Option<(&'static str, &'static str)>,
    /// What shows that the diagnostic about the key was printed.
    shows: &'static str,
}

/// A key given through any layer (a plan file, a file it extends, `POPCTL_…`, `--set`) is
/// masked in every diagnostic of `validate` (text and JSON), `plan show` and `run --dry-run`,
/// also in a file with a syntax error and in a wrong-type error.
#[test]
fn cli_keys_from_any_layer_never_reach_diagnostics() {
    const KEY: &str = "k3y-d1st1nct-5e7a9c";
    const NUMERIC_KEY: &str = "97531086420";
    let dir = tempfile::tempdir().unwrap();
    let base = root().join("plans/base.toml").display().to_string();
    let quick = std::fs::read_to_string(root().join("plans/quick-20.toml"))
        .unwrap()
        .replace(
            "extends = \"base.toml\"",
            &format!("extends = {}", toml::Value::String(base)),
        );
    let keyed = format!("[sources.tmdb]\napi_key = \"{KEY}\"\n");
    let path = |p: PathBuf| p.display().to_string();
    let in_file = path(write(
        dir.path(),
        "keyed.toml",
        &format!("{quick}\n{keyed}"),
    ));
    write(dir.path(), "keyed-base.toml", &format!("{quick}\n{keyed}"));
    let in_extends = path(write(
        dir.path(),
        "child.toml",
        "[plan]\nextends = \"keyed-base.toml\"\n",
    ));
    let broken = path(write(
        dir.path(),
        "broken.toml",
        &format!("{keyed}rate = \n"),
    ));
    let quick_path = "plans/quick-20.toml";
    let env = Some(("POPCTL_SOURCES__TMDB__API_KEY", KEY));
    let args = |verb: &[&str], plan: &str, set: Option<&str>| {
        let mut a: Vec<String> = verb.iter().map(|s| s.to_string()).collect();
        a.push(plan.to_owned());
        if let Some(key) = set {
            a.extend(["--set".to_owned(), format!("sources.tmdb.api_key={key}")]);
        }
        a
    };
    let case = |what, args, env, shows| KeyCase {
        what,
        args,
        env,
        shows,
    };
    let literal = "a literal API key";
    let cases = [
        case(
            "validate --set",
            args(&["validate"], quick_path, Some(KEY)),
            None,
            literal,
        ),
        case(
            "validate --format json --set",
            args(&["validate", "--format", "json"], quick_path, Some(KEY)),
            None,
            "literal_api_key",
        ),
        case(
            "plan show --set",
            args(&["plan", "show"], quick_path, Some(KEY)),
            None,
            literal,
        ),
        case(
            "run --dry-run --set",
            args(&["run", "--dry-run"], quick_path, Some(KEY)),
            None,
            literal,
        ),
        case(
            "validate env",
            args(&["validate"], quick_path, None),
            env,
            literal,
        ),
        case(
            "validate --format json env",
            args(&["validate", "--format", "json"], quick_path, None),
            env,
            "literal_api_key",
        ),
        case(
            "plan show env",
            args(&["plan", "show"], quick_path, None),
            env,
            literal,
        ),
        case(
            "run --dry-run env",
            args(&["run", "--dry-run"], quick_path, None),
            env,
            literal,
        ),
        case(
            "validate plan file",
            args(&["validate"], &in_file, None),
            None,
            literal,
        ),
        case(
            "validate extends",
            args(&["validate"], &in_extends, None),
            None,
            literal,
        ),
        case(
            "run --dry-run extends",
            args(&["run", "--dry-run"], &in_extends, None),
            None,
            literal,
        ),
        case(
            "validate syntax error",
            args(&["validate"], &broken, None),
            None,
            "popctl::plan::syntax",
        ),
        case(
            "validate numeric --set",
            args(&["validate"], quick_path, Some(NUMERIC_KEY)),
            None,
            "found a number",
        ),
    ];
    for c in cases {
        let mut cmd = popctl();
        cmd.args(&c.args).env("OMDB_API_KEY", "omdb-stand-in");
        if let Some((name, value)) = c.env {
            cmd.env(name, value);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let what = c.what;
        assert!(
            stdout.contains(c.shows) || stderr.contains(c.shows),
            "{what}: the diagnostic was shown\n{stdout}\n{stderr}"
        );
        for key in [KEY, NUMERIC_KEY] {
            assert!(
                !stdout.contains(key),
                "{what}: stdout holds the key\n{stdout}"
            );
            assert!(
                !stderr.contains(key),
                "{what}: stderr holds the key\n{stderr}"
            );
        }
    }
}

#[test]
fn committed_schema_is_current() {
    let committed = std::fs::read_to_string(root().join("docs/plan.schema.json")).unwrap();
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert!(
        committed == plan::schema::json_schema(),
        "docs/plan.schema.json is stale: run `cargo run -- schema -o docs/plan.schema.json`"
    );
}

// --- robustness ------------------------------------------------------------------------------

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Words the plan format knows, so generated documents reach deep into the compiler.
    const WORDS: &[&str] = &[
        "plan",
        "name",
        "extends",
        "database",
        "url",
        "sources",
        "tmdb",
        "omdb",
        "kind",
        "api_key",
        "base_url",
        "rate",
        "timeout",
        "daily_quota",
        "max_body",
        "max_rate_limited_wait",
        "defaults",
        "retry",
        "attempts",
        "backoff",
        "initial",
        "max",
        "jitter",
        "stages",
        "reset",
        "seed",
        "fetch",
        "enrich",
        "post_process",
        "needs",
        "enabled",
        "concurrency",
        "delay",
        "on_error",
        "max_failures",
        "streaming",
        "list",
        "pages",
        "ids",
        "curated_list",
        "append",
        "sort_by",
        "with_genres",
        "scope",
        "steps",
        "cri",
        "weights",
        "recommendations",
        "top_n",
        "reviews",
        "per_movie",
        "cache",
        "mode",
        "ttl",
        "data",
        "dir",
        "popular",
        "discover",
        "filters",
        "limit",
        "with_genres",
        "primary_release_date.gte",
        "Horror|27",
        "1980-01-01",
        "40/s",
        "15s",
        "8MiB",
        "${X}",
        "$",
        "credits",
        "a",
    ];

    fn value() -> impl Strategy<Value = toml::Value> {
        let leaf = prop_oneof![
            proptest::sample::select(WORDS).prop_map(|w| toml::Value::String(w.to_owned())),
            any::<String>().prop_map(toml::Value::String),
            any::<i64>().prop_map(toml::Value::Integer),
            (-2i64..600).prop_map(toml::Value::Integer),
            any::<f64>().prop_map(toml::Value::Float),
            any::<bool>().prop_map(toml::Value::Boolean),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(toml::Value::Array),
                proptest::collection::btree_map(
                    proptest::sample::select(WORDS).prop_map(str::to_owned),
                    inner,
                    0..6
                )
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
            ]
        })
    }

    fn document() -> impl Strategy<Value = toml::Table> {
        proptest::collection::btree_map(
            proptest::sample::select(WORDS).prop_map(str::to_owned),
            value(),
            0..8,
        )
        .prop_map(|m| m.into_iter().collect())
    }

    fn check_no_panic(text: &[u8], sets: Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz.toml");
        std::fs::write(&path, text).unwrap();
        let opts = LoadOptions {
            path,
            sets,
            env: env(&[("X", "1"), ("POPCTL_STAGES__A__PAGES", "x")]),
        };
        if let Ok(loaded) = plan::load(&opts) {
            let _ = plan::budget(&loaded.plan);
            let _ = loaded.plan.to_toml();
            let _ = loaded.plan.require_resolved();
            let _ = Dag::new(&loaded.plan).map(|d| (d.to_dot(), d.to_mermaid()));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            check_no_panic(&bytes, Vec::new());
        }

        #[test]
        fn arbitrary_toml_never_panics(doc in document(), set in proptest::option::of("[a-z._]{1,20}=[a-z0-9\\[\\]\",]{0,12}")) {
            let text = toml::to_string(&doc).unwrap_or_default();
            check_no_panic(text.as_bytes(), set.into_iter().collect());
        }
    }
}

// --- the format's declaration, render and the compiler in step ----------------------------

/// The paths (`stages.*.retry.attempts`) of `value`'s keys, checked against `table`: a key the
/// declaration does not have fails the test.
fn rendered_keys(
    value: &toml::Table,
    table: &'static plan::keys::Table,
    at: &str,
    out: &mut std::collections::BTreeSet<String>,
) {
    use plan::keys::{self, Ty};
    for (name, v) in value {
        let key = table
            .get(name)
            .or_else(|| {
                // A stage: the common keys and its kind's.
                let kind = value.get("kind")?.as_str()?;
                (table.keys.as_ptr() == keys::STAGE.keys.as_ptr())
                    .then(|| keys::of_kind(kind).get(name))
                    .flatten()
            })
            .unwrap_or_else(|| panic!("render wrote `{at}{name}`, which keys.rs does not declare"));
        let path = format!("{at}{name}");
        out.insert(path.clone());
        match (key.ty, v) {
            (Ty::Table(t), toml::Value::Table(inner)) => {
                rendered_keys(inner, t, &format!("{path}."), out)
            }
            (Ty::Tables(t), toml::Value::Array(items)) => {
                for inner in items {
                    rendered_keys(inner.as_table().unwrap(), t, &format!("{path}.*."), out);
                }
            }
            (Ty::Map(Ty::Table(t)), toml::Value::Table(entries)) => {
                for inner in entries.values() {
                    rendered_keys(inner.as_table().unwrap(), t, &format!("{path}.*."), out);
                }
            }
            (Ty::Stages, toml::Value::Table(stages)) => {
                for inner in stages.values() {
                    rendered_keys(
                        inner.as_table().unwrap(),
                        &keys::STAGE,
                        &format!("{path}.*."),
                        out,
                    );
                }
            }
            _ => {}
        }
    }
}

/// For each key of `given` bound to a model field, the value `shown` writes for it, compared
/// as the key's type reads it ("4MiB" and 4194304 are one size); differences go to `wrong`,
/// the paths compared (stage names as `*`) to `seen`.
fn bound_values_come_back(
    given: &toml::Table,
    shown: &toml::Table,
    table: &'static plan::keys::Table,
    at: (&str, &str),
    wrong: &mut Vec<String>,
    seen: &mut std::collections::BTreeSet<String>,
) {
    use plan::keys::{self, Bind, Ty};
    use popctl::plan::units::{parse_duration, parse_rate, parse_size};
    let (at, generic) = at;
    for (name, v) in given {
        let kind = given.get("kind").and_then(|k| k.as_str());
        let Some(key) = table.get(name).or_else(|| {
            (table.keys.as_ptr() == keys::STAGE.keys.as_ptr())
                .then(|| keys::of_kind(kind?).get(name))
                .flatten()
        }) else {
            continue;
        };
        let path = (format!("{at}{name}"), format!("{generic}{name}"));
        let back = shown.get(name);
        match (key.bind, key.ty, v, back) {
            (Some(Bind::Field { .. }), ty, v, back) => {
                seen.insert(path.1.clone());
                let same = match (ty, back) {
                    (_, None) => false,
                    (Ty::Duration | Ty::PositiveDuration { .. }, Some(b)) => {
                        parse_duration(v.as_str().unwrap()).ok()
                            == b.as_str().and_then(|b| parse_duration(b).ok())
                    }
                    (Ty::Rate, Some(b)) => {
                        parse_rate(v.as_str().unwrap()).ok()
                            == b.as_str().and_then(|b| parse_rate(b).ok())
                    }
                    (Ty::Size { .. }, Some(b)) => {
                        let size = |v: &toml::Value| match v {
                            toml::Value::Integer(n) => u64::try_from(*n).ok(),
                            toml::Value::String(s) => parse_size(s).ok(),
                            _ => None,
                        };
                        size(v).is_some() && size(v) == size(b)
                    }
                    (Ty::Float { .. }, Some(b)) => {
                        let f = |v: &toml::Value| v.as_float().or(v.as_integer().map(|n| n as f64));
                        f(v).is_some() && f(v) == f(b)
                    }
                    (_, Some(b)) => v == b,
                };
                if !same {
                    wrong.push(format!("{}: given {v}, shown {back:?}", path.0));
                }
            }
            (_, Ty::Table(t), toml::Value::Table(inner), Some(toml::Value::Table(back))) => {
                let at = (format!("{}.", path.0), format!("{}.", path.1));
                bound_values_come_back(inner, back, t, (&at.0, &at.1), wrong, seen)
            }
            // Sources and stages: each entry under its own name.
            (_, Ty::Map(&Ty::Table(_)) | Ty::Stages, toml::Value::Table(entries), back) => {
                let t = match key.ty {
                    Ty::Map(&Ty::Table(t)) => t,
                    _ => &keys::STAGE,
                };
                for (entry, inner) in entries {
                    let back = back.and_then(|b| b.get(entry)).and_then(|b| b.as_table());
                    let (Some(inner), Some(back)) = (inner.as_table(), back) else {
                        wrong.push(format!("{}.{entry}: not shown", path.0));
                        continue;
                    };
                    let at = (format!("{}.{entry}.", path.0), format!("{}.*.", path.1));
                    bound_values_come_back(inner, back, t, (&at.0, &at.1), wrong, seen);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn show_writes_each_bound_key_with_the_value_it_was_given() {
    let vars = env(&[("TMDB_API_KEY", "t-key"), ("OMDB_API_KEY", "o-key")]);
    let file = root().join("tests/plans/valid/every-key.toml");
    let given: toml::Table = std::fs::read_to_string(&file).unwrap().parse().unwrap();
    let shown: toml::Table = load(&file, vars, &[])
        .unwrap()
        .plan
        .to_toml()
        .parse()
        .unwrap();
    let (mut wrong, mut seen) = (Vec::new(), std::collections::BTreeSet::new());
    bound_values_come_back(
        &given,
        &shown,
        &plan::keys::TOP,
        ("", ""),
        &mut wrong,
        &mut seen,
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
    let mut declared = std::collections::BTreeSet::new();
    let bound = |k: &plan::keys::Key| matches!(k.bind, Some(plan::keys::Bind::Field { .. }));
    declared_keys(&plan::keys::TOP, "", &bound, &mut declared);
    // `[defaults.retry]` is merged into each stage's `retry`, which is compared there.
    declared.retain(|k| !k.starts_with("defaults"));
    let unset: Vec<&String> = declared.difference(&seen).collect();
    assert!(unset.is_empty(), "every-key.toml does not set {unset:?}");
    assert!(seen.len() >= 40, "{seen:?}");
}

/// The paths of the keys the declaration allows that `want` takes, stage kinds flattened into
/// `stages.*.`.
fn declared_keys(
    table: &'static plan::keys::Table,
    at: &str,
    want: &dyn Fn(&plan::keys::Key) -> bool,
    out: &mut std::collections::BTreeSet<String>,
) {
    use plan::keys::{self, Ty};
    let kinds = popctl::plan::STAGE_KINDS.iter().map(|k| keys::of_kind(k));
    let extra: Vec<&plan::keys::Key> = if table.keys.as_ptr() == keys::STAGE.keys.as_ptr() {
        kinds.flat_map(|t| t.keys.iter()).collect()
    } else {
        Vec::new()
    };
    for key in table.keys.iter().chain(extra) {
        let path = format!("{at}{}", key.name);
        if want(key) {
            out.insert(path.clone());
        }
        match key.ty {
            Ty::Table(t) => declared_keys(t, &format!("{path}."), want, out),
            Ty::Map(Ty::Table(t)) => declared_keys(t, &format!("{path}.*."), want, out),
            Ty::Tables(t) => declared_keys(t, &format!("{path}.*."), want, out),
            Ty::Stages => declared_keys(&keys::STAGE, &format!("{path}.*."), want, out),
            _ => {}
        }
    }
}

#[test]
fn show_writes_every_declared_key_and_means_the_same_plan() {
    let vars = env(&[("TMDB_API_KEY", "t-key"), ("OMDB_API_KEY", "o-key")]);
    let file = root().join("tests/plans/valid/every-key.toml");
    let loaded = load(&file, vars.clone(), &[]).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let shown = loaded.plan.to_toml();
    let doc: toml::Table = shown.parse().unwrap();
    let mut rendered = std::collections::BTreeSet::new();
    rendered_keys(&doc, &plan::keys::TOP, "", &mut rendered);
    let mut declared = std::collections::BTreeSet::new();
    declared_keys(&plan::keys::TOP, "", &|_| true, &mut declared);
    // `extends` and `[defaults]` are resolved when a plan loads: show writes the merged plan,
    // with the default retry policy in each stage's `retry`.
    declared.remove("plan.extends");
    declared.retain(|k| !k.starts_with("defaults"));
    let missing: Vec<&String> = declared.difference(&rendered).collect();
    assert!(
        missing.is_empty(),
        "show does not write {missing:?}:\n{shown}"
    );

    // What it writes is the same plan (the keys come back from the environment).
    let dir = tempfile::tempdir().unwrap();
    let again = shown.replace("\"***\"", "\"${TMDB_API_KEY}\"");
    let p = write(dir.path(), "shown.toml", &again);
    let reloaded = load(&p, vars, &[]).unwrap().plan;
    assert_eq!(reloaded.stages, loaded.plan.stages);
    assert_eq!(reloaded.cache, loaded.plan.cache);
    assert_eq!(reloaded.data, loaded.plan.data);
    assert_eq!(reloaded.description, loaded.plan.description);
    for (name, s) in &loaded.plan.sources {
        let r = &reloaded.sources[name];
        assert_eq!(
            (
                r.kind,
                &r.base_url,
                r.rate,
                r.timeout,
                r.daily_quota,
                r.max_body
            ),
            (
                s.kind,
                &s.base_url,
                s.rate,
                s.timeout,
                s.daily_quota,
                s.max_body
            )
        );
        assert_eq!(
            (r.max_rate_limited_wait, r.store_raw, &r.language, &r.region),
            (s.max_rate_limited_wait, s.store_raw, &s.language, &s.region)
        );
    }
}

// --- the people stage --------------------------------------------------------------------------

#[test]
fn a_people_stage_compiles_with_its_defaults_and_warns_without_credits() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
[sources.tmdb]
api_key = "${TMDB_API_KEY}"

[stages.popular]
kind = "fetch"
list = "popular"
append = ["external_ids"]

[stages.people]
kind = "people"
needs = ["popular"]
jobs = ["Director", "Director", "Original Music Composer"]
"#;
    let p = write(dir.path(), "people.toml", text);
    let loaded = load(&p, keys(), &[]).unwrap();
    let Some(plan::StageKind::People(people)) = loaded.plan.stage("people").map(|s| &s.kind) else {
        panic!("no people stage");
    };
    assert_eq!(people.source, "tmdb");
    assert_eq!(people.select, plan::PeopleSelect::Credited);
    assert_eq!(people.cast_top, plan::PeopleStage::DEFAULT_CAST_TOP);
    assert_eq!(people.jobs, ["Director", "Original Music Composer"]);
    let mut codes: Vec<&str> = loaded.warnings.iter().map(|w| w.code.as_str()).collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        ["popctl::plan::duplicate", "popctl::plan::missing_credits"],
        "{:#?}",
        loaded.warnings
    );
    // Its requests are counted at run time; the graph says whom it asks about.
    let budget = plan::budget(&loaded.plan);
    let stage = budget.stages.iter().find(|s| s.stage == "people").unwrap();
    assert_eq!(stage.source.as_deref(), Some("tmdb"));
    assert!(stage.requests.is_none());
    assert!(
        stage
            .note
            .as_deref()
            .unwrap()
            .contains("counted at run time")
    );

    // Defaults when nothing is said, and `select = "all"`.
    let all = text.replace(
        r#"jobs = ["Director", "Director", "Original Music Composer"]"#,
        r#"select = "all""#,
    );
    let p = write(dir.path(), "all.toml", &all);
    let loaded = load(&p, keys(), &[]).unwrap();
    let Some(plan::StageKind::People(people)) = loaded.plan.stage("people").map(|s| &s.kind) else {
        panic!("no people stage");
    };
    assert_eq!(people.select, plan::PeopleSelect::All);
    assert_eq!(people.jobs, plan::PeopleStage::default_jobs());
    // Shown and read back, the same stage.
    let shown = loaded
        .plan
        .to_toml()
        .replace("\"***\"", "\"${TMDB_API_KEY}\"");
    let again = write(dir.path(), "shown.toml", &shown);
    assert_eq!(
        load(&again, keys(), &[]).unwrap().plan.stages,
        loaded.plan.stages
    );
}

#[test]
fn per_kind_defaults_fill_what_a_stage_leaves_unset_and_errors_point_at_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"[sources.tmdb]
api_key = "${TMDB_API_KEY}"

[sources.omdb]
api_key = "${OMDB_API_KEY}"

[defaults.fetch]
append = ["credits", "keywords"]
concurrency = 8
retry = { attempts = 2 }

[defaults.enrich]
needs = ["kind:fetch"]

[stages.popular]
kind = "fetch"
list = "popular"

[stages.top]
kind = "fetch"
list = "top_rated"
append = ["external_ids"]
concurrency = 2

[stages.omdb]
kind = "enrich"

[stages.post]
kind = "post_process"
needs = ["omdb", "kind:fetch", "top"]
steps = ["cri_scores"]
"#;
    let p = write(dir.path(), "p.toml", text);
    let plan = load(&p, keys(), &[]).unwrap().plan;
    let fetch = |name: &str| {
        let s = plan.stage(name).unwrap();
        let StageKind::Fetch(f) = &s.kind else {
            panic!("fetch")
        };
        (s.concurrency, s.retry.attempts, f.append.clone())
    };
    assert_eq!(
        fetch("popular"),
        (8, 2, vec!["credits".into(), "keywords".into()])
    );
    // A stage's own key replaces the default's whole value.
    assert_eq!(fetch("top"), (2, 2, vec!["external_ids".into()]));
    // `kind:fetch` is every fetch stage, in written order, each once.
    assert_eq!(plan.stage("omdb").unwrap().needs, ["popular", "top"]);
    assert_eq!(
        plan.stage("post").unwrap().needs,
        ["omdb", "popular", "top"]
    );

    // A bad default is reported in each stage it reaches (`top` sets its own), at its line.
    let bad = text.replace("concurrency = 8", "concurrency = 0");
    let e = load(write(dir.path(), "bad.toml", &bad), keys(), &[]).unwrap_err();
    let errors: Vec<&PlanDiagnostic> = e.errors().collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].code, Code::OutOfRange);
    assert_eq!(errors[0].key.as_deref(), Some("stages.popular.concurrency"));
    assert_eq!(at(errors[0]), (9, 15, "0".into()));

    // An unknown key in a kind's defaults, and `kind` itself, are located errors.
    let bad = text.replace("concurrency = 8", "apend = []\nkind = \"fetch\"");
    let e = load(write(dir.path(), "bad2.toml", &bad), keys(), &[]).unwrap_err();
    let errors: Vec<&PlanDiagnostic> = e.errors().collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors.iter().all(|d| d.code == Code::UnknownField));
    assert_eq!(at(errors[0]), (9, 1, "apend".into()));
    assert!(errors[0].help.as_deref().unwrap_or("").contains("`append`"));
    assert_eq!(at(errors[1]), (10, 1, "kind".into()));

    // `kind:` naming no kind, or a kind with no stage.
    for (needs, expect) in [
        ("kind:fecth", "`fetch`"),
        ("kind:people", "no other `people` stage"),
    ] {
        let bad = text.replace(
            "needs = [\"kind:fetch\"]",
            &format!("needs = [\"{needs}\"]"),
        );
        let e = load(write(dir.path(), "bad3.toml", &bad), keys(), &[]).unwrap_err();
        let d = only_error(&e);
        assert_eq!(d.code, Code::UnknownNeed);
        assert_eq!(at(d).0, 13);
        let said = format!("{} {}", d.message, d.help.as_deref().unwrap_or(""));
        assert!(said.contains(expect), "{said}");
    }
}
