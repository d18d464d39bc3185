//! The sandbox's days over real loopback HTTP: the daily movie ID export (gzip NDJSON, the
//! movies of its day, out from 08:00 UTC for three months, streamed for a large catalog with
//! flat memory), `movie/changes` agreeing with the exports of two days, its paging and
//! 14-day limit, details of removed and changed movies, and the clock that picks the day.

// Test helpers panic with the failure in hand, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

use chrono::{Days, NaiveDate, NaiveDateTime};
use popctl::sim::model::ExportedId;
use popctl::sim::{Sandbox, SandboxConfig, export};
use serde_json::Value;

use super::sim::{client, get_json, get_raw, sandbox_with, tmdb};

/// A 2,000-movie sandbox whose clock is `days` after `today`, at `hour`:00 UTC.
async fn sandbox_on(days: u64, hour: u32) -> Sandbox {
    let config = SandboxConfig {
        seed: 21,
        movies: 2_000,
        ..SandboxConfig::default()
    };
    let now = at(config.today + Days::new(days), hour);
    sandbox_with(SandboxConfig {
        now: Some(now),
        ..config
    })
    .await
}

fn at(day: NaiveDate, hour: u32) -> NaiveDateTime {
    day.and_hms_opt(hour, 0, 0).unwrap()
}

fn export_url(s: &Sandbox, day: NaiveDate) -> String {
    format!(
        "{}{}{}",
        s.files_base_url(),
        export::PREFIX,
        export::file_name(day)
    )
}

/// The export of `day`, checked line by line for TMDB's exact fields, by id.
async fn export_of(s: &Sandbox, day: NaiveDate) -> BTreeMap<u32, ExportedId> {
    let resp = client().get(export_url(s, day)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{day}");
    let headers = resp.headers().clone();
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert!(headers.get("content-encoding").is_none(), "{headers:?}");
    let gz = resp.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.ends_with('\n'));
    let mut lines = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["adult", "id", "original_title", "popularity", "video"],
            "{line}"
        );
        assert!(v["adult"].is_boolean() && v["video"].is_boolean(), "{line}");
        assert!(v["id"].is_u64() && v["popularity"].is_number(), "{line}");
        let item: ExportedId = serde_json::from_value(v).unwrap();
        assert!(lines.insert(item.id, item).is_none(), "{line} twice");
    }
    lines
}

/// Every id `movie/changes` lists for `start..=end`, through all its pages.
async fn changed(s: &Sandbox, start: NaiveDate, end: NaiveDate) -> Vec<u32> {
    let c = client();
    let mut ids = Vec::new();
    let mut page = 1;
    loop {
        let url = tmdb(
            s,
            &format!("movie/changes?start_date={start}&end_date={end}&page={page}"),
        );
        let (status, body) = get_json(&c, &url).await;
        assert_eq!(status, 200, "{body}");
        ids.extend(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_u64().unwrap() as u32),
        );
        if page >= body["total_pages"].as_u64().unwrap() {
            return ids;
        }
        page += 1;
    }
}

#[tokio::test]
async fn the_export_is_gzip_ndjson_of_the_movies_there_that_day() {
    let s = sandbox_on(6, 9).await;
    let cat = s.catalog();
    let today = cat.today();
    let mut sizes = Vec::new();
    for day in [today - Days::new(3), today, today + Days::new(6)] {
        let lines = export_of(&s, day).await;
        let expected: Vec<u32> = cat
            .entries()
            .iter()
            .map(|e| e.id)
            .filter(|&id| cat.alive_on(id, day))
            .collect();
        assert_eq!(lines.keys().copied().collect::<Vec<_>>(), expected, "{day}");
        assert_eq!(
            lines.into_values().collect::<Vec<_>>(),
            cat.export(day).collect::<Vec<_>>(),
            "{day}"
        );
        sizes.push(expected.len());
    }
    // Nothing disappears before `today`; some movies have by six days after it.
    assert_eq!(sizes[0], cat.len());
    assert_eq!(sizes[1], cat.len());
    assert!(
        sizes[2] < cat.len() && sizes[2] > cat.len() * 95 / 100,
        "{sizes:?}"
    );
    let stats = s.stats();
    assert_eq!(
        stats.count("GET /p/exports/movie_ids_{MM_DD_YYYY}.json.gz", 200),
        3
    );
    assert_eq!(stats.tmdb.requests, 0, "a file is not an API request");
}

