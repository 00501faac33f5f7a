//! Builds the [`ProbePlan`] from clawprobe's config: OpenClaw discovery plus `[[targets]]`.
//! OWNER: discovery (config side) helper.
//!
//! Discovery is read-only: the OpenClaw config (and its includes, and `<stateDir>/.env`) is
//! read with `std::fs::read_to_string`, and the auth stores through [`AuthStores::load`],
//! which opens them read-only. Every route that cannot be probed gets a static [`Finding`]
//! instead of a target, so `clawprobe check` can show it without sending a request.

use super::{
    AgentChain, AgentFinding, ApiStyle, ChainEntry, Credential, CredentialExpiry, CredentialKind,
    CredentialSource, Finding, ProbePlan, RotationStep, Target,
};
use crate::class::Class;
use crate::config::Config;
use crate::openclaw::agents::{self, AgentSpec, AgentsError};
use crate::openclaw::auth::{
    AgentDir, AuthError, AuthStores, Candidate, CredentialOutcome, CredentialRequest, Rotation,
};
use crate::openclaw::config_file::{self, ConfigFileError, LoadedConfig, MissingVar};
use crate::openclaw::era;
use crate::openclaw::locate::{self, Located, Location};
use crate::openclaw::modelref::{self, RefContext};
use crate::openclaw::providers::{self, ProviderInfo};
use crate::secret::Secret;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Why a plan could not be built. Messages name the file, the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Discovery(String),
    #[error(transparent)]
    Config(#[from] ConfigFileError),
    #[error(transparent)]
    Agents(#[from] AgentsError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("no OpenClaw install found (looked for {looked}) and [openclaw].required is true; set [openclaw].config_path / state_dir (or OPENCLAW_CONFIG_PATH / OPENCLAW_STATE_DIR), or set [openclaw].required = false")]
    NotFound { looked: String },
}

/// What the builder reads from outside the config: injectable so tests never touch the real
/// process environment or home directory.
pub struct Inputs<'a> {
    /// Process environment lookup.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Home directory used when neither `OPENCLAW_HOME` nor `HOME` is set.
    pub home: Option<PathBuf>,
    /// Now, ms since the Unix epoch (token expiry).
    pub now_ms: i64,
}

/// Reads the OpenClaw install (if enabled) and the standalone targets into a plan.
/// Never writes anything.
pub fn build(config: &Config) -> Result<ProbePlan, PlanError> {
    let env = |k: &str| std::env::var(k).ok();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    build_with(
        config,
        &Inputs {
            env: &env,
            home: dirs::home_dir(),
            now_ms,
        },
    )
}

/// [`build`] with explicit inputs.
pub fn build_with(config: &Config, inputs: &Inputs<'_>) -> Result<ProbePlan, PlanError> {
    let mut plan = ProbePlan::default();
    if config.openclaw.enabled {
        match locate::locate(&config.openclaw, inputs.env, inputs.home.as_deref()) {
            Located::Found(loc) => discover(config, &loc, inputs, &mut plan)?,
            Located::NotFound { looked } => {
                let looked = looked
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                if config.openclaw.required {
                    return Err(PlanError::NotFound { looked });
                }
                tracing::warn!(
                    looked = %looked,
                    "no OpenClaw install found; the plan has only [[targets]] (set [openclaw].config_path, or enabled = false to silence this)"
                );
            }
        }
    }
    add_standalone_targets(config, inputs, &mut plan);
    Ok(plan)
}

fn finding(class: Class, reason: &str, message: String) -> Option<Finding> {
    Some(Finding {
        class,
        reason: reason.to_string(),
        message,
    })
}

