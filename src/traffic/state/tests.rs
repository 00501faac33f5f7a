use super::*;
use crate::plan::{AgentChain, ChainEntry};
use crate::traffic::event::{parse_line, StepOutcome};
use crate::traffic::test_support::fixture_log;
use std::time::UNIX_EPOCH;

/// A plan with `agents`: (id, chain of "provider/model"), each entry's credential being
/// `<provider>:manual`.
fn plan(agents: &[(&str, &[&str])]) -> ProbePlan {
    let mut p = ProbePlan::default();
    for (id, chain) in agents {
        let entries = chain
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let (prov, model) = r.split_once('/').unwrap();
                ChainEntry {
                    provider: Some(prov.into()),
                    model: Some(model.into()),
                    credential_label: Some(format!("{prov}:manual")),
                    ..ChainEntry::new(i, r.to_string())
                }
            })
            .collect();
        p.agents.push(AgentChain {
            agent: id.to_string(),
            entries,
        });
    }
    p
}

/// The agents of `scripts/gen-traffic-fixtures.sh`.
fn fixture_plan() -> ProbePlan {
    plan(&[
        (
            "main",
            &["ratelimited/gpt-rl", "broke/gpt-broke", "healthy/gpt-ok"],
        ),
        ("doomed", &["revoked/gpt-auth", "broke/gpt-broke"]),
        ("coder", &["flaky/gpt-500", "healthy/gpt-ok"]),
        ("solo", &["healthy/gpt-ok"]),
    ])
}

fn fixture_events(release: &str) -> Vec<Event> {
    fixture_log(release)
        .lines()
        .filter_map(|l| parse_line(l.as_bytes()).unwrap())
        .collect()
}

fn fold(plan: &ProbePlan, events: &[Event]) -> TrafficState {
    let mut s = TrafficState::new(plan, Duration::from_secs(900));
    for e in events {
        s.apply(e, UNIX_EPOCH);
    }
    s
}

fn count(s: &TrafficState, agent: &str, route: &str, d: Decision, class: Class) -> u64 {
    let (provider, model) = route.split_once('/').unwrap();
    s.decision_counts()
        .find(|(k, _)| {
            k.agent == agent
                && k.provider == provider
                && k.model == model
                && k.decision == d
                && k.class == class
        })
        .map_or(0, |(_, n)| n)
}

fn r(s: &str) -> ModelRef {
    let (provider, model) = s.split_once('/').unwrap();
    ModelRef {
        provider: provider.into(),
        model: model.into(),
    }
}

