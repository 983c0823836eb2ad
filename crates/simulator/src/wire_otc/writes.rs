//! Create, update (bind, unbind, rename), delete (v1) and associate / disassociate (v3).

use super::*;

#[derive(Deserialize)]
pub(super) struct CreateBody {
    publicip: CreatePublicip,
    bandwidth: CreateBandwidth,
}

#[derive(Deserialize)]
pub(super) struct CreatePublicip {
    #[serde(rename = "type")]
    eip_type: Option<String>,
    ip_version: Option<u8>,
    alias: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct CreateBandwidth {
    name: Option<String>,
    size: Option<u32>,
    share_type: Option<String>,
    charge_mode: Option<String>,
}

pub(super) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

pub(super) fn validate_create(region: &str, body: &CreateBody) -> Result<(), String> {
    let eip_type = body.publicip.eip_type.as_deref().unwrap_or("");
    match eip_type {
        "5_bgp" | "5_mailbgp" | "5_dualStack" => {}
        "5_gray" if region == "eu-de" => return Err("No new EIPs of type 5_gray can be assigned in eu-de; use 5_bgp.".into()),
        "5_gray" if region == "eu-nl" => return Err("Type 5_gray is not available in eu-nl.".into()),
        "5_gray" => {}
        other => return Err(format!("Invalid publicip type {:?}.", limits::truncate(other, 64))),
    }
    if let Some(version) = body.publicip.ip_version
        && version != 4
        && version != 6
    {
        return Err(format!("Invalid ip_version {version}."));
    }
    if let Some(alias) = &body.publicip.alias
        && !alias.is_empty()
        && !valid_name(alias)
    {
        return Err("Invalid alias: 1-64 letters, digits, '_', '-' or '.'.".into());
    }
    match body.bandwidth.share_type.as_deref() {
        Some("PER") => {}
        Some("WHOLE") => return Err("Shared (WHOLE) bandwidths are not simulated; use PER.".into()),
        other => {
            return Err(format!(
                "Invalid bandwidth share_type {:?}.",
                other.map(|o| limits::truncate(o, 64))
            ));
        }
    }
    match body.bandwidth.name.as_deref() {
        Some(name) if valid_name(name) => {}
        _ => return Err("Invalid bandwidth name: 1-64 letters, digits, '_', '-' or '.'.".into()),
    }
    if body.bandwidth.size.is_none() {
        return Err("bandwidth.size is required.".into());
    }
    match body.bandwidth.charge_mode.as_deref() {
        None | Some("traffic" | "bandwidth") => Ok(()),
        Some(other) => Err(format!("Invalid bandwidth charge_mode {:?}.", limits::truncate(other, 64))),
    }
}

pub(super) async fn v1_create(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    let body: CreateBody = match req
        .json()
        .and_then(|body: CreateBody| validate_create(&region, &body).map(|()| body))
    {
        Ok(body) => body,
        Err(message) => return api_error(Family::V1, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    };
    let provider = match wire.sim.provider(&region) {
        Ok(provider) => provider,
        Err(message) => return api_error(Family::V1, StatusCode::NOT_FOUND, "VPC.0501", &message, &wire.request_id()),
    };
    let request = AllocateRequest {
        bandwidth_mbps: body.bandwidth.size,
        internet_charge_type: body.bandwidth.charge_mode.clone(),
        isp: body.publicip.eip_type.clone(),
        name: body.publicip.alias.clone(),
        ..AllocateRequest::default()
    };
    match provider.allocate(&request).await {
        Ok(allocated) => {
            let eip = allocated.eip;
            let now = Utc::now().naive_utc();
            wire.update_meta(&region, &eip.allocation_id, |meta| {
                meta.alias = body.publicip.alias.clone().filter(|a| !a.is_empty());
                meta.bandwidth_name = body.bandwidth.name.clone();
                meta.eip_type = body.publicip.eip_type.clone();
                meta.charge_mode = body.bandwidth.charge_mode.clone();
                meta.created = Some(now);
            });
            let meta = wire.meta(&region, &eip.allocation_id);
            let mut record = json!({
                "id": eip.allocation_id,
                "status": eip.raw_state,
                "type": eip_type(&meta),
                "public_ip_address": eip.ip_address,
                "tenant_id": project_id,
                "ip_version": 4,
                "create_time": now.format("%Y-%m-%d %H:%M:%S").to_string(),
                "bandwidth_size": eip.bandwidth_mbps.unwrap_or(5),
                "enterprise_project_id": "0",
            });
            if let Some(alias) = meta.alias {
                record["alias"] = json!(alias);
            }
            json_answer(StatusCode::OK, json!({ "publicip": record }), &allocated.receipt.request_id)
        }
        Err(err) => cloud_error(Family::V1, &err, &wire.request_id()),
    }
}

#[derive(Deserialize)]
pub(super) struct UpdateBody {
    publicip: serde_json::Map<String, Value>,
}

pub(super) async fn v1_update(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    if let Err(response) = check_id(&wire, Family::V1, "publicip_id", &id) {
        return *response;
    }
    let body: UpdateBody = match req.json() {
        Ok(body) => body,
        Err(message) => return api_error(Family::V1, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    };
    let provider = match wire.sim.provider(&region) {
        Ok(provider) => provider,
        Err(message) => return api_error(Family::V1, StatusCode::NOT_FOUND, "VPC.0501", &message, &wire.request_id()),
    };
    let port = body.publicip.get("port_id");
    if let Some(Value::String(port)) = port
        && let Err(response) = check_id(&wire, Family::V1, "port_id", port)
    {
        return *response;
    }
    let alias = body.publicip.get("alias").and_then(Value::as_str).map(str::to_owned);
    if let Some(alias) = &alias
        && !alias.is_empty()
        && !valid_name(alias)
    {
        return api_error(
            Family::V1,
            StatusCode::BAD_REQUEST,
            "VPC.0501",
            "Invalid alias.",
            &wire.request_id(),
        );
    }
    let result = match port {
        Some(Value::String(port)) if !port.is_empty() => {
            let target = BindTarget {
                instance_type: InstanceType::Port,
                instance_id: port.clone(),
                private_ip_address: None,
            };
            provider.associate(&id, &target, "").await.map(|r| Some(r.request_id))
        }
        Some(Value::String(_) | Value::Null) | None if port.is_some() || alias.is_none() => {
            // Unbind. A binding that is not a port (load balancer, NAT gateway, VPN) is not
            // undone by the v1 API: the answer shows it unchanged.
            let current = wire.sim.eip(&region, &id).and_then(|e| e.bound_to);
            match &current {
                Some(b) if matches!(b.instance_type, InstanceType::Nat | InstanceType::SlbInstance | InstanceType::Vpn) => Ok(None),
                _ => {
                    let current = current.unwrap_or(BindTarget {
                        instance_type: InstanceType::Port,
                        instance_id: String::new(),
                        private_ip_address: None,
                    });
                    provider
                        .unassociate(&UnbindRequest::new(id.to_owned(), current.clone(), ""))
                        .await
                        .map(|r| Some(r.request_id))
                }
            }
        }
        Some(_) => {
            return api_error(
                Family::V1,
                StatusCode::BAD_REQUEST,
                "VPC.0501",
                "port_id must be a string.",
                &wire.request_id(),
            );
        }
        None => Ok(None), // alias only
    };
    match result {
        Ok(request_id) => {
            let request_id = request_id.unwrap_or_else(|| wire.request_id());
            let Some(eip) = wire.sim.eip(&region, &id) else {
                return not_found(Family::V1, &id, &request_id);
            };
            if let Some(alias) = alias {
                wire.update_meta(&region, &id, |meta| meta.alias = Some(alias).filter(|a| !a.is_empty()));
            }
            let record = v1_record(&eip, &wire.meta(&region, &id), &project_id);
            json_answer(StatusCode::OK, json!({ "publicip": record }), &request_id)
        }
        Err(err) => cloud_error(Family::V1, &err, &wire.request_id()),
    }
}

pub(super) async fn v1_delete(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    if let Err(response) = check_id(&wire, Family::V1, "publicip_id", &id) {
        return *response;
    }
    let provider = match wire.sim.provider(&region) {
        Ok(provider) => provider,
        Err(message) => return api_error(Family::V1, StatusCode::NOT_FOUND, "VPC.0501", &message, &wire.request_id()),
    };
    match provider.release(&id, "").await {
        Ok(receipt) => no_content(&receipt.request_id),
        Err(err) => cloud_error(Family::V1, &err, &wire.request_id()),
    }
}

#[derive(Deserialize)]
pub(super) struct AssociateBody {
    publicip: AssociateOption,
}

#[derive(Deserialize)]
pub(super) struct AssociateOption {
    associate_instance_type: String,
    associate_instance_id: String,
}

pub(super) async fn v3_associate(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, true) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    if let Err(response) = check_id(&wire, Family::V3, "publicip_id", &id) {
        return *response;
    }
    let body: AssociateBody = match req.json() {
        Ok(body) => body,
        Err(message) => return api_error(Family::V3, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    };
    let instance_type = match body.publicip.associate_instance_type.as_str() {
        "PORT" => InstanceType::Port,
        "NATGW" => InstanceType::Nat,
        "ELB" | "ELBV1" => InstanceType::SlbInstance,
        "VPN" => InstanceType::Vpn,
        other => {
            return api_error(
                Family::V3,
                StatusCode::BAD_REQUEST,
                "VPC.0501",
                &format!("Invalid associate_instance_type {:?}.", limits::truncate(other, 64)),
                &wire.request_id(),
            );
        }
    };
    if let Err(response) = check_id(&wire, Family::V3, "associate_instance_id", &body.publicip.associate_instance_id) {
        return *response;
    }
    let target = BindTarget {
        instance_type,
        instance_id: body.publicip.associate_instance_id,
        private_ip_address: None,
    };
    let provider = match wire.sim.provider(&region) {
        Ok(provider) => provider,
        Err(message) => return api_error(Family::V3, StatusCode::NOT_FOUND, "VPC.0501", &message, &wire.request_id()),
    };
    match provider.associate(&id, &target, "").await {
        Ok(receipt) => v3_instance_answer(&wire, &region, &project_id, &id, &receipt.request_id),
        Err(err) => cloud_error(Family::V3, &err, &wire.request_id()),
    }
}

pub(super) async fn v3_disassociate(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, true) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    if let Err(response) = check_id(&wire, Family::V3, "publicip_id", &id) {
        return *response;
    }
    let provider = match wire.sim.provider(&region) {
        Ok(provider) => provider,
        Err(message) => return api_error(Family::V3, StatusCode::NOT_FOUND, "VPC.0501", &message, &wire.request_id()),
    };
    let current = wire.sim.eip(&region, &id).and_then(|e| e.bound_to).unwrap_or(BindTarget {
        instance_type: InstanceType::Port,
        instance_id: String::new(),
        private_ip_address: None,
    });
    match provider.unassociate(&UnbindRequest::new(id.to_owned(), current.clone(), "")).await {
        Ok(receipt) => v3_instance_answer(&wire, &region, &project_id, &id, &receipt.request_id),
        Err(err) => cloud_error(Family::V3, &err, &wire.request_id()),
    }
}

pub(super) fn v3_instance_answer(wire: &Wire, region: &str, project_id: &str, id: &str, request_id: &str) -> Response {
    match wire.sim.eip(region, id) {
        Some(eip) => {
            let mut record = v3_record(&eip, &wire.meta(region, id), project_id);
            if let Some(object) = record.as_object_mut() {
                // The associate/disassociate answer (`PublicipInstanceResp`) has no tags.
                object.remove("tags");
            }
            json_answer(StatusCode::OK, json!({ "request_id": request_id, "publicip": record }), request_id)
        }
        None => not_found(Family::V3, id, request_id),
    }
}
