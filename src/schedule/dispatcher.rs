//! The scheduler: a thin async shell. It spawns cycles and rechecks, sleeps until each probe
//! is due, holds the concurrency limit, calls the executor and records the result. Every
//! decision is made by a part that owns its state and knows nothing of tokio tasks: the
//! [`Books`] (budget, credential gates, failure streaks), the [`PlanIndex`], the
//! [`ReadinessTracker`] and the cycle planning functions in [`cycle`]. See the module docs
//! of [`crate::schedule`] for the design.

use super::books::{Admit, Books, Policy, Probe, Recheck, RecheckScope};
use super::budget::Headroom;
use super::clock::WallClock;
use super::cycle::{self, secs};
use super::index::PlanIndex;
use super::readiness::{Readiness, ReadinessTracker};
use super::tasks::{CycleGuard, RecheckKey, Tasks};
use super::trigger;
use super::{spread, CycleKind};
use crate::class::{Class, SkipReason};
use crate::config::{BudgetSettings, ScheduleSettings};
use crate::cron;
use crate::metrics::{BudgetRemaining, Metrics};
use crate::plan::{CredentialKey, ProbePlan, Target, TargetId};
use crate::probe::{Executor, ProbeResult, Tier};
use crate::state::Store;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::{Duration, SystemTime};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

/// The first metadata cycle after start is spread over at most this long, so the first
/// picture is complete soon while the probes still do not go out in one burst. Each
/// credential's first probe goes out at once; the spacing between requests on one
/// credential still applies to the rest.
const STARTUP_SPREAD: Duration = Duration::from_secs(30);

/// Extra time over `probe_timeout_seconds` before the scheduler gives up on a prober that
/// did not return (the prober enforces the timeout itself; this is a backstop).
const TIMEOUT_GRACE: Duration = Duration::from_secs(5);

/// The next regular metadata tick and the interval after it, for `next_probe_at`.
type Regular = Option<(SystemTime, Duration)>;

/// One probe to send.
#[derive(Clone, Copy, Debug)]
struct Job {
    id: TargetId,
    tier: Tier,
    /// The cycle that sends it; `None`: on demand or a recheck. A cycle probe reserves a
    /// start slot on its credential ahead of time.
    cycle: Option<CycleKind>,
    /// The cycle whose finer budget cap it counts against: a credential-generation probe,
    /// or a re-check standing for the credential, against the credential's; anything else
    /// that spends against its model's.
    budget_as: Option<CycleKind>,
    /// Asked for by a person (`/probe`): always sent when the gates allow, never saved
    /// because real traffic is fresh.
    on_demand: bool,
    /// What it must leave free in the budget (model probes leave room for credential ones).
    headroom: Headroom,
    /// The next regular metadata tick, for the target's next probe time.
    next: Regular,
}

impl Job {
    /// A probe no cycle sends: on demand or a recheck.
    fn unscheduled(id: TargetId, tier: Tier, next: Regular) -> Job {
        let headroom = Headroom::default();
        Job {
            id,
            tier,
            cycle: None,
            budget_as: None,
            on_demand: false,
            headroom,
            next,
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
    books: Mutex<Books>,
    readiness: Mutex<ReadinessTracker>,
    semaphore: Mutex<(usize, Arc<Semaphore>)>,
    tasks: Arc<Tasks>,
    clock: WallClock,
    /// OpenClaw's log as followed, when it is ([`Scheduler::set_traffic`]).
    traffic: RwLock<Option<Arc<crate::traffic::Traffic>>>,
    /// [`Scheduler::run`] has begun: targets a reload adds get their first probes at once.
    started: std::sync::atomic::AtomicBool,
    /// Probes not sent, by (provider, reason): what `clawprobe_probes_skipped_total` counts.
    #[cfg(test)]
    skips: Mutex<std::collections::BTreeMap<(String, SkipReason), u64>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("targets", &self.plan().targets.len())
            .field("first_cycle_done", &self.tracker().is_first_cycle_done())
            .finish_non_exhaustive()
    }
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
        executor.set_timeout(secs(settings.probe_timeout_seconds));
        Arc::new_cyclic(|me| Scheduler {
            me: me.clone(),
            executor,
            store,
            metrics,
            plan: RwLock::new(PlanIndex::new(Arc::new(ProbePlan::default()))),
            settings: RwLock::new(settings),
            cron_version: watch::Sender::new(0),
            books: Mutex::new(Books::new(budget, now)),
            readiness: Mutex::new(ReadinessTracker::new(now)),
            semaphore: Mutex::new((concurrency, Arc::new(Semaphore::new(concurrency)))),
            tasks: Arc::default(),
            clock: WallClock::new(now, SystemTime::now()),
            traffic: RwLock::new(None),
            started: Default::default(),
            #[cfg(test)]
            skips: Mutex::default(),
        })
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().expect("books lock")
    }

