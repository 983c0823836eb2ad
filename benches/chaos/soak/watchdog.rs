//! What the lifecycles, the poller and the checker share ([`Shared`]): the latest [`Snapshot`]
//! of the API server and the cloud, refreshed about once a second by the poller, and the
//! [`Watchdog`] that runs on each snapshot (owner tags, bindings to targets nobody named); plus
//! the simulator's admin API and readers of an object's conditions.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eip_api::ElasticIP;
use kube::Api;
use kube::api::ListParams;
use serde_json::Value;

use super::super::driver::{ALIBABA_REGION, HUAWEI_REGION, OTC_REGION, http};
use super::OWNER_TAG;
use super::plan::{Oob, OobAt, Target};

/// The latest joint view of the API server and the cloud, refreshed about once a second.
#[derive(Clone, Debug, Default)]
pub(super) struct Snapshot {
    pub(super) seq: u64,
    pub(super) objects: HashMap<String, Value>,
    pub(super) eips: HashMap<String, Value>,
}

#[derive(Default)]
/// What the watchdog saw over the whole run.
pub(super) struct Watchdog {
    /// Owner UID → allocation IDs ever seen tagged with it.
    pub(super) ids_by_uid: BTreeMap<String, BTreeSet<String>>,
    /// (object, target) bindings seen that neither its spec nor an out-of-band change named.
    pub(super) unnamed_binds: BTreeSet<(String, String)>,
    snapshots: u64,
    kube_errors: u64,
    sim_errors: u64,
}

/// The soak's shared state (one per run, behind an `Arc`).
pub(super) struct Shared {
    pub(super) sim: SocketAddr,
    pub(super) api: Api<ElasticIP>,
    snapshot: Mutex<Arc<Snapshot>>,
    /// Object name → index, UID → index, seeded allocation ID → index.
    pub(super) uids: Mutex<HashMap<String, usize>>,
    pub(super) seeds: Mutex<HashMap<String, usize>>,
    /// Targets each object's spec or an out-of-band change named (recorded before the change).
    pub(super) allowed: Mutex<Vec<BTreeSet<Target>>>,
    pub(super) watchdog: Mutex<Watchdog>,
    pub(super) calls: Mutex<Vec<Value>>,
    /// Out-of-band changes made, by kind and by when they struck.
    pub(super) oob_done: Mutex<BTreeMap<(Oob, OobAt), u32>>,
    /// EIPs an out-of-band bind touched (a refused release right after one is a race, not a bug).
    pub(super) oob_bound_ids: Mutex<BTreeSet<String>>,
}

/// A call to the simulator's admin API, off the async threads.
pub(super) async fn admin(sim: SocketAddr, method: &'static str, path: String, body: String) -> Result<(u16, String), String> {
    tokio::task::spawn_blocking(move || http(sim, method, &path, &body))
        .await
        .map_err(|e| e.to_string())?
}

pub(super) fn cond(object: &Value, type_: &str) -> Option<(String, String)> {
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

pub(super) fn is_true(object: &Value, type_: &str) -> bool {
    cond(object, type_).is_some_and(|(s, _)| s == "True")
}

pub(super) fn status_line(object: Option<&Value>, eip: Option<&Value>) -> String {
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
    pub(super) fn new(sim: SocketAddr, api: Api<ElasticIP>, n: usize) -> Shared {
        Shared {
            sim,
            api,
            snapshot: Mutex::default(),
            uids: Mutex::default(),
            seeds: Mutex::default(),
            allowed: Mutex::new(vec![BTreeSet::new(); n]),
            watchdog: Mutex::default(),
            calls: Mutex::default(),
            oob_done: Mutex::default(),
            oob_bound_ids: Mutex::default(),
        }
    }

    pub(super) fn snap(&self) -> Arc<Snapshot> {
        self.snapshot.lock().expect("snapshot").clone()
    }

    /// Polls until `done` holds on a snapshot taken after now, or `bound` passes.
    pub(super) async fn wait(&self, bound: Duration, done: impl Fn(&Snapshot) -> bool) -> Result<Duration, Arc<Snapshot>> {
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
    pub(super) async fn refresh(&self, last_call: &mut u64) {
        let objects = self.api.list(&ListParams::default()).await;
        let mut eips = HashMap::new();
        let mut sim_ok = true;
        for region in [ALIBABA_REGION, OTC_REGION, HUAWEI_REGION] {
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
