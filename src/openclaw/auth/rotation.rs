//! A route's rotation: the credentials OpenClaw would try for one `provider/model`, in
//! order, and why it passes over the others.
//!
//! # What OpenClaw does (and where that comes from)
//!
//! Read in the published npm builds of OpenClaw 2026.4.12 (`dist/pi-embedded-runner-*.js`,
//! `order-*.js`, `model-auth-*.js`, `openclaw-tools-*.js`) and 2026.9.6
//! (`dist/embedded-agent-*.mjs`, `prepare-auth-*.mjs`, `order-*.mjs`,
//! `model-fallback-runner-*.mjs`), source paths as their region markers name them, and
//! confirmed with real `openclaw agent --local` turns against a fake provider on
//! 127.0.0.1 whose answer depends only on the key (`scripts/openclaw-rotation.sh`; the runs
//! are `tests/fixtures/openclaw/rotation/cli-<version>.jsonl`, which the tests below read):
//!
//! 1. **Order.** `resolveAuthProfileOrder` (src/agents/auth-profiles/order.ts): the
//!    agent's stored order for the provider (its own over main's), else `auth.order`, else
//!    the config's `auth.profiles` for the provider, else every stored profile; ineligible
//!    profiles are dropped (`resolveAuthProfileEligibility` /
//!    `evaluateStoredCredentialEligibility`: no secret, token expired, invalid `expires`,
//!    configured mode ≠ stored type); without an explicit order oauth < token < api_key,
//!    least recently used first; profiles in cooldown or disabled go last, soonest
//!    available first. A non-main agent sees main's profiles merged under its own.
//! 2. **Which failures move to the next profile** before the next model
//!    (`resolveRunFailoverDecision`, `shouldRotateAssistant` in
//!    src/agents/pi-embedded-runner/run/failover-policy.ts, renamed embedded-agent-runner in
//!    2026.9; the rotation itself is `advanceAuthProfile` in the run's auth controller):
//!    every failure OpenClaw classifies as failover-worthy — auth (401/403), billing (402,
//!    "insufficient credits"), rate limit (429), overloaded (503/529), format,
//!    model-not-found — and timeouts of a model request (2026.4.12 turned a connection error
//!    into `reason=timeout` and tried every profile; its turn `timeout`: a hung, b served).
//!    Billing and auth rotate through
//!    every profile (turns `billing_x3`: a → b → c). Rate limit and overloaded rotate at
//!    most `auth.cooldowns.rateLimitedProfileRotations` / `overloadedProfileRotations`
//!    times (default 1) when the agent has fallbacks, then fall back to the next model
//!    (`rate_limit_x3`, `overloaded_x3`: a → b → next model, c untried). The provider SDK
//!    retries a 429/503 on the same key first (7–12 requests with `retry-after: 1`). In
//!    2026.9.6 a hung request was not rotated away from (`timeout`: a only, the turn failed
//!    when `--timeout` ended the run; a run-budget timeout never rotates and the model-idle
//!    watchdog is off for loopback base URLs, so 2026.9's idle-timeout rotation,
//!    `isAssistantTimeoutFailure`, could not be observed here).
//! 3. **Env vars and `models.providers.<id>.apiKey`.** The runner's candidates are the
//!    profiles of that order; only when the order is empty does it resolve the provider's
//!    env vars, then the config key (`resolveApiKeyForProvider` in src/agents/model-auth.ts).
//!    An env var never joins a rotation that has a usable profile (`env_key`: the profile's
//!    402 went to the next model, `OPENAI_API_KEY` unused, 2026.4.12 and 2026.9.6). A
//!    literal `apiKey` does in 2026.9 (`prepareAgentRuntimeAuth` adds it as a last "direct"
//!    attempt; `config_key`: profile 402 → the config key served), see
//!    [`CredentialRequest::config_key_joins_rotation`]. Not modelled: a provider with
//!    `auth: "api-key"` and an explicit key, or (2026.9) an `apiKey` naming a set env var or
//!    a SecretRef, makes OpenClaw ignore the profiles altogether
//!    (`shouldPreferExplicitConfigApiKeyAuth`, `providerBindingSuppressesProfiles`).
//! 4. **Cooldown and disabled profiles** are skipped while the state lasts
//!    (`isProfileInCooldown` in `initializeAuthProfile` / `advanceAuthProfile`; turns
//!    `cooldown_next_turn`, `disabled_next_turn`: only the second profile was sent). They
//!    stay in the rotation here, last and with a target, because the state expires without
//!    OpenClaw writing anything: the verdict reads it from `ProbePlan::profile_states`
//!    (`markAuthProfileFailure`: cooldowns 30 s / 1 min / 5 min, billing disables 5 h
//!    doubling to 24 h in 2026.4.12; a rate-limit cooldown recorded for one model
//!    (`cooldownModel`) does not apply to others; openrouter and kilocode profiles never cool
//!    down). When every profile of a provider is unavailable, `runWithModelFallback` skips
//!    the model (auth/billing) or probes the primary near the end of the cooldown.
//! 5. **`@profile` on a configured ref** is a preference, not a pin: that profile goes
//!    first and the rest of the order still rotates (`pinned`: `acme/m1@acme:a`, a's 402 →
//!    b served, 2026.9.6). Only a session's `/model …@profile` (`authProfileIdSource:
//!    "user"`) locks one profile. A `@profile` the agent does not have is ignored.
//! 6. **A stored order holding only an ineligible profile** leaves the provider without a
//!    profile: OpenClaw does not reach past the explicit order to other profiles, main's
//!    included (`expired_in_order`: agent work's order is its expired token; main's valid
//!    acme:b was never sent: 2026.9.6 went straight to the next model, 2026.4.12 sent its
//!    key-less synthetic credential for a loopback custom provider). The route has no
//!    credential: `token_expired` here (2026.9.6's `models status` lists the provider
//!    missing; 2026.3/2026.4's status does not, see `tests/openclaw_eras.rs`).
//!
//! # What clawprobe builds from it
//!
//! [`AuthStores::rotation`] returns the candidates in that order: [`Candidate::Usable`]
//! (probed, each with its own target), [`Candidate::Unreadable`] (OpenClaw would try it;
//! clawprobe cannot read the secret), [`Candidate::Expired`] (an OAuth token OpenClaw would
//! refresh), and the profiles OpenClaw drops as [`Candidate::Skipped`] with a
//! [`SkipReason`], shown by `check` and never a reason to call a working route down.

