//! Day-2 operations on the real API server: observe-only objects never make a mutating call, and
//! paused objects make no call at all.

use std::time::Duration;

use eip_api::ElasticIP;
use eip_cloud::{BindTarget, InstanceType};
use eip_simulator::SeedEip;
use kube::api::{Patch, PatchParams};

use crate::support::{ControlPlane, REGION, Scenario, condition};

const TIMEOUT: Duration = Duration::from_secs(60);

fn ecs(id: &str) -> BindTarget {
    BindTarget {
        instance_type: InstanceType::EcsInstance,
        instance_id: id.into(),
        private_ip_address: None,
    }
}

fn observed(object: &ElasticIP) -> bool {
    condition(object, "Ready") == Some(("True".into(), "Observed".into()))
        && object.status.as_ref().and_then(|s| s.observed_generation) == object.metadata.generation
}

/// Every mutating call the scenario's simulator saw, whatever it named.
fn all_mutating(s: &Scenario<'_>) -> Vec<String> {
    s.sim
        .calls()
        .into_iter()
        .filter(|c| c.operation.is_mutating())
        .map(|c| format!("{}:{:?}", c.operation, c.allocation_ids))
        .collect()
}

pub async fn observe_never_mutates_through_create_rebind_and_delete(cp: &ControlPlane) {
    let s = Scenario::new(cp, "observe").await;
    let seed = SeedEip {
        bound_to: Some(ecs("i-sim-0001")),
        ..SeedEip::default()
    };
    let id = s.sim.seed_eip(REGION, seed).expect("seed").allocation_id;
    let manifest = |instance: &str| {
        s.manifest(
            "watched",
            &format!(
                "allocationId: {id}\nmanagementPolicy: Observe\ndeletionPolicy: Delete\nbinding:\n  instanceType: EcsInstance\n  instanceId: {instance}"
            ),
        )
    };
    s.apply(&manifest("i-sim-0001"));
    let ready = s.wait_for("watched", "Ready=Observed", TIMEOUT, observed).await;
    let status = ready.status.expect("status");
    assert_eq!(status.bound_to.map(|b| b.instance_id).as_deref(), Some("i-sim-0001"));
    assert_eq!(status.drift, None);

    // The spec asks for another target: reported as drift, not acted on.
    s.apply(&manifest("i-sim-0002"));
    let drifted = s
        .wait_for("watched", "drift reported", TIMEOUT, |o| {
            observed(o) && o.status.as_ref().is_some_and(|st| st.drift.is_some())
        })
        .await;
    let drift = drifted.status.and_then(|st| st.drift).unwrap_or_default();
    assert!(drift.contains("i-sim-0001") && drift.contains("i-sim-0002"), "{drift}");
    let bound = condition(&s.get("watched").await.expect("exists"), "Bound");
    assert_eq!(bound, Some(("False".into(), "BoundElsewhere".into())));
    // A few resyncs (5 s in these tests) pass without a change.
    tokio::time::sleep(Duration::from_secs(7)).await;

    // Deletion (even with deletionPolicy Delete) only removes the finalizer.
    s.delete("watched").await;
    s.wait_gone("watched", TIMEOUT).await;
    assert_eq!(all_mutating(&s), Vec::<String>::new(), "no mutating call");
    let eip = s.sim.eip(REGION, &id).expect("the EIP is still there");
    assert_eq!(eip.bound_to.map(|b| b.instance_id).as_deref(), Some("i-sim-0001"));
    assert!(eip.tags.is_empty(), "not even a claim tag: {:?}", eip.tags);
    s.finish().await;
}

pub async fn observe_then_manage_starts_from_the_observed_state(cp: &ControlPlane) {
    let s = Scenario::new(cp, "observe-manage").await;
    let seed = SeedEip {
        bound_to: Some(ecs("i-sim-0003")),
        ..SeedEip::default()
    };
    let id = s.sim.seed_eip(REGION, seed).expect("seed").allocation_id;
    let manifest = |policy: &str| {
        s.manifest(
            "switch",
            &format!("allocationId: {id}\nmanagementPolicy: {policy}\nbinding:\n  instanceType: EcsInstance\n  instanceId: i-sim-0004"),
        )
    };
    s.apply(&manifest("Observe"));
    s.wait_for("switch", "drift reported", TIMEOUT, |o| {
        observed(o) && o.status.as_ref().is_some_and(|st| st.drift.is_some())
    })
    .await;
    assert_eq!(all_mutating(&s), Vec::<String>::new());

    s.apply(&manifest("Manage"));
    let ready = s
        .wait_for("switch", "Ready=Bound under Manage", TIMEOUT, |o| {
            condition(o, "Ready") == Some(("True".into(), "Bound".into()))
        })
        .await;
    let status = ready.status.expect("status");
    assert_eq!(status.bound_to.map(|b| b.instance_id).as_deref(), Some("i-sim-0004"));
    assert_eq!(status.drift, None);
    // Claimed, then unbound from the observed target and bound to the spec's.
    let calls: Vec<String> = s.mutating_calls(&id).into_iter().filter(|c| c.ends_with(":Ok")).collect();
    assert_eq!(calls, ["Tag:Ok", "Unassociate:Ok", "Associate:Ok"]);
    s.finish().await;
}

