//! Auth stores of every era, credential resolution order, SecretRefs, and the read-only
//! guarantees (WAL snapshots, no file touched).

use clawprobe::openclaw::auth::{
    AgentDir, AuthError, AuthStores, CredentialOutcome, CredentialRequest,
};
use clawprobe::plan::{CredentialKind, CredentialSource};
use rusqlite::Connection;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const NOW: i64 = 1_800_000_000_000;

fn agent_dir(state: &Path, id: &str) -> PathBuf {
    state.join("agents").join(id).join("agent")
}

fn agents(state: &Path, ids: &[&str]) -> Vec<AgentDir> {
    ids.iter()
        .map(|id| AgentDir {
            agent: id.to_string(),
            dir: agent_dir(state, id),
        })
        .collect()
}

fn write_json(path: &Path, v: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// Per-agent SQLite store as OpenClaw ≥ 2026.6 writes it.
fn write_agent_db(dir: &Path, store: Option<&Value>, state: Option<&Value>) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("openclaw-agent.sqlite");
    let c = Connection::open(&p).unwrap();
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS auth_profile_store(store_key TEXT PRIMARY KEY, store_json TEXT NOT NULL, updated_at INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS auth_profile_state(state_key TEXT PRIMARY KEY, state_json TEXT NOT NULL, updated_at INTEGER NOT NULL);",
    )
    .unwrap();
    if let Some(s) = store {
        c.execute(
            "INSERT OR REPLACE INTO auth_profile_store VALUES('primary', ?1, 1)",
            [s.to_string()],
        )
        .unwrap();
    }
    if let Some(s) = state {
        c.execute(
            "INSERT OR REPLACE INTO auth_profile_state VALUES('primary', ?1, 1)",
            [s.to_string()],
        )
        .unwrap();
    }
    p
}

/// Shared store `<state>/state/openclaw.sqlite` (2026.9).
fn write_shared_db(state: &Path, store: Option<&Value>, st: Option<&Value>) -> PathBuf {
    std::fs::create_dir_all(state.join("state")).unwrap();
    let p = state.join("state").join("openclaw.sqlite");
    let c = Connection::open(&p).unwrap();
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS config_machine_state(state_key TEXT PRIMARY KEY, value_json TEXT NOT NULL, updated_at_ms INTEGER NOT NULL);",
    )
    .unwrap();
    for (k, v) in [("authProfiles.store", store), ("authProfiles.state", st)] {
        if let Some(v) = v {
            c.execute(
                "INSERT OR REPLACE INTO config_machine_state VALUES(?1, ?2, 1)",
                (k, v.to_string()),
            )
            .unwrap();
        }
    }
    p
}

struct Req {
    agent: String,
    provider: String,
    profile_override: Option<String>,
    config_order: Option<Vec<String>>,
    config_profiles: Vec<String>,
    config_profile_modes: Vec<(String, String)>,
    env: BTreeMap<String, String>,
    env_vars: Vec<String>,
    api_key: Option<Value>,
    config_dir: PathBuf,
}

impl Req {
    fn new(agent: &str, provider: &str) -> Req {
        Req {
            agent: agent.into(),
            provider: provider.into(),
            profile_override: None,
            config_order: None,
            config_profiles: vec![],
            config_profile_modes: vec![],
            env: BTreeMap::new(),
            env_vars: vec![],
            api_key: None,
            config_dir: PathBuf::from("/nonexistent"),
        }
    }

    /// Runs `f` on this request as discovery builds it.
    fn with<R>(&self, f: impl FnOnce(&CredentialRequest<'_>) -> R) -> R {
        let env = |k: &str| self.env.get(k).cloned();
        f(&CredentialRequest {
            agent: &self.agent,
            provider: &self.provider,
            profile_override: self.profile_override.as_deref(),
            config_order: self.config_order.as_deref(),
            config_profiles: &self.config_profiles,
            config_profile_modes: &self.config_profile_modes,
            env: &env,
            env_vars: &self.env_vars,
            provider_api_key: self.api_key.as_ref(),
            config_dir: &self.config_dir,
            config_key_joins_rotation: false,
            now_ms: NOW,
        })
    }

    fn resolve(&self, stores: &AuthStores) -> CredentialOutcome {
        self.with(|req| stores.resolve(req))
    }

    /// The profile ids of the rotation's usable candidates, in order.
    fn usable(&self, stores: &AuthStores) -> Vec<String> {
        self.with(|req| stores.rotation(req).usable().map(|c| c.label()).collect())
    }
}

/// `(profile id | env:VAR | config:p, secret)` of a Found outcome.
fn found(o: &CredentialOutcome) -> (String, String) {
    match o {
        CredentialOutcome::Found(c) => (c.label(), c.secret.expose().to_string()),
        other => panic!("expected Found, got {other:?}"),
    }
}

fn api_key(provider: &str, key: &str) -> Value {
    json!({"type": "api_key", "provider": provider, "key": key})
}

// ---------------------------------------------------------------------------------------
// Eras

#[test]
fn legacy_json_store_with_old_field_names_loads() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    write_json(
        &agent_dir(s, "main").join("auth-profiles.json"),
        &json!({"version": 1, "profiles": {
            "openai:default": {"mode": "api_key", "provider": "openai", "apiKey": "sk-canary-LEGACY-openai"},
            "anthropic:default": {"type": "api_key", "provider": "anthropic", "key": "sk-canary-LEGACY-anthropic"}
        }}),
    );
    write_json(
        &agent_dir(s, "main").join("auth-state.json"),
        &json!({"version": 1, "usageStats": {"openai:default": {"errorCount": 2,
            "failureCounts": {"rate_limit": 2}, "cooldownUntil": 1_900_000_000_000_i64,
            "cooldownReason": "rate_limit"}}}),
    );
    let stores = AuthStores::load(s, &agents(s, &["main"])).unwrap();
    let (label, secret) = found(&Req::new("main", "openai").resolve(&stores));
    assert_eq!(label, "openai:default");
    assert_eq!(secret, "sk-canary-LEGACY-openai");
    match Req::new("main", "anthropic").resolve(&stores) {
        CredentialOutcome::Found(c) => {
            assert_eq!(
                c.source,
                CredentialSource::Profile {
                    id: "anthropic:default".into(),
                    store: "agents/main/agent/auth-profiles.json".into()
                }
            );
            assert_eq!(c.kind, CredentialKind::ApiKey);
        }
        o => panic!("{o:?}"),
    }
    let states = stores.profile_states();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].profile, "openai:default");
    assert_eq!(states[0].provider, "openai");
    assert_eq!(states[0].error_count, Some(2));
    assert_eq!(states[0].cooldown_reason.as_deref(), Some("rate_limit"));
    let files = stores.files();
    assert!(
        files.iter().any(|f| f.ends_with("auth-profiles.json")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.ends_with("auth-state.json")),
        "{files:?}"
    );
}

