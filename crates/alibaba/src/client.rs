//! The RPC transport: signs a call (V3 or V1), sends it through the provider's [`Wire`] (no
//! redirects, a bounded body, every request shown to its observer) and hands the answer to
//! [`answers`]. Credentials that cannot be put on the wire are refused before anything is sent;
//! every error is passed through a [`Redactor`] of the credentials in use. Nothing here logs
//! parameters or credentials.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use super::NAME;
use super::answers::{self, Reply};
use super::credentials::{self, Credentials};
use super::signing::{self, V3Request};
use eip_api::AlibabaSignatureVersion;
use eip_cloud::http::{self, Wire};
use eip_cloud::redact::Redactor;
use eip_cloud::{CloudError, Operation};

/// VPC API version of every EIP call.
pub const VPC_VERSION: &str = "2016-04-28";

/// Where calls go: `scheme://host[:port]/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The base URL, ending in `/`.
    pub url: reqwest::Url,
    /// `host[:port]` as sent in the `Host` header (and signed by V3).
    pub host: String,
}

/// Why a URL is not an endpoint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("invalid endpoint {raw:?}: {reason}")]
    NotAUrl { raw: String, reason: String },
    #[error("endpoint {0:?} must be an http(s) URL")]
    Scheme(String),
    #[error("endpoint {0:?} has no host")]
    NoHost(String),
    #[error("endpoint {0:?} must not have a path or query (the API is served at /)")]
    PathOrQuery(String),
}

