//! Every kind of fault the simulator injects on the OTC wire: each is a retryable error (never
//! an answer), and when the fault struck after the cloud acted, the owner lookup a retry starts
//! with finds the EIP the lost answer named. (The 30 s client timeout itself is the chaos
//! soak's; here the held answer ends in a gateway's 504 after 50 ms.)

use std::time::Duration;

use eip_cloud::{CloudProvider, ErrorClass};
use eip_simulator::{CallOutcome, FaultKind, FaultMix, Faults, SimulatorConfig};

use crate::support::{EU_DE, MISSING, otc, owned, start, with_timeout};

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
async fn every_fault_kind_is_a_retryable_error_and_the_late_ones_are_found_by_owner() {
    for kind in FaultKind::ALL {
        let cloud = start(SimulatorConfig::instant().with_seed(8)).await;
        let provider = otc(&cloud);
        // Sign in (IAM project lookup) before the faults start.
        assert!(provider.describe(&[MISSING.to_owned()]).await.expect("describes").is_empty());
        cloud.sim.set_faults(only(kind));
        let uid = format!("uid-{kind:?}");

        let result = with_timeout(provider.allocate(&owned(&uid))).await;
        let calls = cloud.sim.calls();
        let last = calls.last().expect("a call");
        assert_eq!(last.fault, Some(kind), "{calls:?}");
        let created = cloud.sim.eips(EU_DE).len();
        if kind == FaultKind::Slow {
            assert!(result.is_ok(), "a slow answer is still an answer: {result:?}");
            continue;
        }
        let err = result.expect_err("a fault is never an answer");
        assert_eq!(err.class(), ErrorClass::Retryable, "{kind:?}: {err:?}");
        if kind.after_the_model() {
            assert_eq!((created, last.outcome), (1, CallOutcome::Ok), "{kind:?}: the cloud did it");
            cloud.sim.set_faults(Faults::default());
            let found = provider.find_by_owner(&uid).await.expect("finds");
            assert_eq!(found.len(), 1, "{kind:?}: the lost EIP carries its owner: {found:?}");
        } else {
            assert_eq!((created, last.outcome), (0, CallOutcome::Error), "{kind:?}");
        }

        cloud.sim.set_faults(only(kind));
        let described = provider.describe(&[MISSING.to_owned()]).await;
        assert!(
            described.as_ref().is_err_and(|e| e.class() == ErrorClass::Retryable),
            "{kind:?}: {described:?}"
        );
    }
}

/// The soak's leaked OTC EIPs: an operator that died (or gave up) while a create's answer was
/// slow left an EIP whose bandwidth name, the owner marker, was never recorded, because the
/// simulator's handler was cancelled mid-answer. A cloud commits what it answers, so the
/// abandoned create is found by its owner like any other.
#[tokio::test]
async fn a_create_whose_client_gives_up_during_a_slow_answer_is_found_by_owner() {
    let cloud = start(SimulatorConfig::instant().with_seed(8)).await;
    let provider = otc(&cloud);
    assert!(provider.describe(&[MISSING.to_owned()]).await.expect("describes").is_empty());
    cloud.sim.set_faults(Faults {
        slow: Duration::from_secs(5),
        ..only(FaultKind::Slow)
    });
    let abandoned = tokio::time::timeout(Duration::from_millis(300), provider.allocate(&owned("uid-gave-up"))).await;
    assert!(abandoned.is_err(), "the client gave up first: {abandoned:?}");
    cloud.sim.set_faults(Faults::default());
    assert_eq!(cloud.sim.eips(EU_DE).len(), 1, "the cloud made it");

    let found = provider.find_by_owner("uid-gave-up").await.expect("finds");
    assert_eq!(found.len(), 1, "the abandoned EIP carries its owner: {found:?}");
}
