//! `clawprobe_traffic_*`: what OpenClaw's own log showed about real requests.
//!
//! Written from [`TrafficState`] at scrape time. Labels are bounded there (plan agents or
//! `""`; plan providers/models or `other`; four decisions; the [`Class`] set), so nothing a
//! log line says can grow the series count. Every HELP text says the values come from
//! OpenClaw's own log, not from probes.
//!
//! - `clawprobe_traffic_decisions_total{agent,provider,model,decision,class}` (counter)
//! - `clawprobe_traffic_chain_exhausted_total{agent}` (counter; 0 for every planned agent)
//! - `clawprobe_traffic_failures_total{provider,model,class}` (counter)
//! - `clawprobe_traffic_fallback_engaged{agent}` (gauge 0/1; every planned agent)
//! - `clawprobe_traffic_serving_model{agent,provider,model,role}` (gauge, 1)
//! - `clawprobe_traffic_last_event_timestamp_seconds` (gauge; absent until an event)
//! - `clawprobe_traffic_log_following` (gauge 0/1)

use super::text::Exposition;
use super::{label_value, unix_secs};
use crate::traffic::TrafficState;
use std::time::SystemTime;

const FROM_LOG: &str = "Values come from OpenClaw's own log (model-fallback decisions of real requests), not from probes.";

fn help(text: &str) -> String {
    format!("{text} {FROM_LOG}")
}

/// Agent label values: `label_value` would turn `""` into `unknown`; the unattributed
/// agent stays empty.
fn agent_label(agent: &str) -> String {
    if agent.is_empty() {
        String::new()
    } else {
        label_value(agent)
    }
}

