//! The rules of this module applied to a whole plan: every target's, route's, agent's and
//! credential's verdict from one pass over the evidence. Metrics, the landing page,
//! `/probe` and `clawprobe probe` all read this, so they cannot disagree.

use super::openclaw::hold;
use super::route::RotationLimits;
use super::{
    agent, route, step, AgentSummary, CredentialHealth, Observation, RouteVerdict, Source,
    TargetEvidence, Verdict, STALE_FACTOR,
};
use crate::plan::{CredentialKey, CredentialSource, ProbePlan, Role, TargetId};
use crate::traffic::TrafficState;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often each target's verdict is refreshed, for staleness. Built by the scheduler from
/// the schedule; `Cadence::default()` (nothing scheduled) never calls a verdict stale.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cadence {
    /// By target id: the interval of the regular probe that refreshes the target (the
    /// metadata cycle's, or for targets outside it the credential or model generation
    /// cycle's); `None` when nothing probes it on a schedule.
    pub by_target: Vec<Option<Duration>>,
    /// The longest wait between re-checks of a failure only generation can see (they back
    /// off up to `max_backoff_seconds`).
    pub recheck_max: Duration,
}

impl Cadence {
    /// The interval within which `verdict` of target `t` should be confirmed again.
    pub fn interval(&self, t: TargetId, verdict: &Verdict<'_>) -> Option<Duration> {
        let base = self.by_target.get(t).copied().flatten()?;
        Some(
            if !verdict.is_ok() && !super::metadata_can_see(verdict.class) {
                base.max(self.recheck_max)
            } else {
                base
            },
        )
    }
}

/// The verdict of one chain entry.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EntryVerdict<'a> {
    /// `None` while not known.
    pub verdict: Option<Verdict<'a>>,
    /// The target of the rotation step that decided (the credential that works, or the
    /// first that failed).
    pub target: Option<TargetId>,
    /// Index of that step among the route's rotation targets (0: its first credential).
    pub step: usize,
    /// Older than [`STALE_FACTOR`] times the deciding target's expected probe interval.
    pub stale: bool,
}

/// An agent as a whole.
pub type AgentVerdict = AgentSummary;

/// One credential's own health.
#[derive(Clone, Debug, PartialEq)]
pub struct CredentialVerdict<'a> {
    pub provider: &'a str,
    /// The credential's label (profile id, `env:VAR`, …), made unique among the plan's
    /// credentials of the provider with the key's fingerprint when two keys share one.
    pub label: String,
    pub status: Option<Verdict<'a>>,
    /// Chain entries that try this credential first.
    pub routes: u32,
    /// Targets on this credential.
    pub targets: Vec<TargetId>,
}

/// Every verdict of a plan.
#[derive(Clone, Debug, Default)]
pub struct PlanVerdicts<'a> {
    /// By target id: the verdict of that route through that credential.
    pub targets: Vec<Option<Verdict<'a>>>,
    /// By agent index, then chain entry index.
    pub entries: Vec<Vec<EntryVerdict<'a>>>,
    /// By agent index.
    pub agents: Vec<AgentVerdict>,
    pub credentials: Vec<CredentialVerdict<'a>>,
    /// By target id: index into `credentials`.
    pub credential_of: Vec<usize>,
    /// The earliest time after `now` at which a verdict changes with no new evidence (an
    /// OpenClaw hold ends, a verdict turns stale): a cached rendering must not outlive it.
    pub next_change: Option<SystemTime>,
}

