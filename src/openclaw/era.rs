//! Which OpenClaw release wrote an install, and how that release reads it: the ONE place
//! where clawprobe decides anything by release.
//!
//! OpenClaw reads the same file differently from release to release (a plain-string agent
//! model got the default fallbacks up to 2026.4 and none from 2026.5, …). clawprobe
//! reads an install the way the release that last wrote it does, so a route is reported
//! the way that gateway will behave.
//!
//! # How the release is decided ([`detect`])
//!
//! 1. `meta.lastTouchedVersion` in `openclaw.json`: every release since 2026.3 stamps it
//!    on each config write (seen with the real CLIs of 2026.3.31 … 2026.9.6).
//! 2. Without it, the store layout, newest first: the shared auth store in use
//!    (`authProfiles.*` rows in `<stateDir>/state/openclaw.sqlite`; 2026.6 creates that
//!    database too, without them) or `agents.entries` → 2026.9; a per-agent `openclaw-agent.sqlite` → 2026.6; an `auth-state.json` →
//!    2026.4 (2026.5 writes the same files, but also stamps its version); an
//!    `auth-profiles.json` alone (2026.3.31 keeps order and usage in it) → the oldest era.
//! 3. Nothing to go by (an empty or hand-written config with no stores): the newest era.
//!
//! A release newer than the newest known era is read as the newest, with one warning per
//! process naming the version (the fixtures in `tests/fixtures/openclaw/eras/` say which
//! releases were checked; refresh them with `scripts/gen-fixtures-era.sh`).
//!
//! # What differs ([`Rules`], [`ERAS`])
//!
//! Every difference was read off the release's own `openclaw models status --agent <id>
//! --json` (the oracle files next to each fixture) or, for the rotation, off real
//! `openclaw agent --local` turns (`scripts/openclaw-rotation.sh`).

use serde_json::Value;
use std::path::Path;
use std::sync::Mutex;

/// An OpenClaw release number, `YYYY.M.D` (pre-release suffixes such as `-beta.2` and
/// `-1` are ignored: they behave as their release).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    pub year: u16,
    pub month: u8,
    pub day: u16,
}

impl Release {
    pub const fn new(year: u16, month: u8, day: u16) -> Release {
        Release { year, month, day }
    }

    /// Parses `2026.4.12`, `2026.7.1-beta.2`, `v2026.3.31`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Release> {
        let s = s.trim().trim_start_matches('v');
        let core = s.split(['-', '+', ' ']).next()?;
        let mut it = core.split('.');
        let year = it.next()?.parse().ok()?;
        let month = it.next()?.parse().ok()?;
        let day = it.next().map_or(Some(0), |d| d.parse().ok())?;
        if it.next().is_some() || !(1..=12).contains(&month) {
            return None;
        }
        Some(Release { year, month, day })
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.year, self.month, self.day)
    }
}

/// How one era of releases reads an install. Each field names the release that showed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// An agent whose `model` is a plain string gets `agents.defaults.model.fallbacks`
    /// (2026.3, 2026.4) instead of none (2026.5 on).
    pub string_model_inherits_fallbacks: bool,
    /// An agent `model` object without a `fallbacks` key gets the defaults' fallbacks
    /// (2026.3, 2026.4) instead of none (2026.5 on).
    pub object_model_inherits_fallbacks: bool,
    /// A literal `models.providers.<id>.apiKey` is tried after the provider's auth
    /// profiles fail (2026.9: seen in a real turn, `config_key` in
    /// `tests/fixtures/openclaw/rotation/`), not only when there is no usable profile.
    pub config_key_joins_rotation: bool,
    /// `openclaw models status --check` fails (exit 1) on any token/OAuth profile the agent
    /// can see that is expired or unusable, even one no route uses (2026.3, 2026.4:
    /// `oauthProfiles.some(…)` in its status command), rather than only when a route's
    /// provider is left without a usable credential (2026.5 on: per provider in use).
    pub check_counts_every_token_profile: bool,
}

/// A family of releases that read an install the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Era {
    /// The era's name as shown to people (`2026.4`).
    pub name: &'static str,
    /// The first release of the era.
    pub since: Release,
    /// The newest release of the era whose own CLI output the fixtures hold.
    pub checked: Release,
    pub rules: Rules,
}

/// 2026.3 and 2026.4.
const LIST_JSON: Rules = Rules {
    string_model_inherits_fallbacks: true,
    object_model_inherits_fallbacks: true,
    config_key_joins_rotation: false,
    check_counts_every_token_profile: true,
};

