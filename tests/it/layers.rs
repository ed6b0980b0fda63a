//! The layering written in the modules' doc comments holds. A module whose `//!` comment
//! has a `# Layers` heading numbers its submodules, lowest first (`src/lib.rs` does it
//! for the crate's groups, each group's `mod.rs` for its modules, `src/roles/gateway/mod.rs`
//! for the gateway); a submodule then reaches a sibling only of a lower layer. Every path is read, whether it starts with `crate::`,
//! `super::` or `self::`: each is resolved against the module the line is in, so an
//! upward import through `super::` is caught like one through `crate::`. A file's module
//! is its place under src/ (no `#[path]`, which a test forbids).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// A module path from the crate root: `[]` is the crate, `["gateway", "proxy"]` a submodule.
type ModulePath = Vec<String>;

/// Module → (its submodule → layer number), for each module with a `# Layers` list.
type Lists = BTreeMap<ModulePath, BTreeMap<String, usize>>;

/// The numbered list after a `//! # Layers` heading: the backticked names before the
/// first ':' of `//! N. ...` lines.
fn layer_list(text: &str) -> Option<BTreeMap<String, usize>> {
    let mut docs = text.lines().map_while(|l| l.strip_prefix("//!")).map(str::trim_start);
    docs.find(|l| l.starts_with("# Layers"))?;
    let mut layers = BTreeMap::new();
    for line in docs.take_while(|l| !l.starts_with('#')) {
        let Some((number, rest)) = line.split_once(". ") else { continue };
        let Ok(number) = number.parse::<usize>() else { continue };
        let names = rest.split(':').next().unwrap_or_default();
        for name in names.split('`').skip(1).step_by(2) {
            layers.insert(name.to_owned(), number);
        }
    }
    Some(layers)
}

/// A module declared by `line`, and whether its body follows inline (`mod x {`) rather
/// than in a file (`mod x;`), whatever attributes (`#[cfg(test)]`) and visibility
/// (`pub`, `pub(crate)`, `pub(in a::b)`) stand before it.
fn module_declaration(line: &str) -> Option<(String, bool)> {
    let mut rest = line.trim_start();
    while let Some(attribute) = rest.strip_prefix("#[") {
        rest = attribute.split_once(']')?.1.trim_start();
    }
    if let Some(public) = rest.strip_prefix("pub") {
        rest = match public.strip_prefix('(') {
            Some(scope) => scope.split_once(')')?.1,
            None => public,
        }
        .trim_start();
    }
    let declared = rest.strip_prefix("mod ")?;
    let name: String = declared.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    match declared[name.len()..].trim() {
        ";" => Some((name, false)),
        "{" => Some((name, true)),
        _ => None,
    }
}

/// The submodules a module's file declares in files of their own.
fn declared_modules(text: &str) -> Vec<String> {
    text.lines().filter_map(module_declaration).filter(|(_, inline)| !inline).map(|(name, _)| name).collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable src/").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file is (`src/store/redis.rs` → `store::redis`, `src/store/mod.rs` → `store`).
fn module_of(file: &Path) -> ModulePath {
    let relative = file.strip_prefix(SRC).expect("a file under src/").with_extension("");
    let mut path: ModulePath = relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if path.last().is_some_and(|l| l == "mod" || l == "lib") {
        path.pop();
    }
    path
}

/// The segments of `rest` (`a::b::{c, d::e}`), each path appended to `prefix`.
fn expand(prefix: &[String], rest: &str, out: &mut Vec<ModulePath>) {
    let mut path = prefix.to_vec();
    let mut rest = rest;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        expand(&path, group[start..i].trim(), out);
                        return;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&path, group[start..i].trim(), out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            return;
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !name.is_empty() && name != "self" {
            path.push(name.clone());
        }
        match rest[name.len()..].strip_prefix("::") {
            Some(more) if !name.is_empty() => rest = more,
            _ => break,
        }
    }
    out.push(path);
}

/// The paths a line names through `crate::`, `super::` or `self::`, resolved against
/// the module `at` (`super::x` in `gateway::history` → `gateway::x`).
fn paths(line: &str, at: &[String]) -> Vec<ModulePath> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(start) = ["crate::", "super::", "self::"].iter().filter_map(|p| rest.find(p)).min() {
        let before = rest[..start].chars().last();
        rest = &rest[start..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            // e.g. `mycrate::`, or a `self::` already read as part of a longer path.
            rest = &rest[rest.find("::").expect("found above") + 2..];
            continue;
        }
        let mut base = at.to_vec();
        if let Some(after) = rest.strip_prefix("crate::") {
            base.clear();
            rest = after;
        } else if let Some(after) = rest.strip_prefix("self::") {
            rest = after;
        }
        while let Some(after) = rest.strip_prefix("super::") {
            base.pop();
            rest = after;
        }
        expand(&base, rest, &mut found);
    }
    found
}

