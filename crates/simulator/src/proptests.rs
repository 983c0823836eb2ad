//! Property tests of the request parsers: arbitrary methods, paths, queries, headers and bodies
//! through the whole router ([`server::exchange`], no sockets). Nothing may panic, no answer may
//! be a 5xx, garbage gets a 4xx, and nothing oversized is kept.
//!
//! Deterministic (fixed seed, no failure files) and on a paused clock; each property runs
//! [`CASES`] cases.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use serde_json::{Value, json};

use super::limits::{MAX_ID_LEN, MAX_LOGGED_STRING};
use super::server::{self, Exchange};
use super::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, Simulator, SimulatorConfig};
use eip_alibaba::signing;

const CASES: u32 = 2000;
const EU_DE_PROJECT: &str = "00000000000000000000000051510000";

fn runner(seed: u64) -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    })
}

/// A simulator, its router and a paused single-threaded runtime.
struct Harness {
    rt: tokio::runtime::Runtime,
    sim: Simulator,
    router: axum::Router,
}

impl Harness {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        let sim = Simulator::new(SimulatorConfig::instant().with_seed(17));
        let router = server::router(sim.clone());
        Harness { rt, sim, router }
    }

    fn send(&self, method: &[u8], uri: &str, headers: &[(String, Vec<u8>)], body: Vec<u8>) -> Exchange {
        self.rt.block_on(server::exchange(&self.router, method, uri, headers, body))
    }

    /// An IAM token scoped to eu-de.
    fn otc_token(&self) -> String {
        let body = json!({
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": {"name": "sim-user", "password": "sim-password", "domain": {"name": "sim-domain"}}}},
                "scope": {"project": {"id": EU_DE_PROJECT}}
            }
        });
        let answer = self.send(b"POST", "/v3/auth/tokens", &[], body.to_string().into_bytes());
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        answer
            .headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .expect("token")
            .to_owned()
    }

    /// Nothing the simulator logged is longer than the limits allow.
    fn assert_bounded_log(&self) {
        for call in self.sim.calls() {
            assert!(call.allocation_ids.iter().all(|id| id.len() <= MAX_LOGGED_STRING));
            assert!(call.client_token.iter().all(|t| t.len() <= MAX_LOGGED_STRING));
        }
        for region in self.sim.regions() {
            for eip in self.sim.eips(&region.name) {
                assert!(eip.tags.iter().all(|(k, v)| k.len() <= 128 && v.len() <= 512), "{eip:?}");
                assert!(eip.bound_to.iter().all(|b| b.instance_id.len() <= MAX_ID_LEN));
            }
        }
    }
}

fn header(name: &str, value: impl Into<Vec<u8>>) -> (String, Vec<u8>) {
    (name.to_owned(), value.into())
}

// ----- strategies -----

/// Strings that parsers meet: empty, short, long, unicode, control characters, numbers.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9_.-]{0,12}",
        2 => "\\PC{0,24}",
        1 => "[\\x00-\\x7f]{0,16}",
        1 => Just(String::new()),
        1 => (129usize..300).prop_map(|n| "x".repeat(n)),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => Just("18446744073709551616".to_owned()),
    ]
}

fn alibaba_param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Action",
            "Version",
            "RegionId",
            "AllocationId",
            "InstanceId",
            "InstanceType",
            "PrivateIpAddress",
            "ClientToken",
            "Bandwidth",
            "InstanceChargeType",
            "InternetChargeType",
            "ISP",
            "Name",
            "Description",
            "Tag.1.Key",
            "Tag.1.Value",
            "Tag.21.Key",
            "Tag.0.Key",
            "Tag.x.Key",
            "Tag.99999999999999999999.Key",
            "Force",
            "PageNumber",
            "PageSize",
            "EipAddress",
            "Status",
            "ResourceType",
            "ResourceId.1",
            "ResourceId.2",
            "RoleArn",
            "OIDCProviderArn",
            "OIDCToken",
            "DurationSeconds",
            "RoleSessionName",
            "SecurityToken",
            "Signature",
            "SignatureNonce",
            "Timestamp",
            "AccessKeyId",
            "SignatureMethod",
        ])
        .prop_map(str::to_owned),
        text(),
    ]
}

fn alibaba_action() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "AllocateEipAddress", "AssociateEipAddress", "UnassociateEipAddress", "ReleaseEipAddress", "DescribeEipAddresses",
            "TagResources", "UnTagResources", "AssumeRoleWithOIDC",
        ])
        .prop_map(str::to_owned),
        1 => text(),
    ]
}

