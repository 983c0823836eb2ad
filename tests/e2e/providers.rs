//! The operator through the clouds' real wire protocols: a ProviderConfig of type `alibaba` (or
//! `otc`) pointed at the simulator's HTTP endpoint, credentials from a Secret.

use std::time::Duration;

use eip_simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET};

use crate::support::{ControlPlane, Scenario, alibaba_config, is_true, serve_simulator};

/// An ElasticIP `name` of 5 Mbit/s through ProviderConfig `config`, bound to the `kind` `instance`.
fn wire_eip(name: &str, config: &str, kind: &str, instance: &str) -> String {
    format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIP\nmetadata:\n  name: {name}\nspec:\n  providerConfigRef:\n    name: {config}\n  allocation:\n    bandwidthMbps: 5\n  binding:\n    instanceType: {kind}\n    instanceId: {instance}\n"
    )
}

/// Each EIP went through allocate, bind, unbind, release (in that order) and is gone.
fn assert_unbound_then_released(s: &Scenario<'_>, region: &str, ids: &[String]) {
    for id in ids {
        let calls = s.mutating_calls(id);
        // (OTC/Huawei tag a new EIP in a call of its own, right after the create.)
        let ok: Vec<&str> = calls
            .iter()
            .filter(|c| c.ends_with(":Ok") && !c.starts_with("Tag:"))
            .map(String::as_str)
            .collect();
        assert_eq!(
            ok,
            vec!["Allocate:Ok", "Associate:Ok", "Unassociate:Ok", "Release:Ok"],
            "{id}: {calls:?}"
        );
        assert!(s.sim.eip(region, id).is_none(), "{id} released");
    }
}

/// Applies the ElasticIPs `eips` (name, manifest, the cloud's state once bound), waits until each
/// is Ready through the `protocol` wire protocol in that state, deletes them all, and checks that
/// each EIP in `region` went through allocate, bind, unbind, release.
async fn ready_then_released(s: &Scenario<'_>, protocol: &str, region: &str, eips: &[(&str, String, &str)]) {
    for (_, manifest, _) in eips {
        s.apply(manifest);
    }
    let mut ids = Vec::new();
    for (name, _, state) in eips {
        let what = format!("Ready through the {protocol} wire protocol");
        let object = s.wait_for(name, &what, Duration::from_secs(90), |o| is_true(o, "Ready")).await;
        let status = object.status.expect("status");
        assert_eq!(status.cloud_state.as_deref(), Some(*state), "{name}");
        ids.push(status.allocation_id.expect("allocation id"));
    }
    let mut delete = vec!["delete", "eip"];
    delete.extend(eips.iter().map(|(name, _, _)| *name));
    delete.push("--timeout=90s");
    s.kubectl_ok(&delete);
    assert_unbound_then_released(s, region, &ids);
}

pub async fn alibaba_lifecycle_through_the_wire(cp: &ControlPlane) {
    let s = Scenario::new(cp, "alibaba").await;
    let endpoint = serve_simulator(s.sim.clone()).await;
    cp.secret(
        "alibaba-e2e",
        &[("accessKeyId", SIM_ACCESS_KEY_ID), ("accessKeySecret", SIM_ACCESS_KEY_SECRET)],
    );
    for (name, signature) in [("alibaba-v3", "V3"), ("alibaba-v1", "V1")] {
        let config = alibaba_config(name, "cn-hangzhou", &endpoint, "alibaba-e2e");
        cp.apply(&format!("{config}  alibaba:\n    signatureVersion: {signature}\n"));
    }
    let eips = [
        ("web-v3", wire_eip("web-v3", "alibaba-v3", "EcsInstance", "i-sim-0001"), "InUse"),
        ("web-v1", wire_eip("web-v1", "alibaba-v1", "EcsInstance", "i-sim-0002"), "InUse"),
    ];
    ready_then_released(&s, "Alibaba", "cn-hangzhou", &eips).await;
    s.finish().await;
}

pub async fn otc_lifecycle_through_the_wire(cp: &ControlPlane) {
    let s = Scenario::new(cp, "otc").await;
    let endpoint = serve_simulator(s.sim.clone()).await;
    cp.secret("otc-e2e", &[("accessKey", SIM_ACCESS_KEY_ID), ("secretKey", SIM_ACCESS_KEY_SECRET)]);
    cp.apply(&format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: otc-e2e\nspec:\n  provider: otc\n  region: eu-de\n  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: otc-e2e\n    namespace: eip-operator\n  otc:\n    projectName: eu-de\n"
    ));
    let eips = [
        ("on-port", wire_eip("on-port", "otc-e2e", "Port", "port-sim-0001"), "ACTIVE"),
        ("on-elb", wire_eip("on-elb", "otc-e2e", "SlbInstance", "lb-sim-0001"), "ELB"),
    ];
    ready_then_released(&s, "OTC", "eu-de", &eips).await;
    s.finish().await;
}

