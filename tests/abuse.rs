//! The second round of fault and abuse hardening (issue 17), end to end with the real binary
//! on 127.0.0.1: what a red-team pass found, reproduced as it was found.
//!
//! - a key echoed across the message cut, and URLs with userinfo and query, in every output;
//! - `/probe` floods against a slow provider while `/metrics` is scraped;
//! - floods of wrong passwords while Prometheus scrapes;
//! - budget caps across a restart;
//! - SQLite stores: private snapshot copies, `-wal` files appearing after start-up.
//!
//! The child processes get a clean environment (HOME in a temp dir).

mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use support::fake_provider::{FakeProvider, Reply};
use support::harness::{self, free_port, Output};

/// Not key-shaped: only value-based redaction can catch it.
const KEY: &str = "zz-ABUcanaryEnvVar-3k5m7p9r1t";

fn run(home: &Path, config: &Path, args: &[&str]) -> Output {
    let mut c: Command = harness::clawprobe(home);
    c.env("TARGET_KEY", KEY).arg("--config").arg(config);
    harness::output(c.args(args))
}

/// No head of `KEY` of four or more characters (its first characters are what a cut leaves).
fn assert_no_key_head(what: &str, text: &str) {
    for n in 4..=KEY.len() {
        assert!(
            !text.contains(&KEY[..n]),
            "{what}: {n} leading characters of the key survived:\n{text}"
        );
    }
}

/// A provider that echoes the key at a given place of a long message (401), and a baseUrl
/// with a password and a `?token=` query: neither may reach any output.
#[test]
fn a_key_echoed_across_the_cut_and_url_secrets_never_reach_output() {
    let home = tempfile::tempdir().unwrap();
    let fake = FakeProvider::start();
    // The cut was at 200 characters (the classifier's) and is now at 300 (the probe's):
    // the key straddles each for some of these paddings.
    let pads = [186, 190, 193, 196, 198, 286, 289, 292, 295, 298];
    let mut toml = "[openclaw]\nenabled = false\n\n[schedule]\nprobe_timeout_seconds = 5.0\nconcurrency = 4\nmin_key_spacing_seconds = 0.0\n".to_string();
    for pad in pads {
        let message = format!("{} {KEY} is not valid.", "a".repeat(pad));
        let body = json!({"error": {"message": message, "type": "invalid_request_error"}});
        for path in ["/models/m", "/chat/completions"] {
            fake.route(
                "*",
                &format!("/p{pad}/v1{path}"),
                Reply::json(401, body.clone()),
            );
        }
        toml.push_str(&format!(
            "\n[[targets]]\nname = \"t{pad}\"\nagent = \"a{pad}\"\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\napi = \"openai-completions\"\napi_key_env = \"TARGET_KEY\"\n",
            fake.url(&format!("/p{pad}/v1"))
        ));
    }
    // A baseUrl carrying credentials, pointing at a closed port: its transport error names
    // the URL.
    let closed = free_port();
    toml.push_str(&format!(
        "\n[[targets]]\nname = \"url\"\nagent = \"url\"\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://admin:hunter2-PWcanary@127.0.0.1:{closed}/v1?token=QUERYcanary\"\napi = \"openai-completions\"\napi_key_env = \"TARGET_KEY\"\n"
    ));
    let config = home.path().join("clawprobe.toml");
    std::fs::write(&config, toml).unwrap();

    let mut seen_messages = 0;
    for args in [
        vec!["--log.level", "debug", "check"],
        vec!["--log.level", "debug", "check", "--json"],
        vec!["--log.level", "debug", "probe", "--json"],
        vec!["--log.level", "debug", "probe", "--tier", "generation"],
    ] {
        let o = run(home.path(), &config, &args);
        for (what, text) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            let what = format!("{args:?} {what}");
            assert_no_key_head(&what, text);
            for secret in ["hunter2", "PWcanary", "QUERYcanary", "token="] {
                assert!(!text.contains(secret), "{what}: {secret} leaked:\n{text}");
            }
        }
        if args.contains(&"check") && args.contains(&"--json") {
            let doc: Value = serde_json::from_str(&o.stdout).unwrap();
            let urls: Vec<&str> = doc["targets"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|t| t["base_url"].as_str())
                .collect();
            assert!(
                urls.contains(&format!("http://127.0.0.1:{closed}/v1").as_str()),
                "the URL is shown without its secrets: {urls:?}"
            );
        }
        if args.contains(&"probe") && args.contains(&"--json") {
            let doc: Value = serde_json::from_str(&o.stdout).unwrap();
            for row in doc["routes"].as_array().unwrap() {
                let msg = row["message"].as_str().unwrap_or("");
                if row["agent"] == "url" {
                    assert_eq!(row["class"], "network", "{row}");
                    assert!(
                        msg.contains(&format!("127.0.0.1:{closed}")) || !msg.is_empty(),
                        "{row}"
                    );
                    continue;
                }
                assert_eq!(row["class"], "auth", "{row}");
                // The message got through, cut and redacted, not dropped.
                assert!(
                    msg.starts_with("aaaa") && msg.chars().count() <= 320,
                    "{row}"
                );
                seen_messages += 1;
            }
        }
    }
    assert_eq!(seen_messages, pads.len());
    // The key really went out, so it really came back in the bodies.
    assert!(fake.requests().iter().any(|r| r.dump().contains(KEY)));
}

