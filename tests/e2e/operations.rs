//! Running the operator: metrics agree with the cloud, and a standby takes over from a dead
//! leader and finishes its in-flight deletion.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eip_operator::telemetry::server::{self, Health};
use eip_simulator::{CallOutcome, SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;

use crate::support::{self, ControlPlane, Scenario};

/// A plain HTTP/1.0 GET on loopback, which must be answered.
fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    support::http_get(&addr.to_string(), path).unwrap_or_else(|| panic!("no HTTP answer to GET {path} from {addr}"))
}

/// A sample's value (OpenMetrics counters named `*_total` parse as untyped).
fn number(value: &prometheus_parse::Value) -> f64 {
    match value {
        prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => *v,
        other => panic!("unexpected sample {other:?}"),
    }
}

pub async fn metrics_agree_with_the_cloud(cp: &ControlPlane) {
    let s = Scenario::new(cp, "metrics").await;
    let health = Arc::new(Health::default());
    health.set_ready(true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(server::serve(listener, s.metrics.clone(), health, std::future::pending()));

    for (name, instance) in [("a", "i-sim-0001"), ("b", "i-sim-0002")] {
        s.apply(&s.manifest(name, &format!("binding:\n  instanceType: EcsInstance\n  instanceId: {instance}")));
    }
    for name in ["a", "b"] {
        s.wait_ready(name, Duration::from_secs(60)).await;
    }
    s.kubectl_ok(&["delete", "eip", "a", "--timeout=60s"]);

    let (status, text) = tokio::task::spawn_blocking(move || http_get(addr, "/metrics")).await.expect("join");
    assert_eq!(status, 200);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid Prometheus text format");

    // Every cloud call the simulator saw, the operator counted, by operation and outcome.
    let mut counted: BTreeMap<(String, String), f64> = BTreeMap::new();
    for sample in scrape.samples.iter().filter(|m| m.metric == "eip_operator_cloud_calls_total") {
        let value = number(&sample.value);
        let outcome = if sample.labels.get("outcome") == Some("ok") {
            "Ok"
        } else {
            "Error"
        };
        *counted
            .entry((sample.labels.get("operation").unwrap_or_default().to_string(), outcome.to_string()))
            .or_default() += value;
    }
    let mut seen: BTreeMap<(String, String), f64> = BTreeMap::new();
    for row in s.sim.counters() {
        let outcome = if row.outcome == CallOutcome::Ok { "Ok" } else { "Error" };
        *seen.entry((row.operation.as_str().to_string(), outcome.to_string())).or_default() += row.count as f64;
    }
    assert_eq!(counted, seen, "operator metrics vs the simulator's counters");
    assert!(seen.get(&("Release".into(), "Ok".into())).is_some_and(|n| *n >= 1.0));

    let reconciles: f64 = scrape
        .samples
        .iter()
        .filter(|m| m.metric == "eip_operator_reconciles_total")
        .map(|m| number(&m.value))
        .sum();
    assert!(reconciles > 0.0);
    let ready_gauge = scrape
        .samples
        .iter()
        .find(|m| m.metric == "eip_operator_elasticips" && m.labels.get("phase") == Some("Ready"))
        .map(|m| number(&m.value));
    assert_eq!(ready_gauge, Some(1.0), "one ElasticIP (b) is Ready");
    let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, "/readyz")).await.expect("join");
    assert_eq!(status, 200, "{body}");
    s.finish().await;
}

async fn holder(s: &Scenario<'_>, lease: &str) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(s.admin.clone(), "eip-operator");
    leases
        .get_opt(lease)
        .await
        .expect("get lease")
        .and_then(|l| l.spec)
        .and_then(|spec| spec.holder_identity)
        // `<instance>_<per-process suffix>`
        .and_then(|identity| identity.rsplit_once('_').map(|(instance, _)| instance.to_string()))
}

