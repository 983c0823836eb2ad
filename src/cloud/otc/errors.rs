//! Error bodies of the VPC, EIP v3, API gateway and IAM APIs, and their classification.
//!
//! Bodies come in three shapes, parsed like the official SDK's exception handler does:
//! `{"code","message"}` (VPC v1), `{"error_code","error_msg"}` (API gateway, v2/v3) and a
//! nested object such as `{"error":{"code","message"}}` (IAM). The request ID is the
//! `X-Request-Id` header (or a `request_id` in the body).
//!
//! | code | HTTP | class |
//! | --- | --- | --- |
//! | `VPC.0504` not found | 404 | gone |
//! | `VPC.0512` busy | 409 | retryable |
//! | `APIGW.0308` / any 429 | 429 | retryable, throttled, `Retry-After` honoured |
//! | `VPC.0500`, other 5xx | 5xx | retryable |
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
//! | `APIGW.0101` API does not exist | 404 | terminal `Other` (wrong endpoint, or v3 missing) |
//! | other 404 | 404 | gone |
//! | other 4xx | 4xx | terminal `InvalidRequest` |

use std::time::Duration;

use serde_json::Value;

use crate::cloud::{Blocker, CloudError, Operation};

/// A parsed error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub retry_after: Option<Duration>,
}

