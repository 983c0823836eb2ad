//! Tests of the in-process simulator through its [`SimulatorProvider`]s and admin methods, one
//! file a topic; the helpers they share are here.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::{Instant, advance};

use super::*;
use eip_cloud::{AllocateRequest, Blocker, ChargeType, CloudProvider, EipPhase, ErrorClass, OWNER_TAG, Receipt, Transition, UnbindRequest};

mod admin;
mod calls;
mod idempotency;
mod lifecycle;
mod refusals;
mod tags;

const ALI: &str = "cn-hangzhou";
const OTC: &str = "eu-de";

fn sim(latency_secs: u64) -> Simulator {
    let latency = Duration::from_secs(latency_secs);
    Simulator::new(SimulatorConfig {
        seed: 11,
        latencies: Latencies::uniform(latency),
        ..SimulatorConfig::instant()
    })
}

fn target(instance_type: InstanceType, id: &str) -> BindTarget {
    BindTarget {
        instance_type,
        instance_id: id.into(),
        private_ip_address: None,
    }
}

fn ecs(id: &str) -> BindTarget {
    target(InstanceType::EcsInstance, id)
}

fn request(token: &str) -> AllocateRequest {
    AllocateRequest {
        client_token: token.into(),
        ..AllocateRequest::default()
    }
}

async fn allocate(provider: &SimulatorProvider) -> CloudEip {
    provider.allocate(&AllocateRequest::default()).await.expect("allocates").eip
}

fn raw(sim: &Simulator, region: &str, id: &str) -> Option<String> {
    sim.eip(region, id).map(|eip| eip.raw_state)
}

/// A simulator with `latency_secs` latencies, a provider for `region` and a fresh EIP there.
async fn with_eip(latency_secs: u64, region: &str) -> (Simulator, SimulatorProvider, CloudEip) {
    let sim = sim(latency_secs);
    let provider = sim.provider(region).expect("region");
    let eip = allocate(&provider).await;
    (sim, provider, eip)
}

/// Binds `eip` to `target` without a client token.
async fn bind(provider: &SimulatorProvider, eip: &CloudEip, target: &BindTarget) -> Receipt {
    bind_with(provider, eip, target, "").await
}

/// Binds `eip` to `target` with `client_token`.
async fn bind_with(provider: &SimulatorProvider, eip: &CloudEip, target: &BindTarget, client_token: &str) -> Receipt {
    provider
        .associate(&eip.allocation_id, target, client_token)
        .await
        .expect("associates")
}

/// Undoes the binding of `eip` to `current`, without a client token.
fn unbind(eip: &CloudEip, current: &BindTarget) -> UnbindRequest {
    UnbindRequest::new(eip.allocation_id.clone(), current.clone(), "")
}
