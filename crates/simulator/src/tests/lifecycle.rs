//! Allocation, binding, unbinding and release through their transitional states, per flavour.

use super::*;

#[tokio::test(start_paused = true)]
async fn allocate_is_immediate_on_alibaba_and_pending_on_otc() {
    let sim = sim(2);
    let ali = allocate(&sim.provider(ALI).expect("region")).await;
    assert_eq!((ali.raw_state.as_str(), ali.phase), ("Available", EipPhase::Unbound));
    assert_eq!(ali.bandwidth_mbps, Some(5));

    let otc = allocate(&sim.provider(OTC).expect("region")).await;
    assert_eq!(
        (otc.raw_state.as_str(), otc.phase),
        ("PENDING_CREATE", EipPhase::Transitional(Transition::Allocating))
    );
    advance(Duration::from_secs(2)).await;
    assert_eq!(raw(&sim, OTC, &otc.allocation_id).as_deref(), Some("DOWN"));
}

#[tokio::test(start_paused = true)]
async fn associate_goes_through_associating_to_in_use() {
    let (sim, provider, eip) = with_eip(1, ALI).await;
    let receipt = bind_with(&provider, &eip, &ecs("i-sim-0001"), "bind-1").await;
    assert_eq!(receipt.request_id.len(), 36);
    let during = sim.eip(ALI, &eip.allocation_id).expect("exists");
    assert_eq!(
        (during.raw_state.as_str(), during.phase),
        ("Associating", EipPhase::Transitional(Transition::Associating))
    );
    assert_eq!(during.bound_to.as_ref().map(|b| b.instance_id.as_str()), Some("i-sim-0001"));

    advance(Duration::from_secs(1)).await;
    let after = sim.eip(ALI, &eip.allocation_id).expect("exists");
    assert_eq!((after.raw_state.as_str(), after.phase), ("InUse", EipPhase::Bound));
    let bound = after.bound_to.expect("bound");
    assert!(bound.satisfies(&ecs("i-sim-0001")));
    assert!(bound.private_ip_address.is_some(), "the cloud picks a private address");
}

#[tokio::test(start_paused = true)]
async fn otc_binding_states_and_load_balancers() {
    let (sim, provider, eip) = with_eip(1, OTC).await;
    advance(Duration::from_secs(1)).await;
    bind(&provider, &eip, &target(InstanceType::Port, "port-sim-0001")).await;
    assert_eq!(raw(&sim, OTC, &eip.allocation_id).as_deref(), Some("PENDING_UPDATE"));
    advance(Duration::from_secs(1)).await;
    assert_eq!(raw(&sim, OTC, &eip.allocation_id).as_deref(), Some("ACTIVE"));

    // A load balancer holds several EIPs and reads ELB.
    let lb = target(InstanceType::SlbInstance, "lb-sim-0001");
    for _ in 0..2 {
        let eip = allocate(&provider).await;
        advance(Duration::from_secs(1)).await;
        bind(&provider, &eip, &lb).await;
        advance(Duration::from_secs(1)).await;
        assert_eq!(raw(&sim, OTC, &eip.allocation_id).as_deref(), Some("ELB"));
    }
}

#[tokio::test(start_paused = true)]
async fn calls_during_a_transition_get_task_conflict() {
    let sim = sim(3);
    for (region, code) in [(ALI, "TaskConflict"), (OTC, "VPC.0512")] {
        let provider = sim.provider(region).expect("region");
        let eip = allocate(&provider).await;
        advance(Duration::from_secs(3)).await;
        bind(&provider, &eip, &ecs("i-sim-0002")).await;
        advance(Duration::from_secs(1)).await;
        let err = provider.unassociate(&unbind(&eip, &ecs("i-sim-0002"))).await.expect_err("busy");
        assert_eq!((err.code.as_str(), err.class()), (code, ErrorClass::Retryable));
        assert!(err.request_id.is_some());
        let err = provider.release(&eip.allocation_id, "").await.expect_err("busy");
        assert_eq!(err.code, code);
        let err = provider
            .associate(&eip.allocation_id, &ecs("i-sim-0003"), "")
            .await
            .expect_err("busy");
        assert_eq!(err.code, code);
        advance(Duration::from_secs(2)).await;
        assert_eq!(sim.eip(region, &eip.allocation_id).map(|e| e.phase), Some(EipPhase::Bound));
    }
}

