//! Layering: the `extends` chain, then `POPCTL_…` environment overrides, then `--set`
//! arguments, merged with figment (later layers win; tables merge; arrays replace).
//!
//! Every layer becomes a figment provider whose metadata carries the layer's index, so each
//! merged value's tag says which layer supplied it. That is how a diagnostic about a value finds
//! its span: in the file (or variable, or argument) the value actually came from.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::error::{Code, Origin, PlanDiagnostic, Site};
use super::keys::{self, stage::KIND};
use super::raw::{self, KeyPath, RawLayer, Seg};
use super::suggest;

/// The prefix of environment overrides: `POPCTL_STAGES__POPULAR__PAGES=2`.
pub const ENV_PREFIX: &str = "POPCTL_";

/// All layers of one plan, lowest precedence first, and their merge.
#[derive(Debug)]
pub struct Layers {
    pub layers: Vec<RawLayer>,
    /// The plan file first, then each file it extends, in chain order.
    pub files: Vec<PathBuf>,
    pub merged: Dict,
    figment: Figment,
    /// Keys of stages copied from `[defaults.<kind>]`: (where the copy is, where it is written).
    aliases: Vec<(KeyPath, KeyPath)>,
    /// Overrides that look mistyped; reported as warnings by the compiler.
    pub warnings: Vec<PlanDiagnostic>,
}

struct LayerProvider<'a> {
    index: usize,
    layer: &'a RawLayer,
}

impl Provider for LayerProvider<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::from(
            self.layer.source.name().to_owned(),
            figment::Source::Custom(self.index.to_string()),
        )
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut map = Map::new();
        map.insert(Profile::Default, self.layer.data.clone());
        Ok(map)
    }
}

/// `path` made absolute against the current directory, without resolving links.
pub fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return raw::normalize(path);
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    raw::normalize(&cwd.join(path))
}

/// `path` relative to the current directory when it is below it (shorter messages, and no
/// machine paths in test snapshots), else as is.
pub fn display_path(path: &Path) -> String {
    let cwd = absolute(Path::new("."));
    match path.strip_prefix(&cwd) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.display().to_string(),
    }
}

/// "did you mean `plans/dev-200.toml`?" when the folder of the missing `file` holds a TOML
/// file with a close name; the suggestion is spelt as the user `written` it, with the name
/// replaced.
fn similar_file(file: &Path, written: &str) -> Option<String> {
    let name = file.file_name()?.to_str()?;
    let siblings: Vec<String> = std::fs::read_dir(file.parent()?)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml") && n != name)
        .collect();
    let close = super::suggest::closest(name, &siblings)?;
    let shown = Path::new(written).with_file_name(close);
    Some(format!("did you mean `{}`?", shown.display()))
}

