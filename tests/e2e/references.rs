//! Bindings by Kubernetes reference on the real API server: `nodeRef` (the instance behind a
//! Node's providerID) and `serviceRef` (a LoadBalancer Service's cloud load balancer), through
//! both clouds' wire protocols. Nodes and Services are plain objects here (no kubelet, no cloud
//! controller manager): the test writes their providerIDs and annotations itself.

use std::time::Duration;

use eip_api::ElasticIP;
use eip_simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, server_port_id};

use crate::support::{ControlPlane, Scenario, alibaba_config, condition, is_true, serve_simulator};

const WAIT: Duration = Duration::from_secs(90);

/// A Node named `name` whose instance is `provider_id`.
pub fn node(name: &str, provider_id: &str, labels: &[(&str, &str)]) -> String {
    let mut yaml = format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n");
    if !labels.is_empty() {
        yaml.push_str("  labels:\n");
        for (key, value) in labels {
            yaml.push_str(&format!("    {key}: \"{value}\"\n"));
        }
    }
    yaml.push_str(&format!("spec:\n  providerID: \"{provider_id}\"\n"));
    yaml
}

/// A Service of type LoadBalancer named `name`, with the load balancer annotation when given.
fn service(name: &str, annotation: Option<(&str, &str)>) -> String {
    let mut yaml = format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n");
    if let Some((key, value)) = annotation {
        yaml.push_str(&format!("  annotations:\n    {key}: \"{value}\"\n"));
    }
    yaml.push_str("spec:\n  type: LoadBalancer\n  selector:\n    app: web\n  ports:\n    - port: 80\n");
    yaml
}

fn eip_by_ref(name: &str, config: &str, binding: &str) -> String {
    format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIP\nmetadata:\n  name: {name}\nspec:\n  providerConfigRef:\n    name: {config}\n  allocation:\n    bandwidthMbps: 5\n  binding:\n    {binding}\n"
    )
}

/// (instance type, instance ID, reference kind, name, resolved instance) of status.boundTo.
fn bound(object: &ElasticIP) -> Option<(String, String, String, String, String)> {
    let to = object.status.as_ref()?.bound_to.as_ref()?;
    let reference = to.reference.as_ref()?;
    Some((
        to.instance_type.to_string(),
        to.instance_id.clone(),
        reference.kind.clone(),
        reference.name.clone(),
        reference.instance_id.clone(),
    ))
}

fn reconciling(object: &ElasticIP) -> Option<String> {
    condition(object, "Reconciling")
        .filter(|(s, _)| s == "True")
        .map(|(_, reason)| reason)
}

/// The successful Associate and Unassociate calls of `allocation_id`, in order.
fn binding_calls(s: &Scenario<'_>, allocation_id: &str) -> Vec<String> {
    s.mutating_calls(allocation_id)
        .into_iter()
        .filter(|c| (c.starts_with("Associate:") || c.starts_with("Unassociate:")) && c.ends_with(":Ok"))
        .collect()
}

