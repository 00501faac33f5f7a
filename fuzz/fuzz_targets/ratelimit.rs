//! Rate-limit header and body parsers on arbitrary input: must never panic.
//! Input: `header: value` lines, a blank line, then a body (Gemini RetryInfo JSON).
#![no_main]

use clawprobe::probe::google::GoogleGenerativeAi;
use clawprobe::probe::Prober;
use clawprobe::ratelimit;
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, SystemTime};

fuzz_target!(|data: &[u8]| {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(data.len());
    let mut h = http::HeaderMap::new();
    for line in data[..split].split(|b| *b == b'\n') {
        let Some(i) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(&line[..i]),
            http::HeaderValue::from_bytes(line[i + 1..].trim_ascii()),
        ) {
            h.append(n, v);
        }
    }
    let body = data.get(split + 2..).unwrap_or(&[]);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let _ = ratelimit::parse_headers(&h, now);
    let _ = GoogleGenerativeAi.rate_limits(&h, body, now);
    let _ = ratelimit::gemini_retry_delay(body);
    if let Ok(s) = std::str::from_utf8(body) {
        let _ = ratelimit::parse_go_duration(s);
    }
});
