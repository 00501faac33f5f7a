//! Probers: one per API style behind one signature, as blackbox_exporter has one prober per
//! protocol. OWNER: probe helper.
//!
//! A probe is split in three so most of it is pure and unit-testable:
//! 1. [`steps`] decides which requests a (target, tier) needs ([`RequestKind`]s): a model
//!    lookup, an account lookup (OpenRouter `/key`), a model list, or one generation call.
//! 2. The style's [`Prober::request`] turns each step into a plain [`RequestSpec`] (method,
//!    URL, headers including auth, JSON body). No I/O.
//! 3. [`http::HttpExecutor`] sends it, and for a 2xx the style's [`Prober::interpret`] reads
//!    the body into an [`Interpretation`] (ok / bad_response / …, usage). Non-2xx answers
//!    and transport errors go to [`crate::classify::classify`].

use crate::class::Class;
use crate::plan::{ApiStyle, Target, TargetId};
use crate::ratelimit::RateLimitInfo;
use crate::secret::Secret;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// Which kind of request a probe sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Zero tokens: model and account endpoints.
    Metadata,
    /// The cheapest real generation call.
    Generation,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Metadata => "metadata",
            Tier::Generation => "generation",
        }
    }
}

/// Tokens a response reported using.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// The outcome of one probe of one target.
#[derive(Clone, Debug)]
pub struct ProbeResult {
    pub target: TargetId,
    /// The tier actually used (a metadata probe on a provider without a metadata endpoint
    /// falls back to generation and says so in `reason`/`message`).
    pub tier: Tier,
    pub class: Class,
    pub reason: String,
    pub http_status: Option<u16>,
    pub latency: Duration,
    pub rate_limits: RateLimitInfo,
    pub usage: Option<Usage>,
    /// When the probe finished.
    pub at: SystemTime,
    /// Short, redacted human message (provider error message), if any.
    pub message: Option<String>,
}

impl ProbeResult {
    /// A result of `class` for `target`, finished now, with nothing else known (no status,
    /// no latency, no rate limits, no usage, no message). Set the rest with struct update
    /// syntax: `ProbeResult { http_status: Some(401), ..ProbeResult::new(…) }`.
    pub fn new(
        target: TargetId,
        tier: Tier,
        class: Class,
        reason: impl Into<String>,
    ) -> ProbeResult {
        ProbeResult {
            target,
            tier,
            class,
            reason: reason.into(),
            http_status: None,
            latency: Duration::ZERO,
            rate_limits: RateLimitInfo::default(),
            usage: None,
            at: SystemTime::now(),
            message: None,
        }
    }

    /// Whether a probe that did not succeed may still have been billed: the provider
    /// answered 2xx (the body was bad, e.g. cut off or malformed, but the completion ran),
    /// or no answer came in time (the request may have reached the provider, which may have
    /// generated). The budget charges such a probe its style's estimate: charging it 0
    /// would let only the request caps bound a provider that keeps failing this way.
    pub fn may_have_billed(&self) -> bool {
        self.http_status.is_some_and(|s| (200..300).contains(&s)) || self.class == Class::Timeout
    }
}

/// Runs probes: the seam between the scheduler (and `clawprobe probe`) and the network.
/// The real implementation ([`http::HttpExecutor`]) sends HTTP requests; tests use fakes.
pub trait Executor: Send + Sync + 'static {
    fn execute<'a>(
        &'a self,
        target: &'a Target,
        tier: Tier,
    ) -> Pin<Box<dyn Future<Output = ProbeResult> + Send + 'a>>;

    /// `probe_timeout_seconds` changed (reload): probes started from now on use it.
    fn set_timeout(&self, _timeout: Duration) {}
}

pub mod anthropic;
pub mod cost;
pub mod google;
pub mod http;
pub mod ollama;
pub mod openai;
pub mod openrouter;
pub mod responses;

/// The prompt of every generation probe: one short user message, no system prompt, no tools,
/// so the probe costs a handful of input tokens.
pub const PROMPT: &str = "hi";

/// What one request of a probe asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// The model's own metadata (`GET models/{id}`, Ollama `/api/show`, OpenRouter
    /// `models/{id}/endpoints`): zero tokens, proves auth and that the model exists.
    Model,
    /// The model list (`GET models`), for OpenAI-compatible servers without a per-model
    /// endpoint (vLLM, DeepSeek): zero tokens, the model must be listed.
    ModelList,
    /// The account/key endpoint (OpenRouter `GET /key`): zero tokens, shows credit limits.
    Account,
    /// The cheapest real generation call.
    Generation,
}