use super::resolve::{
    eligibility, eligible, fallback, is_expired, profile_secret, provider_key, CredentialOutcome,
    CredentialRequest, Fallback, ProfileSecret,
};
use super::view::View;
use super::AuthStores;
use crate::credential::{Credential, CredentialKind, CredentialSource};
use crate::openclaw::modelref::normalize_provider;

/// Why OpenClaw passes over a profile when it builds a route's rotation (its
/// `evaluateStoredCredentialEligibility` / `resolveAuthProfileEligibility` reason codes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// A token whose `expires` has passed (`expired`).
    TokenExpired { expires_at_ms: i64 },
    /// `expires` is present but not a usable timestamp (`invalid_expires`).
    InvalidExpires,
    /// No secret and no SecretRef (`missing_credential`), or a ref that resolves to nothing.
    NoSecret { detail: String },
    /// A credential type OpenClaw cannot send to this provider (`aws-sdk`, unknown `type`).
    UnsupportedType,
    /// The config's `auth.profiles.<id>.mode` disagrees with the stored type
    /// (`mode_mismatch`; a configured `oauth` accepts a stored `token`).
    ModeMismatch { configured: String, stored: String },
    /// A ref's `@profile` that is not among the provider's candidates (unknown, another
    /// provider's, or outside the agent's explicit order): ignored.
    NotInOrder { detail: String },
}

impl SkipReason {
    /// A short machine word, as OpenClaw's reason codes.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::TokenExpired { .. } => "token_expired",
            SkipReason::InvalidExpires => "invalid_expires",
            SkipReason::NoSecret { .. } => "missing_credential",
            SkipReason::UnsupportedType => "unsupported_type",
            SkipReason::ModeMismatch { .. } => "mode_mismatch",
            SkipReason::NotInOrder { .. } => "unknown_profile",
        }
    }

    /// Why, for a person: `token expired 2026-11-02 14:03 UTC`.
    pub fn describe(&self) -> String {
        match self {
            SkipReason::TokenExpired { expires_at_ms } => {
                format!("token expired {}", format_ms(*expires_at_ms))
            }
            SkipReason::InvalidExpires => {
                "`expires` is not a valid timestamp (OpenClaw: invalid_expires)".into()
            }
            SkipReason::NoSecret { detail } => detail.clone(),
            SkipReason::UnsupportedType => {
                "credential type cannot be used for this provider".into()
            }
            SkipReason::ModeMismatch { configured, stored } => format!(
                "auth.profiles says mode `{configured}` but the store holds a `{stored}` credential"
            ),
            SkipReason::NotInOrder { detail } => detail.clone(),
        }
    }
}

