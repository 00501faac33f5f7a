//! Routing: a plain function of method, URI and [`Backend`], so every endpoint is tested
//! without a socket. The request body is never read: no endpoint takes one.
//!
//! `/probe` sends a probe on demand: `GET` only ever runs a zero-token check (the metadata
//! tier; a model without a zero-token check is answered from the cache, not probed), and a
//! generation probe, which spends tokens, takes `POST /probe?…&tier=generation`, so no
//! link, image or prefetch in a browser can spend budget. How many run at once is the
//! listener's business ([`super::ondemand`]).

use super::landing;
use super::Backend;
use crate::probe::{has_metadata_endpoint, ProbeResult, Tier};
use bytes::Bytes;
use http::{header, HeaderMap, Method, Response, StatusCode, Uri};
use http_body_util::Full;
use std::sync::Arc;
use std::time::SystemTime;

pub(super) type Resp = Response<Full<Bytes>>;

pub(super) fn text(status: StatusCode, body: impl Into<String>) -> Resp {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body.into())))
        .expect("valid response")
}

fn json(status: StatusCode, value: &serde_json::Value) -> Resp {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .expect("valid response")
}

fn method_not_allowed(allow: &str) -> Resp {
    let mut r = text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed; use {allow}\n"),
    );
    r.headers_mut()
        .insert(header::ALLOW, allow.parse().expect("valid header"));
    r
}

/// Whether `Accept-Encoding` accepts gzip (RFC 9110 §12.5.3: listed, or `*`, with a
/// non-zero quality; an explicit `gzip;q=0` refuses it even with `*`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut star = false;
    for v in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(v) = v.to_str() else { continue };
        for item in v.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match coding.as_str() {
                "gzip" | "x-gzip" => return q > 0.0,
                "*" => star = q > 0.0,
                _ => {}
            }
        }
    }
    star
}

/// Routes one request without request headers (no compression); see [`route_with`].
pub async fn route(backend: &Arc<dyn Backend>, method: &Method, uri: &Uri) -> Resp {
    route_with(backend, method, uri, &HeaderMap::new()).await
}

/// Routes one request. The body is never read: no endpoint takes one. Of the headers only
/// `Accept-Encoding` is read (gzip on `/metrics`).
pub async fn route_with(
    backend: &Arc<dyn Backend>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Resp {
    let get = method == Method::GET || method == Method::HEAD;
    match uri.path() {
        "/metrics" if get => {
            // Off the async workers: a render holds a CPU for milliseconds at 10k series,
            // and concurrent scrapes wait on one render (see Metrics::render_cached), as
            // does compressing it (once per render, shared likewise).
            let b = backend.clone();
            let gzip = accepts_gzip(headers);
            let body = tokio::task::spawn_blocking(move || match gzip.then(|| b.metrics_gzip()) {
                Some(Some(gz)) => (gz, true),
                _ => (b.metrics_text(), false),
            });
            match body.await {
                Ok((body, gzipped)) => {
                    let mut r = Response::builder()
                        .status(StatusCode::OK)
                        .header(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)
                        .header(header::VARY, "Accept-Encoding");
                    if gzipped {
                        r = r.header(header::CONTENT_ENCODING, "gzip");
                    }
                    r.body(Full::new(body)).expect("valid response")
                }
                Err(e) => {
                    tracing::error!(error = %e, "rendering /metrics failed");
                    text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "rendering metrics failed\n",
                    )
                }
            }
        }
        "/healthz" if get => text(StatusCode::OK, "ok\n"),
        "/readyz" if get => match backend.ready() {
            r if r.ready => text(StatusCode::OK, "ready\n"),
            r => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{}\n", r.describe()),
            ),
        },
        "/" if get => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Full::new(Bytes::from(landing::render(
                &backend.plan(),
                &backend.store(),
                &backend.evidence(),
                &backend.status(),
                SystemTime::now(),
            ))))
            .expect("valid response"),
        "/-/reload" if method == Method::POST || method == Method::PUT => {
            match backend.reload().await {
                Ok(()) => text(StatusCode::OK, "config reloaded\n"),
                Err(e) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("reload failed, still serving the last good config: {e}\n"),
                ),
            }
        }
        "/-/reload" => method_not_allowed("POST"),
        "/probe" if get || method == Method::POST => {
            let post = method == Method::POST;
            probe(backend.as_ref(), post, uri.query().unwrap_or("")).await
        }
        "/probe" => method_not_allowed("GET, POST"),
        "/metrics" | "/healthz" | "/readyz" | "/" => method_not_allowed("GET"),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found; see / for the endpoints\n",
        ),
    }
}

