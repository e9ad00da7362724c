//! The crate's layout, checked from its sources:
//! - three sides: `core` uses neither `client` nor `server`; `client` and
//!   `server` never use each other; only `cli` (and `main.rs`) sees all;
//! - no server or database machinery leaks into `core` or `client`
//!   (axum, utoipa, askama, rusqlite, the PostgreSQL client);
//! - inside every folder whose module doc has a "Layout" list, sibling
//!   modules depend one way, down that list (so there is no cycle);
//! - no file grows past ~500 lines of code.

use std::collections::BTreeSet;
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
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The module path of a file: `src/server/web/api/bins.rs` →
/// `[server, web, api, bins]`; a `mod.rs` is its folder's module.
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
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

/// Parses a use tree after `crate::` (`a::b::{c, d::e}`), adding the full
/// paths it names to `out`; returns how many bytes it read.
fn use_tree(text: &str, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix.to_vec();
    let mut i = 0;
    loop {
        let rest = &text[i..];
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        if let Some(group) = trimmed.strip_prefix('{') {
            i += 1;
            let mut j = 0;
            loop {
                j += use_tree(&group[j..], &path, out);
                let after = group[j..].trim_start();
                j += group[j..].len() - after.len();
                match after.chars().next() {
                    Some(',') => j += 1,
                    Some('}') => return i + j + 1,
                    _ => return i + j,
                }
            }
        }
        let name = ident(trimmed);
        if name.is_empty() || name == "self" {
            break;
        }
        path.push(name.to_owned());
        i += name.len();
        match text[i..].strip_prefix("::") {
            Some(_) => i += 2,
            None => break,
        }
    }
    if path.len() > prefix.len() {
        out.push(path);
    }
    i
}

/// The crate paths a piece of code names through `crate::` (or
/// `hookwire::`, in main.rs), groups expanded.
fn uses(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for root in ["crate::", "hookwire::"] {
        for (i, _) in code.match_indices(root) {
            let before = code[..i].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            use_tree(&code[i + root.len()..], &[], &mut out);
        }
    }
    out
}

/// The modules of a folder's "Layout" list, in order (`//! - [`name`]`).
fn layout_list(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .expect("read")
        .lines()
        .filter_map(|l| l.strip_prefix("//! - [`"))
        .map(|l| ident(l).to_owned())
        .collect()
}

/// The paths `super::…` names in the code of `module`, made absolute
/// (`super::super::x` in `a::b::c` → `a::x`).
fn super_uses(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("super::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut rest = &code[i..];
        let mut up = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            rest = r;
            up += 1;
        }
        let Some(base) = module.len().checked_sub(up) else {
            continue;
        };
        use_tree(rest, &module[..base], &mut out);
    }
    out
}

/// Every (file, module path, crate paths it uses), `super::` included.
fn all_uses() -> Vec<(PathBuf, Vec<String>, Vec<Vec<String>>)> {
    rust_files(&src())
        .into_iter()
        .map(|f| {
            let m = module_path(&f);
            let code = code(&f);
            let mut u = uses(&code);
            // Not in unit tests: their `super` is the file's own module.
            let non_test = code.split("#[cfg(test)]").next().unwrap_or("");
            u.extend(super_uses(non_test, &m));
            (f, m, u)
        })
        .collect()
}

#[test]
fn core_client_and_server_are_sides() {
    // Which sides each side may use (besides itself).
    let allowed: [(&str, &[&str]); 3] =
        [("core", &[]), ("client", &["core"]), ("server", &["core"])];
    let mut crossing = Vec::new();
    for (file, module, used) in all_uses() {
        let Some(side) = module.first() else { continue };
        let Some((_, may)) = allowed.iter().find(|(s, _)| s == side) else {
            continue;
        };
        for path in used {
            let target = path[0].as_str();
            if target != side && !may.contains(&target) {
                crossing.push(format!("{} uses {}", file.display(), path.join("::")));
            }
        }
    }
    assert!(
        crossing.is_empty(),
        "core uses neither side, client and server only core: {crossing:#?}"
    );
}

#[test]
fn no_server_machinery_leaks_into_core_or_the_client() {
    let server_only = [
        "axum",
        "utoipa",
        "utoipa_axum",
        "askama",
        "rusqlite",
        "tokio_postgres",
        "deadpool_postgres",
        "tokio_postgres_rustls",
    ];
    let mut leaks = Vec::new();
    for file in rust_files(&src()) {
        let module = module_path(&file);
        if !matches!(module.first().map(String::as_str), Some("core" | "client")) {
            continue;
        }
        let code = code(&file);
        for krate in server_only {
            let named = code.match_indices(krate).any(|(i, _)| {
                let before = code[..i].chars().next_back();
                let after = &code[i + krate.len()..];
                !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                    && (after.starts_with("::") || after.starts_with(';'))
            });
            if named {
                leaks.push(format!("{} names {krate}", file.display()));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "server crates in core or client: {leaks:#?}"
    );
}

#[test]
fn modules_depend_one_way_down_each_layout_list() {
    // Every folder module (and lib.rs) with a Layout list.
    let mut folders = vec![(Vec::new(), layout_list(&src().join("lib.rs")))];
    for file in rust_files(&src()) {
        if file.file_name().is_some_and(|n| n == "mod.rs") {
            let list = layout_list(&file);
            if !list.is_empty() {
                folders.push((module_path(&file), list));
            }
        }
    }
    assert!(folders.len() >= 5, "lib.rs and the sides have Layout lists");
    let uses = all_uses();
    let mut problems = BTreeSet::new();
    for (folder, order) in &folders {
        let depth = folder.len();
        let position = |m: &str| order.iter().position(|o| o == m);
        for (file, module, used) in &uses {
            if module.len() <= depth || module[..depth] != folder[..] {
                continue;
            }
            let own = module[depth].as_str();
            if position(own).is_none() {
                problems.insert(format!(
                    "src/{}/{own} is not in the Layout list of {}: add it where it belongs",
                    folder.join("/"),
                    if depth == 0 {
                        "lib.rs".to_owned()
                    } else {
                        folder.join("/") + "/mod.rs"
                    }
                ));
                continue;
            }
            for path in used {
                if path.len() <= depth || path[..depth] != folder[..] {
                    continue;
                }
                let target = path[depth].as_str();
                if target != own && position(target) >= position(own) {
                    problems.insert(format!(
                        "{}: {own} -> {target} points up or sideways in {}'s Layout",
                        file.display(),
                        if depth == 0 {
                            "crate".to_owned()
                        } else {
                            folder.join("::")
                        }
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
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
    let found = uses("use crate::{a::B, b, c::{d, e::f}};\nlet x = crate::g::h();");
    let names: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(names, ["a::B", "b", "c::d", "c::e::f", "g::h"]);
    assert!(uses("let x = my_crate::a::b;").is_empty());
    assert!(!code(&src().join("lib.rs")).contains("//"));
    assert_eq!(
        module_path(&src().join("server/web/api/mod.rs")),
        ["server", "web", "api"]
    );
    let module: Vec<String> = ["a", "b", "c"].map(String::from).into();
    let up: Vec<String> = super_uses("use super::d::E; super::super::f::g();", &module)
        .iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(up, ["a::b::d::E", "a::f::g"]);
}
