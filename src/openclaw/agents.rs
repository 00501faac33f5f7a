//! Agents and their model chains, as `openclaw models status --agent <id> --json` of the
//! release that wrote the install reports them.
//!
//! Agents come from `agents.entries.<id>` (2026.9) or `agents.list[]` (older releases);
//! with neither there is one agent, `main`. With no primary anywhere, OpenClaw's built-in
//! default model applies ([`BUILTIN_DEFAULT_MODEL`]). Chain rules per agent: no `model` → the
//! defaults (`agents.defaults.model`: a string is a primary without fallbacks, an object is
//! primary + fallbacks); an object with its own `fallbacks` → those (an empty list disables
//! them). A plain string, or an object without `fallbacks`, depends on the release
//! ([`Rules`]): 2026.3 and 2026.4 give it the defaults' fallbacks, 2026.5 on none.

use super::era::Rules;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The default agent id.
pub const MAIN: &str = "main";

/// The model OpenClaw uses when neither the agent nor `agents.defaults.model` names a primary.
/// Observed with the real 2026.9.6 CLI on an empty config (`{}`): `openai/gpt-6-astra`, no
/// fallbacks. Release-specific: update it with the supported OpenClaw release.
pub const BUILTIN_DEFAULT_MODEL: &str = "openai/gpt-6-astra";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentSpec {
    pub id: String,
    pub primary: Option<String>,
    pub fallbacks: Vec<String>,
    pub agent_dir: PathBuf,
}

impl AgentSpec {
    /// Primary first, then fallbacks.
    pub fn chain(&self) -> Vec<String> {
        self.primary
            .iter()
            .cloned()
            .chain(self.fallbacks.iter().cloned())
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("OpenClaw config {path}: `{key}`: {message}")]
pub struct AgentsError {
    pub path: PathBuf,
    pub key: String,
    pub message: String,
}

fn model_parts(v: &Value) -> (Option<String>, Option<Vec<String>>) {
    match v {
        Value::String(s) => (Some(s.clone()).filter(|s| !s.trim().is_empty()), None),
        Value::Object(o) => (
            o.get("primary")
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|s| !s.trim().is_empty()),
            o.get("fallbacks").and_then(Value::as_array).map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            }),
        ),
        _ => (None, None),
    }
}

/// Primary and fallbacks for an agent `model` value, given the defaults' model value and
/// the rules of the release that wrote the install.
pub fn chain_for(
    agent_model: Option<&Value>,
    defaults_model: Option<&Value>,
    rules: &Rules,
) -> (Option<String>, Vec<String>) {
    let (def_primary, def_fallbacks) = defaults_model.map(model_parts).unwrap_or((None, None));
    let def_fallbacks = def_fallbacks.unwrap_or_default();
    let inherited = |yes: bool| {
        if yes {
            def_fallbacks.clone()
        } else {
            Vec::new()
        }
    };
    match agent_model.filter(|v| !v.is_null()) {
        None => (def_primary, def_fallbacks),
        Some(Value::String(s)) if !s.trim().is_empty() => (
            Some(s.clone()),
            inherited(rules.string_model_inherits_fallbacks),
        ),
        Some(Value::String(_)) => (def_primary, def_fallbacks),
        Some(v) => match model_parts(v) {
            (None, None) => (def_primary, def_fallbacks),
            (primary, Some(fallbacks)) => (primary.or(def_primary), fallbacks),
            (Some(primary), None) => (
                Some(primary),
                inherited(rules.object_model_inherits_fallbacks),
            ),
        },
    }
}

/// `alias` → ref, from `agents.defaults.models["p/m"].alias`.
pub fn aliases(config: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(models) = config
        .pointer("/agents/defaults/models")
        .and_then(Value::as_object)
    {
        for (r, meta) in models {
            if let Some(a) = meta
                .get("alias")
                .and_then(Value::as_str)
                .filter(|a| !a.trim().is_empty())
            {
                out.insert(a.trim().to_string(), r.clone());
            }
        }
    }
    out
}

fn agent_dir(entry: &Value, id: &str, state_dir: &Path, home: Option<&Path>) -> PathBuf {
    match entry
        .get("agentDir")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
    {
        Some(d) => {
            let p = Path::new(d);
            match (p.strip_prefix("~"), home) {
                (Ok(rest), Some(h)) => h.join(rest),
                _ if p.is_relative() => state_dir.join(p),
                _ => p.to_path_buf(),
            }
        }
        None => state_dir.join("agents").join(id).join("agent"),
    }
}

