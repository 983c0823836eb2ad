//! The simulator's Alibaba Cloud wire protocol: the VPC RPC API (version 2016-04-28) and STS
//! `AssumeRoleWithOIDC` (2015-04-01) on `GET|POST /`, parameters in the query and/or a form body.
//!
//! Actions: `AllocateEipAddress`, `AssociateEipAddress`, `UnassociateEipAddress`,
//! `ReleaseEipAddress`, `DescribeEipAddresses`, `TagResources`, `AssumeRoleWithOIDC`.
//!
//! Requests are authenticated like the real cloud: V3 (`Authorization: ACS3-HMAC-SHA256 …`, any
//! set of signed headers) or V1 (`Signature` parameter, HMAC-SHA1) against the access keys of
//! [`SimAuth`](super::SimAuth) and the temporary keys `AssumeRoleWithOIDC` issued (which need
//! their security token). Timestamps more than 15 minutes off and reused nonces are refused.
//!
//! EIP actions run through the region's model (the same call log, rate limits and faults as
//! [`SimulatorProvider`](super::SimulatorProvider)). Attributes the model does not keep (name,
//! description, ISP, internet charge type, allocation time) and tags added by `TagResources`
//! live here, beside the model; `GET /admin/...` shows only the tags given at allocation.
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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::model::{self, Reply};
use super::{Flavor, Simulator, SimulatorProvider};
use crate::cloud::alibaba::signing::{self, V3Request};
use crate::cloud::{
    AllocateRequest, BindTarget, ChargeType, CloudEip, CloudError, CloudProvider, DESCRIBE_BATCH, InstanceType, OWNER_TAG, Operation,
};

/// VPC API version.
const VPC_VERSION: &str = "2016-04-28";
/// STS API version.
const STS_VERSION: &str = "2015-04-01";
/// How far a request's timestamp may be from the simulator's clock, and how long nonces are kept.
const MAX_SKEW: chrono::Duration = chrono::Duration::minutes(15);
/// Tags per request (`Tag.N`, N ≤ 20).
const MAX_TAGS: usize = 20;
const RESOURCE_GROUP: &str = "rg-sim-default";
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// The routes of the Alibaba wire protocol, for merging into the simulator's router.
pub fn routes(sim: Simulator) -> Router {
    let seed = sim.config().seed;
    let wire = Arc::new(Wire {
        sim,
        state: Mutex::new(WireState {
            rng: SmallRng::seed_from_u64(seed ^ 0xa11b_aba0_0000_0001),
            nonces: HashMap::new(),
            nonces_pruned: Utc::now(),
            temporary_keys: HashMap::new(),
            attrs: HashMap::new(),
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
    nonces: HashMap<(String, String), DateTime<Utc>>,
    /// When expired nonces were last dropped (at most once a second).
    nonces_pruned: DateTime<Utc>,
    /// Keys issued by `AssumeRoleWithOIDC`, by access key ID.
    temporary_keys: HashMap<String, TemporaryKey>,
    /// (region, allocation ID) → what the model does not keep.
    attrs: HashMap<(String, String), EipAttrs>,
}

struct TemporaryKey {
    secret: String,
    security_token: String,
    expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
struct EipAttrs {
    name: String,
    description: String,
    isp: String,
    internet_charge_type: String,
    allocation_time: DateTime<Utc>,
    /// Added by `TagResources`.
    tags: BTreeMap<String, String>,
}

impl EipAttrs {
    fn new(now: DateTime<Utc>) -> Self {
        EipAttrs {
            name: String::new(),
            description: String::new(),
            isp: "BGP".into(),
            internet_charge_type: "PayByBandwidth".into(),
            allocation_time: now,
            tags: BTreeMap::new(),
        }
    }
}

impl Wire {
    fn state(&self) -> MutexGuard<'_, WireState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
            format!("The specified parameter \"{parameter}\" is not valid: {value:?}."),
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
            retry_after_ms: error.retry_after.filter(|_| error.throttled).map(|d| d.as_millis().max(1)),
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
            if value.is_empty() {
                return Err(WireError::invalid(name, value));
            }
            let tag_value = self.params.get(&format!("{prefix}.{n}.Value")).cloned().unwrap_or_default();
            tags.insert(value.clone(), tag_value);
        }
        Ok(tags)
    }

    /// `Prefix.1`, `Prefix.2`, … in order.
    fn list(&self, prefix: &str) -> Vec<String> {
        let mut items: Vec<(usize, String)> = self
            .params
            .iter()
            .filter_map(|(name, value)| {
                let n = name.strip_prefix(prefix)?.strip_prefix('.')?.parse().ok()?;
                Some((n, value.clone())).filter(|(_, v)| !v.is_empty())
            })
            .collect();
        items.sort();
        items.into_iter().map(|(_, v)| v).collect()
    }
}

async fn handle(State(wire): State<Arc<Wire>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("vpc.aliyuncs.com")
        .to_owned();
    let query: BTreeMap<String, String> = signing::parse_form(uri.query().unwrap_or("")).into_iter().collect();
    let mut params = query.clone();
    let is_form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form && let Ok(text) = std::str::from_utf8(&body) {
        params.extend(signing::parse_form(text));
    }
    let call = Call {
        method,
        host,
        query,
        params,
        headers,
        body,
    };
    match dispatch(&wire, &call).await {
        Ok(answer) => {
            let mut body = serde_json::Map::new();
            body.insert("RequestId".into(), Value::String(answer.request_id.clone()));
            body.extend(answer.body);
            respond(StatusCode::OK, &answer.request_id, Value::Object(body), None)
        }
        Err(error) => {
            let request_id = error.request_id.clone().unwrap_or_else(|| wire.request_id());
            let body = json!({
                "RequestId": request_id,
                "HostId": call.host,
                "Code": error.code,
                "Message": error.message,
                "Recommend": format!("https://api.aliyun.com/troubleshoot?q={}&product=Vpc&requestId={request_id}", error.code),
            });
            respond(error.status(), &request_id, body, error.retry_after_ms)
        }
    }
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
            format!("Specified parameter Version {version:?} is not valid."),
        ));
    }
    match action.as_str() {
        "AllocateEipAddress" => allocate(wire, call).await,
        "AssociateEipAddress" => associate(wire, call).await,
        "UnassociateEipAddress" => unassociate(wire, call).await,
        "ReleaseEipAddress" => release(wire, call).await,
        "DescribeEipAddresses" => describe(wire, call).await,
        "TagResources" => tag_resources(wire, call),
        other => Err(WireError::new(
            "InvalidAction.NotFound",
            format!("Specified api {other:?} is not found, please check your url and method."),
        )),
    }
}

