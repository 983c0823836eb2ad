//! `AwsProvider` against the simulator's EC2 front end: the lifecycle, crash safety without a
//! client token, the refusals EC2 answers and how they are classified, batching, credentials.

use std::collections::BTreeMap;
use std::sync::Arc;

use eip_api::AwsOptions;
use eip_aws::AwsProvider;
use eip_cloud::{
    AllocateRequest, BindTarget, Blocker, CloudProvider, EipPhase, ErrorClass, InstanceType, OWNER_NAME_TAG, OWNER_TAG, Operation,
    SecretData, StaticSecret, UnbindRequest,
};
use eip_simulator::{CallOutcome, RateLimits, SeedEip, Simulator, SimulatorConfig};

mod support;

use support::{REGION, keys, provider, serve};

fn owned(uid: &str) -> AllocateRequest {
    AllocateRequest {
        client_token: format!("token-{uid}"),
        tags: BTreeMap::from([
            (OWNER_TAG.to_owned(), uid.to_owned()),
            (OWNER_NAME_TAG.to_owned(), format!("default/{uid}")),
        ]),
        ..AllocateRequest::default()
    }
}

fn instance(id: &str) -> BindTarget {
    BindTarget {
        instance_type: InstanceType::EcsInstance,
        instance_id: id.to_owned(),
        private_ip_address: None,
    }
}

#[tokio::test]
async fn the_whole_lifecycle_runs_on_the_ec2_wire() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(3));
    let base = serve(&sim).await;
    let aws = provider(&base, keys());

    let allocated = aws.allocate(&owned("uid-1")).await.expect("allocates");
    let id = allocated.eip.allocation_id.clone();
    assert!(id.starts_with("eipalloc-"), "{id}");
    assert_eq!(
        (allocated.eip.phase, allocated.eip.raw_state.as_str()),
        (EipPhase::Unbound, "unassociated")
    );
    // The tags went with the allocation: the simulator holds them.
    assert_eq!(sim.eip(REGION, &id).expect("exists").owner_uid(), Some("uid-1"));

    let found = aws.find_by_owner("uid-1").await.expect("finds");
    assert_eq!(found.iter().map(|e| e.allocation_id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    assert!(aws.find_by_owner("uid-2").await.expect("finds").is_empty());

    aws.associate(&id, &instance("i-sim-0001"), "t").await.expect("associates");
    let bound = aws.describe(std::slice::from_ref(&id)).await.expect("describes").remove(0);
    assert_eq!((bound.phase, bound.raw_state.as_str()), (EipPhase::Bound, "associated"));
    let target = bound.bound_to.clone().expect("bound");
    assert!(target.satisfies(&instance("i-sim-0001")), "{target}");
    let handle = bound.binding_handle.clone().expect("an association ID");
    assert!(handle.as_str().starts_with("eipassoc-"));

    // EC2 refuses to release an associated address: terminal, never gone.
    let err = aws.release(&id, "t").await.expect_err("in use");
    assert_eq!((err.code.as_str(), err.blocker()), ("InvalidIPAddress.InUse", Some(Blocker::Other)));

    let unbind = UnbindRequest {
        handle: Some(handle.clone()),
        ..UnbindRequest::new(&id, target, "t")
    };
    aws.unassociate(&unbind).await.expect("disassociates");
    assert_eq!(
        aws.describe(std::slice::from_ref(&id)).await.expect("describes")[0].phase,
        EipPhase::Unbound
    );
    // The old association is gone: retryable (the next look shows the binding as it is).
    let err = aws.unassociate(&unbind).await.expect_err("no such association");
    assert_eq!(
        (err.code.as_str(), err.class()),
        ("InvalidAssociationID.NotFound", ErrorClass::Retryable)
    );

    aws.release(&id, "t").await.expect("releases");
    assert!(aws.describe(std::slice::from_ref(&id)).await.expect("describes").is_empty());
    let err = aws.release(&id, "t").await.expect_err("released");
    assert_eq!((err.code.as_str(), err.class()), ("InvalidAllocationID.NotFound", ErrorClass::Gone));

    // Every call went through the model: one log entry each, in order.
    let operations: Vec<Operation> = sim.calls().iter().map(|c| c.operation).collect();
    assert_eq!(
        operations,
        [
            Operation::Allocate,
            Operation::FindByOwner,
            Operation::FindByOwner,
            Operation::Associate,
            Operation::Describe,
            Operation::Release,
            Operation::Unassociate,
            Operation::Describe,
            Operation::Release,
            Operation::Describe,
            Operation::Release,
        ]
    );
}

#[tokio::test]
async fn a_crash_after_allocating_is_repaired_by_the_owner_tag_not_a_token() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(4));
    let base = serve(&sim).await;
    assert!(!provider(&base, keys()).capabilities().idempotent_allocation);
    // The first operator allocates and "crashes" before recording the allocation ID.
    let first = provider(&base, keys()).allocate(&owned("uid-crash")).await.expect("allocates");
    // A second one (a fresh provider, as after a restart) looks by owner before allocating.
    let restarted = provider(&base, keys());
    let found = restarted.find_by_owner("uid-crash").await.expect("finds");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].allocation_id, first.eip.allocation_id);
    // AllocateAddress takes no ClientToken: allocating again would make a second address.
    let second = restarted.allocate(&owned("uid-crash")).await.expect("allocates");
    assert_ne!(second.eip.allocation_id, first.eip.allocation_id);
}