fn new_entry(position: usize, raw_ref: &str) -> ChainEntry {
    ChainEntry::new(position, raw_ref)
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn missing_credential_message(base: &str, info: &ProviderInfo) -> String {
    let p = &info.id;
    let env = if info.env_vars.is_empty() {
        format!("set models.providers.{p}.apiKey")
    } else {
        format!("set {}", info.env_vars.join(" or "))
    };
    format!("{base}; fix: `openclaw models auth paste-token --provider {p}` or {env}")
}

fn discover(
    config: &Config,
    loc: &Location,
    inputs: &Inputs<'_>,
    plan: &mut ProbePlan,
) -> Result<(), PlanError> {
    let loaded = config_file::load(&loc.config_path, &loc.state_dir, inputs.env)?;
    for m in &loaded.missing_vars {
        tracing::warn!("{m}");
    }
    let home = locate::home_dir(inputs.env, inputs.home.as_deref());
    let mut dirs: Vec<AgentDir> =
        agents::agent_dirs(&loaded.value, &loaded.path, &loc.state_dir, home.as_deref())?
            .into_iter()
            .map(|(agent, dir)| AgentDir { agent, dir })
            .collect();
    if let Some(filter) = &config.openclaw.agents {
        for name in filter {
            if !dirs.iter().any(|d| d.agent.eq_ignore_ascii_case(name)) {
                tracing::warn!(agent = %name, config = %loaded.path.display(), "[openclaw].agents names an agent the OpenClaw config does not have");
            }
        }
        dirs.retain(|d| filter.iter().any(|f| f.eq_ignore_ascii_case(&d.agent)));
    }
    let stores = AuthStores::load(&loc.state_dir, &dirs)?;
    // Read the install the way the release that wrote it does (the rule: openclaw::era).
    let dir_refs: Vec<&std::path::Path> = dirs.iter().map(|d| d.dir.as_path()).collect();
    let detected = era::detect(
        &loaded.value,
        &loc.state_dir,
        &dir_refs,
        stores.shared_store_in_use(),
    );
    tracing::debug!(config = %loaded.path.display(), era = %detected.describe(), "OpenClaw release");
    let rules = detected.era.rules;
    let specs: Vec<AgentSpec> = agents::agents(
        &loaded.value,
        &loaded.path,
        &loc.state_dir,
        home.as_deref(),
        &rules,
    )?
    .into_iter()
    .filter(|s| dirs.iter().any(|d| d.agent == s.id))
    .collect();
    let mut ctx = Discovery::new(&loaded, stores, inputs.now_ms, rules);
    for spec in &specs {
        let chain = ctx.chain(spec, plan);
        plan.agents.push(chain);
        if rules.check_counts_every_token_profile {
            ctx.release_check_findings(&spec.id, &detected, plan);
        }
    }
    plan.openclaw_release = Some(detected.describe());

    plan.profile_states = ctx.stores.profile_states();
    for a in &plan.agents {
        let own = ctx.stores.profile_states_for(&a.agent);
        if own != plan.profile_states {
            plan.agent_profile_states.insert(a.agent.clone(), own);
        }
    }
    let mut files = loaded.files.clone();
    files.extend(loaded.dotenv_path.clone());
    files.extend(ctx.stores.files());
    for f in files {
        if !plan.watched_files.contains(&f) {
            plan.watched_files.push(f);
        }
    }
    Ok(())
}

/// Everything a route of one install is resolved against, read once per build.
struct Discovery<'a> {
    loaded: &'a LoadedConfig<'a>,
    stores: AuthStores,
    now_ms: i64,
    /// How the release that wrote the install reads it.
    rules: era::Rules,
    /// Unset `${VAR}`s under `models.providers.<id>.*`, by normalised provider id: every
    /// route to that provider gets a finding instead of being probed with a literal `${VAR}`.
    provider_missing: BTreeMap<String, Vec<&'a MissingVar>>,
    aliases: BTreeMap<String, String>,
    configured: BTreeMap<String, providers::ConfiguredProvider>,
    configured_models: BTreeMap<String, Vec<String>>,
    /// Every provider id a ref could name (catalog + configured), for suggestions.
    known: Vec<String>,
    /// `auth.order` by normalised provider.
    auth_order: BTreeMap<String, Vec<String>>,
    /// `auth.profiles` ids by normalised provider.
    auth_profiles: BTreeMap<String, Vec<String>>,
    /// Credential answers by (agent, provider, `@profile`): routes share them.
    /// `(id, mode)` of every `auth.profiles` entry.
    profile_modes: Vec<(String, String)>,
    /// Rotations by (agent, provider, `@profile`): routes share them.
    cache: HashMap<(String, String, Option<String>), Rotation>,
}