#[test]
fn early_legacy_file_with_usage_stats_inside() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    write_json(
        &agent_dir(s, "main").join("auth-profiles.json"),
        &json!({"version": 1,
            "profiles": {"groq:default": api_key("groq", "gsk-canary-EARLY")},
            "usageStats": {"groq:default": {"disabledUntil": 1_900_000_000_000_i64, "disabledReason": "billing"}}}),
    );
    let stores = AuthStores::load(s, &agents(s, &["main"])).unwrap();
    let st = stores.profile_states();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].disabled_reason.as_deref(), Some("billing"));
    assert_eq!(st[0].disabled_until_ms, Some(1_900_000_000_000));
}

#[test]
fn per_agent_sqlite_store_loads_and_wins_over_leftover_json() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    let dir = agent_dir(s, "main");
    write_agent_db(
        &dir,
        Some(
            &json!({"version": 1, "profiles": {"openai:manual": api_key("openai", "sk-canary-SQLITE-openai")}}),
        ),
        Some(
            &json!({"version": 1, "usageStats": {"openai:manual": {"lastUsed": 1_790_000_000_000_i64}}}),
        ),
    );
    // Migrated leftover: ignored because the SQLite store has a row.
    write_json(
        &dir.join("auth-profiles.json"),
        &json!({"version": 1, "profiles": {"openai:old": api_key("openai", "sk-canary-LEFTOVER")}}),
    );
    let stores = AuthStores::load(s, &agents(s, &["main"])).unwrap();
    let (label, secret) = found(&Req::new("main", "openai").resolve(&stores));
    assert_eq!(
        (label.as_str(), secret.as_str()),
        ("openai:manual", "sk-canary-SQLITE-openai")
    );
    // The leftover JSON's profile is not visible at all.
    assert_eq!(
        Req::new("main", "openai").usable(&stores),
        vec!["openai:manual"],
        "the leftover auth-profiles.json must be ignored"
    );
    match Req::new("main", "openai").resolve(&stores) {
        CredentialOutcome::Found(c) => assert_eq!(
            c.source,
            CredentialSource::Profile {
                id: "openai:manual".into(),
                store: "agents/main/agent/openclaw-agent.sqlite".into()
            }
        ),
        o => panic!("{o:?}"),
    }
}

