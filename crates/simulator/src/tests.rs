use std::collections::BTreeMap;

use tokio::time::advance;

use super::*;
use eip_cloud::{Blocker, ChargeType, EipPhase, ErrorClass, OWNER_TAG, Transition, UnbindRequest};

const ALI: &str = "cn-hangzhou";
const OTC: &str = "eu-de";

fn sim(latency_secs: u64) -> Simulator {
    let latency = Duration::from_secs(latency_secs);
    Simulator::new(SimulatorConfig {
        seed: 11,
        latencies: Latencies {
            allocate: latency,
            associate: latency,
            unassociate: latency,
            release: latency,
        },
        ..SimulatorConfig::instant()
    })
}

fn target(instance_type: InstanceType, id: &str) -> BindTarget {
    BindTarget {
        instance_type,
        instance_id: id.into(),
        private_ip_address: None,
    }
}

fn ecs(id: &str) -> BindTarget {
    target(InstanceType::EcsInstance, id)
}

fn request(token: &str) -> AllocateRequest {
    AllocateRequest {
        client_token: token.into(),
        ..AllocateRequest::default()
    }
}

async fn allocate(provider: &SimulatorProvider) -> CloudEip {
    provider.allocate(&AllocateRequest::default()).await.expect("allocates").eip
}

