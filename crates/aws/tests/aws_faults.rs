//! `AwsProvider` against every kind of fault the simulator injects on its EC2 wire: each is a
//! retryable error (never an answer, never "gone"), and the after-the-model kinds took effect all
//! the same. Without a client token, the repair of a lost AllocateAddress answer is the owner
//! tag: the address it made is found by `find_by_owner`.

use std::collections::BTreeMap;
use std::time::Duration;

use eip_cloud::{AllocateRequest, CloudProvider, ErrorClass, OWNER_TAG};
use eip_simulator::{CallOutcome, FaultKind, FaultMix, Faults, Simulator, SimulatorConfig};

mod support;

use support::{REGION, keys, provider, serve};

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
        let sim = Simulator::new(SimulatorConfig::instant().with_seed(9));
        let base = serve(&sim).await;
        let aws = provider(&base, keys());
        sim.set_faults(only(kind));
        let uid = format!("uid-{kind:?}");
        let request = AllocateRequest {
            tags: BTreeMap::from([(OWNER_TAG.to_owned(), uid.clone())]),
            ..AllocateRequest::default()
        };
        let result = aws.allocate(&request).await;
        let calls = sim.calls();
        let last = calls.last().expect("one call");
        assert_eq!(last.fault, Some(kind), "{calls:?}");
        let created = sim.eips(REGION).len();
        if kind == FaultKind::Slow {
            assert!(result.is_ok(), "{kind:?}: a slow answer is still an answer: {result:?}");
            continue;
        }
        let err = result.expect_err("a fault is never an answer");
        assert_eq!(err.class(), ErrorClass::Retryable, "{kind:?}: {err:?}");
        if kind.after_the_model() {
            assert_eq!((created, last.outcome), (1, CallOutcome::Ok), "{kind:?}: the cloud did it");
            sim.set_faults(Faults::default());
            let found = aws.find_by_owner(&uid).await.expect("finds");
            assert_eq!(found.len(), 1, "{kind:?}: the owner tag finds the address the lost answer named");
        } else {
            assert_eq!(
                (created, last.outcome),
                (0, CallOutcome::Error),
                "{kind:?}: refused before the model"
            );
        }
        if kind == FaultKind::Throttled {
            assert!(err.is_throttled(), "{err:?}");
        }
        sim.set_faults(only(kind));
        let described = aws.describe(&["eipalloc-00000000000000bad".to_owned()]).await;
        assert!(
            described.as_ref().is_err_and(|e| e.class() == ErrorClass::Retryable),
            "{kind:?}: {described:?}"
        );
    }
}