fn alibaba_params() -> impl Strategy<Value = BTreeMap<String, String>> {
    (alibaba_action(), btree_map(alibaba_param_name(), text(), 0..10)).prop_map(|(action, mut params)| {
        params.insert("Action".into(), action);
        params
    })
}

/// Parameters with plausible values for the EIP actions (known EIPs and instances, valid
/// types) mixed with arbitrary ones, so that signed requests get past the mandatory checks.
fn plausible_alibaba_params(eips: Vec<String>) -> impl Strategy<Value = BTreeMap<String, String>> {
    fn maybe<S: Strategy<Value = String>>(s: S) -> impl Strategy<Value = Option<String>> {
        prop::option::weighted(0.7, s)
    }
    let allocation_id = prop_oneof![3 => prop::sample::select(eips), 1 => text()];
    let instance_id = prop_oneof![3 => "i-sim-00(0[1-9]|1[0-9])", 1 => "ngw-sim-000[1-3]", 1 => text()];
    let instance_type = prop_oneof![
        3 => prop::sample::select(vec!["EcsInstance", "Nat", "HaVip", "IpAddress", "SlbInstance", "NetworkInterface"]).prop_map(str::to_owned),
        1 => text(),
    ];
    let token = prop_oneof![3 => "[a-z0-9-]{1,64}", 1 => text()];
    (
        alibaba_params(),
        maybe(allocation_id),
        maybe(instance_id),
        maybe(instance_type),
        maybe(token),
        maybe(prop_oneof!["[a-z]{1,8}", text()]),
    )
        .prop_map(|(mut params, allocation_id, instance_id, instance_type, token, tag)| {
            for (name, value) in [
                ("AllocationId", allocation_id),
                ("InstanceId", instance_id),
                ("InstanceType", instance_type),
                ("ClientToken", token),
                ("Tag.1.Key", tag.clone()),
                ("Tag.1.Value", tag),
            ] {
                if let Some(value) = value {
                    params.insert(name.to_owned(), value);
                }
            }
            params
        })
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "publicip", "bandwidth", "type", "ip_version", "alias", "name", "size", "share_type", "charge_mode", "port_id",
            "publicip_ids", "tags", "tag", "action", "key", "value", "auth", "identity", "scope", "methods", "password", "user",
            "domain", "project", "id", "associate_instance_type", "associate_instance_id", "instanceType", "instanceId", "ids",
            "prefix", "count", "natEntries", "answers", "errorRate", "extraLatencyMs", "allocateMs", "associateMs", "unassociateMs",
            "releaseMs", "mutatingPerSecond", "describePerSecond", "boundTo", "chargeType", "locked", "deletionProtection",
            "bandwidthMbps", "privateIpAddress",
        ])
        .prop_map(str::to_owned),
        1 => text(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (0u64..30).prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::String),
        prop::sample::select(vec![
            "PORT",
            "NATGW",
            "ELB",
            "5_bgp",
            "PER",
            "bandwidth",
            "create",
            "delete",
            "EcsInstance",
            "Nat"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(json_key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: JSON (mostly objects), raw bytes, or nothing.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => btree_map(json_key(), json_value(), 0..6).prop_map(|m| Value::Object(m.into_iter().collect()).to_string().into_bytes()),
        2 => json_value().prop_map(|v| v.to_string().into_bytes()),
        2 => vec(any::<u8>(), 0..256),
        1 => Just(Vec::new()),
    ]
}

/// Bytes that are neither empty nor whitespace nor valid JSON.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 1..256).prop_filter("not JSON", |bytes| {
        !bytes.iter().all(u8::is_ascii_whitespace) && serde_json::from_slice::<Value>(bytes).is_err()
    })
}

fn path_segment() -> impl Strategy<Value = String> {
    text().prop_map(|s| signing::percent_encode(&s))
}

fn method() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE"]).prop_map(|m| m.as_bytes().to_vec()),
        1 => "[A-Z]{1,8}".prop_map(String::into_bytes),
        1 => vec(any::<u8>(), 0..8),
    ]
}

