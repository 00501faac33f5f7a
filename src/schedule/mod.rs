//! Scheduling: cron triggers, the dispatcher that spreads, budgets and backs off.
//! OWNER: scheduler helper.

pub mod cron;
