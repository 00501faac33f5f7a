//! The three commands, side by side, each one file over the library below it:
//! - [`serve`]: the exporter (plan, scheduler, HTTP server, reloads, signals);
//! - [`check`]: the plan as a table or JSON, nothing sent;
//! - [`probe`]: every model probed once, results as a table or JSON.
//!
//! The binary edge (`main.rs`) parses the command line and calls these; `anyhow` stays
//! there and in `serve`'s start-up.

pub mod check;
pub mod probe;
mod reload;
pub mod serve;
