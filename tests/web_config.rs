//! `--web.config.file` end to end: the real binary, real TLS (certificates generated here
//! with rcgen), a real client (reqwest with rustls), loopback only.

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::harness::{clawprobe, free_port, Serve};

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        let cert = p.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// (certificate PEM, key PEM) for a leaf signed by this CA.
    fn leaf(&self, server: bool) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        p.distinguished_name.push(
            DnType::CommonName,
            if server { "clawprobe" } else { "prometheus" },
        );
        p.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

struct Server {
    serve: Serve,
    dir: tempfile::TempDir,
}

/// `clawprobe --web.config.file <dir>/web.yml serve` on a free port.
fn serve_with_web_config(dir: &Path, port: u16) -> Serve {
    let config = dir.join("clawprobe.toml");
    std::fs::write(
        &config,
        format!(
            "[openclaw]\nenabled = false\n[server]\nlisten = \"127.0.0.1:{port}\"\nwatch_interval_seconds = 0\n"
        ),
    )
    .unwrap();
    let mut cmd = clawprobe(dir);
    cmd.arg("--config")
        .arg(&config)
        .arg("--web.config.file")
        .arg(dir.join("web.yml"))
        .arg("serve");
    Serve::spawn(cmd, port, dir.join("stderr.log"))
}