#[tokio::test]
async fn exports_are_out_from_eight_utc_for_three_months_and_404_otherwise() {
    let s = sandbox_on(100, 7).await;
    let c = client();
    let day = s.clock().date();
    let status = |url: String| {
        let c = c.clone();
        async move { get_raw(&c, &url).await.0 }
    };
    // 07:00: today's file is not out yet, yesterday's is; tomorrow's never is.
    assert_eq!(status(export_url(&s, day)).await, 404);
    assert_eq!(status(export_url(&s, day - Days::new(1))).await, 200);
    s.set_clock(at(day, 8)).unwrap();
    assert_eq!(status(export_url(&s, day)).await, 200);
    assert_eq!(status(export_url(&s, day + Days::new(1))).await, 404);
    // Three months are kept, not a day more.
    let oldest = day.checked_sub_months(chrono::Months::new(3)).unwrap();
    assert_eq!(status(export_url(&s, oldest)).await, 200);
    assert_eq!(status(export_url(&s, oldest - Days::new(1))).await, 404);
    // Other export kinds and misspelt names are not there.
    let base = s.files_base_url();
    let name = export::file_name(day);
    for path in [
        format!("/p/exports/person_ids_{}", &name["movie_ids_".len()..]),
        format!("/p/exports/{}", name.replace(".gz", "")),
        "/p/exports/movie_ids_6_1_2025.json.gz".to_string(),
    ] {
        assert_eq!(status(format!("{base}{path}")).await, 404, "{path}");
    }
    let stats = s.stats();
    assert_eq!(
        stats.count("GET /p/exports/movie_ids_{MM_DD_YYYY}.json.gz", 404),
        3,
        "misspelt names are not counted as the export"
    );
}

