//! The operator's AWS provider on the real apiserver: through the simulator's EC2 front end, and
//! against moto (a third-party EC2 emulator) — create bound to a moto instance, rebind, unbind,
//! delete; adoption of an address allocated outside the operator; NotFound handling.

use std::time::Duration;

use eip_api::Ownership;
use eip_simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET};

use crate::aws_moto::{self, Moto, Seen};
use crate::support::{ControlPlane, Scenario, condition, is_true, serve_simulator};

const TIMEOUT: Duration = Duration::from_secs(90);

fn aws_config(name: &str, endpoint: &str, secret: &str) -> String {
    format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: {name}\nspec:\n  provider: aws\n  region: us-east-1\n  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: {secret}\n    namespace: eip-operator\n"
    )
}

fn eip(name: &str, config: &str, rest: &str) -> String {
    format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIP\nmetadata:\n  name: {name}\nspec:\n  providerConfigRef:\n    name: {config}\n{rest}"
    )
}

fn bound_to_instance(instance: &str) -> String {
    format!("  binding:\n    instanceType: EcsInstance\n    instanceId: {instance}\n")
}

pub async fn aws_lifecycle_through_the_simulator_wire(cp: &ControlPlane) {
    let s = Scenario::new(cp, "aws").await;
    let endpoint = serve_simulator(s.sim.clone()).await;
    cp.secret(
        "aws-e2e",
        &[("accessKeyId", SIM_ACCESS_KEY_ID), ("secretAccessKey", SIM_ACCESS_KEY_SECRET)],
    );
    cp.apply(&aws_config("aws-sim", &format!("{endpoint}/aws"), "aws-e2e"));
    s.apply(&eip("web-aws", "aws-sim", &bound_to_instance("i-sim-0001")));
    let object = s
        .wait_for("web-aws", "Ready through the EC2 wire protocol", TIMEOUT, |o| is_true(o, "Ready"))
        .await;
    let status = object.status.expect("status");
    assert_eq!(status.cloud_state.as_deref(), Some("associated"));
    let id = status.allocation_id.expect("allocation id");
    assert!(id.starts_with("eipalloc-"), "{id}");
    s.kubectl_ok(&["delete", "eip", "web-aws", "--timeout=90s"]);
    let ok: Vec<String> = s.mutating_calls(&id).into_iter().filter(|c| c.ends_with(":Ok")).collect();
    // No separate tag call: AllocateAddress carries the owner tags.
    assert_eq!(ok, ["Allocate:Ok", "Associate:Ok", "Unassociate:Ok", "Release:Ok"], "{id}");
    assert!(s.sim.eip("us-east-1", &id).is_none(), "released");
    s.finish().await;
}

/// Every association the operator made for `id` was undone (a 200 DisassociateAddress of its
/// association ID) before the one successful ReleaseAddress of `id`.
fn assert_unbound_before_released(seen: &[Seen], id: &str) {
    let release = seen
        .iter()
        .position(|c| c.action() == "ReleaseAddress" && c.get("AllocationId") == Some(id) && c.status == 200)
        .unwrap_or_else(|| panic!("no successful ReleaseAddress of {id}: {:?}", actions(seen)));
    let associations: Vec<String> = seen[..release]
        .iter()
        .filter(|c| c.action() == "AssociateAddress" && c.get("AllocationId") == Some(id) && c.status == 200)
        .filter_map(|c| aws_moto::xml_text(&c.body, "associationId"))
        .collect();
    assert!(!associations.is_empty(), "{id} was never associated");
    for association in &associations {
        assert!(
            seen[..release]
                .iter()
                .any(|c| c.action() == "DisassociateAddress" && c.get("AssociationId") == Some(association) && c.status == 200),
            "{association} of {id} not disassociated before the release: {:?}",
            actions(seen)
        );
    }
    assert!(
        seen[release..]
            .iter()
            .all(|c| !(c.action() == "AssociateAddress" && c.get("AllocationId") == Some(id))),
        "associated after the release"
    );
}

fn actions(seen: &[Seen]) -> Vec<String> {
    seen.iter().map(|c| format!("{}:{}", c.action(), c.status)).collect()
}

/// The association of `id` on moto, read straight from moto: (instance ID, association ID).
async fn moto_binding(moto: &Moto, id: &str) -> Option<(String, String)> {
    let body = aws_moto::call(&aws_moto::ec2(&moto.url), "DescribeAddresses", &[("AllocationId.1", id)]).await;
    Some((
        aws_moto::xml_text(&body, "instanceId")?,
        aws_moto::xml_text(&body, "associationId")?,
    ))
}

