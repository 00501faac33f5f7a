//! `clawprobe probe`: one-shot probe of the plan.
//!
//! Every target the selected agents use is probed once, however many chain entries share
//! it, at most `schedule.concurrency` at a time, each within `schedule.probe_timeout_seconds`.
//! Chain entries with a static finding (unresolved ref, missing credential, …) show the
//! finding and send nothing.
//!
//! `--json` prints an array with one object per (agent, chain position):
//!
//! ```json
//! [{"agent": "main", "role": "primary", "position": 0, "ref": "openai/gpt-5-mini",
//!   "provider": "openai", "model": "gpt-5-mini", "class": "ok", "reason": "ok",
//!   "http_status": 200, "latency_seconds": 0.412, "tier": "metadata",
//!   "profile": "openai:default", "message": null}]
//! ```
//!
//! `role` is `primary` or `fallback`; `position` is 0 for the primary, 1.. for fallbacks.
//! `ref` is the ref as configured. `provider`, `model`, `http_status`, `latency_seconds`,
//! `tier` (the tier actually used) and `profile` (the credential's label: auth profile id or
//! `env:VAR`, never the key) are `null` when unknown or when nothing was sent. `message` is
//! the provider's redacted error message or the finding's explanation.

use crate::class::Class;
use crate::config::Config;
use crate::plan::{ChainEntry, ProbePlan, Target, TargetId};
use crate::probe::http::HttpExecutor;
use crate::probe::{has_metadata_endpoint, Executor, ProbeResult, Tier};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Which tier `clawprobe probe` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierChoice {
    Metadata,
    Generation,
    /// Metadata where the provider has a metadata endpoint, else generation.
    Auto,
}

/// Options of `clawprobe probe`.
#[derive(Clone, Debug)]
pub struct Options {
    pub agent: Option<String>,
    pub tier: TierChoice,
    pub json: bool,
}

/// Probes the plan once; returns the rendered output and the exit code
/// (0: every agent has an `ok` model; 1: otherwise).
pub async fn run(config: &Config, plan: &ProbePlan, opts: &Options) -> (String, i32) {
    let exec = match HttpExecutor::from_config(config) {
        Ok(e) => e,
        Err(e) => return (format!("clawprobe: cannot build the HTTP client: {e}\n"), 1),
    };
    run_with(Arc::new(exec), config, plan, opts).await
}

/// [`run`] with any executor (tests use a fake or a pointed [`HttpExecutor`]).
pub async fn run_with(
    exec: Arc<dyn Executor>,
    config: &Config,
    plan: &ProbePlan,
    opts: &Options,
) -> (String, i32) {
    let agents: Vec<_> = plan
        .agents
        .iter()
        .filter(|a| opts.agent.as_ref().is_none_or(|w| &a.agent == w))
        .collect();
    if agents.is_empty() {
        let msg = match &opts.agent {
            Some(a) => format!("clawprobe: no agent `{a}` in the plan; `clawprobe check` lists the agents\n"),
            None => "clawprobe: nothing to probe: no agents or [[targets]] found; `clawprobe check` shows what was discovered\n".to_string(),
        };
        return if opts.json {
            ("[]\n".into(), 1)
        } else {
            (msg, 1)
        };
    }
    let wanted: BTreeSet<TargetId> = agents
        .iter()
        .flat_map(|a| a.entries.iter())
        .filter(|e| e.finding.is_none())
        .filter_map(|e| e.target)
        .filter(|id| *id < plan.targets.len())
        .collect();
    let results = probe_all(exec, plan, &wanted, opts.tier, config.schedule.concurrency).await;

    let mut rows = Vec::new();
    for a in &agents {
        for e in &a.entries {
            rows.push(row(&a.agent, e, plan, &results));
        }
    }
    let healthy = agents.iter().all(|a| {
        a.entries.iter().any(|e| {
            e.finding.is_none()
                && e.target
                    .and_then(|t| results.get(&t))
                    .is_some_and(|r| r.class.is_ok())
        })
    });
    let out = if opts.json {
        let v: Vec<_> = rows.iter().map(Row::to_json).collect();
        serde_json::to_string_pretty(&v).unwrap_or_else(|_| "[]".into()) + "\n"
    } else {
        render_table(&rows)
    };
    (out, if healthy { 0 } else { 1 })
}

