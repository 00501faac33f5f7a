//! Cycle planning: which targets a cycle probes, when in the cycle each starts, what model
//! probes leave to credential probes, when a target is probed next. Free functions of the
//! plan index, the settings and the time, so they are tested without a scheduler.

use super::budget::{Amount, Headroom};
use super::index::PlanIndex;
use super::{spread, CycleKind};
use crate::class::SkipReason;
use crate::config::ScheduleSettings;
use crate::cron;
use crate::plan::{ProbePlan, Role, TargetId};
use crate::probe::ProbeResult;
use crate::verdict::Cadence;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, SystemTime};

/// A number of seconds from the config as a duration (negative or not finite: zero).
pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() && s > 0.0 { s } else { 0.0 })
}

/// The next tick of `kind`'s cron after `now` and the interval that follows it (the
/// kind's default interval when the tick after cannot be computed); `None` when the
/// cycle is disabled.
pub fn next_tick(
    kind: CycleKind,
    settings: &ScheduleSettings,
    now: SystemTime,
) -> Option<(SystemTime, Duration)> {
    let expr = kind.cron(settings);
    let tick = cron::next_tick(expr, now)?;
    let interval = cron::next_tick(expr, tick)
        .and_then(|t| t.duration_since(tick).ok())
        .unwrap_or(kind.default_interval());
    Some((tick, interval))
}

/// When a cycle that starts at `tick` and lasts `interval` probes a target at `jitter`.
pub fn probe_time(
    (tick, interval): (SystemTime, Duration),
    jitter: f64,
    settings: &ScheduleSettings,
) -> SystemTime {
    tick + spread::offset_at(jitter, interval, settings.spread_fraction)
}

/// When the next cycle of `kind` after `now` probes target `id`; `None` when disabled.
pub fn next_probe(
    idx: &PlanIndex,
    id: TargetId,
    kind: CycleKind,
    settings: &ScheduleSettings,
    now: SystemTime,
) -> Option<SystemTime> {
    next_tick(kind, settings, now).map(|t| probe_time(t, idx.jitter(kind, id), settings))
}

/// What a new plan adds to the old one: targets that were not in it (probeable ones), the
/// first of each in its credential's cycle order, and one target (its cheapest) per
/// credential the old plan did not have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Arrivals {
    pub targets: Vec<TargetId>,
    pub first_of_credential: HashSet<TargetId>,
    pub new_credentials: Vec<TargetId>,
}

