//! The generation budget: the ONE place that decides whether a generation probe may be sent.
//!
//! Pure logic (no I/O, no clock of its own: every call takes `now`), so it is unit-tested
//! directly and driven by a paused tokio clock in the scheduler simulation.
//!
//! Rules:
//! - Caps per day on generation requests and tokens, per provider (`provider_*_per_day`,
//!   overridden by `[budget.providers.<id>]`) and global (`global_*_per_day`). A cap of 0
//!   allows nothing: a cap is a promise about spend, so 0 never means "unlimited". (The
//!   finer per-model and per-credential caps below are the exception: they refine these,
//!   which still bound the spend, so 0 there switches the refinement off.)
//! - The day is the UTC calendar day. Every cap resets at 00:00:00 UTC; a probe reserved
//!   before midnight and settled after it counts for the day it was reserved in (only its
//!   reported usage still raises the estimates). The wall time is read once (at creation, or
//!   [`Budget::set_wall_clock`]) and advanced by the monotonic clock passed to every call, so
//!   the books never jump with an NTP step within a run, and a paused test clock drives them.
//! - The day's books survive restarts: with a state file ([`super::ledger`]) they are
//!   restored at creation when they are of the same UTC day, and written whenever a probe is
//!   admitted or spends more than it reserved, so a crash loop cannot spend a cap twice.
//! - A probe *reserves* one request and an estimate of its tokens before it is sent; when
//!   the response arrives the reservation is settled with the tokens the response reported
//!   (`ProbeResult.usage`). The estimate is the largest probe seen for that provider (at
//!   least [`DEFAULT_TOKEN_ESTIMATE`]), so concurrent probes cannot jointly overshoot a cap
//!   unless a provider suddenly reports more tokens than it ever did before.
//! - A caller may ask to leave `headroom` untouched: model-generation probes leave room for
//!   the per-credential probes still due in the window, so a large fleet of models cannot
//!   starve the per-credential checks (billing and key limits are per key).
//! - Finer token caps per model (`model_tokens_per_day`: model-generation, on-demand and
//!   recheck probes of one target, and its metadata probes when they have to generate) and per credential (`credential_tokens_per_day`,
//!   credential-generation probes), on top of the provider and global caps; 0 switches them
//!   off. They reserve a finer estimate: what the target's API style costs
//!   ([`probe_tokens`](crate::probe::cost::probe_tokens): the prompt plus the style's
//!   output cap, the probers' cost model), raised to the largest
//!   usage that target ever reported. The provider-wide estimate (at least
//!   [`DEFAULT_TOKEN_ESTIMATE`]) would let a 50-token cap admit only 2 of the 4 daily
//!   probes of a model that reports 10 tokens each.

use super::ledger::{self, Spent};
use crate::config::BudgetSettings;
use crate::metrics::BudgetRemaining;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Length of one budget window: a UTC day.
pub const WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// The UTC day of `wall`: days since 1970-01-01.
pub fn utc_day(wall: SystemTime) -> i64 {
    match wall.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() / WINDOW.as_secs()) as i64,
        Err(e) => -((e.duration().as_secs().div_ceil(WINDOW.as_secs())) as i64),
    }
}

/// Tokens assumed for a generation probe of a provider never seen before (a one-token
/// completion of a one-word prompt reports about 10).
pub const DEFAULT_TOKEN_ESTIMATE: u64 = 32;

/// The finer cap a generation probe counts against, besides its provider's and the global.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    /// A model-generation, on-demand or recheck probe, or a metadata probe that has to
    /// generate (no metadata endpoint): `model_tokens_per_day`, keyed by
    /// [`Target::key`](crate::plan::Target::key).
    Model(&'a str),
    /// A credential-generation probe: `credential_tokens_per_day`, keyed by
    /// [`Target::credential_key`](crate::plan::Target::credential_key).
    Credential(&'a str),
}

impl Scope<'_> {
    /// The key of this cap's counter: a digest of the target or credential key, so the
    /// books (also on disk) hold no base URL.
    fn owned(self) -> (ScopeKind, String) {
        let (kind, key) = match self {
            Scope::Model(k) => (ScopeKind::Model, k),
            Scope::Credential(k) => (ScopeKind::Credential, k),
        };
        let d = Sha256::digest(key.as_bytes());
        let hex: String = d.iter().take(12).map(|b| format!("{b:02x}")).collect();
        (kind, hex)
    }
}

impl ScopeKind {
    fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Model => "model",
            ScopeKind::Credential => "credential",
        }
    }

    fn parse(s: &str) -> Option<ScopeKind> {
        match s {
            "model" => Some(ScopeKind::Model),
            "credential" => Some(ScopeKind::Credential),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ScopeKind {
    Model,
    Credential,
}

/// One generation probe as the budget sees it.
#[derive(Clone, Copy, Debug)]
pub struct ProbeCost<'a> {
    pub provider: &'a str,
    /// [`Target::key`](crate::plan::Target::key) of the model probed: the largest usage it
    /// reported refines the finer estimate. `""` when unknown.
    pub target: &'a str,
    /// [`probe_tokens`](crate::probe::cost::probe_tokens) of the target's API style.
    pub style_tokens: u64,
    pub scope: Scope<'a>,
}

/// Requests and tokens, used, reserved or to be left free.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amount {
    pub requests: u64,
    pub tokens: u64,
}

