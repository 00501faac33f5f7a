//! Per-credential gates: retry-after, exponential backoff and minimum spacing.
//!
//! Keyed by [`Target::credential_key`](crate::plan::Target::credential_key) (provider + base
//! URL + credential fingerprint), because rate limits, retry-after and key spacing belong
//! to the credential, not to one model. Pure logic: every call takes `now`.

use crate::class::{Class, SkipReason};
use crate::probe::ProbeResult;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Retry-after or reset times further out than this are treated as this: a provider
/// (or a parsing slip) must not silence a credential for a week.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Exponential backoff: `base`, doubling per step, at most `max`.
pub fn backoff_delay(base: Duration, max: Duration, level: u32) -> Duration {
    if level == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32
        .checked_shl(level.saturating_sub(1).min(31))
        .unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(max).min(max)
}

/// The state of one credential.
#[derive(Clone, Debug, Default)]
pub struct CredentialGate {
    /// No request before this (retry-after / rate-limit reset).
    pub retry_until: Option<Instant>,
    /// No request before this (exponential backoff).
    pub backoff_until: Option<Instant>,
    /// Consecutive rate_limit / overloaded results.
    pub backoff_level: u32,
    /// When the last request with this credential was sent.
    pub last_sent: Option<Instant>,
    /// The next free start slot for spreading same-credential probes (reserved ahead).
    pub next_slot: Option<Instant>,
    /// The start an on-demand probe (`/probe`) is waiting for: cycle probes go after it.
    pub claim: Option<Instant>,
}

impl CredentialGate {
    /// Whether a request may be sent now, and if not, why.
    pub fn check(&self, now: Instant) -> Result<(), SkipReason> {
        if self.retry_until.is_some_and(|t| now < t) {
            return Err(SkipReason::RetryAfter);
        }
        if self.backoff_until.is_some_and(|t| now < t) {
            return Err(SkipReason::Backoff);
        }
        Ok(())
    }

    /// When the gate opens (now if it is open).
    pub fn open_at(&self, now: Instant) -> Instant {
        [self.retry_until, self.backoff_until]
            .into_iter()
            .flatten()
            .fold(now, Instant::max)
    }

    /// Reserves a start slot at least `spacing` after the previous reservation.
    pub fn reserve_slot(&mut self, now: Instant, spacing: Duration) -> Instant {
        let slot = self.next_slot.map_or(now, |s| s.max(now));
        self.next_slot = Some(slot + spacing);
        slot
    }

    /// When the next request may start given the spacing to the last one sent.
    pub fn spacing_ready_at(&self, now: Instant, spacing: Duration) -> Instant {
        self.last_sent.map_or(now, |t| (t + spacing).max(now))
    }

    /// When a probe may start: `spacing` after the last request sent and, for a cycle probe,
    /// after an on-demand probe waiting for this credential. An on-demand probe that has to
    /// wait claims the next start: cycle probes reserve their slots ahead and wake exactly at
    /// them, so without the claim a cycle that keeps a credential busy won every start and a
    /// `/probe` waited until its client gave up. A claim its holder did not take within one
    /// spacing (the client went away) is dropped.
    pub fn start_at(&mut self, now: Instant, spacing: Duration, on_demand: bool) -> Instant {
        let ready = self.spacing_ready_at(now, spacing);
        if self.claim.is_some_and(|c| now >= c + spacing) {
            self.claim = None;
        }
        if on_demand {
            if ready > now {
                self.claim = Some(self.claim.map_or(ready, |c| c.min(ready)));
            }
            return ready;
        }
        self.claim.map_or(ready, |c| ready.max(c + spacing))
    }

    /// A probe starts now (after [`Self::start_at`] said it may): its spacing counts from
    /// here, and an on-demand probe gives up a claim that has come due.
    pub fn started(&mut self, now: Instant, on_demand: bool) {
        self.last_sent = Some(now);
        if on_demand {
            self.release_claim(now);
        }
    }

    /// An on-demand probe that may start now will not wait any longer (it starts, or the
    /// budget refused it): its claim, if due, is given up.
    pub fn release_claim(&mut self, now: Instant) {
        if self.claim.is_some_and(|c| c <= now) {
            self.claim = None;
        }
    }

    /// Learns from a finished probe both ways: retry-after and exhausted limits with a
    /// reset time ([`Self::observe_wait`]), and backoff on rate_limit / overloaded, reset by
    /// an ok ([`Self::observe_backoff`]). The books split them: the wait is the key's, the
    /// backoff belongs where the failure does.
    #[cfg(test)]
    pub fn observe(
        &mut self,
        result: &ProbeResult,
        now: Instant,
        wall_now: SystemTime,
        base: Duration,
        max: Duration,
    ) {
        self.observe_wait(result, now, wall_now);
        self.observe_backoff(result.class, now, base, max);
    }

    /// What the answer says about waiting: `retry-after`, or an exhausted limit's reset.
    pub fn observe_wait(&mut self, result: &ProbeResult, now: Instant, wall_now: SystemTime) {
        let mut wait: Option<Duration> = result.rate_limits.retry_after;
        for e in &result.rate_limits.entries {
            if e.remaining.is_some_and(|r| r <= 0.0) {
                if let Some(reset) = e.reset_at {
                    let d = reset.duration_since(wall_now).unwrap_or(Duration::ZERO);
                    wait = Some(wait.map_or(d, |w| w.max(d)));
                }
            }
        }
        if let Some(w) = wait {
            let until = now + w.min(MAX_RETRY_AFTER);
            self.retry_until = Some(self.retry_until.map_or(until, |t| t.max(until)));
        }
    }

