//! The leak ledger and bulk import on the real API server: an orphan made by removing a
//! finalizer by hand is found by the operator's scan and by `audit`, another cluster's addresses
//! are not; the scan keeps to the account's rate limit; `import` of 50 EIPs adopts them all
//! without a mutating call.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eip_api::ElasticIP;
use eip_cloud::{BindTarget, CLUSTER_TAG, InstanceType, OWNER_NAME_TAG, OWNER_TAG, Operation};
use eip_operator::day2::cli::{AuditArgs, ImportArgs, Output, run_audit, run_import};
use eip_simulator::{SeedEip, SimulatorFactory};
use kube::api::ListParams;
use std::sync::Arc;

use crate::support::{ControlPlane, REGION, Scenario, condition};

/// The ledger scenario's account lives in a region of its own, so that its calls stand apart in
/// the call log from those of the other ProviderConfigs the scan also lists (each scenario's
/// ProviderConfig is cluster-scoped and of type simulator).
const LEDGER_REGION: &str = "cn-shanghai";

const TIMEOUT: Duration = Duration::from_secs(60);
/// The account's describe rate limit in these scenarios.
const READS_PER_SECOND: u64 = 4;

/// The registry the CLI commands use here: the scenario's simulated cloud.
fn registry(s: &Scenario<'_>) -> eip_cloud::Registry {
    eip_operator::registry::providers(Arc::default(), eip_cloud::registry::DEFAULT_DESCRIBE_WINDOW)
        .register(Arc::new(SimulatorFactory::new(s.sim.clone())))
}