/// What a caller asks to leave free after its reservation, per provider and globally.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Headroom {
    pub provider: Amount,
    pub global: Amount,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counter {
    /// Requests sent (reserved or settled) in this window.
    requests: u64,
    /// Tokens reported by settled probes.
    tokens: u64,
    /// Tokens reserved by probes still in flight.
    reserved_tokens: u64,
}

impl Counter {
    fn fits(&self, cap: Amount, want_tokens: u64, headroom: Amount) -> bool {
        let requests = self
            .requests
            .saturating_add(1)
            .saturating_add(headroom.requests);
        let tokens = self
            .tokens
            .saturating_add(self.reserved_tokens)
            .saturating_add(want_tokens)
            .saturating_add(headroom.tokens);
        requests <= cap.requests && tokens <= cap.tokens
    }

    fn used(&self) -> Amount {
        Amount {
            requests: self.requests,
            tokens: self.tokens.saturating_add(self.reserved_tokens),
        }
    }

    /// As written to the books: tokens reserved by probes in flight count as spent.
    fn spent(&self) -> Spent {
        let u = self.used();
        Spent {
            requests: u.requests,
            tokens: u.tokens,
        }
    }

    fn restored(s: Spent) -> Counter {
        Counter {
            requests: s.requests,
            tokens: s.tokens,
            reserved_tokens: 0,
        }
    }
}

/// A granted reservation; hand it back to [`Budget::settle`] when the probe finished.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "settle a reservation"]
pub struct Reservation {
    provider: String,
    /// The UTC day it was reserved in.
    window: i64,
    tokens: u64,
    /// `Target::key`, for the per-target estimate (`""`: none).
    target: String,
    /// The finer cap charged, and the tokens reserved against it.
    scope: Option<(ScopeKind, String)>,
    scope_tokens: u64,
}

/// Per-day generation budget state.
#[derive(Debug)]
pub struct Budget {
    settings: BudgetSettings,
    /// A monotonic instant and the wall time then: the wall clock the days follow.
    anchor: (Instant, SystemTime),
    /// The current UTC day.
    window: i64,
    /// Where the books are kept across restarts (`None`: in memory only).
    state_path: Option<PathBuf>,
    /// The last write of the books failed (logged once).
    persist_failed: std::cell::Cell<bool>,
    global: Counter,
    providers: BTreeMap<String, Counter>,
    /// Per-model and per-credential counters of this window.
    scopes: BTreeMap<(ScopeKind, String), Counter>,
    /// Largest token count a probe of each provider reported (survives windows).
    estimates: BTreeMap<String, u64>,
    /// Largest token count a probe of each target (`Target::key`) reported.
    target_estimates: BTreeMap<String, u64>,
}

impl Budget {
    /// A budget whose day follows the system's wall clock from `now`. With
    /// `settings.state_path`, the day's books are restored from it and kept in it.
    pub fn new(settings: BudgetSettings, now: Instant) -> Self {
        Budget::with_wall_clock(settings, now, SystemTime::now())
    }

    /// [`Budget::new`] with the wall time at `now` given (tests pin it).
    pub fn with_wall_clock(settings: BudgetSettings, now: Instant, wall: SystemTime) -> Self {
        let state_path = settings.state_path.clone();
        let mut b = Budget {
            settings,
            anchor: (now, wall),
            window: utc_day(wall),
            state_path,
            persist_failed: std::cell::Cell::new(false),
            global: Counter::default(),
            providers: BTreeMap::new(),
            scopes: BTreeMap::new(),
            estimates: BTreeMap::new(),
            target_estimates: BTreeMap::new(),
        };
        if let Some(books) = b
            .state_path
            .as_deref()
            .and_then(|p| ledger::load(p, b.window))
        {
            b.restore(books);
        }
        b
    }

    /// From now on the day follows `wall` (the wall time at `now`) plus the monotonic
    /// time since: for a scheduler whose clock was set, e.g. a simulation's.
    pub fn set_wall_clock(&mut self, now: Instant, wall: SystemTime) {
        self.anchor = (now, wall);
        self.roll(now);
    }

    /// The wall time at `now`.
    fn wall_at(&self, now: Instant) -> SystemTime {
        let (i, w) = self.anchor;
        match now.checked_duration_since(i) {
            Some(d) => w + d,
            None => w - i.duration_since(now),
        }
    }

