//! Property tests: the code that reads untrusted input (provider responses, headers,
//! OpenClaw's JSON5 config, model refs, clawprobe's TOML) never panics, and redaction never
//! lets a secret through. Short by design (CI runs them on every push, under ~20 s); long
//! fuzzing sessions use cargo-fuzz, see docs/fuzzing.md.

use clawprobe::classify::{self, Observation, TransportError};
use clawprobe::openclaw::{config_file, modelref};
use clawprobe::probe::google::GoogleGenerativeAi;
use clawprobe::probe::Prober;
use clawprobe::ratelimit;
use clawprobe::secret::{redact, redact_cut, redact_key_shapes, strip_url_secrets, Secret};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // No regression files in the source tree: failures print the minimal input.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const PROVIDERS: &[&str] = &[
    "openai",
    "anthropic",
    "google",
    "openrouter",
    "groq",
    "ollama",
    "mistral",
    "xai",
    "deepseek",
    "unknown-x",
];
const APIS: &[&str] = &[
    "openai-completions",
    "openai-responses",
    "anthropic-messages",
    "google-generative-ai",
    "ollama",
    "bedrock-converse-stream",
];
const HEADER_NAMES: &[&str] = &[
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
    "anthropic-ratelimit-requests-limit",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "content-type",
    "x-should-retry",
];

/// Header values that look like what providers send, and garbage.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,20}",
        "-?[0-9]{1,6}\\.[0-9]{0,9}",
        "([0-9]{1,4}(h|m|s|ms|us|ns)){1,4}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})",
        "(Mon|Fri), [0-9]{2} (Jan|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
        "[ -~]{0,40}",
        Just("18446744073709551616".to_string()),
        Just("1e308".to_string()),
        Just("NaN".to_string()),
        Just("-inf".to_string()),
        Just("99999999999999999999h".to_string()),
    ]
}

fn headers() -> impl Strategy<Value = http::HeaderMap> {
    proptest::collection::vec(
        (proptest::sample::select(HEADER_NAMES), header_value()),
        0..8,
    )
    .prop_map(|pairs| {
        let mut h = http::HeaderMap::new();
        for (n, v) in pairs {
            if let Ok(v) = http::HeaderValue::from_str(&v) {
                h.append(n, v);
            }
        }
        h
    })
}

