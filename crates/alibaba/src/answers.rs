//! From an HTTP answer to a typed record or a classified [`CloudError`]. Pure: no I/O, so the
//! property tests and the fuzz entry points ([`super::fuzzing`]) drive exactly this code.
//!
//! | answer | result |
//! | --- | --- |
//! | 2xx, a JSON object with a `RequestId`, no `Code`, the record's fields of the right types | the record |
//! | 2xx, anything else (not JSON, `{}`, `[]`, a `Code` inside, a field missing or mistyped) | retryable `InvalidResponse` |
//! | 429 | retryable, throttled (the body's code when it is the cloud's error shape, else `HTTP429`) |
//! | 5xx | retryable (the body's code when it is the cloud's error shape, else `HTTP5xx`) |
//! | other 4xx with the cloud's error shape (`RequestId`, `Code`, `Message`) | classified by [`errors::classify`] (`Gone` only for a NotFound code of the EIP) |
//! | other 4xx without it, 1xx, 3xx | retryable `InvalidResponse` |
//!
//! `Gone` on Describe or FindByOwner is retryable: an absence is a fact only when a well-formed
//! list proves it.

use serde::de::DeserializeOwned;

use super::errors;
use super::records::{ErrorBody, SuccessHead};
use eip_cloud::http::{self, Answer};
use eip_cloud::{CloudError, ErrorClass, Failure, Operation};

/// Headers that carry Alibaba's request ID.
const REQUEST_ID_HEADERS: &[&str] = &["x-acs-request-id"];

/// A successful answer: the cloud's request ID and a body that has the success shape.
#[derive(Clone, Debug)]
pub struct Reply {
    pub request_id: String,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as the record `T`; a retryable `InvalidResponse` when it is not one.
    pub fn parse<T: DeserializeOwned>(&self, operation: Operation) -> Result<T, CloudError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            http::invalid_response(operation, format!("HTTP 2xx that is not a well-formed answer: {}", reason(&e)))
                .with_request_id(self.request_id.clone())
        })
    }
}

/// Why serde refused a body, without the body's own text: serde quotes the offending string
/// (`invalid type: string "…"`), which a server could fill with an echo of the request.
pub fn reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match (text.find('"'), text.rfind('"')) {
        (Some(first), Some(last)) if first < last => format!("{}\"…\"{}", &text[..first], &text[last + 1..]),
        _ => text,
    }
}

/// A 2xx with the success shape; the classified error of anything else.
pub fn reply(operation: Operation, answer: &Answer) -> Result<Reply, CloudError> {
    if !answer.is_success() {
        return Err(error(operation, answer));
    }
    let header_id = answer.request_id(REQUEST_ID_HEADERS);
    let with_id = |err: CloudError| CloudError {
        request_id: header_id.clone(),
        ..err
    };
    let head: SuccessHead = serde_json::from_slice(&answer.body).map_err(|e| {
        with_id(http::invalid_response(
            operation,
            format!(
                "HTTP {} with a body that is not an Alibaba Cloud answer: {}",
                answer.status,
                reason(&e)
            ),
        ))
    })?;
    let request_id = http::clean_request_id(head.request_id.as_str());
    if head.code || head.lower_code {
        let mut err = http::invalid_response(
            operation,
            format!("HTTP {} carrying an error code: an error is not a success", answer.status),
        );
        err.request_id = request_id.or(header_id);
        return Err(err);
    }
    let Some(request_id) = request_id else {
        return Err(with_id(http::invalid_response(operation, "a RequestId that is not a request ID")));
    };
    Ok(Reply {
        request_id,
        body: answer.body.clone(),
    })
}

/// The record `T` of a successful answer, or the classified error.
pub fn interpret<T: DeserializeOwned>(operation: Operation, answer: &Answer) -> Result<T, CloudError> {
    reply(operation, answer)?.parse(operation)
}

