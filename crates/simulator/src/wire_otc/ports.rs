//! The VPC port list (`GET /v1/{project_id}/ports`), filtered by `device_id`: how a server's
//! port is found to bind an EIP to it (the official SDK's `huaweicloudsdkvpc.v2` `list_ports`).
//! Every server of an OTC-flavour region has one port (`server_port_id`); other filters are
//! accepted and ignored, and a list without `device_id` names no port. Logged as `ResolveTarget`.

use super::*;
use crate::model::SimPort;

fn port_record(port: &SimPort, tenant: &str) -> Value {
    json!({
        "id": port.id,
        "name": format!("port-{}", port.device_id),
        "network_id": format_uuid(u128::from(fnv64(b"network")), false),
        "admin_state_up": true,
        "mac_address": "fa:16:3e:00:00:01",
        "fixed_ips": [{ "ip_address": port.ip, "subnet_id": format_uuid(u128::from(fnv64(b"subnet")), false) }],
        "device_id": port.device_id,
        "device_owner": "compute:eu-de-01",
        "tenant_id": tenant,
        "status": "ACTIVE",
        "security_groups": [],
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "binding:vnic_type": "normal",
    })
}

pub(super) async fn list_ports(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    let answer = async {
        let region = wire.region(&req, &project_id, false)?;
        let provider = wire.sim.provider(&region)?;
        let device = req.query_values("device_id").into_iter().next();
        if device.as_ref().is_some_and(|d| d.len() > MAX_ID_LEN) {
            return Err(Refused::Invalid(Invalid::TooLong("device_id")));
        }
        let (ports, request_id) = wire
            .sim
            .call(provider.region(), Operation::ResolveTarget, Vec::new(), "", move |region, ctx| {
                let reply = match &device {
                    Some(server) => region.server_ports(ctx, server),
                    None => Reply::new(Vec::new(), ctx),
                };
                Ok(Reply::new((reply.value, ctx.request_id.clone()), ctx))
            })
            .await?;
        let records: Vec<Value> = ports.iter().map(|p| port_record(p, &project_id)).collect();
        Ok(json_answer(StatusCode::OK, json!({ "ports": records }), &request_id))
    }
    .await;
    wire.respond(Family::V1, answer)
}
