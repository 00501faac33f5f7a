//! `clawprobe check`: the plan as a readable table or JSON. OWNER: discovery (config side).
//!
//! Nothing here sends a request or shows a secret: credentials appear only as their label
//! (profile id, `env:VAR`, `config:<provider>`).
//!
//! Each route shows its rotation: the credentials OpenClaw would try in order (it moves to
//! the next one after an auth, billing or rate-limit failure before falling back to the
//! next model; see `src/openclaw/rotation.rs`), and each profile it passes over with why
//! (`anthropic:old skipped: token expired 2026-11-02 14:03 UTC`). A skipped profile is
//! shown, never counted as a finding of a route that has a working credential.

use crate::plan::{ChainEntry, Finding, ProbePlan};
use serde_json::{json, Value};

fn finding_text(f: &Finding) -> String {
    format!("{}/{}: {}", f.class, f.reason, f.message)
}

/// The rotation after the first credential: `then b, c; skipped: d (why)`, or `-`.
fn rotation_text(e: &ChainEntry) -> String {
    let first = e.rotation.iter().position(|s| s.target.is_some());
    let then: Vec<&str> = e
        .rotation
        .iter()
        .enumerate()
        .filter(|(i, s)| s.target.is_some() && Some(*i) != first)
        .map(|(_, s)| s.credential.as_str())
        .collect();
    let skipped: Vec<String> = e
        .rotation
        .iter()
        .filter_map(|s| s.skipped.as_ref().map(|f| f.message.clone()))
        .collect();
    let mut parts = Vec::new();
    if !then.is_empty() {
        parts.push(format!("then {}", then.join(", ")));
    }
    parts.extend(skipped);
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("; ")
    }
}

fn credential_text(plan: &ProbePlan, e: &ChainEntry) -> String {
    e.target
        .and_then(|t| plan.target(t).credential.as_ref().map(|c| c.label()))
        .or_else(|| e.credential_label.clone())
        .unwrap_or_else(|| "-".into())
}