#[test]
fn shared_state_db_loads_with_state_and_64bit_values() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    write_shared_db(
        s,
        Some(&json!({"version": 1, "profiles": {
            "anthropic:manual": {"type": "token", "provider": "anthropic", "token": "sk-ant-oat-canary-SHARED", "expires": 1_900_000_000_000_i64},
            "openai:manual": api_key("openai", "sk-canary-SHARED-openai")}})),
        Some(
            &json!({"version": 1, "lastGood": {"openai": "openai:manual"}, "usageStats": {
            "openai:manual": {"lastUsed": 1_799_999_999_999_i64, "cooldownUntil": 9_007_199_254_740_993_i64,
                "cooldownReason": "rate_limit", "cooldownModel": "gpt-5-mini", "errorCount": 7,
                "failureCounts": {"rate_limit": 5, "auth": 1, "timeout": 1}, "lastFailureAt": 1_799_999_999_000_i64},
            "anthropic:manual": {"disabledUntil": 1_900_000_000_001_i64, "disabledReason": "auth_permanent"}}}),
        ),
    );
    let stores = AuthStores::load(s, &agents(s, &["main", "ops"])).unwrap();
    let st = stores.profile_states();
    assert_eq!(st.len(), 2);
    let o = st.iter().find(|p| p.profile == "openai:manual").unwrap();
    assert_eq!(o.cooldown_until_ms, Some(9_007_199_254_740_993));
    assert_eq!(o.error_count, Some(7));
    assert_eq!(
        o.failure_counts,
        vec![
            ("rate_limit".to_string(), 5),
            ("auth".to_string(), 1),
            ("timeout".to_string(), 1)
        ]
    );
    let a = st.iter().find(|p| p.profile == "anthropic:manual").unwrap();
    assert_eq!(a.provider, "anthropic");
    assert_eq!(a.disabled_until_ms, Some(1_900_000_000_001));
    assert_eq!(a.disabled_reason.as_deref(), Some("auth_permanent"));
    // Every agent sees the shared store. The token is a Token credential with its expiry.
    match Req::new("ops", "anthropic").resolve(&stores) {
        CredentialOutcome::Found(c) => {
            assert_eq!(c.kind, CredentialKind::Token);
            assert_eq!(c.expires_at_ms, Some(1_900_000_000_000));
            assert_eq!(
                c.source,
                CredentialSource::Profile {
                    id: "anthropic:manual".into(),
                    store: "state/openclaw.sqlite".into()
                }
            );
        }
        o => panic!("{o:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Order rules

fn order_fixture() -> (tempfile::TempDir, AuthStores) {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    write_shared_db(
        s,
        Some(&json!({"version": 1, "profiles": {
            "openai:a": api_key("openai", "sk-canary-A"),
            "openai:b": api_key("openai", "sk-canary-B"),
            "openai:tok": {"type": "token", "provider": "openai", "token": "tok-canary-T"},
            "openai:oauth": {"type": "oauth", "provider": "openai", "access": "acc-canary-O", "refresh": "r", "expires": NOW + 3_600_000},
            "openai:cool": api_key("openai", "sk-canary-COOL"),
            "anthropic:x": api_key("anthropic", "sk-canary-X")}})),
        Some(&json!({"version": 1, "usageStats": {
            "openai:a": {"lastUsed": NOW - 10},
            "openai:b": {"lastUsed": NOW - 1000},
            "openai:cool": {"lastUsed": 0, "cooldownUntil": NOW + 60_000}}})),
    );
    write_agent_db(
        &agent_dir(s, "ops"),
        None,
        Some(&json!({"version": 1, "order": {"openai": ["openai:cool", "openai:a"]}})),
    );
    let stores = AuthStores::load(s, &agents(s, &["main", "ops", "dev"])).unwrap();
    (t, stores)
}

#[test]
fn default_order_oauth_then_token_then_lru_api_key_and_cooldown_last() {
    let (_t, stores) = order_fixture();
    assert_eq!(
        found(&Req::new("dev", "openai").resolve(&stores)).0,
        "openai:oauth"
    );
    // Without oauth/token candidates: least recently used api_key first, cooldown last.
    let mut r = Req::new("dev", "openai");
    r.config_profiles = vec!["openai:a".into(), "openai:b".into(), "openai:cool".into()];
    assert_eq!(found(&r.resolve(&stores)).0, "openai:b");
}

#[test]
fn agent_order_override_wins_and_cooldown_goes_last() {
    let (_t, stores) = order_fixture();
    // ops order: [cool, a]; cool is cooling down → a.
    let mut r = Req::new("ops", "openai");
    r.config_order = Some(vec!["openai:b".into()]);
    assert_eq!(found(&r.resolve(&stores)).0, "openai:a");
}

#[test]
fn config_order_is_used_and_unlisted_profiles_are_not() {
    let (_t, stores) = order_fixture();
    let mut r = Req::new("dev", "openai");
    r.config_order = Some(vec!["openai:a".into()]);
    assert_eq!(found(&r.resolve(&stores)).0, "openai:a");
    // Order lists only a cooling profile: it is still the one used (no unlisted fallback).
    r.config_order = Some(vec!["openai:cool".into()]);
    assert_eq!(found(&r.resolve(&stores)).0, "openai:cool");
    // Order lists a profile of another provider only: not used, so env then Missing.
    r.config_order = Some(vec!["anthropic:x".into()]);
    match r.resolve(&stores) {
        CredentialOutcome::Missing { message } => {
            assert!(
                message.starts_with("No API key found for provider \"openai\""),
                "{message}"
            )
        }
        o => panic!("{o:?}"),
    }
}

#[test]
fn a_profile_suffix_is_a_preference_not_a_pin() {
    // OpenClaw 2026.9.6, real turn `pinned` (tests/fixtures/openclaw/rotation): with
    // `acme/m1@acme:a`, a's 402 moved on to b. The suffix puts a first; the rest follow.
    let (_t, stores) = order_fixture();
    let mut r = Req::new("dev", "openai");
    let usual = r.usable(&stores);
    assert!(usual.len() >= 2, "{usual:?}");
    let last = usual.last().unwrap().clone();
    r.profile_override = Some(last.clone());
    let pinned = r.usable(&stores);
    assert_eq!(pinned[0], last);
    assert_eq!(
        pinned.len(),
        usual.len(),
        "the others still rotate: {pinned:?}"
    );
    assert_eq!(found(&r.resolve(&stores)).0, last);
    // One the agent does not have for this provider is ignored (the usual order).
    for other in ["anthropic:x", "openai:nope"] {
        r.profile_override = Some(other.into());
        assert_eq!(r.usable(&stores), usual, "{other}");
    }
}

#[test]
fn main_profiles_are_inherited_and_own_win_on_clash() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    write_agent_db(
        &agent_dir(s, "main"),
        Some(&json!({"version": 1, "profiles": {
            "openai:manual": api_key("openai", "sk-canary-MAIN-openai"),
            "openrouter:manual": api_key("openrouter", "sk-or-canary-MAIN")}})),
        None,
    );
    write_json(
        &agent_dir(s, "writer").join("auth-profiles.json"),
        &json!({"version": 1, "profiles": {"openai:manual": api_key("openai", "sk-canary-WRITER-openai")}}),
    );
    let stores = AuthStores::load(s, &agents(s, &["main", "writer"])).unwrap();
    assert_eq!(
        found(&Req::new("writer", "openai").resolve(&stores)).1,
        "sk-canary-WRITER-openai"
    );
    assert_eq!(
        found(&Req::new("writer", "openrouter").resolve(&stores)).1,
        "sk-or-canary-MAIN"
    );
    assert_eq!(
        found(&Req::new("main", "openai").resolve(&stores)).1,
        "sk-canary-MAIN-openai"
    );
    // An agent not passed in still sees main's (main is found at its default dir).
    let stores = AuthStores::load(s, &agents(s, &["writer"])).unwrap();
    assert_eq!(
        found(&Req::new("writer", "openrouter").resolve(&stores)).1,
        "sk-or-canary-MAIN"
    );
}

/// Usage stats merge like profiles (`mergeRecord(main.usageStats, own.usageStats)`): an
/// agent sees main's state under its own, main never sees a sub-agent's (releases with
/// per-agent stores, 2026.4–2026.7: `auth-state.json` beside each agent's profiles).
#[test]
fn each_agent_sees_its_own_usage_state_over_mains() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    let profiles = json!({"version": 1, "profiles": {
        "openai:manual": api_key("openai", "sk-canary-MAIN-openai"),
        "anthropic:manual": api_key("anthropic", "sk-ant-canary-MAIN")}});
    write_json(&agent_dir(s, "main").join("auth-profiles.json"), &profiles);
    write_json(
        &agent_dir(s, "main").join("auth-state.json"),
        &json!({"version": 1, "usageStats": {
            "anthropic:manual": {"cooldownUntil": NOW + 60_000, "cooldownReason": "rate_limit", "errorCount": 1}}}),
    );
    // ops hit a billing error on openai:manual, and has its own view of anthropic:manual.
    write_json(
        &agent_dir(s, "ops").join("auth-state.json"),
        &json!({"version": 1, "usageStats": {
            "openai:manual": {"disabledUntil": NOW + 3_600_000, "disabledReason": "billing", "errorCount": 1},
            "anthropic:manual": {"lastUsed": NOW - 1000}}}),
    );
    // docs has no state of its own.
    std::fs::create_dir_all(agent_dir(s, "docs")).unwrap();
    let stores = AuthStores::load(s, &agents(s, &["main", "ops", "docs"])).unwrap();
    let view = |agent: &str| -> Vec<(String, Option<i64>, Option<i64>)> {
        stores
            .profile_states_for(agent)
            .into_iter()
            .map(|p| (p.profile, p.cooldown_until_ms, p.disabled_until_ms))
            .collect()
    };
    assert_eq!(
        view("main"),
        vec![("anthropic:manual".into(), Some(NOW + 60_000), None)],
        "main does not see ops' billing disable"
    );
    assert_eq!(
        view("ops"),
        vec![
            ("anthropic:manual".into(), None, None),
            ("openai:manual".into(), None, Some(NOW + 3_600_000)),
        ],
        "ops' own record of anthropic:manual replaces main's"
    );
    assert_eq!(view("docs"), view("main"), "docs inherits main's");
}

