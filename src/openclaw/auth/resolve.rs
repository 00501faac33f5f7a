//! Resolving: which credential an agent would use for a provider, in OpenClaw's order and
//! with its eligibility rules, then env vars and `models.providers.<id>.apiKey`.

use super::store::StoredProfile;
use super::view::View;
use super::AuthStores;
use crate::openclaw::modelref::normalize_provider;
use crate::openclaw::secretref::{self, EnvLookup, SecretRef, SecretValue};
use crate::plan::{Credential, CredentialKind, CredentialSource};
use crate::secret::Secret;
use std::path::Path;

/// What the plan builder asks: which credential would `agent` use for `provider`?
pub struct CredentialRequest<'a> {
    pub agent: &'a str,
    /// Normalised provider id.
    pub provider: &'a str,
    /// The `@profileId` suffix of the ref, if any.
    pub profile_override: Option<&'a str>,
    /// `auth.order[provider]` from the OpenClaw config.
    pub config_order: Option<&'a [String]>,
    /// `auth.profiles` ids configured for this provider in the OpenClaw config (metadata).
    pub config_profiles: &'a [String],
    /// `(id, mode)` of every `auth.profiles` entry (any provider): a stored profile whose
    /// type disagrees with its configured mode is not used.
    pub config_profile_modes: &'a [(String, String)],
    pub env: EnvLookup<'a>,
    /// The provider catalog's env var names for this provider, in OpenClaw's order.
    pub env_vars: &'a [String],
    /// Raw `models.providers.<id>.apiKey`, if set.
    pub provider_api_key: Option<&'a serde_json::Value>,
    /// Directory of the OpenClaw config file (anchors relative SecretRef file paths).
    pub config_dir: &'a Path,
    /// Now, ms since epoch, for expiry.
    pub now_ms: i64,
    /// The release tries a literal (or SecretRef) `models.providers.<id>.apiKey` after the
    /// provider's profiles fail (2026.9), not only when no profile is usable.
    pub config_key_joins_rotation: bool,
}

/// The answer.
#[derive(Clone, Debug, PartialEq)]
pub enum CredentialOutcome {
    Found(Credential),
    /// Found, but `expires` is in the past.
    Expired(Credential),
    /// Nothing usable: OpenClaw would fail with `No API key found for provider "<p>"`.
    Missing {
        message: String,
    },
    /// A credential exists but clawprobe cannot read it (exec SecretRef, unreadable file).
    Unresolvable {
        reason: String,
        message: String,
    },
}

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
    /// 1. `@profile` pin: that profile only (must exist for this provider).
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
        if let Some(id) = req.profile_override {
            return pinned(&view, req, &provider, id);
        }
        let ids = view.candidate_order(req, &provider);
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut skipped: Vec<Candidate> = Vec::new();
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

/// A `@profile` pin: that profile only, never rotated away from.
fn pinned(view: &View<'_>, req: &CredentialRequest<'_>, provider: &str, id: &str) -> Rotation {
    let only = |outcome: CredentialOutcome, candidates: Vec<Candidate>| Rotation {
        candidates,
        outcome,
    };
    let Some(p) = view.profile(id) else {
        return only(
            CredentialOutcome::Missing {
                message: format!(
                    "Auth profile \"{id}\" (from the model ref's @{id}) does not exist for agent \"{}\"; add it with `openclaw models auth paste-token --agent {} --provider {} --profile-id {id}` or fix the ref",
                    req.agent, req.agent, req.provider
                ),
            },
            Vec::new(),
        );
    };
    if normalize_provider(&p.provider) != provider {
        return only(
            CredentialOutcome::Missing {
                message: format!(
                    "Auth profile \"{id}\" is for provider \"{}\", not \"{}\"; fix the model ref's @{id}",
                    p.provider, req.provider
                ),
            },
            Vec::new(),
        );
    }
    let eligible = eligibility(p, req);
    if matches!(&eligible, Err(r) if !matches!(r, SkipReason::TokenExpired { .. }))
        && p.secret_ref.is_none()
    {
        let reason = eligible.expect_err("checked");
        return only(
            CredentialOutcome::Missing {
                message: format!(
                    "Auth profile \"{id}\" for provider \"{}\" holds no usable credential ({})",
                    req.provider,
                    reason.describe()
                ),
            },
            vec![Candidate::Skipped {
                profile: id.to_string(),
                reason,
            }],
        );
    }
    match profile_secret(p, req) {
        ProfileSecret::Value(c) if is_expired(p, req.now_ms) => only(
            CredentialOutcome::Expired(c),
            vec![Candidate::Skipped {
                profile: id.to_string(),
                reason: SkipReason::TokenExpired {
                    expires_at_ms: p.expires_ms.unwrap_or_default(),
                },
            }],
        ),
        ProfileSecret::Value(c) => only(
            CredentialOutcome::Found(c.clone()),
            vec![Candidate::Usable(c)],
        ),
        ProfileSecret::Unresolvable { reason, message } => only(
            CredentialOutcome::Unresolvable {
                reason: reason.clone(),
                message: message.clone(),
            },
            vec![Candidate::Unreadable {
                profile: id.to_string(),
                reason,
                message,
            }],
        ),
        ProfileSecret::Missing(message) => only(
            CredentialOutcome::Missing {
                message: message.clone(),
            },
            vec![Candidate::Skipped {
                profile: id.to_string(),
                reason: SkipReason::NoSecret { detail: message },
            }],
        ),
    }
}

