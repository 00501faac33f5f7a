//! The merged store one agent sees (OpenClaw's `mergeAuthProfileStores`, applied layer by
//! layer: shared, then main's, then the agent's own) and the candidate profile order for a
//! provider.

use super::resolve::{is_expired, CredentialRequest};
use super::store::{StoreDoc, StoredProfile, UsageStats};
use crate::credential::CredentialKind;
use crate::openclaw::modelref::normalize_provider;
use std::collections::HashMap;

/// The merged store one agent sees.
#[derive(Default)]
pub(super) struct View<'a> {
    pub(super) profiles: Vec<&'a StoredProfile>,
    order: Vec<(String, Vec<String>)>,
    usage: HashMap<&'a str, &'a UsageStats>,
}

impl<'a> View<'a> {
    pub(super) fn profile(&self, id: &str) -> Option<&'a StoredProfile> {
        self.profiles.iter().copied().find(|p| p.id == id)
    }

    fn order_for(&self, provider: &str) -> Option<&[String]> {
        self.order
            .iter()
            .find(|(k, _)| normalize_provider(k) == provider)
            .map(|(_, v)| v.as_slice())
    }

    /// OpenClaw's `mergeAuthProfileStores(base = self, override = doc)`.
    pub(super) fn overlay(&mut self, doc: &'a StoreDoc) {
        // Profiles: override first, then base ids the override does not redefine.
        let mut profiles: Vec<&StoredProfile> = doc.profiles.iter().collect();
        profiles.extend(
            self.profiles
                .iter()
                .copied()
                .filter(|p| !doc.profiles.iter().any(|o| o.id == p.id)),
        );
        // Order: record merge; then for each provider the override has profiles for and
        // the override has no order of its own, the override's ids are put in front of
        // the base order (so a locally added profile joins an inherited order).
        let base_order = std::mem::take(&mut self.order);
        let mut order = base_order.clone();
        if let Some(o) = &doc.order {
            for (k, ids) in o {
                order.retain(|(q, _)| q != k);
                order.push((k.clone(), ids.clone()));
            }
        }
        let mut providers: Vec<String> = Vec::new();
        for p in &doc.profiles {
            let n = normalize_provider(&p.provider);
            if !providers.contains(&n) {
                providers.push(n);
            }
        }
        for prov in providers {
            let override_key = doc
                .order
                .as_ref()
                .and_then(|o| o.iter().find(|(k, _)| normalize_provider(k) == prov))
                .map(|(k, _)| k.clone());
            let base_key = base_order
                .iter()
                .find(|(k, _)| normalize_provider(k) == prov)
                .map(|(k, _)| k.clone());
            let Some(merged_key) = override_key.clone().or(base_key.clone()) else {
                continue;
            };
            order.retain(|(k, _)| *k == merged_key || normalize_provider(k) != prov);
            if override_key.is_some() {
                continue;
            }
            let mut ids: Vec<String> = doc
                .profiles
                .iter()
                .filter(|p| normalize_provider(&p.provider) == prov)
                .map(|p| p.id.clone())
                .collect();
            let base_ids = base_order
                .iter()
                .find(|(k, _)| Some(k) == base_key.as_ref())
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            for id in base_ids {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            if let Some(slot) = order.iter_mut().find(|(k, _)| *k == merged_key) {
                slot.1 = ids;
            }
        }
        self.order = order;
        self.profiles = profiles;
        for (id, s) in &doc.usage {
            self.usage.insert(id.as_str(), s);
        }
    }

    pub(super) fn stats(&self, id: &str) -> Option<&'a UsageStats> {
        self.usage.get(id).copied()
    }

    /// Every profile id with usage stats in this view, and its stats (main's overlaid by the
    /// agent's own, per profile, as `mergeRecord` does).
    pub(super) fn all_stats(&self) -> impl Iterator<Item = (&'a str, &'a UsageStats)> + '_ {
        self.usage.iter().map(|(k, v)| (*k, *v))
    }

    /// Candidate profile ids in OpenClaw's order, before secret resolution.
    pub(super) fn candidate_order(
        &self,
        req: &CredentialRequest<'_>,
        provider: &str,
    ) -> Vec<String> {
        let stored_order = self.order_for(provider).filter(|o| !o.is_empty());
        let explicit: Option<Vec<String>> = stored_order
            .map(|o| o.to_vec())
            .or_else(|| req.config_order.map(|o| o.to_vec()));
        let store_profiles: Vec<String> = self
            .profiles
            .iter()
            .filter(|p| normalize_provider(&p.provider) == provider)
            .map(|p| p.id.clone())
            .collect();
        let base: Vec<String> = match &explicit {
            Some(o) => o.clone(),
            None if !req.config_profiles.is_empty() => req.config_profiles.to_vec(),
            None => store_profiles.clone(),
        };
        let valid = |id: &String| {
            self.profile(id)
                .is_some_and(|p| normalize_provider(&p.provider) == provider)
        };
        let mut filtered: Vec<String> = Vec::new();
        for id in base.iter().filter(|id| valid(id)) {
            if !filtered.contains(id) {
                filtered.push(id.clone());
            }
        }
        // OpenClaw's repair: an order/config list naming only profiles that do not exist at
        // all falls back to the stored profiles.
        let all_missing = base.iter().all(|id| self.profile(id).is_none());
        let repaired = filtered.is_empty()
            && all_missing
            && (stored_order.is_some() || !req.config_profiles.is_empty());
        if repaired {
            filtered = store_profiles;
        }
        let now = req.now_ms;
        let in_cooldown = |id: &str| self.stats(id).is_some_and(|s| s.in_cooldown(now));
        let until = |id: &str| {
            self.stats(id)
                .and_then(|s| s.unusable_until())
                .unwrap_or(now)
        };
        let (mut available, mut cooling): (Vec<String>, Vec<String>) =
            filtered.into_iter().partition(|id| !in_cooldown(id));
        cooling.sort_by_key(|id| until(id));
        if explicit.is_none() || repaired {
            available.sort_by_key(|id| {
                let p = self.profile(id);
                let type_score = match p.and_then(|p| p.kind) {
                    Some(CredentialKind::Oauth) => 0,
                    Some(CredentialKind::Token) => 1,
                    Some(CredentialKind::ApiKey) => 2,
                    None => 3,
                };
                let expiry_score =
                    i32::from(p.is_some_and(|p| {
                        p.kind == Some(CredentialKind::Oauth) && is_expired(p, now)
                    }));
                let last_used = self.stats(id).and_then(|s| s.last_used).unwrap_or(0);
                (type_score, expiry_score, last_used)
            });
        }
        available.extend(cooling);
        available
    }
}
