//! Prometheus metrics. OWNER: exporter helper.
//!
//! Gauges that describe the current plan are computed at scrape time from the plan and the
//! status [`Store`](crate::state::Store), so series of targets that leave the plan disappear.
//! Counters live in a registry that survives reloads; [`Metrics::sync_plan`] drops the
//! counter series of targets that are in no plan any more, so a renamed model does not
//! leave a flat line behind forever.
//!
//! Nothing here sends a request: every value comes from the background probes' cache, and
//! every HELP text says so, because a scrape that looks live but is minutes old misleads.
//! No sample carries a timestamp (Prometheus stamps at scrape time); times are exported as
//! `*_timestamp_seconds` gauges instead.
//!
//! Labels never hold a secret, a URL or raw error text: provider ids, model ids, agent ids,
//! credential labels (profile id / env var name), and bounded words (class, tier, reason).
//!
//! Semantics worth knowing when writing alerts:
//! - `clawprobe_model_up{agent,role,position,provider,model}`: 1/0 from the last probe; a
//!   static finding (unresolved ref, missing credential, …) counts as 0; absent while the
//!   target was never probed and for `skipped` (not probeable) entries. Entries without a
//!   resolved provider use `provider="unknown"` and the raw ref (bounded) as `model`.
//! - `clawprobe_model_status{…,class}`: a state set over every [`Class`]; absent while
//!   never probed. It has no `position` label: two entries of one chain with the same
//!   provider/model share a series (the later entry wins).
//! - `clawprobe_agent_up{agent}`: 1 if any entry is ok; 0 ("all models failed") when every
//!   probeable entry has a known non-ok class; absent while an entry awaits its first probe
//!   or when no entry is probeable (skipped entries count neither way).
//! - `clawprobe_agent_primary_up`: absent while the primary is unknown or skipped.
//! - Counters: `clawprobe_probes_total{provider,model,tier}`,
//!   `clawprobe_probe_errors_total{provider,model,tier,class}` (auth, rate_limit, billing,
//!   unresolved_ref start at 0 for every planned target), `clawprobe_probe_tokens_total`,
//!   `clawprobe_probes_skipped_total{provider,reason}` and the histogram
//!   `clawprobe_probe_duration_seconds{provider,tier}`. A `skipped` result is not counted.
//!   On reload, series of (provider, model) pairs — or, for per-provider metrics, providers
//!   — that no target has any more are removed.

use crate::class::Class;
use crate::plan::{ChainEntry, ProbePlan, Target};
use crate::probe::ProbeResult;
use crate::state::Store;
use prometheus::core::Collector;
use prometheus::{
    CounterVec, Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, Opts, Registry, TextEncoder,
};
use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

/// What the budget has left, for `clawprobe_budget_remaining{provider,unit}`.
/// `provider` is a provider id or `_global`; `unit` is `requests` or `tokens`.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetRemaining {
    pub provider: String,
    pub unit: &'static str,
    pub remaining: f64,
}

/// The suffix of every HELP text of a probe- or plan-derived metric.
const CACHED: &str = "Values come from cached background probes, not probed at scrape time.";

/// Error classes whose counters start at 0 for every planned target, so `rate()` and
/// `increase()` see the first error instead of a series appearing out of nothing.
const PREINIT_ERROR_CLASSES: [Class; 4] = [
    Class::Auth,
    Class::RateLimit,
    Class::Billing,
    Class::UnresolvedRef,
];

/// Longest label value we export; refs are user-written text, so bound them.
const MAX_LABEL_LEN: usize = 128;

