use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::*;
use crate::model;
use crate::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, SimulatorConfig};
use eip_alibaba::client::{self, Endpoint, RpcClient};
use eip_alibaba::credentials::{Credentials, parse_temporary_keys};
use eip_api::AlibabaSignatureVersion;
use eip_cloud::{BindTarget, InstanceType, Operation};

async fn serve() -> (Simulator, Endpoint) {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(5));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    let router = super::super::server::router(sim.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (sim, Endpoint::parse(&format!("http://{addr}")).expect("endpoint"))
}

fn sim_keys() -> Credentials {
    Credentials {
        access_key_id: SIM_ACCESS_KEY_ID.into(),
        access_key_secret: SIM_ACCESS_KEY_SECRET.into(),
        security_token: None,
    }
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn describe_params() -> BTreeMap<String, String> {
    params(&[("RegionId", "cn-hangzhou")])
}

/// Sends a request the test built by hand (not through the client).
async fn unsigned(request: reqwest::RequestBuilder) -> reqwest::Response {
    request.send().await.expect("sends")
}

async fn send(request: reqwest::RequestBuilder) -> Result<Value, CloudError> {
    client::execute(Operation::Describe, request).await
}

#[tokio::test]
async fn temporary_keys_need_their_security_token() {
    let (_sim, endpoint) = serve().await;
    let http = eip_cloud::http::client().expect("client");
    let answer = http
        .post(endpoint.url.clone())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=AssumeRoleWithOIDC&Version=2015-04-01&RoleArn=acs%3Aram%3A%3A1%3Arole%2Fr&OIDCProviderArn=p&OIDCToken=t&DurationSeconds=900")
        .send()
        .await
        .expect("sends");
    assert_eq!(answer.status().as_u16(), 200);
    let body: Value = answer.json().await.expect("JSON");
    let (temporary, expires_at) = parse_temporary_keys(Operation::Describe, &body).expect("credentials");
    assert!(temporary.access_key_id.starts_with("STS."));
    // Valid for more than 14 minutes from now: "now + 14 minutes" read by the same client, as
    // the same type, from an answer that expires then.
    let in_14_minutes = Timestamp::now().checked_add(SignedDuration::from_mins(14)).expect("in range");
    let mut probe = body.clone();
    probe["Credentials"]["Expiration"] = Value::String(in_14_minutes.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string());
    let (_, in_14_minutes) = parse_temporary_keys(Operation::Describe, &probe).expect("credentials");
    assert!(expires_at > in_14_minutes);

    for version in [AlibabaSignatureVersion::V3, AlibabaSignatureVersion::V1] {
        let rpc = RpcClient::new(http.clone(), endpoint.clone(), version);
        rpc.call(Operation::Describe, "DescribeEipAddresses", describe_params(), &temporary)
            .await
            .expect("accepted with the token");
        for (security_token, code) in [
            (None, "InvalidSecurityToken.Missing"),
            (Some("CAISnotit".to_owned()), "InvalidSecurityToken.MismatchWithAccessKey"),
        ] {
            let keys = Credentials {
                security_token,
                ..temporary.clone()
            };
            let err = rpc
                .call(Operation::Describe, "DescribeEipAddresses", describe_params(), &keys)
                .await
                .expect_err("no or a wrong token");
            assert_eq!(err.code, code);
        }
    }

    // STS itself wants its parameters.
    let answer = unsigned(http.post(format!("{}?Action=AssumeRoleWithOIDC&RoleArn=r", endpoint.url))).await;
    assert_eq!(answer.status().as_u16(), 400);
}

#[tokio::test]
async fn replays_and_stale_requests_are_refused() {
    let (_sim, endpoint) = serve().await;
    let http = eip_cloud::http::client().expect("client");
    for version in [AlibabaSignatureVersion::V3, AlibabaSignatureVersion::V1] {
        let rpc = RpcClient::new(http.clone(), endpoint.clone(), version);
        let build = |date: &str, nonce: &str| match version {
            AlibabaSignatureVersion::V3 => rpc.build_v3("DescribeEipAddresses", describe_params(), &sim_keys(), date, nonce),
            AlibabaSignatureVersion::V1 => rpc.build_v1("DescribeEipAddresses", describe_params(), &sim_keys(), date, nonce),
        };
        let now = client::timestamp();
        let nonce = client::nonce();
        send(build(&now, &nonce)).await.expect("first use");
        let err = send(build(&now, &nonce)).await.expect_err("replayed");
        assert_eq!(err.code, "SignatureNonceUsed");
        let err = send(build("2020-01-01T00:00:00Z", &client::nonce())).await.expect_err("stale");
        assert_eq!(err.code, "InvalidTimeStamp.Expired");
    }
}

#[tokio::test]
async fn malformed_calls_are_refused() {
    let (_sim, endpoint) = serve().await;
    let http = eip_cloud::http::client().expect("client");
    let rpc = RpcClient::new(http.clone(), endpoint.clone(), AlibabaSignatureVersion::V3);
    let hangzhou = |more: &[(&str, &str)]| params(&[&[("RegionId", "cn-hangzhou")], more].concat());
    let cases: Vec<(&str, BTreeMap<String, String>, &str)> = vec![
        ("DescribeEipAddresses", BTreeMap::new(), "MissingParameter"),
        ("DescribeEipAddresses", params(&[("RegionId", "eu-de")]), "Forbidden.RegionNotFound"),
        ("DeleteEverything", describe_params(), "InvalidAction.NotFound"),
        ("DescribeEipAddresses", hangzhou(&[("PageSize", "101")]), "InvalidParameter"),
        (
            "AssociateEipAddress",
            hangzhou(&[("AllocationId", "eip-x"), ("InstanceId", "port-1"), ("InstanceType", "Port")]),
            "InvalidInstanceType.ValueNotSupported",
        ),
        (
            "TagResources",
            hangzhou(&[
                ("ResourceType", "EIP"),
                ("ResourceId.1", "eip-missing"),
                ("Tag.1.Key", "k"),
                ("Tag.1.Value", "v"),
            ]),
            "InvalidResourceId.NotFound",
        ),
    ];
    for (action, params, code) in cases {
        let err = rpc.call(Operation::Describe, action, params, &sim_keys()).await.expect_err(action);
        assert_eq!(err.code, code, "{action}");
        assert!(err.request_id.is_some());
    }
    // Unsigned requests are refused.
    let answer = unsigned(http.get(format!("{}?Action=DescribeEipAddresses&RegionId=cn-hangzhou", endpoint.url))).await;
    assert_eq!(answer.status().as_u16(), 400);
    assert!(answer.headers().contains_key("x-acs-request-id"));
}

#[tokio::test]
async fn unassociate_without_an_instance_means_whatever_it_is_bound_to() {
    let (sim, endpoint) = serve().await;
    let http = eip_cloud::http::client().expect("client");
    let rpc = RpcClient::new(http, endpoint, AlibabaSignatureVersion::V1);
    let eip = sim
        .seed_eip(
            "cn-hangzhou",
            model::SeedEip {
                bound_to: Some(BindTarget {
                    instance_type: InstanceType::HaVip,
                    instance_id: "havip-sim-0001".into(),
                    private_ip_address: None,
                }),
                ..model::SeedEip::default()
            },
        )
        .expect("seeds");
    let params = params(&[("RegionId", "cn-hangzhou"), ("AllocationId", &eip.allocation_id)]);
    rpc.call(Operation::Unassociate, "UnassociateEipAddress", params, &sim_keys())
        .await
        .expect("unbinds");
    assert_eq!(sim.eip("cn-hangzhou", &eip.allocation_id).and_then(|e| e.bound_to), None);
}