#[tokio::test(start_paused = true)]
async fn unbind_then_release_until_gone() {
    let sim = sim(2);
    for (region, unbinding, unbound, releasing) in [
        (ALI, "Unassociating", "Available", "Releasing"),
        (OTC, "PENDING_UPDATE", "DOWN", "PENDING_DELETE"),
    ] {
        let provider = sim.provider(region).expect("region");
        let eip = allocate(&provider).await;
        advance(Duration::from_secs(2)).await;
        bind(&provider, &eip, &ecs("i-sim-0004")).await;
        advance(Duration::from_secs(2)).await;
        let current = sim.eip(region, &eip.allocation_id).and_then(|e| e.bound_to).expect("bound");
        provider.unassociate(&unbind(&eip, &current)).await.expect("unassociates");
        let during = sim.eip(region, &eip.allocation_id).expect("exists");
        assert_eq!(
            (during.raw_state.as_str(), during.phase),
            (unbinding, EipPhase::Transitional(Transition::Unassociating))
        );
        advance(Duration::from_secs(2)).await;
        let after = sim.eip(region, &eip.allocation_id).expect("exists");
        assert_eq!((after.raw_state.as_str(), after.bound_to), (unbound, None));

        // The instance is free for another EIP now.
        let other = allocate(&provider).await;
        advance(Duration::from_secs(2)).await;
        provider
            .associate(&other.allocation_id, &ecs("i-sim-0004"), "")
            .await
            .expect("instance is free");

        provider.release(&eip.allocation_id, "").await.expect("releases");
        assert_eq!(raw(&sim, region, &eip.allocation_id).as_deref(), Some(releasing));
        let ids = vec![eip.allocation_id.clone()];
        assert_eq!(provider.describe(&ids).await.expect("describes").len(), 1);
        advance(Duration::from_secs(2)).await;
        assert!(provider.describe(&ids).await.expect("describes").is_empty());
        let err = provider.release(&eip.allocation_id, "").await.expect_err("gone");
        assert_eq!(err.class(), ErrorClass::Gone);
    }
}

#[tokio::test(start_paused = true)]
async fn unassociate_of_an_unbound_eip() {
    let sim = sim(0);
    let ali = sim.provider(ALI).expect("region");
    let eip = allocate(&ali).await;
    let err = ali.unassociate(&unbind(&eip, &ecs("i-sim-0001"))).await.expect_err("not bound");
    assert_eq!((err.code.as_str(), err.class()), ("IncorrectEipStatus", ErrorClass::Retryable));

    let otc = sim.provider(OTC).expect("region");
    let eip = allocate(&otc).await;
    otc.unassociate(&unbind(&eip, &ecs("i-sim-0001"))).await.expect("OTC: a no-op");
    assert_eq!(raw(&sim, OTC, &eip.allocation_id).as_deref(), Some("DOWN"));
}

#[tokio::test(start_paused = true)]
async fn auto_created_instances() {
    let sim = Simulator::new(SimulatorConfig {
        auto_create_instances: true,
        ..SimulatorConfig::instant()
    });
    let provider = sim.provider(ALI).expect("region");
    let eip = allocate(&provider).await;
    provider
        .associate(&eip.allocation_id, &ecs("i-anything"), "")
        .await
        .expect("auto-created");
    let instances = sim.instances(ALI).expect("region");
    assert!(
        instances
            .iter()
            .any(|i| i.instance_id == "i-anything" && i.eips == vec![eip.allocation_id.clone()])
    );
}
