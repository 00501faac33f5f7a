//! Where OpenClaw writes its JSONL file log, named exactly the way OpenClaw names it.
//!
//! From OpenClaw's source (`src/logging/log-file-path.ts`, `src/logging/logger.ts`,
//! `src/infra/tmp-openclaw-dir.ts` and `@openclaw/fs-safe`'s `resolveSecureTempRoot`), by
//! release:
//!
//! | | 2026.4 (seen 2026.4.12) | 2026.6 (seen 2026.6.11) | 2026.9 (seen 2026.9.6) |
//! |---|---|---|---|
//! | default file | `<dir>/openclaw-YYYY-MM-DD.log` | same | same, or `<dir>/openclaw-<segment>-YYYY-MM-DD.log` when `OPENCLAW_PROFILE` is set and not `default` |
//! | `<dir>` | `/tmp/openclaw` when it is a real directory owned by the user and not group/other-writable (created 0700 when missing), else `$TMPDIR/openclaw-<uid>` | same | same (`resolveSecureTempRoot`) |
//! | `logging.file` | used as given | a dated name (`openclaw-` + 10 chars + `.log`) rolls daily in its directory | `openclaw-YYYY-MM-DD.log` (literally) or `openclaw-<date>.log` rolls daily in its directory; anything else is used as given |
//! | size limit | 500 MB, then writes are dropped | 100 MB, then renamed to `.1.log` … `.5.log` and a new file started | same as 2026.6 |
//!
//! `YYYY-MM-DD` is the **local** date of the gateway process, computed for every record, so
//! the file changes at local midnight. clawprobe computes it with its own local time zone:
//! run it with the gateway's `TZ`.
//!
//! Resolution here never creates, repairs or writes anything: the preferred directory is
//! judged the way OpenClaw judges it for the user clawprobe runs as, and every call returns
//! the candidate files in the order to try, the first existing one winning. That makes one
//! rule work for every release: a dated `logging.file` is tried rolled (2026.6+) and as
//! given (2026.4); with a profile, the segmented name (2026.9+) before the plain one.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// OpenClaw's preferred log directory on POSIX systems.
pub const PREFERRED_DIR: &str = "/tmp/openclaw";

/// Longest encoded profile segment OpenClaw keeps as is (longer ones are hashed).
const MAX_PROFILE_SEGMENT: usize = 220;

/// Which file(s) OpenClaw writes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    /// One file, whatever the date (a `logging.file` without a dated name).
    Fixed(PathBuf),
    /// Dated files in `dir`: `<family>-YYYY-MM-DD.log` for each family in order (the
    /// profile family first when there is one, then plain `openclaw`), then `also` (a
    /// configured dated file as an older release would use it, verbatim).
    Rolling {
        dir: PathBuf,
        families: Vec<String>,
        also: Option<PathBuf>,
    },
}

impl LogTarget {
    /// The files to try on `date` (local), in order of preference.
    pub fn candidates(&self, date: NaiveDate) -> Vec<PathBuf> {
        match self {
            LogTarget::Fixed(p) => vec![p.clone()],
            LogTarget::Rolling {
                dir,
                families,
                also,
            } => {
                let day = date.format("%Y-%m-%d");
                let mut v: Vec<PathBuf> = families
                    .iter()
                    .map(|f| dir.join(format!("{f}-{day}.log")))
                    .collect();
                if let Some(a) = also {
                    if !v.contains(a) {
                        v.push(a.clone());
                    }
                }
                v
            }
        }
    }

    /// A short description for logs.
    pub fn describe(&self) -> String {
        match self {
            LogTarget::Fixed(p) => p.display().to_string(),
            LogTarget::Rolling { dir, families, .. } => format!(
                "{}/{{{}}}-YYYY-MM-DD.log",
                dir.display(),
                families.join(",")
            ),
        }
    }
}

