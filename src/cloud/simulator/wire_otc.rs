//! The simulator's Open Telekom Cloud / Huawei Cloud wire protocol: the VPC EIP API (v1, v2
//! batch, v2.0 tags, v3), and the IAM token and project endpoints, on the simulator's listener.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /v3/auth/tokens` | password token for an IAM user (`SimAuth.iam_users`), scoped to a project by ID or name; 201, `X-Subject-Token` |
//! | `DELETE /v3/auth/tokens` | revokes the token in `X-Subject-Token` (Keystone; used by tests) |
//! | `GET /v3/projects?name=` | projects (`SimAuth.projects`) |
//! | `GET, POST /v1/{project_id}/publicips` | list (`marker`, `limit`, `id`…), create |
//! | `GET, PUT, DELETE /v1/{project_id}/publicips/{id}` | show, bind / unbind (`port_id`) or rename (`alias`), delete (204) |
//! | `PATCH, DELETE /v2/{project_id}/batchpublicips` | batch unbind, batch release (`{"publicip_ids"}` → `{"job_ids"}`) |
//! | `GET, POST /v2.0/{project_id}/publicips/{id}/tags`, `POST …/tags/action` | tags |
//! | `GET /v3/{project_id}/eip/publicips[/{id}]`, `POST …/{id}/associate-instance`, `…/disassociate-instance` | v3 (not in `eu-nl`) |
//!
//! Every EIP route needs a valid `X-Auth-Token` scoped to the URL's project, or an AK/SK
//! `SDK-HMAC-SHA256` signature (`SimAuth.access_keys`; `X-Sdk-Date` within 15 minutes; `host`
//! signed) — else 401 `APIGW.0301`. The project ID selects the region (`SimAuth.projects`).
//! Calls execute through the region's model like [`super::SimulatorProvider`] calls, so the
//! call log, counters, rate limits (429 `APIGW.0308` with `Retry-After`), latencies and faults
//! apply. A list naming IDs is logged as `Describe`, one naming none as `FindByOwner`; a batch
//! call is one logged call naming all its IDs, validated before anything changes (unknown →
//! 404 `VPC.0504`, busy → 409 `VPC.0512`, bound on release → 409 `VPC.0517`). Tag calls are not
//! logged. What the model does not keep (alias, bandwidth name, EIP type, tags set over the
//! wire) lives in this router's own table.
//!
//! Error bodies: v1 `{"code","message"}`; v2, v3 and the API gateway
//! `{"error_code","error_msg","request_id"}`; IAM `{"error":{"code","message","title"}}`. The
//! request ID is also in `X-Request-Id`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use chrono::{NaiveDateTime, Utc};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::codes::Refusal;
use super::model::{Reply, fnv64, format_uuid};
use super::{Flavor, Simulator};
use crate::cloud::otc::records::tag_to_wire;
use crate::cloud::otc::signing::{self, SignInput};
use crate::cloud::{AllocateRequest, BindTarget, ChargeType, CloudEip, CloudError, CloudProvider, EipPhase, InstanceType, Operation};

/// Regions whose EIP API lacks the v3 routes.
const NO_V3_REGIONS: &[&str] = &["eu-nl"];
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
const MAX_TOKENS: usize = 10_000;
const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;
const MAX_PAGE: usize = 2000;
const MAX_BATCH: usize = 1000;
const BODY_LIMIT: usize = 1 << 20;

pub fn routes(sim: Simulator) -> Router {
    let wire = Wire {
        sim,
        state: Arc::new(Mutex::new(WireState::default())),
    };
    Router::new()
        .route("/v3/auth/tokens", post(issue_token).delete(revoke_token))
        .route("/v3/projects", get(list_projects))
        .route("/v1/{project_id}/publicips", get(v1_list).post(v1_create))
        .route("/v1/{project_id}/publicips/{id}", get(v1_show).put(v1_update).delete(v1_delete))
        .route("/v2/{project_id}/batchpublicips", patch(batch_unbind).delete(batch_release))
        .route("/v2.0/{project_id}/publicips/{id}/tags", get(show_tags).post(create_tag))
        .route("/v2.0/{project_id}/publicips/{id}/tags/action", post(tags_action))
        .route("/v3/{project_id}/eip/publicips", get(v3_list))
        .route("/v3/{project_id}/eip/publicips/{id}", get(v3_show))
        .route("/v3/{project_id}/eip/publicips/{id}/associate-instance", post(v3_associate))
        .route("/v3/{project_id}/eip/publicips/{id}/disassociate-instance", post(v3_disassociate))
        .with_state(wire)
}

