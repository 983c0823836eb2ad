//! The generators of the property tests: statuses, headers, random JSON in the API's
//! vocabulary, and documented answers damaged one way at a time.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::oracles::ERROR_KEYS;

const IDS: &[&str] = &["id-0", "id-1", "id-2", "id-3"];

pub fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => Just(200u16),
        1 => Just(201u16),
        2 => Just(204u16),
        1 => Just(202u16),
        1 => Just(400u16),
        1 => Just(401u16),
        1 => Just(403u16),
        3 => Just(404u16),
        1 => Just(409u16),
        2 => Just(429u16),
        2 => Just(500u16),
        1 => Just(502u16),
        1 => Just(503u16),
        2 => 100u16..600,
    ]
}

pub fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        Just("retry-after".to_owned()),
        Just("x-request-id".to_owned()),
        Just("x-subject-token".to_owned()),
        Just("x-acs-retry-after".to_owned()),
        Just("content-type".to_owned()),
    ];
    let value = prop_oneof![
        "[0-9]{1,25}",
        "-?[0-9]{1,4}\\.[0-9]{0,4}",
        "[ -~]{0,24}",
        Just("Fri, 31 Dec 9999 23:59:59 GMT".to_owned()),
        Just("1e308".to_owned()),
        Just("NaN".to_owned()),
    ];
    vec((name, value), 0..4)
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "publicips",
            "publicip",
            "id",
            "status",
            "code",
            "message",
            "error_code",
            "error_msg",
            "error",
            "job_ids",
            "page_info",
            "next_marker",
            "tags",
            "request_id",
            "token",
            "project",
            "port_id",
            "bandwidth_size",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,6}",
    ]
}

/// Random JSON with the API's vocabulary.
pub fn json_tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "VPC.0504",
            "DOWN",
            "ACTIVE",
            "",
            " ",
            "id-0",
            "id-1",
            "APIGW.0101",
            "VPC.0516"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
        "[ -~]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((key(), inner), 0..5).prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// The documented success answers, and the documented error bodies.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    List { v3: bool },
    Single { v3: bool },
    Batch,
    Error,
}

fn record(id: &str, v3: bool) -> Value {
    if v3 {
        json!({ "id": id, "status": "ACTIVE", "public_ip_address": "80.158.0.9", "vnic": { "port_id": "p", "private_ip_address": "10.0.0.1" },
                "bandwidth": { "size": 5, "name": "eip-operator-u" }, "associate_instance_type": "PORT", "associate_instance_id": "p",
                "lock_status": null, "tags": ["k=v"] })
    } else {
        json!({ "id": id, "status": "DOWN", "public_ip_address": "80.158.0.9", "port_id": null, "bandwidth_size": 5,
                "bandwidth_name": "eip-operator-u", "profile": { "order_id": null }, "tags": ["k=v", { "key": "a", "value": "b" }] })
    }
}

fn valid(shape: Shape, ids: &[String]) -> Value {
    match shape {
        Shape::List { v3 } => {
            let mut body = json!({ "publicips": ids.iter().map(|id| record(id, v3)).collect::<Vec<_>>() });
            if v3 {
                body["page_info"] = json!({ "current_count": ids.len() });
                body["request_id"] = json!("r-1");
            }
            body
        }
        Shape::Single { v3 } => json!({ "publicip": record(ids.first().map_or("id-0", String::as_str), v3) }),
        Shape::Batch => json!({ "job_ids": ids.iter().map(|id| format!("job-{id}")).collect::<Vec<_>>() }),
        Shape::Error => json!({ "code": "VPC.0504", "message": "Floating IP could not be found." }),
    }
}

