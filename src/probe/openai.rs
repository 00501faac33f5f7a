//! `openai-completions`: OpenAI and every OpenAI-compatible API (OpenRouter, Groq, Mistral,
//! xAI, DeepSeek, Together, Fireworks, Cerebras, vLLM, LiteLLM, …).
//!
//! Metadata: `GET {base}/models/{id}` with a Bearer key where the provider serves it,
//! `GET {base}/models` (the id must be listed) for servers that only list (vLLM, DeepSeek,
//! unknown self-hosted gateways), nothing for providers whose list is huge and who have no
//! per-model endpoint (Together, Fireworks). OpenRouter has its own endpoints, see
//! [`super::openrouter`].
//!
//! Generation: `POST {base}/chat/completions` with one user message `hi`, `max_tokens: 1`,
//! `stream: false`; no system prompt, no tools. Some providers reject `max_tokens` for
//! reasoning models (they want `max_completion_tokens`); the probe keeps `max_tokens: 1`
//! because it is the one field every compatible server understands, and such a rejection is
//! classified as `invalid_request`, which says exactly that.

use super::{
    join, json_object, model_path, openrouter, usage_from, Interpretation, Prober, RequestKind,
    RequestSpec, PROMPT,
};
use crate::class::Class;
use crate::plan::Target;
use serde_json::json;

/// The `openai-completions` prober.
pub struct OpenAiCompletions;

/// Providers known to answer `GET /models/{id}`.
const PER_MODEL: &[&str] = &[
    "openai", "groq", "mistral", "xai", "cerebras", "moonshot", "litellm",
];
/// Providers with no per-model endpoint and a model list too big to fetch every few minutes.
const NO_METADATA: &[&str] = &["together", "fireworks"];

/// The metadata steps shared by the OpenAI-style styles (completions and responses).
pub fn metadata_kinds(target: &Target) -> Vec<RequestKind> {
    let p = target.provider.as_str();
    if p == "openrouter" {
        vec![RequestKind::Account, RequestKind::Model]
    } else if NO_METADATA.contains(&p) {
        Vec::new()
    } else if PER_MODEL.contains(&p) {
        vec![RequestKind::Model]
    } else {
        vec![RequestKind::ModelList]
    }
}

/// Builds a metadata request (model, model list, OpenRouter account) for OpenAI-style APIs.
pub fn metadata_request(target: &Target, kind: RequestKind) -> RequestSpec {
    if target.provider == "openrouter" {
        if let Some(spec) = openrouter::request(target, kind) {
            return spec.bearer(target).finish(target);
        }
    }
    let url = match kind {
        RequestKind::ModelList => join(&target.base_url, "models"),
        _ => join(
            &target.base_url,
            &format!("models/{}", model_path(&target.model)),
        ),
    };
    RequestSpec::get(kind, url).bearer(target).finish(target)
}

/// Reads a 2xx metadata body for OpenAI-style APIs.
pub fn interpret_metadata(target: &Target, kind: RequestKind, body: &[u8]) -> Interpretation {
    if target.provider == "openrouter" {
        if let Some(i) = openrouter::interpret(kind, body) {
            return i;
        }
    }
    let obj = match json_object(body) {
        Ok(o) => o,
        Err(i) => return i,
    };
    match kind {
        RequestKind::ModelList => {
            let Some(data) = obj.get("data").and_then(|d| d.as_array()) else {
                return Interpretation::bad("malformed_body", "model list without a `data` array");
            };
            let listed = data
                .iter()
                .any(|m| m.get("id").and_then(|v| v.as_str()) == Some(target.model.as_str()));
            if listed {
                Interpretation::ok(None)
            } else {
                Interpretation {
                    class: Class::UnresolvedRef,
                    reason: "model_not_listed".into(),
                    usage: None,
                    message: Some(format!(
                        "the provider's model list ({} models) does not include `{}`",
                        data.len(),
                        target.model
                    )),
                }
            }
        }
        _ => {
            if obj.get("id").and_then(|v| v.as_str()).is_some() {
                Interpretation::ok(None)
            } else {
                Interpretation::bad("malformed_body", "model metadata without an `id`")
            }
        }
    }
}

impl Prober for OpenAiCompletions {
    fn metadata_kinds(&self, target: &Target) -> Vec<RequestKind> {
        metadata_kinds(target)
    }

    fn request(&self, target: &Target, kind: RequestKind) -> RequestSpec {
        if kind != RequestKind::Generation {
            return metadata_request(target, kind);
        }
        RequestSpec::post(
            kind,
            join(&target.base_url, "chat/completions"),
            json!({
                "model": target.model,
                "messages": [{"role": "user", "content": PROMPT}],
                "max_tokens": 1,
                "stream": false,
            }),
        )
        .bearer(target)
        .finish(target)
    }

