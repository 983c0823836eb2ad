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

mod rrsa;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::client::Endpoint;
use super::signing::percent_encode;
use eip_cloud::http::Wire;
use eip_cloud::redact::Redactor;
use eip_cloud::secrets::{self, MAX_SECRET_VALUE};
use eip_cloud::{CloudError, Operation, SecretData, SecretSource};
use rrsa::CachedSts;
pub use rrsa::{needs_refresh, parse_rfc3339, parse_temporary_keys, sts_credentials};

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

/// Credentials for each call, from a [`SecretSource`].
pub struct CredentialSource {
    secrets: Arc<dyn SecretSource>,
    wire: Wire,
    sts_endpoint: Endpoint,
    cache: tokio::sync::Mutex<Option<CachedSts>>,
}

impl CredentialSource {
    /// `AssumeRoleWithOIDC` goes to `sts_endpoint` through `wire` (its observer sees it).
    pub fn new(secrets: Arc<dyn SecretSource>, wire: Wire, sts_endpoint: Endpoint) -> Self {
        CredentialSource {
            secrets,
            wire,
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
}
