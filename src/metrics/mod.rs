//! Prometheus metrics: long-lived counters, scrape-time gauges and the `/metrics` text.
//!
//! Gauges that describe the current plan are computed at scrape time from the plan and the
//! status [`Store`](crate::state::Store), so series of targets that leave the plan disappear.
//! Counters live in [`Metrics`] and survive reloads; [`Metrics::sync_plan`] drops the
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
//!
//! Rendering (BENCHMARKS.md, F1/F2): the exposition is written straight into one `String`
//! ([`text`]), label values are sanitised and escaped once and memoised, statuses are
//! borrowed under the store's read lock rather than cloned, and [`Metrics::render_cached`]
//! hands every scrape the same body until a probe, a reload or the budget changes it, so
//! concurrent scrapers (an HA Prometheus pair, a curl) cost one render, not one each.

mod discovery;
mod process;
mod scrape;
pub mod text;
mod traffic;

use crate::class::{Class, SkipReason};
use crate::plan::{InstallStatus, ProbePlan, Target};
use crate::probe::{ProbeResult, Tier};
use crate::state::Store;
use crate::verdict::Cadence;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use text::Exposition;

pub use text::CONTENT_TYPE;

/// What the budget has left, for `clawprobe_budget_remaining{provider,unit}`.
/// `provider` is a provider id or `_global`; `unit` is `requests` or `tokens`.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetRemaining {
    pub provider: String,
    pub unit: &'static str,
    pub remaining: f64,
}

/// How long a `/metrics` body may be served again after new probe results arrived (a
/// reload invalidates it at once), and how long the cache keeps a body alive after a
/// scrape so that scrapes right after it (the other member of an HA pair, a dashboard's
/// burst) share it. Probe results are minutes apart per target, so a second more is
/// invisible on any dashboard.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// How long a body whose inputs did not change may still be served: it also carries the
/// process's own `process_*` numbers, which change on their own.
const UNCHANGED_MAX_AGE: Duration = Duration::from_secs(5);

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

/// `clawprobe_probe_duration_seconds` buckets.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
const BUCKET_LABELS: [&str; 10] = [
    "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60",
];

const TIERS: [Tier; 2] = [Tier::Metadata, Tier::Generation];
const NCLASS: usize = Class::ALL.len();

fn tier_index(t: Tier) -> usize {
    match t {
        Tier::Metadata => 0,
        Tier::Generation => 1,
    }
}

fn class_index(c: Class) -> usize {
    Class::ALL
        .iter()
        .position(|x| *x == c)
        .expect("Class::ALL lists every class")
}

/// Per (provider, model) counters.
#[derive(Default)]
struct ModelCounters {
    probes: [u64; 2],
    errors: [[u64; NCLASS]; 2],
}

#[derive(Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        for (b, le) in self.buckets.iter_mut().zip(BUCKETS) {
            if v <= le {
                *b += 1;
            }
        }
        self.count += 1;
        self.sum += v;
    }
}

/// Everything that accumulates across scrapes and reloads. Keys are label values already
/// sanitised by [`label`] and escaped for the text format (see [`label_value`]).
#[derive(Default)]
struct Counters {
    /// provider → model → counters.
    models: BTreeMap<String, BTreeMap<String, ModelCounters>>,
    /// provider → per tier.
    durations: BTreeMap<String, [Option<Histogram>; 2]>,
    /// provider → [input, output].
    tokens: BTreeMap<String, [u64; 2]>,
    /// provider → reason → count.
    skipped: BTreeMap<String, BTreeMap<SkipReason, u64>>,
    reload_ok: bool,
    reload_success_at: Option<f64>,
    /// What the last (re)load found of the OpenClaw install; `None` before the first.
    install: Option<InstallStatus>,
    /// The last change of the web config file was refused (`clawprobe_web_config_*`).
    web_config_failed: bool,
    /// Bumped by every change, for the render cache.
    version: u64,
    /// Bumped by (re)loads only: a cached body never outlives one, whatever its age.
    reload_version: u64,
}

