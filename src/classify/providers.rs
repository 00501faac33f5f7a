//! Classification rules: provider-specific first, generic after, status-only last.
//!
//! Each rule set returns `None` when it has nothing to say so the next one can decide.
//! Literals are lowercase because [`ErrorBody`] is lowercased when parsed.

use super::parse::ErrorBody;
use crate::class::Class;

type Rule = Option<(Class, &'static str)>;

/// Providers whose error vocabulary needs its own rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    OpenAi,
    Anthropic,
    Gemini,
    OpenRouter,
    Groq,
    Other,
}

impl Family {
    pub fn of(provider: &str, api: &str) -> Family {
        let p = provider.to_ascii_lowercase();
        match p.as_str() {
            "openai" | "openai-codex" => return Family::OpenAi,
            "anthropic" => return Family::Anthropic,
            "openrouter" => return Family::OpenRouter,
            "groq" => return Family::Groq,
            _ if p.starts_with("google") || p.contains("gemini") || p.contains("vertex") => {
                return Family::Gemini
            }
            _ => {}
        }
        match api {
            "anthropic-messages" => Family::Anthropic,
            "google-generative-ai" => Family::Gemini,
            _ => Family::Other,
        }
    }

    /// For a provider id we do not know, a Google RPC status in the body (`error.status`
    /// like `RESOURCE_EXHAUSTED`) means a Google front end answered (Vertex, a Gemini
    /// proxy, an alias), and Gemini's rules apply.
    pub fn refine(self, b: &ErrorBody) -> Family {
        const GOOGLE_STATUSES: [&str; 9] = [
            "invalid_argument",
            "failed_precondition",
            "unauthenticated",
            "permission_denied",
            "not_found",
            "resource_exhausted",
            "internal",
            "unavailable",
            "deadline_exceeded",
        ];
        if self == Family::Other && GOOGLE_STATUSES.contains(&b.etype.as_str()) {
            Family::Gemini
        } else {
            self
        }
    }
}

// Word lists shared by several rules.

/// A key that the provider does not accept, in the words providers use.
const BAD_KEY: &[&str] = &[
    "invalid_api_key",
    "api_key_invalid",
    "incorrect api key",
    "invalid api key",
    "api key not valid",
    "api key not found",
    "api key expired",
    "invalid x-api-key",
    "no auth credentials",
];

/// An account out of money, as opposed to a per-minute limit. Deliberately no bare
/// "billing": Groq's rate-limit message links to its billing page.
const OUT_OF_MONEY: &[&str] = &[
    "insufficient_quota",
    "exceeded your current quota",
    "credit balance",
    "insufficient credits",
    "insufficient balance",
    "insufficient_balance",
    "more credits",
    "any credits",
    "available credits",
    "run out of credits",
    "out of credits",
    "spending limit",
    "spend limit",
    "enforced_spend_limit_reached",
    "key limit exceeded",
    "payment required",
    "usage limits",
    "billing_hard_limit",
    "hard limit",
];

/// The account or organisation is switched off: no key will work until a human acts.
const DISABLED: &[&str] = &[
    "organization has been disabled",
    "account has been disabled",
    "account_deactivated",
    "has been deactivated",
    "has been suspended",
];

/// Region blocks (OpenAI 403, Gemini 400 FAILED_PRECONDITION).
const REGION: &[&str] = &[
    "unsupported_country_region_territory",
    "country, region, or territory not supported",
    "user location is not supported",
];

const OVERLOADED: &[&str] = &[
    "overloaded",
    "high demand",
    "capacity",
    "slow down",
    "no available",
];

/// Picks the billing reason from the words in the body.
fn billing_reason(b: &ErrorBody) -> &'static str {
    if b.is("insufficient_quota") || b.has_any(&["exceeded your current quota"]) {
        "insufficient_quota"
    } else if b.has_any(&["credit balance"]) {
        "credit_balance_too_low"
    } else if b.has_any(&["key limit exceeded"]) {
        "key_limit_exceeded"
    } else if b.has_any(&[
        "spending limit",
        "spend limit",
        "enforced_spend_limit",
        "usage limits",
        "hard limit",
        "billing_hard_limit",
    ]) {
        "spending_limit_reached"
    } else if b.has_any(&["insufficient balance", "insufficient_balance"]) {
        "insufficient_balance"
    } else if b.has_any(&["credits"]) {
        "insufficient_credits"
    } else {
        "payment_required"
    }
}

