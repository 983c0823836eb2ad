//! The boundary between the reconciler and a cloud.
//!
//! Providers translate these calls to wire requests and the cloud's answers back into
//! [`CloudEip`] and classified [`CloudError`]s. They make no lifecycle decisions: the reconciler
//! decides what to call, and when.

pub mod alibaba;
pub mod batch;
pub mod http;
pub mod otc;
pub mod rate_limit;
pub mod redact;
pub mod secrets;
pub mod simulator;

pub use secrets::{SecretData, SecretSource, StaticSecret};

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Tag key that records which Kubernetes object owns an EIP (value: the object's UID). Written at
/// allocation, and by adoption (the claim: [`CloudProvider::tag`]) before any binding changes.
pub const OWNER_TAG: &str = "eip-operator.dev/owner-uid";
/// Tag key that records the owning object as `namespace/name`, for humans reading the console
/// (and for the object that finds the address claimed by another).
pub const OWNER_NAME_TAG: &str = "eip-operator.dev/owner";

/// Kind of thing an EIP is bound to. The names are Alibaba Cloud's `InstanceType` values;
/// Open Telekom Cloud / Huawei Cloud map them onto ports, NAT gateways, load balancers and VPNs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum InstanceType {
    /// A cloud server (Alibaba ECS instance; OTC/Huawei: the server's primary port).
    EcsInstance,
    /// An elastic network interface (Alibaba ENI).
    NetworkInterface,
    /// A NAT gateway.
    Nat,
    /// A load balancer (Alibaba SLB/CLB; OTC/Huawei ELB).
    SlbInstance,
    /// A high-availability virtual IP (Alibaba HaVip).
    HaVip,
    /// A private IP address in a VPC (Alibaba `IpAddress`; the instanceId is the IP address).
    IpAddress,
    /// A Neutron port (Open Telekom Cloud / Huawei Cloud `port_id`).
    Port,
    /// A VPN gateway (Open Telekom Cloud / Huawei Cloud v3).
    Vpn,
}

impl InstanceType {
    pub const ALL: [InstanceType; 8] = [
        InstanceType::EcsInstance,
        InstanceType::NetworkInterface,
        InstanceType::Nat,
        InstanceType::SlbInstance,
        InstanceType::HaVip,
        InstanceType::IpAddress,
        InstanceType::Port,
        InstanceType::Vpn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InstanceType::EcsInstance => "EcsInstance",
            InstanceType::NetworkInterface => "NetworkInterface",
            InstanceType::Nat => "Nat",
            InstanceType::SlbInstance => "SlbInstance",
            InstanceType::HaVip => "HaVip",
            InstanceType::IpAddress => "IpAddress",
            InstanceType::Port => "Port",
            InstanceType::Vpn => "Vpn",
        }
    }
}

impl fmt::Display for InstanceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an EIP is (or should be) attached to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindTarget {
    pub instance_type: InstanceType,
    pub instance_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
}

impl BindTarget {
    /// Whether `self` (what the cloud reports) satisfies `wanted` (what the spec asks for). A
    /// spec that names no private IP accepts whichever private IP the cloud chose.
    pub fn satisfies(&self, wanted: &BindTarget) -> bool {
        self.instance_type == wanted.instance_type
            && self.instance_id == wanted.instance_id
            && match &wanted.private_ip_address {
                None => true,
                Some(ip) => self.private_ip_address.as_deref() == Some(ip.as_str()),
            }
    }
}

impl fmt::Display for BindTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.instance_type, self.instance_id)?;
        if let Some(ip) = &self.private_ip_address {
            write!(f, "@{ip}")?;
        }
        Ok(())
    }
}

/// An asynchronous operation the cloud is still carrying out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Transition {
    Allocating,
    Associating,
    Unassociating,
    Releasing,
    /// A provider state that is transitional but names no single operation (e.g. `NOTIFYING`).
    Updating,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Allocating => "Allocating",
            Transition::Associating => "Associating",
            Transition::Unassociating => "Unassociating",
            Transition::Releasing => "Releasing",
            Transition::Updating => "Updating",
        }
    }
}

/// The provider's raw state, mapped onto the small set the reconciler reasons about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EipPhase {
    /// Allocated and attached to nothing (`Available`, `DOWN`).
    Unbound,
    /// Attached (`InUse`, `ACTIVE`, `ELB`, `VPN`).
    Bound,
    /// The cloud is working on it; only queries are allowed.
    Transitional(Transition),
    /// The cloud reports a failure state (`BIND_ERROR`, `ERROR`).
    Failed,
    /// Frozen by billing or security (`FREEZED`, operation locks, `BizDisabled`).
    Locked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum ChargeType {
    /// Pay-as-you-go: can be released through the API.
    #[default]
    PostPaid,
    /// Subscription: cannot be released through the EIP API.
    PrePaid,
}

