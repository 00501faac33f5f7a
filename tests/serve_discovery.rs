//! `serve` never goes dark over OpenClaw's files (issues 14 and 17): a broken, missing or
//! blocking install is served through, reported on `/metrics`
//! (`clawprobe_openclaw_install_status`, `clawprobe_plan_*`), the landing page and the log,
//! and picked up without a restart once fixed; a reload never holds up the HTTP server or
//! SIGTERM. The real binary against the fake provider on loopback.

mod support;

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::fake_provider::{FakeProvider, Reply};
use support::harness::{clawprobe, free_port, request_raw, sample, Serve};

/// An OpenAI-style provider that knows `gpt-d`.
fn provider() -> FakeProvider {
    let f = FakeProvider::start();
    f.route(
        "GET",
        "/v1/models/gpt-d",
        Reply::json(200, json!({"id": "gpt-d", "object": "model"})),
    );
    f.route(
        "GET",
        "/v1/models",
        Reply::json(
            200,
            json!({"object": "list", "data": [{"id": "gpt-d", "object": "model"}]}),
        ),
    );
    f
}

/// A working `openclaw.json`: agent `main` on openai/gpt-d at `fake`.
fn good_config(fake: &FakeProvider) -> String {
    format!(
        r#"{{
  models: {{ providers: {{ openai: {{ baseUrl: "{}", api: "openai-completions", apiKey: "sk-discovery-test-0000000000" }} }} }},
  agents: {{ defaults: {{ model: {{ primary: "openai/gpt-d" }} }}, list: [{{ id: "main", default: true }}] }},
}}
"#,
        fake.url("/v1")
    )
}

const BROKEN: &str = "{ agents: { defaults: { model: \"openai/gpt-d\" }, \n";

struct Setup {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    state: PathBuf,
    toml: PathBuf,
    port: u16,
}

impl Setup {
    /// A state dir (nothing in it yet) and a clawprobe TOML pointing at it; `extra` is
    /// appended to `[server]`.
    fn new(extra: &str) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let state = tmp.path().join("oc");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&state).unwrap();
        let port = free_port();
        let toml = tmp.path().join("clawprobe.toml");
        std::fs::write(
            &toml,
            format!(
                "[openclaw]\nstate_dir = \"{s}\"\nconfig_path = \"{s}/openclaw.json\"\n\
                 [server]\nlisten = \"127.0.0.1:{port}\"\nwatch_interval_seconds = 0.2\n{extra}\n\
                 [schedule]\nmetadata = \"*/2 * * * * *\"\ncredential_generation = \"\"\nmodel_generation = \"\"\n\
                 spread_fraction = 0.0\nmin_key_spacing_seconds = 0.0\nprobe_timeout_seconds = 5.0\n\
                 [traffic]\nenabled = false\n",
                s = state.display()
            ),
        )
        .unwrap();
        Setup {
            _tmp: tmp,
            home,
            state,
            toml,
            port,
        }
    }

    fn oc(&self) -> PathBuf {
        self.state.join("openclaw.json")
    }

    fn command(&self) -> Command {
        let mut c = clawprobe(&self.home);
        c.arg("--config").arg(&self.toml).arg("serve");
        c
    }

    fn serve(&self) -> Serve {
        Serve::start(self.command(), self.port, self.home.join("serve.log"))
    }
}

fn install_status(m: &str) -> Vec<(String, f64)> {
    ["ok", "missing", "unreadable", "disabled"]
        .iter()
        .filter_map(|s| {
            sample(
                m,
                &format!("clawprobe_openclaw_install_status{{status=\"{s}\"}}"),
            )
            .map(|v| (s.to_string(), v))
        })
        .collect()
}

fn status_is(m: &str, want: &str) -> bool {
    let s = install_status(m);
    s.len() == 4 && s.iter().all(|(k, v)| (*v == 1.0) == (k == want))
}

