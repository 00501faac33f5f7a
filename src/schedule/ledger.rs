//! The budget's books on disk: one small JSON file, so the daily caps hold across restarts
//! (a crash loop, a rollout or an OOM kill used to start every cap afresh).
//!
//! - **Where** ([`state_path`]): `[budget] state_file` if set (relative to the config
//!   file), else `$CLAWPROBE_STATE_DIR/budget.json` (the systemd unit and the Kubernetes
//!   manifests set `/var/lib/clawprobe`), else `$XDG_STATE_HOME/clawprobe/budget.json`, else
//!   `~/.local/state/clawprobe/budget.json`. Never inside the OpenClaw directory: such a
//!   path is an error naming the key or variable.
//! - **What**: the UTC day and, for that day, what was spent (requests, and tokens settled
//!   or still reserved: a probe in flight when the process dies counts as spent) globally,
//!   per provider, per model and per credential, plus the per-provider token estimates.
//!   Model and credential keys are stored as SHA-256 digests (they hold base URLs, which
//!   may hold a password), so the file holds no secret and no URL.
//! - **How**: written after every reservation that is sent and every settlement that spends
//!   more than was reserved, to a temp file beside it (mode 0600, directory created 0700)
//!   renamed over it, so a reader or a crash sees the old books or the new, never half.
//! - **Reading**: a missing, unreadable or corrupt file starts fresh with a warning naming
//!   it; books of another day are not carried over.
//!
//! Pure data plus two functions of I/O; the budget ([`super::budget`]) decides what to keep.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File name in the state directory.
pub const FILE_NAME: &str = "budget.json";
const VERSION: u32 = 1;

/// Requests and tokens spent on one cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spent {
    pub requests: u64,
    pub tokens: u64,
}

/// One day's books.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Books {
    pub version: u32,
    /// UTC day: days since 1970-01-01.
    pub day: i64,
    pub global: Spent,
    pub providers: BTreeMap<String, Spent>,
    /// `"model:<digest>"` / `"credential:<digest>"` → spent.
    pub scopes: BTreeMap<String, Spent>,
    /// Largest token count a probe of each provider reported.
    pub estimates: BTreeMap<String, u64>,
}

impl Books {
    pub fn new(day: i64) -> Books {
        Books {
            version: VERSION,
            day,
            ..Books::default()
        }
    }
}

/// Why the state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{what} ({path}) is inside the OpenClaw directory {openclaw}; clawprobe never writes there: choose another path")]
    InsideOpenClaw {
        what: String,
        path: PathBuf,
        openclaw: PathBuf,
    },
}

/// Where the books go (see the module docs); `None` when there is nowhere (no `HOME`).
/// `config_dir` resolves a relative `state_file`; `openclaw_dirs` are the OpenClaw state
/// and config directories, which the path must stay out of.
pub fn state_path(
    state_file: &str,
    config_dir: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    openclaw_dirs: &[PathBuf],
) -> Result<Option<PathBuf>, LedgerError> {
    let var = |k: &str| {
        env(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let (path, what) = if !state_file.trim().is_empty() {
        let p = PathBuf::from(state_file.trim());
        let p = match config_dir {
            Some(d) if p.is_relative() => d.join(p),
            _ => p,
        };
        (p, "[budget] state_file".to_string())
    } else if let Some(d) = var("CLAWPROBE_STATE_DIR") {
        (
            PathBuf::from(d).join(FILE_NAME),
            "$CLAWPROBE_STATE_DIR".to_string(),
        )
    } else if let Some(d) = var("XDG_STATE_HOME") {
        (
            PathBuf::from(d).join("clawprobe").join(FILE_NAME),
            "$XDG_STATE_HOME".to_string(),
        )
    } else if let Some(h) = var("HOME") {
        (
            PathBuf::from(h)
                .join(".local/state/clawprobe")
                .join(FILE_NAME),
            "$HOME/.local/state".to_string(),
        )
    } else {
        return Ok(None);
    };
    let normal = normalize(&path);
    for dir in openclaw_dirs {
        let d = normalize(dir);
        if normal.starts_with(&d) {
            return Err(LedgerError::InsideOpenClaw {
                what,
                path,
                openclaw: dir.clone(),
            });
        }
    }
    Ok(Some(path))
}

/// [`state_path`] for `serve` with `config` (read from `config_path`, if a file): the key,
/// the process environment, and the OpenClaw directories `config` points at (found or not).
pub fn for_config(
    config: &crate::config::Config,
    config_path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<PathBuf>, LedgerError> {
    use crate::openclaw::locate::{locate, Located};
    let mut openclaw = Vec::new();
    if config.openclaw.enabled {
        match locate(&config.openclaw, env, None) {
            Located::Found(l) => {
                openclaw.extend(l.config_path.parent().map(Path::to_path_buf));
                openclaw.push(l.state_dir);
            }
            Located::NotFound { looked } => {
                openclaw.extend(
                    looked
                        .iter()
                        .filter_map(|p| p.parent().map(Path::to_path_buf)),
                );
            }
        }
    }
    openclaw.retain(|d| !d.as_os_str().is_empty() && d != Path::new("/"));
    state_path(
        &config.budget.state_file,
        config_path.and_then(Path::parent),
        env,
        &openclaw,
    )
}

/// `path` made absolute and with symlinks of its existing part resolved, so a path that
/// reaches the OpenClaw directory another way is still recognised.
fn normalize(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    // Resolve the longest existing prefix; keep the rest as written.
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = std::fs::canonicalize(existing) {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(p), Some(n)) => {
                rest.push(n.to_os_string());
                existing = p;
            }
            _ => return abs,
        }
    }
}

/// The books in `path` for `day`: `None` when there is no file, it is unreadable or
/// corrupt (logged), or it holds another day.
pub fn load(path: &Path, day: i64) -> Option<Books> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(file = %path.display(), "no budget books yet (first start, or the file was removed); starting the day's caps fresh");
            return None;
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read the budget books; starting the day's caps fresh");
            return None;
        }
    };
    match serde_json::from_slice::<Books>(&text) {
        Ok(b) if b.version == VERSION && b.day == day => {
            tracing::info!(file = %path.display(), requests = b.global.requests, tokens = b.global.tokens, "budget books of today restored");
            Some(b)
        }
        Ok(b) if b.version == VERSION => {
            tracing::info!(file = %path.display(), "budget books are of an earlier day; starting today's caps fresh");
            None
        }
        // serde's message can quote content; the books hold nothing secret, but keep it short.
        _ => {
            tracing::warn!(file = %path.display(), "budget books are corrupt or of an unknown version; starting the day's caps fresh (the file is replaced at the next probe)");
            None
        }
    }
}

