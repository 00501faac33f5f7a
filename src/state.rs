//! The latest known status of every target: written by the scheduler, read by metrics and
//! the landing page. Keyed by [`Target::key`] so state survives reloads that keep the target.

use crate::plan::Target;
use crate::probe::{ProbeResult, Tier};
use crate::verdict::{Observation, TargetEvidence};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard};
use std::time::SystemTime;

/// What is known about one target.
#[derive(Clone, Debug, Default)]
pub struct TargetStatus {
    /// The last probe result of any tier.
    pub last: Option<ProbeResult>,
    /// The last result per tier.
    pub last_by_tier: HashMap<Tier, ProbeResult>,
    /// Per tier, when the current run of results of the same class began (the verdict
    /// tells a lasting metadata failure from one a generation success contradicted).
    pub since_by_tier: HashMap<Tier, SystemTime>,
    pub last_success_at: Option<SystemTime>,
    pub next_probe_at: Option<SystemTime>,
    pub consecutive_failures: u32,
}

impl TargetStatus {
    /// What the verdict needs to know of this target.
    pub fn evidence(&self) -> TargetEvidence<'_> {
        TargetEvidence {
            metadata: self
                .last_by_tier
                .get(&Tier::Metadata)
                .and_then(Observation::of),
            metadata_since: self.since_by_tier.get(&Tier::Metadata).copied(),
            generation: self
                .last_by_tier
                .get(&Tier::Generation)
                .and_then(Observation::of),
            traffic: None,
        }
    }
}

/// Shared status table.
#[derive(Debug, Default)]
pub struct Store {
    inner: RwLock<HashMap<String, TargetStatus>>,
    /// Bumped by every change `/metrics` can see, so a cached exposition knows it is stale.
    version: AtomicU64,
}

/// A read-locked view of the store: statuses are borrowed, not cloned. Hold it only for
/// as long as a render takes; probes waiting to record a result block meanwhile.
pub struct StoreView<'a> {
    map: RwLockReadGuard<'a, HashMap<String, TargetStatus>>,
}

impl StoreView<'_> {
    pub fn get(&self, target: &Target) -> Option<&TargetStatus> {
        self.map.get(&target.key())
    }
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a finished probe of `target`.
    pub fn record(&self, target: &Target, result: ProbeResult) {
        let mut map = self.inner.write().expect("store lock");
        let st = map.entry(target.key()).or_default();
        if result.class.is_ok() {
            st.last_success_at = Some(result.at);
            st.consecutive_failures = 0;
        } else if result.class != crate::class::Class::Skipped {
            st.consecutive_failures = st.consecutive_failures.saturating_add(1);
        }
        let same_run = st
            .last_by_tier
            .get(&result.tier)
            .is_some_and(|prev| prev.class == result.class);
        if !same_run {
            st.since_by_tier.insert(result.tier, result.at);
        }
        st.last_by_tier.insert(result.tier, result.clone());
        st.last = Some(result);
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Changes whenever a result is recorded or entries are dropped.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Borrows every status under one read lock (see [`StoreView`]).
    pub fn read(&self) -> StoreView<'_> {
        StoreView {
            map: self.inner.read().expect("store lock"),
        }
    }

    pub fn set_next_probe(&self, target: &Target, at: Option<SystemTime>) {
        let mut map = self.inner.write().expect("store lock");
        map.entry(target.key()).or_default().next_probe_at = at;
    }

    pub fn get(&self, target: &Target) -> Option<TargetStatus> {
        self.inner
            .read()
            .expect("store lock")
            .get(&target.key())
            .cloned()
    }

    /// Drops entries of targets no longer in the plan (their series disappear).
    pub fn retain_keys(&self, keys: &std::collections::HashSet<String>) {
        self.inner
            .write()
            .expect("store lock")
            .retain(|k, _| keys.contains(k));
        self.version.fetch_add(1, Ordering::Release);
    }
}
