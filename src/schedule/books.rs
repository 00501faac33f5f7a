//! The books: everything the dispatcher must decide before and learn after a probe, as one
//! state owned by one lock. The budget (global, per provider, per model, per credential),
//! each credential's gate (retry-after, backoff, spacing), each target's own backoff and
//! failure streak.
//!
//! Pure: no tokio tasks, no I/O, no clock of its own (every call takes `now`), so the rules
//! are unit-tested directly. The dispatcher asks [`Books::gate`] and [`Books::admit`] before a
//! send and reports the result to [`Books::learn`]; the early re-check after a failure is
//! decided by [`recheck_after`].

use super::backoff::{backoff_delay, CredentialGate};
use super::budget::{Budget, Headroom, ProbeCost, Reservation, Scope};
use super::cycle::secs;
use crate::class::{Class, SkipReason};
use crate::config::{BudgetSettings, ScheduleSettings};
use crate::metrics::BudgetRemaining;
use crate::plan::{CredentialKey, ProbePlan, TargetKey};
use crate::probe::{ProbeResult, Tier};
use crate::verdict;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// One probe as the books see it.
#[derive(Clone, Copy, Debug)]
pub struct Probe<'a> {
    pub target: &'a TargetKey,
    pub credential: &'a CredentialKey,
    pub provider: &'a str,
    /// Tokens its API style is expected to cost ([`crate::probe::cost::probe_tokens`]).
    pub style_tokens: u64,
    /// The finer cap it counts against: its model's (model-generation, on-demand and
    /// recheck probes, metadata probes that have to generate) or its credential's
    /// (credential-generation probes), keyed by `target` or `credential`.
    pub scope: Scope<'a>,
    /// Known up front to spend tokens: a generation probe, or a metadata probe of a target
    /// without a metadata endpoint (the prober sends a generation call).
    pub spends: bool,
    /// Asked for on demand (`/probe`): waits for the credential's spacing ahead of the
    /// cycle probes ([`CredentialGate::start_at`]).
    pub on_demand: bool,
}

impl<'a> Probe<'a> {
    fn cost(&self) -> ProbeCost<'a> {
        ProbeCost {
            provider: self.provider,
            target: self.target.as_str(),
            style_tokens: self.style_tokens,
            scope: self.scope,
        }
    }
}

/// The answer of [`Books::admit`].
#[derive(Debug)]
pub enum Admit {
    /// Send now; hand the ticket to [`Books::learn`] with the result.
    Send(Ticket),
    /// The credential's spacing is not over yet: ask again at this instant.
    WaitUntil(Instant),
    /// Do not send.
    Skip(SkipReason),
}

/// A probe admitted to be sent: what it reserved.
#[derive(Debug)]
#[must_use = "hand the ticket to Books::learn"]
pub struct Ticket {
    reservation: Option<Reservation>,
}

/// What the books learned from a result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Learned {
    /// Probe the target again early (after a failure).
    pub recheck: Option<Recheck>,
    /// A metadata probe of this target spent tokens although its provider is known to have
    /// a metadata endpoint: its metadata probes are budgeted from now on (first time only).
    pub metadata_now_budgeted: bool,
}

/// An early re-check of one target: when, with which tier, and whether it stands for the
/// whole credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recheck {
    pub at: Instant,
    pub tier: Tier,
    /// `Credential`: the failure belongs to the key (billing, a key-wide rate limit), so
    /// one generation re-check on the credential answers for every route on it; it counts
    /// against the credential's token cap, and one pending per credential is enough.
    pub scope: RecheckScope,
}

/// What a re-check stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecheckScope {
    Target,
    Credential,
}

/// The settings the re-check and backoff rules use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// `recheck_after_failure_seconds`: the first re-check delay and backoff step.
    pub base: Duration,
    /// `max_backoff_seconds`.
    pub max: Duration,
    /// `min_key_spacing_seconds`.
    pub spacing: Duration,
}

