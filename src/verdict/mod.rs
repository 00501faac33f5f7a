//! The verdict: one answer per route to "would a request through it succeed now, and if not,
//! why", fused from everything clawprobe knows. Pure: no I/O, no clock, no locks; every
//! function takes the evidence and `now`, so the same inputs always give the same verdict
//! and the table tests below cover every combination that matters.
//!
//! Why a fusion and not "the last probe": the tiers see different things. A zero-token
//! metadata request proves that the key is accepted and the model is visible; it succeeds
//! for a key with no credits, a rate-limited key or an overloaded model. Publishing the last
//! result of any tier made a billing route flip up and down with every metadata probe. The
//! rules ([`step`]):
//!
//! - A metadata `ok` never clears a failure only a generation request can see (billing,
//!   rate_limit, overloaded, server_error, timeout, bad_response, …); a newer generation
//!   `ok` (a probe, or a real request seen in OpenClaw's log) clears it.
//! - Failures a metadata request can see take effect at once, whatever tier saw them,
//!   unless a generation success during the same unbroken run of metadata failures proved
//!   the route works (then the metadata endpoint disagrees with the gateway's path, and the
//!   gateway's path is what users get).
//! - Credential-wide classes (billing, auth, a rate limit the provider reports for the whole
//!   key) seen through one model apply to every route on that credential until a probe on
//!   that credential that can see the class succeeds ([`credential`]).
//! - OpenClaw's own profile state (a profile disabled or in cooldown, with a reason) is what
//!   the gateway does with the next request: while it lasts it decides, with no request sent
//!   ([`openclaw`]).
//! - A route is up if a credential in its rotation works ([`route`]): OpenClaw moves to the
//!   route's next eligible profile after an auth, billing or rate-limit failure (or skips a
//!   profile in cooldown) before it falls back to the next model. A route whose every
//!   profile fails is down with the first failure's class.
//! - An agent is up if a model in its chain is up; the first such model is the one that
//!   would serve.
//!
//! The layer sits above the probers and classification and below state/metrics: it imports
//! `class`, `plan` and `probe` types only. [`assemble`] applies the rules to a whole plan.

pub mod assemble;
pub mod credential;
pub mod openclaw;
pub mod route;
pub mod step;
pub mod traffic;

pub use assemble::{
    compute, hold_of, unix_ms, AgentVerdict, Cadence, CredentialVerdict, EntryVerdict, PlanVerdicts,
};
pub use credential::CredentialHealth;
pub use openclaw::Hold;
pub use route::{agent, route, AgentSummary, RouteVerdict};
pub use step::step;

use crate::class::Class;
use crate::probe::{ProbeResult, Tier};
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// Where a verdict came from. A small bounded set: it is a metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A finding visible without a request (unresolved ref, missing credential, …).
    Static,
    /// A zero-token metadata probe of this route.
    Metadata,
    /// A generation probe of this route.
    Generation,
    /// A probe of another route on the same credential (credential-wide classes).
    Credential,
    /// OpenClaw's own profile state (disabled or in cooldown).
    OpenclawState,
    /// A real request seen in OpenClaw's log.
    Traffic,
}