fn model_up(m: &str) -> Option<f64> {
    sample(
        m,
        "clawprobe_model_up{agent=\"main\",model=\"gpt-d\",position=\"0\",provider=\"openai\",role=\"primary\"}",
    )
}

/// The alert rules' own expressions (from alerts/clawprobe.rules.yml), evaluated by
/// `promtool test rules` over series copied from a real scrape, as Prometheus would see
/// them with `job="clawprobe"`: ClawprobeOpenClawInstallUnreadable's is true, NoTargets'
/// is not (one root cause, one alert).
fn promtool_says_install_unreadable(scrape: &str) {
    if Command::new("promtool").arg("--version").output().is_err() {
        eprintln!("promtool not found: the rule check of this test is skipped (scripts/test-all.sh installs it)");
        return;
    }
    let rules_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/clawprobe.rules.yml");
    let rules: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&rules_path).unwrap()).unwrap();
    let expr = |alert: &str| -> String {
        rules["groups"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_sequence().unwrap())
            .find(|r| r["alert"].as_str() == Some(alert))
            .and_then(|r| r["expr"].as_str())
            .unwrap_or_else(|| panic!("no alert {alert} in {}", rules_path.display()))
            .trim()
            .replace('\n', " ")
    };
    let mut series = String::new();
    for line in scrape.lines().filter(|l| {
        l.starts_with("clawprobe_openclaw_install_status{")
            || l.starts_with("clawprobe_plan_targets ")
            || l.starts_with("clawprobe_plan_agents ")
    }) {
        let (name_labels, value) = line.rsplit_once(' ').unwrap();
        let with_target = match name_labels.split_once('{') {
            Some((n, rest)) => format!("{n}{{job=\"clawprobe\",instance=\"gw:9847\",{rest}"),
            None => format!("{name_labels}{{job=\"clawprobe\",instance=\"gw:9847\"}}"),
        };
        series.push_str(&format!(
            "      - series: '{with_target}'\n        values: '{value}x30'\n"
        ));
    }
    let test = format!(
        "rule_files:\n  - {rules}\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{series}    promql_expr_test:\n      - expr: 'count by (status) ({unreadable})'\n        eval_time: 20m\n        exp_samples:\n          - labels: '{{status=\"unreadable\"}}'\n            value: 1\n      - expr: 'count({no_targets}) or vector(0)'\n        eval_time: 20m\n        exp_samples:\n          - labels: '{{}}'\n            value: 0\n",
        rules = rules_path.display(),
        unreadable = expr("ClawprobeOpenClawInstallUnreadable").replace('\'', "''"),
        no_targets = expr("ClawprobeNoTargets").replace('\'', "''"),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scrape.test.yml");
    std::fs::write(&file, &test).unwrap();
    let out = Command::new("promtool")
        .arg("test")
        .arg("rules")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool test rules failed:\n{}\n{}\n{test}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 14, "How it is checked": `serve` with a broken `openclaw.json` keeps serving,
/// `/metrics` says the install is unreadable (and the alert's expression is true on it),
/// and fixing the file recovers without a restart.
#[test]
fn broken_openclaw_json_at_start_is_served_through_and_recovers() {
    let fake = provider();
    let s = Setup::new("");
    std::fs::write(s.oc(), BROKEN).unwrap();
    let mut srv = s.serve();
    let pid = srv.pid();
    let m = srv.get("/metrics").body;
    assert!(status_is(&m, "unreadable"), "{m}");
    assert_eq!(sample(&m, "clawprobe_plan_targets"), Some(0.0), "{m}");
    assert_eq!(sample(&m, "clawprobe_plan_agents"), Some(0.0), "{m}");
    assert_eq!(
        sample(&m, "clawprobe_config_last_reload_successful"),
        Some(0.0),
        "a load that failed, even the first"
    );
    promtool_says_install_unreadable(&m);
    let oc = s.oc().display().to_string();
    let page = srv.get("/").body;
    assert!(page.contains("unreadable") && page.contains(&oc), "{page}");
    assert!(page.contains(clawprobe::build_info::VERSION), "{page}");
    let log = srv.log_text();
    assert!(log.contains(&oc) && log.contains("level=ERROR"), "{log}");
    assert_eq!(srv.get("/healthz").status, 200);

    // Fixed: picked up by the watcher, probed, no restart.
    std::fs::write(s.oc(), good_config(&fake)).unwrap();
    let m = srv.wait_metrics("recovery", Duration::from_secs(20), |m| {
        status_is(m, "ok") && model_up(m) == Some(1.0)
    });
    assert_eq!(sample(&m, "clawprobe_plan_targets"), Some(1.0));
    assert_eq!(sample(&m, "clawprobe_plan_agents"), Some(1.0));
    assert_eq!(
        sample(&m, "clawprobe_config_last_reload_successful"),
        Some(1.0)
    );
    assert!(srv.alive());
    assert_eq!(srv.pid(), pid);
    let page = srv.get("/").body;
    assert!(!page.contains("reload failed"), "{page}");
    assert!(
        page.contains("OpenClaw install: <span class=\"ok\">ok</span>"),
        "{page}"
    );
    srv.stop();
}

/// Issue 17, defect 2: the config moved away and back. Once a plan was built from the
/// install, its absence is a failed reload (the plan and its statuses stay, the gauge is
/// 0), the path is watched while absent, and its return is noticed. A directory, a FIFO
/// or a symbolic link loop in its place is an error naming it.
#[test]
fn config_moved_away_and_back_keeps_the_plan_and_is_noticed() {
    let fake = provider();
    let s = Setup::new("");
    std::fs::write(s.oc(), good_config(&fake)).unwrap();
    let srv = s.serve();
    srv.wait_metrics("the first probe", Duration::from_secs(20), |m| {
        model_up(m) == Some(1.0)
    });
    let aside = s.state.join("openclaw.json.aside");
    std::fs::rename(s.oc(), &aside).unwrap();
    let m = srv.wait_metrics("the failed reload", Duration::from_secs(10), |m| {
        sample(m, "clawprobe_config_last_reload_successful") == Some(0.0)
    });
    assert!(status_is(&m, "missing"), "{m}");
    assert_eq!(model_up(&m), Some(1.0), "series and statuses stay: {m}");
    assert_eq!(sample(&m, "clawprobe_plan_targets"), Some(1.0));
    let log = srv.log_text();
    assert!(
        log.contains("keeping the last good plan") && log.contains("gone"),
        "{log}"
    );

    std::fs::rename(&aside, s.oc()).unwrap();
    srv.wait_metrics("the file's return", Duration::from_secs(10), |m| {
        status_is(m, "ok") && sample(m, "clawprobe_config_last_reload_successful") == Some(1.0)
    });

    // Things that exist but are not a readable file: each a failed reload naming it.
    let oc = s.oc();
    let fifo = |p: &Path| {
        let st = Command::new("mkfifo").arg(p).status().unwrap();
        assert!(st.success());
    };
    type Make<'a> = &'a dyn Fn(&Path);
    let makers: [(&str, Make); 3] = [
        ("directory", &|p| std::fs::create_dir(p).unwrap()),
        ("FIFO", &fifo),
        ("symbolic link loop", &|p| {
            std::os::unix::fs::symlink(p, p).unwrap()
        }),
    ];
    for (what, make) in makers {
        let good = std::fs::read_to_string(&oc).unwrap();
        std::fs::remove_file(&oc).unwrap();
        make(&oc);
        let r = srv.post("/-/reload");
        assert_eq!(r.status, 500, "{what}: {}", r.body);
        assert!(
            r.body.contains(&oc.display().to_string()) && r.body.contains(what),
            "{what}: {}",
            r.body
        );
        let m = srv.get("/metrics").body;
        assert!(status_is(&m, "unreadable"), "{what}: {m}");
        assert_eq!(model_up(&m), Some(1.0), "{what}: the plan stays");
        let _ = std::fs::remove_dir(&oc);
        let _ = std::fs::remove_file(&oc);
        std::fs::write(&oc, good).unwrap();
        let r = srv.post("/-/reload");
        assert_eq!(r.status, 200, "{what}: {}", r.body);
    }
    srv.stop();
}

/// Issue 17, defect 3: a FIFO at `<state dir>/.env` used to block whoever read it. It is
/// now refused at once (never opened blocking): `/healthz` answers within 1 s, the load
/// fails naming the file (long before `reload_timeout_seconds`), a reload meets the same
/// FIFO with a quick 500, and SIGTERM exits within 2 s.
#[test]
fn a_fifo_env_never_blocks_the_server_or_sigterm() {
    let fake = provider();
    let s = Setup::new("reload_timeout_seconds = 30");
    std::fs::write(s.oc(), good_config(&fake)).unwrap();
    let st = Command::new("mkfifo")
        .arg(s.state.join(".env"))
        .status()
        .unwrap();
    assert!(st.success());
    let started = Instant::now();
    let mut srv = Serve::spawn(s.command(), s.port, s.home.join("serve.log"));
    let healthz = loop {
        if let Some(r) = srv.try_request("GET", "/healthz") {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "/healthz did not answer within 1 s:\n{}",
            srv.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(healthz.status, 200);
    println!("/healthz answered {:?} after spawn", started.elapsed());
    // The load failed at once (the deadline is 30 s), counted as failed; still serving.
    let m = srv.wait_metrics("the failed load", Duration::from_secs(5), |m| {
        status_is(m, "unreadable")
    });
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        sample(&m, "clawprobe_config_last_reload_successful"),
        Some(0.0)
    );
    let page = srv.get("/").body;
    assert!(page.contains(".env") && page.contains("FIFO"), "{page}");
    // A reload meets the same FIFO: a quick 500, not a hang.
    let t = Instant::now();
    let r = srv.post("/-/reload");
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(srv.get("/healthz").status, 200);
        assert!(t.elapsed() < Duration::from_secs(1));
    }
    let t = Instant::now();
    srv.signal("TERM");
    let st = srv.wait_exit(Duration::from_secs(2));
    let took = t.elapsed();
    let st = st.unwrap_or_else(|| panic!("no exit 2 s after SIGTERM:\n{}", srv.log_text()));
    assert!(st.success(), "{st:?}\n{}", srv.log_text());
    println!("exited {took:?} after SIGTERM");
}

/// A reload that blocks (here: clawprobe's own config replaced by a FIFO nobody writes,
/// the way a stalled network file system blocks) is abandoned at `reload_timeout_seconds`
/// and counted as failed; the plan and its series stay, `/healthz` never waits, and
/// SIGTERM exits within 2 s with the blocked thread still there.
#[test]
fn a_reload_that_blocks_is_abandoned_and_sigterm_still_exits() {
    let fake = provider();
    let s = Setup::new("reload_timeout_seconds = 1");
    std::fs::write(s.oc(), good_config(&fake)).unwrap();
    let mut srv = s.serve();
    srv.wait_metrics("the first plan", Duration::from_secs(10), |m| {
        model_up(m).is_some()
    });
    std::fs::rename(&s.toml, s.toml.with_extension("bak")).unwrap();
    let st = Command::new("mkfifo").arg(&s.toml).status().unwrap();
    assert!(st.success());
    let t = Instant::now();
    let r = srv.post("/-/reload");
    let took = t.elapsed();
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "answered after {took:?}: {}",
        r.body
    );
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(srv.get("/healthz").status, 200);
        assert!(t.elapsed() < Duration::from_secs(1));
    }
    let m = srv.get("/metrics").body;
    assert_eq!(
        sample(&m, "clawprobe_config_last_reload_successful"),
        Some(0.0)
    );
    assert!(model_up(&m).is_some(), "the last good plan is kept:\n{m}");
    let page = srv.get("/").body;
    assert!(page.contains("did not finish"), "{page}");
    let t = Instant::now();
    srv.signal("TERM");
    let st = srv
        .wait_exit(Duration::from_secs(2))
        .unwrap_or_else(|| panic!("no exit 2 s after SIGTERM:\n{}", srv.log_text()));
    assert!(st.success());
    assert!(t.elapsed() < Duration::from_secs(2));
}

