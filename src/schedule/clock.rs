//! The scheduler's wall clock: an anchor wall time plus the `tokio::time` elapsed since the
//! anchor instant. Cron ticks are wall-clock times, probes wait on `tokio::time`; tying one
//! to the other keeps them consistent, also under a paused test clock.

use std::sync::Mutex;
use std::time::SystemTime;
use tokio::time::Instant;

#[derive(Debug)]
pub struct WallClock {
    anchor: Mutex<(Instant, SystemTime)>,
}

impl WallClock {
    pub fn new(now: Instant, wall: SystemTime) -> WallClock {
        WallClock {
            anchor: Mutex::new((now, wall)),
        }
    }

    /// From now on the clock reads `wall` plus the `tokio::time` elapsed since this call.
    pub fn set(&self, wall: SystemTime) {
        *self.anchor.lock().expect("clock lock") = (Instant::now(), wall);
    }

    /// The wall time at `at`.
    pub fn at(&self, at: Instant) -> SystemTime {
        let (i, w) = *self.anchor.lock().expect("clock lock");
        w + at.saturating_duration_since(i)
    }

    pub fn now(&self) -> SystemTime {
        self.at(Instant::now())
    }
}
