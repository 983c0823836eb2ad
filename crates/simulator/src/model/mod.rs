//! One region's EIPs and instances: the data and its rendering here; the reads and the state
//! machines of the four mutating calls in `lifecycle.rs`, out-of-band changes and seeding in
//! `admin.rs`, idempotency and table bookkeeping in `bookkeeping.rs`, the tag calls in `tags.rs`.
//!
//! Transitions are lazy: a transitional EIP records when its operation completes, and every
//! access first settles everything due by "now" (`tokio::time::Instant`, so paused test clocks
//! drive it). There are no background tasks.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use eip_cloud::{AllocateRequest, BindTarget, ChargeType, CloudEip, EipPhase, InstanceType, Operation, Receipt, Transition};

use super::config::{Flavor, Latencies};
use super::error::AdminError;
use super::limits::{
    LimitError, MAX_CLIENT_TOKEN_LEN, MAX_ID_LEN, MAX_IP_LEN, MAX_SEED_TAGS, MAX_TAG_KEY_LEN, MAX_TAG_VALUE_LEN, check_len,
};

mod admin;
mod bookkeeping;
mod lifecycle;
mod tags;

pub use tags::TAGS_PER_EIP;

/// Lock reason reported for locked EIPs (Alibaba `OperationLocks.LockReason`).
const LOCK_REASON: &str = "financial";
/// Addresses per /16 block: third octet 0..=255, fourth 1..=254.
const IPS_PER_BLOCK: u64 = 256 * 254;
/// /16 blocks reserved per region (second octet stride).
const BLOCKS_PER_REGION: u64 = 16;

/// An EIP created outside the operator (console, Terraform, billing), for adoption, prepaid and
/// locked scenarios.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SeedEip {
    pub charge_type: ChargeType,
    pub locked: bool,
    pub deletion_protection: bool,
    pub tags: BTreeMap<String, String>,
    pub bound_to: Option<BindTarget>,
    pub bandwidth_mbps: Option<u32>,
}

/// A server's port (OTC flavour), as the VPC port list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimPort {
    pub id: String,
    /// The server it belongs to.
    pub device_id: String,
    /// Its fixed IP (the address a binding to it maps to).
    pub ip: String,
}

/// The ID of server `server`'s primary port: a UUID derived from the server's ID, so stable.
pub fn server_port_id(server: &str) -> String {
    let high = u128::from(fnv64(format!("port:{server}").as_bytes()));
    format_uuid((high << 64) | u128::from(fnv64(server.as_bytes())), false)
}

/// One bindable instance as the simulator knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    pub instance_type: InstanceType,
    pub instance_id: String,
    /// SNAT/DNAT entries on a NAT gateway; while > 0 an unbind without `force` is refused.
    pub nat_entries: u32,
    /// Allocation IDs bound (or being bound) to it.
    pub eips: Vec<String>,
}

/// The raw state string and phase of an EIP in a region of `flavor`.
///
/// Alibaba keeps the status of a locked EIP and reports the lock separately; OTC shows `FREEZED`.
/// On OTC a binding to a load balancer reads `ELB` and to a VPN gateway `VPN`.
pub fn raw_state(flavor: Flavor, pending: Option<Transition>, bound_to: Option<InstanceType>, locked: bool) -> (&'static str, EipPhase) {
    let raw = match (flavor, pending) {
        // Alibaba allocates synchronously; the simulator never produces this combination.
        (Flavor::Alibaba, Some(Transition::Allocating)) => "Allocating",
        (Flavor::Alibaba, Some(Transition::Associating)) => "Associating",
        (Flavor::Alibaba, Some(Transition::Unassociating)) => "Unassociating",
        (Flavor::Alibaba, Some(Transition::Releasing)) => "Releasing",
        (Flavor::Alibaba, Some(Transition::Updating)) => "Modifying",
        (Flavor::Alibaba, None) if bound_to.is_some() => "InUse",
        (Flavor::Alibaba, None) => "Available",
        (Flavor::Otc, _) if locked => "FREEZED",
        (Flavor::Otc, Some(Transition::Allocating)) => "PENDING_CREATE",
        (Flavor::Otc, Some(Transition::Associating | Transition::Unassociating | Transition::Updating)) => "PENDING_UPDATE",
        (Flavor::Otc, Some(Transition::Releasing)) => "PENDING_DELETE",
        // EC2 reports no state; the simulator never leaves an AWS address transitional.
        (Flavor::Aws, Some(_)) => "pending",
        (Flavor::Aws, None) if bound_to.is_some() => "associated",
        (Flavor::Aws, None) => "unassociated",
        (Flavor::Otc, None) => match bound_to {
            None => "DOWN",
            Some(InstanceType::SlbInstance) => "ELB",
            Some(InstanceType::Vpn) => "VPN",
            Some(_) => "ACTIVE",
        },
    };
    let phase = match (locked, pending, bound_to) {
        (true, _, _) => EipPhase::Locked,
        (false, Some(transition), _) => EipPhase::Transitional(transition),
        (false, None, Some(_)) => EipPhase::Bound,
        (false, None, None) => EipPhase::Unbound,
    };
    (raw, phase)
}

