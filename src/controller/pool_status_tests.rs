use super::*;
use eip_api::{Binding, ElasticIPPoolSpec, ElasticIPSpec, ElasticIPStatus, PoolTemplate};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, LabelSelectorRequirement, Time};

fn cond(type_: &str, status: &str, reason: &str) -> Condition {
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: format!("{reason} message"),
        observed_generation: Some(1),
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
    }
}

/// An ElasticIP of the pool: on `node` (a spare for `None`), Ready or not, maybe Stalled.
fn member(name: &str, node: Option<&str>, ready: bool, stalled: Option<&str>) -> ElasticIP {
    let mut eip = ElasticIP::new(
        name,
        ElasticIPSpec {
            binding: node.map(Binding::to_node),
            ..ElasticIPSpec::default()
        },
    );
    let mut conditions = vec![cond(READY, if ready { "True" } else { "False" }, "X")];
    if let Some(reason) = stalled {
        conditions.push(cond(STALLED, "True", reason));
    }
    eip.status = Some(ElasticIPStatus {
        ip_address: Some(format!("47.0.0.{}", name.len())),
        conditions,
        ..ElasticIPStatus::default()
    });
    eip
}

fn deleting(mut eip: ElasticIP) -> ElasticIP {
    eip.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
    eip
}

fn nodes(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn status_of(nodes: &BTreeSet<String>, members: &[ElasticIP], spare: u32, actions: &[PoolAction], deleting: bool) -> ElasticIPPoolStatus {
    pool_status(
        None,
        &PoolInputs {
            generation: Some(3),
            nodes,
            members,
            spare,
            actions,
            deleting,
            reclaim: ReclaimPolicy::Retain,
            blocked: None,
            now: Timestamp::UNIX_EPOCH,
        },
    )
}

/// (Ready, Reconciling, Stalled) as (status, reason).
fn verdict(status: &ElasticIPPoolStatus) -> [(String, String); 3] {
    [READY, RECONCILING, STALLED].map(|t| {
        let c = status.conditions.iter().find(|c| c.type_ == t).expect("condition");
        assert_eq!(c.observed_generation, Some(3), "{t}");
        (c.status.clone(), c.reason.clone())
    })
}

fn v(ready: (&str, &str), reconciling: (&str, &str), stalled: (&str, &str)) -> [(String, String); 3] {
    [ready, reconciling, stalled].map(|(s, r)| (s.to_string(), r.to_string()))
}

#[test]
fn the_status_table() {
    let create = [PoolAction::Create { node: Some("b".into()) }];
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        &str,
        Vec<&str>,
        Vec<ElasticIP>,
        u32,
        &[PoolAction],
        bool,
        [(String, String); 3],
        (u32, u32, u32),
    )> = vec![
        (
            "converged",
            vec!["a", "b"],
            vec![member("p-0", Some("a"), true, None), member("p-1", Some("b"), true, None)],
            0,
            &[],
            false,
            v(("True", "Ready"), ("False", "Ready"), ("False", "NotStalled")),
            (2, 2, 0),
        ),
        (
            "converged with a ready spare",
            vec!["a"],
            vec![member("p-0", Some("a"), true, None), member("p-1", None, true, None)],
            1,
            &[],
            false,
            v(("True", "Ready"), ("False", "Ready"), ("False", "NotStalled")),
            (1, 1, 1),
        ),
        (
            "an address being created",
            vec!["a", "b"],
            vec![member("p-0", Some("a"), true, None)],
            0,
            &create,
            false,
            v(("False", "Scaling"), ("True", "Scaling"), ("False", "NotStalled")),
            (2, 1, 0),
        ),
        (
            "an address binding",
            vec!["a", "b"],
            vec![member("p-0", Some("a"), true, None), member("p-1", Some("b"), false, None)],
            0,
            &[],
            false,
            v(
                ("False", "AwaitingAddresses"),
                ("True", "AwaitingAddresses"),
                ("False", "NotStalled"),
            ),
            (2, 1, 0),
        ),
        (
            "a Ready of the binding before the pool's change counts for nothing",
            vec!["a", "b"],
            vec![member("p-0", Some("a"), true, None), {
                let mut moved = member("p-1", Some("b"), true, None);
                moved.metadata.generation = Some(2);
                if let Some(status) = moved.status.as_mut() {
                    status.observed_generation = Some(1);
                }
                moved
            }],
            0,
            &[],
            false,
            v(
                ("False", "AwaitingAddresses"),
                ("True", "AwaitingAddresses"),
                ("False", "NotStalled"),
            ),
            (2, 1, 0),
        ),
        (
            "a spare still allocating",
            vec![],
            vec![member("p-0", None, false, None)],
            1,
            &[],
            false,
            v(
                ("False", "AwaitingAddresses"),
                ("True", "AwaitingAddresses"),
                ("False", "NotStalled"),
            ),
            (0, 0, 1),
        ),
        (
            "a stalled address stalls the pool",
            vec!["a"],
            vec![member("p-0", Some("a"), false, Some("UnsupportedProviderId"))],
            0,
            &[],
            false,
            v(("False", "AddressStalled"), ("False", "Stalled"), ("True", "AddressStalled")),
            (1, 0, 0),
        ),
        (
            "an address of a node that left is neither ready nor counted as spare while deleting",
            vec!["a"],
            vec![
                member("p-0", Some("a"), true, None),
                deleting(member("p-1", Some("gone"), true, None)),
            ],
            0,
            &[],
            false,
            v(("True", "Ready"), ("False", "Ready"), ("False", "NotStalled")),
            (1, 1, 0),
        ),
        (
            "the pool being deleted",
            vec![],
            vec![deleting(member("p-0", Some("a"), true, None))],
            0,
            &[],
            true,
            v(("False", "Deleting"), ("True", "Deleting"), ("False", "NotStalled")),
            (0, 0, 0),
        ),
    ];
    for (case, node_names, members, spare, actions, is_deleting, want, (desired, ready, spares)) in rows {
        let status = status_of(&nodes(&node_names), &members, spare, actions, is_deleting);
        assert_eq!(verdict(&status), want, "{case}");
        assert_eq!(
            (status.desired_addresses, status.ready_addresses, status.spare_addresses),
            (desired, ready, spares),
            "{case}"
        );
        assert_eq!(status.observed_generation, Some(3), "{case}");
        assert_eq!(status.addresses.len(), members.len(), "{case}: every ElasticIP is listed");
    }
}

