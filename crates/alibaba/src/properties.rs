//! Property tests of the answer parsers and the classifier, through the fuzz entry points
//! ([`super::fuzzing`]): arbitrary answers never panic, and only well-formed ones are believed.
//! 3000 cases per property, from a fixed seed (deterministic; no persistence files).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Map, Value, json};

use super::fuzzing;
use eip_cloud::http::{INVALID_RESPONSE, MAX_RETRY_AFTER};
use eip_cloud::{ErrorClass, Operation};

fn config() -> Config {
    Config {
        cases: 3000,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x0A11_BABA),
        ..Config::default()
    }
}

const OPERATIONS: [Operation; 6] = [
    Operation::Describe,
    Operation::FindByOwner,
    Operation::Allocate,
    Operation::Associate,
    Operation::Unassociate,
    Operation::Release,
];

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        prop::sample::select(vec![200u16, 201, 204, 301, 302, 307, 400, 403, 404, 409, 429, 500, 502, 503, 599]),
        0u16..1000,
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop::sample::select(vec!["x-acs-retry-after", "retry-after", "x-acs-request-id", "content-type"]);
    let value = prop_oneof![
        "[0-9]{1,30}",
        Just(u64::MAX.to_string()),
        Just("-5".to_owned()),
        Just("Fri, 31 Dec 2100 23:59:59 GMT".to_owned()),
        "[ -~]{0,20}",
    ];
    prop::collection::vec((name.prop_map(str::to_owned), value), 0..4)
}

/// A scalar or small container of any JSON type.
fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
    ]
}

fn code() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "InvalidAllocationId.NotFound",
            "InvalidInstanceId.NotFound",
            "Throttling.User",
            "TaskConflict",
            "Forbidden",
            "Forbidden.ChargeTypeIsPrepaid",
            "InternalError",
            "",
        ])
        .prop_map(str::to_owned),
        "[A-Za-z.]{1,24}",
    ]
}

/// Error-like bodies: each field present or not, of the right type or not, in either case.
fn error_body() -> impl Strategy<Value = Vec<u8>> {
    let field = |name: &'static str, good: BoxedStrategy<Value>| {
        prop_oneof![
            Just(None),
            good.prop_map(move |v| Some((name, v))),
            any_json().prop_map(move |v| Some((name, v)))
        ]
    };
    (
        field("RequestId", "[A-F0-9-]{1,36}".prop_map(Value::from).boxed()),
        field("Code", code().prop_map(Value::from).boxed()),
        field("Message", "[ -~]{0,30}".prop_map(Value::from).boxed()),
        field("HostId", Just(Value::from("vpc.aliyuncs.com")).boxed()),
        field("code", code().prop_map(Value::from).boxed()),
        field("requestId", "[A-F0-9-]{1,36}".prop_map(Value::from).boxed()),
    )
        .prop_map(|fields| {
            let (a, b, c, d, e, f) = fields;
            let map: Map<String, Value> = [a, b, c, d, e, f].into_iter().flatten().map(|(k, v)| (k.to_owned(), v)).collect();
            Value::Object(map).to_string().into_bytes()
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        error_body(),
        "[ -~]{0,80}".prop_map(String::into_bytes)
    ]
}

/// Whether `body` is the cloud's error shape naming the EIP as not found.
fn names_not_found(body: &[u8]) -> bool {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let non_empty = |key: &str| map.get(key).and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
    let optional_text = |key: &str| map.get(key).is_none_or(|v| v.is_string() || v.is_null());
    map.get("Code").and_then(Value::as_str) == Some("InvalidAllocationId.NotFound")
        && non_empty("RequestId")
        && map.get("Message").is_some_and(Value::is_string)
        && optional_text("HostId")
        && optional_text("Recommend")
}

