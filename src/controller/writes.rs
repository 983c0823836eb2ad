//! The Kubernetes writes both controllers make, the same way: the finalizer list replaced under
//! the resourceVersion it was computed from, and the status applied server-side (skipped when
//! unchanged); and how a controller's stream of results is logged.

use std::fmt::Debug;

use kube::api::{Patch, PatchParams};
use kube::runtime::controller;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::warn;

use super::reconcile::{Error, MANAGER};

/// Replaces the finalizer list, guarded by the resourceVersion it was computed from (a
/// concurrent change makes the patch fail with a conflict and the reconcile retry).
pub(crate) async fn patch_finalizers<K>(api: &Api<K>, object: &K, finalizers: Vec<String>) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let patch = json!({ "metadata": { "resourceVersion": object.resource_version(), "finalizers": finalizers } });
    api.patch(&object.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Server-side apply of the status subresource, skipped when `next` is what `current` already is.
pub(crate) async fn write_status<K, S>(api: &Api<K>, object: &K, current: Option<&S>, next: &S) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    S: Serialize + PartialEq,
{
    if current == Some(next) {
        return Ok(());
    }
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": next,
    });
    api.patch_status(&object.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(&patch))
        .await?;
    Ok(())
}

/// Logs what a controller's run stream yields that its error policy did not already log.
pub(crate) async fn log_failure<K, E, Q>(name: &'static str, result: Result<K, controller::Error<E, Q>>)
where
    E: std::error::Error + 'static,
    Q: std::error::Error + 'static,
{
    if let Err(err) = result {
        match err {
            controller::Error::ReconcilerFailed(..) => {} // logged by the error policy
            other => warn!(err = %other, "{name}"),
        }
    }
}
