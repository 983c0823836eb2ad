//! HTTP plumbing: credentials from the Secret, AK/SK signing or IAM password tokens, project ID
//! resolution and sending, through the shared [`Wire`] (no redirects, bounded answers, every
//! request shown to its observer).

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::answers;
use super::signing::{self, SignInput};
use eip_cloud::http::{Answer, Wire};
use eip_cloud::redact::Redactor;
use eip_cloud::{Blocker, CloudError, Operation, SecretData, secrets};

/// Tokens live 24 h; a new one is fetched this long before the old one expires.
const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60 * 60);
const TOKEN_DEFAULT_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Secret keys of AK/SK credentials.
pub const AKSK_KEYS: [&str; 3] = ["accessKey", "secretKey", "securityToken"];
/// Secret keys of IAM password credentials.
pub const PASSWORD_KEYS: [&str; 3] = ["username", "password", "domainName"];

/// Credentials from the ProviderConfig's Secret. Never printed: `Debug` shows only the kind.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// `accessKey`, `secretKey` and, for temporary credentials, `securityToken`.
    AkSk {
        access_key: String,
        secret_key: String,
        security_token: Option<String>,
    },
    /// `username`, `password`, `domainName` (the account name): IAM password tokens.
    Password { user: String, password: String, domain: String },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::AkSk { .. } => f.write_str("Credentials::AkSk(..)"),
            Credentials::Password { .. } => f.write_str("Credentials::Password(..)"),
        }
    }
}

/// The value of `key`, trimmed, without control characters.
fn text<'a>(operation: Operation, key: &str, value: &'a str) -> Result<&'a str, CloudError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(secrets::invalid(
            operation,
            format!("credentials Secret key {key:?}: the value is blank"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(secrets::invalid(
            operation,
            format!("credentials Secret key {key:?}: the value contains control characters (such as a line break inside it)"),
        ));
    }
    Ok(value)
}

/// The value of `key`, which is sent in an HTTP header: printable ASCII without spaces.
fn header_text<'a>(operation: Operation, key: &str, value: &'a str) -> Result<&'a str, CloudError> {
    let value = text(operation, key, value)?;
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(secrets::invalid(
            operation,
            format!("credentials Secret key {key:?}: the value cannot be sent in an HTTP header (only printable ASCII without spaces)"),
        ));
    }
    Ok(value)
}

impl Credentials {
    /// AK/SK when any of its keys is set (then `accessKey` and `secretKey` are required), else
    /// password credentials when any of theirs is (then all three are required).
    pub fn from_secret(operation: Operation, data: &SecretData) -> Result<Self, CloudError> {
        if AKSK_KEYS.iter().any(|key| data.contains_key(key)) {
            let access_key = header_text(operation, "accessKey", data.require(operation, "accessKey")?)?;
            let secret_key = text(operation, "secretKey", data.require(operation, "secretKey")?)?;
            let security_token = match data.get("securityToken") {
                Some(token) => Some(header_text(operation, "securityToken", token)?.to_owned()),
                None => None,
            };
            return Ok(Credentials::AkSk {
                access_key: access_key.to_owned(),
                secret_key: secret_key.to_owned(),
                security_token,
            });
        }
        if PASSWORD_KEYS.iter().any(|key| data.contains_key(key)) {
            let user = text(operation, "username", data.require(operation, "username")?)?;
            let password = text(operation, "password", data.require(operation, "password")?)?;
            let domain = text(operation, "domainName", data.require(operation, "domainName")?)?;
            return Ok(Credentials::Password {
                user: user.to_owned(),
                password: password.to_owned(),
                domain: domain.to_owned(),
            });
        }
        Err(CloudError::terminal(
            operation,
            Blocker::Authentication,
            "CredentialsIncomplete",
            "the credentials Secret needs the keys accessKey and secretKey (optionally securityToken), \
             or username, password and domainName",
        ))
    }

    /// A redactor for the secrets these credentials hold (a fetched token is added later).
    pub fn redactor(&self) -> Redactor {
        match self {
            Credentials::AkSk {
                secret_key,
                security_token,
                ..
            } => Redactor::new(std::iter::once(secret_key.as_str()).chain(security_token.as_deref())),
            Credentials::Password { password, .. } => Redactor::new([password.as_str()]),
        }
    }
}

