//! `clawprobe serve` end to end: the real binary on a loopback port, the fake OpenAI-style
//! provider on another loopback port, plain HTTP/1.0 requests from the test.

mod support;

use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::fake_provider::{FakeProvider, Reply};
use support::harness::{clawprobe, free_port, output, sample, Response, Serve};

const KEY_ENV: &str = "CLAWPROBE_SERVE_TEST_KEY";
const CANARY: &str = "sk-canary-serve-DO-NOT-LEAK-4242";

/// An OpenAI-style provider: needs `Authorization: Bearer <CANARY>`; `GET /v1/models`
/// lists `gpt-test`, `GET /v1/models/gpt-test` finds it, `gpt-missing` is 404
/// `model_not_found`; a chat completion answers one token.
fn fake_provider() -> FakeProvider {
    let f = FakeProvider::start();
    f.require(
        "authorization",
        CANARY,
        Reply::json(
            401,
            json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}),
        ),
    );
    f.route(
        "GET",
        "/v1/models",
        Reply::json(
            200,
            json!({"object": "list", "data": [{"id": "gpt-test", "object": "model"}]}),
        ),
    );
    f.route(
        "GET",
        "/v1/models/gpt-test",
        Reply::json(200, json!({"id": "gpt-test", "object": "model"})),
    );
    f.route(
        "GET",
        "/v1/models/gpt-missing",
        Reply::json(
            404,
            json!({"error": {"message": "The model does not exist", "type": "invalid_request_error", "code": "model_not_found"}}),
        ),
    );
    f.route(
        "POST",
        "/v1/chat/completions",
        Reply::json(
            200,
            json!({"id": "x", "object": "chat.completion", "model": "gpt-test", "choices": [{"index": 0, "message": {"role": "assistant", "content": "o"}, "finish_reason": "length"}], "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}),
        ),
    );
    f
}

fn write_config(path: &Path, listen: &str, provider: &str) {
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
base_url = "{provider}/v1"
api = "openai-completions"
api_key_env = "{KEY_ENV}"
agent = "standalone"

[[targets]]
name = "fake-fallback"
provider = "openai"
model = "gpt-missing"
base_url = "{provider}/v1"
api = "openai-completions"
api_key_env = "{KEY_ENV}"
agent = "standalone"
"#
    );
    std::fs::write(path, toml).unwrap();
}

/// `clawprobe serve` on the config above, with the fake provider it probes.
struct Server {
    serve: Serve,
    _provider: FakeProvider,
    _dir: tempfile::TempDir,
    config: PathBuf,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let provider = fake_provider();
        let config = dir.path().join("clawprobe.toml");
        write_config(&config, &format!("127.0.0.1:{port}"), &provider.url(""));
        let mut cmd = clawprobe(dir.path());
        cmd.arg("--config")
            .arg(&config)
            .arg("serve")
            .env(KEY_ENV, CANARY);
        let serve = Serve::start(cmd, port, dir.path().join("stderr.log"));
        Server {
            serve,
            _provider: provider,
            _dir: dir,
            config,
        }
    }
}

