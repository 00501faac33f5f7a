use super::*;
use crate::plan::{
    AgentChain, ApiStyle, ChainEntry, Credential, CredentialExpiry, CredentialSource, Finding,
    ProfileState,
};
use crate::probe::Tier;
use crate::ratelimit::{RateLimitEntry, RateLimitInfo};
use crate::secret::Secret;
use std::time::Duration;

const CANARY: &str = "sk-canary-DO-NOT-LEAK-0123456789";

fn target(provider: &str, model: &str, secret: &str) -> Target {
    let base = format!("http://127.0.0.1:9/v1?key={secret}");
    let profile = CredentialSource::Profile {
        id: format!("{provider}:default"),
        store: "/x/auth-profiles.json".into(),
    };
    Target {
        headers: vec![("x-extra".into(), Secret::new(secret))],
        ..Target::new(provider, model, base, ApiStyle::OpenAiCompletions)
            .with_credential(Credential::api_key(profile, Secret::new(secret)))
    }
}

fn entry(position: usize, target: Option<usize>, raw: &str) -> ChainEntry {
    ChainEntry {
        provider: raw.split_once('/').map(|(p, _)| p.to_string()),
        model: raw.split_once('/').map(|(_, m)| m.to_string()),
        target,
        ..ChainEntry::new(position, raw)
    }
}

/// Agent `main`: openai primary, anthropic fallback, an unresolved alias.
/// Agent `fb`: primary without credential (static finding), anthropic fallback.
fn plan() -> ProbePlan {
    let mut p = ProbePlan::default();
    let a = p.intern_target(target("openai", "gpt-5-mini", CANARY));
    let b = p.intern_target(target(
        "anthropic",
        "claude-haiku",
        "other-secret-value-xyz",
    ));
    let mut unresolved = entry(2, None, "fastest");
    unresolved.provider = None;
    unresolved.model = None;
    unresolved.finding = Some(Finding {
        class: Class::UnresolvedRef,
        reason: "unknown_alias".into(),
        message: "alias fastest is not defined".into(),
    });
    let mut nocred = entry(0, None, "groq/llama");
    nocred.finding = Some(Finding {
        class: Class::Auth,
        reason: "missing_credential".into(),
        message: "no key for groq".into(),
    });
    p.agents = vec![
        AgentChain {
            agent: "main".into(),
            entries: vec![
                entry(0, Some(a), "openai/gpt-5-mini"),
                entry(1, Some(b), "anthropic/claude-haiku"),
                unresolved,
            ],
        },
        AgentChain {
            agent: "fb".into(),
            entries: vec![nocred, entry(1, Some(b), "anthropic/claude-haiku")],
        },
    ];
    p.credential_expiries = vec![CredentialExpiry {
        agent: "main".into(),
        provider: "openai".into(),
        profile: "openai:default".into(),
        expires_at_ms: 1_900_000_000_000,
    }];
    p.profile_states = vec![ProfileState {
        profile: "openai:default".into(),
        provider: "openai".into(),
        cooldown_until_ms: Some(1_800_000_000_500),
        cooldown_reason: Some("rate_limit".into()),
        disabled_until_ms: Some(1_800_000_100_000),
        disabled_reason: Some("billing".into()),
        cooldown_model: None,
        blocked_until_ms: None,
        error_count: Some(7),
        failure_counts: vec![("rate_limit".into(), 5), ("auth".into(), 2)],
    }];
    p
}

fn result(target: usize, class: Class, at_secs: u64) -> ProbeResult {
    ProbeResult {
        target,
        tier: Tier::Metadata,
        class,
        reason: format!("reason {CANARY}"),
        http_status: Some(if class.is_ok() { 200 } else { 401 }),
        latency: Duration::from_millis(120),
        rate_limits: RateLimitInfo {
            entries: vec![RateLimitEntry {
                resource: "requests".into(),
                limit: Some(500.0),
                remaining: Some(499.0),
                reset_at: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_060)),
            }],
            retry_after: None,
            key_wide: false,
        },
        usage: Some(crate::probe::Usage {
            input_tokens: 3,
            output_tokens: 1,
        }),
        at: UNIX_EPOCH + Duration::from_secs(at_secs),
        message: Some(format!("Incorrect API key provided: {CANARY}")),
    }
}

use super::text::sample;

/// A fixed "now" after every OpenClaw hold in [`plan`] ended, so the tests do not depend
/// on the wall clock.
const NOW: u64 = 1_900_000_000;

fn render(m: &Metrics, p: &ProbePlan, s: &Store) -> String {
    m.render_at(p, s, &[], UNIX_EPOCH + Duration::from_secs(NOW))
        .0
}

