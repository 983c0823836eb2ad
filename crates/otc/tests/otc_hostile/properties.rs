//! Properties of the answer parsers and the classifier, through the fuzzing entry points
//! (`eip_otc::fuzzing`): random bytes, random JSON in the API's vocabulary, and
//! documented answers damaged one way at a time.

use eip_cloud::Operation;
use eip_cloud::http::{INVALID_RESPONSE, MAX_RETRY_AFTER};
use eip_cloud::{CloudError, ErrorClass};
use eip_otc::fuzzing::{self, Listed, Mutation};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Top-level fields that make a 2xx an error answer.
const ERROR_KEYS: &[&str] = &["error_code", "error_msg", "errorCode", "code", "error", "NeutronError"];
const IDS: &[&str] = &["id-0", "id-1", "id-2", "id-3"];

// --- oracles: an independent reading of the API documentation, on serde_json::Value ---

fn object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

fn no_error_field(map: &Map<String, Value>) -> bool {
    ERROR_KEYS.iter().all(|key| map.get(*key).is_none_or(Value::is_null))
}

fn good_id(value: Option<&Value>) -> Option<&str> {
    let id = value?.as_str()?;
    (!id.trim().is_empty() && id.len() <= 128 && !id.chars().any(char::is_control)).then_some(id)
}

/// A record the API documents: an object with an ID and a status.
fn good_record(value: &Value) -> Option<&str> {
    let map = value.as_object()?;
    map.get("status")?.as_str()?;
    good_id(map.get("id"))
}

