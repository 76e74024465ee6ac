//! The layering rule of ARCHITECTURE.md, checked on the source: every `crate::`, `super::` and
//! `self::` path in `src/` is resolved to the file it names; no file may name a file of a layer
//! above its own (api -> cluster -> pipeline -> {gallery, vision -> engine} -> telemetry ->
//! config/error/manifest/tls), and the files' graph has no cycle.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Layer of a top-level module: a file may name files of its own module or of a greater rank.
fn rank(module: &str) -> Option<u32> {
    Some(match module {
        "main" | "lib" | "cli" => 0,
        "api" => 1,
        "cluster" => 2,
        "pipeline" => 3,
        "gallery" | "vision" => 4,
        "engine" => 5,
        "telemetry" => 6,
        "config" | "error" | "manifest" | "tls" => 7,
        _ => return None,
    })
}

/// The module path of a file: `src/api/face.rs` -> ["api", "face"]; `src/api/mod.rs` -> ["api"].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The file that a module path names: the longest prefix that is a file.
fn file_of(src: &Path, path: &[String]) -> Option<PathBuf> {
    (1..=path.len()).rev().find_map(|n| {
        let base = path[..n].iter().fold(src.to_path_buf(), |p, s| p.join(s));
        [base.with_extension("rs"), base.join("mod.rs")].into_iter().find(|f| f.is_file())
    })
}

/// The source without comments and string literals (which may mention paths).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Expands the use tree starting at `s` (after `crate::` etc.) into paths.
fn expand(s: &[char], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        while *i < s.len() && s[*i].is_whitespace() {
            *i += 1;
        }
        if *i < s.len() && s[*i] == '{' {
            *i += 1;
            loop {
                expand(s, i, path.clone(), out);
                while *i < s.len() && s[*i].is_whitespace() {
                    *i += 1;
                }
                match s.get(*i) {
                    Some(',') => *i += 1,
                    Some('}') => {
                        *i += 1;
                        return;
                    }
                    _ => return,
                }
                while *i < s.len() && s[*i].is_whitespace() {
                    *i += 1;
                }
                if s.get(*i) == Some(&'}') {
                    *i += 1;
                    return;
                }
            }
        }
        let start = *i;
        while *i < s.len() && (s[*i].is_alphanumeric() || s[*i] == '_') {
            *i += 1;
        }
        if *i > start {
            path.push(s[start..*i].iter().collect());
        }
        if s.get(*i) == Some(&':') && s.get(*i + 1) == Some(&':') {
            *i += 2;
            continue;
        }
        out.push(path);
        return;
    }
}

/// Every module path a file names, made absolute.
/// Unit-test modules (at the end of a file, by the house style) are left out: their `super` is
/// the file itself.
fn references(text: &str, own: &[String]) -> Vec<Vec<String>> {
    let text = text.split("#[cfg(test)]").next().unwrap_or(text);
    let code: Vec<char> = code_only(text).chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let boundary = i == 0 || !(code[i - 1].is_alphanumeric() || code[i - 1] == '_' || code[i - 1] == ':');
        let rest: String = code[i..(i + 7).min(code.len())].iter().collect();
        let base = if !boundary {
            None
        } else if rest.starts_with("crate::") {
            i += 7;
            Some(Vec::new())
        } else if rest.starts_with("super::") {
            i += 7;
            Some(own[..own.len().saturating_sub(1)].to_vec())
        } else if rest.starts_with("self::") {
            i += 6;
            Some(own.to_vec())
        } else {
            None
        };
        match base {
            Some(prefix) => expand(&code, &mut i, prefix, &mut out),
            None => i += 1,
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn graph() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph = BTreeMap::new();
    for file in files {
        let own = module_of(&src, &file);
        let text = std::fs::read_to_string(&file).unwrap();
        let mut deps = BTreeSet::new();
        for path in references(&text, &own) {
            if let Some(target) = file_of(&src, &path) {
                if target != file {
                    deps.insert(target);
                }
            }
        }
        graph.insert(file, deps);
    }
    graph
}

fn top(src: &Path, file: &Path) -> String {
    module_of(src, file).first().cloned().unwrap_or_default()
}

#[test]
fn no_module_names_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (file, deps) in graph() {
        let from = top(&src, &file);
        let Some(r) = rank(&from) else {
            wrong.push(format!("{}: module `{from}` has no layer in tests/layers.rs", file.display()));
            continue;
        };
        for dep in deps {
            let to = top(&src, &dep);
            let ok = to == from || rank(&to).is_some_and(|t| t > r || (t == r && r == 7));
            if !ok {
                wrong.push(format!("{} -> {}", file.display(), dep.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "arrows pointing up or sideways:\n{}", wrong.join("\n"));
}

#[test]
fn no_import_cycle_between_files() {
    let graph = graph();
    // Depth-first search; a back edge is a cycle.
    fn visit(
        n: &PathBuf,
        g: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        state: &mut BTreeMap<PathBuf, u8>,
        stack: &mut Vec<PathBuf>,
        cycles: &mut Vec<String>,
    ) {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for d in g.get(n).into_iter().flatten() {
            match state.get(d).copied().unwrap_or(0) {
                0 => visit(d, g, state, stack, cycles),
                1 => {
                    let at = stack.iter().position(|s| s == d).unwrap_or(0);
                    let names: Vec<String> = stack[at..].iter().map(|p| p.display().to_string()).collect();
                    cycles.push(format!("{} -> {}", names.join(" -> "), d.display()));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
    }
    let mut state = BTreeMap::new();
    let mut cycles = Vec::new();
    for n in graph.keys() {
        if state.get(n).copied().unwrap_or(0) == 0 {
            visit(n, &graph, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    assert!(cycles.is_empty(), "import cycles between files:\n{}", cycles.join("\n"));
}

#[test]
fn the_checker_sees_paths() {
    let own = vec!["api".to_string(), "face".to_string()];
    let refs = references("use crate::{error::ApiError, pipeline::{face::X, Face}};\nuse super::input;", &own);
    assert!(refs.contains(&vec!["error".into(), "ApiError".into()]), "{refs:?}");
    assert!(refs.contains(&vec!["pipeline".into(), "face".into(), "X".into()]), "{refs:?}");
    assert!(refs.contains(&vec!["pipeline".into(), "Face".into()]), "{refs:?}");
    assert!(refs.contains(&vec!["api".into(), "input".into()]), "{refs:?}");
    assert!(references("// crate::api\nlet s = \"crate::api\";", &own).is_empty());
}
