//! What the soak runs: its [`Options`], and the plan of every lifecycle drawn from the seed
//! (cloud, binding target, rebind, out-of-band change and when it strikes, deletion policy,
//! arrival) over the instance pools the driver creates in the simulator.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use eip_api::ElasticIP;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::super::driver::{ALIBABA_REGION, HUAWEI_REGION, OTC_REGION};

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
pub(super) struct Target {
    pub(super) kind: String,
    pub(super) id: String,
}

impl Target {
    pub(super) fn new(kind: &str, id: &str) -> Target {
        Target {
            kind: kind.into(),
            id: id.into(),
        }
    }

    pub(super) fn json(&self) -> Value {
        json!({ "instanceType": self.kind, "instanceId": self.id })
    }

    pub(super) fn matches(&self, bound: &Value) -> bool {
        bound["instanceType"].as_str() == Some(self.kind.as_str()) && bound["instanceId"].as_str() == Some(self.id.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Oob {
    Unbind,
    Rebind,
    Release,
    LockUnlock,
    NatEntries,
}

/// When the out-of-band change strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum OobAt {
    /// Once the object is Ready on its (last) target.
    Settled,
    /// Right after the spec rebind, while the operator unbinds and binds.
    MidRebind,
    /// Right after the delete, while the operator unbinds and releases.
    MidDelete,
}

/// The cloud (ProviderConfig) a lifecycle runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Cloud {
    Alibaba,
    Otc,
    Huawei,
}

impl Cloud {
    pub(super) fn region(self) -> &'static str {
        match self {
            Cloud::Alibaba => ALIBABA_REGION,
            Cloud::Otc => OTC_REGION,
            Cloud::Huawei => HUAWEI_REGION,
        }
    }

    pub(super) fn provider_config(self) -> &'static str {
        match self {
            Cloud::Alibaba => "chaos-alibaba",
            Cloud::Otc => "chaos-otc",
            Cloud::Huawei => "chaos-huawei",
        }
    }

    /// Half the objects on Alibaba, a quarter each on OTC and Huawei Cloud.
    fn of(index: usize) -> Cloud {
        match index % 4 {
            0 | 2 => Cloud::Alibaba,
            1 => Cloud::Otc,
            _ => Cloud::Huawei,
        }
    }
}

/// One lifecycle's plan, drawn from the seed.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    pub(super) name: String,
    pub(super) cloud: Cloud,
    pub(super) adopt: bool,
    pub(super) policy: &'static str,
    pub(super) target: Target,
    pub(super) rebind: Option<Target>,
    pub(super) oob: Option<(Oob, Target)>,
    pub(super) oob_at: OobAt,
    pub(super) arrival: Duration,
    pub(super) hold: Duration,
}

impl Plan {
    pub(super) fn region(&self) -> &'static str {
        self.cloud.region()
    }
}

/// The instance IDs the driver created, one pool per entry of [`pool_specs`].
pub(super) struct Pools {
    /// Per cloud: the instances the spec names, and those out-of-band rebinds use.
    pub(super) instances: BTreeMap<Cloud, (Vec<String>, Vec<String>)>,
    pub(super) nat: Vec<String>,
}

impl Pools {
    /// The driver's pools, in the order of [`pool_specs`].
    pub(super) fn new(created: &[Vec<String>]) -> Pools {
        let pair = |i: usize| (created[i].clone(), created[i + 1].clone());
        Pools {
            instances: BTreeMap::from([(Cloud::Alibaba, pair(0)), (Cloud::Otc, pair(2)), (Cloud::Huawei, pair(4))]),
            nat: created[6].clone(),
        }
    }
}

/// The kind of instance a cloud binds in the soak: ECS instances on Alibaba, ports elsewhere.
fn instance_kind(cloud: Cloud) -> &'static str {
    if cloud == Cloud::Alibaba { "EcsInstance" } else { "Port" }
}

