//! The `ElasticIP` custom resource.
// kube's `printcolumn(...)` attributes repeat the same keys by design.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Finalizer that holds an `ElasticIP` until its address is unbound and released (or kept, as
/// `deletionPolicy` says).
pub const FINALIZER: &str = "eip-operator.dev/release";

/// Annotation that pauses an `ElasticIP`: while it is `"true"` the operator reconciles nothing of
/// the object (no cloud call, no finalizer change; status says `Reconciling=False`, reason
/// `Paused`). Removing it (or any other value) resumes.
pub const PAUSED_ANNOTATION: &str = "eip-operator.dev/paused";

/// Desired state of an ElasticIP: the cloud account that holds the address (providerConfigRef),
/// whether the operator allocates it (allocation) or adopts an existing one (allocationId), what
/// it is bound to (binding) and what happens to it when the object is deleted (deletionPolicy).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "eip-operator.dev",
    version = "v1alpha1",
    kind = "ElasticIP",
    plural = "elasticips",
    singular = "elasticip",
    shortname = "eip",
    category = "cloud",
    namespaced,
    status = "ElasticIPStatus",
    doc = "An Elastic IP address in a cloud account, and what it is bound to. The operator allocates the address (or adopts the one named by spec.allocationId), binds it as spec.binding says, and on deletion unbinds it before it releases it.",
    printcolumn(name = "IP", type_ = "string", json_path = ".status.ipAddress"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.cloudState"),
    printcolumn(name = "Bound To", type_ = "string", json_path = ".status.boundTo.instanceId"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Allocation", type_ = "string", json_path = ".status.allocationId", priority = 1),
    printcolumn(name = "Policy", type_ = "string", json_path = ".status.effectiveDeletionPolicy", priority = 1),
    printcolumn(name = "Management", type_ = "string", json_path = ".spec.managementPolicy", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("!has(self.allocationId) || !has(self.allocation)").message("spec.allocationId (adopt an existing EIP) and spec.allocation (parameters of a new EIP) are mutually exclusive").field_path(".allocation"))]
#[x_kube(validation = Rule::new("has(self.allocationId) == has(oldSelf.allocationId) && (!has(self.allocationId) || self.allocationId == oldSelf.allocationId)").message("spec.allocationId is immutable: it can only be set when the ElasticIP is created").field_path(".allocationId"))]
#[x_kube(validation = Rule::new("has(self.allocation) == has(oldSelf.allocation) && (!has(self.allocation) || self.allocation == oldSelf.allocation)").message("spec.allocation is immutable: the parameters of an allocated EIP cannot be changed through this object").field_path(".allocation"))]
#[x_kube(validation = Rule::new("has(self.providerConfigRef) == has(oldSelf.providerConfigRef) && (!has(self.providerConfigRef) || self.providerConfigRef == oldSelf.providerConfigRef)").message("spec.providerConfigRef is immutable: an EIP cannot move to another cloud account").field_path(".providerConfigRef"))]
#[serde(rename_all = "camelCase")]
pub struct ElasticIPSpec {
    /// The cluster-scoped ProviderConfig (cloud account and region) that holds this EIP. When
    /// unset, the ProviderConfig marked `default: true` is used. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_config_ref: Option<ProviderConfigRef>,

    /// Adopt the existing EIP with this allocation ID (Alibaba `eip-...`, OTC/Huawei UUID)
    /// instead of allocating a new one. Can only be set at creation. Adopted EIPs are kept
    /// (deletionPolicy Retain) when the object is deleted, unless deletionPolicy says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"))]
    pub allocation_id: Option<String>,

    /// Parameters of a new EIP. Ignored for adopted EIPs (and rejected with allocationId).
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation: Option<AllocationSpec>,

    /// What the EIP is attached to. Absent: the EIP is kept unbound. Changed: the operator unbinds
    /// it from the old target, then binds it to the new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,

    /// What happens to the cloud EIP when this object is deleted: `Delete` unbinds it, then
    /// releases it; `Unbind` unbinds it and keeps it allocated; `Retain` touches nothing (the EIP
    /// stays as it is, bound or not). Default: `Delete` for EIPs the operator allocated, `Retain`
    /// for adopted ones (status.effectiveDeletionPolicy shows the policy in force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// Unbind from a NAT gateway even while SNAT/DNAT entries still use the address (Alibaba
    /// `Force`). Off by default: the operator stops and reports the entries instead. Open Telekom
    /// Cloud and Huawei Cloud have no such force: there the rules must be deleted in the NAT
    /// gateway, and the Stalled condition says so whatever this field says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_unbind: bool,

    /// `Manage` (the default): the operator allocates or claims, binds, unbinds and releases as
    /// this spec says. `Observe`: it only reads the EIP named by allocationId (or recorded in
    /// status) and reports its state, binding and drift from spec.binding in status; it never
    /// makes a mutating call (no claim tag, no bind, no release; deleting the object only removes
    /// the finalizer). Switching Observe to Manage starts managing from the observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<ManagementPolicy>,
}

impl ElasticIPSpec {
    /// Whether the operator only observes this EIP (`managementPolicy: Observe`).
    pub fn observe_only(&self) -> bool {
        self.management_policy == Some(ManagementPolicy::Observe)
    }
}

/// What the operator may do to the EIP. (spec.managementPolicy explains the values in the schema.)
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = super::schema::described_by_the_field)]
pub enum ManagementPolicy {
    /// Allocate or claim, bind, unbind and release as the spec says.
    Manage,
    /// Read and report only; never a mutating call.
    Observe,
}

