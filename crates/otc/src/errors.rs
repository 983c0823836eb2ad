//! Error answers of the VPC, EIP v3, API gateway and IAM APIs, and their classification.
//!
//! Bodies come in the shapes the official SDK's exception handler reads, each typed:
//! `{"error_code","error_msg"}` (API gateway, v2/v3), `{"errorCode","errorMsg"}`,
//! `{"code","message"}` (VPC v1) and the same nested in `{"error":{...}}` (IAM). A body of none
//! of these shapes (HTML from a proxy, an empty 404, text) is **not** a cloud error: it proves
//! nothing about the EIP. The request ID is the `X-Request-Id` header (or a `request_id` in the
//! body).
//!
//! The HTTP status comes first ([`http::enforce_status`]): a 429 is throttling and a 5xx is
//! retryable whatever code the body carries, with one documented exception: the codes the API
//! reference lists as permanent refusals answered with HTTP 500 ([`TERMINAL_AT_500`]).
//!
//! | code | HTTP | class |
//! | --- | --- | --- |
//! | `VPC.0504` not found | 404 | gone (the only way to `Gone`); at any other status: retryable |
//! | `VPC.0512` busy | 409 | retryable |
//! | `APIGW.0308` / any 429 | 429 | retryable, throttled, `Retry-After` honoured (capped) |
//! | any 5xx (`VPC.0500`, ...) | 5xx | retryable, except `TERMINAL_AT_500` at exactly 500 |
//! | `VPC.0509` status invalid | 500 | retryable; terminal `Locked` when the EIP is `FREEZED` |
//! | `VPC.0532` no addresses left in the pool | 409 | retryable (the pool refills) |
//! | `VPC.0501` invalid parameter, `VPC.0522` address in use | 400 / 409 | terminal `InvalidRequest` |
//! | `VPC.0502` tenant restricted | 403 | terminal `Forbidden` (`PrepaidCannotRelease` on release) |
//! | `VPC.0510` EIP already bound | 409 | terminal `Other` |
//! | `VPC.0511` port already has an EIP, `VPC.0514` port / Neutron error | 409 / 404 | terminal `InvalidBindingTarget` |
//! | `VPC.0513` NAT rules use the EIP | 409 | terminal `NatEntriesBlockUnbind` |
//! | `VPC.0516` in use by a load balancer | 500 | terminal `Other` |
//! | `VPC.0517` still bound on release | 409 | terminal `Other` |
//! | `VPC.0518` firewall rules on the EIP | 500 | terminal `Other` |
//! | `VPC.0521` quota | 409 | terminal `QuotaExceeded` |
//! | `APIGW.0301` / any 401 | 401 | terminal `Authentication` |
//! | `APIGW.0302`, `APIGW.0305`, any 403 | 403 | terminal `Forbidden` |
//! | `APIGW.0101` / `APIG.0101` API does not exist | 404 | terminal `Other` (wrong endpoint, or v3 missing): never gone |
//! | other codes at 404 | 404 | retryable (a 404 that does not say "this EIP" proves nothing) |
//! | other codes at 4xx | 4xx | terminal `InvalidRequest` |
//! | no cloud error body | 401 / 403 | terminal `Authentication` / `Forbidden` |
//! | no cloud error body | 429 / 5xx | retryable (throttled on 429) |
//! | no cloud error body | anything else (an HTML or empty 404, ...) | retryable `InvalidResponse` |
//!
//! The message of an `Authentication` error ends with what to check ([`authentication_hint`]):
//! the keys of the ProviderConfig's credentials Secret, or the node's clock.

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::records::Obj;
use eip_cloud::http::{self, Answer, MAX_RETRY_AFTER};
use eip_cloud::{Blocker, CloudError, ErrorClass, Operation, redact};

/// The code with which the cloud says "this EIP does not exist" (v1 `{"code"}` and v2/v3
/// `{"error_code"}` bodies alike). Only this code, on a 404, is `Gone`.
pub const NOT_FOUND_CODES: &[&str] = &["VPC.0504"];
/// Codes the API reference documents as permanent refusals answered with HTTP 500: they stay
/// terminal on exactly 500 (a human must unbind the load balancer, remove the firewall rules, or
/// unfreeze the EIP); on any other 5xx they are retryable like every other code.
pub const TERMINAL_AT_500: &[&str] = &["VPC.0516", "VPC.0518", "VPC.0509"];
/// Longest excerpt of a body that is not a cloud error kept in a message.
const EXCERPT: usize = 200;