/// The tier for one target, or a result that needs no request.
fn choose(target: &Target, choice: TierChoice) -> Result<Tier, Box<ProbeResult>> {
    let skipped = |reason: &str, message: String| {
        Box::new(ProbeResult {
            message: Some(message),
            ..ProbeResult::new(target.id, Tier::Metadata, Class::Skipped, reason)
        })
    };
    if !target.api.is_probeable() {
        return Err(skipped(
            "unsupported_api",
            format!("API style `{}` has no prober; nothing was sent", target.api),
        ));
    }
    match choice {
        TierChoice::Generation => Ok(Tier::Generation),
        TierChoice::Auto if has_metadata_endpoint(target) => Ok(Tier::Metadata),
        TierChoice::Auto => Ok(Tier::Generation),
        TierChoice::Metadata if has_metadata_endpoint(target) => Ok(Tier::Metadata),
        // Asked for zero tokens: do not fall back to generation behind the user's back.
        TierChoice::Metadata => Err(skipped(
            "no_metadata_endpoint",
            format!(
                "provider `{}` has no zero-token metadata endpoint; use --tier auto or generation",
                target.provider
            ),
        )),
    }
}

async fn probe_all(
    exec: Arc<dyn Executor>,
    plan: &ProbePlan,
    wanted: &BTreeSet<TargetId>,
    choice: TierChoice,
    concurrency: usize,
) -> HashMap<TargetId, ProbeResult> {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut results = HashMap::new();
    for &id in wanted {
        let target = plan.target(id).clone();
        let tier = match choose(&target, choice) {
            Ok(t) => t,
            Err(r) => {
                results.insert(id, *r);
                continue;
            }
        };
        let exec = exec.clone();
        let sem = sem.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore never closed");
            let mut r = exec.execute(&target, tier).await;
            r.target = id;
            (id, r)
        });
    }
    while let Some(joined) = set.join_next().await {
        if let Ok((id, r)) = joined {
            results.insert(id, r);
        }
    }
    results
}

/// One output line.
struct Row {
    agent: String,
    role: String,
    role_word: &'static str,
    position: usize,
    model_ref: String,
    provider: Option<String>,
    model: Option<String>,
    class: Class,
    reason: String,
    http_status: Option<u16>,
    latency: Option<Duration>,
    tier: Option<Tier>,
    profile: Option<String>,
    message: Option<String>,
}

fn row(
    agent: &str,
    e: &ChainEntry,
    plan: &ProbePlan,
    results: &HashMap<TargetId, ProbeResult>,
) -> Row {
    let target = e
        .target
        .filter(|t| *t < plan.targets.len())
        .map(|t| plan.target(t));
    let mut r = Row {
        agent: agent.to_string(),
        role: e.role_label(),
        role_word: e.role.as_str(),
        position: e.position,
        model_ref: e.raw_ref.clone(),
        provider: e
            .provider
            .clone()
            .or_else(|| target.map(|t| t.provider.clone())),
        model: e.model.clone().or_else(|| target.map(|t| t.model.clone())),
        class: Class::Unknown,
        reason: "not_probed".into(),
        http_status: None,
        latency: None,
        tier: None,
        profile: e.credential_label.clone().or_else(|| {
            target
                .filter(|t| t.credential.is_some())
                .map(|t| t.credential_label())
        }),
        message: None,
    };
    if let Some(f) = &e.finding {
        r.class = f.class;
        r.reason = f.reason.clone();
        r.message = Some(f.message.clone());
    } else if let Some(res) = e.target.and_then(|t| results.get(&t)) {
        r.class = res.class;
        r.reason = res.reason.clone();
        r.http_status = res.http_status;
        r.message = res.message.clone();
        if res.class != Class::Skipped {
            r.latency = Some(res.latency);
            r.tier = Some(res.tier);
        }
    }
    r
}

impl Row {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "agent": self.agent,
            "role": self.role_word,
            "position": self.position,
            "ref": self.model_ref,
            "provider": self.provider,
            "model": self.model,
            "class": self.class.as_str(),
            "reason": self.reason,
            "http_status": self.http_status,
            "latency_seconds": self.latency.map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0),
            "tier": self.tier.map(Tier::as_str),
            "profile": self.profile,
            "message": self.message,
        })
    }
}