/// Reference to a cluster-scoped ProviderConfig.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigRef {
    /// Name of the ProviderConfig.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub name: String,
}

/// Parameters of a new EIP.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllocationSpec {
    /// Peak bandwidth in Mbit/s (1-10000). The cloud's default applies when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub bandwidth_mbps: Option<u32>,

    /// Billing of the address itself: `PostPaid` (pay-as-you-go, the default) can be released
    /// through the API; `PrePaid` (subscription) cannot, so deleting the object needs
    /// deletionPolicy `Retain` or `Unbind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_type: Option<ChargeType>,

    /// Billing of the traffic: `PayByBandwidth` (by the peak bandwidth) or `PayByTraffic` (by the
    /// data transferred). The cloud's default applies when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_charge_type: Option<InternetChargeType>,

    /// Line type: Alibaba ISP (`BGP`, `BGP_PRO`, ...) or OTC/Huawei EIP type (`5_bgp`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9_]+$"))]
    pub isp: Option<String>,

    /// Name of the EIP in the cloud (1-128 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub name: Option<String>,

    /// Description of the EIP in the cloud (2-256 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 256))]
    pub description: Option<String>,

    /// Extra tags on the EIP (at most 18; keys under `eip-operator.dev/` are reserved for the
    /// operator's ownership tags).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 18))]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('eip-operator.dev/') && size(k) <= 128)").message("tag keys under eip-operator.dev/ are reserved for the operator, and keys are at most 128 characters"))]
    pub tags: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ChargeType {
    PostPaid,
    PrePaid,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, strum::IntoStaticStr)]
pub enum InternetChargeType {
    PayByBandwidth,
    PayByTraffic,
}

impl InternetChargeType {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What the EIP is attached to: a cloud target by ID (instanceType and instanceId), the cloud
/// instance behind a Kubernetes Node (nodeRef) or the load balancer of a Service (serviceRef).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.instanceId) ? 1 : 0) + (has(self.nodeRef) ? 1 : 0) + (has(self.serviceRef) ? 1 : 0) == 1").message("spec.binding names exactly one of instanceId (with instanceType), nodeRef or serviceRef"))]
#[x_kube(validation = Rule::new("has(self.instanceId) == has(self.instanceType)").message("instanceType is required with instanceId, and only with it (nodeRef binds an EcsInstance, serviceRef an SlbInstance)").field_path(".instanceType"))]
#[x_kube(validation = Rule::new("!has(self.instanceType) || self.instanceType != 'IpAddress' || (has(self.instanceId) && isIP(self.instanceId))").message("for instanceType IpAddress, instanceId must be an IP address").field_path(".instanceId"))]
#[x_kube(validation = Rule::new("!has(self.instanceType) || self.instanceType != 'IpAddress' || has(self.vpcId)").message("instanceType IpAddress needs vpcId").field_path(".vpcId"))]
#[x_kube(validation = Rule::new("!has(self.vpcId) || (has(self.instanceType) && self.instanceType == 'IpAddress')").message("vpcId is only used with instanceType IpAddress").field_path(".vpcId"))]
#[x_kube(validation = Rule::new("!has(self.mode) || (has(self.instanceType) && self.instanceType == 'NetworkInterface')").message("mode is only used with instanceType NetworkInterface").field_path(".mode"))]
#[x_kube(validation = Rule::new("!has(self.privateIpAddress) || has(self.nodeRef) || (has(self.instanceType) && self.instanceType in ['NetworkInterface', 'EcsInstance', 'Port'])").message("privateIpAddress is only used with nodeRef or instanceType NetworkInterface, EcsInstance or Port").field_path(".privateIpAddress"))]
pub struct Binding {
    /// Kind of target, with instanceId. On Alibaba Cloud: `EcsInstance` (an ECS instance),
    /// `NetworkInterface` (an elastic network interface), `Nat` (a NAT gateway), `SlbInstance` (a
    /// Server Load Balancer instance), `HaVip` (a high-availability virtual IP) or `IpAddress` (a
    /// private IP address: instanceId is the address, vpcId its VPC). On Open Telekom Cloud /
    /// Huawei Cloud: `EcsInstance` (a server, bound through its primary port), `Port` (a port,
    /// such as a server's network interface), `Nat` (a NAT gateway), `SlbInstance` (an elastic
    /// load balancer) or `Vpn` (a VPN gateway); the last three use the v3 bindings
    /// (ProviderConfig spec.otc.v3Bindings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<InstanceType>,

