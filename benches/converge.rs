//! `cargo bench --bench converge`: create N ElasticIPs (each with a binding) on a real local
//! kube-apiserver + etcd, wait until all are Ready, delete them all, wait until all are gone.
//! The operator and the cloud are separate processes: the operator binary with ProviderConfigs
//! of type `alibaba` pointed at `eip-operator simulator`, which serves Alibaba's wire protocol
//! (associate 1 s, unassociate 2 s, release 2 s; throttling beyond the quotas). Prints a table.
//!
//! - `EIP_BENCH_N=100,1000,10000`: sizes of the `standard` workload (20 calls/s per mutating
//!   API, 40/s Describe; the ProviderConfig sets the same `rateLimits`). Default 100,1000.
//! - `EIP_BENCH_PUBLISHED=1000`: sizes under Alibaba's published quotas (2/s allocate, associate,
//!   unassociate; 10/s describe, release), the ProviderConfig without `rateLimits`.
//! - `EIP_BENCH_ACCOUNTS=10x1000`: that many accounts (ProviderConfigs on regions with quotas of
//!   their own, 10 to 19 mutating calls/s) with that many addresses each, all at once.
//! - `EIP_BENCH_OPERATOR_BIN`: the operator binary to measure (default: this build's release
//!   binary), e.g. one built with `--features dhat-heap` for a heap profile.
//!
//! See BENCHMARKS.md.

#[path = "../tests/e2e/support/control_plane.rs"]
#[allow(dead_code)]
mod control_plane;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use control_plane::ControlPlane;
use eip_api::{Binding, ElasticIP, ElasticIPSpec, ProviderConfigRef};
use eip_cloud::InstanceType;
use eip_simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET};
use futures::{StreamExt, TryStreamExt};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};

/// The standard profile's latencies (crates/simulator/src/config.rs).
const ASSOCIATE_LATENCY: f64 = 1.0;
const UNASSOCIATE_LATENCY: f64 = 2.0;
const RELEASE_LATENCY: f64 = 2.0;

/// Seconds an API at `quota` calls/s needs for N calls: the token bucket starts full (one
/// second's worth), so the last of N calls can go out at (N - quota) / quota.
fn rate_bound(n: usize, quota: u32) -> f64 {
    (n as f64 - f64::from(quota)).max(0.0) / f64::from(quota)
}

/// One account: a region of the simulator with its quotas, a ProviderConfig, N addresses.
#[derive(Clone)]
struct Account {
    region: String,
    n: usize,
    mutating: u32,
    describe: u32,
    release: u32,
    /// The ProviderConfig sets `rateLimits` to the quotas (else the provider's defaults apply).
    set_rate_limits: bool,
}

impl Account {
    /// Create: allocate and associate pipelined at the mutating quota, plus the last bind.
    fn create_bound(&self) -> f64 {
        rate_bound(self.n, self.mutating) + ASSOCIATE_LATENCY
    }

    /// Delete: unassociate then release, pipelined, plus the last one's unbind and release.
    fn delete_bound(&self) -> f64 {
        rate_bound(self.n, self.mutating.min(self.release)) + UNASSOCIATE_LATENCY + RELEASE_LATENCY
    }
}

/// What one run creates and deletes.
struct Workload {
    label: String,
    /// The simulator's profile (`--profile`), for its latencies and default quotas.
    profile: &'static str,
    accounts: Vec<Account>,
}

impl Workload {
    fn standard(n: usize) -> Workload {
        Workload {
            label: n.to_string(),
            profile: "standard",
            accounts: vec![Account::named("cn-hangzhou", n, 20, 40, 20, true)],
        }
    }

    fn published(n: usize) -> Workload {
        Workload {
            label: format!("{n} published"),
            profile: "published",
            accounts: vec![Account::named("cn-hangzhou", n, 2, 10, 10, false)],
        }
    }

    /// `count` accounts of `n` each, with quotas of 10 + i mutating calls/s.
    fn accounts(count: usize, n: usize) -> Workload {
        Workload {
            label: format!("{count} × {n}"),
            profile: "standard",
            accounts: (0..count)
                .map(|i| Account::named(&format!("cn-account{i}"), n, 10 + i as u32, 40, 10 + i as u32, true))
                .collect(),
        }
    }

    fn n(&self) -> usize {
        self.accounts.iter().map(|a| a.n).sum()
    }