// ----- authentication -----

/// The secret of `access_key_id`, checking the security token of temporary keys.
fn secret_for(wire: &Wire, access_key_id: &str, security_token: Option<&str>) -> Result<String, WireError> {
    if let Some(key) = wire.sim.config().auth.access_keys.iter().find(|k| k.id == access_key_id) {
        return Ok(key.secret.clone());
    }
    let state = wire.state();
    let Some(temporary) = state.temporary_keys.get(access_key_id) else {
        return Err(WireError::new("InvalidAccessKeyId.NotFound", "Specified access key is not found."));
    };
    if temporary.expires_at <= Utc::now() {
        return Err(WireError::new(
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
        ));
    }
    match security_token {
        Some(token) if signing::constant_time_eq(token, &temporary.security_token) => Ok(temporary.secret.clone()),
        Some(_) => Err(WireError::new(
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Specified SecurityToken mismatch with the AccessKey.",
        )),
        None => Err(WireError::new(
            "InvalidSecurityToken.Missing",
            "A temporary access key needs its SecurityToken.",
        )),
    }
}

fn check_timestamp(raw: &str) -> Result<(), WireError> {
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| WireError::new("InvalidTimeStamp.Format", format!("Specified time stamp {raw:?} is not valid.")))?
        .with_timezone(&Utc);
    if (Utc::now() - at).abs() > MAX_SKEW {
        return Err(WireError::new(
            "InvalidTimeStamp.Expired",
            format!("Specified time stamp or date value is expired: {raw}."),
        ));
    }
    Ok(())
}

/// Records a nonce of a correctly signed request; a second use within the window is refused.
fn use_nonce(wire: &Wire, access_key_id: &str, nonce: &str) -> Result<(), WireError> {
    let now = Utc::now();
    let mut state = wire.state();
    if now - state.nonces_pruned > chrono::Duration::seconds(1) {
        state.nonces.retain(|_, at| now - *at <= MAX_SKEW);
        state.nonces_pruned = now;
    }
    let key = (access_key_id.to_owned(), nonce.to_owned());
    if state.nonces.contains_key(&key) {
        return Err(WireError::new("SignatureNonceUsed", "Specified signature nonce was used already."));
    }
    state.nonces.insert(key, now);
    Ok(())
}