/// Counters and histograms that accumulate across reloads.
pub struct Metrics {
    registry: Registry,
    probes_total: CounterVec,
    probe_errors_total: CounterVec,
    probe_duration: HistogramVec,
    tokens_total: CounterVec,
    skipped_total: CounterVec,
    reload_ok: Gauge,
    reload_success_ts: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn help(text: &str) -> String {
    format!("{text} {CACHED}")
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let probes_total = CounterVec::new(
            Opts::new(
                "clawprobe_probes_total",
                help("Probes sent, by target provider, model and tier."),
            ),
            &["provider", "model", "tier"],
        )
        .expect("valid metric");
        let probe_errors_total = CounterVec::new(
            Opts::new(
                "clawprobe_probe_errors_total",
                help("Probes that did not return ok, by failure class."),
            ),
            &["provider", "model", "tier", "class"],
        )
        .expect("valid metric");
        let probe_duration = HistogramVec::new(
            HistogramOpts::new(
                "clawprobe_probe_duration_seconds",
                help("Duration of probe requests in seconds."),
            )
            .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
            &["provider", "tier"],
        )
        .expect("valid metric");
        let tokens_total = CounterVec::new(
            Opts::new(
                "clawprobe_probe_tokens_total",
                help("Tokens probes used as reported by providers, by direction (input, output)."),
            ),
            &["provider", "direction"],
        )
        .expect("valid metric");
        let skipped_total = CounterVec::new(
            Opts::new(
                "clawprobe_probes_skipped_total",
                help("Probes that were due but not sent (reason: budget, backoff, retry_after)."),
            ),
            &["provider", "reason"],
        )
        .expect("valid metric");
        let reload_ok = Gauge::new(
            "clawprobe_config_last_reload_successful",
            "Whether the last configuration (re)load succeeded (1) or failed (0); a failed reload keeps the last good plan.",
        )
        .expect("valid metric");
        let reload_success_ts = Gauge::new(
            "clawprobe_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration (re)load.",
        )
        .expect("valid metric");
        for c in [
            Box::new(probes_total.clone()) as Box<dyn Collector>,
            Box::new(probe_errors_total.clone()),
            Box::new(probe_duration.clone()),
            Box::new(tokens_total.clone()),
            Box::new(skipped_total.clone()),
            Box::new(reload_ok.clone()),
            Box::new(reload_success_ts.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        Metrics {
            registry,
            probes_total,
            probe_errors_total,
            probe_duration,
            tokens_total,
            skipped_total,
            reload_ok,
            reload_success_ts,
        }
    }

    /// Counts a finished probe: probes_total, probe_errors_total, duration, tokens.
    /// A `skipped` result (no prober for the API style) sent nothing and is not counted.
    pub fn observe_probe(&self, target: &Target, result: &ProbeResult) {
        if result.class == Class::Skipped {
            return;
        }
        let provider = label(&target.provider);
        let model = label(&target.model);
        let tier = result.tier.as_str();
        self.probes_total
            .with_label_values(&[&provider, &model, tier])
            .inc();
        if !result.class.is_ok() {
            self.probe_errors_total
                .with_label_values(&[&provider, &model, tier, result.class.as_str()])
                .inc();
        }
        self.probe_duration
            .with_label_values(&[&provider, tier])
            .observe(result.latency.as_secs_f64());
        if let Some(u) = result.usage {
            self.tokens_total
                .with_label_values(&[&provider, "input"])
                .inc_by(u.input_tokens as f64);
            self.tokens_total
                .with_label_values(&[&provider, "output"])
                .inc_by(u.output_tokens as f64);
        }
    }

    /// Counts a probe that was not sent; `reason` is `budget`, `backoff` or `retry_after`.
    pub fn probe_skipped(&self, provider: &str, reason: &str) {
        let reason = match reason {
            "budget" | "backoff" | "retry_after" => reason,
            _ => "other",
        };
        self.skipped_total
            .with_label_values(&[&label(provider), reason])
            .inc();
    }

    /// Records the outcome of a config (re)load.
    pub fn set_reload(&self, ok: bool, at: SystemTime) {
        self.reload_ok.set(if ok { 1.0 } else { 0.0 });
        if ok {
            self.reload_success_ts.set(unix_secs(at));
        }
    }

    /// Brings the long-lived counters in line with a new plan: drops the series of
    /// (provider, model) pairs that no target of `plan` has, and starts the error counters
    /// of every planned target at 0. Called on every successful (re)load.
    pub fn sync_plan(&self, plan: &ProbePlan) {
        let models: HashSet<(String, String)> = plan
            .targets
            .iter()
            .map(|t| (label(&t.provider), label(&t.model)))
            .collect();
        let providers: HashSet<String> = models.iter().map(|(p, _)| p.clone()).collect();
        let by_model = |l: &HashMap<&str, &str>| {
            let get = |k| l.get(k).copied().unwrap_or_default().to_string();
            models.contains(&(get("provider"), get("model")))
        };
        let by_provider = |l: &HashMap<&str, &str>| {
            providers.contains(l.get("provider").copied().unwrap_or_default())
        };
        prune(&self.probes_total, by_model);
        prune(&self.probe_errors_total, by_model);
        prune(&self.probe_duration, by_provider);
        prune(&self.tokens_total, by_provider);
        prune(&self.skipped_total, by_provider);
        self.preinit(plan);
    }

    fn preinit(&self, plan: &ProbePlan) {
        for t in &plan.targets {
            let provider = label(&t.provider);
            let model = label(&t.model);
            for tier in [crate::probe::Tier::Metadata, crate::probe::Tier::Generation] {
                self.probes_total
                    .with_label_values(&[&provider, &model, tier.as_str()]);
                for class in PREINIT_ERROR_CLASSES {
                    self.probe_errors_total.with_label_values(&[
                        &provider,
                        &model,
                        tier.as_str(),
                        class.as_str(),
                    ]);
                }
            }
        }
    }

    /// The text exposition for `/metrics`.
    pub fn render(&self, plan: &ProbePlan, store: &Store, budget: &[BudgetRemaining]) -> String {
        self.preinit(plan);
        let scrape = ScrapeGauges::new();
        scrape.fill(plan, store, budget);
        let mut families = self.registry.gather();
        families.extend(scrape.registry.gather());
        families.sort_by(|a, b| a.get_name().cmp(b.get_name()));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut out)
            .expect("text encoding to a Vec cannot fail");
        String::from_utf8(out).expect("text exposition is UTF-8")
    }
}

/// Removes the series of `vec` whose labels `keep` rejects.
fn prune<T: prometheus::core::MetricVecBuilder>(
    vec: &prometheus::core::MetricVec<T>,
    keep: impl Fn(&HashMap<&str, &str>) -> bool,
) {
    for family in vec.collect() {
        for m in family.get_metric() {
            let labels: HashMap<&str, &str> = m
                .get_label()
                .iter()
                .map(|l| (l.get_name(), l.get_value()))
                .collect();
            if !keep(&labels) {
                let _ = vec.remove(&labels);
            }
        }
    }
}

/// Gauges built fresh for each scrape from plan + store, so nothing stale survives.
struct ScrapeGauges {
    registry: Registry,
    model_up: GaugeVec,
    model_status: GaugeVec,
    last_probe: GaugeVec,
    last_success: GaugeVec,
    agent_up: GaugeVec,
    agent_models_up: GaugeVec,
    agent_primary_up: GaugeVec,
    agent_fallbacks: GaugeVec,
    rl_limit: GaugeVec,
    rl_remaining: GaugeVec,
    rl_reset: GaugeVec,
    budget_remaining: GaugeVec,
    cred_expiry: GaugeVec,
    oc_cooldown: GaugeVec,
    oc_disabled: GaugeVec,
    oc_errors: GaugeVec,
    build_info: GaugeVec,
}

impl ScrapeGauges {
    fn new() -> Self {
        let registry = Registry::new();
        let mk = |name: &str, text: String, labels: &[&str]| {
            let g = GaugeVec::new(Opts::new(name, text), labels).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric names");
            g
        };
        let model = ["agent", "role", "provider", "model"];
        let rl = ["provider", "profile", "resource"];
        let oc = ["provider", "profile", "reason"];
        ScrapeGauges {
            model_up: mk(
                "clawprobe_model_up",
                help("Whether the last probe of this chain entry succeeded (1) or failed (0), static findings such as an unresolved ref or a missing credential count as 0; absent while never probed or not probeable."),
                &["agent", "role", "position", "provider", "model"],
            ),
            model_status: mk(
                "clawprobe_model_status",
                help("State set of the chain entry's current class: 1 for the current class, 0 for every other."),
                &["agent", "role", "provider", "model", "class"],
            ),
            last_probe: mk(
                "clawprobe_model_last_probe_timestamp_seconds",
                help("Unix time of the last probe of this chain entry's target."),
                &model,
            ),
            last_success: mk(
                "clawprobe_model_last_success_timestamp_seconds",
                help("Unix time of the last successful probe of this chain entry's target."),
                &model,
            ),
            agent_up: mk(
                "clawprobe_agent_up",
                help("0 when no model in the agent's chain works (all models failed), 1 when at least one does; absent while unknown."),
                &["agent"],
            ),
            agent_models_up: mk(
                "clawprobe_agent_models_up",
                help("Number of models in the agent's chain whose last probe succeeded."),
                &["agent"],
            ),
            agent_primary_up: mk(
                "clawprobe_agent_primary_up",
                help("Whether the agent's primary model works (1) or not (0); absent while unknown."),
                &["agent"],
            ),
            agent_fallbacks: mk(
                "clawprobe_agent_fallbacks",
                help("Number of fallback models configured for the agent."),
                &["agent"],
            ),
            rl_limit: mk(
                "clawprobe_ratelimit_limit",
                help("Rate limit the provider reported for this credential and resource."),
                &rl,
            ),
            rl_remaining: mk(
                "clawprobe_ratelimit_remaining",
                help("Remaining rate limit the provider reported for this credential and resource."),
                &rl,
            ),
            rl_reset: mk(
                "clawprobe_ratelimit_reset_timestamp_seconds",
                help("Unix time at which the provider said this rate limit resets."),
                &rl,
            ),
            budget_remaining: mk(
                "clawprobe_budget_remaining",
                help("What clawprobe's own daily probe budget has left (provider _global is the global cap; unit requests or tokens)."),
                &["provider", "unit"],
            ),
            cred_expiry: mk(
                "clawprobe_credential_expiry_timestamp_seconds",
                help("Unix time at which the credential (token or OAuth) an agent would use expires, as read from OpenClaw's auth store."),
                &["agent", "provider", "profile"],
            ),
            oc_cooldown: mk(
                "clawprobe_openclaw_profile_cooldown_until_timestamp_seconds",
                help("Unix time until which OpenClaw itself keeps this auth profile in cooldown (read from its state files)."),
                &oc,
            ),
            oc_disabled: mk(
                "clawprobe_openclaw_profile_disabled_until_timestamp_seconds",
                help("Unix time until which OpenClaw itself keeps this auth profile disabled (read from its state files)."),
                &oc,
            ),
            oc_errors: mk(
                "clawprobe_openclaw_profile_errors",
                help("Error counts OpenClaw itself recorded for this auth profile, by reason (reason=all is its total errorCount)."),
                &oc,
            ),
            build_info: mk(
                "clawprobe_build_info",
                "clawprobe build information; always 1.".to_string(),
                &["version"],
            ),
            registry,
        }
    }

