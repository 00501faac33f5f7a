//! `clawprobe probe`: one-shot probe of the plan, the full answer at minimum cost.
//!
//! The answer is the same verdict `serve` publishes ([`crate::verdict`]): a zero-token
//! metadata success proves the key and the model, but not that the key has credits, is not
//! rate-limited or that the model is not overloaded. So `--tier auto` (the default):
//! 1. sends a zero-token metadata request to every target of the selected routes that has
//!    a metadata endpoint (each shared target once);
//! 2. then, route by route, one 1-token generation request to the credential OpenClaw
//!    would reach: routes whose metadata request failed spend nothing more; a credential
//!    already known to have no credits (billing seen through another route) is not asked
//!    again; a target OpenClaw itself holds (disabled, in cooldown) is not sent to at all;
//!    the next profile of a rotation is probed only when the one before failed in a way
//!    OpenClaw rotates past (auth, billing, rate limit).
//!
//! `--tier metadata` stays zero-token (what it cannot see stays unknown to it: a billing
//! key answers `ok` there); `--tier generation` skips step 1. At most
//! `schedule.concurrency` requests run at a time, each within
//! `schedule.probe_timeout_seconds`. Chain entries with a static finding (unresolved ref,
//! missing credential, …) show the finding and send nothing. The requests and tokens spent
//! are printed to stderr with the table, and are the `spent` field of `--json`.
//!
//! `--json` prints `{"routes": [...], "spent": {"generation_requests": n, "tokens": n,
//! "metadata_probes": n}}` with one route object per (agent, chain position):
//!
//! ```json
//! {"agent": "main", "role": "primary", "position": 0, "ref": "openai/gpt-5-mini",
//!  "provider": "openai", "model": "gpt-5-mini", "class": "ok", "reason": "ok",
//!  "source": "generation", "http_status": 200, "latency_seconds": 0.412,
//!  "tier": "generation", "profile": "openai:default", "message": null}
//! ```
//!
//! `class`, `reason` and `source` are the route's verdict (`static`, `metadata`,
//! `generation`, `credential`, `openclaw_state`), what `clawprobe_model_up` would say.
//! `role` is `primary` or `fallback`; `position` is 0 for the primary, 1.. for fallbacks.
//! `ref` is the ref as configured. `profile` is the label of the credential that decided
//! (auth profile id or `env:VAR`, never the key): the one that works, or the first that
//! failed. `tier`, `http_status` and `latency_seconds` describe the last request sent to
//! that credential's target; `provider`, `model`, `http_status`, `latency_seconds`, `tier`
//! and `profile` are `null` when unknown or when nothing was sent. `message` is the
//! provider's redacted error message or the finding's explanation.

use crate::class::Class;
use crate::config::Config;
use crate::plan::{ChainEntry, ProbePlan, Target, TargetId};
use crate::probe::http::HttpExecutor;
use crate::probe::{has_metadata_endpoint, Executor, ProbeResult, Tier};
use crate::verdict::{
    self, route::rotates, Cadence, Observation, PlanVerdicts, Source, TargetEvidence,
};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Which tier `clawprobe probe` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierChoice {
    Metadata,
    Generation,
    /// Metadata first, then one generation request per route that passed it.
    Auto,
}

/// Options of `clawprobe probe`.
#[derive(Clone, Debug)]
pub struct Options {
    pub agent: Option<String>,
    pub tier: TierChoice,
    pub json: bool,
}

/// What `clawprobe probe` prints and its exit code (0: every agent has a working model;
/// 1: otherwise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// What the run spent: zero-token metadata probes (one or two requests each: OpenRouter
/// asks `/key` and the model's endpoints), generation requests (one per generation probe)
/// and the tokens the providers reported (or, where they report none, nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    pub metadata_probes: u64,
    pub generation_requests: u64,
    pub tokens: u64,
}

impl Spent {
    fn add(&mut self, r: &ProbeResult) {
        match r.tier {
            Tier::Metadata => self.metadata_probes += 1,
            Tier::Generation => self.generation_requests += 1,
        }
        if let Some(u) = r.usage {
            self.tokens += u.input_tokens + u.output_tokens;
        }
    }

    fn summary(&self) -> String {
        format!(
            "probe: spent {} generation requests and {} tokens (plus {} zero-token metadata probes)\n",
            self.generation_requests, self.tokens, self.metadata_probes
        )
    }
}