/// Provider-like JSON error bodies, mutated, plus raw bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let word = "[a-zA-Z_ ]{0,24}";
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        (word, word, word).prop_map(|(m, t, c)| serde_json::json!({"error": {"message": m, "type": t, "code": c}})
            .to_string()
            .into_bytes()),
        (word, 0u16..1000, word).prop_map(|(m, code, st)| serde_json::json!({"error": {"message": m, "code": code, "status": st,
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{code}s")}]}})
            .to_string()
            .into_bytes()),
        (word, word).prop_map(|(m, t)| serde_json::json!({"type": "error", "error": {"type": t, "message": m}})
            .to_string()
            .into_bytes()),
        (word, any::<i64>()).prop_map(|(m, c)| serde_json::json!([{"error": {"message": m, "code": c}}])
            .to_string()
            .into_bytes()),
        Just(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
        "[\\[{\"]{0,300}".prop_map(String::into_bytes),
    ]
}

fn transport() -> impl Strategy<Value = Option<TransportError>> {
    proptest::option::of(proptest::sample::select(vec![
        TransportError::Timeout,
        TransportError::Connect,
        TransportError::Dns,
        TransportError::Tls,
        TransportError::BodyInterrupted,
        TransportError::BodyTooLarge,
        TransportError::Other,
    ]))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn classify_never_panics(
        provider in proptest::sample::select(PROVIDERS),
        api in proptest::sample::select(APIS),
        status in proptest::option::of(prop_oneof![100u16..600, any::<u16>()]),
        h in headers(),
        b in body(),
        t in transport(),
    ) {
        let obs = Observation { provider, api, status, headers: &h, body: &b, transport: t };
        let v = classify::classify(&obs);
        // Reasons end up in logs and JSON: short machine words.
        prop_assert!(v.reason.len() <= 64, "{:?}", v.reason);
        let _ = classify::classify_static(&obs);
        if let Some(m) = classify::error_message(&b) {
            prop_assert!(m.chars().count() <= classify::MESSAGE_MAX_CHARS + 3, "{m}");
        }
    }

    #[test]
    fn ratelimit_parsers_never_panic(h in headers(), b in body(), secs in 0u64..4_000_000_000) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        let info = ratelimit::parse_headers(&h, now);
        let _ = format!("{info:?}");
        let _ = GoogleGenerativeAi.rate_limits(&h, &b, now);
        if let Some(d) = ratelimit::gemini_retry_delay(&b) {
            prop_assert!(d <= Duration::from_secs(366 * 24 * 3600), "{d:?}");
        }
    }

    #[test]
    fn go_duration_parser_never_panics(s in prop_oneof!["[0-9.hmsuµn]{0,30}", "[ -~]{0,30}"]) {
        let _ = ratelimit::parse_go_duration(&s);
    }

    #[test]
    fn redact_removes_every_secret_and_its_prefix(
        secret in "[A-Za-z0-9_-]{8,48}",
        before in "[ -~]{0,40}",
        after in "[ -~]{0,40}",
        other in "[A-Za-z0-9]{8,20}",
    ) {
        prop_assume!(!"[REDACTED]".contains(secret.as_str()));
        let s = Secret::new(secret.clone());
        let o = Secret::new(other.clone());
        let text = format!("{before}{secret}{after} key={} {before}", &secret[..secret.len().min(12)]);
        let out = redact(&text, &[&o, &s]);
        prop_assert!(!out.contains(&secret), "{out}");
        if secret.len() >= 10 {
            prop_assert!(!out.contains(&secret[..secret.len().min(12)]), "{out}");
        }
        // Idempotent enough: redacting again removes nothing new that was a secret.
        let again = redact(&out, &[&s]);
        prop_assert!(!again.contains(&secret));
    }

    /// Redaction before the cut, and the cut's residue masked: wherever the cut falls in an
    /// echoed key, at most its first two characters survive.
    #[test]
    fn redact_cut_never_leaves_a_key_head(
        secret in "[A-Za-z0-9_-]{8,48}",
        pad in 0usize..120,
        max in 20usize..100,
        filler in "[ .,:;]{1,3}",
    ) {
        prop_assume!(!"[REDACTED]".contains(&secret[..3]));
        let s = Secret::new(secret.clone());
        let text = format!("{}{filler}{secret}{filler}{secret}", ".".repeat(pad));
        let out = redact_cut(&text, &[&s], max);
        prop_assert!(!out.contains(&secret[..3]), "{out}");
        prop_assert!(out.chars().count() <= max + 1 + "[REDACTED]".len(), "{out}");
    }

    /// Userinfo and query never survive, wherever a URL stands in the text.
    #[test]
    fn url_userinfo_and_query_are_stripped(
        user in "[a-z]{1,8}",
        pass in "[A-Za-z0-9]{6,16}",
        query in "[A-Za-z0-9=&]{1,20}",
        before in "[ -~]{0,30}",
        after in "[ \t]{1}[ -~]{0,30}",
    ) {
        prop_assume!(!before.contains(&pass) && !after.contains(&pass));
        let text = format!("{before}https://{user}:{pass}@host.example:8443/v1/x?{query}QQ{after}");
        let out = strip_url_secrets(&text);
        prop_assert!(!out.contains(&pass), "{out}");
        prop_assert!(!out.contains(&format!("{query}QQ")), "{out}");
        let out = redact_key_shapes(&text);
        prop_assert!(!out.contains(&pass), "{out}");
    }

    #[test]
    fn redact_never_panics_on_any_text(text in "\\PC{0,200}", secret in "\\PC{0,30}") {
        let s = Secret::new(secret);
        let _ = redact(&text, &[&s]);
        let out = redact_key_shapes(&text);
        // Masking only ever shortens key-shaped runs; it never grows text unboundedly.
        prop_assert!(out.len() <= text.len() + text.len() / 2 + 16);
    }

    #[test]
    fn key_shapes_are_masked(prefix in proptest::sample::select(vec!["sk-", "sk-ant-", "sk-or-v1-", "gsk_", "xai-", "AIza", "Bearer "]),
                             tail in "[A-Za-z0-9_-]{12,60}",
                             around in "[ ,:;(){}\"']{0,3}") {
        let key = format!("{prefix}{tail}");
        let out = redact_key_shapes(&format!("x{around}{key}{around}y"));
        prop_assert!(!out.contains(&tail), "{out}");
    }

    #[test]
    fn json5_reader_never_panics(text in prop_oneof![
        "\\PC{0,200}",
        "[{}\\[\\]:,\"'a-z0-9/*\n $.]{0,200}",
        Just("{ $include: \"../x.json5\" }".to_string()),
    ]) {
        let _ = config_file::parse_json5(&text, Path::new("openclaw.json"));
        let (_, missing) = config_file::substitute_str(&text, &|k| (k.len() % 2 == 0).then(|| "v".to_string()));
        let _ = missing;
    }

    #[test]
    fn json5_valid_documents_parse(v in json_value()) {
        let text = serde_json::to_string_pretty(&v).unwrap();
        let parsed = config_file::parse_json5(&text, Path::new("openclaw.json"));
        prop_assert!(parsed.is_ok(), "{text}: {parsed:?}");
    }

    #[test]
    fn model_ref_parser_never_panics(raw in prop_oneof![
        "\\PC{0,60}",
        "[a-z.@/ -]{0,40}",
        "[a-z]{1,8}/[a-z0-9./-]{0,20}(@[a-z:]{0,10})?",
    ], alias in "[a-z]{1,6}") {
        let _ = modelref::split(&raw);
        let _ = modelref::normalize_provider(&raw);
        let mut aliases = BTreeMap::new();
        aliases.insert(alias.clone(), raw.clone());
        let mut configured = BTreeMap::new();
        configured.insert("acme".to_string(), vec![raw.clone(), alias.clone()]);
        let ctx = modelref::RefContext { aliases: &aliases, configured: &configured };
        if let Ok(r) = modelref::resolve(&raw, &ctx) {
            prop_assert!(!r.provider.is_empty() && !r.model.is_empty(), "{raw:?} -> {r:?}");
        }
        let _ = modelref::resolve(&alias, &ctx);
        let _ = modelref::edit_distance(&raw, &alias);
    }

    #[test]
    fn clawprobe_toml_reader_never_panics(text in prop_oneof![
        "\\PC{0,200}",
        "(\\[(server|schedule|budget|openclaw)\\]\n([a-z_]{1,20} = (\"[ -~]{0,10}\"|-?[0-9.e]{1,8}|true)\n){0,4}){0,3}",
    ]) {
        let _ = clawprobe::config::Config::parse_str(&text, Path::new("clawprobe.toml"));
    }

    #[test]
    fn openclaw_log_lines_never_panic(
        raw in proptest::collection::vec(any::<u8>(), 0..300),
        fields in proptest::collection::btree_map(
            proptest::sample::select(vec![
                "decision", "candidateProvider", "candidateModel", "requestedProvider",
                "requestedModel", "nextCandidateProvider", "nextCandidateModel", "reason",
                "status", "httpCode", "attempt", "isPrimary", "agentId", "lane",
                "fallbackStepFinalOutcome", "suppressedDuplicateCount", "profileId",
                "provider", "model",
            ]),
            json_value(),
            0..12,
        ),
        kind in proptest::sample::select(vec!["model_fallback_decision", "embedded_run_failover_decision"]),
        time in "\\PC{0,30}",
        cut in 0usize..800,
    ) {
        use clawprobe::traffic::{event::parse_line, TrafficState};
        let mut state = TrafficState::new(&clawprobe::plan::ProbePlan::default(), Duration::from_secs(900));
        let mut feed = |line: &[u8]| {
            if let Ok(Some(e)) = parse_line(line) {
                state.apply(&e, SystemTime::now());
            }
        };
        feed(&raw);
        let mut tagged = b"model_fallback_decision".to_vec();
        tagged.extend_from_slice(&raw);
        feed(&tagged);
        let mut ev = serde_json::Map::new();
        ev.insert("event".into(), kind.into());
        for (k, v) in fields {
            ev.insert(k.into(), v);
        }
        let line = serde_json::json!({"0": "{\"subsystem\":\"model-fallback/decision\"}", "1": ev, "time": time}).to_string();
        feed(line.as_bytes());
        feed(&line.as_bytes()[..cut.min(line.len())]);
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i32>().prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-zA-Z_$][a-zA-Z0-9_]{0,8}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Deeply nested input must be an error, not a stack overflow (which aborts the process:
/// for `serve`, a crash on reload). 100k levels, on a thread with a tokio-worker-size stack.
#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let depth = 100_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let _ = serde_json::from_slice::<serde_json::Value>(arrays.as_bytes());
            let _ = ratelimit::gemini_retry_delay(arrays.as_bytes());
            let h = http::HeaderMap::new();
            let _ = classify::classify(&Observation {
                provider: "openai",
                api: "openai-completions",
                status: Some(400),
                headers: &h,
                body: arrays.as_bytes(),
                transport: None,
            });
            let toml = format!("a = {arrays}");
            let _ = clawprobe::config::Config::parse_str(&toml, Path::new("clawprobe.toml"));
        })
        .unwrap()
        .join()
        .expect("no overflow in classify/ratelimit/toml");
}

