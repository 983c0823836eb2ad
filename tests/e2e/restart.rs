//! The operator killed mid-operation, again and again: it converges without a second allocation
//! and without leaking an address.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kube::ResourceExt;
use rand::Rng;

use crate::support::{ControlPlane, REGION, Scenario};

const COUNT: usize = 8;

pub async fn restarts_mid_operation_converge_without_leaks(cp: &ControlPlane) {
    let mut s = Scenario::new(cp, "restart").await;
    for i in 1..=COUNT {
        s.apply(&s.manifest(
            &format!("eip-{i}"),
            &format!("binding:\n  instanceType: EcsInstance\n  instanceId: i-sim-{:04}", i + 10),
        ));
    }
    // Kill the operator at random moments while it allocates and binds.
    for _ in 0..6 {
        let pause = Duration::from_millis(rand::rng().random_range(100..700));
        tokio::time::sleep(pause).await;
        s.kill_operator().await;
        s.start_operator().await;
    }
    let mut uids = BTreeSet::new();
    for i in 1..=COUNT {
        let object = s.wait_ready(&format!("eip-{i}"), Duration::from_secs(90)).await;
        uids.insert(object.uid().expect("uid"));
    }

    let eips = s.sim.eips(REGION);
    assert_eq!(eips.len(), COUNT, "exactly one EIP per object: {eips:#?}");
    let owners: BTreeSet<String> = eips.iter().filter_map(|e| e.owner_uid().map(str::to_string)).collect();
    assert_eq!(owners, uids, "every EIP is tagged with its object's UID");
    let allocated: BTreeSet<String> = s
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.operation.as_str() == "Allocate" && c.outcome.as_str() == "Ok")
        .flat_map(|c| c.allocation_ids)
        .collect();
    assert_eq!(allocated.len(), COUNT, "replayed allocations returned the same EIPs");

    // Delete them all, killing the operator while it unbinds and releases.
    s.kubectl_ok(&["delete", "eip", "--all", "--wait=false"]);
    for _ in 0..6 {
        let pause = Duration::from_millis(rand::rng().random_range(200..900));
        tokio::time::sleep(pause).await;
        s.kill_operator().await;
        s.start_operator().await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = s.eips().list(&Default::default()).await.expect("list").items.len();
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} ElasticIPs still exist");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(s.sim.eips(REGION).is_empty(), "no EIP leaked: {:#?}", s.sim.eips(REGION));
    // And never released while bound: every release followed that EIP's unbind.
    for id in &allocated {
        let calls = s.mutating_calls(id);
        let unbind = calls.iter().rposition(|c| c == "Unassociate:Ok").expect("unbound");
        let release = calls.iter().position(|c| c == "Release:Ok").expect("released");
        assert!(unbind < release, "{id}: {calls:?}");
    }
    s.finish().await;
}
