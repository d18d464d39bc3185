//! Writes a compiled plan back as TOML: `popctl plan show` (every default filled in, secrets
//! masked) and the input of [`Plan::hash`](super::Plan::hash) (secrets and machine paths left
//! out, so the hash says whether the plan's meaning changed, not where it was loaded).

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::model::*;
use super::units::{format_duration, format_rate, format_size};
use crate::secret::{Secret, SecretUrl};

/// What to do with secrets and machine-specific paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    /// For people: API keys and database passwords masked by their own `Display`
    /// ([`crate::secret`]), paths absolute.
    Show,
    /// For the hash: API keys and database passwords left out, paths left out.
    Hash,
}

fn s(v: &str) -> String {
    toml::Value::String(v.to_owned()).to_string()
}

fn list<T: AsRef<str>>(items: &[T]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| s(i.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}

fn float(f: f64) -> String {
    toml::Value::Float(f).to_string()
}

fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// An API key: masked when shown, left out of the hash; an unset `${VAR}` as written.
fn api_key(v: &Interpolated<Secret>, mode: Render) -> Option<String> {
    match (v, mode) {
        (Interpolated::Unresolved { var }, _) => Some(s(&format!("${{{var}}}"))),
        (Interpolated::Value(_), Render::Hash) => None,
        (Interpolated::Value(key), Render::Show) => Some(s(&key.to_string())),
    }
}

/// The database URL: its password masked when shown, left out of the hash.
fn database_url(v: &Interpolated<SecretUrl>, mode: Render) -> Option<String> {
    match (v, mode) {
        (Interpolated::Unresolved { var }, _) => Some(s(&format!("${{{var}}}"))),
        (Interpolated::Value(url), Render::Show) => Some(s(&url.to_string())),
        (Interpolated::Value(url), Render::Hash) => Some(s(&without_password(url.expose()))),
    }
}

/// The plan as TOML, in a fixed order: plan, database, data, cache, sources, stages.
pub fn to_toml(plan: &Plan, mode: Render) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail; `let _` keeps the code free of unwraps.
    let _ = write_plan(&mut out, plan, mode);
    out
}

fn write_plan(out: &mut String, plan: &Plan, mode: Render) -> std::fmt::Result {
    writeln!(out, "[plan]")?;
    writeln!(out, "name = {}", s(&plan.name))?;
    if let Some(d) = &plan.description {
        writeln!(out, "description = {}", s(d))?;
    }

    writeln!(out, "\n[database]")?;
    if let Some(url) = database_url(&plan.database.url, mode) {
        writeln!(out, "url = {url}")?;
    }
    // How long to wait for the server does not change the data: not part of the hash.
    if mode == Render::Show {
        let timeout = format_duration(plan.database.connect_timeout);
        writeln!(out, "connect_timeout = {}", s(&timeout))?;
    }

    if mode == Render::Show {
        writeln!(out, "\n[data]")?;
        writeln!(out, "dir = {}", s(&plan.data.dir.display().to_string()))?;
    }

    writeln!(out, "\n[cache]")?;
    writeln!(out, "mode = {}", s(plan.cache.mode.as_str()))?;
    if mode == Render::Show {
        writeln!(out, "dir = {}", s(&plan.cache.dir.display().to_string()))?;
    }
    let mut ttl: Vec<String> = plan
        .sources
        .keys()
        .map(|name| {
            let d = plan
                .cache
                .ttl
                .get(name)
                .copied()
                .unwrap_or(plan.cache.default_ttl);
            format!("{name} = {}", s(&format_duration(d)))
        })
        .collect();
    ttl.sort();
    writeln!(out, "ttl = {{ {} }}", ttl.join(", "))?;
    writeln!(
        out,
        "negative_ttl = {}",
        s(&format_duration(plan.cache.negative_ttl))
    )?;

    for (name, src) in &plan.sources {
        writeln!(out, "\n[sources.{name}]")?;
        writeln!(out, "kind = {}", s(src.kind.as_str()))?;
        if let Some(key) = api_key(&src.api_key, mode) {
            writeln!(out, "api_key = {key}")?;
        }
        writeln!(out, "base_url = {}", s(&src.base_url))?;
        writeln!(out, "rate = {}", s(&format_rate(src.rate)))?;
        writeln!(out, "burst = {}", src.burst)?;
        writeln!(out, "timeout = {}", s(&format_duration(src.timeout)))?;
        if let Some(q) = src.daily_quota {
            writeln!(out, "daily_quota = {q}")?;
        }
        writeln!(out, "max_body = {}", s(&format_size(src.max_body)))?;
        writeln!(
            out,
            "max_rate_limited_wait = {}",
            s(&format_duration(src.max_rate_limited_wait))
        )?;
        if src.kind == SourceKind::Tmdb {
            writeln!(out, "files_url = {}", s(&src.files_url))?;
        }
        if let Some(language) = &src.language {
            writeln!(out, "language = {}", s(language))?;
        }
        if let Some(region) = &src.region {
            writeln!(out, "region = {}", s(region))?;
        }
        writeln!(out, "store_raw = {}", src.store_raw)?;
    }

    for stage in &plan.stages {
        write_stage(out, stage)?;
    }
    Ok(())
}

