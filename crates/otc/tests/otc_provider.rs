//! `OtcProvider` against the simulator's OTC / Huawei Cloud wire protocol, in process on
//! 127.0.0.1: AK/SK and IAM-token authentication, the port and load-balancer lifecycles, error
//! classification, and batch coalescing.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use eip_cloud::UnbindRequest;
use eip_cloud::{
    AllocateRequest, BindTarget, Blocker, CloudEip, CloudProvider, EipPhase, ErrorClass, InstanceType, OWNER_NAME_TAG, OWNER_TAG,
    Operation, StaticSecret,
};
use eip_otc::{OtcCloud, OtcProvider, OtcSettings};
use eip_simulator::{
    CallOutcome, Latencies, RateLimits, SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, SeedEip, Simulator, SimulatorConfig, server,
};

const EU_DE: &str = "eu-de";
const EU_DE_PROJECT: &str = "00000000000000000000000051510000";

struct Cloud {
    sim: Simulator,
    addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(config: SimulatorConfig) -> Cloud {
    let sim = Simulator::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("has an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = server::router(sim.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Cloud { sim, addr, _stop: stop }
}

fn latencies(ms: u64) -> SimulatorConfig {
    let latency = Duration::from_millis(ms);
    SimulatorConfig {
        latencies: Latencies {
            allocate: latency,
            associate: latency,
            unassociate: latency,
            release: latency,
        },
        ..SimulatorConfig::instant()
    }
}

fn aksk() -> Arc<StaticSecret> {
    Arc::new(StaticSecret(
        BTreeMap::from([
            ("accessKey".to_owned(), SIM_ACCESS_KEY_ID.to_owned()),
            ("secretKey".to_owned(), SIM_ACCESS_KEY_SECRET.to_owned()),
        ])
        .into(),
    ))
}

fn password() -> Arc<StaticSecret> {
    Arc::new(StaticSecret(
        BTreeMap::from([
            ("username".to_owned(), "sim-user".to_owned()),
            ("password".to_owned(), "sim-password".to_owned()),
            ("domainName".to_owned(), "sim-domain".to_owned()),
        ])
        .into(),
    ))
}

fn settings(cloud: &Cloud, kind: OtcCloud, region: &str) -> OtcSettings {
    // IAM is served on the same listener; the provider finds it next to the endpoint.
    OtcSettings::new(kind, region, Some(&format!("http://{}", cloud.addr)), None)
}

fn provider(settings: OtcSettings, secret: Arc<StaticSecret>) -> OtcProvider {
    OtcProvider::new(settings, secret).expect("builds")
}

/// OTC eu-de with AK/SK and a configured project ID.
fn otc(cloud: &Cloud) -> OtcProvider {
    let mut de = settings(cloud, OtcCloud::OpenTelekomCloud, EU_DE);
    de.project_id = Some(EU_DE_PROJECT.to_owned());
    provider(de, aksk())
}

fn target(instance_type: InstanceType, id: &str) -> BindTarget {
    BindTarget {
        instance_type,
        instance_id: id.to_owned(),
        private_ip_address: None,
    }
}

fn owned(uid: &str) -> AllocateRequest {
    AllocateRequest {
        client_token: uid.to_owned(),
        bandwidth_mbps: Some(10),
        internet_charge_type: Some("PayByTraffic".to_owned()),
        name: Some("web".to_owned()),
        tags: BTreeMap::from([
            (OWNER_TAG.to_owned(), uid.to_owned()),
            (OWNER_NAME_TAG.to_owned(), "team-a/web".to_owned()),
            ("app.kubernetes.io/name".to_owned(), "web".to_owned()),
        ]),
        ..AllocateRequest::default()
    }
}

async fn describe(provider: &OtcProvider, id: &str) -> Option<CloudEip> {
    provider.describe(&[id.to_owned()]).await.expect("describes").into_iter().next()
}

/// Describes until `done` holds (bounded: 100 × 30 ms).
async fn wait_for(provider: &OtcProvider, id: &str, done: impl Fn(Option<&CloudEip>) -> bool) -> Option<CloudEip> {
    for _ in 0..100 {
        let eip = describe(provider, id).await;
        if done(eip.as_ref()) {
            return eip;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("EIP {id} did not reach the expected state in time");
}

async fn with_timeout<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .expect("finishes in time")
}

/// Allocates and waits until the EIP is `DOWN`.
async fn allocate_down(provider: &OtcProvider, request: &AllocateRequest) -> CloudEip {
    let eip = provider.allocate(request).await.expect("allocates").eip;
    wait_for(provider, &eip.allocation_id, |e| e.is_some_and(|e| e.raw_state == "DOWN")).await;
    eip
}

async fn lifecycle_with_a_port(provider: &OtcProvider, uid: &str, port: &str) {
    let allocated = provider.allocate(&owned(uid)).await.expect("allocates");
    let id = allocated.eip.allocation_id.clone();
    assert!(!allocated.receipt.request_id.is_empty());
    assert_eq!(allocated.eip.owner_uid(), Some(uid));
    assert_eq!(allocated.eip.bandwidth_mbps, Some(10));

    // A crash right after allocating: the owner finds it again.
    let found = provider.find_by_owner(uid).await.expect("finds");
    assert_eq!(
        found.iter().map(|e| e.allocation_id.as_str()).collect::<Vec<_>>(),
        vec![id.as_str()]
    );
    assert_eq!(found[0].tags.get(OWNER_NAME_TAG).map(String::as_str), Some("team-a/web"));
    assert!(provider.find_by_owner("someone-else").await.expect("finds").is_empty());

    // A tag added later and removed again, through the v2.0 tag API.
    let extra = BTreeMap::from([("stage".to_owned(), "test".to_owned())]);
    provider.tag(&id, &extra).await.expect("tags");
    provider.untag(&id, &["stage".to_owned()]).await.expect("untags");

    let down = wait_for(provider, &id, |e| e.is_some_and(|e| e.raw_state == "DOWN"))
        .await
        .expect("exists");
    assert_eq!((down.phase, down.bound_to), (EipPhase::Unbound, None));

    let wanted = target(InstanceType::Port, port);
    provider.associate(&id, &wanted, "").await.expect("associates");
    let active = wait_for(provider, &id, |e| e.is_some_and(|e| e.raw_state == "ACTIVE"))
        .await
        .expect("exists");
    assert_eq!(active.phase, EipPhase::Bound);
    let current = active.bound_to.expect("bound");
    assert!(current.satisfies(&wanted), "{current}");
    assert!(current.private_ip_address.is_some());

    provider
        .unassociate(&UnbindRequest::new(id.to_owned(), current.clone(), ""))
        .await
        .expect("unassociates");
    wait_for(provider, &id, |e| e.is_some_and(|e| e.raw_state == "DOWN" && e.bound_to.is_none())).await;

    provider.release(&id, "").await.expect("releases");
    wait_for(provider, &id, |e| e.is_none()).await;
    let err = provider.release(&id, "").await.expect_err("gone");
    assert_eq!((err.class(), err.code.as_str()), (ErrorClass::Gone, "VPC.0504"));
    assert!(err.request_id.is_some());
}

#[tokio::test]
async fn aksk_port_lifecycle() {
    with_timeout(async {
        let cloud = start(latencies(60)).await;
        let provider = otc(&cloud);
        assert_eq!(provider.name(), "otc");
        lifecycle_with_a_port(&provider, "uid-aksk", "port-sim-0001").await;
        let ops: Vec<Operation> = cloud.sim.calls().iter().map(|c| c.operation).collect();
        for op in Operation::ALL {
            assert!(ops.contains(&op), "{op} went through the model");
        }
        assert!(cloud.sim.calls().iter().all(|c| c.region == EU_DE));
    })
    .await;
}

#[tokio::test]
async fn password_token_lifecycle_with_project_name() {
    with_timeout(async {
        let cloud = start(latencies(60)).await;
        // No project ID: the token is scoped to the project named after the region.
        let provider = provider(settings(&cloud, OtcCloud::HuaweiCloud, "ap-southeast-1"), password());
        assert_eq!(provider.name(), "huawei");
        lifecycle_with_a_port(&provider, "uid-token", "port-sim-0002").await;
        assert!(cloud.sim.calls().iter().all(|c| c.region == "ap-southeast-1"));
    })
    .await;
}

#[tokio::test]
async fn aksk_with_project_name_resolves_the_project() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let mut nl = settings(&cloud, OtcCloud::OpenTelekomCloud, "eu-nl");
        nl.project_name = Some("eu-nl".to_owned());
        let provider = provider(nl, aksk());
        let eip = provider.allocate(&owned("uid-nl")).await.expect("allocates").eip;
        assert_eq!(
            cloud.sim.eip("eu-nl", &eip.allocation_id).map(|e| e.raw_state),
            Some("DOWN".to_owned())
        );
    })
    .await;
}