#[tokio::test]
async fn refusals_are_classified_as_ec2_words_them() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(5));
    let base = serve(&sim).await;
    let aws = provider(&base, keys());
    let id = aws.allocate(&owned("uid-r")).await.expect("allocates").eip.allocation_id;

    let err = aws.associate(&id, &instance("i-does-not-exist"), "").await.expect_err("unknown");
    assert_eq!(
        (err.code.as_str(), err.blocker()),
        ("InvalidInstanceID.NotFound", Some(Blocker::InvalidBindingTarget))
    );
    let eni = BindTarget {
        instance_type: InstanceType::NetworkInterface,
        instance_id: "eni-nope".into(),
        private_ip_address: None,
    };
    let err = aws.associate(&id, &eni, "").await.expect_err("unknown");
    assert_eq!(err.code, "InvalidNetworkInterfaceID.NotFound");
    let nat = BindTarget {
        instance_type: InstanceType::Nat,
        ..instance("ngw-1")
    };
    assert_eq!(
        aws.associate(&id, &nat, "").await.expect_err("not EC2").blocker(),
        Some(Blocker::InvalidBindingTarget)
    );

    // An instance that holds an address already, with AllowReassociation=false.
    let other = aws.allocate(&owned("uid-s")).await.expect("allocates").eip.allocation_id;
    aws.associate(&id, &instance("i-sim-0002"), "").await.expect("associates");
    let err = aws.associate(&other, &instance("i-sim-0002"), "").await.expect_err("taken");
    assert_eq!(
        (err.code.as_str(), err.blocker()),
        ("Resource.AlreadyAssociated", Some(Blocker::InvalidBindingTarget))
    );

    let err = aws
        .tag("eipalloc-0000000000000dead", &BTreeMap::from([("k".into(), "v".into())]))
        .await
        .expect_err("unknown");
    assert_eq!(err.class(), ErrorClass::Gone);

    let locked = sim
        .seed_eip(
            REGION,
            SeedEip {
                locked: true,
                ..SeedEip::default()
            },
        )
        .expect("seeds");
    let err = aws.release(&locked.allocation_id, "").await.expect_err("locked");
    assert_eq!((err.code.as_str(), err.blocker()), ("InvalidAddress.Locked", Some(Blocker::Locked)));

    sim.set_rate_limits(RateLimits {
        mutating_per_second: Some(0),
        describe_per_second: None,
        ..RateLimits::default()
    });
    let err = aws.release(&other, "").await.expect_err("throttled");
    assert_eq!((err.code.as_str(), err.is_throttled()), ("RequestLimitExceeded", true));
}

