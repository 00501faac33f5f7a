//! `--web.config.file`: TLS and basic auth for every endpoint, in the Prometheus
//! exporter-toolkit YAML format, so the same file (and the same Prometheus scrape config)
//! works for clawprobe as for node_exporter. See docs/web-config.md.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt        # relative paths are relative to this file
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: clients-ca.crt
//!   min_version: TLS12
//! http_server_config:
//!   headers:
//!     Strict-Transport-Security: max-age=31536000
//! basic_auth_users:
//!   prometheus: $2y$10$...         # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
//! ```
//!
//! **Fail closed.** The file and the files it names are re-read when their content changes
//! ([`WebConfig::poll`], twice a second from a task of the listener, never on the request
//! path), so a rotated certificate or a changed password takes effect without a restart.
//! Editors and tools rewrite files in place (`cat new > web.yml` truncates first), so a read
//! can see an empty file or a prefix of the new one, and a prefix can parse: before, an
//! unauthenticated client got thousands of `200`s over plain HTTP during 300 rewrites of an
//! unchanged file. Now a change takes effect only when
//!
//! - two reads in a row ([`POLL_INTERVAL`] apart) saw the same content of every file, and
//!   nothing changed while a read ran;
//! - it is not empty (an empty or comment-only file is an error; `{}` says "no TLS, no
//!   users" on purpose);
//! - it parses and every file it names is usable;
//! - it does not drop what is in force: TLS, a required client certificate, or basic auth.
//!   Turning one of them off takes a restart, when the file is read at start-up.
//!
//! Anything else keeps the last good settings, logs an error naming the file (and key), and
//! sets `clawprobe_web_config_last_reload_successful` to 0 until a good change lands (or the
//! files are back to what is in force). At start-up the same rules apply (two equal reads, no
//! empty file) and a failure stops clawprobe before it listens.

use super::basic_auth::{Outcome, Verifier};
use super::tls::{self, ClientAuth, TlsError, TlsSettings, TlsVersion};
use crate::filestamp::WatchedFiles;
use http::{HeaderName, HeaderValue};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_rustls::rustls::ServerConfig;

/// How often the files are checked for changes, and the pause between the two reads that
/// must agree before a change takes effect (at start-up too).
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Why the web config file cannot be used. Messages name the file, the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("cannot read web config file {path} (--web.config.file): {err}")]
    Read { path: String, err: std::io::Error },
    #[error("web config file {path}: {msg} (the keys are described in docs/web-config.md)")]
    Parse { path: String, msg: String },
    #[error("web config file {path}: key {key}: {msg}")]
    Invalid {
        path: String,
        key: String,
        msg: String,
    },
    #[error("web config file {path} is empty (or only comments): clawprobe will not serve without the TLS and basic auth a half-written file may be missing; to serve without TLS and authentication on purpose, write `{{}}` in it")]
    Empty { path: String },
    #[error("web config file {path}: {msg}, which was in force; keeping it (fail closed). Restart clawprobe to turn it off on purpose")]
    Weakens { path: String, msg: &'static str },
    #[error("web config file {path} kept changing while it was read at start-up; start clawprobe once it is written")]
    Unsettled { path: String },
}

impl WebConfigError {
    fn invalid(file: &Path, key: &str, msg: impl Into<String>) -> WebConfigError {
        WebConfigError::Invalid {
            path: file.display().to_string(),
            key: key.to_string(),
            msg: msg.into(),
        }
    }

    /// A TLS setting of `file` that cannot be used.
    fn tls(file: &Path) -> impl Fn(TlsError) -> WebConfigError + '_ {
        move |e| WebConfigError::invalid(file, &e.key, e.msg)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    // Known exporter-toolkit keys that rustls decides for itself: accepted by name so the
    // error says "not supported" rather than "unknown key".
    cipher_suites: Option<serde_yaml::Value>,
    curve_preferences: Option<serde_yaml::Value>,
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<serde_yaml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    /// Accepted for compatibility; clawprobe serves HTTP/1.1 only.
    #[allow(dead_code)]
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

/// The settings in force, from one successful read of the web config file.
pub struct Loaded {
    /// `Some` when connections must be TLS.
    pub tls: Option<Arc<ServerConfig>>,
    /// Whether a client certificate is required (mutual TLS).
    client_cert_required: bool,
    /// username → bcrypt hash. Empty: no authentication.
    users: BTreeMap<String, String>,
    /// Extra response headers (`http_server_config.headers`).
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Files this read depended on, with what they looked like.
    stamps: WatchedFiles,
}

impl Loaded {
    pub fn auth_required(&self) -> bool {
        !self.users.is_empty()
    }

