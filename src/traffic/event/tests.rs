use super::*;
use crate::traffic::test_support::{fixture_log, FIXTURE_RELEASES};

fn at(s: &str) -> SystemTime {
    let t = chrono::DateTime::parse_from_rfc3339(s).unwrap();
    UNIX_EPOCH + Duration::from_millis(t.timestamp_millis() as u64)
}

fn r(provider: &str, model: &str) -> ModelRef {
    ModelRef {
        provider: provider.into(),
        model: model.into(),
    }
}

fn events(release: &str) -> Vec<Event> {
    let text = fixture_log(release);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_line(line.as_bytes()) {
            Ok(Some(e)) => out.push(e),
            Ok(None) => {}
            Err(e) => panic!("{release} line {}: {e}", i + 1),
        }
    }
    out
}

fn decisions(release: &str) -> Vec<FallbackDecision> {
    events(release)
        .into_iter()
        .filter_map(|e| match e {
            Event::Decision(d) => Some(d),
            Event::Attempt(_) => None,
        })
        .collect()
}

/// The turns of `scripts/gen-traffic-fixtures.sh`, as each release logged them: (decision,
/// requested, candidate, reason, status, next, exhausts chain).
type Row = (
    Decision,
    (&'static str, &'static str),
    (&'static str, &'static str),
    Option<Reason>,
    Option<u16>,
    Option<(&'static str, &'static str)>,
    bool,
);

fn check(release: &str, want: &[Row]) {
    let got = decisions(release);
    let got: Vec<_> = got
        .iter()
        .map(|d| {
            (
                d.decision,
                d.requested.clone().unwrap(),
                d.candidate.clone(),
                d.reason,
                d.status,
                d.next.clone(),
                d.exhausts_chain(),
            )
        })
        .collect();
    let want: Vec<_> = want
        .iter()
        .map(|(k, q, c, reason, status, next, ex)| {
            (
                *k,
                r(q.0, q.1),
                r(c.0, c.1),
                *reason,
                *status,
                next.map(|n| r(n.0, n.1)),
                *ex,
            )
        })
        .collect();
    assert_eq!(got, want, "{release}");
}

use Decision::*;
const AUTH: (&str, &str) = ("revoked", "gpt-auth");
const BROKE: (&str, &str) = ("broke", "gpt-broke");
const FLAKY: (&str, &str) = ("flaky", "gpt-500");
const RL: (&str, &str) = ("ratelimited", "gpt-rl");
const OK: (&str, &str) = ("healthy", "gpt-ok");

#[test]
fn every_decision_of_the_2026_9_6_cli_log() {
    check(
        "2026.9.6",
        &[
            // doomed: 401 then 402, nothing left.
            (
                CandidateFailed,
                AUTH,
                AUTH,
                Some(Reason::Auth),
                Some(401),
                Some(BROKE),
                false,
            ),
            (
                CandidateFailed,
                AUTH,
                BROKE,
                Some(Reason::Billing),
                Some(402),
                None,
                true,
            ),
            // coder: 500 (after OpenClaw's own retries), the fallback serves.
            (
                CandidateFailed,
                FLAKY,
                FLAKY,
                Some(Reason::ServerError),
                Some(500),
                Some(OK),
                false,
            ),
            (CandidateSucceeded, FLAKY, OK, None, None, None, false),
            // main: 429, broke skipped (disabled for billing by doomed's turn), healthy serves.
            (
                CandidateFailed,
                RL,
                RL,
                Some(Reason::RateLimit),
                Some(429),
                Some(BROKE),
                false,
            ),
            (
                SkipCandidate,
                RL,
                BROKE,
                Some(Reason::Billing),
                None,
                Some(OK),
                false,
            ),
            (CandidateSucceeded, RL, OK, None, None, None, false),
            // main again: the primary probed in its cooldown; the probe sent nothing.
            (
                ProbeCooldownCandidate,
                RL,
                RL,
                Some(Reason::RateLimit),
                None,
                Some(BROKE),
                false,
            ),
            (CandidateFailed, RL, RL, None, None, Some(BROKE), false),
            (
                SkipCandidate,
                RL,
                BROKE,
                Some(Reason::Billing),
                None,
                Some(OK),
                false,
            ),
            (CandidateSucceeded, RL, OK, None, None, None, false),
        ],
    );
}

