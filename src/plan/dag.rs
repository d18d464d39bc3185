//! The stage graph: execution order from `needs`, cycle detection, and dot/mermaid rendering.
//!
//! Edges point from a stage to the stages it needs. The topological order breaks ties by the
//! order the plan writes its stages in, so the same plan always runs and prints the same way.

use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::plan::{FetchSelection, PeopleSelect, Plan, StageKind, units};

/// Why a set of stages does not form a DAG. A compiled [`Plan`] never has these (the plan
/// compiler reports them with spans); they guard graphs built by hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum DagError {
    #[error("stage `{stage}` needs `{need}`, which does not exist")]
    #[diagnostic(code(popctl::plan::dag::unknown_need))]
    UnknownNeed { stage: String, need: String },
    #[error("dependency cycle: {}", cycle_text(.path))]
    #[diagnostic(code(popctl::plan::dag::cycle))]
    Cycle { path: Vec<String> },
    #[error("two stages are named `{0}`")]
    #[diagnostic(code(popctl::plan::dag::duplicate))]
    Duplicate(String),
}

/// `a → b → a`.
pub fn cycle_text(path: &[String]) -> String {
    let mut parts: Vec<&str> = path.iter().map(String::as_str).collect();
    if let Some(first) = path.first() {
        parts.push(first);
    }
    parts.join(" → ")
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    needs: Vec<usize>,
    dependents: Vec<usize>,
    /// Lines of the node's label: name, kind, key settings.
    label: Vec<String>,
    /// The stage's kind (`fetch`), which gives the node its colour; `None` in a graph built
    /// from names alone.
    kind: Option<&'static str>,
    enabled: bool,
}

/// The stages of a plan and their `needs`, in a checked, acyclic graph.
#[derive(Debug, Clone)]
pub struct Dag {
    title: String,
    nodes: Vec<Node>,
    index: HashMap<String, usize>,
    order: Vec<usize>,
}

impl Dag {
    /// The graph of a compiled plan, with node labels for `to_dot`/`to_mermaid`.
    pub fn new(plan: &Plan) -> Result<Dag, DagError> {
        let needs: Vec<(&str, Vec<&str>)> = plan
            .stages
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.needs.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        let mut dag = Dag::from_needs(&needs)?;
        dag.title = plan.name.clone();
        for (node, stage) in dag.nodes.iter_mut().zip(&plan.stages) {
            node.label = label(plan, stage);
            node.kind = Some(stage.kind.name());
            node.enabled = stage.enabled;
        }
        Ok(dag)
    }