/// 2026.5 to 2026.7: a plain-string model (or one without `fallbacks`) gets no fallbacks
/// (2026.5.28's status: research, ops, writer), and the status command's check judges the
/// providers in use.
const NO_INHERIT: Rules = Rules {
    string_model_inherits_fallbacks: false,
    object_model_inherits_fallbacks: false,
    config_key_joins_rotation: false,
    check_counts_every_token_profile: false,
};

/// Known eras, oldest first. A release belongs to the last era whose `since` it reaches.
pub const ERAS: &[Era] = &[
    Era {
        name: "2026.3",
        since: Release::new(2026, 1, 0),
        checked: Release::new(2026, 3, 31),
        rules: LIST_JSON,
    },
    Era {
        name: "2026.4",
        since: Release::new(2026, 4, 0),
        checked: Release::new(2026, 4, 12),
        rules: LIST_JSON,
    },
    Era {
        name: "2026.5",
        since: Release::new(2026, 5, 0),
        checked: Release::new(2026, 5, 28),
        rules: NO_INHERIT,
    },
    Era {
        name: "2026.6",
        since: Release::new(2026, 6, 0),
        checked: Release::new(2026, 6, 11),
        rules: NO_INHERIT,
    },
    Era {
        name: "2026.7",
        since: Release::new(2026, 7, 0),
        checked: Release::new(2026, 7, 35),
        rules: NO_INHERIT,
    },
    Era {
        name: "2026.9",
        since: Release::new(2026, 8, 0),
        checked: Release::new(2026, 9, 6),
        rules: Rules {
            config_key_joins_rotation: true,
            ..NO_INHERIT
        },
    },
];

/// The newest known era (what an install with nothing to go by, or from a newer release,
/// is read as).
pub fn newest() -> &'static Era {
    ERAS.last().expect("at least one era")
}

/// The era a release belongs to (the newest era for releases past the newest known one).
pub fn era_of(release: Release) -> &'static Era {
    ERAS.iter()
        .rev()
        .find(|e| release >= e.since)
        .unwrap_or(&ERAS[0])
}

/// What the era was decided from, for logs and `check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// `meta.lastTouchedVersion` in the config.
    LastTouchedVersion(Release),
    /// The store layout (no version stamp): which file or key told.
    Layout(&'static str),
    /// Nothing to go by.
    Default,
}

/// The era an install is read in, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detected {
    pub era: &'static Era,
    pub evidence: Evidence,
}

