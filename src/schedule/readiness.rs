//! Readiness (`/readyz`): whether the exporter has a first picture, and what it still waits
//! for. Pure state: every call takes `now`, the scheduler keeps it behind its lock and logs
//! the changes [`ReadinessTracker::evaluate`] reports.
//!
//! Ready once the plan is loaded and every credential's first probe finished (any result:
//! an error is a first picture too), or the whole first metadata cycle finished; or, as the
//! upper bound, `server.first_cycle_timeout_seconds` after start. Once ready from the probes
//! it stays ready: a reload that adds credentials does not take a serving exporter out of
//! rotation.

use crate::plan::CredentialKey;
use std::collections::HashSet;
use std::time::Duration;
use tokio::time::Instant;

/// Whether the exporter has a first picture, and what it still waits for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Ready (see the module docs).
    pub ready: bool,
    /// A plan was set.
    pub plan_loaded: bool,
    /// The first metadata cycle finished.
    pub first_cycle_done: bool,
    /// Credentials waited for in the current plan.
    pub credentials: usize,
    /// Of those, how many had their first probe finish.
    pub credentials_probed: usize,
}

impl Readiness {
    /// One line for `/readyz` and logs: `ready`, or what is still missing.
    pub fn describe(&self) -> String {
        if self.ready {
            "ready".into()
        } else if !self.plan_loaded {
            "not ready: the probe plan is not loaded yet".into()
        } else {
            format!(
                "not ready: waiting for the first probe of {} of {} credentials",
                self.credentials.saturating_sub(self.credentials_probed),
                self.credentials
            )
        }
    }
}

/// What changed in an evaluation, for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Ready from the probes (or the first cycle), for the first time.
    Ready,
    /// Ready because `first_cycle_timeout` passed, for the first time.
    TimedOut,
}

impl Change {
    /// The log line for this change: `targets` in the plan, `elapsed` since start.
    pub fn log(self, r: &Readiness, targets: usize, elapsed: Duration) {
        match self {
            Change::Ready => tracing::info!(
                credentials = r.credentials,
                targets,
                first_cycle_done = r.first_cycle_done,
                elapsed_ms = elapsed.as_millis() as u64,
                "ready: every credential has had its first probe"
            ),
            Change::TimedOut => tracing::warn!(
                credentials = r.credentials,
                credentials_probed = r.credentials_probed,
                "ready after server.first_cycle_timeout_seconds; {}",
                Readiness {
                    ready: false,
                    ..r.clone()
                }
                .describe()
                .trim_start_matches("not ready: ")
            ),
        }
    }
}

/// The state behind [`Readiness`].
#[derive(Debug)]
pub struct ReadinessTracker {
    started: Instant,
    /// `server.first_cycle_timeout_seconds`; `None`: no upper bound.
    timeout: Option<Duration>,
    plan_loaded: bool,
    first_cycle_done: bool,
    /// Credentials whose first probe finished (any tier, any result).
    probed: HashSet<CredentialKey>,
    /// Latched: ready from the probes once.
    ready: bool,
    timeout_reported: bool,
}

impl ReadinessTracker {
    pub fn new(started: Instant) -> ReadinessTracker {
        ReadinessTracker {
            started,
            timeout: None,
            plan_loaded: false,
            first_cycle_done: false,
            probed: HashSet::new(),
            ready: false,
            timeout_reported: false,
        }
    }

    /// When the exporter started, for the time-to-ready log line.
    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    pub fn plan_loaded(&mut self) {
        self.plan_loaded = true;
    }

    pub fn first_cycle_done(&mut self) {
        self.first_cycle_done = true;
    }

    pub fn is_first_cycle_done(&self) -> bool {
        self.first_cycle_done
    }

    /// Notes that a probe on `credential` finished; `true` when it was its first and
    /// readiness is not latched yet (worth evaluating again).
    pub fn probed(&mut self, credential: &CredentialKey) -> bool {
        let new = !self.probed.contains(credential) && self.probed.insert(credential.clone());
        new && !self.ready
    }