/// The classified error of a non-2xx answer.
pub fn error(operation: Operation, answer: &Answer) -> CloudError {
    let status = answer.status;
    let header_id = answer.request_id(REQUEST_ID_HEADERS);
    let body: Option<ErrorBody> = serde_json::from_slice(&answer.body).ok();
    let retry_after = answer.retry_after();
    let mut err = match (status, body) {
        (400..=599, Some(body)) => errors::cloud_error(
            operation,
            status,
            body.code.as_str(),
            &body.message,
            http::clean_request_id(body.request_id.as_str()).or(header_id),
            retry_after,
        ),
        (429 | 500..=599, None) => {
            let code = format!("HTTP{status}");
            let message = format!("HTTP {status} without an Alibaba Cloud error body");
            errors::cloud_error(operation, status, &code, &message, header_id, retry_after)
        }
        (_, _) => {
            let mut err = http::invalid_response(operation, format!("HTTP {status} with a body that is not an Alibaba Cloud error"));
            err.request_id = header_id;
            err
        }
    };
    if err.class() == ErrorClass::Gone && !operation.is_mutating() {
        err = err.reclassified(Failure::RETRY);
    }
    http::enforce_status(status, err, retry_after)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;
    use crate::records::MutatingAnswer;
    use eip_cloud::Blocker;

    fn answer(status: u16, headers: HeaderMap, body: &[u8]) -> Answer {
        Answer {
            status,
            headers,
            body: body.to_vec(),
        }
    }

    #[test]
    fn error_bodies_are_classified() {
        let mut headers = HeaderMap::new();
        headers.insert("x-acs-retry-after", HeaderValue::from_static("200"));
        let body = br#"{"RequestId":"R-1","HostId":"vpc.aliyuncs.com","Code":"Throttling.User","Message":"Request was denied due to user flow control.","Recommend":"x"}"#;
        let err = interpret::<MutatingAnswer>(Operation::Allocate, &answer(400, headers, body)).expect_err("error");
        assert_eq!(
            (err.code.as_str(), err.is_throttled(), err.retry_after(), err.request_id.as_deref()),
            ("Throttling.User", true, Some(Duration::from_millis(200)), Some("R-1"))
        );
        let err = error(Operation::Release, &answer(503, HeaderMap::new(), b"<html>busy</html>"));
        assert_eq!((err.code.as_str(), err.class()), ("HTTP503", ErrorClass::Retryable));
        let ok: MutatingAnswer = interpret(Operation::Release, &answer(200, HeaderMap::new(), br#"{"RequestId":"R"}"#)).expect("ok");
        assert_eq!(ok.request_id.as_str(), "R");
    }

    #[test]
    fn refusals_do_not_quote_the_body() {
        let body = br#"{"RequestId":"R","TotalCount":"GET /?Signature=abc&SecurityToken=tok"}"#;
        let err =
            interpret::<crate::records::DescribeAnswer>(Operation::Describe, &answer(200, HeaderMap::new(), body)).expect_err("mistyped");
        assert!(
            err.message.contains("invalid type: string") && !err.message.contains("tok"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("Signature"), "{}", err.message);
    }

    #[test]
    fn retry_after_headers() {
        let throttled = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            error(Operation::Allocate, &answer(429, headers, b"")).retry_after()
        };
        assert_eq!(throttled(&[]), None);
        assert_eq!(throttled(&[("retry-after", "2")]), Some(Duration::from_secs(2)));
        assert_eq!(
            throttled(&[("retry-after", "2"), ("x-acs-retry-after", "350")]),
            Some(Duration::from_millis(350))
        );
        assert_eq!(
            throttled(&[("x-acs-retry-after", "18446744073709551615")]),
            Some(http::MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn an_error_inside_a_2xx_is_no_success() {
        for body in [
            &br#"{"RequestId":"R","Code":"TaskConflict","Message":"busy"}"#[..],
            br#"{"Code":"TaskConflict"}"#,
            br#"{}"#,
            br#"[]"#,
            b"OK",
            b"",
            br#"{"RequestId":"R","code":"x"}"#,
            br#"{"RequestId":"has space"}"#,
        ] {
            let err = reply(Operation::Release, &answer(200, HeaderMap::new(), body)).expect_err("not a success");
            assert_eq!(
                (err.class(), err.code.as_str()),
                (ErrorClass::Retryable, http::INVALID_RESPONSE),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn gone_needs_the_cloud_error_shape() {
        let gone = br#"{"RequestId":"R","Code":"InvalidAllocationId.NotFound","Message":"gone"}"#;
        let err = error(Operation::Release, &answer(404, HeaderMap::new(), gone));
        assert_eq!(err.class(), ErrorClass::Gone);
        // Not the cloud's shape: no RequestId, no Message, lower case, a bare status.
        for body in [
            &br#"{"Code":"InvalidAllocationId.NotFound","Message":"gone"}"#[..],
            br#"{"RequestId":"R","Code":"InvalidAllocationId.NotFound"}"#,
            br#"{"requestId":"R","code":"InvalidAllocationId.NotFound","message":"gone"}"#,
            b"",
            b"Not Found",
        ] {
            let err = error(Operation::Release, &answer(404, HeaderMap::new(), body));
            assert_eq!(
                (err.class(), err.code.as_str()),
                (ErrorClass::Retryable, http::INVALID_RESPONSE),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // A 5xx is retryable whatever it says; Describe never reads "gone" from an error.
        assert_eq!(
            error(Operation::Release, &answer(503, HeaderMap::new(), gone)).class(),
            ErrorClass::Retryable
        );
        assert_eq!(
            error(Operation::Describe, &answer(404, HeaderMap::new(), gone)).class(),
            ErrorClass::Retryable
        );
        let terminal = br#"{"RequestId":"R","Code":"Forbidden","Message":"no"}"#;
        let err = error(Operation::Release, &answer(500, HeaderMap::new(), terminal));
        assert_eq!((err.class(), err.blocker()), (ErrorClass::Retryable, None));
        let err = error(Operation::Release, &answer(403, HeaderMap::new(), terminal));
        assert_eq!((err.class(), err.blocker()), (ErrorClass::Terminal, Some(Blocker::Forbidden)));
    }
}
