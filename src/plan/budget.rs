//! The request budget a plan implies, computed from the plan alone: requests per source, the
//! shortest time the rates (and stage delays) allow, and the daily quotas it would exceed.
//!
//! Counts are upper bounds (a movie two stages both list is fetched once) and times are lower
//! bounds (the real run also waits for the network). `validate` prints this; `run --dry-run`
//! reuses it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::error::{Code, PlanDiagnostic};
use super::model::*;
use super::units::{format_rate, human_duration};
use crate::plan::dag::Dag;

/// The budget of one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StageBudget {
    pub stage: String,
    pub source: Option<String>,
    /// Movies the stage handles at most; `None` when only the run can tell.
    pub movies: Option<u64>,
    /// Requests at most; `None` when only the run can tell (see `note`).
    pub requests: Option<u64>,
    /// List pages among `requests`.
    pub list_pages: u64,
    /// The least time the stage's own `delay` and its source's rate allow.
    pub min_duration: Duration,
    /// Why `requests` is unknown.
    pub note: Option<String>,
}

/// The budget of one source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceBudget {
    pub source: String,
    pub kind: SourceKind,
    pub rate: Rate,
    pub daily_quota: Option<u32>,
    /// Requests at most, over the stages whose count is known.
    pub requests: u64,
    /// Stages using this source whose count only the run can tell.
    pub open_ended: Vec<String>,
    /// The least time the rate and the stage delays allow for `requests`.
    pub min_duration: Duration,
}

impl SourceBudget {
    /// True when the plan needs more requests than the key allows in a day.
    pub fn over_quota(&self) -> bool {
        self.daily_quota
            .is_some_and(|q| self.requests > u64::from(q))
    }
}

/// The whole plan's budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// In the plan's source order (by name).
    pub sources: Vec<SourceBudget>,
    /// Enabled stages, in execution order.
    pub stages: Vec<StageBudget>,
    /// The least time the plan can take: sources are used at once, so the slowest one.
    pub min_duration: Duration,
}