fn authenticate(wire: &Wire, call: &Call) -> Result<(), WireError> {
    if let Some(authorization) = call.header("authorization") {
        return authenticate_v3(wire, call, authorization);
    }
    if call.params.contains_key("Signature") {
        return authenticate_v1(wire, call);
    }
    Err(WireError::new(
        "IncompleteSignature",
        "The request is not signed: no Authorization header and no Signature parameter.",
    ))
}

fn authenticate_v3(wire: &Wire, call: &Call, authorization: &str) -> Result<(), WireError> {
    let auth = signing::parse_v3_authorization(authorization).ok_or_else(|| {
        WireError::new(
            "IncompleteSignature",
            "The Authorization header is not ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=….",
        )
    })?;
    for required in ["x-acs-date", "x-acs-signature-nonce"] {
        if !auth.signed_headers.iter().any(|h| h == required) {
            return Err(WireError::new(
                "IncompleteSignature",
                format!("The header {required} must be signed."),
            ));
        }
    }
    let secret = secret_for(wire, &auth.access_key_id, call.header("x-acs-security-token"))?;
    let date = call.header("x-acs-date").ok_or_else(|| WireError::missing("x-acs-date"))?;
    check_timestamp(date)?;
    let nonce = call
        .header("x-acs-signature-nonce")
        .ok_or_else(|| WireError::missing("x-acs-signature-nonce"))?;
    let payload_hash = signing::sha256_hex(&call.body);
    if let Some(claimed) = call.header("x-acs-content-sha256")
        && !claimed.eq_ignore_ascii_case(&payload_hash)
    {
        return Err(WireError::new(
            "SignatureDoesNotMatch",
            "The x-acs-content-sha256 header does not match the request body.",
        ));
    }
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in &auth.signed_headers {
        let values: Vec<String> = call
            .headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        if values.is_empty() {
            return Err(WireError::new(
                "SignatureDoesNotMatch",
                format!("The signed header {name} is not in the request."),
            ));
        }
        headers.insert(name.clone(), values);
    }
    let signed = signing::v3_sign(
        &V3Request {
            method: call.method.as_str(),
            path: "/",
            query: &call.query,
            headers: &headers,
            payload_hash: &payload_hash,
        },
        &secret,
    );
    if !signing::constant_time_eq(&signed.signature, &auth.signature) {
        return Err(WireError::new(
            "SignatureDoesNotMatch",
            format!(
                "The request signature does not conform to Aliyun standards. server string to sign is:{}",
                signed.string_to_sign
            ),
        ));
    }
    use_nonce(wire, &auth.access_key_id, nonce)
}

fn authenticate_v1(wire: &Wire, call: &Call) -> Result<(), WireError> {
    let access_key_id = call.require("AccessKeyId")?;
    match call.get("SignatureMethod") {
        Some(signing::V1_METHOD) => {}
        Some(other) => {
            return Err(WireError::new(
                "InvalidParameter.SignatureMethod",
                format!("SignatureMethod {other:?} is not supported; use HMAC-SHA1."),
            ));
        }
        None => return Err(WireError::missing("SignatureMethod")),
    }
    let secret = secret_for(wire, access_key_id, call.get("SecurityToken"))?;
    check_timestamp(call.require("Timestamp")?)?;
    let nonce = call.require("SignatureNonce")?;
    let string_to_sign = signing::v1_string_to_sign(call.method.as_str(), &call.params);
    let expected = signing::v1_signature(&secret, &string_to_sign);
    let given = call.params.get("Signature").map(String::as_str).unwrap_or("");
    if !signing::constant_time_eq(&expected, given) {
        return Err(WireError::new(
            "SignatureDoesNotMatch",
            format!("Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"),
        ));
    }
    use_nonce(wire, access_key_id, nonce)
}

// ----- STS -----