#[test]
fn agent_up_when_a_fallback_works_and_down_when_all_fail() {
    let p = plan();
    let s = Store::new();
    let m = Metrics::new();
    // Nothing probed yet: agent state unknown, no model_up series for probeable entries.
    let out = render(&m, &p, &s);
    assert_eq!(
        sample(&out, "clawprobe_agent_up", "agent=\"main\""),
        None,
        "{out}"
    );
    assert_eq!(
            sample(&out, "clawprobe_model_up", "agent=\"main\",role=\"fallback\",position=\"2\",provider=\"unknown\",model=\"fastest\""),
            Some(0.0),
            "static finding counts as down: {out}"
        );
    assert_eq!(
        sample(&out, "clawprobe_agent_fallbacks", "agent=\"main\""),
        Some(2.0)
    );

    s.record(p.key(0), result(0, Class::Auth, 1_800_000_000));
    s.record(p.key(1), result(1, Class::Ok, 1_800_000_001));
    let out = render(&m, &p, &s);
    assert_eq!(
        sample(&out, "clawprobe_agent_up", "agent=\"main\""),
        Some(1.0),
        "{out}"
    );
    assert_eq!(
        sample(&out, "clawprobe_agent_primary_up", "agent=\"main\""),
        Some(0.0)
    );
    assert_eq!(
        sample(&out, "clawprobe_agent_models_up", "agent=\"main\""),
        Some(1.0)
    );
    assert_eq!(
            sample(&out, "clawprobe_model_up", "agent=\"main\",role=\"primary\",position=\"0\",provider=\"openai\",model=\"gpt-5-mini\""),
            Some(0.0)
        );
    assert_eq!(
        sample(
            &out,
            "clawprobe_model_last_success_timestamp_seconds",
            "agent=\"main\",role=\"fallback\",provider=\"anthropic\",model=\"claude-haiku\""
        ),
        Some(1_800_000_001.0)
    );
    assert_eq!(
        sample(
            &out,
            "clawprobe_model_last_probe_timestamp_seconds",
            "agent=\"main\",role=\"primary\",provider=\"openai\",model=\"gpt-5-mini\",tier=\"metadata\""
        ),
        Some(1_800_000_000.0)
    );

    s.record(p.key(1), result(1, Class::RateLimit, 1_800_000_100));
    let out = render(&m, &p, &s);
    assert_eq!(
        sample(&out, "clawprobe_agent_up", "agent=\"main\""),
        Some(0.0),
        "{out}"
    );
    assert_eq!(
        sample(&out, "clawprobe_agent_models_up", "agent=\"main\""),
        Some(0.0)
    );
    assert_eq!(
        sample(&out, "clawprobe_agent_up", "agent=\"fb\""),
        Some(0.0)
    );
}

#[test]
fn fallback_only_agent_is_up_with_primary_down() {
    let p = plan();
    let s = Store::new();
    s.record(p.key(1), result(1, Class::Ok, 1_800_000_001));
    let out = render(&Metrics::new(), &p, &s);
    assert_eq!(
        sample(&out, "clawprobe_agent_up", "agent=\"fb\""),
        Some(1.0),
        "{out}"
    );
    assert_eq!(
        sample(&out, "clawprobe_agent_primary_up", "agent=\"fb\""),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &out,
            "clawprobe_model_up",
            "agent=\"fb\",role=\"primary\",position=\"0\",provider=\"groq\",model=\"llama\""
        ),
        Some(0.0),
        "missing credential counts as down: {out}"
    );
}

#[test]
fn model_status_is_a_state_set_over_all_classes() {
    let p = plan();
    let s = Store::new();
    s.record(p.key(0), result(0, Class::Billing, 1_800_000_000));
    let out = render(&Metrics::new(), &p, &s);
    let mut ones = 0;
    for c in Class::ALL {
        let v = sample(
                &out,
                "clawprobe_model_status",
                &format!("agent=\"main\",role=\"primary\",provider=\"openai\",model=\"gpt-5-mini\",class=\"{}\"", c.as_str()),
            )
            .unwrap_or_else(|| panic!("no series for class {c}: {out}"));
        if c == Class::Billing {
            assert_eq!(v, 1.0);
        }
        ones += v as i32;
    }
    assert_eq!(ones, 1, "exactly one class is current");
    // Never-probed entries have no state set.
    assert_eq!(
            sample(&out, "clawprobe_model_status", "agent=\"main\",role=\"fallback\",provider=\"anthropic\",model=\"claude-haiku\",class=\"ok\""),
            None,
            "{out}"
        );
}

