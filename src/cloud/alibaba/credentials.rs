//! Credentials: an access key pair (optionally with an STS security token) from the Secret, or
//! RRSA — an OIDC token exchanged for temporary keys through `AssumeRoleWithOIDC`.
//!
//! Secret keys, in order of precedence:
//! 1. `roleArn`, `oidcProviderArn`, `oidcTokenFile` (optional `roleSessionName`): RRSA;
//! 2. `accessKeyId`, `accessKeySecret` (optional `securityToken`): the key pair;
//! 3. neither: RRSA from the environment the RRSA webhook injects into the pod
//!    (`ALIBABA_CLOUD_ROLE_ARN`, `ALIBABA_CLOUD_OIDC_PROVIDER_ARN`, `ALIBABA_CLOUD_OIDC_TOKEN_FILE`).
//!
//! The Secret is read on every call (the source caches it), so a rotated Secret takes effect
//! without a restart. Temporary keys are cached and refreshed [`REFRESH_MARGIN`] before they
//! expire; the token file is re-read on every refresh (the kubelet rotates it).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::client::{self, Endpoint};
use crate::cloud::{Blocker, CloudError, ErrorClass, Operation, SecretData, SecretSource};

/// STS API version of `AssumeRoleWithOIDC`.
pub const STS_VERSION: &str = "2015-04-01";
/// Lifetime asked for temporary keys.
pub const STS_DURATION_SECONDS: u32 = 3600;
/// Temporary keys are refreshed when less than this is left.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
const DEFAULT_SESSION_NAME: &str = "eip-operator";

/// An access key pair and, for temporary keys, the security token. `Debug` shows only the ID.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("security_token", &self.security_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What to exchange an OIDC token for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrsaConfig {
    pub role_arn: String,
    pub oidc_provider_arn: String,
    pub oidc_token_file: String,
    pub role_session_name: String,
}

/// Where credentials come from, decided per call from the Secret (and the environment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    Static(Credentials),
    Rrsa(RrsaConfig),
}

fn auth_error(operation: Operation, message: impl Into<String>) -> CloudError {
    CloudError::terminal(operation, Blocker::Authentication, "InvalidCredentials", message)
}

/// Picks the credentials a Secret describes; `env` looks up environment variables.
pub fn resolve(data: &SecretData, env: impl Fn(&str) -> Option<String>, operation: Operation) -> Result<CredentialKind, CloudError> {
    let get = |key: &str| data.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let env = |key: &str| env(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let session = |name: Option<String>| name.unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned());
    let rrsa_keys = ["roleArn", "oidcProviderArn", "oidcTokenFile"];
    let present: Vec<&str> = rrsa_keys.iter().copied().filter(|k| get(k).is_some()).collect();
    if present.len() == rrsa_keys.len() {
        return Ok(CredentialKind::Rrsa(RrsaConfig {
            role_arn: get("roleArn").unwrap_or_default(),
            oidc_provider_arn: get("oidcProviderArn").unwrap_or_default(),
            oidc_token_file: get("oidcTokenFile").unwrap_or_default(),
            role_session_name: session(get("roleSessionName")),
        }));
    }
    if !present.is_empty() {
        return Err(auth_error(
            operation,
            format!("the credentials Secret has {present:?} but RRSA needs all of roleArn, oidcProviderArn and oidcTokenFile"),
        ));
    }
    match (get("accessKeyId"), get("accessKeySecret")) {
        (Some(access_key_id), Some(access_key_secret)) => {
            return Ok(CredentialKind::Static(Credentials {
                access_key_id,
                access_key_secret,
                security_token: get("securityToken"),
            }));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(auth_error(
                operation,
                "the credentials Secret needs both accessKeyId and accessKeySecret",
            ));
        }
        (None, None) => {}
    }
    match (
        env("ALIBABA_CLOUD_ROLE_ARN"),
        env("ALIBABA_CLOUD_OIDC_PROVIDER_ARN"),
        env("ALIBABA_CLOUD_OIDC_TOKEN_FILE"),
    ) {
        (Some(role_arn), Some(oidc_provider_arn), Some(oidc_token_file)) => Ok(CredentialKind::Rrsa(RrsaConfig {
            role_arn,
            oidc_provider_arn,
            oidc_token_file,
            role_session_name: session(env("ALIBABA_CLOUD_ROLE_SESSION_NAME")),
        })),
        _ => Err(auth_error(
            operation,
            "no credentials: the Secret needs accessKeyId and accessKeySecret (optional securityToken), or roleArn, oidcProviderArn and oidcTokenFile for RRSA (or the ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE environment)",
        )),
    }
}

