//! Gauges computed at scrape time from the plan and the status store, so nothing of a
//! target that left the plan survives. Pure with respect to its inputs: the same plan,
//! statuses and budget give the same text.
//!
//! [`Rows`] is computed once per scrape (classes, labels, which entries shadow others);
//! each family is then one loop over it, written straight into the exposition.

use super::text::Exposition;
use super::{current_class, help, reason_label, unix_secs, BudgetRemaining, LabelMemo};
use crate::class::Class;
use crate::plan::{ProbePlan, Role};
use crate::ratelimit::RateLimitEntry;
use crate::state::{StoreView, TargetStatus};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

/// One chain entry, ready to write.
struct EntryRow<'a> {
    agent: usize,
    position: usize,
    role: &'static str,
    provider: Arc<str>,
    model: Arc<str>,
    class: Option<Class>,
    status: Option<&'a TargetStatus>,
    /// A later entry of the same chain has the same role, provider and model: the series
    /// without `position` (state set, timestamps) are the later entry's.
    shadowed: bool,
}

/// One agent, ready to write.
struct AgentRow {
    label: Arc<str>,
    /// `clawprobe_agent_up`: `None` while unknown.
    up: Option<bool>,
    primary_up: Option<bool>,
    models_up: u32,
    fallbacks: usize,
}

/// What every chain family is written from.
pub(super) struct Rows<'a> {
    agents: Vec<AgentRow>,
    entries: Vec<EntryRow<'a>>,
    statuses: Vec<Option<&'a TargetStatus>>,
}

impl<'a> Rows<'a> {
    pub(super) fn new(plan: &ProbePlan, view: &'a StoreView<'_>, memo: &mut LabelMemo) -> Self {
        let statuses: Vec<Option<&TargetStatus>> = (0..plan.targets.len())
            .map(|id| view.get(plan.key(id)))
            .collect();
        // Two agents whose ids sanitise to the same label would give duplicate series,
        // which makes Prometheus reject the whole scrape: the later agent wins.
        let labels: Vec<Arc<str>> = plan.agents.iter().map(|a| memo.get(&a.agent)).collect();
        let mut last_of: HashMap<&str, usize> = HashMap::with_capacity(labels.len());
        for (i, a) in labels.iter().enumerate() {
            last_of.insert(a, i);
        }
        let mut agents = Vec::with_capacity(plan.agents.len());
        let mut entries = Vec::with_capacity(plan.targets.len() * 2);
        for (i, agent) in plan.agents.iter().enumerate() {
            if last_of.get(&*labels[i]) != Some(&i) {
                continue;
            }
            let row = agents.len();
            let first = entries.len();
            let (mut any_ok, mut any_probeable, mut all_known_failed) = (false, false, true);
            let (mut models_up, mut primary_up) = (0u32, None);
            for entry in &agent.entries {
                let (provider, model) = entry_labels(entry, plan, memo);
                let status = entry
                    .target
                    .and_then(|id| statuses.get(id).copied().flatten());
                let class = current_class(entry, status.and_then(|s| s.last.as_ref()));
                match class {
                    Some(c) if c != Class::Skipped => {
                        any_probeable = true;
                        if c.is_ok() {
                            any_ok = true;
                            models_up += 1;
                        }
                        if entry.role == Role::Primary {
                            primary_up = Some(c.is_ok());
                        }
                    }
                    Some(_) => {}
                    // Probeable but not probed yet: the agent's state is not known.
                    None => all_known_failed = false,
                }
                entries.push(EntryRow {
                    agent: row,
                    position: entry.position,
                    role: entry.role.as_str(),
                    provider,
                    model,
                    class,
                    status,
                    shadowed: false,
                });
            }
            let chain = &mut entries[first..];
            for j in 0..chain.len() {
                let (head, tail) = chain.split_at_mut(j + 1);
                let e = &mut head[j];
                e.shadowed = tail
                    .iter()
                    .any(|l| l.role == e.role && l.provider == e.provider && l.model == e.model);
            }
            agents.push(AgentRow {
                label: labels[i].clone(),
                up: if any_ok {
                    Some(true)
                } else if any_probeable && all_known_failed {
                    Some(false)
                } else {
                    None
                },
                primary_up,
                models_up,
                fallbacks: agent.fallback_count(),
            });
        }
        Rows {
            agents,
            entries,
            statuses,
        }
    }

