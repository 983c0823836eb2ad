//! The finalizer: added before anything exists in the cloud, removed when the deletion policy is
//! done with the address, and the Event that says how the object let go of it.

use kube::{Api, ResourceExt};

use super::decide::{CloudView, Step};
use super::events::EventType;
use super::reconcile::Error;
use super::writes::patch_finalizers;
use eip_api::{DeletionPolicy, ElasticIP, FINALIZER};
use eip_cloud::CloudError;

pub(super) async fn add_finalizer(api: &Api<ElasticIP>, eip: &ElasticIP) -> Result<(), Error> {
    let mut finalizers = eip.finalizers().to_vec();
    finalizers.push(FINALIZER.into());
    patch_finalizers(api, eip, finalizers).await
}

pub(super) async fn remove_finalizer(api: &Api<ElasticIP>, eip: &ElasticIP) -> Result<(), Error> {
    let finalizers = eip.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    patch_finalizers(api, eip, finalizers).await
}

/// The Event of an object letting go: what its policy did, or (`refused`) the claim the cloud
/// would not remove, with the tags a human must remove.
pub(super) fn let_go_event(
    eip: &ElasticIP,
    cloud: &CloudView,
    step: &Step,
    refused: Option<&CloudError>,
) -> (EventType, &'static str, String) {
    match (refused, step) {
        (Some(err), Step::Unclaim { keys }) => (
            EventType::Warning,
            "ClaimLeft",
            format!(
                "the cloud refused to remove this object's claim ({err}); the address is kept, and its tags {} must be removed by hand before another object can adopt it",
                keys.join(", ")
            ),
        ),
        _ => {
            let (reason, note) = finalized_event(eip, cloud);
            (EventType::Normal, reason, note)
        }
    }
}

fn finalized_event(eip: &ElasticIP, cloud: &CloudView) -> (&'static str, String) {
    if eip.spec.observe_only() {
        return (
            "Finalized",
            "managementPolicy Observe: the EIP is left as it is; only the finalizer is removed".to_string(),
        );
    }
    let policy = crate::controller::decide::effective_deletion_policy(&eip.spec);
    match (policy, cloud) {
        (DeletionPolicy::Retain, CloudView::Present(e)) => (
            "Retained",
            format!(
                "EIP {} ({}) left as it is, per deletionPolicy Retain",
                e.ip_address, e.allocation_id
            ),
        ),
        (DeletionPolicy::Unbind, CloudView::Present(e)) => (
            "Unbound",
            format!(
                "EIP {} ({}) unbound and kept, per deletionPolicy Unbind",
                e.ip_address, e.allocation_id
            ),
        ),
        (_, CloudView::NeverAllocated) => ("Finalized", "no EIP was ever allocated".to_string()),
        (_, _) => ("Released", "the EIP is released".to_string()),
    }
}