pub async fn aws_lifecycle_on_moto(cp: &ControlPlane) {
    let python = match aws_moto::moto_python() {
        Ok(python) => python,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED aws_lifecycle_on_moto: {why}");
            return;
        }
        Err(why) => panic!("CI must run the moto lifecycle: {why}"),
    };
    let moto = Moto::start(&python);
    let (proxy, seen) = aws_moto::counting_proxy(&moto.url).await;
    let direct = aws_moto::ec2(&moto.url);
    let first = aws_moto::run_instance(&direct).await;
    let second = aws_moto::run_instance(&direct).await;

    let s = Scenario::new(cp, "moto").await;
    cp.secret("moto-e2e", &[("accessKeyId", aws_moto::KEY), ("secretAccessKey", aws_moto::KEY)]);
    cp.apply(&aws_config("aws-moto", &proxy, "moto-e2e"));

    // Create, bound to a moto instance.
    s.apply(&eip("web", "aws-moto", &bound_to_instance(&first)));
    let object = s.wait_for("web", "Ready on moto", TIMEOUT, |o| is_true(o, "Ready")).await;
    let status = object.status.expect("status");
    assert_eq!(status.cloud_state.as_deref(), Some("associated"));
    let id = status.allocation_id.expect("allocation id");
    assert_eq!(moto_binding(&moto, &id).await.map(|b| b.0), Some(first.clone()));

    // Rebind to the second instance.
    s.kubectl_ok(&[
        "patch",
        "eip",
        "web",
        "--type=merge",
        "-p",
        &format!(r#"{{"spec":{{"binding":{{"instanceId":"{second}"}}}}}}"#),
    ]);
    s.wait_for("web", "rebound on moto", TIMEOUT, |o| {
        is_true(o, "Ready")
            && o.status.as_ref().is_some_and(|st| {
                st.observed_generation == o.metadata.generation && st.bound_to.as_ref().is_some_and(|b| b.instance_id == second)
            })
    })
    .await;
    assert_eq!(moto_binding(&moto, &id).await.map(|b| b.0), Some(second.clone()));

    // Unbind.
    s.kubectl_ok(&[
        "patch",
        "eip",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/spec/binding"}]"#,
    ]);
    let object = s
        .wait_for("web", "unbound on moto", TIMEOUT, |o| {
            is_true(o, "Ready") && o.status.as_ref().is_some_and(|st| st.observed_generation == o.metadata.generation)
        })
        .await;
    assert_eq!(condition(&object, "Ready").map(|c| c.1), Some("Unbound".to_string()));
    assert_eq!(moto_binding(&moto, &id).await, None);

    // Bind again, then delete: moto would release an associated address, so the order is
    // proven from the calls.
    s.kubectl_ok(&[
        "patch",
        "eip",
        "web",
        "--type=merge",
        "-p",
        &format!(r#"{{"spec":{{"binding":{{"instanceType":"EcsInstance","instanceId":"{first}"}}}}}}"#),
    ]);
    s.wait_for("web", "bound again on moto", TIMEOUT, |o| {
        is_true(o, "Ready")
            && o.status
                .as_ref()
                .is_some_and(|st| st.bound_to.as_ref().is_some_and(|b| b.instance_id == first))
    })
    .await;
    s.kubectl_ok(&["delete", "eip", "web", "--timeout=90s"]);
    let calls = seen.lock().expect("log").clone();
    assert_unbound_before_released(&calls, &id);
    let addresses = aws_moto::call(
        &direct,
        "DescribeAddresses",
        &[("Filter.1.Name", "allocation-id"), ("Filter.1.Value.1", &id)],
    )
    .await;
    assert_eq!(aws_moto::xml_text(&addresses, "allocationId"), None, "released on moto");
    // AllocateAddress carried the owner tags: exactly one allocation, no separate CreateTags.
    assert_eq!(
        calls.iter().filter(|c| c.action() == "AllocateAddress").count(),
        1,
        "{:?}",
        actions(&calls)
    );
    let allocate = calls.iter().find(|c| c.action() == "AllocateAddress").expect("allocated");
    assert_eq!(allocate.get("TagSpecification.1.ResourceType"), Some("elastic-ip"));

    // Adoption of an address allocated outside the operator (as boto3 or the console would).
    let body = aws_moto::call(&direct, "AllocateAddress", &[("Domain", "vpc")]).await;
    let legacy = aws_moto::xml_text(&body, "allocationId").expect("allocation id");
    s.apply(&eip(
        "legacy",
        "aws-moto",
        &format!("  allocationId: {legacy}\n{}", bound_to_instance(&second)),
    ));
    let object = s.wait_for("legacy", "adopted on moto", TIMEOUT, |o| is_true(o, "Ready")).await;
    assert_eq!(object.status.as_ref().and_then(|st| st.ownership), Some(Ownership::Adopted));
    assert_eq!(moto_binding(&moto, &legacy).await.map(|b| b.0), Some(second.clone()));
    s.kubectl_ok(&["delete", "eip", "legacy", "--timeout=90s"]);
    let calls = seen.lock().expect("log").clone();
    assert!(
        !calls
            .iter()
            .any(|c| c.action() == "ReleaseAddress" && c.get("AllocationId") == Some(legacy.as_str())),
        "an adopted address is retained by default"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.action() == "CreateTags" && c.get("ResourceId.1") == Some(legacy.as_str())),
        "claimed"
    );

    // NotFound: adopting an ID moto does not have stalls, and allocates nothing.
    let before = calls.iter().filter(|c| c.action() == "AllocateAddress").count();
    s.apply(&eip("ghost", "aws-moto", "  allocationId: eipalloc-00000000000000000\n"));
    let ghost = s.wait_for("ghost", "Stalled", TIMEOUT, |o| is_true(o, "Stalled")).await;
    assert_eq!(condition(&ghost, "Stalled").map(|c| c.1), Some("AdoptTargetNotFound".to_string()));
    s.kubectl_ok(&["delete", "eip", "ghost", "--timeout=60s"]);

    // NotFound on delete: an address released behind the operator's back; the delete completes.
    s.apply(&eip("vanishing", "aws-moto", ""));
    let object = s.wait_for("vanishing", "Ready unbound", TIMEOUT, |o| is_true(o, "Ready")).await;
    let gone = object.status.and_then(|st| st.allocation_id).expect("allocation id");
    aws_moto::call(&direct, "ReleaseAddress", &[("AllocationId", &gone)]).await;
    s.kubectl_ok(&["delete", "eip", "vanishing", "--timeout=90s"]);
    let calls = seen.lock().expect("log").clone();
    assert_eq!(
        calls.iter().filter(|c| c.action() == "AllocateAddress").count(),
        before + 1,
        "{:?}",
        actions(&calls)
    );
    s.finish().await;
    drop(moto);
}

