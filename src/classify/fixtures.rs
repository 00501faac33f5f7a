//! Table test over real provider responses (tests/fixtures/responses/cases.toml), the
//! transport table, the reason-vocabulary check, and a no-panic loop over random bytes.
//!
//! The table lives in a TOML file so bodies can be pasted verbatim (TOML literal strings need
//! no escaping) next to a comment naming where each one came from.

use super::*;
use serde::Deserialize;

const CASES: &str = include_str!("../../tests/fixtures/responses/cases.toml");

#[derive(Deserialize)]
struct Table {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    source: String,
    provider: String,
    api: String,
    status: u16,
    #[serde(default)]
    content_type: Option<String>,
    body: String,
    class: Class,
    reason: String,
}

fn load() -> Vec<Case> {
    toml::from_str::<Table>(CASES)
        .expect("tests/fixtures/responses/cases.toml parses")
        .case
}

fn headers_for(content_type: Option<&str>) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    let ct = content_type.unwrap_or("application/json");
    h.insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
    h
}

#[test]
fn real_responses_table() {
    let cases = load();
    assert!(
        cases.len() >= 40,
        "need at least 40 real responses, have {}",
        cases.len()
    );
    let mut names = std::collections::HashSet::new();
    let mut failures = Vec::new();
    for c in &cases {
        assert!(names.insert(c.name.clone()), "duplicate case {}", c.name);
        assert!(!c.source.trim().is_empty(), "case {} has no source", c.name);
        let headers = headers_for(c.content_type.as_deref());
        let obs = Observation {
            provider: &c.provider,
            api: &c.api,
            status: Some(c.status),
            headers: &headers,
            body: c.body.as_bytes(),
            transport: None,
        };
        let got = classify(&obs);
        if got.class != c.class || got.reason != c.reason {
            failures.push(format!(
                "{}: want {}/{}, got {}/{}",
                c.name, c.class, c.reason, got.class, got.reason
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_table_body_with_a_message_yields_one() {
    // The fixtures are error bodies from real providers; except for the deliberately
    // empty/2xx ones, error_message must find something to show.
    for c in load() {
        if c.body.trim().is_empty() || c.status < 300 {
            continue;
        }
        let m = error_message(c.body.as_bytes());
        assert!(m.is_some(), "{}: no message extracted", c.name);
        assert!(m.unwrap().chars().count() <= MESSAGE_MAX_CHARS);
    }
}

#[test]
fn transport_errors_come_first() {
    let headers = http::HeaderMap::new();
    let cases = [
        (TransportError::Timeout, Class::Timeout, "deadline_exceeded"),
        (
            TransportError::Connect,
            Class::Network,
            "connection_refused",
        ),
        (TransportError::Dns, Class::Network, "dns"),
        (TransportError::Tls, Class::Network, "tls"),
        (
            TransportError::BodyInterrupted,
            Class::Network,
            "connection_reset",
        ),
        (
            TransportError::BodyTooLarge,
            Class::BadResponse,
            "body_too_large",
        ),
        (TransportError::Other, Class::Network, "transport_error"),
    ];
    for (t, class, reason) in cases {
        // A status and an error body are present too: the transport error still wins.
        let obs = Observation {
            provider: "openai",
            api: "openai-completions",
            status: Some(200),
            headers: &headers,
            body: br#"{"error":{"code":"insufficient_quota"}}"#,
            transport: Some(t),
        };
        assert_eq!(classify(&obs), Verdict::new(class, reason), "{t:?}");
    }
    let none = Observation {
        provider: "openai",
        api: "openai-completions",
        status: None,
        headers: &headers,
        body: b"",
        transport: None,
    };
    assert_eq!(classify(&none), Verdict::new(Class::Unknown, "no_response"));
}

#[test]
fn status_only_fallbacks() {
    let headers = http::HeaderMap::new();
    let cases: &[(u16, Class, &str)] = &[
        (201, Class::Ok, "ok"),
        (204, Class::Ok, "ok"),
        (301, Class::Unknown, "http_other"),
        (400, Class::InvalidRequest, "http_400"),
        (401, Class::Auth, "http_401"),
        (402, Class::Billing, "payment_required"),
        (403, Class::Auth, "http_403"),
        (404, Class::UnresolvedRef, "not_found"),
        (408, Class::Timeout, "request_timeout"),
        (409, Class::Unknown, "http_409"),
        (429, Class::RateLimit, "rate_limit_exceeded"),
        (500, Class::ServerError, "http_500"),
        (501, Class::ServerError, "http_5xx"),
        (502, Class::ServerError, "http_502"),
        (503, Class::ServerError, "http_503"),
        (504, Class::ServerError, "gateway_timeout"),
        (529, Class::Overloaded, "overloaded_error"),
        (599, Class::ServerError, "http_5xx"),
        (999, Class::Unknown, "http_other"),
    ];
    for &(status, class, reason) in cases {
        let obs = Observation {
            provider: "together",
            api: "openai-completions",
            status: Some(status),
            headers: &headers,
            body: b"",
            transport: None,
        };
        assert_eq!(
            classify(&obs),
            Verdict::new(class, reason),
            "status {status}"
        );
    }
}

/// xorshift64*: a tiny deterministic generator so the no-panic test needs no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PROVIDERS: [(&str, &str); 10] = [
    ("openai", "openai-responses"),
    ("anthropic", "anthropic-messages"),
    ("google", "google-generative-ai"),
    ("openrouter", "openai-completions"),
    ("groq", "openai-completions"),
    ("xai", "openai-completions"),
    ("deepseek", "openai-completions"),
    ("mistral", "openai-completions"),
    ("ollama", "ollama"),
    ("", ""),
];

const STATUSES: [u16; 16] = [
    0, 100, 200, 302, 400, 401, 402, 403, 404, 408, 429, 498, 500, 503, 529, 65535,
];

/// Random bytes, random mutations of real bodies, and JSON-shaped junk: classify and
/// error_message must return, every reason must be in the vocabulary, messages stay short.
#[test]
fn never_panics_and_reasons_stay_in_vocabulary() {
    let seeds: Vec<String> = load().into_iter().map(|c| c.body).collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let html = headers_for(Some("text/html"));
    let json = headers_for(None);
    let odd = {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_bytes(b"\xfftext/html\xfe").unwrap(),
        );
        h
    };
    let junk: [&[u8]; 8] = [
        b"{\"error\":",
        b"{\"error\":[]}",
        b"{\"error\":{\"details\":{\"error_code\":5}}}",
        b"{\"error\":{\"details\":[1,\"x\",null]}}",
        b"[]",
        b"null",
        b"\xef\xbb\xbf{}",
        b"<",
    ];
    for i in 0..600 {
        let body: Vec<u8> = match i % 4 {
            0 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
            1 => {
                let mut b = seeds[rng.below(seeds.len())].clone().into_bytes();
                for _ in 0..rng.below(8) {
                    if b.is_empty() {
                        break;
                    }
                    let at = rng.below(b.len());
                    b[at] = rng.next() as u8;
                }
                let cut = rng.below(b.len() + 1);
                b.truncate(cut);
                b
            }
            2 => junk[rng.below(junk.len())].to_vec(),
            _ => {
                // Deep nesting must not blow the stack.
                let depth = rng.below(5000);
                let mut b = "[".repeat(depth).into_bytes();
                b.extend(std::iter::repeat_n(b']', rng.below(depth + 1)));
                b
            }
        };
        let (provider, api) = PROVIDERS[rng.below(PROVIDERS.len())];
        let status = STATUSES[rng.below(STATUSES.len())];
        let headers = match rng.below(3) {
            0 => &html,
            1 => &json,
            _ => &odd,
        };
        let obs = Observation {
            provider,
            api,
            status: if status == 0 { None } else { Some(status) },
            headers,
            body: &body,
            transport: None,
        };
        let v = classify(&obs);
        assert!(
            REASONS.contains(&v.reason.as_str()),
            "reason {:?} not in REASONS",
            v.reason
        );
        assert_ne!(v.class, Class::Skipped);
        if let Some(m) = error_message(&body) {
            assert!(m.chars().count() <= MESSAGE_MAX_CHARS);
        }
    }
}

#[test]
fn table_reasons_are_in_vocabulary() {
    for c in load() {
        assert!(
            REASONS.contains(&c.reason.as_str()),
            "{}: reason {} not in REASONS",
            c.name,
            c.reason
        );
    }
    let mut seen = std::collections::HashSet::new();
    for r in REASONS {
        assert!(seen.insert(r), "duplicate reason {r}");
        assert!(
            r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "reason {r} is not a snake_case word"
        );
    }
}
