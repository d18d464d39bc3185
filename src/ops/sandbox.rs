//! `popctl sandbox serve`: settings from a file and flags, the simulator started on loopback,
//! where it is and which keys it takes said through the shell, served until told to stop.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::plan::{self, SourceKind};
use crate::report::Shell;
use crate::sim::{self, Api, SandboxConfig, SimError, Stats};

/// The port `serve` uses when neither a flag nor the config file names one.
pub const DEFAULT_PORT: u16 = 8787;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// A sandbox TOML file (see `sandbox.example.toml`).
    pub config: Option<PathBuf>,
    /// Overrides the file; 0 picks a free port.
    pub port: Option<u16>,
    pub seed: Option<u64>,
    pub movies: Option<u32>,
}

/// The settings `serve` runs with: the file (if any), then the flags on top. The port is the
/// flag's, else the file's `port`, else [`DEFAULT_PORT`].
pub fn settings(options: &Options) -> Result<SandboxConfig, SimError> {
    let (mut config, file_sets_port) = match &options.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| SimError::ReadConfig {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            let config = SandboxConfig::from_toml(&text, &path.display().to_string())?;
            let sets_port = text
                .parse::<toml::Table>()
                .is_ok_and(|t| t.contains_key("port"));
            (config, sets_port)
        }
        None => (SandboxConfig::default(), false),
    };
    if let Some(seed) = options.seed {
        config.seed = seed;
    }
    if let Some(movies) = options.movies {
        config.movies = movies;
    }
    config.port = match options.port {
        Some(port) => port,
        None if file_sets_port => config.port,
        None => DEFAULT_PORT,
    };
    config
        .validate()
        .map_err(|(key, message)| SimError::InvalidSetting { key, message })?;
    Ok(config)
}

/// Runs the sandbox until `stop` completes, then shuts it down and returns what it served.
pub async fn serve(
    options: &Options,
    shell: &Shell,
    stop: impl Future<Output = ()>,
) -> Result<Stats, SimError> {
    let config = settings(options)?;
    let sandbox = sim::start(config.clone()).await?;
    shell.status(
        "Sandbox",
        format!(
            "{} movies (seed {}, today {}) on {}",
            sandbox.catalog().len(),
            config.seed,
            config.today,
            sandbox.addr()
        ),
    );
    shell.status(
        "TMDB",
        format!(
            "{}  key `{}` (?api_key= or Authorization: Bearer)",
            sandbox.tmdb_base_url(),
            sandbox.tmdb_key()
        ),
    );
    shell.status(
        "OMDb",
        format!(
            "{}/  key `{}` (?apikey=)",
            sandbox.omdb_base_url(),
            sandbox.omdb_key()
        ),
    );
    shell.status(
        "Stats",
        format!("{}/__sandbox/stats", sandbox.omdb_base_url()),
    );
    for line in describe_limits(&config) {
        shell.note(line);
    }
    // What to paste into another shell so `popctl run PLAN` (without --sandbox) uses it.
    shell.out_text(&env_lines(sandbox.addr(), &config));
    shell.note("serving until Ctrl-C");

    stop.await;
    let stats = sandbox.stats();
    sandbox.shutdown().await;
    shell.status(
        "Stopped",
        format!(
            "after {} requests (TMDB {}, OMDb {}; {} rate-limited, {} faults injected)",
            stats.requests,
            stats.tmdb.requests,
            stats.omdb.requests,
            stats.rate_limited,
            faults_total(&stats)
        ),
    );
    Ok(stats)
}

/// `--print-env`: the lines `serve` would print for these settings, without serving, for
/// `eval "$(popctl sandbox serve --print-env)"` before starting it. Port 0 is refused: the
/// port it picks is only known once it listens.
pub fn print_env(options: &Options, shell: &Shell) -> Result<(), SimError> {
    let config = settings(options)?;
    if config.port == 0 {
        return Err(SimError::InvalidSetting {
            key: "port".to_owned(),
            message: "--print-env needs a fixed port: port 0 is picked only when serving starts \
                      (serve prints the same lines then)"
                .to_owned(),
        });
    }
    shell.out_text(&env_lines(
        SocketAddr::from((Ipv4Addr::LOCALHOST, config.port)),
        &config,
    ));
    Ok(())
}

/// `export` lines that point a plan's `tmdb` and `omdb` sources (as the shipped plans name
/// them) at a sandbox on `addr`: the `POPCTL_SOURCES__…__BASE_URL` overrides plans honour and
/// the key variables they read (`${TMDB_API_KEY}`, `${OMDB_API_KEY}`).
pub fn env_lines(addr: SocketAddr, config: &SandboxConfig) -> String {
    let mut out = String::new();
    for (api, kind) in [(Api::Tmdb, SourceKind::Tmdb), (Api::Omdb, SourceKind::Omdb)] {
        let name = kind.as_str();
        out.push_str(&format!(
            "export {}={}\n",
            plan::env_var_for(&["sources", name, "base_url"]),
            shell_quote(&sim::base_url(api, addr))
        ));
    }
    for (kind, key) in [
        (SourceKind::Tmdb, &config.tmdb_key),
        (SourceKind::Omdb, &config.omdb_key),
    ] {
        out.push_str(&format!(
            "export {}={}\n",
            plan::default_key_var(kind.as_str()),
            shell_quote(key)
        ));
    }
    out
}

