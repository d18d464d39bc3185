//! Compiling `[stages.<name>]` tables: the fields every stage has, then each kind's own.
//!
//! A first pass ([`sketch`]) reads only what the cross-stage checks need (kind, needs,
//! enabled), so a stage with a bad `pages` still takes part in cycle and ordering checks and
//! does not cause follow-on errors elsewhere.

use std::time::Duration;

use figment::value::{Dict, Value};

use super::compile::{Cx, Sections, Tbl, sub_table};
use super::keys::{self, DEFAULT_CONCURRENCY, Key, Ty};
use miette::Severity;

use super::error::{Code, PlanDiagnostic};
use super::model::*;
use super::raw::KeyPath;
use super::suggest;

/// What the cross-stage checks need to know about a stage, read even when the rest of the
/// stage has errors.
pub(crate) struct Sketch<'a> {
    pub name: &'a str,
    pub path: KeyPath,
    pub dict: Option<&'a Dict>,
    /// A valid kind word, or `None` when missing or unknown (reported).
    pub kind: Option<&'static str>,
    pub needs: Vec<(KeyPath, String)>,
    /// False when `needs` is malformed (reported): the graph is then unknown.
    pub needs_valid: bool,
    pub enabled: bool,
}

/// Sketches every stage, in the order the plan writes them.
pub(crate) fn sketch<'a>(cx: &mut Cx<'_>, stages: &'a Dict, path: &KeyPath) -> Vec<Sketch<'a>> {
    let mut out = Vec::new();
    for (name, value) in stages {
        let spath = path.key(name);
        if !super::compile::is_valid_name(name) {
            cx.push(
                PlanDiagnostic::error(Code::InvalidName, format!("`{name}` is not a valid stage name"))
                    .at(cx.key_site(&spath), "invalid name")
                    .key(spath.to_string())
                    .help("use letters, digits, `_` and `-`: stage names appear in `needs`, graphs and run records"),
            );
        }
        let dict = cx.table(&spath, value);
        let mut sk = Sketch {
            name,
            path: spath.clone(),
            dict,
            kind: None,
            needs: Vec::new(),
            needs_valid: true,
            enabled: true,
        };
        if let Some(dict) = dict {
            let t = Tbl { path: &spath, dict };
            if t.has(&keys::stage::KIND) {
                sk.kind = cx
                    .word(t, &keys::stage::KIND, Code::UnknownKind, "stage kind")
                    .and_then(|(_, k)| STAGE_KINDS.iter().copied().find(|w| *w == k));
            } else {
                cx.push(
                    PlanDiagnostic::error(
                        Code::MissingField,
                        format!("stage `{name}` has no `kind`"),
                    )
                    .at(cx.key_site(&spath), "no `kind` in this stage")
                    .key(spath.to_string())
                    .help(format!(
                        "add `kind = \"…\"`, one of {}",
                        suggest::one_of(STAGE_KINDS)
                    )),
                );
            }
            match cx.strings(t, &keys::stage::NEEDS) {
                Some(needs) => {
                    sk.needs = needs.into_iter().map(|(p, n)| (p, n.to_owned())).collect()
                }
                None => sk.needs_valid = !t.has(&keys::stage::NEEDS),
            }
            sk.enabled = cx.bool(t, &keys::stage::ENABLED).unwrap_or(true);
        }
        out.push(sk);
    }
    out.sort_by_key(|sk| cx.layers.written_order(&sk.path));
    expand_kind_needs(cx, &mut out);
    out
}

/// In `needs`, `"kind:fetch"` stands for every other stage of that kind (in the order the plan
/// writes them), so an enrich or post stage can follow every fetch stage without naming them.
/// A stage named explicitly as well is needed once.
pub const NEEDS_KIND_PREFIX: &str = "kind:";

fn expand_kind_needs(cx: &mut Cx<'_>, sketches: &mut [Sketch<'_>]) {
    let kinds: Vec<(String, Option<&'static str>)> = sketches
        .iter()
        .map(|sk| (sk.name.to_owned(), sk.kind))
        .collect();
    for sk in sketches.iter_mut() {
        if !sk
            .needs
            .iter()
            .any(|(_, n)| n.starts_with(NEEDS_KIND_PREFIX))
        {
            continue;
        }
        let written = std::mem::take(&mut sk.needs);
        let explicit: Vec<String> = written
            .iter()
            .filter(|(_, n)| !n.starts_with(NEEDS_KIND_PREFIX))
            .map(|(_, n)| n.clone())
            .collect();
        for (p, need) in written {
            let Some(kind) = need.strip_prefix(NEEDS_KIND_PREFIX) else {
                sk.needs.push((p, need));
                continue;
            };
            if !STAGE_KINDS.contains(&kind) {
                let help = suggest::did_you_mean(kind, STAGE_KINDS)
                    .unwrap_or_else(|| format!("the kinds are {}", suggest::one_of(STAGE_KINDS)));
                cx.push(
                    PlanDiagnostic::error(
                        Code::UnknownNeed,
                        format!(
                            "stage `{}` needs `{need}`, but `{kind}` is not a stage kind",
                            sk.name
                        ),
                    )
                    .at(cx.value_site(&p), "no such stage kind")
                    .key(p.to_string())
                    .help(help),
                );
                sk.needs_valid = false;
                continue;
            }
            let of_kind: Vec<&String> = kinds
                .iter()
                .filter(|(n, k)| *k == Some(kind) && n != sk.name)
                .map(|(n, _)| n)
                .collect();
            if of_kind.is_empty() {
                cx.push(
                    PlanDiagnostic::error(
                        Code::UnknownNeed,
                        format!(
                            "stage `{}` needs `{need}`, but the plan has no other `{kind}` stage",
                            sk.name
                        ),
                    )
                    .at(cx.value_site(&p), format!("no `{kind}` stage"))
                    .key(p.to_string())
                    .help(format!(
                        "add a `{kind}` stage, or remove `{need}` from `needs`"
                    )),
                );
                sk.needs_valid = false;
                continue;
            }
            for name in of_kind {
                let listed = explicit.contains(name) || sk.needs.iter().any(|(_, n)| n == name);
                if !listed {
                    sk.needs.push((p.clone(), name.clone()));
                }
            }
        }
    }
}

/// Compiles a sketched stage of a known kind.
pub(crate) fn compile(cx: &mut Cx<'_>, sk: &Sketch<'_>, sections: &Sections) -> Option<Stage> {
    let (dict, kind) = (sk.dict?, sk.kind?);
    let t = Tbl {
        path: &sk.path,
        dict,
    };
    check_stage_keys(cx, t, sk.name, kind);

    // The keys every stage has first (the kind's own may fail), each checked either way.
    let mut stage = Stage {
        name: sk.name.to_owned(),
        needs: sk.needs.iter().map(|(_, n)| n.clone()).collect(),
        enabled: sk.enabled,
        concurrency: DEFAULT_CONCURRENCY,
        delay: Duration::ZERO,
        retry: super::compile::retry(cx, t, &sections.default_retry),
        on_error: OnError::Fail,
        max_failures: max_failures(cx, t),
        streaming: true,
        kind: StageKind::Reset(ResetStage::default()),
    };
    cx.read_bound(t, &keys::STAGE, &mut stage);
    stage.kind = match kind {
        "reset" => Some(StageKind::Reset(reset(cx, t))),
        "seed" => seed(cx, t).map(StageKind::Seed),
        "fetch" => fetch(cx, t, sk.name, sections).map(StageKind::Fetch),
        "enrich" => enrich(cx, t, sk.name, sections).map(StageKind::Enrich),
        "people" => people(cx, t, sk.name, sections).map(StageKind::People),
        "post_process" => post_process(cx, t, sk.name, sections).map(StageKind::PostProcess),
        _ => None,
    }?;
    Some(stage)
}

/// Unknown keys of a stage; a key of another kind says which kind it belongs to.
fn check_stage_keys(cx: &mut Cx<'_>, t: Tbl<'_>, name: &str, kind: &str) {
    let allowed: Vec<&str> = keys::STAGE
        .keys
        .iter()
        .chain(keys::of_kind(kind).keys)
        .map(|k| k.name)
        .collect();
    // Read (with a warning) by `fetch_list`, but not offered as a suggestion.
    let moved = keys::fetch::MOVED_TO_FILTERS.iter().map(|m| m.key.name);
    for key in t.dict.keys() {
        if allowed.contains(&key.as_str())
            || (kind == "fetch" && moved.clone().any(|m| m == key.as_str()))
        {
            continue;
        }
        let path = t.path.key(key);
        let owners: Vec<&str> = STAGE_KINDS
            .iter()
            .copied()
            .filter(|k| keys::of_kind(k).get(key).is_some())
            .collect();
        let help = if owners.is_empty() {
            suggest::did_you_mean(key, &allowed)
                .unwrap_or_else(|| format!("a `{kind}` stage takes {}", suggest::one_of(&allowed)))
        } else {
            format!(
                "`{key}` belongs to {} stages; stage `{name}` is a `{kind}` stage",
                suggest::all_of(&owners)
            )
        };
        cx.push(
            PlanDiagnostic::error(
                Code::UnknownField,
                format!("unknown key `{key}` in stage `{name}`"),
            )
            .at(cx.key_site(&path), "unknown key")
            .key(path.to_string())
            .help(help),
        );
    }
}

fn max_failures(cx: &mut Cx<'_>, t: Tbl<'_>) -> Option<MaxFailures> {
    let v = t.dict.get("max_failures")?;
    let path = t.path.key("max_failures");
    let bad = |cx: &mut Cx<'_>, message: String| {
        cx.push(
            PlanDiagnostic::error(Code::OutOfRange, message)
                .at(cx.value_site(&path), "not a count or a ratio")
                .key(path.to_string())
                .help("a count of failed items (`10`) or a ratio of them (`0.05` or \"5%\")"),
        );
        None
    };
    match v {
        Value::Num(_, n) if n.to_f64().is_none() => {
            match n
                .to_i128()
                .or_else(|| n.to_u128().and_then(|u| i128::try_from(u).ok()))
            {
                Some(c) if c >= 0 => u64::try_from(c).ok().map(MaxFailures::Count),
                _ => bad(cx, format!("`{path}` cannot be negative")),
            }
        }
        Value::Num(_, n) => match n.to_f64() {
            Some(f) if (0.0..=1.0).contains(&f) => Some(MaxFailures::Ratio(f)),
            _ => bad(
                cx,
                format!("`{path}` as a ratio must be between 0.0 and 1.0"),
            ),
        },
        Value::String(_, s) => {
            let pct = s
                .trim()
                .strip_suffix('%')
                .and_then(|n| n.trim().parse::<f64>().ok());
            match pct {
                Some(p) if (0.0..=100.0).contains(&p) => Some(MaxFailures::Ratio(p / 100.0)),
                _ => bad(
                    cx,
                    format!("`{path}` = {s:?} is not a percentage between 0% and 100%"),
                ),
            }
        }
        other => bad(
            cx,
            format!(
                "`{path}` must be a count or a ratio, found {}",
                super::raw::describe(other)
            ),
        ),
    }
}