/// Headers a client might send, valid or not.
fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "authorization",
            "content-type",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-content-sha256",
            "x-acs-action",
            "x-acs-version",
            "x-acs-security-token",
            "x-sdk-date",
            "x-project-id",
            "x-auth-token",
            "x-subject-token",
            "host",
            "content-length",
        ])
        .prop_map(str::to_owned),
        "[a-z-]{1,12}",
    ];
    let value = prop_oneof![
        text().prop_map(String::into_bytes),
        "ACS3-HMAC-SHA256 Credential=[A-Za-z0-9]{0,24},SignedHeaders=[a-z;-]{0,40},Signature=[0-9a-f]{0,64}".prop_map(String::into_bytes),
        "SDK-HMAC-SHA256 Access=[A-Za-z0-9]{0,24}, SignedHeaders=[a-z;-]{0,40}, Signature=[0-9a-f]{0,64}".prop_map(String::into_bytes),
        Just(b"application/x-www-form-urlencoded".to_vec()),
        Just(b"application/json".to_vec()),
        vec(any::<u8>(), 0..32),
    ]
    // hyper refuses control characters in header values before any handler runs.
    .prop_map(|value: Vec<u8>| {
        value
            .into_iter()
            .map(|b| if (b < 0x20 && b != b'\t') || b == 0x7f { b'?' } else { b })
            .collect::<Vec<u8>>()
    });
    vec((name, value), 0..5)
}