/// `2026-11-02 14:03 UTC` (or the raw number when out of range).
fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// One credential of a route's rotation, in the order OpenClaw would consider it.
#[derive(Clone, Debug, PartialEq)]
pub enum Candidate {
    /// OpenClaw would send this credential (a profile, or the env/config fallback).
    Usable(Credential),
    /// An OAuth profile whose access token has expired: OpenClaw would refresh it (writing
    /// its store) and use it; clawprobe never refreshes, so it cannot probe it.
    Expired(Credential),
    /// OpenClaw would try this profile, but clawprobe cannot read its secret (an `exec`
    /// SecretRef, an OAuth profile holding only a refresh token).
    Unreadable {
        profile: String,
        reason: String,
        message: String,
    },
    /// OpenClaw passes over this profile.
    Skipped { profile: String, reason: SkipReason },
}

/// A route's rotation: the credentials OpenClaw would consider in order, and the answer to
/// "which credential does this route use".
#[derive(Clone, Debug, PartialEq)]
pub struct Rotation {
    pub candidates: Vec<Candidate>,
    /// The first credential OpenClaw would use (`Found`), or why there is none.
    pub outcome: CredentialOutcome,
}

impl Rotation {
    /// The usable credentials, in order.
    pub fn usable(&self) -> impl Iterator<Item = &Credential> {
        self.candidates.iter().filter_map(|c| match c {
            Candidate::Usable(c) => Some(c),
            _ => None,
        })
    }
}

impl AuthStores {
    /// Every token or OAuth profile `agent` can see that OpenClaw would not use (expired,
    /// invalid `expires`, no secret, mode mismatch), as `(profile, provider, why)`, whether or
    /// not a route would try it. Releases up to 2026.7 fail `models status --check` on these.
    pub fn unusable_token_profiles(
        &self,
        agent: &str,
        now_ms: i64,
        config_profile_modes: &[(String, String)],
    ) -> Vec<(String, String, SkipReason)> {
        self.view(agent)
            .profiles
            .iter()
            .filter(|p| matches!(p.kind, Some(CredentialKind::Token | CredentialKind::Oauth)))
            .filter_map(|p| {
                eligible(p, now_ms, config_profile_modes)
                    .err()
                    .map(|why| (p.id.clone(), p.provider.clone(), why))
            })
            .collect()
    }

    /// The credential a route uses: [`AuthStores::rotation`]'s outcome.
    pub fn resolve(&self, req: &CredentialRequest<'_>) -> CredentialOutcome {
        self.rotation(req).outcome
    }

