//! How long loading a plan takes: parse, layer, interpolate, compile, check, hash. `validate`,
//! `graph`, `plan show` and every `run` pay this once per plan.
//!
//! `cargo bench --bench plan_load` prints the median of repeated loads of the shipped dev-200
//! plan (two files) and of a generated plan with many stages.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // a benchmark reports on stdout

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use popctl::plan::{self, LoadOptions};

fn median_load(path: &Path, env: &BTreeMap<String, String>, rounds: usize) -> Duration {
    let opts = LoadOptions {
        path: path.to_path_buf(),
        sets: Vec::new(),
        env: env.clone(),
    };
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            let loaded = plan::load(&opts).unwrap();
            let elapsed = start.elapsed();
            assert!(!loaded.plan.stages.is_empty());
            elapsed
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// A plan with `fetches` fetch stages fanning out from a seed and into one enrich stage.
fn generated_plan(fetches: usize) -> String {
    let mut text = String::from(
        "[sources.tmdb]\napi_key = \"${TMDB_API_KEY}\"\n\n[sources.omdb]\napi_key = \"${OMDB_API_KEY}\"\n\n[stages.reset]\nkind = \"reset\"\n\n[stages.seed]\nkind = \"seed\"\nneeds = [\"reset\"]\n",
    );
    let lists = ["popular", "top_rated", "now_playing", "upcoming"];
    let mut names = Vec::new();
    for i in 0..fetches {
        let name = format!("fetch_{i}");
        text.push_str(&format!(
            "\n[stages.{name}]\nkind = \"fetch\"\nneeds = [\"seed\"]\nlist = \"{}\"\npages = {}\nconcurrency = 4\nappend = [\"credits\", \"keywords\", \"external_ids\"]\n",
            lists[i % lists.len()],
            1 + i % 5
        ));
        names.push(format!("\"{name}\""));
    }
    text.push_str(&format!(
        "\n[stages.omdb]\nkind = \"enrich\"\nneeds = [{}]\n",
        names.join(", ")
    ));
    text
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let env: BTreeMap<String, String> = [("TMDB_API_KEY", "k"), ("OMDB_API_KEY", "k")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let dev = median_load(&root.join("plans/dev-200.toml"), &env, 200);
    println!("plan_load plans/dev-200.toml (+ base.toml, 5 stages): median {dev:?} over 200 loads");

    let dir = std::env::temp_dir().join(format!("popctl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for fetches in [50, 500] {
        let path = dir.join(format!("generated-{fetches}.toml"));
        std::fs::write(&path, generated_plan(fetches)).unwrap();
        let t = median_load(&path, &env, 20);
        println!(
            "plan_load generated plan with {} stages: median {t:?} over 20 loads",
            fetches + 3
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
