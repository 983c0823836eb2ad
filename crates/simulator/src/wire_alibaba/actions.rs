//! The EIP actions: allocate, associate, unassociate, release, describe, tag and untag.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::{Answer, Call, EipAttrs, MAX_TAGS, RESOURCE_GROUP, TIME_FORMAT, Wire, WireError};

/// `Name`: at most 128 characters.
const MAX_NAME: usize = 128;
/// `Description`: at most 256 characters.
const MAX_DESCRIPTION: usize = 256;
/// `ISP`: the longest documented value is 16 characters.
const MAX_ISP: usize = 32;
use crate::limits::{self, MAX_ID_LEN, MAX_IP_LEN};
use crate::model;
use crate::{Flavor, SimulatorProvider};
use eip_cloud::{
    AllocateRequest, BindTarget, ChargeType, CloudEip, CloudProvider, DESCRIBE_BATCH, InstanceType, OWNER_TAG, Operation, UnbindRequest,
};

/// The provider of an Alibaba-flavoured region (`RegionId`, or cn-hangzhou for the calls that
/// make it optional).
fn region(wire: &Wire, call: &Call, optional: bool) -> Result<SimulatorProvider, WireError> {
    let name = match call.get("RegionId") {
        Some(name) => name,
        None if optional => "cn-hangzhou",
        None => return Err(WireError::missing("RegionId")),
    };
    match wire.sim.provider(name) {
        Ok(provider) if provider.flavor() == Flavor::Alibaba => Ok(provider),
        _ => Err(WireError::new(
            "Forbidden.RegionNotFound",
            format!(
                "Specified region {:?} is not found during access authentication.",
                limits::truncate(name, 64)
            ),
        )),
    }
}

fn parse_instance_type(raw: &str) -> Result<InstanceType, WireError> {
    match raw {
        "EcsInstance" => Ok(InstanceType::EcsInstance),
        "NetworkInterface" => Ok(InstanceType::NetworkInterface),
        "Nat" => Ok(InstanceType::Nat),
        "SlbInstance" => Ok(InstanceType::SlbInstance),
        "HaVip" => Ok(InstanceType::HaVip),
        "IpAddress" => Ok(InstanceType::IpAddress),
        other => Err(WireError::new(
            "InvalidInstanceType.ValueNotSupported",
            format!(
                "The specified value of InstanceType {:?} is not supported.",
                limits::truncate(other, 64)
            ),
        )),
    }
}

fn one_of(call: &Call, name: &str, allowed: &[&str]) -> Result<Option<String>, WireError> {
    match call.get(name) {
        None => Ok(None),
        Some(value) if allowed.contains(&value) => Ok(Some(value.to_owned())),
        Some(value) => Err(WireError::invalid(name, value)),
    }
}

pub(super) async fn allocate(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, false)?;
    let bandwidth_mbps = match call.get("Bandwidth") {
        None => None,
        Some(raw) => Some(raw.trim().parse::<u32>().map_err(|_| WireError::invalid("Bandwidth", raw))?),
    };
    let charge_type = match one_of(call, "InstanceChargeType", &["PostPaid", "PrePaid"])?.as_deref() {
        Some("PrePaid") => ChargeType::PrePaid,
        _ => ChargeType::PostPaid,
    };
    let request = AllocateRequest {
        client_token: call.client_token()?.to_owned(),
        bandwidth_mbps,
        charge_type,
        internet_charge_type: one_of(call, "InternetChargeType", &["PayByBandwidth", "PayByTraffic"])?,
        isp: call.get_bounded("ISP", MAX_ISP)?.map(str::to_owned),
        name: call.get_bounded("Name", MAX_NAME)?.map(str::to_owned),
        description: call.get_bounded("Description", MAX_DESCRIPTION)?.map(str::to_owned),
        tags: call.tags("Tag")?,
    };
    wire.prune_attrs();
    let allocated = provider.allocate(&request).await?;
    let eip = allocated.eip;
    {
        let mut state = wire.state();
        let key = (provider.region().to_owned(), eip.allocation_id.clone());
        // A replay keeps the attributes of the original allocation.
        state.attrs.entry(key).or_insert_with(|| EipAttrs {
            name: request.name.clone().unwrap_or_default(),
            description: request.description.clone().unwrap_or_default(),
            isp: request.isp.clone().unwrap_or_else(|| "BGP".into()),
            internet_charge_type: request.internet_charge_type.clone().unwrap_or_else(|| "PayByBandwidth".into()),
            ..EipAttrs::new(Timestamp::now())
        });
    }
    let mut body = json!({
        "AllocationId": eip.allocation_id,
        "EipAddress": eip.ip_address,
        "ResourceGroupId": RESOURCE_GROUP,
    });
    if charge_type == ChargeType::PrePaid {
        body["OrderId"] = json!(format!("2{:014}", model::fnv64(eip.allocation_id.as_bytes()) % 100_000_000_000_000));
    }
    Ok(Answer::new(allocated.receipt.request_id, body))
}

