//! What the cloud refuses, and how each refusal is classified.

use std::time::Duration;

use eip_cloud::{AllocateRequest, Blocker, CloudProvider, EipPhase, ErrorClass, InstanceType, UnbindRequest};
use eip_otc::OtcCloud;
use eip_simulator::{RateLimits, SIM_ACCESS_KEY_ID, SeedEip, SimulatorConfig};

use super::support::*;

#[tokio::test]
async fn without_v3_load_balancers_are_refused_clearly() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let nl = with_project(&cloud, OtcCloud::OpenTelekomCloud, "eu-nl", EU_NL_PROJECT);
        assert!(!nl.v3_bindings, "eu-nl lacks v3 by default");
        let provider = provider(nl, aksk());
        let id = allocate_down(&provider, &AllocateRequest::default()).await.allocation_id;
        let err = provider
            .associate(&id, &target(InstanceType::SlbInstance, "lb-sim-0001"), "")
            .await
            .expect_err("needs v3");
        assert_eq!(
            (err.class(), err.blocker()),
            (ErrorClass::Terminal, Some(Blocker::InvalidBindingTarget))
        );

        // Bound to a load balancer out of band: v1 shows ELB without a port.
        let seeded = cloud
            .sim
            .seed_eip(
                "eu-nl",
                SeedEip {
                    bound_to: Some(target(InstanceType::SlbInstance, "lb-sim-0002")),
                    ..SeedEip::default()
                },
            )
            .expect("seeds");
        let eip = describe(&provider, &seeded.allocation_id).await.expect("exists");
        assert_eq!((eip.raw_state.as_str(), eip.phase), ("ELB", EipPhase::Bound));
        let current = eip.bound_to.expect("a load balancer of unknown ID");
        assert_eq!(current.instance_type, InstanceType::SlbInstance);
        let err = provider
            .unassociate(&UnbindRequest::new(seeded.allocation_id.to_owned(), current.clone(), ""))
            .await
            .expect_err("no v3 here");
        assert_eq!(
            (err.code.as_str(), err.class(), err.blocker()),
            ("V3BindingsUnavailable", ErrorClass::Terminal, Some(Blocker::Other))
        );
        assert!(err.message.contains("v3"), "{}", err.message);

        // Forcing v3 where the region lacks it: the gateway says the API does not exist.
        let mut forced = with_project(&cloud, OtcCloud::OpenTelekomCloud, "eu-nl", EU_NL_PROJECT);
        forced.v3_bindings = true;
        let forced = self::provider(forced, aksk());
        let err = forced
            .associate(&id, &target(InstanceType::SlbInstance, "lb-sim-0001"), "")
            .await
            .expect_err("no such API");
        assert_eq!((err.code.as_str(), err.class()), ("APIGW.0101", ErrorClass::Terminal));
    })
    .await;
}