impl RequestKind {
    pub fn tier(self) -> Tier {
        match self {
            RequestKind::Generation => Tier::Generation,
            _ => Tier::Metadata,
        }
    }
}

/// One HTTP request as plain data. Header values are [`Secret`]s because some carry the
/// credential; `Debug` therefore never prints a key.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestSpec {
    pub kind: RequestKind,
    pub method: ::http::Method,
    pub url: String,
    pub headers: Vec<(String, Secret)>,
    pub body: Option<serde_json::Value>,
}

impl RequestSpec {
    pub fn get(kind: RequestKind, url: String) -> RequestSpec {
        RequestSpec {
            kind,
            method: ::http::Method::GET,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn post(kind: RequestKind, url: String, body: serde_json::Value) -> RequestSpec {
        RequestSpec {
            kind,
            method: ::http::Method::POST,
            url,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    /// Adds a header unless one with the same name (case-insensitive) is already set, so
    /// provider `headers` from the config never replace the auth header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> RequestSpec {
        self.push_header(name, Secret::new(value.into()));
        self
    }

    fn push_header(&mut self, name: &str, value: Secret) {
        if self.header_value(name).is_none() {
            self.headers.push((name.to_ascii_lowercase(), value));
        }
    }

    /// The value of header `name` (case-insensitive). Exposes secrets: for request building
    /// and tests only.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.expose())
    }

    /// The URL path (after scheme and host), for tests and logs. Holds no secret: keys go
    /// in headers, never in the URL.
    pub fn path(&self) -> &str {
        let rest = self
            .url
            .split_once("://")
            .map(|(_, r)| r)
            .unwrap_or(&self.url);
        rest.find('/').map(|i| &rest[i..]).unwrap_or("/")
    }

    /// Adds `Authorization: Bearer <secret>` when the target has a credential.
    pub fn bearer(mut self, target: &Target) -> RequestSpec {
        if let Some(c) = &target.credential {
            self.push_header(
                "authorization",
                Secret::new(format!("Bearer {}", c.secret.expose())),
            );
        }
        self
    }

    /// Adds the provider's configured extra headers (`models.providers.<id>.headers`) and
    /// the common ones (`content-type` when there is a body, `accept`).
    pub fn finish(mut self, target: &Target) -> RequestSpec {
        for (n, v) in &target.headers {
            self.push_header(n, v.clone());
        }
        if self.body.is_some() {
            self.push_header("content-type", Secret::new("application/json"));
        }
        self.push_header("accept", Secret::new("application/json"));
        self
    }
}

/// What a 2xx body meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interpretation {
    /// `Ok` for a healthy answer (including one cut off at the token cap), `BadResponse`
    /// for an empty/malformed body, or a class the body itself proves (OpenRouter key limit
    /// exhausted → `Billing`, model missing from a list → `UnresolvedRef`).
    pub class: Class,
    pub reason: String,
    pub usage: Option<Usage>,
    /// Short human detail (why the body is malformed, a provider message). Redacted later.
    pub message: Option<String>,
}

impl Interpretation {
    pub fn ok(usage: Option<Usage>) -> Interpretation {
        Interpretation {
            class: Class::Ok,
            reason: "ok".into(),
            usage,
            message: None,
        }
    }

    pub fn bad(reason: &str, message: impl Into<String>) -> Interpretation {
        Interpretation {
            class: Class::BadResponse,
            reason: reason.into(),
            usage: None,
            message: Some(message.into()),
        }
    }

    pub fn is_bad_response(&self) -> bool {
        self.class == Class::BadResponse
    }
}

/// Parses a 2xx body as a JSON object, or says why it is a bad response.
pub(crate) fn json_object(
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, Interpretation> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Interpretation::bad(
            "empty_body",
            "2xx response with an empty body",
        ));
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => {
            // Some gateways answer 200 with an error object instead of an HTTP error.
            if let Some(e) = m.get("error").filter(|e| !e.is_null()) {
                let msg = e
                    .get("message")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
                    // Not cut to its display length here: the executor redacts it whole first.
                    .unwrap_or_else(|| truncate(&e.to_string(), 2048));
                return Err(Interpretation::bad("error_in_body", msg));
            }
            Ok(m)
        }
        Ok(_) => Err(Interpretation::bad(
            "malformed_body",
            "2xx response body is not a JSON object",
        )),
        Err(_) => Err(Interpretation::bad(
            "malformed_body",
            "2xx response body is not JSON",
        )),
    }
}

