//! (Re)loads for `serve`: what one attempt reads and decides, and how it is kept off the
//! serving path.
//!
//! **The rule** ([`decide`]), so that monitoring never goes dark silently: a plan built
//! from an OpenClaw install is only replaced by another plan built from an install (or by
//! one the operator asked for: `[openclaw] enabled = false`). A reload that finds the
//! install missing, unreadable, half-written or too slow to read fails: the last good plan
//! and its statuses stay, `clawprobe_config_last_reload_successful` turns 0, and
//! `clawprobe_openclaw_install_status` says what was found. Only the first load, with
//! nothing to keep, serves a plan of `[[targets]]` alone when the install cannot be read,
//! and still counts as failed. The config path is watched even while absent, so its
//! return is a change like any other.
//!
//! **Off the serving path** ([`Offload`]): an attempt reads files, and a file can block
//! forever (a FIFO where `.env` should be, a stalled network file system) or take long (a
//! huge config). Each attempt, and each check of the watched files, runs on a thread of its
//! own and is waited for at most `server.reload_timeout_seconds`; past that it is
//! abandoned and counted as a failed reload. A plain thread, not tokio's blocking pool, so
//! that an abandoned read never holds up shutdown (the runtime waits for its pool). Threads
//! still blocked are counted; past [`MAX_THREADS`] no new one starts, so a file that
//! blocks cannot pile up threads. A thread blocked opening a FIFO stays blocked until
//! someone writes to it, even after the FIFO is replaced: attempts are only made on a
//! change of the watched files (each change once) or when asked (SIGHUP, `/-/reload`), so
//! the cap is reached only by asking again and again while the FIFO is there.

use crate::config::Config;
use crate::filestamp::WatchedFiles;
use crate::plan::{install, Install, InstallStatus, PlanError, ProbePlan};
use crate::server::ReloadError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Builds a plan from a config: [`crate::plan::build`]; tests inject their own.
pub(crate) type Planner = Arc<dyn Fn(&Config) -> Result<ProbePlan, PlanError> + Send + Sync>;

/// What the plan being served was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loaded {
    /// Nothing yet: the first load has not finished.
    Nothing,
    /// `[[targets]]` only: OpenClaw disabled or not found, or the first load failed.
    Standalone,
    /// An OpenClaw install (and any `[[targets]]`).
    Install,
}

/// What one attempt decided.
#[derive(Debug)]
pub(crate) enum Action {
    /// Serve `plan`. With `error`, the load still failed: this is the first load and the
    /// plan is the best there is (`[[targets]]` alone).
    Apply {
        plan: Box<ProbePlan>,
        loaded: Loaded,
        error: Option<ReloadError>,
    },
    /// Keep serving the current plan; the reload failed.
    Keep { error: ReloadError },
}

/// The rule (module docs): what to serve after an attempt that found `install` and built
/// `built`, while serving a plan built from `loaded`. `fallback` gives the `[[targets]]`-only
/// plan, needed only when there is nothing to keep.
pub(crate) fn decide(
    loaded: Loaded,
    install: &Install,
    built: Result<ProbePlan, ReloadError>,
    fallback: impl FnOnce() -> ProbePlan,
) -> Action {
    match built {
        Ok(_) if install.status == InstallStatus::Missing && loaded == Loaded::Install => {
            Action::Keep {
                error: ReloadError::Install(format!(
                    "the OpenClaw install the running plan was built from is gone: {}; keeping that plan until it returns",
                    install.problem.as_deref().unwrap_or("no openclaw.json")
                )),
            }
        }
        Ok(plan) => Action::Apply {
            plan: Box::new(plan),
            loaded: if install.status == InstallStatus::Ok {
                Loaded::Install
            } else {
                Loaded::Standalone
            },
            error: None,
        },
        Err(error) if loaded == Loaded::Nothing => Action::Apply {
            plan: Box::new(fallback()),
            loaded: Loaded::Standalone,
            error: Some(error),
        },
        Err(error) => Action::Keep { error },
    }
}

