//! Rate-limit and retry information parsed from provider response headers and bodies.
//!
//! OWNER: classification helper. Pure functions; no I/O.

use std::time::{Duration, SystemTime};

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
}

/// Parses OpenAI/Groq `x-ratelimit-*`, Anthropic `anthropic-ratelimit-*` and `retry-after`.
/// `now` anchors relative resets (`6m0s`, `120ms`, seconds).
pub fn parse_headers(_headers: &http::HeaderMap, _now: SystemTime) -> RateLimitInfo {
    RateLimitInfo::default()
}

/// Gemini's `error.details[].retryDelay` (`"37s"`) from a JSON error body.
pub fn gemini_retry_delay(_body: &[u8]) -> Option<Duration> {
    None
}