fn reset(cx: &mut Cx<'_>, t: Tbl<'_>) -> ResetStage {
    let mut reset = ResetStage::default();
    cx.read_bound(t, &keys::RESET, &mut reset);
    reset
}

fn seed(cx: &mut Cx<'_>, t: Tbl<'_>) -> Option<SeedStage> {
    if !t.has(&keys::seed::SETS) {
        return Some(SeedStage {
            sets: SeedSet::ALL.to_vec(),
        });
    }
    let words = keys::seed::SETS.words();
    let sets = cx.words(t, &keys::seed::SETS, Code::InvalidValue, "seed set")?;
    if sets.is_empty() {
        let p = t.path.key(keys::seed::SETS.name);
        cx.empty_value(
            &p,
            "no seed set",
            Some(format!(
                "name at least one of {}, or remove `sets` to seed all",
                suggest::one_of(&words)
            )),
        );
        return None;
    }
    cx.duplicates(&sets, "seed set", Severity::Warning);
    let mut out: Vec<SeedSet> = sets
        .iter()
        .filter_map(|(_, w)| SeedSet::from_word(w))
        .collect();
    out.dedup();
    Some(SeedStage { sets: out })
}

/// The stage's `source` (`key`, in a stage of kind `kind`), checked to exist and be of `want`
/// kind.
fn stage_source(
    cx: &mut Cx<'_>,
    t: Tbl<'_>,
    (stage, stage_kind): (&str, &str),
    key: &Key,
    want: SourceKind,
    sections: &Sections,
) -> Option<String> {
    let default = want.as_str();
    let (path, name, written) = match cx.string(t, key) {
        Some((p, s)) => (p, s.to_owned(), true),
        None if t.has(key) => return None,
        None => (t.path.key("source"), default.to_owned(), false),
    };
    let site = if written {
        cx.value_site(&path)
    } else {
        cx.key_site(t.path)
    };
    match sections.source_kinds.get(&name) {
        None => {
            let known: Vec<&str> = sections.source_kinds.keys().map(String::as_str).collect();
            let message = if written {
                format!("stage `{stage}` uses source `{name}`, which the plan does not define")
            } else {
                format!(
                    "stage `{stage}` uses source `{name}` (the default), which the plan does not define"
                )
            };
            let help = suggest::did_you_mean(&name, &known).unwrap_or_else(|| {
                if known.is_empty() {
                    // Most often a plan meant to extend a base that defines the sources.
                    format!(
                        "the plan defines no source: add a `[sources.{name}]` table, or extend a \
                         plan that has one (`extends = \"base.toml\"`)"
                    )
                } else {
                    format!(
                        "add a `[sources.{name}]` table, or set `source` to one of {}",
                        suggest::one_of(&known)
                    )
                }
            });
            cx.push(
                PlanDiagnostic::error(Code::UnknownSource, message)
                    .at(site, "no such source")
                    .key(path.to_string())
                    .help(help),
            );
            None
        }
        Some(Some(kind)) if *kind != want => {
            cx.push(
                PlanDiagnostic::error(
                    Code::SourceKind,
                    format!(
                        "stage `{stage}` needs {} source, but `{name}` is {} source",
                        article(want),
                        article(*kind)
                    ),
                )
                .at(site, format!("{} source", article(*kind)))
                .key(path.to_string())
                .help(format!(
                    "{stage_kind} stages read {}: use a source with `kind = \"{}\"`",
                    want.display_name(),
                    want.as_str()
                )),
            );
            None
        }
        // A source whose own kind is broken was reported there.
        Some(_) => Some(name),
    }
}

/// "a TMDB" / "an OMDb".
fn article(kind: SourceKind) -> String {
    match kind {
        SourceKind::Tmdb => "a TMDB".to_owned(),
        SourceKind::Omdb => "an OMDb".to_owned(),
    }
}

