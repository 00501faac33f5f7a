//! Security and reliability hardening, end to end with the real binary on 127.0.0.1:
//!
//! - canary: distinctive keys (an OpenClaw auth profile, a `${VAR}` provider key, a secret
//!   provider header, a standalone `[[targets]]` key) sent to a fake provider that echoes them
//!   back in 401 bodies; none may appear in stdout, stderr (trace logs), /metrics, the landing
//!   page or /probe output of `check`, `probe` and `serve` (with reloads and SIGHUP);
//! - faults: hangs, slow drips, resets (before and in the middle of the body), 10 MB bodies,
//!   HTML, invalid UTF-8, invalid JSON, a self-signed TLS provider: each is classified and the
//!   exporter keeps serving;
//! - an OpenClaw config turned invalid mid-run, a SIGHUP storm, a port already in use.
//!
//! The child processes get a clean environment (HOME in a temp dir), so the developer's real
//! OpenClaw install and keys are never read.

mod support;

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::fake_provider::{FakeProvider, Reply};
use support::harness::{self, free_port, sample as gauge, Output as Out, Response, Serve};

/// An OpenAI-shaped key (masked by shape too).
const KEY_PROFILE: &str = "sk-proj-HRDcanaryProfile-7Q2x9Z4v1B8n";
/// Not key-shaped: only value-based redaction can catch it.
const KEY_ENV: &str = "zz-HRDcanaryEnvVar-3k5m7p9r1t";
/// A secret in `models.providers.<id>.headers`.
const KEY_HEADER: &str = "hdr-HRDcanaryHeader-6y8u0i2o4p";
/// A standalone `[[targets]]` key.
const KEY_TARGET: &str = "tgt-HRDcanaryTarget-5w3e1r9t7y";
/// Every distinctive substring: none may be printed anywhere.
const FORBIDDEN: &[&str] = &[
    KEY_PROFILE,
    KEY_ENV,
    KEY_HEADER,
    KEY_TARGET,
    "HRDcanary",
    "7Q2x9Z4v1B8n",
    "3k5m7p9r1t",
    "6y8u0i2o4p",
    "5w3e1r9t7y",
];

fn assert_clean(what: &str, text: &str) {
    for f in FORBIDDEN {
        assert!(
            !text.contains(f),
            "secret fragment {f:?} leaked into {what}:\n{text}"
        );
    }
}

/// A 401 that echoes the key in full and as a `prefix****suffix`, as providers do.
fn echo_401(key: &str) -> Reply {
    let masked = format!("{}****{}", &key[..14], &key[key.len() - 4..]);
    Reply::json(
        401,
        json!({"error": {
            "message": format!("Incorrect API key provided: {masked}. You sent {key}."),
            "type": "invalid_request_error",
            "code": "invalid_api_key",
            "param": key,
        }}),
    )
}

/// An OpenClaw install: `main` uses openai/gpt-h (auth profile key) then acme/m2 (`${VAR}`
/// key and a secret header), both pointed at `fake`.
fn openclaw_install(root: &Path, fake: &FakeProvider) -> PathBuf {
    let state = root.join("oc");
    let agent = state.join("agents/main/agent");
    std::fs::create_dir_all(&agent).unwrap();
    std::fs::write(
        state.join("openclaw.json"),
        format!(
            r#"// canary install
{{
  models: {{
    providers: {{
      openai: {{ baseUrl: "{o}", api: "openai-completions" }},
      acme: {{
        baseUrl: "{a}",
        api: "openai-completions",
        apiKey: "${{ACME_API_KEY}}",
        headers: {{ "X-Acme-Token": "{KEY_HEADER}" }},
        models: [{{ id: "m2" }}],
      }},
    }},
  }},
  agents: {{
    defaults: {{ model: {{ primary: "openai/gpt-h", fallbacks: ["acme/m2"] }} }},
    list: [{{ id: "main", default: true }}],
  }},
}}
"#,
            o = fake.url("/echo1/v1"),
            a = fake.url("/echo2/v1"),
        ),
    )
    .unwrap();
    std::fs::write(
        agent.join("auth-profiles.json"),
        json!({"version": 1, "profiles": {"openai:default": {"type": "api_key", "provider": "openai", "key": KEY_PROFILE}}})
            .to_string(),
    )
    .unwrap();
    state
}

