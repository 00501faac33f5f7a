//! Scheduler simulations on a paused tokio clock with a fake executor that records every
//! call and returns scripted results. No network. In the crate (not in `tests/`) so the
//! accessors they read the books through are `#[cfg(test)]`, not public API.

use super::Scheduler;
use crate::class::{Class, SkipReason};
use crate::config::{BudgetSettings, ScheduleSettings};
use crate::cron;
use crate::metrics::Metrics;
use crate::plan::TargetKey;
use crate::plan::{
    AgentChain, ApiStyle, ChainEntry, Credential, CredentialKey, CredentialSource, ProbePlan, Role,
    Target, TargetId,
};
use crate::probe::{has_metadata_endpoint, Executor, ProbeResult, Tier, Usage};
use crate::ratelimit::RateLimitInfo;
use crate::schedule::budget::{Amount, Scope};
use crate::schedule::{spread, CycleKind};
use crate::secret::Secret;
use crate::state::Store;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::{sleep, sleep_until, Instant};

/// Accessors for the simulations (`sim_tests.rs`): the books, skips and pending work.
impl Scheduler {
    /// Pins the wall clock: from now on it reads `now` plus the `tokio::time` elapsed.
    pub fn set_wall_clock(&self, now: SystemTime) {
        self.clock.set(now);
        self.books().set_wall_clock(Instant::now(), now);
    }

    pub fn wall_now(&self) -> SystemTime {
        self.clock.now()
    }

    pub fn first_cycle_done(&self) -> bool {
        self.tracker().is_first_cycle_done()
    }

    /// Runs one cycle of `kind` now and waits for it; skipped (returns at once) when a
    /// cycle of that kind is already running.
    pub async fn run_cycle(self: &Arc<Self>, kind: CycleKind, interval: Duration) {
        let Some(guard) = self.try_begin(kind) else {
            return;
        };
        self.cycle(kind, interval, false).await;
        drop(guard);
    }

    pub fn budget_used(&self, provider: Option<&str>) -> Amount {
        self.books().used(provider, Instant::now())
    }

    pub fn budget_used_in(&self, scope: crate::schedule::budget::Scope<'_>) -> Amount {
        self.books().used_in(scope, Instant::now())
    }

    pub fn skipped(&self) -> BTreeMap<(String, SkipReason), u64> {
        self.skips.lock().expect("skips lock").clone()
    }

    pub fn skipped_total(&self, reason: SkipReason) -> u64 {
        self.skipped()
            .iter()
            .filter(|((_, r), _)| *r == reason)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn backoff_level(&self, credential: &crate::plan::CredentialKey) -> u32 {
        self.books().backoff_level(credential)
    }

    pub fn claim(&self, credential: &crate::plan::CredentialKey) -> Option<Instant> {
        self.books().claim(credential)
    }

    pub fn target_backoff_level(&self, target: &TargetKey) -> u32 {
        self.books().target_backoff_level(target)
    }

    pub fn recheck_pending(&self, target: &TargetKey) -> bool {
        self.tasks.recheck_pending(target)
    }
}

/// Tokens the fake reports for one generation probe (a one-word prompt, one-token reply).
const GEN_INPUT: u64 = 9;
const GEN_OUTPUT: u64 = 1;
/// What it reports on `openai-responses`, whose minimum `max_output_tokens` is 16.
const RESPONSES_INPUT: u64 = 8;
const RESPONSES_OUTPUT: u64 = 16;

#[derive(Clone, Debug)]
struct Call {
    at: Instant,
    target: TargetId,
    /// The tier the scheduler asked for (a metadata probe of a provider without a metadata
    /// endpoint comes back as a generation call, like the real probers do).
    tier: Tier,
    /// Tokens the fake reported for this call.
    tokens: u64,
}

#[derive(Clone, Debug)]
struct Scripted {
    class: Class,
    retry_after: Option<Duration>,
}

struct Fake {
    calls: Mutex<Vec<Call>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    latency: Duration,
    /// Latency per model name, overriding `latency`.
    slow: Mutex<HashMap<String, Duration>>,
    /// Results to return, per model name, in order; then `ok`.
    script: Mutex<HashMap<String, VecDeque<Scripted>>>,
    /// When each call finished, in order.
    finished: Mutex<Vec<(Instant, TargetId)>>,
}

impl Fake {
    fn new(latency: Duration) -> Arc<Fake> {
        Arc::new(Fake {
            calls: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            latency,
            slow: Mutex::new(HashMap::new()),
            script: Mutex::new(HashMap::new()),
            finished: Mutex::new(Vec::new()),
        })
    }

    fn script(&self, model: &str, results: &[(Class, Option<u64>)]) {
        self.script.lock().unwrap().insert(
            model.to_string(),
            results
                .iter()
                .map(|(c, ra)| Scripted {
                    class: *c,
                    retry_after: ra.map(Duration::from_secs),
                })
                .collect(),
        );
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl Executor for Fake {
    fn execute<'a>(
        &'a self,
        target: &'a Target,
        tier: Tier,
    ) -> Pin<Box<dyn Future<Output = ProbeResult> + Send + 'a>> {
        Box::pin(async move {
            let usage = match target.api {
                ApiStyle::OpenAiResponses => Usage {
                    input_tokens: RESPONSES_INPUT,
                    output_tokens: RESPONSES_OUTPUT,
                },
                _ => Usage {
                    input_tokens: GEN_INPUT,
                    output_tokens: GEN_OUTPUT,
                },
            };
            let at = Instant::now();
            let call_index = {
                let mut calls = self.calls.lock().unwrap();
                calls.push(Call {
                    at,
                    target: target.id,
                    tier,
                    tokens: 0,
                });
                calls.len() - 1
            };
            let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(n, Ordering::SeqCst);
            let latency = self
                .slow
                .lock()
                .unwrap()
                .get(&target.model)
                .copied()
                .unwrap_or(self.latency);
            sleep(latency).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let scripted = self
                .script
                .lock()
                .unwrap()
                .get_mut(&target.model)
                .and_then(|q| q.pop_front())
                .unwrap_or(Scripted {
                    class: Class::Ok,
                    retry_after: None,
                });
            // Like the real probers: without a metadata endpoint (together, fireworks) a
            // metadata probe is a 1-token generation call and reports its usage.
            let sent_tier = if tier == Tier::Metadata && !has_metadata_endpoint(target) {
                Tier::Generation
            } else {
                tier
            };
            let result = ProbeResult {
                target: target.id,
                tier: sent_tier,
                class: scripted.class,
                reason: scripted.class.as_str().to_string(),
                http_status: Some(if scripted.class == Class::Ok {
                    200
                } else {
                    429
                }),
                latency,
                rate_limits: RateLimitInfo {
                    entries: vec![],
                    retry_after: scripted.retry_after,
                    ..RateLimitInfo::default()
                },
                usage: (sent_tier == Tier::Generation && scripted.class == Class::Ok)
                    .then_some(usage),
                at: SystemTime::now(),
                message: None,
            };
            if let Some(u) = result.usage {
                self.calls.lock().unwrap()[call_index].tokens = u.input_tokens + u.output_tokens;
            }
            self.finished
                .lock()
                .unwrap()
                .push((Instant::now(), target.id));
            result
        })
    }
}

fn target_api(provider: &str, model: &str, key: &str, api: ApiStyle) -> Target {
    Target {
        api,
        ..target(provider, model, key)
    }
}

fn target(provider: &str, model: &str, key: &str) -> Target {
    let base = format!("http://127.0.0.1:9/{provider}");
    let source = CredentialSource::Env {
        var: format!("{}_KEY", provider.to_uppercase()),
    };
    Target::new(provider, model, base, ApiStyle::OpenAiCompletions)
        .with_credential(Credential::api_key(source, Secret::new(key)))
}

/// A plan with one agent per target (primary only), or several agents on one target.
fn plan_of(targets: Vec<Target>, agents_per_target: usize) -> Arc<ProbePlan> {
    let mut plan = ProbePlan::default();
    for t in targets {
        let raw = t.model_ref();
        let (provider, model, api) = (t.provider.clone(), t.model.clone(), t.api.clone());
        let id = plan.intern_target(t);
        for a in 0..agents_per_target {
            plan.agents.push(AgentChain {
                agent: format!("agent-{}-{a}", plan.agents.len()),
                entries: vec![ChainEntry {
                    position: 0,
                    role: Role::Primary,
                    raw_ref: raw.clone(),
                    provider: Some(provider.clone()),
                    model: Some(model.clone()),
                    api: Some(api.clone()),
                    target: Some(id),
                    finding: None,
                    credential_label: None,
                    rotation: Vec::new(),
                }],
            });
        }
    }
    Arc::new(plan)
}

fn scheduler(
    settings: ScheduleSettings,
    budget: BudgetSettings,
    fake: &Arc<Fake>,
) -> (Arc<Scheduler>, Arc<Store>) {
    let store = Arc::new(Store::new());
    let s = Scheduler::new(
        settings,
        budget,
        fake.clone(),
        store.clone(),
        Arc::new(Metrics::new()),
    );
    (s, store)
}

/// 2026-11-27T00:00:00Z: the simulated day starts at midnight UTC.
fn midnight() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_737_600)
}

/// Emulates the cron trigger for `duration` on the paused clock: the startup metadata
/// cycle, then every tick of every non-empty expression spawns its cycle, exactly like `run`.
/// Returns how many cycles of each kind were triggered (started or skipped).
async fn drive(
    sched: &Arc<Scheduler>,
    settings: &ScheduleSettings,
    duration: Duration,
) -> BTreeMap<CycleKind, usize> {
    let t0 = Instant::now();
    let wall0 = sched.wall_now();
    let mut fired = BTreeMap::new();
    assert!(sched.spawn_startup_cycle());
    *fired.entry(CycleKind::Metadata).or_default() += 1;
    loop {
        let wall = sched.wall_now();
        let next: Vec<(SystemTime, CycleKind)> = CycleKind::ALL
            .iter()
            .filter_map(|k| cron::next_tick(k.cron(settings), wall).map(|t| (t, *k)))
            .collect();
        let Some(t) = next.iter().map(|(t, _)| *t).min() else {
            break;
        };
        let at = t0 + t.duration_since(wall0).unwrap();
        if at >= t0 + duration {
            break;
        }
        sleep_until(at).await;
        for (_, k) in next.iter().filter(|(tt, _)| *tt == t) {
            sched.spawn_cycle(*k, sched.interval_for(*k));
            *fired.entry(*k).or_default() += 1;
        }
    }
    // Stop just short of the end, still inside the scheduler's budget window.
    sleep_until(t0 + duration - Duration::from_secs(1)).await;
    fired
}

