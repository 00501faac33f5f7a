//! `clawprobe check` end to end: the real binary against hand-written OpenClaw installs
//! (tests/fixtures/openclaw/handwritten-*). The child gets a clean environment with HOME in
//! a temp dir, so the developer's real home and keys are never read.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use support::fs::snapshot;
use support::harness::{clawprobe, output, Output as Out};

const CANARY: &str = "sk-canary-DISCOVERY-7f3a";
/// Fake keys stored in the fixtures themselves.
const FIXTURE_CANARIES: &[&str] = &[
    "canary-DOTENV-9c1e",
    "canary-LEGACY-4b2d",
    "canary-LEGACY-EXPIRED",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openclaw")
        .join(name)
}

/// Runs `clawprobe --config <toml> check [args]` with only `vars` (plus HOME and PATH) set.
fn run(toml: &str, args: &[&str], vars: &[(&str, &str)]) -> Out {
    let home = tempfile::tempdir().unwrap();
    run_in_home(home.path(), toml, args, vars)
}

fn run_in_home(home: &Path, toml: &str, args: &[&str], vars: &[(&str, &str)]) -> Out {
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("clawprobe.toml");
    std::fs::write(&cfg, toml).unwrap();
    let mut cmd = clawprobe(home);
    cmd.arg("--config").arg(&cfg).arg("check").args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let o = output(&mut cmd);
    assert!(o.code >= 0, "killed by a signal: {o:?}");
    for secret in FIXTURE_CANARIES.iter().chain([&CANARY]) {
        assert!(
            !o.stdout.contains(secret),
            "{secret} leaked to stdout:\n{}",
            o.stdout
        );
        assert!(
            !o.stderr.contains(secret),
            "{secret} leaked to stderr:\n{}",
            o.stderr
        );
    }
    o
}

fn entries_vars(dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("OPENCLAW_STATE_DIR", dir.display().to_string()),
        ("OPENAI_API_KEY", CANARY.to_string()),
    ]
}

