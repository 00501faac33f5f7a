//! OpenClaw's JSON5 config reader, `${VAR}` substitution and model-ref parsing on arbitrary
//! text: must never panic (nor overflow the stack; run with `-rss_limit_mb=2048`).
#![no_main]

use clawprobe::openclaw::{config_file, modelref};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = config_file::parse_json5(text, Path::new("openclaw.json")) {
        let _ = config_file::config_env_vars(&v);
        let mut base = serde_json::json!({"agents": {"defaults": {}}});
        config_file::deep_merge(&mut base, v);
    }
    let _ = config_file::substitute_str(text, &|k| (k.len() % 2 == 0).then(|| "x".into()));
    let aliases = BTreeMap::from([("fast".to_string(), text.to_string())]);
    let configured = BTreeMap::from([("acme".to_string(), vec![text.to_string()])]);
    let ctx = modelref::RefContext {
        aliases: &aliases,
        configured: &configured,
    };
    let _ = modelref::resolve(text, &ctx);
    let _ = modelref::resolve("fast", &ctx);
    let _ = clawprobe::config::Config::parse_str(text, Path::new("clawprobe.toml"));
});
