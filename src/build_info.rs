//! What this binary is: version, git revision, rustc version and build date, captured by
//! `build.rs` (no network; `unknown` where git is not available, as in the Docker build).
//! Read by `clawprobe_build_info`, `--version` and the landing page.

/// The crate version (`Cargo.toml`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The full git commit hash, or `unknown`.
pub const REVISION: &str = env!("CLAWPROBE_BUILD_REVISION");
/// The rustc version that built it (`1.95.0`), or `unknown`.
pub const RUST_VERSION: &str = env!("CLAWPROBE_RUST_VERSION");
/// `YYYYMMDD-HH:MM:SS` UTC: `SOURCE_DATE_EPOCH`, else the commit date (reproducible), or
/// `unknown`.
pub const BUILD_DATE: &str = env!("CLAWPROBE_BUILD_DATE");

/// The first 12 characters of the revision, for people.
pub fn short_revision() -> &'static str {
    REVISION.get(..12).unwrap_or(REVISION)
}

/// `--version`'s long form, as Prometheus exporters print it.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision: ",
    env!("CLAWPROBE_BUILD_REVISION"),
    ")\n  build date: ",
    env!("CLAWPROBE_BUILD_DATE"),
    "\n  rust version: ",
    env!("CLAWPROBE_RUST_VERSION"),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_label_safe_and_never_empty() {
        for v in [VERSION, REVISION, RUST_VERSION, BUILD_DATE] {
            assert!(!v.is_empty());
            assert!(
                v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:+_".contains(c)),
                "{v}"
            );
        }
        assert!(short_revision().len() <= 12);
        assert!(LONG_VERSION.starts_with(VERSION) && LONG_VERSION.contains(REVISION));
    }
}