fn fetch(cx: &mut Cx<'_>, t: Tbl<'_>, name: &str, sections: &Sections) -> Option<FetchStage> {
    let source = stage_source(
        cx,
        t,
        (name, "fetch"),
        &keys::fetch::SOURCE,
        SourceKind::Tmdb,
        sections,
    );
    let chosen: Vec<&str> = [
        keys::fetch::LIST,
        keys::fetch::IDS,
        keys::fetch::CURATED_LIST,
        keys::fetch::COLLECTION,
        keys::fetch::IMDB_IDS,
        keys::fetch::TMDB_LIST,
        keys::fetch::PERSON,
        keys::fetch::SEARCH,
        keys::fetch::IDS_FILE,
        keys::fetch::EXPORT,
        keys::fetch::CHANGES,
    ]
    .iter()
    .filter(|k| t.has(k))
    .map(|k| k.name)
    .collect();
    const ONE_OF: &str = "use exactly one of `list`, `ids`, `curated_list`, `collection`, `imdb_ids`, `tmdb_list`, `person`, `search`, `ids_file`, `export` and `changes`";
    let selection = match chosen.as_slice() {
        [] => {
            cx.push(
                PlanDiagnostic::error(Code::FetchSelection, format!("fetch stage `{name}` does not say what to fetch"))
                    .at(cx.key_site(t.path), "no `list`, `ids`, `curated_list`, `collection`, `imdb_ids`, `tmdb_list`, `person`, `search`, `ids_file`, `export` or `changes`")
                    .key(t.path.to_string())
                    .help("set one of `list = \"popular\"`, `ids = [550, 603]`, `curated_list = \"afi-100\"`, `collection = 10`, `imdb_ids = [\"tt0133093\"]`, `tmdb_list = 1`, `person = { id = 287 }`, `search = [{ title = \"The Matrix\" }]`, `ids_file = \"ids.txt\"`, `export = {}` or `changes = {}`"),
            );
            None
        }
        [one] => match *one {
            "list" => fetch_list(cx, t, sections),
            "ids" => fetch_ids(cx, t),
            "export" => fetch_export(cx, t),
            "changes" => fetch_changes(cx, t),
            "collection" => cx
                .ulong(t, &keys::fetch::COLLECTION)
                .map(FetchSelection::Collection),
            "imdb_ids" => fetch_imdb_ids(cx, t),
            "tmdb_list" => fetch_tmdb_list(cx, t),
            "person" => fetch_person(cx, t),
            "search" => fetch_search(cx, t),
            "ids_file" => ids_file(cx, t, sections),
            _ => curated_list(cx, t, sections),
        },
        [first, second, ..] => {
            let p = t.path.key(second);
            cx.push(
                PlanDiagnostic::error(
                    Code::FetchSelection,
                    format!("fetch stage `{name}` sets both `{first}` and `{second}`"),
                )
                .at(cx.key_site(&p), format!("`{first}` is set too"))
                .key(p.to_string())
                .help(ONE_OF),
            );
            None
        }
    };
    let moved = keys::fetch::MOVED_TO_FILTERS.iter().map(|m| &m.key);
    let list_only = [
        &keys::fetch::PAGES,
        &keys::fetch::FILTERS,
        &keys::fetch::QUERIES,
    ]
    .into_iter()
    .chain(moved)
    .map(|k| (k, "a `list`"));
    let limited = [(&keys::fetch::LIMIT, "a `list` or an `export`")];
    for (key, applies) in list_only.chain(limited) {
        let allowed = t.has(&keys::fetch::LIST)
            || (key.name == keys::fetch::LIMIT.name && t.has(&keys::fetch::EXPORT));
        if t.has(key) && !allowed {
            let key = key.name;
            let p = t.path.key(key);
            cx.push(
                PlanDiagnostic::error(
                    Code::FetchSelection,
                    format!("`{key}` only applies to {applies}"),
                )
                .at(cx.key_site(&p), format!("not {applies} in this stage"))
                .key(p.to_string())
                .help(format!("remove it, or fetch {applies}")),
            );
        }
    }
    let append = append(cx, t, &keys::fetch::APPEND, APPEND_PARTS, "movie");
    let mut removal = FetchStage {
        source: String::new(),
        selection: FetchSelection::Ids(Vec::new()),
        append: Vec::new(),
        on_removed: OnRemoved::default(),
        max_removed: keys::DEFAULT_MAX_REMOVED,
    };
    cx.read_bound(t, &keys::FETCH, &mut removal);
    Some(FetchStage {
        source: source?,
        selection: selection?,
        append: append?,
        ..removal
    })
}

/// `min_popularity`, `adult` and `video` of an `export` or `changes` table.
fn catalog_filter(cx: &mut Cx<'_>, f: Tbl<'_>) -> CatalogFilter {
    let mut filter = CatalogFilter::default();
    cx.read_bound(f, &keys::EXPORT, &mut filter);
    filter
}

fn fetch_imdb_ids(cx: &mut Cx<'_>, t: Tbl<'_>) -> Option<FetchSelection> {
    let ids = cx.strings(t, &keys::fetch::IMDB_IDS)?;
    let p = t.path.key(keys::fetch::IMDB_IDS.name);
    if ids.is_empty() {
        cx.empty_value(
            &p,
            "no ids",
            Some("list IMDb ids, like `imdb_ids = [\"tt0133093\", \"tt0137523\"]`".into()),
        );
        return None;
    }
    let mut ok = true;
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for (p, id) in &ids {
        if !is_imdb_id(id) {
            cx.push(
                PlanDiagnostic::error(Code::InvalidValue, format!("`{id}` is not an IMDb id"))
                    .at(cx.value_site(p), "expected `tt` and at least seven digits")
                    .key(p.to_string())
                    .help("an IMDb title id looks like \"tt0133093\""),
            );
            ok = false;
        } else if !out.iter().any(|o| o == id) {
            out.push((*id).to_owned());
        }
    }
    ok.then_some(FetchSelection::ImdbIds(out))
}

fn fetch_export(cx: &mut Cx<'_>, t: Tbl<'_>) -> Option<FetchSelection> {
    let limit = cx.uint(t, &keys::fetch::LIMIT);
    if t.has(&keys::fetch::LIMIT) && limit.is_none() {
        return None;
    }
    let (path, dict) = sub_table(cx, t, keys::fetch::EXPORT.name)?;
    let f = Tbl { path: &path, dict };
    cx.check_keys(
        f,
        &keys::EXPORT,
        &format!("`{path}` (TMDB's daily ID export)"),
    );
    let filter = catalog_filter(cx, f);
    Some(FetchSelection::Export { filter, limit })
}

fn fetch_changes(cx: &mut Cx<'_>, t: Tbl<'_>) -> Option<FetchSelection> {
    let (path, dict) = sub_table(cx, t, keys::fetch::CHANGES.name)?;
    let f = Tbl { path: &path, dict };
    cx.check_keys(
        f,
        &keys::CHANGES,
        &format!("`{path}` (TMDB's movie changes)"),
    );
    let filter = catalog_filter(cx, f);
    let refetch = match cx.word(
        f,
        &keys::changes::REFETCH,
        Code::InvalidValue,
        "`refetch` value",
    ) {
        Some((_, w)) => Refetch::from_word(w),
        None if f.has(&keys::changes::REFETCH) => None,
        None => Some(Refetch::default()),
    };
    let first_window = match cx.duration(f, &keys::changes::FIRST_WINDOW) {
        Some(d) => Some(d),
        None if f.has(&keys::changes::FIRST_WINDOW) => None,
        None => Some(keys::DEFAULT_FIRST_WINDOW),
    };
    Some(FetchSelection::Changes {
        refetch: refetch?,
        first_window: first_window?,
        filter,
    })
}

