//! The verdict of one target: one route through one credential.

use super::{
    credential_wide, CredentialHealth, Hold, Observation, Source, TargetEvidence, Verdict,
};
use crate::class::Class;

/// The newest of two observations (the first on a tie).
fn newest<'a>(a: Observation<'a>, b: Observation<'a>) -> Observation<'a> {
    if b.at > a.at {
        b
    } else {
        a
    }
}

/// The target's own evidence fused (see the module docs of [`crate::verdict`]): the
/// observation that decides, if any.
pub fn own<'a>(e: &TargetEvidence<'a>) -> Option<Observation<'a>> {
    let real = |o: Option<Observation<'a>>| o.filter(|o| o.class != Class::Skipped);
    let probed = TargetEvidence {
        metadata: real(e.metadata),
        generation: real(e.generation),
        traffic: real(e.traffic),
        ..*e
    };
    fuse(&probed).or_else(|| e.observations().next())
}

fn fuse<'a>(e: &TargetEvidence<'a>) -> Option<Observation<'a>> {
    let g = match (e.generation, e.traffic) {
        (Some(a), Some(b)) => Some(newest(a, b)),
        (a, b) => a.or(b),
    };
    match (e.metadata, g) {
        (None, g) => g,
        (m, None) => m,
        (Some(m), Some(g)) => Some(match (m.is_ok(), g.is_ok()) {
            (true, true) | (false, false) => newest(g, m),
            // A metadata success clears only what a metadata request can see, and only
            // when it came later.
            (true, false) => {
                if m.clears(g.class) && m.at > g.at {
                    m
                } else {
                    g
                }
            }
            // A generation success during this run of metadata failures proves the route
            // works: the metadata endpoint disagrees with the path requests take.
            (false, true) => {
                if g.at > e.metadata_since.unwrap_or(m.at) {
                    g
                } else {
                    m
                }
            }
        }),
    }
}

/// The verdict of one target: OpenClaw's hold on its profile while it lasts; else its own
/// evidence, where a credential-wide failure is cleared by a later success on the
/// credential and an uncleared credential-wide failure of the credential replaces a success
/// (or nothing known yet). `None` while nothing is known.
pub fn step<'a>(
    evidence: &TargetEvidence<'a>,
    credential: &CredentialHealth<'a>,
    hold: Option<Hold<'a>>,
) -> Option<Verdict<'a>> {
    if hold.is_some() {
        return hold;
    }
    let mut own = own(evidence).map(Verdict::of);
    if let Some(v) = own.filter(|v| !v.is_ok()) {
        let obs = own_observation(evidence, &v);
        if let Some(ok) = obs
            .filter(credential_wide)
            .and_then(|o| credential.cleared_at(&o))
        {
            own = Some(Verdict {
                class: Class::Ok,
                reason: ok.reason,
                source: Source::Credential,
                as_of: Some(ok.at),
            });
        }
    }
    let Some(f) = credential.failure else {
        return own;
    };
    let from_credential = Verdict {
        source: Source::Credential,
        ..Verdict::of(f)
    };
    match own {
        None => Some(from_credential),
        Some(v) if v.is_ok() => Some(from_credential),
        // Both failing: the newer one; the target's own when it is the same observation.
        Some(v) if v.as_of.is_some_and(|at| at >= f.at) => Some(v),
        Some(_) => Some(from_credential),
    }
}

