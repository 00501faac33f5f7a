//! Read-only access to OpenClaw's SQLite stores: a private snapshot that lives in memory.
//!
//! The gateway keeps these databases open in WAL mode while it runs. clawprobe promises never
//! to create, lock or change anything in the OpenClaw directory, and the snapshot must be the
//! committed state even while the gateway writes. The options, and why this module reads the
//! bytes itself:
//!
//! - **Open the original with `mode=ro`** (`SQLITE_OPEN_READONLY`): SQLite still takes
//!   `fcntl` locks on the database and its `-shm`, needs the `-shm` index (creates it, or
//!   fails when the directory is read-only), writes its read mark into `-shm`, may run WAL
//!   recovery, and a long read holds back the gateway's checkpoints. That is writing and
//!   locking in the OpenClaw directory.
//! - **Open the original with `immutable=1`**: no locks and no `-shm`, but SQLite then
//!   assumes nothing changes and ignores the `-wal` altogether. Measured (SQLite 3.40, a
//!   WAL database with an update not yet checkpointed): `immutable=1` reads the old value,
//!   `mode=ro` the new one. Credentials rotated a minute ago live in the WAL until the next
//!   checkpoint, so `immutable=1` would probe with the previous key; and a checkpoint that
//!   rewrites pages during the read gives torn results or `SQLITE_CORRUPT`. Wrong, so out.
//! - **Copy the files to a temp dir and open the copy** (what this module did before): the
//!   copies hold every key. Under umask 022 they were world-readable while they existed
//!   (an unprivileged local user read 5-7 real keys during `check` runs), and a crash or
//!   signal leaves them behind.
//! - **What it does now: no file at all.** The database and its `-wal` are read with plain
//!   reads into memory (like `cp`), the WAL is replayed onto the page image in memory
//!   exactly as SQLite's own WAL recovery does when it opens a database without `-shm`
//!   (header and frame checksums, salts, frames up to the last commit frame; a torn or
//!   uncommitted tail is ignored, so a transaction still being written is not seen), and
//!   the image is handed to SQLite's in-memory database (`sqlite3_deserialize`). Nothing is
//!   written anywhere, so there is no temp file to protect, clean up after a signal, or leak.
//!
//! Consistency with a live writer: size and mtime of the database, `-wal` and `-journal` are
//! compared before and after the reads; if the gateway wrote in between (a commit, a
//! checkpoint), the snapshot is taken again, up to [`MAX_ATTEMPTS`] times. A database in
//! rollback-journal mode with a hot `-journal` (a write transaction in progress, whose
//! uncommitted pages may already be in the database file) is waited for and read again: the
//! committed state, never a dirty read; if the journal stays, the error says so and the next
//! reload (the journal's disappearance is watched, see [`sidecars`]) reads it.