fn as_refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn entries_era_table_shows_chains_and_findings() {
    let dir = fixture("handwritten-entries");
    let before = snapshot(&dir);
    let vars = entries_vars(&dir);
    let o = run("[openclaw]\nrequired = true\n", &[], &as_refs(&vars));
    assert_eq!(o.code, 1, "findings exist\n{}\n{}", o.stdout, o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(
        lines[0].starts_with("AGENT")
            && lines[0].contains("POSITION")
            && lines[0].contains("FINDING")
    );
    let row = |agent: &str, pos: &str| -> String {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{agent} ")) && l.contains(&format!(" {pos} ")))
            .unwrap_or_else(|| panic!("no row {agent} {pos}:\n{}", o.stdout))
            .to_string()
    };
    let r = row("research", "fallback 1");
    assert!(r.contains("moonshotai/kimi-k2"), "{r}");
    assert!(r.contains("unresolved_ref/unknown_provider"), "{r}");
    assert!(
        r.contains("did you mean `openrouter/moonshotai/kimi-k2`"),
        "{r}"
    );
    let r = row("research", "fallback 2");
    assert!(
        r.contains("amazon-bedrock") && r.contains("skipped/unsupported_api"),
        "{r}"
    );
    let r = row("local", "primary");
    assert!(r.contains("tiny") && r.contains("ollama"), "{r}");
    assert!(
        r.trim_end().ends_with('-'),
        "local route has no finding: {r}"
    );
    let r = row("main", "fallback 2");
    assert!(
        r.contains("openrouter/moonshotai/kimi-k2") && r.contains("openrouter"),
        "{r}"
    );
    assert!(
        !o.stdout.contains("main      fallback 3"),
        "main has exactly 2 fallbacks"
    );
    assert!(o.stdout.contains("5 agent(s), 9 route(s)"), "{}", o.stdout);
    assert_eq!(snapshot(&dir), before, "fixture changed");
}

#[test]
fn entries_era_json_structure() {
    let dir = fixture("handwritten-entries");
    let before = snapshot(&dir);
    let vars = entries_vars(&dir);
    let o = run("", &["--json"], &as_refs(&vars));
    assert_eq!(o.code, 1, "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).expect("valid JSON");
    let agents = v["agents"].as_array().unwrap();
    let names: Vec<&str> = agents
        .iter()
        .map(|a| a["agent"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["main", "research", "local", "quick", "bare"]);
    let chain = |i: usize| agents[i]["chain"].as_array().unwrap().clone();
    let main = chain(0);
    assert_eq!(main.len(), 3);
    assert_eq!(
        main.iter()
            .map(|e| e["role"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["primary", "fallback", "fallback"]
    );
    assert_eq!(main[0]["provider"], "anthropic");
    assert_eq!(main[0]["api"], "anthropic-messages");
    assert_eq!(main[2]["provider"], "openrouter");
    assert_eq!(main[2]["model"], "moonshotai/kimi-k2");
    let research = chain(1);
    assert_eq!(research[0]["ref"], "sonnet");
    assert_eq!(research[0]["model"], "claude-sonnet-4-5");
    assert_eq!(research[1]["finding"]["class"], "unresolved_ref");
    assert_eq!(research[1]["finding"]["reason"], "unknown_provider");
    assert_eq!(research[1]["target"], Value::Null);
    assert_eq!(research[2]["finding"]["class"], "skipped");
    let local = chain(2);
    assert_eq!(local.len(), 1);
    let tid = local[0]["target"]
        .as_u64()
        .expect("local route has a target") as usize;
    let t = &v["targets"][tid];
    assert_eq!(t["provider"], "local");
    assert_eq!(t["model"], "llama3.2:1b");
    assert_eq!(
        t["base_url"], "http://127.0.0.1:11434",
        "from ${{LOCAL_OLLAMA_URL}} in env.vars"
    );
    assert_eq!(t["api"], "ollama");
    assert_eq!(t["credential"], Value::Null);
    assert_eq!(local[0]["finding"], Value::Null);
    // quick: fallbacks disabled by an empty list.
    assert_eq!(chain(3).len(), 1);
    // bare: resolves to the provider listing the model; shares local's target.
    let bare = chain(4);
    assert_eq!(bare[0]["provider"], "local");
    assert_eq!(bare[0]["target"].as_u64(), Some(tid as u64));
    for e in agents.iter().flat_map(|a| a["chain"].as_array().unwrap()) {
        for k in [
            "position",
            "role",
            "ref",
            "provider",
            "model",
            "api",
            "credential",
            "target",
            "finding",
        ] {
            assert!(e.get(k).is_some(), "chain entry lacks {k}: {e}");
        }
    }
    let watched: Vec<&str> = v["openclaw"]["watched_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for f in ["openclaw.json", "providers.json5", ".env"] {
        assert!(
            watched.iter().any(|w| w.ends_with(f)),
            "{f} not watched: {watched:?}"
        );
    }
    assert_eq!(snapshot(&dir), before, "fixture changed");
}

#[test]
fn filtered_to_a_healthy_agent_exits_zero() {
    let dir = fixture("handwritten-entries");
    let vars = entries_vars(&dir);
    let o = run("[openclaw]\nagents = [\"local\"]\n", &[], &as_refs(&vars));
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout
            .contains("1 agent(s), 1 route(s), 1 unique target(s), 0 finding(s)"),
        "{}",
        o.stdout
    );
}

#[test]
fn default_location_under_home() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join(".openclaw");
    std::fs::create_dir_all(&state).unwrap();
    for f in ["openclaw.json", "providers.json5", ".env"] {
        std::fs::copy(fixture("handwritten-entries").join(f), state.join(f)).unwrap();
    }
    let o = run_in_home(
        home.path(),
        "[openclaw]\nrequired = true\n",
        &["--json"],
        &[],
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["agents"].as_array().unwrap().len(), 5);
}

#[test]
fn list_era_via_config_path() {
    let dir = fixture("handwritten-list");
    let before = snapshot(&dir);
    let cfg = dir.join("openclaw.json").display().to_string();
    let state = dir.display().to_string();
    let o = run(
        "",
        &["--json"],
        &[
            ("OPENCLAW_CONFIG_PATH", &cfg),
            ("OPENCLAW_STATE_DIR", &state),
        ],
    );
    // groq has no key anywhere, so at least that route has a finding.
    assert_eq!(o.code, 1, "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let agents = v["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 2);
    assert_eq!(agents[0]["agent"], "main");
    let main = agents[0]["chain"].as_array().unwrap();
    assert_eq!(main.len(), 2);
    assert_eq!(main[0]["ref"], "openai/gpt-5-mini");
    assert_eq!(main[0]["api"], "openai-responses");
    assert_eq!(main[1]["ref"], "groq/llama-3.3-70b-versatile");
    assert_eq!(main[1]["finding"]["class"], "auth");
    assert_eq!(main[1]["finding"]["reason"], "missing_credential");
    let msg = main[1]["finding"]["message"].as_str().unwrap();
    assert!(
        msg.contains("No API key found for provider \"groq\""),
        "{msg}"
    );
    assert!(
        msg.contains("openclaw models auth paste-token --provider groq")
            && msg.contains("GROQ_API_KEY"),
        "{msg}"
    );
    // A plain string model in an install of the agents.list / auth-profiles.json era: that
    // primary plus the defaults' fallbacks, as the real 2026.3.31 and 2026.4.12 CLIs report
    // for this very fixture (`models status --agent ops --json`: fallbacks
    // [groq/llama-3.3-70b-versatile], fallbacksSource "defaults"). This test used to expect
    // no fallbacks, the 2026.9 rule, which the release that reads these files does not apply.
    assert_eq!(agents[1]["agent"], "ops");
    let ops: Vec<&str> = agents[1]["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        ["anthropic/claude-haiku-4-5", "groq/llama-3.3-70b-versatile"]
    );
    assert_eq!(snapshot(&dir), before, "fixture changed");
}

#[test]
fn standalone_targets_only() {
    let toml = r#"
[openclaw]
enabled = false

[[targets]]
name = "mini"
provider = "openai"
model = "gpt-5-mini"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "CP_TEST_KEY"
agent = "standalone"

[[targets]]
name = "backup"
provider = "groq"
model = "llama-3.3-70b-versatile"
api_key_env = "CP_TEST_KEY"
agent = "standalone"
"#;
    let o = run(toml, &[], &[("CP_TEST_KEY", CANARY)]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("env:CP_TEST_KEY"), "{}", o.stdout);
    assert!(o.stdout.contains("standalone  fallback 1"), "{}", o.stdout);

    let o = run(toml, &["--json"], &[]);
    assert_eq!(o.code, 1);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let f = &v["agents"][0]["chain"][0]["finding"];
    assert_eq!(f["reason"], "missing_credential");
    assert!(
        f["message"].as_str().unwrap().contains("CP_TEST_KEY"),
        "{f}"
    );
    assert_eq!(v["agents"][0]["chain"][0]["credential"], "env:CP_TEST_KEY");
}

#[test]
fn unreadable_config_exits_two() {
    let dir = fixture("handwritten-broken");
    let state = dir.display().to_string();
    let o = run("", &[], &[("OPENCLAW_STATE_DIR", &state)]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(
        o.stderr
            .contains(&dir.join("openclaw.json").display().to_string()),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("line 4"), "{}", o.stderr);

    let empty = tempfile::tempdir().unwrap();
    let state = empty.path().display().to_string();
    let o = run(
        "[openclaw]\nrequired = true\n",
        &[],
        &[("OPENCLAW_STATE_DIR", &state)],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("required") && o.stderr.contains(&state),
        "{}",
        o.stderr
    );
    // Not required: still no "all resolve" for an install it could not see: exit 2,
    // naming where it looked and how to use [[targets]] alone.
    let o = run("", &[], &[("OPENCLAW_STATE_DIR", &state)]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains(&state) && o.stderr.contains("enabled = false"),
        "{}",
        o.stderr
    );
    // Something that is not a readable file where openclaw.json should be: exit 2,
    // naming it, without reading it (a FIFO would block).
    let oc = empty.path().join("openclaw.json");
    std::fs::create_dir(&oc).unwrap();
    let o = run("", &[], &[("OPENCLAW_STATE_DIR", &state)]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains(&oc.display().to_string()) && o.stderr.contains("a directory"),
        "{}",
        o.stderr
    );
    std::fs::remove_dir(&oc).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(&oc)
        .status()
        .unwrap();
    assert!(fifo.success());
    let o = run("", &[], &[("OPENCLAW_STATE_DIR", &state)]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("FIFO"), "{}", o.stderr);
    // OpenClaw switched off on purpose: [[targets]] alone, exit 0.
    let o = run("[openclaw]\nenabled = false\n", &[], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);

    let o = run("[openclaw]\nenabld = true\n", &[], &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("enabld"), "{}", o.stderr);
}

#[test]
fn unset_var_is_a_finding_like_openclaw_2026_9() {
    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        state.path().join("openclaw.json"),
        "{ agents: { defaults: { model: 'box/m1' } }, models: { providers: { box: { baseUrl: 'http://127.0.0.1:9/v1', apiKey: '${BOX_KEY_UNSET}' } } } }",
    )
    .unwrap();
    let dir = state.path().display().to_string();
    let o = run("", &["--json"], &[("OPENCLAW_STATE_DIR", &dir)]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let f = &v["agents"][0]["chain"][0]["finding"];
    assert_eq!(f["class"], "auth");
    assert_eq!(f["reason"], "missing_env_var");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("models.providers.box.apiKey"),
        "{f}"
    );
    assert!(
        o.stderr.contains("BOX_KEY_UNSET"),
        "warning expected: {}",
        o.stderr
    );
}

/// A FIFO where `<stateDir>/.env` or an `$include` should be never blocks `check` or
/// `probe` (they have no reload deadline): an error naming the file, at once.
#[test]
fn a_fifo_env_or_include_is_an_error_not_a_hang() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let home = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let s = state.path();
    std::fs::write(
        s.join("openclaw.json"),
        r#"{ agents: { defaults: { model: { primary: "openai/gpt-5-mini" } } } }"#,
    )
    .unwrap();
    let mkfifo = |p: &Path| {
        assert!(std::process::Command::new("mkfifo")
            .arg(p)
            .status()
            .unwrap()
            .success())
    };
    let within = |args: &[&str]| -> (i32, String) {
        let mut cmd = clawprobe(home.path());
        cmd.args(args)
            .env("OPENCLAW_STATE_DIR", s)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
                return (status.code().unwrap_or(-1), err);
            }
            if start.elapsed() > Duration::from_secs(15) {
                child.kill().unwrap();
                panic!("clawprobe {args:?} blocked on a FIFO for 15 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let env = s.join(".env");
    mkfifo(&env);
    for args in [&["check"][..], &["probe", "--tier", "metadata"][..]] {
        let (code, err) = within(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(&env.display().to_string()) && err.contains("FIFO"),
            "{args:?}: {err}"
        );
    }
    std::fs::remove_file(&env).unwrap();
    let inc = s.join("models.json5");
    mkfifo(&inc);
    std::fs::write(
        s.join("openclaw.json"),
        r#"{ models: { "$include": "./models.json5" }, agents: { defaults: { model: { primary: "openai/gpt-5-mini" } } } }"#,
    )
    .unwrap();
    let (code, err) = within(&["check"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("models.json5") && err.contains("FIFO"),
        "{err}"
    );
}
