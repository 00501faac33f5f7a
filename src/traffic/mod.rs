//! Zero-cost evidence from OpenClaw's own traffic: its JSONL file log, followed read-only.
//!
//! - `locate`: which file OpenClaw writes, exactly as each release names it.

pub mod locate;