    fn fill(&self, plan: &ProbePlan, store: &Store, budget: &[BudgetRemaining]) {
        self.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1.0);

        let statuses: Vec<_> = plan.targets.iter().map(|t| store.get(t)).collect();

        for agent in &plan.agents {
            let a = label(&agent.agent);
            let mut any_ok = false;
            let mut all_known_failed = true;
            let mut any_probeable = false;
            let mut models_up = 0u32;
            for entry in &agent.entries {
                let (provider, model) = entry_labels(entry, plan);
                let role = entry.role.as_str();
                let status = entry
                    .target
                    .and_then(|id| statuses.get(id).cloned().flatten());
                let class = current_class(entry, status.as_ref().and_then(|s| s.last.as_ref()));
                match class {
                    Some(c) if c != Class::Skipped => {
                        any_probeable = true;
                        let up = c.is_ok();
                        if up {
                            any_ok = true;
                            models_up += 1;
                        }
                        self.model_up
                            .with_label_values(&[
                                &a,
                                role,
                                &entry.position.to_string(),
                                &provider,
                                &model,
                            ])
                            .set(if up { 1.0 } else { 0.0 });
                        if entry.role == crate::plan::Role::Primary {
                            self.agent_primary_up.with_label_values(&[&a]).set(if up {
                                1.0
                            } else {
                                0.0
                            });
                        }
                    }
                    Some(_) => {}
                    None => {
                        // Probeable but not probed yet: the agent's state is not known.
                        all_known_failed = false;
                    }
                }
                if let Some(c) = class {
                    for other in Class::ALL {
                        self.model_status
                            .with_label_values(&[&a, role, &provider, &model, other.as_str()])
                            .set(if other == c { 1.0 } else { 0.0 });
                    }
                }
                if let Some(st) = &status {
                    if let Some(last) = &st.last {
                        if last.class != Class::Skipped {
                            self.last_probe
                                .with_label_values(&[&a, role, &provider, &model])
                                .set(unix_secs(last.at));
                        }
                    }
                    if let Some(ok_at) = st.last_success_at {
                        self.last_success
                            .with_label_values(&[&a, role, &provider, &model])
                            .set(unix_secs(ok_at));
                    }
                }
            }
            if any_ok {
                self.agent_up.with_label_values(&[&a]).set(1.0);
            } else if any_probeable && all_known_failed {
                self.agent_up.with_label_values(&[&a]).set(0.0);
            }
            self.agent_models_up
                .with_label_values(&[&a])
                .set(models_up as f64);
            self.agent_fallbacks
                .with_label_values(&[&a])
                .set(agent.fallback_count() as f64);
        }