impl<'a> Discovery<'a> {
    fn new(
        loaded: &'a LoadedConfig<'a>,
        stores: AuthStores,
        now_ms: i64,
        rules: era::Rules,
    ) -> Discovery<'a> {
        let cfg = &loaded.value;
        let mut provider_missing: BTreeMap<String, Vec<&MissingVar>> = BTreeMap::new();
        if let Some(map) = cfg.pointer("/models/providers").and_then(Value::as_object) {
            for raw in map.keys() {
                let prefix = format!("models.providers.{raw}.");
                for m in loaded
                    .missing_vars
                    .iter()
                    .filter(|m| m.key.starts_with(&prefix))
                {
                    provider_missing
                        .entry(modelref::normalize_provider(raw))
                        .or_default()
                        .push(m);
                }
            }
        }
        let configured = providers::configured_providers(cfg);
        let configured_models = configured
            .iter()
            .map(|(k, v)| (k.clone(), v.models.clone()))
            .collect();
        let mut known: Vec<String> = providers::CATALOG
            .iter()
            .map(|c| c.id.to_string())
            .collect();
        known.extend(configured.keys().cloned());
        let mut auth_order: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(o) = cfg.pointer("/auth/order").and_then(Value::as_object) {
            for (p, ids) in o {
                auth_order.insert(modelref::normalize_provider(p), string_list(ids));
            }
        }
        let mut auth_profiles: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut profile_modes = Vec::new();
        if let Some(o) = cfg.pointer("/auth/profiles").and_then(Value::as_object) {
            for (id, meta) in o {
                if let Some(mode) = meta.get("mode").and_then(Value::as_str) {
                    profile_modes.push((id.clone(), mode.to_string()));
                }
                let provider = meta
                    .get("provider")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| id.split_once(':').map(|(p, _)| p.to_string()));
                if let Some(p) = provider {
                    auth_profiles
                        .entry(modelref::normalize_provider(&p))
                        .or_default()
                        .push(id.clone());
                }
            }
        }
        Discovery {
            loaded,
            stores,
            now_ms,
            rules,
            provider_missing,
            aliases: agents::aliases(cfg),
            configured,
            configured_models,
            known,
            auth_order,
            auth_profiles,
            profile_modes,
            cache: HashMap::new(),
        }
    }

    /// One agent's chain: a [`ChainEntry`] per ref, primary first.
    fn chain(&mut self, spec: &AgentSpec, plan: &mut ProbePlan) -> AgentChain {
        let mut chain = AgentChain {
            agent: spec.id.clone(),
            entries: Vec::new(),
        };
        let refs = spec.chain();
        if refs.is_empty() {
            let mut e = new_entry(0, "");
            e.finding = finding(
                Class::UnresolvedRef,
                "no_model",
                format!(
                    "agent `{}` has no model; set agents.defaults.model (or the agent's model) in {}",
                    spec.id,
                    self.loaded.path.display()
                ),
            );
            chain.entries.push(e);
        }
        for (pos, raw) in refs.iter().enumerate() {
            let mut e = new_entry(pos, raw);
            self.resolve_entry(&spec.id, &mut e, plan);
            chain.entries.push(e);
        }
        chain
    }

    /// Resolves one route: ref → provider → API → base URL → credential → target. Each
    /// step that fails leaves a finding on `e` and returns.
    fn resolve_entry(&mut self, agent: &str, e: &mut ChainEntry, plan: &mut ProbePlan) {
        let raw = e.raw_ref.clone();
        if let Some(m) = self
            .loaded
            .missing_vars
            .iter()
            .find(|m| raw.contains(&format!("${{{}}}", m.var)))
        {
            e.finding = finding(Class::UnresolvedRef, "missing_env_var", m.to_string());
            return;
        }
        let ctx = RefContext {
            aliases: &self.aliases,
            configured: &self.configured_models,
        };
        let r = match modelref::resolve(&raw, &ctx) {
            Ok(r) => r,
            Err(err) => {
                e.finding = finding(Class::UnresolvedRef, err.reason, err.message);
                return;
            }
        };
        e.provider = Some(r.provider.clone());
        e.model = Some(r.model.clone());
        let Some(info) = providers::resolve(&r.provider, &self.configured) else {
            e.finding = finding(
                Class::UnresolvedRef,
                "unknown_provider",
                modelref::unknown_provider_message(&r.provider, &r.model, &self.known),
            );
            return;
        };
        e.api = Some(info.api.clone());
        if !info.api.is_probeable() {
            e.finding = finding(
                Class::Skipped,
                "unsupported_api",
                format!(
                    "clawprobe cannot probe API style `{}` (provider `{}`); this route is reported as skipped, never as healthy",
                    info.api, info.id
                ),
            );
            return;
        }
        if let Some(m) = self
            .provider_missing
            .get(&info.id)
            .and_then(|ms| ms.first())
        {
            let class = if m.key.contains(".apiKey") || m.key.contains(".headers") {
                Class::Auth
            } else {
                Class::UnresolvedRef
            };
            e.finding = finding(class, "missing_env_var", m.to_string());
            return;
        }
        let Some(base_url) = info.base_url.clone() else {
            e.finding = finding(
                Class::Skipped,
                "no_base_url",
                format!(
                    "clawprobe has no built-in base URL for provider `{}`; set models.providers.{}.baseUrl in {} to probe it",
                    info.id,
                    info.id,
                    self.loaded.path.display()
                ),
            );
            return;
        };
        let rotation = self.rotation(agent, &info, r.profile.as_deref());
        let route = |credential: Option<Credential>| Target {
            id: 0,
            provider: info.id.clone(),
            model: r.model.clone(),
            base_url: base_url.clone(),
            api: info.api.clone(),
            credential,
            headers: info.headers.clone(),
        };
        let mut steps = Vec::with_capacity(rotation.candidates.len());
        for c in &rotation.candidates {
            steps.push(match c {
                Candidate::Usable(c) => {
                    note_expiry(plan, agent, &info.id, c);
                    RotationStep {
                        credential: c.label(),
                        target: Some(plan.intern_target(route(Some(c.clone())))),
                        skipped: None,
                    }
                }
                Candidate::Expired(c) => {
                    note_expiry(plan, agent, &info.id, c);
                    RotationStep {
                        credential: c.label(),
                        target: None,
                        skipped: finding(
                            Class::Auth,
                            "token_expired",
                            expired_message(c, &info.id),
                        ),
                    }
                }
                Candidate::Unreadable {
                    profile,
                    reason,
                    message,
                } => RotationStep {
                    credential: profile.clone(),
                    target: None,
                    skipped: finding(Class::Auth, reason, message.clone()),
                },
                Candidate::Skipped { profile, reason } => RotationStep {
                    credential: profile.clone(),
                    target: None,
                    skipped: finding(
                        Class::Auth,
                        reason.code(),
                        format!("{profile} skipped: {}", reason.describe()),
                    ),
                },
            });
        }
        e.credential_label = steps
            .iter()
            .find(|s| s.target.is_some())
            .or_else(|| steps.iter().find(|s| s.skipped.is_none()))
            .or(steps.first())
            .map(|s| s.credential.clone());
        e.target = steps.iter().find_map(|s| s.target);
        e.rotation = steps;
        if e.target.is_some() {
            // A working credential exists: ineligible ones stay findings of their steps.
            return;
        }
        match rotation.outcome {
            CredentialOutcome::Found(_) => {}
            CredentialOutcome::Expired(c) => {
                e.credential_label = Some(c.label());
                e.finding = finding(Class::Auth, "token_expired", expired_message(&c, &info.id));
            }
            CredentialOutcome::Missing { message } => {
                if info.key_required {
                    e.finding = finding(
                        Class::Auth,
                        "missing_credential",
                        missing_credential_message(&message, &info),
                    );
                    return;
                }
                // A keyless provider (local Ollama): probed without a credential.
                let target = route(None);
                let label = target.credential_label();
                let id = plan.intern_target(target);
                e.set_target(id, label);
            }
            CredentialOutcome::Unresolvable { reason, message } => {
                e.finding = finding(Class::Auth, &reason, message);
            }
        }
    }

    /// What the release's own `models status --check` fails on for `agent` beyond its
    /// routes' findings: every token/OAuth profile it can see that OpenClaw would not use.
    fn release_check_findings(&self, agent: &str, detected: &era::Detected, plan: &mut ProbePlan) {
        let release = detected
            .release()
            .map(|r| r.to_string())
            .unwrap_or_else(|| format!("{} era", detected.era.name));
        for (profile, provider, why) in
            self.stores
                .unusable_token_profiles(agent, self.now_ms, &self.profile_modes)
        {
            plan.agent_findings.push(AgentFinding {
                agent: agent.to_string(),
                finding: Finding {
                    class: Class::Auth,
                    reason: why.code().to_string(),
                    message: format!(
                        "auth profile {profile} ({provider}) cannot be used: {}; OpenClaw {release}'s `openclaw models status --check` fails on it even if no route uses it; fix: `openclaw models auth paste-token --agent {agent} --provider {provider} --profile-id {profile}` or remove it",
                        why.describe()
                    ),
                },
            });
        }
    }

    /// The credentials `agent` would try for `info`'s provider, in order (cached per agent,
    /// provider and `@profile`).
    fn rotation(&mut self, agent: &str, info: &ProviderInfo, profile: Option<&str>) -> Rotation {
        let key = (
            agent.to_string(),
            info.id.clone(),
            profile.map(str::to_string),
        );
        if let Some(o) = self.cache.get(&key) {
            return o.clone();
        }
        let env_lookup = |k: &str| self.loaded.env.get(k);
        let no_profiles: Vec<String> = Vec::new();
        let rotation = self.stores.rotation(&CredentialRequest {
            agent,
            provider: &info.id,
            profile_override: profile,
            config_order: self.auth_order.get(&info.id).map(Vec::as_slice),
            config_profiles: self.auth_profiles.get(&info.id).unwrap_or(&no_profiles),
            config_profile_modes: &self.profile_modes,
            env: &env_lookup,
            env_vars: &info.env_vars,
            provider_api_key: info.api_key.as_ref(),
            config_dir: self.loaded.dir(),
            now_ms: self.now_ms,
            config_key_joins_rotation: self.rules.config_key_joins_rotation,
        });
        self.cache.insert(key, rotation.clone());
        rotation
    }
}

