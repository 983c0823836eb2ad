//! The address actions: allocate, describe, associate, disassociate, release, and the tags.

use std::collections::BTreeMap;

use super::{Answer, Call, Wire, WireError, element, escape};
use crate::SimulatorProvider;
use crate::limits::MAX_IP_LEN;
use crate::model;
use eip_cloud::{AllocateRequest, BindTarget, CloudEip, CloudProvider, InstanceType, OWNER_TAG, Operation, UnbindRequest};

/// The account every simulated address and interface belongs to.
const ACCOUNT: &str = "123456789012";

/// The association ID of `eip`'s binding, derived from the address and its target (see the
/// module docs of `wire_aws`).
pub(super) fn association_id(allocation_id: &str, bound_to: &BindTarget) -> String {
    let key = format!(
        "{allocation_id}|{}|{}|{}",
        bound_to.instance_type,
        bound_to.instance_id,
        bound_to.private_ip_address.as_deref().unwrap_or("")
    );
    format!("eipassoc-{:017x}", model::fnv64(key.as_bytes()))
}

/// The primary interface of an instance, as EC2 reports it beside the instance.
fn primary_interface(instance_id: &str) -> String {
    format!("eni-{:017x}", model::fnv64(format!("eni:{instance_id}").as_bytes()))
}

pub(super) async fn allocate(provider: &SimulatorProvider, call: &Call) -> Result<Answer, WireError> {
    match call.get("Domain") {
        None | Some("vpc") => {}
        Some(other) => return Err(WireError::invalid("Domain", other)),
    }
    let pool = call.get("PublicIpv4Pool").unwrap_or("amazon").to_owned();
    if pool != "amazon" && !pool.starts_with("ipv4pool-ec2-") {
        return Err(WireError::new(
            "InvalidPublicIpv4PoolID.NotFound",
            format!("The pool ID '{}' does not exist", escape(&pool)),
        ));
    }
    let mut tags = BTreeMap::new();
    for n in 1..=tag_spec_count(call) {
        let prefix = format!("TagSpecification.{n}.");
        match call.get(&format!("{prefix}ResourceType")) {
            Some("elastic-ip") => tags.extend(call.tags(&prefix)?),
            Some(other) => return Err(WireError::invalid(&format!("{prefix}ResourceType"), other)),
            None => return Err(WireError::missing(&format!("{prefix}ResourceType"))),
        }
    }
    let request = AllocateRequest {
        tags,
        ..AllocateRequest::default()
    };
    let allocated = provider.allocate(&request).await?;
    let eip = allocated.eip;
    Ok(Answer {
        request_id: allocated.receipt.request_id,
        inner: [
            element("publicIp", &eip.ip_address),
            element("domain", "vpc"),
            element("allocationId", &eip.allocation_id),
            element("publicIpv4Pool", &pool),
            element("networkBorderGroup", provider.region()),
        ]
        .concat(),
    })
}

/// How many `TagSpecification.N.` groups the request has.
fn tag_spec_count(call: &Call) -> usize {
    call.params
        .keys()
        .filter_map(|k| k.strip_prefix("TagSpecification.")?.split('.').next()?.parse::<usize>().ok())
        .max()
        .unwrap_or(0)
}

/// One `Filter.N` of DescribeAddresses.
struct Filter {
    name: String,
    values: Vec<String>,
}

impl Filter {
    fn matches(&self, eip: &CloudEip) -> bool {
        let bound = eip.bound_to.as_ref();
        let field = |value: &str| -> bool {
            match self.name.as_str() {
                "allocation-id" => eip.allocation_id == value,
                "public-ip" => eip.ip_address == value,
                "domain" => value == "vpc",
                "association-id" => bound.is_some_and(|b| association_id(&eip.allocation_id, b) == value),
                "instance-id" => bound.is_some_and(|b| b.instance_type == InstanceType::EcsInstance && b.instance_id == value),
                "network-interface-id" => bound.is_some_and(|b| interface_of(b) == value),
                "network-interface-owner-id" => bound.is_some() && value == ACCOUNT,
                "private-ip-address" => bound.is_some_and(|b| b.private_ip_address.as_deref() == Some(value)),
                "tag-key" => eip.tags.contains_key(value),
                name => name
                    .strip_prefix("tag:")
                    .is_some_and(|key| eip.tags.get(key).map(String::as_str) == Some(value)),
            }
        };
        self.values.iter().any(|v| field(v))
    }
}

fn interface_of(bound: &BindTarget) -> String {
    match bound.instance_type {
        InstanceType::NetworkInterface => bound.instance_id.clone(),
        _ => primary_interface(&bound.instance_id),
    }
}

