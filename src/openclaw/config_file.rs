//! The OpenClaw config file: JSON5 with `$include` and `${VAR}` substitution, read the way
//! OpenClaw reads it so clawprobe sees the same models and providers the gateway uses.
//!
//! Order: parse the file, resolve `$include`s (deep merge, siblings override included
//! content), collect the config's own env (`env.vars`, and string keys directly under `env`),
//! then substitute `${VAR}` in every string against process env, `<stateDir>/.env` and the
//! config's env (first wins).
//!
//! A missing variable is not fatal, matching the real 2026.9.6 CLI, which logs
//! `missing env var "X" at <key> - feature using this value will be unavailable`, keeps the
//! literal `${X}` and carries on. clawprobe records each one ([`MissingVar`]) so the plan
//! builder can warn and attach a finding to the routes that depend on it.

use super::env::{MergedEnv, ProcessEnv};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Deepest `$include` nesting OpenClaw accepts.
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// Largest file read, the config or an included one: OpenClaw's own cap on an included file
/// (`MAX_INCLUDE_FILE_BYTES`, 2 MiB). Real configs are a few KiB; a 100 MB JSON5 file took
/// 29 s and 3.5 GB to parse, on every reload.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// Most file reads one load may do, counting a file included twice twice. Depth and cycle
/// checks alone let 9 tiny files that each include the next one several times fan out into
/// millions of reads (61 s, 499 MB); a real install reads a handful.
pub const MAX_INCLUDE_READS: usize = 64;

/// Most bytes one load may read across the config and all its includes.
pub const MAX_TOTAL_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read OpenClaw config {path}: {message}; check OPENCLAW_CONFIG_PATH or [openclaw].config_path")]
    Read { path: PathBuf, message: String },
    #[error("invalid JSON5 in OpenClaw config {path} at line {line}, column {column}: {message}; fix the syntax there (comments and trailing commas are allowed)")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("OpenClaw config {path}: `{key}`: {message}")]
    Include {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("cannot read {path}: {message}; fix its permissions or remove it")]
    DotEnv { path: PathBuf, message: String },
    #[error("OpenClaw config {path}: {message}")]
    TooLarge { path: PathBuf, message: String },
}

/// A `${VAR}` that no env source defines; the literal `${VAR}` was kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingVar {
    /// The config file (the main one; includes are merged into it).
    pub path: PathBuf,
    /// JSON key path of the string, e.g. `models.providers.local.baseUrl`.
    pub key: String,
    pub var: String,
    /// `<stateDir>/.env`, named in the fix.
    pub dotenv: PathBuf,
}

impl std::fmt::Display for MissingVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OpenClaw config {}: `{}` references ${{{}}} but {} is not set (OpenClaw keeps the literal and disables what uses it); set it in the environment, in {}, or in the config's env.vars, or write $${{{}}} for a literal",
            self.path.display(),
            self.key,
            self.var,
            self.var,
            self.dotenv.display(),
            self.var
        )
    }
}

/// A loaded, include-resolved and substituted config.
pub struct LoadedConfig<'a> {
    pub path: PathBuf,
    pub value: Value,
    /// The config file and every included file, in read order.
    pub files: Vec<PathBuf>,
    /// `<stateDir>/.env`, when it exists.
    pub dotenv_path: Option<PathBuf>,
    pub env: MergedEnv<'a>,
    /// Every `${VAR}` left unsubstituted, in key order.
    pub missing_vars: Vec<MissingVar>,
}

impl LoadedConfig<'_> {
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// Reads `path` (JSON5), resolves includes, merges env, substitutes `${VAR}`.
pub fn load<'a>(
    path: &Path,
    state_dir: &Path,
    process: ProcessEnv<'a>,
) -> Result<LoadedConfig<'a>, ConfigFileError> {
    let mut files = Vec::new();
    let raw = read_with_includes(path, &mut files)?;
    let dotenv_file = state_dir.join(".env");
    let dotenv = super::env::read_dotenv(&dotenv_file).map_err(|e| ConfigFileError::DotEnv {
        path: dotenv_file.clone(),
        message: e.to_string(),
    })?;
    let dotenv_path = dotenv.as_ref().map(|_| dotenv_file.clone());
    let env = MergedEnv::new(process, dotenv.unwrap_or_default(), config_env_vars(&raw));
    let mut value = raw;
    let mut missing = Vec::new();
    substitute(&mut value, "", &|name| env.get(name), &mut missing);
    let missing_vars = missing
        .into_iter()
        .map(|(key, var)| MissingVar {
            path: path.to_path_buf(),
            key,
            var,
            dotenv: dotenv_file.clone(),
        })
        .collect();
    Ok(LoadedConfig {
        path: path.to_path_buf(),
        value,
        files,
        dotenv_path,
        env,
        missing_vars,
    })
}