/// The body says the model (not the endpoint or the account) is missing.
fn model_missing(b: &ErrorBody) -> bool {
    if b.is("model_not_found") || b.is("invalid_model") {
        return true;
    }
    let t = &b.text;
    // OpenRouter names the slug without the word "model": "No endpoints found for x/y."
    if t.contains("no endpoints found for ") || t.contains("is not a valid model id") {
        return true;
    }
    t.contains("model")
        && (t.contains("not found")
            || t.contains("does not exist")
            || t.contains("invalid model")
            || t.contains("unknown model"))
}

fn auth_reason(b: &ErrorBody, status: u16) -> &'static str {
    if b.has_any(BAD_KEY) {
        "invalid_api_key"
    } else if b.has_any(&["expired"]) && b.has_any(&["token", "oauth"]) {
        "token_expired"
    } else if b.is("authentication_error") {
        "authentication_error"
    } else if b.is("permission_error") || b.is("permission_denied") {
        "permission_denied"
    } else if status == 403 {
        "http_403"
    } else {
        "http_401"
    }
}

/// Rules that only hold for one provider, or that must win over the generic rules.
pub(crate) fn provider_rules(family: Family, status: u16, b: &ErrorBody) -> Rule {
    match family {
        Family::OpenAi => openai(status, b),
        Family::Anthropic => anthropic(status, b),
        Family::Gemini => gemini(status, b),
        Family::OpenRouter => openrouter(status, b),
        Family::Groq => groq(status, b),
        Family::Other => None,
    }
}

fn openai(status: u16, b: &ErrorBody) -> Rule {
    match status {
        403 if b.has_any(REGION) => Some((Class::Auth, "unsupported_region")),
        403 if b.has_any(&["model"]) && b.has_any(&["access"]) => {
            Some((Class::Auth, "model_access_denied"))
        }
        403 => Some((Class::Auth, auth_reason(b, status))),
        // OpenAI 429s are either a per-minute limit or an empty account; the code says which.
        429 if b.is("insufficient_quota") || b.has_any(&["exceeded your current quota"]) => {
            Some((Class::Billing, "insufficient_quota"))
        }
        503 if b.has_any(&["slow down"]) => Some((Class::Overloaded, "slow_down")),
        503 if b.has_any(&["overloaded"]) => Some((Class::Overloaded, "overloaded")),
        _ => None,
    }
}

fn anthropic(status: u16, b: &ErrorBody) -> Rule {
    // Anthropic's `error.type` is reliable; the status adds little.
    if b.has_any(&["credit balance is too low"]) {
        return Some((Class::Billing, "credit_balance_too_low"));
    }
    match b.etype.as_str() {
        "authentication_error" => Some((Class::Auth, auth_reason(b, status))),
        "permission_error" => Some((Class::Auth, "permission_denied")),
        "not_found_error" if b.message.starts_with("model:") || model_missing(b) => {
            Some((Class::UnresolvedRef, "model_not_found"))
        }
        "not_found_error" => Some((Class::UnresolvedRef, "not_found")),
        "request_too_large" => Some((Class::InvalidRequest, "request_too_large")),
        "rate_limit_error" if b.is("enforced_spend_limit_reached") => {
            Some((Class::Billing, "spending_limit_reached"))
        }
        "rate_limit_error" => Some((Class::RateLimit, "rate_limit_error")),
        "billing_error" => Some((Class::Billing, billing_reason(b))),
        "api_error" => Some((Class::ServerError, "api_error")),
        "overloaded_error" => Some((Class::Overloaded, "overloaded_error")),
        "timeout_error" => Some((Class::Timeout, "request_timeout")),
        "invalid_request_error" if b.has_any(DISABLED) => Some((Class::Auth, "permission_denied")),
        "invalid_request_error" if b.has_any(&["usage limits", "spend limit"]) => {
            Some((Class::Billing, "spending_limit_reached"))
        }
        "invalid_request_error" => Some((Class::InvalidRequest, "invalid_request_error")),
        _ => None,
    }
}

