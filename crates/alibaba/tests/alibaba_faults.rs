//! `AlibabaProvider` against every kind of fault the simulator injects on its wire: each is a
//! retryable error (never an answer), and the after-the-model kinds took effect in the cloud all
//! the same, which only a later look can tell. The client-side timeout itself (30 s) is left to
//! the chaos soak; here the held answer is cut short to the 504 a gateway would send.

use std::sync::Arc;
use std::time::Duration;

use eip_alibaba::AlibabaProvider;
use eip_api::{AlibabaOptions, AlibabaSignatureVersion};
use eip_cloud::{AllocateRequest, CloudProvider, ErrorClass, StaticSecret};
use eip_simulator::{CallOutcome, FaultKind, FaultMix, Faults, Simulator, SimulatorConfig};

mod support;

use support::{keys, serve};

const REGION: &str = "cn-hangzhou";

fn only(kind: FaultKind) -> Faults {
    Faults {
        error_rate: 1.0,
        mix: FaultMix::only(kind),
        slow: Duration::from_millis(50),
        hang: Duration::from_millis(50),
        ..Faults::default()
    }
}

#[tokio::test]
async fn every_fault_kind_is_a_retryable_error_and_the_late_ones_took_effect() {
    for kind in FaultKind::ALL {
        let sim = Simulator::new(SimulatorConfig::instant().with_seed(5));
        let base = serve(&sim).await;
        let options = AlibabaOptions {
            signature_version: Some(AlibabaSignatureVersion::V3),
            sts_endpoint: None,
        };
        let provider = AlibabaProvider::new(REGION, Some(&base), Some(&options), Arc::new(StaticSecret(keys()))).expect("builds");
        sim.set_faults(only(kind));

        let request = AllocateRequest {
            client_token: format!("token-{kind:?}"),
            ..AllocateRequest::default()
        };
        let result = provider.allocate(&request).await;
        let calls = sim.calls();
        let last = calls.last().expect("one call");
        assert_eq!(last.fault, Some(kind), "{calls:?}");
        let created = sim.eips(REGION).len();
        if kind == FaultKind::Slow {
            assert!(result.is_ok(), "{kind:?}: a slow answer is still an answer: {result:?}");
            assert_eq!((created, last.outcome), (1, CallOutcome::Ok));
            continue;
        }
        let err = result.expect_err("a fault is never an answer");
        assert_eq!(err.class(), ErrorClass::Retryable, "{kind:?}: {err:?}");
        if kind.after_the_model() {
            assert_eq!((created, last.outcome), (1, CallOutcome::Ok), "{kind:?}: the cloud did it");
            // The retry with the same token finds the EIP the lost answer named: no second one.
            sim.set_faults(Faults::default());
            let again = provider.allocate(&request).await.expect("replays");
            assert_eq!(sim.eips(REGION).len(), 1, "{kind:?}");
            assert_eq!(again.eip.allocation_id, sim.eips(REGION)[0].allocation_id);
        } else {
            assert_eq!(
                (created, last.outcome),
                (0, CallOutcome::Error),
                "{kind:?}: refused before the model"
            );
        }
        if kind == FaultKind::Throttled {
            assert!(err.is_throttled() && err.retry_after().is_some(), "{err:?}");
        }

        // A Describe under the same fault is an error too, never "no such EIP".
        sim.set_faults(only(kind));
        let described = provider.describe(&["eip-nonexistent".to_owned()]).await;
        assert!(
            described.as_ref().is_err_and(|e| e.class() == ErrorClass::Retryable),
            "{kind:?}: {described:?}"
        );
    }
}