#[derive(Clone)]
struct Wire {
    sim: Simulator,
    state: Arc<Mutex<WireState>>,
}

#[derive(Default)]
struct WireState {
    tokens: HashMap<String, IssuedToken>,
    /// What the model does not keep, by (region, EIP ID).
    meta: HashMap<(String, String), EipMeta>,
    next_request: u64,
}

struct IssuedToken {
    project_id: String,
    expires: Instant,
}

#[derive(Clone, Default)]
struct EipMeta {
    alias: Option<String>,
    bandwidth_name: Option<String>,
    eip_type: Option<String>,
    charge_mode: Option<String>,
    created: Option<NaiveDateTime>,
    tags: BTreeMap<String, String>,
}

impl Wire {
    fn lock(&self) -> std::sync::MutexGuard<'_, WireState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A fresh request ID for answers that no model call produced.
    fn request_id(&self) -> String {
        let mut state = self.lock();
        state.next_request += 1;
        let n = state.next_request;
        format_uuid(
            (u128::from(fnv64(&n.to_le_bytes())) << 64) | u128::from(n) | (0xa11c_u128 << 48),
            false,
        )
    }

    fn meta(&self, region: &str, id: &str) -> EipMeta {
        self.lock()
            .meta
            .get(&(region.to_owned(), id.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    fn update_meta(&self, region: &str, id: &str, change: impl FnOnce(&mut EipMeta)) {
        change(self.lock().meta.entry((region.to_owned(), id.to_owned())).or_default());
    }

    /// Drops metadata of EIPs the model no longer has.
    fn prune(&self, region: &str) {
        let live: std::collections::HashSet<String> = self.sim.eips(region).into_iter().map(|e| e.allocation_id).collect();
        self.lock().meta.retain(|(r, id), _| r != region || live.contains(id));
    }
}

/// The whole request, for signature checks.
struct Req {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Req {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, BODY_LIMIT)
            .await
            .map_err(|_| gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "APIGW.0201", "Request body too large.", ""))?;
        Ok(Req {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        })
    }
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn query(&self) -> Vec<(String, String)> {
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        self.uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| match part.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(part), String::new()),
            })
            .collect()
    }

    fn query_values(&self, key: &str) -> Vec<String> {
        self.query().into_iter().filter(|(k, _)| k == key).map(|(_, v)| v).collect()
    }

    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        let bytes: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(bytes).map_err(|e| format!("invalid request body: {e}"))
    }
}

// ----- answers -----

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

fn json_answer(status: StatusCode, body: Value, request_id: &str) -> Response {
    with_request_id((status, axum::Json(body)).into_response(), request_id)
}

fn gateway_error(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    json_answer(
        status,
        json!({ "error_code": code, "error_msg": message, "request_id": request_id }),
        request_id,
    )
}

fn iam_error(status: StatusCode, message: &str, request_id: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    json_answer(
        status,
        json!({ "error": { "code": status.as_u16(), "message": message, "title": title } }),
        request_id,
    )
}

/// Which error body an API family uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    V1,
    V3,
}

fn api_error(family: Family, status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    match family {
        Family::V1 => json_answer(status, json!({ "code": code, "message": message }), request_id),
        Family::V3 => gateway_error(status, code, message, request_id),
    }
}

