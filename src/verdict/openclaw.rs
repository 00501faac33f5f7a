//! OpenClaw's own profile state as a verdict: a profile disabled (`disabledUntil`, e.g. for
//! billing) or in cooldown (`cooldownUntil`, e.g. after a rate limit) is skipped by the
//! gateway until then, whatever a probe says, so while it lasts it decides, with no request
//! sent. A cooldown with a `cooldownModel` holds only for that model.

use super::{Source, Verdict};
use crate::class::Class;
use crate::plan::ProfileState;

/// OpenClaw's profile state for one route: the verdict it implies while it lasts.
pub type Hold<'a> = Verdict<'a>;

/// OpenClaw's failure reasons (`disabledReason`, `cooldownReason`) as clawprobe classes.
pub fn class_of_reason(reason: Option<&str>) -> Class {
    match reason.map(str::trim) {
        Some("auth" | "auth_permanent") => Class::Auth,
        Some("billing") => Class::Billing,
        Some("rate_limit") => Class::RateLimit,
        Some("overloaded") => Class::Overloaded,
        Some("timeout") => Class::Timeout,
        Some("model_not_found") => Class::UnresolvedRef,
        Some("format") => Class::InvalidRequest,
        _ => Class::Unknown,
    }
}

/// The hold OpenClaw's state puts on `model` through this profile at `now_ms`, if any:
/// disabled first (it is the longer, graver state), then cooldown, then `blockedUntil`.
pub fn hold(state: &ProfileState, model: &str, now_ms: i64) -> Option<Hold<'static>> {
    let active = |until: Option<i64>| until.is_some_and(|u| u > now_ms);
    let verdict = |class, reason| Verdict {
        class,
        reason,
        source: Source::OpenclawState,
        as_of: None,
    };
    if active(state.disabled_until_ms) {
        return Some(verdict(
            class_of_reason(state.disabled_reason.as_deref()),
            "openclaw_disabled",
        ));
    }
    let for_model = state
        .cooldown_model
        .as_deref()
        .is_none_or(|m| m.is_empty() || m == model);
    if active(state.cooldown_until_ms) && for_model {
        return Some(verdict(
            class_of_reason(state.cooldown_reason.as_deref()),
            "openclaw_cooldown",
        ));
    }
    if active(state.blocked_until_ms) {
        return Some(verdict(
            class_of_reason(state.cooldown_reason.as_deref()),
            "openclaw_blocked",
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ProfileState {
        ProfileState {
            profile: "openai:a".into(),
            provider: "openai".into(),
            cooldown_until_ms: None,
            cooldown_reason: None,
            disabled_until_ms: None,
            disabled_reason: None,
            cooldown_model: None,
            blocked_until_ms: None,
            error_count: None,
            failure_counts: vec![],
        }
    }

    #[test]
    fn holds_while_they_last_with_the_reason_as_class() {
        let now = 1_000;
        type Case = (&'static str, ProfileState, Option<(Class, &'static str)>);
        let cases: Vec<Case> = vec![
            ("no state", state(), None),
            (
                "disabled for billing",
                ProfileState {
                    disabled_until_ms: Some(2_000),
                    disabled_reason: Some("billing".into()),
                    ..state()
                },
                Some((Class::Billing, "openclaw_disabled")),
            ),
            (
                "disabled, expired",
                ProfileState {
                    disabled_until_ms: Some(1_000),
                    disabled_reason: Some("billing".into()),
                    ..state()
                },
                None,
            ),
            (
                "permanent auth failure",
                ProfileState {
                    disabled_until_ms: Some(9_000),
                    disabled_reason: Some("auth_permanent".into()),
                    ..state()
                },
                Some((Class::Auth, "openclaw_disabled")),
            ),
            (
                "cooldown after a rate limit",
                ProfileState {
                    cooldown_until_ms: Some(1_500),
                    cooldown_reason: Some("rate_limit".into()),
                    ..state()
                },
                Some((Class::RateLimit, "openclaw_cooldown")),
            ),
            (
                "cooldown of this model",
                ProfileState {
                    cooldown_until_ms: Some(1_500),
                    cooldown_reason: Some("overloaded".into()),
                    cooldown_model: Some("m".into()),
                    ..state()
                },
                Some((Class::Overloaded, "openclaw_cooldown")),
            ),
            (
                "cooldown of another model",
                ProfileState {
                    cooldown_until_ms: Some(1_500),
                    cooldown_reason: Some("overloaded".into()),
                    cooldown_model: Some("other".into()),
                    ..state()
                },
                None,
            ),
            (
                "disabled wins over cooldown",
                ProfileState {
                    cooldown_until_ms: Some(1_500),
                    cooldown_reason: Some("rate_limit".into()),
                    disabled_until_ms: Some(5_000),
                    disabled_reason: Some("billing".into()),
                    ..state()
                },
                Some((Class::Billing, "openclaw_disabled")),
            ),
            (
                "unknown reason",
                ProfileState {
                    cooldown_until_ms: Some(1_500),
                    cooldown_reason: Some("surprise".into()),
                    ..state()
                },
                Some((Class::Unknown, "openclaw_cooldown")),
            ),
            (
                "blocked",
                ProfileState {
                    blocked_until_ms: Some(1_500),
                    ..state()
                },
                Some((Class::Unknown, "openclaw_blocked")),
            ),
        ];
        for (name, s, want) in cases {
            let got = hold(&s, "m", now).map(|v| (v.class, v.reason));
            assert_eq!(got, want, "{name}");
            if let Some(v) = hold(&s, "m", now) {
                assert_eq!((v.source, v.as_of), (Source::OpenclawState, None), "{name}");
            }
        }
    }
}