/// clawprobe's own config emptied (a rewrite in place caught half-way) and a reload: the
/// reload fails, the config and plan in force stay (budget caps included); the finished
/// file is taken at the next reload.
#[test]
fn an_emptied_clawprobe_config_on_reload_keeps_the_last_good() {
    let fake = provider();
    let s = Setup::new("");
    std::fs::write(s.oc(), good_config(&fake)).unwrap();
    let good = std::fs::read_to_string(&s.toml).unwrap();
    let with_cap = format!("{good}[budget]\nglobal_requests_per_day = 7\n");
    std::fs::write(&s.toml, &with_cap).unwrap();
    let srv = s.serve();
    let m = srv.wait_metrics("the first plan", Duration::from_secs(10), |m| {
        model_up(m).is_some()
    });
    let cap = |m: &str| {
        m.lines()
            .find(|l| {
                l.starts_with("clawprobe_budget_remaining{")
                    && l.contains("provider=\"_global\"")
                    && l.contains("unit=\"requests\"")
            })
            .map(str::to_string)
    };
    assert!(cap(&m).is_some(), "{m}");
    std::fs::write(&s.toml, "").unwrap();
    let r = srv.post("/-/reload");
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.body.contains("is empty"), "{}", r.body);
    let m = srv.get("/metrics").body;
    assert_eq!(
        sample(&m, "clawprobe_config_last_reload_successful"),
        Some(0.0)
    );
    assert!(model_up(&m).is_some(), "the plan stays:\n{m}");
    let v: f64 = cap(&m)
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        v <= 7.0,
        "the cap of 7 requests a day is still in force: {v}"
    );
    std::fs::write(&s.toml, &with_cap).unwrap();
    let r = srv.post("/-/reload");
    assert_eq!(r.status, 200, "{}", r.body);
}

