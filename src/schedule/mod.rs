//! Scheduling: cron triggers, and the dispatcher that spreads, budgets and backs off.
//!
//! A thin async shell over parts that own their state and know nothing of tokio tasks:
//! - **Trigger** ([`trigger`]): tokio-cron-scheduler turns the cron expressions of
//!   `[schedule]` into ticks. A tick only reads the clock, computes the time to the next
//!   tick of the same expression (the cycle's interval) and spawns a cycle.
//! - **Dispatcher** ([`Scheduler`], `dispatcher.rs`): plain tokio code on `tokio::time`, so
//!   the simulations (`sim_tests.rs`) drive a whole day with a paused clock. It spawns
//!   cycles and rechecks, sleeps until each probe is due, holds the concurrency limit,
//!   calls the [`Executor`](crate::probe::Executor) and records the result in
//!   [`Store`](crate::state::Store) and [`Metrics`](crate::metrics::Metrics).
//! - **Books** ([`books`]): the budget ([`budget::Budget`], the one place that decides
//!   whether tokens may be spent; its day's books kept across restarts by [`ledger`]), each
//!   credential's gate ([`backoff`]: retry-after,
//!   rate-limit resets, exponential backoff on rate_limit / overloaded, spacing) and each
//!   target's failure streak; pure `gate`/`admit`/`learn`, and the early re-check rule.
//! - **Plan index** ([`index`]), **readiness** ([`readiness`], with the first-cycle
//!   timeout) and **cycle planning** ([`cycle`], [`spread`]: which targets, at which
//!   offset in the window `interval * spread_fraction`, with what budget headroom).
//!
//! Cycles of one kind never overlap: a tick while the previous cycle of that kind still
//! runs is skipped and logged, not queued.

pub mod backoff;
pub mod books;
pub mod budget;
mod clock;
pub mod cycle;
mod dispatcher;
pub mod index;
pub mod ledger;
pub mod readiness;
pub mod spread;
mod tasks;
pub mod trigger;

pub use budget::Amount;
pub use dispatcher::Scheduler;
pub use readiness::Readiness;

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

    /// Whether this kind runs at all in `settings` (an empty cron expression disables it).
    pub fn enabled(self, settings: &crate::config::ScheduleSettings) -> bool {
        !self.cron(settings).trim().is_empty()
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
