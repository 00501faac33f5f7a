//! Parsing of OpenClaw's store JSON (profiles) and state JSON (order, lastGood, usageStats).
//!
//! The same shapes appear in every era (legacy JSON files, per-agent SQLite rows, the shared
//! state-db row), so one parser serves all. Parsing is lenient field by field: an odd field
//! is skipped, not fatal, because OpenClaw itself tolerates unknown fields and clawprobe
//! should keep monitoring what it can read.

use crate::credential::CredentialKind;
use crate::openclaw::secretref::SecretRef;
use crate::secret::Secret;
use serde_json::Value;

/// One stored profile. `Debug` is safe: [`Secret`] redacts and refs hold no secret.
#[derive(Clone, Debug)]
pub(crate) struct StoredProfile {
    pub id: String,
    pub provider: String,
    /// `None` for types clawprobe cannot use (`aws-sdk`, unknown).
    pub kind: Option<CredentialKind>,
    /// `key`/`apiKey` (api_key), `token` (token) or `access` (oauth).
    pub secret: Option<Secret>,
    /// `keyRef` / `tokenRef` (or `oauthRef`).
    pub secret_ref: Option<SecretRef>,
    /// OAuth refresh token present (OpenClaw would refresh an expired access token).
    pub has_refresh: bool,
    /// Raw `expires` as a number (ms since epoch), when present.
    pub expires_ms: Option<i64>,
    /// `expires` present but not a usable timestamp (OpenClaw: `invalid_expires`).
    pub expires_invalid: bool,
    /// Label of the store file the profile came from.
    pub store: String,
}

/// `usageStats.<profileId>`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct UsageStats {
    pub last_used: Option<i64>,
    pub cooldown_until: Option<i64>,
    pub cooldown_reason: Option<String>,
    pub cooldown_model: Option<String>,
    pub disabled_until: Option<i64>,
    pub disabled_reason: Option<String>,
    pub blocked_until: Option<i64>,
    pub error_count: Option<u64>,
    pub failure_counts: Vec<(String, u64)>,
    pub last_failure_at: Option<i64>,
}

impl UsageStats {
    /// OpenClaw's `resolveProfileUnusableUntil`: the latest of cooldown/disabled/blocked.
    pub fn unusable_until(&self) -> Option<i64> {
        [self.cooldown_until, self.disabled_until, self.blocked_until]
            .into_iter()
            .flatten()
            .filter(|v| *v > 0)
            .max()
    }

    pub fn in_cooldown(&self, now_ms: i64) -> bool {
        self.unusable_until().is_some_and(|u| now_ms < u)
    }
}

/// A store and/or state document, as read from one place. Lists keep file order.
#[derive(Clone, Debug, Default)]
pub(crate) struct StoreDoc {
    pub profiles: Vec<StoredProfile>,
    pub order: Option<Vec<(String, Vec<String>)>>,
    pub last_good: Vec<(String, String)>,
    pub usage: Vec<(String, UsageStats)>,
}

/// Parses JSON text without ever echoing its content (serde messages can quote values).
pub(crate) fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| {
        format!(
            "invalid JSON at line {} column {} (fix or remove the file; OpenClaw rewrites it on the next login)",
            e.line(),
            e.column()
        )
    })
}

/// A JSON number (or numeric string) as i64 ms. Floats are truncated.
pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|u| u.min(i64::MAX as u64) as i64))
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    as_i64(v).and_then(|i| u64::try_from(i).ok())
}

fn str_field(map: &serde_json::Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .filter_map(|k| map.get(*k))
        .filter_map(|v| v.as_str())
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
        .map(|s| s.to_string())
}

fn parse_kind(t: &str) -> Option<CredentialKind> {
    match t.trim().to_ascii_lowercase().replace('-', "_").as_str() {
        "api_key" | "apikey" => Some(CredentialKind::ApiKey),
        "token" => Some(CredentialKind::Token),
        "oauth" => Some(CredentialKind::Oauth),
        _ => None,
    }
}

fn parse_profile(id: &str, v: &Value, store: &str) -> Option<StoredProfile> {
    let map = v.as_object()?;
    let kind_raw = str_field(map, &["type", "mode"]);
    let kind = kind_raw.as_deref().and_then(parse_kind);
    let provider = str_field(map, &["provider"])
        .unwrap_or_else(|| id.split(':').next().unwrap_or(id).to_string());
    let secret_keys: &[&str] = match kind {
        Some(CredentialKind::ApiKey) => &["key", "apiKey"],
        Some(CredentialKind::Token) => &["token"],
        Some(CredentialKind::Oauth) => &["access"],
        None => &[],
    };
    let secret = str_field(map, secret_keys).map(Secret::new);
    let ref_keys: &[&str] = match kind {
        Some(CredentialKind::ApiKey) => &["keyRef", "apiKeyRef"],
        Some(CredentialKind::Token) => &["tokenRef"],
        Some(CredentialKind::Oauth) => &["accessRef", "oauthRef"],
        None => &[],
    };
    let secret_ref = ref_keys
        .iter()
        .filter_map(|k| map.get(*k))
        .find_map(SecretRef::parse);
    let (expires_ms, expires_invalid) = match map.get("expires") {
        None | Some(Value::Null) => (None, false),
        Some(e) => match as_i64(e) {
            // OpenClaw: non-positive or beyond year ~275760 is `invalid_expires`.
            Some(ms) if ms > 0 && ms <= 8_640_000_000_000_000 => (Some(ms), false),
            other => (other, true),
        },
    };
    Some(StoredProfile {
        id: id.to_string(),
        provider,
        kind,
        secret,
        secret_ref,
        has_refresh: str_field(map, &["refresh"]).is_some(),
        expires_ms,
        expires_invalid,
        store: store.to_string(),
    })
}