/// Reads a non-negative integer field, accepting floats some gateways send.
pub(crate) fn u64_field(v: Option<&serde_json::Value>) -> Option<u64> {
    let v = v?;
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

/// Usage from two fields of a JSON object, when at least one is present.
pub(crate) fn usage_from(
    obj: Option<&serde_json::Value>,
    input: &str,
    output: &[&str],
) -> Option<Usage> {
    let obj = obj?.as_object()?;
    let i = u64_field(obj.get(input));
    let outs: Vec<u64> = output
        .iter()
        .filter_map(|k| u64_field(obj.get(*k)))
        .collect();
    if i.is_none() && outs.is_empty() {
        return None;
    }
    Some(Usage {
        input_tokens: i.unwrap_or(0),
        output_tokens: outs.iter().sum(),
    })
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// Joins a base URL and a path with exactly one `/`.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Escapes the few characters that would change a URL's meaning in a model id (`?`, `#`,
/// `%`, spaces). `/` stays: ids like `meta-llama/Llama-3` and OpenRouter's `author/slug`
/// are path segments on purpose.
pub(crate) fn model_path(model: &str) -> String {
    let mut out = String::with_capacity(model.len());
    for c in model.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            ' ' => out.push_str("%20"),
            c => out.push(c),
        }
    }
    out
}

/// One prober per API style, behind one signature.
pub trait Prober: Sync {
    /// The zero-token requests that check this target, in order; empty when the provider
    /// has no usable metadata endpoint.
    fn metadata_kinds(&self, target: &Target) -> Vec<RequestKind>;
    /// Builds the request for one step. Pure.
    fn request(&self, target: &Target, kind: RequestKind) -> RequestSpec;
    /// Reads a 2xx body of one step. Pure.
    fn interpret(&self, target: &Target, kind: RequestKind, body: &[u8]) -> Interpretation;
    /// The output cap its generation request asks for (the cost model, [`cost`]).
    fn output_tokens(&self) -> u64 {
        1
    }
    /// What an answer says about rate limits and when to retry. The standard headers by
    /// default; a style whose provider says more in the body reads that too. Pure.
    fn rate_limits(
        &self,
        headers: &::http::HeaderMap,
        _body: &[u8],
        now: SystemTime,
    ) -> RateLimitInfo {
        crate::ratelimit::parse_headers(headers, now)
    }
}

/// The prober of an API style; `None` for styles clawprobe cannot probe.
pub fn prober_for(api: &ApiStyle) -> Option<&'static dyn Prober> {
    match api {
        ApiStyle::OpenAiCompletions => Some(&openai::OpenAiCompletions),
        ApiStyle::OpenAiResponses => Some(&responses::OpenAiResponses),
        ApiStyle::AnthropicMessages => Some(&anthropic::AnthropicMessages),
        ApiStyle::GoogleGenerativeAi => Some(&google::GoogleGenerativeAi),
        ApiStyle::Ollama => Some(&ollama::Ollama),
        ApiStyle::Other(_) => None,
    }
}

/// Whether a zero-token metadata probe exists for this target. Callers that must not spend
/// tokens (the metadata schedule, `probe --tier metadata`) check this first.
pub fn has_metadata_endpoint(target: &Target) -> bool {
    prober_for(&target.api).is_some_and(|p| !p.metadata_kinds(target).is_empty())
}

/// The requests of one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Steps {
    /// The tier actually used.
    pub tier: Tier,
    pub kinds: Vec<RequestKind>,
    /// Set when a metadata probe fell back to generation: `no_metadata_endpoint`.
    pub note: Option<&'static str>,
}