/// Probes the plan once.
pub async fn run(config: &Config, plan: &ProbePlan, opts: &Options) -> Report {
    let exec = match HttpExecutor::from_config(config) {
        Ok(e) => e,
        Err(e) => {
            return Report {
                stdout: String::new(),
                stderr: format!("clawprobe: cannot build the HTTP client: {e}\n"),
                code: 1,
            }
        }
    };
    run_with(Arc::new(exec), config, plan, opts).await
}

/// What was learnt of each target.
#[derive(Default)]
struct Results {
    metadata: HashMap<TargetId, ProbeResult>,
    generation: HashMap<TargetId, ProbeResult>,
    /// Nothing sent: not probeable, or no metadata endpoint under `--tier metadata`.
    skipped: HashMap<TargetId, ProbeResult>,
    spent: Spent,
}

impl Results {
    fn evidence(&self, t: TargetId) -> TargetEvidence<'_> {
        let m = self
            .metadata
            .get(&t)
            .or_else(|| self.skipped.get(&t))
            .and_then(Observation::of);
        TargetEvidence {
            metadata: m,
            metadata_since: m.map(|m| m.at),
            generation: self.generation.get(&t).and_then(Observation::of),
            traffic: None,
        }
    }

    /// The last request of target `t` (generation first), or why nothing was sent.
    fn last(&self, t: TargetId) -> Option<&ProbeResult> {
        self.generation
            .get(&t)
            .or_else(|| self.metadata.get(&t))
            .or_else(|| self.skipped.get(&t))
    }

    fn verdicts<'a>(&'a self, plan: &'a ProbePlan, now: SystemTime) -> PlanVerdicts<'a> {
        verdict::compute(plan, &|t| self.evidence(t), None, &Cadence::default(), now)
    }
}

/// [`run`] with any executor (tests use a fake or a pointed [`HttpExecutor`]).
pub async fn run_with(
    exec: Arc<dyn Executor>,
    config: &Config,
    plan: &ProbePlan,
    opts: &Options,
) -> Report {
    let agents: Vec<usize> = (0..plan.agents.len())
        .filter(|&a| {
            opts.agent
                .as_ref()
                .is_none_or(|w| &plan.agents[a].agent == w)
        })
        .collect();
    if agents.is_empty() {
        let msg = match &opts.agent {
            Some(a) => format!("clawprobe: no agent `{a}` in the plan; `clawprobe check` lists the agents\n"),
            None => "clawprobe: nothing to probe: no agents or [[targets]] found; `clawprobe check` shows what was discovered\n".to_string(),
        };
        return if opts.json {
            Report {
                stdout: "{\"routes\": [], \"spent\": {\"generation_requests\": 0, \"tokens\": 0, \"metadata_probes\": 0}}\n".into(),
                stderr: msg,
                code: 1,
            }
        } else {
            Report {
                stdout: String::new(),
                stderr: msg,
                code: 1,
            }
        };
    }
    let now = SystemTime::now();
    let held = held_targets(plan, now);
    let wanted: BTreeSet<TargetId> = agents
        .iter()
        .flat_map(|&a| plan.agents[a].entries.iter())
        .filter(|e| e.finding.is_none())
        .flat_map(ChainEntry::rotation_targets)
        .filter(|id| *id < plan.targets.len() && !held.contains(id))
        .collect();
    let concurrency = config.schedule.concurrency;
    let mut results = Results::default();

    // Step 1: zero-token metadata requests (and what needs no request at all).
    let mut metadata = Vec::new();
    for &id in &wanted {
        let target = plan.target(id);
        match choose(target, opts.tier) {
            Ok(Some(Tier::Metadata)) => metadata.push(id),
            Ok(_) => {}
            Err(r) => {
                results.skipped.insert(id, *r);
            }
        }
    }
    for r in probe_all(&exec, plan, &metadata, Tier::Metadata, concurrency).await {
        results.spent.add(&r);
        results.metadata.insert(r.target, r);
    }

    // Step 2: one generation request per route, to the credential OpenClaw would reach,
    // until no route needs one.
    if opts.tier != TierChoice::Metadata {
        loop {
            let needed: BTreeSet<TargetId> = {
                let v = results.verdicts(plan, now);
                agents
                    .iter()
                    .flat_map(|&a| plan.agents[a].entries.iter())
                    .filter(|e| e.finding.is_none())
                    .filter_map(|e| needs_generation(e, &v, &results, &held))
                    .collect()
            };
            if needed.is_empty() {
                break;
            }
            let ids: Vec<TargetId> = needed.into_iter().collect();
            for r in probe_all(&exec, plan, &ids, Tier::Generation, concurrency).await {
                results.spent.add(&r);
                results.generation.insert(r.target, r);
            }
        }
    }

    let v = results.verdicts(plan, now);
    let mut rows = Vec::new();
    for &a in &agents {
        for (i, e) in plan.agents[a].entries.iter().enumerate() {
            rows.push(row(&plan.agents[a].agent, e, (a, i), plan, &v, &results));
        }
    }
    let healthy = agents.iter().all(|&a| v.agents[a].up == Some(true));
    let spent = results.spent;
    let (stdout, stderr) = if opts.json {
        let routes: Vec<_> = rows.iter().map(Row::to_json).collect();
        let doc = json!({
            "routes": routes,
            "spent": {
                "generation_requests": spent.generation_requests,
                "tokens": spent.tokens,
                "metadata_probes": spent.metadata_probes,
            },
        });
        (
            serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into()) + "\n",
            String::new(),
        )
    } else {
        (render_table(&rows), spent.summary())
    };
    Report {
        stdout,
        stderr,
        code: if healthy { 0 } else { 1 },
    }
}