impl std::ops::Deref for Server {
    type Target = Serve;
    fn deref(&self) -> &Serve {
        &self.serve
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Serve {
        &mut self.serve
    }
}

#[test]
fn serves_metrics_reloads_and_stops_on_sigterm() {
    let mut srv = Server::start();

    let Response {
        status,
        content_type: ctype,
        body,
    } = srv.get("/metrics");
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    assert!(body.contains("# TYPE clawprobe_build_info gauge"), "{body}");
    assert!(
        body.contains(&format!(
            "clawprobe_build_info{{builddate=\"{}\",revision=\"{}\",rustversion=\"{}\",version=\"{}\"}} 1",
            clawprobe::build_info::BUILD_DATE,
            clawprobe::build_info::REVISION,
            clawprobe::build_info::RUST_VERSION,
            env!("CARGO_PKG_VERSION")
        )),
        "{body}"
    );
    assert_eq!(
        sample(&body, "clawprobe_config_last_reload_successful"),
        Some(1.0)
    );
    assert!(
        sample(
            &body,
            "clawprobe_config_last_reload_success_timestamp_seconds"
        )
        .unwrap()
            > 1.6e9
    );
    assert!(!body.contains(CANARY) && !body.contains("canary"), "{body}");

    let Response { status, body, .. } = srv.get("/healthz");
    assert_eq!((status, body.trim()), (200, "ok"));
    let Response {
        status,
        content_type: ctype,
        body: html,
    } = srv.get("/");
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    assert!(html.contains("href=\"metrics\""), "{html}");
    // first_cycle_timeout_seconds = 2: ready within a few seconds whatever the scheduler does.
    let deadline = Instant::now() + Duration::from_secs(15);
    while srv.get("/readyz").status != 200 {
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
    assert_eq!(srv.get("/-/reload").status, 405);

    // Break the TOML: reload fails with the file named, metrics keep being served.
    let good = std::fs::read_to_string(&srv.config).unwrap();
    std::fs::write(
        &srv.config,
        good.replace("[schedule]", "[schedule]\nconcurency = 3"),
    )
    .unwrap();
    let Response {
        status, body: msg, ..
    } = srv.post("/-/reload");
    assert_eq!(status, 500, "{msg}");
    assert!(
        msg.contains("clawprobe.toml") && msg.contains("concurency"),
        "{msg}"
    );
    let Response { status, body, .. } = srv.get("/metrics");
    assert_eq!(status, 200);
    assert_eq!(
        sample(&body, "clawprobe_config_last_reload_successful"),
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
    let Response {
        status, body: msg, ..
    } = srv.post("/-/reload");
    assert_eq!(status, 200, "{msg}");
    assert_eq!(
        sample(
            &srv.get("/metrics").body,
            "clawprobe_config_last_reload_successful"
        ),
        Some(1.0)
    );

    // SIGHUP reloads too.
    std::fs::write(&srv.config, "[server]\nlisten = \"not an address\"\n").unwrap();
    srv.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while sample(
        &srv.get("/metrics").body,
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
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let config = dir.path().join("clawprobe.toml");
    write_config(&config, &addr, "http://127.0.0.1:9");
    let out = output(
        clawprobe(dir.path())
            .arg("--config")
            .arg(&config)
            .arg("serve"),
    );
    assert!(out.code != 0);
    let err = out.stderr;
    assert!(err.contains(&addr), "{err}");
    assert!(err.contains("server.listen"), "{err}");
    drop(busy);
}

/// Needs `plan::build` to turn `[[targets]]` into targets (discovery branch) and the
/// scheduler + HTTP executor (schedule/probe branches).
#[test]
fn standalone_targets_are_probed_and_exported() {
    let srv = Server::start();
    let body = srv.get("/metrics").body;
    assert_eq!(
        sample(&body, "clawprobe_agent_fallbacks{agent=\"standalone\"}"),
        Some(1.0),
        "{body}"
    );
    for class in ["auth", "rate_limit", "billing", "unresolved_ref"] {
        let series = format!(
            "clawprobe_probe_errors_total{{class=\"{class}\",model=\"gpt-test\",provider=\"openai\",tier=\"metadata\"}}"
        );
        assert!(
            sample(&body, &series).is_some(),
            "{series} not pre-initialised:\n{body}"
        );
    }
    // The metadata tier runs every 2 s: the primary (listed by the fake) comes up.
    let deadline = Instant::now() + Duration::from_secs(20);
    let up = "clawprobe_model_up{agent=\"standalone\",model=\"gpt-test\",position=\"0\",provider=\"openai\",role=\"primary\"}";
    loop {
        let body = srv.get("/metrics").body;
        if sample(&body, up) == Some(1.0) {
            assert_eq!(
                sample(&body, "clawprobe_agent_up{agent=\"standalone\"}"),
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
    // On-demand probes of a chain entry, while the metadata cycle keeps the key busy
    // (two targets at 1 s spacing every 2 s): each goes out at the key's next start, so
    // none waits for the harness's 10 s read timeout (before the cycle won every start and
    // a `/probe` waited up to 17 s).
    for _ in 0..5 {
        let Response {
            status,
            content_type: ctype,
            body: json,
        } = srv.get("/probe?agent=standalone&ref=openai/gpt-test");
        assert!(status == 200 || status == 429, "{status} {json}");
        assert!(ctype.starts_with("application/json"), "{ctype}");
        assert!(!json.contains(CANARY), "{json}");
        std::thread::sleep(Duration::from_millis(370));
    }
    assert_eq!(
        srv.get("/probe?agent=standalone&ref=openai/nope").status,
        404
    );
    assert_eq!(
        srv.get("/probe?agent=nobody&ref=openai/gpt-test").status,
        404
    );
}

/// The real binary, default schedule: 1,000 standalone targets on 7 keys against a fake
/// provider on loopback that answers every request with a 404 (an error result is a first
/// picture too). `/readyz` turns 200 long before `first_cycle_timeout_seconds` (60 s) and
/// long before the first cycle could end (~143 s at 1 s spacing), and the log says why.
#[test]
fn serve_is_ready_long_before_the_first_cycle_ends() {
    let fake = FakeProvider::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut toml = format!(
        "[openclaw]\nenabled = false\n[server]\nlisten = \"127.0.0.1:{port}\"\nwatch_interval_seconds = 0\n"
    );
    for i in 0..1000 {
        toml += &format!(
            "[[targets]]\nname = \"t{i}\"\nprovider = \"openai\"\nmodel = \"m-{i}\"\nbase_url = \"{}\"\napi = \"openai-completions\"\napi_key_env = \"SIM_KEY_{}\"\n",
            fake.url("/v1"),
            i % 7
        );
    }
    let config = dir.path().join("clawprobe.toml");
    std::fs::write(&config, toml).unwrap();
    let mut cmd = clawprobe(dir.path());
    cmd.arg("--config").arg(&config).arg("serve");
    for k in 0..7 {
        cmd.env(format!("SIM_KEY_{k}"), format!("sk-sim-{k}-not-a-real-key"));
    }
    let start = std::time::Instant::now();
    let srv = Serve::spawn(cmd, port, dir.path().join("stderr.log"));
    let readyz = || {
        srv.try_request("GET", "/readyz")
            .map(|r| (r.status, r.body))
    };
    let mut first_answer = None;
    let ready_after = loop {
        let elapsed = start.elapsed();
        if elapsed > Duration::from_secs(50) {
            panic!("not ready after 50 s; log:\n{}", srv.log_text());
        }
        match readyz() {
            Some((200, _)) => break elapsed,
            Some(other) => {
                first_answer.get_or_insert(other);
            }
            None => {}
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let requests = fake.requests().len();
    let text = srv.log_text();
    drop(srv);
    println!(
        "serve, 1,000 targets on 7 keys (debug build): /readyz 200 after {ready_after:?} from spawn, {requests} provider requests by then; first non-ready answer: {first_answer:?}"
    );
    assert!(
        text.contains("ready: every credential has had its first probe"),
        "{text}"
    );
    assert!(!text.contains("first_cycle_timeout_seconds"), "{text}");
    // Far below the 60 s timeout and the ~143 s first cycle; generous for a busy machine
    // (the harness measures the real figure on a release build).
    assert!(ready_after < Duration::from_secs(30), "{ready_after:?}");
    assert!(!text.contains("not-a-real-key"), "a key in the log");
}
