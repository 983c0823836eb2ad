//! Calls per request: Describe in lists of fifty, owner lookups by pages, unbinds and releases
//! coalesced into batches, and the wire observer that counts the requests.

use std::sync::Arc;

use eip_cloud::{CloudProvider, ErrorClass, InstanceType, Operation};
use eip_otc::OtcCloud;
use eip_simulator::{CallOutcome, SimulatorConfig};

use super::support::*;

#[tokio::test]
async fn describe_is_one_list_call_per_fifty() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let provider = otc(&cloud);
        let mut ids = Vec::new();
        for _ in 0..60 {
            ids.push(allocate_id(&provider).await);
        }
        ids.push(MISSING.to_owned());
        let before = cloud.sim.last_seq();
        let found = provider.describe(&ids).await.expect("describes");
        assert_eq!(found.len(), 60);
        let calls = cloud.sim.calls_since(before);
        assert_eq!(
            calls.iter().map(|c| (c.operation, c.allocation_ids.len())).collect::<Vec<_>>(),
            vec![(Operation::Describe, 50), (Operation::Describe, 11)]
        );

        // find_by_owner pages through everything (page size 25 here).
        let mut small = eu_de(&cloud, OtcCloud::OpenTelekomCloud);
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
        assert!(pages.iter().all(|c| c.operation == Operation::List));
        // The whole project, one page a call.
        let before = cloud.sim.last_seq();
        let all = eip_cloud::list_all(&small).await.expect("lists");
        assert_eq!(all.len(), 61);
        assert!(all.iter().all(|e| e.created_at.is_some()), "create_time is read");
        assert_eq!(cloud.sim.calls_since(before).len(), 4, "pages of 25, then an empty page");

        // v3 paging stops when page_info has no next_marker.
        let mut v3 = eu_de(&cloud, OtcCloud::OpenTelekomCloud);
        v3.page_size = 25;
        let v3 = self::provider(v3, aksk());
        let before = cloud.sim.last_seq();
        assert_eq!(v3.find_by_owner("uid-paged").await.expect("finds").len(), 1);
        assert_eq!(cloud.sim.calls_since(before).len(), 3);
        let before = cloud.sim.last_seq();
        assert_eq!(eip_cloud::list_all(&v3).await.expect("lists").len(), 61);
        assert_eq!(cloud.sim.calls_since(before).len(), 3, "three pages, the last without next_marker");
    })
    .await;
}

#[tokio::test]
async fn concurrent_unbinds_and_releases_are_batched() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let provider = huawei(&cloud);
        let requests = bound_to_ports(&provider, 5).await;
        let ids: Vec<String> = requests.iter().map(|r| r.allocation_id.clone()).collect();
        let before = cloud.sim.last_seq();
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
        let id = allocate_id(&provider).await;
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
        let free_a = allocate_id(&provider).await;
        let free_b = allocate_id(&provider).await;
        let bound = allocate_id(&provider).await;
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

/// Counting at the wire: N concurrent unbinds are N logical calls but one batch request, and
/// the IAM token request is a request like any other.
#[tokio::test]
async fn the_wire_observer_sees_batch_requests_not_logical_calls() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let log = Arc::new(WireLog::default());
        let provider = huawei(&cloud).with_wire_observer(Some(log.clone()));
        let requests = bound_to_ports(&provider, 5).await;
        assert_eq!(log.count(Operation::Associate), 5, "one request per bind");
        log.take();
        let results = futures::future::join_all(requests.iter().map(|request| provider.unassociate(request))).await;
        assert_eq!(results.len(), 5, "five logical calls");
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let seen = log.take();
        assert_eq!(seen.len(), 1, "one batch request on the wire: {seen:?}");
        assert_all_succeeded(&seen, "huawei", Operation::Unassociate);

        // Password credentials: the token request and the list request, both on the wire.
        let token_log = Arc::new(WireLog::default());
        let observed = self::provider(eu_de(&cloud, OtcCloud::HuaweiCloud), password()).with_wire_observer(Some(token_log.clone()));
        assert!(describe(&observed, &requests[0].allocation_id).await.is_some());
        let seen = token_log.take();
        assert_eq!(seen.len(), 2, "the IAM token request and the list: {seen:?}");
        assert_all_succeeded(&seen, "huawei", Operation::Describe);
        assert!(describe(&observed, &requests[0].allocation_id).await.is_some());
        assert_eq!(token_log.count(Operation::Describe), 1, "the token is cached");
    })
    .await;
}

/// The registry's wire observer reaches the providers its factory builds.
#[tokio::test]
async fn the_factory_hands_the_wire_observer_on() {
    with_timeout(async {
        let cloud = start(SimulatorConfig::instant()).await;
        let log = Arc::new(WireLog::default());
        let registry = eip_cloud::Registry::default()
            .observe_wire(log.clone())
            .register(Arc::new(eip_otc::OtcFactory));
        let spec: eip_api::ProviderConfigSpec = serde_json::from_value(serde_json::json!({
            "provider": "otc",
            "region": EU_DE,
            "endpoint": format!("http://{}", cloud.addr),
            "credentialsSecretRef": { "name": "otc-credentials", "namespace": "default" },
            "otc": { "projectId": EU_DE_PROJECT },
        }))
        .expect("a ProviderConfig spec");
        let provider = registry.build("otc", &spec, Some(aksk())).expect("builds");
        assert!(provider.describe(&[MISSING.to_owned()]).await.expect("describes").is_empty());
        let seen = log.take();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_all_succeeded(&seen, "otc", Operation::Describe);
    })
    .await;
}

/// Every request `seen` is a successful `operation` of `provider`.
#[track_caller]
fn assert_all_succeeded(seen: &[(String, Operation, Option<u16>)], provider: &str, operation: Operation) {
    assert!(
        seen.iter()
            .all(|(name, op, status)| name == provider && *op == operation && status.is_some_and(|s| (200..300).contains(&s))),
        "{seen:?}"
    );
}
