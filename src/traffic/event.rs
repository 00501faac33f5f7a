//! Typed events from one line of OpenClaw's JSONL file log.
//!
//! A line is a tslog record serialised as JSON: the logger's bindings as a JSON string
//! under `"0"` (`{"subsystem":"model-fallback/decision"}`), the structured argument under
//! `"1"`, the message under `"2"`, `_meta` (with `date`), and `time` (local time with
//! offset); 2026.9 adds top-level `hostname`, `message`, `session_id` and, when any source
//! carries one, `agent_id`. Two structured events matter here (fields per release, read
//! from each release's `dist/` and seen in lines the real CLI wrote, see
//! `tests/fixtures/openclaw-logs/`):
//!
//! `model_fallback_decision` (subsystem `model-fallback/decision`, one per candidate of a
//! request's model chain):
//! - every release: `decision` (skip_candidate | probe_cooldown_candidate |
//!   candidate_failed | candidate_succeeded), `runId`, `requestedProvider`/`Model`,
//!   `candidateProvider`/`Model`, `attempt`, `total`, `reason`, `status`, `code`,
//!   `nextCandidateProvider`/`Model`, `isPrimary`, `requestedModelMatched`,
//!   `fallbackConfigured`, `allowTransientCooldownProbe`, `profileCount`, `previousAttempts`
//!   and the redacted error observation (`errorPreview`, `errorHash`, `httpCode`,
//!   `providerErrorType`, …);
//! - 2026.6 adds `sessionId`, `lane`, `suppressedDuplicateCount` and the `fallbackStep*`
//!   fields (`fallbackStepFinalOutcome` = next_fallback | chain_exhausted | succeeded);
//! - 2026.9 adds `candidateRouteOrigin`/`Resolution` and `nextCandidateRouteOrigin`/`Resolution`.
//!
//! `embedded_run_failover_decision` (subsystem `agent/embedded`, one per failed attempt of
//! one model): `decision` (fallback_model | rotate_profile | surface_error |
//! retry_thinking_level), `provider`, `model`, `profileId` as OpenClaw's redacted
//! identifier `sha256:<first 12 hex of sha256(profile id)>`, `failoverReason`,
//! `profileFailureReason`, `status`. It is the only event that names the credential.
//!
//! Neither event carries the agent: see `state.rs` for how events are attributed.
//!
//! Everything else (other subsystems, other events, garbage, half-written lines) is
//! `Ok(None)` or an error the caller counts and skips; nothing here panics on any input
//! (`tests/properties.rs`).

use crate::class::Class;
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What OpenClaw decided about one candidate of a request's chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    /// Not tried: its profile is in cooldown / disabled, or it failed earlier in the session.
    SkipCandidate,
    /// Tried although its profile is in cooldown (OpenClaw's cooldown probe).
    ProbeCooldownCandidate,
    /// Tried and failed; OpenClaw moves to the next candidate (if any).
    CandidateFailed,
    /// Tried and served the request (logged only when an earlier candidate failed or was
    /// skipped, or the candidate was probed in cooldown).
    CandidateSucceeded,
}

impl Decision {
    pub const ALL: [Decision; 4] = [
        Decision::SkipCandidate,
        Decision::ProbeCooldownCandidate,
        Decision::CandidateFailed,
        Decision::CandidateSucceeded,
    ];

    pub fn parse(s: &str) -> Option<Decision> {
        Some(match s {
            "skip_candidate" => Decision::SkipCandidate,
            "probe_cooldown_candidate" => Decision::ProbeCooldownCandidate,
            "candidate_failed" => Decision::CandidateFailed,
            "candidate_succeeded" => Decision::CandidateSucceeded,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::SkipCandidate => "skip_candidate",
            Decision::ProbeCooldownCandidate => "probe_cooldown_candidate",
            Decision::CandidateFailed => "candidate_failed",
            Decision::CandidateSucceeded => "candidate_succeeded",
        }
    }
}

/// OpenClaw's failover reasons (`FAILOVER_REASONS` in its gateway protocol), plus `Other`
/// for a word a later release adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    Auth,
    AuthPermanent,
    Format,
    RateLimit,
    Overloaded,
    Billing,
    ServerError,
    Timeout,
    TlsCertificate,
    ContextOverflow,
    ModelNotFound,
    SessionExpired,
    EmptyResponse,
    NoErrorDetails,
    Unclassified,
    Unknown,
    Other,
}

