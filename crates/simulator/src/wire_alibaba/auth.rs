//! Request authentication (V3 `ACS3-HMAC-SHA256`, V1 `HMAC-SHA1`, nonces, timestamps) and STS
//! `AssumeRoleWithOIDC`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
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
    if temporary.expires_at <= Utc::now() {
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
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| {
            WireError::new(
                "InvalidTimeStamp.Format",
                format!("Specified time stamp {:?} is not valid.", limits::truncate(raw, 64)),
            )
        })?
        .with_timezone(&Utc);
    if (Utc::now() - at).abs() > MAX_SKEW {
        return Err(WireError::new(
            "InvalidTimeStamp.Expired",
            format!("Specified time stamp or date value is expired: {}.", limits::truncate(raw, 64)),
        ));
    }
    Ok(())
}

/// Records a nonce of a correctly signed request; a second use within the window is refused.
fn use_nonce(wire: &Wire, access_key_id: &str, nonce: &str) -> Result<(), WireError> {
    let now = Utc::now();
    let mut state = wire.state();
    if now - state.nonces_pruned > chrono::Duration::seconds(1) {
        state.nonces.retain(|_, at| now - *at <= MAX_SKEW);
        state.nonces_pruned = now;
    }
    let key = (access_key_id.to_owned(), nonce.to_owned());
    if state.nonces.contains_key(&key) {
        return Err(WireError::new("SignatureNonceUsed", "Specified signature nonce was used already."));
    }
    if state.nonces.len() >= MAX_NONCES {
        state.nonces.retain(|_, at| now - *at <= MAX_SKEW);
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
    let expires_at = Utc::now() + chrono::Duration::seconds(duration);
    {
        let now = Utc::now();
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
                "Expiration": expires_at.format(TIME_FORMAT).to_string(),
            },
        }),
    ))
}
