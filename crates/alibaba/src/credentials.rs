//! Credentials: an access key pair (optionally with an STS security token) from the Secret, or
//! RRSA — an OIDC token exchanged for temporary keys through `AssumeRoleWithOIDC`.
//!
//! Secret keys, in order of precedence:
//! 1. `roleArn`, `oidcProviderArn`, `oidcTokenFile` (optional `roleSessionName`): RRSA;
//! 2. `accessKeyId`, `accessKeySecret` (optional `securityToken`): the key pair;
//! 3. neither: RRSA from the environment the RRSA webhook injects into the pod
//!    (`ALIBABA_CLOUD_ROLE_ARN`, `ALIBABA_CLOUD_OIDC_PROVIDER_ARN`, `ALIBABA_CLOUD_OIDC_TOKEN_FILE`).
//!
//! Every value is checked before use: a missing key, or a value that cannot be sent (the access
//! key ID and security token go into a header (V3) or the URL (V1), so they must be printable
//! ASCII without spaces; no value may hold control characters or exceed
//! [`MAX_SECRET_VALUE`]) is a terminal `InvalidCredentials` naming the key, never a value
//! silently dropped or a transport error retried forever. The OIDC token file is held to the
//! same rules (at most [`MAX_OIDC_TOKEN`] bytes of UTF-8).
//!
//! The Secret is read on every call (the source caches it), so a rotated Secret takes effect
//! without a restart. Temporary keys are cached and refreshed [`REFRESH_MARGIN`] before they
//! expire; the token file is re-read on every refresh (the kubelet rotates it).
//!
//! Errors never carry a secret: each call's errors go through a [`Redactor`] of the values in
//! use (access key secret, security token, OIDC token, the temporary secret and token).

use std::fmt;
use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize as _;
use serde_json::Value;

use super::answers;
use super::client::{self, Endpoint};
use super::records::StsAnswer;
use super::signing::percent_encode;
use eip_cloud::redact::Redactor;
use eip_cloud::secrets::{self, MAX_SECRET_VALUE};
use eip_cloud::{Blocker, CloudError, ErrorClass, Failure, Operation, SecretData, SecretSource, http};

/// STS API version of `AssumeRoleWithOIDC`.
pub const STS_VERSION: &str = "2015-04-01";
/// Lifetime asked for temporary keys.
pub const STS_DURATION_SECONDS: u32 = 3600;
/// Temporary keys are refreshed when less than this is left.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Largest OIDC token file read (projected service account tokens are about 1 KiB).
pub const MAX_OIDC_TOKEN: usize = 16 * 1024;
/// Largest temporary key value accepted from STS (security tokens are 1–3 KiB).
const MAX_STS_VALUE: usize = 16 * 1024;
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

/// The credentials of one call and the [`Redactor`] its errors go through.
#[derive(Clone, Debug)]
pub struct Session {
    pub credentials: Credentials,
    pub redactor: Redactor,
}

impl Session {
    pub fn new(credentials: Credentials) -> Self {
        Session {
            redactor: redactor(&credentials),
            credentials,
        }
    }

    /// `result` with its error made safe to show.
    pub fn redact<T>(&self, result: Result<T, CloudError>) -> Result<T, CloudError> {
        result.map_err(|e| self.redactor.error(e))
    }
}

/// Secret values and the forms in which a server could echo them (RFC 3986-encoded, as V1 puts
/// them in the URL).
fn secret_forms<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    values
        .into_iter()
        .flat_map(|value| [value.to_owned(), percent_encode(value)])
        .collect()
}

/// A [`Redactor`] of the secret parts of `credentials` (the key ID may show).
pub fn redactor(credentials: &Credentials) -> Redactor {
    let values = std::iter::once(credentials.access_key_secret.as_str()).chain(credentials.security_token.as_deref());
    Redactor::new(secret_forms(values))
}

/// Why `value` cannot be sent as a header value or URL parameter, if it cannot.
fn unsendable(value: &str, max: usize) -> Option<String> {
    if value.is_empty() {
        Some("the value is empty".to_owned())
    } else if value.len() > max {
        Some(format!("the value is {} bytes, more than the {max} accepted", value.len()))
    } else if !value.bytes().all(|b| b.is_ascii_graphic()) {
        Some("the value holds characters that cannot be sent in an HTTP header or URL (only printable ASCII without spaces)".to_owned())
    } else {
        None
    }
}

/// Why `value` is not usable text (a secret, an ARN, a token), if it is not.
fn unusable(value: &str, max: usize) -> Option<String> {
    if value.is_empty() {
        Some("the value is empty".to_owned())
    } else if value.len() > max {
        Some(format!("the value is {} bytes, more than the {max} accepted", value.len()))
    } else if value.chars().any(char::is_control) {
        Some("the value contains control characters (such as a line break inside it)".to_owned())
    } else {
        None
    }
}

