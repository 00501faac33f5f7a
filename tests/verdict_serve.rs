//! The published verdict, end to end: the real `serve` against a fake provider on loopback
//! that answers like the real APIs (OpenAI's 429 `insufficient_quota`, Gemini's 429
//! `RESOURCE_EXHAUSTED` with `RetryInfo`, Anthropic's 529 `overloaded_error`, a revoked
//! key, a retired model, a healthy one), on a fast schedule. What Prometheus would see must
//! be what a request would get, from the first minute on, and must stay still while the
//! provider does.

mod support;

use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::fake_provider::{FakeProvider, Reply};
use support::fs::install_cli_fixture;
use support::harness::{clawprobe, free_port, sample, Serve};

const KEY: &str = "sk-canary-verdict-DO-NOT-LEAK-7c41";

fn fake() -> FakeProvider {
    let f = FakeProvider::start();
    let model = |id: &str| json!({"id": id, "object": "model", "owned_by": "system"});
    // OpenAI: the keys are valid, the account has no credits.
    for m in ["gpt-5-mini", "gpt-5-nano"] {
        f.route(
            "GET",
            &format!("/oa/v1/models/{m}"),
            Reply::json(200, model(m)),
        );
    }
    f.route(
        "POST",
        "/oa/v1/chat/completions",
        Reply::json(
            429,
            json!({"error": {"message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}),
        ),
    );
    // Gemini: rate-limited for 30 s (RetryInfo in the body, no header).
    f.route(
        "GET",
        "/g/v1beta/models/gemini-2.5-flash",
        Reply::json(
            200,
            json!({"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash"}),
        ),
    );
    f.route(
        "POST",
        "/g/v1beta/models/gemini-2.5-flash:generateContent",
        Reply::json(
            429,
            json!({"error": {"code": 429, "message": "You exceeded your current quota, please check your plan and billing details.", "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"}, "quotaValue": "10"}]}, {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}]}}),
        ),
    );
    // Anthropic: the model exists, the service is overloaded.
    f.route(
        "GET",
        "/ant/v1/models/claude-haiku-4-5",
        Reply::json(
            200,
            json!({"type": "model", "id": "claude-haiku-4-5", "display_name": "Claude Haiku 4.5"}),
        ),
    );
    f.route(
        "POST",
        "/ant/v1/messages",
        Reply::json(529, json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
    );
    // Groq: the key was revoked (every request).
    let revoked = Reply::json(
        401,
        json!({"error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}}),
    );
    f.route(
        "GET",
        "/groq/v1/models/llama-3.1-8b-instant",
        revoked.clone(),
    );
    f.route("POST", "/groq/v1/chat/completions", revoked);
    // Mistral: the model was retired.
    let gone = Reply::json(
        404,
        json!({"object": "error", "message": "Invalid model: mistral-retired", "type": "invalid_model", "param": null, "code": "1500"}),
    );
    f.route("GET", "/mis/v1/models/mistral-retired", gone.clone());
    f.route("POST", "/mis/v1/chat/completions", gone);
    // xAI: healthy.
    f.route(
        "GET",
        "/x/v1/models/grok-3-mini",
        Reply::json(200, model("grok-3-mini")),
    );
    f.route(
        "POST",
        "/x/v1/chat/completions",
        Reply::json(
            200,
            json!({"id": "c", "object": "chat.completion", "model": "grok-3-mini", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "length"}], "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9}}),
        ),
    );
    f
}

/// (agent, provider, api, base path, model) — one `[[targets]]` each; an agent listed
/// twice gets a fallback.
const ROUTES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "billing",
        "openai",
        "openai-completions",
        "/oa/v1",
        "gpt-5-mini",
    ),
    (
        "billing-too",
        "openai",
        "openai-completions",
        "/oa/v1",
        "gpt-5-nano",
    ),
    (
        "ratelimited",
        "google",
        "google-generative-ai",
        "/g/v1beta",
        "gemini-2.5-flash",
    ),
    (
        "overloaded",
        "anthropic",
        "anthropic-messages",
        "/ant",
        "claude-haiku-4-5",
    ),
    (
        "revoked",
        "groq",
        "openai-completions",
        "/groq/v1",
        "llama-3.1-8b-instant",
    ),
    (
        "retired",
        "mistral",
        "openai-completions",
        "/mis/v1",
        "mistral-retired",
    ),
    (
        "healthy",
        "xai",
        "openai-completions",
        "/x/v1",
        "grok-3-mini",
    ),
    // Primary overloaded, its only fallback out of credits: all models failed.
    (
        "chain",
        "anthropic",
        "anthropic-messages",
        "/ant",
        "claude-haiku-4-5",
    ),
    (
        "chain",
        "openai",
        "openai-completions",
        "/oa/v1",
        "gpt-5-mini",
    ),
];

