//! The lane of on-demand probes (`/probe`): a small concurrency limit and a small queue of
//! its own, so probes on demand can never take the server from Prometheus.
//!
//! A `/probe` waits for its provider, up to the probe timeout. Before, 300 concurrent calls to
//! a slow provider held the connection slots and scrapes failed for ~25 of 30 s. Now at most
//! [`CONCURRENCY`] run and [`QUEUE`] wait; anything beyond is answered at once with `429` and
//! `Retry-After`, so its connection is free again in microseconds, and `/metrics` (which
//! never waits on a probe) keeps being served. Pure bookkeeping around two semaphores:
//! tested without a server.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// On-demand probes running at once.
pub const CONCURRENCY: usize = 2;
/// On-demand probes waiting for a running one to finish.
pub const QUEUE: usize = 4;
/// What `Retry-After` says when the lane is full: about one probe's time.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// The lane: admission (running + waiting) and the running slots.
#[derive(Debug)]
pub struct OnDemand {
    admitted: Arc<Semaphore>,
    running: Arc<Semaphore>,
}

impl Default for OnDemand {
    fn default() -> Self {
        OnDemand::new(CONCURRENCY, QUEUE)
    }
}

/// A place in the lane; the probe may run once [`Admission::run_slot`] returns.
#[derive(Debug)]
pub struct Admission {
    _place: OwnedSemaphorePermit,
    running: Arc<Semaphore>,
}

impl Admission {
    /// Waits for a running slot (behind at most [`QUEUE`] others).
    pub async fn run_slot(&self) -> OwnedSemaphorePermit {
        self.running
            .clone()
            .acquire_owned()
            .await
            .expect("the on-demand semaphore is never closed")
    }
}

impl OnDemand {
    pub fn new(concurrency: usize, queue: usize) -> OnDemand {
        let concurrency = concurrency.max(1);
        OnDemand {
            admitted: Arc::new(Semaphore::new(concurrency + queue)),
            running: Arc::new(Semaphore::new(concurrency)),
        }
    }

    /// A place in the lane, or `None` when it is full (answer `429` at once).
    pub fn try_admit(&self) -> Option<Admission> {
        let place = self.admitted.clone().try_acquire_owned().ok()?;
        Some(Admission {
            _place: place,
            running: self.running.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_two_queues_four_and_refuses_the_rest() {
        let lane = OnDemand::default();
        let admitted: Vec<Admission> = (0..CONCURRENCY + QUEUE)
            .map(|_| lane.try_admit().expect("room"))
            .collect();
        assert!(lane.try_admit().is_none(), "full: refused at once");
        let r1 = admitted[0].run_slot().await;
        let _r2 = admitted[1].run_slot().await;
        // A third must wait for a running one.
        let third = tokio::time::timeout(Duration::from_millis(50), admitted[2].run_slot()).await;
        assert!(third.is_err(), "only two run at once");
        drop(r1);
        let _r3 = tokio::time::timeout(Duration::from_millis(50), admitted[2].run_slot())
            .await
            .expect("a slot freed");
        drop(admitted);
        assert!(lane.try_admit().is_some(), "places come back");
    }
}