/// `/probe`: `post` says whether the request may spend tokens (see the module docs).
async fn probe(backend: &dyn Backend, post: bool, query: &str) -> Resp {
    let params = parse_query(query);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (Some(agent), Some(r)) = (get("agent"), get("ref")) else {
        return text(
            StatusCode::BAD_REQUEST,
            "give ?agent=<agent id>&ref=<model ref as configured>[&tier=metadata|generation]\n",
        );
    };
    let tier = match get("tier") {
        None | Some("metadata") => Tier::Metadata,
        Some("generation") => Tier::Generation,
        Some(_) => {
            return text(
                StatusCode::BAD_REQUEST,
                "tier must be metadata or generation\n",
            )
        }
    };
    if tier == Tier::Generation && !post {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "a generation probe spends tokens: send it with POST (GET /probe only runs zero-token checks)\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, http::HeaderValue::from_static("POST"));
        return r;
    }
    let plan = backend.plan();
    let Some(a) = plan.agents.iter().position(|c| c.agent == agent) else {
        return text(StatusCode::NOT_FOUND, "unknown agent\n");
    };
    let Some(i) = plan.agents[a].entries.iter().position(|e| {
        e.raw_ref == r
            || matches!((&e.provider, &e.model), (Some(p), Some(m)) if format!("{p}/{m}") == r)
    }) else {
        return text(StatusCode::NOT_FOUND, "unknown ref in this agent's chain\n");
    };
    let store = backend.store();
    let answer = |result: Option<&ProbeResult>, probed: bool| {
        let evidence = backend.evidence();
        landing::with_verdicts(
            &plan,
            &store,
            &evidence,
            SystemTime::now(),
            result,
            |v, view| landing::entry_json(&plan, view, v, (a, i), result, probed),
        )
    };
    let Some(id) = plan.agents[a].entries[i].target else {
        // Nothing to send: the static finding is the answer.
        return json(StatusCode::OK, &answer(None, false));
    };
    if !post && !has_metadata_endpoint(plan.target(id)) {
        // Its metadata probe would be a generation call: GET does not spend tokens.
        let mut v = answer(None, false);
        v["note"] = serde_json::Value::from(
            "no zero-token check exists for this model; POST /probe with tier=generation sends a generation probe (spends tokens)",
        );
        return json(StatusCode::OK, &v);
    }
    match backend.probe_now(id, tier).await {
        // The probe was recorded: the answer is the route's verdict with it.
        Ok(result) => json(StatusCode::OK, &answer(Some(&result), true)),
        Err(reason) => json(
            StatusCode::TOO_MANY_REQUESTS,
            &serde_json::json!({ "probed": false, "skipped": reason.as_str() }),
        ),
    }
}

