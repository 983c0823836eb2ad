//! Tags (v2.0): create and delete in batches (`…/tags/action`), create one (`POST …/tags`), delete
//! one (`DELETE …/tags/{key}`), show (`GET …/tags`).

use super::*;

#[derive(Deserialize)]
pub(super) struct WireTag {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
pub(super) struct TagsAction {
    action: String,
    tags: Vec<WireTag>,
}

#[derive(Deserialize)]
pub(super) struct OneTag {
    tag: WireTag,
}

pub(super) fn valid_tag(tag: &WireTag) -> bool {
    (1..=36).contains(&tag.key.chars().count())
        && tag.key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        && tag.value.chars().count() <= 43
        && tag.value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Applies tag changes of an existing EIP through the model (one logged `Tag` or `Untag` call);
/// 204. Wire keys are read back into the operator's (see [`tag_from_wire`]), so the model holds
/// one form whichever front end wrote a tag.
pub(super) async fn change_tags(wire: &Wire, req: &Req, project_id: &str, id: &str, create: bool, tags: Vec<WireTag>) -> Response {
    let region = match wire.region(req, project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    if let Err(response) = check_id(wire, Family::V1, "publicip_id", id) {
        return *response;
    }
    if let Some(bad) = tags.iter().find(|t| !valid_tag(t)) {
        return api_error(
            Family::V1,
            StatusCode::BAD_REQUEST,
            "VPC.0501",
            &format!(
                "Invalid tag {:?}: keys 1-36 of A-Za-z0-9_-, values up to 43 of A-Za-z0-9_.-",
                limits::truncate(&bad.key, 64)
            ),
            &wire.request_id(),
        );
    }
    let ids = vec![id.to_owned()];
    let result = if create {
        let tags: BTreeMap<String, String> = tags.into_iter().map(|t| tag_from_wire(&t.key, &t.value)).collect();
        wire.sim
            .call(&region, Operation::Tag, ids.clone(), "", move |region, ctx| {
                region.tag(ctx, &ids, &tags)
            })
            .await
    } else {
        let keys: Vec<String> = tags.into_iter().map(|t| tag_from_wire(&t.key, "").0).collect();
        wire.sim
            .call(&region, Operation::Untag, ids.clone(), "", move |region, ctx| {
                region.untag(ctx, &ids, &keys)
            })
            .await
    };
    match result {
        Ok(receipt) => no_content(&receipt.request_id),
        Err(err) => cloud_error(Family::V1, &err, &wire.request_id()),
    }
}

pub(super) async fn tags_action(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let body: TagsAction = match req.json() {
        Ok(body) => body,
        Err(message) => return api_error(Family::V1, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    };
    let create = match body.action.as_str() {
        "create" => true,
        "delete" => false,
        other => {
            return api_error(
                Family::V1,
                StatusCode::BAD_REQUEST,
                "VPC.0501",
                &format!("Invalid action {:?}: create or delete.", limits::truncate(other, 64)),
                &wire.request_id(),
            );
        }
    };
    change_tags(&wire, &req, &project_id, &id, create, body.tags).await
}

pub(super) async fn create_tag(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    match req.json::<OneTag>() {
        Ok(body) => change_tags(&wire, &req, &project_id, &id, true, vec![body.tag]).await,
        Err(message) => api_error(Family::V1, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    }
}

pub(super) async fn show_tags(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    if let Err(response) = check_id(&wire, Family::V1, "publicip_id", &id) {
        return *response;
    }
    let request_id = wire.request_id();
    let Some(eip) = wire.sim.eip(&region, &id) else {
        return not_found(Family::V1, &id, &request_id);
    };
    let tags: Vec<Value> = wire_tags(&eip)
        .into_iter()
        .map(|(key, value)| json!({ "key": key, "value": value }))
        .collect();
    json_answer(StatusCode::OK, json!({ "tags": tags }), &request_id)
}

/// `DELETE /v2.0/{project_id}/publicips/{id}/tags/{key}`: removes one tag; 204.
pub(super) async fn delete_tag(
    State(wire): State<Wire>,
    Path((project_id, id, key)): Path<(String, String, String)>,
    req: Req,
) -> Response {
    let tag = WireTag { key, value: String::new() };
    change_tags(&wire, &req, &project_id, &id, false, vec![tag]).await
}
