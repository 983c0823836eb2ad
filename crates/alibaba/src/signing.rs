//! Alibaba Cloud request signing, shared by the provider (signs) and the simulator (verifies).
//!
//! * **V1** (RPC, `HMAC-SHA1`): `StringToSign = METHOD & enc("/") & enc(canonicalQuery)`,
//!   `Signature = Base64(HMAC-SHA1(secret + "&", StringToSign))`.
//! * **V3** (`ACS3-HMAC-SHA256`): canonical request
//!   `METHOD\n/\ncanonicalQuery\ncanonicalHeaders\nsignedHeaders\nhex(SHA256(body))`,
//!   `StringToSign = "ACS3-HMAC-SHA256\n" + hex(SHA256(canonicalRequest))`,
//!   `Signature = hex(HMAC-SHA256(secret, StringToSign))`.
//!
//! Both use RFC 3986 percent-encoding (`A-Z a-z 0-9 - _ . ~` literal, everything else `%XY`).
//! The primitives (that encoding, SHA-256, HMAC-SHA256, the `Authorization` fields) are
//! [`eip_cloud::signing`]'s; HMAC-SHA1 and the schemes themselves are Alibaba's own.
//! The published test vectors and fixtures produced by the official SDKs are checked in the
//! tests below and in `tests/alibaba_signing.rs`.

use std::collections::BTreeMap;

use base64::Engine as _;
use eip_cloud::signing::{self as shared, authorization_fields, hmac_sha256};
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha1::Sha1;

/// Hex SHA-256 of `data` (the `x-acs-content-sha256` of a body).
pub use eip_cloud::signing::sha256_hex;

/// The V3 signature algorithm name.
pub const V3_ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// The V1 `SignatureMethod`.
pub const V1_METHOD: &str = "HMAC-SHA1";
/// The V1 `SignatureVersion`.
pub const V1_VERSION: &str = "1.0";

/// RFC 3986 percent-encoding of UTF-8 (space `%20`, `*` `%2A`, `~` literal):
/// [`eip_cloud::signing::encode`].
pub fn percent_encode(value: &str) -> String {
    shared::encode(value)
}

/// `enc(k)=enc(v)` pairs in the order given, joined with `&` (a query string or form body).
pub fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `enc(k)=enc(v)` pairs sorted by key, joined with `&`.
pub fn canonical_query(params: &BTreeMap<String, String>) -> String {
    encode_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Decodes `application/x-www-form-urlencoded` (and query strings): `+` is a space. Pairs keep
/// their order; a key without `=` has an empty value.
pub fn parse_form(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(k), decode_component(v))
        })
        .collect()
}

fn decode_component(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    match Hmac::<Sha1>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

// ----- V1 -----

/// `METHOD&%2F&enc(canonicalQuery)` over every parameter but `Signature`.
pub fn v1_string_to_sign(method: &str, params: &BTreeMap<String, String>) -> String {
    let mut signed = params.clone();
    signed.remove("Signature");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode("/"),
        percent_encode(&canonical_query(&signed))
    )
}

/// `Base64(HMAC-SHA1(secret + "&", stringToSign))`.
pub fn v1_signature(access_key_secret: &str, string_to_sign: &str) -> String {
    let key = format!("{access_key_secret}&");
    base64::engine::general_purpose::STANDARD.encode(hmac_sha1(key.as_bytes(), string_to_sign.as_bytes()))
}

// ----- V3 -----

/// The parts of a V3-signed request that the signature covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V3Request<'a> {
    pub method: &'a str,
    /// The path; `/` for the RPC APIs.
    pub path: &'a str,
    pub query: &'a BTreeMap<String, String>,
    /// Signed headers: lower-case name → values (several values are sorted and joined by `,`).
    pub headers: &'a BTreeMap<String, Vec<String>>,
    /// Hex SHA-256 of the body.
    pub payload_hash: &'a str,
}

/// What V3 signing produced, step by step (the fixtures compare each step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V3Signed {
    pub canonical_request: String,
    pub hashed_canonical_request: String,
    pub string_to_sign: String,
    pub signed_headers: String,
    pub signature: String,
}

impl V3Signed {
    pub fn authorization(&self, access_key_id: &str) -> String {
        format!(
            "{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={},Signature={}",
            self.signed_headers, self.signature
        )
    }
}