/// What the provider accepts as a request ID (as `http::clean_request_id`).
fn request_id_like(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether `body` has the success shape: an object, a RequestId, no code.
fn success_shaped(body: &[u8]) -> bool {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    map.get("RequestId").and_then(Value::as_str).is_some_and(request_id_like) && !map.contains_key("Code") && !map.contains_key("code")
}

/// A valid DescribeEipAddresses page for `ids`, with optional fields chosen by `flags`.
fn describe_page(ids: &[String], flags: &[bool]) -> Map<String, Value> {
    let items: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let flag = |k: usize| flags.get((n * 5 + k) % flags.len().max(1)).copied().unwrap_or(false);
            let mut item = json!({"AllocationId": id, "IpAddress": format!("47.0.0.{n}"), "Status": "InUse", "Name": "unread"});
            if flag(0) {
                item["InstanceType"] = json!("EcsInstance");
                item["InstanceId"] = json!(format!("i-{n}"));
            }
            if flag(1) {
                item["Bandwidth"] = if flag(2) { json!("20") } else { json!(20) };
            }
            if flag(3) {
                item["OperationLocks"] = json!({"LockReason": [{"LockReason": "financial"}]});
            }
            if flag(4) {
                item["Tags"] = json!({"Tag": [{"Key": "eip-operator.dev/owner-uid", "Value": "uid"}]});
            }
            item
        })
        .collect();
    let Value::Object(page) = json!({
        "RequestId": "5A1B2C3D-0000", "PageNumber": 1, "PageSize": 100, "TotalCount": ids.len(),
        "EipAddresses": {"EipAddress": items}
    }) else {
        unreachable!("an object")
    };
    page
}

/// What to do to a valid page; `true` when the result is still well-formed.
#[derive(Clone, Debug)]
enum Mutation {
    Keep,
    AddUnknownField(String),
    DropOptional(usize),
    DropRequired(usize),
    Retype(usize, Value),
    AddCode(Value),
    Truncate(usize),
    TotalBelow,
    TotalAbove,
    ForeignItem,
    DuplicateItem,
    OtherPage,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Keep),
        "[a-z]{1,8}".prop_map(|k| Mutation::AddUnknownField(format!("X{k}"))),
        (0usize..4).prop_map(Mutation::DropOptional),
        (0usize..7).prop_map(Mutation::DropRequired),
        ((0usize..7), any_json()).prop_map(|(n, v)| Mutation::Retype(n, v)),
        any_json().prop_map(Mutation::AddCode),
        any::<usize>().prop_map(Mutation::Truncate),
        Just(Mutation::TotalBelow),
        Just(Mutation::TotalAbove),
        Just(Mutation::ForeignItem),
        Just(Mutation::DuplicateItem),
        Just(Mutation::OtherPage),
    ]
}