fn assume_role_with_oidc(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    if let Some(version) = call.get("Version")
        && version != STS_VERSION
    {
        return Err(WireError::new(
            "InvalidVersion",
            format!("Specified parameter Version {version:?} is not valid."),
        ));
    }
    let role_arn = call.require("RoleArn")?.to_owned();
    call.require("OIDCProviderArn")?;
    call.require("OIDCToken")?;
    let session = call.get("RoleSessionName").unwrap_or("session").to_owned();
    let duration: i64 = match call.get("DurationSeconds") {
        None => 3600,
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|d| (900..=43_200).contains(d))
            .ok_or_else(|| WireError::invalid("DurationSeconds", raw))?,
    };
    let access_key_id = format!("STS.NSim{}", wire.random_string(20));
    let secret = wire.random_string(40);
    let security_token = format!("CAISsim{}", wire.random_string(80));
    let expires_at = Utc::now() + chrono::Duration::seconds(duration);
    {
        let now = Utc::now();
        let mut state = wire.state();
        state.temporary_keys.retain(|_, key| key.expires_at > now);
        state.temporary_keys.insert(
            access_key_id.clone(),
            TemporaryKey {
                secret: secret.clone(),
                security_token: security_token.clone(),
                expires_at,
            },
        );
    }
    let role_id = format!("3{:017}", wire.state().rng.random_range(0..100_000_000_000_000_000u64));
    Ok(Answer::new(
        wire.request_id(),
        json!({
            "AssumedRoleUser": {
                "AssumedRoleId": format!("{role_id}:{session}"),
                "Arn": format!("{role_arn}/{session}"),
            },
            "OIDCTokenInfo": {"Subject": "system:serviceaccount:sim:sim", "Issuer": "https://oidc.sim.local", "ClientIds": "sts.aliyuncs.com"},
            "Credentials": {
                "AccessKeyId": access_key_id,
                "AccessKeySecret": secret,
                "SecurityToken": security_token,
                "Expiration": expires_at.format(TIME_FORMAT).to_string(),
            },
        }),
    ))
}

// ----- EIP actions -----

/// The provider of an Alibaba-flavoured region (`RegionId`, or cn-hangzhou for the calls that
/// make it optional).
fn region(wire: &Wire, call: &Call, optional: bool) -> Result<SimulatorProvider, WireError> {
    let name = match call.get("RegionId") {
        Some(name) => name,
        None if optional => "cn-hangzhou",
        None => return Err(WireError::missing("RegionId")),
    };
    match wire.sim.provider(name) {
        Ok(provider) if provider.flavor() == Flavor::Alibaba => Ok(provider),
        _ => Err(WireError::new(
            "Forbidden.RegionNotFound",
            format!("Specified region {name:?} is not found during access authentication."),
        )),
    }
}

fn parse_instance_type(raw: &str) -> Result<InstanceType, WireError> {
    match raw {
        "EcsInstance" => Ok(InstanceType::EcsInstance),
        "NetworkInterface" => Ok(InstanceType::NetworkInterface),
        "Nat" => Ok(InstanceType::Nat),
        "SlbInstance" => Ok(InstanceType::SlbInstance),
        "HaVip" => Ok(InstanceType::HaVip),
        "IpAddress" => Ok(InstanceType::IpAddress),
        other => Err(WireError::new(
            "InvalidInstanceType.ValueNotSupported",
            format!("The specified value of InstanceType {other:?} is not supported."),
        )),
    }
}

fn one_of(call: &Call, name: &str, allowed: &[&str]) -> Result<Option<String>, WireError> {
    match call.get(name) {
        None => Ok(None),
        Some(value) if allowed.contains(&value) => Ok(Some(value.to_owned())),
        Some(value) => Err(WireError::invalid(name, value)),
    }
}

async fn allocate(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, false)?;
    let bandwidth_mbps = match call.get("Bandwidth") {
        None => None,
        Some(raw) => Some(raw.trim().parse::<u32>().map_err(|_| WireError::invalid("Bandwidth", raw))?),
    };
    let charge_type = match one_of(call, "InstanceChargeType", &["PostPaid", "PrePaid"])?.as_deref() {
        Some("PrePaid") => ChargeType::PrePaid,
        _ => ChargeType::PostPaid,
    };
    let request = AllocateRequest {
        client_token: call.get("ClientToken").unwrap_or_default().to_owned(),
        bandwidth_mbps,
        charge_type,
        internet_charge_type: one_of(call, "InternetChargeType", &["PayByBandwidth", "PayByTraffic"])?,
        isp: call.get("ISP").map(str::to_owned),
        name: call.get("Name").map(str::to_owned),
        description: call.get("Description").map(str::to_owned),
        tags: call.tags("Tag")?,
    };
    let allocated = provider.allocate(&request).await?;
    let eip = allocated.eip;
    {
        let mut state = wire.state();
        let key = (provider.region().to_owned(), eip.allocation_id.clone());
        // A replay keeps the attributes of the original allocation.
        state.attrs.entry(key).or_insert_with(|| EipAttrs {
            name: request.name.clone().unwrap_or_default(),
            description: request.description.clone().unwrap_or_default(),
            isp: request.isp.clone().unwrap_or_else(|| "BGP".into()),
            internet_charge_type: request.internet_charge_type.clone().unwrap_or_else(|| "PayByBandwidth".into()),
            ..EipAttrs::new(Utc::now())
        });
    }
    let mut body = json!({
        "AllocationId": eip.allocation_id,
        "EipAddress": eip.ip_address,
        "ResourceGroupId": RESOURCE_GROUP,
    });
    if charge_type == ChargeType::PrePaid {
        body["OrderId"] = json!(format!("2{:014}", model::fnv64(eip.allocation_id.as_bytes()) % 100_000_000_000_000));
    }
    Ok(Answer::new(allocated.receipt.request_id, body))
}

