//! The probe plan: unique probe targets, and each agent's chain pointing at them.
//!
//! Plain data, built once per (re)load from discovery and the standalone `[[targets]]`, then
//! shared read-only (behind an `Arc`) by the scheduler, the probers, metrics and the server.
//! A target shared by many agents appears once, so it is probed once and its result fans
//! out to every chain entry that points at it.

use crate::class::Class;
use crate::secret::Secret;
use serde::Serialize;

/// The API style of a provider, as OpenClaw names it in `models.providers.<id>.api`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub enum ApiStyle {
    OpenAiCompletions,
    OpenAiResponses,
    AnthropicMessages,
    GoogleGenerativeAi,
    Ollama,
    /// Any other style (`bedrock-converse-stream`, `github-copilot`, …): not probeable.
    Other(String),
}

impl ApiStyle {
    pub fn parse(s: &str) -> ApiStyle {
        match s.trim() {
            "openai-completions" | "openai" | "openai-chat" => ApiStyle::OpenAiCompletions,
            "openai-responses" => ApiStyle::OpenAiResponses,
            "anthropic-messages" | "anthropic" => ApiStyle::AnthropicMessages,
            "google-generative-ai" | "google" | "gemini" => ApiStyle::GoogleGenerativeAi,
            "ollama" => ApiStyle::Ollama,
            other => ApiStyle::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ApiStyle::OpenAiCompletions => "openai-completions",
            ApiStyle::OpenAiResponses => "openai-responses",
            ApiStyle::AnthropicMessages => "anthropic-messages",
            ApiStyle::GoogleGenerativeAi => "google-generative-ai",
            ApiStyle::Ollama => "ollama",
            ApiStyle::Other(s) => s,
        }
    }

    /// Whether clawprobe has a prober for this style.
    pub fn is_probeable(&self) -> bool {
        !matches!(self, ApiStyle::Other(_))
    }
}

impl From<ApiStyle> for String {
    fn from(a: ApiStyle) -> String {
        a.as_str().to_string()
    }
}

impl std::fmt::Display for ApiStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// The label used in output and metrics (profile id, `env:VAR`, …).
    pub fn label(&self) -> String {
        self.source.label()
    }
}

/// Index of a target in [`ProbePlan::targets`].
pub type TargetId = usize;

/// One unique thing to probe: (provider, base URL, API style, model, credential).
#[derive(Clone, Debug)]
pub struct Target {
    pub id: TargetId,
    pub provider: String,
    pub model: String,
    pub base_url: String,
    pub api: ApiStyle,
    pub credential: Option<Credential>,
    /// Extra request headers from `models.providers.<id>.headers` (values may be secret).
    pub headers: Vec<(String, Secret)>,
}

impl Target {
    /// `provider/model`, the ref as OpenClaw writes it.
    pub fn model_ref(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }

    /// A stable key for deduplication and for carrying state across reloads. Holds the
    /// credential's fingerprint, never the credential.
    pub fn key(&self) -> String {
        let cred = self
            .credential
            .as_ref()
            .map(|c| c.secret.fingerprint())
            .unwrap_or_else(|| "none".into());
        format!(
            "{}|{}|{}|{}|{}",
            self.provider, self.base_url, self.api, self.model, cred
        )
    }

    /// The key of the credential this target uses, for per-credential spacing, backoff and
    /// the per-credential generation tier: provider + base URL + credential fingerprint.
    pub fn credential_key(&self) -> String {
        let cred = self
            .credential
            .as_ref()
            .map(|c| c.secret.fingerprint())
            .unwrap_or_else(|| "none".into());
        format!("{}|{}|{}", self.provider, self.base_url, cred)
    }

    /// The credential label for output: profile id or env var name, or `none`.
    pub fn credential_label(&self) -> String {
        self.credential
            .as_ref()
            .map(|c| c.label())
            .unwrap_or_else(|| "none".into())
    }
}

/// A problem visible without sending a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub class: Class,
    /// Short machine word: `unknown_provider`, `missing_credential`, `token_expired`,
    /// `unsupported_api`, `exec_secret_ref`, `unknown_alias`, …
    pub reason: String,
    /// One sentence for a person, naming what to fix. Never holds a secret.
    pub message: String,
}

/// Primary or fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Primary,
    Fallback,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Fallback => "fallback",
        }
    }
}

/// One credential in a route's rotation, in the order OpenClaw would try it. OpenClaw tries a
/// route's eligible profiles for the provider in order, moving to the next one after an auth,
/// billing or rate-limit failure, before it falls back to the next model in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RotationStep {
    /// Credential label (profile id, `env:VAR`, `config:<provider>`); never the secret.
    pub credential: String,
    /// The target that probes this route with this credential; `None` when OpenClaw would
    /// skip the credential (see `skipped`).
    pub target: Option<TargetId>,
    /// Why OpenClaw skips this credential (token expired, invalid `expires`, no secret, …):
    /// shown by `check`, never makes a working route down.
    pub skipped: Option<Finding>,
}

