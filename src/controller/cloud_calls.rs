//! What the reconciler asks of the cloud: what it holds for an object ([`observe`]), and the one
//! call a step makes ([`execute`]), with the idempotency tokens and owner tags that make retries
//! and restarts safe.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use sha2::{Digest, Sha256};
use tracing::warn;

use super::decide::{CloudView, Step};
use super::status::{self, Outcome};
use eip_api::ElasticIP;
use eip_cloud::{
    AllocateRequest, CLUSTER_TAG, CloudError, CloudProvider, ErrorClass, Failure, OWNER_NAME_TAG, OWNER_TAG, Operation, Receipt,
    UnbindRequest,
};

/// How long after claiming an adopted EIP the operator reads its tags back. Tag writes are not
/// compare-and-swap: an adopter that read the EIP untagged at the same moment writes its claim
/// within this time, and the read-back then shows which claim the cloud kept.
const CLAIM_SETTLE: Duration = Duration::from_secs(1);

/// What the cloud holds for this object: the adopted EIP, the recorded one, or whatever carries
/// the object's owner tag (an allocation a crash left unrecorded).
pub(super) async fn observe(provider: &dyn CloudProvider, eip: &ElasticIP, uid: &str, deleting: bool) -> Result<CloudView, CloudError> {
    let known_id = eip
        .spec
        .allocation_id
        .as_ref()
        .or(eip.status.as_ref().and_then(|s| s.allocation_id.as_ref()));
    let idempotent = provider.capabilities().idempotent_allocation;
    if let Some(id) = known_id {
        let found = provider.describe(std::slice::from_ref(id)).await?;
        if let Some(eip) = found.into_iter().find(|e| &e.allocation_id == id) {
            return Ok(CloudView::Present(eip));
        }
        // Where a retried allocation makes a second EIP (no client token), an allocation whose
        // answer was lost, or that a killed process had in flight, can land after the owner
        // lookup that preceded the next one. Before an allocator lets go, whatever else carries
        // its owner tag is released too: it allocated nothing it may leak.
        if deleting && !idempotent && eip.spec.allocation_id.is_none() {
            let mut strays = provider.find_by_owner(uid).await?;
            strays.retain(|e| &e.allocation_id != id);
            strays.sort_by(|a, b| a.allocation_id.cmp(&b.allocation_id));
            if let Some(stray) = strays.into_iter().next() {
                warn!(uid, recorded = %id, stray = %stray.allocation_id, "an EIP this object allocated but never recorded is released too");
                return Ok(CloudView::Present(stray));
            }
        }
        return Ok(CloudView::Missing { allocation_id: id.clone() });
    }
    // The cloud may hold what a failed allocation made (its answer lost after the commit), and
    // a retry it refuses (another request under the same token) would leave that unrecorded.
    let allocation_failed =
        status::continued_operation(eip.status.as_ref().and_then(|s| s.last_operation.as_ref()), &Step::Allocate).is_some();
    if !deleting && idempotent && !allocation_failed {
        // Allocating with the UID-derived token returns an EIP a crash left unrecorded, so
        // there is no need to look for it first. A deletion always looks: nothing may leak.
        return Ok(CloudView::NeverAllocated);
    }
    let mut owned = provider.find_by_owner(uid).await?;
    // Idempotent allocation makes more than one impossible; should it happen anyway, manage the
    // oldest-named one deterministically and leave the others visible in the cloud.
    owned.sort_by(|a, b| a.allocation_id.cmp(&b.allocation_id));
    if owned.len() > 1 {
        warn!(
            uid,
            count = owned.len(),
            "several EIPs carry this object's owner tag; managing the first"
        );
    }
    Ok(owned.into_iter().next().map_or(CloudView::NeverAllocated, CloudView::Present))
}

