//! The RPC transport: signs a call (V3 or V1), sends it, and turns the answer into JSON or a
//! classified [`CloudError`]. Nothing here logs parameters or credentials.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

use super::credentials::Credentials;
use super::errors;
use super::signing::{self, V3Request};
use crate::api::AlibabaSignatureVersion;
use crate::cloud::{CloudError, Operation};

/// VPC API version of every EIP call.
pub const VPC_VERSION: &str = "2016-04-28";
/// Whole-request timeout; a slower answer is a retryable `RequestTimeout`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where calls go: `scheme://host[:port]/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The base URL, ending in `/`.
    pub url: reqwest::Url,
    /// `host[:port]` as sent in the `Host` header (and signed by V3).
    pub host: String,
}

impl Endpoint {
    /// Parses `https://host[:port]` (or `http://` for local endpoints such as the simulator).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(raw.trim()).map_err(|e| format!("invalid endpoint {raw:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("endpoint {raw:?} must be an http(s) URL"));
        }
        let Some(host) = url.host_str() else {
            return Err(format!("endpoint {raw:?} has no host"));
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(format!("endpoint {raw:?} must not have a path or query (the API is served at /)"));
        }
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let mut base = url.clone();
        base.set_path("/");
        Ok(Endpoint { url: base, host })
    }

    /// The VPC endpoint of `region`: `vpc.aliyuncs.com` for cn-hangzhou and the regions the
    /// official SDK maps there, `vpc.<region>.aliyuncs.com` otherwise.
    pub fn vpc_for_region(region: &str) -> Result<Self, String> {
        const CENTRAL: &[&str] = &[
            "cn-hangzhou",
            "cn-hangzhou-finance",
            "cn-shanghai-finance-1",
            "cn-shenzhen-finance-1",
            "cn-north-2-gov-1",
            "cn-beijing-gov-1",
            "cn-wuhan",
            "cn-fujian",
        ];
        if CENTRAL.contains(&region) {
            Endpoint::parse("https://vpc.aliyuncs.com")
        } else {
            Endpoint::parse(&format!("https://vpc.{region}.aliyuncs.com"))
        }
    }

    /// The STS endpoint of `region`.
    pub fn sts_for_region(region: &str) -> Result<Self, String> {
        Endpoint::parse(&format!("https://sts.{region}.aliyuncs.com"))
    }
}

/// An HTTP client with rustls (ring) and bounded timeouts.
pub fn http_client() -> Result<reqwest::Client, String> {
    // reqwest is built without a default crypto provider (kube already brings ring); installing
    // it twice is harmless, so the error of a second install is ignored.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))
}

