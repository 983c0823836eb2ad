//! The lifecycles: ports with AK/SK and with IAM tokens, project names, load balancers, VPNs
//! through v3, and the tags that record the owner.

use std::collections::BTreeMap;

use eip_cloud::{
    AllocateRequest, BindTarget, Blocker, CloudProvider, EipPhase, ErrorClass, InstanceType, OWNER_NAME_TAG, OWNER_TAG, Operation,
    UnbindRequest,
};
use eip_otc::{OtcCloud, OtcProvider};
use eip_simulator::{CallOutcome, SeedEip, SimulatorConfig};

use super::support::*;

async fn lifecycle_with_a_port(provider: &OtcProvider, uid: &str, port: &str) {
    let allocated = provider.allocate(&owned(uid)).await.expect("allocates");
    let id = allocated.eip.allocation_id.clone();
    assert!(!allocated.receipt.request_id.is_empty());
    assert_eq!(allocated.eip.owner_uid(), Some(uid));
    assert_eq!(allocated.eip.bandwidth_mbps, Some(10));

    // A crash right after allocating: the owner finds it again.
    let found = provider.find_by_owner(uid).await.expect("finds");
    assert_eq!(
        found.iter().map(|e| e.allocation_id.as_str()).collect::<Vec<_>>(),
        vec![id.as_str()]
    );
    assert_eq!(found[0].tags.get(OWNER_NAME_TAG).map(String::as_str), Some("team-a/web"));
    assert!(provider.find_by_owner("someone-else").await.expect("finds").is_empty());

    // A tag added later and removed again, through the v2.0 tag API.
    let extra = BTreeMap::from([("stage".to_owned(), "test".to_owned())]);
    provider.tag(&id, &extra).await.expect("tags");
    provider.untag(&id, &["stage".to_owned()]).await.expect("untags");

    let down = wait_for(provider, &id, |e| e.is_some_and(|e| e.raw_state == "DOWN"))
        .await
        .expect("exists");
    assert_eq!((down.phase, down.bound_to), (EipPhase::Unbound, None));

    let wanted = target(InstanceType::Port, port);
    provider.associate(&id, &wanted, "").await.expect("associates");
    let active = wait_for(provider, &id, |e| e.is_some_and(|e| e.raw_state == "ACTIVE"))
        .await
        .expect("exists");
    assert_eq!(active.phase, EipPhase::Bound);
    let current = active.bound_to.expect("bound");
    assert!(current.satisfies(&wanted), "{current}");
    assert!(current.private_ip_address.is_some());

    provider
        .unassociate(&UnbindRequest::new(id.to_owned(), current.clone(), ""))
        .await
        .expect("unassociates");
    wait_for(provider, &id, |e| e.is_some_and(|e| e.raw_state == "DOWN" && e.bound_to.is_none())).await;

    provider.release(&id, "").await.expect("releases");
    wait_for(provider, &id, |e| e.is_none()).await;
    let err = provider.release(&id, "").await.expect_err("gone");
    assert_eq!((err.class(), err.code.as_str()), (ErrorClass::Gone, "VPC.0504"));
    assert!(err.request_id.is_some());
}

#[tokio::test]
async fn aksk_port_lifecycle() {
    with_timeout(async {
        let cloud = start(latencies(60)).await;
        let provider = otc(&cloud);
        assert_eq!(provider.name(), "otc");
        lifecycle_with_a_port(&provider, "uid-aksk", "port-sim-0001").await;
        // A server is bound through its port, which the port list names.
        let server = BindTarget {
            instance_type: InstanceType::EcsInstance,
            instance_id: "i-sim-0002".into(),
            private_ip_address: None,
        };
        assert!(provider.capabilities().resolves(InstanceType::EcsInstance));
        let port = provider.resolve_target(&server).await.expect("the server's port");
        assert_eq!(
            (port.instance_type, port.instance_id.as_str()),
            (InstanceType::Port, eip_simulator::server_port_id("i-sim-0002").as_str())
        );
        let id = allocate_down(&provider, &AllocateRequest::default()).await.allocation_id;
        provider.associate(&id, &server, "").await.expect("binds the server");
        let bound = wait_for(&provider, &id, |e| e.is_some_and(|e| e.raw_state == "ACTIVE")).await;
        assert_eq!(
            bound.and_then(|e| e.bound_to).map(|t| t.instance_id),
            Some(port.instance_id.clone())
        );
        let ops: Vec<Operation> = cloud.sim.calls().iter().map(|c| c.operation).collect();
        // find_by_owner walks the unfiltered list, which the wire logs as List pages.
        for op in Operation::ALL.into_iter().filter(|op| *op != Operation::FindByOwner) {
            assert!(ops.contains(&op), "{op} went through the model");
        }
        assert!(cloud.sim.calls().iter().all(|c| c.region == EU_DE));
    })
    .await;
}

