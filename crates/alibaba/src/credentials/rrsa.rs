//! RRSA: the OIDC token file exchanged for temporary keys through `AssumeRoleWithOIDC`
//! (unsigned; the token travels in the form body), the keys checked and cached until
//! [`REFRESH_MARGIN`] before they expire.

use std::io::Read as _;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize as _;
use serde_json::Value;

use super::{
    CredentialSource, Credentials, MAX_OIDC_TOKEN, MAX_STS_VALUE, REFRESH_MARGIN, RrsaConfig, STS_DURATION_SECONDS, STS_VERSION,
    secret_forms, unsendable, unusable,
};
use crate::answers;
use crate::client;
use crate::records::StsAnswer;
use crate::signing::encode_pairs;
use eip_cloud::redact::Redactor;
use eip_cloud::secrets;
use eip_cloud::{Blocker, CloudError, ErrorClass, Failure, Operation, http};

/// Temporary keys and the OIDC token they were obtained with (no `Debug`: it holds the token).
#[derive(Clone)]
pub(super) struct CachedSts {
    config: RrsaConfig,
    pub(super) credentials: Credentials,
    expires_at: Timestamp,
    pub(super) oidc_token: String,
}

/// Whether temporary keys expiring at `expires_at` must be refreshed at `now`.
pub fn needs_refresh(expires_at: Timestamp, now: Timestamp) -> bool {
    // Negative (already expired): no `Duration`, refresh.
    Duration::try_from(expires_at.duration_since(now))
        .ok()
        .is_none_or(|left| left <= REFRESH_MARGIN)
}

fn auth_error(operation: Operation, message: impl Into<String>) -> CloudError {
    CloudError::terminal(operation, Blocker::Authentication, secrets::INVALID_CREDENTIALS, message)
}

impl CredentialSource {
    /// Temporary keys for `config`: the cached ones while they are far from expiry, else fresh
    /// from STS (or, when STS fails retryably, the cached ones while they last).
    pub(super) async fn temporary(&self, operation: Operation, config: RrsaConfig) -> Result<CachedSts, CloudError> {
        // Held across the refresh so concurrent calls share one AssumeRoleWithOIDC.
        let mut cache = self.cache.lock().await;
        let now = Timestamp::now();
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
    async fn assume_role(&self, operation: Operation, config: &RrsaConfig) -> Result<(Credentials, Timestamp, String), CloudError> {
        let token = read_oidc_token(operation, &config.oidc_token_file).await?;
        let mut redactor = Redactor::new(secret_forms([token.as_str()]));
        let mut url = self.sts_endpoint.url.clone();
        url.query_pairs_mut()
            .append_pair("Action", "AssumeRoleWithOIDC")
            .append_pair("Version", STS_VERSION)
            .append_pair("Format", "JSON")
            .append_pair("Timestamp", &client::timestamp());
        let form = encode_pairs([
            ("RoleArn", config.role_arn.as_str()),
            ("OIDCProviderArn", config.oidc_provider_arn.as_str()),
            ("OIDCToken", token.as_str()),
            ("RoleSessionName", config.role_session_name.as_str()),
            ("DurationSeconds", &STS_DURATION_SECONDS.to_string()),
        ]);
        let request = self
            .wire
            .client()
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
        let answer = self.wire.send(operation, request).await.map_err(|e| redactor.error(label(e)))?;
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
        let (credentials, expires_at) = sts_credentials(operation, parsed, Timestamp::now()).map_err(|e| redactor.error(label(e)))?;
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
pub fn parse_temporary_keys(operation: Operation, body: &Value) -> Result<(Credentials, Timestamp), CloudError> {
    let answer = StsAnswer::deserialize(body).map_err(|e| {
        http::invalid_response(
            operation,
            format!("AssumeRoleWithOIDC answered without complete Credentials: {}", answers::reason(&e)),
        )
    })?;
    sts_credentials(operation, answer, Timestamp::now())
}

/// An RFC 3339 time: `YYYY-MM-DD`, `T` (or `t`, or a space), `hh:mm:ss`, an optional fraction,
/// `Z` or `±hh:mm`. (jiff alone also takes ISO 8601's other forms: minutes without seconds,
/// basic format, bracketed time zones.)
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    let digits = |at: usize, n: usize| bytes.get(at..at + n).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let is = |at: usize, allowed: &[u8]| bytes.get(at).is_some_and(|b| allowed.contains(b));
    let date_time = digits(0, 4)
        && is(4, b"-")
        && digits(5, 2)
        && is(7, b"-")
        && digits(8, 2)
        && is(10, b"Tt ")
        && digits(11, 2)
        && is(13, b":")
        && digits(14, 2)
        && is(16, b":")
        && digits(17, 2);
    let mut end = 19;
    if is(end, b".") {
        let fraction = bytes.iter().skip(end + 1).take_while(|b| b.is_ascii_digit()).count();
        if fraction == 0 {
            return None;
        }
        end += 1 + fraction;
    }
    let offset = match bytes.len().checked_sub(end) {
        Some(1) => is(end, b"Zz"),
        Some(6) => is(end, b"+-") && digits(end + 1, 2) && is(end + 3, b":") && digits(end + 4, 2),
        _ => false,
    };
    if !(date_time && offset) {
        return None;
    }
    text.parse().ok()
}

/// The temporary keys of a well-formed STS answer, if they can be used: sendable key ID and
/// token, an `Expiration` (RFC 3339) after `now`. The cache lifetime is at most what was asked.
pub fn sts_credentials(operation: Operation, answer: StsAnswer, now: Timestamp) -> Result<(Credentials, Timestamp), CloudError> {
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
    let expires_at =
        parse_rfc3339(creds.expiration.as_str()).ok_or_else(|| invalid("an Expiration that is not an RFC 3339 time".to_owned()))?;
    if expires_at <= now {
        return Err(invalid("keys that have already expired".to_owned()));
    }
    let asked = now
        .checked_add(SignedDuration::from_secs(i64::from(STS_DURATION_SECONDS)))
        .unwrap_or(Timestamp::MAX);
    Ok((
        Credentials {
            access_key_id: creds.access_key_id.0.clone(),
            access_key_secret: creds.access_key_secret.0.clone(),
            security_token: Some(creds.security_token.0.clone()),
        },
        expires_at.min(asked),
    ))
}
