//! `clawprobe serve` following OpenClaw's log: the real binary, an OpenClaw install whose
//! `logging.file` names a dated file in a temp dir, and real CLI log lines (from
//! `tests/fixtures/openclaw-logs/cli-2026.9.6`, re-timed to now) appended while it runs.
//!
//! The child runs with a fixed-offset `TZ` that puts local midnight a few seconds after
//! start, so the move to the next day's file (OpenClaw names files by the local date) is
//! exercised for real. Providers point at 127.0.0.1:9 (nothing listens): the start-up
//! probes fail on loopback and nothing leaves the machine.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::fs;
use support::harness::{self, free_port};

const POLL: f64 = 0.2;

/// A `/metrics` body is shared by scrapes for up to 1 s after its render
/// (`metrics::MAX_AGE`): an update shows within one poll interval plus that.
const SCRAPE_CACHE: Duration = Duration::from_secs(1);

fn value(metrics: &str, series: &str) -> Option<f64> {
    harness::sample(metrics, series)
}

/// Seconds east of UTC that make local time `secs_before_midnight` short of midnight now.
fn offset_for_midnight_in(secs_before_midnight: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (86_400 - secs_before_midnight + 86_400 - now % 86_400) % 86_400
}

/// A POSIX TZ string for a fixed offset east of UTC (the sign is inverted in TZ).
fn tz(offset: u64) -> String {
    format!(
        "CPT-{:02}:{:02}:{:02}",
        offset / 3600,
        offset / 60 % 60,
        offset % 60
    )
}

/// The local date (`YYYY-MM-DD`) at `t` under `offset`.
fn local_date(t: SystemTime, offset: u64) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs() + offset;
    let d = chrono::DateTime::from_timestamp(secs as i64, 0).unwrap();
    d.format("%Y-%m-%d").to_string()
}

/// The real 2026.9.6 CLI log lines of the fixture.
fn cli_lines() -> Vec<serde_json::Value> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openclaw-logs/cli-2026.9.6");
    let log = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("openclaw-2")
        })
        .unwrap();
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The fixture's model_fallback_decision lines for `requested` provider, re-timed to end
/// now, a millisecond apart in their order.
fn turn(lines: &[serde_json::Value], requested: &str) -> String {
    let turn: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            l["1"]["event"] == "model_fallback_decision" && l["1"]["requestedProvider"] == requested
        })
        .collect();
    let start = chrono::Utc::now() - chrono::Duration::milliseconds(turn.len() as i64);
    let mut out = String::new();
    for (i, l) in turn.into_iter().enumerate() {
        let at = (start + chrono::Duration::milliseconds(i as i64 + 1))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
        let mut l = l.clone();
        l["time"] = at.clone().into();
        l["_meta"]["date"] = at.into();
        out.push_str(&serde_json::to_string(&l).unwrap());
        out.push('\n');
    }
    assert!(!out.is_empty(), "no {requested} turn in the fixture");
    out
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn install(dir: &Path, logs: &Path) -> PathBuf {
    install_at(dir, logs, "http://127.0.0.1:9")
}

/// The install of the log fixture's turns, its providers at `base` (`<base>/<id>/v1`).
fn install_at(dir: &Path, logs: &Path, base: &str) -> PathBuf {
    let state = dir.join("home/.openclaw");
    std::fs::create_dir_all(&state).unwrap();
    let provider = |id: &str, model: &str| {
        serde_json::json!({
            "baseUrl": format!("{base}/{id}/v1"),
            "api": "openai-completions",
            "apiKey": format!("sk-canary-traffic-{id}-9d2e"),
            "models": [{"id": model, "name": model}],
        })
    };
    let config = serde_json::json!({
        "models": {"providers": {
            "ratelimited": provider("ratelimited", "gpt-rl"),
            "broke": provider("broke", "gpt-broke"),
            "flaky": provider("flaky", "gpt-500"),
            "revoked": provider("revoked", "gpt-auth"),
            "healthy": provider("healthy", "gpt-ok"),
        }},
        "agents": {
            "defaults": {"model": {"primary": "ratelimited/gpt-rl",
                                   "fallbacks": ["broke/gpt-broke", "healthy/gpt-ok"]}},
            "entries": {
                "main": {},
                "doomed": {"model": {"primary": "revoked/gpt-auth", "fallbacks": ["broke/gpt-broke"]}},
                "coder": {"model": {"primary": "flaky/gpt-500", "fallbacks": ["healthy/gpt-ok"]}},
            },
        },
        // A dated name: OpenClaw 2026.6+ rolls it daily in its directory.
        "logging": {"file": logs.join("openclaw-YYYY-MM-DD.log")},
    });
    std::fs::write(
        state.join("openclaw.json"),
        serde_json::to_string_pretty(&config).unwrap(),
    )
    .unwrap();
    state
}