        // Rate limits per credential: the newest report wins when targets share one.
        let mut newest: HashMap<
            (String, String, String),
            (SystemTime, &crate::ratelimit::RateLimitEntry),
        > = HashMap::new();
        for (t, st) in plan.targets.iter().zip(&statuses) {
            let Some(st) = st else { continue };
            for r in st.last_by_tier.values() {
                for e in &r.rate_limits.entries {
                    let key = (
                        label(&t.provider),
                        label(&t.credential_label()),
                        label(&e.resource),
                    );
                    match newest.get(&key) {
                        Some((at, _)) if *at >= r.at => {}
                        _ => {
                            newest.insert(key, (r.at, e));
                        }
                    }
                }
            }
        }
        for ((p, prof, res), (_, e)) in &newest {
            let l = [p.as_str(), prof.as_str(), res.as_str()];
            if let Some(v) = e.limit {
                self.rl_limit.with_label_values(&l).set(v);
            }
            if let Some(v) = e.remaining {
                self.rl_remaining.with_label_values(&l).set(v);
            }
            if let Some(at) = e.reset_at {
                self.rl_reset.with_label_values(&l).set(unix_secs(at));
            }
        }

        for b in budget {
            self.budget_remaining
                .with_label_values(&[&label(&b.provider), b.unit])
                .set(b.remaining);
        }

        for c in &plan.credential_expiries {
            self.cred_expiry
                .with_label_values(&[&label(&c.agent), &label(&c.provider), &label(&c.profile)])
                .set(c.expires_at_ms as f64 / 1000.0);
        }

        for s in &plan.profile_states {
            let p = label(&s.provider);
            let prof = label(&s.profile);
            if let Some(ms) = s.cooldown_until_ms {
                let reason = reason_label(s.cooldown_reason.as_deref());
                self.oc_cooldown
                    .with_label_values(&[&p, &prof, &reason])
                    .set(ms as f64 / 1000.0);
            }
            if let Some(ms) = s.disabled_until_ms {
                let reason = reason_label(s.disabled_reason.as_deref());
                self.oc_disabled
                    .with_label_values(&[&p, &prof, &reason])
                    .set(ms as f64 / 1000.0);
            }
            for (reason, n) in &s.failure_counts {
                self.oc_errors
                    .with_label_values(&[&p, &prof, &reason_label(Some(reason))])
                    .set(*n as f64);
            }
            if let Some(n) = s.error_count {
                self.oc_errors
                    .with_label_values(&[&p, &prof, "all"])
                    .set(n as f64);
            }
        }
    }
}

/// The class of a chain entry now: the last real probe of its target, else its static
/// finding, else `None` (not probed yet). A `skipped` probe defers to a static finding
/// because the finding says why (e.g. `unsupported_api`).
pub fn current_class(entry: &ChainEntry, last: Option<&ProbeResult>) -> Option<Class> {
    match (last, &entry.finding) {
        (Some(r), _) if r.class != Class::Skipped => Some(r.class),
        (_, Some(f)) => Some(f.class),
        (Some(r), None) => Some(r.class),
        (None, None) => None,
    }
}

/// `(provider, model)` labels of an entry: from the target, else the entry's resolved
/// parts, else provider `unknown` and the raw ref as the model (bounded and redacted).
pub fn entry_labels(entry: &ChainEntry, plan: &ProbePlan) -> (String, String) {
    if let Some(t) = entry.target.and_then(|id| plan.targets.get(id)) {
        return (label(&t.provider), label(&t.model));
    }
    match (&entry.provider, &entry.model) {
        (Some(p), Some(m)) => (label(p), label(m)),
        (Some(p), None) => (label(p), label(&entry.raw_ref)),
        _ => ("unknown".into(), label(&entry.raw_ref)),
    }
}

/// Makes a label value safe: no URLs, no key-shaped tokens, no control characters, bounded.
pub fn label(value: &str) -> String {
    if value.contains("://") {
        return "invalid".into();
    }
    let v = crate::secret::redact_key_shapes(value);
    let v: String = v
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_LABEL_LEN)
        .collect();
    if v.is_empty() {
        "unknown".into()
    } else {
        v
    }
}