#[test]
fn addresses_name_node_ip_and_readiness_and_a_stall_is_explained() {
    let members = [
        member("p-1", None, true, None),
        member("p-0", Some("a"), false, Some("NodeWithoutProviderId")),
    ];
    let status = status_of(&nodes(&["a"]), &members, 0, &[], false);
    assert_eq!(
        status.addresses,
        vec![
            PoolAddress {
                elastic_ip: "p-0".into(),
                node: Some("a".into()),
                ip_address: Some("47.0.0.3".into()),
                ready: false,
            },
            PoolAddress {
                elastic_ip: "p-1".into(),
                node: None,
                ip_address: Some("47.0.0.3".into()),
                ready: true,
            },
        ]
    );
    let stalled = status.conditions.iter().find(|c| c.type_ == STALLED).expect("Stalled");
    assert_eq!(
        stalled.message,
        "ElasticIP p-0: NodeWithoutProviderId: NodeWithoutProviderId message"
    );
}

#[test]
fn an_invalid_selector_stalls_and_transition_times_hold() {
    let none = BTreeSet::new();
    let inputs = |blocked: Option<(&'static str, String)>, now| PoolInputs {
        generation: Some(3),
        nodes: &none,
        members: &[],
        spare: 0,
        actions: &[],
        deleting: false,
        reclaim: ReclaimPolicy::Delete,
        blocked,
        now,
    };
    let first = pool_status(None, &inputs(Some(("InvalidNodeSelector", "bad".into())), Timestamp::UNIX_EPOCH));
    assert_eq!(
        verdict(&first),
        v(
            ("False", "InvalidNodeSelector"),
            ("False", "Stalled"),
            ("True", "InvalidNodeSelector")
        )
    );
    // Later, still stalled: the transition time stays; fixed: Ready flips, with a new time.
    let later = Timestamp::from_second(100).expect("time");
    let again = pool_status(Some(&first), &inputs(Some(("InvalidNodeSelector", "bad".into())), later));
    assert_eq!(again.conditions, first.conditions);
    let fixed = pool_status(Some(&first), &inputs(None, later));
    let ready = fixed.conditions.iter().find(|c| c.type_ == READY).expect("Ready");
    assert_eq!((ready.status.as_str(), &ready.last_transition_time), ("True", &Time(later)));
}

