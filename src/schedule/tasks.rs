//! The scheduler's background work, kept to be stopped: cycles (at most one of each kind
//! at a time) and early rechecks (at most one per target and tier, or per credential).

use super::CycleKind;
use crate::plan::{CredentialKey, TargetKey};
use crate::probe::Tier;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::task::AbortHandle;

#[derive(Debug, Default)]
pub struct Tasks {
    running: [AtomicBool; 3],
    cycles: Mutex<HashMap<CycleKind, AbortHandle>>,
    rechecks: Mutex<HashMap<RecheckKey, AbortHandle>>,
}

/// What a pending recheck is for: one target at one tier, or one credential (a generation
/// re-check of a failure that belongs to the key, such as billing).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RecheckKey {
    Target(TargetKey, Tier),
    Credential(CredentialKey),
}

/// A cycle of one kind in progress; clears the "running" flag when dropped (the cycle
/// ended or was aborted).
#[derive(Debug)]
pub struct CycleGuard {
    tasks: Arc<Tasks>,
    kind: CycleKind,
}

impl Drop for CycleGuard {
    fn drop(&mut self) {
        self.tasks.running[self.kind.index()].store(false, Ordering::SeqCst);
    }
}

impl Tasks {
    /// Marks a cycle of `kind` as running; `None` when one already is.
    pub fn begin(tasks: &Arc<Tasks>, kind: CycleKind) -> Option<CycleGuard> {
        if tasks.running[kind.index()].swap(true, Ordering::SeqCst) {
            return None;
        }
        Some(CycleGuard {
            tasks: tasks.clone(),
            kind,
        })
    }

    pub fn is_running(&self, kind: CycleKind) -> bool {
        self.running[kind.index()].load(Ordering::SeqCst)
    }

    pub fn add_cycle(&self, kind: CycleKind, handle: AbortHandle) {
        self.cycles
            .lock()
            .expect("cycles lock")
            .insert(kind, handle);
    }

    /// Pending rechecks.
    pub fn rechecks(&self) -> MutexGuard<'_, HashMap<RecheckKey, AbortHandle>> {
        self.rechecks.lock().expect("rechecks lock")
    }

    /// Whether a recheck of the target at any tier is pending.
    pub fn recheck_pending(&self, key: &TargetKey) -> bool {
        self.rechecks()
            .iter()
            .any(|(k, h)| matches!(k, RecheckKey::Target(t, _) if t == key) && !h.is_finished())
    }

    pub fn abort_all(&self) {
        for (_, h) in self.cycles.lock().expect("cycles lock").drain() {
            h.abort();
        }
        for (_, h) in self.rechecks().drain() {
            h.abort();
        }
    }
}
