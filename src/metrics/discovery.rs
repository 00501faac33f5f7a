//! What discovery found: `clawprobe_openclaw_install_status{status}` (a state set) and the
//! size of the plan being probed (`clawprobe_plan_agents`, `clawprobe_plan_targets`,
//! `clawprobe_plan_findings{class}`).
//!
//! These are what makes "monitoring nothing" loud: with no install found, an unreadable
//! one, or an `agents` filter that matches nothing, every per-route series is absent and
//! no route alert can fire, so ClawprobeOpenClawInstallUnreadable and ClawprobeNoTargets
//! (alerts/) are keyed on these. All four families are absent until the first load has
//! finished (the install has not been looked at yet).

use super::text::Exposition;
use crate::class::Class;
use crate::plan::{InstallStatus, ProbePlan};

/// Writes the four families for `plan`, served after a load that found `install`.
pub(super) fn write(install: InstallStatus, plan: &ProbePlan, e: &mut Exposition) {
    e.family(
        "clawprobe_openclaw_install_status",
        "gauge",
        "The OpenClaw install as the last (re)load found it, a state set: ok (read), missing (no openclaw.json where clawprobe looks), unreadable (a file is there but cannot be read or parsed, or reading it did not finish; the last good plan is kept), disabled ([openclaw] enabled = false). Read from files at (re)load, not probed at scrape time.",
    );
    for s in InstallStatus::ALL {
        e.sample(&[("status", s.as_str())], f64::from(u8::from(s == install)));
    }
    e.family(
        "clawprobe_plan_agents",
        "gauge",
        "Agents in the plan being probed (after the [openclaw] agents filter). From the last successful (re)load, not probed at scrape time.",
    );
    e.sample(&[], plan.agents.len() as f64);
    e.family(
        "clawprobe_plan_findings",
        "gauge",
        "Chain entries of the plan with a static finding (seen without sending a request: unresolved ref, missing credential, unsupported API, ...), by class. From the last successful (re)load, not probed at scrape time.",
    );
    let mut by_class = [0u64; Class::ALL.len()];
    for f in plan
        .agents
        .iter()
        .flat_map(|a| &a.entries)
        .filter_map(|e| e.finding.as_ref())
    {
        if let Some(i) = Class::ALL.iter().position(|c| *c == f.class) {
            by_class[i] += 1;
        }
    }
    for (c, n) in Class::ALL.iter().zip(by_class) {
        if *c != Class::Ok {
            e.sample_u64(&[("class", c.as_str())], n);
        }
    }
    e.family(
        "clawprobe_plan_targets",
        "gauge",
        "Unique probe targets in the plan being probed (0: clawprobe monitors nothing). From the last successful (re)load, not probed at scrape time.",
    );
    e.sample(&[], plan.targets.len() as f64);
}