fn fetch_list(cx: &mut Cx<'_>, t: Tbl<'_>, sections: &Sections) -> Option<FetchSelection> {
    let list = cx
        .word(t, &keys::fetch::LIST, Code::UnknownList, "TMDB list")
        .and_then(|(_, w)| ListKind::from_word(w));
    let pages = cx.uint(t, &keys::fetch::PAGES);
    let limit = cx.uint(t, &keys::fetch::LIMIT);
    // A `pages` or `limit` that is set but invalid was reported.
    let invalid = |key: &Key, read: Option<u32>| t.has(key) && read.is_none();
    let mut ok = !invalid(&keys::fetch::PAGES, pages) && !invalid(&keys::fetch::LIMIT, limit);
    if t.has(&keys::fetch::PAGES) && t.has(&keys::fetch::LIMIT) {
        let p = t.path.key(keys::fetch::LIMIT.name);
        cx.push(
            PlanDiagnostic::error(
                Code::FetchSelection,
                format!(
                    "stage `{}` sets both `pages` and `limit`",
                    t.path.last_key().unwrap_or_default()
                ),
            )
            .at(cx.key_site(&p), "`pages` is set too")
            .key(p.to_string())
            .help("`limit` counts movies and sets the pages itself: keep one of them"),
        );
        ok = false;
    }
    let moved: Vec<&keys::fetch::Moved> = keys::fetch::MOVED_TO_FILTERS
        .iter()
        .filter(|m| t.has(&m.key))
        .collect();
    let mut filters = DiscoverFilters::default();
    let mut queries = Vec::new();
    if list.is_some_and(|l| l != ListKind::Discover) {
        let set = [&keys::fetch::FILTERS, &keys::fetch::QUERIES]
            .into_iter()
            .chain(moved.iter().map(|m| &m.key));
        for key in set.filter(|k| t.has(k)) {
            let key = key.name;
            let p = t.path.key(key);
            cx.push(
                PlanDiagnostic::error(
                    Code::DiscoverFilter,
                    format!("`{key}` only applies to `list = \"discover\"`"),
                )
                .at(cx.key_site(&p), "a discover filter")
                .key(p.to_string())
                .help("use `list = \"discover\"` to filter, or remove the filter"),
            );
            ok = false;
        }
    } else {
        let mut genres = GenreNames::new(&sections.data);
        let mut resolve = |cx: &mut Cx<'_>, p: &KeyPath, name: &str| genres.resolve(cx, p, name);
        if let Some((path, dict)) = sub_table(cx, t, keys::fetch::FILTERS.name) {
            let f = Tbl { path: &path, dict };
            cx.check_keys(
                f,
                &keys::DISCOVER,
                &format!("`{path}` (TMDB discover parameters)"),
            );
            ok &= discover_filters(cx, f, &mut filters, &mut resolve);
        } else if t.has(&keys::fetch::FILTERS) {
            ok = false;
        }
        for m in &moved {
            let p = t.path.key(m.key.name);
            let to = t.path.key(keys::fetch::FILTERS.name).key(m.to.name);
            if t.has(&keys::fetch::FILTERS) {
                cx.push(
                    PlanDiagnostic::error(
                        Code::MovedKey,
                        format!("`{p}` beside `filters`: the filter belongs in `filters`"),
                    )
                    .at(cx.key_site(&p), "outside `filters`")
                    .key(p.to_string())
                    .help(format!("move it into `filters`, as `{to}`")),
                );
                ok = false;
                continue;
            }
            cx.push(
                PlanDiagnostic::warning(
                    Code::MovedKey,
                    format!("`{p}` is now the discover filter `{to}`"),
                )
                .at(cx.key_site(&p), "move into `filters`")
                .key(p.to_string())
                .help(format!(
                    "write `filters = {{ {} = … }}`: stage-level filters are read for now",
                    toml_key(m.to.name)
                )),
            );
            let value = discover_value(cx, t, &m.key, &mut resolve);
            match value {
                Some(v) => filters.0.push((m.to.name, v)),
                None => ok = false,
            }
        }
        // In the order the reference declares them, whichever way they were written.
        let order = |name: &str| keys::DISCOVER.keys.iter().position(|k| k.name == name);
        filters.0.sort_by_key(|(n, _)| order(n));
        if t.has(&keys::fetch::QUERIES) {
            match discover_queries(cx, t, &filters, &mut resolve) {
                Some(q) => queries = q,
                None => ok = false,
            }
        }
    }
    if let Some(n) = limit
        && n > MAX_LIMIT
    {
        let p = t.path.key(keys::fetch::LIMIT.name);
        cx.push(
            PlanDiagnostic::error(
                Code::OutOfRange,
                format!("`{p}` is {n}: a TMDB list serves at most {MAX_LIMIT} movies (500 pages)"),
            )
            .at(cx.value_site(&p), "more than a list has")
            .key(p.to_string())
            .help("for more, fetch TMDB's daily ID export: `export = {}` with `limit`"),
        );
        ok = false;
    }
    let list = list?;
    if !ok {
        return None;
    }
    let pages = match (pages, limit) {
        (_, Some(limit)) => limit.div_ceil(LIST_PAGE_SIZE as u32).min(MAX_PAGES),
        (Some(pages), None) => pages,
        (None, None) => keys::DEFAULT_PAGES,
    };
    Some(FetchSelection::List {
        list,
        pages,
        limit,
        filters,
        queries,
    })
}

