//! Credentials: an access key pair (optionally with a session token) from the Secret, or a web
//! identity — an OIDC token file exchanged for temporary keys through STS
//! `AssumeRoleWithWebIdentity` (what EKS IRSA sets up).
//!
//! Secret keys, in order of precedence:
//! 1. `roleArn`, `webIdentityTokenFile` (optional `roleSessionName`): web identity;
//! 2. `accessKeyId`, `secretAccessKey` (optional `sessionToken`): the key pair;
//! 3. neither: web identity from the environment IRSA injects into the pod (`AWS_ROLE_ARN`,
//!    `AWS_WEB_IDENTITY_TOKEN_FILE`, optional `AWS_ROLE_SESSION_NAME`).
//!
//! The Secret is read on every call (the source caches it), so a rotated Secret takes effect
//! without a restart. Temporary keys are cached and refreshed [`REFRESH_MARGIN`] before they
//! expire, or at once when the web identity settings change; the token file is re-read on every
//! refresh (the kubelet rotates it). A missing key or a value that cannot be sent (the access key
//! ID and session token go into headers: printable ASCII without spaces) is a terminal
//! `InvalidCredentials` naming the key. Errors never carry a secret: each call's errors go
//! through a [`Redactor`] of the values in use.

use std::sync::Arc;
use std::time::Duration;

use eip_cloud::redact::Redactor;
use eip_cloud::secrets::{self, MAX_SECRET_VALUE};
use eip_cloud::{CloudError, Operation, SecretData, SecretSource};

use crate::client::QueryClient;
use crate::records;
use crate::signing::Credentials;

/// Lifetime asked for temporary keys.
pub const STS_DURATION_SECONDS: u32 = 3600;
/// Temporary keys are refreshed when less than this is left.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Largest web identity token file read (projected service account tokens are about 1 KiB).
pub const MAX_TOKEN_FILE: usize = 16 * 1024;
/// Largest temporary value accepted from STS (session tokens are 1–3 KiB).
const MAX_STS_VALUE: usize = 16 * 1024;
const DEFAULT_SESSION_NAME: &str = "eip-operator";

/// What to exchange a web identity token for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebIdentity {
    pub role_arn: String,
    pub token_file: String,
    pub role_session_name: String,
}

/// Where credentials come from, decided per call from the Secret (and the environment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    Static(Credentials),
    WebIdentity(WebIdentity),
}

/// The credentials of one call and the [`Redactor`] its errors go through.
#[derive(Clone, Debug)]
pub struct Session {
    pub credentials: Credentials,
    pub redactor: Redactor,
}

impl Session {
    fn new(credentials: Credentials, extra_secrets: &[&str]) -> Self {
        let values = std::iter::once(credentials.secret_access_key.clone())
            .chain(credentials.session_token.clone())
            .chain(extra_secrets.iter().map(|s| (*s).to_owned()));
        Session {
            redactor: Redactor::new(values),
            credentials,
        }
    }

    /// `result` with its error made safe to show.
    pub fn redact<T>(&self, result: Result<T, CloudError>) -> Result<T, CloudError> {
        result.map_err(|e| self.redactor.error(e))
    }
}

/// Why `value` cannot go into a header, if it cannot.
fn unsendable(value: &str, max: usize) -> Option<String> {
    if value.is_empty() {
        Some("the value is empty".to_owned())
    } else if value.len() > max {
        Some(format!("the value is {} bytes, more than the {max} accepted", value.len()))
    } else if !value.bytes().all(|b| b.is_ascii_graphic()) {
        Some("the value holds characters that cannot be sent in an HTTP header (only printable ASCII without spaces)".to_owned())
    } else {
        None
    }
}

