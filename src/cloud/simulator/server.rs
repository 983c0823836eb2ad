//! HTTP admin and inspection API of the simulator (JSON, camelCase). The clouds' own wire
//! protocols are served elsewhere; this is for tests, benchmarks and humans.
//!
//! | route | body | answer |
//! | --- | --- | --- |
//! | `GET /healthz` | | `{"status":"ok"}` |
//! | `GET /admin/config` | | `SimulatorConfig` |
//! | `GET /admin/regions` | | `[RegionConfig]` |
//! | `GET /admin/regions/{region}/eips` | | `[CloudEip]` |
//! | `POST /admin/regions/{region}/eips` | `SeedEip` | `CloudEip` (201) |
//! | `GET /admin/regions/{region}/eips/{id}` | | `CloudEip` |
//! | `POST /admin/regions/{region}/eips/{id}/{unbind,release,lock,unlock}` | | `CloudEip` (release: `{"allocationId","released":true}`) |
//! | `POST /admin/regions/{region}/eips/{id}/bind` | `BindTarget` | `CloudEip` |
//! | `GET /admin/regions/{region}/instances` | | `[InstanceInfo]` |
//! | `POST /admin/regions/{region}/instances` | `{instanceType, ids?, prefix?, count?, natEntries?}` | `{"ids":[…]}` |
//! | `PUT /admin/regions/{region}/instances/{id}/nat-entries` | `{count}` | `InstanceInfo` |
//! | `GET /admin/calls?since=N` | | `[CallRecord]` with `seq > N` |
//! | `GET /admin/counters` | | `[CounterRow]` |
//! | `PUT /admin/faults`, `/admin/latencies`, `/admin/rate-limits` | the whole new value | the value |
//!
//! Errors are `{"error": "…"}` with 400 (bad body), 404 (unknown region, EIP, instance, route)
//! or 409 (conflict).

use std::future::Future;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{AdminError, Faults, InstanceIds, Latencies, RateLimits, SeedEip, Simulator};
use crate::cloud::{BindTarget, InstanceType};

/// Serves the admin API on `listener` until `shutdown` completes.
pub async fn serve(
    sim: Simulator,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(sim)).with_graceful_shutdown(shutdown).await
}

/// The admin API as a router, for embedding in another server.
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
        // The clouds' own wire protocols, on the same listener.
        .merge(super::wire_alibaba::routes(sim.clone()))
        .merge(super::wire_otc::routes(sim))
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
    ok(sim.config())
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
        other => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("unknown action {other:?} (bind, unbind, release, lock, unlock)"),
        )),
    }
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
    if faults.error_rate.is_nan() || !(0.0..=1.0).contains(&faults.error_rate) {
        return Err(ApiError(StatusCode::BAD_REQUEST, "errorRate must be within [0, 1]".into()));
    }
    sim.set_faults(faults);
    ok(faults)
}

async fn set_latencies(State(sim): State<Simulator>, body: Bytes) -> ApiResult {
    let latencies: Latencies = parse(&body)?;
    sim.set_latencies(latencies);
    ok(latencies)
}

