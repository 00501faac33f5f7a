//! Criterion benchmarks of clawprobe's hot paths: `cargo bench --bench hot_paths`.
//!
//! - `classify/*`: [`clawprobe::classify::classify`] over every real provider response in
//!   `tests/fixtures/responses/cases.toml` (the same bodies the classification tests use).
//! - `ratelimit/*`: [`clawprobe::ratelimit::parse_headers`] over OpenAI-, Anthropic- and
//!   OpenRouter-style header sets as providers send them.
//! - `plan_build/*`: [`clawprobe::plan::build`] on a synthetic OpenClaw install (JSON5
//!   `openclaw.json` with 1,000 `agents.entries` of one model, or 200 of 5 models, on 7
//!   providers on loopback) written to a temp dir: the start-up and reload cost of discovery.
//! - `metrics_render/10k_series`: [`clawprobe::metrics::Metrics::render`] for a hand-built
//!   plan and status store sized to about 10,000 series: the cost of one `/metrics` scrape.
//! - `metrics_gzip/*`: compressing that exposition for a scraper that accepts gzip, as
//!   `/metrics` does once per render ([`clawprobe::metrics::gzip`], level 1), and at
//!   flate2's default level 6 for comparison; the sizes are printed.
//!
//! See BENCHMARKS.md for the figures and bench/run.sh for the end-to-end load harness.
//! Nothing here sends a request or touches the network.

use clawprobe::class::Class;
use clawprobe::classify::{classify, Observation};
use clawprobe::config::Config;
use clawprobe::metrics::{BudgetRemaining, Metrics};
use clawprobe::plan::{
    AgentChain, ApiStyle, ChainEntry, Credential, CredentialKind, CredentialSource, ProbePlan,
    Role, Target,
};
use clawprobe::probe::{ProbeResult, Tier, Usage};
use clawprobe::ratelimit::parse_headers;
use clawprobe::secret::Secret;
use clawprobe::state::Store;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde::Deserialize;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const CASES: &str = include_str!("../tests/fixtures/responses/cases.toml");

#[derive(Deserialize)]
struct Table {
    case: Vec<Case>,
}

/// The fields of a classification fixture the benchmark needs (the rest is ignored).
#[derive(Deserialize)]
struct Case {
    provider: String,
    api: String,
    status: u16,
    #[serde(default)]
    content_type: Option<String>,
    body: String,
}

fn bench_classify(c: &mut Criterion) {
    let cases = toml::from_str::<Table>(CASES)
        .expect("tests/fixtures/responses/cases.toml parses")
        .case;
    let prepared: Vec<(http::HeaderMap, &Case)> = cases
        .iter()
        .map(|case| {
            let mut h = http::HeaderMap::new();
            let ct = case.content_type.as_deref().unwrap_or("application/json");
            h.insert(
                http::header::CONTENT_TYPE,
                ct.parse().expect("content type"),
            );
            (h, case)
        })
        .collect();
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(prepared.len() as u64));
    g.bench_function(format!("all_{}_real_bodies", prepared.len()), |b| {
        b.iter(|| {
            for (headers, case) in &prepared {
                let obs = Observation {
                    provider: &case.provider,
                    api: &case.api,
                    status: Some(case.status),
                    headers,
                    body: case.body.as_bytes(),
                    transport: None,
                };
                black_box(classify(black_box(&obs)));
            }
        })
    });
    // The common case in steady state: a 200 needs no body parsing at all.
    let ok_headers = http::HeaderMap::new();
    g.throughput(Throughput::Elements(1));
    g.bench_function("ok_200", |b| {
        b.iter(|| {
            let obs = Observation {
                provider: "openai",
                api: "openai-completions",
                status: Some(200),
                headers: &ok_headers,
                body: br#"{"id":"gpt-5-mini","object":"model"}"#,
                transport: None,
            };
            black_box(classify(black_box(&obs)))
        })
    });
    g.finish();
}

fn header_map(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
            v.parse().expect("header value"),
        );
    }
    h
}