/// HTTP status of a simulator error code.
fn status_of(code: &str) -> StatusCode {
    match code {
        "APIGW.0308" => StatusCode::TOO_MANY_REQUESTS,
        "VPC.0504" | "VPC.0514" => StatusCode::NOT_FOUND,
        "VPC.0512" | "VPC.0510" | "VPC.0511" | "VPC.0513" | "VPC.0517" | "VPC.0521" | "VPC.0522" | "VPC.0532" => StatusCode::CONFLICT,
        "InvalidOperation.DeletionProtection" => StatusCode::CONFLICT,
        "VPC.0501" | "IdempotentParameterMismatch" => StatusCode::BAD_REQUEST,
        "VPC.0502" => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn cloud_error(family: Family, err: &CloudError, fallback_request_id: &str) -> Response {
    let request_id = err.request_id.as_deref().unwrap_or(fallback_request_id);
    let status = status_of(&err.code);
    let family = if err.throttled { Family::V3 } else { family };
    let mut response = api_error(family, status, &err.code, &err.message, request_id);
    if let Some(retry_after) = err.retry_after {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
            response.headers_mut().insert("retry-after", value);
        }
    }
    response
}

fn no_content(request_id: &str) -> Response {
    with_request_id(StatusCode::NO_CONTENT.into_response(), request_id)
}

// ----- authentication -----

impl Wire {
    /// Checks the token or AK/SK signature; with `project_id`, returns its region.
    fn authenticate(&self, req: &Req, project_id: Option<&str>) -> Result<Option<String>, Box<Response>> {
        let request_id = self.request_id();
        let refuse = |message: &str| {
            Err(Box::new(gateway_error(
                StatusCode::UNAUTHORIZED,
                "APIGW.0301",
                message,
                &request_id,
            )))
        };
        if let Some(token) = req.header("x-auth-token") {
            let now = Instant::now();
            let state = self.lock();
            let Some(issued) = state.tokens.get(token).filter(|t| t.expires > now) else {
                return refuse("Incorrect IAM authentication information: the token is invalid or expired");
            };
            if let Some(project) = project_id
                && issued.project_id != project
            {
                return refuse("Incorrect IAM authentication information: the token is scoped to another project");
            }
        } else if let Some(authorization) = req.header("authorization") {
            let Some(auth) = signing::parse_authorization(authorization) else {
                return refuse("Incorrect IAM authentication information: unsupported Authorization header");
            };
            let config = self.sim.config();
            let Some(key) = config.auth.access_keys.iter().find(|k| k.id == auth.access_key) else {
                return refuse("Incorrect IAM authentication information: unknown access key");
            };
            if !auth.signed_headers.iter().any(|h| h == "host") {
                return refuse("Incorrect IAM authentication information: the host header must be signed");
            }
            let Some(date) = req
                .header(signing::HEADER_DATE)
                .and_then(|d| NaiveDateTime::parse_from_str(d, signing::DATE_FORMAT).ok())
            else {
                return refuse("Incorrect IAM authentication information: missing or malformed X-Sdk-Date");
            };
            if (Utc::now().naive_utc() - date).num_seconds().abs() > MAX_CLOCK_SKEW_SECS {
                return refuse("Incorrect IAM authentication information: X-Sdk-Date is more than 15 minutes off");
            }
            let headers: Vec<(String, String)> = req
                .headers
                .iter()
                .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str().to_owned(), v.to_owned())))
                .collect();
            let query = req.query();
            let input = SignInput {
                method: req.method.as_str(),
                path: req.uri.path(),
                query: &query,
                headers: &headers,
                body: &req.body,
            };
            if !signing::same_signature(&signing::expected_signature(&key.secret, &auth, &input), &auth.signature) {
                return refuse("Incorrect IAM authentication information: verify aksk signature fail");
            }
            if let (Some(project), Some(header)) = (project_id, req.header("x-project-id"))
                && header != project
            {
                return refuse("Incorrect IAM authentication information: X-Project-Id does not match the URL");
            }
        } else {
            return refuse("Incorrect IAM authentication information: Authorization or X-Auth-Token header missing");
        }
        match project_id {
            None => Ok(None),
            Some(project) => {
                let config = self.sim.config();
                let region = config
                    .auth
                    .projects
                    .iter()
                    .find(|p| p.id == project)
                    .map(|p| p.region.clone())
                    .filter(|region| self.sim.regions().iter().any(|r| r.name == *region && r.flavor == Flavor::Otc));
                match region {
                    Some(region) => Ok(Some(region)),
                    None => Err(Box::new(gateway_error(
                        StatusCode::NOT_FOUND,
                        "APIGW.0101",
                        "The API does not exist or has not been published in the environment (unknown project)",
                        &request_id,
                    ))),
                }
            }
        }
    }

    /// Authenticates an EIP route and resolves its region (`v3`: the region must offer v3).
    fn region(&self, req: &Req, project_id: &str, v3: bool) -> Result<String, Box<Response>> {
        let region = self.authenticate(req, Some(project_id))?.unwrap_or_default();
        if v3 && NO_V3_REGIONS.contains(&region.as_str()) {
            return Err(Box::new(gateway_error(
                StatusCode::NOT_FOUND,
                "APIGW.0101",
                "The API does not exist or has not been published in the environment",
                &self.request_id(),
            )));
        }
        Ok(region)
    }
}

