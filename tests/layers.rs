//! The import rule of ARCHITECTURE.md, checked: top-level modules form layers, and a module
//! imports only modules of lower layers. Reads every `crate::…` path in `src/` (`use` lines
//! and inline paths, tests included; `super::` chains that climb to the crate root count
//! too) and `clawprobe::…` in `main.rs`, then fails on an import cycle between top-level
//! modules, on an import against the layer order, and on a module the order does not list.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → (file, imported top-level module) pairs.
type Imports = BTreeMap<String, BTreeSet<(String, String)>>;

/// The ```layers block of ARCHITECTURE.md: module → layer (lowest first, from 0).
fn documented_layers() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let block = text
        .split("```layers\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md has a ```layers block");
    let mut layers = BTreeMap::new();
    for (n, line) in block.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let mut words = line.split_whitespace();
        let label = words.next().unwrap();
        assert_eq!(label, n.to_string(), "layers are numbered 0, 1, …: {line}");
        for m in words {
            assert!(
                layers.insert(m.to_string(), n).is_none(),
                "{m} listed twice"
            );
        }
    }
    layers
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The text without comments (line, doc and block comments) and string and char literals
/// (raw strings included), which become `""`.
fn code(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let raw_hashes = |at: usize| -> Option<usize> {
            // r"…", r#"…"#, br#"…"#: the number of #, if a raw string starts at `at`.
            let at = if b[at] == b'b' { at + 1 } else { at };
            if b.get(at) != Some(&b'r') {
                return None;
            }
            let hashes = b[at + 1..].iter().take_while(|c| **c == b'#').count();
            (b.get(at + 1 + hashes) == Some(&b'"')).then_some(hashes)
        };
        let word_start = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if word_start && (b[i] == b'r' || b[i] == b'b') {
            if let Some(h) = raw_hashes(i) {
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', h))
                    .collect();
                let open = i + usize::from(b[i] == b'b') + 2 + h;
                let end = b[open..]
                    .windows(close.len())
                    .position(|w| w == close.as_slice())
                    .map_or(b.len(), |p| open + p + close.len());
                out.push_str("\"\"");
                i = end;
                continue;
            }
        }
        match (b[i], b.get(i + 1)) {
            (b'/', Some(b'/')) => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            (b'"', _) => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            // A char literal ('x', '\n', '\''), not a lifetime ('a).
            (b'\'', Some(b'\\')) => {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            }
            (b'\'', Some(_)) if b.get(i + 2) == Some(&b'\'') => {
                i += 3;
                out.push_str("' '");
            }
            _ => {
                out.push(b[i] as char);
                i += 1;
            }
        }
    }
    out
}

/// How many inline modules (`mod name { … }`) enclose each byte of `code`.
fn inline_depth(code: &str) -> Vec<usize> {
    let b = code.as_bytes();
    let mut depth = vec![0usize; b.len() + 1];
    let mut at = 0;
    while let Some(p) = code[at..].find("mod ") {
        let start = at + p;
        at = start + 4;
        if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
            continue;
        }
        let rest = &code[at..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let after = rest[name_len..].trim_start();
        if name_len == 0 || !after.starts_with('{') {
            continue;
        }
        let open = code.len() - after.len();
        let mut level = 0usize;
        let mut end = code.len();
        for (j, c) in code[open..].char_indices() {
            match c {
                '{' => level += 1,
                '}' => {
                    level -= 1;
                    if level == 0 {
                        end = open + j;
                        break;
                    }
                }
                _ => {}
            }
        }
        for d in &mut depth[open..end] {
            *d += 1;
        }
    }
    depth
}