impl From<&ScheduleSettings> for Policy {
    fn from(s: &ScheduleSettings) -> Policy {
        Policy {
            base: secs(s.recheck_after_failure_seconds),
            max: secs(s.max_backoff_seconds),
            spacing: secs(s.min_key_spacing_seconds),
        }
    }
}

/// The tier that can see `result`'s failure again, and so tell when it is over: a failure
/// only a generation request can see (billing, rate limit, overload, server error, a
/// timeout of a generation, …; see [`verdict::metadata_can_see`]) is re-checked with a
/// generation request, since a zero-token success would not clear it; anything a
/// metadata request saw, or can see, is re-checked at zero tokens.
pub fn recheck_tier(result: &ProbeResult) -> Tier {
    if result.tier == Tier::Generation && !verdict::metadata_can_see(result.class) {
        Tier::Generation
    } else {
        Tier::Metadata
    }
}

/// When to probe a target again after `result`, earlier than its cycle would: after a
/// failure, `base` doubling with the failure streak up to `max` (at least a second), and
/// never before the credential's gate opens (`open_at`: retry-after, rate-limit resets,
/// backoff); `None` after an ok or a skip. The tier is [`recheck_tier`]; a generation
/// re-check of a credential-wide failure stands for the credential.
pub fn recheck_after(
    result: &ProbeResult,
    streak: u32,
    policy: &Policy,
    open_at: Instant,
    now: Instant,
) -> Option<Recheck> {
    match result.class {
        Class::Ok | Class::Skipped => None,
        _ => {
            let delay = backoff_delay(policy.base, policy.max, streak).max(Duration::from_secs(1));
            let tier = recheck_tier(result);
            let credential_wide =
                verdict::Observation::of(result).is_some_and(|o| verdict::credential_wide(&o));
            Some(Recheck {
                at: (now + delay).max(open_at),
                tier,
                scope: if tier == Tier::Generation && credential_wide {
                    RecheckScope::Credential
                } else {
                    RecheckScope::Target
                },
            })
        }
    }
}

fn total_tokens(r: &ProbeResult) -> Option<u64> {
    r.usage
        .map(|u| u.input_tokens.saturating_add(u.output_tokens))
}

/// Budget, credential gates and failure streaks.
#[derive(Debug)]
pub struct Books {
    budget: Budget,
    gates: HashMap<CredentialKey, CredentialGate>,
    /// Backoff of one route after its own rate limit or overload (only its backoff fields
    /// are used): the other routes on the key keep being probed, so a failure only they
    /// have is still seen. A limit the provider says is the key's backs off the credential.
    target_gates: HashMap<TargetKey, CredentialGate>,
    /// Consecutive failures per target and re-check tier, for the re-check delay. A
    /// metadata success does not end a run of failures only generation can see.
    failures: HashMap<(TargetKey, Tier), u32>,
    /// Targets whose metadata probe spent tokens although their provider is known to have
    /// a metadata endpoint (a safety net: the plan index knows the usual cases up front):
    /// their metadata probes are budgeted from then on.
    metadata_spends: HashSet<TargetKey>,
}

impl Books {
    pub fn new(budget: BudgetSettings, now: Instant) -> Books {
        Books {
            budget: Budget::new(budget, now),
            gates: HashMap::new(),
            target_gates: HashMap::new(),
            failures: HashMap::new(),
            metadata_spends: HashSet::new(),
        }
    }

    /// New caps apply at once; spend in the current window still counts.
    pub fn set_budget(&mut self, settings: BudgetSettings) {
        self.budget.set_settings(settings);
    }

    /// The budget's UTC day follows `wall` (the wall time at `now`) from now on.
    pub fn set_wall_clock(&mut self, now: Instant, wall: SystemTime) {
        self.budget.set_wall_clock(now, wall);
    }

    /// Forgets what is kept per target for targets no longer in `plan`. Credential gates
    /// stay: a credential that comes back keeps its retry-after and backoff.
    pub fn retain(&mut self, plan: &ProbePlan) {
        self.target_gates
            .retain(|k, _| plan.contains_key(k.as_str()));
        self.failures
            .retain(|(k, _), _| plan.contains_key(k.as_str()));
        self.metadata_spends
            .retain(|k| plan.contains_key(k.as_str()));
        self.budget.retain_targets(|k| plan.contains_key(k));
    }

