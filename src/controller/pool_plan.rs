//! The `ElasticIPPool`'s desired state (issue #12, step 5): a pure function of the Nodes that
//! match the pool's selector, the ElasticIPs the pool owns, its `spare` count and its
//! `reclaimPolicy`, returning what to create, (re)assign, unassign and delete. Only the decision
//! is here; the controller (`pool.rs`) only executes it.
//!
//! The rules:
//! - An address stays with its Node while the Node matches (sticky: no churn when nothing moves).
//! - A matching Node without an address takes a free one (first the one that last served that
//!   Node, then unbound spares, then addresses whose Node just left), else a new one is created:
//!   a Node gets an address within one reconcile.
//! - An address whose Node left (or stopped matching): with `Retain` it is kept, unassigned, as a
//!   spare for the next Node (sticky: 10 → 0 → 10 Nodes brings back the same addresses, with no
//!   allocate/release churn); with `Delete` it is kept only to fill the `spare` count, else deleted
//!   (its ElasticIP's finalizer unbinds, then releases it).
//! - Spares: created up to `spare`; with `Delete`, free addresses beyond `spare` are deleted, so
//!   the pool holds matching Nodes + spare. With `Retain` it never allocates beyond matching
//!   Nodes + spare, but keeps the addresses it has.
//! - ElasticIPs being deleted are neither counted nor reused.

use std::collections::{BTreeMap, BTreeSet};

use eip_api::{BindingSubject, ElasticIP, LAST_NODE_ANNOTATION};
use kube::ResourceExt;

pub use eip_api::ReclaimPolicy;

/// One ElasticIP the pool owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// The Node its nodeRef names, if any.
    pub node: Option<String>,
    /// The Node it served last (remembered when unassigned), for sticky reassignment.
    pub last_node: Option<String>,
    /// Its deletion has started.
    pub deleting: bool,
}

impl Member {
    /// What the plan reads of one of the pool's ElasticIPs.
    pub fn of(eip: &ElasticIP) -> Member {
        let node = match eip.spec.binding.as_ref().and_then(|b| b.subject()) {
            Some(BindingSubject::Node(node)) => Some(node.to_string()),
            _ => None,
        };
        Member {
            name: eip.name_any(),
            node,
            last_node: eip.annotations().get(LAST_NODE_ANNOTATION).cloned(),
            deleting: eip.metadata.deletion_timestamp.is_some(),
        }
    }
}

/// Names for `count` new ElasticIPs of pool `pool`: `<pool>-<n>` with the smallest `n` no
/// object in `taken` uses. Deterministic, so two reconciles that both miss a creation collide on
/// the name instead of making two.
pub fn next_names(pool: &str, taken: &BTreeSet<String>, count: usize) -> Vec<String> {
    (0u64..)
        .map(|n| format!("{pool}-{n}"))
        .filter(|name| !taken.contains(name))
        .take(count)
        .collect()
}

/// One change to the pool's ElasticIPs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PoolAction {
    /// A new ElasticIP, bound to this Node (or a spare, for `None`).
    Create { node: Option<String> },
    /// Point the ElasticIP's nodeRef at this Node.
    Assign { member: String, node: String },
    /// Remove the ElasticIP's nodeRef (it is unbound and kept as a spare).
    Unassign { member: String },
    /// Delete the ElasticIP (unbound, then released by its finalizer).
    Delete { member: String },
}

