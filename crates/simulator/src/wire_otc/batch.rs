//! Batch unbind and release (v2).

use super::*;

#[derive(Deserialize)]
pub(super) struct BatchBody {
    publicip_ids: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum BatchKind {
    Unbind,
    Release,
}

pub(super) async fn batch(wire: Wire, project_id: String, req: Req, kind: BatchKind) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    let body: BatchBody = match req.json() {
        Ok(body) => body,
        Err(message) => return api_error(Family::V3, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    };
    if body.publicip_ids.len() > MAX_BATCH {
        return api_error(
            Family::V3,
            StatusCode::BAD_REQUEST,
            "VPC.0501",
            &format!("publicip_ids must name 1-{MAX_BATCH} EIPs."),
            &wire.request_id(),
        );
    }
    if let Some(long) = body.publicip_ids.iter().find(|id| id.len() > MAX_ID_LEN)
        && let Err(response) = check_id(&wire, Family::V3, "publicip_ids", long)
    {
        return *response;
    }
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<String> = body.publicip_ids.into_iter().filter(|id| seen.insert(id.clone())).collect();
    if ids.is_empty() {
        return api_error(
            Family::V3,
            StatusCode::BAD_REQUEST,
            "VPC.0501",
            &format!("publicip_ids must name 1-{MAX_BATCH} EIPs."),
            &wire.request_id(),
        );
    }
    let operation = match kind {
        BatchKind::Unbind => Operation::Unassociate,
        BatchKind::Release => Operation::Release,
    };
    let call_ids = ids.clone();
    let result = wire
        .sim
        .call(&region, operation, ids.clone(), "", move |region, ctx| {
            // Validate everything first, so a refused batch changes nothing.
            let found = region.describe(ctx, &ids).value;
            for id in &ids {
                let Some(eip) = found.iter().find(|e| e.allocation_id == *id) else {
                    return Err(Refusal::NotFound { allocation_id: id.clone() });
                };
                match eip.phase {
                    EipPhase::Locked => return Err(Refusal::Locked),
                    EipPhase::Transitional(transition) => return Err(Refusal::Busy { transition }),
                    _ => {}
                }
                if kind == BatchKind::Release
                    && let Some(bound_to) = &eip.bound_to
                {
                    return Err(Refusal::ReleaseWhileBound {
                        bound_to: bound_to.clone(),
                    });
                }
            }
            for id in &ids {
                match kind {
                    BatchKind::Release => {
                        region.release(ctx, id, "")?;
                    }
                    BatchKind::Unbind => {
                        let current = found
                            .iter()
                            .find(|e| e.allocation_id == *id)
                            .and_then(|e| e.bound_to.clone())
                            .unwrap_or(BindTarget {
                                instance_type: InstanceType::Port,
                                instance_id: String::new(),
                                private_ip_address: None,
                            });
                        region.unassociate(ctx, id, &current, false, "")?;
                    }
                }
            }
            let jobs: Vec<String> = ids.iter().map(|id| derived_uuid(&ctx.request_id, id)).collect();
            Ok(Reply::new((jobs, ctx.request_id.clone()), ctx))
        })
        .await;
    match result {
        Ok((jobs, request_id)) => {
            tracing::trace!(ids = call_ids.len(), "otc batch call");
            json_answer(StatusCode::OK, json!({ "job_ids": jobs }), &request_id)
        }
        Err(err) => cloud_error(Family::V3, &err, &wire.request_id()),
    }
}

pub(super) async fn batch_unbind(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    batch(wire, project_id, req, BatchKind::Unbind).await
}

pub(super) async fn batch_release(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    batch(wire, project_id, req, BatchKind::Release).await
}
