//! [`TrafficState`]: events from OpenClaw's log folded into per-agent and per-route evidence.
//!
//! Pure (no I/O, no tokio, no clock: callers pass `now`), so every rule is table-tested.
//!
//! **Attribution.** No OpenClaw release writes the agent on its fallback events (checked in
//! 2026.4.12, 2026.6.11 and 2026.9.6, CLI and gateway; only debug-level lines name it). An
//! event is attributed to an agent, in order:
//! 1. the agent the line names (`agent_id`, `agentId`, or an `agent:<id>:…` session key or
//!    lane), when that agent is in the plan;
//! 2. the one planned agent whose primary is the event's requested model and whose chain
//!    contains the candidate;
//! 3. otherwise nobody: the agent label is empty (`agent=""`, which Prometheus shows as no
//!    `agent` label). This happens when several agents share the requested primary (for
//!    example several agents on `agents.defaults.model`), or the request asked for a model
//!    that is no agent's primary (a session `/model` override).
//!
//! **Bounded labels.** Agent labels are plan agents or `""`. A candidate's provider is kept
//! when some planned chain entry uses it, else `other`; its model is kept when the planned
//! chain has that provider/model, else `other`. So an event naming anything outside the
//! plan lands in `(provider, "other")` or `("other", "other")`, and the series count is
//! bounded by the plan, whatever the log says. A reload drops series of agents and routes
//! that left the plan.
//!
//! **What a success looks like.** OpenClaw logs `candidate_succeeded` only when an earlier
//! candidate failed or was skipped, or when the candidate was tried during its cooldown. A
//! request its primary serves at the first try writes no event at all. So the serving model
//! and "fallback engaged" come from the latest logged success, and age out after the
//! fallback window: while a primary keeps failing, every request logs at least one decision
//! (a failure, a skip or a cooldown probe), so silence means requests are being served
//! first try again (or there are none).

use super::event::{
    AttemptFailure, Decision, Event, FallbackDecision, ModelRef, ProfileHash, Reason,
};
use crate::class::Class;
use crate::plan::{ProbePlan, Role};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime};

/// The label used for anything outside the plan.
pub const OTHER: &str = "other";

/// A failure seen on a real request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficFailure {
    pub class: Class,
    /// OpenClaw's own reason word.
    pub reason: Reason,
    /// The provider's HTTP status, when OpenClaw logged it.
    pub status: Option<u16>,
    /// When OpenClaw logged it.
    pub at: SystemTime,
}

/// Which credential a failure was seen with.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CredentialRef {
    /// A profile of the plan (OpenClaw logs `sha256:<12 hex>` of the profile id; matched
    /// against the plan's credential labels).
    Profile(String),
    /// A profile hash that matches no credential in the plan.
    Unmatched,
}

/// What real traffic showed for one route (provider, model).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteEvidence {
    /// The latest request this route served (a logged `candidate_succeeded`).
    pub last_success: Option<SystemTime>,
    /// The latest request that failed on this route (`candidate_failed`).
    pub last_failure: Option<TrafficFailure>,
    /// The latest failed attempt per credential (`embedded_run_failover_decision`, which
    /// names the profile): includes failures OpenClaw recovered from by rotating to
    /// another profile of the same provider.
    pub credential_failures: BTreeMap<CredentialRef, TrafficFailure>,
}

/// The model that served an agent's latest logged successful request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serving {
    /// As logged (may be outside the plan; see `planned`).
    pub route: ModelRef,
    /// Whether `route` is a route of the plan.
    pub planned: bool,
    /// Its place in the agent's chain (for the unattributed agent: primary when it was the
    /// requested model).
    pub role: Role,
    /// Served by a model other than the one the request asked for (OpenClaw fell back).
    pub fallback: bool,
    pub at: SystemTime,
}

/// Counter key of `clawprobe_traffic_decisions_total`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DecisionKey {
    pub agent: String,
    pub provider: String,
    pub model: String,
    pub decision: Decision,
    pub class: Class,
}