/// The actions that bring the pool's `members` to one address per matching Node plus `spare`.
pub fn plan(nodes: &BTreeSet<String>, members: &[Member], spare: u32, reclaim: ReclaimPolicy) -> Vec<PoolAction> {
    let mut live: Vec<&Member> = members.iter().filter(|m| !m.deleting).collect();
    live.sort_by(|a, b| a.name.cmp(&b.name));

    // Sticky: one address per matching Node keeps it; the rest is free.
    let mut served: BTreeMap<&str, &Member> = BTreeMap::new();
    let mut unbound: Vec<&Member> = Vec::new(); // no nodeRef
    let mut left: Vec<&Member> = Vec::new(); // nodeRef to a Node that left, or a second address
    for member in live {
        match member.node.as_deref() {
            Some(node) if nodes.contains(node) && !served.contains_key(node) => {
                served.insert(node, member);
            }
            Some(_) => left.push(member),
            None => unbound.push(member),
        }
    }

    let mut actions = Vec::new();
    let mut taken: BTreeSet<&str> = BTreeSet::new();
    for node in nodes.iter().filter(|n| !served.contains_key(n.as_str())) {
        let last = |m: &&Member| m.last_node.as_deref() == Some(node.as_str()) || m.node.as_deref() == Some(node.as_str());
        let candidate = unbound
            .iter()
            .chain(left.iter())
            .filter(|m| !taken.contains(m.name.as_str()))
            .find(|m| last(m))
            .or_else(|| unbound.iter().find(|m| !taken.contains(m.name.as_str())))
            .or_else(|| left.iter().find(|m| !taken.contains(m.name.as_str())))
            .copied();
        match candidate {
            Some(member) => {
                taken.insert(member.name.as_str());
                actions.push(PoolAction::Assign {
                    member: member.name.clone(),
                    node: node.clone(),
                });
            }
            None => actions.push(PoolAction::Create { node: Some(node.clone()) }),
        }
    }

    // What is left over is spare: addresses whose Node left become unassigned spares (with
    // Delete, only as many as `spare` needs), unbound ones stay.
    let spare = usize::try_from(spare).unwrap_or(usize::MAX);
    let mut spares: Vec<&Member> = unbound.iter().filter(|m| !taken.contains(m.name.as_str())).copied().collect();
    for member in left.iter().filter(|m| !taken.contains(m.name.as_str())) {
        if reclaim == ReclaimPolicy::Retain || spares.len() < spare {
            actions.push(PoolAction::Unassign {
                member: member.name.clone(),
            });
            spares.push(member);
        } else {
            actions.push(PoolAction::Delete {
                member: member.name.clone(),
            });
        }
    }
    if spares.len() < spare {
        actions.extend(std::iter::repeat_n(PoolAction::Create { node: None }, spare - spares.len()));
    } else if reclaim == ReclaimPolicy::Delete {
        // Beyond the spares: the newest-named unbound ones go first.
        let mut extra: Vec<&Member> = spares.iter().filter(|m| m.node.is_none()).copied().collect();
        extra.sort_by(|a, b| b.name.cmp(&a.name));
        actions.extend(
            extra
                .into_iter()
                .take(spares.len() - spare)
                .map(|m| PoolAction::Delete { member: m.name.clone() }),
        );
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use PoolAction::*;
    use ReclaimPolicy::Retain;

    const DELETE: ReclaimPolicy = ReclaimPolicy::Delete;

    fn nodes(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn on(name: &str, node: &str) -> Member {
        Member {
            name: name.into(),
            node: Some(node.into()),
            last_node: None,
            deleting: false,
        }
    }

    fn free(name: &str, last: Option<&str>) -> Member {
        Member {
            name: name.into(),
            node: None,
            last_node: last.map(str::to_string),
            deleting: false,
        }
    }

    fn create(node: &str) -> PoolAction {
        Create { node: Some(node.into()) }
    }

    fn assign(member: &str, node: &str) -> PoolAction {
        Assign {
            member: member.into(),
            node: node.into(),
        }
    }

    fn unassign(member: &str) -> PoolAction {
        Unassign { member: member.into() }
    }

    fn delete(member: &str) -> PoolAction {
        Delete { member: member.into() }
    }

    #[test]
    fn the_plan_table() {
        let deleting = Member {
            deleting: true,
            ..on("e9", "a")
        };
        #[allow(clippy::type_complexity)]
        let rows: Vec<(&str, &[&str], Vec<Member>, u32, ReclaimPolicy, Vec<PoolAction>)> = vec![
            ("empty", &[], vec![], 0, Retain, vec![]),
            ("a node gets a new address", &["a"], vec![], 0, Retain, vec![create("a")]),
            (
                "and spares are created",
                &["a"],
                vec![],
                2,
                DELETE,
                vec![create("a"), Create { node: None }, Create { node: None }],
            ),
            ("converged", &["a", "b"], vec![on("e1", "a"), on("e2", "b")], 0, DELETE, vec![]),
            (
                "converged with a spare",
                &["a"],
                vec![on("e1", "a"), free("e2", None)],
                1,
                Retain,
                vec![],
            ),
            (
                "a spare serves a new node",
                &["a", "b"],
                vec![on("e1", "a"), free("e2", None)],
                0,
                Retain,
                vec![assign("e2", "b")],
            ),
            (
                "and a new spare replaces it",
                &["a", "b"],
                vec![on("e1", "a"), free("e2", None)],
                1,
                DELETE,
                vec![assign("e2", "b"), Create { node: None }],
            ),
            (
                "Retain: the address of a node that left is kept",
                &["a"],
                vec![on("e1", "a"), on("e2", "b")],
                0,
                Retain,
                vec![unassign("e2")],
            ),
            (
                "Delete: it is released",
                &["a"],
                vec![on("e1", "a"), on("e2", "b")],
                0,
                DELETE,
                vec![delete("e2")],
            ),
            (
                "Delete: unless a spare is missing",
                &["a"],
                vec![on("e1", "a"), on("e2", "b")],
                1,
                DELETE,
                vec![unassign("e2")],
            ),
            (
                "a node replaced by another: the address moves",
                &["c"],
                vec![on("e1", "a")],
                0,
                DELETE,
                vec![assign("e1", "c")],
            ),
            (
                "sticky: the spare that last served the node",
                &["b"],
                vec![free("e1", Some("a")), free("e2", Some("b"))],
                0,
                Retain,
                vec![assign("e2", "b")],
            ),
            (
                "Delete: spares beyond the count go",
                &[],
                vec![free("e1", None), free("e2", None), free("e3", None)],
                1,
                DELETE,
                vec![delete("e3"), delete("e2")],
            ),
            (
                "Retain: spares beyond the count stay",
                &[],
                vec![free("e1", None), free("e2", None)],
                0,
                Retain,
                vec![],
            ),
            (
                "two addresses on one node: the second is freed",
                &["a"],
                vec![on("e1", "a"), on("e2", "a")],
                0,
                DELETE,
                vec![delete("e2")],
            ),
            (
                "a deleting address is not counted",
                &["a"],
                vec![deleting.clone()],
                0,
                Retain,
                vec![create("a")],
            ),
        ];
        for (case, node_names, members, spare, reclaim, want) in rows {
            assert_eq!(plan(&nodes(node_names), &members, spare, reclaim), want, "{case}");
        }
    }

    /// Applies the plan, as the controller would once its ElasticIPs exist.
    fn apply(members: &mut Vec<Member>, actions: &[PoolAction], next: &mut u32) {
        for action in actions {
            match action {
                Create { node } => {
                    *next += 1;
                    members.push(Member {
                        name: format!("e{:03}", next),
                        node: node.clone(),
                        last_node: None,
                        deleting: false,
                    });
                }
                Assign { member, node } => {
                    let m = members.iter_mut().find(|m| &m.name == member).expect("member");
                    m.node = Some(node.clone());
                }
                Unassign { member } => {
                    let m = members.iter_mut().find(|m| &m.name == member).expect("member");
                    m.last_node = m.node.take();
                }
                Delete { member } => members.retain(|m| &m.name != member),
            }
        }
    }

    fn assignment(members: &[Member]) -> BTreeMap<String, String> {
        members.iter().filter_map(|m| Some((m.node.clone()?, m.name.clone()))).collect()
    }

    #[test]
    fn new_names_fill_the_gaps_and_skip_foreign_objects() {
        let taken: BTreeSet<String> = ["web-0", "web-2", "web-3", "other-1"].iter().map(|n| n.to_string()).collect();
        assert_eq!(next_names("web", &taken, 3), ["web-1", "web-4", "web-5"]);
        assert_eq!(next_names("web", &taken, 0), Vec::<String>::new());
        assert_eq!(next_names("other", &taken, 2), ["other-0", "other-2"]);
    }

    #[test]
    fn a_member_is_read_from_its_elasticip() {
        use eip_api::{Binding, ElasticIPSpec, InstanceType};
        let eip = |binding: Option<Binding>, last: Option<&str>, deleting: bool| {
            let mut eip = ElasticIP::new(
                "web-0",
                ElasticIPSpec {
                    binding,
                    ..ElasticIPSpec::default()
                },
            );
            if let Some(last) = last {
                eip.metadata.annotations = Some([(LAST_NODE_ANNOTATION.to_string(), last.to_string())].into());
            }
            if deleting {
                eip.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                ));
            }
            Member::of(&eip)
        };
        let rows = [
            (eip(Some(Binding::to_node("a")), None, false), Some("a"), None, false),
            (eip(None, Some("b"), false), None, Some("b"), false),
            // Bound to something else by hand: not a Node's, so free to be assigned.
            (
                eip(Some(Binding::to_instance(InstanceType::EcsInstance, "i-1")), None, true),
                None,
                None,
                true,
            ),
        ];
        for (member, node, last, deleting) in rows {
            assert_eq!(member.name, "web-0");
            assert_eq!(member.node.as_deref(), node, "{member:?}");
            assert_eq!(member.last_node.as_deref(), last, "{member:?}");
            assert_eq!(member.deleting, deleting, "{member:?}");
        }
    }

    #[test]
    fn ten_nodes_to_zero_and_back_with_retain_bring_back_the_same_addresses() {
        let all: Vec<String> = (0..10).map(|i| format!("node-{i}")).collect();
        let ten: BTreeSet<String> = all.iter().cloned().collect();
        let (mut members, mut next) = (Vec::new(), 0);
        let step = |members: &mut Vec<Member>, nodes: &BTreeSet<String>, next: &mut u32| {
            let actions = plan(nodes, members, 1, Retain);
            apply(members, &actions, next);
            // One reconcile converges, and the plan is then empty.
            assert_eq!(plan(nodes, members, 1, Retain), vec![]);
            actions
        };
        step(&mut members, &ten, &mut next);
        let before = assignment(&members);
        assert_eq!(before.len(), 10);
        assert_eq!(members.len(), 11, "ten nodes and one spare");
        step(&mut members, &BTreeSet::new(), &mut next);
        assert!(assignment(&members).is_empty());
        assert_eq!(members.len(), 11, "nothing released");
        let actions = step(&mut members, &ten, &mut next);
        assert!(!actions.iter().any(|a| matches!(a, Create { node: Some(_) })), "{actions:?}");
        assert_eq!(assignment(&members), before, "each node has its address back");
        assert_eq!(next, 11, "no allocation after the first eleven");
    }

    #[test]
    fn with_delete_the_pool_holds_matching_nodes_plus_spare() {
        let (mut members, mut next) = (Vec::new(), 0);
        for count in [5usize, 2, 7, 0, 3] {
            let nodes: BTreeSet<String> = (0..count).map(|i| format!("n{i}")).collect();
            let actions = plan(&nodes, &members, 2, DELETE);
            apply(&mut members, &actions, &mut next);
            assert_eq!(members.len(), count + 2, "{count} nodes");
            assert_eq!(assignment(&members).len(), count);
            assert_eq!(plan(&nodes, &members, 2, DELETE), vec![]);
        }
    }
}