/// Applies `mutation`; returns the body and whether it must be believed.
fn mutate(mut page: Map<String, Value>, mutation: &Mutation) -> (Vec<u8>, bool) {
    let items = |page: &Map<String, Value>| -> Vec<Value> { page["EipAddresses"]["EipAddress"].as_array().cloned().unwrap_or_default() };
    let has_items = !items(&page).is_empty();
    let set_first = |page: &mut Map<String, Value>, f: &dyn Fn(&mut Map<String, Value>)| {
        if let Some(Value::Object(item)) = page["EipAddresses"]["EipAddress"].get_mut(0) {
            f(item);
        }
    };
    let valid = match mutation {
        Mutation::Keep => true,
        Mutation::AddUnknownField(key) => {
            page.insert(key.clone(), json!({"anything": [1, 2]}));
            true
        }
        Mutation::DropOptional(n) => {
            let key = ["PageNumber", "PageSize", "Name", "Bandwidth"][*n];
            page.remove(key);
            set_first(&mut page, &|item| {
                item.remove(key);
            });
            true
        }
        Mutation::DropRequired(n) | Mutation::Retype(n, _) => {
            let replacement = match mutation {
                Mutation::Retype(_, v) => Some(v.clone()),
                _ => None,
            };
            let put = |map: &mut Map<String, Value>, key: &str| match &replacement {
                Some(v) => {
                    map.insert(key.to_owned(), v.clone());
                }
                None => {
                    map.remove(key);
                }
            };
            // Still valid only when the replacement happens to be of the right type.
            let ok_as = |check: fn(&Value) -> bool| replacement.as_ref().is_some_and(check);
            match n {
                0 => {
                    put(&mut page, "RequestId");
                    ok_as(|v| v.as_str().is_some_and(request_id_like))
                }
                1 => {
                    put(&mut page, "TotalCount");
                    let count = items(&page).len() as u64;
                    replacement.as_ref().and_then(Value::as_u64) == Some(count)
                }
                2 => {
                    put(&mut page, "EipAddresses");
                    !has_items && ok_as(|v| v.get("EipAddress").is_some_and(|a| a.as_array().is_some_and(Vec::is_empty)))
                }
                3 if has_items => {
                    set_first(&mut page, &|item| put(item, "AllocationId"));
                    false
                }
                4 if has_items => {
                    set_first(&mut page, &|item| put(item, "IpAddress"));
                    ok_as(Value::is_string)
                }
                5 if has_items => {
                    set_first(&mut page, &|item| put(item, "Status"));
                    ok_as(Value::is_string)
                }
                6 if has_items => {
                    set_first(&mut page, &|item| put(item, "Tags"));
                    replacement.is_none() || ok_as(|v| v.is_null())
                }
                _ => {
                    if let Some(Value::Object(addresses)) = page.get_mut("EipAddresses") {
                        put(addresses, "EipAddress");
                    }
                    ok_as(|v| v.as_array().is_some_and(Vec::is_empty)) && !has_items
                }
            }
        }
        Mutation::AddCode(value) => {
            page.insert("Code".into(), value.clone());
            false
        }
        Mutation::Truncate(at) => {
            let body = Value::Object(page).to_string().into_bytes();
            let at = at % body.len();
            return (body[..at].to_vec(), false);
        }
        Mutation::TotalBelow => {
            let count = items(&page).len() as u64;
            page.insert("TotalCount".into(), json!(count.saturating_sub(1)));
            count == 0
        }
        Mutation::TotalAbove => {
            let count = items(&page).len() as u64;
            page.insert("TotalCount".into(), json!(count + 1));
            false
        }
        Mutation::ForeignItem | Mutation::DuplicateItem => {
            let mut list = items(&page);
            let extra = match (mutation, list.first()) {
                (Mutation::DuplicateItem, Some(first)) => first.clone(),
                _ => json!({"AllocationId": "eip-not-asked", "IpAddress": "47.9.9.9", "Status": "Available"}),
            };
            list.push(extra);
            page.insert("TotalCount".into(), json!(list.len()));
            page["EipAddresses"]["EipAddress"] = Value::Array(list);
            false
        }
        Mutation::OtherPage => {
            page.insert("PageNumber".into(), json!(2));
            false
        }
    };
    (Value::Object(page).to_string().into_bytes(), valid)
}

