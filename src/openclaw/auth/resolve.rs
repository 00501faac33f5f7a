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
    pub env: EnvLookup<'a>,
    /// The provider catalog's env var names for this provider, in OpenClaw's order.
    pub env_vars: &'a [String],
    /// Raw `models.providers.<id>.apiKey`, if set.
    pub provider_api_key: Option<&'a serde_json::Value>,
    /// Directory of the OpenClaw config file (anchors relative SecretRef file paths).
    pub config_dir: &'a Path,
    /// Now, ms since epoch, for expiry.
    pub now_ms: i64,
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

impl AuthStores {
    /// Resolves the credential in OpenClaw's order (see FORMATS.md and
    /// `resolveAuthProfileOrderWithMetadata` in OpenClaw 2026.9.6):
    ///
    /// 1. `@profile` override: that profile only (must exist for this provider).
    /// 2. Explicit order: the merged store order for the provider (agent's own
    ///    `order[provider]` over main's over the shared state's), else `auth.order[provider]`
    ///    from the config. OpenClaw 2026.9.6 lets a stored order win over the config order.
    ///    Profiles not listed are not used; listed ones in cooldown/disabled go last
    ///    (soonest-usable first).
    /// 3. No explicit order: the config's `auth.profiles` for the provider if any, else all
    ///    stored profiles of the provider; oauth before token before api_key, expired OAuth
    ///    after valid OAuth, least recently used first, cooldown/disabled last.
    /// 4. Ineligible profiles are skipped: no secret and no ref, unknown type, token
    ///    expired or with an invalid `expires`. An env/file ref that resolves to nothing is
    ///    skipped too; an `exec` ref is reported as unresolvable (OpenClaw would run it).
    /// 5. Then the provider's env vars in order, then `models.providers.<id>.apiKey`.
    /// 6. Nothing: an expired token if one was skipped (`Expired`), else `Missing`.
    pub fn resolve(&self, req: &CredentialRequest<'_>) -> CredentialOutcome {
        let view = self.view(req.agent);
        let provider = normalize_provider(req.provider);
        if let Some(id) = req.profile_override {
            return self.resolve_override(&view, req, &provider, id);
        }
        let ids = view.candidate_order(req, &provider);
        let mut expired: Option<Credential> = None;
        let mut problems: Vec<String> = Vec::new();
        for id in &ids {
            let Some(p) = view.profile(id) else { continue };
            match eligibility(p, req.now_ms) {
                Eligibility::Ok => {}
                Eligibility::TokenExpired => {
                    if expired.is_none() {
                        if let ProfileSecret::Value(c) = profile_secret(p, req) {
                            expired = Some(c);
                        }
                    }
                    continue;
                }
                Eligibility::No => continue,
            }
            match profile_secret(p, req) {
                ProfileSecret::Value(c) => {
                    return if is_expired(p, req.now_ms) {
                        CredentialOutcome::Expired(c)
                    } else {
                        CredentialOutcome::Found(c)
                    };
                }
                ProfileSecret::Unresolvable { reason, message } => {
                    return CredentialOutcome::Unresolvable { reason, message }
                }
                ProfileSecret::Missing(m) => problems.push(m),
            }
        }
        match fallback(req, &view) {
            Fallback::Found(c) => CredentialOutcome::Found(c),
            Fallback::Unresolvable { reason, message } => {
                CredentialOutcome::Unresolvable { reason, message }
            }
            Fallback::Missing(m) => {
                if let Some(c) = expired {
                    return CredentialOutcome::Expired(c);
                }
                problems.extend(m);
                let mut message = format!("No API key found for provider \"{}\"", req.provider);
                if !problems.is_empty() {
                    message.push_str(&format!(" ({})", problems.join("; ")));
                }
                CredentialOutcome::Missing { message }
            }
        }
    }

    fn resolve_override(
        &self,
        view: &View<'_>,
        req: &CredentialRequest<'_>,
        provider: &str,
        id: &str,
    ) -> CredentialOutcome {
        let Some(p) = view.profile(id) else {
            return CredentialOutcome::Missing {
                message: format!(
                    "Auth profile \"{id}\" (from the model ref's @{id}) does not exist for agent \"{}\"; add it with `openclaw models auth paste-token --agent {} --provider {} --profile-id {id}` or fix the ref",
                    req.agent, req.agent, req.provider
                ),
            };
        };
        if normalize_provider(&p.provider) != provider {
            return CredentialOutcome::Missing {
                message: format!(
                    "Auth profile \"{id}\" is for provider \"{}\", not \"{}\"; fix the model ref's @{id}",
                    p.provider, req.provider
                ),
            };
        }
        if eligibility(p, req.now_ms) == Eligibility::No && p.secret_ref.is_none() {
            return CredentialOutcome::Missing {
                message: format!(
                    "Auth profile \"{id}\" for provider \"{}\" holds no usable credential",
                    req.provider
                ),
            };
        }
        match profile_secret(p, req) {
            ProfileSecret::Value(c) if is_expired(p, req.now_ms) => CredentialOutcome::Expired(c),
            ProfileSecret::Value(c) => CredentialOutcome::Found(c),
            ProfileSecret::Unresolvable { reason, message } => {
                CredentialOutcome::Unresolvable { reason, message }
            }
            ProfileSecret::Missing(message) => CredentialOutcome::Missing { message },
        }
    }
}

#[derive(PartialEq, Eq)]
enum Eligibility {
    Ok,
    TokenExpired,
    No,
}

pub(super) fn is_expired(p: &StoredProfile, now_ms: i64) -> bool {
    matches!(p.kind, Some(CredentialKind::Token | CredentialKind::Oauth))
        && p.expires_ms.is_some_and(|e| e <= now_ms)
}

/// OpenClaw's `evaluateStoredCredentialEligibility`.
fn eligibility(p: &StoredProfile, now_ms: i64) -> Eligibility {
    let Some(kind) = p.kind else {
        return Eligibility::No;
    };
    let has = p.secret.as_ref().is_some_and(|s| !s.is_empty()) || p.secret_ref.is_some();
    match kind {
        CredentialKind::ApiKey if has => Eligibility::Ok,
        CredentialKind::Token if has => {
            if p.expires_invalid {
                Eligibility::No
            } else if is_expired(p, now_ms) {
                Eligibility::TokenExpired
            } else {
                Eligibility::Ok
            }
        }
        // OAuth with only a refresh token is eligible in OpenClaw (it would refresh).
        CredentialKind::Oauth if has || p.has_refresh => Eligibility::Ok,
        _ => Eligibility::No,
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
