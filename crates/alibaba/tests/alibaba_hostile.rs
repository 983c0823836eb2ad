//! `AlibabaProvider` against hostile and broken endpoints (local servers that answer whatever a
//! test wants). The property tests of the same parsers, through the fuzz entry points, are in
//! `src/cloud/alibaba/properties.rs` (`cargo test --lib alibaba`).
//!
//! The rules proven here: an absence is a fact only when a well-formed answer proves it; a 2xx
//! carrying an error is no success; `Gone` comes only from the cloud's error body; redirects are
//! never followed; no error carries a credential; waits are bounded; credentials that cannot be
//! sent are refused terminally, before anything is sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Uri};
use eip_alibaba::AlibabaProvider;
use eip_alibaba::signing::{parse_form, parse_v3_authorization};
use eip_api::{AlibabaOptions, AlibabaSignatureVersion};
use eip_cloud::UnbindRequest;
use eip_cloud::http::{INVALID_RESPONSE, MAX_RETRY_AFTER};
use eip_cloud::{AllocateRequest, BindTarget, Blocker, CloudError, CloudProvider, ErrorClass, InstanceType, SecretData, StaticSecret};

const REGION: &str = "cn-hangzhou";
const BOTH: [AlibabaSignatureVersion; 2] = [AlibabaSignatureVersion::V3, AlibabaSignatureVersion::V1];
const KEY_ID: &str = "LTAI5tHostileKeyId";
const SECRET: &str = "hostile-access-key-secret-0001";
/// With `+`, `/` and `=`, so that its URL-encoded form differs from the raw one.
const TOKEN: &str = "CAIS+hostile/security=token-0001";
const OIDC_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.hostile-oidc-token.c2lnbmF0dXJl";

/// One request as a server saw it.
#[derive(Clone, Debug)]
struct Seen {
    uri: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Query and form parameters, decoded.
    fn params(&self) -> BTreeMap<String, String> {
        let query = self.uri.split_once('?').map_or("", |(_, q)| q);
        parse_form(query).into_iter().chain(parse_form(&self.body)).collect()
    }
}

type Seens = Arc<Mutex<Vec<Seen>>>;
type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// A server on `ip` answering every request with `answer(request)`; returns its URL and what it saw.
async fn server(ip: &str, answer: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> (String, Seens) {
    let seen: Seens = Arc::default();
    let log = seen.clone();
    let answer = Arc::new(answer);
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let log = log.clone();
        let answer = answer.clone();
        async move {
            let request = Seen {
                uri: format!("{method} {uri}"),
                headers: headers
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                    .collect(),
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let (status, reply_headers, reply_body) = answer(&request);
            log.lock().expect("lock").push(request);
            let mut response = axum::http::Response::builder().status(status);
            for (name, value) in reply_headers {
                response = response.header(name, value);
            }
            response.body(Body::from(reply_body)).expect("response")
        }
    });
    let listener = tokio::net::TcpListener::bind(format!("{ip}:0")).await.expect("binds");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

/// A server that always answers `status`, `body`.
async fn fixed(status: u16, body: &str) -> (String, Seens) {
    let body = body.as_bytes().to_vec();
    server("127.0.0.1", move |_| (status, Vec::new(), body.clone())).await
}

/// An `AssumeRoleWithOIDC` answer: keys `STS.key` / `secret` with `token`, valid for an hour.
fn sts_answer(secret: &str, token: &str) -> String {
    let expiration = eip_alibaba::client::format_timestamp(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1));
    let body = serde_json::json!({"RequestId": "R", "Credentials": {
        "AccessKeyId": "STS.key", "AccessKeySecret": secret, "SecurityToken": token, "Expiration": expiration}});
    body.to_string()
}

fn keys() -> SecretData {
    SecretData::from(BTreeMap::from([
        ("accessKeyId".to_owned(), KEY_ID.to_owned()),
        ("accessKeySecret".to_owned(), SECRET.to_owned()),
        ("securityToken".to_owned(), TOKEN.to_owned()),
    ]))
}

fn provider_with(vpc: &str, sts: &str, version: AlibabaSignatureVersion, secret: SecretData) -> AlibabaProvider {
    let options = AlibabaOptions {
        signature_version: Some(version),
        sts_endpoint: Some(sts.to_owned()),
    };
    AlibabaProvider::new(REGION, Some(vpc), Some(&options), Arc::new(StaticSecret(secret))).expect("builds")
}

