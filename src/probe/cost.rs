//! What one generation probe costs, by API style: the probers' cost model.
//!
//! It lives with the probers because they decide it: every prober sends [`super::PROMPT`]
//! and asks for [`super::Prober::output_tokens`] tokens back. The budget reserves by it
//! before a probe reports its usage, and the credential tier picks the credential's
//! cheapest style by it.

use super::prober_for;
use crate::plan::ApiStyle;

/// Input tokens providers report for the probe prompt ([`super::PROMPT`], one short user
/// message, no system prompt): OpenAI and Anthropic report 8 for `hi`. Others report fewer
/// (Google 2) or a few more (Ollama's templates ~11); the reported usage corrects the
/// estimate after the first probe of a target.
pub const PROMPT_TOKENS: u64 = 8;

/// The output cap the generation probe of `api` asks for: 1 token, except the OpenAI
/// Responses API, whose minimum `max_output_tokens` is 16. Each prober says its own
/// ([`super::Prober::output_tokens`]); a test reads it back from their request bodies.
pub fn output_tokens(api: &ApiStyle) -> u64 {
    prober_for(api).map_or(1, |p| p.output_tokens())
}

/// Tokens one generation probe of `api` is expected to cost before it reports usage:
/// prompt plus output cap (9 on chat styles, 24 on `openai-responses`).
pub fn probe_tokens(api: &ApiStyle) -> u64 {
    PROMPT_TOKENS + output_tokens(api)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CHEAPEST_PROBE_TOKENS;

    /// The estimate's output cap is what the probers really ask for: read it back from
    /// each style's generation request body.
    #[test]
    fn output_tokens_match_the_probers_requests() {
        use crate::plan::Target;
        use crate::probe::{prober_for, RequestKind};
        let styles = [
            ApiStyle::OpenAiCompletions,
            ApiStyle::OpenAiResponses,
            ApiStyle::AnthropicMessages,
            ApiStyle::GoogleGenerativeAi,
            ApiStyle::Ollama,
        ];
        for api in styles {
            let t = Target {
                id: 0,
                provider: "p".into(),
                model: "m".into(),
                base_url: "http://127.0.0.1:1/v1".into(),
                api: api.clone(),
                credential: None,
                headers: vec![],
            };
            let req = prober_for(&api)
                .expect("probeable")
                .request(&t, RequestKind::Generation);
            let body = req.body.expect("generation has a body");
            let asked = [
                &body["max_tokens"],
                &body["max_output_tokens"],
                &body["generationConfig"]["maxOutputTokens"],
                &body["options"]["num_predict"],
            ]
            .into_iter()
            .find_map(|v| v.as_u64())
            .unwrap_or_else(|| panic!("{api}: no output cap in {body}"));
            assert_eq!(output_tokens(&api), asked, "{api}");
            assert_eq!(probe_tokens(&api), PROMPT_TOKENS + asked);
            assert!(probe_tokens(&api) >= CHEAPEST_PROBE_TOKENS);
        }
        assert_eq!(probe_tokens(&ApiStyle::OpenAiResponses), 24);
        // The config refuses finer caps below the cheapest probe: the same figure.
        assert_eq!(
            styles_cheapest(),
            CHEAPEST_PROBE_TOKENS,
            "config::CHEAPEST_PROBE_TOKENS"
        );
    }

    fn styles_cheapest() -> u64 {
        [
            ApiStyle::OpenAiCompletions,
            ApiStyle::OpenAiResponses,
            ApiStyle::AnthropicMessages,
            ApiStyle::GoogleGenerativeAi,
            ApiStyle::Ollama,
        ]
        .iter()
        .map(probe_tokens)
        .min()
        .unwrap_or(0)
    }
}