/// Why `used` may not be reached from module `at`, if it may not: both sit under a
/// module with a layer list, and `used`'s side is not of a lower layer than `at`'s.
fn against_the_layers(at: &[String], used: &[String], lists: &Lists) -> Option<String> {
    let common = at.iter().zip(used).take_while(|(a, b)| a == b).count();
    if common == at.len() || common == used.len() {
        return None; // its own module, a descendant, or an ancestor itself
    }
    let list = lists.get(&at[..common])?;
    let (mine, theirs) = (&at[common], &used[common]);
    if common == 0 && !list.contains_key(theirs) {
        // The crate root holds only the groups and re-exports for main.rs and the tests.
        return Some(format!("`crate::{theirs}` is in no layer of src/lib.rs: name the group it is in"));
    }
    // A name the list lacks is an item of the parent (a listed submodule is checked below).
    let (&own, &other) = (list.get(mine)?, list.get(theirs)?);
    (other >= own).then(|| {
        let parent = if common == 0 { "the crate".to_owned() } else { format!("`{}`", at[..common].join("::")) };
        format!("in {parent}, `{mine}` (layer {own}) reaches `{theirs}` (layer {other})")
    })
}

/// The violations in one file's text, the file being module `module`.
fn violations_in(label: &str, text: &str, module: &[String], lists: &Lists) -> Vec<String> {
    let mut found = Vec::new();
    // Inline modules (`mod tests {`), by indentation as rustfmt lays them out.
    let mut inline: Vec<(String, String)> = Vec::new();
    // A group rustfmt spreads over lines (`use crate::a::{` … `};`), read as one line.
    let mut group: Option<(usize, String)> = None;
    let lines = text.lines().enumerate().filter_map(|(number, line)| {
        if line.trim_start().starts_with("//") {
            return None;
        }
        if let Some((start, mut joined)) = group.take() {
            joined.push_str(line.trim());
            if joined.matches('{').count() > joined.matches('}').count() {
                group = Some((start, joined));
                return None;
            }
            return Some((start, joined));
        }
        if line.ends_with("::{") {
            group = Some((number, line.to_owned()));
            return None;
        }
        Some((number, line.to_owned()))
    });
    for (number, line) in lines {
        let line = line.as_str();
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some((name, true)) = module_declaration(line) {
            inline.push((indent.to_owned(), name));
            continue;
        }
        if trimmed == "}" && inline.last().is_some_and(|(i, _)| i == indent) {
            inline.pop();
            continue;
        }
        let mut at = module.to_vec();
        at.extend(inline.iter().map(|(_, name)| name.clone()));
        for used in paths(line, &at) {
            if let Some(why) = against_the_layers(&at, &used, lists) {
                found.push(format!("{label}:{}: {why}", number + 1));
            }
        }
    }
    found
}

/// Every module's layer list, and complaints about submodules a list lacks or names wrongly.
fn lists() -> (Lists, Vec<String>) {
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    let (mut lists, mut found) = (Lists::new(), Vec::new());
    for file in files.iter().filter(|f| !f.ends_with("main.rs")) {
        let text = std::fs::read_to_string(file).expect("a readable source file");
        let Some(list) = layer_list(&text) else { continue };
        let declared = declared_modules(&text);
        for name in declared.iter().filter(|d| !list.contains_key(*d)) {
            found.push(format!("{}: module `{name}` is in no layer", file.display()));
        }
        for name in list.keys().filter(|n| !declared.contains(n)) {
            found.push(format!("{}: the layers name `{name}`, which is no module here", file.display()));
        }
        lists.insert(module_of(file), list);
    }
    (lists, found)
}

/// Every import against a layer list, as `file:line: why`.
fn violations(lists: &Lists) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("main.rs")) {
        let text = std::fs::read_to_string(file).expect("a readable source file");
        found.extend(violations_in(&file.display().to_string(), &text, &module_of(file), lists));
    }
    found
}

