//! List and show (v1, v3).

use super::*;

pub(super) struct ListQuery {
    ids: Vec<String>,
    marker: Option<String>,
    limit: usize,
}

pub(super) fn list_query(req: &Req) -> Result<ListQuery, Invalid> {
    let limit = match req.query_values("limit").into_iter().next() {
        None => MAX_PAGE,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => return Err(Invalid::Limit(limits::truncate(&text, 64).to_owned())),
        },
    };
    let ids = req.query_values("id");
    if ids.len() > MAX_PAGE {
        return Err(Invalid::TooManyFilters);
    }
    if ids.iter().any(|id| id.len() > MAX_ID_LEN) {
        return Err(Invalid::TooLong("id"));
    }
    let marker = req.query_values("marker").into_iter().next().filter(|m| !m.is_empty());
    if marker.as_ref().is_some_and(|m| m.len() > MAX_ID_LEN) {
        return Err(Invalid::TooLong("marker"));
    }
    Ok(ListQuery { ids, marker, limit })
}

/// One page of the region's EIPs (sorted by ID), logged as one call; with the total count.
pub(super) async fn list_eips(wire: &Wire, region: &str, query: &ListQuery) -> Result<(Vec<CloudEip>, usize, bool, String), CloudError> {
    // An unfiltered page: what `find_by_owner` walks and what `list_page` asks for alike (the
    // wire cannot tell them apart).
    let operation = if query.ids.is_empty() {
        Operation::List
    } else {
        Operation::Describe
    };
    let (mut eips, request_id) = wire.sim.list(region, operation, query.ids.clone()).await?;
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

/// The EIP `id` (a logged Describe), or a 404 `VPC.0504` in `family`'s format.
pub(super) async fn show_eip(wire: &Wire, family: Family, region: &str, id: &str) -> Result<(CloudEip, String), Refused> {
    let (eips, request_id) = wire.sim.list(region, Operation::Describe, vec![id.to_owned()]).await?;
    match eips.into_iter().next() {
        Some(eip) => Ok((eip, request_id)),
        None => Err(not_found(family, id, &request_id).into()),
    }
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

/// A page of a list route (v1 or v3, as `family` says): the EIPs and their records.
pub(super) struct Page {
    eips: Vec<CloudEip>,
    records: Vec<Value>,
    total: usize,
    more: bool,
    request_id: String,
}

/// What the v1 and v3 lists share: authentication, the query, one logged call, the records.
async fn list(wire: &Wire, family: Family, req: &Req, project_id: &str) -> Result<Page, Refused> {
    let region = wire.region(req, project_id, family == Family::V3)?;
    let query = list_query(req)?;
    wire.prune(&region);
    let (eips, total, more, request_id) = list_eips(wire, &region, &query).await?;
    let render = render_of(family);
    let records = eips
        .iter()
        .map(|eip| render(eip, &wire.meta(&region, &eip.allocation_id), project_id))
        .collect();
    Ok(Page {
        eips,
        records,
        total,
        more,
        request_id,
    })
}

/// What the v1 and v3 shows share: the EIP's record and the request ID.
async fn show(wire: &Wire, family: Family, req: &Req, project_id: &str, id: &str) -> Result<(Value, String), Refused> {
    let provider = wire.eip_route(req, project_id, id, family == Family::V3)?;
    let region = provider.region();
    let (eip, request_id) = show_eip(wire, family, region, id).await?;
    Ok((render_of(family)(&eip, &wire.meta(region, id), project_id), request_id))
}

pub(super) async fn v1_list(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    let answer = list(&wire, Family::V1, &req, &project_id)
        .await
        .map(|page| json_answer(StatusCode::OK, json!({ "publicips": page.records }), &page.request_id));
    wire.respond(Family::V1, answer)
}

pub(super) async fn v1_show(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let answer = show(&wire, Family::V1, &req, &project_id, &id)
        .await
        .map(|(record, request_id)| json_answer(StatusCode::OK, json!({ "publicip": record }), &request_id));
    wire.respond(Family::V1, answer)
}

pub(super) async fn v3_list(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    let answer = list(&wire, Family::V3, &req, &project_id).await.map(|page| {
        let mut page_info = json!({ "current_count": page.records.len() });
        if let Some(first) = page.eips.first() {
            page_info["previous_marker"] = json!(first.allocation_id);
        }
        if page.more
            && let Some(last) = page.eips.last()
        {
            page_info["next_marker"] = json!(last.allocation_id);
        }
        let body = json!({
            "request_id": page.request_id, "publicips": page.records, "page_info": page_info, "total_count": page.total,
        });
        json_answer(StatusCode::OK, body, &page.request_id)
    });
    wire.respond(Family::V3, answer)
}

pub(super) async fn v3_show(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let answer = show(&wire, Family::V3, &req, &project_id, &id)
        .await
        .map(|(record, request_id)| json_answer(StatusCode::OK, json!({ "request_id": request_id, "publicip": record }), &request_id));
    wire.respond(Family::V3, answer)
}