#[test]
fn skipped_entries_have_no_model_up_and_skipped_probes_are_not_counted() {
    let mut p = plan();
    p.targets[0].api = ApiStyle::Other("bedrock-converse-stream".into());
    let s = Store::new();
    let m = Metrics::new();
    let mut r = result(0, Class::Skipped, 1_800_000_000);
    r.usage = None;
    m.observe_probe(&p.targets[0], &r);
    s.record(p.key(0), r);
    let out = render(&m, &p, &s);
    assert_eq!(
            sample(&out, "clawprobe_model_up", "agent=\"main\",role=\"primary\",position=\"0\",provider=\"openai\",model=\"gpt-5-mini\""),
            None,
            "{out}"
        );
    assert_eq!(
            sample(&out, "clawprobe_model_status", "agent=\"main\",role=\"primary\",provider=\"openai\",model=\"gpt-5-mini\",class=\"skipped\""),
            Some(1.0)
        );
    assert_eq!(
        sample(
            &out,
            "clawprobe_probes_total",
            "provider=\"openai\",model=\"gpt-5-mini\",tier=\"metadata\""
        ),
        Some(0.0)
    );
}

#[test]
fn counters_tokens_skips_budget_ratelimits_and_openclaw_state() {
    let p = plan();
    let s = Store::new();
    let m = Metrics::new();
    m.observe_probe(&p.targets[0], &result(0, Class::Auth, 1_800_000_000));
    m.observe_probe(&p.targets[0], &result(0, Class::Ok, 1_800_000_010));
    s.record(p.key(0), result(0, Class::Ok, 1_800_000_010));
    m.probe_skipped("openai", SkipReason::Budget);
    m.probe_skipped("openai", SkipReason::RetryAfter);
    let budget = [BudgetRemaining {
        provider: "_global".into(),
        unit: "requests",
        remaining: 1999.0,
    }];
    let out = m
        .render_at(&p, &s, &budget, UNIX_EPOCH + Duration::from_secs(NOW))
        .0;
    let probes = |tier| {
        sample(
            &out,
            "clawprobe_probes_total",
            &format!("provider=\"openai\",model=\"gpt-5-mini\",tier=\"{tier}\""),
        )
    };
    assert_eq!(probes("metadata"), Some(2.0), "{out}");
    assert_eq!(probes("generation"), Some(0.0));
    let errors = |class| {
        sample(
            &out,
            "clawprobe_probe_errors_total",
            &format!(
                "provider=\"openai\",model=\"gpt-5-mini\",tier=\"metadata\",class=\"{class}\""
            ),
        )
    };
    assert_eq!(errors("auth"), Some(1.0));
    assert_eq!(errors("billing"), Some(0.0), "pre-initialised");
    assert_eq!(
            sample(&out, "clawprobe_probe_errors_total", "provider=\"anthropic\",model=\"claude-haiku\",tier=\"generation\",class=\"rate_limit\""),
            Some(0.0)
        );
    assert_eq!(
        sample(
            &out,
            "clawprobe_probe_tokens_total",
            "provider=\"openai\",direction=\"input\""
        ),
        Some(6.0)
    );
    assert_eq!(
        sample(
            &out,
            "clawprobe_probe_duration_seconds_count",
            "provider=\"openai\",tier=\"metadata\""
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &out,
            "clawprobe_probes_skipped_total",
            "provider=\"openai\",reason=\"budget\""
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &out,
            "clawprobe_probes_skipped_total",
            "provider=\"openai\",reason=\"retry_after\""
        ),
        Some(1.0)
    );
    // The reason is a SkipReason, so the label set is bounded by the type.
    assert!(!out.contains("reason=\"other\""), "{out}");
    assert_eq!(
        sample(
            &out,
            "clawprobe_budget_remaining",
            "provider=\"_global\",unit=\"requests\""
        ),
        Some(1999.0)
    );
    let rl = "provider=\"openai\",profile=\"openai:default\",resource=\"requests\"";
    assert_eq!(
        sample(&out, "clawprobe_ratelimit_remaining", rl),
        Some(499.0)
    );
    assert_eq!(sample(&out, "clawprobe_ratelimit_limit", rl), Some(500.0));
    assert_eq!(
        sample(&out, "clawprobe_ratelimit_reset_timestamp_seconds", rl),
        Some(1_800_000_060.0)
    );
    assert_eq!(
        sample(
            &out,
            "clawprobe_credential_expiry_timestamp_seconds",
            "agent=\"main\",provider=\"openai\",profile=\"openai:default\""
        ),
        Some(1_900_000_000.0)
    );
    let oc = |name, reason| {
        sample(
            &out,
            name,
            &format!("provider=\"openai\",profile=\"openai:default\",reason=\"{reason}\""),
        )
    };
    assert_eq!(
        oc(
            "clawprobe_openclaw_profile_cooldown_until_timestamp_seconds",
            "rate_limit"
        ),
        Some(1_800_000_000.5)
    );
    assert_eq!(
        oc(
            "clawprobe_openclaw_profile_disabled_until_timestamp_seconds",
            "billing"
        ),
        Some(1_800_000_100.0)
    );
    assert_eq!(oc("clawprobe_openclaw_profile_errors", "all"), Some(7.0));
    assert_eq!(oc("clawprobe_openclaw_profile_errors", "auth"), Some(2.0));
}

