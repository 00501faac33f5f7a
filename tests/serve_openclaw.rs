//! `clawprobe serve` on an install written by the real OpenClaw CLI (three agents, four
//! providers, keys in the shared and a per-agent SQLite store), its providers pointed at a
//! fake on loopback that answers like the real APIs. Asserts what Prometheus would see.

#[path = "support/fake_provider.rs"]
mod fake_provider;
#[path = "support/fs.rs"]
mod fs;

use fake_provider::{FakeProvider, Reply};
use fs::{install_cli_fixture, snapshot};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The value of the first sample whose line starts with `series` (name and labels as
/// clawprobe renders them, labels sorted).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
    let child = Command::new(env!("CARGO_BIN_EXE_clawprobe"))
        .args(["--config", conf.to_str().unwrap(), "serve"])
        .env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Kill(child);

    // The first metadata cycle runs at start; wait until every agent has a verdict.
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        if Instant::now() > deadline {
            panic!("no agent_up for all agents in time");
        }
        std::thread::sleep(Duration::from_millis(200));
        let Ok(_) = TcpStream::connect(("127.0.0.1", port)) else {
            continue;
        };
        let m = get(port, "/metrics");
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

    let landing = get(port, "/");
    for text in [&metrics, &landing] {
        assert!(!text.contains("sk-canary"), "key leaked");
        assert!(!text.contains("sk-ant-oat01"), "token leaked");
    }
    assert!(
        landing.contains("research") && landing.contains("billing"),
        "{landing}"
    );

    // Reloads (HTTP and SIGHUP) re-read every store; none may touch the OpenClaw dir.
    let reload = post(port, "/-/reload");
    assert!(
        reload.starts_with("HTTP/1.1 200") || reload.starts_with("HTTP/1.0 200"),
        "{reload}"
    );
    let _ = Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(500));
    assert!(get(port, "/healthz").contains("200"));

    send_sigterm(&mut child.0);
    let status = child.0.wait().unwrap();
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "exit {status:?}: {err}");
    assert!(
        !err.contains("sk-canary") && !err.contains("sk-ant-oat01"),
        "{err}"
    );
    assert!(
        before == snapshot(&state),
        "clawprobe changed, created or removed a file in the OpenClaw directory"
    );
}

fn send_sigterm(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

fn post(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