/// Parses an error body the way `huaweicloudsdkcore`'s `DefaultExceptionHandler` does.
pub fn parse_error(status: u16, body: &[u8], request_id: Option<String>, retry_after: Option<Duration>) -> WireError {
    let mut code = None;
    let mut message = None;
    let mut body_request_id = None;
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        if let Some(id) = value.get("request_id").and_then(Value::as_str) {
            body_request_id = Some(id.to_owned());
        }
        find_code(&value, &mut code, &mut message, 0);
    }
    let text = String::from_utf8_lossy(body);
    WireError {
        status,
        code: code.unwrap_or_else(|| status.to_string()),
        message: message.unwrap_or_else(|| truncate(text.trim(), 512)),
        request_id: request_id.or(body_request_id),
        retry_after,
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn find_code(value: &Value, code: &mut Option<String>, message: &mut Option<String>, depth: u8) {
    let Value::Object(map) = value else {
        return;
    };
    for (code_key, message_key) in [("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message")] {
        if let (Some(c), Some(m)) = (map.get(code_key).and_then(as_text), map.get(message_key).and_then(as_text)) {
            *code = Some(c);
            *message = Some(m);
            return;
        }
    }
    if depth < 3 {
        for nested in map.values() {
            find_code(nested, code, message, depth + 1);
            if code.is_some() {
                return;
            }
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The classified [`CloudError`] of `error` for `operation`.
pub fn classify(operation: Operation, error: WireError) -> CloudError {
    let WireError {
        status,
        code,
        message,
        request_id,
        retry_after,
    } = error;
    let op = operation;
    let terminal = |blocker: Blocker, message: String| CloudError::terminal(op, blocker, code.clone(), message);
    let err = match code.as_str() {
        "VPC.0504" => CloudError::gone(op, code.clone(), message),
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
        "APIGW.0101" => terminal(
            Blocker::Other,
            format!("The endpoint does not offer this API (wrong endpoint or region, or an API version the region lacks): {message}"),
        ),
        _ => match status {
            429 => CloudError::throttled(op, code.clone(), message, retry_after),
            401 => terminal(Blocker::Authentication, message),
            403 => terminal(Blocker::Forbidden, message),
            404 => CloudError::gone(op, code.clone(), message),
            400..=499 => terminal(Blocker::InvalidRequest, message),
            _ => CloudError::retryable(op, code.clone(), message),
        },
    };
    match request_id {
        Some(id) => err.with_request_id(id),
        None => err,
    }
}

/// `Retry-After` in seconds (integer or decimal).
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    let seconds: f64 = value?.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::ErrorClass;

    fn wire(status: u16, body: &str) -> WireError {
        parse_error(status, body.as_bytes(), Some("req-1".into()), None)
    }

    #[test]
    fn parses_the_three_body_shapes() {
        let v1 = wire(404, r#"{"code":"VPC.0504","message":"Floating IP could not be found."}"#);
        assert_eq!(
            (v1.code.as_str(), v1.message.as_str()),
            ("VPC.0504", "Floating IP could not be found.")
        );
        let gw = wire(
            401,
            r#"{"error_msg":"Incorrect IAM authentication information","error_code":"APIGW.0301","request_id":"abc"}"#,
        );
        assert_eq!((gw.code.as_str(), gw.request_id.as_deref()), ("APIGW.0301", Some("req-1")));
        let nested = wire(
            401,
            r#"{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}"#,
        );
        assert_eq!(
            (nested.code.as_str(), nested.message.as_str()),
            ("401", "The username or password is wrong.")
        );
        let text = wire(502, "Bad Gateway");
        assert_eq!((text.code.as_str(), text.message.as_str()), ("502", "Bad Gateway"));
        let body_id = parse_error(400, br#"{"error_code":"X","error_msg":"y","request_id":"r-2"}"#, None, None);
        assert_eq!(body_id.request_id.as_deref(), Some("r-2"));
    }

    #[test]
    fn classification() {
        let cases: &[(u16, &str, Operation, ErrorClass, Option<Blocker>)] = &[
            (404, "VPC.0504", Operation::Release, ErrorClass::Gone, None),
            (409, "VPC.0512", Operation::Release, ErrorClass::Retryable, None),
            (500, "VPC.0516", Operation::Release, ErrorClass::Terminal, Some(Blocker::Other)),
            (409, "VPC.0517", Operation::Release, ErrorClass::Terminal, Some(Blocker::Other)),
            (500, "VPC.0518", Operation::Release, ErrorClass::Terminal, Some(Blocker::Other)),
            (
                400,
                "VPC.0501",
                Operation::Allocate,
                ErrorClass::Terminal,
                Some(Blocker::InvalidRequest),
            ),
            (403, "VPC.0502", Operation::Allocate, ErrorClass::Terminal, Some(Blocker::Forbidden)),
            (
                403,
                "VPC.0502",
                Operation::Release,
                ErrorClass::Terminal,
                Some(Blocker::PrepaidCannotRelease),
            ),
            (500, "VPC.0509", Operation::Associate, ErrorClass::Retryable, None),
            (409, "VPC.0510", Operation::Associate, ErrorClass::Terminal, Some(Blocker::Other)),
            (
                409,
                "VPC.0511",
                Operation::Associate,
                ErrorClass::Terminal,
                Some(Blocker::InvalidBindingTarget),
            ),
            (
                404,
                "VPC.0514",
                Operation::Associate,
                ErrorClass::Terminal,
                Some(Blocker::InvalidBindingTarget),
            ),
            (
                409,
                "VPC.0513",
                Operation::Unassociate,
                ErrorClass::Terminal,
                Some(Blocker::NatEntriesBlockUnbind),
            ),
            (
                409,
                "VPC.0521",
                Operation::Allocate,
                ErrorClass::Terminal,
                Some(Blocker::QuotaExceeded),
            ),
            (
                409,
                "VPC.0522",
                Operation::Allocate,
                ErrorClass::Terminal,
                Some(Blocker::InvalidRequest),
            ),
            (409, "VPC.0532", Operation::Allocate, ErrorClass::Retryable, None),
            (500, "VPC.0500", Operation::Describe, ErrorClass::Retryable, None),
            (
                401,
                "APIGW.0301",
                Operation::Describe,
                ErrorClass::Terminal,
                Some(Blocker::Authentication),
            ),
            (
                403,
                "APIGW.0302",
                Operation::Describe,
                ErrorClass::Terminal,
                Some(Blocker::Forbidden),
            ),
            (404, "APIGW.0101", Operation::Associate, ErrorClass::Terminal, Some(Blocker::Other)),
            (404, "404", Operation::Release, ErrorClass::Gone, None),
            (
                400,
                "Whatever",
                Operation::Release,
                ErrorClass::Terminal,
                Some(Blocker::InvalidRequest),
            ),
            (503, "503", Operation::Release, ErrorClass::Retryable, None),
        ];
        for (status, code, op, class, blocker) in cases {
            let err = classify(*op, wire(*status, &format!(r#"{{"code":"{code}","message":"m"}}"#)));
            assert_eq!((err.class, err.blocker), (*class, *blocker), "{code} on {op}");
            assert_eq!(err.code, *code);
            assert_eq!(err.request_id.as_deref(), Some("req-1"));
        }
        let frozen = classify(
            Operation::Release,
            wire(500, r#"{"code":"VPC.0509","message":"Floating IP status is FREEZED."}"#),
        );
        assert_eq!(frozen.blocker, Some(Blocker::Locked));
    }

    #[test]
    fn throttling_keeps_retry_after() {
        let retry_after = parse_retry_after(Some("2"));
        assert_eq!(retry_after, Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(Some("0.25")), Some(Duration::from_millis(250)));
        assert_eq!(parse_retry_after(Some("soon")), None);
        let err = classify(
            Operation::Describe,
            parse_error(429, br#"{"error_code":"APIGW.0308","error_msg":"throttled"}"#, None, retry_after),
        );
        assert!(err.throttled);
        assert_eq!((err.class, err.retry_after), (ErrorClass::Retryable, retry_after));
        let plain = classify(Operation::Describe, parse_error(429, b"", None, None));
        assert!(plain.throttled);
    }
}
