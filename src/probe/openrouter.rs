//! OpenRouter's own zero-token endpoints (base `https://openrouter.ai/api/v1`):
//! `GET {base}/key` shows the key's credit limit (`data.limit_remaining`; `null` means no
//! limit), and `GET {base}/models/{author}/{slug}/endpoints` answers 404 for a model that does
//! not exist and an empty endpoint list for one no upstream serves.

use super::{join, json_object, model_path, Interpretation, RequestKind, RequestSpec};
use crate::class::Class;
use crate::plan::Target;

/// The OpenRouter-specific request for a metadata step, or `None` for steps that use the
/// generic OpenAI-style request.
pub fn request(target: &Target, kind: RequestKind) -> Option<RequestSpec> {
    match kind {
        RequestKind::Account => Some(RequestSpec::get(kind, join(&target.base_url, "key"))),
        RequestKind::Model => Some(RequestSpec::get(
            kind,
            join(
                &target.base_url,
                &format!("models/{}/endpoints", model_path(&target.model)),
            ),
        )),
        _ => None,
    }
}

/// Reads a 2xx body of an OpenRouter metadata step.
pub fn interpret(kind: RequestKind, body: &[u8]) -> Option<Interpretation> {
    if !matches!(kind, RequestKind::Account | RequestKind::Model) {
        return None;
    }
    let obj = match json_object(body) {
        Ok(o) => o,
        Err(i) => return Some(i),
    };
    let Some(data) = obj.get("data").filter(|d| d.is_object()) else {
        return Some(Interpretation::bad(
            "malformed_body",
            "OpenRouter answer without a `data` object",
        ));
    };
    Some(match kind {
        RequestKind::Account => match data.get("limit_remaining").and_then(|v| v.as_f64()) {
            Some(r) if r <= 0.0 => Interpretation {
                class: Class::Billing,
                reason: "key_limit_exhausted".into(),
                usage: None,
                message: Some(format!(
                    "OpenRouter key credit limit reached (limit_remaining {r}); raise the key's limit or add credits"
                )),
            },
            _ => Interpretation::ok(None),
        },
        _ => match data.get("endpoints").and_then(|e| e.as_array()) {
            Some(e) if !e.is_empty() => Interpretation::ok(None),
            Some(_) => Interpretation {
                class: Class::UnresolvedRef,
                reason: "no_endpoints".into(),
                usage: None,
                message: Some("OpenRouter lists no provider endpoints for this model".into()),
            },
            None => Interpretation::bad("malformed_body", "OpenRouter model answer without `endpoints`"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ApiStyle;
    use crate::probe::openai::OpenAiCompletions;
    use crate::probe::test_support::*;
    use crate::probe::{steps, Prober, Tier};

    fn t() -> Target {
        target(
            "openrouter",
            ApiStyle::OpenAiCompletions,
            "https://openrouter.ai/api/v1",
            "moonshotai/kimi-k2",
        )
    }

    #[test]
    fn metadata_checks_key_then_model_endpoints() {
        let s = steps(&t(), Tier::Metadata).unwrap();
        assert_eq!(s.kinds, vec![RequestKind::Account, RequestKind::Model]);
        let key = OpenAiCompletions.request(&t(), RequestKind::Account);
        assert_eq!((key.method.as_str(), key.path()), ("GET", "/api/v1/key"));
        assert_eq!(
            key.header_value("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        let m = OpenAiCompletions.request(&t(), RequestKind::Model);
        assert_eq!(m.path(), "/api/v1/models/moonshotai/kimi-k2/endpoints");
        assert!(m.body.is_none());
    }

    #[test]
    fn key_limit() {
        let p = &OpenAiCompletions;
        let a = RequestKind::Account;
        let ex = p.interpret(&t(), a, br#"{"data":{"limit":10,"limit_remaining":0}}"#);
        assert_eq!(
            (ex.class, ex.reason.as_str()),
            (Class::Billing, "key_limit_exhausted")
        );
        let neg = p.interpret(&t(), a, br#"{"data":{"limit":10,"limit_remaining":-0.5}}"#);
        assert_eq!(neg.class, Class::Billing);
        assert_eq!(
            p.interpret(
                &t(),
                a,
                br#"{"data":{"limit":null,"limit_remaining":null}}"#
            )
            .class,
            Class::Ok
        );
        assert_eq!(
            p.interpret(&t(), a, br#"{"data":{"limit_remaining":3.2}}"#)
                .class,
            Class::Ok
        );
        assert!(p.interpret(&t(), a, br#"{"label":"x"}"#).is_bad_response());
        assert!(p.interpret(&t(), a, b"").is_bad_response());
    }

    #[test]
    fn model_endpoints() {
        let p = &OpenAiCompletions;
        let m = RequestKind::Model;
        assert_eq!(
            p.interpret(
                &t(),
                m,
                br#"{"data":{"id":"x","endpoints":[{"name":"a"}]}}"#
            )
            .class,
            Class::Ok
        );
        assert_eq!(
            p.interpret(&t(), m, br#"{"data":{"id":"x","endpoints":[]}}"#)
                .class,
            Class::UnresolvedRef
        );
        assert!(p
            .interpret(&t(), m, br#"{"data":{"id":"x"}}"#)
            .is_bad_response());
    }
}