// ---------------------------------------------------------------------------------------
// Expiry, refs, fallbacks

#[test]
fn expired_token_is_reported_expired() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    write_agent_db(
        &agent_dir(s, "main"),
        Some(&json!({"version": 1, "profiles": {
            "anthropic:manual": {"type": "token", "provider": "anthropic", "token": "sk-ant-oat-canary-OLD", "expires": NOW - 1}}})),
        None,
    );
    let stores = AuthStores::load(s, &agents(s, &["main"])).unwrap();
    match Req::new("main", "anthropic").resolve(&stores) {
        CredentialOutcome::Expired(c) => {
            assert_eq!(c.label(), "anthropic:manual");
            assert_eq!(c.expires_at_ms, Some(NOW - 1));
        }
        o => panic!("{o:?}"),
    }
    // OpenClaw skips an expired token when something else works (here: env).
    let mut r = Req::new("main", "anthropic");
    r.env_vars = vec!["ANTHROPIC_API_KEY".into()];
    r.env
        .insert("ANTHROPIC_API_KEY".into(), "sk-ant-canary-ENV".into());
    assert_eq!(found(&r.resolve(&stores)).0, "env:ANTHROPIC_API_KEY");
}

#[test]
fn exec_ref_is_unresolvable_and_env_ref_resolves() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    write_agent_db(
        &agent_dir(s, "main"),
        Some(&json!({"version": 1, "profiles": {
            "openai:vault": {"type": "api_key", "provider": "openai", "keyRef": {"source": "exec", "provider": "vault", "id": "openai/key"}},
            "groq:env": {"type": "api_key", "provider": "groq", "keyRef": {"source": "env", "provider": "default", "id": "GROQ_FROM_REF"}}}})),
        None,
    );
    let stores = AuthStores::load(s, &agents(s, &["main"])).unwrap();
    match Req::new("main", "openai").resolve(&stores) {
        CredentialOutcome::Unresolvable { reason, message } => {
            assert_eq!(reason, "exec_secret_ref");
            assert!(message.contains("openai:vault"), "{message}");
        }
        o => panic!("{o:?}"),
    }
    let mut r = Req::new("main", "groq");
    match r.resolve(&stores) {
        CredentialOutcome::Missing { message } => {
            assert!(message.contains("GROQ_FROM_REF"), "{message}")
        }
        o => panic!("{o:?}"),
    }
    r.env
        .insert("GROQ_FROM_REF".into(), "gsk-canary-REF".into());
    assert_eq!(
        found(&r.resolve(&stores)),
        ("groq:env".into(), "gsk-canary-REF".into())
    );
}

#[test]
fn env_vars_in_order_then_provider_api_key() {
    let t = tempfile::tempdir().unwrap();
    let stores = AuthStores::load(t.path(), &[]).unwrap();
    let mut r = Req::new("main", "anthropic");
    r.env_vars = vec!["ANTHROPIC_OAUTH_TOKEN".into(), "ANTHROPIC_API_KEY".into()];
    r.env
        .insert("ANTHROPIC_API_KEY".into(), "sk-ant-canary-KEY".into());
    r.api_key = Some(json!("sk-ant-canary-LITERAL"));
    assert_eq!(found(&r.resolve(&stores)).0, "env:ANTHROPIC_API_KEY");
    r.env.insert(
        "ANTHROPIC_OAUTH_TOKEN".into(),
        "sk-ant-oat-canary-TOK".into(),
    );
    match r.resolve(&stores) {
        CredentialOutcome::Found(c) => {
            assert_eq!(c.label(), "env:ANTHROPIC_OAUTH_TOKEN");
            assert_eq!(c.kind, CredentialKind::Token);
        }
        o => panic!("{o:?}"),
    }
    r.env.clear();
    assert_eq!(
        found(&r.resolve(&stores)),
        ("config:anthropic".into(), "sk-ant-canary-LITERAL".into())
    );
}

