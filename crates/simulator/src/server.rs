//! HTTP admin and inspection API of the simulator (JSON, camelCase). The clouds' own wire
//! protocols are served elsewhere; this is for tests, benchmarks and humans.
//!
//! | route | body | answer |
//! | --- | --- | --- |
//! | `GET /healthz` | | `{"status":"ok"}` |
//! | `GET /admin/config` | | `SimulatorConfig`, secrets replaced by `"<redacted>"` |
//! | `GET /admin/regions` | | `[RegionConfig]` |
//! | `GET /admin/regions/{region}/eips` | | `[CloudEip]` |
//! | `POST /admin/regions/{region}/eips` | `SeedEip` | `CloudEip` (201) |
//! | `GET /admin/regions/{region}/eips/{id}` | | `CloudEip` |
//! | `POST /admin/regions/{region}/eips/{id}/{unbind,release,lock,unlock}` | | `CloudEip` (release: `{"allocationId","released":true}`) |
//! | `POST /admin/regions/{region}/eips/{id}/bind` | `BindTarget` | `CloudEip` |
//! | `POST /admin/regions/{region}/eips/{id}/hide-from-describe` | `{"answers": N}` (N ≥ 0, default 1) | `{"allocationId", "hiddenAnswers": N}` |
//! | `GET /admin/regions/{region}/instances` | | `[InstanceInfo]` |
//! | `POST /admin/regions/{region}/instances` | `{instanceType, ids?, prefix?, count?, natEntries?}` | `{"ids":[…]}` |
//! | `PUT /admin/regions/{region}/instances/{id}/nat-entries` | `{count}` | `InstanceInfo` |
//! | `GET /admin/calls?since=N` | | `[CallRecord]` with `seq > N` |
//! | `GET /admin/counters` | | `[CounterRow]` |
//! | `PUT /admin/faults`, `/admin/latencies`, `/admin/rate-limits` | the whole new value (faults: `errorRate`, `extraLatencyMs`, `mix` of [`FaultKind`](super::FaultKind) weights, `slowMs`, `hangMs`) | the value |
//!
//! Errors are `{"error": "…"}` with 400 (bad body; a count or size over a limit, such as more
//! than [`MAX_INSTANCES_PER_REQUEST`](super::MAX_INSTANCES_PER_REQUEST) instances in a request
//! or [`MAX_INSTANCES_PER_REGION`](super::MAX_INSTANCES_PER_REGION) in a region; a latency over
//! [`MAX_LATENCY`](super::MAX_LATENCY)), 404 (unknown region, EIP, instance, route), 408 (body
//! not received within [`BODY_READ_TIMEOUT`]), 409 (conflict) or 413 (body over
//! [`MAX_BODY_BYTES`]). The body limits hold on every route, the wire protocols' included
//! (which answer in their own error format). `hide-from-describe` is the eventual-consistency
//! fault described in the [module docs](super).
//!
//! [`serve`] also bounds connections (see [`limits`](super::limits)): a client that sends no
//! request, or half a head, is disconnected after
//! [`HEADER_READ_TIMEOUT`](super::limits::HEADER_READ_TIMEOUT); an idle keep-alive connection
//! after [`IDLE_TIMEOUT`](super::limits::IDLE_TIMEOUT).

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::conn::GuardedListener;
use super::limits::{BODY_READ_TIMEOUT, MAX_BODY_BYTES};
use super::{AdminError, Faults, InstanceIds, Latencies, RateLimits, SeedEip, Simulator};
use eip_cloud::{BindTarget, InstanceType};

/// Serves the admin API and the wire protocols on `listener` until `shutdown` completes, with
/// bounded connections (head and idle timeouts, a write timeout, at most
/// [`MAX_CONNECTIONS`](super::limits::MAX_CONNECTIONS) at once).
pub async fn serve(
    sim: Simulator,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(GuardedListener::new(listener), router(sim))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The admin API and both wire protocols as a router, for embedding in another server. The body
/// limits (size, read timeout) are part of the router; the connection limits (head and idle
/// timeouts, connection count) are [`serve`]'s.
pub fn router(sim: Simulator) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/admin/config", get(config))
        .route("/admin/regions", get(regions))
        .route("/admin/regions/{region}/eips", get(list_eips).post(seed_eip))
        .route("/admin/regions/{region}/eips/{id}", get(get_eip))
        .route("/admin/regions/{region}/eips/{id}/{action}", post(eip_action))
        .route("/admin/regions/{region}/instances", get(list_instances).post(add_instances))
        .route("/admin/regions/{region}/instances/{id}/nat-entries", put(set_nat_entries))
        .route("/admin/calls", get(calls))
        .route("/admin/counters", get(counters))
        .route("/admin/faults", put(set_faults))
        .route("/admin/latencies", put(set_latencies))
        .route("/admin/rate-limits", put(set_rate_limits))
        .fallback(not_found)
        .with_state(sim.clone())
        // The clouds' own wire protocols, on the same listener, with the faults below the API.
        .merge(
            super::wire_alibaba::routes(sim.clone())
                .merge(super::wire_otc::routes(sim.clone()))
                .merge(super::wire_aws::routes(sim))
                .layer(axum::middleware::from_fn(super::faults::wire_faults)),
        )
        .layer(axum::middleware::from_fn(guard_body))
}