fn path(text: &str) -> ModulePath {
    text.split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[test]
fn no_module_imports_one_of_its_own_layer_or_above() {
    let (lists, mut found) = lists();
    assert!(lists.get(&Vec::new()).is_some_and(|l| l.len() == 5), "src/lib.rs lists the groups: {lists:?}");
    let listed: usize = lists.values().map(BTreeMap::len).sum();
    assert!(listed > 30, "the groups and the gateway list their modules: {lists:?}");
    assert!(lists.contains_key(&path("roles::gateway")), "src/roles/gateway/mod.rs lists its layers: {lists:?}");
    found.extend(violations(&lists));
    assert!(found.is_empty(), "imports against the layers:\n{}", found.join("\n"));
}

#[test]
fn the_check_reports_upward_imports_through_every_kind_of_path() {
    let (lists, _) = lists();
    let history = path("roles::gateway::history");
    let report = |text: &str, at: &[String]| violations_in("synthetic.rs", text, at, &lists);
    // Sideways and up inside the gateway, through `super::` and `crate::`.
    assert_eq!(report("use super::traffic::Traffic;", &history).len(), 1);
    assert_eq!(report("    let t = crate::roles::gateway::proxy::GATEWAY_POD;", &history).len(), 1);
    // Up to a higher group, through `super::super::super::` and `crate::`; sideways in a group.
    assert_eq!(report("use super::super::super::process::startup::Shared;", &history).len(), 1);
    assert_eq!(report("use crate::{data::clock, process::startup::Shared};", &path("data::clock")).len(), 1);
    assert_eq!(report("use crate::roles::meta::routes;", &path("roles::user::routes")).len(), 1);
    assert_eq!(report("use super::chaos::Chaos;", &path("http::api")).len(), 1);
    // Around the layers through the crate root's re-exports.
    assert_eq!(report("use crate::startup::Shared;", &path("data::clock")).len(), 1);
    // A group over several lines.
    assert_eq!(
        report("use super::{\n    rules::Rules,\n    // a comment\n    traffic::Traffic,\n};", &history).len(),
        1
    );
    // From an inline module, `super::` is the file's module.
    assert_eq!(report("mod tests {\n    use super::super::traffic::Traffic;\n}", &history).len(), 1);
    // Down, into its own module, or to the parent's items: allowed.
    let fine = "use super::rules::ClusterWeights;\nuse crate::http::metrics::NameMap;\nuse self::x::Y;\nuse super::GatewayState;\nmod tests {\n    use super::*;\n}";
    assert_eq!(report(fine, &history), Vec::<String>::new());
}

#[test]
fn modules_are_read_whatever_stands_before_mod() {
    let read = |line: &str| module_declaration(line);
    assert_eq!(read("mod store;"), Some(("store".to_owned(), false)));
    assert_eq!(read("pub(crate) mod gateway;"), Some(("gateway".to_owned(), false)));
    assert_eq!(read("pub(in crate::roles) mod mesh;"), Some(("mesh".to_owned(), false)));
    assert_eq!(read("#[cfg(test)] pub mod tests {"), Some(("tests".to_owned(), true)));
    assert_eq!(read("    #[cfg(test)] #[allow(dead_code)] mod fixtures;"), Some(("fixtures".to_owned(), false)));
    assert_eq!(read("// mod old;"), None);
    assert_eq!(read("let model = 1;"), None);
    let (lists, _) = lists();
    let inline = "#[cfg(test)] mod tests {\n    use super::super::traffic::Traffic;\n}";
    assert_eq!(violations_in("synthetic.rs", inline, &path("roles::gateway::history"), &lists).len(), 1);
}

/// The check maps a file to its module by its place under src/; `#[path]` would break that.
#[test]
fn every_module_lives_where_its_path_says() {
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("#[path"), "{} moves a module with #[path]", file.display());
    }
}

#[test]
fn the_gateway_reaches_nothing_of_the_store() {
    let mut files = Vec::new();
    rust_files(&Path::new(SRC).join("roles/gateway"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let module = module_of(&file);
        let uses_store = text.lines().filter(|l| !l.trim_start().starts_with("//")).any(|l| {
            paths(l, &module)
                .iter()
                .any(|p| p.starts_with(&path("data::store")) || p.first().is_some_and(|m| m == "store"))
                || l.contains("Data<Store>")
                || l.contains("Store::")
        });
        assert!(!uses_store, "{} reaches the store", file.display());
    }
}

#[test]
fn paths_are_read_from_single_and_grouped_imports_and_resolved() {
    let at = path("store::redis");
    let firsts = |line: &str| paths(line, &at).into_iter().map(|p| p.join("::")).collect::<Vec<_>>();
    assert_eq!(firsts("use crate::store::{Store, Page};"), ["store::Store", "store::Page"]);
    assert_eq!(firsts("use crate::{api, meta::ApiDoc, self};"), ["api", "meta::ApiDoc", ""]);
    assert_eq!(firsts("    crate::metrics::store_error(); // crate::x"), ["metrics::store_error", "x"]);
    assert_eq!(firsts("use super::{Encoded, OpenError};"), ["store::Encoded", "store::OpenError"]);
    assert_eq!(firsts("use self::inner::Thing;"), ["store::redis::inner::Thing"]);
    assert_eq!(firsts("use super::super::clock::now;"), ["clock::now"]);
    assert_eq!(firsts("use mycrate::thing; pub(super) fn f() {}"), Vec::<String>::new());
}
