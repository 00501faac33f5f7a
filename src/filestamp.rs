//! What a watched file looks like, for reload-on-change: the files a plan was read from
//! (OpenClaw's config, includes, auth stores, `.env`) and the web config with its
//! certificates. One type for both watchers, so they agree on what a change is.
//!
//! A change is a change of content (SHA-256), as blackbox_exporter reloads by checksum:
//! a rename-into-place of a file of the same size within one mtime tick is seen, and a
//! `touch` that changes nothing is not a reload. To stay cheap when polled often (the web
//! config is checked on every connection), the content is only read again when the
//! metadata changed: size, mtime, ctime or inode (a rename changes the inode and ctime).

use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The metadata that gates a re-read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Meta {
    len: u64,
    mtime: Option<SystemTime>,
    ctime: (i64, i64),
    ino: u64,
    dev: u64,
}

fn meta(path: &Path) -> Option<Meta> {
    let m = std::fs::metadata(path).ok()?;
    Some(Meta {
        len: m.len(),
        mtime: m.modified().ok(),
        ctime: (m.ctime(), m.ctime_nsec()),
        ino: m.ino(),
        dev: m.dev(),
    })
}

/// The checksum of a regular file's content. Anything else (a FIFO, a device, a directory)
/// is never opened: reading a FIFO blocks until someone writes to it, and the watcher must
/// not hang on a file someone replaced by one. Its metadata still tells the change.
fn digest(path: &Path) -> Option<[u8; 32]> {
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    Some(Sha256::digest(&bytes).into())
}

/// One file as last seen: its metadata and a checksum of its content. A missing or
/// unreadable file is a state too (`None`), so its appearance is a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStamp {
    meta: Option<Meta>,
    digest: Option<[u8; 32]>,
}

impl FileStamp {
    /// Looks at `path` now.
    pub fn read(path: &Path) -> FileStamp {
        FileStamp {
            meta: meta(path),
            digest: digest(path),
        }
    }

    /// Whether the content of `path` differs from this stamp. Reads the file only when
    /// its metadata changed; when only the metadata changed, remembers the new metadata so
    /// the next look is a `stat` again.
    pub fn content_changed(&mut self, path: &Path) -> bool {
        let now = meta(path);
        if now == self.meta {
            return false;
        }
        if digest(path) == self.digest {
            self.meta = now;
            return false;
        }
        true
    }
}

/// A set of watched files and how each looked at the last (re)load.
#[derive(Clone, Debug, Default)]
pub struct WatchedFiles {
    files: Vec<(PathBuf, FileStamp)>,
}

impl WatchedFiles {
    /// Stamps `paths` now.
    pub fn new<I: IntoIterator<Item = PathBuf>>(paths: I) -> WatchedFiles {
        WatchedFiles {
            files: paths
                .into_iter()
                .map(|p| {
                    let s = FileStamp::read(&p);
                    (p, s)
                })
                .collect(),
        }
    }

    /// The watched paths, in the order given.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(p, _)| p.as_path())
    }

    /// Adds `path`, stamped now.
    pub fn push(&mut self, path: PathBuf) {
        let s = FileStamp::read(&path);
        self.files.push((path, s));
    }

    /// The first file whose content changed since it was stamped, if any.
    pub fn changed(&mut self) -> Option<&Path> {
        self.files
            .iter_mut()
            .find_map(|(p, s)| s.content_changed(p).then_some(p.as_path()))
    }

    /// One digest of every file's path and content (a missing file counts as a state): two
    /// sets with the same paths and equal fingerprints had the same content when stamped.
    /// The web config applies a change only once two reads in a row agree on it.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for (p, s) in &self.files {
            let path = p.as_os_str().as_encoded_bytes();
            h.update((path.len() as u64).to_le_bytes());
            h.update(path);
            match s.digest {
                Some(d) => {
                    h.update([1]);
                    h.update(d);
                }
                None => h.update([0]),
            }
        }
        h.finalize().into()
    }

    /// The same files, stamped now.
    pub fn restamped(&self) -> WatchedFiles {
        WatchedFiles::new(self.files.iter().map(|(p, _)| p.clone()))
    }

    /// Watches `paths`, taking each one's stamp from `earlier` where `earlier` has it and
    /// stamping only the others now. A reload stamps the files it is about to read first:
    /// a write that lands while it reads (after the read, before a later stamp) then still
    /// counts as a change at the next check, instead of being taken for the content the
    /// plan was built from; and no file is read twice for it.
    pub fn reusing(paths: Vec<PathBuf>, earlier: &WatchedFiles) -> WatchedFiles {
        WatchedFiles {
            files: paths
                .into_iter()
                .map(|p| {
                    let s = match earlier.files.iter().find(|(q, _)| *q == p) {
                        Some((_, s)) => s.clone(),
                        None => FileStamp::read(&p),
                    };
                    (p, s)
                })
                .collect(),
        }
    }

    /// Stamps every file again, e.g. after a reload that failed, so the same broken
    /// content is not retried until it changes again.
    pub fn restamp(&mut self) {
        for (p, s) in &mut self.files {
            *s = FileStamp::read(p);
        }
    }
}

