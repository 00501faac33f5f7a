//! Auth profile stores (SQLite shared/per-agent, legacy JSON), OpenClaw's per-profile
//! state, and credential resolution in OpenClaw's order. OWNER: auth helper.
//!
//! Stores by era (see FORMATS.md):
//! - shared (2026.9): `<stateDir>/state/openclaw.sqlite`, `config_machine_state` rows
//!   `authProfiles.store` / `authProfiles.state`;
//! - per agent (≥ 2026.6): `<agentDir>/openclaw-agent.sqlite`, `auth_profile_store` /
//!   `auth_profile_state` (row `primary`);
//! - legacy (≤ 2026.5): `<agentDir>/auth-profiles.json` (+ `auth-state.json` from 2026.3).
//!
//! What one agent sees is built like OpenClaw's `mergeAuthProfileStores`: the shared store is
//! the base, the main agent's own store overrides it, the agent's own store overrides both
//! (same profile id: the more specific store wins).
//!
//! - [`load`]: reading every store once, read-only (SQLite through a private snapshot,
//!   [`sqlite`]; JSON parsing in [`store`]);
//! - [`view`]: the merged store one agent sees and its candidate profile order;
//! - [`rotation`]: the credentials OpenClaw would try for a route, in order, and why it
//!   skips the others (what OpenClaw does, with sources and the real turns that confirm it);
//! - [`resolve`]: eligibility, secrets, env/config fallback for one candidate.
//!
//! Secrets stay in [`Secret`](crate::secret::Secret), so `Debug` of [`AuthStores`] shows none.

mod load;
mod resolve;
mod rotation;
mod sqlite;
mod store;
mod view;

pub use resolve::{CredentialOutcome, CredentialRequest};
pub use rotation::{Candidate, Rotation, SkipReason};

use crate::credential::ProfileState;
use std::path::PathBuf;
use store::StoreDoc;
use view::View;

/// The id of OpenClaw's default agent, whose profiles every other agent inherits.
pub const MAIN_AGENT: &str = "main";

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

/// One profile's usage stats as clawprobe's [`ProfileState`].
fn state_of(id: &str, provider: String, s: &store::UsageStats) -> ProfileState {
    ProfileState {
        profile: id.to_string(),
        provider,
        cooldown_until_ms: s.cooldown_until,
        cooldown_reason: s.cooldown_reason.clone(),
        disabled_until_ms: s.disabled_until,
        disabled_reason: s.disabled_reason.clone(),
        cooldown_model: s.cooldown_model.clone(),
        blocked_until_ms: s.blocked_until,
        error_count: s.error_count,
        failure_counts: s.failure_counts.clone(),
    }
}

/// The stores of one place (shared state db, or one agent dir).
#[derive(Debug, Default)]
struct Layer {
    doc: StoreDoc,
}

/// Every auth store of an install, read once, read-only.
#[derive(Debug, Default)]
pub struct AuthStores {
    shared: Layer,
    /// Per-agent layers by agent id (includes `main` when its dir exists).
    agents: Vec<(String, Layer)>,
    files: Vec<PathBuf>,
}

impl AuthStores {
    fn layer(&self, agent: &str) -> Option<&Layer> {
        self.agents.iter().find(|(a, _)| a == agent).map(|(_, l)| l)
    }

    /// The layers an agent sees, base first: shared, main (for other agents), own.
    fn layers_for(&self, agent: &str) -> Vec<&Layer> {
        let mut v = vec![&self.shared];
        if agent != MAIN_AGENT {
            if let Some(m) = self.layer(MAIN_AGENT) {
                v.push(m);
            }
        }
        if let Some(own) = self.layer(agent) {
            v.push(own);
        }
        v
    }

    /// The merged store an agent sees (OpenClaw's `mergeAuthProfileStores`, applied layer
    /// by layer).
    fn view(&self, agent: &str) -> View<'_> {
        let mut view = View::default();
        for layer in self.layers_for(agent) {
            view.overlay(&layer.doc);
        }
        view
    }

    /// OpenClaw's own per-profile state (cooldowns, disables, errors).
    ///
    /// One entry per profile id that has usage stats, from the shared state first, then the
    /// main agent's, then the other agents' (first seen wins). Sorted by profile id.
    pub fn profile_states(&self) -> Vec<ProfileState> {
        let mut layers: Vec<&Layer> = vec![&self.shared];
        if let Some(m) = self.layer(MAIN_AGENT) {
            layers.push(m);
        }
        layers.extend(
            self.agents
                .iter()
                .filter(|(a, _)| a != MAIN_AGENT)
                .map(|(_, l)| l),
        );
        let provider_of = |id: &str| -> String {
            layers
                .iter()
                .rev()
                .flat_map(|l| l.doc.profiles.iter())
                .find(|p| p.id == id)
                .map(|p| p.provider.clone())
                .unwrap_or_else(|| id.split(':').next().unwrap_or(id).to_string())
        };
        let mut out: Vec<ProfileState> = Vec::new();
        for layer in &layers {
            for (id, s) in &layer.doc.usage {
                if out.iter().any(|p| p.profile == *id) {
                    continue;
                }
                out.push(state_of(id, provider_of(id), s));
            }
        }
        out.sort_by(|a, b| a.profile.cmp(&b.profile));
        out
    }

    /// OpenClaw's per-profile state as `agent` sees it: its own usage stats over main's over
    /// the shared store's, per profile (`mergeAuthProfileStores` → `mergeRecord`). Releases
    /// with per-agent stores (2026.4–2026.7) keep a failure in the store of the agent that
    /// hit it: main does not see a cooldown one of its sub-agents recorded, and the
    /// sub-agent's own record wins over main's. Sorted by profile id.
    pub fn profile_states_for(&self, agent: &str) -> Vec<ProfileState> {
        let view = self.view(agent);
        let mut out: Vec<ProfileState> = view
            .all_stats()
            .map(|(id, s)| {
                let provider = view
                    .profile(id)
                    .map(|p| p.provider.clone())
                    .unwrap_or_else(|| id.split(':').next().unwrap_or(id).to_string());
                state_of(id, provider, s)
            })
            .collect();
        out.sort_by(|a, b| a.profile.cmp(&b.profile));
        out
    }

    /// Whether the shared store (`<stateDir>/state/openclaw.sqlite`) holds auth profiles or
    /// state: the 2026.9 layout.
    pub fn shared_store_in_use(&self) -> bool {
        let d = &self.shared.doc;
        !d.profiles.is_empty() || d.order.is_some() || !d.usage.is_empty()
    }

    /// Files read (for the reload watcher).
    pub fn files(&self) -> Vec<PathBuf> {
        self.files.clone()
    }
}
