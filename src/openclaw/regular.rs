//! Reading one of OpenClaw's small files without ever blocking on it.
//!
//! Every file discovery reads (`openclaw.json` and its `$include`s, `<stateDir>/.env`, file
//! SecretRefs, legacy JSON auth stores) is a regular file when OpenClaw wrote it. Something
//! else in its place — a FIFO, a socket, a device, a directory — would make a plain read
//! block forever (a FIFO with no writer) or fail obscurely, and `check` and `probe`, which
//! have no reload deadline, would hang. The file is opened non-blocking and checked on the
//! open handle (no window between a check and the read), and read to at most `limit` bytes.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Reads at most `limit` + 1 bytes of the regular file at `path` (one more than the limit
/// tells "too large" apart from "exactly at the limit"). A missing file is `NotFound`, as
/// for `std::fs::read`; anything that is not a regular file is `InvalidInput`, naming what
/// it is.
pub fn read(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else {
            "a FIFO, socket or device"
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is {what}, not a regular file"),
        ));
    }
    let mut buf = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    Ok(buf)
}

/// [`read`] as UTF-8 text (invalid sequences are an `InvalidData` error).
pub fn read_to_string(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read(path, limit)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_read_and_everything_else_is_refused_at_once() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.env");
        std::fs::write(&f, "A=1\n").unwrap();
        assert_eq!(read_to_string(&f, 100).unwrap(), "A=1\n");
        // Cut after limit + 1 bytes.
        assert_eq!(read(&f, 1).unwrap(), b"A=");
        let missing = read(&d.path().join("none"), 10).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        // A FIFO with no writer: a plain read would block this test forever.
        let fifo = d.path().join("fifo.env");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let e = read(&fifo, 10).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = read(d.path(), 10).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
    }
}