fn bench_ratelimit(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let sets = [
        (
            "openai",
            header_map(&[
                ("content-type", "application/json"),
                ("x-ratelimit-limit-requests", "5000"),
                ("x-ratelimit-remaining-requests", "4999"),
                ("x-ratelimit-reset-requests", "12ms"),
                ("x-ratelimit-limit-tokens", "2000000"),
                ("x-ratelimit-remaining-tokens", "1999990"),
                ("x-ratelimit-reset-tokens", "6m0s"),
                ("openai-processing-ms", "212"),
                ("x-request-id", "req_0123456789abcdef"),
            ]),
        ),
        (
            "anthropic",
            header_map(&[
                ("content-type", "application/json"),
                ("anthropic-ratelimit-requests-limit", "50"),
                ("anthropic-ratelimit-requests-remaining", "49"),
                ("anthropic-ratelimit-requests-reset", "2027-01-15T08:00:30Z"),
                ("anthropic-ratelimit-input-tokens-limit", "40000"),
                ("anthropic-ratelimit-input-tokens-remaining", "39000"),
                (
                    "anthropic-ratelimit-input-tokens-reset",
                    "2027-01-15T08:00:30Z",
                ),
                ("anthropic-ratelimit-output-tokens-limit", "8000"),
                ("anthropic-ratelimit-output-tokens-remaining", "7990"),
                (
                    "anthropic-ratelimit-output-tokens-reset",
                    "2027-01-15T08:00:30Z",
                ),
                ("request-id", "req_011CV0123456789"),
            ]),
        ),
        (
            "openrouter_429",
            header_map(&[
                ("content-type", "application/json"),
                ("x-ratelimit-limit", "20"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1800000060000"),
                ("retry-after", "37"),
            ]),
        ),
        ("none", header_map(&[("content-type", "application/json")])),
    ];
    let mut g = c.benchmark_group("ratelimit");
    for (name, headers) in &sets {
        g.bench_function(*name, |b| {
            b.iter(|| black_box(parse_headers(black_box(headers), now)))
        });
    }
    g.finish();
}

/// Writes a synthetic OpenClaw install: `openclaw.json` (JSON5: comments, trailing commas)
/// with `agents` agents of `models` models each (primary + fallbacks), every model unique,
/// spread over `providers` OpenAI-compatible providers on loopback with literal keys.
/// Returns the state dir. The same shape as bench/gen_install.py writes for the load run.
fn write_install(dir: &std::path::Path, agents: usize, models: usize, providers: usize) {
    let mut s = String::from(
        "// synthetic install for benches/hot_paths.rs\n{\n  models: {\n    providers: {\n",
    );
    let per_provider = (agents * models).div_ceil(providers);
    for p in 0..providers {
        let _ = writeln!(
            s,
            "      \"bench{p}\": {{ baseUrl: \"http://127.0.0.1:9/v1\", api: \"openai-completions\", apiKey: \"sk-bench-{p:04}-0123456789abcdef\",\n        models: ["
        );
        for i in 0..per_provider {
            let _ = writeln!(s, "          {{ id: \"m{i}\", name: \"Model {i}\" }},");
        }
        s.push_str("        ],\n      },\n");
    }
    s.push_str("    },\n  },\n  agents: {\n    ownership: \"explicit\",\n    defaults: { model: { primary: \"bench0/m0\" } },\n    entries: {\n");
    for a in 0..agents {
        let refs: Vec<String> = (0..models)
            .map(|j| {
                let n = a * models + j;
                format!("\"bench{}/m{}\"", n % providers, n / providers)
            })
            .collect();
        let _ = writeln!(
            s,
            "      \"agent{a}\": {{ model: {{ primary: {}, fallbacks: [{}] }} }},",
            refs[0],
            refs[1..].join(", ")
        );
    }
    s.push_str("    },\n  },\n}\n");
    std::fs::write(dir.join("openclaw.json"), s).expect("write openclaw.json");
}

fn bench_plan_build(c: &mut Criterion) {
    let mut g = c.benchmark_group("plan_build");
    g.sample_size(10);
    // 1,000 agents with one model each, and 200 agents x 5 models: 1,000 targets both ways.
    // (1,000 agents x 5 models = 5,000 targets took ~13 s per build on the loaded bench
    // machine, see BENCHMARKS.md; too slow to sample here.)
    for (agents, models) in [(1000usize, 1usize), (200, 5)] {
        let dir = tempfile::tempdir().expect("temp dir");
        write_install(dir.path(), agents, models, 7);
        let toml = format!(
            "[openclaw]\nstate_dir = {:?}\nconfig_path = {:?}\nrequired = true\n",
            dir.path(),
            dir.path().join("openclaw.json")
        );
        let cfg_path = dir.path().join("clawprobe.toml");
        std::fs::write(&cfg_path, toml).expect("write clawprobe.toml");
        let config = Config::load(&cfg_path).expect("bench config loads");
        match clawprobe::plan::build(&config) {
            Ok(plan) => eprintln!(
                "plan_build: {} agents, {} targets (expected {})",
                plan.agents.len(),
                plan.targets.len(),
                agents * models
            ),
            Err(e) => eprintln!("plan_build: build failed: {e}"),
        }
        g.bench_function(format!("{agents}_agents_{models}_models"), |b| {
            b.iter(|| black_box(clawprobe::plan::build(black_box(&config))))
        });
    }
    g.finish();
}

/// A plan of `agents` agents with `models` chain entries each, one target per entry, spread
/// over 10 providers, and a store in which every target has an ok metadata result with
/// rate-limit headers. Series per entry: model_up, 13 model_status, 2 timestamps; per
/// target: 2 probes_total + 8 pre-initialised error counters; per agent: 4.
fn sized_plan(agents: usize, models: usize) -> (ProbePlan, Store, Metrics) {
    let mut plan = ProbePlan::default();
    for a in 0..agents {
        let mut entries = Vec::new();
        for j in 0..models {
            let n = a * models + j;
            let provider = format!("bench{}", n % 10);
            let model = format!("model-{n}");
            let target = Target {
                id: 0,
                provider: provider.clone(),
                model: model.clone(),
                base_url: "http://127.0.0.1:9/v1".into(),
                api: ApiStyle::OpenAiCompletions,
                credential: Some(Credential {
                    source: CredentialSource::ProviderConfig {
                        provider: provider.clone(),
                    },
                    kind: CredentialKind::ApiKey,
                    secret: Secret::new(format!("sk-bench-{}-0123456789abcdef", n % 10)),
                    expires_at_ms: None,
                }),
                headers: Vec::new(),
            };
            let id = plan.intern_target(target);
            entries.push(ChainEntry {
                position: j,
                role: if j == 0 {
                    Role::Primary
                } else {
                    Role::Fallback
                },
                raw_ref: format!("{provider}/{model}"),
                provider: Some(provider),
                model: Some(model),
                api: Some(ApiStyle::OpenAiCompletions),
                target: Some(id),
                finding: None,
                credential_label: Some("config".into()),
                rotation: Vec::new(),
            });
        }
        plan.agents.push(AgentChain {
            agent: format!("agent{a}"),
            entries,
        });
    }
    let store = Store::new();
    let metrics = Metrics::new();
    metrics.sync_plan(&plan);
    let headers = header_map(&[
        ("x-ratelimit-limit-requests", "5000"),
        ("x-ratelimit-remaining-requests", "4999"),
        ("x-ratelimit-reset-requests", "12ms"),
    ]);
    let at = SystemTime::now();
    for t in &plan.targets {
        let r = ProbeResult {
            target: t.id,
            tier: Tier::Metadata,
            class: Class::Ok,
            reason: "ok".into(),
            http_status: Some(200),
            latency: Duration::from_millis(120),
            rate_limits: parse_headers(&headers, at),
            usage: None,
            at,
            message: None,
        };
        metrics.observe_probe(t, &r);
        store.record(plan.key(t.id), r);
    }
    // A generation probe on every tenth target, so token counters exist too.
    for t in plan.targets.iter().step_by(10) {
        let r = ProbeResult {
            target: t.id,
            tier: Tier::Generation,
            class: Class::Ok,
            reason: "ok".into(),
            http_status: Some(200),
            latency: Duration::from_millis(400),
            rate_limits: Default::default(),
            usage: Some(Usage {
                input_tokens: 9,
                output_tokens: 1,
            }),
            at,
            message: None,
        };
        metrics.observe_probe(t, &r);
        store.record(plan.key(t.id), r);
    }
    (plan, store, metrics)
}

/// Sample lines (not comments) in a text exposition.
fn series_count(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

fn bench_metrics_render(c: &mut Criterion) {
    let budget = vec![
        BudgetRemaining {
            provider: "_global".into(),
            unit: "requests",
            remaining: 1990.0,
        },
        BudgetRemaining {
            provider: "_global".into(),
            unit: "tokens",
            remaining: 199_900.0,
        },
    ];
    let mut g = c.benchmark_group("metrics_render");
    g.sample_size(20);
    // 77 agents x 5 models = 385 targets: about 10,000 series.
    for (agents, models) in [(77usize, 5usize), (200, 5)] {
        let (plan, store, metrics) = sized_plan(agents, models);
        let out = metrics.render(&plan, &store, &budget);
        let series = series_count(&out);
        eprintln!(
            "metrics_render: {agents} agents x {models} models = {} targets -> {series} series, {} bytes",
            plan.targets.len(),
            out.len()
        );
        g.throughput(Throughput::Elements(series as u64));
        g.bench_function(format!("{}_series", series), |b| {
            b.iter_batched(
                || (),
                |_| black_box(metrics.render(&plan, &store, &budget)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn bench_metrics_gzip(c: &mut Criterion) {
    use std::io::Write;
    let mut g = c.benchmark_group("metrics_gzip");
    g.sample_size(20);
    for (agents, models) in [(77usize, 5usize), (200, 5)] {
        let (plan, store, metrics) = sized_plan(agents, models);
        let text = metrics.render(&plan, &store, &[]);
        let series = series_count(&text);
        let level6 = |t: &str| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(t.as_bytes()).unwrap();
            e.finish().unwrap()
        };
        let (fast, default) = (clawprobe::metrics::gzip(&text), level6(&text));
        eprintln!(
            "metrics_gzip: {series} series, {} bytes -> level 1: {} bytes ({:.1}x), level 6: {} bytes ({:.1}x)",
            text.len(),
            fast.len(),
            text.len() as f64 / fast.len() as f64,
            default.len(),
            text.len() as f64 / default.len() as f64,
        );
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(format!("level1_{series}_series"), |b| {
            b.iter(|| black_box(clawprobe::metrics::gzip(black_box(&text))))
        });
        g.bench_function(format!("level6_{series}_series"), |b| {
            b.iter(|| black_box(level6(black_box(&text))))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_classify,
    bench_ratelimit,
    bench_plan_build,
    bench_metrics_render,
    bench_metrics_gzip
);
criterion_main!(benches);
