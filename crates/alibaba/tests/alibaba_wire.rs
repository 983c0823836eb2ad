//! Wire calls counted at the HTTP layer: the observer a provider is built with sees every request
//! it puts on the wire (VPC and STS calls alike), one per request, with the HTTP status — and
//! nothing for a call refused before sending.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eip_alibaba::AlibabaProvider;
use eip_api::{AlibabaOptions, AlibabaSignatureVersion};
use eip_cloud::http::WireObserver;
use eip_cloud::{AllocateRequest, BindTarget, CloudProvider, InstanceType, Operation, SecretData, SecretSource, StaticSecret};
use eip_simulator::{Faults, Simulator, SimulatorConfig};

mod support;

use support::{keys, rrsa_secret, serve};

const REGION: &str = "cn-hangzhou";

/// What the observer saw: operation and HTTP status of each request, in order.
#[derive(Default)]
struct Recorder(Mutex<Vec<(Operation, Option<u16>)>>);

impl WireObserver for Recorder {
    fn observe(&self, provider: &str, operation: Operation, status: Option<u16>, _took: Duration) {
        assert_eq!(provider, "alibaba");
        self.0.lock().expect("lock").push((operation, status));
    }
}

impl Recorder {
    /// The requests seen since the last take.
    fn take(&self) -> Vec<(Operation, Option<u16>)> {
        std::mem::take(&mut *self.0.lock().expect("lock"))
    }
}

fn observed(base: &str, version: AlibabaSignatureVersion, secrets: Arc<dyn SecretSource>, recorder: &Arc<Recorder>) -> AlibabaProvider {
    let options = AlibabaOptions {
        signature_version: Some(version),
        sts_endpoint: Some(base.to_owned()),
    };
    let observer: Arc<dyn WireObserver> = recorder.clone();
    AlibabaProvider::new_observed(REGION, Some(base), Some(&options), secrets, Some(observer)).expect("builds")
}

#[tokio::test]
async fn the_observer_sees_one_request_per_wire_call_with_its_status() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(25));
    let base = serve(&sim).await;
    let recorder = Arc::new(Recorder::default());
    for version in [AlibabaSignatureVersion::V3, AlibabaSignatureVersion::V1] {
        let provider = observed(&base, version, Arc::new(StaticSecret(keys())), &recorder);
        let eip = provider.allocate(&AllocateRequest::default()).await.expect("allocates").eip;
        assert_eq!(recorder.take(), [(Operation::Allocate, Some(200))], "{version:?}");

        // One Describe of 60 IDs is two requests (50 + 10).
        let mut ids: Vec<String> = (0..59).map(|n| format!("eip-missing{n}")).collect();
        ids.push(eip.allocation_id.clone());
        assert_eq!(provider.describe(&ids).await.expect("describes").len(), 1);
        assert_eq!(recorder.take(), [(Operation::Describe, Some(200)); 2], "{version:?}");

        // A cloud error is observed with its status.
        provider.release("eip-doesnotexist00000", "").await.expect_err("gone");
        assert_eq!(recorder.take(), [(Operation::Release, Some(404))], "{version:?}");
        sim.set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        });
        provider.describe(&ids[..1]).await.expect_err("unavailable");
        sim.set_faults(Faults::default());
        assert_eq!(recorder.take(), [(Operation::Describe, Some(503))], "{version:?}");

        // Refused before sending: nothing on the wire, nothing observed.
        let port = BindTarget {
            instance_type: InstanceType::Port,
            instance_id: "port-1".into(),
            private_ip_address: None,
        };
        provider.associate(&eip.allocation_id, &port, "t").await.expect_err("port");
        let no_keys = observed(&base, version, Arc::new(StaticSecret(SecretData::new())), &recorder);
        no_keys.describe(&ids[..1]).await.expect_err("no keys");
        assert_eq!(recorder.take(), []);

        provider.release(&eip.allocation_id, "").await.expect("releases");
        assert_eq!(recorder.take(), [(Operation::Release, Some(200))], "{version:?}");
    }
}

#[tokio::test]
async fn sts_calls_and_transport_failures_are_observed_too() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(26));
    let base = serve(&sim).await;
    let recorder = Arc::new(Recorder::default());
    let (rrsa, _token) = rrsa_secret();
    let provider = observed(&base, AlibabaSignatureVersion::V3, Arc::new(StaticSecret(rrsa)), &recorder);
    provider.describe(&["eip-x".to_owned()]).await.expect("describes");
    // AssumeRoleWithOIDC (for the Describe that needed the keys), then the Describe.
    assert_eq!(recorder.take(), [(Operation::Describe, Some(200)); 2]);
    provider.describe(&["eip-x".to_owned()]).await.expect("describes");
    assert_eq!(recorder.take(), [(Operation::Describe, Some(200))], "the keys are cached");

    // No answer at all: observed without a status.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let closed = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let provider = observed(&closed, AlibabaSignatureVersion::V1, Arc::new(StaticSecret(keys())), &recorder);
    provider.describe(&["eip-x".to_owned()]).await.expect_err("refused");
    assert_eq!(recorder.take(), [(Operation::Describe, None)]);
}

/// The factory hands the registry's observer to the provider it builds.
#[tokio::test]
async fn providers_built_by_the_registry_are_observed() {
    let sim = Simulator::new(SimulatorConfig::instant().with_seed(27));
    let base = serve(&sim).await;
    let recorder = Arc::new(Recorder::default());
    let registry = eip_cloud::Registry::default()
        .register(Arc::new(eip_alibaba::AlibabaFactory))
        .observe_wire(recorder.clone());
    let spec: eip_api::ProviderConfigSpec = serde_json::from_value(serde_json::json!({
        "provider": "alibaba", "region": REGION, "endpoint": base, "alibaba": {"stsEndpoint": base},
    }))
    .expect("spec");
    let secrets: Arc<dyn SecretSource> = Arc::new(StaticSecret(keys()));
    let provider = registry.build("alibaba-wire", &spec, Some(secrets)).expect("builds");
    provider.allocate(&AllocateRequest::default()).await.expect("allocates");
    assert_eq!(recorder.take(), [(Operation::Allocate, Some(200))]);
}
