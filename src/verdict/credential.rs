//! A credential's own health, folded from the observations of every route that uses it.
//!
//! Billing and auth belong to the key (and so does a rate limit the provider reports for
//! the whole key): seen through one model they hold for every route on the credential,
//! until a request on that credential that can see the class succeeds — a generation-grade
//! success for billing and rate limits, any success for auth (a metadata request that is
//! accepted proves the key is).

use super::{credential_wide, Observation, Source, Verdict};
use crate::class::Class;

/// What the observations of one credential's routes say about the credential.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CredentialHealth<'a> {
    /// The newest credential-wide failure that no later success on the credential cleared.
    pub failure: Option<Observation<'a>>,
    /// The newest success of any tier on the credential.
    pub last_ok: Option<Observation<'a>>,
    /// The newest generation-grade success on the credential.
    pub last_generation_ok: Option<Observation<'a>>,
}

fn newer<'a>(a: Option<Observation<'a>>, b: Observation<'a>) -> Option<Observation<'a>> {
    match a {
        Some(a) if a.at >= b.at => Some(a),
        _ => Some(b),
    }
}

impl<'a> CredentialHealth<'a> {
    /// Folds every observation of every target on the credential.
    pub fn fold(observations: impl IntoIterator<Item = Observation<'a>>) -> Self {
        let all: Vec<Observation<'a>> = observations.into_iter().collect();
        let mut h = CredentialHealth::default();
        for o in all.iter().filter(|o| o.is_ok()) {
            h.last_ok = newer(h.last_ok, *o);
            if o.is_generation_grade() {
                h.last_generation_ok = newer(h.last_generation_ok, *o);
            }
        }
        for o in all.iter().filter(|o| credential_wide(o)) {
            if h.cleared_at(o).is_none() {
                h.failure = newer(h.failure, *o);
            }
        }
        h
    }

    /// The success on this credential after `failure` that proves it over, if any.
    pub fn cleared_at(&self, failure: &Observation<'_>) -> Option<Observation<'a>> {
        let ok = if super::metadata_can_see(failure.class) {
            self.last_ok
        } else {
            self.last_generation_ok
        };
        ok.filter(|ok| ok.at > failure.at)
    }

    /// The credential's own status, for `clawprobe_credential_status`: OpenClaw's hold on
    /// the profile first (it is what the gateway does now), then an uncleared
    /// credential-wide failure, then `ok` once any request on it succeeded; `None` while
    /// nothing is known about the key itself (route-specific failures say nothing of it).
    pub fn status(&self, hold: Option<Verdict<'a>>) -> Option<Verdict<'a>> {
        if hold.is_some() {
            return hold;
        }
        if let Some(f) = self.failure {
            return Some(Verdict {
                source: Source::Credential,
                ..Verdict::of(f)
            });
        }
        self.last_ok.map(|o| Verdict {
            class: Class::Ok,
            ..Verdict::of(o)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn fold(obs: &[Observation<'static>]) -> CredentialHealth<'static> {
        CredentialHealth::fold(obs.iter().copied())
    }

    #[test]
    fn credential_wide_failures_and_what_clears_them() {
        let key_wide_429 = Observation {
            key_wide: true,
            ..gen(Class::RateLimit, 10)
        };
        // (observations, expected uncleared failure class)
        let cases: Vec<(&str, Vec<Observation<'static>>, Option<Class>)> = vec![
            ("nothing known", vec![], None),
            (
                "billing through one model",
                vec![gen(Class::Billing, 10)],
                Some(Class::Billing),
            ),
            (
                "metadata ok after billing does not clear it",
                vec![gen(Class::Billing, 10), meta(Class::Ok, 20)],
                Some(Class::Billing),
            ),
            (
                "a newer generation ok on another model clears billing",
                vec![
                    gen(Class::Billing, 10),
                    meta(Class::Ok, 20),
                    gen(Class::Ok, 30),
                ],
                None,
            ),
            (
                "an older generation ok does not",
                vec![gen(Class::Ok, 5), gen(Class::Billing, 10)],
                Some(Class::Billing),
            ),
            (
                "real traffic that succeeded clears billing",
                vec![gen(Class::Billing, 10), traffic(Class::Ok, 11)],
                None,
            ),
            (
                "auth is cleared by an accepted metadata request",
                vec![gen(Class::Auth, 10), meta(Class::Ok, 20)],
                None,
            ),
            (
                "auth seen by metadata",
                vec![meta(Class::Auth, 10)],
                Some(Class::Auth),
            ),
            (
                "no access to one model is that model's",
                vec![Observation {
                    reason: "model_access_denied",
                    ..gen(Class::Auth, 10)
                }],
                None,
            ),
            (
                "a model's rate limit is not the key's",
                vec![gen(Class::RateLimit, 10)],
                None,
            ),
            (
                "a key-wide rate limit is",
                vec![key_wide_429, meta(Class::Ok, 20)],
                Some(Class::RateLimit),
            ),
            (
                "overload and timeouts stay with the route",
                vec![gen(Class::Overloaded, 10), gen(Class::Timeout, 11)],
                None,
            ),
            (
                "billing stays when auth after it was cleared by metadata",
                vec![
                    gen(Class::Billing, 10),
                    meta(Class::Auth, 20),
                    meta(Class::Ok, 30),
                ],
                Some(Class::Billing),
            ),
            (
                "the newest uncleared failure wins",
                vec![gen(Class::Billing, 10), gen(Class::Auth, 20)],
                Some(Class::Auth),
            ),
        ];
        for (name, obs, want) in cases {
            assert_eq!(fold(&obs).failure.map(|f| f.class), want, "{name}");
        }
    }

    #[test]
    fn status_prefers_openclaw_hold_then_failure_then_ok() {
        let h = fold(&[gen(Class::Billing, 10), meta(Class::Ok, 20)]);
        let s = h.status(None).unwrap();
        assert_eq!(
            (s.class, s.source, s.as_of),
            (Class::Billing, Source::Credential, Some(t(10)))
        );
        let hold = Verdict {
            class: Class::RateLimit,
            reason: "rate_limit",
            source: Source::OpenclawState,
            as_of: None,
        };
        assert_eq!(h.status(Some(hold)), Some(hold));
        let ok = fold(&[meta(Class::Ok, 20), gen(Class::Timeout, 30)])
            .status(None)
            .unwrap();
        assert_eq!((ok.class, ok.as_of), (Class::Ok, Some(t(20))));
        // Route-specific failures alone say nothing about the key.
        assert_eq!(fold(&[gen(Class::Timeout, 30)]).status(None), None);
    }
}
