//! What the clouds refuse, in each flavour's words and class.

use super::*;

#[tokio::test(start_paused = true)]
async fn release_while_bound_is_refused() {
    let sim = sim(0);
    for (region, code, class) in [
        (ALI, "IncorrectEipStatus", ErrorClass::Retryable),
        (OTC, "VPC.0517", ErrorClass::Terminal),
    ] {
        let provider = sim.provider(region).expect("region");
        let eip = allocate(&provider).await;
        bind(&provider, &eip, &ecs("i-sim-0005")).await;
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
        bind(&provider, &eip, &nat).await;
        let err = provider.unassociate(&unbind(&eip, &nat)).await.expect_err("NAT entries");
        assert_eq!((err.code.as_str(), err.blocker()), (code, Some(Blocker::NatEntriesBlockUnbind)));
        provider.unassociate(&unbind(&eip, &nat).forced(true)).await.expect("forced");
        assert_eq!(sim.eip(region, &eip.allocation_id).map(|e| e.phase), Some(EipPhase::Unbound));
    }
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

        bind(&provider, &a, &ecs("i-sim-0010")).await;
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
        bind(&provider, &c, &target(InstanceType::IpAddress, "192.168.7.7")).await;
    }
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