/// OpenClaw's reason words are a small set; anything odd becomes `other` so the label
/// stays bounded.
fn reason_label(reason: Option<&str>) -> String {
    match reason {
        None => "unknown".into(),
        Some(r)
            if !r.is_empty()
                && r.len() <= 40
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            r.to_string()
        }
        Some(_) => "other".into(),
    }
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{
        AgentChain, ApiStyle, ChainEntry, Credential, CredentialExpiry, CredentialKind,
        CredentialSource, Finding, ProfileState,
    };
    use crate::probe::Tier;
    use crate::ratelimit::{RateLimitEntry, RateLimitInfo};
    use crate::secret::Secret;
    use std::time::Duration;

    const CANARY: &str = "sk-canary-DO-NOT-LEAK-0123456789";

    fn target(provider: &str, model: &str, secret: &str) -> Target {
        Target {
            id: 0,
            provider: provider.into(),
            model: model.into(),
            base_url: format!("http://127.0.0.1:9/v1?key={secret}"),
            api: ApiStyle::OpenAiCompletions,
            credential: Some(Credential {
                source: CredentialSource::Profile {
                    id: format!("{provider}:default"),
                    store: "/x/auth-profiles.json".into(),
                },
                kind: CredentialKind::ApiKey,
                secret: Secret::new(secret),
                expires_at_ms: None,
            }),
            headers: vec![("x-extra".into(), Secret::new(secret))],
        }
    }

    fn entry(position: usize, target: Option<usize>, raw: &str) -> ChainEntry {
        ChainEntry {
            provider: raw.split_once('/').map(|(p, _)| p.to_string()),
            model: raw.split_once('/').map(|(_, m)| m.to_string()),
            target,
            ..ChainEntry::new(position, raw)
        }
    }

    /// Agent `main`: openai primary, anthropic fallback, an unresolved alias.
    /// Agent `fb`: primary without credential (static finding), anthropic fallback.
    fn plan() -> ProbePlan {
        let mut p = ProbePlan::default();
        let a = p.intern_target(target("openai", "gpt-5-mini", CANARY));
        let b = p.intern_target(target(
            "anthropic",
            "claude-haiku",
            "other-secret-value-xyz",
        ));
        let mut unresolved = entry(2, None, "fastest");
        unresolved.provider = None;
        unresolved.model = None;
        unresolved.finding = Some(Finding {
            class: Class::UnresolvedRef,
            reason: "unknown_alias".into(),
            message: "alias fastest is not defined".into(),
        });
        let mut nocred = entry(0, None, "groq/llama");
        nocred.finding = Some(Finding {
            class: Class::Auth,
            reason: "missing_credential".into(),
            message: "no key for groq".into(),
        });
        p.agents = vec![
            AgentChain {
                agent: "main".into(),
                entries: vec![
                    entry(0, Some(a), "openai/gpt-5-mini"),
                    entry(1, Some(b), "anthropic/claude-haiku"),
                    unresolved,
                ],
            },
            AgentChain {
                agent: "fb".into(),
                entries: vec![nocred, entry(1, Some(b), "anthropic/claude-haiku")],
            },
        ];
        p.credential_expiries = vec![CredentialExpiry {
            agent: "main".into(),
            provider: "openai".into(),
            profile: "openai:default".into(),
            expires_at_ms: 1_900_000_000_000,
        }];
        p.profile_states = vec![ProfileState {
            profile: "openai:default".into(),
            provider: "openai".into(),
            cooldown_until_ms: Some(1_800_000_000_500),
            cooldown_reason: Some("rate_limit".into()),
            disabled_until_ms: Some(1_800_000_100_000),
            disabled_reason: Some("billing".into()),
            error_count: Some(7),
            failure_counts: vec![("rate_limit".into(), 5), ("auth".into(), 2)],
        }];
        p
    }

    fn result(target: usize, class: Class, at_secs: u64) -> ProbeResult {
        ProbeResult {
            target,
            tier: Tier::Metadata,
            class,
            reason: format!("reason {CANARY}"),
            http_status: Some(if class.is_ok() { 200 } else { 401 }),
            latency: Duration::from_millis(120),
            rate_limits: RateLimitInfo {
                entries: vec![RateLimitEntry {
                    resource: "requests".into(),
                    limit: Some(500.0),
                    remaining: Some(499.0),
                    reset_at: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_060)),
                }],
                retry_after: None,
            },
            usage: Some(crate::probe::Usage {
                input_tokens: 3,
                output_tokens: 1,
            }),
            at: UNIX_EPOCH + Duration::from_secs(at_secs),
            message: Some(format!("Incorrect API key provided: {CANARY}")),
        }
    }

    fn parse_labels(block: &str) -> std::collections::BTreeMap<String, String> {
        block
            .split("\",")
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("k=v");
                (k.to_string(), v.trim_matches('"').to_string())
            })
            .collect()
    }

    /// The value of the sample `name{labels}` (labels in any order).
    fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
        let want = parse_labels(labels);
        text.lines().find_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, block) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            (n == name && parse_labels(block) == want).then(|| value.parse().unwrap())
        })
    }

    fn render(m: &Metrics, p: &ProbePlan, s: &Store) -> String {
        m.render(p, s, &[])
    }

    #[test]
    fn agent_up_when_a_fallback_works_and_down_when_all_fail() {
        let p = plan();
        let s = Store::new();
        let m = Metrics::new();
        // Nothing probed yet: agent state unknown, no model_up series for probeable entries.
        let out = render(&m, &p, &s);
        assert_eq!(
            sample(&out, "clawprobe_agent_up", "agent=\"main\""),
            None,
            "{out}"
        );
        assert_eq!(
            sample(&out, "clawprobe_model_up", "agent=\"main\",role=\"fallback\",position=\"2\",provider=\"unknown\",model=\"fastest\""),
            Some(0.0),
            "static finding counts as down: {out}"
        );
        assert_eq!(
            sample(&out, "clawprobe_agent_fallbacks", "agent=\"main\""),
            Some(2.0)
        );

        s.record(&p.targets[0], result(0, Class::Auth, 1_800_000_000));
        s.record(&p.targets[1], result(1, Class::Ok, 1_800_000_001));
        let out = render(&m, &p, &s);
        assert_eq!(
            sample(&out, "clawprobe_agent_up", "agent=\"main\""),
            Some(1.0),
            "{out}"
        );
        assert_eq!(
            sample(&out, "clawprobe_agent_primary_up", "agent=\"main\""),
            Some(0.0)
        );
        assert_eq!(
            sample(&out, "clawprobe_agent_models_up", "agent=\"main\""),
            Some(1.0)
        );
        assert_eq!(
            sample(&out, "clawprobe_model_up", "agent=\"main\",role=\"primary\",position=\"0\",provider=\"openai\",model=\"gpt-5-mini\""),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &out,
                "clawprobe_model_last_success_timestamp_seconds",
                "agent=\"main\",role=\"fallback\",provider=\"anthropic\",model=\"claude-haiku\""
            ),
            Some(1_800_000_001.0)
        );
        assert_eq!(
            sample(
                &out,
                "clawprobe_model_last_probe_timestamp_seconds",
                "agent=\"main\",role=\"primary\",provider=\"openai\",model=\"gpt-5-mini\""
            ),
            Some(1_800_000_000.0)
        );

        s.record(&p.targets[1], result(1, Class::RateLimit, 1_800_000_100));
        let out = render(&m, &p, &s);
        assert_eq!(
            sample(&out, "clawprobe_agent_up", "agent=\"main\""),
            Some(0.0),
            "{out}"
        );
        assert_eq!(
            sample(&out, "clawprobe_agent_models_up", "agent=\"main\""),
            Some(0.0)
        );
        assert_eq!(
            sample(&out, "clawprobe_agent_up", "agent=\"fb\""),
            Some(0.0)
        );
    }

    #[test]
    fn fallback_only_agent_is_up_with_primary_down() {
        let p = plan();
        let s = Store::new();
        s.record(&p.targets[1], result(1, Class::Ok, 1_800_000_001));
        let out = render(&Metrics::new(), &p, &s);
        assert_eq!(
            sample(&out, "clawprobe_agent_up", "agent=\"fb\""),
            Some(1.0),
            "{out}"
        );
        assert_eq!(
            sample(&out, "clawprobe_agent_primary_up", "agent=\"fb\""),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &out,
                "clawprobe_model_up",
                "agent=\"fb\",role=\"primary\",position=\"0\",provider=\"groq\",model=\"llama\""
            ),
            Some(0.0),
            "missing credential counts as down: {out}"
        );
    }

    #[test]
    fn model_status_is_a_state_set_over_all_classes() {
        let p = plan();
        let s = Store::new();
        s.record(&p.targets[0], result(0, Class::Billing, 1_800_000_000));
        let out = render(&Metrics::new(), &p, &s);
        let mut ones = 0;
        for c in Class::ALL {
            let v = sample(
                &out,
                "clawprobe_model_status",
                &format!("agent=\"main\",role=\"primary\",provider=\"openai\",model=\"gpt-5-mini\",class=\"{}\"", c.as_str()),
            )
            .unwrap_or_else(|| panic!("no series for class {c}: {out}"));
            if c == Class::Billing {
                assert_eq!(v, 1.0);
            }
            ones += v as i32;
        }
        assert_eq!(ones, 1, "exactly one class is current");
        // Never-probed entries have no state set.
        assert_eq!(
            sample(&out, "clawprobe_model_status", "agent=\"main\",role=\"fallback\",provider=\"anthropic\",model=\"claude-haiku\",class=\"ok\""),
            None,
            "{out}"
        );
    }

    #[test]
    fn skipped_entries_have_no_model_up_and_skipped_probes_are_not_counted() {
        let mut p = plan();
        p.targets[0].api = ApiStyle::Other("bedrock-converse-stream".into());
        let s = Store::new();
        let m = Metrics::new();
        let mut r = result(0, Class::Skipped, 1_800_000_000);
        r.usage = None;
        m.observe_probe(&p.targets[0], &r);
        s.record(&p.targets[0], r);
        let out = render(&m, &p, &s);
        assert_eq!(
            sample(&out, "clawprobe_model_up", "agent=\"main\",role=\"primary\",position=\"0\",provider=\"openai\",model=\"gpt-5-mini\""),
            None,
            "{out}"
        );
        assert_eq!(
            sample(&out, "clawprobe_model_status", "agent=\"main\",role=\"primary\",provider=\"openai\",model=\"gpt-5-mini\",class=\"skipped\""),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &out,
                "clawprobe_probes_total",
                "provider=\"openai\",model=\"gpt-5-mini\",tier=\"metadata\""
            ),
            Some(0.0)
        );
    }

    #[test]
    fn counters_tokens_skips_budget_ratelimits_and_openclaw_state() {
        let p = plan();
        let s = Store::new();
        let m = Metrics::new();
        m.observe_probe(&p.targets[0], &result(0, Class::Auth, 1_800_000_000));
        m.observe_probe(&p.targets[0], &result(0, Class::Ok, 1_800_000_010));
        s.record(&p.targets[0], result(0, Class::Ok, 1_800_000_010));
        m.probe_skipped("openai", "budget");
        m.probe_skipped("openai", "free text that must not become a label");
        let budget = [BudgetRemaining {
            provider: "_global".into(),
            unit: "requests",
            remaining: 1999.0,
        }];
        let out = m.render(&p, &s, &budget);
        let probes = |tier| {
            sample(
                &out,
                "clawprobe_probes_total",
                &format!("provider=\"openai\",model=\"gpt-5-mini\",tier=\"{tier}\""),
            )
        };
        assert_eq!(probes("metadata"), Some(2.0), "{out}");
        assert_eq!(probes("generation"), Some(0.0));
        let errors = |class| {
            sample(
                &out,
                "clawprobe_probe_errors_total",
                &format!(
                    "provider=\"openai\",model=\"gpt-5-mini\",tier=\"metadata\",class=\"{class}\""
                ),
            )
        };
        assert_eq!(errors("auth"), Some(1.0));
        assert_eq!(errors("billing"), Some(0.0), "pre-initialised");
        assert_eq!(
            sample(&out, "clawprobe_probe_errors_total", "provider=\"anthropic\",model=\"claude-haiku\",tier=\"generation\",class=\"rate_limit\""),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &out,
                "clawprobe_probe_tokens_total",
                "provider=\"openai\",direction=\"input\""
            ),
            Some(6.0)
        );
        assert_eq!(
            sample(
                &out,
                "clawprobe_probe_duration_seconds_count",
                "provider=\"openai\",tier=\"metadata\""
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &out,
                "clawprobe_probes_skipped_total",
                "provider=\"openai\",reason=\"budget\""
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &out,
                "clawprobe_probes_skipped_total",
                "provider=\"openai\",reason=\"other\""
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &out,
                "clawprobe_budget_remaining",
                "provider=\"_global\",unit=\"requests\""
            ),
            Some(1999.0)
        );
        let rl = "provider=\"openai\",profile=\"openai:default\",resource=\"requests\"";
        assert_eq!(
            sample(&out, "clawprobe_ratelimit_remaining", rl),
            Some(499.0)
        );
        assert_eq!(sample(&out, "clawprobe_ratelimit_limit", rl), Some(500.0));
        assert_eq!(
            sample(&out, "clawprobe_ratelimit_reset_timestamp_seconds", rl),
            Some(1_800_000_060.0)
        );
        assert_eq!(
            sample(
                &out,
                "clawprobe_credential_expiry_timestamp_seconds",
                "agent=\"main\",provider=\"openai\",profile=\"openai:default\""
            ),
            Some(1_900_000_000.0)
        );
        let oc = |name, reason| {
            sample(
                &out,
                name,
                &format!("provider=\"openai\",profile=\"openai:default\",reason=\"{reason}\""),
            )
        };
        assert_eq!(
            oc(
                "clawprobe_openclaw_profile_cooldown_until_timestamp_seconds",
                "rate_limit"
            ),
            Some(1_800_000_000.5)
        );
        assert_eq!(
            oc(
                "clawprobe_openclaw_profile_disabled_until_timestamp_seconds",
                "billing"
            ),
            Some(1_800_000_100.0)
        );
        assert_eq!(oc("clawprobe_openclaw_profile_errors", "all"), Some(7.0));
        assert_eq!(oc("clawprobe_openclaw_profile_errors", "auth"), Some(2.0));
    }

    #[test]
    fn series_of_targets_that_leave_the_plan_disappear() {
        let p = plan();
        let s = Store::new();
        let m = Metrics::new();
        m.sync_plan(&p);
        m.observe_probe(&p.targets[1], &result(1, Class::Ok, 1_800_000_000));
        s.record(&p.targets[1], result(1, Class::Ok, 1_800_000_000));
        let out = render(&m, &p, &s);
        assert!(out.contains("model=\"claude-haiku\""), "{out}");

        // The anthropic target and the `fb` agent leave the plan.
        let mut p2 = plan();
        p2.targets.truncate(1);
        p2.agents.truncate(1);
        p2.agents[0].entries.truncate(1);
        m.sync_plan(&p2);
        let keys = p2.targets.iter().map(|t| t.key()).collect();
        s.retain_keys(&keys);
        let out = render(&m, &p2, &s);
        assert!(!out.contains("claude-haiku"), "{out}");
        assert!(!out.contains("anthropic\",model"), "{out}");
        assert!(!out.contains("agent=\"fb\""), "{out}");
        assert_eq!(
            sample(&out, "clawprobe_agent_fallbacks", "agent=\"main\""),
            Some(0.0)
        );
        // Per-provider series go once no target of the provider is left.
        assert!(!out.contains("anthropic"), "{out}");
        assert!(out.contains("provider=\"openai\""), "{out}");
    }

    #[test]
    fn no_secret_url_or_error_text_in_output() {
        let mut p = plan();
        p.agents[0].entries[2].raw_ref = format!("https://evil.example/{CANARY}");
        p.agents[1].entries[0].provider = Some(CANARY.into());
        let s = Store::new();
        let m = Metrics::new();
        for (i, t) in p.targets.iter().enumerate() {
            let r = result(i, Class::Auth, 1_800_000_000);
            m.observe_probe(t, &r);
            s.record(t, r);
        }
        m.probe_skipped(CANARY, "budget");
        m.sync_plan(&p);
        let out = render(&m, &p, &s);
        assert!(out.contains("clawprobe_model_up"), "{out}");
        for bad in [
            "canary",
            "DO-NOT-LEAK",
            "other-secret-value",
            "127.0.0.1",
            "http",
            "Incorrect API key",
            "fp:",
        ] {
            assert!(!out.contains(bad), "`{bad}` leaked:\n{out}");
        }
    }

    #[test]
    fn every_metric_has_help_and_type_and_the_exposition_parses() {
        let p = plan();
        let s = Store::new();
        let m = Metrics::new();
        m.set_reload(true, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        for (i, t) in p.targets.iter().enumerate() {
            let r = result(i, Class::Ok, 1_800_000_000);
            m.observe_probe(t, &r);
            s.record(t, r);
        }
        m.probe_skipped("openai", "backoff");
        let out = m.render(
            &p,
            &s,
            &[BudgetRemaining {
                provider: "openai".into(),
                unit: "tokens",
                remaining: 10.0,
            }],
        );
        let expected = [
            ("clawprobe_model_up", "gauge"),
            ("clawprobe_model_status", "gauge"),
            ("clawprobe_probes_total", "counter"),
            ("clawprobe_probe_errors_total", "counter"),
            ("clawprobe_probe_duration_seconds", "histogram"),
            ("clawprobe_model_last_probe_timestamp_seconds", "gauge"),
            ("clawprobe_model_last_success_timestamp_seconds", "gauge"),
            ("clawprobe_agent_up", "gauge"),
            ("clawprobe_agent_models_up", "gauge"),
            ("clawprobe_agent_primary_up", "gauge"),
            ("clawprobe_agent_fallbacks", "gauge"),
            ("clawprobe_ratelimit_limit", "gauge"),
            ("clawprobe_ratelimit_remaining", "gauge"),
            ("clawprobe_ratelimit_reset_timestamp_seconds", "gauge"),
            ("clawprobe_probe_tokens_total", "counter"),
            ("clawprobe_probes_skipped_total", "counter"),
            ("clawprobe_budget_remaining", "gauge"),
            ("clawprobe_credential_expiry_timestamp_seconds", "gauge"),
            (
                "clawprobe_openclaw_profile_cooldown_until_timestamp_seconds",
                "gauge",
            ),
            (
                "clawprobe_openclaw_profile_disabled_until_timestamp_seconds",
                "gauge",
            ),
            ("clawprobe_openclaw_profile_errors", "gauge"),
            ("clawprobe_config_last_reload_successful", "gauge"),
            (
                "clawprobe_config_last_reload_success_timestamp_seconds",
                "gauge",
            ),
            ("clawprobe_build_info", "gauge"),
        ];
        for (name, ty) in expected {
            assert!(
                out.contains(&format!("# TYPE {name} {ty}\n")),
                "no TYPE for {name}:\n{out}"
            );
            let help_line = out
                .lines()
                .find(|l| l.starts_with(&format!("# HELP {name} ")))
                .unwrap_or_else(|| panic!("no HELP for {name}"));
            if !name.starts_with("clawprobe_config") && name != "clawprobe_build_info" {
                assert!(
                    help_line.contains("not probed at scrape time"),
                    "{help_line}"
                );
            }
        }
        // scripts/tests/promtool-check-metrics.sh lints this full exposition with promtool.
        if let Ok(path) = std::env::var("CLAWPROBE_METRICS_SAMPLE_OUT") {
            std::fs::write(path, &out).expect("write metrics sample");
        }
        assert_eq!(
            sample(&out, "clawprobe_config_last_reload_successful", ""),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &out,
                "clawprobe_config_last_reload_success_timestamp_seconds",
                ""
            ),
            Some(1.7e9)
        );
        assert_eq!(
            sample(
                &out,
                "clawprobe_build_info",
                &format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))
            ),
            Some(1.0)
        );
        // Minimal text-format parse: every sample line is `name{labels} value` with a
        // documented family, a float value and no timestamp.
        let mut families = HashSet::new();
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                families.insert(rest.split(' ').next().unwrap().to_string());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("name value");
            assert!(!series.ends_with(' '), "{line}");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value: {line}"));
            assert!(value.is_finite() || line.contains("+Inf"), "{line}");
            let name = series.split('{').next().unwrap();
            let family = name
                .strip_suffix("_bucket")
                .or_else(|| name.strip_suffix("_sum"))
                .or_else(|| name.strip_suffix("_count"))
                .filter(|f| families.contains(*f))
                .unwrap_or(name);
            assert!(families.contains(family), "sample without TYPE: {line}");
            assert!(family.starts_with("clawprobe_"), "{line}");
            // Label blocks must be balanced and quoted.
            if let Some(labels) = series.strip_prefix(name) {
                if !labels.is_empty() {
                    assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                    assert_eq!(labels.matches('"').count() % 2, 0, "{line}");
                }
            }
        }
        assert!(families.len() >= expected.len());
    }

    #[test]
    fn label_sanitises() {
        assert_eq!(label("openai"), "openai");
        assert_eq!(label("https://x/y"), "invalid");
        assert_eq!(label(""), "unknown");
        assert!(!label("sk-abcdefghijklmnop").contains("abcdefgh"));
        assert_eq!(label(&"x".repeat(500)).len(), MAX_LABEL_LEN);
    }
}
