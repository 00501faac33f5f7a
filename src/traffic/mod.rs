//! Zero-cost evidence from OpenClaw's own traffic: its JSONL file log, followed read-only.
//!
//! A synthetic probe costs tokens and sees a route only when it runs; the gateway sends
//! real requests all day and logs every model-fallback decision. This module turns those
//! lines into per-agent and per-route evidence, without sending anything:
//!
//! - `locate`: which file OpenClaw writes, exactly as each release names it;
//! - `follow`: the read-only follower (rotation, truncation, start at end, partial lines,
//!   bounded memory);
//! - `event`: typed events from one line (every decision kind, both field eras, garbage
//!   tolerated);
//! - `state`: [`TrafficState`], the pure fold of events into counters, the serving model
//!   per agent and the latest success/failure per route (the seam the verdict and the
//!   scheduler read).
//!
//! The async shell here stays thin: every poll interval it resolves the candidate files
//! (OpenClaw's config is re-read once a minute, as `logging.file` can change while the
//! gateway runs), and on a blocking thread reads what was appended and folds the events
//! into the shared [`Traffic`] in small batches, so a scrape never waits for a long read.
//! `[traffic]` settings take effect at start-up; plan changes (reloads) are picked up on
//! the next poll.

pub mod event;
pub mod follow;
pub mod locate;
pub mod state;

pub use event::{Decision, Event, ModelRef, Reason};
pub use state::{CredentialRef, RouteEvidence, Serving, TrafficFailure, TrafficState};

use crate::config::Config;
use crate::openclaw::env::ProcessEnv;
use crate::plan::ProbePlan;
use follow::Follower;
use locate::LogTarget;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// How often OpenClaw's config is re-read for `logging.file`.
const RESOLVE_EVERY: Duration = Duration::from_secs(60);

/// Most bytes read in one poll; a larger backlog is read over the next polls at once.
const MAX_BYTES_PER_POLL: u64 = 8 * 1024 * 1024;

/// Events folded in under one lock.
const BATCH: usize = 256;

/// The shared traffic state: one lock, and a version for the metrics render cache.
#[derive(Debug)]
pub struct Traffic {
    state: Mutex<TrafficState>,
    version: AtomicU64,
}

impl Traffic {
    pub fn new(plan: &ProbePlan, window: Duration) -> Arc<Traffic> {
        Arc::new(Traffic {
            state: Mutex::new(TrafficState::new(plan, window)),
            version: AtomicU64::new(0),
        })
    }

    /// Reads the state under its lock (keep `f` short: the follower waits meanwhile).
    pub fn read<R>(&self, f: impl FnOnce(&TrafficState) -> R) -> R {
        f(&self.state.lock().expect("traffic lock"))
    }

    /// Changes the state; bumps the version.
    pub fn update<R>(&self, f: impl FnOnce(&mut TrafficState) -> R) -> R {
        let r = f(&mut self.state.lock().expect("traffic lock"));
        self.version.fetch_add(1, Ordering::Release);
        r
    }

    /// Bumped by every change.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }
}

/// What [`log_lookup`] found.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// Traffic following is off: `[traffic] enabled = false`, or no `log_path` and either
    /// `[openclaw] enabled = false` or no OpenClaw install found.
    Off,
    /// Where to look.
    Inputs(locate::Inputs),
    /// OpenClaw's config could not be read (half-written, broken): keep looking where we
    /// looked before, as a failed reload keeps the last good plan.
    Unreadable(String),
}

