//! What the soak runs: its [`Options`], and the plan of every lifecycle drawn from the seed
//! (binding target, rebind, out-of-band change, deletion policy, arrival) over the instance pools
//! the driver creates in the simulator.

use std::path::PathBuf;
use std::time::Duration;

use eip_api::ElasticIP;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::super::driver::{ALIBABA_REGION, OTC_REGION};

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

/// One lifecycle's plan, drawn from the seed.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    pub(super) name: String,
    pub(super) alibaba: bool,
    pub(super) adopt: bool,
    pub(super) policy: &'static str,
    pub(super) target: Target,
    pub(super) rebind: Option<Target>,
    pub(super) oob: Option<(Oob, Target)>,
    pub(super) arrival: Duration,
    pub(super) hold: Duration,
}

impl Plan {
    pub(super) fn region(&self) -> &'static str {
        if self.alibaba { ALIBABA_REGION } else { OTC_REGION }
    }
}

/// The instance IDs the driver created, one pool per entry of [`pool_specs`].
pub(super) struct Pools {
    pub(super) ecs: Vec<String>,
    pub(super) port: Vec<String>,
    pub(super) nat: Vec<String>,
    pub(super) oob_ecs: Vec<String>,
    pub(super) oob_port: Vec<String>,
}

impl Pools {
    /// The driver's pools, in the order of [`pool_specs`].
    pub(super) fn new(created: &[Vec<String>]) -> Pools {
        Pools {
            ecs: created[0].clone(),
            port: created[1].clone(),
            nat: created[2].clone(),
            oob_ecs: created[3].clone(),
            oob_port: created[4].clone(),
        }
    }
}

/// One plan per lifecycle, drawn from the seed.
pub(super) fn draw_plans(opts: &Options, pools: &Pools) -> Vec<Plan> {
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
        // An ECS instance for Alibaba, a port for OTC, from the given pools.
        let instance = |ecs: &mut std::slice::Iter<'_, String>, port: &mut std::slice::Iter<'_, String>| {
            if alibaba {
                Target::new("EcsInstance", &next(ecs))
            } else {
                Target::new("Port", &next(port))
            }
        };
        let target = if on_nat {
            Target::new("Nat", &next(&mut nat))
        } else {
            instance(&mut ecs, &mut port)
        };
        let rebind = rng.random_bool(opts.rebind_share).then(|| instance(&mut ecs, &mut port));
        let oob = rng.random_bool(opts.oob_share).then(|| {
            let mut kinds = vec![Oob::Unbind, Oob::Rebind, Oob::LockUnlock];
            if !adopt {
                kinds.push(Oob::Release);
            }
            if on_nat && rebind.is_none() {
                kinds.extend([Oob::NatEntries; 3]);
            }
            let kind = kinds[rng.random_range(0..kinds.len())];
            (kind, instance(&mut oob_ecs, &mut oob_port))
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

/// The instance pools for the driver to create: (region, instanceType, prefix, count).
pub(super) fn pool_specs(n: usize) -> Vec<(String, String, String, u32)> {
    let n = n as u32;
    vec![
        (ALIBABA_REGION.into(), "EcsInstance".into(), "i-chaos-".into(), n * 2 + 10),
        (OTC_REGION.into(), "Port".into(), "port-chaos-".into(), n * 2 + 10),
        (ALIBABA_REGION.into(), "Nat".into(), "ngw-chaos-".into(), n / 2 + 10),
        (ALIBABA_REGION.into(), "EcsInstance".into(), "i-oob-".into(), n + 10),
        (OTC_REGION.into(), "Port".into(), "port-oob-".into(), n + 10),
    ]
}

pub(super) fn manifest(plan: &Plan, seeded: Option<&str>) -> ElasticIP {
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
