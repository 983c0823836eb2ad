//! An in-process EIP cloud: deterministic (seeded), with the states, error codes, latencies, rate
//! limits and idempotency rules of Alibaba Cloud and Open Telekom Cloud / Huawei Cloud regions.
//!
//! [`Simulator`] owns every region; [`Simulator::provider`] hands out a
//! [`CloudProvider`](eip_cloud::CloudProvider) for one region. Calls through a provider are
//! logged ([`Simulator::calls`]) and counted ([`Simulator::counters`]); admin methods (seeding,
//! out-of-band changes) are not. Time is `tokio::time::Instant`, so tests drive transitions with
//! a paused clock. The error codes per flavour and operation are tabulated in `codes.rs`.
//!
//! Layout: `execute.rs` runs one counted call (latency, rate limit, fault, model, log);
//! `provider.rs` is the in-process [`SimulatorProvider`]; `model/` holds a region's state machines
//! (`lifecycle.rs`) apart from its admin operations (`admin.rs`); `wire_alibaba/`, `wire_otc/` and
//! `wire_aws/` (EC2, at `/aws/`) are the wire front ends (router in `mod.rs`, `auth.rs`, the actions); [`server`] serves them
//! beside the admin API.
//!
//! The simulator is bounded: counts, sizes, latencies and connection times all have hard
//! limits ([`limits`]), so no request can abort the process or grow it without bound, and no
//! answer or `Debug` output shows a secret ([`SimulatorConfig::redacted`]).
//!
//! # Eventual consistency
//!
//! A real cloud may not show an EIP in a Describe right after allocating it, or while it is being
//! deleted. [`Simulator::hide_from_describe`] (admin: `POST
//! /admin/regions/{region}/eips/{id}/hide-from-describe` with `{"answers": N}`) makes the next
//! `N` Describe answers that name the EIP leave it out: the in-process provider's `describe`,
//! Alibaba `DescribeEipAddresses` with `AllocationId`, OTC `GET …/publicips/{id}` (404
//! `VPC.0504`) and lists filtered by `id`. Each such answer uses up one; listings that name no
//! IDs (find-by-owner, whole-region lists), the admin API and the inspection methods still show
//! it. `{"answers": 0}` shows it again at once; releasing the EIP drops the count.

mod calls;
mod codes;
mod config;
mod conn;
mod error;
mod execute;
mod factory;
mod faults;
pub mod limits;
mod model;
mod provider;
pub mod server;
mod wire_alibaba;
mod wire_aws;
mod wire_otc;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::time::Instant;

use eip_cloud::{BindTarget, CloudEip, InstanceType, Operation};

pub use calls::{CALL_LOG_CAPACITY, CallOutcome, CallRecord, CounterRow};
pub use config::{
    AccessKey, Faults, Flavor, IamUser, Latencies, PUBLISHED_RATE_LIMITS, Project, REDACTED, RateLimits, RegionConfig, SIM_ACCESS_KEY_ID,
    SIM_ACCESS_KEY_SECRET, SimAuth, SimulatorConfig, default_regions,
};
pub use error::{AdminError, UnknownRegion};
pub use factory::SimulatorFactory;
pub use faults::{FaultKind, FaultMix};
pub use limits::{CALL_LOG_MAX_BYTES, LimitError, MAX_EIPS_PER_REGION, MAX_INSTANCES_PER_REGION, MAX_INSTANCES_PER_REQUEST, MAX_LATENCY};
pub use model::{InstanceInfo, SeedEip, TAGS_PER_EIP, raw_state, server_port_id};

pub use provider::SimulatorProvider;

use calls::CallLog;
use execute::TokenBucket;
use model::Region;

/// Instances to add: explicit IDs, or `{prefix}0001` … `{prefix}{count:04}`; at most
/// [`MAX_INSTANCES_PER_REQUEST`] either way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceIds {
    Ids(Vec<String>),
    Prefixed { prefix: String, count: u32 },
}

impl InstanceIds {
    /// The IDs, or an error when there are too many or one is empty or too long.
    pub fn expand(&self) -> Result<Vec<String>, AdminError> {
        let count = match self {
            InstanceIds::Ids(ids) => ids.len(),
            InstanceIds::Prefixed { count, .. } => usize::try_from(*count).unwrap_or(usize::MAX),
        };
        if count > MAX_INSTANCES_PER_REQUEST {
            return Err(AdminError::Invalid(format!(
                "at most {MAX_INSTANCES_PER_REQUEST} instances per request, got {count}"
            )));
        }
        let ids = match self {
            InstanceIds::Ids(ids) => ids.clone(),
            InstanceIds::Prefixed { prefix, count } => {
                // The longest number is 5 digits (10,000).
                limits::check_len("prefix", prefix, limits::MAX_ID_LEN - 5)?;
                model::prefixed_ids(prefix, *count)
            }
        };
        for id in &ids {
            model::check_instance_id(id)?;
        }
        Ok(ids)
    }
}

