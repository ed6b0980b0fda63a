//! The layering written in the crate's top doc comment (`src/lib.rs`) holds: every
//! `crate::` path in a module names a module of a lower layer (or its own module).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Module → layer number, from the numbered list in lib.rs's `//!` comment.
fn layers() -> BTreeMap<String, usize> {
    let lib = std::fs::read_to_string(Path::new(SRC).join("lib.rs")).expect("src/lib.rs");
    let mut layers = BTreeMap::new();
    for line in lib.lines().filter_map(|l| l.strip_prefix("//! ")) {
        let Some((number, rest)) = line.split_once(". ") else { continue };
        let Ok(number) = number.parse::<usize>() else { continue };
        // The modules are the backticked names before the first ':'.
        let names = rest.split(':').next().unwrap_or_default();
        for name in names.split('`').skip(1).step_by(2) {
            layers.insert(name.to_owned(), number);
        }
    }
    layers
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

/// The top-level module a file belongs to (`src/store/redis.rs` → `store`).
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(SRC).expect("a file under src/");
    let first = relative.components().next().expect("a path").as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// The modules a line of code names through `crate::` (`crate::a::b`, `crate::{a, b::c}`).
fn crate_paths(line: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `mycrate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.push(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            names.push(item);
        } else {
            names.push(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    names
        .into_iter()
        .map(|n| n.trim().split("::").next().unwrap_or_default().trim().to_owned())
        .filter(|n| !n.is_empty() && n != "self")
        .collect()
}

/// Every `crate::` import that goes sideways or up, as `file:line: a (layer) imports b (layer)`.
fn violations(layers: &BTreeMap<String, usize>) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("main.rs") && !f.ends_with("lib.rs")) {
        let module = module_of(file);
        let Some(&own) = layers.get(&module) else {
            found.push(format!("{}: module `{module}` is in no layer of src/lib.rs", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for used in crate_paths(line) {
                let Some(&theirs) = layers.get(&used) else {
                    found.push(format!("{}:{}: `{used}` is in no layer", file.display(), number + 1));
                    continue;
                };
                if used != module && theirs >= own {
                    found.push(format!(
                        "{}:{}: `{module}` (layer {own}) imports `{used}` (layer {theirs})",
                        file.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn no_module_imports_one_of_its_own_layer_or_above() {
    let layers = layers();
    assert!(layers.len() > 20, "src/lib.rs lists the layers: {layers:?}");
    let found = violations(&layers);
    assert!(found.is_empty(), "imports against the layering of src/lib.rs:\n{}", found.join("\n"));
}

#[test]
fn the_gateway_reaches_nothing_of_the_store() {
    let mut files = Vec::new();
    rust_files(&Path::new(SRC).join("gateway"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let uses_store = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .any(|l| crate_paths(l).iter().any(|m| m == "store") || l.contains("Data<Store>") || l.contains("Store::"));
        assert!(!uses_store, "{} reaches the store", file.display());
    }
}

#[test]
fn crate_paths_are_read_from_single_and_grouped_imports() {
    assert_eq!(crate_paths("use crate::store::{Store, Page};"), ["store"]);
    assert_eq!(crate_paths("use crate::{api, meta::ApiDoc, self};"), ["api", "meta"]);
    assert_eq!(crate_paths("    crate::metrics::store_error(); // crate::x"), ["metrics", "x"]);
    assert_eq!(crate_paths("use mycrate::thing;"), Vec::<String>::new());
}
