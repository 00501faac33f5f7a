//! Read-only discovery of an OpenClaw install, following OpenClaw's own rules
//! (see `../shared/openclaw/FORMATS.md`). OWNERS: discovery helpers.
//!
//! - `auth`, `secretref`: auth profile stores of every era, profile state, credential order.
//! - everything else: locating the install, the JSON5 config, env, agents, refs, providers.

pub mod auth;
pub mod secretref;
