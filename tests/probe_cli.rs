//! Probers, the HTTP executor and `clawprobe probe` against a fake provider on 127.0.0.1.
//!
//! Two layers:
//! - `executor_*` / `oneshot_*` tests drive `HttpExecutor` and `oneshot::run_with` with
//!   hand-built targets, so the probe code is verified on its own.
//! - `cli_*` tests run the real binary with a TOML config of standalone `[[targets]]`.
//!   They need `plan::build` to turn `[[targets]]` into a plan; until that lands the plan is
//!   empty and they assert the "nothing to probe" path instead (see [`plan_landed`]).
//!
//! Assertions on the class of non-2xx answers and transport errors (auth, timeout,
//! network, …) need `classify::classify`; they run only when it classifies (see
//! [`classification_landed`]). Everything else (requests sent, ok / bad_response from 2xx
//! bodies, messages, redaction, exit codes) is asserted unconditionally.

mod support;

use clawprobe::class::Class;
use clawprobe::classify::{classify, Observation, TransportError};
use clawprobe::cmd::probe::{self as oneshot, Options, TierChoice};
use clawprobe::config::Config;
use clawprobe::plan::{
    AgentChain, ApiStyle, ChainEntry, Credential, CredentialKind, CredentialSource, ProbePlan,
    Target,
};
use clawprobe::probe::http::HttpExecutor;
use clawprobe::probe::{Executor, ProbeResult, Tier, Usage};
use clawprobe::secret::Secret;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use support::fake_provider::{FakeProvider, Recorded, Reply};
use support::harness::{clawprobe, free_port as closed_port, output, Output as Run};

const CANARY: &str = "sk-canary-PROBE-4c1b";

/// Whether `classify` has been merged (the stub answers `Unknown` to everything).
fn classification_landed() -> bool {
    let h = http::HeaderMap::new();
    classify(&Observation {
        provider: "openai",
        api: "openai-completions",
        status: None,
        headers: &h,
        body: b"",
        transport: Some(TransportError::Timeout),
    })
    .class
        != Class::Unknown
}

/// Whether `plan::build` turns `[[targets]]` into targets yet.
fn plan_landed() -> bool {
    let c = Config::parse_str(
        "[openclaw]\nenabled = false\n[[targets]]\nname='x'\nprovider='openai'\nmodel='m'\nbase_url='http://127.0.0.1:1/v1'\napi='openai-completions'\n",
        Path::new("probe_cli.toml"),
    )
    .unwrap();
    clawprobe::plan::build(&c).is_ok_and(|p| !p.targets.is_empty())
}

fn target(
    provider: &str,
    api: ApiStyle,
    base: &str,
    model: &str,
    kind: Option<CredentialKind>,
) -> Target {
    let t = Target::new(provider, model, base, api);
    match kind {
        Some(kind) => t.with_credential(Credential {
            kind,
            ..Credential::api_key(
                CredentialSource::TargetEnv {
                    var: "CANARY_KEY".into(),
                },
                Secret::new(CANARY),
            )
        }),
        None => t,
    }
}

fn exec(timeout_ms: u64) -> HttpExecutor {
    HttpExecutor::new(Duration::from_millis(timeout_ms)).unwrap()
}

fn assert_no_canary(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY),
        "canary key leaked into {what}: {text}"
    );
    assert!(
        !text.contains("canary-PROBE"),
        "canary key prefix leaked into {what}: {text}"
    );
}

fn assert_result_clean(r: &ProbeResult) {
    assert_no_canary("ProbeResult", &format!("{r:?}"));
}

fn one(fake: &FakeProvider, path: &str) -> Recorded {
    let r = fake.requests_to(path);
    assert_eq!(
        r.len(),
        1,
        "expected one request to {path}, got {:#?}",
        fake.requests()
    );
    r.into_iter().next().unwrap()
}

fn chat_ok() -> Value {
    json!({"choices":[{"message":{"role":"assistant","content":""},"finish_reason":"length"}],
           "usage":{"prompt_tokens":8,"completion_tokens":1}})
}

// ---------------------------------------------------------------------------------------
// HttpExecutor, one API style at a time.