#[tokio::test]
async fn load_balancer_binding_is_undone_with_v3() {
    with_timeout(async {
        let cloud = start(latencies(60)).await;
        let provider = otc(&cloud);
        let id = allocate_down(&provider, &owned("uid-lb")).await.allocation_id;
        let lb = target(InstanceType::SlbInstance, "lb-sim-0001");
        provider.associate(&id, &lb, "").await.expect("associates through v3");
        let bound = wait_for(&provider, &id, |e| e.is_some_and(|e| e.raw_state == "ELB"))
            .await
            .expect("exists");
        assert_eq!((bound.phase, bound.bound_to.clone()), (EipPhase::Bound, Some(lb.clone())));

        // Released while on the load balancer: refused, terminal.
        let err = provider.release(&id, "").await.expect_err("in use by the ELB");
        assert_eq!(
            (err.code.as_str(), err.class(), err.blocker()),
            ("VPC.0516", ErrorClass::Terminal, Some(Blocker::Other))
        );

        provider
            .unassociate(&UnbindRequest::new(id.to_owned(), lb.clone(), ""))
            .await
            .expect("unbinds through v3");
        wait_for(&provider, &id, |e| e.is_some_and(|e| e.raw_state == "DOWN")).await;
        provider.release(&id, "").await.expect("releases");
        wait_for(&provider, &id, |e| e.is_none()).await;

        let v3_calls = cloud.sim.calls().iter().filter(|c| c.operation == Operation::Unassociate).count();
        assert_eq!(v3_calls, 1);

        // NAT gateways and VPNs take the same path.
        let id = allocate_down(&provider, &AllocateRequest::default()).await.allocation_id;
        provider
            .associate(&id, &target(InstanceType::Vpn, "vpn-sim-0001"), "")
            .await
            .expect("binds a VPN");
        let vpn = wait_for(&provider, &id, |e| e.is_some_and(|e| e.raw_state == "VPN"))
            .await
            .expect("exists");
        assert_eq!(vpn.bound_to.map(|b| b.instance_type), Some(InstanceType::Vpn));
    })
    .await;
}