fn echo_fake() -> FakeProvider {
    let fake = FakeProvider::start();
    for (prefix, key) in [
        ("/echo1/v1", KEY_PROFILE),
        ("/echo2/v1", KEY_ENV),
        ("/echo3/v1", KEY_TARGET),
    ] {
        for p in [
            "/models/gpt-h",
            "/models/m2",
            "/models/m3",
            "/models",
            "/chat/completions",
        ] {
            fake.route("*", &format!("{prefix}{p}"), echo_401(key));
        }
    }
    fake
}

/// A clawprobe TOML: OpenClaw at `state` (or disabled) plus extra TOML.
fn toml(state: Option<&Path>, listen: &str, extra: &str) -> String {
    let oc = match state {
        Some(s) => format!(
            "[openclaw]\nenabled = true\nrequired = true\nstate_dir = \"{}\"\nconfig_path = \"{}\"\n",
            s.display(),
            s.join("openclaw.json").display()
        ),
        None => "[openclaw]\nenabled = false\n".into(),
    };
    format!(
        "{oc}\n[server]\nlisten = \"{listen}\"\nfirst_cycle_timeout_seconds = 1\nwatch_interval_seconds = 0.2\n\n[schedule]\nmetadata = \"*/1 * * * * *\"\nprobe_timeout_seconds = 2.0\nconcurrency = 8\nmin_key_spacing_seconds = 0.0\n{extra}"
    )
}

fn command(home: &Path, config: &Path) -> Command {
    let mut c = harness::clawprobe(home);
    c.env("ACME_API_KEY", KEY_ENV)
        .env("TARGET_KEY", KEY_TARGET)
        .arg("--config")
        .arg(config);
    c
}

fn run(home: &Path, config: &Path, args: &[&str]) -> Out {
    harness::output(command(home, config).args(args))
}

/// `clawprobe serve` on `config` at `log_level`, serving on `port`.
fn serve(home: &Path, config: &Path, port: u16, log_level: &str) -> Serve {
    let mut c = command(home, config);
    c.arg("--log.level").arg(log_level).arg("serve");
    Serve::start(c, port, home.join(format!("serve-{port}.log")))
}

// ---------------------------------------------------------------------------------------
// Secret canary