fn provider(base: &str, version: AlibabaSignatureVersion) -> AlibabaProvider {
    provider_with(base, base, version, keys())
}

fn rrsa_secret(token_file: &std::path::Path) -> SecretData {
    SecretData::from(BTreeMap::from([
        ("roleArn".to_owned(), "acs:ram::1234567890:role/eip-operator".to_owned()),
        ("oidcProviderArn".to_owned(), "acs:ram::1234567890:oidc-provider/ack".to_owned()),
        ("oidcTokenFile".to_owned(), token_file.to_string_lossy().into_owned()),
    ]))
}

fn token_file(content: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), content).expect("writes");
    file
}

fn ecs() -> BindTarget {
    BindTarget {
        instance_type: InstanceType::EcsInstance,
        instance_id: "i-1".into(),
        private_ip_address: None,
    }
}

fn assert_invalid_response(err: &CloudError, what: &str) {
    assert_eq!(
        (err.class(), err.code.as_str()),
        (ErrorClass::Retryable, INVALID_RESPONSE),
        "{what}: {err:?}"
    );
}

/// The four mutating calls, each against `provider`.
async fn mutations(provider: &AlibabaProvider) -> Vec<(&'static str, Result<String, CloudError>)> {
    vec![
        (
            "allocate",
            provider.allocate(&AllocateRequest::default()).await.map(|a| a.eip.allocation_id),
        ),
        ("associate", provider.associate("eip-1", &ecs(), "t").await.map(|r| r.request_id)),
        (
            "unassociate",
            provider
                .unassociate(&UnbindRequest::new("eip-1".to_owned(), ecs().clone(), "t"))
                .await
                .map(|r| r.request_id),
        ),
        ("release", provider.release("eip-1", "t").await.map(|r| r.request_id)),
    ]
}

const ITEM_1: &str = r#"{"AllocationId":"eip-1","IpAddress":"47.0.0.1","Status":"Available","Tags":{"Tag":[{"Key":"eip-operator.dev/owner-uid","Value":"uid-1"}]}}"#;