#[derive(Clone, Debug)]
struct CachedSts {
    config: RrsaConfig,
    credentials: Credentials,
    expires_at: DateTime<Utc>,
}

/// Whether temporary keys expiring at `expires_at` must be refreshed at `now`.
pub fn needs_refresh(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let margin = chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_else(|_| chrono::Duration::minutes(5));
    expires_at - now <= margin
}

/// Credentials for each call, from a [`SecretSource`].
pub struct CredentialSource {
    secrets: Arc<dyn SecretSource>,
    http: reqwest::Client,
    sts_endpoint: Endpoint,
    cache: tokio::sync::Mutex<Option<CachedSts>>,
}

impl CredentialSource {
    pub fn new(secrets: Arc<dyn SecretSource>, http: reqwest::Client, sts_endpoint: Endpoint) -> Self {
        CredentialSource {
            secrets,
            http,
            sts_endpoint,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// The credentials to sign a call of `operation` with.
    pub async fn get(&self, operation: Operation) -> Result<Credentials, CloudError> {
        let data = self.secrets.read().await.map_err(|err| CloudError { operation, ..err })?;
        match resolve(&data, |key| std::env::var(key).ok(), operation)? {
            CredentialKind::Static(credentials) => Ok(credentials),
            CredentialKind::Rrsa(config) => self.temporary(operation, config).await,
        }
    }

    async fn temporary(&self, operation: Operation, config: RrsaConfig) -> Result<Credentials, CloudError> {
        // Held across the refresh so concurrent calls share one AssumeRoleWithOIDC.
        let mut cache = self.cache.lock().await;
        let now = Utc::now();
        let usable = cache
            .as_ref()
            .filter(|cached| cached.config == config && cached.expires_at > now)
            .cloned();
        if let Some(cached) = &usable
            && !needs_refresh(cached.expires_at, now)
        {
            return Ok(cached.credentials.clone());
        }
        match self.assume_role(operation, &config).await {
            Ok((credentials, expires_at)) => {
                tracing::debug!(access_key_id = %credentials.access_key_id, %expires_at, "alibaba RRSA credentials refreshed");
                *cache = Some(CachedSts {
                    config,
                    credentials: credentials.clone(),
                    expires_at,
                });
                Ok(credentials)
            }
            Err(err) => match usable {
                // Still valid for a while: keep using them and try again on the next call.
                Some(cached) if err.class == ErrorClass::Retryable => {
                    tracing::warn!(code = %err.code, "alibaba RRSA refresh failed; using the cached credentials until they expire");
                    Ok(cached.credentials)
                }
                _ => Err(err),
            },
        }
    }

    /// `AssumeRoleWithOIDC` (unsigned): the OIDC token travels in the form body, not the URL.
    async fn assume_role(&self, operation: Operation, config: &RrsaConfig) -> Result<(Credentials, DateTime<Utc>), CloudError> {
        let path = config.oidc_token_file.clone();
        let read = tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        let token = read.map_err(|e| {
            auth_error(
                operation,
                format!("cannot read the OIDC token file {}: {e}", config.oidc_token_file),
            )
        })?;
        let token = token.trim();
        if token.is_empty() {
            return Err(auth_error(
                operation,
                format!("the OIDC token file {} is empty", config.oidc_token_file),
            ));
        }
        let mut url = self.sts_endpoint.url.clone();
        url.query_pairs_mut()
            .append_pair("Action", "AssumeRoleWithOIDC")
            .append_pair("Version", STS_VERSION)
            .append_pair("Format", "JSON")
            .append_pair("Timestamp", &client::timestamp());
        let form = [
            ("RoleArn", config.role_arn.as_str()),
            ("OIDCProviderArn", config.oidc_provider_arn.as_str()),
            ("OIDCToken", token),
            ("RoleSessionName", config.role_session_name.as_str()),
            ("DurationSeconds", &STS_DURATION_SECONDS.to_string()),
        ]
        .iter()
        .map(|(k, v)| format!("{}={}", super::signing::percent_encode(k), super::signing::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        let request = self
            .http
            .post(url)
            .header(reqwest::header::HOST, &self.sts_endpoint.host)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form);
        let body = client::execute(operation, request).await.map_err(|mut err| {
            // Whatever STS refuses (bad token, unknown role, no trust) is an authentication
            // problem for the ElasticIP; throttling and outages stay retryable.
            if err.class != ErrorClass::Retryable {
                err.class = ErrorClass::Terminal;
                err.blocker = Some(Blocker::Authentication);
            }
            err.message = format!("AssumeRoleWithOIDC: {}", err.message);
            err
        })?;
        parse_sts_credentials(operation, &body)
    }
}

/// `Credentials {AccessKeyId, AccessKeySecret, SecurityToken, Expiration}` of an STS answer.
pub fn parse_sts_credentials(operation: Operation, body: &Value) -> Result<(Credentials, DateTime<Utc>), CloudError> {
    let creds = body.get("Credentials");
    let field = |name: &str| {
        creds
            .and_then(|c| c.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .filter(|v| !v.is_empty())
    };
    let invalid = || {
        CloudError::retryable(
            operation,
            "InvalidResponse",
            "AssumeRoleWithOIDC answered without complete Credentials",
        )
    };
    let access_key_id = field("AccessKeyId").ok_or_else(invalid)?;
    let access_key_secret = field("AccessKeySecret").ok_or_else(invalid)?;
    let security_token = field("SecurityToken").ok_or_else(invalid)?;
    let expires_at = field("Expiration")
        .and_then(|e| DateTime::parse_from_rfc3339(&e).ok())
        .map(|e| e.with_timezone(&Utc))
        .ok_or_else(invalid)?;
    Ok((
        Credentials {
            access_key_id,
            access_key_secret,
            security_token: Some(security_token),
        },
        expires_at,
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::cloud::StaticSecret;

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
        assert_eq!(err.blocker, Some(Blocker::Authentication));
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
    fn refresh_margin() {
        let now = Utc::now();
        assert!(!needs_refresh(now + chrono::Duration::minutes(30), now));
        assert!(needs_refresh(now + chrono::Duration::minutes(4), now));
        assert!(needs_refresh(now - chrono::Duration::minutes(1), now));
    }

    /// A fake STS: counts calls and issues keys that expire after `lifetime`.
    async fn fake_sts(lifetime: chrono::Duration) -> (Endpoint, Arc<AtomicUsize>) {
        use axum::routing::post;
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let app = axum::Router::new().route(
            "/",
            post(move |body: String| {
                let counter = counter.clone();
                async move {
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    let form: BTreeMap<String, String> = super::super::signing::parse_form(&body).into_iter().collect();
                    assert_eq!(form.get("OIDCToken").map(String::as_str), Some("oidc-token"));
                    let expiration = (Utc::now() + lifetime).format("%Y-%m-%dT%H:%M:%SZ").to_string();
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

    async fn make_source(lifetime: chrono::Duration) -> (CredentialSource, Arc<AtomicUsize>, tempfile::NamedTempFile) {
        let (endpoint, calls) = fake_sts(lifetime).await;
        let mut token = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut token, b"oidc-token\n").expect("writes");
        let secret = data(&[
            ("roleArn", "acs:ram::1:role/r"),
            ("oidcProviderArn", "acs:ram::1:oidc-provider/p"),
            ("oidcTokenFile", token.path().to_str().expect("utf-8 path")),
        ]);
        let http = client::http_client().expect("client");
        (CredentialSource::new(Arc::new(StaticSecret(secret)), http, endpoint), calls, token)
    }

    #[tokio::test]
    async fn rrsa_credentials_are_cached_until_close_to_expiry() {
        let (source, calls, _token) = make_source(chrono::Duration::hours(1)).await;
        let first = source.get(Operation::Describe).await.expect("assumes");
        assert_eq!(first.access_key_id, "STS.KEY1");
        assert_eq!(first.security_token.as_deref(), Some("token-1"));
        let second = source.get(Operation::Describe).await.expect("cached");
        assert_eq!(second, first);
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Keys that expire within the margin are refreshed on every call.
        let (source, calls, _token) = make_source(chrono::Duration::minutes(2)).await;
        source.get(Operation::Describe).await.expect("assumes");
        let again = source.get(Operation::Describe).await.expect("refreshes");
        assert_eq!(again.access_key_id, "STS.KEY2");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn rrsa_failures_are_authentication_errors() {
        let (source, _calls, token) = make_source(chrono::Duration::hours(1)).await;
        std::fs::write(token.path(), "").expect("empties the token");
        let err = source.get(Operation::Allocate).await.expect_err("empty token");
        assert_eq!((err.class, err.blocker), (ErrorClass::Terminal, Some(Blocker::Authentication)));
        assert_eq!(err.operation, Operation::Allocate);
    }
}