fn invalid_key(operation: Operation, key: &str, why: String) -> CloudError {
    secrets::invalid(operation, format!("credentials key {key:?}: {why}"))
}

/// Refuses credentials that cannot be put on the wire, naming the Secret key. (The Secret's own
/// values were held to [`MAX_SECRET_VALUE`] by [`resolve`]; temporary keys may be longer.)
pub fn check_wire(operation: Operation, credentials: &Credentials) -> Result<(), CloudError> {
    let checks = [
        ("accessKeyId", Some(credentials.access_key_id.as_str()), true),
        ("accessKeySecret", Some(credentials.access_key_secret.as_str()), false),
        ("securityToken", credentials.security_token.as_deref(), true),
    ];
    for (key, value, sent) in checks {
        let Some(value) = value else { continue };
        let why = if sent {
            unsendable(value, MAX_STS_VALUE)
        } else {
            unusable(value, MAX_STS_VALUE)
        };
        if let Some(why) = why {
            return Err(invalid_key(operation, key, why));
        }
    }
    Ok(())
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
    CloudError::terminal(operation, Blocker::Authentication, secrets::INVALID_CREDENTIALS, message)
}

/// Picks the credentials a Secret describes; `env` looks up environment variables.
pub fn resolve(data: &SecretData, env: impl Fn(&str) -> Option<String>, operation: Operation) -> Result<CredentialKind, CloudError> {
    let present = |key: &str| data.get(key).is_some_and(|v| !v.trim().is_empty());
    // A key that must be there, as text (or, `sent`, as header- and URL-safe text).
    let required = |key: &str, sent: bool| -> Result<String, CloudError> {
        let value = data.require(operation, key)?.trim();
        let why = if sent {
            unsendable(value, MAX_SECRET_VALUE)
        } else {
            unusable(value, MAX_SECRET_VALUE)
        };
        match why {
            Some(why) => Err(invalid_key(operation, key, why)),
            None => Ok(value.to_owned()),
        }
    };
    let optional = |key: &str, sent: bool| present(key).then(|| required(key, sent)).transpose();
    let session = |name: Option<String>| name.unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned());

    let rrsa_keys = ["roleArn", "oidcProviderArn", "oidcTokenFile"];
    if rrsa_keys.iter().any(|key| present(key)) {
        let need_all = |err: CloudError| CloudError {
            message: format!("{}: RRSA needs all of roleArn, oidcProviderArn and oidcTokenFile", err.message),
            ..err
        };
        return Ok(CredentialKind::Rrsa(RrsaConfig {
            role_arn: required("roleArn", false).map_err(need_all)?,
            oidc_provider_arn: required("oidcProviderArn", false).map_err(need_all)?,
            oidc_token_file: required("oidcTokenFile", false).map_err(need_all)?,
            role_session_name: session(optional("roleSessionName", false)?),
        }));
    }
    if present("accessKeyId") || present("accessKeySecret") {
        return Ok(CredentialKind::Static(Credentials {
            access_key_id: required("accessKeyId", true)?,
            access_key_secret: required("accessKeySecret", false)?,
            security_token: optional("securityToken", true)?,
        }));
    }
    let env = |key: &str| -> Result<Option<String>, CloudError> {
        let Some(value) = env(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        match unusable(&value, MAX_SECRET_VALUE) {
            Some(why) => Err(secrets::invalid(operation, format!("environment variable {key}: {why}"))),
            None => Ok(Some(value)),
        }
    };
    match (
        env("ALIBABA_CLOUD_ROLE_ARN")?,
        env("ALIBABA_CLOUD_OIDC_PROVIDER_ARN")?,
        env("ALIBABA_CLOUD_OIDC_TOKEN_FILE")?,
    ) {
        (Some(role_arn), Some(oidc_provider_arn), Some(oidc_token_file)) => Ok(CredentialKind::Rrsa(RrsaConfig {
            role_arn,
            oidc_provider_arn,
            oidc_token_file,
            role_session_name: session(env("ALIBABA_CLOUD_ROLE_SESSION_NAME")?),
        })),
        _ => Err(secrets::invalid(
            operation,
            "no credentials: the Secret needs accessKeyId and accessKeySecret (optional securityToken), or roleArn, oidcProviderArn and oidcTokenFile for RRSA (or the ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE environment)",
        )),
    }
}