fn render_table(rows: &[Row]) -> String {
    let header = [
        "AGENT", "ROLE", "REF", "CLASS", "REASON", "STATUS", "LATENCY",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.agent.clone(),
                r.role.clone(),
                r.model_ref.clone(),
                r.class.as_str().to_string(),
                r.reason.clone(),
                r.http_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.latency
                    .map(|d| format!("{:.3}s", d.as_secs_f64()))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for c in &cells {
        for (w, v) in widths.iter_mut().zip(c.iter()) {
            *w = (*w).max(v.chars().count());
        }
    }
    let line = |vals: Vec<&str>| {
        let mut s = String::new();
        for (i, v) in vals.iter().enumerate() {
            if i + 1 == vals.len() {
                s.push_str(v);
            } else {
                s.push_str(&format!("{v:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for c in &cells {
        out.push_str(&line(c.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{AgentChain, ApiStyle, Finding};
    use crate::probe::test_support::target;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Answers from a table keyed by model; counts calls and peak concurrency.
    struct Fake {
        classes: HashMap<String, Class>,
        calls: Mutex<Vec<(String, Tier)>>,
        running: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Executor for Fake {
        fn execute<'a>(
            &'a self,
            target: &'a Target,
            tier: Tier,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ProbeResult> + Send + 'a>> {
            Box::pin(async move {
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                self.running.fetch_sub(1, Ordering::SeqCst);
                self.calls
                    .lock()
                    .unwrap()
                    .push((target.model.clone(), tier));
                let class = self
                    .classes
                    .get(&target.model)
                    .copied()
                    .unwrap_or(Class::Ok);
                ProbeResult {
                    http_status: Some(if class.is_ok() { 200 } else { 401 }),
                    latency: Duration::from_millis(20),
                    message: Some("sk-secret-should-not-matter".into()),
                    ..ProbeResult::new(target.id, tier, class, class.as_str())
                }
            })
        }
    }

    fn entry(position: usize, target: Option<TargetId>, finding: Option<Finding>) -> ChainEntry {
        ChainEntry {
            target,
            finding,
            ..ChainEntry::new(position, format!("ref{position}"))
        }
    }

    fn plan() -> ProbePlan {
        let mut p = ProbePlan::default();
        let a = p.intern_target(target(
            "openai",
            ApiStyle::OpenAiCompletions,
            "http://x/v1",
            "good",
        ));
        let b = p.intern_target(target(
            "openai",
            ApiStyle::OpenAiCompletions,
            "http://x/v1",
            "bad",
        ));
        let c = p.intern_target(target(
            "together",
            ApiStyle::OpenAiCompletions,
            "http://y/v1",
            "nometa",
        ));
        let d = p.intern_target(target(
            "bedrock",
            ApiStyle::Other("bedrock-converse-stream".into()),
            "http://z",
            "br",
        ));
        let finding = Finding {
            class: Class::UnresolvedRef,
            reason: "unknown_provider".into(),
            message: "no such provider".into(),
        };
        p.agents = vec![
            AgentChain {
                agent: "main".into(),
                entries: vec![entry(0, Some(b), None), entry(1, Some(a), None)],
            },
            AgentChain {
                agent: "ops".into(),
                entries: vec![
                    entry(0, Some(a), None),
                    entry(1, Some(c), None),
                    entry(2, Some(d), None),
                ],
            },
            AgentChain {
                agent: "broken".into(),
                entries: vec![entry(0, Some(b), None), entry(1, None, Some(finding))],
            },
        ];
        p
    }

    fn fake() -> Arc<Fake> {
        Arc::new(Fake {
            classes: [("bad".to_string(), Class::Auth)].into_iter().collect(),
            calls: Mutex::new(Vec::new()),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }

    fn config(concurrency: usize) -> Config {
        let mut c = Config::default();
        c.schedule.concurrency = concurrency;
        c
    }

    #[tokio::test]
    async fn each_target_once_bounded_concurrency_and_exit_code() {
        let f = fake();
        let opts = Options {
            agent: None,
            tier: TierChoice::Auto,
            json: true,
        };
        let (out, code) = run_with(f.clone(), &config(1), &plan(), &opts).await;
        assert_eq!(code, 1, "agent `broken` has no ok model");
        let mut calls = f.calls.lock().unwrap().clone();
        calls.sort();
        // `good` is shared by two agents and probed once; bedrock is skipped without a call;
        // together has no metadata endpoint so auto uses generation.
        assert_eq!(
            calls,
            vec![
                ("bad".to_string(), Tier::Metadata),
                ("good".to_string(), Tier::Metadata),
                ("nometa".to_string(), Tier::Generation)
            ]
        );
        assert_eq!(f.peak.load(Ordering::SeqCst), 1);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let rows = v.as_array().unwrap();
        assert_eq!(rows.len(), 7);
        let get = |agent: &str, pos: u64| {
            rows.iter()
                .find(|r| r["agent"] == agent && r["position"] == pos)
                .unwrap_or_else(|| panic!("{agent} {pos} in {out}"))
        };
        assert_eq!(get("main", 0)["class"], "auth");
        assert_eq!(get("main", 0)["role"], "primary");
        assert_eq!(get("main", 1)["class"], "ok");
        assert_eq!(get("main", 1)["role"], "fallback");
        assert_eq!(get("main", 1)["tier"], "metadata");
        assert_eq!(get("main", 1)["profile"], "env:K");
        assert_eq!(get("ops", 2)["class"], "skipped");
        assert_eq!(get("ops", 2)["reason"], "unsupported_api");
        assert_eq!(get("ops", 1)["tier"], "generation");
        assert_eq!(get("broken", 1)["class"], "unresolved_ref");
        assert_eq!(get("broken", 1)["http_status"], serde_json::Value::Null);
        for key in [
            "agent",
            "role",
            "position",
            "ref",
            "provider",
            "model",
            "class",
            "reason",
            "http_status",
            "latency_seconds",
            "tier",
            "profile",
            "message",
        ] {
            assert!(rows[0].get(key).is_some(), "missing {key}");
        }
    }

    #[tokio::test]
    async fn concurrency_and_agent_filter_and_table() {
        let f = fake();
        let opts = Options {
            agent: Some("ops".into()),
            tier: TierChoice::Metadata,
            json: false,
        };
        let (out, code) = run_with(f.clone(), &config(4), &plan(), &opts).await;
        assert_eq!(code, 0, "{out}");
        // Only `ops`' targets; together has no metadata endpoint: skipped, not sent.
        let calls = f.calls.lock().unwrap().clone();
        assert_eq!(calls, vec![("good".to_string(), Tier::Metadata)]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(lines[0].starts_with("AGENT") && lines[0].contains("LATENCY"));
        assert!(
            lines[1].contains("primary") && lines[1].contains(" ok ") && lines[1].contains("200"),
            "{out}"
        );
        assert!(
            lines[2].contains("fallback 1") && lines[2].contains("no_metadata_endpoint"),
            "{out}"
        );
        assert!(!out.contains("main"));

        let f = fake();
        let opts = Options {
            agent: None,
            tier: TierChoice::Generation,
            json: true,
        };
        let mut p = plan();
        p.agents.truncate(2);
        let (_, code) = run_with(f.clone(), &config(8), &p, &opts).await;
        assert_eq!(code, 0);
        assert!(f.peak.load(Ordering::SeqCst) >= 2);
        assert!(f
            .calls
            .lock()
            .unwrap()
            .iter()
            .all(|(_, t)| *t == Tier::Generation));
    }

    #[tokio::test]
    async fn empty_plan_or_unknown_agent_exits_1() {
        let opts = Options {
            agent: None,
            tier: TierChoice::Auto,
            json: false,
        };
        let (out, code) = run_with(fake(), &config(1), &ProbePlan::default(), &opts).await;
        assert_eq!(code, 1);
        assert!(out.contains("nothing to probe"));
        let opts = Options {
            agent: Some("nope".into()),
            tier: TierChoice::Auto,
            json: false,
        };
        let (out, code) = run_with(fake(), &config(1), &plan(), &opts).await;
        assert_eq!(code, 1);
        assert!(out.contains("nope"));
    }
}