impl Source {
    pub const ALL: [Source; 6] = [
        Source::Static,
        Source::Metadata,
        Source::Generation,
        Source::Credential,
        Source::OpenclawState,
        Source::Traffic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Static => "static",
            Source::Metadata => "metadata",
            Source::Generation => "generation",
            Source::Credential => "credential",
            Source::OpenclawState => "openclaw_state",
            Source::Traffic => "traffic",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One observation of a target: a probe result, or a real request seen in OpenClaw's log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation<'a> {
    pub class: Class,
    pub reason: &'a str,
    pub at: SystemTime,
    /// `Metadata`, `Generation` or `Traffic`.
    pub source: Source,
    /// A rate limit the provider reports for the whole key, not one model.
    pub key_wide: bool,
}

impl<'a> Observation<'a> {
    /// The observation of a probe result. A `skipped` result (nothing was sent) is kept
    /// so a route with nothing else known shows as skipped; the fusion ignores it wherever
    /// a real observation exists.
    pub fn of(r: &'a ProbeResult) -> Option<Observation<'a>> {
        Some(Observation {
            class: r.class,
            reason: &r.reason,
            at: r.at,
            source: match r.tier {
                Tier::Metadata => Source::Metadata,
                Tier::Generation => Source::Generation,
            },
            key_wide: r.class == Class::RateLimit && r.rate_limits.key_wide,
        })
    }

    pub fn is_ok(&self) -> bool {
        self.class.is_ok()
    }

    /// Seen by a request that generates (a generation probe or real traffic): it can see
    /// every class.
    pub fn is_generation_grade(&self) -> bool {
        self.source != Source::Metadata
    }

    /// Whether a success of this observation's kind proves `failure` is over: a
    /// generation-grade success clears anything; a metadata success only what a metadata
    /// request can see.
    pub fn clears(&self, failure: Class) -> bool {
        self.is_ok() && (self.is_generation_grade() || metadata_can_see(failure))
    }
}

/// Failures a zero-token metadata request can see, so a metadata success clears them: the
/// key is rejected, the model does not exist, the host cannot be reached. Everything else
/// (billing, rate limits, overload, server errors, timeouts of a generation, malformed or
/// refused generations) shows only when a request generates.
pub fn metadata_can_see(class: Class) -> bool {
    matches!(class, Class::Auth | Class::UnresolvedRef | Class::Network)
}

/// Classes that belong to the credential, not the route: seen through one model, they hold
/// for every route on the credential. Billing always; auth unless the provider said the
/// key lacks access to this one model (`permission_denied`, `model_access_denied`, a bare
/// 403), which is the route's; a rate limit only when the provider said it is the key's.
pub fn credential_wide(o: &Observation<'_>) -> bool {
    match o.class {
        Class::Billing => true,
        Class::Auth => !matches!(
            o.reason,
            "permission_denied" | "model_access_denied" | "http_403"
        ),
        Class::RateLimit => o.key_wide,
        _ => false,
    }
}

/// What is known about one target (one route through one credential).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TargetEvidence<'a> {
    /// The latest metadata probe.
    pub metadata: Option<Observation<'a>>,
    /// When the current run of metadata results of the same class began.
    pub metadata_since: Option<SystemTime>,
    /// The latest generation probe.
    pub generation: Option<Observation<'a>>,
    /// The latest real request seen in OpenClaw's log for this route.
    pub traffic: Option<Observation<'a>>,
}

impl<'a> TargetEvidence<'a> {
    /// Every observation, for the credential's fold.
    pub fn observations(&self) -> impl Iterator<Item = Observation<'a>> {
        [self.metadata, self.generation, self.traffic]
            .into_iter()
            .flatten()
    }
}

/// The answer for one route (or one credential of a route).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict<'a> {
    pub class: Class,
    /// Short machine word: the probe's reason, the finding's, or OpenClaw's.
    pub reason: &'a str,
    pub source: Source,
    /// When the evidence behind it was observed. `None` for static findings and for
    /// OpenClaw's state, which are current by construction (re-read on every change).
    pub as_of: Option<SystemTime>,
}

impl<'a> Verdict<'a> {
    pub fn of(o: Observation<'a>) -> Verdict<'a> {
        Verdict {
            class: o.class,
            reason: o.reason,
            source: o.source,
            as_of: Some(o.at),
        }
    }

    pub fn is_ok(&self) -> bool {
        self.class.is_ok()
    }

    /// Older than `factor` times the route's expected probe interval: the class stays, but
    /// nothing has confirmed it for too long (its own signal, not a class).
    pub fn is_stale(&self, now: SystemTime, interval: Duration, factor: u32) -> bool {
        let Some(at) = self.as_of else { return false };
        now.duration_since(at)
            .is_ok_and(|age| age > interval.saturating_mul(factor))
    }
}

/// How many expected probe intervals a verdict may age before it is stale.
pub const STALE_FACTOR: u32 = 3;

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// `t(n)`: n seconds after a fixed origin.
    pub fn t(n: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + n)
    }

    pub fn meta(class: Class, at: u64) -> Observation<'static> {
        Observation {
            class,
            reason: class.as_str(),
            at: t(at),
            source: Source::Metadata,
            key_wide: false,
        }
    }

    pub fn gen(class: Class, at: u64) -> Observation<'static> {
        Observation {
            source: Source::Generation,
            ..meta(class, at)
        }
    }

    pub fn traffic(class: Class, at: u64) -> Observation<'static> {
        Observation {
            source: Source::Traffic,
            ..meta(class, at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn source_names_are_unique_snake_case_and_match_serde() {
        let mut seen = std::collections::HashSet::new();
        for s in Source::ALL {
            assert!(seen.insert(s.as_str()));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }

    #[test]
    fn metadata_success_clears_only_what_metadata_can_see() {
        let m = meta(Class::Ok, 10);
        for c in Class::ALL {
            let expect = matches!(c, Class::Auth | Class::UnresolvedRef | Class::Network);
            assert_eq!(m.clears(c), expect, "{c}");
            assert!(gen(Class::Ok, 10).clears(c), "{c}");
            assert!(traffic(Class::Ok, 10).clears(c), "{c}");
            assert!(!gen(Class::Timeout, 10).clears(c), "{c}");
        }
    }

    #[test]
    fn staleness_is_age_over_factor_times_interval() {
        let v = Verdict::of(meta(Class::Ok, 0));
        let five = Duration::from_secs(300);
        assert!(!v.is_stale(t(900), five, STALE_FACTOR));
        assert!(v.is_stale(t(901), five, STALE_FACTOR));
        let fixed = Verdict { as_of: None, ..v };
        assert!(!fixed.is_stale(t(1_000_000), five, STALE_FACTOR));
    }
}
