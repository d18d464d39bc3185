//! Writes a compiled plan back as TOML: `popctl plan show` (every default filled in, secrets
//! masked) and the input of [`Plan::hash`](super::Plan::hash) (secrets and machine paths left
//! out, so the hash says whether the plan's meaning changed, not where it was loaded).

use std::any::Any;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::keys::{self, Bind, Key, Table, Ty};
use super::model::*;
use super::units::format_duration;
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

/// `key = value` for each key of `table`, in the table's order: a key in `hand` as it gives
/// it (`None`: left out), a key bound to a field of `model` ([`Bind`]) from that field (an
/// unset `Option` left out), and no other.
fn lines(table: &Table, model: &dyn Any, hand: &[(&Key, Option<String>)]) -> Vec<String> {
    let mut out = Vec::new();
    for key in table.keys {
        let value = match (hand.iter().find(|(k, _)| k.name == key.name), key.bind) {
            (Some((_, text)), _) => text.clone(),
            (None, Some(Bind::Field { get, .. })) => {
                get(model).flatten().map(|v| key.to_toml(v).to_string())
            }
            (None, Some(Bind::Table { get, .. })) => match (get(model), key.ty) {
                (Some(inner_model), Ty::Table(inner)) => Some(inline(inner, inner_model, &[])),
                _ => None,
            },
            (None, None) => None,
        };
        if let Some(value) = value {
            out.push(format!("{} = {value}", key.name));
        }
    }
    out
}

/// The keys of `table` as an inline table, `{ a = 1, b = "x" }`.
fn inline(table: &Table, model: &dyn Any, hand: &[(&Key, Option<String>)]) -> String {
    format!("{{ {} }}", lines(table, model, hand).join(", "))
}

fn write_lines(out: &mut String, lines: Vec<String>) -> std::fmt::Result {
    lines.iter().try_for_each(|l| writeln!(out, "{l}"))
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
    let mut hand = vec![(&keys::database::URL, database_url(&plan.database.url, mode))];
    // How long to wait for the server does not change the data: not part of the hash.
    if mode == Render::Hash {
        hand.push((&keys::database::CONNECT_TIMEOUT, None));
    }
    write_lines(out, lines(&keys::DATABASE, &plan.database, &hand))?;

    if mode == Render::Show {
        writeln!(out, "\n[data]")?;
        writeln!(out, "dir = {}", s(&plan.data.dir.display().to_string()))?;
    }

    writeln!(out, "\n[cache]")?;
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
    let dir = (mode == Render::Show).then(|| s(&plan.cache.dir.display().to_string()));
    let hand = [
        (&keys::cache::DIR, dir),
        (&keys::cache::TTL, Some(format!("{{ {} }}", ttl.join(", ")))),
    ];
    write_lines(out, lines(&keys::CACHE, &plan.cache, &hand))?;

    for (name, src) in &plan.sources {
        use keys::source;
        writeln!(out, "\n[sources.{name}]")?;
        let hand = [
            (&source::KIND, Some(s(src.kind.as_str()))),
            (&source::API_KEY, api_key(&src.api_key, mode)),
            (&source::BASE_URL, Some(s(&src.base_url))),
            (
                &source::FILES_URL,
                (src.kind == SourceKind::Tmdb).then(|| s(&src.files_url)),
            ),
            (&source::LANGUAGE, src.language.as_deref().map(s)),
            (&source::REGION, src.region.as_deref().map(s)),
        ];
        write_lines(out, lines(&keys::SOURCE, src, &hand))?;
    }

    for stage in &plan.stages {
        write_stage(out, stage)?;
    }
    Ok(())
}

fn write_stage(out: &mut String, stage: &Stage) -> std::fmt::Result {
    use keys::stage as k;
    writeln!(out, "\n[stages.{}]", stage.name)?;
    let max_failures = stage.max_failures.map(|m| match m {
        MaxFailures::Count(n) => n.to_string(),
        MaxFailures::Ratio(f) => float(f),
    });
    let hand = [
        (&k::KIND, Some(s(stage.kind.name()))),
        (&k::NEEDS, Some(list(&stage.needs))),
        (&k::ENABLED, Some(stage.enabled.to_string())),
        (&k::RETRY, Some(inline(&keys::RETRY, &stage.retry, &[]))),
        (&k::MAX_FAILURES, max_failures),
    ];
    write_lines(out, lines(&keys::STAGE, stage, &hand))?;
    match &stage.kind {
        StageKind::Reset(r) => write_lines(out, lines(&keys::RESET, r, &[]))?,
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
                    writeln!(out, "export = {}", inline(&keys::EXPORT, filter, &[]))?;
                    if let Some(n) = limit {
                        writeln!(out, "limit = {n}")?;
                    }
                }
                FetchSelection::Changes {
                    refetch,
                    first_window,
                    filter,
                } => {
                    let hand = [
                        (&keys::changes::REFETCH, Some(s(refetch.as_str()))),
                        (
                            &keys::changes::FIRST_WINDOW,
                            Some(s(&format_duration(*first_window))),
                        ),
                    ];
                    writeln!(out, "changes = {}", inline(&keys::CHANGES, filter, &hand))?;
                }
            }
            writeln!(out, "append = {}", list(&f.append))?;
            // The selection above is written by hand; the bound keys follow.
            write_lines(out, lines(&keys::FETCH, f, &[]))?;
        }
        StageKind::Enrich(e) => {
            let hand = [(&keys::enrich::SOURCE, Some(s(&e.source)))];
            write_lines(out, lines(&keys::ENRICH, e, &hand))?;
        }
        StageKind::People(p) => {
            use keys::people;
            // `cast_top` and `jobs` are an error beside `select = "all"`.
            let credited = p.select == PeopleSelect::Credited;
            let hand = [
                (&people::SOURCE, Some(s(&p.source))),
                (&people::CAST_TOP, credited.then(|| p.cast_top.to_string())),
                (&people::JOBS, credited.then(|| list(&p.jobs))),
                (&people::APPEND, Some(list(&p.append))),
            ];
            write_lines(out, lines(&keys::PEOPLE, p, &hand))?;
        }
        StageKind::PostProcess(p) => write_post(out, &stage.name, p)?,
    }
    Ok(())
}

/// `{ sort_by = "…", with_genres = [27, "53|80"] }`: each filter written as its key's type
/// reads it, so the plan shown compiles to the same filters.
fn discover_filters(filters: &DiscoverFilters) -> String {
    use keys::DISCOVER;
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
            keys::post_process::settings(*step).name
        )?;
        match step {
            PostStep::CulturalLists => {
                if let Some(lists) = &p.cultural_lists.lists {
                    writeln!(out, "lists = {}", list(lists))?;
                }
            }
            PostStep::CriScores => write_lines(out, lines(&keys::CRI, &p.cri, &[]))?,
            PostStep::Recommendations => {
                write_lines(out, lines(&keys::RECOMMENDATIONS, &p.recommendations, &[]))?
            }
            PostStep::Reviews => write_lines(out, lines(&keys::REVIEWS, &p.reviews, &[]))?,
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
