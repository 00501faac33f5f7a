//! The API style of a model provider (`models.providers.<id>.api` in OpenClaw): which wire
//! protocol its requests speak. Discovery reads it, the plan carries it, the probers pick
//! their request shape by it. A leaf module so discovery needs nothing from the plan.

use serde::Serialize;

/// The API style of a provider, as OpenClaw names it in `models.providers.<id>.api`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub enum ApiStyle {
    OpenAiCompletions,
    OpenAiResponses,
    AnthropicMessages,
    GoogleGenerativeAi,
    Ollama,
    /// Any other style (`bedrock-converse-stream`, `github-copilot`, …): not probeable.
    Other(String),
}

impl ApiStyle {
    pub fn parse(s: &str) -> ApiStyle {
        match s.trim() {
            "openai-completions" | "openai" | "openai-chat" => ApiStyle::OpenAiCompletions,
            "openai-responses" => ApiStyle::OpenAiResponses,
            "anthropic-messages" | "anthropic" => ApiStyle::AnthropicMessages,
            "google-generative-ai" | "google" | "gemini" => ApiStyle::GoogleGenerativeAi,
            "ollama" => ApiStyle::Ollama,
            other => ApiStyle::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ApiStyle::OpenAiCompletions => "openai-completions",
            ApiStyle::OpenAiResponses => "openai-responses",
            ApiStyle::AnthropicMessages => "anthropic-messages",
            ApiStyle::GoogleGenerativeAi => "google-generative-ai",
            ApiStyle::Ollama => "ollama",
            ApiStyle::Other(s) => s,
        }
    }

    /// Whether clawprobe has a prober for this style.
    pub fn is_probeable(&self) -> bool {
        !matches!(self, ApiStyle::Other(_))
    }
}

impl From<ApiStyle> for String {
    fn from(a: ApiStyle) -> String {
        a.as_str().to_string()
    }
}

impl std::fmt::Display for ApiStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