/// Finding 1: a garbage 200 to Describe read as "the EIP is gone".
#[tokio::test]
async fn garbage_describe_answers_are_not_absence() {
    let page = |items: &str, total: u64| {
        format!(r#"{{"RequestId":"R","TotalCount":{total},"PageNumber":1,"PageSize":100,"EipAddresses":{{"EipAddress":[{items}]}}}}"#)
    };
    let garbage = [
        "{}".to_owned(),
        "[]".to_owned(),
        "null".to_owned(),
        "<html>maintenance</html>".to_owned(),
        r#"{"RequestId":"R","Code":"Throttling.User","Message":"Request was denied due to user flow control."}"#.to_owned(),
        r#"{"RequestId":"R","TotalCount":0}"#.to_owned(),
        r#"{"RequestId":"R","TotalCount":0,"EipAddresses":{}}"#.to_owned(),
        r#"{"RequestId":"R","TotalCount":0,"EipAddresses":{"EipAddress":{}}}"#.to_owned(),
        r#"{"TotalCount":0,"EipAddresses":{"EipAddress":[]}}"#.to_owned(),
        r#"{"RequestId":"R","Code":"x","TotalCount":0,"EipAddresses":{"EipAddress":[]}}"#.to_owned(),
        page(r#"{"IpAddress":"47.0.0.1","Status":"Available"}"#, 1),
        page(r#"{"AllocationId":1,"IpAddress":"47.0.0.1","Status":"Available"}"#, 1),
        page(r#"{"AllocationId":"","IpAddress":"47.0.0.1","Status":"Available"}"#, 1),
        page(r#"{"AllocationId":"eip-2","IpAddress":"47.0.0.2","Status":"Available"}"#, 1),
        page(ITEM_1, 0),
        page(&format!("{ITEM_1},{ITEM_1}"), 2),
        page("", 1),
        page(
            r#"{"AllocationId":"eip-1","IpAddress":"47.0.0.1","Status":"Available","Tags":{"Tag":"owner"}}"#,
            1,
        ),
    ];
    for body in &garbage {
        let (base, _) = fixed(200, body).await;
        for version in BOTH {
            let err = provider(&base, version)
                .describe(&["eip-1".to_owned()])
                .await
                .expect_err("garbage is no answer");
            assert_invalid_response(&err, body);
        }
    }
    // FindByOwner: the same rules, and every item must carry the owner tag.
    for body in garbage
        .iter()
        .chain([&page(r#"{"AllocationId":"eip-9","IpAddress":"47.0.0.9","Status":"Available"}"#, 1)])
    {
        let (base, _) = fixed(200, body).await;
        let err = provider(&base, AlibabaSignatureVersion::V3)
            .find_by_owner("uid-1")
            .await
            .expect_err("garbage is no answer");
        assert_invalid_response(&err, body);
    }
    // A well-formed empty list is a proven absence.
    let (base, _) = fixed(200, &page("", 0)).await;
    assert!(
        provider(&base, AlibabaSignatureVersion::V3)
            .describe(&["eip-1".to_owned()])
            .await
            .expect("absent")
            .is_empty()
    );
    let (base, _) = fixed(200, &page(ITEM_1, 1)).await;
    let found = provider(&base, AlibabaSignatureVersion::V1)
        .find_by_owner("uid-1")
        .await
        .expect("found");
    assert_eq!(found[0].allocation_id, "eip-1");
}

/// Finding 2: a 2xx with an error body counted as success on mutating calls.
#[tokio::test]
async fn a_2xx_carrying_an_error_is_no_success() {
    for body in [
        r#"{"Code":"TaskConflict"}"#,
        r#"{"RequestId":"R","Code":"TaskConflict","Message":"The operation conflicts with another."}"#,
        r#"{"RequestId":"R","code":"TaskConflict"}"#,
        r#"{"RequestId":"R","Code":null}"#,
        "{}",
        "[]",
        r#"{"RequestId":7}"#,
        r#"{"RequestId":""}"#,
        "OK",
    ] {
        let (base, _) = fixed(200, body).await;
        for version in BOTH {
            for (call, result) in mutations(&provider(&base, version)).await {
                assert_invalid_response(&result.expect_err(call), &format!("{call} {body}"));
            }
        }
    }
    let (base, _) = fixed(200, r#"{"RequestId":"R","EipAddress":"47.0.0.1"}"#).await;
    let err = provider(&base, AlibabaSignatureVersion::V3)
        .allocate(&AllocateRequest::default())
        .await
        .expect_err("no ID");
    assert_invalid_response(&err, "allocate without an AllocationId");
}

/// Finding 3: `Gone` only from the cloud's error body naming a NotFound code.
#[tokio::test]
async fn gone_only_from_the_cloud_error_body() {
    let not_gone = [
        (404, ""),
        (404, "Not Found"),
        (404, r#"{"Code":"InvalidAllocationId.NotFound"}"#),
        (404, r#"{"Code":"InvalidAllocationId.NotFound","Message":"gone"}"#),
        (404, r#"{"RequestId":"R","Code":"InvalidAllocationId.NotFound","Message":5}"#),
        (404, r#"{"requestId":"R","code":"InvalidAllocationId.NotFound","message":"gone"}"#),
        (503, r#"{"RequestId":"R","Code":"InvalidAllocationId.NotFound","Message":"gone"}"#),
        (200, r#"{"RequestId":"R","Code":"InvalidAllocationId.NotFound","Message":"gone"}"#),
    ];
    for (status, body) in not_gone {
        let (base, _) = fixed(status, body).await;
        let provider = provider(&base, AlibabaSignatureVersion::V3);
        for result in [
            provider.release("eip-1", "").await,
            provider
                .unassociate(&UnbindRequest::new("eip-1".to_owned(), ecs().clone(), ""))
                .await,
        ] {
            let err = result.expect_err("an error");
            assert_eq!(err.class(), ErrorClass::Retryable, "{status} {body}: {err:?}");
        }
    }
    let (base, _) = fixed(
        404,
        r#"{"RequestId":"R","HostId":"vpc.aliyuncs.com","Code":"InvalidAllocationId.NotFound","Message":"gone"}"#,
    )
    .await;
    let err = provider(&base, AlibabaSignatureVersion::V1)
        .release("eip-1", "")
        .await
        .expect_err("gone");
    assert_eq!((err.class(), err.request_id.as_deref()), (ErrorClass::Gone, Some("R")));
    // Describe never reads an absence from an error.
    let err = provider(&base, AlibabaSignatureVersion::V1)
        .describe(&["eip-1".to_owned()])
        .await
        .expect_err("error");
    assert_eq!(err.class(), ErrorClass::Retryable);
}

/// Finding 4: credentials followed redirects.
#[tokio::test]
async fn redirects_are_never_followed() {
    let (elsewhere, seen_elsewhere) = server("127.0.0.2", |_| (200, Vec::new(), br#"{"RequestId":"R"}"#.to_vec())).await;
    let token = token_file(OIDC_TOKEN.as_bytes());
    for status in [302u16, 307] {
        let target = elsewhere.clone();
        // The Location carries the signed query, as a hostile redirect would.
        let (base, seen) = server("127.0.0.1", move |request| {
            let query = request.uri.split_once('?').map_or("", |(_, q)| q).to_owned();
            (status, vec![("location".to_owned(), format!("{target}/steal?{query}"))], Vec::new())
        })
        .await;
        let mut calls = Vec::new();
        for version in BOTH {
            calls.push((
                format!("{version:?} describe"),
                provider(&base, version).describe(&["eip-1".to_owned()]).await.map(|_| ()),
            ));
            calls.push((
                format!("{version:?} release"),
                provider(&base, version).release("eip-1", "").await.map(|_| ()),
            ));
        }
        let rrsa = provider_with(&elsewhere, &base, AlibabaSignatureVersion::V3, rrsa_secret(token.path()));
        calls.push((
            "RRSA AssumeRoleWithOIDC".to_owned(),
            rrsa.describe(&["eip-1".to_owned()]).await.map(|_| ()),
        ));
        for (call, result) in calls {
            let err = result.expect_err("a redirect is an error");
            assert_eq!(err.code, "UnexpectedRedirect", "{call}: {err:?}");
            assert!(err.message.contains("127.0.0.2"), "{call}: {}", err.message);
            let shown = format!("{err} {err:?}");
            for secret in [SECRET, TOKEN, OIDC_TOKEN, "Signature="] {
                assert!(!shown.contains(secret), "{call} shows {secret}: {shown}");
            }
        }
        assert_eq!(seen.lock().expect("lock").len(), 5, "each call reached the first server once");
    }
    assert!(
        seen_elsewhere.lock().expect("lock").is_empty(),
        "the redirect target received nothing"
    );
}

/// Finding 5: error messages were copied verbatim (a server echoing the request).
#[tokio::test]
async fn echoed_requests_show_no_secret() {
    type Echo = fn(&Seen) -> String;
    let echoes: [(&str, Echo); 4] = [
        ("url", |r| r.uri.clone()),
        ("headers", |r| {
            r.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect::<Vec<_>>().join("\n")
        }),
        ("values", |r| {
            r.headers
                .iter()
                .map(|(_, v)| v.clone())
                .chain(r.params().into_values())
                .collect::<Vec<_>>()
                .join(" ")
        }),
        ("body", |r| r.body.clone()),
    ];
    for (what, echo) in echoes {
        let (base, seen) = server("127.0.0.1", move |request| {
            let message = echo(request);
            let body = serde_json::json!({"RequestId": "R", "HostId": "h", "Code": "InvalidParameter", "Message": message});
            (400, Vec::new(), body.to_string().into_bytes())
        })
        .await;
        for version in BOTH {
            let err = provider(&base, version).describe(&["eip-1".to_owned()]).await.expect_err("refused");
            let request = seen.lock().expect("lock").last().cloned().expect("a request");
            let signature = match version {
                AlibabaSignatureVersion::V1 => request.params().get("Signature").cloned().expect("V1 signature"),
                AlibabaSignatureVersion::V3 => {
                    let authorization = request.header("authorization").expect("V3 authorization");
                    parse_v3_authorization(authorization).expect("signature").signature
                }
            };
            let shown = format!("{err} {err:?}");
            for secret in [SECRET, TOKEN, signature.as_str()] {
                assert!(!shown.contains(secret), "{what} echo, {version:?}: {secret} in {shown}");
            }
        }
        // RRSA: the OIDC token travels to STS in the body.
        let token = token_file(OIDC_TOKEN.as_bytes());
        let rrsa = provider_with(&base, &base, AlibabaSignatureVersion::V3, rrsa_secret(token.path()));
        let err = rrsa.describe(&["eip-1".to_owned()]).await.expect_err("refused");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(OIDC_TOKEN), "{what} echo to STS: {shown}");
    }
    // One server as STS and VPC endpoint: it saw the OIDC token and echoes it later.
    let remembered = Arc::new(Mutex::new(String::new()));
    let memory = remembered.clone();
    let (base, _) = server("127.0.0.1", move |request| {
        let params = request.params();
        if params.get("Action").map(String::as_str) == Some("AssumeRoleWithOIDC") {
            *memory.lock().expect("lock") = params.get("OIDCToken").cloned().unwrap_or_default();
            return (200, Vec::new(), sts_answer("tmp-secret-0001", "tmp-token-0001").into_bytes());
        }
        let echo = format!(
            "seen before: {} now: {}",
            memory.lock().expect("lock"),
            request.headers.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(" ")
        );
        let body = serde_json::json!({"RequestId": "R", "Code": "InvalidParameter", "Message": echo});
        (400, Vec::new(), body.to_string().into_bytes())
    })
    .await;
    let token = token_file(OIDC_TOKEN.as_bytes());
    let rrsa = provider_with(&base, &base, AlibabaSignatureVersion::V3, rrsa_secret(token.path()));
    let err = rrsa.describe(&["eip-1".to_owned()]).await.expect_err("refused");
    assert_eq!(*remembered.lock().expect("lock"), OIDC_TOKEN, "STS saw the token");
    let shown = format!("{err} {err:?}");
    for secret in [OIDC_TOKEN, "tmp-secret-0001", "tmp-token-0001"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }

    // An echo in the code itself.
    let (base, _) = fixed(
        400,
        &serde_json::json!({"RequestId": "R", "Code": TOKEN, "Message": "m"}).to_string(),
    )
    .await;
    let err = provider(&base, AlibabaSignatureVersion::V3)
        .release("eip-1", "")
        .await
        .expect_err("refused");
    assert!(!format!("{err:?}").contains("hostile"), "{err:?}");
}

/// Finding 6: unbounded retry-after, and 429/5xx whatever the code.
#[tokio::test]
async fn waits_are_bounded_and_status_wins() {
    let throttled = br#"{"RequestId":"R","Code":"Throttling.User","Message":"Request was denied due to user flow control."}"#;
    for (status, body) in [(400u16, &throttled[..]), (429, b""), (503, throttled)] {
        let (base, _) = server("127.0.0.1", move |_| {
            (status, vec![("x-acs-retry-after".to_owned(), u64::MAX.to_string())], body.to_vec())
        })
        .await;
        let err = provider(&base, AlibabaSignatureVersion::V3)
            .release("eip-1", "")
            .await
            .expect_err("throttled");
        assert_eq!(
            (err.class(), err.retry_after()),
            (ErrorClass::Retryable, Some(MAX_RETRY_AFTER)),
            "{status}: {err:?}"
        );
    }
    let (base, _) = fixed(503, r#"{"RequestId":"R","Code":"Forbidden","Message":"no"}"#).await;
    let err = provider(&base, AlibabaSignatureVersion::V1)
        .release("eip-1", "")
        .await
        .expect_err("5xx");
    assert_eq!((err.class(), err.blocker()), (ErrorClass::Retryable, None));
    let (base, _) = fixed(429, r#"{"RequestId":"R","Code":"Forbidden.ChargeTypeIsPrepaid","Message":"no"}"#).await;
    let err = provider(&base, AlibabaSignatureVersion::V1)
        .release("eip-1", "")
        .await
        .expect_err("429");
    assert_eq!((err.class(), err.is_throttled()), (ErrorClass::Retryable, true));
}

/// Finding 7: credentials that cannot be sent are refused terminally, before any request.
#[tokio::test]
async fn unsendable_credentials_are_refused_before_sending() {
    let (base, seen) = fixed(200, r#"{"RequestId":"R","TotalCount":0,"EipAddresses":{"EipAddress":[]}}"#).await;
    let with = |key: &str, value: &str| {
        let mut secret = keys();
        secret.insert(key.to_owned(), value.to_owned());
        secret
    };
    let huge = "A".repeat(1024 * 1024);
    let cases = [
        ("accessKeyId", with("accessKeyId", &huge)),
        ("accessKeyId", with("accessKeyId", "LTAI-ключ")),
        ("accessKeyId", with("accessKeyId", "LTAI5t key")),
        ("securityToken", with("securityToken", "CAIS\r\nX-Injected: 1")),
        ("securityToken", with("securityToken", "CAIS\u{7f}x")),
        ("accessKeySecret", with("accessKeySecret", "secret\nwith a line break")),
        ("accessKeySecret", with("accessKeySecret", &huge)),
        (
            "accessKeySecret",
            SecretData::from(BTreeMap::from([("accessKeyId".to_owned(), KEY_ID.to_owned())])),
        ),
    ];
    for (key, secret) in cases {
        for version in BOTH {
            let err = provider_with(&base, &base, version, secret.clone())
                .describe(&["eip-1".to_owned()])
                .await
                .expect_err("refused");
            assert_eq!(
                (err.class(), err.blocker(), err.code.as_str()),
                (ErrorClass::Terminal, Some(Blocker::InvalidCredentials), "InvalidCredentials"),
                "{key} {version:?}: {err:?}"
            );
            assert!(err.message.contains(key), "{key}: {}", err.message);
            assert!(err.message.len() < 1024 && !err.message.contains("AAAAAAAA"), "{}", err.message);
        }
    }
    // The OIDC token file: bounded UTF-8 text without control characters.
    let mut too_long = vec![b'a'; 20 * 1024];
    too_long.push(b'\n');
    for content in [too_long, b"eyJ\x01abc".to_vec(), vec![0xff, 0xfe, b'a'], b"eyJ.a\r\nb.c".to_vec()] {
        let token = token_file(&content);
        let err = provider_with(&base, &base, AlibabaSignatureVersion::V3, rrsa_secret(token.path()))
            .describe(&["eip-1".to_owned()])
            .await
            .expect_err("refused");
        assert_eq!(
            (err.class(), err.blocker()),
            (ErrorClass::Terminal, Some(Blocker::InvalidCredentials)),
            "{err:?}"
        );
        assert!(err.message.contains("oidcTokenFile"), "{}", err.message);
    }
    assert!(seen.lock().expect("lock").is_empty(), "nothing was sent");

    // Temporary keys STS hands out are held to the same rules (a malformed answer: retryable).
    let (sts, _) = fixed(200, &sts_answer("tmp-secret", "tok\r\nX-Injected: 1")).await;
    let token = token_file(OIDC_TOKEN.as_bytes());
    let err = provider_with(&base, &sts, AlibabaSignatureVersion::V3, rrsa_secret(token.path()))
        .describe(&["eip-1".to_owned()])
        .await
        .expect_err("unusable temporary keys");
    assert_invalid_response(&err, "STS token with a line break");
    assert!(!err.message.contains("tmp-secret"), "{}", err.message);
    assert!(seen.lock().expect("lock").is_empty(), "nothing was sent with them");
}

/// The RRSA path end to end against a well-behaved STS: the temporary keys sign the call.
#[tokio::test]
async fn rrsa_keys_sign_the_call() {
    let (sts, sts_seen) = fixed(200, &sts_answer("tmp-secret", "tmp-token")).await;
    let (vpc, vpc_seen) = fixed(200, r#"{"RequestId":"R","TotalCount":0,"EipAddresses":{"EipAddress":[]}}"#).await;
    let token = token_file(format!("{OIDC_TOKEN}\n").as_bytes());
    let provider = provider_with(&vpc, &sts, AlibabaSignatureVersion::V3, rrsa_secret(token.path()));
    assert!(provider.describe(&["eip-1".to_owned()]).await.expect("describes").is_empty());
    let form = sts_seen.lock().expect("lock")[0].params();
    assert_eq!(form.get("OIDCToken").map(String::as_str), Some(OIDC_TOKEN));
    let call = vpc_seen.lock().expect("lock")[0].clone();
    assert_eq!(call.header("x-acs-security-token"), Some("tmp-token"));
    assert!(call.header("authorization").is_some_and(|a| a.contains("Credential=STS.key,")));
}
