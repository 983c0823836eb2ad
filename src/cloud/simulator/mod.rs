//! An in-process EIP cloud: deterministic (seeded), with the states, error codes, latencies, rate
//! limits and idempotency rules of Alibaba Cloud and Open Telekom Cloud / Huawei Cloud regions.
//!
//! [`Simulator`] owns every region; [`Simulator::provider`] hands out a [`CloudProvider`] for one
//! region. Calls through a provider are logged ([`Simulator::calls`]) and counted
//! ([`Simulator::counters`]); admin methods (seeding, out-of-band changes) are not. Time is
//! `tokio::time::Instant`, so tests drive transitions with a paused clock. The error codes per
//! flavour and operation are tabulated in `codes.rs`.

mod codes;
mod config;
mod model;
pub mod server;
mod wire_alibaba;
mod wire_otc;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::cloud::{
    AllocateRequest, Allocated, BindTarget, CloudEip, CloudError, CloudProvider, DESCRIBE_BATCH, InstanceType, Operation, Receipt,
};

pub use config::{
    AccessKey, Faults, Flavor, IamUser, Latencies, Project, RateLimits, RegionConfig, SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, SimAuth,
    SimulatorConfig, default_regions,
};
pub use model::{AdminError, InstanceInfo, SeedEip, raw_state};

use codes::Refusal;
use model::{Ctx, Region, Reply};

/// Calls kept in the log; older ones are dropped (counters keep counting).
pub const CALL_LOG_CAPACITY: usize = 200_000;

/// Whether a logged call succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CallOutcome {
    Ok,
    Error,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "Ok",
            CallOutcome::Error => "Error",
        }
    }
}

impl PartialEq<&str> for CallOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One provider call as the cloud saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// 1-based, increasing across all regions.
    pub seq: u64,
    /// Milliseconds since the simulator was created.
    pub at_ms: u64,
    pub region: String,
    pub operation: Operation,
    /// The IDs the call named; for Allocate, the EIP it created (or replayed).
    pub allocation_ids: Vec<String>,
    pub client_token: Option<String>,
    pub outcome: CallOutcome,
    pub code: Option<String>,
    pub request_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CounterRow {
    pub operation: Operation,
    pub outcome: CallOutcome,
    pub code: Option<String>,
    pub count: u64,
}

/// Instances to add: explicit IDs, or `{prefix}0001` … `{prefix}{count:04}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceIds {
    Ids(Vec<String>),
    Prefixed { prefix: String, count: u32 },
}

impl InstanceIds {
    pub fn expand(&self) -> Vec<String> {
        match self {
            InstanceIds::Ids(ids) => ids.clone(),
            InstanceIds::Prefixed { prefix, count } => model::prefixed_ids(prefix, *count),
        }
    }
}

/// Token bucket in integer nano-tokens, so a paused clock advanced by exactly `retry_after`
/// always yields a whole token (no float rounding).
#[derive(Clone, Copy, Debug)]
struct TokenBucket {
    credit: u128,
    last: Instant,
}

const TOKEN: u128 = 1_000_000_000;

impl TokenBucket {
    fn full(rate: u32, now: Instant) -> Self {
        TokenBucket {
            credit: u128::from(rate) * TOKEN,
            last: now,
        }
    }

    /// Takes one token, or says how long until one is available.
    fn try_take(&mut self, rate: u32, now: Instant) -> Result<(), Duration> {
        if rate == 0 {
            return Err(Duration::from_secs(1));
        }
        let rate = u128::from(rate);
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        self.credit = (self.credit + elapsed * rate).min(rate * TOKEN);
        self.last = now;
        if self.credit >= TOKEN {
            self.credit -= TOKEN;
            return Ok(());
        }
        let wait_nanos = (TOKEN - self.credit).div_ceil(rate);
        Err(Duration::from_nanos(u64::try_from(wait_nanos).unwrap_or(u64::MAX)))
    }
}

struct Inner {
    config: SimulatorConfig,
    started: Instant,
    regions: BTreeMap<String, Region>,
    buckets: HashMap<(String, Operation), TokenBucket>,
    fault_rng: SmallRng,
    last_seq: u64,
    calls: VecDeque<CallRecord>,
    counters: BTreeMap<(Operation, CallOutcome, Option<String>), u64>,
}

/// The simulated cloud. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Mutex<Inner>>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("Simulator")
            .field("seed", &inner.config.seed)
            .field("regions", &inner.regions.keys().collect::<Vec<_>>())
            .field("calls", &inner.last_seq)
            .finish()
    }
}

impl Default for Simulator {
    fn default() -> Self {
        Simulator::new(SimulatorConfig::default())
    }
}

impl Simulator {
    pub fn new(config: SimulatorConfig) -> Self {
        let mut regions = BTreeMap::new();
        let mut per_flavor: HashMap<Flavor, u64> = HashMap::new();
        for region in &config.regions {
            if regions.contains_key(&region.name) {
                continue; // first definition wins
            }
            let index = per_flavor.entry(region.flavor).or_default();
            regions.insert(region.name.clone(), Region::new(&region.name, region.flavor, *index, config.seed));
            *index += 1;
        }
        let inner = Inner {
            fault_rng: SmallRng::seed_from_u64(config.seed ^ 0x5eed_fa17_0000_0001),
            config,
            started: Instant::now(),
            regions,
            buckets: HashMap::new(),
            last_seq: 0,
            calls: VecDeque::new(),
            counters: BTreeMap::new(),
        };
        Simulator {
            inner: Arc::new(Mutex::new(inner)),
        }
    }

