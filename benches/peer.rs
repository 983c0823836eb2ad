//! `cargo bench --bench peer`: eip-operator side by side with a peer, MaterializeInc's
//! k8s-eip-operator (AWS only), on the same work: a fresh `moto_server` per run (from the SDK
//! venv that `tests/sdk/run.sh --install-only` creates) behind a counting proxy, the same kind of
//! local kube-apiserver + etcd; N addresses, each bound to its own moto instance, then all
//! deleted. The peer binds through Node objects (providerID `aws:///<az>/<instance>`, an
//! InternalIP, Ready, the `eip.materialize.cloud/manage` label) selected by a label selector in
//! its `Eip` (materialize.cloud/v2); ours binds an `ElasticIP` to the same Node with `nodeRef`.
//!
//! - `EIP_PEER_N=100,1000`: sizes (default 100).
//! - `EIP_PEER_BIN`: the peer's binary (default /tmp/peer-target/release/eip-operator, built
//!   from ../shared/peers/k8s-eip-operator with `CARGO_TARGET_DIR=/tmp/peer-target cargo build
//!   --release -p eip-operator`; it needs Debian's libssl-dev and pkg-config).
//! - `EIP_SDK_VENV`: the venv with moto (default target/sdk-venv).
//! - `EIP_PEER_RATE_LIMITS=mutating,describe`: our ProviderConfig's `rateLimits` (default
//!   20,20; `none`: no limits). The peer has no such setting.
//!
//! See BENCHMARKS.md, "Side by side with a peer".

#[path = "../tests/e2e/support/control_plane.rs"]
#[allow(dead_code)]
mod control_plane;

#[path = "../tests/e2e/aws_moto.rs"]
#[allow(dead_code)]
mod aws_moto;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_moto::{Moto, Seen};
use control_plane::ControlPlane;
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::{Api, Client};

/// Our ProviderConfig's `rateLimits` (`EIP_PEER_RATE_LIMITS=mutating,describe` calls/s; default
/// 20,20: EC2 refills a non-mutating API's bucket at 20 calls/s by default). Without limits the
/// AWS provider paces nothing, and at N = 1,000 its owner lookups (one before each allocation on
/// a cloud without allocation tokens) outran moto until nothing was answered within 30 s; with
/// them, a timeout also halves the pace. `none` runs without.
fn rate_limits() -> String {
    let spec = std::env::var("EIP_PEER_RATE_LIMITS").unwrap_or_else(|_| "20,20".into());
    match spec.split_once(',') {
        Some((m, d)) => format!(
            "  rateLimits:\n    mutatingPerSecond: {}\n    describePerSecond: {}\n",
            m.trim(),
            d.trim()
        ),
        None => String::new(),
    }
}

/// Longest wait for one phase; a phase that does not finish by then is reported as failed.
const PHASE_LIMIT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(250);
const PEER_MANAGE_LABEL: &str = "eip.materialize.cloud/manage";
const PEER_SELECT_LABEL: &str = "bench.eip-operator.dev/node";
const PEER_RUN_LABEL: &str = "bench.eip-operator.dev/run";

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Ours,
    Peer,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Ours => "eip-operator",
            Side::Peer => "k8s-eip-operator",
        }
    }
}

/// A moto instance: its ID, private IP and availability zone.
struct Instance {
    id: String,
    private_ip: String,
    zone: String,
}

/// The instances of a RunInstances answer (direct children of each `instancesSet` item).
fn instances_of(body: &str) -> Vec<Instance> {
    let Ok(doc) = roxmltree::Document::parse(body) else {
        return Vec::new();
    };
    let child = |node: roxmltree::Node, name: &str| {
        node.children()
            .find(|c| c.is_element() && c.tag_name().name() == name)
            .and_then(|c| c.text())
            .map(str::to_owned)
    };
    doc.descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "item")
        .filter(|n| n.parent().is_some_and(|p| p.tag_name().name() == "instancesSet"))
        .filter_map(|item| {
            let zone = item
                .children()
                .find(|c| c.tag_name().name() == "placement")
                .and_then(|p| child(p, "availabilityZone"))
                .unwrap_or_else(|| "us-east-1a".into());
            Some(Instance {
                id: child(item, "instanceId")?,
                private_ip: child(item, "privateIpAddress")?,
                zone,
            })
        })
        .collect()
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