#[test]
fn canary_keys_never_leak_from_check_probe_or_serve() {
    let home = tempfile::tempdir().unwrap();
    let fake = echo_fake();
    let state = openclaw_install(home.path(), &fake);
    let port = free_port();
    let extra = format!(
        "\n[[targets]]\nname = \"tgt\"\nagent = \"standalone\"\nprovider = \"openai\"\nmodel = \"m3\"\nbase_url = \"{}\"\napi = \"openai-completions\"\napi_key_env = \"TARGET_KEY\"\n",
        fake.url("/echo3/v1")
    );
    let config = home.path().join("clawprobe.toml");
    std::fs::write(
        &config,
        toml(Some(&state), &format!("127.0.0.1:{port}"), &extra),
    )
    .unwrap();

    for args in [
        vec!["--log.level", "trace", "check"],
        vec!["--log.level", "trace", "check", "--json"],
    ] {
        let o = run(home.path(), &config, &args);
        assert_clean(&format!("{args:?} stdout"), &o.stdout);
        assert_clean(&format!("{args:?} stderr"), &o.stderr);
        assert!(
            o.stdout.contains("gpt-h") && o.stdout.contains("m3"),
            "{}",
            o.stdout
        );
        assert!(o.stdout.contains("env:TARGET_KEY"), "{}", o.stdout);
    }
    // OpenClaw credentials resolve: the profile key and the `${VAR}` key are sent too.
    let o = run(home.path(), &config, &["check"]);
    assert!(
        o.stdout.contains("openai:default") && !o.stdout.contains("missing_credential"),
        "{}",
        o.stdout
    );

    for args in [
        vec!["--log.level", "trace", "probe", "--json"],
        vec!["--log.level", "trace", "probe", "--tier", "generation"],
        vec![
            "--log.format",
            "json",
            "--log.level",
            "debug",
            "probe",
            "--json",
        ],
    ] {
        let o = run(home.path(), &config, &args);
        assert_clean(&format!("{args:?} stdout"), &o.stdout);
        assert_clean(&format!("{args:?} stderr"), &o.stderr);
        assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
        if args.contains(&"--json") {
            let doc: Value = serde_json::from_str(&o.stdout).unwrap();
            let rows = doc["routes"].as_array().unwrap();
            assert_eq!(rows.len(), 3, "{}", o.stdout);
            let sent = rows.iter().filter(|r| r["http_status"] == 401).count();
            assert_eq!(sent, 3, "{}", o.stdout);
            for r in rows {
                assert_eq!(r["class"], "auth", "{r}");
            }
            // The echoed body got through (redacted), not dropped.
            let tgt = rows.iter().find(|r| r["agent"] == "standalone").unwrap();
            let msg = tgt["message"].as_str().unwrap_or("");
            assert!(
                msg.contains("Incorrect API key provided") && msg.contains("[REDACTED]"),
                "{tgt}"
            );
        }
    }
    // The keys really went out (so they really came back in the 401 bodies).
    let sent: String = fake.requests().iter().map(|r| r.dump()).collect();
    let keys = [KEY_PROFILE, KEY_ENV, KEY_TARGET, KEY_HEADER];
    for k in keys {
        assert!(sent.contains(k), "{k} was never sent:\n{sent}");
    }

    let s = serve(home.path(), &config, port, "trace");
    s.wait_metrics("probe results", Duration::from_secs(20), |m| {
        m.matches("clawprobe_model_status{").count() > 0 && m.contains("class=\"auth\"")
    });
    let mut outputs = Vec::new();
    for (m, p) in [
        ("GET", "/metrics"),
        ("GET", "/"),
        ("GET", "/probe?agent=main&ref=openai/gpt-h"),
        ("GET", "/probe?agent=main&ref=acme/m2&tier=generation"),
        ("GET", "/probe?agent=standalone&ref=openai/m3"),
        ("POST", "/-/reload"),
    ] {
        let Response {
            status: code, body, ..
        } = s.request(m, p);
        assert!(code < 500 || p == "/-/reload", "{m} {p}: {code} {body}");
        assert_clean(&format!("{m} {p}"), &body);
        outputs.push(body);
    }
    assert!(outputs[0].contains("gpt-h"), "{}", outputs[0]);
    assert!(outputs[1].contains("openai/m3"), "{}", outputs[1]);
    // Reload with a changed OpenClaw config (file watcher) and by SIGHUP.
    let oc = state.join("openclaw.json");
    let text = std::fs::read_to_string(&oc).unwrap();
    std::fs::write(&oc, format!("{text}\n// touched\n")).unwrap();
    s.signal("HUP");
    std::thread::sleep(Duration::from_millis(800));
    let Response {
        status: code,
        body: metrics,
        ..
    } = s.request("GET", "/metrics");
    assert_eq!(code, 200);
    assert_clean("/metrics after reloads", &metrics);
    assert_eq!(
        gauge(&metrics, "clawprobe_config_last_reload_successful"),
        Some(1.0),
        "{metrics}"
    );
    let log = s.stop();
    assert_clean("serve stderr (trace)", &log);
    assert!(log.contains("SIGHUP") || log.contains("reload"), "{log}");
}

// ---------------------------------------------------------------------------------------
// Faults

/// A raw server: answers every connection with `head` + the first bytes of a body it
/// promised to be longer, then resets the connection (RST).
fn mid_body_reset_server() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 8192];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{\"id\": \"m\", \"data\": [");
                let _ = s.flush();
                std::thread::sleep(Duration::from_millis(100));
                // SO_LINGER 0 then close: the kernel sends RST.
                let t = tokio::net::TcpStream::from_std({
                    s.set_nonblocking(true).unwrap();
                    s
                });
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    if let Ok(t) = t {
                        let _ = t.set_zero_linger();
                        drop(t);
                    }
                });
            });
        }
    });
    port
}

