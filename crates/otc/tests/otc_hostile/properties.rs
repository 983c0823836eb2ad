//! Properties of the answer parsers and the classifier, through the fuzzing entry points
//! (`eip_otc::fuzzing`): random bytes, random JSON in the API's vocabulary, and
//! documented answers damaged one way at a time ([`super::generators`]), judged by an
//! independent reading of the documentation ([`super::oracles`]).

use eip_cloud::ErrorClass;
use eip_cloud::Operation;
use eip_cloud::http::{INVALID_RESPONSE, MAX_RETRY_AFTER};
use eip_otc::fuzzing::{self, Listed, Mutation};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::generators::*;
use super::oracles::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        // Fixed, so CI is deterministic; EIP_PROPTEST_SEED explores other seeds.
        rng_seed: proptest::test_runner::RngSeed::Fixed(
            std::env::var("EIP_PROPTEST_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0x0007_C07C),
        ),
        ..ProptestConfig::default()
    }
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