/// A Secret value that cannot be a credential (bytes that are not UTF-8) is refused when read:
/// Stalled `InvalidCredentials` naming the key, and nothing is sent to the cloud.
pub async fn an_unusable_secret_value_stalls_naming_the_key(cp: &ControlPlane) {
    let s = Scenario::new(cp, "bad-secret").await;
    let endpoint = serve_simulator(s.sim.clone()).await;
    use base64::Engine as _;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    cp.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: alibaba-bad\n  namespace: eip-operator\ndata:\n  accessKeyId: {}\n  accessKeySecret: {}\n",
        encode(SIM_ACCESS_KEY_ID.as_bytes()),
        encode(&[0xff, 0xfe, b'x', b'y'])
    ));
    cp.apply(&alibaba_config("alibaba-bad", "cn-hangzhou", &endpoint, "alibaba-bad"));
    s.apply(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIP\nmetadata:\n  name: web\nspec:\n  providerConfigRef:\n    name: alibaba-bad\n",
    );
    let object = s
        .wait_for("web", "Stalled", Duration::from_secs(60), |o| is_true(o, "Stalled"))
        .await;
    let stalled = object
        .status
        .as_ref()
        .and_then(|st| st.conditions.iter().find(|c| c.type_ == "Stalled"))
        .expect("Stalled");
    assert_eq!(stalled.reason, "InvalidCredentials", "{stalled:?}");
    assert!(
        stalled.message.contains("accessKeySecret") && stalled.message.contains("UTF-8"),
        "{}",
        stalled.message
    );
    assert!(s.sim.calls().is_empty(), "nothing was sent: {:?}", s.sim.calls());
    s.finish().await;
}

/// OTC/Huawei: an EIP that SNAT/DNAT rules of its NAT gateway use is not unbound: the deletion
/// stalls naming the gateway and its rules, with the way out (no force on this cloud), and goes
/// on once the rules are gone.
pub async fn otc_nat_rules_block_the_unbind(cp: &ControlPlane) {
    let s = Scenario::new(cp, "otc-nat").await;
    let endpoint = serve_simulator(s.sim.clone()).await;
    cp.secret("otc-nat", &[("accessKey", SIM_ACCESS_KEY_ID), ("secretKey", SIM_ACCESS_KEY_SECRET)]);
    cp.apply(&format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: otc-nat\nspec:\n  provider: otc\n  region: eu-de\n  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: otc-nat\n    namespace: eip-operator\n  otc:\n    projectName: eu-de\n"
    ));
    s.apply(&format!(
        "{}  forceUnbind: true\n",
        wire_eip("snat", "otc-nat", "Nat", "ngw-sim-0002")
    ));
    let object = s.wait_ready("snat", Duration::from_secs(90)).await;
    let id = object.status.and_then(|st| st.allocation_id).expect("allocated");
    s.sim.set_nat_entries("eu-de", "ngw-sim-0002", 2).expect("NAT entries");
    s.kubectl_ok(&["delete", "eip", "snat", "--wait=false"]);
    let object = s
        .wait_for("snat", "Stalled by the NAT rules", Duration::from_secs(60), |o| {
            is_true(o, "Stalled")
        })
        .await;
    let stalled = object.condition("Stalled").expect("Stalled");
    assert_eq!(stalled.reason, "NatEntriesBlockUnbind", "{stalled:?}");
    assert!(
        stalled.message.contains("ngw-sim-0002") && stalled.message.contains("cannot force"),
        "{}",
        stalled.message
    );
    assert!(s.sim.eip("eu-de", &id).is_some_and(|e| e.bound_to.is_some()), "still bound");
    // The rules are deleted in the NAT gateway: the deletion goes on.
    s.sim.set_nat_entries("eu-de", "ngw-sim-0002", 0).expect("NAT entries");
    s.wait_gone("snat", Duration::from_secs(90)).await;
    assert!(s.sim.eip("eu-de", &id).is_none(), "released");
    s.finish().await;
}