pub(super) fn is_expired(p: &StoredProfile, now_ms: i64) -> bool {
    matches!(p.kind, Some(CredentialKind::Token | CredentialKind::Oauth))
        && p.expires_ms.is_some_and(|e| e <= now_ms)
}

fn kind_word(k: CredentialKind) -> &'static str {
    match k {
        CredentialKind::ApiKey => "api_key",
        CredentialKind::Token => "token",
        CredentialKind::Oauth => "oauth",
    }
}

/// OpenClaw's `resolveAuthProfileEligibility` (mode check against `auth.profiles`) and
/// `evaluateStoredCredentialEligibility` (secret present, token expiry).
fn eligibility(p: &StoredProfile, req: &CredentialRequest<'_>) -> Result<(), SkipReason> {
    eligible(p, req.now_ms, req.config_profile_modes)
}

fn eligible(p: &StoredProfile, now_ms: i64, modes: &[(String, String)]) -> Result<(), SkipReason> {
    let Some(kind) = p.kind else {
        return Err(SkipReason::UnsupportedType);
    };
    if let Some((_, mode)) = modes.iter().find(|(id, _)| *id == p.id) {
        let mode = mode.trim().to_ascii_lowercase().replace('-', "_");
        let accepted =
            mode == kind_word(kind) || (mode == "oauth" && kind == CredentialKind::Token);
        if !mode.is_empty() && !accepted {
            return Err(SkipReason::ModeMismatch {
                configured: mode,
                stored: kind_word(kind).into(),
            });
        }
    }
    let has = p.secret.as_ref().is_some_and(|s| !s.is_empty()) || p.secret_ref.is_some();
    let no_secret = || SkipReason::NoSecret {
        detail: format!("auth profile {} holds no secret", p.id),
    };
    match kind {
        CredentialKind::ApiKey if has => Ok(()),
        CredentialKind::Token if has => {
            if p.expires_invalid {
                Err(SkipReason::InvalidExpires)
            } else if is_expired(p, now_ms) {
                Err(SkipReason::TokenExpired {
                    expires_at_ms: p.expires_ms.unwrap_or_default(),
                })
            } else {
                Ok(())
            }
        }
        // OAuth with only a refresh token is eligible in OpenClaw (it would refresh).
        CredentialKind::Oauth if has || p.has_refresh => Ok(()),
        _ => Err(no_secret()),
    }
}

enum ProfileSecret {
    Value(Credential),
    Missing(String),
    Unresolvable { reason: String, message: String },
}

/// The secret of a profile: the ref when it resolves (OpenClaw resolves refs at use), the
/// literal otherwise.
fn profile_secret(p: &StoredProfile, req: &CredentialRequest<'_>) -> ProfileSecret {
    let kind = p.kind.unwrap_or(CredentialKind::ApiKey);
    let cred = |secret: Secret| Credential {
        source: CredentialSource::Profile {
            id: p.id.clone(),
            store: p.store.clone(),
        },
        kind,
        secret,
        expires_at_ms: p.expires_ms,
    };
    let literal = p.secret.clone().filter(|s| !s.is_empty());
    let mut ref_problem = None;
    if let Some(r) = &p.secret_ref {
        match secretref::resolve_parsed(r, req.env, req.config_dir, None) {
            SecretValue::Value(s) => return ProfileSecret::Value(cred(s)),
            SecretValue::Unresolvable { reason, message } => {
                return ProfileSecret::Unresolvable {
                    reason,
                    message: format!("auth profile {}: {message}", p.id),
                }
            }
            SecretValue::Missing { message } => {
                ref_problem = Some(format!("auth profile {}: {message}", p.id))
            }
        }
    }
    match (literal, ref_problem) {
        (Some(s), _) => ProfileSecret::Value(cred(s)),
        (None, Some(m)) => ProfileSecret::Missing(m),
        (None, None) if kind == CredentialKind::Oauth && p.has_refresh => {
            ProfileSecret::Unresolvable {
                reason: "oauth_refresh_required".into(),
                message: format!(
                    "auth profile {} has only an OAuth refresh token; clawprobe does not refresh tokens (that would write into OpenClaw's store); run an OpenClaw turn or `openclaw models auth login` to refresh it",
                    p.id
                ),
            }
        }
        (None, None) => ProfileSecret::Missing(format!("auth profile {} holds no secret", p.id)),
    }
}