/// Targets OpenClaw itself holds now (profile disabled or in cooldown for that model) for
/// every agent whose routes reach them: the gateway skips them, so nothing is sent to them
/// and their verdict is OpenClaw's. (With per-agent stores an agent sees its own state: a
/// target one agent holds and another does not is still probed.)
fn held_targets(plan: &ProbePlan, now: SystemTime) -> BTreeSet<TargetId> {
    let now_ms = verdict::unix_ms(now);
    let held_by =
        |agent: Option<&str>, t| verdict::hold_of(plan, t, agent, now_ms, &mut |_| {}).is_some();
    plan.targets
        .iter()
        .filter(|t| {
            let reaching: Vec<&str> = plan
                .agents
                .iter()
                .filter(|a| {
                    a.entries
                        .iter()
                        .any(|e| e.rotation_targets().contains(&t.id))
                })
                .map(|a| a.agent.as_str())
                .collect();
            if reaching.is_empty() {
                held_by(None, t)
            } else {
                reaching.iter().all(|a| held_by(Some(a), t))
            }
        })
        .map(|t| t.id)
        .collect()
}

/// The target of `entry`'s rotation that needs a generation request next, if any: walking
/// the rotation the way OpenClaw does, the first credential not yet asked whose metadata
/// request passed (or that has no metadata endpoint) and about which nothing
/// credential-wide is known yet.
fn needs_generation(
    entry: &ChainEntry,
    v: &PlanVerdicts<'_>,
    results: &Results,
    held: &BTreeSet<TargetId>,
) -> Option<TargetId> {
    for t in entry.rotation_targets() {
        let verdict = v.targets.get(t).copied().flatten();
        let asked = results.generation.contains_key(&t) || held.contains(&t);
        if !asked {
            match verdict {
                // Skipped (nothing can be sent), or nothing learnt and nothing sent.
                Some(vd) if vd.class == Class::Skipped => return None,
                None if results.last(t).is_some() => return None,
                // Metadata passed (or there is none): ask with a generation request.
                Some(vd) if vd.is_ok() => return Some(t),
                None => return Some(t),
                // A metadata failure, or a credential-wide failure seen elsewhere: spend
                // nothing on this credential; OpenClaw rotates past it or not.
                Some(_) => {}
            }
        }
        match verdict {
            Some(vd) if vd.is_ok() => return None,
            Some(vd) if rotates(&vd) => continue,
            _ => return None,
        }
    }
    None
}

