//! `google-generative-ai`: the Gemini API.
//!
//! The key goes in the `x-goog-api-key` header, never in `?key=`: URLs end up in logs,
//! proxies and error messages. OAuth/token credentials use `Authorization: Bearer`.
//! Metadata: `GET {base}/models/{id}`. Generation: `POST {base}/models/{id}:generateContent`
//! with `maxOutputTokens: 1`; `finishReason: "MAX_TOKENS"` is healthy.

use super::{
    join, json_object, model_path, usage_from, Interpretation, Prober, RequestKind, RequestSpec,
    PROMPT,
};
use crate::plan::{CredentialKind, Target};
use crate::ratelimit::{self, RateLimitInfo};
use serde_json::json;
use std::time::SystemTime;

/// The `google-generative-ai` prober.
pub struct GoogleGenerativeAi;

fn model_url(target: &Target, suffix: &str) -> String {
    // OpenClaw configs sometimes carry the resource name (`models/gemini-2.5-flash`).
    let id = target
        .model
        .strip_prefix("models/")
        .unwrap_or(&target.model);
    join(
        &target.base_url,
        &format!("models/{}{suffix}", model_path(id)),
    )
}

impl Prober for GoogleGenerativeAi {
    /// Gemini says when to retry in the error body (`RetryInfo.retryDelay`), often with no
    /// `retry-after` header: the body counts when no header said when.
    fn rate_limits(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> RateLimitInfo {
        let mut info = ratelimit::parse_headers(headers, now);
        if info.retry_after.is_none() {
            info.retry_after = ratelimit::gemini_retry_delay(body);
        }
        info
    }

    fn metadata_kinds(&self, _target: &Target) -> Vec<RequestKind> {
        vec![RequestKind::Model]
    }

    fn request(&self, target: &Target, kind: RequestKind) -> RequestSpec {
        let mut spec = match kind {
            RequestKind::Generation => RequestSpec::post(
                kind,
                model_url(target, ":generateContent"),
                json!({
                    "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
                    "generationConfig": {"maxOutputTokens": 1},
                }),
            ),
            RequestKind::ModelList => RequestSpec::get(kind, join(&target.base_url, "models")),
            _ => RequestSpec::get(kind, model_url(target, "")),
        };
        if let Some(c) = &target.credential {
            spec = match c.kind {
                CredentialKind::ApiKey => spec.header("x-goog-api-key", c.secret.expose()),
                CredentialKind::Token | CredentialKind::Oauth => spec.bearer(target),
            };
        }
        spec.finish(target)
    }

    fn interpret(&self, _target: &Target, kind: RequestKind, body: &[u8]) -> Interpretation {
        let obj = match json_object(body) {
            Ok(o) => o,
            Err(i) => return i,
        };
        if kind != RequestKind::Generation {
            return if obj.get("name").and_then(|v| v.as_str()).is_some() {
                Interpretation::ok(None)
            } else {
                Interpretation::bad("malformed_body", "model metadata without a `name`")
            };
        }
        // Thinking models spend `thoughtsTokenCount` on top of the candidates; both are billed.
        let usage = usage_from(
            obj.get("usageMetadata"),
            "promptTokenCount",
            &["candidatesTokenCount", "thoughtsTokenCount"],
        );
        let has_candidate = obj
            .get("candidates")
            .and_then(|c| c.as_array())
            .is_some_and(|c| c.first().is_some_and(|x| x.is_object()));
        if !has_candidate {
            let blocked = obj
                .get("promptFeedback")
                .and_then(|p| p.get("blockReason"))
                .and_then(|b| b.as_str());
            let mut i = match blocked {
                Some(r) => Interpretation::bad("prompt_blocked", format!("prompt blocked: {r}")),
                None => Interpretation::bad(
                    "malformed_body",
                    "generateContent answer without `candidates`",
                ),
            };
            i.usage = usage;
            return i;
        }
        Interpretation::ok(usage)
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
            "google",
            ApiStyle::GoogleGenerativeAi,
            "https://generativelanguage.googleapis.com/v1beta",
            "gemini-2.5-flash",
        )
    }

