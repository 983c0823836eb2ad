//! The simulator's Amazon EC2 wire protocol: the EC2 Query API (version 2016-11-15) and STS
//! `AssumeRoleWithWebIdentity` (2011-06-15), form-encoded `POST /aws/` (or `/aws`), XML answers.
//!
//! Actions: `AllocateAddress`, `DescribeAddresses`, `AssociateAddress`, `DisassociateAddress`,
//! `ReleaseAddress`, `CreateTags`, `DeleteTags`, `AssumeRoleWithWebIdentity`.
//!
//! Requests are authenticated like EC2: SigV4 (`Authorization: AWS4-HMAC-SHA256 …`, any set of
//! signed headers that includes `host` and `x-amz-date`, the body's SHA-256) against the access
//! keys of [`SimAuth`](super::SimAuth) and the temporary keys `AssumeRoleWithWebIdentity` issued
//! (which need their `x-amz-security-token`). The region is the one of the signature's
//! credential scope, as on EC2, and must be an AWS-flavoured region. Requests signed more than
//! 5 minutes off are `RequestExpired`.
//!
//! The address actions run through the region's model: the same call log, rate limits, faults
//! and state machine as [`SimulatorProvider`](super::SimulatorProvider) (an AWS region completes
//! every call within it). `CreateTags`/`DeleteTags` are logged as `Tag`/`Untag`; a
//! `DescribeAddresses` whose only filter is the owner tag as `FindByOwner`, one without any as `List`.
//!
//! Association IDs: EC2 issues one per association; the simulator derives it from the address
//! and what it is bound to (`eipassoc-` and 17 hex digits), so the same binding made again gets
//! the same ID. `DisassociateAddress` finds the address by it.
//!
//! | answer | HTTP status |
//! | --- | --- |
//! | success | 200 |
//! | `AuthFailure`, `MissingAuthenticationToken` | 401 |
//! | `SignatureDoesNotMatch`, `UnauthorizedOperation` | 403 |
//! | `RequestLimitExceeded`, `Unavailable` | 503 |
//! | `InternalError` | 500 |
//! | everything else | 400 |
//!
//! Errors are `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`
//! (STS: `<ErrorResponse>`); every answer carries `x-amzn-requestid`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::Simulator;
use super::limits::{self, MAX_ID_LEN};
use super::model;
use eip_cloud::CloudError;

mod actions;
mod auth;

/// EC2 API version.
const EC2_VERSION: &str = "2016-11-15";
/// STS API version.
const STS_VERSION: &str = "2011-06-15";
const EC2_XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";
/// Parameters per request.
const MAX_PARAMS: usize = 1000;
/// Tags per request (`Tag.N`), and per address on EC2.
const MAX_TAGS: usize = 50;
/// Tag keys: 1-128 characters; values 0-256.
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;
/// Temporary keys kept at once; beyond it `AssumeRoleWithWebIdentity` is throttled.
const MAX_TEMPORARY_KEYS: usize = 10_000;

/// The routes of the EC2 wire protocol, for merging into the simulator's router.
pub fn routes(sim: Simulator) -> Router {
    let seed = sim.config().seed;
    let wire = Arc::new(Wire {
        sim,
        state: Mutex::new(WireState {
            rng: SmallRng::seed_from_u64(seed ^ 0xa5ec_2000_0000_0001),
            temporary_keys: HashMap::new(),
        }),
    });
    Router::new()
        .route("/aws", post(handle))
        .route("/aws/", post(handle))
        .with_state(wire)
}

struct Wire {
    sim: Simulator,
    state: Mutex<WireState>,
}

struct WireState {
    rng: SmallRng,
    /// Keys issued by `AssumeRoleWithWebIdentity`, by access key ID.
    temporary_keys: HashMap<String, TemporaryKey>,
}

struct TemporaryKey {
    secret: String,
    session_token: String,
    expires_at: jiff::Timestamp,
}

impl Wire {
    fn state(&self) -> MutexGuard<'_, WireState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn request_id(&self) -> String {
        let bits: u128 = self.state().rng.random();
        model::format_uuid(bits, false)
    }

    fn random_string(&self, alphabet: &[u8], len: usize) -> String {
        let mut state = self.state();
        (0..len)
            .map(|_| char::from(alphabet[state.rng.random_range(0..alphabet.len())]))
            .collect()
    }
}

