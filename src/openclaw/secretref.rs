//! SecretRefs (`{source: env|file|exec, provider, id}`). `exec` refs are never executed.
//! OWNER: auth helper.
//!
//! OpenClaw lets any secret field (a provider `apiKey`, a profile's `keyRef`/`tokenRef`)
//! point at a secret instead of holding it. clawprobe resolves the two kinds it can read
//! without side effects:
//!
//! - `env`: the variable `id` in the merged env (also the `${VAR}` / `$VAR` shorthand strings
//!   OpenClaw accepts for env refs).
//! - `file`: OpenClaw's file provider. With `secrets.providers.<provider>` known (see
//!   [`resolve_ref_with_providers`]) its `path` is read: `mode: "json"` (the default) takes
//!   the JSON pointer `id` from it, `mode: "singleValue"` takes the whole trimmed file. Without
//!   the provider config, `id` is read as a plain file path (relative to the config dir), or,
//!   when it looks like `<file>#/json/pointer`, the pointer inside that JSON file.
//! - `exec`: would run a command. A monitor must not run arbitrary commands from a config it
//!   only reads, so these are reported as unresolvable (`exec_secret_ref`), never executed.
//!
//! No message produced here ever contains a secret value: only the ref (`env:NAME`,
//! `file:provider:/pointer`) and paths.

use crate::secret::Secret;
use std::path::{Path, PathBuf};

/// Looks up an environment variable in the merged env (process env, `<stateDir>/.env`,
/// config `env.vars`, first wins).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The result of resolving a secret reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretValue {
    Value(Secret),
    /// The ref points at something absent (unset env var, missing file). No secret in it.
    Missing {
        message: String,
    },
    /// The ref cannot be resolved by clawprobe (`exec`: never executed). No secret in it.
    Unresolvable {
        reason: String,
        message: String,
    },
}

/// A parsed SecretRef. Holds no secret, so `Debug` is safe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRef {
    /// `env`, `file`, `exec` (or `store`, which clawprobe cannot read either).
    pub source: String,
    pub provider: Option<String>,
    pub id: String,
}

impl SecretRef {
    /// Parses a SecretRef object, or the `${VAR}` / `$VAR` env shorthand strings.
    /// `None` when `value` is not a SecretRef.
    pub fn parse(value: &serde_json::Value) -> Option<SecretRef> {
        match value {
            serde_json::Value::Object(map) => {
                let source = map.get("source")?.as_str()?.trim();
                if !matches!(source, "env" | "file" | "exec" | "store") {
                    return None;
                }
                let id = map.get("id")?.as_str()?.trim();
                if id.is_empty() {
                    return None;
                }
                let provider = map
                    .get("provider")
                    .and_then(|p| p.as_str())
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty());
                Some(SecretRef {
                    source: source.to_string(),
                    provider,
                    id: id.to_string(),
                })
            }
            serde_json::Value::String(s) => {
                let name = env_template_name(s)?;
                Some(SecretRef {
                    source: "env".into(),
                    provider: None,
                    id: name.to_string(),
                })
            }
            _ => None,
        }
    }

    /// `source:provider:id` (OpenClaw's own label format), safe to show.
    pub fn label(&self) -> String {
        format!(
            "{}:{}:{}",
            self.source,
            self.provider.as_deref().unwrap_or("default"),
            self.id
        )
    }
}

/// `${NAME}` or `$NAME` with an uppercase env var name (OpenClaw's env shorthand).
pub fn env_template_name(s: &str) -> Option<&str> {
    let t = s.trim();
    let name = if let Some(inner) = t.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        inner
    } else {
        t.strip_prefix('$')?
    };
    is_env_var_name(name).then_some(name)
}

/// Uppercase env var name as OpenClaw accepts it: `[A-Z][A-Z0-9_]{0,127}`.
pub fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('A'..='Z'))
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Resolves `value` if it is a SecretRef object; `None` when it is not one.
/// `config_dir` anchors relative file paths.
pub fn resolve_ref(
    value: &serde_json::Value,
    env: EnvLookup<'_>,
    config_dir: &Path,
) -> Option<SecretValue> {
    resolve_ref_with_providers(value, env, config_dir, None)
}

/// Like [`resolve_ref`], with the OpenClaw config's `secrets.providers` object, which names
/// the file behind a `file` ref's `provider` alias.
pub fn resolve_ref_with_providers(
    value: &serde_json::Value,
    env: EnvLookup<'_>,
    config_dir: &Path,
    secret_providers: Option<&serde_json::Value>,
) -> Option<SecretValue> {
    let r = SecretRef::parse(value)?;
    Some(resolve_parsed(&r, env, config_dir, secret_providers))
}