/// Picks the credentials a Secret describes; `env` looks up environment variables.
pub fn resolve(data: &SecretData, env: impl Fn(&str) -> Option<String>, operation: Operation) -> Result<CredentialKind, CloudError> {
    let present = |key: &str| data.get(key).is_some_and(|v| !v.trim().is_empty());
    let required = |key: &str, sent: bool| -> Result<String, CloudError> {
        let value = data.require(operation, key)?.trim();
        match unsendable(value, MAX_SECRET_VALUE).filter(|_| sent) {
            Some(why) => Err(secrets::invalid(operation, format!("credentials key {key:?}: {why}"))),
            None => Ok(value.to_owned()),
        }
    };
    let optional = |key: &str, sent: bool| present(key).then(|| required(key, sent)).transpose();
    if present("roleArn") || present("webIdentityTokenFile") {
        let need_both = |err: CloudError| CloudError {
            message: format!("{}: a web identity needs both roleArn and webIdentityTokenFile", err.message),
            ..err
        };
        return Ok(CredentialKind::WebIdentity(WebIdentity {
            role_arn: required("roleArn", false).map_err(need_both)?,
            token_file: required("webIdentityTokenFile", false).map_err(need_both)?,
            role_session_name: optional("roleSessionName", true)?.unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned()),
        }));
    }
    if present("accessKeyId") || present("secretAccessKey") {
        return Ok(CredentialKind::Static(Credentials {
            access_key_id: required("accessKeyId", true)?,
            secret_access_key: required("secretAccessKey", false)?,
            session_token: optional("sessionToken", true)?,
        }));
    }
    let env = |key: &str| env(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match (env("AWS_ROLE_ARN"), env("AWS_WEB_IDENTITY_TOKEN_FILE")) {
        (Some(role_arn), Some(token_file)) => Ok(CredentialKind::WebIdentity(WebIdentity {
            role_arn,
            token_file,
            role_session_name: env("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned()),
        })),
        _ => Err(secrets::invalid(
            operation,
            "no credentials: the Secret needs accessKeyId and secretAccessKey (optional sessionToken), or roleArn and webIdentityTokenFile (or the AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE environment of IRSA)",
        )),
    }
}

/// Temporary keys from STS and what they were issued for.
struct Cached {
    identity: WebIdentity,
    credentials: Credentials,
    expires: jiff::Timestamp,
    /// The token they were exchanged for (redacted from later errors too).
    token: String,
}

/// Whether keys expiring at `expires` must be refreshed at `now`.
pub fn needs_refresh(expires: jiff::Timestamp, now: jiff::Timestamp) -> bool {
    let margin = jiff::SignedDuration::try_from(REFRESH_MARGIN).unwrap_or_default();
    expires.duration_since(now) < margin
}

/// Credentials for each call, from a [`SecretSource`] (and STS, for a web identity).
pub struct CredentialSource {
    secrets: Arc<dyn SecretSource>,
    sts: QueryClient,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

impl CredentialSource {
    /// `AssumeRoleWithWebIdentity` goes through `sts` (whose wire observer sees it).
    pub fn new(secrets: Arc<dyn SecretSource>, sts: QueryClient) -> Self {
        CredentialSource {
            secrets,
            sts,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// The credentials to sign a call of `operation` with, and the redactor of its errors.
    pub async fn session(&self, operation: Operation) -> Result<Session, CloudError> {
        let data = self.secrets.read().await.map_err(|err| CloudError { operation, ..err })?;
        let redactor = Redactor::new(["secretAccessKey", "sessionToken"].into_iter().filter_map(|key| data.get(key)));
        let kind = resolve(&data, |key| std::env::var(key).ok(), operation).map_err(|e| redactor.error(e))?;
        match kind {
            CredentialKind::Static(credentials) => Ok(Session::new(credentials, &[])),
            CredentialKind::WebIdentity(identity) => self.temporary(operation, identity).await,
        }
    }

    async fn temporary(&self, operation: Operation, identity: WebIdentity) -> Result<Session, CloudError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && cached.identity == identity
            && !needs_refresh(cached.expires, jiff::Timestamp::now())
        {
            return Ok(Session::new(cached.credentials.clone(), &[&cached.token]));
        }
        let token = read_token(operation, &identity.token_file).await?;
        let params = [
            ("RoleArn".to_owned(), identity.role_arn.clone()),
            ("RoleSessionName".to_owned(), identity.role_session_name.clone()),
            ("WebIdentityToken".to_owned(), token.clone()),
            ("DurationSeconds".to_owned(), STS_DURATION_SECONDS.to_string()),
        ];
        let token_redactor = Redactor::new([token.clone()]);
        let reply = self
            .sts
            .call(operation, "AssumeRoleWithWebIdentity", &params, None)
            .await
            .map_err(|e| token_redactor.error(e))?;
        let (credentials, expires) = records::web_identity_credentials(operation, &reply.body).map_err(|e| token_redactor.error(e))?;
        for (key, value) in [
            ("AccessKeyId", Some(credentials.access_key_id.as_str())),
            ("SessionToken", credentials.session_token.as_deref()),
        ] {
            if let Some(why) = value.and_then(|v| unsendable(v, MAX_STS_VALUE)) {
                return Err(eip_cloud::http::invalid_response(
                    operation,
                    format!("STS Credentials.{key}: {why}"),
                ));
            }
        }
        let session = Session::new(credentials.clone(), &[&token]);
        *cache = Some(Cached {
            identity,
            credentials,
            expires,
            token,
        });
        Ok(session)
    }
}

/// The token in `path` (bounded, trimmed), or a terminal `InvalidCredentials` naming the file.
async fn read_token(operation: Operation, path: &str) -> Result<String, CloudError> {
    let fail = |why: String| secrets::invalid(operation, format!("webIdentityTokenFile {path:?}: {why}"));
    let bytes = tokio::fs::read(path).await.map_err(|e| fail(format!("cannot read it: {e}")))?;
    if bytes.len() > MAX_TOKEN_FILE {
        return Err(fail(format!(
            "it is {} bytes, more than the {MAX_TOKEN_FILE} accepted",
            bytes.len()
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| fail("it is not UTF-8 text".to_owned()))?;
    let token = text.trim();
    if token.is_empty() || token.chars().any(char::is_control) {
        return Err(fail("it is empty or holds control characters".to_owned()));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eip_cloud::{Blocker, ErrorClass};

    fn data(pairs: &[(&str, &str)]) -> SecretData {
        SecretData::from_pairs(pairs.iter().copied()).expect("valid")
    }

    #[test]
    fn the_secret_decides_and_the_environment_is_the_fallback() {
        let none = |_: &str| None;
        let keys = resolve(
            &data(&[("accessKeyId", "AKIA1"), ("secretAccessKey", "s")]),
            none,
            Operation::Describe,
        )
        .expect("static");
        assert!(matches!(keys, CredentialKind::Static(Credentials { session_token: None, .. })));
        let with_token = resolve(
            &data(&[("accessKeyId", "ASIA1"), ("secretAccessKey", "s"), ("sessionToken", "t")]),
            none,
            Operation::Describe,
        )
        .expect("static");
        assert!(matches!(
            with_token,
            CredentialKind::Static(Credentials {
                session_token: Some(_),
                ..
            })
        ));
        let web = resolve(
            &data(&[
                ("roleArn", "arn:aws:iam::1:role/r"),
                ("webIdentityTokenFile", "/t"),
                ("accessKeyId", "ignored"),
            ]),
            none,
            Operation::Describe,
        )
        .expect("web identity wins");
        assert_eq!(
            web,
            CredentialKind::WebIdentity(WebIdentity {
                role_arn: "arn:aws:iam::1:role/r".into(),
                token_file: "/t".into(),
                role_session_name: DEFAULT_SESSION_NAME.into(),
            })
        );
        let env = |key: &str| match key {
            "AWS_ROLE_ARN" => Some("arn:aws:iam::1:role/irsa".to_owned()),
            "AWS_WEB_IDENTITY_TOKEN_FILE" => Some("/var/run/secrets/eks.amazonaws.com/serviceaccount/token".to_owned()),
            _ => None,
        };
        assert!(matches!(
            resolve(&data(&[]), env, Operation::Describe),
            Ok(CredentialKind::WebIdentity(_))
        ));
    }

    #[test]
    fn incomplete_or_unsendable_secrets_name_the_key() {
        let none = |_: &str| None;
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[("accessKeyId", "AKIA1")], "secretAccessKey"),
            (&[("accessKeyId", "AK IA"), ("secretAccessKey", "s")], "accessKeyId"),
            (&[("roleArn", "arn")], "webIdentityTokenFile"),
            (&[], "no credentials"),
        ];
        for (pairs, named) in cases {
            let err = resolve(&data(pairs), none, Operation::Allocate).expect_err(named);
            assert_eq!(
                (err.class(), err.blocker()),
                (ErrorClass::Terminal, Some(Blocker::InvalidCredentials)),
                "{named}"
            );
            assert!(err.message.contains(named), "{}", err.message);
        }
    }

    #[test]
    fn keys_are_refreshed_before_they_expire() {
        let now = jiff::Timestamp::from_second(1_800_000_000).expect("time");
        let later = |s: i64| now.checked_add(jiff::SignedDuration::from_secs(s)).expect("time");
        assert!(!needs_refresh(later(3600), now));
        assert!(!needs_refresh(later(301), now));
        assert!(needs_refresh(later(299), now));
        assert!(needs_refresh(later(-1), now));
    }
}