/// Writes `books` to `path` atomically: a 0600 temp file in the same directory (created
/// 0700 if missing), renamed over `path`.
pub fn save(path: &Path, books: &Books) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.as_os_str().is_empty() && !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| FILE_NAME.into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let json = serde_json::to_vec(books).map_err(std::io::Error::other)?;
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&json)?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_path_follows_key_then_env_then_xdg_then_home() {
        let none: [PathBuf; 0] = [];
        let all = [
            ("CLAWPROBE_STATE_DIR", "/var/lib/clawprobe"),
            ("XDG_STATE_HOME", "/x/state"),
            ("HOME", "/home/u"),
        ];
        let p = |file: &str, vars: &[(&str, &str)]| {
            state_path(file, Some(Path::new("/etc/clawprobe")), &env(vars), &none).unwrap()
        };
        assert_eq!(
            p("books.json", &all),
            Some(PathBuf::from("/etc/clawprobe/books.json"))
        );
        assert_eq!(p("/srv/b.json", &all), Some(PathBuf::from("/srv/b.json")));
        assert_eq!(
            p("", &all),
            Some(PathBuf::from("/var/lib/clawprobe/budget.json"))
        );
        assert_eq!(
            p("", &all[1..]),
            Some(PathBuf::from("/x/state/clawprobe/budget.json"))
        );
        assert_eq!(
            p("", &all[2..]),
            Some(PathBuf::from("/home/u/.local/state/clawprobe/budget.json"))
        );
        assert_eq!(p("", &[]), None);
    }

    #[test]
    fn a_path_inside_the_openclaw_directory_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let oc = d.path().join(".openclaw");
        std::fs::create_dir_all(&oc).unwrap();
        // Also through a symlink to it.
        std::os::unix::fs::symlink(&oc, d.path().join("link")).unwrap();
        for dir in [oc.clone(), d.path().join("link"), oc.join("sub")] {
            let dir = dir.display().to_string();
            let e = state_path(
                "",
                None,
                &env(&[("CLAWPROBE_STATE_DIR", &dir)]),
                std::slice::from_ref(&oc),
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("CLAWPROBE_STATE_DIR") && e.contains("OpenClaw"),
                "{e}"
            );
        }
        let e = state_path(
            &format!("{}/b.json", oc.display()),
            None,
            &env(&[]),
            std::slice::from_ref(&oc),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("[budget] state_file"), "{e}");
        // Beside it is fine.
        let beside = d.path().join("state").display().to_string();
        assert!(
            state_path("", None, &env(&[("CLAWPROBE_STATE_DIR", &beside)]), &[oc])
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn save_is_private_and_atomic_and_load_keeps_only_today() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("state/clawprobe/budget.json");
        let mut b = Books::new(20_000);
        b.global = Spent {
            requests: 3,
            tokens: 27,
        };
        b.scopes.insert(
            "model:ab12".into(),
            Spent {
                requests: 1,
                tokens: 9,
            },
        );
        save(&path, &b).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(load(&path, 20_000), Some(b.clone()));
        assert_eq!(load(&path, 20_001), None, "another day");
        // No temp file left behind.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        // Corrupt, truncated or empty: start fresh.
        for bad in [
            "{\"version\": 1, \"day\": 20000, \"glo",
            "",
            "[]",
            "{\"version\": 9}",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert_eq!(load(&path, 20_000), None, "{bad:?}");
        }
        assert_eq!(load(&d.path().join("missing.json"), 20_000), None);
    }
}