/// Milliseconds since the Unix epoch (OpenClaw's timestamps), 0 before it.
pub fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Computes every verdict of `plan` at `now`. `evidence` gives what is known of a target;
/// `cadence` how often it is probed (staleness).
pub fn compute<'a>(
    plan: &'a ProbePlan,
    evidence: &dyn Fn(TargetId) -> TargetEvidence<'a>,
    traffic: Option<&TrafficState>,
    cadence: &Cadence,
    now: SystemTime,
) -> PlanVerdicts<'a> {
    let mut next_change: Option<SystemTime> = None;
    let mut note = |at: SystemTime| {
        if at > now && next_change.is_none_or(|n| at < n) {
            next_change = Some(at);
        }
    };
    let n = plan.targets.len();
    let mut evidence: Vec<TargetEvidence<'a>> = (0..n).map(evidence).collect();
    // Real traffic: evidence about a credential where the route has only that one.
    let attributable = traffic.map(|_| super::traffic::attributable(plan));
    if let (Some(state), Some(attributable)) = (traffic, &attributable) {
        for (t, e) in evidence.iter_mut().enumerate() {
            if let Some(o) = super::traffic::target(state, plan, t, attributable[t]) {
                if e.traffic.is_none_or(|old| old.at < o.at) {
                    e.traffic = Some(o);
                }
            }
        }
    }

    // Credentials: group targets by credential key, fold each group's observations.
    let mut index: HashMap<&CredentialKey, usize> = HashMap::new();
    let mut credentials: Vec<CredentialVerdict<'a>> = Vec::new();
    let mut credential_of = Vec::with_capacity(n);
    for t in &plan.targets {
        let i = *index.entry(plan.credential_key(t.id)).or_insert_with(|| {
            credentials.push(CredentialVerdict {
                provider: &t.provider,
                label: t.credential_label(),
                status: None,
                routes: 0,
                targets: Vec::new(),
            });
            credentials.len() - 1
        });
        credentials[i].targets.push(t.id);
        credential_of.push(i);
    }
    disambiguate_labels(plan, &mut credentials);
    let health: Vec<CredentialHealth<'a>> = credentials
        .iter()
        .map(|c| CredentialHealth::fold(c.targets.iter().flat_map(|&t| evidence[t].observations())))
        .collect();

    // OpenClaw's holds, by target (as the global state has them; an agent with its own
    // view of the state gets its own below).
    let now_ms = unix_ms(now);
    let holds: Vec<Option<Verdict<'a>>> = plan
        .targets
        .iter()
        .map(|t| hold_of(plan, t, None, now_ms, &mut note))
        .collect();

    let targets: Vec<Option<Verdict<'a>>> = (0..n)
        .map(|t| step(&evidence[t], &health[credential_of[t]], holds[t]))
        .collect();

    for (c, h) in credentials.iter_mut().zip(&health) {
        let hold = c.targets.iter().find_map(|&t| holds[t]);
        c.status = h.status(hold);
    }

    let mut entries = Vec::with_capacity(plan.agents.len());
    let mut agents = Vec::with_capacity(plan.agents.len());
    for a in &plan.agents {
        let mut row = Vec::with_capacity(a.entries.len());
        for e in &a.entries {
            let rotation = e.rotation_targets();
            if let Some(&first) = rotation.first() {
                credentials[credential_of[first]].routes += 1;
            }
            let ev = if rotation.is_empty() {
                EntryVerdict {
                    verdict: e.finding.as_ref().map(|f| Verdict {
                        class: f.class,
                        reason: &f.reason,
                        source: Source::Static,
                        as_of: None,
                    }),
                    ..EntryVerdict::default()
                }
            } else {
                let own_view = plan.agent_profile_states.contains_key(&a.agent);
                let steps: Vec<Option<Verdict<'a>>> = rotation
                    .iter()
                    .map(|&t| {
                        if !own_view {
                            return targets[t];
                        }
                        let h = hold_of(plan, &plan.targets[t], Some(&a.agent), now_ms, &mut note);
                        step(&evidence[t], &health[credential_of[t]], h)
                    })
                    .collect();
                let limits = (a.fallback_count() > 0).then(RotationLimits::default);
                let routed = route(&steps, limits);
                // Real traffic says how the route as a whole fared (OpenClaw does not log
                // which profile served, so on a rotation of several this is all it says).
                let routed = match traffic.and_then(|state| {
                    let t = &plan.targets[rotation[0]];
                    state
                        .route(&t.provider, &t.model)
                        .and_then(super::traffic::route)
                }) {
                    Some(o) => with_route_traffic(routed, o),
                    None => routed,
                };
                match routed {
                    Some(r) => {
                        let target = rotation[r.step];
                        let interval = cadence.interval(target, &r.verdict);
                        if let (Some(i), Some(at)) = (interval, r.verdict.as_of) {
                            note(at + i.saturating_mul(STALE_FACTOR) + Duration::from_millis(1));
                        }
                        EntryVerdict {
                            verdict: Some(r.verdict),
                            target: Some(target),
                            step: r.step,
                            stale: interval
                                .is_some_and(|i| r.verdict.is_stale(now, i, STALE_FACTOR)),
                        }
                    }
                    None => EntryVerdict {
                        target: Some(rotation[0]),
                        ..EntryVerdict::default()
                    },
                }
            };
            row.push(ev);
        }
        agents.push(agent(a.entries.iter().zip(&row).map(|(e, v)| {
            (e.role == Role::Primary, v.verdict.map(|v| v.class))
        })));
        entries.push(row);
    }
    PlanVerdicts {
        targets,
        entries,
        agents,
        credentials,
        credential_of,
        next_change,
    }
}