fn write_stage(out: &mut String, stage: &Stage) -> std::fmt::Result {
    writeln!(out, "\n[stages.{}]", stage.name)?;
    writeln!(out, "kind = {}", s(stage.kind.name()))?;
    writeln!(out, "needs = {}", list(&stage.needs))?;
    writeln!(out, "enabled = {}", stage.enabled)?;
    writeln!(out, "concurrency = {}", stage.concurrency)?;
    writeln!(out, "delay = {}", s(&format_duration(stage.delay)))?;
    let r = &stage.retry;
    writeln!(
        out,
        "retry = {{ attempts = {}, backoff = {}, initial = {}, max = {}, jitter = {} }}",
        r.attempts,
        s(r.backoff.as_str()),
        s(&format_duration(r.initial)),
        s(&format_duration(r.max)),
        r.jitter
    )?;
    writeln!(out, "on_error = {}", s(stage.on_error.as_str()))?;
    match stage.max_failures {
        Some(MaxFailures::Count(n)) => writeln!(out, "max_failures = {n}")?,
        Some(MaxFailures::Ratio(f)) => writeln!(out, "max_failures = {}", float(f))?,
        None => {}
    }
    writeln!(out, "streaming = {}", stage.streaming)?;
    match &stage.kind {
        StageKind::Reset(r) => {
            writeln!(out, "allow_remote = {}", r.allow_remote)?;
            writeln!(out, "mode = {}", s(r.mode.as_str()))?;
            writeln!(out, "scope = {}", s(r.scope.as_str()))?;
        }
        StageKind::Seed(seed) => {
            let sets: Vec<&str> = seed.sets.iter().map(|s| s.as_str()).collect();
            writeln!(out, "sets = {}", list(&sets))?;
        }
        StageKind::Fetch(f) => {
            writeln!(out, "source = {}", s(&f.source))?;
            match &f.selection {
                FetchSelection::List {
                    list: l,
                    pages,
                    limit,
                    filters,
                    queries,
                } => {
                    writeln!(out, "list = {}", s(l.as_str()))?;
                    match limit {
                        Some(n) => writeln!(out, "limit = {n}")?,
                        None => writeln!(out, "pages = {pages}")?,
                    }
                    if !filters.is_empty() {
                        writeln!(out, "filters = {}", discover_filters(filters))?;
                    }
                    // Each query as compiled (over `filters` already): loaded again over the
                    // same `filters`, it is the same query.
                    if !queries.is_empty() {
                        let queries: Vec<String> = queries.iter().map(discover_filters).collect();
                        writeln!(out, "queries = [{}]", queries.join(", "))?;
                    }
                }
                FetchSelection::Ids(ids) => {
                    let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
                    writeln!(out, "ids = [{}]", ids.join(", "))?;
                }
                FetchSelection::CuratedList { name, .. } => {
                    writeln!(out, "curated_list = {}", s(name))?;
                }
                FetchSelection::Collection(id) => {
                    writeln!(out, "collection = {id}")?;
                }
                FetchSelection::ImdbIds(ids) => {
                    writeln!(out, "imdb_ids = {}", list(ids))?;
                }
                FetchSelection::TmdbList(id) => match id.parse::<u64>() {
                    Ok(n) if !id.starts_with('0') => writeln!(out, "tmdb_list = {n}")?,
                    _ => writeln!(out, "tmdb_list = {}", s(id))?,
                },
                FetchSelection::Person(p) => {
                    let mut parts = vec![
                        format!("id = {}", p.id),
                        format!("role = {}", s(p.role.as_str())),
                    ];
                    if !p.jobs.is_empty() {
                        parts.push(format!("jobs = {}", list(&p.jobs)));
                    }
                    writeln!(out, "person = {{ {} }}", parts.join(", "))?;
                }
                FetchSelection::Search(searches) => {
                    let items: Vec<String> = searches
                        .iter()
                        .map(|q| match q.year {
                            Some(y) => format!("{{ title = {}, year = {y} }}", s(&q.title)),
                            None => format!("{{ title = {} }}", s(&q.title)),
                        })
                        .collect();
                    writeln!(out, "search = [{}]", items.join(", "))?;
                }
                FetchSelection::IdsFile { name, .. } => {
                    writeln!(out, "ids_file = {}", s(name))?;
                }
                FetchSelection::Export { filter, limit } => {
                    writeln!(out, "export = {{ {} }}", catalog_filter(filter).join(", "))?;
                    if let Some(n) = limit {
                        writeln!(out, "limit = {n}")?;
                    }
                }
                FetchSelection::Changes {
                    refetch,
                    first_window,
                    filter,
                } => {
                    let mut keys = vec![
                        format!("refetch = {}", s(refetch.as_str())),
                        format!("first_window = {}", s(&format_duration(*first_window))),
                    ];
                    keys.extend(catalog_filter(filter));
                    writeln!(out, "changes = {{ {} }}", keys.join(", "))?;
                }
            }
            writeln!(out, "append = {}", list(&f.append))?;
            writeln!(out, "on_removed = {}", s(f.on_removed.as_str()))?;
            writeln!(out, "max_removed = {}", float(f.max_removed))?;
        }
        StageKind::Enrich(e) => {
            writeln!(out, "source = {}", s(&e.source))?;
            writeln!(out, "scope = {}", s(e.scope.as_str()))?;
            writeln!(out, "retry_no_data = {}", e.retry_no_data)?;
            if let Some(d) = e.retry_no_data_after {
                writeln!(out, "retry_no_data_after = {}", s(&format_duration(d)))?;
            }
        }
        StageKind::People(p) => {
            writeln!(out, "source = {}", s(&p.source))?;
            writeln!(out, "select = {}", s(p.select.as_str()))?;
            if p.select == PeopleSelect::Credited {
                writeln!(out, "cast_top = {}", p.cast_top)?;
                writeln!(out, "jobs = {}", list(&p.jobs))?;
            }
            writeln!(out, "append = {}", list(&p.append))?;
        }
        StageKind::PostProcess(p) => write_post(out, &stage.name, p)?,
    }
    Ok(())
}