    /// `clawprobe_agent_*`: one gauge per agent each, absent where the value is unknown.
    pub(super) fn write_agents(&self, e: &mut Exposition) {
        type Value = fn(&AgentRow) -> Option<f64>;
        let families: [(&'static str, &str, Value); 4] = [
            (
                "clawprobe_agent_fallbacks",
                "Number of fallback models configured for the agent.",
                |a| Some(a.fallbacks as f64),
            ),
            (
                "clawprobe_agent_models_up",
                "Number of models in the agent's chain whose last probe succeeded.",
                |a| Some(a.models_up as f64),
            ),
            (
                "clawprobe_agent_primary_up",
                "Whether the agent's primary model works (1) or not (0); absent while unknown.",
                |a| a.primary_up.map(bool_value),
            ),
            (
                "clawprobe_agent_up",
                "0 when no model in the agent's chain works (all models failed), 1 when at least one does; absent while unknown.",
                |a| a.up.map(bool_value),
            ),
        ];
        for (name, text, value) in families {
            e.family(name, "gauge", &help(text));
            for a in &self.agents {
                if let Some(v) = value(a) {
                    e.sample(&[("agent", &a.label)], v);
                }
            }
        }
    }

    /// `clawprobe_model_*`.
    pub(super) fn write_models(&self, e: &mut Exposition) {
        e.family(
            "clawprobe_model_last_probe_timestamp_seconds",
            "gauge",
            &help("Unix time of the last probe of this chain entry's target."),
        );
        for r in self.entries.iter().filter(|r| !r.shadowed) {
            let last = r.status.and_then(|s| s.last.as_ref());
            if let Some(last) = last.filter(|l| l.class != Class::Skipped) {
                e.sample(&self.model_labels(r), unix_secs(last.at));
            }
        }
        e.family(
            "clawprobe_model_last_success_timestamp_seconds",
            "gauge",
            &help("Unix time of the last successful probe of this chain entry's target."),
        );
        for r in self.entries.iter().filter(|r| !r.shadowed) {
            if let Some(at) = r.status.and_then(|s| s.last_success_at) {
                e.sample(&self.model_labels(r), unix_secs(at));
            }
        }
        e.family(
            "clawprobe_model_status",
            "gauge",
            &help("State set of the chain entry's current class: 1 for the current class, 0 for every other."),
        );
        let (mut head, mut tail) = (String::new(), String::new());
        for r in self.entries.iter().filter(|r| !r.shadowed) {
            let Some(c) = r.class else { continue };
            // `{agent="a",class="` <class> `",model="m",provider="p",role="r"}`
            head.clear();
            head.push_str("{agent=\"");
            head.push_str(&self.agents[r.agent].label);
            head.push_str("\",class=\"");
            tail.clear();
            for (k, v) in [
                ("model", &*r.model),
                ("provider", &*r.provider),
                ("role", r.role),
            ] {
                tail.push_str("\",");
                tail.push_str(k);
                tail.push_str("=\"");
                tail.push_str(v);
            }
            tail.push_str("\"}");
            for other in Class::ALL {
                e.sample_pieces(&[&head, other.as_str(), &tail], u64::from(other == c));
            }
        }
        e.family(
            "clawprobe_model_up",
            "gauge",
            &help("Whether the last probe of this chain entry succeeded (1) or failed (0), static findings such as an unresolved ref or a missing credential count as 0; absent while never probed or not probeable."),
        );
        let mut position = String::new();
        for r in &self.entries {
            let Some(c) = r.class.filter(|c| *c != Class::Skipped) else {
                continue;
            };
            position.clear();
            let _ = std::fmt::Write::write_fmt(&mut position, format_args!("{}", r.position));
            e.sample(
                &[
                    ("agent", &self.agents[r.agent].label),
                    ("model", &r.model),
                    ("position", &position),
                    ("provider", &r.provider),
                    ("role", r.role),
                ],
                bool_value(c.is_ok()),
            );
        }
    }

    fn model_labels<'s>(&'s self, r: &'s EntryRow<'_>) -> [(&'s str, &'s str); 4] {
        [
            ("agent", &self.agents[r.agent].label),
            ("model", &r.model),
            ("provider", &r.provider),
            ("role", r.role),
        ]
    }

