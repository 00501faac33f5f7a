//! `clawprobe check`: the plan as a readable table or JSON. OWNER: discovery (config side).

use crate::plan::ProbePlan;

/// Renders the plan as a table: agent, position, ref, provider, API, credential, finding.
pub fn render_table(plan: &ProbePlan) -> String {
    let _ = plan;
    String::new()
}

/// Renders the plan as JSON (documented in README).
pub fn render_json(plan: &ProbePlan) -> serde_json::Value {
    let _ = plan;
    serde_json::json!({})
}
