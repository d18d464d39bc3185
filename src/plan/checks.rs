//! Checks across stages: `needs` name real stages, no cycles, every writing stage runs after
//! the plan's `reset`, `enrich` and `people` stages have something upstream to work on, and a
//! `reset` never
//! points at a database that is not on this machine unless the plan says so.

use std::collections::BTreeMap;

use super::compile::{Cx, Sections};
use super::database::is_local_database_url;
use miette::Severity;

use super::error::{Code, PlanDiagnostic};
use super::keys;
use super::model::*;
use super::stage::Sketch;
use super::suggest;
use crate::plan::dag::{self, Dag};

/// Runs every cross-stage check. `stages[i]` is the compiled `sketches[i]`, if it compiled.
pub(crate) fn check(
    cx: &mut Cx<'_>,
    sketches: &[Sketch<'_>],
    stages: &[Option<Stage>],
    sections: &Sections,
) {
    let index: BTreeMap<&str, usize> = sketches
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name, i))
        .collect();
    let names: Vec<&str> = sketches.iter().map(|s| s.name).collect();
    // Without every stage's `needs`, ordering checks would only produce follow-on errors.
    let mut graph_ok = sketches.iter().all(|s| s.needs_valid);
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); sketches.len()];
    for (i, sk) in sketches.iter().enumerate() {
        cx.duplicates(&sk.needs, "need", Severity::Warning);
        for (p, need) in &sk.needs {
            if need == sk.name {
                cx.push(
                    PlanDiagnostic::error(Code::Cycle, format!("stage `{need}` needs itself"))
                        .at(cx.value_site(p), "a stage cannot need itself")
                        .key(p.to_string())
                        .help("remove it from `needs`"),
                );
                graph_ok = false;
                continue;
            }
            match index.get(need.as_str()) {
                Some(&j) => {
                    if !edges[i].contains(&j) {
                        edges[i].push(j);
                    }
                }
                None => {
                    let others: Vec<&str> =
                        names.iter().copied().filter(|n| n != &sk.name).collect();
                    let help = suggest::did_you_mean(need, &others)
                        .unwrap_or_else(|| format!("the stages are {}", suggest::one_of(&others)));
                    cx.push(
                        PlanDiagnostic::error(
                            Code::UnknownNeed,
                            format!("stage `{}` needs `{need}`, which does not exist", sk.name),
                        )
                        .at(cx.value_site(p), "no stage with this name")
                        .key(p.to_string())
                        .help(help),
                    );
                    graph_ok = false;
                }
            }
        }
    }
    for cycle in dag::find_cycles(&edges) {
        graph_ok = false;
        let (Some(&first), Some(&last)) = (cycle.first(), cycle.last()) else {
            continue;
        };
        let path: Vec<String> = cycle.iter().map(|&i| sketches[i].name.to_owned()).collect();
        let closing = sketches[last]
            .needs
            .iter()
            .find(|(_, n)| *n == sketches[first].name);
        let site = closing.and_then(|(p, _)| cx.value_site(p));
        cx.push(
            PlanDiagnostic::error(Code::Cycle, format!("dependency cycle: {}", dag::cycle_text(&path)))
                .at(site, "closes the cycle")
                .key(closing.map(|(p, _)| p.to_string()).unwrap_or_default())
                .help("stages run after what they need, so a cycle can never start; remove one of these `needs`"),
        );
    }
    if !graph_ok {
        return;
    }
    let pairs: Vec<(&str, Vec<&str>)> = sketches
        .iter()
        .map(|s| (s.name, s.needs.iter().map(|(_, n)| n.as_str()).collect()))
        .collect();
    let Ok(dag) = Dag::from_needs(&pairs) else {
        return;
    };
    reset_order(cx, sketches, &dag);
    upstream_consumers(cx, sketches, stages, &dag);
    remote_reset(cx, stages, sections);
}

/// Every enabled writing stage must run after every enabled reset: otherwise it writes rows
/// the reset then drops, or races it.
fn reset_order(cx: &mut Cx<'_>, sketches: &[Sketch<'_>], dag: &Dag) {
    for reset in sketches
        .iter()
        .filter(|s| s.kind == Some("reset") && s.enabled)
    {
        for stage in sketches {
            let writes = stage.kind.is_some_and(|k| k != "reset");
            if !writes || !stage.enabled || dag.is_upstream(reset.name, stage.name) {
                continue;
            }
            let at = if stage.needs.is_empty() {
                cx.key_site(&stage.path)
            } else {
                cx.key_site(&stage.path.key(keys::stage::NEEDS.name))
            };
            cx.push(
                PlanDiagnostic::error(
                    Code::ResetOrder,
                    format!("stage `{}` writes to the database but does not run after reset stage `{}`", stage.name, reset.name),
                )
                .at(at, format!("does not need `{}`", reset.name))
                .key(stage.path.to_string())
                .help(format!(
                    "add \"{}\" to its `needs` (or a stage that runs after it); otherwise the reset could drop what it writes",
                    reset.name
                )),
            );
        }
    }
}

/// Each stage by name, with its compiled form when it compiled.
type ByName<'s, 'a> = BTreeMap<&'s str, (&'s Sketch<'a>, Option<&'s Stage>)>;

/// The fetch stages upstream of `name`, directly or not.
fn upstream_fetches<'s>(by_name: &ByName<'s, '_>, dag: &'s Dag, name: &str) -> Vec<&'s str> {
    dag.ancestors(name)
        .into_iter()
        .filter(|a| by_name.get(a).is_some_and(|(s, _)| s.kind == Some("fetch")))
        .collect()
}