/// The hold OpenClaw's state (as `agent` sees it; `None`: the global state) puts on target
/// `t` at `now_ms`, noting when the state runs out.
pub fn hold_of<'a>(
    plan: &'a ProbePlan,
    t: &crate::plan::Target,
    agent: Option<&str>,
    now_ms: i64,
    note: &mut impl FnMut(SystemTime),
) -> Option<Verdict<'a>> {
    let Some(CredentialSource::Profile { id, .. }) = t.credential.as_ref().map(|c| &c.source)
    else {
        return None;
    };
    let state = plan.profile_state(agent, id)?;
    for until in [
        state.disabled_until_ms,
        state.cooldown_until_ms,
        state.blocked_until_ms,
    ]
    .into_iter()
    .flatten()
    {
        note(UNIX_EPOCH + Duration::from_millis(until.max(0) as u64));
    }
    hold(state, &t.model, now_ms)
}

/// A route's verdict with what real traffic showed for the route as a whole: the traffic
/// decides when it is newer than the evidence behind the verdict. A static finding and
/// OpenClaw's own hold stand (they are current by construction).
fn with_route_traffic<'a>(
    routed: Option<RouteVerdict<'a>>,
    o: Observation<'static>,
) -> Option<RouteVerdict<'a>> {
    let traffic = RouteVerdict {
        verdict: Verdict::of(o),
        step: 0,
    };
    match routed {
        None => Some(traffic),
        Some(r) if matches!(r.verdict.source, Source::Static | Source::OpenclawState) => Some(r),
        Some(r) if r.verdict.as_of.is_none_or(|at| at < o.at) => Some(RouteVerdict {
            step: if o.class.is_ok() { r.step } else { 0 },
            ..traffic
        }),
        Some(r) => Some(r),
    }
}

