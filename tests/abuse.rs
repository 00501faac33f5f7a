//! The second round of fault and abuse hardening (issue 17), end to end with the real binary
//! on 127.0.0.1: what a red-team pass found, reproduced as it was found.
//!
//! - a key echoed across the message cut, and URLs with userinfo and query, in every output;
//! - `/probe` floods against a slow provider while `/metrics` is scraped;
//! - floods of wrong passwords while Prometheus scrapes;
//! - budget caps across a restart;
//! - SQLite stores: private snapshot copies, `-wal` files appearing after start-up.
//!
//! The child processes get a clean environment (HOME in a temp dir).

mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use support::fake_provider::{FakeProvider, Reply};
use support::harness::{self, free_port, Output};

/// Not key-shaped: only value-based redaction can catch it.
const KEY: &str = "zz-ABUcanaryEnvVar-3k5m7p9r1t";

fn run(home: &Path, config: &Path, args: &[&str]) -> Output {
    let mut c: Command = harness::clawprobe(home);
    c.env("TARGET_KEY", KEY).arg("--config").arg(config);
    harness::output(c.args(args))
}

/// No head of `KEY` of four or more characters (its first characters are what a cut leaves).
fn assert_no_key_head(what: &str, text: &str) {
    for n in 4..=KEY.len() {
        assert!(
            !text.contains(&KEY[..n]),
            "{what}: {n} leading characters of the key survived:\n{text}"
        );
    }
}

/// A provider that echoes the key at a given place of a long message (401), and a baseUrl
/// with a password and a `?token=` query: neither may reach any output.
#[test]
fn a_key_echoed_across_the_cut_and_url_secrets_never_reach_output() {
    let home = tempfile::tempdir().unwrap();
    let fake = FakeProvider::start();
    // The cut was at 200 characters (the classifier's) and is now at 300 (the probe's):
    // the key straddles each for some of these paddings.
    let pads = [186, 190, 193, 196, 198, 286, 289, 292, 295, 298];
    let mut toml = "[openclaw]\nenabled = false\n\n[schedule]\nprobe_timeout_seconds = 5.0\nconcurrency = 4\nmin_key_spacing_seconds = 0.0\n".to_string();
    for pad in pads {
        let message = format!("{} {KEY} is not valid.", "a".repeat(pad));
        let body = json!({"error": {"message": message, "type": "invalid_request_error"}});
        for path in ["/models/m", "/chat/completions"] {
            fake.route(
                "*",
                &format!("/p{pad}/v1{path}"),
                Reply::json(401, body.clone()),
            );
        }
        toml.push_str(&format!(
            "\n[[targets]]\nname = \"t{pad}\"\nagent = \"a{pad}\"\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\napi = \"openai-completions\"\napi_key_env = \"TARGET_KEY\"\n",
            fake.url(&format!("/p{pad}/v1"))
        ));
    }
    // A baseUrl carrying credentials, pointing at a closed port: its transport error names
    // the URL.
    let closed = free_port();
    toml.push_str(&format!(
        "\n[[targets]]\nname = \"url\"\nagent = \"url\"\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://admin:hunter2-PWcanary@127.0.0.1:{closed}/v1?token=QUERYcanary\"\napi = \"openai-completions\"\napi_key_env = \"TARGET_KEY\"\n"
    ));
    let config = home.path().join("clawprobe.toml");
    std::fs::write(&config, toml).unwrap();

    let mut seen_messages = 0;
    for args in [
        vec!["--log.level", "debug", "check"],
        vec!["--log.level", "debug", "check", "--json"],
        vec!["--log.level", "debug", "probe", "--json"],
        vec!["--log.level", "debug", "probe", "--tier", "generation"],
    ] {
        let o = run(home.path(), &config, &args);
        for (what, text) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            let what = format!("{args:?} {what}");
            assert_no_key_head(&what, text);
            for secret in ["hunter2", "PWcanary", "QUERYcanary", "token="] {
                assert!(!text.contains(secret), "{what}: {secret} leaked:\n{text}");
            }
        }
        if args.contains(&"check") && args.contains(&"--json") {
            let doc: Value = serde_json::from_str(&o.stdout).unwrap();
            let urls: Vec<&str> = doc["targets"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|t| t["base_url"].as_str())
                .collect();
            assert!(
                urls.contains(&format!("http://127.0.0.1:{closed}/v1").as_str()),
                "the URL is shown without its secrets: {urls:?}"
            );
        }
        if args.contains(&"probe") && args.contains(&"--json") {
            let doc: Value = serde_json::from_str(&o.stdout).unwrap();
            for row in doc["routes"].as_array().unwrap() {
                let msg = row["message"].as_str().unwrap_or("");
                if row["agent"] == "url" {
                    assert_eq!(row["class"], "network", "{row}");
                    assert!(
                        msg.contains(&format!("127.0.0.1:{closed}")) || !msg.is_empty(),
                        "{row}"
                    );
                    continue;
                }
                assert_eq!(row["class"], "auth", "{row}");
                // The message got through, cut and redacted, not dropped.
                assert!(
                    msg.starts_with("aaaa") && msg.chars().count() <= 320,
                    "{row}"
                );
                seen_messages += 1;
            }
        }
    }
    assert_eq!(seen_messages, pads.len());
    // The key really went out, so it really came back in the bodies.
    assert!(fake.requests().iter().any(|r| r.dump().contains(KEY)));
}
