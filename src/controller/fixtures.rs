//! Builders of what the controller's tests are about, shared by the decision, status, timing,
//! dependency and reconciler tests (as kube-rs's controller-rs keeps its `fixtures`): the
//! defaults no test cares about live here once, and each test says only what matters to it.
//!
//! Free functions build a value with those defaults; the `*Fixture` traits change one thing of
//! it at a time (`elastic_ip(spec).named("web-b").finalized().deleting()`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::ObjectMeta;
use serde_json::Value;

use super::decide::Step;
use super::status::Outcome;
use eip_api::{Binding, DeletionPolicy, ElasticIP, ElasticIPSpec, ElasticIPStatus, FINALIZER, ProviderConfig, ProviderConfigRef};
use eip_cloud::{BindTarget, ChargeType, CloudEip, EipPhase, InstanceType, OWNER_NAME_TAG, OWNER_TAG, Receipt, Transition};

/// The namespace of [`elastic_ip`] objects.
pub const NAMESPACE: &str = "default";
/// The UID of [`elastic_ip`] objects.
pub const UID: &str = "6f1b2c3d-0000-4000-8000-000000000001";
/// The allocation ID of [`cloud_eip`] records.
pub const ALLOCATION_ID: &str = "eip-1";
/// The address of [`cloud_eip`] records.
pub const IP_ADDRESS: &str = "47.0.0.1";

/// A binding target as a provider reports it: ECS instance `id`.
pub fn ecs(id: &str) -> BindTarget {
    BindTarget {
        instance_type: InstanceType::EcsInstance,
        instance_id: id.into(),
        private_ip_address: None,
    }
}

/// A binding target as a provider reports it: NAT gateway `id`.
pub fn nat(id: &str) -> BindTarget {
    BindTarget {
        instance_type: InstanceType::Nat,
        ..ecs(id)
    }
}

/// spec.binding to ECS instance `id`.
pub fn ecs_binding(id: &str) -> Binding {
    Binding::to_instance(InstanceType::EcsInstance, id)
}

/// An ElasticIP spec of what the decision depends on: bound to ECS instance `binding`, adopting
/// the EIP `adopt`, with deletion policy `policy` (each when given; the defaults otherwise).
pub fn spec(binding: Option<&str>, adopt: Option<&str>, policy: Option<DeletionPolicy>) -> ElasticIPSpec {
    ElasticIPSpec {
        allocation_id: adopt.map(str::to_string),
        binding: binding.map(ecs_binding),
        deletion_policy: policy,
        ..Default::default()
    }
}

/// An ElasticIP spec that names ProviderConfig `config` and nothing else.
pub fn spec_naming(config: &str) -> ElasticIPSpec {
    ElasticIPSpec {
        provider_config_ref: Some(ProviderConfigRef { name: config.into() }),
        ..Default::default()
    }
}

/// ElasticIP `default/web` as the API server returns it once created: UID [`UID`], generation
/// and resourceVersion 1, no finalizer, no status.
pub fn elastic_ip(spec: ElasticIPSpec) -> ElasticIP {
    let mut object = ElasticIP::new("web", spec);
    object.metadata = ObjectMeta {
        name: Some("web".into()),
        namespace: Some(NAMESPACE.into()),
        uid: Some(UID.into()),
        generation: Some(1),
        resource_version: Some("1".into()),
        ..ObjectMeta::default()
    };
    object
}

/// Changes to an [`elastic_ip`].
pub trait ElasticIPFixture: Sized {
    /// Named `name` (in the same namespace).
    fn named(self, name: &str) -> Self;
    /// With UID `uid`.
    fn with_uid(self, uid: &str) -> Self;
    /// Held by the operator's finalizer.
    fn finalized(self) -> Self;
    /// Being deleted (deletionTimestamp now).
    fn deleting(self) -> Self;
    /// With `status` as the operator wrote it.
    fn with_status(self, status: ElasticIPStatus) -> Self;
}

impl ElasticIPFixture for ElasticIP {
    fn named(mut self, name: &str) -> Self {
        self.metadata.name = Some(name.into());
        self
    }