/// `queries = [{ … }, …]`: each a table of discover filters over `base` (its own replace
/// the base's of the same name), in the reference's order; `None` when one is invalid
/// (reported).
fn discover_queries(
    cx: &mut Cx<'_>,
    t: Tbl<'_>,
    base: &DiscoverFilters,
    resolve: &mut dyn FnMut(&mut Cx<'_>, &KeyPath, &str) -> Option<i64>,
) -> Option<Vec<DiscoverFilters>> {
    let order = |name: &str| keys::DISCOVER.keys.iter().position(|k| k.name == name);
    let queries = cx.array(t, &keys::fetch::QUERIES, |cx, ipath, item| {
        let dict = cx.table(&ipath, item)?;
        let q = Tbl { path: &ipath, dict };
        cx.check_keys(
            q,
            &keys::DISCOVER,
            &format!("`{ipath}` (TMDB discover parameters)"),
        );
        let mut own = DiscoverFilters::default();
        if !discover_filters(cx, q, &mut own, resolve) {
            return None;
        }
        let mut merged: Vec<(&'static str, String)> = base
            .0
            .iter()
            .filter(|(n, _)| own.get(n).is_none())
            .cloned()
            .collect();
        merged.extend(own.0);
        merged.sort_by_key(|(n, _)| order(n));
        Some(DiscoverFilters(merged))
    })?;
    if queries.is_empty() {
        let path = t.path.key(keys::fetch::QUERIES.name);
        cx.empty_value(
            &path,
            "no query",
            Some(
                "give at least one table of filters, or remove `queries` to page `filters` alone"
                    .into(),
            ),
        );
        return None;
    }
    Some(queries.into_iter().map(|(_, q)| q).collect())
}

/// `"vote_count.gte"` quoted, `sort_by` bare: as a TOML key is written.
fn toml_key(name: &str) -> String {
    if name.contains('.') {
        format!("\"{name}\"")
    } else {
        name.to_owned()
    }
}

/// Reads every filter of `[…filters]` into `out`; false when one was invalid (reported).
fn discover_filters(
    cx: &mut Cx<'_>,
    f: Tbl<'_>,
    out: &mut DiscoverFilters,
    resolve: &mut dyn FnMut(&mut Cx<'_>, &KeyPath, &str) -> Option<i64>,
) -> bool {
    let mut ok = true;
    for key in keys::DISCOVER.keys.iter().filter(|k| f.has(k)) {
        match discover_value(cx, f, key, resolve) {
            Some(v) => out.0.push((key.name, v)),
            None => ok = false,
        }
    }
    for (lo, hi) in keys::discover::RANGES {
        let (Some(a), Some(b)) = (out.get(lo.name), out.get(hi.name)) else {
            continue;
        };
        // Dates compare as text (`YYYY-MM-DD`), numbers as numbers.
        let above = match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) => x > y,
            _ => a > b,
        };
        if above {
            let p = f.path.key(lo.name);
            cx.push(
                PlanDiagnostic::error(
                    Code::EmptyRange,
                    format!(
                        "`{p}` ({a}) is above `{}` ({b}): no movie can match",
                        hi.name
                    ),
                )
                .at(cx.value_site(&p), format!("above `{}`", hi.name))
                .key(p.to_string())
                .help(format!("swap them, or lower `{}`", lo.name)),
            );
            ok = false;
        }
    }
    for (key, needs) in keys::discover::REQUIRES {
        if f.has(key) && !f.has(needs) {
            let p = f.path.key(key.name);
            cx.push(
                PlanDiagnostic::error(Code::MissingField, format!("`{p}` needs `{}`", needs.name))
                    .at(cx.key_site(&p), format!("no `{}` beside it", needs.name))
                    .key(p.to_string())
                    .help(format!(
                        "add `{} = \"US\"` (the country it applies to)",
                        needs.name
                    )),
            );
            ok = false;
        }
    }
    ok
}

/// One discover filter's value as TMDB is sent it.
fn discover_value(
    cx: &mut Cx<'_>,
    t: Tbl<'_>,
    key: &Key,
    resolve: &mut dyn FnMut(&mut Cx<'_>, &KeyPath, &str) -> Option<i64>,
) -> Option<String> {
    match key.ty {
        Ty::Word(_) => cx
            .word(t, key, Code::InvalidValue, &format!("`{}` value", key.name))
            .map(|(_, w)| w.to_owned()),
        Ty::Str => {
            let (p, s) = cx.string(t, key)?;
            if s.trim().is_empty() {
                cx.empty_value(
                    &p,
                    "empty",
                    Some("give a value, or remove the filter".into()),
                );
                return None;
            }
            Some(s.trim().to_owned())
        }
        Ty::Bool => cx.bool(t, key).map(|b| b.to_string()),
        Ty::Int { .. } => cx.int(t, key).map(|n| n.to_string()),
        Ty::Float { .. } => cx.float(t, key).map(|f| f.to_string()),
        Ty::Date => cx.date(t, key).map(|d| d.format("%Y-%m-%d").to_string()),
        Ty::Code(_) => cx.code(t, key),
        Ty::AndOr(_) => cx.and_or(t, key, resolve),
        _ => None,
    }
}

/// Genre names → TMDB ids, from the seed data's genres file, read when a name first needs it.
struct GenreNames<'s> {
    data: &'s DataConfig,
    genres: Option<Result<Vec<crate::genres::Genre>, String>>,
}

impl<'s> GenreNames<'s> {
    fn new(data: &'s DataConfig) -> Self {
        GenreNames { data, genres: None }
    }

    fn resolve(&mut self, cx: &mut Cx<'_>, p: &KeyPath, name: &str) -> Option<i64> {
        let file = crate::genres::file(&self.data.dir);
        let genres = self
            .genres
            .get_or_insert_with(|| crate::genres::read(&file));
        let genres = match genres {
            Ok(g) => g,
            Err(why) => {
                cx.push(
                    PlanDiagnostic::error(
                        Code::MissingFile,
                        format!(
                            "genre `{name}` cannot be looked up: {} {why}",
                            super::layer::display_path(&file)
                        ),
                    )
                    .at(cx.value_site(p), "a genre name")
                    .key(p.to_string())
                    .help("genre names come from `<data.dir>/seed/genres.toml`; write the TMDB id instead, or set `[data] dir`"),
                );
                return None;
            }
        };
        if let Some(g) = genres.iter().find(|g| g.name.eq_ignore_ascii_case(name)) {
            return Some(g.id);
        }
        let names: Vec<&str> = genres.iter().map(|g| g.name.as_str()).collect();
        let help = suggest::did_you_mean(name, &names)
            .unwrap_or_else(|| format!("the genres are {}", suggest::one_of(&names)));
        cx.push(
            PlanDiagnostic::error(Code::UnknownGenre, format!("unknown genre `{name}`"))
                .at(cx.value_site(p), "not a genre of the seed data")
                .key(p.to_string())
                .help(help),
        );
        None
    }
}

/// A positive id from an array element.
fn positive_id(cx: &mut Cx<'_>, p: &KeyPath, v: &Value, what: &str) -> Option<u64> {
    let n = match v {
        Value::Num(_, n) if n.to_f64().is_none() => n
            .to_i128()
            .or_else(|| n.to_u128().and_then(|u| i128::try_from(u).ok())),
        _ => None,
    };
    match n.and_then(|n| u64::try_from(n).ok()).filter(|n| *n >= 1) {
        Some(id) => Some(id),
        None => {
            cx.push(
                PlanDiagnostic::error(
                    Code::InvalidValue,
                    format!(
                        "`{p}` must be a positive {what}, found {}",
                        super::raw::describe(v)
                    ),
                )
                .at(cx.value_site(p), format!("expected a {what}"))
                .key(p.to_string()),
            );
            None
        }
    }
}

fn fetch_ids(cx: &mut Cx<'_>, t: Tbl<'_>) -> Option<FetchSelection> {
    let ids = cx.array(t, &keys::fetch::IDS, |cx, p, v| {
        positive_id(cx, &p, v, "TMDB movie id")
    })?;
    if ids.is_empty() {
        let p = t.path.key(keys::fetch::IDS.name);
        cx.empty_value(
            &p,
            "no ids",
            Some("list TMDB movie ids, like `ids = [550, 603]`".into()),
        );
        return None;
    }
    cx.duplicates(&ids, "movie id", Severity::Warning);
    let mut out: Vec<u64> = Vec::with_capacity(ids.len());
    for (_, id) in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Some(FetchSelection::Ids(out))
}

/// `tmdb_list = 1` or `tmdb_list = "509ec17b19c2950a0600050d"`.
fn fetch_tmdb_list(cx: &mut Cx<'_>, t: Tbl<'_>) -> Option<FetchSelection> {
    let v = t.dict.get(keys::fetch::TMDB_LIST.name)?;
    let p = t.path.key(keys::fetch::TMDB_LIST.name);
    match v {
        Value::Num(..) => {
            positive_id(cx, &p, v, "TMDB list id").map(|n| FetchSelection::TmdbList(n.to_string()))
        }
        Value::String(_, id) if is_list_id(id.trim()) => {
            Some(FetchSelection::TmdbList(id.trim().to_owned()))
        }
        other => {
            cx.push(
                PlanDiagnostic::error(
                    Code::InvalidValue,
                    format!(
                        "`{p}` must be a TMDB list id, found {}",
                        super::raw::describe(other)
                    ),
                )
                .at(cx.value_site(&p), "not a list id")
                .key(p.to_string())
                .help("a list's id: `tmdb_list = 1`, or an older list's hex id as a string, like \"509ec17b19c2950a0600050d\""),
            );
            None
        }
    }
}

/// A required key of a sub-table that is absent.
fn missing(cx: &mut Cx<'_>, t: Tbl<'_>, key: &Key, help: &str) {
    cx.push(
        PlanDiagnostic::error(
            Code::MissingField,
            format!("`{}` needs `{}`", t.path, key.name),
        )
        .at(cx.value_site(t.path), format!("no `{}`", key.name))
        .key(t.path.to_string())
        .help(help),
    );
}

/// `person = { id = 287, role = "crew", jobs = ["Director"] }`.
fn fetch_person(cx: &mut Cx<'_>, t: Tbl<'_>) -> Option<FetchSelection> {
    let (path, dict) = sub_table(cx, t, keys::fetch::PERSON.name)?;
    let f = Tbl { path: &path, dict };
    cx.check_keys(
        f,
        &keys::PERSON,
        &format!("`{path}` (a person's filmography)"),
    );
    let id = if f.has(&keys::person::ID) {
        cx.ulong(f, &keys::person::ID)
    } else {
        missing(
            cx,
            f,
            &keys::person::ID,
            "name the person by TMDB id: `person = { id = 287 }`",
        );
        None
    };
    let role = if f.has(&keys::person::ROLE) {
        cx.word(f, &keys::person::ROLE, Code::InvalidValue, "`role` value")
            .and_then(|(_, w)| CreditRole::from_word(w))
    } else {
        Some(CreditRole::default())
    };
    let jobs = if f.has(&keys::person::JOBS) {
        let jobs = cx.strings(f, &keys::person::JOBS);
        let mut ok = jobs.is_some();
        let mut out: Vec<String> = Vec::new();
        for (p, job) in jobs.iter().flatten() {
            if job.trim().is_empty() {
                cx.empty_value(
                    p,
                    "no job",
                    Some("name a crew job as TMDB spells it, like \"Director\"".into()),
                );
                ok = false;
            } else if !out.iter().any(|o| o == job.trim()) {
                out.push(job.trim().to_owned());
            }
        }
        if role == Some(CreditRole::Cast) {
            let p = path.key(keys::person::JOBS.name);
            cx.push(
                PlanDiagnostic::error(
                    Code::InvalidValue,
                    "`jobs` only applies to crew credits".to_owned(),
                )
                .at(cx.key_site(&p), "with `role = \"cast\"`")
                .key(p.to_string())
                .help("remove `jobs`, or set `role = \"crew\"` (or \"any\")"),
            );
            ok = false;
        }
        ok.then_some(out)
    } else {
        Some(Vec::new())
    };
    Some(FetchSelection::Person(PersonSelection {
        id: id?,
        role: role?,
        jobs: jobs?,
    }))
}

/// `search = [{ title = "The Matrix", year = 1999 }, …]`.
fn fetch_search(cx: &mut Cx<'_>, t: Tbl<'_>) -> Option<FetchSelection> {
    let items = cx.array(t, &keys::fetch::SEARCH, |cx, p, v| {
        let dict = cx.table(&p, v)?;
        let f = Tbl { path: &p, dict };
        cx.check_keys(f, &keys::SEARCH, &format!("`{p}` (a title search)"));
        let title = match cx.string(f, &keys::search::TITLE) {
            Some((tp, s)) if s.trim().is_empty() => {
                cx.empty_value(
                    &tp,
                    "no title",
                    Some("the title to search for, like \"The Matrix\"".into()),
                );
                None
            }
            Some((_, s)) => Some(s.trim().to_owned()),
            None => {
                if !f.has(&keys::search::TITLE) {
                    missing(
                        cx,
                        f,
                        &keys::search::TITLE,
                        "search by title: `{ title = \"The Matrix\", year = 1999 }`",
                    );
                }
                None
            }
        };
        let year = if f.has(&keys::search::YEAR) {
            cx.int(f, &keys::search::YEAR)
                .and_then(|y| u16::try_from(y).ok())
                .map(Some)
        } else {
            Some(None)
        };
        Some(TitleSearch {
            title: title?,
            year: year?,
        })
    })?;
    let p = t.path.key(keys::fetch::SEARCH.name);
    if items.is_empty() {
        cx.empty_value(
            &p,
            "no searches",
            Some(
                "search for titles, like `search = [{ title = \"The Matrix\", year = 1999 }]`"
                    .into(),
            ),
        );
        return None;
    }
    cx.duplicates(&items, "search", Severity::Warning);
    let mut out: Vec<TitleSearch> = Vec::with_capacity(items.len());
    for (_, q) in items {
        if !out.contains(&q) {
            out.push(q);
        }
    }
    Some(FetchSelection::Search(out))
}

/// `ids_file = "name.txt"`: `<data.dir>/lists/name.txt`, read now, so that `popctl validate`
/// reports a line that is not an id, with its line.
fn ids_file(cx: &mut Cx<'_>, t: Tbl<'_>, sections: &Sections) -> Option<FetchSelection> {
    let (p, name) = cx.string(t, &keys::fetch::IDS_FILE)?;
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && name.trim() == name;
    if !plain {
        cx.push(
            PlanDiagnostic::error(Code::InvalidValue, format!("`{name}` is not a file name"))
                .at(cx.value_site(&p), "expected a file name")
                .key(p.to_string())
                .help("an ids file is named by its file in `<data.dir>/lists/`, like \"watchlist.txt\""),
        );
        return None;
    }
    let path = sections.data.dir.join("lists").join(name);
    let shown = super::layer::display_path(&path);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            let (code, message, label) = if e.kind() == std::io::ErrorKind::NotFound {
                (
                    Code::MissingFile,
                    format!("ids file `{name}` not found: no file {shown}"),
                    "no such file",
                )
            } else {
                (
                    Code::Io,
                    format!("ids file {shown} cannot be read: {e}"),
                    "unreadable",
                )
            };
            cx.push(
                PlanDiagnostic::error(code, message)
                    .at(cx.value_site(&p), label)
                    .key(p.to_string())
                    .help(format!(
                        "put the file in {}; `[data] dir` sets where it lives",
                        super::layer::display_path(&sections.data.dir.join("lists"))
                    )),
            );
            return None;
        }
    };
    let ids = match parse_ids_file(&text) {
        Ok(ids) => ids,
        Err(bad) => {
            let source = std::sync::Arc::new(miette::NamedSource::new(
                shown.clone(),
                std::sync::Arc::<str>::from(text.as_str()),
            ));
            for b in bad {
                let site = super::error::Site::new(
                    super::error::Origin::File(path.clone()),
                    source.clone(),
                    b.span.clone(),
                );
                cx.push(
                    PlanDiagnostic::error(
                        Code::InvalidValue,
                        format!(
                            "{shown}:{}: `{}` is neither a TMDB id nor an IMDb id",
                            b.line, b.text
                        ),
                    )
                    .at(Some(site), "not a movie id")
                    .key(p.to_string())
                    .help("one id a line: a TMDB id (`603`) or an IMDb id (`tt0133093`); `#` starts a comment"),
                );
            }
            return None;
        }
    };
    if ids.is_empty() {
        cx.push(
            PlanDiagnostic::error(
                Code::InvalidValue,
                format!("ids file {shown} names no movie"),
            )
            .at(cx.value_site(&p), "no ids in it")
            .key(p.to_string())
            .help("one id a line: a TMDB id (`603`) or an IMDb id (`tt0133093`)"),
        );
        return None;
    }
    Some(FetchSelection::IdsFile {
        name: name.to_owned(),
        path,
        ids,
    })
}

