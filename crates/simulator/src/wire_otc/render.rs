//! EIP records as the v1 and v3 APIs render them.

use super::*;

/// How the routes of `family` render an EIP record.
pub(super) fn render_of(family: Family) -> fn(&CloudEip, &EipMeta, &str) -> Value {
    match family {
        Family::V1 => v1_record,
        Family::V3 => v3_record,
    }
}

/// A port-style binding: `(port_id, private_ip)`.
pub(super) fn port_of(eip: &CloudEip) -> Option<(String, Option<String>)> {
    eip.bound_to.as_ref().and_then(|b| match b.instance_type {
        InstanceType::Nat | InstanceType::SlbInstance | InstanceType::Vpn => None,
        _ => Some((b.instance_id.clone(), b.private_ip_address.clone())),
    })
}

/// The EIP's tags as the wire shows them (the owner keys in their wire form, see [`tag_to_wire`]).
pub(super) fn wire_tags(eip: &CloudEip) -> BTreeMap<String, String> {
    eip.tags.iter().filter_map(|(k, v)| tag_to_wire(k, v)).collect()
}

pub(super) fn derived_uuid(salt: &str, id: &str) -> String {
    let bits = (u128::from(fnv64(format!("{salt}:{id}").as_bytes())) << 64) | u128::from(fnv64(format!("{id}:{salt}").as_bytes()));
    format_uuid(bits, false)
}

pub(super) fn created(meta: &EipMeta) -> Timestamp {
    meta.created.unwrap_or_default()
}

pub(super) fn bandwidth_name(eip: &CloudEip, meta: &EipMeta) -> String {
    meta.bandwidth_name
        .clone()
        .unwrap_or_else(|| format!("bandwidth-{}", eip.allocation_id.chars().take(8).collect::<String>()))
}

pub(super) fn eip_type(meta: &EipMeta) -> String {
    meta.eip_type.clone().unwrap_or_else(|| "5_bgp".to_owned())
}

/// `GET /v1/.../publicips/{id}` record.
pub(super) fn v1_record(eip: &CloudEip, meta: &EipMeta, project_id: &str) -> Value {
    let mut record = json!({
        "id": eip.allocation_id,
        "status": eip.raw_state,
        "type": eip_type(meta),
        "public_ip_address": eip.ip_address,
        "tenant_id": project_id,
        "create_time": created(meta).strftime("%Y-%m-%d %H:%M:%S").to_string(),
        "bandwidth_id": derived_uuid("bandwidth", &eip.allocation_id),
        "bandwidth_name": bandwidth_name(eip, meta),
        "bandwidth_size": eip.bandwidth_mbps.unwrap_or(5),
        "bandwidth_share_type": "PER",
        "profile": {
            "user_id": null, "product_id": null, "region_id": null,
            "order_id": (eip.charge_type == ChargeType::PrePaid).then(|| derived_uuid("order", &eip.allocation_id)),
        },
        "ip_version": 4,
        "enterprise_project_id": "0",
        "public_border_group": "center",
        "allow_share_bandwidth_types": [],
        "tags": wire_tags(eip).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
    });
    if let Some(alias) = &meta.alias {
        record["alias"] = json!(alias);
    }
    if let Some((port, private_ip)) = port_of(eip) {
        record["port_id"] = json!(port);
        record["private_ip_address"] = json!(private_ip);
    }
    record
}

/// `GET /v3/.../eip/publicips/{id}` record.
pub(super) fn v3_record(eip: &CloudEip, meta: &EipMeta, project_id: &str) -> Value {
    let created = created(meta).strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let vnic = port_of(eip).map(|(port, private_ip)| {
        json!({
            "private_ip_address": private_ip, "device_id": "", "device_owner": "", "vpc_id": derived_uuid("vpc", project_id),
            "port_id": port, "port_profile": null, "mac": "fa:16:3e:00:00:01", "vtep": null, "vni": null,
            "instance_id": "", "instance_type": ""
        })
    });
    let (associate_type, associate_id) = match &eip.bound_to {
        None => (None, None),
        Some(b) => (
            Some(match b.instance_type {
                InstanceType::Nat => "NATGW",
                InstanceType::SlbInstance => "ELB",
                InstanceType::Vpn => "VPN",
                _ => "PORT",
            }),
            Some(b.instance_id.clone()),
        ),
    };
    let record = json!({
        "id": eip.allocation_id,
        "project_id": project_id,
        "ip_version": 4,
        "public_ip_address": eip.ip_address,
        "public_ipv6_address": null,
        "network_type": eip_type(meta),
        "status": eip.raw_state,
        "description": "",
        "public_border_group": "center",
        "created_at": created,
        "updated_at": created,
        "type": "EIP",
        "vnic": vnic,
        "bandwidth": {
            "id": derived_uuid("bandwidth", &eip.allocation_id),
            "size": eip.bandwidth_mbps.unwrap_or(5),
            "share_type": "PER",
            "charge_mode": meta.charge_mode.clone().unwrap_or_else(|| "bandwidth".to_owned()),
            "name": bandwidth_name(eip, meta),
            "billing_info": ""
        },
        "enterprise_project_id": "0",
        "billing_info": if eip.charge_type == ChargeType::PrePaid { derived_uuid("order", &eip.allocation_id) } else { String::new() },
        "lock_status": if eip.phase == EipPhase::Locked { eip.locks.first().cloned() } else { None },
        "associate_instance_type": associate_type,
        "associate_instance_id": associate_id,
        "publicip_pool_id": null,
        "publicip_pool_name": eip_type(meta),
        "alias": meta.alias,
        "tags": wire_tags(eip).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
    });
    record
}
