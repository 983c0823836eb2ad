//! What crosses the boundary: EIPs as the cloud describes them, binding targets, requests and
//! receipts, and the operations themselves.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use eip_api::InstanceType;

/// Tag key that records which Kubernetes object owns an EIP (value: the object's UID). Written at
/// allocation, and by adoption (the claim: [`CloudProvider::tag`]) before any binding changes.
pub const OWNER_TAG: &str = "eip-operator.dev/owner-uid";
/// Tag key that records the owning object as `namespace/name`, for humans reading the console
/// (and for the object that finds the address claimed by another).
pub const OWNER_NAME_TAG: &str = "eip-operator.dev/owner";
/// Tag key that records which Kubernetes cluster the owning object lives in (value: the
/// operator's cluster ID, by default the UID of the cluster's `kube-system` namespace). Written
/// with the owner tags, so that clusters sharing an account never take each other's addresses
/// for orphans.
pub const CLUSTER_TAG: &str = "eip-operator.dev/cluster";

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

impl From<&eip_api::BoundTo> for BindTarget {
    fn from(bound: &eip_api::BoundTo) -> Self {
        BindTarget {
            instance_type: bound.instance_type,
            instance_id: bound.instance_id.clone(),
            private_ip_address: bound.private_ip_address.clone(),
        }
    }
}

impl From<&BindTarget> for eip_api::BoundTo {
    fn from(target: &BindTarget) -> Self {
        eip_api::BoundTo {
            instance_type: target.instance_type,
            instance_id: target.instance_id.clone(),
            private_ip_address: target.private_ip_address.clone(),
            reference: None,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
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
        self.into()
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

impl From<eip_api::ChargeType> for ChargeType {
    fn from(value: eip_api::ChargeType) -> Self {
        match value {
            eip_api::ChargeType::PostPaid => ChargeType::PostPaid,
            eip_api::ChargeType::PrePaid => ChargeType::PrePaid,
        }
    }
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
    /// What the provider needs to undo the binding (an AWS association ID), when it needs more
    /// than the target. Opaque to the reconciler, which hands it back in [`UnbindRequest`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_handle: Option<BindingHandle>,
    /// When the cloud says the EIP was allocated (RFC 3339), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

impl CloudEip {
    /// The cluster the owner tags name ([`CLUSTER_TAG`]), when the EIP says.
    pub fn cluster(&self) -> Option<&str> {
        self.tags.get(CLUSTER_TAG).map(String::as_str).filter(|id| !id.is_empty())
    }

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

/// An opaque token a provider attaches to a binding it reports ([`CloudEip::binding_handle`])
/// and reads back when asked to undo it. Only the provider that made it knows what it means.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BindingHandle(String);

impl BindingHandle {
    pub fn new(value: impl Into<String>) -> Self {
        BindingHandle(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An unbind: the EIP, what the cloud reports it bound to (with the provider's handle), and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnbindRequest {
    pub allocation_id: String,
    /// What the cloud reports the EIP bound to.
    pub current: BindTarget,
    /// The provider's handle of that binding, as it reported it.
    pub handle: Option<BindingHandle>,
    /// Unbind from a NAT gateway that still has SNAT/DNAT entries using the address.
    pub force: bool,
    pub client_token: String,
}

impl UnbindRequest {
    /// An unforced unbind of `current`, without a handle.
    pub fn new(allocation_id: impl Into<String>, current: BindTarget, client_token: impl Into<String>) -> Self {
        UnbindRequest {
            allocation_id: allocation_id.into(),
            current,
            handle: None,
            force: false,
            client_token: client_token.into(),
        }
    }

    pub fn forced(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
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

/// The provider operations, used for errors, metrics and the simulator's call log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, strum::IntoStaticStr)]
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
    /// Looks up what the cloud binds for a target that it binds through another resource (an
    /// OTC/Huawei server through its port). Read-only.
    ResolveTarget,
    /// One page of every EIP of the account and region (the leak ledger, bulk import). Read-only.
    List,
}

impl Operation {
    pub const ALL: [Operation; 10] = [
        Operation::Describe,
        Operation::FindByOwner,
        Operation::Allocate,
        Operation::Associate,
        Operation::Unassociate,
        Operation::Release,
        Operation::Tag,
        Operation::Untag,
        Operation::ResolveTarget,
        Operation::List,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn is_mutating(self) -> bool {
        !matches!(
            self,
            Operation::Describe | Operation::FindByOwner | Operation::ResolveTarget | Operation::List
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
