//! List and show (v1, v3).

use super::*;

pub(super) struct ListQuery {
    ids: Vec<String>,
    marker: Option<String>,
    limit: usize,
}

pub(super) fn list_query(req: &Req) -> Result<ListQuery, String> {
    let limit = match req.query_values("limit").into_iter().next() {
        None => MAX_PAGE,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => return Err(format!("Invalid limit {:?}: must be 1-{MAX_PAGE}.", limits::truncate(&text, 64))),
        },
    };
    let ids = req.query_values("id");
    if ids.len() > MAX_PAGE {
        return Err(format!("At most {MAX_PAGE} id filters are allowed."));
    }
    if ids.iter().any(|id| id.len() > MAX_ID_LEN) {
        return Err(format!("Invalid id: at most {MAX_ID_LEN} characters."));
    }
    let marker = req.query_values("marker").into_iter().next().filter(|m| !m.is_empty());
    if marker.as_ref().is_some_and(|m| m.len() > MAX_ID_LEN) {
        return Err(format!("Invalid marker: at most {MAX_ID_LEN} characters."));
    }
    Ok(ListQuery { ids, marker, limit })
}

/// One page of the region's EIPs (sorted by ID), logged as one call; with the total count.
pub(super) async fn list_eips(wire: &Wire, region: &str, query: &ListQuery) -> Result<(Vec<CloudEip>, usize, bool, String), CloudError> {
    let ids = query.ids.clone();
    let operation = if ids.is_empty() {
        Operation::FindByOwner
    } else {
        Operation::Describe
    };
    let (mut eips, request_id) = wire
        .sim
        .call(region, operation, ids.clone(), "", move |region, ctx| {
            let eips = if ids.is_empty() {
                region.all(ctx.now)
            } else {
                region.describe_answer(ctx, &ids).value
            };
            Ok(Reply::new((eips, ctx.request_id.clone()), ctx))
        })
        .await?;
    eips.sort_by(|a, b| a.allocation_id.cmp(&b.allocation_id));
    let total = eips.len();
    let start = match &query.marker {
        Some(marker) => eips.partition_point(|e| e.allocation_id.as_str() <= marker.as_str()),
        None => 0,
    };
    let rest = eips.split_off(start);
    let more = rest.len() > query.limit;
    Ok((rest.into_iter().take(query.limit).collect(), total, more, request_id))
}

pub(super) async fn show_eip(wire: &Wire, region: &str, id: &str) -> Result<(Option<CloudEip>, String), CloudError> {
    let ids = vec![id.to_owned()];
    let (eips, request_id) = wire
        .sim
        .call(region, Operation::Describe, ids.clone(), "", move |region, ctx| {
            Ok(Reply::new((region.describe_answer(ctx, &ids).value, ctx.request_id.clone()), ctx))
        })
        .await?;
    Ok((eips.into_iter().next(), request_id))
}

pub(super) fn not_found(family: Family, id: &str, request_id: &str) -> Response {
    api_error(
        family,
        StatusCode::NOT_FOUND,
        "VPC.0504",
        &format!("Floating IP {id} could not be found."),
        request_id,
    )
}

pub(super) async fn v1_list(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    let query = match list_query(&req) {
        Ok(query) => query,
        Err(message) => return api_error(Family::V1, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    };
    wire.prune(&region);
    match list_eips(&wire, &region, &query).await {
        Ok((eips, _, _, request_id)) => {
            let records: Vec<Value> = eips
                .iter()
                .map(|eip| v1_record(eip, &wire.meta(&region, &eip.allocation_id), &project_id))
                .collect();
            json_answer(StatusCode::OK, json!({ "publicips": records }), &request_id)
        }
        Err(err) => cloud_error(Family::V1, &err, &wire.request_id()),
    }
}

pub(super) async fn v1_show(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    if let Err(response) = check_id(&wire, Family::V1, "publicip_id", &id) {
        return *response;
    }
    match show_eip(&wire, &region, &id).await {
        Ok((Some(eip), request_id)) => json_answer(
            StatusCode::OK,
            json!({ "publicip": v1_record(&eip, &wire.meta(&region, &id), &project_id) }),
            &request_id,
        ),
        Ok((None, request_id)) => not_found(Family::V1, &id, &request_id),
        Err(err) => cloud_error(Family::V1, &err, &wire.request_id()),
    }
}

pub(super) async fn v3_list(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, true) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    let query = match list_query(&req) {
        Ok(query) => query,
        Err(message) => return api_error(Family::V3, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    };
    wire.prune(&region);
    match list_eips(&wire, &region, &query).await {
        Ok((eips, total, more, request_id)) => {
            let records: Vec<Value> = eips
                .iter()
                .map(|eip| v3_record(eip, &wire.meta(&region, &eip.allocation_id), &project_id))
                .collect();
            let mut page_info = json!({ "current_count": records.len() });
            if let Some(first) = eips.first() {
                page_info["previous_marker"] = json!(first.allocation_id);
            }
            if more && let Some(last) = eips.last() {
                page_info["next_marker"] = json!(last.allocation_id);
            }
            json_answer(
                StatusCode::OK,
                json!({ "request_id": request_id, "publicips": records, "page_info": page_info, "total_count": total }),
                &request_id,
            )
        }
        Err(err) => cloud_error(Family::V3, &err, &wire.request_id()),
    }
}

pub(super) async fn v3_show(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, true) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    if let Err(response) = check_id(&wire, Family::V3, "publicip_id", &id) {
        return *response;
    }
    match show_eip(&wire, &region, &id).await {
        Ok((Some(eip), request_id)) => json_answer(
            StatusCode::OK,
            json!({ "request_id": request_id, "publicip": v3_record(&eip, &wire.meta(&region, &id), &project_id) }),
            &request_id,
        ),
        Ok((None, request_id)) => not_found(Family::V3, &id, &request_id),
        Err(err) => cloud_error(Family::V3, &err, &wire.request_id()),
    }
}