/// Computes the budget of `plan`.
pub fn budget(plan: &Plan) -> Budget {
    let dag = Dag::new(plan).ok();
    let order: Vec<String> = match &dag {
        Some(dag) => dag.order().map(str::to_owned).collect(),
        // A compiled plan is acyclic; a hand-built one still gets a budget in plan order.
        None => plan.stages.iter().map(|s| s.name.clone()).collect(),
    };
    let mut movies_of: BTreeMap<&str, Option<u64>> = BTreeMap::new();
    let mut stages = Vec::new();
    for name in &order {
        let Some(stage) = plan.stage(name).filter(|s| s.enabled) else {
            continue;
        };
        let (source, movies, requests, list_pages, note) = match &stage.kind {
            StageKind::Fetch(f) => {
                let (movies, pages, note) = match &f.selection {
                    FetchSelection::List { pages, limit, .. } => {
                        let queries = f.selection.list_queries().len() as u64;
                        (
                            Some(
                                queries
                                    * limit.map_or(u64::from(*pages) * LIST_PAGE_SIZE, u64::from),
                            ),
                            queries * u64::from(*pages),
                            None,
                        )
                    }
                    FetchSelection::Ids(ids) => (Some(ids.len() as u64), 0, None),
                    FetchSelection::CuratedList { name, .. } => (
                        None,
                        0,
                        Some(format!(
                            "one request per movie of list `{name}`, counted at run time"
                        )),
                    ),
                    FetchSelection::Collection(id) => (
                        None,
                        1,
                        Some(format!(
                            "one request for collection {id}, then one per movie in it"
                        )),
                    ),
                    FetchSelection::ImdbIds(ids) => (
                        Some(ids.len() as u64),
                        ids.len() as u64,
                        None,
                    ),
                    FetchSelection::TmdbList(id) => (
                        None,
                        1,
                        Some(format!(
                            "one request per page of TMDB list {id}, then one per movie in it"
                        )),
                    ),
                    FetchSelection::Person(p) => (
                        None,
                        1,
                        Some(format!(
                            "one request for person {}'s credits, then one per movie",
                            p.id
                        )),
                    ),
                    FetchSelection::Search(q) => {
                        (Some(q.len() as u64), q.len() as u64, None)
                    }
                    FetchSelection::IdsFile { ids, .. } => {
                        let imdb = ids.iter().filter(|i| matches!(i, MovieRef::Imdb(_))).count();
                        (Some(ids.len() as u64), imdb as u64, None)
                    }
                    FetchSelection::Export { limit: Some(n), .. } => (
                        Some(u64::from(*n)),
                        0,
                        Some("one download of the ID export (files host, not rate-limited)".to_owned()),
                    ),
                    FetchSelection::Export { limit: None, .. } => (
                        None,
                        0,
                        Some("one request per movie of the ID export (about 1.2 million for the whole catalog), counted at run time".to_owned()),
                    ),
                    FetchSelection::Changes { .. } => (
                        None,
                        0,
                        Some("one request per page of changes (100 ids) and per changed movie, counted at run time".to_owned()),
                    ),
                };
                (
                    Some(f.source.clone()),
                    movies,
                    movies.map(|m| m + pages),
                    pages,
                    note,
                )
            }
            StageKind::Enrich(e) => {
                let (movies, note) = match e.scope {
                    EnrichScope::Upstream => {
                        let upstream: Vec<Option<u64>> = dag
                            .as_ref()
                            .map(|d| d.ancestors(name))
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|a| {
                                matches!(plan.stage(a).map(|s| &s.kind), Some(StageKind::Fetch(_)))
                            })
                            .filter_map(|a| movies_of.get(a).copied())
                            .collect();
                        let total = upstream.iter().try_fold(0u64, |acc, m| m.map(|m| acc + m));
                        let note = total.is_none().then(|| {
                            "one request per upstream movie, counted at run time".to_owned()
                        });
                        (total, note)
                    }
                    EnrichScope::Missing | EnrichScope::All => (
                        None,
                        Some(format!(
                            "one request per movie in the database ({} scope), counted at run time",
                            e.scope.as_str()
                        )),
                    ),
                };
                (Some(e.source.clone()), movies, movies, 0, note)
            }
            StageKind::People(p) => (
                Some(p.source.clone()),
                None,
                None,
                0,
                Some("one request per person selected from the upstream movies' credits, counted at run time".to_owned()),
            ),
            _ => (None, None, None, 0, None),
        };
        movies_of.insert(name, movies);
        let by_delay = requests
            .map(|r| {
                stage
                    .delay
                    .saturating_mul(u32::try_from(r.saturating_sub(1)).unwrap_or(u32::MAX))
            })
            .unwrap_or_default();
        // Its own requests at its source's rate, were it alone on the source.
        let by_rate = source
            .as_ref()
            .and_then(|s| plan.sources.get(s))
            .zip(requests)
            .map(|(src, r)| src.rate.time_for(r))
            .unwrap_or_default();
        let min_duration = by_delay.max(by_rate);
        stages.push(StageBudget {
            stage: name.clone(),
            source,
            movies,
            requests,
            list_pages,
            min_duration,
            note,
        });
    }

    let sources: Vec<SourceBudget> = plan
        .sources
        .values()
        .map(|src| {
            let using: Vec<&StageBudget> = stages
                .iter()
                .filter(|s| s.source.as_deref() == Some(&src.name))
                .collect();
            let requests = using.iter().filter_map(|s| s.requests).sum();
            let delays = using
                .iter()
                .map(|s| s.min_duration)
                .max()
                .unwrap_or_default();
            SourceBudget {
                source: src.name.clone(),
                kind: src.kind,
                rate: src.rate,
                daily_quota: src.daily_quota,
                requests,
                open_ended: using
                    .iter()
                    .filter(|s| s.requests.is_none())
                    .map(|s| s.stage.clone())
                    .collect(),
                min_duration: src.rate.time_for(requests).max(delays),
            }
        })
        .collect();
    let min_duration = sources
        .iter()
        .map(|s| s.min_duration)
        .max()
        .unwrap_or_default();
    Budget {
        sources,
        stages,
        min_duration,
    }
}

