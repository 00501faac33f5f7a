//! classify() on arbitrary provider responses: must never panic.
//! Input layout: byte 0 picks the provider, byte 1 the API style, bytes 2-3 the status
//! (0 = no status), byte 4 the transport error; the rest is `header: value` lines, a blank
//! line, then the body.
#![no_main]

use clawprobe::classify::{self, Observation, TransportError};
use libfuzzer_sys::fuzz_target;

const PROVIDERS: &[&str] = &[
    "openai",
    "anthropic",
    "google",
    "openrouter",
    "groq",
    "ollama",
    "x",
];
const APIS: &[&str] = &[
    "openai-completions",
    "openai-responses",
    "anthropic-messages",
    "google-generative-ai",
    "ollama",
];
const TRANSPORT: &[Option<TransportError>] = &[
    None,
    Some(TransportError::Timeout),
    Some(TransportError::Connect),
    Some(TransportError::Dns),
    Some(TransportError::Tls),
    Some(TransportError::BodyInterrupted),
    Some(TransportError::BodyTooLarge),
    Some(TransportError::Other),
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let provider = PROVIDERS[data[0] as usize % PROVIDERS.len()];
    let api = APIS[data[1] as usize % APIS.len()];
    let status = u16::from_be_bytes([data[2], data[3]]);
    let status = (status != 0).then_some(status);
    let transport = TRANSPORT[data[4] as usize % TRANSPORT.len()];
    let rest = &data[5..];
    let split = rest
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(rest.len());
    let headers = clawprobe_fuzz_headers(&rest[..split]);
    let body = rest.get(split + 2..).unwrap_or(&[]);
    let obs = Observation {
        provider,
        api,
        status,
        headers: &headers,
        body,
        transport,
    };
    let _ = classify::classify(&obs);
    let _ = classify::error_message(body);
});

fn clawprobe_fuzz_headers(raw: &[u8]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for line in raw.split(|b| *b == b'\n') {
        let Some(i) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (n, v) = (&line[..i], &line[i + 1..]);
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(n),
            http::HeaderValue::from_bytes(v.trim_ascii()),
        ) {
            h.append(n, v);
        }
    }
    h
}
