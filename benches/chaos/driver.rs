//! The chaos driver: one dedicated OS thread that owns every process of the soak (etcd,
//! kube-apiserver, the simulator, two operator replicas), supervises the replicas like a kubelet
//! (an exited replica is started again), and executes the scheduled chaos: SIGKILL of a replica,
//! failover (SIGKILL of the lease holder), kube-apiserver restarts, latency spikes.
//!
//! Why a thread of its own: children are spawned with `PR_SET_PDEATHSIG`, which fires when the
//! *spawning thread* exits; this thread lives exactly as long as the soak, and its guards
//! ([`Procs`], [`Cluster`]) stop every process by PID on the way out, panics included.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::cluster::{self, Cluster};

pub const LEASE_NAME: &str = "eip-operator-chaos";
pub const LEASE_NAMESPACE: &str = "eip-operator";
pub const NAMESPACE: &str = "chaos";
pub const REPLICAS: [&str; 2] = ["chaos-a", "chaos-b"];
pub const ALIBABA_REGION: &str = "cn-hangzhou";
pub const OTC_REGION: &str = "eu-de";
/// Huawei Cloud's ProviderConfig, on a region the simulator serves with the OTC flavour.
pub const HUAWEI_REGION: &str = "ap-southeast-1";

/// A plain HTTP/1.0 request on loopback: (status, body). Bounded by a 60 s read timeout.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").ok_or("no HTTP head")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status")?;
    Ok((status, body.to_string()))
}

/// `http` that must answer 2xx.
pub fn http_ok(addr: SocketAddr, method: &str, path: &str, body: &str) -> String {
    match http(addr, method, path, body) {
        Ok((status, text)) if (200..300).contains(&status) => text,
        other => panic!("{method} {path}: {other:?}"),
    }
}

/// The strings of a JSON array (none when it is not one).
pub fn strings(array: &serde_json::Value) -> Vec<String> {
    array
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// What the driver needs to know.
#[derive(Clone, Debug)]
pub struct DriverPlan {
    pub seed: u64,
    pub operator_bin: PathBuf,
    pub log_dir: PathBuf,
    pub kills: u32,
    pub failovers: u32,
    pub apiserver_restarts: u32,
    pub latency_spikes: u32,
    pub fault_rate: f64,
    /// Chaos events are spread over [8 s, `chaos_window`].
    pub chaos_window: Duration,
    /// Instances to create: (region, instanceType, prefix, count).
    pub pools: Vec<(String, String, String, u32)>,
}

/// What the driver did, for the table.
#[derive(Clone, Debug, Default)]
pub struct DriverStats {
    pub kills: u32,
    pub failovers: u32,
    pub failovers_skipped: u32,
    pub apiserver_restarts: u32,
    pub apiserver_downtime: Duration,
    pub latency_spikes: u32,
    /// Replicas that exited on their own (a lost lease, a crash) and were restarted.
    pub self_exits: u32,
    pub exit_statuses: Vec<String>,
    pub events: Vec<String>,
}

/// Handed to the async side once everything runs.
#[derive(Clone, Debug)]
pub struct Ready {
    pub kubeconfig: PathBuf,
    pub sim: SocketAddr,
    /// Instance IDs created per pool (same order as `DriverPlan::pools`).
    pub pools: Vec<Vec<String>>,
    #[allow(dead_code)]
    pub started: Instant,
}

pub struct DriverHandle {
    pub stop: Arc<AtomicBool>,
    pub stats: Arc<Mutex<DriverStats>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DriverHandle {
    pub fn finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the driver (which stops every process) and waits for it; `Err` when it panicked.
    pub fn shutdown(&mut self) -> Result<(), String> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|e| {
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "driver panicked".into())
            }),
            None => Ok(()),
        }
    }
}

