//! Auth profile stores (SQLite shared/per-agent, legacy JSON), OpenClaw's per-profile
//! state, and credential resolution in OpenClaw's order. OWNER: auth helper.

use super::secretref::EnvLookup;
use crate::plan::{Credential, ProfileState};
use std::path::{Path, PathBuf};

/// An agent and its agent dir (`agentDir`, else `<stateDir>/agents/<id>/agent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentDir {
    pub agent: String,
    pub dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read OpenClaw auth store {path}: {message}")]
    Store { path: PathBuf, message: String },
}

/// Every auth store of an install, read once, read-only.
#[derive(Debug, Default)]
pub struct AuthStores {}

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
    Missing { message: String },
    /// A credential exists but clawprobe cannot read it (exec SecretRef, unreadable file).
    Unresolvable { reason: String, message: String },
}

impl AuthStores {
    /// Reads every store read-only. Absent stores are empty, not errors.
    pub fn load(state_dir: &Path, agents: &[AgentDir]) -> Result<AuthStores, AuthError> {
        let _ = (state_dir, agents);
        Ok(AuthStores::default())
    }

    /// Resolves the credential in OpenClaw's order (see FORMATS.md).
    pub fn resolve(&self, req: &CredentialRequest<'_>) -> CredentialOutcome {
        CredentialOutcome::Missing {
            message: format!("No API key found for provider \"{}\"", req.provider),
        }
    }

    /// OpenClaw's own per-profile state (cooldowns, disables, errors).
    pub fn profile_states(&self) -> Vec<ProfileState> {
        Vec::new()
    }

    /// Files read (for the reload watcher).
    pub fn files(&self) -> Vec<PathBuf> {
        Vec::new()
    }
}
