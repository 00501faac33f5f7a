//! `clawprobe serve` start-up to ready: the real binary against a fake provider on loopback.

#[path = "support/fake_provider.rs"]
mod fake_provider;

use std::time::Duration;

/// The real binary, default schedule: 1,000 standalone targets on 7 keys against a fake
/// provider on loopback that answers every request with a 404 (an error result is a first
/// picture too). `/readyz` turns 200 long before `first_cycle_timeout_seconds` (60 s) and
/// long before the first cycle could end (~143 s at 1 s spacing), and the log says why.
#[test]
fn serve_is_ready_long_before_the_first_cycle_ends() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let fake = fake_provider::FakeProvider::start();
    let dir = tempfile::tempdir().unwrap();
    let port = fake_provider::closed_port();
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
    let log = dir.path().join("stderr.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawprobe"));
    cmd.arg("--config")
        .arg(&config)
        .arg("serve")
        .env_remove("CLAWPROBE_CONFIG")
        .env_remove("CLAWPROBE_LOG")
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for k in 0..7 {
        cmd.env(format!("SIM_KEY_{k}"), format!("sk-sim-{k}-not-a-real-key"));
    }
    let start = std::time::Instant::now();
    let mut child = cmd.spawn().expect("start clawprobe");
    let readyz = || -> Option<(u16, String)> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .ok()?;
        let mut raw = String::new();
        s.read_to_string(&mut raw).ok()?;
        let status = raw.split_whitespace().nth(1)?.parse().ok()?;
        Some((status, raw.split_once("\r\n\r\n")?.1.to_string()))
    };
    let mut first_answer = None;
    let ready_after = loop {
        let elapsed = start.elapsed();
        if elapsed > Duration::from_secs(50) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "not ready after 50 s; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
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
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
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
