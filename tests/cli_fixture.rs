//! `clawprobe check` on an install written by the real OpenClaw CLI 2026.9.6
//! (tests/fixtures/openclaw/cli-2026.9.6, made by scripts/gen-fixtures.sh): every agent's
//! chain and credential must equal what `openclaw models status --agent <id> --json` said.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use support::fs::{cli_fixture as fixture, install_cli_fixture, snapshot};
use support::harness::{clawprobe, output};

fn check_json(home: &Path) -> (Value, String, String, i32) {
    let out = output(clawprobe(home).args(["check", "--json"]));
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check --json is not JSON ({e}): {}\n{}",
            out.stdout, out.stderr
        )
    });
    (v, out.stdout, out.stderr, out.code)
}

#[test]
fn chains_and_credentials_equal_the_real_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let state = install_cli_fixture(&home, None);
    let before = snapshot(&state);
    let (v, stdout, stderr, code) = check_json(&home);

    let agents = v["agents"].as_array().expect("agents array");
    let ids: Vec<&str> = agents
        .iter()
        .map(|a| a["agent"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["main", "research", "coder"], "{stdout}");
    for a in agents {
        let id = a["agent"].as_str().unwrap();
        let status: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture().join(format!("expected-status-{id}.json"))).unwrap(),
        )
        .unwrap();
        let mut want = vec![status["defaultModel"].as_str().unwrap().to_string()];
        want.extend(
            status["fallbacks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_string()),
        );
        let got: Vec<String> = a["chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["ref"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "chain of agent {id}");

        // The profile OpenClaw would use first for each provider of the chain.
        let effective: BTreeMap<String, String> = status["auth"]["oauth"]["providers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| {
                let first = p["effectiveProfiles"].as_array()?.first()?;
                Some((
                    p["provider"].as_str()?.to_string(),
                    first["profileId"].as_str()?.to_string(),
                ))
            })
            .collect();
        for e in a["chain"].as_array().unwrap() {
            let provider = e["provider"].as_str().unwrap();
            if let Some(profile) = effective.get(provider) {
                assert_eq!(
                    e["credential"].as_str(),
                    Some(profile.as_str()),
                    "credential of {id} {}",
                    e["ref"]
                );
            }
        }
    }
    // localai's key names an unset env var: a finding, so exit 1.
    assert_eq!(code, 1, "{stderr}");
    // The fixture's keys are canaries; none may be printed.
    for text in [&stdout, &stderr] {
        assert!(!text.contains("sk-canary"), "key leaked: {text}");
        assert!(!text.contains("sk-ant-oat01"), "token leaked: {text}");
    }
    assert!(
        before == snapshot(&state),
        "clawprobe changed a file in the OpenClaw directory"
    );
}