    fn restore(&mut self, books: ledger::Books) {
        self.global = Counter::restored(books.global);
        self.providers = books
            .providers
            .into_iter()
            .map(|(p, s)| (p, Counter::restored(s)))
            .collect();
        self.scopes = books
            .scopes
            .into_iter()
            .filter_map(|(k, s)| {
                let (kind, key) = k.split_once(':')?;
                Some((
                    (ScopeKind::parse(kind)?, key.to_string()),
                    Counter::restored(s),
                ))
            })
            .collect();
        for (p, e) in books.estimates {
            let est = self.estimates.entry(p).or_insert(0);
            *est = (*est).max(e);
        }
    }

    /// The day's books as written to the state file.
    fn books(&self) -> ledger::Books {
        let mut b = ledger::Books::new(self.window);
        b.global = self.global.spent();
        b.providers = self
            .providers
            .iter()
            .map(|(p, c)| (p.clone(), c.spent()))
            .collect();
        b.scopes = self
            .scopes
            .iter()
            .map(|((kind, key), c)| (format!("{}:{key}", kind.as_str()), c.spent()))
            .collect();
        b.estimates = self.estimates.clone();
        b
    }

    /// Writes the day's books, when there is a state file. A failed write is logged and the
    /// books stay in memory: monitoring goes on, the caps hold until a restart.
    fn persist(&self) {
        let Some(path) = &self.state_path else {
            return;
        };
        match ledger::save(path, &self.books()) {
            Ok(()) => self.persist_failed.set(false),
            // Said once, not at every probe, until a write succeeds again.
            Err(e) if !self.persist_failed.replace(true) => {
                tracing::error!(file = %path.display(), error = %e, "cannot write the budget books; daily caps are kept in memory only and start afresh on a restart");
            }
            Err(_) => {}
        }
    }

    /// Forgets the learned estimates of targets no longer in the plan (`keep` says, by
    /// target key, which stay).
    pub fn retain_targets(&mut self, keep: impl Fn(&str) -> bool) {
        self.target_estimates.retain(|k, _| keep(k));
    }

    /// New caps apply at once; what was spent in this window still counts.
    pub fn set_settings(&mut self, settings: BudgetSettings) {
        self.settings = settings;
    }

    /// The caps that apply to `provider`.
    pub fn provider_cap(&self, provider: &str) -> Amount {
        let o = self.settings.providers.get(provider);
        Amount {
            requests: o
                .and_then(|o| o.requests_per_day)
                .unwrap_or(self.settings.provider_requests_per_day),
            tokens: o
                .and_then(|o| o.tokens_per_day)
                .unwrap_or(self.settings.provider_tokens_per_day),
        }
    }

    pub fn global_cap(&self) -> Amount {
        Amount {
            requests: self.settings.global_requests_per_day,
            tokens: self.settings.global_tokens_per_day,
        }
    }

    /// The per-model or per-credential token cap of `scope`; `None` = no finer cap.
    pub fn scope_cap(&self, scope: Scope<'_>) -> Option<u64> {
        let cap = match scope {
            Scope::Model(_) => self.settings.model_tokens_per_day,
            Scope::Credential(_) => self.settings.credential_tokens_per_day,
        };
        (cap > 0).then_some(cap)
    }

    /// Tokens a probe is assumed to cost against its finer cap: its style's cost, or the
    /// most its target ever reported if that is more.
    pub fn probe_estimate(&self, probe: &ProbeCost<'_>) -> u64 {
        self.target_estimates
            .get(probe.target)
            .copied()
            .unwrap_or(0)
            .max(probe.style_tokens)
    }

    /// Tokens a probe of `provider` is assumed to cost before it reports.
    pub fn estimate(&self, provider: &str) -> u64 {
        self.estimates
            .get(provider)
            .copied()
            .unwrap_or(0)
            .max(DEFAULT_TOKEN_ESTIMATE)
    }