/// Resolves an already parsed ref.
pub fn resolve_parsed(
    r: &SecretRef,
    env: EnvLookup<'_>,
    config_dir: &Path,
    secret_providers: Option<&serde_json::Value>,
) -> SecretValue {
    match r.source.as_str() {
        "env" => match env(&r.id).filter(|v| !v.trim().is_empty()) {
            Some(v) => SecretValue::Value(Secret::new(v.trim())),
            None => SecretValue::Missing {
                message: format!(
                    "SecretRef {} points at environment variable {} which is not set; set it in the environment, <stateDir>/.env or config env.vars",
                    r.label(),
                    r.id
                ),
            },
        },
        "file" => resolve_file(r, config_dir, secret_providers),
        "exec" => SecretValue::Unresolvable {
            reason: "exec_secret_ref".into(),
            message: format!(
                "SecretRef {} runs a command; clawprobe never executes exec SecretRefs, so this credential cannot be probed (use an env or file SecretRef to monitor it)",
                r.label()
            ),
        },
        other => SecretValue::Unresolvable {
            reason: format!("{other}_secret_ref"),
            message: format!(
                "SecretRef {} uses source \"{other}\", which clawprobe cannot read",
                r.label()
            ),
        },
    }
}

fn expand_path(p: &str, config_dir: &Path) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/") {
        if let Some(home) = dirs::home_dir() {
            return home.join(rest);
        }
    }
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        config_dir.join(path)
    }
}

fn resolve_file(
    r: &SecretRef,
    config_dir: &Path,
    secret_providers: Option<&serde_json::Value>,
) -> SecretValue {
    let provider_cfg = secret_providers
        .and_then(|p| p.get(r.provider.as_deref().unwrap_or("default")))
        .filter(|c| c.get("source").and_then(|s| s.as_str()) == Some("file"));
    if let Some(cfg) = provider_cfg {
        let Some(path) = cfg.get("path").and_then(|p| p.as_str()) else {
            return SecretValue::Missing {
                message: format!(
                    "SecretRef {}: secrets.providers.{} has no path",
                    r.label(),
                    r.provider.as_deref().unwrap_or("default")
                ),
            };
        };
        let path = expand_path(path, config_dir);
        let single = cfg.get("mode").and_then(|m| m.as_str()) == Some("singleValue");
        return if single {
            read_whole(r, &path)
        } else {
            read_pointer(r, &path, &r.id)
        };
    }
    // No provider config: a plain path, or `<file>#/pointer`.
    if let Some((file, pointer)) = r.id.split_once("#/") {
        let path = expand_path(file, config_dir);
        return read_pointer(r, &path, &format!("/{pointer}"));
    }
    let path = expand_path(&r.id, config_dir);
    if path.is_file() {
        return read_whole(r, &path);
    }
    SecretValue::Missing {
        message: format!(
            "SecretRef {} points at file {} which does not exist (or is a JSON pointer into a secrets provider file that clawprobe was not given)",
            r.label(),
            path.display()
        ),
    }
}

/// The largest secret file read (a key, or a small JSON secrets file).
const MAX_SECRET_FILE_BYTES: u64 = 1 << 20;

fn read_whole(r: &SecretRef, path: &Path) -> SecretValue {
    match super::regular::read_to_string(path, MAX_SECRET_FILE_BYTES) {
        Ok(s) if s.len() as u64 > MAX_SECRET_FILE_BYTES => SecretValue::Missing {
            message: format!(
                "SecretRef {}: file {} is larger than 1 MiB: it cannot hold one secret",
                r.label(),
                path.display()
            ),
        },
        Ok(s) if !s.trim().is_empty() => SecretValue::Value(Secret::new(s.trim())),
        Ok(_) => SecretValue::Missing {
            message: format!("SecretRef {}: file {} is empty", r.label(), path.display()),
        },
        Err(e) => SecretValue::Missing {
            message: format!(
                "SecretRef {}: cannot read file {}: {}",
                r.label(),
                path.display(),
                e
            ),
        },
    }
}