/// Node replaced and deleted, then a Service's load balancer appearing, through `config` in the
/// scenario's cloud; `provider_id(server)` writes a Node's providerID for a server, `bound_as`
/// is how the cloud reports a server bound, `lb_annotation` the cloud's annotation key.
async fn references_lifecycle(
    s: &Scenario<'_>,
    config: &str,
    region: &str,
    provider_id: impl Fn(&str) -> String,
    bound_as: impl Fn(&str) -> (String, String),
    lb_annotation: &str,
) {
    let node_name = format!("{}-node", s.ns);
    s.cp.apply(&node(&node_name, &provider_id("i-sim-0003"), &[]));
    s.apply(&eip_by_ref("on-node", config, &format!("nodeRef:\n      name: {node_name}")));
    let object = s.wait_ready("on-node", WAIT).await;
    let (kind, id) = bound_as("i-sim-0003");
    assert_eq!(
        bound(&object),
        Some((kind, id, "Node".into(), node_name.clone(), "i-sim-0003".into())),
        "{:?}",
        object.status
    );
    let allocation_id = object.status.as_ref().and_then(|st| st.allocation_id.clone()).expect("allocated");

    // The node is replaced: same name, another instance (a Node's providerID cannot change,
    // so it is deleted and created again, as a node pool's rolling replacement does).
    s.cp.kubectl_ok(&["delete", "node", &node_name, "--wait=true"]);
    s.cp.apply(&node(&node_name, &provider_id("i-sim-0004"), &[]));
    let (kind, id) = bound_as("i-sim-0004");
    let want = Some((kind.clone(), id.clone(), "Node".into(), node_name.clone(), "i-sim-0004".into()));
    s.wait_for("on-node", "bound to the new instance", WAIT, |o| {
        is_true(o, "Ready") && bound(o) == want
    })
    .await;
    // Bound to the old instance, unbound from it, and only then bound to the new one.
    assert_eq!(
        binding_calls(s, &allocation_id),
        ["Associate:Ok", "Unassociate:Ok", "Associate:Ok"],
        "unbind from the old instance before binding the new one"
    );
    let (old_kind, old_id) = bound_as("i-sim-0003");
    let old = s
        .sim
        .instances(region)
        .expect("instances")
        .into_iter()
        .find(|i| i.instance_type.to_string() == old_kind && i.instance_id == old_id)
        .expect("the old instance");
    assert!(old.eips.is_empty(), "the old instance holds no EIP: {old:?}");

    // The node goes away: unbound, kept, waiting for it.
    s.cp.kubectl_ok(&["delete", "node", &node_name, "--wait=true"]);
    let object = s
        .wait_for("on-node", "unbound, waiting for the node", WAIT, |o| {
            reconciling(o).as_deref() == Some("NodeNotFound") && o.status.as_ref().is_some_and(|st| st.bound_to.is_none())
        })
        .await;
    assert!(!is_true(&object, "Ready") && !is_true(&object, "Stalled"), "{:?}", object.status);
    let in_cloud = s.sim.eip(region, &allocation_id).expect("the EIP is kept");
    assert!(in_cloud.bound_to.is_none(), "{in_cloud:?}");
    assert!(
        !s.mutating_calls(&allocation_id).iter().any(|c| c.starts_with("Release")),
        "never released because a node went away"
    );
    // It comes back: bound again, to the same address.
    s.cp.apply(&node(&node_name, &provider_id("i-sim-0004"), &[]));
    let object = s
        .wait_for("on-node", "bound again", WAIT, |o| is_true(o, "Ready") && bound(o) == want)
        .await;
    assert_eq!(
        object.status.and_then(|st| st.allocation_id).as_deref(),
        Some(allocation_id.as_str())
    );

    // A Service whose load balancer is not there yet: waiting, not an error.
    s.apply(&service("web", None));
    s.apply(&eip_by_ref("on-service", config, "serviceRef:\n      name: web"));
    let object = s
        .wait_for("on-service", "waiting for the load balancer", WAIT, |o| {
            reconciling(o).as_deref() == Some("AwaitingLoadBalancer")
        })
        .await;
    assert!(!is_true(&object, "Stalled"), "{:?}", object.status);
    s.apply(&service("web", Some((lb_annotation, "lb-sim-0002"))));
    let want = Some((
        "SlbInstance".to_string(),
        "lb-sim-0002".to_string(),
        "Service".to_string(),
        "web".to_string(),
        "lb-sim-0002".to_string(),
    ));
    s.wait_for("on-service", "bound to the load balancer", WAIT, |o| {
        is_true(o, "Ready") && bound(o) == want
    })
    .await;

    s.kubectl_ok(&["delete", "eip", "on-node", "on-service", "--timeout=90s"]);
    assert!(s.sim.eip(region, &allocation_id).is_none(), "released on deletion");
    s.cp.kubectl_ok(&["delete", "node", &node_name]);
}

pub async fn node_and_service_references_on_alibaba(cp: &ControlPlane) {
    let s = Scenario::new(cp, "refs-alibaba").await;
    let endpoint = serve_simulator(s.sim.clone()).await;
    cp.secret(
        "refs-alibaba",
        &[("accessKeyId", SIM_ACCESS_KEY_ID), ("accessKeySecret", SIM_ACCESS_KEY_SECRET)],
    );
    cp.apply(&alibaba_config("refs-alibaba", "cn-hangzhou", &endpoint, "refs-alibaba"));
    references_lifecycle(
        &s,
        "refs-alibaba",
        "cn-hangzhou",
        |server| format!("cn-hangzhou.{server}"),
        |server| ("EcsInstance".into(), server.into()),
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-id",
    )
    .await;
    s.finish().await;
}

/// On OTC a server is bound through its port, which the operator finds with the VPC port list.
pub async fn node_and_service_references_on_otc(cp: &ControlPlane) {
    let s = Scenario::new(cp, "refs-otc").await;
    let endpoint = serve_simulator(s.sim.clone()).await;
    cp.secret(
        "refs-otc",
        &[("accessKey", SIM_ACCESS_KEY_ID), ("secretKey", SIM_ACCESS_KEY_SECRET)],
    );
    cp.apply(&format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: refs-otc\nspec:\n  provider: otc\n  region: eu-de\n  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: refs-otc\n    namespace: eip-operator\n  otc:\n    projectName: eu-de\n"
    ));
    references_lifecycle(
        &s,
        "refs-otc",
        "eu-de",
        |server| format!("openstack:///{server}"),
        |server| ("Port".into(), server_port_id(server)),
        "kubernetes.io/elb.id",
    )
    .await;
    s.finish().await;
}

/// A providerID of a cloud this operator does not serve stalls naming the node and the value.
pub async fn an_unsupported_provider_id_stalls(cp: &ControlPlane) {
    let s = Scenario::new(cp, "refs-stall").await;
    let node_name = format!("{}-node", s.ns);
    // GCE: a cloud this operator does not serve (AWS's providerIDs are parsed since the AWS
    // provider binds through Nodes).
    cp.apply(&node(&node_name, "gce://my-project/us-central1-a/instance-1", &[]));
    s.apply(&s.manifest("web", &format!("binding:\n  nodeRef:\n    name: {node_name}")));
    let object = s.wait_for("web", "Stalled", WAIT, |o| is_true(o, "Stalled")).await;
    let stalled = object.condition("Stalled").expect("Stalled");
    assert_eq!(stalled.reason, "UnsupportedProviderId");
    assert!(
        stalled.message.contains(&node_name) && stalled.message.contains("gce://my-project/us-central1-a/instance-1"),
        "{}",
        stalled.message
    );
    s.kubectl_ok(&["delete", "eip", "web", "--timeout=60s"]);
    cp.kubectl_ok(&["delete", "node", &node_name]);
    s.finish().await;
}