#[tokio::test]
async fn executor_openai_completions_metadata_and_generation() {
    let fake = FakeProvider::start();
    fake.route(
        "GET",
        "/v1/models/gpt-x",
        Reply::json(200, json!({"id":"gpt-x","object":"model"})),
    )
    .route("POST", "/v1/chat/completions", Reply::json(200, chat_ok()));
    let t = target(
        "openai",
        ApiStyle::OpenAiCompletions,
        &fake.url("/v1"),
        "gpt-x",
        Some(CredentialKind::ApiKey),
    );
    let e = exec(5000);

    let m = e.execute(&t, Tier::Metadata).await;
    assert_eq!(
        (m.class, m.tier, m.http_status),
        (Class::Ok, Tier::Metadata, Some(200)),
        "{m:?}"
    );
    assert_eq!(m.usage, None);
    let req = one(&fake, "/v1/models/gpt-x");
    assert_eq!(req.method, "GET");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {CANARY}").as_str())
    );
    assert!(req.body.is_empty());
    assert!(
        fake.requests_to("/v1/chat/completions").is_empty(),
        "metadata must not generate"
    );

    let g = e.execute(&t, Tier::Generation).await;
    assert_eq!((g.class, g.tier), (Class::Ok, Tier::Generation), "{g:?}");
    assert_eq!(
        g.usage,
        Some(Usage {
            input_tokens: 8,
            output_tokens: 1
        })
    );
    assert!(g.latency > Duration::ZERO);
    let req = one(&fake, "/v1/chat/completions");
    assert_eq!(req.method, "POST");
    let b = req.json();
    assert_eq!(
        (b["max_tokens"].as_u64(), b["stream"].as_bool()),
        (Some(1), Some(false))
    );
    assert_eq!(b["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(b["messages"][0]["role"], "user");
    assert_result_clean(&m);
    assert_result_clean(&g);
}

#[tokio::test]
async fn executor_openai_responses() {
    let fake = FakeProvider::start();
    fake.route(
        "GET",
        "/v1/models/gpt-r",
        Reply::json(200, json!({"id":"gpt-r"})),
    )
    .route(
        "POST",
        "/v1/responses",
        Reply::json(
            200,
            json!({
            "status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},
            "output":[],"usage":{"input_tokens":5,"output_tokens":16}}),
        ),
    );
    let t = target(
        "openai",
        ApiStyle::OpenAiResponses,
        &fake.url("/v1"),
        "gpt-r",
        Some(CredentialKind::ApiKey),
    );
    let e = exec(5000);
    assert_eq!(e.execute(&t, Tier::Metadata).await.class, Class::Ok);
    let g = e.execute(&t, Tier::Generation).await;
    assert_eq!(
        g.class,
        Class::Ok,
        "incomplete at max_output_tokens is healthy: {g:?}"
    );
    assert_eq!(
        g.usage,
        Some(Usage {
            input_tokens: 5,
            output_tokens: 16
        })
    );
    let req = one(&fake, "/v1/responses");
    let b = req.json();
    assert_eq!(
        (
            b["max_output_tokens"].as_u64(),
            b["store"].as_bool(),
            b["input"].as_str()
        ),
        (Some(16), Some(false), Some("hi"))
    );
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {CANARY}").as_str())
    );
}

#[tokio::test]
async fn executor_anthropic_key_and_oauth() {
    let fake = FakeProvider::start();
    fake.route(
        "GET",
        "/v1/models/claude-h",
        Reply::json(200, json!({"id":"claude-h","type":"model"})),
    )
    .route(
        "POST",
        "/v1/messages",
        Reply::json(
            200,
            json!({
            "type":"message","content":[{"type":"text","text":"H"}],"stop_reason":"max_tokens",
            "usage":{"input_tokens":8,"output_tokens":1}}),
        ),
    );
    let e = exec(5000);
    let key = target(
        "anthropic",
        ApiStyle::AnthropicMessages,
        &fake.url(""),
        "claude-h",
        Some(CredentialKind::ApiKey),
    );
    assert_eq!(e.execute(&key, Tier::Metadata).await.class, Class::Ok);
    let req = one(&fake, "/v1/models/claude-h");
    assert_eq!(req.header("x-api-key"), Some(CANARY));
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    assert!(req.header("authorization").is_none());

    let oauth = target(
        "anthropic",
        ApiStyle::AnthropicMessages,
        &fake.url(""),
        "claude-h",
        Some(CredentialKind::Oauth),
    );
    let g = e.execute(&oauth, Tier::Generation).await;
    assert_eq!(g.class, Class::Ok, "{g:?}");
    assert_eq!(
        g.usage,
        Some(Usage {
            input_tokens: 8,
            output_tokens: 1
        })
    );
    let req = one(&fake, "/v1/messages");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {CANARY}").as_str())
    );
    assert_eq!(req.header("anthropic-beta"), Some("oauth-2025-04-20"));
    assert!(req.header("x-api-key").is_none());
    assert_eq!(req.json()["max_tokens"], 1);
    assert!(req.json().get("system").is_none());
}