/// `host[:port]` as sent in the `Host` header.
fn host_header(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// One request to send.
pub(crate) struct Call<'a> {
    pub operation: Operation,
    pub method: Method,
    /// Base URL (`https://vpc.eu-de.otc.t-systems.com`), no trailing slash.
    pub base: &'a str,
    /// Path from the base, starting with `/`; segments already safe.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

/// The auth header set for one attempt.
pub(crate) enum Auth<'a> {
    /// AK/SK signature; `project_id` adds `X-Project-Id` (absent for IAM calls).
    Signed {
        access_key: &'a str,
        secret_key: &'a str,
        security_token: Option<&'a str>,
        project_id: Option<&'a str>,
    },
    Token(&'a str),
    None,
}

/// Sends `call` with `auth` through [`Wire::send`] (no redirects, bounded answer, shown to the
/// wire's observer). The signature made is added to `redactor`.
pub(crate) async fn send(wire: &Wire, call: &Call<'_>, auth: &Auth<'_>, redactor: &mut Redactor) -> Result<Answer, CloudError> {
    let query = signing::canonical_query(&call.query);
    let raw = if query.is_empty() {
        format!("{}{}", call.base, call.path)
    } else {
        format!("{}{}?{query}", call.base, call.path)
    };
    let url = reqwest::Url::parse(&raw).map_err(|e| {
        CloudError::terminal(
            call.operation,
            Blocker::InvalidRequest,
            "InvalidEndpoint",
            format!("cannot build a URL from the endpoint: {e}"),
        )
    })?;
    let body = match &call.body {
        Some(value) => serde_json::to_vec(value).unwrap_or_default(),
        None => Vec::new(),
    };
    let mut headers: Vec<(String, String)> = vec![
        ("Host".into(), host_header(&url)),
        ("Content-Type".into(), "application/json".into()),
    ];
    match auth {
        Auth::Signed {
            access_key,
            secret_key,
            security_token,
            project_id,
        } => {
            headers.push((signing::HEADER_DATE.into(), signing::sdk_date(Timestamp::now())));
            if let Some(project) = project_id {
                headers.push(("X-Project-Id".into(), (*project).to_owned()));
            }
            if let Some(token) = security_token {
                headers.push(("X-Security-Token".into(), (*token).to_owned()));
            }
            let signature = signing::sign(
                access_key,
                secret_key,
                &SignInput {
                    method: call.method.as_str(),
                    path: url.path(),
                    query: &call.query,
                    headers: &headers,
                    body: &body,
                },
            );
            redactor.extend([signature.signature.as_str()]);
            headers.push(("Authorization".into(), signature.authorization));
        }
        Auth::Token(token) => headers.push(("X-Auth-Token".into(), (*token).to_owned())),
        Auth::None => {}
    }
    let mut map = HeaderMap::new();
    for (name, value) in &headers {
        // Credential values were checked when read; what is left is configuration (project ID).
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) else {
            return Err(CloudError::terminal(
                call.operation,
                Blocker::InvalidRequest,
                "InvalidHeader",
                format!("header {name} cannot be sent (a non-ASCII project ID or endpoint?)"),
            ));
        };
        map.insert(name, value);
    }
    let mut request = wire.client().request(call.method.clone(), url).headers(map);
    if call.body.is_some() {
        request = request.body(body);
    }
    wire.send(call.operation, request).await
}

/// A cached IAM token.
#[derive(Clone)]
pub(crate) struct Token {
    /// Which credentials and scope it was issued for (a hash, never the password).
    pub key: String,
    pub value: String,
    pub project_id: String,
    pub refresh_at: Instant,
}

/// Fingerprint of credentials + scope, to notice a rotated Secret.
pub(crate) fn token_key(credentials: &Credentials, scope: &str) -> String {
    let material = match credentials {
        Credentials::Password { user, password, domain } => format!("{user}\n{password}\n{domain}\n{scope}"),
        Credentials::AkSk { access_key, .. } => format!("{access_key}\n{scope}"),
    };
    eip_cloud::signing::sha256_hex(material.as_bytes())
}

