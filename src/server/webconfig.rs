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
//! The file and the files it names are re-read when their content changes
//! ([`crate::filestamp`]: checked on each new connection and request, a few `stat` calls
//! unless the metadata changed), so a rotated
//! certificate or a changed password takes effect without a restart. A re-read that fails
//! (half-written key, typo) keeps the last good settings and logs an error naming the file
//! and key: a monitoring endpoint that locks everyone out on a typo hides the outages it is
//! there to show.

use super::tls::{self, ClientAuth, TlsError, TlsSettings, TlsVersion};
use crate::filestamp::WatchedFiles;
use http::{HeaderName, HeaderValue};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Semaphore;
use tokio_rustls::rustls::ServerConfig;

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

/// The web config in force, re-read when its files change.
pub struct WebConfig {
    path: PathBuf,
    state: Mutex<State>,
    /// SHA-256 of (user, password, hash) for recently verified credentials, so a scrape
    /// every few seconds does not pay a bcrypt verification each time. Bounded.
    verified: Mutex<HashSet<[u8; 32]>>,
    /// bcrypt is deliberately slow: at most this many verifications run at once, so
    /// a flood of wrong passwords cannot take every core.
    bcrypt_slots: Semaphore,
}

struct State {
    current: Arc<Loaded>,
    /// What the files looked like at the last attempt (good or bad), so a broken file is
    /// reported once, not on every connection.
    seen: WatchedFiles,
}

const VERIFIED_CACHE_MAX: usize = 256;
const BCRYPT_CONCURRENCY: usize = 2;

impl WebConfig {
    /// Reads and validates the file and everything it names (certificates are parsed and
    /// the TLS config is built, so a bad key fails at start-up, not at the first scrape).
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let loaded = read(path)?;
        Ok(WebConfig {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                seen: loaded.stamps.clone(),
                current: Arc::new(loaded),
            }),
            verified: Mutex::new(HashSet::new()),
            bcrypt_slots: Semaphore::new(BCRYPT_CONCURRENCY),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings in force, re-reading the files first if any of them changed.
    pub fn current(&self) -> Arc<Loaded> {
        let mut st = self.state.lock().expect("web config lock");
        let changed = st.seen.changed().is_some();
        if changed {
            match read(&self.path) {
                Ok(new) => {
                    if new.tls.is_some() != st.current.tls.is_some() {
                        tracing::warn!(
                            file = %self.path.display(),
                            tls = new.tls.is_some(),
                            "web config: TLS switched on or off; new connections follow"
                        );
                    }
                    tracing::info!(file = %self.path.display(), tls = new.tls.is_some(), users = new.users.len(), "web config reloaded");
                    st.seen = new.stamps.clone();
                    st.current = Arc::new(new);
                }
                Err(e) => {
                    tracing::error!(
                        "web config reload failed, keeping the last good settings: {e}"
                    );
                    // Remember the broken state so we try again only after the next change.
                    st.seen.restamp();
                }
            }
        }
        st.current.clone()
    }

    /// Checks an `Authorization` header against `loaded`'s users. Always `true` when no
    /// users are configured.
    pub async fn authorize(&self, loaded: &Loaded, header: Option<&HeaderValue>) -> bool {
        if !loaded.auth_required() {
            return true;
        }
        let Some((user, pass)) = header.and_then(parse_basic) else {
            return false;
        };
        let hash = loaded.users.get(&user).cloned();
        let key = {
            let mut h = Sha256::new();
            for part in [
                user.as_bytes(),
                pass.as_bytes(),
                hash.as_deref().unwrap_or("").as_bytes(),
            ] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part);
            }
            <[u8; 32]>::from(h.finalize())
        };
        if hash.is_some() && self.verified.lock().expect("lock").contains(&key) {
            return true;
        }
        let Ok(_slot) = self.bcrypt_slots.acquire().await else {
            return false;
        };
        // Unknown users are checked against a dummy hash too, so the response time does not
        // tell which usernames exist.
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(pass, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
            && known;
        if ok {
            let mut v = self.verified.lock().expect("lock");
            if v.len() >= VERIFIED_CACHE_MAX {
                v.clear();
            }
            v.insert(key);
        }
        ok
    }
}

fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| bcrypt::hash("clawprobe-dummy", 10).unwrap_or_default())
}

/// `Basic base64(user:pass)` → (user, pass).
fn parse_basic(v: &HeaderValue) -> Option<(String, String)> {
    let s = v.to_str().ok()?.trim();
    let (scheme, rest) = s.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64_decode(rest.trim())?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Standard base64 with or without padding, at most 8 KiB of it; `None` on anything else.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    if s.len() > 8192 {
        return None;
    }
    LENIENT.decode(s).ok()
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

/// One full read of the web config file and the files it names.
fn read(path: &Path) -> Result<Loaded, WebConfigError> {
    // Stamped before reading: a change after this point is always seen next time.
    let mut stamps = WatchedFiles::new([path.to_path_buf()]);
    let text = std::fs::read_to_string(path).map_err(|err| WebConfigError::Read {
        path: path.display().to_string(),
        err,
    })?;
    let raw: RawFile = if text.trim().is_empty() {
        RawFile::default()
    } else {
        serde_yaml::from_str::<Option<RawFile>>(&text)
            .map_err(|e| WebConfigError::Parse {
                path: path.display().to_string(),
                msg: scrub_values(&e.to_string()),
            })?
            .unwrap_or_default()
    };

    let tls = match raw.tls_server_config {
        None => None,
        Some(t) => {
            let settings = tls_settings(t, path)?;
            for f in settings.files() {
                stamps.push(f);
            }
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
        users,
        headers,
        stamps,
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
    fn empty_file_means_no_tls_no_auth() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "web.yml", "");
        let w = WebConfig::load(&p).unwrap();
        let l = w.current();
        assert!(l.tls.is_none() && !l.auth_required());
    }

    #[test]
    fn base64_and_basic_header() {
        assert_eq!(
            base64_decode("YWxhZGRpbjpvcGVuc2VzYW1l").unwrap(),
            b"aladdin:opensesame"
        );
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("Y!==").is_none());
        let h = HeaderValue::from_static("Basic YWxhZGRpbjpvcGVuOnNlc2FtZQ==");
        assert_eq!(
            parse_basic(&h),
            Some(("aladdin".to_string(), "open:sesame".to_string()))
        );
        assert_eq!(parse_basic(&HeaderValue::from_static("Bearer abc")), None);
    }

    #[tokio::test]
    async fn authorize_checks_bcrypt_caches_and_follows_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let h1 = bcrypt::hash("right", 4).unwrap();
        let p = write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  prom: '{h1}'\n"),
        );
        let w = WebConfig::load(&p).unwrap();
        let hv = |u: &str, pw: &str| {
            let raw = format!("{u}:{pw}");
            use base64::Engine;
            let s = base64::engine::general_purpose::STANDARD.encode(raw);
            HeaderValue::from_str(&format!("Basic {s}")).unwrap()
        };
        let l = w.current();
        assert!(!w.authorize(&l, None).await);
        assert!(!w.authorize(&l, Some(&hv("prom", "wrong"))).await);
        assert!(!w.authorize(&l, Some(&hv("nobody", "right"))).await);
        assert!(w.authorize(&l, Some(&hv("prom", "right"))).await);
        assert!(w.authorize(&l, Some(&hv("prom", "right"))).await, "cached");
        // New password in the file: the old one stops working without a restart.
        let h2 = bcrypt::hash("new", 4).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  prom: '{h2}'\n  # changed\n"),
        );
        let l = w.current();
        assert!(!w.authorize(&l, Some(&hv("prom", "right"))).await);
        assert!(w.authorize(&l, Some(&hv("prom", "new"))).await);
        // A broken edit keeps the last good users.
        write(
            dir.path(),
            "web.yml",
            "basic_auth_users:\n  prom: nothash\n",
        );
        let l = w.current();
        assert!(w.authorize(&l, Some(&hv("prom", "new"))).await);
        let dbg = format!("{l:?}");
        assert!(!dbg.contains("$2"), "{dbg}");
    }
}
