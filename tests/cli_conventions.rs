//! The command-line conventions of a Prometheus exporter (issue 14): `--version`,
//! `--web.listen-address`, `--log.format logfmt|json` (`text` an alias), and no colour
//! escape codes in logs that do not go to a terminal.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::harness::{clawprobe, free_port, output, sample, Serve};

/// A state dir with a valid install whose `agents` filter names nobody, so `check` logs a
/// warning (and exits 0: nothing to report).
fn warn_setup(dir: &Path) -> PathBuf {
    let state = dir.join("oc");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join("openclaw.json"),
        "{ agents: { defaults: { model: { primary: \"openai/gpt-x\" } }, list: [{ id: \"main\", default: true }] } }\n",
    )
    .unwrap();
    let toml = dir.join("clawprobe.toml");
    std::fs::write(
        &toml,
        format!(
            "[openclaw]\nstate_dir = \"{s}\"\nconfig_path = \"{s}/openclaw.json\"\nagents = [\"nobody \\\"quoted\\\"\"]\n",
            s = state.display()
        ),
    )
    .unwrap();
    toml
}

#[test]
fn logs_to_a_pipe_have_no_escape_codes_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let toml = warn_setup(dir.path());
    for format in ["text", "logfmt", "json", ""] {
        let mut cmd = clawprobe(dir.path());
        cmd.arg("--config").arg(&toml);
        if !format.is_empty() {
            cmd.arg("--log.format").arg(format);
        }
        // `output` captures stderr through a pipe: not a terminal.
        let o = output(cmd.arg("check"));
        assert_eq!(o.code, 0, "{format}: {}", o.stderr);
        let line = o
            .stderr
            .lines()
            .find(|l| l.contains("nobody"))
            .unwrap_or_else(|| panic!("{format}: no warning logged:\n{}", o.stderr));
        assert!(
            !o.stderr.contains('\x1b'),
            "{format}: escape codes:\n{:?}",
            o.stderr
        );
        if format == "json" {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["level"], "WARN", "{line}");
        } else {
            // logfmt (the default, and `text`): key=value pairs, quoted where needed.
            assert!(line.starts_with("time="), "{format}: {line}");
            assert!(
                line.contains(" level=WARN source=clawprobe::"),
                "{format}: {line}"
            );
            assert!(
                line.contains(
                    " msg=\"[openclaw].agents names an agent the OpenClaw config does not have\""
                ),
                "{format}: {line}"
            );
            assert!(
                line.contains(" agent=\"nobody \\\"quoted\\\"\""),
                "{format}: {line}"
            );
        }
    }
    let o = output(clawprobe(dir.path()).args(["--log.format", "pretty", "check"]));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("logfmt") && o.stderr.contains("json"),
        "{}",
        o.stderr
    );
}

#[test]
fn version() {
    let dir = tempfile::tempdir().unwrap();
    let o = output(clawprobe(dir.path()).arg("--version"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v = clawprobe::build_info::VERSION;
    assert!(
        o.stdout.starts_with(&format!("clawprobe {v} (revision: ")),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("build date: ") && o.stdout.contains("rust version: "));
    let o = output(clawprobe(dir.path()).arg("-V"));
    assert_eq!(o.stdout.trim(), format!("clawprobe {v}"));
}

/// `--web.listen-address` wins over `server.listen` (also after a reload), and the build
/// is on `/metrics` and the landing page.
#[test]
fn web_listen_address_overrides_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("clawprobe.toml");
    let configured = free_port();
    std::fs::write(
        &toml,
        format!("[openclaw]\nenabled = false\n[server]\nlisten = \"127.0.0.1:{configured}\"\n"),
    )
    .unwrap();
    let port = free_port();
    let mut cmd = clawprobe(dir.path());
    cmd.arg("--config")
        .arg(&toml)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("serve");
    let srv = Serve::start(cmd, port, dir.path().join("serve.log"));
    assert!(std::net::TcpStream::connect(("127.0.0.1", configured)).is_err());
    let m = srv.get("/metrics").body;
    let b = clawprobe::build_info::REVISION;
    assert_eq!(
        sample(
            &m,
            &format!(
                "clawprobe_build_info{{version=\"{}\",revision=\"{b}\",rustversion=\"{}\",builddate=\"{}\"}}",
                clawprobe::build_info::VERSION,
                clawprobe::build_info::RUST_VERSION,
                clawprobe::build_info::BUILD_DATE
            )
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "clawprobe_openclaw_install_status{status=\"disabled\"}"),
        Some(1.0)
    );
    assert!(sample(&m, "process_resident_memory_bytes").is_some_and(|v| v > 0.0));
    let page = srv.get("/").body;
    assert!(
        page.contains(&format!(
            "clawprobe {} (revision",
            clawprobe::build_info::VERSION
        )),
        "{page}"
    );
    // A reload keeps the flag's address: no "takes effect after a restart" warning.
    assert_eq!(srv.post("/-/reload").status, 200);
    std::thread::sleep(Duration::from_millis(100));
    let log = srv.stop();
    assert!(!log.contains("server.listen changed"), "{log}");
    assert!(!log.contains('\x1b'), "{log:?}");

    // A bind error names the flag.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let o = output(
        clawprobe(dir.path())
            .arg("--config")
            .arg(&toml)
            .arg(format!("--web.listen-address={addr}"))
            .arg("serve"),
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains(&addr) && o.stderr.contains("--web.listen-address"),
        "{}",
        o.stderr
    );
}