/// One EIP as the cloud describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudEip {
    pub allocation_id: String,
    pub ip_address: String,
    /// The provider's own state string, shown to users verbatim.
    pub raw_state: String,
    pub phase: EipPhase,
    pub bound_to: Option<BindTarget>,
    pub charge_type: ChargeType,
    /// Lock reasons the cloud reports (`financial`, `security`, ...), empty when unlocked.
    pub locks: Vec<String>,
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub bandwidth_mbps: Option<u32>,
}

impl CloudEip {
    pub fn owner_uid(&self) -> Option<&str> {
        self.tags.get(OWNER_TAG).map(String::as_str)
    }

    /// The owning object as `namespace/name`, when the EIP says.
    pub fn owner_name(&self) -> Option<&str> {
        self.tags.get(OWNER_NAME_TAG).map(String::as_str).filter(|name| !name.is_empty())
    }
}

/// Parameters of a new EIP.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocateRequest {
    /// Idempotency token: the same token always yields the same EIP.
    pub client_token: String,
    pub bandwidth_mbps: Option<u32>,
    pub charge_type: ChargeType,
    /// `PayByBandwidth` / `PayByTraffic` (Alibaba), `bandwidth` / `traffic` (OTC).
    pub internet_charge_type: Option<String>,
    /// ISP line (Alibaba `ISP`) or EIP type (OTC `type`, e.g. `5_bgp`).
    pub isp: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Includes the ownership tags.
    pub tags: BTreeMap<String, String>,
}

/// What the cloud answered to a mutating call.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub request_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocated {
    pub eip: CloudEip,
    pub receipt: Receipt,
}

/// How the reconciler must treat a failed call. Decided once, by the provider, from the cloud's
/// error code and HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorClass {
    /// Try again later: throttling, task conflict, transitional state, 5xx, timeouts.
    Retryable,
    /// A human must act: prepaid, forbidden, locked, invalid target, NAT entries.
    Terminal,
    /// The EIP does not exist. On unbind or release the goal is reached.
    Gone,
}

/// Why a terminal error blocks progress; becomes the `Stalled` condition's reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Blocker {
    PrepaidCannotRelease,
    Forbidden,
    Locked,
    DeletionProtection,
    InvalidBindingTarget,
    NatEntriesBlockUnbind,
    QuotaExceeded,
    InvalidRequest,
    Authentication,
    /// The credentials Secret is missing a key or holds an unusable value.
    InvalidCredentials,
    Other,
}

impl Blocker {
    /// CamelCase reason for conditions and Events.
    pub fn reason(self) -> &'static str {
        match self {
            Blocker::PrepaidCannotRelease => "PrepaidCannotRelease",
            Blocker::Forbidden => "Forbidden",
            Blocker::Locked => "Locked",
            Blocker::DeletionProtection => "DeletionProtection",
            Blocker::InvalidBindingTarget => "InvalidBindingTarget",
            Blocker::NatEntriesBlockUnbind => "NatEntriesBlockUnbind",
            Blocker::QuotaExceeded => "QuotaExceeded",
            Blocker::InvalidRequest => "InvalidRequest",
            Blocker::Authentication => "AuthenticationFailed",
            Blocker::InvalidCredentials => "InvalidCredentials",
            Blocker::Other => "CloudRefused",
        }
    }
}

/// A failed cloud call, classified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {code}: {message}")]
pub struct CloudError {
    pub operation: Operation,
    pub class: ErrorClass,
    /// For terminal errors: what blocks progress.
    pub blocker: Option<Blocker>,
    /// The provider's error code (`TaskConflict`, `VPC.0512`, ...).
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    /// Set when the cloud throttled the call and said when to come back.
    pub retry_after: Option<Duration>,
    pub throttled: bool,
}

impl CloudError {
    pub fn retryable(operation: Operation, code: impl Into<String>, message: impl Into<String>) -> Self {
        CloudError {
            operation,
            class: ErrorClass::Retryable,
            blocker: None,
            code: redact::clean(&code.into(), 4 * redact::MAX_CODE),
            // Bounded here already; the provider's Redactor removes secrets and cuts it shorter.
            message: redact::clean(&message.into(), 4 * redact::MAX_MESSAGE),
            request_id: None,
            retry_after: None,
            throttled: false,
        }
    }