#[test]
fn provider_api_key_env_name_literal_and_refs() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("key.txt"), "sk-canary-FILEKEY\n").unwrap();
    let stores = AuthStores::load(t.path(), &[]).unwrap();
    let mut r = Req::new("main", "localai");
    r.config_dir = t.path().to_path_buf();
    r.api_key = Some(json!("LOCALAI_API_KEY"));
    match r.resolve(&stores) {
        CredentialOutcome::Missing { message } => {
            assert!(
                message.starts_with("No API key found for provider \"localai\""),
                "{message}"
            );
            assert!(message.contains("LOCALAI_API_KEY"), "{message}");
        }
        o => panic!("{o:?}"),
    }
    r.env
        .insert("LOCALAI_API_KEY".into(), "sk-canary-LOCAL".into());
    assert_eq!(
        found(&r.resolve(&stores)),
        ("env:LOCALAI_API_KEY".into(), "sk-canary-LOCAL".into())
    );
    r.api_key = Some(json!({"source": "file", "provider": "default", "id": "key.txt"}));
    assert_eq!(
        found(&r.resolve(&stores)),
        ("config:localai".into(), "sk-canary-FILEKEY".into())
    );
    r.api_key = Some(json!({"source": "exec", "provider": "op", "id": "x"}));
    assert!(matches!(
        r.resolve(&stores),
        CredentialOutcome::Unresolvable { ref reason, .. } if reason == "exec_secret_ref"
    ));
    // The CLI's `"apiKey": "<provider>:manual"` names a profile, never a literal key.
    r.api_key = Some(json!("localai:manual"));
    assert!(matches!(
        r.resolve(&stores),
        CredentialOutcome::Missing { .. }
    ));
    // Nothing at all.
    let r = Req::new("main", "mistral");
    assert_eq!(
        r.resolve(&stores),
        CredentialOutcome::Missing {
            message: "No API key found for provider \"mistral\"".into()
        }
    );
}

// ---------------------------------------------------------------------------------------
// Read-only guarantees

/// Hash of every file under `dir` (path, bytes, mtime) — including -wal/-shm, so a created
/// or changed sidecar file shows up.
fn tree_fingerprint(dir: &Path) -> BTreeMap<PathBuf, (String, std::time::SystemTime, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            let hex = format!("{:x}", Sha256::digest(&bytes));
            #[cfg(unix)]
            let mode = std::os::unix::fs::PermissionsExt::mode(&m.permissions());
            #[cfg(not(unix))]
            let mode = 0;
            out.insert(p, (hex, m.modified().unwrap(), mode));
        }
    }
    out
}

#[test]
fn wal_reader_sees_committed_data_while_writer_holds_a_transaction() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    std::fs::create_dir_all(s.join("state")).unwrap();
    let db = s.join("state").join("openclaw.sqlite");
    let writer = Connection::open(&db).unwrap();
    writer
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE config_machine_state(state_key TEXT PRIMARY KEY, value_json TEXT NOT NULL, updated_at_ms INTEGER NOT NULL);",
        )
        .unwrap();
    let store = |key: &str| {
        json!({"version": 1, "profiles": {"openai:manual": api_key("openai", key)}}).to_string()
    };
    writer
        .execute(
            "INSERT INTO config_machine_state VALUES('authProfiles.store', ?1, 1)",
            [store("sk-canary-WAL-v1")],
        )
        .unwrap();
    writer
        .execute(
            "UPDATE config_machine_state SET value_json = ?1 WHERE state_key = 'authProfiles.store'",
            [store("sk-canary-WAL-v2")],
        )
        .unwrap();
    // Committed content is only in the WAL (no checkpoint has run).
    let wal = s.join("state").join("openclaw.sqlite-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    // An open write transaction with an uncommitted change.
    writer.execute_batch("BEGIN IMMEDIATE;").unwrap();
    writer
        .execute(
            "UPDATE config_machine_state SET value_json = ?1 WHERE state_key = 'authProfiles.store'",
            [store("sk-canary-WAL-uncommitted")],
        )
        .unwrap();
    let before = tree_fingerprint(s);
    let stores = AuthStores::load(s, &[]).unwrap();
    let after = tree_fingerprint(s);
    assert_eq!(before, after, "loading changed a file in the state dir");
    assert_eq!(
        found(&Req::new("main", "openai").resolve(&stores)).1,
        "sk-canary-WAL-v2"
    );
    assert!(stores.files().contains(&wal), "{:?}", stores.files());
    writer.execute_batch("COMMIT;").unwrap();
    let stores = AuthStores::load(s, &[]).unwrap();
    assert_eq!(
        found(&Req::new("main", "openai").resolve(&stores)).1,
        "sk-canary-WAL-uncommitted"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

#[test]
fn loading_changes_no_file_even_with_wal_mode_databases() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    copy_tree(&cli_fixture(), s);
    // Put the per-agent DB into WAL mode with committed, un-checkpointed content, and keep
    // the connection open (like a running gateway).
    let db = agent_dir(s, "coder").join("openclaw-agent.sqlite");
    let gw = Connection::open(&db).unwrap();
    gw.execute_batch("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;")
        .unwrap();
    gw.execute(
        "UPDATE auth_profile_state SET updated_at = updated_at + 1 WHERE state_key = 'primary'",
        [],
    )
    .unwrap();
    let before = tree_fingerprint(s);
    assert!(before.keys().any(|p| p.to_string_lossy().ends_with("-wal")));
    let ids = ["main", "research", "coder"];
    let stores = AuthStores::load(s, &agents(s, &ids)).unwrap();
    for a in ids {
        let _ = Req::new(a, "openai").resolve(&stores);
    }
    let _ = stores.profile_states();
    assert_eq!(before, tree_fingerprint(s));
    drop(gw);
}

#[test]
fn corrupt_and_truncated_sqlite_is_an_error_naming_the_path() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    // Garbage.
    let db = agent_dir(s, "main").join("openclaw-agent.sqlite");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    std::fs::write(
        &db,
        b"this is not sqlite sk-canary-CORRUPT-1234 at all, nope",
    )
    .unwrap();
    let e = AuthStores::load(s, &[]).unwrap_err();
    let AuthError::Store { path, .. } = &e;
    assert_eq!(path, &db);
    let msg = e.to_string();
    assert!(msg.contains(&db.display().to_string()), "{msg}");
    assert!(!msg.contains("canary"), "{msg}");
    // Empty.
    std::fs::write(&db, b"").unwrap();
    assert!(AuthStores::load(s, &[])
        .unwrap_err()
        .to_string()
        .contains("openclaw-agent.sqlite"));
    // Truncated: a real database cut in half.
    std::fs::remove_file(&db).unwrap();
    let big = json!({"version": 1, "profiles": (0..200).map(|i| (format!("openai:p{i}"), api_key("openai", &format!("sk-canary-TRUNC-{i:04}-{}", "x".repeat(200))))).collect::<serde_json::Map<_, _>>()});
    write_agent_db(&agent_dir(s, "main"), Some(&big), None);
    let bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8192, "{}", bytes.len());
    std::fs::write(&db, &bytes[..bytes.len() / 2]).unwrap();
    let e = AuthStores::load(s, &[]).unwrap_err().to_string();
    assert!(e.contains("openclaw-agent.sqlite"), "{e}");
    assert!(!e.contains("canary"), "{e}");
    // A broken JSON row is an error too, without echoing the row.
    std::fs::remove_file(&db).unwrap();
    let c = write_agent_db(&agent_dir(s, "main"), None, None);
    Connection::open(&c)
        .unwrap()
        .execute(
            "INSERT INTO auth_profile_store VALUES('primary', '{\"profiles\": {\"k\": \"sk-canary-ROW-55', 1)",
            [],
        )
        .unwrap();
    let e = AuthStores::load(s, &[]).unwrap_err().to_string();
    assert!(
        e.contains("auth_profile_store") && !e.contains("canary"),
        "{e}"
    );
}

