//! Classification: a pure function from what a provider answered to a [`Class`] and reason.
//!
//! OWNER: classification helper. Order: transport error, then HTTP status, then the
//! provider's error code/type, then message text, with provider-specific rules.

use crate::class::Class;

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

/// Classifies an HTTP response or transport error. A 2xx is `ok` here; probers decide
/// `bad_response` for 2xx bodies that do not parse.
pub fn classify(obs: &Observation<'_>) -> Verdict {
    let _ = obs;
    Verdict::new(Class::Unknown, "unclassified")
}

/// A short human message extracted from a provider error body (the provider's
/// `error.message` or similar), truncated. Callers must still redact it.
pub fn error_message(body: &[u8]) -> Option<String> {
    let _ = body;
    None
}
