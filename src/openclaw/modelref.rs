//! Model refs (`provider/model[@profileId]`, or a bare alias/model name), resolved the way
//! OpenClaw resolves them, and suggestions for refs that do not resolve.

use std::collections::BTreeMap;

/// OpenClaw's default provider for a bare model name that is neither an alias nor listed
/// under exactly one configured provider. Verified against the real 2026.9.6 CLI:
/// `claude-haiku-4-5` alone resolves to `openai/claude-haiku-4-5` (it logs "specified
/// without provider. Falling back to \"openai/...\""), so this is `openai`, not `anthropic`.
pub const DEFAULT_PROVIDER: &str = "openai";

/// Normalises a provider id: trim, lowercase, and OpenClaw's aliases.
pub fn normalize_provider(id: &str) -> String {
    let id = id.trim().to_ascii_lowercase();
    match id.as_str() {
        "bedrock" | "aws-bedrock" => "amazon-bedrock".into(),
        "z.ai" | "z-ai" => "zai".into(),
        "kimi-code" | "kimi-coding" => "kimi".into(),
        "doubao" | "bytedance" => "volcengine".into(),
        "modelstudio" | "qwencloud" => "qwen".into(),
        _ => id,
    }
}

/// A ref split into its parts (provider not yet checked against any catalog).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelRef {
    /// Normalised provider id.
    pub provider: String,
    pub model: String,
    pub profile: Option<String>,
}

impl ModelRef {
    pub fn display(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }
}

/// Splits `raw` on the first `/` (provider, model) and the first `@` after it (profile).
/// Returns `(provider, model, profile)`; provider `None` for a bare name.
pub fn split(raw: &str) -> (Option<String>, String, Option<String>) {
    let raw = raw.trim();
    let (provider, rest) = match raw.split_once('/') {
        Some((p, rest)) => (Some(p.to_string()), rest),
        None => (None, raw),
    };
    let (model, profile) = match rest.split_once('@') {
        Some((m, prof)) if !prof.trim().is_empty() => {
            (m.to_string(), Some(prof.trim().to_string()))
        }
        Some((m, _)) => (m.to_string(), None),
        None => (rest.to_string(), None),
    };
    (provider, model.trim().to_string(), profile)
}

/// What bare-name resolution can see.
pub struct RefContext<'a> {
    /// alias → full ref, from `agents.defaults.models["p/m"].alias`.
    pub aliases: &'a BTreeMap<String, String>,
    /// `models.providers` ids (normalised) → listed model ids.
    pub configured: &'a BTreeMap<String, Vec<String>>,
}

/// Why a ref does not resolve to provider + model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefError {
    pub reason: &'static str,
    pub message: String,
}

/// Resolves a ref to provider + model (+ profile). For bare names: alias → the one
/// configured provider listing that model → [`DEFAULT_PROVIDER`]. The provider is not checked here.
pub fn resolve(raw: &str, ctx: &RefContext<'_>) -> Result<ModelRef, RefError> {
    let (provider, model, profile) = split(raw);
    if let Some(p) = provider {
        let provider = normalize_provider(&p);
        if provider.is_empty() || model.is_empty() {
            return Err(RefError {
                reason: "invalid_ref",
                message: format!(
                    "model ref `{raw}` is not `provider/model`; fix it in the OpenClaw config"
                ),
            });
        }
        return Ok(ModelRef {
            provider,
            model,
            profile,
        });
    }
    if model.is_empty() {
        return Err(RefError {
            reason: "invalid_ref",
            message: "empty model ref; set a `provider/model` ref in the OpenClaw config".into(),
        });
    }
    let alias_target = ctx.aliases.get(&model).or_else(|| {
        ctx.aliases
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&model))
            .map(|(_, v)| v)
    });
    if let Some(target) = alias_target {
        let (p, m, alias_profile) = split(target);
        return match p {
            Some(p) if !m.is_empty() => Ok(ModelRef {
                provider: normalize_provider(&p),
                model: m,
                profile: profile.or(alias_profile),
            }),
            _ => Err(RefError {
                reason: "unknown_alias",
                message: format!(
                    "alias `{model}` points at `{target}`, which is not `provider/model`; fix agents.defaults.models"
                ),
            }),
        };
    }
    // A model listed under exactly one configured provider resolves there; listed under
    // several (ambiguous) or none, it falls to the default provider (as the 2026.9.6 CLI does).
    let mut listing = ctx
        .configured
        .iter()
        .filter(|(_, models)| models.iter().any(|m| m == &model));
    if let (Some((p, _)), None) = (listing.next(), listing.next()) {
        return Ok(ModelRef {
            provider: p.clone(),
            model,
            profile,
        });
    }
    Ok(ModelRef {
        provider: DEFAULT_PROVIDER.into(),
        model,
        profile,
    })
}

/// Levenshtein distance (ids are short).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// OpenRouter vendor namespaces that are not OpenClaw provider ids: a ref starting with one
/// of these was almost always meant as `openrouter/<vendor>/<model>`.
const OPENROUTER_VENDORS: &[&str] = &[
    "moonshotai",
    "meta-llama",
    "mistralai",
    "x-ai",
    "qwen",
    "nousresearch",
    "cohere",
    "microsoft",
    "nvidia",
    "amazon",
    "perplexity",
    "ai21",
    "minimax",
    "thudm",
    "baidu",
    "tencent",
    "liquid",
    "inflection",
    "z-ai",
    "deepseek-ai",
    "google",
    "openai",
    "anthropic",
];

