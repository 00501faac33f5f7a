//! The HTTP server: /metrics, /healthz, /readyz, /, POST /-/reload, GET and POST /probe.
//!
//! The server knows nothing about scheduling: it talks to a [`Backend`] (implemented by
//! the `serve` command on top of the scheduler), so every route can be tested with a fake
//! backend and no network. Two parts: the [`listener`] (connections, limits, TLS, basic
//! auth through [`basic_auth`], the on-demand probe lane [`ondemand`], the web config
//! poller) and the [`routes`] (a plain function of method, URI and backend).

pub mod basic_auth;
pub mod landing;
pub mod listener;
pub mod ondemand;
pub mod routes;
pub mod tls;
pub mod webconfig;

pub use listener::{bind, local_addr, serve, serve_with, Limits, ServerError};
pub use routes::{route, route_with};

use crate::class::SkipReason;
use crate::config::ConfigError;
use crate::plan::{PlanError, ProbePlan, TargetId};
use crate::probe::{ProbeResult, Tier};
use crate::schedule::Readiness;
use crate::secret::redact_key_shapes;
use crate::state::Store;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, so [`Backend`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the server needs from the running exporter.
pub trait Backend: Send + Sync + 'static {
    /// The `/metrics` text (cached probe results only; never probes). Called on a blocking
    /// thread: rendering a large plan takes milliseconds of CPU.
    fn metrics_text(&self) -> Bytes;
    /// The same exposition gzip-compressed (`Content-Encoding: gzip`), compressed once per
    /// render and shared like the text; `None`: not offered, the text is sent. Called on a
    /// blocking thread.
    fn metrics_gzip(&self) -> Option<Bytes> {
        None
    }
    /// What the landing page says about the exporter itself: the OpenClaw install and the
    /// last reload.
    fn status(&self) -> landing::Status {
        landing::Status::default()
    }
    /// Readiness for `/readyz` (plan loaded and every credential probed once, or the first
    /// cycle done, or its timeout passed); [`Readiness::describe`] says what is missing.
    fn ready(&self) -> Readiness;
    /// The plan now serving.
    fn plan(&self) -> Arc<ProbePlan>;
    /// The status table.
    fn store(&self) -> Arc<Store>;
    /// What the verdict reads besides the store: the cadence (staleness) and OpenClaw's log.
    fn evidence(&self) -> landing::Evidence;
    /// Re-reads the config and rebuilds the plan; the last good plan stays on `Err`.
    fn reload(&self) -> BoxFuture<'_, Result<(), ReloadError>>;
    /// Probes one target now, through the budget. `Err` says why it was not sent.
    fn probe_now(
        &self,
        target: TargetId,
        tier: Tier,
    ) -> BoxFuture<'_, Result<ProbeResult, SkipReason>>;
    /// The web config's last change was applied (`true`) or refused; for
    /// `clawprobe_web_config_last_reload_successful`. Called when that changes.
    fn web_config_reloaded(&self, _ok: bool) {}
}

/// Why a reload failed (the last good plan keeps running). Displays without secrets:
/// key-shaped text in the underlying message is masked, and the underlying error is not
/// exposed as a `source` (its text could hold one).
#[derive(thiserror::Error)]
pub enum ReloadError {
    /// The clawprobe config file.
    #[error("{}", redact_key_shapes(&.0.to_string()))]
    Config(ConfigError),
    /// OpenClaw discovery or `[[targets]]`.
    #[error("{}", redact_key_shapes(&.0.to_string()))]
    Plan(PlanError),
    /// The thread building the plan did not finish (it panicked, or none could start).
    #[error("building the plan did not finish: {0}")]
    Interrupted(String),
    /// Another reload held the lock for longer than the deadline.
    #[error(
        "another reload is still running after {0:?} (server.reload_timeout_seconds); try again"
    )]
    InProgress(std::time::Duration),
    /// The OpenClaw install is missing or unreadable (the message names the file), or it
    /// vanished after a plan was built from it.
    #[error("{}", redact_key_shapes(.0))]
    Install(String),
    /// Reading the files did not finish within `server.reload_timeout_seconds`; the read
    /// was abandoned (a FIFO where a file should be, a stalled file system, a huge file).
    #[error("reading the configuration did not finish within {0:?} (server.reload_timeout_seconds): a FIFO or device where a file should be, a stalled file system, or a huge file; abandoned")]
    TimedOut(std::time::Duration),
    /// Earlier reads that overran their deadline are still blocked; no new one is started
    /// until they return.
    #[error("{0} earlier reads of the configuration are still blocked (a FIFO where a file should be, or a stalled file system); not starting another until they return (a restart clears them)")]
    Busy(usize),
}

impl std::fmt::Debug for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReloadError({self})")
    }
}

impl From<ConfigError> for ReloadError {
    fn from(e: ConfigError) -> Self {
        ReloadError::Config(e)
    }
}

impl From<PlanError> for ReloadError {
    fn from(e: PlanError) -> Self {
        ReloadError::Plan(e)
    }
}