pub(super) async fn associate(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, false)?;
    let allocation_id = call.require_id("AllocationId")?;
    let target = BindTarget {
        instance_type: parse_instance_type(call.get("InstanceType").unwrap_or("EcsInstance"))?,
        instance_id: call.require_id("InstanceId")?.to_owned(),
        private_ip_address: call.get_bounded("PrivateIpAddress", MAX_IP_LEN)?.map(str::to_owned),
    };
    let receipt = provider.associate(allocation_id, &target, call.client_token()?).await?;
    Ok(Answer::new(receipt.request_id, json!({})))
}

pub(super) async fn unassociate(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, true)?;
    let allocation_id = call.require_id("AllocationId")?;
    let current = match call.get_bounded("InstanceId", MAX_ID_LEN)? {
        Some(instance_id) => BindTarget {
            instance_type: parse_instance_type(call.get("InstanceType").unwrap_or("EcsInstance"))?,
            instance_id: instance_id.to_owned(),
            private_ip_address: call.get_bounded("PrivateIpAddress", MAX_IP_LEN)?.map(str::to_owned),
        },
        // Without an instance the call means "whatever it is bound to".
        None => wire
            .sim
            .eip(provider.region(), allocation_id)
            .and_then(|eip| eip.bound_to)
            .unwrap_or(BindTarget {
                instance_type: InstanceType::EcsInstance,
                instance_id: String::new(),
                private_ip_address: None,
            }),
    };
    let force = match call.get("Force") {
        None => false,
        Some(raw) if raw.eq_ignore_ascii_case("true") => true,
        Some(raw) if raw.eq_ignore_ascii_case("false") => false,
        Some(raw) => return Err(WireError::invalid("Force", raw)),
    };
    let receipt = provider
        .unassociate(&UnbindRequest::new(allocation_id.to_owned(), current.clone(), call.client_token()?).forced(force))
        .await?;
    Ok(Answer::new(receipt.request_id, json!({})))
}

pub(super) async fn release(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, true)?;
    let allocation_id = call.require_id("AllocationId")?;
    let receipt = provider.release(allocation_id, call.client_token()?).await?;
    Ok(Answer::new(receipt.request_id, json!({})))
}

/// A comma-separated list of at most [`DESCRIBE_BATCH`] items of at most [`MAX_ID_LEN`] bytes.
fn comma_list(call: &Call, name: &str) -> Result<Vec<String>, WireError> {
    let Some(raw) = call.get(name) else {
        return Ok(Vec::new());
    };
    let mut items = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if items.len() == DESCRIBE_BATCH {
            return Err(WireError::new(
                &format!("InvalidParameter.{name}"),
                format!("At most {DESCRIBE_BATCH} {name}s are allowed."),
            ));
        }
        if item.len() > MAX_ID_LEN {
            return Err(WireError::too_long(name, MAX_ID_LEN));
        }
        items.push(item.to_owned());
    }
    Ok(items)
}

fn page_param(call: &Call, name: &str, default: usize, max: usize) -> Result<usize, WireError> {
    match call.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| WireError::invalid(name, raw)),
    }
}