/// Temporary keys and the OIDC token they were obtained with (no `Debug`: it holds the token).
#[derive(Clone)]
struct CachedSts {
    config: RrsaConfig,
    credentials: Credentials,
    expires_at: DateTime<Utc>,
    oidc_token: String,
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
        self.session(operation).await.map(|session| session.credentials)
    }

    /// The credentials to sign a call of `operation` with, and the redactor of its errors.
    pub async fn session(&self, operation: Operation) -> Result<Session, CloudError> {
        let data = self.secrets.read().await.map_err(|err| CloudError { operation, ..err })?;
        let kind = resolve(&data, |key| std::env::var(key).ok(), operation);
        // Whatever went wrong, no value of the Secret is shown.
        let secret_values = ["accessKeySecret", "securityToken"].into_iter().filter_map(|key| data.get(key));
        let redactor = Redactor::new(secret_forms(secret_values));
        match kind.map_err(|e| redactor.error(e))? {
            CredentialKind::Static(credentials) => Ok(Session::new(credentials)),
            CredentialKind::Rrsa(config) => {
                let cached = self.temporary(operation, config).await?;
                let mut session = Session::new(cached.credentials);
                // An endpoint that saw the OIDC token (STS, if it is the same server) must not
                // be able to echo it later either.
                session.redactor.extend(secret_forms([cached.oidc_token.as_str()]));
                Ok(session)
            }
        }
    }

    async fn temporary(&self, operation: Operation, config: RrsaConfig) -> Result<CachedSts, CloudError> {
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
            return Ok(cached.clone());
        }
        match self.assume_role(operation, &config).await {
            Ok((credentials, expires_at, oidc_token)) => {
                tracing::debug!(access_key_id = %credentials.access_key_id, %expires_at, "alibaba RRSA credentials refreshed");
                let fresh = CachedSts {
                    config,
                    credentials,
                    expires_at,
                    oidc_token,
                };
                *cache = Some(fresh.clone());
                Ok(fresh)
            }
            Err(err) => match usable {
                // Still valid for a while: keep using them and try again on the next call.
                Some(cached) if err.class() == ErrorClass::Retryable => {
                    tracing::warn!(code = %err.code, "alibaba RRSA refresh failed; using the cached credentials until they expire");
                    Ok(cached)
                }
                _ => Err(err),
            },
        }
    }

    /// `AssumeRoleWithOIDC` (unsigned): the OIDC token travels in the form body, not the URL.
    /// Errors are redacted of the OIDC token and of the temporary keys.
    async fn assume_role(&self, operation: Operation, config: &RrsaConfig) -> Result<(Credentials, DateTime<Utc>, String), CloudError> {
        let token = read_oidc_token(operation, &config.oidc_token_file).await?;
        let mut redactor = Redactor::new(secret_forms([token.as_str()]));
        let mut url = self.sts_endpoint.url.clone();
        url.query_pairs_mut()
            .append_pair("Action", "AssumeRoleWithOIDC")
            .append_pair("Version", STS_VERSION)
            .append_pair("Format", "JSON")
            .append_pair("Timestamp", &client::timestamp());
        let form = [
            ("RoleArn", config.role_arn.as_str()),
            ("OIDCProviderArn", config.oidc_provider_arn.as_str()),
            ("OIDCToken", token.as_str()),
            ("RoleSessionName", config.role_session_name.as_str()),
            ("DurationSeconds", &STS_DURATION_SECONDS.to_string()),
        ]
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        let request = self
            .http
            .post(url)
            .header(reqwest::header::HOST, &self.sts_endpoint.host)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form);
        let label = |err: CloudError| CloudError {
            message: format!("AssumeRoleWithOIDC: {}", err.message),
            ..err
        };
        // Transport failures and redirects keep their class.
        let answer = http::send(operation, request).await.map_err(|e| redactor.error(label(e)))?;
        let parsed = answers::interpret::<StsAnswer>(operation, &answer).map_err(|err| {
            // Whatever STS refuses (bad token, unknown role, no trust) is an authentication
            // problem for the ElasticIP; throttling, outages and malformed answers stay retryable.
            let err = match err.class() {
                ErrorClass::Retryable => err,
                _ => err.reclassified(Failure::Terminal(Blocker::Authentication)),
            };
            redactor.error(label(err))
        })?;
        redactor.extend(secret_forms([
            parsed.credentials.access_key_secret.as_str(),
            parsed.credentials.security_token.as_str(),
        ]));
        let (credentials, expires_at) = sts_credentials(operation, parsed, Utc::now()).map_err(|e| redactor.error(label(e)))?;
        Ok((credentials, expires_at, token))
    }
}

