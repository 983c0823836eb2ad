//! The oracles of the property tests: an independent reading of the API documentation, on
//! `serde_json::Value`, of what a well-formed answer is.

use eip_cloud::http::{INVALID_RESPONSE, MAX_RETRY_AFTER};
use eip_cloud::{CloudError, ErrorClass};
use serde_json::{Map, Value};

/// Top-level fields that make a 2xx an error answer.
pub const ERROR_KEYS: &[&str] = &["error_code", "error_msg", "errorCode", "code", "error", "NeutronError"];

pub fn object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

pub fn no_error_field(map: &Map<String, Value>) -> bool {
    ERROR_KEYS.iter().all(|key| map.get(*key).is_none_or(Value::is_null))
}

pub fn good_id(value: Option<&Value>) -> Option<&str> {
    let id = value?.as_str()?;
    (!id.trim().is_empty() && id.len() <= 128 && !id.chars().any(char::is_control)).then_some(id)
}

/// A record the API documents: an object with an ID and a status.
pub fn good_record(value: &Value) -> Option<&str> {
    let map = value.as_object()?;
    map.get("status")?.as_str()?;
    good_id(map.get("id"))
}

/// The IDs of a well-formed list body.
pub fn good_list(body: &[u8]) -> Option<Vec<String>> {
    let map = object(body)?;
    if !no_error_field(&map) {
        return None;
    }
    let mut ids: Vec<String> = Vec::new();
    for record in map.get("publicips")?.as_array()? {
        let id = good_record(record)?.to_owned();
        if ids.contains(&id) {
            return None;
        }
        ids.push(id);
    }
    Some(ids)
}

/// The ID of a well-formed `{"publicip":{...}}` body.
pub fn good_single(body: &[u8]) -> Option<String> {
    let map = object(body)?;
    if !no_error_field(&map) {
        return None;
    }
    good_record(map.get("publicip")?).map(str::to_owned)
}

/// Whether the body is a cloud error naming `codes`.
pub fn error_code_in(body: &[u8], codes: &[&str]) -> bool {
    let Some(map) = object(body) else {
        return false;
    };
    let named = |map: &Map<String, Value>| {
        ["error_code", "errorCode", "code"]
            .iter()
            .any(|key| map.get(*key).and_then(Value::as_str).is_some_and(|c| codes.contains(&c)))
    };
    named(&map) || map.get("error").and_then(Value::as_object).is_some_and(named)
}

pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

#[track_caller]
pub fn assert_invalid_or_status_error(status: u16, err: &CloudError) {
    if is_success(status) {
        assert_eq!(
            (err.class(), err.code.as_str()),
            (ErrorClass::Retryable, INVALID_RESPONSE),
            "a 2xx that is not the success shape: {err:?}"
        );
    }
    assert!(err.retry_after().is_none_or(|d| d <= MAX_RETRY_AFTER), "{err:?}");
}
