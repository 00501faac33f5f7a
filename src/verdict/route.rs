//! From credentials to routes, and from routes to agents.
//!
//! OpenClaw runs a request in two stages (its "model failover"): it tries the route's
//! eligible auth profiles for the provider in order, moving to the next profile after an
//! auth, billing or rate-limit failure (and skipping a profile OpenClaw holds disabled or in
//! cooldown); only when the route's profiles are used up, or on another kind of failure,
//! does it fall back to the next model of the chain. So a route is up when a credential in
//! its rotation works, and an agent is up when a route in its chain is.

use super::{Source, Verdict};
use crate::class::Class;

/// A route's verdict and the rotation step that decided it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RouteVerdict<'a> {
    pub verdict: Verdict<'a>,
    /// Index among the route's rotation targets of the credential that decided: the one
    /// that works, or the first that failed.
    pub step: usize,
}

/// Whether OpenClaw moves on to the route's next profile after this verdict of one: a
/// profile it holds (disabled, in cooldown) is passed over; a failure it classifies as
/// failover-worthy (auth, billing, rate limit, overload, a malformed request, an unknown
/// model) moves to the next profile (see `openclaw::auth::rotation`, read in 2026.4.12 and
/// 2026.9.6 and confirmed with real turns). A timeout does not (2026.9.6: a hung request
/// fails the model, whose fallback then runs); nor does a server error.
pub fn rotates(v: &Verdict<'_>) -> bool {
    v.source == Source::OpenclawState
        || matches!(
            v.class,
            Class::Auth
                | Class::Billing
                | Class::RateLimit
                | Class::Overloaded
                | Class::InvalidRequest
                | Class::UnresolvedRef
        )
}

/// How many times OpenClaw rotates to another profile after a rate limit, and after an
/// overload, before it falls back to the next model: `auth.cooldowns.
/// rateLimitedProfileRotations` / `overloadedProfileRotations` (default 1), applied only
/// when the agent has a fallback to go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationLimits {
    pub rate_limited: u32,
    pub overloaded: u32,
}

impl Default for RotationLimits {
    fn default() -> Self {
        RotationLimits {
            rate_limited: 1,
            overloaded: 1,
        }
    }
}

/// The route's verdict from the verdicts of its rotation's credentials, in order: the
/// first that works if OpenClaw gets there; else the first failure. `limits` (when the
/// agent has fallbacks) caps the rotations after rate limits and overloads. `None` while
/// the credential OpenClaw would reach is not known yet (the first failure's credential
/// still shows it on `clawprobe_credential_status`): neither up nor down until shown.
pub fn route<'a>(
    steps: &[Option<Verdict<'a>>],
    limits: Option<RotationLimits>,
) -> Option<RouteVerdict<'a>> {
    let mut first_failure: Option<RouteVerdict<'a>> = None;
    let (mut rate_limited, mut overloaded) = (0u32, 0u32);
    for (i, v) in steps.iter().enumerate() {
        match v {
            None => return None,
            Some(v) if v.is_ok() => {
                return Some(RouteVerdict {
                    verdict: *v,
                    step: i,
                })
            }
            Some(v) => {
                let f = *first_failure.get_or_insert(RouteVerdict {
                    verdict: *v,
                    step: i,
                });
                if !rotates(v) {
                    return Some(f);
                }
                if v.source == Source::OpenclawState {
                    continue;
                }
                let (count, limit) = match (v.class, limits) {
                    (Class::RateLimit, Some(l)) => (&mut rate_limited, l.rate_limited),
                    (Class::Overloaded, Some(l)) => (&mut overloaded, l.overloaded),
                    _ => continue,
                };
                *count += 1;
                if *count > limit {
                    return Some(f);
                }
            }
        }
    }
    first_failure
}

/// What an agent's chain says as a whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentSummary {
    /// `Some(true)` when a route works; `Some(false)` when every route that can be probed
    /// is known to fail ("all models failed"); `None` while that is not known.
    pub up: Option<bool>,
    /// The primary's verdict, when known and not skipped.
    pub primary_up: Option<bool>,
    pub models_up: u32,
    /// Index (in the chain) of the route that would serve the next request.
    pub serving: Option<usize>,
}

