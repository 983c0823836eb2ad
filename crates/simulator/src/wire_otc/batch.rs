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

pub(super) async fn batch(wire: &Wire, project_id: &str, req: &Req, kind: BatchKind) -> Answer {
    let region = wire.region(req, project_id, false)?;
    let body: BatchBody = req.json()?;
    if body.publicip_ids.len() > MAX_BATCH {
        return Err(Refused::Invalid(Invalid::BatchSize));
    }
    if let Some(long) = body.publicip_ids.iter().find(|id| id.len() > MAX_ID_LEN) {
        check_id("publicip_ids", long)?;
    }
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<String> = body.publicip_ids.into_iter().filter(|id| seen.insert(id.clone())).collect();
    if ids.is_empty() {
        return Err(Refused::Invalid(Invalid::BatchSize));
    }
    let operation = match kind {
        BatchKind::Unbind => Operation::Unassociate,
        BatchKind::Release => Operation::Release,
    };
    let call_ids = ids.len();
    let (jobs, request_id) = wire
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
                            .unwrap_or_else(blank_port);
                        region.unassociate(ctx, id, &current, false, "")?;
                    }
                }
            }
            let jobs: Vec<String> = ids.iter().map(|id| derived_uuid(&ctx.request_id, id)).collect();
            Ok(Reply::new((jobs, ctx.request_id.clone()), ctx))
        })
        .await?;
    tracing::trace!(ids = call_ids, "otc batch call");
    Ok(json_answer(StatusCode::OK, json!({ "job_ids": jobs }), &request_id))
}

pub(super) async fn batch_unbind(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    let answer = batch(&wire, &project_id, &req, BatchKind::Unbind).await;
    wire.respond(Family::V3, answer)
}

pub(super) async fn batch_release(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    let answer = batch(&wire, &project_id, &req, BatchKind::Release).await;
    wire.respond(Family::V3, answer)
}
