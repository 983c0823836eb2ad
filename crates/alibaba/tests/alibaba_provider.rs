//! `AlibabaProvider` against the simulator's Alibaba wire protocol, served in-process on a
//! loopback port: the full lifecycle with V3 and V1 signatures, batching and paging, error
//! classification, credential rotation and RRSA.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eip_alibaba::AlibabaProvider;
use eip_api::{AlibabaOptions, AlibabaSignatureVersion};
use eip_cloud::UnbindRequest;
use eip_cloud::{
    AllocateRequest, BindTarget, Blocker, ChargeType, CloudEip, CloudError, CloudProvider, EipPhase, ErrorClass, InstanceType,
    OWNER_NAME_TAG, OWNER_TAG, Operation, SecretData, SecretSource, StaticSecret,
};
use eip_simulator::{
    Faults, InstanceIds, Latencies, RateLimits, SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, SeedEip, Simulator, SimulatorConfig,
};

mod support;

use support::{keys, rrsa_secret, serve};

const REGION: &str = "cn-hangzhou";
const BOTH: [AlibabaSignatureVersion; 2] = [AlibabaSignatureVersion::V3, AlibabaSignatureVersion::V1];

fn provider_with(base: &str, version: AlibabaSignatureVersion, secrets: Arc<dyn SecretSource>) -> AlibabaProvider {
    let options = AlibabaOptions {
        signature_version: Some(version),
        sts_endpoint: Some(base.to_owned()),
    };
    AlibabaProvider::new(REGION, Some(base), Some(&options), secrets).expect("builds")
}

fn provider(base: &str, version: AlibabaSignatureVersion) -> AlibabaProvider {
    provider_with(base, version, Arc::new(StaticSecret(keys())))
}

fn ecs(id: &str) -> BindTarget {
    BindTarget {
        instance_type: InstanceType::EcsInstance,
        instance_id: id.to_owned(),
        private_ip_address: None,
    }
}

fn owned_request(token: &str, uid: &str) -> AllocateRequest {
    AllocateRequest {
        client_token: token.to_owned(),
        bandwidth_mbps: Some(10),
        internet_charge_type: Some("PayByTraffic".into()),
        isp: Some("BGP".into()),
        name: Some("web eip".into()),
        description: Some("made by the provider test".into()),
        tags: BTreeMap::from([
            (OWNER_TAG.to_owned(), uid.to_owned()),
            (OWNER_NAME_TAG.to_owned(), "default/web".to_owned()),
        ]),
        ..AllocateRequest::default()
    }
}