/// Which requests probe `target` at `tier`; `None` for unprobeable API styles.
/// A metadata probe of a provider without a metadata endpoint falls back to generation and
/// says so in `note` (see [`ProbeResult::tier`]).
pub fn steps(target: &Target, tier: Tier) -> Option<Steps> {
    let p = prober_for(&target.api)?;
    Some(match tier {
        Tier::Generation => Steps {
            tier: Tier::Generation,
            kinds: vec![RequestKind::Generation],
            note: None,
        },
        Tier::Metadata => {
            let kinds = p.metadata_kinds(target);
            if kinds.is_empty() {
                Steps {
                    tier: Tier::Generation,
                    kinds: vec![RequestKind::Generation],
                    note: Some("no_metadata_endpoint"),
                }
            } else {
                Steps {
                    tier: Tier::Metadata,
                    kinds,
                    note: None,
                }
            }
        }
    })
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::{ProbeResult, Tier};
    use crate::class::Class;
    use crate::plan::{ApiStyle, Credential, CredentialKind, CredentialSource, Target};
    use crate::secret::Secret;

    pub const KEY: &str = "sk-canary-UNIT-77f3";

    pub fn target(provider: &str, api: ApiStyle, base: &str, model: &str) -> Target {
        Target::new(provider, model, base, api).with_credential(Credential::api_key(
            CredentialSource::TargetEnv { var: "K".into() },
            Secret::new(KEY),
        ))
    }

    /// A result of `class` at `tier` for target 0, its reason the class name.
    pub fn result(class: Class, tier: Tier) -> ProbeResult {
        ProbeResult::new(0, tier, class, class.as_str())
    }

    pub fn with_kind(mut t: Target, kind: CredentialKind) -> Target {
        if let Some(c) = t.credential.as_mut() {
            c.kind = kind;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn unprobeable_style_has_no_steps() {
        let t = target(
            "bedrock",
            ApiStyle::Other("bedrock-converse-stream".into()),
            "https://x",
            "m",
        );
        assert!(steps(&t, Tier::Metadata).is_none());
        assert!(steps(&t, Tier::Generation).is_none());
        assert!(!has_metadata_endpoint(&t));
    }

    #[test]
    fn metadata_without_endpoint_falls_back_to_generation_and_says_so() {
        let t = target(
            "together",
            ApiStyle::OpenAiCompletions,
            "https://api.together.xyz/v1",
            "m",
        );
        assert!(!has_metadata_endpoint(&t));
        let s = steps(&t, Tier::Metadata).unwrap();
        assert_eq!(s.tier, Tier::Generation);
        assert_eq!(s.kinds, vec![RequestKind::Generation]);
        assert_eq!(s.note, Some("no_metadata_endpoint"));
        let t = target(
            "openai",
            ApiStyle::OpenAiCompletions,
            "https://api.openai.com/v1",
            "m",
        );
        let s = steps(&t, Tier::Metadata).unwrap();
        assert_eq!(
            (s.tier, s.kinds, s.note),
            (Tier::Metadata, vec![RequestKind::Model], None)
        );
    }

    #[test]
    fn spec_debug_hides_the_key_and_config_headers_do_not_override_auth() {
        let mut t = target(
            "openai",
            ApiStyle::OpenAiCompletions,
            "https://api.openai.com/v1",
            "m",
        );
        t.headers = vec![
            ("Authorization".into(), Secret::new("Bearer other")),
            ("X-Extra".into(), Secret::new("v")),
        ];
        let s = openai::OpenAiCompletions.request(&t, RequestKind::Generation);
        assert_eq!(
            s.header_value("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(s.header_value("x-extra"), Some("v"));
        assert!(!format!("{s:?}").contains(KEY));
    }

    #[test]
    fn json_object_rejects_empty_non_json_and_error_bodies() {
        assert_eq!(json_object(b"").unwrap_err().reason, "empty_body");
        assert_eq!(json_object(b"  \n").unwrap_err().reason, "empty_body");
        assert_eq!(json_object(b"<html>").unwrap_err().reason, "malformed_body");
        assert_eq!(json_object(b"[1]").unwrap_err().reason, "malformed_body");
        let e = json_object(br#"{"error":{"message":"upstream failed","code":502}}"#).unwrap_err();
        assert_eq!(
            (e.class, e.reason.as_str()),
            (Class::BadResponse, "error_in_body")
        );
        assert_eq!(e.message.as_deref(), Some("upstream failed"));
        assert!(json_object(br#"{"error":null,"id":"x"}"#).is_ok());
    }

    #[test]
    fn path_and_model_escaping() {
        let s = RequestSpec::get(
            RequestKind::Model,
            join(
                "http://h:1/v1/",
                &format!("models/{}", model_path("a/b c?#")),
            ),
        );
        assert_eq!(s.path(), "/v1/models/a/b%20c%3F%23");
    }
}
