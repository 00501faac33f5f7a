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
//! (same profile id: the more specific store wins). An agent dir whose SQLite store has a
//! row ignores its legacy JSON (OpenClaw migrated it and warns about the leftover file).
//!
//! Everything is read once, read-only; SQLite files through a private snapshot
//! (see [`sqlite`]). Secrets stay in [`Secret`], so `Debug` of [`AuthStores`] shows none.

mod sqlite;
mod store;

use super::secretref::{self, EnvLookup, SecretRef, SecretValue};
use crate::credential::{Credential, CredentialKind, CredentialSource, ProfileState};
use crate::secret::Secret;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use store::{StoreDoc, StoredProfile, UsageStats};

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

/// Provider ids as OpenClaw normalises them for auth matching (lowercase + aliases).
pub fn normalize_provider(p: &str) -> String {
    let p = p.trim().to_ascii_lowercase();
    match p.as_str() {
        "bedrock" | "aws-bedrock" => "amazon-bedrock".into(),
        "z.ai" | "z-ai" => "zai".into(),
        "kimi-code" | "kimi-coding" => "kimi".into(),
        "doubao" | "bytedance" => "volcengine".into(),
        "modelstudio" | "qwencloud" => "qwen".into(),
        _ => p,
    }
}

/// `path` relative to the state dir when inside it (the store label shown in output).
fn label_for(state_dir: &Path, path: &Path) -> String {
    path.strip_prefix(state_dir)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn read_json_file(path: &Path) -> Result<Option<serde_json::Value>, AuthError> {
    match std::fs::read_to_string(path) {
        Ok(text) => store::parse_json(&text)
            .map(Some)
            .map_err(|message| AuthError::Store {
                path: path.to_path_buf(),
                message,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AuthError::Store {
            path: path.to_path_buf(),
            message: format!("cannot read file: {e}"),
        }),
    }
}

fn parse_row(path: &Path, what: &str, json: &str) -> Result<serde_json::Value, AuthError> {
    store::parse_json(json).map_err(|m| AuthError::Store {
        path: path.to_path_buf(),
        message: format!("{what}: {m}"),
    })
}

/// Picks row `primary`, else the last row (rows are ordered by their update time).
fn pick_primary(rows: Vec<(String, String)>) -> Option<String> {
    let mut last = None;
    for (k, v) in rows {
        if k == "primary" {
            return Some(v);
        }
        last = Some(v);
    }
    last
}

impl AuthStores {
    /// Reads every store read-only. Absent stores are empty, not errors; the first broken
    /// store (corrupt, truncated, unreadable) is an error naming its file.
    pub fn load(state_dir: &Path, agents: &[AgentDir]) -> Result<AuthStores, AuthError> {
        Self::load_inner(state_dir, agents, None)
    }

    /// Like [`AuthStores::load`], but a broken store is skipped (treated as empty) and its
    /// error collected, so the caller can report it and still monitor everything else.
    pub fn load_lenient(state_dir: &Path, agents: &[AgentDir]) -> (AuthStores, Vec<AuthError>) {
        let mut errors = Vec::new();
        let stores = Self::load_inner(state_dir, agents, Some(&mut errors))
            .expect("lenient load collects errors instead of returning them");
        (stores, errors)
    }

    fn load_inner(
        state_dir: &Path,
        agents: &[AgentDir],
        mut errors: Option<&mut Vec<AuthError>>,
    ) -> Result<AuthStores, AuthError> {
        // Strict mode returns the error; lenient mode records it and uses an empty layer.
        let mut keep = |r: Result<Layer, AuthError>| -> Result<Layer, AuthError> {
            match (r, errors.as_deref_mut()) {
                (Ok(l), _) => Ok(l),
                (Err(e), Some(errs)) => {
                    errs.push(e);
                    Ok(Layer::default())
                }
                (Err(e), None) => Err(e),
            }
        };
        let mut out = AuthStores::default();
        let shared = out.load_shared(state_dir);
        out.shared = keep(shared)?;
        let mut dirs: Vec<AgentDir> = agents.to_vec();
        if !dirs.iter().any(|a| a.agent == MAIN_AGENT) {
            dirs.push(AgentDir {
                agent: MAIN_AGENT.into(),
                dir: state_dir.join("agents").join(MAIN_AGENT).join("agent"),
            });
        }
        for a in &dirs {
            if out.agents.iter().any(|(id, _)| *id == a.agent) {
                continue;
            }
            let loaded = out.load_agent_dir(state_dir, &a.dir);
            let mut layer = keep(loaded)?;
            // The oldest layout kept the main agent's store in `<stateDir>/agent/`.
            let oldest = state_dir.join("agent");
            if a.agent == MAIN_AGENT && layer.doc.profiles.is_empty() && a.dir != oldest {
                let loaded = out.load_agent_dir(state_dir, &oldest);
                let old = keep(loaded)?;
                if !old.doc.profiles.is_empty() {
                    layer = old;
                }
            }
            out.agents.push((a.agent.clone(), layer));
        }
        Ok(out)
    }

    fn note_file(&mut self, p: &Path) {
        if !self.files.iter().any(|f| f == p) {
            self.files.push(p.to_path_buf());
        }
    }

    fn load_shared(&mut self, state_dir: &Path) -> Result<Layer, AuthError> {
        let db = state_dir.join("state").join("openclaw.sqlite");
        if !db.is_file() {
            return Ok(Layer::default());
        }
        let snap = sqlite::snapshot(&db)?;
        self.note_file(&db);
        for w in sqlite::sidecars(&db) {
            self.note_file(&w);
        }
        let rows = sqlite::read_kv(
            &db,
            &snap,
            "config_machine_state",
            ("state_key", "value_json", "updated_at_ms"),
            &["authProfiles.store", "authProfiles.state"],
        )?;
        let label = label_for(state_dir, &db);
        let mut doc = StoreDoc::default();
        if let Some((_, v)) = rows.iter().find(|(k, _)| k == "authProfiles.store") {
            doc = store::parse_doc(&parse_row(&db, "row authProfiles.store", v)?, &label);
        }
        if let Some((_, v)) = rows.iter().find(|(k, _)| k == "authProfiles.state") {
            let state = store::parse_state(&parse_row(&db, "row authProfiles.state", v)?);
            store::overlay_state(&mut doc, state);
        }
        Ok(Layer { doc })
    }

    fn load_agent_dir(&mut self, state_dir: &Path, dir: &Path) -> Result<Layer, AuthError> {
        let db = dir.join("openclaw-agent.sqlite");
        let mut sqlite_store: Option<StoreDoc> = None;
        let mut sqlite_state: Option<StoreDoc> = None;
        if db.is_file() {
            let snap = sqlite::snapshot(&db)?;
            self.note_file(&db);
            for w in sqlite::sidecars(&db) {
                self.note_file(&w);
            }
            let label = label_for(state_dir, &db);
            let rows = sqlite::read_kv(
                &db,
                &snap,
                "auth_profile_store",
                ("store_key", "store_json", "updated_at"),
                &[],
            )?;
            if let Some(v) = pick_primary(rows) {
                let v = parse_row(&db, "table auth_profile_store", &v)?;
                sqlite_store = Some(store::parse_doc(&v, &label));
            }
            let rows = sqlite::read_kv(
                &db,
                &snap,
                "auth_profile_state",
                ("state_key", "state_json", "updated_at"),
                &[],
            )?;
            if let Some(v) = pick_primary(rows) {
                let v = parse_row(&db, "table auth_profile_state", &v)?;
                sqlite_state = Some(store::parse_state(&v));
            }
        }
        let mut doc = match sqlite_store {
            Some(d) => d,
            None => {
                let legacy = dir.join("auth-profiles.json");
                match read_json_file(&legacy)? {
                    Some(v) => {
                        self.note_file(&legacy);
                        store::parse_doc(&v, &label_for(state_dir, &legacy))
                    }
                    None => StoreDoc::default(),
                }
            }
        };
        match sqlite_state {
            Some(s) => store::overlay_state(&mut doc, s),
            None => {
                let legacy = dir.join("auth-state.json");
                if let Some(v) = read_json_file(&legacy)? {
                    self.note_file(&legacy);
                    store::overlay_state(&mut doc, store::parse_state(&v));
                }
            }
        }
        Ok(Layer { doc })
    }

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
                out.push(ProfileState {
                    profile: id.clone(),
                    provider: provider_of(id),
                    cooldown_until_ms: s.cooldown_until,
                    cooldown_reason: s.cooldown_reason.clone(),
                    disabled_until_ms: s.disabled_until,
                    disabled_reason: s.disabled_reason.clone(),
                    cooldown_model: s.cooldown_model.clone(),
                    blocked_until_ms: s.blocked_until,
                    error_count: s.error_count,
                    failure_counts: s.failure_counts.clone(),
                });
            }
        }
        out.sort_by(|a, b| a.profile.cmp(&b.profile));
        out
    }

    /// Profile ids an agent sees (merged), with provider and store label: for `check`
    /// output and tests. Holds no secret.
    pub fn visible_profiles(&self, agent: &str) -> Vec<(String, String, String)> {
        self.view(agent)
            .profiles
            .iter()
            .map(|p| (p.id.clone(), p.provider.clone(), p.store.clone()))
            .collect()
    }

    /// Expiry (ms) of every token/OAuth profile an agent sees: `(profile, provider, ms)`.
    pub fn expiries(&self, agent: &str) -> Vec<(String, String, i64)> {
        self.view(agent)
            .profiles
            .iter()
            .filter(|p| matches!(p.kind, Some(CredentialKind::Token | CredentialKind::Oauth)))
            .filter_map(|p| p.expires_ms.map(|e| (p.id.clone(), p.provider.clone(), e)))
            .collect()
    }

    /// Files read (for the reload watcher).
    pub fn files(&self) -> Vec<PathBuf> {
        self.files.clone()
    }
}