    /// What these settings enforce, in brief.
    pub fn summary(&self) -> Summary {
        Summary {
            tls: self.tls.is_some(),
            client_cert_required: self.client_cert_required,
            users: self.users.len(),
        }
    }

    /// What `new` would turn off of what `self` enforces, if anything.
    fn weakened_by(&self, new: &Loaded) -> Option<&'static str> {
        if self.tls.is_some() && new.tls.is_none() {
            Some("the new content drops tls_server_config (TLS)")
        } else if self.client_cert_required && !new.client_cert_required {
            Some("the new content no longer requires client certificates (RequireAndVerifyClientCert)")
        } else if self.auth_required() && !new.auth_required() {
            Some("the new content drops basic_auth_users (authentication)")
        } else {
            None
        }
    }

    /// Adds the configured response headers.
    pub fn apply_headers(&self, headers: &mut http::HeaderMap) {
        for (n, v) in &self.headers {
            headers.insert(n.clone(), v.clone());
        }
    }
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No hashes: they are offline-crackable.
        f.debug_struct("Loaded")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The web config in force, re-read when its files change ([`WebConfig::poll`]).
pub struct WebConfig {
    path: PathBuf,
    state: Mutex<State>,
    verifier: Verifier,
    /// `clawprobe_web_config_last_reload_successful`.
    last_reload_ok: AtomicBool,
}

struct State {
    current: Arc<Loaded>,
    /// What the files looked like at the last read (good or bad), so unchanged files are
    /// not read again.
    seen: WatchedFiles,
    /// Content seen once and not yet in force: applied if the next read sees it again.
    pending: Option<[u8; 32]>,
}

/// What a [`WebConfig::poll`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polled {
    /// No file changed, or they are back to the content in force.
    Unchanged,
    /// A change was seen once; the next poll applies it if it reads the same.
    Settling,
    /// A change took effect.
    Reloaded,
    /// A settled change cannot be used; the last good settings stay.
    Failed,
}

/// One read of the web config file and the files it names: the files (stamped before the
/// read) and what they gave. `settled` says the files did not change while being read.
struct Attempt {
    stamps: WatchedFiles,
    result: Result<Loaded, WebConfigError>,
    settled: bool,
}

fn attempt(path: &Path) -> Attempt {
    let mut stamps = WatchedFiles::new([path.to_path_buf()]);
    let result = read(path, &mut stamps);
    let settled = stamps.restamped().fingerprint() == stamps.fingerprint();
    Attempt {
        stamps,
        result,
        settled,
    }
}

