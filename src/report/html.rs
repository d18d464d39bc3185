//! The run report as one self-contained HTML page (`popctl run --report-html FILE`,
//! `popctl report RUN --html FILE`): a timeline of the stages, requests per second per source
//! against its rate with 429s, retries and errors marked, items by outcome, the slowest and
//! the failed items, and cache hits.
//!
//! Both commands render the report as the ledger keeps it (the redacted JSON, read back), so
//! a page written at the end of a run and one written later from the ledger are the same.
//! The page loads nothing: no script, no stylesheet, font or image from elsewhere, and no
//! URL in any attribute; the charts are inline SVG ([`super::svg`]). Every text that comes
//! from data (stage names, item keys, errors, the database) goes through the project's
//! redaction and then [`esc`]. The page is well-formed XML as well as HTML, so tests parse it.

use std::fmt::Write as _;

use super::summary::{RunReport, SourceReport};
use super::svg::{Svg, esc, tick_step};
use crate::secret::redact;
use crate::sources::series::SeriesReport;
use crate::stages::StageOutcome;
use crate::store::ledger::Item;

/// Failed items listed at most; `popctl status --run N` lists them all.
const FAILED_SHOWN: usize = 200;
/// Slowest items listed, across stages.
const SLOWEST_SHOWN: usize = 15;

