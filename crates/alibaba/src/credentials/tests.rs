//! Credentials: the Secret and environment resolved, temporary keys checked and cached.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::client;
use eip_cloud::http;
use eip_cloud::{Blocker, ErrorClass, StaticSecret};

fn data(pairs: &[(&str, &str)]) -> SecretData {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn secret_keys_pick_the_kind() {
    let op = Operation::Describe;
    let kind = resolve(
        &data(&[("accessKeyId", "AK"), ("accessKeySecret", "SK"), ("securityToken", "TOK")]),
        no_env,
        op,
    )
    .expect("static");
    assert_eq!(
        kind,
        CredentialKind::Static(Credentials {
            access_key_id: "AK".into(),
            access_key_secret: "SK".into(),
            security_token: Some("TOK".into()),
        })
    );
    let kind = resolve(
        &data(&[
            ("accessKeyId", "AK"),
            ("accessKeySecret", "SK"),
            ("roleArn", "acs:ram::1:role/r"),
            ("oidcProviderArn", "acs:ram::1:oidc-provider/p"),
            ("oidcTokenFile", "/var/run/token"),
        ]),
        no_env,
        op,
    )
    .expect("rrsa");
    assert!(matches!(kind, CredentialKind::Rrsa(ref c) if c.role_session_name == DEFAULT_SESSION_NAME));

    let err = resolve(&data(&[("accessKeyId", "AK")]), no_env, op).expect_err("half a pair");
    // A Secret missing a key is the Secret's problem (was Authentication before the
    // InvalidCredentials blocker existed); the message names the key.
    assert_eq!(err.blocker(), Some(Blocker::InvalidCredentials));
    assert!(err.message.contains("accessKeySecret"), "{}", err.message);
    let err = resolve(&data(&[("roleArn", "r")]), no_env, op).expect_err("half of RRSA");
    assert!(err.message.contains("oidcProviderArn"));
    let err = resolve(&data(&[]), no_env, op).expect_err("nothing");
    assert_eq!(err.code, "InvalidCredentials");

    let env = |key: &str| match key {
        "ALIBABA_CLOUD_ROLE_ARN" => Some("acs:ram::1:role/r".to_owned()),
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN" => Some("acs:ram::1:oidc-provider/p".to_owned()),
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE" => Some("/var/run/token".to_owned()),
        _ => None,
    };
    let kind = resolve(&data(&[]), env, op).expect("env rrsa");
    assert!(matches!(kind, CredentialKind::Rrsa(ref c) if c.oidc_token_file == "/var/run/token"));
}

#[test]
fn debug_hides_secrets() {
    let creds = Credentials {
        access_key_id: "AK".into(),
        access_key_secret: "very-secret".into(),
        security_token: Some("token-secret".into()),
    };
    let shown = format!("{creds:?}");
    assert!(shown.contains("AK") && !shown.contains("very-secret") && !shown.contains("token-secret"));
}

#[test]
fn sts_answers_are_typed_and_their_keys_checked() {
    let now = Timestamp::now();
    let answer = |token: &str, expiration: &str| {
        serde_json::json!({"RequestId": "R", "Credentials": {
            "AccessKeyId": "STS.k", "AccessKeySecret": "s3cret", "SecurityToken": token, "Expiration": expiration}})
    };
    let far = (now + SignedDuration::from_hours(24 * 3650)).to_string();
    let (keys, expires_at) = parse_temporary_keys(Operation::Describe, &answer("tok", &far)).expect("usable");
    assert_eq!(keys.security_token.as_deref(), Some("tok"));
    // Never cached longer than asked for, whatever STS says.
    assert!(expires_at <= Timestamp::now() + SignedDuration::from_secs(i64::from(STS_DURATION_SECONDS)));
    let past = (now - SignedDuration::from_mins(1)).to_string();
    for (body, why) in [
        (answer("tok", &past), "expired"),
        (answer("tok", "tomorrow"), "not a time"),
        (answer("tok\r\nx", &far), "unsendable token"),
        (answer("", &far), "empty token"),
        (
            serde_json::json!({"RequestId": "R", "Credentials": {"AccessKeyId": "STS.k"}}),
            "incomplete",
        ),
        (serde_json::json!({"Credentials": {}}), "no RequestId"),
    ] {
        let err = parse_temporary_keys(Operation::Describe, &body).expect_err(why);
        assert_eq!(
            (err.class(), err.code.as_str()),
            (ErrorClass::Retryable, http::INVALID_RESPONSE),
            "{why}"
        );
    }
}

#[test]
fn unsendable_values_name_their_key() {
    let op = Operation::Describe;
    for (key, value) in [
        ("accessKeyId", "AK with space"),
        ("accessKeyId", "AKé"),
        ("securityToken", "tok\u{0}en"),
        ("accessKeySecret", "se\ncret"),
    ] {
        let mut pairs = vec![("accessKeyId", "AK"), ("accessKeySecret", "SK")];
        pairs.retain(|(k, _)| *k != key);
        pairs.push((key, value));
        let err = resolve(&data(&pairs), no_env, op).expect_err(key);
        assert_eq!(
            (err.blocker(), err.code.as_str()),
            (Some(Blocker::InvalidCredentials), "InvalidCredentials")
        );
        assert!(err.message.contains(key), "{}", err.message);
    }
    let err = resolve(&data(&[("roleArn", "r"), ("oidcProviderArn", "p\u{7}")]), no_env, op).expect_err("control");
    assert!(err.message.contains("oidcProviderArn"), "{}", err.message);
    let bad_env = |key: &str| (key == "ALIBABA_CLOUD_ROLE_ARN").then(|| "role\u{1b}[31m".to_owned());
    let err = resolve(&data(&[]), bad_env, op).expect_err("env");
    assert!(err.message.contains("ALIBABA_CLOUD_ROLE_ARN"), "{}", err.message);
}

#[test]
fn expirations_are_held_to_rfc3339() {
    for good in [
        "2030-01-01T00:00:00Z",
        "2030-01-01t00:00:00.5z",
        "2030-01-01 00:00:00+08:00",
        "2030-01-01T00:00:00.123456789-00:00",
    ] {
        assert!(parse_rfc3339(good).is_some(), "{good}");
    }
    for bad in [
        "2030-01-01T00:00Z",
        "20300101T000000Z",
        "2030-01-01T00:00:00+0800",
        "2030-01-01T00:00:00+08",
        "2030-01-01T00:00:00Z[UTC]",
        "2030-01-01T00:00:00,5Z",
        "2030-01-01T00:00:00.Z",
        "2030-01-01T00:00:00",
        " 2030-01-01T00:00:00Z",
        "2030-13-01T00:00:00Z",
        "tomorrow",
        "",
    ] {
        assert!(parse_rfc3339(bad).is_none(), "{bad}");
    }
    assert_eq!(parse_rfc3339("2030-01-01T08:00:00+08:00"), parse_rfc3339("2030-01-01T00:00:00Z"));
}

#[test]
fn refresh_margin() {
    let now = Timestamp::now();
    assert!(!needs_refresh(now + SignedDuration::from_mins(30), now));
    assert!(needs_refresh(now + SignedDuration::from_mins(4), now));
    assert!(needs_refresh(now - SignedDuration::from_mins(1), now));
}

/// A fake STS: counts calls and issues keys that expire after `lifetime`.
async fn fake_sts(lifetime: SignedDuration) -> (Endpoint, Arc<AtomicUsize>) {
    use axum::routing::post;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = axum::Router::new().route(
        "/",
        post(move |body: String| {
            let counter = counter.clone();
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let form: BTreeMap<String, String> = crate::signing::parse_form(&body).into_iter().collect();
                assert_eq!(form.get("OIDCToken").map(String::as_str), Some("oidc-token"));
                let expiration = client::format_timestamp(Timestamp::now() + lifetime);
                axum::Json(serde_json::json!({
                    "RequestId": format!("STS-{n}"),
                    "Credentials": {
                        "AccessKeyId": format!("STS.KEY{n}"),
                        "AccessKeySecret": "tmp-secret",
                        "SecurityToken": format!("token-{n}"),
                        "Expiration": expiration,
                    }
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (Endpoint::parse(&format!("http://{addr}")).expect("endpoint"), calls)
}

async fn make_source(lifetime: SignedDuration) -> (CredentialSource, Arc<AtomicUsize>, tempfile::NamedTempFile) {
    let (endpoint, calls) = fake_sts(lifetime).await;
    let mut token = tempfile::NamedTempFile::new().expect("temp file");
    std::io::Write::write_all(&mut token, b"oidc-token\n").expect("writes");
    let secret = data(&[
        ("roleArn", "acs:ram::1:role/r"),
        ("oidcProviderArn", "acs:ram::1:oidc-provider/p"),
        ("oidcTokenFile", token.path().to_str().expect("utf-8 path")),
    ]);
    let wire = Wire::new("alibaba").expect("client");
    (CredentialSource::new(Arc::new(StaticSecret(secret)), wire, endpoint), calls, token)
}

#[tokio::test]
async fn rrsa_credentials_are_cached_until_close_to_expiry() {
    let (source, calls, _token) = make_source(SignedDuration::from_hours(1)).await;
    let first = source.get(Operation::Describe).await.expect("assumes");
    assert_eq!(first.access_key_id, "STS.KEY1");
    assert_eq!(first.security_token.as_deref(), Some("token-1"));
    let second = source.get(Operation::Describe).await.expect("cached");
    assert_eq!(second, first);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Keys that expire within the margin are refreshed on every call.
    let (source, calls, _token) = make_source(SignedDuration::from_mins(2)).await;
    source.get(Operation::Describe).await.expect("assumes");
    let again = source.get(Operation::Describe).await.expect("refreshes");
    assert_eq!(again.access_key_id, "STS.KEY2");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn rrsa_failures_are_authentication_errors() {
    let (source, _calls, token) = make_source(SignedDuration::from_hours(1)).await;
    std::fs::write(token.path(), "").expect("empties the token");
    let err = source.get(Operation::Allocate).await.expect_err("empty token");
    assert_eq!((err.class(), err.blocker()), (ErrorClass::Terminal, Some(Blocker::Authentication)));
    assert_eq!(err.operation, Operation::Allocate);
}