    #[test]
    fn key_in_header_never_in_url() {
        for kind in [RequestKind::Model, RequestKind::Generation] {
            let s = GoogleGenerativeAi.request(&t(), kind);
            assert_eq!(s.header_value("x-goog-api-key"), Some(KEY));
            assert!(!s.url.contains(KEY) && !s.url.contains("key="), "{}", s.url);
            assert!(s.header_value("authorization").is_none());
        }
        let o =
            GoogleGenerativeAi.request(&with_kind(t(), CredentialKind::Oauth), RequestKind::Model);
        assert_eq!(
            o.header_value("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert!(o.header_value("x-goog-api-key").is_none());
    }

    #[test]
    fn requests() {
        let m = GoogleGenerativeAi.request(&t(), RequestKind::Model);
        assert_eq!(
            (m.method.as_str(), m.path()),
            ("GET", "/v1beta/models/gemini-2.5-flash")
        );
        assert!(m.body.is_none());
        let mut prefixed = t();
        prefixed.model = "models/gemini-2.5-flash".into();
        let g = GoogleGenerativeAi.request(&prefixed, RequestKind::Generation);
        assert_eq!(
            (g.method.as_str(), g.path()),
            ("POST", "/v1beta/models/gemini-2.5-flash:generateContent")
        );
        let b = g.body.unwrap();
        assert_eq!(b["generationConfig"]["maxOutputTokens"], 1);
        assert_eq!(b["contents"].as_array().unwrap().len(), 1);
        assert!(b.get("systemInstruction").is_none() && b.get("tools").is_none());
    }

    #[test]
    fn interprets() {
        let g = RequestKind::Generation;
        let capped = GoogleGenerativeAi.interpret(&t(), g, br#"{"candidates":[{"finishReason":"MAX_TOKENS","content":{"role":"model"}}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1,"thoughtsTokenCount":4}}"#);
        assert_eq!(capped.class, Class::Ok);
        assert_eq!(
            capped.usage,
            Some(Usage {
                input_tokens: 2,
                output_tokens: 5
            })
        );
        let blocked = GoogleGenerativeAi.interpret(
            &t(),
            g,
            br#"{"promptFeedback":{"blockReason":"SAFETY"}}"#,
        );
        assert_eq!(blocked.reason, "prompt_blocked");
        for body in [&b""[..], b"<html>", br#"{"candidates":[]}"#] {
            assert!(GoogleGenerativeAi
                .interpret(&t(), g, body)
                .is_bad_response());
        }
        assert_eq!(
            GoogleGenerativeAi
                .interpret(
                    &t(),
                    RequestKind::Model,
                    br#"{"name":"models/gemini-2.5-flash"}"#
                )
                .class,
            Class::Ok
        );
        assert!(GoogleGenerativeAi
            .interpret(&t(), RequestKind::Model, b"{}")
            .is_bad_response());
    }

    #[test]
    fn rate_limits_fall_back_to_the_body() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_791_600);
        let body = br#"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"9s"}]}}"#;
        let info = GoogleGenerativeAi.rate_limits(&http::HeaderMap::new(), body, now);
        assert_eq!(info.retry_after, Some(std::time::Duration::from_secs(9)));
        let mut h = http::HeaderMap::new();
        h.insert("retry-after", http::HeaderValue::from_static("1"));
        let info = GoogleGenerativeAi.rate_limits(&h, body, now);
        assert_eq!(info.retry_after, Some(std::time::Duration::from_secs(1)));
        // Other styles read the headers only.
        let other = crate::probe::prober_for(&ApiStyle::OpenAiCompletions).unwrap();
        let info = other.rate_limits(&http::HeaderMap::new(), body, now);
        assert_eq!(info.retry_after, None);
    }
}