/// An HTTPS server with a self-signed certificate (nobody trusts it).
fn self_signed_tls_server() -> u16 {
    use tokio_rustls::rustls;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            loop {
                let Ok((s, _)) = l.accept().await else {
                    continue;
                };
                let a = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut t) = a.accept(s).await {
                        use tokio::io::AsyncWriteExt;
                        let _ = t
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                            .await;
                    }
                });
            }
        });
    });
    port
}

/// (agent name, base URL, expected class, expected reason or "" for any).
fn fault_fixture(fake: &FakeProvider) -> Vec<(&'static str, String, &'static str, &'static str)> {
    let chunk_1mb = vec![b' '; 1024 * 1024];
    fake.route("GET", "/hang/v1/models/m", Reply::Hang)
        .route("GET", "/reset/v1/models/m", Reply::Reset)
        .route(
            "GET",
            "/drip/v1/models/m",
            Reply::Drip {
                status: 200,
                chunk: b"{\"id\":".to_vec(),
                every: Duration::from_millis(400),
                count: 50,
            },
        )
        .route(
            "GET",
            "/huge/v1/models/m",
            Reply::Huge {
                status: 200,
                bytes: 10 * 1024 * 1024,
            },
        )
        .route(
            "GET",
            "/hugechunked/v1/models/m",
            Reply::Drip {
                status: 200,
                chunk: chunk_1mb,
                every: Duration::from_millis(1),
                count: 10,
            },
        )
        .route(
            "GET",
            "/html/v1/models/m",
            Reply::Respond {
                status: 200,
                headers: vec![("content-type".into(), "text/html".into())],
                body: b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>".to_vec(),
            },
        )
        .route(
            "GET",
            "/html502/v1/models/m",
            Reply::Respond {
                status: 502,
                headers: vec![("content-type".into(), "text/html".into())],
                body: b"<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>".to_vec(),
            },
        )
        .route(
            "GET",
            "/utf8/v1/models/m",
            Reply::Respond {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: vec![b'{', b'"', 0xff, 0xfe, 0xc3, 0x28, b'"', b':', 0xa0, 0xa1, b'}'],
            },
        )
        .route(
            "GET",
            "/utf8401/v1/models/m",
            Reply::Respond {
                status: 401,
                headers: vec![("content-type".into(), "application/json".into())],
                body: vec![0xff, 0xfe, 0xfd, b'k', b'e', b'y'],
            },
        )
        .route(
            "GET",
            "/json/v1/models/m",
            Reply::Respond {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: b"{\"id\": \"m\", \"object\": ".to_vec(),
            },
        );
    vec![
        ("hang", fake.url("/hang/v1"), "timeout", ""),
        ("drip", fake.url("/drip/v1"), "timeout", ""),
        ("reset", fake.url("/reset/v1"), "network", ""),
        (
            "midbody",
            format!("http://127.0.0.1:{}/v1", mid_body_reset_server()),
            "network",
            "",
        ),
        (
            "huge",
            fake.url("/huge/v1"),
            "bad_response",
            "body_too_large",
        ),
        (
            "hugechunked",
            fake.url("/hugechunked/v1"),
            "bad_response",
            "body_too_large",
        ),
        ("html", fake.url("/html/v1"), "bad_response", ""),
        ("html502", fake.url("/html502/v1"), "", ""),
        ("utf8", fake.url("/utf8/v1"), "bad_response", ""),
        ("utf8401", fake.url("/utf8401/v1"), "auth", ""),
        ("json", fake.url("/json/v1"), "bad_response", ""),
        (
            "tls",
            format!("https://127.0.0.1:{}/v1", self_signed_tls_server()),
            "network",
            "tls",
        ),
    ]
}