/// What the plan says, indexed for attribution and label bounding.
#[derive(Clone, Debug, Default)]
struct PlanIndex {
    /// Agent id → its chain (provider, model), primary first.
    agents: BTreeMap<String, Vec<ModelRef>>,
    /// (provider, model) of the primary → agents with that primary.
    by_primary: HashMap<ModelRef, Vec<String>>,
    providers: HashSet<String>,
    routes: HashSet<ModelRef>,
    /// First 12 hex digits of sha256(credential label) → label.
    profiles: HashMap<String, String>,
}

impl PlanIndex {
    fn new(plan: &ProbePlan) -> PlanIndex {
        let mut ix = PlanIndex::default();
        for a in &plan.agents {
            let mut chain = Vec::new();
            for e in &a.entries {
                if let (Some(p), Some(m)) = (&e.provider, &e.model) {
                    let r = ModelRef {
                        provider: p.clone(),
                        model: m.clone(),
                    };
                    ix.providers.insert(p.clone());
                    ix.routes.insert(r.clone());
                    chain.push((e.position, r));
                }
                for label in e
                    .rotation
                    .iter()
                    .map(|s| &s.credential)
                    .chain(e.credential_label.iter())
                {
                    ix.profiles.insert(ProfileHash::of(label).0, label.clone());
                }
            }
            let primary = chain
                .iter()
                .find(|(pos, _)| *pos == 0)
                .map(|(_, r)| r.clone());
            if let Some(p) = primary {
                ix.by_primary.entry(p).or_default().push(a.agent.clone());
            }
            ix.agents
                .insert(a.agent.clone(), chain.into_iter().map(|(_, r)| r).collect());
        }
        for t in &plan.targets {
            if let Some(c) = &t.credential {
                let label = c.label();
                ix.profiles.insert(ProfileHash::of(&label).0, label);
            }
        }
        ix
    }

    fn agent_primary(&self, agent: &str) -> Option<&ModelRef> {
        self.agents.get(agent).and_then(|c| c.first())
    }

    /// Bounded (provider, model) labels for a logged route.
    fn labels(&self, r: &ModelRef) -> (String, String) {
        if self.routes.contains(r) {
            (r.provider.clone(), r.model.clone())
        } else if self.providers.contains(&r.provider) {
            (r.provider.clone(), OTHER.into())
        } else {
            (OTHER.into(), OTHER.into())
        }
    }

    fn credential(&self, hash: &ProfileHash) -> CredentialRef {
        hash.0
            .get(..12)
            .and_then(|h| self.profiles.get(h))
            .map_or(CredentialRef::Unmatched, |l| {
                CredentialRef::Profile(l.clone())
            })
    }
}

/// How an event was attributed (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribution {
    /// The line named a planned agent.
    Named,
    /// The only planned agent with the requested primary and the candidate in its chain.
    ByPrimary,
    /// Nobody: `agent=""`.
    Unattributed,
}

/// Everything real traffic showed, since start-up (or the first reload that kept it).
#[derive(Clone, Debug, Default)]
pub struct TrafficState {
    index: PlanIndex,
    window: Duration,
    decisions: BTreeMap<DecisionKey, u64>,
    exhausted: BTreeMap<String, u64>,
    /// (provider, model, class) → candidate_failed count.
    failures: BTreeMap<(String, String, Class), u64>,
    serving: BTreeMap<String, Serving>,
    routes: BTreeMap<ModelRef, RouteEvidence>,
    last_event: Option<SystemTime>,
    following: bool,
    /// Lines that looked like events but could not be read.
    pub malformed_lines: u64,
    /// Events attributed to no agent.
    pub unattributed_events: u64,
}

fn newer(a: Option<SystemTime>, b: SystemTime) -> bool {
    a.is_none_or(|a| b >= a)
}

impl TrafficState {
    /// Empty state for `plan`; "fallback engaged" and the serving model last `window` after
    /// the success that set them.
    pub fn new(plan: &ProbePlan, window: Duration) -> TrafficState {
        TrafficState {
            index: PlanIndex::new(plan),
            window,
            ..Default::default()
        }
    }

