//! Adoption claims the address: an adopted EIP is tagged with its adopter's owner tags before
//! any binding changes, read back before it is bound, and of two adopters exactly one goes on;
//! the other stalls and changes nothing. Deleting an adopter with Retain or Unbind removes its
//! claim (and only its claim), so the address can be adopted again.

use super::*;
use crate::controller::fixtures::owner_tags;
use eip_simulator::Faults;

const UID_A: &str = "6f1b2c3d-0000-4000-8000-00000000000a";
const UID_B: &str = "6f1b2c3d-0000-4000-8000-00000000000b";

/// The tags of the EIP's user, which the operator never touches.
fn users_tags() -> BTreeMap<String, String> {
    BTreeMap::from([("team".to_string(), "web".to_string())])
}

/// An EIP made outside the operator, with a tag of its user's own.
fn seed_untagged(sim: &Simulator) -> String {
    let seed = SeedEip {
        tags: users_tags(),
        ..SeedEip::default()
    };
    sim.seed_eip(REGION, seed).expect("seed").allocation_id
}

/// An operator (its own API server fake and context) for an ElasticIP `name` with `uid` adopting
/// `allocation_id` bound to `instance`, against the shared cloud.
fn adopter(sim: &Simulator, name: &str, uid: &str, allocation_id: &str, instance: &str, policy: Option<DeletionPolicy>) -> Harness {
    // Held by the finalizer already: the first reconcile goes straight to the cloud.
    let object = elastic_ip(spec(Some(instance), Some(allocation_id), policy))
        .named(name)
        .with_uid(uid)
        .finalized();
    Harness::on(sim, object)
}

fn is_ready(h: &Harness) -> bool {
    h.condition("Ready").is_some_and(|c| c.status == "True")
}

fn is_stalled_by(h: &Harness, reason: &str) -> bool {
    h.condition("Stalled").is_some_and(|c| c.status == "True" && c.reason == reason)
}

fn operations(h: &Harness) -> Vec<Operation> {
    h.sim.calls().into_iter().map(|c| c.operation).collect()
}

fn mutating_count(sim: &Simulator) -> usize {
    mutating_calls(sim).len()
}

/// The instance the EIP is bound to.
fn bound_to(sim: &Simulator, allocation_id: &str) -> Option<String> {
    sim.eip(REGION, allocation_id).and_then(|e| e.bound_to).map(|b| b.instance_id)
}

fn tags(sim: &Simulator, allocation_id: &str) -> BTreeMap<String, String> {
    sim.eip(REGION, allocation_id).expect("EIP exists").tags
}

/// The tags of an EIP claimed by ElasticIP `name` of UID `uid`: its owner tags and the user's.
fn claimed_by(uid: &str, name: &str) -> BTreeMap<String, String> {
    let mut tags = owner_tags(uid, name);
    tags.extend(users_tags());
    tags
}

fn deleting(h: &Harness) {
    h.fake.update(|o| o.metadata.deletion_timestamp = Some(Time(Timestamp::now())));
}

#[tokio::test(start_paused = true)]
async fn an_adopted_eip_is_claimed_read_back_then_bound() {
    let sim = simulator(Latencies {
        associate: Duration::from_secs(1),
        ..Latencies::default()
    });
    let id = seed_untagged(&sim);
    let h = adopter(&sim, "web-a", UID_A, &id, "i-sim-0001", None);

    // The first reconcile claims, and changes nothing else.
    assert!(h.reconcile_once().await);
    assert_eq!(h.mutating_calls(), vec![(Operation::Tag, CallOutcome::Ok)]);
    assert_eq!(tags(&sim, &id), claimed_by(UID_A, "web-a"), "the user's own tag stays");
    assert_eq!(h.condition("Reconciling").map(|c| c.reason), Some("Claiming".to_string()));
    let status = h.fake.current().and_then(|o| o.status).expect("status");
    assert_eq!(status.last_operation.map(|op| op.action), Some("Claim".to_string()));

    h.drive(10).await;
    assert!(is_ready(&h), "{:?}", h.fake.current().and_then(|o| o.status));
    assert_eq!(
        h.mutating_calls(),
        vec![(Operation::Tag, CallOutcome::Ok), (Operation::Associate, CallOutcome::Ok)]
    );
    // Bound only after a look that read the claim back.
    let ops = operations(&h);
    let tag = ops.iter().position(|op| *op == Operation::Tag).expect("tagged");
    let bind = ops.iter().position(|op| *op == Operation::Associate).expect("bound");
    assert!(ops[tag..bind].contains(&Operation::Describe), "{ops:?}");
    assert_eq!(bound_to(&sim, &id), Some("i-sim-0001".to_string()));
    assert!(h.fake.event_reasons().contains(&("Normal".into(), "Claiming".into())));
}

