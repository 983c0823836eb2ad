//! The leak ledger of one account: a pure function of every EIP the cloud lists, the ElasticIPs
//! the cluster holds and this cluster's ID.
//!
//! | the EIP's tags | an ElasticIP with that owner UID, or naming the allocation ID | verdict |
//! | --- | --- | --- |
//! | owner UID, this cluster's ID | yes | managed |
//! | owner UID, this cluster's ID | no | **orphan** (releasable by `audit --release-orphans`) |
//! | owner UID, another cluster's ID | any | another cluster's: ignored, only counted |
//! | owner UID, no cluster ID (written before cluster IDs) | no | **unattributed**: listed, never released |
//! | no owner UID | no | **unmanaged** (a candidate for `import`) |
//! | no owner UID | yes (an adopter before its claim, an Observe object) | managed |
//!
//! An EIP the cloud is releasing is nobody's orphan (its object may have just let it go). With a
//! namespace scope (an operator watching one namespace) only owners of that namespace are judged.
//! And the other way round: an ElasticIP whose allocation ID the listing lacks is **missing**
//! (the scan confirms it with a Describe before it reports it).

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use eip_cloud::{CloudEip, EipPhase, Transition};

/// What the ledger needs of an ElasticIP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectView {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// spec.allocationId, else status.allocationId.
    pub allocation_id: Option<String>,
    /// The ProviderConfig it resolved to (status.providerConfig), else the one it names.
    pub provider_config: Option<String>,
}

impl ObjectView {
    pub fn of(eip: &eip_api::ElasticIP) -> Option<ObjectView> {
        Some(ObjectView {
            namespace: eip.metadata.namespace.clone()?,
            name: eip.metadata.name.clone()?,
            uid: eip.metadata.uid.clone()?,
            allocation_id: eip
                .spec
                .allocation_id
                .clone()
                .or_else(|| eip.status.as_ref().and_then(|s| s.allocation_id.clone())),
            provider_config: eip
                .status
                .as_ref()
                .and_then(|s| s.provider_config.clone())
                .or_else(|| eip.spec.provider_config_ref.as_ref().map(|r| r.name.clone())),
        })
    }
}

/// One EIP as the ledger lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEip {
    pub allocation_id: String,
    pub address: String,
    /// The cloud's own state.
    pub state: String,
    /// `Type/ID` of what the cloud reports it bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound_to: Option<String>,
    /// When the cloud says it was allocated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// How long ago that was (`3d4h`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl LedgerEip {
    fn of(eip: &CloudEip, now: Timestamp) -> LedgerEip {
        LedgerEip {
            allocation_id: eip.allocation_id.clone(),
            address: eip.ip_address.clone(),
            state: eip.raw_state.clone(),
            bound_to: eip.bound_to.as_ref().map(ToString::to_string),
            created_at: eip.created_at.clone(),
            age: eip.created_at.as_deref().and_then(|at| age(at, now)),
            tags: eip.tags.clone(),
        }
    }

    /// The owning object the tags name (`namespace/name`), when they do.
    pub fn owner(&self) -> Option<&str> {
        self.tags.get(eip_cloud::OWNER_NAME_TAG).map(String::as_str)
    }
}

/// An ElasticIP whose EIP the cloud does not list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissingEip {
    pub namespace: String,
    pub name: String,
    pub allocation_id: String,
}

/// The ledger of one account and region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ledger {
    /// Tagged as owned by an object of this cluster that does not exist.
    pub orphans: Vec<LedgerEip>,
    /// ElasticIPs whose recorded EIP the cloud no longer has.
    pub missing: Vec<MissingEip>,
    /// Without owner tags, named by no ElasticIP: candidates for `import`.
    pub unmanaged: Vec<LedgerEip>,
    /// Tagged with an owner UID but no cluster ID, and the UID matches nothing here: perhaps
    /// this cluster's from before cluster IDs, perhaps another's. Never released by the audit.
    pub unattributed: Vec<LedgerEip>,
    /// EIPs another cluster's owner tags claim (not listed).
    pub other_clusters: usize,
    /// EIPs an ElasticIP of this cluster manages.
    pub managed: usize,
}

