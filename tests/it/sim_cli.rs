//! `popctl sandbox serve` as a user runs it: a real process on a free port, a real request, a
//! real run of a shipped plan pointed at it by the lines it prints, Ctrl-C (SIGINT), and the
//! exit codes for bad settings.

// Test helpers panic with the failure in hand, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

#[cfg(unix)]
#[tokio::test]
async fn serve_prints_the_lines_plans_read_answers_and_stops_on_ctrl_c() {
    let mut child = Command::cargo_bin("popctl")
        .unwrap()
        .args([
            "sandbox", "serve", "--port", "0", "--movies", "300", "--seed", "5",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let vars: Vec<(String, String)> = BufReader::new(stdout)
        .lines()
        .take(4)
        .map(|l| {
            let l = l.unwrap();
            let (k, v) = l.strip_prefix("export ").unwrap().split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} not printed: {vars:?}"))
    };
    assert_eq!(var("TMDB_API_KEY"), "sandbox");
    assert_eq!(var("OMDB_API_KEY"), "sandbox");
    let url = format!(
        "{}/genre/movie/list?api_key=sandbox",
        var("POPCTL_SOURCES__TMDB__BASE_URL")
    );
    let (status, body) = super::sim::get_json(&super::sim::client(), &url).await;
    assert_eq!(status, 200);
    assert_eq!(body["genres"].as_array().unwrap().len(), 19);

    // Those lines in the environment are all a shipped plan needs to run against it.
    let dir = tempfile::tempdir().unwrap();
    let mut run = crate::run_support::popctl();
    run.arg("run").arg("plans/quick-20.toml");
    for set in crate::run_support::quick(1) {
        run.arg("--set").arg(set);
    }
    run.arg("--set").arg(format!(
        "database.url=sqlite://{}?mode=rwc",
        dir.path().join("served.db").display()
    ));
    run.envs(vars.iter().map(|(k, v)| (k, v)));
    let out = crate::run_support::output(run).await;
    crate::run_support::assert_exit(&out, 0);
    let served = super::sim::get_json(
        &super::sim::client(),
        &format!("{}/__sandbox/stats", var("POPCTL_SOURCES__OMDB__BASE_URL")),
    )
    .await
    .1;
    assert_eq!(served["routes"]["GET /3/movie/{id}"]["200"], 20, "{served}");
    assert!(served["omdb"]["requests"].as_u64().unwrap() > 0, "{served}");

    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // A hung server must fail the test, not hang it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("popctl sandbox serve did not stop on SIGINT");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(stderr.contains("300 movies (seed 5"), "{stderr}");
    assert!(stderr.contains("key `sandbox`"), "{stderr}");
    assert!(stderr.contains("Stopped after "), "{stderr}");
}

#[test]
fn bad_settings_exit_with_2_and_say_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sandbox.toml");
    std::fs::write(&file, "seed = 1\n[faults]\np503 = 0.5\ndrop = 0.9\n").unwrap();
    let out = Command::cargo_bin("popctl")
        .unwrap()
        .args(["sandbox", "serve", "--port", "0", "--config"])
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sandbox.toml"), "{stderr}");
    assert!(stderr.contains("more than 1"), "{stderr}");
    assert!(stderr.contains("popctl::sim::config"), "{stderr}");

    let out = Command::cargo_bin("popctl")
        .unwrap()
        .args(["sandbox", "serve", "--port", "0", "--movies", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("movies"));
}

#[test]
fn a_taken_port_exits_with_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::cargo_bin("popctl")
        .unwrap()
        .args(["sandbox", "serve", "--movies", "10", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
}

#[test]
fn the_example_config_is_valid_and_means_what_it_says() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sandbox.example.toml");
    let c = popctl::sim::SandboxConfig::from_file(&path).unwrap();
    assert_eq!((c.seed, c.movies, c.port), (42, 10_000, 8787));
    assert_eq!(c.omdb_daily_quota, Some(1000));
    assert_eq!(c.tmdb_limit.unwrap().burst, 40);
    assert_eq!(c.omdb_limit, None);
    assert_eq!((c.latency.min_ms, c.latency.max_ms), (30, 150));
    assert_eq!(c.faults.p500, 0.01);
    assert_eq!(c.today, popctl::sim::SandboxConfig::default().today);
    assert_eq!(c.odd_movies, popctl::sim::OddMovies::default());
}