#[test]
fn the_2026_9_6_fixture_folds_into_per_agent_and_per_route_evidence() {
    let s = fold(&fixture_plan(), &fixture_events("2026.9.6"));
    use Decision::*;
    // Attribution by primary: every agent here has its own primary.
    assert_eq!(
        count(
            &s,
            "doomed",
            "revoked/gpt-auth",
            CandidateFailed,
            Class::Auth
        ),
        1
    );
    assert_eq!(
        count(
            &s,
            "doomed",
            "broke/gpt-broke",
            CandidateFailed,
            Class::Billing
        ),
        1
    );
    assert_eq!(
        count(
            &s,
            "coder",
            "flaky/gpt-500",
            CandidateFailed,
            Class::ServerError
        ),
        1
    );
    assert_eq!(
        count(&s, "coder", "healthy/gpt-ok", CandidateSucceeded, Class::Ok),
        1
    );
    assert_eq!(
        count(
            &s,
            "main",
            "ratelimited/gpt-rl",
            CandidateFailed,
            Class::RateLimit
        ),
        1
    );
    assert_eq!(
        count(
            &s,
            "main",
            "ratelimited/gpt-rl",
            CandidateFailed,
            Class::Unknown
        ),
        1
    );
    assert_eq!(
        count(
            &s,
            "main",
            "ratelimited/gpt-rl",
            ProbeCooldownCandidate,
            Class::RateLimit
        ),
        1
    );
    assert_eq!(
        count(&s, "main", "broke/gpt-broke", SkipCandidate, Class::Billing),
        2
    );
    assert_eq!(
        count(&s, "main", "healthy/gpt-ok", CandidateSucceeded, Class::Ok),
        2
    );
    assert_eq!(s.unattributed_events, 0);
    assert_eq!(s.decision_counts().map(|(_, n)| n).sum::<u64>(), 11);
    // Chain exhausted: doomed once, nobody else (0 for every planned agent).
    let exhausted: Vec<_> = s
        .agents()
        .map(|a| (a.to_string(), s.exhausted(a)))
        .collect();
    assert_eq!(
        exhausted,
        [
            ("coder".into(), 0),
            ("doomed".into(), 1),
            ("main".into(), 0),
            ("solo".into(), 0)
        ]
    );
    // Failures per route: the cooldown probe that sent nothing is not one.
    let failures: Vec<_> = s
        .failure_counts()
        .map(|((p, m, c), n)| (format!("{p}/{m}"), *c, n))
        .collect();
    assert_eq!(
        failures,
        [
            ("broke/gpt-broke".into(), Class::Billing, 1),
            ("flaky/gpt-500".into(), Class::ServerError, 1),
            ("ratelimited/gpt-rl".into(), Class::RateLimit, 1),
            ("revoked/gpt-auth".into(), Class::Auth, 1),
        ]
    );
    // Serving model and fallback engaged, judged at the time of the last event.
    let last = s.last_event().unwrap();
    for (agent, served) in [("main", "healthy/gpt-ok"), ("coder", "healthy/gpt-ok")] {
        let sv = s.serving_now(agent, last).unwrap();
        assert_eq!(sv.route, r(served));
        assert_eq!(sv.role, Role::Fallback);
        assert!(sv.fallback && sv.planned);
        assert!(s.fallback_engaged(agent, last), "{agent}");
    }
    assert!(s.serving("doomed").is_none(), "never served");
    assert!(!s.fallback_engaged("doomed", last));
    assert!(!s.fallback_engaged("solo", last), "clean turns log nothing");
    // The window: 15 minutes after the success, the evidence has aged out.
    let later = last + Duration::from_secs(901);
    assert!(!s.fallback_engaged("main", later));
    assert!(s.serving_now("main", later).is_none());
    assert!(
        s.serving("main").is_some(),
        "kept for the seam, with its time"
    );
}

#[test]
fn route_evidence_is_the_typed_seam_for_the_verdict() {
    let s = fold(&fixture_plan(), &fixture_events("2026.9.6"));
    let t = |secs_ms: &str| {
        let d = chrono::DateTime::parse_from_rfc3339(secs_ms).unwrap();
        UNIX_EPOCH + Duration::from_millis(d.timestamp_millis() as u64)
    };
    let ok = s.route("healthy", "gpt-ok").unwrap();
    assert_eq!(ok.last_success, Some(t("2026-11-30T05:54:49.552+00:00")));
    assert_eq!(ok.last_failure, None);
    let rl = s.route("ratelimited", "gpt-rl").unwrap();
    assert_eq!(rl.last_success, None);
    assert_eq!(
        rl.last_failure,
        Some(TrafficFailure {
            class: Class::RateLimit,
            reason: Reason::RateLimit,
            status: Some(429),
            at: t("2026-11-30T05:54:23.120+00:00"),
        }),
        "the later cooldown probe sent nothing and does not replace it"
    );
    // The credential: OpenClaw's sha256 of the profile id, matched to the plan's label.
    assert_eq!(
        rl.credential_failures
            .get(&CredentialRef::Profile("ratelimited:manual".into()))
            .map(|f| (f.class, f.status)),
        Some((Class::RateLimit, Some(429)))
    );
    let broke = s.route("broke", "gpt-broke").unwrap();
    assert_eq!(broke.last_failure.as_ref().unwrap().class, Class::Billing);
    assert!(s.route("nope", "x").is_none());
    assert_eq!(s.routes().count(), 5);
}