#[tokio::test]
async fn password_token_lifecycle_with_project_name() {
    with_timeout(async {
        let cloud = start(latencies(60)).await;
        // No project ID: the token is scoped to the project named after the region.
        let provider = provider(settings(&cloud, OtcCloud::HuaweiCloud, "ap-southeast-1"), password());
        assert_eq!(provider.name(), "huawei");
        lifecycle_with_a_port(&provider, "uid-token", "port-sim-0002").await;
        assert!(cloud.sim.calls().iter().all(|c| c.region == "ap-southeast-1"));
    })
    .await;
}

#[tokio::test]
async fn aksk_with_project_name_resolves_the_project() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let mut nl = settings(&cloud, OtcCloud::OpenTelekomCloud, "eu-nl");
        nl.project_name = Some("eu-nl".to_owned());
        let provider = provider(nl, aksk());
        let eip = provider.allocate(&owned("uid-nl")).await.expect("allocates").eip;
        assert_eq!(
            cloud.sim.eip("eu-nl", &eip.allocation_id).map(|e| e.raw_state),
            Some("DOWN".to_owned())
        );
    })
    .await;
}

#[tokio::test]
async fn load_balancer_binding_is_undone_with_v3() {
    with_timeout(async {
        let cloud = start(latencies(60)).await;
        let provider = otc(&cloud);
        let id = allocate_down(&provider, &owned("uid-lb")).await.allocation_id;
        let lb = target(InstanceType::SlbInstance, "lb-sim-0001");
        provider.associate(&id, &lb, "").await.expect("associates through v3");
        let bound = wait_for(&provider, &id, |e| e.is_some_and(|e| e.raw_state == "ELB"))
            .await
            .expect("exists");
        assert_eq!((bound.phase, bound.bound_to.clone()), (EipPhase::Bound, Some(lb.clone())));

        // Released while on the load balancer: refused, terminal.
        let err = provider.release(&id, "").await.expect_err("in use by the ELB");
        assert_eq!(
            (err.code.as_str(), err.class(), err.blocker()),
            ("VPC.0516", ErrorClass::Terminal, Some(Blocker::Other))
        );

        provider
            .unassociate(&UnbindRequest::new(id.to_owned(), lb.clone(), ""))
            .await
            .expect("unbinds through v3");
        wait_for(&provider, &id, |e| e.is_some_and(|e| e.raw_state == "DOWN")).await;
        provider.release(&id, "").await.expect("releases");
        wait_for(&provider, &id, |e| e.is_none()).await;

        let v3_calls = cloud.sim.calls().iter().filter(|c| c.operation == Operation::Unassociate).count();
        assert_eq!(v3_calls, 1);

        // NAT gateways and VPNs take the same path.
        let id = allocate_down(&provider, &AllocateRequest::default()).await.allocation_id;
        provider
            .associate(&id, &target(InstanceType::Vpn, "vpn-sim-0001"), "")
            .await
            .expect("binds a VPN");
        let vpn = wait_for(&provider, &id, |e| e.is_some_and(|e| e.raw_state == "VPN"))
            .await
            .expect("exists");
        assert_eq!(vpn.bound_to.map(|b| b.instance_type), Some(InstanceType::Vpn));
    })
    .await;
}