/// A random 32-hex-digit nonce.
pub fn nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// `yyyy-MM-ddTHH:mm:ssZ` now, UTC.
pub fn timestamp() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A transport failure: always retryable, never with the URL (V1 URLs carry the signature,
/// access key ID and security token).
pub fn transport_error(operation: Operation, error: &reqwest::Error) -> CloudError {
    let code = if error.is_timeout() { "RequestTimeout" } else { "ConnectionError" };
    CloudError::retryable(operation, code, format!("request failed: {}", error_chain(error)))
}

fn error_chain(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// How long the cloud asked us to wait: `x-acs-retry-after` (milliseconds, as the Tea SDK reads
/// it) or the standard `Retry-After` (seconds).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let read = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = read("x-acs-retry-after").and_then(|v| v.parse::<u64>().ok())
        && ms > 0
    {
        return Some(Duration::from_millis(ms));
    }
    read("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
}

/// Sends `request` and turns the answer into JSON or a classified error.
pub async fn execute(operation: Operation, request: reqwest::RequestBuilder) -> Result<Value, CloudError> {
    let response = request.send().await.map_err(|e| transport_error(operation, &e.without_url()))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|e| transport_error(operation, &e.without_url()))?;
    interpret(operation, status, &headers, &body)
}

/// JSON of a 2xx answer; the classified error of anything else.
pub fn interpret(operation: Operation, status: u16, headers: &HeaderMap, body: &[u8]) -> Result<Value, CloudError> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let header_request_id = headers.get("x-acs-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if (200..300).contains(&status) {
        return json.ok_or_else(|| {
            let mut err = CloudError::retryable(operation, "InvalidResponse", format!("HTTP {status} with a body that is not JSON"));
            err.request_id = header_request_id;
            err
        });
    }
    // Alibaba's bodies use `Code`; some gateways answer in lower camel case.
    let field = |names: [&str; 2]| {
        json.as_ref()
            .and_then(|j| names.iter().find_map(|name| j.get(*name)))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let code = field(["Code", "code"]).unwrap_or_else(|| format!("HTTP{status}"));
    let message = field(["Message", "message"]).unwrap_or_else(|| format!("HTTP {status} without an error body"));
    let request_id = field(["RequestId", "requestId"]).or(header_request_id);
    Err(errors::cloud_error(
        operation,
        status,
        &code,
        &message,
        request_id,
        retry_after(headers),
    ))
}

/// Signs and sends RPC calls to one endpoint.
#[derive(Clone)]
pub struct RpcClient {
    http: reqwest::Client,
    endpoint: Endpoint,
    signature: AlibabaSignatureVersion,
    version: &'static str,
}

impl RpcClient {
    pub fn new(http: reqwest::Client, endpoint: Endpoint, signature: AlibabaSignatureVersion) -> Self {
        RpcClient {
            http,
            endpoint,
            signature,
            version: VPC_VERSION,
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Calls `action` with `params` (the API's own parameters, `RegionId` included).
    pub async fn call(
        &self,
        operation: Operation,
        action: &str,
        params: BTreeMap<String, String>,
        credentials: &Credentials,
    ) -> Result<Value, CloudError> {
        let request = match self.signature {
            AlibabaSignatureVersion::V3 => self.build_v3(action, params, credentials, &timestamp(), &nonce()),
            AlibabaSignatureVersion::V1 => self.build_v1(action, params, credentials, &timestamp(), &nonce()),
        };
        tracing::debug!(action, endpoint = %self.endpoint.host, "alibaba call");
        let result = execute(operation, request).await;
        match &result {
            Ok(body) => {
                let request_id = body.get("RequestId").and_then(|v| v.as_str());
                tracing::debug!(action, request_id, "alibaba call ok");
            }
            Err(err) => tracing::debug!(action, code = %err.code, request_id = err.request_id.as_deref(), "alibaba call failed"),
        }
        result
    }

    fn url_with_query(&self, query: &BTreeMap<String, String>) -> reqwest::Url {
        let mut url = self.endpoint.url.clone();
        if !query.is_empty() {
            url.set_query(Some(&signing::canonical_query(query)));
        }
        url
    }

    /// `POST /?<params>` signed with ACS3-HMAC-SHA256 over the headers it sends.
    pub(crate) fn build_v3(
        &self,
        action: &str,
        params: BTreeMap<String, String>,
        credentials: &Credentials,
        date: &str,
        nonce: &str,
    ) -> reqwest::RequestBuilder {
        let payload_hash = signing::sha256_hex(b"");
        let mut signed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut put = |name: &str, value: &str| {
            signed.insert(name.to_owned(), vec![value.to_owned()]);
        };
        put("host", &self.endpoint.host);
        put("x-acs-action", action);
        put("x-acs-version", self.version);
        put("x-acs-date", date);
        put("x-acs-signature-nonce", nonce);
        put("x-acs-content-sha256", &payload_hash);
        if let Some(token) = &credentials.security_token {
            put("x-acs-security-token", token);
        }
        let signature = signing::v3_sign(
            &V3Request {
                method: "POST",
                path: "/",
                query: &params,
                headers: &signed,
                payload_hash: &payload_hash,
            },
            &credentials.access_key_secret,
        );
        let mut headers = HeaderMap::new();
        for (name, values) in &signed {
            if let (Ok(name), Some(Ok(value))) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                values.first().map(|v| HeaderValue::from_str(v)),
            ) {
                headers.insert(name, value);
            }
        }
        if let Ok(mut value) = HeaderValue::from_str(&signature.authorization(&credentials.access_key_id)) {
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static("application/json"));
        self.http.post(self.url_with_query(&params)).headers(headers)
    }

    /// `POST /?<params + common parameters + Signature>` signed with HMAC-SHA1.
    pub(crate) fn build_v1(
        &self,
        action: &str,
        mut params: BTreeMap<String, String>,
        credentials: &Credentials,
        timestamp: &str,
        nonce: &str,
    ) -> reqwest::RequestBuilder {
        for (k, v) in [
            ("Action", action),
            ("Version", self.version),
            ("Format", "JSON"),
            ("AccessKeyId", credentials.access_key_id.as_str()),
            ("SignatureMethod", signing::V1_METHOD),
            ("SignatureVersion", signing::V1_VERSION),
            ("SignatureNonce", nonce),
            ("Timestamp", timestamp),
        ] {
            params.insert(k.to_owned(), v.to_owned());
        }
        if let Some(token) = &credentials.security_token {
            params.insert("SecurityToken".to_owned(), token.clone());
        }
        let string_to_sign = signing::v1_string_to_sign("POST", &params);
        params.insert(
            "Signature".to_owned(),
            signing::v1_signature(&credentials.access_key_secret, &string_to_sign),
        );
        let mut headers = HeaderMap::new();
        if let Ok(host) = HeaderValue::from_str(&self.endpoint.host) {
            headers.insert(reqwest::header::HOST, host);
        }
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static("application/json"));
        self.http.post(self.url_with_query(&params)).headers(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let local = Endpoint::parse("http://127.0.0.1:8080").expect("parses");
        assert_eq!(
            (local.url.as_str(), local.host.as_str()),
            ("http://127.0.0.1:8080/", "127.0.0.1:8080")
        );
        let hangzhou = Endpoint::vpc_for_region("cn-hangzhou").expect("parses");
        assert_eq!(hangzhou.url.as_str(), "https://vpc.aliyuncs.com/");
        let beijing = Endpoint::vpc_for_region("cn-beijing").expect("parses");
        assert_eq!(beijing.host, "vpc.cn-beijing.aliyuncs.com");
        assert_eq!(
            Endpoint::sts_for_region("cn-beijing").expect("parses").host,
            "sts.cn-beijing.aliyuncs.com"
        );
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("https://x/some/path").is_err());
        assert!(Endpoint::parse("not a url").is_err());
    }

    #[test]
    fn retry_after_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("x-acs-retry-after", HeaderValue::from_static("350"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(350)));
    }

    #[test]
    fn error_bodies_are_classified() {
        let mut headers = HeaderMap::new();
        headers.insert("x-acs-retry-after", HeaderValue::from_static("200"));
        let body = br#"{"RequestId":"R-1","HostId":"vpc.aliyuncs.com","Code":"Throttling.User","Message":"Request was denied due to user flow control.","Recommend":"x"}"#;
        let err = interpret(Operation::Allocate, 400, &headers, body).expect_err("error");
        assert_eq!(
            (err.code.as_str(), err.throttled, err.retry_after, err.request_id.as_deref()),
            ("Throttling.User", true, Some(Duration::from_millis(200)), Some("R-1"))
        );
        let err = interpret(Operation::Release, 503, &HeaderMap::new(), b"<html>busy</html>").expect_err("error");
        assert_eq!((err.code.as_str(), err.class), ("HTTP503", crate::cloud::ErrorClass::Retryable));
        let ok = interpret(Operation::Release, 200, &HeaderMap::new(), br#"{"RequestId":"R"}"#).expect("ok");
        assert_eq!(ok["RequestId"], "R");
    }
}