#[test]
fn the_2026_4_12_fixture_gives_the_same_picture() {
    let s = fold(&fixture_plan(), &fixture_events("2026.4.12"));
    assert_eq!(s.exhausted("doomed"), 1);
    assert_eq!(s.exhausted("main"), 0);
    assert_eq!(s.unattributed_events, 0);
    let last = s.last_event().unwrap();
    for agent in ["main", "coder"] {
        assert_eq!(
            s.serving_now(agent, last).unwrap().route,
            r("healthy/gpt-ok")
        );
        assert!(s.fallback_engaged(agent, last), "{agent}");
    }
    assert_eq!(
        s.route("revoked", "gpt-auth")
            .unwrap()
            .last_failure
            .as_ref()
            .unwrap()
            .class,
        Class::Auth
    );
}

fn decision(d: Decision, requested: &str, candidate: &str, next: Option<&str>, t: u64) -> Event {
    Event::Decision(FallbackDecision {
        at: Some(UNIX_EPOCH + Duration::from_secs(t)),
        decision: d,
        run_id: None,
        session_id: None,
        agent: None,
        requested: Some(r(requested)),
        candidate: r(candidate),
        next: next.map(r),
        attempt: None,
        total: None,
        reason: match d {
            Decision::CandidateSucceeded => None,
            _ => Some(Reason::RateLimit),
        },
        status: None,
        is_primary: Some(requested == candidate),
        step_outcome: None,
        suppressed: 0,
    })
}

#[test]
fn several_agents_on_one_primary_are_not_guessed() {
    // Two agents on the defaults (same chain): an event could be either's.
    let p = plan(&[
        ("main", &["a/m1", "b/m2"]),
        ("research", &["a/m1", "b/m2"]),
        ("coder", &["c/m3", "b/m2"]),
    ]);
    let mut s = TrafficState::new(&p, Duration::from_secs(900));
    let e = decision(Decision::CandidateSucceeded, "a/m1", "b/m2", None, 100);
    s.apply(&e, UNIX_EPOCH);
    let Event::Decision(d) = &e else {
        unreachable!()
    };
    assert_eq!(s.attribute(d), (String::new(), Attribution::Unattributed));
    assert_eq!(s.unattributed_events, 1);
    let now = UNIX_EPOCH + Duration::from_secs(100);
    assert!(s.fallback_engaged("", now));
    assert!(!s.fallback_engaged("main", now) && !s.fallback_engaged("research", now));
    assert_eq!(s.serving_now("", now).unwrap().role, Role::Fallback);
    assert_eq!(
        s.agents().collect::<Vec<_>>(),
        ["coder", "main", "research", ""]
    );
    // A line that names the agent wins over the guess.
    let mut named = d.clone();
    named.agent = Some("research".into());
    assert_eq!(s.attribute(&named), ("research".into(), Attribution::Named));
    // A named agent outside the plan is nobody.
    named.agent = Some("ghost".into());
    assert_eq!(s.attribute(&named).1, Attribution::Unattributed);
    // The only agent with that primary, when the candidate is in its chain.
    let e = decision(Decision::CandidateFailed, "c/m3", "c/m3", Some("b/m2"), 101);
    let Event::Decision(d) = &e else {
        unreachable!()
    };
    assert_eq!(s.attribute(d), ("coder".into(), Attribution::ByPrimary));
    let e = decision(Decision::CandidateFailed, "c/m3", "z/zz", None, 101);
    let Event::Decision(d) = &e else {
        unreachable!()
    };
    assert_eq!(
        s.attribute(d).1,
        Attribution::Unattributed,
        "candidate not in its chain"
    );
}

#[test]
fn labels_outside_the_plan_are_bucketed_so_series_stay_bounded() {
    let p = plan(&[("main", &["a/m1", "b/m2"])]);
    let mut s = TrafficState::new(&p, Duration::from_secs(900));
    // A thousand distinct models OpenClaw tried that the plan does not know.
    for i in 0..1000 {
        s.apply(
            &decision(
                Decision::CandidateFailed,
                "a/m1",
                &format!("a/x{i}"),
                None,
                i,
            ),
            UNIX_EPOCH,
        );
        s.apply(
            &decision(
                Decision::CandidateFailed,
                "a/m1",
                &format!("p{i}/x"),
                None,
                i,
            ),
            UNIX_EPOCH,
        );
    }
    let keys: Vec<_> = s
        .decision_counts()
        .map(|(k, n)| (k.agent.clone(), k.provider.clone(), k.model.clone(), n))
        .collect();
    assert_eq!(
        keys,
        [
            (String::new(), "a".into(), OTHER.into(), 1000),
            (String::new(), OTHER.into(), OTHER.into(), 1000),
        ]
    );
    assert_eq!(s.failure_counts().count(), 2);
    assert_eq!(
        s.routes().count(),
        0,
        "no evidence kept for routes outside the plan"
    );
}

