//! Scheduling: cron triggers, and the dispatcher that spreads, budgets and backs off.
//!
//! Two layers, deliberately separate:
//! - **Trigger** ([`Scheduler::run`]): tokio-cron-scheduler turns the cron expressions of
//!   `[schedule]` into ticks. A tick only reads the clock, computes the time to the next tick
//!   of the same expression (the cycle's interval) and spawns a cycle. It never sends
//!   anything itself. tokio-cron-scheduler computes the next tick from *now*, so a missed
//!   tick (suspend, long GC, clock jump) is skipped, not replayed in a burst.
//! - **Dispatcher** ([`Scheduler::run_cycle`], [`Scheduler::spawn_cycle`],
//!   [`Scheduler::probe_now`]): plain tokio code on `tokio::time`, so tests drive a whole
//!   simulated day with a paused clock. It spreads each cycle's probes over
//!   `interval * spread_fraction` (stable per-target jitter), limits concurrency, keeps
//!   `min_key_spacing_seconds` between requests on one credential, honours retry-after and
//!   rate-limit resets, backs off exponentially on rate_limit / overloaded, re-checks failing
//!   targets early, and asks [`budget::Budget`] (the one place that decides) before every
//!   request that can spend tokens.
//!
//! Cycles of one kind never overlap: a tick while the previous cycle of that kind still
//! runs is skipped and logged, not queued.

pub mod backoff;
pub mod budget;
mod dispatcher;
pub mod spread;

pub use budget::Amount;
pub use dispatcher::{Readiness, Scheduler};

use std::time::Duration;

/// The three kinds of cycle, one per cron expression in `[schedule]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CycleKind {
    /// Zero-token metadata probe of every target that has a metadata endpoint (the others
    /// only with `metadata_generation_fallback`, as a generation call on the model's cap).
    Metadata,
    /// One generation probe per credential, on its cheapest model.
    CredentialGeneration,
    /// One generation probe per target (model).
    ModelGeneration,
}

impl CycleKind {
    pub const ALL: [CycleKind; 3] = [
        CycleKind::Metadata,
        CycleKind::CredentialGeneration,
        CycleKind::ModelGeneration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CycleKind::Metadata => "metadata",
            CycleKind::CredentialGeneration => "credential_generation",
            CycleKind::ModelGeneration => "model_generation",
        }
    }

    /// The cron expression for this kind in `settings` (`""` = disabled).
    pub fn cron(self, settings: &crate::config::ScheduleSettings) -> &str {
        match self {
            CycleKind::Metadata => &settings.metadata,
            CycleKind::CredentialGeneration => &settings.credential_generation,
            CycleKind::ModelGeneration => &settings.model_generation,
        }
    }

    /// The tier this kind's probes use.
    pub fn tier(self) -> crate::probe::Tier {
        match self {
            CycleKind::Metadata => crate::probe::Tier::Metadata,
            _ => crate::probe::Tier::Generation,
        }
    }

    /// Interval assumed when the next tick cannot be computed (the defaults' spacing).
    pub fn default_interval(self) -> Duration {
        match self {
            CycleKind::Metadata => Duration::from_secs(300),
            CycleKind::CredentialGeneration => Duration::from_secs(3600),
            CycleKind::ModelGeneration => Duration::from_secs(6 * 3600),
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for CycleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
