//! IAM: password tokens and projects.

use super::*;

#[derive(Deserialize)]
pub(super) struct TokenBody {
    auth: TokenAuth,
}

#[derive(Deserialize)]
pub(super) struct TokenAuth {
    identity: Value,
    #[serde(default)]
    scope: Value,
}

pub(super) async fn issue_token(State(wire): State<Wire>, req: Req) -> Response {
    let request_id = wire.request_id();
    let body: TokenBody = match req.json() {
        Ok(body) => body,
        Err(err) => return iam_error(StatusCode::BAD_REQUEST, &err.to_string(), &request_id),
    };
    let identity = &body.auth.identity;
    let user = &identity["password"]["user"];
    let (name, password, domain) = (user["name"].as_str(), user["password"].as_str(), user["domain"]["name"].as_str());
    let methods_ok = identity["methods"].as_array().is_some_and(|m| m.iter().any(|v| v == "password"));
    let config = wire.sim.config();
    let known = config
        .auth
        .iam_users
        .iter()
        .find(|u| Some(u.name.as_str()) == name && Some(u.password.as_str()) == password && Some(u.domain.as_str()) == domain);
    let Some(iam_user) = known.filter(|_| methods_ok) else {
        return iam_error(StatusCode::UNAUTHORIZED, "The username or password is wrong.", &request_id);
    };
    let scope = &body.auth.scope["project"];
    let project = config.auth.projects.iter().find(|p| {
        scope["id"].as_str() == Some(p.id.as_str()) || (scope["id"].is_null() && scope["name"].as_str() == Some(p.name.as_str()))
    });
    let Some(project) = project else {
        return iam_error(
            StatusCode::BAD_REQUEST,
            "A project scope (id or name of a known project) is required.",
            &request_id,
        );
    };
    let token = format!("MIIsim{:032x}{:032x}", rand::random::<u128>(), rand::random::<u128>());
    let now = Timestamp::now();
    let expires_at = now.checked_add(TOKEN_LIFETIME).unwrap_or(Timestamp::MAX);
    {
        let mut state = wire.lock();
        let instant_now = Instant::now();
        state.tokens.retain(|_, t| t.expires > instant_now);
        if state.tokens.len() >= MAX_TOKENS {
            state.tokens.clear();
        }
        state.tokens.insert(
            token.clone(),
            IssuedToken {
                project_id: project.id.clone(),
                expires: instant_now + TOKEN_LIFETIME,
            },
        );
    }
    let domain_id = format!("{:032x}", fnv64(iam_user.domain.as_bytes()));
    let body = json!({
        "token": {
            "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "issued_at": now.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "methods": ["password"],
            "project": { "id": project.id, "name": project.name, "domain": { "id": domain_id, "name": iam_user.domain } },
            "user": {
                "id": format!("{:032x}", fnv64(iam_user.name.as_bytes())),
                "name": iam_user.name,
                "domain": { "id": domain_id, "name": iam_user.domain },
                "password_expires_at": ""
            },
            "roles": [{ "id": "0", "name": "te_admin" }],
            "catalog": []
        }
    });
    let mut response = json_answer(StatusCode::CREATED, body, &request_id);
    if let Ok(value) = HeaderValue::from_str(&token) {
        response.headers_mut().insert("x-subject-token", value);
    }
    response
}

pub(super) async fn revoke_token(State(wire): State<Wire>, req: Req) -> Response {
    let request_id = wire.request_id();
    if let Err(response) = wire.authenticate(&req, None) {
        return *response;
    }
    let Some(subject) = req.header("x-subject-token").map(str::to_owned) else {
        return iam_error(StatusCode::BAD_REQUEST, "X-Subject-Token header missing.", &request_id);
    };
    match wire.lock().tokens.remove(&subject) {
        Some(_) => no_content(&request_id),
        None => iam_error(StatusCode::NOT_FOUND, "Could not find token.", &request_id),
    }
}

pub(super) async fn list_projects(State(wire): State<Wire>, req: Req) -> Response {
    let request_id = wire.request_id();
    if let Err(response) = wire.authenticate(&req, None) {
        return *response;
    }
    let name = req.query_values("name").into_iter().next();
    let config = wire.sim.config();
    let projects: Vec<Value> = config
        .auth
        .projects
        .iter()
        .filter(|p| name.as_deref().is_none_or(|n| n == p.name))
        .map(|p| {
            json!({
                "id": p.id, "name": p.name, "description": "", "enabled": true, "is_domain": false,
                "domain_id": "sim-domain-id", "parent_id": "sim-domain-id",
                "links": { "self": format!("/v3/projects/{}", p.id) }
            })
        })
        .collect();
    json_answer(
        StatusCode::OK,
        json!({ "projects": projects, "links": { "self": "/v3/projects", "next": null, "previous": null } }),
        &request_id,
    )
}