    fn with_uid(mut self, uid: &str) -> Self {
        self.metadata.uid = Some(uid.into());
        self
    }

    fn finalized(mut self) -> Self {
        self.metadata.finalizers = Some(vec![FINALIZER.into()]);
        self
    }

    fn deleting(mut self) -> Self {
        self.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
        self
    }

    fn with_status(mut self, status: ElasticIPStatus) -> Self {
        self.status = Some(status);
        self
    }
}

/// A status that records the EIP `allocation_id` and nothing else.
pub fn recorded(allocation_id: &str) -> ElasticIPStatus {
    ElasticIPStatus {
        allocation_id: Some(allocation_id.into()),
        ..Default::default()
    }
}

/// A status that says the last reconcile resolved to ProviderConfig `name`, and nothing else.
pub fn resolved_to(name: &str) -> ElasticIPStatus {
    ElasticIPStatus {
        provider_config: Some(name.into()),
        ..Default::default()
    }
}

/// EIP [`ALLOCATION_ID`] ([`IP_ADDRESS`]) as a provider describes it: in `phase`, which the
/// cloud calls `state`; bound to nothing, pay-as-you-go, unlocked and untagged.
pub fn cloud_eip(phase: EipPhase, state: &str) -> CloudEip {
    CloudEip {
        allocation_id: ALLOCATION_ID.into(),
        ip_address: IP_ADDRESS.into(),
        raw_state: state.into(),
        phase,
        bound_to: None,
        charge_type: ChargeType::PostPaid,
        locks: vec![],
        tags: BTreeMap::new(),
        bandwidth_mbps: None,
        binding_handle: None,
        created_at: None,
    }
}

/// Changes to a [`cloud_eip`].
pub trait CloudEipFixture: Sized {
    /// Bound to `target` (or to nothing).
    fn bound(self, target: Option<BindTarget>) -> Self;
    /// Charged as `charge_type`.
    fn charged(self, charge_type: ChargeType) -> Self;
    /// With the tag `key` = `value` (added to the others).
    fn tagged(self, key: &str, value: &str) -> Self;
}

impl CloudEipFixture for CloudEip {
    fn bound(mut self, target: Option<BindTarget>) -> Self {
        self.bound_to = target;
        self
    }

    fn charged(mut self, charge_type: ChargeType) -> Self {
        self.charge_type = charge_type;
        self
    }

    fn tagged(mut self, key: &str, value: &str) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }
}

/// The tags with which ElasticIP `name` (in [`NAMESPACE`]) of UID `uid` claims an EIP.
pub fn owner_tags(uid: &str, name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (OWNER_TAG.to_string(), uid.to_string()),
        (OWNER_NAME_TAG.to_string(), format!("{NAMESPACE}/{name}")),
    ])
}

/// ProviderConfig `name` of `spec` (its JSON, as a user writes it), at generation 1, without a UID.
pub fn provider_config(name: &str, spec: Value) -> ProviderConfig {
    let mut config = ProviderConfig::new(name, serde_json::from_value(spec).expect("ProviderConfig spec"));
    config.metadata.generation = Some(1);
    config
}

/// Changes to a [`provider_config`].
pub trait ProviderConfigFixture: Sized {
    /// The version of it with UID `uid` at `generation` (a ProviderConfig created again has
    /// another UID; an edited one, another generation).
    fn version(self, uid: &str, generation: i64) -> Self;
}

impl ProviderConfigFixture for ProviderConfig {
    fn version(mut self, uid: &str, generation: i64) -> Self {
        self.metadata.uid = Some(uid.into());
        self.metadata.generation = Some(generation);
        self
    }
}

/// The cloud is still carrying out `transition`, in the state of that name.
pub fn waiting(transition: Transition) -> Step {
    Step::Wait {
        transition,
        state: transition.as_str().into(),
    }
}

/// The cloud accepted the call (request `request_id`; empty when it named none).
pub fn accepted(request_id: &str) -> Outcome {
    Outcome::Accepted {
        receipt: Receipt {
            request_id: request_id.into(),
        },
        allocated: None,
    }
}
