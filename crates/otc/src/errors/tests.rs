//! Parsing and classification of error answers.

use super::*;
use eip_cloud::ErrorClass;

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
    use Blocker::*;
    use ErrorClass::{Gone, Retryable, Terminal};
    use Operation::*;
    let cases: &[(u16, &str, Operation, ErrorClass, Option<Blocker>)] = &[
        (404, "VPC.0504", Release, Gone, None),
        (409, "VPC.0512", Release, Retryable, None),
        (500, "VPC.0516", Release, Terminal, Some(Other)),
        (409, "VPC.0517", Release, Terminal, Some(Other)),
        (500, "VPC.0518", Release, Terminal, Some(Other)),
        (400, "VPC.0501", Allocate, Terminal, Some(InvalidRequest)),
        (403, "VPC.0502", Allocate, Terminal, Some(Forbidden)),
        (403, "VPC.0502", Release, Terminal, Some(PrepaidCannotRelease)),
        (500, "VPC.0509", Associate, Retryable, None),
        (409, "VPC.0510", Associate, Terminal, Some(Other)),
        (409, "VPC.0511", Associate, Terminal, Some(InvalidBindingTarget)),
        (404, "VPC.0514", Associate, Terminal, Some(InvalidBindingTarget)),
        (409, "VPC.0513", Unassociate, Terminal, Some(NatEntriesBlockUnbind)),
        (409, "VPC.0521", Allocate, Terminal, Some(QuotaExceeded)),
        (409, "VPC.0522", Allocate, Terminal, Some(InvalidRequest)),
        (409, "VPC.0532", Allocate, Retryable, None),
        (500, "VPC.0500", Describe, Retryable, None),
        (401, "APIGW.0301", Describe, Terminal, Some(Authentication)),
        (403, "APIGW.0302", Describe, Terminal, Some(Forbidden)),
        (404, "APIGW.0101", Associate, Terminal, Some(Other)),
        // A 404 whose code is not the cloud's NotFound proves nothing (was: Gone).
        (404, "404", Release, Retryable, None),
        (400, "Whatever", Release, Terminal, Some(InvalidRequest)),
        (503, "503", Release, Retryable, None),
    ];
    for (status, code, op, class, blocker) in cases {
        let err = classify(*op, wire(*status, &format!(r#"{{"code":"{code}","message":"m"}}"#)));
        assert_eq!((err.class(), err.blocker()), (*class, *blocker), "{code} on {op}");
        assert_eq!(err.code, *code);
        assert_eq!(err.request_id.as_deref(), Some("req-1"));
    }
    let frozen = classify(
        Operation::Release,
        wire(500, r#"{"code":"VPC.0509","message":"Floating IP status is FREEZED."}"#),
    );
    assert_eq!(frozen.blocker(), Some(Blocker::Locked));
}

#[test]
fn throttling_keeps_retry_after() {
    let headers = |value: &str| {
        let mut map = HeaderMap::new();
        map.insert("retry-after", value.parse().expect("header"));
        map
    };
    let retry_after = retry_after(&headers("2"));
    assert_eq!(retry_after, Some(Duration::from_secs(2)));
    assert_eq!(super::retry_after(&headers("0.25")), Some(Duration::from_millis(250)));
    assert_eq!(super::retry_after(&headers("soon")), None);
    assert_eq!(super::retry_after(&headers("99999")), Some(MAX_RETRY_AFTER));
    assert_eq!(super::retry_after(&headers("1e30")), Some(MAX_RETRY_AFTER));
    assert_eq!(super::retry_after(&headers("-1")), None);
    let err = classify(
        Operation::Describe,
        parse_error(429, br#"{"error_code":"APIGW.0308","error_msg":"throttled"}"#, None, retry_after),
    );
    assert!(err.is_throttled());
    assert_eq!((err.class(), err.retry_after()), (ErrorClass::Retryable, retry_after));
    let plain = classify(Operation::Describe, parse_error(429, b"", None, None));
    assert!(plain.is_throttled());
}

#[test]
fn the_status_wins_over_the_code() {
    // A terminal code on a 429 is throttling; a not-found code on a 5xx is retryable.
    let err = classify(Operation::Release, wire(429, r#"{"code":"VPC.0502","message":"m"}"#));
    assert_eq!(
        (err.class(), err.is_throttled(), err.blocker()),
        (ErrorClass::Retryable, true, None)
    );
    for status in [500, 502, 503] {
        let err = classify(Operation::Release, wire(status, r#"{"code":"VPC.0504","message":"m"}"#));
        assert_eq!(err.class(), ErrorClass::Retryable, "{status}");
        let err = classify(Operation::Release, wire(status, r#"{"code":"VPC.0517","message":"m"}"#));
        assert_eq!(err.class(), ErrorClass::Retryable, "{status}");
    }
    // The documented permanent refusals at 500, and only at 500.
    let err = classify(Operation::Release, wire(500, r#"{"code":"VPC.0516","message":"m"}"#));
    assert_eq!(err.class(), ErrorClass::Terminal);
    let err = classify(Operation::Release, wire(503, r#"{"code":"VPC.0516","message":"m"}"#));
    assert_eq!(err.class(), ErrorClass::Retryable);
}

#[test]
fn only_the_clouds_not_found_is_gone() {
    let gone = |status: u16, body: &str| classify(Operation::Release, wire(status, body)).class() == ErrorClass::Gone;
    assert!(gone(404, r#"{"code":"VPC.0504","message":"Floating IP could not be found."}"#));
    assert!(gone(404, r#"{"error_code":"VPC.0504","error_msg":"not found","request_id":"r"}"#));
    assert!(gone(404, r#"{"error":{"code":"VPC.0504","message":"not found"}}"#));
    for body in [
        "",
        "Not Found",
        "<html>404</html>",
        r#"{"message":"Not Found"}"#,
        r#"{"code":"VPC.0504"}"#,
        r#"[{"code":"VPC.0504","message":"m"}]"#,
        r#"{"code":"404","message":"m"}"#,
        r#"{"error_code":"APIGW.0101","error_msg":"The API does not exist"}"#,
    ] {
        assert!(!gone(404, body), "{body}");
    }
    assert!(!gone(400, r#"{"code":"VPC.0504","message":"m"}"#));
    assert!(!gone(200, r#"{"code":"VPC.0504","message":"m"}"#));
    let html = classify(Operation::Release, wire(404, "<html>404</html>"));
    assert_eq!((html.class(), html.code.as_str()), (ErrorClass::Retryable, http::INVALID_RESPONSE));
}

#[test]
fn authentication_errors_say_what_to_check_and_end_cleanly() {
    let gateway = classify(
        Operation::Describe,
        wire(
            401,
            r#"{"error_msg":"Incorrect IAM authentication information: verify aksk signature fail","error_code":"APIGW.0301"}"#,
        ),
    );
    assert_eq!(
        (gateway.class(), gateway.blocker(), gateway.code.as_str()),
        (ErrorClass::Terminal, Some(Blocker::Authentication), "APIGW.0301")
    );
    assert_eq!(
        gateway.message,
        "Incorrect IAM authentication information: verify aksk signature fail; check accessKey/secretKey \
         (or username/password/domainName) in the credentials Secret of the ProviderConfig"
    );
    let iam = classify(
        Operation::Describe,
        wire(
            401,
            r#"{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}"#,
        ),
    );
    assert_eq!(
        iam.message,
        "The username or password is wrong; check accessKey/secretKey (or username/password/domainName) in the \
         credentials Secret of the ProviderConfig"
    );
    let empty = classify(Operation::Describe, wire(401, ""));
    assert_eq!(
        empty.message,
        "HTTP 401 with an empty body; check accessKey/secretKey (or username/password/domainName) in the credentials \
         Secret of the ProviderConfig"
    );
    let clock = classify(
        Operation::Describe,
        wire(
            401,
            r#"{"error_msg":"Incorrect IAM authentication information: X-Sdk-Date is more than 15 minutes off","error_code":"APIGW.0301"}"#,
        ),
    );
    assert!(
        clock
            .message
            .ends_with("check the clock of the node the operator runs on: the cloud refuses requests signed more than 15 minutes off")
    );
    let project = classify(
        Operation::Describe,
        wire(
            401,
            r#"{"error_msg":"Incorrect IAM authentication information: the token is scoped to another project","error_code":"APIGW.0301"}"#,
        ),
    );
    assert!(
        project
            .message
            .contains("check spec.otc.projectId/projectName of the ProviderConfig"),
        "{}",
        project.message
    );
    // Other refusals keep the cloud's message.
    let forbidden = classify(
        Operation::Describe,
        wire(403, r#"{"error_code":"APIGW.0302","error_msg":"denied"}"#),
    );
    assert_eq!(forbidden.message, "denied");
}

#[test]
fn the_hint_survives_long_messages_and_the_redactor() {
    let body = format!(r#"{{"error_code":"APIGW.0301","error_msg":"{}"}}"#, "x".repeat(3000));
    let err = redact::Redactor::new(["not-in-the-text"]).error(classify(Operation::Describe, wire(401, &body)));
    assert!(err.message.chars().count() <= redact::MAX_MESSAGE, "{}", err.message);
    assert!(
        err.message.ends_with("in the credentials Secret of the ProviderConfig"),
        "{}",
        err.message
    );
}
