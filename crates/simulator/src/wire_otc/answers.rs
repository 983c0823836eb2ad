//! The answers of the OTC / Huawei routes: success bodies with `X-Request-Id`, the error bodies
//! of each API family, and why a route refuses ([`Invalid`], [`Refused`]).

use super::*;

/// Why a request is refused with a 400 `VPC.0501` (IAM: a 400 in its own format) before it
/// reaches the model.
#[derive(Debug, thiserror::Error)]
pub(super) enum Invalid {
    #[error("invalid request body: {0}")]
    Body(serde_json::Error),
    #[error("Invalid limit {0:?}: must be 1-{max}.", max = MAX_PAGE)]
    Limit(String),
    #[error("At most {max} id filters are allowed.", max = MAX_PAGE)]
    TooManyFilters,
    /// An ID (or marker) longer than [`MAX_ID_LEN`].
    #[error("Invalid {0}: at most {max} characters.", max = MAX_ID_LEN)]
    TooLong(&'static str),
    #[error("No new EIPs of type 5_gray can be assigned in eu-de; use 5_bgp.")]
    GrayInEuDe,
    #[error("Type 5_gray is not available in eu-nl.")]
    GrayInEuNl,
    #[error("Invalid publicip type {0:?}.")]
    EipType(String),
    #[error("Invalid ip_version {0}.")]
    IpVersion(u8),
    #[error("Invalid alias: 1-64 letters, digits, '_', '-' or '.'.")]
    Alias,
    #[error("Shared (WHOLE) bandwidths are not simulated; use PER.")]
    SharedBandwidth,
    #[error("Invalid bandwidth share_type {0:?}.")]
    ShareType(Option<String>),
    #[error("Invalid bandwidth name: 1-64 letters, digits, '_', '-' or '.'.")]
    BandwidthName,
    #[error("bandwidth.size is required.")]
    MissingSize,
    #[error("Invalid bandwidth charge_mode {0:?}.")]
    ChargeMode(String),
    /// An alias in an update.
    #[error("Invalid alias.")]
    RenameAlias,
    #[error("port_id must be a string.")]
    PortNotString,
    #[error("Invalid associate_instance_type {0:?}.")]
    InstanceType(String),
    #[error("publicip_ids must name 1-{max} EIPs.", max = MAX_BATCH)]
    BatchSize,
    #[error("Invalid tag {0:?}: keys 1-36 of A-Za-z0-9_-, values up to 43 of A-Za-z0-9_.-")]
    Tag(String),
    #[error("Invalid action {0:?}: create or delete.")]
    TagAction(String),
}

pub(super) fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

pub(super) fn json_answer(status: StatusCode, body: Value, request_id: &str) -> Response {
    with_request_id((status, axum::Json(body)).into_response(), request_id)
}

pub(super) fn gateway_error(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    json_answer(
        status,
        json!({ "error_code": code, "error_msg": message, "request_id": request_id }),
        request_id,
    )
}

pub(super) fn iam_error(status: StatusCode, message: &str, request_id: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    json_answer(
        status,
        json!({ "error": { "code": status.as_u16(), "message": message, "title": title } }),
        request_id,
    )
}

/// Which error body an API family uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    V1,
    V3,
}

pub(super) fn api_error(family: Family, status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    match family {
        Family::V1 => json_answer(status, json!({ "code": code, "message": message }), request_id),
        Family::V3 => gateway_error(status, code, message, request_id),
    }
}

/// HTTP status of a simulator error code.
pub(super) fn status_of(code: &str) -> StatusCode {
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

pub(super) fn cloud_error(family: Family, err: &CloudError, fallback_request_id: &str) -> Response {
    let request_id = err.request_id.as_deref().unwrap_or(fallback_request_id);
    let status = status_of(&err.code);
    let family = if err.is_throttled() { Family::V3 } else { family };
    let mut response = api_error(family, status, &err.code, &err.message, request_id);
    if let Some(retry_after) = err.retry_after() {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
            response.headers_mut().insert("retry-after", value);
        }
    }
    response
}

/// An error when an ID is longer than [`MAX_ID_LEN`].
pub(super) fn check_id(what: &'static str, value: &str) -> Result<(), Invalid> {
    if value.len() > MAX_ID_LEN {
        return Err(Invalid::TooLong(what));
    }
    Ok(())
}

/// Why a route answers with an error instead of its own answer.
pub(super) enum Refused {
    /// 400 `VPC.0501` in the route's format.
    Invalid(Invalid),
    /// 404 `VPC.0501`: no provider for the project's region.
    UnknownRegion(UnknownRegion),
    /// The model refused the call: its code, in the route's format.
    Cloud(CloudError),
    /// An answer rendered already (authentication, the gateway, a 404 of the route).
    Answer(Box<Response>),
}

impl From<Invalid> for Refused {
    fn from(invalid: Invalid) -> Self {
        Refused::Invalid(invalid)
    }
}

impl From<UnknownRegion> for Refused {
    fn from(error: UnknownRegion) -> Self {
        Refused::UnknownRegion(error)
    }
}

impl From<CloudError> for Refused {
    fn from(error: CloudError) -> Self {
        Refused::Cloud(error)
    }
}

impl From<Box<Response>> for Refused {
    fn from(answer: Box<Response>) -> Self {
        Refused::Answer(answer)
    }
}

impl From<Response> for Refused {
    fn from(answer: Response) -> Self {
        Refused::Answer(Box::new(answer))
    }
}

/// A route's answer, or why it refused.
pub(super) type Answer = Result<Response, Refused>;

impl Wire {
    /// `answer`, or its refusal in `family`'s format (with a fresh request ID where the model
    /// gave none).
    pub(super) fn respond(&self, family: Family, answer: Answer) -> Response {
        match answer {
            Ok(response) => response,
            Err(Refused::Invalid(invalid)) => api_error(
                family,
                StatusCode::BAD_REQUEST,
                "VPC.0501",
                &invalid.to_string(),
                &self.request_id(),
            ),
            Err(Refused::UnknownRegion(error)) => {
                api_error(family, StatusCode::NOT_FOUND, "VPC.0501", &error.to_string(), &self.request_id())
            }
            Err(Refused::Cloud(error)) => cloud_error(family, &error, &self.request_id()),
            Err(Refused::Answer(response)) => *response,
        }
    }
}

/// An API gateway error for a request refused before it reached the protocol (body too large
/// or too slow), with `status`.
pub(crate) fn transport_error(status: StatusCode, message: &str) -> Response {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let request_id = format_uuid((u128::from(fnv64(&n.to_le_bytes())) << 64) | u128::from(n), false);
    gateway_error(status, "APIGW.0201", message, &request_id)
}

pub(super) fn no_content(request_id: &str) -> Response {
    with_request_id(StatusCode::NO_CONTENT.into_response(), request_id)
}