    /// The simulator's `--config`: every account a region of its own with its own quotas.
    fn simulator_config(&self) -> serde_json::Value {
        let regions: Vec<serde_json::Value> = self
            .accounts
            .iter()
            .map(|a| {
                serde_json::json!({
                    "name": a.region,
                    "flavor": "Alibaba",
                    "rateLimits": { "mutatingPerSecond": a.mutating, "describePerSecond": a.describe, "releasePerSecond": a.release },
                })
            })
            .collect();
        serde_json::json!({
            "latencies": { "allocateMs": 1000, "associateMs": 1000, "unassociateMs": 2000, "releaseMs": 2000 },
            "regions": regions,
        })
    }
}

impl Account {
    fn named(region: &str, n: usize, mutating: u32, describe: u32, release: u32, set_rate_limits: bool) -> Account {
        Account {
            region: region.to_string(),
            n,
            mutating,
            describe,
            release,
            set_rate_limits,
        }
    }
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
    /// Why the phase did not finish, with what it measured until then.
    failed: Option<String>,
}

async fn count_ready(api: &Api<ElasticIP>) -> Result<(usize, usize), kube::Error> {
    let list = api.list(&ListParams::default()).await?;
    let ready = list
        .items
        .iter()
        .filter(|o| o.condition("Ready").is_some_and(|c| c.status == "True"))
        .count();
    Ok((list.items.len(), ready))
}

/// Waits until `done(total, ready)` or `limit` after `started`; a failed list is retried (the API
/// server is busy at this scale), not fatal.
async fn wait_for(
    api: &Api<ElasticIP>,
    started: Instant,
    limit: Duration,
    poll: Duration,
    done: impl Fn(usize, usize) -> bool,
) -> Result<(), String> {
    let mut last = (0, 0);
    loop {
        match count_ready(api).await {
            Ok((total, ready)) if done(total, ready) => return Ok(()),
            Ok(seen) => last = seen,
            Err(e) => eprintln!("list failed (retrying): {e}"),
        }
        if started.elapsed() > limit {
            return Err(format!(
                "{} objects, {} Ready after {:.0} s",
                last.0,
                last.1,
                started.elapsed().as_secs_f64()
            ));
        }
        tokio::time::sleep(poll).await;
    }
}