impl WebConfig {
    /// Reads and validates the file and everything it names (certificates are parsed and
    /// the TLS config is built, so a bad key fails at start-up, not at the first scrape).
    /// Two reads [`POLL_INTERVAL`] apart must agree, as for a reload; an empty file is an
    /// error.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let mut previous: Option<[u8; 32]> = None;
        for _ in 0..10 {
            let a = attempt(path);
            let fp = a.stamps.fingerprint();
            if a.settled && previous == Some(fp) {
                let loaded = a.result?;
                if loaded.tls.is_none() && !loaded.auth_required() {
                    tracing::warn!(file = %path.display(), "web config sets neither TLS nor basic_auth_users: serving plain HTTP without authentication");
                }
                return Ok(WebConfig {
                    path: path.to_path_buf(),
                    state: Mutex::new(State {
                        seen: loaded.stamps.clone(),
                        current: Arc::new(loaded),
                        pending: None,
                    }),
                    verifier: Verifier::default(),
                    last_reload_ok: AtomicBool::new(true),
                });
            }
            // A file that cannot even be opened will not settle into anything better.
            if let Err(e @ WebConfigError::Read { .. }) = a.result {
                return Err(e);
            }
            previous = a.settled.then_some(fp);
            std::thread::sleep(POLL_INTERVAL / 5);
        }
        Err(WebConfigError::Unsettled {
            path: path.display().to_string(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings in force. Never reads a file: see [`WebConfig::poll`].
    pub fn current(&self) -> Arc<Loaded> {
        self.state.lock().expect("web config lock").current.clone()
    }

    /// Whether the last change of the files could be applied (or they are back to what is
    /// in force): `clawprobe_web_config_last_reload_successful`.
    pub fn last_reload_ok(&self) -> bool {
        self.last_reload_ok.load(Ordering::Relaxed)
    }

    /// Re-reads the files if any of them changed, and applies the change once two polls in
    /// a row read the same content (see the module docs). Blocking: call it off the async
    /// workers.
    pub fn poll(&self) -> Polled {
        let mut st = self.state.lock().expect("web config lock");
        if st.pending.is_none() && st.seen.changed().is_none() {
            return Polled::Unchanged;
        }
        let a = attempt(&self.path);
        let fp = a.stamps.fingerprint();
        st.seen = a.stamps;
        if !a.settled {
            st.pending = None;
            return Polled::Settling;
        }
        if fp == st.current.stamps.fingerprint() {
            // Back to the content in force (e.g. rewritten in place with the same bytes).
            if st.pending.take().is_some() {
                tracing::debug!(file = %self.path.display(), "web config back to the settings in force");
            }
            self.last_reload_ok.store(true, Ordering::Relaxed);
            return Polled::Unchanged;
        }
        if st.pending != Some(fp) {
            st.pending = Some(fp);
            tracing::debug!(file = %self.path.display(), "web config changed; applying it once a second read agrees");
            return Polled::Settling;
        }
        st.pending = None;
        let result = a.result.and_then(|new| match st.current.weakened_by(&new) {
            Some(msg) => Err(WebConfigError::Weakens {
                path: self.path.display().to_string(),
                msg,
            }),
            None => Ok(new),
        });
        match result {
            Ok(new) => {
                if new.tls.is_some() != st.current.tls.is_some() {
                    tracing::warn!(
                        file = %self.path.display(),
                        tls = new.tls.is_some(),
                        "web config: TLS switched on; new connections follow"
                    );
                }
                tracing::info!(file = %self.path.display(), tls = new.tls.is_some(), users = new.users.len(), "web config reloaded");
                st.current = Arc::new(new);
                self.last_reload_ok.store(true, Ordering::Relaxed);
                Polled::Reloaded
            }
            Err(e) => {
                tracing::error!("web config reload failed, keeping the last good settings: {e}");
                self.last_reload_ok.store(false, Ordering::Relaxed);
                Polled::Failed
            }
        }
    }

    /// Checks an `Authorization` header from `peer` against `loaded`'s users (see
    /// [`super::basic_auth`]). Always allowed when no users are configured.
    pub async fn authorize(
        &self,
        loaded: &Loaded,
        header: Option<&HeaderValue>,
        peer: IpAddr,
    ) -> Outcome {
        self.verifier.check(&loaded.users, header, peer).await
    }
}

/// serde quotes the offending value in type errors (`invalid type: string "hunter2",
/// expected a map`); in this file that value may be a password, so it is dropped. Key
/// names (quoted with backticks) stay.
fn scrub_values(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find("string \"") {
        out.push_str(&rest[..i]);
        out.push_str("a string");
        let after = &rest[i + "string \"".len()..];
        // serde escapes inner quotes, so the first unescaped `"` ends the value.
        let mut end = after.len();
        let mut escaped = false;
        for (j, c) in after.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = j + 1;
                    break;
                }
                _ => escaped = false,
            }
        }
        rest = &after[end.min(after.len())..];
    }
    out.push_str(rest);
    out
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// Opening a FIFO blocks until someone writes to it: only regular files are read (a
/// missing file is left to the read, which names it).
fn regular_file(path: &Path) -> Result<(), WebConfigError> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(WebConfigError::Read {
            path: path.display().to_string(),
            err: std::io::Error::other("not a regular file"),
        }),
        _ => Ok(()),
    }
}