/// Deepest `{`/`[` nesting accepted in an OpenClaw config file.
pub const MAX_NESTING: usize = 128;

/// The 1-based (line, column) where bracket nesting outside strings and comments first
/// exceeds `limit`, if it does.
fn too_deep(text: &str, limit: usize) -> Option<(usize, usize)> {
    let (mut depth, mut line, mut col) = (0usize, 1usize, 0usize);
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        col += 1;
        if c == '\n' {
            line += 1;
            col = 0;
        }
        if let Some(q) = quote {
            if c == '\\' {
                chars.next();
                col += 1;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '/' if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        line += 1;
                        col = 0;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if n == '\n' {
                        line += 1;
                        col = 0;
                    }
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
            }
            '{' | '[' => {
                depth += 1;
                if depth > limit {
                    return Some((line, col));
                }
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Parses one JSON5 text; errors carry 1-based line and column.
pub fn parse_json5(text: &str, path: &Path) -> Result<Value, ConfigFileError> {
    // The json5 parser recurses per nesting level; a hostile or corrupt file with thousands
    // of brackets would overflow the stack and abort the process (a reload must instead fail
    // and keep the last good plan). Real configs nest a handful of levels.
    if let Some((line, column)) = too_deep(text, MAX_NESTING) {
        return Err(ConfigFileError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: format!("nesting deeper than {MAX_NESTING} levels"),
        });
    }
    json5::from_str::<Value>(text).map_err(|e| {
        let (line, column) = e
            .position()
            .map(|p| (p.line + 1, p.column + 1))
            .unwrap_or((0, 0));
        let message = match e.code() {
            Some(code) => code.to_string(),
            None => e.to_string(),
        };
        ConfigFileError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    })
}

/// Reads `path` and resolves its `$include`s recursively, within [`MAX_FILE_BYTES`] a file,
/// [`MAX_INCLUDE_READS`] reads and [`MAX_TOTAL_BYTES`] in all.
pub fn read_with_includes(path: &Path, files: &mut Vec<PathBuf>) -> Result<Value, ConfigFileError> {
    let mut walk = Walk {
        stack: Vec::new(),
        files,
        reads: 0,
        bytes: 0,
    };
    walk.read_file(path, 0, None)
}

/// One load's include walk: the chain being included (cycle check), the files read, and
/// what was spent of the read and byte bounds.
struct Walk<'a> {
    stack: Vec<PathBuf>,
    files: &'a mut Vec<PathBuf>,
    reads: usize,
    bytes: u64,
}

/// Reads at most `limit` + 1 bytes of `path` (the extra byte tells "too large" apart from
/// "exactly at the limit", also for a file that grows while it is read).
/// Never blocks on a FIFO in the file's place ([`super::regular`]).
fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    super::regular::read(path, limit)
}

