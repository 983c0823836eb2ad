//! Credentials: never sent after a redirect, never echoed back, refused (terminal, named) when
//! unusable.

use std::sync::Arc;

use eip_cloud::{Blocker, CloudError, CloudProvider, ErrorClass, StaticSecret};
use eip_otc::OtcProvider;
use serde_json::json;

use super::support::*;

// ----- credentials never follow a redirect -----

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

// ----- nothing echoed comes back with a credential -----

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
        let provider_aksk = otc_at(&server, true);
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
            ("unassociate", provider_token.unassociate(&unbind_port()).await.map(|_| ())),
        ] {
            let err = result.expect_err(what);
            assert_clean(&err, &server, what);
        }
        assert!(server.seen().iter().any(|s| s.header("x-auth-token") == Some(ISSUED_TOKEN)));
    })
    .await;
}

// ----- credentials the provider cannot use are terminal and named -----

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
