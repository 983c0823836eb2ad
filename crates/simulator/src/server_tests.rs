use std::io::{Read, Write};
use std::net::SocketAddr;

use serde_json::Value;

use super::*;
use crate::SimulatorConfig;
use eip_cloud::{AllocateRequest, CloudProvider};

/// One HTTP/1.1 exchange over a plain socket (the crate has no HTTP client dependency).
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let raw = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connects");
        stream.write_all(request.as_bytes()).expect("writes");
        let mut raw = String::new();
        stream.read_to_string(&mut raw).expect("reads");
        raw
    })
    .await
    .expect("joins");
    let (head, body) = raw.split_once("\r\n\r\n").expect("has a header block");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("has a status");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn admin_routes_over_tcp() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(3));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("has an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(sim.clone(), listener, async move {
        let _ = stopped.await;
    }));

    let (status, body) = http(addr, "GET", "/healthz", "").await;
    assert_eq!((status, body), (200, json!({ "status": "ok" })));

    // Seed a bound EIP, then unbind it out of band.
    let (status, eip) = http(
        addr,
        "POST",
        "/admin/regions/eu-de/eips",
        r#"{"boundTo": {"instanceType": "Port", "instanceId": "port-sim-0001"}, "tags": {"team": "a"}}"#,
    )
    .await;
    assert_eq!(status, 201, "{eip}");
    assert_eq!(eip["rawState"], "ACTIVE");
    let id = eip["allocationId"].as_str().expect("has an id").to_owned();
    let (status, eip) = http(addr, "POST", &format!("/admin/regions/eu-de/eips/{id}/unbind"), "").await;
    assert_eq!((status, eip["rawState"].as_str()), (200, Some("DOWN")));
    let (status, eip) = http(addr, "POST", &format!("/admin/regions/eu-de/eips/{id}/lock"), "").await;
    assert_eq!(
        (status, eip["rawState"].as_str(), eip["phase"].as_str()),
        (200, Some("FREEZED"), Some("Locked"))
    );

    let (status, list) = http(addr, "GET", "/admin/regions/eu-de/eips", "").await;
    assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(1)));

    // Errors are JSON with 4xx.
    let (status, body) = http(addr, "GET", "/admin/regions/mars-1/eips", "").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().is_some_and(|e| e.contains("mars-1")), "{body}");
    let (status, body) = http(addr, "POST", "/admin/regions/eu-de/eips", "{not json").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = http(addr, "POST", &format!("/admin/regions/eu-de/eips/{id}/explode"), "").await;
    assert_eq!(status, 404);

    // Instances and NAT entries.
    let (status, body) = http(
        addr,
        "POST",
        "/admin/regions/cn-hangzhou/instances",
        r#"{"instanceType": "Nat", "prefix": "ngw-x-", "count": 2, "natEntries": 1}"#,
    )
    .await;
    assert_eq!((status, body), (200, json!({ "ids": ["ngw-x-0001", "ngw-x-0002"] })));
    let (status, body) = http(
        addr,
        "PUT",
        "/admin/regions/cn-hangzhou/instances/ngw-x-0002/nat-entries",
        r#"{"count": 4}"#,
    )
    .await;
    assert_eq!((status, body["natEntries"].as_u64()), (200, Some(4)));

    // Provider calls show up in the log and counters; settings can be changed.
    let provider = sim.provider("cn-hangzhou").expect("known region");
    provider
        .allocate(&AllocateRequest {
            client_token: "t-1".into(),
            ..Default::default()
        })
        .await
        .expect("allocates");
    let (status, calls) = http(addr, "GET", "/admin/calls?since=0", "").await;
    assert_eq!(status, 200);
    assert_eq!(calls[0]["operation"], "Allocate");
    assert_eq!(calls[0]["clientToken"], "t-1");
    let (_, calls) = http(addr, "GET", "/admin/calls?since=1", "").await;
    assert_eq!(calls, json!([]));
    let (status, _) = http(addr, "GET", "/admin/calls?since=abc", "").await;
    assert_eq!(status, 400);
    let (_, counters) = http(addr, "GET", "/admin/counters", "").await;
    assert_eq!(
        counters,
        json!([{ "operation": "Allocate", "outcome": "Ok", "code": null, "count": 1 }])
    );
    let (status, _) = http(addr, "PUT", "/admin/rate-limits", r#"{"mutatingPerSecond": 5}"#).await;
    assert_eq!(status, 200);
    assert_eq!(sim.config().rate_limits.mutating_per_second, Some(5));
    let (status, _) = http(addr, "PUT", "/admin/faults", r#"{"errorRate": 2.0}"#).await;
    assert_eq!(status, 400);
    let (status, body) = http(addr, "PUT", "/admin/latencies", r#"{"associateMs": 1500}"#).await;
    assert_eq!((status, body["associateMs"].as_u64()), (200, Some(1500)));

    let _ = stop.send(());
    server.await.expect("joins").expect("serves");
}
