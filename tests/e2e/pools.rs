//! ElasticIPPools on the real API server, through both clouds' wire protocols: one address per
//! labelled Node, a Node that leaves (its address kept as a spare with Retain, released with
//! Delete), a new Node that takes the spare (no allocation with Retain), and the pool's deletion
//! (addresses unbound and kept, or released). Nodes are plain objects here, labelled by the test;
//! there is no kube-controller-manager, so no garbage collector: the pool deletes its ElasticIPs
//! itself.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use eip_api::{DeletionPolicy, ElasticIP, ElasticIPPool, LAST_NODE_ANNOTATION, POOL_LABEL};
use eip_simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, server_port_id};
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use crate::references::node;
use crate::support::{ControlPlane, Scenario, alibaba_config, is_true, serve_simulator};

const WAIT: Duration = Duration::from_secs(90);
const POOL: &str = "edge";

fn pools(s: &Scenario<'_>) -> Api<ElasticIPPool> {
    Api::namespaced(s.admin.clone(), &s.ns)
}

fn pool_ready(pool: &ElasticIPPool) -> bool {
    pool.condition("Ready").is_some_and(|c| c.status == "True")
        && pool.status.as_ref().and_then(|s| s.observed_generation) == pool.metadata.generation
}

async fn wait_pool(s: &Scenario<'_>, what: &str, done: impl Fn(&ElasticIPPool) -> bool) -> ElasticIPPool {
    let deadline = Instant::now() + WAIT;
    loop {
        let current = pools(s).get_opt(POOL).await.expect("get pool");
        if let Some(pool) = &current
            && done(pool)
        {
            return pool.clone();
        }
        assert!(
            Instant::now() < deadline,
            "pool {POOL}: timed out waiting for {what}; now: {:#?}",
            current.map(|p| p.status)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The pool's ElasticIPs, by name.
async fn members(s: &Scenario<'_>) -> BTreeMap<String, ElasticIP> {
    s.eips()
        .list(&ListParams::default().labels(&format!("{POOL_LABEL}={POOL}")))
        .await
        .expect("list ElasticIPs")
        .items
        .into_iter()
        .map(|e| (e.name_any(), e))
        .collect()
}

/// Node name -> (ElasticIP name, allocation ID), for the members bound (Ready) to a Node, as
/// their status reports it.
fn assignment(members: &BTreeMap<String, ElasticIP>) -> BTreeMap<String, (String, String)> {
    members
        .values()
        .filter(|e| is_true(e, "Ready"))
        .filter_map(|e| {
            let status = e.status.as_ref()?;
            let reference = status.bound_to.as_ref()?.reference.as_ref()?;
            Some((reference.name.clone(), (e.name_any(), status.allocation_id.clone()?)))
        })
        .collect()
}

fn allocations(s: &Scenario<'_>) -> usize {
    s.sim
        .calls()
        .iter()
        .filter(|c| c.operation.to_string() == "Allocate" && c.outcome.as_str() == "Ok")
        .count()
}

fn releases(s: &Scenario<'_>) -> usize {
    s.sim
        .calls()
        .iter()
        .filter(|c| c.operation.to_string() == "Release" && c.outcome.as_str() == "Ok")
        .count()
}

/// The whole story of a pool in the scenario's cloud, with `reclaim` and `spare`; `provider_id`
/// writes a Node's providerID for a server, `bound_id` is the instance the cloud reports a
/// server's EIP bound to.
async fn pool_lifecycle(
    s: &Scenario<'_>,
    config: &str,
    region: &str,
    provider_id: impl Fn(&str) -> String,
    bound_id: impl Fn(&str) -> String,
    reclaim: &str,
    spare: u32,
) {
    let label = "e2e.eip-operator.dev/pool";
    let node_name = |i: u32| format!("{}-n{i}", s.ns);
    let server = |i: u32| format!("i-sim-{i:04}");
    for i in 1..=5 {
        s.cp.apply(&node(&node_name(i), &provider_id(&server(i)), &[(label, &s.ns)]));
    }
    // An ElasticIP of someone else's holds the pool's first name: the pool skips it. (Adopting
    // an EIP that does not exist: it stalls, and never allocates.)
    let foreign = format!("{POOL}-0");
    s.apply(&s.manifest(&foreign, "allocationId: eip-notthere0000000000\ndeletionPolicy: Retain"));
    // A Node that does not match gets nothing.
    s.cp.apply(&node(&node_name(9), &provider_id(&server(9)), &[(label, "elsewhere")]));
    s.apply(&format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIPPool\nmetadata:\n  name: {POOL}\nspec:\n  nodeSelector:\n    matchLabels:\n      {label}: {}\n  template:\n    providerConfigRef:\n      name: {config}\n    allocation:\n      bandwidthMbps: 5\n  spare: {spare}\n  reclaimPolicy: {reclaim}\n",
        s.ns
    ));

    // Five Nodes: five bound addresses (plus the spares), each ElasticIP owned by the pool.
    let pool = wait_pool(s, "five bound addresses", |p| {
        pool_ready(p) && p.status.as_ref().is_some_and(|st| st.ready_addresses == 5)
    })
    .await;
    let status = pool.status.clone().expect("status");
    assert_eq!((status.desired_addresses, status.spare_addresses), (5, spare), "{status:?}");
    assert_eq!(status.addresses.len(), 5 + spare as usize, "{status:?}");
    let printed = s.kubectl_ok(&["get", "eippool", POOL]);
    assert!(
        printed.contains("DESIRED") && printed.contains("READY") && printed.contains("SPARE"),
        "{printed}"
    );
    let all = members(s).await;
    assert!(!all.contains_key(&foreign), "{:?}", all.keys());
    let untouched = s.get(&foreign).await.expect("the foreign ElasticIP is left alone");
    assert!(untouched.owner_references().is_empty() && untouched.spec.binding.is_none());
    let first = assignment(&all);
    let want_nodes: BTreeSet<String> = (1..=5).map(node_name).collect();
    assert_eq!(first.keys().cloned().collect::<BTreeSet<_>>(), want_nodes, "{all:#?}");
    let policy = if reclaim == "Retain" {
        DeletionPolicy::Unbind
    } else {
        DeletionPolicy::Delete
    };
    for eip in all.values() {
        let owner = &eip.owner_references()[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.name.as_str(),
                owner.controller,
                owner.block_owner_deletion
            ),
            ("ElasticIPPool", POOL, Some(true), Some(true)),
            "{}",
            eip.name_any()
        );
        assert_eq!(eip.spec.deletion_policy, Some(policy), "{}", eip.name_any());
        assert!(eip.name_any().starts_with(&format!("{POOL}-")), "{}", eip.name_any());
    }
    // In the cloud: each server holds its own address.
    let in_cloud = s.sim.eips(region);
    assert_eq!(in_cloud.len(), 5 + spare as usize, "{in_cloud:?}");
    for i in 1..=5 {
        let (_, id) = &first[&node_name(i)];
        let eip = in_cloud.iter().find(|e| &e.allocation_id == id).expect("in the cloud");
        assert_eq!(eip.bound_to.as_ref().map(|b| b.instance_id.clone()), Some(bound_id(&server(i))));
    }
    let allocated = allocations(s);
    assert_eq!(allocated, 5 + spare as usize);
    let spare_before: Vec<String> = all
        .values()
        .filter(|e| e.spec.binding.is_none())
        .filter_map(|e| e.status.as_ref()?.allocation_id.clone())
        .collect();

    // Node 5's label goes: its address is unbound, and kept as a spare (Retain) or released
    // (Delete, the spare count being full).
    let (left_name, left_id) = first[&node_name(5)].clone();
    s.cp.kubectl_ok(&["label", "node", &node_name(5), &format!("{label}-")]);
    let pool = wait_pool(s, "node 5's address reclaimed", |p| {
        pool_ready(p)
            && p.status.as_ref().is_some_and(|st| {
                st.desired_addresses == 4 && st.ready_addresses == 4 && !st.addresses.iter().any(|a| a.node == Some(node_name(5)))
            })
    })
    .await;
    let after = members(s).await;
    if reclaim == "Retain" {
        let kept = &after[&left_name];
        assert!(kept.spec.binding.is_none(), "{:?}", kept.spec);
        assert_eq!(kept.annotations().get(LAST_NODE_ANNOTATION), Some(&node_name(5)));
        assert!(s.sim.eip(region, &left_id).expect("kept").bound_to.is_none());
        assert_eq!(pool.status.as_ref().map(|st| st.spare_addresses), Some(spare + 1));
    } else {
        assert!(!after.contains_key(&left_name), "deleted: {after:#?}");
        assert!(s.sim.eip(region, &left_id).is_none(), "released");
        assert_eq!(pool.status.as_ref().map(|st| st.spare_addresses), Some(spare));
    }
    assert_eq!(assignment(&after).len(), 4);

    // A new Node: it takes the spare. With Retain, no new allocation at all; with Delete, the
    // spare it took is replaced.
    s.cp.apply(&node(&node_name(6), &provider_id(&server(6)), &[(label, &s.ns)]));
    wait_pool(s, "node 6's address", |p| {
        pool_ready(p)
            && p.status
                .as_ref()
                .is_some_and(|st| st.ready_addresses == 5 && st.addresses.iter().any(|a| a.node == Some(node_name(6)) && a.ready))
    })
    .await;
    let after = members(s).await;
    let (_, new_id) = assignment(&after)[&node_name(6)].clone();
    if reclaim == "Retain" {
        assert_eq!(new_id, left_id, "node 6 took the address node 5 left");
        assert_eq!(allocations(s), allocated, "no new Allocate: {:?}", s.sim.calls());
    } else {
        assert!(
            spare_before.contains(&new_id),
            "node 6 took the warm spare {spare_before:?}, got {new_id}"
        );
        assert_eq!(allocations(s), allocated + 1, "only the replacement spare is allocated");
    }
    // Nobody else's address moved.
    let now = assignment(&after);
    for i in 1..=4 {
        assert_eq!(now[&node_name(i)], first[&node_name(i)], "node {i}'s address moved");
    }
    assert!(!after.values().any(|e| {
        e.spec
            .binding
            .as_ref()
            .and_then(|b| b.node_ref.as_ref())
            .is_some_and(|n| n.name == node_name(9))
    }));

    // The pool is deleted (kubectl waits for its finalizer): every address unbound, then kept
    // (Retain) or released (Delete), and no ElasticIP left behind.
    let held: Vec<String> = after.values().filter_map(|e| e.status.as_ref()?.allocation_id.clone()).collect();
    let released_before = releases(s);
    s.kubectl_ok(&["delete", "eippool", POOL, "--timeout=120s"]);
    assert!(members(s).await.is_empty(), "the pool's ElasticIPs are gone");
    let in_cloud = s.sim.eips(region);
    if reclaim == "Retain" {
        assert_eq!(in_cloud.len(), held.len(), "{in_cloud:?}");
        for id in &held {
            let eip = in_cloud.iter().find(|e| &e.allocation_id == id).expect("kept in the cloud");
            assert!(eip.bound_to.is_none(), "unbound: {eip:?}");
        }
        assert_eq!(releases(s), released_before, "nothing released");
    } else {
        assert!(in_cloud.is_empty(), "released: {in_cloud:?}");
    }
    assert!(
        s.get(&foreign).await.is_some(),
        "the pool's deletion leaves others' ElasticIPs alone"
    );
    s.kubectl_ok(&["delete", "eip", &foreign, "--wait=false"]);
    for i in [1, 2, 3, 4, 5, 6, 9] {
        s.cp.kubectl_ok(&["delete", "node", &node_name(i)]);
    }
}

/// Alibaba Cloud, reclaimPolicy Retain, no spare: addresses are sticky and never released.
pub async fn pool_retains_and_reuses_addresses_on_alibaba(cp: &ControlPlane) {
    let s = Scenario::new(cp, "pool-alibaba").await;
    let endpoint = serve_simulator(s.sim.clone()).await;
    cp.secret(
        "pool-alibaba",
        &[("accessKeyId", SIM_ACCESS_KEY_ID), ("accessKeySecret", SIM_ACCESS_KEY_SECRET)],
    );
    cp.apply(&alibaba_config("pool-alibaba", "cn-hangzhou", &endpoint, "pool-alibaba"));
    pool_lifecycle(
        &s,
        "pool-alibaba",
        "cn-hangzhou",
        |server| format!("cn-hangzhou.{server}"),
        |server| server.to_string(),
        "Retain",
        0,
    )
    .await;
    s.finish().await;
}

/// Open Telekom Cloud, reclaimPolicy Delete, one warm spare: the pool holds one address per
/// Node plus the spare, and releases the rest.
pub async fn pool_releases_beyond_the_spare_on_otc(cp: &ControlPlane) {
    let s = Scenario::new(cp, "pool-otc").await;
    let endpoint = serve_simulator(s.sim.clone()).await;
    cp.secret(
        "pool-otc",
        &[("accessKey", SIM_ACCESS_KEY_ID), ("secretKey", SIM_ACCESS_KEY_SECRET)],
    );
    cp.apply(&format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: pool-otc\nspec:\n  provider: otc\n  region: eu-de\n  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: pool-otc\n    namespace: eip-operator\n  otc:\n    projectName: eu-de\n"
    ));
    pool_lifecycle(
        &s,
        "pool-otc",
        "eu-de",
        |server| format!("openstack:///{server}"),
        server_port_id,
        "Delete",
        1,
    )
    .await;
    s.finish().await;
}

