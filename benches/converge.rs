//! `cargo bench --bench converge`: create N ElasticIPs (each with a binding) on a real local
//! kube-apiserver + etcd, wait until all are Ready, delete them all, wait until all are gone.
//! The operator and the cloud are separate processes: the operator binary with a ProviderConfig
//! of type `alibaba` pointed at `eip-operator simulator`, which serves Alibaba's wire protocol with
//! the "standard" profile (associate 1 s, unassociate 2 s, release 2 s;
//! 20 calls/s per mutating API, 40/s for Describe; throttling beyond). Prints a table.
//!
//! `EIP_BENCH_N=100,1000,10000` picks the sizes (default 100,1000). See BENCHMARKS.md.

#[path = "../tests/e2e/support/control_plane.rs"]
#[allow(dead_code)]
mod control_plane;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use control_plane::ControlPlane;
use eip_api::{Binding, ElasticIP, ElasticIPSpec, ProviderConfigRef};
use eip_cloud::InstanceType;
use eip_simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET};
use futures::{StreamExt, TryStreamExt};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};

/// The standard profile's quotas and latencies (crates/simulator/src/config.rs).
const MUTATING_QUOTA: f64 = 20.0;
const ASSOCIATE_LATENCY: f64 = 1.0;
const UNASSOCIATE_LATENCY: f64 = 2.0;
const RELEASE_LATENCY: f64 = 2.0;

/// Seconds the busiest API needs for N calls at the quota: the token bucket starts full (one
/// second's worth), so the last of N calls can go out at (N - quota) / quota.
fn rate_bound(n: usize) -> f64 {
    (n as f64 - MUTATING_QUOTA).max(0.0) / MUTATING_QUOTA
}