fn own_observation<'a>(e: &TargetEvidence<'a>, v: &Verdict<'a>) -> Option<Observation<'a>> {
    e.observations()
        .find(|o| o.source == v.source && Some(o.at) == v.as_of && o.class == v.class)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use std::time::SystemTime;

    fn ev(
        m: Option<Observation<'static>>,
        since: Option<u64>,
        g: Option<Observation<'static>>,
    ) -> TargetEvidence<'static> {
        TargetEvidence {
            metadata: m,
            metadata_since: since.map(t),
            generation: g,
            traffic: None,
        }
    }

    type Want = Option<(Class, Source, Option<SystemTime>)>;

    fn got(v: Option<Verdict<'_>>) -> Want {
        v.map(|v| (v.class, v.source, v.as_of))
    }

    #[test]
    fn own_evidence_of_both_tiers() {
        use Class::*;
        let cases: Vec<(&str, TargetEvidence<'static>, Want)> = vec![
            ("nothing", ev(None, None, None), None),
            (
                "metadata only",
                ev(Some(meta(Ok, 10)), None, None),
                Some((Ok, Source::Metadata, Some(t(10)))),
            ),
            (
                "generation only",
                ev(None, None, Some(gen(Billing, 10))),
                Some((Billing, Source::Generation, Some(t(10)))),
            ),
            (
                "metadata ok after generation billing: billing stays",
                ev(Some(meta(Ok, 20)), Some(20), Some(gen(Billing, 10))),
                Some((Billing, Source::Generation, Some(t(10)))),
            ),
            (
                "metadata ok after generation rate_limit: rate_limit stays",
                ev(Some(meta(Ok, 20)), Some(20), Some(gen(RateLimit, 10))),
                Some((RateLimit, Source::Generation, Some(t(10)))),
            ),
            (
                "metadata ok after generation overloaded / server_error / timeout / bad_response",
                ev(Some(meta(Ok, 20)), Some(1), Some(gen(Overloaded, 10))),
                Some((Overloaded, Source::Generation, Some(t(10)))),
            ),
            (
                "a newer generation ok clears billing",
                ev(Some(meta(Ok, 20)), Some(5), Some(gen(Ok, 30))),
                Some((Ok, Source::Generation, Some(t(30)))),
            ),
            (
                "metadata ok after generation auth clears it (metadata can see auth)",
                ev(Some(meta(Ok, 20)), Some(20), Some(gen(Auth, 10))),
                Some((Ok, Source::Metadata, Some(t(20)))),
            ),
            (
                "an older metadata ok does not clear generation auth",
                ev(Some(meta(Ok, 5)), Some(5), Some(gen(Auth, 10))),
                Some((Auth, Source::Generation, Some(t(10)))),
            ),
            (
                "metadata auth after generation ok takes effect at once",
                ev(Some(meta(Auth, 20)), Some(20), Some(gen(Ok, 10))),
                Some((Auth, Source::Metadata, Some(t(20)))),
            ),
            (
                "metadata unresolved_ref takes effect at once",
                ev(Some(meta(UnresolvedRef, 20)), Some(20), Some(gen(Ok, 10))),
                Some((UnresolvedRef, Source::Metadata, Some(t(20)))),
            ),
            (
                "a generation ok during the same run of metadata failures wins",
                ev(Some(meta(UnresolvedRef, 40)), Some(20), Some(gen(Ok, 30))),
                Some((Ok, Source::Generation, Some(t(30)))),
            ),
            (
                "both ok: the newer",
                ev(Some(meta(Ok, 40)), Some(1), Some(gen(Ok, 30))),
                Some((Ok, Source::Metadata, Some(t(40)))),
            ),
            (
                "both failing: the newer",
                ev(Some(meta(Auth, 40)), Some(40), Some(gen(Billing, 30))),
                Some((Auth, Source::Metadata, Some(t(40)))),
            ),
        ];
        let none = CredentialHealth::default();
        for (name, e, want) in cases {
            assert_eq!(got(step(&e, &none, None)), want, "{name}");
        }
    }

    /// Every (metadata, generation, order, OpenClaw hold) combination against the rules.
    #[test]
    fn every_combination_obeys_the_rules() {
        let classes: Vec<Option<Class>> = std::iter::once(None)
            .chain(
                Class::ALL
                    .iter()
                    .copied()
                    .filter(|c| *c != Class::Skipped)
                    .map(Some),
            )
            .collect();
        let hold = Verdict {
            class: Class::RateLimit,
            reason: "openclaw_cooldown",
            source: Source::OpenclawState,
            as_of: None,
        };
        let mut checked = 0;
        for &mc in &classes {
            for &gc in &classes {
                // (metadata at, run start, generation at)
                for (ma, ms, ga) in [(20, 20, 10), (20, 5, 10), (10, 10, 20)] {
                    let e = ev(mc.map(|c| meta(c, ma)), Some(ms), gc.map(|c| gen(c, ga)));
                    let cred = CredentialHealth::fold(e.observations());
                    assert_eq!(step(&e, &cred, Some(hold)), Some(hold));
                    let v = step(&e, &cred, None);
                    assert_eq!(v, step(&e, &cred, None), "deterministic");
                    let name = format!("meta {mc:?}@{ma} since {ms}, gen {gc:?}@{ga}");
                    match (mc, gc) {
                        (None, None) => assert_eq!(v, None, "{name}"),
                        // A generation failure only generation can see is never cleared
                        // by metadata.
                        (_, Some(g)) if !g.is_ok() && !crate::verdict::metadata_can_see(g) => {
                            assert!(!v.unwrap().is_ok(), "{name}")
                        }
                        // A metadata failure newer than the last generation success, and
                        // not contradicted by one during its run, takes effect.
                        (Some(m), Some(g)) if !m.is_ok() && g.is_ok() && ms > ga => {
                            assert_eq!(v.unwrap().class, m, "{name}")
                        }
                        (Some(m), None) => assert_eq!(v.unwrap().class, m, "{name}"),
                        (None, Some(g)) => assert_eq!(v.unwrap().class, g, "{name}"),
                        (Some(m), Some(g)) if m.is_ok() && g.is_ok() => {
                            assert!(v.unwrap().is_ok(), "{name}")
                        }
                        _ => assert!(v.is_some(), "{name}"),
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 13 * 13 * 3);
    }

    #[test]
    fn traffic_counts_as_generation() {
        let e = TargetEvidence {
            metadata: Some(meta(Class::Ok, 20)),
            metadata_since: Some(t(20)),
            generation: Some(gen(Class::Billing, 10)),
            traffic: Some(traffic(Class::Ok, 15)),
        };
        let c = CredentialHealth::fold(e.observations());
        // Billing cleared by real traffic; both tiers ok now, the newer decides.
        assert_eq!(
            got(step(&e, &c, None)),
            Some((Class::Ok, Source::Metadata, Some(t(20))))
        );
        let e = TargetEvidence {
            traffic: Some(traffic(Class::RateLimit, 25)),
            ..e
        };
        assert_eq!(
            got(step(&e, &CredentialHealth::fold(e.observations()), None)),
            Some((Class::RateLimit, Source::Traffic, Some(t(25))))
        );
    }

    #[test]
    fn credential_wide_classes_cross_routes() {
        use Class::*;
        // Route A saw billing; route B on the same key only had metadata successes.
        let a = ev(Some(meta(Ok, 20)), Some(20), Some(gen(Billing, 10)));
        let b = ev(Some(meta(Ok, 30)), Some(1), None);
        let c = CredentialHealth::fold(a.observations().chain(b.observations()));
        assert_eq!(
            got(step(&a, &c, None)),
            Some((Billing, Source::Generation, Some(t(10))))
        );
        assert_eq!(
            got(step(&b, &c, None)),
            Some((Billing, Source::Credential, Some(t(10))))
        );
        // Nothing known yet of route C: the credential's billing already holds.
        assert_eq!(
            got(step(&TargetEvidence::default(), &c, None)),
            Some((Billing, Source::Credential, Some(t(10))))
        );
        // A later generation success on route B clears billing for A as well.
        let b = ev(Some(meta(Ok, 30)), Some(1), Some(gen(Ok, 40)));
        let c = CredentialHealth::fold(a.observations().chain(b.observations()));
        assert_eq!(
            got(step(&a, &c, None)),
            Some((Ok, Source::Credential, Some(t(40))))
        );
        // A rate limit stays with its route …
        let a = ev(Some(meta(Ok, 20)), Some(1), Some(gen(RateLimit, 10)));
        let c = CredentialHealth::fold(a.observations().chain(b.observations()));
        assert_eq!(got(step(&a, &c, None)).map(|v| v.0), Some(RateLimit));
        let b_only = ev(Some(meta(Ok, 30)), Some(1), None);
        let c = CredentialHealth::fold(a.observations().chain(b_only.observations()));
        assert_eq!(got(step(&b_only, &c, None)).map(|v| v.0), Some(Ok));
        // … unless the provider said it is the key's.
        let wide = Observation {
            key_wide: true,
            ..gen(RateLimit, 10)
        };
        let a = ev(Some(meta(Ok, 20)), Some(1), Some(wide));
        let c = CredentialHealth::fold(a.observations().chain(b_only.observations()));
        assert_eq!(
            got(step(&b_only, &c, None)),
            Some((RateLimit, Source::Credential, Some(t(10))))
        );
        // Both failing: the newer failure.
        let own_timeout = ev(None, None, Some(gen(Timeout, 5)));
        let c = CredentialHealth::fold(own_timeout.observations().chain([gen(Billing, 10)]));
        assert_eq!(
            got(step(&own_timeout, &c, None)),
            Some((Billing, Source::Credential, Some(t(10))))
        );
        let own_timeout = ev(None, None, Some(gen(Timeout, 15)));
        let c = CredentialHealth::fold(own_timeout.observations().chain([gen(Billing, 10)]));
        assert_eq!(
            got(step(&own_timeout, &c, None)),
            Some((Timeout, Source::Generation, Some(t(15))))
        );
    }

    #[test]
    fn openclaw_hold_decides_while_it_lasts() {
        let hold = Verdict {
            class: Class::Billing,
            reason: "openclaw_disabled",
            source: Source::OpenclawState,
            as_of: None,
        };
        let e = ev(Some(meta(Class::Ok, 20)), Some(1), Some(gen(Class::Ok, 30)));
        let c = CredentialHealth::fold(e.observations());
        assert_eq!(step(&e, &c, Some(hold)), Some(hold));
        assert_eq!(
            step(
                &TargetEvidence::default(),
                &CredentialHealth::default(),
                Some(hold)
            ),
            Some(hold)
        );
    }
}
