//! Secrets (API keys, tokens) wrapped so they cannot leak by accident.
//!
//! `Secret` has no `Display`, and its `Debug` prints only a short fingerprint. The only way
//! to the bytes is [`Secret::expose`], which is called where a request header is built.
//! Credentials are labelled in output by profile id or by [`Secret::fingerprint`].

use sha2::{Digest, Sha256};

/// A credential value. Cloning is cheap enough for the number of keys an install holds.
/// The fingerprint is computed once: target keys (which hold it) are compared on every
/// scheduling decision.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String, String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        let fp = fingerprint_of(&value);
        Secret(value, fp)
    }

    /// The raw value, for building an auth header. Never log or format the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// A short, stable, non-reversible label: `fp:` and the first 8 hex digits of SHA-256.
    pub fn fingerprint(&self) -> String {
        self.1.clone()
    }
}

fn fingerprint_of(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("fp:{hex}")
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.fingerprint())
    }
}

/// Replaces every occurrence of any of `secrets` (and any long prefix of one, as providers
/// echo `sk-abc...xyz`) and any key-shaped token in `text` with `[REDACTED]`.
///
/// Used on provider error bodies before they are logged or shown.
pub fn redact(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        let v = s.expose();
        if v.len() >= 8 {
            out = out.replace(v, "[REDACTED]");
            // Providers often echo a prefix/suffix of the key ("sk-proj-abcd****wxyz").
            let prefix: String = v.chars().take(12).collect();
            if prefix.len() >= 10 {
                out = out.replace(&prefix, "[REDACTED]");
            }
        }
    }
    redact_key_shapes(&out)
}

/// Masks substrings that look like provider keys whatever their value: `sk-…`, `sk-ant-…`,
/// `sk-or-…`, `gsk_…`, `xai-…`, `AIza…`, and `Bearer <token>`.
pub fn redact_key_shapes(text: &str) -> String {
    const PREFIXES: &[&str] = &["sk-", "gsk_", "xai-", "AIza", "Bearer "];
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if let Some(p) = PREFIXES.iter().find(|p| rest.starts_with(**p)) {
            let tail = &rest[p.len()..];
            let n = tail
                .char_indices()
                .take_while(|(_, c)| {
                    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*')
                })
                .map(|(idx, c)| idx + c.len_utf8())
                .last()
                .unwrap_or(0);
            if n >= 6 {
                out.push_str(p);
                out.push_str("[REDACTED]");
                i += p.len() + n;
                continue;
            }
        }
        let ch = rest.chars().next().expect("non-empty");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_only_fingerprint() {
        let s = Secret::new("sk-canary-DO-NOT-LEAK-123456");
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("canary"), "{dbg}");
        assert!(dbg.starts_with("Secret(fp:"), "{dbg}");
        assert_eq!(
            s.fingerprint(),
            Secret::new("sk-canary-DO-NOT-LEAK-123456").fingerprint()
        );
        assert_ne!(s.fingerprint(), Secret::new("other").fingerprint());
    }

    #[test]
    fn redact_removes_values_prefixes_and_key_shapes() {
        let s = Secret::new("zz-custom-secret-value-987");
        let text = "Incorrect API key provided: zz-custom-se****0987. Also sk-proj-AbCdEf123456 and AIzaSyD-abcdefgh";
        let r = redact(text, &[&s]);
        assert!(!r.contains("zz-custom-se"), "{r}");
        assert!(!r.contains("AbCdEf123456"), "{r}");
        assert!(!r.contains("SyD-abcdefgh"), "{r}");
        assert!(r.contains("Incorrect API key provided"), "{r}");
    }
}