/// The API style of model `m` of credential `c` of `provider` in the simulated day. OpenAI
/// mixes `openai-responses` (24 tokens a probe) and chat completions (10): keys 0-2 have
/// both, with the cheap-named `-mini` model on Responses, key 3 only Responses.
fn sim_api(provider: &str, c: usize, m: usize) -> ApiStyle {
    match provider {
        "openai" if c == 3 || m == 7 || m % 2 == 0 => ApiStyle::OpenAiResponses,
        "anthropic" => ApiStyle::AnthropicMessages,
        "google" => ApiStyle::GoogleGenerativeAi,
        _ => ApiStyle::OpenAiCompletions,
    }
}

/// The simulated day: 1,000 targets on 5 providers × 4 credentials × 50 models, default
/// settings. Checks budget caps, spacing, concurrency, and the issue's per-model and
/// per-credential token targets, and prints the figures.
#[tokio::test(start_paused = true)]
async fn simulated_day_with_1000_targets_stays_within_budget() {
    let providers = ["openai", "anthropic", "google", "groq", "mistral"];
    let mut targets = Vec::new();
    for p in providers {
        for c in 0..4 {
            for m in 0..50 {
                // One cheap model per credential, named like real cheap ones.
                let model = if m == 7 {
                    format!("{p}-k{c}-mini")
                } else {
                    format!("{p}-k{c}-model-{m}")
                };
                targets.push(target_api(
                    p,
                    &model,
                    &format!("sk-{p}-{c}"),
                    sim_api(p, c, m),
                ));
            }
        }
    }
    let plan = plan_of(targets, 1);
    assert_eq!(plan.targets.len(), 1000);
    let settings = ScheduleSettings::default();
    let budget = BudgetSettings::default();
    let fake = Fake::new(Duration::from_millis(800));
    let (sched, store) = scheduler(settings.clone(), budget.clone(), &fake);
    sched.set_wall_clock(midnight());
    sched.set_plan(plan.clone());

    let day = Duration::from_secs(86_400);
    let fired = drive(&sched, &settings, day).await;
    let calls = fake.calls();
    assert!(sched.first_cycle_done());

    // --- Budget: per provider and global, requests and tokens, from what was really sent.
    let mut gen_req: BTreeMap<&str, u64> = BTreeMap::new();
    let mut gen_tok: BTreeMap<&str, u64> = BTreeMap::new();
    let mut per_model_gen: BTreeMap<TargetId, u64> = BTreeMap::new();
    let mut per_model_meta: BTreeMap<TargetId, u64> = BTreeMap::new();
    let mut per_model_tok: BTreeMap<TargetId, u64> = BTreeMap::new();
    for c in &calls {
        let t = plan.target(c.target);
        match c.tier {
            Tier::Generation => {
                *gen_req.entry(&t.provider).or_default() += 1;
                *gen_tok.entry(&t.provider).or_default() += c.tokens;
                *per_model_gen.entry(c.target).or_default() += 1;
                *per_model_tok.entry(c.target).or_default() += c.tokens;
            }
            Tier::Metadata => {
                assert_eq!(c.tokens, 0, "metadata spends nothing");
                *per_model_meta.entry(c.target).or_default() += 1
            }
        }
    }
    let total_req: u64 = gen_req.values().sum();
    let total_tok: u64 = gen_tok.values().sum();
    println!("generation requests per provider: {gen_req:?}");
    println!("generation tokens per provider:   {gen_tok:?}");
    println!(
        "global: {total_req} requests, {total_tok} tokens (caps {} / {})",
        budget.global_requests_per_day, budget.global_tokens_per_day
    );
    assert!(total_req <= budget.global_requests_per_day, "{total_req}");
    assert!(total_tok <= budget.global_tokens_per_day, "{total_tok}");
    for p in providers {
        let r = gen_req.get(p).copied().unwrap_or(0);
        let t = gen_tok.get(p).copied().unwrap_or(0);
        assert!(r <= budget.provider_requests_per_day, "{p}: {r} requests");
        assert!(t <= budget.provider_tokens_per_day, "{p}: {t} tokens");
        // The scheduler's own books agree with what was sent.
        assert_eq!(sched.budget_used(Some(p)).requests, r, "{p}");
        assert_eq!(
            sched.budget_used(Some(p)).tokens,
            t,
            "{p}: metadata spent no tokens"
        );
    }
    assert_eq!(sched.budget_used(None).requests, total_req);
    assert_eq!(
        sched.budget_used(None).tokens,
        total_tok,
        "only generation probes spend"
    );

    // --- Every generation probe due was either sent or skipped for budget, never lost,
    // and the budget did bite (4 model cycles × 1,000 models alone exceed 2,000 requests).
    let cred_ticks = cron::ticks_between(
        &settings.credential_generation,
        midnight(),
        midnight() + day,
        10_000,
    );
    let model_ticks = cron::ticks_between(
        &settings.model_generation,
        midnight(),
        midnight() + day,
        10_000,
    );
    let meta_ticks = cron::ticks_between(
        &settings.metadata,
        midnight(),
        midnight() + day - Duration::from_secs(1),
        10_000,
    );
    assert_eq!(fired[&CycleKind::CredentialGeneration] as u64, cred_ticks);
    assert_eq!(fired[&CycleKind::ModelGeneration] as u64, model_ticks);
    // +1 credential cycle: each credential's first generation probe at start-up; and the
    // start-up model cycle: 5 primaries per credential (every target is an agent's primary
    // here), not the 980 it would be without the cap.
    let startup = crate::schedule::cycle::startup_primaries(&sched.index(), true, 5).len() as u64;
    assert_eq!(startup, 20 * 5);
    let due = (cred_ticks + 1) * 20 + startup + model_ticks * 1000;
    let skipped_budget = sched.skipped_total(SkipReason::Budget);
    println!("generation probes due {due}, sent {total_req}, skipped for budget {skipped_budget}");
    assert!(skipped_budget > 0);
    assert_eq!(total_req + skipped_budget, due);
    assert_eq!(sched.skipped_total(SkipReason::Backoff), 0);
    assert_eq!(sched.skipped_total(SkipReason::RetryAfter), 0);

    // --- Per model and per credential, against the issue's targets (the default caps:
    // model_tokens_per_day = 50, credential_tokens_per_day = 250).
    assert_eq!(budget.model_tokens_per_day, 50);
    assert_eq!(budget.credential_tokens_per_day, 250);
    let chosen = spread::cheapest_per_credential(&plan);
    assert_eq!(chosen.len(), 20);
    for &id in &chosen {
        let t = plan.target(id);
        // The credential tier probes the cheapest API style the credential has: on OpenAI
        // keys 0-2 a chat model, not the cheap-named `-mini` on the Responses API.
        let only_responses = plan
            .targets
            .iter()
            .filter(|o| plan.credential_key(o.id) == plan.credential_key(t.id))
            .all(|o| o.api == ApiStyle::OpenAiResponses);
        if t.api == ApiStyle::OpenAiResponses {
            assert!(only_responses, "{}: a chat model was available", t.model);
        } else if t.provider != "openai" {
            assert!(t.model.ends_with("-mini"), "{}", t.model);
        }
    }
    let responses_only_keys = chosen
        .iter()
        .filter(|&&id| plan.target(id).api == ApiStyle::OpenAiResponses)
        .count();
    assert_eq!(responses_only_keys, 1, "openai key 3");
    let mut max_model_tokens = 0;
    let mut max_model_tokens_responses = 0;
    let mut cred_tokens: BTreeMap<String, u64> = BTreeMap::new();
    for t in &plan.targets {
        let sent = per_model_tok.get(&t.id).copied().unwrap_or(0);
        let key = plan.key(t.id).clone();
        let ckey = plan.credential_key(t.id).clone();
        // The scheduler's books, split by cap, agree with what was sent.
        let model_used = sched.budget_used_in(Scope::Model(&key)).tokens;
        let cred_used = if chosen.contains(&t.id) {
            sched.budget_used_in(Scope::Credential(&ckey)).tokens
        } else {
            0
        };
        assert_eq!(sent, model_used + cred_used, "{}", t.model);
        assert!(
            model_used <= 50,
            "{}: {model_used} model-tier tokens",
            t.model
        );
        if !chosen.contains(&t.id) {
            // Only model-tier probes: the cap is checked on what was really sent.
            assert!(sent <= 50, "{}: {sent} tokens", t.model);
        }
        if t.api == ApiStyle::OpenAiResponses {
            max_model_tokens_responses = max_model_tokens_responses.max(model_used);
        } else {
            max_model_tokens = max_model_tokens.max(model_used);
        }
        if chosen.contains(&t.id) {
            assert!(
                cred_used <= 250,
                "{}: {cred_used} credential-tier tokens",
                t.model
            );
            assert!(sent <= 50 + 250, "{}: {sent} tokens", t.model);
            cred_tokens.insert(format!("{} ({})", t.model, t.api), cred_used);
            // Every hourly credential probe and the one at start-up went out (never
            // starved by the model probes) on chat styles (25 × 10 = 250, the cap); on a
            // Responses-only key the cap allows 10 × 24 = 240, the others were skipped
            // for budget.
            let want = if t.api == ApiStyle::OpenAiResponses {
                240
            } else {
                250
            };
            assert_eq!(cred_used, want, "{}", t.model);
        }
        // Metadata tier: every target in every metadata cycle, zero tokens.
        assert_eq!(
            per_model_meta.get(&t.id).copied().unwrap_or(0),
            meta_ticks + 1,
            "{}: metadata probes",
            t.model
        );
    }
    // The model cap binds on Responses models (2 × 24 = 48; a 3rd would make 72); chat
    // models get all 4 model-tier probes when the provider budget leaves them room.
    assert!(max_model_tokens_responses <= 48);
    println!("credential-tier tokens per credential per day: {cred_tokens:?}");
    let mut histogram: BTreeMap<u64, usize> = BTreeMap::new();
    for t in &plan.targets {
        *histogram
            .entry(per_model_gen.get(&t.id).copied().unwrap_or(0))
            .or_default() += 1;
    }
    println!("models by generation requests per day (requests: models): {histogram:?}");
    println!(
        "per model per day (model tier): ≤ {max_model_tokens} tokens on chat styles, ≤ {max_model_tokens_responses} on openai-responses (cap 50); per credential per day (credential tier): ≤ {} tokens (cap 250); metadata: 0 tokens, {} probes per target",
        cred_tokens.values().max().copied().unwrap_or(0),
        meta_ticks + 1
    );

    // --- Concurrency and per-credential spacing over the whole day.
    let max_in_flight = fake.max_in_flight.load(Ordering::SeqCst);
    println!(
        "max in flight: {max_in_flight}, total calls: {}",
        calls.len()
    );
    assert!(max_in_flight <= settings.concurrency);
    assert_spacing(
        &plan,
        &calls,
        Duration::from_secs_f64(settings.min_key_spacing_seconds),
    );

    // --- Never a burst: no more than 12 requests start in any one second.
    let mut per_sec: HashMap<u64, usize> = HashMap::new();
    let t0 = calls.iter().map(|c| c.at).min().unwrap();
    for c in &calls {
        *per_sec.entry((c.at - t0).as_secs()).or_default() += 1;
    }
    let burst = per_sec.values().max().copied().unwrap_or(0);
    println!("max requests started in one second: {burst}");
    assert!(burst <= 12, "{burst}");

    // The landing page knows when each target is probed next.
    assert!(store.get(plan.key(0)).unwrap().next_probe_at.is_some());
    let remaining = sched.budget_remaining();
    assert!(remaining
        .iter()
        .any(|r| r.provider == "_global" && r.unit == "requests"));
}