#[tokio::test]
async fn changes_agree_with_the_exports_of_two_days_and_details_follow_the_day() {
    let s = sandbox_on(4, 9).await;
    let c = client();
    let d2 = s.clock().date();
    let d1 = d2 - Days::new(1);
    let (e1, e2) = (export_of(&s, d1).await, export_of(&s, d2).await);
    let changes: BTreeSet<u32> = changed(&s, d1, d2).await.into_iter().collect();

    let removed: Vec<u32> = e1
        .keys()
        .filter(|id| !e2.contains_key(id))
        .copied()
        .collect();
    assert!(!removed.is_empty(), "no movie disappeared on {d2}");
    assert!(e2.keys().all(|id| e1.contains_key(id)), "no movie appears");
    for id in &removed {
        assert!(
            changes.contains(id),
            "{id} disappeared but is not in changes"
        );
    }
    let revised: Vec<u32> = e2
        .iter()
        .filter(|(id, line)| e1[*id] != **line)
        .map(|(id, _)| *id)
        .collect();
    assert!(revised.len() > 20, "{}", revised.len());
    for id in &revised {
        assert!(changes.contains(id), "{id} changed but is not in changes");
    }

    // A disappeared movie answers TMDB's 404, on details and on its parts.
    let gone = removed[0];
    for path in [format!("movie/{gone}"), format!("movie/{gone}/credits")] {
        let (status, body) = get_json(&c, &tmdb(&s, &path)).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["status_code"], 34, "{body}");
        assert_eq!(body["success"], false, "{body}");
    }
    // A changed movie's details show the change from its day on, as the exports do.
    let id = revised[0];
    let (status, on_d2) = get_json(&c, &tmdb(&s, &format!("movie/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(on_d2["popularity"].as_f64(), Some(e2[&id].popularity));
    s.set_clock(at(d1, 23)).unwrap();
    let (_, on_d1) = get_json(&c, &tmdb(&s, &format!("movie/{id}"))).await;
    assert_eq!(on_d1["popularity"].as_f64(), Some(e1[&id].popularity));
    assert!(on_d2["vote_count"].as_u64() >= on_d1["vote_count"].as_u64());
    let (status, _) = get_json(&c, &tmdb(&s, &format!("movie/{gone}"))).await;
    assert_eq!(status, 200, "{gone} is still there the day before");

    // On d1 nothing of d2 has happened yet: a window reaching past the clock stops at it.
    assert_eq!(changed(&s, d1, d2).await, changed(&s, d1, d1).await);
    assert!(changed(&s, d2, d2).await.is_empty());
}

#[tokio::test]
async fn changes_page_by_100_and_refuse_windows_over_14_days() {
    let s = sandbox_on(14, 12).await;
    let c = client();
    let cat = s.catalog();
    let (start, end) = (cat.today(), s.clock().date());
    let all = changed(&s, start, end).await;
    let expected: Vec<u32> = cat.changed_ids(start, end).iter().map(|c| c.id).collect();
    assert_eq!(all, expected);
    assert!(all.len() > 300, "{}", all.len());

    let url = |q: &str| tmdb(&s, &format!("movie/changes?{q}"));
    let window = format!("start_date={start}&end_date={end}");
    let (_, first) = get_json(&c, &url(&window)).await;
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["results", "page", "total_pages", "total_results"]);
    assert_eq!(first["total_results"], all.len());
    assert_eq!(first["total_pages"], all.len().div_ceil(100));
    assert_eq!(first["results"].as_array().unwrap().len(), 100);
    let item = first["results"][0].as_object().unwrap();
    assert_eq!(
        item.keys().map(String::as_str).collect::<Vec<_>>(),
        ["id", "adult", "softcore"]
    );
    let last_page = all.len().div_ceil(100);
    let (_, last) = get_json(&c, &url(&format!("{window}&page={last_page}"))).await;
    assert_eq!(
        last["results"].as_array().unwrap().len(),
        all.len() - 100 * (last_page - 1)
    );
    let (status, past) = get_json(&c, &url(&format!("{window}&page={}", last_page + 1))).await;
    assert_eq!(status, 200);
    assert_eq!(past["results"].as_array().unwrap().len(), 0);
    let (status, body) = get_json(&c, &url(&format!("{window}&page=0"))).await;
    assert_eq!((status, body["status_code"].as_u64()), (400, Some(22)));

    // Without dates: the day before the clock's, and its day.
    let (_, default) = get_json(&c, &url("")).await;
    let day_before = end - Days::new(1);
    assert_eq!(
        default["total_results"],
        cat.changed_ids(day_before, end).len()
    );

    // 15 days: TMDB's 422, byte for byte the recorded body.
    let recorded: Value = serde_json::from_str(include_str!(
        "../fixtures/tmdb/errors/422-invalid-date-range-status20__adamayoung.json"
    ))
    .unwrap();
    let too_long = format!("start_date={}&end_date={end}", start - Days::new(1));
    let (status, body) = get_json(&c, &url(&too_long)).await;
    assert_eq!((status, body), (422, recorded));
}

#[tokio::test]
async fn the_clock_is_set_in_config_in_code_and_over_http_within_the_history() {
    let s = sandbox_on(0, 12).await;
    let today = s.catalog().today();
    let c = client();
    let control = format!("{}/__sandbox/clock", s.files_base_url());
    let (_, body) = get_json(&c, &control).await;
    assert_eq!(body["now"], format!("{today}T12:00:00Z"));

    let resp = c
        .post(&control)
        .body(r#"{"now":"2025-06-20T07:30:00Z"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.clock(), "2025-06-20T07:30:00".parse().unwrap());
    for bad in [
        r#"{"now":"2025-06-14T12:00:00Z"}"#,
        r#"{"now":"2026-06-17T12:00:00Z"}"#,
        r#"{"now":"June"}"#,
        r#"{"later":"2025-06-20T07:30:00Z"}"#,
    ] {
        let resp = c.post(&control).body(bad).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
    }
    assert!(s.set_clock(at(today - Days::new(1), 12)).is_err());
    assert_eq!(s.clock(), "2025-06-20T07:30:00".parse().unwrap());

    let err = SandboxConfig::from_toml("now = 2025-06-14T23:00:00Z", "sandbox.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("sandbox.toml"), "{err}");
    let config = SandboxConfig::from_toml("now = 2025-06-16T09:00:00Z", "x").unwrap();
    assert_eq!(config.clock(), "2025-06-16T09:00:00".parse().unwrap());
    // Another day serves other bodies, so the response cache keys them apart.
    assert_ne!(
        config.cache_origin(),
        SandboxConfig::default().cache_origin()
    );
    assert_eq!(
        SandboxConfig::from_toml("now = 2025-06-15T01:00:00Z", "x")
            .unwrap()
            .cache_origin(),
        SandboxConfig::default().cache_origin()
    );
}

/// Reads the `VmHWM` (peak resident memory) or `VmRSS` line of process `pid`, in bytes.
fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kb: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// Decompressed lines as they come: counts them and checks that ids rise, holding one line.
struct Lines {
    partial: Vec<u8>,
    count: u64,
    last_id: u32,
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &b in buf {
            if b != b'\n' {
                self.partial.push(b);
                continue;
            }
            let item: ExportedId = serde_json::from_slice(&self.partial).unwrap();
            assert!(item.id > self.last_id, "{} after {}", item.id, self.last_id);
            self.last_id = item.id;
            self.count += 1;
            self.partial.clear();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The export of a large catalog streams: serving it raises the server's peak memory by a
/// small fraction of the file. `popctl sandbox serve` runs as its own process; its peak
/// (`VmHWM`) is reset once the catalog is built (`/proc/PID/clear_refs`), so what the
/// download adds is all that is measured, whatever building the catalog took.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_large_export_streams_without_being_held_whole() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    use assert_cmd::cargo::CommandCargoExt;

    const MOVIES: u64 = 400_000;
    // Incidental growth (a worker thread's allocator arena, the server's buffers) reached
    // 2.2 MB once in CI beside a release build; the file is 5.2 MB of gzip, so a server that
    // held it whole would still be over.
    const MAX_GROWTH: u64 = 3 << 20;
    let mut child = Command::cargo_bin("popctl")
        .unwrap()
        .args(["sandbox", "serve", "--port", "0", "--seed", "3", "--movies"])
        .arg(MOVIES.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let tmdb_line = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let base = tmdb_line
        .strip_prefix("export POPCTL_SOURCES__TMDB__BASE_URL=")
        .and_then(|u| u.strip_suffix("/3"))
        .unwrap()
        .to_string();
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let before = memory(pid, "VmHWM:");

    let today = SandboxConfig::default().today;
    let url = format!("{base}{}{}", export::PREFIX, export::file_name(today));
    let mut resp = client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut gz = flate2::write::GzDecoder::new(Lines {
        partial: Vec::new(),
        count: 0,
        last_id: 0,
    });
    let mut compressed = 0u64;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        compressed += chunk.len() as u64;
        gz.write_all(&chunk).unwrap();
    }
    let lines = gz.finish().unwrap();
    let growth = memory(pid, "VmHWM:") - before;
    child.kill().unwrap();
    child.wait().unwrap();

    // On `today` every movie is there.
    assert_eq!(lines.count, MOVIES);
    assert!(lines.partial.is_empty(), "the last line is cut");
    // Meaningful only if the file is larger than the bound.
    assert!(
        compressed > MAX_GROWTH * 3 / 2,
        "{compressed} bytes of gzip"
    );
    assert!(
        growth < MAX_GROWTH,
        "serving {compressed} bytes of gzip raised the server's peak memory by {growth} bytes"
    );
}