#[tokio::test(start_paused = true)]
async fn a_second_adopter_stalls_naming_the_first_and_changes_nothing() {
    let sim = simulator(Latencies::default());
    let id = seed_untagged(&sim);
    let a = adopter(&sim, "web-a", UID_A, &id, "i-sim-0001", None);
    let b = adopter(&sim, "web-b", UID_B, &id, "i-sim-0002", None);
    a.drive(6).await;
    assert!(is_ready(&a));
    let before = mutating_count(&sim);

    // Many resyncs of the second object: it never touches the address.
    for _ in 0..6 {
        assert!(b.reconcile_once().await);
        tokio::time::advance(Duration::from_secs(30)).await;
    }
    assert_eq!(mutating_count(&sim), before, "no call from the second adopter: {:?}", sim.calls());
    assert!(is_stalled_by(&b, "AdoptTargetOwnedElsewhere"));
    let message = b.condition("Stalled").expect("Stalled").message;
    assert!(message.contains("ElasticIP default/web-a") && message.contains(UID_A), "{message}");
    assert!(!is_ready(&b));
    let warnings: Vec<_> = b.fake.event_reasons().into_iter().filter(|(t, _)| t == "Warning").collect();
    assert_eq!(warnings, vec![("Warning".to_string(), "AdoptTargetOwnedElsewhere".to_string())]);
    // The first one is still Ready, bound as it asked, and still claims the address.
    a.drive(2).await;
    assert!(is_ready(&a));
    assert_eq!(tags(&sim, &id), claimed_by(UID_A, "web-a"));
    assert_eq!(bound_to(&sim, &id), Some("i-sim-0001".to_string()));
}

/// Both adopters read the EIP untagged and both claim it. The cloud keeps one claim (the last
/// writer's): exactly that adopter binds; the other stalls and never calls the cloud again.
#[tokio::test(start_paused = true)]
async fn two_adopters_claiming_at_once_one_wins_and_the_loser_never_mutates_again() {
    let sim = simulator(Latencies {
        associate: Duration::from_secs(1),
        ..Latencies::default()
    });
    let id = seed_untagged(&sim);
    let a = adopter(&sim, "web-a", UID_A, &id, "i-sim-0001", None);
    let b = adopter(&sim, "web-b", UID_B, &id, "i-sim-0002", None);

    // Every call takes a while: both Describes answer before either claim is written.
    sim.set_faults(Faults {
        extra_latency: Duration::from_millis(100),
        ..Faults::default()
    });
    let (object_a, object_b) = (a.fake.current().expect("a"), b.fake.current().expect("b"));
    let (ra, rb) = tokio::join!(
        reconcile(Arc::new(object_a), a.ctx.clone()),
        reconcile(Arc::new(object_b), b.ctx.clone())
    );
    ra.expect("reconcile a");
    rb.expect("reconcile b");
    sim.set_faults(Faults::default());
    assert_eq!(
        mutating_calls(&sim),
        vec![(Operation::Tag, CallOutcome::Ok), (Operation::Tag, CallOutcome::Ok)],
        "both claimed"
    );

    // Last writer wins: the tags name one of them.
    let winner_uid = tags(&sim, &id).get(OWNER_TAG).cloned().expect("claimed");
    let (winner, loser, winner_name, winner_target) = if winner_uid == UID_A {
        (&a, &b, "web-a", "i-sim-0001")
    } else {
        (&b, &a, "web-b", "i-sim-0002")
    };
    assert_eq!(tags(&sim, &id), claimed_by(&winner_uid, winner_name), "one claim, not a mix");

    // The loser reads the claim back first, and stalls.
    assert!(loser.reconcile_once().await);
    assert!(is_stalled_by(loser, "AdoptTargetOwnedElsewhere"));
    let message = loser.condition("Stalled").expect("Stalled").message;
    assert!(message.contains(&format!("ElasticIP default/{winner_name}")), "{message}");
    let after_claims = mutating_count(&sim);
    assert_eq!(after_claims, 2);

    // Both keep reconciling (resyncs); only the winner calls the cloud, and only to bind.
    for _ in 0..8 {
        assert!(winner.reconcile_once().await);
        let before = mutating_count(&sim);
        assert!(loser.reconcile_once().await);
        assert_eq!(mutating_count(&sim), before, "the loser made a call: {:?}", sim.calls());
        tokio::time::advance(Duration::from_secs(2)).await;
    }
    assert!(is_ready(winner), "{:?}", winner.fake.current().and_then(|o| o.status));
    assert!(is_stalled_by(loser, "AdoptTargetOwnedElsewhere") && !is_ready(loser));
    assert_eq!(
        mutating_calls(&sim),
        vec![
            (Operation::Tag, CallOutcome::Ok),
            (Operation::Tag, CallOutcome::Ok),
            (Operation::Associate, CallOutcome::Ok)
        ],
        "nothing untagged, nothing unbound"
    );
    assert_eq!(bound_to(&sim, &id), Some(winner_target.to_string()));
    assert_eq!(
        tags(&sim, &id),
        claimed_by(&winner_uid, winner_name),
        "the loser never untags the winner"
    );
}