/// Whether the JSON5 reader survives `depth` levels on a 2 MiB stack. Runs in a child
/// process (this test binary, filtered to one test) because an overflow aborts.
fn json5_depth_survives(depth: usize) -> bool {
    if let Ok(d) = std::env::var("CLAWPROBE_JSON5_DEPTH_CHILD") {
        let depth: usize = d.parse().unwrap();
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}1{}", "{a:".repeat(depth), "}".repeat(depth));
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                let _ = config_file::parse_json5(&arrays, Path::new("openclaw.json"));
                let _ = config_file::parse_json5(&objects, Path::new("openclaw.json"));
            })
            .unwrap()
            .join()
            .unwrap();
        return true;
    }
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "json5_depth_child",
            "--include-ignored",
            "--test-threads=1",
        ])
        .env("CLAWPROBE_JSON5_DEPTH_CHILD", depth.to_string())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Only does something when started by [`json5_depth_survives`].
#[test]
#[ignore = "helper process for the JSON5 depth tests"]
fn json5_depth_child() {
    if std::env::var("CLAWPROBE_JSON5_DEPTH_CHILD").is_ok() {
        assert!(json5_depth_survives(0));
    }
}

/// Realistic nesting (far deeper than any OpenClaw config) parses on a small stack.
#[test]
fn json5_reader_handles_moderate_nesting() {
    assert!(json5_depth_survives(200));
}