/// The IDs of a well-formed list body.
fn good_list(body: &[u8]) -> Option<Vec<String>> {
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
fn good_single(body: &[u8]) -> Option<String> {
    let map = object(body)?;
    if !no_error_field(&map) {
        return None;
    }
    good_record(map.get("publicip")?).map(str::to_owned)
}

/// Whether the body is a cloud error naming `codes`.
fn error_code_in(body: &[u8], codes: &[&str]) -> bool {
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

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

#[track_caller]
fn assert_invalid_or_status_error(status: u16, err: &CloudError) {
    if is_success(status) {
        assert_eq!(
            (err.class(), err.code.as_str()),
            (ErrorClass::Retryable, INVALID_RESPONSE),
            "a 2xx that is not the success shape: {err:?}"
        );
    }
    assert!(err.retry_after().is_none_or(|d| d <= MAX_RETRY_AFTER), "{err:?}");
}

// --- generators ---

fn status() -> impl Strategy<Value = u16> {
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

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
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
fn json_tree() -> impl Strategy<Value = Value> {
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
enum Shape {
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
enum Damage {
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
    fn benign(&self) -> bool {
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
        Damage::UnknownRecordField => {
            if let Some(record) = first_record(&mut body) {
                record.insert("x_unknown".into(), json!([null]));
            }
        }
        Damage::DropTop => {
            body.as_object_mut().map(|m| m.remove(&top));
        }
        Damage::NullTop => body[&top] = Value::Null,
        Damage::TopType(value) => body[&top] = value.clone(),
        Damage::TopAsArray => body = json!([body]),
        Damage::ErrorField(key, value) => body[*key] = value.clone(),
        Damage::DropId => {
            if let Some(record) = first_record(&mut body) {
                record.remove("id");
            }
        }
        Damage::IdType(value) => {
            if let Some(record) = first_record(&mut body) {
                record.insert("id".into(), value.clone());
            }
        }
        Damage::DropStatus => {
            if let Some(record) = first_record(&mut body) {
                record.remove("status");
            }
        }
        Damage::StatusType(value) => {
            if let Some(record) = first_record(&mut body) {
                record.insert("status".into(), value.clone());
            }
        }
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
            _ => {
                if let Some(record) = first_record(&mut body) {
                    record.insert("id".into(), json!("someone-else"));
                }
            }
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
fn requested() -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(IDS.to_vec(), 1..=IDS.len()).prop_map(|ids| ids.into_iter().map(str::to_owned).collect())
}

/// A body: random bytes, random JSON, or a documented answer of `shape` with the damage
/// done to it.
fn body(shape: Shape, ids: Vec<String>) -> impl Strategy<Value = (Vec<u8>, Option<Damage>)> {
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
fn still_valid(damage: &Option<Damage>, also: &[fn(&Damage) -> bool]) -> bool {
    damage.as_ref().is_some_and(|d| d.benign() || also.iter().any(|f| f(d)))
}

fn foreign(d: &Damage) -> bool {
    matches!(d, Damage::Foreign)
}

fn next_marker(d: &Damage) -> bool {
    matches!(d, Damage::NextMarker)
}

proptest! {
    #![proptest_config(config())]

    /// Describe: never panics; an `Ok` only for a well-formed list, that drops nothing and
    /// calls complete only a list of requested EIPs with no further page.
    #[test]
    fn describe_is_ok_only_for_well_formed_lists(
        v3 in any::<bool>(),
        (ids, (body, damage)) in requested().prop_flat_map(move |ids| (Just(ids.clone()), body(Shape::List { v3: false }, ids))),
        status in status(),
        headers in headers(),
    ) {
        let result = fuzzing::describe_answer(v3, status, &headers, &body, &ids);
        match &result {
            Ok(listed) => {
                prop_assert!(is_success(status), "Ok from HTTP {status}");
                let listed_ids = good_list(&body);
                prop_assert!(listed_ids.is_some(), "Ok from a body that is not a well-formed list: {}", String::from_utf8_lossy(&body));
                let listed_ids = listed_ids.unwrap_or_default();
                let asked = |id: &String| ids.contains(id);
                match listed {
                    Listed::Complete(eips) | Listed::Partial(eips) => {
                        prop_assert!(listed_ids.iter().all(asked));
                        prop_assert_eq!(eips.len(), listed_ids.len(), "nothing dropped");
                    }
                    Listed::FilterIgnored(eips) => {
                        prop_assert!(!listed_ids.iter().all(asked));
                        prop_assert_eq!(eips.len(), listed_ids.iter().filter(|id| asked(id)).count());
                    }
                }
                if let Listed::Partial(_) = listed {
                    prop_assert!(v3, "only v3 has pages");
                }
            }
            Err(err) => {
                assert_invalid_or_status_error(status, err);
                prop_assert!(err.class() != ErrorClass::Gone, "a list is never Gone: {err:?}");
                prop_assert!(
                    !(status == 200 && still_valid(&damage, &[foreign, next_marker])),
                    "a valid list refused: {err:?}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
        }
    }

    /// FindByOwner pages: the same rules, unfiltered.
    #[test]
    fn list_pages_are_ok_only_when_well_formed(
        v3 in any::<bool>(),
        (body, damage) in requested().prop_flat_map(|ids| body(Shape::List { v3: true }, ids)),
        status in status(),
        headers in headers(),
    ) {
        match fuzzing::list_page_answer(v3, status, &headers, &body) {
            Ok(page) => {
                prop_assert!(is_success(status));
                let ids = good_list(&body);
                prop_assert!(ids.is_some(), "{}", String::from_utf8_lossy(&body));
                prop_assert_eq!(page.eips.len(), ids.unwrap_or_default().len());
                prop_assert!(v3 || page.next_marker.is_none());
            }
            Err(err) => {
                assert_invalid_or_status_error(status, &err);
                prop_assert!(!(status == 200 && still_valid(&damage, &[foreign, next_marker])), "a valid page refused: {err:?}");
            }
        }
    }

    /// Show: `Some` only for the EIP asked for; `None` (absent) only on a 404 with the
    /// cloud's NotFound code.
    #[test]
    fn a_show_proves_absence_only_with_the_clouds_not_found(
        v3 in any::<bool>(),
        (ids, (body, damage)) in requested().prop_flat_map(move |ids| (Just(ids.clone()), prop_oneof![
            4 => body(Shape::Single { v3: false }, ids.clone()),
            1 => body(Shape::Error, ids),
        ])),
        status in status(),
        headers in headers(),
    ) {
        let wanted = ids[0].as_str();
        match fuzzing::show_answer(v3, status, &headers, &body, wanted) {
            Ok(Some(eip)) => {
                prop_assert!(is_success(status));
                let single = good_single(&body);
                prop_assert_eq!(single.as_deref(), Some(wanted));
                prop_assert_eq!(eip.allocation_id.as_str(), wanted);
            }
            Ok(None) => {
                prop_assert_eq!(status, 404);
                prop_assert!(error_code_in(&body, fuzzing::NOT_FOUND_CODES), "{}", String::from_utf8_lossy(&body));
            }
            Err(err) => {
                assert_invalid_or_status_error(status, &err);
                prop_assert!(err.class() != ErrorClass::Gone);
                let single = good_single(&body);
                let shown = single.as_deref() == Some(wanted);
                prop_assert!(!(status == 200 && shown && still_valid(&damage, &[next_marker])), "refused: {err:?}");
            }
        }
    }

    /// Mutating calls: `Ok` only for the documented success shape; a 2xx that is not it is
    /// a retryable InvalidResponse (never Gone, never terminal).
    #[test]
    fn mutations_are_ok_only_with_their_success_shape(
        mutation in prop::sample::select(Mutation::ALL.to_vec()),
        (ids, (body, _)) in requested().prop_flat_map(|ids| (Just(ids.clone()), prop_oneof![
            2 => body(Shape::Single { v3: true }, ids.clone()),
            1 => body(Shape::Batch, ids.clone()),
            1 => body(Shape::Error, ids),
            1 => Just((Vec::new(), None)),
        ])),
        status in status(),
        headers in headers(),
    ) {
        let wanted = ids[0].as_str();
        match fuzzing::mutating_answer(mutation, status, &headers, &body, wanted) {
            Ok(_) => {
                prop_assert!(is_success(status));
                match mutation {
                    Mutation::Release | Mutation::Tags | Mutation::Tag | Mutation::Untag => {
                        prop_assert_eq!(status, 204);
                        prop_assert!(body.iter().all(u8::is_ascii_whitespace));
                    }
                    Mutation::Bind | Mutation::Unbind | Mutation::Associate | Mutation::Disassociate => {
                        let single = good_single(&body);
                        prop_assert_eq!(single.as_deref(), Some(wanted), "{}", String::from_utf8_lossy(&body));
                    }
                    Mutation::BatchUnbind | Mutation::BatchRelease => {
                        let map = object(&body);
                        prop_assert!(map.as_ref().is_some_and(no_error_field));
                        let jobs = map.as_ref().and_then(|m| m.get("job_ids")).and_then(Value::as_array).cloned().unwrap_or_default();
                        prop_assert!(!jobs.is_empty() && jobs.iter().all(|j| good_id(Some(j)).is_some()));
                    }
                }
            }
            Err(err) => {
                assert_invalid_or_status_error(status, &err);
                if err.class() == ErrorClass::Gone {
                    prop_assert_eq!(status, 404);
                    prop_assert!(error_code_in(&body, fuzzing::NOT_FOUND_CODES));
                }
            }
        }
    }

    /// Create: `Ok` only for a record with an ID.
    #[test]
    fn create_is_ok_only_with_a_new_eip(
        (body, damage) in requested().prop_flat_map(|ids| body(Shape::Single { v3: false }, ids)),
        status in status(),
        headers in headers(),
    ) {
        match fuzzing::create_answer(status, &headers, &body) {
            Ok((eip, _)) => {
                prop_assert!(is_success(status));
                prop_assert_eq!(good_single(&body), Some(eip.allocation_id));
            }
            Err(err) => {
                assert_invalid_or_status_error(status, &err);
                prop_assert!(!(status == 200 && still_valid(&damage, &[foreign, next_marker])), "refused: {err:?}");
            }
        }
    }

    /// The classifier: Gone only from a 404 with the cloud's NotFound code; 429 and 5xx
    /// retryable (5xx: except the documented terminal codes at exactly 500); retry-after
    /// bounded and only on retryable errors; a 404 that is no cloud error is InvalidResponse.
    #[test]
    fn the_classifier_keeps_its_rules(
        op in prop::sample::select(Operation::ALL.to_vec()),
        (body, _) in prop_oneof![
            2 => requested().prop_flat_map(|ids| body(Shape::Error, ids)),
            1 => json_tree().prop_map(|v| (serde_json::to_vec(&v).unwrap_or_default(), None)),
            1 => prop::sample::select(vec!["VPC.0504", "VPC.0516", "VPC.0518", "VPC.0509", "VPC.0502", "APIGW.0101", "APIGW.0308", "VPC.0517"])
                .prop_flat_map(|code| prop_oneof![
                    Just(json!({ "code": code, "message": "Floating IP status is FREEZED." })),
                    Just(json!({ "error_code": code, "error_msg": "m", "request_id": "r" })),
                    Just(json!({ "error": { "code": code, "message": "m" } })),
                ])
                .prop_map(|v| (serde_json::to_vec(&v).unwrap_or_default(), None)),
            1 => vec(any::<u8>(), 0..64).prop_map(|b| (b, None)),
        ],
        status in status(),
        headers in headers(),
    ) {
        let err = fuzzing::error_answer(op, status, &headers, &body);
        prop_assert!(!err.code.is_empty());
        prop_assert!(err.retry_after().is_none_or(|d| d <= MAX_RETRY_AFTER), "{err:?}");
        prop_assert!(err.retry_after().is_none() || err.class() == ErrorClass::Retryable, "{err:?}");
        if err.class() == ErrorClass::Gone {
            prop_assert_eq!(status, 404);
            prop_assert!(error_code_in(&body, fuzzing::NOT_FOUND_CODES), "{err:?}");
        }
        if status == 429 {
            prop_assert!(err.class() == ErrorClass::Retryable && err.is_throttled(), "{err:?}");
        }
        if (500..600).contains(&status) {
            let documented = status == 500 && error_code_in(&body, fuzzing::TERMINAL_AT_500) && err.class() == ErrorClass::Terminal;
            prop_assert!(err.class() == ErrorClass::Retryable || documented, "{err:?}");
        }
        if status == 404 && object(&body).is_none() {
            prop_assert_eq!((err.class(), err.code.as_str()), (ErrorClass::Retryable, INVALID_RESPONSE));
        }
    }

    /// IAM answers: a token only with the header and a project; a project ID only from a
    /// well-formed list.
    #[test]
    fn iam_answers_are_typed(
        body in prop_oneof![
            json_tree(),
            Just(json!({ "token": { "project": { "id": "p-1" }, "expires_at": "2999-01-01T00:00:00Z" } })),
            Just(json!({ "projects": [{ "id": "p-1", "name": "eu-de" }] })),
        ].prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        status in status(),
        headers in headers(),
    ) {
        if let Ok(issued) = fuzzing::token_answer(status, &headers, &body) {
            prop_assert!(is_success(status));
            prop_assert!(!issued.value.is_empty() && !issued.project_id.is_empty());
            prop_assert!(headers.iter().any(|(k, v)| k == "x-subject-token" && v.trim() == issued.value));
        }
        if let Ok(Some(id)) = fuzzing::projects_answer(status, &headers, &body, "eu-de") {
            prop_assert!(is_success(status));
            prop_assert!(!id.is_empty());
        }
    }
}
