//! A plan as the scheduler reads it: what it needs per target on every probe, computed once
//! per plan (on load and reload), not per cycle or per probe.

use super::books::Probe;
use super::budget::Scope;
use super::{spread, CycleKind};
use crate::plan::{CredentialKey, ProbePlan, TargetId};
use crate::probe::cost::probe_tokens;
use crate::probe::has_metadata_endpoint;
use crate::probe::Tier;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The plan with what the scheduler derives from it. Target and credential keys are the
/// plan's own ([`ProbePlan::key`]).
#[derive(Debug)]
pub struct PlanIndex {
    pub plan: Arc<ProbePlan>,
    /// By target id: a probeable target with no zero-token metadata endpoint
    /// ([`has_metadata_endpoint`] is false), so its metadata probe is a generation call.
    /// Known from the provider up front, not learned from a first probe.
    no_metadata: Vec<bool>,
    /// Credentials readiness waits for: those of probeable targets that have one (targets
    /// without a credential, or of an unprobeable style, are not waited for). Used with
    /// `metadata_generation_fallback`, when every probeable target is in the metadata cycle.
    ready_creds: HashSet<CredentialKey>,
    /// The same, counting only targets the metadata cycle probes by default (leaving out
    /// `no_metadata` ones): a credential whose only targets are left out gets no startup
    /// probe, so readiness must not wait for it.
    ready_creds_metadata: HashSet<CredentialKey>,
    /// Whether the "left out of the metadata cycle" line was logged for this plan.
    left_out_logged: AtomicBool,
    /// Each target's stable position within a cycle, per cycle kind (by `CycleKind` index).
    jitter: [Vec<f64>; 3],
    /// By target id: every route through it tries only this credential, so a success of a
    /// real request on its route (OpenClaw's log) is news about this target.
    attributable: Vec<bool>,
}

impl PlanIndex {
    pub fn new(plan: Arc<ProbePlan>) -> Arc<PlanIndex> {
        let ids = 0..plan.targets.len();
        let no_metadata: Vec<bool> = plan
            .targets
            .iter()
            .map(|t| t.api.is_probeable() && !has_metadata_endpoint(t))
            .collect();
        let waited = |all: bool| -> HashSet<CredentialKey> {
            ids.clone()
                .filter(|&id| {
                    let t = plan.target(id);
                    t.api.is_probeable() && t.credential.is_some() && (all || !no_metadata[id])
                })
                .map(|id| plan.credential_key(id).clone())
                .collect()
        };
        let ready_creds = waited(true);
        let ready_creds_metadata = waited(false);
        let jitter = CycleKind::ALL.map(|k| {
            ids.clone()
                .map(|id| spread::jitter_fraction(plan.key(id).as_str(), k.as_str()))
                .collect()
        });
        let attributable = crate::verdict::traffic::attributable(&plan);
        Arc::new(PlanIndex {
            plan,
            no_metadata,
            ready_creds,
            ready_creds_metadata,
            left_out_logged: AtomicBool::new(false),
            jitter,
            attributable,
        })
    }

    /// Whether target `id` has no zero-token metadata endpoint (its metadata probe is a
    /// generation call).
    pub fn no_metadata(&self, id: TargetId) -> bool {
        self.no_metadata[id]
    }

    /// Whether the regular metadata cycle probes target `id`: every target with a
    /// zero-token metadata endpoint (and unprobeable ones, recorded as skipped); the others
    /// only with `metadata_generation_fallback`.
    pub fn in_metadata_cycle(&self, id: TargetId, fallback: bool) -> bool {
        fallback || !self.no_metadata[id]
    }

    /// The credentials readiness waits for under `metadata_generation_fallback`.
    pub fn ready_creds(&self, fallback: bool) -> &HashSet<CredentialKey> {
        if fallback {
            &self.ready_creds
        } else {
            &self.ready_creds_metadata
        }
    }

    /// Target `id` probed at `tier`, as the books see it. `cycle`: the cycle that sends it
    /// (`None`: on demand or a recheck). A credential-generation probe counts against its
    /// credential's tokens per day, any other probe that spends tokens against its model's
    /// (metadata probes of targets without a metadata endpoint included: they are
    /// generation calls on that model).
    pub fn probe(&self, id: TargetId, tier: Tier, cycle: Option<CycleKind>) -> Probe<'_> {
        let target = self.plan.target(id);
        Probe {
            target: self.plan.key(id),
            credential: self.plan.credential_key(id),
            provider: &target.provider,
            style_tokens: probe_tokens(&target.api),
            scope: match (tier, cycle) {
                (Tier::Generation, Some(CycleKind::CredentialGeneration)) => {
                    Scope::Credential(self.plan.credential_key(id))
                }
                _ => Scope::Model(self.plan.key(id)),
            },
            spends: tier == Tier::Generation || self.no_metadata[id],
            on_demand: false,
        }
    }

    /// Target `id`'s stable position in a cycle of `kind`, in `[0, 1)`.
    pub fn jitter(&self, kind: CycleKind, id: TargetId) -> f64 {
        self.jitter[kind.index()][id]
    }

    /// Whether real traffic on target `id`'s route is news about its credential.
    pub fn attributable(&self, id: TargetId) -> bool {
        self.attributable.get(id).copied().unwrap_or(false)
    }

    /// True the first time it is called for this plan.
    pub fn first_left_out_log(&self) -> bool {
        !self.left_out_logged.swap(true, Ordering::SeqCst)
    }
}
