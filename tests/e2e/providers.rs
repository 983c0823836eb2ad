//! The operator through the clouds' real wire protocols: a ProviderConfig of type `alibaba` (or
//! `otc`) pointed at the simulator's HTTP endpoint, credentials from a Secret.

use std::time::Duration;

use eip_simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, Simulator, server};

use crate::support::{ControlPlane, Scenario, is_true};

/// Serves the simulator (admin API and wire protocols) on a loopback port.
async fn serve(sim: Simulator) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(server::serve(sim, listener, std::future::pending()));
    format!("http://{addr}")
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

pub async fn alibaba_lifecycle_through_the_wire(cp: &ControlPlane) {
    let s = Scenario::new(cp, "alibaba").await;
    let endpoint = serve(s.sim.clone()).await;
    cp.secret(
        "alibaba-e2e",
        &[("accessKeyId", SIM_ACCESS_KEY_ID), ("accessKeySecret", SIM_ACCESS_KEY_SECRET)],
    );
    for (name, signature) in [("alibaba-v3", "V3"), ("alibaba-v1", "V1")] {
        cp.apply(&format!(
            "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: {name}\nspec:\n  provider: alibaba\n  region: cn-hangzhou\n  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: alibaba-e2e\n    namespace: eip-operator\n  alibaba:\n    signatureVersion: {signature}\n"
        ));
    }
    let manifest = |name: &str, config: &str, instance: &str| {
        format!(
            "apiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIP\nmetadata:\n  name: {name}\nspec:\n  providerConfigRef:\n    name: {config}\n  allocation:\n    bandwidthMbps: 5\n  binding:\n    instanceType: EcsInstance\n    instanceId: {instance}\n"
        )
    };
    s.apply(&manifest("web-v3", "alibaba-v3", "i-sim-0001"));
    s.apply(&manifest("web-v1", "alibaba-v1", "i-sim-0002"));
    let mut ids = Vec::new();
    for name in ["web-v3", "web-v1"] {
        let object = s
            .wait_for(name, "Ready through the Alibaba wire protocol", Duration::from_secs(90), |o| {
                is_true(o, "Ready")
            })
            .await;
        let status = object.status.expect("status");
        assert_eq!(status.cloud_state.as_deref(), Some("InUse"));
        ids.push(status.allocation_id.expect("allocation id"));
    }
    s.kubectl_ok(&["delete", "eip", "web-v3", "web-v1", "--timeout=90s"]);
    assert_unbound_then_released(&s, "cn-hangzhou", &ids);
    s.finish().await;
}

pub async fn otc_lifecycle_through_the_wire(cp: &ControlPlane) {
    let s = Scenario::new(cp, "otc").await;
    let endpoint = serve(s.sim.clone()).await;
    cp.secret("otc-e2e", &[("accessKey", SIM_ACCESS_KEY_ID), ("secretKey", SIM_ACCESS_KEY_SECRET)]);
    cp.apply(&format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: otc-e2e\nspec:\n  provider: otc\n  region: eu-de\n  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: otc-e2e\n    namespace: eip-operator\n  otc:\n    projectName: eu-de\n"
    ));
    let manifest = |name: &str, kind: &str, instance: &str| {
        format!(
            "apiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIP\nmetadata:\n  name: {name}\nspec:\n  providerConfigRef:\n    name: otc-e2e\n  allocation:\n    bandwidthMbps: 5\n  binding:\n    instanceType: {kind}\n    instanceId: {instance}\n"
        )
    };
    s.apply(&manifest("on-port", "Port", "port-sim-0001"));
    s.apply(&manifest("on-elb", "SlbInstance", "lb-sim-0001"));
    let mut ids = Vec::new();
    for (name, state) in [("on-port", "ACTIVE"), ("on-elb", "ELB")] {
        let object = s
            .wait_for(name, "Ready through the OTC wire protocol", Duration::from_secs(90), |o| {
                is_true(o, "Ready")
            })
            .await;
        let status = object.status.expect("status");
        assert_eq!(status.cloud_state.as_deref(), Some(state), "{name}");
        ids.push(status.allocation_id.expect("allocation id"));
    }
    s.kubectl_ok(&["delete", "eip", "on-port", "on-elb", "--timeout=90s"]);
    assert_unbound_then_released(&s, "eu-de", &ids);
    s.finish().await;
}

/// A Secret value that cannot be a credential (bytes that are not UTF-8) is refused when read:
/// Stalled `InvalidCredentials` naming the key, and nothing is sent to the cloud.
pub async fn an_unusable_secret_value_stalls_naming_the_key(cp: &ControlPlane) {
    let s = Scenario::new(cp, "bad-secret").await;
    let endpoint = serve(s.sim.clone()).await;
    use base64::Engine as _;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    cp.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: alibaba-bad\n  namespace: eip-operator\ndata:\n  accessKeyId: {}\n  accessKeySecret: {}\n",
        encode(SIM_ACCESS_KEY_ID.as_bytes()),
        encode(&[0xff, 0xfe, b'x', b'y'])
    ));
    cp.apply(&format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: alibaba-bad\nspec:\n  provider: alibaba\n  region: cn-hangzhou\n  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: alibaba-bad\n    namespace: eip-operator\n"
    ));
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
