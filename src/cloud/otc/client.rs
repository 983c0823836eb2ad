//! HTTP plumbing: credentials from the Secret, AK/SK signing or IAM password tokens, project ID
//! resolution, sending, and turning error answers into classified [`CloudError`]s.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::errors::{classify, parse_error, parse_retry_after};
use super::signing::{self, SignInput};
use crate::cloud::{Blocker, CloudError, Operation, SecretData};

pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Tokens live 24 h; a new one is fetched this long before the old one expires.
const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60 * 60);
const TOKEN_DEFAULT_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

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

impl Credentials {
    pub fn from_secret(operation: Operation, data: &SecretData) -> Result<Self, CloudError> {
        let get = |key: &str| data.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if let (Some(access_key), Some(secret_key)) = (get("accessKey"), get("secretKey")) {
            return Ok(Credentials::AkSk {
                access_key,
                secret_key,
                security_token: get("securityToken"),
            });
        }
        if let (Some(user), Some(password), Some(domain)) = (get("username"), get("password"), get("domainName")) {
            return Ok(Credentials::Password { user, password, domain });
        }
        Err(CloudError::terminal(
            operation,
            Blocker::Authentication,
            "CredentialsIncomplete",
            "the credentials Secret needs the keys accessKey and secretKey (optionally securityToken), \
             or username, password and domainName",
        ))
    }
}

/// A received answer.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn request_id(&self) -> Option<String> {
        self.header("x-request-id").map(str::to_owned).or_else(|| {
            self.json()
                .ok()
                .and_then(|v| v.get("request_id").and_then(Value::as_str).map(str::to_owned))
        })
    }

    pub fn json(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn into_error(self, operation: Operation) -> CloudError {
        let request_id = self.header("x-request-id").map(str::to_owned);
        let retry_after = parse_retry_after(self.header("retry-after"));
        classify(operation, parse_error(self.status, &self.body, request_id, retry_after))
    }
}

/// An HTTP client with rustls (ring) and bounded timeouts.
pub(crate) fn http_client() -> Result<reqwest::Client, String> {
    // reqwest is built without a default crypto provider (kube already brings ring); a second
    // install fails harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))
}

fn transport_error(operation: Operation, what: &str, error: reqwest::Error) -> CloudError {
    use std::error::Error as _;
    let code = if error.is_timeout() { "RequestTimeout" } else { "ConnectionError" };
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    CloudError::retryable(operation, code, format!("{what}: {text}"))
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

impl Call<'_> {
    fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
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

/// Sends `call` with `auth`. Transport failures are retryable errors; any HTTP answer is returned.
pub(crate) async fn send(http: &reqwest::Client, call: &Call<'_>, auth: &Auth<'_>) -> Result<Answer, CloudError> {
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
            headers.push((signing::HEADER_DATE.into(), Utc::now().format(signing::DATE_FORMAT).to_string()));
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
            headers.push(("Authorization".into(), signature.authorization));
        }
        Auth::Token(token) => headers.push(("X-Auth-Token".into(), (*token).to_owned())),
        Auth::None => {}
    }
    let mut map = HeaderMap::new();
    for (name, value) in &headers {
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) else {
            return Err(CloudError::terminal(
                call.operation,
                Blocker::InvalidRequest,
                "InvalidHeader",
                format!("header {name} cannot be sent (non-ASCII value in the credentials or project?)"),
            ));
        };
        map.insert(name, value);
    }
    let mut request = http.request(call.method.clone(), url).headers(map);
    if call.body.is_some() {
        request = request.body(body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(call.operation, &call.describe(), e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| transport_error(call.operation, &call.describe(), e))?
        .to_vec();
    Ok(Answer { status, headers, body })
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

/// Fingerprint of password credentials + scope, to notice a rotated Secret.
pub(crate) fn token_key(credentials: &Credentials, scope: &str) -> String {
    use sha2::{Digest, Sha256};
    let material = match credentials {
        Credentials::Password { user, password, domain } => format!("{user}\n{password}\n{domain}\n{scope}"),
        Credentials::AkSk { access_key, .. } => format!("{access_key}\n{scope}"),
    };
    hex::encode(Sha256::digest(material.as_bytes()))
}

/// How a token is scoped: to a project ID, or a project name (IAM resolves it).
pub(crate) enum Scope<'a> {
    Id(&'a str),
    Name(&'a str),
}

/// `POST {iam}/v3/auth/tokens` with a password. The token is the `X-Subject-Token` header.
pub(crate) async fn fetch_token(
    http: &reqwest::Client,
    iam: &str,
    operation: Operation,
    credentials: &Credentials,
    scope: &Scope<'_>,
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
    let answer = send(http, &call, &Auth::None).await?;
    if !answer.ok() {
        let mut err = answer.into_error(operation);
        if err.blocker == Some(Blocker::Authentication) || err.code == "401" {
            err.message = format!(
                "IAM refused the password token request (check username, password, domainName): {}",
                err.message
            );
        }
        return Err(err);
    }
    let value = answer
        .header("x-subject-token")
        .map(str::to_owned)
        .ok_or_else(|| CloudError::retryable(operation, "MissingSubjectToken", "IAM answered without an X-Subject-Token header"))?;
    let body = answer.json().unwrap_or(Value::Null);
    let token = &body["token"];
    let project_id = token["project"]["id"].as_str().unwrap_or_default().to_owned();
    if project_id.is_empty() {
        return Err(CloudError::terminal(
            operation,
            Blocker::Authentication,
            "UnscopedToken",
            "IAM issued a token without a project scope",
        ));
    }
    let lifetime = token["expires_at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .and_then(|expires| (expires.with_timezone(&Utc) - Utc::now()).to_std().ok())
        .unwrap_or(TOKEN_DEFAULT_LIFETIME);
    let refresh_in = lifetime.saturating_sub(TOKEN_REFRESH_MARGIN).max(lifetime / 2);
    Ok(Token {
        key: String::new(),
        value,
        project_id,
        refresh_at: Instant::now() + refresh_in,
    })
}

/// `GET {iam}/v3/projects?name=…` signed with AK/SK: the ID of the project called `name`.
pub(crate) async fn resolve_project(
    http: &reqwest::Client,
    iam: &str,
    operation: Operation,
    credentials: &Credentials,
    name: &str,
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
    let answer = send(http, &call, &auth).await?;
    if !answer.ok() {
        return Err(answer.into_error(operation));
    }
    let body = answer.json().unwrap_or(Value::Null);
    let found = body["projects"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"].as_str() == Some(name))
        .and_then(|p| p["id"].as_str())
        .map(str::to_owned);
    found.ok_or_else(|| {
        CloudError::terminal(
            operation,
            Blocker::InvalidRequest,
            "ProjectNotFound",
            format!("IAM knows no project named {name:?} for these credentials; set spec.otc.projectId or projectName"),
        )
    })
}
