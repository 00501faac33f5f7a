//! Resolving one profile or fallback: OpenClaw's eligibility rules, reading a profile's
//! secret (literal or SecretRef), env vars and `models.providers.<id>.apiKey`. The order
//! they are tried in is [`super::rotation`]'s.

use super::rotation::SkipReason;
use super::store::StoredProfile;
use super::view::View;
use crate::credential::{Credential, CredentialKind, CredentialSource};
use crate::openclaw::secretref::{self, EnvLookup, SecretRef, SecretValue};
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
pub(super) fn eligibility(
    p: &StoredProfile,
    req: &CredentialRequest<'_>,
) -> Result<(), SkipReason> {
    eligible(p, req.now_ms, req.config_profile_modes)
}

pub(super) fn eligible(
    p: &StoredProfile,
    now_ms: i64,
    modes: &[(String, String)],
) -> Result<(), SkipReason> {
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

pub(super) enum ProfileSecret {
    Value(Credential),
    Missing(String),
    Unresolvable { reason: String, message: String },
}

/// The secret of a profile: the ref when it resolves (OpenClaw resolves refs at use), the
/// literal otherwise.
pub(super) fn profile_secret(p: &StoredProfile, req: &CredentialRequest<'_>) -> ProfileSecret {
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

pub(super) enum Fallback {
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
pub(super) fn fallback(req: &CredentialRequest<'_>, view: &View<'_>) -> Fallback {
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
pub(super) fn provider_key(req: &CredentialRequest<'_>, view: &View<'_>) -> Fallback {
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