fn raw(sim: &Simulator, region: &str, id: &str) -> Option<String> {
    sim.eip(region, id).map(|eip| eip.raw_state)
}

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
    let sim = sim(1);
    let provider = sim.provider(ALI).expect("region");
    let eip = allocate(&provider).await;
    let receipt = provider
        .associate(&eip.allocation_id, &ecs("i-sim-0001"), "bind-1")
        .await
        .expect("associates");
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
    let sim = sim(1);
    let provider = sim.provider(OTC).expect("region");
    let eip = allocate(&provider).await;
    advance(Duration::from_secs(1)).await;
    provider
        .associate(&eip.allocation_id, &target(InstanceType::Port, "port-sim-0001"), "")
        .await
        .expect("associates");
    assert_eq!(raw(&sim, OTC, &eip.allocation_id).as_deref(), Some("PENDING_UPDATE"));
    advance(Duration::from_secs(1)).await;
    assert_eq!(raw(&sim, OTC, &eip.allocation_id).as_deref(), Some("ACTIVE"));

    // A load balancer holds several EIPs and reads ELB.
    let lb = target(InstanceType::SlbInstance, "lb-sim-0001");
    for _ in 0..2 {
        let eip = allocate(&provider).await;
        advance(Duration::from_secs(1)).await;
        provider.associate(&eip.allocation_id, &lb, "").await.expect("associates");
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
        provider
            .associate(&eip.allocation_id, &ecs("i-sim-0002"), "")
            .await
            .expect("associates");
        advance(Duration::from_secs(1)).await;
        let err = provider
            .unassociate(&UnbindRequest::new(eip.allocation_id.to_owned(), ecs("i-sim-0002").clone(), ""))
            .await
            .expect_err("busy");
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
        provider
            .associate(&eip.allocation_id, &ecs("i-sim-0004"), "")
            .await
            .expect("associates");
        advance(Duration::from_secs(2)).await;
        let current = sim.eip(region, &eip.allocation_id).and_then(|e| e.bound_to).expect("bound");
        provider
            .unassociate(&UnbindRequest::new(eip.allocation_id.to_owned(), current.clone(), ""))
            .await
            .expect("unassociates");
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
async fn release_while_bound_is_refused() {
    let sim = sim(0);
    for (region, code, class) in [
        (ALI, "IncorrectEipStatus", ErrorClass::Retryable),
        (OTC, "VPC.0517", ErrorClass::Terminal),
    ] {
        let provider = sim.provider(region).expect("region");
        let eip = allocate(&provider).await;
        provider
            .associate(&eip.allocation_id, &ecs("i-sim-0005"), "")
            .await
            .expect("associates");
        let err = provider.release(&eip.allocation_id, "").await.expect_err("bound");
        assert_eq!((err.code.as_str(), err.class()), (code, class));
        assert_eq!(sim.eip(region, &eip.allocation_id).map(|e| e.phase), Some(EipPhase::Bound));
    }
}

#[tokio::test(start_paused = true)]
async fn prepaid_and_protected_eips_cannot_be_released() {
    let sim = sim(0);
    for (region, code) in [(ALI, "Forbidden.ChargeTypeIsPrepaid"), (OTC, "VPC.0502")] {
        let provider = sim.provider(region).expect("region");
        let prepaid = provider
            .allocate(&AllocateRequest {
                charge_type: ChargeType::PrePaid,
                ..request("prepaid")
            })
            .await
            .expect("allocates")
            .eip;
        assert_eq!(prepaid.charge_type, ChargeType::PrePaid);
        let err = provider.release(&prepaid.allocation_id, "").await.expect_err("prepaid");
        assert_eq!(
            (err.code.as_str(), err.class(), err.blocker()),
            (code, ErrorClass::Terminal, Some(Blocker::PrepaidCannotRelease))
        );

        let protected = sim
            .seed_eip(
                region,
                SeedEip {
                    deletion_protection: true,
                    ..SeedEip::default()
                },
            )
            .expect("seeds");
        let err = provider.release(&protected.allocation_id, "").await.expect_err("protected");
        assert_eq!(
            (err.code.as_str(), err.blocker()),
            ("InvalidOperation.DeletionProtection", Some(Blocker::DeletionProtection))
        );
    }
}

#[tokio::test(start_paused = true)]
async fn nat_entries_block_unbind_unless_forced() {
    let sim = sim(0);
    for (region, code) in [(ALI, "DependencyViolation.SnatEntry"), (OTC, "VPC.0513")] {
        let provider = sim.provider(region).expect("region");
        let nat = target(InstanceType::Nat, "ngw-sim-0001");
        sim.set_nat_entries(region, "ngw-sim-0001", 2).expect("known NAT gateway");
        let eip = allocate(&provider).await;
        provider.associate(&eip.allocation_id, &nat, "").await.expect("associates");
        let err = provider
            .unassociate(&UnbindRequest::new(eip.allocation_id.to_owned(), nat.clone(), ""))
            .await
            .expect_err("NAT entries");
        assert_eq!((err.code.as_str(), err.blocker()), (code, Some(Blocker::NatEntriesBlockUnbind)));
        provider
            .unassociate(&UnbindRequest::new(eip.allocation_id.to_owned(), nat.clone(), "").forced(true))
            .await
            .expect("forced");
        assert_eq!(sim.eip(region, &eip.allocation_id).map(|e| e.phase), Some(EipPhase::Unbound));
    }
}

#[tokio::test(start_paused = true)]
async fn allocate_is_idempotent_by_client_token() {
    let sim = sim(0);
    let provider = sim.provider(ALI).expect("region");
    let first = provider.allocate(&request("uid-1")).await.expect("allocates");
    let again = provider.allocate(&request("uid-1")).await.expect("replays");
    assert_eq!(first, again);
    assert_eq!(sim.eips(ALI).len(), 1);

    let changed = AllocateRequest {
        bandwidth_mbps: Some(10),
        ..request("uid-1")
    };
    let err = provider.allocate(&changed).await.expect_err("mismatch");
    assert_eq!(
        (err.code.as_str(), err.class(), err.blocker()),
        ("IdempotentParameterMismatch", ErrorClass::Terminal, Some(Blocker::InvalidRequest))
    );
    assert_eq!(sim.eips(ALI).len(), 1);

    // Both calls are logged, the replay with the original request ID and EIP.
    let calls = sim.calls();
    assert_eq!(calls[1].request_id, first.receipt.request_id);
    assert_eq!(calls[1].allocation_ids, vec![first.eip.allocation_id.clone()]);
}

#[tokio::test(start_paused = true)]
async fn associate_is_idempotent_by_client_token() {
    let sim = sim(5);
    let provider = sim.provider(ALI).expect("region");
    let eip = allocate(&provider).await;
    let first = provider
        .associate(&eip.allocation_id, &ecs("i-sim-0006"), "bind")
        .await
        .expect("associates");
    let retry = provider
        .associate(&eip.allocation_id, &ecs("i-sim-0006"), "bind")
        .await
        .expect("replays while Associating");
    assert_eq!(first, retry);
    let err = provider
        .associate(&eip.allocation_id, &ecs("i-sim-0007"), "bind")
        .await
        .expect_err("mismatch");
    assert_eq!(err.code, "IdempotentParameterMismatch");
    advance(Duration::from_secs(5)).await;
    assert_eq!(provider.associate(&eip.allocation_id, &ecs("i-sim-0006"), "bind").await, Ok(first));

    // After an out-of-band unbind the token is a new request again.
    sim.oob_unbind(ALI, &eip.allocation_id).expect("unbinds");
    let rebind = provider
        .associate(&eip.allocation_id, &ecs("i-sim-0006"), "bind")
        .await
        .expect("binds again");
    assert_ne!(rebind.request_id, retry.request_id);
}

#[tokio::test(start_paused = true)]
async fn associate_refusals() {
    let sim = sim(0);
    for (region, unknown, taken, bound_code, bound_class, locked, gone) in [
        (
            ALI,
            "InvalidInstanceId.NotFound",
            "InvalidParameter.Duplicated",
            "IncorrectEipStatus",
            ErrorClass::Retryable,
            "Forbidden.FinancialLocked",
            "InvalidAllocationId.NotFound",
        ),
        (
            OTC,
            "VPC.0514",
            "VPC.0511",
            "VPC.0510",
            ErrorClass::Terminal,
            "VPC.0509",
            "VPC.0504",
        ),
    ] {
        let provider = sim.provider(region).expect("region");
        let a = allocate(&provider).await;
        let b = allocate(&provider).await;

        let err = provider
            .associate(&a.allocation_id, &ecs("i-nope"), "")
            .await
            .expect_err("unknown instance");
        assert_eq!((err.code.as_str(), err.blocker()), (unknown, Some(Blocker::InvalidBindingTarget)));

        provider
            .associate(&a.allocation_id, &ecs("i-sim-0010"), "")
            .await
            .expect("associates");
        let err = provider
            .associate(&b.allocation_id, &ecs("i-sim-0010"), "")
            .await
            .expect_err("instance taken");
        assert_eq!((err.code.as_str(), err.blocker()), (taken, Some(Blocker::InvalidBindingTarget)));

        let err = provider
            .associate(&a.allocation_id, &ecs("i-sim-0011"), "")
            .await
            .expect_err("already bound");
        assert_eq!((err.code.as_str(), err.class()), (bound_code, bound_class));

        sim.oob_lock(region, &b.allocation_id, true).expect("locks");
        let err = provider
            .associate(&b.allocation_id, &ecs("i-sim-0012"), "")
            .await
            .expect_err("locked");
        assert_eq!((err.code.as_str(), err.blocker()), (locked, Some(Blocker::Locked)));
        let err = provider.release(&b.allocation_id, "").await.expect_err("locked");
        assert_eq!(err.blocker(), Some(Blocker::Locked));

        let err = provider
            .associate("eip-doesnotexist", &ecs("i-sim-0012"), "")
            .await
            .expect_err("gone");
        assert_eq!((err.code.as_str(), err.class()), (gone, ErrorClass::Gone));

        // Any IP address is a valid target.
        let c = allocate(&provider).await;
        provider
            .associate(&c.allocation_id, &target(InstanceType::IpAddress, "192.168.7.7"), "")
            .await
            .expect("associates");
    }
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

#[tokio::test(start_paused = true)]
async fn unassociate_of_an_unbound_eip() {
    let sim = sim(0);
    let ali = sim.provider(ALI).expect("region");
    let eip = allocate(&ali).await;
    let err = ali
        .unassociate(&UnbindRequest::new(eip.allocation_id.to_owned(), ecs("i-sim-0001").clone(), ""))
        .await
        .expect_err("not bound");
    assert_eq!((err.code.as_str(), err.class()), ("IncorrectEipStatus", ErrorClass::Retryable));

    let otc = sim.provider(OTC).expect("region");
    let eip = allocate(&otc).await;
    otc.unassociate(&UnbindRequest::new(eip.allocation_id.to_owned(), ecs("i-sim-0001").clone(), ""))
        .await
        .expect("OTC: a no-op");
    assert_eq!(raw(&sim, OTC, &eip.allocation_id).as_deref(), Some("DOWN"));
}

#[tokio::test(start_paused = true)]
async fn quota_is_enforced() {
    let sim = Simulator::new(SimulatorConfig {
        eip_quota_per_region: 2,
        ..SimulatorConfig::instant()
    });
    let provider = sim.provider(OTC).expect("region");
    allocate(&provider).await;
    allocate(&provider).await;
    let err = provider.allocate(&AllocateRequest::default()).await.expect_err("quota");
    assert_eq!((err.code.as_str(), err.blocker()), ("VPC.0521", Some(Blocker::QuotaExceeded)));
}

#[tokio::test(start_paused = true)]
async fn describe_is_batched_and_omits_unknown_ids() {
    let sim = sim(0);
    let provider = sim.provider(ALI).expect("region");
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(allocate(&provider).await.allocation_id);
    }
    ids.extend((0..20).map(|n| format!("eip-missing{n}")));
    let before = sim.last_seq();
    let found = provider.describe(&ids).await.expect("describes");
    assert_eq!(found.len(), 100);
    let calls = sim.calls_since(before);
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(|c| c.operation == Operation::Describe && c.outcome == "Ok"));
    assert_eq!(calls.iter().map(|c| c.allocation_ids.len()).collect::<Vec<_>>(), vec![50, 50, 20]);
    assert_eq!(sim.call_count(Operation::Describe), 3);

    // No IDs, no call.
    assert!(provider.describe(&[]).await.expect("describes").is_empty());
    assert_eq!(sim.call_count(Operation::Describe), 3);
}

