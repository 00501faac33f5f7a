//! The real [`Executor`]: sends a probe's requests with reqwest (rustls) and turns what came
//! back into a [`ProbeResult`].
//!
//! Guards, because a probe must never hang or balloon the exporter: a whole-probe deadline
//! (connect + every step + reading bodies), a connect timeout, a response body cap (reading
//! past it is [`TransportError::BodyTooLarge`]), and no redirects (a redirect could carry
//! `x-api-key`/`x-goog-api-key` to another host; reqwest only strips `Authorization`).

use super::{prober_for, steps, Executor, Interpretation, ProbeResult, RequestSpec, Tier};
use crate::class::Class;
use crate::classify::{self, Observation, TransportError};
use crate::plan::Target;
use crate::ratelimit::RateLimitInfo;
use crate::secret::{redact_cut, Secret};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// Default response body cap: model metadata and a one-token answer are a few KiB.
pub const DEFAULT_BODY_CAP: usize = 256 * 1024;
/// Longest message kept from a provider error body.
const MESSAGE_MAX: usize = 300;
/// Characters of a provider message kept before redaction; well over [`MESSAGE_MAX`], so a
/// key that straddles this first bound is cut away by the second.
const RAW_MESSAGE_MAX: usize = 2048;

/// Sends probes over HTTP. The probe timeout follows reloads ([`Executor::set_timeout`]):
/// a probe uses the client and deadline in force when it starts.
#[derive(Debug)]
pub struct HttpExecutor {
    client: RwLock<Arc<Client>>,
    body_cap: usize,
}

/// A reqwest client and the per-probe deadline it was built for.
#[derive(Debug)]
struct Client {
    http: reqwest::Client,
    timeout: Duration,
}

impl Client {
    /// A client with a per-probe deadline of `timeout` (connect timeout at most 10 s).
    fn new(timeout: Duration) -> Result<Client, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("clawprobe/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client { http, timeout })
    }

    fn timeout_message(&self) -> String {
        format!(
            "no complete answer within {:.1}s",
            self.timeout.as_secs_f64()
        )
    }
}

/// What one request produced, before interpretation.
#[derive(Debug)]
pub struct Exchange {
    pub status: Option<u16>,
    pub headers: http::HeaderMap,
    /// At most the body cap.
    pub body: Vec<u8>,
    /// The transport failure and a short description (no secrets: keys are never in URLs).
    pub transport: Option<(TransportError, String)>,
}

impl HttpExecutor {
    /// A client with a per-probe deadline of `timeout` (connect timeout at most 10 s).
    pub fn new(timeout: Duration) -> Result<HttpExecutor, reqwest::Error> {
        Ok(HttpExecutor {
            client: RwLock::new(Arc::new(Client::new(timeout)?)),
            body_cap: DEFAULT_BODY_CAP,
        })
    }

    fn client(&self) -> Arc<Client> {
        self.client.read().expect("client lock").clone()
    }

    /// From `[schedule] probe_timeout_seconds`.
    pub fn from_config(config: &crate::config::Config) -> Result<HttpExecutor, reqwest::Error> {
        HttpExecutor::new(Duration::from_secs_f64(
            config.schedule.probe_timeout_seconds,
        ))
    }

    /// Overrides the response body cap (bytes).
    pub fn with_body_cap(mut self, cap: usize) -> HttpExecutor {
        self.body_cap = cap;
        self
    }

    /// Sends one request and reads the body up to the cap. Public for tests of the
    /// transport mapping; probes go through [`Executor::execute`].
    pub async fn send(&self, spec: &RequestSpec) -> Exchange {
        self.send_with(&self.client(), spec).await
    }

