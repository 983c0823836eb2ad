//! How refusals are classified: only the cloud's own NotFound is Gone; the status decides
//! throttling and server errors.

use std::time::Duration;

use eip_cloud::http::MAX_RETRY_AFTER;
use eip_cloud::{CloudProvider, ErrorClass};
use serde_json::json;

use super::support::*;

// ----- only the cloud's own NotFound is Gone -----

#[tokio::test]
async fn only_the_clouds_not_found_is_gone() {
    timeout(async {
        let not_gone: Vec<(&str, Canned, ErrorClass)> = vec![
            (
                "an HTML 404",
                canned(404, "<html><h1>404 Not Found</h1></html>").header("content-type", "text/html"),
                ErrorClass::Retryable,
            ),
            ("an empty 404", canned(404, ""), ErrorClass::Retryable),
            ("a text 404", canned(404, "Not Found"), ErrorClass::Retryable),
            (
                "a JSON 404 without a code",
                canned_json(404, json!({ "message": "Not Found" })),
                ErrorClass::Retryable,
            ),
            (
                "a 404 with the status as code",
                canned_json(404, json!({ "code": "404", "message": "not found" })),
                ErrorClass::Retryable,
            ),
            (
                "API does not exist",
                canned_json(
                    404,
                    json!({ "error_code": "APIGW.0101", "error_msg": "The API does not exist or has not been published" }),
                ),
                ErrorClass::Terminal,
            ),
            (
                "VPC not found",
                canned_json(404, json!({ "code": "VPC.0003", "message": "VPC does not exist." })),
                ErrorClass::Retryable,
            ),
        ];
        for (what, answer, class) in not_gone {
            let server = serve_always(answer.clone()).await;
            let provider = otc_at(&server, true);
            for (op, result) in [
                ("release", provider.release(ID, "").await),
                ("unassociate", provider.unassociate(&unbind_port()).await),
                ("associate", provider.associate(ID, &port("port-1"), "").await),
            ] {
                let err = result.expect_err(what);
                assert_eq!(err.class(), class, "{op}: {what}: {err:?}");
            }
        }
        for body in [
            json!({ "code": "VPC.0504", "message": "Floating IP could not be found." }),
            json!({ "error_code": "VPC.0504", "error_msg": "Floating IP could not be found.", "request_id": "r" }),
        ] {
            let server = serve_always(canned_json(404, body)).await;
            let provider = otc_at(&server, true);
            let err = provider.release(ID, "").await.expect_err("gone");
            assert_eq!((err.class(), err.code.as_str()), (ErrorClass::Gone, "VPC.0504"));
        }
    })
    .await;
}

// ----- the status decides throttling and server errors -----

#[tokio::test]
async fn throttling_and_server_errors_win_over_the_body_code() {
    timeout(async {
        let cases: Vec<(Canned, bool, Option<Duration>)> = vec![
            (
                canned_json(429, json!({ "code": "VPC.0502", "message": "Tenant status is op_restricted." })).header("retry-after", "7"),
                true,
                Some(Duration::from_secs(7)),
            ),
            (
                canned_json(429, json!({ "code": "VPC.0504", "message": "Floating IP could not be found." }))
                    .header("retry-after", "100000"),
                true,
                Some(MAX_RETRY_AFTER),
            ),
            (canned(429, "<html>slow down</html>"), true, None),
            (
                canned_json(503, json!({ "code": "VPC.0504", "message": "Floating IP could not be found." })),
                false,
                None,
            ),
            (
                canned_json(500, json!({ "code": "VPC.0517", "message": "still bound" })),
                false,
                None,
            ),
            (canned_json(502, json!({ "code": "VPC.0521", "message": "quota" })), false, None),
            (canned(500, "<html>oops</html>"), false, None),
        ];
        for (answer, throttled, retry_after) in cases {
            let server = serve_always(answer.clone()).await;
            let provider = otc_at(&server, true);
            for err in [
                provider.release(ID, "").await.expect_err("refused"),
                provider.describe(&ids(&[ID])).await.expect_err("refused"),
            ] {
                let what = String::from_utf8_lossy(&answer.body).into_owned();
                assert_eq!(err.class(), ErrorClass::Retryable, "HTTP {}: {what}: {err:?}", answer.status);
                assert_eq!(err.is_throttled(), throttled, "HTTP {}: {what}", answer.status);
                assert_eq!(err.retry_after(), retry_after, "HTTP {}: {what}", answer.status);
            }
        }
    })
    .await;
}