impl Counters {
    fn model(&mut self, provider: &str, model: &str) -> &mut ModelCounters {
        self.models
            .entry(provider.to_string())
            .or_default()
            .entry(model.to_string())
            .or_default()
    }

    /// Starts the counters of every planned target at 0. Cheap when they exist already
    /// (two map lookups per target), so every render can afford it.
    fn preinit(&mut self, plan: &ProbePlan, memo: &mut LabelMemo) {
        for t in &plan.targets {
            let p = memo.get(&t.provider);
            let m = memo.get(&t.model);
            let exists = self
                .models
                .get(&*p)
                .is_some_and(|models| models.contains_key(&*m));
            if !exists {
                self.model(&p, &m);
                self.version += 1;
            }
        }
    }

    /// `clawprobe_config_last_reload_*`.
    fn write_reload(&self, e: &mut Exposition) {
        e.family(
            "clawprobe_config_last_reload_success_timestamp_seconds",
            "gauge",
            "Unix time of the last successful configuration (re)load.",
        );
        e.sample(&[], self.reload_success_at.unwrap_or(0.0));
        e.family(
            "clawprobe_config_last_reload_successful",
            "gauge",
            "Whether the last configuration (re)load succeeded (1) or failed (0); a failed reload keeps the last good plan.",
        );
        e.sample(&[], if self.reload_ok { 1.0 } else { 0.0 });
        e.family(
            "clawprobe_web_config_last_reload_successful",
            "gauge",
            "Whether the last change of the --web.config.file (or of the certificate, key or CA files it names) was applied (1) or refused (0: clawprobe keeps serving with the last good TLS and auth settings); 1 when no web config is used.",
        );
        e.sample(&[], if self.web_config_failed { 0.0 } else { 1.0 });
    }

    /// The probe counters and the duration histogram.
    fn write_probes(&self, e: &mut Exposition) {
        e.family(
            "clawprobe_probe_duration_seconds",
            "histogram",
            &help("Duration of probe requests in seconds."),
        );
        for (p, tiers) in &self.durations {
            for tier in TIERS {
                let Some(h) = &tiers[tier_index(tier)] else {
                    continue;
                };
                let l = [("provider", p.as_str()), ("tier", tier.as_str())];
                for (n, le) in h.buckets.iter().zip(BUCKET_LABELS) {
                    e.sample_suffixed("_bucket", &l, Some(le), *n as f64);
                }
                e.sample_suffixed("_bucket", &l, Some("+Inf"), h.count as f64);
                e.sample_suffixed("_sum", &l, None, h.sum);
                e.sample_suffixed("_count", &l, None, h.count as f64);
            }
        }
        e.family(
            "clawprobe_probe_errors_total",
            "counter",
            &help("Probes that did not return ok, by failure class."),
        );
        let mut tail = String::new();
        for (p, models) in &self.models {
            for (m, c) in models {
                for tier in TIERS {
                    let ti = tier_index(tier);
                    // `{class="` <class> `",model="m",provider="p",tier="t"}`
                    tail.clear();
                    for (k, v) in [
                        ("model", m.as_str()),
                        ("provider", p),
                        ("tier", tier.as_str()),
                    ] {
                        tail.push_str("\",");
                        tail.push_str(k);
                        tail.push_str("=\"");
                        tail.push_str(v);
                    }
                    tail.push_str("\"}");
                    for (ci, class) in Class::ALL.iter().enumerate() {
                        let n = c.errors[ti][ci];
                        if n > 0 || PREINIT_ERROR_CLASSES.contains(class) {
                            e.sample_pieces(&["{class=\"", class.as_str(), &tail], n);
                        }
                    }
                }
            }
        }
        e.family(
            "clawprobe_probe_tokens_total",
            "counter",
            &help("Tokens probes used as reported by providers, by direction (input, output)."),
        );
        for (p, [input, output]) in &self.tokens {
            e.sample_u64(&[("direction", "input"), ("provider", p)], *input);
            e.sample_u64(&[("direction", "output"), ("provider", p)], *output);
        }
        e.family(
            "clawprobe_probes_skipped_total",
            "counter",
            &help("Probes that were due but not sent (reason: budget, backoff, retry_after)."),
        );
        for (p, reasons) in &self.skipped {
            for (r, n) in reasons {
                e.sample_u64(&[("provider", p), ("reason", r.as_str())], *n);
            }
        }
        e.family(
            "clawprobe_probes_total",
            "counter",
            &help("Probes sent, by target provider, model and tier."),
        );
        for (p, models) in &self.models {
            for (m, c) in models {
                for tier in TIERS {
                    e.sample_u64(
                        &[("model", m), ("provider", p), ("tier", tier.as_str())],
                        c.probes[tier_index(tier)],
                    );
                }
            }
        }
    }
}

