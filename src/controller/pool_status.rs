//! What an `ElasticIPPool`'s status says, and which pools a Node concerns: pure functions of
//! what the pool's reconcile observed and decided ([`pool_plan::plan`](super::pool_plan::plan)).
//!
//! Conditions follow kstatus, as the ElasticIP's do: `Ready` (every matching Node has its address
//! bound and Ready, and the spares are there), `Reconciling` (the pool is changing its ElasticIPs,
//! or waiting for them) and `Stalled` (a human must act: an invalid selector, or an ElasticIP of
//! the pool that is Stalled, named with its reason).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};

use super::pool_plan::{Member, PoolAction};
use super::status::{READY, RECONCILING, STALLED, condition};
use eip_api::{DeletionPolicy, ElasticIP, ElasticIPPool, ElasticIPPoolStatus, PoolAddress, ReclaimPolicy};

/// The deletionPolicy of every ElasticIP of a pool: the address is kept (unbound) or released
/// the same way whoever deletes the ElasticIP (the pool, a user, a garbage collector).
pub fn member_deletion_policy(reclaim: ReclaimPolicy) -> DeletionPolicy {
    match reclaim {
        ReclaimPolicy::Retain => DeletionPolicy::Unbind,
        ReclaimPolicy::Delete => DeletionPolicy::Delete,
    }
}

/// What the status is computed from.
pub struct PoolInputs<'a> {
    pub generation: Option<i64>,
    /// The matching Nodes.
    pub nodes: &'a BTreeSet<String>,
    /// The pool's ElasticIPs, as listed before this reconcile's changes.
    pub members: &'a [ElasticIP],
    pub spare: u32,
    /// What this reconcile changed.
    pub actions: &'a [PoolAction],
    pub deleting: bool,
    pub reclaim: ReclaimPolicy,
    /// Why the pool cannot proceed at all (reason, message): an invalid node selector.
    pub blocked: Option<(&'static str, String)>,
    pub now: Timestamp,
}

/// The ElasticIP's condition is True for its current spec (a Ready from before the pool's last
/// change of its binding says nothing about the new one).
fn is_true(eip: &ElasticIP, type_: &str) -> bool {
    let current = eip.status.as_ref().and_then(|s| s.observed_generation) == eip.metadata.generation;
    current && eip.condition(type_).is_some_and(|c| c.status == "True")
}