#[tokio::test]
async fn describes_are_batched_by_fifty_and_tags_are_written_and_removed() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(6));
    let base = serve(&sim).await;
    let aws = provider(&base, keys());
    let mut ids = Vec::new();
    for n in 0..120 {
        ids.push(
            aws.allocate(&owned(&format!("uid-{n}")))
                .await
                .expect("allocates")
                .eip
                .allocation_id,
        );
    }
    ids.push("eipalloc-00000000000000bad".into());
    let since = sim.last_seq();
    let found = aws.describe(&ids).await.expect("describes");
    assert_eq!(found.len(), 120);
    let calls = sim.calls_since(since);
    assert_eq!(calls.iter().map(|c| c.allocation_ids.len()).collect::<Vec<_>>(), [50, 50, 21]);
    assert!(
        calls
            .iter()
            .all(|c| c.operation == Operation::Describe && c.outcome == CallOutcome::Ok)
    );

    let id = &ids[0];
    aws.tag(id, &BTreeMap::from([("team".into(), "net".into())])).await.expect("tags");
    assert_eq!(
        sim.eip(REGION, id).expect("exists").tags.get("team").map(String::as_str),
        Some("net")
    );
    aws.untag(id, &["team".to_owned()]).await.expect("untags");
    assert!(!sim.eip(REGION, id).expect("exists").tags.contains_key("team"));
}

#[tokio::test]
async fn wrong_keys_are_an_authentication_failure_without_the_secret() {
    let sim = Simulator::new(SimulatorConfig::instant());
    let base = serve(&sim).await;
    let wrong = SecretData::from(BTreeMap::from([
        ("accessKeyId".to_owned(), eip_simulator::SIM_ACCESS_KEY_ID.to_owned()),
        ("secretAccessKey".to_owned(), "not-the-secret-0123456789".to_owned()),
    ]));
    let err = provider(&base, wrong)
        .describe(&["eipalloc-1".to_owned()])
        .await
        .expect_err("refused");
    assert_eq!(
        (err.code.as_str(), err.blocker()),
        ("SignatureDoesNotMatch", Some(Blocker::Authentication))
    );
    assert!(!err.to_string().contains("not-the-secret"), "{err}");
    let unknown = SecretData::from(BTreeMap::from([
        ("accessKeyId".to_owned(), "AKIAUNKNOWN".to_owned()),
        ("secretAccessKey".to_owned(), "x".to_owned()),
    ]));
    let err = provider(&base, unknown)
        .describe(&["eipalloc-1".to_owned()])
        .await
        .expect_err("refused");
    assert_eq!((err.code.as_str(), err.blocker()), ("AuthFailure", Some(Blocker::Authentication)));
}

