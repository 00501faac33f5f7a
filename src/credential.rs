//! Credentials as discovery finds them and the plan carries them: where each came from
//! (profile, env var, provider config), what kind it is, the secret itself (a [`Secret`]),
//! and OpenClaw's own per-profile state. A leaf module below both `openclaw` (which reads
//! them) and `plan` (which assigns them to targets), so neither imports the other's types.

use crate::secret::Secret;
use serde::Serialize;

/// What kind of credential a profile or env var holds. Decides the auth header
/// (Anthropic: API keys via `x-api-key`, OAuth/setup tokens via `Authorization: Bearer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    ApiKey,
    Token,
    Oauth,
}

/// Where a credential came from. This (never the secret) is what output shows.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CredentialSource {
    /// An OpenClaw auth profile; `store` names the file it was read from.
    Profile { id: String, store: String },
    /// An environment variable (process env, `<stateDir>/.env` or config `env.vars`).
    Env { var: String },
    /// `models.providers.<id>.apiKey` in the OpenClaw config.
    ProviderConfig { provider: String },
    /// A standalone `[[targets]]` entry's `api_key_env`.
    TargetEnv { var: String },
}

impl CredentialSource {
    /// A short label for tables and metric labels: profile id or env var name.
    pub fn label(&self) -> String {
        match self {
            CredentialSource::Profile { id, .. } => id.clone(),
            CredentialSource::Env { var } | CredentialSource::TargetEnv { var } => {
                format!("env:{var}")
            }
            CredentialSource::ProviderConfig { provider } => format!("config:{provider}"),
        }
    }
}

/// A resolved credential. `Debug` is safe: `Secret` redacts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub source: CredentialSource,
    pub kind: CredentialKind,
    pub secret: Secret,
    /// Expiry of a token/OAuth credential, ms since the Unix epoch.
    pub expires_at_ms: Option<i64>,
}

impl Credential {
    /// An API key (or token used as one) from `source`, without expiry.
    pub fn api_key(source: CredentialSource, secret: Secret) -> Credential {
        Credential {
            source,
            kind: CredentialKind::ApiKey,
            secret,
            expires_at_ms: None,
        }
    }

    /// The label used in output and metrics (profile id, `env:VAR`, …).
    pub fn label(&self) -> String {
        self.source.label()
    }
}

/// OpenClaw's own per-profile state (cooldowns, disables, error counts), exported at zero
/// probe cost.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProfileState {
    pub profile: String,
    pub provider: String,
    pub cooldown_until_ms: Option<i64>,
    pub cooldown_reason: Option<String>,
    pub disabled_until_ms: Option<i64>,
    pub disabled_reason: Option<String>,
    /// The model a cooldown applies to (`cooldownModel`); `None`: every model.
    pub cooldown_model: Option<String>,
    /// `blockedUntil`, the third "unusable until" time OpenClaw honours.
    pub blocked_until_ms: Option<i64>,
    pub error_count: Option<u64>,
    /// `failureCounts` by reason.
    pub failure_counts: Vec<(String, u64)>,
}
