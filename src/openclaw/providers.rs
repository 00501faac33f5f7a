//! Providers: clawprobe's built-in catalog of OpenClaw's known provider ids (default base
//! URL, API style, env vars in OpenClaw's order) merged with `models.providers.<id>` from the
//! OpenClaw config, which overrides the catalog or defines custom providers.

use crate::api_style::ApiStyle;
use crate::secret::Secret;
use serde_json::Value;
use std::collections::BTreeMap;

/// One built-in provider.
#[derive(Clone, Copy, Debug)]
pub struct CatalogEntry {
    pub id: &'static str,
    /// `None`: clawprobe knows the id but not a base URL it can vouch for.
    pub base_url: Option<&'static str>,
    pub api: &'static str,
    pub env_vars: &'static [&'static str],
    /// `false` for local servers that accept requests without a key.
    pub key_required: bool,
}

const fn p(
    id: &'static str,
    base_url: Option<&'static str>,
    api: &'static str,
    env_vars: &'static [&'static str],
    key_required: bool,
) -> CatalogEntry {
    CatalogEntry {
        id,
        base_url,
        api,
        env_vars,
        key_required,
    }
}

const OC: &str = "openai-completions";

/// The catalog. Ids are OpenClaw's normalised provider ids.
pub const CATALOG: &[CatalogEntry] = &[
    p(
        "openai",
        Some("https://api.openai.com/v1"),
        "openai-responses",
        &["OPENAI_API_KEY"],
        true,
    ),
    p(
        "anthropic",
        Some("https://api.anthropic.com"),
        "anthropic-messages",
        &["ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY"],
        true,
    ),
    p(
        "google",
        Some("https://generativelanguage.googleapis.com/v1beta"),
        "google-generative-ai",
        &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        true,
    ),
    p(
        "openrouter",
        Some("https://openrouter.ai/api/v1"),
        OC,
        &["OPENROUTER_API_KEY"],
        true,
    ),
    p(
        "groq",
        Some("https://api.groq.com/openai/v1"),
        OC,
        &["GROQ_API_KEY"],
        true,
    ),
    p(
        "mistral",
        Some("https://api.mistral.ai/v1"),
        OC,
        &["MISTRAL_API_KEY"],
        true,
    ),
    p(
        "xai",
        Some("https://api.x.ai/v1"),
        OC,
        &["XAI_API_KEY"],
        true,
    ),
    p(
        "deepseek",
        Some("https://api.deepseek.com"),
        OC,
        &["DEEPSEEK_API_KEY"],
        true,
    ),
    p(
        "together",
        Some("https://api.together.xyz/v1"),
        OC,
        &["TOGETHER_API_KEY"],
        true,
    ),
    p(
        "fireworks",
        Some("https://api.fireworks.ai/inference/v1"),
        OC,
        &["FIREWORKS_API_KEY"],
        true,
    ),
    p(
        "cerebras",
        Some("https://api.cerebras.ai/v1"),
        OC,
        &["CEREBRAS_API_KEY"],
        true,
    ),
    p(
        "moonshot",
        Some("https://api.moonshot.ai/v1"),
        OC,
        &["MOONSHOT_API_KEY"],
        true,
    ),
    p(
        "ollama",
        Some("http://127.0.0.1:11434"),
        "ollama",
        &["OLLAMA_API_KEY"],
        false,
    ),
    p(
        "vllm",
        Some("http://127.0.0.1:8000/v1"),
        OC,
        &["VLLM_API_KEY"],
        false,
    ),
    p(
        "litellm",
        Some("http://127.0.0.1:4000/v1"),
        OC,
        &["LITELLM_API_KEY"],
        true,
    ),
    // Not probeable: clawprobe has no prober for these API styles.
    p(
        "amazon-bedrock",
        None,
        "bedrock-converse-stream",
        &["AWS_BEARER_TOKEN_BEDROCK"],
        true,
    ),
    p(
        "github-copilot",
        None,
        "github-copilot",
        &["COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN"],
        true,
    ),
    // Known ids whose endpoints clawprobe does not ship defaults for: they are probed only
    // when `models.providers.<id>.baseUrl` is set.
    p("zai", None, OC, &["ZAI_API_KEY", "Z_AI_API_KEY"], true),
    p("kimi", None, OC, &["KIMI_API_KEY"], true),
    p(
        "qwen",
        None,
        OC,
        &["QWEN_API_KEY", "DASHSCOPE_API_KEY"],
        true,
    ),
    p("volcengine", None, OC, &["VOLCANO_ENGINE_API_KEY"], true),
];

