//! Where in a cycle each probe starts, and which model stands in for a credential.

use crate::plan::{CredentialKey, ProbePlan, TargetId};
use crate::probe::cost::probe_tokens;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

/// A stable fraction in `[0, 1)` from `key` and `salt`: the same target lands at the same
/// point of every cycle (steady per-target intervals), different targets spread evenly.
pub fn jitter_fraction(key: &str, salt: &str) -> f64 {
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update([0u8])
        .chain_update(key.as_bytes())
        .finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    // 53 random bits → exact f64 in [0, 1).
    (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// The start offset of `key`'s probe within a cycle of `interval`, spread over
/// `interval * spread_fraction`.
pub fn offset(key: &str, salt: &str, interval: Duration, spread_fraction: f64) -> Duration {
    offset_at(jitter_fraction(key, salt), interval, spread_fraction)
}

/// [`offset`] from a precomputed [`jitter_fraction`].
pub fn offset_at(fraction: f64, interval: Duration, spread_fraction: f64) -> Duration {
    let window = interval.as_secs_f64() * spread_fraction.clamp(0.0, 1.0);
    Duration::from_secs_f64(window * fraction.clamp(0.0, 1.0))
}

/// Words in a model name that suggest a cheap model, cheapest first.
const CHEAP_HINTS: &[&str] = &["nano", "lite", "mini", "haiku", "flash", "small", "tiny"];

fn cheapness(model: &str) -> usize {
    let m = model.to_ascii_lowercase();
    CHEAP_HINTS
        .iter()
        .position(|h| m.contains(h))
        .unwrap_or(CHEAP_HINTS.len())
}

/// For each credential (by `credential_key`), the probeable target whose probe costs the
/// fewest tokens by API style ([`probe_tokens`]: a chat-completions model at ~9 tokens
/// before an `openai-responses` one at ~24, as the budget counts tokens), then whose model
/// name looks cheapest (`nano` < `lite` < `mini` < `haiku` < `flash` < `small` < `tiny` <
/// anything else), ties to the lowest target id. Deterministic, so the same model is used
/// every cycle.
pub fn cheapest_per_credential(plan: &ProbePlan) -> Vec<TargetId> {
    let mut best: BTreeMap<&CredentialKey, (u64, usize, TargetId)> = BTreeMap::new();
    for t in plan.targets.iter().filter(|t| t.api.is_probeable()) {
        let cand = (probe_tokens(&t.api), cheapness(&t.model), t.id);
        best.entry(plan.credential_key(t.id))
            .and_modify(|b| *b = (*b).min(cand))
            .or_insert(cand);
    }
    let mut ids: Vec<TargetId> = best.into_values().map(|(_, _, id)| id).collect();
    ids.sort_unstable();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ApiStyle, Credential, CredentialSource, Target};
    use crate::secret::Secret;

    fn target(provider: &str, model: &str, key: &str) -> Target {
        let base = format!("http://127.0.0.1:1/{provider}");
        let source = CredentialSource::Env { var: "K".into() };
        Target::new(provider, model, base, ApiStyle::OpenAiCompletions)
            .with_credential(Credential::api_key(source, Secret::new(key)))
    }

    #[test]
    fn jitter_is_stable_spread_and_bounded() {
        assert_eq!(jitter_fraction("a", "m"), jitter_fraction("a", "m"));
        assert_ne!(jitter_fraction("a", "m"), jitter_fraction("b", "m"));
        let n = 1000;
        let mut buckets = [0usize; 10];
        for i in 0..n {
            let f = jitter_fraction(&format!("target-{i}"), "metadata");
            assert!((0.0..1.0).contains(&f));
            buckets[(f * 10.0) as usize] += 1;
        }
        // Roughly uniform: every tenth of the window gets 60..140 of 1000.
        assert!(
            buckets.iter().all(|&b| (60..140).contains(&b)),
            "{buckets:?}"
        );
        let o = offset("x", "m", Duration::from_secs(300), 0.8);
        assert!(o < Duration::from_secs(240));
    }

    #[test]
    fn cheapest_model_per_credential() {
        let mut plan = ProbePlan::default();
        plan.intern_target(target("openai", "gpt-5", "k1"));
        plan.intern_target(target("openai", "gpt-5-mini", "k1"));
        plan.intern_target(target("openai", "gpt-5-nano", "k1"));
        plan.intern_target(target("openai", "gpt-4o", "k2"));
        plan.intern_target(target("openai", "gpt-4.1", "k2"));
        let mut other = target("bedrock", "claude-haiku", "k3");
        other.api = ApiStyle::Other("bedrock-converse-stream".into());
        plan.intern_target(other);
        let ids = cheapest_per_credential(&plan);
        let models: Vec<&str> = ids
            .iter()
            .map(|&i| plan.targets[i].model.as_str())
            .collect();
        assert_eq!(models, ["gpt-5-nano", "gpt-4o"]);
    }

    #[test]
    fn cheapest_api_style_wins_before_the_model_name() {
        let style = |model: &str, key: &str, api: ApiStyle| {
            let mut t = target("openai", model, key);
            t.api = api;
            t
        };
        let mut plan = ProbePlan::default();
        // k1: the nano model is on the Responses API (24 tokens), gpt-4.1 on chat (9).
        plan.intern_target(style("gpt-5-nano", "k1", ApiStyle::OpenAiResponses));
        plan.intern_target(style("gpt-4.1", "k1", ApiStyle::OpenAiCompletions));
        plan.intern_target(style("gpt-4.1-mini", "k1", ApiStyle::OpenAiCompletions));
        // k2: only Responses models: the name tie-break still applies.
        plan.intern_target(style("gpt-5", "k2", ApiStyle::OpenAiResponses));
        plan.intern_target(style("gpt-5-mini", "k2", ApiStyle::OpenAiResponses));
        let models: Vec<&str> = cheapest_per_credential(&plan)
            .iter()
            .map(|&i| plan.targets[i].model.as_str())
            .collect();
        assert_eq!(models, ["gpt-4.1-mini", "gpt-5-mini"]);
    }
}