/// How a token is scoped: to a project ID, or a project name (IAM resolves it).
pub(crate) enum Scope<'a> {
    Id(&'a str),
    Name(&'a str),
}

/// `POST {iam}/v3/auth/tokens` with a password. The token is the `X-Subject-Token` header; it
/// is added to `redactor`.
pub(crate) async fn fetch_token(
    wire: &Wire,
    iam: &str,
    operation: Operation,
    credentials: &Credentials,
    scope: &Scope<'_>,
    redactor: &mut Redactor,
) -> Result<Token, CloudError> {
    let Credentials::Password { user, password, domain } = credentials else {
        return Err(CloudError::terminal(
            operation,
            Blocker::Authentication,
            "NotPassword",
            "not password credentials",
        ));
    };
    let project = match scope {
        Scope::Id(id) => json!({ "id": id }),
        Scope::Name(name) => json!({ "name": name }),
    };
    let body = json!({
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": { "user": { "name": user, "password": password, "domain": { "name": domain } } }
            },
            "scope": { "project": project }
        }
    });
    let call = Call {
        operation,
        method: Method::POST,
        base: iam,
        path: "/v3/auth/tokens".into(),
        query: Vec::new(),
        body: Some(body),
    };
    let answer = send(wire, &call, &Auth::None, redactor).await?;
    let issued = answers::token_answer(operation, &answer).map_err(|mut err| {
        if err.blocker() == Some(Blocker::Authentication) {
            err.message = format!(
                "IAM refused the password token request (check username, password, domainName): {}",
                err.message
            );
        }
        err
    })?;
    redactor.extend([issued.value.as_str()]);
    let refresh_in = refresh_in(issued.expires_at.as_deref(), Timestamp::now());
    Ok(Token {
        key: String::new(),
        value: issued.value,
        project_id: issued.project_id,
        refresh_at: Instant::now() + refresh_in,
    })
}

/// How long after `now` a token that expires at `expires_at` (RFC 3339, as IAM's `expires_at`)
/// is renewed: [`TOKEN_REFRESH_MARGIN`] before it expires, but not before half its lifetime. A
/// missing, unparsable or past expiry counts as [`TOKEN_DEFAULT_LIFETIME`].
fn refresh_in(expires_at: Option<&str>, now: Timestamp) -> Duration {
    let lifetime = expires_at
        .and_then(|s| s.parse::<Timestamp>().ok())
        .and_then(|expires| Duration::try_from(expires.duration_since(now)).ok())
        .unwrap_or(TOKEN_DEFAULT_LIFETIME);
    lifetime.saturating_sub(TOKEN_REFRESH_MARGIN).max(lifetime / 2)
}

/// `GET {iam}/v3/projects?name=…` signed with AK/SK: the ID of the project called `name`.
pub(crate) async fn resolve_project(
    wire: &Wire,
    iam: &str,
    operation: Operation,
    credentials: &Credentials,
    name: &str,
    redactor: &mut Redactor,
) -> Result<String, CloudError> {
    let Credentials::AkSk {
        access_key,
        secret_key,
        security_token,
    } = credentials
    else {
        return Err(CloudError::terminal(
            operation,
            Blocker::Authentication,
            "NotAkSk",
            "not AK/SK credentials",
        ));
    };
    let call = Call {
        operation,
        method: Method::GET,
        base: iam,
        path: "/v3/projects".into(),
        query: vec![("name".into(), name.to_owned())],
        body: None,
    };
    let auth = Auth::Signed {
        access_key,
        secret_key,
        security_token: security_token.as_deref(),
        project_id: None,
    };
    let answer = send(wire, &call, &auth, redactor).await?;
    answers::projects_answer(operation, &answer, name)?.ok_or_else(|| {
        CloudError::terminal(
            operation,
            Blocker::InvalidRequest,
            "ProjectNotFound",
            format!("IAM knows no project named {name:?} for these credentials; set spec.otc.projectId or projectName"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_an_hour_before_they_expire() {
        let now: Timestamp = "2019-05-01T07:30:00Z".parse().expect("a timestamp");
        let hours = |h: u64| Duration::from_secs(h * 60 * 60);
        // IAM's form: microseconds, `Z`.
        assert_eq!(refresh_in(Some("2019-05-02T07:30:00.000000Z"), now), hours(23));
        assert_eq!(refresh_in(Some("2019-05-02T09:30:00+02:00"), now), hours(23));
        // A short lifetime: renewed halfway.
        assert_eq!(refresh_in(Some("2019-05-01T08:30:00Z"), now), Duration::from_secs(30 * 60));
        for unusable in [None, Some("tomorrow"), Some("2019-05-01T07:00:00Z"), Some("2019-05-02T07:30:00")] {
            assert_eq!(refresh_in(unusable, now), hours(23), "{unusable:?}");
        }
    }
}