/// Reads the whole body first: at most [`MAX_BODY_BYTES`] (else 413) within
/// [`BODY_READ_TIMEOUT`] (else 408), so no handler ever waits on a slow client.
async fn guard_body(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path().to_owned();
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return refuse_body(&path, StatusCode::PAYLOAD_TOO_LARGE);
    }
    match tokio::time::timeout(BODY_READ_TIMEOUT, read_body(body)).await {
        Err(_) => refuse_body(&path, StatusCode::REQUEST_TIMEOUT),
        Ok(Err(status)) => refuse_body(&path, status),
        Ok(Ok(bytes)) => next.run(axum::extract::Request::from_parts(parts, Body::from(bytes))).await,
    }
}

async fn read_body(body: Body) -> Result<Bytes, StatusCode> {
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| StatusCode::BAD_REQUEST)?;
        if buf.len().saturating_add(chunk.len()) > MAX_BODY_BYTES {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// The refusal of a body, in the format of the API the path belongs to.
fn refuse_body(path: &str, status: StatusCode) -> Response {
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("RequestBodyTooLarge", format!("The request body exceeds {MAX_BODY_BYTES} bytes.")),
        StatusCode::REQUEST_TIMEOUT => (
            "RequestTimeout",
            format!("The request body was not received within {} s.", BODY_READ_TIMEOUT.as_secs()),
        ),
        _ => ("InvalidParameter", "The request body could not be read.".to_owned()),
    };
    let mut response = if path == "/" {
        super::wire_alibaba::transport_error(status, code, &message)
    } else if ["/v1/", "/v2/", "/v2.0/", "/v3/"].iter().any(|prefix| path.starts_with(prefix)) {
        super::wire_otc::transport_error(status, &message)
    } else {
        ApiError(status, message).into_response()
    };
    // The rest of the body is not read: the connection cannot carry another request.
    response
        .headers_mut()
        .insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    response
}

/// An answer as [`exchange`] returns it.
#[doc(hidden)]
#[derive(Debug)]
pub struct Exchange {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Bytes,
}

/// Routes one request through `router` (see [`router`]) without a socket, for property tests:
/// an invalid method, URI or header gets the 400 hyper would answer; the answer body is read in
/// full. Everything behind the listener (body limits, both wire protocols, the admin API) runs.
#[doc(hidden)]
pub async fn exchange(router: &Router, method: &[u8], uri: &str, headers: &[(String, Vec<u8>)], body: Vec<u8>) -> Exchange {
    let bad_request = || Exchange {
        status: 400,
        headers: axum::http::HeaderMap::new(),
        body: Bytes::new(),
    };
    let mut builder = axum::http::Request::builder().uri(uri);
    match axum::http::Method::from_bytes(method) {
        Ok(method) => builder = builder.method(method),
        Err(_) => return bad_request(),
    }
    for (name, value) in headers {
        match (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_bytes(value),
        ) {
            (Ok(name), Ok(value)) => builder = builder.header(name, value),
            _ => return bad_request(),
        }
    }
    let Ok(request) = builder.body(Body::from(body)) else {
        return bad_request();
    };
    let response = match tower::ServiceExt::oneshot(router.clone(), request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    Exchange {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default(),
    }
}

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        let status = match error {
            AdminError::UnknownRegion(_) | AdminError::UnknownEip(_) | AdminError::UnknownInstance(_) => StatusCode::NOT_FOUND,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
        };
        ApiError(status, error.to_string())
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(value: impl serde::Serialize) -> ApiResult {
    Ok(Json(value).into_response())
}

/// Parses a JSON body; an empty body counts as `{}`.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let bytes: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    serde_json::from_slice(bytes).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

fn known_region(sim: &Simulator, region: &str) -> Result<(), ApiError> {
    if sim.regions().iter().any(|r| r.name == region) {
        Ok(())
    } else {
        Err(AdminError::UnknownRegion(region.to_owned()).into())
    }
}

async fn healthz() -> ApiResult {
    ok(json!({ "status": "ok" }))
}

async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "no such route".into())
}

