//! Where allocation takes no client token (OTC, Huawei, AWS), an allocation whose answer was
//! lost, or that a killed process had in flight, can land after the owner lookup that preceded
//! the next allocation: the object then records one EIP and a second carries its owner tag. The
//! soak (seed 2) leaked two such EIPs on OTC. Deleting the object releases both; nothing else.

use super::*;

/// An EIP of someone else's, which no deletion of ours may touch.
fn foreign() -> SeedEip {
    SeedEip {
        tags: BTreeMap::from([(OWNER_TAG.to_string(), "another-uid".to_string())]),
        ..SeedEip::default()
    }
}

#[tokio::test(start_paused = true)]
async fn deleting_an_allocator_also_releases_the_eip_it_never_recorded() {
    let sim = simulator(Latencies::default());
    let (h, recorded) = Harness::deleting_owner_of(&sim, owned(None));
    let h = h.without_allocation_tokens();
    let stray = sim.seed_eip(REGION, owned(None)).expect("seed").allocation_id;
    let other = sim.seed_eip(REGION, foreign()).expect("seed").allocation_id;

    h.drive(30).await;
    assert!(h.fake.current().is_none(), "finalizer removed");
    assert!(sim.eip(REGION, &recorded).is_none(), "the recorded EIP is released");
    assert!(sim.eip(REGION, &stray).is_none(), "the unrecorded one is released too");
    assert!(sim.eip(REGION, &other).is_some(), "another owner's EIP is untouched");
    let releases: Vec<_> = mutating_calls(&sim)
        .into_iter()
        .filter(|(op, _)| *op == Operation::Release)
        .collect();
    assert_eq!(releases.len(), 2, "{releases:?}");
}

#[tokio::test(start_paused = true)]
async fn an_adopter_never_releases_what_else_carries_its_uid() {
    let sim = simulator(Latencies::default());
    let adopted = sim.seed_eip(REGION, owned(None)).expect("seed").allocation_id;
    let extra = sim.seed_eip(REGION, owned(None)).expect("seed").allocation_id;
    let object = elastic_ip(spec(None, Some(&adopted), Some(DeletionPolicy::Delete)))
        .finalized()
        .deleting()
        .with_status(recorded(&adopted));
    let h = Harness::on(&sim, object).without_allocation_tokens();

    h.drive(30).await;
    assert!(h.fake.current().is_none(), "finalizer removed");
    assert!(
        sim.eip(REGION, &adopted).is_none(),
        "the adopted EIP goes, per deletionPolicy Delete"
    );
    assert!(sim.eip(REGION, &extra).is_some(), "an adopter allocated nothing else to release");
}

/// Where allocation is idempotent (Alibaba's client token), a living object allocates without
/// looking for its owner tag first, unless its last allocation failed: the cloud may hold what
/// that attempt made (an answer lost after the commit), and a refusal of the retry
/// (`IdempotentParameterMismatch`: the soak, seed 1, after a replica tagged its retries without the
/// cluster ID) would otherwise leave it unrecorded for good.
#[tokio::test(start_paused = true)]
async fn after_a_failed_allocation_the_eip_it_made_is_found_by_owner() {
    let sim = simulator(Latencies::default());
    let made = sim.seed_eip(REGION, owned(None)).expect("seed").allocation_id;
    let failed = eip_api::ElasticIPStatus {
        last_operation: Some(eip_api::LastOperation {
            action: "Allocate".into(),
            request_id: None,
            started_at: "2026-01-01T00:00:00Z".into(),
            answered_at: Some("2026-01-01T00:00:01Z".into()),
            attempts: 2,
            error: Some("IdempotentParameterMismatch: the request differs from the one with this token".into()),
        }),
        ..Default::default()
    };
    let object = elastic_ip(spec(None, None, Some(DeletionPolicy::Delete)))
        .finalized()
        .with_status(failed);
    let h = Harness::on(&sim, object);

    h.drive(10).await;
    assert_eq!(h.recorded_allocation().as_deref(), Some(made.as_str()), "recorded");
    assert!(
        !h.mutating_calls().iter().any(|(op, _)| *op == Operation::Allocate),
        "no allocation: {:?}",
        h.mutating_calls()
    );
}
