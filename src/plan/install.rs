//! Whether the OpenClaw install can be read, looked at before a plan is built from it.
//!
//! Three users: `serve` exports the answer as `clawprobe_openclaw_install_status{status}`
//! and on the landing page, keeps watching the config path while it is absent (so its
//! return is noticed), and refuses to replace a plan built from an install by one built
//! from none; `check` and `probe` exit 2 rather than 0 when the install they were pointed
//! at is missing or broken.
//!
//! Why not just `locate`: it asks `is_file()`, so a directory, a FIFO, a socket, a
//! symbolic-link loop or a path behind a directory clawprobe may not search all look like
//! "no install", and a monitor that reads "absent" where a broken file stands goes quiet
//! exactly when it should say something. Here a path that exists but is not a readable
//! regular file is `Unreadable`, with a message naming it; only a path with nothing there is
//! `Missing`. Nothing is opened: a FIFO is never read (that would block), only `lstat`ed.

use super::build::{build, PlanError};
use super::ProbePlan;
use crate::config::{Config, OpenClawSettings};
use crate::openclaw::env::ProcessEnv;
use crate::openclaw::locate::{self, Located};
use crate::secret::redact_key_shapes;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// What clawprobe found where the OpenClaw install should be. The values of
/// `clawprobe_openclaw_install_status{status}` (a state set: one is 1, the others 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstallStatus {
    /// The config was found and a plan was built from it.
    Ok,
    /// Nothing where clawprobe looks: wrong mount, path or user, or not created yet.
    Missing,
    /// Something is there but cannot be read or parsed: a directory, a FIFO, a symbolic
    /// link loop, permissions, a syntax error, an unreadable auth store, a read that did
    /// not finish in time.
    Unreadable,
    /// `[openclaw] enabled = false`: only `[[targets]]`, on purpose.
    Disabled,
}

impl InstallStatus {
    /// Every status, in the order they are exported.
    pub const ALL: [InstallStatus; 4] = [
        InstallStatus::Ok,
        InstallStatus::Missing,
        InstallStatus::Unreadable,
        InstallStatus::Disabled,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            InstallStatus::Ok => "ok",
            InstallStatus::Missing => "missing",
            InstallStatus::Unreadable => "unreadable",
            InstallStatus::Disabled => "disabled",
        }
    }
}

impl std::fmt::Display for InstallStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of looking at the install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Install {
    pub status: InstallStatus,
    /// The config file found and the `.env` beside the state it reads, or every candidate
    /// config path that was looked at. `serve` watches these even while they are absent,
    /// so the install's return (or a fixed `.env`) is noticed.
    pub paths: Vec<PathBuf>,
    /// For `Missing` and `Unreadable`: what is wrong, naming the file, and what to do.
    /// Key-shaped text is masked (a parse error can quote the file).
    pub problem: Option<String>,
}

impl Install {
    fn new(status: InstallStatus, paths: Vec<PathBuf>, problem: Option<String>) -> Install {
        Install {
            status,
            paths,
            problem: problem.map(|p| redact_key_shapes(&p)),
        }
    }

    /// The install as it stands after building a plan from it failed with `err`: a
    /// `NotFound` (the file went away in between) is `Missing`, anything else `Unreadable`.
    pub fn failed(self, err: &PlanError) -> Install {
        let status = match err {
            PlanError::NotFound { .. } => InstallStatus::Missing,
            _ => InstallStatus::Unreadable,
        };
        Install::new(status, self.paths, Some(err.to_string()))
    }

    /// The install when reading it did not finish (a FIFO, a stalled file system).
    pub fn unfinished(paths: Vec<PathBuf>, why: &str) -> Install {
        Install::new(InstallStatus::Unreadable, paths, Some(why.to_string()))
    }
}

/// `Ok` when nothing is at `path` (or a regular file is, after all); `Err` says what is
/// there instead and why it cannot be read, naming the path.
fn not_a_file(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let lmeta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {
            return Ok(())
        }
        Err(e) => return Err(format!("cannot look at {shown}: {e}")),
    };
    let meta = if lmeta.file_type().is_symlink() {
        match std::fs::metadata(path) {
            Ok(m) => m,
            // A link to nothing is a missing file: its target may appear (a ConfigMap
            // being swapped, a mount not there yet).
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(format!("{shown} is a symbolic link loop"))
            }
            Err(e) => return Err(format!("cannot follow the symbolic link {shown}: {e}")),
        }
    } else {
        lmeta
    };
    use std::os::unix::fs::FileTypeExt;
    let ft = meta.file_type();
    let what = if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else {
        // A regular file locate did not accept (it raced into existence): let the build
        // read it.
        return Ok(());
    };
    Err(format!("{shown} is {what}, not a file"))
}

