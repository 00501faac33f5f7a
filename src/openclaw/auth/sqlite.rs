//! Read-only access to OpenClaw's SQLite stores through a private snapshot.
//!
//! Why a copy instead of opening the file read-only: the gateway keeps these databases open
//! in WAL mode while it runs. Any SQLite connection to the original — even with
//! `SQLITE_OPEN_READONLY` — takes shared locks, and in WAL mode it needs the `-shm` index:
//! it creates `-shm`/`-wal` when they are absent, may run WAL recovery, and holds a read
//! mark that can stall the gateway's checkpoints. clawprobe promises never to create, lock
//! or change anything in the OpenClaw directory, so the original is never handed to SQLite.
//!
//! Instead the database file and its `-wal` (when present) are copied with plain reads into
//! a private temp dir and the copy is opened there. SQLite replays the copied WAL on the
//! copy (validating frame checksums), so committed transactions still in the WAL are seen,
//! while frames of a transaction that has not committed yet carry no commit marker and are
//! ignored. The `-shm` file is never copied: it is only a cache that SQLite rebuilds from the
//! WAL. Size and mtime of both files are compared before and after the copy; if the gateway
//! wrote in between (e.g. a checkpoint), the copy is retried, up to [`MAX_ATTEMPTS`] times.

use super::AuthError;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Copy attempts before giving up on a database that changes during every copy.
pub(crate) const MAX_ATTEMPTS: usize = 3;

fn err(path: &Path, message: impl Into<String>) -> AuthError {
    AuthError::Store {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn wal_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_os_string();
    s.push("-wal");
    PathBuf::from(s)
}

type Stamp = Option<(u64, Option<SystemTime>)>;

fn stamp(p: &Path) -> Stamp {
    std::fs::metadata(p)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

/// The copy inherits the source's mode; a read-only source would make SQLite open the copy
/// read-only, and a read-only WAL database without `-shm` cannot be opened.
fn make_writable(p: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600));
    }
    #[cfg(not(unix))]
    if let Ok(meta) = std::fs::metadata(p) {
        let mut perm = meta.permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        let _ = std::fs::set_permissions(p, perm);
    }
}

/// A private, consistent copy of a database; dropped with its temp dir.
pub(crate) struct Snapshot {
    _dir: tempfile::TempDir,
    pub conn: Connection,
    /// The original's `-wal`, when one existed (for the reload watcher).
    pub wal: Option<PathBuf>,
}

/// Copies `db` (and `db-wal`) into a temp dir and opens the copy.
pub(crate) fn snapshot(db: &Path) -> Result<Snapshot, AuthError> {
    let wal = wal_path(db);
    for _ in 0..MAX_ATTEMPTS {
        let before = (stamp(db), stamp(&wal));
        if before.0.is_none() {
            return Err(err(db, "file disappeared while reading it"));
        }
        let dir = tempfile::Builder::new()
            .prefix("clawprobe-db-")
            .tempdir()
            .map_err(|e| {
                err(
                    db,
                    format!("cannot create a temp dir for the snapshot: {e}"),
                )
            })?;
        let copy = dir.path().join("store.sqlite");
        std::fs::copy(db, &copy).map_err(|e| err(db, format!("cannot read file: {e}")))?;
        make_writable(&copy);
        let had_wal = before.1.is_some();
        if had_wal {
            let wal_copy = dir.path().join("store.sqlite-wal");
            match std::fs::copy(&wal, &wal_copy) {
                Ok(_) => make_writable(&wal_copy),
                // Checkpointed and removed between stat and copy: retry.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(err(&wal, format!("cannot read file: {e}"))),
            }
        }
        let after = (stamp(db), stamp(&wal));
        if before != after {
            continue;
        }
        check_header(db, &copy)?;
        let conn = Connection::open_with_flags(
            &copy,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| err(db, format!("cannot open SQLite database: {e}")))?;
        // Fail fast instead of waiting on a lock: nobody else knows this private copy.
        let _ = conn.busy_timeout(std::time::Duration::from_millis(0));
        return Ok(Snapshot {
            _dir: dir,
            conn,
            wal: had_wal.then_some(wal),
        });
    }
    Err(err(
        db,
        format!(
            "the database changed during each of {MAX_ATTEMPTS} copy attempts (the gateway is writing heavily); it will be read again on the next reload"
        ),
    ))
}

/// Rejects files that are not SQLite or are shorter than their header says (truncated).
/// `orig` names the file in the error; `copy` is what is inspected.
fn check_header(orig: &Path, copy: &Path) -> Result<(), AuthError> {
    use std::io::Read;
    let read_err = |e: std::io::Error| err(orig, format!("cannot read copy: {e}"));
    let mut f = std::fs::File::open(copy).map_err(read_err)?;
    let len = f.metadata().map_err(read_err)?.len();
    let mut bytes = Vec::with_capacity(100);
    f.by_ref()
        .take(100)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
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