    /// First gate, before waiting for a start slot: a closed credential is skipped rather
    /// than waited for. With `slot_spacing` (cycle probes) it reserves the next start slot
    /// on the credential, at least that far after the previous one, and returns it.
    pub fn gate(
        &mut self,
        probe: &Probe<'_>,
        slot_spacing: Option<Duration>,
        now: Instant,
    ) -> Result<Option<Instant>, SkipReason> {
        self.target_check(probe, now)?;
        let gate = self.gates.entry(probe.credential.clone()).or_default();
        gate.check(now)?;
        Ok(slot_spacing.map(|s| gate.reserve_slot(now, s)))
    }

    /// Final check, right before sending: the credential's gate and spacing, and the
    /// budget when the probe can spend tokens. Admitting marks the credential as sent.
    pub fn admit(
        &mut self,
        probe: &Probe<'_>,
        headroom: Headroom,
        spacing: Duration,
        now: Instant,
    ) -> Admit {
        if let Err(reason) = self.target_check(probe, now) {
            return Admit::Skip(reason);
        }
        let gate = self.gates.entry(probe.credential.clone()).or_default();
        if let Err(reason) = gate.check(now) {
            return Admit::Skip(reason);
        }
        let ready = gate.start_at(now, spacing, probe.on_demand);
        if ready > now {
            return Admit::WaitUntil(ready);
        }
        let reservation = if probe.spends || self.metadata_spends.contains(probe.target) {
            match self.budget.try_reserve_probe(&probe.cost(), headroom, now) {
                Some(r) => Some(r),
                None => {
                    if probe.on_demand {
                        gate.release_claim(now);
                    }
                    return Admit::Skip(SkipReason::Budget);
                }
            }
        } else {
            None
        };
        if let Some(g) = self.gates.get_mut(probe.credential) {
            g.started(now, probe.on_demand);
        }
        Admit::Send(Ticket { reservation })
    }

    /// Learns from a finished probe: settles the budget, updates the credential's gate
    /// (retry-after, backoff) and the target's failure streak, and says whether to
    /// re-check early.
    pub fn learn(
        &mut self,
        probe: &Probe<'_>,
        ticket: Ticket,
        result: &ProbeResult,
        policy: &Policy,
        now: Instant,
        wall_now: SystemTime,
    ) -> Learned {
        let mut learned = Learned::default();
        let tokens = total_tokens(result);
        let cost = probe.cost();
        match ticket.reservation {
            Some(r) => {
                // No usage reported: assume the probe cost what its style costs, also when
                // it failed in a way the provider may have billed (2xx, timeout).
                let est = self.budget.probe_estimate(&cost);
                let billed = result.class.is_ok() || result.may_have_billed();
                let spent = tokens.unwrap_or(if billed { est } else { 0 });
                self.budget.settle(r, spent, now);
            }
            None if result.tier == Tier::Generation || tokens.is_some_and(|t| t > 0) => {
                // A metadata probe that generated although its provider is known to have a
                // metadata endpoint: count it against the model, budget it from now on.
                self.budget.charge_probe(&cost, tokens.unwrap_or(0), now);
                learned.metadata_now_budgeted = self.metadata_spends.insert(probe.target.clone());
            }
            None => {}
        }
        // The wait a provider asks for is the key's; the backoff belongs where the failure
        // does: the key's when the provider said the limit is the key's, else the route's.
        let key_wide = result.rate_limits.key_wide;
        let gate = self.gates.entry(probe.credential.clone()).or_default();
        gate.observe_wait(result, now, wall_now);
        if key_wide || result.class.is_ok() {
            gate.observe_backoff(result.class, now, policy.base, policy.max);
        }
        let mut open_at = gate.open_at(now);
        if !key_wide && matches!(result.class, Class::RateLimit | Class::Overloaded) {
            self.target_gates
                .entry(probe.target.clone())
                .or_default()
                .observe_backoff(result.class, now, policy.base, policy.max);
        } else if result.class.is_ok() {
            self.target_gates.remove(probe.target);
        }
        if let Some(t) = self.target_gates.get(probe.target) {
            open_at = open_at.max(t.open_at(now));
        }
        let streak = match result.class {
            Class::Ok => {
                // A success ends the runs it can clear: a generation success every run, a
                // metadata success only the run of failures a metadata request can see.
                self.failures
                    .remove(&(probe.target.clone(), Tier::Metadata));
                if result.tier == Tier::Generation {
                    self.failures
                        .remove(&(probe.target.clone(), Tier::Generation));
                }
                0
            }
            Class::Skipped => 0,
            _ => {
                let key = (probe.target.clone(), recheck_tier(result));
                let n = self.failures.entry(key).or_default();
                *n = n.saturating_add(1);
                *n
            }
        };
        learned.recheck = recheck_after(result, streak, policy, open_at, now);
        learned
    }

