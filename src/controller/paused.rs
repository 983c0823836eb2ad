//! Paused objects (`eip-operator.dev/paused: "true"`): nothing is reconciled, no cloud call and
//! no finalizer change; the status says so once (`Reconciling=False`, reason `Paused`).

use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::events::EventType;
use super::reconcile::{Context, Error, publish};
use super::status;
use super::writes::write_status;
use eip_api::{ElasticIP, PAUSED_ANNOTATION};

/// Whether the object carries `eip-operator.dev/paused: "true"`.
pub fn is_paused(eip: &ElasticIP) -> bool {
    eip.annotations().get(PAUSED_ANNOTATION).is_some_and(|v| v == "true")
}

/// A paused object: say so in `Reconciling` (once), keep everything else the status says.
pub(super) async fn paused(api: &Api<ElasticIP>, eip: &ElasticIP, ctx: &Context, uid: &str) -> Result<Action, Error> {
    if !already_paused(eip) {
        let next = status::paused_status(eip.status.as_ref(), Timestamp::now());
        write_status(api, eip, eip.status.as_ref(), &next).await?;
        publish(
            ctx,
            eip,
            EventType::Normal,
            "Paused",
            "Pause",
            format!("reconciling is paused by the annotation {PAUSED_ANNOTATION}=true; remove it to resume"),
        )
        .await;
    }
    // Resuming is an annotation change, which the watch delivers.
    ctx.forget(uid);
    Ok(Action::await_change())
}

fn already_paused(eip: &ElasticIP) -> bool {
    eip.condition(status::RECONCILING)
        .is_some_and(|c| c.status == "False" && c.reason == "Paused")
}