impl Reason {
    pub fn parse(s: &str) -> Reason {
        match s {
            "auth" => Reason::Auth,
            "auth_permanent" => Reason::AuthPermanent,
            "format" => Reason::Format,
            "rate_limit" => Reason::RateLimit,
            "overloaded" => Reason::Overloaded,
            "billing" => Reason::Billing,
            "server_error" => Reason::ServerError,
            "timeout" => Reason::Timeout,
            "tls_certificate" => Reason::TlsCertificate,
            "context_overflow" => Reason::ContextOverflow,
            "model_not_found" => Reason::ModelNotFound,
            "session_expired" => Reason::SessionExpired,
            "empty_response" => Reason::EmptyResponse,
            "no_error_details" => Reason::NoErrorDetails,
            "unclassified" => Reason::Unclassified,
            "unknown" => Reason::Unknown,
            _ => Reason::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Auth => "auth",
            Reason::AuthPermanent => "auth_permanent",
            Reason::Format => "format",
            Reason::RateLimit => "rate_limit",
            Reason::Overloaded => "overloaded",
            Reason::Billing => "billing",
            Reason::ServerError => "server_error",
            Reason::Timeout => "timeout",
            Reason::TlsCertificate => "tls_certificate",
            Reason::ContextOverflow => "context_overflow",
            Reason::ModelNotFound => "model_not_found",
            Reason::SessionExpired => "session_expired",
            Reason::EmptyResponse => "empty_response",
            Reason::NoErrorDetails => "no_error_details",
            Reason::Unclassified => "unclassified",
            Reason::Unknown => "unknown",
            Reason::Other => "other",
        }
    }

    /// clawprobe's class for OpenClaw's reason. `status` (the provider's HTTP status)
    /// decides only when OpenClaw's reason says nothing (unknown, unclassified, …).
    pub fn class(self, status: Option<u16>) -> Class {
        match self {
            Reason::Auth | Reason::AuthPermanent | Reason::SessionExpired => Class::Auth,
            Reason::Billing => Class::Billing,
            Reason::RateLimit => Class::RateLimit,
            Reason::Overloaded => Class::Overloaded,
            Reason::ServerError => Class::ServerError,
            Reason::Timeout => Class::Timeout,
            Reason::TlsCertificate => Class::Network,
            Reason::Format | Reason::ContextOverflow => Class::InvalidRequest,
            Reason::ModelNotFound => Class::UnresolvedRef,
            Reason::EmptyResponse => Class::BadResponse,
            Reason::NoErrorDetails | Reason::Unclassified | Reason::Unknown | Reason::Other => {
                class_of_status(status)
            }
        }
    }
}

/// The class an HTTP status alone suggests (used only when OpenClaw gave no reason).
fn class_of_status(status: Option<u16>) -> Class {
    match status {
        Some(401 | 403) => Class::Auth,
        Some(402) => Class::Billing,
        Some(429) => Class::RateLimit,
        Some(529) => Class::Overloaded,
        Some(404) => Class::UnresolvedRef,
        Some(408) => Class::Timeout,
        Some(400 | 413 | 422) => Class::InvalidRequest,
        Some(s) if (500..600).contains(&s) => Class::ServerError,
        _ => Class::Unknown,
    }
}

/// A `provider/model` pair as OpenClaw logs it (provider normalised, model as configured).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelRef {
    pub provider: String,
    pub model: String,
}

/// `fallbackStepFinalOutcome` (2026.6+).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    NextFallback,
    ChainExhausted,
    Succeeded,
}

