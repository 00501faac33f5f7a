//! A scripted fake model provider on 127.0.0.1 for integration tests.
//!
//! Use it through `mod support;` (`support::fake_provider`). It runs on its
//! own thread and tokio runtime, so both sync tests (spawning the real binary) and async
//! tests can use it. Every request is recorded (method, path with query, headers, body)
//! *before* the reply is produced, so hang/reset routes are recorded too.
//!
//! ```ignore
//! let fake = FakeProvider::start();
//! fake.route("GET", "/v1/models/gpt-x", Reply::json(200, json!({"id": "gpt-x"})));
//! fake.route("POST", "/v1/chat/completions", Reply::Hang);
//! // ... point a target at fake.url("/v1") ...
//! assert_eq!(fake.requests_to("/v1/models/gpt-x").len(), 1);
//! ```
//!
//! Unrouted requests get a 404 with an OpenAI-style error body.

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a route answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete response.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Reads the request, then never answers (the connection stays open).
    Hang,
    /// Reads the request, then resets the TCP connection (RST, no response).
    Reset,
    /// Sends the status and headers, then `count` chunks of `chunk`, one every `every`.
    Drip {
        status: u16,
        chunk: Vec<u8>,
        every: Duration,
        count: usize,
    },
    /// A 2xx (or any status) with a body of `bytes` bytes of JSON-ish filler.
    Huge { status: u16, bytes: usize },
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply::Respond {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn text(status: u16, body: &str) -> Reply {
        Reply::Respond {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// Adds a response header (only for [`Reply::Respond`]).
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Header names lower-case, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Everything the request carried, as text, for "the key never appears here" checks.
    pub fn dump(&self) -> String {
        let mut s = format!("{} {}\n", self.method, self.path);
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\n"));
        }
        s.push_str(&String::from_utf8_lossy(&self.body));
        s
    }
}

#[derive(Default)]
struct Shared {
    /// (method or None for any, path without query, reply); the last match wins.
    routes: Mutex<Vec<(Option<String>, String, Reply)>>,
    /// (header, value it must contain, reply otherwise), checked before the routes.
    required: Mutex<Option<(String, String, Reply)>>,
    requests: Mutex<Vec<Recorded>>,
}

/// The running fake. Dropping it stops the server.
pub struct FakeProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Body = BoxBody<Bytes, Infallible>;

impl FakeProvider {
    /// Starts on 127.0.0.1 on a free port.
    pub fn start() -> FakeProvider {
        let shared = Arc::new(Shared::default());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let sh = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("fake provider runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1:0");
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let mut stop_rx = stop_rx;
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        acc = listener.accept() => {
                            let Ok((stream, _)) = acc else { continue };
                            tokio::spawn(serve_conn(stream, sh.clone()));
                        }
                    }
                }
            });
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        let addr = addr_rx.recv().expect("fake provider address");
        FakeProvider {
            addr,
            shared,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` followed by `prefix` (e.g. `/v1`).
    pub fn url(&self, prefix: &str) -> String {
        format!("http://{}{}", self.addr, prefix)
    }

    /// Adds a route; `method` `"*"` matches any method. Later routes override earlier ones.
    pub fn route(&self, method: &str, path: &str, reply: Reply) -> &FakeProvider {
        let m = (method != "*").then(|| method.to_ascii_uppercase());
        self.shared
            .routes
            .lock()
            .unwrap()
            .push((m, path.to_string(), reply));
        self
    }

    /// Answers `reply` to every request whose `header` does not contain `value` (a key
    /// the provider checks), before any route.
    pub fn require(&self, header: &str, value: &str, reply: Reply) -> &FakeProvider {
        *self.shared.required.lock().unwrap() =
            Some((header.to_string(), value.to_string(), reply));
        self
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Requests whose path (without query) is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.split('?').next() == Some(path))
            .collect()
    }

    /// Waits up to `timeout` until at least `n` requests arrived.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let r = self.requests();
            if r.len() >= n || std::time::Instant::now() >= deadline {
                return r;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A body fed chunk by chunk from a channel (for [`Reply::Drip`]).
struct DripBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for DripBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

async fn serve_conn(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    // A second handle on the socket so a `Reset` route can set SO_LINGER=0 and close it,
    // which makes the kernel send RST instead of FIN.
    let Ok(std_stream) = stream.into_std() else {
        return;
    };
    let Ok(dup) = std_stream.try_clone() else {
        return;
    };
    let Ok(stream) = tokio::net::TcpStream::from_std(std_stream) else {
        return;
    };
    let reset = Arc::new(tokio::sync::Notify::new());
    let r2 = reset.clone();
    let svc = service_fn(move |req| handle(req, shared.clone(), r2.clone()));
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        _ = conn => {}
        _ = reset.notified() => {
            if let Ok(d) = tokio::net::TcpStream::from_std(dup) {
                let _ = d.set_zero_linger();
                drop(d);
            }
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    reset: Arc<tokio::sync::Notify>,
) -> Result<Response<Body>, Infallible> {
    let method = req.method().as_str().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let bare = path.split('?').next().unwrap_or("/").to_string();
    let recorded = Recorded {
        method: method.clone(),
        path,
        headers,
        body,
    };
    let refused = shared
        .required
        .lock()
        .unwrap()
        .as_ref()
        .filter(|(h, v, _)| {
            !recorded
                .header(h)
                .is_some_and(|got| got.contains(v.as_str()))
        })
        .map(|(_, _, r)| r.clone());
    shared.requests.lock().unwrap().push(recorded);
    let reply = refused.or_else(|| {
        shared
            .routes
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(m, p, _)| *p == bare && m.as_ref().is_none_or(|m| *m == method))
        .map(|(_, _, r)| r.clone())
    })
    .unwrap_or_else(|| {
        Reply::json(
            404,
            serde_json::json!({"error": {"message": format!("fake provider: no route for {method} {bare}"), "type": "not_found"}}),
        )
    });
    Ok(match reply {
        Reply::Respond {
            status,
            headers,
            body,
        } => {
            let mut b = Response::builder().status(status);
            for (n, v) in headers {
                b = b.header(n, v);
            }
            b.body(Full::new(Bytes::from(body)).boxed()).unwrap()
        }
        Reply::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Reply::Reset => {
            reset.notify_one();
            std::future::pending::<()>().await;
            unreachable!()
        }
        Reply::Drip {
            status,
            chunk,
            every,
            count,
        } => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
            tokio::spawn(async move {
                for _ in 0..count {
                    if tx.send(Bytes::from(chunk.clone())).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(every).await;
                }
            });
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(DripBody(rx).boxed())
                .unwrap()
        }
        Reply::Huge { status, bytes } => {
            let mut body = Vec::with_capacity(bytes);
            body.extend_from_slice(b"{\"data\":\"");
            body.resize(bytes.saturating_sub(2).max(body.len()), b'x');
            body.extend_from_slice(b"\"}");
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)).boxed())
                .unwrap()
        }
    })
}
