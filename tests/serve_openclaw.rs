//! `clawprobe serve` on an install written by the real OpenClaw CLI (three agents, four
//! providers, keys in the shared and a per-agent SQLite store), its providers pointed at a
//! fake on loopback that answers like the real APIs. Asserts what Prometheus would see.

mod support;

use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::fake_provider::{FakeProvider, Reply};
use support::fs::{install_cli_fixture, snapshot};
use support::harness::{clawprobe, free_port, sample, Serve};

fn fake() -> FakeProvider {
    let f = FakeProvider::start();
    // openai (both profiles): the key was revoked.
    f.route(
        "GET",
        "/v1/models/gpt-5-mini",
        Reply::json(
            401,
            json!({"error": {"message": "Incorrect API key provided: sk-canar***9d2e. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
        ),
    );
    // anthropic: both models exist.
    for m in ["claude-sonnet-4-5", "claude-haiku-4-5"] {
        f.route(
            "GET",
            &format!("/v1/models/{m}"),
            Reply::json(
                200,
                json!({"type": "model", "id": m, "display_name": m, "created_at": "2025-09-29T00:00:00Z"}),
            ),
        );
    }
    // openrouter: the key's credit limit is used up.
    f.route(
        "GET",
        "/api/v1/key",
        Reply::json(
            200,
            json!({"data": {"label": "sk-or-v1-abc...", "limit": 10, "limit_remaining": 0, "usage": 10, "is_free_tier": false}}),
        ),
    );
    f.route(
        "GET",
        "/api/v1/models/moonshotai/kimi-k2/endpoints",
        Reply::json(
            200,
            json!({"data": {"id": "moonshotai/kimi-k2", "endpoints": [{"name": "Moonshot | kimi-k2", "status": 0}]}}),
        ),
    );
    f
}

#[test]
fn serve_exports_the_cli_fixture_chains() {
    let provider = fake();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let state = install_cli_fixture(&home, Some(&provider.url("")));
    let before = snapshot(&state);

    let port = free_port();
    let conf: PathBuf = tmp.path().join("clawprobe.toml");
    std::fs::write(
        &conf,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[schedule]\nmetadata = \"0 0 0 1 1 *\"\ncredential_generation = \"\"\nmodel_generation = \"\"\nspread_fraction = 0.0\nmin_key_spacing_seconds = 0.0\nprobe_timeout_seconds = 5.0\n"
        ),
    )
    .unwrap();
    let mut cmd = clawprobe(&home);
    cmd.arg("--config").arg(&conf).arg("serve");
    let srv = Serve::spawn(cmd, port, tmp.path().join("stderr.log"));

    // The first metadata cycle runs at start; wait until every agent has a verdict.
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        if Instant::now() > deadline {
            panic!("no agent_up for all agents in time");
        }
        std::thread::sleep(Duration::from_millis(200));
        let Some(m) = srv.try_request("GET", "/metrics").map(|r| r.body) else {
            continue;
        };
        if ["main", "research", "coder"]
            .iter()
            .all(|a| sample(&m, &format!("clawprobe_agent_up{{agent=\"{a}\"}}")).is_some())
        {
            break m;
        }
    };

    // main: anthropic primary works; research: its only model's key is out of credit;
    // coder: primary key revoked, localai has no key, anthropic fallback works.
    assert_eq!(
        sample(&metrics, "clawprobe_agent_up{agent=\"main\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "clawprobe_agent_up{agent=\"research\"}"),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "clawprobe_agent_up{agent=\"coder\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "clawprobe_agent_primary_up{agent=\"coder\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&metrics, "clawprobe_agent_fallbacks{agent=\"main\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(&metrics, "clawprobe_agent_fallbacks{agent=\"research\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "clawprobe_model_status{agent=\"research\",class=\"billing\",model=\"moonshotai/kimi-k2\",provider=\"openrouter\",role=\"primary\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "clawprobe_model_status{agent=\"coder\",class=\"auth\",model=\"gpt-5-mini\",provider=\"openai\",role=\"primary\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "clawprobe_model_up{agent=\"main\",model=\"claude-sonnet-4-5\",position=\"0\",provider=\"anthropic\",role=\"primary\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "clawprobe_probe_errors_total{class=\"auth\",model=\"gpt-5-mini\",provider=\"openai\",tier=\"metadata\"}"
        )
        .is_some_and(|v| v >= 1.0),
        "{metrics}"
    );
    // The anthropic setup token (365 days) has an expiry; its label is the profile id.
    assert!(
        sample(
            &metrics,
            "clawprobe_credential_expiry_timestamp_seconds{agent=\"main\",profile=\"anthropic:manual\",provider=\"anthropic\"}"
        )
        .is_some_and(|v| v > 1.7e9),
        "{metrics}"
    );
    // Probes shared by agents go out once: gpt-5-mini has two credentials (openai:manual
    // for main, openai:coder for coder), so two requests, not three.
    let openai = provider.requests_to("/v1/models/gpt-5-mini");
    assert_eq!(openai.len(), 2, "{openai:?}");
    // Anthropic probes carry the setup token as a bearer token, never as x-api-key.
    let anth = provider.requests_to("/v1/models/claude-sonnet-4-5");
    assert!(!anth.is_empty());
    assert!(anth[0]
        .header("authorization")
        .is_some_and(|v| v.starts_with("Bearer ")));
    assert!(anth[0].header("x-api-key").is_none());

    let landing = srv.get("/").body;
    for text in [&metrics, &landing] {
        assert!(!text.contains("sk-canary"), "key leaked");
        assert!(!text.contains("sk-ant-oat01"), "token leaked");
    }
    assert!(
        landing.contains("research") && landing.contains("billing"),
        "{landing}"
    );

    // Reloads (HTTP and SIGHUP) re-read every store; none may touch the OpenClaw dir.
    let reload = srv.post("/-/reload");
    assert_eq!(reload.status, 200, "{reload:?}");
    srv.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(srv.get("/healthz").status, 200);

    // SIGTERM: a clean exit.
    let err = srv.stop();
    assert!(
        !err.contains("sk-canary") && !err.contains("sk-ant-oat01"),
        "{err}"
    );
    assert!(
        before == snapshot(&state),
        "clawprobe changed, created or removed a file in the OpenClaw directory"
    );
}
