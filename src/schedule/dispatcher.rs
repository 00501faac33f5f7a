//! The scheduler: cycle triggers and the dispatcher. See the module docs of
//! [`crate::schedule`] for the design.

use super::backoff::{backoff_delay, CredentialGate};
use super::budget::{Amount, Budget, Headroom, ProbeCost, Scope};
use super::{spread, CycleKind};
use crate::class::{Class, SkipReason};
use crate::config::{BudgetSettings, ScheduleSettings};
use crate::cron;
use crate::metrics::{BudgetRemaining, Metrics};
use crate::plan::{ProbePlan, Target, TargetId};
use crate::probe::cost::probe_tokens;
use crate::probe::{has_metadata_endpoint, Executor, ProbeResult, Tier};
use crate::ratelimit::RateLimitInfo;
use crate::state::Store;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};
use tokio::sync::{watch, Semaphore};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::{sleep_until, Instant};

/// The first metadata cycle after start is spread over at most this long, so the first
/// picture is complete soon while the probes still do not go out in one burst. Each
/// credential's first probe goes out at once (see [`Scheduler::readiness`]); the spacing
/// between requests on one credential still applies to the rest.
const STARTUP_SPREAD: Duration = Duration::from_secs(30);

/// Extra time over `probe_timeout_seconds` before the scheduler gives up on a prober that
/// did not return (the prober enforces the timeout itself; this is a backstop).
const TIMEOUT_GRACE: Duration = Duration::from_secs(5);

/// Mutable dispatch state behind one lock: budget, per-credential gates, failure streaks.
#[derive(Debug)]
struct State {
    budget: Budget,
    /// Keyed by `Target::credential_key`.
    gates: HashMap<String, CredentialGate>,
    /// Consecutive failures per `Target::key`, for the early-recheck delay.
    failures: HashMap<String, u32>,
    /// Targets whose metadata probe spent tokens although their provider is known to have
    /// a metadata endpoint (a safety net: [`PlanIndex::no_metadata`] covers the known
    /// cases up front): their metadata probes are budgeted from then on.
    metadata_spends: HashSet<String>,
}

/// A plan with its targets' keys computed once: a key hashes the credential, and the
/// dispatcher needs them for every probe.
struct PlanIndex {
    plan: Arc<ProbePlan>,
    /// `Target::key` by target id.
    keys: Vec<String>,
    /// `Target::credential_key` by target id.
    cred_keys: Vec<String>,
    key_set: HashSet<String>,
    /// By target id: a probeable target with no zero-token metadata endpoint
    /// ([`has_metadata_endpoint`] is false), so its metadata probe is a generation call.
    /// Known from the provider up front, not learned from a first probe.
    no_metadata: Vec<bool>,
    /// Credential keys that readiness waits for: those of probeable targets that have a
    /// credential (targets without one, or of an unprobeable style, are not waited for).
    /// Used with `metadata_generation_fallback`, when every probeable target is in the
    /// metadata cycle.
    ready_creds: HashSet<String>,
    /// The same, counting only targets the metadata cycle probes by default (leaving out
    /// `no_metadata` ones): a credential whose only targets are left out gets no startup
    /// probe, so readiness must not wait for it.
    ready_creds_metadata: HashSet<String>,
    /// Whether the "left out of the metadata cycle" line was logged for this plan.
    left_out_logged: AtomicBool,
    /// Each target's stable position within a cycle, per cycle kind (by `CycleKind` index).
    jitter: [Vec<f64>; 3],
}

impl PlanIndex {
    fn new(plan: Arc<ProbePlan>) -> Arc<PlanIndex> {
        let keys: Vec<String> = (0..plan.targets.len())
            .map(|id| plan.key(id).to_string())
            .collect();
        let cred_keys: Vec<String> = (0..plan.targets.len())
            .map(|id| plan.credential_key(id).to_string())
            .collect();
        let key_set = keys.iter().cloned().collect();
        let no_metadata: Vec<bool> = plan
            .targets
            .iter()
            .map(|t| t.api.is_probeable() && !has_metadata_endpoint(t))
            .collect();
        let waited = |all: bool| -> HashSet<String> {
            plan.targets
                .iter()
                .zip(&cred_keys)
                .zip(&no_metadata)
                .filter(|((t, _), &left_out)| {
                    t.api.is_probeable() && t.credential.is_some() && (all || !left_out)
                })
                .map(|((_, k), _)| k.clone())
                .collect()
        };
        let ready_creds = waited(true);
        let ready_creds_metadata = waited(false);
        let jitter = CycleKind::ALL.map(|k| {
            keys.iter()
                .map(|key| spread::jitter_fraction(key, k.as_str()))
                .collect()
        });
        Arc::new(PlanIndex {
            plan,
            keys,
            cred_keys,
            key_set,
            no_metadata,
            ready_creds,
            ready_creds_metadata,
            left_out_logged: AtomicBool::new(false),
            jitter,
        })
    }

    /// Whether the regular metadata cycle probes target `id`: every target with a
    /// zero-token metadata endpoint (and unprobeable ones, recorded as skipped); the others
    /// only with `metadata_generation_fallback`.
    fn in_metadata_cycle(&self, id: TargetId, fallback: bool) -> bool {
        fallback || !self.no_metadata[id]
    }

    /// The credentials readiness waits for under the current `metadata_generation_fallback`.
    fn ready_creds(&self, fallback: bool) -> &HashSet<String> {
        if fallback {
            &self.ready_creds
        } else {
            &self.ready_creds_metadata
        }
    }
}