/// Describes `id` until `done` holds (bounded: 100 × 50 ms).
async fn wait_until(provider: &AlibabaProvider, id: &str, done: impl Fn(Option<&CloudEip>) -> bool) -> Option<CloudEip> {
    for _ in 0..100 {
        let found = provider.describe(&[id.to_owned()]).await.expect("describes");
        let eip = found.into_iter().find(|e| e.allocation_id == id);
        if done(eip.as_ref()) {
            return eip;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id} never reached the expected state");
}

#[tokio::test]
async fn full_lifecycle_with_v3_and_v1() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(21));
    sim.set_latencies(Latencies {
        associate: Duration::from_millis(200),
        unassociate: Duration::from_millis(200),
        release: Duration::from_millis(200),
        ..Latencies::default()
    });
    let base = serve(&sim).await;
    for (n, version) in BOTH.into_iter().enumerate() {
        let provider = provider(&base, version);
        assert_eq!(provider.name(), "alibaba");
        let uid = format!("uid-{n}");
        let instance = format!("i-sim-000{}", n + 1);

        let allocated = provider
            .allocate(&owned_request(&format!("alloc-{n}"), &uid))
            .await
            .expect("allocates");
        let eip = allocated.eip;
        assert!(eip.allocation_id.starts_with("eip-"), "{eip:?}");
        assert!(!allocated.receipt.request_id.is_empty());
        assert_eq!((eip.phase, eip.raw_state.as_str()), (EipPhase::Unbound, "Available"));
        assert_eq!(eip.owner_uid(), Some(uid.as_str()));
        assert_eq!(eip.tags.get(OWNER_NAME_TAG).map(String::as_str), Some("default/web"));
        assert_eq!((eip.bandwidth_mbps, eip.charge_type), (Some(10), ChargeType::PostPaid));

        // Same token: same EIP, nothing new.
        let again = provider
            .allocate(&owned_request(&format!("alloc-{n}"), &uid))
            .await
            .expect("replays");
        assert_eq!(again.eip.allocation_id, eip.allocation_id);
        assert_eq!(sim.eips(REGION).len(), 1, "the previous round released its EIP");

        let found = provider.find_by_owner(&uid).await.expect("finds");
        assert_eq!(
            found.iter().map(|e| e.allocation_id.as_str()).collect::<Vec<_>>(),
            vec![eip.allocation_id.as_str()]
        );
        assert!(provider.find_by_owner("nobody").await.expect("finds").is_empty());

        let receipt = provider
            .associate(&eip.allocation_id, &ecs(&instance), &format!("bind-{n}"))
            .await
            .expect("associates");
        assert!(!receipt.request_id.is_empty());
        let during = provider
            .describe(std::slice::from_ref(&eip.allocation_id))
            .await
            .expect("describes");
        assert_eq!(during[0].phase, EipPhase::Transitional(eip_cloud::Transition::Associating));
        let bound = wait_until(&provider, &eip.allocation_id, |e| e.is_some_and(|e| e.phase == EipPhase::Bound))
            .await
            .expect("bound");
        let target = bound.bound_to.clone().expect("bound to");
        assert!(target.satisfies(&ecs(&instance)), "{target:?}");
        assert!(target.private_ip_address.is_some());

        provider
            .unassociate(&UnbindRequest::new(
                eip.allocation_id.to_owned(),
                target.clone(),
                format!("unbind-{n}"),
            ))
            .await
            .expect("unassociates");
        wait_until(&provider, &eip.allocation_id, |e| e.is_some_and(|e| e.phase == EipPhase::Unbound)).await;

        provider
            .release(&eip.allocation_id, &format!("release-{n}"))
            .await
            .expect("releases");
        wait_until(&provider, &eip.allocation_id, |e| e.is_none()).await;
        // A second release is "gone": the goal is reached.
        let err = provider.release(&eip.allocation_id, "").await.expect_err("gone");
        assert_eq!((err.class(), err.code.as_str()), (ErrorClass::Gone, "InvalidAllocationId.NotFound"));
    }

    // Every call went through the simulator's model, with the reconciler's client tokens.
    let calls = sim.calls();
    let tokens = |op: Operation| -> Vec<String> {
        calls
            .iter()
            .filter(|c| c.operation == op)
            .filter_map(|c| c.client_token.clone())
            .collect()
    };
    assert_eq!(tokens(Operation::Allocate), vec!["alloc-0", "alloc-0", "alloc-1", "alloc-1"]);
    assert_eq!(tokens(Operation::Associate), vec!["bind-0", "bind-1"]);
    assert_eq!(tokens(Operation::Unassociate), vec!["unbind-0", "unbind-1"]);
    assert!(calls.iter().any(|c| c.operation == Operation::FindByOwner));
}