    async fn send_with(&self, client: &Client, spec: &RequestSpec) -> Exchange {
        let mut req = client.http.request(spec.method.clone(), &spec.url);
        for (name, value) in &spec.headers {
            let Ok(mut v) = http::HeaderValue::from_str(value.expose()) else {
                return transport_failure(
                    TransportError::Other,
                    format!("header `{name}` has a value that is not a valid HTTP header"),
                );
            };
            // Keeps the value out of hyper's Debug output and HPACK tables.
            v.set_sensitive(true);
            req = req.header(name.as_str(), v);
        }
        if let Some(b) = &spec.body {
            req = req.body(serde_json::to_vec(b).unwrap_or_default());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let t = map_error(&e);
                let msg = match t {
                    TransportError::Timeout => client.timeout_message(),
                    _ => describe(&e),
                };
                return transport_failure(t, msg);
            }
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let mut ex = Exchange {
            status: Some(status),
            headers,
            body: Vec::new(),
            transport: None,
        };
        if resp
            .content_length()
            .is_some_and(|n| n > self.body_cap as u64)
        {
            ex.transport = Some((
                TransportError::BodyTooLarge,
                format!("response body larger than {} bytes", self.body_cap),
            ));
            return ex;
        }
        let mut resp = resp;
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if ex.body.len() + c.len() > self.body_cap {
                        ex.transport = Some((
                            TransportError::BodyTooLarge,
                            format!("response body larger than {} bytes", self.body_cap),
                        ));
                        return ex;
                    }
                    ex.body.extend_from_slice(&c);
                }
                Ok(None) => return ex,
                Err(e) => {
                    let t = if e.is_timeout() {
                        TransportError::Timeout
                    } else {
                        TransportError::BodyInterrupted
                    };
                    ex.transport = Some((
                        t,
                        format!("reading the response body failed: {}", describe(&e)),
                    ));
                    return ex;
                }
            }
        }
    }

    async fn probe(&self, target: &Target, tier: Tier) -> ProbeResult {
        let started = Instant::now();
        let client = self.client();
        let Some((prober, steps)) = prober_for(&target.api).zip(steps(target, tier)) else {
            return ProbeResult {
                message: Some(format!(
                    "API style `{}` has no prober; nothing was sent",
                    target.api
                )),
                ..ProbeResult::new(target.id, tier, Class::Skipped, "unsupported_api")
            };
        };
        let secrets: Vec<&Secret> = target
            .credential
            .iter()
            .map(|c| &c.secret)
            .chain(target.headers.iter().map(|(_, v)| v))
            .collect();
        let api = target.api.as_str();
        let mut result = ProbeResult::new(target.id, steps.tier, Class::Unknown, "");
        let work = async {
            let mut out: Option<(Interpretation, Option<u16>, RateLimitInfo)> = None;
            for kind in &steps.kinds {
                let spec = prober.request(target, *kind);
                let ex = self.send_with(&client, &spec).await;
                let rl = prober.rate_limits(&ex.headers, &ex.body, SystemTime::now());
                let interp = evaluate(target, api, prober, *kind, &ex);
                let stop = interp.class != Class::Ok;
                // Usage and the status of the last request that ran are what count.
                let usage = interp.usage.or(out.as_ref().and_then(|o| o.0.usage));
                out = Some((Interpretation { usage, ..interp }, ex.status, rl));
                if stop {
                    break;
                }
            }
            out
        };
        let outcome = tokio::time::timeout(client.timeout, work).await;
        result.latency = started.elapsed();
        result.at = SystemTime::now();
        match outcome {
            Ok(Some((interp, status, rl))) => {
                result.class = interp.class;
                result.reason = interp.reason;
                result.usage = interp.usage;
                result.http_status = status;
                result.rate_limits = rl;
                // Redacted whole, then cut: a key split by the cut would not be recognised.
                result.message = interp
                    .message
                    .map(|m| redact_cut(&m, &secrets, MESSAGE_MAX));
            }
            Ok(None) => {
                result.reason = "no_request".into();
            }
            Err(_) => {
                let empty = http::HeaderMap::new();
                let v = classify::classify(&Observation {
                    provider: &target.provider,
                    api,
                    status: None,
                    headers: &empty,
                    body: &[],
                    transport: Some(TransportError::Timeout),
                });
                result.class = v.class;
                result.reason = v.reason;
                result.message = Some(client.timeout_message());
            }
        }
        tracing::debug!(
            target_ref = %target.model_ref(),
            api = api,
            tier = result.tier.as_str(),
            class = result.class.as_str(),
            reason = %result.reason,
            status = ?result.http_status,
            latency_ms = result.latency.as_millis() as u64,
            "probe finished"
        );
        if let Some(note) = steps.note {
            if result.class == Class::Ok {
                result.reason = note.into();
            }
            result.message = Some(match result.message.take() {
                Some(m) => format!("{note}: used a generation probe; {m}"),
                None => format!("{note}: used a generation probe"),
            });
        }
        result
    }
}

