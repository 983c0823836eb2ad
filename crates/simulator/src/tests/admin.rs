//! Out-of-band changes and seeding: immediate, and not provider calls.

use super::*;

#[tokio::test(start_paused = true)]
async fn out_of_band_changes_are_immediate_and_not_counted() {
    let sim = sim(2);
    let seeded = sim
        .seed_eip(
            ALI,
            SeedEip {
                charge_type: ChargeType::PrePaid,
                bound_to: Some(ecs("i-sim-0015")),
                tags: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
                bandwidth_mbps: Some(20),
                ..SeedEip::default()
            },
        )
        .expect("seeds");
    assert_eq!((seeded.raw_state.as_str(), seeded.charge_type), ("InUse", ChargeType::PrePaid));
    let id = seeded.allocation_id;

    assert_eq!(sim.oob_unbind(ALI, &id).expect("unbinds").phase, EipPhase::Unbound);
    let rebound = sim.oob_bind(ALI, &id, &target(InstanceType::Nat, "ngw-sim-0002")).expect("binds");
    assert_eq!(rebound.bound_to.map(|b| b.instance_id), Some("ngw-sim-0002".to_owned()));
    let locked = sim.oob_lock(ALI, &id, true).expect("locks");
    assert_eq!(
        (locked.raw_state.as_str(), locked.phase, locked.locks),
        ("InUse", EipPhase::Locked, vec!["financial".to_owned()])
    );
    sim.oob_lock(ALI, &id, false).expect("unlocks");
    sim.oob_release(ALI, &id).expect("releases");
    assert!(sim.eip(ALI, &id).is_none());
    assert_eq!(sim.oob_release(ALI, &id), Err(AdminError::UnknownEip(id.clone())));
    assert!(sim.calls().is_empty() && sim.counters().is_empty());

    // Seeding respects exclusive instances.
    sim.seed_eip(
        ALI,
        SeedEip {
            bound_to: Some(ecs("i-sim-0016")),
            ..SeedEip::default()
        },
    )
    .expect("seeds");
    let err = sim
        .seed_eip(
            ALI,
            SeedEip {
                bound_to: Some(ecs("i-sim-0016")),
                ..SeedEip::default()
            },
        )
        .expect_err("taken");
    assert!(matches!(err, AdminError::Conflict(_)));
    assert!(matches!(
        sim.seed_eip("mars-1", SeedEip::default()),
        Err(AdminError::UnknownRegion(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn out_of_band_release_of_a_bound_eip_frees_the_instance() {
    let (sim, provider, eip) = with_eip(0, OTC).await;
    bind(&provider, &eip, &ecs("i-sim-0017")).await;
    sim.oob_release(OTC, &eip.allocation_id).expect("releases");
    let err = provider.unassociate(&unbind(&eip, &ecs("i-sim-0017"))).await.expect_err("gone");
    assert_eq!((err.code.as_str(), err.class()), ("VPC.0504", ErrorClass::Gone));
    let next = allocate(&provider).await;
    provider
        .associate(&next.allocation_id, &ecs("i-sim-0017"), "")
        .await
        .expect("instance is free");
}
