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
/// echo `sk-abc...xyz`) and any key-shaped token in `text` with `[REDACTED]`, and strips
/// userinfo and query from URLs ([`strip_url_secrets`]).
///
/// Used on provider error bodies before they are logged or shown. Redact the whole text
/// before cutting it to length ([`redact_cut`]): redaction needs to see a key whole.
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
    let out = mask_secret_heads(&out, secrets);
    redact_key_shapes(&out)
}

/// Characters of the runs that keys are made of (and that a cut can split).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_')
}

/// The shortest head of a secret that is masked wherever it stands as a whole run: a
/// provider echoing "zz-custom-se****" shows less than the 12 characters `redact` replaces.
const SECRET_HEAD_MIN: usize = 6;

/// Masks every run of token characters that is the first [`SECRET_HEAD_MIN`] or more
/// characters of one of `secrets` (of 8 or more characters).
fn mask_secret_heads(text: &str, secrets: &[&Secret]) -> String {
    let heads: Vec<&str> = secrets
        .iter()
        .map(|s| s.expose())
        .filter(|v| v.len() >= 8)
        .collect();
    if heads.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_token_char) {
        out.push_str(&rest[..start]);
        let run_len = rest[start..]
            .find(|c: char| !is_token_char(c))
            .unwrap_or(rest.len() - start);
        let run = &rest[start..start + run_len];
        if run.len() >= SECRET_HEAD_MIN && heads.iter().any(|h| h.starts_with(run)) {
            out.push_str("[REDACTED]");
        } else {
            out.push_str(run);
        }
        rest = &rest[start + run_len..];
    }
    out.push_str(rest);
    out
}

/// `text` redacted ([`redact`]) and then cut to at most `max` characters (plus `…`). When
/// the cut splits a run of key characters, what it leaves of the run is masked if it could
/// be the head of a key ([`looks_like_key_head`]): redaction saw the whole run, but a key it
/// did not recognise must not leave its first characters behind either.
pub fn redact_cut(text: &str, secrets: &[&Secret], max: usize) -> String {
    let clean = redact(text, secrets);
    let clean = clean.trim();
    let Some((cut_at, _)) = clean.char_indices().nth(max) else {
        return clean.to_string();
    };
    let mut head = clean[..cut_at].to_string();
    let split_run = clean[cut_at..].starts_with(is_token_char) && head.ends_with(is_token_char);
    if split_run {
        let run_start = head.rfind(|c: char| !is_token_char(c)).map_or(0, |i| {
            i + head[i..].chars().next().map_or(1, char::len_utf8)
        });
        if looks_like_key_head(&head[run_start..], secrets) {
            head.truncate(run_start);
            head.push_str("[REDACTED]");
        }
    }
    head.push('…');
    head
}

/// Whether `run`, what a cut left of a longer run, could be the start of a key: the head of
/// one of `secrets`, a known key prefix, or 6+ characters that are not a plain word (a digit,
/// `-`/`_`, or an upper-case letter after the first character).
pub fn looks_like_key_head(run: &str, secrets: &[&Secret]) -> bool {
    if run.len() >= 3
        && secrets
            .iter()
            .any(|s| s.expose().len() >= 8 && s.expose().starts_with(run))
    {
        return true;
    }
    const PREFIXES: &[&str] = &["sk", "gsk", "xai", "AIza", "pk-", "sess-", "hf_", "ghp_"];
    if PREFIXES
        .iter()
        .any(|p| run.starts_with(p) || p.starts_with(run))
        && run.len() >= 2
    {
        return true;
    }
    run.len() >= 6
        && run.chars().enumerate().any(|(i, c)| {
            c.is_ascii_digit() || c == '-' || c == '_' || (i > 0 && c.is_ascii_uppercase())
        })
}

