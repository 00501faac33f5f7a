//! Rate-limit and retry information parsed from provider response headers and bodies.
//!
//! Pure functions; no I/O. Providers report limits in several dialects:
//!
//! - OpenAI and Groq: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, where reset is
//!   a Go-style duration (`6m0s`, `1.5s`, `120ms`, `2h3m4.5s`).
//! - Anthropic: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-
//!   {limit,remaining,reset}`, where reset is an RFC 3339 time.
//! - OpenRouter: `x-ratelimit-{limit,remaining,reset}` without a resource suffix (it counts
//!   requests), where reset is epoch milliseconds.
//! - Everyone: `retry-after` (seconds, possibly fractional, or an HTTP date) and OpenAI's
//!   `retry-after-ms`.
//! - Gemini: no headers; `error.details[]` of type `google.rpc.RetryInfo` with
//!   `retryDelay: "37s"` in the JSON body.
//!
//! Garbage values are ignored field by field, never an error and never a panic: a monitor
//! should still report the class of a response whose headers it cannot read.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One rate-limit resource a provider reported (`requests`, `tokens`, `input_tokens`, …).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimitEntry {
    /// Bounded resource name: `requests`, `tokens`, `input_tokens`, `output_tokens`.
    pub resource: String,
    pub limit: Option<f64>,
    pub remaining: Option<f64>,
    pub reset_at: Option<SystemTime>,
}

/// Everything a response said about limits and when to retry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimitInfo {
    pub entries: Vec<RateLimitEntry>,
    /// From `retry-after` (seconds or HTTP date), `retry-after-ms`, or Gemini's
    /// `RetryInfo.retryDelay`.
    pub retry_after: Option<Duration>,
    /// The provider says the limit that was hit is the whole key's (account), not one
    /// model's: Anthropic's `anthropic-ratelimit-unified-status: rejected` (the 5-hour /
    /// 7-day quota of a subscription token). Most providers limit per model
    /// (OpenAI, Groq: "… for <model> in organization …"; Gemini: `…PerModel…` quota ids).
    pub key_wide: bool,
}

impl RateLimitInfo {
    /// The entry for `resource`, if the response reported one.
    pub fn entry(&self, resource: &str) -> Option<&RateLimitEntry> {
        self.entries.iter().find(|e| e.resource == resource)
    }
}

/// The bounded set of resource names, in output order.
pub const RESOURCES: [&str; 4] = ["requests", "tokens", "input_tokens", "output_tokens"];

/// Anything longer than this is treated as garbage (a year; no provider resets later).
const MAX_HORIZON: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses OpenAI/Groq `x-ratelimit-*`, Anthropic `anthropic-ratelimit-*`, OpenRouter
/// `x-ratelimit-*` and `retry-after` / `retry-after-ms`. `now` anchors relative resets
/// (`6m0s`, `120ms`, seconds) and HTTP-date `retry-after` values.
pub fn parse_headers(headers: &http::HeaderMap, now: SystemTime) -> RateLimitInfo {
    let get = |name: &str| -> Option<&str> {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };

    let mut entries = Vec::new();
    for resource in RESOURCES {
        let dashed = resource.replace('_', "-");
        let mut e = RateLimitEntry {
            resource: resource.to_string(),
            ..Default::default()
        };
        // Anthropic first: it is the more precise dialect when both are present.
        let a = |field: &str| get(&format!("anthropic-ratelimit-{dashed}-{field}"));
        let x = |field: &str| get(&format!("x-ratelimit-{field}-{dashed}"));
        e.limit = a("limit").or_else(|| x("limit")).and_then(parse_count);
        e.remaining = a("remaining")
            .or_else(|| x("remaining"))
            .and_then(parse_count);
        e.reset_at = a("reset")
            .or_else(|| x("reset"))
            .and_then(|v| parse_reset(v, now));
        // OpenRouter: x-ratelimit-{limit,remaining,reset} with no suffix counts requests.
        if resource == "requests" {
            e.limit = e
                .limit
                .or_else(|| get("x-ratelimit-limit").and_then(parse_count));
            e.remaining = e
                .remaining
                .or_else(|| get("x-ratelimit-remaining").and_then(parse_count));
            e.reset_at = e
                .reset_at
                .or_else(|| get("x-ratelimit-reset").and_then(|v| parse_reset(v, now)));
        }
        if e.limit.is_some() || e.remaining.is_some() || e.reset_at.is_some() {
            entries.push(e);
        }
    }

    // retry-after-ms is OpenAI's more precise twin of retry-after; prefer it when valid.
    let retry_after = get("retry-after-ms")
        .and_then(|v| parse_seconds(v).map(|ms| ms / 1000.0))
        .and_then(secs_to_duration)
        .or_else(|| get("retry-after").and_then(|v| parse_retry_after(v, now)));

    let key_wide = get("anthropic-ratelimit-unified-status")
        .is_some_and(|v| v.eq_ignore_ascii_case("rejected"));

    RateLimitInfo {
        entries,
        retry_after,
        key_wide,
    }
}