    /// The credentials OpenClaw would try for `req`, in order (see `src/openclaw/rotation.rs`
    /// for the rules and where they come from):
    ///
    /// 1. A ref's `@profile` moves that profile to the front; the others still follow
    ///    (OpenClaw treats it as a preference). One it does not have is ignored.
    /// 2. Explicit order: the merged store order for the provider (agent's own
    ///    `order[provider]` over main's over the shared state's), else `auth.order[provider]`
    ///    from the config; a stored order wins over the config order. Profiles not listed
    ///    are not used; listed ones in cooldown/disabled go last (soonest-usable first).
    /// 3. No explicit order: the config's `auth.profiles` for the provider if any, else all
    ///    stored profiles of the provider; oauth before token before api_key, expired OAuth
    ///    after valid OAuth, least recently used first, cooldown/disabled last.
    /// 4. Ineligible profiles are [`Candidate::Skipped`]: no secret and no ref, unknown
    ///    type, mode mismatch, token expired or with an invalid `expires`, a ref that
    ///    resolves to nothing. An `exec` ref is [`Candidate::Unreadable`] (OpenClaw runs it).
    /// 5. Only when no profile is usable: the provider's env vars in order, then
    ///    `models.providers.<id>.apiKey`. Where the release does so
    ///    ([`CredentialRequest::config_key_joins_rotation`]), a literal or SecretRef
    ///    `apiKey` is also tried after usable profiles.
    /// 6. Nothing: an expired token if one was skipped (`Expired`), else `Missing`.
    pub fn rotation(&self, req: &CredentialRequest<'_>) -> Rotation {
        let view = self.view(req.agent);
        let provider = normalize_provider(req.provider);
        let mut ids = view.candidate_order(req, &provider);
        let mut skipped: Vec<Candidate> = Vec::new();
        if let Some(pin) = req.profile_override {
            // A preference, not a lock: the profile goes first, the rest still rotate.
            match ids.iter().position(|id| id == pin) {
                Some(i) => {
                    let first = ids.remove(i);
                    ids.insert(0, first);
                }
                None => skipped.push(Candidate::Skipped {
                    profile: pin.to_string(),
                    reason: SkipReason::NotInOrder {
                        detail: unknown_pin(&view, req, &provider, pin),
                    },
                }),
            }
        }
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut expired: Option<Credential> = None;
        let mut problems: Vec<String> = Vec::new();
        for id in &ids {
            let Some(p) = view.profile(id) else { continue };
            if let Err(reason) = eligibility(p, req) {
                if let SkipReason::TokenExpired { .. } = reason {
                    if let (None, ProfileSecret::Value(c)) = (&expired, profile_secret(p, req)) {
                        expired = Some(c);
                    }
                }
                skipped.push(Candidate::Skipped {
                    profile: id.clone(),
                    reason,
                });
                continue;
            }
            match profile_secret(p, req) {
                ProfileSecret::Value(c) if is_expired(p, req.now_ms) => {
                    candidates.push(Candidate::Expired(c))
                }
                ProfileSecret::Value(c) => candidates.push(Candidate::Usable(c)),
                ProfileSecret::Unresolvable { reason, message } => {
                    candidates.push(Candidate::Unreadable {
                        profile: id.clone(),
                        reason,
                        message,
                    })
                }
                ProfileSecret::Missing(detail) => {
                    problems.push(detail.clone());
                    skipped.push(Candidate::Skipped {
                        profile: id.clone(),
                        reason: SkipReason::NoSecret { detail },
                    });
                }
            }
        }
        if req.config_key_joins_rotation && !candidates.is_empty() {
            if let Fallback::Found(c) = provider_key(req, &view) {
                if matches!(c.source, CredentialSource::ProviderConfig { .. }) {
                    candidates.push(Candidate::Usable(c));
                }
            }
        }
        let first = candidates.first().map(|c| match c {
            Candidate::Usable(c) => CredentialOutcome::Found(c.clone()),
            Candidate::Expired(c) => CredentialOutcome::Expired(c.clone()),
            Candidate::Unreadable {
                reason, message, ..
            } => CredentialOutcome::Unresolvable {
                reason: reason.clone(),
                message: message.clone(),
            },
            Candidate::Skipped { .. } => unreachable!("skipped profiles are kept apart"),
        });
        let outcome = match first {
            Some(o) => o,
            None => match fallback(req, &view) {
                Fallback::Found(c) => {
                    candidates.push(Candidate::Usable(c.clone()));
                    CredentialOutcome::Found(c)
                }
                Fallback::Unresolvable { reason, message } => {
                    CredentialOutcome::Unresolvable { reason, message }
                }
                Fallback::Missing(_) if expired.is_some() => {
                    CredentialOutcome::Expired(expired.expect("checked"))
                }
                Fallback::Missing(m) => {
                    problems.extend(m);
                    let mut message = format!("No API key found for provider \"{}\"", req.provider);
                    if !problems.is_empty() {
                        message.push_str(&format!(" ({})", problems.join("; ")));
                    }
                    CredentialOutcome::Missing { message }
                }
            },
        };
        candidates.extend(skipped);
        Rotation {
            candidates,
            outcome,
        }
    }
}