    /// A provider for one region; an error names the known regions.
    pub fn provider(&self, region: &str) -> Result<SimulatorProvider, String> {
        let inner = self.lock();
        match inner.regions.get(region) {
            Some(r) => Ok(SimulatorProvider {
                sim: self.clone(),
                region: region.to_owned(),
                flavor: r.flavor,
            }),
            None => Err(format!(
                "unknown simulator region {region:?} (known: {})",
                inner.regions.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        }
    }

    // ----- inspection -----

    pub fn config(&self) -> SimulatorConfig {
        self.lock().config.clone()
    }

    pub fn regions(&self) -> Vec<RegionConfig> {
        self.lock()
            .regions
            .values()
            .map(|r| RegionConfig::new(r.name.clone(), r.flavor))
            .collect()
    }

    /// All EIPs of a region in creation order (empty for an unknown region).
    pub fn eips(&self, region: &str) -> Vec<CloudEip> {
        let now = Instant::now();
        self.lock().regions.get_mut(region).map(|r| r.all(now)).unwrap_or_default()
    }

    pub fn eip(&self, region: &str, allocation_id: &str) -> Option<CloudEip> {
        let now = Instant::now();
        self.lock().regions.get_mut(region).and_then(|r| r.eip(now, allocation_id))
    }

    pub fn instances(&self, region: &str) -> Result<Vec<InstanceInfo>, AdminError> {
        self.with_region(region, |r| r.instances())
    }

    /// The retained call log, oldest first.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.lock().calls.iter().cloned().collect()
    }

    /// Calls with `seq > since` (pass the last `seq` you saw; 0 for all).
    pub fn calls_since(&self, since: u64) -> Vec<CallRecord> {
        let inner = self.lock();
        let start = inner.calls.partition_point(|record| record.seq <= since);
        inner.calls.range(start..).cloned().collect()
    }

    /// Sequence number of the latest call (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.lock().last_seq
    }

    /// Every call ever made, including throttled and faulted ones, by operation, outcome, code.
    pub fn counters(&self) -> Vec<CounterRow> {
        self.lock()
            .counters
            .iter()
            .map(|((operation, outcome, code), count)| CounterRow {
                operation: *operation,
                outcome: *outcome,
                code: code.clone(),
                count: *count,
            })
            .collect()
    }

    /// Number of calls of `operation` so far (all outcomes).
    pub fn call_count(&self, operation: Operation) -> u64 {
        self.lock()
            .counters
            .iter()
            .filter(|((op, _, _), _)| *op == operation)
            .map(|(_, count)| count)
            .sum()
    }

    // ----- admin -----

    /// Adds (or updates the NAT entry count of) instances; returns their IDs.
    pub fn add_instances(
        &self,
        region: &str,
        instance_type: InstanceType,
        ids: InstanceIds,
        nat_entries: u32,
    ) -> Result<Vec<String>, AdminError> {
        let ids = ids.expand();
        if ids.iter().any(String::is_empty) {
            return Err(AdminError::Invalid("instance IDs must not be empty".into()));
        }
        self.with_region(region, |r| r.add_instances(instance_type, &ids, nat_entries))?;
        Ok(ids)
    }

    /// Sets the SNAT/DNAT entry count of a NAT gateway.
    pub fn set_nat_entries(&self, region: &str, instance_id: &str, entries: u32) -> Result<InstanceInfo, AdminError> {
        self.with_region(region, |r| r.set_nat_entries(instance_id, entries))?
    }

    /// Creates an EIP outside the operator (not a provider call). Unknown bind targets are created.
    pub fn seed_eip(&self, region: &str, seed: SeedEip) -> Result<CloudEip, AdminError> {
        let now = Instant::now();
        self.with_region(region, |r| r.seed_eip(now, seed))?
    }

    /// Unbinds at once (console action); cancels a pending bind or unbind.
    pub fn oob_unbind(&self, region: &str, allocation_id: &str) -> Result<CloudEip, AdminError> {
        let now = Instant::now();
        self.with_region(region, |r| r.oob_unbind(now, allocation_id))?
    }

    /// Binds at once (console action), replacing any binding.
    pub fn oob_bind(&self, region: &str, allocation_id: &str, target: &BindTarget) -> Result<CloudEip, AdminError> {
        let now = Instant::now();
        self.with_region(region, |r| r.oob_bind(now, allocation_id, target))?
    }

    /// Deletes at once, whatever the EIP's state, binding or charge type.
    pub fn oob_release(&self, region: &str, allocation_id: &str) -> Result<(), AdminError> {
        let now = Instant::now();
        self.with_region(region, |r| r.oob_release(now, allocation_id))?
    }

    /// Locks (financial lock / `FREEZED`) or unlocks.
    pub fn oob_lock(&self, region: &str, allocation_id: &str, locked: bool) -> Result<CloudEip, AdminError> {
        let now = Instant::now();
        self.with_region(region, |r| r.oob_lock(now, allocation_id, locked))?
    }

    pub fn set_faults(&self, faults: Faults) {
        self.lock().config.faults = faults;
    }

    /// Applies to operations started from now on.
    pub fn latencies(&self) -> Latencies {
        self.lock().config.latencies
    }

    pub fn set_latencies(&self, latencies: Latencies) {
        self.lock().config.latencies = latencies;
    }

    /// Replaces the limits and refills every bucket.
    pub fn set_rate_limits(&self, rate_limits: RateLimits) {
        let mut inner = self.lock();
        inner.config.rate_limits = rate_limits;
        inner.buckets.clear();
    }

    // ----- internals -----

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent-enough state for a test double.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn with_region<T>(&self, region: &str, f: impl FnOnce(&mut Region) -> T) -> Result<T, AdminError> {
        let mut inner = self.lock();
        let region_state = inner
            .regions
            .get_mut(region)
            .ok_or_else(|| AdminError::UnknownRegion(region.to_owned()))?;
        Ok(f(region_state))
    }

