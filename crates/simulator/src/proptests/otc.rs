//! The OTC / Huawei front end: arbitrary paths, methods, headers and bodies; garbage bodies.

use proptest::prelude::*;
use serde_json::Value;

use super::strategies::*;
use super::*;

/// Every OTC / Huawei route: method, path (`{p}` the project, `{id}` an ID) and whether it reads
/// a JSON body.
const OTC_ROUTES: &[(&str, &str, bool)] = &[
    ("GET", "/v1/{p}/publicips", false),
    ("POST", "/v1/{p}/publicips", true),
    ("GET", "/v1/{p}/publicips/{id}", false),
    ("PUT", "/v1/{p}/publicips/{id}", true),
    ("DELETE", "/v1/{p}/publicips/{id}", false),
    ("PATCH", "/v2/{p}/batchpublicips", true),
    ("DELETE", "/v2/{p}/batchpublicips", true),
    ("GET", "/v2.0/{p}/publicips/{id}/tags", false),
    ("POST", "/v2.0/{p}/publicips/{id}/tags", true),
    ("POST", "/v2.0/{p}/publicips/{id}/tags/action", true),
    ("DELETE", "/v2.0/{p}/publicips/{id}/tags/{id}", false),
    ("GET", "/v3/{p}/eip/publicips", false),
    ("GET", "/v3/{p}/eip/publicips/{id}", false),
    ("POST", "/v3/{p}/eip/publicips/{id}/associate-instance", true),
    ("POST", "/v3/{p}/eip/publicips/{id}/disassociate-instance", false),
    ("POST", "/v3/auth/tokens", true),
    ("DELETE", "/v3/auth/tokens", false),
    ("GET", "/v3/projects", false),
];

/// OTC / Huawei routes with arbitrary paths, methods, headers and bodies, with and without a
/// valid token: never a 5xx.
#[test]
fn otc_paths_and_bodies_never_fail_the_server() {
    let harness = Harness::new();
    let token = harness.otc_token();
    let route = prop::sample::select(OTC_ROUTES.iter().map(|(method, path, _)| (*method, *path)).collect::<Vec<_>>());
    let eips: Vec<String> = (0..5)
        .map(|_| {
            harness
                .sim
                .seed_eip("eu-de", crate::SeedEip::default())
                .expect("seeds")
                .allocation_id
        })
        .collect();
    let id = prop_oneof![2 => prop::sample::select(eips), 1 => path_segment()];
    let strategy = (
        route,
        prop_oneof![3 => Just(EU_DE_PROJECT.to_owned()), 1 => path_segment()],
        id,
        prop_oneof![6 => Just(None), 1 => method().prop_map(Some)],
        prop_oneof![
            Just(String::new()),
            (prop::sample::select(vec!["id", "marker", "limit", "name", "x"]), text())
                .prop_map(|(k, v)| format!("?{k}={}", signing::percent_encode(&v))),
        ],
        prop_oneof![3 => Just(true), 1 => Just(false)],
        headers(),
        body(),
    );
    runner(0x07c0_0001)
        .run(
            &strategy,
            |((usual, route), project, id, method, query, authed, mut headers, body)| {
                let method = method.unwrap_or_else(|| usual.as_bytes().to_vec());
                let path = route
                    .replace("{p}", &project)
                    .replace("{id}", if id.is_empty() { "x" } else { &id });
                if authed {
                    headers.retain(|(name, _)| name != "x-auth-token" && name != "authorization");
                    headers.push(header("x-auth-token", token.clone()));
                }
                let answer = harness.send(&method, &format!("{path}{query}"), &headers, body);
                prop_assert!(answer.status < 500, "{} {path}{query}: {:?}", answer.status, answer.body);
                if !authed && path.starts_with("/v1/") {
                    prop_assert!((400..500).contains(&answer.status), "{} {path}", answer.status);
                }
                Ok(())
            },
        )
        .expect("property holds");
    harness.assert_bounded_log();
}

/// OTC routes that read a JSON body answer garbage with a 4xx in the flavour's format.
#[test]
fn otc_garbage_bodies_are_client_errors() {
    let harness = Harness::new();
    let token = harness.otc_token();
    let with_body = OTC_ROUTES.iter().filter(|(_, _, body)| *body);
    let route = prop::sample::select(with_body.map(|(method, path, _)| (*method, *path)).collect::<Vec<_>>());
    runner(0x07c0_0002)
        .run(&(route, path_segment(), garbage()), |((method, route), id, body)| {
            let path = route
                .replace("{p}", EU_DE_PROJECT)
                .replace("{id}", if id.is_empty() { "x" } else { &id });
            let answer = harness.send(method.as_bytes(), &path, &[header("x-auth-token", token.clone())], body);
            prop_assert!(
                (400..500).contains(&answer.status),
                "{} {method} {path}: {:?}",
                answer.status,
                answer.body
            );
            let error: Value = serde_json::from_slice(&answer.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let shaped = error["code"].is_string() || error["error_code"].is_string() || error["error"]["code"].is_number();
            prop_assert!(shaped, "{error}");
            Ok(())
        })
        .expect("property holds");
    assert_eq!(harness.sim.last_seq(), 0, "garbage reached the model");
}