#[tokio::test]
async fn a_web_identity_is_exchanged_at_sts_and_its_keys_sign_the_calls() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(8));
    let base = serve(&sim).await;
    let token = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(token.path(), "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzaW0ifQ.c2ln\n").expect("writes");
    let secret = SecretData::from(BTreeMap::from([
        ("roleArn".to_owned(), "arn:aws:iam::123456789012:role/eip-operator".to_owned()),
        ("webIdentityTokenFile".to_owned(), token.path().to_string_lossy().into_owned()),
    ]));
    let options = AwsOptions {
        sts_endpoint: Some(format!("{base}/aws")),
        ..AwsOptions::default()
    };
    let aws = AwsProvider::new(
        REGION,
        Some(&format!("{base}/aws")),
        Some(&options),
        Arc::new(StaticSecret(secret)),
        None,
    )
    .expect("builds");
    let id = aws
        .allocate(&owned("uid-w"))
        .await
        .expect("allocates with temporary keys")
        .eip
        .allocation_id;
    assert_eq!(aws.describe(std::slice::from_ref(&id)).await.expect("describes").len(), 1);

    // A token file that is not a JWT: STS refuses it, terminally, and the token is not shown.
    std::fs::write(token.path(), "not-a-jwt-secret-token").expect("writes");
    let fresh = AwsProvider::new(
        REGION,
        Some(&format!("{base}/aws")),
        Some(&options),
        Arc::new(StaticSecret(SecretData::from(BTreeMap::from([
            ("roleArn".to_owned(), "arn:aws:iam::123456789012:role/eip-operator".to_owned()),
            ("webIdentityTokenFile".to_owned(), token.path().to_string_lossy().into_owned()),
        ])))),
        None,
    )
    .expect("builds");
    let err = fresh.describe(std::slice::from_ref(&id)).await.expect_err("refused");
    assert_eq!(
        (err.code.as_str(), err.blocker()),
        ("InvalidIdentityToken", Some(Blocker::Authentication))
    );
    assert!(!err.to_string().contains("not-a-jwt-secret-token"), "{err}");
}

/// A Secret the test rotates while the provider runs.
struct RotatingSecret(std::sync::Mutex<SecretData>);

#[async_trait::async_trait]
impl eip_cloud::SecretSource for RotatingSecret {
    async fn read(&self) -> Result<SecretData, eip_cloud::CloudError> {
        Ok(self.0.lock().expect("lock").clone())
    }
}

#[tokio::test]
async fn a_rotated_secret_takes_effect_at_the_next_call() {
    let sim = Simulator::new(SimulatorConfig::instant());
    let base = serve(&sim).await;
    let wrong = SecretData::from(BTreeMap::from([
        ("accessKeyId".to_owned(), eip_simulator::SIM_ACCESS_KEY_ID.to_owned()),
        ("secretAccessKey".to_owned(), "an-old-secret-0123456789".to_owned()),
    ]));
    let secret = Arc::new(RotatingSecret(std::sync::Mutex::new(wrong)));
    let aws = AwsProvider::new(REGION, Some(&format!("{base}/aws")), None, secret.clone(), None).expect("builds");
    let err = aws.find_by_owner("uid").await.expect_err("old secret");
    assert_eq!(err.blocker(), Some(Blocker::Authentication));
    *secret.0.lock().expect("lock") = keys();
    assert!(aws.find_by_owner("uid").await.expect("the rotated secret works").is_empty());
}

#[tokio::test]
async fn the_account_is_listed_in_one_page_and_a_cursor_is_refused() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(9));
    let base = serve(&sim).await;
    let aws = provider(&base, keys());
    let mut made: Vec<String> = Vec::new();
    for uid in ["uid-l1", "uid-l2", "uid-l3"] {
        made.push(aws.allocate(&owned(uid)).await.expect("allocates").eip.allocation_id);
    }
    let foreign = sim.seed_eip(REGION, SeedEip::default()).expect("seed").allocation_id;
    made.push(foreign);

    let page = aws.list_page(None).await.expect("lists");
    assert_eq!(page.next, None, "EC2 does not page DescribeAddresses");
    let mut listed: Vec<String> = page.eips.iter().map(|e| e.allocation_id.clone()).collect();
    listed.sort();
    made.sort();
    assert_eq!(listed, made, "every address of the region, the operator's or not");
    assert!(page.eips.iter().any(|e| e.owner_uid() == Some("uid-l2")));
    let all = eip_cloud::list_all(&aws).await.expect("walks");
    assert_eq!(all.len(), 4);
    assert_eq!(sim.calls().last().map(|c| c.operation), Some(Operation::List));

    let err = aws.list_page(Some("2")).await.expect_err("no page follows");
    assert_eq!(err.class(), ErrorClass::Terminal);
}