fn transport_failure(t: TransportError, message: String) -> Exchange {
    Exchange {
        status: None,
        headers: http::HeaderMap::new(),
        body: Vec::new(),
        transport: Some((t, message)),
    }
}

/// One exchange to an [`Interpretation`]: transport errors and non-2xx go to the classifier,
/// a 2xx body to the style's interpreter.
fn evaluate(
    target: &Target,
    api: &str,
    prober: &dyn super::Prober,
    kind: super::RequestKind,
    ex: &Exchange,
) -> Interpretation {
    let is_2xx = ex.status.is_some_and(|s| (200..300).contains(&s));
    if is_2xx && ex.transport.is_none() {
        let i = prober.interpret(target, kind, &ex.body);
        // OpenRouter (and gateways like it) answer a failure that happens after the 200 with
        // the error object in the body, its HTTP status in `error.code` (402 out of credits,
        // 429, 502 upstream down …): judged as that status, not as a malformed answer.
        return match (i.reason.as_str(), status_in_error_body(&ex.body)) {
            ("error_in_body", Some(code)) => Interpretation {
                message: i.message,
                ..classified(target, api, Some(code), ex)
            },
            _ => i,
        };
    }
    classified(target, api, ex.status, ex)
}

/// The HTTP status a 2xx body's `error` object carries (`{"error":{"code":402,…}}`), when it
/// is a 4xx/5xx number.
fn status_in_error_body(body: &[u8]) -> Option<u16> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    let code = e.get("code").or_else(|| e.get("status"))?;
    let n = code
        .as_u64()
        .or_else(|| code.as_str().and_then(|s| s.parse().ok()))?;
    (400..600).contains(&n).then_some(n as u16)
}

/// The classifier's verdict on an answer with `status` (a transport error, a non-2xx, or a
/// 2xx whose body says it failed with that status).
fn classified(target: &Target, api: &str, status: Option<u16>, ex: &Exchange) -> Interpretation {
    let v = classify::classify(&Observation {
        provider: &target.provider,
        api,
        status,
        headers: &ex.headers,
        body: &ex.body,
        transport: ex.transport.as_ref().map(|(t, _)| *t),
    });
    let message = match &ex.transport {
        Some((_, m)) => Some(m.clone()),
        // Longer than shown: the caller redacts, then cuts to MESSAGE_MAX.
        None => classify::error_message_within(&ex.body, RAW_MESSAGE_MAX).or_else(|| {
            let text = String::from_utf8_lossy(&ex.body[..ex.body.len().min(RAW_MESSAGE_MAX)]);
            let text = text.trim();
            (!text.is_empty()).then(|| super::truncate(text, RAW_MESSAGE_MAX))
        }),
    };
    Interpretation {
        class: v.class,
        reason: v.reason,
        usage: None,
        message,
    }
}