fn gemini(status: u16, b: &ErrorBody) -> Rule {
    // Depleted prepay credits: 402 since 2026, 429 RESOURCE_EXHAUSTED before. Either way
    // money, not a limit that resets by itself.
    if status == 402 || b.has_any(&["prepayment credits", "credits are depleted"]) {
        return Some((Class::Billing, "insufficient_credits"));
    }
    match (status, b.etype.as_str()) {
        (400, _) if b.has_any(BAD_KEY) => Some((Class::Auth, "invalid_api_key")),
        (_, "failed_precondition") if b.has_any(REGION) => {
            Some((Class::Auth, "unsupported_region"))
        }
        (_, "failed_precondition") if b.has_any(&["billing"]) => {
            Some((Class::Billing, "billing_required"))
        }
        (_, "failed_precondition") => Some((Class::InvalidRequest, "failed_precondition")),
        (401, _) | (_, "unauthenticated") => Some((Class::Auth, auth_reason(b, status))),
        (403, _) | (_, "permission_denied") => Some((Class::Auth, "permission_denied")),
        (404, _) | (_, "not_found") if model_missing(b) || b.has_any(&["models/"]) => {
            Some((Class::UnresolvedRef, "model_not_found"))
        }
        (404, _) => Some((Class::UnresolvedRef, "not_found")),
        // Gemini's quota message mentions "plan and billing details", but a 429 here is a
        // per-minute/per-day limit that resets on its own: a rate limit, not billing.
        (429, _) | (_, "resource_exhausted") => Some((Class::RateLimit, "resource_exhausted")),
        (400, "invalid_argument") => Some((Class::InvalidRequest, "invalid_argument")),
        (500, _) | (_, "internal") => Some((Class::ServerError, "internal_error")),
        (503, _) | (_, "unavailable") if b.has_any(OVERLOADED) => {
            Some((Class::Overloaded, "overloaded"))
        }
        (503, _) | (_, "unavailable") => Some((Class::ServerError, "service_unavailable")),
        (504, _) | (_, "deadline_exceeded") => Some((Class::Timeout, "deadline_exceeded")),
        _ => None,
    }
}

fn openrouter(status: u16, b: &ErrorBody) -> Rule {
    match status {
        400 if model_missing(b) => Some((Class::UnresolvedRef, "model_not_found")),
        401 => Some((Class::Auth, auth_reason(b, status))),
        402 => Some((Class::Billing, billing_reason(b))),
        403 if b.has_any(&["key limit exceeded"]) => Some((Class::Billing, "key_limit_exceeded")),
        403 if b.has_any(&["moderation", "flagged"]) => Some((Class::InvalidRequest, "moderation")),
        // "No endpoints found that support tool use": the model exists, the request asks
        // for something no provider of it offers.
        404 if b.has_any(&["no endpoints found that support"]) => {
            Some((Class::InvalidRequest, "unsupported_parameter"))
        }
        404 => Some((Class::UnresolvedRef, "model_not_found")),
        408 => Some((Class::Timeout, "request_timeout")),
        // OpenRouter relays upstream 429s; whatever the upstream said, it is a rate limit
        // at the provider OpenRouter picked, not an empty OpenRouter wallet (that is 402).
        429 => Some((Class::RateLimit, "rate_limit_exceeded")),
        502 => Some((Class::ServerError, "upstream_error")),
        503 => Some((Class::Overloaded, "no_available_provider")),
        _ => None,
    }
}

fn groq(status: u16, b: &ErrorBody) -> Rule {
    match status {
        498 => Some((Class::Overloaded, "flex_tier_capacity_exceeded")),
        503 => Some((Class::Overloaded, "service_unavailable")),
        // Groq's TPM message ("Request too large … on tokens per minute") comes as 413 with
        // code rate_limit_exceeded: the request can never fit the per-minute budget.
        413 if b.is("rate_limit_exceeded") => Some((Class::InvalidRequest, "request_too_large")),
        _ => None,
    }
}