/// The message for an unknown provider, with the likeliest fix: the same model through
/// OpenRouter when the id is an OpenRouter vendor namespace (`moonshotai/kimi-k2`), else a
/// known id a typo away (`opnai` → `openai`), else OpenRouter.
pub fn unknown_provider_message(provider: &str, model: &str, known: &[String]) -> String {
    let typo = known
        .iter()
        .map(|k| (edit_distance(provider, k), k))
        .filter(|(d, k)| *d <= 2 && *d < k.len().max(provider.len()))
        .min_by_key(|(d, k)| (*d, (*k).clone()))
        .map(|(_, k)| format!("{k}/{model}"));
    let via_openrouter = format!("openrouter/{provider}/{model}");
    let suggestion = match typo {
        Some(t) if OPENROUTER_VENDORS.contains(&provider) => {
            format!("`{via_openrouter}` or `{t}`")
        }
        Some(t) => format!("`{t}`"),
        None => format!("`{via_openrouter}`"),
    };
    format!(
        "provider `{provider}` is not configured; did you mean {suggestion}? (or define models.providers.{provider} with a baseUrl)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_on_first_slash_and_at() {
        assert_eq!(
            split("openrouter/moonshotai/kimi-k2"),
            (Some("openrouter".into()), "moonshotai/kimi-k2".into(), None)
        );
        assert_eq!(
            split("anthropic/claude-opus-4-6@anthropic:me@example.com"),
            (
                Some("anthropic".into()),
                "claude-opus-4-6".into(),
                Some("anthropic:me@example.com".into())
            )
        );
        assert_eq!(split(" sonnet "), (None, "sonnet".into(), None));
    }

    #[test]
    fn normalisation() {
        for (a, b) in [
            ("bedrock", "amazon-bedrock"),
            ("AWS-Bedrock", "amazon-bedrock"),
            ("z.ai", "zai"),
            ("z-ai", "zai"),
            ("kimi-code", "kimi"),
            ("kimi-coding", "kimi"),
            ("doubao", "volcengine"),
            ("bytedance", "volcengine"),
            ("modelstudio", "qwen"),
            ("qwencloud", "qwen"),
            (" OpenAI ", "openai"),
        ] {
            assert_eq!(normalize_provider(a), b, "{a}");
        }
    }

    #[test]
    fn bare_names() {
        let aliases = BTreeMap::from([(
            "sonnet".to_string(),
            "anthropic/claude-sonnet-4-5".to_string(),
        )]);
        let none = BTreeMap::new();
        let ctx = RefContext {
            aliases: &aliases,
            configured: &none,
        };
        let r = resolve("sonnet", &ctx).unwrap();
        assert_eq!(r.display(), "anthropic/claude-sonnet-4-5");
        let r = resolve("Bedrock/x@p1", &ctx).unwrap();
        assert_eq!(
            (r.provider.as_str(), r.model.as_str(), r.profile.as_deref()),
            ("amazon-bedrock", "x", Some("p1"))
        );
        // Default provider: openai in 2026.9.6 (checked with the real CLI).
        assert_eq!(
            resolve("claude-haiku-4-5", &ctx).unwrap().display(),
            "openai/claude-haiku-4-5"
        );
        // The one configured provider that lists the model (others may exist).
        let conf = BTreeMap::from([
            ("local".to_string(), vec!["llama3".to_string()]),
            ("openrouter".to_string(), vec![]),
        ]);
        let ctx1 = RefContext {
            aliases: &aliases,
            configured: &conf,
        };
        assert_eq!(resolve("llama3", &ctx1).unwrap().display(), "local/llama3");
        assert_eq!(resolve("other", &ctx1).unwrap().display(), "openai/other");
        // Listed under two providers: ambiguous, so the default provider (as the CLI does).
        let two = BTreeMap::from([
            ("local".to_string(), vec!["llama3".to_string()]),
            ("other".to_string(), vec!["llama3".to_string()]),
        ]);
        let ctx2 = RefContext {
            aliases: &aliases,
            configured: &two,
        };
        assert_eq!(resolve("llama3", &ctx2).unwrap().display(), "openai/llama3");
        assert_eq!(resolve("/x", &ctx).unwrap_err().reason, "invalid_ref");
        assert_eq!(resolve("", &ctx).unwrap_err().reason, "invalid_ref");
    }

    #[test]
    fn suggestions() {
        let known: Vec<String> = ["openai", "anthropic", "openrouter", "groq"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = unknown_provider_message("moonshotai", "kimi-k2", &known);
        assert!(m.contains("provider `moonshotai` is not configured"), "{m}");
        assert!(
            m.contains("did you mean `openrouter/moonshotai/kimi-k2`"),
            "{m}"
        );
        let with_moonshot: Vec<String> = known
            .iter()
            .cloned()
            .chain(["moonshot".to_string()])
            .collect();
        let m = unknown_provider_message("moonshotai", "kimi-k2", &with_moonshot);
        assert!(
            m.contains("did you mean `openrouter/moonshotai/kimi-k2` or `moonshot/kimi-k2`?"),
            "{m}"
        );
        let m = unknown_provider_message("zzqx", "m", &known);
        assert!(m.contains("`openrouter/zzqx/m`"), "{m}");
        let m = unknown_provider_message("opnai", "gpt-5", &known);
        assert!(m.contains("did you mean `openai/gpt-5`?"), "{m}");
        assert_eq!(edit_distance("opnai", "openai"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