/// Reads `path` and every file it extends, then adds the overrides.
pub fn load_layers(
    path: &Path,
    sets: &[String],
    env: &BTreeMap<String, String>,
) -> Result<Layers, Vec<PlanDiagnostic>> {
    let mut chain: Vec<RawLayer> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut diags = Vec::new();
    let mut next: Option<(PathBuf, Option<Site>)> = Some((raw::normalize(path), None));
    while let Some((file, via)) = next.take() {
        let display = file.display().to_string();
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                let missing = e.kind() == std::io::ErrorKind::NotFound;
                let (reason, label) = if missing {
                    ("no such file".to_owned(), "no such file")
                } else {
                    (e.to_string(), "cannot read this file")
                };
                // What the user wrote: the `extends` string, or the path on the command line.
                let written = match &via {
                    Some(site) => site.snippet().trim_matches(['"', '\'']).to_owned(),
                    None => path.display().to_string(),
                };
                let help = if missing {
                    similar_file(&file, &written)
                } else {
                    None
                };
                let message = match &via {
                    None => format!("cannot read plan `{display}`: {reason}"),
                    Some(_) => format!("cannot read `{display}`, which `extends` names: {reason}"),
                };
                diags.push(
                    PlanDiagnostic::error(Code::Io, message)
                        .at(via, label)
                        .key("plan.extends")
                        .maybe_help(help),
                );
                break;
            }
        };
        let canonical = std::fs::canonicalize(&file).unwrap_or_else(|_| absolute(&file));
        seen.push(canonical);
        let layer = match raw::parse_file(&file, &display, &text) {
            Ok(layer) => layer,
            Err(errors) => {
                diags.extend(errors);
                break;
            }
        };
        let extends_path = KeyPath::from_keys(&["plan", "extends"]);
        let extends = layer
            .data
            .get("plan")
            .and_then(Value::as_dict)
            .and_then(|p| p.get("extends"));
        match extends {
            None => {}
            Some(Value::String(_, target)) => {
                let site = layer.value_site(&extends_path);
                let base_dir = file.parent().unwrap_or(Path::new(""));
                let target_path = raw::normalize(&base_dir.join(target));
                let canonical =
                    std::fs::canonicalize(&target_path).unwrap_or_else(|_| absolute(&target_path));
                if let Some(pos) = seen.iter().position(|p| *p == canonical) {
                    let mut names: Vec<String> = chain
                        .iter()
                        .chain(std::iter::once(&layer))
                        .skip(pos)
                        .map(|l| l.source.name().to_owned())
                        .collect();
                    names.push(target_path.display().to_string());
                    diags.push(
                        PlanDiagnostic::error(
                            Code::ExtendsCycle,
                            format!("`extends` makes a cycle: {}", names.join(" → ")),
                        )
                        .at(site, "this file is already in the chain")
                        .key("plan.extends")
                        .help("a plan can extend a base, never itself or a plan that extends it"),
                    );
                } else {
                    next = Some((target_path, site));
                }
            }
            Some(other) => {
                diags.push(
                    PlanDiagnostic::error(
                        Code::WrongType,
                        format!(
                            "`plan.extends` must be a string (a path), found {}",
                            super::raw::describe(other)
                        ),
                    )
                    .at(layer.value_site(&extends_path), "expected a path")
                    .key("plan.extends"),
                );
            }
        }
        chain.push(layer);
    }
    if !diags.is_empty() {
        return Err(diags);
    }

    let files = chain
        .iter()
        .filter_map(|l| l.path().map(Path::to_path_buf))
        .collect();
    let mut layers: Vec<RawLayer> = chain.into_iter().rev().collect();
    let mut warnings = Vec::new();
    for (name, value) in env {
        match env_layer(name, value) {
            EnvOverride::NotOurs => {}
            EnvOverride::Layer(layer) => layers.push(layer),
            EnvOverride::Suspicious(d) => warnings.push(d),
        }
    }
    for (i, arg) in sets.iter().enumerate() {
        match set_layer(i, arg) {
            Ok(layer) => layers.push(layer),
            Err(d) => diags.push(*d),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }

    let mut figment = Figment::new();
    for (index, layer) in layers.iter().enumerate() {
        figment = figment.merge(LayerProvider { index, layer });
    }
    let mut merged = match figment.find_value("") {
        Ok(Value::Dict(_, dict)) => dict,
        // Our providers cannot fail and always give a table; an empty plan is still a plan.
        _ => Dict::new(),
    };
    let aliases = apply_kind_defaults(&mut merged);
    Ok(Layers {
        layers,
        files,
        merged,
        figment,
        warnings,
        aliases,
    })
}

/// Per-kind defaults: each key of `[defaults.<kind>]` that a stage of that kind does not write
/// is copied into the stage, as if written there, after every layer is merged (so an override
/// of either reaches it). A stage's own key replaces the default's whole value, as a later
/// layer's array does. The copies keep their figment tags, so [`Layers::origin_of`] names the
/// layer that wrote the default; the returned aliases send a diagnostic's site there too.
/// Malformed tables are left alone: the compiler reports them where they are written.
fn apply_kind_defaults(merged: &mut Dict) -> Vec<(KeyPath, KeyPath)> {
    let mut aliases = Vec::new();
    let Some(Value::Dict(_, defaults)) = merged.get("defaults") else {
        return aliases;
    };
    let by_kind: Vec<(&str, Dict)> = super::model::STAGE_KINDS
        .iter()
        .filter_map(|kind| match defaults.get(*kind) {
            Some(Value::Dict(_, d)) => Some((*kind, d.clone())),
            _ => None,
        })
        .collect();
    if by_kind.is_empty() {
        return aliases;
    }
    let Some(Value::Dict(_, stages)) = merged.get_mut("stages") else {
        return aliases;
    };
    for (name, stage) in stages.iter_mut() {
        let Value::Dict(_, stage) = stage else {
            continue;
        };
        let Some(Value::String(_, kind)) = stage.get(KIND.name) else {
            continue;
        };
        let Some((kind, defaults)) = by_kind.iter().find(|(k, _)| k == kind) else {
            continue;
        };
        for (key, value) in defaults {
            // The kind chose this table; it cannot be a default. An unknown key is reported
            // once, in `[defaults.<kind>]`, not again in every stage.
            let known = keys::STAGE.get(key).is_some() || keys::of_kind(kind).get(key).is_some();
            if key == KIND.name || !known || stage.contains_key(key) {
                continue;
            }
            stage.insert(key.clone(), value.clone());
            aliases.push((
                KeyPath::from_keys(&["stages", name, key]),
                KeyPath::from_keys(&["defaults", kind, key]),
            ));
        }
    }
    aliases
}