impl Endpoint {
    /// Parses `https://host[:port]` (or `http://` for local endpoints such as the simulator).
    pub fn parse(raw: &str) -> Result<Self, EndpointError> {
        let url = reqwest::Url::parse(raw.trim()).map_err(|e| EndpointError::NotAUrl {
            raw: raw.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EndpointError::Scheme(raw.to_owned()));
        }
        let Some(host) = url.host_str() else {
            return Err(EndpointError::NoHost(raw.to_owned()));
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(EndpointError::PathOrQuery(raw.to_owned()));
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
    pub fn vpc_for_region(region: &str) -> Result<Self, EndpointError> {
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
    pub fn sts_for_region(region: &str) -> Result<Self, EndpointError> {
        Endpoint::parse(&format!("https://sts.{region}.aliyuncs.com"))
    }
}

/// A random 32-hex-digit nonce.
pub fn nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// `yyyy-MM-ddTHH:mm:ssZ` now, UTC.
pub fn timestamp() -> String {
    format_timestamp(jiff::Timestamp::now())
}

/// `at` as `yyyy-MM-ddTHH:mm:ssZ` (UTC, whole seconds): the form of `Timestamp` and `x-acs-date`.
pub fn format_timestamp(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Sends `request` ([`http::send`]: no redirects, a bounded body) and reads the answer as the
/// record `T` or a classified error (see [`answers`]).
pub async fn execute<T: DeserializeOwned>(operation: Operation, request: reqwest::RequestBuilder) -> Result<T, CloudError> {
    let answer = http::send(operation, request).await?;
    answers::interpret(operation, &answer)
}

/// Signs and sends RPC calls to one endpoint.
#[derive(Clone)]
pub struct RpcClient {
    wire: Wire,
    endpoint: Endpoint,
    signature: AlibabaSignatureVersion,
    version: &'static str,
}

impl RpcClient {
    /// A client sending with `http` (no observer sees its calls; the provider's own client is
    /// [`Self::with_wire`]).
    pub fn new(http: reqwest::Client, endpoint: Endpoint, signature: AlibabaSignatureVersion) -> Self {
        Self::with_wire(Wire::from_client(http, NAME), endpoint, signature)
    }

    /// A client sending every request through `wire` ([`Wire::send`]), shown to its observer.
    pub fn with_wire(wire: Wire, endpoint: Endpoint, signature: AlibabaSignatureVersion) -> Self {
        RpcClient {
            wire,
            endpoint,
            signature,
            version: VPC_VERSION,
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Calls `action` with `params` (the API's own parameters, `RegionId` included): a reply with
    /// the success shape, or a classified error without the credentials in it.
    pub async fn call(
        &self,
        operation: Operation,
        action: &str,
        params: BTreeMap<String, String>,
        credentials: &Credentials,
    ) -> Result<Reply, CloudError> {
        let mut redactor = credentials::redactor(credentials);
        let result = self
            .send(operation, action, params, credentials, &mut redactor)
            .await
            .map_err(|e| redactor.error(e));
        match &result {
            Ok(reply) => tracing::debug!(action, request_id = %reply.request_id, "alibaba call ok"),
            Err(err) => tracing::debug!(action, code = %err.code, request_id = err.request_id.as_deref(), "alibaba call failed"),
        }
        result
    }

    async fn send(
        &self,
        operation: Operation,
        action: &str,
        params: BTreeMap<String, String>,
        credentials: &Credentials,
        redactor: &mut Redactor,
    ) -> Result<Reply, CloudError> {
        // Refused here, terminally: a value that cannot go into a header or URL would otherwise
        // be dropped (V3) or turn into a transport error retried forever (V1).
        credentials::check_wire(operation, credentials)?;
        let (date, nonce) = (timestamp(), nonce());
        let call = Call {
            action,
            params,
            credentials,
            date: &date,
            nonce: &nonce,
        };
        let (request, signature) = match self.signature {
            AlibabaSignatureVersion::V3 => self.signed_v3(call),
            AlibabaSignatureVersion::V1 => self.signed_v1(call),
        };
        // A server echoing the request must not show the signature either.
        redactor.extend([signing::percent_encode(&signature), signature]);
        tracing::debug!(action, endpoint = %self.endpoint.host, "alibaba call");
        let answer = self.wire.send(operation, request).await?;
        answers::reply(operation, &answer)
    }

    fn url_with_query(&self, query: &BTreeMap<String, String>) -> reqwest::Url {
        let mut url = self.endpoint.url.clone();
        if !query.is_empty() {
            url.set_query(Some(&signing::canonical_query(query)));
        }
        url
    }

    /// `POST /?<params>` signed with ACS3-HMAC-SHA256 over the headers it sends. A value that is
    /// not a valid header is never skipped: the request then fails when sent ([`Self::call`]
    /// refuses such credentials before building).
    pub fn build_v3(
        &self,
        action: &str,
        params: BTreeMap<String, String>,
        credentials: &Credentials,
        date: &str,
        nonce: &str,
    ) -> reqwest::RequestBuilder {
        let call = Call {
            action,
            params,
            credentials,
            date,
            nonce,
        };
        self.signed_v3(call).0
    }

    /// `POST /?<params + common parameters + Signature>` signed with HMAC-SHA1.
    pub fn build_v1(
        &self,
        action: &str,
        params: BTreeMap<String, String>,
        credentials: &Credentials,
        timestamp: &str,
        nonce: &str,
    ) -> reqwest::RequestBuilder {
        let call = Call {
            action,
            params,
            credentials,
            date: timestamp,
            nonce,
        };
        self.signed_v1(call).0
    }

    /// [`Self::build_v3`] and the signature.
    fn signed_v3(&self, call: Call<'_>) -> (reqwest::RequestBuilder, String) {
        let Call {
            action,
            params,
            credentials,
            date,
            nonce,
        } = call;
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
        let mut request = self.wire.client().post(self.url_with_query(&params));
        for (name, values) in &signed {
            for value in values {
                request = request.header(name.as_str(), value.as_str());
            }
        }
        let authorization = signature.authorization(&credentials.access_key_id);
        request = match reqwest::header::HeaderValue::from_str(&authorization) {
            Ok(mut value) => {
                value.set_sensitive(true);
                request.header(reqwest::header::AUTHORIZATION, value)
            }
            // Not a header value: the builder keeps the error and the request fails when sent.
            Err(_) => request.header(reqwest::header::AUTHORIZATION, authorization),
        };
        (request.header(reqwest::header::ACCEPT, "application/json"), signature.signature)
    }

    /// [`Self::build_v1`] and the signature.
    fn signed_v1(&self, call: Call<'_>) -> (reqwest::RequestBuilder, String) {
        let Call {
            action,
            mut params,
            credentials,
            date,
            nonce,
        } = call;
        for (k, v) in [
            ("Action", action),
            ("Version", self.version),
            ("Format", "JSON"),
            ("AccessKeyId", credentials.access_key_id.as_str()),
            ("SignatureMethod", signing::V1_METHOD),
            ("SignatureVersion", signing::V1_VERSION),
            ("SignatureNonce", nonce),
            ("Timestamp", date),
        ] {
            params.insert(k.to_owned(), v.to_owned());
        }
        if let Some(token) = &credentials.security_token {
            params.insert("SecurityToken".to_owned(), token.clone());
        }
        let string_to_sign = signing::v1_string_to_sign("POST", &params);
        let signature = signing::v1_signature(&credentials.access_key_secret, &string_to_sign);
        params.insert("Signature".to_owned(), signature.clone());
        let request = self
            .wire
            .client()
            .post(self.url_with_query(&params))
            .header(reqwest::header::HOST, self.endpoint.host.as_str())
            .header(reqwest::header::ACCEPT, "application/json");
        (request, signature)
    }
}

/// One call to sign: the action and its parameters, the keys, and the time (`x-acs-date` /
/// `Timestamp`) and nonce it is signed with.
struct Call<'a> {
    action: &'a str,
    params: BTreeMap<String, String>,
    credentials: &'a Credentials,
    date: &'a str,
    nonce: &'a str,
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
        assert_eq!(
            Endpoint::parse("ftp://x").map_err(|e| e.to_string()),
            Err(r#"endpoint "ftp://x" must be an http(s) URL"#.to_owned())
        );
        assert_eq!(
            Endpoint::parse("https://x/some/path"),
            Err(EndpointError::PathOrQuery("https://x/some/path".into()))
        );
        let err = Endpoint::parse("not a url").expect_err("no URL");
        assert!(err.to_string().starts_with(r#"invalid endpoint "not a url": "#), "{err}");
    }
}
