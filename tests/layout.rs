//! The crate's layout, checked from its sources: the layers lib.rs lists
//! are the only way modules depend (so there is no cycle between
//! top-level modules), the tunnel client reaches no server module, and no
//! file grows past ~500 lines of code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a file belongs to (`src/web/api/bins.rs` → `web`).
fn top_module(file: &Path) -> String {
    let rel = file.strip_prefix(src()).expect("under src");
    let first = rel
        .components()
        .next()
        .expect("a component")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// The code of a file without its line comments (doc links are not uses).
fn code(file: &Path) -> String {
    std::fs::read_to_string(file)
        .expect("read file")
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a piece of code names through `crate::`,
/// including `use crate::{a, b::c}` groups.
fn uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group: those at brace depth 0.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && depth == 0 && !c.is_whitespace() => {
                        out.insert(ident(&group[j..]).to_owned());
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest).to_owned());
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

/// Top-level module → the top-level modules it uses.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src()) {
        let top = top_module(&file);
        if top == "main" || top == "lib" {
            continue;
        }
        let used = uses(&code(&file));
        let entry = g.entry(top.clone()).or_default();
        entry.extend(used.into_iter().filter(|m| *m != top));
    }
    g
}

/// The modules in the order lib.rs's "Layout" list gives them.
fn layout_order() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs");
    lib.lines()
        .filter_map(|l| l.strip_prefix("//! - [`"))
        .map(|l| ident(l).to_owned())
        .collect()
}

#[test]
fn modules_depend_one_way_down_the_layout_list() {
    let order = layout_order();
    let g = graph();
    for module in g.keys() {
        assert!(
            order.contains(module),
            "src/{module} is not in lib.rs's Layout list: add it where it belongs"
        );
    }
    let position = |m: &str| order.iter().position(|o| o == m);
    let mut upward = Vec::new();
    for (module, used) in &g {
        for u in used {
            if position(u) >= position(module) {
                upward.push(format!("{module} -> {u}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "modules may only use modules listed before them in lib.rs's Layout; these point up or sideways: {upward:?}"
    );
}

#[test]
fn the_tunnel_client_reaches_no_server_module() {
    let g = graph();
    let shared: BTreeSet<&str> = ["tunnel", "config", "headers", "time", "urls", "matcher"].into();
    let mut reached = BTreeSet::new();
    let mut todo = vec!["tunnel".to_owned()];
    while let Some(m) = todo.pop() {
        if reached.insert(m.clone()) {
            todo.extend(g.get(&m).into_iter().flatten().cloned());
        }
    }
    let server: Vec<&String> = reached
        .iter()
        .filter(|m| !shared.contains(m.as_str()))
        .collect();
    assert!(
        server.is_empty(),
        "the tunnel client reaches server code: {server:?}"
    );
}

#[test]
fn files_stay_under_500_lines_of_code() {
    let mut long = Vec::new();
    for file in rust_files(&src()) {
        let text = std::fs::read_to_string(&file).expect("read");
        // Unit tests may follow the code in the same file.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let lines = code
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .count();
        if lines > 500 {
            long.push(format!("{} ({lines})", file.display()));
        }
    }
    assert!(long.is_empty(), "split these by responsibility: {long:?}");
}

#[test]
fn the_checker_sees_grouped_and_nested_uses() {
    let found = uses("use crate::{a::B, b, c::{d, e}};\nlet x = crate::f::g();");
    let names: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(names, ["a", "b", "c", "f"]);
    assert!(!code(&src().join("lib.rs")).contains("//"));
}