/// The API server refuses invalid pools, saying what is wrong.
pub async fn invalid_pools_are_rejected(cp: &ControlPlane) {
    let s = Scenario::new(cp, "pool-invalid").await;
    let pool = |name: &str, spec: &str| {
        format!("apiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIPPool\nmetadata:\n  name: {name}\nspec:\n{spec}")
    };
    let selector = "  nodeSelector:\n    matchLabels:\n      nowhere: \"true\"\n";
    let cases = [
        ("no selector", pool("p", "  spare: 1\n"), "spec.nodeSelector: Required value"),
        ("too many spares", pool("p", &format!("{selector}  spare: 101\n")), "spec.spare"),
        ("negative spares", pool("p", &format!("{selector}  spare: -1\n")), "spec.spare"),
        (
            "unknown reclaim policy",
            pool("p", &format!("{selector}  reclaimPolicy: Sometimes\n")),
            "Unsupported value: \"Sometimes\"",
        ),
        (
            "unknown selector operator",
            pool(
                "p",
                "  nodeSelector:\n    matchExpressions:\n      - key: tier\n        operator: Near\n",
            ),
            "the operator is In, NotIn, Exists or DoesNotExist",
        ),
        (
            "In without values",
            pool(
                "p",
                "  nodeSelector:\n    matchExpressions:\n      - key: tier\n        operator: In\n",
            ),
            "values are given for In and NotIn only",
        ),
        (
            "a name too long for its ElasticIPs",
            pool(&"p".repeat(51), selector),
            "at most 50 characters",
        ),
    ];
    for (case, yaml, expected) in cases {
        let refused = s.cp.apply_rejected(&s.ns, &yaml);
        assert!(refused.contains(expected), "{case}: expected {expected:?} in: {refused}");
    }
    // The account is fixed; the allocation parameters (for new addresses) are not.
    let with = |config: &str, bandwidth: u32| {
        pool(
            "p",
            &format!(
                "{selector}  template:\n    providerConfigRef:\n      name: {config}\n    allocation:\n      bandwidthMbps: {bandwidth}\n"
            ),
        )
    };
    s.apply(&with(&s.provider_config, 5));
    s.apply(&with(&s.provider_config, 10));
    let refused = s.cp.apply_rejected(&s.ns, &with("another-account", 10));
    assert!(refused.contains("spec.template.providerConfigRef is immutable"), "{refused}");
    s.kubectl_ok(&["delete", "eippool", "p", "--timeout=60s"]);
    s.finish().await;
}