/// Rules that hold across providers: OpenAI-compatible codes, then status plus text.
pub(crate) fn generic_rules(status: u16, b: &ErrorBody) -> Rule {
    // Codes and types that mean the same thing wherever they appear.
    if b.is("model_not_found") || b.is("invalid_model") {
        return Some((Class::UnresolvedRef, "model_not_found"));
    }
    if b.is("insufficient_quota") {
        return Some((Class::Billing, "insufficient_quota"));
    }
    if b.is("context_length_exceeded") {
        return Some((Class::InvalidRequest, "context_length_exceeded"));
    }
    if b.is("overloaded_error") {
        return Some((Class::Overloaded, "overloaded_error"));
    }
    let v = match status {
        400 => {
            if b.has_any(BAD_KEY) {
                (Class::Auth, "invalid_api_key")
            } else if b.has_any(DISABLED) {
                (Class::Auth, "permission_denied")
            } else if model_missing(b) {
                (Class::UnresolvedRef, "model_not_found")
            } else if b.has_any(OUT_OF_MONEY) {
                (Class::Billing, billing_reason(b))
            } else if b.has_any(REGION) {
                (Class::Auth, "unsupported_region")
            } else if b.is("invalid_request_error") {
                (Class::InvalidRequest, "invalid_request_error")
            } else {
                (Class::InvalidRequest, "http_400")
            }
        }
        401 => (Class::Auth, auth_reason(b, status)),
        402 => (Class::Billing, billing_reason(b)),
        403 => {
            // Moderation first: OpenRouter-style moderation messages add "No credits were
            // charged", which is not a billing problem.
            if b.has_any(&["moderation", "flagged"]) {
                (Class::InvalidRequest, "moderation")
            } else if b.has_any(OUT_OF_MONEY) || b.has_any(&["credits"]) {
                (Class::Billing, billing_reason(b))
            } else if b.has_any(REGION) {
                (Class::Auth, "unsupported_region")
            } else {
                (Class::Auth, auth_reason(b, status))
            }
        }
        404 => {
            if model_missing(b) {
                (Class::UnresolvedRef, "model_not_found")
            } else {
                (Class::UnresolvedRef, "not_found")
            }
        }
        408 => (Class::Timeout, "request_timeout"),
        413 => (Class::InvalidRequest, "request_too_large"),
        422 => (Class::InvalidRequest, "unprocessable_entity"),
        429 => {
            if b.has_any(OUT_OF_MONEY) {
                (Class::Billing, billing_reason(b))
            } else {
                (Class::RateLimit, "rate_limit_exceeded")
            }
        }
        498 => (Class::Overloaded, "flex_tier_capacity_exceeded"),
        503 if b.has_any(OVERLOADED) => (Class::Overloaded, "overloaded"),
        529 => (Class::Overloaded, "overloaded_error"),
        _ => return None,
    };
    Some(v)
}

/// The class of a bare status, for HTML error pages and anything no rule matched.
pub(crate) fn by_status(status: u16) -> (Class, &'static str) {
    match status {
        200..=299 => (Class::Ok, "ok"),
        400 => (Class::InvalidRequest, "http_400"),
        401 => (Class::Auth, "http_401"),
        402 => (Class::Billing, "http_402"),
        403 => (Class::Auth, "http_403"),
        404 => (Class::UnresolvedRef, "http_404"),
        408 => (Class::Timeout, "http_408"),
        409 => (Class::Unknown, "http_409"),
        413 => (Class::InvalidRequest, "http_413"),
        422 => (Class::InvalidRequest, "http_422"),
        429 => (Class::RateLimit, "http_429"),
        500 => (Class::ServerError, "http_500"),
        502 => (Class::ServerError, "http_502"),
        503 => (Class::ServerError, "http_503"),
        504 => (Class::ServerError, "gateway_timeout"),
        529 => (Class::Overloaded, "http_529"),
        s if (500..=599).contains(&s) => (Class::ServerError, "http_5xx"),
        s if (400..=499).contains(&s) => (Class::Unknown, "http_4xx"),
        _ => (Class::Unknown, "http_other"),
    }
}