/// One position in an agent's chain.
#[derive(Clone, Debug)]
pub struct ChainEntry {
    /// 0 for the primary, 1.. for fallbacks in order.
    pub position: usize,
    pub role: Role,
    /// The ref exactly as configured (may be an alias or carry `@profile`).
    pub raw_ref: String,
    /// Normalised provider id, when the ref resolved far enough to have one.
    pub provider: Option<String>,
    pub model: Option<String>,
    pub api: Option<ApiStyle>,
    /// The target probed for this entry; `None` when a finding prevents probing.
    pub target: Option<TargetId>,
    /// A static finding (unresolved ref, missing credential, …).
    pub finding: Option<Finding>,
    /// Credential label (profile id / env var) even when the target could not be built.
    pub credential_label: Option<String>,
    /// The credentials OpenClaw would try for this route, in order. When `target` is set it
    /// is the target of the first step that has one; further steps with a target are the
    /// profiles OpenClaw rotates to. Empty when nothing resolved.
    pub rotation: Vec<RotationStep>,
}

impl ChainEntry {
    /// An entry at `position` (0 is the primary) with nothing resolved yet.
    pub fn new(position: usize, raw_ref: impl Into<String>) -> ChainEntry {
        ChainEntry {
            position,
            role: if position == 0 {
                Role::Primary
            } else {
                Role::Fallback
            },
            raw_ref: raw_ref.into(),
            provider: None,
            model: None,
            api: None,
            target: None,
            finding: None,
            credential_label: None,
            rotation: Vec::new(),
        }
    }

    /// Sets the route's target to `id` (probed with credential `label`) as its only
    /// rotation step. Builders with several eligible profiles push further steps.
    pub fn set_target(&mut self, id: TargetId, label: String) {
        self.target = Some(id);
        self.rotation = vec![RotationStep {
            credential: label,
            target: Some(id),
            skipped: None,
        }];
    }

    /// The targets of the rotation, in the order OpenClaw would try them (just `target`
    /// when no rotation was recorded).
    pub fn rotation_targets(&self) -> Vec<TargetId> {
        if self.rotation.is_empty() {
            return self.target.into_iter().collect();
        }
        self.rotation.iter().filter_map(|s| s.target).collect()
    }

    /// `primary` or `fallback N` (1-based), as tables show it.
    pub fn role_label(&self) -> String {
        match self.role {
            Role::Primary => "primary".into(),
            Role::Fallback => format!("fallback {}", self.position),
        }
    }
}

/// An agent and its ordered model chain.
#[derive(Clone, Debug)]
pub struct AgentChain {
    pub agent: String,
    pub entries: Vec<ChainEntry>,
}

impl AgentChain {
    pub fn fallback_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.role == Role::Fallback)
            .count()
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
    pub error_count: Option<u64>,
    /// `failureCounts` by reason.
    pub failure_counts: Vec<(String, u64)>,
}

/// A credential's expiry as seen by one agent, for `clawprobe_credential_expiry_timestamp_seconds`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CredentialExpiry {
    pub agent: String,
    pub provider: String,
    pub profile: String,
    pub expires_at_ms: i64,
}

/// A problem of one agent that is no route's finding, but fails the OpenClaw release's own
/// `openclaw models status --check` (releases up to 2026.7 fail on any expired or unusable
/// token profile the agent can see, used by a route or not). `check` shows these and counts
/// them in its exit code; they never change a route's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentFinding {
    pub agent: String,
    pub finding: Finding,
}

/// Everything the rest of clawprobe needs from configuration and discovery.
#[derive(Clone, Debug, Default)]
pub struct ProbePlan {
    pub targets: Vec<Target>,
    pub agents: Vec<AgentChain>,
    pub profile_states: Vec<ProfileState>,
    pub credential_expiries: Vec<CredentialExpiry>,
    /// Files the plan was read from (OpenClaw config, includes, auth stores, .env): the
    /// reload watcher polls these.
    pub watched_files: Vec<std::path::PathBuf>,
    /// `targets` by [`Target::key`], kept by [`ProbePlan::intern_target`] so building a plan
    /// of thousands of targets stays linear (rebuilt if `targets` was changed directly).
    pub target_index: std::collections::HashMap<String, TargetId>,
    /// The OpenClaw release the install is read as (`2026.4.12 (meta.lastTouchedVersion)`,
    /// `2026.6 era (openclaw-agent.sqlite)`); `None` without an install.
    pub openclaw_release: Option<String>,
    /// See [`AgentFinding`].
    pub agent_findings: Vec<AgentFinding>,
}

impl ProbePlan {
    pub fn target(&self, id: TargetId) -> &Target {
        &self.targets[id]
    }

    /// Whether any chain entry has a static finding, or an agent has an
    /// [`AgentFinding`] (what `clawprobe check` exits 1 on).
    pub fn has_findings(&self) -> bool {
        !self.agent_findings.is_empty()
            || self
                .agents
                .iter()
                .any(|a| a.entries.iter().any(|e| e.finding.is_some()))
    }

    /// Adds a target unless an identical one (same [`Target::key`]) exists; returns its id.
    pub fn intern_target(&mut self, mut target: Target) -> TargetId {
        if self.target_index.len() != self.targets.len() {
            self.target_index = self.targets.iter().map(|t| (t.key(), t.id)).collect();
        }
        let key = target.key();
        if let Some(&id) = self.target_index.get(&key) {
            return id;
        }
        let id = self.targets.len();
        target.id = id;
        self.targets.push(target);
        self.target_index.insert(key, id);
        id
    }
}

pub mod build;
pub use build::{build, PlanError};