/// Everything one attempt needs, moved to its thread.
pub(crate) struct Request {
    /// Re-read the clawprobe config from here (`None`: use `current`, as at start-up,
    /// where it was just read, or when it came from the embedded default).
    pub config_path: Option<PathBuf>,
    pub current: Config,
    /// `--web.listen-address`: wins over `server.listen` in every config read.
    pub listen_override: Option<String>,
    pub loaded: Loaded,
    /// The files of the plan being served (watched again when it is kept).
    pub serving_files: Vec<PathBuf>,
    /// The paths watched now (watched again when the clawprobe config cannot be read).
    pub watching: Vec<PathBuf>,
    pub planner: Planner,
}

/// What one attempt found and decided; applied by `serve`.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The config read; applied only with [`Action::Apply`].
    pub config: Config,
    /// What was found of the install; `None` when the clawprobe config could not be read
    /// (the install was not looked at).
    pub install: Option<Install>,
    pub action: Action,
    /// The files to watch from now on, stamped after reading.
    pub watched: WatchedFiles,
}

/// `base` plus `extra`, without duplicates, in order.
fn union(base: &[PathBuf], extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut all = base.to_vec();
    for p in extra {
        if !all.contains(p) {
            all.push(p.clone());
        }
    }
    all
}

/// How far apart a reload reads clawprobe's config twice ([`Config::load_settled`]).
const SETTLE_GAP: std::time::Duration = std::time::Duration::from_millis(50);

/// One attempt: read the config, look at the install, build the plan, decide, stamp the
/// files to watch. Blocking; run it through [`Offload`].
pub(crate) fn attempt(req: Request) -> Outcome {
    // Stamped before anything is read: see `WatchedFiles::reusing`.
    let before = WatchedFiles::new(union(&req.watching, &req.serving_files));
    let mut config = match &req.config_path {
        Some(p) => match Config::load_settled(p, SETTLE_GAP) {
            Ok(c) => c,
            Err(e) => {
                return Outcome {
                    config: req.current,
                    install: None,
                    action: Action::Keep { error: e.into() },
                    watched: WatchedFiles::reusing(req.watching, &before),
                }
            }
        },
        None => req.current,
    };
    if let Some(listen) = &req.listen_override {
        config.server.listen.clone_from(listen);
    }
    let found = install::inspect_process(&config.openclaw);
    let built = match found.status {
        // Never handed to the planner: `locate` would take it for "no install".
        InstallStatus::Unreadable => Err(ReloadError::Install(
            found.problem.clone().unwrap_or_default(),
        )),
        _ => (req.planner)(&config).map_err(ReloadError::from),
    };
    let found = match &built {
        Err(ReloadError::Plan(e)) if found.status != InstallStatus::Disabled => found.failed(e),
        _ => found,
    };
    let action = decide(req.loaded, &found, built, || {
        let mut standalone = config.clone();
        standalone.openclaw.enabled = false;
        (req.planner)(&standalone).unwrap_or_default()
    });
    let files = match &action {
        Action::Apply { plan, .. } => union(&plan.watched_files, &found.paths),
        Action::Keep { .. } => union(&req.serving_files, &found.paths),
    };
    Outcome {
        config,
        install: Some(found),
        action,
        watched: WatchedFiles::reusing(files, &before),
    }
}

/// Most threads [`Offload`] lets run at once: one working, the rest blocked past their
/// deadline.
pub(crate) const MAX_THREADS: usize = 8;

/// Why offloaded work gave no answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Overrun {
    /// Still running at the deadline: abandoned (the thread finishes or blocks on its own).
    TimedOut,
    /// [`MAX_THREADS`] threads are still running: nothing new started.
    Busy(usize),
    /// The work panicked, or no thread could be started.
    Failed(String),
}

/// Runs blocking file work on threads of its own, each waited for at most a deadline.
#[derive(Debug, Default)]
pub(crate) struct Offload {
    running: Arc<AtomicUsize>,
}

