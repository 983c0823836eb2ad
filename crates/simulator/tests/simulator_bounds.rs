//! The simulator never aborts, never grows without bound and never shows a secret: hostile
//! counts, sizes, latencies, slow clients and oversized wire parameters, plus the
//! eventual-consistency fault (`hide-from-describe`). In process, without sockets (except the
//! connection-timeout tests, which use 127.0.0.1 on a paused clock).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use eip_alibaba::signing;
use eip_cloud::{CloudProvider, InstanceType, Operation};
use eip_simulator::limits::{BODY_READ_TIMEOUT, HEADER_READ_TIMEOUT, MAX_BODY_BYTES, MAX_LOGGED_STRING};
use eip_simulator::server::{self, Exchange};
use eip_simulator::{
    AdminError, CALL_LOG_MAX_BYTES, InstanceIds, Latencies, MAX_INSTANCES_PER_REGION, MAX_INSTANCES_PER_REQUEST, MAX_LATENCY,
    SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, SeedEip, Simulator, SimulatorConfig,
};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use support::alibaba_v1;

const ALI: &str = "cn-hangzhou";
const OTC: &str = "eu-de";
const EU_DE_PROJECT: &str = "00000000000000000000000051510000";

struct Sim {
    sim: Simulator,
    router: axum::Router,
}

fn sim() -> Sim {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(23));
    let router = server::router(sim.clone());
    Sim { sim, router }
}

impl Sim {
    async fn send(&self, method: &str, uri: &str, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Exchange {
        let headers: Vec<(String, Vec<u8>)> = headers.iter().map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())).collect();
        server::exchange(&self.router, method.as_bytes(), uri, &headers, body.into()).await
    }

    async fn admin(&self, method: &str, uri: &str, body: Value) -> (u16, Value) {
        let answer = self
            .send(method, uri, &[("content-type", "application/json")], body.to_string())
            .await;
        (answer.status, json_of(&answer))
    }

    /// A V1-signed Alibaba RPC call (form body).
    async fn alibaba(&self, params: &[(&str, &str)]) -> (u16, Value) {
        let mut params: BTreeMap<String, String> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        params.insert("RegionId".into(), ALI.into());
        params.insert("Version".into(), "2016-04-28".into());
        let params = alibaba_v1::sign_v1("POST", (SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET), params);
        let answer = self
            .send(
                "POST",
                "/",
                &[("content-type", "application/x-www-form-urlencoded")],
                signing::canonical_query(&params),
            )
            .await;
        (answer.status, json_of(&answer))
    }

    /// `POST /admin/regions/{region}/eips/{id}/hide-from-describe` with `body`.
    async fn hide(&self, region: &str, id: &str, body: Value) -> (u16, Value) {
        self.admin("POST", &format!("/admin/regions/{region}/eips/{id}/hide-from-describe"), body)
            .await
    }

    async fn otc_token(&self) -> String {
        let body = json!({
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": {"name": "sim-user", "password": "sim-password", "domain": {"name": "sim-domain"}}}},
                "scope": {"project": {"id": EU_DE_PROJECT}}
            }
        });
        let answer = self.send("POST", "/v3/auth/tokens", &[], body.to_string()).await;
        assert_eq!(answer.status, 201);
        answer.headers["x-subject-token"].to_str().expect("ASCII").to_owned()
    }

    async fn otc(&self, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
        let body = if body.is_null() { String::new() } else { body.to_string() };
        let answer = self.send(method, path, &[("x-auth-token", token)], body).await;
        (answer.status, json_of(&answer))
    }
}