impl Walk<'_> {
    /// Reads one file; `via` is the including file and its `$include` key (none for the
    /// config itself), for errors.
    fn read_file(
        &mut self,
        path: &Path,
        depth: usize,
        via: Option<(&Path, &str)>,
    ) -> Result<Value, ConfigFileError> {
        let too_large = |message: String| match via {
            Some((file, key)) => ConfigFileError::Include {
                path: file.to_path_buf(),
                key: key.to_string(),
                message,
            },
            None => ConfigFileError::TooLarge {
                path: path.to_path_buf(),
                message,
            },
        };
        self.reads += 1;
        if self.reads > MAX_INCLUDE_READS {
            return Err(too_large(format!(
                "including {} would make more than {MAX_INCLUDE_READS} file reads in one load (files included many times over fan out); include each file once, from one place",
                path.display()
            )));
        }
        let bytes = read_bounded(path, MAX_FILE_BYTES).map_err(|e| ConfigFileError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let len = bytes.len() as u64;
        if len > MAX_FILE_BYTES {
            return Err(too_large(format!(
                "{} is larger than {} MiB (OpenClaw's own limit for an included file); it cannot be an OpenClaw config: check the path",
                path.display(),
                MAX_FILE_BYTES / (1024 * 1024)
            )));
        }
        self.bytes += len;
        if self.bytes > MAX_TOTAL_BYTES {
            return Err(too_large(format!(
                "reading {} takes the config and its includes past {} MiB in one load; include less",
                path.display(),
                MAX_TOTAL_BYTES / (1024 * 1024)
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| ConfigFileError::Read {
            path: path.to_path_buf(),
            message: format!("not UTF-8 text ({e})"),
        })?;
        let value = parse_json5(&text, path)?;
        drop(text);
        self.files.push(path.to_path_buf());
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.stack.push(canonical);
        let out = self.resolve_includes(value, path, "", depth);
        self.stack.pop();
        out
    }

    fn resolve_includes(
        &mut self,
        value: Value,
        file: &Path,
        key: &str,
        depth: usize,
    ) -> Result<Value, ConfigFileError> {
        match value {
            Value::Object(map) => {
                let mut base: Option<Value> = None;
                let mut rest = Map::new();
                for (k, v) in map {
                    if k == "$include" {
                        base = Some(self.load_includes(&v, file, &join_key(key, &k), depth)?);
                    } else {
                        let child = self.resolve_includes(v, file, &join_key(key, &k), depth)?;
                        rest.insert(k, child);
                    }
                }
                match base {
                    None => Ok(Value::Object(rest)),
                    Some(mut b) => {
                        if rest.is_empty() {
                            return Ok(b);
                        }
                        if !b.is_object() {
                            return Err(ConfigFileError::Include {
                                path: file.to_path_buf(),
                                key: join_key(key, "$include"),
                                message: "the included file is not an object, so sibling keys cannot be merged into it; remove the sibling keys or include an object".into(),
                            });
                        }
                        deep_merge(&mut b, Value::Object(rest));
                        Ok(b)
                    }
                }
            }
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| self.resolve_includes(v, file, &format!("{key}[{i}]"), depth))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other),
        }
    }

    fn load_includes(
        &mut self,
        spec: &Value,
        file: &Path,
        key: &str,
        depth: usize,
    ) -> Result<Value, ConfigFileError> {
        let bad = |message: String| ConfigFileError::Include {
            path: file.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let paths: Vec<&str> = match spec {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| bad("every entry must be a path string".into()))
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(bad("must be a path string or a list of path strings".into())),
        };
        if depth + 1 > MAX_INCLUDE_DEPTH {
            return Err(bad(format!(
                "includes are nested deeper than {MAX_INCLUDE_DEPTH} levels; flatten the include chain"
            )));
        }
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut merged: Option<Value> = None;
        for p in paths {
            let target = dir.join(p);
            match std::fs::metadata(&target) {
                Ok(m) if m.is_file() => {}
                Ok(m) => {
                    return Err(bad(format!(
                        "included file {} is {}, not a regular file; point the include at the JSON5 file",
                        target.display(),
                        if m.is_dir() {
                            "a directory"
                        } else {
                            "a FIFO, socket or device"
                        }
                    )))
                }
                Err(_) => {
                    return Err(bad(format!(
                        "included file {} does not exist (paths are relative to {}); fix the path or create the file",
                        target.display(),
                        file.display()
                    )))
                }
            }
            let canonical = std::fs::canonicalize(&target).unwrap_or_else(|_| target.clone());
            if self.stack.contains(&canonical) {
                return Err(bad(format!(
                    "include cycle: {} is already being included; remove one of the `$include`s",
                    target.display()
                )));
            }
            let v = self.read_file(&target, depth + 1, Some((file, key)))?;
            match &mut merged {
                None => merged = Some(v),
                Some(m) => deep_merge(m, v),
            }
        }
        Ok(merged.unwrap_or(Value::Object(Map::new())))
    }
}

/// Merges `over` into `base`: objects key by key (recursively), anything else replaced.
pub fn deep_merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The config's own env: `env.vars.*` and string values directly under `env` (both forms
/// exist in OpenClaw configs). Values are taken raw (before substitution).
pub fn config_env_vars(config: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(env) = config.get("env").and_then(Value::as_object) else {
        return out;
    };
    if let Some(vars) = env.get("vars").and_then(Value::as_object) {
        for (k, v) in vars {
            if let Some(s) = v.as_str() {
                out.insert(k.clone(), s.to_string());
            }
        }
    }
    for (k, v) in env {
        if k == "vars" || k == "shellEnv" {
            continue;
        }
        if let Some(s) = v.as_str() {
            out.entry(k.clone()).or_insert_with(|| s.to_string());
        }
    }
    out
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Substitutes `${VAR}` in one string. `$${VAR}` yields a literal `${VAR}`; `${lower}` and
/// other non-matching forms are left as written. Unset variables stay as the literal
/// `${VAR}` and are returned by name.
pub fn substitute_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (String, Vec<String>) {
    let mut out = String::with_capacity(s.len());
    let mut missing = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            if let Some(end) = after.find('}') {
                if is_var_name(&after[..end]) {
                    out.push_str("${");
                    out.push_str(&after[..end]);
                    out.push('}');
                    rest = &after[end + 1..];
                    continue;
                }
            }
        } else if let Some(after) = tail.strip_prefix("${") {
            if let Some(end) = after.find('}') {
                let name = &after[..end];
                if is_var_name(name) {
                    match lookup(name) {
                        Some(v) => out.push_str(&v),
                        None => {
                            out.push_str(&tail[..end + 3]);
                            missing.push(name.to_string());
                        }
                    }
                    rest = &after[end + 1..];
                    continue;
                }
            }
        }
        out.push('$');
        rest = &tail[1..];
    }
    out.push_str(rest);
    (out, missing)
}