/// The next regular metadata tick and the interval after it, for `next_probe_at`.
type Regular = Option<(SystemTime, Duration)>;

/// Whether the exporter has a first picture, and what it still waits for. `/readyz` uses
/// [`Readiness::ready`]; [`Readiness::describe`] is the text for a not-ready answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// The plan is loaded and every credential's first probe finished (any result,
    /// errors included), or the whole first metadata cycle finished. Once true it stays
    /// true: a reload that adds credentials does not take a serving exporter out of
    /// rotation.
    pub ready: bool,
    /// A plan was set.
    pub plan_loaded: bool,
    /// The first metadata cycle finished.
    pub first_cycle_done: bool,
    /// Credentials waited for in the current plan (see `ready_creds`).
    pub credentials: usize,
    /// Of those, how many had their first probe finish.
    pub credentials_probed: usize,
}

impl Readiness {
    /// One line for `/readyz` and logs: `ready`, or what is still missing.
    pub fn describe(&self) -> String {
        if self.ready {
            "ready".into()
        } else if !self.plan_loaded {
            "not ready: the probe plan is not loaded yet".into()
        } else {
            format!(
                "not ready: waiting for the first probe of {} of {} credentials",
                self.credentials.saturating_sub(self.credentials_probed),
                self.credentials
            )
        }
    }
}