#[tokio::test]
async fn describe_batches_fifty_ids_and_find_by_owner_follows_pages() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(22));
    let base = serve(&sim).await;
    let direct = sim.provider(REGION).expect("region");
    let mut ids = Vec::new();
    for i in 0..120 {
        let request = AllocateRequest {
            client_token: format!("bulk-{i}"),
            tags: BTreeMap::from([(OWNER_TAG.to_owned(), "bulk-owner".to_owned())]),
            ..AllocateRequest::default()
        };
        ids.push(direct.allocate(&request).await.expect("allocates").eip.allocation_id);
    }
    for version in BOTH {
        let provider = provider(&base, version);
        let before = sim.last_seq();
        let mut wanted: Vec<String> = ids[..60].to_vec();
        wanted.extend((0..3).map(|i| format!("eip-missing{i}")));
        wanted.push(ids[0].clone()); // duplicates are asked once
        let found = provider.describe(&wanted).await.expect("describes");
        assert_eq!(found.len(), 60);
        let calls = sim.calls_since(before);
        assert_eq!(calls.iter().map(|c| c.allocation_ids.len()).collect::<Vec<_>>(), vec![50, 13]);
        assert!(calls.iter().all(|c| c.operation == Operation::Describe));

        let before = sim.last_seq();
        let owned = provider.find_by_owner("bulk-owner").await.expect("finds");
        assert_eq!(owned.len(), 120);
        let calls = sim.calls_since(before);
        assert_eq!(calls.len(), 2, "two pages of 100");
        assert!(calls.iter().all(|c| c.operation == Operation::FindByOwner));
        assert!(provider.describe(&[]).await.expect("nothing to describe").is_empty());

        // The whole region, one page a call (each passes the rate limit on its own).
        let before = sim.last_seq();
        let all = eip_cloud::list_all(&provider).await.expect("lists");
        let mut listed: Vec<String> = all.iter().map(|e| e.allocation_id.clone()).collect();
        listed.sort();
        let mut expected = ids.clone();
        expected.sort();
        assert_eq!(listed, expected);
        assert!(all.iter().all(|e| e.created_at.is_some()), "AllocationTime is read");
        let calls = sim.calls_since(before);
        assert_eq!(calls.len(), 2, "two pages of 100");
        assert!(calls.iter().all(|c| c.operation == Operation::List));
    }
}