/// One full read of the web config file and the files it names; every file read is added
/// to `stamps` (stamped before it is read), also when the read fails.
fn read(path: &Path, stamps: &mut WatchedFiles) -> Result<Loaded, WebConfigError> {
    regular_file(path)?;
    let text = std::fs::read_to_string(path).map_err(|err| WebConfigError::Read {
        path: path.display().to_string(),
        err,
    })?;
    parse(&text, path, stamps)
}

/// What a web config text says, in brief (for the fuzz and property tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub tls: bool,
    pub client_cert_required: bool,
    pub users: usize,
}

/// Parses and validates `text` as the content of the web config file `path` (files it names
/// are read relative to it), as a reload would; for fuzzing and property tests.
pub fn check_text(text: &str, path: &Path) -> Result<Summary, WebConfigError> {
    let mut stamps = WatchedFiles::default();
    parse(text, path, &mut stamps).map(|l| l.summary())
}

fn parse(text: &str, path: &Path, stamps: &mut WatchedFiles) -> Result<Loaded, WebConfigError> {
    let empty = || WebConfigError::Empty {
        path: path.display().to_string(),
    };
    if text.trim().is_empty() {
        return Err(empty());
    }
    // `None`: a document of only comments (YAML null), as empty as an empty file.
    let raw: RawFile = serde_yaml::from_str::<Option<RawFile>>(text)
        .map_err(|e| WebConfigError::Parse {
            path: path.display().to_string(),
            msg: scrub_values(&e.to_string()),
        })?
        .ok_or_else(empty)?;

    let mut client_cert_required = false;
    let tls = match raw.tls_server_config {
        None => None,
        Some(t) => {
            let settings = tls_settings(t, path)?;
            for f in settings.files() {
                regular_file(&f)?;
                stamps.push(f);
            }
            client_cert_required = settings.client_auth == ClientAuth::RequireAndVerify;
            Some(tls::build(&settings).map_err(WebConfigError::tls(path))?)
        }
    };

    let mut users = BTreeMap::new();
    for (user, hash) in raw.basic_auth_users.unwrap_or_default() {
        let key = format!("basic_auth_users.{user}");
        if user.is_empty() || user.contains(':') {
            return Err(WebConfigError::invalid(
                path,
                &key,
                "a username must be non-empty and cannot contain ':' (HTTP basic auth)",
            ));
        }
        if hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(WebConfigError::invalid(
                path,
                &key,
                "the value must be a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters), not a plain password; make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`",
            ));
        }
        users.insert(user, hash);
    }

    let mut headers = Vec::new();
    if let Some(h) = raw.http_server_config.and_then(|h| h.headers) {
        for (name, value) in h {
            let key = format!("http_server_config.headers.{name}");
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| WebConfigError::invalid(path, &key, "not a valid header name"))?;
            let v = HeaderValue::from_str(&value)
                .map_err(|_| WebConfigError::invalid(path, &key, "not a valid header value"))?;
            headers.push((n, v));
        }
    }

    Ok(Loaded {
        tls,
        client_cert_required,
        users,
        headers,
        stamps: stamps.clone(),
    })
}