/// What to send first to one target: `Ok(Some(Metadata))` for a metadata request,
/// `Ok(None)` to leave it to the generation step, or a result that needs no request.
fn choose(target: &Target, choice: TierChoice) -> Result<Option<Tier>, Box<ProbeResult>> {
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
        TierChoice::Generation => Ok(None),
        TierChoice::Auto if has_metadata_endpoint(target) => Ok(Some(Tier::Metadata)),
        TierChoice::Auto => Ok(None),
        TierChoice::Metadata if has_metadata_endpoint(target) => Ok(Some(Tier::Metadata)),
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

/// Sends `tier` to every target of `ids`, at most `concurrency` at a time.
async fn probe_all(
    exec: &Arc<dyn Executor>,
    plan: &ProbePlan,
    ids: &[TargetId],
    tier: Tier,
    concurrency: usize,
) -> Vec<ProbeResult> {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for &id in ids {
        let target = plan.target(id).clone();
        let exec = exec.clone();
        let sem = sem.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore never closed");
            let mut r = exec.execute(&target, tier).await;
            r.target = id;
            r
        });
    }
    let mut out = Vec::with_capacity(ids.len());
    while let Some(joined) = set.join_next().await {
        if let Ok(r) = joined {
            out.push(r);
        }
    }
    out
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
    source: Option<Source>,
    http_status: Option<u16>,
    latency: Option<Duration>,
    tier: Option<Tier>,
    profile: Option<String>,
    message: Option<String>,
}

fn row(
    agent: &str,
    e: &ChainEntry,
    (a, i): (usize, usize),
    plan: &ProbePlan,
    v: &PlanVerdicts<'_>,
    results: &Results,
) -> Row {
    let ev = v.entries[a][i];
    let shown = ev.target.or(e.target).filter(|t| *t < plan.targets.len());
    let target = shown.map(|t| plan.target(t));
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
        source: None,
        http_status: None,
        latency: None,
        tier: None,
        profile: target
            .filter(|t| t.credential.is_some())
            .map(|t| t.credential_label())
            .or_else(|| e.credential_label.clone()),
        message: None,
    };
    if let Some(vd) = ev.verdict {
        r.class = vd.class;
        r.reason = vd.reason.to_string();
        r.source = Some(vd.source);
    }
    if let Some(f) = &e.finding {
        r.message = Some(f.message.clone());
    } else if let Some(res) = shown.and_then(|t| results.last(t)) {
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
            "source": self.source.map(Source::as_str),
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
        "AGENT", "ROLE", "REF", "CLASS", "REASON", "SOURCE", "STATUS", "LATENCY",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.agent.clone(),
                r.role.clone(),
                r.model_ref.clone(),
                r.class.as_str().to_string(),
                r.reason.clone(),
                r.source
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "-".into()),
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
                    // The key works; it lacks access to this one model.
                    ..ProbeResult::new(
                        target.id,
                        tier,
                        class,
                        if class == Class::Auth {
                            "model_access_denied"
                        } else {
                            class.as_str()
                        },
                    )
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
        let report = run_with(f.clone(), &config(1), &plan(), &opts).await;
        let (out, code) = (report.stdout, report.code);
        assert_eq!(code, 1, "agent `broken` has no ok model");
        let mut calls = f.calls.lock().unwrap().clone();
        calls.sort();
        // `good` is shared by two agents and probed once per tier: metadata, then one
        // generation request; `bad` fails metadata and costs nothing more; bedrock is
        // skipped without a call; together has no metadata endpoint: generation only.
        assert_eq!(
            calls,
            vec![
                ("bad".to_string(), Tier::Metadata),
                ("good".to_string(), Tier::Metadata),
                ("good".to_string(), Tier::Generation),
                ("nometa".to_string(), Tier::Generation)
            ]
        );
        assert_eq!(f.peak.load(Ordering::SeqCst), 1);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["spent"]["metadata_probes"], 2);
        assert_eq!(v["spent"]["generation_requests"], 2);
        let rows = v["routes"].as_array().unwrap();
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
        assert_eq!(get("main", 1)["tier"], "generation");
        assert_eq!(get("main", 1)["source"], "generation");
        assert_eq!(get("main", 0)["source"], "metadata");
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
            "source",
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
        let report = run_with(f.clone(), &config(4), &plan(), &opts).await;
        let (out, code) = (report.stdout, report.code);
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            report.stderr,
            "probe: spent 0 generation requests and 0 tokens (plus 1 zero-token metadata probes)\n"
        );
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
        let code = run_with(f.clone(), &config(8), &p, &opts).await.code;
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
        let r = run_with(fake(), &config(1), &ProbePlan::default(), &opts).await;
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("nothing to probe"));
        let opts = Options {
            agent: Some("nope".into()),
            tier: TierChoice::Auto,
            json: false,
        };
        let r = run_with(fake(), &config(1), &plan(), &opts).await;
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("nope"));
    }
}