/// Gemini's `error.details[].retryDelay` (`"37s"`) from a JSON error body. Also accepts the
/// one-element array form some Google front ends send.
pub fn gemini_retry_delay(body: &[u8]) -> Option<Duration> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let v = match &v {
        serde_json::Value::Array(a) => a.first()?,
        other => other,
    };
    let details = v.get("error")?.get("details")?.as_array()?;
    details.iter().find_map(|d| {
        let ty = d.get("@type")?.as_str()?;
        if !ty.ends_with("google.rpc.RetryInfo") {
            return None;
        }
        let delay = d.get("retryDelay")?;
        match delay {
            // Protobuf JSON encodes Duration as a string: "37s", "0.5s", "1.000340s".
            serde_json::Value::String(s) => {
                let s = s.trim().strip_suffix('s')?;
                parse_seconds(s).and_then(secs_to_duration)
            }
            // Some encoders emit {"seconds": 37, "nanos": 0}.
            serde_json::Value::Object(o) => {
                let secs = o.get("seconds").and_then(json_number).unwrap_or(0.0);
                let nanos = o.get("nanos").and_then(json_number).unwrap_or(0.0);
                secs_to_duration(secs + nanos / 1e9)
            }
            _ => None,
        }
    })
}

fn json_number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A non-negative finite count. Some providers send `"1000.0"`; all are floats here.
fn parse_count(s: &str) -> Option<f64> {
    let v: f64 = s.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// Plain (possibly fractional) non-negative seconds.
fn parse_seconds(s: &str) -> Option<f64> {
    let s = s.trim();
    // Rust's parser accepts "inf", "NaN" and "1e5"; only plain decimals are valid here.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

fn secs_to_duration(secs: f64) -> Option<Duration> {
    let d = Duration::try_from_secs_f64(secs).ok()?;
    (d <= MAX_HORIZON).then_some(d)
}

/// `retry-after`: delay-seconds (integer, or fractional as some providers send) or an
/// HTTP date. A date in the past means "now": zero.
fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    if let Some(secs) = parse_seconds(v) {
        return secs_to_duration(secs);
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let d = at.duration_since(now).unwrap_or(Duration::ZERO);
    (d <= MAX_HORIZON).then_some(d)
}

/// A reset value in any dialect: Go duration (`6m0s`), RFC 3339 time, or a number, which
/// is epoch milliseconds (OpenRouter), epoch seconds, or seconds from now, by magnitude.
fn parse_reset(v: &str, now: SystemTime) -> Option<SystemTime> {
    if let Some(d) = parse_go_duration(v) {
        return now.checked_add(d);
    }
    if let Some(n) = parse_seconds(v) {
        // Epoch ms are ~1.7e12, epoch seconds ~1.7e9; a relative reset is far smaller.
        let at = if n >= 1e11 {
            UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(n / 1000.0).ok()?)?
        } else if n >= 1e9 {
            UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(n).ok()?)?
        } else {
            return now.checked_add(secs_to_duration(n)?);
        };
        return within_horizon(at, now);
    }
    let t = chrono::DateTime::parse_from_rfc3339(v).ok()?;
    let secs = t.timestamp();
    let nanos = t.timestamp_subsec_nanos();
    let at = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(secs as u64, nanos))?
    } else {
        return None;
    };
    within_horizon(at, now)
}