/// Chart geometry: the width of every chart, the room for labels left of the plot and
/// under it.
const WIDTH: f64 = 900.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 20.0;
const BOTTOM: f64 = 28.0;

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 960px; padding: 0 1em; color: #1b1b1b; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
th { border-bottom: 1px solid #999; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #555; } .err { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-word; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 0.4em 0 1em; }
svg text { font-size: 11px; fill: #333; } svg text.name { font-size: 12px; }
.axis { stroke: #999; stroke-width: 1; } .grid { stroke: #e3e3e3; stroke-width: 1; }
.done, .ok, .done_earlier { fill: #2e7d32; } .failed { fill: #c62828; } .partial, .pending { fill: #f9a825; }
.interrupted { fill: #ef6c00; } .skipped, .disabled, .not_selected { fill: #9e9e9e; }
.floor { fill: #90a4ae; } .req { fill: #1e88e5; } .hit, .hits { fill: #00897b; } .misses { fill: #b0bec5; }
.rate { stroke: #6a1b9a; stroke-width: 1.5; stroke-dasharray: 6 4; }
.m429 { fill: #c62828; } .mretry { fill: #ef6c00; } .merror { fill: #4a148c; }
.hitline { fill: none; stroke: #00897b; stroke-width: 1.5; }
.key { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; }
.key.req { background: #1e88e5; } .key.rate { background: #6a1b9a; } .key.m429 { background: #c62828; }
.key.mretry { background: #ef6c00; } .key.merror { background: #4a148c; } .key.hit { background: #00897b; }
.key.ok { background: #2e7d32; } .key.failed { background: #c62828; } .key.skipped { background: #9e9e9e; }
.key.pending { background: #f9a825; } .key.floor { background: #90a4ae; } .key.misses { background: #b0bec5; }
";

/// The page for `report`, with the run's failed items from the ledger (`failed`).
pub fn render(report: &RunReport, failed: &[Item]) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let title = format!("popctl run {} of plan {}", report.run_id, report.plan);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        text(&title),
        text(&title)
    );
    summary(&mut page, report);
    timeline(&mut page, report);
    requests(&mut page, report);
    items(&mut page, report);
    slowest(&mut page, report);
    failures(&mut page, report, failed);
    cache(&mut page, report);
    page.push_str("</body>\n</html>\n");
    page
}

/// Data text for the page: redacted, then escaped.
fn text(s: &str) -> String {
    esc(&redact(s)).into_owned()
}

/// Seconds from the run's start to `at`.
fn since_start(report: &RunReport, at: chrono::DateTime<chrono::Utc>) -> f64 {
    (at - report.started_at).num_milliseconds() as f64 / 1000.0
}

fn seconds(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    }
}

/// The outcome as a CSS class: the status word of the JSON report.
fn outcome_class(outcome: &StageOutcome) -> &'static str {
    match outcome {
        StageOutcome::Done => "done",
        StageOutcome::DoneEarlier => "done_earlier",
        StageOutcome::Partial(_) => "partial",
        StageOutcome::Failed(_) => "failed",
        StageOutcome::Interrupted => "interrupted",
        StageOutcome::Skipped(_) => "skipped",
        StageOutcome::Disabled => "disabled",
        StageOutcome::NotSelected => "not_selected",
    }
}

fn summary(page: &mut String, r: &RunReport) {
    page.push_str("<table class=\"summary\">\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(page, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row(
        "status",
        format!(
            "{} (exit code {}){}{}",
            text(r.status.as_str()),
            r.exit_code,
            if r.resumed { ", resumed" } else { "" },
            if r.sandbox {
                ", against the sandbox"
            } else {
                ""
            }
        ),
    );
    row(
        "plan",
        format!("{} (hash {})", text(&r.plan), text(&r.plan_hash)),
    );
    row(
        "started",
        text(&r.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
    );
    row("took", seconds(r.wall_seconds));
    row("database", text(&r.database));
    if let Some(n) = &r.new_database {
        row(
            "new database",
            format!(
                "{} ({})",
                text(&n.place),
                if n.swapped {
                    "swapped in"
                } else {
                    "not swapped in"
                }
            ),
        );
    }
    if !r.popctl_version.is_empty() {
        row("popctl", text(&r.popctl_version));
    }
    page.push_str("</table>\n");
}

/// The x axis of a time chart: `span` seconds over the plot, ticks and their labels at `y`.
fn time_axis(svg: &mut Svg, span: f64, top: f64, y: f64) {
    let plot = WIDTH - LEFT - RIGHT;
    let step = tick_step(span, 8);
    let mut t = 0.0;
    while t <= span + step * 1e-9 {
        let x = LEFT + t / span * plot;
        svg.line((x, top), (x, y), "grid", None);
        svg.text(x, y + 16.0, "middle", "tick", &format!("{}s", round(t)));
        t += step;
    }
    svg.line((LEFT, y), (WIDTH - RIGHT, y), "axis", None);
}

/// The run's length on the charts' time axis: to the last thing that happened.
fn span_of(r: &RunReport) -> f64 {
    let mut span = r.wall_seconds;
    for s in &r.stages {
        if let Some(end) = s.finished_at {
            span = span.max(since_start(r, end));
        }
        // The floor bar starts with the stage and may reach past the run's end.
        if let (Some(start), Some(floor)) = (s.started_at, s.floor_seconds) {
            span = span.max(since_start(r, start) + floor);
        }
    }
    for src in r.sources.values() {
        if let Some(series) = &src.series {
            span = span.max(series_offset(r, series) + series.len() as f64 * series.bucket_seconds);
        }
    }
    span.max(1.0)
}

fn series_offset(r: &RunReport, series: &SeriesReport) -> f64 {
    series
        .started_at
        .map_or(0.0, |at| since_start(r, at).max(0.0))
}

fn timeline(page: &mut String, r: &RunReport) {
    page.push_str("<h2 id=\"timeline\">Stages</h2>\n");
    let ran: Vec<_> = r.stages.iter().filter(|s| s.started_at.is_some()).collect();
    if ran.is_empty() {
        page.push_str("<p class=\"note\">No stage ran in this run.</p>\n");
    } else {
        let span = span_of(r);
        let plot = WIDTH - LEFT - RIGHT;
        let row = 30.0;
        let top = 10.0;
        let height = top + row * ran.len() as f64 + BOTTOM;
        let mut svg = Svg::new("timeline", WIDTH, height, "when each stage ran");
        time_axis(&mut svg, span, top, height - BOTTOM);
        for (i, s) in ran.iter().enumerate() {
            let y = top + row * i as f64;
            let start = s.started_at.map_or(0.0, |at| since_start(r, at));
            let end = s
                .finished_at
                .map_or(start + s.wall.as_secs_f64(), |at| since_start(r, at));
            let x = LEFT + start / span * plot;
            svg.text(LEFT - 8.0, y + 15.0, "end", "name", &redact(&s.name));
            let mut tip = format!(
                "{}: {} from {} to {} ({})",
                s.name,
                s.outcome.label(),
                seconds(start),
                seconds(end),
                seconds(end - start)
            );
            if let Some(floor) = s.floor_seconds {
                let _ = write!(tip, "; the rates allow no less than {}", seconds(floor));
                svg.rect(
                    x,
                    y + 17.0,
                    floor / span * plot,
                    4.0,
                    "floor",
                    Some(&redact(&tip)),
                );
            }
            if let Some(why) = s.outcome.reason() {
                let _ = write!(tip, ": {why}");
            }
            let w = ((end - start) / span * plot).max(1.5);
            svg.rect(
                x,
                y + 4.0,
                w,
                12.0,
                outcome_class(&s.outcome),
                Some(&redact(&tip)),
            );
        }
        page.push_str(&svg.finish());
        page.push_str(
            "\n<p class=\"note\"><span class=\"key ok\"></span>done<span class=\"key pending\"></span>\
             partial<span class=\"key failed\"></span>failed<span class=\"key floor\"></span>\
             the least time the plan's rates allow for the stage's requests</p>\n",
        );
    }
    let idle: Vec<String> = r
        .stages
        .iter()
        .filter(|s| s.started_at.is_none())
        .map(|s| match s.outcome.reason() {
            Some(why) => format!("{} ({}: {why})", s.name, s.outcome.label()),
            None => format!("{} ({})", s.name, s.outcome.label()),
        })
        .collect();
    if !idle.is_empty() {
        let _ = writeln!(
            page,
            "<p class=\"note\">Not run: {}.</p>",
            text(&idle.join(", "))
        );
    }
}

fn requests(page: &mut String, r: &RunReport) {
    page.push_str("<h2 id=\"requests\">Requests per second</h2>\n");
    if r.sources.is_empty() {
        page.push_str("<p class=\"note\">No source was used.</p>\n");
        return;
    }
    let span = span_of(r);
    for (name, src) in &r.sources {
        let t = &src.totals;
        let _ = writeln!(
            page,
            "<h3>{}</h3>\n<p>{} requests, {} retries, {} answered 429{}</p>",
            text(name),
            t.requests,
            t.retries,
            t.rate_limited,
            src.rate_per_second
                .map(|rate| format!("; the plan's rate is {}/s", round(rate)))
                .unwrap_or_default()
        );
        match &src.series {
            Some(series) if !series.is_empty() => {
                page.push_str(&rate_chart(r, name, src, series, span));
                page.push_str(
                    "\n<p class=\"note\"><span class=\"key req\"></span>requests sent per second\
                     <span class=\"key rate\"></span>the plan's rate<span class=\"key m429\"></span>\
                     429 answers<span class=\"key mretry\"></span>retries<span class=\"key merror\">\
                     </span>requests that failed<span class=\"key hit\"></span>cache hits per second\
                     </p>\n",
                );
            }
            Some(_) => page.push_str("<p class=\"note\">No request was made.</p>\n"),
            None => page.push_str(
                "<p class=\"note\">This run was recorded by a popctl that kept no per-second \
                 series.</p>\n",
            ),
        }
    }
}

/// `12`, `2.5`: a rate as people write it.
fn round(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn rate_chart(
    r: &RunReport,
    name: &str,
    src: &SourceReport,
    s: &SeriesReport,
    span: f64,
) -> String {
    let plot = WIDTH - LEFT - RIGHT;
    let (top, height) = (22.0, 200.0);
    let base = height - BOTTOM;
    let width = s.bucket_seconds.max(f64::MIN_POSITIVE);
    let per_second = |n: u32| f64::from(n) / width;
    let peak = s
        .requests
        .iter()
        .chain(&s.cache_hits)
        .map(|&n| per_second(n))
        .fold(src.rate_per_second.unwrap_or(0.0), f64::max)
        .max(1.0)
        * 1.1;
    let y_of = |v: f64| base - v / peak * (base - top);
    let offset = series_offset(r, s);
    let x_of = |i: usize| LEFT + (offset + i as f64 * width) / span * plot;
    let mut svg = Svg::new(
        &format!("requests-{name}"),
        WIDTH,
        height,
        &format!("requests per second to {name}"),
    );
    time_axis(&mut svg, span, top, base);
    let step = tick_step(peak, 4);
    let mut v = step;
    while v < peak {
        svg.line((LEFT, y_of(v)), (WIDTH - RIGHT, y_of(v)), "grid", None);
        svg.text(
            LEFT - 6.0,
            y_of(v) + 4.0,
            "end",
            "tick",
            &format!("{}/s", round(v)),
        );
        v += step;
    }
    svg.text(LEFT - 8.0, top - 6.0, "end", "name", &redact(name));
    let bar = (width / span * plot).max(1.0);
    for (i, &n) in s.requests.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let at = offset + i as f64 * width;
        let tip = format!("{}: {} requests in {}", round(at), n, seconds(width));
        svg.rect(
            x_of(i),
            y_of(per_second(n)),
            (bar - 0.5).max(0.8),
            base - y_of(per_second(n)),
            "req",
            Some(&tip),
        );
    }
    let hits: Vec<(f64, f64)> = s
        .cache_hits
        .iter()
        .enumerate()
        .map(|(i, &n)| (x_of(i) + bar / 2.0, y_of(per_second(n))))
        .collect();
    if s.cache_hits.iter().any(|&n| n > 0) {
        svg.polyline(&hits, "hitline");
    }
    if let Some(rate) = src.rate_per_second {
        let y = y_of(rate);
        let tip = format!("the plan's rate: {}/s", round(rate));
        svg.line((LEFT, y), (WIDTH - RIGHT, y), "rate", Some(&tip));
    }
    // Marks along the top: 429s, then retries, then failed requests, each on its own row.
    let marks = [
        (&s.rate_limited, "m429", "answered 429"),
        (&s.retries, "mretry", "retried"),
        (&s.errors, "merror", "failed for good"),
    ];
    for (row, (column, class, what)) in marks.into_iter().enumerate() {
        for (i, &n) in column.iter().enumerate() {
            if n > 0 {
                let at = offset + i as f64 * width;
                let tip = format!("{}: {n} {what}", seconds(at));
                svg.marker(
                    x_of(i) + bar / 2.0,
                    top - 8.0 + 8.0 * row as f64,
                    class,
                    Some(&tip),
                );
            }
        }
    }
    svg.finish()
}

fn items(page: &mut String, r: &RunReport) {
    page.push_str("<h2 id=\"items\">Items by outcome</h2>\n");
    let stages: Vec<_> = r
        .stages
        .iter()
        .filter(|s| s.counters.done() + s.counters.pending > 0)
        .collect();
    if stages.is_empty() {
        page.push_str("<p class=\"note\">No stage worked through items.</p>\n");
        return;
    }
    let rows: Vec<Bars> = stages
        .iter()
        .map(|s| {
            let c = &s.counters;
            let ok = match c.shared {
                0 => format!("{}: {} ok", s.name, c.ok),
                n => format!("{}: {} ok ({n} fetched by another stage)", s.name, c.ok),
            };
            Bars {
                name: &s.name,
                segments: vec![
                    (c.ok, "ok", ok),
                    (
                        c.failed,
                        "failed",
                        format!("{}: {} failed", s.name, c.failed),
                    ),
                    (
                        c.skipped,
                        "skipped",
                        format!("{}: {} skipped", s.name, c.skipped),
                    ),
                    (
                        c.pending,
                        "pending",
                        format!("{}: {} pending", s.name, c.pending),
                    ),
                ],
            }
        })
        .collect();
    page.push_str(&stacked_bars(
        "items",
        "items of each stage by outcome",
        &rows,
    ));
    page.push_str(
        "\n<p class=\"note\"><span class=\"key ok\"></span>ok<span class=\"key failed\"></span>\
         failed<span class=\"key skipped\"></span>skipped<span class=\"key pending\"></span>\
         pending</p>\n<table>\n<tr><th>stage</th><th>ok</th><th>failed</th><th>skipped</th>\
         <th>pending</th><th>requests</th><th>retries</th><th>429s</th><th>rows</th></tr>\n",
    );
    for s in &stages {
        let c = &s.counters;
        let _ = write!(page, "<tr><td>{}</td>", text(&s.name));
        for v in [
            c.ok,
            c.failed,
            c.skipped,
            c.pending,
            c.requests,
            c.retries,
            c.rate_limited,
            c.rows,
        ] {
            let _ = write!(page, "<td class=\"n\">{v}</td>");
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
}

/// One row of a [`stacked_bars`] chart: its name and its counts with their CSS class and
/// hover text, left to right.
struct Bars<'a> {
    name: &'a str,
    segments: Vec<(u64, &'static str, String)>,
}

/// Horizontal bars, one per row, each stacked from its segments, on a common count axis.
fn stacked_bars(chart: &str, label: &str, rows: &[Bars]) -> String {
    let most = rows
        .iter()
        .map(|r| r.segments.iter().map(|s| s.0).sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let plot = WIDTH - LEFT - RIGHT;
    let (row, top) = (26.0, 8.0);
    let height = top + row * rows.len() as f64 + BOTTOM;
    let base = height - BOTTOM;
    let mut svg = Svg::new(chart, WIDTH, height, label);
    let step = tick_step(most, 8);
    let mut v = 0.0;
    while v <= most {
        let x = LEFT + v / most * plot;
        svg.line((x, top), (x, base), "grid", None);
        svg.text(x, base + 16.0, "middle", "tick", &round(v));
        v += step;
    }
    svg.line((LEFT, base), (WIDTH - RIGHT, base), "axis", None);
    for (i, bars) in rows.iter().enumerate() {
        let y = top + row * i as f64;
        svg.text(LEFT - 8.0, y + 14.0, "end", "name", &redact(bars.name));
        let mut x = LEFT;
        for (n, class, tip) in bars.segments.iter().filter(|s| s.0 > 0) {
            let w = *n as f64 / most * plot;
            svg.rect(x, y + 3.0, w, 14.0, class, Some(&redact(tip)));
            x += w;
        }
    }
    svg.finish()
}

fn slowest(page: &mut String, r: &RunReport) {
    page.push_str("<h2 id=\"slowest\">Slowest items</h2>\n");
    let mut all: Vec<(&str, &crate::stages::items::ItemTime)> = r
        .stages
        .iter()
        .flat_map(|s| s.slowest.iter().map(move |t| (s.name.as_str(), t)))
        .collect();
    if all.is_empty() {
        page.push_str(
            "<p class=\"note\">No item times were recorded: none of the stages that ran works \
             item by item (fetch and enrich stages do), or the run was recorded by a popctl \
             that kept none.</p>\n",
        );
        return;
    }
    all.sort_by(|a, b| b.1.seconds.total_cmp(&a.1.seconds));
    page.push_str(
        "<p class=\"note\">From an item's start to its result, waits for the source's rate, \
         the stage's delay and retries included; each stage keeps its ten slowest.</p>\n\
         <table>\n<tr><th>stage</th><th>item</th><th>status</th><th>time</th></tr>\n",
    );
    for (stage, t) in all.iter().take(SLOWEST_SHOWN) {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            text(stage),
            text(&t.key),
            t.status.as_str(),
            seconds(t.seconds)
        );
    }
    page.push_str("</table>\n");
}

fn failures(page: &mut String, r: &RunReport, failed: &[Item]) {
    page.push_str("<h2 id=\"failed\">Failed</h2>\n");
    let stages: Vec<_> = r
        .stages
        .iter()
        .filter_map(|s| s.outcome.reason().map(|why| (s, why)))
        .collect();
    if stages.is_empty() && failed.is_empty() {
        page.push_str("<p class=\"note\">Nothing failed.</p>\n");
        return;
    }
    if !stages.is_empty() {
        page.push_str("<table>\n<tr><th>stage</th><th>status</th><th>why</th></tr>\n");
        for (s, why) in stages {
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td>{}</td><td class=\"err\">{}</td></tr>",
                text(&s.name),
                s.outcome.label(),
                text(why)
            );
        }
        page.push_str("</table>\n");
    }
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(
        page,
        "<table class=\"failed-items\">\n<tr><th>stage</th><th>item</th><th>tries</th>\
         <th>error</th></tr>"
    );
    for item in failed.iter().take(FAILED_SHOWN) {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"err\">{}</td></tr>",
            text(&item.stage),
            text(&item.key),
            item.attempts,
            text(item.last_error.as_deref().unwrap_or("no error recorded"))
        );
    }
    page.push_str("</table>\n");
    if failed.len() > FAILED_SHOWN {
        let _ = writeln!(
            page,
            "<p class=\"note\">… and {} more: <code>popctl status --run {}</code> lists them \
             all.</p>",
            failed.len() - FAILED_SHOWN,
            r.run_id
        );
    }
}

fn cache(page: &mut String, r: &RunReport) {
    page.push_str("<h2 id=\"cache\">Response cache</h2>\n");
    let cached: Vec<_> = r
        .sources
        .iter()
        .filter_map(|(name, s)| s.cache.as_ref().map(|c| (name, c)))
        .collect();
    if cached.is_empty() {
        page.push_str("<p class=\"note\">The response cache was off.</p>\n");
        return;
    }
    let rows: Vec<Bars> = cached
        .iter()
        .map(|(name, c)| Bars {
            name,
            segments: vec![
                (c.hits, "hits", format!("{name}: {} hits", c.hits)),
                (
                    c.misses,
                    "misses",
                    format!("{name}: {} misses, {} stored", c.misses, c.stores),
                ),
            ],
        })
        .collect();
    page.push_str(&stacked_bars(
        "cache",
        "cache hits and misses per source",
        &rows,
    ));
    page.push_str(
        "\n<p class=\"note\"><span class=\"key hit\"></span>hits (no request)<span class=\"key \
         misses\"></span>misses (asked upstream)</p>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::http::SourceTotals;
    use crate::stages::CounterValues;
    use crate::stages::executor::StageReport;
    use crate::store::ledger::{ItemStatus, RunStatus};
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn report() -> RunReport {
        let start = chrono::Utc::now();
        let at = |s: i64| Some(start + chrono::Duration::milliseconds(s));
        let stage = |name: &str, outcome, from: i64, to: i64| StageReport {
            name: name.into(),
            kind: "fetch".into(),
            outcome,
            counters: CounterValues {
                ok: 3,
                failed: 1,
                ..CounterValues::default()
            },
            wall: Duration::from_millis(u64::try_from(to - from).unwrap_or(0)),
            started_at: at(from),
            finished_at: at(to),
            floor_seconds: Some(0.5),
            notes: Vec::new(),
            slowest: vec![crate::stages::items::ItemTime {
                key: "tmdb:7&8".into(),
                status: ItemStatus::Failed,
                seconds: 1.25,
            }],
        };
        RunReport {
            popctl_version: "0.0.0".into(),
            plan: "p<&>".into(),
            plan_hash: "h".into(),
            run_id: 7,
            resumed: false,
            sandbox: true,
            status: RunStatus::Partial,
            exit_code: 3,
            started_at: start,
            finished_at: at(3000),
            wall_seconds: 3.0,
            database: "sqlite://a.db".into(),
            new_database: None,
            stages: vec![
                stage("a<b>&c", StageOutcome::Done, 0, 1000),
                stage(
                    "omdb",
                    StageOutcome::Failed("quota <spent> & \"gone\"".into()),
                    500,
                    2900,
                ),
            ],
            sources: BTreeMap::from([(
                "tmdb".to_owned(),
                SourceReport {
                    totals: SourceTotals {
                        requests: 5,
                        retries: 1,
                        rate_limited: 1,
                        bytes: 10,
                    },
                    cache: None,
                    rate_per_second: Some(2.0),
                    series: Some(SeriesReport {
                        started_at: Some(start),
                        bucket_seconds: 1.0,
                        requests: vec![2, 3, 0],
                        rate_limited: vec![0, 1, 0],
                        retries: vec![0, 1, 0],
                        errors: vec![0, 0, 1],
                        cache_hits: vec![0, 0, 0],
                    }),
                },
            )]),
            peak_rss_bytes: None,
            sandbox_served: None,
            workers: Vec::new(),
        }
    }

    #[test]
    fn data_is_escaped_and_the_page_parses() {
        let failed = [Item {
            run_id: 7,
            stage: "omdb".into(),
            key: "imdb:tt1".into(),
            status: ItemStatus::Failed,
            attempts: 2,
            last_error: Some("HTTP 500: <html>&nbsp;</html>".into()),
            updated_at: chrono::Utc::now(),
        }];
        let page = render(&report(), &failed);
        for raw in ["a<b>&c", "p<&>", "<spent>", "<html>&nbsp;"] {
            assert!(!page.contains(raw), "{raw} unescaped");
        }
        let doc = roxmltree::Document::parse_with_options(
            &page,
            roxmltree::ParsingOptions {
                allow_dtd: true,
                ..roxmltree::ParsingOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}\n{page}"));
        let all_text: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        for shown in [
            "a<b>&c",
            "HTTP 500: <html>&nbsp;</html>",
            "quota <spent> & \"gone\"",
            "tmdb:7&8",
        ] {
            assert!(all_text.contains(&shown), "{shown} not shown: {all_text:?}");
        }
        let marks: Vec<&str> = doc
            .descendants()
            .filter_map(|n| n.attribute("class"))
            .filter(|c| c.starts_with('m'))
            .collect();
        assert_eq!(marks, ["m429", "mretry", "merror"]);
    }

    #[test]
    fn a_report_reads_back_as_it_was_written() {
        let r = report();
        let back = r.recorded().unwrap();
        assert_eq!(back.to_json(), r.to_json());
        assert_eq!(render(&back, &[]), render(&r, &[]));
    }
}