#[tokio::test(start_paused = true)]
async fn find_by_owner_uses_the_owner_tag() {
    let sim = sim(0);
    let provider = sim.provider(OTC).expect("region");
    let tagged = AllocateRequest {
        tags: BTreeMap::from([(OWNER_TAG.to_owned(), "uid-7".to_owned())]),
        ..request("t-7")
    };
    let mine = provider.allocate(&tagged).await.expect("allocates").eip;
    allocate(&provider).await;
    let found = provider.find_by_owner("uid-7").await.expect("finds");
    assert_eq!(
        found.iter().map(|e| e.allocation_id.as_str()).collect::<Vec<_>>(),
        vec![mine.allocation_id.as_str()]
    );
    assert_eq!(found[0].owner_uid(), Some("uid-7"));
    assert!(provider.find_by_owner("uid-8").await.expect("finds").is_empty());
    assert_eq!(sim.call_count(Operation::FindByOwner), 2);
    // The other region does not see it.
    assert!(
        sim.provider("eu-nl")
            .expect("region")
            .find_by_owner("uid-7")
            .await
            .expect("finds")
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limits_throttle_and_recover() {
    let sim = Simulator::new(SimulatorConfig {
        rate_limits: RateLimits {
            mutating_per_second: Some(5),
            describe_per_second: Some(2),
        },
        ..SimulatorConfig::instant()
    });
    let provider = sim.provider(ALI).expect("region");
    for _ in 0..5 {
        allocate(&provider).await;
    }
    let err = provider.allocate(&AllocateRequest::default()).await.expect_err("throttled");
    assert!(err.is_throttled());
    assert_eq!((err.code.as_str(), err.class()), ("Throttling.User", ErrorClass::Retryable));
    let retry_after = err.retry_after().expect("says when");
    assert_eq!(retry_after, Duration::from_millis(200));
    assert_eq!(sim.eips(ALI).len(), 5, "a throttled call changes nothing");

    // Other operations and regions have their own buckets.
    let ids = vec!["eip-x".to_owned()];
    provider.describe(&ids).await.expect("own bucket");
    allocate(&sim.provider("cn-shanghai").expect("region")).await;

    advance(retry_after).await;
    allocate(&provider).await;
    let err = provider.allocate(&AllocateRequest::default()).await.expect_err("throttled again");
    assert_eq!(err.retry_after(), Some(Duration::from_millis(200)));

    let throttled = sim
        .counters()
        .into_iter()
        .find(|row| row.code.as_deref() == Some("Throttling.User"))
        .expect("counted");
    assert_eq!(
        (throttled.operation, throttled.outcome, throttled.count),
        (Operation::Allocate, CallOutcome::Error, 2)
    );

    // OTC words it differently; lifting the limit ends throttling.
    let otc = sim.provider(OTC).expect("region");
    for _ in 0..2 {
        otc.describe(&ids).await.expect("within burst");
    }
    assert_eq!(otc.describe(&ids).await.expect_err("throttled").code, "APIGW.0308");
    sim.set_rate_limits(RateLimits::default());
    otc.describe(&ids).await.expect("unlimited");
}

#[tokio::test(start_paused = true)]
async fn faults_are_deterministic_for_a_seed() {
    async fn pattern(seed: u64) -> (Vec<bool>, Vec<String>) {
        let sim = Simulator::new(SimulatorConfig::instant().with_seed(seed));
        sim.set_faults(Faults {
            error_rate: 0.5,
            extra_latency: Duration::ZERO,
        });
        let provider = sim.provider(ALI).expect("region");
        let mut outcomes = Vec::new();
        for _ in 0..40 {
            let result = provider.allocate(&AllocateRequest::default()).await;
            if let Err(err) = &result {
                assert_eq!((err.code.as_str(), err.class()), ("ServiceUnavailable", ErrorClass::Retryable));
            }
            outcomes.push(result.is_ok());
        }
        (outcomes, sim.eips(ALI).into_iter().map(|e| e.allocation_id).collect())
    }
    let (a, ids_a) = pattern(99).await;
    let (b, ids_b) = pattern(99).await;
    assert_eq!((&a, &ids_a), (&b, &ids_b));
    assert!(a.iter().any(|ok| *ok) && a.iter().any(|ok| !*ok), "{a:?}");
    let (c, _) = pattern(100).await;
    assert_ne!(a, c);
}

#[tokio::test(start_paused = true)]
async fn extra_latency_is_slept_before_the_call() {
    let sim = sim(0);
    sim.set_faults(Faults {
        error_rate: 0.0,
        extra_latency: Duration::from_millis(300),
    });
    let provider = sim.provider(ALI).expect("region");
    let start = Instant::now();
    allocate(&provider).await;
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(sim.calls()[0].at_ms, 300);
}

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
    let sim = sim(0);
    let provider = sim.provider(OTC).expect("region");
    let eip = allocate(&provider).await;
    provider
        .associate(&eip.allocation_id, &ecs("i-sim-0017"), "")
        .await
        .expect("associates");
    sim.oob_release(OTC, &eip.allocation_id).expect("releases");
    let err = provider
        .unassociate(&UnbindRequest::new(eip.allocation_id.to_owned(), ecs("i-sim-0017").clone(), ""))
        .await
        .expect_err("gone");
    assert_eq!((err.code.as_str(), err.class()), ("VPC.0504", ErrorClass::Gone));
    let next = allocate(&provider).await;
    provider
        .associate(&next.allocation_id, &ecs("i-sim-0017"), "")
        .await
        .expect("instance is free");
}

#[tokio::test(start_paused = true)]
async fn call_log_records_everything() {
    let sim = sim(0);
    let provider = sim.provider(OTC).expect("region");
    let eip = provider.allocate(&request("tok-a")).await.expect("allocates").eip;
    let err = provider.release("nope", "tok-r").await.expect_err("gone");
    let calls = sim.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].seq, 1);
    assert_eq!(calls[0].allocation_ids, vec![eip.allocation_id]);
    assert_eq!(calls[0].client_token.as_deref(), Some("tok-a"));
    assert_eq!((calls[1].outcome, calls[1].code.as_deref()), (CallOutcome::Error, Some("VPC.0504")));
    assert_eq!(Some(calls[1].request_id.clone()), err.request_id);
    assert_eq!(
        calls[1].request_id,
        calls[1].request_id.to_lowercase(),
        "OTC request IDs are lower-case"
    );
    assert_eq!(sim.calls_since(1).len(), 1);
    assert!(sim.provider("mars-1").is_err());
    assert_eq!(provider.name(), "simulator");
    assert_eq!(provider.flavor(), Flavor::Otc);
}