const FILTERS: &[&str] = &[
    "allocation-id",
    "public-ip",
    "domain",
    "association-id",
    "instance-id",
    "network-interface-id",
    "network-interface-owner-id",
    "private-ip-address",
    "tag-key",
];

fn filters(call: &Call) -> Result<Vec<Filter>, WireError> {
    let mut found = Vec::new();
    for n in 1.. {
        let Some(name) = call.get(&format!("Filter.{n}.Name")) else {
            break;
        };
        if !FILTERS.contains(&name) && !name.starts_with("tag:") {
            return Err(WireError::new(
                "InvalidParameterValue",
                format!("The filter '{}' is invalid", escape(name)),
            ));
        }
        let values = call.list(&format!("Filter.{n}.Value"))?;
        found.push(Filter {
            name: name.to_owned(),
            values,
        });
        if n > 50 {
            return Err(WireError::new("InvalidParameterValue", "At most 50 filters."));
        }
    }
    Ok(found)
}

pub(super) async fn describe(wire: &Wire, provider: &SimulatorProvider, call: &Call) -> Result<Answer, WireError> {
    let named = call.list("AllocationId")?;
    let public_ips = call.list("PublicIp")?;
    let filters = filters(call)?;
    let owner_only = named.is_empty()
        && public_ips.is_empty()
        && filters.len() == 1
        && filters[0].name == format!("tag:{OWNER_TAG}")
        && filters[0].values.len() == 1;
    let listing = named.is_empty() && public_ips.is_empty() && filters.is_empty();
    let operation = match (owner_only, listing) {
        (true, _) => Operation::FindByOwner,
        (_, true) => Operation::List,
        _ => Operation::Describe,
    };
    // The IDs the call names (hide-from-describe applies to them), from AllocationId.N or an
    // allocation-id filter.
    let ids: Vec<String> = if !named.is_empty() {
        named.clone()
    } else {
        filters
            .iter()
            .find(|f| f.name == "allocation-id")
            .map(|f| f.values.clone())
            .unwrap_or_default()
    };
    let (eips, request_id) = wire.sim.list(provider.region(), operation, ids).await?;
    // EC2 refuses the whole call when AllocationId.N names an address it does not have.
    if let Some(missing) = named.iter().find(|id| !eips.iter().any(|e| &e.allocation_id == *id)) {
        return Err(WireError {
            request_id: Some(request_id),
            ..WireError::new(
                "InvalidAllocationID.NotFound",
                format!("The allocation ID '{missing}' does not exist"),
            )
        });
    }
    let items: String = eips
        .iter()
        .filter(|eip| public_ips.is_empty() || public_ips.contains(&eip.ip_address))
        .filter(|eip| filters.iter().all(|f| f.matches(eip)))
        .map(|eip| render(provider.region(), eip))
        .collect();
    Ok(Answer {
        request_id,
        inner: format!("<addressesSet>{items}</addressesSet>"),
    })
}

fn render(region: &str, eip: &CloudEip) -> String {
    let mut item = vec![
        element("publicIp", &eip.ip_address),
        element("allocationId", &eip.allocation_id),
        element("domain", "vpc"),
    ];
    if let Some(bound) = &eip.bound_to {
        if bound.instance_type == InstanceType::EcsInstance {
            item.push(element("instanceId", &bound.instance_id));
        }
        item.push(element("associationId", &association_id(&eip.allocation_id, bound)));
        item.push(element("networkInterfaceId", &interface_of(bound)));
        item.push(element("networkInterfaceOwnerId", ACCOUNT));
        if let Some(ip) = &bound.private_ip_address {
            item.push(element("privateIpAddress", ip));
        }
    }
    if !eip.tags.is_empty() {
        let tags: String = eip
            .tags
            .iter()
            .map(|(k, v)| format!("<item>{}{}</item>", element("key", k), element("value", v)))
            .collect();
        item.push(format!("<tagSet>{tags}</tagSet>"));
    }
    item.push(element("publicIpv4Pool", "amazon"));
    item.push(element("networkBorderGroup", region));
    format!("<item>{}</item>", item.concat())
}

fn boolean(call: &Call, name: &str) -> Result<bool, WireError> {
    match call.get(name) {
        None => Ok(false),
        Some(raw) if raw.eq_ignore_ascii_case("true") => Ok(true),
        Some(raw) if raw.eq_ignore_ascii_case("false") => Ok(false),
        Some(raw) => Err(WireError::invalid(name, raw)),
    }
}