/// Every agent's id and auth dir, in config order (what the auth stores are read from,
/// before the release that decides the chains is known).
pub fn agent_dirs(
    config: &Value,
    config_path: &Path,
    state_dir: &Path,
    home: Option<&Path>,
) -> Result<Vec<(String, PathBuf)>, AgentsError> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for (id, entry) in raw_agents(config, config_path)? {
        let id = id.trim().to_ascii_lowercase();
        if !out.iter().any(|(a, _)| *a == id) {
            out.push((id.clone(), agent_dir(&entry, &id, state_dir, home)));
        }
    }
    Ok(out)
}

/// Every agent of the config, in config order, with its chain as `rules` read it.
pub fn agents(
    config: &Value,
    config_path: &Path,
    state_dir: &Path,
    home: Option<&Path>,
    rules: &Rules,
) -> Result<Vec<AgentSpec>, AgentsError> {
    let defaults_model = config.pointer("/agents/defaults/model");
    let mut out: Vec<AgentSpec> = Vec::new();
    for (id, entry) in raw_agents(config, config_path)? {
        let id = id.trim().to_ascii_lowercase();
        if out.iter().any(|a| a.id == id) {
            continue;
        }
        let (primary, fallbacks) = chain_for(entry.get("model"), defaults_model, rules);
        out.push(AgentSpec {
            agent_dir: agent_dir(&entry, &id, state_dir, home),
            id,
            primary: primary.or_else(|| Some(BUILTIN_DEFAULT_MODEL.to_string())),
            fallbacks,
        });
    }
    Ok(out)
}