/// OpenClaw's `encodeLogProfileSegment`: `[a-z0-9]` kept, `-` → `--`, `_` → `-0`,
/// `A-Z` → `-1` + lowercase, anything else → `-2<hex code point>-`; over 220 characters
/// the segment is `-3<sha256 hex of the profile>`.
pub fn profile_segment(profile: &str) -> Option<String> {
    let profile = profile.trim();
    if profile.is_empty() || profile.eq_ignore_ascii_case("default") {
        return None;
    }
    let mut out = String::new();
    for c in profile.chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            '-' => out.push_str("--"),
            '_' => out.push_str("-0"),
            'A'..='Z' => {
                out.push_str("-1");
                out.push(c.to_ascii_lowercase());
            }
            other => out.push_str(&format!("-2{:x}-", other as u32)),
        }
    }
    if out.len() <= MAX_PROFILE_SEGMENT {
        return Some(out);
    }
    let digest = Sha256::digest(profile.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("-3{hex}"))
}

/// What an `lstat` of a directory candidate says, as OpenClaw judges it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirState {
    /// A real directory owned by the user, not group/other-writable.
    Safe,
    /// Does not exist (OpenClaw would create it, 0700).
    Missing,
    /// A symlink, not a directory, owned by someone else, or group/other-writable.
    Unsafe,
}

/// The `lstat` verdict for `path` for user `uid` (`None`: no owner check, as OpenClaw
/// does without `getuid`).
pub fn dir_state(path: &Path, uid: Option<u32>) -> DirState {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DirState::Missing,
        Err(_) => DirState::Unsafe,
        Ok(m) => {
            let owner_ok = uid.is_none_or(|u| m.uid() == u);
            if m.file_type().is_dir() && owner_ok && m.mode() & 0o022 == 0 {
                DirState::Safe
            } else {
                DirState::Unsafe
            }
        }
    }
}

/// The user-scoped fallback directory: `os.tmpdir()` (`$TMPDIR` without a trailing slash,
/// else `/tmp`) joined with `openclaw-<uid>`.
pub fn fallback_dir(tmpdir: Option<&str>, uid: Option<u32>) -> PathBuf {
    let base = tmpdir
        .map(|t| t.trim_end_matches('/'))
        .filter(|t| !t.is_empty())
        .unwrap_or("/tmp");
    match uid {
        Some(u) => Path::new(base).join(format!("openclaw-{u}")),
        None => Path::new(base).join("openclaw"),
    }
}

/// OpenClaw's default log directory, decided without touching anything: the preferred
/// directory when it is safe, or missing while no fallback directory exists (OpenClaw would
/// create it); the fallback otherwise.
pub fn default_dir(preferred: DirState, fallback: &Path, fallback_state: DirState) -> PathBuf {
    match preferred {
        DirState::Safe => PathBuf::from(PREFERRED_DIR),
        DirState::Missing if fallback_state == DirState::Missing => PathBuf::from(PREFERRED_DIR),
        DirState::Missing | DirState::Unsafe => fallback.to_path_buf(),
    }
}

/// Whether `name` is a dated rolling name of the plain `openclaw` family (the shapes that
/// 2026.6+ roll when given as `logging.file`).
fn is_dated_name(name: &str) -> bool {
    if name == "openclaw-YYYY-MM-DD.log" {
        return true;
    }
    let Some(date) = name
        .strip_prefix("openclaw-")
        .and_then(|r| r.strip_suffix(".log"))
    else {
        return false;
    };
    NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok() && date.len() == 10
}

/// Expands a leading `~` the way OpenClaw's `expandHomePrefix` does.
pub fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix('~'), home) {
        (Some(rest), Some(h)) if rest.is_empty() || rest.starts_with('/') => {
            h.join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(path),
    }
}

/// The target for a configured file (OpenClaw's `logging.file`, or clawprobe's own
/// `[traffic] log_path` naming a file).
pub fn configured_file(path: PathBuf) -> LogTarget {
    let dated = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(is_dated_name);
    if !dated {
        return LogTarget::Fixed(path);
    }
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    LogTarget::Rolling {
        dir,
        families: vec!["openclaw".into()],
        also: Some(path),
    }
}