/// A parsed error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    pub status: u16,
    /// The cloud's code; the HTTP status when the body is not a cloud error.
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub retry_after: Option<Duration>,
    /// Whether the body is a well-formed cloud error (one of the typed shapes, with a code).
    pub cloud_error: bool,
}

/// A code or message: a string, or a number (IAM's `{"error":{"code":401}}`).
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl de::Visitor<'_> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

#[derive(Deserialize)]
struct GatewayError {
    error_code: Text,
    #[serde(alias = "error_message")]
    error_msg: Text,
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct CamelError {
    errorCode: Text,
    errorMsg: Text,
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct V1Error {
    code: Text,
    message: Text,
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Flat {
    Gateway(Obj<GatewayError>),
    Camel(Obj<CamelError>),
    V1(Obj<V1Error>),
}

#[derive(Deserialize)]
struct Nested {
    error: Flat,
    #[serde(default)]
    request_id: Option<String>,
}

/// Every error body shape, in the order the SDK's handler tries them.
#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorBody {
    Flat(Flat),
    Nested(Obj<Nested>),
}

impl Flat {
    fn parts(self) -> (String, String, Option<String>) {
        match self {
            Flat::Gateway(Obj(e)) => (e.error_code.0, e.error_msg.0, e.request_id),
            Flat::Camel(Obj(e)) => (e.errorCode.0, e.errorMsg.0, e.request_id),
            Flat::V1(Obj(e)) => (e.code.0, e.message.0, e.request_id),
        }
    }
}

/// The cloud error a body holds, if it is one: `(code, message, request_id)`.
pub(crate) fn cloud_error_of(body: &[u8]) -> Option<(String, String, Option<String>)> {
    let (code, message, request_id) = match serde_json::from_slice::<ErrorBody>(body).ok()? {
        ErrorBody::Flat(flat) => flat.parts(),
        ErrorBody::Nested(Obj(nested)) => {
            let (code, message, inner_id) = nested.error.parts();
            (code, message, inner_id.or(nested.request_id))
        }
    };
    (!code.trim().is_empty()).then_some((code, message, request_id))
}

/// Parses an error body the way `huaweicloudsdkcore`'s `DefaultExceptionHandler` does.
pub fn parse_error(status: u16, body: &[u8], request_id: Option<String>, retry_after: Option<Duration>) -> WireError {
    match cloud_error_of(body) {
        Some((code, message, body_request_id)) => WireError {
            status,
            code,
            message,
            request_id: request_id.or_else(|| body_request_id.as_deref().and_then(http::clean_request_id)),
            retry_after,
            cloud_error: true,
        },
        None => WireError {
            status,
            code: status.to_string(),
            message: excerpt(body),
            request_id,
            retry_after,
            cloud_error: false,
        },
    }
}

/// The start of a body that is not a cloud error, as text.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(4 * EXCERPT)]);
    let text = text.trim();
    match text.char_indices().nth(EXCERPT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// How long the cloud asked to wait: [`http::retry_after`], or a decimal `Retry-After` in
/// seconds (`0.25`), capped at [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    http::retry_after(headers).or_else(|| {
        let seconds: f64 = headers.get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
        (seconds.is_finite() && seconds > 0.0).then(|| Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64())))
    })
}

/// The classified error of an answer that is not a success.
pub fn from_answer(operation: Operation, answer: &Answer) -> CloudError {
    let request_id = answer.request_id(&["x-request-id"]);
    classify(
        operation,
        parse_error(answer.status, &answer.body, request_id, retry_after(&answer.headers)),
    )
}

/// The classified [`CloudError`] of `error` for `operation`.
pub fn classify(operation: Operation, error: WireError) -> CloudError {
    let status = error.status;
    let retry_after = error.retry_after;
    let request_id = error.request_id.clone();
    let documented_500 = error.cloud_error && status == 500 && TERMINAL_AT_500.contains(&error.code.as_str());
    let err = if error.cloud_error {
        by_code(operation, error)
    } else {
        by_status(operation, error)
    };
    let err = if documented_500 && err.class() == ErrorClass::Terminal {
        err
    } else {
        http::enforce_status(status, err, retry_after)
    };
    match request_id {
        Some(id) => err.with_request_id(id),
        None => err,
    }
}