fn substitute(
    value: &mut Value,
    key: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    missing: &mut Vec<(String, String)>,
) {
    match value {
        Value::String(s) if s.contains('$') => {
            let (new, vars) = substitute_str(s, lookup);
            *s = new;
            missing.extend(vars.into_iter().map(|v| (key.to_string(), v)));
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                substitute(v, &format!("{key}[{i}]"), lookup, missing);
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                substitute(v, &join_key(key, k), lookup, missing);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn deep_nesting_is_a_syntax_error_not_a_crash() {
        let text = format!("{{a: {}{}}}", "[".repeat(50_000), "]".repeat(50_000));
        let err = parse_json5(&text, Path::new("/x/openclaw.json")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/x/openclaw.json") && msg.contains("nesting"),
            "{msg}"
        );
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let deep = "[".repeat(500);
        let text = format!("// {deep}\n/* {deep} */ {{a: \"{deep}\", b: '{deep}', c: [[1]]}}");
        let v = parse_json5(&text, Path::new("x.json")).unwrap();
        assert_eq!(v["c"][0][0], 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn json5_comments_trailing_commas_and_big_ints() {
        let v = parse_json5(
            "{ // c\n a: 1, /* b */ 'b': [1,2,], big: 1767225600123456789, }",
            Path::new("x"),
        )
        .unwrap();
        assert_eq!(v["a"], json!(1));
        assert_eq!(v["b"], json!([1, 2]));
        assert_eq!(v["big"].as_i64(), Some(1767225600123456789));
    }

    #[test]
    fn syntax_error_names_file_line_column() {
        let err = parse_json5("{\n  a: 1,\n  b: ,\n}", Path::new("/x/openclaw.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/x/openclaw.json"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("column"), "{err}");
    }

    #[test]
    fn includes_merge_with_siblings_overriding() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "sub/models.json5",
            "{ models: { providers: { a: { baseUrl: 'http://inc', api: 'ollama' } } }, x: 1 }",
        );
        write(d.path(), "sub/more.json5", "{ y: 2, x: 3 }");
        let main = write(
            d.path(),
            "openclaw.json",
            "{ $include: ['sub/models.json5', 'sub/more.json5'], x: 9, models: { providers: { a: { baseUrl: 'http://main' } } } }",
        );
        let mut files = vec![];
        let v = read_with_includes(&main, &mut files).unwrap();
        assert_eq!(v["x"], json!(9));
        assert_eq!(v["y"], json!(2));
        assert_eq!(
            v["models"]["providers"]["a"]["baseUrl"],
            json!("http://main")
        );
        assert_eq!(v["models"]["providers"]["a"]["api"], json!("ollama"));
        assert_eq!(files.len(), 3);
    }

    #[test]
    fn nested_include_is_relative_to_including_file() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a/b/leaf.json5", "{ leaf: true }");
        write(
            d.path(),
            "a/mid.json5",
            "{ $include: 'b/leaf.json5', mid: true }",
        );
        let main = write(
            d.path(),
            "openclaw.json",
            "{ agents: { $include: './a/mid.json5' } }",
        );
        let v = read_with_includes(&main, &mut vec![]).unwrap();
        assert_eq!(v["agents"], json!({"leaf": true, "mid": true}));
    }

    #[test]
    fn missing_include_names_including_file() {
        let d = tempfile::tempdir().unwrap();
        let main = write(d.path(), "openclaw.json", "{ $include: 'nope.json5' }");
        let err = read_with_includes(&main, &mut vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("openclaw.json"), "{err}");
        assert!(err.contains("nope.json5"), "{err}");
        assert!(err.contains("$include"), "{err}");
    }

    #[test]
    fn include_cycle_is_detected() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.json5", "{ $include: 'b.json5' }");
        write(d.path(), "b.json5", "{ $include: 'a.json5' }");
        let main = write(d.path(), "openclaw.json", "{ $include: 'a.json5' }");
        let err = read_with_includes(&main, &mut vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("cycle"), "{err}");
    }

    #[test]
    fn include_depth_limit() {
        let d = tempfile::tempdir().unwrap();
        // openclaw.json -> f1 -> ... -> fN
        let chain = |n: usize| {
            for i in 1..=n {
                let body = if i == n {
                    "{ deep: true }".to_string()
                } else {
                    format!("{{ $include: 'f{}.json5' }}", i + 1)
                };
                write(d.path(), &format!("f{i}.json5"), &body);
            }
            write(d.path(), "openclaw.json", "{ $include: 'f1.json5' }")
        };
        let ok = chain(MAX_INCLUDE_DEPTH);
        assert_eq!(
            read_with_includes(&ok, &mut vec![]).unwrap()["deep"],
            json!(true)
        );
        let too_deep = chain(MAX_INCLUDE_DEPTH + 1);
        let err = read_with_includes(&too_deep, &mut vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("deeper than 10"), "{err}");
    }

    #[test]
    fn a_huge_file_is_refused_before_parsing_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let big = format!("{{ a: \"{}\" }}", "x".repeat(MAX_FILE_BYTES as usize));
        let main = write(d.path(), "openclaw.json", &big);
        let started = std::time::Instant::now();
        let err = read_with_includes(&main, &mut vec![])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("openclaw.json") && err.contains("2 MiB"),
            "{err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // The same file included: the error names the including file and its key.
        write(d.path(), "big.json5", &big);
        let main = write(
            d.path(),
            "openclaw.json",
            "{ models: { $include: 'big.json5' } }",
        );
        let err = read_with_includes(&main, &mut vec![])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("openclaw.json")
                && err.contains("models.$include")
                && err.contains("big.json5"),
            "{err}"
        );
        // Exactly at the limit is fine.
        let at = format!("{{ a: \"{}\" }}", "x".repeat(MAX_FILE_BYTES as usize - 9));
        assert_eq!(at.len() as u64, MAX_FILE_BYTES);
        let main = write(d.path(), "openclaw.json", &at);
        assert!(read_with_includes(&main, &mut vec![]).is_ok());
    }

    /// 9 tiny files, each including the next one 8 times: 8^8 reads without a bound.
    #[test]
    fn include_fan_out_is_bounded_with_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..9 {
            let body = if i == 8 {
                "{ leaf: 1 }".to_string()
            } else {
                let next = format!("'f{}.json5'", i + 1);
                format!("{{ $include: [{}] }}", vec![next; 8].join(", "))
            };
            write(d.path(), &format!("f{i}.json5"), &body);
        }
        let main = write(
            d.path(),
            "openclaw.json",
            "{ agents: { $include: 'f0.json5' } }",
        );
        let started = std::time::Instant::now();
        let err = read_with_includes(&main, &mut vec![])
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(err.contains("more than 64 file reads"), "{err}");
        assert!(err.contains("$include") && err.contains(".json5"), "{err}");
        // A file included a few times from different places is still fine.
        write(d.path(), "shared.json5", "{ s: 1 }");
        let main = write(
            d.path(),
            "openclaw.json",
            "{ a: { $include: 'shared.json5' }, b: { $include: 'shared.json5' } }",
        );
        let mut files = vec![];
        let v = read_with_includes(&main, &mut files).unwrap();
        assert_eq!(
            (v["a"]["s"].as_i64(), v["b"]["s"].as_i64()),
            (Some(1), Some(1))
        );
        assert_eq!(files.len(), 3);
    }

    #[test]
    fn total_bytes_across_includes_are_bounded() {
        let d = tempfile::tempdir().unwrap();
        let chunk = format!("{{ x: \"{}\" }}", "y".repeat(1024 * 1024 + 512 * 1024));
        let mut names = Vec::new();
        for i in 0..6 {
            write(d.path(), &format!("part{i}.json5"), &chunk);
            names.push(format!("'part{i}.json5'"));
        }
        let main = write(
            d.path(),
            "openclaw.json",
            &format!("{{ $include: [{}] }}", names.join(", ")),
        );
        let err = read_with_includes(&main, &mut vec![])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("past 8 MiB") && err.contains("part5.json5"),
            "{err}"
        );
    }

    #[test]
    fn substitution_and_escape() {
        let look = |k: &str| match k {
            "A_1" => Some("x".to_string()),
            _ => None,
        };
        let ok = |s: &str| {
            let (out, missing) = substitute_str(s, &look);
            assert!(missing.is_empty(), "{s}: {missing:?}");
            out
        };
        assert_eq!(ok("pre-${A_1}-post"), "pre-x-post");
        assert_eq!(ok("$${A_1} and ${A_1}"), "${A_1} and x");
        assert_eq!(ok("${lower} $5 $"), "${lower} $5 $");
        assert_eq!(
            substitute_str("a ${MISSING} ${A_1} ${ALSO_NOT}", &look),
            (
                "a ${MISSING} x ${ALSO_NOT}".to_string(),
                vec!["MISSING".to_string(), "ALSO_NOT".to_string()]
            )
        );
    }

    #[test]
    fn load_uses_env_sources_in_order_and_records_missing_vars() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), ".env", "FROM_DOT=dot\nBOTH=dot\n");
        let cfg = write(
            d.path(),
            "openclaw.json",
            "{ env: { vars: { FROM_CFG: 'cfg', BOTH: 'cfg' } }, a: '${FROM_DOT}', b: '${FROM_CFG}', c: '${BOTH}', d: '${PROC}' }",
        );
        let process = |k: &str| (k == "PROC").then(|| "proc".to_string());
        let loaded = load(&cfg, d.path(), &process).unwrap();
        assert_eq!(loaded.value["a"], json!("dot"));
        assert_eq!(loaded.value["b"], json!("cfg"));
        assert_eq!(loaded.value["c"], json!("dot"));
        assert_eq!(loaded.value["d"], json!("proc"));
        assert_eq!(loaded.dotenv_path, Some(d.path().join(".env")));

        let bad = write(
            d.path(),
            "bad.json",
            "{ models: { providers: { x: { headers: ['ok', '${NOPE_VAR}'] } } } }",
        );
        let loaded = load(&bad, d.path(), &no_env).unwrap();
        // Kept literally, as OpenClaw 2026.9.6 does, and recorded with its key path.
        assert_eq!(
            loaded.value["models"]["providers"]["x"]["headers"][1],
            json!("${NOPE_VAR}")
        );
        assert_eq!(loaded.missing_vars.len(), 1);
        let m = &loaded.missing_vars[0];
        assert_eq!(
            (m.key.as_str(), m.var.as_str()),
            ("models.providers.x.headers[1]", "NOPE_VAR")
        );
        let text = m.to_string();
        assert!(text.contains("bad.json"), "{text}");
        assert!(text.contains("models.providers.x.headers[1]"), "{text}");
        assert!(text.contains("NOPE_VAR") && text.contains(".env"), "{text}");
    }
}
