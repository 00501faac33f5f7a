//! The bounded sets of outcomes: the class of a probe result, and why a due probe was not
//! sent. Both are metric labels, so they never grow at runtime.

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

/// Why a due probe was not sent: the `reason` of `clawprobe_probes_skipped_total`, from
/// the scheduler's gates to the metrics and `/probe` as this type, never as a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// The generation budget is spent.
    Budget,
    /// The credential is backing off after rate_limit / overloaded results.
    Backoff,
    /// The provider asked to wait (retry-after, or a rate-limit reset with nothing left).
    RetryAfter,
    /// A real request through the route succeeded more recently (OpenClaw's own log): a
    /// synthetic generation probe would tell nothing new, so its tokens are saved.
    TrafficFresh,
}

impl SkipReason {
    pub const ALL: [SkipReason; 4] = [
        SkipReason::Budget,
        SkipReason::Backoff,
        SkipReason::RetryAfter,
        SkipReason::TrafficFresh,
    ];

    /// The `reason` label of `clawprobe_probes_skipped_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Budget => "budget",
            SkipReason::Backoff => "backoff",
            SkipReason::RetryAfter => "retry_after",
            SkipReason::TrafficFresh => "traffic_fresh",
        }
    }
}

impl std::fmt::Display for SkipReason {
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
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
    }
}