/// The catalog entry for a normalised id.
pub fn catalog(id: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.id == id)
}

/// `models.providers.<id>` from the OpenClaw config (already `${VAR}`-substituted).
/// `Debug` is written by hand: `api_key` may hold a literal key.
#[derive(Clone, Default)]
pub struct ConfiguredProvider {
    pub base_url: Option<String>,
    pub api: Option<String>,
    /// Raw `apiKey` (string or SecretRef object), handed to the auth resolver as is.
    pub api_key: Option<Value>,
    pub headers: Vec<(String, Secret)>,
    /// Model ids listed under `models`, if any.
    pub models: Vec<String>,
}

/// Reads `models.providers`, keyed by normalised provider id.
pub fn configured_providers(config: &Value) -> BTreeMap<String, ConfiguredProvider> {
    let mut out = BTreeMap::new();
    let Some(map) = config
        .pointer("/models/providers")
        .and_then(Value::as_object)
    else {
        return out;
    };
    for (id, v) in map {
        let str_of = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|s| !s.trim().is_empty())
        };
        let headers = v
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), Secret::new(s))))
                    .collect()
            })
            .unwrap_or_default();
        let models = v
            .get("models")
            .and_then(Value::as_array)
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| {
                        m.as_str()
                            .or_else(|| m.get("id").and_then(Value::as_str))
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.insert(
            super::modelref::normalize_provider(id),
            ConfiguredProvider {
                base_url: str_of("baseUrl"),
                api: str_of("api"),
                api_key: v.get("apiKey").filter(|k| !k.is_null()).cloned(),
                headers,
                models,
            },
        );
    }
    out
}

/// A provider as clawprobe will probe it. `Debug` is written by hand: `api_key` may hold a
/// literal key.
#[derive(Clone)]
pub struct ProviderInfo {
    pub id: String,
    pub base_url: Option<String>,
    pub api: ApiStyle,
    pub env_vars: Vec<String>,
    pub key_required: bool,
    pub api_key: Option<Value>,
    pub headers: Vec<(String, Secret)>,
}