fn json_of(answer: &Exchange) -> Value {
    serde_json::from_slice(&answer.body).unwrap_or(Value::Null)
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

// ----- 1, 2: instance counts -----

#[tokio::test]
async fn a_huge_instance_count_is_a_400_not_an_abort() {
    let s = sim();
    let (status, body) = s
        .admin(
            "POST",
            "/admin/regions/cn-hangzhou/instances",
            json!({"instanceType": "EcsInstance", "prefix": "i-x-", "count": 4_294_967_295u64}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("10000")), "{body}");

    let too_many = s.sim.add_instances(
        ALI,
        InstanceType::EcsInstance,
        InstanceIds::Prefixed {
            prefix: "i-y-".into(),
            count: u32::MAX,
        },
        0,
    );
    assert!(matches!(too_many, Err(AdminError::Invalid(_))), "{too_many:?}");
    let ids = vec!["i-z".to_owned(); MAX_INSTANCES_PER_REQUEST + 1];
    assert!(
        s.sim
            .add_instances(ALI, InstanceType::EcsInstance, InstanceIds::Ids(ids), 0)
            .is_err()
    );
    let long_id = vec![long(129)];
    assert!(
        s.sim
            .add_instances(ALI, InstanceType::EcsInstance, InstanceIds::Ids(long_id), 0)
            .is_err()
    );
}

#[tokio::test]
async fn a_region_holds_a_bounded_number_of_instances() {
    let s = sim();
    let before = s.sim.instances(ALI).expect("region").len();
    let mut batch = 0;
    let refused = loop {
        let result = s.sim.add_instances(
            ALI,
            InstanceType::EcsInstance,
            InstanceIds::Prefixed {
                prefix: format!("i-bulk{batch}-"),
                count: 10_000,
            },
            0,
        );
        if result.is_err() {
            break result;
        }
        batch += 1;
        assert!(batch <= 10, "the cap never bit");
    };
    assert!(
        matches!(refused, Err(AdminError::Invalid(ref e)) if e.contains("100000")),
        "{refused:?}"
    );
    let count = s.sim.instances(ALI).expect("region").len();
    assert_eq!(count, before + batch * 10_000);
    assert!(count <= MAX_INSTANCES_PER_REGION);
    // Through the admin API too, as a JSON 400.
    let (status, body) = s
        .admin(
            "POST",
            "/admin/regions/cn-hangzhou/instances",
            json!({"instanceType": "Nat", "prefix": "ngw-more-", "count": 10_000}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].is_string());
}

// ----- 3: the call log -----

#[tokio::test(start_paused = true)]
async fn the_call_log_is_bounded_by_bytes_and_cuts_long_strings() {
    let s = sim();
    let provider = s.sim.provider(ALI).expect("region");
    let ids: Vec<String> = (0..50).map(|n| format!("eip-{n}-{}", long(300))).collect();
    for _ in 0..1000 {
        provider.describe(&ids).await.expect("describes");
    }
    let huge_token = long(100_000);
    let err = provider.release("eip-nope", &huge_token).await.expect_err("refused");
    assert_eq!(err.code, "InvalidParameter");
    let calls = s.sim.calls();
    assert!(s.sim.call_log_bytes() <= CALL_LOG_MAX_BYTES, "{}", s.sim.call_log_bytes());
    assert!(calls.len() < 1001, "old records are dropped: {}", calls.len());
    assert!(calls.iter().flat_map(|c| &c.allocation_ids).all(|id| id.len() <= MAX_LOGGED_STRING));
    let last = calls.last().expect("logged");
    assert_eq!(last.client_token.as_ref().map(String::len), Some(MAX_LOGGED_STRING));
    // Counters still count everything.
    assert_eq!(s.sim.call_count(Operation::Describe), 1000);
}

// ----- 4: latencies -----

#[tokio::test]
async fn latencies_above_the_maximum_are_refused() {
    let s = sim();
    let max = u64::try_from(MAX_LATENCY.as_millis()).expect("fits");
    for (uri, field) in [
        ("/admin/latencies", "associateMs"),
        ("/admin/latencies", "releaseMs"),
        ("/admin/faults", "extraLatencyMs"),
    ] {
        for too_long in [max + 1, u64::MAX] {
            let (status, body) = s.admin("PUT", uri, json!({ field: too_long })).await;
            assert_eq!(status, 400, "{uri} {field}={too_long}: {body}");
            assert!(body["error"].as_str().is_some_and(|e| e.contains(field)), "{body}");
        }
        let (status, body) = s.admin("PUT", uri, json!({ field: max })).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(s.sim.latencies().release, MAX_LATENCY);
}

#[tokio::test(start_paused = true)]
async fn latencies_are_clamped_in_the_model() {
    let huge = Duration::from_millis(u64::MAX);
    let config = SimulatorConfig {
        latencies: Latencies {
            allocate: huge,
            associate: huge,
            unassociate: huge,
            release: huge,
        },
        ..SimulatorConfig::instant()
    };
    let sim = Simulator::new(config);
    assert_eq!(sim.latencies().associate, MAX_LATENCY);
    let provider = sim.provider(OTC).expect("region");
    // `Instant + Duration::MAX` used to abort here.
    let eip = provider.allocate(&Default::default()).await.expect("allocates").eip;
    assert_eq!(eip.raw_state, "PENDING_CREATE");
    tokio::time::advance(MAX_LATENCY).await;
    assert_eq!(sim.eip(OTC, &eip.allocation_id).map(|e| e.raw_state).as_deref(), Some("DOWN"));

    sim.set_latencies(Latencies {
        release: huge,
        ..Latencies::default()
    });
    assert_eq!(sim.latencies().release, MAX_LATENCY);
    sim.set_faults(eip_simulator::Faults {
        error_rate: 7.0,
        extra_latency: huge,
        slow: huge,
        hang: huge,
        ..eip_simulator::Faults::default()
    });
    let faults = sim.config().faults;
    assert_eq!(
        (faults.error_rate, faults.extra_latency, faults.slow, faults.hang),
        (1.0, MAX_LATENCY, MAX_LATENCY, MAX_LATENCY)
    );
}

// ----- 5: bodies and slow clients -----

#[tokio::test]
async fn bodies_over_the_limit_are_413_in_each_api_format() {
    let s = sim();
    let big = vec![b'a'; MAX_BODY_BYTES + 1];
    let admin = s.send("PUT", "/admin/faults", &[], big.clone()).await;
    assert_eq!(admin.status, 413);
    assert!(json_of(&admin)["error"].is_string());
    let alibaba = s.send("POST", "/", &[], big.clone()).await;
    assert_eq!(alibaba.status, 413);
    assert_eq!(json_of(&alibaba)["Code"], "RequestBodyTooLarge");
    assert!(alibaba.headers.contains_key("x-acs-request-id"));
    let otc = s.send("POST", &format!("/v1/{EU_DE_PROJECT}/publicips"), &[], big).await;
    assert_eq!(otc.status, 413);
    assert_eq!(json_of(&otc)["error_code"], "APIGW.0201");
    // A declared length over the limit is refused before anything is read.
    let declared = s
        .send("PUT", "/admin/latencies", &[("content-length", "1073741824")], Vec::new())
        .await;
    assert_eq!(declared.status, 413);
    // Exactly at the limit is read (and then refused as JSON, not as a size).
    let at_limit = s.send("PUT", "/admin/latencies", &[], vec![b' '; MAX_BODY_BYTES]).await;
    assert_eq!(at_limit.status, 200);
}

#[tokio::test(start_paused = true)]
async fn half_a_body_gets_408_after_the_body_timeout() {
    let s = sim();
    let chunks = futures::stream::iter([Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"{\"errorRate\""))])
        .chain(futures::stream::pending());
    let request = axum::http::Request::put("/admin/faults")
        .header("content-length", "100")
        .body(axum::body::Body::from_stream(chunks))
        .expect("request");
    let start = Instant::now();
    let response = tower::ServiceExt::oneshot(s.router.clone(), request).await.expect("infallible");
    assert_eq!(response.status(), 408);
    assert_eq!(start.elapsed(), BODY_READ_TIMEOUT);
}

