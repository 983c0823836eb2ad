//! Describe and the owner lookup against garbage: absence only when proven.

use eip_cloud::{CloudProvider, ErrorClass};
use serde_json::{Value, json};

use super::support::*;

/// Garbage 2xx answers to the list (id filter) call, for v1 and v3.
fn garbage_lists(record: fn(&str) -> Value) -> Vec<(&'static str, Canned)> {
    vec![
        (
            "an error code in a 200",
            canned_json(200, json!({ "error_code": "APIGW.0308", "error_msg": "throttled" })),
        ),
        (
            "a v1 error code in a 200",
            canned_json(200, json!({ "code": "VPC.0500", "message": "system error" })),
        ),
        ("a null list", canned_json(200, json!({ "publicips": null }))),
        ("no list", canned_json(200, json!({}))),
        ("a list that is a string", canned_json(200, json!({ "publicips": "[]" }))),
        ("an array body", canned_json(200, json!([]))),
        ("an array body holding a list", canned_json(200, json!([[]]))),
        (
            "an empty list next to an error code",
            canned_json(200, json!({ "publicips": [], "error_code": "VPC.0500", "error_msg": "x" })),
        ),
        (
            "an item without an id",
            canned_json(200, json!({ "publicips": [{ "status": "DOWN" }] })),
        ),
        (
            "an item with a numeric id",
            canned_json(200, json!({ "publicips": [{ "id": 7, "status": "DOWN" }] })),
        ),
        (
            "an item with an empty id",
            canned_json(200, json!({ "publicips": [{ "id": "", "status": "DOWN" }] })),
        ),
        ("an item that is an array", canned_json(200, json!({ "publicips": [[ID, "DOWN"]] }))),
        (
            "an item with a wrongly typed field",
            canned_json(200, json!({ "publicips": [{ "id": ID, "status": 1 }] })),
        ),
        (
            "the same item twice",
            canned_json(200, json!({ "publicips": [record(ID), record(ID)] })),
        ),
        (
            "HTML",
            canned(200, "<html><body>OK</body></html>").header("content-type", "text/html"),
        ),
        ("an empty body", canned(200, "")),
        ("a 204", canned(204, "")),
        ("truncated JSON", canned(200, r#"{"publicips":[{"id":"6a1b"#)),
    ]
}

#[tokio::test]
async fn garbage_describe_answers_are_never_absence() {
    timeout(async {
        for (v3, record) in [(false, v1_record as fn(&str) -> Value), (true, v3_record)] {
            for (what, answer) in garbage_lists(record) {
                let server = serve_always(answer.clone()).await;
                let provider = otc_at(&server, v3);
                let result = provider.describe(&ids(&[ID, OTHER])).await;
                assert_invalid(result, &format!("v3={v3}: {what}"));
            }
        }
    })
    .await;
}

/// The list ignores the id filter (answers an EIP nobody asked for); the provider shows each ID,
/// and each show answer must name the EIP asked for.
#[tokio::test]
async fn a_show_answer_must_name_the_eip_asked_for() {
    timeout(async {
        let shows: Vec<(&str, Canned)> = vec![
            ("another EIP", canned_json(200, json!({ "publicip": v1_record(OTHER) }))),
            ("a null record", canned_json(200, json!({ "publicip": null }))),
            ("no record", canned_json(200, json!({ "request_id": "r" }))),
            (
                "an error code in a 200",
                canned_json(200, json!({ "error_code": "VPC.0504", "error_msg": "gone?" })),
            ),
            ("a list instead", canned_json(200, json!({ "publicips": [] }))),
            (
                "an HTML 404",
                canned(404, "<html>Not Found</html>").header("content-type", "text/html"),
            ),
            ("an empty 404", canned(404, "")),
            (
                "a gateway 404",
                canned_json(404, json!({ "error_code": "APIGW.0101", "error_msg": "The API does not exist" })),
            ),
        ];
        for (what, show) in shows {
            let server = serve("127.0.0.1", move |seen| {
                if seen.path.ends_with("/publicips") {
                    canned_json(200, json!({ "publicips": [v1_record("someone-else")] }))
                } else {
                    show.clone()
                }
            })
            .await;
            let provider = otc_at(&server, false);
            let err = provider.describe(&ids(&[ID])).await.expect_err(what);
            assert_ne!(err.class(), ErrorClass::Gone, "{what}");
            assert!(server.seen().iter().any(|s| s.path.ends_with(ID)), "{what}: the ID was shown");
        }

        // A proven absence is still an absence: a 404 with the cloud's own NotFound code.
        let server = serve("127.0.0.1", |seen| {
            if seen.path.ends_with("/publicips") {
                canned_json(200, json!({ "publicips": [v1_record("someone-else")] }))
            } else {
                canned_json(404, json!({ "code": "VPC.0504", "message": "Floating IP could not be found." }))
            }
        })
        .await;
        let provider = otc_at(&server, false);
        assert!(provider.describe(&ids(&[ID])).await.expect("describes").is_empty());
    })
    .await;
}

#[tokio::test]
async fn garbage_pages_never_end_the_owner_lookup() {
    timeout(async {
        let pages: Vec<(bool, &str, Canned)> = vec![
            (false, "a null list", canned_json(200, json!({ "publicips": null }))),
            (
                false,
                "an error code",
                canned_json(200, json!({ "error_code": "APIGW.0308", "error_msg": "x" })),
            ),
            (true, "a null list", canned_json(200, json!({ "publicips": null, "page_info": {} }))),
            (
                false,
                "an item without an id",
                canned_json(
                    200,
                    json!({ "publicips": [{ "status": "DOWN", "tags": ["eip-operator_owner-uid=u-1"] }] }),
                ),
            ),
            (true, "HTML", canned(200, "<html></html>")),
        ];
        for (v3, what, page) in pages {
            let server = serve_always(page.clone()).await;
            let provider = otc_at(&server, v3);
            assert_invalid(provider.find_by_owner("u-1").await, &format!("v3={v3}: {what}"));
        }

        // A v3 walk whose marker never moves is not an end of the list.
        let server = serve("127.0.0.1", |_| {
            canned_json(
                200,
                json!({ "publicips": [v3_record(OTHER)], "page_info": { "next_marker": OTHER } }),
            )
        })
        .await;
        let provider = otc_at(&server, true);
        assert_invalid(provider.find_by_owner("u-1").await, "a marker that repeats");
    })
    .await;
}
