//! Request authentication (V3 `ACS3-HMAC-SHA256`, V1 `HMAC-SHA1`, nonces, timestamps) and STS
//! `AssumeRoleWithOIDC`.

use std::collections::BTreeMap;

use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use serde_json::json;

use super::{
    Answer, Call, MAX_NONCE_LEN, MAX_NONCES, MAX_SKEW, MAX_TEMPORARY_KEYS, STS_VERSION, TIME_FORMAT, TemporaryKey, Wire, WireError,
};
use crate::limits;
use eip_alibaba::signing::{self, V3Request};

/// The secret of `access_key_id`, checking the security token of temporary keys.
fn secret_for(wire: &Wire, access_key_id: &str, security_token: Option<&str>) -> Result<String, WireError> {
    if let Some(key) = wire.sim.config().auth.access_keys.iter().find(|k| k.id == access_key_id) {
        return Ok(key.secret.clone());
    }
    let state = wire.state();
    let Some(temporary) = state.temporary_keys.get(access_key_id) else {
        return Err(WireError::new("InvalidAccessKeyId.NotFound", "Specified access key is not found."));
    };
    if temporary.expires_at <= Timestamp::now() {
        return Err(WireError::new(
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
        ));
    }
    match security_token {
        Some(token) if signing::constant_time_eq(token, &temporary.security_token) => Ok(temporary.secret.clone()),
        Some(_) => Err(WireError::new(
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Specified SecurityToken mismatch with the AccessKey.",
        )),
        None => Err(WireError::new(
            "InvalidSecurityToken.Missing",
            "A temporary access key needs its SecurityToken.",
        )),
    }
}

/// A nonce the simulator keeps (at most [`MAX_NONCE_LEN`] bytes).
fn check_nonce(name: &str, nonce: &str) -> Result<(), WireError> {
    if nonce.len() > MAX_NONCE_LEN {
        return Err(WireError::too_long(name, MAX_NONCE_LEN));
    }
    Ok(())
}

fn check_timestamp(raw: &str) -> Result<(), WireError> {
    let at = parse_rfc3339(raw).ok_or_else(|| {
        WireError::new(
            "InvalidTimeStamp.Format",
            format!("Specified time stamp {:?} is not valid.", limits::truncate(raw, 64)),
        )
    })?;
    if Timestamp::now().duration_since(at).abs() > MAX_SKEW {
        return Err(WireError::new(
            "InvalidTimeStamp.Expired",
            format!("Specified time stamp or date value is expired: {}.", limits::truncate(raw, 64)),
        ));
    }
    Ok(())
}