/// Who made the request, when the line says so (no release writes it on fallback events
/// today; read from `agent_id` / `agentId`, or an `agent:<id>:…` session key or lane).
fn agent_from(top: &Map<String, Value>, ev: &Map<String, Value>) -> Option<String> {
    for v in [top.get("agent_id"), ev.get("agentId"), ev.get("agent_id")]
        .into_iter()
        .flatten()
    {
        if let Some(s) = v.as_str().map(str::trim).filter(|s| !s.is_empty()) {
            return Some(s.to_string());
        }
    }
    for v in [
        ev.get("lane"),
        ev.get("sessionKey"),
        top.get("session_id"),
        ev.get("sessionId"),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(id) = v.as_str().and_then(agent_of_session_key) {
            return Some(id.to_string());
        }
    }
    None
}

/// `agent:<id>:…` or `session:agent:<id>:…` → `<id>`.
fn agent_of_session_key(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("session:").unwrap_or(key);
    let rest = rest.strip_prefix("agent:")?;
    let id = rest.split(':').next()?;
    (!id.is_empty()).then_some(id)
}

/// One `model_fallback_decision`.
#[derive(Clone, Debug, PartialEq)]
pub struct FallbackDecision {
    /// When OpenClaw logged it (`time`, else `_meta.date`).
    pub at: Option<SystemTime>,
    pub decision: Decision,
    pub run_id: Option<String>,
    /// `sessionId` (2026.6+).
    pub session_id: Option<String>,
    /// The agent, when the line names it (see [`agent_from`]).
    pub agent: Option<String>,
    /// The model the request asked for (the agent's primary unless the session overrode it).
    pub requested: Option<ModelRef>,
    pub candidate: ModelRef,
    /// The candidate OpenClaw moves to next; `None` on the chain's last candidate.
    pub next: Option<ModelRef>,
    pub attempt: Option<u32>,
    pub total: Option<u32>,
    pub reason: Option<Reason>,
    /// The provider's HTTP status (`status`, else `httpCode`).
    pub status: Option<u16>,
    /// Whether the candidate is the requested model (`isPrimary`).
    pub is_primary: Option<bool>,
    pub step_outcome: Option<StepOutcome>,
    /// Identical auth decisions OpenClaw left out of the log in the last 30 s
    /// (`suppressedDuplicateCount`, 2026.6+): this line stands for `1 + suppressed`.
    pub suppressed: u32,
}

impl FallbackDecision {
    /// The class of this decision: `ok` for a success, else the reason's.
    pub fn class(&self) -> Class {
        match self.decision {
            Decision::CandidateSucceeded => Class::Ok,
            _ => self.reason.unwrap_or(Reason::Unknown).class(self.status),
        }
    }

    /// Whether this candidate was the requested model (OpenClaw's `isPrimary`, else by
    /// comparing refs).
    pub fn candidate_is_requested(&self) -> bool {
        self.is_primary
            .unwrap_or_else(|| self.requested.as_ref() == Some(&self.candidate))
    }

    /// Whether this is a failed request OpenClaw classified (it logged a reason or the
    /// provider's status). A `candidate_failed` with neither sent nothing: seen with the
    /// real 2026.9.6 CLI when the profile of a cooldown probe turned out to be unavailable
    /// ("Auth profile … is temporarily unavailable"), and the provider got no request.
    pub fn is_request_failure(&self) -> bool {
        self.decision == Decision::CandidateFailed
            && (self.reason.is_some() || self.status.is_some())
    }

    /// Whether nothing is left to try after this candidate: a failure or skip with no next
    /// candidate (every release), or `fallbackStepFinalOutcome = chain_exhausted` (2026.6+).
    pub fn exhausts_chain(&self) -> bool {
        match self.decision {
            Decision::CandidateFailed | Decision::SkipCandidate => match self.step_outcome {
                Some(o) => o == StepOutcome::ChainExhausted,
                None => self.next.is_none(),
            },
            _ => false,
        }
    }
}

/// OpenClaw's redacted profile id, `sha256:<12 hex>`: the first 12 hex digits of the
/// SHA-256 of the profile id (`redactIdentifier` in its source).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileHash(pub String);