#[tokio::test]
async fn executor_google_key_in_header_not_url() {
    let fake = FakeProvider::start();
    fake.route(
        "GET",
        "/v1beta/models/gem",
        Reply::json(200, json!({"name":"models/gem"})),
    )
    .route(
        "POST",
        "/v1beta/models/gem:generateContent",
        Reply::json(
            200,
            json!({
            "candidates":[{"finishReason":"MAX_TOKENS","content":{"role":"model","parts":[]}}],
            "usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1}}),
        ),
    );
    let t = target(
        "google",
        ApiStyle::GoogleGenerativeAi,
        &fake.url("/v1beta"),
        "gem",
        Some(CredentialKind::ApiKey),
    );
    let e = exec(5000);
    assert_eq!(e.execute(&t, Tier::Metadata).await.class, Class::Ok);
    let g = e.execute(&t, Tier::Generation).await;
    assert_eq!(g.class, Class::Ok, "{g:?}");
    assert_eq!(
        g.usage,
        Some(Usage {
            input_tokens: 2,
            output_tokens: 1
        })
    );
    for r in fake.requests() {
        assert_eq!(r.header("x-goog-api-key"), Some(CANARY));
        assert!(
            !r.path.contains(CANARY) && !r.path.contains("key="),
            "{}",
            r.path
        );
    }
    let req = one(&fake, "/v1beta/models/gem:generateContent");
    assert_eq!(req.json()["generationConfig"]["maxOutputTokens"], 1);
}

#[tokio::test]
async fn executor_ollama_without_credential() {
    let fake = FakeProvider::start();
    fake.route("POST", "/api/show", Reply::json(200, json!({"details":{"family":"llama"}})))
        .route("POST", "/api/chat", Reply::json(200, json!({
            "message":{"role":"assistant","content":"H"},"done":true,"prompt_eval_count":11,"eval_count":1})));
    let t = target(
        "ollama",
        ApiStyle::Ollama,
        &fake.url(""),
        "llama3.2:1b",
        None,
    );
    let e = exec(5000);
    assert_eq!(e.execute(&t, Tier::Metadata).await.class, Class::Ok);
    let g = e.execute(&t, Tier::Generation).await;
    assert_eq!(
        g.usage,
        Some(Usage {
            input_tokens: 11,
            output_tokens: 1
        })
    );
    assert_eq!(
        one(&fake, "/api/show").json(),
        json!({"model":"llama3.2:1b"})
    );
    let chat = one(&fake, "/api/chat");
    assert_eq!(chat.json()["options"]["num_predict"], 1);
    assert!(chat.header("authorization").is_none());
}

#[tokio::test]
async fn executor_openrouter_key_limit_and_endpoints() {
    let fake = FakeProvider::start();
    fake.route(
        "GET",
        "/api/v1/key",
        Reply::json(200, json!({"data":{"limit":5,"limit_remaining":0}})),
    )
    .route(
        "GET",
        "/api/v1/models/moonshotai/kimi-k2/endpoints",
        Reply::json(200, json!({"data":{"endpoints":[{"name":"x"}]}})),
    );
    let t = target(
        "openrouter",
        ApiStyle::OpenAiCompletions,
        &fake.url("/api/v1"),
        "moonshotai/kimi-k2",
        Some(CredentialKind::ApiKey),
    );
    let e = exec(5000);
    let r = e.execute(&t, Tier::Metadata).await;
    assert_eq!(
        (r.class, r.reason.as_str()),
        (Class::Billing, "key_limit_exhausted"),
        "{r:?}"
    );
    assert!(
        fake.requests_to("/api/v1/models/moonshotai/kimi-k2/endpoints")
            .is_empty(),
        "stops at the first failing step"
    );
    fake.route(
        "GET",
        "/api/v1/key",
        Reply::json(200, json!({"data":{"limit":null,"limit_remaining":null}})),
    );
    let r = e.execute(&t, Tier::Metadata).await;
    assert_eq!(r.class, Class::Ok, "{r:?}");
    assert_eq!(
        one(&fake, "/api/v1/models/moonshotai/kimi-k2/endpoints").header("authorization"),
        Some(format!("Bearer {CANARY}").as_str())
    );
    assert!(fake.requests_to("/api/v1/chat/completions").is_empty());
}

#[tokio::test]
async fn executor_unsupported_and_no_metadata_endpoint() {
    let fake = FakeProvider::start();
    fake.route("POST", "/v1/chat/completions", Reply::json(200, chat_ok()));
    let e = exec(5000);
    let bedrock = target(
        "amazon-bedrock",
        ApiStyle::Other("bedrock-converse-stream".into()),
        &fake.url(""),
        "m",
        Some(CredentialKind::ApiKey),
    );
    let r = e.execute(&bedrock, Tier::Generation).await;
    assert_eq!(
        (r.class, r.reason.as_str()),
        (Class::Skipped, "unsupported_api")
    );
    let together = target(
        "together",
        ApiStyle::OpenAiCompletions,
        &fake.url("/v1"),
        "m",
        Some(CredentialKind::ApiKey),
    );
    let r = e.execute(&together, Tier::Metadata).await;
    assert_eq!(
        (r.class, r.tier, r.reason.as_str()),
        (Class::Ok, Tier::Generation, "no_metadata_endpoint"),
        "{r:?}"
    );
    assert!(r.message.unwrap().contains("no_metadata_endpoint"));
    assert_eq!(
        fake.requests().len(),
        1,
        "only the generation call; nothing for bedrock"
    );
}

#[tokio::test]
async fn executor_malformed_and_empty_2xx_are_bad_response() {
    let fake = FakeProvider::start();
    let t = target(
        "openai",
        ApiStyle::OpenAiCompletions,
        &fake.url("/v1"),
        "gpt-x",
        Some(CredentialKind::ApiKey),
    );
    let e = exec(5000);
    for (reply, reason) in [
        (Reply::text(200, ""), "empty_body"),
        (Reply::text(200, "<html>gateway</html>"), "malformed_body"),
        (
            Reply::json(200, json!({"id":"x","object":"chat.completion"})),
            "malformed_body",
        ),
    ] {
        fake.route("POST", "/v1/chat/completions", reply);
        let r = e.execute(&t, Tier::Generation).await;
        assert_eq!(
            (r.class, r.reason.as_str(), r.http_status),
            (Class::BadResponse, reason, Some(200)),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn executor_error_status_is_classified_and_message_redacted() {
    let fake = FakeProvider::start();
    fake.route(
        "GET",
        "/v1/models/gpt-x",
        Reply::json(
            401,
            json!({"error":{
        "message": format!("Incorrect API key provided: {CANARY}. Also sk-live-AbCdEf0123456789"),
        "type":"invalid_request_error","code":"invalid_api_key"}}),
        ),
    );
    let t = target(
        "openai",
        ApiStyle::OpenAiCompletions,
        &fake.url("/v1"),
        "gpt-x",
        Some(CredentialKind::ApiKey),
    );
    let r = exec(5000).execute(&t, Tier::Metadata).await;
    assert_eq!(r.http_status, Some(401));
    let msg = r.message.clone().expect("a provider message");
    assert!(msg.contains("Incorrect API key"), "{msg}");
    assert!(!msg.contains("AbCdEf0123456789"), "{msg}");
    assert_result_clean(&r);
    if classification_landed() {
        assert_eq!(r.class, Class::Auth, "{r:?}");
    }
}

#[tokio::test]
async fn executor_transport_failures() {
    let fake = FakeProvider::start();
    fake.route("POST", "/hang/chat/completions", Reply::Hang)
        .route("POST", "/reset/chat/completions", Reply::Reset)
        .route(
            "POST",
            "/drip/chat/completions",
            Reply::Drip {
                status: 200,
                chunk: b" ".to_vec(),
                every: Duration::from_millis(200),
                count: 100,
            },
        )
        .route(
            "POST",
            "/huge/chat/completions",
            Reply::Huge {
                status: 200,
                bytes: 1024 * 1024,
            },
        );
    let e = exec(800);
    let t = |prefix: &str| {
        target(
            "openai",
            ApiStyle::OpenAiCompletions,
            &fake.url(prefix),
            "m",
            Some(CredentialKind::ApiKey),
        )
    };
    let landed = classification_landed();

    let started = Instant::now();
    let hang = e.execute(&t("/hang"), Tier::Generation).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(hang.http_status, None);
    assert!(
        hang.message
            .as_deref()
            .unwrap_or("")
            .contains("within 0.8s"),
        "{hang:?}"
    );
    assert_eq!(fake.requests_to("/hang/chat/completions").len(), 1);

    let drip = e.execute(&t("/drip"), Tier::Generation).await;
    assert!(drip.latency < Duration::from_secs(5), "{drip:?}");
    assert_ne!(drip.class, Class::Ok);

    let reset = e.execute(&t("/reset"), Tier::Generation).await;
    assert_eq!(reset.http_status, None, "{reset:?}");
    assert!(
        reset.latency < Duration::from_millis(700),
        "reset must not wait for the deadline: {reset:?}"
    );
    assert!(reset.message.is_some());

    let huge = e.execute(&t("/huge"), Tier::Generation).await;
    assert!(
        huge.message
            .as_deref()
            .unwrap_or("")
            .contains("larger than"),
        "{huge:?}"
    );

    let closed = target(
        "openai",
        ApiStyle::OpenAiCompletions,
        &format!("http://127.0.0.1:{}/v1", closed_port()),
        "m",
        Some(CredentialKind::ApiKey),
    );
    let refused = e.execute(&closed, Tier::Metadata).await;
    assert_eq!(refused.http_status, None);
    assert!(refused.message.is_some(), "{refused:?}");

    for r in [&hang, &drip, &reset, &huge, &refused] {
        assert_result_clean(r);
        assert_ne!(r.class, Class::Ok, "{r:?}");
    }
    if landed {
        assert_eq!(hang.class, Class::Timeout, "{hang:?}");
        assert_eq!(drip.class, Class::Timeout, "{drip:?}");
        assert_eq!(reset.class, Class::Network, "{reset:?}");
        assert_eq!(refused.class, Class::Network, "{refused:?}");
        assert_ne!(huge.class, Class::Ok);
    }
}

#[tokio::test]
async fn executor_maps_transport_errors() {
    use clawprobe::probe::{RequestKind, RequestSpec};
    let fake = FakeProvider::start();
    fake.route("GET", "/hang", Reply::Hang)
        .route("GET", "/reset", Reply::Reset)
        .route(
            "GET",
            "/drip",
            Reply::Drip {
                status: 200,
                chunk: b"x".to_vec(),
                every: Duration::from_millis(100),
                count: 100,
            },
        )
        .route(
            "GET",
            "/huge",
            Reply::Huge {
                status: 200,
                bytes: 300 * 1024,
            },
        )
        .route(
            "GET",
            "/small",
            Reply::Huge {
                status: 200,
                bytes: 1000,
            },
        )
        .route(
            "GET",
            "/cut",
            Reply::Drip {
                status: 200,
                chunk: b"{".to_vec(),
                every: Duration::from_millis(10),
                count: 3,
            },
        );
    let e = exec(600);
    let get = |p: &str| RequestSpec::get(RequestKind::Model, fake.url(p));
    let kind = |x: &clawprobe::probe::http::Exchange| x.transport.as_ref().map(|(t, _)| *t);
    assert_eq!(
        kind(&e.send(&get("/hang")).await),
        Some(TransportError::Timeout)
    );
    assert_eq!(
        kind(&e.send(&get("/reset")).await),
        Some(TransportError::Connect)
    );
    let drip = e.send(&get("/drip")).await;
    assert_eq!(
        (drip.status, kind(&drip)),
        (Some(200), Some(TransportError::Timeout))
    );
    let huge = e.send(&get("/huge")).await;
    assert_eq!(
        (huge.status, kind(&huge)),
        (Some(200), Some(TransportError::BodyTooLarge))
    );
    assert!(huge.body.len() <= clawprobe::probe::http::DEFAULT_BODY_CAP);
    let small = e.send(&get("/small")).await;
    assert_eq!(
        (small.status, kind(&small), small.body.len()),
        (Some(200), None, 1000)
    );
    let capped = exec(600).with_body_cap(500).send(&get("/small")).await;
    assert_eq!(kind(&capped), Some(TransportError::BodyTooLarge));
    let cut = e.send(&get("/cut")).await;
    assert_eq!(
        (kind(&cut), cut.body.as_slice()),
        (None, &b"{{{"[..]),
        "a chunked body that ends normally"
    );
    // Chunked (no content-length): the cap is enforced while reading.
    let cut_capped = exec(600).with_body_cap(2).send(&get("/cut")).await;
    assert_eq!(kind(&cut_capped), Some(TransportError::BodyTooLarge));
    // TLS to a plain-HTTP server: the handshake fails.
    let tls = e
        .send(&RequestSpec::get(
            RequestKind::Model,
            format!("https://{}/small", fake.addr()),
        ))
        .await;
    assert_eq!(kind(&tls), Some(TransportError::Tls), "{tls:?}");
    let refused = e
        .send(&RequestSpec::get(
            RequestKind::Model,
            format!("http://127.0.0.1:{}/", closed_port()),
        ))
        .await;
    assert_eq!(kind(&refused), Some(TransportError::Connect), "{refused:?}");
}

// ---------------------------------------------------------------------------------------
// oneshot::run with a hand-built plan.

fn entry(position: usize, target: usize, raw: &str) -> ChainEntry {
    ChainEntry {
        target: Some(target),
        ..ChainEntry::new(position, raw)
    }
}

#[tokio::test]
async fn oneshot_run_probes_shared_target_once_and_renders() {
    let fake = FakeProvider::start();
    fake.route(
        "GET",
        "/v1/models/good",
        Reply::json(200, json!({"id":"good"})),
    )
    .route(
        "GET",
        "/v1/models/down",
        Reply::json(500, json!({"error":{"message":"boom"}})),
    )
    .route("POST", "/v1/chat/completions", Reply::json(200, chat_ok()));
    let mut plan = ProbePlan::default();
    let good = plan.intern_target(target(
        "openai",
        ApiStyle::OpenAiCompletions,
        &fake.url("/v1"),
        "good",
        Some(CredentialKind::ApiKey),
    ));
    let down = plan.intern_target(target(
        "openai",
        ApiStyle::OpenAiCompletions,
        &fake.url("/v1"),
        "down",
        Some(CredentialKind::ApiKey),
    ));
    plan.agents = vec![
        AgentChain {
            agent: "a".into(),
            entries: vec![entry(0, down, "openai/down"), entry(1, good, "openai/good")],
        },
        AgentChain {
            agent: "b".into(),
            entries: vec![entry(0, good, "openai/good")],
        },
    ];
    let mut config = Config::default();
    config.schedule.probe_timeout_seconds = 5.0;
    let opts = Options {
        agent: None,
        tier: TierChoice::Auto,
        json: true,
    };
    let report = oneshot::run(&config, &plan, &opts).await;
    let (out, code) = (report.stdout, report.code);
    assert_eq!(code, 0, "every agent has an ok model: {out}");
    assert_eq!(
        fake.requests_to("/v1/models/good").len(),
        1,
        "shared target probed once"
    );
    // One generation request, for the route that passed metadata; the one whose metadata
    // request failed costs nothing more.
    let chats = fake.requests_to("/v1/chat/completions");
    assert_eq!(chats.len(), 1, "{out}");
    assert_eq!(chats[0].json()["model"], "good");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["spent"]["metadata_probes"], 2, "{out}");
    assert_eq!(doc["spent"]["generation_requests"], 1, "{out}");
    let rows = doc["routes"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["agent"], "a");
    assert_eq!(rows[0]["http_status"], 500);
    assert_eq!(rows[0]["source"], "metadata");
    assert_eq!(rows[1]["class"], "ok");
    assert_eq!(rows[1]["source"], "generation");
    assert_eq!(rows[1]["role"], "fallback");
    assert_eq!(rows[1]["profile"], "env:CANARY_KEY");
    assert!(rows[1]["latency_seconds"].as_f64().unwrap() > 0.0);
    assert_no_canary("oneshot output", &out);

    let opts = Options {
        agent: Some("a".into()),
        tier: TierChoice::Metadata,
        json: false,
    };
    fake.route(
        "GET",
        "/v1/models/good",
        Reply::json(200, json!({"object":"model"})),
    );
    let report = oneshot::run(&config, &plan, &opts).await;
    let (table, code) = (report.stdout, report.code);
    assert_eq!(code, 1, "malformed metadata is not ok: {table}");
    assert_eq!(
        report.stderr,
        "probe: spent 0 generation requests and 0 tokens (plus 2 zero-token metadata probes)\n"
    );
    assert!(table.lines().next().unwrap().starts_with("AGENT"));
    assert!(
        table.contains("bad_response") && table.contains("fallback 1"),
        "{table}"
    );
}

#[tokio::test]
async fn oneshot_run_concurrent_probes_respect_the_deadline() {
    // Four hanging targets, concurrency 4, deadline 1 s: done in about one deadline, where
    // one at a time would take four.
    let fake = FakeProvider::start();
    let mut plan = ProbePlan::default();
    for i in 0..4 {
        let path = format!("/h{i}/models/m");
        fake.route("GET", &path, Reply::Hang);
        let id = plan.intern_target(target(
            "openai",
            ApiStyle::OpenAiCompletions,
            &fake.url(&format!("/h{i}")),
            "m",
            Some(CredentialKind::ApiKey),
        ));
        plan.agents.push(AgentChain {
            agent: format!("a{i}"),
            entries: vec![entry(0, id, "openai/m")],
        });
    }
    let mut config = Config::default();
    config.schedule.concurrency = 4;
    config.schedule.probe_timeout_seconds = 1.0;
    let started = Instant::now();
    let report = oneshot::run(
        &config,
        &plan,
        &Options {
            agent: None,
            tier: TierChoice::Auto,
            json: true,
        },
    )
    .await;
    let (out, code) = (report.stdout, report.code);
    assert!(
        started.elapsed() < Duration::from_millis(3000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, 1);
    assert_eq!(fake.requests().len(), 4);
    if classification_landed() {
        let doc: Value = serde_json::from_str(&out).unwrap();
        let rows = doc["routes"].as_array().unwrap();
        assert!(rows.iter().all(|r| r["class"] == "timeout"), "{out}");
    }
}

// ---------------------------------------------------------------------------------------
// The real binary.

fn run_cli(config_toml: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("clawprobe.toml");
    std::fs::write(&cfg, config_toml).unwrap();
    let r = output(
        clawprobe(dir.path())
            .arg("--config")
            .arg(&cfg)
            .arg("probe")
            .args(args)
            .env("CANARY_KEY", CANARY)
            .env("CLAWPROBE_LOG", "debug"),
    );
    assert_no_canary("stdout", &r.stdout);
    assert_no_canary("stderr", &r.stderr);
    r
}

fn targets_toml(timeout: f64, targets: &[(&str, &str, &str, &str, &str, bool)]) -> String {
    let mut s = format!("[openclaw]\nenabled = false\n\n[schedule]\nprobe_timeout_seconds = {timeout}\nconcurrency = 2\n");
    for (name, provider, api, base, model, keyed) in targets {
        s.push_str(&format!(
            "\n[[targets]]\nname = \"{name}\"\nagent = \"{name}\"\nprovider = \"{provider}\"\nmodel = \"{model}\"\nbase_url = \"{base}\"\napi = \"{api}\"\n"
        ));
        if *keyed {
            s.push_str("api_key_env = \"CANARY_KEY\"\n");
        }
    }
    s
}

fn rows_by_agent(stdout: &str) -> std::collections::HashMap<String, Value> {
    let doc: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let rows: Vec<Value> = serde_json::from_value(doc["routes"].clone()).unwrap();
    rows.into_iter()
        .map(|r| (r["agent"].as_str().unwrap().to_string(), r))
        .collect()
}

fn healthy_fake() -> FakeProvider {
    let fake = FakeProvider::start();
    fake.route(
        "GET",
        "/oa/v1/models/gpt-c",
        Reply::json(200, json!({"id":"gpt-c"})),
    )
    .route(
        "POST",
        "/oa/v1/chat/completions",
        Reply::json(200, chat_ok()),
    )
    .route(
        "GET",
        "/resp/v1/models/gpt-r",
        Reply::json(200, json!({"id":"gpt-r"})),
    )
    .route(
        "POST",
        "/resp/v1/responses",
        Reply::json(
            200,
            json!({"status":"completed","output":[],"usage":{"input_tokens":5,"output_tokens":2}}),
        ),
    )
    .route(
        "GET",
        "/ant/v1/models/claude-h",
        Reply::json(200, json!({"id":"claude-h"})),
    )
    .route(
        "POST",
        "/ant/v1/messages",
        Reply::json(
            200,
            json!({"type":"message","content":[],"stop_reason":"max_tokens"}),
        ),
    )
    .route(
        "GET",
        "/g/v1beta/models/gem",
        Reply::json(200, json!({"name":"models/gem"})),
    )
    .route(
        "POST",
        "/g/v1beta/models/gem:generateContent",
        Reply::json(200, json!({"candidates":[{"finishReason":"MAX_TOKENS"}]})),
    )
    .route(
        "POST",
        "/ol/api/show",
        Reply::json(200, json!({"details":{}})),
    )
    .route(
        "POST",
        "/ol/api/chat",
        Reply::json(
            200,
            json!({"message":{"role":"assistant","content":""},"done":true}),
        ),
    )
    .route(
        "GET",
        "/or/api/v1/key",
        Reply::json(200, json!({"data":{"limit_remaining":12.5}})),
    )
    .route(
        "GET",
        "/or/api/v1/models/moonshotai/kimi-k2/endpoints",
        Reply::json(200, json!({"data":{"endpoints":[{}]}})),
    )
    .route(
        "POST",
        "/or/api/v1/chat/completions",
        Reply::json(200, chat_ok()),
    );
    fake
}

fn healthy_config(fake: &FakeProvider) -> String {
    targets_toml(
        5.0,
        &[
            (
                "completions",
                "openai",
                "openai-completions",
                &fake.url("/oa/v1"),
                "gpt-c",
                true,
            ),
            (
                "responses",
                "openai",
                "openai-responses",
                &fake.url("/resp/v1"),
                "gpt-r",
                true,
            ),
            (
                "anthropic",
                "anthropic",
                "anthropic-messages",
                &fake.url("/ant"),
                "claude-h",
                true,
            ),
            (
                "google",
                "google",
                "google-generative-ai",
                &fake.url("/g/v1beta"),
                "gem",
                true,
            ),
            (
                "ollama",
                "ollama",
                "ollama",
                &fake.url("/ol"),
                "llama3",
                false,
            ),
            (
                "openrouter",
                "openrouter",
                "openai-completions",
                &fake.url("/or/api/v1"),
                "moonshotai/kimi-k2",
                true,
            ),
        ],
    )
}

#[test]
fn cli_every_style_metadata_then_generation() {
    let fake = healthy_fake();
    let config = healthy_config(&fake);
    let r = run_cli(&config, &["--json", "--tier", "metadata"]);
    if !plan_landed() {
        // plan::build is still a stub: no targets, nothing sent, not healthy.
        assert_eq!(r.code, 1, "{r:?}", r = (&r.stdout, &r.stderr));
        assert!(fake.requests().is_empty());
        return;
    }
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let rows = rows_by_agent(&r.stdout);
    assert_eq!(rows.len(), 6, "{}", r.stdout);
    for (agent, row) in &rows {
        assert_eq!(row["class"], "ok", "{agent}: {row}");
        assert_eq!(row["tier"], "metadata", "{agent}: {row}");
        assert_eq!(row["role"], "primary");
    }
    assert_eq!(rows["completions"]["profile"], "env:CANARY_KEY");
    // Metadata: zero-token requests only.
    assert_eq!(
        one(&fake, "/oa/v1/models/gpt-c").header("authorization"),
        Some(format!("Bearer {CANARY}").as_str())
    );
    assert_eq!(
        one(&fake, "/ant/v1/models/claude-h").header("x-api-key"),
        Some(CANARY)
    );
    assert_eq!(
        one(&fake, "/g/v1beta/models/gem").header("x-goog-api-key"),
        Some(CANARY)
    );
    assert!(one(&fake, "/ol/api/show").header("authorization").is_none());
    one(&fake, "/or/api/v1/key");
    for req in fake.requests() {
        assert!(
            !req.path.contains("chat")
                && !req.path.contains("messages")
                && !req.path.contains("generate")
                && !req.path.contains("responses"),
            "{}",
            req.path
        );
    }

    // The default: metadata first, then one generation request per route that passed it.
    let metadata_requests = fake.requests().len();
    let r = run_cli(&config, &["--json"]);
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let rows = rows_by_agent(&r.stdout);
    for (agent, row) in &rows {
        assert_eq!(row["class"], "ok", "{agent}: {row}");
        assert_eq!(row["source"], "generation", "{agent}: {row}");
        assert_eq!(row["tier"], "generation", "{agent}: {row}");
    }
    assert_eq!(
        fake.requests().len(),
        2 * metadata_requests + 6,
        "the same metadata requests again, then one generation request per route"
    );
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["spent"]["generation_requests"], 6);
    assert_eq!(doc["spent"]["metadata_probes"], 6);
    assert!(doc["spent"]["tokens"].as_u64().unwrap() > 0, "{}", r.stdout);

    // --tier generation: no metadata requests at all (a fresh fake counts from zero).
    let fake = healthy_fake();
    let config = healthy_config(&fake);
    let before = fake.requests().len();
    let r = run_cli(&config, &["--tier", "generation"]);
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert_eq!(fake.requests().len(), before + 6);
    assert_eq!(
        one(&fake, "/oa/v1/chat/completions").json()["max_tokens"],
        1
    );
    assert_eq!(
        one(&fake, "/resp/v1/responses").json()["max_output_tokens"],
        16
    );
    assert_eq!(one(&fake, "/ant/v1/messages").json()["max_tokens"], 1);
    assert_eq!(
        one(&fake, "/g/v1beta/models/gem:generateContent").json()["generationConfig"]
            ["maxOutputTokens"],
        1
    );
    assert_eq!(
        one(&fake, "/ol/api/chat").json()["options"]["num_predict"],
        1
    );
    let table = &r.stdout;
    assert!(table.starts_with("AGENT"), "{table}");
    assert_eq!(
        table.lines().filter(|l| l.contains(" ok ")).count(),
        6,
        "{table}"
    );
}

#[test]
fn cli_failures_timeout_reset_closed_port_and_auth() {
    let fake = FakeProvider::start();
    fake.route("GET", "/hang/v1/models/m", Reply::Hang)
        .route("GET", "/reset/v1/models/m", Reply::Reset)
        .route(
            "GET",
            "/auth/v1/models/m",
            Reply::json(
                401,
                json!({"error":{
            "message": format!("Incorrect API key provided: {CANARY}"), "code":"invalid_api_key"}}),
            ),
        );
    let closed = format!("http://127.0.0.1:{}/v1", closed_port());
    let config = targets_toml(
        1.0,
        &[
            (
                "hang",
                "openai",
                "openai-completions",
                &fake.url("/hang/v1"),
                "m",
                true,
            ),
            (
                "reset",
                "openai",
                "openai-completions",
                &fake.url("/reset/v1"),
                "m",
                true,
            ),
            ("closed", "openai", "openai-completions", &closed, "m", true),
            (
                "auth",
                "openai",
                "openai-completions",
                &fake.url("/auth/v1"),
                "m",
                true,
            ),
        ],
    );
    let started = Instant::now();
    let r = run_cli(&config, &["--json"]);
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    if !plan_landed() {
        assert!(fake.requests().is_empty());
        return;
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let rows = rows_by_agent(&r.stdout);
    assert_eq!(rows.len(), 4, "{}", r.stdout);
    assert_eq!(rows["auth"]["http_status"], 401);
    for row in rows.values() {
        assert_ne!(row["class"], "ok", "{row}");
    }
    assert_eq!(fake.requests_to("/hang/v1/models/m").len(), 1);
    assert_eq!(fake.requests_to("/reset/v1/models/m").len(), 1);
    if classification_landed() {
        assert_eq!(rows["hang"]["class"], "timeout", "{}", r.stdout);
        assert_eq!(rows["reset"]["class"], "network", "{}", r.stdout);
        assert_eq!(rows["closed"]["class"], "network", "{}", r.stdout);
        assert_eq!(rows["auth"]["class"], "auth", "{}", r.stdout);
    }
}

#[test]
fn cli_agent_filter_and_unsupported_api() {
    let fake = healthy_fake();
    let mut config = healthy_config(&fake);
    config.push_str(&format!(
        "\n[[targets]]\nname = \"bedrock\"\nagent = \"bedrock\"\nprovider = \"amazon-bedrock\"\nmodel = \"m\"\nbase_url = \"{}\"\napi = \"bedrock-converse-stream\"\napi_key_env = \"CANARY_KEY\"\n",
        fake.url("/br")
    ));
    let r = run_cli(&config, &["--json", "--agent", "bedrock"]);
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    if !plan_landed() {
        return;
    }
    let rows = rows_by_agent(&r.stdout);
    assert_eq!(rows.len(), 1, "{}", r.stdout);
    assert_eq!(rows["bedrock"]["class"], "skipped");
    assert_eq!(rows["bedrock"]["reason"], "unsupported_api");
    assert!(
        fake.requests().is_empty(),
        "nothing is sent for an unsupported API or other agents"
    );
}

/// The mission's first case, as a new user meets it: an OpenAI key with no credits, a
/// rate-limited Gemini key and an overloaded Anthropic model. Their zero-token metadata
/// requests all succeed (the keys are valid and the models exist); only a generation
/// request sees the failure. The default tier must report all three, with one generation
/// request per route and nothing more.
#[test]
fn cli_default_tier_sees_billing_rate_limit_and_overload_with_one_generation_each() {
    let fake = FakeProvider::start();
    fake.route(
        "GET",
        "/oa/v1/models/gpt-5-mini",
        Reply::json(200, json!({"id":"gpt-5-mini","object":"model","owned_by":"openai"})),
    )
    // OpenAI's "no credits" is a 429 with insufficient_quota (ERRORS.md).
    .route(
        "POST",
        "/oa/v1/chat/completions",
        Reply::json(
            429,
            json!({"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}),
        ),
    )
    .route(
        "GET",
        "/g/v1beta/models/gemini-2.5-flash",
        Reply::json(200, json!({"name":"models/gemini-2.5-flash","displayName":"Gemini 2.5 Flash"})),
    )
    .route(
        "POST",
        "/g/v1beta/models/gemini-2.5-flash:generateContent",
        Reply::json(
            429,
            json!({"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.5-flash"},"quotaValue":"10"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}),
        ),
    )
    .route(
        "GET",
        "/ant/v1/models/claude-haiku-4-5",
        Reply::json(200, json!({"id":"claude-haiku-4-5","type":"model","display_name":"Claude Haiku 4.5"})),
    )
    .route(
        "POST",
        "/ant/v1/messages",
        Reply::json(
            529,
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
        ),
    );
    let config = targets_toml(
        5.0,
        &[
            (
                "billing",
                "openai",
                "openai-completions",
                &fake.url("/oa/v1"),
                "gpt-5-mini",
                true,
            ),
            (
                "ratelimited",
                "google",
                "google-generative-ai",
                &fake.url("/g/v1beta"),
                "gemini-2.5-flash",
                true,
            ),
            (
                "overloaded",
                "anthropic",
                "anthropic-messages",
                &fake.url("/ant"),
                "claude-haiku-4-5",
                true,
            ),
        ],
    );

    // Zero tokens only: all three look fine, which is why this is not the default.
    let r = run_cli(&config, &["--json", "--tier", "metadata"]);
    let rows = rows_by_agent(&r.stdout);
    for agent in ["billing", "ratelimited", "overloaded"] {
        assert_eq!(rows[agent]["class"], "ok", "{agent}: {}", r.stdout);
    }
    assert!(fake.requests().iter().all(|q| q.method == "GET"));

    let before = fake.requests().len();
    let r = run_cli(&config, &["--json"]);
    assert_eq!(r.code, 1, "no agent works: {}", r.stdout);
    let rows = rows_by_agent(&r.stdout);
    for (agent, class) in [
        ("billing", "billing"),
        ("ratelimited", "rate_limit"),
        ("overloaded", "overloaded"),
    ] {
        assert_eq!(rows[agent]["class"], class, "{agent}: {}", r.stdout);
        assert_eq!(rows[agent]["source"], "generation", "{agent}");
        assert_eq!(rows[agent]["tier"], "generation", "{agent}");
    }
    let sent: Vec<_> = fake.requests()[before..].to_vec();
    let posts = sent.iter().filter(|q| q.method == "POST").count();
    assert_eq!(posts, 3, "one generation request per route: {sent:#?}");
    assert_eq!(sent.len(), 6, "plus one metadata request each");
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["spent"]["generation_requests"], 3);

    // The table says the same, and the spend goes to stderr.
    let r = run_cli(&config, &[]);
    assert_eq!(r.code, 1);
    for class in ["billing", "rate_limit", "overloaded"] {
        assert!(r.stdout.contains(class), "{class}: {}", r.stdout);
    }
    assert!(
        r.stderr.contains("probe: spent 3 generation requests"),
        "{}",
        r.stderr
    );
}