fn form(params: &BTreeMap<String, String>) -> String {
    signing::canonical_query(params)
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// `params` signed with V1 by the simulator's access key (fresh nonce, current timestamp).
fn sign_v1(method: &str, mut params: BTreeMap<String, String>) -> BTreeMap<String, String> {
    params.insert("AccessKeyId".into(), SIM_ACCESS_KEY_ID.into());
    params.insert("SignatureMethod".into(), signing::V1_METHOD.into());
    params.insert("SignatureVersion".into(), signing::V1_VERSION.into());
    params.insert("Timestamp".into(), chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    params.insert("SignatureNonce".into(), format!("prop-{}", NONCE.fetch_add(1, Ordering::Relaxed)));
    params.remove("Signature");
    let string_to_sign = signing::v1_string_to_sign(method, &params);
    params.insert("Signature".into(), signing::v1_signature(SIM_ACCESS_KEY_SECRET, &string_to_sign));
    params
}

// ----- properties -----

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
            let seed = super::SeedEip::default();
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

/// OTC / Huawei routes with arbitrary paths, methods, headers and bodies, with and without a
/// valid token: never a 5xx.
#[test]
fn otc_paths_and_bodies_never_fail_the_server() {
    let harness = Harness::new();
    let token = harness.otc_token();
    let route = prop::sample::select(vec![
        ("GET", "/v1/{p}/publicips"),
        ("POST", "/v1/{p}/publicips"),
        ("GET", "/v1/{p}/publicips/{id}"),
        ("PUT", "/v1/{p}/publicips/{id}"),
        ("DELETE", "/v1/{p}/publicips/{id}"),
        ("PATCH", "/v2/{p}/batchpublicips"),
        ("DELETE", "/v2/{p}/batchpublicips"),
        ("GET", "/v2.0/{p}/publicips/{id}/tags"),
        ("POST", "/v2.0/{p}/publicips/{id}/tags"),
        ("POST", "/v2.0/{p}/publicips/{id}/tags/action"),
        ("DELETE", "/v2.0/{p}/publicips/{id}/tags/{id}"),
        ("GET", "/v3/{p}/eip/publicips"),
        ("GET", "/v3/{p}/eip/publicips/{id}"),
        ("POST", "/v3/{p}/eip/publicips/{id}/associate-instance"),
        ("POST", "/v3/{p}/eip/publicips/{id}/disassociate-instance"),
        ("POST", "/v3/auth/tokens"),
        ("DELETE", "/v3/auth/tokens"),
        ("GET", "/v3/projects"),
    ]);
    let eips: Vec<String> = (0..5)
        .map(|_| {
            harness
                .sim
                .seed_eip("eu-de", super::SeedEip::default())
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
    let route = prop::sample::select(vec![
        ("POST", "/v1/{p}/publicips"),
        ("PUT", "/v1/{p}/publicips/{id}"),
        ("PATCH", "/v2/{p}/batchpublicips"),
        ("DELETE", "/v2/{p}/batchpublicips"),
        ("POST", "/v2.0/{p}/publicips/{id}/tags"),
        ("POST", "/v2.0/{p}/publicips/{id}/tags/action"),
        ("POST", "/v3/{p}/eip/publicips/{id}/associate-instance"),
        ("POST", "/v3/auth/tokens"),
    ]);
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

fn admin_route() -> impl Strategy<Value = (String, String)> {
    let eip = "eip-{id}";
    prop_oneof![
        Just(("GET".into(), "/healthz".into())),
        Just(("GET".into(), "/admin/config".into())),
        Just(("GET".into(), "/admin/regions".into())),
        Just(("GET".into(), "/admin/regions/{r}/eips".into())),
        Just(("POST".into(), "/admin/regions/{r}/eips".into())),
        Just(("GET".into(), format!("/admin/regions/{{r}}/eips/{eip}"))),
        prop::sample::select(vec!["bind", "unbind", "release", "lock", "unlock", "hide-from-describe", "explode"])
            .prop_map(move |action| ("POST".to_owned(), format!("/admin/regions/{{r}}/eips/{eip}/{action}"))),
        Just(("GET".into(), "/admin/regions/{r}/instances".into())),
        Just(("POST".into(), "/admin/regions/{r}/instances".into())),
        Just(("PUT".into(), "/admin/regions/{r}/instances/{id}/nat-entries".into())),
        Just(("GET".into(), "/admin/calls?since={id}".into())),
        Just(("GET".into(), "/admin/counters".into())),
        Just(("PUT".into(), "/admin/faults".into())),
        Just(("PUT".into(), "/admin/latencies".into())),
        Just(("PUT".into(), "/admin/rate-limits".into())),
    ]
}

/// Admin bodies, counts of any size included: never a 5xx, never a panic, bounded state.
#[test]
fn admin_bodies_never_fail_the_server() {
    let harness = Harness::new();
    let count = prop_oneof![
        4 => (0u64..20).prop_map(|n| json!(n)),
        1 => prop::sample::select(vec![10_001u64, 4_294_967_295, 4_294_967_296, u64::MAX]).prop_map(|n| json!(n)),
        1 => any::<i64>().prop_map(|n| json!(n)),
    ];
    let instances_body = (
        prop::sample::select(vec!["EcsInstance", "Nat", "Port", "Bogus"]),
        prop::option::of(text()),
        count,
        prop::option::of(vec(text(), 0..4)),
    )
        .prop_map(|(kind, prefix, count, ids)| {
            let mut body = json!({ "instanceType": kind, "count": count });
            if let Some(prefix) = prefix {
                body["prefix"] = json!(prefix);
            }
            if let Some(ids) = ids {
                body["ids"] = json!(ids);
            }
            body.to_string().into_bytes()
        });
    let strategy = (
        admin_route(),
        prop_oneof![Just("cn-hangzhou".to_owned()), Just("eu-de".to_owned()), path_segment()],
        path_segment(),
        prop_oneof![3 => body(), 1 => instances_body],
    );
    runner(0xad31_0001)
        .run(&strategy, |((method, route), region, id, body)| {
            let uri = route.replace("{r}", &region).replace("{id}", if id.is_empty() { "x" } else { &id });
            let answer = harness.send(method.as_bytes(), &uri, &[header("content-type", "application/json")], body);
            prop_assert!(answer.status < 500, "{} {method} {uri}: {:?}", answer.status, answer.body);
            if answer.status >= 400 {
                let error: Value = serde_json::from_slice(&answer.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(error["error"].is_string(), "{error}");
            }
            Ok(())
        })
        .expect("property holds");
    for region in harness.sim.regions() {
        let instances = harness.sim.instances(&region.name).expect("known region");
        assert!(instances.len() <= super::MAX_INSTANCES_PER_REGION);
        assert!(instances.iter().all(|i| i.instance_id.len() <= MAX_ID_LEN));
    }
    let latencies = harness.sim.latencies();
    assert!(latencies.associate <= super::MAX_LATENCY && latencies.release <= super::MAX_LATENCY);
    assert!(harness.sim.config().faults.extra_latency <= super::MAX_LATENCY);
}

/// Admin routes that read a body answer garbage with a JSON 400.
#[test]
fn admin_garbage_bodies_are_client_errors() {
    let harness = Harness::new();
    let eip = harness
        .sim
        .seed_eip("eu-de", super::SeedEip::default())
        .expect("seeds")
        .allocation_id;
    let route = prop::sample::select(vec![
        ("POST", "/admin/regions/eu-de/eips".to_owned()),
        ("POST", format!("/admin/regions/eu-de/eips/{eip}/bind")),
        ("POST", format!("/admin/regions/eu-de/eips/{eip}/hide-from-describe")),
        ("POST", "/admin/regions/eu-de/instances".to_owned()),
        ("PUT", "/admin/regions/eu-de/instances/ngw-sim-0001/nat-entries".to_owned()),
        ("PUT", "/admin/faults".to_owned()),
        ("PUT", "/admin/latencies".to_owned()),
        ("PUT", "/admin/rate-limits".to_owned()),
    ]);
    runner(0xad31_0002)
        .run(&(route, garbage()), |((method, uri), body)| {
            let answer = harness.send(method.as_bytes(), &uri, &[], body);
            prop_assert_eq!(answer.status, 400, "{} {}: {:?}", method, uri, answer.body);
            let error: Value = serde_json::from_slice(&answer.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(error["error"].is_string(), "{}", error);
            Ok(())
        })
        .expect("property holds");
}