/// Plans probe cycles and dispatches probes within budget. Create with [`Scheduler::new`].
pub struct Scheduler {
    /// Itself, for tasks spawned from `&self` methods (rechecks).
    me: Weak<Scheduler>,
    executor: Arc<dyn Executor>,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    plan: RwLock<Arc<PlanIndex>>,
    settings: RwLock<ScheduleSettings>,
    /// Bumped when a cron expression changes, so `run` rebuilds its cron jobs.
    cron_version: watch::Sender<u64>,
    state: Mutex<State>,
    semaphore: Mutex<(usize, Arc<Semaphore>)>,
    running: [AtomicBool; 3],
    first_cycle_done: AtomicBool,
    plan_loaded: AtomicBool,
    /// Credential keys whose first probe finished (any tier, any result).
    first_probed: Mutex<HashSet<String>>,
    /// Latched readiness (see [`Readiness::ready`]).
    ready: AtomicBool,
    /// When the scheduler was created, for the time-to-ready log line.
    created: Instant,
    /// Pending one-off rechecks by `Target::key`.
    rechecks: Mutex<HashMap<String, AbortHandle>>,
    /// Spawned cycles by kind, aborted at shutdown.
    cycles: Mutex<HashMap<CycleKind, AbortHandle>>,
    /// Wall clock = anchor wall time + monotonic time since the anchor instant. Keeps the
    /// wall clock consistent with `tokio::time` (and so with a paused test clock).
    wall_anchor: Mutex<(Instant, SystemTime)>,
    skips: Mutex<BTreeMap<(String, SkipReason), u64>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("targets", &self.plan().targets.len())
            .field("first_cycle_done", &self.first_cycle_done())
            .field("ready", &self.ready.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

/// Resets the "cycle of this kind is running" flag when the cycle ends or is aborted.
struct CycleGuard {
    sched: Weak<Scheduler>,
    kind: CycleKind,
}

impl Drop for CycleGuard {
    fn drop(&mut self) {
        if let Some(s) = self.sched.upgrade() {
            s.running[self.kind.index()].store(false, Ordering::SeqCst);
        }
    }
}

/// What one cycle did, for the log line at its end.
#[derive(Debug, Default)]
struct CycleTally {
    sent: usize,
    not_probeable: usize,
    skipped: BTreeMap<SkipReason, usize>,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() && s > 0.0 { s } else { 0.0 })
}

fn gate_sent(st: &mut State, ckey: &str, now: Instant) {
    if let Some(g) = st.gates.get_mut(ckey) {
        g.last_sent = Some(now);
    }
}

/// Among `ids`, the probeable target of each credential that comes first in the cycle
/// (smallest jitter): the startup cycle sends these at once.
fn first_per_credential(idx: &PlanIndex, ids: &[TargetId], kind: CycleKind) -> HashSet<TargetId> {
    let mut first: HashMap<&str, TargetId> = HashMap::new();
    let jitter = &idx.jitter[kind.index()];
    for &id in ids {
        if !idx.plan.target(id).api.is_probeable() {
            continue;
        }
        first
            .entry(idx.cred_keys[id].as_str())
            .and_modify(|cur| {
                if (jitter[id], id) < (jitter[*cur], *cur) {
                    *cur = id;
                }
            })
            .or_insert(id);
    }
    first.into_values().collect()
}

/// What to say when `n` targets on one credential at `spacing` do not fit a cycle of
/// `interval`: `None` when they fit the spread window (`interval × spread_fraction`);
/// `(false, text)` when they only run late in the cycle; `(true, text)` when the cycle
/// overruns the interval, so the next ticks are skipped. The text gives the numbers and
/// the fix.
fn spacing_advice(
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

fn total_tokens(r: &ProbeResult) -> Option<u64> {
    r.usage
        .map(|u| u.input_tokens.saturating_add(u.output_tokens))
}

impl Scheduler {
    pub fn new(
        settings: ScheduleSettings,
        budget: BudgetSettings,
        executor: Arc<dyn Executor>,
        store: Arc<Store>,
        metrics: Arc<Metrics>,
    ) -> Arc<Scheduler> {
        let now = Instant::now();
        let concurrency = settings.concurrency.max(1);
        Arc::new_cyclic(|me| Scheduler {
            me: me.clone(),
            executor,
            store,
            metrics,
            plan: RwLock::new(PlanIndex::new(Arc::new(ProbePlan::default()))),
            settings: RwLock::new(settings),
            cron_version: watch::Sender::new(0),
            state: Mutex::new(State {
                budget: Budget::new(budget, now),
                gates: HashMap::new(),
                failures: HashMap::new(),
                metadata_spends: HashSet::new(),
            }),
            semaphore: Mutex::new((concurrency, Arc::new(Semaphore::new(concurrency)))),
            running: Default::default(),
            first_cycle_done: AtomicBool::new(false),
            plan_loaded: AtomicBool::new(false),
            first_probed: Mutex::new(HashSet::new()),
            ready: AtomicBool::new(false),
            created: now,
            rechecks: Mutex::new(HashMap::new()),
            cycles: Mutex::new(HashMap::new()),
            wall_anchor: Mutex::new((now, SystemTime::now())),
            skips: Mutex::new(BTreeMap::new()),
        })
    }

    /// Swap in a new plan (on reload). Budget, backoff and counters survive (keyed by
    /// `Target::key` / `credential_key` / provider); status of targets that left is dropped.
    pub fn set_plan(&self, plan: Arc<ProbePlan>) {
        let index = PlanIndex::new(plan);
        let keys = &index.key_set;
        self.store.retain_plan(&index.plan);
        {
            let mut rechecks = self.rechecks.lock().expect("rechecks lock");
            rechecks.retain(|k, h| {
                let keep = keys.contains(k);
                if !keep {
                    h.abort();
                }
                keep
            });
        }
        {
            let mut st = self.state.lock().expect("state lock");
            st.failures.retain(|k, _| keys.contains(k));
            st.metadata_spends.retain(|k| keys.contains(k));
            st.budget.retain_targets(keys);
        }
        *self.plan.write().expect("plan lock") = index;
        self.plan_loaded.store(true, Ordering::SeqCst);
        self.update_ready();
    }

    pub fn plan(&self) -> Arc<ProbePlan> {
        self.index().plan.clone()
    }

    fn index(&self) -> Arc<PlanIndex> {
        self.plan.read().expect("plan lock").clone()
    }

    /// Replace schedule/budget settings on reload. Spend in the current budget window still
    /// counts against the new caps. A new concurrency limit applies to probes that start
    /// after the change.
    pub fn set_settings(&self, settings: ScheduleSettings, budget: BudgetSettings) {
        let concurrency = settings.concurrency.max(1);
        {
            let mut sem = self.semaphore.lock().expect("semaphore lock");
            if sem.0 != concurrency {
                *sem = (concurrency, Arc::new(Semaphore::new(concurrency)));
            }
        }
        self.state
            .lock()
            .expect("state lock")
            .budget
            .set_settings(budget);
        let crons_changed = {
            let mut cur = self.settings.write().expect("settings lock");
            let changed = CycleKind::ALL
                .iter()
                .any(|k| k.cron(&cur) != k.cron(&settings));
            *cur = settings;
            changed
        };
        if crons_changed {
            self.cron_version.send_modify(|v| *v += 1);
        }
    }

    fn settings(&self) -> ScheduleSettings {
        self.settings.read().expect("settings lock").clone()
    }

    /// Pins the wall clock: from now on it reads `now` plus the `tokio::time` elapsed since
    /// this call. Simulations use it to line cron schedules up with a paused clock.
    pub fn set_wall_clock(&self, now: SystemTime) {
        *self.wall_anchor.lock().expect("anchor lock") = (Instant::now(), now);
    }

    /// The wall clock as the scheduler sees it (see [`Scheduler::set_wall_clock`]).
    pub fn wall_now(&self) -> SystemTime {
        self.wall_at(Instant::now())
    }

    fn wall_at(&self, at: Instant) -> SystemTime {
        let (i, w) = *self.wall_anchor.lock().expect("anchor lock");
        w + at.saturating_duration_since(i)
    }

    /// The time from now to the next tick of `kind`'s cron, or its default interval.
    pub fn interval_for(&self, kind: CycleKind) -> Duration {
        let settings = self.settings.read().expect("settings lock");
        cron::until_next_tick(kind.cron(&settings), self.wall_now())
            .filter(|d| !d.is_zero())
            .unwrap_or_else(|| kind.default_interval())
    }

    /// True once the first cycle finished.
    pub fn first_cycle_done(&self) -> bool {
        self.first_cycle_done.load(Ordering::SeqCst)
    }

    /// Readiness for `/readyz`: plan loaded and every credential's first probe finished,
    /// or the first cycle done. (`serve` adds `first_cycle_timeout_seconds` as the bound.)
    pub fn readiness(&self) -> Readiness {
        self.update_ready()
    }

    /// Computes readiness and latches it; logs the moment it turns true.
    fn update_ready(&self) -> Readiness {
        let idx = self.index();
        let plan_loaded = self.plan_loaded.load(Ordering::SeqCst);
        let first_cycle_done = self.first_cycle_done();
        let fallback = self
            .settings
            .read()
            .expect("settings lock")
            .metadata_generation_fallback;
        let waited = idx.ready_creds(fallback);
        let credentials_probed = {
            let probed = self.first_probed.lock().expect("first_probed lock");
            waited.iter().filter(|k| probed.contains(*k)).count()
        };
        let credentials = waited.len();
        let now_ready = plan_loaded && (first_cycle_done || credentials_probed >= credentials);
        let was = if now_ready {
            self.ready.swap(true, Ordering::SeqCst)
        } else {
            self.ready.load(Ordering::SeqCst)
        };
        if now_ready && !was {
            tracing::info!(
                credentials,
                targets = idx.plan.targets.len(),
                first_cycle_done,
                elapsed_ms = self.created.elapsed().as_millis() as u64,
                "ready: every credential has had its first probe"
            );
        }
        Readiness {
            ready: now_ready || was,
            plan_loaded,
            first_cycle_done,
            credentials,
            credentials_probed,
        }
    }

    /// Notes that a probe on credential `ckey` finished; readiness may turn true.
    fn note_probed(&self, ckey: &str) {
        let new = {
            let mut probed = self.first_probed.lock().expect("first_probed lock");
            !probed.contains(ckey) && probed.insert(ckey.to_string())
        };
        if new && !self.ready.load(Ordering::SeqCst) {
            self.update_ready();
        }
    }

    /// Generation tokens spent (and reserved) in the current budget window against the
    /// per-model or per-credential cap of `scope` (see [`budget::Scope`](super::budget::Scope)).
    pub fn budget_used_in(&self, scope: Scope<'_>) -> Amount {
        self.state
            .lock()
            .expect("state lock")
            .budget
            .used_scope(scope, Instant::now())
    }

    /// Remaining budget for `clawprobe_budget_remaining`: `_global` and every provider of
    /// the plan (plus overridden or spending ones).
    pub fn budget_remaining(&self) -> Vec<BudgetRemaining> {
        let plan = self.plan();
        let providers: BTreeSet<&str> = plan.targets.iter().map(|t| t.provider.as_str()).collect();
        self.state
            .lock()
            .expect("state lock")
            .budget
            .remaining(providers, Instant::now())
    }

    /// Generation requests and tokens spent in the current budget window, by `provider`
    /// or globally (`None`).
    pub fn budget_used(&self, provider: Option<&str>) -> Amount {
        let mut st = self.state.lock().expect("state lock");
        let now = Instant::now();
        match provider {
            Some(p) => st.budget.used(p, now),
            None => st.budget.used_global(now),
        }
    }

    /// Probes not sent so far, by (provider, reason). Mirrors the
    /// `clawprobe_probes_skipped_total` counter.
    pub fn skipped(&self) -> BTreeMap<(String, SkipReason), u64> {
        self.skips.lock().expect("skips lock").clone()
    }

    /// Total skips for `reason` over all providers.
    pub fn skipped_total(&self, reason: SkipReason) -> u64 {
        self.skipped()
            .iter()
            .filter(|((_, r), _)| *r == reason)
            .map(|(_, n)| n)
            .sum()
    }

    /// Consecutive rate_limit/overloaded results of a credential (0 = not backing off).
    pub fn backoff_level(&self, credential_key: &str) -> u32 {
        self.state
            .lock()
            .expect("state lock")
            .gates
            .get(credential_key)
            .map_or(0, |g| g.backoff_level)
    }

    /// Whether a one-off recheck of the target with this `Target::key` is pending.
    pub fn recheck_pending(&self, target_key: &str) -> bool {
        self.rechecks
            .lock()
            .expect("rechecks lock")
            .get(target_key)
            .is_some_and(|h| !h.is_finished())
    }

    /// Start the cron triggers and run until `shutdown` turns true (or its sender is
    /// dropped). Runs one metadata cycle immediately at start.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        if *shutdown.borrow() {
            return;
        }
        self.spawn_startup_cycle();
        let mut cron_rx = self.cron_version.subscribe();
        loop {
            cron_rx.borrow_and_update();
            let mut jobs = match self.start_cron().await {
                Ok(j) => Some(j),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the cron triggers; only the startup cycle and on-demand probes run");
                    None
                }
            };
            let stop = tokio::select! {
                r = shutdown.wait_for(|v| *v) => { let _ = r; true }
                r = cron_rx.changed() => r.is_err(),
            };
            if let Some((j, active)) = jobs.as_mut() {
                // A tick already in flight inside tokio-cron-scheduler must not start a
                // cycle after this point.
                active.store(false, Ordering::SeqCst);
                if let Err(e) = j.shutdown().await {
                    tracing::warn!(error = %e, "stopping the cron triggers failed");
                }
            }
            if stop {
                break;
            }
            tracing::info!("schedule changed; cron triggers rebuilt");
        }
        for (_, h) in self.cycles.lock().expect("cycles lock").drain() {
            h.abort();
        }
        for (_, h) in self.rechecks.lock().expect("rechecks lock").drain() {
            h.abort();
        }
    }

    /// One cron job per non-empty expression. The job only reads the wall clock and spawns
    /// a cycle; everything else is the dispatcher's.
    async fn start_cron(
        self: &Arc<Self>,
    ) -> Result<
        (tokio_cron_scheduler::JobScheduler, Arc<AtomicBool>),
        tokio_cron_scheduler::JobSchedulerError,
    > {
        let jobs = tokio_cron_scheduler::JobScheduler::new().await?;
        let active = Arc::new(AtomicBool::new(true));
        let settings = self.settings();
        for kind in CycleKind::ALL {
            let expr = kind.cron(&settings).trim().to_string();
            if expr.is_empty() {
                tracing::info!(cycle = %kind, "cycle disabled (empty cron expression)");
                continue;
            }
            let weak = Arc::downgrade(self);
            let on = active.clone();
            let job = tokio_cron_scheduler::Job::new_async(expr.as_str(), move |_id, _jobs| {
                let weak = weak.clone();
                let on = on.clone();
                Box::pin(async move {
                    if !on.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Some(s) = weak.upgrade() {
                        // Re-read the wall clock at every tick, so the interval to the next
                        // tick follows clock adjustments.
                        s.set_wall_clock(SystemTime::now());
                        let interval = s.interval_for(kind);
                        s.spawn_cycle(kind, interval);
                    }
                })
            })?;
            jobs.add(job).await?;
            tracing::debug!(cycle = %kind, cron = %expr, "cron trigger added");
        }
        jobs.start().await?;
        Ok((jobs, active))
    }

    fn try_begin(self: &Arc<Self>, kind: CycleKind) -> Option<CycleGuard> {
        if self.running[kind.index()].swap(true, Ordering::SeqCst) {
            tracing::warn!(cycle = %kind, "previous cycle still running; tick skipped");
            return None;
        }
        Some(CycleGuard {
            sched: Arc::downgrade(self),
            kind,
        })
    }

    /// Starts a cycle of `kind` in the background unless one of that kind is still running
    /// (then the tick is skipped and logged). Returns whether a cycle started.
    pub fn spawn_cycle(self: &Arc<Self>, kind: CycleKind, interval: Duration) -> bool {
        self.spawn(kind, interval, false)
    }

    fn spawn(self: &Arc<Self>, kind: CycleKind, interval: Duration, startup: bool) -> bool {
        let Some(guard) = self.try_begin(kind) else {
            return false;
        };
        let me = self.clone();
        let handle = tokio::spawn(async move {
            me.cycle(kind, interval, startup).await;
            drop(guard);
        });
        self.cycles
            .lock()
            .expect("cycles lock")
            .insert(kind, handle.abort_handle());
        true
    }

    /// Starts the startup metadata cycle in the background: spread over at most
    /// [`STARTUP_SPREAD`], each credential's first probe at once. `run` calls it first;
    /// simulations call it to start like `run` does.
    pub fn spawn_startup_cycle(self: &Arc<Self>) -> bool {
        let first = self.interval_for(CycleKind::Metadata).min(STARTUP_SPREAD);
        self.spawn(CycleKind::Metadata, first, true)
    }

    /// Run one cycle of `kind` now and wait for it; skipped (returns at once) when a cycle
    /// of that kind is already running.
    pub async fn run_cycle(self: &Arc<Self>, kind: CycleKind, interval: Duration) {
        let Some(guard) = self.try_begin(kind) else {
            return;
        };
        self.cycle(kind, interval, false).await;
        drop(guard);
    }

    /// One cycle. `startup`: the first metadata cycle after start, whose `interval` is the
    /// shortened startup spread and which sends each credential's first probe at once.
    async fn cycle(self: &Arc<Self>, kind: CycleKind, interval: Duration, startup: bool) {
        let idx = self.index();
        let plan = &idx.plan;
        let settings = self.settings();
        let regular = self.next_regular(&settings);
        let fallback = settings.metadata_generation_fallback;
        let ids: Vec<TargetId> = match kind {
            CycleKind::CredentialGeneration => spread::cheapest_per_credential(plan),
            CycleKind::Metadata if !fallback => {
                self.leave_out_of_metadata(&idx, &settings);
                (0..plan.targets.len())
                    .filter(|&id| idx.in_metadata_cycle(id, false))
                    .collect()
            }
            _ => (0..plan.targets.len()).collect(),
        };
        let headroom = match kind {
            CycleKind::ModelGeneration => self.credential_headroom(plan, &settings),
            _ => HashMap::new(),
        };
        // The startup cycle's interval is the shortened startup spread, not the time to
        // the next tick: only regular cycles can tell whether the spacing fits.
        if !startup {
            self.warn_if_spacing_outlasts(&idx, &ids, kind, interval, &settings);
        }
        let first_of_cred = if startup {
            first_per_credential(&idx, &ids, kind)
        } else {
            HashSet::new()
        };
        let start = Instant::now();
        let wall_start = self.wall_at(start);
        tracing::info!(cycle = %kind, targets = ids.len(), interval_s = interval.as_secs(), startup, "cycle started");
        let mut tasks = JoinSet::new();
        for id in ids {
            let target = plan.target(id);
            // At startup each credential's first probe goes out at once, so every
            // credential has a first result (readiness) within about one probe latency.
            let off = if first_of_cred.contains(&id) {
                Duration::ZERO
            } else {
                spread::offset_at(
                    idx.jitter[kind.index()][id],
                    interval,
                    settings.spread_fraction,
                )
            };
            self.store
                .set_next_probe(plan.key(id), Some(wall_start + off));
            let h = headroom.get(&target.provider).copied().unwrap_or_default();
            let me = self.clone();
            let idx = idx.clone();
            tasks.spawn(async move {
                sleep_until(start + off).await;
                me.dispatch(&idx, id, kind.tier(), Some(kind), h, true, regular)
                    .await
            });
        }
        let mut tally = CycleTally::default();
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok(Ok(res)) if res.class == Class::Skipped && res.reason == "unsupported_api" => {
                    tally.not_probeable += 1
                }
                Ok(Ok(_)) => tally.sent += 1,
                Ok(Err(reason)) => *tally.skipped.entry(reason).or_default() += 1,
                Err(e) => tracing::error!(cycle = %kind, error = %e, "probe task failed"),
            }
        }
        self.first_cycle_done.store(true, Ordering::SeqCst);
        self.update_ready();
        tracing::info!(
            cycle = %kind,
            sent = tally.sent,
            not_probeable = tally.not_probeable,
            skipped_budget = tally.skipped.get(&SkipReason::Budget).copied().unwrap_or(0),
            skipped_backoff = tally.skipped.get(&SkipReason::Backoff).copied().unwrap_or(0),
            skipped_retry_after = tally.skipped.get(&SkipReason::RetryAfter).copied().unwrap_or(0),
            elapsed_s = start.elapsed().as_secs(),
            "cycle finished"
        );
    }

    /// Targets without a zero-token metadata endpoint stay out of the metadata cycle (by
    /// default): there their probe would be a generation call every cycle, ~2,600 tokens a
    /// model a day, where the target is 50 a model and 0 for the metadata tier. The
    /// credential and model tiers still probe them, within their caps. Logs once per plan
    /// how many and why, and gives their next probe time (the model tier's) to targets
    /// without a pending recheck.
    fn leave_out_of_metadata(&self, idx: &PlanIndex, settings: &ScheduleSettings) {
        let left_out: Vec<TargetId> = (0..idx.plan.targets.len())
            .filter(|&id| !idx.in_metadata_cycle(id, false))
            .collect();
        if left_out.is_empty() {
            return;
        }
        if !idx.left_out_logged.swap(true, Ordering::SeqCst) {
            let providers: BTreeSet<&str> = left_out
                .iter()
                .map(|&id| idx.plan.target(id).provider.as_str())
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
        let pending: HashSet<String> = {
            let rechecks = self.rechecks.lock().expect("rechecks lock");
            left_out
                .iter()
                .map(|&id| &idx.keys[id])
                .filter(|k| rechecks.get(*k).is_some_and(|h| !h.is_finished()))
                .cloned()
                .collect()
        };
        for &id in &left_out {
            if !pending.contains(&idx.keys[id]) {
                let next = self.next_model_probe(idx, id, settings);
                self.store.set_next_probe(idx.plan.key(id), next);
            }
        }
    }

    /// Spacing makes a credential with many targets take `targets × spacing`. Longer than
    /// the spread window (`interval × spread_fraction`), its probes bunch up at the end of
    /// the window; longer than the interval, the cycle overruns and the next ticks of this
    /// kind are skipped. Say so once per cycle, with the numbers and the fix.
    fn warn_if_spacing_outlasts(
        &self,
        idx: &PlanIndex,
        ids: &[TargetId],
        kind: CycleKind,
        interval: Duration,
        settings: &ScheduleSettings,
    ) {
        let spacing = secs(settings.min_key_spacing_seconds);
        if spacing.is_zero() || ids.is_empty() {
            return;
        }
        let mut per_cred: HashMap<&str, u32> = HashMap::new();
        for &id in ids {
            *per_cred.entry(idx.cred_keys[id].as_str()).or_default() += 1;
        }
        let Some((&ckey, &n)) = per_cred.iter().max_by_key(|(k, n)| (**n, *k)) else {
            return;
        };
        let t = idx
            .cred_keys
            .iter()
            .position(|k| k == ckey)
            .map(|i| idx.plan.target(i));
        let provider = t.map(|t| t.provider.as_str()).unwrap_or("");
        let credential = t.map(|t| t.credential_label()).unwrap_or_default();
        let who = format!("credential {credential} of provider {provider}");
        match spacing_advice(&who, n, spacing, kind, interval, settings.spread_fraction) {
            Some((true, message)) => tracing::warn!(cycle = %kind, provider,
                credential = %credential, targets = n, needed_s = (spacing * n).as_secs(),
                interval_s = interval.as_secs(), "{message}"),
            Some((false, message)) => tracing::info!(cycle = %kind, provider,
                credential = %credential, targets = n, needed_s = (spacing * n).as_secs(),
                interval_s = interval.as_secs(), "{message}"),
            None => {}
        }
    }

    /// What model-generation probes must leave free per provider: one request (and its
    /// token estimate) per credential for every credential-generation tick left in the
    /// budget window, plus one for a credential cycle still running (its probes are spread
    /// over most of its interval, so most are still to come), so per-model probes never
    /// starve the per-credential ones.
    fn credential_headroom(
        &self,
        plan: &ProbePlan,
        settings: &ScheduleSettings,
    ) -> HashMap<String, Headroom> {
        let running =
            u64::from(self.running[CycleKind::CredentialGeneration.index()].load(Ordering::SeqCst));
        let mut st = self.state.lock().expect("state lock");
        let now = Instant::now();
        let (_, end) = st.budget.window_bounds(now);
        let ticks = cron::ticks_between(
            &settings.credential_generation,
            self.wall_at(now),
            self.wall_at(end),
            10_000,
        )
        .saturating_add(running);
        let mut per_provider: HashMap<String, Amount> = HashMap::new();
        for id in spread::cheapest_per_credential(plan) {
            let p = &plan.target(id).provider;
            let est = st.budget.estimate(p);
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

    /// On-demand probe (GET /probe): respects budget, retry-after and backoff; returns
    /// `Err(SkipReason)` when not sent. An id outside the plan gives a `skipped` result
    /// with reason `unknown_target` (nothing sent).
    pub async fn probe_now(&self, target: TargetId, tier: Tier) -> Result<ProbeResult, SkipReason> {
        let idx = self.index();
        if target >= idx.plan.targets.len() {
            return Ok(self.synthetic(target, tier, Class::Skipped, "unknown_target", None));
        }
        let regular = self.next_regular(&self.settings());
        self.dispatch(
            &idx,
            target,
            tier,
            None,
            Headroom::default(),
            false,
            regular,
        )
        .await
    }

    fn synthetic(
        &self,
        target: TargetId,
        tier: Tier,
        class: Class,
        reason: &str,
        message: Option<String>,
    ) -> ProbeResult {
        ProbeResult {
            target,
            tier,
            class,
            reason: reason.to_string(),
            http_status: None,
            latency: Duration::ZERO,
            rate_limits: RateLimitInfo::default(),
            usage: None,
            at: self.wall_now(),
            message,
        }
    }

    fn count_skip(&self, target: &Target, reason: SkipReason) {
        self.metrics.probe_skipped(&target.provider, reason);
        *self
            .skips
            .lock()
            .expect("skips lock")
            .entry((target.provider.clone(), reason))
            .or_default() += 1;
        tracing::debug!(provider = %target.provider, model = %target.model,
            credential = %target.credential_label(), reason = reason.as_str(), "probe skipped");
    }

    /// Sends one probe through every gate: retry-after and backoff of the credential,
    /// spacing between requests on the credential, the concurrency limit and, when the probe
    /// can spend tokens, the budget. `spread_slot` reserves a start slot on the credential
    /// ahead of time (cycle probes); on-demand probes only wait for the spacing. `kind` is
    /// the cycle that sent it (`None`: on demand or a recheck) and picks the finer budget
    /// cap: a credential-generation probe counts against its credential's tokens per day,
    /// any other probe that spends tokens against its model's — metadata probes of targets
    /// without a metadata endpoint included, since they are generation calls on that model.
    #[allow(clippy::too_many_arguments)]
    async fn dispatch(
        &self,
        idx: &Arc<PlanIndex>,
        id: TargetId,
        tier: Tier,
        kind: Option<CycleKind>,
        headroom: Headroom,
        spread_slot: bool,
        regular: Regular,
    ) -> Result<ProbeResult, SkipReason> {
        let target = idx.plan.target(id);
        if !target.api.is_probeable() {
            let r = self.synthetic(
                id,
                tier,
                Class::Skipped,
                "unsupported_api",
                Some(format!("no prober for API style `{}`", target.api)),
            );
            self.record(idx, id, &r);
            return Ok(r);
        }
        let settings = self.settings();
        let spacing = secs(settings.min_key_spacing_seconds);
        let ckey = &idx.cred_keys[id];
        let tkey = &idx.keys[id];
        let cost = ProbeCost {
            provider: &target.provider,
            target: tkey,
            style_tokens: probe_tokens(&target.api),
            scope: match (tier, kind) {
                (Tier::Generation, Some(CycleKind::CredentialGeneration)) => {
                    Scope::Credential(ckey)
                }
                // A metadata probe only spends when it has to generate: on this model.
                (Tier::Generation | Tier::Metadata, _) => Scope::Model(tkey),
            },
        };
        // Known up front: without a metadata endpoint the prober sends a generation call.
        let spends_known = tier == Tier::Generation || idx.no_metadata[id];

        // Closed gate: skip now rather than wait for a slot.
        let slot = {
            let mut st = self.state.lock().expect("state lock");
            let now = Instant::now();
            let gate = st.gates.entry(ckey.to_string()).or_default();
            if let Err(reason) = gate.check(now) {
                drop(st);
                self.count_skip(target, reason);
                return Err(reason);
            }
            spread_slot.then(|| gate.reserve_slot(now, spacing))
        };
        if let Some(slot) = slot {
            sleep_until(slot).await;
        }
        let sem = self.semaphore.lock().expect("semaphore lock").1.clone();
        let _permit = sem
            .acquire_owned()
            .await
            .expect("semaphore is never closed");

        // Final gate, spacing and budget check, atomically with marking the send.
        let reservation = loop {
            let step = {
                let mut guard = self.state.lock().expect("state lock");
                let st = &mut *guard;
                let now = Instant::now();
                let gate = st.gates.entry(ckey.to_string()).or_default();
                let ready = gate.spacing_ready_at(now, spacing);
                if let Err(reason) = gate.check(now) {
                    Err(reason)
                } else if ready > now {
                    Ok(Err(ready))
                } else if spends_known || st.metadata_spends.contains(tkey) {
                    match st.budget.try_reserve_probe(&cost, headroom, now) {
                        Some(r) => {
                            gate_sent(st, ckey, now);
                            Ok(Ok(Some(r)))
                        }
                        None => Err(SkipReason::Budget),
                    }
                } else {
                    gate_sent(st, ckey, now);
                    Ok(Ok(None))
                }
            };
            match step {
                Err(reason) => {
                    self.count_skip(target, reason);
                    return Err(reason);
                }
                Ok(Err(ready)) => sleep_until(ready).await,
                Ok(Ok(r)) => break r,
            }
        };

        let limit = secs(settings.probe_timeout_seconds) + TIMEOUT_GRACE;
        let started = Instant::now();
        let result = match tokio::time::timeout(limit, self.executor.execute(target, tier)).await {
            Ok(r) => r,
            Err(_) => {
                let mut r = self.synthetic(
                    id,
                    tier,
                    Class::Timeout,
                    "scheduler_timeout",
                    Some(format!(
                        "the prober did not return within {}s",
                        limit.as_secs()
                    )),
                );
                r.latency = started.elapsed();
                r
            }
        };

        // Learn: settle the budget, update the credential gate, failure streak, recheck.
        let base = secs(settings.recheck_after_failure_seconds);
        let max = secs(settings.max_backoff_seconds);
        let recheck_at = {
            let mut st = self.state.lock().expect("state lock");
            let st = &mut *st;
            let now = Instant::now();
            let tokens = total_tokens(&result);
            match reservation {
                Some(r) => {
                    // No usage reported: assume the probe cost what its style costs.
                    let est = st.budget.probe_estimate(&cost);
                    let spent = tokens.unwrap_or(if result.class.is_ok() { est } else { 0 });
                    st.budget.settle(r, spent, now);
                }
                None if result.tier == Tier::Generation || tokens.is_some_and(|t| t > 0) => {
                    // A metadata probe that generated although its provider is known to
                    // have a metadata endpoint: count it against the model too, and budget
                    // this target's metadata probes from now on.
                    st.budget.charge_probe(&cost, tokens.unwrap_or(0), now);
                    if st.metadata_spends.insert(tkey.to_string()) {
                        tracing::info!(provider = %target.provider, model = %target.model,
                            "metadata probe needs a generation call here; budgeting it under model_tokens_per_day");
                    }
                }
                None => {}
            }
            let gate = st.gates.entry(ckey.to_string()).or_default();
            gate.observe(&result, now, self.wall_at(now), base, max);
            let open = gate.open_at(now);
            match result.class {
                Class::Ok => {
                    st.failures.remove(tkey);
                    None
                }
                Class::Skipped => None,
                _ => {
                    let n = st.failures.entry(tkey.to_string()).or_default();
                    *n = n.saturating_add(1);
                    let delay = backoff_delay(base, max, *n).max(Duration::from_secs(1));
                    Some((now + delay).max(open))
                }
            }
        };
        drop(_permit);

        self.record(idx, id, &result);
        self.note_probed(ckey);
        match recheck_at {
            Some(at) => {
                self.store
                    .set_next_probe(idx.plan.key(id), Some(self.wall_at(at)));
                self.schedule_recheck(tkey.to_string(), at);
            }
            None if !idx.in_metadata_cycle(id, settings.metadata_generation_fallback) => {
                // Left out of the metadata cycle: the model tier probes it next.
                let next = self.next_model_probe(idx, id, &settings);
                self.store.set_next_probe(idx.plan.key(id), next);
            }
            None => {
                let jitter = idx.jitter[CycleKind::Metadata.index()][id];
                let next = regular.map(|(tick, interval)| {
                    tick + spread::offset_at(jitter, interval, settings.spread_fraction)
                });
                self.store.set_next_probe(idx.plan.key(id), next);
            }
        }
        Ok(result)
    }

    /// Records a result in the store and metrics, unless the target left the plan while
    /// the probe was in flight.
    fn record(&self, idx: &Arc<PlanIndex>, id: TargetId, result: &ProbeResult) {
        let current = self.index();
        if !Arc::ptr_eq(&current, idx) && !current.key_set.contains(&idx.keys[id]) {
            return;
        }
        let target = idx.plan.target(id);
        self.store.record(idx.plan.key(id), result.clone());
        self.metrics.observe_probe(target, result);
    }

    /// The next regular metadata tick after now and the interval that follows it.
    fn next_regular(&self, settings: &ScheduleSettings) -> Regular {
        let tick = cron::next_tick(&settings.metadata, self.wall_now())?;
        let interval = cron::next_tick(&settings.metadata, tick)
            .and_then(|t| t.duration_since(tick).ok())
            .unwrap_or(CycleKind::Metadata.default_interval());
        Some((tick, interval))
    }

    /// When the next model-generation cycle probes target `id` (tick plus its spread
    /// offset); `None` when that cycle is disabled.
    fn next_model_probe(
        &self,
        idx: &PlanIndex,
        id: TargetId,
        settings: &ScheduleSettings,
    ) -> Option<SystemTime> {
        let kind = CycleKind::ModelGeneration;
        let expr = kind.cron(settings);
        let tick = cron::next_tick(expr, self.wall_now())?;
        let interval = cron::next_tick(expr, tick)
            .and_then(|t| t.duration_since(tick).ok())
            .unwrap_or(kind.default_interval());
        let jitter = idx.jitter[kind.index()][id];
        Some(tick + spread::offset_at(jitter, interval, settings.spread_fraction))
    }

    /// A one-off metadata probe of the target with `key` at `at`; replaces a pending one.
    fn schedule_recheck(&self, key: String, at: Instant) {
        let me = self.me.clone();
        let k = key.clone();
        let mut rechecks = self.rechecks.lock().expect("rechecks lock");
        let handle = tokio::spawn(async move {
            sleep_until(at).await;
            let Some(me) = me.upgrade() else { return };
            me.rechecks.lock().expect("rechecks lock").remove(&k);
            let idx = me.index();
            let Some(id) = idx.keys.iter().position(|key| *key == k) else {
                return;
            };
            tracing::debug!(model = %idx.plan.target(id).model_ref(), "early recheck after failure");
            let regular = me.next_regular(&me.settings());
            let _ = me
                .dispatch(
                    &idx,
                    id,
                    Tier::Metadata,
                    None,
                    Headroom::default(),
                    false,
                    regular,
                )
                .await;
        });
        if let Some(old) = rechecks.insert(key, handle.abort_handle()) {
            old.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
