//! The bounded set of outcome classes. Used as a metric label, so it never grows at runtime.

use serde::{Deserialize, Serialize};

/// What a probe (or a static check of the plan) found for one model route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Ok,
    Auth,
    RateLimit,
    Billing,
    UnresolvedRef,
    Overloaded,
    ServerError,
    Timeout,
    Network,
    InvalidRequest,
    BadResponse,
    Unknown,
    /// Not probed: the API style has no prober (Bedrock, Copilot, …) or probing is disabled.
    /// Never counted as healthy, never as down.
    Skipped,
}

impl Class {
    pub const ALL: [Class; 13] = [
        Class::Ok,
        Class::Auth,
        Class::RateLimit,
        Class::Billing,
        Class::UnresolvedRef,
        Class::Overloaded,
        Class::ServerError,
        Class::Timeout,
        Class::Network,
        Class::InvalidRequest,
        Class::BadResponse,
        Class::Unknown,
        Class::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::Auth => "auth",
            Class::RateLimit => "rate_limit",
            Class::Billing => "billing",
            Class::UnresolvedRef => "unresolved_ref",
            Class::Overloaded => "overloaded",
            Class::ServerError => "server_error",
            Class::Timeout => "timeout",
            Class::Network => "network",
            Class::InvalidRequest => "invalid_request",
            Class::BadResponse => "bad_response",
            Class::Unknown => "unknown",
            Class::Skipped => "skipped",
        }
    }

    pub fn is_ok(self) -> bool {
        self == Class::Ok
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_match_serde() {
        let mut seen = std::collections::HashSet::new();
        for c in Class::ALL {
            assert!(seen.insert(c.as_str()));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.as_str()));
        }
    }
}
