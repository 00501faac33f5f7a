//! `ollama`: Ollama's native API (`http://127.0.0.1:11434`, or Ollama cloud with a key).
//!
//! Metadata: `POST {base}/api/show {model}` (404 when the model is not pulled).
//! Generation: `POST {base}/api/chat` with `stream: false` and `options.num_predict: 1`.

use super::{
    join, json_object, usage_from, Interpretation, Prober, RequestKind, RequestSpec, PROMPT,
};
use crate::plan::Target;
use serde_json::json;

/// The `ollama` prober.
pub struct Ollama;

/// The native API root; a base configured for the OpenAI-compatible `/v1` is trimmed.
fn root(base: &str) -> &str {
    let b = base.trim_end_matches('/');
    b.strip_suffix("/v1").unwrap_or(b)
}

impl Prober for Ollama {
    fn metadata_kinds(&self, _target: &Target) -> Vec<RequestKind> {
        vec![RequestKind::Model]
    }

    fn request(&self, target: &Target, kind: RequestKind) -> RequestSpec {
        let base = root(&target.base_url);
        let spec = match kind {
            RequestKind::Generation => RequestSpec::post(
                kind,
                join(base, "api/chat"),
                json!({
                    "model": target.model,
                    "messages": [{"role": "user", "content": PROMPT}],
                    "stream": false,
                    "options": {"num_predict": 1},
                }),
            ),
            RequestKind::ModelList => RequestSpec::get(kind, join(base, "api/tags")),
            _ => RequestSpec::post(kind, join(base, "api/show"), json!({"model": target.model})),
        };
        spec.bearer(target).finish(target)
    }

    fn interpret(&self, _target: &Target, kind: RequestKind, body: &[u8]) -> Interpretation {
        let obj = match json_object(body) {
            Ok(o) => o,
            Err(i) => return i,
        };
        if kind != RequestKind::Generation {
            let known = [
                "details",
                "model_info",
                "modelfile",
                "template",
                "capabilities",
            ]
            .iter()
            .any(|k| obj.contains_key(*k));
            return if known {
                Interpretation::ok(None)
            } else {
                Interpretation::bad("malformed_body", "/api/show answer without model details")
            };
        }
        if !obj.get("message").is_some_and(|m| m.is_object()) {
            return Interpretation::bad("malformed_body", "/api/chat answer without a `message`");
        }
        Interpretation::ok(usage_from(
            Some(&serde_json::Value::Object(obj)),
            "prompt_eval_count",
            &["eval_count"],
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
        let mut t = target(
            "ollama",
            ApiStyle::Ollama,
            "http://127.0.0.1:11434",
            "llama3.2:1b",
        );
        t.credential = None;
        t
    }

    #[test]
    fn requests() {
        let m = Ollama.request(&t(), RequestKind::Model);
        assert_eq!((m.method.as_str(), m.path()), ("POST", "/api/show"));
        assert_eq!(m.body.clone().unwrap(), json!({"model": "llama3.2:1b"}));
        assert!(m.header_value("authorization").is_none());
        let mut v1 = t();
        v1.base_url = "http://127.0.0.1:11434/v1/".into();
        let g = Ollama.request(&v1, RequestKind::Generation);
        assert_eq!((g.method.as_str(), g.path()), ("POST", "/api/chat"));
        let b = g.body.unwrap();
        assert_eq!(b["options"]["num_predict"], 1);
        assert_eq!(b["stream"], false);
        assert_eq!(b["messages"].as_array().unwrap().len(), 1);
        let keyed = target(
            "ollama",
            ApiStyle::Ollama,
            "https://ollama.com",
            "gpt-oss:120b",
        );
        assert_eq!(
            Ollama
                .request(&keyed, RequestKind::Generation)
                .header_value("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }

    #[test]
    fn interprets() {
        let g = RequestKind::Generation;
        let ok = Ollama.interpret(&t(), g, br#"{"message":{"role":"assistant","content":"H"},"done":true,"done_reason":"length","prompt_eval_count":11,"eval_count":1}"#);
        assert_eq!(ok.class, Class::Ok);
        assert_eq!(
            ok.usage,
            Some(Usage {
                input_tokens: 11,
                output_tokens: 1
            })
        );
        for body in [&b""[..], b"nope", br#"{"done":true}"#] {
            assert!(Ollama.interpret(&t(), g, body).is_bad_response());
        }
        assert_eq!(
            Ollama
                .interpret(
                    &t(),
                    RequestKind::Model,
                    br#"{"details":{"family":"llama"}}"#
                )
                .class,
            Class::Ok
        );
        assert!(Ollama
            .interpret(&t(), RequestKind::Model, br#"{"x":1}"#)
            .is_bad_response());
    }
}
