//! Running the real binary: a clean environment, a free loopback port, a `clawprobe serve`
//! that is killed when the test ends, plain HTTP/1.0 requests, and `/metrics` samples.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A port on 127.0.0.1 with nothing listening (bound, then released): for `server.listen`,
/// or as a provider that refuses connections.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `clawprobe` with a clean environment (`HOME` = `home`, `PATH`, nothing else), so the
/// developer's OpenClaw install, config and keys are never read. Add what a test needs.
pub fn clawprobe(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clawprobe"));
    c.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    c
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to the end.
pub fn output(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run clawprobe");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One HTTP answer.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// The header lines of an answer, as sent.
#[derive(Clone, Debug)]
pub struct Headers(String);

impl Headers {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One HTTP/1.0 request to 127.0.0.1:`port`.
pub fn request(port: u16, method: &str, path: &str) -> std::io::Result<Response> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    exchange(s, method, path, &[]).map(|(r, _)| r)
}

/// [`request`] with extra header lines; also returns the answer's headers.
pub fn request_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(Response, Headers)> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    exchange(s, method, path, headers)
}

/// One HTTP/1.0 request to 127.0.0.1:`port` from the local address `from` (any 127.x.y.z:
/// all of 127/8 is loopback), with extra header lines: for tests of per-client behaviour.
pub fn request_from(
    from: std::net::IpAddr,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Response> {
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("runtime for bound connects");
    }
    let s = RT.with(|rt| {
        rt.block_on(async {
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.bind(std::net::SocketAddr::new(from, 0))?;
            let stream = sock.connect(([127, 0, 0, 1], port).into()).await?;
            let std = stream.into_std()?;
            std.set_nonblocking(false)?;
            Ok::<_, std::io::Error>(std)
        })
    })?;
    exchange(s, method, path, headers).map(|(r, _)| r)
}

/// `Authorization: Basic …` for `user` and `password`.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine;
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn exchange(
    mut s: TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(Response, Headers)> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n{extra}\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Ok((
        Response {
            status,
            content_type,
            body: body.to_string(),
        },
        Headers(head.to_string()),
    ))
}

/// One HTTP answer with its headers and raw body (e.g. gzip).
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.0 request to 127.0.0.1:`port` with extra request headers; the body as bytes.
pub fn request_raw(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<RawResponse> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

/// The value of the sample `series` (`name` or `name{k="v",…}`, labels in any order) in a
/// text exposition: the library's own reader, [`clawprobe::metrics::text::sample`].
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    let (name, labels) = match series.split_once('{') {
        Some((n, rest)) => (n, rest.strip_suffix('}').unwrap_or(rest)),
        None => (series, ""),
    };
    clawprobe::metrics::text::sample(metrics, name, labels)
}

/// A running `clawprobe … serve`; killed when dropped.
pub struct Serve {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Serve {
    /// Spawns `cmd` (a `clawprobe … serve` listening on `port`) with stderr in `log`, and
    /// waits until `/healthz` answers 200 and the first load has finished (the server
    /// answers before it: `clawprobe_openclaw_install_status` appears once it is done).
    pub fn start(cmd: Command, port: u16, log: PathBuf) -> Serve {
        let mut s = Serve::spawn(cmd, port, log);
        s.wait_until("/healthz to answer 200", |s| {
            s.try_request("GET", "/healthz")
                .is_some_and(|r| r.status == 200)
        });
        s.wait_until("the first load to finish", |s| {
            s.try_request("GET", "/metrics")
                .is_some_and(|r| r.body.contains("clawprobe_openclaw_install_status{"))
        });
        s
    }

    /// Spawns `cmd` with stderr in `log` without waiting for anything.
    pub fn spawn(mut cmd: Command, port: u16, log: PathBuf) -> Serve {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start clawprobe");
        Serve { child, port, log }
    }

    /// Waits until the port accepts connections (a TLS listener answers no plain HTTP).
    pub fn wait_listening(&mut self) {
        let port = self.port;
        self.wait_until("the port to accept connections", |_| {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    fn wait_until(&mut self, what: &str, ok: impl Fn(&Serve) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ok(self) {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("clawprobe serve exited with {st}:\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the process logged so far (stderr).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn try_request(&self, method: &str, path: &str) -> Option<Response> {
        request(self.port, method, path).ok()
    }

    /// `method path`; panics with the log when the request fails.
    pub fn request(&self, method: &str, path: &str) -> Response {
        self.try_request(method, path)
            .unwrap_or_else(|| panic!("{method} {path} failed:\n{}", self.log_text()))
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path)
    }

    pub fn post(&self, path: &str) -> Response {
        self.request("POST", path)
    }

    /// Polls `/metrics` until `pred` holds; returns that exposition.
    pub fn wait_metrics(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.get("/metrics");
            assert_eq!(r.status, 200);
            if pred(&r.body) {
                return r.body;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}\n{}",
                r.body,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `kill -<sig>` (`HUP`, `TERM`, …).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// The process id (for signals sent by a script).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The exit status, if the process ends within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    }

    /// SIGTERM, then waits (at most 15 s) for a clean exit; returns the log.
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        let st = self
            .wait_exit(Duration::from_secs(15))
            .unwrap_or_else(|| panic!("did not stop on SIGTERM:\n{}", self.log_text()));
        assert!(st.success(), "exit status {st:?}\n{}", self.log_text());
        self.log_text()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