/// `(id, entry)` of every agent: `agents.entries`, else `agents.list`, else `main`.
fn raw_agents(config: &Value, config_path: &Path) -> Result<Vec<(String, Value)>, AgentsError> {
    let err = |key: String, message: &str| AgentsError {
        path: config_path.to_path_buf(),
        key,
        message: message.to_string(),
    };
    let mut raw: Vec<(String, Value)> = Vec::new();
    if let Some(entries) = config.pointer("/agents/entries") {
        let map = entries.as_object().ok_or_else(|| {
            err(
                "agents.entries".into(),
                "must be an object keyed by agent id",
            )
        })?;
        for (id, v) in map {
            raw.push((id.clone(), v.clone()));
        }
    } else if let Some(list) = config.pointer("/agents/list") {
        let items = list.as_array().ok_or_else(|| {
            err(
                "agents.list".into(),
                "must be a list of { id, model?, agentDir? }",
            )
        })?;
        for (i, v) in items.iter().enumerate() {
            let id = v
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| {
                    err(
                        format!("agents.list[{i}].id"),
                        "every agent needs an id such as \"main\"",
                    )
                })?;
            raw.push((id.to_string(), v.clone()));
        }
    }
    if raw.is_empty() {
        raw.push((MAIN.to_string(), Value::Null));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openclaw::era;
    use serde_json::json;

    /// 2026.9's rules.
    fn newest() -> Rules {
        era::newest().rules
    }

    /// 2026.4's rules.
    fn legacy() -> Rules {
        era::era_of(era::Release::new(2026, 4, 12)).rules
    }

    fn chain(agent: Value, defaults: Value) -> (Option<String>, Vec<String>) {
        let a = if agent.is_null() { None } else { Some(&agent) };
        chain_for(a, Some(&defaults), &newest())
    }

    #[test]
    fn older_releases_give_string_and_primary_only_models_the_default_fallbacks() {
        // What the real 2026.4.12 CLI reports (tests/fixtures/openclaw/eras/cli-2026.4.12:
        // research = "kimi", writer = {primary}, solo = {primary, fallbacks: []}).
        let defs = json!({"primary": "anthropic/a", "fallbacks": ["openai/b"]});
        let old = |agent: Value| chain_for(Some(&agent), Some(&defs), &legacy());
        let fb = vec!["openai/b".to_string()];
        assert_eq!(old(json!("x/y")), (Some("x/y".into()), fb.clone()));
        assert_eq!(old(json!({"primary": "x/y"})), (Some("x/y".into()), fb));
        assert_eq!(
            old(json!({"primary": "x/y", "fallbacks": []})),
            (Some("x/y".into()), vec![])
        );
    }

    #[test]
    fn chain_rules() {
        let defs = json!({"primary": "anthropic/a", "fallbacks": ["openai/b", "groq/c"]});
        let fb = || vec!["openai/b".to_string(), "groq/c".to_string()];
        assert_eq!(
            chain(Value::Null, defs.clone()),
            (Some("anthropic/a".into()), fb())
        );
        assert_eq!(
            chain(json!("x/y"), defs.clone()),
            (Some("x/y".into()), vec![])
        );
        // 2026.9: an object with only a primary gets no fallbacks (the real 2026.9.6 CLI,
        // agent `writer` of tests/fixtures/openclaw/eras/cli-2026.9.6; this test used to
        // expect the defaults' fallbacks, which that CLI does not give).
        assert_eq!(
            chain(json!({"primary": "x/y"}), defs.clone()),
            (Some("x/y".into()), vec![])
        );
        assert_eq!(
            chain(json!({"primary": "x/y", "fallbacks": []}), defs.clone()),
            (Some("x/y".into()), vec![])
        );
        assert_eq!(
            chain(json!({"fallbacks": ["z/z"]}), defs.clone()),
            (Some("anthropic/a".into()), vec!["z/z".to_string()])
        );
        // String defaults: primary, no fallbacks.
        assert_eq!(
            chain(Value::Null, json!("anthropic/a")),
            (Some("anthropic/a".into()), vec![])
        );
        assert_eq!(
            chain(json!({"primary": "x/y"}), json!("anthropic/a")),
            (Some("x/y".into()), vec![])
        );
        assert_eq!(chain_for(None, None, &newest()), (None, vec![]));
    }

    #[test]
    fn entries_list_and_default_main() {
        let sd = Path::new("/s");
        let cfg = json!({"agents": {
            "defaults": {"model": {"primary": "anthropic/a", "fallbacks": ["openai/b"]}},
            "entries": {"main": {}, "Coder": {"model": "openai/c", "agentDir": "/custom/dir"}},
        }});
        let a = agents(&cfg, Path::new("/s/openclaw.json"), sd, None, &newest()).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].id, "main");
        assert_eq!(a[0].chain(), vec!["anthropic/a", "openai/b"]);
        assert_eq!(a[0].agent_dir, PathBuf::from("/s/agents/main/agent"));
        assert_eq!(a[1].id, "coder");
        assert_eq!(a[1].chain(), vec!["openai/c"]);
        assert_eq!(a[1].agent_dir, PathBuf::from("/custom/dir"));

        let cfg = json!({"agents": {
            "defaults": {"model": "anthropic/a"},
            "list": [{"id": "main", "default": true}, {"id": "ops", "model": {"primary": "groq/x", "fallbacks": ["openai/y"]}, "agentDir": "~/ops"}],
        }});
        let a = agents(
            &cfg,
            Path::new("/s/openclaw.json"),
            sd,
            Some(Path::new("/home/u")),
            &newest(),
        )
        .unwrap();
        assert_eq!(
            a.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            vec!["main", "ops"]
        );
        assert_eq!(a[0].chain(), vec!["anthropic/a"]);
        assert_eq!(a[1].chain(), vec!["groq/x", "openai/y"]);
        assert_eq!(a[1].agent_dir, PathBuf::from("/home/u/ops"));

        let a = agents(
            &json!({}),
            Path::new("/s/openclaw.json"),
            sd,
            None,
            &newest(),
        )
        .unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].id, "main");
        assert_eq!(a[0].chain(), vec![BUILTIN_DEFAULT_MODEL]);

        let err = agents(
            &json!({"agents": {"list": [{"model": "x/y"}]}}),
            Path::new("/s/openclaw.json"),
            sd,
            None,
            &newest(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("agents.list[0].id") && err.contains("/s/openclaw.json"),
            "{err}"
        );
    }

    #[test]
    fn alias_map() {
        let cfg = json!({"agents": {"defaults": {"models": {
            "anthropic/claude-sonnet-4-5": {"alias": "sonnet"}, "openai/gpt-5": {}}}}});
        let a = aliases(&cfg);
        assert_eq!(a.len(), 1);
        assert_eq!(a["sonnet"], "anthropic/claude-sonnet-4-5");
    }
}