    /// ID of the target (for IpAddress: the private IP address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"))]
    pub instance_id: Option<String>,

    /// The Node whose cloud instance the EIP is bound to, read from the Node's spec.providerID at
    /// every reconcile: a new instance behind the same Node name is rebound (unbind, then bind),
    /// a deleted Node unbinds the EIP and keeps it until the Node is back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ref: Option<ObjectName>,

    /// The Service (type LoadBalancer, in the ElasticIP's namespace) whose cloud load balancer
    /// the EIP is bound to, named by the cloud controller manager's annotation
    /// (`service.beta.kubernetes.io/alibaba-cloud-loadbalancer-id`, or CCE's `kubernetes.io/elb.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_ref: Option<ObjectName>,

    /// Private IP address of the target to map the EIP to (NetworkInterface secondary IPs,
    /// ports with several fixed IPs, the port of a server with several). The target's primary IP
    /// when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("isIP(self) && ip(self).family() == 4").message("privateIpAddress must be an IPv4 address"))]
    pub private_ip_address: Option<String>,

    /// Association mode for NetworkInterface targets (Alibaba `Mode`): `NAT` (NAT mode, the
    /// cloud's default), `MULTI_BINDED` (multi-EIP-to-ENI visible mode) or `BINDED` (cut-through
    /// mode: the interface takes the EIP's address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<BindingMode>,

    /// VPC of the IpAddress target (Alibaba `VpcId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub vpc_id: Option<String>,
}

impl Binding {
    /// A binding to the cloud target `instance_type`/`instance_id`.
    pub fn to_instance(instance_type: InstanceType, instance_id: impl Into<String>) -> Self {
        Binding {
            instance_type: Some(instance_type),
            instance_id: Some(instance_id.into()),
            ..Binding::default()
        }
    }

    /// A binding to the instance behind Node `name`.
    pub fn to_node(name: impl Into<String>) -> Self {
        Binding {
            node_ref: Some(ObjectName { name: name.into() }),
            ..Binding::default()
        }
    }

    /// A binding to the load balancer of Service `name`.
    pub fn to_service(name: impl Into<String>) -> Self {
        Binding {
            service_ref: Some(ObjectName { name: name.into() }),
            ..Binding::default()
        }
    }

    /// What the binding names (the API server's rules make it exactly one).
    pub fn subject(&self) -> Option<BindingSubject<'_>> {
        match (&self.instance_type, &self.instance_id, &self.node_ref, &self.service_ref) {
            (Some(kind), Some(id), None, None) => Some(BindingSubject::Instance(*kind, id)),
            (None, None, Some(node), None) => Some(BindingSubject::Node(&node.name)),
            (None, None, None, Some(service)) => Some(BindingSubject::Service(&service.name)),
            _ => None,
        }
    }
}

/// What a [`Binding`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingSubject<'a> {
    /// A cloud target by its type and ID.
    Instance(InstanceType, &'a str),
    /// The cloud instance behind this Node.
    Node(&'a str),
    /// The load balancer of this Service (in the ElasticIP's namespace).
    Service(&'a str),
}

/// A Kubernetes object by name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectName {
    /// Name of the object.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub name: String,
}

/// Kind of thing an EIP is bound to. The names are Alibaba Cloud's `InstanceType` values;
/// Open Telekom Cloud / Huawei Cloud map them onto ports, NAT gateways, load balancers and VPNs.
/// (The fields using it explain the values in the schema.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr)]
#[schemars(transform = super::schema::described_by_the_field)]
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
        self.into()
    }
}

impl std::fmt::Display for InstanceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum BindingMode {
    NAT,
    #[serde(rename = "MULTI_BINDED")]
    MultiBinded,
    #[serde(rename = "BINDED")]
    Binded,
}

/// What happens to the cloud EIP when the object is deleted. (The fields using it explain the
/// values in the schema.)
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = super::schema::described_by_the_field)]
pub enum DeletionPolicy {
    /// Unbind, then release the address.
    Delete,
    /// Unbind, keep the address allocated.
    Unbind,
    /// Leave the address as it is (bound or not).
    Retain,
}