enum EnvOverride {
    NotOurs,
    Layer(RawLayer),
    Suspicious(PlanDiagnostic),
}

/// The variable that overrides the key at `path`: `["sources", "tmdb", "base_url"]` →
/// `POPCTL_SOURCES__TMDB__BASE_URL` (what [`env_layer`] reads back).
pub fn env_var_for(path: &[&str]) -> String {
    format!("{ENV_PREFIX}{}", path.join("__").to_ascii_uppercase())
}

/// `POPCTL_STAGES__POPULAR__PAGES=2` → a layer setting `stages.popular.pages = 2`.
///
/// Only variables with a `__` are overrides, so `POPCTL_LOG` or `POPCTL_TEST_PG` used by other
/// tools are left alone; one whose first part is not a plan section is probably a typo and
/// gets a warning instead of silently doing nothing.
fn env_layer(name: &str, value: &str) -> EnvOverride {
    let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
        return EnvOverride::NotOurs;
    };
    if !rest.contains("__") {
        return EnvOverride::NotOurs;
    }
    let text = format!("{name}={value}");
    let source = raw::named_source("environment", &text);
    let mut keys: Vec<(String, Range<usize>)> = Vec::new();
    let mut at = ENV_PREFIX.len();
    for part in rest.split("__") {
        keys.push((part.to_ascii_lowercase(), at..at + part.len()));
        at += part.len() + 2;
    }
    let site = |span: Range<usize>| {
        Some(Site::new(
            Origin::Env(name.to_owned()),
            source.clone(),
            span,
        ))
    };
    if let Some((_, span)) = keys.iter().find(|(k, _)| k.is_empty()) {
        let span = span.start.saturating_sub(2)..span.end + 2;
        return EnvOverride::Suspicious(
            PlanDiagnostic::warning(
                Code::Override,
                format!("`{name}` has an empty key part and is ignored"),
            )
            .at(
                site(span.start..span.end.min(name.len())),
                "empty key between `__`",
            ),
        );
    }
    let section = &keys[0].0;
    let sections = super::keys::TOP.names();
    if !sections.contains(&section.as_str()) {
        return EnvOverride::Suspicious(
            PlanDiagnostic::warning(
                Code::Override,
                format!("`{name}` looks like a plan override, but `{section}` is not a plan section; it is ignored"),
            )
            .at(site(keys[0].1.clone()), "not a plan section")
            .maybe_help(suggest::closest(section, &sections).map(|s| {
                format!("did you mean `{ENV_PREFIX}{}`?", s.to_ascii_uppercase())
            })),
        );
    }
    EnvOverride::Layer(raw::override_layer(
        Origin::Env(name.to_owned()),
        "environment",
        &text,
        &keys,
        name.len() + 1,
    ))
}

/// `stages.popular.pages=2` → a layer setting that key.
fn set_layer(index: usize, arg: &str) -> Result<RawLayer, Box<PlanDiagnostic>> {
    let source = raw::named_source("--set", arg);
    let site = |span: Range<usize>| Some(Site::new(Origin::Set(index), source.clone(), span));
    let Some((key, _)) = arg.split_once('=') else {
        return Err(Box::new(
            PlanDiagnostic::error(Code::Override, format!("`--set {arg}` has no `=`"))
                .at(site(0..arg.len()), "expected `key.path=value`")
                .help("write it like `--set stages.popular.pages=2`"),
        ));
    };
    let mut keys = Vec::new();
    let mut at = 0;
    for part in key.split('.') {
        let trimmed = part.trim();
        let lead = part.len() - part.trim_start().len();
        let span = at + lead..at + lead + trimmed.len();
        let bare = !trimmed.is_empty()
            && trimmed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !bare {
            return Err(Box::new(
                PlanDiagnostic::error(
                    Code::Override,
                    format!("`--set {arg}`: `{trimmed}` is not a key"),
                )
                .at(
                    site(if trimmed.is_empty() { at..at } else { span }),
                    "expected a key of letters, digits, `_` or `-`",
                )
                .help("write it like `--set stages.popular.pages=2`"),
            ));
        }
        keys.push((trimmed.to_owned(), span));
        at += part.len() + 1;
    }
    Ok(raw::override_layer(
        Origin::Set(index),
        "--set",
        arg,
        &keys,
        key.len() + 1,
    ))
}