async fn associate(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, false)?;
    let allocation_id = call.require("AllocationId")?;
    let target = BindTarget {
        instance_type: parse_instance_type(call.get("InstanceType").unwrap_or("EcsInstance"))?,
        instance_id: call.require("InstanceId")?.to_owned(),
        private_ip_address: call.get("PrivateIpAddress").map(str::to_owned),
    };
    let receipt = provider
        .associate(allocation_id, &target, call.get("ClientToken").unwrap_or_default())
        .await?;
    Ok(Answer::new(receipt.request_id, json!({})))
}

async fn unassociate(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, true)?;
    let allocation_id = call.require("AllocationId")?;
    let current = match call.get("InstanceId") {
        Some(instance_id) => BindTarget {
            instance_type: parse_instance_type(call.get("InstanceType").unwrap_or("EcsInstance"))?,
            instance_id: instance_id.to_owned(),
            private_ip_address: call.get("PrivateIpAddress").map(str::to_owned),
        },
        // Without an instance the call means "whatever it is bound to".
        None => wire
            .sim
            .eip(provider.region(), allocation_id)
            .and_then(|eip| eip.bound_to)
            .unwrap_or(BindTarget {
                instance_type: InstanceType::EcsInstance,
                instance_id: String::new(),
                private_ip_address: None,
            }),
    };
    let force = match call.get("Force") {
        None => false,
        Some(raw) if raw.eq_ignore_ascii_case("true") => true,
        Some(raw) if raw.eq_ignore_ascii_case("false") => false,
        Some(raw) => return Err(WireError::invalid("Force", raw)),
    };
    let receipt = provider
        .unassociate(allocation_id, &current, force, call.get("ClientToken").unwrap_or_default())
        .await?;
    Ok(Answer::new(receipt.request_id, json!({})))
}

async fn release(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, true)?;
    let allocation_id = call.require("AllocationId")?;
    let receipt = provider.release(allocation_id, call.get("ClientToken").unwrap_or_default()).await?;
    Ok(Answer::new(receipt.request_id, json!({})))
}

fn comma_list(call: &Call, name: &str) -> Vec<String> {
    call.get(name)
        .map(|raw| raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn page_param(call: &Call, name: &str, default: usize, max: usize) -> Result<usize, WireError> {
    match call.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| WireError::invalid(name, raw)),
    }
}

async fn describe(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, false)?;
    let region_name = provider.region().to_owned();
    let page_number = page_param(call, "PageNumber", 1, usize::MAX)?;
    let page_size = page_param(call, "PageSize", 10, 100)?;
    let ids = comma_list(call, "AllocationId");
    if ids.len() > DESCRIBE_BATCH {
        return Err(WireError::new(
            "InvalidParameter.AllocationId",
            format!("At most {DESCRIBE_BATCH} AllocationIds are allowed."),
        ));
    }
    let addresses = comma_list(call, "EipAddress");
    let tag_filter = call.tags("Tag")?;
    let operation = if ids.is_empty() && tag_filter.len() == 1 && tag_filter.contains_key(OWNER_TAG) {
        Operation::FindByOwner
    } else {
        Operation::Describe
    };
    let (eips, request_id) = wire
        .sim
        .call(&region_name, operation, ids.clone(), "", |region, ctx| {
            let eips = if ids.is_empty() {
                region.all(ctx.now)
            } else {
                region.describe(ctx, &ids).value
            };
            Ok(Reply::new((eips, ctx.request_id.clone()), ctx))
        })
        .await?;

    let now = Utc::now();
    let mut rows: Vec<(CloudEip, EipAttrs)> = {
        let mut state = wire.state();
        if ids.is_empty() {
            // The whole region was listed: forget attributes of EIPs that are gone.
            let live: std::collections::HashSet<&str> = eips.iter().map(|e| e.allocation_id.as_str()).collect();
            state
                .attrs
                .retain(|(region, id), _| region != &region_name || live.contains(id.as_str()));
        }
        eips.into_iter()
            .map(|mut eip| {
                let attrs = state
                    .attrs
                    .entry((region_name.clone(), eip.allocation_id.clone()))
                    .or_insert_with(|| EipAttrs::new(now))
                    .clone();
                eip.tags.extend(attrs.tags.clone());
                (eip, attrs)
            })
            .collect()
    };
    let status = call.get("Status");
    let instance_type = call.get("AssociatedInstanceType");
    let instance_id = call.get("AssociatedInstanceId");
    let charge_type = call.get("ChargeType");
    let name = call.get("EipName");
    let isp = call.get("ISP");
    rows.retain(|(eip, attrs)| {
        (addresses.is_empty() || addresses.contains(&eip.ip_address))
            && status.is_none_or(|s| eip.raw_state == s)
            && instance_type.is_none_or(|t| eip.bound_to.as_ref().is_some_and(|b| b.instance_type.as_str() == t))
            && instance_id.is_none_or(|i| eip.bound_to.as_ref().is_some_and(|b| b.instance_id == i))
            && charge_type.is_none_or(|c| charge_type_str(eip.charge_type) == c)
            && name.is_none_or(|n| attrs.name == n)
            && isp.is_none_or(|i| attrs.isp == i)
            && tag_filter.iter().all(|(k, v)| eip.tags.get(k) == Some(v))
    });
    let total = rows.len();
    let start = page_number.saturating_sub(1).saturating_mul(page_size);
    let items: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(page_size)
        .map(|(eip, attrs)| render_eip(&region_name, eip, attrs))
        .collect();
    Ok(Answer::new(
        request_id,
        json!({
            "PageNumber": page_number,
            "PageSize": page_size,
            "TotalCount": total,
            "EipAddresses": {"EipAddress": items},
        }),
    ))
}