    /// Rate limits per credential and resource: the newest report wins when targets share
    /// one.
    pub(super) fn write_rate_limits(
        &self,
        plan: &ProbePlan,
        memo: &mut LabelMemo,
        e: &mut Exposition,
    ) {
        type Key = (Arc<str>, Arc<str>, Arc<str>);
        let mut newest: HashMap<Key, (SystemTime, &RateLimitEntry)> = HashMap::new();
        for (t, st) in plan.targets.iter().zip(&self.statuses) {
            let Some(st) = st else { continue };
            let mut cred: Option<Arc<str>> = None;
            for r in st.last_by_tier.values() {
                for entry in &r.rate_limits.entries {
                    let cred = cred
                        .get_or_insert_with(|| memo.get(&t.credential_label()))
                        .clone();
                    let key = (memo.get(&t.provider), cred, memo.get(&entry.resource));
                    match newest.get(&key) {
                        Some((at, _)) if *at >= r.at => {}
                        _ => {
                            newest.insert(key, (r.at, entry));
                        }
                    }
                }
            }
        }
        let sorted: BTreeMap<Key, &RateLimitEntry> =
            newest.into_iter().map(|(k, (_, v))| (k, v)).collect();
        type Value = fn(&RateLimitEntry) -> Option<f64>;
        let families: [(&'static str, &str, Value); 3] = [
            (
                "clawprobe_ratelimit_limit",
                "Rate limit the provider reported for this credential and resource.",
                |r| r.limit,
            ),
            (
                "clawprobe_ratelimit_remaining",
                "Remaining rate limit the provider reported for this credential and resource.",
                |r| r.remaining,
            ),
            (
                "clawprobe_ratelimit_reset_timestamp_seconds",
                "Unix time at which the provider said this rate limit resets.",
                |r| r.reset_at.map(unix_secs),
            ),
        ];
        for (name, text, value) in families {
            e.family(name, "gauge", &help(text));
            for ((p, prof, res), r) in &sorted {
                if let Some(v) = value(r) {
                    e.sample(&[("profile", prof), ("provider", p), ("resource", res)], v);
                }
            }
        }
    }
}

/// `(provider, model)` label values of an entry: from the target, else the entry's resolved
/// parts, else provider `unknown` and the raw ref as the model (bounded and redacted).
fn entry_labels(
    entry: &crate::plan::ChainEntry,
    plan: &ProbePlan,
    memo: &mut LabelMemo,
) -> (Arc<str>, Arc<str>) {
    if let Some(t) = entry.target.and_then(|id| plan.targets.get(id)) {
        return (memo.get(&t.provider), memo.get(&t.model));
    }
    match (&entry.provider, &entry.model) {
        (Some(p), Some(m)) => (memo.get(p), memo.get(m)),
        (Some(p), None) => (memo.get(p), memo.get(&entry.raw_ref)),
        _ => (Arc::from("unknown"), memo.get(&entry.raw_ref)),
    }
}

fn bool_value(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// `clawprobe_budget_remaining` and `clawprobe_build_info`. Few series, collected in an
/// ordered map so label collisions cannot produce duplicate series.
pub(super) fn write_budget_and_build(
    budget: &[BudgetRemaining],
    memo: &mut LabelMemo,
    e: &mut Exposition,
) {
    e.family(
        "clawprobe_budget_remaining",
        "gauge",
        &help("What clawprobe's own daily probe budget has left (provider _global is the global cap; unit requests or tokens)."),
    );
    let by_key: BTreeMap<(Arc<str>, &str), f64> = budget
        .iter()
        .map(|b| ((memo.get(&b.provider), b.unit), b.remaining))
        .collect();
    for ((p, unit), v) in &by_key {
        e.sample(&[("provider", p), ("unit", unit)], *v);
    }
    e.family(
        "clawprobe_build_info",
        "gauge",
        "clawprobe build information; always 1.",
    );
    e.sample(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);
}

/// `clawprobe_credential_expiry_timestamp_seconds`.
pub(super) fn write_expiry(plan: &ProbePlan, memo: &mut LabelMemo, e: &mut Exposition) {
    e.family(
        "clawprobe_credential_expiry_timestamp_seconds",
        "gauge",
        &help("Unix time at which the credential (token or OAuth) an agent would use expires, as read from OpenClaw's auth store."),
    );
    type Key = (Arc<str>, Arc<str>, Arc<str>);
    let by_key: BTreeMap<Key, f64> = plan
        .credential_expiries
        .iter()
        .map(|c| {
            (
                (
                    memo.get(&c.agent),
                    memo.get(&c.profile),
                    memo.get(&c.provider),
                ),
                c.expires_at_ms as f64 / 1000.0,
            )
        })
        .collect();
    for ((a, prof, p), v) in &by_key {
        e.sample(&[("agent", a), ("profile", prof), ("provider", p)], *v);
    }
}

/// OpenClaw's own profile state: cooldowns, disables, error counts.
pub(super) fn write_openclaw(plan: &ProbePlan, memo: &mut LabelMemo, e: &mut Exposition) {
    type OcKey = (Arc<str>, Arc<str>, String);
    let mut cooldown: BTreeMap<OcKey, f64> = BTreeMap::new();
    let mut disabled: BTreeMap<OcKey, f64> = BTreeMap::new();
    let mut errors: BTreeMap<OcKey, f64> = BTreeMap::new();
    for s in &plan.profile_states {
        let p = memo.get(&s.provider);
        let prof = memo.get(&s.profile);
        if let Some(ms) = s.cooldown_until_ms {
            let reason = reason_label(s.cooldown_reason.as_deref());
            cooldown.insert((prof.clone(), p.clone(), reason), ms as f64 / 1000.0);
        }
        if let Some(ms) = s.disabled_until_ms {
            let reason = reason_label(s.disabled_reason.as_deref());
            disabled.insert((prof.clone(), p.clone(), reason), ms as f64 / 1000.0);
        }
        for (reason, n) in &s.failure_counts {
            errors.insert(
                (prof.clone(), p.clone(), reason_label(Some(reason))),
                *n as f64,
            );
        }
        if let Some(n) = s.error_count {
            errors.insert((prof.clone(), p.clone(), "all".into()), n as f64);
        }
    }
    for (name, text, values) in [
        (
            "clawprobe_openclaw_profile_cooldown_until_timestamp_seconds",
            "Unix time until which OpenClaw itself keeps this auth profile in cooldown (read from its state files).",
            cooldown,
        ),
        (
            "clawprobe_openclaw_profile_disabled_until_timestamp_seconds",
            "Unix time until which OpenClaw itself keeps this auth profile disabled (read from its state files).",
            disabled,
        ),
        (
            "clawprobe_openclaw_profile_errors",
            "Error counts OpenClaw itself recorded for this auth profile, by reason (reason=all is its total errorCount).",
            errors,
        ),
    ] {
        e.family(name, "gauge", &help(text));
        for ((prof, p, reason), v) in &values {
            e.sample(&[("profile", prof), ("provider", p), ("reason", reason)], *v);
        }
    }
}