/// `{ sort_by = "…", with_genres = [27, "53|80"] }`: each filter written as its key's type
/// reads it, so the plan shown compiles to the same filters.
/// The keys of an `export` or `changes` table.
fn catalog_filter(f: &CatalogFilter) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(min) = f.min_popularity {
        keys.push(format!("min_popularity = {}", float(min)));
    }
    keys.push(format!("adult = {}", f.adult));
    keys.push(format!("video = {}", f.video));
    keys
}

fn discover_filters(filters: &DiscoverFilters) -> String {
    use super::keys::{DISCOVER, Ty};
    let value = |name: &str, v: &str| -> String {
        let ty = DISCOVER.get(name).map(|k| k.ty);
        match ty {
            Some(Ty::Bool | Ty::Int { .. } | Ty::Float { .. }) => v.to_owned(),
            Some(Ty::AndOr(_)) => {
                let items: Vec<String> = v
                    .split(',')
                    .map(|e| match e.parse::<i64>() {
                        Ok(n) => n.to_string(),
                        Err(_) => s(e),
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            }
            _ => s(v),
        }
    };
    let entries: Vec<String> = filters
        .query()
        .iter()
        .map(|(name, v)| {
            let key = if name.contains('.') {
                s(name)
            } else {
                (*name).to_owned()
            };
            format!("{key} = {}", value(name, v))
        })
        .collect();
    format!("{{ {} }}", entries.join(", "))
}

fn write_post(out: &mut String, name: &str, p: &PostProcessStage) -> std::fmt::Result {
    let steps: Vec<&str> = p.steps.iter().map(|s| s.as_str()).collect();
    writeln!(out, "steps = {}", list(&steps))?;
    for step in &p.steps {
        writeln!(
            out,
            "\n[stages.{name}.{}]",
            super::keys::post_process::settings(*step).name
        )?;
        match step {
            PostStep::CulturalLists => {
                if let Some(lists) = &p.cultural_lists.lists {
                    writeln!(out, "lists = {}", list(lists))?;
                }
            }
            PostStep::CriScores => {
                let c = &p.cri;
                let w = &c.weights;
                writeln!(
                    out,
                    "weights = {{ timelessness = {}, cultural_penetration = {}, artistic_impact = {}, institutional_recognition = {}, public_reception = {} }}",
                    float(w.timelessness),
                    float(w.cultural_penetration),
                    float(w.artistic_impact),
                    float(w.institutional_recognition),
                    float(w.public_reception)
                )?;
                writeln!(out, "imdb_votes_full = {}", c.imdb_votes_full)?;
                writeln!(out, "tmdb_votes_full = {}", c.tmdb_votes_full)?;
                writeln!(out, "popularity_full = {}", float(c.popularity_full))?;
                writeln!(out, "classic_age_years = {}", c.classic_age_years)?;
            }
            PostStep::Recommendations => {
                let r = &p.recommendations;
                let w = &r.weights;
                writeln!(out, "top_n = {}", r.top_n)?;
                writeln!(out, "min_score = {}", float(r.min_score))?;
                writeln!(
                    out,
                    "weights = {{ genres = {}, keywords = {}, cast = {}, crew = {} }}",
                    float(w.genres),
                    float(w.keywords),
                    float(w.cast),
                    float(w.crew)
                )?;
            }
            PostStep::Reviews => writeln!(out, "per_movie = {}", p.reviews.per_movie)?,
        }
    }
    Ok(())
}

/// SHA-256 of the plan rendered without secrets or paths, in hex.
pub fn hash(plan: &Plan) -> String {
    hex::encode(Sha256::digest(to_toml(plan, Render::Hash).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_and_other_urls_untouched() {
        let show =
            |url: &str| database_url(&Interpolated::Value(SecretUrl::new(url)), Render::Show);
        assert_eq!(
            show("postgres://app:s3cret@db.example.com:5432/movies").as_deref(),
            Some("\"postgres://app:***@db.example.com:5432/movies\"")
        );
        assert_eq!(
            show("sqlite://popctl-dev.db?mode=rwc").as_deref(),
            Some("\"sqlite://popctl-dev.db?mode=rwc\"")
        );
        assert_eq!(
            without_password("postgres://app:s3cret@h/db"),
            "postgres://app@h/db"
        );
    }
}
