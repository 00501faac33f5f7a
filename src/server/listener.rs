//! The listener: accepts connections under a connection cap, a header-read (and
//! keep-alive idle) timeout and an optional TLS handshake deadline, authenticates requests
//! when the web config asks for it ([`super::basic_auth`]), keeps `/probe` in its own lane
//! ([`super::ondemand`]), and hands each request to [`routes::route_with`]. With a web config it
//! also runs the task that re-reads it ([`webconfig::WebConfig::poll`]).

use super::basic_auth::Outcome;
use super::ondemand::{self, OnDemand};
use super::routes::{self, route_with, Resp};
use super::webconfig;
use super::Backend;
use bytes::Bytes;
use http::{header, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr} (config key server.listen in {source_name}): {err}; stop the other process using it or set server.listen to a free address")]
    Bind {
        addr: String,
        source_name: String,
        /// Not a `#[source]`: the message already says it, and `{:#}` would repeat it.
        err: std::io::Error,
    },
}

/// Limits that keep a slow or hostile client from holding the exporter.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    /// On-demand probes (`/probe`) running at once, and waiting; more get `429` at once.
    pub probe_concurrency: usize,
    pub probe_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 128,
            header_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            probe_concurrency: ondemand::CONCURRENCY,
            probe_queue: ondemand::QUEUE,
        }
    }
}

/// Binds the listen address. `source_name` (the config file) goes into the error message.
pub async fn bind(addr: &str, source_name: &str) -> Result<TcpListener, ServerError> {
    let fail = |err| ServerError::Bind {
        addr: addr.to_string(),
        source_name: source_name.to_string(),
        err,
    };
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await.map_err(fail)? {
        match listen(a) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(fail(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to listen on")
    })))
}