    /// One counted call: optional injected latency, then rate limit, fault, and `body`, logged.
    async fn call<T>(
        &self,
        region: &str,
        operation: Operation,
        allocation_ids: Vec<String>,
        client_token: &str,
        body: impl FnOnce(&mut Region, &Ctx) -> Result<Reply<T>, Refusal> + Send,
    ) -> Result<T, CloudError> {
        let extra_latency = self.lock().config.faults.extra_latency;
        if !extra_latency.is_zero() {
            tokio::time::sleep(extra_latency).await;
        }
        self.lock().execute(region, operation, allocation_ids, client_token, body)
    }
}

impl Inner {
    fn execute<T>(
        &mut self,
        region_name: &str,
        operation: Operation,
        allocation_ids: Vec<String>,
        client_token: &str,
        body: impl FnOnce(&mut Region, &Ctx) -> Result<Reply<T>, Refusal>,
    ) -> Result<T, CloudError> {
        let now = Instant::now();
        self.last_seq += 1;
        let seq = self.last_seq;
        let Some(region) = self.regions.get_mut(region_name) else {
            // Providers exist only for known regions and regions are never removed.
            return Err(CloudError::terminal(
                operation,
                crate::cloud::Blocker::Other,
                "UnknownRegion",
                format!("unknown region {region_name}"),
            ));
        };
        let flavor = region.flavor;
        let ctx = Ctx {
            now,
            latencies: self.config.latencies,
            quota: self.config.eip_quota_per_region,
            auto_create_instances: self.config.auto_create_instances,
            request_id: request_id(self.config.seed, seq, flavor),
        };

        // Drawn for every call so the fault pattern depends only on the seed and call sequence.
        let fault = self.fault_rng.random::<f64>() < self.config.faults.effective_error_rate();
        let throttle = match self.config.rate_limits.for_operation(operation) {
            Some(rate) => self
                .buckets
                .entry((region_name.to_owned(), operation))
                .or_insert_with(|| TokenBucket::full(rate, now))
                .try_take(rate, now)
                .err(),
            None => None,
        };
        let result = if let Some(retry_after) = throttle {
            Err(Refusal::Throttled { retry_after })
        } else if fault {
            Err(Refusal::Unavailable)
        } else {
            body(region, &ctx)
        };

        let (outcome, logged_request_id, logged_ids) = match &result {
            Ok(reply) => (
                CallOutcome::Ok,
                reply.request_id.clone(),
                reply.created_ids.clone().unwrap_or(allocation_ids),
            ),
            Err(_) => (CallOutcome::Error, ctx.request_id.clone(), allocation_ids),
        };
        let result = result
            .map(|reply| reply.value)
            .map_err(|refusal| codes::cloud_error(flavor, operation, refusal).with_request_id(ctx.request_id.clone()));
        let code = result.as_ref().err().map(|e| e.code.clone());

        tracing::trace!(seq, region = region_name, %operation, outcome = outcome.as_str(), code = code.as_deref(), "simulator call");
        *self.counters.entry((operation, outcome, code.clone())).or_default() += 1;
        if self.calls.len() >= CALL_LOG_CAPACITY {
            self.calls.pop_front();
        }
        self.calls.push_back(CallRecord {
            seq,
            at_ms: u64::try_from(now.saturating_duration_since(self.started).as_millis()).unwrap_or(u64::MAX),
            region: region_name.to_owned(),
            operation,
            allocation_ids: logged_ids,
            client_token: (!client_token.is_empty()).then(|| client_token.to_owned()),
            outcome,
            code,
            request_id: logged_request_id,
        });
        result
    }
}

/// Deterministic, unique request IDs: Alibaba's are upper-case UUIDs, OTC's lower-case.
fn request_id(seed: u64, seq: u64, flavor: Flavor) -> String {
    let high = u128::from(model::fnv64(&(seed ^ seq.rotate_left(17)).to_le_bytes()));
    // The low 48 bits carry the sequence number, which makes them unique.
    let bits = (high << 64) | (u128::from(seed & 0xffff) << 48) | u128::from(seq & 0xffff_ffff_ffff);
    model::format_uuid(bits, flavor == Flavor::Alibaba)
}

/// A [`CloudProvider`] for one simulated region.
#[derive(Clone, Debug)]
pub struct SimulatorProvider {
    sim: Simulator,
    region: String,
    flavor: Flavor,
}

impl SimulatorProvider {
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }
}

#[async_trait]
impl CloudProvider for SimulatorProvider {
    fn name(&self) -> &str {
        "simulator"
    }

    /// Client tokens make allocation idempotent, as on Alibaba Cloud.
    fn allocation_is_idempotent(&self) -> bool {
        true
    }