pub(super) async fn associate(wire: &Wire, provider: &SimulatorProvider, call: &Call) -> Result<Answer, WireError> {
    let allocation_id = call.require_id("AllocationId")?;
    let (instance_type, instance_id) = match (call.get("InstanceId"), call.get("NetworkInterfaceId")) {
        (Some(_), Some(_)) => {
            return Err(WireError::new(
                "InvalidParameterCombination",
                "Specify an instance or a network interface, not both.",
            ));
        }
        (Some(_), None) => (InstanceType::EcsInstance, call.require_id("InstanceId")?),
        (None, Some(_)) => (InstanceType::NetworkInterface, call.require_id("NetworkInterfaceId")?),
        (None, None) => return Err(WireError::missing("InstanceId")),
    };
    let private_ip = call.get("PrivateIpAddress");
    if private_ip.is_some_and(|ip| ip.len() > MAX_IP_LEN) {
        return Err(WireError::invalid("PrivateIpAddress", private_ip.unwrap_or_default()));
    }
    let target = BindTarget {
        instance_type,
        instance_id: instance_id.to_owned(),
        private_ip_address: private_ip.map(str::to_owned),
    };
    if boolean(call, "AllowReassociation")?
        && let Some(current) = wire.sim.eip(provider.region(), allocation_id).and_then(|e| e.bound_to)
        && !current.satisfies(&target)
    {
        provider.unassociate(&UnbindRequest::new(allocation_id, current, "")).await?;
    }
    let receipt = provider.associate(allocation_id, &target, "").await?;
    let bound = wire
        .sim
        .eip(provider.region(), allocation_id)
        .and_then(|e| e.bound_to)
        .ok_or_else(|| WireError::new("InternalError", "The association did not hold."))?;
    Ok(Answer {
        request_id: receipt.request_id,
        inner: [
            element("return", "true"),
            element("associationId", &association_id(allocation_id, &bound)),
        ]
        .concat(),
    })
}

pub(super) async fn disassociate(wire: &Wire, provider: &SimulatorProvider, call: &Call) -> Result<Answer, WireError> {
    let association = call.require_id("AssociationId")?;
    let found = wire.sim.eips(provider.region()).into_iter().find_map(|eip| {
        let bound = eip.bound_to?;
        (association_id(&eip.allocation_id, &bound) == association).then_some((eip.allocation_id, bound))
    });
    let Some((allocation_id, bound)) = found else {
        return Err(WireError::new(
            "InvalidAssociationID.NotFound",
            format!("The association ID '{association}' does not exist"),
        ));
    };
    let receipt = provider.unassociate(&UnbindRequest::new(allocation_id, bound, "")).await?;
    Ok(Answer {
        request_id: receipt.request_id,
        inner: element("return", "true"),
    })
}

pub(super) async fn release(provider: &SimulatorProvider, call: &Call) -> Result<Answer, WireError> {
    let allocation_id = call.require_id("AllocationId")?;
    let receipt = provider.release(allocation_id, "").await?;
    Ok(Answer {
        request_id: receipt.request_id,
        inner: element("return", "true"),
    })
}

/// `ResourceId.N`: addresses only (the simulator has no other taggable resources).
fn tagged(call: &Call) -> Result<Vec<String>, WireError> {
    let ids = call.list("ResourceId")?;
    if ids.is_empty() {
        return Err(WireError::missing("ResourceId.1"));
    }
    if let Some(other) = ids.iter().find(|id| !id.starts_with("eipalloc-")) {
        return Err(WireError::new("InvalidID", format!("The ID '{}' is not valid", escape(other))));
    }
    Ok(ids)
}

pub(super) async fn create_tags(wire: &Wire, provider: &SimulatorProvider, call: &Call) -> Result<Answer, WireError> {
    let ids = tagged(call)?;
    let tags = call.tags("")?;
    if tags.is_empty() {
        return Err(WireError::missing("Tag.1.Key"));
    }
    let receipt = wire
        .sim
        .call(provider.region(), Operation::Tag, ids.clone(), "", |region, ctx| {
            region.tag(ctx, &ids, &tags)
        })
        .await?;
    Ok(Answer {
        request_id: receipt.request_id,
        inner: element("return", "true"),
    })
}

pub(super) async fn delete_tags(wire: &Wire, provider: &SimulatorProvider, call: &Call) -> Result<Answer, WireError> {
    let ids = tagged(call)?;
    let keys: Vec<String> = call.tags("")?.into_keys().collect();
    let receipt = wire
        .sim
        .call(provider.region(), Operation::Untag, ids.clone(), "", |region, ctx| {
            // Without Tag.N, EC2 deletes every tag of the resources.
            let keys = if keys.is_empty() {
                let mut every: Vec<String> = ids
                    .iter()
                    .filter_map(|id| region.eip(ctx.now, id))
                    .flat_map(|eip| eip.tags.into_keys())
                    .collect();
                every.sort();
                every.dedup();
                every
            } else {
                keys.clone()
            };
            region.untag(ctx, &ids, &keys)
        })
        .await?;
    Ok(Answer {
        request_id: receipt.request_id,
        inner: element("return", "true"),
    })
}
