//! Loading: every auth store of an install, read once and read-only, into per-place
//! [`Layer`]s (the shared state database, then one per agent dir).
//!
//! An agent dir whose SQLite store has a row ignores its legacy JSON (OpenClaw migrated it
//! and warns about the leftover file). SQLite files are read through a private snapshot
//! (see [`super::sqlite`]); JSON files with `std::fs::read_to_string`.

use super::store::{self, StoreDoc};
use super::{sqlite, AgentDir, AuthError, AuthStores, Layer, MAIN_AGENT};
use std::path::Path;

/// `path` relative to the state dir when inside it (the store label shown in output).
fn label_for(state_dir: &Path, path: &Path) -> String {
    path.strip_prefix(state_dir)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// The largest legacy JSON store read.
const MAX_JSON_STORE_BYTES: u64 = 16 << 20;

fn read_json_file(path: &Path) -> Result<Option<serde_json::Value>, AuthError> {
    // Checked first: a FIFO in the file's place would block the read.
    if !present(path)? {
        return Ok(None);
    }
    match crate::openclaw::regular::read_to_string(path, MAX_JSON_STORE_BYTES) {
        Ok(text) if text.len() as u64 > MAX_JSON_STORE_BYTES => Err(AuthError::Store {
            path: path.to_path_buf(),
            message: "larger than 16 MiB: it cannot be an OpenClaw auth store".into(),
        }),
        Ok(text) => store::parse_json(&text)
            .map(Some)
            .map_err(|message| AuthError::Store {
                path: path.to_path_buf(),
                message,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AuthError::Store {
            path: path.to_path_buf(),
            message: format!("cannot read file: {e}"),
        }),
    }
}

/// Whether the store file at `path` is there. Absent (nothing at the path, or a parent that
/// does not exist) is `false`: OpenClaw starts that store empty too. Anything else that is
/// not a readable regular file is an error naming it, never a silent "absent": a directory,
/// FIFO or socket in its place, a symlink loop, a state dir clawprobe may not look into. If
/// those read as "no store", routes would switch to other credentials (or to none) with no
/// finding, while the gateway, which can read the file, would not.
fn present(path: &Path) -> Result<bool, AuthError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(true),
        Ok(m) => {
            let what = if m.is_dir() {
                "a directory"
            } else {
                "not a regular file (a FIFO, socket or device)"
            };
            Err(AuthError::Store {
                path: path.to_path_buf(),
                message: format!(
                    "it is {what}, not a store file; put the store back or remove what is in its place"
                ),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(AuthError::Store {
            path: path.to_path_buf(),
            message: format!(
                "cannot look at it ({e}); give clawprobe read access to OpenClaw's state directory"
            ),
        }),
    }
}

fn parse_row(path: &Path, what: &str, json: &str) -> Result<serde_json::Value, AuthError> {
    store::parse_json(json).map_err(|m| AuthError::Store {
        path: path.to_path_buf(),
        message: format!("{what}: {m}"),
    })
}

/// Picks row `primary`, else the last row (rows are ordered by their update time).
fn pick_primary(rows: Vec<(String, String)>) -> Option<String> {
    let mut last = None;
    for (k, v) in rows {
        if k == "primary" {
            return Some(v);
        }
        last = Some(v);
    }
    last
}

impl AuthStores {
    /// Reads every store read-only. Absent stores are empty, not errors; the first broken
    /// store (corrupt, truncated, unreadable) is an error naming its file.
    pub fn load(state_dir: &Path, agents: &[AgentDir]) -> Result<AuthStores, AuthError> {
        let mut out = AuthStores::default();
        out.shared = out.load_shared(state_dir)?;
        let mut dirs: Vec<AgentDir> = agents.to_vec();
        if !dirs.iter().any(|a| a.agent == MAIN_AGENT) {
            dirs.push(AgentDir {
                agent: MAIN_AGENT.into(),
                dir: state_dir.join("agents").join(MAIN_AGENT).join("agent"),
            });
        }
        for a in &dirs {
            if out.agents.iter().any(|(id, _)| *id == a.agent) {
                continue;
            }
            let mut layer = out.load_agent_dir(state_dir, &a.dir)?;
            // The oldest layout kept the main agent's store in `<stateDir>/agent/`.
            let oldest = state_dir.join("agent");
            if a.agent == MAIN_AGENT && layer.doc.profiles.is_empty() && a.dir != oldest {
                let old = out.load_agent_dir(state_dir, &oldest)?;
                if !old.doc.profiles.is_empty() {
                    layer = old;
                }
            }
            out.agents.push((a.agent.clone(), layer));
        }
        Ok(out)
    }

    fn note_file(&mut self, p: &Path) {
        if !self.files.iter().any(|f| f == p) {
            self.files.push(p.to_path_buf());
        }
    }

    fn load_shared(&mut self, state_dir: &Path) -> Result<Layer, AuthError> {
        let db = state_dir.join("state").join("openclaw.sqlite");
        if !present(&db)? {
            return Ok(Layer::default());
        }
        let snap = sqlite::snapshot(&db)?;
        self.note_file(&db);
        for w in sqlite::sidecars(&db) {
            self.note_file(&w);
        }
        let rows = sqlite::read_kv(
            &db,
            &snap,
            "config_machine_state",
            ("state_key", "value_json", "updated_at_ms"),
            &["authProfiles.store", "authProfiles.state"],
        )?;
        let label = label_for(state_dir, &db);
        let mut doc = StoreDoc::default();
        if let Some((_, v)) = rows.iter().find(|(k, _)| k == "authProfiles.store") {
            doc = store::parse_doc(&parse_row(&db, "row authProfiles.store", v)?, &label);
        }
        if let Some((_, v)) = rows.iter().find(|(k, _)| k == "authProfiles.state") {
            let state = store::parse_state(&parse_row(&db, "row authProfiles.state", v)?);
            store::overlay_state(&mut doc, state);
        }
        Ok(Layer { doc })
    }

    fn load_agent_dir(&mut self, state_dir: &Path, dir: &Path) -> Result<Layer, AuthError> {
        let db = dir.join("openclaw-agent.sqlite");
        let mut sqlite_store: Option<StoreDoc> = None;
        let mut sqlite_state: Option<StoreDoc> = None;
        if present(&db)? {
            let snap = sqlite::snapshot(&db)?;
            self.note_file(&db);
            for w in sqlite::sidecars(&db) {
                self.note_file(&w);
            }
            let label = label_for(state_dir, &db);
            let rows = sqlite::read_kv(
                &db,
                &snap,
                "auth_profile_store",
                ("store_key", "store_json", "updated_at"),
                &[],
            )?;
            if let Some(v) = pick_primary(rows) {
                let v = parse_row(&db, "table auth_profile_store", &v)?;
                sqlite_store = Some(store::parse_doc(&v, &label));
            }
            let rows = sqlite::read_kv(
                &db,
                &snap,
                "auth_profile_state",
                ("state_key", "state_json", "updated_at"),
                &[],
            )?;
            if let Some(v) = pick_primary(rows) {
                let v = parse_row(&db, "table auth_profile_state", &v)?;
                sqlite_state = Some(store::parse_state(&v));
            }
        }
        let mut doc = match sqlite_store {
            Some(d) => d,
            None => {
                let legacy = dir.join("auth-profiles.json");
                match read_json_file(&legacy)? {
                    Some(v) => {
                        self.note_file(&legacy);
                        store::parse_doc(&v, &label_for(state_dir, &legacy))
                    }
                    None => StoreDoc::default(),
                }
            }
        };
        match sqlite_state {
            Some(s) => store::overlay_state(&mut doc, s),
            None => {
                let legacy = dir.join("auth-state.json");
                if let Some(v) = read_json_file(&legacy)? {
                    self.note_file(&legacy);
                    store::overlay_state(&mut doc, store::parse_state(&v));
                }
            }
        }
        Ok(Layer { doc })
    }
}