/// Warns about each fetch of `fetches` whose `append` lacks `part`: `warning(fetch)` labelled
/// on its `append`.
fn missing_part(
    cx: &mut Cx<'_>,
    by_name: &ByName<'_, '_>,
    fetches: &[&str],
    part: &str,
    warning: impl Fn(&str) -> PlanDiagnostic,
) {
    for f in fetches {
        let Some((
            fsk,
            Some(Stage {
                kind: StageKind::Fetch(fetch),
                ..
            }),
        )) = by_name.get(f)
        else {
            continue;
        };
        if fetch.append.iter().any(|a| a == part) {
            continue;
        }
        let append = fsk.path.key(keys::fetch::APPEND.name);
        let at = cx.value_site(&append).or_else(|| cx.key_site(&fsk.path));
        cx.push(
            warning(f)
                .at(at, format!("no \"{part}\" here"))
                .key(append.to_string()),
        );
    }
}

/// The stages that work on the movies upstream fetch stages saved need one. `scope =
/// "upstream"` enriches them, and each fetch feeding it should ask TMDB for `external_ids`; a
/// people stage reads their credits, so each fetch feeding it should ask for `credits`
/// (without them it finds no one).
fn upstream_consumers(
    cx: &mut Cx<'_>,
    sketches: &[Sketch<'_>],
    stages: &[Option<Stage>],
    dag: &Dag,
) {
    let by_name: ByName<'_, '_> = sketches
        .iter()
        .zip(stages)
        .map(|(sk, st)| (sk.name, (sk, st.as_ref())))
        .collect();
    for (sk, stage) in sketches.iter().zip(stages) {
        let Some(stage) = stage else {
            continue;
        };
        let fetches = match &stage.kind {
            StageKind::Enrich(e) if e.scope == EnrichScope::Upstream => {
                upstream_fetches(&by_name, dag, sk.name)
            }
            StageKind::People(_) => upstream_fetches(&by_name, dag, sk.name),
            _ => continue,
        };
        match (&stage.kind, fetches.is_empty()) {
            (StageKind::Enrich(_), true) => {
                let scope = sk.path.key(keys::enrich::SCOPE.name);
                let at = cx.key_site(&scope).or_else(|| cx.key_site(&sk.path));
                cx.push(
                    PlanDiagnostic::error(
                        Code::EnrichWithoutUpstream,
                        format!("enrich stage `{}` enriches the movies of upstream fetch stages, but no fetch stage runs before it", sk.name),
                    )
                    .at(at, "`scope = \"upstream\"` (the default) needs a fetch stage in `needs`")
                    .key(sk.path.to_string())
                    .help("add a fetch stage to `needs`, or use `scope = \"missing\"` to enrich movies already in the database"),
                );
            }
            (StageKind::People(_), true) => {
                let needs = sk.path.key(keys::stage::NEEDS.name);
                let at = cx.value_site(&needs).or_else(|| cx.key_site(&sk.path));
                cx.push(
                    PlanDiagnostic::error(
                        Code::PeopleWithoutUpstream,
                        format!(
                            "people stage `{}` fetches the people of upstream fetch stages' movies, but no fetch stage runs before it",
                            sk.name
                        ),
                    )
                    .at(at, "no fetch stage upstream")
                    .key(sk.path.to_string())
                    .help("add the fetch stage whose movies' people it should fetch to `needs`"),
                );
            }
            _ if !stage.enabled => {}
            (StageKind::Enrich(_), false) => {
                missing_part(cx, &by_name, &fetches, "external_ids", |f| {
                    PlanDiagnostic::warning(
                        Code::MissingExternalIds,
                        format!("fetch stage `{f}` does not append `external_ids`, and enrich stage `{}` looks movies up by IMDb id", sk.name),
                    )
                    .help("add \"external_ids\" to `append`; TMDB details carry `imdb_id` too, so this is only a warning")
                });
            }
            (_, false) => {
                missing_part(cx, &by_name, &fetches, "credits", |f| {
                    PlanDiagnostic::warning(
                        Code::MissingCredits,
                        format!(
                            "fetch stage `{f}` does not append `credits`, and people stage `{}` fetches the people credited in its movies",
                            sk.name
                        ),
                    )
                    .help("add \"credits\" to `append`: without them its movies credit no one (unless an earlier run stored their credits)")
                });
            }
            _ => {}
        }
    }
}

/// A reset drops every table; only a local database may be reset without `allow_remote`.
fn remote_reset(cx: &mut Cx<'_>, stages: &[Option<Stage>], sections: &Sections) {
    let Interpolated::Value(url) = &sections.database.url else {
        return;
    };
    let url = url.expose();
    if is_local_database_url(url) {
        return;
    }
    for stage in stages.iter().flatten() {
        let StageKind::Reset(r) = &stage.kind else {
            continue;
        };
        if r.allow_remote || !stage.enabled {
            continue;
        }
        let p = super::raw::KeyPath::from_keys(&["database", "url"]);
        cx.push(
            remote_reset_error(&stage.name, url)
                .at(cx.value_site(&p), "not a database on this machine"),
        );
    }
}

/// The error for a reset against a remote database (also raised at run time by
/// [`Plan::require_resolved`] when the URL only becomes known then).
pub(crate) fn remote_reset_error(stage: &str, url: &str) -> PlanDiagnostic {
    let place = super::database::locality(url).place();
    PlanDiagnostic::error(
        Code::RemoteReset,
        format!("reset stage `{stage}` would replace the data of a database at {place}, which is not this machine"),
    )
    .key("database.url")
    .help(format!(
        "point `database.url` at a local database (a SQLite file, localhost, 127.0.0.1, ::1 or a unix socket), or set `allow_remote = true` on stage `{stage}` if wiping that database is intended"
    ))
}