fn read_pointer(r: &SecretRef, path: &Path, pointer: &str) -> SecretValue {
    let text = match super::regular::read_to_string(path, MAX_SECRET_FILE_BYTES) {
        Ok(t) if t.len() as u64 > MAX_SECRET_FILE_BYTES => {
            return SecretValue::Missing {
                message: format!(
                    "SecretRef {}: secrets file {} is larger than 1 MiB",
                    r.label(),
                    path.display()
                ),
            }
        }
        Ok(t) => t,
        Err(e) => {
            return SecretValue::Missing {
                message: format!(
                    "SecretRef {}: cannot read secrets file {}: {}",
                    r.label(),
                    path.display(),
                    e
                ),
            }
        }
    };
    // Never echo the parse error: serde's messages can quote file content.
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        return SecretValue::Missing {
            message: format!(
                "SecretRef {}: secrets file {} is not valid JSON",
                r.label(),
                path.display()
            ),
        };
    };
    let pointer = if pointer == "value" { "" } else { pointer };
    match doc.pointer(pointer) {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
            SecretValue::Value(Secret::new(s.trim()))
        }
        _ => SecretValue::Missing {
            message: format!(
                "SecretRef {}: no non-empty string at JSON pointer {} in {}",
                r.label(),
                pointer,
                path.display()
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env_with(k: &'static str, v: &'static str) -> impl Fn(&str) -> Option<String> {
        move |name: &str| (name == k).then(|| v.to_string())
    }

    #[test]
    fn not_a_ref_is_none() {
        let env = env_with("A", "b");
        assert!(resolve_ref(&json!("sk-literal"), &env, Path::new("/")).is_none());
        assert!(
            resolve_ref(&json!({"source": "vault", "id": "x"}), &env, Path::new("/")).is_none()
        );
        assert!(resolve_ref(&json!(42), &env, Path::new("/")).is_none());
    }

    #[test]
    fn env_ref_and_shorthand() {
        let env = env_with("MY_KEY", "sk-canary-REF-1234");
        let v = resolve_ref(
            &json!({"source":"env","provider":"default","id":"MY_KEY"}),
            &env,
            Path::new("/"),
        );
        assert_eq!(
            v,
            Some(SecretValue::Value(Secret::new("sk-canary-REF-1234")))
        );
        let v = resolve_ref(&json!("${MY_KEY}"), &env, Path::new("/"));
        assert_eq!(
            v,
            Some(SecretValue::Value(Secret::new("sk-canary-REF-1234")))
        );
        match resolve_ref(
            &json!({"source":"env","id":"UNSET_KEY"}),
            &env,
            Path::new("/"),
        ) {
            Some(SecretValue::Missing { message }) => {
                assert!(message.contains("UNSET_KEY"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exec_is_never_run() {
        let env = env_with("A", "b");
        let marker = std::env::temp_dir().join(format!("clawprobe-exec-{}", std::process::id()));
        let cmd = format!("/usr/bin/touch {}", marker.display());
        match resolve_ref(
            &json!({"source":"exec","provider":"vault","id":cmd}),
            &env,
            Path::new("/"),
        ) {
            Some(SecretValue::Unresolvable { reason, .. }) => assert_eq!(reason, "exec_secret_ref"),
            other => panic!("{other:?}"),
        }
        assert!(!marker.exists());
    }

    #[test]
    fn file_refs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.txt"), "sk-canary-FILE-77\n").unwrap();
        std::fs::write(
            dir.path().join("secrets.json"),
            r#"{"providers":{"openai":{"apiKey":"sk-canary-JSON-88"}}}"#,
        )
        .unwrap();
        let env = env_with("A", "b");
        let v = resolve_ref(&json!({"source":"file","id":"key.txt"}), &env, dir.path());
        assert_eq!(
            v,
            Some(SecretValue::Value(Secret::new("sk-canary-FILE-77")))
        );
        let v = resolve_ref(
            &json!({"source":"file","id":"secrets.json#/providers/openai/apiKey"}),
            &env,
            dir.path(),
        );
        assert_eq!(
            v,
            Some(SecretValue::Value(Secret::new("sk-canary-JSON-88")))
        );
        let providers = json!({"filemain": {"source":"file","path":"secrets.json","mode":"json"}});
        let v = resolve_ref_with_providers(
            &json!({"source":"file","provider":"filemain","id":"/providers/openai/apiKey"}),
            &env,
            dir.path(),
            Some(&providers),
        );
        assert_eq!(
            v,
            Some(SecretValue::Value(Secret::new("sk-canary-JSON-88")))
        );
        match resolve_ref(&json!({"source":"file","id":"nope.txt"}), &env, dir.path()) {
            Some(SecretValue::Missing { message }) => {
                assert!(message.contains("nope.txt"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // Broken JSON: the message must not quote the file's content.
        std::fs::write(dir.path().join("bad.json"), "{\"k\": \"sk-canary-BAD-99\"").unwrap();
        match resolve_ref(
            &json!({"source":"file","id":"bad.json#/k"}),
            &env,
            dir.path(),
        ) {
            Some(SecretValue::Missing { message }) => {
                assert!(!message.contains("canary"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
