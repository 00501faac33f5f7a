//! Zero-cost evidence from OpenClaw's own traffic: its JSONL file log, followed read-only.
//!
//! - `locate`: which file OpenClaw writes, exactly as each release names it;
//! - `follow`: the read-only follower (rotation, truncation, start at end, partial lines,
//!   bounded memory).

pub mod follow;
pub mod locate;