fn charge_type_str(charge_type: ChargeType) -> &'static str {
    match charge_type {
        ChargeType::PostPaid => "PostPaid",
        ChargeType::PrePaid => "PrePaid",
    }
}

fn render_eip(region: &str, eip: &CloudEip, attrs: &EipAttrs) -> Value {
    let (instance_type, instance_id, private_ip) = match &eip.bound_to {
        Some(b) => (
            b.instance_type.as_str(),
            b.instance_id.as_str(),
            b.private_ip_address.as_deref().unwrap_or(""),
        ),
        None => ("", "", ""),
    };
    let bandwidth = eip.bandwidth_mbps.unwrap_or(5).to_string();
    let expired_time = match eip.charge_type {
        ChargeType::PrePaid => (attrs.allocation_time + chrono::Duration::days(30)).format(TIME_FORMAT).to_string(),
        ChargeType::PostPaid => String::new(),
    };
    json!({
        "AllocationId": eip.allocation_id,
        "IpAddress": eip.ip_address,
        "Status": eip.raw_state,
        "InstanceId": instance_id,
        "InstanceType": instance_type,
        "InstanceRegionId": if instance_id.is_empty() { "" } else { region },
        "PrivateIpAddress": private_ip,
        "Mode": if instance_id.is_empty() { "" } else { "NAT" },
        "RegionId": region,
        "Name": attrs.name,
        "Description": attrs.description,
        "ChargeType": charge_type_str(eip.charge_type),
        "InternetChargeType": attrs.internet_charge_type,
        "Bandwidth": bandwidth,
        "EipBandwidth": bandwidth,
        "BusinessStatus": if eip.locks.is_empty() { "Normal" } else { "FinancialLocked" },
        "OperationLocks": {"LockReason": eip.locks.iter().map(|r| json!({"LockReason": r})).collect::<Vec<_>>()},
        "DeletionProtection": false,
        "Tags": {"Tag": eip.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()},
        "AllocationTime": attrs.allocation_time.format(TIME_FORMAT).to_string(),
        "ExpiredTime": expired_time,
        "ISP": attrs.isp,
        "Netmode": "public",
        "ResourceGroupId": RESOURCE_GROUP,
        "SecondLimited": false,
        "HDMonitorStatus": "OFF",
        "HasReservationData": "false",
        "ServiceManaged": 0,
    })
}