/// Merges catalog and config for `id` (normalised). `None`: unknown provider.
pub fn resolve(
    id: &str,
    configured: &BTreeMap<String, ConfiguredProvider>,
) -> Option<ProviderInfo> {
    let cat = catalog(id);
    let conf = configured.get(id);
    if cat.is_none() && conf.is_none() {
        return None;
    }
    let base_url = conf
        .and_then(|c| c.base_url.clone())
        .or_else(|| cat.and_then(|c| c.base_url.map(str::to_string)))
        .map(|u| u.trim_end_matches('/').to_string());
    // A custom provider with a baseUrl and no api speaks openai-completions.
    let api = conf
        .and_then(|c| c.api.as_deref())
        .map(ApiStyle::parse)
        .or_else(|| cat.map(|c| ApiStyle::parse(c.api)))
        .unwrap_or(ApiStyle::OpenAiCompletions);
    let key_required = api != ApiStyle::Ollama && cat.map(|c| c.key_required).unwrap_or(true);
    Some(ProviderInfo {
        id: id.to_string(),
        base_url,
        api,
        env_vars: cat
            .map(|c| c.env_vars.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
        key_required,
        api_key: conf.and_then(|c| c.api_key.clone()),
        headers: conf.map(|c| c.headers.clone()).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn catalog_defaults() {
        let none = BTreeMap::new();
        let o = resolve("openai", &none).unwrap();
        assert_eq!(o.base_url.as_deref(), Some("https://api.openai.com/v1"));
        assert_eq!(o.api, ApiStyle::OpenAiResponses);
        assert_eq!(o.env_vars, vec!["OPENAI_API_KEY"]);
        let a = resolve("anthropic", &none).unwrap();
        assert_eq!(a.api, ApiStyle::AnthropicMessages);
        assert_eq!(
            a.env_vars,
            vec!["ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY"]
        );
        let g = resolve("google", &none).unwrap();
        assert_eq!(g.env_vars, vec!["GEMINI_API_KEY", "GOOGLE_API_KEY"]);
        assert_eq!(
            resolve("groq", &none).unwrap().base_url.as_deref(),
            Some("https://api.groq.com/openai/v1")
        );
        let ol = resolve("ollama", &none).unwrap();
        assert_eq!(ol.api, ApiStyle::Ollama);
        assert!(!ol.key_required);
        assert!(!resolve("vllm", &none).unwrap().key_required);
        assert!(!resolve("amazon-bedrock", &none).unwrap().api.is_probeable());
        assert!(!resolve("github-copilot", &none).unwrap().api.is_probeable());
        assert!(resolve("moonshotai", &none).is_none());
        for id in ["zai", "kimi", "qwen", "volcengine"] {
            assert!(resolve(id, &none).is_some(), "{id}");
        }
    }

    #[test]
    fn config_overrides_and_custom_providers() {
        let cfg = json!({"models": {"providers": {
            "openai": {"baseUrl": "http://127.0.0.1:9/v1/", "api": "openai-completions"},
            "mybox": {"baseUrl": "http://10.0.0.2:8080/v1", "apiKey": "MYBOX_KEY",
                      "headers": {"X-Team": "blue"}, "models": [{"id": "m1"}, "m2"]},
            "Local-Ollama": {"baseUrl": "http://127.0.0.1:11434", "api": "ollama"},
        }}});
        let conf = configured_providers(&cfg);
        let o = resolve("openai", &conf).unwrap();
        assert_eq!(o.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(o.api, ApiStyle::OpenAiCompletions);
        assert_eq!(o.env_vars, vec!["OPENAI_API_KEY"]);
        let m = resolve("mybox", &conf).unwrap();
        assert_eq!(m.api, ApiStyle::OpenAiCompletions);
        assert_eq!(m.api_key, Some(json!("MYBOX_KEY")));
        assert_eq!(m.headers[0].0, "X-Team");
        assert!(m.key_required);
        assert_eq!(conf["mybox"].models, vec!["m1", "m2"]);
        let l = resolve("local-ollama", &conf).unwrap();
        assert!(!l.key_required);
    }
}

/// How `api_key` shows in `Debug`: its shape, never its value.
fn api_key_shape(v: &Option<Value>) -> &'static str {
    match v {
        None => "none",
        Some(Value::String(_)) => "<string, redacted>",
        Some(Value::Object(_)) => "<secret ref>",
        Some(_) => "<other>",
    }
}

impl std::fmt::Debug for ConfiguredProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfiguredProvider")
            .field("base_url", &self.base_url)
            .field("api", &self.api)
            .field("api_key", &api_key_shape(&self.api_key))
            .field("headers", &self.headers)
            .field("models", &self.models)
            .finish()
    }
}

impl std::fmt::Debug for ProviderInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderInfo")
            .field("id", &self.id)
            .field("base_url", &self.base_url)
            .field("api", &self.api)
            .field("env_vars", &self.env_vars)
            .field("key_required", &self.key_required)
            .field("api_key", &api_key_shape(&self.api_key))
            .field("headers", &self.headers)
            .finish()
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_literal_api_key() {
        let c = ConfiguredProvider {
            api_key: Some(Value::String("sk-canary-PROVIDER-DEBUG-1234".into())),
            ..Default::default()
        };
        let d = format!("{c:?}");
        assert!(!d.contains("canary"), "{d}");
        assert!(d.contains("redacted"), "{d}");
    }
}