async fn set_rate_limits(State(sim): State<Simulator>, body: Bytes) -> ApiResult {
    let limits: RateLimits = parse(&body)?;
    sim.set_rate_limits(limits);
    ok(limits)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::SocketAddr;

    use serde_json::Value;

    use super::*;
    use crate::cloud::simulator::SimulatorConfig;
    use crate::cloud::{AllocateRequest, CloudProvider};

    /// One HTTP/1.1 exchange over a plain socket (the crate has no HTTP client dependency).
    async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let raw = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(addr).expect("connects");
            stream.write_all(request.as_bytes()).expect("writes");
            let mut raw = String::new();
            stream.read_to_string(&mut raw).expect("reads");
            raw
        })
        .await
        .expect("joins");
        let (head, body) = raw.split_once("\r\n\r\n").expect("has a header block");
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("has a status");
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn admin_routes_over_tcp() {
        let sim = Simulator::new(SimulatorConfig::instant().with_seed(3));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("has an address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(sim.clone(), listener, async move {
            let _ = stopped.await;
        }));

        let (status, body) = http(addr, "GET", "/healthz", "").await;
        assert_eq!((status, body), (200, json!({ "status": "ok" })));

        // Seed a bound EIP, then unbind it out of band.
        let (status, eip) = http(
            addr,
            "POST",
            "/admin/regions/eu-de/eips",
            r#"{"boundTo": {"instanceType": "Port", "instanceId": "port-sim-0001"}, "tags": {"team": "a"}}"#,
        )
        .await;
        assert_eq!(status, 201, "{eip}");
        assert_eq!(eip["rawState"], "ACTIVE");
        let id = eip["allocationId"].as_str().expect("has an id").to_owned();
        let (status, eip) = http(addr, "POST", &format!("/admin/regions/eu-de/eips/{id}/unbind"), "").await;
        assert_eq!((status, eip["rawState"].as_str()), (200, Some("DOWN")));
        let (status, eip) = http(addr, "POST", &format!("/admin/regions/eu-de/eips/{id}/lock"), "").await;
        assert_eq!(
            (status, eip["rawState"].as_str(), eip["phase"].as_str()),
            (200, Some("FREEZED"), Some("Locked"))
        );

        let (status, list) = http(addr, "GET", "/admin/regions/eu-de/eips", "").await;
        assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(1)));

        // Errors are JSON with 4xx.
        let (status, body) = http(addr, "GET", "/admin/regions/mars-1/eips", "").await;
        assert_eq!(status, 404);
        assert!(body["error"].as_str().is_some_and(|e| e.contains("mars-1")), "{body}");
        let (status, body) = http(addr, "POST", "/admin/regions/eu-de/eips", "{not json").await;
        assert_eq!(status, 400, "{body}");
        let (status, _) = http(addr, "POST", &format!("/admin/regions/eu-de/eips/{id}/explode"), "").await;
        assert_eq!(status, 404);

        // Instances and NAT entries.
        let (status, body) = http(
            addr,
            "POST",
            "/admin/regions/cn-hangzhou/instances",
            r#"{"instanceType": "Nat", "prefix": "ngw-x-", "count": 2, "natEntries": 1}"#,
        )
        .await;
        assert_eq!((status, body), (200, json!({ "ids": ["ngw-x-0001", "ngw-x-0002"] })));
        let (status, body) = http(
            addr,
            "PUT",
            "/admin/regions/cn-hangzhou/instances/ngw-x-0002/nat-entries",
            r#"{"count": 4}"#,
        )
        .await;
        assert_eq!((status, body["natEntries"].as_u64()), (200, Some(4)));

        // Provider calls show up in the log and counters; settings can be changed.
        let provider = sim.provider("cn-hangzhou").expect("known region");
        provider
            .allocate(&AllocateRequest {
                client_token: "t-1".into(),
                ..Default::default()
            })
            .await
            .expect("allocates");
        let (status, calls) = http(addr, "GET", "/admin/calls?since=0", "").await;
        assert_eq!(status, 200);
        assert_eq!(calls[0]["operation"], "Allocate");
        assert_eq!(calls[0]["clientToken"], "t-1");
        let (_, calls) = http(addr, "GET", "/admin/calls?since=1", "").await;
        assert_eq!(calls, json!([]));
        let (status, _) = http(addr, "GET", "/admin/calls?since=abc", "").await;
        assert_eq!(status, 400);
        let (_, counters) = http(addr, "GET", "/admin/counters", "").await;
        assert_eq!(
            counters,
            json!([{ "operation": "Allocate", "outcome": "Ok", "code": null, "count": 1 }])
        );
        let (status, _) = http(addr, "PUT", "/admin/rate-limits", r#"{"mutatingPerSecond": 5}"#).await;
        assert_eq!(status, 200);
        assert_eq!(sim.config().rate_limits.mutating_per_second, Some(5));
        let (status, _) = http(addr, "PUT", "/admin/faults", r#"{"errorRate": 2.0}"#).await;
        assert_eq!(status, 400);
        let (status, body) = http(addr, "PUT", "/admin/latencies", r#"{"associateMs": 1500}"#).await;
        assert_eq!((status, body["associateMs"].as_u64()), (200, Some(1500)));

        let _ = stop.send(());
        server.await.expect("joins").expect("serves");
    }
}