    /// A new plan (reload): re-indexes, and drops the series and evidence of agents and
    /// routes that are no longer in it (the unattributed agent and `other` buckets stay).
    pub fn set_plan(&mut self, plan: &ProbePlan) {
        self.index = PlanIndex::new(plan);
        let ix = &self.index;
        let agent_ok = |a: &str| a.is_empty() || ix.agents.contains_key(a);
        let labels_ok = |p: &str, m: &str| {
            (m == OTHER && (p == OTHER || ix.providers.contains(p)))
                || ix.routes.contains(&ModelRef {
                    provider: p.into(),
                    model: m.into(),
                })
        };
        self.decisions
            .retain(|k, _| agent_ok(&k.agent) && labels_ok(&k.provider, &k.model));
        self.exhausted.retain(|a, _| agent_ok(a));
        self.failures.retain(|(p, m, _), _| labels_ok(p, m));
        self.serving.retain(|a, _| agent_ok(a));
        self.routes.retain(|r, _| ix.routes.contains(r));
    }

    /// The fallback window (see [`TrafficState::new`]).
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Whether the log file is being followed (set by the follower's shell).
    pub fn set_following(&mut self, following: bool) {
        self.following = following;
    }

    pub fn following(&self) -> bool {
        self.following
    }

    /// The time of the newest event read.
    pub fn last_event(&self) -> Option<SystemTime> {
        self.last_event
    }

    /// Folds one event in; `now` stands in for a missing log time.
    pub fn apply(&mut self, event: &Event, now: SystemTime) {
        let at = event.at().unwrap_or(now);
        if newer(self.last_event, at) {
            self.last_event = Some(at);
        }
        match event {
            Event::Decision(d) => self.apply_decision(d, at),
            Event::Attempt(a) => self.apply_attempt(a, at),
        }
    }

    /// Who made the request of `d` (agent id, or `""`), and how that was decided.
    pub fn attribute(&self, d: &FallbackDecision) -> (String, Attribution) {
        if let Some(a) = d
            .agent
            .as_deref()
            .filter(|a| self.index.agents.contains_key(*a))
        {
            return (a.to_string(), Attribution::Named);
        }
        if let Some(req) = &d.requested {
            let matching: Vec<&String> = self
                .index
                .by_primary
                .get(req)
                .into_iter()
                .flatten()
                .filter(|a| {
                    self.index
                        .agents
                        .get(*a)
                        .is_some_and(|chain| chain.contains(&d.candidate))
                })
                .collect();
            if let [only] = matching.as_slice() {
                return ((*only).clone(), Attribution::ByPrimary);
            }
        }
        (String::new(), Attribution::Unattributed)
    }

    fn apply_decision(&mut self, d: &FallbackDecision, at: SystemTime) {
        let (agent, how) = self.attribute(d);
        if how == Attribution::Unattributed {
            self.unattributed_events += 1;
        }
        let n = 1 + u64::from(d.suppressed);
        let (provider, model) = self.index.labels(&d.candidate);
        let class = d.class();
        *self
            .decisions
            .entry(DecisionKey {
                agent: agent.clone(),
                provider: provider.clone(),
                model: model.clone(),
                decision: d.decision,
                class,
            })
            .or_default() += n;
        if d.exhausts_chain() {
            *self.exhausted.entry(agent.clone()).or_default() += n;
        }
        let planned = self.index.routes.contains(&d.candidate);
        match d.decision {
            Decision::CandidateFailed if !d.is_request_failure() => {}
            Decision::CandidateFailed => {
                *self.failures.entry((provider, model, class)).or_default() += n;
                if planned {
                    let ev = self.routes.entry(d.candidate.clone()).or_default();
                    if newer(ev.last_failure.as_ref().map(|f| f.at), at) {
                        ev.last_failure = Some(TrafficFailure {
                            class,
                            reason: d.reason.unwrap_or(Reason::Unknown),
                            status: d.status,
                            at,
                        });
                    }
                }
            }
            Decision::CandidateSucceeded => {
                if planned {
                    let ev = self.routes.entry(d.candidate.clone()).or_default();
                    if newer(ev.last_success, at) {
                        ev.last_success = Some(at);
                    }
                }
                let role = match self.index.agent_primary(&agent) {
                    Some(p) if how != Attribution::Unattributed => {
                        if *p == d.candidate {
                            Role::Primary
                        } else {
                            Role::Fallback
                        }
                    }
                    _ if d.candidate_is_requested() => Role::Primary,
                    _ => Role::Fallback,
                };
                if newer(self.serving.get(&agent).map(|s| s.at), at) {
                    self.serving.insert(
                        agent,
                        Serving {
                            route: d.candidate.clone(),
                            planned,
                            role,
                            fallback: !d.candidate_is_requested(),
                            at,
                        },
                    );
                }
            }
            Decision::SkipCandidate | Decision::ProbeCooldownCandidate => {}
        }
    }

    fn apply_attempt(&mut self, a: &AttemptFailure, at: SystemTime) {
        if !self.index.routes.contains(&a.route) {
            return;
        }
        let cred = a
            .profile
            .as_ref()
            .map_or(CredentialRef::Unmatched, |h| self.index.credential(h));
        let ev = self.routes.entry(a.route.clone()).or_default();
        if newer(ev.credential_failures.get(&cred).map(|f| f.at), at) {
            ev.credential_failures.insert(
                cred,
                TrafficFailure {
                    class: a.class(),
                    reason: a.reason.unwrap_or(Reason::Unknown),
                    status: a.status,
                    at,
                },
            );
        }
    }

    // ---- the seam for the verdict and the scheduler ------------------------------------

    /// What real traffic showed for `provider`/`model` (planned routes only).
    pub fn route(&self, provider: &str, model: &str) -> Option<&RouteEvidence> {
        self.routes.get(&ModelRef {
            provider: provider.into(),
            model: model.into(),
        })
    }

    /// Every planned route with evidence.
    pub fn routes(&self) -> impl Iterator<Item = (&ModelRef, &RouteEvidence)> {
        self.routes.iter()
    }

    /// The model that served `agent`'s latest logged successful request, whatever its age
    /// (`""`: the unattributed requests).
    pub fn serving(&self, agent: &str) -> Option<&Serving> {
        self.serving.get(agent)
    }

    /// [`TrafficState::serving`] if it is at most the fallback window old at `now`.
    pub fn serving_now(&self, agent: &str, now: SystemTime) -> Option<&Serving> {
        self.serving.get(agent).filter(|s| {
            now.duration_since(s.at)
                .map_or(true, |age| age <= self.window)
        })
    }

    /// Whether `agent`'s latest logged successful request, within the fallback window, was
    /// served by a model other than the requested one.
    pub fn fallback_engaged(&self, agent: &str, now: SystemTime) -> bool {
        self.serving_now(agent, now).is_some_and(|s| s.fallback)
    }

    /// The earliest time after `now` at which an agent's serving model ages out of the
    /// fallback window (so a cached exposition that shows it must not outlive it).
    pub fn next_expiry(&self, now: SystemTime) -> Option<SystemTime> {
        self.serving
            .values()
            .map(|s| s.at + self.window + Duration::from_millis(1))
            .filter(|t| *t > now)
            .min()
    }

    // ---- read by the metrics writer ----------------------------------------------------

    /// Planned agent ids, then `""` when an event was attributed to nobody.
    pub fn agents(&self) -> impl Iterator<Item = &str> {
        let unattributed = self.serving.contains_key("")
            || self.exhausted.contains_key("")
            || self.decisions.keys().any(|k| k.agent.is_empty());
        self.index
            .agents
            .keys()
            .map(String::as_str)
            .chain(unattributed.then_some(""))
    }

    pub fn decision_counts(&self) -> impl Iterator<Item = (&DecisionKey, u64)> {
        self.decisions.iter().map(|(k, v)| (k, *v))
    }

    /// Chain exhaustions of `agent` (0 for a planned agent without any).
    pub fn exhausted(&self, agent: &str) -> u64 {
        self.exhausted.get(agent).copied().unwrap_or(0)
    }

    pub fn failure_counts(&self) -> impl Iterator<Item = (&(String, String, Class), u64)> {
        self.failures.iter().map(|(k, v)| (k, *v))
    }

    /// Bounded (provider, model) labels of `route` under the current plan.
    pub fn labels(&self, route: &ModelRef) -> (String, String) {
        self.index.labels(route)
    }
}

#[cfg(test)]
mod tests;