    /// A graph from `(name, needs)` pairs, in plan order.
    pub fn from_needs<S: AsRef<str>>(stages: &[(S, Vec<S>)]) -> Result<Dag, DagError> {
        let mut index = HashMap::new();
        for (i, (name, _)) in stages.iter().enumerate() {
            if index.insert(name.as_ref().to_owned(), i).is_some() {
                return Err(DagError::Duplicate(name.as_ref().to_owned()));
            }
        }
        let mut nodes: Vec<Node> = stages
            .iter()
            .map(|(name, _)| Node {
                name: name.as_ref().to_owned(),
                needs: Vec::new(),
                dependents: Vec::new(),
                label: vec![name.as_ref().to_owned()],
                kind: None,
                enabled: true,
            })
            .collect();
        for (i, (name, needs)) in stages.iter().enumerate() {
            for need in needs {
                let Some(&j) = index.get(need.as_ref()) else {
                    return Err(DagError::UnknownNeed {
                        stage: name.as_ref().to_owned(),
                        need: need.as_ref().to_owned(),
                    });
                };
                if !nodes[i].needs.contains(&j) {
                    nodes[i].needs.push(j);
                    nodes[j].dependents.push(i);
                }
            }
        }
        let edges: Vec<Vec<usize>> = nodes.iter().map(|n| n.needs.clone()).collect();
        if let Some(cycle) = find_cycles(&edges).into_iter().next() {
            return Err(DagError::Cycle {
                path: cycle.iter().map(|&i| nodes[i].name.clone()).collect(),
            });
        }
        let order = topological(&nodes);
        Ok(Dag {
            title: "plan".to_owned(),
            nodes,
            index,
            order,
        })
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Stage names in execution order: every stage after all it needs; ties in plan order.
    pub fn order(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(|&i| self.nodes[i].name.as_str())
    }

    /// The stages `name` needs directly.
    pub fn needs(&self, name: &str) -> Vec<&str> {
        self.names_of(name, |n| &n.needs)
    }

    /// The stages that need `name` directly.
    pub fn dependents(&self, name: &str) -> Vec<&str> {
        self.names_of(name, |n| &n.dependents)
    }

    /// Every stage `name` needs, directly or not, in execution order.
    pub fn ancestors(&self, name: &str) -> Vec<&str> {
        self.closure(name, |n| &n.needs)
    }

    /// Every stage that needs `name`, directly or not, in execution order.
    pub fn descendants(&self, name: &str) -> Vec<&str> {
        self.closure(name, |n| &n.dependents)
    }

    /// True when `upstream` must finish (or stream) before `stage`: a transitive need.
    pub fn is_upstream(&self, upstream: &str, stage: &str) -> bool {
        self.ancestors(stage).contains(&upstream)
    }

    /// Stages grouped by depth: each group only needs stages of earlier groups, so the stages
    /// of one group can run side by side.
    pub fn levels(&self) -> Vec<Vec<&str>> {
        let mut depth = vec![0usize; self.nodes.len()];
        for &i in &self.order {
            depth[i] = self.nodes[i]
                .needs
                .iter()
                .map(|&j| depth[j] + 1)
                .max()
                .unwrap_or(0);
        }
        let mut levels: Vec<Vec<&str>> = Vec::new();
        for &i in &self.order {
            let d = depth[i];
            if levels.len() <= d {
                levels.resize_with(d + 1, Vec::new);
            }
            levels[d].push(&self.nodes[i].name);
        }
        levels
    }

    fn names_of(&self, name: &str, edges: fn(&Node) -> &Vec<usize>) -> Vec<&str> {
        self.index
            .get(name)
            .map(|&i| {
                edges(&self.nodes[i])
                    .iter()
                    .map(|&j| self.nodes[j].name.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn closure(&self, name: &str, edges: fn(&Node) -> &Vec<usize>) -> Vec<&str> {
        let Some(&start) = self.index.get(name) else {
            return Vec::new();
        };
        let mut seen = vec![false; self.nodes.len()];
        let mut queue = VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            for &j in edges(&self.nodes[i]) {
                if !seen[j] {
                    seen[j] = true;
                    queue.push_back(j);
                }
            }
        }
        self.order
            .iter()
            .filter(|&&i| seen[i])
            .map(|&i| self.nodes[i].name.as_str())
            .collect()
    }

    /// Graphviz dot: `popctl graph plan.toml | dot -Tsvg > plan.svg`. Nodes are filled by
    /// kind ([`KIND_FILLS`]); a disabled stage is dashed and greyed.
    pub fn to_dot(&self) -> String {
        let mut out = format!("digraph {} {{\n", dot_quote(&self.title));
        out.push_str("  rankdir=LR;\n");
        out.push_str(
            "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", \
             fontname=\"Helvetica\"];\n",
        );
        for &i in &self.order {
            let n = &self.nodes[i];
            let label = n
                .label
                .iter()
                .map(|l| dot_escape(l))
                .collect::<Vec<_>>()
                .join("\\n");
            let mut attrs = format!("label=\"{label}\"");
            if let Some(fill) = n.kind.and_then(kind_fill) {
                attrs.push_str(&format!(", fillcolor=\"{fill}\""));
            }
            if !n.enabled {
                attrs.push_str(", style=\"rounded,filled,dashed\", fontcolor=\"#777777\"");
            }
            out.push_str(&format!("  {} [{attrs}];\n", dot_quote(&n.name)));
        }
        for &i in &self.order {
            for &j in &self.nodes[i].needs {
                out.push_str(&format!(
                    "  {} -> {};\n",
                    dot_quote(&self.nodes[j].name),
                    dot_quote(&self.nodes[i].name)
                ));
            }
        }
        out.push_str("}\n");
        out
    }

    /// A mermaid flowchart, for Markdown that renders mermaid (GitHub, GitLab): one class per
    /// kind present, with the same fills as the dot output.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for &i in &self.order {
            let n = &self.nodes[i];
            let label = n
                .label
                .iter()
                .map(|l| mermaid_escape(l))
                .collect::<Vec<_>>()
                .join("<br/>");
            out.push_str(&format!("  s{i}[\"{label}\"]\n"));
            if !n.enabled {
                out.push_str(&format!(
                    "  style s{i} stroke-dasharray: 5 5,color:#777777\n"
                ));
            }
        }
        for &i in &self.order {
            for &j in &self.nodes[i].needs {
                out.push_str(&format!("  s{j} --> s{i}\n"));
            }
        }
        for (kind, fill) in KIND_FILLS {
            let members: Vec<String> = self
                .order
                .iter()
                .filter(|&&i| self.nodes[i].kind == Some(kind))
                .map(|i| format!("s{i}"))
                .collect();
            if !members.is_empty() {
                out.push_str(&format!("  classDef {kind} fill:{fill},stroke:#555555\n"));
                out.push_str(&format!("  class {} {kind}\n", members.join(",")));
            }
        }
        out
    }
}

/// The fill of each stage kind in `graph` output: light enough for black text, and told apart
/// at a glance (red resets, green seeds, blue fetches, yellow enrichment, orange people,
/// purple post-processing).
pub const KIND_FILLS: [(&str, &str); 6] = [
    ("reset", "#f4cccc"),
    ("seed", "#d9ead3"),
    ("fetch", "#cfe2f3"),
    ("enrich", "#fff2cc"),
    ("people", "#fce5cd"),
    ("post_process", "#d9d2e9"),
];

fn kind_fill(kind: &str) -> Option<&'static str> {
    KIND_FILLS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, fill)| *fill)
}