fn config(listen: &str, fake: &FakeProvider) -> String {
    let mut s = format!(
        r#"[openclaw]
enabled = false

[server]
listen = "{listen}"
first_cycle_timeout_seconds = 5
watch_interval_seconds = 0

[schedule]
metadata = "*/2 * * * * *"
credential_generation = "*/5 * * * * *"
model_generation = "*/9 * * * * *"
recheck_after_failure_seconds = 3.0
max_backoff_seconds = 20.0
min_key_spacing_seconds = 0.1
spread_fraction = 0.3
probe_timeout_seconds = 5.0
"#
    );
    for (i, (agent, provider, api, base, model)) in ROUTES.iter().enumerate() {
        s.push_str(&format!(
            "\n[[targets]]\nname = \"t{i}\"\nagent = \"{agent}\"\nprovider = \"{provider}\"\nmodel = \"{model}\"\nbase_url = \"{}\"\napi = \"{api}\"\napi_key_env = \"VERDICT_KEY\"\n",
            fake.url(base)
        ));
    }
    s
}

/// model_up and the current class of every chain entry in one scrape.
fn routes(metrics: &str) -> BTreeMap<String, (f64, String)> {
    let mut up = BTreeMap::new();
    for l in metrics
        .lines()
        .filter(|l| l.starts_with("clawprobe_model_up{"))
    {
        let (series, v) = l.rsplit_once(' ').unwrap();
        up.insert(series.to_string(), v.parse::<f64>().unwrap());
    }
    let mut out = BTreeMap::new();
    for (series, v) in up {
        let labels = series
            .trim_start_matches("clawprobe_model_up{")
            .trim_end_matches('}');
        let agent = labels
            .split("agent=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let model = labels
            .split("model=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let class = metrics
            .lines()
            .filter(|l| l.starts_with("clawprobe_model_status{") && l.ends_with(" 1"))
            .find(|l| {
                l.contains(&format!("agent=\"{agent}\""))
                    && l.contains(&format!("model=\"{model}\""))
            })
            .and_then(|l| l.split("class=\"").nth(1))
            .and_then(|c| c.split('"').next())
            .unwrap_or("?")
            .to_string();
        out.insert(format!("{agent}/{model}"), (v, class));
    }
    out
}

#[test]
fn serve_publishes_the_fused_verdict_and_it_does_not_flap() {
    let provider = fake();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = tmp.path().join("clawprobe.toml");
    std::fs::write(&conf, config(&format!("127.0.0.1:{port}"), &provider)).unwrap();
    let mut cmd = clawprobe(tmp.path());
    cmd.arg("--config")
        .arg(&conf)
        .arg("serve")
        .env("VERDICT_KEY", KEY);
    let srv = Serve::start(cmd, port, tmp.path().join("stderr.log"));

    // Within the first minute every route has its verdict: the credential tier's first
    // generation probe goes out at start, and billing reaches both routes on the key.
    let want: BTreeMap<&str, (f64, &str)> = [
        ("billing/gpt-5-mini", (0.0, "billing")),
        ("billing-too/gpt-5-nano", (0.0, "billing")),
        ("ratelimited/gemini-2.5-flash", (0.0, "rate_limit")),
        ("overloaded/claude-haiku-4-5", (0.0, "overloaded")),
        ("revoked/llama-3.1-8b-instant", (0.0, "auth")),
        ("retired/mistral-retired", (0.0, "unresolved_ref")),
        ("healthy/grok-3-mini", (1.0, "ok")),
        ("chain/claude-haiku-4-5", (0.0, "overloaded")),
        ("chain/gpt-5-mini", (0.0, "billing")),
    ]
    .into_iter()
    .collect();
    let started = Instant::now();
    let matches = |m: &str| {
        let got = routes(m);
        want.iter()
            .all(|(k, (up, class))| got.get(*k).is_some_and(|(u, c)| u == up && c == class))
    };
    let m = srv.wait_metrics("every route's verdict", Duration::from_secs(60), matches);
    let converged = started.elapsed();
    assert_eq!(
        sample(&m, "clawprobe_agent_up{agent=\"chain\"}"),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "clawprobe_agent_up{agent=\"healthy\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &m,
            "clawprobe_credential_status{class=\"billing\",credential=\"env:VERDICT_KEY\",provider=\"openai\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert!(!m.contains(KEY), "the key leaked into /metrics");

    // Then nothing changes at the provider, so nothing changes on /metrics: scrape every
    // second for 40 s (about 20 metadata cycles, 8 credential and 4 model cycles plus the
    // re-checks) and count every transition of model_up and of the class.
    let mut last = routes(&m);
    let mut transitions = Vec::new();
    let mut scrapes = 0;
    let until = Instant::now() + Duration::from_secs(40);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_secs(1));
        let now = routes(&srv.get("/metrics").body);
        for (k, v) in &now {
            if last.get(k) != Some(v) {
                transitions.push(format!("{k}: {:?} -> {v:?}", last.get(k)));
            }
        }
        last = now;
        scrapes += 1;
    }
    assert!(transitions.is_empty(), "flapped: {transitions:#?}");
    let posts = provider
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    println!(
        "verdicts converged in {converged:?}; {scrapes} scrapes, 0 transitions; the fake saw {} requests ({posts} generation)",
        provider.requests().len()
    );
    // The landing page says the same, one line per agent.
    let page = srv.get("/").body;
    assert!(
        page.contains("<b>chain</b>: <span class=\"bad\">down: all models failed</span>"),
        "{page}"
    );
    assert!(
        page.contains("<b>healthy</b>: <span class=\"ok\">up</span>"),
        "{page}"
    );
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Writes OpenClaw's own profile state into the shared store of a 2026.9.6 install, the
/// way the gateway does after a billing failure: the profile is disabled until `until`.
fn disable_profile(state_dir: &Path, profile: &str, until: SystemTime) {
    let db = rusqlite::Connection::open(state_dir.join("state/openclaw.sqlite")).unwrap();
    let value = json!({"version": 1, "usageStats": {profile: {
        "disabledUntil": unix_ms(until), "disabledReason": "billing",
        "errorCount": 1, "failureCounts": {"billing": 1}, "lastFailureAt": unix_ms(SystemTime::now())}}});
    db.execute(
        "INSERT OR REPLACE INTO config_machine_state (state_key, value_json, updated_at_ms) VALUES ('authProfiles.state', ?1, ?2)",
        rusqlite::params![value.to_string(), unix_ms(SystemTime::now())],
    )
    .unwrap();
}

#[test]
fn a_profile_openclaw_disables_for_billing_turns_its_routes_without_a_request() {
    let provider = FakeProvider::start();
    for m in ["claude-sonnet-4-5", "claude-haiku-4-5"] {
        provider.route(
            "GET",
            &format!("/v1/models/{m}"),
            Reply::json(200, json!({"type": "model", "id": m, "display_name": m})),
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let state = install_cli_fixture(&home, Some(&provider.url("")));
    let port = free_port();
    let conf = tmp.path().join("clawprobe.toml");
    // One metadata cycle at start, nothing scheduled after it; the files are watched
    // every second.
    std::fs::write(
        &conf,
        format!("[server]\nlisten = \"127.0.0.1:{port}\"\nwatch_interval_seconds = 1\n\n[schedule]\nmetadata = \"0 0 0 1 1 *\"\ncredential_generation = \"\"\nmodel_generation = \"\"\nmin_key_spacing_seconds = 0.0\n"),
    )
    .unwrap();
    let mut cmd = clawprobe(&home);
    cmd.arg("--config").arg(&conf).arg("serve");
    let srv = Serve::start(cmd, port, tmp.path().join("stderr.log"));
    let primary =
        "agent=\"main\",model=\"claude-sonnet-4-5\",provider=\"anthropic\",role=\"primary\"";
    let m = srv.wait_metrics("main's primary up", Duration::from_secs(30), |m| {
        sample(
            m,
            &format!("clawprobe_model_up{{{primary},position=\"0\"}}"),
        ) == Some(1.0)
    });
    assert_eq!(
        sample(
            &m,
            &format!("clawprobe_model_verdict_source{{{primary},source=\"metadata\"}}")
        ),
        Some(1.0),
        "{m}"
    );
    let sent = provider.requests().len();

    disable_profile(
        &state,
        "anthropic:manual",
        SystemTime::now() + Duration::from_secs(3600),
    );
    let written = Instant::now();
    let m = srv.wait_metrics(
        "OpenClaw's hold on the profile",
        Duration::from_secs(10),
        |m| {
            sample(
                m,
                &format!("clawprobe_model_status{{{primary},class=\"billing\"}}"),
            ) == Some(1.0)
        },
    );
    let took = written.elapsed();
    assert_eq!(
        sample(
            &m,
            &format!("clawprobe_model_verdict_source{{{primary},source=\"openclaw_state\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &m,
            &format!("clawprobe_model_up{{{primary},position=\"0\"}}")
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&m, "clawprobe_credential_status{class=\"billing\",credential=\"anthropic:manual\",provider=\"anthropic\"}"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        provider.requests().len(),
        sent,
        "no request was sent for it"
    );
    assert!(
        took < Duration::from_secs(4),
        "seen after {took:?} (watch interval 1 s)"
    );
    println!("OpenClaw's hold seen after {took:?}, no request sent");
}