impl Budget {
    /// One line per source that is used: `tmdb: at most 2,210 requests (10 list pages + 200
    /// details), at least 55.3s at 40/s`.
    pub fn lines(&self) -> Vec<String> {
        self.sources
            .iter()
            .filter(|s| s.requests > 0 || !s.open_ended.is_empty())
            .map(|s| {
                let mut line = if s.requests > 0 {
                    format!("{}: at most {} requests", s.source, thousands(s.requests))
                } else {
                    format!("{}: requests counted at run time", s.source)
                };
                let pages: u64 = self
                    .stages
                    .iter()
                    // Pages of a stage counted at run time are not among `requests`.
                    .filter(|st| st.source.as_deref() == Some(&s.source) && st.requests.is_some())
                    .map(|st| st.list_pages)
                    .sum();
                if pages > 0 {
                    line.push_str(&format!(
                        " ({} + {})",
                        plural_count(pages, "list page"),
                        plural_count(s.requests.saturating_sub(pages), "detail")
                    ));
                }
                let notes: Vec<String> = self
                    .stages
                    .iter()
                    .filter(|st| st.source.as_deref() == Some(&s.source))
                    .filter_map(|st| st.note.as_ref().map(|n| format!("`{}`: {n}", st.stage)))
                    .collect();
                if !notes.is_empty() {
                    line.push_str(&format!(" ({})", notes.join("; ")));
                }
                if s.requests > 0 {
                    line.push_str(&format!(
                        ", at least {} at {}",
                        human_duration(s.min_duration),
                        format_rate(s.rate)
                    ));
                } else {
                    line.push_str(&format!(", at {}", format_rate(s.rate)));
                }
                if let Some(q) = s.daily_quota {
                    line.push_str(&format!("; daily quota {}", thousands(u64::from(q))));
                }
                line
            })
            .collect()
    }

    /// Warnings for sources whose daily quota the plan exceeds.
    pub fn quota_warnings(&self) -> Vec<PlanDiagnostic> {
        self.sources
            .iter()
            .filter(|s| s.over_quota())
            .map(|s| {
                let quota = u64::from(s.daily_quota.unwrap_or(0));
                PlanDiagnostic::warning(
                    Code::Quota,
                    format!(
                        "source `{}` needs up to {} requests, but its `daily_quota` is {}",
                        s.source,
                        thousands(s.requests),
                        thousands(quota)
                    ),
                )
                .key(format!("sources.{}.daily_quota", s.source))
                .help(format!(
                    "the run would stop at the quota and take {} days of quota; fetch fewer movies or use a key with a larger quota",
                    s.requests.div_ceil(quota.max(1))
                ))
            })
            .collect()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "min_seconds": self.min_duration.as_secs_f64(),
            "sources": self.sources.iter().map(|s| serde_json::json!({
                "source": s.source,
                "kind": s.kind.as_str(),
                "rate": format_rate(s.rate),
                "requests": s.requests,
                "open_ended_stages": s.open_ended,
                "min_seconds": s.min_duration.as_secs_f64(),
                "daily_quota": s.daily_quota,
                "over_quota": s.over_quota(),
            })).collect::<Vec<_>>(),
            "stages": self.stages.iter().map(|s| serde_json::json!({
                "stage": s.stage,
                "source": s.source,
                "movies": s.movies,
                "requests": s.requests,
                "list_pages": s.list_pages,
                "min_seconds": s.min_duration.as_secs_f64(),
                "note": s.note,
            })).collect::<Vec<_>>(),
        })
    }
}

/// `1 list page`, `10 list pages`.
fn plural_count(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{} {word}s", thousands(n))
    }
}

/// `2210` → `2,210`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(2210), "2,210");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