/// Kahn's algorithm, taking the earliest-written ready stage first.
fn topological(nodes: &[Node]) -> Vec<usize> {
    let mut missing: Vec<usize> = nodes.iter().map(|n| n.needs.len()).collect();
    let mut ready: BTreeSet<usize> = (0..nodes.len()).filter(|&i| missing[i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &nodes[i].dependents {
            missing[d] -= 1;
            if missing[d] == 0 {
                ready.insert(d);
            }
        }
    }
    order
}

/// One cycle per strongly connected component that has one (including a stage needing
/// itself). Each cycle starts at its earliest node and follows `needs` edges:
/// `[a, b, c]` means a needs b, b needs c, c needs a.
pub fn find_cycles(needs: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut cycles = Vec::new();
    for scc in strongly_connected(needs) {
        let start = scc.iter().copied().min().unwrap_or(0);
        let in_scc = |j: usize| scc.contains(&j);
        if scc.len() == 1 && !needs[start].contains(&start) {
            continue;
        }
        // Shortest path from `start` back to itself inside the component.
        let mut prev: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut last = None;
        'search: while let Some(i) = queue.pop_front() {
            for &j in &needs[i] {
                if j == start {
                    last = Some(i);
                    break 'search;
                }
                if in_scc(j) && !prev.contains_key(&j) {
                    prev.insert(j, i);
                    queue.push_back(j);
                }
            }
        }
        let Some(mut at) = last else { continue };
        let mut path = vec![at];
        while at != start {
            at = prev[&at];
            path.push(at);
        }
        path.reverse();
        cycles.push(path);
    }
    cycles.sort();
    cycles
}

/// Tarjan's algorithm, iteratively (plans are small, but a recursive walk over user input
/// is a stack overflow waiting for a generated plan).
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut child)) = work.last_mut() {
            if *child == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = edges[v].get(*child) {
                *child += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(component);
            }
        }
    }
    out
}