#[tokio::test]
async fn without_v3_load_balancers_are_refused_clearly() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let mut nl = settings(&cloud, OtcCloud::OpenTelekomCloud, "eu-nl");
        assert!(!nl.v3_bindings, "eu-nl lacks v3 by default");
        nl.project_id = Some("00000000000000000000000051510001".to_owned());
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
        let mut forced = settings(&cloud, OtcCloud::OpenTelekomCloud, "eu-nl");
        forced.project_id = Some("00000000000000000000000051510001".to_owned());
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
        let err = provider
            .associate(&b, &target(InstanceType::Port, "port-sim-0003"), "")
            .await
            .expect_err("taken");
        assert_eq!(
            (err.code.as_str(), err.blocker()),
            ("VPC.0511", Some(Blocker::InvalidBindingTarget))
        );
        let err = provider
            .associate(&b, &target(InstanceType::Port, "port-nope"), "")
            .await
            .expect_err("unknown");
        assert_eq!(
            (err.code.as_str(), err.blocker()),
            ("VPC.0514", Some(Blocker::InvalidBindingTarget))
        );
        let err = provider
            .associate(&b, &target(InstanceType::EcsInstance, "i-sim-0001"), "")
            .await
            .expect_err("a server is not a port");
        assert_eq!(
            (err.class(), err.blocker()),
            (ErrorClass::Terminal, Some(Blocker::InvalidBindingTarget))
        );
        assert!(err.message.contains("Port"), "{}", err.message);

        // Not found: describe omits it, the mutations are Gone.
        let missing = "00000000-0000-4000-8000-000000000000";
        assert!(describe(&provider, missing).await.is_none());
        let err = provider
            .associate(missing, &target(InstanceType::Port, "port-sim-0004"), "")
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
        });
        let ids = vec![a.clone()];
        let _ = provider.describe(&ids).await;
        let err = provider.describe(&ids).await.expect_err("throttled");
        assert!(err.is_throttled());
        assert_eq!((err.code.as_str(), err.class()), ("APIGW.0308", ErrorClass::Retryable));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
        cloud.sim.set_rate_limits(RateLimits::default());

        // Bad credentials: terminal, and the secret is nowhere in the error.
        let secret = "not-the-secret-key-0000";
        let wrong = OtcProvider::new(
            {
                let mut s = settings(&cloud, OtcCloud::OpenTelekomCloud, EU_DE);
                s.project_id = Some(EU_DE_PROJECT.to_owned());
                s
            },
            Arc::new(StaticSecret(
                BTreeMap::from([
                    ("accessKey".to_owned(), SIM_ACCESS_KEY_ID.to_owned()),
                    ("secretKey".to_owned(), secret.to_owned()),
                ])
                .into(),
            )),
        )
        .expect("builds");
        let err = wrong.describe(&ids).await.expect_err("refused");
        assert_eq!(
            (err.code.as_str(), err.class(), err.blocker()),
            ("APIGW.0301", ErrorClass::Terminal, Some(Blocker::Authentication))
        );
        assert!(!format!("{err:?}").contains(secret));
        let bad_password = OtcProvider::new(
            settings(&cloud, OtcCloud::HuaweiCloud, EU_DE),
            Arc::new(StaticSecret(
                BTreeMap::from([
                    ("username".to_owned(), "sim-user".to_owned()),
                    ("password".to_owned(), secret.to_owned()),
                    ("domainName".to_owned(), "sim-domain".to_owned()),
                ])
                .into(),
            )),
        )
        .expect("builds");
        let err = bad_password.describe(&ids).await.expect_err("refused");
        assert_eq!((err.class(), err.blocker()), (ErrorClass::Terminal, Some(Blocker::Authentication)));
        assert!(!format!("{err:?}").contains(secret));
        let empty = OtcProvider::new(
            settings(&cloud, OtcCloud::HuaweiCloud, EU_DE),
            Arc::new(StaticSecret(BTreeMap::new().into())),
        )
        .expect("builds");
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
        let id = provider
            .allocate(&AllocateRequest::default())
            .await
            .expect("allocates")
            .eip
            .allocation_id;
        let err = provider.release(&id, "").await.expect_err("still PENDING_CREATE");
        assert_eq!((err.code.as_str(), err.class()), ("VPC.0512", ErrorClass::Retryable));
        let eip = describe(&provider, &id).await.expect("exists");
        assert_eq!(eip.raw_state, "PENDING_CREATE");
        assert!(matches!(eip.phase, EipPhase::Transitional(_)));
    })
    .await;
}

