//! `clawprobe serve` end to end: the real binary on a loopback port, a fake OpenAI-style
//! provider on another loopback port, plain HTTP/1.0 requests from the test.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEY_ENV: &str = "CLAWPROBE_SERVE_TEST_KEY";
const CANARY: &str = "sk-canary-serve-DO-NOT-LEAK-4242";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fake OpenAI-style provider: needs `Authorization: Bearer <CANARY>`; `GET /v1/models`
/// lists `gpt-test`, `GET /v1/models/gpt-test` finds it, other models are 404
/// `model_not_found`; any POST gets a one-token chat completion.
fn fake_provider() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let authed = head.lines().any(|l| {
                    l.to_ascii_lowercase().starts_with("authorization:") && l.contains(CANARY)
                });
                let (status, body) = if !authed {
                    (
                        "401 Unauthorized",
                        r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#.to_string(),
                    )
                } else if head.starts_with("GET") && path.ends_with("/models") {
                    (
                        "200 OK",
                        r#"{"object":"list","data":[{"id":"gpt-test","object":"model"}]}"#
                            .to_string(),
                    )
                } else if head.starts_with("GET") && path.ends_with("/models/gpt-test") {
                    (
                        "200 OK",
                        r#"{"id":"gpt-test","object":"model"}"#.to_string(),
                    )
                } else if head.starts_with("GET") {
                    (
                        "404 Not Found",
                        r#"{"error":{"message":"The model does not exist","type":"invalid_request_error","code":"model_not_found"}}"#.to_string(),
                    )
                } else {
                    ("200 OK", r#"{"id":"x","object":"chat.completion","model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":"o"},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#.to_string())
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

fn write_config(path: &Path, listen: &str, provider_port: u16) {
    let toml = format!(
        r#"[openclaw]
enabled = false

[server]
listen = "{listen}"
first_cycle_timeout_seconds = 2
watch_interval_seconds = 0

[schedule]
metadata = "*/2 * * * * *"
credential_generation = ""
model_generation = ""

[[targets]]
name = "fake-primary"
provider = "openai"
model = "gpt-test"
base_url = "http://127.0.0.1:{provider_port}/v1"
api = "openai-completions"
api_key_env = "{KEY_ENV}"
agent = "standalone"

[[targets]]
name = "fake-fallback"
provider = "openai"
model = "gpt-missing"
base_url = "http://127.0.0.1:{provider_port}/v1"
api = "openai-completions"
api_key_env = "{KEY_ENV}"
agent = "standalone"
"#
    );
    std::fs::write(path, toml).unwrap();
}

struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
    config: PathBuf,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("clawprobe.toml");
        write_config(&config, &format!("127.0.0.1:{port}"), fake_provider());
        let log = dir.path().join("stderr.log");
        let child = spawn(&config, &log);
        let s = Server {
            child,
            port,
            log,
            _dir: dir,
            config,
        };
        s.wait_healthy();
        s
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok((200, _, _)) = request(self.port, "GET", "/healthz") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not become healthy; log:\n{}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn get(&self, path: &str) -> (u16, String, String) {
        request(self.port, "GET", path).unwrap()
    }

    fn post(&self, path: &str) -> (u16, String, String) {
        request(self.port, "POST", path).unwrap()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &Path, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_clawprobe"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env(KEY_ENV, CANARY)
        .env_remove("CLAWPROBE_CONFIG")
        .env("HOME", config.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start clawprobe")
}

/// One HTTP/1.0 request; returns (status, content-type, body).
fn request(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let ctype = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Ok((status, ctype, body.to_string()))
}

fn gauge(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(&format!("{series} ")))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn serves_metrics_reloads_and_stops_on_sigterm() {
    let mut srv = Server::start();

    let (status, ctype, body) = srv.get("/metrics");
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    assert!(body.contains("# TYPE clawprobe_build_info gauge"), "{body}");
    assert!(
        body.contains(&format!(
            "clawprobe_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{body}"
    );
    assert_eq!(
        gauge(&body, "clawprobe_config_last_reload_successful"),
        Some(1.0)
    );
    assert!(
        gauge(
            &body,
            "clawprobe_config_last_reload_success_timestamp_seconds"
        )
        .unwrap()
            > 1.6e9
    );
    assert!(!body.contains(CANARY) && !body.contains("canary"), "{body}");

    let (status, _, body) = srv.get("/healthz");
    assert_eq!((status, body.trim()), (200, "ok"));
    let (status, ctype, html) = srv.get("/");
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    assert!(html.contains("href=\"metrics\""), "{html}");
    // first_cycle_timeout_seconds = 2: ready within a few seconds whatever the scheduler does.
    let deadline = Instant::now() + Duration::from_secs(15);
    while srv.get("/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(100));
    }

    let log = srv.log_text();
    assert!(
        log.contains(&format!("127.0.0.1:{}", srv.port)),
        "start log lacks address:\n{log}"
    );
    assert!(
        log.contains("agents") && log.contains("targets") && log.contains("findings"),
        "{log}"
    );

    // GET on the reload endpoint is refused.
    assert_eq!(srv.get("/-/reload").0, 405);

    // Break the TOML: reload fails with the file named, metrics keep being served.
    let good = std::fs::read_to_string(&srv.config).unwrap();
    std::fs::write(
        &srv.config,
        good.replace("[schedule]", "[schedule]\nconcurency = 3"),
    )
    .unwrap();
    let (status, _, msg) = srv.post("/-/reload");
    assert_eq!(status, 500, "{msg}");
    assert!(
        msg.contains("clawprobe.toml") && msg.contains("concurency"),
        "{msg}"
    );
    let (status, _, body) = srv.get("/metrics");
    assert_eq!(status, 200);
    assert_eq!(
        gauge(&body, "clawprobe_config_last_reload_successful"),
        Some(0.0),
        "{body}"
    );
    let log = srv.log_text();
    assert!(
        log.contains("keeping the last good plan") && log.contains("concurency"),
        "{log}"
    );

    // Fix it: 200 and the gauge back at 1.
    std::fs::write(&srv.config, &good).unwrap();
    let (status, _, msg) = srv.post("/-/reload");
    assert_eq!(status, 200, "{msg}");
    assert_eq!(
        gauge(
            &srv.get("/metrics").2,
            "clawprobe_config_last_reload_successful"
        ),
        Some(1.0)
    );

    // SIGHUP reloads too.
    std::fs::write(&srv.config, "[server]\nlisten = \"not an address\"\n").unwrap();
    srv.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while gauge(
        &srv.get("/metrics").2,
        "clawprobe_config_last_reload_successful",
    ) != Some(0.0)
    {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload:\n{}",
            srv.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        srv.log_text().contains("server.listen"),
        "{}",
        srv.log_text()
    );

    srv.signal("TERM");
    let st = srv
        .wait_exit(Duration::from_secs(8))
        .expect("did not exit after SIGTERM");
    assert!(st.success(), "exit status {st:?}\n{}", srv.log_text());
}

#[test]
fn port_in_use_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let config = dir.path().join("clawprobe.toml");
    write_config(&config, &addr, 9);
    let out = Command::new(env!("CARGO_BIN_EXE_clawprobe"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env_remove("CLAWPROBE_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr), "{err}");
    assert!(err.contains("server.listen"), "{err}");
    drop(busy);
}

/// Needs `plan::build` to turn `[[targets]]` into targets (discovery branch) and the
/// scheduler + HTTP executor (schedule/probe branches).
#[test]
fn standalone_targets_are_probed_and_exported() {
    let srv = Server::start();
    let body = srv.get("/metrics").2;
    assert_eq!(
        gauge(&body, "clawprobe_agent_fallbacks{agent=\"standalone\"}"),
        Some(1.0),
        "{body}"
    );
    for class in ["auth", "rate_limit", "billing", "unresolved_ref"] {
        let series = format!(
            "clawprobe_probe_errors_total{{class=\"{class}\",model=\"gpt-test\",provider=\"openai\",tier=\"metadata\"}}"
        );
        assert!(
            gauge(&body, &series).is_some(),
            "{series} not pre-initialised:\n{body}"
        );
    }
    // The metadata tier runs every 2 s: the primary (listed by the fake) comes up.
    let deadline = Instant::now() + Duration::from_secs(20);
    let up = "clawprobe_model_up{agent=\"standalone\",model=\"gpt-test\",position=\"0\",provider=\"openai\",role=\"primary\"}";
    loop {
        let body = srv.get("/metrics").2;
        if gauge(&body, up) == Some(1.0) {
            assert_eq!(
                gauge(&body, "clawprobe_agent_up{agent=\"standalone\"}"),
                Some(1.0),
                "{body}"
            );
            assert!(!body.contains(CANARY), "{body}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "primary never up:\n{body}\n{}",
            srv.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // On-demand probe of a chain entry.
    let (status, ctype, json) = srv.get("/probe?agent=standalone&ref=openai/gpt-test");
    assert!(status == 200 || status == 429, "{status} {json}");
    assert!(ctype.starts_with("application/json"), "{ctype}");
    assert!(!json.contains(CANARY), "{json}");
    assert_eq!(srv.get("/probe?agent=standalone&ref=openai/nope").0, 404);
    assert_eq!(srv.get("/probe?agent=nobody&ref=openai/gpt-test").0, 404);
}
