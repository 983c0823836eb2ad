//! The Alibaba RPC front end: signature checks and signed requests with arbitrary parameters.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;

use super::strategies::*;
use super::*;

/// Unsigned or wrongly signed Alibaba RPC requests: always a 4xx, except a well-formed
/// `AssumeRoleWithOIDC` (which needs no signature).
#[test]
fn alibaba_rpc_parsing_and_signature_checks_never_fail_open() {
    let harness = Harness::new();
    let strategy = (
        prop::bool::ANY,
        alibaba_params(),
        prop_oneof![Just(None), "[ -~]{0,120}".prop_map(Some)],
        vec(any::<u8>(), 0..200),
        headers(),
        prop::bool::ANY,
    );
    runner(0xa11b_0001)
        .run(&strategy, |(post, params, raw_query, raw_body, mut headers, form_body)| {
            let query = match &raw_query {
                Some(raw) => raw.replace(['#', ' '], ""),
                None if post => String::new(),
                None => form(&params),
            };
            let body = match (post, form_body) {
                (true, true) => form(&params).into_bytes(),
                (true, false) => raw_body,
                (false, _) => Vec::new(),
            };
            if post && form_body {
                headers.push(header("content-type", "application/x-www-form-urlencoded"));
            }
            let uri = if query.is_empty() { "/".to_owned() } else { format!("/?{query}") };
            let answer = harness.send(if post { b"POST" } else { b"GET" }, &uri, &headers, body);
            prop_assert!(answer.status < 500, "{} {uri}: {:?}", answer.status, answer.body);
            let sts = params.get("Action").map(String::as_str) == Some("AssumeRoleWithOIDC");
            if !sts {
                prop_assert!((400..500).contains(&answer.status), "{} {uri}: {:?}", answer.status, answer.body);
            }
            // (An answer without headers is `exchange` refusing an invalid URI, as hyper would.)
            if answer.status >= 400 && !answer.headers.is_empty() {
                let error: Value = serde_json::from_slice(&answer.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(error["Code"].is_string() && error["RequestId"].is_string(), "{error}");
                prop_assert!(answer.headers.contains_key("x-acs-request-id"));
            }
            Ok(())
        })
        .expect("property holds");
    // No unsigned request reached the model.
    assert_eq!(harness.sim.last_seq(), 0);
}

/// Correctly signed (V1) requests with arbitrary parameters: never a 5xx; oversized IDs and
/// tokens are refused with a 4xx and never kept.
#[test]
fn alibaba_signed_requests_with_arbitrary_parameters() {
    let harness = Harness::new();
    let eips: Vec<String> = (0..5)
        .map(|_| {
            let seed = crate::SeedEip::default();
            harness.sim.seed_eip("cn-hangzhou", seed).expect("seeds").allocation_id
        })
        .collect();
    let strategy = (prop::bool::ANY, plausible_alibaba_params(eips), prop::bool::weighted(0.8));
    runner(0xa11b_0002)
        .run(&strategy, |(post, params, regional)| {
            let mut params = params;
            if regional {
                params.insert("RegionId".into(), "cn-hangzhou".into());
            }
            let method = if post { "POST" } else { "GET" };
            let signed = sign_v1(method, params.clone());
            let (uri, headers, body) = if post {
                (
                    "/".to_owned(),
                    vec![header("content-type", "application/x-www-form-urlencoded")],
                    form(&signed).into_bytes(),
                )
            } else {
                (format!("/?{}", form(&signed)), Vec::new(), Vec::new())
            };
            let answer = harness.send(method.as_bytes(), &uri, &headers, body);
            prop_assert!(answer.status < 500, "{}: {:?}", answer.status, answer.body);
            // The parameters each action keeps, and must therefore bound.
            let kept: &[&str] = match params.get("Action").map(String::as_str) {
                Some("AllocateEipAddress") => &["ClientToken"],
                Some("AssociateEipAddress" | "UnassociateEipAddress") => &["AllocationId", "InstanceId", "ClientToken"],
                Some("ReleaseEipAddress") => &["AllocationId", "ClientToken"],
                _ => &[],
            };
            let oversized = kept.iter().any(|name| {
                let max = if *name == "ClientToken" { 64 } else { MAX_ID_LEN };
                params.get(*name).is_some_and(|v| v.len() > max)
            });
            if oversized {
                prop_assert!((400..500).contains(&answer.status), "{}: {:?}", answer.status, answer.body);
            }
            Ok(())
        })
        .expect("property holds");
    harness.assert_bounded_log();
}
