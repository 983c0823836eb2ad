//! The simulator's Alibaba Cloud wire protocol: the VPC RPC API (version 2016-04-28) and STS
//! `AssumeRoleWithOIDC` (2015-04-01) on `GET|POST /`, parameters in the query and/or a form body.
//!
//! Actions: `AllocateEipAddress`, `AssociateEipAddress`, `UnassociateEipAddress`,
//! `ReleaseEipAddress`, `DescribeEipAddresses`, `TagResources`, `UnTagResources`,
//! `AssumeRoleWithOIDC`.
//!
//! Requests are authenticated like the real cloud: V3 (`Authorization: ACS3-HMAC-SHA256 …`, any
//! set of signed headers) or V1 (`Signature` parameter, HMAC-SHA1) against the access keys of
//! [`SimAuth`](super::SimAuth) and the temporary keys `AssumeRoleWithOIDC` issued (which need
//! their security token). Timestamps more than 15 minutes off and reused nonces are refused.
//!
//! EIP actions run through the region's model (the same call log, rate limits and faults as
//! [`SimulatorProvider`](super::SimulatorProvider)); so do `TagResources` and `UnTagResources`
//! (logged as `Tag` / `Untag`), whose tags the model keeps with the EIP, as `GET /admin/...` and
//! the in-process provider show them. Attributes the model does not keep (name, description,
//! ISP, internet charge type, allocation time) live here, beside the model.
//!
//! | answer | HTTP status |
//! | --- | --- |
//! | success | 200 |
//! | `InvalidAllocationId.NotFound`, `Forbidden.RegionNotFound`, `InvalidAccessKeyId.NotFound`, `InvalidAction.NotFound`, `InvalidResourceId.NotFound` | 404 |
//! | `ServiceUnavailable` | 503 |
//! | `InternalError` | 500 |
//! | everything else, `Throttling.User` included (with `x-acs-retry-after` in ms) | 400 |
//!
//! Errors are `{"RequestId","HostId","Code","Message","Recommend"}`; every answer carries
//! `x-acs-request-id`.
//!
//! Limits, checked before anything reaches the model (so nothing oversized is logged or kept):
//!
//! | parameter | limit | refusal (400) |
//! | --- | --- | --- |
//! | `ClientToken` | 64 printable ASCII characters (as the cloud documents) | `InvalidClientToken.Malformed` |
//! | `AllocationId`, `InstanceId`, `ResourceId.N`, `TagKey.N` | 128 bytes | `InvalidParameter` |
//! | `AllocationId`, `EipAddress` lists | 50 items | `InvalidParameter.AllocationId`, `InvalidParameter.EipAddress` |
//! | `Tag.N.Key` / `Tag.N.Value` | 1-128 / 0-128 characters, N ≤ 20 | `InvalidTagKey.Malformed` / `InvalidTagValue.Malformed` |
//! | `Name` / `Description` / `ISP`, `PrivateIpAddress` | 128 / 256 / 32, 64 bytes | `InvalidParameter` |
//! | parameters per request (query and form) | 1000 | `InvalidParameter` |
//! | signature nonce | 128 bytes | `InvalidParameter` |
//!
//! At most 200,000 nonces (15 minutes' worth) and 10,000 live temporary keys are kept; beyond
//! that, signed calls and `AssumeRoleWithOIDC` get `Throttling.User`. Attributes of released
//! EIPs are dropped whenever the table has doubled.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::Simulator;
use super::limits::{self, MAX_ID_LEN};
use super::model;
use eip_alibaba::signing;
use eip_cloud::CloudError;

/// VPC API version.
const VPC_VERSION: &str = "2016-04-28";
/// STS API version.
const STS_VERSION: &str = "2015-04-01";
/// How far a request's timestamp may be from the simulator's clock, and how long nonces are kept.
const MAX_SKEW: SignedDuration = SignedDuration::from_mins(15);
/// Tags per request (`Tag.N`, N ≤ 20).
const MAX_TAGS: usize = 20;
/// Tag keys and values: at most 128 characters.
const MAX_TAG_CHARS: usize = 128;
/// `ClientToken`: at most 64 ASCII characters.
const MAX_CLIENT_TOKEN: usize = 64;
/// Signature nonces kept at once (15 minutes' worth); beyond it signed calls are throttled.
const MAX_NONCES: usize = 200_000;
/// Temporary keys kept at once; beyond it `AssumeRoleWithOIDC` is throttled.
const MAX_TEMPORARY_KEYS: usize = 10_000;
/// Longest signature nonce.
const MAX_NONCE_LEN: usize = 128;
/// Smallest attribute table that is pruned.
const ATTRS_PRUNE_MIN: usize = 1024;
/// Parameters per request (query and form body together).
const MAX_PARAMS: usize = 1000;
const RESOURCE_GROUP: &str = "rg-sim-default";
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

