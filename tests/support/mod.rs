//! The one integration-test harness, shared by every file in `tests/` (`mod support;`):
//! [`harness`] runs the real binary, [`fake_provider`] is the fake model provider on
//! loopback, [`fs`] installs OpenClaw fixtures and snapshots directories.
#![allow(dead_code)]

pub mod fake_provider;
pub mod fs;
pub mod harness;
