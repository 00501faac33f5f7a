//! The command-line conventions of a Prometheus exporter (issue 14): `--version`,
//! `--log.format logfmt|json` (`text` an alias), and no colour escape codes in logs that
//! do not go to a terminal.

mod support;

use std::path::{Path, PathBuf};
use support::harness::{clawprobe, output};

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
