//! Finding the OpenClaw install: state dir and config file, as OpenClaw resolves them.
//!
//! clawprobe's `[openclaw] config_path` / `state_dir` win; then `OPENCLAW_CONFIG_PATH`,
//! `OPENCLAW_STATE_DIR`; the home is `OPENCLAW_HOME`, else `HOME`; `OPENCLAW_PROFILE=<name>`
//! selects `~/.openclaw-<name>`; otherwise `~/.openclaw`, falling back to the legacy
//! `~/.clawdbot` (`clawdbot.json`) when only that exists.

use super::env::ProcessEnv;
use crate::config::OpenClawSettings;
use std::path::{Path, PathBuf};

/// Where the install is (or would be).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub state_dir: PathBuf,
    pub config_path: PathBuf,
}

/// The outcome of looking: found, or every path that was tried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Located {
    Found(Location),
    NotFound { looked: Vec<PathBuf> },
}

fn expand_home(p: &Path, home: Option<&Path>) -> PathBuf {
    match (p.strip_prefix("~"), home) {
        (Ok(rest), Some(h)) => h.join(rest),
        _ => p.to_path_buf(),
    }
}

fn nonempty(env: ProcessEnv<'_>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The home directory OpenClaw uses: `OPENCLAW_HOME`, else `HOME`, else `fallback_home`.
pub fn home_dir(env: ProcessEnv<'_>, fallback_home: Option<&Path>) -> Option<PathBuf> {
    nonempty(env, "OPENCLAW_HOME")
        .or_else(|| nonempty(env, "HOME"))
        .map(PathBuf::from)
        .or_else(|| fallback_home.map(Path::to_path_buf))
}

/// Resolves the state dir and config path. `fallback_home` is used only when neither
/// `OPENCLAW_HOME` nor `HOME` is set.
pub fn locate(
    settings: &OpenClawSettings,
    env: ProcessEnv<'_>,
    fallback_home: Option<&Path>,
) -> Located {
    let home = home_dir(env, fallback_home);
    let home = home.as_deref();
    let mut looked = Vec::new();

    let explicit_state = settings
        .state_dir
        .clone()
        .or_else(|| nonempty(env, "OPENCLAW_STATE_DIR").map(PathBuf::from))
        .map(|p| expand_home(&p, home));
    let explicit_config = settings
        .config_path
        .clone()
        .or_else(|| nonempty(env, "OPENCLAW_CONFIG_PATH").map(PathBuf::from))
        .map(|p| expand_home(&p, home));

    let state_dir = match explicit_state {
        Some(s) => s,
        None => {
            let profile = nonempty(env, "OPENCLAW_PROFILE").filter(|p| p != "default");
            match (home, profile) {
                (Some(h), Some(name)) => h.join(format!(".openclaw-{name}")),
                (Some(h), None) => {
                    let current = h.join(".openclaw");
                    let legacy = h.join(".clawdbot");
                    if !current.exists()
                        && explicit_config.is_none()
                        && legacy.join("clawdbot.json").is_file()
                    {
                        legacy
                    } else {
                        current
                    }
                }
                (None, _) => PathBuf::from(".openclaw"),
            }
        }
    };

    let config_path = match explicit_config {
        Some(c) => c,
        None => {
            let current = state_dir.join("openclaw.json");
            let legacy = state_dir.join("clawdbot.json");
            if !current.is_file() && legacy.is_file() {
                legacy
            } else {
                looked.push(legacy);
                current
            }
        }
    };
    if config_path.is_file() {
        Located::Found(Location {
            state_dir,
            config_path,
        })
    } else {
        looked.insert(0, config_path);
        Located::NotFound { looked }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(settings: &OpenClawSettings, vars: &HashMap<String, String>) -> Located {
        let f = |k: &str| vars.get(k).cloned();
        locate(settings, &f, None)
    }

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "{}").unwrap();
    }

    #[test]
    fn default_home_profile_and_legacy() {
        let h = tempfile::tempdir().unwrap();
        let home = h.path().to_str().unwrap();
        let s = OpenClawSettings::default();
        // Nothing there: NotFound names the default path.
        match run(&s, &env_of(&[("HOME", home)])) {
            Located::NotFound { looked } => {
                assert_eq!(looked[0], h.path().join(".openclaw/openclaw.json"))
            }
            other => panic!("{other:?}"),
        }
        // Legacy only.
        touch(&h.path().join(".clawdbot/clawdbot.json"));
        assert_eq!(
            run(&s, &env_of(&[("HOME", home)])),
            Located::Found(Location {
                state_dir: h.path().join(".clawdbot"),
                config_path: h.path().join(".clawdbot/clawdbot.json"),
            })
        );
        // Current wins once it exists.
        touch(&h.path().join(".openclaw/openclaw.json"));
        let Located::Found(l) = run(&s, &env_of(&[("HOME", home)])) else {
            panic!()
        };
        assert_eq!(l.config_path, h.path().join(".openclaw/openclaw.json"));
        // Profile.
        touch(&h.path().join(".openclaw-work/openclaw.json"));
        let Located::Found(l) = run(&s, &env_of(&[("HOME", home), ("OPENCLAW_PROFILE", "work")]))
        else {
            panic!()
        };
        assert_eq!(l.state_dir, h.path().join(".openclaw-work"));
        // OPENCLAW_HOME beats HOME.
        let Located::Found(l) = run(
            &s,
            &env_of(&[("HOME", "/nonexistent"), ("OPENCLAW_HOME", home)]),
        ) else {
            panic!()
        };
        assert_eq!(l.state_dir, h.path().join(".openclaw"));
    }

    #[test]
    fn env_overrides_and_settings_win() {
        let h = tempfile::tempdir().unwrap();
        let cfg = h.path().join("elsewhere/my.json");
        touch(&cfg);
        let vars = env_of(&[
            ("HOME", "/nonexistent"),
            (
                "OPENCLAW_STATE_DIR",
                h.path().join("state").to_str().unwrap(),
            ),
            ("OPENCLAW_CONFIG_PATH", cfg.to_str().unwrap()),
        ]);
        let Located::Found(l) = run(&OpenClawSettings::default(), &vars) else {
            panic!()
        };
        assert_eq!(l.state_dir, h.path().join("state"));
        assert_eq!(l.config_path, cfg);

        let other = h.path().join("toml-state/openclaw.json");
        touch(&other);
        let s = OpenClawSettings {
            state_dir: Some(h.path().join("toml-state")),
            config_path: None,
            ..OpenClawSettings::default()
        };
        let vars = env_of(&[("OPENCLAW_STATE_DIR", "/nonexistent")]);
        let Located::Found(l) = run(&s, &vars) else {
            panic!()
        };
        assert_eq!(l.config_path, other);
    }
}