#[test]
fn series_of_targets_that_leave_the_plan_disappear() {
    let p = plan();
    let s = Store::new();
    let m = Metrics::new();
    m.sync_plan(&p);
    m.observe_probe(&p.targets[1], &result(1, Class::Ok, 1_800_000_000));
    s.record(p.key(1), result(1, Class::Ok, 1_800_000_000));
    let out = render(&m, &p, &s);
    assert!(out.contains("model=\"claude-haiku\""), "{out}");

    // The anthropic target and the `fb` agent leave the plan.
    let mut p2 = plan();
    p2.targets.truncate(1);
    p2.agents.truncate(1);
    p2.agents[0].entries.truncate(1);
    m.sync_plan(&p2);
    s.retain_plan(&p2);
    let out = render(&m, &p2, &s);
    assert!(!out.contains("claude-haiku"), "{out}");
    assert!(!out.contains("anthropic\",model"), "{out}");
    assert!(!out.contains("agent=\"fb\""), "{out}");
    assert_eq!(
        sample(&out, "clawprobe_agent_fallbacks", "agent=\"main\""),
        Some(0.0)
    );
    // Per-provider series go once no target of the provider is left.
    assert!(!out.contains("anthropic"), "{out}");
    assert!(out.contains("provider=\"openai\""), "{out}");
}

#[test]
fn no_secret_url_or_error_text_in_output() {
    let mut p = plan();
    p.agents[0].entries[2].raw_ref = format!("https://evil.example/{CANARY}");
    p.agents[1].entries[0].provider = Some(CANARY.into());
    let s = Store::new();
    let m = Metrics::new();
    for (i, t) in p.targets.iter().enumerate() {
        let r = result(i, Class::Auth, 1_800_000_000);
        m.observe_probe(t, &r);
        s.record(p.key(i), r);
    }
    m.probe_skipped(CANARY, SkipReason::Budget);
    m.sync_plan(&p);
    let out = render(&m, &p, &s);
    assert!(out.contains("clawprobe_model_up"), "{out}");
    for bad in [
        "canary",
        "DO-NOT-LEAK",
        "other-secret-value",
        "127.0.0.1",
        "http",
        "Incorrect API key",
        "fp:",
    ] {
        assert!(!out.contains(bad), "`{bad}` leaked:\n{out}");
    }
}