    /// When the current day started and ends (after rolling to `now`); the start is `now`
    /// at the earliest when the monotonic clock cannot go back that far.
    pub fn window_bounds(&mut self, now: Instant) -> (Instant, Instant) {
        self.roll(now);
        let wall = self.wall_at(now);
        let into_day = wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| {
                Duration::from_secs(d.as_secs() % WINDOW.as_secs())
                    + Duration::from_nanos(u64::from(d.subsec_nanos()))
            })
            .unwrap_or_default();
        let begin = now.checked_sub(into_day).unwrap_or(now);
        (begin, now + (WINDOW - into_day.min(WINDOW)))
    }

    fn roll(&mut self, now: Instant) {
        let day = utc_day(self.wall_at(now));
        if day != self.window {
            self.window = day;
            self.global = Counter::default();
            self.providers.clear();
            self.scopes.clear();
        }
    }

    /// Reserves one generation probe against the provider and global caps (plus
    /// `headroom`) and against its finer cap (`probe.scope`), if all of them fit it;
    /// `None` means over budget: skip the probe, do not send it.
    pub fn try_reserve_probe(
        &mut self,
        probe: &ProbeCost<'_>,
        headroom: Headroom,
        now: Instant,
    ) -> Option<Reservation> {
        self.roll(now);
        let provider = probe.provider;
        let tokens = self.estimate(provider);
        let pcap = self.provider_cap(provider);
        let gcap = self.global_cap();
        let pc = self.providers.get(provider).copied().unwrap_or_default();
        if !pc.fits(pcap, tokens, headroom.provider)
            || !self.global.fits(gcap, tokens, headroom.global)
        {
            return None;
        }
        let scope = self
            .scope_cap(probe.scope)
            .map(|cap| (cap, probe.scope.owned()));
        let scope_tokens = self.probe_estimate(probe);
        if let Some((cap, key)) = &scope {
            let sc = self.scopes.get(key).copied().unwrap_or_default();
            let cap = Amount {
                requests: u64::MAX,
                tokens: *cap,
            };
            if !sc.fits(cap, scope_tokens, Amount::default()) {
                return None;
            }
        }
        for c in [
            self.providers.entry(provider.to_string()).or_default(),
            &mut self.global,
        ] {
            c.requests += 1;
            c.reserved_tokens += tokens;
        }
        let scope = scope.map(|(_, key)| key);
        if let Some(key) = &scope {
            let c = self.scopes.entry(key.clone()).or_default();
            c.requests += 1;
            c.reserved_tokens += scope_tokens;
        }
        let r = Reservation {
            provider: provider.to_string(),
            window: self.window,
            tokens,
            target: probe.target.to_string(),
            scope_tokens: if scope.is_some() { scope_tokens } else { 0 },
            scope,
        };
        // On disk before the probe is sent: a crash after sending still counts it.
        self.persist();
        Some(r)
    }

    /// Settles a reservation with the tokens the response reported. A reservation from an
    /// earlier window only updates the estimate (that window's counters are gone).
    pub fn settle(&mut self, r: Reservation, actual_tokens: u64, now: Instant) {
        self.roll(now);
        let est = self.estimates.entry(r.provider.clone()).or_insert(0);
        *est = (*est).max(actual_tokens);
        if !r.target.is_empty() {
            let est = self.target_estimates.entry(r.target.clone()).or_insert(0);
            *est = (*est).max(actual_tokens);
        }
        if r.window != self.window {
            return;
        }
        let had_scope = r.scope.is_some();
        for c in [
            self.providers.entry(r.provider.clone()).or_default(),
            &mut self.global,
        ] {
            c.reserved_tokens = c.reserved_tokens.saturating_sub(r.tokens);
            c.tokens = c.tokens.saturating_add(actual_tokens);
        }
        if let Some(key) = r.scope {
            let c = self.scopes.entry(key).or_default();
            c.reserved_tokens = c.reserved_tokens.saturating_sub(r.scope_tokens);
            c.tokens = c.tokens.saturating_add(actual_tokens);
        }
        // The books on disk counted the reservation; written again when the settlement
        // differs from it: more, so a restart counts it, and less (a refused request
        // spends nothing), so a restart does not charge tokens that were never spent.
        if actual_tokens != r.tokens || (had_scope && actual_tokens != r.scope_tokens) {
            self.persist();
        }
    }

    /// Counts a request that spent tokens without a reservation: a metadata probe the prober
    /// had to send as a generation call (no metadata endpoint). The scheduler learns from
    /// it and reserves for that target from then on; this only keeps the books honest.
    pub fn charge(&mut self, provider: &str, tokens: u64, now: Instant) {
        self.count_charge(provider, tokens, now);
        self.persist();
    }

    fn count_charge(&mut self, provider: &str, tokens: u64, now: Instant) {
        self.roll(now);
        let est = self.estimates.entry(provider.to_string()).or_insert(0);
        *est = (*est).max(tokens);
        for c in [
            self.providers.entry(provider.to_string()).or_default(),
            &mut self.global,
        ] {
            c.requests = c.requests.saturating_add(1);
            c.tokens = c.tokens.saturating_add(tokens);
        }
    }

    /// Like [`Budget::charge`], and also against the finer cap of `probe.scope` (and the
    /// target's estimate): a metadata probe that generated unexpectedly spent tokens on
    /// that model.
    pub fn charge_probe(&mut self, probe: &ProbeCost<'_>, tokens: u64, now: Instant) {
        self.count_charge(probe.provider, tokens, now);
        if !probe.target.is_empty() {
            let est = self
                .target_estimates
                .entry(probe.target.to_string())
                .or_insert(0);
            *est = (*est).max(tokens);
        }
        {
            let c = self.scopes.entry(probe.scope.owned()).or_default();
            c.requests = c.requests.saturating_add(1);
            c.tokens = c.tokens.saturating_add(tokens);
        }
        self.persist();
    }

    /// Spent (and reserved) in the current window against the finer cap of `scope`: only
    /// the probes charged to it (a model's credential-generation probes count for its
    /// credential, not for the model).
    pub fn used_scope(&mut self, scope: Scope<'_>, now: Instant) -> Amount {
        self.roll(now);
        self.scopes
            .get(&scope.owned())
            .map(Counter::used)
            .unwrap_or_default()
    }

    /// Spent (and reserved) in the current window by `provider`.
    pub fn used(&mut self, provider: &str, now: Instant) -> Amount {
        self.roll(now);
        self.providers
            .get(provider)
            .map(Counter::used)
            .unwrap_or_default()
    }

    pub fn used_global(&mut self, now: Instant) -> Amount {
        self.roll(now);
        self.global.used()
    }

    /// Remaining budget for `_global` and for each of `providers` (plus every provider
    /// with an override or with spend in this window).
    pub fn remaining<'a>(
        &mut self,
        providers: impl IntoIterator<Item = &'a str>,
        now: Instant,
    ) -> Vec<BudgetRemaining> {
        self.roll(now);
        let mut names: BTreeSet<String> = providers.into_iter().map(str::to_string).collect();
        names.extend(self.settings.providers.keys().cloned());
        names.extend(self.providers.keys().cloned());
        let mut out = Vec::new();
        let mut push = |name: &str, cap: Amount, used: Amount| {
            out.push(BudgetRemaining {
                provider: name.to_string(),
                unit: "requests",
                remaining: cap.requests.saturating_sub(used.requests) as f64,
            });
            out.push(BudgetRemaining {
                provider: name.to_string(),
                unit: "tokens",
                remaining: cap.tokens.saturating_sub(used.tokens) as f64,
            });
        };
        push("_global", self.global_cap(), self.global.used());
        for name in &names {
            let used = self
                .providers
                .get(name)
                .map(Counter::used)
                .unwrap_or_default();
            push(name, self.provider_cap(name), used);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderBudget;
    use crate::plan::ApiStyle;
    use crate::probe::cost::probe_tokens;

    /// Reserves a probe of `provider` that names no model with a finer cap of its own (the
    /// settings of these tests leave the finer caps off, or `""` has spent nothing).
    fn reserve(
        b: &mut Budget,
        provider: &str,
        headroom: Headroom,
        now: Instant,
    ) -> Option<Reservation> {
        let probe = ProbeCost {
            provider,
            target: "",
            style_tokens: 0,
            scope: Scope::Model(""),
        };
        b.try_reserve_probe(&probe, headroom, now)
    }

    fn settings(gr: u64, gt: u64, pr: u64, pt: u64) -> BudgetSettings {
        BudgetSettings {
            global_requests_per_day: gr,
            global_tokens_per_day: gt,
            provider_requests_per_day: pr,
            provider_tokens_per_day: pt,
            model_tokens_per_day: 0,
            credential_tokens_per_day: 0,
            providers: BTreeMap::new(),
            ..BudgetSettings::default()
        }
    }

    /// 2026-11-27T00:00:00Z.
    fn midnight() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_737_600)
    }

    impl Budget {
        /// A budget whose day starts at `now` (midnight UTC), so `now + WINDOW - 1 s` is
        /// still the same day whatever the real time.
        fn at_midnight(settings: BudgetSettings, now: Instant) -> Budget {
            Budget::with_wall_clock(settings, now, midnight())
        }
    }

    #[test]
    fn the_day_is_the_utc_calendar_day() {
        assert_eq!(utc_day(midnight()), 20_784);
        assert_eq!(utc_day(midnight() - Duration::from_secs(1)), 20_783);
        assert_eq!(utc_day(SystemTime::UNIX_EPOCH - Duration::from_secs(1)), -1);
        // Started at 23:59:00 UTC: a minute later the caps reset, not 24 hours later.
        let t0 = Instant::now();
        let late = midnight() - Duration::from_secs(60);
        let mut b = Budget::with_wall_clock(settings(100, 100_000, 1, 100_000), t0, late);
        let r = reserve(&mut b, "p", Headroom::default(), t0).unwrap();
        assert!(reserve(
            &mut b,
            "p",
            Headroom::default(),
            t0 + Duration::from_secs(30)
        )
        .is_none());
        assert_eq!(
            b.window_bounds(t0).1,
            t0 + Duration::from_secs(60),
            "the window ends at midnight"
        );
        let t1 = t0 + Duration::from_secs(61);
        // Settled after midnight: it counted for the day it was reserved in.
        b.settle(r, 10, t1);
        assert_eq!(b.used("p", t1), Amount::default());
        assert!(
            reserve(&mut b, "p", Headroom::default(), t1).is_some(),
            "a new UTC day"
        );
    }

    /// The day's books survive a restart (a new Budget on the same state file), not a day.
    #[test]
    fn books_are_restored_on_the_same_day_only() {
        let d = tempfile::tempdir().unwrap();
        let with_file = |s: BudgetSettings| BudgetSettings {
            state_path: Some(d.path().join("state/budget.json")),
            ..s
        };
        let t0 = Instant::now();
        let wall = midnight() + Duration::from_secs(3600);
        let s = with_file(scoped(20, 0));
        let mut b = Budget::with_wall_clock(s.clone(), t0, wall);
        let p = cost(
            "m",
            &ApiStyle::OpenAiCompletions,
            Scope::Model("http://u:pw@h/v1|m"),
        );
        let r = b.try_reserve_probe(&p, Headroom::default(), t0).unwrap();
        // Killed with the probe in flight: its reservation was written before it was sent.
        drop(r);
        drop(b);
        let text = std::fs::read_to_string(d.path().join("state/budget.json")).unwrap();
        assert!(!text.contains("pw@") && !text.contains("http"), "{text}");
        let mut again = Budget::with_wall_clock(s.clone(), t0, wall + Duration::from_secs(60));
        assert_eq!(
            again.used_scope(p.scope, t0),
            Amount {
                requests: 1,
                tokens: 9
            }
        );
        assert_eq!(again.used("openai", t0).requests, 1);
        // 9 spent + 9 fits 20, then no more: the cap holds across the restart.
        assert_eq!(fill(&mut again, &p, 9, t0), 1);
        let restarted = Budget::with_wall_clock(s.clone(), t0, wall + Duration::from_secs(120));
        let mut restarted = restarted;
        assert_eq!(fill(&mut restarted, &p, 9, t0), 0);
        // The next UTC day starts fresh.
        let mut tomorrow = Budget::with_wall_clock(s, t0, wall + WINDOW);
        assert_eq!(tomorrow.used_global(t0), Amount::default());
        assert_eq!(fill(&mut tomorrow, &p, 9, t0), 2);
    }

    /// A settlement below the reservation (a refused request spends nothing) reaches the
    /// file too: a restart must not charge tokens that were never spent.
    #[test]
    fn a_refund_is_written_so_a_restart_does_not_charge_it() {
        let d = tempfile::tempdir().unwrap();
        let s = BudgetSettings {
            state_path: Some(d.path().join("budget.json")),
            ..scoped(20, 0)
        };
        let t0 = Instant::now();
        let wall = midnight() + Duration::from_secs(3600);
        let mut b = Budget::with_wall_clock(s.clone(), t0, wall);
        let p = cost("m", &ApiStyle::OpenAiCompletions, Scope::Model("k"));
        let r = b.try_reserve_probe(&p, Headroom::default(), t0).unwrap();
        b.settle(r, 0, t0);
        drop(b);
        let mut again = Budget::with_wall_clock(s, t0, wall + Duration::from_secs(60));
        assert_eq!(
            again.used_scope(p.scope, t0),
            Amount {
                requests: 1,
                tokens: 0
            }
        );
    }

    #[test]
    fn provider_request_cap_is_enforced_and_others_unaffected() {
        let now = Instant::now();
        let mut b = Budget::at_midnight(settings(100, 100_000, 3, 100_000), now);
        for _ in 0..3 {
            let r = reserve(&mut b, "openai", Headroom::default(), now).expect("fits");
            b.settle(r, 10, now);
        }
        assert!(reserve(&mut b, "openai", Headroom::default(), now).is_none());
        assert!(reserve(&mut b, "anthropic", Headroom::default(), now).is_some());
        assert_eq!(
            b.used("openai", now),
            Amount {
                requests: 3,
                tokens: 30
            }
        );
    }

    #[test]
    fn global_caps_span_providers() {
        let now = Instant::now();
        let mut b = Budget::at_midnight(settings(2, 100_000, 10, 100_000), now);
        let r1 = reserve(&mut b, "a", Headroom::default(), now).unwrap();
        let r2 = reserve(&mut b, "b", Headroom::default(), now).unwrap();
        assert!(reserve(&mut b, "c", Headroom::default(), now).is_none());
        b.settle(r1, 5, now);
        b.settle(r2, 5, now);
        // Settled requests still count against the global cap.
        assert!(reserve(&mut b, "c", Headroom::default(), now).is_none());
        assert_eq!(b.used_global(now).requests, 2);
    }

    #[test]
    fn tokens_reserve_an_estimate_then_settle_to_reported_usage() {
        let now = Instant::now();
        // 100 tokens/day: with the default estimate of 32, three reservations fit at once.
        let mut b = Budget::at_midnight(settings(100, 100_000, 100, 100), now);
        let rs: Vec<_> = (0..3)
            .map(|_| reserve(&mut b, "p", Headroom::default(), now).unwrap())
            .collect();
        assert!(
            reserve(&mut b, "p", Headroom::default(), now).is_none(),
            "96 reserved + 32 > 100"
        );
        for r in rs {
            b.settle(r, 10, now);
        }
        assert_eq!(b.used("p", now).tokens, 30);
        // Estimate stays at the default floor while reported usage is smaller.
        assert_eq!(b.estimate("p"), DEFAULT_TOKEN_ESTIMATE);
        let r = reserve(&mut b, "p", Headroom::default(), now).unwrap();
        b.settle(r, 60, now);
        assert_eq!(
            b.estimate("p"),
            60,
            "largest probe seen becomes the estimate"
        );
        assert!(
            reserve(&mut b, "p", Headroom::default(), now).is_none(),
            "90 + 60 > 100"
        );
    }

    #[test]
    fn per_provider_override_wins() {
        let now = Instant::now();
        let mut s = settings(100, 100_000, 50, 100_000);
        s.providers.insert(
            "openai".into(),
            ProviderBudget {
                requests_per_day: Some(1),
                tokens_per_day: None,
            },
        );
        let mut b = Budget::at_midnight(s, now);
        assert_eq!(
            b.provider_cap("openai"),
            Amount {
                requests: 1,
                tokens: 100_000
            }
        );
        assert_eq!(
            b.provider_cap("groq"),
            Amount {
                requests: 50,
                tokens: 100_000
            }
        );
        let r = reserve(&mut b, "openai", Headroom::default(), now).unwrap();
        b.settle(r, 1, now);
        assert!(reserve(&mut b, "openai", Headroom::default(), now).is_none());
    }

    #[test]
    fn zero_cap_allows_nothing() {
        let now = Instant::now();
        let mut b = Budget::at_midnight(settings(0, 0, 0, 0), now);
        assert!(reserve(&mut b, "p", Headroom::default(), now).is_none());
    }

    #[test]
    fn window_rolls_after_24h_and_late_settle_is_ignored() {
        let t0 = Instant::now();
        let mut b = Budget::at_midnight(settings(100, 100_000, 1, 100_000), t0);
        let r = reserve(&mut b, "p", Headroom::default(), t0).unwrap();
        assert!(reserve(
            &mut b,
            "p",
            Headroom::default(),
            t0 + WINDOW - Duration::from_secs(1)
        )
        .is_none());
        let t1 = t0 + WINDOW;
        assert_eq!(b.window_bounds(t1), (t1, t1 + WINDOW));
        // The old reservation settles into the old window: nothing counted now.
        b.settle(r, 20, t1);
        assert_eq!(b.used("p", t1), Amount::default());
        assert!(reserve(&mut b, "p", Headroom::default(), t1).is_some());
    }

    #[test]
    fn headroom_is_left_free() {
        let now = Instant::now();
        let mut b = Budget::at_midnight(settings(100, 100_000, 5, 100_000), now);
        let keep = Headroom {
            provider: Amount {
                requests: 3,
                tokens: 0,
            },
            global: Amount::default(),
        };
        let mut granted = 0;
        while let Some(r) = reserve(&mut b, "p", keep, now) {
            b.settle(r, 1, now);
            granted += 1;
        }
        assert_eq!(granted, 2, "5 requests minus 3 kept free");
        // A caller without headroom (the per-credential probe) still gets the rest.
        assert!(reserve(&mut b, "p", Headroom::default(), now).is_some());
    }

    #[test]
    fn remaining_lists_global_and_providers() {
        let now = Instant::now();
        let mut b = Budget::at_midnight(settings(10, 1000, 4, 100), now);
        let r = reserve(&mut b, "openai", Headroom::default(), now).unwrap();
        b.settle(r, 7, now);
        let rem = b.remaining(["openai", "anthropic"], now);
        let get = |p: &str, u: &str| {
            rem.iter()
                .find(|x| x.provider == p && x.unit == u)
                .map(|x| x.remaining)
                .unwrap()
        };
        assert_eq!(get("_global", "requests"), 9.0);
        assert_eq!(get("_global", "tokens"), 993.0);
        assert_eq!(get("openai", "requests"), 3.0);
        assert_eq!(get("openai", "tokens"), 93.0);
        assert_eq!(get("anthropic", "requests"), 4.0);
    }
    fn scoped(model: u64, credential: u64) -> BudgetSettings {
        BudgetSettings {
            model_tokens_per_day: model,
            credential_tokens_per_day: credential,
            ..settings(10_000, 1_000_000, 10_000, 1_000_000)
        }
    }

    fn cost<'a>(target: &'a str, api: &ApiStyle, scope: Scope<'a>) -> ProbeCost<'a> {
        ProbeCost {
            provider: "openai",
            target,
            style_tokens: probe_tokens(api),
            scope,
        }
    }

    /// Reserves and settles with `reported` tokens until refused; returns how many went.
    fn fill(b: &mut Budget, probe: &ProbeCost<'_>, reported: u64, now: Instant) -> u64 {
        let mut n = 0;
        while let Some(r) = b.try_reserve_probe(probe, Headroom::default(), now) {
            b.settle(r, reported, now);
            n += 1;
            assert!(n < 1000, "cap never bound");
        }
        n
    }

    #[test]
    fn model_cap_admits_by_style_and_reported_usage() {
        let now = Instant::now();
        let mut b = Budget::at_midnight(scoped(50, 250), now);
        // Chat style: estimate 9, reports 10 → 5 × 10 = 50 fits, the 6th would be 60.
        let chat = cost("chat", &ApiStyle::OpenAiCompletions, Scope::Model("chat"));
        assert_eq!(b.probe_estimate(&chat), 9);
        assert_eq!(fill(&mut b, &chat, 10, now), 5);
        assert_eq!(b.used_scope(Scope::Model("chat"), now).tokens, 50);
        // Responses style: estimate 24 → 2 probes (48), a 3rd would be 72.
        let resp = cost("resp", &ApiStyle::OpenAiResponses, Scope::Model("resp"));
        assert_eq!(b.probe_estimate(&resp), 24);
        assert_eq!(fill(&mut b, &resp, 24, now), 2);
        // The provider is far from its caps: only the model caps refused.
        assert_eq!(b.used("openai", now).requests, 7);
        assert!(reserve(&mut b, "openai", Headroom::default(), now).is_some());
    }

    #[test]
    fn reported_usage_raises_the_finer_estimate() {
        let now = Instant::now();
        let mut b = Budget::at_midnight(scoped(100, 0), now);
        let p = cost("t", &ApiStyle::OpenAiCompletions, Scope::Model("t"));
        let r = b.try_reserve_probe(&p, Headroom::default(), now).unwrap();
        // Reserved the style estimate while in flight.
        assert_eq!(b.used_scope(Scope::Model("t"), now).tokens, 9);
        b.settle(r, 40, now);
        assert_eq!(b.probe_estimate(&p), 40);
        // 40 spent + 40 estimated fits 100; then 80 + 40 does not.
        assert_eq!(fill(&mut b, &p, 40, now), 1);
        assert_eq!(b.used_scope(Scope::Model("t"), now).tokens, 80);
    }

    #[test]
    fn credential_and_model_caps_are_separate_and_zero_means_no_cap() {
        let now = Instant::now();
        let mut b = Budget::at_midnight(scoped(50, 250), now);
        let api = ApiStyle::OpenAiCompletions;
        // The credential tier's model: its credential probes do not eat its model cap.
        let cred = cost("mini", &api, Scope::Credential("key-1"));
        assert_eq!(fill(&mut b, &cred, 10, now), 25);
        assert_eq!(b.used_scope(Scope::Credential("key-1"), now).tokens, 250);
        assert_eq!(b.used_scope(Scope::Model("mini"), now).tokens, 0);
        let model = cost("mini", &api, Scope::Model("mini"));
        assert_eq!(fill(&mut b, &model, 10, now), 5);
        // Another credential has its own cap.
        let other = cost("x", &api, Scope::Credential("key-2"));
        assert!(b
            .try_reserve_probe(&other, Headroom::default(), now)
            .is_some());
        // 0 = no finer cap: only the provider cap (here 30 requests) binds.
        let mut b = Budget::at_midnight(
            BudgetSettings {
                provider_requests_per_day: 30,
                ..scoped(0, 0)
            },
            now,
        );
        assert_eq!(b.scope_cap(Scope::Model("mini")), None);
        assert_eq!(fill(&mut b, &model, 10, now), 30);
        assert_eq!(b.used_scope(Scope::Model("mini"), now), Amount::default());
    }

    #[test]
    fn finer_caps_reset_with_the_window() {
        let t0 = Instant::now();
        let mut b = Budget::at_midnight(scoped(24, 0), t0);
        let p = cost("r", &ApiStyle::OpenAiResponses, Scope::Model("r"));
        // A reservation in flight holds the cap: nothing else fits until it settles.
        let r = b.try_reserve_probe(&p, Headroom::default(), t0).unwrap();
        assert!(b.try_reserve_probe(&p, Headroom::default(), t0).is_none());
        b.settle(r, 24, t0);
        assert_eq!(b.used_scope(Scope::Model("r"), t0).tokens, 24);
        assert_eq!(fill(&mut b, &p, 24, t0), 0);
        let late = t0 + WINDOW - Duration::from_secs(1);
        assert!(b.try_reserve_probe(&p, Headroom::default(), late).is_none());
        assert_eq!(fill(&mut b, &p, 24, t0 + WINDOW), 1, "a new day");
    }

    #[test]
    fn provider_caps_still_bind_scoped_probes() {
        let now = Instant::now();
        let mut b = Budget::at_midnight(
            BudgetSettings {
                provider_requests_per_day: 1,
                ..scoped(1000, 1000)
            },
            now,
        );
        let p = cost("t", &ApiStyle::OpenAiCompletions, Scope::Model("t"));
        assert_eq!(fill(&mut b, &p, 10, now), 1);
        // The refused probe reserved nothing against its model cap.
        assert_eq!(b.used_scope(Scope::Model("t"), now).tokens, 10);
    }

    #[test]
    fn charge_probe_counts_against_the_model_cap() {
        let now = Instant::now();
        let mut b = Budget::at_midnight(scoped(50, 250), now);
        let probe = cost(
            "together",
            &ApiStyle::OpenAiCompletions,
            Scope::Model("together"),
        );
        b.charge_probe(&probe, 10, now);
        assert_eq!(b.used_scope(Scope::Model("together"), now).tokens, 10);
        assert_eq!(b.used("openai", now).tokens, 10);
        assert_eq!(b.used_global(now).tokens, 10);
        // The reported usage raises the target's estimate; 4 more of 10 fit the 50.
        assert_eq!(b.probe_estimate(&probe), 10);
        assert_eq!(fill(&mut b, &probe, 10, now), 4);
    }
}
