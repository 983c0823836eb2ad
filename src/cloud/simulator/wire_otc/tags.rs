//! Tags (v2.0).

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

/// Applies tag changes of an existing EIP; 204.
pub(super) fn change_tags(wire: &Wire, req: &Req, project_id: &str, id: &str, create: bool, tags: Vec<WireTag>) -> Response {
    let region = match wire.region(req, project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    if let Err(response) = check_id(wire, Family::V1, "publicip_id", id) {
        return *response;
    }
    let request_id = wire.request_id();
    if let Some(bad) = tags.iter().find(|t| !valid_tag(t)) {
        return api_error(
            Family::V1,
            StatusCode::BAD_REQUEST,
            "VPC.0501",
            &format!(
                "Invalid tag {:?}: keys 1-36 of A-Za-z0-9_-, values up to 43 of A-Za-z0-9_.-",
                limits::truncate(&bad.key, 64)
            ),
            &request_id,
        );
    }
    if wire.sim.eip(&region, id).is_none() {
        return not_found(Family::V1, id, &request_id);
    }
    let count = wire.meta(&region, id).tags.len() + tags.len();
    if create && count > 20 {
        return api_error(
            Family::V1,
            StatusCode::BAD_REQUEST,
            "VPC.0501",
            "At most 20 tags per EIP.",
            &request_id,
        );
    }
    wire.update_meta(&region, id, |meta| {
        for tag in tags {
            if create {
                meta.tags.insert(tag.key, tag.value);
            } else {
                meta.tags.remove(&tag.key);
            }
        }
    });
    no_content(&request_id)
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
    change_tags(&wire, &req, &project_id, &id, create, body.tags)
}

pub(super) async fn create_tag(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    match req.json::<OneTag>() {
        Ok(body) => change_tags(&wire, &req, &project_id, &id, true, vec![body.tag]),
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
    let tags: Vec<Value> = wire_tags(&eip, &wire.meta(&region, &id))
        .into_iter()
        .map(|(key, value)| json!({ "key": key, "value": value }))
        .collect();
    json_answer(StatusCode::OK, json!({ "tags": tags }), &request_id)
}
