//! `openai-responses`: OpenAI's Responses API.
//!
//! Metadata as for `openai-completions` (`GET {base}/models/{id}`). Generation:
//! `POST {base}/responses` with `input: "hi"`, `max_output_tokens: 16` (the API's minimum)
//! and `store: false` so probes leave nothing in the account's stored responses. A 200 with
//! `status: "incomplete"` because of `max_output_tokens` is the expected healthy answer.

use super::{
    join, json_object, openai, usage_from, Interpretation, Prober, RequestKind, RequestSpec, PROMPT,
};
use crate::plan::Target;
use serde_json::json;

/// The `openai-responses` prober.
pub struct OpenAiResponses;

impl Prober for OpenAiResponses {
    /// The Responses API's minimum `max_output_tokens`.
    fn output_tokens(&self) -> u64 {
        16
    }

    fn metadata_kinds(&self, target: &Target) -> Vec<RequestKind> {
        openai::metadata_kinds(target)
    }

    fn request(&self, target: &Target, kind: RequestKind) -> RequestSpec {
        if kind != RequestKind::Generation {
            return openai::metadata_request(target, kind);
        }
        RequestSpec::post(
            kind,
            join(&target.base_url, "responses"),
            json!({
                "model": target.model,
                "input": PROMPT,
                "max_output_tokens": 16,
                "store": false,
            }),
        )
        .bearer(target)
        .finish(target)
    }

    fn interpret(&self, target: &Target, kind: RequestKind, body: &[u8]) -> Interpretation {
        if kind != RequestKind::Generation {
            return openai::interpret_metadata(target, kind, body);
        }
        let obj = match json_object(body) {
            Ok(o) => o,
            Err(i) => return i,
        };
        let usage = usage_from(obj.get("usage"), "input_tokens", &["output_tokens"]);
        match obj.get("status").and_then(|s| s.as_str()) {
            Some("completed") | Some("incomplete") => {}
            Some("failed") => {
                let msg = obj
                    .get("error")
                    .and_then(|e| e.get("message"))
                    .and_then(|m| m.as_str())
                    .unwrap_or("response status `failed`");
                let mut i = Interpretation::bad("response_failed", msg);
                i.usage = usage;
                return i;
            }
            Some(other) => {
                return Interpretation::bad(
                    "malformed_body",
                    format!("unexpected response status `{other}`"),
                )
            }
            None => {
                if !obj.get("output").is_some_and(|o| o.is_array()) {
                    return Interpretation::bad(
                        "malformed_body",
                        "response without `status` or `output`",
                    );
                }
            }
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
            "openai",
            ApiStyle::OpenAiResponses,
            "https://api.openai.com/v1",
            "gpt-5-mini",
        )
    }

    #[test]
    fn requests() {
        let m = OpenAiResponses.request(&t(), RequestKind::Model);
        assert_eq!(
            (m.method.as_str(), m.path()),
            ("GET", "/v1/models/gpt-5-mini")
        );
        assert!(m.body.is_none());
        let g = OpenAiResponses.request(&t(), RequestKind::Generation);
        assert_eq!((g.method.as_str(), g.path()), ("POST", "/v1/responses"));
        assert_eq!(
            g.header_value("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        let b = g.body.unwrap();
        assert_eq!(b["input"], "hi");
        assert_eq!(b["max_output_tokens"], 16);
        assert_eq!(b["store"], false);
        assert!(b.get("instructions").is_none() && b.get("tools").is_none());
    }

    #[test]
    fn interprets() {
        let g = RequestKind::Generation;
        let ok = OpenAiResponses.interpret(
            &t(),
            g,
            br#"{"status":"completed","output":[],"usage":{"input_tokens":7,"output_tokens":3}}"#,
        );
        assert_eq!(ok.class, Class::Ok);
        assert_eq!(
            ok.usage,
            Some(Usage {
                input_tokens: 7,
                output_tokens: 3
            })
        );
        let capped = OpenAiResponses.interpret(&t(), g, br#"{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]}"#);
        assert_eq!(capped.class, Class::Ok);
        let failed =
            OpenAiResponses.interpret(&t(), g, br#"{"status":"failed","error":null,"output":[]}"#);
        assert_eq!(failed.reason, "response_failed");
        for body in [
            &b""[..],
            b"oops",
            br#"{"id":"resp_1"}"#,
            br#"{"status":"weird"}"#,
        ] {
            assert!(OpenAiResponses.interpret(&t(), g, body).is_bad_response());
        }
    }
}