// ---------------------------------------------------------------------------------------
// SQLite stores

const OLD_KEY: &str = "sk-abuse-OLD-rotated-away-0001";
const NEW_KEY: &str = "sk-abuse-NEW-rotated-in-wal-0002";

fn profile_store(key: &str) -> String {
    json!({"version": 1, "profiles": {"openai:default": {"type": "api_key", "provider": "openai", "key": key}}})
        .to_string()
}

/// An OpenClaw install whose main agent keeps its key in a WAL-mode SQLite store, cleanly
/// closed (so no `-wal` exists), with `openai/gpt-w` pointed at `fake`. Returns (state dir,
/// store path).
fn wal_install(root: &Path, fake: &FakeProvider) -> (std::path::PathBuf, std::path::PathBuf) {
    let state = root.join("oc");
    let agent = state.join("agents/main/agent");
    std::fs::create_dir_all(&agent).unwrap();
    std::fs::write(
        state.join("openclaw.json"),
        format!(
            r#"{{
  models: {{ providers: {{ openai: {{ baseUrl: "{}", api: "openai-completions" }} }} }},
  agents: {{ defaults: {{ model: {{ primary: "openai/gpt-w" }} }}, list: [{{ id: "main", default: true }}] }},
}}"#,
            fake.url("/v1")
        ),
    )
    .unwrap();
    let db = agent.join("openclaw-agent.sqlite");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode=WAL;
         CREATE TABLE auth_profile_store(store_key TEXT PRIMARY KEY, store_json TEXT NOT NULL, updated_at INTEGER NOT NULL);
         CREATE TABLE auth_profile_state(state_key TEXT PRIMARY KEY, state_json TEXT NOT NULL, updated_at INTEGER NOT NULL);",
    )
    .unwrap();
    c.execute(
        "INSERT INTO auth_profile_store VALUES('primary', ?1, 1)",
        [profile_store(OLD_KEY)],
    )
    .unwrap();
    drop(c);
    let wal = {
        let mut s = db.as_os_str().to_os_string();
        s.push("-wal");
        std::path::PathBuf::from(s)
    };
    assert!(
        !wal.exists(),
        "a clean close checkpoints and removes the WAL"
    );
    (state, db)
}

fn wal_fake() -> FakeProvider {
    let fake = FakeProvider::start();
    fake.route(
        "GET",
        "/v1/models/gpt-w",
        Reply::json(200, json!({"id": "gpt-w", "object": "model"})),
    )
    .require(
        "authorization",
        NEW_KEY,
        Reply::json(
            401,
            json!({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}),
        ),
    );
    fake
}

fn oc_toml(state: &Path, port: u16, extra: &str) -> String {
    format!(
        "[openclaw]\nenabled = true\nrequired = true\nstate_dir = \"{s}\"\nconfig_path = \"{s}/openclaw.json\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\nfirst_cycle_timeout_seconds = 1\nwatch_interval_seconds = 0.2\n\n[schedule]\nmetadata = \"*/1 * * * * *\"\nprobe_timeout_seconds = 2.0\nmin_key_spacing_seconds = 0.0\nrecheck_after_failure_seconds = 1.0\n\n[traffic]\nenabled = false\n{extra}",
        s = state.display()
    )
}