struct Serve(harness::Serve);

impl Serve {
    fn start(dir: &Path, state: &Path, tz: &str) -> Serve {
        Serve::start_with(
            dir,
            state,
            tz,
            "metadata = \"\"\ncredential_generation = \"\"\nmodel_generation = \"\"",
        )
    }

    fn start_with(dir: &Path, state: &Path, tz: &str, schedule: &str) -> Serve {
        let port = free_port();
        let config = dir.join("clawprobe.toml");
        std::fs::write(
            &config,
            format!(
                r#"[openclaw]
state_dir = "{}"
[server]
listen = "127.0.0.1:{port}"
first_cycle_timeout_seconds = 1
watch_interval_seconds = 0
[schedule]
{schedule}
min_key_spacing_seconds = 0.0
probe_timeout_seconds = 1.0
[traffic]
poll_interval_seconds = {POLL}
"#,
                state.display()
            ),
        )
        .unwrap();
        let mut cmd = harness::clawprobe(&dir.join("home"));
        cmd.arg("--config").arg(&config).arg("serve").env("TZ", tz);
        Serve(harness::Serve::start(cmd, port, dir.join("stderr.log")))
    }

    fn metrics(&self) -> String {
        self.0
            .try_request("GET", "/metrics")
            .map(|r| r.body)
            .unwrap_or_default()
    }