#[tokio::test]
async fn tags_follow_the_cloud_rules() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let provider = otc(&cloud);
        let eip = provider.allocate(&owned("uid-tags")).await.expect("allocates").eip;
        assert_eq!(eip.tags.get(OWNER_NAME_TAG).map(String::as_str), Some("team-a/web"));
        let described = describe(&provider, &eip.allocation_id).await.expect("exists");
        assert_eq!(described.owner_uid(), Some("uid-tags"));
        assert_eq!(described.tags.get(OWNER_NAME_TAG).map(String::as_str), Some("team-a/web"));
        assert_eq!(described.tags.get("app_kubernetes_io_name").map(String::as_str), Some("web"));

        // EIPs the in-process provider created are owned the same way over the wire.
        let sim_provider = cloud.sim.provider(EU_DE).expect("region");
        let direct = sim_provider.allocate(&owned("uid-direct")).await.expect("allocates").eip;
        let found = provider.find_by_owner("uid-direct").await.expect("finds");
        assert_eq!(
            found.iter().map(|e| &e.allocation_id).collect::<Vec<_>>(),
            vec![&direct.allocation_id]
        );
    })
    .await;
}

/// Adoption's claim over the wire: `tags/action` create and delete, read back by Describe in the
/// operator's keys; the cloud keeps the last writer's value; unknown EIPs are gone.
#[tokio::test]
async fn claim_tags_and_untags_an_adopted_eip() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let provider = otc(&cloud);
        let seeded = SeedEip {
            tags: BTreeMap::from([("team".to_owned(), "a".to_owned())]),
            ..SeedEip::default()
        };
        let id = cloud.sim.seed_eip(EU_DE, seeded).expect("seeds").allocation_id;
        let claim =
            |uid: &str, name: &str| BTreeMap::from([(OWNER_TAG.to_owned(), uid.to_owned()), (OWNER_NAME_TAG.to_owned(), name.to_owned())]);
        let receipt = provider.tag(&id, &claim("uid-a", "team-a/web")).await.expect("tags");
        assert!(!receipt.request_id.is_empty());
        let eip = describe(&provider, &id).await.expect("exists");
        assert_eq!((eip.owner_uid(), eip.owner_name()), (Some("uid-a"), Some("team-a/web")));
        assert_eq!(eip.tags.get("team").map(String::as_str), Some("a"));
        // The model keeps the operator's keys: the in-process provider sees the same claim.
        assert_eq!(cloud.sim.eip(EU_DE, &id).expect("exists").tags, eip.tags);
        assert_eq!(provider.find_by_owner("uid-a").await.expect("finds").len(), 1);

        // Not compare-and-swap: a second claim overwrites the first.
        provider.tag(&id, &claim("uid-b", "team-b/api")).await.expect("tags");
        let eip = describe(&provider, &id).await.expect("exists");
        assert_eq!((eip.owner_uid(), eip.owner_name()), (Some("uid-b"), Some("team-b/api")));

        provider
            .untag(&id, &[OWNER_TAG.to_owned(), OWNER_NAME_TAG.to_owned()])
            .await
            .expect("untags");
        let eip = describe(&provider, &id).await.expect("exists");
        assert_eq!(eip.tags, BTreeMap::from([("team".to_owned(), "a".to_owned())]));

        let unknown = "6e1c1f4c-0000-4000-8000-000000000000";
        for err in [
            provider.tag(unknown, &claim("uid-a", "team-a/web")).await.expect_err("unknown"),
            provider.untag(unknown, &[OWNER_TAG.to_owned()]).await.expect_err("unknown"),
        ] {
            assert_eq!((err.class(), err.code.as_str()), (ErrorClass::Gone, "VPC.0504"), "{err:?}");
        }
        let tagging: Vec<(Operation, CallOutcome)> = cloud
            .sim
            .calls()
            .into_iter()
            .filter(|c| matches!(c.operation, Operation::Tag | Operation::Untag))
            .map(|c| (c.operation, c.outcome))
            .collect();
        assert_eq!(
            tagging,
            vec![
                (Operation::Tag, CallOutcome::Ok),
                (Operation::Tag, CallOutcome::Ok),
                (Operation::Untag, CallOutcome::Ok),
                (Operation::Tag, CallOutcome::Error),
                (Operation::Untag, CallOutcome::Error),
            ]
        );
    })
    .await;
}