// ----- IAM -----

#[derive(Deserialize)]
struct TokenBody {
    auth: TokenAuth,
}

#[derive(Deserialize)]
struct TokenAuth {
    identity: Value,
    #[serde(default)]
    scope: Value,
}

async fn issue_token(State(wire): State<Wire>, req: Req) -> Response {
    let request_id = wire.request_id();
    let body: TokenBody = match req.json() {
        Ok(body) => body,
        Err(message) => return iam_error(StatusCode::BAD_REQUEST, &message, &request_id),
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
    let now = Utc::now();
    let expires_at = now + chrono::Duration::hours(24);
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
            "expires_at": expires_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "issued_at": now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
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

async fn revoke_token(State(wire): State<Wire>, req: Req) -> Response {
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

async fn list_projects(State(wire): State<Wire>, req: Req) -> Response {
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

// ----- rendering -----

/// A port-style binding: `(port_id, private_ip)`.
fn port_of(eip: &CloudEip) -> Option<(String, Option<String>)> {
    eip.bound_to.as_ref().and_then(|b| match b.instance_type {
        InstanceType::Nat | InstanceType::SlbInstance | InstanceType::Vpn => None,
        _ => Some((b.instance_id.clone(), b.private_ip_address.clone())),
    })
}

fn wire_tags(eip: &CloudEip, meta: &EipMeta) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = eip.tags.iter().filter_map(|(k, v)| tag_to_wire(k, v)).collect();
    tags.extend(meta.tags.clone());
    tags
}

fn derived_uuid(salt: &str, id: &str) -> String {
    let bits = (u128::from(fnv64(format!("{salt}:{id}").as_bytes())) << 64) | u128::from(fnv64(format!("{id}:{salt}").as_bytes()));
    format_uuid(bits, false)
}

fn created(meta: &EipMeta) -> NaiveDateTime {
    meta.created.unwrap_or_default()
}

fn bandwidth_name(eip: &CloudEip, meta: &EipMeta) -> String {
    meta.bandwidth_name
        .clone()
        .unwrap_or_else(|| format!("bandwidth-{}", eip.allocation_id.chars().take(8).collect::<String>()))
}

fn eip_type(meta: &EipMeta) -> String {
    meta.eip_type.clone().unwrap_or_else(|| "5_bgp".to_owned())
}

/// `GET /v1/.../publicips/{id}` record.
fn v1_record(eip: &CloudEip, meta: &EipMeta, project_id: &str) -> Value {
    let mut record = json!({
        "id": eip.allocation_id,
        "status": eip.raw_state,
        "type": eip_type(meta),
        "public_ip_address": eip.ip_address,
        "tenant_id": project_id,
        "create_time": created(meta).format("%Y-%m-%d %H:%M:%S").to_string(),
        "bandwidth_id": derived_uuid("bandwidth", &eip.allocation_id),
        "bandwidth_name": bandwidth_name(eip, meta),
        "bandwidth_size": eip.bandwidth_mbps.unwrap_or(5),
        "bandwidth_share_type": "PER",
        "profile": {
            "user_id": null, "product_id": null, "region_id": null,
            "order_id": (eip.charge_type == ChargeType::PrePaid).then(|| derived_uuid("order", &eip.allocation_id)),
        },
        "ip_version": 4,
        "enterprise_project_id": "0",
        "public_border_group": "center",
        "allow_share_bandwidth_types": [],
        "tags": wire_tags(eip, meta).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
    });
    if let Some(alias) = &meta.alias {
        record["alias"] = json!(alias);
    }
    if let Some((port, private_ip)) = port_of(eip) {
        record["port_id"] = json!(port);
        record["private_ip_address"] = json!(private_ip);
    }
    record
}

/// `GET /v3/.../eip/publicips/{id}` record.
fn v3_record(eip: &CloudEip, meta: &EipMeta, project_id: &str) -> Value {
    let created = created(meta).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let vnic = port_of(eip).map(|(port, private_ip)| {
        json!({
            "private_ip_address": private_ip, "device_id": "", "device_owner": "", "vpc_id": derived_uuid("vpc", project_id),
            "port_id": port, "port_profile": null, "mac": "fa:16:3e:00:00:01", "vtep": null, "vni": null,
            "instance_id": "", "instance_type": ""
        })
    });
    let (associate_type, associate_id) = match &eip.bound_to {
        None => (None, None),
        Some(b) => (
            Some(match b.instance_type {
                InstanceType::Nat => "NATGW",
                InstanceType::SlbInstance => "ELB",
                InstanceType::Vpn => "VPN",
                _ => "PORT",
            }),
            Some(b.instance_id.clone()),
        ),
    };
    let record = json!({
        "id": eip.allocation_id,
        "project_id": project_id,
        "ip_version": 4,
        "public_ip_address": eip.ip_address,
        "public_ipv6_address": null,
        "network_type": eip_type(meta),
        "status": eip.raw_state,
        "description": "",
        "public_border_group": "center",
        "created_at": created,
        "updated_at": created,
        "type": "EIP",
        "vnic": vnic,
        "bandwidth": {
            "id": derived_uuid("bandwidth", &eip.allocation_id),
            "size": eip.bandwidth_mbps.unwrap_or(5),
            "share_type": "PER",
            "charge_mode": meta.charge_mode.clone().unwrap_or_else(|| "bandwidth".to_owned()),
            "name": bandwidth_name(eip, meta),
            "billing_info": ""
        },
        "enterprise_project_id": "0",
        "billing_info": if eip.charge_type == ChargeType::PrePaid { derived_uuid("order", &eip.allocation_id) } else { String::new() },
        "lock_status": if eip.phase == EipPhase::Locked { eip.locks.first().cloned() } else { None },
        "associate_instance_type": associate_type,
        "associate_instance_id": associate_id,
        "publicip_pool_id": null,
        "publicip_pool_name": eip_type(meta),
        "alias": meta.alias,
        "tags": wire_tags(eip, meta).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
    });
    record
}

// ----- reads -----

struct ListQuery {
    ids: Vec<String>,
    marker: Option<String>,
    limit: usize,
}

fn list_query(req: &Req) -> Result<ListQuery, String> {
    let limit = match req.query_values("limit").into_iter().next() {
        None => MAX_PAGE,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => return Err(format!("Invalid limit {text:?}: must be 1-{MAX_PAGE}.")),
        },
    };
    Ok(ListQuery {
        ids: req.query_values("id"),
        marker: req.query_values("marker").into_iter().next().filter(|m| !m.is_empty()),
        limit,
    })
}

/// One page of the region's EIPs (sorted by ID), logged as one call; with the total count.
async fn list_eips(wire: &Wire, region: &str, query: &ListQuery) -> Result<(Vec<CloudEip>, usize, bool, String), CloudError> {
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
                region.describe(ctx, &ids).value
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

async fn show_eip(wire: &Wire, region: &str, id: &str) -> Result<(Option<CloudEip>, String), CloudError> {
    let ids = vec![id.to_owned()];
    let (eips, request_id) = wire
        .sim
        .call(region, Operation::Describe, ids.clone(), "", move |region, ctx| {
            Ok(Reply::new((region.describe(ctx, &ids).value, ctx.request_id.clone()), ctx))
        })
        .await?;
    Ok((eips.into_iter().next(), request_id))
}

fn not_found(family: Family, id: &str, request_id: &str) -> Response {
    api_error(
        family,
        StatusCode::NOT_FOUND,
        "VPC.0504",
        &format!("Floating IP {id} could not be found."),
        request_id,
    )
}

async fn v1_list(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
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

async fn v1_show(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
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

async fn v3_list(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
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

async fn v3_show(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, true) {
        Ok(region) => region,
        Err(response) => return *response,
    };
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

// ----- writes -----

#[derive(Deserialize)]
struct CreateBody {
    publicip: CreatePublicip,
    bandwidth: CreateBandwidth,
}

#[derive(Deserialize)]
struct CreatePublicip {
    #[serde(rename = "type")]
    eip_type: Option<String>,
    ip_version: Option<u8>,
    alias: Option<String>,
}

#[derive(Deserialize)]
struct CreateBandwidth {
    name: Option<String>,
    size: Option<u32>,
    share_type: Option<String>,
    charge_mode: Option<String>,
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn validate_create(region: &str, body: &CreateBody) -> Result<(), String> {
    let eip_type = body.publicip.eip_type.as_deref().unwrap_or("");
    match eip_type {
        "5_bgp" | "5_mailbgp" | "5_dualStack" => {}
        "5_gray" if region == "eu-de" => return Err("No new EIPs of type 5_gray can be assigned in eu-de; use 5_bgp.".into()),
        "5_gray" if region == "eu-nl" => return Err("Type 5_gray is not available in eu-nl.".into()),
        "5_gray" => {}
        other => return Err(format!("Invalid publicip type {other:?}.")),
    }
    if let Some(version) = body.publicip.ip_version
        && version != 4
        && version != 6
    {
        return Err(format!("Invalid ip_version {version}."));
    }
    if let Some(alias) = &body.publicip.alias
        && !alias.is_empty()
        && !valid_name(alias)
    {
        return Err("Invalid alias: 1-64 letters, digits, '_', '-' or '.'.".into());
    }
    match body.bandwidth.share_type.as_deref() {
        Some("PER") => {}
        Some("WHOLE") => return Err("Shared (WHOLE) bandwidths are not simulated; use PER.".into()),
        other => return Err(format!("Invalid bandwidth share_type {other:?}.")),
    }
    match body.bandwidth.name.as_deref() {
        Some(name) if valid_name(name) => {}
        _ => return Err("Invalid bandwidth name: 1-64 letters, digits, '_', '-' or '.'.".into()),
    }
    if body.bandwidth.size.is_none() {
        return Err("bandwidth.size is required.".into());
    }
    match body.bandwidth.charge_mode.as_deref() {
        None | Some("traffic" | "bandwidth") => Ok(()),
        Some(other) => Err(format!("Invalid bandwidth charge_mode {other:?}.")),
    }
}

async fn v1_create(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    let body: CreateBody = match req
        .json()
        .and_then(|body: CreateBody| validate_create(&region, &body).map(|()| body))
    {
        Ok(body) => body,
        Err(message) => return api_error(Family::V1, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    };
    let provider = match wire.sim.provider(&region) {
        Ok(provider) => provider,
        Err(message) => return api_error(Family::V1, StatusCode::NOT_FOUND, "VPC.0501", &message, &wire.request_id()),
    };
    let request = AllocateRequest {
        bandwidth_mbps: body.bandwidth.size,
        internet_charge_type: body.bandwidth.charge_mode.clone(),
        isp: body.publicip.eip_type.clone(),
        name: body.publicip.alias.clone(),
        ..AllocateRequest::default()
    };
    match provider.allocate(&request).await {
        Ok(allocated) => {
            let eip = allocated.eip;
            let now = Utc::now().naive_utc();
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
                "create_time": now.format("%Y-%m-%d %H:%M:%S").to_string(),
                "bandwidth_size": eip.bandwidth_mbps.unwrap_or(5),
                "enterprise_project_id": "0",
            });
            if let Some(alias) = meta.alias {
                record["alias"] = json!(alias);
            }
            json_answer(StatusCode::OK, json!({ "publicip": record }), &allocated.receipt.request_id)
        }
        Err(err) => cloud_error(Family::V1, &err, &wire.request_id()),
    }
}

#[derive(Deserialize)]
struct UpdateBody {
    publicip: serde_json::Map<String, Value>,
}

async fn v1_update(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    let body: UpdateBody = match req.json() {
        Ok(body) => body,
        Err(message) => return api_error(Family::V1, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    };
    let provider = match wire.sim.provider(&region) {
        Ok(provider) => provider,
        Err(message) => return api_error(Family::V1, StatusCode::NOT_FOUND, "VPC.0501", &message, &wire.request_id()),
    };
    let port = body.publicip.get("port_id");
    let alias = body.publicip.get("alias").and_then(Value::as_str).map(str::to_owned);
    if let Some(alias) = &alias
        && !alias.is_empty()
        && !valid_name(alias)
    {
        return api_error(
            Family::V1,
            StatusCode::BAD_REQUEST,
            "VPC.0501",
            "Invalid alias.",
            &wire.request_id(),
        );
    }
    let result = match port {
        Some(Value::String(port)) if !port.is_empty() => {
            let target = BindTarget {
                instance_type: InstanceType::Port,
                instance_id: port.clone(),
                private_ip_address: None,
            };
            provider.associate(&id, &target, "").await.map(|r| Some(r.request_id))
        }
        Some(Value::String(_) | Value::Null) | None if port.is_some() || alias.is_none() => {
            // Unbind. A binding that is not a port (load balancer, NAT gateway, VPN) is not
            // undone by the v1 API: the answer shows it unchanged.
            let current = wire.sim.eip(&region, &id).and_then(|e| e.bound_to);
            match &current {
                Some(b) if matches!(b.instance_type, InstanceType::Nat | InstanceType::SlbInstance | InstanceType::Vpn) => Ok(None),
                _ => {
                    let current = current.unwrap_or(BindTarget {
                        instance_type: InstanceType::Port,
                        instance_id: String::new(),
                        private_ip_address: None,
                    });
                    provider.unassociate(&id, &current, false, "").await.map(|r| Some(r.request_id))
                }
            }
        }
        Some(_) => {
            return api_error(
                Family::V1,
                StatusCode::BAD_REQUEST,
                "VPC.0501",
                "port_id must be a string.",
                &wire.request_id(),
            );
        }
        None => Ok(None), // alias only
    };
    match result {
        Ok(request_id) => {
            let request_id = request_id.unwrap_or_else(|| wire.request_id());
            let Some(eip) = wire.sim.eip(&region, &id) else {
                return not_found(Family::V1, &id, &request_id);
            };
            if let Some(alias) = alias {
                wire.update_meta(&region, &id, |meta| meta.alias = Some(alias).filter(|a| !a.is_empty()));
            }
            let record = v1_record(&eip, &wire.meta(&region, &id), &project_id);
            json_answer(StatusCode::OK, json!({ "publicip": record }), &request_id)
        }
        Err(err) => cloud_error(Family::V1, &err, &wire.request_id()),
    }
}

async fn v1_delete(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    let provider = match wire.sim.provider(&region) {
        Ok(provider) => provider,
        Err(message) => return api_error(Family::V1, StatusCode::NOT_FOUND, "VPC.0501", &message, &wire.request_id()),
    };
    match provider.release(&id, "").await {
        Ok(receipt) => no_content(&receipt.request_id),
        Err(err) => cloud_error(Family::V1, &err, &wire.request_id()),
    }
}

#[derive(Deserialize)]
struct AssociateBody {
    publicip: AssociateOption,
}

#[derive(Deserialize)]
struct AssociateOption {
    associate_instance_type: String,
    associate_instance_id: String,
}

async fn v3_associate(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, true) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    let body: AssociateBody = match req.json() {
        Ok(body) => body,
        Err(message) => return api_error(Family::V3, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    };
    let instance_type = match body.publicip.associate_instance_type.as_str() {
        "PORT" => InstanceType::Port,
        "NATGW" => InstanceType::Nat,
        "ELB" | "ELBV1" => InstanceType::SlbInstance,
        "VPN" => InstanceType::Vpn,
        other => {
            return api_error(
                Family::V3,
                StatusCode::BAD_REQUEST,
                "VPC.0501",
                &format!("Invalid associate_instance_type {other:?}."),
                &wire.request_id(),
            );
        }
    };
    let target = BindTarget {
        instance_type,
        instance_id: body.publicip.associate_instance_id,
        private_ip_address: None,
    };
    let provider = match wire.sim.provider(&region) {
        Ok(provider) => provider,
        Err(message) => return api_error(Family::V3, StatusCode::NOT_FOUND, "VPC.0501", &message, &wire.request_id()),
    };
    match provider.associate(&id, &target, "").await {
        Ok(receipt) => v3_instance_answer(&wire, &region, &project_id, &id, &receipt.request_id),
        Err(err) => cloud_error(Family::V3, &err, &wire.request_id()),
    }
}

async fn v3_disassociate(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, true) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    let provider = match wire.sim.provider(&region) {
        Ok(provider) => provider,
        Err(message) => return api_error(Family::V3, StatusCode::NOT_FOUND, "VPC.0501", &message, &wire.request_id()),
    };
    let current = wire.sim.eip(&region, &id).and_then(|e| e.bound_to).unwrap_or(BindTarget {
        instance_type: InstanceType::Port,
        instance_id: String::new(),
        private_ip_address: None,
    });
    match provider.unassociate(&id, &current, false, "").await {
        Ok(receipt) => v3_instance_answer(&wire, &region, &project_id, &id, &receipt.request_id),
        Err(err) => cloud_error(Family::V3, &err, &wire.request_id()),
    }
}

fn v3_instance_answer(wire: &Wire, region: &str, project_id: &str, id: &str, request_id: &str) -> Response {
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

// ----- batch -----

#[derive(Deserialize)]
struct BatchBody {
    publicip_ids: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BatchKind {
    Unbind,
    Release,
}

async fn batch(wire: Wire, project_id: String, req: Req, kind: BatchKind) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    let body: BatchBody = match req.json() {
        Ok(body) => body,
        Err(message) => return api_error(Family::V3, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    };
    let mut ids: Vec<String> = Vec::new();
    for id in body.publicip_ids {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() || ids.len() > MAX_BATCH {
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

async fn batch_unbind(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    batch(wire, project_id, req, BatchKind::Unbind).await
}

async fn batch_release(State(wire): State<Wire>, Path(project_id): Path<String>, req: Req) -> Response {
    batch(wire, project_id, req, BatchKind::Release).await
}

// ----- tags -----

#[derive(Deserialize)]
struct WireTag {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct TagsAction {
    action: String,
    tags: Vec<WireTag>,
}

#[derive(Deserialize)]
struct OneTag {
    tag: WireTag,
}

fn valid_tag(tag: &WireTag) -> bool {
    (1..=36).contains(&tag.key.chars().count())
        && tag.key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        && tag.value.chars().count() <= 43
        && tag.value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Applies tag changes of an existing EIP; 204.
fn change_tags(wire: &Wire, req: &Req, project_id: &str, id: &str, create: bool, tags: Vec<WireTag>) -> Response {
    let region = match wire.region(req, project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
    let request_id = wire.request_id();
    if create && let Some(bad) = tags.iter().find(|t| !valid_tag(t)) {
        return api_error(
            Family::V1,
            StatusCode::BAD_REQUEST,
            "VPC.0501",
            &format!(
                "Invalid tag {:?}: keys 1-36 of A-Za-z0-9_-, values up to 43 of A-Za-z0-9_.-",
                bad.key
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

async fn tags_action(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
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
                &format!("Invalid action {other:?}: create or delete."),
                &wire.request_id(),
            );
        }
    };
    change_tags(&wire, &req, &project_id, &id, create, body.tags)
}

async fn create_tag(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    match req.json::<OneTag>() {
        Ok(body) => change_tags(&wire, &req, &project_id, &id, true, vec![body.tag]),
        Err(message) => api_error(Family::V1, StatusCode::BAD_REQUEST, "VPC.0501", &message, &wire.request_id()),
    }
}

async fn show_tags(State(wire): State<Wire>, Path((project_id, id)): Path<(String, String)>, req: Req) -> Response {
    let region = match wire.region(&req, &project_id, false) {
        Ok(region) => region,
        Err(response) => return *response,
    };
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