/// Decrements the running count when the thread's work ends (or unwinds).
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Offload {
    /// Threads started and not finished (blocked ones included).
    #[cfg(test)]
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Runs `work` on a new thread; its result, or why there is none by `deadline`.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        deadline: Duration,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Overrun> {
        let before = self.running.fetch_add(1, Ordering::SeqCst);
        let guard = Running(self.running.clone());
        if before >= MAX_THREADS {
            return Err(Overrun::Busy(before));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("clawprobe-reload".into())
            .spawn(move || {
                let _guard = guard;
                let _ = tx.send(work());
            })
            .map_err(|e| Overrun::Failed(format!("cannot start a thread: {e}")))?;
        match tokio::time::timeout(deadline, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(Overrun::Failed("the reload thread panicked".into())),
            Err(_) => Err(Overrun::TimedOut),
        }
    }
}

impl Overrun {
    /// As a reload failure.
    pub(crate) fn into_error(self, deadline: Duration) -> ReloadError {
        match self {
            Overrun::TimedOut => ReloadError::TimedOut(deadline),
            Overrun::Busy(n) => ReloadError::Busy(n),
            Overrun::Failed(why) => ReloadError::Interrupted(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ApiStyle, Target};

    fn install(status: InstallStatus) -> Install {
        Install {
            status,
            paths: vec!["/srv/openclaw/openclaw.json".into()],
            problem: (status == InstallStatus::Missing).then(|| {
                "no OpenClaw install found (looked for /srv/openclaw/openclaw.json)".into()
            }),
        }
    }

    fn plan(models: &[&str]) -> ProbePlan {
        let mut p = ProbePlan::default();
        for m in models {
            p.intern_target(Target::new(
                "openai",
                *m,
                "http://127.0.0.1:9/v1",
                ApiStyle::OpenAiCompletions,
            ));
        }
        p
    }

    fn broken() -> Result<ProbePlan, ReloadError> {
        Err(ReloadError::Install("openclaw.json is a directory".into()))
    }

    /// What each situation does: (serving, found, built) → applied plan size and
    /// provenance, or kept, and whether the reload counts as failed.
    #[test]
    fn the_rule() {
        use InstallStatus as S;
        use Loaded as L;
        type Case = (L, S, Result<ProbePlan, ReloadError>, &'static str);
        let cases: Vec<Case> = vec![
            // First load: whatever is found is served; failures serve [[targets]] alone.
            (
                L::Nothing,
                S::Ok,
                Ok(plan(&["a", "b"])),
                "apply 2 install ok",
            ),
            (
                L::Nothing,
                S::Missing,
                Ok(plan(&[])),
                "apply 0 standalone ok",
            ),
            (
                L::Nothing,
                S::Disabled,
                Ok(plan(&["t"])),
                "apply 1 standalone ok",
            ),
            (
                L::Nothing,
                S::Unreadable,
                broken(),
                "apply 1 standalone failed",
            ),
            // From an install: only another install, or OpenClaw switched off, replaces it.
            (L::Install, S::Ok, Ok(plan(&["a"])), "apply 1 install ok"),
            (L::Install, S::Missing, Ok(plan(&[])), "keep"),
            (L::Install, S::Unreadable, broken(), "keep"),
            (
                L::Install,
                S::Disabled,
                Ok(plan(&["t"])),
                "apply 1 standalone ok",
            ),
            // Never had an install: its absence is no failure (unless required: the
            // planner's NotFound error, a failure like any other).
            (
                L::Standalone,
                S::Missing,
                Ok(plan(&["t"])),
                "apply 1 standalone ok",
            ),
            (L::Standalone, S::Missing, broken(), "keep"),
            (
                L::Standalone,
                S::Ok,
                Ok(plan(&["a", "t"])),
                "apply 2 install ok",
            ),
        ];
        for (loaded, status, built, want) in cases {
            let got = match decide(loaded, &install(status), built, || plan(&["t"])) {
                Action::Apply {
                    plan,
                    loaded,
                    error,
                } => format!(
                    "apply {} {} {}",
                    plan.targets.len(),
                    if loaded == L::Install {
                        "install"
                    } else {
                        "standalone"
                    },
                    if error.is_some() { "failed" } else { "ok" }
                ),
                Action::Keep { .. } => "keep".into(),
            };
            assert_eq!(got, want, "{loaded:?} {status:?}");
        }
        // A vanished install says so, naming where it looked.
        match decide(
            L::Install,
            &install(S::Missing),
            Ok(plan(&[])),
            ProbePlan::default,
        ) {
            Action::Keep { error } => {
                let e = error.to_string();
                assert!(
                    e.contains("gone") && e.contains("/srv/openclaw/openclaw.json"),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    /// The config path is watched while absent and after the plan is kept; a path that
    /// exists but is no file is an error naming it, without being read.
    #[test]
    fn attempt_watches_the_missing_config_and_refuses_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let oc = dir.path().join("openclaw.json");
        let toml = format!(
            "[openclaw]\nconfig_path = \"{}\"\nstate_dir = \"{}\"\n",
            oc.display(),
            dir.path().display()
        );
        let config = Config::parse_str(&toml, std::path::Path::new("test.toml")).unwrap();
        let served = dir.path().join("auth-profiles.json");
        let req = |loaded| Request {
            config_path: None,
            current: config.clone(),
            listen_override: Some("127.0.0.1:1".into()),
            loaded,
            serving_files: vec![served.clone()],
            watching: Vec::new(),
            planner: Arc::new(crate::plan::build),
        };
        let o = attempt(req(Loaded::Install));
        assert_eq!(o.install.as_ref().unwrap().status, InstallStatus::Missing);
        assert!(matches!(o.action, Action::Keep { .. }), "{:?}", o.action);
        let watched: Vec<_> = o.watched.paths().map(|p| p.to_path_buf()).collect();
        assert_eq!(watched, vec![served.clone(), oc.clone()]);
        assert_eq!(o.config.server.listen, "127.0.0.1:1", "the flag wins");

        std::fs::create_dir(&oc).unwrap();
        let o = attempt(req(Loaded::Install));
        let i = o.install.unwrap();
        assert_eq!(i.status, InstallStatus::Unreadable);
        match o.action {
            Action::Keep { error } => {
                let e = error.to_string();
                assert!(
                    e.contains(&oc.display().to_string()) && e.contains("directory"),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
        // First load: served with nothing but [[targets]], still watching the path.
        let o = attempt(req(Loaded::Nothing));
        assert!(
            matches!(
                &o.action,
                Action::Apply {
                    error: Some(_),
                    loaded: Loaded::Standalone,
                    ..
                }
            ),
            "{:?}",
            o.action
        );
        assert!(o.watched.paths().any(|p| p == oc));
    }

    #[tokio::test]
    async fn offload_deadline_and_thread_cap() {
        let off = Offload::default();
        assert_eq!(off.run(Duration::from_secs(5), || 7).await, Ok(7));
        // Work that blocks: abandoned at the deadline, its thread counted until it ends.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        for _ in 0..MAX_THREADS {
            let w = wait.clone();
            let r = off
                .run(Duration::from_millis(20), move || {
                    let _ = w.lock().unwrap().recv();
                })
                .await;
            assert_eq!(r, Err(Overrun::TimedOut));
        }
        assert_eq!(off.running(), MAX_THREADS);
        assert_eq!(
            off.run(Duration::from_secs(5), || 1).await,
            Err(Overrun::Busy(MAX_THREADS)),
            "no more threads while they are blocked"
        );
        for _ in 0..MAX_THREADS {
            release.send(()).unwrap();
        }
        for _ in 0..200 {
            if off.running() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(off.running(), 0);
        assert_eq!(off.run(Duration::from_secs(5), || 2).await, Ok(2));
        let r = off
            .run(Duration::from_secs(5), || -> u8 { panic!("boom") })
            .await;
        assert!(matches!(r, Err(Overrun::Failed(_))), "{r:?}");
    }
}
