//! Redaction: never panics, and a secret (>= 8 bytes, no `[`/`]`) embedded anywhere in the
//! text never survives, also when the text is cut to length (`redact_cut`, at a length taken
//! from the input). Input: first byte = secret length, then the secret, then the text.
#![no_main]

use clawprobe::secret::{redact, redact_cut, redact_key_shapes, strip_url_secrets, Secret};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = (n as usize).min(rest.len());
    let (Ok(secret), Ok(text)) = (
        std::str::from_utf8(&rest[..n]),
        std::str::from_utf8(&rest[n..]),
    ) else {
        return;
    };
    let _ = redact_key_shapes(text);
    let s = Secret::new(secret);
    let out = redact(&format!("{text}{secret}{text}"), &[&s]);
    if secret.len() >= 8
        && !secret.contains('[')
        && !secret.contains(']')
        && !"[REDACTED]".contains(secret)
    {
        assert!(!out.contains(secret), "secret survived redaction");
        let max = text.len() % 97 + secret.len() % 13;
        let cut = redact_cut(&format!("{text}{secret}"), &[&s], max);
        assert!(!cut.contains(secret), "secret survived redact_cut");
    }
    let _ = strip_url_secrets(text);
});