/// Masks substrings that look like provider keys whatever their value: `sk-…`, `sk-ant-…`,
/// `sk-or-…`, `gsk_…`, `xai-…`, `AIza…`, and `Bearer <token>`; and strips userinfo and query
/// from URLs ([`strip_url_secrets`]).
pub fn redact_key_shapes(text: &str) -> String {
    const PREFIXES: &[&str] = &["sk-", "gsk_", "xai-", "AIza", "Bearer "];
    let text = &strip_url_secrets(text);
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

/// A URL as it may be shown: without userinfo (`user:password@`), query (`?key=…`) and
/// fragment, which are where credentials ride in URLs (a `baseUrl` with a password, Gemini's
/// `?key=`). Text that is not a `scheme://` URL is returned as it is.
pub fn display_url(url: &str) -> String {
    strip_url_secrets(url)
}

/// Applies [`display_url`] to every `scheme://…` URL in `text`. A URL ends at whitespace,
/// a quote, `<`, `>`, a backtick or a closing bracket.
pub fn strip_url_secrets(text: &str) -> String {
    if !text.contains("://") {
        return text.to_string();
    }
    let ends_url =
        |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')' | ']' | '}');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(sep) = rest.find("://") {
        // The scheme: letters, digits, `+`, `-`, `.` before `://`.
        let scheme_start = rest[..sep]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| {
                i + rest[i..].chars().next().map_or(1, char::len_utf8)
            });
        let after = &rest[sep + 3..];
        let url_len = after.find(ends_url).unwrap_or(after.len());
        let url = &after[..url_len];
        out.push_str(&rest[..sep + 3]);
        if scheme_start == sep {
            // `://` without a scheme: not a URL.
            out.push_str(url);
        } else {
            let auth_end = url.find(['/', '?', '#']).unwrap_or(url.len());
            let host = match url[..auth_end].rfind('@') {
                Some(at) => &url[at + 1..auth_end],
                None => &url[..auth_end],
            };
            out.push_str(host);
            let path = &url[auth_end..];
            out.push_str(&path[..path.find(['?', '#']).unwrap_or(path.len())]);
        }
        rest = &after[url_len..];
    }
    out.push_str(rest);
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

    #[test]
    fn urls_lose_userinfo_query_and_fragment() {
        for (text, want) in [
            (
                "http://user:pa55@host:8080/v1?key=AIzaXYZ#frag",
                "http://host:8080/v1",
            ),
            ("https://host/v1", "https://host/v1"),
            (
                "error sending request for url (https://u:p@h/v1/models?key=abc): boom",
                "error sending request for url (https://h/v1/models): boom",
            ),
            (
                "see \"http://a@b/c?d\" and ftp://x/y?z and ://odd?x",
                "see \"http://b/c\" and ftp://x/y and ://odd?x",
            ),
            ("no url here", "no url here"),
            ("http://user@host", "http://host"),
            ("mailto:a@b?x", "mailto:a@b?x"),
        ] {
            assert_eq!(strip_url_secrets(text), want, "{text}");
        }
        assert_eq!(
            display_url("http://admin:hunter2@10.0.0.1:11434"),
            "http://10.0.0.1:11434"
        );
        // Through redaction too (every provider message and reload error).
        let r = redact_key_shapes("baseUrl http://admin:hunter2@10.0.0.1/v1 failed");
        assert!(!r.contains("hunter2") && r.contains("10.0.0.1"), "{r}");
    }

    /// A provider echoes the key across the 300-character cut: before, the cut came first
    /// and the 8-11 characters before it survived redaction.
    #[test]
    fn redaction_happens_before_the_cut_and_the_cut_masks_a_split_key() {
        let key = "zz-HRDcanaryEnvVar-3k5m7p9r1t";
        let s = Secret::new(key);
        for pad in 280..300 {
            let text = format!("{} You sent {key}. Fix it.", "a".repeat(pad));
            let out = redact_cut(&text, &[&s], 300);
            assert!(
                !out.contains("zz-H") && !out.contains("HRD"),
                "pad {pad}: {out}"
            );
            assert!(out.chars().count() <= 301 + "[REDACTED]".len(), "{out}");
        }
        // A key clawprobe does not know, split by the cut: masked by shape.
        let other = "sk-proj-Unknown1234567890abcdef";
        let text = format!("{} {other}", "b".repeat(290));
        let out = redact_cut(&text, &[], 300);
        assert!(!out.contains("Unknown"), "{out}");
        // Before redaction, the cut would have left `sk-pro`; split by the cut with no
        // prefix rule to catch it, the run is masked by shape.
        let text = format!("{} tok_9f8e7d6c5b4a39281706", "b".repeat(290));
        let out = redact_cut(&text, &[], 300);
        assert!(
            !out.contains("tok_9") && out.ends_with("[REDACTED]…"),
            "{out}"
        );
        let text = format!("{}Zq7Xw2Lm9Pk4Rt", "c ".repeat(147));
        let out = redact_cut(&text, &[], 300);
        assert!(out.ends_with("[REDACTED]…"), "{out}");
        // A plain word split by the cut stays.
        let text = format!("{} authentication failed", "d".repeat(290));
        let out = redact_cut(&text, &[], 300);
        assert!(out.ends_with("authentic…"), "{out}");
        // Short text is not cut.
        assert_eq!(redact_cut("  short  ", &[&s], 300), "short");
    }

    #[test]
    fn echoed_heads_of_a_secret_are_masked() {
        let s = Secret::new("zz-custom-secret-value-987");
        let r = redact("key zz-custom**** rejected; zz-cus… too", &[&s]);
        assert!(!r.contains("zz-custom") && !r.contains("zz-cus"), "{r}");
        // Runs shorter than 6, or not heads of the secret, stay.
        assert_eq!(redact("zz-c value", &[&s]), "zz-c value");
    }
}