#[tokio::test]
async fn errors_are_classified() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(23));
    let base = serve(&sim).await;
    for version in BOTH {
        let provider = provider(&base, version);

        // Prepaid EIPs cannot be released through the API.
        let prepaid = sim
            .seed_eip(
                REGION,
                SeedEip {
                    charge_type: ChargeType::PrePaid,
                    ..SeedEip::default()
                },
            )
            .expect("seeds");
        let described = provider
            .describe(std::slice::from_ref(&prepaid.allocation_id))
            .await
            .expect("describes");
        assert_eq!(described[0].charge_type, ChargeType::PrePaid);
        let err = provider.release(&prepaid.allocation_id, "").await.expect_err("prepaid");
        assert_eq!(
            (err.class(), err.blocker(), err.code.as_str(), err.operation),
            (
                ErrorClass::Terminal,
                Some(Blocker::PrepaidCannotRelease),
                "Forbidden.ChargeTypeIsPrepaid",
                Operation::Release
            )
        );
        assert!(err.request_id.is_some());

        // Unknown IDs are gone; describe omits them.
        let err = provider.release("eip-doesnotexist00000", "").await.expect_err("unknown");
        assert_eq!(err.class(), ErrorClass::Gone);
        let err = provider
            .unassociate(&UnbindRequest::new(
                "eip-doesnotexist00000".to_owned(),
                ecs("i-sim-0009").clone(),
                "t",
            ))
            .await
            .expect_err("unknown");
        assert_eq!(err.class(), ErrorClass::Gone);
        assert!(
            provider
                .describe(&["eip-doesnotexist00000".to_owned()])
                .await
                .expect("describes")
                .is_empty()
        );

        // Port and Vpn are refused before any call.
        let before = sim.last_seq();
        let port = BindTarget {
            instance_type: InstanceType::Port,
            instance_id: "port-1".into(),
            private_ip_address: None,
        };
        let err = provider.associate(&prepaid.allocation_id, &port, "t").await.expect_err("port");
        assert_eq!(
            (err.class(), err.blocker()),
            (ErrorClass::Terminal, Some(Blocker::InvalidBindingTarget))
        );
        assert!(err.message.contains("Port"), "{}", err.message);
        assert_eq!(sim.last_seq(), before, "no call was made");

        // Unknown instances are invalid binding targets.
        let eip = provider.allocate(&AllocateRequest::default()).await.expect("allocates").eip;
        let err = provider
            .associate(&eip.allocation_id, &ecs("i-nope"), "t")
            .await
            .expect_err("unknown instance");
        assert_eq!(
            (err.code.as_str(), err.blocker()),
            ("InvalidInstanceId.NotFound", Some(Blocker::InvalidBindingTarget))
        );

        // Not bound: Alibaba says IncorrectEipStatus (retryable).
        let err = provider
            .unassociate(&UnbindRequest::new(eip.allocation_id.to_owned(), ecs("i-sim-0005").clone(), ""))
            .await
            .expect_err("not bound");
        assert_eq!((err.code.as_str(), err.class()), ("IncorrectEipStatus", ErrorClass::Retryable));

        // Busy: TaskConflict (retryable).
        sim.set_latencies(Latencies {
            associate: Duration::from_secs(5),
            ..Latencies::default()
        });
        provider
            .associate(&eip.allocation_id, &ecs("i-sim-0006"), "")
            .await
            .expect("associates");
        let err = provider.release(&eip.allocation_id, "").await.expect_err("busy");
        assert_eq!((err.code.as_str(), err.class()), ("TaskConflict", ErrorClass::Retryable));
        sim.set_latencies(Latencies::default());
        sim.oob_release(REGION, &eip.allocation_id).expect("cleans up");

        // NAT gateway with SNAT entries: terminal without force, fine with it.
        sim.add_instances(REGION, InstanceType::Nat, InstanceIds::Ids(vec!["ngw-snat".into()]), 2)
            .expect("adds");
        let nat = provider.allocate(&AllocateRequest::default()).await.expect("allocates").eip;
        let gateway = BindTarget {
            instance_type: InstanceType::Nat,
            instance_id: "ngw-snat".into(),
            private_ip_address: None,
        };
        provider.associate(&nat.allocation_id, &gateway, "").await.expect("associates");
        let err = provider
            .unassociate(&UnbindRequest::new(nat.allocation_id.to_owned(), gateway.clone(), ""))
            .await
            .expect_err("entries");
        assert_eq!(
            (err.code.as_str(), err.blocker()),
            ("DependencyViolation.SnatEntry", Some(Blocker::NatEntriesBlockUnbind))
        );
        provider
            .unassociate(&UnbindRequest::new(nat.allocation_id.to_owned(), gateway.clone(), "").forced(true))
            .await
            .expect("forced");
        provider.release(&nat.allocation_id, "").await.expect("releases");

        // Locked EIPs read as Locked and refuse changes.
        let locked = provider.allocate(&AllocateRequest::default()).await.expect("allocates").eip;
        sim.oob_lock(REGION, &locked.allocation_id, true).expect("locks");
        let described = provider
            .describe(std::slice::from_ref(&locked.allocation_id))
            .await
            .expect("describes");
        assert_eq!(
            (described[0].phase, described[0].locks.clone()),
            (EipPhase::Locked, vec!["financial".to_owned()])
        );
        let err = provider.release(&locked.allocation_id, "").await.expect_err("locked");
        assert_eq!(err.blocker(), Some(Blocker::Locked));
        sim.oob_release(REGION, &locked.allocation_id).expect("cleans up");

        // Throttling: retryable, throttled, with the cloud's retry-after.
        sim.set_rate_limits(RateLimits {
            mutating_per_second: Some(0),
            describe_per_second: None,
            ..RateLimits::default()
        });
        let err = provider.allocate(&AllocateRequest::default()).await.expect_err("throttled");
        assert_eq!(
            (err.code.as_str(), err.class(), err.is_throttled(), err.retry_after()),
            ("Throttling.User", ErrorClass::Retryable, true, Some(Duration::from_secs(1)))
        );
        sim.set_rate_limits(RateLimits::default());

        // Injected outages: ServiceUnavailable (503), retryable.
        sim.set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        });
        let err = provider.describe(&["eip-x".to_owned()]).await.expect_err("unavailable");
        assert_eq!((err.code.as_str(), err.class()), ("ServiceUnavailable", ErrorClass::Retryable));
        sim.set_faults(Faults::default());

        sim.oob_release(REGION, &prepaid.allocation_id).expect("cleans up");
    }
}