fn tag_resources(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let provider = region(wire, call, false)?;
    let resource_type = call.require("ResourceType")?;
    if !resource_type.eq_ignore_ascii_case("EIP") {
        return Err(WireError::invalid("ResourceType", resource_type));
    }
    let ids = call.list("ResourceId");
    if ids.is_empty() {
        return Err(WireError::missing("ResourceId.1"));
    }
    if ids.len() > 50 {
        return Err(WireError::new("InvalidParameter.ResourceId", "At most 50 ResourceIds are allowed."));
    }
    let tags = call.tags("Tag")?;
    if tags.is_empty() {
        return Err(WireError::missing("Tag.1.Key"));
    }
    let region_name = provider.region().to_owned();
    let mut known = Vec::new();
    for id in &ids {
        match wire.sim.eip(&region_name, id) {
            Some(eip) => known.push(eip),
            None => {
                return Err(WireError::new(
                    "InvalidResourceId.NotFound",
                    format!("The specified resource {id} is not found."),
                ));
            }
        }
    }
    let now = Utc::now();
    let mut state = wire.state();
    for eip in &known {
        let mut merged = eip.tags.clone();
        if let Some(attrs) = state.attrs.get(&(region_name.clone(), eip.allocation_id.clone())) {
            merged.extend(attrs.tags.clone());
        }
        merged.extend(tags.clone());
        if merged.len() > MAX_TAGS {
            return Err(WireError::new(
                "QuotaExceeded.TagNum",
                format!("An EIP can have at most {MAX_TAGS} tags."),
            ));
        }
    }
    for eip in known {
        state
            .attrs
            .entry((region_name.clone(), eip.allocation_id))
            .or_insert_with(|| EipAttrs::new(now))
            .tags
            .extend(tags.clone());
    }
    drop(state);
    Ok(Answer::new(wire.request_id(), json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::AlibabaSignatureVersion;
    use crate::cloud::alibaba::client::{self, Endpoint, RpcClient};
    use crate::cloud::alibaba::credentials::{Credentials, parse_sts_credentials};
    use crate::cloud::simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, SimulatorConfig};

    async fn serve() -> (Simulator, Endpoint) {
        let sim = Simulator::new(SimulatorConfig::instant().with_seed(5));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("address");
        let router = super::super::server::router(sim.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        (sim, Endpoint::parse(&format!("http://{addr}")).expect("endpoint"))
    }

    fn sim_keys() -> Credentials {
        Credentials {
            access_key_id: SIM_ACCESS_KEY_ID.into(),
            access_key_secret: SIM_ACCESS_KEY_SECRET.into(),
            security_token: None,
        }
    }

    fn describe_params() -> BTreeMap<String, String> {
        BTreeMap::from([("RegionId".to_owned(), "cn-hangzhou".to_owned())])
    }

    async fn send(request: reqwest::RequestBuilder) -> Result<Value, CloudError> {
        client::execute(Operation::Describe, request).await
    }

    #[tokio::test]
    async fn temporary_keys_need_their_security_token() {
        let (_sim, endpoint) = serve().await;
        let http = client::http_client().expect("client");
        let answer = http
            .post(endpoint.url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body("Action=AssumeRoleWithOIDC&Version=2015-04-01&RoleArn=acs%3Aram%3A%3A1%3Arole%2Fr&OIDCProviderArn=p&OIDCToken=t&DurationSeconds=900")
            .send()
            .await
            .expect("sends");
        assert_eq!(answer.status().as_u16(), 200);
        let body: Value = answer.json().await.expect("JSON");
        let (temporary, expires_at) = parse_sts_credentials(Operation::Describe, &body).expect("credentials");
        assert!(temporary.access_key_id.starts_with("STS."));
        assert!(expires_at > Utc::now() + chrono::Duration::minutes(14));

        for version in [AlibabaSignatureVersion::V3, AlibabaSignatureVersion::V1] {
            let rpc = RpcClient::new(http.clone(), endpoint.clone(), version);
            rpc.call(Operation::Describe, "DescribeEipAddresses", describe_params(), &temporary)
                .await
                .expect("accepted with the token");
            let without = Credentials {
                security_token: None,
                ..temporary.clone()
            };
            let err = rpc
                .call(Operation::Describe, "DescribeEipAddresses", describe_params(), &without)
                .await
                .expect_err("no token");
            assert_eq!(err.code, "InvalidSecurityToken.Missing");
            let wrong = Credentials {
                security_token: Some("CAISnotit".into()),
                ..temporary.clone()
            };
            let err = rpc
                .call(Operation::Describe, "DescribeEipAddresses", describe_params(), &wrong)
                .await
                .expect_err("wrong token");
            assert_eq!(err.code, "InvalidSecurityToken.MismatchWithAccessKey");
        }

        // STS itself wants its parameters.
        let answer = http
            .post(format!("{}?Action=AssumeRoleWithOIDC&RoleArn=r", endpoint.url))
            .send()
            .await
            .expect("sends");
        assert_eq!(answer.status().as_u16(), 400);
    }

    #[tokio::test]
    async fn replays_and_stale_requests_are_refused() {
        let (_sim, endpoint) = serve().await;
        let http = client::http_client().expect("client");
        for version in [AlibabaSignatureVersion::V3, AlibabaSignatureVersion::V1] {
            let rpc = RpcClient::new(http.clone(), endpoint.clone(), version);
            let build = |date: &str, nonce: &str| match version {
                AlibabaSignatureVersion::V3 => rpc.build_v3("DescribeEipAddresses", describe_params(), &sim_keys(), date, nonce),
                AlibabaSignatureVersion::V1 => rpc.build_v1("DescribeEipAddresses", describe_params(), &sim_keys(), date, nonce),
            };
            let now = client::timestamp();
            let nonce = client::nonce();
            send(build(&now, &nonce)).await.expect("first use");
            let err = send(build(&now, &nonce)).await.expect_err("replayed");
            assert_eq!(err.code, "SignatureNonceUsed");
            let err = send(build("2020-01-01T00:00:00Z", &client::nonce())).await.expect_err("stale");
            assert_eq!(err.code, "InvalidTimeStamp.Expired");
        }
    }

    #[tokio::test]
    async fn malformed_calls_are_refused() {
        let (_sim, endpoint) = serve().await;
        let http = client::http_client().expect("client");
        let rpc = RpcClient::new(http.clone(), endpoint.clone(), AlibabaSignatureVersion::V3);
        let cases: Vec<(&str, BTreeMap<String, String>, &str)> = vec![
            ("DescribeEipAddresses", BTreeMap::new(), "MissingParameter"),
            (
                "DescribeEipAddresses",
                BTreeMap::from([("RegionId".into(), "eu-de".into())]),
                "Forbidden.RegionNotFound",
            ),
            ("DeleteEverything", describe_params(), "InvalidAction.NotFound"),
            (
                "DescribeEipAddresses",
                BTreeMap::from([("RegionId".into(), "cn-hangzhou".into()), ("PageSize".into(), "101".into())]),
                "InvalidParameter",
            ),
            (
                "AssociateEipAddress",
                BTreeMap::from([
                    ("RegionId".into(), "cn-hangzhou".into()),
                    ("AllocationId".into(), "eip-x".into()),
                    ("InstanceId".into(), "port-1".into()),
                    ("InstanceType".into(), "Port".into()),
                ]),
                "InvalidInstanceType.ValueNotSupported",
            ),
            (
                "TagResources",
                BTreeMap::from([
                    ("RegionId".into(), "cn-hangzhou".into()),
                    ("ResourceType".into(), "EIP".into()),
                    ("ResourceId.1".into(), "eip-missing".into()),
                    ("Tag.1.Key".into(), "k".into()),
                    ("Tag.1.Value".into(), "v".into()),
                ]),
                "InvalidResourceId.NotFound",
            ),
        ];
        for (action, params, code) in cases {
            let err = rpc.call(Operation::Describe, action, params, &sim_keys()).await.expect_err(action);
            assert_eq!(err.code, code, "{action}");
            assert!(err.request_id.is_some());
        }
        // Unsigned requests are refused.
        let answer = http
            .get(format!("{}?Action=DescribeEipAddresses&RegionId=cn-hangzhou", endpoint.url))
            .send()
            .await
            .expect("sends");
        assert_eq!(answer.status().as_u16(), 400);
        assert!(answer.headers().contains_key("x-acs-request-id"));
    }

    #[tokio::test]
    async fn unassociate_without_an_instance_means_whatever_it_is_bound_to() {
        let (sim, endpoint) = serve().await;
        let http = client::http_client().expect("client");
        let rpc = RpcClient::new(http, endpoint, AlibabaSignatureVersion::V1);
        let eip = sim
            .seed_eip(
                "cn-hangzhou",
                model::SeedEip {
                    bound_to: Some(BindTarget {
                        instance_type: InstanceType::HaVip,
                        instance_id: "havip-sim-0001".into(),
                        private_ip_address: None,
                    }),
                    ..model::SeedEip::default()
                },
            )
            .expect("seeds");
        let params = BTreeMap::from([
            ("RegionId".to_owned(), "cn-hangzhou".to_owned()),
            ("AllocationId".to_owned(), eip.allocation_id.clone()),
        ]);
        rpc.call(Operation::Unassociate, "UnassociateEipAddress", params, &sim_keys())
            .await
            .expect("unbinds");
        assert_eq!(sim.eip("cn-hangzhou", &eip.allocation_id).and_then(|e| e.bound_to), None);
    }
}