#[tokio::test]
async fn errors_are_classified() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let provider = otc(&cloud);
        let a = allocate_down(&provider, &AllocateRequest::default()).await.allocation_id;

        // Bound on release: VPC.0517, terminal.
        provider
            .associate(&a, &target(InstanceType::Port, "port-sim-0003"), "")
            .await
            .expect("binds");
        let err = provider.release(&a, "").await.expect_err("bound");
        assert_eq!(
            (err.code.as_str(), err.class(), err.blocker()),
            ("VPC.0517", ErrorClass::Terminal, Some(Blocker::Other))
        );
        assert!(err.request_id.is_some());

        // The port is taken; unknown ports; servers are not ports.
        let b = allocate_down(&provider, &AllocateRequest::default()).await.allocation_id;
        let refusals = [
            ("taken", target(InstanceType::Port, "port-sim-0003"), "VPC.0511"),
            ("unknown", target(InstanceType::Port, "port-nope"), "VPC.0514"),
            (
                "a server the project does not have has no port",
                target(InstanceType::EcsInstance, "srv-nope"),
                "ServerPortNotFound",
            ),
            (
                "a network interface is not a port",
                target(InstanceType::NetworkInterface, "eni-sim-0001"),
                "UnsupportedInstanceType",
            ),
        ];
        let mut messages = Vec::new();
        for (what, wanted, code) in refusals {
            let err = provider.associate(&b, &wanted, "").await.expect_err(what);
            assert_eq!(
                (err.code.as_str(), err.class(), err.blocker()),
                (code, ErrorClass::Terminal, Some(Blocker::InvalidBindingTarget)),
                "{what}"
            );
            messages.push(err.message);
        }
        assert!(messages[2].contains("srv-nope"), "{}", messages[2]);
        assert!(messages[3].contains("Port"), "{}", messages[3]);

        // Not found: describe omits it, the mutations are Gone.
        assert!(describe(&provider, MISSING).await.is_none());
        let err = provider
            .associate(MISSING, &target(InstanceType::Port, "port-sim-0004"), "")
            .await
            .expect_err("gone");
        assert_eq!((err.code.as_str(), err.class()), ("VPC.0504", ErrorClass::Gone));

        // Locked.
        cloud.sim.oob_lock(EU_DE, &b, true).expect("locks");
        let eip = describe(&provider, &b).await.expect("exists");
        assert_eq!((eip.raw_state.as_str(), eip.phase), ("FREEZED", EipPhase::Locked));
        let err = provider.release(&b, "").await.expect_err("locked");
        assert_eq!((err.code.as_str(), err.blocker()), ("VPC.0509", Some(Blocker::Locked)));
        cloud.sim.oob_lock(EU_DE, &b, false).expect("unlocks");

        // Invalid parameters and prepaid.
        let err = provider
            .allocate(&AllocateRequest {
                bandwidth_mbps: Some(5000),
                ..AllocateRequest::default()
            })
            .await
            .expect_err("too wide");
        assert_eq!((err.code.as_str(), err.blocker()), ("VPC.0501", Some(Blocker::InvalidRequest)));
        let err = provider
            .allocate(&AllocateRequest {
                isp: Some("5_gray".to_owned()),
                ..AllocateRequest::default()
            })
            .await
            .expect_err("no new 5_gray in eu-de");
        assert_eq!(err.code, "VPC.0501");
        let prepaid = cloud
            .sim
            .seed_eip(
                EU_DE,
                SeedEip {
                    charge_type: eip_cloud::ChargeType::PrePaid,
                    ..SeedEip::default()
                },
            )
            .expect("seeds");
        let eip = describe(&provider, &prepaid.allocation_id).await.expect("exists");
        assert_eq!(eip.charge_type, eip_cloud::ChargeType::PrePaid);
        let err = provider.release(&prepaid.allocation_id, "").await.expect_err("prepaid");
        assert_eq!(err.blocker(), Some(Blocker::PrepaidCannotRelease));

        // Throttled: retryable, with Retry-After.
        cloud.sim.set_rate_limits(RateLimits {
            mutating_per_second: None,
            describe_per_second: Some(1),
            ..RateLimits::default()
        });
        let ids = vec![a.clone()];
        let _ = provider.describe(&ids).await;
        let err = provider.describe(&ids).await.expect_err("throttled");
        assert!(err.is_throttled());
        assert_eq!((err.code.as_str(), err.class()), ("APIGW.0308", ErrorClass::Retryable));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
        cloud.sim.set_rate_limits(RateLimits::default());

        // Bad credentials: terminal, and the secret is nowhere in the error.
        let wrong_secret = "not-the-secret-key-0000";
        let wrong = self::provider(
            eu_de(&cloud, OtcCloud::OpenTelekomCloud),
            secret(&[("accessKey", SIM_ACCESS_KEY_ID), ("secretKey", wrong_secret)]),
        );
        let bad_password = self::provider(
            settings(&cloud, OtcCloud::HuaweiCloud, EU_DE),
            secret(&[("username", "sim-user"), ("password", wrong_secret), ("domainName", "sim-domain")]),
        );
        for (what, refused, code) in [("AK/SK", wrong, Some("APIGW.0301")), ("password", bad_password, None)] {
            let err = refused.describe(&ids).await.expect_err(what);
            assert_eq!(
                (err.class(), err.blocker()),
                (ErrorClass::Terminal, Some(Blocker::Authentication)),
                "{what}"
            );
            if let Some(code) = code {
                assert_eq!(err.code, code, "{what}");
            }
            assert!(!format!("{err:?}").contains(wrong_secret), "{what}");
        }
        let empty = self::provider(settings(&cloud, OtcCloud::HuaweiCloud, EU_DE), secret(&[]));
        let err = empty.describe(&ids).await.expect_err("no credentials");
        assert_eq!(err.blocker(), Some(Blocker::Authentication));
    })
    .await;
}

#[tokio::test]
async fn busy_while_pending() {
    with_timeout(async {
        let cloud = start(latencies(400)).await;
        let provider = otc(&cloud);
        let id = allocate_id(&provider).await;
        let err = provider.release(&id, "").await.expect_err("still PENDING_CREATE");
        assert_eq!((err.code.as_str(), err.class()), ("VPC.0512", ErrorClass::Retryable));
        let eip = describe(&provider, &id).await.expect("exists");
        assert_eq!(eip.raw_state, "PENDING_CREATE");
        assert!(matches!(eip.phase, EipPhase::Transitional(_)));
    })
    .await;
}