pub(super) async fn describe(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, false)?;
    let region_name = provider.region().to_owned();
    let page_number = page_param(call, "PageNumber", 1, usize::MAX)?;
    let page_size = page_param(call, "PageSize", 10, 100)?;
    let ids = comma_list(call, "AllocationId")?;
    let addresses = comma_list(call, "EipAddress")?;
    let tag_filter = call.tags("Tag")?;
    wire.prune_attrs();
    let operation = if ids.is_empty() && tag_filter.len() == 1 && tag_filter.contains_key(OWNER_TAG) {
        Operation::FindByOwner
    } else if ids.is_empty() && tag_filter.is_empty() && addresses.is_empty() {
        Operation::List
    } else {
        Operation::Describe
    };
    let (eips, request_id) = wire.sim.list(&region_name, operation, ids.clone()).await?;

    let now = Timestamp::now();
    let mut rows: Vec<(CloudEip, EipAttrs)> = {
        let mut state = wire.state();
        if ids.is_empty() {
            // The whole region was listed: forget attributes of EIPs that are gone.
            let live: std::collections::HashSet<&str> = eips.iter().map(|e| e.allocation_id.as_str()).collect();
            state
                .attrs
                .retain(|(region, id), _| region != &region_name || live.contains(id.as_str()));
        }
        eips.into_iter()
            .map(|eip| {
                let attrs = state
                    .attrs
                    .entry((region_name.clone(), eip.allocation_id.clone()))
                    .or_insert_with(|| EipAttrs::new(now))
                    .clone();
                (eip, attrs)
            })
            .collect()
    };
    let status = call.get("Status");
    let instance_type = call.get("AssociatedInstanceType");
    let instance_id = call.get("AssociatedInstanceId");
    let charge_type = call.get("ChargeType");
    let name = call.get("EipName");
    let isp = call.get("ISP");
    rows.retain(|(eip, attrs)| {
        (addresses.is_empty() || addresses.contains(&eip.ip_address))
            && status.is_none_or(|s| eip.raw_state == s)
            && instance_type.is_none_or(|t| eip.bound_to.as_ref().is_some_and(|b| b.instance_type.as_str() == t))
            && instance_id.is_none_or(|i| eip.bound_to.as_ref().is_some_and(|b| b.instance_id == i))
            && charge_type.is_none_or(|c| charge_type_str(eip.charge_type) == c)
            && name.is_none_or(|n| attrs.name == n)
            && isp.is_none_or(|i| attrs.isp == i)
            && tag_filter.iter().all(|(k, v)| eip.tags.get(k) == Some(v))
    });
    let total = rows.len();
    let start = page_number.saturating_sub(1).saturating_mul(page_size);
    let items: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(page_size)
        .map(|(eip, attrs)| render_eip(&region_name, eip, attrs))
        .collect();
    Ok(Answer::new(
        request_id,
        json!({
            "PageNumber": page_number,
            "PageSize": page_size,
            "TotalCount": total,
            "EipAddresses": {"EipAddress": items},
        }),
    ))
}

fn charge_type_str(charge_type: ChargeType) -> &'static str {
    match charge_type {
        ChargeType::PostPaid => "PostPaid",
        ChargeType::PrePaid => "PrePaid",
    }
}