/// Looks for the install the way discovery does (`locate`), without reading it.
/// `Ok` here only means a config file is there: building the plan can still fail
/// ([`Install::failed`]).
pub fn inspect(settings: &OpenClawSettings, env: ProcessEnv<'_>, home: Option<&Path>) -> Install {
    if !settings.enabled {
        return Install::new(InstallStatus::Disabled, Vec::new(), None);
    }
    match locate::locate(settings, env, home) {
        Located::Found(loc) => Install::new(
            InstallStatus::Ok,
            vec![loc.config_path, loc.state_dir.join(".env")],
            None,
        ),
        Located::NotFound { looked } => {
            for p in &looked {
                if let Err(why) = not_a_file(p) {
                    return Install::new(
                        InstallStatus::Unreadable,
                        looked.clone(),
                        Some(format!(
                            "cannot read the OpenClaw config: {why}; point [openclaw] config_path / state_dir (or OPENCLAW_CONFIG_PATH / OPENCLAW_STATE_DIR) at the gateway's openclaw.json, or set [openclaw] enabled = false"
                        )),
                    );
                }
            }
            let list = looked
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            Install::new(
                InstallStatus::Missing,
                looked,
                Some(format!(
                    "no OpenClaw install found (looked for {list}); point [openclaw] config_path / state_dir (or OPENCLAW_CONFIG_PATH / OPENCLAW_STATE_DIR) at the gateway's state, run clawprobe as the gateway's user with its volume mounted, or set [openclaw] enabled = false to use only [[targets]]"
                )),
            )
        }
    }
}

/// [`inspect`] with the process environment and home directory, as [`build`] reads them.
pub fn inspect_process(settings: &OpenClawSettings) -> Install {
    let env = |k: &str| std::env::var(k).ok();
    inspect(settings, &env, dirs::home_dir().as_deref())
}

/// Why `check` or `probe` cannot build a plan (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// OpenClaw discovery is on and the install is missing or unreadable.
    #[error("{0}")]
    Install(String),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// The plan for the one-shot commands (`check`, `probe`): like [`build`], but a missing or
/// unreadable install is an error rather than a plan with only `[[targets]]`, so they never
/// report "all resolve" for an install they could not see.
pub fn build_strict(config: &Config) -> Result<ProbePlan, InstallError> {
    let install = inspect_process(&config.openclaw);
    match install.status {
        // With `required`, discovery's own error says so.
        InstallStatus::Missing if config.openclaw.required => Ok(build(config)?),
        InstallStatus::Missing | InstallStatus::Unreadable => {
            Err(InstallError::Install(install.problem.unwrap_or_default()))
        }
        InstallStatus::Ok | InstallStatus::Disabled => Ok(build(config)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(config: &Path) -> OpenClawSettings {
        OpenClawSettings {
            config_path: Some(config.to_path_buf()),
            state_dir: Some(config.parent().unwrap().to_path_buf()),
            ..OpenClawSettings::default()
        }
    }

    fn look(config: &Path) -> Install {
        let env = |_: &str| None;
        inspect(&settings(config), &env, None)
    }

    fn mkfifo(p: &Path) {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn each_kind_of_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("openclaw.json");

        let i = look(&p);
        assert_eq!(i.status, InstallStatus::Missing);
        assert_eq!(i.paths, vec![p.clone()], "watched while absent");
        let msg = i.problem.unwrap();
        assert!(msg.contains(&p.display().to_string()), "{msg}");
        assert!(msg.contains("enabled = false"), "{msg}");

        std::fs::write(&p, "{}").unwrap();
        let i = look(&p);
        assert_eq!(i.status, InstallStatus::Ok);
        assert_eq!(i.paths, vec![p.clone(), dir.path().join(".env")]);
        std::fs::remove_file(&p).unwrap();

        // Exists but is not a readable regular file: unreadable, naming it and what it is.
        type Make<'a> = &'a dyn Fn(&Path);
        let cases: [(&str, Make); 3] = [
            ("a directory", &|p| std::fs::create_dir(p).unwrap()),
            ("a FIFO", &|p| mkfifo(p)),
            ("symbolic link loop", &|p| {
                std::os::unix::fs::symlink(p, p).unwrap();
            }),
        ];
        for (what, make) in cases {
            make(&p);
            let i = look(&p);
            assert_eq!(i.status, InstallStatus::Unreadable, "{what}");
            let msg = i.problem.unwrap();
            assert!(msg.contains(&p.display().to_string()), "{what}: {msg}");
            assert!(msg.contains(what), "{what}: {msg}");
            let _ = std::fs::remove_dir(&p);
            let _ = std::fs::remove_file(&p);
        }

        // A link to nothing is missing (its target may appear).
        std::os::unix::fs::symlink(dir.path().join("gone.json"), &p).unwrap();
        assert_eq!(look(&p).status, InstallStatus::Missing);
    }

    #[test]
    fn disabled_and_build_failures() {
        let s = OpenClawSettings {
            enabled: false,
            ..OpenClawSettings::default()
        };
        let env = |_: &str| None;
        let i = inspect(&s, &env, None);
        assert_eq!((i.status, i.paths.len()), (InstallStatus::Disabled, 0));

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("openclaw.json");
        std::fs::write(&p, "{}").unwrap();
        let ok = look(&p);
        let failed = ok.clone().failed(&PlanError::Discovery(format!(
            "{}: line 4: sk-proj-abcdefghijklmnopqrstuvwxyz012345",
            p.display()
        )));
        assert_eq!(failed.status, InstallStatus::Unreadable);
        assert_eq!(failed.paths, ok.paths);
        let msg = failed.problem.unwrap();
        assert!(
            msg.contains("line 4") && !msg.contains("abcdefghijklmnop"),
            "{msg}"
        );
        let gone = ok.failed(&PlanError::NotFound {
            looked: p.display().to_string(),
        });
        assert_eq!(gone.status, InstallStatus::Missing);
    }

    #[test]
    fn labels() {
        let words: Vec<&str> = InstallStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(words, ["ok", "missing", "unreadable", "disabled"]);
    }
}
