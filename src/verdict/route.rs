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

/// Whether OpenClaw moves on to the route's next profile after this verdict of one.
pub fn rotates(v: &Verdict<'_>) -> bool {
    v.source == Source::OpenclawState
        || matches!(v.class, Class::Auth | Class::Billing | Class::RateLimit)
}

/// The route's verdict from the verdicts of its rotation's credentials, in order: the
/// first that works if OpenClaw gets there; else the first failure. `None` while the
/// credential OpenClaw would reach is not known yet (the first failure's credential still
/// shows it on `clawprobe_credential_status`): neither up nor down until shown.
pub fn route<'a>(steps: &[Option<Verdict<'a>>]) -> Option<RouteVerdict<'a>> {
    let mut first_failure: Option<RouteVerdict<'a>> = None;
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
                "every profile fails: the first failure's class",
                vec![v(Billing, Generation), v(RateLimit, Generation)],
                Some((Billing, 0)),
            ),
            (
                "rotation stops at a non-rotating failure",
                vec![
                    v(Billing, Generation),
                    v(Overloaded, Generation),
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
            let got = route(&steps).map(|r| (r.verdict.class, r.step));
            assert_eq!(got, want, "{name}");
        }
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