/// The OIDC token in `path`: at most [`MAX_OIDC_TOKEN`] bytes of UTF-8 without control
/// characters (surrounding whitespace trimmed).
async fn read_oidc_token(operation: Operation, path: &str) -> Result<String, CloudError> {
    let owned = path.to_owned();
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        std::fs::File::open(&owned)?
            .take(MAX_OIDC_TOKEN as u64 + 1)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
    let bytes = read.map_err(|e| auth_error(operation, format!("cannot read the OIDC token file {path}: {e}")))?;
    let refuse = |why: &str| {
        secrets::invalid(
            operation,
            format!("the OIDC token file {path} (oidcTokenFile / ALIBABA_CLOUD_OIDC_TOKEN_FILE): {why}"),
        )
    };
    if bytes.len() > MAX_OIDC_TOKEN {
        return Err(refuse(&format!("it is larger than the {MAX_OIDC_TOKEN} bytes accepted")));
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(refuse("it is not UTF-8 text"));
    };
    let token = text.trim();
    if token.is_empty() {
        return Err(auth_error(operation, format!("the OIDC token file {path} is empty")));
    }
    if token.chars().any(char::is_control) {
        return Err(refuse("it contains control characters (such as a line break inside the token)"));
    }
    Ok(token.to_owned())
}

/// `Credentials {AccessKeyId, AccessKeySecret, SecurityToken, Expiration}` of an STS answer.
pub fn parse_sts_credentials(operation: Operation, body: &Value) -> Result<(Credentials, DateTime<Utc>), CloudError> {
    let answer = StsAnswer::deserialize(body).map_err(|e| {
        http::invalid_response(
            operation,
            format!("AssumeRoleWithOIDC answered without complete Credentials: {}", answers::reason(&e)),
        )
    })?;
    sts_credentials(operation, answer, Utc::now())
}

/// The temporary keys of a well-formed STS answer, if they can be used: sendable key ID and
/// token, an `Expiration` (RFC 3339) after `now`. The cache lifetime is at most what was asked.
pub fn sts_credentials(operation: Operation, answer: StsAnswer, now: DateTime<Utc>) -> Result<(Credentials, DateTime<Utc>), CloudError> {
    let invalid = |what: String| {
        http::invalid_response(operation, format!("AssumeRoleWithOIDC answered {what}"))
            .with_request_id(answer.request_id.as_str().to_owned())
    };
    let creds = &answer.credentials;
    let checks = [
        ("AccessKeyId", unsendable(creds.access_key_id.as_str(), MAX_STS_VALUE)),
        ("AccessKeySecret", unusable(creds.access_key_secret.as_str(), MAX_STS_VALUE)),
        ("SecurityToken", unsendable(creds.security_token.as_str(), MAX_STS_VALUE)),
    ];
    if let Some((field, Some(why))) = checks.into_iter().find(|(_, why)| why.is_some()) {
        return Err(invalid(format!("an unusable {field}: {why}")));
    }
    let expires_at = DateTime::parse_from_rfc3339(creds.expiration.as_str())
        .map(|e| e.with_timezone(&Utc))
        .map_err(|_| invalid("an Expiration that is not an RFC 3339 time".to_owned()))?;
    if expires_at <= now {
        return Err(invalid("keys that have already expired".to_owned()));
    }
    let asked = now + chrono::Duration::seconds(i64::from(STS_DURATION_SECONDS));
    Ok((
        Credentials {
            access_key_id: creds.access_key_id.0.clone(),
            access_key_secret: creds.access_key_secret.0.clone(),
            security_token: Some(creds.security_token.0.clone()),
        },
        expires_at.min(asked),
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use eip_cloud::StaticSecret;

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
        let now = Utc::now();
        let answer = |token: &str, expiration: &str| {
            serde_json::json!({"RequestId": "R", "Credentials": {
                "AccessKeyId": "STS.k", "AccessKeySecret": "s3cret", "SecurityToken": token, "Expiration": expiration}})
        };
        let far = (now + chrono::Duration::days(3650)).to_rfc3339();
        let (keys, expires_at) = parse_sts_credentials(Operation::Describe, &answer("tok", &far)).expect("usable");
        assert_eq!(keys.security_token.as_deref(), Some("tok"));
        // Never cached longer than asked for, whatever STS says.
        assert!(expires_at <= Utc::now() + chrono::Duration::seconds(i64::from(STS_DURATION_SECONDS)));
        let past = (now - chrono::Duration::minutes(1)).to_rfc3339();
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
            let err = parse_sts_credentials(Operation::Describe, &body).expect_err(why);
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
        let http = eip_cloud::http::client().expect("client");
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
        assert_eq!((err.class(), err.blocker()), (ErrorClass::Terminal, Some(Blocker::Authentication)));
        assert_eq!(err.operation, Operation::Allocate);
    }
}