fn assert_spacing(plan: &ProbePlan, calls: &[Call], spacing: Duration) {
    let mut by_cred: HashMap<CredentialKey, Vec<Instant>> = HashMap::new();
    for c in calls {
        by_cred
            .entry(plan.credential_key(c.target).clone())
            .or_default()
            .push(c.at);
    }
    for (k, mut times) in by_cred {
        times.sort();
        for w in times.windows(2) {
            assert!(
                w[1] - w[0] >= spacing,
                "{k}: requests {:?} apart",
                w[1] - w[0]
            );
        }
    }
}

fn quick_settings() -> ScheduleSettings {
    ScheduleSettings {
        spread_fraction: 0.0,
        ..ScheduleSettings::default()
    }
}

#[tokio::test(start_paused = true)]
async fn never_more_than_concurrency_in_flight() {
    let targets = (0..40)
        .map(|i| target("openai", &format!("m{i}"), &format!("key-{i}")))
        .collect();
    let plan = plan_of(targets, 1);
    let fake = Fake::new(Duration::from_secs(5));
    let settings = ScheduleSettings {
        concurrency: 3,
        ..quick_settings()
    };
    let (sched, _) = scheduler(settings, BudgetSettings::default(), &fake);
    sched.set_plan(plan);
    sched
        .run_cycle(CycleKind::Metadata, Duration::from_secs(300))
        .await;
    assert_eq!(fake.calls().len(), 40);
    // All 40 were due at once: the limit was reached and never exceeded.
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn min_spacing_per_credential() {
    let mut targets: Vec<Target> = (0..20)
        .map(|i| target("openai", &format!("m{i}"), "one-key"))
        .collect();
    targets.push(target("openai", "other", "second-key"));
    let plan = plan_of(targets, 1);
    let fake = Fake::new(Duration::from_millis(100));
    let settings = ScheduleSettings {
        min_key_spacing_seconds: 2.0,
        ..quick_settings()
    };
    let (sched, _) = scheduler(settings, BudgetSettings::default(), &fake);
    sched.set_plan(plan.clone());
    let t0 = Instant::now();
    sched
        .run_cycle(CycleKind::Metadata, Duration::from_secs(300))
        .await;
    let calls = fake.calls();
    assert_eq!(calls.len(), 21);
    assert_spacing(&plan, &calls, Duration::from_secs(2));
    // 20 requests on one key at 2 s spacing take 38 s; the other key is not held up.
    let last = calls.iter().map(|c| c.at).max().unwrap();
    assert_eq!(last - t0, Duration::from_secs(38));
    let other = calls
        .iter()
        .find(|c| plan.target(c.target).model == "other")
        .unwrap();
    assert!(other.at - t0 < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn shared_target_probed_once_per_cycle() {
    // 25 agents all use the same model with the same key: one target.
    let targets = (0..25)
        .map(|_| target("anthropic", "claude-haiku", "shared-key"))
        .collect();
    let plan = plan_of(targets, 1);
    assert_eq!(plan.agents.len(), 25);
    assert_eq!(plan.targets.len(), 1);
    let fake = Fake::new(Duration::from_millis(100));
    let (sched, _) = scheduler(quick_settings(), BudgetSettings::default(), &fake);
    sched.set_plan(plan);
    for kind in CycleKind::ALL {
        sched.run_cycle(kind, Duration::from_secs(60)).await;
    }
    let calls = fake.calls();
    let tiers: Vec<Tier> = calls.iter().map(|c| c.tier).collect();
    assert_eq!(tiers, [Tier::Metadata, Tier::Generation, Tier::Generation]);
}

#[tokio::test(start_paused = true)]
async fn never_sends_before_retry_after() {
    let targets = vec![
        target("groq", "llama-small", "k"),
        target("groq", "llama-big", "k"),
        target("groq", "other-key-model", "k2"),
    ];
    let plan = plan_of(targets, 1);
    let fake = Fake::new(Duration::from_millis(200));
    // 429 with retry-after 900 s on the first call of the key.
    fake.script("llama-small", &[(Class::RateLimit, Some(900))]);
    let settings = ScheduleSettings {
        spread_fraction: 0.5,
        ..ScheduleSettings::default()
    };
    let (sched, _) = scheduler(settings.clone(), BudgetSettings::default(), &fake);
    sched.set_wall_clock(midnight());
    sched.set_plan(plan.clone());
    drive(&sched, &settings, Duration::from_secs(3600)).await;
    let calls = fake.calls();
    let k = plan.credential_key(0).clone();
    let on_k: Vec<Instant> = calls
        .iter()
        .filter(|c| *plan.credential_key(c.target) == k)
        .map(|c| c.at)
        .collect();
    let limited = calls
        .iter()
        .find(|c| c.target == 0)
        .expect("llama-small probed")
        .at;
    let blocked_until = limited + Duration::from_millis(200) + Duration::from_secs(900);
    for t in &on_k {
        assert!(
            *t <= limited || *t >= blocked_until,
            "request {:?} after the 429, before retry-after ended",
            *t - limited
        );
    }
    assert!(
        on_k.iter().any(|t| *t >= blocked_until),
        "probing resumed after retry-after"
    );
    assert!(sched.skipped_total(SkipReason::RetryAfter) > 0);
    // The other key was never held up: probed in every metadata cycle (startup + 11 ticks),
    // by its credential's first generation probe at start and by the hourly credential
    // cycle.
    let other = |tier| {
        calls
            .iter()
            .filter(|c| c.target == 2 && c.tier == tier)
            .count()
    };
    assert_eq!((other(Tier::Metadata), other(Tier::Generation)), (12, 2));
}

#[tokio::test(start_paused = true)]
async fn over_budget_probes_are_skipped_and_counted() {
    let targets = (0..10)
        .map(|i| target("openai", &format!("gpt-{i}"), &format!("key-{i}")))
        .chain((0..2).map(|i| target("mistral", &format!("m-{i}"), "mk")))
        .collect();
    let plan = plan_of(targets, 1);
    let fake = Fake::new(Duration::from_millis(100));
    let mut budget = BudgetSettings::default();
    budget.providers.insert(
        "openai".into(),
        crate::config::ProviderBudget {
            requests_per_day: Some(3),
            tokens_per_day: None,
        },
    );
    let (sched, _) = scheduler(quick_settings(), budget, &fake);
    sched.set_plan(plan.clone());
    // One generation probe per credential: 10 openai keys, 1 mistral key.
    sched
        .run_cycle(CycleKind::CredentialGeneration, Duration::from_secs(600))
        .await;
    let calls = fake.calls();
    let sent_openai = calls
        .iter()
        .filter(|c| plan.target(c.target).provider == "openai")
        .count();
    assert_eq!(sent_openai, 3);
    assert_eq!(calls.len(), 3 + 1, "mistral has its own budget");
    let skipped = sched.skipped();
    assert_eq!(
        skipped.get(&("openai".to_string(), SkipReason::Budget)),
        Some(&7)
    );
    assert_eq!(skipped.len(), 1);
    let rem = sched.budget_remaining();
    let openai_req = rem
        .iter()
        .find(|r| r.provider == "openai" && r.unit == "requests")
        .unwrap();
    assert_eq!(openai_req.remaining, 0.0);
    // On-demand generation is budgeted too; metadata is not.
    assert_eq!(
        sched.probe_now(0, Tier::Generation).await.unwrap_err(),
        SkipReason::Budget
    );
    assert_eq!(SkipReason::Budget.as_str(), "budget");
    assert!(sched.probe_now(0, Tier::Metadata).await.is_ok());
    assert_eq!(fake.calls().len(), 5);
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_on_rate_limit_and_resets_on_ok() {
    let plan = plan_of(vec![target("openai", "gpt-mini", "k")], 1);
    let key = plan.key(0).clone();
    let fake = Fake::new(Duration::ZERO);
    fake.script(
        "gpt-mini",
        &[
            (Class::RateLimit, None),
            (Class::RateLimit, None),
            (Class::Overloaded, None),
        ],
    );
    let settings = ScheduleSettings {
        recheck_after_failure_seconds: 60.0,
        max_backoff_seconds: 3600.0,
        ..quick_settings()
    };
    let (sched, _) = scheduler(settings, BudgetSettings::default(), &fake);
    sched.set_plan(plan.clone());
    let t0 = Instant::now();
    let r = sched.probe_now(0, Tier::Metadata).await.unwrap();
    assert_eq!(r.class, Class::RateLimit);
    assert_eq!(sched.target_backoff_level(&key), 1);
    // Inside the backoff: not sent.
    sleep(Duration::from_secs(30)).await;
    assert_eq!(
        sched.probe_now(0, Tier::Metadata).await.unwrap_err(),
        SkipReason::Backoff
    );
    assert_eq!(SkipReason::Backoff.as_str(), "backoff");
    // Early rechecks run by themselves: 60 s, then 120 s, then 240 s later (ok).
    sleep(Duration::from_secs(3600)).await;
    let times: Vec<u64> = fake.calls().iter().map(|c| (c.at - t0).as_secs()).collect();
    assert_eq!(times, [0, 60, 180, 420]);
    assert_eq!(sched.target_backoff_level(&key), 0, "reset by the ok");
    assert!(!sched.recheck_pending(plan.key(0)));
    assert!(sched.probe_now(0, Tier::Metadata).await.is_ok());
    assert_eq!(sched.skipped_total(SkipReason::Backoff), 1);
}

#[tokio::test(start_paused = true)]
async fn failing_target_gets_early_recheck() {
    let plan = plan_of(
        vec![
            target("anthropic", "claude-haiku", "bad"),
            target("openai", "gpt-mini", "good"),
        ],
        1,
    );
    let fake = Fake::new(Duration::from_millis(100));
    fake.script(
        "claude-haiku",
        &[(Class::Auth, None), (Class::Auth, None), (Class::Ok, None)],
    );
    let settings = ScheduleSettings {
        recheck_after_failure_seconds: 20.0,
        ..quick_settings()
    };
    let (sched, store) = scheduler(settings, BudgetSettings::default(), &fake);
    sched.set_plan(plan.clone());
    let t0 = Instant::now();
    sched
        .run_cycle(CycleKind::Metadata, Duration::from_secs(300))
        .await;
    assert!(sched.recheck_pending(plan.key(0)));
    assert!(!sched.recheck_pending(plan.key(1)));
    let next = store.get(plan.key(0)).unwrap().next_probe_at.unwrap();
    assert!(next > sched.wall_now());
    // Well before the next 5-minute cycle.
    sleep(Duration::from_secs(200)).await;
    let bad: Vec<u64> = fake
        .calls()
        .iter()
        .filter(|c| c.target == 0)
        .map(|c| (c.at - t0).as_millis() as u64)
        .collect();
    // Failure at 0, recheck 20 s after it finished (fails again), then 40 s later: ok.
    assert_eq!(bad, [0, 20_100, 60_200]);
    assert_eq!(fake.calls().iter().filter(|c| c.target == 1).count(), 1);
    assert!(!sched.recheck_pending(plan.key(0)));
    assert_eq!(
        store.get(plan.key(0)).unwrap().last.unwrap().class,
        Class::Ok
    );
}

#[tokio::test(start_paused = true)]
async fn overlapping_cycle_ticks_are_skipped() {
    let plan = plan_of(
        (0..5)
            .map(|i| target("openai", &format!("m{i}"), &format!("k{i}")))
            .collect(),
        1,
    );
    // Probes take longer than the interval between ticks.
    let fake = Fake::new(Duration::from_secs(90));
    let settings = ScheduleSettings {
        probe_timeout_seconds: 120.0,
        ..quick_settings()
    };
    let (sched, _) = scheduler(settings, BudgetSettings::default(), &fake);
    sched.set_plan(plan);
    assert!(sched.spawn_cycle(CycleKind::Metadata, Duration::from_secs(60)));
    sleep(Duration::from_secs(60)).await;
    // The next tick finds the cycle still running: skipped, not queued.
    assert!(!sched.spawn_cycle(CycleKind::Metadata, Duration::from_secs(60)));
    let t = Instant::now();
    sched
        .run_cycle(CycleKind::Metadata, Duration::from_secs(60))
        .await;
    assert_eq!(
        t.elapsed(),
        Duration::ZERO,
        "run_cycle skipped too, without waiting"
    );
    assert!(!sched.first_cycle_done());
    // Other kinds are independent.
    assert!(sched.spawn_cycle(CycleKind::ModelGeneration, Duration::from_secs(60)));
    // 5 probes of 90 s at concurrency 4: the first metadata cycle ends at 180 s.
    sleep(Duration::from_secs(150)).await;
    assert!(sched.first_cycle_done());
    assert!(sched.spawn_cycle(CycleKind::Metadata, Duration::from_secs(60)));
    sleep(Duration::from_secs(400)).await;
    let calls = fake.calls();
    let meta = calls.iter().filter(|c| c.tier == Tier::Metadata).count();
    assert_eq!(
        meta, 10,
        "two metadata cycles of 5 targets, the skipped ticks sent nothing"
    );
    assert_eq!(calls.len(), 15);
}

#[tokio::test(start_paused = true)]
async fn unprobeable_targets_are_recorded_skipped_without_a_request() {
    let mut t = target("amazon-bedrock", "claude-haiku", "k");
    t.api = ApiStyle::Other("bedrock-converse-stream".into());
    let plan = plan_of(vec![t, target("openai", "gpt-mini", "k2")], 1);
    let fake = Fake::new(Duration::from_millis(10));
    let (sched, store) = scheduler(quick_settings(), BudgetSettings::default(), &fake);
    sched.set_plan(plan.clone());
    for kind in CycleKind::ALL {
        sched.run_cycle(kind, Duration::from_secs(60)).await;
    }
    assert!(fake.calls().iter().all(|c| c.target == 1));
    assert_eq!(fake.calls().len(), 3);
    let st = store.get(plan.key(0)).unwrap();
    assert_eq!(st.last.unwrap().class, Class::Skipped);
    assert_eq!(sched.budget_used(Some("amazon-bedrock")).requests, 0);
}

#[tokio::test(start_paused = true)]
async fn set_plan_drops_gone_targets_and_keeps_backoff() {
    let a = target("openai", "gpt-a", "k");
    let b = target("openai", "gpt-b", "k");
    let plan1 = plan_of(vec![a.clone(), b.clone()], 1);
    let fake = Fake::new(Duration::ZERO);
    fake.script("gpt-a", &[(Class::RateLimit, Some(600))]);
    let (sched, store) = scheduler(quick_settings(), BudgetSettings::default(), &fake);
    sched.set_plan(plan1.clone());
    sched
        .run_cycle(CycleKind::Metadata, Duration::from_secs(60))
        .await;
    assert!(store.get(plan1.key(0)).is_some());
    // Reload: gpt-a is gone, gpt-b stays (same key), so the credential's retry-after holds.
    let plan2 = plan_of(vec![b], 1);
    sched.set_plan(plan2.clone());
    assert!(store.get(plan1.key(0)).is_none());
    assert!(store.get(plan2.key(0)).is_some());
    assert!(!sched.recheck_pending(plan1.key(0)));
    assert_eq!(
        sched.probe_now(0, Tier::Metadata).await.unwrap_err(),
        SkipReason::RetryAfter
    );
    assert_eq!(SkipReason::RetryAfter.as_str(), "retry_after");
    // The backoff was gpt-a's own and left with it; the retry-after is the key's.
    assert_eq!(sched.backoff_level(plan2.credential_key(0)), 0);
    assert_eq!(sched.target_backoff_level(plan1.key(0)), 0);
}

/// The real cron trigger (tokio-cron-scheduler on the wall clock): starts with a metadata
/// cycle, fires every second, stops on shutdown.
#[tokio::test]
async fn run_triggers_cycles_from_cron_until_shutdown() {
    let plan = plan_of(vec![target("openai", "gpt-mini", "k")], 1);
    let fake = Fake::new(Duration::from_millis(10));
    let settings = ScheduleSettings {
        metadata: "* * * * * *".into(),
        credential_generation: String::new(),
        model_generation: String::new(),
        min_key_spacing_seconds: 0.0,
        ..quick_settings()
    };
    let (sched, _) = scheduler(settings, BudgetSettings::default(), &fake);
    sched.set_plan(plan);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(sched.clone().run(rx));
    tokio::time::sleep(Duration::from_millis(3200)).await;
    tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run stops on shutdown")
        .unwrap();
    let n = fake.calls().len();
    assert!(sched.first_cycle_done());
    assert!((2..=5).contains(&n), "{n} metadata probes in ~3 s");
    assert!(fake.calls().iter().all(|c| c.tier == Tier::Metadata));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.calls().len(), n, "nothing sent after shutdown");
}

/// Start-up to ready (issue 8, F3): 1,000 targets on 7 credentials at the default config.
/// Each credential's first probe starts at once, and readiness (what `/readyz` uses) turns
/// true exactly when the last credential's first probe finished — errors count, keyless
/// targets are not waited for — long before the first cycle itself is done.
#[tokio::test(start_paused = true)]
async fn ready_once_every_credential_had_its_first_probe() {
    let providers = [
        "openai",
        "anthropic",
        "google",
        "groq",
        "mistral",
        "openrouter",
        "deepseek",
    ];
    let mut targets: Vec<Target> = (0..1000)
        .map(|i| {
            let p = providers[i % 7];
            target(p, &format!("{p}-model-{i}"), &format!("sk-{p}"))
        })
        .collect();
    // Keyless local models: probed, but readiness does not wait for them.
    for i in 0..3 {
        let mut t = target_api("ollama", &format!("llama-{i}"), "-", ApiStyle::Ollama);
        t.credential = None;
        targets.push(t);
    }
    let plan = plan_of(targets, 1);
    let fake = Fake::new(Duration::from_millis(40));
    for i in 0..3 {
        fake.slow
            .lock()
            .unwrap()
            .insert(format!("llama-{i}"), Duration::from_secs(10));
    }
    // Every groq probe fails: an error is a first picture too.
    for i in (3..1000).step_by(7) {
        fake.script(&format!("groq-model-{i}"), &[(Class::Auth, None)]);
    }
    let settings = ScheduleSettings::default();
    assert_eq!(settings.min_key_spacing_seconds, 1.0, "the default");
    let (sched, _) = scheduler(settings.clone(), BudgetSettings::default(), &fake);
    sched.set_wall_clock(midnight() + Duration::from_secs(100));

    let r = sched.readiness();
    assert!(!r.ready && !r.plan_loaded);
    assert_eq!(r.describe(), "not ready: the probe plan is not loaded yet");
    sched.set_plan(plan.clone());
    let r = sched.readiness();
    assert!(!r.ready);
    assert_eq!((r.credentials, r.credentials_probed), (7, 0));
    assert_eq!(
        r.describe(),
        "not ready: waiting for the first probe of 7 of 7 credentials"
    );

    let t0 = Instant::now();
    assert!(sched.spawn_startup_cycle());
    let mut ready_at = None;
    let mut seen_partial = false;
    while t0.elapsed() < Duration::from_secs(5) {
        let r = sched.readiness();
        if r.ready {
            ready_at = Some(Instant::now());
            assert!(
                !r.first_cycle_done,
                "ready from the credentials, not the cycle"
            );
            assert_eq!(r.credentials_probed, 7);
            break;
        }
        seen_partial |= r.credentials_probed > 0;
        sleep(Duration::from_millis(1)).await;
    }
    let ready_at = ready_at.expect("ready within 5 s");
    assert!(seen_partial, "credentials turned probed one by one");

    // Each credential's first probe: when it started and finished.
    let calls = fake.calls();
    let finished = fake.finished.lock().unwrap().clone();
    let mut first: BTreeMap<CredentialKey, (Instant, Instant)> = BTreeMap::new();
    for c in &calls {
        let t = plan.target(c.target);
        if t.credential.is_none() || first.contains_key(plan.credential_key(t.id)) {
            continue;
        }
        let done = finished
            .iter()
            .find(|(_, id)| *id == c.target)
            .map(|(at, _)| *at)
            .expect("first probe finished");
        first.insert(plan.credential_key(t.id).clone(), (c.at, done));
    }
    assert_eq!(first.len(), 7);
    let last_start = first.values().map(|(s, _)| *s).max().unwrap();
    let last_done = first.values().map(|(_, d)| *d).max().unwrap();
    assert!(
        last_start - t0 < Duration::from_secs(1),
        "every credential's first probe starts within 1 s: {:?}",
        last_start - t0
    );
    // Not before the last first probe finished, and as soon as it did (1 ms polling).
    assert!(ready_at >= last_done, "ready before the last first probe");
    assert!(
        ready_at - last_done <= Duration::from_millis(1),
        "{:?}",
        ready_at - last_done
    );
    assert!(
        !finished
            .iter()
            .any(|(_, id)| plan.target(*id).credential.is_none()),
        "did not wait for the keyless targets"
    );
    // No burst: in the first second one request per credential (spacing), keyless included.
    let first_second = calls
        .iter()
        .filter(|c| c.at - t0 < Duration::from_secs(1))
        .count();
    assert!(
        first_second <= 8,
        "{first_second} requests in the first second: {:?}",
        calls
            .iter()
            .filter(|c| c.at - t0 < Duration::from_secs(1))
            .map(|c| (c.target, c.tier, c.at - t0))
            .collect::<Vec<_>>()
    );
    println!(
        "startup: 1,003 targets on 7 credentials (+3 keyless); every credential's first probe started within {:?}, ready after {:?} (probe latency 40 ms, concurrency {})",
        last_start - t0,
        ready_at - t0,
        settings.concurrency
    );

    // The rest of the first cycle still keeps 1 s between requests on one key: 143 targets
    // per key take ~143 s, which is why readiness no longer waits for the whole cycle.
    while !sched.first_cycle_done() {
        sleep(Duration::from_millis(500)).await;
        assert!(
            t0.elapsed() < Duration::from_secs(400),
            "first cycle never ended"
        );
    }
    let cycle = t0.elapsed();
    let calls = fake.calls();
    let metadata = calls.iter().filter(|c| c.tier == Tier::Metadata).count();
    assert!(metadata >= 1003, "{metadata}");
    assert_spacing(&plan, &calls, Duration::from_secs(1));
    assert!(cycle >= Duration::from_secs(142), "{cycle:?}");
    println!("first metadata cycle (for comparison): {cycle:?}");

    // Ready stays ready: a reload that adds a credential does not take it back.
    let mut more = plan.targets.clone();
    more.push(target("xai", "grok-mini", "sk-new"));
    sched.set_plan(plan_of(more, 1));
    let r = sched.readiness();
    assert!(r.ready);
    assert_eq!((r.credentials, r.credentials_probed), (8, 7));

    // A plan with no credential to wait for is ready as soon as it is loaded.
    let keyless = {
        let mut t = target_api("ollama", "llama-x", "-", ApiStyle::Ollama);
        t.credential = None;
        plan_of(vec![t], 1)
    };
    let (other, _) = scheduler(settings, BudgetSettings::default(), &fake);
    assert!(!other.readiness().ready);
    other.set_plan(keyless);
    assert!(other.readiness().ready);
}

/// The finer caps in the dispatcher: model-generation and on-demand generation probes
/// count against the model's tokens per day, credential-generation probes against the
/// credential's; a probe over its cap is skipped with reason `budget`, never sent.
#[tokio::test(start_paused = true)]
async fn model_and_credential_token_caps_skip_and_count() {
    let plan = plan_of(
        vec![
            target_api("openai", "gpt-5-mini", "k", ApiStyle::OpenAiResponses),
            target("openai", "gpt-4.1-mini", "k"),
        ],
        1,
    );
    let fake = Fake::new(Duration::from_millis(10));
    let budget = BudgetSettings {
        model_tokens_per_day: 50,
        credential_tokens_per_day: 30,
        ..BudgetSettings::default()
    };
    let (sched, _) = scheduler(quick_settings(), budget, &fake);
    sched.set_plan(plan.clone());
    // Model tier, 4 cycles: the Responses model (24 a probe) gets 2, the chat one (10) 4.
    for _ in 0..4 {
        sched
            .run_cycle(CycleKind::ModelGeneration, Duration::from_secs(60))
            .await;
    }
    let gen = |id: TargetId| {
        fake.calls()
            .iter()
            .filter(|c| c.target == id && c.tier == Tier::Generation)
            .count()
    };
    assert_eq!((gen(0), gen(1)), (2, 4));
    assert_eq!(sched.skipped_total(SkipReason::Budget), 2);
    // On demand counts against the model too: the chat model has 10 of 50 left.
    assert!(sched.probe_now(1, Tier::Generation).await.is_ok());
    assert_eq!(
        sched.probe_now(1, Tier::Generation).await.unwrap_err(),
        SkipReason::Budget
    );
    assert_eq!(sched.budget_used_in(Scope::Model(plan.key(1))).tokens, 50);
    // The credential tier probes the chat model (cheapest style) on its own cap: 3 × 10.
    for _ in 0..4 {
        sched
            .run_cycle(CycleKind::CredentialGeneration, Duration::from_secs(60))
            .await;
    }
    assert_eq!(gen(1), 5 + 3);
    let ckey = plan.credential_key(1).clone();
    assert_eq!(sched.budget_used_in(Scope::Credential(&ckey)).tokens, 30);
    assert_eq!(sched.skipped_total(SkipReason::Budget), 2 + 1 + 1);
    assert_eq!(
        sched
            .skipped()
            .get(&("openai".to_string(), SkipReason::Budget)),
        Some(&4)
    );
    // Metadata is never budgeted (this provider has a metadata endpoint).
    assert!(sched.probe_now(0, Tier::Metadata).await.is_ok());
}

/// A plan with providers that have no zero-token metadata endpoint (together, fireworks)
/// next to ones that do: 2 openai keys and 1 groq key with 3 chat models each, 1 together
/// key with 3 models, 1 fireworks key with 2. Keys of together and fireworks have only
/// such models.
fn no_metadata_plan() -> Arc<ProbePlan> {
    let mut targets = Vec::new();
    for (p, key, n) in [
        ("openai", "sk-openai-0", 3),
        ("openai", "sk-openai-1", 3),
        ("groq", "sk-groq", 3),
        ("together", "sk-together", 3),
        ("fireworks", "sk-fireworks", 2),
    ] {
        for m in 0..n {
            targets.push(target(p, &format!("{key}-model-{m}"), key));
        }
    }
    plan_of(targets, 1)
}

/// Per target over the calls: (metadata-tier calls, metadata-tier tokens, all tokens).
fn per_target_calls(calls: &[Call]) -> BTreeMap<TargetId, (u64, u64, u64)> {
    let mut out: BTreeMap<TargetId, (u64, u64, u64)> = BTreeMap::new();
    for c in calls {
        let e = out.entry(c.target).or_default();
        if c.tier == Tier::Metadata {
            e.0 += 1;
            e.1 += c.tokens;
        }
        e.2 += c.tokens;
    }
    out
}

/// Polls readiness every 10 ms while `fut` runs; returns when readiness turned true and
/// whether the first cycle was done by then.
async fn ready_while<F: Future>(
    sched: &Arc<Scheduler>,
    fut: F,
) -> (F::Output, Option<(Duration, bool)>) {
    let t0 = Instant::now();
    let poll = async {
        loop {
            let r = sched.readiness();
            if r.ready {
                return (t0.elapsed(), r.first_cycle_done);
            }
            sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::pin!(poll);
    tokio::pin!(fut);
    let mut ready = None;
    loop {
        tokio::select! {
            out = &mut fut => return (out, ready),
            r = &mut poll, if ready.is_none() => ready = Some(r),
        }
    }
}

/// Issue 8's token targets hold for providers without a metadata endpoint under the
/// default config: they stay out of the metadata cycle (0 metadata-tier tokens in total),
/// the generation tiers still probe them within 50 tokens a model a day, and readiness
/// does not wait for their keys, which the startup cycle does not probe.
#[tokio::test(start_paused = true)]
async fn simulated_day_leaves_targets_without_metadata_endpoint_out_of_the_metadata_tier() {
    let plan = no_metadata_plan();
    let settings = ScheduleSettings::default();
    assert!(!settings.metadata_generation_fallback, "the default");
    let budget = BudgetSettings::default();
    let fake = Fake::new(Duration::from_millis(200));
    let (sched, store) = scheduler(settings.clone(), budget.clone(), &fake);
    sched.set_wall_clock(midnight());
    sched.set_plan(plan.clone());
    let left_out = |id: TargetId| !has_metadata_endpoint(plan.target(id));
    assert_eq!(
        (0..plan.targets.len()).filter(|&id| left_out(id)).count(),
        5
    );
    // Readiness waits for the 3 keys whose targets the startup cycle probes.
    let r = sched.readiness();
    assert_eq!((r.credentials, r.credentials_probed), (3, 0));

    let day = Duration::from_secs(86_400);
    let (_, ready) = ready_while(&sched, drive(&sched, &settings, day)).await;
    let (ready_after, cycle_done) = ready.expect("ready");
    assert!(
        !cycle_done,
        "ready from the credentials, not the end of the first cycle"
    );
    assert!(ready_after < Duration::from_secs(1), "{ready_after:?}");

    let calls = fake.calls();
    let per = per_target_calls(&calls);
    let meta_ticks = cron::ticks_between(
        &settings.metadata,
        midnight(),
        midnight() + day - Duration::from_secs(1),
        10_000,
    );
    let meta_tokens: u64 = per.values().map(|(_, t, _)| t).sum();
    assert_eq!(meta_tokens, 0, "metadata tier spent tokens");
    let chosen = spread::cheapest_per_credential(&plan);
    let startup_primaries = crate::schedule::cycle::startup_primaries(&sched.index(), true, 5);
    assert!(!startup_primaries.is_empty());
    let mut left_out_tokens = BTreeMap::new();
    for t in &plan.targets {
        let (meta, _, tokens) = per.get(&t.id).copied().unwrap_or_default();
        let model_used = sched.budget_used_in(Scope::Model(plan.key(t.id))).tokens;
        let cred_used = assert_books_match_sends(&sched, &chosen, t, model_used, tokens);
        assert!(
            model_used <= 50,
            "{}: {model_used} model-tier tokens",
            t.model
        );
        assert!(cred_used <= 250, "{}: {cred_used}", t.model);
        if left_out(t.id) {
            assert_eq!(meta, 0, "{}: in the metadata cycle", t.model);
            // Still watched: all 4 model-tier probes went out, and the start-up one to a
            // primary its key's cheapest did not cover.
            let startup = u64::from(startup_primaries.contains(&t.id));
            assert_eq!(model_used, 40 + 10 * startup, "{}", t.model);
            if !chosen.contains(&t.id) {
                assert!(tokens <= 50, "{}: {tokens} tokens", t.model);
            }
            left_out_tokens.insert(t.model.clone(), (model_used, cred_used));
            // The landing page says when: the model tier's next tick.
            let next = store
                .get(plan.key(t.id))
                .unwrap()
                .next_probe_at
                .expect("next probe");
            assert!(next > sched.wall_now(), "{}", t.model);
        } else {
            assert_eq!(meta, meta_ticks + 1, "{}: metadata probes", t.model);
        }
    }
    // The together and fireworks keys still get their hourly credential probes (and the
    // one at start-up: 25 × 10 tokens).
    for p in ["together", "fireworks"] {
        let id = *chosen
            .iter()
            .find(|&&id| plan.target(id).provider == p)
            .unwrap();
        let ckey = plan.credential_key(id).clone();
        assert_eq!(sched.budget_used_in(Scope::Credential(&ckey)).tokens, 250);
    }
    assert_eq!(sched.skipped_total(SkipReason::Budget), 0);
    println!(
        "no metadata endpoint, default config: metadata tier 0 tokens; per model per day (model tier, credential tier): {left_out_tokens:?}; ready after {ready_after:?}"
    );
}

/// With `metadata_generation_fallback = true` targets without a metadata endpoint are
/// probed in every metadata cycle, as generation calls charged to the model's cap: never
/// more than `model_tokens_per_day`, the rest skipped for budget.
#[tokio::test(start_paused = true)]
async fn metadata_generation_fallback_probes_them_under_the_model_cap() {
    let plan = no_metadata_plan();
    let settings = ScheduleSettings {
        metadata_generation_fallback: true,
        ..ScheduleSettings::default()
    };
    let budget = BudgetSettings::default();
    let fake = Fake::new(Duration::from_millis(200));
    let (sched, _) = scheduler(settings.clone(), budget, &fake);
    sched.set_wall_clock(midnight());
    sched.set_plan(plan.clone());
    // Every key is waited for: the startup cycle probes all of them.
    let r = sched.readiness();
    assert_eq!((r.credentials, r.credentials_probed), (5, 0));
    let day = Duration::from_secs(86_400);
    let (_, ready) = ready_while(&sched, drive(&sched, &settings, day)).await;
    let (ready_after, cycle_done) = ready.expect("ready");
    assert!(
        !cycle_done && ready_after < Duration::from_secs(1),
        "{ready_after:?}"
    );

    let per = per_target_calls(&fake.calls());
    let chosen = spread::cheapest_per_credential(&plan);
    let mut figures = BTreeMap::new();
    for t in &plan.targets {
        let (meta, meta_tokens, tokens) = per.get(&t.id).copied().unwrap_or_default();
        let model_used = sched.budget_used_in(Scope::Model(plan.key(t.id))).tokens;
        assert!(
            model_used <= 50,
            "{}: {model_used} model-tier tokens",
            t.model
        );
        if has_metadata_endpoint(t) {
            assert_eq!(meta_tokens, 0, "{}", t.model);
            continue;
        }
        assert!(
            meta > 0 && meta_tokens > 0,
            "{}: not in the metadata cycle",
            t.model
        );
        assert_books_match_sends(&sched, &chosen, t, model_used, tokens);
        if !chosen.contains(&t.id) {
            assert!(tokens <= 50, "{}: {tokens} tokens", t.model);
        }
        figures.insert(t.model.clone(), (meta, meta_tokens, model_used));
    }
    // 288 cycles a day, about 5 fit a model's 50 tokens: the others were skipped.
    assert!(sched.skipped_total(SkipReason::Budget) > 5 * 250);
    println!(
        "metadata_generation_fallback = true: per model (metadata-tier probes sent, their tokens, model-cap tokens): {figures:?}"
    );
}

/// Any metadata-tier probe that spends tokens counts against the model's cap: on demand
/// (GET /probe?tier=metadata) and the early recheck after a failure, for a target without
/// a metadata endpoint.
#[tokio::test(start_paused = true)]
async fn metadata_probes_that_generate_count_against_the_model_cap() {
    let plan = plan_of(vec![target("together", "llama-8b", "sk-t")], 1);
    let key = plan.key(0).clone();
    let fake = Fake::new(Duration::from_millis(10));
    fake.script("llama-8b", &[(Class::ServerError, None)]);
    let settings = ScheduleSettings {
        recheck_after_failure_seconds: 20.0,
        ..quick_settings()
    };
    let (sched, _) = scheduler(settings, BudgetSettings::default(), &fake);
    sched.set_plan(plan.clone());
    // The metadata cycle leaves it out.
    sched
        .run_cycle(CycleKind::Metadata, Duration::from_secs(300))
        .await;
    assert!(fake.calls().is_empty());
    // A failing model-tier probe, then its recheck: a server error only generation can
    // see is re-checked with a generation request, on the model's cap.
    sched
        .run_cycle(CycleKind::ModelGeneration, Duration::from_secs(60))
        .await;
    assert!(sched.recheck_pending(&key));
    sleep(Duration::from_secs(30)).await;
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].tier, Tier::Generation);
    assert_eq!(calls[1].tokens, 10);
    assert_eq!(sched.budget_used_in(Scope::Model(&key)).tokens, 10);
    assert_eq!(sched.budget_used(Some("together")).tokens, 10);
    // On demand: 4 more fit the 50-token cap, the 5th is skipped.
    for _ in 0..4 {
        assert!(sched.probe_now(0, Tier::Metadata).await.is_ok());
    }
    assert_eq!(sched.budget_used_in(Scope::Model(&key)).tokens, 50);
    assert_eq!(
        sched.probe_now(0, Tier::Metadata).await.unwrap_err(),
        SkipReason::Budget
    );
    assert_eq!(fake.calls().len(), 6);
}

/// The budget's books for `t` (its model cap, plus its credential's cap when `t` is the
/// credential tier's pick) must equal the tokens the fake provider saw `t` spend. Returns
/// the credential-tier tokens booked for `t`.
fn assert_books_match_sends(
    sched: &Scheduler,
    chosen: &[TargetId],
    t: &Target,
    model_used: u64,
    sent: u64,
) -> u64 {
    let cred_used = if chosen.contains(&t.id) {
        sched
            .budget_used_in(Scope::Credential(CredentialKey::of(t).as_str()))
            .tokens
    } else {
        0
    };
    assert_eq!(sent, model_used + cred_used, "{}: books and sends", t.model);
    cred_used
}

/// A route whose real requests succeed (OpenClaw's own log) costs no synthetic generation
/// probes: the model and credential cycles skip it with `traffic_fresh`, nothing is sent;
/// a route with no such traffic is probed as usual, and a probe on demand always is.
#[tokio::test(start_paused = true)]
async fn fresh_real_traffic_saves_the_routes_generation_probes() {
    // Routes of the real CLI's log fixture: healthy/gpt-ok served requests there.
    let plan = plan_of(
        vec![
            target("healthy", "gpt-ok", "sk-h"),
            target("ratelimited", "gpt-rl", "sk-r"),
        ],
        1,
    );
    let traffic = crate::traffic::Traffic::new(&plan, Duration::from_secs(900));
    let last = traffic.update(|s| {
        for l in crate::traffic::test_support::fixture_log("2026.9.6").lines() {
            if let Some(e) = crate::traffic::event::parse_line(l.as_bytes()).unwrap() {
                s.apply(&e, SystemTime::UNIX_EPOCH);
            }
        }
        s.last_event().unwrap()
    });
    let fake = Fake::new(Duration::from_millis(10));
    let (sched, _) = scheduler(quick_settings(), BudgetSettings::default(), &fake);
    sched.set_wall_clock(last + Duration::from_secs(60));
    sched.set_plan(plan.clone());
    sched.set_traffic(Some(traffic));
    for kind in [CycleKind::ModelGeneration, CycleKind::CredentialGeneration] {
        sched.run_cycle(kind, Duration::from_secs(60)).await;
    }
    let sent: Vec<(String, Tier)> = fake
        .calls()
        .iter()
        .map(|c| (plan.target(c.target).model.clone(), c.tier))
        .collect();
    assert_eq!(
        sent,
        vec![
            ("gpt-rl".to_string(), Tier::Generation),
            ("gpt-rl".to_string(), Tier::Generation)
        ],
        "only the route without fresh traffic was probed"
    );
    assert_eq!(sched.skipped_total(SkipReason::TrafficFresh), 2);
    // On demand, a person asked: sent.
    assert!(sched.probe_now(0, Tier::Generation).await.is_ok());
    assert_eq!(fake.calls().len(), 3);
    // Hours later the success is old news: the model cycle probes it again.
    sleep(Duration::from_secs(7 * 3600)).await;
    sched
        .run_cycle(CycleKind::ModelGeneration, Duration::from_secs(60))
        .await;
    assert!(fake
        .calls()
        .iter()
        .skip(3)
        .any(|c| c.target == 0 && c.tier == Tier::Generation));
}

/// A provider for the 24-hour verdict simulation: metadata requests always succeed (the
/// keys are valid, the models exist); generation requests fail the way each account
/// fails (billing on the OpenAI key, a rate limit with `retry-after: 30` on Gemini, an
/// overload on Anthropic) until `heal` is called. Times follow the paused clock.
struct Accounts {
    t0: Instant,
    wall0: SystemTime,
    healthy: std::sync::atomic::AtomicBool,
    /// (when, target, tier, class)
    calls: Mutex<Vec<(Instant, TargetId, Tier, Class)>>,
}

impl Accounts {
    fn heal(&self) {
        self.healthy.store(true, Ordering::SeqCst);
    }
}

impl Executor for Accounts {
    fn execute<'a>(
        &'a self,
        target: &'a Target,
        tier: Tier,
    ) -> Pin<Box<dyn Future<Output = ProbeResult> + Send + 'a>> {
        Box::pin(async move {
            sleep(Duration::from_millis(300)).await;
            let failing = tier == Tier::Generation && !self.healthy.load(Ordering::SeqCst);
            let (class, retry_after) = match (failing, target.provider.as_str()) {
                (true, "openai") => (Class::Billing, None),
                (true, "google") => (Class::RateLimit, Some(Duration::from_secs(30))),
                (true, "anthropic") => (Class::Overloaded, None),
                _ => (Class::Ok, None),
            };
            let now = Instant::now();
            self.calls
                .lock()
                .unwrap()
                .push((now, target.id, tier, class));
            ProbeResult {
                rate_limits: RateLimitInfo {
                    retry_after,
                    ..RateLimitInfo::default()
                },
                usage: (tier == Tier::Generation && class == Class::Ok).then_some(Usage {
                    input_tokens: GEN_INPUT,
                    output_tokens: GEN_OUTPUT,
                }),
                at: self.wall0 + (now - self.t0),
                ..ProbeResult::new(target.id, tier, class, class.as_str())
            }
        })
    }
}

/// Issue 12's day: a billing key behind three models, a rate-limited model (retry-after
/// 30 s), an overloaded one and two healthy ones, metadata every 5 minutes, the default
/// budget. The published verdict is right from the first credential probe on and never
/// flips while nothing changes; the rate-limited route is never re-checked before its
/// retry-after; when the provider heals at 20 h every route is up again within one
/// re-check; nothing is spent past a cap.
#[tokio::test(start_paused = true)]
async fn a_day_of_verdicts_billing_rate_limit_overload_then_healed() {
    let plan = plan_of(
        vec![
            target("openai", "gpt-5-mini", "sk-billing"),
            target("openai", "gpt-5-nano", "sk-billing"),
            target("openai", "gpt-4.1", "sk-billing"),
            target("google", "gemini-2.5-flash", "sk-gemini"),
            target("anthropic", "claude-haiku-4-5", "sk-anthropic"),
            target("mistral", "mistral-small", "sk-mistral"),
            target("xai", "grok-3-mini", "sk-xai"),
        ],
        1,
    );
    let want_failing = [
        (0, Class::Billing),
        (1, Class::Billing),
        (2, Class::Billing),
        (3, Class::RateLimit),
        (4, Class::Overloaded),
        (5, Class::Ok),
        (6, Class::Ok),
    ];
    let t0 = Instant::now();
    let accounts = Arc::new(Accounts {
        t0,
        wall0: midnight(),
        healthy: Default::default(),
        calls: Mutex::new(Vec::new()),
    });
    let settings = ScheduleSettings::default();
    let budget = BudgetSettings::default();
    let store = Arc::new(Store::new());
    let metrics = Arc::new(Metrics::new());
    let sched = Scheduler::new(
        settings.clone(),
        budget.clone(),
        accounts.clone(),
        store.clone(),
        metrics.clone(),
    );
    sched.set_wall_clock(midnight());
    sched.set_plan(plan.clone());
    let day = Duration::from_secs(24 * 3600);
    let heal_at = Duration::from_secs(20 * 3600);
    let driver = {
        let (sched, settings) = (sched.clone(), settings.clone());
        tokio::spawn(async move { drive(&sched, &settings, day).await })
    };

    // Sample every verdict once a minute.
    type Sample = Vec<Option<(Class, crate::verdict::Source)>>;
    let verdicts = |now: SystemTime| -> Sample {
        let view = store.read();
        let statuses: Vec<_> = (0..plan.targets.len())
            .map(|id| view.get(plan.key(id)))
            .collect();
        let v = crate::verdict::compute(
            &plan,
            &|t| statuses[t].map(|s| s.evidence()).unwrap_or_default(),
            None,
            &metrics.cadence(),
            now,
        );
        v.entries
            .iter()
            .map(|e| e[0].verdict.map(|v| (v.class, v.source)))
            .collect()
    };
    let mut history: Vec<(Duration, Sample)> = Vec::new();
    let mut healed = false;
    while t0.elapsed() < day - Duration::from_secs(60) {
        sleep(Duration::from_secs(60)).await;
        if !healed && t0.elapsed() >= heal_at {
            accounts.heal();
            healed = true;
        }
        history.push((t0.elapsed(), verdicts(sched.wall_now())));
    }
    driver.await.unwrap();

    // From the first minute to the heal: every route has its class, and not one changes.
    let before: Vec<_> = history.iter().filter(|(at, _)| *at < heal_at).collect();
    for (at, v) in &before {
        for &(id, class) in &want_failing {
            assert_eq!(
                v[id].map(|(c, _)| c),
                Some(class),
                "{} at {at:?}: {:?}",
                plan.target(id).model,
                v[id]
            );
        }
    }
    // Billing reached the two models no probe of their own ever saw fail.
    let credential_routes = before
        .iter()
        .filter(|(_, v)| v[1].map(|(_, s)| s) == Some(crate::verdict::Source::Credential))
        .count();
    assert!(
        credential_routes > 0,
        "billing never came through the credential"
    );

    // Never before retry-after: no request on the Gemini key within 30 s of a 429 answer.
    let calls = accounts.calls.lock().unwrap().clone();
    let gemini: Vec<_> = calls.iter().filter(|c| c.1 == 3).collect();
    for w in gemini.windows(2) {
        if w[0].3 == Class::RateLimit {
            assert!(
                w[1].0 - w[0].0 >= Duration::from_secs(30),
                "re-sent {:?} after a 429 with retry-after 30 s",
                w[1].0 - w[0].0
            );
        }
    }
    let gemini_gen = gemini.iter().filter(|c| c.2 == Tier::Generation).count();
    assert!(gemini_gen >= 20, "re-checked by generation: {gemini_gen}");

    // Healed at 20 h: every route up within one re-check (the credential probes are
    // hourly; re-checks back off to at most an hour), and stays up.
    let after: Vec<_> = history.iter().filter(|(at, _)| *at >= heal_at).collect();
    for &(id, _) in &want_failing {
        let up_at = after
            .iter()
            .find(|(_, v)| v[id].map(|(c, _)| c) == Some(Class::Ok))
            .map(|(at, _)| *at)
            .unwrap_or_else(|| panic!("{} never up again", plan.target(id).model));
        assert!(
            up_at - heal_at <= Duration::from_secs(3600 + 120),
            "{} up {:?} after the heal",
            plan.target(id).model,
            up_at - heal_at
        );
        assert!(
            after
                .iter()
                .filter(|(at, _)| *at >= up_at)
                .all(|(_, v)| v[id].map(|(c, _)| c) == Some(Class::Ok)),
            "{} flipped after it was up",
            plan.target(id).model
        );
    }

    // Within every cap, from the books and from what was sent.
    for id in 0..plan.targets.len() {
        let key = plan.key(id);
        let model = sched.budget_used_in(Scope::Model(key)).tokens;
        assert!(
            model <= budget.model_tokens_per_day,
            "{}: {model}",
            plan.target(id).model
        );
        let cred = sched
            .budget_used_in(Scope::Credential(plan.credential_key(id)))
            .tokens;
        assert!(
            cred <= budget.credential_tokens_per_day,
            "{}: {cred}",
            plan.target(id).model
        );
    }
    let generation = calls.iter().filter(|c| c.2 == Tier::Generation).count();
    let tokens: u64 = calls
        .iter()
        .filter(|c| c.2 == Tier::Generation && c.3 == Class::Ok)
        .count() as u64
        * (GEN_INPUT + GEN_OUTPUT);
    assert!(tokens <= budget.global_tokens_per_day);
    println!(
        "a day of verdicts: {} samples, {generation} generation requests ({} to the rate-limited model), {tokens} tokens reported, {} skipped for budget",
        history.len(),
        gemini_gen,
        sched.skipped_total(SkipReason::Budget)
    );
}

/// A target a reload adds while the schedule runs (a key pasted into a store, an install
/// that appeared after the sidecar started) is probed at once — its credential's metadata
/// and first generation probe — not at the next cycle an hour away. Targets the old plan
/// already had are not probed again.
#[tokio::test]
async fn a_reload_probes_what_it_added_at_once() {
    let settings = ScheduleSettings {
        metadata: "0 0 0 1 1 *".into(),
        credential_generation: "0 7 * * * *".into(),
        model_generation: String::new(),
        min_key_spacing_seconds: 0.0,
        ..quick_settings()
    };
    let first = vec![target("openai", "gpt-mini", "k")];
    let mut more = first.clone();
    more.push(target("anthropic", "claude-haiku", "k2"));
    let (at_start, new) = probes_around_a_reload(settings, first, more).await;
    assert_eq!(
        at_start, 2,
        "start-up: metadata and the credential's generation probe"
    );
    assert_eq!(
        new,
        vec![
            ("claude-haiku".to_string(), Tier::Metadata),
            ("claude-haiku".to_string(), Tier::Generation)
        ]
    );
}

/// Runs the schedule (real clock) on `first`, then reloads to `more`: the number of probes
/// sent at start-up, and the (model, tier) of those sent after the reload, sorted.
async fn probes_around_a_reload(
    settings: ScheduleSettings,
    first: Vec<Target>,
    more: Vec<Target>,
) -> (usize, Vec<(String, Tier)>) {
    let fake = Fake::new(Duration::from_millis(10));
    let (sched, _) = scheduler(settings, BudgetSettings::default(), &fake);
    sched.set_plan(plan_of(first, 1));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(sched.clone().run(rx));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let at_start = fake.calls().len();
    let plan = plan_of(more, 1);
    sched.set_plan(plan.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut new: Vec<(String, Tier)> = fake.calls()[at_start..]
        .iter()
        .map(|c| (plan.target(c.target).model.clone(), c.tier))
        .collect();
    tx.send(true).unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    new.sort();
    (at_start, new)
}

/// A cycle keeps one credential busy (20 targets at 1 s spacing, each slot reserved ahead);
/// a `/probe` on that credential goes out at the next start, not after the cycle. Before,
/// the cycle's reserved slots won every start and the on-demand probe waited ~18 s, longer
/// than a client waits (CI saw a `/probe` time out this way).
#[tokio::test(start_paused = true)]
async fn an_on_demand_probe_goes_ahead_of_a_busy_cycle() {
    let targets = (0..20)
        .map(|i| target("openai", &format!("m{i}"), "one-key"))
        .collect();
    let plan = plan_of(targets, 1);
    let key = plan.credential_key(0).clone();
    let fake = Fake::new(Duration::ZERO);
    let settings = ScheduleSettings {
        min_key_spacing_seconds: 1.0,
        ..quick_settings()
    };
    let (sched, _) = scheduler(settings, BudgetSettings::default(), &fake);
    sched.set_plan(plan);
    let t0 = Instant::now();
    let cycle = {
        let sched = sched.clone();
        tokio::spawn(async move {
            sched
                .run_cycle(CycleKind::Metadata, Duration::from_secs(60))
                .await
        })
    };
    sleep(Duration::from_millis(2300)).await;
    let asked = Instant::now();
    let on_demand = {
        let sched = sched.clone();
        tokio::spawn(async move { sched.probe_now(5, Tier::Metadata).await })
    };
    // Waiting for the spacing, it has claimed the next start (cycle probes go after it).
    sleep(Duration::from_millis(100)).await;
    assert_eq!(
        sched.claim(&key),
        Some(t0 + Duration::from_secs(3)),
        "the on-demand probe claims the next start"
    );
    let r = on_demand.await.unwrap().unwrap();
    assert_eq!(r.class, Class::Ok);
    assert_eq!(Instant::now() - asked, Duration::from_millis(700));
    assert_eq!(sched.claim(&key), None, "given up once it started");
    cycle.await.unwrap();
    // The cycle went after it, still spaced: 21 requests, none closer than 1 s.
    let mut at: Vec<Instant> = fake.calls().iter().map(|c| c.at).collect();
    at.sort();
    assert_eq!(at.len(), 21);
    assert!(at.windows(2).all(|w| w[1] - w[0] >= Duration::from_secs(1)));
    assert!(Instant::now() - t0 >= Duration::from_secs(20));
}

/// At start-up a primary that is not its key's cheapest gets a generation probe of its own
/// within the start-up spread (a limit or overload of that one model shows only there), a
/// fallback does not, and the cap per credential takes the primaries most agents use.
#[tokio::test(start_paused = true)]
async fn startup_probes_the_primaries_the_credential_probe_does_not_cover() {
    let targets = vec![
        target("openai", "gpt-mini", "k"),   // 1 agent: the key's cheapest
        target("openai", "gpt-big", "k"),    // 2 agents
        target("openai", "gpt-solo", "k"),   // 1 agent
        target("openai", "gpt-backup", "k"), // fallback only (added below)
    ];
    let agents = [1, 2, 1, 0];
    let mut plan = ProbePlan::default();
    let mut ids = Vec::new();
    for t in targets {
        ids.push(plan.intern_target(t));
    }
    for (i, &n) in agents.iter().enumerate() {
        for a in 0..n {
            let t = plan.target(ids[i]).clone();
            let entry = |position, role, t: &Target, id| ChainEntry {
                position,
                role,
                raw_ref: t.model_ref(),
                provider: Some(t.provider.clone()),
                model: Some(t.model.clone()),
                api: Some(t.api.clone()),
                target: Some(id),
                finding: None,
                credential_label: None,
                rotation: Vec::new(),
            };
            let backup = plan.target(ids[3]).clone();
            plan.agents.push(AgentChain {
                agent: format!("agent-{i}-{a}"),
                entries: vec![
                    entry(0, Role::Primary, &t, ids[i]),
                    entry(1, Role::Fallback, &backup, ids[3]),
                ],
            });
        }
    }
    let plan = Arc::new(plan);
    let fake = Fake::new(Duration::ZERO);
    // Its metadata probe passes; a generation request sees the overload.
    fake.script("gpt-big", &[(Class::Ok, None), (Class::Overloaded, None)]);
    let settings = ScheduleSettings {
        startup_primaries_per_credential: 1,
        ..quick_settings()
    };
    let (sched, store) = scheduler(settings, BudgetSettings::default(), &fake);
    sched.set_plan(plan.clone());
    let t0 = Instant::now();
    assert!(sched.spawn_startup_cycle());
    sleep(Duration::from_secs(40)).await;
    let generation: Vec<&str> = fake
        .calls()
        .iter()
        .filter(|c| c.tier == Tier::Generation && c.at - t0 <= Duration::from_secs(31))
        .map(|c| plan.target(c.target).model.as_str())
        .collect();
    let mut sorted = generation.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["gpt-big", "gpt-mini"],
        "the cheapest via the credential probe, the most-used other primary on its own"
    );
    // Its overload shows on the route within the start-up spread, not at the 6-hourly tick.
    let big = store.get(plan.key(ids[1])).unwrap();
    assert_eq!(
        big.last_by_tier.get(&Tier::Generation).map(|r| r.class),
        Some(Class::Overloaded)
    );
    // With 0 per credential, no start-up model probes.
    let fake = Fake::new(Duration::ZERO);
    let settings = ScheduleSettings {
        startup_primaries_per_credential: 0,
        ..quick_settings()
    };
    let (sched, _) = scheduler(settings, BudgetSettings::default(), &fake);
    sched.set_plan(plan.clone());
    let t0 = Instant::now();
    sched.spawn_startup_cycle();
    sleep(Duration::from_secs(40)).await;
    let generation: Vec<String> = fake
        .calls()
        .iter()
        .filter(|c| c.tier == Tier::Generation && c.at - t0 <= Duration::from_secs(31))
        .map(|c| plan.target(c.target).model.clone())
        .collect();
    assert_eq!(generation, ["gpt-mini"]);
}

/// An install that appears after the sidecar started arrives whole through a reload: its
/// agents' primaries get their generation probe then, as they would have at start-up — a
/// new primary on a known key on its own, a new key's cheapest through the credential's
/// first generation probe.
#[tokio::test]
async fn a_reload_confirms_new_primaries_by_generation() {
    let settings = ScheduleSettings {
        metadata: "0 0 0 1 1 *".into(),
        credential_generation: "0 7 * * * *".into(),
        model_generation: "0 17 */6 * * *".into(),
        min_key_spacing_seconds: 0.0,
        ..quick_settings()
    };
    let first = vec![target("openai", "gpt-mini", "k")];
    let mut more = first.clone();
    more.push(target("openai", "gpt-big", "k"));
    more.push(target("anthropic", "claude-haiku", "k2"));
    let (at_start, new) = probes_around_a_reload(settings, first, more).await;
    assert_eq!(
        at_start, 2,
        "metadata and the credential's generation probe"
    );
    let want: Vec<(String, Tier)> = [
        ("claude-haiku", Tier::Metadata),
        ("claude-haiku", Tier::Generation),
        ("gpt-big", Tier::Metadata),
        ("gpt-big", Tier::Generation),
    ]
    .into_iter()
    .map(|(m, t)| (m.to_string(), t))
    .collect();
    assert_eq!(new, want);
}
