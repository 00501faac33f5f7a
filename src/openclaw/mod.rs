//! Read-only discovery of an OpenClaw install, following OpenClaw's own rules
//! (see `../shared/openclaw/FORMATS.md`). OWNERS: discovery helpers.
//!
//! - `auth`, `secretref`: auth profile stores of every era, profile state, credential order.
//! - `locate`: where the install is (state dir, config file).
//! - `config_file`: the JSON5 config with `$include` and `${VAR}` substitution.
//! - `env`: the merged environment (process, `<stateDir>/.env`, config `env.vars`).
//! - `agents`: agents and their primary/fallback chains.
//! - `modelref`: `provider/model@profile` refs, provider id normalisation, suggestions.
//! - `providers`: the built-in provider catalog merged with `models.providers`.
//! - `regular`: reading a small file without ever blocking on a FIFO in its place.

pub mod agents;
pub mod auth;
pub mod config_file;
pub mod env;
pub mod era;
pub mod locate;
pub mod modelref;
pub mod providers;
pub mod regular;
pub mod secretref;