/// An answer whose body is not a cloud error: only the status speaks.
fn by_status(op: Operation, error: WireError) -> CloudError {
    let WireError {
        status,
        message,
        retry_after,
        ..
    } = error;
    let what = if message.is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        format!("HTTP {status} with a body that is not a cloud error: {message}")
    };
    match status {
        429 => CloudError::throttled(op, "429", what, retry_after),
        500..=599 => CloudError::retryable(op, status.to_string(), what),
        401 => CloudError::terminal(
            op,
            Blocker::Authentication,
            "401",
            redact::with_hint(&what, authentication_hint(&what)),
        ),
        403 => CloudError::terminal(op, Blocker::Forbidden, "403", what),
        // An HTML, text or empty 404 (a gateway, a proxy, a wrong path) says nothing about the EIP.
        _ => http::invalid_response(op, what),
    }
}

/// A well-formed cloud error: its code decides, then the status.
fn by_code(op: Operation, error: WireError) -> CloudError {
    let WireError {
        status,
        code,
        message,
        retry_after,
        ..
    } = error;
    let terminal = |blocker: Blocker, message: String| CloudError::terminal(op, blocker, code.clone(), message);
    match code.as_str() {
        c if NOT_FOUND_CODES.contains(&c) && status == 404 => CloudError::gone(op, code.clone(), message),
        c if NOT_FOUND_CODES.contains(&c) => CloudError::retryable(
            op,
            code.clone(),
            format!("HTTP {status} (not 404) with a not-found code proves nothing: {message}"),
        ),
        "VPC.0512" | "VPC.0500" | "VPC.0532" => CloudError::retryable(op, code.clone(), message),
        "APIGW.0308" => CloudError::throttled(op, code.clone(), message, retry_after),
        "VPC.0509" if message.to_ascii_uppercase().contains("FREEZ") => terminal(
            Blocker::Locked,
            format!("The EIP is frozen (FREEZED) by billing or security: {message}"),
        ),
        "VPC.0509" => CloudError::retryable(op, code.clone(), message),
        "VPC.0501" | "VPC.0522" | "IdempotentParameterMismatch" => terminal(Blocker::InvalidRequest, message),
        "VPC.0502" if op == Operation::Release => terminal(
            Blocker::PrepaidCannotRelease,
            format!("The EIP cannot be released through the API (yearly/monthly subscription?): {message}"),
        ),
        "VPC.0502" => terminal(Blocker::Forbidden, message),
        "VPC.0510" => terminal(Blocker::Other, format!("The EIP is already bound: {message}")),
        "VPC.0511" | "VPC.0514" => terminal(Blocker::InvalidBindingTarget, message),
        "VPC.0513" => terminal(
            Blocker::NatEntriesBlockUnbind,
            format!("SNAT/DNAT rules of the NAT gateway use the EIP; delete them first: {message}"),
        ),
        "VPC.0516" => terminal(
            Blocker::Other,
            format!("The EIP is in use by a load balancer; unbind it from the load balancer first: {message}"),
        ),
        "VPC.0517" => terminal(Blocker::Other, format!("The EIP is still bound; unbind it first: {message}")),
        "VPC.0518" => terminal(
            Blocker::Other,
            format!("Firewall rules still reference the EIP; remove them first: {message}"),
        ),
        "VPC.0521" => terminal(Blocker::QuotaExceeded, message),
        "InvalidOperation.DeletionProtection" => terminal(Blocker::DeletionProtection, message),
        "APIGW.0101" | "APIG.0101" => terminal(
            Blocker::Other,
            format!("The endpoint does not offer this API (wrong endpoint or region, or an API version the region lacks): {message}"),
        ),
        _ => match status {
            429 => CloudError::throttled(op, code.clone(), message, retry_after),
            401 => {
                let hint = authentication_hint(&message);
                terminal(Blocker::Authentication, redact::with_hint(&message, hint))
            }
            403 => terminal(Blocker::Forbidden, message),
            // Not the cloud's "this EIP does not exist": proves nothing.
            404 => CloudError::retryable(op, code.clone(), format!("HTTP 404: {message}")),
            400..=499 => terminal(Blocker::InvalidRequest, message),
            _ => CloudError::retryable(op, code.clone(), message),
        },
    }
}

/// What a human checks after the cloud refused to authenticate a request with `message`. The
/// provider does not know the ProviderConfig's name; the controller's condition and Event name
/// the object, and the ProviderConfig is its spec.providerConfigRef (or the default one).
pub fn authentication_hint(message: &str) -> &'static str {
    if message.contains("X-Sdk-Date") {
        "check the clock of the node the operator runs on: the cloud refuses requests signed more than 15 minutes off"
    } else if message.contains("project") {
        "check spec.otc.projectId/projectName of the ProviderConfig and the project scope of the credentials in its credentials Secret"
    } else {
        "check accessKey/secretKey (or username/password/domainName) in the credentials Secret of the ProviderConfig"
    }
}

#[cfg(test)]
mod tests;
