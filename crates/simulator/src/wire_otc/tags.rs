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
pub(super) async fn change_tags(wire: &Wire, req: &Req, project_id: &str, id: &str, create: bool, tags: Vec<WireTag>) -> Answer {
    let provider = wire.eip_route(req, project_id, id, false)?;
    if let Some(bad) = tags.iter().find(|t| !valid_tag(t)) {
        return Err(Refused::Invalid(Invalid::Tag(limits::truncate(&bad.key, 64).to_owned())));
    }
    let ids = vec![id.to_owned()];
    let receipt = if create {
        let tags: BTreeMap<String, String> = tags.into_iter().map(|t| tag_from_wire(&t.key, &t.value)).collect();
        wire.sim
            .call(provider.region(), Operation::Tag, ids.clone(), "", move |region, ctx| {
                region.tag(ctx, &ids, &tags)
            })
            .await?
    } else {
        let keys: Vec<String> = tags.into_iter().map(|t| tag_from_wire(&t.key, "").0).collect();
        wire.sim
            .call(provider.region(), Operation::Untag, ids.clone(), "", move |region, ctx| {
                region.untag(ctx, &ids, &keys)
            })
            .await?
    };
    Ok(no_content(&receipt.request_id))
}

pub(super) async fn tags_action(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let answer = async {
        let body: TagsAction = req.json()?;
        let create = match body.action.as_str() {
            "create" => true,
            "delete" => false,
            other => return Err(Refused::Invalid(Invalid::TagAction(limits::truncate(other, 64).to_owned()))),
        };
        change_tags(&wire, &req, &project_id, &id, create, body.tags).await
    };
    wire.respond(Family::V1, answer.await)
}

pub(super) async fn create_tag(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let answer = async {
        let body: OneTag = req.json()?;
        change_tags(&wire, &req, &project_id, &id, true, vec![body.tag]).await
    };
    wire.respond(Family::V1, answer.await)
}

pub(super) async fn show_tags(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let answer = async {
        let provider = wire.eip_route(&req, &project_id, &id, false)?;
        let request_id = wire.request_id();
        let Some(eip) = wire.sim.eip(provider.region(), &id) else {
            return Ok(not_found(Family::V1, &id, &request_id));
        };
        let tags: Vec<Value> = wire_tags(&eip)
            .into_iter()
            .map(|(key, value)| json!({ "key": key, "value": value }))
            .collect();
        Ok(json_answer(StatusCode::OK, json!({ "tags": tags }), &request_id))
    };
    wire.respond(Family::V1, answer.await)
}

/// `DELETE /v2.0/{project_id}/publicips/{id}/tags/{key}`: removes one tag; 204.
pub(super) async fn delete_tag(
    State(wire): State<Wire>,
    Path((project_id, id, key)): Path<(String, String, String)>,
    req: Req,
) -> Response {
    let tag = WireTag { key, value: String::new() };
    let answer = change_tags(&wire, &req, &project_id, &id, false, vec![tag]).await;
    wire.respond(Family::V1, answer)
}