async fn start_server() -> (Simulator, std::net::SocketAddr) {
    let sim = Simulator::new(SimulatorConfig::instant());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(server::serve(sim.clone(), listener, std::future::pending()));
    (sim, addr)
}

/// Reads until the server closes; `None` if it did not within an hour (of paused time).
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> Option<(Vec<u8>, Duration)> {
    let start = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3600), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| (received, start.elapsed()))
}

/// Connects to `addr`, sends `bytes` and reads what comes back until the server closes (see
/// [`read_until_closed`]; the time is counted from the end of the sending).
async fn send_raw(addr: std::net::SocketAddr, bytes: &[u8]) -> Option<(Vec<u8>, Duration)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connects");
    stream.write_all(bytes).await.expect("writes");
    read_until_closed(&mut stream).await
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_sends_nothing_or_half_a_head_is_closed() {
    let (_sim, addr) = start_server().await;
    let (received, took) = send_raw(addr, b"").await.expect("closed by the server");
    assert!(received.is_empty());
    assert!(took <= HEADER_READ_TIMEOUT + Duration::from_secs(1), "{took:?}");

    let (_, took) = send_raw(addr, b"GET /healthz HTTP/1.1\r\nHost: sim\r\nX-Slow: ")
        .await
        .expect("closed by the server");
    assert!(took <= HEADER_READ_TIMEOUT + Duration::from_secs(1), "{took:?}");

    // A prompt client is served as before.
    let (received, _) = send_raw(addr, b"GET /healthz HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n")
        .await
        .expect("answered and closed");
    assert!(received.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&received));
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_sends_half_a_body_gets_408() {
    let (_sim, addr) = start_server().await;
    let (received, took) = send_raw(
        addr,
        b"PUT /admin/faults HTTP/1.1\r\nHost: sim\r\nContent-Length: 100\r\n\r\n{\"errorRate\"",
    )
    .await
    .expect("answered and closed");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(took < BODY_READ_TIMEOUT + HEADER_READ_TIMEOUT + Duration::from_secs(1), "{took:?}");
}