#[tokio::test(start_paused = true)]
async fn deleting_with_retain_removes_only_our_claim_and_the_address_can_be_adopted_again() {
    let sim = simulator(Latencies {
        associate: Duration::from_secs(1),
        unassociate: Duration::from_secs(1),
        ..Latencies::default()
    });
    let id = seed_untagged(&sim);
    let a = adopter(&sim, "web-a", UID_A, &id, "i-sim-0001", None);
    let b = adopter(&sim, "web-b", UID_B, &id, "i-sim-0002", None);
    a.drive(6).await;
    assert!(a.reconcile_once().await && is_ready(&a));
    assert!(b.reconcile_once().await && is_stalled_by(&b, "AdoptTargetOwnedElsewhere"));

    // Deleted with the default policy of adopted EIPs (Retain): the claim goes, nothing else.
    deleting(&a);
    a.drive(6).await;
    assert!(a.fake.current().is_none(), "finalizer removed");
    let eip = sim.eip(REGION, &id).expect("retained");
    assert_eq!(
        eip.bound_to.map(|t| t.instance_id),
        Some("i-sim-0001".to_string()),
        "left bound as it was"
    );
    assert_eq!(eip.tags, users_tags(), "only the user's tag is left");
    assert_eq!(
        mutating_calls(&sim),
        vec![
            (Operation::Tag, CallOutcome::Ok),
            (Operation::Associate, CallOutcome::Ok),
            (Operation::Untag, CallOutcome::Ok)
        ]
    );
    assert!(a.fake.event_reasons().contains(&("Normal".into(), "Unclaimed".into())));

    // The stalled adopter, at its next look, claims the address, moves it and is Ready.
    b.drive(16).await;
    assert!(is_ready(&b), "{:?}", b.fake.current().and_then(|o| o.status));
    assert_eq!(tags(&sim, &id), claimed_by(UID_B, "web-b"));
    assert_eq!(bound_to(&sim, &id), Some("i-sim-0002".to_string()));
}

/// The soak (seed 1) deleted a Retain adopter while its EIP was locked out of band: the object
/// went and its claim stayed, which kept every later adopter of the address away.
#[tokio::test(start_paused = true)]
async fn deleting_with_retain_removes_our_claim_from_a_locked_eip() {
    let sim = simulator(Latencies {
        associate: Duration::from_secs(1),
        ..Latencies::default()
    });
    let id = seed_untagged(&sim);
    let a = adopter(&sim, "web-a", UID_A, &id, "i-sim-0001", None);
    a.drive(6).await;
    assert!(is_ready(&a));
    sim.oob_lock(REGION, &id, true).expect("lock");

    deleting(&a);
    a.drive(6).await;
    assert!(a.fake.current().is_none(), "finalizer removed");
    let eip = sim.eip(REGION, &id).expect("retained");
    assert_eq!(eip.tags, users_tags(), "the claim is gone, the user's tag stays");
    assert_eq!(eip.bound_to.map(|t| t.instance_id), Some("i-sim-0001".to_string()));
    assert_eq!(mutating_calls(&sim).last(), Some(&(Operation::Untag, CallOutcome::Ok)));
}

#[tokio::test(start_paused = true)]
async fn deleting_with_unbind_unbinds_then_removes_only_our_claim() {
    let sim = simulator(Latencies {
        associate: Duration::from_secs(1),
        unassociate: Duration::from_secs(1),
        ..Latencies::default()
    });
    let id = seed_untagged(&sim);
    let h = adopter(&sim, "web-a", UID_A, &id, "i-sim-0001", Some(DeletionPolicy::Unbind));
    h.drive(6).await;
    assert!(is_ready(&h));
    deleting(&h);
    h.drive(12).await;
    assert!(h.fake.current().is_none(), "finalizer removed");
    let eip = sim.eip(REGION, &id).expect("kept (Unbind)");
    assert_eq!(eip.bound_to, None);
    assert_eq!(eip.tags, users_tags());
    assert_eq!(
        h.mutating_calls(),
        vec![
            (Operation::Tag, CallOutcome::Ok),
            (Operation::Associate, CallOutcome::Ok),
            (Operation::Unassociate, CallOutcome::Ok),
            (Operation::Untag, CallOutcome::Ok)
        ],
        "unbound first, the claim removed last"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_loser_deleted_with_unbind_touches_nothing() {
    let sim = simulator(Latencies::default());
    let id = seed_untagged(&sim);
    let a = adopter(&sim, "web-a", UID_A, &id, "i-sim-0001", None);
    let b = adopter(&sim, "web-b", UID_B, &id, "i-sim-0002", Some(DeletionPolicy::Unbind));
    a.drive(6).await;
    assert!(b.reconcile_once().await && is_stalled_by(&b, "AdoptTargetOwnedElsewhere"));
    let before = mutating_count(&sim);
    deleting(&b);
    b.drive(4).await;
    assert!(b.fake.current().is_none(), "let go");
    assert_eq!(mutating_count(&sim), before, "the winner's binding and claim untouched");
    assert_eq!(tags(&sim, &id), claimed_by(UID_A, "web-a"));
    a.drive(2).await;
    assert!(is_ready(&a));
}