#[tokio::test]
async fn describe_is_one_list_call_per_fifty() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let provider = otc(&cloud);
        let mut ids = Vec::new();
        for _ in 0..60 {
            ids.push(
                provider
                    .allocate(&AllocateRequest::default())
                    .await
                    .expect("allocates")
                    .eip
                    .allocation_id,
            );
        }
        ids.push("00000000-0000-4000-8000-000000000000".to_owned());
        let before = cloud.sim.last_seq();
        let found = provider.describe(&ids).await.expect("describes");
        assert_eq!(found.len(), 60);
        let calls = cloud.sim.calls_since(before);
        assert_eq!(
            calls.iter().map(|c| (c.operation, c.allocation_ids.len())).collect::<Vec<_>>(),
            vec![(Operation::Describe, 50), (Operation::Describe, 11)]
        );

        // find_by_owner pages through everything (page size 25 here).
        let mut small = settings(&cloud, OtcCloud::OpenTelekomCloud, EU_DE);
        small.project_id = Some(EU_DE_PROJECT.to_owned());
        small.page_size = 25;
        small.v3_bindings = false; // v1 paging: the last ID is the marker, an empty page ends it
        let small = self::provider(small, aksk());
        let mine = small.allocate(&owned("uid-paged")).await.expect("allocates").eip;
        let before = cloud.sim.last_seq();
        let found = small.find_by_owner("uid-paged").await.expect("finds");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].allocation_id, mine.allocation_id);
        let pages = cloud.sim.calls_since(before);
        assert_eq!(pages.len(), 4, "61 EIPs in pages of 25, then an empty page");
        assert!(pages.iter().all(|c| c.operation == Operation::FindByOwner));

        // v3 paging stops when page_info has no next_marker.
        let mut v3 = settings(&cloud, OtcCloud::OpenTelekomCloud, EU_DE);
        v3.project_id = Some(EU_DE_PROJECT.to_owned());
        v3.page_size = 25;
        let v3 = self::provider(v3, aksk());
        let before = cloud.sim.last_seq();
        assert_eq!(v3.find_by_owner("uid-paged").await.expect("finds").len(), 1);
        assert_eq!(cloud.sim.calls_since(before).len(), 3);
    })
    .await;
}