mod actions;
mod auth;

use actions::{allocate, associate, describe, release, tag_resources, un_tag_resources, unassociate};
use auth::{assume_role_with_oidc, authenticate};

/// The routes of the Alibaba wire protocol, for merging into the simulator's router.
pub fn routes(sim: Simulator) -> Router {
    let seed = sim.config().seed;
    let wire = Arc::new(Wire {
        sim,
        state: Mutex::new(WireState {
            rng: SmallRng::seed_from_u64(seed ^ 0xa11b_aba0_0000_0001),
            nonces: HashMap::new(),
            nonces_pruned: Timestamp::now(),
            temporary_keys: HashMap::new(),
            attrs: HashMap::new(),
            attrs_prune_at: ATTRS_PRUNE_MIN,
        }),
    });
    Router::new().route("/", get(handle).post(handle)).with_state(wire)
}

struct Wire {
    sim: Simulator,
    state: Mutex<WireState>,
}

struct WireState {
    rng: SmallRng,
    /// (access key ID, nonce) → when it was used.
    nonces: HashMap<(String, String), Timestamp>,
    /// When expired nonces were last dropped (at most once a second).
    nonces_pruned: Timestamp,
    /// Keys issued by `AssumeRoleWithOIDC`, by access key ID.
    temporary_keys: HashMap<String, TemporaryKey>,
    /// (region, allocation ID) → what the model does not keep.
    attrs: HashMap<(String, String), EipAttrs>,
    /// Size of `attrs` at which attributes of released EIPs are dropped.
    attrs_prune_at: usize,
}

struct TemporaryKey {
    secret: String,
    security_token: String,
    expires_at: Timestamp,
}

#[derive(Clone, Debug)]
struct EipAttrs {
    name: String,
    description: String,
    isp: String,
    internet_charge_type: String,
    allocation_time: Timestamp,
}

impl EipAttrs {
    fn new(now: Timestamp) -> Self {
        EipAttrs {
            name: String::new(),
            description: String::new(),
            isp: "BGP".into(),
            internet_charge_type: "PayByBandwidth".into(),
            allocation_time: now,
        }
    }
}

/// `at + by`, or the latest representable instant.
fn later(at: Timestamp, by: SignedDuration) -> Timestamp {
    at.checked_add(by).unwrap_or(Timestamp::MAX)
}

impl Wire {
    fn state(&self) -> MutexGuard<'_, WireState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops attributes of EIPs that are gone once the table has doubled since the last time
    /// (amortised constant work per call), so allocate/release cycles cannot grow it forever.
    fn prune_attrs(&self) {
        {
            let state = self.state();
            if state.attrs.len() < state.attrs_prune_at {
                return;
            }
        }
        let live = self.sim.live_eip_keys();
        let mut state = self.state();
        state.attrs.retain(|key, _| live.contains(key));
        state.attrs_prune_at = state.attrs.len().saturating_mul(2).max(ATTRS_PRUNE_MIN);
    }

    fn request_id(&self) -> String {
        let bits: u128 = self.state().rng.random();
        model::format_uuid(bits, true)
    }

    fn random_string(&self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut state = self.state();
        (0..len)
            .map(|_| char::from(ALPHABET[state.rng.random_range(0..ALPHABET.len())]))
            .collect()
    }
}

/// A refused request, rendered as Alibaba's error body.
#[derive(Debug)]
struct WireError {
    code: String,
    message: String,
    request_id: Option<String>,
    retry_after_ms: Option<u128>,
}

impl WireError {
    fn new(code: &str, message: impl Into<String>) -> Self {
        WireError {
            code: code.to_owned(),
            message: message.into(),
            request_id: None,
            retry_after_ms: None,
        }
    }

    fn missing(parameter: &str) -> Self {
        WireError::new(
            "MissingParameter",
            format!("The input parameter \"{parameter}\" that is mandatory for processing this request is not supplied."),
        )
    }

    fn invalid(parameter: &str, value: &str) -> Self {
        WireError::new(
            "InvalidParameter",
            format!(
                "The specified parameter \"{}\" is not valid: {:?}.",
                limits::truncate(parameter, 64),
                limits::truncate(value, 64)
            ),
        )
    }

    fn too_long(parameter: &str, max: usize) -> Self {
        WireError::new(
            "InvalidParameter",
            format!(
                "The specified parameter \"{}\" is too long: at most {max} characters.",
                limits::truncate(parameter, 64)
            ),
        )
    }

