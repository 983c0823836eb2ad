//! AK/SK request signing (`SDK-HMAC-SHA256`), byte for byte as the official Huawei Cloud SDK
//! signer (`huaweicloudsdkcore.signer.Signer`), also used by Open Telekom Cloud.
//!
//! - Every header given is signed except names containing `_`; names are lower-cased and
//!   sorted, values trimmed. The caller includes `Host` and `X-Sdk-Date`.
//! - Canonical URI: the path percent-decoded, split on `/`, each segment encoded (RFC 3986
//!   unreserved characters stay), always ending in `/`.
//! - Canonical query: `(key, value)` pairs sorted, both encoded the same way, joined with `&`.
//! - Payload: hex SHA-256 of the body; the empty hash for no body; the `X-Sdk-Content-Sha256`
//!   header's value (`UNSIGNED-PAYLOAD`) when present.
//! - `StringToSign = "SDK-HMAC-SHA256\n" + X-Sdk-Date + "\n" + hex(SHA256(canonical request))`,
//!   signature `hex(HMAC-SHA256(SK, StringToSign))`.

use eip_cloud::signing::{authorization_fields, hmac_sha256, sha256_hex};
use percent_encoding::percent_decode_str;

/// Python's `quote(s, safe='~')`, the SDK's encoding: everything but `A-Za-z0-9_.-~` is
/// percent-encoded ([`eip_cloud::signing::RFC3986`]).
pub use eip_cloud::signing::encode;

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
pub const HEADER_DATE: &str = "X-Sdk-Date";
pub const HEADER_CONTENT_SHA256: &str = "X-Sdk-Content-Sha256";
/// `X-Sdk-Date` format (UTC).
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";
const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The `X-Sdk-Date` value of `at` ([`DATE_FORMAT`], UTC).
pub fn sdk_date(at: jiff::Timestamp) -> String {
    at.strftime(DATE_FORMAT).to_string()
}

/// One request as the signer sees it.
#[derive(Clone, Debug)]
pub struct SignInput<'a> {
    pub method: &'a str,
    /// The URL path as sent (may be percent-encoded).
    pub path: &'a str,
    /// Decoded query pairs, in any order.
    pub query: &'a [(String, String)],
    /// The headers to sign, as sent (including `Host` and `X-Sdk-Date`).
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// The intermediate values of one signature (kept for tests and fixtures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub signed_headers: String,
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

pub fn canonical_uri(path: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let mut uri = decoded.split('/').map(encode).collect::<Vec<_>>().join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The canonical query string; also what the SDK sends as the URL's query.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Signed header names of `headers`: lower-cased, sorted, without names containing `_`.
pub fn signed_header_names(headers: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .filter(|(k, _)| !k.contains('_'))
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The canonical request over `signed` (lower-case names).
pub fn canonical_request(input: &SignInput<'_>, signed: &[String]) -> String {
    let mut canonical_headers = String::new();
    for name in signed {
        let value = header(input.headers, name).unwrap_or("").trim();
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(value);
        canonical_headers.push('\n');
    }
    let payload = if input.body.is_empty() {
        EMPTY_HASH.to_owned()
    } else if let Some(declared) = header(input.headers, HEADER_CONTENT_SHA256) {
        declared.to_owned()
    } else {
        sha256_hex(input.body)
    };
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        input.method.to_ascii_uppercase(),
        canonical_uri(input.path),
        canonical_query(input.query),
        canonical_headers,
        signed.join(";"),
        payload
    )
}

pub fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{sdk_date}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// Hex HMAC-SHA256 of `data` under `secret`.
pub fn hmac_hex(secret: &str, data: &str) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), data.as_bytes()))
}

/// Signs `input` with the access key pair. `input.headers` must hold `X-Sdk-Date`.
pub fn sign(access_key: &str, secret_key: &str, input: &SignInput<'_>) -> Signature {
    let signed = signed_header_names(input.headers);
    let sdk_date = header(input.headers, HEADER_DATE).unwrap_or("").trim().to_owned();
    let canonical_request = canonical_request(input, &signed);
    let string_to_sign = string_to_sign(&sdk_date, &canonical_request);
    let signature = hmac_hex(secret_key, &string_to_sign);
    let signed_headers = signed.join(";");
    let authorization = format!("{ALGORITHM} Access={access_key}, SignedHeaders={signed_headers}, Signature={signature}");
    Signature {
        signed_headers,
        canonical_request,
        string_to_sign,
        signature,
        authorization,
    }
}