/// A key rotated by the gateway lands in a `-wal` that did not exist when clawprobe
/// started (a clean close had removed it) and stays there until a checkpoint: the new file
/// must trigger a reload. Also: the store is read with TMPDIR pointing at a regular file,
/// so any temp dir or temp copy would fail the load; none is made.
#[test]
fn a_wal_file_appearing_after_start_up_is_picked_up_without_temp_copies() {
    let home = tempfile::tempdir().unwrap();
    let fake = wal_fake();
    let (state, db) = wal_install(home.path(), &fake);
    let port = free_port();
    let config = home.path().join("clawprobe.toml");
    std::fs::write(&config, oc_toml(&state, port, "")).unwrap();
    let not_a_dir = home.path().join("tmp-is-a-file");
    std::fs::write(&not_a_dir, "").unwrap();
    let mut cmd = harness::clawprobe(home.path());
    cmd.env("TMPDIR", &not_a_dir)
        .arg("--config")
        .arg(&config)
        .arg("serve");
    let s = harness::Serve::start(cmd, port, home.path().join("serve.log"));
    let up = |m: &str| harness::sample(m, "clawprobe_agent_up{agent=\"main\"}");
    s.wait_metrics(
        "the old key to fail",
        std::time::Duration::from_secs(15),
        |m| up(m) == Some(0.0),
    );
    assert_eq!(
        harness::sample(
            &s.get("/metrics").body,
            "clawprobe_config_last_reload_successful"
        ),
        Some(1.0),
        "the store was read with TMPDIR unusable:\n{}",
        s.log_text()
    );
    // The gateway rotates the key; its connection stays open, so the change stays in the WAL.
    let gw = rusqlite::Connection::open(&db).unwrap();
    gw.execute_batch("PRAGMA wal_autocheckpoint=0;").unwrap();
    gw.execute(
        "UPDATE auth_profile_store SET store_json = ?1, updated_at = 2 WHERE store_key = 'primary'",
        [profile_store(NEW_KEY)],
    )
    .unwrap();
    s.wait_metrics(
        "the rotated key from the WAL",
        std::time::Duration::from_secs(15),
        |m| up(m) == Some(1.0),
    );
    assert!(fake.requests().iter().any(|r| r
        .header("authorization")
        .is_some_and(|h| h.contains(NEW_KEY))));
    let log = s.stop();
    assert!(log.contains("-wal changed"), "{log}");
    assert!(!log.contains(NEW_KEY) && !log.contains(OLD_KEY), "{log}");
    drop(gw);
}

// ---------------------------------------------------------------------------------------
// Floods

