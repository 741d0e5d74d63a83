//! Issue 17: the Layout in `src/lib.rs` is the crate's import rule. It lists the modules top
//! down; a module uses only modules listed below it (so the graph has no cycles, and nothing
//! imports upwards). Checked on every `crate::` path in the code (comments and unit tests
//! aside), as the architecture review's Appendix A does with grep.

use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The Layout's modules, top down: `cli`, `commands`, …, `actors::coordinator`, ….
fn layout() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| {
            let rest = l
                .strip_prefix("//! - [`")
                .or_else(|| l.strip_prefix("//!   - [`"))?;
            Some(rest.split('`').next()?.to_string())
        })
        .collect()
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The Layout entry a path names: the longest listed prefix (`actors::socket::Socket` →
/// `actors::socket`; `actors::mod` → `actors`).
fn entry_of(path: &[&str], layout: &[String]) -> Option<String> {
    (1..=path.len().min(2))
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|p| layout.contains(p))
}

/// The module a file belongs to, as a Layout entry.
fn module_of(file: &Path, layout: &[String]) -> Option<String> {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
    entry_of(&parts, layout)
}

/// The code of a file: no comment lines, no `#[cfg(test)] mod tests` block (it ends the file
/// here, by the project's style).
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `crate::a::b` paths in `code`, as segments.
fn crate_paths(code: &str) -> Vec<Vec<&str>> {
    code.match_indices("crate::")
        .filter(|(i, _)| {
            // `tickvault_crate::` or `$crate::` are not ours.
            !code[..*i]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
        })
        .map(|(i, m)| {
            let rest = &code[i + m.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            rest[..end].split("::").filter(|s| !s.is_empty()).collect()
        })
        .collect()
}

#[test]
fn every_module_is_in_the_layout() {
    let layout = layout();
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let mut missing: Vec<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .filter(|m| !layout.contains(m))
        .collect();
    for folder in ["actors", "service"] {
        for entry in std::fs::read_dir(src().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_string();
            let module = format!("{folder}::{name}");
            if name != "mod" && !layout.contains(&module) {
                missing.push(module);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in src/lib.rs's Layout: {missing:?}"
    );
}

#[test]
fn every_import_points_down_the_layout() {
    let layout = layout();
    assert!(
        layout.len() > 30,
        "the Layout lists the modules: {layout:?}"
    );
    let rank = |m: &str| layout.iter().position(|l| l == m).unwrap();
    let mut sources = Vec::new();
    files(&src(), &mut sources);
    let mut upward = Vec::new();
    for file in sources {
        let name = file.file_name().unwrap().to_str().unwrap();
        if name == "lib.rs" || name == "main.rs" || name == "tests.rs" {
            continue;
        }
        let from = module_of(&file, &layout)
            .unwrap_or_else(|| panic!("{} is in no Layout module", file.display()));
        let text = std::fs::read_to_string(&file).unwrap();
        for path in crate_paths(&code(&text)) {
            let Some(to) = entry_of(&path, &layout) else {
                continue; // a macro or item at the crate root
            };
            if to != from && rank(&to) < rank(&from) {
                upward.push(format!(
                    "{} ({from}) uses crate::{} ({to}, listed above it)",
                    file.strip_prefix(src()).unwrap().display(),
                    path.join("::")
                ));
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "imports that point up the Layout:\n{}",
        upward.join("\n")
    );
}