fn render_eip(region: &str, eip: &CloudEip, attrs: &EipAttrs) -> Value {
    let (instance_type, instance_id, private_ip) = match &eip.bound_to {
        Some(b) => (
            b.instance_type.as_str(),
            b.instance_id.as_str(),
            b.private_ip_address.as_deref().unwrap_or(""),
        ),
        None => ("", "", ""),
    };
    let bandwidth = eip.bandwidth_mbps.unwrap_or(5).to_string();
    let expired_time = match eip.charge_type {
        ChargeType::PrePaid => super::later(attrs.allocation_time, SignedDuration::from_hours(30 * 24))
            .strftime(TIME_FORMAT)
            .to_string(),
        ChargeType::PostPaid => String::new(),
    };
    json!({
        "AllocationId": eip.allocation_id,
        "IpAddress": eip.ip_address,
        "Status": eip.raw_state,
        "InstanceId": instance_id,
        "InstanceType": instance_type,
        "InstanceRegionId": if instance_id.is_empty() { "" } else { region },
        "PrivateIpAddress": private_ip,
        "Mode": if instance_id.is_empty() { "" } else { "NAT" },
        "RegionId": region,
        "Name": attrs.name,
        "Description": attrs.description,
        "ChargeType": charge_type_str(eip.charge_type),
        "InternetChargeType": attrs.internet_charge_type,
        "Bandwidth": bandwidth,
        "EipBandwidth": bandwidth,
        "BusinessStatus": if eip.locks.is_empty() { "Normal" } else { "FinancialLocked" },
        "OperationLocks": {"LockReason": eip.locks.iter().map(|r| json!({"LockReason": r})).collect::<Vec<_>>()},
        "DeletionProtection": false,
        "Tags": {"Tag": eip.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()},
        "AllocationTime": attrs.allocation_time.strftime(TIME_FORMAT).to_string(),
        "ExpiredTime": expired_time,
        "ISP": attrs.isp,
        "Netmode": "public",
        "ResourceGroupId": RESOURCE_GROUP,
        "SecondLimited": false,
        "HDMonitorStatus": "OFF",
        "HasReservationData": "false",
        "ServiceManaged": 0,
    })
}

/// `ResourceType=EIP` and `ResourceId.N` (1-50) of `TagResources` / `UnTagResources`.
fn tagged_resources(call: &Call) -> Result<Vec<String>, WireError> {
    let resource_type = call.require("ResourceType")?;
    if !resource_type.eq_ignore_ascii_case("EIP") {
        return Err(WireError::invalid("ResourceType", resource_type));
    }
    let ids = call.list("ResourceId")?;
    if ids.is_empty() {
        return Err(WireError::missing("ResourceId.1"));
    }
    if ids.len() > 50 {
        return Err(WireError::new("InvalidParameter.ResourceId", "At most 50 ResourceIds are allowed."));
    }
    Ok(ids)
}

/// `TagResources`: sets `Tag.N` (N ≤ 20) on every EIP of `ResourceId.N`, through the model (one
/// logged `Tag` call naming them all); a key the EIP has takes the new value.
pub(super) async fn tag_resources(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, false)?;
    let ids = tagged_resources(call)?;
    let tags = call.tags("Tag")?;
    if tags.is_empty() {
        return Err(WireError::missing("Tag.1.Key"));
    }
    let receipt = wire
        .sim
        .call(provider.region(), Operation::Tag, ids.clone(), "", |region, ctx| {
            region.tag(ctx, &ids, &tags)
        })
        .await?;
    Ok(Answer::new(receipt.request_id, json!({})))
}

/// `UnTagResources`: removes the tags `TagKey.N` (N ≤ 20) from every EIP of `ResourceId.N`, or
/// all their tags with `All=true` and no `TagKey`; one logged `Untag` call.
pub(super) async fn un_tag_resources(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, false)?;
    let ids = tagged_resources(call)?;
    let keys = call.list("TagKey")?;
    if keys.len() > MAX_TAGS {
        return Err(WireError::new(
            "InvalidParameter.TagNumberExceed",
            format!("At most {MAX_TAGS} tag keys are allowed."),
        ));
    }
    let all = match call.get("All") {
        None => false,
        Some(raw) if raw.eq_ignore_ascii_case("true") => true,
        Some(raw) if raw.eq_ignore_ascii_case("false") => false,
        Some(raw) => return Err(WireError::invalid("All", raw)),
    };
    if keys.is_empty() && !all {
        return Err(WireError::missing("TagKey.1"));
    }
    let receipt = wire
        .sim
        .call(provider.region(), Operation::Untag, ids.clone(), "", |region, ctx| {
            let keys = if keys.is_empty() {
                // All: every tag of the named EIPs.
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
    Ok(Answer::new(receipt.request_id, json!({})))
}