/// One plan per lifecycle, drawn from the seed.
pub(super) fn draw_plans(opts: &Options, pools: &Pools) -> Vec<Plan> {
    let mut rng = SmallRng::seed_from_u64(opts.seed);
    let mut plans = Vec::new();
    let mut spec_instances: BTreeMap<Cloud, std::slice::Iter<'_, String>> =
        pools.instances.iter().map(|(c, (spec, _))| (*c, spec.iter())).collect();
    let mut oob_instances: BTreeMap<Cloud, std::slice::Iter<'_, String>> =
        pools.instances.iter().map(|(c, (_, oob))| (*c, oob.iter())).collect();
    let mut nat = pools.nat.iter();
    let next = |it: &mut std::slice::Iter<'_, String>| it.next().expect("instance pool large enough").clone();
    for i in 0..opts.n {
        let cloud = Cloud::of(i);
        let adopt = rng.random_bool(opts.adopt_share);
        let policy = match rng.random_range(0..4) {
            0 | 1 => "Delete",
            2 => "Unbind",
            _ => "Retain",
        };
        let on_nat = cloud == Cloud::Alibaba && rng.random_bool(0.2);
        let instance = |pool: &mut BTreeMap<Cloud, std::slice::Iter<'_, String>>| {
            Target::new(instance_kind(cloud), &next(pool.get_mut(&cloud).expect("pool per cloud")))
        };
        let target = if on_nat {
            Target::new("Nat", &next(&mut nat))
        } else {
            instance(&mut spec_instances)
        };
        let rebind = rng.random_bool(opts.rebind_share).then(|| instance(&mut spec_instances));
        let oob = rng.random_bool(opts.oob_share).then(|| {
            let mut kinds = vec![Oob::Unbind, Oob::Rebind, Oob::LockUnlock];
            if !adopt {
                kinds.push(Oob::Release);
            }
            if on_nat && rebind.is_none() {
                kinds.extend([Oob::NatEntries; 3]);
            }
            let kind = kinds[rng.random_range(0..kinds.len())];
            (kind, instance(&mut oob_instances))
        });
        // A third of the changes strike mid-transition; NAT entries only once settled.
        let oob_at = match (&oob, rng.random_range(0..6)) {
            (Some((Oob::NatEntries, _)) | None, _) => OobAt::Settled,
            (_, 0) if rebind.is_some() => OobAt::MidRebind,
            // An out-of-band rebind racing a delete that keeps the EIP could land after the
            // object is gone; nothing would be wrong, but the end state would not tell.
            (Some((Oob::Rebind, _)), 1) if policy != "Delete" => OobAt::Settled,
            (_, 1) => OobAt::MidDelete,
            _ => OobAt::Settled,
        };
        plans.push(Plan {
            name: format!("eip-{i:05}"),
            cloud,
            adopt,
            policy,
            target,
            rebind,
            oob,
            oob_at,
            arrival: Duration::from_millis(rng.random_range(0..opts.arrival_window.as_millis().max(1) as u64)),
            hold: Duration::from_millis(rng.random_range(0..8_000)),
        });
    }
    plans
}

/// The instance pools for the driver to create: (region, instanceType, prefix, count); per
/// cloud the spec's pool then the out-of-band pool, then Alibaba's NAT gateways.
pub(super) fn pool_specs(n: usize) -> Vec<(String, String, String, u32)> {
    let n = n as u32;
    let mut specs = Vec::new();
    for (cloud, share) in [(Cloud::Alibaba, n), (Cloud::Otc, n / 2), (Cloud::Huawei, n / 2)] {
        let (region, kind) = (cloud.region().to_string(), instance_kind(cloud).to_string());
        let prefix = format!("{}-{:?}-", if cloud == Cloud::Alibaba { "i" } else { "port" }, cloud).to_lowercase();
        specs.push((region.clone(), kind.clone(), format!("{prefix}chaos-"), share * 2 + 10));
        specs.push((region, kind, format!("{prefix}oob-"), share + 10));
    }
    specs.push((ALIBABA_REGION.into(), "Nat".into(), "ngw-chaos-".into(), n / 2 + 10));
    specs
}

pub(super) fn manifest(plan: &Plan, seeded: Option<&str>) -> ElasticIP {
    let mut spec = json!({
        "providerConfigRef": { "name": plan.cloud.provider_config() },
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