/// Per-call context handed to the region by the simulator.
pub(crate) struct Ctx {
    pub now: Instant,
    pub latencies: Latencies,
    pub quota: u32,
    pub auto_create_instances: bool,
    /// The fresh request ID of this call.
    pub request_id: String,
}

/// A successful call: its value, the request ID the caller sees (the original one on an
/// idempotent replay) and, when the call created something, the IDs to log.
pub(crate) struct Reply<T> {
    pub value: T,
    pub request_id: String,
    pub created_ids: Option<Vec<String>>,
}

impl<T> Reply<T> {
    pub fn new(value: T, ctx: &Ctx) -> Self {
        Reply {
            value,
            request_id: ctx.request_id.clone(),
            created_ids: None,
        }
    }
}

fn receipt(request_id: &str) -> Reply<Receipt> {
    Reply {
        value: Receipt {
            request_id: request_id.to_owned(),
        },
        request_id: request_id.to_owned(),
        created_ids: None,
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    transition: Transition,
    /// Matches the entry in `Region::due`; a cancelled transition leaves a stale entry behind.
    key: u64,
}

#[derive(Clone, Debug)]
struct EipRecord {
    id: String,
    ip: String,
    created: u64,
    /// Wall-clock time of the allocation (or seeding), which the listing reports as the age.
    created_at: jiff::Timestamp,
    /// Set from the start of an associate until an unassociate completes.
    bound_to: Option<BindTarget>,
    pending: Option<Pending>,
    charge_type: ChargeType,
    locked: bool,
    deletion_protection: bool,
    tags: BTreeMap<String, String>,
    bandwidth_mbps: Option<u32>,
    /// Bumped by every state change a caller started; idempotency records of older epochs are
    /// stale, so a reused token after, say, an out-of-band unbind is a new request.
    epoch: u64,
    /// Client tokens that refer to this EIP, dropped with it.
    tokens: Vec<(Operation, String)>,
    /// Describe answers naming this EIP that still leave it out (eventual consistency).
    hidden_answers: u32,
}

#[derive(Clone, Debug)]
struct OpToken {
    allocation_id: String,
    epoch: u64,
    fingerprint: String,
    request_id: String,
}

#[derive(Clone, Debug)]
struct AllocateToken {
    request: AllocateRequest,
    allocation_id: String,
    request_id: String,
}

#[derive(Clone, Debug, Default)]
struct Instance {
    nat_entries: u32,
    eips: BTreeSet<String>,
}

type InstanceKey = (InstanceType, String);

/// Nat gateways and load balancers hold many EIPs; everything else one.
fn exclusive(instance_type: InstanceType) -> bool {
    !matches!(instance_type, InstanceType::Nat | InstanceType::SlbInstance)
}

pub(crate) struct Region {
    pub name: String,
    pub flavor: Flavor,
    rng: SmallRng,
    ip_base: (u64, u64),
    ip_offset: u64,
    created: u64,
    eips: HashMap<String, EipRecord>,
    /// `OWNER_TAG` value → allocation IDs (kept in step by the tag calls, see `tags.rs`).
    owners: HashMap<String, BTreeSet<String>>,
    instances: HashMap<InstanceKey, Instance>,
    allocate_tokens: HashMap<String, AllocateToken>,
    op_tokens: HashMap<(Operation, String), OpToken>,
    /// Completion instants of pending transitions, earliest first.
    due: BinaryHeap<Reverse<(Instant, u64, String)>>,
    next_key: u64,
}

impl Region {
    /// `flavor_index` is the region's position among regions of its flavour (separates IP blocks).
    pub fn new(name: &str, flavor: Flavor, flavor_index: u64, seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed ^ fnv64(name.as_bytes()));
        let ip_offset = rng.random_range(0..IPS_PER_BLOCK);
        let ip_base = match flavor {
            Flavor::Alibaba => (47, 96 + BLOCKS_PER_REGION * flavor_index),
            Flavor::Otc => (80, 158 + BLOCKS_PER_REGION * flavor_index),
            Flavor::Aws => (54, 144 + BLOCKS_PER_REGION * flavor_index),
        };
        let mut region = Region {
            name: name.to_owned(),
            flavor,
            rng,
            ip_base,
            ip_offset,
            created: 0,
            eips: HashMap::new(),
            owners: HashMap::new(),
            instances: HashMap::new(),
            allocate_tokens: HashMap::new(),
            op_tokens: HashMap::new(),
            due: BinaryHeap::new(),
            next_key: 0,
        };
        for (instance_type, prefix, count) in [
            (InstanceType::EcsInstance, "i-sim-", 20),
            (InstanceType::NetworkInterface, "eni-sim-", 10),
            (InstanceType::Nat, "ngw-sim-", 3),
            (InstanceType::SlbInstance, "lb-sim-", 3),
            (InstanceType::HaVip, "havip-sim-", 3),
            (InstanceType::Port, "port-sim-", 20),
            (InstanceType::Vpn, "vpn-sim-", 3),
        ] {
            for id in prefixed_ids(prefix, count) {
                region.instances.entry((instance_type, id)).or_default();
            }
        }
        region.add_server_ports();
        region
    }

    /// On OTC/Huawei a server is bound through its port: every server (`EcsInstance`) of an
    /// OTC-flavour region has a primary port ([`server_port_id`]), a `Port` instance of its own.
    pub(crate) fn add_server_ports(&mut self) {
        if self.flavor != Flavor::Otc {
            return;
        }
        let servers: Vec<String> = self
            .instances
            .keys()
            .filter(|(kind, _)| *kind == InstanceType::EcsInstance)
            .map(|(_, id)| id.clone())
            .collect();
        for server in servers {
            self.instances.entry((InstanceType::Port, server_port_id(&server))).or_default();
        }
    }

    /// The ports of `server`, as the VPC port list names them (OTC flavour): its primary port
    /// and that port's fixed IP, or nothing for a server the region does not know (unless
    /// instances are created on the fly).
    pub(crate) fn server_ports(&self, ctx: &Ctx, server: &str) -> Reply<Vec<SimPort>> {
        let known = self.instances.contains_key(&(InstanceType::EcsInstance, server.to_owned()));
        let ports = if self.flavor == Flavor::Otc && (known || ctx.auto_create_instances) {
            let id = server_port_id(server);
            let ip = with_private_ip(&BindTarget {
                instance_type: InstanceType::Port,
                instance_id: id.clone(),
                private_ip_address: None,
            })
            .private_ip_address
            .unwrap_or_default();
            vec![SimPort {
                id,
                device_id: server.to_owned(),
                ip,
            }]
        } else {
            Vec::new()
        };
        Reply::new(ports, ctx)
    }

    // ----- rendering -----

    fn render(&self, record: &EipRecord) -> CloudEip {
        let (raw, phase) = raw_state(
            self.flavor,
            record.pending.map(|p| p.transition),
            record.bound_to.as_ref().map(|b| b.instance_type),
            record.locked,
        );
        CloudEip {
            allocation_id: record.id.clone(),
            ip_address: record.ip.clone(),
            raw_state: raw.to_owned(),
            phase,
            bound_to: record.bound_to.clone(),
            charge_type: record.charge_type,
            locks: if record.locked { vec![LOCK_REASON.to_owned()] } else { Vec::new() },
            tags: record.tags.clone(),
            bandwidth_mbps: record.bandwidth_mbps,
            binding_handle: None,
            created_at: Some(record.created_at.to_string()),
        }
    }

    pub fn eip(&mut self, now: Instant, id: &str) -> Option<CloudEip> {
        self.settle(now);
        self.eips.get(id).map(|record| self.render(record))
    }

    /// All EIPs in creation order.
    pub fn all(&mut self, now: Instant) -> Vec<CloudEip> {
        self.settle(now);
        let mut records: Vec<&EipRecord> = self.eips.values().collect();
        records.sort_by_key(|record| record.created);
        records.into_iter().map(|record| self.render(record)).collect()
    }
}

