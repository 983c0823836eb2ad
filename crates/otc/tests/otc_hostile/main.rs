//! `OtcProvider` against hostile or broken endpoints: garbage answers, gateway 404s, redirects,
//! servers that echo the request, throttling with misleading codes, unusable credentials.
//!
//! The rule these tests pin: **absence is a fact only when proven** (a well-formed answer of the
//! cloud), and nothing the provider returns carries a credential.

mod properties;
mod support;

use std::sync::Arc;
use std::time::Duration;

use eip_cloud::UnbindRequest;
use eip_cloud::http::MAX_RETRY_AFTER;
use eip_cloud::{BindTarget, Blocker, CloudError, CloudProvider, ErrorClass, InstanceType, StaticSecret};
use eip_otc::OtcProvider;
use serde_json::{Value, json};

use self::support::*;

// ----- 1. describe: absence only when proven -----

/// Garbage 2xx answers to the list (id filter) call, for v1 and v3.
fn garbage_lists(record: fn(&str) -> Value) -> Vec<(&'static str, Canned)> {
    vec![
        (
            "an error code in a 200",
            canned_json(200, json!({ "error_code": "APIGW.0308", "error_msg": "throttled" })),
        ),
        (
            "a v1 error code in a 200",
            canned_json(200, json!({ "code": "VPC.0500", "message": "system error" })),
        ),
        ("a null list", canned_json(200, json!({ "publicips": null }))),
        ("no list", canned_json(200, json!({}))),
        ("a list that is a string", canned_json(200, json!({ "publicips": "[]" }))),
        ("an array body", canned_json(200, json!([]))),
        ("an array body holding a list", canned_json(200, json!([[]]))),
        (
            "an empty list next to an error code",
            canned_json(200, json!({ "publicips": [], "error_code": "VPC.0500", "error_msg": "x" })),
        ),
        (
            "an item without an id",
            canned_json(200, json!({ "publicips": [{ "status": "DOWN" }] })),
        ),
        (
            "an item with a numeric id",
            canned_json(200, json!({ "publicips": [{ "id": 7, "status": "DOWN" }] })),
        ),
        (
            "an item with an empty id",
            canned_json(200, json!({ "publicips": [{ "id": "", "status": "DOWN" }] })),
        ),
        ("an item that is an array", canned_json(200, json!({ "publicips": [[ID, "DOWN"]] }))),
        (
            "an item with a wrongly typed field",
            canned_json(200, json!({ "publicips": [{ "id": ID, "status": 1 }] })),
        ),
        (
            "the same item twice",
            canned_json(200, json!({ "publicips": [record(ID), record(ID)] })),
        ),
        (
            "HTML",
            canned(200, "<html><body>OK</body></html>").header("content-type", "text/html"),
        ),
        ("an empty body", canned(200, "")),
        ("a 204", canned(204, "")),
        ("truncated JSON", canned(200, r#"{"publicips":[{"id":"6a1b"#)),
    ]
}

#[tokio::test]
async fn garbage_describe_answers_are_never_absence() {
    timeout(async {
        for (v3, record) in [(false, v1_record as fn(&str) -> Value), (true, v3_record)] {
            for (what, answer) in garbage_lists(record) {
                let server = serve_always(answer.clone()).await;
                let provider = otc(settings(&server.base, &server.base, v3), aksk());
                let result = provider.describe(&ids(&[ID, OTHER])).await;
                assert_invalid(result, &format!("v3={v3}: {what}"));
            }
        }
    })
    .await;
}

/// The list ignores the id filter (answers an EIP nobody asked for); the provider shows each ID,
/// and each show answer must name the EIP asked for.
#[tokio::test]
async fn a_show_answer_must_name_the_eip_asked_for() {
    timeout(async {
        let shows: Vec<(&str, Canned)> = vec![
            ("another EIP", canned_json(200, json!({ "publicip": v1_record(OTHER) }))),
            ("a null record", canned_json(200, json!({ "publicip": null }))),
            ("no record", canned_json(200, json!({ "request_id": "r" }))),
            (
                "an error code in a 200",
                canned_json(200, json!({ "error_code": "VPC.0504", "error_msg": "gone?" })),
            ),
            ("a list instead", canned_json(200, json!({ "publicips": [] }))),
            (
                "an HTML 404",
                canned(404, "<html>Not Found</html>").header("content-type", "text/html"),
            ),
            ("an empty 404", canned(404, "")),
            (
                "a gateway 404",
                canned_json(404, json!({ "error_code": "APIGW.0101", "error_msg": "The API does not exist" })),
            ),
        ];
        for (what, show) in shows {
            let show = Arc::new(show);
            let server = serve("127.0.0.1", {
                let show = show.clone();
                move |seen| {
                    if seen.path.ends_with("/publicips") {
                        canned_json(200, json!({ "publicips": [v1_record("someone-else")] }))
                    } else {
                        Canned {
                            status: show.status,
                            headers: show.headers.clone(),
                            body: show.body.clone(),
                        }
                    }
                }
            })
            .await;
            let provider = otc(settings(&server.base, &server.base, false), aksk());
            let err = provider.describe(&ids(&[ID])).await.expect_err(what);
            assert_ne!(err.class(), ErrorClass::Gone, "{what}");
            assert!(server.seen().iter().any(|s| s.path.ends_with(ID)), "{what}: the ID was shown");
        }

        // A proven absence is still an absence: a 404 with the cloud's own NotFound code.
        let server = serve("127.0.0.1", |seen| {
            if seen.path.ends_with("/publicips") {
                canned_json(200, json!({ "publicips": [v1_record("someone-else")] }))
            } else {
                canned_json(404, json!({ "code": "VPC.0504", "message": "Floating IP could not be found." }))
            }
        })
        .await;
        let provider = otc(settings(&server.base, &server.base, false), aksk());
        assert!(provider.describe(&ids(&[ID])).await.expect("describes").is_empty());
    })
    .await;
}

#[tokio::test]
async fn garbage_pages_never_end_the_owner_lookup() {
    timeout(async {
        let pages: Vec<(bool, &str, Canned)> = vec![
            (false, "a null list", canned_json(200, json!({ "publicips": null }))),
            (
                false,
                "an error code",
                canned_json(200, json!({ "error_code": "APIGW.0308", "error_msg": "x" })),
            ),
            (true, "a null list", canned_json(200, json!({ "publicips": null, "page_info": {} }))),
            (
                false,
                "an item without an id",
                canned_json(
                    200,
                    json!({ "publicips": [{ "status": "DOWN", "tags": ["eip-operator_owner-uid=u-1"] }] }),
                ),
            ),
            (true, "HTML", canned(200, "<html></html>")),
        ];
        for (v3, what, page) in pages {
            let server = serve_always(page.clone()).await;
            let provider = otc(settings(&server.base, &server.base, v3), aksk());
            assert_invalid(provider.find_by_owner("u-1").await, &format!("v3={v3}: {what}"));
        }

        // A v3 walk whose marker never moves is not an end of the list.
        let server = serve("127.0.0.1", |_| {
            canned_json(
                200,
                json!({ "publicips": [v3_record(OTHER)], "page_info": { "next_marker": OTHER } }),
            )
        })
        .await;
        let provider = otc(settings(&server.base, &server.base, true), aksk());
        assert_invalid(provider.find_by_owner("u-1").await, "a marker that repeats");
    })
    .await;
}

// ----- 2. mutating calls: the documented success shape, or an error -----

#[tokio::test]
async fn a_mutating_2xx_must_have_the_success_shape() {
    timeout(async {
        // Release: DELETE answers 204 with no body.
        let releases: Vec<(&str, Canned)> = vec![
            (
                "an HTML 200",
                canned(200, "<html>deleted</html>").header("content-type", "text/html"),
            ),
            ("an empty object", canned_json(200, json!({}))),
            (
                "an error code in a 200",
                canned_json(200, json!({ "code": "VPC.0517", "message": "still bound" })),
            ),
            ("a 202", canned(202, "")),
            ("a 200 with no body", canned(200, "")),
        ];
        for (what, answer) in releases {
            let server = serve_always(answer.clone()).await;
            let provider = otc(settings(&server.base, &server.base, true), aksk());
            assert_invalid(provider.release(ID, "").await, &format!("release: {what}"));
        }
        let server = serve("127.0.0.1", |_| canned(204, "").header("x-request-id", "req-204")).await;
        let provider = otc(settings(&server.base, &server.base, true), aksk());
        assert_eq!(provider.release(ID, "").await.expect("204").request_id, "req-204");

        // Bind / unbind (v1 PUT) and v3 associate / disassociate answer {"publicip":{...}} naming the EIP.
        let updates: Vec<(&str, Canned)> = vec![
            ("HTML", canned(200, "<html>ok</html>")),
            ("an empty object", canned_json(200, json!({}))),
            ("another EIP", canned_json(200, json!({ "publicip": v1_record(OTHER) }))),
            (
                "a record without an id",
                canned_json(200, json!({ "publicip": { "status": "ACTIVE" } })),
            ),
            (
                "an error code next to the record",
                canned_json(
                    200,
                    json!({ "publicip": v1_record(ID), "error_code": "VPC.0510", "error_msg": "x" }),
                ),
            ),
            ("a 204", canned(204, "")),
        ];
        for (what, answer) in updates {
            let server = serve_always(answer.clone()).await;
            let provider = otc(settings(&server.base, &server.base, true), aksk());
            assert_invalid(provider.associate(ID, &port("port-1"), "").await, &format!("bind: {what}"));
            assert_invalid(
                provider
                    .unassociate(&UnbindRequest::new(ID.to_owned(), port("port-1").clone(), ""))
                    .await,
                &format!("unbind: {what}"),
            );
            let lb = BindTarget {
                instance_type: InstanceType::SlbInstance,
                instance_id: "lb-1".into(),
                private_ip_address: None,
            };
            assert_invalid(provider.associate(ID, &lb, "").await, &format!("v3 associate: {what}"));
            assert_invalid(
                provider.unassociate(&UnbindRequest::new(ID.to_owned(), lb.clone(), "")).await,
                &format!("v3 disassociate: {what}"),
            );
        }
        let server = serve("127.0.0.1", |seen| {
            if seen.path.starts_with("/v3/") {
                canned_json(200, json!({ "request_id": "r-3", "publicip": v3_record(ID) }))
            } else {
                canned_json(200, json!({ "publicip": v1_record(ID) }))
            }
        })
        .await;
        let provider = otc(settings(&server.base, &server.base, true), aksk());
        provider.associate(ID, &port("port-1"), "").await.expect("well-formed");
        provider
            .unassociate(&UnbindRequest::new(ID.to_owned(), port("port-1").clone(), ""))
            .await
            .expect("well-formed");

        // Allocate: the answer names a new EIP.
        for (what, body) in [
            ("an empty id", json!({ "publicip": { "id": "", "status": "PENDING_CREATE" } })),
            ("an error code", json!({ "error_code": "VPC.0521", "error_msg": "quota" })),
            ("no record", json!({ "bandwidth": {} })),
        ] {
            let body = Arc::new(body);
            let server = serve("127.0.0.1", {
                let body = body.clone();
                move |_| canned_json(200, (*body).clone())
            })
            .await;
            let provider = otc(settings(&server.base, &server.base, true), aksk());
            assert_invalid(
                provider.allocate(&Default::default()).await.map(|a| a.eip),
                &format!("allocate: {what}"),
            );
        }
    })
    .await;
}

/// A malformed batch answer proves nothing: every ID gets a single call.
#[tokio::test]
async fn a_malformed_batch_answer_falls_back_to_single_calls() {
    timeout(async {
        for batch_answer in [
            json!({ "job_ids": null }),
            json!({}),
            json!({ "job_ids": [""] }),
            json!({ "job_ids": [], "error_code": "VPC.0500", "error_msg": "x" }),
        ] {
            let batch_answer = Arc::new(batch_answer);
            let server = serve("127.0.0.1", {
                let batch_answer = batch_answer.clone();
                move |seen| {
                    if seen.path.contains("batchpublicips") {
                        canned_json(200, (*batch_answer).clone())
                    } else {
                        canned(204, "")
                    }
                }
            })
            .await;
            let mut settings = settings(&server.base, &server.base, true);
            settings.batch_operations = true;
            settings.batch_window = Duration::from_millis(100);
            let provider = otc(settings, aksk());
            let (a, b) = tokio::join!(provider.release(ID, ""), provider.release(OTHER, ""));
            a.expect("single call");
            b.expect("single call");
            let singles = server
                .seen()
                .iter()
                .filter(|s| s.method == "DELETE" && !s.path.contains("batch"))
                .count();
            assert_eq!(singles, 2, "{batch_answer}");
        }
    })
    .await;
}

// ----- 3. only the cloud's own NotFound is Gone -----

#[tokio::test]
async fn only_the_clouds_not_found_is_gone() {
    timeout(async {
        let not_gone: Vec<(&str, Canned, ErrorClass)> = vec![
            (
                "an HTML 404",
                canned(404, "<html><h1>404 Not Found</h1></html>").header("content-type", "text/html"),
                ErrorClass::Retryable,
            ),
            ("an empty 404", canned(404, ""), ErrorClass::Retryable),
            ("a text 404", canned(404, "Not Found"), ErrorClass::Retryable),
            (
                "a JSON 404 without a code",
                canned_json(404, json!({ "message": "Not Found" })),
                ErrorClass::Retryable,
            ),
            (
                "a 404 with the status as code",
                canned_json(404, json!({ "code": "404", "message": "not found" })),
                ErrorClass::Retryable,
            ),
            (
                "API does not exist",
                canned_json(
                    404,
                    json!({ "error_code": "APIGW.0101", "error_msg": "The API does not exist or has not been published" }),
                ),
                ErrorClass::Terminal,
            ),
            (
                "VPC not found",
                canned_json(404, json!({ "code": "VPC.0003", "message": "VPC does not exist." })),
                ErrorClass::Retryable,
            ),
        ];
        for (what, answer, class) in not_gone {
            let server = serve_always(answer.clone()).await;
            let provider = otc(settings(&server.base, &server.base, true), aksk());
            for (op, result) in [
                ("release", provider.release(ID, "").await),
                (
                    "unassociate",
                    provider
                        .unassociate(&UnbindRequest::new(ID.to_owned(), port("port-1").clone(), ""))
                        .await,
                ),
                ("associate", provider.associate(ID, &port("port-1"), "").await),
            ] {
                let err = result.expect_err(what);
                assert_eq!(err.class(), class, "{op}: {what}: {err:?}");
            }
        }
        for body in [
            json!({ "code": "VPC.0504", "message": "Floating IP could not be found." }),
            json!({ "error_code": "VPC.0504", "error_msg": "Floating IP could not be found.", "request_id": "r" }),
        ] {
            let body = Arc::new(body);
            let server = serve("127.0.0.1", {
                let body = body.clone();
                move |_| canned_json(404, (*body).clone())
            })
            .await;
            let provider = otc(settings(&server.base, &server.base, true), aksk());
            let err = provider.release(ID, "").await.expect_err("gone");
            assert_eq!((err.class(), err.code.as_str()), (ErrorClass::Gone, "VPC.0504"));
        }
    })
    .await;
}

// ----- 4. credentials never follow a redirect -----

#[tokio::test]
async fn credentials_never_follow_redirects() {
    timeout(async {
        for status in [302u16, 307] {
            let elsewhere = serve("127.0.0.2", |_| canned_json(200, json!({ "publicips": [] }))).await;
            let location = format!("{}/stolen", elsewhere.base);
            let redirector = serve("127.0.0.1", {
                let location = location.clone();
                move |_| canned(status, "").header("location", &location)
            })
            .await;
            // A token issuer that works, for the token-authenticated case.
            let iam = serve("127.0.0.1", |_| {
                canned_json(
                    201,
                    json!({ "token": { "project": { "id": PROJECT }, "expires_at": "2999-01-01T00:00:00.000000Z" } }),
                )
                .header("x-subject-token", ISSUED_TOKEN)
            })
            .await;
            let cases: Vec<(&str, OtcProvider)> = vec![
                (
                    "AK/SK with a security token",
                    otc(settings(&redirector.base, &redirector.base, true), aksk()),
                ),
                (
                    "an IAM password token request",
                    otc(settings(&redirector.base, &redirector.base, true), password()),
                ),
                (
                    "a token-authenticated call",
                    otc(settings(&redirector.base, &iam.base, true), password()),
                ),
                ("AK/SK project resolution", {
                    let mut s = settings(&redirector.base, &redirector.base, true);
                    s.project_id = None;
                    otc(s, aksk())
                }),
            ];
            for (what, provider) in cases {
                let results = vec![
                    provider.describe(&ids(&[ID])).await.map(|_| ()),
                    provider.associate(ID, &port("port-1"), "").await.map(|_| ()),
                    provider.release(ID, "").await.map(|_| ()),
                ];
                for result in results {
                    let err = result.expect_err(what);
                    assert_eq!(
                        (err.class(), err.code.as_str()),
                        (ErrorClass::Terminal, "UnexpectedRedirect"),
                        "{what}: {err:?}"
                    );
                    assert!(err.message.contains("127.0.0.2"), "{what}: names the host: {}", err.message);
                    let shown = format!("{err:?}");
                    for secret in [SK, SECURITY_TOKEN, PASSWORD, ISSUED_TOKEN, "stolen"] {
                        assert!(!shown.contains(secret), "{what}: {shown}");
                    }
                }
            }
            assert!(
                elsewhere.seen().is_empty(),
                "HTTP {status}: the other host received {:?}",
                elsewhere.seen()
            );
            assert!(!redirector.seen().is_empty());
        }
    })
    .await;
}

// ----- 5. nothing echoed comes back with a credential -----

/// Answers every request with an error whose message is the whole request.
fn echo(seen: &Seen) -> Canned {
    let dump = seen.dump();
    if seen.path == "/v3/auth/tokens" {
        return canned_json(400, json!({ "error": { "code": 400, "message": dump, "title": "Bad Request" } }));
    }
    if seen.path.starts_with("/v1/") {
        canned_json(400, json!({ "code": "VPC.0501", "message": dump })).header("x-request-id", &dump.replace('\n', " "))
    } else {
        canned_json(400, json!({ "error_code": dump, "error_msg": dump, "request_id": dump }))
    }
}

fn assert_clean(err: &CloudError, server: &Server, what: &str) {
    let shown = format!("{err:?} {err}");
    let mut secrets = vec![
        SK.to_owned(),
        SECURITY_TOKEN.to_owned(),
        PASSWORD.to_owned(),
        ISSUED_TOKEN.to_owned(),
    ];
    for seen in server.seen() {
        if let Some(auth) = seen.header("authorization")
            && let Some(signature) = auth.split("Signature=").nth(1)
        {
            secrets.push(signature.trim().to_owned());
        }
    }
    for secret in secrets {
        assert!(!shown.contains(&secret), "{what}: {secret:?} in {shown}");
        let encoded = secret.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
        assert!(!shown.contains(&encoded), "{what}: encoded {secret:?} in {shown}");
    }
}

#[tokio::test]
async fn echoed_requests_carry_no_credentials_back() {
    timeout(async {
        // AK/SK with a security token: the VPC calls are echoed.
        let server = serve("127.0.0.1", echo).await;
        let provider_aksk = otc(settings(&server.base, &server.base, true), aksk());
        for (what, result) in [
            ("describe", provider_aksk.describe(&ids(&[ID])).await.map(|_| ())),
            ("associate", provider_aksk.associate(ID, &port("port-1"), "").await.map(|_| ())),
            ("release", provider_aksk.release(ID, "").await.map(|_| ())),
            ("allocate", provider_aksk.allocate(&Default::default()).await.map(|_| ())),
        ] {
            let err = result.expect_err(what);
            assert!(!server.seen().is_empty());
            assert_clean(&err, &server, what);
        }
        assert!(
            server.seen().iter().any(|s| s.header("x-security-token") == Some(SECURITY_TOKEN)),
            "the token was sent (and echoed)"
        );

        // Password: the token request (with the password in its body) is echoed.
        let provider_password = otc(settings(&server.base, &server.base, true), password());
        let err = provider_password.describe(&ids(&[ID])).await.expect_err("echo");
        assert_clean(&err, &server, "token request");

        // Token: IAM issues a token, the VPC call carrying it is echoed.
        let iam = serve("127.0.0.1", |_| {
            canned_json(201, json!({ "token": { "project": { "id": PROJECT } } })).header("x-subject-token", ISSUED_TOKEN)
        })
        .await;
        let provider_token = otc(settings(&server.base, &iam.base, true), password());
        for (what, result) in [
            ("describe", provider_token.describe(&ids(&[ID])).await.map(|_| ())),
            (
                "unassociate",
                provider_token
                    .unassociate(&UnbindRequest::new(ID.to_owned(), port("port-1").clone(), ""))
                    .await
                    .map(|_| ()),
            ),
        ] {
            let err = result.expect_err(what);
            assert_clean(&err, &server, what);
        }
        assert!(server.seen().iter().any(|s| s.header("x-auth-token") == Some(ISSUED_TOKEN)));
    })
    .await;
}

// ----- 6. the status decides throttling and server errors -----

#[tokio::test]
async fn throttling_and_server_errors_win_over_the_body_code() {
    timeout(async {
        let cases: Vec<(Canned, bool, Option<Duration>)> = vec![
            (
                canned_json(429, json!({ "code": "VPC.0502", "message": "Tenant status is op_restricted." })).header("retry-after", "7"),
                true,
                Some(Duration::from_secs(7)),
            ),
            (
                canned_json(429, json!({ "code": "VPC.0504", "message": "Floating IP could not be found." }))
                    .header("retry-after", "100000"),
                true,
                Some(MAX_RETRY_AFTER),
            ),
            (canned(429, "<html>slow down</html>"), true, None),
            (
                canned_json(503, json!({ "code": "VPC.0504", "message": "Floating IP could not be found." })),
                false,
                None,
            ),
            (
                canned_json(500, json!({ "code": "VPC.0517", "message": "still bound" })),
                false,
                None,
            ),
            (canned_json(502, json!({ "code": "VPC.0521", "message": "quota" })), false, None),
            (canned(500, "<html>oops</html>"), false, None),
        ];
        for (answer, throttled, retry_after) in cases {
            let server = serve_always(answer.clone()).await;
            let provider = otc(settings(&server.base, &server.base, true), aksk());
            for err in [
                provider.release(ID, "").await.expect_err("refused"),
                provider.describe(&ids(&[ID])).await.expect_err("refused"),
            ] {
                let what = String::from_utf8_lossy(&answer.body).into_owned();
                assert_eq!(err.class(), ErrorClass::Retryable, "HTTP {}: {what}: {err:?}", answer.status);
                assert_eq!(err.is_throttled(), throttled, "HTTP {}: {what}", answer.status);
                assert_eq!(err.retry_after(), retry_after, "HTTP {}: {what}", answer.status);
            }
        }
    })
    .await;
}

// ----- 7. credentials the provider cannot use are terminal and named -----

#[tokio::test]
async fn unusable_credentials_are_terminal_and_named() {
    timeout(async {
        let server = serve("127.0.0.1", |_| canned_json(200, json!({ "publicips": [] }))).await;
        let cases: Vec<(&str, Arc<StaticSecret>)> = vec![
            ("accessKey", secret(&[("accessKey", "AK\r\nX-Injected: 1"), ("secretKey", SK)])),
            ("accessKey", secret(&[("accessKey", "clé-d-accès"), ("secretKey", SK)])),
            (
                "securityToken",
                secret(&[("accessKey", AK), ("secretKey", SK), ("securityToken", "tok\nen")]),
            ),
            (
                "securityToken",
                secret(&[("accessKey", AK), ("secretKey", SK), ("securityToken", "jeton-é")]),
            ),
            ("secretKey", secret(&[("accessKey", AK)])),
            ("accessKey", secret(&[("secretKey", SK), ("securityToken", SECURITY_TOKEN)])),
            ("domainName", secret(&[("username", "u"), ("password", PASSWORD)])),
            ("password", secret(&[("username", "u"), ("domainName", "d")])),
            (
                "password",
                secret(&[("username", "u"), ("password", "pass\u{0}word"), ("domainName", "d")]),
            ),
        ];
        for (key, secret) in cases {
            let provider = otc(settings(&server.base, &server.base, true), secret);
            for err in [
                provider.describe(&ids(&[ID])).await.expect_err(key),
                provider.release(ID, "").await.expect_err(key),
            ] {
                assert_eq!(
                    (err.class(), err.blocker(), err.code.as_str()),
                    (ErrorClass::Terminal, Some(Blocker::InvalidCredentials), "InvalidCredentials"),
                    "{key}: {err:?}"
                );
                assert!(err.message.contains(key), "{key}: {}", err.message);
                assert!(!err.message.contains(SK) && !err.message.contains(PASSWORD), "{}", err.message);
            }
        }
        assert!(server.seen().is_empty(), "nothing was sent: {:?}", server.seen());
    })
    .await;
}