impl Arrivals {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

/// The [`Arrivals`] of `new` over `old`.
pub fn arrivals(old: &PlanIndex, new: &PlanIndex) -> Arrivals {
    let targets: Vec<TargetId> = (0..new.plan.targets.len())
        .filter(|&id| {
            new.plan.target(id).api.is_probeable()
                && !old.plan.contains_key(new.plan.key(id).as_str())
        })
        .collect();
    let old_credentials: HashSet<&crate::plan::CredentialKey> = (0..old.plan.targets.len())
        .map(|id| old.plan.credential_key(id))
        .collect();
    let new_credentials = spread::cheapest_per_credential(&new.plan)
        .into_iter()
        .filter(|&id| !old_credentials.contains(new.plan.credential_key(id)))
        .collect();
    Arrivals {
        first_of_credential: first_per_credential(new, &targets, CycleKind::Metadata),
        targets,
        new_credentials,
    }
}

/// Whether a scheduled generation probe of a target can be saved because real traffic
/// showed its route working more recently: a request through it succeeded (OpenClaw's own
/// log) after the target's latest generation probe, and within the cycle's `window` (for
/// a re-check, `None`: any success after the failure being re-checked will do). Only for
/// targets whose route tries just this credential (the log does not say which profile
/// served).
pub fn traffic_fresh(
    success: Option<SystemTime>,
    last_generation: Option<SystemTime>,
    window: Option<Duration>,
    now: SystemTime,
) -> bool {
    let Some(success) = success else {
        return false;
    };
    if last_generation.is_some_and(|g| g >= success) {
        return false;
    }
    window.is_none_or(|w| now.duration_since(success).map_or(true, |age| age <= w))
}

/// How often each target of the plan is probed, for verdict staleness: a target in the
/// metadata cycle every metadata interval; one left out of it (no zero-token endpoint) by
/// the credential cycle when it is its credential's cheapest model, else by the model
/// cycle; failures only generation can see are re-checked on the backoff, up to
/// `max_backoff_seconds`. Unprobeable targets and disabled cycles give `None`.
pub fn cadence(idx: &PlanIndex, settings: &ScheduleSettings, now: SystemTime) -> Cadence {
    let period = |kind: CycleKind| next_tick(kind, settings, now).map(|(_, interval)| interval);
    let (meta, cred, model) = (
        period(CycleKind::Metadata),
        period(CycleKind::CredentialGeneration),
        period(CycleKind::ModelGeneration),
    );
    let cheapest: HashSet<TargetId> = spread::cheapest_per_credential(&idx.plan)
        .into_iter()
        .collect();
    let fallback = settings.metadata_generation_fallback;
    let by_target = (0..idx.plan.targets.len())
        .map(|id| {
            if !idx.plan.target(id).api.is_probeable() {
                return None;
            }
            let generation = if cheapest.contains(&id) {
                cred.or(model)
            } else {
                model
            };
            if idx.in_metadata_cycle(id, fallback) {
                meta.or(generation)
            } else {
                generation
            }
        })
        .collect();
    Cadence {
        by_target,
        recheck_max: secs(settings.max_backoff_seconds),
    }
}

/// The targets a cycle of `kind` probes: one per credential (its cheapest model) for the
/// credential tier; every target for the model tier; for the metadata tier every target
/// with a zero-token metadata endpoint, all of them with `metadata_generation_fallback`.
pub fn targets(idx: &PlanIndex, kind: CycleKind, settings: &ScheduleSettings) -> Vec<TargetId> {
    let all = 0..idx.plan.targets.len();
    match kind {
        CycleKind::CredentialGeneration => spread::cheapest_per_credential(&idx.plan),
        CycleKind::Metadata => all
            .filter(|&id| idx.in_metadata_cycle(id, settings.metadata_generation_fallback))
            .collect(),
        CycleKind::ModelGeneration => all.collect(),
    }
}

/// What the start-up model cycle probes: the agents' primaries (the model a request tries
/// first), less the targets the start-up credential cycle already sends a generation probe
/// to (`covered_by_credential_cycle`: its cheapest model per credential), at most
/// `per_credential` per credential, the ones most agents have as primary first (ties: the
/// lower id). Billing is the credential's and shows through the cheapest model, but a
/// limit, an overload or a refusal of one model shows only to a generation request on that
/// model: without this, a primary that is not its key's cheapest stayed "up" on metadata
/// until the first model tick (every 6 h by default). The cap bounds what a start costs
/// (a standalone fleet where each of 1,000 targets is its own primary sends 5 per key, not
/// 1,000).
pub fn startup_primaries(
    idx: &PlanIndex,
    covered_by_credential_cycle: bool,
    per_credential: usize,
) -> Vec<TargetId> {
    let covered: HashSet<TargetId> = if covered_by_credential_cycle {
        spread::cheapest_per_credential(&idx.plan)
            .into_iter()
            .collect()
    } else {
        HashSet::new()
    };
    primaries(idx, |id| !covered.contains(&id), per_credential)
}

/// The agents' primaries among the targets `eligible` says yes to, at most `per_credential`
/// per credential, the ones most agents have as primary first (ties: the lower id); sorted.
pub fn primaries(
    idx: &PlanIndex,
    eligible: impl Fn(TargetId) -> bool,
    per_credential: usize,
) -> Vec<TargetId> {
    let mut agents: BTreeMap<TargetId, usize> = BTreeMap::new();
    for entry in idx
        .plan
        .agents
        .iter()
        .filter_map(|a| a.entries.iter().find(|e| e.role == Role::Primary))
    {
        if let Some(id) = entry.target {
            *agents.entry(id).or_default() += 1;
        }
    }
    let mut per_cred: BTreeMap<&str, Vec<(usize, TargetId)>> = BTreeMap::new();
    for (id, n) in agents {
        if !eligible(id) || !idx.plan.target(id).api.is_probeable() {
            continue;
        }
        per_cred
            .entry(idx.plan.credential_key(id).as_str())
            .or_default()
            .push((n, id));
    }
    let mut out: Vec<TargetId> = per_cred
        .into_values()
        .flat_map(|mut v| {
            v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            v.into_iter().take(per_credential).map(|(_, id)| id)
        })
        .collect();
    out.sort_unstable();
    out
}

/// Targets the metadata cycle leaves out by default (no zero-token metadata endpoint).
pub fn left_out_of_metadata(idx: &PlanIndex) -> Vec<TargetId> {
    (0..idx.plan.targets.len())
        .filter(|&id| !idx.in_metadata_cycle(id, false))
        .collect()
}

/// What one cycle did, for the log line at its end.
#[derive(Debug, Default)]
pub struct Tally {
    sent: usize,
    not_probeable: usize,
    skipped: BTreeMap<SkipReason, usize>,
}

impl Tally {
    /// Counts one probe of the cycle: sent, recorded as not probeable, or skipped.
    pub fn add(&mut self, probeable: bool, result: &Result<ProbeResult, SkipReason>) {
        match result {
            Ok(_) if !probeable => self.not_probeable += 1,
            Ok(_) => self.sent += 1,
            Err(reason) => *self.skipped.entry(*reason).or_default() += 1,
        }
    }

