//! Real traffic as evidence: what OpenClaw's own log showed for a route
//! ([`crate::traffic::RouteEvidence`]) as [`Observation`]s of source `traffic`, as good as a
//! generation probe (a real request generated).
//!
//! OpenClaw logs which profile failed (`embedded_run_failover_decision`) but never which
//! one served: a success, and a failure of the whole route (`candidate_failed`, after the
//! route's profiles were tried), name the route, not a credential. So they are evidence
//! about a credential only when the route has just one ([`attributable`]); on a route that
//! rotates over several they are evidence about the route as a whole ([`route`]).

use super::{Observation, Source};
use crate::class::Class;
use crate::plan::{ProbePlan, TargetId};
use crate::traffic::{CredentialRef, RouteEvidence, TrafficFailure, TrafficState};
use std::time::SystemTime;

fn failure(f: &TrafficFailure) -> Observation<'static> {
    Observation {
        class: f.class,
        reason: f.reason.as_str(),
        at: f.at,
        source: Source::Traffic,
        key_wide: false,
    }
}

fn success(at: SystemTime) -> Observation<'static> {
    Observation {
        class: Class::Ok,
        reason: "ok",
        at,
        source: Source::Traffic,
        key_wide: false,
    }
}

fn newest(
    a: Option<Observation<'static>>,
    b: Option<Observation<'static>>,
) -> Option<Observation<'static>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.at > a.at { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// By target id: whether every chain entry that uses the target tries only it (a rotation
/// of one credential), so what real traffic shows for its route is evidence about this
/// credential.
pub fn attributable(plan: &ProbePlan) -> Vec<bool> {
    let mut single = vec![true; plan.targets.len()];
    let mut used = vec![false; plan.targets.len()];
    for e in plan.agents.iter().flat_map(|a| &a.entries) {
        let rotation = e.rotation_targets();
        for &t in &rotation {
            if t < single.len() {
                used[t] = true;
                single[t] &= rotation.len() == 1;
            }
        }
    }
    single.iter().zip(used).map(|(s, u)| *s && u).collect()
}

/// What real traffic showed about target `t`'s credential on its route: the newest of the
/// failures logged for that profile and, when the route has only this credential, the
/// route's own latest success and failure.
pub fn target(
    state: &TrafficState,
    plan: &ProbePlan,
    t: TargetId,
    attributable: bool,
) -> Option<Observation<'static>> {
    let target = plan.targets.get(t)?;
    let ev = state.route(&target.provider, &target.model)?;
    let label = target.credential_label();
    let own = ev
        .credential_failures
        .get(&CredentialRef::Profile(label))
        .map(failure);
    if attributable {
        newest(own, route(ev))
    } else {
        own
    }
}

/// What real traffic showed about a route as a whole: its latest success or failure.
pub fn route(ev: &RouteEvidence) -> Option<Observation<'static>> {
    newest(
        ev.last_success.map(success),
        ev.last_failure.as_ref().map(failure),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{Credential, CredentialSource};
    use crate::plan::{AgentChain, ApiStyle, ChainEntry, RotationStep, Target};
    use crate::secret::Secret;
    use crate::traffic::event::parse_line;
    use crate::traffic::test_support::fixture_log;
    use crate::verdict::{compute, Cadence, TargetEvidence};
    use std::time::{Duration, UNIX_EPOCH};

    fn target(route: &str, profile: &str) -> Target {
        let (p, m) = route.split_once('/').unwrap();
        Target::new(
            p,
            m,
            format!("http://127.0.0.1:9/{p}/v1"),
            ApiStyle::OpenAiCompletions,
        )
        .with_credential(Credential::api_key(
            CredentialSource::Profile {
                id: profile.into(),
                store: "s".into(),
            },
            Secret::new(format!("sk-{profile}-0123456789")),
        ))
    }

    /// The agents of scripts/gen-traffic-fixtures.sh, each route on one `<provider>:manual`
    /// profile, except `healthy/gpt-ok` of agent `rotating`, tried with two profiles.
    fn plan() -> ProbePlan {
        let mut p = ProbePlan::default();
        let mut chain = |agent: &str, routes: &[&[&str]]| {
            let entries = routes
                .iter()
                .enumerate()
                .map(|(i, profiles)| {
                    let route = profiles[0];
                    let ids: Vec<TargetId> = profiles[1..]
                        .iter()
                        .map(|prof| p.intern_target(target(route, prof)))
                        .collect();
                    let (prov, model) = route.split_once('/').unwrap();
                    let mut e = ChainEntry::new(i, route);
                    e.provider = Some(prov.into());
                    e.model = Some(model.into());
                    e.target = ids.first().copied();
                    e.rotation = ids
                        .iter()
                        .zip(&profiles[1..])
                        .map(|(&t, prof)| RotationStep {
                            credential: prof.to_string(),
                            target: Some(t),
                            skipped: None,
                        })
                        .collect();
                    e
                })
                .collect();
            p.agents.push(AgentChain {
                agent: agent.into(),
                entries,
            });
        };
        chain(
            "main",
            &[
                &["ratelimited/gpt-rl", "ratelimited:manual"],
                &["broke/gpt-broke", "broke:manual"],
                &["healthy/gpt-ok", "healthy:manual"],
            ],
        );
        chain(
            "rotating",
            &[&["healthy/gpt-ok", "healthy:manual", "healthy:second"]],
        );
        p
    }

    /// The real 2026.9.6 CLI's log of the fixture turns.
    fn state(plan: &ProbePlan) -> TrafficState {
        let mut s = TrafficState::new(plan, Duration::from_secs(900));
        for l in fixture_log("2026.9.6").lines() {
            if let Some(e) = parse_line(l.as_bytes()).unwrap() {
                s.apply(&e, UNIX_EPOCH);
            }
        }
        s
    }

    #[test]
    fn real_requests_decide_routes_with_no_probe_and_yield_to_newer_probes() {
        let p = plan();
        let s = state(&p);
        let last = s.last_event().unwrap();
        let v = compute(
            &p,
            &|_| TargetEvidence::default(),
            Some(&s),
            &Cadence::default(),
            last,
        );
        let class = |agent: usize, entry: usize| {
            v.entries[agent][entry].verdict.map(|v| (v.class, v.source))
        };
        // Nothing probed: real traffic alone. main's primary answered 429, its second
        // fallback served.
        assert_eq!(class(0, 0), Some((Class::RateLimit, Source::Traffic)));
        assert_eq!(class(0, 2), Some((Class::Ok, Source::Traffic)));
        assert_eq!(v.agents[0].serving, Some(2));
        // The rotating route: the route as a whole served.
        assert_eq!(class(1, 0), Some((Class::Ok, Source::Traffic)));
        // Attributable only where the route has one credential.
        assert_eq!(attributable(&p), vec![true, true, false, false]);

        // A generation probe after the logged failure, which succeeded: the route is up.
        let later = last + Duration::from_secs(60);
        let ok = crate::probe::ProbeResult {
            at: later,
            ..crate::probe::ProbeResult::new(0, crate::probe::Tier::Generation, Class::Ok, "ok")
        };
        let ev = |t: TargetId| TargetEvidence {
            generation: (t == 0).then(|| Observation::of(&ok)).flatten(),
            ..TargetEvidence::default()
        };
        let v = compute(&p, &ev, Some(&s), &Cadence::default(), later);
        assert_eq!(
            v.entries[0][0].verdict.map(|v| (v.class, v.source)),
            Some((Class::Ok, Source::Generation))
        );
    }
}