async fn annotate(s: &Scenario<'_>, name: &str, value: Option<&str>) {
    let patch = serde_json::json!({"metadata": {"annotations": {eip_api::PAUSED_ANNOTATION: value}}});
    s.eips()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("annotate");
}

pub async fn paused_objects_make_no_call_until_resumed(cp: &ControlPlane) {
    let s = Scenario::new(cp, "paused").await;
    let spec = |instance: &str| format!("binding:\n  instanceType: EcsInstance\n  instanceId: {instance}");
    s.apply(&s.manifest("held", &spec("i-sim-0005")));
    let ready = s.wait_ready("held", TIMEOUT).await;
    let id = ready.status.and_then(|st| st.allocation_id).expect("allocated");

    annotate(&s, "held", Some("true")).await;
    s.wait_for("held", "Reconciling=False Paused", TIMEOUT, |o| {
        condition(o, "Reconciling") == Some(("False".into(), "Paused".into()))
    })
    .await;
    let since = s.sim.last_seq();
    // A spec change, a change in the cloud and a deletion: none of them is acted on.
    s.apply(&s.manifest("held", &spec("i-sim-0006")));
    s.sim.oob_unbind(REGION, &id).expect("unbind out of band");
    s.delete("held").await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let calls: Vec<String> = s.sim.calls_since(since).into_iter().map(|c| c.operation.to_string()).collect();
    assert_eq!(calls, Vec::<String>::new(), "no call at all while paused");
    assert!(s.get("held").await.is_some(), "the finalizer holds the paused object");

    // Resuming carries out the deletion: unbound already, released.
    annotate(&s, "held", None).await;
    s.wait_gone("held", TIMEOUT).await;
    assert!(s.sim.eip(REGION, &id).is_none(), "released after resuming");
    s.finish().await;
}

/// Where the day-2 scenarios leave their commands' output (the README shows it).
pub fn save_output(name: &str, text: &str) {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e-day2");
    std::fs::create_dir_all(&dir).expect("output dir");
    std::fs::write(dir.join(name), text).expect("write output");
}

pub async fn kubectl_eip_status_names_each_blocker_and_the_way_out(cp: &ControlPlane) {
    let s = Scenario::new(cp, "plugin").await;
    s.apply(&s.manifest("web", "binding:\n  instanceType: EcsInstance\n  instanceId: i-sim-0009"));
    s.apply(&s.manifest("typo", "allocationId: eip-doesnotexist"));
    s.apply(&s.manifest("held", ""));
    s.wait_ready("web", TIMEOUT).await;
    s.wait_for("typo", "Stalled", TIMEOUT, |o| {
        condition(o, "Stalled").is_some_and(|c| c.0 == "True")
    })
    .await;
    s.wait_ready("held", TIMEOUT).await;
    annotate(&s, "held", Some("true")).await;
    s.wait_for("held", "Paused", TIMEOUT, |o| {
        condition(o, "Reconciling") == Some(("False".into(), "Paused".into()))
    })
    .await;

    // The binary installed under the plugin's name, found by the real kubectl on the PATH.
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = dir.path().join("kubectl-eip");
    std::fs::copy(env!("CARGO_BIN_EXE_eip-operator"), &plugin).expect("install the plugin");
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let run = |args: &[&str]| {
        let out = cp.kubectl_command(args).env("PATH", &path).output().expect("kubectl");
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    assert!(run(&["plugin", "list"]).contains("kubectl-eip"));
    let table = run(&["eip", "status", "-n", &s.ns]);
    save_output("status.txt", &table);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{table}"))
            .to_string()
    };
    assert!(
        table.starts_with("NAMESPACE") && table.lines().next().is_some_and(|h| h.ends_with("BLOCKER              WAY OUT")),
        "{table}"
    );
    assert!(
        row("web").contains("True") && row("web").trim_end().ends_with('-'),
        "{}",
        row("web")
    );
    assert!(
        row("typo").contains("AdoptTargetNotFound") && row("typo").contains("Fix the ID"),
        "{}",
        row("typo")
    );
    assert!(
        row("held").contains("Paused") && row("held").contains("eip-operator.dev/paused-"),
        "{}",
        row("held")
    );
    assert!(run(&["eip", "--help"]).contains("Usage: kubectl eip"));
    annotate(&s, "held", None).await;
    s.finish().await;
}