use super::AuthError;
use rusqlite::{Connection, DatabaseName, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Snapshot attempts before giving up on a database that changes during every read, or
/// whose rollback journal stays hot.
pub(crate) const MAX_ATTEMPTS: usize = 5;

/// Pause between attempts: a gateway's write transaction takes milliseconds.
const RETRY_PAUSE: Duration = Duration::from_millis(40);

/// Largest database (plus WAL) read into memory. OpenClaw's stores are kilobytes to a few
/// megabytes; a file this large is not one of them.
const MAX_DB_BYTES: u64 = 256 * 1024 * 1024;

fn err(path: &Path, message: impl Into<String>) -> AuthError {
    AuthError::Store {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn with_suffix(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// The files besides the database whose appearance or change means its content changed:
/// `-wal` (WAL mode; created when the gateway first writes after start, so a rotated key
/// can live only there) and `-journal` (rollback mode). The reload watcher watches them
/// whether or not they exist yet. `-shm` is only SQLite's index of the WAL.
pub(crate) fn sidecars(db: &Path) -> [PathBuf; 2] {
    [with_suffix(db, "-wal"), with_suffix(db, "-journal")]
}

type Stamp = Option<(u64, Option<SystemTime>)>;

fn stamp(p: &Path) -> Stamp {
    std::fs::metadata(p)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

/// A consistent, private snapshot of a database: an in-memory SQLite database.
pub(crate) struct Snapshot {
    pub conn: Connection,
}

/// Reads `path` whole, or `None` if it does not exist. Never blocks on a FIFO in its place
/// ([`crate::openclaw::regular`]).
fn read_file(path: &Path, budget: u64) -> Result<Option<Vec<u8>>, AuthError> {
    let buf = match crate::openclaw::regular::read(path, budget) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(path, format!("cannot read file: {e}"))),
    };
    if buf.len() as u64 > budget {
        return Err(err(
            path,
            format!(
                "larger than {} MiB, which no OpenClaw auth store is; check the path",
                MAX_DB_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(Some(buf))
}

/// The first 8 bytes of a rollback journal whose transaction has not been committed (or
/// rolled back) yet; a committed journal is deleted, truncated or has this zeroed.
const JOURNAL_MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];

fn journal_is_hot(journal: &Path) -> Result<bool, AuthError> {
    match crate::openclaw::regular::read(journal, 7) {
        Ok(head) => Ok(head.len() == 8 && head[..] == JOURNAL_MAGIC),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(err(journal, format!("cannot read file: {e}"))),
    }
}

/// Takes a snapshot of `db` (see the module docs): its committed state, in memory.
pub(crate) fn snapshot(db: &Path) -> Result<Snapshot, AuthError> {
    let [wal, journal] = sidecars(db);
    let mut busy = "changed during";
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(RETRY_PAUSE);
        }
        let before = (stamp(db), stamp(&wal), stamp(&journal));
        if before.0.is_none() {
            return Err(err(db, "file disappeared while reading it"));
        }
        if journal_is_hot(&journal)? {
            busy = "had a write transaction in progress (hot rollback journal) during";
            continue;
        }
        let Some(mut image) = read_file(db, MAX_DB_BYTES)? else {
            continue;
        };
        let wal_bytes = read_file(&wal, MAX_DB_BYTES - image.len() as u64)?;
        let after = (stamp(db), stamp(&wal), stamp(&journal));
        if before != after || journal_is_hot(&journal)? {
            busy = "changed during";
            continue;
        }
        if let Some(w) = wal_bytes.as_deref() {
            replay_wal(&mut image, w).map_err(|m| err(&wal, m))?;
        }
        check_header(db, &image)?;
        // The in-memory database is in rollback mode: the image says WAL (file format
        // versions 2 at offsets 18 and 19), which the in-memory VFS cannot do.
        image[18] = 1;
        image[19] = 1;
        let conn =
            open_image(image).map_err(|e| err(db, format!("cannot open SQLite database: {e}")))?;
        return Ok(Snapshot { conn });
    }
    Err(err(
        db,
        format!(
            "the database {busy} each of {MAX_ATTEMPTS} reads (the gateway is writing); it will be read again on the next reload"
        ),
    ))
}

/// Hands `image` to SQLite as an in-memory database (read-only: nothing is ever written).
fn open_image(image: Vec<u8>) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open_with_flags(
        ":memory:",
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let len = image.len();
    // SAFETY: sqlite3_deserialize takes ownership of a buffer from sqlite3_malloc (it frees
    // it with sqlite3_free): allocate one of `len` bytes (at least 1: malloc(0) may return
    // NULL), check it, and copy the image into it before handing it over.
    let data = unsafe {
        let ptr = rusqlite::ffi::sqlite3_malloc64(len.max(1) as u64).cast::<u8>();
        let Some(ptr) = std::ptr::NonNull::new(ptr) else {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOMEM),
                None,
            ));
        };
        std::ptr::copy_nonoverlapping(image.as_ptr(), ptr.as_ptr(), len);
        rusqlite::serialize::OwnedData::from_raw_nonnull(ptr, len)
    };
    drop(image);
    conn.deserialize(DatabaseName::Main, data, true)?;
    Ok(conn)
}

/// A 32-bit word of a WAL (big-endian, like every SQLite integer on disk).
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing from `s`; the words
/// are big-endian when `big` (magic 0x377f0683), else little-endian.
fn wal_checksum(mut s: (u32, u32), data: &[u8], big: bool) -> (u32, u32) {
    for pair in data.chunks_exact(8) {
        let word = |i: usize| {
            let b = [pair[i], pair[i + 1], pair[i + 2], pair[i + 3]];
            if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        s.0 = s.0.wrapping_add(word(0)).wrapping_add(s.1);
        s.1 = s.1.wrapping_add(word(4)).wrapping_add(s.0);
    }
    s
}

const WAL_HEADER: usize = 32;
const WAL_FRAME_HEADER: usize = 24;

/// Applies the committed frames of `wal` to the database `image`, the way SQLite recovers a
/// WAL when it opens a database without `-shm` (fileformat2.html, "The Write-Ahead Log"):
/// a WAL whose header is invalid is empty; frames count while their salts match the header
/// and their cumulative checksums hold; only frames up to the last commit frame (one with a
/// database size) apply, the last copy of a page wins, and the database takes the size the
/// commit frame gives. A tail that is torn or not committed yet is ignored.
fn replay_wal(image: &mut Vec<u8>, wal: &[u8]) -> Result<(), String> {
    if wal.len() < WAL_HEADER {
        return Ok(());
    }
    let magic = be32(wal, 0);
    if magic & !1 != 0x377f_0682 {
        return Ok(());
    }
    let big = magic & 1 == 1;
    let page_size = be32(wal, 8) as usize;
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Ok(());
    }
    let header_sum = wal_checksum((0, 0), &wal[..24], big);
    if be32(wal, 24) != header_sum.0 || be32(wal, 28) != header_sum.1 || be32(wal, 4) != 3_007_000 {
        return Ok(());
    }
    if image.len() >= 100 {
        let db_page = match u16::from_be_bytes([image[16], image[17]]) {
            1 => 65_536,
            n => usize::from(n),
        };
        if db_page != page_size {
            return Err(format!(
                "WAL page size {page_size} does not match the database's {db_page}; the store is damaged"
            ));
        }
    }
    let salts = (be32(wal, 16), be32(wal, 20));
    let mut sum = header_sum;
    // Committed frames: (page number, offset of its data), and the size after the last commit.
    let mut pending: Vec<(u32, usize)> = Vec::new();
    let mut committed: Vec<(u32, usize)> = Vec::new();
    let mut size_pages: Option<u32> = None;
    let frame = WAL_FRAME_HEADER + page_size;
    let mut at = WAL_HEADER;
    while at + frame <= wal.len() {
        let h = &wal[at..at + WAL_FRAME_HEADER];
        let (page, commit) = (be32(h, 0), be32(h, 4));
        if page == 0 || (be32(h, 8), be32(h, 12)) != salts {
            break;
        }
        sum = wal_checksum(sum, &h[..8], big);
        sum = wal_checksum(sum, &wal[at + WAL_FRAME_HEADER..at + frame], big);
        if (be32(h, 16), be32(h, 20)) != sum {
            break;
        }
        pending.push((page, at + WAL_FRAME_HEADER));
        if commit > 0 {
            committed.append(&mut pending);
            size_pages = Some(commit);
        }
        at += frame;
    }
    let Some(size_pages) = size_pages else {
        return Ok(());
    };
    let size = size_pages as usize * page_size;
    if size as u64 > MAX_DB_BYTES {
        return Err("the WAL makes the database larger than any OpenClaw auth store".into());
    }
    image.resize(size, 0);
    for (page, data) in committed {
        // Pages past the committed size are cut off by that commit anyway.
        if page > size_pages {
            continue;
        }
        let off = (page as usize - 1) * page_size;
        image[off..off + page_size].copy_from_slice(&wal[data..data + page_size]);
    }
    Ok(())
}

/// Rejects images that are not SQLite or are shorter than their header says (truncated).
/// `orig` names the file in the error.
fn check_header(orig: &Path, bytes: &[u8]) -> Result<(), AuthError> {
    let len = bytes.len() as u64;
    if len == 0 {
        return Err(err(
            orig,
            "file is empty (truncated?); restore it from a backup or let OpenClaw recreate it",
        ));
    }
    if bytes.len() < 100 || &bytes[..16] != b"SQLite format 3\0" {
        return Err(err(
            orig,
            "not a SQLite database (corrupt or truncated header); restore it from a backup",
        ));
    }
    let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65_536u64,
        n => u64::from(n),
    };
    let page_count = u64::from(u32::from_be_bytes([
        bytes[28], bytes[29], bytes[30], bytes[31],
    ]));
    let change = &bytes[24..28];
    let valid_for = &bytes[92..96];
    // The in-header size is only trusted when "version-valid-for" matches the change counter.
    if change == valid_for && page_count > 0 && len < page_size * page_count {
        return Err(err(
            orig,
            format!(
                "database is truncated: {} bytes, header says {} pages of {} bytes; restore it from a backup",
                len,
                page_count,
                page_size
            ),
        ));
    }
    Ok(())
}