/// Makes the step's cloud call, if it has one.
/// `cluster` is this cluster's ID, written with the owner tags ([`CLUSTER_TAG`]) when known.
pub(super) async fn execute(
    provider: &dyn CloudProvider,
    eip: &ElasticIP,
    uid: &str,
    cluster: Option<&str>,
    step: &Step,
    cloud: &CloudView,
    now: Timestamp,
) -> Outcome {
    let allocation_id = match cloud {
        CloudView::Present(e) => e.allocation_id.as_str(),
        _ => "",
    };
    let started = status::continued_operation(eip.status.as_ref().and_then(|s| s.last_operation.as_ref()), step)
        .map(|op| op.started_at.clone())
        .unwrap_or_else(|| now.to_string());
    let result = match step {
        Step::Allocate => {
            return match provider.allocate(&allocate_request(eip, uid, cluster)).await {
                Ok(allocated) => Outcome::Accepted {
                    receipt: allocated.receipt,
                    allocated: Some(allocated.eip),
                },
                Err(err) => Outcome::Failed(err),
            };
        }
        Step::Associate { target } => {
            let token = client_token(&[uid, "associate", allocation_id, &target.to_string(), &started]);
            provider.associate(allocation_id, target, &token).await
        }
        Step::Unassociate { current } => {
            let token = client_token(&[uid, "unassociate", allocation_id, &current.to_string(), &started]);
            // The provider's handle of the binding it reported goes back to it untouched.
            let handle = match cloud {
                CloudView::Present(e) => e.binding_handle.clone(),
                _ => None,
            };
            let request = UnbindRequest {
                handle,
                ..UnbindRequest::new(allocation_id, current.clone(), token).forced(eip.spec.force_unbind)
            };
            provider.unassociate(&request).await
        }
        Step::Release => {
            let token = client_token(&[uid, "release", allocation_id, &started]);
            provider.release(allocation_id, &token).await
        }
        Step::Claim => provider.tag(allocation_id, &owner_tags(eip, uid, cluster)).await,
        Step::Unclaim { keys } => provider.untag(allocation_id, keys).await,
        Step::Wait { .. }
        | Step::ConfirmAbsence { .. }
        | Step::Converged
        | Step::Observe { .. }
        | Step::AwaitReference { .. }
        | Step::RemoveFinalizer
        | Step::Stalled(_) => {
            return Outcome::NoCall;
        }
    };
    match result {
        Ok(receipt) => Outcome::Accepted { receipt, allocated: None },
        // Unbinding, releasing or unclaiming what no longer exists reaches the goal.
        Err(err) if err.class() == ErrorClass::Gone && matches!(step, Step::Unassociate { .. } | Step::Release | Step::Unclaim { .. }) => {
            Outcome::Accepted {
                receipt: Receipt {
                    request_id: err.request_id.unwrap_or_default(),
                },
                allocated: None,
            }
        }
        // Binding or claiming an EIP that vanished: look again; the next observation reports it.
        Err(err) if err.class() == ErrorClass::Gone => Outcome::Failed(err.reclassified(Failure::RETRY)),
        Err(err) => Outcome::Failed(err),
    }
}

/// The tags that say this object owns an EIP: its UID, its `namespace/name` and the cluster it
/// lives in (so that the leak ledger of another cluster sharing the account ignores it).
fn owner_tags(eip: &ElasticIP, uid: &str, cluster: Option<&str>) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([
        (OWNER_TAG.to_string(), uid.to_string()),
        (
            OWNER_NAME_TAG.to_string(),
            format!("{}/{}", eip.namespace().unwrap_or_default(), eip.name_any()),
        ),
    ]);
    if let Some(cluster) = cluster {
        tags.insert(CLUSTER_TAG.to_string(), cluster.to_string());
    }
    tags
}

fn allocate_request(eip: &ElasticIP, uid: &str, cluster: Option<&str>) -> AllocateRequest {
    let allocation = eip.spec.allocation.clone().unwrap_or_default();
    let mut tags: BTreeMap<String, String> = allocation.tags.clone();
    tags.extend(owner_tags(eip, uid, cluster));
    AllocateRequest {
        // One allocation per object, ever: a retry or a restart gets the same EIP back.
        client_token: client_token(&[uid, "allocate"]),
        bandwidth_mbps: allocation.bandwidth_mbps,
        charge_type: allocation.charge_type.map(Into::into).unwrap_or_default(),
        internet_charge_type: allocation.internet_charge_type.map(|t| t.as_str().to_string()),
        isp: allocation.isp,
        name: allocation.name,
        description: allocation.description,
        tags,
    }
}

/// Idempotency token (Alibaba `ClientToken`: ASCII, at most 64 characters).
pub fn client_token(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hex::encode(hasher.finalize());
    format!("eipop-{}", &digest[..40])
}

/// How long the cloud usually needs to finish what this step starts.
pub(super) fn expected_transition(provider: &dyn CloudProvider, step: &Step) -> Duration {
    let operation = match step {
        // The read-back that verifies a claim waits for concurrent claims to land.
        Step::Claim => return CLAIM_SETTLE.max(provider.expected_transition(Operation::Tag)),
        Step::Allocate => Operation::Allocate,
        Step::Associate { .. } => Operation::Associate,
        Step::Unassociate { .. } => Operation::Unassociate,
        Step::Release => Operation::Release,
        _ => return Duration::ZERO,
    };
    provider.expected_transition(operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_tokens_are_deterministic_distinct_and_within_alibaba_limits() {
        let a = client_token(&["uid", "allocate"]);
        assert_eq!(a, client_token(&["uid", "allocate"]));
        assert_ne!(a, client_token(&["uid2", "allocate"]));
        // Separators matter: ("ab","c") and ("a","bc") differ.
        assert_ne!(client_token(&["ab", "c"]), client_token(&["a", "bc"]));
        assert!(a.len() <= 64 && a.is_ascii());
    }
}
