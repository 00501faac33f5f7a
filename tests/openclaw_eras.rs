//! Every OpenClaw release, as that release reads itself.
//!
//! Walks every install written by a real OpenClaw CLI (`tests/fixtures/openclaw/eras/
//! cli-<version>/`, made by `scripts/gen-fixtures-era.sh`, plus `cli-2026.9.6/` from
//! `scripts/gen-fixtures.sh`) and compares clawprobe's reading with that release's own
//! `openclaw models status --agent <id> --json` (the oracle files beside each install):
//!
//! - every agent's chain (refs in order) equals `defaultModel` + `fallbacks`;
//! - the credential each route uses, and the order of its rotation, equal the release's
//!   `effectiveProfiles` (its usable ones, in order) where the release reports them
//!   (2026.5 on), else its credential source kind (`auth.providers[].effective.kind`:
//!   profiles / env / models.json), judged at the moment that status was written;
//!   `missingProvidersInUse` routes have an auth finding and no target;
//! - every expired or invalid-`expires` profile the release lists is a finding somewhere
//!   (a skipped rotation step, a route's finding, or an agent finding);
//! - `clawprobe check` limited to the agent exits as `openclaw models status --agent <id>
//!   --check` did (`expected-check.json`).
//!
//! What a release reports that clawprobe cannot reproduce is listed in [`CANNOT`] (by
//! release and field) and [`DIVERGES`] (by fixture, agent and field, with why), and printed
//! when the test runs.

mod support;

use support::fs;

use clawprobe::config::{Config, OpenClawSettings};
use clawprobe::plan::build::{build_with, Inputs};
use clawprobe::plan::{ChainEntry, ProbePlan};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a release reports that clawprobe does not reproduce, and why. General ones:
const CANNOT: &[(&str, &str, &str)] = &[
    (
        "2026.3, 2026.4",
        "auth.oauth.providers[].effectiveProfiles",
        "not reported by these releases: the chosen credential is compared by source kind (auth.providers[].effective.kind) only",
    ),
    (
        "all",
        "models status --check exit 2 (a token expiring within 24 h)",
        "clawprobe check exits 0/1; the fixtures hold no token expiring within a day",
    ),
];

/// Single comparisons clawprobe does not reproduce: where the release's `models status`
/// disagrees with what a turn of that release does (clawprobe follows the turn), or where
/// it depends on something clawprobe cannot see. `(fixture, agent, provider or "--check",
/// field, why)`. Each must still occur, so a stale entry fails the test.
const DIVERGES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "cli-2026.9.6 (gen-fixtures.sh)",
        "coder",
        "localai",
        "auth.providers[localai].effective.kind = models.json",
        "the apiKey names LOCALAI_API_KEY, unset in that install: the status counts the name as configured, while a turn resolves no key (resolveUsableCustomProviderApiKey finds the variable empty); clawprobe reports missing_env_var",
    ),
    (
        "cli-2026.3.31",
        "ops",
        "anthropic",
        "auth.providers[anthropic].effective.kind = profiles, missingProvidersInUse = []",
        "ops' stored order holds only the expired anthropic:old: the status counts the provider's profiles, but 2026.3.31's resolveAuthProfileOrder (order.ts) drops the expired one and keeps to the explicit order, as the real 2026.4.12 turn expired_in_order shows; clawprobe reports token_expired",
    ),
    (
        "cli-2026.5.28",
        "ops",
        "--check",
        "models status --agent ops --check exits 0",
        "its own status lists anthropic `expired` (effectiveProfiles = [anthropic:old], ops' whole stored order) yet the check passes; OpenClaw sends no anthropic profile for such an order (rotation case expired_in_order, 2026.4.12 and 2026.9.6; 2026.9.6's check fails it); clawprobe reports token_expired and exits 1",
    ),
    (
        "cli-2026.6.11",
        "ops",
        "--check",
        "models status --agent ops --check exits 0",
        "as 2026.5.28: its own status lists anthropic `expired` (ops' whole stored order) yet the check passes; clawprobe reports token_expired and exits 1",
    ),
    (
        "cli-2026.6.11",
        "solo",
        "groq",
        "missingProvidersInUse = [groq]",
        "groq's provider plugin is no longer bundled from 2026.6 (dist/extensions/groq is gone; 2026.9.6 tries to fetch @openclaw/groq-provider from clawhub); without it installed the release does not map GROQ_API_KEY to groq. clawprobe cannot see which provider plugins a gateway has installed and uses the key from .env",
    ),
    (
        "cli-2026.6.11",
        "solo",
        "--check",
        "models status --agent solo --check exits 1",
        "the groq plugin entry above",
    ),
    (
        "cli-2026.7.35",
        "ops",
        "--check",
        "models status --agent ops --check exits 0",
        "as 2026.5.28",
    ),
    (
        "cli-2026.7.35",
        "solo",
        "groq",
        "missingProvidersInUse = [groq]",
        "as 2026.6.11: groq's provider plugin is not bundled, so the release does not map GROQ_API_KEY to groq without it",
    ),
    (
        "cli-2026.7.35",
        "solo",
        "--check",
        "models status --agent solo --check exits 1",
        "the groq plugin entry above",
    ),
    (
        "cli-2026.4.12",
        "ops",
        "anthropic",
        "auth.providers[anthropic].effective.kind = profiles, missingProvidersInUse = []",
        "ops' stored order holds only the expired anthropic:old: the status counts the provider's profiles, but a real 2026.4.12 turn uses none of them (rotation case expired_in_order: neither the expired profile nor main's valid one was sent); clawprobe reports token_expired",
    ),
];