impl Server {
    /// Starts `clawprobe serve --web.config.file web.yml`; `files` are written to the temp
    /// dir first (web.yml among them).
    fn start(files: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let mut serve = serve_with_web_config(dir.path(), free_port());
        serve.wait_listening();
        Server { serve, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log_text(&self) -> String {
        self.serve.log_text()
    }

    fn https(&self, p: &str) -> String {
        format!("https://127.0.0.1:{}{p}", self.serve.port)
    }

    fn http(&self, p: &str) -> String {
        format!("http://127.0.0.1:{}{p}", self.serve.port)
    }
}

/// The runtime the blocking test helpers drive reqwest's async client on.
fn rt() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// A fully read response.
#[derive(Debug)]
struct Resp {
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Resp {
    fn status(&self) -> reqwest::StatusCode {
        self.status
    }
    fn headers(&self) -> &reqwest::header::HeaderMap {
        &self.headers
    }
    fn text(self) -> Result<String, std::convert::Infallible> {
        Ok(self.body)
    }
}

trait SendBlocking {
    fn sendb(self) -> reqwest::Result<Resp>;
}

impl SendBlocking for reqwest::RequestBuilder {
    fn sendb(self) -> reqwest::Result<Resp> {
        rt().block_on(async move {
            let r = self.send().await?;
            let status = r.status();
            let headers = r.headers().clone();
            let body = r.text().await?;
            Ok(Resp {
                status,
                headers,
                body,
            })
        })
    }
}

/// A fresh client (no pooled connections, so each request is a new TLS handshake).
fn client(root: Option<&str>, identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10));
    if let Some(r) = root {
        b = b.add_root_certificate(reqwest::Certificate::from_pem(r.as_bytes()).unwrap());
    }
    if let Some((c, k)) = identity {
        b = b.identity(reqwest::Identity::from_pem(format!("{c}{k}").as_bytes()).unwrap());
    }
    let _guard = rt().enter();
    b.build().unwrap()
}

/// Wrong credentials are refused: `401`, or `429` once the client is backing off.
fn refused(status: reqwest::StatusCode) -> bool {
    status == 401 || status == 429
}

/// Retries `send` while it is throttled (`429`), as a scraper would at its next interval.
fn until_not_throttled(send: impl Fn() -> Resp) -> Resp {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let r = send();
        if r.status() != 429 || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn basic_auth_on_every_endpoint() {
    let hash = bcrypt::hash("s3cret-pass", 4).unwrap();
    let web = format!("basic_auth_users:\n  prometheus: '{hash}'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n");
    let s = Server::start(&[("web.yml", &web)]);
    let c = client(None, None);
    // Prometheus scrapes first (its credentials are cached from then on).
    let r = c
        .get(s.http("/metrics"))
        .basic_auth("prometheus", Some("s3cret-pass"))
        .sendb()
        .unwrap();
    assert_eq!(r.status(), 200);
    for path in [
        "/metrics",
        "/",
        "/healthz",
        "/readyz",
        "/probe?agent=a&ref=b",
        "/nope",
    ] {
        let r = c.get(s.http(path)).sendb().unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let h = r
            .headers()
            .get("www-authenticate")
            .expect("WWW-Authenticate");
        assert!(h.to_str().unwrap().starts_with("Basic realm="), "{h:?}");
        let r = c
            .get(s.http(path))
            .basic_auth("prometheus", Some("wrong"))
            .sendb()
            .unwrap();
        assert!(refused(r.status()), "{path}: {r:?}");
        let r = c
            .get(s.http(path))
            .basic_auth("nobody", Some("s3cret-pass"))
            .sendb()
            .unwrap();
        assert!(refused(r.status()), "{path}: {r:?}");
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"), "{r:?}");
        }
    }
    let r = c
        .post(s.http("/-/reload"))
        .basic_auth("prometheus", Some("wrong"))
        .sendb()
        .unwrap();
    assert!(refused(r.status()), "{r:?}");
    // The address failed many times, but verified credentials are never throttled.
    let r = c
        .get(s.http("/metrics"))
        .basic_auth("prometheus", Some("s3cret-pass"))
        .sendb()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frame-options"], "deny");
    let body = r.text().unwrap();
    assert!(body.contains("clawprobe_config_last_reload_successful"));
    assert!(
        body.contains("clawprobe_web_config_last_reload_successful 1"),
        "{body}"
    );
    let r = c
        .post(s.http("/-/reload"))
        .basic_auth("prometheus", Some("s3cret-pass"))
        .sendb()
        .unwrap();
    assert_eq!(r.status(), 200);

    // A new password takes effect without a restart (once two reads agree on it).
    let hash2 = bcrypt::hash("rotated-pass", 4).unwrap();
    std::fs::write(
        s.path("web.yml"),
        format!("basic_auth_users:\n  prometheus: '{hash2}'\n"),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let r = c
            .get(s.http("/metrics"))
            .basic_auth("prometheus", Some("rotated-pass"))
            .sendb()
            .unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new password never applied: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let r = until_not_throttled(|| {
        c.get(s.http("/metrics"))
            .basic_auth("prometheus", Some("s3cret-pass"))
            .sendb()
            .unwrap()
    });
    assert_eq!(r.status(), 401);
    let log = s.log_text();
    assert!(
        !log.contains("s3cret-pass") && !log.contains(&hash),
        "{log}"
    );
}

#[test]
fn tls_serves_https_refuses_plain_http_and_rotates_certificates() {
    let ca1 = Ca::new("ca one");
    let (crt, key) = ca1.leaf(true);
    let s = Server::start(&[
        ("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\n"),
        ("server.crt", &crt),
        ("server.key", &key),
    ]);
    let trusts1 = client(Some(&ca1.pem()), None);
    let r = trusts1.get(s.https("/metrics")).sendb().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains("clawprobe_"));

    // Plain HTTP to the TLS port gets no HTTP response.
    let plain = client(None, None).get(s.http("/metrics")).sendb();
    assert!(
        plain.as_ref().map(|r| r.status() != 200).unwrap_or(true),
        "plain HTTP answered: {plain:?}"
    );
    // A client that does not trust the CA fails the handshake.
    assert!(client(Some(&Ca::new("other").pem()), None)
        .get(s.https("/metrics"))
        .sendb()
        .is_err());

    // Rotation: a certificate from another CA replaces the files; no restart.
    let ca2 = Ca::new("ca two");
    let (crt2, key2) = ca2.leaf(true);
    std::fs::write(s.path("server.key"), &key2).unwrap();
    std::fs::write(s.path("server.crt"), &crt2).unwrap();
    let trusts2 = client(Some(&ca2.pem()), None);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match trusts2.get(s.https("/metrics")).sendb() {
            Ok(r) if r.status() == 200 => break,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "rotated certificate not served: {other:?}\n{}",
                    s.log_text()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    assert!(
        trusts1.get(s.https("/metrics")).sendb().is_err(),
        "old certificate still served"
    );
    // A broken rotation (garbage key) keeps the last good certificate, logs and says so on
    // /metrics.
    std::fs::write(s.path("server.key"), "not a key\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.log_text().contains("web config reload failed") {
        assert!(Instant::now() < deadline, "{}", s.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    // The gauge follows the log line once the poll task hands the outcome over: wait for
    // it (still served with the last good certificate meanwhile).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = trusts2.get(s.https("/metrics")).sendb().unwrap();
        assert_eq!(r.status(), 200);
        if r.text()
            .unwrap()
            .contains("clawprobe_web_config_last_reload_successful 0")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "gauge never 0:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = s.log_text();
    assert!(log.contains("tls_server_config.key_file"), "{log}");
    // Fixed: applied, and the gauge is back to 1.
    std::fs::write(s.path("server.key"), &key2).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = trusts2
            .get(s.https("/metrics"))
            .sendb()
            .unwrap()
            .text()
            .unwrap();
        if body.contains("clawprobe_web_config_last_reload_successful 1") {
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let server_ca = Ca::new("server ca");
    let client_ca = Ca::new("client ca");
    let (crt, key) = server_ca.leaf(true);
    let (ccrt, ckey) = client_ca.leaf(false);
    let (bad_crt, bad_key) = Ca::new("rogue ca").leaf(false);
    let hash = bcrypt::hash("pw", 4).unwrap();
    let web = format!(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients.crt\n  min_version: TLS13\nbasic_auth_users:\n  prom: '{hash}'\n"
    );
    let s = Server::start(&[
        ("web.yml", &web),
        ("server.crt", &crt),
        ("server.key", &key),
        ("clients.crt", &client_ca.pem()),
    ]);
    let root = server_ca.pem();
    assert!(
        client(Some(&root), None)
            .get(s.https("/metrics"))
            .sendb()
            .is_err(),
        "no client certificate must fail"
    );
    assert!(
        client(Some(&root), Some((&bad_crt, &bad_key)))
            .get(s.https("/metrics"))
            .sendb()
            .is_err(),
        "a certificate from another CA must fail"
    );
    let good = client(Some(&root), Some((&ccrt, &ckey)));
    // TLS and basic auth combine: the certificate alone is not enough.
    assert_eq!(good.get(s.https("/metrics")).sendb().unwrap().status(), 401);
    let r = good
        .get(s.https("/metrics"))
        .basic_auth("prom", Some("pw"))
        .sendb()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn verify_if_given_accepts_clients_without_a_certificate() {
    let ca = Ca::new("ca");
    let (crt, key) = ca.leaf(true);
    let (bad_crt, bad_key) = Ca::new("rogue").leaf(false);
    let s = Server::start(&[
        ("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: server.crt\n"),
        ("server.crt", &format!("{crt}{}", ca.pem())),
        ("server.key", &key),
    ]);
    let r = client(Some(&ca.pem()), None)
        .get(s.https("/healthz"))
        .sendb()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(client(Some(&ca.pem()), Some((&bad_crt, &bad_key)))
        .get(s.https("/healthz"))
        .sendb()
        .is_err());
}

fn run_expect_failure(dir: &Path, web: &str) -> String {
    let port = free_port();
    std::fs::write(dir.join("web.yml"), web).unwrap();
    let mut serve = serve_with_web_config(dir, port);
    let status = serve
        .wait_exit(Duration::from_secs(20))
        .expect("clawprobe kept running with a bad web config");
    let err = serve.log_text();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "must not listen"
    );
    err
}

#[test]
fn bad_web_config_stops_startup_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_expect_failure(
        dir.path(),
        "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth: RequireAndVerifyClientCert\n",
    );
    assert!(err.contains("web.yml"), "{err}");
    assert!(err.contains("client_auth"), "{err}");
    let err = run_expect_failure(dir.path(), "basic_auth_users:\n  prom: hunter2\n");
    assert!(err.contains("basic_auth_users.prom"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn an_empty_web_config_stops_startup_unless_it_says_braces() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_expect_failure(dir.path(), "");
    assert!(
        err.contains("web.yml") && err.contains("empty") && err.contains("{}"),
        "{err}"
    );
    let err = run_expect_failure(dir.path(), "# nothing yet\n");
    assert!(err.contains("empty"), "{err}");
    // `{}`: no TLS, no auth, on purpose; served with a warning.
    let s = Server::start(&[("web.yml", "{}\n")]);
    let r = client(None, None).get(s.http("/metrics")).sendb().unwrap();
    assert_eq!(r.status(), 200);
    let log = s.log_text();
    assert!(
        log.contains("WARN") && log.contains("neither TLS nor basic_auth_users"),
        "{log}"
    );
}

/// The red-team race: 300 in-place rewrites of an unchanged good file (`cat new > web.yml`
/// truncates first, so readers can see an empty file or a prefix) while an unauthenticated
/// client hammers every endpoint over plain HTTP. Before: 3,949 `200`s. Allowed: none.
#[test]
fn in_place_rewrites_of_the_web_config_never_fail_open() {
    let ca = Ca::new("race ca");
    let (crt, key) = ca.leaf(true);
    let hash = bcrypt::hash("pw", 4).unwrap();
    let web = format!(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prom: '{hash}'\n"
    );
    let s = Server::start(&[
        ("web.yml", &web),
        ("server.crt", &crt),
        ("server.key", &key),
    ]);
    // A copy of the same content, written over web.yml with the shell's `>`.
    std::fs::write(s.path("new.yml"), &web).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = s.serve.port;
    let attackers: Vec<_> = (0..3)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let paths = ["/metrics", "/probe?agent=a&ref=b", "/healthz", "/-/reload"];
                let (mut oks, mut tries) = (0u32, 0u32);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let p = paths[(tries as usize + i) % paths.len()];
                    let method = if p == "/-/reload" { "POST" } else { "GET" };
                    if let Ok(r) = support::harness::request(port, method, p) {
                        if r.status == 200 {
                            oks += 1;
                        }
                    }
                    tries += 1;
                }
                (oks, tries)
            })
        })
        .collect();
    let script = format!(
        "cd '{}' && for i in $(seq 300); do cat new.yml > web.yml; done",
        s.dir.path().display()
    );
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .status()
        .unwrap();
    assert!(st.success());
    // Let the pollers see the last state too.
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut oks, mut tries) = (0, 0);
    for a in attackers {
        let (o, t) = a.join().unwrap();
        oks += o;
        tries += t;
    }
    assert!(tries > 100, "the client barely ran: {tries}");
    assert_eq!(
        oks, 0,
        "{oks} of {tries} unauthenticated plain-HTTP requests got 200"
    );
    // Still TLS with auth, the same settings, and no failed reload for an unchanged file.
    let c = client(Some(&ca.pem()), None);
    let r = c
        .get(s.https("/metrics"))
        .basic_auth("prom", Some("pw"))
        .sendb()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .unwrap()
        .contains("clawprobe_web_config_last_reload_successful 1"));
    assert!(
        !s.log_text().contains("web config reloaded"),
        "{}",
        s.log_text()
    );
}