/// AWS allocates without an idempotency token: killed again and again while it allocates (a
/// third of the answers held back half a second after the address exists), the operator still
/// makes exactly one address per object, because it looks for the owner tag before allocating.
pub async fn aws_restarts_mid_allocation_make_one_address_each(cp: &ControlPlane) {
    use eip_simulator::{FaultKind, FaultMix, Faults};
    use kube::ResourceExt;
    use rand::Rng;

    const COUNT: usize = 6;
    let mut s = Scenario::new(cp, "aws-restart").await;
    let endpoint = serve_simulator(s.sim.clone()).await;
    cp.secret(
        "aws-restart-e2e",
        &[("accessKeyId", SIM_ACCESS_KEY_ID), ("secretAccessKey", SIM_ACCESS_KEY_SECRET)],
    );
    cp.apply(&aws_config("aws-restart", &format!("{endpoint}/aws"), "aws-restart-e2e"));
    s.sim.set_faults(Faults {
        error_rate: 0.35,
        mix: FaultMix::only(FaultKind::Slow),
        slow: Duration::from_millis(500),
        ..Faults::default()
    });
    for i in 1..=COUNT {
        s.apply(&eip(
            &format!("eip-{i}"),
            "aws-restart",
            &bound_to_instance(&format!("i-sim-{:04}", i + 10)),
        ));
    }
    for _ in 0..8 {
        let pause = Duration::from_millis(rand::rng().random_range(100..600));
        tokio::time::sleep(pause).await;
        s.kill_operator().await;
        s.start_operator().await;
    }
    s.sim.set_faults(Faults::default());
    let mut uids = std::collections::BTreeSet::new();
    for i in 1..=COUNT {
        let object = s.wait_ready(&format!("eip-{i}"), TIMEOUT).await;
        uids.insert(object.uid().expect("uid"));
    }
    let eips = s.sim.eips("us-east-1");
    assert_eq!(eips.len(), COUNT, "exactly one address per object: {eips:#?}");
    let owners: std::collections::BTreeSet<String> = eips.iter().filter_map(|e| e.owner_uid().map(str::to_owned)).collect();
    assert_eq!(owners, uids, "every address carries its object's UID");
    let allocations = s
        .sim
        .calls()
        .iter()
        .filter(|c| c.operation.as_str() == "Allocate" && c.outcome.as_str() == "Ok")
        .count();
    assert_eq!(allocations, COUNT, "no second allocation after a crash");
    s.kubectl_ok(&["delete", "eip", "--all", "--timeout=90s"]);
    assert!(s.sim.eips("us-east-1").is_empty(), "no address leaked");
    s.finish().await;
}
