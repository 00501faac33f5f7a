//! File-system helpers shared by integration tests: installing the OpenClaw fixtures into a
//! temporary home, and snapshots that prove clawprobe changed nothing there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Bytes and mtime of every file under `dir`: any write, creation or removal shows.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
                out.insert(p.clone(), (std::fs::read(&p).unwrap(), mtime));
            }
        }
    }
    out
}

/// Recursive copy.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// The install written by the real OpenClaw CLI 2026.9.6.
pub fn cli_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openclaw/cli-2026.9.6")
}

/// Installs the CLI fixture as `<home>/.openclaw` with the `<HOME>` placeholder made real
/// and every provider's `http://127.0.0.1:9` replaced by `base` (if given). Returns the
/// state dir.
pub fn install_cli_fixture(home: &Path, base: Option<&str>) -> PathBuf {
    let state = home.join(".openclaw");
    copy_dir(&cli_fixture(), &state);
    let cfg = state.join("openclaw.json");
    let mut text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("<HOME>", &home.display().to_string());
    if let Some(b) = base {
        text = text.replace("http://127.0.0.1:9", b);
    }
    std::fs::write(&cfg, text).unwrap();
    state
}