fn expired_message(c: &Credential, provider: &str) -> String {
    format!(
        "credential `{}` for provider `{provider}` has expired; fix: `openclaw models auth login --provider {provider}` (or paste a new token)",
        c.label()
    )
}

fn note_expiry(plan: &mut ProbePlan, agent: &str, provider: &str, c: &Credential) {
    // OAuth access tokens last hours and OpenClaw refreshes them itself: exporting their
    // expiry would page on every refresh cycle. Setup/static tokens do not refresh.
    if c.kind == crate::plan::CredentialKind::Oauth {
        return;
    }
    let (Some(expires_at_ms), CredentialSource::Profile { id, .. }) = (c.expires_at_ms, &c.source)
    else {
        return;
    };
    let exp = CredentialExpiry {
        agent: agent.to_string(),
        provider: provider.to_string(),
        profile: id.clone(),
        expires_at_ms,
    };
    if !plan.credential_expiries.contains(&exp) {
        plan.credential_expiries.push(exp);
    }
}

/// Standalone `[[targets]]`: each joins the chain named by `agent` (default: its own
/// `name`), in file order; the first entry of a chain is its primary.
fn add_standalone_targets(config: &Config, inputs: &Inputs<'_>, plan: &mut ProbePlan) {
    for (i, t) in config.targets.iter().enumerate() {
        let agent = t.agent.clone().unwrap_or_else(|| t.name.clone());
        let provider = modelref::normalize_provider(&t.provider);
        let cat = providers::catalog(&provider);
        let chain_idx = match plan.agents.iter().position(|a| a.agent == agent) {
            Some(idx) => idx,
            None => {
                plan.agents.push(AgentChain {
                    agent: agent.clone(),
                    entries: Vec::new(),
                });
                plan.agents.len() - 1
            }
        };
        let position = plan.agents[chain_idx].entries.len();
        let mut e = new_entry(position, &format!("{provider}/{}", t.model));
        e.provider = Some(provider.clone());
        e.model = Some(t.model.clone());
        let base_url = t
            .base_url
            .clone()
            .or_else(|| cat.and_then(|c| c.base_url.map(str::to_string)))
            .map(|u| u.trim_end_matches('/').to_string());
        let api = t
            .api
            .as_deref()
            .map(ApiStyle::parse)
            .or_else(|| cat.map(|c| ApiStyle::parse(c.api)))
            .unwrap_or(ApiStyle::OpenAiCompletions);
        e.api = Some(api.clone());
        let key = format!("targets[{i}] (`{}`) in {}", t.name, config.source);
        let mut credential = None;
        if let Some(var) = &t.api_key_env {
            e.credential_label = Some(format!("env:{var}"));
            match (inputs.env)(var).filter(|v| !v.trim().is_empty()) {
                Some(v) => {
                    credential = Some(Credential {
                        source: CredentialSource::TargetEnv { var: var.clone() },
                        kind: CredentialKind::ApiKey,
                        secret: Secret::new(v),
                        expires_at_ms: None,
                    })
                }
                None => {
                    e.finding = finding(
                        Class::Auth,
                        "missing_credential",
                        format!("environment variable {var} (api_key_env of {key}) is not set; export it where clawprobe runs"),
                    )
                }
            }
        }
        if e.finding.is_none() {
            if !api.is_probeable() {
                e.finding = finding(
                    Class::Skipped,
                    "unsupported_api",
                    format!("clawprobe cannot probe API style `{api}` ({key}); this route is reported as skipped, never as healthy"),
                );
            } else if base_url.is_none() {
                e.finding = finding(
                    Class::UnresolvedRef,
                    "unknown_provider",
                    format!("provider `{provider}` of {key} has no built-in base URL; set base_url (and api) in that [[targets]] entry"),
                );
            }
        }
        if e.finding.is_none() {
            let target = Target {
                id: 0,
                provider,
                model: t.model.clone(),
                base_url: base_url.expect("checked above"),
                api,
                credential,
                headers: Vec::new(),
            };
            let label = target.credential_label();
            let id = plan.intern_target(target);
            e.set_target(id, label);
        }
        plan.agents[chain_idx].entries.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{OpenClawSettings, TargetSettings};
    use std::collections::HashMap;
    use std::path::Path;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn run(config: &Config, vars: &[(&str, &str)]) -> Result<ProbePlan, PlanError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |k: &str| map.get(k).cloned();
        build_with(
            config,
            &Inputs {
                env: &env,
                home: None,
                now_ms: 1_800_000_000_000,
            },
        )
    }

    fn config_for(state: &Path) -> Config {
        Config {
            openclaw: OpenClawSettings {
                state_dir: Some(state.to_path_buf()),
                ..OpenClawSettings::default()
            },
            source: "test.toml".into(),
            ..Config::default()
        }
    }

    const INSTALL: &str = r#"{
      // current era
      $include: "./models.json5",
      agents: {
        defaults: {
          model: { primary: "local/llama3", fallbacks: ["openai/gpt-5-mini", "moonshotai/kimi-k2", "bedrock/claude"] },
          models: { "ollama/qwen3:8b": { alias: "qwen" } },
        },
        entries: {
          main: {},
          coder: { model: "local/llama3" },
          helper: { model: { primary: "qwen", fallbacks: [] } },
          typo: { model: "opnai/gpt-5" },
        },
      },
    }"#;
    const MODELS: &str = r#"{ models: { providers: {
        local: { baseUrl: "${LOCAL_URL}", api: "ollama" },
    } } }"#;

    fn install() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "openclaw.json", INSTALL);
        write(d.path(), "models.json5", MODELS);
        write(d.path(), ".env", "LOCAL_URL=http://127.0.0.1:11999/\n");
        d
    }

    fn entry<'a>(plan: &'a ProbePlan, agent: &str, pos: usize) -> &'a ChainEntry {
        &plan
            .agents
            .iter()
            .find(|a| a.agent == agent)
            .unwrap()
            .entries[pos]
    }

    #[test]
    fn discovers_agents_chains_targets_and_findings() {
        let d = install();
        let plan = run(&config_for(d.path()), &[]).unwrap();
        let names: Vec<&str> = plan.agents.iter().map(|a| a.agent.as_str()).collect();
        assert_eq!(names, vec!["main", "coder", "helper", "typo"]);
        // main: defaults chain of 4.
        let main = &plan.agents[0];
        assert_eq!(main.entries.len(), 4);
        assert_eq!(main.fallback_count(), 3);
        // local/llama3 from ${LOCAL_URL} via .env, no key needed: a target.
        let e0 = entry(&plan, "main", 0);
        let t = plan.target(e0.target.expect("local target"));
        assert_eq!(t.base_url, "http://127.0.0.1:11999");
        assert_eq!(t.api, ApiStyle::Ollama);
        assert!(t.credential.is_none());
        // Shared with coder: one target.
        assert_eq!(entry(&plan, "coder", 0).target, e0.target);
        assert_eq!(
            plan.agents[1].entries.len(),
            1,
            "plain string model has no fallbacks"
        );
        // openai without a key: missing_credential with OpenClaw's message and the fix.
        let f = entry(&plan, "main", 1).finding.clone().unwrap();
        assert_eq!(
            (f.class, f.reason.as_str()),
            (Class::Auth, "missing_credential")
        );
        assert!(
            f.message
                .contains("No API key found for provider \"openai\""),
            "{}",
            f.message
        );
        assert!(
            f.message
                .contains("openclaw models auth paste-token --provider openai"),
            "{}",
            f.message
        );
        assert!(f.message.contains("OPENAI_API_KEY"), "{}", f.message);
        // unknown provider with the openrouter suggestion.
        let f = entry(&plan, "main", 2).finding.clone().unwrap();
        assert_eq!(
            (f.class, f.reason.as_str()),
            (Class::UnresolvedRef, "unknown_provider")
        );
        assert!(
            f.message.contains("`openrouter/moonshotai/kimi-k2`"),
            "{}",
            f.message
        );
        // bedrock: normalised and skipped.
        let e = entry(&plan, "main", 3);
        assert_eq!(e.provider.as_deref(), Some("amazon-bedrock"));
        let f = e.finding.clone().unwrap();
        assert_eq!(
            (f.class, f.reason.as_str()),
            (Class::Skipped, "unsupported_api")
        );
        // helper: alias to ollama, fallbacks disabled.
        let h = &plan.agents[2];
        assert_eq!(h.entries.len(), 1);
        assert_eq!(h.entries[0].raw_ref, "qwen");
        assert_eq!(
            plan.target(h.entries[0].target.unwrap()).model_ref(),
            "ollama/qwen3:8b"
        );
        assert_eq!(
            plan.target(h.entries[0].target.unwrap()).base_url,
            "http://127.0.0.1:11434"
        );
        // typo: suggests openai.
        let f = entry(&plan, "typo", 0).finding.clone().unwrap();
        assert!(f.message.contains("`openai/gpt-5`"), "{}", f.message);
        assert_eq!(plan.targets.len(), 2);
        assert!(plan.has_findings());
        // Watched: config, include, .env.
        for f in ["openclaw.json", "models.json5", ".env"] {
            assert!(
                plan.watched_files.contains(&d.path().join(f)),
                "{f}: {:?}",
                plan.watched_files
            );
        }
    }

    #[test]
    fn process_env_beats_dotenv_and_agent_filter_applies() {
        let d = install();
        let mut c = config_for(d.path());
        c.openclaw.agents = Some(vec!["coder".into()]);
        let plan = run(&c, &[("LOCAL_URL", "http://127.0.0.1:12000")]).unwrap();
        assert_eq!(plan.agents.len(), 1);
        assert_eq!(plan.targets[0].base_url, "http://127.0.0.1:12000");
        assert!(!plan.has_findings());
    }

    #[test]
    fn missing_var_becomes_a_finding_not_an_error() {
        let d = install();
        std::fs::remove_file(d.path().join(".env")).unwrap();
        let plan = run(&config_for(d.path()), &[]).unwrap();
        let e = entry(&plan, "main", 0);
        assert_eq!(e.target, None);
        let f = e
            .finding
            .clone()
            .expect("finding for the provider with an unset var");
        assert_eq!(
            (f.class, f.reason.as_str()),
            (Class::UnresolvedRef, "missing_env_var")
        );
        assert!(
            f.message.contains("models.providers.local.baseUrl"),
            "{}",
            f.message
        );
        assert!(f.message.contains("LOCAL_URL"), "{}", f.message);
        assert!(f.message.contains("openclaw.json"), "{}", f.message);
        // Other providers are unaffected: the ollama alias still has its target.
        assert!(entry(&plan, "helper", 0).target.is_some());
    }

    #[test]
    fn missing_var_in_a_model_ref() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "openclaw.json",
            "{ agents: { entries: { main: { model: 'ollama/${MODEL_NAME}' } } } }",
        );
        let plan = run(&config_for(d.path()), &[]).unwrap();
        let f = entry(&plan, "main", 0).finding.clone().unwrap();
        assert_eq!(f.reason, "missing_env_var");
        assert!(
            f.message.contains("agents.entries.main.model"),
            "{}",
            f.message
        );
        let plan = run(&config_for(d.path()), &[("MODEL_NAME", "qwen3")]).unwrap();
        assert_eq!(plan.targets[0].model, "qwen3");
    }

    #[test]
    fn not_found_required_or_not() {
        let d = tempfile::tempdir().unwrap();
        let mut c = config_for(&d.path().join("absent"));
        let plan = run(&c, &[]).unwrap();
        assert!(plan.agents.is_empty() && plan.targets.is_empty());
        c.openclaw.required = true;
        let err = run(&c, &[]).unwrap_err().to_string();
        assert!(
            err.contains(&d.path().join("absent/openclaw.json").display().to_string()),
            "{err}"
        );
        assert!(err.contains("required"), "{err}");
        c.openclaw.enabled = false;
        assert!(run(&c, &[]).is_ok());
    }

    /// An install stamped by `release`: main's store holds an expired token, a working token
    /// and an API key for acme (a custom provider with a literal apiKey too); agent `solo`
    /// has a plain-string model.
    fn rotation_install(release: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "openclaw.json",
            &format!(
                r#"{{ meta: {{ lastTouchedVersion: "{release}" }},
                  models: {{ providers: {{ acme: {{ baseUrl: "http://127.0.0.1:9/v1", api: "openai-completions",
                                                  apiKey: "sk-canary-CONFIG-acme-1", models: [{{ id: "m1" }}] }} }} }},
                  agents: {{ defaults: {{ model: {{ primary: "acme/m1", fallbacks: ["acme/m2"] }} }},
                             list: [ {{ id: "main" }}, {{ id: "solo", model: "acme/m1@acme:key" }} ] }} }}"#
            ),
        );
        write(
            d.path(),
            "agents/main/agent/auth-profiles.json",
            r#"{"version":1,"profiles":{
              "acme:old":{"type":"token","provider":"acme","token":"sk-canary-OLD-1","expires":1700000000000},
              "acme:tok":{"type":"token","provider":"acme","token":"sk-canary-TOK-1","expires":1900000000000},
              "acme:key":{"type":"api_key","provider":"acme","key":"sk-canary-KEY-1"}}}"#,
        );
        d
    }

    fn rotation(e: &ChainEntry) -> Vec<(String, bool)> {
        e.rotation
            .iter()
            .map(|s| (s.credential.clone(), s.target.is_some()))
            .collect()
    }

    #[test]
    fn routes_carry_openclaws_rotation_by_release() {
        let old = rotation_install("2026.4.12");
        let plan = run(&config_for(old.path()), &[]).unwrap();
        assert_eq!(
            plan.openclaw_release.as_deref(),
            Some("2026.4.12 (meta.lastTouchedVersion)")
        );
        let main = entry(&plan, "main", 0);
        // Tokens before keys; the expired token is skipped with why, and the route works.
        assert_eq!(
            rotation(main),
            vec![
                ("acme:tok".to_string(), true),
                ("acme:key".to_string(), true),
                ("acme:old".to_string(), false),
            ]
        );
        assert_eq!(main.target, main.rotation[0].target);
        assert_eq!(
            main.finding, None,
            "a skipped profile never makes a working route auth"
        );
        let skip = main.rotation[2].skipped.clone().unwrap();
        assert_eq!(
            (skip.class, skip.reason.as_str()),
            (Class::Auth, "token_expired")
        );
        assert_eq!(
            skip.message,
            "acme:old skipped: token expired 2023-11-14 22:13 UTC"
        );
        // Each step probes its own credential on the same provider, model and base URL.
        let (ia, ib) = (
            main.rotation[0].target.unwrap(),
            main.rotation[1].target.unwrap(),
        );
        let (a, b) = (plan.target(ia), plan.target(ib));
        assert_eq!((a.model_ref(), &a.base_url), (b.model_ref(), &b.base_url));
        assert_ne!(plan.credential_key(ia), plan.credential_key(ib));
        // 2026.4: a plain-string model gets the defaults' fallbacks; @profile goes first.
        let solo = &plan.agents[1];
        assert_eq!(solo.entries.len(), 2);
        assert_eq!(
            solo.entries[0].credential_label.as_deref(),
            Some("acme:key")
        );
        assert_eq!(
            rotation(&solo.entries[0])[1],
            ("acme:tok".to_string(), true)
        );
        // 2026.4: the config key is no rotation step while a profile is usable, and its
        // check fails on the expired token even though no route needs it.
        assert!(!rotation(main).iter().any(|(c, _)| c.starts_with("config:")));
        assert!(plan
            .agent_findings
            .iter()
            .any(|f| f.agent == "main" && f.finding.message.contains("acme:old")));

        let new = rotation_install("2026.9.6");
        let plan = run(&config_for(new.path()), &[]).unwrap();
        let main = entry(&plan, "main", 0);
        assert_eq!(
            rotation(main).last().unwrap(),
            &("acme:old".to_string(), false)
        );
        assert!(
            rotation(main).contains(&("config:acme".to_string(), true)),
            "2026.9 tries the literal apiKey after the profiles: {:?}",
            rotation(main)
        );
        assert_eq!(plan.agents[1].entries.len(), 1, "2026.9: no fallbacks");
        assert!(plan.agent_findings.is_empty());
        assert!(!plan.has_findings());
        assert!(!format!("{plan:?}").contains("canary"));
    }

    #[test]
    fn standalone_targets() {
        let mut c = Config {
            source: "cp.toml".into(),
            ..Config::default()
        };
        c.openclaw.enabled = false;
        let t =
            |name: &str, provider: &str, model: &str, env: Option<&str>, agent: Option<&str>| {
                TargetSettings {
                    name: name.into(),
                    provider: provider.into(),
                    model: model.into(),
                    base_url: None,
                    api: None,
                    api_key_env: env.map(str::to_string),
                    agent: agent.map(str::to_string),
                }
            };
        c.targets = vec![
            t("a", "openai", "gpt-5-mini", Some("KEY_A"), Some("team")),
            t("b", "groq", "llama", Some("KEY_B"), Some("team")),
            t("c", "ollama", "qwen3", None, None),
            t("d", "mystery", "m", None, None),
            t("e", "OpenAI", "gpt-5-mini", Some("KEY_A"), None),
        ];
        let plan = run(&c, &[("KEY_A", "sk-canary-DISCOVERY-7f3a")]).unwrap();
        let names: Vec<&str> = plan.agents.iter().map(|a| a.agent.as_str()).collect();
        assert_eq!(names, vec!["team", "c", "d", "e"]);
        let team = &plan.agents[0];
        assert_eq!(team.entries[0].role, crate::plan::Role::Primary);
        assert_eq!(team.entries[1].role_label(), "fallback 1");
        let ta = plan.target(team.entries[0].target.unwrap());
        assert_eq!(ta.base_url, "https://api.openai.com/v1");
        assert_eq!(ta.credential_label(), "env:KEY_A");
        assert_eq!(
            ta.credential.as_ref().unwrap().secret.expose(),
            "sk-canary-DISCOVERY-7f3a"
        );
        // e shares a's target (same provider, model, base URL, key).
        assert_eq!(plan.agents[3].entries[0].target, team.entries[0].target);
        let f = team.entries[1].finding.clone().unwrap();
        assert_eq!(f.reason, "missing_credential");
        assert!(
            f.message.contains("KEY_B") && f.message.contains("cp.toml"),
            "{}",
            f.message
        );
        assert!(plan.agents[1].entries[0].target.is_some());
        assert_eq!(
            plan.agents[2].entries[0].finding.as_ref().unwrap().reason,
            "unknown_provider"
        );
        assert!(!format!("{plan:?}").contains("canary"));
    }
}