impl Drop for DriverHandle {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Starts the driver thread; `ready` receives the endpoints once the world is up (or is dropped
/// when setup fails: the driver's panic is then reported by `shutdown`).
pub fn start(plan: DriverPlan, ready: std::sync::mpsc::Sender<Ready>) -> DriverHandle {
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(Mutex::new(DriverStats::default()));
    let (stop2, stats2) = (stop.clone(), stats.clone());
    let thread = std::thread::Builder::new()
        .name("chaos-driver".into())
        .spawn(move || drive(plan, ready, stop2, stats2))
        .expect("driver thread");
    DriverHandle {
        stop,
        stats,
        thread: Some(thread),
    }
}

/// The simulator and the replicas; every child is SIGKILLed by PID on drop.
struct Procs {
    simulator: Option<Child>,
    replicas: BTreeMap<String, Child>,
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, mut child) in std::mem::take(&mut self.replicas) {
            cluster::terminate(&mut child, Duration::from_secs(5));
        }
        if let Some(mut child) = self.simulator.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn log_file(dir: &Path, name: &str) -> fs::File {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .expect("log file")
}

fn start_replica(plan: &DriverPlan, kubeconfig: &Path, identity: &str) -> Child {
    cluster::spawn(
        Command::new(&plan.operator_bin)
            .args(["run", "--leader-election", "--lease-name", LEASE_NAME])
            .args(["--lease-namespace", LEASE_NAMESPACE, "--lease-duration-seconds", "8"])
            .args(["--namespace", NAMESPACE, "--instance", identity, "--log-format", "json"])
            .args(["--resync-seconds", "10", "--stalled-resync-seconds", "3"])
            .args(["--stalled-resync-max-seconds", "10", "--concurrency", "16"])
            .arg("--metrics-addr=none")
            .env("KUBECONFIG", kubeconfig)
            // CHAOS_OPERATOR_LOG=debug logs every reconcile's decision (large, but it shows why).
            .env("RUST_LOG", std::env::var("CHAOS_OPERATOR_LOG").unwrap_or_else(|_| "info".into()))
            .stdout(Stdio::null())
            .stderr(log_file(&plan.log_dir, &format!("{identity}.log"))),
    )
}

fn lease_holder(cluster: &Cluster) -> Option<String> {
    let out = cluster.kubectl(&[
        "get",
        "lease",
        "-n",
        LEASE_NAMESPACE,
        LEASE_NAME,
        "-o",
        "jsonpath={.spec.holderIdentity}",
        "--request-timeout=5s",
    ]);
    // `<instance>_<suffix>`: the replica is the instance.
    let holder = String::from_utf8_lossy(&out.stdout)
        .trim()
        .rsplit_once('_')
        .map(|(i, _)| i.to_string())
        .unwrap_or_default();
    (out.status.success() && !holder.is_empty()).then_some(holder)
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Kill,
    Failover,
    ApiRestart,
    SpikeOn,
    SpikeOff,
}

fn drive(plan: DriverPlan, ready: std::sync::mpsc::Sender<Ready>, stop: Arc<AtomicBool>, stats: Arc<Mutex<DriverStats>>) {
    fs::create_dir_all(&plan.log_dir).expect("log dir");
    let mut cluster = Cluster::start(cluster::tools_bin());
    cluster.install_crds();
    for ns in [LEASE_NAMESPACE, NAMESPACE] {
        cluster.apply(&format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"));
    }
    let sim: SocketAddr = format!("127.0.0.1:{}", cluster::free_port()).parse().expect("addr");
    let mut procs = Procs {
        simulator: Some(cluster::spawn(
            Command::new(&plan.operator_bin)
                .args(["simulator", "--profile", "standard", "--seed", &plan.seed.to_string()])
                .arg(format!("--listen={sim}"))
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log_file(&plan.log_dir, "simulator.log")),
        )),
        replicas: BTreeMap::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(sim, "GET", "/healthz", "").is_err() {
        assert!(Instant::now() < deadline, "simulator did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut pools = Vec::new();
    for (region, kind, prefix, count) in &plan.pools {
        let body = format!(r#"{{"instanceType":"{kind}","prefix":"{prefix}","count":{count}}}"#);
        let answer = http_ok(sim, "POST", &format!("/admin/regions/{region}/instances"), &body);
        let value: serde_json::Value = serde_json::from_str(&answer).expect("instances answer");
        pools.push(strings(&value["ids"]));
    }
    let (key_id, key_secret) = (eip_simulator::SIM_ACCESS_KEY_ID, eip_simulator::SIM_ACCESS_KEY_SECRET);
    cluster.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: chaos-alibaba\n  namespace: {LEASE_NAMESPACE}\nstringData:\n  accessKeyId: \"{key_id}\"\n  accessKeySecret: \"{key_secret}\"\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: chaos-otc\n  namespace: {LEASE_NAMESPACE}\nstringData:\n  accessKey: \"{key_id}\"\n  secretKey: \"{key_secret}\"\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: chaos-huawei\n  namespace: {LEASE_NAMESPACE}\nstringData:\n  accessKey: \"{key_id}\"\n  secretKey: \"{key_secret}\"\n"
    ));
    cluster.apply(&format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: chaos-alibaba\nspec:\n  provider: alibaba\n  region: {ALIBABA_REGION}\n  endpoint: http://{sim}\n  credentialsSecretRef:\n    name: chaos-alibaba\n    namespace: {LEASE_NAMESPACE}\n  rateLimits:\n    mutatingPerSecond: 20\n    describePerSecond: 40\n---\napiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: chaos-otc\nspec:\n  provider: otc\n  region: {OTC_REGION}\n  endpoint: http://{sim}\n  credentialsSecretRef:\n    name: chaos-otc\n    namespace: {LEASE_NAMESPACE}\n  otc:\n    projectName: {OTC_REGION}\n  rateLimits:\n    mutatingPerSecond: 20\n    describePerSecond: 40\n---\napiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: chaos-huawei\nspec:\n  provider: huawei\n  region: {HUAWEI_REGION}\n  endpoint: http://{sim}\n  credentialsSecretRef:\n    name: chaos-huawei\n    namespace: {LEASE_NAMESPACE}\n  otc:\n    projectName: {HUAWEI_REGION}\n  rateLimits:\n    mutatingPerSecond: 20\n    describePerSecond: 40\n"
    ));
    http_ok(sim, "PUT", "/admin/faults", &faults_body(plan.fault_rate, 0));
    for identity in REPLICAS {
        procs
            .replicas
            .insert(identity.to_string(), start_replica(&plan, &cluster.kubeconfig, identity));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while lease_holder(&cluster).is_none() {
        assert!(Instant::now() < deadline, "no replica took the lease within 60 s");
        std::thread::sleep(Duration::from_millis(300));
    }

    // The schedule: seeded, spread over the chaos window.
    let mut rng = SmallRng::seed_from_u64(plan.seed ^ 0xc4a0_5eed);
    let window = plan.chaos_window.max(Duration::from_secs(20));
    let at = |rng: &mut SmallRng| Duration::from_millis(rng.random_range(8_000..window.as_millis() as u64));
    let mut schedule: Vec<(Duration, Event)> = Vec::new();
    for (count, event) in [
        (plan.kills, Event::Kill),
        (plan.failovers, Event::Failover),
        (plan.apiserver_restarts, Event::ApiRestart),
    ] {
        for _ in 0..count {
            schedule.push((at(&mut rng), event));
        }
    }
    for _ in 0..plan.latency_spikes {
        let t = at(&mut rng);
        schedule.push((t, Event::SpikeOn));
        schedule.push((t + Duration::from_secs(10), Event::SpikeOff));
    }
    // Latest first: the next event is the last, and a deferred one is pushed back in order.
    schedule.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    let defer = |schedule: &mut Vec<(Duration, Event)>, at: Duration, event: Event| {
        let index = schedule.partition_point(|(t, _)| *t > at);
        schedule.insert(index, (at, event));
    };
    // A kill or failover that finds no process to kill waits for one (bounded).
    let mut deferrals_left = 100u32;

    let started = Instant::now();
    let _ = ready.send(Ready {
        kubeconfig: cluster.kubeconfig.clone(),
        sim,
        pools,
        started,
    });
    let note = |stats: &Arc<Mutex<DriverStats>>, text: String| {
        eprintln!("[chaos {:>6.1}s] {text}", started.elapsed().as_secs_f64());
        stats
            .lock()
            .expect("stats")
            .events
            .push(format!("{:.1}s {text}", started.elapsed().as_secs_f64()));
    };
    // A replica we killed is restarted after this delay (a kubelet's first back-off).
    let mut restart_at: BTreeMap<String, Instant> = BTreeMap::new();
    while !stop.load(Ordering::SeqCst) {
        // Supervise.
        for identity in REPLICAS {
            if let Some(child) = procs.replicas.get_mut(identity)
                && let Ok(Some(status)) = child.try_wait()
            {
                procs.replicas.remove(identity);
                let mut s = stats.lock().expect("stats");
                s.self_exits += 1;
                s.exit_statuses.push(format!("{identity}: {status}"));
                drop(s);
                note(&stats, format!("{identity} exited on its own ({status}); restarting"));
                restart_at.insert(identity.to_string(), Instant::now() + Duration::from_secs(1));
            }
            if !procs.replicas.contains_key(identity) && restart_at.get(identity).is_none_or(|t| Instant::now() >= *t) {
                restart_at.remove(identity);
                procs
                    .replicas
                    .insert(identity.to_string(), start_replica(&plan, &cluster.kubeconfig, identity));
            }
        }
        // Chaos.
        while let Some((t, event)) = schedule.last().copied()
            && started.elapsed() >= t
        {
            schedule.pop();
            match event {
                Event::Kill => {
                    let running: Vec<&str> = REPLICAS.into_iter().filter(|r| procs.replicas.contains_key(*r)).collect();
                    if running.is_empty() {
                        if deferrals_left > 0 {
                            deferrals_left -= 1;
                            defer(&mut schedule, started.elapsed() + Duration::from_secs(2), event);
                        }
                        continue;
                    }
                    let identity = running[rng.random_range(0..running.len())];
                    if let Some(mut child) = procs.replicas.remove(identity) {
                        let _ = child.kill();
                        let _ = child.wait();
                        stats.lock().expect("stats").kills += 1;
                        note(&stats, format!("SIGKILL {identity}"));
                        restart_at.insert(identity.to_string(), Instant::now() + Duration::from_secs(1));
                    }
                }
                Event::Failover => match lease_holder(&cluster) {
                    Some(holder) if procs.replicas.contains_key(&holder) => {
                        let mut child = procs.replicas.remove(&holder).expect("holder");
                        let _ = child.kill();
                        let _ = child.wait();
                        stats.lock().expect("stats").failovers += 1;
                        note(&stats, format!("failover: SIGKILL lease holder {holder}"));
                        restart_at.insert(holder, Instant::now() + Duration::from_secs(3));
                    }
                    // No live holder yet (the lease of a killed one has not expired): wait for
                    // the next leader, then kill it.
                    other => {
                        if deferrals_left > 0 {
                            deferrals_left -= 1;
                            defer(&mut schedule, started.elapsed() + Duration::from_secs(3), event);
                        } else {
                            stats.lock().expect("stats").failovers_skipped += 1;
                            note(&stats, format!("failover skipped (holder {other:?} not running)"));
                        }
                    }
                },
                Event::ApiRestart => {
                    let hard = rng.random_bool(0.5);
                    let down = Duration::from_millis(rng.random_range(500..4000));
                    note(
                        &stats,
                        format!("kube-apiserver restart ({})", if hard { "SIGKILL" } else { "SIGTERM" }),
                    );
                    let took = cluster.restart_apiserver(hard, down);
                    let mut s = stats.lock().expect("stats");
                    s.apiserver_restarts += 1;
                    s.apiserver_downtime += took;
                    drop(s);
                    note(&stats, format!("kube-apiserver back after {:.1} s", took.as_secs_f64()));
                }
                Event::SpikeOn | Event::SpikeOff => {
                    let extra = if matches!(event, Event::SpikeOn) { 1500 } else { 0 };
                    let body = faults_body(plan.fault_rate, extra);
                    if http(sim, "PUT", "/admin/faults", &body).is_ok() && matches!(event, Event::SpikeOn) {
                        stats.lock().expect("stats").latency_spikes += 1;
                        note(&stats, "latency spike: +1500 ms per call for 10 s".into());
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Keep the kube-apiserver log with the others.
    let _ = fs::copy(
        cluster.log_dir().join("kube-apiserver.log"),
        plan.log_dir.join("kube-apiserver.log"),
    );
    drop(procs);
    drop(cluster);
}

/// The simulator's faults: `rate` of the calls faulted, spread over every kind it injects
/// (a `timeout` costs its object the client's 30 s timeout, so it is the rarest), plus `extra_ms`
/// of latency on every call.
fn faults_body(rate: f64, extra_ms: u64) -> String {
    let mix = r#"{"unavailable":3,"throttled":2,"busy":2,"reset":2,"slow":2,"malformed":2,"timeout":1}"#;
    format!(r#"{{"errorRate":{rate},"extraLatencyMs":{extra_ms},"mix":{mix}}}"#)
}