/// A store path that is there but is no readable file (a symlink loop, a directory, a FIFO,
/// a link into a directory clawprobe cannot enter) is an error naming it: read as "no
/// store", routes would switch credentials silently (or a FIFO would block the read).
#[test]
fn a_store_that_is_not_a_readable_file_is_an_error_not_an_absent_store() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    let dir = agent_dir(s, "main");
    std::fs::create_dir_all(&dir).unwrap();
    let shared = s.join("state").join("openclaw.sqlite");
    std::fs::create_dir_all(shared.parent().unwrap()).unwrap();
    let db = dir.join("openclaw-agent.sqlite");
    let json = dir.join("auth-profiles.json");
    let expect = |path: &Path, what: &str| {
        let e = AuthStores::load(s, &agents(s, &["main"])).unwrap_err();
        let AuthError::Store { path: p, .. } = &e;
        assert_eq!(p, path, "{what}: {e}");
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        e.to_string()
    };
    // Nothing anywhere: an empty install, not an error.
    AuthStores::load(s, &agents(s, &["main"])).unwrap();
    // A symlink loop in place of the shared database.
    std::os::unix::fs::symlink(&shared, &shared).unwrap();
    let e = expect(&shared, "loop");
    assert!(e.contains("cannot look at it"), "{e}");
    std::fs::remove_file(&shared).unwrap();
    // A directory in place of the agent's database.
    std::fs::create_dir(&db).unwrap();
    let e = expect(&db, "directory");
    assert!(e.contains("a directory"), "{e}");
    std::fs::remove_dir(&db).unwrap();
    // A FIFO in place of the legacy JSON store: an error at once, never a blocked read.
    let status = std::process::Command::new("mkfifo")
        .arg(&json)
        .status()
        .unwrap();
    assert!(status.success());
    let e = expect(&json, "fifo");
    assert!(e.contains("not a regular file"), "{e}");
    std::fs::remove_file(&json).unwrap();
    // A dangling link is absent: OpenClaw finds nothing there either.
    std::os::unix::fs::symlink(s.join("nowhere"), &json).unwrap();
    AuthStores::load(s, &agents(s, &["main"])).unwrap();
}

// ---------------------------------------------------------------------------------------
// The real CLI's output (tests/fixtures/openclaw/cli-2026.9.6, made by scripts/gen-fixtures.sh)

fn cli_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openclaw/cli-2026.9.6")
}

