//! Gauges computed at scrape time from the plan and the status store, so nothing of a
//! target that left the plan survives. Pure with respect to its inputs: the same plan,
//! statuses, budget, cadence and time give the same text.
//!
//! [`Rows`] is computed once per scrape: every verdict ([`crate::verdict::compute`]), the
//! labels, which entries shadow others; each family is then one loop over it, written
//! straight into the exposition.

use super::text::Exposition;
use super::{help, reason_label, unix_secs, BudgetRemaining, LabelMemo};
use crate::class::Class;
use crate::plan::ProbePlan;
use crate::probe::Tier;
use crate::ratelimit::RateLimitEntry;
use crate::state::{StoreView, TargetStatus};
use crate::verdict::{self, Cadence, EntryVerdict, PlanVerdicts, Source};
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
    verdict: EntryVerdict<'a>,
    /// Status of the target that decided the verdict (else the entry's first target).
    status: Option<&'a TargetStatus>,
    /// The decided target's expected probe interval.
    interval: Option<std::time::Duration>,
    /// A later entry of the same chain has the same role, provider and model: the series
    /// without `position` (state set, timestamps) are the later entry's.
    shadowed: bool,
}

impl EntryRow<'_> {
    fn class(&self) -> Option<Class> {
        self.verdict.verdict.map(|v| v.class)
    }
}

/// One agent, ready to write.
struct AgentRow {
    label: Arc<str>,
    summary: verdict::AgentSummary,
    fallbacks: usize,
    /// Index into `Rows::entries` of the entry that would serve.
    serving: Option<usize>,
}

/// One credential, ready to write.
struct CredentialRow {
    provider: Arc<str>,
    label: Arc<str>,
    class: Option<Class>,
    routes: u32,
}

/// What every chain family is written from.
pub(super) struct Rows<'a> {
    agents: Vec<AgentRow>,
    entries: Vec<EntryRow<'a>>,
    credentials: Vec<CredentialRow>,
    statuses: Vec<Option<&'a TargetStatus>>,
    /// The earliest time the verdicts change with no new evidence.
    pub(super) next_change: Option<SystemTime>,
}

impl<'a> Rows<'a> {
    pub(super) fn new(
        plan: &'a ProbePlan,
        view: &'a StoreView<'_>,
        cadence: &Cadence,
        traffic: Option<&crate::traffic::TrafficState>,
        now: SystemTime,
        memo: &mut LabelMemo,
    ) -> Self {
        let statuses: Vec<Option<&TargetStatus>> = (0..plan.targets.len())
            .map(|id| view.get(plan.key(id)))
            .collect();
        let verdicts: PlanVerdicts<'a> = verdict::compute(
            plan,
            &|t| statuses[t].map(TargetStatus::evidence).unwrap_or_default(),
            traffic,
            cadence,
            now,
        );
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
            let summary = verdicts.agents[i];
            for (entry, v) in agent.entries.iter().zip(&verdicts.entries[i]) {
                let (provider, model) = entry_labels(entry, plan, memo);
                let shown = v.target.or(entry.target);
                let status = shown.and_then(|id| statuses.get(id).copied().flatten());
                let interval = match (v.target, v.verdict) {
                    (Some(t), Some(verdict)) => cadence.interval(t, &verdict),
                    _ => None,
                };
                entries.push(EntryRow {
                    agent: row,
                    position: entry.position,
                    role: entry.role.as_str(),
                    provider,
                    model,
                    verdict: *v,
                    status,
                    interval,
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
                summary,
                fallbacks: agent.fallback_count(),
                serving: summary.serving.map(|s| first + s),
            });
        }
        // Credentials: sorted and deduplicated by label pair (a collision keeps the later).
        let mut by_label: BTreeMap<(Arc<str>, Arc<str>), CredentialRow> = BTreeMap::new();
        for c in &verdicts.credentials {
            let provider = memo.get(c.provider);
            let label = memo.get(&c.label);
            by_label.insert(
                (provider.clone(), label.clone()),
                CredentialRow {
                    provider,
                    label,
                    class: c.status.map(|s| s.class),
                    routes: c.routes,
                },
            );
        }
        Rows {
            agents,
            entries,
            credentials: by_label.into_values().collect(),
            statuses,
            next_change: verdicts.next_change,
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
                "Number of models in the agent's chain that would serve a request now (the route's verdict).",
                |a| Some(a.summary.models_up as f64),
            ),
            (
                "clawprobe_agent_primary_up",
                "Whether the agent's primary model would serve a request now (1) or not (0); absent while unknown.",
                |a| a.summary.primary_up.map(bool_value),
            ),
            (
                "clawprobe_agent_up",
                "0 when no model in the agent's chain would serve a request (all models failed), 1 when at least one would; absent while unknown.",
                |a| a.summary.up.map(bool_value),
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
        e.family(
            "clawprobe_agent_serving_model",
            "gauge",
            &help("1 for the chain entry that would serve the agent's next request: the first whose verdict is up; absent when none is."),
        );
        let mut position = String::new();
        for a in &self.agents {
            let Some(r) = a.serving.map(|i| &self.entries[i]) else {
                continue;
            };
            position.clear();
            let _ = std::fmt::Write::write_fmt(&mut position, format_args!("{}", r.position));
            e.sample(
                &[
                    ("agent", &a.label),
                    ("model", &r.model),
                    ("position", &position),
                    ("provider", &r.provider),
                    ("role", r.role),
                ],
                1.0,
            );
        }
    }

