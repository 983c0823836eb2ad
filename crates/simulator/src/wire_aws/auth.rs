//! SigV4 verification (an implementation of its own, from AWS's published algorithm, so that it
//! checks the provider's `aws-sigv4` signer and boto3's alike) and STS
//! `AssumeRoleWithWebIdentity`.

use jiff::{SignedDuration, Timestamp};

use super::{Answer, Call, MAX_TEMPORARY_KEYS, TemporaryKey, Wire, WireError, element};
use crate::limits;
use eip_cloud::signing::{authorization_fields, encode, hmac_sha256, sha256_hex};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far `x-amz-date` may be from the simulator's clock.
const MAX_SKEW: SignedDuration = SignedDuration::from_mins(5);
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const KEY_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn auth_failure(message: &str) -> WireError {
    WireError::new("AuthFailure", message)
}

/// Checks the request's SigV4 signature; the region of its credential scope.
pub(super) fn authenticate(wire: &Wire, call: &Call) -> Result<String, WireError> {
    let Some(header) = call.header("authorization") else {
        return Err(WireError::new(
            "MissingAuthenticationToken",
            "The request must contain a signature (Authorization header).",
        ));
    };
    let fields = authorization_fields(header, ALGORITHM)
        .ok_or_else(|| WireError::new("IncompleteSignature", "The Authorization header is not AWS4-HMAC-SHA256 k=v, k=v."))?;
    let field = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let (Some(credential), Some(signed_headers), Some(signature)) = (field("Credential"), field("SignedHeaders"), field("Signature"))
    else {
        return Err(WireError::new(
            "IncompleteSignature",
            "Authorization needs Credential, SignedHeaders and Signature.",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(WireError::new(
            "IncompleteSignature",
            "Credential must be AKID/date/region/service/aws4_request.",
        ));
    };
    if *service != "ec2" {
        return Err(WireError::new(
            "SignatureDoesNotMatch",
            "Credential should be scoped to the service ec2.",
        ));
    }
    let amz_date = call
        .header("x-amz-date")
        .ok_or_else(|| WireError::new("IncompleteSignature", "x-amz-date is required."))?;
    let signed_at = jiff::fmt::strtime::parse("%Y%m%dT%H%M%SZ", amz_date)
        .ok()
        .and_then(|t| t.to_datetime().ok())
        .and_then(|t| t.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| WireError::new("IncompleteSignature", "x-amz-date is not yyyyMMddTHHmmssZ."))?;
    if !amz_date.starts_with(date) {
        return Err(WireError::new(
            "SignatureDoesNotMatch",
            "The credential scope's date is not the date of x-amz-date.",
        ));
    }
    if Timestamp::now().duration_since(signed_at).abs() > MAX_SKEW {
        return Err(WireError::new(
            "RequestExpired",
            "Request has expired (signed more than 5 minutes off).",
        ));
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    if !names.contains(&"host") || !names.contains(&"x-amz-date") {
        return Err(WireError::new(
            "SignatureDoesNotMatch",
            "SignedHeaders must include host and x-amz-date.",
        ));
    }
    let secret = secret_of(wire, call, access_key_id)?;
    let canonical = canonical_request(call, &names, signed_headers)?;
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical.as_bytes()));
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [*region, *service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let expected = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    if expected != signature {
        return Err(WireError::new(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    Ok((*region).to_owned())
}

/// The secret of `access_key_id`: a configured key, or a live temporary key whose session
/// token the request carries.
fn secret_of(wire: &Wire, call: &Call, access_key_id: &str) -> Result<String, WireError> {
    let config = wire.sim.config();
    if let Some(key) = config.auth.access_keys.iter().find(|k| k.id == access_key_id) {
        return Ok(key.secret.clone());
    }
    let state = wire.state();
    match state.temporary_keys.get(access_key_id) {
        Some(key) if key.expires_at < Timestamp::now() => Err(WireError::new(
            "ExpiredToken",
            "The security token included in the request is expired.",
        )),
        Some(key) if call.header("x-amz-security-token") == Some(key.session_token.as_str()) => Ok(key.secret.clone()),
        Some(_) => Err(auth_failure("The security token included in the request is invalid.")),
        None => Err(auth_failure("AWS was not able to validate the provided access credentials")),
    }
}

/// The canonical request of SigV4 for `call`, over the headers `names`.
fn canonical_request(call: &Call, names: &[&str], signed_headers: &str) -> Result<String, WireError> {
    let mut headers = String::new();
    for name in names {
        let values: Vec<String> = call
            .headers
            .get_all(*name)
            .iter()
            .map(|v| v.to_str().map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")))
            .collect::<Result<_, _>>()
            .map_err(|_| WireError::new("SignatureDoesNotMatch", "A signed header is not text."))?;
        if values.is_empty() {
            return Err(WireError::new(
                "SignatureDoesNotMatch",
                format!("Signed header {} is missing.", limits::truncate(name, 64)),
            ));
        }
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let mut query: Vec<(String, String)> = eip_alibaba::signing::parse_form(&call.query)
        .into_iter()
        .map(|(k, v)| (encode(&k), encode(&v)))
        .collect();
    query.sort();
    let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let path = call.path.split('/').map(encode).collect::<Vec<_>>().join("/");
    Ok(format!(
        "{}\n{path}\n{query}\n{headers}\n{signed_headers}\n{}",
        call.method.as_str(),
        sha256_hex(&call.body)
    ))
}

/// `AssumeRoleWithWebIdentity`: temporary keys for any role ARN and a JWT-shaped token (the
/// simulator does not check the token's issuer or signature), for `DurationSeconds` (900–43200,
/// default 3600).
pub(super) fn assume_role_with_web_identity(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    if call.get("Version") != Some(super::STS_VERSION) {
        return Err(WireError::invalid("Version", call.get("Version").unwrap_or_default()));
    }
    let role_arn = call.require("RoleArn")?;
    if !role_arn.starts_with("arn:aws:iam::") || role_arn.len() > 2048 {
        return Err(WireError::new("ValidationError", "RoleArn is not an IAM role ARN."));
    }
    let session_name = call.require("RoleSessionName")?;
    let token = call.require("WebIdentityToken")?;
    if token.split('.').count() != 3 || token.len() > 20_000 {
        return Err(WireError::new("InvalidIdentityToken", "The web identity token is not a JWT."));
    }
    let duration = match call.get("DurationSeconds") {
        None => 3600,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|s| (900..=43_200).contains(s))
            .ok_or_else(|| WireError::new("ValidationError", "DurationSeconds must be 900-43200."))?,
    };
    let access_key_id = format!("ASIA{}", wire.random_string(UPPER_ALNUM, 16));
    let secret = wire.random_string(KEY_CHARS, 40);
    let session_token = wire.random_string(KEY_CHARS, 356);
    let expires_at = Timestamp::now()
        .checked_add(SignedDuration::from_secs(duration))
        .unwrap_or(Timestamp::MAX);
    {
        let mut state = wire.state();
        let now = Timestamp::now();
        state.temporary_keys.retain(|_, key| key.expires_at > now);
        if state.temporary_keys.len() >= MAX_TEMPORARY_KEYS {
            return Err(WireError::new("Throttling", "Rate exceeded"));
        }
        state.temporary_keys.insert(
            access_key_id.clone(),
            TemporaryKey {
                secret: secret.clone(),
                session_token: session_token.clone(),
                expires_at,
            },
        );
    }
    let expiration = expires_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let inner = format!(
        "<AssumeRoleWithWebIdentityResult><Credentials>{}{}{}{}</Credentials><AssumedRoleUser>{}{}</AssumedRoleUser>{}</AssumeRoleWithWebIdentityResult>",
        element("AccessKeyId", &access_key_id),
        element("SecretAccessKey", &secret),
        element("SessionToken", &session_token),
        element("Expiration", &expiration),
        element("Arn", &format!("{role_arn}/{session_name}")),
        element(
            "AssumedRoleId",
            &format!("AROA{}:{session_name}", wire.random_string(UPPER_ALNUM, 17))
        ),
        element("SubjectFromWebIdentityToken", "system:serviceaccount:eip-operator:eip-operator"),
    );
    Ok(Answer {
        request_id: wire.request_id(),
        inner,
    })
}