    pub fn throttled(operation: Operation, code: impl Into<String>, message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        CloudError {
            retry_after,
            throttled: true,
            ..CloudError::retryable(operation, code, message)
        }
    }

    pub fn terminal(operation: Operation, blocker: Blocker, code: impl Into<String>, message: impl Into<String>) -> Self {
        CloudError {
            class: ErrorClass::Terminal,
            blocker: Some(blocker),
            ..CloudError::retryable(operation, code, message)
        }
    }

    pub fn gone(operation: Operation, code: impl Into<String>, message: impl Into<String>) -> Self {
        CloudError {
            class: ErrorClass::Gone,
            ..CloudError::retryable(operation, code, message)
        }
    }

    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }
}

/// The provider operations, used for errors, metrics and the simulator's call log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Operation {
    Describe,
    FindByOwner,
    Allocate,
    Associate,
    Unassociate,
    Release,
    /// Adds tags to an EIP (adoption's claim).
    Tag,
    /// Removes tags from an EIP (an adopter letting go of its claim).
    Untag,
}

impl Operation {
    pub const ALL: [Operation; 8] = [
        Operation::Describe,
        Operation::FindByOwner,
        Operation::Allocate,
        Operation::Associate,
        Operation::Unassociate,
        Operation::Release,
        Operation::Tag,
        Operation::Untag,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Describe => "Describe",
            Operation::FindByOwner => "FindByOwner",
            Operation::Allocate => "Allocate",
            Operation::Associate => "Associate",
            Operation::Unassociate => "Unassociate",
            Operation::Release => "Release",
            Operation::Tag => "Tag",
            Operation::Untag => "Untag",
        }
    }

    pub fn is_mutating(self) -> bool {
        !matches!(self, Operation::Describe | Operation::FindByOwner)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Largest number of allocation IDs one Describe call accepts (Alibaba's documented limit).
pub const DESCRIBE_BATCH: usize = 50;

/// A cloud account in one region, as the reconciler sees it.
#[async_trait]
pub trait CloudProvider: Send + Sync + 'static {
    /// Short name for logs and metrics (`simulator`, `alibaba`, `otc`).
    fn name(&self) -> &str;

    /// Whether allocating twice with the same client token yields the same EIP (Alibaba's
    /// `ClientToken`). Then a living object with no recorded allocation can allocate at once;
    /// otherwise it first looks for an EIP tagged with its UID.
    fn allocation_is_idempotent(&self) -> bool {
        false
    }

    /// How long the cloud usually takes to finish `operation`: the first look after a call.
    fn expected_transition(&self, _operation: Operation) -> Duration {
        Duration::from_secs(1)
    }

    /// Describes the given EIPs. IDs the cloud does not know are absent from the result.
    /// Implementations split the IDs into batches of at most [`DESCRIBE_BATCH`].
    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError>;

    /// EIPs tagged with [`OWNER_TAG`] = `owner_uid` (finds an allocation a crash left unrecorded).
    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError>;

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError>;

    async fn associate(&self, allocation_id: &str, target: &BindTarget, client_token: &str) -> Result<Receipt, CloudError>;

    /// `current` is what the cloud reports the EIP bound to. `force` unbinds from a NAT gateway
    /// that still has SNAT/DNAT entries using the address.
    async fn unassociate(&self, allocation_id: &str, current: &BindTarget, force: bool, client_token: &str) -> Result<Receipt, CloudError>;

    async fn release(&self, allocation_id: &str, client_token: &str) -> Result<Receipt, CloudError>;

    /// Sets `tags` on the EIP: added, or overwritten when the EIP has the key already. Tag writes
    /// are not compare-and-swap: of two writers of one key, the cloud keeps the last one's value.
    /// (Alibaba `TagResources`; OTC/Huawei `POST /v2.0/{project_id}/publicips/{id}/tags/action`
    /// with `create`.)
    async fn tag(&self, allocation_id: &str, tags: &BTreeMap<String, String>) -> Result<Receipt, CloudError>;

    /// Removes the tags with these keys from the EIP; keys it does not carry are no error.
    /// (Alibaba `UnTagResources`; OTC/Huawei `…/tags/action` with `delete`.)
    async fn untag(&self, allocation_id: &str, keys: &[String]) -> Result<Receipt, CloudError>;
}