    fn status(&self) -> StatusCode {
        match self.code.as_str() {
            "InvalidAllocationId.NotFound"
            | "Forbidden.RegionNotFound"
            | "InvalidAccessKeyId.NotFound"
            | "InvalidAction.NotFound"
            | "InvalidResourceId.NotFound" => StatusCode::NOT_FOUND,
            "ServiceUnavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "InternalError" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<CloudError> for WireError {
    fn from(error: CloudError) -> Self {
        WireError {
            retry_after_ms: error.retry_after().filter(|_| error.is_throttled()).map(|d| d.as_millis().max(1)),
            code: error.code,
            message: error.message,
            request_id: error.request_id,
        }
    }
}

/// A successful answer: its body (without `RequestId`) and request ID.
struct Answer {
    request_id: String,
    body: serde_json::Map<String, Value>,
}

impl Answer {
    fn new(request_id: String, body: Value) -> Self {
        let body = match body {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        Answer { request_id, body }
    }
}

fn respond(status: StatusCode, request_id: &str, body: Value, retry_after_ms: Option<u128>) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-acs-request-id", value);
    }
    if let Some(ms) = retry_after_ms
        && let Ok(value) = HeaderValue::from_str(&ms.to_string())
    {
        headers.insert("x-acs-retry-after", value);
    }
    response
}

/// One request's parameters (query and form body merged) and what authenticated it.
struct Call {
    method: Method,
    host: String,
    query: BTreeMap<String, String>,
    params: BTreeMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
}

impl Call {
    fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn require(&self, name: &str) -> Result<&str, WireError> {
        self.get(name).ok_or_else(|| WireError::missing(name))
    }

    /// An optional parameter of at most `max` bytes.
    fn get_bounded(&self, name: &str, max: usize) -> Result<Option<&str>, WireError> {
        match self.get(name) {
            Some(value) if value.len() > max => Err(WireError::too_long(name, max)),
            other => Ok(other),
        }
    }

    /// A mandatory ID parameter (at most [`MAX_ID_LEN`] bytes).
    fn require_id(&self, name: &str) -> Result<&str, WireError> {
        let value = self.require(name)?;
        if value.len() > MAX_ID_LEN {
            return Err(WireError::too_long(name, MAX_ID_LEN));
        }
        Ok(value)
    }

    /// `ClientToken`: at most 64 ASCII characters, as the cloud documents.
    fn client_token(&self) -> Result<&str, WireError> {
        let token = self.get("ClientToken").unwrap_or_default();
        if token.len() > MAX_CLIENT_TOKEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(WireError::new(
                "InvalidClientToken.Malformed",
                format!("The specified parameter \"ClientToken\" must be at most {MAX_CLIENT_TOKEN} printable ASCII characters."),
            ));
        }
        Ok(token)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty())
    }

    /// `Prefix.1.Key`/`Prefix.1.Value`, … as a map (N ≤ 20).
    fn tags(&self, prefix: &str) -> Result<BTreeMap<String, String>, WireError> {
        let mut tags = BTreeMap::new();
        for (name, value) in &self.params {
            let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let Some((n, "Key")) = rest.split_once('.') else {
                continue;
            };
            let index: usize = n.parse().map_err(|_| WireError::invalid(name, n))?;
            if !(1..=MAX_TAGS).contains(&index) {
                return Err(WireError::new(
                    "InvalidParameter.TagNumberExceed",
                    format!("At most {MAX_TAGS} tags are allowed."),
                ));
            }
            if value.is_empty() || value.chars().count() > MAX_TAG_CHARS {
                return Err(WireError::new(
                    "InvalidTagKey.Malformed",
                    format!(
                        "The specified parameter \"{}\" must be 1-{MAX_TAG_CHARS} characters.",
                        limits::truncate(name, 64)
                    ),
                ));
            }
            let tag_value = self.params.get(&format!("{prefix}.{n}.Value")).cloned().unwrap_or_default();
            if tag_value.chars().count() > MAX_TAG_CHARS {
                return Err(WireError::new(
                    "InvalidTagValue.Malformed",
                    format!("The specified parameter \"{prefix}.{n}.Value\" must be at most {MAX_TAG_CHARS} characters."),
                ));
            }
            tags.insert(value.clone(), tag_value);
        }
        Ok(tags)
    }

    /// `Prefix.1`, `Prefix.2`, … in order.
    fn list(&self, prefix: &str) -> Result<Vec<String>, WireError> {
        let mut items: Vec<(usize, String)> = self
            .params
            .iter()
            .filter_map(|(name, value)| {
                let n = name.strip_prefix(prefix)?.strip_prefix('.')?.parse().ok()?;
                Some((n, value.clone())).filter(|(_, v)| !v.is_empty())
            })
            .collect();
        items.sort();
        if let Some((n, _)) = items.iter().find(|(_, v)| v.len() > MAX_ID_LEN) {
            return Err(WireError::too_long(&format!("{prefix}.{n}"), MAX_ID_LEN));
        }
        Ok(items.into_iter().map(|(_, v)| v).collect())
    }
}

