//! The landing page (`/`) and the JSON shape of one chain entry (`/probe`).
//!
//! Both show what the status cache holds; neither sends a request. Every value that came
//! from configuration or a provider is HTML-escaped and redacted, because refs, reasons and
//! provider messages are text someone else wrote.

use crate::class::Class;
use crate::metrics::current_class;
use crate::plan::{ChainEntry, ProbePlan, Target};
use crate::probe::ProbeResult;
use crate::secret::{redact, Secret};
use crate::state::Store;
use std::fmt::Write;
use std::time::SystemTime;

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

/// The JSON of one chain entry, as `clawprobe probe --json` prints its entries.
/// `probed` says whether a request was sent for this answer.
pub fn entry_json(
    plan: &ProbePlan,
    agent: &str,
    entry: &ChainEntry,
    result: Option<&ProbeResult>,
    probed: bool,
) -> serde_json::Value {
    let target = entry.target.and_then(|id| plan.targets.get(id));
    let class = current_class(entry, result);
    let reason = match (result, &entry.finding) {
        (Some(r), _) if r.class != Class::Skipped || entry.finding.is_none() => {
            Some(r.reason.clone())
        }
        (_, Some(f)) => Some(f.reason.clone()),
        _ => None,
    };
    let message = match (result, &entry.finding) {
        (Some(r), _) if r.class != Class::Skipped || entry.finding.is_none() => r.message.clone(),
        (_, Some(f)) => Some(f.message.clone()),
        _ => None,
    };
    serde_json::json!({
        "agent": agent,
        "position": entry.position,
        "role": entry.role.as_str(),
        "ref": clean(&entry.raw_ref, target),
        "provider": target.map(|t| t.provider.clone()).or_else(|| entry.provider.clone()),
        "model": target.map(|t| t.model.clone()).or_else(|| entry.model.clone()),
        "api": target.map(|t| t.api.to_string()).or_else(|| entry.api.as_ref().map(|a| a.to_string())),
        "credential": target.map(|t| t.credential_label()).or_else(|| entry.credential_label.clone()),
        "probed": probed,
        "tier": result.map(|r| r.tier.as_str()),
        "class": class.map(|c| c.as_str()),
        "reason": reason.map(|r| clean(&r, target)),
        "http_status": result.and_then(|r| r.http_status),
        "latency_ms": result.map(|r| r.latency.as_millis() as u64),
        "at": result.map(|r| rfc3339(r.at)),
        "message": message.map(|m| clean(&m, target)),
    })
}

/// The HTML landing page: every agent's chain with its current class.
pub fn render(plan: &ProbePlan, store: &Store, now: SystemTime) -> String {
    let mut h = String::new();
    h.push_str(concat!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>clawprobe</title>\n",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}",
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}",
        ".ok{background:#dfd}.bad{background:#fdd}.unk{background:#eee}</style></head><body>\n",
        "<h1>clawprobe</h1>\n",
        "<p>Budgeted synthetic monitor for OpenClaw model routes. ",
        "<a href=\"/metrics\">Metrics</a> · <a href=\"/healthz\">/healthz</a> · ",
        "<a href=\"/readyz\">/readyz</a></p>\n",
        "<p>Values come from cached background probes; loading this page sends no request.</p>\n",
    ));
    let _ = writeln!(
        h,
        "<p>{} agents, {} targets, generated {}</p>",
        plan.agents.len(),
        plan.targets.len(),
        rfc3339(now)
    );
    h.push_str("<table>\n<tr><th>agent</th><th>role</th><th>ref</th><th>class</th><th>reason</th><th>last probe</th><th>next probe</th></tr>\n");
    for agent in &plan.agents {
        for entry in &agent.entries {
            let target = entry.target.and_then(|id| plan.targets.get(id));
            let status = entry
                .target
                .filter(|&id| id < plan.targets.len())
                .and_then(|id| store.get(plan.key(id)));
            let last = status.as_ref().and_then(|s| s.last.as_ref());
            let class = current_class(entry, last);
            let reason = match (last, &entry.finding) {
                (Some(r), _) if r.class != Class::Skipped || entry.finding.is_none() => {
                    r.reason.clone()
                }
                (_, Some(f)) => f.reason.clone(),
                _ => String::new(),
            };
            let css = match class {
                Some(Class::Ok) => "ok",
                Some(Class::Skipped) | None => "unk",
                Some(_) => "bad",
            };
            let last_at = last
                .map(|r| rfc3339(r.at))
                .unwrap_or_else(|| "never".into());
            let next_at = status
                .as_ref()
                .and_then(|s| s.next_probe_at)
                .map(rfc3339)
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{css}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&agent.agent),
                escape(&entry.role_label()),
                escape(&clean(&entry.raw_ref, target)),
                class.map(|c| c.as_str()).unwrap_or("pending"),
                escape(&clean(&reason, target)),
                escape(&last_at),
                escape(&next_at),
            );
        }
    }
    h.push_str("</table>\n</body></html>\n");
    h
}