/// The pool's status after this reconcile.
pub fn pool_status(prev: Option<&ElasticIPPoolStatus>, inputs: &PoolInputs<'_>) -> ElasticIPPoolStatus {
    let mut members: Vec<(&ElasticIP, Member)> = inputs.members.iter().map(|e| (e, Member::of(e))).collect();
    members.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    let live: Vec<&(&ElasticIP, Member)> = members.iter().filter(|(_, m)| !m.deleting).collect();

    let ready_nodes: BTreeSet<&str> = live
        .iter()
        .filter(|(eip, _)| is_true(eip, READY))
        .filter_map(|(_, m)| m.node.as_deref())
        .filter(|node| inputs.nodes.contains(*node))
        .collect();
    let spares: Vec<&&(&ElasticIP, Member)> = live.iter().filter(|(_, m)| m.node.is_none()).collect();
    let spares_ready = spares.iter().filter(|(eip, _)| is_true(eip, READY)).count();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let desired = inputs.nodes.len();

    let addresses = members
        .iter()
        .map(|(eip, m)| PoolAddress {
            elastic_ip: m.name.clone(),
            node: m.node.clone(),
            ip_address: eip.status.as_ref().and_then(|s| s.ip_address.clone()),
            ready: !m.deleting && is_true(eip, READY),
        })
        .collect();
    let stalled_members: Vec<String> = live
        .iter()
        .filter_map(|(eip, m)| {
            let c = eip.condition(STALLED).filter(|c| c.status == "True")?;
            Some(format!("ElasticIP {}: {}: {}", m.name, c.reason, c.message))
        })
        .collect();

    // (ready, reconciling, stalled), each with its reason and message.
    type Verdict = (bool, &'static str, String);
    let (ready, reconciling, stalled): (Verdict, Verdict, Verdict) = if inputs.deleting {
        let fate = match inputs.reclaim {
            ReclaimPolicy::Retain => "unbound and kept allocated",
            ReclaimPolicy::Delete => "unbound and released",
        };
        let message = format!(
            "the pool is being deleted: {} ElasticIPs left, their addresses {fate}",
            members.len()
        );
        (
            (false, "Deleting", message.clone()),
            (true, "Deleting", message),
            (false, "NotStalled", "nothing blocks progress".into()),
        )
    } else if let Some((reason, message)) = &inputs.blocked {
        (
            (false, reason, message.clone()),
            (false, "Stalled", "waiting for a human".into()),
            (true, reason, message.clone()),
        )
    } else if !stalled_members.is_empty() {
        let mut message = stalled_members[0].clone();
        if stalled_members.len() > 1 {
            message.push_str(&format!(" (and {} more stalled ElasticIPs)", stalled_members.len() - 1));
        }
        (
            (false, "AddressStalled", message.clone()),
            if inputs.actions.is_empty() {
                (false, "Stalled", "waiting for a human".into())
            } else {
                (true, "Scaling", summary(inputs.actions))
            },
            (true, "AddressStalled", message),
        )
    } else {
        let progress = format!(
            "{} of {desired} matching Nodes have their address bound and Ready; {spares_ready} of {} spare addresses Ready (spare: {})",
            ready_nodes.len(),
            spares.len(),
            inputs.spare
        );
        let not_stalled = (false, "NotStalled", "nothing blocks progress".to_string());
        if !inputs.actions.is_empty() {
            (
                (false, "Scaling", progress),
                (true, "Scaling", summary(inputs.actions)),
                not_stalled,
            )
        } else if ready_nodes.len() < desired || spares_ready < spares.len() || spares.len() < inputs.spare as usize {
            (
                (false, "AwaitingAddresses", progress.clone()),
                (true, "AwaitingAddresses", progress),
                not_stalled,
            )
        } else {
            ((true, "Ready", progress), (false, "Ready", "nothing to do".into()), not_stalled)
        }
    };
    let prev_conditions = prev.map(|p| p.conditions.as_slice()).unwrap_or_default();
    let set = |type_: &str, (status, reason, message): Verdict| {
        condition(prev_conditions, type_, status, reason, message, inputs.generation, inputs.now)
    };
    ElasticIPPoolStatus {
        observed_generation: inputs.generation,
        desired_addresses: count(desired),
        ready_addresses: count(ready_nodes.len()),
        spare_addresses: count(spares.len()),
        addresses,
        conditions: vec![set(READY, ready), set(RECONCILING, reconciling), set(STALLED, stalled)],
    }
}

/// One line saying what a reconcile changed ("created 2 (for node-a, 1 spare), assigned 1 ...").
pub fn summary(actions: &[PoolAction]) -> String {
    let mut created = Vec::new();
    let mut counts: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for action in actions {
        match action {
            PoolAction::Create { node: Some(node) } => created.push(format!("for {node}")),
            PoolAction::Create { node: None } => created.push("spare".to_string()),
            PoolAction::Assign { member, node } => counts.entry("assigned").or_default().push(format!("{member} to {node}")),
            PoolAction::Unassign { member } => counts.entry("unassigned").or_default().push(member.clone()),
            PoolAction::Delete { member } => counts.entry("deleted").or_default().push(member.clone()),
        }
    }
    let mut parts = Vec::new();
    if !created.is_empty() {
        parts.push(format!("created {} ({})", created.len(), abbreviate(&created)));
    }
    for verb in ["assigned", "unassigned", "deleted"] {
        if let Some(items) = counts.get(verb) {
            parts.push(format!("{verb} {} ({})", items.len(), abbreviate(items)));
        }
    }
    if parts.is_empty() { "no change".into() } else { parts.join(", ") }
}

fn abbreviate(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(", and {} more", items.len() - SHOWN));
    }
    text
}

/// Whether a Node with `labels` matches the pool's selector (an invalid selector matches none).
pub fn selects(pool: &ElasticIPPool, labels: &BTreeMap<String, String>) -> bool {
    Selector::try_from(pool.spec.node_selector.clone()).is_ok_and(|s| s.matches(labels))
}

/// The pools a change of Node `node` (with `labels`, as last seen) concerns: those whose
/// selector matches it, and those whose status lists an address on it (it matched before).
pub fn pools_for_node<'a>(
    pools: impl IntoIterator<Item = &'a ElasticIPPool>,
    node: &str,
    labels: &BTreeMap<String, String>,
) -> Vec<&'a ElasticIPPool> {
    pools
        .into_iter()
        .filter(|pool| {
            let listed = pool
                .status
                .as_ref()
                .is_some_and(|s| s.addresses.iter().any(|a| a.node.as_deref() == Some(node)));
            listed || selects(pool, labels)
        })
        .collect()
}

/// The pool's ElasticIPs whose deletionPolicy is not the one reclaimPolicy gives them.
pub fn policy_out_of_sync(members: &[ElasticIP], reclaim: ReclaimPolicy) -> Vec<String> {
    let want = member_deletion_policy(reclaim);
    members
        .iter()
        .filter(|e| e.metadata.deletion_timestamp.is_none() && e.spec.deletion_policy != Some(want))
        .map(|e| e.name_any())
        .collect()
}

#[cfg(test)]
#[path = "pool_status_tests.rs"]
mod tests;
