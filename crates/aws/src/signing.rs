//! AWS Signature Version 4, through the `aws-sigv4` crate.
//!
//! Why that crate: it is the signer of the official AWS SDK for Rust, published on its own and
//! small (it needs `aws-credential-types` and `aws-smithy-runtime-api` for its identity type, but
//! none of the SDK's runtime, HTTP stack or generated service code). `aws-sdk-ec2` would bring
//! its own HTTP client and retry loop, which would bypass [`eip_cloud::http::Wire`] (no
//! redirects, bounded answers, the wire observer) and the one error classification of
//! [`crate::errors`]; a hand-written signer would be one more thing to keep right.
//!
//! What is signed is exactly what is sent: the method, the URL, every header handed in (the
//! crate adds `host`, `x-amz-date` and, for temporary keys, `x-amz-security-token`) and the
//! body. `crates/aws/tests/aws_signing.rs` checks the result against fixtures that botocore
//! (the official Python SDK's core) computed for the same inputs.

use std::fmt;
use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// An access key pair and, for temporary keys, the session token. `Debug` shows only the ID.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// One request to sign.
#[derive(Clone, Copy, Debug)]
pub struct Unsigned<'a> {
    pub method: &'a str,
    /// The full URL, already percent-encoded as sent.
    pub url: &'a str,
    /// Headers sent and signed (besides the ones the signer adds).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    pub region: &'a str,
    /// The signing name of the service (`ec2`, `sts`).
    pub service: &'a str,
    pub time: SystemTime,
}

/// The signer refused the request (a URL or header it cannot parse).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot sign the request: {0}")]
pub struct SignError(String);

/// The headers to add to `request`: `authorization`, `x-amz-date` and, with a session token,
/// `x-amz-security-token` (lower-case names, as the crate gives them).
pub fn sign_headers(request: &Unsigned<'_>, credentials: &Credentials) -> Result<Vec<(String, String)>, SignError> {
    let identity: Identity = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.clone(),
        credentials.session_token.clone(),
        None,
        "eip-operator",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(request.region)
        .name(request.service)
        .time(request.time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        request.method,
        request.url,
        request.headers.iter().copied(),
        SignableBody::Bytes(request.body),
    )
    .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| SignError(e.to_string()))?.into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

/// The `Signature=` part of an `Authorization` header, if it has one.
pub fn signature_of(authorization: &str) -> Option<&str> {
    authorization
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("Signature="))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of AWS's SigV4 documentation ("GET https://iam.amazonaws.com/?Action=ListUsers").
    #[test]
    fn the_documented_example_signs_as_documented() {
        let credentials = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        let headers = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        let signed = sign_headers(
            &Unsigned {
                method: "GET",
                url: "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
                headers: &headers,
                body: b"",
                region: "us-east-1",
                service: "iam",
                time,
            },
            &credentials,
        )
        .expect("signs");
        let authorization = signed
            .iter()
            .find(|(name, _)| name == "authorization")
            .map(|(_, value)| value.as_str())
            .expect("authorization");
        assert_eq!(
            signature_of(authorization),
            Some("5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
        );
        assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request"));
        assert!(!format!("{credentials:?}").contains("EXAMPLEKEY"));
    }
}
