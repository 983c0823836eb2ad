//! Bindings by Kubernetes reference: `spec.binding.nodeRef` (the cloud instance behind a Node,
//! from its `spec.providerID`) and `spec.binding.serviceRef` (the load balancer of a Service of
//! type LoadBalancer, from its cloud controller manager's annotation), read at every reconcile
//! into the [`Wanted`] target the decision compares with what the cloud reports.
//!
//! A Node that is gone, or a Service without its load balancer yet, is no error: the EIP is
//! unbound and kept, and the object waits (`Reconciling`) for it. A providerID that names no
//! instance this operator can bind to stalls, naming the Node and the value.

use k8s_openapi::api::core::v1::{Node, Service};
use kube::{Api, Client};

use super::decide::{Stall, Wanted};
use eip_api::{BindingSubject, BoundReference, ElasticIPSpec, InstanceType};
use eip_cloud::{BindTarget, CloudError, CloudProvider};

/// The annotation Alibaba Cloud's cloud controller manager writes with the SLB/CLB ID.
pub const ALIBABA_LB_ANNOTATION: &str = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-id";
/// The annotation Huawei Cloud CCE (and Open Telekom Cloud CCE) uses for the ELB ID.
pub const CCE_ELB_ANNOTATION: &str = "kubernetes.io/elb.id";
/// Longest instance ID a providerID may name.
const MAX_INSTANCE_ID: usize = 128;

/// What a Node's `spec.providerID` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderId {
    /// The cloud's region ID, when the format carries one (Alibaba ACK's `<region-id>.<instance-id>`).
    pub region: Option<String>,
    /// The instance (Alibaba ECS `i-…`) or server (OTC/Huawei ECS UUID) ID.
    pub instance_id: String,
}

/// Reads a Node's `spec.providerID`: Alibaba ACK's `<region-id>.<instance-id>`
/// (`cn-hangzhou.i-bp1…`), OpenStack's `openstack:///<server-id>` (Open Telekom Cloud and
/// Huawei Cloud CCE; `openstack://<region>/<server-id>` too), AWS's `aws:///<zone>/<instance-id>`
/// (EKS and the AWS cloud provider), or a bare instance ID. Anything else
/// (another cloud's scheme, an empty ID, characters an ID never has) is `None`.
pub fn parse_provider_id(value: &str) -> Option<ProviderId> {
    if let Some(rest) = value.strip_prefix("aws://") {
        return parse_aws_provider_id(rest);
    }
    if let Some((scheme, rest)) = value.split_once("://") {
        if scheme != "openstack" {
            return None;
        }
        // openstack:///<id> or openstack://<region>/<id> (an OpenStack region name, not
        // necessarily the cloud's region ID: not compared with the account's)
        let (region, id) = rest.split_once('/')?;
        if !region.is_empty() && !is_region(region) {
            return None;
        }
        return instance_id(id).map(|instance_id| ProviderId { region: None, instance_id });
    }
    match value.split_once('.') {
        Some((region, id)) if is_region(region) => instance_id(id).map(|instance_id| ProviderId {
            region: Some(region.to_string()),
            instance_id,
        }),
        Some(_) => None,
        None => instance_id(value).map(|instance_id| ProviderId { region: None, instance_id }),
    }
}

/// AWS's `/<availability-zone>/<instance-id>` (after `aws://`; the zone may be empty). The region
/// is the zone less its letter when the zone has the plain `<region><letter>` shape
/// (`us-east-1a`); a Local or Wavelength Zone (`us-west-2-lax-1a`) says nothing certain about it.
fn parse_aws_provider_id(rest: &str) -> Option<ProviderId> {
    let (zone, id) = rest.strip_prefix('/')?.split_once('/')?;
    if !id.starts_with("i-") || (!zone.is_empty() && !is_region(zone)) {
        return None;
    }
    let region = zone
        .strip_suffix(|c: char| c.is_ascii_lowercase())
        .filter(|region| region.ends_with(|c: char| c.is_ascii_digit()) && region.matches('-').count() == 2)
        .map(str::to_string);
    instance_id(id).map(|instance_id| ProviderId { region, instance_id })
}

/// A region ID: lower-case letters, digits and dashes, starting with a letter (`cn-hangzhou`,
/// `eu-de`, `ap-southeast-1`).
fn is_region(text: &str) -> bool {
    text.len() <= 64
        && text.contains('-')
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// An instance ID: letters, digits, `-` and `_`, at most [`MAX_INSTANCE_ID`] bytes.
fn instance_id(text: &str) -> Option<String> {
    let valid = !text.is_empty()
        && text.len() <= MAX_INSTANCE_ID
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    valid.then(|| text.to_string())
}

/// What a Node is for a binding, as read from the API server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeView {
    Missing,
    /// The Node and its `spec.providerID`, if it has one.
    Present(Option<String>),
}

/// What a Service is for a binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceView {
    Missing,
    Present {
        /// `spec.type`.
        type_: Option<String>,
        /// The load balancer ID from the cloud controller manager's annotation.
        load_balancer: Option<String>,
    },
}