/// An RFC 3339 date-time, read as strictly as the cloud reads one:
/// `YYYY-MM-DDTHH:MM:SS[.digits](Z|±HH:MM)`, where `T` may also be `t` or a space and `Z` `z`.
/// Digits past nanoseconds are ignored, a leap second reads as `:59`, and an instant beyond
/// the representable range as the nearest end of it.
fn parse_rfc3339(raw: &str) -> Option<Timestamp> {
    const SHAPE: &[u8; 19] = b"0000-00-00T00:00:00";
    let bytes = raw.as_bytes();
    let (head, mut rest) = (bytes.get(..19)?, bytes.get(19..)?);
    let shaped = SHAPE.iter().zip(head).all(|(want, got)| match want {
        b'0' => got.is_ascii_digit(),
        b'T' => matches!(got, b'T' | b't' | b' '),
        _ => want == got,
    });
    let mut digits = 0;
    if let [b'.', fraction @ ..] = rest {
        digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (hours, minutes) = (two_digits(*h1, *h2)?, two_digits(*m1, *m2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    if !shaped {
        return None;
    }
    // The shape is ASCII, so these are character boundaries.
    let fraction = if digits == 0 { "" } else { raw.get(19..20 + digits.min(9))? };
    let civil: jiff::civil::DateTime = format!("{}T{}{fraction}", raw.get(..10)?, raw.get(11..19)?).parse().ok()?;
    let beyond = if civil.year() < 1970 { Timestamp::MIN } else { Timestamp::MAX };
    Some(Offset::from_seconds(offset).ok()?.to_timestamp(civil).unwrap_or(beyond))
}

/// The value of two ASCII digits.
fn two_digits(tens: u8, ones: u8) -> Option<i32> {
    (tens.is_ascii_digit() && ones.is_ascii_digit()).then(|| i32::from(tens - b'0') * 10 + i32::from(ones - b'0'))
}

/// Records a nonce of a correctly signed request; a second use within the window is refused.
fn use_nonce(wire: &Wire, access_key_id: &str, nonce: &str) -> Result<(), WireError> {
    let now = Timestamp::now();
    let mut state = wire.state();
    if now.duration_since(state.nonces_pruned) > SignedDuration::from_secs(1) {
        state.nonces.retain(|_, at| now.duration_since(*at) <= MAX_SKEW);
        state.nonces_pruned = now;
    }
    let key = (access_key_id.to_owned(), nonce.to_owned());
    if state.nonces.contains_key(&key) {
        return Err(WireError::new("SignatureNonceUsed", "Specified signature nonce was used already."));
    }
    if state.nonces.len() >= MAX_NONCES {
        state.nonces.retain(|_, at| now.duration_since(*at) <= MAX_SKEW);
        if state.nonces.len() >= MAX_NONCES {
            return Err(WireError::new(
                "Throttling.User",
                "Request was denied due to user flow control: too many signed requests in 15 minutes.",
            ));
        }
    }
    state.nonces.insert(key, now);
    Ok(())
}

pub(super) fn authenticate(wire: &Wire, call: &Call) -> Result<(), WireError> {
    if let Some(authorization) = call.header("authorization") {
        return authenticate_v3(wire, call, authorization);
    }
    if call.params.contains_key("Signature") {
        return authenticate_v1(wire, call);
    }
    Err(WireError::new(
        "IncompleteSignature",
        "The request is not signed: no Authorization header and no Signature parameter.",
    ))
}

fn authenticate_v3(wire: &Wire, call: &Call, authorization: &str) -> Result<(), WireError> {
    let auth = signing::parse_v3_authorization(authorization).ok_or_else(|| {
        WireError::new(
            "IncompleteSignature",
            "The Authorization header is not ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=….",
        )
    })?;
    for required in ["x-acs-date", "x-acs-signature-nonce"] {
        if !auth.signed_headers.iter().any(|h| h == required) {
            return Err(WireError::new(
                "IncompleteSignature",
                format!("The header {required} must be signed."),
            ));
        }
    }
    let secret = secret_for(wire, &auth.access_key_id, call.header("x-acs-security-token"))?;
    let date = call.header("x-acs-date").ok_or_else(|| WireError::missing("x-acs-date"))?;
    check_timestamp(date)?;
    let nonce = call
        .header("x-acs-signature-nonce")
        .ok_or_else(|| WireError::missing("x-acs-signature-nonce"))?;
    check_nonce("x-acs-signature-nonce", nonce)?;
    let payload_hash = signing::sha256_hex(&call.body);
    if let Some(claimed) = call.header("x-acs-content-sha256")
        && !claimed.eq_ignore_ascii_case(&payload_hash)
    {
        return Err(WireError::new(
            "SignatureDoesNotMatch",
            "The x-acs-content-sha256 header does not match the request body.",
        ));
    }
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in &auth.signed_headers {
        let values: Vec<String> = call
            .headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        if values.is_empty() {
            return Err(WireError::new(
                "SignatureDoesNotMatch",
                format!("The signed header {name} is not in the request."),
            ));
        }
        headers.insert(name.clone(), values);
    }
    let signed = signing::v3_sign(
        &V3Request {
            method: call.method.as_str(),
            path: "/",
            query: &call.query,
            headers: &headers,
            payload_hash: &payload_hash,
        },
        &secret,
    );
    if !signing::constant_time_eq(&signed.signature, &auth.signature) {
        return Err(WireError::new(
            "SignatureDoesNotMatch",
            format!(
                "The request signature does not conform to Aliyun standards. server string to sign is:{}",
                signed.string_to_sign
            ),
        ));
    }
    use_nonce(wire, &auth.access_key_id, nonce)
}

fn authenticate_v1(wire: &Wire, call: &Call) -> Result<(), WireError> {
    let access_key_id = call.require("AccessKeyId")?;
    match call.get("SignatureMethod") {
        Some(signing::V1_METHOD) => {}
        Some(other) => {
            return Err(WireError::new(
                "InvalidParameter.SignatureMethod",
                format!("SignatureMethod {:?} is not supported; use HMAC-SHA1.", limits::truncate(other, 64)),
            ));
        }
        None => return Err(WireError::missing("SignatureMethod")),
    }
    let secret = secret_for(wire, access_key_id, call.get("SecurityToken"))?;
    check_timestamp(call.require("Timestamp")?)?;
    let nonce = call.require("SignatureNonce")?;
    check_nonce("SignatureNonce", nonce)?;
    let string_to_sign = signing::v1_string_to_sign(call.method.as_str(), &call.params);
    let expected = signing::v1_signature(&secret, &string_to_sign);
    let given = call.params.get("Signature").map(String::as_str).unwrap_or("");
    if !signing::constant_time_eq(&expected, given) {
        return Err(WireError::new(
            "SignatureDoesNotMatch",
            format!("Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"),
        ));
    }
    use_nonce(wire, access_key_id, nonce)
}

// ----- STS -----

pub(super) fn assume_role_with_oidc(wire: &Wire, call: &Call) -> Result<Answer, WireError> {
    if let Some(version) = call.get("Version")
        && version != STS_VERSION
    {
        return Err(WireError::new(
            "InvalidVersion",
            format!("Specified parameter Version {:?} is not valid.", limits::truncate(version, 64)),
        ));
    }
    let role_arn = call.require("RoleArn")?.to_owned();
    call.require("OIDCProviderArn")?;
    call.require("OIDCToken")?;
    let session = call.get("RoleSessionName").unwrap_or("session").to_owned();
    let duration: i64 = match call.get("DurationSeconds") {
        None => 3600,
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|d| (900..=43_200).contains(d))
            .ok_or_else(|| WireError::invalid("DurationSeconds", raw))?,
    };
    let access_key_id = format!("STS.NSim{}", wire.random_string(20));
    let secret = wire.random_string(40);
    let security_token = format!("CAISsim{}", wire.random_string(80));
    let expires_at = super::later(Timestamp::now(), SignedDuration::from_secs(duration));
    {
        let now = Timestamp::now();
        let mut state = wire.state();
        state.temporary_keys.retain(|_, key| key.expires_at > now);
        if state.temporary_keys.len() >= MAX_TEMPORARY_KEYS {
            return Err(WireError::new(
                "Throttling.User",
                format!("Request was denied due to user flow control: {MAX_TEMPORARY_KEYS} temporary keys are live."),
            ));
        }
        state.temporary_keys.insert(
            access_key_id.clone(),
            TemporaryKey {
                secret: secret.clone(),
                security_token: security_token.clone(),
                expires_at,
            },
        );
    }
    let role_id = format!("3{:017}", wire.state().rng.random_range(0..100_000_000_000_000_000u64));
    Ok(Answer::new(
        wire.request_id(),
        json!({
            "AssumedRoleUser": {
                "AssumedRoleId": format!("{role_id}:{session}"),
                "Arn": format!("{role_arn}/{session}"),
            },
            "OIDCTokenInfo": {"Subject": "system:serviceaccount:sim:sim", "Issuer": "https://oidc.sim.local", "ClientIds": "sts.aliyuncs.com"},
            "Credentials": {
                "AccessKeyId": access_key_id,
                "AccessKeySecret": secret,
                "SecurityToken": security_token,
                "Expiration": expires_at.strftime(TIME_FORMAT).to_string(),
            },
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;

    #[test]
    fn timestamps_are_read_as_strict_rfc_3339() {
        let noon = |raw: &str| parse_rfc3339(raw).map(|at| at.as_second());
        for accepted in [
            "2024-06-01T12:00:00Z",
            "2024-06-01t12:00:00z",
            "2024-06-01 12:00:00Z",
            "2024-06-01T12:00:00.123Z",
            "2024-06-01T12:00:00.1234567891234Z",
            "2024-06-01T17:30:00+05:30",
            "2024-06-01T11:59:00-00:01",
        ] {
            assert_eq!(noon(accepted), Some(1_717_243_200), "{accepted}");
        }
        for refused in [
            "2024-06-01T12:00:00",
            "2024-06-01T12:00Z",
            "20240601T120000Z",
            "2024-06-01T12:00:00+0530",
            "2024-06-01T12:00:00+24:00",
            "2024-06-01T12:00:00+05:60",
            "2024-06-01T12:00:00.Z",
            "2024-06-01T12:00:00Z[UTC]",
            "2024-06-01T12:00:00Z ",
            "2024-02-30T12:00:00Z",
            "2024-06-01T24:00:00Z",
            "+002024-06-01T12:00:00Z",
            "",
        ] {
            assert_eq!(noon(refused), None, "{refused}");
        }
        // Beyond the representable range: the nearest end of it (expired, not malformed).
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59Z"), Some(jiff::Timestamp::MAX));
    }
}
