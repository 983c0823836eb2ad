//! The soak: N ElasticIP lifecycles arriving over time (create with a binding → Ready → rebind
//! some → out-of-band changes on some → delete), half on an `alibaba` ProviderConfig and half on
//! `otc`, both pointed at the simulator process; while the [driver](super::driver) injects
//! faults, kills replicas, fails the leader over and restarts the kube-apiserver. Then the
//! checker: see [`Report`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eip_api::ElasticIP;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::driver::{self, ALIBABA_REGION, DriverPlan, NAMESPACE, OTC_REGION, http};

const OWNER_TAG: &str = "eip-operator.dev/owner-uid";

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub seed: u64,
    pub n: usize,
    pub kills: u32,
    pub failovers: u32,
    pub apiserver_restarts: u32,
    pub latency_spikes: u32,
    /// Share of cloud calls that fail with the simulator's injected fault.
    pub fault_rate: f64,
    /// Lifecycles start uniformly over this window.
    pub arrival_window: Duration,
    /// Each step (Ready after create, after a rebind, after an out-of-band change; gone after
    /// delete) must finish within this.
    pub converge_bound: Duration,
    /// Share of lifecycles with an out-of-band change, with a spec rebind, adopting a seeded EIP.
    pub oob_share: f64,
    pub rebind_share: f64,
    pub adopt_share: f64,
    pub operator_bin: PathBuf,
    pub log_dir: PathBuf,
}