/// A refused request, rendered as EC2's (or STS's) error body.
#[derive(Debug)]
struct WireError {
    code: String,
    message: String,
    request_id: Option<String>,
}

impl WireError {
    fn new(code: &str, message: impl Into<String>) -> Self {
        WireError {
            code: code.to_owned(),
            message: message.into(),
            request_id: None,
        }
    }

    fn missing(parameter: &str) -> Self {
        WireError::new(
            "MissingParameter",
            format!("The request must contain the parameter {}", limits::truncate(parameter, 64)),
        )
    }

    fn invalid(parameter: &str, value: &str) -> Self {
        WireError::new(
            "InvalidParameterValue",
            format!(
                "Value ({}) for parameter {} is invalid.",
                limits::truncate(value, 64),
                limits::truncate(parameter, 64)
            ),
        )
    }

    fn status(&self) -> StatusCode {
        match self.code.as_str() {
            "AuthFailure" | "MissingAuthenticationToken" => StatusCode::UNAUTHORIZED,
            "SignatureDoesNotMatch" | "UnauthorizedOperation" => StatusCode::FORBIDDEN,
            "RequestLimitExceeded" | "Unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "InternalError" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<CloudError> for WireError {
    fn from(error: CloudError) -> Self {
        WireError {
            code: error.code,
            message: error.message,
            request_id: error.request_id,
        }
    }
}

/// XML text with the five special characters escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `<name>text</name>`, escaped.
fn element(name: &str, text: &str) -> String {
    format!("<{name}>{}</{name}>", escape(text))
}

/// A success answer: the elements inside `<{Action}Response>`, after `requestId`.
struct Answer {
    request_id: String,
    inner: String,
}

fn xml_response(status: StatusCode, request_id: &str, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("text/xml;charset=UTF-8"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", value);
    }
    response
}

/// One request's parameters (query and form body merged).
struct Call {
    method: Method,
    path: String,
    query: String,
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

    /// A mandatory ID parameter (at most [`MAX_ID_LEN`] bytes).
    fn require_id(&self, name: &str) -> Result<&str, WireError> {
        let value = self.require(name)?;
        if value.len() > MAX_ID_LEN {
            return Err(WireError::invalid(name, value));
        }
        Ok(value)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty())
    }

    /// `Prefix.1`, `Prefix.2`, … in numeric order (empty values skipped), each bounded.
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
        if let Some((_, v)) = items.iter().find(|(_, v)| v.len() > MAX_ID_LEN) {
            return Err(WireError::invalid(prefix, v));
        }
        Ok(items.into_iter().map(|(_, v)| v).collect())
    }

    /// `{prefix}Tag.N.Key` / `{prefix}Tag.N.Value` as a map; `values` false reads keys only
    /// (DeleteTags may name a value; the simulator deletes by key).
    fn tags(&self, prefix: &str) -> Result<BTreeMap<String, String>, WireError> {
        let mut tags = BTreeMap::new();
        let head = format!("{prefix}Tag.");
        for (name, key) in &self.params {
            let Some(n) = name.strip_prefix(&head).and_then(|rest| rest.strip_suffix(".Key")) else {
                continue;
            };
            if n.parse::<usize>().is_err() {
                return Err(WireError::invalid(name, n));
            }
            if key.is_empty() || key.chars().count() > MAX_TAG_KEY || key.starts_with("aws:") {
                return Err(WireError::new(
                    "InvalidParameterValue",
                    format!(
                        "Tag key {:?} must be 1-{MAX_TAG_KEY} characters and not start with aws:",
                        limits::truncate(key, 64)
                    ),
                ));
            }
            let value = self.params.get(&format!("{head}{n}.Value")).cloned().unwrap_or_default();
            if value.chars().count() > MAX_TAG_VALUE {
                return Err(WireError::new(
                    "InvalidParameterValue",
                    format!("Tag values are at most {MAX_TAG_VALUE} characters."),
                ));
            }
            tags.insert(key.clone(), value);
        }
        if tags.len() > MAX_TAGS {
            return Err(WireError::new("TagLimitExceeded", format!("At most {MAX_TAGS} tags per request.")));
        }
        Ok(tags)
    }
}