fn fault_targets(faults: &[(&str, String, &str, &str)]) -> String {
    faults
        .iter()
        .map(|(name, base, _, _)| {
            format!("\n[[targets]]\nname = \"{name}\"\nagent = \"{name}\"\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{base}\"\napi = \"openai-completions\"\napi_key_env = \"TARGET_KEY\"\n")
        })
        .collect()
}

#[test]
fn faults_are_classified_by_probe_and_serve_keeps_serving() {
    let home = tempfile::tempdir().unwrap();
    let fake = FakeProvider::start();
    let faults = fault_fixture(&fake);
    let port = free_port();
    let config = home.path().join("clawprobe.toml");
    std::fs::write(
        &config,
        toml(None, &format!("127.0.0.1:{port}"), &fault_targets(&faults)),
    )
    .unwrap();

    let started = Instant::now();
    let o = run(
        home.path(),
        &config,
        &["--log.level", "debug", "probe", "--json"],
    );
    let took = started.elapsed();
    assert_clean("probe stdout", &o.stdout);
    assert_clean("probe stderr", &o.stderr);
    assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    // 12 targets at concurrency 8 with a 2 s deadline each: two waves at most.
    assert!(took < Duration::from_secs(12), "probe took {took:?}");
    let doc: Value = serde_json::from_str(&o.stdout).unwrap();
    let rows = doc["routes"].as_array().unwrap();
    assert_eq!(rows.len(), faults.len(), "{}", o.stdout);
    for (name, _, class, reason) in &faults {
        let row = rows
            .iter()
            .find(|r| r["agent"] == *name)
            .unwrap_or_else(|| panic!("no row for {name}: {}", o.stdout));
        assert_ne!(row["class"], "ok", "{name}: {row}");
        assert_ne!(row["class"], "unknown", "{name}: {row}");
        if !class.is_empty() {
            assert_eq!(row["class"], *class, "{name}: {row}");
        }
        if !reason.is_empty() {
            assert_eq!(row["reason"], *reason, "{name}: {row}");
        }
        let msg = row["message"].as_str().unwrap_or("");
        assert!(
            msg.len() < 2000,
            "{name}: message not bounded: {} bytes",
            msg.len()
        );
    }

    // The exporter under the same faults: every scrape answers, quickly.
    let mut s = serve(home.path(), &config, port, "debug");
    let until = Instant::now() + Duration::from_secs(6);
    let mut scrapes = 0;
    while Instant::now() < until {
        let t = Instant::now();
        let Response {
            status: code, body, ..
        } = s.request("GET", "/metrics");
        assert_eq!(code, 200);
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "slow scrape: {:?}",
            t.elapsed()
        );
        assert_clean("/metrics", &body);
        scrapes += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(scrapes >= 10, "{scrapes}");
    let m = s.wait_metrics("fault classes", Duration::from_secs(20), |m| {
        ["timeout", "network", "bad_response", "auth"]
            .iter()
            .all(|c| m.contains(&format!("class=\"{c}\"")))
    });
    assert!(m.contains("agent=\"hugechunked\""), "{m}");
    let Response {
        status: code,
        body: _,
        ..
    } = s.request("GET", "/probe?agent=hang&ref=openai/m");
    assert!(code == 200 || code == 429, "{code}");
    assert!(s.alive());
    let log = s.stop();
    assert!(!log.contains("panicked"), "{log}");
    assert_clean("serve log", &log);
}

// ---------------------------------------------------------------------------------------
// Reload faults