impl ProfileHash {
    /// Parses `sha256:<hex>`; anything else is not a profile hash.
    pub fn parse(s: &str) -> Option<ProfileHash> {
        let hex = s.strip_prefix("sha256:")?;
        (!hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| ProfileHash(hex.to_ascii_lowercase()))
    }

    /// The hash OpenClaw would log for `profile_id`.
    pub fn of(profile_id: &str) -> ProfileHash {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(profile_id.trim().as_bytes());
        ProfileHash(d.iter().take(6).map(|b| format!("{b:02x}")).collect())
    }

    /// Whether this (possibly shorter or longer) logged hash names `profile_id`.
    pub fn matches(&self, profile_id: &str) -> bool {
        use sha2::{Digest, Sha256};
        let full: String = Sha256::digest(profile_id.trim().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        full.starts_with(&self.0)
    }
}

/// What the embedded runner did after one failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailoverAction {
    /// Give up on this model: the chain moves to the next candidate.
    FallbackModel,
    /// Try the next auth profile of the same provider (credential-level failure).
    RotateProfile,
    /// Show the error to the user (no fallback left or not a failover error).
    SurfaceError,
    RetryThinkingLevel,
    Other,
}

/// One `embedded_run_failover_decision`: a failed attempt of one model with one credential.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptFailure {
    pub at: Option<SystemTime>,
    pub action: FailoverAction,
    pub run_id: Option<String>,
    pub route: ModelRef,
    pub profile: Option<ProfileHash>,
    /// `profileFailureReason`, else `failoverReason`.
    pub reason: Option<Reason>,
    pub status: Option<u16>,
}

impl AttemptFailure {
    pub fn class(&self) -> Class {
        self.reason.unwrap_or(Reason::Unknown).class(self.status)
    }
}

/// A traffic event from OpenClaw's log.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Decision(FallbackDecision),
    Attempt(AttemptFailure),
}

impl Event {
    pub fn at(&self) -> Option<SystemTime> {
        match self {
            Event::Decision(d) => d.at,
            Event::Attempt(a) => a.at,
        }
    }
}

/// Why a line that looked like an event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not JSON (partial or corrupt line)")]
    NotJson,
    #[error("`{0}` event without its `{1}` field")]
    Missing(&'static str, &'static str),
    #[error("unknown fallback decision kind")]
    UnknownDecision,
}

const DECISION_EVENT: &str = "model_fallback_decision";
const ATTEMPT_EVENT: &str = "embedded_run_failover_decision";