#[test]
fn every_metric_has_help_and_type_and_the_exposition_parses() {
    let p = plan();
    let s = Store::new();
    let m = Metrics::new();
    m.set_reload(true, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    m.set_install(crate::plan::InstallStatus::Ok);
    for (i, t) in p.targets.iter().enumerate() {
        let r = result(i, Class::Ok, 1_800_000_000);
        m.observe_probe(t, &r);
        s.record(p.key(i), r);
    }
    m.probe_skipped("openai", SkipReason::Backoff);
    m.set_cadence(Cadence {
        by_target: vec![Some(Duration::from_secs(300)); p.targets.len()],
        recheck_max: Duration::from_secs(3600),
    });
    let out = m.render(
        &p,
        &s,
        &[BudgetRemaining {
            provider: "openai".into(),
            unit: "tokens",
            remaining: 10.0,
        }],
    );
    // The contract dashboards and alert rules are written against: every family listed
    // in alerts/exported-metrics.txt (name, then type) is rendered with TYPE and HELP,
    // except those scripts/tests/metric-names.sh still lists as PENDING (in the contract,
    // not served yet).
    let pending: Vec<&str> = include_str!("../../scripts/tests/metric-names.sh")
        .split("PENDING_METRICS=(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .map(|list| list.split_whitespace().collect())
        .unwrap_or_default();
    let expected: Vec<(&str, &str)> = include_str!("../../alerts/exported-metrics.txt")
        .lines()
        .filter_map(|l| {
            let mut w = l.split('#').next()?.split_whitespace();
            Some((w.next()?, w.next()?))
        })
        .filter(|(name, _)| !pending.contains(name))
        // Rendered from OpenClaw's log: checked against the real CLI's log lines in
        // metrics::traffic::tests::exposition_of_the_2026_9_6_fixture.
        .filter(|(name, _)| !name.starts_with("clawprobe_traffic_"))
        .collect();
    assert!(expected.len() >= 20, "{expected:?}");
    for &(name, ty) in &expected {
        assert!(
            out.contains(&format!("# TYPE {name} {ty}\n")),
            "no TYPE for {name}:\n{out}"
        );
        let help_line = out
            .lines()
            .find(|l| l.starts_with(&format!("# HELP {name} ")))
            .unwrap_or_else(|| panic!("no HELP for {name}"));
        // Not derived from probes: the exporter's own state, process and build.
        if !name.starts_with("clawprobe_config")
            && !name.starts_with("clawprobe_web_config")
            && !name.starts_with("process_")
            && name != "clawprobe_build_info"
        {
            assert!(
                help_line.contains("not probed at scrape time"),
                "{help_line}"
            );
        }
    }
    // scripts/tests/promtool-check-metrics.sh lints this full exposition with promtool.
    if let Ok(path) = std::env::var("CLAWPROBE_METRICS_SAMPLE_OUT") {
        std::fs::write(path, &out).expect("write metrics sample");
    }
    assert_eq!(
        sample(&out, "clawprobe_config_last_reload_successful", ""),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &out,
            "clawprobe_config_last_reload_success_timestamp_seconds",
            ""
        ),
        Some(1.7e9)
    );
    assert_eq!(
        sample(
            &out,
            "clawprobe_build_info",
            &format!(
                "builddate=\"{}\",revision=\"{}\",rustversion=\"{}\",version=\"{}\"",
                crate::build_info::BUILD_DATE,
                crate::build_info::REVISION,
                crate::build_info::RUST_VERSION,
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some(1.0)
    );
    // What discovery found (set by every load), with the plan's size.
    assert_eq!(
        sample(&out, "clawprobe_openclaw_install_status", "status=\"ok\""),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &out,
            "clawprobe_openclaw_install_status",
            "status=\"missing\""
        ),
        Some(0.0)
    );
    assert_eq!(sample(&out, "clawprobe_plan_agents", ""), Some(2.0));
    assert_eq!(
        sample(&out, "clawprobe_plan_targets", ""),
        Some(p.targets.len() as f64)
    );
    assert_eq!(
        sample(&out, "clawprobe_plan_findings", "class=\"unresolved_ref\""),
        Some(1.0)
    );
    // Minimal text-format parse: every sample line is `name{labels} value` with a
    // documented family, a float value and no timestamp.
    let mut families = HashSet::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            families.insert(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name value");
        assert!(!series.ends_with(' '), "{line}");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        assert!(value.is_finite() || line.contains("+Inf"), "{line}");
        let name = series.split('{').next().unwrap();
        let family = name
            .strip_suffix("_bucket")
            .or_else(|| name.strip_suffix("_sum"))
            .or_else(|| name.strip_suffix("_count"))
            .filter(|f| families.contains(*f))
            .unwrap_or(name);
        assert!(families.contains(family), "sample without TYPE: {line}");
        assert!(
            family.starts_with("clawprobe_") || family.starts_with("process_"),
            "{line}"
        );
        // Label blocks must be balanced and quoted.
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                assert_eq!(labels.matches('"').count() % 2, 0, "{line}");
            }
        }
    }
    assert!(families.len() >= expected.len());
}

#[test]
fn label_sanitises() {
    assert_eq!(label("openai"), "openai");
    assert_eq!(label("https://x/y"), "invalid");
    assert_eq!(label(""), "unknown");
    assert!(!label("sk-abcdefghijklmnop").contains("abcdefgh"));
    assert_eq!(label(&"x".repeat(500)).len(), MAX_LABEL_LEN);
}

