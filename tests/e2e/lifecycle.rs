//! The ElasticIP lifecycle as users drive it: create, bind, rebind, delete, policies, adoption,
//! prepaid addresses and drift.

use std::process::Stdio;
use std::time::{Duration, Instant};

use eip_api::{DeletionPolicy, Ownership, Phase};
use eip_cloud::{BindTarget, ChargeType, EipPhase, InstanceType};
use eip_simulator::SeedEip;
use kube::ResourceExt;

use crate::support::{ControlPlane, REGION, Scenario, condition, is_true};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn allocation_id(object: &eip_api::ElasticIP) -> String {
    object
        .status
        .as_ref()
        .and_then(|s| s.allocation_id.clone())
        .expect("status.allocationId")
}

pub async fn create_bind_ready_and_printer_columns(cp: &ControlPlane) {
    let s = Scenario::new(cp, "create").await;
    s.apply(&s.manifest(
        "web",
        "binding:\n  instanceType: EcsInstance\n  instanceId: i-sim-0001\nallocation:\n  bandwidthMbps: 10\n  name: web",
    ));

    // The way users wait: kubectl wait on the Ready condition.
    s.kubectl_ok(&["wait", "--for=condition=Ready", "--timeout=60s", "eip/web"]);

    let object = s.get("web").await.expect("exists");
    assert_eq!(s.cp.capture("ready", &object), "Current", "kstatus of a Ready ElasticIP");
    let status = object.status.clone().expect("status");
    assert_eq!(status.observed_generation, object.metadata.generation);
    let ip = status.ip_address.clone().expect("ipAddress");
    let id = status.allocation_id.clone().expect("allocationId");
    assert_eq!(status.cloud_state.as_deref(), Some("InUse"));
    assert_eq!(status.phase, Some(Phase::Ready));
    assert_eq!(status.ownership, Some(Ownership::Allocated));
    assert_eq!(status.effective_deletion_policy, Some(DeletionPolicy::Delete));
    assert_eq!(status.bound_to.as_ref().map(|b| b.instance_id.as_str()), Some("i-sim-0001"));
    assert_eq!(condition(&object, "Reconciling"), Some(("False".into(), "Idle".into())));
    assert_eq!(condition(&object, "Stalled"), Some(("False".into(), "NotStalled".into())));
    assert!(object.finalizers().contains(&"eip-operator.dev/release".to_string()));
    for c in &status.conditions {
        assert_eq!(c.observed_generation, object.metadata.generation, "{c:?}");
    }

    // Printer columns, by name and short name.
    let table = s.kubectl_ok(&["get", "eip", "web"]);
    let header = table.lines().next().expect("header");
    for column in ["NAME", "IP", "STATE", "BOUND TO", "READY", "AGE"] {
        assert!(header.contains(column), "{header}");
    }
    let row = table.lines().nth(1).expect("row");
    for value in [ip.as_str(), "InUse", "i-sim-0001", "True"] {
        assert!(row.contains(value), "{value} missing from {row}");
    }
    let wide = s.kubectl_ok(&["get", "elasticips.eip-operator.dev", "web", "-o", "wide"]);
    assert!(wide.contains(&id) && wide.contains("Delete"), "{wide}");
    let by_category = s.kubectl_ok(&["get", "cloud"]);
    assert!(by_category.contains("web"), "{by_category}");
    let explain = s.kubectl_ok(&["explain", "eip.spec.deletionPolicy"]);
    assert!(explain.contains("Unbind"), "{explain}");

    // The cloud agrees, and the EIP carries the owner tag.
    let eip = s.sim.eip(REGION, &id).expect("EIP in the cloud");
    assert_eq!(eip.owner_uid(), object.uid().as_deref());
    assert_eq!(eip.bandwidth_mbps, Some(10));
    s.finish().await;
}