/// The merged store one agent sees.
#[derive(Default)]
struct View<'a> {
    profiles: Vec<&'a StoredProfile>,
    order: Vec<(String, Vec<String>)>,
    usage: HashMap<&'a str, &'a UsageStats>,
}

impl<'a> View<'a> {
    fn profile(&self, id: &str) -> Option<&'a StoredProfile> {
        self.profiles.iter().copied().find(|p| p.id == id)
    }

    fn order_for(&self, provider: &str) -> Option<&[String]> {
        self.order
            .iter()
            .find(|(k, _)| normalize_provider(k) == provider)
            .map(|(_, v)| v.as_slice())
    }

    /// OpenClaw's `mergeAuthProfileStores(base = self, override = doc)`.
    fn overlay(&mut self, doc: &'a StoreDoc) {
        // Profiles: override first, then base ids the override does not redefine.
        let mut profiles: Vec<&StoredProfile> = doc.profiles.iter().collect();
        profiles.extend(
            self.profiles
                .iter()
                .copied()
                .filter(|p| !doc.profiles.iter().any(|o| o.id == p.id)),
        );
        // Order: record merge; then for each provider the override has profiles for and
        // the override has no order of its own, the override's ids are put in front of
        // the base order (so a locally added profile joins an inherited order).
        let base_order = std::mem::take(&mut self.order);
        let mut order = base_order.clone();
        if let Some(o) = &doc.order {
            for (k, ids) in o {
                order.retain(|(q, _)| q != k);
                order.push((k.clone(), ids.clone()));
            }
        }
        let mut providers: Vec<String> = Vec::new();
        for p in &doc.profiles {
            let n = normalize_provider(&p.provider);
            if !providers.contains(&n) {
                providers.push(n);
            }
        }
        for prov in providers {
            let override_key = doc
                .order
                .as_ref()
                .and_then(|o| o.iter().find(|(k, _)| normalize_provider(k) == prov))
                .map(|(k, _)| k.clone());
            let base_key = base_order
                .iter()
                .find(|(k, _)| normalize_provider(k) == prov)
                .map(|(k, _)| k.clone());
            let Some(merged_key) = override_key.clone().or(base_key.clone()) else {
                continue;
            };
            order.retain(|(k, _)| *k == merged_key || normalize_provider(k) != prov);
            if override_key.is_some() {
                continue;
            }
            let mut ids: Vec<String> = doc
                .profiles
                .iter()
                .filter(|p| normalize_provider(&p.provider) == prov)
                .map(|p| p.id.clone())
                .collect();
            let base_ids = base_order
                .iter()
                .find(|(k, _)| Some(k) == base_key.as_ref())
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            for id in base_ids {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            if let Some(slot) = order.iter_mut().find(|(k, _)| *k == merged_key) {
                slot.1 = ids;
            }
        }
        self.order = order;
        self.profiles = profiles;
        for (id, s) in &doc.usage {
            self.usage.insert(id.as_str(), s);
        }
    }

    fn stats(&self, id: &str) -> Option<&'a UsageStats> {
        self.usage.get(id).copied()
    }

    /// Candidate profile ids in OpenClaw's order, before secret resolution.
    fn candidate_order(&self, req: &CredentialRequest<'_>, provider: &str) -> Vec<String> {
        let stored_order = self.order_for(provider).filter(|o| !o.is_empty());
        let explicit: Option<Vec<String>> = stored_order
            .map(|o| o.to_vec())
            .or_else(|| req.config_order.map(|o| o.to_vec()));
        let store_profiles: Vec<String> = self
            .profiles
            .iter()
            .filter(|p| normalize_provider(&p.provider) == provider)
            .map(|p| p.id.clone())
            .collect();
        let base: Vec<String> = match &explicit {
            Some(o) => o.clone(),
            None if !req.config_profiles.is_empty() => req.config_profiles.to_vec(),
            None => store_profiles.clone(),
        };
        let valid = |id: &String| {
            self.profile(id)
                .is_some_and(|p| normalize_provider(&p.provider) == provider)
        };
        let mut filtered: Vec<String> = Vec::new();
        for id in base.iter().filter(|id| valid(id)) {
            if !filtered.contains(id) {
                filtered.push(id.clone());
            }
        }
        // OpenClaw's repair: an order/config list naming only profiles that do not exist at
        // all falls back to the stored profiles.
        let all_missing = base.iter().all(|id| self.profile(id).is_none());
        let repaired = filtered.is_empty()
            && all_missing
            && (stored_order.is_some() || !req.config_profiles.is_empty());
        if repaired {
            filtered = store_profiles;
        }
        let now = req.now_ms;
        let in_cooldown = |id: &str| self.stats(id).is_some_and(|s| s.in_cooldown(now));
        let until = |id: &str| {
            self.stats(id)
                .and_then(|s| s.unusable_until())
                .unwrap_or(now)
        };
        let (mut available, mut cooling): (Vec<String>, Vec<String>) =
            filtered.into_iter().partition(|id| !in_cooldown(id));
        cooling.sort_by_key(|id| until(id));
        if explicit.is_none() || repaired {
            available.sort_by_key(|id| {
                let p = self.profile(id);
                let type_score = match p.and_then(|p| p.kind) {
                    Some(CredentialKind::Oauth) => 0,
                    Some(CredentialKind::Token) => 1,
                    Some(CredentialKind::ApiKey) => 2,
                    None => 3,
                };
                let expiry_score =
                    i32::from(p.is_some_and(|p| {
                        p.kind == Some(CredentialKind::Oauth) && is_expired(p, now)
                    }));
                let last_used = self.stats(id).and_then(|s| s.last_used).unwrap_or(0);
                (type_score, expiry_score, last_used)
            });
        }
        available.extend(cooling);
        available
    }
}

#[derive(PartialEq, Eq)]
enum Eligibility {
    Ok,
    TokenExpired,
    No,
}

fn is_expired(p: &StoredProfile, now_ms: i64) -> bool {
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
