//! OpenClaw's merged environment: process env, then `<stateDir>/.env`, then the config's
//! `env.vars` (first wins). The process env is injected as a lookup function so tests never
//! mutate (or read) the real process environment.

use std::collections::BTreeMap;
use std::path::Path;

/// A lookup into the process environment (or a test map).
pub type ProcessEnv<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Where a merged env value came from (never the value itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvSource {
    Process,
    DotEnv,
    ConfigVars,
}

/// The three env sources OpenClaw consults, in its order.
pub struct MergedEnv<'a> {
    process: ProcessEnv<'a>,
    dotenv: BTreeMap<String, String>,
    config_vars: BTreeMap<String, String>,
}

impl<'a> MergedEnv<'a> {
    pub fn new(
        process: ProcessEnv<'a>,
        dotenv: BTreeMap<String, String>,
        config_vars: BTreeMap<String, String>,
    ) -> Self {
        MergedEnv {
            process,
            dotenv,
            config_vars,
        }
    }

    /// The value of `name`, first source wins. Empty process values count as unset, as
    /// OpenClaw's dotenv loading does not override a set variable but treats "" as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        self.get_with_source(name).map(|(v, _)| v)
    }

    pub fn get_with_source(&self, name: &str) -> Option<(String, EnvSource)> {
        if let Some(v) = (self.process)(name).filter(|v| !v.is_empty()) {
            return Some((v, EnvSource::Process));
        }
        if let Some(v) = self.dotenv.get(name) {
            return Some((v.clone(), EnvSource::DotEnv));
        }
        self.config_vars
            .get(name)
            .map(|v| (v.clone(), EnvSource::ConfigVars))
    }
}

/// The largest `.env` read (OpenClaw's are a few lines).
const MAX_DOTENV_BYTES: u64 = 1 << 20;

/// Reads a dotenv file; `Ok(None)` when it does not exist. A FIFO or directory in its place
/// is an error at once, never a blocked read; so is a file over 1 MiB.
pub fn read_dotenv(path: &Path) -> std::io::Result<Option<BTreeMap<String, String>>> {
    match super::regular::read_to_string(path, MAX_DOTENV_BYTES) {
        Ok(text) if text.len() as u64 > MAX_DOTENV_BYTES => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "larger than 1 MiB: it cannot be OpenClaw's .env",
        )),
        Ok(text) => Ok(Some(parse_dotenv(&text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Parses dotenv text: `KEY=value`, optional `export `, `#` comments, single/double quotes
/// (double quotes understand `\n`), inline ` #` comments after unquoted values.
pub fn parse_dotenv(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            continue;
        }
        let value = value.trim();
        let value = if let Some(rest) = value.strip_prefix('"') {
            let inner = rest.rfind('"').map(|i| &rest[..i]).unwrap_or(rest);
            inner.replace("\\n", "\n").replace("\\\"", "\"")
        } else if let Some(rest) = value.strip_prefix('\'') {
            rest.rfind('\'')
                .map(|i| &rest[..i])
                .unwrap_or(rest)
                .to_string()
        } else {
            match value.find(" #") {
                Some(i) => value[..i].trim_end().to_string(),
                None => value.to_string(),
            }
        };
        // First occurrence wins inside one file too, like dotenv.
        out.entry(key.to_string()).or_insert(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_parses_quotes_comments_export() {
        let m = parse_dotenv(
            "# comment\nexport A=1\nB = \"two words\" \nC='x#y'\nD=plain # note\nbad line\nA=2\n",
        );
        assert_eq!(m.get("A").map(String::as_str), Some("1"));
        assert_eq!(m.get("B").map(String::as_str), Some("two words"));
        assert_eq!(m.get("C").map(String::as_str), Some("x#y"));
        assert_eq!(m.get("D").map(String::as_str), Some("plain"));
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn first_source_wins() {
        let process = |k: &str| (k == "A").then(|| "proc".to_string());
        let dot = BTreeMap::from([("A".into(), "dot".into()), ("B".into(), "dot".into())]);
        let cfg = BTreeMap::from([("B".into(), "cfg".into()), ("C".into(), "cfg".into())]);
        let env = MergedEnv::new(&process, dot, cfg);
        assert_eq!(
            env.get_with_source("A"),
            Some(("proc".into(), EnvSource::Process))
        );
        assert_eq!(
            env.get_with_source("B"),
            Some(("dot".into(), EnvSource::DotEnv))
        );
        assert_eq!(
            env.get_with_source("C"),
            Some(("cfg".into(), EnvSource::ConfigVars))
        );
        assert_eq!(env.get("D"), None);
    }
}
