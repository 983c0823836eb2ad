use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::Value;

use super::*;
use crate::model;
use crate::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, SimulatorConfig};
use eip_alibaba::client::{self, Endpoint, RpcClient};
use eip_alibaba::credentials::{Credentials, parse_sts_credentials};
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

fn describe_params() -> BTreeMap<String, String> {
    BTreeMap::from([("RegionId".to_owned(), "cn-hangzhou".to_owned())])
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
    let (temporary, expires_at) = parse_sts_credentials(Operation::Describe, &body).expect("credentials");
    assert!(temporary.access_key_id.starts_with("STS."));
    assert!(expires_at > Utc::now() + chrono::Duration::minutes(14));

    for version in [AlibabaSignatureVersion::V3, AlibabaSignatureVersion::V1] {
        let rpc = RpcClient::new(http.clone(), endpoint.clone(), version);
        rpc.call(Operation::Describe, "DescribeEipAddresses", describe_params(), &temporary)
            .await
            .expect("accepted with the token");
        let without = Credentials {
            security_token: None,
            ..temporary.clone()
        };
        let err = rpc
            .call(Operation::Describe, "DescribeEipAddresses", describe_params(), &without)
            .await
            .expect_err("no token");
        assert_eq!(err.code, "InvalidSecurityToken.Missing");
        let wrong = Credentials {
            security_token: Some("CAISnotit".into()),
            ..temporary.clone()
        };
        let err = rpc
            .call(Operation::Describe, "DescribeEipAddresses", describe_params(), &wrong)
            .await
            .expect_err("wrong token");
        assert_eq!(err.code, "InvalidSecurityToken.MismatchWithAccessKey");
    }

    // STS itself wants its parameters.
    let answer = http
        .post(format!("{}?Action=AssumeRoleWithOIDC&RoleArn=r", endpoint.url))
        .send()
        .await
        .expect("sends");
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
    let cases: Vec<(&str, BTreeMap<String, String>, &str)> = vec![
        ("DescribeEipAddresses", BTreeMap::new(), "MissingParameter"),
        (
            "DescribeEipAddresses",
            BTreeMap::from([("RegionId".into(), "eu-de".into())]),
            "Forbidden.RegionNotFound",
        ),
        ("DeleteEverything", describe_params(), "InvalidAction.NotFound"),
        (
            "DescribeEipAddresses",
            BTreeMap::from([("RegionId".into(), "cn-hangzhou".into()), ("PageSize".into(), "101".into())]),
            "InvalidParameter",
        ),
        (
            "AssociateEipAddress",
            BTreeMap::from([
                ("RegionId".into(), "cn-hangzhou".into()),
                ("AllocationId".into(), "eip-x".into()),
                ("InstanceId".into(), "port-1".into()),
                ("InstanceType".into(), "Port".into()),
            ]),
            "InvalidInstanceType.ValueNotSupported",
        ),
        (
            "TagResources",
            BTreeMap::from([
                ("RegionId".into(), "cn-hangzhou".into()),
                ("ResourceType".into(), "EIP".into()),
                ("ResourceId.1".into(), "eip-missing".into()),
                ("Tag.1.Key".into(), "k".into()),
                ("Tag.1.Value".into(), "v".into()),
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
    let answer = http
        .get(format!("{}?Action=DescribeEipAddresses&RegionId=cn-hangzhou", endpoint.url))
        .send()
        .await
        .expect("sends");
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
    let params = BTreeMap::from([
        ("RegionId".to_owned(), "cn-hangzhou".to_owned()),
        ("AllocationId".to_owned(), eip.allocation_id.clone()),
    ]);
    rpc.call(Operation::Unassociate, "UnassociateEipAddress", params, &sim_keys())
        .await
        .expect("unbinds");
    assert_eq!(sim.eip("cn-hangzhou", &eip.allocation_id).and_then(|e| e.bound_to), None);
}