fn tls_settings(t: RawTls, path: &Path) -> Result<TlsSettings, WebConfigError> {
    for (set, key) in [
        (t.cipher_suites.is_some(), "cipher_suites"),
        (t.curve_preferences.is_some(), "curve_preferences"),
        (t.client_allowed_sans.is_some(), "client_allowed_sans"),
    ] {
        if set {
            return Err(WebConfigError::invalid(
                path,
                &format!("tls_server_config.{key}"),
                "not supported by clawprobe (rustls chooses safe cipher suites and curves itself); remove the key",
            ));
        }
    }
    let _ = t.prefer_server_cipher_suites; // rustls always prefers the server's order.
    let cert_file = t.cert_file.filter(|s| !s.is_empty()).ok_or_else(|| {
        WebConfigError::invalid(
            path,
            "tls_server_config.cert_file",
            "missing: name the PEM certificate (chain) file",
        )
    })?;
    let key_file = t.key_file.filter(|s| !s.is_empty()).ok_or_else(|| {
        WebConfigError::invalid(
            path,
            "tls_server_config.key_file",
            "missing: name the PEM private key file",
        )
    })?;
    let client_ca_file = t
        .client_ca_file
        .filter(|s| !s.is_empty())
        .map(|s| resolve(path, &s));
    let client_auth = match t.client_auth_type.as_deref() {
        // As in the exporter-toolkit: a CA file without a mode means mutual TLS.
        None | Some("") if client_ca_file.is_some() => ClientAuth::RequireAndVerify,
        None => ClientAuth::None,
        Some(v) => ClientAuth::parse(v).map_err(WebConfigError::tls(path))?,
    };
    let min_version = match t.min_version.as_deref() {
        None | Some("") => TlsVersion::Tls12,
        Some(v) => TlsVersion::parse(v, "tls_server_config.min_version")
            .map_err(WebConfigError::tls(path))?,
    };
    let max_version = match t.max_version.as_deref() {
        None | Some("") => TlsVersion::Tls13,
        Some(v) => TlsVersion::parse(v, "tls_server_config.max_version")
            .map_err(WebConfigError::tls(path))?,
    };
    Ok(TlsSettings {
        cert_file: resolve(path, &cert_file),
        key_file: resolve(path, &key_file),
        client_auth,
        client_ca_file,
        min_version,
        max_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn err(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "web.yml", text);
        match WebConfig::load(&p) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn unknown_keys_name_the_file_and_key() {
        let e = err("basic_auth_users: {}\ntls_server_config:\n  cert_file: a\n  key_fiel: b\n");
        assert!(e.contains("web.yml"), "{e}");
        assert!(e.contains("key_fiel"), "{e}");
        let e = err("basic_auth_user:\n  a: b\n");
        assert!(e.contains("basic_auth_user"), "{e}");
        // A password typed where a map belongs is not echoed back.
        let e = err("basic_auth_users: \"hunter2\"\n");
        assert!(
            e.contains("basic_auth_users") && !e.contains("hunter2"),
            "{e}"
        );
        assert_eq!(
            scrub_values(r#"x: invalid type: string "a\"b", expected y; string "c""#),
            "x: invalid type: a string, expected y; a string"
        );
    }

    #[test]
    fn invalid_values_name_the_key_and_fix() {
        let e = err("basic_auth_users:\n  prom: plaintext\n");
        assert!(
            e.contains("basic_auth_users.prom") && e.contains("bcrypt"),
            "{e}"
        );
        assert!(!e.contains("plaintext"), "the value may be a password: {e}");
        let e = err("tls_server_config:\n  key_file: k\n");
        assert!(e.contains("tls_server_config.cert_file"), "{e}");
        let e = err("tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS10\n");
        assert!(e.contains("min_version") && e.contains("TLS12"), "{e}");
        let e = err("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: RequireAnyClientCert\n");
        assert!(e.contains("client_auth_type"), "{e}");
        let e = err("tls_server_config:\n  cert_file: c\n  key_file: k\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n");
        assert!(
            e.contains("cipher_suites") && e.contains("not supported"),
            "{e}"
        );
        let e = err("tls_server_config:\n  cert_file: missing.crt\n  key_file: k\n");
        assert!(e.contains("missing.crt") && e.contains("cert_file"), "{e}");
        let e = err("http_server_config:\n  headers:\n    \"bad name\": x\n");
        assert!(e.contains("http_server_config.headers.bad name"), "{e}");
    }

    #[test]
    fn an_empty_file_is_refused_and_braces_mean_nothing_on_purpose() {
        for text in ["", "  \n", "# only a comment\n"] {
            let e = err(text);
            assert!(
                e.contains("web.yml") && e.contains("empty") && e.contains("{}"),
                "{e}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "web.yml", "{}\n");
        let w = WebConfig::load(&p).unwrap();
        let l = w.current();
        assert!(l.tls.is_none() && !l.auth_required());
    }

    fn hv(u: &str, pw: &str) -> HeaderValue {
        use base64::Engine;
        let s = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{pw}"));
        HeaderValue::from_str(&format!("Basic {s}")).unwrap()
    }

    /// Writes `text` over `p` in place and makes sure the metadata differs (same-second
    /// writes of the same size look alike to a `stat`).
    fn rewrite(p: &Path, text: &str) {
        std::fs::write(p, text).unwrap();
        let f = std::fs::File::options().write(true).open(p).unwrap();
        let m = f.metadata().unwrap().modified().unwrap();
        f.set_modified(m + Duration::from_millis(7)).unwrap();
    }

    #[tokio::test]
    async fn changes_apply_after_two_equal_reads_and_never_weaken_what_is_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let h1 = bcrypt::hash("right", 4).unwrap();
        let p = write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  prom: '{h1}'\n"),
        );
        let w = WebConfig::load(&p).unwrap();
        async fn ok(w: &WebConfig, pw: &str) -> bool {
            let peer: IpAddr = "127.0.0.1".parse().unwrap();
            let l = w.current();
            w.authorize(&l, Some(&hv("prom", pw)), peer).await == Outcome::Allowed
        }
        assert!(ok(&w, "right").await);
        assert_eq!(w.poll(), Polled::Unchanged);

        // A new password: seen once (settling), applied by the second equal read.
        let h2 = bcrypt::hash("new", 4).unwrap();
        rewrite(&p, &format!("basic_auth_users:\n  prom: '{h2}'\n"));
        assert_eq!(w.poll(), Polled::Settling);
        assert!(ok(&w, "right").await, "not yet");
        assert_eq!(w.poll(), Polled::Reloaded);
        assert!(ok(&w, "new").await);
        assert!(!ok(&w, "right").await);

        // Truncated (`cat new > web.yml` between its truncate and its write): never applied,
        // even when it stays: it would drop authentication.
        for text in ["", "http_server_config:\n  headers:\n    X-A: b\n"] {
            rewrite(&p, text);
            assert_eq!(w.poll(), Polled::Settling);
            assert_eq!(w.poll(), Polled::Failed, "{text:?}");
            assert!(!w.last_reload_ok());
            assert!(w.current().auth_required());
            assert!(ok(&w, "new").await);
            assert_eq!(
                w.poll(),
                Polled::Unchanged,
                "reported once, not on every poll"
            );
        }
        // Back to the content in force: fine again.
        rewrite(&p, &format!("basic_auth_users:\n  prom: '{h2}'\n"));
        assert_eq!(w.poll(), Polled::Unchanged);
        assert!(w.last_reload_ok());
        // A glimpse of an empty file between two reads of the good content changes nothing.
        rewrite(&p, "");
        assert_eq!(w.poll(), Polled::Settling);
        rewrite(&p, &format!("basic_auth_users:\n  prom: '{h2}'\n"));
        assert_eq!(w.poll(), Polled::Unchanged);
        assert!(w.last_reload_ok() && ok(&w, "new").await);
        // A broken value keeps the last good users.
        rewrite(&p, "basic_auth_users:\n  prom: nothash\n");
        assert_eq!((w.poll(), w.poll()), (Polled::Settling, Polled::Failed));
        assert!(ok(&w, "new").await);
        let dbg = format!("{:?}", w.current());
        assert!(!dbg.contains("$2"), "{dbg}");
    }

    #[test]
    fn tls_and_client_certificates_cannot_be_dropped_by_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        write(dir.path(), "c.pem", &cert.pem());
        write(dir.path(), "k.pem", &key.serialize_pem());
        let mtls = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: c.pem\n";
        let p = write(dir.path(), "web.yml", mtls);
        let w = WebConfig::load(&p).unwrap();
        for weaker in [
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n",
            "tls_server_config:\n  cert_file: c.pem\n",
            "{}\n",
        ] {
            rewrite(&p, weaker);
            assert_eq!(
                (w.poll(), w.poll()),
                (Polled::Settling, Polled::Failed),
                "{weaker}"
            );
            assert!(w.current().tls.is_some() && w.current().client_cert_required);
        }
        // Adding users on top is fine.
        let h = bcrypt::hash("pw", 4).unwrap();
        rewrite(&p, &format!("{mtls}basic_auth_users:\n  prom: '{h}'\n"));
        assert_eq!((w.poll(), w.poll()), (Polled::Settling, Polled::Reloaded));
        assert!(w.current().auth_required() && w.current().tls.is_some());
    }
}
