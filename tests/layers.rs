//! The crate is read bottom-up: every module of `src/` sits on a layer and refers only to
//! modules of its own layer or below (`crate::...` paths, in `use` lines and inline), and
//! modules of one layer never refer to each other in a loop. This test reads the sources
//! and names the file and line of every reference that breaks the rule.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module's files are `src/{name}.rs` or `src/{name}/`.
const LAYERS: &[&[&str]] = &[
    &["config", "urls", "html", "lang"],
    &["article"],
    &["loader"],
    &["corpus", "item"],
    &["feed", "pages"],
    &["render", "hosts", "metrics", "stats"],
    &["snapshot"],
    &["publish", "http", "watch"],
    &["serve", "websub", "ping", "lib"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level module a file of `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap();
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules named by the `crate::` paths of one line of code, comments left out:
/// `crate::a::b` names `a`; `crate::{a::b, c}` names `a` and `c`.
fn modules_named(line: &str) -> Vec<String> {
    let code = match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    };
    let mut names = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        // `feedpub::crate::` cannot occur; `$crate::` in macros is not a module path here.
        let before = &rest[..i];
        rest = &rest[i + "crate::".len()..];
        if before.ends_with('$') || before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut entry_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        rest = &group[j..];
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => entry_start = true,
                    c if entry_start && (c.is_alphabetic() || c == '_') => {
                        let ident: String = group[j..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        names.push(ident);
                        entry_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() {
                names.push(ident);
            }
        }
    }
    names
}

/// Whether `to` can be reached from `from` in `edges`.
fn reaches(edges: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(m) = stack.pop() {
        if m == to {
            return true;
        }
        if seen.insert(m.clone()) {
            stack.extend(edges.get(&m).into_iter().flatten().cloned());
        }
    }
    false
}

#[test]
fn every_module_refers_only_to_its_layer_and_below_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    // References between different modules of one layer, with where they are.
    let mut same_layer: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut places: BTreeMap<(String, String), String> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "main" {
            // The binary uses the library through `feedpub::`, as any user does.
            continue;
        }
        let Some(layer) = layer_of(&module) else {
            problems.push(format!(
                "src/{}: module `{module}` is on no layer: add it to LAYERS in tests/layers.rs",
                file.strip_prefix(&src).unwrap().display()
            ));
            continue;
        };
        let text = fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                continue;
            }
            for target in modules_named(line) {
                if target == module {
                    continue;
                }
                let place = format!(
                    "src/{}:{}",
                    file.strip_prefix(&src).unwrap().display(),
                    number + 1
                );
                match layer_of(&target) {
                    None => problems.push(format!("{place}: `crate::{target}` is on no layer")),
                    Some(t) if t > layer => problems.push(format!(
                        "{place}: `{module}` (layer {layer}) refers up to `{target}` (layer {t})"
                    )),
                    Some(t) if t == layer => {
                        same_layer
                            .entry(module.clone())
                            .or_default()
                            .insert(target.clone());
                        places.entry((module.clone(), target)).or_insert(place);
                    }
                    Some(_) => {}
                }
            }
        }
    }
    for ((from, to), place) in &places {
        if reaches(&same_layer, to, from) {
            problems.push(format!(
                "{place}: `{from}` refers to `{to}`, which refers back to `{from}`: a cycle"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "imports that break the layers:\n{}",
        problems.join("\n")
    );
    assert!(files.len() > 20, "the sources were found");
}

#[test]
fn references_are_read_from_use_lines_groups_and_inline_paths() {
    assert_eq!(modules_named("use crate::feed::Format;"), ["feed"]);
    assert_eq!(
        modules_named("use crate::{config::Config, urls::{Format, Route}, html};"),
        ["config", "urls", "html"]
    );
    assert_eq!(
        modules_named("    let x = crate::render::truncate(now); // crate::serve"),
        ["render"]
    );
    assert!(modules_named("$crate::x").is_empty());
}