impl Detected {
    /// The release that wrote the install, when it says.
    pub fn release(&self) -> Option<Release> {
        match self.evidence {
            Evidence::LastTouchedVersion(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the install comes from a release newer than any clawprobe was checked
    /// against (read as the newest era, with a warning).
    pub fn is_newer_than_known(&self) -> bool {
        self.release().is_some_and(|r| r > newest().checked)
    }

    /// `2026.4.12 (meta.lastTouchedVersion)`, `2026.6 era (agents/x/agent/openclaw-agent.sqlite)`.
    pub fn describe(&self) -> String {
        match &self.evidence {
            Evidence::LastTouchedVersion(r) => format!("{r} (meta.lastTouchedVersion)"),
            Evidence::Layout(why) => format!("{} era ({why})", self.era.name),
            Evidence::Default => format!("{} era (nothing says otherwise)", self.era.name),
        }
    }
}

/// Decides the era of an install from its config and files (see the module doc).
/// `agent_dirs` are the agents' auth dirs; `shared_store` says whether the shared state
/// database holds auth profiles or state. Reads only file metadata and the config value.
pub fn detect(
    config: &Value,
    state_dir: &Path,
    agent_dirs: &[&Path],
    shared_store: bool,
) -> Detected {
    if let Some(r) = config
        .pointer("/meta/lastTouchedVersion")
        .and_then(Value::as_str)
        .and_then(Release::parse)
    {
        let detected = Detected {
            era: era_of(r),
            evidence: Evidence::LastTouchedVersion(r),
        };
        if detected.is_newer_than_known() {
            warn_newer_once(r);
        }
        return detected;
    }
    let by = |name: &str| ERAS.iter().find(|e| e.name == name).expect("known era");
    let layout = |era: &'static Era, why: &'static str| Detected {
        era,
        evidence: Evidence::Layout(why),
    };
    if shared_store {
        return layout(by("2026.9"), "state/openclaw.sqlite");
    }
    if config.pointer("/agents/entries").is_some() {
        return layout(by("2026.9"), "agents.entries");
    }
    let mut dirs: Vec<&Path> = agent_dirs.to_vec();
    let main = state_dir.join("agents").join("main").join("agent");
    let oldest = state_dir.join("agent");
    dirs.push(&main);
    dirs.push(&oldest);
    if dirs
        .iter()
        .any(|d| d.join("openclaw-agent.sqlite").is_file())
    {
        return layout(by("2026.6"), "openclaw-agent.sqlite");
    }
    if dirs.iter().any(|d| d.join("auth-state.json").is_file()) {
        return layout(by("2026.4"), "auth-state.json");
    }
    if dirs.iter().any(|d| d.join("auth-profiles.json").is_file()) {
        return layout(&ERAS[0], "auth-profiles.json");
    }
    Detected {
        era: newest(),
        evidence: Evidence::Default,
    }
}

/// Warns once per process (and again only for a different release) that `r` is newer
/// than any release clawprobe was checked against.
fn warn_newer_once(r: Release) {
    static WARNED: Mutex<Option<Release>> = Mutex::new(None);
    let mut last = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if *last == Some(r) {
        return;
    }
    *last = Some(r);
    tracing::warn!(
        release = %r,
        newest_known = %newest().checked,
        "the OpenClaw install was last written by {r}, newer than any release clawprobe knows (newest: {}); reading it as {}. If chains or credentials look wrong, update clawprobe",
        newest().checked,
        newest().checked
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_releases() {
        assert_eq!(Release::parse("2026.4.12"), Some(Release::new(2026, 4, 12)));
        assert_eq!(
            Release::parse("2026.7.1-beta.2"),
            Some(Release::new(2026, 7, 1))
        );
        assert_eq!(
            Release::parse("2026.3.23-1"),
            Some(Release::new(2026, 3, 23))
        );
        assert_eq!(Release::parse("v2026.9.6"), Some(Release::new(2026, 9, 6)));
        assert_eq!(Release::parse("2026.13.1"), None);
        assert_eq!(Release::parse("latest"), None);
        assert!(Release::new(2026, 10, 1) > Release::new(2026, 9, 6));
        assert!(Release::new(2026, 4, 12) > Release::new(2026, 4, 2));
    }

    #[test]
    fn release_maps_to_its_era() {
        assert_eq!(era_of(Release::new(2026, 2, 26)).name, "2026.3");
        assert_eq!(era_of(Release::new(2026, 4, 12)).name, "2026.4");
        assert_eq!(era_of(Release::new(2026, 6, 35)).name, "2026.6");
        assert_eq!(era_of(Release::new(2026, 8, 2)).name, "2026.9");
        assert_eq!(era_of(Release::new(2027, 1, 1)).name, "2026.9");
        // Eras are ordered and each one's checked release lies inside it.
        for w in ERAS.windows(2) {
            assert!(w[0].since < w[1].since);
        }
        for e in ERAS {
            assert_eq!(era_of(e.checked), e, "{}", e.name);
        }
    }

    #[test]
    fn detects_from_the_version_stamp_then_the_layout() {
        let d = tempfile::tempdir().unwrap();
        let s = d.path();
        let stamped = json!({"meta": {"lastTouchedVersion": "2026.4.12"}});
        let got = detect(&stamped, s, &[], false);
        assert_eq!(got.era.name, "2026.4");
        assert_eq!(got.release(), Some(Release::new(2026, 4, 12)));
        assert_eq!(got.describe(), "2026.4.12 (meta.lastTouchedVersion)");
        assert!(!got.is_newer_than_known());
        // Newer than known: the newest era, flagged (and warned about once).
        let newer = json!({"meta": {"lastTouchedVersion": "2026.11.2"}});
        let got = detect(&newer, s, &[], false);
        assert_eq!(got.era, newest());
        assert!(got.is_newer_than_known());

        let plain = json!({});
        assert_eq!(detect(&plain, s, &[], false).evidence, Evidence::Default);
        let main = s.join("agents/main/agent");
        std::fs::create_dir_all(&main).unwrap();
        std::fs::write(main.join("auth-profiles.json"), "{}").unwrap();
        assert_eq!(detect(&plain, s, &[], false).era.name, "2026.3");
        std::fs::write(main.join("auth-state.json"), "{}").unwrap();
        let got = detect(&plain, s, &[], false);
        assert_eq!(got.evidence, Evidence::Layout("auth-state.json"));
        assert_eq!(got.era.name, "2026.4");
        let ops = s.join("custom/ops");
        std::fs::create_dir_all(&ops).unwrap();
        std::fs::write(ops.join("openclaw-agent.sqlite"), "").unwrap();
        assert_eq!(detect(&plain, s, &[&ops], false).era.name, "2026.6");
        let entries = json!({"agents": {"entries": {"main": {}}}});
        assert_eq!(detect(&entries, s, &[&ops], false).era.name, "2026.9");
        assert_eq!(detect(&plain, s, &[&ops], true).era.name, "2026.9");
    }
}
