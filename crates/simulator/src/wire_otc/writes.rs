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

pub(super) fn validate_create(region: &str, body: &CreateBody) -> Result<(), Invalid> {
    let eip_type = body.publicip.eip_type.as_deref().unwrap_or("");
    match eip_type {
        "5_bgp" | "5_mailbgp" | "5_dualStack" => {}
        "5_gray" if region == "eu-de" => return Err(Invalid::GrayInEuDe),
        "5_gray" if region == "eu-nl" => return Err(Invalid::GrayInEuNl),
        "5_gray" => {}
        other => return Err(Invalid::EipType(limits::truncate(other, 64).to_owned())),
    }
    if let Some(version) = body.publicip.ip_version
        && version != 4
        && version != 6
    {
        return Err(Invalid::IpVersion(version));
    }
    if let Some(alias) = &body.publicip.alias
        && !alias.is_empty()
        && !valid_name(alias)
    {
        return Err(Invalid::Alias);
    }
    match body.bandwidth.share_type.as_deref() {
        Some("PER") => {}
        Some("WHOLE") => return Err(Invalid::SharedBandwidth),
        other => return Err(Invalid::ShareType(other.map(|o| limits::truncate(o, 64).to_owned()))),
    }
    match body.bandwidth.name.as_deref() {
        Some(name) if valid_name(name) => {}
        _ => return Err(Invalid::BandwidthName),
    }
    if body.bandwidth.size.is_none() {
        return Err(Invalid::MissingSize);
    }
    match body.bandwidth.charge_mode.as_deref() {
        None | Some("traffic" | "bandwidth") => Ok(()),
        Some(other) => Err(Invalid::ChargeMode(limits::truncate(other, 64).to_owned())),
    }
}

pub(super) async fn v1_create(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    let answer = async {
        let region = wire.region(&req, &project_id, false)?;
        let body: CreateBody = req.json()?;
        validate_create(&region, &body)?;
        let provider = wire.sim.provider(&region)?;
        let request = AllocateRequest {
            bandwidth_mbps: body.bandwidth.size,
            internet_charge_type: body.bandwidth.charge_mode.clone(),
            isp: body.publicip.eip_type.clone(),
            name: body.publicip.alias.clone(),
            ..AllocateRequest::default()
        };
        let allocated = provider.allocate(&request).await?;
        let eip = allocated.eip;
        let now = Timestamp::now();
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
            "create_time": now.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            "bandwidth_size": eip.bandwidth_mbps.unwrap_or(5),
            "enterprise_project_id": "0",
        });
        if let Some(alias) = meta.alias {
            record["alias"] = json!(alias);
        }
        Ok(json_answer(
            StatusCode::OK,
            json!({ "publicip": record }),
            &allocated.receipt.request_id,
        ))
    };
    wire.respond(Family::V1, answer.await)
}

#[derive(Deserialize)]
pub(super) struct UpdateBody {
    publicip: serde_json::Map<String, Value>,
}

pub(super) async fn v1_update(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let answer = async {
        let provider = wire.eip_route(&req, &project_id, &id, false)?;
        let region = provider.region();
        let body: UpdateBody = req.json()?;
        let port = body.publicip.get("port_id");
        if let Some(Value::String(port)) = port {
            check_id("port_id", port)?;
        }
        let alias = body.publicip.get("alias").and_then(Value::as_str).map(str::to_owned);
        if let Some(alias) = &alias
            && !alias.is_empty()
            && !valid_name(alias)
        {
            return Err(Refused::Invalid(Invalid::RenameAlias));
        }
        let request_id = match port {
            Some(Value::String(port)) if !port.is_empty() => {
                let target = BindTarget {
                    instance_type: InstanceType::Port,
                    instance_id: port.clone(),
                    private_ip_address: None,
                };
                Some(provider.associate(&id, &target, "").await?.request_id)
            }
            Some(Value::String(_) | Value::Null) | None if port.is_some() || alias.is_none() => {
                // Unbind. A binding that is not a port (load balancer, NAT gateway, VPN) is not
                // undone by the v1 API: the answer shows it unchanged.
                match wire.sim.eip(region, &id).and_then(|e| e.bound_to) {
                    Some(b) if matches!(b.instance_type, InstanceType::Nat | InstanceType::SlbInstance | InstanceType::Vpn) => None,
                    current => {
                        let request = UnbindRequest::new(id.to_owned(), current.unwrap_or_else(blank_port), "");
                        Some(provider.unassociate(&request).await?.request_id)
                    }
                }
            }
            Some(_) => return Err(Invalid::PortNotString.into()),
            None => None, // alias only
        };
        let request_id = request_id.unwrap_or_else(|| wire.request_id());
        let Some(eip) = wire.sim.eip(region, &id) else {
            return Ok(not_found(Family::V1, &id, &request_id));
        };
        if let Some(alias) = alias {
            wire.update_meta(region, &id, |meta| meta.alias = Some(alias).filter(|a| !a.is_empty()));
        }
        let record = v1_record(&eip, &wire.meta(region, &id), &project_id);
        Ok(json_answer(StatusCode::OK, json!({ "publicip": record }), &request_id))
    };
    wire.respond(Family::V1, answer.await)
}

pub(super) async fn v1_delete(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let answer = async {
        let provider = wire.eip_route(&req, &project_id, &id, false)?;
        Ok(no_content(&provider.release(&id, "").await?.request_id))
    };
    wire.respond(Family::V1, answer.await)
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
    let answer = async {
        let provider = wire.eip_route(&req, &project_id, &id, true)?;
        let body: AssociateBody = req.json()?;
        let instance_type = match body.publicip.associate_instance_type.as_str() {
            "PORT" => InstanceType::Port,
            "NATGW" => InstanceType::Nat,
            "ELB" | "ELBV1" => InstanceType::SlbInstance,
            "VPN" => InstanceType::Vpn,
            other => return Err(Refused::Invalid(Invalid::InstanceType(limits::truncate(other, 64).to_owned()))),
        };
        check_id("associate_instance_id", &body.publicip.associate_instance_id)?;
        let target = BindTarget {
            instance_type,
            instance_id: body.publicip.associate_instance_id,
            private_ip_address: None,
        };
        let receipt = provider.associate(&id, &target, "").await?;
        Ok(v3_instance_answer(&wire, provider.region(), &project_id, &id, &receipt.request_id))
    };
    wire.respond(Family::V3, answer.await)
}

pub(super) async fn v3_disassociate(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let answer = async {
        let provider = wire.eip_route(&req, &project_id, &id, true)?;
        let current = wire
            .sim
            .eip(provider.region(), &id)
            .and_then(|e| e.bound_to)
            .unwrap_or_else(blank_port);
        let receipt = provider.unassociate(&UnbindRequest::new(id.to_owned(), current, "")).await?;
        Ok(v3_instance_answer(&wire, provider.region(), &project_id, &id, &receipt.request_id))
    };
    wire.respond(Family::V3, answer.await)
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

/// The binding an unbind names when the EIP has none (or the API names none): a blank port.
pub(super) fn blank_port() -> BindTarget {
    BindTarget {
        instance_type: InstanceType::Port,
        instance_id: String::new(),
        private_ip_address: None,
    }
}