impl Options {
    /// The soak of `cargo bench --bench chaos`.
    pub fn full(seed: u64, n: usize, operator_bin: PathBuf) -> Options {
        let window = Duration::from_secs((n as u64 * 3 / 10).clamp(30, 600));
        Options {
            seed,
            n,
            kills: (n as u32 / 25).clamp(3, 20),
            failovers: (n as u32 / 50).clamp(2, 10),
            apiserver_restarts: (n as u32 / 100).clamp(2, 6),
            latency_spikes: 2,
            fault_rate: 0.10,
            arrival_window: window,
            converge_bound: Duration::from_secs(180),
            oob_share: 0.35,
            rebind_share: 0.3,
            adopt_share: 0.15,
            operator_bin,
            log_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("target/chaos/seed-{seed}-n-{n}")),
        }
    }

    /// The e2e scenario: N = 100, fewer kills, same checker; about 3 minutes on 2 cores.
    pub fn short(seed: u64, operator_bin: PathBuf) -> Options {
        Options {
            kills: 2,
            failovers: 1,
            apiserver_restarts: 1,
            latency_spikes: 1,
            arrival_window: Duration::from_secs(40),
            converge_bound: Duration::from_secs(120),
            ..Options::full(seed, 100, operator_bin)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Target {
    kind: String,
    id: String,
}

impl Target {
    fn new(kind: &str, id: &str) -> Target {
        Target {
            kind: kind.into(),
            id: id.into(),
        }
    }

    fn json(&self) -> Value {
        json!({ "instanceType": self.kind, "instanceId": self.id })
    }

    fn matches(&self, bound: &Value) -> bool {
        bound["instanceType"].as_str() == Some(self.kind.as_str()) && bound["instanceId"].as_str() == Some(self.id.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Oob {
    Unbind,
    Rebind,
    Release,
    LockUnlock,
    NatEntries,
}

/// One lifecycle's plan, drawn from the seed.
#[derive(Clone, Debug)]
struct Plan {
    name: String,
    alibaba: bool,
    adopt: bool,
    policy: &'static str,
    target: Target,
    rebind: Option<Target>,
    oob: Option<(Oob, Target)>,
    arrival: Duration,
    hold: Duration,
}

impl Plan {
    fn region(&self) -> &'static str {
        if self.alibaba { ALIBABA_REGION } else { OTC_REGION }
    }
}

/// What one lifecycle saw.
#[derive(Clone, Debug, Default)]
struct Outcome {
    uid: Option<String>,
    allocation_id: Option<String>,
    seeded_id: Option<String>,
    /// Steps that did not finish within the bound: (step, last status seen).
    not_converged: Vec<(String, String)>,
    released_out_of_band: bool,
    gone: bool,
    step_times: Vec<(String, Duration)>,
}

/// The latest joint view of the API server and the cloud, refreshed about once a second.
#[derive(Clone, Debug, Default)]
struct Snapshot {
    seq: u64,
    objects: HashMap<String, Value>,
    eips: HashMap<String, Value>,
}

#[derive(Default)]
struct Watchdog {
    /// Owner UID → allocation IDs ever seen tagged with it.
    ids_by_uid: BTreeMap<String, BTreeSet<String>>,
    /// (object, target) bindings seen that neither its spec nor an out-of-band change named.
    unnamed_binds: BTreeSet<(String, String)>,
    snapshots: u64,
    kube_errors: u64,
    sim_errors: u64,
}

struct Shared {
    sim: SocketAddr,
    api: Api<ElasticIP>,
    snapshot: Mutex<Arc<Snapshot>>,
    /// Object name → index, UID → index, seeded allocation ID → index.
    uids: Mutex<HashMap<String, usize>>,
    seeds: Mutex<HashMap<String, usize>>,
    /// Targets each object's spec or an out-of-band change named (recorded before the change).
    allowed: Mutex<Vec<BTreeSet<Target>>>,
    watchdog: Mutex<Watchdog>,
    calls: Mutex<Vec<Value>>,
    oob_done: Mutex<BTreeMap<Oob, u32>>,
    /// EIPs an out-of-band bind touched (a refused release right after one is a race, not a bug).
    oob_bound_ids: Mutex<BTreeSet<String>>,
}

async fn admin(sim: SocketAddr, method: &'static str, path: String, body: String) -> Result<(u16, String), String> {
    tokio::task::spawn_blocking(move || http(sim, method, &path, &body))
        .await
        .map_err(|e| e.to_string())?
}

fn cond(object: &Value, type_: &str) -> Option<(String, String)> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
}

fn is_true(object: &Value, type_: &str) -> bool {
    cond(object, type_).is_some_and(|(s, _)| s == "True")
}

fn status_line(object: Option<&Value>, eip: Option<&Value>) -> String {
    match object {
        None => "object gone".into(),
        Some(o) => format!(
            "phase={} gen={} observed={} ready={:?} stalled={:?} reconciling={:?} id={} cloud={}",
            o["status"]["phase"].as_str().unwrap_or("-"),
            o["metadata"]["generation"],
            o["status"]["observedGeneration"],
            cond(o, "Ready"),
            cond(o, "Stalled"),
            cond(o, "Reconciling"),
            o["status"]["allocationId"].as_str().unwrap_or("-"),
            eip.map(|e| format!("{} bound={}", e["rawState"], e["boundTo"]))
                .unwrap_or_else(|| "none".into())
        ),
    }
}

impl Shared {
    fn snap(&self) -> Arc<Snapshot> {
        self.snapshot.lock().expect("snapshot").clone()
    }

    /// Polls until `done` holds on a snapshot taken after now, or `bound` passes.
    async fn wait(&self, bound: Duration, done: impl Fn(&Snapshot) -> bool) -> Result<Duration, Arc<Snapshot>> {
        let started = Instant::now();
        let after = self.snap().seq;
        loop {
            let snap = self.snap();
            if snap.seq > after && done(&snap) {
                return Ok(started.elapsed());
            }
            if started.elapsed() > bound {
                return Err(snap);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Refreshes the snapshot and runs the watchdog on it. The call log is drained too (the
    /// simulator keeps a bounded log).
    async fn refresh(&self, last_call: &mut u64) {
        let objects = self.api.list(&ListParams::default()).await;
        let mut eips = HashMap::new();
        let mut sim_ok = true;
        for region in [ALIBABA_REGION, OTC_REGION] {
            match admin(self.sim, "GET", format!("/admin/regions/{region}/eips"), String::new()).await {
                Ok((200, body)) => {
                    for eip in serde_json::from_str::<Vec<Value>>(&body).unwrap_or_default() {
                        if let Some(id) = eip["allocationId"].as_str() {
                            eips.insert(id.to_string(), eip.clone());
                        }
                    }
                }
                _ => sim_ok = false,
            }
        }
        if let Ok((200, body)) = admin(self.sim, "GET", format!("/admin/calls?since={last_call}"), String::new()).await {
            let calls: Vec<Value> = serde_json::from_str(&body).unwrap_or_default();
            if let Some(seq) = calls.last().and_then(|c| c["seq"].as_u64()) {
                *last_call = seq;
            }
            self.calls.lock().expect("calls").extend(calls);
        }
        let mut watchdog = self.watchdog.lock().expect("watchdog");
        let objects = match objects {
            Ok(list) => list,
            Err(_) => {
                watchdog.kube_errors += 1;
                return;
            }
        };
        if !sim_ok {
            watchdog.sim_errors += 1;
            return;
        }
        watchdog.snapshots += 1;
        let objects: HashMap<String, Value> = objects
            .items
            .into_iter()
            .filter_map(|o| {
                let name = o.metadata.name.clone()?;
                Some((name, serde_json::to_value(o).ok()?))
            })
            .collect();
        // The watchdog: owner tags and bindings of every EIP we can attribute to an object.
        let uids = self.uids.lock().expect("uids").clone();
        let seeds = self.seeds.lock().expect("seeds").clone();
        let allowed = self.allowed.lock().expect("allowed").clone();
        for (id, eip) in &eips {
            let owner = eip["tags"][OWNER_TAG].as_str();
            if let Some(uid) = owner {
                watchdog.ids_by_uid.entry(uid.to_string()).or_default().insert(id.clone());
            }
            let index = owner.and_then(|uid| uids.get(uid)).or_else(|| seeds.get(id)).copied();
            if let (Some(index), Some(bound)) = (index, eip.get("boundTo").filter(|b| !b.is_null())) {
                let ok = allowed.get(index).is_some_and(|set| set.iter().any(|t| t.matches(bound)));
                if !ok {
                    watchdog.unnamed_binds.insert((format!("#{index} {id}"), bound.to_string()));
                }
            }
        }
        drop(watchdog);
        let mut snapshot = self.snapshot.lock().expect("snapshot");
        let seq = snapshot.seq + 1;
        *snapshot = Arc::new(Snapshot { seq, objects, eips });
    }
}

fn draw_plans(opts: &Options, pools: &Pools) -> Vec<Plan> {
    let mut rng = SmallRng::seed_from_u64(opts.seed);
    let mut plans = Vec::new();
    let (mut ecs, mut port, mut nat, mut oob_ecs, mut oob_port) = (
        pools.ecs.iter(),
        pools.port.iter(),
        pools.nat.iter(),
        pools.oob_ecs.iter(),
        pools.oob_port.iter(),
    );
    for i in 0..opts.n {
        let alibaba = i % 2 == 0;
        let adopt = rng.random_bool(opts.adopt_share);
        let policy = match rng.random_range(0..4) {
            0 | 1 => "Delete",
            2 => "Unbind",
            _ => "Retain",
        };
        let on_nat = alibaba && rng.random_bool(0.2);
        let next = |it: &mut std::slice::Iter<'_, String>| it.next().expect("instance pool large enough").clone();
        let target = if on_nat {
            Target::new("Nat", &next(&mut nat))
        } else if alibaba {
            Target::new("EcsInstance", &next(&mut ecs))
        } else {
            Target::new("Port", &next(&mut port))
        };
        let rebind = rng.random_bool(opts.rebind_share).then(|| {
            if alibaba {
                Target::new("EcsInstance", &next(&mut ecs))
            } else {
                Target::new("Port", &next(&mut port))
            }
        });
        let oob = rng.random_bool(opts.oob_share).then(|| {
            let mut kinds = vec![Oob::Unbind, Oob::Rebind, Oob::LockUnlock];
            if !adopt {
                kinds.push(Oob::Release);
            }
            if on_nat && rebind.is_none() {
                kinds.extend([Oob::NatEntries; 3]);
            }
            let kind = kinds[rng.random_range(0..kinds.len())];
            let to = if alibaba {
                Target::new("EcsInstance", &next(&mut oob_ecs))
            } else {
                Target::new("Port", &next(&mut oob_port))
            };
            (kind, to)
        });
        plans.push(Plan {
            name: format!("eip-{i:05}"),
            alibaba,
            adopt,
            policy,
            target,
            rebind,
            oob,
            arrival: Duration::from_millis(rng.random_range(0..opts.arrival_window.as_millis().max(1) as u64)),
            hold: Duration::from_millis(rng.random_range(0..8_000)),
        });
    }
    plans
}

struct Pools {
    ecs: Vec<String>,
    port: Vec<String>,
    nat: Vec<String>,
    oob_ecs: Vec<String>,
    oob_port: Vec<String>,
}

fn pool_specs(n: usize) -> Vec<(String, String, String, u32)> {
    let n = n as u32;
    vec![
        (ALIBABA_REGION.into(), "EcsInstance".into(), "i-chaos-".into(), n * 2 + 10),
        (OTC_REGION.into(), "Port".into(), "port-chaos-".into(), n * 2 + 10),
        (ALIBABA_REGION.into(), "Nat".into(), "ngw-chaos-".into(), n / 2 + 10),
        (ALIBABA_REGION.into(), "EcsInstance".into(), "i-oob-".into(), n + 10),
        (OTC_REGION.into(), "Port".into(), "port-oob-".into(), n + 10),
    ]
}

fn manifest(plan: &Plan, seeded: Option<&str>) -> ElasticIP {
    let mut spec = json!({
        "providerConfigRef": { "name": if plan.alibaba { "chaos-alibaba" } else { "chaos-otc" } },
        "binding": plan.target.json(),
        "deletionPolicy": plan.policy,
    });
    match seeded {
        Some(id) => spec["allocationId"] = json!(id),
        None => spec["allocation"] = json!({ "bandwidthMbps": 5 }),
    }
    serde_json::from_value(json!({
        "apiVersion": "eip-operator.dev/v1alpha1",
        "kind": "ElasticIP",
        "metadata": { "name": plan.name },
        "spec": spec,
    }))
    .expect("ElasticIP manifest")
}

/// Retries a kube call (the API server restarts under us) until `bound`.
macro_rules! retry {
    ($bound:expr, $call:expr) => {{
        let deadline = Instant::now() + $bound;
        loop {
            match $call {
                Ok(v) => break Ok(v),
                Err(e) if Instant::now() > deadline => break Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }};
}

/// Converged on `target`: Ready for the current generation and the cloud bound there.
fn converged_on(snap: &Snapshot, name: &str, target: &Target) -> bool {
    let Some(o) = snap.objects.get(name) else { return false };
    let generation = o["metadata"]["generation"].as_i64();
    let observed = o["status"]["observedGeneration"].as_i64();
    let id = o["status"]["allocationId"].as_str();
    generation.is_some()
        && generation == observed
        && is_true(o, "Ready")
        && id.and_then(|id| snap.eips.get(id)).is_some_and(|e| target.matches(&e["boundTo"]))
}

fn stalled_with(snap: &Snapshot, name: &str, reason: &str) -> bool {
    snap.objects
        .get(name)
        .and_then(|o| cond(o, "Stalled"))
        .is_some_and(|(s, r)| s == "True" && r == reason)
}

async fn lifecycle(shared: Arc<Shared>, index: usize, plan: Plan, bound: Duration) -> Outcome {
    let mut out = Outcome::default();
    tokio::time::sleep(plan.arrival).await;
    let name = plan.name.clone();
    let region = plan.region();
    shared.allowed.lock().expect("allowed")[index].insert(plan.target.clone());
    let record = |out: &mut Outcome, step: &str, result: Result<Duration, Arc<Snapshot>>| match result {
        Ok(took) => {
            out.step_times.push((step.to_string(), took));
            true
        }
        Err(snap) => {
            let object = snap.objects.get(&name);
            let eip = object
                .and_then(|o| o["status"]["allocationId"].as_str())
                .and_then(|id| snap.eips.get(id));
            out.not_converged.push((step.to_string(), status_line(object, eip)));
            false
        }
    };

    // Adopted: the EIP exists before the object (console, Terraform).
    if plan.adopt {
        let body = json!({ "bandwidthMbps": 5 }).to_string();
        let seeded = retry!(
            Duration::from_secs(30),
            match admin(shared.sim, "POST", format!("/admin/regions/{region}/eips"), body.clone()).await {
                Ok((201, text)) => serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()),
                other => Err(format!("{other:?}")),
            }
        )
        .expect("seed an EIP");
        let id = seeded["allocationId"].as_str().expect("seeded id").to_string();
        shared.seeds.lock().expect("seeds").insert(id.clone(), index);
        out.seeded_id = Some(id);
    }

    // Create.
    let object = manifest(&plan, out.seeded_id.as_deref());
    let created = retry!(
        bound,
        match shared.api.create(&PostParams::default(), &object).await {
            Ok(o) => Ok(o),
            Err(kube::Error::Api(e)) if e.code == 409 => shared.api.get(&name).await,
            Err(e) => Err(e),
        }
    );
    let Ok(created) = created else {
        out.not_converged
            .push(("create".into(), "the API server refused the create".into()));
        return out;
    };
    let uid = created.metadata.uid.clone().expect("uid");
    shared.uids.lock().expect("uids").insert(uid.clone(), index);
    out.uid = Some(uid);
    let n = name.clone();
    let t = plan.target.clone();
    let ready = record(&mut out, "ready", shared.wait(bound, move |s| converged_on(s, &n, &t)).await);
    let mut target = plan.target.clone();

    // Rebind through the spec.
    if ready && let Some(next) = &plan.rebind {
        shared.allowed.lock().expect("allowed")[index].insert(next.clone());
        let patch = json!({ "spec": { "binding": next.json() } });
        let patched = retry!(bound, shared.api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await);
        if patched.is_ok() {
            target = next.clone();
            let (n, t) = (name.clone(), target.clone());
            record(&mut out, "rebind", shared.wait(bound, move |s| converged_on(s, &n, &t)).await);
        } else {
            out.not_converged.push(("rebind".into(), "patch refused".into()));
        }
    }
    out.allocation_id = shared
        .snap()
        .objects
        .get(&name)
        .and_then(|o| o["status"]["allocationId"].as_str().map(str::to_string));

    // Out-of-band change on the cloud side.
    let mut nat_gateway = None;
    if let (Some((kind, to)), Some(id)) = (&plan.oob, out.allocation_id.clone()) {
        let base = format!("/admin/regions/{region}/eips/{id}");
        let done = match kind {
            Oob::Unbind => admin(shared.sim, "POST", format!("{base}/unbind"), String::new()).await,
            Oob::Rebind => {
                shared.allowed.lock().expect("allowed")[index].insert(to.clone());
                shared.oob_bound_ids.lock().expect("oob").insert(id.clone());
                admin(shared.sim, "POST", format!("{base}/bind"), to.json().to_string()).await
            }
            Oob::Release => admin(shared.sim, "POST", format!("{base}/release"), String::new()).await,
            Oob::LockUnlock => admin(shared.sim, "POST", format!("{base}/lock"), String::new()).await,
            Oob::NatEntries => {
                let path = format!("/admin/regions/{region}/instances/{}/nat-entries", target.id);
                nat_gateway = Some(target.id.clone());
                admin(shared.sim, "PUT", path, r#"{"count":3}"#.into()).await
            }
        };
        let applied = matches!(done, Ok((200..=299, _)));
        if applied {
            *shared.oob_done.lock().expect("oob").entry(*kind).or_default() += 1;
        }
        match kind {
            Oob::Release if applied => {
                let n = name.clone();
                let result = shared.wait(bound, move |s| stalled_with(s, &n, "ReleasedOutOfBand")).await;
                out.released_out_of_band = record(&mut out, "released-out-of-band", result);
            }
            Oob::LockUnlock if applied => {
                tokio::time::sleep(Duration::from_secs(shared_rand(index, 3, 10))).await;
                let _ = retry!(
                    Duration::from_secs(30),
                    match admin(shared.sim, "POST", format!("{base}/unlock"), String::new()).await {
                        Ok((200, _)) => Ok(()),
                        other => Err(other),
                    }
                );
                let (n, t) = (name.clone(), target.clone());
                record(&mut out, "after-unlock", shared.wait(bound, move |s| converged_on(s, &n, &t)).await);
            }
            Oob::Unbind | Oob::Rebind if applied => {
                let (n, t) = (name.clone(), target.clone());
                record(
                    &mut out,
                    "drift-repaired",
                    shared.wait(bound, move |s| converged_on(s, &n, &t)).await,
                );
            }
            _ => {}
        }
    }
    tokio::time::sleep(plan.hold).await;

    // Delete; NAT entries (if any) go away a few seconds later.
    let deleted = retry!(
        bound,
        match shared.api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    );
    if deleted.is_err() {
        out.not_converged.push(("delete".into(), "delete refused".into()));
    }
    if let Some(gateway) = nat_gateway {
        let sim = shared.sim;
        tokio::time::sleep(Duration::from_secs(8)).await;
        let path = format!("/admin/regions/{region}/instances/{gateway}/nat-entries");
        let _ = retry!(
            Duration::from_secs(30),
            match admin(sim, "PUT", path.clone(), r#"{"count":0}"#.into()).await {
                Ok((200, _)) => Ok(()),
                other => Err(other),
            }
        );
    }
    let n = name.clone();
    out.gone = record(&mut out, "gone", shared.wait(bound, move |s| !s.objects.contains_key(&n)).await);
    out
}

/// A deterministic small number per object (seconds in `lo..hi`).
fn shared_rand(index: usize, lo: u64, hi: u64) -> u64 {
    lo + (index as u64).wrapping_mul(2_654_435_761) % (hi - lo)
}

/// The checker's verdict and the table's numbers.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub seed: u64,
    pub n: usize,
    pub wall: Duration,
    pub faults_by_kind: BTreeMap<String, u64>,
    pub kills: u32,
    pub failovers: u32,
    pub self_exits: u32,
    pub apiserver_restarts: u32,
    pub latency_spikes: u32,
    pub oob: BTreeMap<String, u32>,
    pub leaked: Vec<String>,
    pub double_allocations: Vec<String>,
    pub releases_while_bound: Vec<String>,
    /// Refused releases right after an out-of-band bind of the same EIP (a race with the console).
    pub releases_while_bound_after_oob_bind: u32,
    pub unnamed_binds: Vec<String>,
    pub stuck_finalizers: Vec<String>,
    pub not_converged: Vec<String>,
    pub panics: Vec<String>,
    /// Policy outcomes that differ from the README (Unbind left it bound, claim not removed...).
    pub policy_violations: Vec<String>,
    pub calls_per_lifecycle: BTreeMap<String, f64>,
    pub errors_per_lifecycle: f64,
    pub p50_ready: Duration,
    pub p99_ready: Duration,
    pub log_dir: PathBuf,
    pub driver_events: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (what, list) in [
            ("leaked EIPs", &self.leaked),
            ("double allocations", &self.double_allocations),
            ("releases while bound", &self.releases_while_bound),
            ("binds to a target the spec never named", &self.unnamed_binds),
            ("stuck finalizers", &self.stuck_finalizers),
            ("objects not converged", &self.not_converged),
            ("operator panics", &self.panics),
            ("deletion-policy outcomes", &self.policy_violations),
        ] {
            if !list.is_empty() {
                out.push(format!("{} {what}: {}", list.len(), list.join("; ")));
            }
        }
        out
    }

    pub fn table(&self) -> String {
        let join = |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
        let oob = self.oob.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
        let calls = self
            .calls_per_lifecycle
            .iter()
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut t = String::new();
        t.push_str("| seed | N | faults by kind | kills | failovers | replica self-exits | API server restarts | latency spikes | OOB changes | leaked | double alloc | releases while bound | unnamed binds | stuck finalizers | not converged | panics | policy outcomes | wall | Ready p50 / p99 | cloud calls per lifecycle |\n");
        t.push_str(
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        );
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} (+{} after OOB bind) | {} | {} | {} | {} | {} | {:.0} s | {:.1} s / {:.1} s | {}; errors {:.2} |\n",
            self.seed,
            self.n,
            join(&self.faults_by_kind),
            self.kills,
            self.failovers,
            self.self_exits,
            self.apiserver_restarts,
            self.latency_spikes,
            oob,
            self.leaked.len(),
            self.double_allocations.len(),
            self.releases_while_bound.len(),
            self.releases_while_bound_after_oob_bind,
            self.unnamed_binds.len(),
            self.stuck_finalizers.len(),
            self.not_converged.len(),
            self.panics.len(),
            self.policy_violations.len(),
            self.wall.as_secs_f64(),
            self.p50_ready.as_secs_f64(),
            self.p99_ready.as_secs_f64(),
            calls,
            self.errors_per_lifecycle,
        ));
        t
    }
}

fn fault_kind(code: &str) -> &'static str {
    match code {
        "ServiceUnavailable" | "VPC.0500" => "injected 5xx",
        "Throttling.User" | "APIGW.0308" => "throttled",
        "TaskConflict" | "VPC.0512" => "busy",
        _ => "other",
    }
}

/// Runs the soak and checks it. Starts (and stops) its own etcd, kube-apiserver, simulator and
/// two operator replicas; bounded by the convergence bound per step.
pub async fn run(opts: Options) -> Report {
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(&opts.log_dir);
    let plan = DriverPlan {
        seed: opts.seed,
        operator_bin: opts.operator_bin.clone(),
        log_dir: opts.log_dir.clone(),
        kills: opts.kills,
        failovers: opts.failovers,
        apiserver_restarts: opts.apiserver_restarts,
        latency_spikes: opts.latency_spikes,
        fault_rate: opts.fault_rate,
        chaos_window: opts.arrival_window + Duration::from_secs(30),
        pools: pool_specs(opts.n),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let mut driver = driver::start(plan, tx);
    let ready = loop {
        match rx.try_recv() {
            Ok(ready) => break ready,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                panic!("chaos setup failed: {:?}", driver.shutdown());
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    eprintln!(
        "chaos: cluster, simulator (http://{}) and replicas up after {:.1} s; logs in {}",
        ready.sim,
        started.elapsed().as_secs_f64(),
        opts.log_dir.display()
    );
    let kubeconfig = Kubeconfig::read_from(&ready.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube config");
    let client = Client::try_from(config).expect("client");
    let pools = Pools {
        ecs: ready.pools[0].clone(),
        port: ready.pools[1].clone(),
        nat: ready.pools[2].clone(),
        oob_ecs: ready.pools[3].clone(),
        oob_port: ready.pools[4].clone(),
    };
    let plans = draw_plans(&opts, &pools);
    let shared = Arc::new(Shared {
        sim: ready.sim,
        api: Api::namespaced(client, NAMESPACE),
        snapshot: Mutex::default(),
        uids: Mutex::default(),
        seeds: Mutex::default(),
        allowed: Mutex::new(vec![BTreeSet::new(); opts.n]),
        watchdog: Mutex::default(),
        calls: Mutex::default(),
        oob_done: Mutex::default(),
        oob_bound_ids: Mutex::default(),
    });
    let stop_poll = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (shared, stop) = (shared.clone(), stop_poll.clone());
        tokio::spawn(async move {
            let mut last_call = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = tokio::time::timeout(Duration::from_secs(20), shared.refresh(&mut last_call)).await;
                tokio::time::sleep(Duration::from_millis(700)).await;
            }
            last_call
        })
    };
    let tasks: Vec<_> = plans
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, plan)| tokio::spawn(lifecycle(shared.clone(), i, plan, opts.converge_bound)))
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        if driver.finished() {
            panic!("the chaos driver stopped early: {:?}", driver.shutdown());
        }
        outcomes.push(task.await.expect("lifecycle task"));
    }
    // Faults off; a last look after the dust settles.
    let _ = admin(
        shared.sim,
        "PUT",
        "/admin/faults".into(),
        r#"{"errorRate":0,"extraLatencyMs":0}"#.into(),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop_poll.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut last_call = poller.await.unwrap_or(0);
    shared.refresh(&mut last_call).await;
    let counters: Vec<Value> = admin(shared.sim, "GET", "/admin/counters".into(), String::new())
        .await
        .ok()
        .and_then(|(_, body)| serde_json::from_str(&body).ok())
        .unwrap_or_default();
    let wall = started.elapsed();
    let final_snap = shared.snap();
    let driver_result = driver.shutdown();
    let stats = driver.stats.lock().expect("stats").clone();

    let mut report = Report {
        seed: opts.seed,
        n: opts.n,
        wall,
        kills: stats.kills,
        failovers: stats.failovers,
        self_exits: stats.self_exits,
        apiserver_restarts: stats.apiserver_restarts,
        latency_spikes: stats.latency_spikes,
        log_dir: opts.log_dir.clone(),
        driver_events: stats.events.clone(),
        ..Report::default()
    };
    if let Err(e) = driver_result {
        report.panics.push(format!("chaos driver: {e}"));
    }
    report.oob = shared
        .oob_done
        .lock()
        .expect("oob")
        .iter()
        .map(|(k, v)| (format!("{k:?}"), *v))
        .collect();

    // Counters: faults by kind, calls per lifecycle.
    let mut errors = 0u64;
    for row in &counters {
        let count = row["count"].as_u64().unwrap_or(0);
        let op = row["operation"].as_str().unwrap_or("?").to_string();
        *report.calls_per_lifecycle.entry(op).or_default() += count as f64 / opts.n as f64;
        if row["outcome"] == "Error" {
            errors += count;
            let code = row["code"].as_str().unwrap_or("?");
            let kind = fault_kind(code);
            let key = if kind == "other" {
                format!("other {code}")
            } else {
                kind.to_string()
            };
            *report.faults_by_kind.entry(key).or_default() += count;
        }
    }
    report.errors_per_lifecycle = errors as f64 / opts.n as f64;

    // Convergence, stuck finalizers.
    let mut ready_times: Vec<Duration> = Vec::new();
    for (plan, out) in plans.iter().zip(&outcomes) {
        for (step, took) in &out.step_times {
            if step == "ready" {
                ready_times.push(*took);
            }
        }
        if !out.not_converged.is_empty() {
            let steps: Vec<String> = out.not_converged.iter().map(|(s, l)| format!("{s} [{l}]")).collect();
            report.not_converged.push(format!(
                "{} ({}, {}{}, oob {:?}): {}",
                plan.name,
                plan.region(),
                plan.policy,
                if plan.adopt { ", adopted" } else { "" },
                plan.oob.as_ref().map(|(k, _)| *k),
                steps.join(", ")
            ));
        }
    }
    for (name, object) in &final_snap.objects {
        let finalizers = object["metadata"]["finalizers"].to_string();
        report.stuck_finalizers.push(format!(
            "{name} deletionTimestamp={} finalizers={finalizers} {}",
            object["metadata"]["deletionTimestamp"],
            status_line(Some(object), None)
        ));
    }
    ready_times.sort();
    let pct = |p: f64| {
        ready_times
            .get(((ready_times.len() as f64 * p) as usize).min(ready_times.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    report.p50_ready = pct(0.5);
    report.p99_ready = pct(0.99);

    // The cloud at the end: what should be left, what is.
    let watchdog = shared.watchdog.lock().expect("watchdog");
    let mut expected_kept: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (plan, out)) in plans.iter().zip(&outcomes).enumerate() {
        let id = out.seeded_id.clone().or_else(|| out.allocation_id.clone());
        let Some(id) = id else { continue };
        if out.released_out_of_band || !out.gone {
            continue;
        }
        let eip = final_snap.eips.get(&id);
        match (plan.policy, plan.adopt) {
            ("Delete", _) => {}
            (policy, adopted) => {
                expected_kept.insert(id.clone(), i);
                let Some(eip) = eip else {
                    report
                        .policy_violations
                        .push(format!("{} ({policy}): {id} is gone, the policy keeps it", plan.name));
                    continue;
                };
                if policy == "Unbind" && !eip["boundTo"].is_null() {
                    report
                        .policy_violations
                        .push(format!("{} (Unbind): {id} still bound to {}", plan.name, eip["boundTo"]));
                }
                if adopted && eip["tags"].get(OWNER_TAG).is_some() {
                    report
                        .policy_violations
                        .push(format!("{} ({policy}, adopted): {id} still carries its claim", plan.name));
                }
            }
        }
    }
    for (id, eip) in &final_snap.eips {
        if !expected_kept.contains_key(id) {
            let owner = eip["tags"][OWNER_TAG].as_str().unwrap_or("-");
            let object = shared
                .uids
                .lock()
                .expect("uids")
                .get(owner)
                .map(|i| plans[*i].name.clone())
                .unwrap_or_else(|| "no object".into());
            report.leaked.push(format!(
                "{id} (owner-uid {owner} = {object}, {}, bound {})",
                eip["rawState"], eip["boundTo"]
            ));
        }
    }
    // Double allocations: two EIPs tagged with one UID (over the whole run), or two EIPs created
    // with one client token.
    let uids = shared.uids.lock().expect("uids").clone();
    for (uid, ids) in &watchdog.ids_by_uid {
        let Some(index) = uids.get(uid) else { continue };
        let seeded = outcomes[*index].seeded_id.clone();
        let allocated: BTreeSet<&String> = ids.iter().filter(|id| Some(*id) != seeded.as_ref()).collect();
        if allocated.len() > 1 || (seeded.is_some() && !allocated.is_empty()) {
            report
                .double_allocations
                .push(format!("{} (uid {uid}): {allocated:?}", plans[*index].name));
        }
    }
    let calls = shared.calls.lock().expect("calls");
    let mut by_token: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let oob_bound = shared.oob_bound_ids.lock().expect("oob");
    for call in calls.iter() {
        let op = call["operation"].as_str().unwrap_or_default();
        let ids: Vec<String> = call["allocationIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        if op == "Allocate"
            && call["outcome"] == "Ok"
            && let Some(token) = call["clientToken"].as_str()
        {
            by_token.entry(token.to_string()).or_default().extend(ids.iter().cloned());
        }
        let code = call["code"].as_str().unwrap_or_default();
        if op == "Release" && matches!(code, "IncorrectEipStatus" | "VPC.0516" | "VPC.0517") {
            if ids.iter().any(|id| oob_bound.contains(id)) {
                report.releases_while_bound_after_oob_bind += 1;
            } else {
                report
                    .releases_while_bound
                    .push(format!("seq {} {ids:?} {code} at {} ms", call["seq"], call["atMs"]));
            }
        }
    }
    for (token, ids) in by_token {
        if ids.len() > 1 {
            report.double_allocations.push(format!("client token {token}: {ids:?}"));
        }
    }
    for (who, bound) in &watchdog.unnamed_binds {
        report.unnamed_binds.push(format!("{who} bound to {bound}"));
    }
    drop((watchdog, calls, oob_bound));

    // Panics in any process's log.
    if let Ok(entries) = std::fs::read_dir(&opts.log_dir) {
        // The operator replicas' and the simulator's logs (not the API server's: Go's
        // "panicked: false" lines are not ours).
        for entry in entries.flatten().filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("chaos-") || name.starts_with("simulator")
        }) {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            for line in text.lines().filter(|l| l.contains("panicked")) {
                report.panics.push(format!(
                    "{}: {}",
                    entry.file_name().to_string_lossy(),
                    line.chars().take(300).collect::<String>()
                ));
            }
        }
    }
    report
}