    /// Readiness now, waiting for the credentials in `waited`; latches readiness from the
    /// probes and reports what changed.
    pub fn evaluate(
        &mut self,
        waited: &HashSet<CredentialKey>,
        now: Instant,
    ) -> (Readiness, Option<Change>) {
        let credentials = waited.len();
        let credentials_probed = waited.iter().filter(|k| self.probed.contains(*k)).count();
        let from_probes =
            self.plan_loaded && (self.first_cycle_done || credentials_probed >= credentials);
        let mut change = None;
        if from_probes && !self.ready {
            self.ready = true;
            change = Some(Change::Ready);
        }
        let mut r = Readiness {
            ready: self.ready,
            plan_loaded: self.plan_loaded,
            first_cycle_done: self.first_cycle_done,
            credentials,
            credentials_probed,
        };
        let timed_out = self
            .timeout
            .is_some_and(|t| now.saturating_duration_since(self.started) >= t);
        // Latched too (`timeout_reported`): a reload that raises the timeout must not take a
        // serving exporter out of rotation again.
        if !r.ready && (timed_out || self.timeout_reported) {
            if !self.timeout_reported {
                self.timeout_reported = true;
                change = Some(Change::TimedOut);
            }
            r.ready = true;
        }
        (r, change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ApiStyle, Target};
    use crate::probe::test_support::target;

    fn cred(model: &str, key: &str) -> CredentialKey {
        let mut t: Target = target("openai", ApiStyle::OpenAiCompletions, "http://h/v1", model);
        t.credential.as_mut().unwrap().secret = crate::secret::Secret::new(key);
        CredentialKey::of(&t)
    }

    #[test]
    fn ready_by_timeout_is_latched_too() {
        let t0 = Instant::now();
        let mut r = ReadinessTracker::new(t0);
        r.set_timeout(Some(Duration::from_secs(10)));
        r.plan_loaded();
        let waited: HashSet<_> = [cred("m", "ka")].into();
        assert!(!r.evaluate(&waited, t0).0.ready);
        let (now, change) = r.evaluate(&waited, t0 + Duration::from_secs(10));
        assert!(now.ready);
        assert_eq!(change, Some(Change::TimedOut));
        // A reload raises the timeout: still ready, and the change is not reported again.
        r.set_timeout(Some(Duration::from_secs(3600)));
        assert_eq!(
            r.evaluate(&waited, t0 + Duration::from_secs(11)),
            (
                Readiness {
                    ready: true,
                    plan_loaded: true,
                    first_cycle_done: false,
                    credentials: 1,
                    credentials_probed: 0
                },
                None
            )
        );
    }

    #[test]
    fn ready_when_every_waited_credential_was_probed_then_latched() {
        let t0 = Instant::now();
        let mut r = ReadinessTracker::new(t0);
        let (a, b) = (cred("m", "ka"), cred("m", "kb"));
        let waited: HashSet<_> = [a.clone(), b.clone()].into();
        let (now, change) = r.evaluate(&waited, t0);
        assert_eq!(
            now.describe(),
            "not ready: the probe plan is not loaded yet"
        );
        assert_eq!(change, None);
        r.plan_loaded();
        assert!(r.probed(&a));
        assert!(!r.probed(&a), "a second probe of a is not news");
        let (now, _) = r.evaluate(&waited, t0);
        assert_eq!(
            now.describe(),
            "not ready: waiting for the first probe of 1 of 2 credentials"
        );
        assert!(r.probed(&b));
        assert_eq!(r.evaluate(&waited, t0).1, Some(Change::Ready));
        // A reload that adds a credential does not take readiness back.
        let more: HashSet<_> = [a, b, cred("m", "kc")].into();
        let (now, change) = r.evaluate(&more, t0);
        assert!(now.ready && change.is_none());
        assert_eq!((now.credentials, now.credentials_probed), (3, 2));
    }

    #[test]
    fn the_first_cycle_timeout_is_the_upper_bound() {
        let t0 = Instant::now();
        let mut r = ReadinessTracker::new(t0);
        r.plan_loaded();
        let waited: HashSet<_> = [cred("m", "ka")].into();
        let later = t0 + Duration::from_secs(3600);
        assert!(!r.evaluate(&waited, later).0.ready, "no timeout set");
        r.set_timeout(Some(Duration::from_secs(60)));
        assert!(!r.evaluate(&waited, t0 + Duration::from_secs(59)).0.ready);
        let (now, change) = r.evaluate(&waited, t0 + Duration::from_secs(60));
        assert!(now.ready);
        assert_eq!(change, Some(Change::TimedOut));
        assert_eq!(now.credentials_probed, 0, "the numbers stay the probes'");
        assert_eq!(r.evaluate(&waited, later).1, None, "reported once");
        // The first cycle's end counts as a first picture.
        let mut r = ReadinessTracker::new(t0);
        r.plan_loaded();
        r.first_cycle_done();
        assert_eq!(r.evaluate(&waited, t0).1, Some(Change::Ready));
    }
}