/// Saves `contents` to `path` the way atomic writers do (a temp file beside it, renamed
/// over it), keeping the old mtime, so only the inode, ctime and content change.
#[cfg(test)]
pub(crate) fn rename_into_place(path: &Path, contents: &str) {
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_changes_count_and_touches_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("openclaw.json");
        std::fs::write(&p, "{ a: 1 }").unwrap();
        let mut w = WatchedFiles::new([p.clone()]);
        assert_eq!(w.changed(), None);
        // Same bytes written again (a touch): metadata changed, content did not.
        let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
        std::fs::write(&p, "{ a: 1 }").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(mtime + std::time::Duration::from_secs(5))
            .unwrap();
        assert_eq!(w.changed(), None);
        std::fs::write(&p, "{ a: 2 }").unwrap();
        assert_eq!(w.changed(), Some(p.as_path()));
        // Still changed until restamped (the caller reloads first).
        assert_eq!(w.changed(), Some(p.as_path()));
        w.restamp();
        assert_eq!(w.changed(), None);
        // The fingerprint follows content, not metadata.
        let fp = w.fingerprint();
        assert_eq!(w.restamped().fingerprint(), fp);
        std::fs::write(&p, "{ a: 3 }").unwrap();
        assert_ne!(w.restamped().fingerprint(), fp);
        std::fs::write(&p, "{ a: 2 }").unwrap();
        assert_eq!(w.restamped().fingerprint(), fp);
    }

    /// A write that lands while a reload reads (after its read, before its stamp) is still a
    /// change at the next check when the stamp keeps the one taken before reading.
    #[test]
    fn a_write_during_a_reload_is_seen_at_the_next_check() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("openclaw.json");
        let new_store = dir.path().join("auth-profiles.json");
        std::fs::write(&p, "{ a: 1 }").unwrap();
        let before = WatchedFiles::new([p.clone()]);
        // ... the reload reads { a: 1 } and builds its plan; meanwhile:
        std::fs::write(&p, "{ a: 2 }").unwrap();
        std::fs::write(&new_store, "{}").unwrap();
        let paths = || vec![p.clone(), new_store.clone()];
        // Stamped after reading only: the write is taken for what the plan was built from.
        assert_eq!(WatchedFiles::new(paths()).changed(), None);
        let mut w = WatchedFiles::reusing(paths(), &before);
        assert_eq!(w.changed(), Some(p.as_path()));
        // Files unchanged since `before`, and files it did not watch, are stamped as they are.
        let mut w = WatchedFiles::reusing(paths(), &WatchedFiles::new([p.clone()]));
        assert_eq!(w.changed(), None);
    }

    /// The writer's atomic save: a temp file of the same size, its mtime set to the old
    /// file's, renamed over it. Size and mtime alone would miss it.
    #[test]
    fn rename_into_place_with_same_size_and_mtime_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("openclaw.json");
        std::fs::write(&p, "{ a: 1 }").unwrap();
        let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
        let mut w = WatchedFiles::new([p.clone()]);
        rename_into_place(&p, "{ a: 2 }");
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!((m.len(), m.modified().unwrap()), (8, mtime));
        assert_eq!(w.changed(), Some(p.as_path()));
    }

    /// A file replaced by a FIFO is a change, seen without opening the FIFO (which would
    /// block this test forever); a FIFO left alone is no change.
    #[test]
    fn a_fifo_is_a_change_and_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".env");
        std::fs::write(&p, "K=1\n").unwrap();
        let mut w = WatchedFiles::new([p.clone()]);
        std::fs::remove_file(&p).unwrap();
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(w.changed(), Some(p.as_path()));
        w.restamp();
        assert_eq!(w.changed(), None);
        assert_eq!(w.paths().collect::<Vec<_>>(), vec![p.as_path()]);
    }

    #[test]
    fn appearing_and_vanishing_files_are_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".env");
        let mut w = WatchedFiles::new([p.clone()]);
        assert_eq!(w.changed(), None, "missing and still missing");
        std::fs::write(&p, "K=1\n").unwrap();
        assert_eq!(w.changed(), Some(p.as_path()));
        w.restamp();
        std::fs::remove_file(&p).unwrap();
        assert_eq!(w.changed(), Some(p.as_path()));
    }
}