/// Who brought the EIP into existence. (status.ownership explains the values in the schema.)
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = super::schema::described_by_the_field)]
pub enum Ownership {
    /// The operator allocated it for this object (and tagged it with the object's UID).
    Allocated,
    /// It existed before; this object adopted it through spec.allocationId.
    Adopted,
}

/// Coarse lifecycle phase, for humans. Tools should read the conditions. (status.phase explains
/// the values in the schema.)
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = super::schema::described_by_the_field)]
pub enum Phase {
    Pending,
    Allocating,
    Binding,
    Unbinding,
    Ready,
    Releasing,
    Deleting,
    Stalled,
}

/// Observed state of an ElasticIP.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ElasticIPStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Allocation ID of the cloud EIP this object manages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_id: Option<String>,

    /// The public IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,

    /// The cloud's own state string (Available, InUse, Unassociating, DOWN, ACTIVE, PENDING_DELETE, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_state: Option<String>,

    /// Coarse lifecycle phase, for humans (tools should read the conditions): `Pending` (waiting
    /// for the cloud, or confirming what it reports), `Allocating` (the EIP is being allocated),
    /// `Binding` (being bound as spec.binding says), `Unbinding` (being unbound), `Ready` (as the
    /// spec says), `Releasing` (being released), `Deleting` (the object is being deleted) or
    /// `Stalled` (a human must act: the Stalled condition says what blocks progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// What the cloud reports the EIP bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_to: Option<BoundTo>,

    /// Who brought the EIP into existence: `Allocated` (the operator allocated it for this object
    /// and tagged it with the object's UID) or `Adopted` (it existed before; this object adopted
    /// it through spec.allocationId).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<Ownership>,

    /// The deletion policy in force: spec.deletionPolicy, or the default for the ownership
    /// (`Delete` for Allocated EIPs, `Retain` for Adopted ones). `Delete` unbinds and releases the
    /// EIP, `Unbind` unbinds it and keeps it allocated, `Retain` touches nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_deletion_policy: Option<DeletionPolicy>,

    /// Name of the ProviderConfig in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_config: Option<String>,

    /// The last mutating call made to the cloud for this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_operation: Option<LastOperation>,

    /// Under managementPolicy Observe: how the cloud differs from spec.binding (which the
    /// operator reports and does not repair). Unset when they agree, and under Manage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,

    /// Set while the operator confirms that the EIP is gone: the first well-formed look that
    /// missed it. Kept in the status so a restarted operator, or a new leader, finishes the
    /// confirmation instead of starting it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absence: Option<Absence>,

    /// Ready, Bound, Reconciling and Stalled, as kstatus, kubectl wait, Flux and Argo CD read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// The observed binding.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BoundTo {
    /// Kind of target the cloud reports, one of the spec.binding.instanceType values:
    /// `EcsInstance`, `NetworkInterface`, `Nat`, `SlbInstance`, `HaVip`, `IpAddress`, `Port` or
    /// `Vpn`.
    pub instance_type: InstanceType,
    /// ID of the target the cloud reports (for IpAddress: the private IP address).
    pub instance_id: String,
    /// Private IP address of the target the EIP is mapped to, when the cloud reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    /// The Kubernetes object spec.binding names (nodeRef or serviceRef) and the cloud instance it
    /// resolved to, when the cloud's binding is the one it asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<BoundReference>,
}

/// The Kubernetes object behind a binding, and what it resolved to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BoundReference {
    /// `Node` or `Service`.
    pub kind: String,
    /// Name of the Node or Service.
    pub name: String,
    /// The cloud instance it resolved to: the Node's instance (from its spec.providerID) or the
    /// Service's load balancer (from its annotation). On Open Telekom Cloud / Huawei Cloud a
    /// server is bound through its port, which instanceId shows.
    pub instance_id: String,
}

/// A look at the cloud that did not find the EIP.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Absence {
    /// The allocation ID the cloud did not list; unset when the cloud listed no EIP tagged with
    /// this object's UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_id: Option<String>,
    /// When the absence was first seen (RFC 3339).
    pub since: String,
}

/// The last mutating call made to the cloud.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastOperation {
    /// Allocate, Associate, Unassociate, Release, Claim (tagging an adopted EIP with this object's
    /// owner tags) or Unclaim (removing them).
    pub action: String,
    /// The cloud's request ID, for support tickets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// When the operator first attempted this action (RFC 3339).
    pub started_at: String,
    /// When the cloud answered its last call (RFC 3339): the cloud's transition starts here, and
    /// the time from `startedAt` to here was spent waiting for the API's pace (rate limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<String>,
    /// How many calls this action took so far.
    pub attempts: u32,
    /// The cloud's error of the last failed attempt (code: message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ElasticIP {
    /// The condition of the given type, if present.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status.as_ref()?.conditions.iter().find(|c| c.type_ == type_)
    }
}