#[test]
fn the_summary_says_what_changed() {
    let actions = [
        PoolAction::Create { node: Some("n1".into()) },
        PoolAction::Create { node: None },
        PoolAction::Assign {
            member: "p-2".into(),
            node: "n2".into(),
        },
        PoolAction::Unassign { member: "p-3".into() },
        PoolAction::Delete { member: "p-4".into() },
    ];
    assert_eq!(
        summary(&actions),
        "created 2 (for n1, spare), assigned 1 (p-2 to n2), unassigned 1 (p-3), deleted 1 (p-4)"
    );
    assert_eq!(summary(&[]), "no change");
    let many: Vec<PoolAction> = (0..7).map(|i| PoolAction::Unassign { member: format!("p-{i}") }).collect();
    assert_eq!(summary(&many), "unassigned 7 (p-0, p-1, p-2, p-3, p-4, and 2 more)");
}

fn pool(name: &str, selector: LabelSelector, on: &[&str]) -> ElasticIPPool {
    let mut pool = ElasticIPPool::new(
        name,
        ElasticIPPoolSpec {
            node_selector: selector,
            template: PoolTemplate::default(),
            spare: 0,
            reclaim_policy: ReclaimPolicy::Retain,
        },
    );
    pool.status = Some(ElasticIPPoolStatus {
        addresses: on
            .iter()
            .map(|n| PoolAddress {
                elastic_ip: format!("{name}-0"),
                node: Some(n.to_string()),
                ip_address: None,
                ready: true,
            })
            .collect(),
        ..ElasticIPPoolStatus::default()
    });
    pool
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn a_node_change_concerns_the_pools_it_matches_or_matched() {
    let by_label = |k: &str, v: &str| LabelSelector {
        match_labels: Some(labels(&[(k, v)])),
        ..LabelSelector::default()
    };
    let by_expression = LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "tier".into(),
            operator: "In".into(),
            values: Some(vec!["edge".into(), "ingress".into()]),
        }]),
        ..LabelSelector::default()
    };
    let invalid = LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "tier".into(),
            operator: "Near".into(),
            values: None,
        }]),
        ..LabelSelector::default()
    };
    let pools = [
        pool("edge", by_label("pool", "edge"), &[]),
        pool("tiers", by_expression, &[]),
        pool("had-n1", by_label("pool", "other"), &["n1"]),
        pool("everything", LabelSelector::default(), &[]),
        pool("broken", invalid, &[]),
    ];
    let names = |node: &str, l: &[(&str, &str)]| {
        pools_for_node(pools.iter(), node, &labels(l))
            .into_iter()
            .map(|p| p.name_any())
            .collect::<Vec<_>>()
    };
    assert_eq!(names("n2", &[("pool", "edge")]), ["edge", "everything"]);
    assert_eq!(names("n2", &[("tier", "ingress")]), ["tiers", "everything"]);
    // n1's label went away (or n1 is gone): the pool that had it still hears of it.
    assert_eq!(names("n1", &[]), ["had-n1", "everything"]);
}

#[test]
fn member_policies_follow_reclaim() {
    assert_eq!(member_deletion_policy(ReclaimPolicy::Retain), DeletionPolicy::Unbind);
    assert_eq!(member_deletion_policy(ReclaimPolicy::Delete), DeletionPolicy::Delete);
    let with = |name: &str, policy: Option<DeletionPolicy>| {
        let mut eip = member(name, None, true, None);
        eip.spec.deletion_policy = policy;
        eip
    };
    let members = [
        with("p-0", Some(DeletionPolicy::Unbind)),
        with("p-1", Some(DeletionPolicy::Delete)),
        with("p-2", None),
        deleting(with("p-3", Some(DeletionPolicy::Delete))),
    ];
    assert_eq!(policy_out_of_sync(&members, ReclaimPolicy::Retain), ["p-1", "p-2"]);
    assert_eq!(policy_out_of_sync(&members, ReclaimPolicy::Delete), ["p-0", "p-2"]);
}
