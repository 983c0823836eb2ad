//! The decision table under `managementPolicy: Observe`: every row, living or deleting, is a step
//! without a mutating call.
use super::tests::{C, eip, first_look, other, reason, run, untagged};
use super::*;
use crate::controller::fixtures::spec;
use eip_api::ManagementPolicy;

fn observing(binding: Option<&str>, adopt: Option<&str>, policy: Option<DeletionPolicy>) -> ElasticIPSpec {
    ElasticIPSpec {
        management_policy: Some(ManagementPolicy::Observe),
        ..spec(binding, adopt, policy)
    }
}

/// (binding, adopt, cloud) → step, for a living object.
#[test]
fn observe_living_table() {
    use Transition::*;
    let rows: Vec<(Option<&str>, Option<&str>, super::tests::Eip, &str)> = vec![
        // Observing never allocates.
        (None, None, eip(C::Never), "NothingToObserve"),
        (Some("i-1"), None, eip(C::Never), "NothingToObserve"),
        (Some("i-1"), Some("eip-1"), eip(C::Never), "AdoptTargetNotFound"),
        (Some("i-1"), Some("eip-1"), first_look(C::Missing), "ConfirmAbsence"),
        (Some("i-1"), Some("eip-1"), eip(C::Missing), "AdoptTargetNotFound"),
        (Some("i-1"), None, eip(C::Missing), "ReleasedOutOfBand"),
        // An untagged adopted EIP is not claimed: reading needs no claim.
        (Some("i-1"), Some("eip-1"), untagged(C::BoundTo("i-1")), "Observe"),
        (Some("i-1"), Some("eip-1"), untagged(C::Unbound), "ObserveDrift"),
        (Some("i-1"), Some("eip-1"), untagged(C::BoundTo("i-2")), "ObserveDrift"),
        (None, Some("eip-1"), untagged(C::BoundTo("i-2")), "ObserveDrift"),
        (None, Some("eip-1"), untagged(C::Unbound), "Observe"),
        // Another object's address can be watched: watching changes nothing.
        (Some("i-1"), Some("eip-1"), other(C::BoundTo("i-1")), "Observe"),
        // An allocated (recorded) EIP switched to Observe.
        (Some("i-1"), None, eip(C::BoundTo("i-2")), "ObserveDrift"),
        (Some("i-1"), None, eip(C::Unbound), "ObserveDrift"),
        (Some("i-1"), Some("eip-1"), untagged(C::Trans(Associating)), "Wait"),
        (Some("i-1"), Some("eip-1"), untagged(C::Locked), "Locked"),
        (Some("i-1"), Some("eip-1"), untagged(C::Failed), "CloudStateFailed"),
        (Some("i-1"), Some("eip-1"), untagged(C::BoundUnknown), "ObserveDrift"),
    ];
    for (i, (binding, adopt, cloud, want)) in rows.into_iter().enumerate() {
        let step = run(&observing(binding, adopt, None), false, cloud);
        assert_eq!(reason(&step), want, "row {i}: {step:?}");
        assert!(!step.is_mutating(), "row {i}: {step:?}");
    }
}

/// Deleting an observed object only removes the finalizer, whatever the policy and the cloud.
#[test]
fn observe_deleting_only_lets_go() {
    use DeletionPolicy::*;
    for policy in [None, Some(Delete), Some(Unbind), Some(Retain)] {
        for adopt in [None, Some("eip-1")] {
            for cloud in [
                eip(C::BoundTo("i-1")),
                untagged(C::Unbound),
                eip(C::Trans(Transition::Associating)),
                first_look(C::Missing),
                eip(C::Never),
            ] {
                let step = run(&observing(Some("i-1"), adopt, policy), true, cloud);
                assert_eq!(step, Step::RemoveFinalizer, "{policy:?} {adopt:?}");
            }
        }
    }
}

/// The drift names what the cloud has and what the spec asks.
#[test]
fn observe_drift_says_both_sides() {
    let step = run(&observing(Some("i-1"), Some("eip-1"), None), false, untagged(C::BoundTo("i-2")));
    let Step::Observe { drift: Some(drift) } = step else {
        panic!("{step:?}")
    };
    assert!(drift.contains("i-2") && drift.contains("i-1"), "{drift}");
}

/// Switching back to Manage manages from what was observed: an untagged adopted EIP is claimed.
#[test]
fn manage_after_observe_claims_first() {
    let step = run(&spec(Some("i-1"), Some("eip-1"), None), false, untagged(C::BoundTo("i-2")));
    assert_eq!(step, Step::Claim);
}