/// Two operator processes (the real binary) and the simulator as a third process, speaking
/// Alibaba's wire protocol: the leader is SIGKILLed while the cloud releases an EIP; the standby
/// takes the lease and finishes the deletion. The lease lasts 8 s: shorter leases flap when the
/// machine is loaded by the rest of the suite, and a replica that loses its lease exits (in a
/// cluster it would be restarted; here nothing restarts it).
pub async fn standby_process_takes_over_from_a_killed_leader(cp: &ControlPlane) {
    let mut s = Scenario::new(cp, "ha-proc").await;
    s.stop_operator().await;
    let binary = env!("CARGO_BIN_EXE_eip-operator");
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
    };
    let sim_addr = free();
    let logs = cp.log_dir().to_path_buf();
    let log = |name: &str| std::fs::File::create(logs.join(name)).expect("log file");
    let mut simulator = crate::support::control_plane::spawn(
        std::process::Command::new(binary)
            .args(["simulator", "--profile", "dev", "--seed", "3"])
            .arg(format!("--listen={sim_addr}"))
            .stdout(std::process::Stdio::null())
            .stderr(log("ha-simulator.log")),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(sim_addr).is_err() {
        assert!(Instant::now() < deadline, "simulator did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cp.secret(
        "alibaba-ha",
        &[("accessKeyId", SIM_ACCESS_KEY_ID), ("accessKeySecret", SIM_ACCESS_KEY_SECRET)],
    );
    cp.apply(&format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: alibaba-ha\nspec:\n  provider: alibaba\n  region: cn-hangzhou\n  endpoint: http://{sim_addr}\n  credentialsSecretRef:\n    name: alibaba-ha\n    namespace: eip-operator\n"
    ));

    let lease = "eip-operator-e2e-proc";
    let start = |identity: &str| {
        crate::support::control_plane::spawn(
            std::process::Command::new(binary)
                .args([
                    "run",
                    "--leader-election",
                    "--lease-name",
                    lease,
                    "--lease-namespace",
                    "eip-operator",
                ])
                .args([
                    "--lease-duration-seconds",
                    "8",
                    "--namespace",
                    &s.ns,
                    "--instance",
                    identity,
                    "--log-format",
                    "json",
                ])
                .arg(format!("--metrics-addr={}", free()))
                .env("KUBECONFIG", &cp.kubeconfig)
                .stdout(std::process::Stdio::null())
                .stderr(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(logs.join(format!("ha-{identity}.log")))
                        .expect("log file"),
                ),
        )
    };
    let mut replicas: BTreeMap<String, std::process::Child> = ["proc-a", "proc-b"]
        .into_iter()
        .map(|identity| (identity.to_string(), start(identity)))
        .collect();
    // Like a kubelet: a replica that exits (one that lost its lease exits by design) is restarted.
    let mut restarts = 0;
    let mut supervise = |replicas: &mut BTreeMap<String, std::process::Child>| {
        for (identity, child) in replicas.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                restarts += 1;
                assert!(
                    restarts <= 6,
                    "replicas keep exiting (last: {identity}, {status}); logs in {}",
                    logs.display()
                );
                eprintln!("replica {identity} exited ({status}); restarting it");
                *child = start(identity);
            }
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while holder(&s, lease).await.is_none() {
        assert!(Instant::now() < deadline, "nobody took the lease");
        supervise(&mut replicas);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    s.apply(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIP\nmetadata:\n  name: web\nspec:\n  providerConfigRef:\n    name: alibaba-ha\n  binding:\n    instanceType: EcsInstance\n    instanceId: i-sim-0004\n",
    );
    let object = s.wait_ready("web", Duration::from_secs(60)).await;
    let id = object.status.and_then(|st| st.allocation_id).expect("allocation id");
    s.delete("web").await;
    s.wait_for("web", "Releasing", Duration::from_secs(60), |o| {
        o.status.as_ref().and_then(|st| st.phase) == Some(eip_api::Phase::Releasing)
    })
    .await;
    supervise(&mut replicas);
    let first = holder(&s, lease).await.expect("a leader");
    let mut leader = replicas.remove(&first).expect("leader process");
    leader.kill().expect("SIGKILL the leader");
    let _ = leader.wait();

    // The standby takes the lease and finishes the deletion.
    let deadline = Instant::now() + Duration::from_secs(90);
    while s.get("web").await.is_some() {
        assert!(
            Instant::now() < deadline,
            "web still exists 90 s after the leader was killed; logs in {}",
            logs.display()
        );
        supervise(&mut replicas);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let second = holder(&s, lease).await.expect("lease held");
    assert_ne!(second, first, "the standby process holds the lease now");
    let calls: serde_json::Value = serde_json::from_str(
        &tokio::task::spawn_blocking(move || http_get(sim_addr, "/admin/calls"))
            .await
            .expect("join")
            .1,
    )
    .expect("calls");
    let ops: Vec<String> = calls
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["allocationIds"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(id.as_str())))
        })
        .filter(|c| c["outcome"] == "Ok" && c["operation"] != "Describe")
        .map(|c| c["operation"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        ops,
        vec!["Allocate", "Associate", "Unassociate", "Release"],
        "through the wire, once each, unbind first"
    );
    let (_, eips) = tokio::task::spawn_blocking(move || http_get(sim_addr, "/admin/regions/cn-hangzhou/eips"))
        .await
        .expect("join");
    assert_eq!(eips.trim(), "[]", "released");

    for (_, mut child) in replicas {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = simulator.kill();
    let _ = simulator.wait();
    s.finish().await;
}
