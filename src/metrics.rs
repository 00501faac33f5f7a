//! Prometheus metrics. OWNER: exporter helper.
//!
//! Gauges that describe the current plan are computed at scrape time from the plan and the
//! status [`Store`](crate::state::Store), so series of targets that leave the plan disappear.
//! Counters live in a registry that survives reloads.

use crate::plan::{ProbePlan, Target};
use crate::probe::ProbeResult;
use crate::state::Store;
use std::time::SystemTime;

/// What the budget has left, for `clawprobe_budget_remaining{provider,unit}`.
/// `provider` is a provider id or `_global`; `unit` is `requests` or `tokens`.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetRemaining {
    pub provider: String,
    pub unit: &'static str,
    pub remaining: f64,
}

/// Counters and histograms that accumulate across reloads.
#[derive(Debug, Default)]
pub struct Metrics {}

impl Metrics {
    pub fn new() -> Self {
        Metrics {}
    }

    /// Counts a finished probe: probes_total, probe_errors_total, duration, tokens.
    pub fn observe_probe(&self, target: &Target, result: &ProbeResult) {
        let _ = (target, result);
    }

    /// Counts a probe that was not sent; `reason` is `budget`, `backoff` or `retry_after`.
    pub fn probe_skipped(&self, provider: &str, reason: &str) {
        let _ = (provider, reason);
    }

    /// Records the outcome of a config (re)load.
    pub fn set_reload(&self, ok: bool, at: SystemTime) {
        let _ = (ok, at);
    }

    /// The text exposition for `/metrics`.
    pub fn render(&self, plan: &ProbePlan, store: &Store, budget: &[BudgetRemaining]) -> String {
        let _ = (plan, store, budget);
        String::new()
    }
}