async fn config(State(sim): State<Simulator>) -> ApiResult {
    ok(sim.config().redacted())
}

async fn regions(State(sim): State<Simulator>) -> ApiResult {
    ok(sim.regions())
}

async fn list_eips(State(sim): State<Simulator>, Path(region): Path<String>) -> ApiResult {
    known_region(&sim, &region)?;
    ok(sim.eips(&region))
}

async fn get_eip(State(sim): State<Simulator>, Path((region, id)): Path<(String, String)>) -> ApiResult {
    known_region(&sim, &region)?;
    match sim.eip(&region, &id) {
        Some(eip) => ok(eip),
        None => Err(AdminError::UnknownEip(id).into()),
    }
}

async fn seed_eip(State(sim): State<Simulator>, Path(region): Path<String>, body: Bytes) -> ApiResult {
    let seed: SeedEip = parse(&body)?;
    let eip = sim.seed_eip(&region, seed)?;
    Ok((StatusCode::CREATED, Json(eip)).into_response())
}

async fn eip_action(State(sim): State<Simulator>, Path((region, id, action)): Path<(String, String, String)>, body: Bytes) -> ApiResult {
    match action.as_str() {
        "unbind" => ok(sim.oob_unbind(&region, &id)?),
        "bind" => {
            let target: BindTarget = parse(&body)?;
            ok(sim.oob_bind(&region, &id, &target)?)
        }
        "release" => {
            sim.oob_release(&region, &id)?;
            ok(json!({ "allocationId": id, "released": true }))
        }
        "lock" => ok(sim.oob_lock(&region, &id, true)?),
        "unlock" => ok(sim.oob_lock(&region, &id, false)?),
        "hide-from-describe" => {
            let body: HideBody = parse(&body)?;
            let answers = sim.hide_from_describe(&region, &id, body.answers)?;
            ok(json!({ "allocationId": id, "hiddenAnswers": answers }))
        }
        other => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "unknown action {:?} (bind, unbind, release, lock, unlock, hide-from-describe)",
                super::limits::truncate(other, 64)
            ),
        )),
    }
}

/// `hide-from-describe`: how many Describe answers leave the EIP out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HideBody {
    #[serde(default = "one")]
    answers: u32,
}

fn one() -> u32 {
    1
}

async fn list_instances(State(sim): State<Simulator>, Path(region): Path<String>) -> ApiResult {
    ok(sim.instances(&region)?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddInstancesBody {
    instance_type: InstanceType,
    ids: Option<Vec<String>>,
    prefix: Option<String>,
    count: Option<u32>,
    #[serde(default)]
    nat_entries: u32,
}

async fn add_instances(State(sim): State<Simulator>, Path(region): Path<String>, body: Bytes) -> ApiResult {
    let body: AddInstancesBody = parse(&body)?;
    let ids = match (body.ids, body.prefix, body.count) {
        (Some(ids), None, None) => InstanceIds::Ids(ids),
        (None, Some(prefix), Some(count)) => InstanceIds::Prefixed { prefix, count },
        _ => {
            return Err(ApiError(StatusCode::BAD_REQUEST, "give either ids or prefix and count".into()));
        }
    };
    let ids = sim.add_instances(&region, body.instance_type, ids, body.nat_entries)?;
    ok(json!({ "ids": ids }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NatEntriesBody {
    count: u32,
}

async fn set_nat_entries(State(sim): State<Simulator>, Path((region, id)): Path<(String, String)>, body: Bytes) -> ApiResult {
    let body: NatEntriesBody = parse(&body)?;
    ok(sim.set_nat_entries(&region, &id, body.count)?)
}

#[derive(Deserialize)]
struct CallsQuery {
    since: Option<u64>,
}

async fn calls(State(sim): State<Simulator>, query: Result<Query<CallsQuery>, QueryRejection>) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    ok(sim.calls_since(query.since.unwrap_or(0)))
}

async fn counters(State(sim): State<Simulator>) -> ApiResult {
    ok(sim.counters())
}

async fn set_faults(State(sim): State<Simulator>, body: Bytes) -> ApiResult {
    let faults: Faults = parse(&body)?;
    faults.check().map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    sim.set_faults(faults);
    ok(faults)
}

async fn set_latencies(State(sim): State<Simulator>, body: Bytes) -> ApiResult {
    let latencies: Latencies = parse(&body)?;
    latencies.check().map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    sim.set_latencies(latencies);
    ok(latencies)
}

async fn set_rate_limits(State(sim): State<Simulator>, body: Bytes) -> ApiResult {
    let limits: RateLimits = parse(&body)?;
    sim.set_rate_limits(limits);
    ok(limits)
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
