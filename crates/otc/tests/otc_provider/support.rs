//! The simulator on 127.0.0.1, the providers pointed at it, and what the tests share.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eip_cloud::http::WireObserver;
use eip_cloud::{
    AllocateRequest, BindTarget, CloudEip, CloudProvider, InstanceType, OWNER_NAME_TAG, OWNER_TAG, Operation, StaticSecret, UnbindRequest,
};
use eip_otc::{OtcCloud, OtcProvider, OtcSettings};
use eip_simulator::{Latencies, SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, Simulator, SimulatorConfig, server};

pub const EU_DE: &str = "eu-de";
pub const EU_DE_PROJECT: &str = "00000000000000000000000051510000";
pub const EU_NL_PROJECT: &str = "00000000000000000000000051510001";
/// An ID the simulator does not know.
pub const MISSING: &str = "00000000-0000-4000-8000-000000000000";

pub struct Cloud {
    pub sim: Simulator,
    pub addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn start(config: SimulatorConfig) -> Cloud {
    let sim = Simulator::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("has an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = server::router(sim.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Cloud { sim, addr, _stop: stop }
}

pub fn latencies(ms: u64) -> SimulatorConfig {
    let latency = Duration::from_millis(ms);
    SimulatorConfig {
        latencies: Latencies::uniform(latency),
        ..SimulatorConfig::instant()
    }
}

pub fn secret(pairs: &[(&str, &str)]) -> Arc<StaticSecret> {
    Arc::new(StaticSecret(
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    ))
}

pub fn aksk() -> Arc<StaticSecret> {
    secret(&[("accessKey", SIM_ACCESS_KEY_ID), ("secretKey", SIM_ACCESS_KEY_SECRET)])
}

pub fn password() -> Arc<StaticSecret> {
    secret(&[("username", "sim-user"), ("password", "sim-password"), ("domainName", "sim-domain")])
}

pub fn settings(cloud: &Cloud, kind: OtcCloud, region: &str) -> OtcSettings {
    // IAM is served on the same listener; the provider finds it next to the endpoint.
    OtcSettings::new(kind, region, Some(&format!("http://{}", cloud.addr)), None)
}

/// `region` with a configured project ID.
pub fn with_project(cloud: &Cloud, kind: OtcCloud, region: &str, project: &str) -> OtcSettings {
    let mut settings = settings(cloud, kind, region);
    settings.project_id = Some(project.to_owned());
    settings
}

/// eu-de with its configured project ID.
pub fn eu_de(cloud: &Cloud, kind: OtcCloud) -> OtcSettings {
    with_project(cloud, kind, EU_DE, EU_DE_PROJECT)
}

pub fn provider(settings: OtcSettings, secret: Arc<StaticSecret>) -> OtcProvider {
    OtcProvider::new(settings, secret).expect("builds")
}

/// OTC eu-de with AK/SK and a configured project ID.
pub fn otc(cloud: &Cloud) -> OtcProvider {
    provider(eu_de(cloud, OtcCloud::OpenTelekomCloud), aksk())
}

/// Huawei Cloud eu-de with AK/SK, batching on (its default) with a 200 ms window.
pub fn huawei(cloud: &Cloud) -> OtcProvider {
    let mut hw = eu_de(cloud, OtcCloud::HuaweiCloud);
    assert!(hw.batch_operations, "on by default for Huawei Cloud");
    hw.batch_window = Duration::from_millis(200);
    provider(hw, aksk())
}

pub fn target(instance_type: InstanceType, id: &str) -> BindTarget {
    BindTarget {
        instance_type,
        instance_id: id.to_owned(),
        private_ip_address: None,
    }
}

pub fn owned(uid: &str) -> AllocateRequest {
    AllocateRequest {
        client_token: uid.to_owned(),
        bandwidth_mbps: Some(10),
        internet_charge_type: Some("PayByTraffic".to_owned()),
        name: Some("web".to_owned()),
        tags: BTreeMap::from([
            (OWNER_TAG.to_owned(), uid.to_owned()),
            (OWNER_NAME_TAG.to_owned(), "team-a/web".to_owned()),
            ("app.kubernetes.io/name".to_owned(), "web".to_owned()),
        ]),
        ..AllocateRequest::default()
    }
}

pub async fn describe(provider: &OtcProvider, id: &str) -> Option<CloudEip> {
    provider.describe(&[id.to_owned()]).await.expect("describes").into_iter().next()
}

/// Describes until `done` holds (bounded: 100 × 30 ms).
pub async fn wait_for(provider: &OtcProvider, id: &str, done: impl Fn(Option<&CloudEip>) -> bool) -> Option<CloudEip> {
    for _ in 0..100 {
        let eip = describe(provider, id).await;
        if done(eip.as_ref()) {
            return eip;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("EIP {id} did not reach the expected state in time");
}

pub async fn with_timeout<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .expect("finishes in time")
}

/// Allocates an EIP with the default request; its ID.
pub async fn allocate_id(provider: &OtcProvider) -> String {
    provider
        .allocate(&AllocateRequest::default())
        .await
        .expect("allocates")
        .eip
        .allocation_id
}

/// Allocates and waits until the EIP is `DOWN`.
pub async fn allocate_down(provider: &OtcProvider, request: &AllocateRequest) -> CloudEip {
    let eip = provider.allocate(request).await.expect("allocates").eip;
    wait_for(provider, &eip.allocation_id, |e| e.is_some_and(|e| e.raw_state == "DOWN")).await;
    eip
}

/// `count` new EIPs bound to the ports `port-sim-0011`, `port-sim-0012`, ...: the unbind
/// requests for them, as Describe reports their bindings.
pub async fn bound_to_ports(provider: &OtcProvider, count: usize) -> Vec<UnbindRequest> {
    let mut requests = Vec::new();
    for n in 1..=count {
        let id = allocate_id(provider).await;
        provider
            .associate(&id, &target(InstanceType::Port, &format!("port-sim-001{n}")), "")
            .await
            .expect("binds");
        let current = describe(provider, &id).await.and_then(|e| e.bound_to).expect("bound");
        requests.push(UnbindRequest::new(id, current, ""));
    }
    requests
}

/// The requests a provider put on the wire: provider name, operation, status.
#[derive(Default)]
pub struct WireLog(Mutex<Vec<(String, Operation, Option<u16>)>>);

impl WireObserver for WireLog {
    fn observe(&self, provider: &str, operation: Operation, status: Option<u16>, _took: Duration) {
        self.0.lock().expect("log").push((provider.to_owned(), operation, status));
    }
}

impl WireLog {
    /// What was seen so far; the log starts over.
    pub fn take(&self) -> Vec<(String, Operation, Option<u16>)> {
        std::mem::take(&mut *self.0.lock().expect("log"))
    }

    pub fn count(&self, operation: Operation) -> usize {
        self.0.lock().expect("log").iter().filter(|(_, op, _)| *op == operation).count()
    }
}