/// Sanitised, escaped label values by raw value. Plans repeat the same agent, provider
/// and model strings across thousands of series; computing each once per plan instead of
/// once per series is most of what makes a render cheap.
#[derive(Default)]
struct LabelMemo {
    map: HashMap<String, Arc<str>>,
}

impl LabelMemo {
    fn get(&mut self, raw: &str) -> Arc<str> {
        if let Some(v) = self.map.get(raw) {
            return v.clone();
        }
        let v: Arc<str> = label_value(raw).into();
        self.map.insert(raw.to_string(), v.clone());
        v
    }

    /// Keeps the memo bounded: values of plans gone by are dropped once it outgrows the
    /// current plan by far (labels are recomputed on the next render).
    fn bound(&mut self, plan: &ProbePlan) {
        let limit = 8 * (plan.targets.len() + plan.agents.len()) + 1024;
        if self.map.len() > limit {
            self.map.clear();
        }
    }
}

/// The last rendered exposition and what it was rendered from.
struct Cached {
    plan: Arc<ProbePlan>,
    reload_version: u64,
    rendered_at: Instant,
    /// A verdict in the body changes at this time with no new evidence.
    valid_until: Option<SystemTime>,
    counters_version: u64,
    store_version: u64,
    budget: Vec<BudgetRemaining>,
    /// Weak: the body lives only while a response still holds it, or for `max_age` after
    /// a scrape ([`keep_alive`]). Between two scrapes 15 s apart it is gone (at 1,000 targets that is 2.7 MB not kept resident for a
    /// body that new results would invalidate anyway); scrapes that overlap share it.
    body: Weak<String>,
    /// The same body gzip-compressed, made on the first scrape that asks for it and held
    /// the same way; it belongs to this entry, so it never outlives the body's render.
    gzip: Weak<Vec<u8>>,
}

/// A shared body as `Bytes`, without copying it.
struct Body(Arc<String>);

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A shared compressed body as `Bytes`, without copying it.
struct GzipBody(Arc<Vec<u8>>);

impl AsRef<[u8]> for GzipBody {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// The exposition gzip-compressed, as `/metrics` sends it to a scraper that accepts gzip:
/// level 1 (BENCHMARKS.md, "gzip on /metrics"): at ~10k series it keeps most of the size
/// reduction of the default level at a fraction of its CPU.
pub fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 8 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(text.as_bytes())
        .and_then(|()| enc.finish())
        .expect("gzip into a Vec cannot fail")
}