/// One release each of 2026.3, 2026.4, 2026.5, 2026.6, 2026.7 and 2026.9, plus
/// `cli-2026.9.6` of `scripts/gen-fixtures.sh`.
const ERAS_MIN: usize = 7;

struct Fixture {
    name: String,
    dir: PathBuf,
}

fn fixtures() -> Vec<Fixture> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openclaw");
    let mut out: Vec<Fixture> = std::fs::read_dir(root.join("eras"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("openclaw.json").is_file())
        .map(|dir| Fixture {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            dir,
        })
        .collect();
    out.push(Fixture {
        name: "cli-2026.9.6 (gen-fixtures.sh)".into(),
        dir: root.join("cli-2026.9.6"),
    });
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The fixture as `<home>/.openclaw`, with its `<HOME>` placeholder made real.
fn install(fx: &Fixture, home: &Path) -> PathBuf {
    let state = home.join(".openclaw");
    fs::copy_dir(&fx.dir, &state);
    let cfg = state.join("openclaw.json");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("<HOME>", &home.display().to_string());
    std::fs::write(&cfg, text).unwrap();
    state
}

/// The agents the oracle covers, in file order of the config.
fn oracle_agents(fx: &Fixture) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(&fx.dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(agent) = name
            .strip_prefix("expected-status-")
            .and_then(|n| n.strip_suffix(".json"))
        {
            out.push((agent.to_string(), read_json(&p)));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The plan as clawprobe builds it at the moment the oracle ran (expiries and cooldowns are
/// judged at that time), with no process environment.
fn plan_at(state: &Path, home: &Path, now_ms: i64) -> ProbePlan {
    let config = Config {
        openclaw: OpenClawSettings {
            state_dir: Some(state.to_path_buf()),
            ..OpenClawSettings::default()
        },
        source: "openclaw_eras test".into(),
        ..Config::default()
    };
    let env = |_: &str| None;
    build_with(
        &config,
        &Inputs {
            env: &env,
            home: Some(home.to_path_buf()),
            now_ms,
        },
    )
    .unwrap()
}

/// When the release wrote one agent's status: a token's `expiresAt - remainingMs` (exact,
/// as each status command runs a few seconds after the previous one), else the fixture's
/// `generated-at-ms`.
fn status_time(fx: &Fixture, status: &Value) -> i64 {
    for p in status["auth"]["oauth"]["profiles"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let (Some(e), Some(r)) = (p["expiresAt"].as_i64(), p["remainingMs"].as_i64()) {
            return e - r;
        }
    }
    let t = std::fs::read_to_string(fx.dir.join("generated-at-ms")).unwrap_or_else(|_| {
        panic!(
            "{}: no generated-at-ms and no token to date the oracle",
            fx.name
        )
    });
    t.trim().parse().unwrap()
}

fn entries<'a>(plan: &'a ProbePlan, agent: &str) -> &'a [ChainEntry] {
    &plan
        .agents
        .iter()
        .find(|a| a.agent == agent)
        .unwrap_or_else(|| panic!("clawprobe has no agent {agent}"))
        .entries
}

/// Credential labels of the rotation steps that have a target, in order.
fn rotation_labels(e: &ChainEntry) -> Vec<String> {
    e.rotation
        .iter()
        .filter(|s| s.target.is_some())
        .map(|s| s.credential.clone())
        .collect()
}

fn usable_status(s: &str) -> bool {
    matches!(s, "ok" | "static" | "expiring")
}

fn check_exit(home: &Path, state: &Path, agent: &str) -> (i32, String) {
    let cfg = home.join(format!("clawprobe-{agent}.toml"));
    std::fs::write(
        &cfg,
        format!(
            "[openclaw]\nstate_dir = {:?}\nagents = [{agent:?}]\n",
            state.display().to_string()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_clawprobe"))
        .args(["--config", cfg.to_str().unwrap(), "check"])
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for canary in ["sk-canary", "sk-ant-oat01", "gsk_canary"] {
        assert!(!text.contains(canary), "a key leaked: {text}");
    }
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn every_release_reads_as_its_own_cli_says() {
    for (release, field, why) in CANNOT {
        eprintln!("not reproduced: {release}: {field}: {why}");
    }
    let all = fixtures();
    assert!(
        all.len() >= ERAS_MIN,
        "expected the era fixtures, found {}",
        all.len()
    );
    let mut failures: Vec<String> = Vec::new();
    let mut diverged = vec![false; DIVERGES.len()];
    let mut fail = |fx: &Fixture, agent: &str, what: String| {
        failures.push(format!("{} agent {agent}: {what}", fx.name));
    };
    let mut known = |fx: &Fixture, agent: &str, provider: &str| -> bool {
        let hit = DIVERGES
            .iter()
            .position(|d| d.0 == fx.name && d.1 == agent && d.2 == provider);
        if let Some(i) = hit {
            let d = DIVERGES[i];
            eprintln!("known divergence: {} agent {}: {}: {}", d.0, d.1, d.3, d.4);
            diverged[i] = true;
        }
        hit.is_some()
    };
    for fx in &all {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let state = install(fx, &home);
        let before = fs::snapshot(&state);
        let oracle = oracle_agents(fx);
        assert!(!oracle.is_empty(), "{}: no oracle files", fx.name);
        let checks: BTreeMap<String, i64> =
            std::fs::read_to_string(fx.dir.join("expected-check.json"))
                .ok()
                .map(|t| serde_json::from_str(&t).unwrap())
                .unwrap_or_default();

        for (agent, status) in &oracle {
            // Expiries and cooldowns are judged when the release wrote this status.
            let plan = plan_at(&state, &home, status_time(fx, status));
            let entries = entries(&plan, agent);
            // 1. The chain, refs in order.
            let mut want = vec![status["defaultModel"].as_str().unwrap().to_string()];
            want.extend(
                status["fallbacks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_string()),
            );
            let got: Vec<String> = entries.iter().map(|e| e.raw_ref.clone()).collect();
            if got != want {
                fail(
                    fx,
                    agent,
                    format!("chain {got:?}, the release says {want:?}"),
                );
            }

            // 2. Credentials: the rotation where the release reports it, else the source kind.
            let missing: Vec<&str> = status["auth"]["missingProvidersInUse"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let effective: BTreeMap<&str, Vec<(&str, &str)>> = status["auth"]["oauth"]["providers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let list = p["effectiveProfiles"].as_array()?;
                    Some((
                        p["provider"].as_str()?,
                        list.iter()
                            .map(|x| {
                                (
                                    x["profileId"].as_str().unwrap(),
                                    x["status"].as_str().unwrap(),
                                )
                            })
                            .collect(),
                    ))
                })
                .collect();
            let kinds: BTreeMap<&str, &str> = status["auth"]["providers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| Some((p["provider"].as_str()?, p["effective"]["kind"].as_str()?)))
                .collect();
            for e in entries {
                let Some(provider) = e.provider.as_deref() else {
                    continue;
                };
                let label = e.credential_label.clone().unwrap_or_default();
                if missing.contains(&provider) {
                    if known(fx, agent, provider) {
                        continue;
                    }
                    if e.target.is_some() || e.finding.is_none() {
                        fail(fx, agent, format!("{}: the release has no usable auth for {provider} (missingProvidersInUse), clawprobe probes it with {label}", e.raw_ref));
                    }
                    continue;
                }
                if let Some(list) = effective.get(provider) {
                    let usable: Vec<String> = list
                        .iter()
                        .filter(|(_, s)| usable_status(s))
                        .map(|(id, _)| id.to_string())
                        .collect();
                    if usable.is_empty() {
                        if e.target.is_some() {
                            fail(fx, agent, format!("{}: the release has no usable profile for {provider}, clawprobe uses {label}", e.raw_ref));
                        }
                    } else {
                        let got: Vec<String> = rotation_labels(e)
                            .into_iter()
                            .filter(|l| !l.starts_with("config:") && !l.starts_with("env:"))
                            .collect();
                        if got != usable {
                            fail(fx, agent, format!("{}: rotation {got:?}, the release's effectiveProfiles {usable:?}", e.raw_ref));
                        }
                    }
                    continue;
                }
                let Some(kind) = kinds.get(provider) else {
                    continue;
                };
                if known(fx, agent, provider) {
                    continue;
                }
                let ok = match *kind {
                    "profiles" => {
                        label.contains(':')
                            && !label.starts_with("env:")
                            && !label.starts_with("config:")
                    }
                    "env" => label.starts_with("env:"),
                    "models.json" => label.starts_with("env:") || label.starts_with("config:"),
                    _ => true,
                };
                if !ok || e.target.is_none() {
                    fail(fx, agent, format!("{}: credential {label:?} (target {:?}), the release's source for {provider} is {kind}", e.raw_ref, e.target));
                }
            }

            // 3. Every expired / invalid-expires profile the release lists is a finding.
            let counts_every = plan.agent_findings.iter().any(|f| f.agent == *agent);
            for p in status["auth"]["oauth"]["profiles"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let id = p["profileId"].as_str().unwrap();
                let reason = p["reasonCode"].as_str().unwrap_or("");
                let expired = p["status"] == "expired" || reason == "expired";
                if !expired && reason != "invalid_expires" {
                    continue;
                }
                let in_effective = effective
                    .values()
                    .any(|l| l.iter().any(|(pid, _)| *pid == id));
                if !(counts_every || in_effective) {
                    continue;
                }
                let shown = entries.iter().any(|e| {
                    e.rotation
                        .iter()
                        .any(|s| s.credential == id && s.skipped.is_some())
                        || e.finding.as_ref().is_some_and(|f| f.message.contains(id))
                }) || plan
                    .agent_findings
                    .iter()
                    .any(|f| f.agent == *agent && f.finding.message.contains(id));
                if !shown {
                    fail(fx, agent, format!("profile {id} ({reason}) is no finding"));
                }
            }

            // 4. `clawprobe check` exits as the release's `models status --check`.
            if let Some(want) = checks.get(agent) {
                if known(fx, agent, "--check") {
                    continue;
                }
                let (code, text) = check_exit(&home, &state, agent);
                let want = if *want == 2 { 0 } else { *want as i32 };
                if code != want {
                    fail(fx, agent, format!("clawprobe check exits {code}, models status --check exited {want}:\n{text}"));
                }
            }
        }
        assert!(
            fs::snapshot(&state) == before,
            "{}: clawprobe changed a file in the OpenClaw directory",
            fx.name
        );
    }
    assert!(
        failures.is_empty(),
        "{} mismatch(es):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