    /// When a re-check that was not sent (`reason`) should be tried again: when the
    /// target's and its credential's gates open for backoff and retry-after, when the
    /// budget window turns for a spent budget; never for anything else.
    pub fn retry_skipped_at(
        &mut self,
        target: &TargetKey,
        credential: &CredentialKey,
        reason: SkipReason,
        now: Instant,
    ) -> Option<Instant> {
        match reason {
            SkipReason::Budget => Some(self.budget.window_bounds(now).1),
            SkipReason::Backoff | SkipReason::RetryAfter => Some(
                [self.gates.get(credential), self.target_gates.get(target)]
                    .into_iter()
                    .flatten()
                    .map(|g| g.open_at(now))
                    .fold(now, Instant::max)
                    .max(now + Duration::from_secs(1)),
            ),
            SkipReason::TrafficFresh => None,
        }
    }

    /// The budget's window bounds and per-provider estimate, for the headroom that model
    /// probes leave to credential probes.
    pub fn window_end(&mut self, now: Instant) -> Instant {
        self.budget.window_bounds(now).1
    }

    pub fn estimate(&self, provider: &str) -> u64 {
        self.budget.estimate(provider)
    }

    /// What the budget has left for `_global` and `providers`.
    pub fn remaining<'a>(
        &mut self,
        providers: impl IntoIterator<Item = &'a str>,
        now: Instant,
    ) -> Vec<BudgetRemaining> {
        self.budget.remaining(providers, now)
    }

    /// Spent (and reserved) in the current window, by provider or globally (`None`).
    #[cfg(test)]
    pub fn used(&mut self, provider: Option<&str>, now: Instant) -> super::budget::Amount {
        match provider {
            Some(p) => self.budget.used(p, now),
            None => self.budget.used_global(now),
        }
    }

    /// Spent (and reserved) in the current window against one finer cap.
    #[cfg(test)]
    pub fn used_in(&mut self, scope: Scope<'_>, now: Instant) -> super::budget::Amount {
        self.budget.used_scope(scope, now)
    }

    /// Consecutive key-wide rate limits of a credential (0: not backing off).
    #[cfg(test)]
    pub fn backoff_level(&self, credential: &CredentialKey) -> u32 {
        self.gates.get(credential).map_or(0, |g| g.backoff_level)
    }

    /// The start an on-demand probe is waiting for on a credential, if any.
    #[cfg(test)]
    pub fn claim(&self, credential: &CredentialKey) -> Option<Instant> {
        self.gates.get(credential).and_then(|g| g.claim)
    }

    /// Consecutive rate limits / overloads of one route (0: not backing off).
    #[cfg(test)]
    pub fn target_backoff_level(&self, target: &TargetKey) -> u32 {
        self.target_gates.get(target).map_or(0, |g| g.backoff_level)
    }

    /// The route's own backoff, checked with its credential's gate.
    fn target_check(&self, probe: &Probe<'_>, now: Instant) -> Result<(), SkipReason> {
        self.target_gates
            .get(probe.target)
            .map_or(Ok(()), |g| g.check(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ApiStyle, Target};
    use crate::probe::test_support::{result, target};

    fn keys() -> (TargetKey, CredentialKey) {
        let t: Target = target("openai", ApiStyle::OpenAiCompletions, "http://h/v1", "m");
        (TargetKey::of(&t), CredentialKey::of(&t))
    }

    fn policy() -> Policy {
        Policy {
            base: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            spacing: Duration::from_secs(1),
        }
    }

    fn probe<'a>(t: &'a TargetKey, c: &'a CredentialKey, spends: bool) -> Probe<'a> {
        Probe {
            target: t,
            credential: c,
            provider: "openai",
            style_tokens: 9,
            scope: Scope::Model(t),
            spends,
            on_demand: false,
        }
    }

    fn send(b: &mut Books, p: &Probe<'_>, now: Instant) -> Ticket {
        match b.admit(p, Headroom::default(), policy().spacing, now) {
            Admit::Send(t) => t,
            other => panic!("not admitted: {other:?}"),
        }
    }

    #[test]
    fn recheck_doubles_with_the_streak_and_waits_for_the_gate() {
        let now = Instant::now();
        let p = policy();
        let fail = result(Class::Auth, Tier::Generation);
        let at = |streak, open| recheck_after(&fail, streak, &p, open, now).map(|r| r.at - now);
        assert_eq!(at(1, now), Some(Duration::from_secs(60)));
        assert_eq!(at(3, now), Some(Duration::from_secs(240)));
        assert_eq!(at(30, now), Some(Duration::from_secs(3600)));
        // Never before the credential's gate opens.
        assert_eq!(
            at(1, now + Duration::from_secs(900)),
            Some(Duration::from_secs(900))
        );
        // Auth is seen by a metadata request as well: re-checked at zero tokens, per target.
        let r = recheck_after(&fail, 1, &p, now, now).unwrap();
        assert_eq!((r.tier, r.scope), (Tier::Metadata, RecheckScope::Target));
        // What only generation can see is re-checked by generation: per route for a rate
        // limit or an overload, once per credential for billing.
        for (class, tier, scope) in [
            (Class::RateLimit, Tier::Generation, RecheckScope::Target),
            (Class::Overloaded, Tier::Generation, RecheckScope::Target),
            (Class::Timeout, Tier::Generation, RecheckScope::Target),
            (Class::Billing, Tier::Generation, RecheckScope::Credential),
        ] {
            let r = recheck_after(&result(class, Tier::Generation), 1, &p, now, now).unwrap();
            assert_eq!((r.tier, r.scope), (tier, scope), "{class}");
            // Seen by a metadata request: re-checked by one.
            let r = recheck_after(&result(class, Tier::Metadata), 1, &p, now, now).unwrap();
            assert_eq!(
                (r.tier, r.scope),
                (Tier::Metadata, RecheckScope::Target),
                "{class}"
            );
        }
        for class in [Class::Ok, Class::Skipped] {
            assert_eq!(
                recheck_after(&result(class, Tier::Metadata), 1, &p, now, now),
                None
            );
        }
    }

    #[test]
    fn admit_spaces_gates_and_budgets_without_tokio() {
        let t0 = Instant::now();
        let (tk, ck) = keys();
        let mut b = Books::new(
            BudgetSettings {
                provider_requests_per_day: 1,
                ..BudgetSettings::default()
            },
            t0,
        );
        // A metadata probe is not budgeted; the next one waits for the spacing.
        let meta = probe(&tk, &ck, false);
        let ticket = send(&mut b, &meta, t0);
        assert!(matches!(
            b.admit(&meta, Headroom::default(), policy().spacing, t0),
            Admit::WaitUntil(at) if at == t0 + Duration::from_secs(1)
        ));
        let l = b.learn(
            &meta,
            ticket,
            &result(Class::Ok, Tier::Metadata),
            &policy(),
            t0,
            SystemTime::now(),
        );
        assert_eq!(l, Learned::default());
        // One generation request a day for this provider: the second is skipped.
        let t1 = t0 + Duration::from_secs(2);
        let gen = probe(&tk, &ck, true);
        let ticket = send(&mut b, &gen, t1);
        let _ = b.learn(
            &gen,
            ticket,
            &result(Class::Ok, Tier::Generation),
            &policy(),
            t1,
            SystemTime::now(),
        );
        let t2 = t1 + Duration::from_secs(2);
        assert!(matches!(
            b.admit(&gen, Headroom::default(), policy().spacing, t2),
            Admit::Skip(SkipReason::Budget)
        ));
        assert_eq!(b.used(Some("openai"), t2).requests, 1);
    }

    #[test]
    fn learn_backs_off_counts_failures_and_forgets_gone_targets() {
        let t0 = Instant::now();
        let (tk, ck) = keys();
        let mut b = Books::new(BudgetSettings::default(), t0);
        let p = probe(&tk, &ck, false);
        let ticket = send(&mut b, &p, t0);
        let l = b.learn(
            &p,
            ticket,
            &result(Class::RateLimit, Tier::Metadata),
            &policy(),
            t0,
            SystemTime::now(),
        );
        // The route's own rate limit: the route backs off, not the key.
        assert_eq!(b.target_backoff_level(&tk), 1);
        assert_eq!(b.backoff_level(&ck), 0);
        // Backing off for 60 s: closed at the first gate, and the re-check waits for it.
        assert_eq!(
            b.gate(&p, None, t0 + Duration::from_secs(30)),
            Err(SkipReason::Backoff)
        );
        assert_eq!(l.recheck.unwrap().at, t0 + Duration::from_secs(60));
        let t1 = t0 + Duration::from_secs(61);
        assert_eq!(b.gate(&p, Some(Duration::from_secs(1)), t1), Ok(Some(t1)));
        let ticket = send(&mut b, &p, t1);
        let l = b.learn(
            &p,
            ticket,
            &result(Class::Auth, Tier::Metadata),
            &policy(),
            t1,
            SystemTime::now(),
        );
        // Second failure in a row: 120 s.
        assert_eq!(l.recheck.unwrap().at, t1 + Duration::from_secs(120));
        // A rate limit the provider says is the key's backs off the credential.
        let t2 = t1 + Duration::from_secs(3600);
        let ticket = send(&mut b, &p, t2);
        let mut key_wide = result(Class::RateLimit, Tier::Metadata);
        key_wide.rate_limits.key_wide = true;
        b.learn(&p, ticket, &key_wide, &policy(), t2, SystemTime::now());
        assert_eq!(b.backoff_level(&ck), 1);
        b.retain(&ProbePlan::default());
        assert!(b.failures.is_empty());
        assert_eq!(
            b.target_backoff_level(&tk),
            0,
            "a gone route's backoff goes"
        );
        assert_eq!(b.backoff_level(&ck), 1, "credential gates survive a reload");
    }

    /// An overload (or rate limit) of one model backs off that route alone: another model
    /// on the same key is still probed, so a failure only it has is still seen.
    #[test]
    fn one_models_overload_does_not_close_the_key_to_the_others() {
        let t0 = Instant::now();
        let (tk, ck) = keys();
        let other = TargetKey::of(&target(
            "openai",
            ApiStyle::OpenAiCompletions,
            "http://h/v1",
            "other",
        ));
        let mut b = Books::new(BudgetSettings::default(), t0);
        let busy = probe(&tk, &ck, true);
        let ticket = send(&mut b, &busy, t0);
        b.learn(
            &busy,
            ticket,
            &result(Class::Overloaded, Tier::Generation),
            &policy(),
            t0,
            SystemTime::now(),
        );
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(b.gate(&busy, None, t1), Err(SkipReason::Backoff));
        let p = probe(&other, &ck, true);
        assert_eq!(b.gate(&p, None, t1), Ok(None));
        assert!(matches!(
            b.admit(&p, Headroom::default(), policy().spacing, t1),
            Admit::Send(_)
        ));
        // A skipped re-check of the busy route is tried again when its own backoff ends.
        assert_eq!(
            b.retry_skipped_at(&tk, &ck, SkipReason::Backoff, t1),
            Some(t0 + Duration::from_secs(60))
        );
    }

    #[test]
    fn a_metadata_success_does_not_end_a_run_only_generation_can_see() {
        let t0 = Instant::now();
        let (tk, ck) = keys();
        let mut b = Books::new(BudgetSettings::default(), t0);
        let gen = probe(&tk, &ck, true);
        let meta = probe(&tk, &ck, false);
        let step = |b: &mut Books, p: &Probe<'_>, r: ProbeResult, now: Instant| {
            let ticket = send(b, p, now);
            b.learn(p, ticket, &r, &policy(), now, SystemTime::now())
        };
        let at = |n: u64| t0 + Duration::from_secs(4000 * n);
        let l = step(
            &mut b,
            &gen,
            result(Class::Overloaded, Tier::Generation),
            at(1),
        );
        assert_eq!(l.recheck.unwrap().tier, Tier::Generation);
        // The metadata cycle says ok in between: no effect on the generation run.
        let l = step(&mut b, &meta, result(Class::Ok, Tier::Metadata), at(2));
        assert_eq!(l.recheck, None);
        let l = step(
            &mut b,
            &gen,
            result(Class::Overloaded, Tier::Generation),
            at(3),
        );
        assert_eq!(
            l.recheck.unwrap().at - at(3),
            Duration::from_secs(120),
            "second in the run"
        );
        // A generation success ends it.
        let l = step(&mut b, &gen, result(Class::Ok, Tier::Generation), at(4));
        assert_eq!(l.recheck, None);
        let l = step(
            &mut b,
            &gen,
            result(Class::Overloaded, Tier::Generation),
            at(5),
        );
        assert_eq!(l.recheck.unwrap().at - at(5), Duration::from_secs(60));
    }

    #[test]
    fn a_metadata_probe_that_generated_is_budgeted_from_then_on() {
        let t0 = Instant::now();
        let (tk, ck) = keys();
        let mut b = Books::new(BudgetSettings::default(), t0);
        let p = probe(&tk, &ck, false);
        let ticket = send(&mut b, &p, t0);
        let mut r = result(Class::Ok, Tier::Generation);
        r.usage = Some(crate::probe::Usage {
            input_tokens: 8,
            output_tokens: 1,
        });
        let l = b.learn(&p, ticket, &r, &policy(), t0, SystemTime::now());
        assert!(l.metadata_now_budgeted);
        assert_eq!(b.used_in(Scope::Model(tk.as_str()), t0).tokens, 9);
        let t1 = t0 + Duration::from_secs(2);
        let ticket = send(&mut b, &p, t1);
        assert!(ticket.reservation.is_some(), "budgeted now");
        let l = b.learn(&p, ticket, &r, &policy(), t1, SystemTime::now());
        assert!(!l.metadata_now_budgeted, "said once");
    }

    /// A failed generation probe the provider may have billed (a 2xx with a bad body, a
    /// timeout) is charged its style's estimate; one the provider refused (401) is not.
    #[test]
    fn failures_the_provider_may_have_billed_are_charged() {
        let t0 = Instant::now();
        let (tk, ck) = keys();
        let mut b = Books::new(BudgetSettings::default(), t0);
        let p = probe(&tk, &ck, true);
        let cases = [
            (Class::BadResponse, Some(200), 9),
            (Class::Timeout, None, 9),
            (Class::Auth, Some(401), 0),
            (Class::Network, None, 0),
        ];
        let mut spent = 0;
        for (i, (class, status, charged)) in cases.into_iter().enumerate() {
            let now = t0 + Duration::from_secs(2 * i as u64);
            let ticket = send(&mut b, &p, now);
            let mut r = result(class, Tier::Generation);
            r.http_status = status;
            let _ = b.learn(&p, ticket, &r, &policy(), now, SystemTime::now());
            spent += charged;
            assert_eq!(
                b.used_in(Scope::Model(tk.as_str()), now).tokens,
                spent,
                "{class:?} {status:?}"
            );
        }
    }
}