enum Fallback {
    Found(Credential),
    Missing(Vec<String>),
    Unresolvable { reason: String, message: String },
}

fn env_kind(var: &str) -> CredentialKind {
    if var.ends_with("_OAUTH_TOKEN") || var.ends_with("_TOKEN") {
        CredentialKind::Token
    } else {
        CredentialKind::ApiKey
    }
}

/// Whether a literal `apiKey` is really the name of an env var (OpenClaw accepts
/// `"apiKey": "OPENAI_API_KEY"` meaning that variable).
fn looks_like_env_name(s: &str, req: &CredentialRequest<'_>) -> bool {
    secretref::is_env_var_name(s)
        && (req.env_vars.iter().any(|v| v == s)
            || ["_API_KEY", "_KEY", "_TOKEN", "_SECRET"]
                .iter()
                .any(|suf| s.ends_with(suf)))
}

/// Env vars in order, then `models.providers.<id>.apiKey`.
///
/// The 2026.9.6 CLI's `paste-api-key` writes the profile id itself into the provider's
/// `apiKey` (`"apiKey": "openai:manual"`): such a value names a profile, never a literal
/// key, so it is never sent. When that profile is usable it was already chosen above.
fn fallback(req: &CredentialRequest<'_>, view: &View<'_>) -> Fallback {
    for var in req.env_vars {
        if let Some(v) = (req.env)(var).filter(|v| !v.trim().is_empty()) {
            return Fallback::Found(Credential {
                source: CredentialSource::Env { var: var.clone() },
                kind: env_kind(var),
                secret: Secret::new(v.trim()),
                expires_at_ms: None,
            });
        }
    }
    provider_key(req, view)
}

/// `models.providers.<id>.apiKey`: a literal, a SecretRef, or the name of an env var.
fn provider_key(req: &CredentialRequest<'_>, view: &View<'_>) -> Fallback {
    let Some(raw) = req.provider_api_key else {
        return Fallback::Missing(Vec::new());
    };
    let provider_cred = |secret: Secret| Credential {
        source: CredentialSource::ProviderConfig {
            provider: req.provider.to_string(),
        },
        kind: CredentialKind::ApiKey,
        secret,
        expires_at_ms: None,
    };
    if let Some(s) = raw.as_str() {
        let s = s.trim();
        if s.is_empty() {
            return Fallback::Missing(Vec::new());
        }
        if view.profile(s).is_some() || s.starts_with(&format!("{}:", req.provider)) {
            return Fallback::Missing(vec![format!(
                "models.providers.{}.apiKey names auth profile {s}, which has no usable credential for this agent",
                req.provider
            )]);
        }
        if looks_like_env_name(s, req) {
            return match (req.env)(s).filter(|v| !v.trim().is_empty()) {
                Some(v) => Fallback::Found(Credential {
                    source: CredentialSource::Env { var: s.to_string() },
                    kind: env_kind(s),
                    secret: Secret::new(v.trim()),
                    expires_at_ms: None,
                }),
                None => Fallback::Missing(vec![format!(
                    "models.providers.{}.apiKey names environment variable {s}, which is not set",
                    req.provider
                )]),
            };
        }
        if SecretRef::parse(raw).is_none() {
            return Fallback::Found(provider_cred(Secret::new(s)));
        }
    }
    match secretref::resolve_ref(raw, req.env, req.config_dir) {
        Some(SecretValue::Value(s)) => Fallback::Found(provider_cred(s)),
        Some(SecretValue::Missing { message }) => Fallback::Missing(vec![format!(
            "models.providers.{}.apiKey: {message}",
            req.provider
        )]),
        Some(SecretValue::Unresolvable { reason, message }) => Fallback::Unresolvable {
            reason,
            message: format!("models.providers.{}.apiKey: {message}", req.provider),
        },
        None => Fallback::Missing(Vec::new()),
    }
}