/// The target of a nodeRef binding (before the provider maps a server to its port).
pub fn node_target(node: &str, view: &NodeView, private_ip: Option<&String>, account_region: &str) -> Wanted {
    let provider_id = match view {
        NodeView::Missing => {
            return Wanted::Awaiting {
                reason: "NodeNotFound",
                message: format!("Node {node} does not exist; the EIP is kept unbound until it does"),
            };
        }
        NodeView::Present(None) => {
            return Wanted::Unresolvable(Stall::NodeWithoutProviderId { node: node.to_string() });
        }
        NodeView::Present(Some(id)) => id,
    };
    let Some(parsed) = parse_provider_id(provider_id) else {
        return Wanted::Unresolvable(Stall::UnsupportedProviderId {
            node: node.to_string(),
            provider_id: provider_id.clone(),
        });
    };
    if let Some(region) = parsed.region.filter(|r| r != account_region) {
        return Wanted::Unresolvable(Stall::NodeInAnotherRegion {
            node: node.to_string(),
            region,
            account_region: account_region.to_string(),
        });
    }
    Wanted::Target {
        target: BindTarget {
            instance_type: InstanceType::EcsInstance,
            instance_id: parsed.instance_id.clone(),
            private_ip_address: private_ip.cloned(),
        },
        reference: Some(BoundReference {
            kind: "Node".into(),
            name: node.to_string(),
            instance_id: parsed.instance_id,
        }),
    }
}

/// The target of a serviceRef binding.
pub fn service_target(service: &str, view: &ServiceView) -> Wanted {
    match view {
        ServiceView::Missing => Wanted::Awaiting {
            reason: "ServiceNotFound",
            message: format!("Service {service} does not exist; the EIP is kept unbound until it does"),
        },
        ServiceView::Present { type_, .. } if type_.as_deref() != Some("LoadBalancer") => Wanted::Unresolvable(Stall::InvalidBinding {
            message: format!(
                "Service {service} is of type {}, not LoadBalancer: it has no cloud load balancer to bind to",
                type_.as_deref().unwrap_or("ClusterIP")
            ),
        }),
        ServiceView::Present { load_balancer: None, .. } => Wanted::Awaiting {
            reason: "AwaitingLoadBalancer",
            message: format!(
                "Service {service} has no load balancer yet (annotation {ALIBABA_LB_ANNOTATION} or {CCE_ELB_ANNOTATION}); the EIP is kept unbound until it has"
            ),
        },
        ServiceView::Present {
            load_balancer: Some(id), ..
        } => Wanted::Target {
            target: BindTarget {
                instance_type: InstanceType::SlbInstance,
                instance_id: id.clone(),
                private_ip_address: None,
            },
            reference: Some(BoundReference {
                kind: "Service".into(),
                name: service.to_string(),
                instance_id: id.clone(),
            }),
        },
    }
}

/// The load balancer a Service's annotations name (Alibaba's first, then CCE's).
pub fn load_balancer_of(service: &Service) -> Option<String> {
    let annotations = service.metadata.annotations.as_ref()?;
    [ALIBABA_LB_ANNOTATION, CCE_ELB_ANNOTATION]
        .iter()
        .find_map(|key| annotations.get(*key))
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
}

/// What spec.binding asks for now: references read from the API server, and a target the cloud
/// binds through another resource (an OTC/Huawei server through its port) looked up there.
/// A Kubernetes error is the outer error; the cloud's lookup failure the inner one.
pub async fn resolve(
    client: &Client,
    spec: &ElasticIPSpec,
    namespace: &str,
    provider: &dyn CloudProvider,
    account_region: &str,
) -> Result<Result<Wanted, CloudError>, kube::Error> {
    let Some(binding) = spec.binding.as_ref() else {
        return Ok(Ok(Wanted::Unbound));
    };
    let wanted = match binding.subject() {
        Some(BindingSubject::Node(name)) => {
            let node = Api::<Node>::all(client.clone()).get_opt(name).await?;
            let view = match node {
                None => NodeView::Missing,
                Some(node) => NodeView::Present(node.spec.and_then(|s| s.provider_id).filter(|id| !id.is_empty())),
            };
            node_target(name, &view, binding.private_ip_address.as_ref(), account_region)
        }
        Some(BindingSubject::Service(name)) => {
            let service = Api::<Service>::namespaced(client.clone(), namespace).get_opt(name).await?;
            let view = match service {
                None => ServiceView::Missing,
                Some(service) => ServiceView::Present {
                    type_: service.spec.as_ref().and_then(|s| s.type_.clone()),
                    load_balancer: load_balancer_of(&service),
                },
            };
            service_target(name, &view)
        }
        Some(BindingSubject::Instance(..)) | None => Wanted::of_instance(spec),
    };
    Ok(bindable(provider, wanted).await)
}

/// [`resolve`] for the account a reconcile resolved. While the object is being deleted a failed
/// cloud lookup is no obstacle (the deletion does not depend on the target): nothing is wanted.
pub async fn resolve_binding(
    client: &Client,
    spec: &ElasticIPSpec,
    namespace: &str,
    account: &super::providers::Resolved,
    deleting: bool,
) -> Result<Result<Wanted, CloudError>, kube::Error> {
    let wanted = resolve(client, spec, namespace, account.provider.as_ref(), &account.region).await?;
    Ok(match wanted {
        Err(_) if deleting => Ok(Wanted::Unbound),
        other => other,
    })
}

/// `wanted` as the cloud will report it bound.
async fn bindable(provider: &dyn CloudProvider, wanted: Wanted) -> Result<Wanted, CloudError> {
    match wanted {
        Wanted::Target { target, reference } if provider.capabilities().resolves(target.instance_type) => Ok(Wanted::Target {
            target: provider.resolve_target(&target).await?,
            reference,
        }),
        other => Ok(other),
    }
}

#[cfg(test)]
#[path = "references_tests.rs"]
mod tests;