fn expected_status(agent: &str) -> Value {
    let p = cli_fixture().join(format!("expected-status-{agent}.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn cli_fixture_resolves_like_the_cli() {
    let s = cli_fixture();
    let ids = ["main", "research", "coder"];
    let stores = AuthStores::load(&s, &agents(&s, &ids)).unwrap();
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("openclaw.json")).unwrap()).unwrap();
    let mut checked = 0;
    for agent in ids {
        let status = expected_status(agent);
        let providers = status["auth"]["providers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !providers.is_empty(),
            "{agent}: no providers in expected status"
        );
        for p in providers {
            let provider = p["provider"].as_str().unwrap();
            let mut r = Req::new(agent, provider);
            r.config_profiles = cfg["auth"]["profiles"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(_, v)| v["provider"] == provider)
                        .map(|(k, _)| k.clone())
                        .collect()
                })
                .unwrap_or_default();
            r.api_key = cfg["models"]["providers"][provider].get("apiKey").cloned();
            let outcome = r.resolve(&stores);
            let kind = p["effective"]["kind"].as_str().unwrap_or("");
            match kind {
                "profiles" => {
                    let c = match &outcome {
                        CredentialOutcome::Found(c) => c,
                        o => panic!("{agent}/{provider}: {o:?}"),
                    };
                    // The CLI lists labels like "openai:coder=sk...2e"; the first is the one used.
                    let labels: Vec<String> = p["profiles"]["labels"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|l| l.as_str().unwrap().split('=').next().unwrap().to_string())
                        .collect();
                    assert_eq!(
                        labels[0],
                        c.label(),
                        "{agent}/{provider}: CLI order {labels:?}"
                    );
                    // The CLI names the store file as ~/.openclaw/<path>; ours is <path>.
                    let detail = p["effective"]["detail"].as_str().unwrap();
                    let CredentialSource::Profile { store, .. } = &c.source else {
                        panic!("{agent}/{provider}: {:?}", c.source)
                    };
                    assert_eq!(
                        detail.strip_prefix("~/.openclaw/"),
                        Some(store.as_str()),
                        "{agent}/{provider}"
                    );
                    checked += 1;
                    let secret = c.secret.expose();
                    assert!(secret.contains("canary-AUTH-"), "{agent}/{provider}");
                }
                "missing" => assert!(
                    matches!(outcome, CredentialOutcome::Missing { .. }),
                    "{agent}/{provider}: {outcome:?}"
                ),
                _ => {}
            }
        }
    }
    assert_eq!(
        checked, 9,
        "3 agents x (openai, anthropic, openrouter) via profiles"
    );
    // `auth.oauth.providers[].effectiveProfiles` is the CLI's resolved order: its first entry
    // is the profile OpenClaw uses.
    let mut first_checked = 0;
    for agent in ids {
        let status = expected_status(agent);
        for p in status["auth"]["oauth"]["providers"].as_array().unwrap() {
            let Some(first) = p["effectiveProfiles"][0]["profileId"].as_str() else {
                continue;
            };
            let provider = p["provider"].as_str().unwrap();
            let got = found(&Req::new(agent, provider).resolve(&stores)).0;
            assert_eq!(got, first, "{agent}/{provider}");
            first_checked += 1;
        }
    }
    assert_eq!(first_checked, 9);
    // The agent-scoped key and per-agent order: coder uses openai:coder, the others do not
    // see it.
    assert_eq!(
        found(&Req::new("coder", "openai").resolve(&stores)).0,
        "openai:coder"
    );
    assert_eq!(
        found(&Req::new("research", "openai").resolve(&stores)).0,
        "openai:manual"
    );
    assert_eq!(
        found(&Req::new("main", "openai").resolve(&stores)).0,
        "openai:manual"
    );
    // coder's own profile is not visible to main.
    assert_eq!(
        Req::new("main", "openai").usable(&stores),
        vec!["openai:manual"]
    );
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let s = cli_fixture();
    assert!(
        s.join("openclaw.json").is_file(),
        "fixture missing: run scripts/gen-fixtures.sh"
    );
    let stores = AuthStores::load(&s, &agents(&s, &["main", "research", "coder"])).unwrap();
    let dbg = format!("{stores:?}");
    assert!(!dbg.contains("canary"), "{dbg}");
    for agent in ["main", "research", "coder"] {
        for p in ["openai", "anthropic", "openrouter", "localai", "mistral"] {
            let mut r = Req::new(agent, p);
            r.api_key = Some(json!("LOCALAI_API_KEY"));
            let o = r.resolve(&stores);
            let text = match &o {
                CredentialOutcome::Found(c) | CredentialOutcome::Expired(c) => {
                    format!("{c:?} {}", c.label())
                }
                CredentialOutcome::Missing { message } => message.clone(),
                CredentialOutcome::Unresolvable { message, .. } => message.clone(),
            };
            assert!(!text.contains("canary"), "{text}");
            assert!(!format!("{o:?}").contains("canary"));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Hand-written legacy fixtures (tests/fixtures/openclaw/legacy-*)

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openclaw")
        .join(name)
}

#[test]
fn legacy_2026_2_fixture_single_file_era() {
    let s = fixture("legacy-2026.2");
    let before = tree_fingerprint(&s);
    let stores = AuthStores::load(&s, &agents(&s, &["main"])).unwrap();
    assert_eq!(before, tree_fingerprint(&s));
    assert_eq!(
        found(&Req::new("main", "openai").resolve(&stores)),
        (
            "openai:default".into(),
            "sk-canary-AUTH-legacy-openai-9d2e".into()
        )
    );
    // groq's only profile is cooling down: still used (cooldown orders, never excludes).
    assert_eq!(
        found(&Req::new("main", "groq").resolve(&stores)).0,
        "groq:default"
    );
    let st = stores.profile_states();
    let g = st.iter().find(|p| p.profile == "groq:default").unwrap();
    assert_eq!(g.cooldown_until_ms, Some(1_767_229_200_000));
    assert_eq!(g.failure_counts, vec![("rate_limit".to_string(), 3)]);
}

#[test]
fn legacy_2026_4_fixture_state_file_order_and_inheritance() {
    let s = fixture("legacy-2026.4");
    let before = tree_fingerprint(&s);
    let stores = AuthStores::load(&s, &agents(&s, &["main", "writer"])).unwrap();
    assert_eq!(before, tree_fingerprint(&s));
    let cfg_profiles = vec![
        "anthropic:me@example.com".to_string(),
        "anthropic:setup".to_string(),
    ];
    for agent in ["main", "writer"] {
        // Stored order [setup, oauth]; the setup token expired → the OAuth profile.
        let mut r = Req::new(agent, "anthropic");
        r.config_profiles = cfg_profiles.clone();
        match r.resolve(&stores) {
            CredentialOutcome::Found(c) => {
                assert_eq!(c.label(), "anthropic:me@example.com", "{agent}");
                assert_eq!(c.kind, CredentialKind::Oauth);
                assert_eq!(
                    c.source,
                    CredentialSource::Profile {
                        id: "anthropic:me@example.com".into(),
                        store: "agents/main/agent/auth-profiles.json".into()
                    }
                );
            }
            o => panic!("{agent}: {o:?}"),
        }
        // Preferring the expired token changes nothing: OpenClaw cannot use it.
        r.profile_override = Some("anthropic:setup".into());
        assert_eq!(
            r.usable(&stores),
            vec!["anthropic:me@example.com"],
            "{agent}"
        );
    }
    assert_eq!(
        found(&Req::new("writer", "openai").resolve(&stores)).1,
        "sk-canary-AUTH-legacy-writer-openai-9d2e"
    );
    assert_eq!(
        found(&Req::new("main", "openai").resolve(&stores)).1,
        "sk-canary-AUTH-legacy-main-openai-9d2e"
    );
    let st = stores.profile_states();
    let o = st.iter().find(|p| p.profile == "openai:default").unwrap();
    assert_eq!(o.disabled_reason.as_deref(), Some("billing"));
    assert_eq!(o.disabled_until_ms, Some(4_102_444_800_000));
    assert_eq!(o.error_count, Some(4));
    assert!(!format!("{stores:?}").contains("canary"));
}

#[test]
fn oldest_layout_state_dir_agent_is_main() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    write_json(
        &s.join("agent").join("auth-profiles.json"),
        &json!({"version": 1, "profiles": {"openai:default": api_key("openai", "sk-canary-OLDEST")}}),
    );
    let stores = AuthStores::load(s, &agents(s, &["main", "dev"])).unwrap();
    assert_eq!(
        found(&Req::new("dev", "openai").resolve(&stores)).1,
        "sk-canary-OLDEST"
    );
}

