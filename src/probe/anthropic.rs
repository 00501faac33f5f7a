//! `anthropic-messages`: Anthropic's Messages API.
//!
//! Every request carries `anthropic-version: 2023-06-01`. API keys go in `x-api-key`;
//! OAuth and setup tokens go in `Authorization: Bearer` with
//! `anthropic-beta: oauth-2025-04-20` (Anthropic refuses OAuth tokens without it; setup
//! tokens `sk-ant-oat…` are OAuth tokens too). Metadata: `GET {base}/v1/models/{id}`.
//! Generation: `POST {base}/v1/messages` with `max_tokens: 1`; `stop_reason: "max_tokens"`
//! is healthy.

use super::{
    join, json_object, model_path, usage_from, Interpretation, Prober, RequestKind, RequestSpec,
    PROMPT,
};
use crate::plan::{CredentialKind, Target};
use serde_json::json;

/// The `anthropic-messages` prober.
pub struct AnthropicMessages;

pub const VERSION: &str = "2023-06-01";
pub const OAUTH_BETA: &str = "oauth-2025-04-20";

/// `{base}/v1/{path}`; tolerates a configured base that already ends in `/v1`.
fn url(base: &str, path: &str) -> String {
    let b = base.trim_end_matches('/');
    let b = b.strip_suffix("/v1").unwrap_or(b);
    join(b, &format!("v1/{path}"))
}

fn auth(mut spec: RequestSpec, target: &Target) -> RequestSpec {
    spec = spec.header("anthropic-version", VERSION);
    if let Some(c) = &target.credential {
        let oauth_token = c.kind == CredentialKind::Oauth
            || (c.kind == CredentialKind::Token && c.secret.expose().starts_with("sk-ant-oat"));
        match c.kind {
            CredentialKind::ApiKey => spec = spec.header("x-api-key", c.secret.expose()),
            CredentialKind::Token | CredentialKind::Oauth => spec = spec.bearer(target),
        }
        if oauth_token {
            spec = spec.header("anthropic-beta", OAUTH_BETA);
        }
    }
    spec.finish(target)
}

impl Prober for AnthropicMessages {
    fn metadata_kinds(&self, _target: &Target) -> Vec<RequestKind> {
        vec![RequestKind::Model]
    }

    fn request(&self, target: &Target, kind: RequestKind) -> RequestSpec {
        let spec = match kind {
            RequestKind::Generation => RequestSpec::post(
                kind,
                url(&target.base_url, "messages"),
                json!({
                    "model": target.model,
                    "max_tokens": 1,
                    "messages": [{"role": "user", "content": PROMPT}],
                }),
            ),
            RequestKind::ModelList => RequestSpec::get(kind, url(&target.base_url, "models")),
            _ => RequestSpec::get(
                kind,
                url(
                    &target.base_url,
                    &format!("models/{}", model_path(&target.model)),
                ),
            ),
        };
        auth(spec, target)
    }

    fn interpret(&self, _target: &Target, kind: RequestKind, body: &[u8]) -> Interpretation {
        let obj = match json_object(body) {
            Ok(o) => o,
            Err(i) => return i,
        };
        if kind != RequestKind::Generation {
            return if obj.get("id").and_then(|v| v.as_str()).is_some() {
                Interpretation::ok(None)
            } else {
                Interpretation::bad("malformed_body", "model metadata without an `id`")
            };
        }
        if !obj.get("content").is_some_and(|c| c.is_array()) {
            return Interpretation::bad("malformed_body", "message without a `content` array");
        }
        Interpretation::ok(usage_from(
            obj.get("usage"),
            "input_tokens",
            &["output_tokens"],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::Class;
    use crate::plan::ApiStyle;
    use crate::probe::test_support::*;
    use crate::probe::Usage;

    fn t() -> Target {
        target(
            "anthropic",
            ApiStyle::AnthropicMessages,
            "https://api.anthropic.com",
            "claude-haiku-4-5",
        )
    }

    #[test]
    fn api_key_goes_in_x_api_key() {
        let m = AnthropicMessages.request(&t(), RequestKind::Model);
        assert_eq!(
            (m.method.as_str(), m.path()),
            ("GET", "/v1/models/claude-haiku-4-5")
        );
        assert_eq!(m.header_value("x-api-key"), Some(KEY));
        assert_eq!(m.header_value("anthropic-version"), Some(VERSION));
        assert!(m.header_value("authorization").is_none());
        assert!(m.header_value("anthropic-beta").is_none());
        assert!(m.body.is_none());
    }

    #[test]
    fn oauth_and_tokens_use_bearer() {
        let o = AnthropicMessages.request(
            &with_kind(t(), CredentialKind::Oauth),
            RequestKind::Generation,
        );
        assert_eq!(
            o.header_value("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(o.header_value("anthropic-beta"), Some(OAUTH_BETA));
        assert!(o.header_value("x-api-key").is_none());
        let tok = AnthropicMessages.request(
            &with_kind(t(), CredentialKind::Token),
            RequestKind::Generation,
        );
        assert_eq!(
            tok.header_value("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert!(tok.header_value("anthropic-beta").is_none());
        let mut setup = with_kind(t(), CredentialKind::Token);
        setup.credential.as_mut().unwrap().secret = crate::secret::Secret::new("sk-ant-oat01-xyz");
        let s = AnthropicMessages.request(&setup, RequestKind::Generation);
        assert_eq!(s.header_value("anthropic-beta"), Some(OAUTH_BETA));
    }

    #[test]
    fn generation_one_token_no_system() {
        let mut target = t();
        target.base_url = "https://api.anthropic.com/v1/".into();
        let g = AnthropicMessages.request(&target, RequestKind::Generation);
        assert_eq!((g.method.as_str(), g.path()), ("POST", "/v1/messages"));
        let b = g.body.unwrap();
        assert_eq!(b["max_tokens"], 1);
        assert_eq!(b["model"], "claude-haiku-4-5");
        assert_eq!(b["messages"].as_array().unwrap().len(), 1);
        assert!(b.get("system").is_none() && b.get("tools").is_none());
    }

    #[test]
    fn interprets() {
        let g = RequestKind::Generation;
        let capped = AnthropicMessages.interpret(&t(), g, br#"{"type":"message","content":[{"type":"text","text":"Hi"}],"stop_reason":"max_tokens","usage":{"input_tokens":8,"output_tokens":1}}"#);
        assert_eq!(capped.class, Class::Ok);
        assert_eq!(
            capped.usage,
            Some(Usage {
                input_tokens: 8,
                output_tokens: 1
            })
        );
        for body in [&b""[..], b"{", br#"{"type":"message"}"#] {
            assert!(AnthropicMessages.interpret(&t(), g, body).is_bad_response());
        }
        assert_eq!(
            AnthropicMessages
                .interpret(
                    &t(),
                    RequestKind::Model,
                    br#"{"id":"claude-haiku-4-5","type":"model"}"#
                )
                .class,
            Class::Ok
        );
        assert!(AnthropicMessages
            .interpret(&t(), RequestKind::Model, br#"{"type":"model"}"#)
            .is_bad_response());
    }
}
