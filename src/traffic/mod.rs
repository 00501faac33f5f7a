//! Zero-cost evidence from OpenClaw's own traffic: its JSONL file log, followed read-only.
//!
//! - `locate`: which file OpenClaw writes, exactly as each release names it;
//! - `follow`: the read-only follower (rotation, truncation, start at end, partial lines,
//!   bounded memory);
//! - `event`: typed events from one line (every decision kind, both field eras, garbage
//!   tolerated);
//! - `state`: [`TrafficState`], the pure fold of events into counters, the serving model
//!   per agent and the latest success/failure per route (the seam the verdict and the
//!   scheduler read).

pub mod event;
pub mod follow;
pub mod locate;
pub mod state;

pub use event::{Decision, Event, ModelRef, Reason};
pub use state::{CredentialRef, RouteEvidence, Serving, TrafficFailure, TrafficState};

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;

    /// Releases with a log written by the real CLI (`scripts/gen-traffic-fixtures.sh`).
    pub const FIXTURE_RELEASES: [&str; 2] = ["2026.9.6", "2026.4.12"];

    pub fn fixture_dir(release: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/openclaw-logs")
            .join(format!("cli-{release}"))
    }

    /// The release's default-named log (`openclaw-YYYY-MM-DD.log`), which holds the turns.
    pub fn fixture_log(release: &str) -> String {
        let dir = fixture_dir(release);
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy().to_string();
                n.len() == "openclaw-YYYY-MM-DD.log".len()
                    && n.starts_with("openclaw-")
                    && n.ends_with(".log")
            })
            .collect();
        logs.sort();
        assert_eq!(logs.len(), 1, "{}: {logs:?}", dir.display());
        std::fs::read_to_string(&logs[0]).unwrap()
    }
}