pub async fn delete_blocks_until_unbound_then_released(cp: &ControlPlane) {
    let s = Scenario::new(cp, "delete").await;
    s.apply(&s.manifest("web", "binding:\n  instanceType: EcsInstance\n  instanceId: i-sim-0002"));
    let object = s.wait_ready("web", READY_TIMEOUT).await;
    let id = allocation_id(&object);

    // kubectl delete waits for the finalizer; watch the object while it does.
    let started = Instant::now();
    let mut delete =
        s.cp.kubectl_command(&["-n", &s.ns, "delete", "eip", "web", "--timeout=90s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl delete");
    let mut phases_seen = Vec::new();
    let mut terminating_seen = false;
    loop {
        if let Some(status) = delete.try_wait().expect("kubectl delete status") {
            assert!(status.success(), "kubectl delete failed");
            break;
        }
        if let Some(object) = s.get("web").await {
            if object.metadata.deletion_timestamp.is_some() && !terminating_seen {
                assert_eq!(s.cp.capture("terminating", &object), "Terminating");
            }
            terminating_seen |= object.metadata.deletion_timestamp.is_some();
            if let Some(phase) = object.status.and_then(|st| st.phase)
                && phases_seen.last() != Some(&phase)
            {
                phases_seen.push(phase);
            }
        }
        assert!(started.elapsed() < Duration::from_secs(90), "kubectl delete did not return");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();

    assert!(terminating_seen, "the object stayed in Terminating while the operator worked");
    assert!(
        phases_seen.contains(&Phase::Unbinding) && phases_seen.contains(&Phase::Releasing),
        "{phases_seen:?}"
    );
    assert!(s.get("web").await.is_none());
    // Unbind strictly before release, each once, and the EIP is gone from the cloud.
    assert_eq!(
        s.mutating_calls(&id),
        vec!["Allocate:Ok", "Associate:Ok", "Unassociate:Ok", "Release:Ok"]
    );
    assert!(s.sim.eip(REGION, &id).is_none(), "released");
    // The object went away only after the simulated unbind (2 s) and release (2 s) completed.
    assert!(took >= Duration::from_secs(4), "deleted too early: {took:?}");
    let calls = s.sim.calls();
    let at = |op: &str| {
        calls
            .iter()
            .find(|c| c.operation.as_str() == op && c.allocation_ids.contains(&id))
            .map(|c| c.seq)
            .expect("call")
    };
    let polls_while_unbinding = calls
        .iter()
        .filter(|c| c.seq > at("Unassociate") && c.seq < at("Release") && c.operation.as_str() == "Describe")
        .count();
    assert!(polls_while_unbinding >= 1, "requeued and looked again while Unassociating");
    let events: Vec<String> = s.events("web").await.into_iter().map(|(_, reason, _)| reason).collect();
    for reason in ["Unbinding", "Releasing", "Released"] {
        assert!(events.contains(&reason.to_string()), "{events:?}");
    }
    s.finish().await;
}

pub async fn rebind_and_unbind_follow_the_spec(cp: &ControlPlane) {
    let s = Scenario::new(cp, "rebind").await;
    s.apply(&s.manifest("app", "binding:\n  instanceType: EcsInstance\n  instanceId: i-sim-0003"));
    let object = s.wait_ready("app", READY_TIMEOUT).await;
    let id = allocation_id(&object);

    s.kubectl_ok(&[
        "patch",
        "eip",
        "app",
        "--type=merge",
        "-p",
        r#"{"spec":{"binding":{"instanceId":"i-sim-0004"}}}"#,
    ]);
    let moving = s
        .wait_for("app", "Reconciling while it rebinds", READY_TIMEOUT, |o| {
            is_true(o, "Reconciling") && o.status.as_ref().is_some_and(|st| st.observed_generation == o.metadata.generation)
        })
        .await;
    assert_eq!(s.cp.capture("reconciling", &moving), "InProgress", "kstatus while Reconciling");
    let object = s
        .wait_for("app", "rebound to i-sim-0004", READY_TIMEOUT, |o| {
            is_true(o, "Ready")
                && o.status.as_ref().is_some_and(|st| {
                    st.observed_generation == o.metadata.generation && st.bound_to.as_ref().is_some_and(|b| b.instance_id == "i-sim-0004")
                })
        })
        .await;
    assert_eq!(object.metadata.generation, Some(2));
    assert_eq!(
        s.mutating_calls(&id),
        vec!["Allocate:Ok", "Associate:Ok", "Unassociate:Ok", "Associate:Ok"]
    );
    let cloud = s.sim.eip(REGION, &id).expect("EIP");
    assert_eq!(cloud.bound_to.map(|b| b.instance_id), Some("i-sim-0004".to_string()));

    s.kubectl_ok(&[
        "patch",
        "eip",
        "app",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/spec/binding"}]"#,
    ]);
    let object = s
        .wait_for("app", "unbound", READY_TIMEOUT, |o| {
            is_true(o, "Ready") && o.status.as_ref().is_some_and(|st| st.observed_generation == o.metadata.generation)
        })
        .await;
    assert_eq!(condition(&object, "Ready").map(|c| c.1), Some("Unbound".to_string()));
    assert_eq!(condition(&object, "Bound"), Some(("False".into(), "NoBindingRequested".into())));
    assert_eq!(s.sim.eip(REGION, &id).expect("EIP").phase, EipPhase::Unbound);
    s.finish().await;
}

pub async fn unbind_and_retain_policies_keep_the_eip(cp: &ControlPlane) {
    let s = Scenario::new(cp, "policies").await;
    s.apply(&s.manifest(
        "keep-unbound",
        "deletionPolicy: Unbind\nbinding:\n  instanceType: EcsInstance\n  instanceId: i-sim-0005",
    ));
    s.apply(&s.manifest(
        "keep-bound",
        "deletionPolicy: Retain\nbinding:\n  instanceType: EcsInstance\n  instanceId: i-sim-0006",
    ));
    let unbind = allocation_id(&s.wait_ready("keep-unbound", READY_TIMEOUT).await);
    let retain = allocation_id(&s.wait_ready("keep-bound", READY_TIMEOUT).await);

    s.kubectl_ok(&["delete", "eip", "keep-unbound", "keep-bound", "--timeout=60s"]);
    assert!(s.get("keep-unbound").await.is_none() && s.get("keep-bound").await.is_none());

    let unbound = s.sim.eip(REGION, &unbind).expect("Unbind keeps the allocation");
    assert_eq!((unbound.phase, unbound.bound_to), (EipPhase::Unbound, None));
    let kept = s.sim.eip(REGION, &retain).expect("Retain keeps the allocation");
    assert_eq!(
        kept.bound_to.map(|b| b.instance_id),
        Some("i-sim-0006".to_string()),
        "Retain touches nothing"
    );
    assert_eq!(s.mutating_calls(&unbind), vec!["Allocate:Ok", "Associate:Ok", "Unassociate:Ok"]);
    assert_eq!(s.mutating_calls(&retain), vec!["Allocate:Ok", "Associate:Ok"]);
    let reasons: Vec<String> = s.events("keep-bound").await.into_iter().map(|e| e.1).collect();
    assert!(reasons.contains(&"Retained".to_string()), "{reasons:?}");
    s.finish().await;
}

pub async fn adopted_eip_is_kept_by_default(cp: &ControlPlane) {
    let s = Scenario::new(cp, "adopt").await;
    let existing = s
        .sim
        .seed_eip(REGION, SeedEip::default())
        .expect("seed an EIP made outside the operator");
    let id = existing.allocation_id.clone();
    s.apply(&s.manifest(
        "legacy",
        &format!("allocationId: {id}\nbinding:\n  instanceType: EcsInstance\n  instanceId: i-sim-0007"),
    ));
    let object = s.wait_ready("legacy", READY_TIMEOUT).await;
    let status = object.status.expect("status");
    assert_eq!(status.ownership, Some(Ownership::Adopted));
    assert_eq!(status.effective_deletion_policy, Some(DeletionPolicy::Retain));
    assert_eq!(status.ip_address.as_deref(), Some(existing.ip_address.as_str()));

    s.kubectl_ok(&["delete", "eip", "legacy", "--timeout=60s"]);
    let kept = s.sim.eip(REGION, &id).expect("an adopted EIP is not released by default");
    assert_eq!(kept.bound_to.map(|b| b.instance_id), Some("i-sim-0007".to_string()));
    assert_eq!(
        s.mutating_calls(&id),
        vec!["Tag:Ok", "Associate:Ok", "Untag:Ok"],
        "claimed, bound, claim removed: never allocated a replacement, never released"
    );

    // Adopting an ID the cloud does not have stalls, and never allocates a replacement.
    s.apply(&s.manifest("ghost", "allocationId: eip-doesnotexist0000000"));
    let ghost = s.wait_for("ghost", "Stalled", READY_TIMEOUT, |o| is_true(o, "Stalled")).await;
    assert_eq!(condition(&ghost, "Stalled").map(|c| c.1), Some("AdoptTargetNotFound".to_string()));
    assert_eq!(s.cp.capture("stalled", &ghost), "Failed", "kstatus of a Stalled ElasticIP");
    assert_eq!(s.sim.eips(REGION).len(), 1, "no EIP allocated for the ghost");
    // Its deletion needs nothing from the cloud (Retain).
    s.kubectl_ok(&["delete", "eip", "ghost", "--timeout=60s"]);
    s.finish().await;
}

pub async fn prepaid_delete_stalls_until_retain(cp: &ControlPlane) {
    let s = Scenario::new(cp, "prepaid").await;
    s.apply(&s.manifest(
        "sub",
        "allocation:\n  chargeType: PrePaid\nbinding:\n  instanceType: EcsInstance\n  instanceId: i-sim-0008",
    ));
    let object = s.wait_ready("sub", READY_TIMEOUT).await;
    let id = allocation_id(&object);
    assert_eq!(s.sim.eip(REGION, &id).expect("EIP").charge_type, ChargeType::PrePaid);

    s.delete("sub").await;
    let stalled = s.wait_for("sub", "Stalled", READY_TIMEOUT, |o| is_true(o, "Stalled")).await;
    let cond = stalled.condition("Stalled").expect("Stalled");
    assert_eq!(cond.reason, "PrepaidCannotRelease");
    assert!(
        cond.message.contains("deletionPolicy"),
        "the message names the way out: {}",
        cond.message
    );
    assert!(
        stalled.metadata.deletion_timestamp.is_some(),
        "held in Terminating by the finalizer"
    );
    assert!(!is_true(&stalled, "Ready") && !is_true(&stalled, "Reconciling"));
    let warnings: Vec<_> = s.events("sub").await.into_iter().filter(|e| e.0 == "Warning").collect();
    assert!(warnings.iter().any(|e| e.1 == "PrepaidCannotRelease"), "{warnings:?}");

    // Some resyncs later, still nothing was attempted, and the Warning was not repeated.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(s.mutating_calls(&id), vec!["Allocate:Ok", "Associate:Ok"], "no unbind, no release");
    let warnings_later = s.events("sub").await.into_iter().filter(|e| e.0 == "Warning").count();
    assert_eq!(warnings_later, warnings.len(), "no hot loop of Warnings");

    // The documented way out: keep the address.
    s.kubectl_ok(&[
        "patch",
        "eip",
        "sub",
        "--type=merge",
        "-p",
        r#"{"spec":{"deletionPolicy":"Retain"}}"#,
    ]);
    s.wait_gone("sub", READY_TIMEOUT).await;
    assert!(s.sim.eip(REGION, &id).is_some(), "the prepaid EIP is kept");
    s.finish().await;
}

pub async fn drift_is_reported_and_repaired(cp: &ControlPlane) {
    let s = Scenario::new(cp, "drift").await;
    s.apply(&s.manifest("web", "binding:\n  instanceType: EcsInstance\n  instanceId: i-sim-0009"));
    let id = allocation_id(&s.wait_ready("web", READY_TIMEOUT).await);

    // Someone rebinds it in the console.
    let elsewhere = BindTarget {
        instance_type: InstanceType::EcsInstance,
        instance_id: "i-sim-0010".into(),
        private_ip_address: None,
    };
    s.sim.oob_unbind(REGION, &id).expect("out-of-band unbind");
    s.sim.oob_bind(REGION, &id, &elsewhere).expect("out-of-band bind");

    // The periodic resync notices, says so, and puts it back.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reasons: Vec<String> = s.events("web").await.into_iter().map(|e| e.1).collect();
        let cloud = s.sim.eip(REGION, &id).expect("EIP");
        if reasons.contains(&"DriftDetected".to_string()) && cloud.bound_to.as_ref().is_some_and(|b| b.instance_id == "i-sim-0009") {
            break;
        }
        assert!(Instant::now() < deadline, "drift not repaired: {reasons:?} {cloud:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    s.wait_for("web", "Ready again", READY_TIMEOUT, |o| {
        is_true(o, "Ready")
            && o.status
                .as_ref()
                .and_then(|st| st.bound_to.as_ref())
                .is_some_and(|b| b.instance_id == "i-sim-0009")
    })
    .await;
    s.finish().await;
}