/// A line of an ids file that is not an id.
#[derive(Debug, PartialEq)]
pub(crate) struct BadLine {
    /// 1-based.
    pub line: usize,
    pub text: String,
    /// Byte range of `text` in the file.
    pub span: std::ops::Range<usize>,
}

/// The ids of an ids file, each once, in file order; or every line that is not one.
pub(crate) fn parse_ids_file(text: &str) -> Result<Vec<MovieRef>, Vec<BadLine>> {
    let mut ids: Vec<MovieRef> = Vec::new();
    let mut seen: std::collections::HashSet<MovieRef> = std::collections::HashSet::new();
    let mut bad = Vec::new();
    let mut offset = 0;
    for (n, raw) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += raw.len();
        let content = raw.split('#').next().unwrap_or("");
        let token = content.trim();
        if token.is_empty() {
            continue;
        }
        let at = start + (content.len() - content.trim_start().len());
        let id = if is_imdb_id(token) {
            Some(MovieRef::Imdb(token.to_owned()))
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            token
                .parse::<u64>()
                .ok()
                .filter(|&n| n >= 1)
                .map(MovieRef::Tmdb)
        } else {
            None
        };
        match id {
            Some(id) => {
                if seen.insert(id.clone()) {
                    ids.push(id);
                }
            }
            None => bad.push(BadLine {
                line: n + 1,
                text: token.to_owned(),
                span: at..at + token.len(),
            }),
        }
    }
    if bad.is_empty() { Ok(ids) } else { Err(bad) }
}