/// `a=b&c=d` with `%XX` and `+` decoding (`application/x-www-form-urlencoded`).
fn parse_query(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::{Class, SkipReason};
    use crate::plan::{AgentChain, ApiStyle, ChainEntry, ProbePlan, Target, TargetId};
    use crate::server::{BoxFuture, ReloadError};
    use crate::state::Store;
    use http_body_util::BodyExt;
    use std::sync::Mutex;

    /// A plan with agent `main`: `openai/gpt-a` (has a zero-token check) and
    /// `together/llama` (none); records every probe asked for.
    struct Probes(Mutex<Vec<(TargetId, Tier)>>, Arc<ProbePlan>);

    impl Backend for Probes {
        fn metrics_text(&self) -> Bytes {
            Bytes::new()
        }
        fn ready(&self) -> crate::schedule::Readiness {
            unreachable!()
        }
        fn plan(&self) -> Arc<ProbePlan> {
            self.1.clone()
        }
        fn store(&self) -> Arc<Store> {
            Arc::new(Store::new())
        }
        fn evidence(&self) -> crate::server::landing::Evidence {
            Default::default()
        }
        fn reload(&self) -> BoxFuture<'_, Result<(), ReloadError>> {
            unreachable!()
        }
        fn probe_now(
            &self,
            target: TargetId,
            tier: Tier,
        ) -> BoxFuture<'_, Result<ProbeResult, SkipReason>> {
            self.0.lock().unwrap().push((target, tier));
            Box::pin(async move { Ok(ProbeResult::new(target, tier, Class::Ok, "ok")) })
        }
    }

    fn backend() -> (Arc<Probes>, Arc<dyn Backend>) {
        let mut p = ProbePlan::default();
        let mut entries = Vec::new();
        for (i, (provider, model)) in [("openai", "gpt-a"), ("together", "llama")]
            .into_iter()
            .enumerate()
        {
            let t = Target::new(
                provider,
                model,
                "http://127.0.0.1:9/v1",
                ApiStyle::OpenAiCompletions,
            );
            let id = p.intern_target(t);
            let mut e = ChainEntry::new(i, format!("{provider}/{model}"));
            e.provider = Some(provider.into());
            e.model = Some(model.into());
            e.target = Some(id);
            entries.push(e);
        }
        p.agents.push(AgentChain {
            agent: "main".into(),
            entries,
        });
        let b = Arc::new(Probes(Mutex::default(), Arc::new(p)));
        (b.clone(), b)
    }

    async fn call(b: &Arc<dyn Backend>, m: Method, uri: &str) -> (StatusCode, String) {
        let r = route(b, &m, &uri.parse().unwrap()).await;
        let status = r.status();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// GET never spends tokens: generation takes POST, and a model without a zero-token
    /// check is answered from the cache.
    #[tokio::test]
    async fn generation_on_demand_only_by_post() {
        let (probes, b) = backend();
        let (s, body) = call(
            &b,
            Method::GET,
            "/probe?agent=main&ref=openai/gpt-a&tier=generation",
        )
        .await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{body}");
        assert!(body.contains("POST"), "{body}");
        let (s, body) = call(&b, Method::GET, "/probe?agent=main&ref=together/llama").await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["probed"], false, "{body}");
        assert!(v["note"].as_str().unwrap().contains("POST"), "{body}");
        assert!(
            probes.0.lock().unwrap().is_empty(),
            "GET sent a probe that spends tokens"
        );
        // Zero-token GET, and generation by POST, are sent.
        let (s, _) = call(&b, Method::GET, "/probe?agent=main&ref=openai/gpt-a").await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = call(
            &b,
            Method::POST,
            "/probe?agent=main&ref=together/llama&tier=generation",
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            *probes.0.lock().unwrap(),
            vec![(0, Tier::Metadata), (1, Tier::Generation)]
        );
        let (s, _) = call(&b, Method::DELETE, "/probe?agent=main&ref=openai/gpt-a").await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn gzip_negotiation() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, v.parse().unwrap());
            accepts_gzip(&m)
        };
        assert!(!accepts_gzip(&HeaderMap::new()));
        // What Prometheus sends.
        assert!(h("gzip"));
        assert!(h("identity, GZIP;q=0.5"));
        assert!(h("br, *"));
        assert!(!h("identity"));
        assert!(!h("gzip;q=0"));
        assert!(!h("gzip; q=0, *"));
        assert!(!h("deflate, br"));
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query("agent=main&ref=openai%2Fgpt-5+mini&x"),
            vec![
                ("agent".to_string(), "main".to_string()),
                ("ref".to_string(), "openai/gpt-5 mini".to_string()),
                ("x".to_string(), String::new()),
            ]
        );
        // Malformed escapes stay as they are.
        assert_eq!(
            parse_query("a=100%&b=%zz"),
            vec![
                ("a".to_string(), "100%".to_string()),
                ("b".to_string(), "%zz".to_string()),
            ]
        );
    }
}