    pub fn log(&self, kind: CycleKind, elapsed: Duration) {
        let n = |r| self.skipped.get(&r).copied().unwrap_or(0);
        tracing::info!(
            cycle = %kind,
            sent = self.sent,
            not_probeable = self.not_probeable,
            skipped_budget = n(SkipReason::Budget),
            skipped_backoff = n(SkipReason::Backoff),
            skipped_retry_after = n(SkipReason::RetryAfter),
            elapsed_s = elapsed.as_secs(),
            "cycle finished"
        );
    }
}

/// Says, once per plan, which targets the metadata cycle leaves out and why.
pub fn log_left_out(plan: &ProbePlan, left_out: &[TargetId]) {
    let providers: BTreeSet<&str> = left_out
        .iter()
        .map(|&id| plan.target(id).provider.as_str())
        .collect();
    let providers = providers.into_iter().collect::<Vec<_>>().join(", ");
    tracing::info!(
        targets = left_out.len(),
        providers = %providers,
        "{} targets left out of the metadata cycle: their providers ({providers}) have \
         no zero-token metadata endpoint, so a metadata probe would be a generation \
         call every cycle; the credential and model generation probes watch them \
         within model_tokens_per_day and credential_tokens_per_day. To probe them \
         every cycle anyway (about 9 tokens a model each time, charged to \
         model_tokens_per_day), set schedule.metadata_generation_fallback = true",
        left_out.len()
    );
}

/// Among `ids`, the probeable target of each credential that comes first in the cycle
/// (smallest jitter): the startup cycle sends these at once.
pub fn first_per_credential(
    idx: &PlanIndex,
    ids: &[TargetId],
    kind: CycleKind,
) -> HashSet<TargetId> {
    let mut first: HashMap<&str, TargetId> = HashMap::new();
    for &id in ids {
        if !idx.plan.target(id).api.is_probeable() {
            continue;
        }
        first
            .entry(idx.plan.credential_key(id).as_str())
            .and_modify(|cur| {
                if (idx.jitter(kind, id), id) < (idx.jitter(kind, *cur), *cur) {
                    *cur = id;
                }
            })
            .or_insert(id);
    }
    first.into_values().collect()
}

/// The credential with the most targets among `ids` (ties: the greater key), as one of
/// its targets and the count.
pub fn busiest_credential(plan: &ProbePlan, ids: &[TargetId]) -> Option<(TargetId, u32)> {
    let mut per_cred: HashMap<&str, (TargetId, u32)> = HashMap::new();
    for &id in ids {
        let e = per_cred
            .entry(plan.credential_key(id).as_str())
            .or_insert((id, 0));
        e.1 += 1;
    }
    per_cred
        .into_iter()
        .max_by_key(|(k, (_, n))| (*n, *k))
        .map(|(_, v)| v)
}

/// What to say when `n` targets on one credential at `spacing` do not fit a cycle of
/// `interval`: `None` when they fit the spread window (`interval × spread_fraction`);
/// `(false, text)` when they only run late in the cycle; `(true, text)` when the cycle
/// overruns the interval, so the next ticks are skipped. The text gives the numbers and
/// the fix.
pub fn spacing_advice(
    who: &str,
    n: u32,
    spacing: Duration,
    kind: CycleKind,
    interval: Duration,
    spread_fraction: f64,
) -> Option<(bool, String)> {
    let needed = spacing * n;
    let window = interval.mul_f64(spread_fraction.clamp(0.0, 1.0));
    if spacing.is_zero() || needed <= window.max(spacing) {
        return None;
    }
    let overrun = needed > interval;
    let fits = if window.is_zero() { interval } else { window };
    let max_spacing = fits.as_secs_f64() / f64::from(n);
    let message = format!(
        "{who} has {n} targets in the {kind} cycle; at schedule.min_key_spacing_seconds = {} \
         they need {:.0} s, more than the {:.0} s {}; lower min_key_spacing_seconds to at most \
         {max_spacing:.2}, or make the schedule.{kind} interval longer than {:.0} s",
        spacing.as_secs_f64(),
        needed.as_secs_f64(),
        if overrun { interval } else { window }.as_secs_f64(),
        if overrun {
            "between ticks: the cycle will overrun and the next ticks be skipped"
        } else {
            "spread window (interval x spread_fraction): its probes run late in the cycle"
        },
        needed.as_secs_f64() / spread_fraction.clamp(0.01, 1.0),
    );
    Some((overrun, message))
}

/// What model-generation probes must leave free per provider: one request and its token
/// estimate per credential for each of `ticks` credential-generation ticks still due in
/// the budget window, so per-model probes never starve the per-credential ones.
pub fn credential_headroom(
    plan: &ProbePlan,
    ticks: u64,
    estimate: impl Fn(&str) -> u64,
) -> HashMap<String, Headroom> {
    let mut per_provider: HashMap<String, Amount> = HashMap::new();
    for id in spread::cheapest_per_credential(plan) {
        let p = &plan.target(id).provider;
        let est = estimate(p);
        let a = per_provider.entry(p.clone()).or_default();
        a.requests = a.requests.saturating_add(ticks);
        a.tokens = a.tokens.saturating_add(ticks.saturating_mul(est));
    }
    let global = per_provider
        .values()
        .fold(Amount::default(), |g, a| Amount {
            requests: g.requests.saturating_add(a.requests),
            tokens: g.tokens.saturating_add(a.tokens),
        });
    per_provider
        .into_iter()
        .map(|(p, provider)| (p, Headroom { provider, global }))
        .collect()
}

/// Spacing makes a credential with many targets take `targets × spacing`. Longer than
/// the spread window (`interval × spread_fraction`), its probes bunch up at the end of
/// the window; longer than the interval, the cycle overruns and the next ticks of this
/// kind are skipped. Say so once per cycle, with the numbers and the fix.
pub fn warn_if_spacing_outlasts(
    plan: &ProbePlan,
    ids: &[TargetId],
    kind: CycleKind,
    interval: Duration,
    settings: &ScheduleSettings,
) {
    let spacing = secs(settings.min_key_spacing_seconds);
    if spacing.is_zero() {
        return;
    }
    let Some((id, n)) = busiest_credential(plan, ids) else {
        return;
    };
    let t = plan.target(id);
    let credential = t.credential_label();
    let who = format!("credential {credential} of provider {}", t.provider);
    let advice = spacing_advice(&who, n, spacing, kind, interval, settings.spread_fraction);
    let (provider, needed_s) = (t.provider.as_str(), (spacing * n).as_secs());
    match advice {
        Some((true, message)) => tracing::warn!(cycle = %kind, provider, credential = %credential,
            targets = n, needed_s, interval_s = interval.as_secs(), "{message}"),
        Some((false, message)) => tracing::info!(cycle = %kind, provider, credential = %credential,
            targets = n, needed_s, interval_s = interval.as_secs(), "{message}"),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_saves_a_generation_probe_only_when_it_is_newer_and_recent() {
        let t = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s);
        let hour = Some(Duration::from_secs(3600));
        let cases = [
            (None, None, hour, 100, false),
            (Some(50), None, hour, 100, true),
            (Some(50), Some(40), hour, 100, true),
            (Some(50), Some(60), hour, 100, false),
            (Some(50), Some(50), hour, 100, false),
            (Some(50), None, hour, 50 + 3601, false),
            (Some(50), Some(40), None, 999_999, true),
        ];
        for (success, last_gen, window, now, want) in cases {
            assert_eq!(
                traffic_fresh(success.map(t), last_gen.map(t), window, t(now)),
                want,
                "{success:?} {last_gen:?} {window:?} {now}"
            );
        }
    }

    #[test]
    fn spacing_advice_gives_the_numbers_and_the_fix() {
        let five_min = Duration::from_secs(300);
        let one = Duration::from_secs(1);
        // 143 targets per key at 1 s fit the 240 s window of a 5-minute cycle.
        assert_eq!(
            spacing_advice("k", 143, one, CycleKind::Metadata, five_min, 0.8),
            None
        );
        // At 2 s they need 286 s: past the window, still inside the interval.
        let (overrun, text) = spacing_advice(
            "credential env:K of provider openai",
            143,
            Duration::from_secs(2),
            CycleKind::Metadata,
            five_min,
            0.8,
        )
        .unwrap();
        assert!(!overrun);
        for part in [
            "credential env:K of provider openai has 143 targets in the metadata cycle",
            "min_key_spacing_seconds = 2",
            "need 286 s",
            "240 s spread window",
            "at most 1.68",
            "schedule.metadata interval longer than 358 s",
        ] {
            assert!(text.contains(part), "{part:?} not in {text}");
        }
        // 400 targets at 1 s overrun the 300 s interval: the next ticks are skipped.
        let (overrun, text) =
            spacing_advice("k", 400, one, CycleKind::Metadata, five_min, 0.8).unwrap();
        assert!(overrun);
        assert!(text.contains("300 s between ticks"), "{text}");
        assert!(text.contains("at most 0.60"), "{text}");
        // No spacing, or one target per key: nothing to say.
        assert_eq!(
            spacing_advice("k", 500, Duration::ZERO, CycleKind::Metadata, five_min, 0.8),
            None
        );
        assert_eq!(
            spacing_advice("k", 1, one, CycleKind::Metadata, five_min, 0.0),
            None
        );
    }
}