/// `value` as one word for a POSIX shell: as is when it is plain, else in single quotes.
fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

fn faults_total(stats: &Stats) -> u64 {
    let f = &stats.faults;
    f.http_500 + f.http_502 + f.http_503 + f.stalled + f.truncated + f.short_body + f.dropped
}

/// One line per active limit, fault or delay, so nobody wonders why requests fail.
fn describe_limits(config: &SandboxConfig) -> Vec<String> {
    let mut lines = Vec::new();
    for (api, limit) in [("TMDB", config.tmdb_limit), ("OMDb", config.omdb_limit)] {
        if let Some(l) = limit {
            lines.push(format!(
                "{api} is rate-limited to {} requests/s (burst {})",
                l.rps, l.burst
            ));
        }
    }
    if let Some(q) = config.omdb_daily_quota {
        lines.push(format!(
            "OMDb answers `Request limit reached!` after {q} requests"
        ));
    }
    let active: Vec<String> = config
        .faults
        .probabilities()
        .into_iter()
        .filter(|(_, p)| *p > 0.0)
        .map(|(name, p)| format!("{name} {p}"))
        .collect();
    if !active.is_empty() {
        lines.push(format!("faults: {}", active.join(", ")));
    }
    if config.latency.max_ms > 0 {
        lines.push(format!(
            "latency: {}–{} ms per request",
            config.latency.min_ms, config.latency.max_ms
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verbosity;

    #[test]
    fn flags_override_the_file_and_the_port_falls_back_to_8787() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sandbox.toml");
        std::fs::write(&file, "seed = 3\nmovies = 100\n").unwrap();
        let opts = Options {
            config: Some(file.clone()),
            ..Options::default()
        };
        let c = settings(&opts).unwrap();
        assert_eq!((c.seed, c.movies, c.port), (3, 100, DEFAULT_PORT));

        std::fs::write(&file, "seed = 3\nport = 0\n").unwrap();
        assert_eq!(settings(&opts).unwrap().port, 0);
        let c = settings(&Options {
            port: Some(9000),
            seed: Some(8),
            movies: Some(50),
            ..opts.clone()
        })
        .unwrap();
        assert_eq!((c.seed, c.movies, c.port), (8, 50, 9000));

        let err = settings(&Options {
            movies: Some(0),
            ..Options::default()
        })
        .unwrap_err();
        assert!(matches!(err, SimError::InvalidSetting { .. }), "{err}");
        let err = settings(&Options {
            config: Some(dir.path().join("missing.toml")),
            ..Options::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("missing.toml"), "{err}");
    }

    #[tokio::test]
    async fn serve_says_where_and_which_keys_then_stops() {
        let (shell, out) = Shell::capture(Verbosity::Normal);
        let opts = Options {
            port: Some(0),
            movies: Some(50),
            ..Options::default()
        };
        let stats = serve(&opts, &shell, async {}).await.unwrap();
        assert_eq!(stats.requests, 0);
        let err = out.stderr();
        assert!(err.contains("TMDB http://127.0.0.1:"), "{err}");
        assert!(err.contains("key `sandbox`"), "{err}");
        assert!(err.contains("Stopped after 0 requests"), "{err}");
        let stdout = out.stdout();
        assert!(stdout.contains("export TMDB_API_KEY=sandbox\n"), "{stdout}");
        assert!(
            stdout.contains("export POPCTL_SOURCES__OMDB__BASE_URL=http://127.0.0.1:"),
            "{stdout}"
        );
    }

    #[test]
    fn env_lines_are_what_plans_read_and_quote_what_a_shell_would_split() {
        let config = SandboxConfig {
            omdb_key: "it's mine".into(),
            ..SandboxConfig::default()
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 8787));
        assert_eq!(
            env_lines(addr, &config),
            "export POPCTL_SOURCES__TMDB__BASE_URL=http://127.0.0.1:8787/3\n\
             export POPCTL_SOURCES__OMDB__BASE_URL=http://127.0.0.1:8787\n\
             export TMDB_API_KEY=sandbox\n\
             export OMDB_API_KEY='it'\\''s mine'\n"
        );
        let (shell, out) = Shell::capture(Verbosity::Normal);
        print_env(&Options::default(), &shell).unwrap();
        assert_eq!(out.stdout(), env_lines(addr, &SandboxConfig::default()));
        let err = print_env(
            &Options {
                port: Some(0),
                ..Options::default()
            },
            &shell,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("--print-env needs a fixed port"),
            "{err}"
        );
    }

    #[test]
    fn active_limits_and_faults_are_described() {
        let config = SandboxConfig {
            tmdb_limit: Some(sim::RateLimit {
                rps: 40.0,
                burst: 40,
            }),
            omdb_daily_quota: Some(1000),
            faults: sim::Faults {
                p503: 0.01,
                ..sim::Faults::none()
            },
            latency: sim::Latency {
                min_ms: 30,
                max_ms: 150,
            },
            ..SandboxConfig::default()
        };
        let lines = describe_limits(&config).join("\n");
        assert!(lines.contains("TMDB is rate-limited to 40 requests/s (burst 40)"));
        assert!(lines.contains("after 1000 requests"));
        assert!(lines.contains("p503 0.01"));
        assert!(lines.contains("30–150 ms"));
        assert!(describe_limits(&SandboxConfig::default()).is_empty());
    }
}