fn within_horizon(at: SystemTime, now: SystemTime) -> Option<SystemTime> {
    match at.duration_since(now) {
        Ok(d) if d > MAX_HORIZON => None,
        // A reset in the past is still a fact worth reporting (it already reset).
        _ => Some(at),
    }
}

/// A Go `time.Duration` string as OpenAI and Groq send it: one or more `<number><unit>`
/// parts with units `h`, `m`, `s`, `ms`, `us`/`µs`, `ns`. A bare `0` is zero. Signs and
/// unitless numbers are rejected (a bare number is handled by the caller).
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    let mut parts = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" | "μs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
        parts += 1;
    }
    if parts == 0 || !total.is_finite() {
        return None;
    }
    secs_to_duration(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        // 2026-11-27T15:00:00Z
        UNIX_EPOCH + Duration::from_secs(1_795_791_600)
    }

    fn hm(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn key_wide_only_when_the_provider_says_the_account_limit_was_hit() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (&[("anthropic-ratelimit-unified-status", "rejected")], true),
            (&[("anthropic-ratelimit-unified-status", "Rejected")], true),
            (
                &[("anthropic-ratelimit-unified-status", "allowed_warning")],
                false,
            ),
            (&[("anthropic-ratelimit-unified-status", "allowed")], false),
            (
                &[
                    ("x-ratelimit-remaining-requests", "0"),
                    ("retry-after", "30"),
                ],
                false,
            ),
        ];
        for (h, want) in cases {
            assert_eq!(parse_headers(&hm(h), now()).key_wide, *want, "{h:?}");
        }
    }

    #[test]
    fn go_durations() {
        let cases: &[(&str, Option<f64>)] = &[
            ("6m0s", Some(360.0)),
            ("1.5s", Some(1.5)),
            ("120ms", Some(0.12)),
            ("2h3m4.5s", Some(7384.5)),
            ("0s", Some(0.0)),
            ("0", Some(0.0)),
            ("7.66s", Some(7.66)),
            ("2m59.56s", Some(179.56)),
            ("9m38.016s", Some(578.016)),
            ("1.984999999s", Some(1.984999999)),
            ("500us", Some(0.0005)),
            ("", None),
            ("s", None),
            ("5", None),
            ("-1s", None),
            ("5x", None),
            ("1..2s", None),
            ("99999999999h", None),
            ("1h 2m", None),
            ("NaNs", None),
        ];
        for (s, want) in cases {
            let got = parse_go_duration(s).map(|d| d.as_secs_f64());
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-6, "{s}: {g} != {w}"),
                (g, w) => assert_eq!(g, *w, "{s}"),
            }
        }
    }

    #[test]
    fn openai_headers() {
        // Values as OpenAI documents them (rate limits guide) and as Groq sends them.
        let h = hm(&[
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-limit-tokens", "150000"),
            ("x-ratelimit-remaining-requests", "59"),
            ("x-ratelimit-remaining-tokens", "149984"),
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ]);
        let info = parse_headers(&h, now());
        assert_eq!(info.entries.len(), 2);
        let r = info.entry("requests").unwrap();
        assert_eq!((r.limit, r.remaining), (Some(60.0), Some(59.0)));
        assert_eq!(r.reset_at, Some(now() + Duration::from_secs(1)));
        let t = info.entry("tokens").unwrap();
        assert_eq!((t.limit, t.remaining), (Some(150000.0), Some(149984.0)));
        assert_eq!(t.reset_at, Some(now() + Duration::from_secs(360)));
        assert_eq!(info.retry_after, None);
    }

    #[test]
    fn groq_headers_with_retry_after() {
        let h = hm(&[
            ("retry-after", "2"),
            ("x-ratelimit-limit-requests", "14400"),
            ("x-ratelimit-limit-tokens", "18000"),
            ("x-ratelimit-remaining-requests", "14370"),
            ("x-ratelimit-remaining-tokens", "17997"),
            ("x-ratelimit-reset-requests", "2m59.56s"),
            ("x-ratelimit-reset-tokens", "7.66s"),
        ]);
        let info = parse_headers(&h, now());
        assert_eq!(info.retry_after, Some(Duration::from_secs(2)));
        let r = info.entry("requests").unwrap();
        assert_eq!(r.remaining, Some(14370.0));
        assert_eq!(r.reset_at, Some(now() + Duration::from_secs_f64(179.56)));
    }

    #[test]
    fn anthropic_headers() {
        // Shape from Anthropic's rate-limits docs.
        let h = hm(&[
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", "49"),
            ("anthropic-ratelimit-requests-reset", "2026-11-27T15:00:01Z"),
            ("anthropic-ratelimit-tokens-limit", "40000"),
            ("anthropic-ratelimit-tokens-remaining", "39000"),
            ("anthropic-ratelimit-tokens-reset", "2026-11-27T15:00:06.5Z"),
            ("anthropic-ratelimit-input-tokens-limit", "30000"),
            ("anthropic-ratelimit-input-tokens-remaining", "29500"),
            (
                "anthropic-ratelimit-input-tokens-reset",
                "2026-11-27T16:00:00+01:00",
            ),
            ("anthropic-ratelimit-output-tokens-limit", "8000"),
            ("anthropic-ratelimit-output-tokens-remaining", "7990"),
            (
                "anthropic-ratelimit-output-tokens-reset",
                "2026-11-27T15:00:02Z",
            ),
            ("retry-after", "17"),
        ]);
        let info = parse_headers(&h, now());
        let names: Vec<&str> = info.entries.iter().map(|e| e.resource.as_str()).collect();
        assert_eq!(names, RESOURCES);
        assert_eq!(
            info.entry("requests").unwrap().reset_at,
            Some(now() + Duration::from_secs(1))
        );
        assert_eq!(
            info.entry("tokens").unwrap().reset_at,
            Some(now() + Duration::from_millis(6500))
        );
        // +01:00 offset: 16:00 local is 15:00 UTC.
        assert_eq!(info.entry("input_tokens").unwrap().reset_at, Some(now()));
        assert_eq!(info.entry("output_tokens").unwrap().remaining, Some(7990.0));
        assert_eq!(info.retry_after, Some(Duration::from_secs(17)));
    }

    #[test]
    fn openrouter_headers_epoch_ms() {
        let reset_ms = 1_795_791_660_000u64; // now + 60 s
        let h = hm(&[
            ("x-ratelimit-limit", "20"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset_ms.to_string()),
        ]);
        let info = parse_headers(&h, now());
        assert_eq!(info.entries.len(), 1);
        let r = info.entry("requests").unwrap();
        assert_eq!((r.limit, r.remaining), (Some(20.0), Some(0.0)));
        assert_eq!(r.reset_at, Some(now() + Duration::from_secs(60)));
    }

    #[test]
    fn retry_after_forms() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<Duration>);
        let cases: &[Case] = &[
            (&[("retry-after", "30")], Some(Duration::from_secs(30))),
            (&[("retry-after", "1.5")], Some(Duration::from_millis(1500))),
            (&[("retry-after", " 0 ")], Some(Duration::ZERO)),
            (
                &[("retry-after", "Fri, 27 Nov 2026 15:00:45 GMT")],
                Some(Duration::from_secs(45)),
            ),
            // A date in the past: retry now.
            (
                &[("retry-after", "Fri, 27 Nov 2026 14:00:00 GMT")],
                Some(Duration::ZERO),
            ),
            (
                &[("retry-after-ms", "250")],
                Some(Duration::from_millis(250)),
            ),
            // retry-after-ms wins over retry-after.
            (
                &[("retry-after", "1"), ("retry-after-ms", "1200.5")],
                Some(Duration::from_micros(1_200_500)),
            ),
            // Bad retry-after-ms falls back to retry-after.
            (
                &[("retry-after-ms", "soon"), ("retry-after", "3")],
                Some(Duration::from_secs(3)),
            ),
            (&[("retry-after", "-5")], None),
            (&[("retry-after", "soon")], None),
            (&[("retry-after", "inf")], None),
            (&[("retry-after", "NaN")], None),
            (&[("retry-after", "1e400")], None),
            (&[("retry-after", "99999999999")], None),
            (&[("retry-after", "")], None),
            (&[], None),
        ];
        for (pairs, want) in cases {
            let info = parse_headers(&hm(pairs), now());
            assert_eq!(info.retry_after, *want, "{pairs:?}");
        }
    }

    #[test]
    fn malformed_headers_are_ignored() {
        let h = hm(&[
            ("x-ratelimit-limit-requests", "lots"),
            ("x-ratelimit-remaining-requests", "-3"),
            ("x-ratelimit-reset-requests", "yesterday"),
            ("x-ratelimit-limit-tokens", "NaN"),
            ("x-ratelimit-remaining-tokens", "inf"),
            ("x-ratelimit-reset-tokens", "-1s"),
            (
                "anthropic-ratelimit-input-tokens-reset",
                "2026-13-45T99:00:00Z",
            ),
            (
                "anthropic-ratelimit-output-tokens-reset",
                "1969-01-01T00:00:00Z",
            ),
            ("x-ratelimit-reset", "99999999999999999999999"),
        ]);
        let info = parse_headers(&h, now());
        assert!(info.entries.is_empty(), "{:?}", info.entries);

        // Non-UTF-8 header bytes: ignored too.
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-ratelimit-limit-requests",
            http::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        );
        h.insert(
            "retry-after",
            http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        assert_eq!(parse_headers(&h, now()), RateLimitInfo::default());

        // One good field survives next to bad ones.
        let h = hm(&[
            ("x-ratelimit-limit-tokens", "junk"),
            ("x-ratelimit-remaining-tokens", "12.5"),
        ]);
        let info = parse_headers(&h, now());
        assert_eq!(info.entries.len(), 1);
        assert_eq!(info.entries[0].remaining, Some(12.5));
        assert_eq!(info.entries[0].limit, None);
    }

    #[test]
    fn reset_number_magnitudes() {
        let n = now();
        assert_eq!(parse_reset("30", n), Some(n + Duration::from_secs(30)));
        assert_eq!(
            parse_reset("1795791630", n),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_791_630))
        );
        assert_eq!(
            parse_reset("1795791630000", n),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_791_630))
        );
        // More than a year away: garbage.
        assert_eq!(parse_reset("4102444800000", n), None);
    }

    #[test]
    fn gemini_retry_info() {
        let body = br#"{"error":{"code":429,"message":"You exceeded your current quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}"#;
        assert_eq!(gemini_retry_delay(body), Some(Duration::from_secs(37)));
        let cases: &[(&[u8], Option<Duration>)] = &[
            (
                br#"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.5s"}]}}"#,
                Some(Duration::from_millis(500)),
            ),
            (
                br#"[{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}]}}]"#,
                Some(Duration::from_secs(2)),
            ),
            (
                br#"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":{"seconds":3,"nanos":500000000}}]}}"#,
                Some(Duration::from_millis(3500)),
            ),
            (
                br#"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37"}]}}"#,
                None,
            ),
            (
                br#"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"-1s"}]}}"#,
                None,
            ),
            (
                br#"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.Help","retryDelay":"5s"}]}}"#,
                None,
            ),
            (br#"{"error":{"details":"x"}}"#, None),
            (br#"{"error":"rate limited"}"#, None),
            (b"not json", None),
            (b"", None),
            (b"[]", None),
        ];
        for (b, want) in cases {
            assert_eq!(
                gemini_retry_delay(b),
                *want,
                "{}",
                String::from_utf8_lossy(b)
            );
        }
    }

    #[test]
    fn random_header_values_never_panic() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let names = [
            "retry-after",
            "retry-after-ms",
            "x-ratelimit-reset-tokens",
            "x-ratelimit-reset",
            "anthropic-ratelimit-tokens-reset",
            "x-ratelimit-limit-requests",
        ];
        let alphabet = b"0123456789.hmsunT:-+Z ,GMTe";
        for i in 0..500 {
            let len = (i % 24) + 1;
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let mut h = http::HeaderMap::new();
            if let Ok(val) = http::HeaderValue::from_bytes(&v) {
                h.insert(names[i % names.len()], val);
            }
            let _ = parse_headers(&h, now());
            let _ = gemini_retry_delay(&v);
        }
    }
}