/// Maps a reqwest error to the transport class the classifier understands.
pub fn map_error(e: &reqwest::Error) -> TransportError {
    if e.is_timeout() {
        return TransportError::Timeout;
    }
    let chain = chain_text(e).to_ascii_lowercase();
    if chain.contains("dns error")
        || chain.contains("failed to lookup address")
        || chain.contains("name or service not known")
    {
        return TransportError::Dns;
    }
    if chain.contains("certificate")
        || chain.contains("tls")
        || chain.contains("invalidcontenttype")
    {
        return TransportError::Tls;
    }
    if e.is_connect() {
        return TransportError::Connect;
    }
    if e.is_body() || e.is_decode() {
        return TransportError::BodyInterrupted;
    }
    // Accepted, then closed or reset before a response: a connect-level failure.
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() || h.is_closed() || h.is_canceled() {
                return TransportError::Connect;
            }
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionReset
                    | ConnectionAborted
                    | BrokenPipe
                    | UnexpectedEof
                    | ConnectionRefused
            ) {
                return TransportError::Connect;
            }
        }
        src = s.source();
    }
    if chain.contains("connection closed") || chain.contains("connection reset") {
        return TransportError::Connect;
    }
    TransportError::Other
}

fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// A short description of a transport error: the causes, without reqwest's
/// `error sending request for url (...)` preamble.
fn describe(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        parts.push(s.to_string());
        src = s.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.dedup();
    parts.join(": ")
}

impl Executor for HttpExecutor {
    fn execute<'a>(
        &'a self,
        target: &'a Target,
        tier: Tier,
    ) -> Pin<Box<dyn Future<Output = ProbeResult> + Send + 'a>> {
        Box::pin(self.probe(target, tier))
    }

    /// Builds a new client when the timeout changed; probes in flight keep theirs. If the
    /// client cannot be built, the old one stays (and says so).
    fn set_timeout(&self, timeout: Duration) {
        if self.client().timeout == timeout {
            return;
        }
        match Client::new(timeout) {
            Ok(c) => *self.client.write().expect("client lock") = Arc::new(c),
            Err(e) => {
                tracing::error!(error = %e, "cannot rebuild the HTTP client for the new probe timeout; keeping the old one")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::Class;
    use crate::plan::ApiStyle;
    use crate::probe::test_support::target;
    use crate::probe::{prober_for, RequestKind};

    fn answer(status: u16, body: &str) -> Interpretation {
        let t = target(
            "openrouter",
            ApiStyle::OpenAiCompletions,
            "https://openrouter.ai/api/v1",
            "moonshotai/kimi-k2",
        );
        let ex = Exchange {
            status: Some(status),
            headers: http::HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            transport: None,
        };
        let p = prober_for(&t.api).unwrap();
        evaluate(&t, "openai-completions", p, RequestKind::Generation, &ex)
    }

    /// OpenRouter's "mid-generation failure": 200 with the error object (and its real status
    /// in `error.code`) in the body (shared/providers/ERRORS.md §4, the errors doc). Judged
    /// as that status; an error object without a status stays a bad response.
    #[test]
    fn a_200_carrying_an_error_status_is_judged_as_that_status() {
        let credits = r#"{"error":{"code":402,"message":"Insufficient credits. Add more using https://openrouter.ai/settings/credits"},"user_id":"user_2x"}"#;
        let i = answer(200, credits);
        assert_eq!(i.class, Class::Billing, "{i:?}");
        assert!(i
            .message
            .as_deref()
            .unwrap()
            .contains("Insufficient credits"));
        let upstream = r#"{"error":{"code":502,"message":"Provider returned error","metadata":{"provider_name":"Moonshot","raw":"upstream"}}}"#;
        assert_eq!(answer(200, upstream).class, answer(502, upstream).class);
        assert_ne!(answer(200, upstream).class, Class::BadResponse);
        let limited =
            r#"{"error":{"code":"429","message":"Rate limit exceeded: free-models-per-day"}}"#;
        assert_eq!(answer(200, limited).class, Class::RateLimit);
        // No status in it: still a bad response.
        let bare = r#"{"error":{"message":"something broke"}}"#;
        assert_eq!(answer(200, bare).class, Class::BadResponse);
        // A success is unchanged.
        let ok = r#"{"id":"gen-1","choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"length"}],"usage":{"prompt_tokens":8,"completion_tokens":1,"total_tokens":9}}"#;
        assert_eq!(answer(200, ok).class, Class::Ok);
    }
}
