//! Adoption claims the address: two ElasticIPs adopting one EIP do not fight over it. The one
//! whose claim (owner tags) the cloud keeps binds it; the other stalls, names the winner and
//! changes nothing; deleting the winner (adopted: Retain by default) removes its claim, and the
//! address is adopted again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eip_api::ElasticIP;
use eip_cloud::{CLUSTER_TAG, OWNER_NAME_TAG, OWNER_TAG};
use eip_simulator::SeedEip;
use kube::ResourceExt;

use crate::support::{ControlPlane, REGION, Scenario, condition, is_true};

const TIMEOUT: Duration = Duration::from_secs(60);

fn stalled_by(object: &ElasticIP, reason: &str) -> bool {
    condition(object, "Stalled") == Some(("True".to_string(), reason.to_string()))
}

fn bound_to(s: &Scenario<'_>, id: &str) -> Option<String> {
    s.sim.eip(REGION, id).expect("the EIP exists").bound_to.map(|b| b.instance_id)
}

/// The binding and tag calls (`Operation:Outcome`) naming the EIP after call `since`.
fn changes_since(s: &Scenario<'_>, id: &str, since: u64) -> Vec<String> {
    s.sim
        .calls_since(since)
        .into_iter()
        .filter(|c| c.allocation_ids.iter().any(|a| a == id))
        .filter(|c| c.operation.is_mutating() || matches!(c.operation.as_str(), "Tag" | "Untag"))
        .map(|c| format!("{}:{}", c.operation.as_str(), c.outcome.as_str()))
        .collect()
}

pub async fn two_adopters_one_wins_and_the_claim_is_released(cp: &ControlPlane) {
    let s = Scenario::new(cp, "adopt-two").await;
    let seeded = SeedEip {
        tags: BTreeMap::from([("team".to_string(), "web".to_string())]),
        ..SeedEip::default()
    };
    let id = s
        .sim
        .seed_eip(REGION, seeded)
        .expect("an EIP made outside the operator")
        .allocation_id;
    let adopt = |name: &str, instance: &str| {
        s.manifest(
            name,
            &format!("allocationId: {id}\nbinding:\n  instanceType: EcsInstance\n  instanceId: {instance}"),
        )
    };
    let targets = BTreeMap::from([("first", "i-sim-0011"), ("second", "i-sim-0012")]);
    // Both at once, in one apply.
    s.apply(&format!(
        "{}---\n{}",
        adopt("first", targets["first"]),
        adopt("second", targets["second"])
    ));

    // Exactly one is Ready, the other Stalled naming it.
    let deadline = Instant::now() + TIMEOUT;
    let (winner, loser) = loop {
        let first = s.get("first").await.expect("first exists");
        let second = s.get("second").await.expect("second exists");
        let settled = |w: &ElasticIP, l: &ElasticIP| is_true(w, "Ready") && stalled_by(l, "AdoptTargetOwnedElsewhere");
        if settled(&first, &second) {
            break (first, second);
        }
        if settled(&second, &first) {
            break (second, first);
        }
        assert!(
            Instant::now() < deadline,
            "not one Ready and one Stalled after {TIMEOUT:?}:\nfirst: {:#?}\nsecond: {:#?}\ncloud calls: {:?}",
            first.status,
            second.status,
            changes_since(&s, &id, 0)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (winner_name, loser_name) = (winner.name_any(), loser.name_any());
    let winner_uid = winner.uid().expect("uid");
    let message = loser.condition("Stalled").expect("Stalled").message.clone();
    assert!(
        message.contains(&format!("ElasticIP {}/{winner_name}", s.ns)) && message.contains(&winner_uid),
        "the loser names the winner: {message}"
    );
    assert!(!is_true(&loser, "Ready"), "one address, one Ready object");
    let warnings: Vec<_> = s.events(&loser_name).await.into_iter().filter(|e| e.0 == "Warning").collect();
    assert!(warnings.iter().any(|e| e.1 == "AdoptTargetOwnedElsewhere"), "{warnings:?}");
    let claim = BTreeMap::from([
        (OWNER_TAG.to_string(), winner_uid.clone()),
        (OWNER_NAME_TAG.to_string(), format!("{}/{winner_name}", s.ns)),
        ("team".to_string(), "web".to_string()),
    ]);
    let mut tags = s.sim.eip(REGION, &id).expect("EIP").tags;
    // The claim names the cluster too (the kube-system namespace's UID).
    assert!(tags.remove(CLUSTER_TAG).is_some_and(|c| !c.is_empty()), "{tags:?}");
    assert_eq!(tags, claim, "the winner's claim, the user's tag kept");
    assert_eq!(bound_to(&s, &id).as_deref(), Some(targets[winner_name.as_str()]));
    let so_far = changes_since(&s, &id, 0);
    assert!(
        !so_far.iter().any(|c| c.starts_with("Unassociate")) && so_far.iter().filter(|c| c.starts_with("Associate")).count() == 1,
        "bound once, to the winner's target, never unbound: {so_far:?}"
    );

    // Over more than two resyncs (5 s each here) nobody touches the address: no fight.
    let mark = s.sim.last_seq();
    tokio::time::sleep(Duration::from_secs(16)).await;
    assert_eq!(changes_since(&s, &id, mark), Vec::<String>::new(), "no binding or tag changes");
    assert_eq!(bound_to(&s, &id).as_deref(), Some(targets[winner_name.as_str()]));
    let winner_now = s.get(&winner_name).await.expect("winner");
    let loser_now = s.get(&loser_name).await.expect("loser");
    assert!(is_true(&winner_now, "Ready") && stalled_by(&loser_now, "AdoptTargetOwnedElsewhere"));

    // The winner goes (adopted: Retain by default): its claim goes with it, the address stays.
    let mark = s.sim.last_seq();
    s.delete(&winner_name).await;
    s.wait_gone(&winner_name, TIMEOUT).await;
    let eip = s.sim.eip(REGION, &id).expect("a retained EIP still exists");
    assert!(
        eip.owner_uid() != Some(winner_uid.as_str()) && eip.tags.get(OWNER_NAME_TAG) != Some(&format!("{}/{winner_name}", s.ns)),
        "the winner's claim is gone: {:?}",
        eip.tags
    );
    assert_eq!(eip.tags.get("team").map(String::as_str), Some("web"), "the user's tag stays");
    let deletion = changes_since(&s, &id, mark);
    assert_eq!(deletion.first().map(String::as_str), Some("Untag:Ok"), "{deletion:?}");
    assert!(
        !deletion.iter().any(|c| c.starts_with("Release")),
        "an adopted EIP is never released by default: {deletion:?}"
    );

    // The address can be adopted again: the stalled object, at its next look, claims it and
    // binds it to its own target.
    let adopted = s
        .wait_for(&loser_name, "Ready after the winner let go", Duration::from_secs(120), |o| {
            is_true(o, "Ready")
        })
        .await;
    assert_eq!(bound_to(&s, &id).as_deref(), Some(targets[loser_name.as_str()]));
    let tags = s.sim.eip(REGION, &id).expect("EIP").tags;
    assert_eq!(tags.get(OWNER_TAG), adopted.uid().as_ref(), "claimed by the former loser");
    assert_eq!(tags.get(OWNER_NAME_TAG), Some(&format!("{}/{loser_name}", s.ns)));
    s.finish().await;
}