    fn expected_transition(&self, operation: Operation) -> Duration {
        let latencies = self.sim.latencies();
        match operation {
            Operation::Allocate => latencies.allocate,
            Operation::Associate => latencies.associate,
            Operation::Unassociate => latencies.unassociate,
            Operation::Release => latencies.release,
            Operation::Describe | Operation::FindByOwner => Duration::ZERO,
        }
    }

    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let mut found = Vec::new();
        let mut seen = HashSet::new();
        for batch in allocation_ids.chunks(DESCRIBE_BATCH) {
            let eips = self
                .sim
                .call(&self.region, Operation::Describe, batch.to_vec(), "", |region, ctx| {
                    Ok(region.describe(ctx, batch))
                })
                .await?;
            found.extend(eips.into_iter().filter(|eip| seen.insert(eip.allocation_id.clone())));
        }
        Ok(found)
    }

    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError> {
        self.sim
            .call(&self.region, Operation::FindByOwner, Vec::new(), "", |region, ctx| {
                Ok(region.find_by_owner(ctx, owner_uid))
            })
            .await
    }

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError> {
        self.sim
            .call(
                &self.region,
                Operation::Allocate,
                Vec::new(),
                &request.client_token,
                |region, ctx| region.allocate(ctx, request),
            )
            .await
    }

    async fn associate(&self, allocation_id: &str, target: &BindTarget, client_token: &str) -> Result<Receipt, CloudError> {
        self.sim
            .call(
                &self.region,
                Operation::Associate,
                vec![allocation_id.to_owned()],
                client_token,
                |region, ctx| region.associate(ctx, allocation_id, target, client_token),
            )
            .await
    }

    async fn unassociate(&self, allocation_id: &str, current: &BindTarget, force: bool, client_token: &str) -> Result<Receipt, CloudError> {
        self.sim
            .call(
                &self.region,
                Operation::Unassociate,
                vec![allocation_id.to_owned()],
                client_token,
                |region, ctx| region.unassociate(ctx, allocation_id, current, force, client_token),
            )
            .await
    }

    async fn release(&self, allocation_id: &str, client_token: &str) -> Result<Receipt, CloudError> {
        self.sim
            .call(
                &self.region,
                Operation::Release,
                vec![allocation_id.to_owned()],
                client_token,
                |region, ctx| region.release(ctx, allocation_id, client_token),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tokio::time::advance;

    use super::*;
    use crate::cloud::{Blocker, ChargeType, EipPhase, ErrorClass, OWNER_TAG, Transition};

    const ALI: &str = "cn-hangzhou";
    const OTC: &str = "eu-de";

    fn sim(latency_secs: u64) -> Simulator {
        let latency = Duration::from_secs(latency_secs);
        Simulator::new(SimulatorConfig {
            seed: 11,
            latencies: Latencies {
                allocate: latency,
                associate: latency,
                unassociate: latency,
                release: latency,
            },
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

    #[tokio::test(start_paused = true)]
    async fn allocate_is_immediate_on_alibaba_and_pending_on_otc() {
        let sim = sim(2);
        let ali = allocate(&sim.provider(ALI).expect("region")).await;
        assert_eq!((ali.raw_state.as_str(), ali.phase), ("Available", EipPhase::Unbound));
        assert_eq!(ali.bandwidth_mbps, Some(5));

        let otc = allocate(&sim.provider(OTC).expect("region")).await;
        assert_eq!(
            (otc.raw_state.as_str(), otc.phase),
            ("PENDING_CREATE", EipPhase::Transitional(Transition::Allocating))
        );
        advance(Duration::from_secs(2)).await;
        assert_eq!(raw(&sim, OTC, &otc.allocation_id).as_deref(), Some("DOWN"));
    }

    #[tokio::test(start_paused = true)]
    async fn associate_goes_through_associating_to_in_use() {
        let sim = sim(1);
        let provider = sim.provider(ALI).expect("region");
        let eip = allocate(&provider).await;
        let receipt = provider
            .associate(&eip.allocation_id, &ecs("i-sim-0001"), "bind-1")
            .await
            .expect("associates");
        assert_eq!(receipt.request_id.len(), 36);
        let during = sim.eip(ALI, &eip.allocation_id).expect("exists");
        assert_eq!(
            (during.raw_state.as_str(), during.phase),
            ("Associating", EipPhase::Transitional(Transition::Associating))
        );
        assert_eq!(during.bound_to.as_ref().map(|b| b.instance_id.as_str()), Some("i-sim-0001"));

        advance(Duration::from_secs(1)).await;
        let after = sim.eip(ALI, &eip.allocation_id).expect("exists");
        assert_eq!((after.raw_state.as_str(), after.phase), ("InUse", EipPhase::Bound));
        let bound = after.bound_to.expect("bound");
        assert!(bound.satisfies(&ecs("i-sim-0001")));
        assert!(bound.private_ip_address.is_some(), "the cloud picks a private address");
    }

    #[tokio::test(start_paused = true)]
    async fn otc_binding_states_and_load_balancers() {
        let sim = sim(1);
        let provider = sim.provider(OTC).expect("region");
        let eip = allocate(&provider).await;
        advance(Duration::from_secs(1)).await;
        provider
            .associate(&eip.allocation_id, &target(InstanceType::Port, "port-sim-0001"), "")
            .await
            .expect("associates");
        assert_eq!(raw(&sim, OTC, &eip.allocation_id).as_deref(), Some("PENDING_UPDATE"));
        advance(Duration::from_secs(1)).await;
        assert_eq!(raw(&sim, OTC, &eip.allocation_id).as_deref(), Some("ACTIVE"));

        // A load balancer holds several EIPs and reads ELB.
        let lb = target(InstanceType::SlbInstance, "lb-sim-0001");
        for _ in 0..2 {
            let eip = allocate(&provider).await;
            advance(Duration::from_secs(1)).await;
            provider.associate(&eip.allocation_id, &lb, "").await.expect("associates");
            advance(Duration::from_secs(1)).await;
            assert_eq!(raw(&sim, OTC, &eip.allocation_id).as_deref(), Some("ELB"));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn calls_during_a_transition_get_task_conflict() {
        let sim = sim(3);
        for (region, code) in [(ALI, "TaskConflict"), (OTC, "VPC.0512")] {
            let provider = sim.provider(region).expect("region");
            let eip = allocate(&provider).await;
            advance(Duration::from_secs(3)).await;
            provider
                .associate(&eip.allocation_id, &ecs("i-sim-0002"), "")
                .await
                .expect("associates");
            advance(Duration::from_secs(1)).await;
            let err = provider
                .unassociate(&eip.allocation_id, &ecs("i-sim-0002"), false, "")
                .await
                .expect_err("busy");
            assert_eq!((err.code.as_str(), err.class), (code, ErrorClass::Retryable));
            assert!(err.request_id.is_some());
            let err = provider.release(&eip.allocation_id, "").await.expect_err("busy");
            assert_eq!(err.code, code);
            let err = provider
                .associate(&eip.allocation_id, &ecs("i-sim-0003"), "")
                .await
                .expect_err("busy");
            assert_eq!(err.code, code);
            advance(Duration::from_secs(2)).await;
            assert_eq!(sim.eip(region, &eip.allocation_id).map(|e| e.phase), Some(EipPhase::Bound));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unbind_then_release_until_gone() {
        let sim = sim(2);
        for (region, unbinding, unbound, releasing) in [
            (ALI, "Unassociating", "Available", "Releasing"),
            (OTC, "PENDING_UPDATE", "DOWN", "PENDING_DELETE"),
        ] {
            let provider = sim.provider(region).expect("region");
            let eip = allocate(&provider).await;
            advance(Duration::from_secs(2)).await;
            provider
                .associate(&eip.allocation_id, &ecs("i-sim-0004"), "")
                .await
                .expect("associates");
            advance(Duration::from_secs(2)).await;
            let current = sim.eip(region, &eip.allocation_id).and_then(|e| e.bound_to).expect("bound");
            provider
                .unassociate(&eip.allocation_id, &current, false, "")
                .await
                .expect("unassociates");
            let during = sim.eip(region, &eip.allocation_id).expect("exists");
            assert_eq!(
                (during.raw_state.as_str(), during.phase),
                (unbinding, EipPhase::Transitional(Transition::Unassociating))
            );
            advance(Duration::from_secs(2)).await;
            let after = sim.eip(region, &eip.allocation_id).expect("exists");
            assert_eq!((after.raw_state.as_str(), after.bound_to), (unbound, None));

            // The instance is free for another EIP now.
            let other = allocate(&provider).await;
            advance(Duration::from_secs(2)).await;
            provider
                .associate(&other.allocation_id, &ecs("i-sim-0004"), "")
                .await
                .expect("instance is free");

            provider.release(&eip.allocation_id, "").await.expect("releases");
            assert_eq!(raw(&sim, region, &eip.allocation_id).as_deref(), Some(releasing));
            let ids = vec![eip.allocation_id.clone()];
            assert_eq!(provider.describe(&ids).await.expect("describes").len(), 1);
            advance(Duration::from_secs(2)).await;
            assert!(provider.describe(&ids).await.expect("describes").is_empty());
            let err = provider.release(&eip.allocation_id, "").await.expect_err("gone");
            assert_eq!(err.class, ErrorClass::Gone);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn release_while_bound_is_refused() {
        let sim = sim(0);
        for (region, code, class) in [
            (ALI, "IncorrectEipStatus", ErrorClass::Retryable),
            (OTC, "VPC.0517", ErrorClass::Terminal),
        ] {
            let provider = sim.provider(region).expect("region");
            let eip = allocate(&provider).await;
            provider
                .associate(&eip.allocation_id, &ecs("i-sim-0005"), "")
                .await
                .expect("associates");
            let err = provider.release(&eip.allocation_id, "").await.expect_err("bound");
            assert_eq!((err.code.as_str(), err.class), (code, class));
            assert_eq!(sim.eip(region, &eip.allocation_id).map(|e| e.phase), Some(EipPhase::Bound));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn prepaid_and_protected_eips_cannot_be_released() {
        let sim = sim(0);
        for (region, code) in [(ALI, "Forbidden.ChargeTypeIsPrepaid"), (OTC, "VPC.0502")] {
            let provider = sim.provider(region).expect("region");
            let prepaid = provider
                .allocate(&AllocateRequest {
                    charge_type: ChargeType::PrePaid,
                    ..request("prepaid")
                })
                .await
                .expect("allocates")
                .eip;
            assert_eq!(prepaid.charge_type, ChargeType::PrePaid);
            let err = provider.release(&prepaid.allocation_id, "").await.expect_err("prepaid");
            assert_eq!(
                (err.code.as_str(), err.class, err.blocker),
                (code, ErrorClass::Terminal, Some(Blocker::PrepaidCannotRelease))
            );

            let protected = sim
                .seed_eip(
                    region,
                    SeedEip {
                        deletion_protection: true,
                        ..SeedEip::default()
                    },
                )
                .expect("seeds");
            let err = provider.release(&protected.allocation_id, "").await.expect_err("protected");
            assert_eq!(
                (err.code.as_str(), err.blocker),
                ("InvalidOperation.DeletionProtection", Some(Blocker::DeletionProtection))
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn nat_entries_block_unbind_unless_forced() {
        let sim = sim(0);
        for (region, code) in [(ALI, "DependencyViolation.SnatEntry"), (OTC, "VPC.0513")] {
            let provider = sim.provider(region).expect("region");
            let nat = target(InstanceType::Nat, "ngw-sim-0001");
            sim.set_nat_entries(region, "ngw-sim-0001", 2).expect("known NAT gateway");
            let eip = allocate(&provider).await;
            provider.associate(&eip.allocation_id, &nat, "").await.expect("associates");
            let err = provider
                .unassociate(&eip.allocation_id, &nat, false, "")
                .await
                .expect_err("NAT entries");
            assert_eq!((err.code.as_str(), err.blocker), (code, Some(Blocker::NatEntriesBlockUnbind)));
            provider.unassociate(&eip.allocation_id, &nat, true, "").await.expect("forced");
            assert_eq!(sim.eip(region, &eip.allocation_id).map(|e| e.phase), Some(EipPhase::Unbound));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn allocate_is_idempotent_by_client_token() {
        let sim = sim(0);
        let provider = sim.provider(ALI).expect("region");
        let first = provider.allocate(&request("uid-1")).await.expect("allocates");
        let again = provider.allocate(&request("uid-1")).await.expect("replays");
        assert_eq!(first, again);
        assert_eq!(sim.eips(ALI).len(), 1);

        let changed = AllocateRequest {
            bandwidth_mbps: Some(10),
            ..request("uid-1")
        };
        let err = provider.allocate(&changed).await.expect_err("mismatch");
        assert_eq!(
            (err.code.as_str(), err.class, err.blocker),
            ("IdempotentParameterMismatch", ErrorClass::Terminal, Some(Blocker::InvalidRequest))
        );
        assert_eq!(sim.eips(ALI).len(), 1);

        // Both calls are logged, the replay with the original request ID and EIP.
        let calls = sim.calls();
        assert_eq!(calls[1].request_id, first.receipt.request_id);
        assert_eq!(calls[1].allocation_ids, vec![first.eip.allocation_id.clone()]);
    }

    #[tokio::test(start_paused = true)]
    async fn associate_is_idempotent_by_client_token() {
        let sim = sim(5);
        let provider = sim.provider(ALI).expect("region");
        let eip = allocate(&provider).await;
        let first = provider
            .associate(&eip.allocation_id, &ecs("i-sim-0006"), "bind")
            .await
            .expect("associates");
        let retry = provider
            .associate(&eip.allocation_id, &ecs("i-sim-0006"), "bind")
            .await
            .expect("replays while Associating");
        assert_eq!(first, retry);
        let err = provider
            .associate(&eip.allocation_id, &ecs("i-sim-0007"), "bind")
            .await
            .expect_err("mismatch");
        assert_eq!(err.code, "IdempotentParameterMismatch");
        advance(Duration::from_secs(5)).await;
        assert_eq!(provider.associate(&eip.allocation_id, &ecs("i-sim-0006"), "bind").await, Ok(first));

        // After an out-of-band unbind the token is a new request again.
        sim.oob_unbind(ALI, &eip.allocation_id).expect("unbinds");
        let rebind = provider
            .associate(&eip.allocation_id, &ecs("i-sim-0006"), "bind")
            .await
            .expect("binds again");
        assert_ne!(rebind.request_id, retry.request_id);
    }

    #[tokio::test(start_paused = true)]
    async fn associate_refusals() {
        let sim = sim(0);
        for (region, unknown, taken, bound_code, bound_class, locked, gone) in [
            (
                ALI,
                "InvalidInstanceId.NotFound",
                "InvalidParameter.Duplicated",
                "IncorrectEipStatus",
                ErrorClass::Retryable,
                "Forbidden.FinancialLocked",
                "InvalidAllocationId.NotFound",
            ),
            (
                OTC,
                "VPC.0514",
                "VPC.0511",
                "VPC.0510",
                ErrorClass::Terminal,
                "VPC.0509",
                "VPC.0504",
            ),
        ] {
            let provider = sim.provider(region).expect("region");
            let a = allocate(&provider).await;
            let b = allocate(&provider).await;

            let err = provider
                .associate(&a.allocation_id, &ecs("i-nope"), "")
                .await
                .expect_err("unknown instance");
            assert_eq!((err.code.as_str(), err.blocker), (unknown, Some(Blocker::InvalidBindingTarget)));

            provider
                .associate(&a.allocation_id, &ecs("i-sim-0010"), "")
                .await
                .expect("associates");
            let err = provider
                .associate(&b.allocation_id, &ecs("i-sim-0010"), "")
                .await
                .expect_err("instance taken");
            assert_eq!((err.code.as_str(), err.blocker), (taken, Some(Blocker::InvalidBindingTarget)));

            let err = provider
                .associate(&a.allocation_id, &ecs("i-sim-0011"), "")
                .await
                .expect_err("already bound");
            assert_eq!((err.code.as_str(), err.class), (bound_code, bound_class));

            sim.oob_lock(region, &b.allocation_id, true).expect("locks");
            let err = provider
                .associate(&b.allocation_id, &ecs("i-sim-0012"), "")
                .await
                .expect_err("locked");
            assert_eq!((err.code.as_str(), err.blocker), (locked, Some(Blocker::Locked)));
            let err = provider.release(&b.allocation_id, "").await.expect_err("locked");
            assert_eq!(err.blocker, Some(Blocker::Locked));

            let err = provider
                .associate("eip-doesnotexist", &ecs("i-sim-0012"), "")
                .await
                .expect_err("gone");
            assert_eq!((err.code.as_str(), err.class), (gone, ErrorClass::Gone));

            // Any IP address is a valid target.
            let c = allocate(&provider).await;
            provider
                .associate(&c.allocation_id, &target(InstanceType::IpAddress, "192.168.7.7"), "")
                .await
                .expect("associates");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn auto_created_instances() {
        let sim = Simulator::new(SimulatorConfig {
            auto_create_instances: true,
            ..SimulatorConfig::instant()
        });
        let provider = sim.provider(ALI).expect("region");
        let eip = allocate(&provider).await;
        provider
            .associate(&eip.allocation_id, &ecs("i-anything"), "")
            .await
            .expect("auto-created");
        let instances = sim.instances(ALI).expect("region");
        assert!(
            instances
                .iter()
                .any(|i| i.instance_id == "i-anything" && i.eips == vec![eip.allocation_id.clone()])
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unassociate_of_an_unbound_eip() {
        let sim = sim(0);
        let ali = sim.provider(ALI).expect("region");
        let eip = allocate(&ali).await;
        let err = ali
            .unassociate(&eip.allocation_id, &ecs("i-sim-0001"), false, "")
            .await
            .expect_err("not bound");
        assert_eq!((err.code.as_str(), err.class), ("IncorrectEipStatus", ErrorClass::Retryable));

        let otc = sim.provider(OTC).expect("region");
        let eip = allocate(&otc).await;
        otc.unassociate(&eip.allocation_id, &ecs("i-sim-0001"), false, "")
            .await
            .expect("OTC: a no-op");
        assert_eq!(raw(&sim, OTC, &eip.allocation_id).as_deref(), Some("DOWN"));
    }

    #[tokio::test(start_paused = true)]
    async fn quota_is_enforced() {
        let sim = Simulator::new(SimulatorConfig {
            eip_quota_per_region: 2,
            ..SimulatorConfig::instant()
        });
        let provider = sim.provider(OTC).expect("region");
        allocate(&provider).await;
        allocate(&provider).await;
        let err = provider.allocate(&AllocateRequest::default()).await.expect_err("quota");
        assert_eq!((err.code.as_str(), err.blocker), ("VPC.0521", Some(Blocker::QuotaExceeded)));
    }

    #[tokio::test(start_paused = true)]
    async fn describe_is_batched_and_omits_unknown_ids() {
        let sim = sim(0);
        let provider = sim.provider(ALI).expect("region");
        let mut ids = Vec::new();
        for _ in 0..100 {
            ids.push(allocate(&provider).await.allocation_id);
        }
        ids.extend((0..20).map(|n| format!("eip-missing{n}")));
        let before = sim.last_seq();
        let found = provider.describe(&ids).await.expect("describes");
        assert_eq!(found.len(), 100);
        let calls = sim.calls_since(before);
        assert_eq!(calls.len(), 3);
        assert!(calls.iter().all(|c| c.operation == Operation::Describe && c.outcome == "Ok"));
        assert_eq!(calls.iter().map(|c| c.allocation_ids.len()).collect::<Vec<_>>(), vec![50, 50, 20]);
        assert_eq!(sim.call_count(Operation::Describe), 3);

        // No IDs, no call.
        assert!(provider.describe(&[]).await.expect("describes").is_empty());
        assert_eq!(sim.call_count(Operation::Describe), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn find_by_owner_uses_the_owner_tag() {
        let sim = sim(0);
        let provider = sim.provider(OTC).expect("region");
        let tagged = AllocateRequest {
            tags: BTreeMap::from([(OWNER_TAG.to_owned(), "uid-7".to_owned())]),
            ..request("t-7")
        };
        let mine = provider.allocate(&tagged).await.expect("allocates").eip;
        allocate(&provider).await;
        let found = provider.find_by_owner("uid-7").await.expect("finds");
        assert_eq!(
            found.iter().map(|e| e.allocation_id.as_str()).collect::<Vec<_>>(),
            vec![mine.allocation_id.as_str()]
        );
        assert_eq!(found[0].owner_uid(), Some("uid-7"));
        assert!(provider.find_by_owner("uid-8").await.expect("finds").is_empty());
        assert_eq!(sim.call_count(Operation::FindByOwner), 2);
        // The other region does not see it.
        assert!(
            sim.provider("eu-nl")
                .expect("region")
                .find_by_owner("uid-7")
                .await
                .expect("finds")
                .is_empty()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limits_throttle_and_recover() {
        let sim = Simulator::new(SimulatorConfig {
            rate_limits: RateLimits {
                mutating_per_second: Some(5),
                describe_per_second: Some(2),
            },
            ..SimulatorConfig::instant()
        });
        let provider = sim.provider(ALI).expect("region");
        for _ in 0..5 {
            allocate(&provider).await;
        }
        let err = provider.allocate(&AllocateRequest::default()).await.expect_err("throttled");
        assert!(err.throttled);
        assert_eq!((err.code.as_str(), err.class), ("Throttling.User", ErrorClass::Retryable));
        let retry_after = err.retry_after.expect("says when");
        assert_eq!(retry_after, Duration::from_millis(200));
        assert_eq!(sim.eips(ALI).len(), 5, "a throttled call changes nothing");

        // Other operations and regions have their own buckets.
        let ids = vec!["eip-x".to_owned()];
        provider.describe(&ids).await.expect("own bucket");
        allocate(&sim.provider("cn-shanghai").expect("region")).await;

        advance(retry_after).await;
        allocate(&provider).await;
        let err = provider.allocate(&AllocateRequest::default()).await.expect_err("throttled again");
        assert_eq!(err.retry_after, Some(Duration::from_millis(200)));

        let throttled = sim
            .counters()
            .into_iter()
            .find(|row| row.code.as_deref() == Some("Throttling.User"))
            .expect("counted");
        assert_eq!(
            (throttled.operation, throttled.outcome, throttled.count),
            (Operation::Allocate, CallOutcome::Error, 2)
        );

        // OTC words it differently; lifting the limit ends throttling.
        let otc = sim.provider(OTC).expect("region");
        for _ in 0..2 {
            otc.describe(&ids).await.expect("within burst");
        }
        assert_eq!(otc.describe(&ids).await.expect_err("throttled").code, "APIGW.0308");
        sim.set_rate_limits(RateLimits::default());
        otc.describe(&ids).await.expect("unlimited");
    }

    #[tokio::test(start_paused = true)]
    async fn faults_are_deterministic_for_a_seed() {
        async fn pattern(seed: u64) -> (Vec<bool>, Vec<String>) {
            let sim = Simulator::new(SimulatorConfig::instant().with_seed(seed));
            sim.set_faults(Faults {
                error_rate: 0.5,
                extra_latency: Duration::ZERO,
            });
            let provider = sim.provider(ALI).expect("region");
            let mut outcomes = Vec::new();
            for _ in 0..40 {
                let result = provider.allocate(&AllocateRequest::default()).await;
                if let Err(err) = &result {
                    assert_eq!((err.code.as_str(), err.class), ("ServiceUnavailable", ErrorClass::Retryable));
                }
                outcomes.push(result.is_ok());
            }
            (outcomes, sim.eips(ALI).into_iter().map(|e| e.allocation_id).collect())
        }
        let (a, ids_a) = pattern(99).await;
        let (b, ids_b) = pattern(99).await;
        assert_eq!((&a, &ids_a), (&b, &ids_b));
        assert!(a.iter().any(|ok| *ok) && a.iter().any(|ok| !*ok), "{a:?}");
        let (c, _) = pattern(100).await;
        assert_ne!(a, c);
    }

    #[tokio::test(start_paused = true)]
    async fn extra_latency_is_slept_before_the_call() {
        let sim = sim(0);
        sim.set_faults(Faults {
            error_rate: 0.0,
            extra_latency: Duration::from_millis(300),
        });
        let provider = sim.provider(ALI).expect("region");
        let start = Instant::now();
        allocate(&provider).await;
        assert_eq!(start.elapsed(), Duration::from_millis(300));
        assert_eq!(sim.calls()[0].at_ms, 300);
    }

    #[tokio::test(start_paused = true)]
    async fn out_of_band_changes_are_immediate_and_not_counted() {
        let sim = sim(2);
        let seeded = sim
            .seed_eip(
                ALI,
                SeedEip {
                    charge_type: ChargeType::PrePaid,
                    bound_to: Some(ecs("i-sim-0015")),
                    tags: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
                    bandwidth_mbps: Some(20),
                    ..SeedEip::default()
                },
            )
            .expect("seeds");
        assert_eq!((seeded.raw_state.as_str(), seeded.charge_type), ("InUse", ChargeType::PrePaid));
        let id = seeded.allocation_id;

        assert_eq!(sim.oob_unbind(ALI, &id).expect("unbinds").phase, EipPhase::Unbound);
        let rebound = sim.oob_bind(ALI, &id, &target(InstanceType::Nat, "ngw-sim-0002")).expect("binds");
        assert_eq!(rebound.bound_to.map(|b| b.instance_id), Some("ngw-sim-0002".to_owned()));
        let locked = sim.oob_lock(ALI, &id, true).expect("locks");
        assert_eq!(
            (locked.raw_state.as_str(), locked.phase, locked.locks),
            ("InUse", EipPhase::Locked, vec!["financial".to_owned()])
        );
        sim.oob_lock(ALI, &id, false).expect("unlocks");
        sim.oob_release(ALI, &id).expect("releases");
        assert!(sim.eip(ALI, &id).is_none());
        assert_eq!(sim.oob_release(ALI, &id), Err(AdminError::UnknownEip(id.clone())));
        assert!(sim.calls().is_empty() && sim.counters().is_empty());

        // Seeding respects exclusive instances.
        sim.seed_eip(
            ALI,
            SeedEip {
                bound_to: Some(ecs("i-sim-0016")),
                ..SeedEip::default()
            },
        )
        .expect("seeds");
        let err = sim
            .seed_eip(
                ALI,
                SeedEip {
                    bound_to: Some(ecs("i-sim-0016")),
                    ..SeedEip::default()
                },
            )
            .expect_err("taken");
        assert!(matches!(err, AdminError::Conflict(_)));
        assert!(matches!(
            sim.seed_eip("mars-1", SeedEip::default()),
            Err(AdminError::UnknownRegion(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn out_of_band_release_of_a_bound_eip_frees_the_instance() {
        let sim = sim(0);
        let provider = sim.provider(OTC).expect("region");
        let eip = allocate(&provider).await;
        provider
            .associate(&eip.allocation_id, &ecs("i-sim-0017"), "")
            .await
            .expect("associates");
        sim.oob_release(OTC, &eip.allocation_id).expect("releases");
        let err = provider
            .unassociate(&eip.allocation_id, &ecs("i-sim-0017"), false, "")
            .await
            .expect_err("gone");
        assert_eq!((err.code.as_str(), err.class), ("VPC.0504", ErrorClass::Gone));
        let next = allocate(&provider).await;
        provider
            .associate(&next.allocation_id, &ecs("i-sim-0017"), "")
            .await
            .expect("instance is free");
    }

    #[tokio::test(start_paused = true)]
    async fn call_log_records_everything() {
        let sim = sim(0);
        let provider = sim.provider(OTC).expect("region");
        let eip = provider.allocate(&request("tok-a")).await.expect("allocates").eip;
        let err = provider.release("nope", "tok-r").await.expect_err("gone");
        let calls = sim.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].seq, 1);
        assert_eq!(calls[0].allocation_ids, vec![eip.allocation_id]);
        assert_eq!(calls[0].client_token.as_deref(), Some("tok-a"));
        assert_eq!((calls[1].outcome, calls[1].code.as_deref()), (CallOutcome::Error, Some("VPC.0504")));
        assert_eq!(Some(calls[1].request_id.clone()), err.request_id);
        assert_eq!(
            calls[1].request_id,
            calls[1].request_id.to_lowercase(),
            "OTC request IDs are lower-case"
        );
        assert_eq!(sim.calls_since(1).len(), 1);
        assert!(sim.provider("mars-1").is_err());
        assert_eq!(provider.name(), "simulator");
        assert_eq!(provider.flavor(), Flavor::Otc);
    }

    #[test]
    fn token_bucket_refills_exactly() {
        let now = Instant::now();
        let mut bucket = TokenBucket::full(3, now);
        for _ in 0..3 {
            assert_eq!(bucket.try_take(3, now), Ok(()));
        }
        let wait = bucket.try_take(3, now).expect_err("empty");
        assert_eq!(wait, Duration::from_nanos(333_333_334));
        assert_eq!(bucket.try_take(3, now + wait), Ok(()));
        // Never more than one second's worth.
        let later = now + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.try_take(3, later), Ok(()));
        }
        assert!(bucket.try_take(3, later).is_err());
    }
}