/// The name, the kind unless the name says it already (`reset`), and the settings that tell
/// stages apart: source and rate, list and pages, discover filters, scope, steps, workers.
fn label(plan: &Plan, stage: &crate::plan::Stage) -> Vec<String> {
    let mut lines = vec![stage.name.clone()];
    let kind = stage.kind.name();
    match (stage.name == kind, stage.enabled) {
        (false, true) => lines.push(kind.to_owned()),
        (false, false) => lines.push(format!("{kind}, disabled")),
        (true, true) => {}
        (true, false) => lines.push("disabled".to_owned()),
    }
    let source_line = |name: &str| match plan.sources.get(name) {
        Some(s) => format!("{name} @ {}", units::format_rate(s.rate)),
        None => name.to_owned(),
    };
    let mut workers = format!("concurrency {}", stage.concurrency);
    if !stage.delay.is_zero() {
        workers.push_str(&format!(", delay {}", units::format_duration(stage.delay)));
    }
    match &stage.kind {
        StageKind::Reset(r) => {
            if r.allow_remote {
                lines.push("allow_remote".to_owned());
            }
        }
        StageKind::Seed(s) => {
            lines.push(
                s.sets
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        StageKind::Fetch(f) => {
            lines.push(source_line(&f.source));
            let queries = match f.selection.list_queries().len() {
                0 | 1 => String::new(),
                n => format!(" × {n} queries"),
            };
            lines.push(match &f.selection {
                FetchSelection::List {
                    list,
                    limit: Some(n),
                    ..
                } => format!("{}{queries} × {n} movies", list.as_str()),
                FetchSelection::List { list, pages, .. } => {
                    format!(
                        "{}{queries} × {pages} page{}",
                        list.as_str(),
                        if *pages == 1 { "" } else { "s" }
                    )
                }
                FetchSelection::Ids(ids) => format!("{} ids", ids.len()),
                FetchSelection::CuratedList { name, .. } => format!("curated list {name}"),
                FetchSelection::Collection(id) => format!("collection {id}"),
                FetchSelection::ImdbIds(ids) => format!("{} IMDb ids", ids.len()),
                FetchSelection::TmdbList(id) => format!("TMDB list {id}"),
                FetchSelection::Person(p) => format!("person {} ({})", p.id, p.role.as_str()),
                FetchSelection::Search(q) => format!("{} title searches", q.len()),
                FetchSelection::IdsFile { name, ids, .. } => {
                    format!("{} ids of {name}", ids.len())
                }
                FetchSelection::Export { limit: Some(n), .. } => {
                    format!("ID export, {n} most popular")
                }
                FetchSelection::Export { limit: None, .. } => "ID export".to_owned(),
                FetchSelection::Changes { refetch, .. } => {
                    format!("changes since last sync ({})", refetch.as_str())
                }
            });
            if let FetchSelection::List { filters, .. } = &f.selection {
                let query = filters.query();
                if !query.is_empty() {
                    lines.push(
                        query
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    );
                }
            }
            lines.push(workers);
        }
        StageKind::Enrich(e) => {
            lines.push(source_line(&e.source));
            lines.push(format!("scope {}", e.scope.as_str()));
            lines.push(workers);
        }
        StageKind::People(p) => {
            lines.push(source_line(&p.source));
            lines.push(match p.select {
                PeopleSelect::All => "everyone credited".to_owned(),
                PeopleSelect::Credited if p.jobs.is_empty() => format!("cast top {}", p.cast_top),
                PeopleSelect::Credited => {
                    format!("cast top {}, {}", p.cast_top, p.jobs.join(", "))
                }
            });
            lines.push(workers);
        }
        StageKind::PostProcess(p) => {
            lines.push(
                p.steps
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
    }
    lines
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", dot_escape(s))
}

fn mermaid_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "#quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(stages: &[(&str, &[&str])]) -> Result<Dag, DagError> {
        let owned: Vec<(&str, Vec<&str>)> = stages.iter().map(|(n, d)| (*n, d.to_vec())).collect();
        Dag::from_needs(&owned)
    }

    #[test]
    fn order_follows_needs_then_plan_order() {
        let d = dag(&[
            ("post", &["a", "b"]),
            ("a", &["reset"]),
            ("b", &["reset"]),
            ("reset", &[]),
        ])
        .unwrap();
        assert_eq!(
            d.order().collect::<Vec<_>>(),
            vec!["reset", "a", "b", "post"]
        );
        assert_eq!(d.needs("post"), vec!["a", "b"]);
        assert_eq!(d.dependents("reset"), vec!["a", "b"]);
        assert_eq!(d.ancestors("post"), vec!["reset", "a", "b"]);
        assert_eq!(d.descendants("a"), vec!["post"]);
        assert!(d.is_upstream("reset", "post"));
        assert!(!d.is_upstream("a", "b"));
        assert_eq!(
            d.levels(),
            vec![vec!["reset"], vec!["a", "b"], vec!["post"]]
        );
    }

    #[test]
    fn cycles_are_found_and_printed_from_their_first_stage() {
        let err = dag(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"])]).unwrap_err();
        assert_eq!(
            err,
            DagError::Cycle {
                path: vec!["a".into(), "c".into(), "b".into()]
            }
        );
        assert_eq!(err.to_string(), "dependency cycle: a → c → b → a");
        let err = dag(&[("a", &["a"])]).unwrap_err();
        assert_eq!(err.to_string(), "dependency cycle: a → a");
    }

    #[test]
    fn every_cycle_is_reported_once() {
        // Two separate cycles and an innocent bystander.
        let needs = vec![vec![1], vec![0], vec![3], vec![2], vec![0]];
        assert_eq!(find_cycles(&needs), vec![vec![0, 1], vec![2, 3]]);
        let long: Vec<Vec<usize>> = (0..5000).map(|i| vec![(i + 1) % 5000]).collect();
        assert_eq!(find_cycles(&long)[0].len(), 5000);
    }

    #[test]
    fn unknown_needs_and_duplicates_are_errors() {
        assert!(matches!(
            dag(&[("a", &["x"])]),
            Err(DagError::UnknownNeed { .. })
        ));
        assert!(matches!(
            dag(&[("a", &[]), ("a", &[])]),
            Err(DagError::Duplicate(_))
        ));
    }

    #[test]
    fn nodes_are_coloured_by_kind_and_labelled_without_repeats() {
        use crate::plan::{LoadOptions, load};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "[plan]\nname = \"p\"\n[sources.tmdb]\n[sources.omdb]\n[stages.reset]\nkind = \"reset\"\n\
             [stages.best]\nkind = \"fetch\"\nneeds = [\"reset\"]\nlist = \"discover\"\n\
             limit = 30\nfilters = { sort_by = \"vote_average.desc\", primary_release_year = 1999 }\n\
             [stages.omdb]\nkind = \"enrich\"\nneeds = [\"best\"]\nenabled = false\n",
        )
        .unwrap();
        let plan = load(&LoadOptions {
            path,
            sets: Vec::new(),
            env: [("TMDB_API_KEY", "k"), ("OMDB_API_KEY", "k")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
        })
        .unwrap()
        .plan;
        let d = Dag::new(&plan).unwrap();
        let dot = d.to_dot();
        assert!(
            dot.contains("  \"reset\" [label=\"reset\", fillcolor=\"#f4cccc\"];"),
            "{dot}"
        );
        assert!(
            dot.contains(
                "label=\"best\\nfetch\\ntmdb @ 40/s\\ndiscover × 30 movies\\n\
                 sort_by=vote_average.desc, primary_release_year=1999\\nconcurrency 4\", \
                 fillcolor=\"#cfe2f3\""
            ),
            "{dot}"
        );
        assert!(
            dot.contains("\"omdb\" [label=\"omdb\\nenrich, disabled")
                && dot.contains("style=\"rounded,filled,dashed\""),
            "{dot}"
        );
        let mm = d.to_mermaid();
        assert!(mm.contains("  s0[\"reset\"]\n"), "{mm}");
        assert!(
            mm.contains("  classDef fetch fill:#cfe2f3,stroke:#555555\n  class s1 fetch\n"),
            "{mm}"
        );
        assert!(!mm.contains("classDef seed"), "only kinds present: {mm}");
    }

    #[test]
    fn dot_and_mermaid_escape_labels() {
        let d = dag(&[("a\"b", &[]), ("c", &["a\"b"])]).unwrap();
        let dot = d.to_dot();
        assert!(dot.contains("\"a\\\"b\" -> \"c\";"), "{dot}");
        let mm = d.to_mermaid();
        assert!(
            mm.contains("s0[\"a#quot;b\"]") && mm.contains("s0 --> s1"),
            "{mm}"
        );
    }
}