    /// The exponential backoff: one step up after a rate limit or overload, reset by a
    /// success.
    pub fn observe_backoff(&mut self, class: Class, now: Instant, base: Duration, max: Duration) {
        match class {
            Class::RateLimit | Class::Overloaded => {
                self.backoff_level = self.backoff_level.saturating_add(1);
                self.backoff_until = Some(now + backoff_delay(base, max, self.backoff_level));
            }
            Class::Ok => {
                self.backoff_level = 0;
                self.backoff_until = None;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Tier;
    use crate::ratelimit::{RateLimitEntry, RateLimitInfo};

    fn result(class: Class, rl: RateLimitInfo) -> ProbeResult {
        ProbeResult {
            rate_limits: rl,
            ..ProbeResult::new(0, Tier::Metadata, class, "")
        }
    }

    #[test]
    fn delay_doubles_and_caps() {
        let b = Duration::from_secs(60);
        let m = Duration::from_secs(3600);
        let d: Vec<u64> = (0..9).map(|l| backoff_delay(b, m, l).as_secs()).collect();
        assert_eq!(d, [0, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff_delay(b, m, 200), m);
    }

    #[test]
    fn rate_limit_backs_off_and_ok_resets() {
        let t = Instant::now();
        let (b, m) = (Duration::from_secs(10), Duration::from_secs(100));
        let mut g = CredentialGate::default();
        g.observe(
            &result(Class::RateLimit, RateLimitInfo::default()),
            t,
            SystemTime::now(),
            b,
            m,
        );
        assert_eq!(
            g.check(t + Duration::from_secs(9)),
            Err(SkipReason::Backoff)
        );
        assert_eq!(g.check(t + Duration::from_secs(10)), Ok(()));
        g.observe(
            &result(Class::Overloaded, RateLimitInfo::default()),
            t,
            SystemTime::now(),
            b,
            m,
        );
        assert_eq!(g.open_at(t), t + Duration::from_secs(20));
        g.observe(
            &result(Class::Ok, RateLimitInfo::default()),
            t,
            SystemTime::now(),
            b,
            m,
        );
        assert_eq!(g.backoff_level, 0);
        assert_eq!(g.check(t), Ok(()));
    }

    #[test]
    fn retry_after_and_exhausted_reset_block() {
        let t = Instant::now();
        let wall = SystemTime::now();
        let (b, m) = (Duration::from_secs(10), Duration::from_secs(100));
        let mut g = CredentialGate::default();
        let rl = RateLimitInfo {
            entries: vec![],
            retry_after: Some(Duration::from_secs(30)),
            ..RateLimitInfo::default()
        };
        g.observe(&result(Class::Auth, rl), t, wall, b, m);
        assert_eq!(
            g.check(t + Duration::from_secs(29)),
            Err(SkipReason::RetryAfter)
        );
        assert_eq!(g.check(t + Duration::from_secs(30)), Ok(()));

        let rl = RateLimitInfo {
            entries: vec![RateLimitEntry {
                resource: "requests".into(),
                limit: Some(100.0),
                remaining: Some(0.0),
                reset_at: Some(wall + Duration::from_secs(90)),
            }],
            retry_after: None,
            ..RateLimitInfo::default()
        };
        g.observe(&result(Class::Ok, rl), t, wall, b, m);
        assert_eq!(
            g.check(t + Duration::from_secs(89)),
            Err(SkipReason::RetryAfter)
        );
        assert_eq!(g.check(t + Duration::from_secs(90)), Ok(()));
    }

    #[test]
    fn slots_are_spaced() {
        let t = Instant::now();
        let s = Duration::from_secs(2);
        let mut g = CredentialGate::default();
        assert_eq!(g.reserve_slot(t, s), t);
        assert_eq!(g.reserve_slot(t, s), t + s);
        assert_eq!(
            g.reserve_slot(t + Duration::from_secs(10), s),
            t + Duration::from_secs(10)
        );
        g.last_sent = Some(t);
        assert_eq!(g.spacing_ready_at(t + Duration::from_secs(1), s), t + s);
    }

    /// A cycle that keeps a credential busy reserves every start ahead; an on-demand probe
    /// that has to wait claims the next start, and the cycle goes after it.
    #[test]
    fn an_on_demand_probe_is_not_starved_by_a_busy_cycle() {
        let t = Instant::now();
        let s = Duration::from_secs(1);
        let at = |n: u64| t + Duration::from_millis(n);
        let mut g = CredentialGate::default();
        // The cycle sends at t and holds the slots t+1 s, t+2 s, ...
        g.reserve_slot(t, s);
        g.started(t, false);
        let cycle_slot = g.reserve_slot(t, s);
        assert_eq!(cycle_slot, at(1000));
        // The on-demand probe arrives at 300 ms: it waits for the spacing, claiming t+1 s.
        assert_eq!(g.start_at(at(300), s, true), at(1000));
        // Both wake at t+1 s; whichever asks first, the cycle probe waits.
        assert_eq!(g.start_at(at(1000), s, false), at(2000));
        assert_eq!(g.start_at(at(1000), s, true), at(1000));
        g.started(at(1000), true);
        assert_eq!(g.claim, None);
        assert_eq!(g.start_at(at(1500), s, false), at(2000));
        // A claim whose holder went away stops holding cycle probes one spacing later.
        g.started(at(2300), false);
        assert_eq!(g.start_at(at(2500), s, true), at(3300));
        assert_eq!(g.start_at(at(3300), s, false), at(4300), "claim still held");
        assert_eq!(
            g.start_at(at(4300), s, false),
            at(4300),
            "stale claim dropped"
        );
        assert_eq!(g.claim, None);
        // No spacing: nobody waits, nothing is claimed.
        let mut g = CredentialGate::default();
        g.started(t, false);
        assert_eq!(g.start_at(t, Duration::ZERO, true), t);
        assert_eq!(g.claim, None);
    }
}