    /// `clawprobe_credential_*`: each credential's own health.
    pub(super) fn write_credentials(&self, e: &mut Exposition) {
        e.family(
            "clawprobe_credential_routes",
            "gauge",
            &help("Number of chain entries that try this credential first."),
        );
        for c in &self.credentials {
            e.sample(
                &[("credential", &c.label), ("provider", &c.provider)],
                c.routes as f64,
            );
        }
        e.family(
            "clawprobe_credential_status",
            "gauge",
            &help("State set of the credential's own health: billing, auth or a key-wide rate limit seen through any model on it, OpenClaw's hold on the profile, else ok once a request on it succeeded; absent while nothing is known of the key."),
        );
        let (mut head, mut tail) = (String::new(), String::new());
        for c in &self.credentials {
            let Some(class) = c.class else { continue };
            head.clear();
            head.push_str("{class=\"");
            tail.clear();
            tail.push_str("\",credential=\"");
            tail.push_str(&c.label);
            tail.push_str("\",provider=\"");
            tail.push_str(&c.provider);
            tail.push_str("\"}");
            for other in Class::ALL {
                e.sample_pieces(&[&head, other.as_str(), &tail], u64::from(other == class));
            }
        }
        e.family(
            "clawprobe_credential_up",
            "gauge",
            &help("Whether the credential itself works (1) or has a credential-wide failure or an OpenClaw hold (0); absent while unknown."),
        );
        for c in &self.credentials {
            if let Some(class) = c.class.filter(|c| *c != Class::Skipped) {
                e.sample(
                    &[("credential", &c.label), ("provider", &c.provider)],
                    bool_value(class.is_ok()),
                );
            }
        }
    }

    /// `clawprobe_model_*`.
    pub(super) fn write_models(&self, e: &mut Exposition) {
        e.family(
            "clawprobe_model_last_probe_timestamp_seconds",
            "gauge",
            &help("Unix time of the last probe of this chain entry's target, per tier."),
        );
        for r in self.entries.iter().filter(|r| !r.shadowed) {
            let Some(st) = r.status else { continue };
            for tier in [Tier::Metadata, Tier::Generation] {
                if let Some(last) = st
                    .last_by_tier
                    .get(&tier)
                    .filter(|l| l.class != Class::Skipped)
                {
                    let l = self.model_labels(r);
                    e.sample(
                        &[l[0], l[1], l[2], l[3], ("tier", tier.as_str())],
                        unix_secs(last.at),
                    );
                }
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
            "clawprobe_model_probe_interval_seconds",
            "gauge",
            &help("How often this chain entry's verdict is expected to be confirmed by a probe (its tier's schedule, or the re-check backoff of a failure only generation can see)."),
        );
        for r in self.entries.iter().filter(|r| !r.shadowed) {
            if let Some(i) = r.interval {
                e.sample(&self.model_labels(r), i.as_secs_f64());
            }
        }
        e.family(
            "clawprobe_model_status",
            "gauge",
            &help("State set of the chain entry's verdict: 1 for the class a request through the route would meet now, 0 for every other."),
        );
        self.write_state_set(e, Class::ALL.map(Class::as_str), "class", |r| {
            r.class().map(Class::as_str)
        });
        e.family(
            "clawprobe_model_up",
            "gauge",
            &help("Whether a request through this chain entry would succeed now through any credential OpenClaw would rotate to (1) or not (0): the fused verdict of every probe tier, credential-wide failures and OpenClaw's own profile state; static findings such as an unresolved ref or a missing credential count as 0; absent while not known or not probeable."),
        );
        let mut position = String::new();
        for r in &self.entries {
            let Some(c) = r.class().filter(|c| *c != Class::Skipped) else {
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
        e.family(
            "clawprobe_model_verdict_source",
            "gauge",
            &help("State set of where the chain entry's verdict came from: static (a finding), metadata or generation (a probe of this route), credential (another route on the same key), openclaw_state (OpenClaw's own profile state), traffic (a real request in OpenClaw's log)."),
        );
        self.write_state_set(e, Source::ALL.map(Source::as_str), "source", |r| {
            r.verdict.verdict.map(|v| v.source.as_str())
        });
        e.family(
            "clawprobe_model_verdict_stale",
            "gauge",
            &help("1 when the chain entry's verdict is older than three times its expected probe interval (clawprobe_model_probe_interval_seconds): the class stands but nothing has confirmed it for too long."),
        );
        for r in self.entries.iter().filter(|r| !r.shadowed) {
            if r.verdict.verdict.is_some() {
                e.sample(&self.model_labels(r), bool_value(r.verdict.stale));
            }
        }
        e.family(
            "clawprobe_model_verdict_timestamp_seconds",
            "gauge",
            &help("Unix time at which the evidence behind the chain entry's verdict was observed; absent for static findings and OpenClaw's state, which are current."),
        );
        for r in self.entries.iter().filter(|r| !r.shadowed) {
            if let Some(at) = r.verdict.verdict.and_then(|v| v.as_of) {
                e.sample(&self.model_labels(r), unix_secs(at));
            }
        }
    }

    /// A state set over `values` with label `name` for every entry that has a value.
    fn write_state_set<const N: usize>(
        &self,
        e: &mut Exposition,
        values: [&'static str; N],
        name: &str,
        current: impl Fn(&EntryRow<'_>) -> Option<&'static str>,
    ) {
        let (mut head, mut tail) = (String::new(), String::new());
        for r in self.entries.iter().filter(|r| !r.shadowed) {
            let Some(c) = current(r) else { continue };
            // `{agent="a",<name>="` <value> `",model="m",provider="p",role="r"}`
            head.clear();
            head.push_str("{agent=\"");
            head.push_str(&self.agents[r.agent].label);
            head.push_str("\",");
            head.push_str(name);
            head.push_str("=\"");
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
            for other in values {
                e.sample_pieces(&[&head, other, &tail], u64::from(other == c));
            }
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
    super::process::write_build_info(e);
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