impl Layers {
    /// The merged value at `path`.
    pub fn get(&self, path: &KeyPath) -> Option<&Value> {
        let mut segs = path.0.iter();
        let Some(Seg::Key(first)) = segs.next() else {
            return None;
        };
        let mut value = self.merged.get(first)?;
        for seg in segs {
            value = match (seg, value) {
                (Seg::Key(k), Value::Dict(_, d)) => d.get(k)?,
                (Seg::Index(i), Value::Array(_, items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(value)
    }

    /// The layer that supplied the value at `path` (by its figment tag).
    pub fn layer_of(&self, path: &KeyPath) -> Option<&RawLayer> {
        let value = self.get(path)?;
        let meta = self.figment.get_metadata(value.tag())?;
        let index: usize = meta.source.as_ref()?.custom()?.parse().ok()?;
        self.layers.get(index)
    }

    pub fn origin_of(&self, path: &KeyPath) -> Option<&Origin> {
        self.layer_of(path).map(|l| &l.origin)
    }

    /// The directory relative paths in the value at `path` are resolved against: the
    /// directory of the plan file that wrote it, or the current directory for overrides.
    pub fn base_dir_of(&self, path: &KeyPath) -> PathBuf {
        match self.origin_of(path) {
            Some(Origin::File(file)) => absolute(file.parent().unwrap_or(Path::new(""))),
            _ => absolute(Path::new(".")),
        }
    }

    /// The layer to point at for `path`: the one that supplied a plain value; for a table,
    /// which several layers may add keys to, the topmost plan file that writes it (an
    /// override such as `POPCTL_STAGES__POPULAR__PAGES` also "writes" `stages.popular`, but
    /// the table a user means is the one in the file).
    fn site_layer(&self, path: &KeyPath) -> Option<&RawLayer> {
        if matches!(self.get(path), Some(Value::Dict(..))) {
            let in_file = self
                .layers
                .iter()
                .rev()
                .find(|l| matches!(l.origin, Origin::File(_)) && l.index.get(path).is_some());
            if in_file.is_some() {
                return in_file;
            }
        }
        self.layer_of(path)
    }

    /// Where the value at `path` is written.
    pub fn value_site(&self, path: &KeyPath) -> Option<Site> {
        let path = &self.unalias(path);
        self.site_layer(path)
            .and_then(|l| l.value_site(path))
            .or_else(|| self.topmost(path, RawLayer::value_site))
    }

    /// Where the key of `path` is written (a table's header for a table).
    pub fn key_site(&self, path: &KeyPath) -> Option<Site> {
        let path = &self.unalias(path);
        self.site_layer(path)
            .and_then(|l| l.key_site(path))
            .or_else(|| self.topmost(path, RawLayer::key_site))
    }

    /// Where `path` is written: inside a key copied from `[defaults.<kind>]`, the same place
    /// under the default.
    fn unalias(&self, path: &KeyPath) -> KeyPath {
        for (copy, written) in &self.aliases {
            if let Some(rest) = path.0.strip_prefix(copy.0.as_slice()) {
                let mut segs = written.0.clone();
                segs.extend_from_slice(rest);
                return KeyPath(segs);
            }
        }
        path.clone()
    }

    fn topmost(&self, path: &KeyPath, f: fn(&RawLayer, &KeyPath) -> Option<Site>) -> Option<Site> {
        self.layers.iter().rev().find_map(|l| f(l, path))
    }

    /// Position of `path`'s key in the layers, for keeping the order tables were written in:
    /// (index of the lowest layer that has it, offset in that layer).
    pub fn written_order(&self, path: &KeyPath) -> (usize, usize) {
        self.layers
            .iter()
            .enumerate()
            .find_map(|(i, l)| {
                l.index
                    .get(path)
                    .map(|s| (i, s.key.as_ref().map_or(s.value.start, |k| k.start)))
            })
            .unwrap_or((usize::MAX, 0))
    }

    /// Rank of an origin for sorting diagnostics: the plan file first, then what it extends,
    /// then environment overrides, then `--set`.
    pub fn rank(&self, origin: &Origin) -> usize {
        match origin {
            Origin::File(f) => self
                .files
                .iter()
                .position(|p| p == f)
                .unwrap_or(self.files.len()),
            Origin::Env(_) => self.files.len() + 1,
            Origin::Set(i) => self.files.len() + 2 + i,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn get<'a>(l: &'a Layers, path: &[&str]) -> &'a Value {
        l.get(&KeyPath::from_keys(path)).unwrap()
    }

    #[test]
    fn child_wins_tables_merge_arrays_replace() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "base.toml",
            "[sources.tmdb]\nrate = \"40/s\"\ntimeout = \"15s\"\n[stages.p]\nappend = [\"credits\", \"videos\"]\npages = 3\n",
        );
        let child = write(
            dir.path(),
            "child.toml",
            "[plan]\nextends = \"base.toml\"\n[sources.tmdb]\nrate = \"10/s\"\n[stages.p]\nappend = [\"keywords\"]\n",
        );
        let l = load_layers(&child, &[], &env(&[])).unwrap();
        assert_eq!(get(&l, &["sources", "tmdb", "rate"]).as_str(), Some("10/s"));
        assert_eq!(
            get(&l, &["sources", "tmdb", "timeout"]).as_str(),
            Some("15s")
        );
        let append = get(&l, &["stages", "p", "append"]).as_array().unwrap();
        assert_eq!(append.len(), 1);
        assert_eq!(get(&l, &["stages", "p", "pages"]).to_i128(), Some(3));
        assert_eq!(l.files.len(), 2);
        assert!(l.files[0].ends_with("child.toml") && l.files[1].ends_with("base.toml"));
    }

    #[test]
    fn env_then_set_override_in_that_order_and_sites_follow_the_layer() {
        let dir = tempfile::tempdir().unwrap();
        let plan = write(
            dir.path(),
            "p.toml",
            "[stages.popular]\npages = 10\nconcurrency = 8\n",
        );
        let e = env(&[
            ("POPCTL_STAGES__POPULAR__PAGES", "2"),
            ("POPCTL_STAGES__POPULAR__CONCURRENCY", "3"),
            ("POPCTL_TEST_PG", "x"),
        ]);
        let sets = vec!["stages.popular.pages=5".to_owned()];
        let l = load_layers(&plan, &sets, &e).unwrap();
        let pages = KeyPath::from_keys(&["stages", "popular", "pages"]);
        let conc = KeyPath::from_keys(&["stages", "popular", "concurrency"]);
        assert_eq!(l.get(&pages).unwrap().to_i128(), Some(5));
        assert_eq!(l.get(&conc).unwrap().to_i128(), Some(3));
        let site = l.value_site(&pages).unwrap();
        assert_eq!((site.origin.clone(), site.snippet()), (Origin::Set(0), "5"));
        let site = l.value_site(&conc).unwrap();
        assert_eq!(
            site.origin,
            Origin::Env("POPCTL_STAGES__POPULAR__CONCURRENCY".into())
        );
        assert_eq!(site.snippet(), "3");
        let key = l.key_site(&conc).unwrap();
        assert_eq!(key.snippet(), "CONCURRENCY");
        assert!(l.warnings.is_empty());
    }

    #[test]
    fn extends_cycle_is_an_error_on_the_extends_value() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.toml", "[plan]\nextends = \"b.toml\"\n");
        write(dir.path(), "b.toml", "[plan]\nextends = \"a.toml\"\n");
        let errors = load_layers(&dir.path().join("a.toml"), &[], &env(&[])).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, Code::ExtendsCycle);
        let site = errors[0].site.as_ref().unwrap();
        assert_eq!(site.snippet(), "\"a.toml\"");
        assert!(site.source.name().ends_with("b.toml"));
    }

    #[test]
    fn missing_extends_target_points_at_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a.toml", "[plan]\nextends = \"nope.toml\"\n");
        let errors = load_layers(&p, &[], &env(&[])).unwrap_err();
        assert_eq!(errors[0].code, Code::Io);
        assert_eq!(errors[0].site.as_ref().unwrap().snippet(), "\"nope.toml\"");
    }

    #[test]
    fn mistyped_env_section_warns_and_malformed_set_fails() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a.toml", "");
        let l = load_layers(&p, &[], &env(&[("POPCTL_STAGS__X__PAGES", "2")])).unwrap();
        assert_eq!(l.warnings.len(), 1);
        assert_eq!(
            l.warnings[0].help.as_deref(),
            Some("did you mean `POPCTL_STAGES`?")
        );
        assert_eq!(l.warnings[0].site.as_ref().unwrap().snippet(), "STAGS");
        let errors = load_layers(&p, &["stages.x.pages".into()], &env(&[])).unwrap_err();
        assert_eq!(errors[0].code, Code::Override);
        let errors = load_layers(&p, &["stages..pages=2".into()], &env(&[])).unwrap_err();
        assert_eq!(errors[0].code, Code::Override);
    }
}