/// Canonical request and signed-header list of `request`.
pub fn v3_canonical_request(request: &V3Request<'_>) -> (String, String) {
    let mut canonical_headers = String::new();
    for (name, values) in request.headers {
        let mut values: Vec<&str> = values.iter().map(|v| v.trim()).collect();
        values.sort_unstable();
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }
    let signed_headers = request.headers.keys().cloned().collect::<Vec<_>>().join(";");
    let path = if request.path.is_empty() { "/" } else { request.path };
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        path,
        canonical_query(request.query),
        canonical_headers,
        signed_headers,
        request.payload_hash
    );
    (canonical, signed_headers)
}

/// Signs `request` with `access_key_secret`.
pub fn v3_sign(request: &V3Request<'_>, access_key_secret: &str) -> V3Signed {
    let (canonical_request, signed_headers) = v3_canonical_request(request);
    let hashed_canonical_request = sha256_hex(canonical_request.as_bytes());
    let string_to_sign = format!("{V3_ALGORITHM}\n{hashed_canonical_request}");
    let signature = hex::encode(hmac_sha256(access_key_secret.as_bytes(), string_to_sign.as_bytes()));
    V3Signed {
        canonical_request,
        hashed_canonical_request,
        string_to_sign,
        signed_headers,
        signature,
    }
}

/// The fields of an `Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V3Authorization {
    pub access_key_id: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Parses a V3 `Authorization` header; `None` when it is not one.
pub fn parse_v3_authorization(header: &str) -> Option<V3Authorization> {
    let mut access_key_id = None;
    let mut signed_headers = None;
    let mut signature = None;
    for (key, value) in authorization_fields(header, V3_ALGORITHM)? {
        match key {
            "Credential" => access_key_id = Some(value.to_owned()),
            "SignedHeaders" => signed_headers = Some(value.split(';').filter(|h| !h.is_empty()).map(str::to_ascii_lowercase).collect()),
            "Signature" => signature = Some(value.to_owned()),
            _ => {}
        }
    }
    Some(V3Authorization {
        access_key_id: access_key_id?,
        signed_headers: signed_headers?,
        signature: signature?,
    })
}

/// Byte-wise comparison that does not stop at the first difference.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// The published V1 vector (Alibaba's RPC signature documentation).
    #[test]
    fn v1_published_vector() {
        let params = map(&[
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]);
        let sts = v1_string_to_sign("GET", &params);
        assert_eq!(
            sts,
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
        );
        assert_eq!(v1_signature("testsecret", &sts), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
    }

    /// The published V3 vector (Alibaba's V3 signature documentation).
    #[test]
    fn v3_published_vector() {
        let query = map(&[
            ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"),
            ("RegionId", "cn-shanghai"),
        ]);
        let payload = sha256_hex(b"");
        let headers: BTreeMap<String, Vec<String>> = [
            ("host", "ecs.cn-shanghai.aliyuncs.com"),
            ("x-acs-action", "RunInstances"),
            ("x-acs-content-sha256", payload.as_str()),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("x-acs-version", "2014-05-26"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()]))
        .collect();
        let signed = v3_sign(
            &V3Request {
                method: "POST",
                path: "/",
                query: &query,
                headers: &headers,
                payload_hash: &payload,
            },
            "YourAccessKeySecret",
        );
        assert_eq!(
            signed.hashed_canonical_request,
            "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
        );
        assert_eq!(signed.signature, "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
        assert_eq!(
            signed.authorization("YourAccessKeyId"),
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
        let parsed = parse_v3_authorization(&signed.authorization("YourAccessKeyId")).expect("parses");
        assert_eq!(parsed.access_key_id, "YourAccessKeyId");
        assert_eq!(parsed.signed_headers.len(), 6);
        assert_eq!(parsed.signature, signed.signature);
    }

    #[test]
    fn percent_encoding_is_rfc3986() {
        assert_eq!(percent_encode("a b*c~d/e+f=g&h"), "a%20b%2Ac~d%2Fe%2Bf%3Dg%26h");
        assert_eq!(percent_encode("ünï"), "%C3%BCn%C3%AF");
        assert_eq!(
            parse_form("a=b+c&d=%2B&e&f=%E4%B8%AD"),
            vec![
                ("a".to_owned(), "b c".to_owned()),
                ("d".to_owned(), "+".to_owned()),
                ("e".to_owned(), String::new()),
                ("f".to_owned(), "中".to_owned()),
            ]
        );
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(parse_v3_authorization("HMAC-SHA1 foo").is_none());
    }
}