/// What is done to a valid answer. The first three keep it valid.
#[derive(Clone, Debug)]
pub enum Damage {
    Keep,
    UnknownTopField,
    UnknownRecordField,
    DropTop,
    NullTop,
    TopType(Value),
    TopAsArray,
    ErrorField(&'static str, Value),
    DropId,
    IdType(Value),
    DropStatus,
    StatusType(Value),
    RecordAsArray,
    Duplicate,
    Foreign,
    NextMarker,
    Truncate(usize),
}

impl Damage {
    pub fn benign(&self) -> bool {
        matches!(self, Damage::Keep | Damage::UnknownTopField | Damage::UnknownRecordField)
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    let wrong = prop_oneof![
        Just(Value::Null),
        Just(json!(7)),
        Just(json!("")),
        Just(json!("  ")),
        Just(json!([])),
        Just(json!({})),
        Just(json!(true)),
        Just(json!("a\u{1}b")),
    ];
    prop_oneof![
        3 => Just(Damage::Keep),
        1 => Just(Damage::UnknownTopField),
        1 => Just(Damage::UnknownRecordField),
        1 => Just(Damage::DropTop),
        1 => Just(Damage::NullTop),
        1 => wrong.clone().prop_map(Damage::TopType),
        1 => Just(Damage::TopAsArray),
        2 => (prop::sample::select(ERROR_KEYS.to_vec()), prop_oneof![Just(json!("VPC.0500")), Just(json!({ "code": 401, "message": "m" })), Just(json!(0))])
            .prop_map(|(k, v)| Damage::ErrorField(k, v)),
        1 => Just(Damage::DropId),
        1 => wrong.clone().prop_map(Damage::IdType),
        1 => Just(Damage::DropStatus),
        1 => wrong.prop_map(Damage::StatusType),
        1 => Just(Damage::RecordAsArray),
        1 => Just(Damage::Duplicate),
        1 => Just(Damage::Foreign),
        1 => Just(Damage::NextMarker),
        2 => (0usize..400).prop_map(Damage::Truncate),
    ]
}

/// The record(s) of a body: `publicips[0]` / `publicip`.
fn first_record(body: &mut Value) -> Option<&mut Map<String, Value>> {
    if body.get("publicips").is_some_and(Value::is_array) {
        body.get_mut("publicips")
            .and_then(Value::as_array_mut)
            .and_then(|items| items.first_mut())
            .and_then(Value::as_object_mut)
    } else {
        body.get_mut("publicip").and_then(Value::as_object_mut)
    }
}

/// Sets `key` of the first record to `value`, or removes it (`None`).
fn set_in_record(body: &mut Value, key: &str, value: Option<Value>) {
    if let Some(record) = first_record(body) {
        match value {
            Some(value) => record.insert(key.to_owned(), value),
            None => record.remove(key),
        };
    }
}

fn top_key(body: &Value) -> String {
    body.as_object()
        .and_then(|m| ["publicips", "publicip", "job_ids"].into_iter().find(|k| m.contains_key(*k)))
        .unwrap_or("code")
        .to_owned()
}

fn apply(mut body: Value, damage: &Damage) -> Vec<u8> {
    let top = top_key(&body);
    match damage {
        Damage::Keep => {}
        Damage::UnknownTopField => body["x_unknown"] = json!({ "nested": [1, 2] }),
        Damage::UnknownRecordField => set_in_record(&mut body, "x_unknown", Some(json!([null]))),
        Damage::DropTop => {
            body.as_object_mut().map(|m| m.remove(&top));
        }
        Damage::NullTop => body[&top] = Value::Null,
        Damage::TopType(value) => body[&top] = value.clone(),
        Damage::TopAsArray => body = json!([body]),
        Damage::ErrorField(key, value) => body[*key] = value.clone(),
        Damage::DropId => set_in_record(&mut body, "id", None),
        Damage::IdType(value) => set_in_record(&mut body, "id", Some(value.clone())),
        Damage::DropStatus => set_in_record(&mut body, "status", None),
        Damage::StatusType(value) => set_in_record(&mut body, "status", Some(value.clone())),
        Damage::RecordAsArray => match body.get_mut("publicips") {
            Some(Value::Array(items)) if !items.is_empty() => items[0] = json!(["id-0", "DOWN"]),
            _ => {
                if body.get("publicip").is_some() {
                    body["publicip"] = json!(["id-0", "DOWN"]);
                }
            }
        },
        Damage::Duplicate => {
            if let Some(Value::Array(items)) = body.get_mut("publicips")
                && let Some(first) = items.first().cloned()
            {
                items.push(first);
            }
        }
        Damage::Foreign => match body.get_mut("publicips") {
            Some(Value::Array(items)) => items.push(record("someone-else", false)),
            _ => set_in_record(&mut body, "id", Some(json!("someone-else"))),
        },
        Damage::NextMarker => body["page_info"] = json!({ "next_marker": "id-9" }),
        Damage::Truncate(at) => {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let at = (*at).min(bytes.len().saturating_sub(1));
            return bytes[..at].to_vec();
        }
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Requested IDs: 1–4 distinct.
pub fn requested() -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(IDS.to_vec(), 1..=IDS.len()).prop_map(|ids| ids.into_iter().map(str::to_owned).collect())
}

/// A body: random bytes, random JSON, or a documented answer of `shape` with the damage
/// done to it.
pub fn body(shape: Shape, ids: Vec<String>) -> impl Strategy<Value = (Vec<u8>, Option<Damage>)> {
    prop_oneof![
        1 => vec(any::<u8>(), 0..200).prop_map(|bytes| (bytes, None)),
        2 => json_tree().prop_map(|v| (serde_json::to_vec(&v).unwrap_or_default(), None)),
        6 => (damage(), proptest::sample::subsequence(ids.clone(), 0..=ids.len())).prop_map(move |(damage, listed)| {
            let listed = if matches!(shape, Shape::Single { .. }) { ids.clone() } else { listed };
            (apply(valid(shape, &listed), &damage), Some(damage))
        }),
    ]
}

/// Whether `damage` left the answer valid: benign, or one of `also`.
pub fn still_valid(damage: &Option<Damage>, also: &[fn(&Damage) -> bool]) -> bool {
    damage.as_ref().is_some_and(|d| d.benign() || also.iter().any(|f| f(d)))
}

pub fn foreign(d: &Damage) -> bool {
    matches!(d, Damage::Foreign)
}

pub fn next_marker(d: &Damage) -> bool {
    matches!(d, Damage::NextMarker)
}
