//! The `--web.config.file` reader on arbitrary text: must never panic, and an error must
//! never echo a value of the file (a value may be a password typed where a hash belongs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent-clawprobe-fuzz/web.yml");
    if let Err(e) = clawprobe::server::webconfig::check_text(text, path) {
        let msg = e.to_string();
        assert!(msg.contains("web.yml"), "error does not name the file: {msg}");
        if let Some(i) = text.find("PWmark") {
            // A marker that is only ever a value (after `: `) must not come back.
            if text[..i].ends_with(": ") {
                assert!(!msg.contains("PWmark"), "a value was echoed: {msg}");
            }
        }
    }
});
