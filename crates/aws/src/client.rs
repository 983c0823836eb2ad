//! The Query API transport: a form-encoded `POST` (`Action`, `Version`, the parameters), signed
//! with SigV4 ([`signing`]), sent through the provider's [`Wire`] (no redirects, a bounded body,
//! every request shown to its observer) and read as XML ([`records`]). Every error passes
//! through a [`Redactor`] of the credentials in use and the signature. Nothing here logs
//! parameters or credentials.

use std::time::SystemTime;

use eip_cloud::http::{self, Wire, invalid_response};
use eip_cloud::redact::Redactor;
use eip_cloud::signing::encode;
use eip_cloud::{Blocker, CloudError, Operation};

use crate::errors;
use crate::records;
use crate::signing::{self, Credentials, Unsigned};

/// EC2 API version of every address call.
pub const EC2_VERSION: &str = "2016-11-15";
/// STS API version of `AssumeRoleWithWebIdentity`.
pub const STS_VERSION: &str = "2011-06-15";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Where calls go: an http(s) URL, possibly with a path (a proxy or the simulator's `/aws/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL requests are posted to, its path ending in `/`.
    pub url: reqwest::Url,
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
    #[error("endpoint {0:?} must not have a query, a fragment or user info")]
    Extra(String),
}

impl Endpoint {
    /// Parses `https://host[:port][/path]` (or `http://` for local endpoints).
    pub fn parse(raw: &str) -> Result<Self, EndpointError> {
        let mut url = reqwest::Url::parse(raw.trim()).map_err(|e| EndpointError::NotAUrl {
            raw: raw.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EndpointError::Scheme(raw.to_owned()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(EndpointError::NoHost(raw.to_owned()));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(EndpointError::Extra(raw.to_owned()));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(Endpoint { url })
    }

    /// The EC2 endpoint of `region` (`ec2.<region>.amazonaws.com`, `.amazonaws.com.cn` in China).
    pub fn ec2_for_region(region: &str) -> Result<Self, EndpointError> {
        Endpoint::parse(&format!("https://ec2.{region}.{}", dns_suffix(region)))
    }

    /// The regional STS endpoint of `region`.
    pub fn sts_for_region(region: &str) -> Result<Self, EndpointError> {
        Endpoint::parse(&format!("https://sts.{region}.{}", dns_suffix(region)))
    }
}

fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// A success answer: its XML body (which carries its own request ID).
#[derive(Clone, Debug)]
pub struct Reply {
    pub body: String,
}

/// Signs and sends Query API calls of one service to one endpoint.
#[derive(Clone, Debug)]
pub struct QueryClient {
    wire: Wire,
    endpoint: Endpoint,
    region: String,
    service: &'static str,
    version: &'static str,
}

impl QueryClient {
    /// A client of `service` (`ec2`, `sts`) at `endpoint`, signing for `region`.
    pub fn new(wire: Wire, endpoint: Endpoint, region: &str, service: &'static str, version: &'static str) -> Self {
        QueryClient {
            wire,
            endpoint,
            region: region.to_owned(),
            service,
            version,
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The form body of `action` with `params`.
    pub fn form(&self, action: &str, params: &[(String, String)]) -> String {
        let mut body = format!("Action={}&Version={}", encode(action), encode(self.version));
        for (key, value) in params {
            body.push('&');
            body.push_str(&encode(key));
            body.push('=');
            body.push_str(&encode(value));
        }
        body
    }

    /// Calls `action`: signed with `credentials`, or unsigned when `None` (STS
    /// `AssumeRoleWithWebIdentity`, authenticated by its token). A success answer, or a
    /// classified error without the credentials in it.
    pub async fn call(
        &self,
        operation: Operation,
        action: &str,
        params: &[(String, String)],
        credentials: Option<&Credentials>,
    ) -> Result<Reply, CloudError> {
        let mut redactor = Redactor::new(
            credentials
                .into_iter()
                .flat_map(|c| std::iter::once(c.secret_access_key.clone()).chain(c.session_token.clone())),
        );
        let result = self.send(operation, action, params, credentials, &mut redactor).await;
        let result = result.map_err(|e| redactor.error(e));
        if let Err(err) = &result {
            tracing::debug!(action, code = %err.code, request_id = err.request_id.as_deref(), "aws call failed");
        }
        result
    }

    async fn send(
        &self,
        operation: Operation,
        action: &str,
        params: &[(String, String)],
        credentials: Option<&Credentials>,
        redactor: &mut Redactor,
    ) -> Result<Reply, CloudError> {
        let body = self.form(action, params);
        let mut request = self
            .wire
            .client()
            .post(self.endpoint.url.clone())
            .header(reqwest::header::CONTENT_TYPE, FORM);
        if let Some(credentials) = credentials {
            let unsigned = Unsigned {
                method: "POST",
                url: self.endpoint.url.as_str(),
                headers: &[("content-type", FORM)],
                body: body.as_bytes(),
                region: &self.region,
                service: self.service,
                time: SystemTime::now(),
            };
            let signed = signing::sign_headers(&unsigned, credentials)
                .map_err(|e| CloudError::terminal(operation, Blocker::InvalidCredentials, "InvalidCredentials", e.to_string()))?;
            for (name, value) in signed {
                if let Some(signature) = signing::signature_of(&value) {
                    // A server echoing the request must not show the signature either.
                    redactor.extend([signature.to_owned()]);
                }
                let mut header = reqwest::header::HeaderValue::from_str(&value).map_err(|_| {
                    CloudError::terminal(
                        operation,
                        Blocker::InvalidCredentials,
                        "InvalidCredentials",
                        format!("the credentials cannot be sent in the {name} header"),
                    )
                })?;
                header.set_sensitive(true);
                request = request.header(name.as_str(), header);
            }
        }
        tracing::debug!(action, endpoint = %self.endpoint.url.host_str().unwrap_or_default(), "aws call");
        let answer = self.wire.send(operation, request.body(body)).await?;
        let request_id = answer.request_id(&["x-amzn-requestid", "x-amz-request-id"]);
        let Ok(text) = String::from_utf8(answer.body.clone()) else {
            return Err(http::enforce_status(
                answer.status,
                invalid_response(operation, "the answer is not UTF-8"),
                answer.retry_after(),
            ));
        };
        if answer.is_success() {
            return Ok(Reply { body: text });
        }
        match records::error_answer(&text) {
            Some(error) => Err(errors::cloud_error(
                operation,
                answer.status,
                &error.code,
                &error.message,
                error.request_id.or(request_id),
                answer.retry_after(),
            )),
            None => {
                let err = invalid_response(operation, format!("HTTP {} without an EC2 error body", answer.status));
                let err = match request_id {
                    Some(id) => err.with_request_id(id),
                    None => err,
                };
                Err(http::enforce_status(answer.status, err, answer.retry_after()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let local = Endpoint::parse("http://127.0.0.1:8080").expect("parses");
        assert_eq!(local.url.as_str(), "http://127.0.0.1:8080/");
        let nested = Endpoint::parse("http://127.0.0.1:8080/aws").expect("parses");
        assert_eq!(nested.url.as_str(), "http://127.0.0.1:8080/aws/");
        assert_eq!(
            Endpoint::ec2_for_region("eu-west-1").expect("parses").url.as_str(),
            "https://ec2.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            Endpoint::sts_for_region("cn-north-1").expect("parses").url.as_str(),
            "https://sts.cn-north-1.amazonaws.com.cn/"
        );
        assert_eq!(Endpoint::parse("ftp://x"), Err(EndpointError::Scheme("ftp://x".into())));
        assert_eq!(
            Endpoint::parse("https://x/?a=b"),
            Err(EndpointError::Extra("https://x/?a=b".into()))
        );
        assert!(matches!(Endpoint::parse("nope"), Err(EndpointError::NotAUrl { .. })));
    }

    #[test]
    fn forms_are_encoded() {
        let wire = Wire::new("aws").expect("client");
        let client = QueryClient::new(wire, Endpoint::parse("http://h").expect("url"), "us-east-1", "ec2", EC2_VERSION);
        let form = client.form("CreateTags", &[("Tag.1.Key".into(), "eip-operator.dev/owner uid".into())]);
        assert_eq!(
            form,
            "Action=CreateTags&Version=2016-11-15&Tag.1.Key=eip-operator.dev%2Fowner%20uid"
        );
    }
}
