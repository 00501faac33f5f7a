//! Probers: one per API style behind one signature, as blackbox_exporter has one prober per
//! protocol. OWNER: probe helper.

use crate::class::Class;
use crate::plan::{Target, TargetId};
use crate::ratelimit::RateLimitInfo;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// Which kind of request a probe sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Zero tokens: model and account endpoints.
    Metadata,
    /// The cheapest real generation call.
    Generation,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Metadata => "metadata",
            Tier::Generation => "generation",
        }
    }
}

/// Tokens a response reported using.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// The outcome of one probe of one target.
#[derive(Clone, Debug)]
pub struct ProbeResult {
    pub target: TargetId,
    /// The tier actually used (a metadata probe on a provider without a metadata endpoint
    /// falls back to generation and says so in `reason`/`message`).
    pub tier: Tier,
    pub class: Class,
    pub reason: String,
    pub http_status: Option<u16>,
    pub latency: Duration,
    pub rate_limits: RateLimitInfo,
    pub usage: Option<Usage>,
    /// When the probe finished.
    pub at: SystemTime,
    /// Short, redacted human message (provider error message), if any.
    pub message: Option<String>,
}

/// Runs probes. The real implementation sends HTTP requests; scheduler tests use a fake.
pub trait Executor: Send + Sync + 'static {
    fn execute<'a>(
        &'a self,
        target: &'a Target,
        tier: Tier,
    ) -> Pin<Box<dyn Future<Output = ProbeResult> + Send + 'a>>;
}

pub mod oneshot;