/// A corrupted or hostile openclaw.json with 100k nested brackets must be an error, not a
/// stack overflow that aborts the process (`serve` must keep the last good plan):
/// `parse_json5` rejects nesting deeper than `MAX_NESTING` before parsing.
#[test]
fn json5_reader_deep_nesting_is_an_error_not_a_crash() {
    assert!(json5_depth_survives(100_000));
}

// ---------------------------------------------------------------------------------------
// The web config reader (`--web.config.file`): never panics, never echoes a value, and a
// running clawprobe never lets a re-read weaken what is in force.

fn web_config_text() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("PWmark-hunter2".to_string()),
        "[ -~]{0,20}".prop_map(|v| format!("PWmark{v}")),
        Just("[PWmark, 1]".to_string()),
        Just("{a: PWmark}".to_string()),
    ];
    let key = proptest::sample::select(vec![
        "tls_server_config",
        "cert_file",
        "key_file",
        "client_auth_type",
        "client_ca_file",
        "min_version",
        "max_version",
        "cipher_suites",
        "basic_auth_users",
        "http_server_config",
        "headers",
        "http2",
        "prom",
    ]);
    let line = (0usize..3, key, value)
        .prop_map(|(indent, k, v)| format!("{}{k}: {v}", "  ".repeat(indent)));
    prop_oneof![
        "\\PC{0,300}",
        proptest::collection::vec(line, 0..8).prop_map(|l| l.join("\n")),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn web_config_reader_never_panics_nor_echoes_values(text in web_config_text()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        if let Err(e) = clawprobe::server::webconfig::check_text(&text, &path) {
            let msg = e.to_string();
            prop_assert!(msg.contains("web.yml"), "{msg}");
            prop_assert!(!msg.contains("PWmark"), "a value was echoed: {msg}");
        }
    }
}