fn huawei(cloud: &Cloud) -> OtcProvider {
    let mut hw = settings(cloud, OtcCloud::HuaweiCloud, EU_DE);
    assert!(hw.batch_operations, "on by default for Huawei Cloud");
    hw.project_id = Some(EU_DE_PROJECT.to_owned());
    hw.batch_window = Duration::from_millis(200);
    provider(hw, aksk())
}

#[tokio::test]
async fn concurrent_unbinds_and_releases_are_batched() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let provider = huawei(&cloud);
        let mut ids = Vec::new();
        for n in 1..=5 {
            let id = provider
                .allocate(&AllocateRequest::default())
                .await
                .expect("allocates")
                .eip
                .allocation_id;
            provider
                .associate(&id, &target(InstanceType::Port, &format!("port-sim-001{n}")), "")
                .await
                .expect("binds");
            ids.push(id);
        }
        let mut currents = Vec::new();
        for id in &ids {
            currents.push(describe(&provider, id).await.and_then(|e| e.bound_to).expect("bound"));
        }
        let before = cloud.sim.last_seq();
        let requests: Vec<_> = ids
            .iter()
            .zip(&currents)
            .map(|(id, current)| UnbindRequest::new(id.to_owned(), current.clone(), ""))
            .collect();
        let results = futures::future::join_all(requests.iter().map(|request| provider.unassociate(request))).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let unbinds: Vec<_> = cloud
            .sim
            .calls_since(before)
            .into_iter()
            .filter(|c| c.operation == Operation::Unassociate)
            .collect();
        assert_eq!(unbinds.len(), 1, "one batch call");
        assert_eq!(unbinds[0].allocation_ids.len(), 5);
        for id in &ids {
            assert_eq!(describe(&provider, id).await.map(|e| e.raw_state), Some("DOWN".to_owned()));
        }

        let before = cloud.sim.last_seq();
        let results = futures::future::join_all(ids.iter().map(|id| provider.release(id, ""))).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let releases: Vec<_> = cloud.sim.calls_since(before);
        assert_eq!(releases.len(), 1, "one batch call: {releases:?}");
        assert_eq!((releases[0].operation, releases[0].allocation_ids.len()), (Operation::Release, 5));
        assert!(cloud.sim.eips(EU_DE).is_empty());

        // A lone release goes out as a single DELETE.
        let id = provider
            .allocate(&AllocateRequest::default())
            .await
            .expect("allocates")
            .eip
            .allocation_id;
        provider.release(&id, "").await.expect("releases");
        assert!(cloud.sim.eips(EU_DE).is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_refused_batch_falls_back_to_single_calls() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let provider = huawei(&cloud);
        let free_a = provider
            .allocate(&AllocateRequest::default())
            .await
            .expect("allocates")
            .eip
            .allocation_id;
        let free_b = provider
            .allocate(&AllocateRequest::default())
            .await
            .expect("allocates")
            .eip
            .allocation_id;
        let bound = provider
            .allocate(&AllocateRequest::default())
            .await
            .expect("allocates")
            .eip
            .allocation_id;
        provider
            .associate(&bound, &target(InstanceType::Port, "port-sim-0019"), "")
            .await
            .expect("binds");
        let gone = "00000000-0000-4000-8000-0000000000aa".to_owned();
        let before = cloud.sim.last_seq();
        let ids = [free_a.clone(), bound.clone(), free_b.clone(), gone.clone(), free_a.clone()];
        let results = futures::future::join_all(ids.iter().map(|id| provider.release(id, ""))).await;
        assert!(results[0].is_ok() && results[2].is_ok() && results[4].is_ok(), "{results:?}");
        let err = results[1].clone().expect_err("bound");
        assert_eq!((err.code.as_str(), err.class()), ("VPC.0517", ErrorClass::Terminal));
        let err = results[3].clone().expect_err("gone");
        assert_eq!(err.class(), ErrorClass::Gone);
        let calls = cloud.sim.calls_since(before);
        assert_eq!(
            (calls[0].operation, calls[0].allocation_ids.len(), calls[0].outcome),
            (Operation::Release, 4, CallOutcome::Error),
            "the batch was refused whole"
        );
        assert_eq!(calls.len(), 5, "then one single call per ID: {calls:?}");
        assert_eq!(cloud.sim.eips(EU_DE).len(), 1, "only the bound one is left");
    })
    .await;
}

