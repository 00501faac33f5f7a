//! clawprobe: a budgeted synthetic monitor and Prometheus exporter for OpenClaw model routes.
//!
//! Data flows `config` → `openclaw` (discovery) → `plan` → `schedule` (cron trigger, books,
//! dispatch) → `probe` (one prober per API style) → `classify` → `verdict` (one answer per
//! route from every kind of evidence) → `state` / `traffic` (OpenClaw's own log) →
//! `metrics` / `server`; the commands are in `cmd`. Imports follow the layers of
//! ARCHITECTURE.md (each module imports only lower ones), which `tests/layers.rs` checks.

pub mod alloc;
pub mod api_style;
pub mod build_info;
pub mod class;
pub mod classify;
pub mod cmd;
pub mod config;
pub mod credential;
pub mod cron;
pub mod filestamp;
pub mod logfmt;
pub mod metrics;
pub mod openclaw;
pub mod plan;
pub mod probe;
pub mod ratelimit;
pub mod schedule;
pub mod secret;
pub mod server;
pub mod state;
pub mod traffic;
pub mod verdict;