#[test]
fn token_bucket_refills_exactly() {
    let now = Instant::now();
    let mut bucket = TokenBucket::full(3, now);
    for _ in 0..3 {
        assert_eq!(bucket.try_take(3, now), Ok(()));
    }
    let wait = bucket.try_take(3, now).expect_err("empty");
    assert_eq!(wait, Duration::from_nanos(333_333_334));
    assert_eq!(bucket.try_take(3, now + wait), Ok(()));
    // Never more than one second's worth.
    let later = now + Duration::from_secs(60);
    for _ in 0..3 {
        assert_eq!(bucket.try_take(3, later), Ok(()));
    }
    assert!(bucket.try_take(3, later).is_err());
}

#[tokio::test(start_paused = true)]
async fn tags_are_set_overwritten_and_removed_and_the_owner_index_follows() {
    let sim = sim(0);
    for region in [ALI, OTC] {
        let provider = sim.provider(region).expect("region");
        let id = sim
            .seed_eip(
                region,
                SeedEip {
                    tags: BTreeMap::from([("team".to_string(), "a".to_string())]),
                    ..SeedEip::default()
                },
            )
            .expect("seed")
            .allocation_id;
        let claim = |uid: &str| BTreeMap::from([(OWNER_TAG.to_string(), uid.to_string())]);
        provider.tag(&id, &claim("uid-1")).await.expect("tags");
        assert_eq!(provider.find_by_owner("uid-1").await.expect("finds").len(), 1);
        // Not compare-and-swap: the last writer's value is kept.
        provider.tag(&id, &claim("uid-2")).await.expect("tags again");
        assert!(provider.find_by_owner("uid-1").await.expect("finds").is_empty(), "{region}");
        assert_eq!(sim.eip(region, &id).expect("EIP").owner_uid(), Some("uid-2"));
        // Untag removes only the keys named; a key the EIP lacks is no error.
        provider
            .untag(&id, &[OWNER_TAG.to_string(), "absent".to_string()])
            .await
            .expect("untags");
        assert!(provider.find_by_owner("uid-2").await.expect("finds").is_empty());
        assert_eq!(
            sim.eip(region, &id).expect("EIP").tags,
            BTreeMap::from([("team".to_string(), "a".to_string())])
        );

        // Unknown EIPs are gone, in each flavour's words; too many tags are refused whole.
        let gone = provider.tag("eip-none", &claim("uid-1")).await.expect_err("unknown");
        let want = if region == ALI { "InvalidResourceId.NotFound" } else { "VPC.0504" };
        assert_eq!((gone.class(), gone.code.as_str()), (ErrorClass::Gone, want));
        assert_eq!(
            provider
                .untag("eip-none", &[OWNER_TAG.to_string()])
                .await
                .expect_err("unknown")
                .class(),
            ErrorClass::Gone
        );
        let many: BTreeMap<String, String> = (0..TAGS_PER_EIP).map(|n| (format!("k{n}"), "v".to_string())).collect();
        let refused = provider.tag(&id, &many).await.expect_err("21 tags");
        assert_eq!(refused.class(), ErrorClass::Terminal);
        assert_eq!(sim.eip(region, &id).expect("EIP").tags.len(), 1, "nothing applied");
    }
    let logged: Vec<Operation> = sim.calls().iter().map(|c| c.operation).filter(|op| op.is_mutating()).collect();
    assert!(logged.contains(&Operation::Tag) && logged.contains(&Operation::Untag));
}
