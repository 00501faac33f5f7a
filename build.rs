//! Build metadata for `clawprobe_build_info`, `--version` and the landing page: the git
//! revision, the rustc version and the build date, captured at build time.
//!
//! No network, and reproducible: the date is `SOURCE_DATE_EPOCH` when set (reproducible
//! builds), else the commit date of `HEAD`, never the wall clock, so two builds of one
//! commit are identical. Without git (the Docker build copies no `.git`) each value falls
//! back to `unknown`; `CLAWPROBE_BUILD_REVISION` / `SOURCE_DATE_EPOCH` can supply them.

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// `YYYYMMDD-HH:MM:SS` (UTC) of a Unix time, the format Prometheus' own build_info uses.
fn format_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn rustc_version() -> Option<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    // "rustc 1.95.0 (59807616e 2026-04-14)" -> "1.95.0"
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace().nth(1).map(str::to_string)
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-env-changed=CLAWPROBE_BUILD_REVISION");
    println!("cargo:rerun-if-changed=build.rs");
    // Rebuild when HEAD moves (a commit, a checkout), in a plain clone or a worktree.
    if let Some(git_dir) = git(&dir, &["rev-parse", "--absolute-git-dir"]) {
        let git_dir = Path::new(&git_dir);
        println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
        if let Some(common) = git(
            &dir,
            &["rev-parse", "--path-format=absolute", "--git-common-dir"],
        ) {
            let common = Path::new(&common);
            println!(
                "cargo:rerun-if-changed={}",
                common.join("packed-refs").display()
            );
            if let Some(r) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
                println!("cargo:rerun-if-changed={}", common.join(r).display());
            }
        }
    }

    let revision = std::env::var("CLAWPROBE_BUILD_REVISION")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| git(&dir, &["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let date = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .or_else(|| git(&dir, &["log", "-1", "--format=%ct", "HEAD"]).and_then(|s| s.parse().ok()))
        .map(format_date)
        .unwrap_or_else(|| "unknown".into());
    let rustc = rustc_version().unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CLAWPROBE_BUILD_REVISION={revision}");
    println!("cargo:rustc-env=CLAWPROBE_BUILD_DATE={date}");
    println!("cargo:rustc-env=CLAWPROBE_RUST_VERSION={rustc}");
}