/// Writes every `clawprobe_traffic_*` family.
pub(super) fn write(s: &TrafficState, now: SystemTime, e: &mut Exposition) {
    let agents: Vec<(&str, String)> = s.agents().map(|a| (a, agent_label(a))).collect();

    e.family(
        "clawprobe_traffic_chain_exhausted_total",
        "counter",
        &help("Requests for which every candidate of the agent's model chain failed or was skipped (\"all models failed\"); agent is empty when the request could not be attributed to one agent."),
    );
    for (raw, a) in &agents {
        e.sample_u64(&[("agent", a)], s.exhausted(raw));
    }

    e.family(
        "clawprobe_traffic_decisions_total",
        "counter",
        &help("OpenClaw's model-fallback decisions per candidate (skip_candidate, probe_cooldown_candidate, candidate_failed, candidate_succeeded), by the candidate's provider/model (other: outside the plan) and class."),
    );
    for (k, n) in s.decision_counts() {
        e.sample_u64(
            &[
                ("agent", &agent_label(&k.agent)),
                ("class", k.class.as_str()),
                ("decision", k.decision.as_str()),
                ("model", &label_value(&k.model)),
                ("provider", &label_value(&k.provider)),
            ],
            n,
        );
    }

    e.family(
        "clawprobe_traffic_failures_total",
        "counter",
        &help("Real requests that failed on a route (candidate_failed), by class."),
    );
    for ((p, m, class), n) in s.failure_counts() {
        e.sample_u64(
            &[
                ("class", class.as_str()),
                ("model", &label_value(m)),
                ("provider", &label_value(p)),
            ],
            n,
        );
    }

    e.family(
        "clawprobe_traffic_fallback_engaged",
        "gauge",
        &help("1 while the agent's latest logged successful request (within [traffic] fallback_window_seconds) was served by a model other than the one requested, its primary."),
    );
    for (raw, a) in &agents {
        let v = if s.fallback_engaged(raw, now) {
            1.0
        } else {
            0.0
        };
        e.sample(&[("agent", a)], v);
    }

    e.family(
        "clawprobe_traffic_last_event_timestamp_seconds",
        "gauge",
        &help("Unix time of the newest model-fallback event read."),
    );
    if let Some(t) = s.last_event() {
        e.sample(&[], unix_secs(t));
    }

    e.family(
        "clawprobe_traffic_log_following",
        "gauge",
        "Whether clawprobe has OpenClaw's JSONL log file open and is following it (1) or has not found it (0).",
    );
    e.sample(&[], if s.following() { 1.0 } else { 0.0 });

    e.family(
        "clawprobe_traffic_serving_model",
        "gauge",
        &help("1 for the model that served the agent's latest logged successful request, within [traffic] fallback_window_seconds (role: its place in the agent's chain)."),
    );
    for (raw, a) in &agents {
        if let Some(sv) = s.serving_now(raw, now) {
            let (p, m) = s.labels(&sv.route);
            e.sample(
                &[
                    ("agent", a),
                    ("model", &label_value(&m)),
                    ("provider", &label_value(&p)),
                    ("role", sv.role.as_str()),
                ],
                1.0,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{AgentChain, ChainEntry, ProbePlan};
    use crate::traffic::event::parse_line;
    use crate::traffic::test_support::fixture_log;
    use std::time::{Duration, UNIX_EPOCH};

    fn plan(agents: &[(&str, &[&str])]) -> ProbePlan {
        let mut p = ProbePlan::default();
        for (id, chain) in agents {
            let entries = chain
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let (prov, model) = r.split_once('/').unwrap();
                    ChainEntry {
                        provider: Some(prov.into()),
                        model: Some(model.into()),
                        ..ChainEntry::new(i, r.to_string())
                    }
                })
                .collect();
            p.agents.push(AgentChain {
                agent: id.to_string(),
                entries,
            });
        }
        p
    }

    fn line<'a>(out: &'a str, series: &str) -> Option<&'a str> {
        out.lines()
            .find(|l| l.starts_with(&format!("{series} ")))
            .and_then(|l| l.rsplit(' ').next())
    }

    #[test]
    fn exposition_of_the_2026_9_6_fixture() {
        // coder is not in this plan: its primary is no agent's, its failing route `other`.
        let p = plan(&[
            (
                "main",
                &["ratelimited/gpt-rl", "broke/gpt-broke", "healthy/gpt-ok"],
            ),
            ("doomed", &["revoked/gpt-auth", "broke/gpt-broke"]),
            ("solo", &["healthy/gpt-ok"]),
        ]);
        let mut s = TrafficState::new(&p, Duration::from_secs(900));
        for l in fixture_log("2026.9.6").lines() {
            if let Some(e) = parse_line(l.as_bytes()).unwrap() {
                s.apply(&e, UNIX_EPOCH);
            }
        }
        s.set_following(true);
        let now = s.last_event().unwrap() + Duration::from_secs(60);
        let mut e = Exposition::with_capacity(4096);
        write(&s, now, &mut e);
        let out = e.finish();
        // scripts/tests/promtool-check-metrics.sh lints this with promtool.
        if let Ok(path) = std::env::var("CLAWPROBE_TRAFFIC_METRICS_SAMPLE_OUT") {
            std::fs::write(path, &out).expect("write traffic metrics sample");
        }
        for (name, ty) in [
            ("clawprobe_traffic_chain_exhausted_total", "counter"),
            ("clawprobe_traffic_decisions_total", "counter"),
            ("clawprobe_traffic_failures_total", "counter"),
            ("clawprobe_traffic_fallback_engaged", "gauge"),
            ("clawprobe_traffic_last_event_timestamp_seconds", "gauge"),
            ("clawprobe_traffic_log_following", "gauge"),
            ("clawprobe_traffic_serving_model", "gauge"),
        ] {
            assert!(
                out.contains(&format!("# TYPE {name} {ty}\n")),
                "{name}\n{out}"
            );
            let help = out
                .lines()
                .find(|l| l.starts_with(&format!("# HELP {name} ")))
                .unwrap();
            if name != "clawprobe_traffic_log_following" {
                assert!(help.contains("OpenClaw's own log"), "{help}");
            }
        }
        for (series, v) in [
            (
                r#"clawprobe_traffic_chain_exhausted_total{agent="doomed"}"#,
                "1",
            ),
            (
                r#"clawprobe_traffic_chain_exhausted_total{agent="main"}"#,
                "0",
            ),
            (
                r#"clawprobe_traffic_chain_exhausted_total{agent="solo"}"#,
                "0",
            ),
            (
                r#"clawprobe_traffic_decisions_total{agent="main",class="rate_limit",decision="candidate_failed",model="gpt-rl",provider="ratelimited"}"#,
                "1",
            ),
            (
                r#"clawprobe_traffic_decisions_total{agent="main",class="rate_limit",decision="probe_cooldown_candidate",model="gpt-rl",provider="ratelimited"}"#,
                "1",
            ),
            (
                r#"clawprobe_traffic_decisions_total{agent="main",class="billing",decision="skip_candidate",model="gpt-broke",provider="broke"}"#,
                "2",
            ),
            (
                r#"clawprobe_traffic_decisions_total{agent="main",class="ok",decision="candidate_succeeded",model="gpt-ok",provider="healthy"}"#,
                "2",
            ),
            // coder's primary is no planned agent's: unattributed, its provider `other`.
            (
                r#"clawprobe_traffic_decisions_total{agent="",class="server_error",decision="candidate_failed",model="other",provider="other"}"#,
                "1",
            ),
            (
                r#"clawprobe_traffic_decisions_total{agent="",class="ok",decision="candidate_succeeded",model="gpt-ok",provider="healthy"}"#,
                "1",
            ),
            (
                r#"clawprobe_traffic_failures_total{class="auth",model="gpt-auth",provider="revoked"}"#,
                "1",
            ),
            (
                r#"clawprobe_traffic_failures_total{class="server_error",model="other",provider="other"}"#,
                "1",
            ),
            (r#"clawprobe_traffic_fallback_engaged{agent="main"}"#, "1"),
            (r#"clawprobe_traffic_fallback_engaged{agent="doomed"}"#, "0"),
            (r#"clawprobe_traffic_fallback_engaged{agent=""}"#, "1"),
            (
                r#"clawprobe_traffic_serving_model{agent="main",model="gpt-ok",provider="healthy",role="fallback"}"#,
                "1",
            ),
            ("clawprobe_traffic_log_following", "1"),
        ] {
            assert_eq!(line(&out, series), Some(v), "{series}\n{out}");
        }
        let last = line(&out, "clawprobe_traffic_last_event_timestamp_seconds").unwrap();
        assert!(last.parse::<f64>().unwrap() > 1.7e9, "{last}");
        assert!(!out.contains("sha256:"), "no profile hash in labels");
        // After the window, nothing is engaged and no serving model is shown.
        let mut e = Exposition::with_capacity(4096);
        write(&s, now + Duration::from_secs(3600), &mut e);
        let out = e.finish();
        assert_eq!(
            line(&out, r#"clawprobe_traffic_fallback_engaged{agent="main"}"#),
            Some("0")
        );
        assert!(!out.contains("clawprobe_traffic_serving_model{"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        let p = plan(&[("we\"ird", &["p/m\\odel"])]);
        let mut s = TrafficState::new(&p, Duration::from_secs(900));
        let l = r#"{"1":{"event":"model_fallback_decision","decision":"candidate_failed","requestedProvider":"p","requestedModel":"m\\odel","candidateProvider":"p","candidateModel":"m\\odel","reason":"auth"}}"#;
        s.apply(&parse_line(l.as_bytes()).unwrap().unwrap(), UNIX_EPOCH);
        let mut e = Exposition::with_capacity(1024);
        write(&s, UNIX_EPOCH, &mut e);
        let out = e.finish();
        assert!(
            out.contains(r#"clawprobe_traffic_decisions_total{agent="we\"ird",class="auth",decision="candidate_failed",model="m\\odel",provider="p"} 1"#),
            "{out}"
        );
    }
}