fn parse_usage(v: &Value) -> UsageStats {
    let Some(m) = v.as_object() else {
        return UsageStats::default();
    };
    let num = |k: &str| m.get(k).and_then(as_i64);
    let s = |k: &str| str_field(m, &[k]);
    let failure_counts = m
        .get("failureCounts")
        .and_then(|f| f.as_object())
        .map(|f| {
            f.iter()
                .filter_map(|(reason, n)| as_u64(n).map(|n| (reason.clone(), n)))
                .collect()
        })
        .unwrap_or_default();
    UsageStats {
        last_used: num("lastUsed"),
        cooldown_until: num("cooldownUntil"),
        cooldown_reason: s("cooldownReason"),
        cooldown_model: s("cooldownModel"),
        disabled_until: num("disabledUntil"),
        disabled_reason: s("disabledReason"),
        blocked_until: num("blockedUntil"),
        error_count: m.get("errorCount").and_then(as_u64),
        failure_counts,
        last_failure_at: num("lastFailureAt"),
    }
}

/// Parses the profiles part (`{version, profiles}`) of a store document. Early releases
/// also kept `order`/`usageStats` in the same file; those are parsed too.
pub(crate) fn parse_doc(v: &Value, store_label: &str) -> StoreDoc {
    let mut doc = parse_state(v);
    if let Some(profiles) = v.get("profiles").and_then(|p| p.as_object()) {
        doc.profiles = profiles
            .iter()
            .filter_map(|(id, p)| parse_profile(id, p, store_label))
            .collect();
    }
    doc
}

/// Parses a state document (`{version, order, lastGood, usageStats}`).
pub(crate) fn parse_state(v: &Value) -> StoreDoc {
    let order = v.get("order").and_then(|o| o.as_object()).map(|o| {
        o.iter()
            .filter_map(|(provider, ids)| {
                let ids: Vec<String> = ids
                    .as_array()?
                    .iter()
                    .filter_map(|i| i.as_str())
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                Some((provider.clone(), ids))
            })
            .collect()
    });
    let last_good = v
        .get("lastGood")
        .and_then(|o| o.as_object())
        .map(|o| {
            o.iter()
                .filter_map(|(p, id)| id.as_str().map(|id| (p.clone(), id.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let usage = v
        .get("usageStats")
        .and_then(|o| o.as_object())
        .map(|o| {
            o.iter()
                .map(|(id, s)| (id.clone(), parse_usage(s)))
                .collect()
        })
        .unwrap_or_default();
    StoreDoc {
        profiles: Vec::new(),
        order,
        last_good,
        usage,
    }
}

/// Adds `state` (order, lastGood, usageStats) onto `doc`, state winning per key.
pub(crate) fn overlay_state(doc: &mut StoreDoc, state: StoreDoc) {
    if state.order.is_some() {
        doc.order = state.order;
    }
    for (p, id) in state.last_good {
        doc.last_good.retain(|(q, _)| *q != p);
        doc.last_good.push((p, id));
    }
    for (id, s) in state.usage {
        doc.usage.retain(|(q, _)| *q != id);
        doc.usage.push((id, s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_profile_shape() {
        let v = json!({"version":1,"profiles":{
            "openai:manual":{"type":"api_key","provider":"openai","key":"sk-a"},
            "openai:old":{"mode":"api_key","apiKey":"sk-b"},
            "anthropic:tok":{"type":"token","provider":"anthropic","token":"t","expires": 1_900_000_000_000_i64},
            "google:me@x":{"type":"oauth","provider":"google","access":"a","refresh":"r","expires":1.5e12,"email":"me@x"},
            "openai:ref":{"type":"api_key","provider":"openai","keyRef":{"source":"env","provider":"default","id":"K"}},
            "aws:sdk":{"type":"aws-sdk","provider":"amazon-bedrock"}
        }});
        let d = parse_doc(&v, "x");
        assert_eq!(d.profiles.len(), 6);
        let p = |id: &str| d.profiles.iter().find(|p| p.id == id).unwrap();
        assert_eq!(p("openai:old").provider, "openai");
        assert_eq!(p("openai:old").secret.as_ref().unwrap().expose(), "sk-b");
        assert_eq!(p("anthropic:tok").kind, Some(CredentialKind::Token));
        assert_eq!(p("anthropic:tok").expires_ms, Some(1_900_000_000_000));
        assert_eq!(p("google:me@x").expires_ms, Some(1_500_000_000_000));
        assert!(p("google:me@x").has_refresh);
        assert_eq!(p("openai:ref").secret_ref.as_ref().unwrap().id, "K");
        assert_eq!(p("aws:sdk").kind, None);
    }

    #[test]
    fn parses_state_with_big_numbers() {
        let v = json!({"version":1,"order":{"openai":["a","b"]},"lastGood":{"openai":"a"},
          "usageStats":{"a":{"lastUsed": 1_764_000_000_123_i64,"cooldownUntil": 9_007_199_254_740_993_i64,
          "errorCount":3,"failureCounts":{"rate_limit":2,"auth":1}}}});
        let d = parse_state(&v);
        assert_eq!(d.order.as_ref().unwrap()[0].1, vec!["a", "b"]);
        let s = &d.usage[0].1;
        assert_eq!(s.cooldown_until, Some(9_007_199_254_740_993));
        assert_eq!(
            s.failure_counts,
            vec![("rate_limit".into(), 2), ("auth".into(), 1)]
        );
        assert_eq!(s.error_count, Some(3));
    }

    #[test]
    fn json_errors_do_not_quote_content() {
        let e = parse_json(r#"{"key": "sk-canary-ERR-1" "#).unwrap_err();
        assert!(!e.contains("canary"), "{e}");
    }
}