/// gzip on `/metrics` when asked for, the same exposition; `Vary` either way.
#[test]
fn metrics_gzip() {
    use std::io::Read;
    let fake = provider();
    let s = Setup::new("");
    std::fs::write(s.oc(), good_config(&fake)).unwrap();
    let srv = s.serve();
    srv.wait_metrics("the first probe", Duration::from_secs(20), |m| {
        model_up(m) == Some(1.0)
    });
    let plain = request_raw(s.port, "GET", "/metrics", &[]).unwrap();
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    // As Prometheus asks.
    let gz = request_raw(s.port, "GET", "/metrics", &[("Accept-Encoding", "gzip")]).unwrap();
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    assert_eq!(&gz.body[..2], &[0x1f, 0x8b], "a gzip stream");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        gz.body.len() * 3 < text.len(),
        "{} -> {}",
        text.len(),
        gz.body.len()
    );
    assert_eq!(model_up(&text), Some(1.0), "{text}");
    assert!(
        text.contains("# TYPE process_cpu_seconds_total counter"),
        "{text}"
    );
    let refused = request_raw(
        s.port,
        "GET",
        "/metrics",
        &[("Accept-Encoding", "gzip;q=0, identity")],
    )
    .unwrap();
    assert_eq!(refused.header("content-encoding"), None);
    assert!(String::from_utf8(refused.body)
        .unwrap()
        .contains("clawprobe_model_up"));
}