#[tokio::test]
async fn bad_credentials_are_authentication_errors_without_secrets() {
    let sim = Simulator::new(SimulatorConfig::instant());
    let base = serve(&sim).await;
    let wrong_secret = "definitely-not-the-secret";
    for version in BOTH {
        let mut secret = keys();
        secret.insert("accessKeySecret".into(), wrong_secret.into());
        let provider = provider_with(&base, version, Arc::new(StaticSecret(secret)));
        let err = provider.describe(&["eip-x".to_owned()]).await.expect_err("bad signature");
        assert_eq!(
            (err.class(), err.blocker(), err.code.as_str()),
            (ErrorClass::Terminal, Some(Blocker::Authentication), "SignatureDoesNotMatch")
        );
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(wrong_secret) && !shown.contains(SIM_ACCESS_KEY_ID), "{shown}");
        assert!(shown.contains("string-to-sign omitted"), "{shown}");

        let mut unknown = keys();
        unknown.insert("accessKeyId".into(), "NOSUCHKEY".into());
        let provider = provider_with(&base, version, Arc::new(StaticSecret(unknown)));
        let err = provider.describe(&["eip-x".to_owned()]).await.expect_err("unknown key");
        assert_eq!(
            (err.code.as_str(), err.blocker()),
            ("InvalidAccessKeyId.NotFound", Some(Blocker::Authentication))
        );

        let provider = provider_with(&base, version, Arc::new(StaticSecret(SecretData::new())));
        let err = provider.describe(&["eip-x".to_owned()]).await.expect_err("no keys");
        assert_eq!((err.code.as_str(), err.operation), ("InvalidCredentials", Operation::Describe));
    }
}

/// A Secret whose content a test can change, like a rotated Kubernetes Secret.
struct Rotating(Mutex<SecretData>);

#[async_trait]
impl SecretSource for Rotating {
    async fn read(&self) -> Result<SecretData, CloudError> {
        Ok(self.0.lock().expect("lock").clone())
    }
}

#[tokio::test]
async fn rotated_credentials_apply_without_a_restart() {
    let sim = Simulator::new(SimulatorConfig::instant());
    let base = serve(&sim).await;
    let mut stale = keys();
    stale.insert("accessKeySecret".into(), "old-secret".into());
    let secret = Arc::new(Rotating(Mutex::new(stale)));
    let provider = provider_with(&base, AlibabaSignatureVersion::V3, secret.clone());
    assert!(provider.describe(&["eip-x".to_owned()]).await.is_err());
    *secret.0.lock().expect("lock") = keys();
    provider.describe(&["eip-x".to_owned()]).await.expect("rotated");
}

#[tokio::test]
async fn connection_failures_are_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let provider = provider(&base, AlibabaSignatureVersion::V3);
    let err = provider.describe(&["eip-x".to_owned()]).await.expect_err("refused");
    assert_eq!((err.code.as_str(), err.class()), ("ConnectionError", ErrorClass::Retryable));
    assert!(!err.message.contains(SIM_ACCESS_KEY_SECRET));
}