fn table_exists(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

fn text(v: rusqlite::types::Value) -> Option<String> {
    match v {
        rusqlite::types::Value::Text(s) => Some(s),
        rusqlite::types::Value::Blob(b) => String::from_utf8(b).ok(),
        _ => None,
    }
}

/// Rows `(key, json)` of `table`, optionally only `keys`; an absent table is no rows.
/// `key_col`/`json_col`/`table` are fixed identifiers from the caller, never user input.
pub(crate) fn read_kv(
    db: &Path,
    snap: &Snapshot,
    table: &str,
    (key_col, json_col, order_col): (&str, &str, &str),
    keys: &[&str],
) -> Result<Vec<(String, String)>, AuthError> {
    let map_err = |e: rusqlite::Error| err(db, format!("cannot read table {table}: {e}"));
    if !table_exists(&snap.conn, table).map_err(map_err)? {
        return Ok(Vec::new());
    }
    let filter = if keys.is_empty() {
        String::new()
    } else {
        let marks: Vec<String> = (1..=keys.len()).map(|i| format!("?{i}")).collect();
        format!(" WHERE {key_col} IN ({})", marks.join(", "))
    };
    let sql = format!("SELECT {key_col}, {json_col} FROM {table}{filter} ORDER BY {order_col}");
    let mut stmt = snap.conn.prepare(&sql).map_err(map_err)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(keys.iter()), |r| {
            Ok((
                r.get::<_, rusqlite::types::Value>(0)?,
                r.get::<_, rusqlite::types::Value>(1)?,
            ))
        })
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (k, v) = row.map_err(map_err)?;
        if let (Some(k), Some(v)) = (text(k), text(v)) {
            out.push((k, v));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAL-mode database that a "gateway" connection keeps open (so its WAL is neither
    /// checkpointed nor removed), with table `kv(k, v)`.
    fn wal_db(dir: &Path) -> (PathBuf, Connection) {
        let db = dir.join("openclaw-agent.sqlite");
        let c = Connection::open(&db).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT NOT NULL);",
        )
        .unwrap();
        (db, c)
    }

    fn read_all(conn: &Connection) -> Vec<(String, String)> {
        let mut st = conn.prepare("SELECT k, v FROM kv ORDER BY k").unwrap();
        st.query_map([], |r| Ok((r.get(0).unwrap(), r.get(1).unwrap())))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn put(c: &Connection, k: &str, v: &str) {
        c.execute("INSERT OR REPLACE INTO kv VALUES (?1, ?2)", [k, v])
            .unwrap();
    }

    /// What SQLite itself reads from the files (a normal reader on the original).
    fn sqlite_view(db: &Path) -> Vec<(String, String)> {
        read_all(&Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap())
    }

    #[test]
    fn the_snapshot_sees_what_sqlite_sees_in_the_wal() {
        let d = tempfile::tempdir().unwrap();
        let (db, gw) = wal_db(d.path());
        put(&gw, "a", "one");
        gw.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
        // Committed, in the WAL only: a rotated key, and enough rows to add pages.
        put(&gw, "a", "rotated");
        for i in 0..300 {
            put(&gw, &format!("row{i:03}"), &"x".repeat(100));
        }
        assert!(std::fs::metadata(sidecars(&db)[0].clone()).unwrap().len() > 4096);
        let snap = snapshot(&db).unwrap();
        let got = read_all(&snap.conn);
        assert_eq!(got, sqlite_view(&db));
        assert_eq!(got[0], ("a".to_string(), "rotated".to_string()));
    }

    #[test]
    fn an_uncommitted_or_torn_wal_tail_is_not_seen() {
        let d = tempfile::tempdir().unwrap();
        let (db, gw) = wal_db(d.path());
        put(&gw, "a", "committed");
        // A transaction big enough to spill its pages into the WAL before it commits.
        gw.execute_batch("PRAGMA cache_size=2; BEGIN;").unwrap();
        for i in 0..200 {
            put(&gw, &format!("u{i:03}"), &"y".repeat(200));
        }
        put(&gw, "a", "uncommitted");
        let wal = std::fs::read(&sidecars(&db)[0]).unwrap();
        let snap = snapshot(&db).unwrap();
        assert_eq!(read_all(&snap.conn), vec![("a".into(), "committed".into())]);
        gw.execute_batch("COMMIT;").unwrap();
        let snap = snapshot(&db).unwrap();
        assert_eq!(read_all(&snap.conn).len(), 201);
        // A torn last frame (the writer mid-append): the commit before it is what counts.
        let mut image = std::fs::read(&db).unwrap();
        let committed_wal = std::fs::read(&sidecars(&db)[0]).unwrap();
        assert!(committed_wal.len() > wal.len());
        let torn = &committed_wal[..committed_wal.len() - 100];
        replay_wal(&mut image, torn).unwrap();
        image[18] = 1;
        image[19] = 1;
        let conn = open_image(image).unwrap();
        assert_eq!(read_all(&conn), vec![("a".into(), "committed".into())]);
        // A flipped byte in a frame breaks its checksum: that frame and all after it go.
        let mut bad = committed_wal.clone();
        let last = bad.len() - 10;
        bad[last] ^= 0xff;
        let mut image = std::fs::read(&db).unwrap();
        replay_wal(&mut image, &bad).unwrap();
        image[18] = 1;
        image[19] = 1;
        assert_eq!(
            read_all(&open_image(image).unwrap()),
            vec![("a".into(), "committed".into())]
        );
    }

    /// After a checkpoint the gateway writes the WAL from its start again with new salts;
    /// the older frames behind the new ones must not be replayed.
    #[test]
    fn frames_of_an_earlier_wal_generation_are_ignored() {
        let d = tempfile::tempdir().unwrap();
        let (db, gw) = wal_db(d.path());
        for i in 0..50 {
            put(&gw, "a", &format!("v{i}"));
            put(&gw, &format!("pad{i}"), &"z".repeat(500));
        }
        gw.execute_batch("PRAGMA wal_checkpoint(PASSIVE);").unwrap();
        let long = std::fs::metadata(&sidecars(&db)[0]).unwrap().len();
        put(&gw, "a", "after-restart");
        assert_eq!(
            std::fs::metadata(&sidecars(&db)[0]).unwrap().len(),
            long,
            "WAL reused, not truncated"
        );
        let snap = snapshot(&db).unwrap();
        assert_eq!(read_all(&snap.conn), sqlite_view(&db));
        assert!(read_all(&snap.conn).contains(&("a".into(), "after-restart".into())));
    }

    /// A rollback-journal database whose writer has spilled uncommitted pages into the
    /// database file: the snapshot is the committed state or an error, never the dirty one.
    #[test]
    fn a_hot_rollback_journal_is_never_read_dirty() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("openclaw-agent.sqlite");
        let gw = Connection::open(&db).unwrap();
        gw.execute_batch(
            "PRAGMA journal_mode=DELETE;
             CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT NOT NULL); CREATE TABLE pad(x);",
        )
        .unwrap();
        put(&gw, "a", "committed");
        // Change `a`, then write enough to push its page out of a tiny cache: SQLite spills
        // it into the database file before the transaction commits.
        gw.execute_batch("PRAGMA cache_size=2; BEGIN;").unwrap();
        put(&gw, "a", "dirty");
        for _ in 0..300 {
            gw.execute("INSERT INTO pad VALUES (?1)", ["d".repeat(300)])
                .unwrap();
        }
        let journal = &sidecars(&db)[1];
        assert!(
            journal_is_hot(journal).unwrap(),
            "the test needs a hot journal"
        );
        // What a plain copy of the file reads (the defect): the uncommitted value.
        let mut image = std::fs::read(&db).unwrap();
        image[18] = 1;
        image[19] = 1;
        let kv = |c: &Connection| -> String {
            c.query_row("SELECT v FROM kv WHERE k = 'a'", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(
            kv(&open_image(image).unwrap()),
            "dirty",
            "the test needs spilled pages"
        );
        let started = std::time::Instant::now();
        match snapshot(&db) {
            Ok(s) => assert_eq!(kv(&s.conn), "committed"),
            Err(e) => {
                let e = e.to_string();
                assert!(
                    e.contains("hot rollback journal") && e.contains("openclaw-agent.sqlite"),
                    "{e}"
                );
            }
        }
        assert!(started.elapsed() < Duration::from_secs(2));
        gw.execute_batch("COMMIT;").unwrap();
        assert!(!journal_is_hot(journal).unwrap());
        assert_eq!(kv(&snapshot(&db).unwrap().conn), "dirty");
    }

    #[test]
    fn replay_never_panics_on_damaged_wals() {
        let d = tempfile::tempdir().unwrap();
        let (db, gw) = wal_db(d.path());
        for i in 0..20 {
            put(&gw, &format!("k{i}"), &"w".repeat(300));
        }
        let wal = std::fs::read(&sidecars(&db)[0]).unwrap();
        let base = std::fs::read(&db).unwrap();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..300 {
            let mut w = wal.clone();
            let cut = (next() as usize) % (w.len() + 1);
            w.truncate(cut);
            for _ in 0..(next() % 4) {
                if !w.is_empty() {
                    let i = (next() as usize) % w.len();
                    w[i] = next() as u8;
                }
            }
            let mut image = base.clone();
            let _ = replay_wal(&mut image, &w);
            let mut empty = Vec::new();
            let _ = replay_wal(&mut empty, &w);
        }
    }
}