// ----- 6: wire parameter lengths -----

#[tokio::test]
async fn alibaba_refuses_oversized_ids_tokens_and_tags_and_keeps_nothing() {
    let s = sim();
    let eip = s.sim.seed_eip(ALI, SeedEip::default()).expect("seeds").allocation_id;
    let token65 = long(65);
    let id129 = long(129);
    let tag129 = long(129);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("Action", "AllocateEipAddress"), ("ClientToken", &token65)],
            "InvalidClientToken.Malformed",
        ),
        (
            vec![("Action", "AllocateEipAddress"), ("ClientToken", "tök")],
            "InvalidClientToken.Malformed",
        ),
        (
            vec![("Action", "AllocateEipAddress"), ("Tag.1.Key", &tag129), ("Tag.1.Value", "v")],
            "InvalidTagKey.Malformed",
        ),
        (
            vec![("Action", "AllocateEipAddress"), ("Tag.1.Key", "k"), ("Tag.1.Value", &tag129)],
            "InvalidTagValue.Malformed",
        ),
        (vec![("Action", "AllocateEipAddress"), ("Name", &tag129)], "InvalidParameter"),
        (
            vec![
                ("Action", "AssociateEipAddress"),
                ("AllocationId", &id129),
                ("InstanceId", "i-sim-0001"),
            ],
            "InvalidParameter",
        ),
        (
            vec![("Action", "AssociateEipAddress"), ("AllocationId", &eip), ("InstanceId", &id129)],
            "InvalidParameter",
        ),
        (
            vec![
                ("Action", "AssociateEipAddress"),
                ("AllocationId", &eip),
                ("InstanceId", "i-sim-0001"),
                ("ClientToken", &token65),
            ],
            "InvalidClientToken.Malformed",
        ),
        (vec![("Action", "ReleaseEipAddress"), ("AllocationId", &id129)], "InvalidParameter"),
        (
            vec![("Action", "DescribeEipAddresses"), ("AllocationId", &id129)],
            "InvalidParameter",
        ),
        (
            vec![
                ("Action", "TagResources"),
                ("ResourceType", "EIP"),
                ("ResourceId.1", &id129),
                ("Tag.1.Key", "k"),
            ],
            "InvalidParameter",
        ),
    ];
    for (params, code) in cases {
        let (status, body) = s.alibaba(&params).await;
        assert_eq!((status, body["Code"].as_str()), (400, Some(code)), "{params:?}: {body}");
        assert!(body["RequestId"].is_string());
    }
    assert_eq!(s.sim.last_seq(), 0, "refused before the model saw them");
    assert_eq!(s.sim.eips(ALI).len(), 1);
    // The cloud's own maximum is fine.
    let (status, body) = s.alibaba(&[("Action", "AllocateEipAddress"), ("ClientToken", &long(64))]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn otc_refuses_oversized_ids_and_batches() {
    let s = sim();
    let token = s.otc_token().await;
    let eip = s.sim.seed_eip(OTC, SeedEip::default()).expect("seeds").allocation_id;
    let id129 = long(129);
    let p = EU_DE_PROJECT;
    let cases = [
        ("GET", format!("/v1/{p}/publicips/{id129}"), Value::Null, "code"),
        ("GET", format!("/v3/{p}/eip/publicips/{id129}"), Value::Null, "error_code"),
        ("GET", format!("/v1/{p}/publicips?id={id129}"), Value::Null, "code"),
        (
            "PUT",
            format!("/v1/{p}/publicips/{eip}"),
            json!({"publicip": {"port_id": id129}}),
            "code",
        ),
        (
            "POST",
            format!("/v3/{p}/eip/publicips/{eip}/associate-instance"),
            json!({"publicip": {"associate_instance_type": "PORT", "associate_instance_id": id129}}),
            "error_code",
        ),
        (
            "DELETE",
            format!("/v2/{p}/batchpublicips"),
            json!({"publicip_ids": (0..1001).map(|n| format!("id-{n}")).collect::<Vec<_>>()}),
            "error_code",
        ),
        (
            "PATCH",
            format!("/v2/{p}/batchpublicips"),
            json!({"publicip_ids": [id129]}),
            "error_code",
        ),
        (
            "POST",
            format!("/v2.0/{p}/publicips/{eip}/tags"),
            json!({"tag": {"key": long(37), "value": "v"}}),
            "code",
        ),
        (
            "POST",
            format!("/v2.0/{p}/publicips/{id129}/tags"),
            json!({"tag": {"key": "k", "value": "v"}}),
            "code",
        ),
    ];
    for (method, path, body, code_field) in cases {
        let (status, answer) = s.otc(&token, method, &path, body).await;
        assert_eq!(status, 400, "{method} {path}: {answer}");
        assert_eq!(answer[code_field], "VPC.0501", "{method} {path}: {answer}");
    }
    assert_eq!(s.sim.last_seq(), 0, "refused before the model saw them");
    let instances = s.sim.instances(OTC).expect("region");
    assert!(instances.iter().all(|i| i.instance_id.len() <= 128));
}

// ----- 7: secrets -----

#[tokio::test]
async fn the_admin_config_and_debug_output_hide_secrets() {
    let s = sim();
    let (status, config) = s.admin("GET", "/admin/config", Value::Null).await;
    assert_eq!(status, 200);
    let text = config.to_string();
    assert!(!text.contains(SIM_ACCESS_KEY_SECRET) && !text.contains("sim-password"), "{text}");
    assert_eq!(config["auth"]["accessKeys"][0]["id"], SIM_ACCESS_KEY_ID);
    assert_eq!(config["auth"]["accessKeys"][0]["secret"], "<redacted>");
    assert_eq!(config["auth"]["iamUsers"][0]["password"], "<redacted>");
    let debug = format!("{:?} {:?}", s.sim.config(), s.sim);
    assert!(!debug.contains(SIM_ACCESS_KEY_SECRET) && !debug.contains("sim-password"), "{debug}");
    // The simulator itself still knows them: signed calls work.
    let (status, _) = s.alibaba(&[("Action", "DescribeEipAddresses")]).await;
    assert_eq!(status, 200);
}

// ----- the eventual-consistency fault -----

#[tokio::test]
async fn hidden_eips_are_left_out_of_the_next_describe_answers() {
    let s = sim();
    let ali = s.sim.seed_eip(ALI, SeedEip::default()).expect("seeds").allocation_id;
    let otc = s.sim.seed_eip(OTC, SeedEip::default()).expect("seeds").allocation_id;

    // In process.
    assert_eq!(s.sim.hide_from_describe(ALI, &ali, 2), Ok(2));
    let provider = s.sim.provider(ALI).expect("region");
    let ids = vec![ali.clone()];
    assert!(provider.describe(&ids).await.expect("describes").is_empty());
    assert!(provider.describe(&ids).await.expect("describes").is_empty());
    assert_eq!(provider.describe(&ids).await.expect("describes").len(), 1);
    // Inspection and listings are not affected.
    assert!(s.sim.eip(ALI, &ali).is_some());

    // Alibaba wire protocol, through the admin route.
    let (status, body) = s.hide(ALI, &ali, json!({"answers": 1})).await;
    assert_eq!((status, body), (200, json!({"allocationId": ali, "hiddenAnswers": 1})));
    let (status, body) = s.alibaba(&[("Action", "DescribeEipAddresses"), ("AllocationId", &ali)]).await;
    assert_eq!((status, body["TotalCount"].as_u64()), (200, Some(0)), "{body}");
    assert_eq!(body["EipAddresses"]["EipAddress"], json!([]));
    let (_, body) = s.alibaba(&[("Action", "DescribeEipAddresses"), ("AllocationId", &ali)]).await;
    assert_eq!(body["TotalCount"].as_u64(), Some(1), "{body}");

    // OTC wire protocol: a 404 while hidden.
    let token = s.otc_token().await;
    let (status, _) = s.hide(OTC, &otc, json!({})).await;
    assert_eq!(status, 200);
    let path = format!("/v1/{EU_DE_PROJECT}/publicips/{otc}");
    let (status, body) = s.otc(&token, "GET", &path, Value::Null).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("VPC.0504")), "{body}");
    let (status, _) = s.otc(&token, "GET", &path, Value::Null).await;
    assert_eq!(status, 200);

    // 0 shows it at once; unknown EIPs and regions are 404s.
    s.sim.hide_from_describe(OTC, &otc, 5).expect("known");
    let (status, body) = s.hide(OTC, &otc, json!({"answers": 0})).await;
    assert_eq!((status, body["hiddenAnswers"].as_u64()), (200, Some(0)));
    let (status, _) = s.otc(&token, "GET", &path, Value::Null).await;
    assert_eq!(status, 200);
    let (status, _) = s.hide(OTC, "nope", json!({"answers": 1})).await;
    assert_eq!(status, 404);
    let (status, _) = s.hide(OTC, &otc, json!({"answers": -1})).await;
    assert_eq!(status, 400);
}
