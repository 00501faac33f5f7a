//! The probe plan: unique probe targets, and each agent's chain pointing at them.
//!
//! Plain data, built once per (re)load from discovery and the standalone `[[targets]]`, then
//! shared read-only (behind an `Arc`) by the scheduler, the probers, metrics and the server.
//! A target shared by many agents appears once, so it is probed once and its result fans
//! out to every chain entry that points at it.

use crate::class::Class;
use crate::secret::Secret;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

pub use crate::api_style::ApiStyle;
pub use crate::credential::{Credential, CredentialKind, CredentialSource, ProfileState};

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
    /// A target without credential or extra headers; `id` is set when it joins a plan
    /// ([`ProbePlan::intern_target`]).
    pub fn new(
        provider: impl Into<String>,
        model: impl Into<String>,
        base_url: impl Into<String>,
        api: ApiStyle,
    ) -> Target {
        Target {
            id: 0,
            provider: provider.into(),
            model: model.into(),
            base_url: base_url.into(),
            api,
            credential: None,
            headers: Vec::new(),
        }
    }

    /// The same target probed with `credential`.
    pub fn with_credential(mut self, credential: Credential) -> Target {
        self.credential = Some(credential);
        self
    }

    /// `provider/model`, the ref as OpenClaw writes it.
    pub fn model_ref(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }

    /// The credential label for output: profile id or env var name, or `none`.
    pub fn credential_label(&self) -> String {
        self.credential
            .as_ref()
            .map(|c| c.label())
            .unwrap_or_else(|| "none".into())
    }
}

/// A target's identity, for deduplication and for carrying state (status, budget, backoff)
/// across reloads: provider, base URL, API style, model and the credential's fingerprint,
/// never the credential. Computed once per target, by [`ProbePlan::intern_target`]; read
/// it with [`ProbePlan::key`]. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetKey(Arc<str>);

/// The identity of the credential a target uses, for per-credential spacing, backoff, the
/// credential tier and readiness: provider, base URL and the credential's fingerprint.
/// Computed with the [`TargetKey`]; read it with [`ProbePlan::credential_key`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialKey(Arc<str>);

fn fingerprint(t: &Target) -> String {
    t.credential
        .as_ref()
        .map(|c| c.secret.fingerprint())
        .unwrap_or_else(|| "none".into())
}

impl TargetKey {
    /// Computes the key of `t`. Hot paths read the plan's ([`ProbePlan::key`]) instead.
    pub fn of(t: &Target) -> TargetKey {
        TargetKey(
            format!(
                "{}|{}|{}|{}|{}",
                t.provider,
                t.base_url,
                t.api,
                t.model,
                fingerprint(t)
            )
            .into(),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl CredentialKey {
    /// Computes the credential key of `t`. Hot paths read the plan's
    /// ([`ProbePlan::credential_key`]) instead.
    pub fn of(t: &Target) -> CredentialKey {
        CredentialKey(format!("{}|{}|{}", t.provider, t.base_url, fingerprint(t)).into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! key_traits {
    ($t:ty) => {
        impl std::ops::Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl std::borrow::Borrow<str> for $t {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }
    };
}
key_traits!(TargetKey);
key_traits!(CredentialKey);

/// The keys of one target, computed when it joins the plan.
#[derive(Clone, Debug)]
struct Keys {
    target: TargetKey,
    credential: CredentialKey,
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
/// route's eligible profiles for the provider in order, moving to the next one after a
/// failover-worthy failure (auth, billing, rate limit, overload, …; see
/// `openclaw::auth::rotation` and `verdict::route::rotates`) before it falls back to the
/// next model in the chain.
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
    /// OpenClaw's per-profile state, one entry per profile (the shared store's, else main's,
    /// else the first agent's that has one): what `clawprobe_openclaw_profile_*` shows.
    pub profile_states: Vec<ProfileState>,
    /// An agent's own view of that state where it differs from `profile_states` (releases
    /// with per-agent stores keep a failure in the store of the agent that hit it): what the
    /// agent's routes are judged by. Agents not listed see `profile_states`.
    pub agent_profile_states: std::collections::BTreeMap<String, Vec<ProfileState>>,
    pub credential_expiries: Vec<CredentialExpiry>,
    /// Files the plan was read from (OpenClaw config, includes, auth stores, .env): the
    /// reload watcher polls these.
    pub watched_files: Vec<std::path::PathBuf>,
    /// Each target's keys, by id: computed once, when the target joins the plan.
    keys: Vec<Keys>,
    /// `targets` by key, so building a plan of thousands of targets stays linear.
    target_index: HashMap<TargetKey, TargetId>,
    /// The OpenClaw release the install is read as (`2026.4.12 (meta.lastTouchedVersion)`,
    /// `2026.6 era (openclaw-agent.sqlite)`); `None` without an install.
    pub openclaw_release: Option<String>,
    /// See [`AgentFinding`].
    pub agent_findings: Vec<AgentFinding>,
}

impl ProbePlan {
    /// The state of `profile` as `agent`'s routes see it (`None`: the global one).
    pub fn profile_state(&self, agent: Option<&str>, profile: &str) -> Option<&ProfileState> {
        let states = agent
            .and_then(|a| self.agent_profile_states.get(a))
            .unwrap_or(&self.profile_states);
        states.iter().find(|s| s.profile == profile)
    }

    pub fn target(&self, id: TargetId) -> &Target {
        &self.targets[id]
    }

    /// How many chain entries have a static finding.
    pub fn finding_count(&self) -> usize {
        self.agents
            .iter()
            .flat_map(|a| &a.entries)
            .filter(|e| e.finding.is_some())
            .count()
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

    /// Adds a target unless an identical one (same [`TargetKey`]) exists; returns its id.
    /// The only way targets join a plan: it computes their keys, once.
    pub fn intern_target(&mut self, mut target: Target) -> TargetId {
        let key = TargetKey::of(&target);
        if let Some(&id) = self.target_index.get(&key) {
            return id;
        }
        let id = self.targets.len();
        target.id = id;
        self.keys.push(Keys {
            target: key.clone(),
            credential: CredentialKey::of(&target),
        });
        self.targets.push(target);
        self.target_index.insert(key, id);
        id
    }

    /// The key of target `id`, computed when it joined the plan.
    pub fn key(&self, id: TargetId) -> &TargetKey {
        &self.keys(id).target
    }

    /// The credential key of target `id`, computed when it joined the plan.
    pub fn credential_key(&self, id: TargetId) -> &CredentialKey {
        &self.keys(id).credential
    }

    fn keys(&self, id: TargetId) -> &Keys {
        self.keys
            .get(id)
            .expect("targets join a plan through ProbePlan::intern_target")
    }

    /// The id of the target with this key, if it is in the plan.
    pub fn id_of(&self, key: &str) -> Option<TargetId> {
        self.target_index
            .get(key)
            .copied()
            .filter(|&id| id < self.targets.len())
    }

    /// Whether a target with this key is in the plan (targets cut off the end of
    /// `targets` are not).
    pub fn contains_key(&self, key: &str) -> bool {
        self.id_of(key).is_some()
    }
}

pub mod build;
pub mod install;
pub use build::{build, PlanError};
pub use install::{Install, InstallStatus};