#[test]
fn fields_of_the_2026_9_6_era() {
    let d = decisions("2026.9.6");
    let first = &d[0];
    assert_eq!(first.at, Some(at("2026-11-30T05:50:03.739+00:00")));
    assert_eq!(first.attempt, Some(1));
    assert_eq!(first.total, Some(2));
    assert_eq!(first.is_primary, Some(true));
    assert_eq!(first.step_outcome, Some(StepOutcome::NextFallback));
    assert!(first.session_id.is_some() && first.run_id.is_some());
    assert_eq!(
        first.agent, None,
        "no release names the agent on these events"
    );
    assert_eq!(first.class(), Class::Auth);
    assert_eq!(d[1].step_outcome, Some(StepOutcome::ChainExhausted));
    assert_eq!(d[1].class(), Class::Billing);
    assert_eq!(d[3].step_outcome, Some(StepOutcome::Succeeded));
    assert_eq!(d[3].class(), Class::Ok);
    assert!(!d[3].candidate_is_requested());
    assert!(d[2].is_request_failure());
    assert!(
        !d[8].is_request_failure(),
        "the cooldown probe that sent nothing"
    );
    assert_eq!(d[8].class(), Class::Unknown);
    assert!(d.iter().all(|d| d.suppressed == 0));
}

#[test]
fn attempt_failures_name_the_profile_by_its_hash() {
    let attempts: Vec<AttemptFailure> = events("2026.9.6")
        .into_iter()
        .filter_map(|e| match e {
            Event::Attempt(a) => Some(a),
            Event::Decision(_) => None,
        })
        .collect();
    let got: Vec<_> = attempts
        .iter()
        .map(|a| {
            (
                a.route.provider.as_str(),
                a.action,
                a.reason,
                a.status,
                a.class(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "revoked",
                FailoverAction::FallbackModel,
                Some(Reason::Auth),
                Some(401),
                Class::Auth
            ),
            (
                "broke",
                FailoverAction::FallbackModel,
                Some(Reason::Billing),
                Some(402),
                Class::Billing
            ),
            // OpenClaw's profileFailureReason is null for a 500; failoverReason says it.
            (
                "flaky",
                FailoverAction::FallbackModel,
                Some(Reason::ServerError),
                Some(500),
                Class::ServerError
            ),
            (
                "ratelimited",
                FailoverAction::FallbackModel,
                Some(Reason::RateLimit),
                Some(429),
                Class::RateLimit
            ),
        ]
    );
    for a in &attempts {
        let p = a.profile.as_ref().unwrap();
        assert!(p.matches(&format!("{}:manual", a.route.provider)), "{p:?}");
        assert_eq!(*p, ProfileHash::of(&format!("{}:manual", a.route.provider)));
        assert!(!p.matches("someone:else"));
    }
}

#[test]
fn every_decision_of_the_2026_4_12_cli_log() {
    // Same turns; this era has no sessionId, no fallbackStep* and no route origin fields,
    // so exhaustion is read from the missing next candidate.
    check(
        "2026.4.12",
        &[
            (
                CandidateFailed,
                AUTH,
                AUTH,
                Some(Reason::Auth),
                Some(401),
                Some(BROKE),
                false,
            ),
            (
                CandidateFailed,
                AUTH,
                BROKE,
                Some(Reason::Billing),
                Some(402),
                None,
                true,
            ),
            // This release reports the 500 as a timeout (status 408).
            (
                CandidateFailed,
                FLAKY,
                FLAKY,
                Some(Reason::Timeout),
                Some(408),
                Some(OK),
                false,
            ),
            (CandidateSucceeded, FLAKY, OK, None, None, None, false),
            // Cooldowns are kept per agent dir here: main's first turn still tries broke.
            (
                CandidateFailed,
                RL,
                RL,
                Some(Reason::RateLimit),
                Some(429),
                Some(BROKE),
                false,
            ),
            (
                CandidateFailed,
                RL,
                BROKE,
                Some(Reason::Billing),
                Some(402),
                Some(OK),
                false,
            ),
            (CandidateSucceeded, RL, OK, None, None, None, false),
            (
                CandidateFailed,
                RL,
                RL,
                Some(Reason::RateLimit),
                Some(429),
                Some(BROKE),
                false,
            ),
            (
                SkipCandidate,
                RL,
                BROKE,
                Some(Reason::Billing),
                None,
                Some(OK),
                false,
            ),
            (CandidateSucceeded, RL, OK, None, None, None, false),
        ],
    );
    let d = decisions("2026.4.12");
    assert!(d
        .iter()
        .all(|d| d.step_outcome.is_none() && d.session_id.is_none()));
    let kinds: std::collections::BTreeSet<_> = d.iter().map(|d| d.decision).collect();
    for k in [CandidateFailed, CandidateSucceeded, SkipCandidate] {
        assert!(kinds.contains(&k), "{k:?} missing: {kinds:?}");
    }
    let exhausted: Vec<_> = d.iter().filter(|d| d.exhausts_chain()).collect();
    assert_eq!(exhausted.len(), 1);
    assert_eq!(exhausted[0].candidate, r("broke", "gpt-broke"));
    assert_eq!(exhausted[0].requested, Some(r("revoked", "gpt-auth")));
    let served: Vec<_> = d
        .iter()
        .filter(|d| d.decision == CandidateSucceeded)
        .map(|d| (d.requested.clone().unwrap(), d.candidate.clone()))
        .collect();
    assert!(served.contains(&(r("flaky", "gpt-500"), r("healthy", "gpt-ok"))));
    assert!(served.contains(&(r("ratelimited", "gpt-rl"), r("healthy", "gpt-ok"))));
    let first = &d[0];
    assert_eq!(
        (first.reason, first.status, first.class()),
        (Some(Reason::Auth), Some(401), Class::Auth)
    );
}

#[test]
fn both_releases_parse_every_line_of_their_logs() {
    for release in FIXTURE_RELEASES {
        let n = events(release).len();
        assert!(n >= 8, "{release}: only {n} events");
    }
}

/// A decision line in the 2026.9.6 shape with `fields` spliced into the event object.
fn line(fields: &str) -> String {
    format!(
        r#"{{"0":"{{\"subsystem\":\"model-fallback/decision\"}}","1":{{"event":"model_fallback_decision","decision":"candidate_failed","requestedProvider":"a","requestedModel":"m","candidateProvider":"a","candidateModel":"m"{fields}}},"2":"model fallback decision","time":"2026-09-06T10:00:00.000+02:00"}}"#
    )
}

#[test]
fn field_variants() {
    // Numbers as strings, httpCode when status is missing, an agent named on the line.
    let Event::Decision(d) = parse_line(
        line(
            r#","httpCode":"429","reason":"rate_limit","attempt":"2","suppressedDuplicateCount":3"#,
        )
        .as_bytes(),
    )
    .unwrap()
    .unwrap() else {
        panic!()
    };
    assert_eq!(d.status, Some(429));
    assert_eq!(d.attempt, Some(2));
    assert_eq!(d.suppressed, 3);
    assert_eq!(d.at, Some(at("2026-09-06T08:00:00Z")), "offset honoured");
    for (extra, agent) in [
        (r#","agentId":"coder""#, Some("coder")),
        (r#","lane":"session:agent:research:main""#, Some("research")),
        (r#","sessionKey":"agent:ops:incident-42""#, Some("ops")),
        (r#","sessionId":"6a16b0e2-e50a""#, None),
        (r#","lane":"main""#, None),
    ] {
        let Event::Decision(d) = parse_line(line(extra).as_bytes()).unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(d.agent.as_deref(), agent, "{extra}");
    }
    // A top-level agent_id (2026.9 copies agentId there when any source has it).
    let l = line("").replacen('{', r#"{"agent_id":"main","#, 1);
    let Event::Decision(d) = parse_line(l.as_bytes()).unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(d.agent.as_deref(), Some("main"));
    // A flattened record (event at the top level) and `_meta.date` when `time` is absent.
    let flat = r#"{"event":"model_fallback_decision","decision":"skip_candidate","candidateProvider":"a","candidateModel":"m","reason":"billing","_meta":{"date":"2026-09-06T08:00:00.000Z"}}"#;
    let Event::Decision(d) = parse_line(flat.as_bytes()).unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(
        (d.decision, d.reason),
        (SkipCandidate, Some(Reason::Billing))
    );
    assert_eq!(d.requested, None);
    assert_eq!(d.at, Some(at("2026-09-06T08:00:00Z")));
    assert!(
        d.exhausts_chain(),
        "a skip with no next candidate ends the chain"
    );
    // Out-of-range or odd values are dropped, not trusted.
    let Event::Decision(d) = parse_line(line(r#","status":7000,"attempt":-1"#).as_bytes())
        .unwrap()
        .unwrap()
    else {
        panic!()
    };
    assert_eq!((d.status, d.attempt), (None, None));
}

#[test]
fn garbage_and_partial_lines_are_errors_or_nothing_never_panics() {
    let good = line(r#","reason":"billing""#);
    assert!(matches!(parse_line(good.as_bytes()), Ok(Some(_))));
    // Every prefix of a real line (a half-written record) is an error or nothing.
    for n in 0..good.len() {
        if let Ok(Some(_)) = parse_line(&good.as_bytes()[..n]) {
            panic!("prefix of {n} bytes parsed as an event");
        }
    }
    for bad in [
        &b""[..],
        b"\n",
        b"{",
        b"not json model_fallback_decision",
        b"[\"model_fallback_decision\"]",
        b"\xff\xfe model_fallback_decision \x00",
        b"{\"1\":{\"event\":\"model_fallback_decision\"}}",
        b"{\"1\":{\"event\":\"model_fallback_decision\",\"decision\":\"candidate_failed\"}}",
        b"{\"1\":{\"event\":\"model_fallback_decision\",\"decision\":42}}",
        b"{\"1\":{\"event\":\"embedded_run_failover_decision\",\"decision\":\"rotate_profile\"}}",
    ] {
        assert!(
            !matches!(parse_line(bad), Ok(Some(_))),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        parse_line(
            line("")
                .replace("candidate_failed", "candidate_teleported")
                .as_bytes()
        ),
        Err(ParseError::UnknownDecision)
    );
    // Other events and subsystems are not traffic events.
    for other in [
        r#"{"0":"{\"subsystem\":\"model-fallback/decision\"}","1":{"event":"model_fallback_chain_stopped","reason":"caller_signal_aborted"},"2":"model fallback chain stopped"}"#,
        r#"{"0":"{\"subsystem\":\"agent/embedded\"}","1":"tool-search: cataloged 52 tools","time":"2026-11-30T05:40:09.491+00:00"}"#,
    ] {
        assert_eq!(parse_line(other.as_bytes()), Ok(None), "{other}");
    }
}

#[test]
fn reasons_map_to_clawprobes_classes() {
    for (reason, status, class) in [
        ("auth", None, Class::Auth),
        ("auth_permanent", None, Class::Auth),
        ("session_expired", None, Class::Auth),
        ("billing", Some(429), Class::Billing),
        ("rate_limit", None, Class::RateLimit),
        ("overloaded", Some(529), Class::Overloaded),
        ("server_error", Some(500), Class::ServerError),
        ("timeout", None, Class::Timeout),
        ("tls_certificate", None, Class::Network),
        ("format", Some(400), Class::InvalidRequest),
        ("context_overflow", None, Class::InvalidRequest),
        ("model_not_found", Some(404), Class::UnresolvedRef),
        ("empty_response", None, Class::BadResponse),
        ("unknown", None, Class::Unknown),
        ("unknown", Some(402), Class::Billing),
        ("no_error_details", Some(503), Class::ServerError),
        ("unclassified", Some(401), Class::Auth),
        ("a_new_word", Some(429), Class::RateLimit),
        ("a_new_word", None, Class::Unknown),
    ] {
        assert_eq!(
            Reason::parse(reason).class(status),
            class,
            "{reason} {status:?}"
        );
    }
    for k in Decision::ALL {
        assert_eq!(Decision::parse(k.as_str()), Some(k));
    }
}