#[test]
fn a_success_of_the_requested_model_ends_fallback_engaged() {
    let p = plan(&[("main", &["a/m1", "b/m2"])]);
    let mut s = TrafficState::new(&p, Duration::from_secs(900));
    s.apply(
        &decision(Decision::CandidateFailed, "a/m1", "a/m1", Some("b/m2"), 10),
        UNIX_EPOCH,
    );
    s.apply(
        &decision(Decision::CandidateSucceeded, "a/m1", "b/m2", None, 11),
        UNIX_EPOCH,
    );
    let at = |t| UNIX_EPOCH + Duration::from_secs(t);
    assert!(s.fallback_engaged("main", at(12)));
    // OpenClaw probes the primary in its cooldown, and it serves: logged, role primary.
    s.apply(
        &decision(
            Decision::ProbeCooldownCandidate,
            "a/m1",
            "a/m1",
            Some("b/m2"),
            20,
        ),
        UNIX_EPOCH,
    );
    s.apply(
        &decision(Decision::CandidateSucceeded, "a/m1", "a/m1", None, 21),
        UNIX_EPOCH,
    );
    assert!(!s.fallback_engaged("main", at(22)));
    let sv = s.serving_now("main", at(22)).unwrap();
    assert_eq!((sv.role, sv.route.clone()), (Role::Primary, r("a/m1")));
    assert_eq!(s.route("a", "m1").unwrap().last_success, Some(at(21)));
    // An older event read later (another file drained late) does not win.
    s.apply(
        &decision(Decision::CandidateSucceeded, "a/m1", "b/m2", None, 15),
        UNIX_EPOCH,
    );
    assert!(!s.fallback_engaged("main", at(22)));
    assert_eq!(s.last_event(), Some(at(21)));
}

#[test]
fn suppressed_duplicates_count_and_exhaustion_uses_the_step_outcome() {
    let p = plan(&[("main", &["a/m1", "b/m2"])]);
    let mut s = TrafficState::new(&p, Duration::from_secs(900));
    let Event::Decision(mut d) = decision(Decision::CandidateFailed, "a/m1", "b/m2", None, 5)
    else {
        unreachable!()
    };
    d.reason = Some(Reason::Auth);
    d.suppressed = 4;
    s.apply(&Event::Decision(d.clone()), UNIX_EPOCH);
    assert_eq!(s.exhausted("main"), 5);
    assert_eq!(
        count(&s, "main", "b/m2", Decision::CandidateFailed, Class::Auth),
        5
    );
    // 2026.6+: the step outcome decides even when the next candidate is missing.
    d.suppressed = 0;
    d.step_outcome = Some(StepOutcome::NextFallback);
    s.apply(&Event::Decision(d), UNIX_EPOCH);
    assert_eq!(s.exhausted("main"), 5);
}

#[test]
fn a_reload_drops_series_of_agents_and_routes_that_left_the_plan() {
    let mut s = fold(&fixture_plan(), &fixture_events("2026.9.6"));
    let smaller = plan(&[("main", &["ratelimited/gpt-rl", "healthy/gpt-ok"])]);
    s.set_plan(&smaller);
    assert_eq!(s.agents().collect::<Vec<_>>(), ["main"]);
    assert!(s.decision_counts().all(|(k, _)| k.agent == "main"));
    assert!(s
        .decision_counts()
        .all(|(k, _)| k.provider != "broke" && k.provider != "flaky"));
    assert!(s.route("broke", "gpt-broke").is_none());
    assert!(s.route("healthy", "gpt-ok").is_some());
    assert_eq!(s.exhausted("doomed"), 0);
    assert!(s.serving("coder").is_none());
    assert!(s.serving("main").is_some());
}
