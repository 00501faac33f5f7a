//! Classification: a pure function from what a provider answered to a [`Class`] and reason.
//!
//! Order: transport error, then HTTP status, then the provider's error code/type, then
//! message text, with provider-specific rules first and generic rules after them. The order
//! matters because providers reuse the same words for different things: OpenAI's 429
//! `insufficient_quota` is an empty wallet (billing) while Gemini's 429 "You exceeded your
//! current quota, please check your plan and billing details" is a rate limit; Gemini and xAI
//! report a bad key as 400, not 401.
//!
//! Reasons are short machine words from the bounded list [`REASONS`], so they are safe to
//! use as a metric label. Rules return `&'static str` so no reason is ever built from input.

mod parse;
mod providers;

#[cfg(test)]
mod fixtures;

use crate::class::Class;

pub use parse::MESSAGE_MAX_CHARS;

/// A transport-level failure (no HTTP status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// The per-probe deadline passed.
    Timeout,
    /// Connection refused or reset before a response.
    Connect,
    Dns,
    Tls,
    /// The connection broke while reading the body.
    BodyInterrupted,
    /// The body exceeded the size cap.
    BodyTooLarge,
    Other,
}

/// What came back from one request.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// Normalised provider id (`openai`, `anthropic`, `google`, `openrouter`, …).
    pub provider: &'a str,
    /// API style string (`openai-completions`, …), for rules that depend on the protocol.
    pub api: &'a str,
    pub status: Option<u16>,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
    pub transport: Option<TransportError>,
}

/// The class and a short machine word (`insufficient_quota`, `model_not_found`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub class: Class,
    pub reason: String,
}

impl Verdict {
    pub fn new(class: Class, reason: impl Into<String>) -> Self {
        Verdict {
            class,
            reason: reason.into(),
        }
    }
}

/// Every reason [`classify`] can return. Bounded so it can be a metric label; a test checks
/// that every verdict's reason is listed here.
pub const REASONS: &[&str] = &[
    // ok
    "ok",
    // transport
    "deadline_exceeded",
    "connection_refused",
    "dns",
    "tls",
    "connection_reset",
    "body_too_large",
    "transport_error",
    "no_response",
    // auth
    "invalid_api_key",
    "authentication_error",
    "token_expired",
    "permission_denied",
    "unsupported_region",
    "model_access_denied",
    // billing
    "insufficient_quota",
    "credit_balance_too_low",
    "insufficient_credits",
    "insufficient_balance",
    "key_limit_exceeded",
    "spending_limit_reached",
    "billing_required",
    "payment_required",
    // rate limit
    "rate_limit_exceeded",
    "rate_limit_error",
    "resource_exhausted",
    // unresolved ref
    "model_not_found",
    "not_found",
    // overloaded
    "overloaded_error",
    "overloaded",
    "slow_down",
    "flex_tier_capacity_exceeded",
    "no_available_provider",
    "service_unavailable",
    // server error
    "api_error",
    "internal_error",
    "upstream_error",
    "gateway_timeout",
    // timeout
    "request_timeout",
    // invalid request
    "invalid_request_error",
    "invalid_argument",
    "failed_precondition",
    "request_too_large",
    "context_length_exceeded",
    "unsupported_parameter",
    "moderation",
    "unprocessable_entity",
    // status-only fallbacks
    "http_400",
    "http_401",
    "http_402",
    "http_403",
    "http_404",
    "http_408",
    "http_409",
    "http_413",
    "http_422",
    "http_429",
    "http_500",
    "http_502",
    "http_503",
    "http_529",
    "http_4xx",
    "http_5xx",
    "http_other",
];

/// Classifies an HTTP response or transport error. A 2xx is `ok` here; probers decide
/// `bad_response` for 2xx bodies that do not parse.
pub fn classify(obs: &Observation<'_>) -> Verdict {
    let (class, reason) = classify_static(obs);
    Verdict::new(class, reason)
}

/// [`classify`] with a `'static` reason, which keeps the vocabulary closed by construction.
pub fn classify_static(obs: &Observation<'_>) -> (Class, &'static str) {
    if let Some(t) = obs.transport {
        return match t {
            TransportError::Timeout => (Class::Timeout, "deadline_exceeded"),
            TransportError::Connect => (Class::Network, "connection_refused"),
            TransportError::Dns => (Class::Network, "dns"),
            TransportError::Tls => (Class::Network, "tls"),
            TransportError::BodyInterrupted => (Class::Network, "connection_reset"),
            TransportError::BodyTooLarge => (Class::BadResponse, "body_too_large"),
            TransportError::Other => (Class::Network, "transport_error"),
        };
    }
    let Some(status) = obs.status else {
        return (Class::Unknown, "no_response");
    };
    if (200..300).contains(&status) {
        return (Class::Ok, "ok");
    }
    let content_type = obs
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let body = parse::parse(obs.body, content_type);
    if body.html {
        // A proxy or load balancer answered, not the provider: its words mean nothing to
        // the provider rules, so only the status counts.
        return providers::by_status(status);
    }
    let family = providers::Family::of(obs.provider, obs.api).refine(&body);
    providers::provider_rules(family, status, &body)
        .or_else(|| providers::generic_rules(status, &body))
        .unwrap_or_else(|| providers::by_status(status))
}

/// A short human message extracted from a provider error body (the provider's
/// `error.message`, an `error` string, `message`, or `detail`), whitespace collapsed, things
/// that look like API keys masked, truncated to [`MESSAGE_MAX_CHARS`] characters. For an
/// HTML error page it is the page title. Callers must still redact it.
pub fn error_message(body: &[u8]) -> Option<String> {
    parse::error_message(body)
}

/// [`error_message`] cut at `max_chars` instead: for callers that redact the message with
/// the credential's own secrets and cut it themselves afterwards
/// ([`crate::secret::redact_cut`]), since a key must be whole to be recognised.
pub fn error_message_within(body: &[u8], max_chars: usize) -> Option<String> {
    parse::error_message_within(body, max_chars)
}