/// Folds an agent's chain: each entry's role (primary or not) and class (`None` while not
/// known; `Skipped` routes count neither way).
pub fn agent(entries: impl IntoIterator<Item = (bool, Option<Class>)>) -> AgentSummary {
    let mut s = AgentSummary::default();
    let (mut any_probeable, mut all_known) = (false, true);
    for (i, (primary, class)) in entries.into_iter().enumerate() {
        match class {
            Some(Class::Skipped) => {}
            Some(c) => {
                any_probeable = true;
                if c.is_ok() {
                    s.models_up += 1;
                    s.serving.get_or_insert(i);
                }
                if primary {
                    s.primary_up = Some(c.is_ok());
                }
            }
            None => all_known = false,
        }
    }
    s.up = if s.models_up > 0 {
        Some(true)
    } else if any_probeable && all_known {
        Some(false)
    } else {
        None
    };
    s
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn v(class: Class, source: Source) -> Option<Verdict<'static>> {
        Some(Verdict {
            class,
            reason: class.as_str(),
            source,
            as_of: Some(t(1)),
        })
    }

    #[test]
    fn rotation_reaches_a_working_credential_only_past_rotating_failures() {
        use Class::*;
        use Source::*;
        type Case = (
            &'static str,
            Vec<Option<Verdict<'static>>>,
            Option<(Class, usize)>,
        );
        let cases: Vec<Case> = vec![
            ("no credential", vec![], None),
            ("unknown", vec![None], None),
            ("one working", vec![v(Ok, Metadata)], Some((Ok, 0))),
            (
                "first out of credits, second works: up through the second",
                vec![v(Billing, Credential), v(Ok, Generation)],
                Some((Ok, 1)),
            ),
            (
                "first rejected, second works",
                vec![v(Auth, Generation), v(Ok, Generation)],
                Some((Ok, 1)),
            ),
            (
                "first rate-limited, second works",
                vec![v(RateLimit, Generation), v(Ok, Metadata)],
                Some((Ok, 1)),
            ),
            (
                "first held by OpenClaw (any class), second works",
                vec![v(Overloaded, OpenclawState), v(Ok, Metadata)],
                Some((Ok, 1)),
            ),
            (
                "a timeout does not rotate: the model fails over instead",
                vec![v(Timeout, Generation), v(Ok, Generation)],
                Some((Timeout, 0)),
            ),
            (
                "a server error does not rotate",
                vec![v(ServerError, Generation), v(Ok, Generation)],
                Some((ServerError, 0)),
            ),
            (
                "an overload rotates once",
                vec![v(Overloaded, Generation), v(Ok, Generation)],
                Some((Ok, 1)),
            ),
            (
                "a second rate limit is past the default limit of one rotation",
                vec![
                    v(RateLimit, Generation),
                    v(RateLimit, Generation),
                    v(Ok, Metadata),
                ],
                Some((RateLimit, 0)),
            ),
            (
                "billing rotates through every profile",
                vec![
                    v(Billing, Generation),
                    v(Billing, Credential),
                    v(Ok, Metadata),
                ],
                Some((Ok, 2)),
            ),
            (
                "an unknown model through one key rotates",
                vec![v(UnresolvedRef, Metadata), v(Ok, Metadata)],
                Some((Ok, 1)),
            ),
            (
                "every profile fails: the first failure's class",
                vec![v(Billing, Generation), v(RateLimit, Generation)],
                Some((Billing, 0)),
            ),
            (
                "rotation stops at a non-rotating failure",
                vec![
                    v(Billing, Generation),
                    v(Timeout, Generation),
                    v(Ok, Metadata),
                ],
                Some((Billing, 0)),
            ),
            (
                "second not known yet: not known",
                vec![v(Billing, Generation), None],
                None,
            ),
            (
                "not known past a non-rotating failure does not matter",
                vec![v(Timeout, Generation), None],
                Some((Timeout, 0)),
            ),
        ];
        for (name, steps, want) in cases {
            let got =
                route(&steps, Some(RotationLimits::default())).map(|r| (r.verdict.class, r.step));
            assert_eq!(got, want, "{name}");
        }
        // Without a fallback to go to, OpenClaw rotates through every rate-limited profile.
        let limited = [
            v(RateLimit, Generation),
            v(RateLimit, Generation),
            v(Ok, Metadata),
        ];
        assert_eq!(
            route(&limited, None).map(|r| (r.verdict.class, r.step)),
            Some((Ok, 2))
        );
    }

    #[test]
    fn agent_is_up_when_a_route_is_and_says_which_serves() {
        use Class::*;
        type Case = (&'static str, Vec<(bool, Option<Class>)>, AgentSummary);
        let cases: Vec<Case> = vec![
            (
                "primary times out, only fallback overloaded: all models failed",
                vec![(true, Some(Timeout)), (false, Some(Overloaded))],
                AgentSummary {
                    up: Some(false),
                    primary_up: Some(false),
                    models_up: 0,
                    serving: None,
                },
            ),
            (
                "primary rate-limited, fallbacks billing and unresolved",
                vec![
                    (true, Some(RateLimit)),
                    (false, Some(Billing)),
                    (false, Some(UnresolvedRef)),
                ],
                AgentSummary {
                    up: Some(false),
                    primary_up: Some(false),
                    models_up: 0,
                    serving: None,
                },
            ),
            (
                "primary down, second fallback serves",
                vec![
                    (true, Some(Billing)),
                    (false, Some(Skipped)),
                    (false, Some(Ok)),
                ],
                AgentSummary {
                    up: Some(true),
                    primary_up: Some(false),
                    models_up: 1,
                    serving: Some(2),
                },
            ),
            (
                "a route not known yet: unknown unless another works",
                vec![(true, Some(Billing)), (false, None)],
                AgentSummary {
                    up: None,
                    primary_up: Some(false),
                    models_up: 0,
                    serving: None,
                },
            ),
            (
                "only skipped routes: unknown",
                vec![(true, Some(Skipped))],
                AgentSummary::default(),
            ),
            (
                "primary serves",
                vec![(true, Some(Ok)), (false, Some(Ok))],
                AgentSummary {
                    up: Some(true),
                    primary_up: Some(true),
                    models_up: 2,
                    serving: Some(0),
                },
            ),
        ];
        for (name, entries, want) in cases {
            assert_eq!(agent(entries), want, "{name}");
        }
    }
}