/// p50, p99 and max of `lat`, in milliseconds.
fn percentiles(mut lat: Vec<std::time::Duration>) -> (f64, f64, f64) {
    lat.sort();
    let at = |q: f64| {
        let i = ((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i].as_secs_f64() * 1000.0
    };
    (
        at(0.50),
        at(0.99),
        lat.last().unwrap().as_secs_f64() * 1000.0,
    )
}

/// Scrapes `/metrics` every `every` until `stop`, each scrape on a new connection (as the
/// red-team pass measured it, and as a scraper does after a broken connection: the
/// connection slots are what a flood takes), with `headers`; returns the latency of each
/// scrape (a failed or non-200 scrape counts as 10 s).
fn scraper(
    port: u16,
    headers: Vec<(String, String)>,
    every: std::time::Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<std::time::Duration>> {
    std::thread::spawn(move || {
        let mut lat = Vec::new();
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let t = std::time::Instant::now();
            let r = harness::request_with(port, "GET", "/metrics", &h).map(|(r, _)| r);
            let ok = r
                .as_ref()
                .is_ok_and(|r| r.status == 200 && r.body.contains("clawprobe_build_info"));
            if !ok {
                eprintln!(
                    "scrape failed after {:?}: {:?}",
                    t.elapsed(),
                    r.map(|r| r.status)
                );
            }
            lat.push(if ok {
                t.elapsed()
            } else {
                std::time::Duration::from_secs(10)
            });
            std::thread::sleep(every);
        }
        lat
    })
}

/// 300 concurrent `/probe` calls to a provider that never answers, for 8 s, while
/// Prometheus scrapes every 50 ms: the probes get their own small lane (the rest `429` with
/// `Retry-After` at once), and `/metrics` keeps answering quickly. Before: scrapes failed
/// for ~25 of 30 s.
#[test]
fn a_probe_flood_against_a_slow_provider_does_not_starve_metrics() {
    let home = tempfile::tempdir().unwrap();
    let fake = FakeProvider::start();
    fake.route("*", "/slow/v1/models/m", Reply::Hang).route(
        "*",
        "/slow/v1/chat/completions",
        Reply::Hang,
    );
    let port = free_port();
    let config = home.path().join("clawprobe.toml");
    std::fs::write(
        &config,
        format!(
            "[openclaw]\nenabled = false\n[server]\nlisten = \"127.0.0.1:{port}\"\nfirst_cycle_timeout_seconds = 1\n[schedule]\nprobe_timeout_seconds = 3.0\nmin_key_spacing_seconds = 0.0\n[traffic]\nenabled = false\n\n[[targets]]\nname = \"slow\"\nagent = \"main\"\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\napi = \"openai-completions\"\napi_key_env = \"TARGET_KEY\"\n",
            fake.url("/slow/v1")
        ),
    )
    .unwrap();
    let mut cmd = harness::clawprobe(home.path());
    cmd.env("TARGET_KEY", KEY)
        .arg("--config")
        .arg(&config)
        .arg("serve");
    let s = harness::Serve::start(cmd, port, home.path().join("serve.log"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prom = scraper(
        port,
        vec![],
        std::time::Duration::from_millis(50),
        stop.clone(),
    );
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(300));
    let flood: Vec<_> = (0..300)
        .map(|_| {
            let (stop, barrier) = (stop.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let (mut limited, mut answered, mut retry_after) = (0u32, 0u32, true);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match harness::request_with(port, "GET", "/probe?agent=main&ref=openai/m", &[])
                    {
                        Ok((r, h)) if r.status == 429 => {
                            limited += 1;
                            retry_after &= h.get("retry-after").is_some();
                            std::thread::sleep(std::time::Duration::from_millis(100));
                        }
                        Ok(_) => answered += 1,
                        Err(_) => {}
                    }
                }
                (limited, answered, retry_after)
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_secs(8));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut limited, mut answered) = (0, 0);
    for f in flood {
        let (l, a, ra) = f.join().unwrap();
        assert!(ra, "a 429 without Retry-After");
        limited += l;
        answered += a;
    }
    let lat = prom.join().unwrap();
    let n = lat.len();
    let (p50, p99, max) = percentiles(lat);
    eprintln!(
        "/probe flood: {limited} answered 429, {answered} probed; /metrics: {n} scrapes, p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms"
    );
    assert!(
        limited > 100 && answered > 0,
        "{limited} {answered}\n{}",
        s.log_text()
    );
    // The provider saw no more on-demand probes at once than the lane allows (plus the
    // scheduler's own metadata probes).
    assert!(
        fake.requests().len() <= answered as usize + 50,
        "{} requests reached the provider",
        fake.requests().len()
    );
    assert!(n > 50, "only {n} scrapes");
    // Target: p99 under 100 ms (BENCHMARKS-style figures above); the bound here is generous
    // for a shared CI machine, and still far below the seconds a starved scrape took.
    assert!(p99 < 1000.0, "p99 {p99:.1} ms");
    s.stop();
}

/// 300 concurrent clients sending wrong passwords (each a different one, the next 100 ms
/// after each answer) for 6 s from
/// 127.0.0.1 while Prometheus, from the same address, scrapes with its verified credentials
/// and a new client logs in for the first time from another address: neither waits on the
/// flood. Before: a legitimate scrape waited 9.6 s.
#[test]
fn a_wrong_password_flood_does_not_starve_prometheus() {
    let home = tempfile::tempdir().unwrap();
    // Cost 8: slow enough that 300 checks queued behind two slots would take minutes.
    let hash = bcrypt::hash("s3cret-scrape", 8).unwrap();
    std::fs::write(
        home.path().join("web.yml"),
        format!("basic_auth_users:\n  prom: '{hash}'\n  other: '{hash}'\n"),
    )
    .unwrap();
    let port = free_port();
    let config = home.path().join("clawprobe.toml");
    std::fs::write(
        &config,
        format!("[openclaw]\nenabled = false\n[server]\nlisten = \"127.0.0.1:{port}\"\n[traffic]\nenabled = false\n"),
    )
    .unwrap();
    let mut cmd = harness::clawprobe(home.path());
    cmd.arg("--config")
        .arg(&config)
        .arg("--web.config.file")
        .arg(home.path().join("web.yml"))
        .arg("serve");
    let mut s = harness::Serve::spawn(cmd, port, home.path().join("serve.log"));
    s.wait_listening();
    let prom_addr: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let auth = harness::basic_auth("prom", "s3cret-scrape");
    // Prometheus has scraped before the flood (its credentials are verified and cached).
    let r = harness::request_from(
        prom_addr,
        port,
        "GET",
        "/metrics",
        &[("Authorization", &auth)],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(301));
    let flood: Vec<_> = (0..300)
        .map(|i| {
            let (stop, barrier) = (stop.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let (mut n, mut ok) = (0u32, 0u32);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let a = harness::basic_auth("prom", &format!("guess-{i}-{n}"));
                    if let Ok((r, _)) =
                        harness::request_with(port, "GET", "/metrics", &[("Authorization", &a)])
                    {
                        assert_ne!(r.status, 200, "a wrong password was accepted");
                        ok += u32::from(r.status == 401 || r.status == 429);
                    }
                    n += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                (n, ok)
            })
        })
        .collect();
    barrier.wait();
    let prom = scraper(
        port,
        vec![("Authorization".into(), auth.clone())],
        std::time::Duration::from_millis(100),
        stop.clone(),
    );
    // A client that never logged in before, from its own address, during the flood.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let fresh = harness::basic_auth("other", "s3cret-scrape");
    let t = std::time::Instant::now();
    let first_login = loop {
        let r = harness::request_from(
            "127.0.0.3".parse().unwrap(),
            port,
            "GET",
            "/metrics",
            &[("Authorization", &fresh)],
        )
        .unwrap();
        if r.status == 200 || t.elapsed() > std::time::Duration::from_secs(20) {
            break (r.status, t.elapsed());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    std::thread::sleep(std::time::Duration::from_secs(4));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut tries, mut refused) = (0, 0);
    for f in flood {
        let (n, ok) = f.join().unwrap();
        tries += n;
        refused += ok;
    }
    let lat = prom.join().unwrap();
    let n = lat.len();
    let (p50, p99, max) = percentiles(lat);
    eprintln!(
        "wrong-password flood: {tries} attempts ({refused} refused with 401/429); Prometheus: {n} scrapes, p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms; first login of a new client: {} after {:?}",
        first_login.0, first_login.1
    );
    assert!(tries > 300, "{tries}");
    assert_eq!(first_login.0, 200, "the new client never got in");
    assert!(
        first_login.1 < std::time::Duration::from_secs(5),
        "{:?}",
        first_login.1
    );
    assert!(n > 20, "only {n} scrapes");
    assert!(
        max < 2000.0 && p99 < 1000.0,
        "p99 {p99:.1} ms, max {max:.1} ms"
    );
    let log = s.log_text();
    assert!(
        !log.contains("s3cret-scrape") && !log.contains("guess-"),
        "{log}"
    );
    drop(s);
}

// ---------------------------------------------------------------------------------------
// Budget across restarts

/// A daily credential cap that allows one generation probe: run, restart, run again. The
/// provider sees one generation request in all (before: one per run), and the books on
/// disk are private and hold no key or URL.
#[test]
fn budget_caps_hold_across_a_restart() {
    let home = tempfile::tempdir().unwrap();
    let fake = FakeProvider::start();
    fake.route("GET", "/v1/models/m", Reply::json(200, json!({"id": "m", "object": "model"})))
        .route(
            "POST",
            "/v1/chat/completions",
            Reply::json(
                200,
                json!({"choices": [{"message": {"role": "assistant", "content": ""}, "finish_reason": "length"}],
                       "usage": {"prompt_tokens": 8, "completion_tokens": 1}}),
            ),
        );
    let port = free_port();
    let config = home.path().join("clawprobe.toml");
    // 9 tokens a probe (chat style); 12 a day: one probe fits, a second does not.
    std::fs::write(
        &config,
        format!(
            "[openclaw]\nenabled = false\n[server]\nlisten = \"127.0.0.1:{port}\"\nfirst_cycle_timeout_seconds = 1\n[schedule]\ncredential_generation = \"*/1 * * * * *\"\nmodel_generation = \"\"\nmin_key_spacing_seconds = 0.0\nrecheck_after_failure_seconds = 1.0\n[budget]\ncredential_tokens_per_day = 12\n[traffic]\nenabled = false\n\n[[targets]]\nname = \"t\"\nagent = \"main\"\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\napi = \"openai-completions\"\napi_key_env = \"TARGET_KEY\"\n",
            fake.url("/v1")
        ),
    )
    .unwrap();
    let generation = || fake.requests_to("/v1/chat/completions").len();
    let mut logs = String::new();
    for run in 0..2 {
        let mut cmd = harness::clawprobe(home.path());
        cmd.env("TARGET_KEY", KEY)
            .arg("--config")
            .arg(&config)
            .arg("serve");
        let s = harness::Serve::start(cmd, port, home.path().join(format!("serve-{run}.log")));
        // Several credential ticks: one probe, then skipped for budget.
        s.wait_metrics(
            "credential ticks skipped for budget",
            std::time::Duration::from_secs(20),
            |m| {
                harness::sample(
                    m,
                    "clawprobe_probes_skipped_total{provider=\"openai\",reason=\"budget\"}",
                )
                .is_some_and(|v| v >= 2.0)
            },
        );
        logs.push_str(&s.stop());
    }
    assert_eq!(
        generation(),
        1,
        "generation requests across both runs:\n{logs}"
    );
    let books = home.path().join(".local/state/clawprobe/budget.json");
    let text = std::fs::read_to_string(&books).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&books).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        !text.contains(KEY) && !text.contains("127.0.0.1") && !text.contains("http"),
        "{text}"
    );
    assert!(logs.contains("budget books of today restored"), "{logs}");
    // A corrupt file: a fresh start with a warning, and the books written again.
    std::fs::write(&books, "{\"version\": 1, \"day\": ").unwrap();
    let mut cmd = harness::clawprobe(home.path());
    cmd.env("TARGET_KEY", KEY)
        .arg("--config")
        .arg(&config)
        .arg("serve");
    let s = harness::Serve::start(cmd, port, home.path().join("serve-2.log"));
    s.wait_metrics(
        "a generation probe after the fresh start",
        std::time::Duration::from_secs(20),
        |_| generation() == 2,
    );
    let log = s.stop();
    assert!(log.contains("WARN") && log.contains("corrupt"), "{log}");
    assert!(serde_json::from_str::<Value>(&std::fs::read_to_string(&books).unwrap()).is_ok());
}

/// The state file never goes into the OpenClaw directory: pointed there, serve refuses to
/// start and names the variable.
#[test]
fn budget_books_are_never_written_into_the_openclaw_directory() {
    let home = tempfile::tempdir().unwrap();
    let fake = FakeProvider::start();
    let (state, _) = wal_install(home.path(), &fake);
    let before = support::fs::snapshot(&state);
    let port = free_port();
    let config = home.path().join("clawprobe.toml");
    std::fs::write(&config, oc_toml(&state, port, "")).unwrap();
    let mut cmd = harness::clawprobe(home.path());
    cmd.env("CLAWPROBE_STATE_DIR", state.join("clawprobe"))
        .arg("--config")
        .arg(&config)
        .arg("serve");
    let o = harness::output(&mut cmd);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("CLAWPROBE_STATE_DIR") && o.stderr.contains("OpenClaw"),
        "{}",
        o.stderr
    );
    assert_eq!(
        before,
        support::fs::snapshot(&state),
        "the OpenClaw directory changed"
    );
}