async fn handle(State(wire): State<Arc<Wire>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map_or("vpc.aliyuncs.com", |h| limits::truncate(h, 255))
        .to_owned();
    let call = match parse_call(method, &uri, host.clone(), headers, body) {
        Ok(call) => call,
        Err(error) => return error_answer(&wire, &host, error),
    };
    match dispatch(&wire, &call).await {
        Ok(answer) => {
            let mut body = serde_json::Map::new();
            body.insert("RequestId".into(), Value::String(answer.request_id.clone()));
            body.extend(answer.body);
            respond(StatusCode::OK, &answer.request_id, Value::Object(body), None)
        }
        Err(error) => error_answer(&wire, &call.host, error),
    }
}

/// The parameters of a request: its query and, for a form body, the form (at most
/// [`MAX_PARAMS`] in all).
fn parse_call(method: Method, uri: &Uri, host: String, headers: HeaderMap, body: Bytes) -> Result<Call, WireError> {
    let query_text = uri.query().unwrap_or("");
    let is_form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form_text = if is_form { std::str::from_utf8(&body).ok() } else { None };
    let pieces = |text: &str| text.split('&').filter(|p| !p.is_empty()).count();
    if pieces(query_text) + form_text.map_or(0, pieces) > MAX_PARAMS {
        return Err(WireError::new(
            "InvalidParameter",
            format!("A request may carry at most {MAX_PARAMS} parameters."),
        ));
    }
    let query: BTreeMap<String, String> = signing::parse_form(query_text).into_iter().collect();
    let mut params = query.clone();
    if let Some(text) = form_text {
        params.extend(signing::parse_form(text));
    }
    Ok(Call {
        method,
        host,
        query,
        params,
        headers,
        body,
    })
}

/// Alibaba's error body for `error`, with `x-acs-request-id` (and `x-acs-retry-after`).
fn error_answer(wire: &Wire, host: &str, error: WireError) -> Response {
    let request_id = error.request_id.clone().unwrap_or_else(|| wire.request_id());
    error_body(host, &request_id, &error)
}

fn error_body(host: &str, request_id: &str, error: &WireError) -> Response {
    let body = json!({
        "RequestId": request_id,
        "HostId": host,
        "Code": error.code,
        "Message": error.message,
        "Recommend": format!("https://api.aliyun.com/troubleshoot?q={}&product=Vpc&requestId={request_id}", error.code),
    });
    respond(error.status(), request_id, body, error.retry_after_ms)
}

/// An error answer in Alibaba's format for a request refused before it reached the protocol
/// (body too large or too slow), with `status`.
pub(super) fn transport_error(status: StatusCode, code: &str, message: &str) -> Response {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let request_id = model::format_uuid((u128::from(model::fnv64(&n.to_le_bytes())) << 64) | u128::from(n), true);
    let mut response = error_body("vpc.aliyuncs.com", &request_id, &WireError::new(code, message));
    *response.status_mut() = status;
    response
}

async fn dispatch(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let action = call
        .get("Action")
        .or_else(|| call.header("x-acs-action"))
        .ok_or_else(|| WireError::missing("Action"))?
        .to_owned();
    if action == "AssumeRoleWithOIDC" {
        return assume_role_with_oidc(wire, call);
    }
    authenticate(wire, call)?;
    if let Some(version) = call.get("Version").or_else(|| call.header("x-acs-version"))
        && version != VPC_VERSION
    {
        return Err(WireError::new(
            "InvalidVersion",
            format!("Specified parameter Version {:?} is not valid.", limits::truncate(version, 64)),
        ));
    }
    match action.as_str() {
        "AllocateEipAddress" => allocate(wire, call).await,
        "AssociateEipAddress" => associate(wire, call).await,
        "UnassociateEipAddress" => unassociate(wire, call).await,
        "ReleaseEipAddress" => release(wire, call).await,
        "DescribeEipAddresses" => describe(wire, call).await,
        "TagResources" => tag_resources(wire, call).await,
        "UnTagResources" => un_tag_resources(wire, call).await,
        other => Err(WireError::new(
            "InvalidAction.NotFound",
            format!(
                "Specified api {:?} is not found, please check your url and method.",
                limits::truncate(other, 64)
            ),
        )),
    }
}

#[cfg(test)]
mod tests;