/// The files a web config can name: one self-signed certificate and key, made once.
fn web_tls_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(d.path().join("c.pem"), cert.pem()).unwrap();
        std::fs::write(d.path().join("k.pem"), key.serialize_pem()).unwrap();
        d
    })
    .path()
}

/// Contents a web.yml goes through: good ones of every strength, and what an in-place
/// rewrite or a typo leaves.
fn web_contents() -> Vec<String> {
    let d = web_tls_dir().display().to_string();
    let hash = "$2b$04$3xYPH6ZHXuDNvbM8mo6wQe4Cz3bWlwTLK8W/8C0dk2jGdq1nEozT6";
    let tls = format!("tls_server_config:\n  cert_file: {d}/c.pem\n  key_file: {d}/k.pem\n");
    let mtls = format!(
        "{tls}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {d}/c.pem\n"
    );
    let users = format!("basic_auth_users:\n  prom: '{hash}'\n");
    vec![
        tls.clone(),
        format!("{tls}{users}"),
        users.clone(),
        format!("{mtls}{users}"),
        "{}\n".into(),
        String::new(),
        "# half\n".into(),
        "tls_server_config: [\n".into(),
        format!("{tls}{users}")[..30].to_string(),
        "basic_auth_users:\n  prom: plain\n".into(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..config() })]

    /// Whatever sequence of contents the file goes through and however the polls fall,
    /// TLS, a required client certificate and basic auth, once in force, stay in force.
    #[test]
    fn web_config_reloads_never_weaken_what_is_in_force(
        start in 0usize..5,
        steps in proptest::collection::vec((0usize..10, 0usize..3), 1..12),
    ) {
        use clawprobe::server::webconfig::WebConfig;
        let contents = web_contents();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, &contents[start]).unwrap();
        let w = WebConfig::load(&path).unwrap();
        let mut floor = w.current().summary();
        for (i, (c, polls)) in steps.into_iter().enumerate() {
            std::fs::write(&path, &contents[c]).unwrap();
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + i as u64)).unwrap();
            for _ in 0..polls {
                w.poll();
                let now = w.current().summary();
                prop_assert!(now.tls || !floor.tls, "TLS dropped: {floor:?} -> {now:?}");
                prop_assert!(now.client_cert_required || !floor.client_cert_required, "mTLS dropped: {floor:?} -> {now:?}");
                prop_assert!(now.users > 0 || floor.users == 0, "auth dropped: {floor:?} -> {now:?}");
                floor.tls |= now.tls;
                floor.client_cert_required |= now.client_cert_required;
                floor.users = floor.users.max(now.users);
            }
        }
    }
}