#[tokio::test]
async fn rrsa_assumes_a_role_with_the_oidc_token() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(24));
    let base = serve(&sim).await;
    let (rrsa, token) = rrsa_secret();
    for version in BOTH {
        let provider = provider_with(&base, version, Arc::new(StaticSecret(rrsa.clone())));
        let eip = provider
            .allocate(&owned_request(&format!("rrsa-{version:?}"), "rrsa-owner"))
            .await
            .expect("allocates with temporary keys")
            .eip;
        provider.release(&eip.allocation_id, "").await.expect("releases");
    }

    // The token file is re-read when keys are needed: an empty one is an authentication error.
    std::fs::write(token.path(), "").expect("empties");
    let provider = provider_with(&base, AlibabaSignatureVersion::V3, Arc::new(StaticSecret(rrsa)));
    let err = provider.describe(&["eip-x".to_owned()]).await.expect_err("empty token");
    assert_eq!((err.class(), err.blocker()), (ErrorClass::Terminal, Some(Blocker::Authentication)));
}

async fn described(provider: &AlibabaProvider, id: &str) -> CloudEip {
    provider.describe(&[id.to_owned()]).await.expect("describes").pop().expect("exists")
}

/// Adoption's claim over the wire: `TagResources` and `UnTagResources` (`ResourceType=EIP`), read
/// back by Describe; the last writer's value is kept; unknown EIPs are gone.
#[tokio::test]
async fn claim_tags_and_untags_an_adopted_eip_with_v3_and_v1() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(23));
    let base = serve(&sim).await;
    let claim = |uid: &str| {
        BTreeMap::from([
            (OWNER_TAG.to_owned(), uid.to_owned()),
            (OWNER_NAME_TAG.to_owned(), format!("default/{uid}")),
        ])
    };
    for version in BOTH {
        let provider = provider(&base, version);
        let seeded = SeedEip {
            tags: BTreeMap::from([("team".to_owned(), "a".to_owned())]),
            ..SeedEip::default()
        };
        let id = sim.seed_eip(REGION, seeded).expect("seeds").allocation_id;
        let receipt = provider.tag(&id, &claim("uid-a")).await.expect("tags");
        assert!(!receipt.request_id.is_empty());
        let eip = described(&provider, &id).await;
        assert_eq!((eip.owner_uid(), eip.owner_name()), (Some("uid-a"), Some("default/uid-a")));
        assert_eq!(eip.tags.get("team").map(String::as_str), Some("a"));
        assert_eq!(provider.find_by_owner("uid-a").await.expect("finds").len(), 1);

        provider.tag(&id, &claim("uid-b")).await.expect("tags");
        assert_eq!(described(&provider, &id).await.owner_uid(), Some("uid-b"), "the last writer wins");

        provider
            .untag(&id, &[OWNER_TAG.to_owned(), OWNER_NAME_TAG.to_owned()])
            .await
            .expect("untags");
        assert_eq!(
            described(&provider, &id).await.tags,
            BTreeMap::from([("team".to_owned(), "a".to_owned())])
        );
        assert!(provider.find_by_owner("uid-b").await.expect("finds").is_empty());

        for err in [
            provider.tag("eip-doesnotexist000000", &claim("uid-a")).await.expect_err("unknown"),
            provider
                .untag("eip-doesnotexist000000", &[OWNER_TAG.to_owned()])
                .await
                .expect_err("unknown"),
        ] {
            assert_eq!(
                (err.class(), err.code.as_str()),
                (ErrorClass::Gone, "InvalidResourceId.NotFound"),
                "{err:?}"
            );
            assert!(err.request_id.is_some());
        }
    }
    let tagging: Vec<Operation> = sim
        .calls()
        .into_iter()
        .filter(|c| c.outcome == eip_simulator::CallOutcome::Ok)
        .map(|c| c.operation)
        .filter(|op| matches!(op, Operation::Tag | Operation::Untag))
        .collect();
    assert_eq!(
        tagging,
        [Operation::Tag, Operation::Tag, Operation::Untag].repeat(2),
        "each call logged once, as Tag or Untag"
    );
}