/// Renders the plan as a table: agent, position, ref, provider, API, credential (the first
/// OpenClaw would use), rotation (the ones it would try next, and the ones it skips with
/// why), finding; then a one-line summary.
pub fn render_table(plan: &ProbePlan) -> String {
    let header = [
        "AGENT",
        "POSITION",
        "REF",
        "PROVIDER",
        "API",
        "CREDENTIAL",
        "ROTATION",
        "FINDING",
    ];
    let mut rows: Vec<[String; 8]> = Vec::new();
    for a in &plan.agents {
        for e in &a.entries {
            rows.push([
                a.agent.clone(),
                e.role_label(),
                if e.raw_ref.is_empty() {
                    "-".into()
                } else {
                    e.raw_ref.clone()
                },
                e.provider.clone().unwrap_or_else(|| "-".into()),
                e.api
                    .as_ref()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "-".into()),
                credential_text(plan, e),
                rotation_text(e),
                e.finding
                    .as_ref()
                    .map(finding_text)
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
    }
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("no agents: no OpenClaw install found and no [[targets]] configured\n");
    } else {
        out.push_str(&line(&header.map(String::from)));
        for r in &rows {
            out.push_str(&line(r));
        }
    }
    if !plan.agent_findings.is_empty() {
        out.push_str(
            "\nNot a route's finding, but the OpenClaw release's own check fails on it:\n",
        );
        for f in &plan.agent_findings {
            out.push_str(&format!("  {}: {}\n", f.agent, finding_text(&f.finding)));
        }
    }
    if let Some(r) = &plan.openclaw_release {
        out.push_str(&format!("\nOpenClaw install read as {r}\n"));
    }
    let findings = plan
        .agents
        .iter()
        .flat_map(|a| &a.entries)
        .filter(|e| e.finding.is_some())
        .count()
        + plan.agent_findings.len();
    out.push_str(&format!(
        "\n{} agent(s), {} route(s), {} unique target(s), {} finding(s)\n",
        plan.agents.len(),
        rows.len(),
        plan.targets.len(),
        findings
    ));
    out
}

/// Renders the plan as JSON. Schema (every key always present; `null` where unknown):
///
/// ```text
/// {
///   "agents": [ { "agent": "main",
///       "chain": [ { "position": 0,              // 0 = primary, 1.. = fallbacks in order
///                    "role": "primary",          // or "fallback"
///                    "ref": "openai/gpt-5-mini", // as configured (alias, @profile kept)
///                    "provider": "openai",       // normalised, or null
///                    "model": "gpt-5-mini",      // or null
///                    "api": "openai-responses",  // or null
///                    "credential": "openai:manual", // profile id / env:VAR / config:<p>, or null
///                    "target": 0,                // index into "targets", or null
///                    "rotation": [               // credentials OpenClaw would try, in order
///                      { "credential": "openai:manual", "target": 0, "skipped": null },
///                      { "credential": "openai:old", "target": null,
///                        "skipped": { "class": "auth", "reason": "token_expired",
///                                     "message": "openai:old skipped: token expired …" } } ],
///                    "finding": { "class": "auth", "reason": "missing_credential",
///                                 "message": "…" } | null } ] } ],
///   "targets": [ { "id": 0, "provider": "openai", "model": "gpt-5-mini",
///                  "base_url": "https://api.openai.com/v1", // no userinfo, query or fragment
///                  "api": "openai-responses",
///                  "credential": "env:OPENAI_API_KEY" | null } ],
///   "credential_expiries": [ { "agent", "provider", "profile", "expires_at_ms" } ],
///   "agent_findings": [ { "agent": "ops", "finding": { "class", "reason", "message" } } ],
///   "openclaw": { "release": "2026.4.12 (meta.lastTouchedVersion)" | null,
///                 "watched_files": [ "/home/u/.openclaw/openclaw.json", … ] }
/// }
/// ```
///
/// Credentials are labels only; no secret is ever part of the output.
pub fn render_json(plan: &ProbePlan) -> Value {
    let agents: Vec<Value> = plan
        .agents
        .iter()
        .map(|a| {
            let chain: Vec<Value> = a
                .entries
                .iter()
                .map(|e| {
                    let cred = credential_text(plan, e);
                    json!({
                        "position": e.position,
                        "role": e.role.as_str(),
                        "ref": e.raw_ref,
                        "provider": e.provider,
                        "model": e.model,
                        "api": e.api.as_ref().map(|a| a.as_str()),
                        "credential": if cred == "-" { Value::Null } else { Value::String(cred) },
                        "target": e.target,
                        "rotation": e.rotation,
                        "finding": e.finding,
                    })
                })
                .collect();
            json!({ "agent": a.agent, "chain": chain })
        })
        .collect();
    let targets: Vec<Value> = plan
        .targets
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "provider": t.provider,
                "model": t.model,
                // Without userinfo and query: a password or `?key=` in a baseUrl stays out.
                "base_url": crate::secret::display_url(&t.base_url),
                "api": t.api.as_str(),
                "credential": t.credential.as_ref().map(|c| c.label()),
            })
        })
        .collect();
    json!({
        "agents": agents,
        "targets": targets,
        "credential_expiries": plan.credential_expiries,
        "agent_findings": plan.agent_findings,
        "openclaw": {
            "release": plan.openclaw_release,
            "watched_files": plan.watched_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::Class;
    use crate::plan::{
        AgentChain, ApiStyle, Credential, CredentialKind, CredentialSource, Role, RotationStep,
        Target,
    };
    use crate::secret::Secret;

    fn plan() -> ProbePlan {
        let mut p = ProbePlan::default();
        let t = p.intern_target(Target {
            id: 0,
            provider: "openai".into(),
            model: "gpt-5-mini".into(),
            base_url: "https://api.openai.com/v1".into(),
            api: ApiStyle::OpenAiResponses,
            credential: Some(Credential {
                source: CredentialSource::Env {
                    var: "OPENAI_API_KEY".into(),
                },
                kind: CredentialKind::ApiKey,
                secret: Secret::new("sk-canary-CHECK-1234567"),
                expires_at_ms: None,
            }),
            headers: vec![],
        });
        p.agents.push(AgentChain {
            agent: "main".into(),
            entries: vec![
                ChainEntry {
                    position: 0,
                    role: Role::Primary,
                    raw_ref: "openai/gpt-5-mini".into(),
                    provider: Some("openai".into()),
                    model: Some("gpt-5-mini".into()),
                    api: Some(ApiStyle::OpenAiResponses),
                    target: Some(t),
                    finding: None,
                    credential_label: Some("env:OPENAI_API_KEY".into()),
                    rotation: Vec::new(),
                },
                ChainEntry {
                    position: 1,
                    role: Role::Fallback,
                    raw_ref: "moonshotai/kimi-k2".into(),
                    provider: Some("moonshotai".into()),
                    model: Some("kimi-k2".into()),
                    api: None,
                    target: None,
                    finding: Some(Finding {
                        class: Class::UnresolvedRef,
                        reason: "unknown_provider".into(),
                        message: "provider `moonshotai` is not configured".into(),
                    }),
                    credential_label: None,
                    rotation: Vec::new(),
                },
            ],
        });
        p
    }

    #[test]
    fn table_has_columns_and_no_secret() {
        let out = render_table(&plan());
        assert!(!out.contains("canary"), "{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("AGENT") && lines[0].contains("CREDENTIAL"),
            "{out}"
        );
        assert!(
            lines[1].contains("primary") && lines[1].contains("env:OPENAI_API_KEY"),
            "{out}"
        );
        assert!(
            lines[2].contains("fallback 1")
                && lines[2].contains("unresolved_ref/unknown_provider: provider"),
            "{out}"
        );
        // Columns line up: REF starts at the same offset on every row.
        let col = lines[0].find("REF").unwrap();
        assert_eq!(&lines[1][col..col + 6], "openai");
        assert_eq!(&lines[2][col..col + 10], "moonshotai");
        assert!(
            out.contains("1 agent(s), 2 route(s), 1 unique target(s), 1 finding(s)"),
            "{out}"
        );
    }

    #[test]
    fn rotation_column_lists_next_and_skipped_credentials() {
        let mut p = plan();
        let e = &mut p.agents[0].entries[0];
        e.rotation = vec![
            RotationStep {
                credential: "env:OPENAI_API_KEY".into(),
                target: Some(0),
                skipped: None,
            },
            RotationStep {
                credential: "openai:old".into(),
                target: None,
                skipped: Some(Finding {
                    class: Class::Auth,
                    reason: "token_expired".into(),
                    message: "openai:old skipped: token expired 2026-11-02 14:03 UTC".into(),
                }),
            },
            RotationStep {
                credential: "openai:backup".into(),
                target: Some(0),
                skipped: None,
            },
        ];
        let out = render_table(&p);
        let row = out.lines().nth(1).unwrap();
        assert!(
            row.contains(
                "then openai:backup; openai:old skipped: token expired 2026-11-02 14:03 UTC"
            ),
            "{out}"
        );
        // A skipped profile is not a finding of a route that works.
        assert!(out.contains(", 1 finding(s)"), "{out}");
        let v = render_json(&p);
        let r = &v["agents"][0]["chain"][0]["rotation"];
        assert_eq!(r[1]["skipped"]["reason"], "token_expired");
        assert_eq!(r[2]["target"], 0);
        assert_eq!(v["agents"][0]["chain"][1]["rotation"], json!([]));
    }

    #[test]
    fn json_schema() {
        let v = render_json(&plan());
        assert!(!v.to_string().contains("canary"));
        let c = &v["agents"][0]["chain"];
        assert_eq!(c[0]["role"], "primary");
        assert_eq!(c[0]["target"], 0);
        assert_eq!(c[0]["credential"], "env:OPENAI_API_KEY");
        assert_eq!(c[0]["finding"], Value::Null);
        assert_eq!(c[1]["finding"]["class"], "unresolved_ref");
        assert_eq!(c[1]["finding"]["reason"], "unknown_provider");
        assert_eq!(c[1]["target"], Value::Null);
        assert_eq!(v["targets"][0]["base_url"], "https://api.openai.com/v1");
        assert_eq!(v["targets"][0]["api"], "openai-responses");
        assert!(v["openclaw"]["watched_files"].is_array());
    }
}