async fn handle(State(wire): State<Arc<Wire>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let call = match parse_call(method, &uri, headers, body) {
        Ok(call) => call,
        Err(error) => return error_answer(&wire, false, error),
    };
    let sts = call.get("Action") == Some("AssumeRoleWithWebIdentity");
    let result = if sts {
        auth::assume_role_with_web_identity(&wire, &call)
    } else {
        dispatch(&wire, &call).await
    };
    match result {
        Ok(answer) => {
            let action = call.get("Action").unwrap_or_default();
            let body = if sts {
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?>
<{action}Response xmlns="https://sts.amazonaws.com/doc/{STS_VERSION}/">{}<ResponseMetadata>{}</ResponseMetadata></{action}Response>"#,
                    answer.inner,
                    element("RequestId", &answer.request_id)
                )
            } else {
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?>
<{action}Response xmlns="{EC2_XMLNS}">{}{}</{action}Response>"#,
                    element("requestId", &answer.request_id),
                    answer.inner
                )
            };
            xml_response(StatusCode::OK, &answer.request_id, body)
        }
        Err(error) => error_answer(&wire, sts, error),
    }
}

/// The parameters of a request: its query and its form body (at most [`MAX_PARAMS`] in all).
fn parse_call(method: Method, uri: &Uri, headers: HeaderMap, body: Bytes) -> Result<Call, WireError> {
    let query = uri.query().unwrap_or("").to_owned();
    let form = std::str::from_utf8(&body).map_err(|_| WireError::new("MalformedQueryString", "The request body is not UTF-8."))?;
    let pairs: Vec<(String, String)> = eip_alibaba::signing::parse_form(&query)
        .into_iter()
        .chain(eip_alibaba::signing::parse_form(form))
        .collect();
    if pairs.len() > MAX_PARAMS {
        return Err(WireError::new(
            "InvalidParameterValue",
            format!("A request may carry at most {MAX_PARAMS} parameters."),
        ));
    }
    Ok(Call {
        method,
        path: uri.path().to_owned(),
        query,
        params: pairs.into_iter().collect(),
        headers,
        body,
    })
}

fn error_answer(wire: &Wire, sts: bool, error: WireError) -> Response {
    let request_id = error.request_id.clone().unwrap_or_else(|| wire.request_id());
    let body = if sts {
        format!(
            r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/{STS_VERSION}/"><Error><Type>Sender</Type>{}{}</Error>{}</ErrorResponse>"#,
            element("Code", &error.code),
            element("Message", &error.message),
            element("RequestId", &request_id)
        )
    } else {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error>{}{}</Error></Errors>{}</Response>"#,
            element("Code", &error.code),
            element("Message", &error.message),
            element("RequestID", &request_id)
        )
    };
    xml_response(error.status(), &request_id, body)
}

async fn dispatch(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    let action = call.require("Action")?.to_owned();
    let region = auth::authenticate(wire, call)?;
    match call.get("Version") {
        Some(EC2_VERSION) => {}
        Some(other) => return Err(WireError::invalid("Version", other)),
        None => return Err(WireError::missing("Version")),
    }
    let provider = match wire.sim.provider(&region) {
        Ok(provider) if provider.flavor() == super::Flavor::Aws => provider,
        _ => {
            return Err(WireError::new(
                "AuthFailure",
                format!(
                    "Credential should be scoped to a valid region, not {:?}.",
                    limits::truncate(&region, 64)
                ),
            ));
        }
    };
    match action.as_str() {
        "AllocateAddress" => actions::allocate(&provider, call).await,
        "DescribeAddresses" => actions::describe(wire, &provider, call).await,
        "AssociateAddress" => actions::associate(wire, &provider, call).await,
        "DisassociateAddress" => actions::disassociate(wire, &provider, call).await,
        "ReleaseAddress" => actions::release(&provider, call).await,
        "CreateTags" => actions::create_tags(wire, &provider, call).await,
        "DeleteTags" => actions::delete_tags(wire, &provider, call).await,
        other => Err(WireError::new(
            "InvalidAction",
            format!("The action {} is not valid for this web service.", limits::truncate(other, 64)),
        )),
    }
}

#[cfg(test)]
mod tests;