/// Whether a raw line can hold an event at all: a byte search before any JSON parsing, so
/// the thousands of unrelated lines a busy gateway writes cost almost nothing.
pub fn may_hold_event(line: &[u8]) -> bool {
    contains(line, DECISION_EVENT.as_bytes()) || contains(line, ATTEMPT_EVENT.as_bytes())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Parses one line (without its newline). `Ok(None)`: not a traffic event.
pub fn parse_line(line: &[u8]) -> Result<Option<Event>, ParseError> {
    if !may_hold_event(line) {
        return Ok(None);
    }
    let top: Map<String, Value> = match serde_json::from_slice(line) {
        Ok(Value::Object(m)) => m,
        _ => return Err(ParseError::NotJson),
    };
    let Some(ev) = event_object(&top) else {
        return Ok(None);
    };
    let at = time_of(&top);
    match ev.get("event").and_then(Value::as_str) {
        Some(DECISION_EVENT) => decision(&top, ev, at).map(|d| Some(Event::Decision(d))),
        Some(ATTEMPT_EVENT) => attempt(ev, at).map(|a| Some(Event::Attempt(a))),
        _ => Ok(None),
    }
}

/// The structured argument: a top-level `event` (a flattened record), else the first
/// numbered argument (`"0"`, `"1"`, …) that is an object with an `event` field.
fn event_object(top: &Map<String, Value>) -> Option<&Map<String, Value>> {
    if top.get("event").is_some_and(Value::is_string) {
        return Some(top);
    }
    (0..10).find_map(|i| {
        top.get(i.to_string().as_str())
            .and_then(Value::as_object)
            .filter(|o| o.get("event").is_some_and(Value::is_string))
    })
}

fn time_of(top: &Map<String, Value>) -> Option<SystemTime> {
    let s = top
        .get("time")
        .and_then(Value::as_str)
        .or_else(|| top.get("_meta")?.get("date")?.as_str())?;
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    let ms = t.timestamp_millis();
    let ms = u64::try_from(ms).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

fn text(ev: &Map<String, Value>, key: &str) -> Option<String> {
    ev.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn number(ev: &Map<String, Value>, key: &str) -> Option<u64> {
    match ev.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn status(ev: &Map<String, Value>) -> Option<u16> {
    number(ev, "status")
        .or_else(|| number(ev, "httpCode"))
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..600).contains(s))
}

fn model_ref(ev: &Map<String, Value>, provider: &str, model: &str) -> Option<ModelRef> {
    Some(ModelRef {
        provider: text(ev, provider)?,
        model: text(ev, model)?,
    })
}

fn decision(
    top: &Map<String, Value>,
    ev: &Map<String, Value>,
    at: Option<SystemTime>,
) -> Result<FallbackDecision, ParseError> {
    let kind = ev
        .get("decision")
        .and_then(Value::as_str)
        .ok_or(ParseError::Missing(DECISION_EVENT, "decision"))?;
    let decision = Decision::parse(kind).ok_or(ParseError::UnknownDecision)?;
    let candidate = model_ref(ev, "candidateProvider", "candidateModel")
        .ok_or(ParseError::Missing(DECISION_EVENT, "candidateProvider"))?;
    let step_outcome = match ev.get("fallbackStepFinalOutcome").and_then(Value::as_str) {
        Some("next_fallback") => Some(StepOutcome::NextFallback),
        Some("chain_exhausted") => Some(StepOutcome::ChainExhausted),
        Some("succeeded") => Some(StepOutcome::Succeeded),
        _ => None,
    };
    Ok(FallbackDecision {
        at,
        decision,
        run_id: text(ev, "runId"),
        session_id: text(ev, "sessionId").or_else(|| text(top, "session_id")),
        agent: agent_from(top, ev),
        requested: model_ref(ev, "requestedProvider", "requestedModel"),
        candidate,
        next: model_ref(ev, "nextCandidateProvider", "nextCandidateModel"),
        attempt: number(ev, "attempt").and_then(|n| u32::try_from(n).ok()),
        total: number(ev, "total").and_then(|n| u32::try_from(n).ok()),
        reason: text(ev, "reason").map(|r| Reason::parse(&r)),
        status: status(ev),
        is_primary: ev.get("isPrimary").and_then(Value::as_bool),
        step_outcome,
        suppressed: number(ev, "suppressedDuplicateCount")
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
    })
}

fn attempt(ev: &Map<String, Value>, at: Option<SystemTime>) -> Result<AttemptFailure, ParseError> {
    let route =
        model_ref(ev, "provider", "model").ok_or(ParseError::Missing(ATTEMPT_EVENT, "provider"))?;
    let action = match ev.get("decision").and_then(Value::as_str) {
        Some("fallback_model") => FailoverAction::FallbackModel,
        Some("rotate_profile") => FailoverAction::RotateProfile,
        Some("surface_error") => FailoverAction::SurfaceError,
        Some("retry_thinking_level") => FailoverAction::RetryThinkingLevel,
        _ => FailoverAction::Other,
    };
    let reason = text(ev, "profileFailureReason")
        .or_else(|| text(ev, "failoverReason"))
        .map(|r| Reason::parse(&r));
    Ok(AttemptFailure {
        at,
        action,
        run_id: text(ev, "runId"),
        route,
        profile: ev
            .get("profileId")
            .and_then(Value::as_str)
            .and_then(ProfileHash::parse),
        reason,
        status: status(ev),
    })
}

#[cfg(test)]
mod tests;