struct Inner {
    config: SimulatorConfig,
    started: Instant,
    regions: BTreeMap<String, Region>,
    buckets: HashMap<(String, Operation), TokenBucket>,
    fault_rng: SmallRng,
    last_seq: u64,
    calls: CallLog,
    counters: BTreeMap<(Operation, CallOutcome, Option<String>, Option<FaultKind>), u64>,
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
    /// A simulator with `config`, its latencies and faults clamped to [`MAX_LATENCY`].
    pub fn new(config: SimulatorConfig) -> Self {
        let config = config.clamped();
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
            calls: CallLog::default(),
            counters: BTreeMap::new(),
        };
        Simulator {
            inner: Arc::new(Mutex::new(inner)),
        }
    }

    /// A provider for one region; an error names the known regions.
    pub fn provider(&self, region: &str) -> Result<SimulatorProvider, UnknownRegion> {
        let inner = self.lock();
        match inner.regions.get(region) {
            Some(r) => Ok(SimulatorProvider {
                sim: self.clone(),
                region: region.to_owned(),
                flavor: r.flavor,
                allocation_tokens: true,
            }),
            None => Err(UnknownRegion {
                region: region.to_owned(),
                known: inner.regions.keys().cloned().collect(),
            }),
        }
    }

    // ----- inspection -----

    /// The configuration in force, secrets included (see [`SimulatorConfig::redacted`]).
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
    /// `(region, allocation ID)` of every EIP that exists now (the wire front ends prune their
    /// per-EIP tables to these).
    pub fn live_eip_keys(&self) -> std::collections::HashSet<(String, String)> {
        self.regions()
            .into_iter()
            .flat_map(|r| {
                let eips = self.eips(&r.name);
                eips.into_iter().map(move |e| (r.name.clone(), e.allocation_id))
            })
            .collect()
    }

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
        self.lock().calls.since(since).cloned().collect()
    }

    /// Estimated bytes the call log holds (at most [`CALL_LOG_MAX_BYTES`]).
    pub fn call_log_bytes(&self) -> usize {
        self.lock().calls.bytes()
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
            .map(|((operation, outcome, code, fault), count)| CounterRow {
                operation: *operation,
                outcome: *outcome,
                code: code.clone(),
                fault: *fault,
                count: *count,
            })
            .collect()
    }

    /// Number of calls of `operation` so far (all outcomes).
    pub fn call_count(&self, operation: Operation) -> u64 {
        self.lock()
            .counters
            .iter()
            .filter(|((op, ..), _)| *op == operation)
            .map(|(_, count)| count)
            .sum()
    }

    // ----- admin -----

    /// Adds (or updates the NAT entry count of) instances; returns their IDs. At most
    /// [`MAX_INSTANCES_PER_REQUEST`] per call and [`MAX_INSTANCES_PER_REGION`] in all.
    pub fn add_instances(
        &self,
        region: &str,
        instance_type: InstanceType,
        ids: InstanceIds,
        nat_entries: u32,
    ) -> Result<Vec<String>, AdminError> {
        let ids = ids.expand()?;
        self.with_region(region, |r| r.add_instances(instance_type, &ids, nat_entries))??;
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

    /// Makes the next `answers` Describe answers that name the EIP leave it out (eventual
    /// consistency; see the module docs); 0 shows it again. Returns the count set.
    pub fn hide_from_describe(&self, region: &str, allocation_id: &str, answers: u32) -> Result<u32, AdminError> {
        let now = Instant::now();
        self.with_region(region, |r| r.hide_from_describe(now, allocation_id, answers))?
    }

    /// Replaces the faults, clamped (see [`Faults::clamped`]).
    pub fn set_faults(&self, faults: Faults) {
        self.lock().config.faults = faults.clamped();
    }

    /// Applies to operations started from now on.
    pub fn latencies(&self) -> Latencies {
        self.lock().config.latencies
    }

    /// Replaces the latencies, each clamped to [`MAX_LATENCY`].
    pub fn set_latencies(&self, latencies: Latencies) {
        self.lock().config.latencies = latencies.clamped();
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
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