/// A gateway writing and checkpointing in a loop while clawprobe reloads: every load sees
/// one complete committed version (or reports the busy file), never a torn or mixed one.
#[test]
fn reads_during_continuous_writes_and_checkpoints_are_consistent() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path().to_path_buf();
    std::fs::create_dir_all(s.join("state")).unwrap();
    let db = s.join("state").join("openclaw.sqlite");
    let c = Connection::open(&db).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode=WAL;
         CREATE TABLE config_machine_state(state_key TEXT PRIMARY KEY, value_json TEXT NOT NULL, updated_at_ms INTEGER NOT NULL);",
    )
    .unwrap();
    let doc = |n: u32| {
        // Two profiles written in one transaction: a mixed read would show different n.
        json!({"version": 1, "profiles": {
            "openai:a": api_key("openai", &format!("sk-canary-LOOP-{n}")),
            "anthropic:a": api_key("anthropic", &format!("sk-canary-LOOP-{n}")),
            "pad": {"type": "api_key", "provider": "pad", "key": "x".repeat(20_000)}}})
        .to_string()
    };
    c.execute(
        "INSERT INTO config_machine_state VALUES('authProfiles.store', ?1, 0)",
        [doc(0)],
    )
    .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut n = 1;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            c.execute(
                "UPDATE config_machine_state SET value_json = ?1, updated_at_ms = ?2 WHERE state_key = 'authProfiles.store'",
                (doc(n), n),
            )
            .unwrap();
            if n % 5 == 0 {
                let _ = c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
            }
            n += 1;
        }
        n
    });
    let mut ok = 0;
    for _ in 0..30 {
        match AuthStores::load(&s, &[]) {
            Ok(stores) => {
                let a = found(&Req::new("main", "openai").resolve(&stores)).1;
                let b = found(&Req::new("main", "anthropic").resolve(&stores)).1;
                assert_eq!(a, b, "mixed versions in one snapshot");
                ok += 1;
            }
            Err(e) => assert!(e.to_string().contains("changed during"), "{e}"),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.join().unwrap();
    assert!(writes > 1, "writer never ran");
    assert!(ok > 0, "no load succeeded");
}

/// OpenClaw's merge: an inherited order gains the agent's own profiles of that provider in
/// front (so a locally added key joins it); an own order replaces the inherited one.
#[test]
fn inherited_order_gets_own_profiles_in_front() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    write_agent_db(
        &agent_dir(s, "main"),
        Some(&json!({"version": 1, "profiles": {
            "openai:a": api_key("openai", "sk-canary-ORD-A"),
            "openai:b": api_key("openai", "sk-canary-ORD-B")}})),
        Some(&json!({"version": 1, "order": {"openai": ["openai:a"]},
            "usageStats": {"openai:a": {"lastUsed": NOW}, "openai:b": {"lastUsed": 1}}})),
    );
    write_agent_db(
        &agent_dir(s, "dev"),
        Some(
            &json!({"version": 1, "profiles": {"openai:dev": api_key("openai", "sk-canary-ORD-DEV")}}),
        ),
        None,
    );
    write_agent_db(
        &agent_dir(s, "ops"),
        Some(
            &json!({"version": 1, "profiles": {"openai:ops": api_key("openai", "sk-canary-ORD-OPS")}}),
        ),
        Some(&json!({"version": 1, "order": {"openai": ["openai:b"]}})),
    );
    let stores = AuthStores::load(s, &agents(s, &["main", "dev", "ops", "qa"])).unwrap();
    // main: explicit stored order [a] even though b is less recently used.
    assert_eq!(
        found(&Req::new("main", "openai").resolve(&stores)).0,
        "openai:a"
    );
    // qa (nothing of its own) inherits [a].
    assert_eq!(
        found(&Req::new("qa", "openai").resolve(&stores)).0,
        "openai:a"
    );
    // dev: [dev, a].
    assert_eq!(
        found(&Req::new("dev", "openai").resolve(&stores)).0,
        "openai:dev"
    );
    // ops: own order [b] replaces the inherited one; its own unlisted key is not used.
    assert_eq!(
        found(&Req::new("ops", "openai").resolve(&stores)).0,
        "openai:b"
    );
    // A stored order wins over auth.order in the config (OpenClaw 2026.9.6).
    let mut r = Req::new("main", "openai");
    r.config_order = Some(vec!["openai:b".into()]);
    assert_eq!(found(&r.resolve(&stores)).0, "openai:a");
}

#[test]
fn a_broken_store_is_an_error_naming_it() {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    write_shared_db(
        s,
        Some(
            &json!({"version": 1, "profiles": {"openai:manual": api_key("openai", "sk-canary-BROKEN")}}),
        ),
        None,
    );
    let bad = agent_dir(s, "ops").join("openclaw-agent.sqlite");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(&bad, b"garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage x").unwrap();
    let err = AuthStores::load(s, &agents(s, &["main", "ops"])).unwrap_err();
    let AuthError::Store { path, .. } = &err;
    assert_eq!(path, &bad);
    assert!(!err.to_string().contains("canary"), "{err}");
}