fn orphaned_gauge(s: &Scenario<'_>) -> Option<f64> {
    let text = s.metrics.encode().expect("metrics");
    let prefix = format!("eip_operator_orphaned_eips{{provider_config=\"{}\"}} ", s.provider_config);
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

/// The List and Describe calls after `since` keep to a token bucket of `per_second` with a burst
/// of as many: call k (from 0) comes no sooner than (k - per_second) / per_second s after the first.
fn assert_within_rate(s: &Scenario<'_>, since: u64, per_second: u64) -> usize {
    let reads: Vec<u64> = s
        .sim
        .calls_since(since)
        .into_iter()
        .filter(|c| c.region == LEDGER_REGION && matches!(c.operation, Operation::List | Operation::Describe))
        .map(|c| c.at_ms)
        .collect();
    let Some(first) = reads.first().copied() else {
        return 0;
    };
    for (k, at) in reads.iter().enumerate() {
        let earliest = (k as u64).saturating_sub(per_second) * 1000 / per_second;
        assert!(
            at - first + 50 >= earliest,
            "read {k} at +{} ms, sooner than the rate limit allows (+{earliest} ms): {reads:?}",
            at - first
        );
    }
    reads.len()
}

pub async fn an_orphan_is_found_by_the_scan_and_audit_and_another_clusters_are_not(cp: &ControlPlane) {
    let mut s = Scenario::auditing(cp, "ledger", Duration::from_secs(2)).await;
    cp.apply(&format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: {}\nspec:\n  provider: simulator\n  region: {LEDGER_REGION}\n  rateLimits:\n    mutatingPerSecond: 5\n    describePerSecond: {READS_PER_SECOND}\n",
        s.provider_config
    ));
    // A listing of several pages: 350 EIPs nobody manages, and one another cluster's tags claim.
    for _ in 0..350 {
        s.sim.seed_eip(LEDGER_REGION, SeedEip::default()).expect("seed");
    }
    let theirs = SeedEip {
        tags: BTreeMap::from([
            (OWNER_TAG.to_string(), "3e1f0000-0000-4000-8000-00000000beef".to_string()),
            (OWNER_NAME_TAG.to_string(), format!("{}/theirs", s.ns)),
            (CLUSTER_TAG.to_string(), "another-cluster".to_string()),
        ]),
        ..SeedEip::default()
    };
    let theirs = s.sim.seed_eip(LEDGER_REGION, theirs).expect("seed").allocation_id;

    s.apply(&s.manifest("leaky", "binding:\n  instanceType: EcsInstance\n  instanceId: i-sim-0007"));
    let ready = s.wait_ready("leaky", TIMEOUT).await;
    let leaky = ready.status.and_then(|st| st.allocation_id).expect("allocated");
    let tags = s.sim.eip(LEDGER_REGION, &leaky).expect("exists").tags;
    assert!(
        tags.get(CLUSTER_TAG).is_some_and(|c| !c.is_empty()),
        "the cluster ID is an owner tag: {tags:?}"
    );

    // The finalizer removed by hand: the object goes, the address stays.
    s.stop_operator().await;
    s.kubectl_ok(&["delete", "eip", "leaky", "--wait=false"]);
    s.kubectl_ok(&["patch", "eip", "leaky", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    s.wait_gone("leaky", TIMEOUT).await;
    let since = s.sim.last_seq();
    s.start_operator().await;

    // Within one scan (every 2 s here; 4 pages at 4 reads/s take about a second).
    let deadline = Instant::now() + Duration::from_secs(20);
    while orphaned_gauge(&s) != Some(1.0) {
        assert!(
            Instant::now() < deadline,
            "the metric never counted the orphan: {:?}",
            orphaned_gauge(&s)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The Events follow the gauge within the same scan.
    let deadline = Instant::now() + Duration::from_secs(10);
    let events = loop {
        let events = provider_config_events(&s).await;
        if events.iter().any(|(reason, _)| reason == "OrphanedEIP") || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let orphaned: Vec<&String> = events
        .iter()
        .filter(|(reason, _)| reason == "OrphanedEIP")
        .map(|(_, note)| note)
        .collect();
    assert_eq!(orphaned.len(), 1, "one Warning per orphan: {events:?}");
    assert!(orphaned[0].contains(&leaky) && !orphaned[0].contains(&theirs), "{}", orphaned[0]);
    // Scans go on; the orphan is not announced again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let again = provider_config_events(&s)
        .await
        .into_iter()
        .filter(|(r, _)| r == "OrphanedEIP")
        .count();
    assert_eq!(again, 1);
    let reads = assert_within_rate(&s, since, READS_PER_SECOND);
    assert!(reads >= 8, "at least two scans of four pages: {reads}");
    s.stop_operator().await;

    // audit, from outside: JSON, then the table.
    let args = |output: Output| AuditArgs {
        provider_config: Some(s.provider_config.clone()),
        cluster_name: None,
        output,
        release_orphans: false,
        yes: false,
    };
    let since = s.sim.last_seq();
    let mut out = Vec::new();
    run_audit(&s.admin, registry(&s), &args(Output::Json), &mut out)
        .await
        .expect("audit");
    assert_within_rate(&s, since, READS_PER_SECOND);
    let reports: serde_json::Value = serde_json::from_slice(&out).expect("json");
    let report = &reports[0];
    let ids = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .expect(key)
            .iter()
            .map(|e| e["allocationId"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(ids("orphans"), std::slice::from_ref(&leaky));
    let bound = report["orphans"][0]["boundTo"].as_str().unwrap_or_default();
    assert!(bound.starts_with("EcsInstance/i-sim-0007"), "{bound}");
    assert_eq!(report["otherClusters"], 1);
    assert_eq!(ids("unmanaged").len(), 350);
    assert!(!ids("unmanaged").contains(&theirs) && !ids("unattributed").contains(&theirs));
    let mut table = Vec::new();
    run_audit(&s.admin, registry(&s), &args(Output::Table), &mut table)
        .await
        .expect("audit");
    let table = String::from_utf8(table).expect("utf-8");
    crate::day2::save_output("audit.txt", &table);
    crate::day2::save_output("audit.json", &String::from_utf8_lossy(&out));
    assert!(
        table.contains("ORPHANED") && table.contains(&leaky) && !table.contains(&theirs),
        "{table}"
    );

    // --release-orphans --yes: unbound, then released; nothing else touched.
    let release = AuditArgs {
        release_orphans: true,
        yes: true,
        ..args(Output::Table)
    };
    let since = s.sim.last_seq();
    let mut out = Vec::new();
    run_audit(&s.admin, registry(&s), &release, &mut out).await.expect("releases");
    crate::day2::save_output("audit-release.txt", &String::from_utf8_lossy(&out));
    let mutating: Vec<String> = s
        .sim
        .calls_since(since)
        .into_iter()
        .filter(|c| c.operation.is_mutating())
        .map(|c| format!("{}:{}", c.operation, c.allocation_ids.join(",")))
        .collect();
    assert_eq!(mutating, [format!("Unassociate:{leaky}"), format!("Release:{leaky}")]);
    assert!(
        s.sim.eip(LEDGER_REGION, &theirs).is_some(),
        "another cluster's address is never released"
    );
    s.finish().await;
}

/// (reason, note) of the Events about the scenario's ProviderConfig.
async fn provider_config_events(s: &Scenario<'_>) -> Vec<(String, String)> {
    let events: kube::Api<k8s_openapi::api::events::v1::Event> = kube::Api::namespaced(s.admin.clone(), "default");
    let list = events
        .list(&ListParams::default().fields(&format!("regarding.name={}", s.provider_config)))
        .await
        .expect("events");
    list.items
        .into_iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect()
}

pub async fn import_of_fifty_eips_adopts_them_without_a_mutating_call(cp: &ControlPlane) {
    let s = Scenario::new(cp, "import").await;
    let mut seeded = BTreeMap::new();
    for i in 0..50 {
        // Every other one bound, to the 20 instances and then to NAT gateways (which hold many).
        let bound_to = (i % 2 == 0).then(|| match i / 2 {
            n if n < 20 => BindTarget {
                instance_type: InstanceType::EcsInstance,
                instance_id: format!("i-sim-{:04}", n + 1),
                private_ip_address: None,
            },
            _ => BindTarget {
                instance_type: InstanceType::Nat,
                instance_id: "ngw-sim-0001".into(),
                private_ip_address: None,
            },
        });
        let seed = SeedEip {
            bound_to: bound_to.clone(),
            tags: BTreeMap::from([("team".to_string(), "edge".to_string())]),
            ..SeedEip::default()
        };
        let eip = s.sim.seed_eip(REGION, seed).expect("seed");
        seeded.insert(eip.allocation_id, bound_to);
    }
    // Not selected: no team tag.
    s.sim.seed_eip(REGION, SeedEip::default()).expect("seed");
    let since = s.sim.last_seq();

    let args = ImportArgs {
        provider_config: s.provider_config.clone(),
        tags: vec![("team".into(), "edge".into())],
        unowned: true,
        namespace: s.ns.clone(),
        bind: true,
        manage: false,
        cluster_name: None,
    };
    let mut out = Vec::new();
    run_import(&s.admin, registry(&s), &args, &mut out).await.expect("import");
    let yaml = String::from_utf8(out).expect("utf-8");
    crate::day2::save_output("import.yaml", &yaml);
    assert_eq!(yaml.matches("kind: ElasticIP").count(), 50);
    s.apply(&yaml);

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let objects: Vec<ElasticIP> = s.eips().list(&ListParams::default()).await.expect("list").items;
        let observed = objects
            .iter()
            .filter(|o| condition(o, "Ready") == Some(("True".into(), "Observed".into())))
            .count();
        if observed == 50 {
            for object in &objects {
                let status = object.status.clone().expect("status");
                let id = status.allocation_id.clone().expect("allocation");
                let want = seeded.get(&id).expect("one of the seeded").clone();
                let bound = status.bound_to.as_ref().map(|b| (b.instance_type, b.instance_id.clone()));
                assert_eq!(bound, want.map(|w| (w.instance_type, w.instance_id)), "{id}");
                assert_eq!(status.drift, None, "{id}");
            }
            break;
        }
        assert!(Instant::now() < deadline, "{observed} of 50 adopted");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mutating: Vec<String> = s
        .sim
        .calls_since(since)
        .into_iter()
        .filter(|c| c.operation.is_mutating())
        .map(|c| c.operation.to_string())
        .collect();
    assert_eq!(
        mutating,
        Vec::<String>::new(),
        "adopting 50 imported EIPs changed nothing in the cloud"
    );
    s.finish().await;
}
