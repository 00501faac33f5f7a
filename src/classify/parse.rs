//! Reading provider error bodies into a few normalised fields.
//!
//! Providers disagree on where the interesting words live: OpenAI-style bodies put them in
//! `error.code` / `error.type` / `error.message`, Anthropic in `error.type`, Gemini in
//! `error.status` and `error.details[].reason`, xAI in a top-level `error` string, Mistral
//! in a top-level `type` / `message` or `detail`, Ollama in an `error` string. This module
//! flattens all of them into [`ErrorBody`] so the rules can stay short. Everything is
//! lowercased once here, so rules compare against lowercase literals.

use serde_json::Value;

/// How many bytes of a non-JSON body are looked at for text rules. Error pages put their
/// message near the top; scanning megabytes of HTML would only cost time.
const TEXT_SCAN_LIMIT: usize = 4096;

/// The maximum length (in characters) of a message returned by [`error_message`].
pub const MESSAGE_MAX_CHARS: usize = 200;

/// Normalised view of an error body. All strings are lowercase.
#[derive(Debug, Default)]
pub(crate) struct ErrorBody {
    /// The body parsed as JSON.
    pub json: bool,
    /// The body (or its content type) says it is an HTML page, e.g. a proxy error page.
    pub html: bool,
    /// `error.code` (string or number), or a top-level `code`.
    pub code: String,
    /// `error.type`, Gemini's `error.status`, or a top-level `type`.
    pub etype: String,
    /// Gemini `error.details[].reason`, Anthropic `error.details.error_code`.
    pub reasons: Vec<String>,
    /// The provider's message (see [`extract_message`]).
    pub message: String,
    /// Everything text rules may look at: message, code, type, reasons, OpenRouter's
    /// `metadata.raw`, or the start of a non-JSON body.
    pub text: String,
}

impl ErrorBody {
    /// True if the text rules' haystack contains any of `needles` (lowercase).
    pub fn has_any(&self, needles: &[&str]) -> bool {
        needles.iter().any(|n| self.text.contains(n))
    }

    /// True if `code`, `etype` or one of `reasons` equals `word` (lowercase).
    pub fn is(&self, word: &str) -> bool {
        self.code == word || self.etype == word || self.reasons.iter().any(|r| r == word)
    }
}

/// Parses `body` (with `content_type`, if any) into an [`ErrorBody`]. Never fails: garbage
/// gives an empty view with the start of the body as `text`.
pub(crate) fn parse(body: &[u8], content_type: Option<&str>) -> ErrorBody {
    let mut out = ErrorBody::default();
    let ct_html = content_type
        .map(|c| c.to_ascii_lowercase().contains("text/html"))
        .unwrap_or(false);

    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        // Some Google front ends answer with a one-element array of error objects.
        let v = match v {
            Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
            other => other,
        };
        if v.is_object() {
            out.json = true;
            fill_from_json(&v, &mut out);
            return out;
        }
    }

    let head = &body[..body.len().min(TEXT_SCAN_LIMIT)];
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start();
    out.html = ct_html || trimmed.starts_with('<');
    out.text = trimmed.to_lowercase();
    if !out.html {
        out.message = out.text.trim().to_string();
    }
    out
}

fn lower_str(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.to_lowercase(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn fill_from_json(v: &Value, out: &mut ErrorBody) {
    let err = v.get("error");
    let err_obj = err.filter(|e| e.is_object());

    if let Some(e) = err_obj {
        out.code = lower_str(e.get("code"));
        out.etype = lower_str(e.get("type"));
        if out.etype.is_empty() {
            // Gemini: {"error":{"code":429,"status":"RESOURCE_EXHAUSTED",...}}
            out.etype = lower_str(e.get("status"));
        }
        match e.get("details") {
            Some(Value::Array(items)) => {
                for d in items {
                    let r = lower_str(d.get("reason"));
                    if !r.is_empty() {
                        out.reasons.push(r);
                    }
                }
            }
            Some(d @ Value::Object(_)) => {
                let r = lower_str(d.get("error_code"));
                if !r.is_empty() {
                    out.reasons.push(r);
                }
            }
            _ => {}
        }
    }
    if out.code.is_empty() {
        // xAI puts a sentence here; DeepSeek/OpenRouter sometimes a number.
        out.code = lower_str(v.get("code"));
    }
    if out.etype.is_empty() {
        // Mistral: {"object":"error","message":"Invalid model: x","type":"invalid_model"}
        out.etype = lower_str(v.get("type"));
        if out.etype == "error" {
            // Anthropic's top-level "type":"error" says nothing.
            out.etype.clear();
        }
    }

    out.message = extract_message(v).unwrap_or_default().to_lowercase();

    let mut text = out.message.clone();
    for part in [&out.code, &out.etype] {
        text.push(' ');
        text.push_str(part);
    }
    for r in &out.reasons {
        text.push(' ');
        text.push_str(r);
    }
    // OpenRouter wraps upstream errors: error.metadata.raw holds the provider's own body.
    if let Some(raw) = err_obj
        .and_then(|e| e.get("metadata"))
        .and_then(|m| m.get("raw"))
    {
        let raw = match raw {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text.push(' ');
        let end = floor_char_boundary(&raw, TEXT_SCAN_LIMIT);
        text.push_str(&raw[..end].to_lowercase());
    }
    out.text = text;
}

/// The provider's human message from a parsed JSON body: `error.message`, `error` (a string),
/// `message`, `detail` (a string, or FastAPI's `[{"msg": …}]`), in that order.
fn extract_message(v: &Value) -> Option<String> {
    let pick = |x: Option<&Value>| match x {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    };
    if let Some(e) = v.get("error") {
        if let Some(m) = pick(e.get("message")) {
            return Some(m);
        }
        if let Some(m) = pick(Some(e)) {
            return Some(m);
        }
    }
    if let Some(m) = pick(v.get("message")) {
        return Some(m);
    }
    match v.get("detail") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(Value::Array(items)) => items.iter().find_map(|i| pick(i.get("msg"))),
        _ => None,
    }
}

/// The largest index `<= max` that is a char boundary of `s`.
fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// See [`super::error_message`].
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    error_message_within(body, MESSAGE_MAX_CHARS)
}

/// See [`super::error_message_within`].
pub(crate) fn error_message_within(body: &[u8], max_chars: usize) -> Option<String> {
    let raw = match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let v = match v {
                Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
                other => other,
            };
            extract_message(&v)?
        }
        Err(_) => {
            let head = &body[..body.len().min(TEXT_SCAN_LIMIT)];
            let text = String::from_utf8_lossy(head);
            let t = text.trim();
            if t.is_empty() {
                return None;
            }
            if t.starts_with('<') {
                html_title(t)?
            } else {
                t.to_string()
            }
        }
    };
    let clean = tidy(&raw, max_chars);
    if clean.is_empty() {
        None
    } else {
        Some(clean)
    }
}