/// Where the EIPs come from and whose they may be.
#[derive(Clone, Copy, Debug)]
pub struct Account<'a> {
    /// The ProviderConfig listed: only its ElasticIPs can be missing from the list.
    pub provider_config: &'a str,
    /// This cluster's ID.
    pub cluster: &'a str,
    /// Judge only owners in this namespace (an operator watching one namespace).
    pub scope: Option<&'a str>,
}

/// Sorts `eips` into the ledger (see the module table). `objects` are every ElasticIP in view,
/// of any account: a UID is never taken for gone because its object uses another account.
pub fn classify(eips: &[CloudEip], objects: &[ObjectView], account: Account<'_>, now: Timestamp) -> Ledger {
    let Account { cluster, scope, .. } = account;
    let uids: HashSet<&str> = objects.iter().map(|o| o.uid.as_str()).collect();
    let named = named_in(objects, account.provider_config);
    let mut ledger = Ledger::default();
    for eip in eips {
        let owner = eip.owner_uid().filter(|uid| !uid.is_empty());
        let known = owner.is_some_and(|uid| uids.contains(uid)) || named.contains(eip.allocation_id.as_str());
        if known {
            ledger.managed += 1;
            continue;
        }
        let Some(_) = owner else {
            ledger.unmanaged.push(LedgerEip::of(eip, now));
            continue;
        };
        match eip.cluster() {
            Some(other) if other != cluster => ledger.other_clusters += 1,
            _ if !in_scope(eip, scope) || eip.phase == EipPhase::Transitional(Transition::Releasing) => {}
            Some(_) => ledger.orphans.push(LedgerEip::of(eip, now)),
            None => ledger.unattributed.push(LedgerEip::of(eip, now)),
        }
    }
    let listed: HashSet<&str> = eips.iter().map(|e| e.allocation_id.as_str()).collect();
    ledger.missing = objects
        .iter()
        .filter(|o| o.provider_config.as_deref() == Some(account.provider_config))
        .filter_map(|o| {
            let id = o.allocation_id.as_deref()?;
            (!listed.contains(id)).then(|| MissingEip {
                namespace: o.namespace.clone(),
                name: o.name.clone(),
                allocation_id: id.to_string(),
            })
        })
        .collect();
    ledger
}

/// The allocation IDs ElasticIPs of `provider_config` name (an ID in another account is another
/// EIP); one whose account is not known yet (the default, before its first reconcile) counts.
pub fn named_in<'a>(objects: &'a [ObjectView], provider_config: &str) -> HashSet<&'a str> {
    objects
        .iter()
        .filter(|o| o.provider_config.as_deref().is_none_or(|c| c == provider_config))
        .filter_map(|o| o.allocation_id.as_deref())
        .collect()
}

/// Whether the EIP's owner lives in `scope` (every namespace when `None`).
fn in_scope(eip: &CloudEip, scope: Option<&str>) -> bool {
    match scope {
        None => true,
        Some(namespace) => eip
            .owner_name()
            .and_then(|name| name.split_once('/'))
            .is_some_and(|(ns, _)| ns == namespace),
    }
}

/// `3d4h`, `5h12m`, `7m`, `12s` since `at` (RFC 3339, or the `YYYY-MM-DD HH:MM:SS` UTC some
/// clouds write), when it parses and lies in the past.
pub fn age(at: &str, now: Timestamp) -> Option<String> {
    let then = at.parse::<Timestamp>().ok().or_else(|| {
        k8s_openapi::jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", at)
            .ok()?
            .to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    })?;
    let seconds = now.as_second().checked_sub(then.as_second()).filter(|s| *s >= 0)?;
    let (d, h, m) = (seconds / 86_400, seconds % 86_400 / 3_600, seconds % 3_600 / 60);
    Some(match (d, h, m) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h{m}m"),
        (d, h, _) => format!("{d}d{h}h"),
    })
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