fn curated_list(cx: &mut Cx<'_>, t: Tbl<'_>, sections: &Sections) -> Option<FetchSelection> {
    let (p, name) = cx.string(t, &keys::fetch::CURATED_LIST)?;
    list_file(cx, &p, name, sections).map(|path| FetchSelection::CuratedList {
        name: name.to_owned(),
        path,
    })
}

/// `<data.dir>/lists/<name>.toml`, which must exist.
fn list_file(
    cx: &mut Cx<'_>,
    p: &KeyPath,
    name: &str,
    sections: &Sections,
) -> Option<std::path::PathBuf> {
    if !super::compile::is_valid_name(name) {
        cx.push(
            PlanDiagnostic::error(Code::InvalidValue, format!("`{name}` is not a list name"))
                .at(cx.value_site(p), "expected a list name")
                .key(p.to_string())
                .help("a list is named by its file in `<data.dir>/lists/` without `.toml`, like \"afi-100\""),
        );
        return None;
    }
    let file = sections.data.list_file(name);
    if file.is_file() {
        return Some(file);
    }
    let available = available_lists(&sections.data);
    let help = suggest::did_you_mean(name, &available).unwrap_or_else(|| {
        if available.is_empty() {
            format!(
                "no lists found in {}; `[data] dir` sets where they live",
                super::layer::display_path(&sections.data.dir.join("lists"))
            )
        } else {
            format!("available lists: {}", suggest::one_of(&available))
        }
    });
    cx.push(
        PlanDiagnostic::error(
            Code::MissingFile,
            format!(
                "list `{name}` not found: no file {}",
                super::layer::display_path(&file)
            ),
        )
        .at(cx.value_site(p), "no such list")
        .key(p.to_string())
        .help(help),
    );
    None
}

fn available_lists(data: &DataConfig) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.dir.join("lists"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension().is_some_and(|x| x == "toml"))
                .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .flatten()
        })
        .collect();
    names.sort();
    names
}