    /// Scrapes until `check` holds or `within` passes; returns the last body.
    fn wait_for(&self, within: Duration, check: impl Fn(&str) -> bool) -> (bool, String) {
        let deadline = Instant::now() + within;
        loop {
            let m = self.metrics();
            if check(&m) {
                return (true, m);
            }
            if Instant::now() >= deadline {
                return (false, m);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        self.0.log_text()
    }

    /// The access modes (`O_ACCMODE` of `flags` in /proc/<pid>/fdinfo) of every descriptor
    /// the child holds on a file under `dir`.
    fn access_modes_under(&self, dir: &Path) -> Vec<(PathBuf, u32)> {
        let pid = self.0.pid();
        let mut out = Vec::new();
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return out;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if !target.starts_with(dir) {
                continue;
            }
            let info = std::fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .unwrap();
            let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap();
            let flags = u32::from_str_radix(flags.trim(), 8).unwrap();
            out.push((target, flags & libc::O_ACCMODE as u32));
        }
        out
    }
}

#[test]
fn serve_follows_openclaws_log_across_midnight_read_only() {
    let lines = cli_lines();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let state = install(dir.path(), &logs);

    // Local midnight 12 s from now, in the child's time zone.
    let offset = offset_for_midnight_in(12);
    let start = SystemTime::now();
    let midnight = start + Duration::from_secs(12);
    let day1 = logs.join(format!("openclaw-{}.log", local_date(start, offset)));
    let day2 = logs.join(format!(
        "openclaw-{}.log",
        local_date(midnight + Duration::from_secs(1), offset)
    ));
    assert_ne!(day1, day2);
    // Traffic from before clawprobe started: not replayed.
    append(&day1, &turn(&lines, "flaky"));
    let openclaw_before = fs::snapshot(&state);

    let srv = Serve::start(dir.path(), &state, &tz(offset));
    let one_interval = Duration::from_secs_f64(POLL);
    let (ok, m) = srv.wait_for(Duration::from_secs(20), |m| {
        value(m, "clawprobe_traffic_log_following") == Some(1.0)
    });
    assert!(ok, "not following day 1\n{m}\n{}", srv.log());
    assert_eq!(
        value(&m, r#"clawprobe_traffic_fallback_engaged{agent="main"}"#),
        Some(0.0)
    );
    assert_eq!(
        value(&m, r#"clawprobe_traffic_fallback_engaged{agent="coder"}"#),
        Some(0.0),
        "old traffic replayed\n{m}"
    );
    assert_eq!(
        value(
            &m,
            r#"clawprobe_traffic_chain_exhausted_total{agent="doomed"}"#
        ),
        Some(0.0)
    );
    assert!(!m.contains("clawprobe_traffic_decisions_total{"), "{m}");
    assert!(
        SystemTime::now() < midnight - Duration::from_secs(3),
        "too slow to start"
    );

    // main: 429, broke skipped, healthy serves (the real CLI's lines, re-timed).
    append(&day1, &turn(&lines, "ratelimited"));
    let appended = Instant::now();
    let (ok, m) = srv.wait_for(Duration::from_secs(5), |m| {
        value(m, r#"clawprobe_traffic_fallback_engaged{agent="main"}"#) == Some(1.0)
    });
    let took = appended.elapsed();
    assert!(ok, "fallback engaged did not move\n{m}\n{}", srv.log());
    // Within one poll interval (plus the scrape cache and the scrape that observes it).
    assert!(
        took <= one_interval + SCRAPE_CACHE + Duration::from_millis(300),
        "{took:?}"
    );
    assert_eq!(
        value(
            &m,
            r#"clawprobe_traffic_decisions_total{agent="main",class="rate_limit",decision="candidate_failed",model="gpt-rl",provider="ratelimited"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        value(
            &m,
            r#"clawprobe_traffic_decisions_total{agent="main",class="billing",decision="skip_candidate",model="gpt-broke",provider="broke"}"#
        ),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        value(
            &m,
            r#"clawprobe_traffic_serving_model{agent="main",model="gpt-ok",provider="healthy",role="fallback"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        value(
            &m,
            r#"clawprobe_traffic_failures_total{class="rate_limit",model="gpt-rl",provider="ratelimited"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert!(value(&m, "clawprobe_traffic_last_event_timestamp_seconds").unwrap() > 1.7e9);

    // Past local midnight: OpenClaw's first record of the day creates the next file.
    let wait = midnight
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        + Duration::from_millis(500);
    std::thread::sleep(wait);
    assert!(!day2.exists());
    append(&day2, &turn(&lines, "revoked"));
    let appended = Instant::now();
    let (ok, m) = srv.wait_for(Duration::from_secs(5), |m| {
        value(
            m,
            r#"clawprobe_traffic_chain_exhausted_total{agent="doomed"}"#,
        ) == Some(1.0)
    });
    let took = appended.elapsed();
    assert!(
        ok,
        "the next day's file was not followed\n{m}\n{}",
        srv.log()
    );
    assert!(
        took <= one_interval + SCRAPE_CACHE + Duration::from_millis(300),
        "{took:?}"
    );
    assert_eq!(
        value(
            &m,
            r#"clawprobe_traffic_failures_total{class="auth",model="gpt-auth",provider="revoked"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert!(
        srv.log().contains(&day2.display().to_string()),
        "{}",
        srv.log()
    );

    // Read-only: every descriptor on the logs is O_RDONLY, and nothing changed.
    let modes = srv.access_modes_under(&logs);
    assert!(!modes.is_empty(), "no log file open");
    for (path, mode) in &modes {
        assert_eq!(
            *mode,
            libc::O_RDONLY as u32,
            "{} opened with mode {mode}",
            path.display()
        );
    }
    let logs_before = fs::snapshot(&logs);
    std::thread::sleep(one_interval * 5);
    drop(srv);
    assert_eq!(fs::snapshot(&logs), logs_before, "log files changed");
    assert_eq!(
        fs::snapshot(&state),
        openclaw_before,
        "OpenClaw dir changed"
    );
}

/// A fake provider on which every route of the fixture install works.
fn healthy_provider() -> support::fake_provider::FakeProvider {
    use support::fake_provider::{FakeProvider, Reply};
    let f = FakeProvider::start();
    for (id, model) in [
        ("ratelimited", "gpt-rl"),
        ("broke", "gpt-broke"),
        ("flaky", "gpt-500"),
        ("revoked", "gpt-auth"),
        ("healthy", "gpt-ok"),
    ] {
        // A custom OpenAI-compatible provider is checked against its model list.
        f.route(
            "GET",
            &format!("/{id}/v1/models"),
            Reply::json(
                200,
                serde_json::json!({"object": "list", "data": [{"id": model, "object": "model"}]}),
            ),
        );
        f.route(
            "GET",
            &format!("/{id}/v1/models/{model}"),
            Reply::json(200, serde_json::json!({"id": model, "object": "model"})),
        );
        f.route(
            "POST",
            &format!("/{id}/v1/chat/completions"),
            Reply::json(
                200,
                serde_json::json!({"id": "c", "object": "chat.completion", "model": model, "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "length"}], "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9}}),
            ),
        );
    }
    f
}

/// A failure seen on a real request is a generation-grade verdict with source `traffic`,
/// which the zero-token metadata successes that follow cannot clear; the fallback that
/// served it is up from the same evidence.
#[test]
fn a_real_request_failure_turns_the_route_with_source_traffic() {
    let lines = cli_lines();
    let provider = healthy_provider();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let state = install_at(dir.path(), &logs, &provider.url(""));
    let today = logs.join(format!("openclaw-{}.log", local_date(SystemTime::now(), 0)));
    // The gateway has logged before: the file exists, clawprobe follows it from its end.
    append(&today, "");
    let srv = Serve::start_with(
        dir.path(),
        &state,
        "UTC0",
        "metadata = \"*/2 * * * * *\"\ncredential_generation = \"\"\nmodel_generation = \"\"",
    );
    let primary = r#"agent="main",model="gpt-rl",provider="ratelimited",role="primary""#;
    let (ok, m) = srv.wait_for(Duration::from_secs(20), |m| {
        value(
            m,
            &format!("clawprobe_model_up{{{primary},position=\"0\"}}"),
        ) == Some(1.0)
            && value(m, "clawprobe_traffic_log_following") == Some(1.0)
    });
    assert!(ok, "no first verdict\n{m}\n{}", srv.log());

    // main's real request: its primary answered 429, the healthy fallback served.
    append(&today, &turn(&lines, "ratelimited"));
    let (ok, m) = srv.wait_for(Duration::from_secs(5), |m| {
        value(
            m,
            &format!("clawprobe_model_status{{{primary},class=\"rate_limit\"}}"),
        ) == Some(1.0)
    });
    assert!(
        ok,
        "the real request's failure did not show\n{m}\n{}",
        srv.log()
    );
    assert_eq!(
        value(
            &m,
            &format!("clawprobe_model_verdict_source{{{primary},source=\"traffic\"}}")
        ),
        Some(1.0),
        "{m}"
    );
    // Metadata probes keep succeeding every 2 s; they cannot clear a rate limit.
    std::thread::sleep(Duration::from_secs(5));
    let m = srv.metrics();
    assert_eq!(
        value(
            &m,
            &format!("clawprobe_model_up{{{primary},position=\"0\"}}")
        ),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        value(
            &m,
            r#"clawprobe_traffic_serving_model{agent="main",model="gpt-ok",provider="healthy",role="fallback"}"#
        ),
        Some(1.0),
        "{m}"
    );
}

/// A route whose real requests succeed costs no synthetic generation probe: after the
/// log shows the healthy fallback serving, the credential cycles probe every other key but
/// not that one, and count the skip.
#[test]
fn a_real_request_success_saves_the_routes_generation_probes() {
    let lines = cli_lines();
    let provider = healthy_provider();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let state = install_at(dir.path(), &logs, &provider.url(""));
    let today = logs.join(format!("openclaw-{}.log", local_date(SystemTime::now(), 0)));
    // The gateway has logged before: the file exists, clawprobe follows it from its end.
    append(&today, "");
    let srv = Serve::start_with(
        dir.path(),
        &state,
        "UTC0",
        "metadata = \"\"\ncredential_generation = \"*/3 * * * * *\"\nmodel_generation = \"\"",
    );
    let (ok, m) = srv.wait_for(Duration::from_secs(20), |m| {
        value(m, "clawprobe_traffic_log_following") == Some(1.0)
    });
    assert!(ok, "not following\n{m}\n{}", srv.log());
    // Let the start-up credential probes finish before the real traffic arrives; then
    // main's requests keep being served by the healthy fallback (a busy route: a success
    // every second, fresher than any cycle's interval of 3 s).
    std::thread::sleep(Duration::from_secs(2));
    append(&today, &turn(&lines, "ratelimited"));
    std::thread::sleep(Duration::from_secs(1));
    let from = provider.requests().len();
    for _ in 0..9 {
        append(&today, &turn(&lines, "ratelimited"));
        std::thread::sleep(Duration::from_secs(1));
    }
    let posts_to = |id: &str| {
        provider.requests()[from..]
            .iter()
            .filter(|r| r.method == "POST" && r.path.starts_with(&format!("/{id}/")))
            .count()
    };
    assert_eq!(
        posts_to("healthy"),
        0,
        "{:?}\n{}",
        provider.requests()[from..]
            .iter()
            .map(|r| (&r.method, &r.path))
            .collect::<Vec<_>>(),
        srv.log()
    );
    assert!(posts_to("revoked") >= 2, "the other keys are still probed");
    let m = srv.metrics();
    assert!(
        value(
            &m,
            r#"clawprobe_probes_skipped_total{provider="healthy",reason="traffic_fresh"}"#
        )
        .is_some_and(|n| n >= 2.0),
        "{m}"
    );
}