/// The target for OpenClaw's default naming in `dir` with `OPENCLAW_PROFILE` = `profile`.
pub fn default_in(dir: PathBuf, profile: Option<&str>) -> LogTarget {
    let mut families = Vec::new();
    if let Some(seg) = profile.and_then(profile_segment) {
        families.push(format!("openclaw-{seg}"));
    }
    families.push("openclaw".into());
    LogTarget::Rolling {
        dir,
        families,
        also: None,
    }
}

/// Everything [`resolve`] needs, gathered by the caller (so tests inject it).
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// clawprobe's `[traffic] log_path`: a file, or a directory holding OpenClaw's dated files.
    pub log_path: Option<PathBuf>,
    /// OpenClaw's `logging.file`, as written in its config.
    pub logging_file: Option<String>,
    /// `OPENCLAW_PROFILE`.
    pub profile: Option<String>,
    /// `OPENCLAW_HOME` / `HOME`, for `~`.
    pub home: Option<PathBuf>,
    /// `TMPDIR`.
    pub tmpdir: Option<String>,
    /// The user OpenClaw runs as (clawprobe's own, see the module docs).
    pub uid: Option<u32>,
}

/// Where the log is: clawprobe's `log_path` first, then OpenClaw's `logging.file`, then
/// OpenClaw's default directory and naming.
pub fn resolve(inputs: &Inputs) -> LogTarget {
    if let Some(p) = &inputs.log_path {
        if p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/') {
            return default_in(p.clone(), inputs.profile.as_deref());
        }
        return configured_file(p.clone());
    }
    if let Some(f) = inputs
        .logging_file
        .as_deref()
        .filter(|f| !f.trim().is_empty())
    {
        return configured_file(expand_home(f.trim(), inputs.home.as_deref()));
    }
    let fallback = fallback_dir(inputs.tmpdir.as_deref(), inputs.uid);
    let dir = default_dir(
        dir_state(Path::new(PREFERRED_DIR), inputs.uid),
        &fallback,
        dir_state(&fallback, inputs.uid),
    );
    default_in(dir, inputs.profile.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn profile_segments_match_openclaw_encoding() {
        // Worked through encodeLogProfileSegment (2026.9.6 dist/logger-*.mjs) by hand.
        for (profile, want) in [
            ("work", Some("work")),
            ("Team_A", Some("-1team-0-1a")),
            ("my-prof", Some("my--prof")),
            ("a.b", Some("a-22e-b")),
            ("dév", Some("d-2e9-v")),
            ("default", None),
            ("DEFAULT", None),
            ("  ", None),
        ] {
            assert_eq!(profile_segment(profile).as_deref(), want, "{profile}");
        }
        let long = "x".repeat(221);
        let seg = profile_segment(&long).unwrap();
        assert!(seg.starts_with("-3") && seg.len() == 66, "{seg}");
        assert_eq!(profile_segment(&"y".repeat(220)).unwrap().len(), 220);
    }

    #[test]
    fn default_naming_with_and_without_profile() {
        let t = default_in(PathBuf::from("/tmp/openclaw"), None);
        assert_eq!(
            t.candidates(day("2026-09-06")),
            vec![PathBuf::from("/tmp/openclaw/openclaw-2026-09-06.log")]
        );
        let t = default_in(PathBuf::from("/tmp/openclaw"), Some("Team_A"));
        assert_eq!(
            t.candidates(day("2026-01-02")),
            vec![
                PathBuf::from("/tmp/openclaw/openclaw--1team-0-1a-2026-01-02.log"),
                PathBuf::from("/tmp/openclaw/openclaw-2026-01-02.log"),
            ]
        );
    }

    #[test]
    fn logging_file_rolls_only_for_dated_names() {
        for (file, want_first, rolls) in [
            (
                "/var/log/oc/openclaw-YYYY-MM-DD.log",
                "/var/log/oc/openclaw-2026-09-06.log",
                true,
            ),
            (
                "/var/log/oc/openclaw-2025-01-01.log",
                "/var/log/oc/openclaw-2026-09-06.log",
                true,
            ),
            ("/var/log/oc/gateway.log", "/var/log/oc/gateway.log", false),
            (
                "/var/log/oc/openclaw-work-2025-01-01.log",
                "/var/log/oc/openclaw-work-2025-01-01.log",
                false,
            ),
            (
                "/var/log/oc/openclaw-2025-13-01.log",
                "/var/log/oc/openclaw-2025-13-01.log",
                false,
            ),
        ] {
            let t = configured_file(PathBuf::from(file));
            let c = t.candidates(day("2026-09-06"));
            assert_eq!(c[0], PathBuf::from(want_first), "{file}");
            assert_eq!(matches!(t, LogTarget::Rolling { .. }), rolls, "{file}");
            if rolls {
                // 2026.4 used the configured name verbatim: tried second.
                assert_eq!(c.last().unwrap(), &PathBuf::from(file), "{file}");
            }
        }
    }

    #[test]
    fn tilde_expands_against_openclaws_home() {
        let home = Path::new("/home/oc");
        assert_eq!(
            expand_home("~/logs/x.log", Some(home)),
            PathBuf::from("/home/oc/logs/x.log")
        );
        assert_eq!(expand_home("~", Some(home)), PathBuf::from("/home/oc"));
        assert_eq!(
            expand_home("~other/x.log", Some(home)),
            PathBuf::from("~other/x.log")
        );
        assert_eq!(
            expand_home("/abs.log", Some(home)),
            PathBuf::from("/abs.log")
        );
    }

    #[test]
    fn default_dir_follows_openclaws_preference() {
        let fb = PathBuf::from("/var/tmp/openclaw-1000");
        use DirState::*;
        for (pref, fbs, want) in [
            (Safe, Missing, PREFERRED_DIR),
            (Safe, Safe, PREFERRED_DIR),
            (Missing, Missing, PREFERRED_DIR),
            (Missing, Safe, "/var/tmp/openclaw-1000"),
            (Unsafe, Missing, "/var/tmp/openclaw-1000"),
            (Unsafe, Safe, "/var/tmp/openclaw-1000"),
        ] {
            assert_eq!(
                default_dir(pref, &fb, fbs),
                PathBuf::from(want),
                "{pref:?} {fbs:?}"
            );
        }
        assert_eq!(
            fallback_dir(Some("/var/tmp/"), Some(1000)),
            PathBuf::from("/var/tmp/openclaw-1000")
        );
        assert_eq!(fallback_dir(None, None), PathBuf::from("/tmp/openclaw"));
    }

    #[test]
    fn dir_state_judges_mode_owner_and_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let uid = unsafe { libc::getuid() };
        let safe = d.path().join("safe");
        std::fs::create_dir(&safe).unwrap();
        std::fs::set_permissions(&safe, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(dir_state(&safe, Some(uid)), DirState::Safe);
        assert_eq!(dir_state(&safe, Some(uid + 1)), DirState::Unsafe, "owner");
        assert_eq!(dir_state(&safe, None), DirState::Safe);
        let open = d.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(dir_state(&open, Some(uid)), DirState::Unsafe, "mode");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&safe, &link).unwrap();
        assert_eq!(dir_state(&link, Some(uid)), DirState::Unsafe, "symlink");
        let file = d.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert_eq!(dir_state(&file, Some(uid)), DirState::Unsafe, "file");
        assert_eq!(
            dir_state(&d.path().join("nope"), Some(uid)),
            DirState::Missing
        );
    }

    #[test]
    fn resolve_prefers_log_path_then_logging_file() {
        let d = tempfile::tempdir().unwrap();
        let inputs = Inputs {
            log_path: Some(d.path().to_path_buf()),
            logging_file: Some("/elsewhere/gw.log".into()),
            profile: Some("work".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&inputs).candidates(day("2026-09-06"))[0],
            d.path().join("openclaw-work-2026-09-06.log"),
            "a log_path directory gets OpenClaw's default naming"
        );
        let inputs = Inputs {
            logging_file: Some("~/oc.log".into()),
            home: Some("/home/oc".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&inputs),
            LogTarget::Fixed(PathBuf::from("/home/oc/oc.log"))
        );
    }
}