fn instance_info(key: &InstanceKey, instance: &Instance) -> InstanceInfo {
    InstanceInfo {
        instance_type: key.0,
        instance_id: key.1.clone(),
        nat_entries: instance.nat_entries,
        eips: instance.eips.iter().cloned().collect(),
    }
}

/// The cloud picks a private address for ECS, ENI and port bindings when none was asked for;
/// derived from the instance ID so it is stable.
fn with_private_ip(target: &BindTarget) -> BindTarget {
    let mut bound = target.clone();
    if bound.private_ip_address.is_none()
        && matches!(
            target.instance_type,
            InstanceType::EcsInstance | InstanceType::NetworkInterface | InstanceType::Port
        )
    {
        let h = fnv64(target.instance_id.as_bytes());
        bound.private_ip_address = Some(format!("10.{}.{}.{}", (h >> 16) & 0xff, (h >> 8) & 0xff, 2 + (h & 0xff) % 250));
    }
    bound
}

/// An instance ID the simulator accepts: not empty, at most [`MAX_ID_LEN`] bytes.
pub(crate) fn check_instance_id(id: &str) -> Result<(), AdminError> {
    if id.is_empty() {
        return Err(AdminError::Invalid("instance IDs must not be empty".into()));
    }
    Ok(check_len("an instance ID", id, MAX_ID_LEN)?)
}

