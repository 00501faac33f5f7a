//! SecretRefs (`{source: env|file|exec, provider, id}`). `exec` refs are never executed.
//! OWNER: auth helper.

use crate::secret::Secret;
use std::path::Path;

/// Looks up an environment variable in the merged env (process env, `<stateDir>/.env`,
/// config `env.vars`, first wins).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The result of resolving a secret reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretValue {
    Value(Secret),
    /// The ref points at something absent (unset env var, missing file). No secret in it.
    Missing { message: String },
    /// The ref cannot be resolved by clawprobe (`exec`: never executed). No secret in it.
    Unresolvable { reason: String, message: String },
}

/// Resolves `value` if it is a SecretRef object; `None` when it is not one.
/// `config_dir` anchors relative file paths.
pub fn resolve_ref(
    value: &serde_json::Value,
    env: EnvLookup<'_>,
    config_dir: &Path,
) -> Option<SecretValue> {
    let _ = (value, env, config_dir);
    None
}