/// Every sample line's `name{labels}`, to find duplicates (Prometheus rejects a scrape
/// with a duplicate series).
/// The exposition without the `process_*` families, whose values (CPU time, memory) change
/// between two renders on their own.
fn steady(text: &str) -> String {
    text.lines()
        .filter(|l| {
            !(l.starts_with("process_")
                || l.starts_with("# HELP process_")
                || l.starts_with("# TYPE process_"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn series_keys(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.rsplit_once(' ').expect("name value").0.to_string())
        .collect()
}

#[test]
fn render_cached_is_shared_until_a_probe_a_reload_the_plan_or_the_budget_changes() {
    let p = std::sync::Arc::new(plan());
    let s = Store::new();
    let m = Metrics::new();
    m.sync_plan(&p);
    let budget = |n: f64| {
        vec![BudgetRemaining {
            provider: "_global".into(),
            unit: "requests",
            remaining: n,
        }]
    };
    let first = m.render_cached(&p, &s, &budget(10.0), Duration::ZERO);
    let again = m.render_cached(&p, &s, &budget(10.0), Duration::ZERO);
    assert_eq!(
        first.as_ptr(),
        again.as_ptr(),
        "same state: one render, shared"
    );
    assert_eq!(
        steady(&String::from_utf8_lossy(&first)),
        steady(&m.render(&p, &s, &budget(10.0))),
        "the cached body is what a fresh render gives"
    );

    let mut previous = again;
    let mut expect_new = |body: bytes::Bytes, what: &str, needle: &str| {
        assert_ne!(
            body.as_ptr(),
            previous.as_ptr(),
            "{what}: stale body served"
        );
        let text = String::from_utf8_lossy(&body).into_owned();
        assert!(text.contains(needle), "{what}: `{needle}` missing:\n{text}");
        previous = body;
    };
    m.observe_probe(&p.targets[0], &result(0, Class::Auth, 1_800_000_000));
    expect_new(
        m.render_cached(&p, &s, &budget(10.0), Duration::ZERO),
        "counter",
        "clawprobe_probe_errors_total{class=\"auth\",model=\"gpt-5-mini\",provider=\"openai\",tier=\"metadata\"} 1",
    );
    s.record(p.key(0), result(0, Class::Auth, 1_800_000_000));
    expect_new(
        m.render_cached(&p, &s, &budget(10.0), Duration::ZERO),
        "store",
        "clawprobe_model_up{agent=\"main\",model=\"gpt-5-mini\",position=\"0\",provider=\"openai\",role=\"primary\"} 0",
    );
    m.set_reload(false, UNIX_EPOCH);
    expect_new(
        m.render_cached(&p, &s, &budget(10.0), Duration::ZERO),
        "reload",
        "clawprobe_config_last_reload_successful 0",
    );
    expect_new(
        m.render_cached(&p, &s, &budget(9.0), Duration::ZERO),
        "budget",
        "clawprobe_budget_remaining{provider=\"_global\",unit=\"requests\"} 9",
    );
    let mut p2 = plan();
    p2.agents[0].agent = "renamed".into();
    let p2 = std::sync::Arc::new(p2);
    expect_new(
        m.render_cached(&p2, &s, &budget(9.0), Duration::ZERO),
        "plan",
        "agent=\"renamed\"",
    );
}

#[test]
fn colliding_labels_and_repeated_entries_never_give_duplicate_series() {
    let mut p = plan();
    // Two agent ids that are equal once bounded to MAX_LABEL_LEN, and a chain that lists
    // the same model twice as fallbacks.
    let long = "a".repeat(MAX_LABEL_LEN);
    let mut twin = p.agents[0].clone();
    twin.agent = format!("{long}-one");
    p.agents[0].agent = format!("{long}-two");
    p.agents.push(twin);
    let dup = p.agents[1].entries[1].clone();
    p.agents[1].entries.push(ChainEntry { position: 2, ..dup });
    // A quote and a backslash in an id must be escaped, not break the line.
    p.agents[1].agent = "we\"ird\\agent".into();
    let s = Store::new();
    let m = Metrics::new();
    for (i, t) in p.targets.iter().enumerate() {
        let r = result(i, Class::Ok, 1_800_000_000);
        m.observe_probe(t, &r);
        s.record(p.key(i), r);
    }
    let out = render(&m, &p, &s);
    let keys = series_keys(&out);
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "duplicate series:\n{out}");
    assert!(
        out.contains("clawprobe_agent_fallbacks{agent=\"we\\\"ird\\\\agent\"} 2"),
        "{out}"
    );
    // Both fallbacks of the repeated model still have their own model_up (by position).
    for pos in ["1", "2"] {
        assert!(
            out.contains(&format!("clawprobe_model_up{{agent=\"we\\\"ird\\\\agent\",model=\"claude-haiku\",position=\"{pos}\",provider=\"anthropic\",role=\"fallback\"}} 1")),
            "position {pos}:\n{out}"
        );
    }
}

#[test]
fn histogram_buckets_are_cumulative_and_end_in_inf() {
    let p = plan();
    let s = Store::new();
    let m = Metrics::new();
    for ms in [30u64, 120, 700, 90_000] {
        let mut r = result(0, Class::Ok, 1_800_000_000);
        r.latency = Duration::from_millis(ms);
        m.observe_probe(&p.targets[0], &r);
    }
    let out = render(&m, &p, &s);
    let b = |le: &str| {
        sample(
            &out,
            "clawprobe_probe_duration_seconds_bucket",
            &format!("provider=\"openai\",tier=\"metadata\",le=\"{le}\""),
        )
    };
    assert_eq!(b("0.05"), Some(1.0), "{out}");
    assert_eq!(b("0.25"), Some(2.0));
    assert_eq!(b("1"), Some(3.0));
    assert_eq!(b("60"), Some(3.0));
    assert_eq!(b("+Inf"), Some(4.0));
    assert_eq!(
        sample(
            &out,
            "clawprobe_probe_duration_seconds_count",
            "provider=\"openai\",tier=\"metadata\""
        ),
        Some(4.0)
    );
    let sum = sample(
        &out,
        "clawprobe_probe_duration_seconds_sum",
        "provider=\"openai\",tier=\"metadata\"",
    )
    .unwrap();
    assert!((sum - 90.85).abs() < 1e-9, "{sum}");
}

#[test]
fn render_cached_within_max_age_ignores_new_results_but_never_a_reload() {
    let p = std::sync::Arc::new(plan());
    let s = Store::new();
    let m = Metrics::new();
    m.sync_plan(&p);
    let hour = Duration::from_secs(3600);
    let first = m.render_cached(&p, &s, &[], hour);
    m.observe_probe(&p.targets[0], &result(0, Class::Auth, 1_800_000_000));
    s.record(p.key(0), result(0, Class::Auth, 1_800_000_000));
    let again = m.render_cached(&p, &s, &[], hour);
    assert_eq!(first.as_ptr(), again.as_ptr(), "young body reused");
    m.set_reload(false, UNIX_EPOCH);
    let after_reload = m.render_cached(&p, &s, &[], hour);
    assert_ne!(
        after_reload.as_ptr(),
        again.as_ptr(),
        "a reload invalidates"
    );
    let text = String::from_utf8_lossy(&after_reload);
    assert!(
        text.contains("clawprobe_config_last_reload_successful 0"),
        "{text}"
    );
    assert!(
        text.contains("clawprobe_model_up{agent=\"main\",model=\"gpt-5-mini\",position=\"0\",provider=\"openai\",role=\"primary\"} 0"),
        "and the re-render has the new results: {text}"
    );
    m.sync_plan(&p);
    let after_sync = m.render_cached(&p, &s, &[], hour);
    assert_ne!(
        after_sync.as_ptr(),
        after_reload.as_ptr(),
        "so does a new plan's sync"
    );
}

#[test]
fn render_cached_keeps_no_body_nobody_holds() {
    let p = std::sync::Arc::new(plan());
    let s = Store::new();
    let m = Metrics::new();
    let hour = Duration::from_secs(3600);
    let held = m.render_cached(&p, &s, &[], hour);
    let shared = m.render_cached(&p, &s, &[], hour);
    assert_eq!(held.as_ptr(), shared.as_ptr());
    drop(held);
    drop(shared);
    // Nothing holds the body any more: the cache does not keep it alive, so the next
    // scrape renders a new one (equal text, new buffer).
    let weak = m.cache.lock().unwrap().as_ref().unwrap().body.clone();
    assert!(weak.upgrade().is_none(), "the cache kept the body alive");
    let next = m.render_cached(&p, &s, &[], hour);
    assert_eq!(
        steady(&String::from_utf8_lossy(&next)),
        steady(&m.render(&p, &s, &[]))
    );
}

/// On the runtime serving the scrape, a body outlives its response by `max_age` so the
/// scrapes right after it share it, and no longer.
#[tokio::test(start_paused = true)]
async fn render_cached_keeps_a_served_body_alive_for_max_age() {
    let p = std::sync::Arc::new(plan());
    let s = Store::new();
    let m = Metrics::new();
    let age = Duration::from_secs(1);
    let first = m.render_cached(&p, &s, &[], age);
    let ptr = first.as_ptr();
    drop(first);
    let weak = m.cache.lock().unwrap().as_ref().unwrap().body.clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(weak.upgrade().is_some(), "freed before max_age");
    assert_eq!(m.render_cached(&p, &s, &[], age).as_ptr(), ptr, "shared");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(weak.upgrade().is_none(), "kept past max_age");
}

fn gen_result(target: usize, class: Class, at_secs: u64) -> ProbeResult {
    ProbeResult {
        tier: Tier::Generation,
        ..result(target, class, at_secs)
    }
}

const PRIMARY: &str = "agent=\"main\",role=\"primary\",provider=\"openai\",model=\"gpt-5-mini\"";

#[test]
fn metadata_ok_after_generation_billing_keeps_the_route_down_and_says_why() {
    let p = plan();
    let s = Store::new();
    let m = Metrics::new();
    s.record(p.key(0), gen_result(0, Class::Billing, 1_800_000_000));
    s.record(p.key(0), result(0, Class::Ok, 1_800_000_300));
    s.record(p.key(0), result(0, Class::Ok, 1_800_000_600));
    let out = render(&m, &p, &s);
    let up = |out: &str| {
        sample(
            out,
            "clawprobe_model_up",
            &format!("{PRIMARY},position=\"0\""),
        )
    };
    assert_eq!(up(&out), Some(0.0), "{out}");
    assert_eq!(
        sample(
            &out,
            "clawprobe_model_status",
            &format!("{PRIMARY},class=\"billing\"")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &out,
            "clawprobe_model_verdict_source",
            &format!("{PRIMARY},source=\"generation\"")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&out, "clawprobe_model_verdict_timestamp_seconds", PRIMARY),
        Some(1_800_000_000.0)
    );
    for (tier, at) in [
        ("metadata", 1_800_000_600.0),
        ("generation", 1_800_000_000.0),
    ] {
        assert_eq!(
            sample(
                &out,
                "clawprobe_model_last_probe_timestamp_seconds",
                &format!("{PRIMARY},tier=\"{tier}\"")
            ),
            Some(at)
        );
    }
    // The credential itself shows billing, for the one route that tries it first.
    let cred = "provider=\"openai\",credential=\"openai:default\"";
    assert_eq!(sample(&out, "clawprobe_credential_up", cred), Some(0.0));
    assert_eq!(
        sample(
            &out,
            "clawprobe_credential_status",
            &format!("{cred},class=\"billing\"")
        ),
        Some(1.0)
    );
    assert_eq!(sample(&out, "clawprobe_credential_routes", cred), Some(1.0));
    // The agent is served by its fallback once that is known to work.
    s.record(p.key(1), gen_result(1, Class::Ok, 1_800_000_700));
    let out = render(&m, &p, &s);
    assert_eq!(up(&out), Some(0.0));
    assert_eq!(
        sample(
            &out,
            "clawprobe_agent_serving_model",
            "agent=\"main\",role=\"fallback\",position=\"1\",provider=\"anthropic\",model=\"claude-haiku\""
        ),
        Some(1.0),
        "{out}"
    );
    // A newer generation success clears billing.
    s.record(p.key(0), gen_result(0, Class::Ok, 1_800_000_900));
    let out = render(&m, &p, &s);
    assert_eq!(up(&out), Some(1.0));
    assert_eq!(
        sample(
            &out,
            "clawprobe_agent_serving_model",
            "agent=\"main\",role=\"primary\",position=\"0\",provider=\"openai\",model=\"gpt-5-mini\""
        ),
        Some(1.0)
    );
}

#[test]
fn openclaw_state_decides_while_it_lasts_and_the_cache_expires_with_it() {
    let p = Arc::new(plan());
    let s = Store::new();
    let m = Metrics::new();
    s.record(p.key(0), gen_result(0, Class::Ok, 1_800_000_000));
    // The plan's profile openai:default is disabled for billing until 1_800_000_100 s.
    let during = m
        .render_at(&p, &s, &[], UNIX_EPOCH + Duration::from_secs(1_800_000_050))
        .0;
    assert_eq!(
        sample(
            &during,
            "clawprobe_model_verdict_source",
            &format!("{PRIMARY},source=\"openclaw_state\"")
        ),
        Some(1.0),
        "{during}"
    );
    assert_eq!(
        sample(
            &during,
            "clawprobe_model_status",
            &format!("{PRIMARY},class=\"billing\"")
        ),
        Some(1.0)
    );
    let after = render(&m, &p, &s);
    assert_eq!(
        sample(
            &after,
            "clawprobe_model_up",
            &format!("{PRIMARY},position=\"0\"")
        ),
        Some(1.0)
    );
    // A cached body says until when it holds.
    let (_, until) = m.render_at(&p, &s, &[], UNIX_EPOCH + Duration::from_secs(1_800_000_050));
    assert_eq!(until, Some(UNIX_EPOCH + Duration::from_secs(1_800_000_100)));
}

#[test]
fn stale_verdicts_follow_the_cadence() {
    let p = plan();
    let s = Store::new();
    let m = Metrics::new();
    s.record(p.key(0), result(0, Class::Ok, NOW - 1_000));
    m.set_cadence(Cadence {
        by_target: vec![
            Some(Duration::from_secs(300)),
            Some(Duration::from_secs(300)),
        ],
        recheck_max: Duration::from_secs(3600),
    });
    let out = render(&m, &p, &s);
    assert_eq!(
        sample(&out, "clawprobe_model_verdict_stale", PRIMARY),
        Some(1.0),
        "{out}"
    );
    assert_eq!(
        sample(&out, "clawprobe_model_probe_interval_seconds", PRIMARY),
        Some(300.0)
    );
    s.record(p.key(0), result(0, Class::Ok, NOW - 10));
    let out = render(&m, &p, &s);
    assert_eq!(
        sample(&out, "clawprobe_model_verdict_stale", PRIMARY),
        Some(0.0)
    );
}