/// Deletes every ElasticIP the way `kubectl delete eip --all` does: list the names, delete each
/// (a 404 is fine), each delete retried a few times; never one request for all of them, which
/// at 10,000 objects outlived its connection.
async fn delete_all(api: &Api<ElasticIP>) -> Result<(), String> {
    let mut names = Vec::new();
    for attempt in 0..5 {
        match api.list_metadata(&ListParams::default()).await {
            Ok(list) => {
                names = list.items.into_iter().filter_map(|o| o.metadata.name).collect();
                break;
            }
            Err(e) if attempt == 4 => return Err(format!("list: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_secs(2)).await,
        }
    }
    let failures: Vec<String> = futures::stream::iter(names)
        .map(|name| {
            let api = api.clone();
            async move {
                for attempt in 0..5 {
                    match api.delete(&name, &DeleteParams::default()).await {
                        Ok(_) => return None,
                        Err(kube::Error::Api(e)) if e.code == 404 => return None,
                        Err(e) if attempt == 4 => return Some(format!("{name}: {e}")),
                        Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                    }
                }
                None
            }
        })
        .buffer_unordered(16)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    match failures.first() {
        None => Ok(()),
        Some(first) => Err(format!("{} deletes failed, the first {first}", failures.len())),
    }
}

async fn scenario(cp: &ControlPlane, operator_bin: &Path, workload: &Workload) -> Vec<String> {
    let n = workload.n();
    let tag = workload.label.replace([' ', '×'], "");
    let ns = format!("bench-{tag}");
    cp.kubectl_ok(&["create", "namespace", &ns]);
    let (admin, metrics) = (free_addr(), free_addr());
    let log = |name: &str| std::fs::File::create(std::env::temp_dir().join(format!("eip-bench-{tag}-{name}.log"))).expect("log");
    let config_path = std::env::temp_dir().join(format!("eip-bench-{tag}-simulator.json"));
    std::fs::write(&config_path, workload.simulator_config().to_string()).expect("simulator config");
    // The cloud: the simulator in its own process, speaking Alibaba's wire protocol.
    let mut simulator: Child = control_plane::spawn(
        Command::new(operator_bin)
            .args(["simulator", "--profile", workload.profile, "--seed", "1"])
            .arg(format!("--config={}", config_path.display()))
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
            .env(
                "RUST_LOG",
                std::env::var("EIP_BENCH_OPERATOR_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(log("operator")),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(admin).is_err() || TcpStream::connect(metrics).is_err() {
        assert!(Instant::now() < deadline, "operator or simulator did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut objects = Vec::new();
    for (a, account) in workload.accounts.iter().enumerate() {
        let prefix = format!("i-bench{a}-");
        http(
            admin,
            "POST",
            &format!("/admin/regions/{}/instances", account.region),
            &format!(r#"{{"instanceType":"EcsInstance","prefix":"{prefix}","count":{}}}"#, account.n),
        );
        let config = format!("bench-{tag}-{a}");
        let limits = if account.set_rate_limits {
            format!(
                "  rateLimits:\n    mutatingPerSecond: {}\n    describePerSecond: {}\n    releasePerSecond: {}\n",
                account.mutating, account.describe, account.release
            )
        } else {
            String::new()
        };
        apply(
            cp,
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {config}\n  namespace: {ns}\nstringData:\n  accessKeyId: {SIM_ACCESS_KEY_ID}\n  accessKeySecret: {SIM_ACCESS_KEY_SECRET}\n---\napiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: {config}\nspec:\n  provider: alibaba\n  region: {}\n  endpoint: http://{admin}\n  credentialsSecretRef:\n    name: {config}\n    namespace: {ns}\n{limits}",
                account.region
            ),
        );
        objects.extend((1..=account.n).map(|i| (format!("eip-{a}-{i:05}"), config.clone(), format!("{prefix}{i:04}"))));
    }
    // Interleaved, so every account has work from the start.
    objects.sort_by_key(|(name, _, _)| name.rsplit('-').next().map(str::to_string));

    let client = Client::try_from(cp.config(None).await).expect("client");
    let api: Api<ElasticIP> = Api::namespaced(client, &ns);
    let poll = Duration::from_millis(if n > 2000 { 2000 } else { 250 });
    let create_bound = workload.accounts.iter().map(Account::create_bound).fold(0.0, f64::max);
    let delete_bound = workload.accounts.iter().map(Account::delete_bound).fold(0.0, f64::max);
    let limit = |bound: f64| Duration::from_secs_f64((bound * 3.0).max(120.0));
    let mut phases = Vec::new();

    // Create phase.
    let (calls0, throttled0) = Calls::read(admin);
    let kube0 = metric_sum(&http(metrics, "GET", "/metrics", ""), "eip_operator_kube_requests_total", "");
    let started = Instant::now();
    let created = futures::stream::iter(objects)
        .map(|(name, config, instance)| {
            let api = api.clone();
            async move {
                let mut eip = ElasticIP::new(
                    &name,
                    ElasticIPSpec {
                        provider_config_ref: Some(ProviderConfigRef { name: config }),
                        binding: Some(Binding::to_instance(InstanceType::EcsInstance, instance)),
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
        .map_err(|e| format!("create: {e}"));
    let created_in = started.elapsed();
    let failed = match created {
        Ok(_) => wait_for(&api, started, limit(create_bound), poll, |_, ready| ready == n)
            .await
            .err(),
        Err(e) => Some(e),
    };
    let wall = started.elapsed().as_secs_f64();
    let (calls1, throttled1) = Calls::read(admin);
    let kube1 = metric_sum(&http(metrics, "GET", "/metrics", ""), "eip_operator_kube_requests_total", "");
    phases.push(Phase {
        name: "create",
        wall,
        bound: create_bound,
        calls: calls1.minus(&calls0),
        throttled: throttled1 - throttled0,
        kube_requests: kube1 - kube0,
        failed,
    });
    eprintln!("{}: {n} creates took {created_in:?}; all Ready after {wall:.1} s", workload.label);

    // Delete phase: what `kubectl delete eip --all` does.
    let started = Instant::now();
    let failed = match delete_all(&api).await {
        Ok(()) => wait_for(&api, started, limit(delete_bound), poll, |total, _| total == 0)
            .await
            .err(),
        Err(e) => Some(e),
    };
    let wall = started.elapsed().as_secs_f64();
    let (calls2, throttled2) = Calls::read(admin);
    let text = http(metrics, "GET", "/metrics", "");
    let kube2 = metric_sum(&text, "eip_operator_kube_requests_total", "");
    phases.push(Phase {
        name: "delete",
        wall,
        bound: delete_bound,
        calls: calls2.minus(&calls1),
        throttled: throttled2 - throttled1,
        kube_requests: kube2 - kube1,
        failed,
    });
    let reconciles = metric_sum(&text, "eip_operator_reconciles_total", "");
    let mut leaked = 0;
    for account in &workload.accounts {
        let left: serde_json::Value =
            serde_json::from_str(&http(admin, "GET", &format!("/admin/regions/{}/eips", account.region), "")).unwrap_or_default();
        leaked += left.as_array().map_or(0, Vec::len);
    }
    if let Some(step) = std::env::var("EIP_BENCH_TIMELINE").ok().and_then(|s| s.parse::<u64>().ok()) {
        print_timeline(admin, step.max(1) * 1000);
    }
    let (rss_kib, cpu) = usage(operator.id());
    unsafe {
        libc::kill(operator.id() as i32, libc::SIGTERM);
    }
    let _ = operator.wait();
    let _ = simulator.kill();
    let _ = simulator.wait();
    let _ = std::fs::remove_file(&config_path);

    let total = calls2.minus(&calls0);
    let describes = total.0.get("Describe").copied().unwrap_or(0.0)
        + total.0.get("FindByOwner").copied().unwrap_or(0.0)
        + total.0.get("List").copied().unwrap_or(0.0);
    let label = &workload.label;
    let mut rows = Vec::new();
    for p in &phases {
        let ratio = match &p.failed {
            None => format!("{:.3}", p.wall / p.bound),
            Some(why) => format!("**failed**: {why}"),
        };
        rows.push(format!(
            "| {label} | {} | {:.1} s | {:.1} s | {ratio} | {} | {} | {:.1} |",
            p.name,
            p.wall,
            p.bound,
            p.calls.per_eip(n),
            p.throttled,
            p.kube_requests / n as f64,
        ));
    }
    rows.push(format!(
        "| {label} | lifecycle | | | | describe calls per EIP {:.3}; all calls per EIP {:.2} | {} | {:.1} | peak RSS {:.1} MiB, CPU {:.1} s, {:.2} ms per reconcile ({reconciles} reconciles){} |",
        describes / n as f64,
        total.0.values().sum::<f64>() / n as f64,
        throttled2 - throttled0,
        (kube2 - kube0) / n as f64,
        rss_kib as f64 / 1024.0,
        cpu,
        cpu * 1000.0 / reconciles.max(1.0),
        if leaked > 0 { format!("; **{leaked} EIPs left in the cloud**") } else { String::new() },
    ));
    rows
}

/// Cloud calls per operation in windows of `step_ms`, from the simulator's call log (stderr):
/// where a phase's ratio goes, e.g. whether releases keep pace with the unbinds before them.
fn print_timeline(admin: SocketAddr, step_ms: u64) {
    let calls: serde_json::Value = serde_json::from_str(&http(admin, "GET", "/admin/calls?since=0", "")).unwrap_or_default();
    let calls = calls.as_array().cloned().unwrap_or_default();
    let Some(first) = calls.iter().filter_map(|c| c["atMs"].as_u64()).min() else {
        return;
    };
    let mut windows: BTreeMap<u64, BTreeMap<String, u64>> = BTreeMap::new();
    for call in &calls {
        let (Some(at), Some(op)) = (call["atMs"].as_u64(), call["operation"].as_str()) else {
            continue;
        };
        *windows
            .entry((at - first) / step_ms)
            .or_default()
            .entry(op.to_string())
            .or_default() += 1;
    }
    for (window, ops) in windows {
        let ops: Vec<String> = ops.iter().map(|(op, count)| format!("{op} {count}")).collect();
        eprintln!("timeline {:>6.1} s: {}", (window * step_ms) as f64 / 1000.0, ops.join(", "));
    }
}

/// Sizes from a comma-separated variable.
fn sizes(var: &str, default: &str) -> Vec<usize> {
    std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` would run this too, for minutes.
    if !std::env::args().any(|a| a == "--bench") {
        println!("converge: a benchmark; run it with `cargo bench --bench converge`");
        return;
    }
    let mut workloads: Vec<Workload> = sizes("EIP_BENCH_N", "100,1000").into_iter().map(Workload::standard).collect();
    workloads.extend(sizes("EIP_BENCH_PUBLISHED", "").into_iter().map(Workload::published));
    if let Ok(spec) = std::env::var("EIP_BENCH_ACCOUNTS")
        && let Some((count, n)) = spec.split_once('x')
        && let (Ok(count), Ok(n)) = (count.trim().parse(), n.trim().parse())
    {
        workloads.push(Workload::accounts(count, n));
    }
    let operator_bin =
        std::env::var_os("EIP_BENCH_OPERATOR_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_eip-operator")), PathBuf::from);
    let operator_bin = operator_bin.as_path();
    let cp = ControlPlane::start(control_plane::tools_bin());
    cp.install_crds();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut rows = Vec::new();
    for workload in &workloads {
        rows.extend(runtime.block_on(scenario(&cp, operator_bin, workload)));
    }
    println!();
    println!("| N | phase | wall | lower bound | ratio | cloud calls per EIP | throttled | kube requests per EIP | operator |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        println!("{row}");
    }
}