/// Two keys with the same label (e.g. `openai:default` in two agents' own stores): each gets
/// its fingerprint appended, so their series stay apart and no key is shown.
fn disambiguate_labels(plan: &ProbePlan, credentials: &mut [CredentialVerdict<'_>]) {
    let mut seen: HashMap<(&str, String), u32> = HashMap::new();
    for c in credentials.iter() {
        *seen.entry((c.provider, c.label.clone())).or_default() += 1;
    }
    let dup: Vec<bool> = credentials
        .iter()
        .map(|c| seen[&(c.provider, c.label.clone())] > 1)
        .collect();
    for (c, dup) in credentials.iter_mut().zip(dup) {
        if dup {
            if let Some(fp) = c
                .targets
                .first()
                .and_then(|&t| plan.targets[t].credential.as_ref())
                .map(|cr| cr.secret.fingerprint())
            {
                c.label = format!("{}#{fp}", c.label);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::Observation;
    use super::*;
    use crate::class::Class;
    use crate::plan::{
        AgentChain, ApiStyle, ChainEntry, Credential, CredentialKind, Finding, ProfileState,
        RotationStep, Target,
    };
    use crate::secret::Secret;

    fn target(model: &str, profile: &str, key: &str) -> Target {
        Target {
            id: 0,
            provider: "openai".into(),
            model: model.into(),
            base_url: "http://127.0.0.1:9/v1".into(),
            api: ApiStyle::OpenAiCompletions,
            credential: Some(Credential {
                source: CredentialSource::Profile {
                    id: profile.into(),
                    store: "s".into(),
                },
                kind: CredentialKind::ApiKey,
                secret: Secret::new(key),
                expires_at_ms: None,
            }),
            headers: vec![],
        }
    }

    fn entry(position: usize, rotation: &[TargetId]) -> ChainEntry {
        let mut e = ChainEntry::new(position, format!("openai/m{position}"));
        e.target = rotation.first().copied();
        e.rotation = rotation
            .iter()
            .map(|&t| RotationStep {
                credential: format!("p{t}"),
                target: Some(t),
                skipped: None,
            })
            .collect();
        e
    }

    /// Agent `a`: primary on key A (models m1, m2 share it), fallback rotating A then B.
    fn plan() -> ProbePlan {
        let mut p = ProbePlan::default();
        let a1 = p.intern_target(target("m1", "openai:a", "sk-aaaa"));
        let a2 = p.intern_target(target("m2", "openai:a", "sk-aaaa"));
        let b2 = p.intern_target(target("m2", "openai:b", "sk-bbbb"));
        let mut unresolved = ChainEntry::new(2, "moonshotai/kimi");
        unresolved.finding = Some(Finding {
            class: Class::UnresolvedRef,
            reason: "unknown_provider".into(),
            message: "x".into(),
        });
        p.agents.push(AgentChain {
            agent: "a".into(),
            entries: vec![entry(0, &[a1]), entry(1, &[a2, b2]), unresolved],
        });
        p
    }

    #[test]
    fn billing_on_the_first_key_rotates_to_the_second_and_shows_on_the_credential() {
        let p = plan();
        let obs: Vec<TargetEvidence<'static>> = vec![
            // m1 on A: credential probe says billing.
            TargetEvidence {
                metadata: Some(meta(Class::Ok, 20)),
                metadata_since: Some(t(20)),
                generation: Some(gen(Class::Billing, 10)),
                traffic: None,
            },
            // m2 on A: metadata only.
            TargetEvidence {
                metadata: Some(meta(Class::Ok, 21)),
                ..TargetEvidence::default()
            },
            // m2 on B: works.
            TargetEvidence {
                metadata: Some(meta(Class::Ok, 22)),
                generation: Some(gen(Class::Ok, 15)),
                ..TargetEvidence::default()
            },
        ];
        let cadence = Cadence {
            by_target: vec![Some(Duration::from_secs(300)); 3],
            recheck_max: Duration::from_secs(3600),
        };
        let v = compute(&p, &|t| obs[t], None, &cadence, t(30));
        let e = &v.entries[0];
        assert_eq!(e[0].verdict.map(|v| v.class), Some(Class::Billing));
        assert_eq!(
            e[1].verdict.map(|v| (v.class, v.source)),
            Some((Class::Ok, Source::Metadata))
        );
        assert_eq!((e[1].step, e[1].target), (1, Some(2)));
        assert_eq!(
            e[2].verdict.map(|v| (v.class, v.source)),
            Some((Class::UnresolvedRef, Source::Static))
        );
        assert_eq!(
            v.agents[0],
            AgentSummary {
                up: Some(true),
                primary_up: Some(false),
                models_up: 1,
                serving: Some(1),
            }
        );
        let a = &v.credentials[v.credential_of[0]];
        assert_eq!(
            (a.label.as_str(), a.routes, a.status.map(|s| s.class)),
            ("openai:a", 2, Some(Class::Billing))
        );
        let b = &v.credentials[v.credential_of[2]];
        assert_eq!(
            (b.label.as_str(), b.routes, b.status.map(|s| s.class)),
            ("openai:b", 0, Some(Class::Ok))
        );
        // Stale after three intervals without news; the failure only generation can see
        // is re-checked on the backoff, so it has three hours.
        assert_eq!(v.next_change, Some(t(22 + 900) + Duration::from_millis(1)));
        let later = compute(&p, &|t| obs[t], None, &cadence, t(22 + 901));
        assert!(later.entries[0][1].stale);
        assert!(!later.entries[0][0].stale);
        assert!(!later.entries[0][2].stale);
        let much_later = compute(&p, &|t| obs[t], None, &cadence, t(10 + 3 * 3600 + 1));
        assert!(much_later.entries[0][0].stale);
    }

    #[test]
    fn openclaw_state_turns_routes_without_a_request() {
        let mut p = plan();
        p.profile_states = vec![ProfileState {
            profile: "openai:a".into(),
            provider: "openai".into(),
            cooldown_until_ms: None,
            cooldown_reason: None,
            disabled_until_ms: Some(unix_ms(t(1000))),
            disabled_reason: Some("billing".into()),
            cooldown_model: None,
            blocked_until_ms: None,
            error_count: None,
            failure_counts: vec![],
        }];
        let v = compute(
            &p,
            &|_| TargetEvidence::default(),
            None,
            &Cadence::default(),
            t(30),
        );
        assert_eq!(
            v.entries[0][0].verdict.map(|v| (v.class, v.source)),
            Some((Class::Billing, Source::OpenclawState))
        );
        assert_eq!(v.next_change, Some(t(1000)));
        // The fallback's first profile is held; its second is not known yet.
        assert_eq!(v.entries[0][1].verdict, None);
        assert_eq!(v.agents[0].up, None);
        let a = &v.credentials[v.credential_of[0]];
        assert_eq!(a.status.map(|s| s.source), Some(Source::OpenclawState));
        // After the state expires it no longer holds.
        let v = compute(
            &p,
            &|_| TargetEvidence::default(),
            None,
            &Cadence::default(),
            t(1000),
        );
        assert_eq!(v.entries[0][0].verdict, None);
    }

    /// Releases with per-agent stores keep a cooldown in the store of the agent that hit it:
    /// agent `b` sees its own cooldown of `openai:a`, agent `a` (whose view is the global
    /// one) does not, though both routes share the target.
    #[test]
    fn an_agents_own_view_of_openclaw_state_holds_only_its_routes() {
        let mut p = plan();
        let a1 = p.agents[0].entries[0].target.unwrap();
        p.agents.push(AgentChain {
            agent: "b".into(),
            entries: vec![entry(0, &[a1])],
        });
        p.agent_profile_states.insert(
            "b".into(),
            vec![ProfileState {
                profile: "openai:a".into(),
                provider: "openai".into(),
                cooldown_until_ms: Some(unix_ms(t(600))),
                cooldown_reason: Some("rate_limit".into()),
                disabled_until_ms: None,
                disabled_reason: None,
                cooldown_model: None,
                blocked_until_ms: None,
                error_count: Some(1),
                failure_counts: vec![],
            }],
        );
        let up = TargetEvidence {
            metadata: Some(meta(Class::Ok, 20)),
            metadata_since: Some(t(20)),
            generation: Some(gen(Class::Ok, 20)),
            traffic: None,
        };
        let v = compute(&p, &|_| up, None, &Cadence::default(), t(30));
        assert_eq!(
            v.entries[0][0].verdict.map(|v| (v.class, v.source)),
            Some((Class::Ok, Source::Generation)),
            "agent a does not see b's cooldown"
        );
        assert_eq!(
            v.entries[1][0].verdict.map(|v| (v.class, v.source)),
            Some((Class::RateLimit, Source::OpenclawState)),
            "agent b does"
        );
        assert_eq!(v.next_change, Some(t(600)));
        // When it runs out, b's route is judged by the probes again.
        let v = compute(&p, &|_| up, None, &Cadence::default(), t(600));
        assert_eq!(v.entries[1][0].verdict.map(|v| v.class), Some(Class::Ok));
    }

    #[test]
    fn shared_labels_of_different_keys_get_their_fingerprint() {
        let mut p = ProbePlan::default();
        p.intern_target(target("m1", "openai:default", "sk-one-1111"));
        p.intern_target(target("m1", "openai:default", "sk-two-2222"));
        let v = compute(
            &p,
            &|_| TargetEvidence::default(),
            None,
            &Cadence::default(),
            t(0),
        );
        let labels: Vec<&str> = v.credentials.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels.len(), 2);
        assert_ne!(labels[0], labels[1]);
        for l in labels {
            assert!(l.starts_with("openai:default#fp:"), "{l}");
            assert!(!l.contains("sk-"), "{l}");
        }
        let _unused: Option<Observation<'_>> = None;
    }
}
