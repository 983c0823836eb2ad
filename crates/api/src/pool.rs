//! The `ElasticIPPool` custom resource: one ElasticIP per matching Node, plus warm spares.
// kube's `printcolumn(...)` attributes repeat the same keys by design.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{AllocationSpec, ProviderConfigRef};

/// Finalizer that holds an `ElasticIPPool` until the ElasticIPs it owns are gone (their addresses
/// unbound, and released or kept as `reclaimPolicy` says).
pub const POOL_FINALIZER: &str = "eip-operator.dev/pool";

/// Label on every ElasticIP a pool owns: the pool's name.
pub const POOL_LABEL: &str = "eip-operator.dev/pool";

/// Annotation on a pool's unassigned ElasticIP: the Node it served last (the next time that
/// Node matches, it gets this address back).
pub const LAST_NODE_ANNOTATION: &str = "eip-operator.dev/last-node";

/// Longest pool name: its ElasticIPs are named `<pool>-<n>` and labelled with the pool's name (a
/// label value is at most 63 characters).
pub const POOL_NAME_MAX: usize = 50;

/// Desired state of an ElasticIPPool: which Nodes get an address (nodeSelector), how new
/// addresses are made (template), how many unbound addresses are kept warm (spare) and what
/// happens to the address of a Node that leaves (reclaimPolicy).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "eip-operator.dev",
    version = "v1alpha1",
    kind = "ElasticIPPool",
    plural = "elasticippools",
    singular = "elasticippool",
    shortname = "eippool",
    category = "cloud",
    namespaced,
    status = "ElasticIPPoolStatus",
    doc = "A pool of Elastic IP addresses, one bound to each Node that matches spec.nodeSelector, plus spec.spare unbound ones kept warm. The pool owns one ElasticIP per address (named <pool>-<n>, labelled eip-operator.dev/pool=<pool>) and binds it with spec.binding.nodeRef.",
    validation = Rule::new("size(self.metadata.name) <= 50").message("an ElasticIPPool's name is at most 50 characters: its ElasticIPs are named <pool>-<n> and labelled with it"),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".status.desiredAddresses"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyAddresses"),
    printcolumn(name = "Spare", type_ = "integer", json_path = ".status.spareAddresses"),
    printcolumn(name = "Reclaim", type_ = "string", json_path = ".spec.reclaimPolicy", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct ElasticIPPoolSpec {
    /// The Nodes that get an address (a standard label selector: matchLabels and
    /// matchExpressions; an empty selector matches every Node). A Node that starts matching gets
    /// an address at the pool's next reconcile (the operator watches Nodes): an unbound one the
    /// pool holds if there is one (first the address that served that Node last), else a new one.
    #[x_kube(validation = Rule::new("!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'] && ((e.operator in ['In', 'NotIn']) == (has(e.values) && size(e.values) > 0)))").message("nodeSelector.matchExpressions: the operator is In, NotIn, Exists or DoesNotExist, and values are given for In and NotIn only"))]
    #[schemars(transform = label_values_described)]
    pub node_selector: LabelSelector,

    /// How the pool's new ElasticIPs are made. A change applies to ElasticIPs created afterwards:
    /// an existing address keeps its parameters (an EIP's allocation is immutable).
    #[serde(default)]
    pub template: PoolTemplate,

    /// Unbound addresses kept allocated and warm, so a new Node is bound without waiting for an
    /// allocation (0-100, default 0). The pool allocates at most one address per matching Node
    /// plus spare.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(min = 0, max = 100))]
    pub spare: u32,

    /// What happens to the address of a Node that leaves the pool (deleted, or no longer
    /// matching): `Retain` (the default) unbinds it and keeps it in the pool, unbound, for the
    /// next Node (no release and no new allocation when Nodes roll: 10 Nodes scaled to 0 and back
    /// to 10 get the same 10 addresses, each Node the one it had if it comes back under the same
    /// name); `Delete` unbinds and releases it, unless it is needed to fill spare (the pool then
    /// holds exactly one address per matching Node plus spare). It also decides the pool's
    /// deletion: with `Retain` the addresses are unbound and kept allocated in the cloud (each
    /// ElasticIP is deleted with deletionPolicy Unbind), with `Delete` they are unbound and
    /// released. To release a Retain pool's addresses, set `Delete` before deleting the pool.
    #[serde(default)]
    pub reclaim_policy: ReclaimPolicy,
}

/// k8s-openapi's LabelSelector schema leaves the items of `matchExpressions[].values` without a
/// description (kubectl explain would show none).
fn label_values_described(schema: &mut schemars::Schema) {
    let values = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("matchExpressions"))
        .and_then(|m| m.get_mut("items"))
        .and_then(|i| i.get_mut("properties"))
        .and_then(|p| p.get_mut("values"))
        .and_then(|v| v.get_mut("items"))
        .and_then(|i| i.as_object_mut());
    if let Some(item) = values {
        item.entry("description").or_insert_with(|| "A label value.".into());
    }
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// The ElasticIP spec parts a pool's addresses share. There is no deletionPolicy: the pool sets
/// each ElasticIP's from reclaimPolicy (`Unbind` for Retain, `Delete` for Delete), so an address
/// is kept or released the same way whoever deletes its ElasticIP.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.providerConfigRef) == has(oldSelf.providerConfigRef) && (!has(self.providerConfigRef) || self.providerConfigRef == oldSelf.providerConfigRef)").message("spec.template.providerConfigRef is immutable: a pool's addresses cannot move to another cloud account").field_path(".providerConfigRef"))]
pub struct PoolTemplate {
    /// The ProviderConfig (cloud account and region) of the pool's addresses; the one marked
    /// `default: true` when unset. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_config_ref: Option<ProviderConfigRef>,

    /// Parameters of each new EIP (bandwidth, billing, line, name, description, tags), as in an
    /// ElasticIP's spec.allocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation: Option<AllocationSpec>,
}

/// What a pool does with the address of a Node that left, and with its addresses when it is
/// deleted. (spec.reclaimPolicy explains the values in the schema.)
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[schemars(transform = super::schema::described_by_the_field)]
pub enum ReclaimPolicy {
    /// Keep it, unbound, for the next Node.
    #[default]
    Retain,
    /// Release it (beyond the spares).
    Delete,
}

/// Observed state of an ElasticIPPool.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ElasticIPPoolStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Nodes that match spec.nodeSelector: each wants one bound address.
    #[serde(default)]
    pub desired_addresses: u32,

    /// Matching Nodes whose address is bound to them and Ready.
    #[serde(default)]
    pub ready_addresses: u32,

    /// Unbound addresses the pool holds: the warm spares and, with reclaimPolicy Retain, the
    /// addresses kept from Nodes that left.
    #[serde(default)]
    pub spare_addresses: u32,

    /// Every address of the pool, by ElasticIP name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<PoolAddress>,

    /// Ready, Reconciling and Stalled, as kstatus, kubectl wait, Flux and Argo CD read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// One address of a pool.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolAddress {
    /// The ElasticIP holding the address.
    pub elastic_ip: String,
    /// The Node it is assigned to (absent: a spare).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The public IP address, once allocated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Its ElasticIP is Ready (bound to its Node, or allocated and unbound for a spare).
    pub ready: bool,
}

impl ElasticIPPool {
    /// The condition of the given type, if present.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status.as_ref()?.conditions.iter().find(|c| c.type_ == type_)
    }
}
