//! The landing page (`/`) and the JSON shape of one chain entry (`/probe`).
//!
//! Both show what the status cache holds; neither sends a request. Every value that came
//! from configuration or a provider is HTML-escaped and redacted, because refs, reasons and
//! provider messages are text someone else wrote.

use crate::class::Class;
use crate::plan::{Install, InstallStatus, ProbePlan, Target, TargetId};
use crate::probe::{ProbeResult, Tier};
use crate::secret::{redact, Secret};
use crate::state::{Store, StoreView, TargetStatus};
use crate::verdict::{self, Cadence, Observation, PlanVerdicts, Source};
use std::fmt::Write;
use std::sync::Arc;
use std::time::SystemTime;

/// What the page says about the exporter itself, above the routes.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// The OpenClaw install as the last (re)load found it; `None` before the first.
    pub install: Option<Install>,
    /// Why the last (re)load failed (already free of secrets), if it did.
    pub reload_error: Option<String>,
}

/// The version line and the state of discovery and reloads.
fn status_lines(h: &mut String, status: &Status) {
    use crate::build_info as b;
    let _ = writeln!(
        h,
        "<p>clawprobe {} (revision {}, built {}, rust {})</p>",
        escape(b::VERSION),
        escape(b::short_revision()),
        escape(b::BUILD_DATE),
        escape(b::RUST_VERSION),
    );
    match &status.install {
        None => h.push_str("<p class=\"unk\">OpenClaw install: not looked at yet (loading)</p>\n"),
        Some(i) => {
            let css = match i.status {
                InstallStatus::Ok | InstallStatus::Disabled => "ok",
                InstallStatus::Missing | InstallStatus::Unreadable => "bad",
            };
            let detail = match (&i.problem, i.status) {
                (Some(p), _) => format!(
                    " — {}. clawprobe keeps serving (the last good plan, if it had one) and picks the files up once they are fixed, no restart needed.",
                    escape(p)
                ),
                (None, InstallStatus::Disabled) => " ([openclaw] enabled = false: only [[targets]])".into(),
                (None, _) => i
                    .paths
                    .first()
                    .map(|p| format!(" ({})", escape(&p.display().to_string())))
                    .unwrap_or_default(),
            };
            let _ = writeln!(
                h,
                "<p>OpenClaw install: <span class=\"{css}\">{}</span>{detail}</p>",
                i.status
            );
        }
    }
    if let Some(e) = &status.reload_error {
        let _ = writeln!(
            h,
            "<p class=\"bad\">The last reload failed, still serving the last good plan: {}</p>",
            escape(e)
        );
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn secrets_of(target: Option<&Target>) -> Vec<&Secret> {
    let Some(t) = target else { return Vec::new() };
    t.credential
        .iter()
        .map(|c| &c.secret)
        .chain(t.headers.iter().map(|(_, v)| v))
        .collect()
}

/// Text shown to people: redacted of the target's secrets and of key-shaped tokens.
fn clean(text: &str, target: Option<&Target>) -> String {
    redact(text, &secrets_of(target))
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Runs `f` over every verdict of `plan` at `now` and the store's view (the store's read lock
/// is held meanwhile: `f` reads statuses through the view it is given, never through the
/// store, whose lock must not be taken again — a probe result waiting to be written would
/// block that second read, and the first would never be released). `fresh`, a result just
/// received, counts even if the store has not recorded it (its target left the plan
/// meanwhile, or a test backend does not record).
pub fn with_verdicts<R>(
    plan: &ProbePlan,
    store: &Store,
    evidence: &Evidence,
    now: SystemTime,
    fresh: Option<&ProbeResult>,
    f: impl FnOnce(&PlanVerdicts<'_>, &StoreView<'_>) -> R,
) -> R {
    let view = store.read();
    let statuses: Vec<Option<&TargetStatus>> = (0..plan.targets.len())
        .map(|t| view.get(plan.key(t)))
        .collect();
    let evidence_from = evidence;
    let target = |t: TargetId| {
        let mut e = statuses[t].map(TargetStatus::evidence).unwrap_or_default();
        if let Some(r) = fresh.filter(|r| r.target == t) {
            let o = Observation::of(r);
            let slot = match r.tier {
                Tier::Metadata => &mut e.metadata,
                Tier::Generation => &mut e.generation,
            };
            if slot.is_none_or(|s| s.at < r.at) {
                *slot = o;
                if r.tier == Tier::Metadata && e.metadata_since.is_none() {
                    e.metadata_since = Some(r.at);
                }
            }
        }
        e
    };
    let v = match &evidence_from.traffic {
        Some(t) => {
            t.read(|s| verdict::compute(plan, &target, Some(s), &evidence_from.cadence, now))
        }
        None => verdict::compute(plan, &target, None, &evidence_from.cadence, now),
    };
    f(&v, &view)
}

/// What the verdict reads besides the status store: the schedule's cadence (staleness) and
/// OpenClaw's log, when it is followed.
#[derive(Clone, Default)]
pub struct Evidence {
    pub cadence: Arc<Cadence>,
    pub traffic: Option<Arc<crate::traffic::Traffic>>,
}

/// "3m 5s ago" from `at` to `now`.
fn age(at: SystemTime, now: SystemTime) -> String {
    let s = now.duration_since(at).map(|d| d.as_secs()).unwrap_or(0);
    match s {
        0..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m {}s ago", s / 60, s % 60),
        _ => format!("{}h {}m ago", s / 3600, (s % 3600) / 60),
    }
}

/// The JSON of one chain entry (agent `a`, entry `i` of `plan`), as `clawprobe probe --json`
/// prints its entries. `class`, `reason`, `source`, `as_of` and `stale` are the route's
/// verdict (what `clawprobe_model_up` says); `tier`, `probe_class`, `http_status`,
/// `latency_ms`, `at` and `message` describe `result`, the probe just sent (or, with
/// `result = None`, the newest probe of the deciding target). `probed` says whether a
/// request was sent for this answer.
pub fn entry_json(
    plan: &ProbePlan,
    store: &StoreView<'_>,
    verdicts: &PlanVerdicts<'_>,
    (a, i): (usize, usize),
    result: Option<&ProbeResult>,
    probed: bool,
) -> serde_json::Value {
    let agent = &plan.agents[a];
    let entry = &agent.entries[i];
    let v = verdicts.entries[a][i];
    let shown = v.target.or(entry.target);
    let target = shown.and_then(|id| plan.targets.get(id));
    let newest = shown
        .filter(|&id| id < plan.targets.len())
        .and_then(|id| store.get(plan.key(id)))
        .and_then(|s| s.last.clone());
    let result = result.or(newest.as_ref());
    let message = match (&v.verdict, result, &entry.finding) {
        (Some(vd), _, Some(f)) if vd.source == Source::Static => Some(f.message.clone()),
        (_, Some(r), _) => r.message.clone(),
        (_, None, Some(f)) => Some(f.message.clone()),
        _ => None,
    };
    serde_json::json!({
        "agent": agent.agent,
        "position": entry.position,
        "role": entry.role.as_str(),
        "ref": clean(&entry.raw_ref, target),
        "provider": target.map(|t| t.provider.clone()).or_else(|| entry.provider.clone()),
        "model": target.map(|t| t.model.clone()).or_else(|| entry.model.clone()),
        "api": target.map(|t| t.api.to_string()).or_else(|| entry.api.as_ref().map(|a| a.to_string())),
        "credential": target.map(|t| t.credential_label()).or_else(|| entry.credential_label.clone()),
        "rotation_step": v.target.map(|_| v.step),
        "probed": probed,
        "class": v.verdict.map(|v| v.class.as_str()),
        "reason": v.verdict.map(|v| clean(v.reason, target)),
        "source": v.verdict.map(|v| v.source.as_str()),
        "as_of": v.verdict.and_then(|v| v.as_of).map(rfc3339),
        "stale": v.stale,
        "tier": result.map(|r| r.tier.as_str()),
        "probe_class": result.map(|r| r.class.as_str()),
        "http_status": result.and_then(|r| r.http_status),
        "latency_ms": result.map(|r| r.latency.as_millis() as u64),
        "at": result.map(|r| rfc3339(r.at)),
        "message": message.map(|m| clean(&m, target)),
    })
}

/// One line per agent: up or down, and which model would serve.
fn agent_lines(h: &mut String, plan: &ProbePlan, v: &PlanVerdicts<'_>) {
    h.push_str("<ul class=\"agents\">\n");
    for (a, agent) in plan.agents.iter().enumerate() {
        let s = v.agents[a];
        let (css, state) = match s.up {
            Some(true) => ("ok", "up"),
            Some(false) => ("bad", "down: all models failed"),
            None => ("unk", "not known yet"),
        };
        let detail = match s.serving.map(|i| (i, &agent.entries[i])) {
            Some((i, e)) => {
                let t = v.entries[a][i].target.and_then(|id| plan.targets.get(id));
                let by = t
                    .map(|t| t.model_ref())
                    .unwrap_or_else(|| e.raw_ref.clone());
                format!(
                    " — next request served by {} ({}{})",
                    escape(&clean(&by, t)),
                    escape(&e.role_label()),
                    match v.entries[a][i].step {
                        0 => String::new(),
                        n => format!(", credential {} of its rotation", n + 1),
                    }
                )
            }
            None => String::new(),
        };
        let _ = writeln!(
            h,
            "<li><b>{}</b>: <span class=\"{css}\">{state}</span>{detail}</li>",
            escape(&agent.agent)
        );
    }
    h.push_str("</ul>\n");
}

/// The HTML landing page: the version, the install and reload state, one line per agent,
/// then every chain entry with its verdict. Links are relative, so the page works behind a
/// path prefix.
pub fn render(
    plan: &ProbePlan,
    store: &Store,
    evidence: &Evidence,
    status: &Status,
    now: SystemTime,
) -> String {
    let mut h = String::new();
    h.push_str(concat!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>clawprobe</title>\n",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}",
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}",
        ".ok{background:#dfd}.bad{background:#fdd}.unk{background:#eee}</style></head><body>\n",
        "<h1>clawprobe</h1>\n",
    ));
    status_lines(&mut h, status);
    h.push_str(concat!(
        "<p>Budgeted synthetic monitor for OpenClaw model routes. ",
        "<a href=\"metrics\">Metrics</a> · <a href=\"healthz\">healthz</a> · ",
        "<a href=\"readyz\">readyz</a></p>\n",
        "<p>Values come from cached background probes; loading this page sends no request. ",
        "A route is up when a request through it would succeed now through a credential ",
        "OpenClaw would rotate to.</p>\n",
    ));
    let _ = writeln!(
        h,
        "<p>{} agents, {} targets, generated {}</p>",
        plan.agents.len(),
        plan.targets.len(),
        rfc3339(now)
    );
    with_verdicts(plan, store, evidence, now, None, |v, view| {
        agent_lines(&mut h, plan, v);
        h.push_str("<table>\n<tr><th>agent</th><th>role</th><th>ref</th><th>class</th><th>reason</th><th>source</th><th>as of</th><th>credential</th><th>next probe</th></tr>\n");
        for (a, agent) in plan.agents.iter().enumerate() {
            for (i, entry) in agent.entries.iter().enumerate() {
                let ev = v.entries[a][i];
                let shown = ev.target.or(entry.target);
                let target = shown.and_then(|id| plan.targets.get(id));
                let status = shown
                    .filter(|&id| id < plan.targets.len())
                    .and_then(|id| view.get(plan.key(id)));
                let class = ev.verdict.map(|v| v.class);
                let css = match class {
                    Some(Class::Ok) => "ok",
                    Some(Class::Skipped) | None => "unk",
                    Some(_) => "bad",
                };
                let as_of = match ev.verdict {
                    Some(vd) => match vd.as_of {
                        Some(at) => {
                            format!("{}{}", age(at, now), if ev.stale { " (stale)" } else { "" })
                        }
                        None => "now".into(),
                    },
                    None => "never".into(),
                };
                let credential = target
                    .map(|t| t.credential_label())
                    .or_else(|| entry.credential_label.clone())
                    .unwrap_or_else(|| "-".into());
                let credential = match (ev.target, ev.step) {
                    (Some(_), n) if n > 0 => format!("{credential} (rotation step {})", n + 1),
                    _ => credential,
                };
                let next_at = status
                    .as_ref()
                    .and_then(|s| s.next_probe_at)
                    .map(rfc3339)
                    .unwrap_or_else(|| "-".into());
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{css}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&agent.agent),
                    escape(&entry.role_label()),
                    escape(&clean(&entry.raw_ref, target)),
                    class.map(|c| c.as_str()).unwrap_or("pending"),
                    escape(&clean(ev.verdict.map(|v| v.reason).unwrap_or(""), target)),
                    ev.verdict.map(|v| v.source.as_str()).unwrap_or("-"),
                    escape(&as_of),
                    escape(&credential),
                    escape(&next_at),
                );
            }
        }
    });
    h.push_str("</table>\n</body></html>\n");
    h
}
