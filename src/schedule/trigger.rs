//! The cycle trigger: tokio-cron-scheduler turns the cron expressions of `[schedule]` into
//! ticks. A tick only calls back with its cycle kind; it never sends anything itself.
//! tokio-cron-scheduler computes the next tick from *now*, so a missed tick (suspend, long
//! GC, clock jump) is skipped, not replayed in a burst.

use super::CycleKind;
use crate::config::ScheduleSettings;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::watch;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

/// Runs the cron jobs of `settings()` until `shutdown` turns true (or its sender is
/// dropped), rebuilding them whenever `changed` says the expressions changed.
pub async fn run<S, F>(
    settings: S,
    mut changed: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
    on_tick: F,
) where
    S: Fn() -> ScheduleSettings,
    F: Fn(CycleKind) + Clone + Send + Sync + 'static,
{
    loop {
        changed.borrow_and_update();
        let trigger = match Trigger::start(&settings(), on_tick.clone()).await {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the cron triggers; only the startup cycle and on-demand probes run");
                None
            }
        };
        let stop = tokio::select! {
            r = shutdown.wait_for(|v| *v) => { let _ = r; true }
            r = changed.changed() => r.is_err(),
        };
        if let Some(t) = trigger {
            t.stop().await;
        }
        if stop {
            return;
        }
        tracing::info!("schedule changed; cron triggers rebuilt");
    }
}

/// Running cron jobs, one per non-empty expression.
pub struct Trigger {
    jobs: JobScheduler,
    /// Cleared on stop: a tick already in flight inside tokio-cron-scheduler must not call
    /// back after that.
    active: Arc<AtomicBool>,
}

impl Trigger {
    /// Starts one cron job per non-empty expression of `settings`; each tick calls
    /// `on_tick` with its kind.
    pub async fn start<F>(
        settings: &ScheduleSettings,
        on_tick: F,
    ) -> Result<Trigger, JobSchedulerError>
    where
        F: Fn(CycleKind) + Clone + Send + Sync + 'static,
    {
        let jobs = JobScheduler::new().await?;
        let active = Arc::new(AtomicBool::new(true));
        for kind in CycleKind::ALL {
            let expr = kind.cron(settings).trim().to_string();
            if expr.is_empty() {
                tracing::info!(cycle = %kind, "cycle disabled (empty cron expression)");
                continue;
            }
            let on = active.clone();
            let tick = on_tick.clone();
            let job = Job::new_async(expr.as_str(), move |_id, _jobs| {
                let on = on.clone();
                let tick = tick.clone();
                Box::pin(async move {
                    if on.load(Ordering::SeqCst) {
                        tick(kind);
                    }
                })
            })?;
            jobs.add(job).await?;
            tracing::debug!(cycle = %kind, cron = %expr, "cron trigger added");
        }
        jobs.start().await?;
        Ok(Trigger { jobs, active })
    }

    /// Stops the jobs; no tick calls back after this returns.
    pub async fn stop(mut self) {
        self.active.store(false, Ordering::SeqCst);
        if let Err(e) = self.jobs.shutdown().await {
            tracing::warn!(error = %e, "stopping the cron triggers failed");
        }
    }
}