/// A client token the model keeps: at most [`MAX_CLIENT_TOKEN_LEN`] bytes.
fn check_token(token: &str) -> Result<(), LimitError> {
    check_len("ClientToken", token, MAX_CLIENT_TOKEN_LEN)
}

/// A bind target the model keeps: bounded instance ID and private address.
pub(crate) fn check_target(target: &BindTarget) -> Result<(), LimitError> {
    check_len("InstanceId", &target.instance_id, MAX_ID_LEN)?;
    match &target.private_ip_address {
        Some(ip) => check_len("PrivateIpAddress", ip, MAX_IP_LEN),
        None => Ok(()),
    }
}

/// Tags the model keeps: at most [`MAX_SEED_TAGS`], with bounded keys and values.
pub(crate) fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), LimitError> {
    if tags.len() > MAX_SEED_TAGS {
        return Err(LimitError::TooManyTags { count: tags.len() });
    }
    for (key, value) in tags {
        check_len("a tag key", key, MAX_TAG_KEY_LEN)?;
        check_len("a tag value", value, MAX_TAG_VALUE_LEN)?;
    }
    Ok(())
}

/// `{prefix}0001`, `{prefix}0002`, …
pub(crate) fn prefixed_ids(prefix: &str, count: u32) -> Vec<String> {
    (1..=count).map(|n| format!("{prefix}{n:04}")).collect()
}

/// UUID-shaped (version 4 bits set) rendering of 128 random bits.
pub(crate) fn format_uuid(bits: u128, uppercase: bool) -> String {
    let bits = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    let uuid = format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]);
    if uppercase { uuid.to_uppercase() } else { uuid }
}

/// FNV-1a, for stable per-name seeds and derived addresses.
pub(crate) fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