/// Counters and histograms that accumulate across reloads, and the scrape renderer.
pub struct Metrics {
    counters: Mutex<Counters>,
    memo: Mutex<LabelMemo>,
    /// Held while rendering, so concurrent scrapes wait for one render and share it.
    cache: Mutex<Option<Cached>>,
    /// Size of the last exposition, to allocate the next one in one go.
    last_len: AtomicUsize,
    /// How often each target is probed (set by the scheduler), for verdict staleness.
    cadence: Mutex<Arc<Cadence>>,
    /// What OpenClaw's own log showed (`clawprobe_traffic_*`), when followed.
    traffic: Mutex<Option<Arc<crate::traffic::Traffic>>>,
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
        Metrics {
            counters: Mutex::new(Counters::default()),
            memo: Mutex::new(LabelMemo::default()),
            cache: Mutex::new(None),
            last_len: AtomicUsize::new(0),
            cadence: Mutex::new(Arc::new(Cadence::default())),
            traffic: Mutex::new(None),
        }
    }

    /// How often each target of the current plan is probed.
    pub fn cadence(&self) -> Arc<Cadence> {
        self.cadence.lock().expect("metrics lock").clone()
    }

    /// Sets how often each target of the current plan is probed (the scheduler calls this
    /// when the plan or the schedule changes); verdicts use it to tell when they are stale.
    pub fn set_cadence(&self, cadence: Cadence) {
        *self.cadence.lock().expect("metrics lock") = Arc::new(cadence);
        if let Some(c) = self.cache.lock().expect("metrics cache lock").as_mut() {
            c.body = Weak::new();
            c.gzip = Weak::new();
        }
    }

    /// Exports `clawprobe_traffic_*` from `traffic` from now on.
    pub fn set_traffic(&self, traffic: Arc<crate::traffic::Traffic>) {
        *self.traffic.lock().expect("metrics lock") = Some(traffic);
    }

    /// OpenClaw's log as followed, when it is.
    pub fn traffic(&self) -> Option<Arc<crate::traffic::Traffic>> {
        self.traffic.lock().expect("metrics lock").clone()
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().expect("metrics lock")
    }

    /// Counts a finished probe: probes_total, probe_errors_total, duration, tokens.
    /// A `skipped` result (no prober for the API style) sent nothing and is not counted.
    pub fn observe_probe(&self, target: &Target, result: &ProbeResult) {
        if result.class == Class::Skipped {
            return;
        }
        let provider = label_value(&target.provider);
        let model = label_value(&target.model);
        let ti = tier_index(result.tier);
        let mut c = self.counters();
        c.version += 1;
        let mc = c.model(&provider, &model);
        mc.probes[ti] += 1;
        if !result.class.is_ok() {
            mc.errors[ti][class_index(result.class)] += 1;
        }
        let tiers = c.durations.entry(provider.clone()).or_default();
        tiers[ti]
            .get_or_insert_with(Histogram::default)
            .observe(result.latency.as_secs_f64());
        if let Some(u) = result.usage {
            let t = c.tokens.entry(provider).or_default();
            t[0] += u.input_tokens;
            t[1] += u.output_tokens;
        }
    }

    /// Counts a probe that was due but not sent, and why.
    pub fn probe_skipped(&self, provider: &str, reason: SkipReason) {
        let provider = label_value(provider);
        let mut c = self.counters();
        c.version += 1;
        *c.skipped
            .entry(provider)
            .or_default()
            .entry(reason)
            .or_default() += 1;
    }

    /// Records what a (re)load found of the OpenClaw install
    /// (`clawprobe_openclaw_install_status`; with it, the `clawprobe_plan_*` gauges are
    /// exported: all absent until the first load).
    pub fn set_install(&self, status: InstallStatus) {
        let mut c = self.counters();
        c.version += 1;
        c.reload_version += 1;
        c.install = Some(status);
    }

    /// Records the outcome of a config (re)load.
    pub fn set_reload(&self, ok: bool, at: SystemTime) {
        let mut c = self.counters();
        c.version += 1;
        c.reload_version += 1;
        c.reload_ok = ok;
        if ok {
            c.reload_success_at = Some(unix_secs(at));
        }
    }

    /// Records whether the last change of the web config was applied.
    pub fn set_web_config_reload(&self, ok: bool) {
        let mut c = self.counters();
        c.version += 1;
        c.web_config_failed = !ok;
    }

    /// Brings the long-lived counters in line with a new plan: drops the series of
    /// (provider, model) pairs that no target of `plan` has, and starts the error counters
    /// of every planned target at 0. Called on every successful (re)load.
    pub fn sync_plan(&self, plan: &ProbePlan) {
        let models: HashSet<(String, String)> = plan
            .targets
            .iter()
            .map(|t| (label_value(&t.provider), label_value(&t.model)))
            .collect();
        let providers: HashSet<&str> = models.iter().map(|(p, _)| p.as_str()).collect();
        let mut memo = self.memo.lock().expect("metrics lock");
        memo.bound(plan);
        let mut c = self.counters();
        c.version += 1;
        c.reload_version += 1;
        for (p, ms) in c.models.iter_mut() {
            ms.retain(|m, _| models.contains(&(p.clone(), m.clone())));
        }
        c.models.retain(|_, ms| !ms.is_empty());
        c.durations.retain(|p, _| providers.contains(p.as_str()));
        c.tokens.retain(|p, _| providers.contains(p.as_str()));
        c.skipped.retain(|p, _| providers.contains(p.as_str()));
        c.preinit(plan, &mut memo);
    }

    /// The text exposition for `/metrics`, rendered now. Families are written in name
    /// order.
    pub fn render(&self, plan: &ProbePlan, store: &Store, budget: &[BudgetRemaining]) -> String {
        self.render_at(plan, store, budget, SystemTime::now()).0
    }

    /// [`Metrics::render`] at `now`, with the earliest time its verdicts change with no new
    /// evidence (an OpenClaw hold ends, a verdict turns stale).
    pub(crate) fn render_at(
        &self,
        plan: &ProbePlan,
        store: &Store,
        budget: &[BudgetRemaining],
        now: SystemTime,
    ) -> (String, Option<SystemTime>) {
        let cadence = self.cadence.lock().expect("metrics lock").clone();
        let mut memo = self.memo.lock().expect("metrics lock");
        memo.bound(plan);
        let view = store.read();
        let traffic = self.traffic();
        let (rows, traffic_change) = match &traffic {
            Some(t) => t.read(|s| {
                let rows = scrape::Rows::new(plan, &view, &cadence, Some(s), now, &mut memo);
                (rows, s.next_expiry(now))
            }),
            None => (
                scrape::Rows::new(plan, &view, &cadence, None, now, &mut memo),
                None,
            ),
        };
        let next_change = match (rows.next_change, traffic_change) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut e = Exposition::with_capacity(self.last_len.load(Ordering::Relaxed) + 4096);
        rows.write_agents(&mut e);
        scrape::write_budget_and_build(budget, &mut memo, &mut e);
        rows.write_credentials(&mut e);
        let install = {
            let mut c = self.counters();
            c.preinit(plan, &mut memo);
            c.write_reload(&mut e);
            c.install
        };
        if let Some(install) = install {
            discovery::write(install, plan, &mut e);
        }
        scrape::write_expiry(plan, &mut memo, &mut e);
        rows.write_models(&mut e);
        scrape::write_openclaw(plan, &mut memo, &mut e);
        self.counters().write_probes(&mut e);
        rows.write_rate_limits(plan, &mut memo, &mut e);
        if let Some(t) = &traffic {
            t.read(|s| traffic::write(s, now, &mut e));
        }
        process::write(&mut e);
        drop(rows);
        drop(view);
        let out = e.finish();
        self.last_len.store(out.len(), Ordering::Relaxed);
        (out, next_change)
    }

    /// The exposition for `/metrics`, shared between scrapes. A body is reused while
    /// nothing it depends on changed (same plan, no new probe result or counter increment,
    /// same budget) for up to [`UNCHANGED_MAX_AGE`] (its `process_*` numbers age), and also,
    /// for up to `max_age`, while only probe results changed: at 1,000 targets a result
    /// lands every few hundred milliseconds, and without this every scraper of an HA pair
    /// or a dashboard's burst would pay a full render. A (re)load always invalidates it,
    /// whatever its age. Concurrent callers wait for one render.
    /// The body is kept while some response still holds it and for `max_age` after each
    /// scrape (see [`Cached::body`]), so the scrapes right after it reuse it.
    pub fn render_cached(
        &self,
        plan: &Arc<ProbePlan>,
        store: &Store,
        budget: &[BudgetRemaining],
        max_age: Duration,
    ) -> Bytes {
        let mut cache = self.cache.lock().expect("metrics cache lock");
        let body = self.body_locked(&mut cache, plan, store, budget, max_age);
        Bytes::from_owner(Body(body))
    }

    /// [`Metrics::render_cached`], gzip-compressed: compressed once per render and shared
    /// the same way (the compressed body belongs to the render it was made from, so it never
    /// outlives a reload either).
    pub fn render_cached_gzip(
        &self,
        plan: &Arc<ProbePlan>,
        store: &Store,
        budget: &[BudgetRemaining],
        max_age: Duration,
    ) -> Bytes {
        let mut cache = self.cache.lock().expect("metrics cache lock");
        if let Some(c) = self.reusable(&cache, plan, store, budget, max_age) {
            if let Some(gz) = c.gzip.upgrade() {
                keep_alive(&gz, max_age);
                return Bytes::from_owner(GzipBody(gz));
            }
        }
        let body = self.body_locked(&mut cache, plan, store, budget, max_age);
        let gz = Arc::new(gzip(&body));
        if let Some(c) = cache.as_mut() {
            c.gzip = Arc::downgrade(&gz);
        }
        keep_alive(&gz, max_age);
        Bytes::from_owner(GzipBody(gz))
    }

    /// The versions a cached body is compared with.
    fn versions(&self) -> (u64, u64) {
        let c = self.counters();
        // Both only grow, so their sum changes whenever either does.
        let traffic = self.traffic().map_or(0, |t| t.version());
        (c.version + traffic, c.reload_version)
    }

    /// The cache entry, if its body may be served for these inputs now.
    fn reusable<'c>(
        &self,
        cache: &'c Option<Cached>,
        plan: &Arc<ProbePlan>,
        store: &Store,
        budget: &[BudgetRemaining],
        max_age: Duration,
    ) -> Option<&'c Cached> {
        let c = cache.as_ref()?;
        let (counters_version, reload_version) = self.versions();
        let same_structure = Arc::ptr_eq(&c.plan, plan) && c.reload_version == reload_version;
        let unchanged = c.counters_version == counters_version
            && c.store_version == store.version()
            && c.budget == budget;
        let age = c.rendered_at.elapsed();
        let in_time = c.valid_until.is_none_or(|t| SystemTime::now() < t);
        (same_structure && in_time && (age < max_age || (unchanged && age < UNCHANGED_MAX_AGE)))
            .then_some(c)
    }

    /// The shared text body: the cached one if it may be served, else a new render (which
    /// replaces the cache entry, compressed body included). `cache` is the held lock.
    fn body_locked(
        &self,
        cache: &mut Option<Cached>,
        plan: &Arc<ProbePlan>,
        store: &Store,
        budget: &[BudgetRemaining],
        max_age: Duration,
    ) -> Arc<String> {
        if let Some(body) = self
            .reusable(cache, plan, store, budget, max_age)
            .and_then(|c| c.body.upgrade())
        {
            keep_alive(&body, max_age);
            return body;
        }
        // Versions are read before rendering: a change racing the render makes the next
        // scrape render again, never serves stale data as fresh.
        let (counters_version, reload_version) = self.versions();
        let store_version = store.version();
        let (body, valid_until) = self.render_at(plan, store, budget, SystemTime::now());
        let body = Arc::new(body);
        crate::alloc::trim();
        *cache = Some(Cached {
            plan: plan.clone(),
            reload_version,
            rendered_at: Instant::now(),
            valid_until,
            counters_version,
            store_version,
            budget: budget.to_vec(),
            body: Arc::downgrade(&body),
            gzip: Weak::new(),
        });
        keep_alive(&body, max_age);
        body
    }
}

/// Keeps a served body alive for `max_age` (on the tokio runtime serving the scrape), so
/// the scrapes right after it share it; it is freed well before the next regular scrape.
/// Outside a runtime (unit tests, benches) nothing is kept.
fn keep_alive<T: Send + Sync + 'static>(body: &Arc<T>, max_age: Duration) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let body = body.clone();
        rt.spawn(async move {
            tokio::time::sleep(max_age).await;
            drop(body);
        });
    }
}

/// A label value ready for the text format: [`label`], then escaped.
fn label_value(raw: &str) -> String {
    let v = label(raw);
    match text::escape(&v) {
        std::borrow::Cow::Borrowed(_) => v,
        std::borrow::Cow::Owned(e) => e,
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
mod tests;