    fn tracker(&self) -> MutexGuard<'_, ReadinessTracker> {
        self.readiness.lock().expect("readiness lock")
    }

    fn index(&self) -> Arc<PlanIndex> {
        self.plan.read().expect("plan lock").clone()
    }

    fn settings(&self) -> ScheduleSettings {
        self.settings.read().expect("settings lock").clone()
    }

    /// Swap in a new plan (on reload). Budget, backoff and counters survive (keyed by
    /// target and credential key and provider); status of targets that left is dropped.
    pub fn set_plan(&self, plan: Arc<ProbePlan>) {
        let index = PlanIndex::new(plan);
        let old = self.index();
        self.store.retain_plan(&index.plan);
        let credentials: HashSet<&CredentialKey> = (0..index.plan.targets.len())
            .map(|id| index.plan.credential_key(id))
            .collect();
        self.tasks.rechecks().retain(|k, h| {
            let keep = match k {
                RecheckKey::Target(t, _) => index.plan.contains_key(t.as_str()),
                RecheckKey::Credential(c) => credentials.contains(c),
            };
            if !keep {
                h.abort();
            }
            keep
        });
        self.books().retain(&index.plan);
        let arrivals = cycle::arrivals(&old, &index);
        *self.plan.write().expect("plan lock") = index.clone();
        self.tracker().plan_loaded();
        self.publish_cadence();
        self.update_ready();
        if self.started.load(std::sync::atomic::Ordering::SeqCst) && !arrivals.is_empty() {
            if let Some(me) = self.me.upgrade() {
                me.spawn_arrivals(index, arrivals);
            }
        }
    }

    /// Targets a reload added while the schedule runs get their first probes now, the way
    /// start-up gives them (a sidecar whose install appeared late, a key added to a store):
    /// a new credential's first metadata probe and its first generation probe at once, the
    /// other new targets' metadata probes spread over [`STARTUP_SPREAD`], and a generation
    /// probe to new primaries as at start-up ([`cycle::primaries`]). Without this they
    /// would wait for the next cycle, an hour for the credential tier.
    fn spawn_arrivals(self: &Arc<Self>, idx: Arc<PlanIndex>, arrivals: cycle::Arrivals) {
        let settings = self.settings();
        let next = self.next_regular(&settings);
        let credential_cycle = CycleKind::CredentialGeneration.enabled(&settings);
        let start = Instant::now();
        tracing::info!(
            targets = arrivals.targets.len(),
            credentials = arrivals.new_credentials.len(),
            "new targets after a reload: first probes now"
        );
        let mut jobs: Vec<(Duration, Job)> = Vec::new();
        for &id in &arrivals.targets {
            let off = if arrivals.first_of_credential.contains(&id) {
                Duration::ZERO
            } else {
                spread::offset_at(
                    idx.jitter(CycleKind::Metadata, id),
                    STARTUP_SPREAD,
                    settings.spread_fraction,
                )
            };
            jobs.push((off, Job::unscheduled(id, Tier::Metadata, next)));
        }
        if credential_cycle {
            for &id in &arrivals.new_credentials {
                let job = Job {
                    budget_as: Some(CycleKind::CredentialGeneration),
                    ..Job::unscheduled(id, Tier::Generation, next)
                };
                jobs.push((Duration::ZERO, job));
            }
        }
        // New agents' primaries, as at start-up: an install that appears after the
        // sidecar started arrives whole through a reload.
        if CycleKind::ModelGeneration.enabled(&settings)
            && settings.startup_primaries_per_credential > 0
        {
            let arrived: HashSet<TargetId> = arrivals.targets.iter().copied().collect();
            let covered: HashSet<TargetId> = if credential_cycle {
                arrivals.new_credentials.iter().copied().collect()
            } else {
                HashSet::new()
            };
            let eligible = |id| arrived.contains(&id) && !covered.contains(&id);
            for id in cycle::primaries(&idx, eligible, settings.startup_primaries_per_credential) {
                let off = spread::offset_at(
                    idx.jitter(CycleKind::ModelGeneration, id),
                    STARTUP_SPREAD,
                    settings.spread_fraction,
                );
                let job = Job {
                    budget_as: Some(CycleKind::ModelGeneration),
                    ..Job::unscheduled(id, Tier::Generation, next)
                };
                jobs.push((off, job));
            }
        }
        for (off, job) in jobs {
            let (me, idx) = (self.clone(), idx.clone());
            tokio::spawn(async move {
                sleep_until(start + off).await;
                let _ = me.dispatch(&idx, job).await;
            });
        }
    }

    /// Tells metrics how often each target of the plan is probed (verdict staleness).
    fn publish_cadence(&self) {
        let cadence = cycle::cadence(&self.index(), &self.settings(), self.clock.now());
        self.metrics.set_cadence(cadence);
    }

    pub fn plan(&self) -> Arc<ProbePlan> {
        self.index().plan.clone()
    }

    /// Replace schedule/budget settings on reload. Spend in the current budget window still
    /// counts against the new caps. A new concurrency limit applies to probes that start
    /// after the change, a new probe timeout to probes sent after it.
    pub fn set_settings(&self, settings: ScheduleSettings, budget: BudgetSettings) {
        let concurrency = settings.concurrency.max(1);
        {
            let mut sem = self.semaphore.lock().expect("semaphore lock");
            if sem.0 != concurrency {
                *sem = (concurrency, Arc::new(Semaphore::new(concurrency)));
            }
        }
        self.books().set_budget(budget);
        self.executor
            .set_timeout(secs(settings.probe_timeout_seconds));
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
        self.publish_cadence();
    }

    /// `server.first_cycle_timeout_seconds`: ready at the latest this long after start.
    pub fn set_ready_timeout(&self, timeout: Option<Duration>) {
        self.tracker().set_timeout(timeout);
    }

    /// The time from now to the next tick of `kind`'s cron, or its default interval.
    pub fn interval_for(&self, kind: CycleKind) -> Duration {
        let settings = self.settings.read().expect("settings lock");
        cron::until_next_tick(kind.cron(&settings), self.clock.now())
            .filter(|d| !d.is_zero())
            .unwrap_or_else(|| kind.default_interval())
    }

    /// Readiness for `/readyz` (see [`Readiness`]).
    pub fn readiness(&self) -> Readiness {
        self.update_ready()
    }

    /// Computes readiness and logs when it turns true.
    fn update_ready(&self) -> Readiness {
        let idx = self.index();
        let fallback = self
            .settings
            .read()
            .expect("settings lock")
            .metadata_generation_fallback;
        let mut tracker = self.tracker();
        let (r, change) = tracker.evaluate(idx.ready_creds(fallback), Instant::now());
        if let Some(c) = change {
            c.log(&r, idx.plan.targets.len(), tracker.started().elapsed());
        }
        r
    }

    /// Remaining budget for `clawprobe_budget_remaining`: `_global` and every provider of
    /// the plan (plus overridden or spending ones).
    pub fn budget_remaining(&self) -> Vec<BudgetRemaining> {
        let plan = self.plan();
        let providers: BTreeSet<&str> = plan.targets.iter().map(|t| t.provider.as_str()).collect();
        self.books().remaining(providers, Instant::now())
    }

    /// Start the cron triggers and run until `shutdown` turns true (or its sender is
    /// dropped). Runs one metadata cycle immediately at start.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        if *shutdown.borrow() {
            return;
        }
        self.started
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.spawn_startup_cycle();
        let weak = Arc::downgrade(&self);
        let on_tick = move |kind: CycleKind| {
            if let Some(s) = weak.upgrade() {
                // Re-read the wall clock at every tick, so the interval to the next tick
                // follows clock adjustments.
                s.clock.set(SystemTime::now());
                s.spawn_cycle(kind, s.interval_for(kind));
            }
        };
        let me = Arc::downgrade(&self);
        let settings = move || me.upgrade().map(|s| s.settings()).unwrap_or_default();
        trigger::run(settings, self.cron_version.subscribe(), shutdown, on_tick).await;
        self.tasks.abort_all();
    }

    fn try_begin(&self, kind: CycleKind) -> Option<CycleGuard> {
        let guard = Tasks::begin(&self.tasks, kind);
        if guard.is_none() {
            tracing::warn!(cycle = %kind, "previous cycle still running; tick skipped");
        }
        guard
    }

    /// Starts a cycle of `kind` in the background unless one of that kind is still running
    /// (then the tick is skipped and logged). Returns whether a cycle started.
    pub fn spawn_cycle(self: &Arc<Self>, kind: CycleKind, interval: Duration) -> bool {
        self.spawn(kind, interval, false)
    }

    /// Starts the startup cycles in the background. The metadata cycle is spread over at
    /// most [`STARTUP_SPREAD`], each credential's first probe at once. Each credential's
    /// first generation probe (the credential cycle, one on its cheapest model) also goes
    /// out at once, within its budget: billing and account-wide limits show only to a
    /// generation request, and a fresh exporter must report them on every route of the
    /// credential within a minute, not at the next hourly tick. The start-up model cycle
    /// sends one generation probe to each agent's primary that probe did not cover, a few
    /// per credential ([`cycle::startup_primaries`]), spread over [`STARTUP_SPREAD`]: a
    /// limit or overload of one model shows only to a request on it. `run` calls it first.
    pub fn spawn_startup_cycle(self: &Arc<Self>) -> bool {
        let settings = self.settings();
        let first = self.interval_for(CycleKind::Metadata).min(STARTUP_SPREAD);
        let started = self.spawn(CycleKind::Metadata, first, true);
        if CycleKind::CredentialGeneration.enabled(&settings) {
            self.spawn(CycleKind::CredentialGeneration, STARTUP_SPREAD, true);
        }
        if CycleKind::ModelGeneration.enabled(&settings)
            && settings.startup_primaries_per_credential > 0
        {
            self.spawn(CycleKind::ModelGeneration, STARTUP_SPREAD, true);
        }
        started
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
        self.tasks.add_cycle(kind, handle.abort_handle());
        true
    }

    /// One cycle. `startup`: a cycle of the start-up ([`Self::spawn_startup_cycle`]), whose
    /// `interval` is the shortened startup spread; the metadata and credential ones send each
    /// credential's first probe at once, the model one probes the agents' primaries only.
    async fn cycle(self: &Arc<Self>, kind: CycleKind, interval: Duration, startup: bool) {
        let idx = self.index();
        let settings = self.settings();
        let next = self.next_regular(&settings);
        if kind == CycleKind::Metadata && !settings.metadata_generation_fallback {
            self.leave_out_of_metadata(&idx, &settings);
        }
        let ids = if startup && kind == CycleKind::ModelGeneration {
            let covered = CycleKind::CredentialGeneration.enabled(&settings);
            cycle::startup_primaries(&idx, covered, settings.startup_primaries_per_credential)
        } else {
            cycle::targets(&idx, kind, &settings)
        };
        let headroom = match kind {
            CycleKind::ModelGeneration => self.credential_headroom(&idx.plan, &settings),
            _ => HashMap::new(),
        };
        // The startup cycle's interval is the shortened startup spread, not the time to
        // the next tick: only regular cycles can tell whether the spacing fits.
        if !startup {
            cycle::warn_if_spacing_outlasts(&idx.plan, &ids, kind, interval, &settings);
        }
        let first_of_cred = if startup && kind != CycleKind::ModelGeneration {
            cycle::first_per_credential(&idx, &ids, kind)
        } else {
            HashSet::new()
        };
        let start = Instant::now();
        let wall_start = self.clock.at(start);
        tracing::info!(cycle = %kind, targets = ids.len(), interval_s = interval.as_secs(), startup, "cycle started");
        let mut tasks = JoinSet::new();
        for id in ids {
            // At startup each credential's first probe goes out at once, so every
            // credential has a first result (readiness) within about one probe latency.
            let off = if first_of_cred.contains(&id) {
                Duration::ZERO
            } else {
                spread::offset_at(idx.jitter(kind, id), interval, settings.spread_fraction)
            };
            self.store
                .set_next_probe(idx.plan.key(id), Some(wall_start + off));
            let provider = &idx.plan.target(id).provider;
            let job = Job {
                id,
                tier: kind.tier(),
                cycle: Some(kind),
                budget_as: Some(kind),
                on_demand: false,
                headroom: headroom.get(provider).copied().unwrap_or_default(),
                next,
            };
            let (me, idx) = (self.clone(), idx.clone());
            tasks.spawn(async move {
                sleep_until(start + off).await;
                (id, me.dispatch(&idx, job).await)
            });
        }
        let mut tally = cycle::Tally::default();
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok((id, r)) => tally.add(idx.plan.target(id).api.is_probeable(), &r),
                Err(e) => tracing::error!(cycle = %kind, error = %e, "probe task failed"),
            }
        }
        if kind == CycleKind::Metadata {
            self.tracker().first_cycle_done();
        }
        self.update_ready();
        tally.log(kind, start.elapsed());
    }

    /// Targets without a zero-token metadata endpoint stay out of the metadata cycle (by
    /// default): there their probe would be a generation call every cycle, ~2,600 tokens a
    /// model a day, where the target is 50 a model and 0 for the metadata tier. The
    /// credential and model tiers still probe them, within their caps. Logs once per plan
    /// how many and why, and gives their next probe time (the model tier's) to targets
    /// without a pending recheck.
    fn leave_out_of_metadata(&self, idx: &PlanIndex, settings: &ScheduleSettings) {
        let left_out = cycle::left_out_of_metadata(idx);
        if left_out.is_empty() {
            return;
        }
        if idx.first_left_out_log() {
            cycle::log_left_out(&idx.plan, &left_out);
        }
        for id in left_out {
            let key = idx.plan.key(id);
            if !self.tasks.recheck_pending(key) {
                self.store
                    .set_next_probe(key, self.next_model_probe(idx, id, settings));
            }
        }
    }

    /// What model-generation probes must leave free per provider: room for every
    /// credential-generation tick left in the budget window, plus one for a credential
    /// cycle still running (its probes are spread over most of its interval).
    fn credential_headroom(
        &self,
        plan: &ProbePlan,
        settings: &ScheduleSettings,
    ) -> HashMap<String, Headroom> {
        let running = self.tasks.is_running(CycleKind::CredentialGeneration);
        let mut books = self.books();
        let now = Instant::now();
        let end = books.window_end(now);
        let ticks = cron::ticks_between(
            &settings.credential_generation,
            self.clock.at(now),
            self.clock.at(end),
            10_000,
        )
        .saturating_add(u64::from(running));
        cycle::credential_headroom(plan, ticks, |p| books.estimate(p))
    }

    /// On-demand probe (GET /probe): respects budget, retry-after and backoff; returns
    /// `Err(SkipReason)` when not sent. An id outside the plan gives a `skipped` result
    /// with reason `unknown_target` (nothing sent).
    pub async fn probe_now(&self, target: TargetId, tier: Tier) -> Result<ProbeResult, SkipReason> {
        let idx = self.index();
        if target >= idx.plan.targets.len() {
            return Ok(ProbeResult {
                at: self.clock.now(),
                ..ProbeResult::new(target, tier, Class::Skipped, "unknown_target")
            });
        }
        let job = Job {
            on_demand: true,
            ..Job::unscheduled(target, tier, self.next_regular(&self.settings()))
        };
        self.dispatch(&idx, job).await
    }

    /// Sends one probe through every gate: retry-after and backoff of the credential,
    /// spacing between requests on the credential, the concurrency limit and, when the probe
    /// can spend tokens, the budget. A cycle probe reserves a start slot on its credential
    /// ahead of time; on-demand probes wait only for the spacing, ahead of the cycle
    /// ([`crate::schedule::backoff::CredentialGate::start_at`]). A credential-generation
    /// probe counts against its credential's tokens per day, any other probe that spends
    /// tokens against its model's (metadata probes of targets without a metadata endpoint
    /// included, since they are generation calls on that model).
    async fn dispatch(&self, idx: &Arc<PlanIndex>, job: Job) -> Result<ProbeResult, SkipReason> {
        let (id, tier) = (job.id, job.tier);
        let target = idx.plan.target(id);
        if !target.api.is_probeable() {
            let r = ProbeResult {
                at: self.clock.now(),
                message: Some(format!("no prober for API style `{}`", target.api)),
                ..ProbeResult::new(id, tier, Class::Skipped, "unsupported_api")
            };
            self.record(idx, id, &r);
            return Ok(r);
        }
        let settings = self.settings();
        if tier == Tier::Generation
            && !job.on_demand
            && self.traffic_fresh(idx, id, job.cycle, &settings)
        {
            self.count_skip(target, SkipReason::TrafficFresh);
            return Err(SkipReason::TrafficFresh);
        }
        let policy = Policy::from(&settings);
        let probe = Probe {
            on_demand: job.on_demand,
            ..idx.probe(id, tier, job.budget_as)
        };
        // Closed gate: skip now rather than wait for a slot.
        let slot = self
            .books()
            .gate(&probe, job.cycle.map(|_| policy.spacing), Instant::now());
        if let Some(at) = slot.inspect_err(|r| self.count_skip(target, *r))? {
            sleep_until(at).await;
        }
        let sem = self.semaphore.lock().expect("semaphore lock").1.clone();
        let permit = sem
            .acquire_owned()
            .await
            .expect("semaphore is never closed");
        let ticket = loop {
            let admit = self
                .books()
                .admit(&probe, job.headroom, policy.spacing, Instant::now());
            match admit {
                Admit::Send(t) => break t,
                Admit::WaitUntil(at) => sleep_until(at).await,
                Admit::Skip(reason) => {
                    self.count_skip(target, reason);
                    return Err(reason);
                }
            }
        };
        let result = self.execute(target, tier, &settings).await;
        let now = Instant::now();
        let learned = self
            .books()
            .learn(&probe, ticket, &result, &policy, now, self.clock.at(now));
        drop(permit);
        if learned.metadata_now_budgeted {
            tracing::info!(provider = %target.provider, model = %target.model,
                "metadata probe needs a generation call here; budgeting it under model_tokens_per_day");
        }
        self.record(idx, id, &result);
        if self.tracker().probed(probe.credential) {
            self.update_ready();
        }
        self.plan_next(idx, id, learned.recheck, job.next, &settings);
        Ok(result)
    }

    /// Whether real traffic makes a scheduled generation probe of `id` pointless (see
    /// [`cycle::traffic_fresh`]).
    fn traffic_fresh(
        &self,
        idx: &PlanIndex,
        id: TargetId,
        kind: Option<CycleKind>,
        settings: &ScheduleSettings,
    ) -> bool {
        if !idx.attributable(id) {
            return false;
        }
        let Some(traffic) = self.traffic.read().expect("traffic lock").clone() else {
            return false;
        };
        let t = idx.plan.target(id);
        let success = traffic.read(|s| s.route(&t.provider, &t.model).and_then(|e| e.last_success));
        let last_generation = self
            .store
            .get(idx.plan.key(id))
            .and_then(|st| st.last_by_tier.get(&Tier::Generation).map(|r| r.at));
        let now = self.clock.now();
        let window = kind.and_then(|k| cycle::next_tick(k, settings, now).map(|(_, i)| i));
        cycle::traffic_fresh(
            success,
            last_generation,
            window.or(kind.map(|k| k.default_interval())),
            now,
        )
    }

    /// Real traffic from OpenClaw's log, when it is followed: a recent success saves the
    /// route's scheduled generation probes.
    pub fn set_traffic(&self, traffic: Option<Arc<crate::traffic::Traffic>>) {
        *self.traffic.write().expect("traffic lock") = traffic;
    }

    /// Calls the executor, with a backstop in case it does not return in time.
    async fn execute(
        &self,
        target: &Target,
        tier: Tier,
        settings: &ScheduleSettings,
    ) -> ProbeResult {
        let limit = secs(settings.probe_timeout_seconds) + TIMEOUT_GRACE;
        let started = Instant::now();
        match tokio::time::timeout(limit, self.executor.execute(target, tier)).await {
            Ok(r) => r,
            Err(_) => ProbeResult {
                latency: started.elapsed(),
                at: self.clock.now(),
                message: Some(format!(
                    "the prober did not return within {}s",
                    limit.as_secs()
                )),
                ..ProbeResult::new(target.id, tier, Class::Timeout, "scheduler_timeout")
            },
        }
    }

    fn count_skip(&self, target: &Target, reason: SkipReason) {
        self.metrics.probe_skipped(&target.provider, reason);
        #[cfg(test)]
        {
            *self
                .skips
                .lock()
                .expect("skips lock")
                .entry((target.provider.clone(), reason))
                .or_default() += 1;
        }
        tracing::debug!(provider = %target.provider, model = %target.model,
            credential = %target.credential_label(), reason = reason.as_str(), "probe skipped");
    }

    /// Records a result in the store and metrics, unless the target left the plan while
    /// the probe was in flight.
    fn record(&self, idx: &Arc<PlanIndex>, id: TargetId, result: &ProbeResult) {
        let key = idx.plan.key(id);
        let current = self.index();
        if !Arc::ptr_eq(&current, idx) && !current.plan.contains_key(key.as_str()) {
            return;
        }
        self.store.record(key, result.clone());
        self.metrics.observe_probe(idx.plan.target(id), result);
    }

    /// After a probe: an early recheck, or the next cycle that probes the target, becomes
    /// its next probe time.
    fn plan_next(
        &self,
        idx: &PlanIndex,
        id: TargetId,
        recheck: Option<Recheck>,
        next: Regular,
        settings: &ScheduleSettings,
    ) {
        let key = idx.plan.key(id);
        let at = match recheck {
            Some(r) => {
                self.schedule_recheck(idx, id, r);
                Some(self.clock.at(r.at))
            }
            // Left out of the metadata cycle: the model tier probes it next.
            None if !idx.in_metadata_cycle(id, settings.metadata_generation_fallback) => {
                self.next_model_probe(idx, id, settings)
            }
            None => {
                next.map(|t| cycle::probe_time(t, idx.jitter(CycleKind::Metadata, id), settings))
            }
        };
        self.store.set_next_probe(key, at);
    }

    /// The next regular metadata tick after now and the interval that follows it.
    fn next_regular(&self, settings: &ScheduleSettings) -> Regular {
        cycle::next_tick(CycleKind::Metadata, settings, self.clock.now())
    }

    /// When the next model-generation cycle probes target `id`; `None` when disabled.
    fn next_model_probe(
        &self,
        idx: &PlanIndex,
        id: TargetId,
        s: &ScheduleSettings,
    ) -> Option<SystemTime> {
        cycle::next_probe(idx, id, CycleKind::ModelGeneration, s, self.clock.now())
    }

    /// A one-off probe of target `id` at `recheck.at`, with the re-check's tier; replaces
    /// a pending one of the same target and tier (or, for a re-check that stands for the
    /// credential, of the same credential: one is enough for every route on it).
    fn schedule_recheck(&self, idx: &PlanIndex, id: TargetId, recheck: Recheck) {
        let target = idx.plan.key(id).clone();
        let key = match recheck.scope {
            RecheckScope::Target => RecheckKey::Target(target.clone(), recheck.tier),
            RecheckScope::Credential => RecheckKey::Credential(idx.plan.credential_key(id).clone()),
        };
        let me = self.me.clone();
        let k = key.clone();
        let mut rechecks = self.tasks.rechecks();
        let handle = tokio::spawn(async move {
            sleep_until(recheck.at).await;
            let Some(me) = me.upgrade() else { return };
            me.tasks.rechecks().remove(&k);
            let idx = me.index();
            let Some(id) = idx.plan.id_of(target.as_str()) else {
                return;
            };
            tracing::debug!(model = %idx.plan.target(id).model_ref(), tier = recheck.tier.as_str(),
                "early recheck after failure");
            let job = Job {
                budget_as: (recheck.scope == RecheckScope::Credential)
                    .then_some(CycleKind::CredentialGeneration),
                ..Job::unscheduled(id, recheck.tier, me.next_regular(&me.settings()))
            };
            // Not sent (the budget is spent, the credential backs off): the failure still
            // wants its re-check, when the budget turns or the gate opens; the cycles
            // alone could leave a recovered route down for hours.
            if let Err(reason) = me.dispatch(&idx, job).await {
                let again = me.books().retry_skipped_at(
                    idx.plan.key(id),
                    idx.plan.credential_key(id),
                    reason,
                    Instant::now(),
                );
                if let Some(at) = again {
                    me.schedule_recheck(&idx, id, Recheck { at, ..recheck });
                    me.store
                        .set_next_probe(idx.plan.key(id), Some(me.clock.at(at)));
                }
            }
        });
        if let Some(old) = rechecks.insert(key, handle.abort_handle()) {
            old.abort();
        }
    }
}

#[cfg(test)]
#[path = "sim_tests.rs"]
mod sim_tests;