/// An `append` list of `key` (a fetch stage's or a people stage's), each one of `allowed`, for
/// TMDB's `what` (`"movie"`, `"person"`).
fn append(
    cx: &mut Cx<'_>,
    t: Tbl<'_>,
    key: &Key,
    allowed: &[&str],
    what: &str,
) -> Option<Vec<String>> {
    if !t.has(key) {
        return Some(Vec::new());
    }
    let parts = cx.strings(t, key)?;
    let p = t.path.key(key.name);
    if parts.len() > MAX_APPEND {
        let distinct: std::collections::BTreeSet<&str> = parts.iter().map(|(_, s)| *s).collect();
        cx.push(
            PlanDiagnostic::error(
                Code::TooManyAppend,
                format!(
                    "`{p}` lists {} parts; TMDB allows at most {MAX_APPEND}",
                    parts.len()
                ),
            )
            .at(cx.value_site(&p), format!("{} parts", parts.len()))
            .key(p.to_string())
            .help(format!(
                "{} of them are distinct; TMDB answers more than {MAX_APPEND} with error 27",
                distinct.len()
            )),
        );
        return None;
    }
    let mut ok = true;
    for (ip, s) in &parts {
        if !allowed.contains(s) {
            let help = suggest::did_you_mean(s, allowed)
                .unwrap_or_else(|| format!("expected one of {}", suggest::one_of(allowed)));
            cx.push(
                PlanDiagnostic::error(Code::UnknownAppend, format!("unknown append part `{s}`"))
                    .at(
                        cx.value_site(ip),
                        format!("not a TMDB {what} append part popctl stores"),
                    )
                    .key(ip.to_string())
                    .help(help),
            );
            ok = false;
        }
    }
    cx.duplicates(&parts, "append part", Severity::Warning);
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    for (_, s) in parts {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    ok.then_some(out)
}

fn enrich(cx: &mut Cx<'_>, t: Tbl<'_>, name: &str, sections: &Sections) -> Option<EnrichStage> {
    let source = stage_source(
        cx,
        t,
        (name, "enrich"),
        &keys::enrich::SOURCE,
        SourceKind::Omdb,
        sections,
    );
    // The source is filled in last, so the other keys are checked even when it is wrong.
    let mut enrich = EnrichStage {
        source: String::new(),
        scope: EnrichScope::Upstream,
        retry_no_data: false,
        retry_no_data_after: None,
    };
    cx.read_bound(t, &keys::ENRICH, &mut enrich);
    if enrich.retry_no_data && t.has(&keys::enrich::RETRY_NO_DATA_AFTER) {
        let p = t.path.key(keys::enrich::RETRY_NO_DATA_AFTER.name);
        cx.push(
            PlanDiagnostic::error(
                Code::InvalidValue,
                format!("`{p}` is set, but `retry_no_data = true` already asks again every run"),
            )
            .at(cx.key_site(&p), "never waited for")
            .key(p.to_string())
            .help("keep one: `retry_no_data = true` (every run) or `retry_no_data_after` (once an answer is that old)"),
        );
        return None;
    }
    enrich.source = source?;
    Some(enrich)
}

fn people(cx: &mut Cx<'_>, t: Tbl<'_>, name: &str, sections: &Sections) -> Option<PeopleStage> {
    let source = stage_source(
        cx,
        t,
        (name, "people"),
        &keys::people::SOURCE,
        SourceKind::Tmdb,
        sections,
    );
    let mut people = PeopleStage {
        source: String::new(),
        select: PeopleSelect::default(),
        cast_top: PeopleStage::DEFAULT_CAST_TOP,
        jobs: Vec::new(),
        append: Vec::new(),
    };
    let errors = cx.errors();
    cx.read_bound(t, &keys::PEOPLE, &mut people);
    let mut ok = cx.errors() == errors;
    let jobs = if t.has(&keys::people::JOBS) {
        match cx.strings(t, &keys::people::JOBS) {
            Some(jobs) => {
                for (p, job) in &jobs {
                    if job.trim().is_empty() {
                        cx.empty_value(
                            p,
                            "no job",
                            Some("name a crew job as TMDB spells it, like \"Director\"".into()),
                        );
                        ok = false;
                    }
                }
                cx.duplicates(&jobs, "job", Severity::Warning);
                let mut out: Vec<String> = Vec::with_capacity(jobs.len());
                for (_, job) in jobs {
                    let job = job.trim();
                    if !out.iter().any(|o| o == job) {
                        out.push(job.to_owned());
                    }
                }
                out
            }
            None => {
                ok = false;
                Vec::new()
            }
        }
    } else {
        PeopleStage::default_jobs()
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    if people.select == PeopleSelect::All {
        for key in [&keys::people::CAST_TOP, &keys::people::JOBS] {
            if t.has(key) {
                let p = t.path.key(key.name);
                cx.push(
                    PlanDiagnostic::error(
                        Code::InvalidValue,
                        format!("`{}` only applies to `select = \"credited\"`", key.name),
                    )
                    .at(cx.key_site(&p), "`select = \"all\"` takes everyone")
                    .key(p.to_string())
                    .help(format!(
                        "remove `{}`, or use `select = \"credited\"` to choose by billing and job",
                        key.name
                    )),
                );
                ok = false;
            }
        }
    }
    if ok && people.select == PeopleSelect::Credited && people.cast_top == 0 && jobs.is_empty() {
        let p = t.path.key(keys::people::CAST_TOP.name);
        cx.push(
            PlanDiagnostic::error(
                Code::InvalidValue,
                format!("people stage `{name}` selects nobody: `cast_top = 0` and no `jobs`"),
            )
            .at(cx.value_site(&p), "no cast")
            .key(p.to_string())
            .help("raise `cast_top`, name crew `jobs`, or use `select = \"all\"`"),
        );
        ok = false;
    }
    let append = append(cx, t, &keys::people::APPEND, PERSON_APPEND_PARTS, "person");
    if !ok {
        return None;
    }
    Some(PeopleStage {
        source: source?,
        jobs,
        append: append?,
        ..people
    })
}

fn post_process(
    cx: &mut Cx<'_>,
    t: Tbl<'_>,
    name: &str,
    sections: &Sections,
) -> Option<PostProcessStage> {
    let words = keys::post_process::STEPS.words();
    let steps = if t.has(&keys::post_process::STEPS) {
        let steps = cx.words(
            t,
            &keys::post_process::STEPS,
            Code::InvalidValue,
            "post-process step",
        );
        match steps {
            Some(s) if s.is_empty() => {
                let p = t.path.key(keys::post_process::STEPS.name);
                cx.empty_value(
                    &p,
                    "no steps",
                    Some(format!(
                        "name at least one of {}, or remove `steps` to run all",
                        suggest::one_of(&words)
                    )),
                );
                None
            }
            Some(s) => cx.duplicates(&s, "step", Severity::Error).then(|| {
                s.iter()
                    .filter_map(|(_, w)| PostStep::from_word(w))
                    .collect::<Vec<_>>()
            }),
            None => None,
        }
    } else {
        Some(PostStep::ALL.to_vec())
    };

    let mut stage = PostProcessStage {
        steps: steps.clone().unwrap_or_default(),
        cultural_lists: CulturalListSettings::default(),
        cri: CriSettings::default(),
        recommendations: RecommendationSettings::default(),
        reviews: ReviewSettings::default(),
    };
    let mut ok = steps.is_some();
    for step in PostStep::ALL.iter().copied() {
        let key = keys::post_process::settings(step).name;
        let Some((path, dict)) = sub_table(cx, t, key) else {
            ok &= !t.has_name(key);
            continue;
        };
        let s = Tbl { path: &path, dict };
        if let Some(steps) = &steps
            && !steps.contains(&step)
        {
            cx.push(
                PlanDiagnostic::warning(
                    Code::UnusedSettings,
                    format!(
                        "`[{path}]` configures step `{}`, which stage `{name}` does not run",
                        step.as_str()
                    ),
                )
                .at(cx.key_site(&path), "settings for a step not in `steps`")
                .key(path.to_string())
                .help(format!(
                    "add \"{}\" to `steps`, or remove these settings",
                    step.as_str()
                )),
            );
        }
        let before = cx.errors();
        match step {
            PostStep::CulturalLists => {
                cx.check_keys(s, &keys::CULTURAL_LISTS, &format!("`[{path}]`"));
                if let Some(lists) = cx.strings(s, &keys::cultural_lists::LISTS) {
                    cx.duplicates(&lists, "list", Severity::Warning);
                    let mut names = Vec::new();
                    for (lp, l) in &lists {
                        if list_file(cx, lp, l, sections).is_some() && !names.iter().any(|n| n == l)
                        {
                            names.push((*l).to_owned());
                        }
                    }
                    stage.cultural_lists.lists = Some(names);
                }
            }
            PostStep::CriScores => {
                cx.check_keys(s, &keys::CRI, &format!("`[{path}]`"));
                cx.read_bound(s, &keys::CRI, &mut stage.cri);
                zero_sum(cx, s, stage.cri.weights.sum());
            }
            PostStep::Recommendations => {
                cx.check_keys(s, &keys::RECOMMENDATIONS, &format!("`[{path}]`"));
                cx.read_bound(s, &keys::RECOMMENDATIONS, &mut stage.recommendations);
                zero_sum(cx, s, stage.recommendations.weights.sum());
            }
            PostStep::Reviews => {
                cx.check_keys(s, &keys::REVIEWS, &format!("`[{path}]`"));
                cx.read_bound(s, &keys::REVIEWS, &mut stage.reviews);
            }
        }
        ok &= cx.errors() == before;
    }
    ok.then_some(stage)
}

/// The weights of a step, each ≥ 0 (their keys' limits), must not add up to zero.
fn zero_sum(cx: &mut Cx<'_>, t: Tbl<'_>, sum: f64) {
    if sum <= 0.0 {
        let p = t.path.key("weights");
        cx.push(
            PlanDiagnostic::error(
                Code::OutOfRange,
                format!("the weights in `{p}` add up to zero"),
            )
            .at(cx.value_site(&p), "all weights are zero")
            .key(p.to_string())
            .help("give at least one weight a value above zero"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ids_file_gives_its_ids_once_and_every_bad_line_with_its_place() {
        let text = "# watchlist\n603\n\n  tt0133093  # The Matrix\n603\r\n680\n";
        assert_eq!(
            parse_ids_file(text).unwrap(),
            vec![
                MovieRef::Tmdb(603),
                MovieRef::Imdb("tt0133093".into()),
                MovieRef::Tmdb(680),
            ]
        );
        let bad = parse_ids_file("603\n0\n  tt01 # short\nThe Matrix\n").unwrap_err();
        let lines: Vec<(usize, &str)> = bad.iter().map(|b| (b.line, b.text.as_str())).collect();
        assert_eq!(lines, [(2, "0"), (3, "tt01"), (4, "The Matrix")]);
        let text = "603\n0\n  tt01 # short\n";
        assert_eq!(&text[bad[1].span.clone()], "tt01");
        assert_eq!(parse_ids_file("# nothing\n\n").unwrap(), vec![]);
    }
}