/// The top-level modules named by paths in `code`, for a file whose module path is `path`
/// (`["schedule", "books"]`); `prefix` is `crate` (or `clawprobe` in the binary).
fn imported(code: &str, path: &[String], prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let starts_path = |code: &str, at: usize| {
        at == 0 || !code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    };
    let lead = format!("{prefix}::");
    for (at, _) in code.match_indices(&lead) {
        if starts_path(code, at) {
            out.insert(ident(&code[at + lead.len()..]));
        }
    }
    // `super::super::x` from a file `depth` modules deep (plus the inline modules around
    // it) reaches the root after that many steps.
    let inline = inline_depth(code);
    for (at, _) in code.match_indices("super::") {
        if !starts_path(code, at) || code[..at].ends_with("super::") {
            continue;
        }
        let mut rest = &code[at..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        if ups == path.len() + inline[at] {
            out.insert(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty() && m != "self" && m != "super" && m != "crate");
    out
}

/// Every import between top-level modules in `src/`.
fn imports() -> Imports {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut out = Imports::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let mut path: Vec<String> = rel
            .iter()
            .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        if path.last().is_some_and(|l| l == "mod") {
            path.pop();
        }
        if path == ["lib"] {
            continue;
        }
        let top = path[0].clone();
        let prefix = if top == "main" { "clawprobe" } else { "crate" };
        let text = code(&std::fs::read_to_string(&f).unwrap());
        let file = format!("src/{}", rel.display());
        for m in imported(&text, &path, prefix) {
            if m != top {
                out.entry(top.clone())
                    .or_default()
                    .insert((file.clone(), m));
            }
        }
        out.entry(top).or_default();
    }
    out
}

/// What is wrong with `imports` under `layers`: cycles, upward or sideways imports,
/// modules without a layer.
fn problems(imports: &Imports, layers: &BTreeMap<String, usize>) -> Vec<String> {
    let mut out = Vec::new();
    let graph: BTreeMap<&str, BTreeSet<&str>> = imports
        .iter()
        .map(|(m, deps)| (m.as_str(), deps.iter().map(|(_, d)| d.as_str()).collect()))
        .collect();
    // Cycles: a depth-first search that reports each back edge's loop.
    fn visit<'a>(
        m: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        out: &mut Vec<String>,
    ) {
        if let Some(i) = stack.iter().position(|s| *s == m) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(m);
            out.push(format!("import cycle: {}", cycle.join(" -> ")));
            return;
        }
        if !done.insert(m) {
            return;
        }
        stack.push(m);
        for d in graph.get(m).into_iter().flatten() {
            visit(d, graph, stack, done, out);
        }
        stack.pop();
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done, &mut out);
    }
    for (m, deps) in imports {
        let Some(&lm) = layers.get(m) else {
            out.push(format!(
                "module `{m}` has no layer: add it to the ```layers block of ARCHITECTURE.md"
            ));
            continue;
        };
        for (file, d) in deps {
            match layers.get(d) {
                Some(&ld) if ld < lm => {}
                Some(&ld) => out.push(format!(
                    "{file}: `{m}` (layer {lm}) imports `{d}` (layer {ld}); a module imports only lower layers (ARCHITECTURE.md)"
                )),
                None => out.push(format!(
                    "{file}: `{m}` imports `{d}`, which has no layer in ARCHITECTURE.md"
                )),
            }
        }
    }
    out
}

#[test]
fn imports_follow_the_documented_layers_without_cycles() {
    let layers = documented_layers();
    let imports = imports();
    assert!(imports.len() > 10, "read the modules: {imports:?}");
    assert!(
        imports["schedule"].iter().any(|(_, d)| d == "probe"),
        "the reader sees imports"
    );
    let found = problems(&imports, &layers);
    assert!(found.is_empty(), "\n{}", found.join("\n"));
}

/// The checker catches what it is for: a cycle, an upward import, an unlisted module.
#[test]
fn the_checker_fails_on_cycles_upward_imports_and_unlisted_modules() {
    let layers: BTreeMap<String, usize> = [("config", 0), ("plan", 1), ("schedule", 2)]
        .map(|(m, l)| (m.to_string(), l))
        .into();
    let edge = |file: &str, d: &str| (file.to_string(), d.to_string());
    let imports: Imports = [
        (
            "config".to_string(),
            [edge("src/config/mod.rs", "schedule")].into(),
        ),
        (
            "schedule".to_string(),
            [edge("src/schedule/a.rs", "config")].into(),
        ),
        (
            "plan".to_string(),
            [edge("src/plan/mod.rs", "extra")].into(),
        ),
        ("extra".to_string(), BTreeSet::new()),
    ]
    .into();
    let found = problems(&imports, &layers).join("\n");
    assert!(
        found.contains("import cycle: config -> schedule -> config"),
        "{found}"
    );
    assert!(
        found.contains("src/config/mod.rs: `config` (layer 0) imports `schedule` (layer 2)"),
        "{found}"
    );
    assert!(found.contains("module `extra` has no layer"), "{found}");
    assert!(
        found.contains("`plan` imports `extra`, which has no layer"),
        "{found}"
    );
    // Comments and strings are not imports; super chains to the root are, counting
    // inline modules.
    let code = code(concat!(
        "// crate::metrics\nlet s = \"crate::server\";\nlet r = r#\"crate::cmd \"{\"#;\n",
        "let c = '\"';\nuse super::super::state::Store;\nuse crate::plan::Target;\n",
        "mod tests { use super::super::super::probe::Tier; use super::super::x::Y; }\n",
    ));
    let path = ["schedule".to_string(), "books".to_string()];
    assert_eq!(
        imported(&code, &path, "crate"),
        ["plan".to_string(), "probe".to_string(), "state".to_string()].into()
    );
}