#[tokio::test]
async fn tags_follow_the_cloud_rules() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let provider = otc(&cloud);
        let eip = provider.allocate(&owned("uid-tags")).await.expect("allocates").eip;
        assert_eq!(eip.tags.get(OWNER_NAME_TAG).map(String::as_str), Some("team-a/web"));
        let described = describe(&provider, &eip.allocation_id).await.expect("exists");
        assert_eq!(described.owner_uid(), Some("uid-tags"));
        assert_eq!(described.tags.get(OWNER_NAME_TAG).map(String::as_str), Some("team-a/web"));
        assert_eq!(described.tags.get("app_kubernetes_io_name").map(String::as_str), Some("web"));

        // EIPs the in-process provider created are owned the same way over the wire.
        let sim_provider = cloud.sim.provider(EU_DE).expect("region");
        let direct = sim_provider.allocate(&owned("uid-direct")).await.expect("allocates").eip;
        let found = provider.find_by_owner("uid-direct").await.expect("finds");
        assert_eq!(
            found.iter().map(|e| &e.allocation_id).collect::<Vec<_>>(),
            vec![&direct.allocation_id]
        );
    })
    .await;
}

/// Adoption's claim over the wire: `tags/action` create and delete, read back by Describe in the
/// operator's keys; the cloud keeps the last writer's value; unknown EIPs are gone.
#[tokio::test]
async fn claim_tags_and_untags_an_adopted_eip() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let provider = otc(&cloud);
        let seeded = SeedEip {
            tags: BTreeMap::from([("team".to_owned(), "a".to_owned())]),
            ..SeedEip::default()
        };
        let id = cloud.sim.seed_eip(EU_DE, seeded).expect("seeds").allocation_id;
        let claim =
            |uid: &str, name: &str| BTreeMap::from([(OWNER_TAG.to_owned(), uid.to_owned()), (OWNER_NAME_TAG.to_owned(), name.to_owned())]);
        let receipt = provider.tag(&id, &claim("uid-a", "team-a/web")).await.expect("tags");
        assert!(!receipt.request_id.is_empty());
        let eip = describe(&provider, &id).await.expect("exists");
        assert_eq!((eip.owner_uid(), eip.owner_name()), (Some("uid-a"), Some("team-a/web")));
        assert_eq!(eip.tags.get("team").map(String::as_str), Some("a"));
        // The model keeps the operator's keys: the in-process provider sees the same claim.
        assert_eq!(cloud.sim.eip(EU_DE, &id).expect("exists").tags, eip.tags);
        assert_eq!(provider.find_by_owner("uid-a").await.expect("finds").len(), 1);

        // Not compare-and-swap: a second claim overwrites the first.
        provider.tag(&id, &claim("uid-b", "team-b/api")).await.expect("tags");
        let eip = describe(&provider, &id).await.expect("exists");
        assert_eq!((eip.owner_uid(), eip.owner_name()), (Some("uid-b"), Some("team-b/api")));

        provider
            .untag(&id, &[OWNER_TAG.to_owned(), OWNER_NAME_TAG.to_owned()])
            .await
            .expect("untags");
        let eip = describe(&provider, &id).await.expect("exists");
        assert_eq!(eip.tags, BTreeMap::from([("team".to_owned(), "a".to_owned())]));

        let unknown = "6e1c1f4c-0000-4000-8000-000000000000";
        for err in [
            provider.tag(unknown, &claim("uid-a", "team-a/web")).await.expect_err("unknown"),
            provider.untag(unknown, &[OWNER_TAG.to_owned()]).await.expect_err("unknown"),
        ] {
            assert_eq!((err.class(), err.code.as_str()), (ErrorClass::Gone, "VPC.0504"), "{err:?}");
        }
        let tagging: Vec<(Operation, CallOutcome)> = cloud
            .sim
            .calls()
            .into_iter()
            .filter(|c| matches!(c.operation, Operation::Tag | Operation::Untag))
            .map(|c| (c.operation, c.outcome))
            .collect();
        assert_eq!(
            tagging,
            vec![
                (Operation::Tag, CallOutcome::Ok),
                (Operation::Tag, CallOutcome::Ok),
                (Operation::Untag, CallOutcome::Ok),
                (Operation::Tag, CallOutcome::Error),
                (Operation::Untag, CallOutcome::Error),
            ]
        );
    })
    .await;
}