fn apply(cp: &ControlPlane, yaml: &str) {
    let mut child = cp
        .kubectl_command(&["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kubectl");
    child.stdin.take().expect("stdin").write_all(yaml.as_bytes()).expect("write");
    assert!(child.wait().expect("kubectl").success(), "kubectl apply failed");
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// Sum of a metric's samples (OpenMetrics text), optionally filtered by a label fragment.
fn metric_sum(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[derive(Default, Clone)]
struct Calls(BTreeMap<String, f64>);

impl Calls {
    fn read(admin: SocketAddr) -> (Calls, f64) {
        let rows: serde_json::Value = serde_json::from_str(&http(admin, "GET", "/admin/counters", "")).expect("counters");
        let mut calls = Calls::default();
        let mut throttled = 0.0;
        for row in rows.as_array().into_iter().flatten() {
            let count = row["count"].as_f64().unwrap_or(0.0);
            *calls
                .0
                .entry(row["operation"].as_str().unwrap_or_default().to_string())
                .or_default() += count;
            if row["code"].as_str().is_some_and(|c| c.contains("Throttling")) {
                throttled += count;
            }
        }
        (calls, throttled)
    }

    fn minus(&self, before: &Calls) -> Calls {
        Calls(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v - before.0.get(k).unwrap_or(&0.0)))
                .collect(),
        )
    }

    fn per_eip(&self, n: usize) -> String {
        self.0
            .iter()
            .filter(|(_, v)| **v > 0.0)
            .map(|(k, v)| format!("{k} {:.2}", v / n as f64))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Peak RSS (KiB) and CPU seconds of a process, from /proc.
fn usage(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (hwm, ticks / hz.max(1.0))
}

struct Phase {
    name: &'static str,
    wall: f64,
    bound: f64,
    calls: Calls,
    throttled: f64,
    kube_requests: f64,
}

async fn count_ready(api: &Api<ElasticIP>) -> (usize, usize) {
    let list = api.list(&ListParams::default()).await.expect("list");
    let ready = list
        .items
        .iter()
        .filter(|o| o.condition("Ready").is_some_and(|c| c.status == "True"))
        .count();
    (list.items.len(), ready)
}

async fn scenario(cp: &ControlPlane, operator_bin: &Path, n: usize) -> Vec<String> {
    let ns = format!("bench-{n}");
    cp.kubectl_ok(&["create", "namespace", &ns]);
    let (admin, metrics) = (free_addr(), free_addr());
    let log = |name: &str| std::fs::File::create(std::env::temp_dir().join(format!("eip-bench-{n}-{name}.log"))).expect("log");
    // The cloud: the simulator in its own process, speaking Alibaba's wire protocol.
    let mut simulator: Child = control_plane::spawn(
        Command::new(operator_bin)
            .args(["simulator", "--profile", "standard", "--seed", "1"])
            .arg(format!("--listen={admin}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log("simulator")),
    );
    let mut operator: Child = control_plane::spawn(
        Command::new(operator_bin)
            .args(["run", "--concurrency", "64", "--resync-seconds", "3600"])
            .args(["--namespace", &ns, "--log-format", "json"])
            .arg(format!("--metrics-addr={metrics}"))
            .env("KUBECONFIG", &cp.kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log("operator")),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(admin).is_err() || TcpStream::connect(metrics).is_err() {
        assert!(Instant::now() < deadline, "operator or simulator did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    http(
        admin,
        "POST",
        "/admin/regions/cn-hangzhou/instances",
        &format!(r#"{{"instanceType":"EcsInstance","prefix":"i-bench-","count":{n}}}"#),
    );
    let config = format!("bench-{n}");
    apply(
        cp,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {config}\n  namespace: {ns}\nstringData:\n  accessKeyId: {SIM_ACCESS_KEY_ID}\n  accessKeySecret: {SIM_ACCESS_KEY_SECRET}\n---\napiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: {config}\nspec:\n  provider: alibaba\n  region: cn-hangzhou\n  endpoint: http://{admin}\n  credentialsSecretRef:\n    name: {config}\n    namespace: {ns}\n  rateLimits:\n    mutatingPerSecond: 20\n    describePerSecond: 40\n"
        ),
    );

    let client = Client::try_from(cp.config(None).await).expect("client");
    let api: Api<ElasticIP> = Api::namespaced(client, &ns);
    let poll = Duration::from_millis(if n > 2000 { 2000 } else { 250 });
    let mut phases = Vec::new();

    // Create phase.
    let (calls0, throttled0) = Calls::read(admin);
    let kube0 = metric_sum(&http(metrics, "GET", "/metrics", ""), "eip_operator_kube_requests_total", "");
    let started = Instant::now();
    futures::stream::iter(1..=n)
        .map(|i| {
            let api = api.clone();
            let config = config.clone();
            async move {
                let mut eip = ElasticIP::new(
                    &format!("eip-{i:05}"),
                    ElasticIPSpec {
                        provider_config_ref: Some(ProviderConfigRef { name: config }),
                        binding: Some(Binding::to_instance(InstanceType::EcsInstance, format!("i-bench-{i:04}"))),
                        ..Default::default()
                    },
                );
                eip.metadata.namespace = None;
                api.create(&PostParams::default(), &eip).await.map(|_| ())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .expect("create ElasticIPs");
    let created_in = started.elapsed();
    let limit = Duration::from_secs((n as u64 / 5).max(120));
    loop {
        let (_, ready) = count_ready(&api).await;
        if ready == n {
            break;
        }
        assert!(started.elapsed() < limit, "only {ready} of {n} Ready after {:?}", started.elapsed());
        tokio::time::sleep(poll).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let (calls1, throttled1) = Calls::read(admin);
    let kube1 = metric_sum(&http(metrics, "GET", "/metrics", ""), "eip_operator_kube_requests_total", "");
    phases.push(Phase {
        name: "create",
        wall,
        bound: rate_bound(n) + ASSOCIATE_LATENCY,
        calls: calls1.minus(&calls0),
        throttled: throttled1 - throttled0,
        kube_requests: kube1 - kube0,
    });
    eprintln!("n={n}: {n} creates took {created_in:?}; all Ready after {wall:.1} s");

    // Delete phase: one `kubectl delete eip --all`.
    let started = Instant::now();
    api.delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("delete all");
    loop {
        let (left, _) = count_ready(&api).await;
        if left == 0 {
            break;
        }
        assert!(started.elapsed() < limit, "{left} of {n} left after {:?}", started.elapsed());
        tokio::time::sleep(poll).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let (calls2, throttled2) = Calls::read(admin);
    let text = http(metrics, "GET", "/metrics", "");
    let kube2 = metric_sum(&text, "eip_operator_kube_requests_total", "");
    phases.push(Phase {
        name: "delete",
        wall,
        bound: rate_bound(n) + UNASSOCIATE_LATENCY + RELEASE_LATENCY,
        calls: calls2.minus(&calls1),
        throttled: throttled2 - throttled1,
        kube_requests: kube2 - kube1,
    });
    let reconciles = metric_sum(&text, "eip_operator_reconciles_total", "");
    let leftover: serde_json::Value = serde_json::from_str(&http(admin, "GET", "/admin/regions/cn-hangzhou/eips", "")).expect("eips");
    assert_eq!(leftover.as_array().map(Vec::len), Some(0), "EIPs leaked");
    let (rss_kib, cpu) = usage(operator.id());
    unsafe {
        libc::kill(operator.id() as i32, libc::SIGTERM);
    }
    let _ = operator.wait();
    let _ = simulator.kill();
    let _ = simulator.wait();

    let total = calls2.minus(&calls0);
    let describes = total.0.get("Describe").copied().unwrap_or(0.0)
        + total.0.get("FindByOwner").copied().unwrap_or(0.0)
        + total.0.get("List").copied().unwrap_or(0.0);
    let mut rows = Vec::new();
    for p in &phases {
        rows.push(format!(
            "| {n} | {} | {:.1} s | {:.1} s | {:.3} | {} | {} | {:.1} |",
            p.name,
            p.wall,
            p.bound,
            p.wall / p.bound,
            p.calls.per_eip(n),
            p.throttled,
            p.kube_requests / n as f64,
        ));
    }
    rows.push(format!(
        "| {n} | lifecycle | | | | describe calls per EIP {:.3}; all calls per EIP {:.2} | {} | {:.1} | peak RSS {:.1} MiB, CPU {:.1} s, {:.2} ms per reconcile ({reconciles} reconciles)",
        describes / n as f64,
        total.0.values().sum::<f64>() / n as f64,
        throttled2 - throttled0,
        (kube2 - kube0) / n as f64,
        rss_kib as f64 / 1024.0,
        cpu,
        cpu * 1000.0 / reconciles.max(1.0),
    ));
    rows
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` would run this too, for minutes.
    if !std::env::args().any(|a| a == "--bench") {
        println!("converge: a benchmark; run it with `cargo bench --bench converge`");
        return;
    }
    let sizes: Vec<usize> = std::env::var("EIP_BENCH_N")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let operator_bin = Path::new(env!("CARGO_BIN_EXE_eip-operator"));
    let cp = ControlPlane::start(control_plane::tools_bin());
    cp.install_crds();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut rows = Vec::new();
    for n in sizes {
        rows.extend(runtime.block_on(scenario(&cp, operator_bin, n)));
    }
    println!();
    println!("| N | phase | wall | lower bound | ratio | cloud calls per EIP | throttled | kube requests per EIP | operator |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        println!("{row}");
    }
}