/// Where to look for the log, from clawprobe's config, OpenClaw's config (`logging.file`)
/// and the environment (`OPENCLAW_PROFILE`, `HOME`, `TMPDIR`).
pub fn log_lookup(config: &Config, env: ProcessEnv<'_>) -> Lookup {
    use crate::openclaw::{config_file, locate as oc};
    let t = &config.traffic;
    if !t.enabled || (!config.openclaw.enabled && t.log_path.is_none()) {
        return Lookup::Off;
    }
    let nonempty = |k: &str| {
        env(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let home = oc::home_dir(env, dirs::home_dir().as_deref());
    let mut logging_file = None;
    if t.log_path.is_none() {
        let oc::Located::Found(loc) = oc::locate(&config.openclaw, env, home.as_deref()) else {
            return Lookup::Off;
        };
        match config_file::load(&loc.config_path, &loc.state_dir, env) {
            Ok(c) => {
                logging_file = c
                    .value
                    .pointer("/logging/file")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            }
            Err(e) => return Lookup::Unreadable(e.to_string()),
        }
    }
    Lookup::Inputs(locate::Inputs {
        log_path: t.log_path.clone(),
        logging_file,
        profile: nonempty("OPENCLAW_PROFILE"),
        home,
        tmpdir: env("TMPDIR"),
        // OpenClaw judges its temp dir for its own user; clawprobe can only use its own
        // (run it as the gateway's user, or set `log_path`).
        uid: Some(unsafe { libc::getuid() }),
    })
}

/// The follower and what it needs between polls; runs on a blocking thread.
struct Shell {
    config: Config,
    follower: Follower,
    target: Option<LogTarget>,
    resolved_at: Option<Instant>,
    plan: Arc<ProbePlan>,
    following: Option<PathBuf>,
    looked_logged: bool,
}

impl Shell {
    /// One poll; returns whether more is waiting to be read.
    fn step(&mut self, traffic: &Traffic, plan: Arc<ProbePlan>) -> bool {
        if !Arc::ptr_eq(&plan, &self.plan) {
            traffic.update(|s| s.set_plan(&plan));
            self.plan = plan;
        }
        if self
            .resolved_at
            .is_none_or(|t| t.elapsed() >= RESOLVE_EVERY)
        {
            let env = |k: &str| std::env::var(k).ok();
            let target = match log_lookup(&self.config, &env) {
                Lookup::Off => None,
                Lookup::Inputs(i) => Some(locate::resolve(&i)),
                Lookup::Unreadable(e) => {
                    tracing::warn!(
                        "traffic: cannot read OpenClaw's config, keeping the log location: {e}"
                    );
                    self.target.clone()
                }
            };
            if target != self.target {
                if let Some(t) = &target {
                    tracing::info!(log = %t.describe(), "traffic: watching OpenClaw's log");
                }
                self.target = target;
            }
            self.resolved_at = Some(Instant::now());
        }
        let Some(target) = &self.target else {
            if self.following.take().is_some() {
                traffic.update(|s| s.set_following(false));
            }
            return false;
        };
        let candidates = target.candidates(chrono::Local::now().date_naive());
        let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
        let mut malformed = 0u64;
        let flush = |batch: &mut Vec<Event>, malformed: &mut u64| {
            if batch.is_empty() && *malformed == 0 {
                return;
            }
            let now = SystemTime::now();
            traffic.update(|s| {
                for e in batch.iter() {
                    s.apply(e, now);
                }
                s.malformed_lines += *malformed;
            });
            batch.clear();
            *malformed = 0;
        };
        let outcome = self
            .follower
            .poll(&candidates, MAX_BYTES_PER_POLL, &mut |line| {
                match event::parse_line(line) {
                    Ok(Some(e)) => batch.push(e),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::debug!("traffic: skipped a log line: {e}");
                        malformed += 1;
                    }
                }
                if batch.len() >= BATCH {
                    flush(&mut batch, &mut malformed);
                }
            });
        flush(&mut batch, &mut malformed);
        if outcome.following != self.following {
            match &outcome.following {
                Some(p) => tracing::info!(file = %p.display(), "traffic: following OpenClaw's log"),
                None => tracing::info!("traffic: OpenClaw's log file is gone; waiting for it"),
            }
            let on = outcome.following.is_some();
            traffic.update(|s| s.set_following(on));
            self.following = outcome.following.clone();
        } else if self.following.is_none() && !self.looked_logged {
            tracing::info!(
                looked = ?candidates,
                "traffic: OpenClaw's log not found yet; it appears with the gateway's first log record"
            );
            self.looked_logged = true;
        }
        outcome.more
    }
}

/// Follows OpenClaw's log until `shutdown` turns true. `plan` gives the current plan
/// (labels and attribution follow reloads).
pub async fn run(
    traffic: Arc<Traffic>,
    config: Config,
    plan: Arc<dyn Fn() -> Arc<ProbePlan> + Send + Sync>,
    mut shutdown: watch::Receiver<bool>,
) {
    let interval = Duration::from_secs_f64(config.traffic.poll_interval_seconds.max(0.01));
    let mut shell = Some(Shell {
        follower: Follower::new(config.traffic.from_start, follow::DEFAULT_MAX_LINE),
        config,
        target: None,
        resolved_at: None,
        plan: plan(),
        following: None,
        looked_logged: false,
    });
    loop {
        let s = shell.take().expect("shell is put back after every step");
        let t = traffic.clone();
        let p = plan();
        let Ok((s, more)) = tokio::task::spawn_blocking(move || {
            let mut s = s;
            let more = s.step(&t, p);
            (s, more)
        })
        .await
        else {
            tracing::error!("traffic: the log follower failed; traffic metrics stop here");
            return;
        };
        shell = Some(s);
        let pause = if more { Duration::ZERO } else { interval };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(toml: &str) -> Config {
        Config::parse_str(toml, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn lookup_reads_logging_file_and_keeps_quiet_without_an_install() {
        let d = tempfile::tempdir().unwrap();
        let state = d.path().join(".openclaw");
        std::fs::create_dir_all(&state).unwrap();
        let env = |k: &str| match k {
            "HOME" => Some(d.path().display().to_string()),
            "OPENCLAW_PROFILE" => Some("work".to_string()),
            _ => None,
        };
        let with_state = format!("[openclaw]\nstate_dir = \"{}\"\n", state.display());
        // No install (no openclaw.json): off, no traffic series for a host without OpenClaw.
        assert!(matches!(
            log_lookup(&config(&with_state), &env),
            Lookup::Off
        ));
        std::fs::write(
            state.join("openclaw.json"),
            r#"{ logging: { file: "~/logs/openclaw-YYYY-MM-DD.log" } }"#,
        )
        .unwrap();
        let Lookup::Inputs(i) = log_lookup(&config(&with_state), &env) else {
            panic!("expected inputs")
        };
        assert_eq!(
            i.logging_file.as_deref(),
            Some("~/logs/openclaw-YYYY-MM-DD.log")
        );
        assert_eq!(i.profile.as_deref(), Some("work"));
        assert_eq!(
            locate::resolve(&i).candidates(chrono::NaiveDate::from_ymd_opt(2026, 9, 6).unwrap())[0],
            d.path().join("logs/openclaw-2026-09-06.log")
        );
        // A half-written config: unreadable, the caller keeps its last location.
        std::fs::write(state.join("openclaw.json"), "{ logging: { file: ").unwrap();
        assert!(matches!(
            log_lookup(&config(&with_state), &env),
            Lookup::Unreadable(_)
        ));
        // Switched off, or no OpenClaw and no log_path.
        let off = format!("{with_state}[traffic]\nenabled = false\n");
        assert!(matches!(log_lookup(&config(&off), &env), Lookup::Off));
        let no_oc = "[openclaw]\nenabled = false\n";
        assert!(matches!(log_lookup(&config(no_oc), &env), Lookup::Off));
        // log_path alone is enough.
        let own = format!("{no_oc}[traffic]\nlog_path = \"{}/\"\n", d.path().display());
        let Lookup::Inputs(i) = log_lookup(&config(&own), &env) else {
            panic!("expected inputs")
        };
        assert_eq!(
            i.log_path.as_deref(),
            Some(Path::new(&format!("{}/", d.path().display())))
        );
        assert_eq!(i.logging_file, None);
    }
}
