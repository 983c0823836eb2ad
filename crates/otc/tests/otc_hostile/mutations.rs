//! Mutating calls: the documented success shape, or an error.

use std::time::Duration;

use eip_cloud::{BindTarget, CloudProvider, InstanceType, UnbindRequest};
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn a_mutating_2xx_must_have_the_success_shape() {
    timeout(async {
        // Release: DELETE answers 204 with no body.
        let releases: Vec<(&str, Canned)> = vec![
            (
                "an HTML 200",
                canned(200, "<html>deleted</html>").header("content-type", "text/html"),
            ),
            ("an empty object", canned_json(200, json!({}))),
            (
                "an error code in a 200",
                canned_json(200, json!({ "code": "VPC.0517", "message": "still bound" })),
            ),
            ("a 202", canned(202, "")),
            ("a 200 with no body", canned(200, "")),
        ];
        for (what, answer) in releases {
            let server = serve_always(answer.clone()).await;
            let provider = otc_at(&server, true);
            assert_invalid(provider.release(ID, "").await, &format!("release: {what}"));
        }
        let server = serve("127.0.0.1", |_| canned(204, "").header("x-request-id", "req-204")).await;
        let provider = otc_at(&server, true);
        assert_eq!(provider.release(ID, "").await.expect("204").request_id, "req-204");

        // Bind / unbind (v1 PUT) and v3 associate / disassociate answer {"publicip":{...}} naming the EIP.
        let updates: Vec<(&str, Canned)> = vec![
            ("HTML", canned(200, "<html>ok</html>")),
            ("an empty object", canned_json(200, json!({}))),
            ("another EIP", canned_json(200, json!({ "publicip": v1_record(OTHER) }))),
            (
                "a record without an id",
                canned_json(200, json!({ "publicip": { "status": "ACTIVE" } })),
            ),
            (
                "an error code next to the record",
                canned_json(
                    200,
                    json!({ "publicip": v1_record(ID), "error_code": "VPC.0510", "error_msg": "x" }),
                ),
            ),
            ("a 204", canned(204, "")),
        ];
        for (what, answer) in updates {
            let server = serve_always(answer.clone()).await;
            let provider = otc_at(&server, true);
            assert_invalid(provider.associate(ID, &port("port-1"), "").await, &format!("bind: {what}"));
            assert_invalid(provider.unassociate(&unbind_port()).await, &format!("unbind: {what}"));
            let lb = BindTarget {
                instance_type: InstanceType::SlbInstance,
                instance_id: "lb-1".into(),
                private_ip_address: None,
            };
            assert_invalid(provider.associate(ID, &lb, "").await, &format!("v3 associate: {what}"));
            assert_invalid(
                provider.unassociate(&UnbindRequest::new(ID.to_owned(), lb.clone(), "")).await,
                &format!("v3 disassociate: {what}"),
            );
        }
        let server = serve("127.0.0.1", |seen| {
            if seen.path.starts_with("/v3/") {
                canned_json(200, json!({ "request_id": "r-3", "publicip": v3_record(ID) }))
            } else {
                canned_json(200, json!({ "publicip": v1_record(ID) }))
            }
        })
        .await;
        let provider = otc_at(&server, true);
        provider.associate(ID, &port("port-1"), "").await.expect("well-formed");
        provider.unassociate(&unbind_port()).await.expect("well-formed");

        // Allocate: the answer names a new EIP.
        for (what, body) in [
            ("an empty id", json!({ "publicip": { "id": "", "status": "PENDING_CREATE" } })),
            ("an error code", json!({ "error_code": "VPC.0521", "error_msg": "quota" })),
            ("no record", json!({ "bandwidth": {} })),
        ] {
            let server = serve_always(canned_json(200, body)).await;
            let provider = otc_at(&server, true);
            assert_invalid(
                provider.allocate(&Default::default()).await.map(|a| a.eip),
                &format!("allocate: {what}"),
            );
        }
    })
    .await;
}

/// A malformed batch answer proves nothing: every ID gets a single call.
#[tokio::test]
async fn a_malformed_batch_answer_falls_back_to_single_calls() {
    timeout(async {
        for batch_answer in [
            json!({ "job_ids": null }),
            json!({}),
            json!({ "job_ids": [""] }),
            json!({ "job_ids": [], "error_code": "VPC.0500", "error_msg": "x" }),
        ] {
            let batch = canned_json(200, batch_answer.clone());
            let server = serve("127.0.0.1", move |seen| {
                if seen.path.contains("batchpublicips") {
                    batch.clone()
                } else {
                    canned(204, "")
                }
            })
            .await;
            let mut settings = settings(&server.base, &server.base, true);
            settings.batch_operations = true;
            settings.batch_window = Duration::from_millis(100);
            let provider = otc(settings, aksk());
            let (a, b) = tokio::join!(provider.release(ID, ""), provider.release(OTHER, ""));
            a.expect("single call");
            b.expect("single call");
            let singles = server
                .seen()
                .iter()
                .filter(|s| s.method == "DELETE" && !s.path.contains("batch"))
                .count();
            assert_eq!(singles, 2, "{batch_answer}");
        }
    })
    .await;
}