/// Connections the kernel queues for `accept` (capped by `net.core.somaxconn`). A flood of
/// short requests (wrong passwords, `/probe` refused at once) must not fill the queue:
/// a full queue drops the next SYN, and that scrape waits a second for its retransmission.
const ACCEPT_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Serves until `shutdown` becomes true, then lets requests in flight finish (bounded by
/// `limits.shutdown_grace`). Plain HTTP, no authentication.
pub async fn serve(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
) {
    serve_with(listener, backend, limits, None, shutdown).await
}

/// [`serve`] with an optional web config (`--web.config.file`): TLS (possibly mutual) and
/// basic auth on every endpoint, re-read when its files change.
pub async fn serve_with(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    limits: Limits,
    web: Option<Arc<webconfig::WebConfig>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let lane = Arc::new(OnDemand::new(limits.probe_concurrency, limits.probe_queue));
    let mut conns = JoinSet::new();
    let poller = web
        .clone()
        .map(|w| tokio::spawn(poll_web_config(w, backend.clone(), shutdown.clone())));
    loop {
        if *shutdown.borrow() {
            break;
        }
        // Wait for a free slot before accepting: at the cap, clients queue in the backlog.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        while conns.try_join_next().is_some() {}
        let backend = backend.clone();
        let limits = limits.clone();
        let stop = shutdown.clone();
        let web = web.clone();
        let lane = lane.clone();
        conns.spawn(async move {
            let _permit = permit;
            // TLS settings are taken per connection, so a rotated certificate is used from
            // the next connection on.
            let tls = web.as_ref().and_then(|w| w.current().tls.clone());
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let backend = backend.clone();
                let web = web.clone();
                let lane = lane.clone();
                async move {
                    Ok::<_, Infallible>(handle(&backend, web.as_deref(), &lane, peer, req).await)
                }
            });
            let res = match tls {
                None => serve_io(TokioIo::new(stream), svc, &limits, stop).await,
                Some(config) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(config);
                    // The handshake gets the same deadline as the request headers, or a
                    // client that opens a socket and says nothing would hold a slot forever.
                    match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls_stream)) => {
                            serve_io(TokioIo::new(tls_stream), svc, &limits, stop).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(peer = %peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = res {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if let Some(p) = poller {
        p.abort();
    }
    let _ = tokio::time::timeout(limits.shutdown_grace, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
}

/// Re-reads the web config when its files change ([`webconfig::POLL_INTERVAL`]), off the
/// async workers, and tells the backend when the outcome of the last change flips (for
/// `clawprobe_web_config_last_reload_successful`). A read that blocks (a FIFO, a stalled
/// filesystem) stalls only this task: requests keep the settings in force.
async fn poll_web_config(
    web: Arc<webconfig::WebConfig>,
    backend: Arc<dyn Backend>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ok = web.last_reload_ok();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(webconfig::POLL_INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
        let w = web.clone();
        if tokio::task::spawn_blocking(move || w.poll()).await.is_err() {
            continue;
        }
        if web.last_reload_ok() != ok {
            ok = !ok;
            backend.web_config_reloaded(ok);
        }
    }
}

fn too_many(retry_after: Duration, body: &str) -> Resp {
    let mut r = routes::text(StatusCode::TOO_MANY_REQUESTS, body);
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    r.headers_mut()
        .insert(header::RETRY_AFTER, http::HeaderValue::from(secs.max(1)));
    r
}

/// One HTTP/1.1 connection over any transport, with the header-read (and keep-alive idle)
/// timeout, stopped gracefully when `stop` turns true.
async fn serve_io<I, S>(
    io: I,
    svc: S,
    limits: &Limits,
    mut stop: watch::Receiver<bool>,
) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = Full<Bytes>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    }
}

/// Authentication (when the web config has users), the on-demand lane for `/probe`, then
/// [`route_with`], then the configured extra response headers.
async fn handle(
    backend: &Arc<dyn Backend>,
    web: Option<&webconfig::WebConfig>,
    lane: &OnDemand,
    peer: SocketAddr,
    req: hyper::Request<hyper::body::Incoming>,
) -> Resp {
    let loaded = web.map(|w| w.current());
    let outcome = match (web, &loaded) {
        (Some(w), Some(l)) => {
            w.authorize(l, req.headers().get(header::AUTHORIZATION), peer.ip())
                .await
        }
        _ => Outcome::Allowed,
    };
    let mut resp = match outcome {
        Outcome::Allowed => {
            if req.uri().path() == "/probe" {
                match lane.try_admit() {
                    Some(place) => {
                        let _running = place.run_slot().await;
                        route_with(backend, req.method(), req.uri(), req.headers()).await
                    }
                    None => too_many(
                        ondemand::RETRY_AFTER,
                        "too many on-demand probes at once; retry later (scheduled probes go on)\n",
                    ),
                }
            } else {
                route_with(backend, req.method(), req.uri(), req.headers()).await
            }
        }
        Outcome::Denied => {
            let mut r = routes::text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Basic realm=\"clawprobe\", charset=\"UTF-8\""),
            );
            r
        }
        Outcome::Throttled(wait) => too_many(
            wait,
            "too many failed or concurrent authentication attempts from this address; retry later\n",
        ),
    };
    if let Some(l) = loaded {
        l.apply_headers(resp.headers_mut());
    }
    resp
}

/// The local address a listener is bound to, for the startup log.
pub fn local_addr(listener: &TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::SkipReason;
    use crate::config::ConfigError;
    use crate::plan::{ProbePlan, TargetId};
    use crate::probe::{ProbeResult, Tier};
    use crate::schedule::Readiness;
    use crate::server::{BoxFuture, ReloadError};
    use crate::state::Store;
    use std::io::{Read, Write};

    struct Fake;

    impl Backend for Fake {
        fn metrics_text(&self) -> Bytes {
            Bytes::from_static(b"# HELP x y\n# TYPE x gauge\nx 1\n")
        }
        fn ready(&self) -> Readiness {
            Readiness {
                ready: false,
                plan_loaded: true,
                first_cycle_done: false,
                credentials: 3,
                credentials_probed: 1,
            }
        }
        fn plan(&self) -> Arc<ProbePlan> {
            Arc::new(ProbePlan::default())
        }
        fn store(&self) -> Arc<Store> {
            Arc::new(Store::new())
        }
        fn evidence(&self) -> crate::server::landing::Evidence {
            Default::default()
        }
        fn reload(&self) -> BoxFuture<'_, Result<(), ReloadError>> {
            Box::pin(async {
                Err(ReloadError::Config(ConfigError::Parse {
                    path: "/etc/c.toml".into(),
                    message: "bad key `x`".into(),
                }))
            })
        }
        fn probe_now(
            &self,
            _: TargetId,
            _: Tier,
        ) -> BoxFuture<'_, Result<ProbeResult, SkipReason>> {
            Box::pin(async { Err(SkipReason::Budget) })
        }
    }

    fn raw(port: u16, req: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_over_tcp_times_out_slow_headers_and_stops() {
        let listener = bind("127.0.0.1:0", "test.toml").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = watch::channel(false);
        let limits = Limits {
            max_connections: 4,
            header_read_timeout: Duration::from_millis(300),
            shutdown_grace: Duration::from_secs(1),
            ..Limits::default()
        };
        let task = tokio::spawn(serve(listener, Arc::new(Fake), limits, rx));

        let out = tokio::task::spawn_blocking(move || {
            raw(port, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        })
        .await
        .unwrap();
        assert!(out.starts_with("HTTP/1.0 200"), "{out}");
        assert!(out.contains("text/plain; version=0.0.4"), "{out}");
        assert!(out.ends_with("x 1\n"), "{out}");

        let out = tokio::task::spawn_blocking(move || {
            raw(port, "POST /-/reload HTTP/1.0\r\nHost: x\r\n\r\n")
        })
        .await
        .unwrap();
        assert!(out.starts_with("HTTP/1.0 500"), "{out}");
        assert!(out.contains("last good config"), "{out}");
        let out = tokio::task::spawn_blocking(move || raw(port, "GET /readyz HTTP/1.0\r\n\r\n"))
            .await
            .unwrap();
        assert!(out.starts_with("HTTP/1.0 503"), "{out}");
        assert!(
            out.ends_with("waiting for the first probe of 2 of 3 credentials\n"),
            "/readyz says what it waits for: {out}"
        );

        // A client that never finishes its headers is cut off after the read timeout.
        let started = std::time::Instant::now();
        let out = tokio::task::spawn_blocking(move || raw(port, "GET /metrics HTTP/1.1\r\nHost"))
            .await
            .unwrap();
        assert!(!out.contains("200 OK"), "{out}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );

        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(3), task)
            .await
            .expect("server stops")
            .unwrap();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    /// How long until the server closes a connection on which the client sends `send`
    /// and then nothing.
    fn closed_after(port: u16, send: &[u8]) -> Duration {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = std::time::Instant::now();
        s.write_all(send).unwrap();
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_are_closed_and_capped() {
        let listener = bind("127.0.0.1:0", "test.toml").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = watch::channel(false);
        let limits = Limits {
            max_connections: 2,
            header_read_timeout: Duration::from_millis(400),
            shutdown_grace: Duration::from_secs(1),
            ..Limits::default()
        };
        let task = tokio::spawn(serve(listener, Arc::new(Fake), limits, rx));

        // A client that connects and never sends a byte is cut off too.
        let t = tokio::task::spawn_blocking(move || closed_after(port, b""))
            .await
            .unwrap();
        assert!(t < Duration::from_secs(3), "idle connection held for {t:?}");
        // Keep-alive: after one answered request, an idle connection is closed as well.
        let t = tokio::task::spawn_blocking(move || {
            closed_after(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        })
        .await
        .unwrap();
        assert!(
            t < Duration::from_secs(3),
            "keep-alive connection held for {t:?}"
        );

        // At the cap, a third client waits until a slot frees (here: the idle timeout).
        let hold = || {
            let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            s
        };
        let (a, b) = (hold(), hold());
        let started = std::time::Instant::now();
        let out = tokio::task::spawn_blocking(move || raw(port, "GET /healthz HTTP/1.0\r\n\r\n"))
            .await
            .unwrap();
        assert!(out.starts_with("HTTP/1.0 200"), "{out}");
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "served past the connection cap after {:?}",
            started.elapsed()
        );
        drop((a, b));
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(3), task)
            .await
            .expect("server stops")
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tls_handshake_has_a_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(dir.path().join("c.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("k.pem"), key.serialize_pem()).unwrap();
        let web = dir.path().join("web.yml");
        std::fs::write(
            &web,
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n",
        )
        .unwrap();
        let web = Arc::new(webconfig::WebConfig::load(&web).unwrap());
        let listener = bind("127.0.0.1:0", "test.toml").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = watch::channel(false);
        let limits = Limits {
            max_connections: 4,
            header_read_timeout: Duration::from_millis(400),
            shutdown_grace: Duration::from_secs(1),
            ..Limits::default()
        };
        let task = tokio::spawn(serve_with(listener, Arc::new(Fake), limits, Some(web), rx));
        // Silent client, and a client that starts a ClientHello and stalls.
        for send in [&b""[..], &[0x16, 0x03, 0x01, 0x00, 0x40, 0x01][..]] {
            let t = tokio::task::spawn_blocking(move || closed_after(port, send))
                .await
                .unwrap();
            assert!(t < Duration::from_secs(3), "handshake held for {t:?}");
        }
        // Plain HTTP on the TLS port gets no HTTP answer.
        let out = tokio::task::spawn_blocking(move || raw(port, "GET /metrics HTTP/1.0\r\n\r\n"))
            .await
            .unwrap();
        assert!(!out.contains("200"), "{out}");
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(3), task)
            .await
            .expect("server stops")
            .unwrap();
    }

    #[test]
    fn bind_error_names_address_and_key() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = busy.local_addr().unwrap().to_string();
        let err = rt
            .block_on(bind(&addr, "/etc/clawprobe.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&addr) && err.contains("server.listen"),
            "{err}"
        );
        assert!(err.contains("/etc/clawprobe.toml"), "{err}");
    }
}