/// `<title>…</title>` of an HTML page, which for proxy error pages is the useful part
/// ("502 Bad Gateway").
fn html_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    Some(html[open_end..close].to_string())
}

/// Collapses whitespace and control characters, masks things that look like API keys, and
/// truncates to `max` characters.
fn tidy(s: &str, max: usize) -> String {
    let mut words: Vec<String> = Vec::new();
    for w in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if w.is_empty() {
            continue;
        }
        words.push(if looks_like_key(w) {
            "[redacted]".to_string()
        } else {
            w.to_string()
        });
    }
    let joined = words.join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut out: String = joined.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Providers echo (partly masked) keys back: "Incorrect API key provided: sk-abc***xyz".
/// Callers redact too, but masking here means a raw key never leaves this module.
fn looks_like_key(word: &str) -> bool {
    let w = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
    const PREFIXES: [&str; 6] = ["sk-", "gsk_", "aiza", "xai-", "sess-", "pk-"];
    let lower = w.to_ascii_lowercase();
    PREFIXES.iter().any(|p| lower.starts_with(p)) && w.len() >= 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_locations() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"error":{"message":"m1","type":"t"}}"#, Some("m1")),
            (r#"{"error":"m2"}"#, Some("m2")),
            (r#"{"message":"m3"}"#, Some("m3")),
            (r#"{"detail":"Unauthorized"}"#, Some("Unauthorized")),
            (
                r#"{"detail":[{"type":"extra_forbidden","msg":"Extra inputs are not permitted"}]}"#,
                Some("Extra inputs are not permitted"),
            ),
            (r#"[{"error":{"code":429,"message":"m4"}}]"#, Some("m4")),
            (r#"{"error":{"code":1}}"#, None),
            ("", None),
            ("   ", None),
            ("upstream connect error", Some("upstream connect error")),
            (
                "<html><head><title>502 Bad Gateway</title></head></html>",
                Some("502 Bad Gateway"),
            ),
            ("<html><body>no title</body></html>", None),
        ];
        for (body, want) in cases {
            assert_eq!(
                error_message(body.as_bytes()).as_deref(),
                *want,
                "body {body:?}"
            );
        }
    }

    #[test]
    fn message_is_truncated_on_char_boundary() {
        let long = format!(r#"{{"error":{{"message":"{}"}}}}"#, "é".repeat(500));
        let m = error_message(long.as_bytes()).unwrap();
        assert_eq!(m.chars().count(), MESSAGE_MAX_CHARS);
        assert!(m.ends_with('…'));
    }

    #[test]
    fn message_masks_echoed_keys_and_collapses_whitespace() {
        let body = r#"{"error":{"message":"Incorrect API key provided: sk-PMafP****E873.\n You can find your API key at https://platform.openai.com/account/api-keys."}}"#;
        let m = error_message(body.as_bytes()).unwrap();
        assert!(!m.contains("PMafP"), "{m}");
        assert!(m.contains("[redacted]"), "{m}");
        assert!(!m.contains('\n'));
        assert!(m.starts_with("Incorrect API key provided: [redacted] You can find"));
    }

    #[test]
    fn parse_fields() {
        let b = parse(
            br#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#,
            None,
        );
        assert!(b.json);
        assert_eq!(b.code, "400");
        assert_eq!(b.etype, "invalid_argument");
        assert_eq!(b.reasons, vec!["api_key_invalid".to_string()]);
        assert!(b.is("api_key_invalid"));
        assert!(b.has_any(&["api key not valid"]));

        let h = parse(b"<!DOCTYPE html><title>x</title>", None);
        assert!(h.html && !h.json);
        let h2 = parse(b"Bad gateway", Some("text/html; charset=utf-8"));
        assert!(h2.html);
        let t = parse(b"Bad gateway", Some("text/plain"));
        assert!(!t.html);
        assert_eq!(t.message, "bad gateway");
    }
}