/// Why a ref's `@profile` is not used: OpenClaw then ignores it and uses the agent's
/// usual order for the provider.
fn unknown_pin(view: &View<'_>, req: &CredentialRequest<'_>, provider: &str, id: &str) -> String {
    match view.profile(id) {
        None => format!(
            "the model ref's @{id} names no auth profile agent \"{}\" has; OpenClaw ignores it (add it with `openclaw models auth paste-token --agent {} --provider {provider} --profile-id {id}` or fix the ref)",
            req.agent, req.agent
        ),
        Some(p) if normalize_provider(&p.provider) != provider => format!(
            "the model ref's @{id} is a profile of provider \"{}\", not \"{provider}\"; OpenClaw ignores it",
            p.provider
        ),
        Some(_) => format!(
            "the model ref's @{id} is not in agent \"{}\"'s auth order for {provider}; OpenClaw ignores it",
            req.agent
        ),
    }
}

/// The real turns of `scripts/openclaw-rotation.sh` (tests/fixtures/openclaw/rotation) still
/// say what the module doc and [`crate::openclaw::era`] say.
#[cfg(test)]
mod recorded_turns {
    use crate::openclaw::era::{era_of, Release};
    use serde_json::Value;
    use std::collections::BTreeMap;

    /// `version → case → credentials tried, consecutive repeats (the SDK's retries) merged`.
    fn turns() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/openclaw/rotation");
        let mut out = BTreeMap::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            for line in text.lines() {
                let r: Value = serde_json::from_str(line).unwrap();
                let mut tried: Vec<String> = Vec::new();
                for t in r["tried"].as_array().unwrap() {
                    let c = t["credential"].as_str().unwrap().to_string();
                    if tried.last() != Some(&c) {
                        tried.push(c);
                    }
                }
                out.entry(r["version"].as_str().unwrap().to_string())
                    .or_insert_with(BTreeMap::new)
                    .insert(r["case"].as_str().unwrap().to_string(), tried);
            }
        }
        out
    }

    #[test]
    fn the_recorded_turns_match_the_rules() {
        let all = turns();
        assert!(all.len() >= 2, "rotation runs of at least two releases");
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        for (version, cases) in &all {
            let rules = era_of(Release::parse(version).unwrap()).rules;
            let case = |c: &str| {
                cases
                    .get(c)
                    .unwrap_or_else(|| panic!("{version}: no case {c}"))
                    .clone()
            };
            // Auth and billing failures move to the next profile, through all of them.
            assert_eq!(case("billing"), s(&["acme:a", "acme:b"]), "{version}");
            assert_eq!(case("auth"), s(&["acme:a", "acme:b"]), "{version}");
            assert_eq!(
                case("billing_x3"),
                s(&["acme:a", "acme:b", "acme:c"]),
                "{version}"
            );
            // Rate limits and overload rotate once, then the next model.
            for c in ["rate_limit", "overloaded"] {
                assert_eq!(case(c), s(&["acme:a", "acme:b"]), "{version} {c}");
                assert_eq!(
                    case(&format!("{c}_x3")),
                    s(&["acme:a", "acme:b", "backup:manual"]),
                    "{version} {c}_x3"
                );
            }
            // Profiles in cooldown or disabled are skipped while it lasts.
            assert_eq!(case("cooldown_next_turn"), s(&["acme:b"]), "{version}");
            assert_eq!(case("disabled_next_turn"), s(&["acme:b"]), "{version}");
            // @profile on a configured ref is a preference: the others still rotate.
            assert_eq!(case("pinned"), s(&["acme:a", "acme:b"]), "{version}");
            // Env keys never join a rotation that has a profile.
            assert_eq!(
                case("env_key"),
                s(&["openai:a", "backup:manual"]),
                "{version}"
            );
            // The literal provider key joins after the profiles only where the era says so.
            let want = if rules.config_key_joins_rotation {
                s(&["acme:a", "config:acme"])
            } else {
                s(&["acme:a", "backup:manual"])
            };
            assert_eq!(case("config_key"), want, "{version}");
            // Merged main + agent profiles rotate in the config's auth.profiles order.
            assert_eq!(
                case("main_store_merge"),
                s(&["acme:a", "acme:w"]),
                "{version}"
            );
            // An explicit order holding only an expired profile: no profile of the provider
            // is sent (neither the expired one nor main's valid acme:b).
            let expired = case("expired_in_order");
            assert!(
                !expired.iter().any(|c| c == "acme:b" || c == "acme:old"),
                "{version}: {expired:?}"
            );
        }
    }
}