    fn interpret(&self, target: &Target, kind: RequestKind, body: &[u8]) -> Interpretation {
        if kind != RequestKind::Generation {
            return interpret_metadata(target, kind, body);
        }
        let obj = match json_object(body) {
            Ok(o) => o,
            Err(i) => return i,
        };
        let first = obj
            .get("choices")
            .and_then(|c| c.as_array())
            .and_then(|c| c.first())
            .filter(|c| c.is_object());
        let Some(choice) = first else {
            return Interpretation::bad("malformed_body", "chat completion without `choices`");
        };
        // `finish_reason: "length"` (stopped at max_tokens: 1) is the expected healthy case;
        // reasoning models may even return empty content. Only the shape matters.
        if !choice.get("message").is_some_and(|m| m.is_object()) {
            return Interpretation::bad(
                "malformed_body",
                "chat completion choice without a `message`",
            );
        }
        Interpretation::ok(usage_from(
            obj.get("usage"),
            "prompt_tokens",
            &["completion_tokens"],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ApiStyle;
    use crate::probe::test_support::*;
    use crate::probe::{Tier, Usage};

    fn t(provider: &str) -> Target {
        target(
            provider,
            ApiStyle::OpenAiCompletions,
            "http://127.0.0.1:9/v1/",
            "gpt-x",
        )
    }

    #[test]
    fn metadata_is_a_get_of_the_model_with_bearer_and_no_body() {
        let s = OpenAiCompletions.request(&t("openai"), RequestKind::Model);
        assert_eq!(s.method, http::Method::GET);
        assert_eq!(s.path(), "/v1/models/gpt-x");
        assert_eq!(
            s.header_value("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert!(s.body.is_none());
        assert!(!s.url.contains(KEY));
        assert_eq!(s.kind.tier(), Tier::Metadata);
    }

    #[test]
    fn unknown_gateways_use_the_model_list() {
        let target = t("my-vllm");
        assert_eq!(metadata_kinds(&target), vec![RequestKind::ModelList]);
        let s = OpenAiCompletions.request(&target, RequestKind::ModelList);
        assert_eq!((s.method.as_str(), s.path()), ("GET", "/v1/models"));
        let ok = OpenAiCompletions.interpret(
            &target,
            RequestKind::ModelList,
            br#"{"data":[{"id":"a"},{"id":"gpt-x"}]}"#,
        );
        assert_eq!(ok.class, Class::Ok);
        let missing = OpenAiCompletions.interpret(
            &target,
            RequestKind::ModelList,
            br#"{"data":[{"id":"a"}]}"#,
        );
        assert_eq!(
            (missing.class, missing.reason.as_str()),
            (Class::UnresolvedRef, "model_not_listed")
        );
        let bad =
            OpenAiCompletions.interpret(&target, RequestKind::ModelList, br#"{"object":"list"}"#);
        assert!(bad.is_bad_response());
    }

    #[test]
    fn no_credential_sends_no_auth_header() {
        let mut target = t("openai");
        target.credential = None;
        let s = OpenAiCompletions.request(&target, RequestKind::Generation);
        assert!(s.header_value("authorization").is_none());
    }

    #[test]
    fn generation_asks_for_one_token_without_system_prompt() {
        let s = OpenAiCompletions.request(&t("groq"), RequestKind::Generation);
        assert_eq!(s.method, http::Method::POST);
        assert_eq!(s.path(), "/v1/chat/completions");
        assert_eq!(s.header_value("content-type"), Some("application/json"));
        assert_eq!(
            s.header_value("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        let b = s.body.unwrap();
        assert_eq!(b["model"], "gpt-x");
        assert_eq!(b["max_tokens"], 1);
        assert_eq!(b["stream"], false);
        let msgs = b["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0]["role"], "user");
        assert!(b.get("tools").is_none());
    }

    #[test]
    fn interprets_ok_capped_malformed_and_empty() {
        let target = t("openai");
        let g = RequestKind::Generation;
        let ok = OpenAiCompletions.interpret(&target, g, br#"{"choices":[{"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":1}}"#);
        assert_eq!(ok.class, Class::Ok);
        assert_eq!(
            ok.usage,
            Some(Usage {
                input_tokens: 8,
                output_tokens: 1
            })
        );
        let capped = OpenAiCompletions.interpret(&target, g, br#"{"choices":[{"message":{"role":"assistant","content":""},"finish_reason":"length"}]}"#);
        assert_eq!(capped.class, Class::Ok);
        assert_eq!(capped.usage, None);
        for body in [
            &br#"{"choices":[]}"#[..],
            br#"{"id":"x"}"#,
            b"not json",
            b"",
            br#"{"choices":[{"finish_reason":"stop"}]}"#,
        ] {
            let i = OpenAiCompletions.interpret(&target, g, body);
            assert!(
                i.is_bad_response(),
                "{:?} -> {i:?}",
                String::from_utf8_lossy(body)
            );
        }
        let meta = OpenAiCompletions.interpret(
            &target,
            RequestKind::Model,
            br#"{"id":"gpt-x","object":"model"}"#,
        );
        assert_eq!(meta.class, Class::Ok);
        assert!(OpenAiCompletions
            .interpret(&target, RequestKind::Model, b"{}")
            .is_bad_response());
    }
}