/// The parts of an `Authorization: SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationHeader {
    pub access_key: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

pub fn parse_authorization(value: &str) -> Option<AuthorizationHeader> {
    let (mut access_key, mut signed_headers, mut signature) = (None, None, None);
    for (key, val) in authorization_fields(value, ALGORITHM)? {
        match key {
            "Access" => access_key = Some(val.to_owned()),
            "SignedHeaders" => signed_headers = Some(val.split(';').map(str::to_owned).collect::<Vec<_>>()),
            "Signature" => signature = Some(val.to_owned()),
            _ => {}
        }
    }
    Some(AuthorizationHeader {
        access_key: access_key?,
        signed_headers: signed_headers?,
        signature: signature?,
    })
}

/// Recomputes the signature of a received request over the headers it says it signed.
pub fn expected_signature(secret_key: &str, auth: &AuthorizationHeader, input: &SignInput<'_>) -> String {
    let sdk_date = header(input.headers, HEADER_DATE).unwrap_or("").trim().to_owned();
    let canonical_request = canonical_request(input, &auth.signed_headers);
    hmac_hex(secret_key, &string_to_sign(&sdk_date, &canonical_request))
}

/// Constant-time comparison of two hex signatures.
pub fn same_signature(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// The published test vector (reference: otc-huawei-eip-api.md).
    #[test]
    fn reproduces_the_published_vector() {
        let query = pairs(&[("marker", "13551d6b-755d-4757-b956-536f674975c0"), ("limit", "2")]);
        let headers = pairs(&[
            ("Content-Type", "application/json"),
            ("X-Sdk-Date", "20191115T033655Z"),
            ("Host", "service.region.example.com"),
        ]);
        let input = SignInput {
            method: "GET",
            path: "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
            query: &query,
            headers: &headers,
            body: b"",
        };
        let signed = sign("QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", &input);
        assert_eq!(signed.signed_headers, "content-type;host;x-sdk-date");
        assert_eq!(
            sha256_hex(signed.canonical_request.as_bytes()),
            "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
        );
        assert_eq!(signed.signature, "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe");
        assert_eq!(
            signed.authorization,
            "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, \
             Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
        );
        assert_eq!(
            signed.canonical_request,
            "GET\n/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\nlimit=2&marker=13551d6b-755d-4757-b956-536f674975c0\n\
             content-type:application/json\nhost:service.region.example.com\nx-sdk-date:20191115T033655Z\n\n\
             content-type;host;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );

        let parsed = parse_authorization(&signed.authorization).expect("parses");
        assert_eq!(parsed.access_key, "QTWAOYTTINDUT2QVKYUC");
        assert!(same_signature(
            &expected_signature("MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", &parsed, &input),
            &signed.signature
        ));
        assert!(!same_signature(&expected_signature("wrong", &parsed, &input), &signed.signature));
    }

    #[test]
    fn the_sdk_date_is_utc_to_the_second() {
        let at: jiff::Timestamp = "2019-11-15T03:36:55.999+08:00".parse().expect("a timestamp");
        assert_eq!(sdk_date(at), "20191114T193655Z");
    }

    #[test]
    fn encoding_rules() {
        assert_eq!(canonical_uri("/v1/a b/c%2Fd"), "/v1/a%20b/c/d/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/v1/x/"), "/v1/x/");
        assert_eq!(encode("a~b-c_d.e f+g/h*"), "a~b-c_d.e%20f%2Bg%2Fh%2A");
        let query = pairs(&[("id", "b"), ("id", "a"), ("bandwidth.name", "x y")]);
        assert_eq!(canonical_query(&query), "bandwidth.name=x%20y&id=a&id=b");
        let headers = pairs(&[("X-Project-Id", "p"), ("some_header", "x"), ("Host", "h")]);
        assert_eq!(signed_header_names(&headers), vec!["host", "x-project-id"]);
    }
}