#[test]
fn openclaw_config_turned_invalid_mid_run_keeps_last_good_plan() {
    let home = tempfile::tempdir().unwrap();
    let fake = echo_fake();
    let state = openclaw_install(home.path(), &fake);
    let port = free_port();
    let config = home.path().join("clawprobe.toml");
    std::fs::write(
        &config,
        toml(Some(&state), &format!("127.0.0.1:{port}"), ""),
    )
    .unwrap();
    let s = serve(home.path(), &config, port, "info");
    let Response {
        status: _,
        body: before,
        ..
    } = s.request("GET", "/metrics");
    assert!(before.contains("model=\"gpt-h\""), "{before}");
    let oc = state.join("openclaw.json");
    let good = std::fs::read_to_string(&oc).unwrap();

    // 1. A syntax error, picked up by the file watcher.
    std::fs::write(&oc, "{ agents: { defaults: { model: \"openai/gpt-h\" }, \n").unwrap();
    let m = s.wait_metrics("reload failure", Duration::from_secs(10), |m| {
        gauge(m, "clawprobe_config_last_reload_successful") == Some(0.0)
    });
    assert!(
        m.contains("model=\"gpt-h\"") && m.contains("model=\"m2\""),
        "last good plan: {m}"
    );
    let log = s.log_text();
    assert!(log.contains("openclaw.json"), "log names the file:\n{log}");
    assert!(log.contains("keeping the last good plan"), "{log}");

    // 2. Valid JSON5, invalid value: the error names the key.
    std::fs::write(&oc, "{ agents: { list: \"main\" } }\n").unwrap();
    let Response {
        status: code,
        body: msg,
        ..
    } = s.request("POST", "/-/reload");
    assert_eq!(code, 500, "{msg}");
    assert!(msg.contains("openclaw.json"), "{msg}");
    assert!(msg.contains("agents.list"), "names the key: {msg}");
    let Response {
        status: _, body: m, ..
    } = s.request("GET", "/metrics");
    assert_eq!(
        gauge(&m, "clawprobe_config_last_reload_successful"),
        Some(0.0)
    );
    assert!(m.contains("model=\"gpt-h\""), "{m}");

    // 3. Fixed: back to 1.
    std::fs::write(&oc, good).unwrap();
    let Response {
        status: code,
        body: msg,
        ..
    } = s.request("POST", "/-/reload");
    assert_eq!(code, 200, "{msg}");
    let Response {
        status: _, body: m, ..
    } = s.request("GET", "/metrics");
    assert_eq!(
        gauge(&m, "clawprobe_config_last_reload_successful"),
        Some(1.0)
    );
    assert_clean("log", &s.log_text());
}

#[test]
fn sighup_storm_does_not_crash_or_stop_serving() {
    let home = tempfile::tempdir().unwrap();
    let fake = echo_fake();
    let state = openclaw_install(home.path(), &fake);
    let port = free_port();
    let config = home.path().join("clawprobe.toml");
    std::fs::write(
        &config,
        toml(Some(&state), &format!("127.0.0.1:{port}"), ""),
    )
    .unwrap();
    let mut s = serve(home.path(), &config, port, "info");
    let pid = s.pid().to_string();
    // 50 SIGHUPs as fast as one `kill` process can send them.
    let script = format!("for i in $(seq 50); do kill -HUP {pid} || exit 1; done");
    let st = Command::new("sh").arg("-c").arg(&script).status().unwrap();
    assert!(st.success());
    for _ in 0..20 {
        let Response {
            status: code, body, ..
        } = s.request("GET", "/metrics");
        assert_eq!(code, 200);
        assert!(body.contains("clawprobe_config_last_reload_successful"));
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.alive(), "died after the SIGHUP storm:\n{}", s.log_text());
    let Response {
        status: code,
        body: _,
        ..
    } = s.request("GET", "/healthz");
    assert_eq!(code, 200);
    let Response {
        status: _, body: m, ..
    } = s.request("GET", "/metrics");
    assert_eq!(
        gauge(&m, "clawprobe_config_last_reload_successful"),
        Some(1.0),
        "{m}"
    );
    let log = s.stop();
    assert!(log.matches("SIGHUP").count() >= 1, "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn port_already_in_use_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let config = home.path().join("clawprobe.toml");
    std::fs::write(&config, toml(None, &addr, "")).unwrap();
    let started = Instant::now();
    let o = run(home.path(), &config, &["serve"]);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains(&addr), "{}", o.stderr);
    assert!(o.stderr.contains("server.listen"), "{}", o.stderr);
    assert!(o.stderr.contains("clawprobe.toml"), "{}", o.stderr);
    drop(busy);
}
