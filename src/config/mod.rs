//! clawprobe's own configuration (TOML).
//!
//! Every section has defaults (see `default.toml`, embedded in the binary and printed by
//! `clawprobe config default`). Unknown keys are rejected with the file and key named, so a
//! typo never silently falls back to a default.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Tokens of the cheapest generation probe (the probe prompt and one output token): a
/// per-model or per-credential token cap below it could never admit a probe, so it is an
/// error. The probers' cost model (`probe::cost`) decides the figure; a test there keeps
/// this constant equal to it.
pub const CHEAPEST_PROBE_TOKENS: u64 = 9;

/// The embedded default configuration.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}; check the path given to --config")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config file {path}: key `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    /// A reload found the file being written: kept the config in force.
    #[error("config file {path} {what}; keeping the config in force (it is read again at the next reload: SIGHUP or POST /-/reload)")]
    Unsettled { path: PathBuf, what: &'static str },
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub openclaw: OpenClawSettings,
    pub server: ServerSettings,
    pub schedule: ScheduleSettings,
    pub budget: BudgetSettings,
    pub traffic: TrafficSettings,
    pub targets: Vec<TargetSettings>,
    /// Where this config came from (`<embedded default>` or the file path); not a TOML key.
    #[serde(skip)]
    pub source: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OpenClawSettings {
    pub enabled: bool,
    pub config_path: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub agents: Option<Vec<String>>,
    pub required: bool,
}

impl Default for OpenClawSettings {
    fn default() -> Self {
        OpenClawSettings {
            enabled: true,
            config_path: None,
            state_dir: None,
            agents: None,
            required: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub listen: String,
    pub first_cycle_timeout_seconds: f64,
    pub watch_interval_seconds: f64,
    /// Deadline of one (re)load or watch check: reading clawprobe's and OpenClaw's files
    /// runs on a thread of its own and is abandoned (counted as a failed reload) after this.
    pub reload_timeout_seconds: f64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: "0.0.0.0:9847".into(),
            first_cycle_timeout_seconds: 60.0,
            watch_interval_seconds: 15.0,
            reload_timeout_seconds: 30.0,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleSettings {
    pub metadata: String,
    pub credential_generation: String,
    pub model_generation: String,
    pub concurrency: usize,
    pub min_key_spacing_seconds: f64,
    pub probe_timeout_seconds: f64,
    pub recheck_after_failure_seconds: f64,
    pub max_backoff_seconds: f64,
    pub spread_fraction: f64,
    /// Keep targets without a zero-token metadata endpoint (providers such as together
    /// and fireworks) in the metadata cycle, probed with a generation call charged to the
    /// model's `model_tokens_per_day`. Off by default: every 5 minutes that is ~2,600
    /// tokens a model a day, far over the per-model target, and the generation tiers
    /// already watch those models within their caps.
    pub metadata_generation_fallback: bool,
    /// At start-up, one generation probe to each agent's primary that the credential
    /// cycle's start-up probe does not cover, at most this many per credential
    /// (`schedule::cycle::startup_primaries`); 0: none.
    pub startup_primaries_per_credential: usize,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        ScheduleSettings {
            metadata: "0 */5 * * * *".into(),
            credential_generation: "30 7 * * * *".into(),
            model_generation: "45 17 */6 * * *".into(),
            concurrency: 4,
            min_key_spacing_seconds: 1.0,
            probe_timeout_seconds: 15.0,
            recheck_after_failure_seconds: 60.0,
            max_backoff_seconds: 3600.0,
            spread_fraction: 0.8,
            metadata_generation_fallback: false,
            startup_primaries_per_credential: 5,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetSettings {
    pub global_requests_per_day: u64,
    pub global_tokens_per_day: u64,
    pub provider_requests_per_day: u64,
    pub provider_tokens_per_day: u64,
    /// Tokens per day for the model-generation probes of one model (target), and for any
    /// of its probes that spend tokens outside the credential tier (on demand, rechecks,
    /// metadata probes that have to generate); 0 = no cap.
    /// Unlike the request/token caps above, 0 switches this finer cap off: the provider
    /// and global caps still bound the spend.
    pub model_tokens_per_day: u64,
    /// Tokens per day for the credential-generation probes of one credential; 0 = no cap.
    pub credential_tokens_per_day: u64,
    pub providers: BTreeMap<String, ProviderBudget>,
    /// Where `serve` keeps the day's books so caps hold across restarts; `""`: the default
    /// location (`$CLAWPROBE_STATE_DIR`, else the XDG state dir; see
    /// `crate::schedule::ledger`). A relative path is relative to the config file. Read at
    /// start-up.
    pub state_file: String,
    /// The resolved state file, set by `serve` at start-up (not a TOML key): a budget without
    /// it keeps its books in memory only (tests, `probe`).
    #[serde(skip)]
    pub state_path: Option<PathBuf>,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        BudgetSettings {
            global_requests_per_day: 2000,
            global_tokens_per_day: 200_000,
            provider_requests_per_day: 500,
            provider_tokens_per_day: 50_000,
            model_tokens_per_day: 50,
            credential_tokens_per_day: 250,
            providers: BTreeMap::new(),
            state_file: String::new(),
            state_path: None,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProviderBudget {
    pub requests_per_day: Option<u64>,
    pub tokens_per_day: Option<u64>,
}

/// `[traffic]`: following OpenClaw's own JSONL log (see `src/traffic/`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrafficSettings {
    /// Off switch. Also off when `[openclaw] enabled = false` and no `log_path` is given.
    pub enabled: bool,
    /// A log file, or a directory holding OpenClaw's dated files (`openclaw-YYYY-MM-DD.log`);
    /// default: where OpenClaw writes it (`logging.file`, else `/tmp/openclaw` or its
    /// fallback, with the `OPENCLAW_PROFILE` segment).
    pub log_path: Option<PathBuf>,
    /// Read the current file from its start at start-up instead of its end.
    pub from_start: bool,
    /// Seconds between reads of the log.
    pub poll_interval_seconds: f64,
    /// How long a logged success keeps "fallback engaged" and the serving model.
    pub fallback_window_seconds: f64,
}

impl Default for TrafficSettings {
    fn default() -> Self {
        TrafficSettings {
            enabled: true,
            log_path: None,
            from_start: false,
            poll_interval_seconds: 2.0,
            fallback_window_seconds: 900.0,
        }
    }
}

/// A standalone `[[targets]]` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetSettings {
    pub name: String,
    pub provider: String,
    pub model: String,
    pub base_url: Option<String>,
    pub api: Option<String>,
    pub api_key_env: Option<String>,
    pub agent: Option<String>,
}

impl Config {
    /// The embedded default configuration.
    pub fn embedded_default() -> Config {
        let mut c = Config::parse_str(DEFAULT_TOML, Path::new("<embedded default>"))
            .expect("embedded default config is valid");
        c.source = "<embedded default>".into();
        c
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut c = Config::parse_str(&text, path)?;
        c.source = path.display().to_string();
        Ok(c)
    }

    /// [`Config::load`] for a reload, which must fail closed: the file is read twice `gap`
    /// apart and must read the same both times, and it must not be empty. A file rewritten
    /// in place (`cat new > clawprobe.toml` truncates first) is often a valid TOML prefix
    /// while it is written, and an empty or cut file would put every cap back to its
    /// default (budget caps included). A file of only comments is the defaults on purpose.
    pub fn load_settled(path: &Path, gap: std::time::Duration) -> Result<Config, ConfigError> {
        let read = || {
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        let first = read()?;
        std::thread::sleep(gap);
        let text = read()?;
        if text != first {
            return Err(ConfigError::Unsettled {
                path: path.to_path_buf(),
                what: "changed while it was read (being written?)",
            });
        }
        if text.trim().is_empty() {
            return Err(ConfigError::Unsettled {
                path: path.to_path_buf(),
                what: "is empty (half-written?; to run on the defaults on purpose, leave a comment line in it)",
            });
        }
        let mut c = Config::parse_str(&text, path)?;
        c.source = path.display().to_string();
        Ok(c)
    }

    /// Parses and validates TOML text; `path` is only used in error messages.
    pub fn parse_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| s.start);
            let message = e.message().to_string()
                + &at
                    .map(|s| format!(" (at {})", line_col(text, s)))
                    .unwrap_or_default();
            // A wrong type or value (`concurrency = -1`) is reported at the value; name its
            // key like the validation errors do.
            match at.and_then(|s| key_at(text, s)) {
                Some(key) => ConfigError::Invalid {
                    path: path.to_path_buf(),
                    key,
                    message,
                },
                None => ConfigError::Parse {
                    path: path.to_path_buf(),
                    message,
                },
            }
        })?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(bad(
                "server.listen",
                format!(
                    "`{}` is not an address:port such as \"0.0.0.0:9847\"",
                    self.server.listen
                ),
            ));
        }
        let s = &self.schedule;
        for (key, expr) in [
            ("schedule.metadata", &s.metadata),
            ("schedule.credential_generation", &s.credential_generation),
            ("schedule.model_generation", &s.model_generation),
        ] {
            if !expr.trim().is_empty() {
                crate::cron::validate(expr).map_err(|m| {
                    bad(
                        key,
                        format!(
                            "{m}; use 6 fields: sec min hour day month weekday, or \"\" to disable"
                        ),
                    )
                })?;
            }
        }
        if s.concurrency == 0 {
            return Err(bad("schedule.concurrency", "must be at least 1".into()));
        }
        for (key, v) in [
            (
                "schedule.min_key_spacing_seconds",
                s.min_key_spacing_seconds,
            ),
            ("schedule.probe_timeout_seconds", s.probe_timeout_seconds),
            (
                "schedule.recheck_after_failure_seconds",
                s.recheck_after_failure_seconds,
            ),
            ("schedule.max_backoff_seconds", s.max_backoff_seconds),
            (
                "server.first_cycle_timeout_seconds",
                self.server.first_cycle_timeout_seconds,
            ),
            (
                "server.watch_interval_seconds",
                self.server.watch_interval_seconds,
            ),
            (
                "traffic.fallback_window_seconds",
                self.traffic.fallback_window_seconds,
            ),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(bad(
                    key,
                    format!("must be a non-negative number of seconds, got {v}"),
                ));
            }
        }
        let reload = self.server.reload_timeout_seconds;
        if !reload.is_finite() || reload <= 0.0 {
            return Err(bad(
                "server.reload_timeout_seconds",
                format!("must be a number of seconds greater than 0, got {reload}"),
            ));
        }
        if s.probe_timeout_seconds <= 0.0 {
            return Err(bad(
                "schedule.probe_timeout_seconds",
                "must be greater than 0".into(),
            ));
        }
        let poll = self.traffic.poll_interval_seconds;
        if !poll.is_finite() || poll <= 0.0 {
            return Err(bad(
                "traffic.poll_interval_seconds",
                format!("must be a number of seconds greater than 0, got {poll}"),
            ));
        }
        if !(0.0..=1.0).contains(&s.spread_fraction) {
            return Err(bad(
                "schedule.spread_fraction",
                "must be between 0 and 1".into(),
            ));
        }
        let cheapest = CHEAPEST_PROBE_TOKENS;
        for (key, v) in [
            (
                "budget.model_tokens_per_day",
                self.budget.model_tokens_per_day,
            ),
            (
                "budget.credential_tokens_per_day",
                self.budget.credential_tokens_per_day,
            ),
        ] {
            if v != 0 && v < cheapest {
                return Err(bad(
                    key,
                    format!(
                        "{v} tokens cannot fit a single generation probe (the cheapest costs about \
                         {cheapest}); use 0 for no cap, or at least {cheapest}"
                    ),
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, t) in self.targets.iter().enumerate() {
            let key = |k: &str| format!("targets[{i}].{k}");
            if t.name.trim().is_empty() {
                return Err(bad(&key("name"), "must not be empty".into()));
            }
            if !names.insert(t.name.clone()) {
                return Err(bad(
                    &key("name"),
                    format!("duplicate target name `{}`", t.name),
                ));
            }
            if t.provider.trim().is_empty() || t.model.trim().is_empty() {
                return Err(bad(
                    &key("provider"),
                    "provider and model must not be empty".into(),
                ));
            }
            if let Some(u) = &t.base_url {
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    return Err(bad(
                        &key("base_url"),
                        format!("`{u}` must start with http:// or https://"),
                    ));
                }
            }
            if let Some(v) = &t.api_key_env {
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(bad(
                        &key("api_key_env"),
                        "must be the NAME of an environment variable (not the key itself)".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The dotted key (`budget.model_tokens_per_day`) whose value starts at `offset`: the
/// `key = ` before it on its line, under the last `[table]` header above. `None` when the
/// offset is not inside a simple `key = value` line.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let (key, _) = before[line_start..].split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('#') || key.starts_with('[') {
        return None;
    }
    let table = before[..line_start].lines().rev().find_map(|l| {
        let l = l.trim();
        l.starts_with('[')
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    });
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    format!("line {line}, column {col}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reload reads clawprobe's config twice and refuses an empty or changing file.
    #[test]
    fn load_settled_refuses_empty_and_changing_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("clawprobe.toml");
        let gap = std::time::Duration::from_millis(300);
        std::fs::write(&p, "[budget]\nglobal_tokens_per_day = 100\n").unwrap();
        let c = Config::load_settled(&p, gap).unwrap();
        assert_eq!(c.budget.global_tokens_per_day, 100);
        std::fs::write(&p, "  \n").unwrap();
        let e = Config::load_settled(&p, gap).unwrap_err().to_string();
        assert!(e.contains("is empty") && e.contains("keeping"), "{e}");
        // Comments only: the defaults, on purpose.
        std::fs::write(&p, "# defaults\n").unwrap();
        assert_eq!(
            Config::load_settled(&p, gap).unwrap().budget,
            BudgetSettings::default()
        );
        // Written while it is read: a prefix that parses is not taken.
        std::fs::write(&p, "[server]\n").unwrap();
        let writer = {
            let p = p.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(100));
                std::fs::write(&p, "[server]\n[budget]\nglobal_tokens_per_day = 100\n").unwrap();
            })
        };
        let e = Config::load_settled(&p, gap).unwrap_err().to_string();
        writer.join().unwrap();
        assert!(e.contains("changed while it was read"), "{e}");
        assert_eq!(
            Config::load_settled(&p, gap)
                .unwrap()
                .budget
                .global_tokens_per_day,
            100
        );
    }

    #[test]
    fn embedded_default_parses_and_equals_struct_defaults() {
        let c = Config::embedded_default();
        let d = Config {
            source: c.source.clone(),
            ..Config::default()
        };
        assert_eq!(c, d, "default.toml and the Default impls disagree");
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let err = Config::parse_str("[schedule]\nconcurency = 3\n", Path::new("/etc/cp.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/cp.toml"), "{err}");
        assert!(err.contains("concurency"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_key() {
        for (toml, key) in [
            ("[server]\nlisten = \"nope\"\n", "server.listen"),
            (
                "[schedule]\nmetadata = \"every five minutes\"\n",
                "schedule.metadata",
            ),
            ("[schedule]\nconcurrency = 0\n", "schedule.concurrency"),
            ("[schedule]\nconcurrency = -2\n", "schedule.concurrency"),
            (
                "[budget]\nmodel_tokens_per_day = 5\n",
                "budget.model_tokens_per_day",
            ),
            (
                "[budget]\ncredential_tokens_per_day = -1\n",
                "budget.credential_tokens_per_day",
            ),
            (
                "[traffic]\npoll_interval_seconds = 0\n",
                "traffic.poll_interval_seconds",
            ),
            (
                "[traffic]\nfallback_window_seconds = -5\n",
                "traffic.fallback_window_seconds",
            ),
            (
                "[[targets]]\nname='a'\nprovider='openai'\nmodel='m'\napi_key_env='sk-live-123'\n",
                "targets[0].api_key_env",
            ),
        ] {
            let err = Config::parse_str(toml, Path::new("x.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn targets_parse() {
        let c = Config::parse_str(
            "[[targets]]\nname='a'\nprovider='openai'\nmodel='gpt-5-mini'\nbase_url='http://127.0.0.1:1/v1'\napi_key_env='OPENAI_API_KEY'\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(c.targets.len(), 1);
        assert_eq!(c.targets[0].model, "gpt-5-mini");
    }
}