proptest! {
    #![proptest_config(config())]

    /// Anything at all: no panic; statuses and waits bounded; Gone and Ok only when earned.
    #[test]
    fn arbitrary_answers(status in status(), headers in headers(), body in body(), op in prop::sample::select(OPERATIONS.to_vec())) {
        let requested = vec!["eip-1".to_owned()];
        let described = fuzzing::describe_answer(status, &headers, &body, &requested);
        let owned = fuzzing::find_by_owner_answer(status, &headers, &body, "uid");
        let mutated = fuzzing::mutating_answer(op, status, &headers, &body);
        let allocated = fuzzing::allocate_answer(status, &headers, &body);
        let sts = fuzzing::sts_answer(status, &headers, &body);
        let error = fuzzing::error_answer(op, status, &headers, &body);
        let success = (200..300).contains(&status);
        prop_assert!(described.is_err() || (success && success_shaped(&body)));
        prop_assert!(owned.is_err() || (success && success_shaped(&body)));
        prop_assert!(mutated.is_err() || (success && success_shaped(&body)));
        prop_assert!(allocated.is_err() || (success && success_shaped(&body)));
        prop_assert!(sts.is_err() || (success && success_shaped(&body)));
        let errors = [described.err(), owned.err(), mutated.err(), allocated.err(), sts.err(), Some(error.clone())];
        for err in errors.iter().flatten() {
            prop_assert!(err.retry_after().is_none_or(|d| d <= MAX_RETRY_AFTER), "{:?}", err);
            prop_assert!(err.retry_after().is_none() || err.class() == ErrorClass::Retryable, "{:?}", err);
            if status == 429 || (500..600).contains(&status) {
                prop_assert_eq!(err.class(), ErrorClass::Retryable, "{:?}", err);
            }
            if err.class() == ErrorClass::Gone {
                prop_assert!((400..500).contains(&status) && status != 429 && names_not_found(&body), "{:?}", err);
            }
        }
        // Gone never reaches a Describe or FindByOwner.
        let gone = |op| fuzzing::error_answer(op, status, &headers, &body).class() == ErrorClass::Gone;
        prop_assert!(!gone(Operation::Describe) && !gone(Operation::FindByOwner));
        if error.class() == ErrorClass::Gone {
            prop_assert!(op.is_mutating());
        }
        // A well-formed NotFound body is Gone on a mutating call (unless 429/5xx say otherwise).
        if op.is_mutating() && (400..500).contains(&status) && status != 429 && names_not_found(&body) {
            prop_assert_eq!(error.class(), ErrorClass::Gone);
        }
    }

    /// A valid Describe page, mutated: believed exactly when still well-formed.
    #[test]
    fn describe_pages_are_believed_only_when_well_formed(
        count in 0usize..5,
        extra in 0usize..3,
        flags in prop::collection::vec(any::<bool>(), 1..25),
        mutation in mutation(),
    ) {
        let requested: Vec<String> = (0..count + extra).map(|n| format!("eip-{n}")).collect();
        let page = describe_page(&requested[..count], &flags);
        let (body, valid) = mutate(page, &mutation);
        let result = fuzzing::describe_answer(200, &[], &body, &requested);
        match result {
            Ok(found) => {
                prop_assert!(valid, "believed {:?}: {}", mutation, String::from_utf8_lossy(&body));
                let ids: Vec<&str> = found.iter().map(|e| e.allocation_id.as_str()).collect();
                let wanted: Vec<&str> = requested[..count].iter().map(String::as_str).collect();
                prop_assert_eq!(ids, wanted);
            }
            Err(err) => {
                prop_assert!(!valid, "refused {:?}: {:?} {}", mutation, err, String::from_utf8_lossy(&body));
                prop_assert_eq!((err.class(), err.code.as_str()), (ErrorClass::Retryable, INVALID_RESPONSE));
            }
        }
    }

    /// A mutating call's 2xx: believed only with a RequestId and without a Code.
    #[test]
    fn mutating_answers_need_the_success_shape(
        request_id in prop_oneof![Just(None), "[A-F0-9-]{1,36}".prop_map(|s| Some(Value::from(s))), any_json().prop_map(Some)],
        code in prop_oneof![Just(None), any_json().prop_map(Some), code().prop_map(|c| Some(Value::from(c)))],
        extra in prop::collection::btree_map("[A-Z][a-z]{1,8}", any_json(), 0..3),
        status in 200u16..300,
        op in prop::sample::select(vec![Operation::Associate, Operation::Unassociate, Operation::Release]),
    ) {
        let mut map: Map<String, Value> = extra.into_iter().filter(|(k, _)| k != "Code" && k != "RequestId").collect();
        if let Some(id) = &request_id { map.insert("RequestId".into(), id.clone()); }
        if let Some(code) = &code { map.insert("Code".into(), code.clone()); }
        let body = Value::Object(map).to_string().into_bytes();
        let result = fuzzing::mutating_answer(op, status, &[], &body);
        let well_formed = code.is_none()
            && request_id.as_ref().and_then(Value::as_str).is_some_and(request_id_like);
        prop_assert_eq!(result.is_ok(), well_formed, "{}", String::from_utf8_lossy(&body));
        if let Err(err) = result {
            prop_assert_eq!((err.class(), err.code.as_str()), (ErrorClass::Retryable, INVALID_RESPONSE));
        }
    }
}