/// Every request the API server has answered (`apiserver_request_total`), all clients.
fn apiserver_requests(cp: &ControlPlane) -> f64 {
    let out = cp.kubectl(&["get", "--raw", "/metrics"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// EC2 calls by action (with how many were not 200) in `seen[from..]`.
fn calls_since(seen: &Arc<Mutex<Vec<Seen>>>, from: usize) -> (BTreeMap<String, usize>, usize) {
    let seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut by_action = BTreeMap::new();
    let mut errors = 0;
    for call in seen.iter().skip(from) {
        let action = if call.action().is_empty() { "(other)" } else { call.action() };
        *by_action.entry(action.to_owned()).or_insert(0) += 1;
        if call.status != 200 {
            errors += 1;
        }
    }
    (by_action, errors)
}

fn seen_len(seen: &Arc<Mutex<Vec<Seen>>>) -> usize {
    seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
}

struct Phase {
    name: &'static str,
    wall: f64,
    calls: BTreeMap<String, usize>,
    errors: usize,
    kube_requests: f64,
    cpu: f64,
    failed: Option<String>,
}

/// One side's objects: ours `ElasticIP`s, the peer's `Eip`s, both namespaced.
fn api_for(client: &Client, side: Side, ns: &str) -> Api<DynamicObject> {
    let gvk = match side {
        Side::Ours => GroupVersionKind::gvk("eip-operator.dev", "v1alpha1", "ElasticIP"),
        Side::Peer => GroupVersionKind::gvk("materialize.cloud", "v2", "Eip"),
    };
    let plural = if side == Side::Ours { "elasticips" } else { "eips" };
    Api::namespaced_with(client.clone(), ns, &ApiResource::from_gvk_with_plural(&gvk, plural))
}

/// Bound: ours Ready=True; the peer's status carries an association ID.
fn is_bound(side: Side, object: &DynamicObject) -> bool {
    let status = &object.data["status"];
    match side {
        Side::Ours => status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True"),
        Side::Peer => status["associationId"].as_str().is_some_and(|s| !s.is_empty()),
    }
}

/// Polls until `done(total, bound)`, or the limit; the bench's own requests are counted.
async fn wait_for(api: &Api<DynamicObject>, side: Side, own_requests: &mut f64, done: impl Fn(usize, usize) -> bool) -> Result<(), String> {
    let started = Instant::now();
    let mut last = (0, 0);
    loop {
        *own_requests += 1.0;
        match api.list(&ListParams::default()).await {
            Ok(list) => {
                let bound = list.items.iter().filter(|o| is_bound(side, o)).count();
                last = (list.items.len(), bound);
                if done(last.0, last.1) {
                    return Ok(());
                }
            }
            Err(e) => eprintln!("list failed (retrying): {e}"),
        }
        if started.elapsed() > PHASE_LIMIT {
            return Err(format!(
                "{} objects, {} bound after {:.0} s",
                last.0,
                last.1,
                started.elapsed().as_secs_f64()
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn kubectl_apply(cp: &ControlPlane, yaml: &str) -> Result<(), String> {
    let mut child = cp
        .kubectl_command(&["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("kubectl: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(yaml.as_bytes()).map_err(|e| format!("kubectl stdin: {e}"))?;
    }
    match child.wait() {
        Ok(s) if s.success() => Ok(()),
        other => Err(format!("kubectl apply: {other:?}")),
    }
}

/// One Node per instance, with the status the peer's node controller reads (both operators bind
/// through them: ours with `nodeRef`, the peer with a label selector). Named after the run, and
/// only the peer's carry its manage label, so neither operator sees the other run's Nodes.
async fn create_nodes(cp: &ControlPlane, client: &Client, side: Side, tag: &str, instances: &[Instance]) -> Result<(), String> {
    let manage = if side == Side::Peer {
        format!("    {PEER_MANAGE_LABEL}: \"true\"\n")
    } else {
        String::new()
    };
    let yaml: String = instances
        .iter()
        .enumerate()
        .map(|(i, inst)| {
            format!(
                "---\napiVersion: v1\nkind: Node\nmetadata:\n  name: {tag}-node-{i:05}\n  labels:\n{manage}    {PEER_SELECT_LABEL}: n{i:05}\n    {PEER_RUN_LABEL}: {tag}\nspec:\n  providerID: aws:///{}/{}\n",
                inst.zone, inst.id
            )
        })
        .collect();
    kubectl_apply(cp, &yaml)?;
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    for (i, inst) in instances.iter().enumerate() {
        let status = serde_json::json!({"status": {
            "addresses": [{"type": "InternalIP", "address": inst.private_ip}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "Bench", "message": "bench"}],
        }});
        nodes
            .patch_status(&format!("{tag}-node-{i:05}"), &PatchParams::default(), &Patch::Merge(&status))
            .await
            .map_err(|e| format!("node status: {e}"))?;
    }
    Ok(())
}

fn objects_yaml(side: Side, ns: &str, tag: &str, n: usize) -> String {
    (0..n)
        .map(|i| match side {
            Side::Ours => format!(
                "---\napiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIP\nmetadata:\n  name: eip-{i:05}\n  namespace: {ns}\nspec:\n  providerConfigRef:\n    name: bench-moto\n  binding:\n    nodeRef:\n      name: {tag}-node-{i:05}\n"
            ),
            Side::Peer => format!(
                "---\napiVersion: materialize.cloud/v2\nkind: Eip\nmetadata:\n  name: eip-{i:05}\n  namespace: {ns}\nspec:\n  selector:\n    node:\n      selector:\n        {PEER_SELECT_LABEL}: n{i:05}\n"
            ),
        })
        .collect()
}

/// Starts one side's operator against `endpoint`; it is ready when its CRD is served (peer) or
/// its metrics port listens (ours).
/// Starts the operator and, like a kubelet, starts it again when it exits in its first seconds
/// (the peer exits when its first request meets "storage is (re)initializing" right after it
/// installed its CRD), up to three times.
fn start_operator(cp: &ControlPlane, side: Side, ours: &Path, peer: &Path, endpoint: &str, ns: &str, log: &Path) -> Result<Child, String> {
    let mut last = String::new();
    for attempt in 0..3 {
        let file = log.with_extension(format!("{attempt}.log"));
        let mut child = start_once(cp, side, ours, peer, endpoint, ns, &file)?;
        std::thread::sleep(Duration::from_secs(3));
        match child.try_wait() {
            Ok(None) => return Ok(child),
            Ok(Some(status)) => last = format!("{} exited at start ({status}); log {}", side.name(), file.display()),
            Err(e) => last = format!("{}: {e}", side.name()),
        }
        eprintln!("peer bench: {last}; starting it again");
    }
    Err(last)
}

fn start_once(cp: &ControlPlane, side: Side, ours: &Path, peer: &Path, endpoint: &str, ns: &str, log: &Path) -> Result<Child, String> {
    let log = std::fs::File::create(log).map_err(|e| format!("log: {e}"))?;
    let metrics = control_plane::free_port();
    let child = match side {
        Side::Ours => control_plane::spawn(
            Command::new(ours)
                .args(["run", "--concurrency", "64", "--resync-seconds", "3600", "--namespace", ns])
                .arg(format!("--metrics-addr=127.0.0.1:{metrics}"))
                .env("KUBECONFIG", &cp.kubeconfig)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log),
        ),
        Side::Peer => control_plane::spawn(
            Command::new(peer)
                .env("KUBECONFIG", &cp.kubeconfig)
                .env("NAMESPACE", ns)
                .env("CLUSTER_NAME", "bench")
                .env("AWS_ENDPOINT_URL", endpoint)
                .env("AWS_REGION", aws_moto::REGION)
                .env("AWS_ACCESS_KEY_ID", aws_moto::KEY)
                .env("AWS_SECRET_ACCESS_KEY", aws_moto::KEY)
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log),
        ),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = match side {
            Side::Ours => TcpStream::connect(("127.0.0.1", metrics)).is_ok(),
            Side::Peer => cp
                .kubectl(&[
                    "get",
                    "crd",
                    "eips.materialize.cloud",
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
                ])
                .stdout
                .starts_with(b"True"),
        };
        if ready {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let mut child = child;
            control_plane::terminate(&mut child);
            return Err(format!("{} did not start within 60 s", side.name()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Run {
    side: Side,
    n: usize,
    phases: Vec<Phase>,
    peak_rss_kib: u64,
    leaked: Option<usize>,
    failed: Option<String>,
}

async fn run(cp: &ControlPlane, python: &PathBuf, side: Side, n: usize, ours: &Path, peer: &Path) -> Run {
    let mut result = Run {
        side,
        n,
        phases: Vec::new(),
        peak_rss_kib: 0,
        leaked: None,
        failed: None,
    };
    let moto = Moto::start(python);
    let (endpoint, seen) = aws_moto::counting_proxy(&moto.url).await;
    let ec2 = aws_moto::ec2(&moto.url);
    let count = n.to_string();
    let answer = match moto_call(
        &ec2,
        "RunInstances",
        &[
            ("ImageId", "ami-12c6146b"),
            ("MinCount", &count),
            ("MaxCount", &count),
            ("InstanceType", "t3.micro"),
        ],
    )
    .await
    {
        Ok(answer) => answer,
        Err(e) => {
            result.failed = Some(e);
            return result;
        }
    };
    let instances = instances_of(&answer);
    if instances.len() != n {
        result.failed = Some(format!("moto ran {} instances of {n}", instances.len()));
        return result;
    }
    let tag = format!("{}-{n}", if side == Side::Ours { "ours" } else { "peer" });
    let ns = format!("bench-{tag}");
    cp.kubectl_ok(&["create", "namespace", &ns]);
    let client = match Client::try_from(cp.config(None).await) {
        Ok(c) => c,
        Err(e) => {
            result.failed = Some(format!("client: {e}"));
            return result;
        }
    };
    if let Err(e) = create_nodes(cp, &client, side, &tag, &instances).await {
        result.failed = Some(e);
        return result;
    }
    let prepared = match side {
        Side::Ours => kubectl_apply(
            cp,
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: bench-moto\n  namespace: {ns}\nstringData:\n  accessKeyId: {k}\n  secretAccessKey: {k}\n---\napiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: bench-moto\nspec:\n  provider: aws\n  region: {r}\n  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: bench-moto\n    namespace: {ns}\n{limits}",
                k = aws_moto::KEY,
                limits = rate_limits(),
                r = aws_moto::REGION
            ),
        ),
        Side::Peer => Ok(()),
    };
    if let Err(e) = prepared {
        result.failed = Some(e);
        return result;
    }
    let log = std::env::temp_dir().join(format!("eip-peer-bench-{tag}.log"));
    let mut operator = match start_operator(cp, side, ours, peer, &endpoint, &ns, &log) {
        Ok(child) => child,
        Err(e) => {
            result.failed = Some(e);
            return result;
        }
    };
    let pid = operator.id();
    let api = api_for(&client, side, &ns);

    for name in ["create → all bound", "delete → all released"] {
        let (from, kube0, cpu0) = (seen_len(&seen), apiserver_requests(cp), usage(pid).1);
        let mut own = 2.0; // the two metric reads
        let started = Instant::now();
        let outcome = if name.starts_with("create") {
            own += n as f64;
            match kubectl_apply(cp, &objects_yaml(side, &ns, &tag, n)) {
                Ok(()) => wait_for(&api, side, &mut own, |total, bound| total == n && bound == n).await,
                Err(e) => Err(e),
            }
        } else {
            own += 1.0;
            match api.delete_collection(&DeleteParams::default(), &ListParams::default()).await {
                Ok(_) => wait_for(&api, side, &mut own, |total, _| total == 0).await,
                Err(e) => Err(format!("delete: {e}")),
            }
        };
        let wall = started.elapsed().as_secs_f64();
        let (calls, errors) = calls_since(&seen, from);
        let kube = apiserver_requests(cp) - kube0 - own;
        let failed = outcome.err();
        let stop = failed.is_some();
        result.phases.push(Phase {
            name,
            wall,
            calls,
            errors,
            kube_requests: kube,
            cpu: usage(pid).1 - cpu0,
            failed,
        });
        if stop {
            break;
        }
    }
    result.peak_rss_kib = usage(pid).0;
    control_plane::terminate(&mut operator);
    cp.kubectl(&["delete", "nodes", "-l", &format!("{PEER_RUN_LABEL}={tag}"), "--wait=false"]);
    // What is left allocated in moto after the run (0 when every address was released).
    let describe = moto_call(&ec2, "DescribeAddresses", &[]).await;
    if let Err(e) = &describe {
        eprintln!("{} N={n}: cannot count what is left in moto: {e}", side.name());
    }
    result.leaked = describe.ok().and_then(|body| {
        roxmltree::Document::parse(&body).ok().map(|doc| {
            doc.descendants()
                .filter(|n| n.is_element() && n.tag_name().name() == "allocationId")
                .count()
        })
    });
    drop(moto);
    result
}

/// The bench's own call to moto (not through the counting proxy), a few tries: moto is one
/// Python process, and an answer over a large account can outlast one request's timeout on a busy
/// machine. An error is the run's failure, never a panic that loses the runs before it.
async fn moto_call(client: &eip_aws::client::QueryClient, action: &str, params: &[(&str, &str)]) -> Result<String, String> {
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let mut last = String::new();
    for _ in 0..4 {
        match client
            .call(eip_cloud::Operation::Describe, action, &params, Some(&aws_moto::keys()))
            .await
        {
            Ok(answer) => return Ok(answer.body),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Err(format!("{action} on moto: {last}"))
}

fn row(run: &Run, phase: &Phase) -> String {
    let per = |v: f64| v / run.n as f64;
    let calls = phase
        .calls
        .iter()
        .map(|(k, v)| format!("{k} {:.2}", per(*v as f64)))
        .collect::<Vec<_>>()
        .join(", ");
    let wall = match &phase.failed {
        Some(why) => format!("FAILED ({why}) {:.1} s", phase.wall),
        None => format!("{:.1} s", phase.wall),
    };
    format!(
        "| {} | {} | {} | {wall} | {calls} | {} | {:.1} | {:.1} s | {} MiB |",
        run.n,
        run.side.name(),
        phase.name,
        phase.errors,
        per(phase.kube_requests),
        phase.cpu,
        run.peak_rss_kib / 1024
    )
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` must not run this.
    if !std::env::args().any(|a| a == "--bench") {
        println!("peer: a benchmark; run it with `cargo bench --bench peer`");
        return;
    }
    let python = match aws_moto::moto_python() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("peer bench: {e}");
            std::process::exit(1);
        }
    };
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_eip-operator"));
    let peer = std::env::var_os("EIP_PEER_BIN").map_or_else(|| PathBuf::from("/tmp/peer-target/release/eip-operator"), PathBuf::from);
    let sides: Vec<Side> = if peer.exists() {
        vec![Side::Ours, Side::Peer]
    } else {
        eprintln!(
            "peer bench: no peer binary at {} (build it, see the header); ours only",
            peer.display()
        );
        vec![Side::Ours]
    };
    let sizes: Vec<usize> = std::env::var("EIP_PEER_N")
        .unwrap_or_else(|_| "100".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let cp = ControlPlane::start(control_plane::tools_bin());
    cp.install_crds();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut runs = Vec::new();
    for &n in &sizes {
        for &side in &sides {
            let run = runtime.block_on(run(&cp, &python, side, n, &ours, &peer));
            if let Some(why) = &run.failed {
                eprintln!("{} N={n}: {why}", side.name());
            }
            // As each run ends, so that a later failure loses nothing measured.
            for phase in &run.phases {
                eprintln!("peer bench: {}", row(&run, phase));
            }
            runs.push(run);
        }
    }
    println!();
    println!("| N | operator | phase | wall | EC2 calls per address | EC2 errors | kube requests per address | CPU | peak RSS |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for run in &runs {
        for phase in &run.phases {
            println!("{}", row(run, phase));
        }
    }
    println!();
    for run in &runs {
        println!(
            "{} N={}: addresses left in moto after the run: {:?}",
            run.side.name(),
            run.n,
            run.leaked
        );
    }
    for &n in &sizes {
        let wall = |side: Side, i: usize| {
            runs.iter()
                .find(|r| r.side == side && r.n == n)
                .and_then(|r| r.phases.get(i))
                .filter(|p| p.failed.is_none())
                .map(|p| p.wall)
        };
        for (i, name) in ["create", "delete"].iter().enumerate() {
            if let (Some(o), Some(p)) = (wall(Side::Ours, i), wall(Side::Peer, i)) {
                println!("N={n} {name}: ours / peer = {:.2}", o / p);
            }
        }
    }
}
