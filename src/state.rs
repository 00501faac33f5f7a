//! The latest known status of every target: written by the scheduler, read by metrics and
//! the landing page. The one place probe results are recorded (per target, per tier), and
//! independent of the scheduler: anything that has a result and the target's key can
//! record it. Keyed by [`TargetKey`] so state survives reloads that keep the target.

use crate::plan::{ProbePlan, TargetKey};
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
    inner: RwLock<HashMap<TargetKey, TargetStatus>>,
    /// Bumped by every change `/metrics` can see, so a cached exposition knows it is stale.
    version: AtomicU64,
}

/// A read-locked view of the store: statuses are borrowed, not cloned. Hold it only for
/// as long as a render takes; probes waiting to record a result block meanwhile.
pub struct StoreView<'a> {
    map: RwLockReadGuard<'a, HashMap<TargetKey, TargetStatus>>,
}

impl StoreView<'_> {
    pub fn get(&self, key: &TargetKey) -> Option<&TargetStatus> {
        self.map.get(key)
    }
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a finished probe of the target with `key`.
    pub fn record(&self, key: &TargetKey, result: ProbeResult) {
        let mut map = self.inner.write().expect("store lock");
        let st = map.entry(key.clone()).or_default();
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

    pub fn set_next_probe(&self, key: &TargetKey, at: Option<SystemTime>) {
        let mut map = self.inner.write().expect("store lock");
        map.entry(key.clone()).or_default().next_probe_at = at;
    }

    pub fn get(&self, key: &TargetKey) -> Option<TargetStatus> {
        self.inner.read().expect("store lock").get(key).cloned()
    }

    /// Drops entries of targets not in `plan` (their series disappear).
    pub fn retain_plan(&self, plan: &ProbePlan) {
        self.inner
            .write()
            .expect("store lock")
            .retain(|k, _| plan.contains_key(k.as_str()));
        self.version.fetch_add(1, Ordering::Release);
    }
}
