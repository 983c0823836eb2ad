//! The decision tables.
use super::*;
use crate::controller::fixtures::{CloudEipFixture, cloud_eip, ecs, owner_tags, spec};

pub(super) const UID: &str = "uid-1";
const OTHER: &str = "uid-2";

#[derive(Clone, Copy)]
pub(super) enum C {
    Never,
    Missing,
    Unbound,
    BoundTo(&'static str),
    BoundUnknown,
    Trans(Transition),
    Failed,
    Locked,
}

#[derive(Clone, Copy)]
pub(super) struct Eip {
    cloud: C,
    owner: Option<&'static str>,
    prepaid: bool,
    /// For `Missing` and `Never`: an earlier look saw the same absence.
    confirmed: bool,
}

pub(super) fn eip(cloud: C) -> Eip {
    Eip {
        cloud,
        owner: Some(UID),
        prepaid: false,
        confirmed: true,
    }
}

/// An EIP without owner tags (made outside the operator).
pub(super) fn untagged(cloud: C) -> Eip {
    Eip { owner: None, ..eip(cloud) }
}

/// An EIP claimed (or allocated) by another object.
pub(super) fn other(cloud: C) -> Eip {
    Eip {
        owner: Some(OTHER),
        ..eip(cloud)
    }
}

/// The first look that finds nothing: not yet proof.
pub(super) fn first_look(cloud: C) -> Eip {
    Eip {
        confirmed: false,
        ..eip(cloud)
    }
}

pub(super) fn view(e: Eip) -> CloudView {
    let (phase, bound_to, state) = match e.cloud {
        C::Never => return CloudView::NeverAllocated,
        C::Missing => {
            return CloudView::Missing {
                allocation_id: "eip-1".into(),
            };
        }
        C::Unbound => (EipPhase::Unbound, None, "Available"),
        C::BoundTo(id) => (EipPhase::Bound, Some(ecs(id)), "InUse"),
        C::BoundUnknown => (EipPhase::Bound, None, "ELB"),
        C::Trans(t) => (EipPhase::Transitional(t), None, t.as_str()),
        C::Failed => (EipPhase::Failed, None, "BIND_ERROR"),
        C::Locked => (EipPhase::Locked, None, "FREEZED"),
    };
    // A user's own tag, which nothing here ever removes.
    let mut eip = cloud_eip(phase, state)
        .bound(bound_to)
        .charged(if e.prepaid { ChargeType::PrePaid } else { ChargeType::PostPaid })
        .tagged("team", "web");
    if let Some(owner) = e.owner {
        eip.tags.extend(owner_tags(owner, owner));
    }
    CloudView::Present(eip)
}

pub(super) fn run(spec: &ElasticIPSpec, deleting: bool, e: Eip) -> Step {
    decide_on(spec, deleting, &view(e), e.confirmed)
}

fn decide_on(spec: &ElasticIPSpec, deleting: bool, cloud: &CloudView, absence_confirmed: bool) -> Step {
    decide(&Inputs {
        spec,
        uid: UID,
        deleting,
        cloud,
        wanted: &Wanted::of_instance(spec),
        absence_confirmed,
    })
}

pub(super) fn reason(step: &Step) -> &'static str {
    match step {
        Step::Allocate => "Allocate",
        Step::Claim => "Claim",
        Step::Unclaim { .. } => "Unclaim",
        Step::Associate { .. } => "Associate",
        Step::Unassociate { .. } => "Unassociate",
        Step::Release => "Release",
        Step::Wait { .. } => "Wait",
        Step::ConfirmAbsence { .. } => "ConfirmAbsence",
        Step::Converged => "Converged",
        Step::Observe { drift: None } => "Observe",
        Step::Observe { drift: Some(_) } => "ObserveDrift",
        Step::AwaitReference { reason, .. } => reason,
        Step::RemoveFinalizer => "RemoveFinalizer",
        Step::Stalled(stall) => stall.reason(),
    }
}

/// The living table: (binding, adopt, cloud) → step.
#[test]
fn living_table() {
    use Transition::*;
    let rows: Vec<(Option<&str>, Option<&str>, Eip, &str)> = vec![
        (None, None, eip(C::Never), "Allocate"),
        (Some("i-1"), None, eip(C::Never), "Allocate"),
        (Some("i-1"), Some("eip-1"), eip(C::Never), "AdoptTargetNotFound"),
        (Some("i-1"), Some("eip-1"), eip(C::Missing), "AdoptTargetNotFound"),
        (Some("i-1"), None, eip(C::Missing), "ReleasedOutOfBand"),
        (None, None, eip(C::Missing), "ReleasedOutOfBand"),
        // One answer without the EIP proves nothing (eventual consistency, a partial answer).
        (Some("i-1"), None, first_look(C::Missing), "ConfirmAbsence"),
        (None, None, first_look(C::Missing), "ConfirmAbsence"),
        (Some("i-1"), Some("eip-1"), first_look(C::Missing), "ConfirmAbsence"),
        // Allocation is idempotent (token, owner tag): nothing to confirm before it.
        (None, None, first_look(C::Never), "Allocate"),
        (Some("i-1"), None, eip(C::Trans(Associating)), "Wait"),
        (Some("i-1"), None, eip(C::Trans(Unassociating)), "Wait"),
        (None, None, eip(C::Trans(Allocating)), "Wait"),
        (None, None, eip(C::Trans(Releasing)), "Wait"),
        (Some("i-1"), None, eip(C::Unbound), "Associate"),
        (Some("i-1"), None, eip(C::BoundTo("i-1")), "Converged"),
        (Some("i-1"), None, eip(C::BoundTo("i-2")), "Unassociate"),
        (None, None, eip(C::BoundTo("i-2")), "Unassociate"),
        (None, None, eip(C::Unbound), "Converged"),
        (Some("i-1"), None, eip(C::BoundUnknown), "UnknownBinding"),
        (Some("i-1"), None, eip(C::Failed), "CloudStateFailed"),
        (None, None, eip(C::Locked), "Locked"),
        // Adopted EIPs: an untagged one is claimed (tagged with our UID) before any binding
        // change, whatever it is bound to; once its tags name us it is ours.
        (Some("i-1"), Some("eip-1"), untagged(C::Unbound), "Claim"),
        (None, Some("eip-1"), untagged(C::BoundTo("i-9")), "Claim"),
        (Some("i-1"), Some("eip-1"), untagged(C::BoundTo("i-1")), "Claim"),
        (Some("i-1"), Some("eip-1"), untagged(C::Trans(Associating)), "Claim"),
        (
            Some("i-1"),
            Some("eip-1"),
            Eip {
                owner: Some(""),
                ..eip(C::Unbound)
            },
            "Claim",
        ),
        // A frozen or failed EIP stalls unclaimed: the cloud would refuse the tags too.
        (Some("i-1"), Some("eip-1"), untagged(C::Locked), "Locked"),
        (Some("i-1"), Some("eip-1"), untagged(C::Failed), "CloudStateFailed"),
        (Some("i-1"), Some("eip-1"), eip(C::Unbound), "Associate"),
        (Some("i-1"), Some("eip-1"), eip(C::BoundTo("i-1")), "Converged"),
        (Some("i-1"), Some("eip-1"), eip(C::BoundTo("i-2")), "Unassociate"),
        (Some("i-1"), Some("eip-1"), eip(C::Trans(Associating)), "Wait"),
        // Tagged with another owner (it allocated or claimed the address first): stall, and
        // change nothing, whatever the EIP's state.
        (Some("i-1"), Some("eip-1"), other(C::Unbound), "AdoptTargetOwnedElsewhere"),
        (Some("i-1"), Some("eip-1"), other(C::BoundTo("i-2")), "AdoptTargetOwnedElsewhere"),
        (Some("i-1"), Some("eip-1"), other(C::BoundTo("i-1")), "AdoptTargetOwnedElsewhere"),
        (None, Some("eip-1"), other(C::Trans(Unassociating)), "AdoptTargetOwnedElsewhere"),
        (Some("i-1"), Some("eip-1"), other(C::Locked), "AdoptTargetOwnedElsewhere"),
        // An allocated EIP was tagged at allocation: no claim.
        (Some("i-1"), None, untagged(C::Unbound), "Associate"),
        // Prepaid does not matter while living.
        (
            Some("i-1"),
            None,
            Eip {
                prepaid: true,
                ..eip(C::Unbound)
            },
            "Associate",
        ),
    ];
    for (i, (binding, adopt, cloud, want)) in rows.into_iter().enumerate() {
        let step = run(&spec(binding, adopt, None), false, cloud);
        assert_eq!(reason(&step), want, "row {i}: {step:?}");
    }
}

/// The deletion table: (policy, adopt, cloud) → step.
#[test]
fn deleting_table() {
    use DeletionPolicy::*;
    use Transition::*;
    let rows: Vec<(Option<DeletionPolicy>, Option<&str>, Eip, &str)> = vec![
        // Default policy: Delete for allocated EIPs, Retain for adopted ones.
        (None, None, eip(C::BoundTo("i-1")), "Unassociate"),
        (None, None, eip(C::Unbound), "Release"),
        // Retain on an adopted EIP: only our claim goes (the binding stays), then the object.
        (None, Some("eip-1"), eip(C::BoundTo("i-1")), "Unclaim"),
        (None, Some("eip-1"), eip(C::Unbound), "Unclaim"),
        (None, Some("eip-1"), eip(C::Trans(Associating)), "Unclaim"),
        (None, Some("eip-1"), untagged(C::BoundTo("i-1")), "RemoveFinalizer"),
        (None, Some("eip-1"), untagged(C::Unbound), "RemoveFinalizer"),
        (None, Some("eip-1"), other(C::BoundTo("i-1")), "RemoveFinalizer"),
        (Some(Retain), Some("eip-1"), eip(C::Unbound), "Unclaim"),
        (Some(Retain), Some("eip-1"), other(C::Unbound), "RemoveFinalizer"),
        // Locked: the claim still goes (tags are not frozen by an operation lock).
        (None, Some("eip-1"), eip(C::Locked), "Unclaim"),
        (None, Some("eip-1"), untagged(C::Locked), "RemoveFinalizer"),
        (None, Some("eip-1"), eip(C::Missing), "RemoveFinalizer"),
        // Retain touches nothing, whatever the cloud says.
        (Some(Retain), None, eip(C::BoundTo("i-1")), "RemoveFinalizer"),
        (Some(Retain), None, eip(C::Trans(Associating)), "RemoveFinalizer"),
        (Some(Retain), None, eip(C::Locked), "RemoveFinalizer"),
        (
            Some(Retain),
            None,
            Eip {
                prepaid: true,
                ..eip(C::Unbound)
            },
            "RemoveFinalizer",
        ),
        // Unbind: unbind, then let go.
        (Some(Unbind), None, eip(C::BoundTo("i-1")), "Unassociate"),
        (Some(Unbind), None, eip(C::Trans(Unassociating)), "Wait"),
        (Some(Unbind), None, eip(C::Unbound), "RemoveFinalizer"),
        (
            Some(Unbind),
            None,
            Eip {
                prepaid: true,
                ..eip(C::BoundTo("i-1"))
            },
            "Unassociate",
        ),
        (Some(Unbind), None, eip(C::Missing), "RemoveFinalizer"),
        // Unbind on an adopted EIP: unbind, then remove our claim, then let go.
        (Some(Unbind), Some("eip-1"), eip(C::BoundTo("i-1")), "Unassociate"),
        (Some(Unbind), Some("eip-1"), eip(C::Trans(Unassociating)), "Wait"),
        (Some(Unbind), Some("eip-1"), eip(C::Unbound), "Unclaim"),
        (Some(Unbind), Some("eip-1"), untagged(C::Unbound), "RemoveFinalizer"),
        (Some(Unbind), Some("eip-1"), untagged(C::BoundTo("i-1")), "Unassociate"),
        // Another object's address is never unbound by this one (an adopter that lost).
        (Some(Unbind), Some("eip-1"), other(C::BoundTo("i-1")), "RemoveFinalizer"),
        (Some(Unbind), Some("eip-1"), other(C::Trans(Associating)), "RemoveFinalizer"),
        (Some(Unbind), None, other(C::BoundTo("i-1")), "RemoveFinalizer"),
        // Delete: unbind before release, wait through transitions, done when gone.
        (Some(Delete), None, eip(C::BoundTo("i-1")), "Unassociate"),
        (Some(Delete), None, eip(C::Trans(Unassociating)), "Wait"),
        (Some(Delete), None, eip(C::Trans(Associating)), "Wait"),
        (Some(Delete), None, eip(C::Unbound), "Release"),
        (Some(Delete), None, eip(C::Trans(Releasing)), "Wait"),
        (Some(Delete), None, eip(C::Missing), "RemoveFinalizer"),
        (Some(Delete), None, eip(C::Never), "RemoveFinalizer"),
        // The finalizer goes only on a confirmed absence: a second well-formed look.
        (Some(Delete), None, first_look(C::Missing), "ConfirmAbsence"),
        (Some(Delete), None, first_look(C::Never), "ConfirmAbsence"),
        (Some(Unbind), None, first_look(C::Missing), "ConfirmAbsence"),
        // An adopted EIP may carry our claim: its absence is confirmed even with Retain.
        (None, Some("eip-1"), first_look(C::Missing), "ConfirmAbsence"),
        (Some(Retain), None, first_look(C::Missing), "RemoveFinalizer"),
        (Some(Retain), None, first_look(C::Never), "RemoveFinalizer"),
        (Some(Delete), None, eip(C::BoundUnknown), "UnknownBinding"),
        (Some(Delete), None, eip(C::Failed), "CloudStateFailed"),
        (Some(Delete), None, eip(C::Locked), "Locked"),
        // Prepaid: stall before touching anything, bound or not.
        (
            Some(Delete),
            None,
            Eip {
                prepaid: true,
                ..eip(C::BoundTo("i-1"))
            },
            "PrepaidCannotRelease",
        ),
        (
            Some(Delete),
            None,
            Eip {
                prepaid: true,
                ..eip(C::Unbound)
            },
            "PrepaidCannotRelease",
        ),
        // Never release what another object owns; an untagged adopted EIP with an explicit
        // Delete is the user's explicit choice.
        (
            Some(Delete),
            None,
            Eip {
                owner: Some(OTHER),
                ..eip(C::Unbound)
            },
            "NotOwned",
        ),
        (
            Some(Delete),
            None,
            Eip {
                owner: Some(OTHER),
                ..eip(C::BoundTo("i-1"))
            },
            "NotOwned",
        ),
        (
            Some(Delete),
            Some("eip-1"),
            Eip {
                owner: None,
                ..eip(C::BoundTo("i-1"))
            },
            "Unassociate",
        ),
        (
            Some(Delete),
            Some("eip-1"),
            Eip {
                owner: None,
                ..eip(C::Unbound)
            },
            "Release",
        ),
        (
            Some(Delete),
            Some("eip-1"),
            Eip {
                owner: Some(OTHER),
                ..eip(C::Unbound)
            },
            "NotOwned",
        ),
        // Delete on an adopted EIP we claimed: released as any other (its tags go with it).
        (Some(Delete), Some("eip-1"), eip(C::BoundTo("i-1")), "Unassociate"),
        (Some(Delete), Some("eip-1"), eip(C::Unbound), "Release"),
    ];
    for (i, (policy, adopt, cloud, want)) in rows.into_iter().enumerate() {
        let step = run(&spec(Some("i-1"), adopt, policy), true, cloud);
        assert_eq!(reason(&step), want, "row {i}: {step:?}");
    }
}

#[test]
fn unassociate_names_the_current_target_and_associate_the_wanted_one() {
    let step = run(&spec(Some("i-1"), None, None), false, eip(C::BoundTo("i-2")));
    assert_eq!(step, Step::Unassociate { current: ecs("i-2") });
    let step = run(&spec(Some("i-1"), None, None), false, eip(C::Unbound));
    assert_eq!(step, Step::Associate { target: ecs("i-1") });
}

#[test]
fn private_ip_must_match_only_when_the_spec_names_one() {
    let mut s = spec(Some("i-1"), None, None);
    let mut e = view(eip(C::BoundTo("i-1")));
    if let CloudView::Present(eip) = &mut e {
        eip.bound_to = Some(BindTarget {
            private_ip_address: Some("10.0.0.5".into()),
            ..ecs("i-1")
        });
    }
    let decide_with = |s: &ElasticIPSpec| decide_on(s, false, &e, false);
    assert_eq!(decide_with(&s), Step::Converged);
    let set_ip = |s: &mut ElasticIPSpec, ip: &str| {
        if let Some(b) = s.binding.as_mut() {
            b.private_ip_address = Some(ip.into());
        }
    };
    set_ip(&mut s, "10.0.0.6");
    assert!(matches!(decide_with(&s), Step::Unassociate { .. }));
    set_ip(&mut s, "10.0.0.5");
    assert_eq!(decide_with(&s), Step::Converged);
}

#[test]
fn a_claim_removes_only_the_owner_tags_and_a_loser_is_told_who_won() {
    let adopted = spec(Some("i-1"), Some("eip-1"), Some(DeletionPolicy::Unbind));
    let step = run(&adopted, true, eip(C::Unbound));
    assert_eq!(
        step,
        Step::Unclaim {
            keys: vec![OWNER_TAG.to_string(), OWNER_NAME_TAG.to_string()]
        },
        "the user's `team` tag stays"
    );
    // A claim without the name tag (written by hand, or cut by a cloud) still goes.
    let mut cloud = view(eip(C::Unbound));
    if let CloudView::Present(e) = &mut cloud {
        e.tags.remove(OWNER_NAME_TAG);
    }
    let step = decide_on(&adopted, true, &cloud, false);
    assert_eq!(
        step,
        Step::Unclaim {
            keys: vec![OWNER_TAG.to_string()]
        }
    );
    // The cluster tag belongs to the claim and goes with it.
    if let CloudView::Present(e) = &mut cloud {
        e.tags.insert(CLUSTER_TAG.into(), "cluster-a".into());
    }
    let step = decide_on(&adopted, true, &cloud, false);
    assert_eq!(
        step,
        Step::Unclaim {
            keys: vec![OWNER_TAG.to_string(), CLUSTER_TAG.to_string()]
        }
    );

    let step = run(&spec(Some("i-1"), Some("eip-1"), None), false, other(C::Unbound));
    let Step::Stalled(stall) = step else { panic!("stalls: {step:?}") };
    assert_eq!(
        stall,
        Stall::AdoptTargetOwnedElsewhere {
            allocation_id: "eip-1".into(),
            owner: OTHER.into(),
            owner_name: Some(format!("default/{OTHER}")),
        }
    );
    let message = stall.message();
    assert!(
        message.contains(&format!("ElasticIP default/{OTHER}")) && message.contains(OTHER),
        "{message}"
    );
    assert!(Step::Claim.is_mutating() && Step::Unclaim { keys: vec![] }.is_mutating());
}

/// Only a terminally refused unclaim of a deleting object lets it go with the step failed.
#[test]
fn a_refused_unclaim_lets_a_deleting_object_go() {
    use ErrorClass::*;
    let unclaim = Step::Unclaim {
        keys: vec![OWNER_TAG.into()],
    };
    let unbind = Step::Unassociate { current: ecs("i-1") };
    let rows: Vec<(&Step, bool, ErrorClass, bool)> = vec![
        (&unclaim, true, Terminal, true),
        (&unclaim, true, Retryable, false),
        (&unclaim, true, Gone, false),
        (&unclaim, false, Terminal, false),
        (&Step::Release, true, Terminal, false),
        (&unbind, true, Terminal, false),
    ];
    for (step, deleting, class, want) in rows {
        assert_eq!(
            lets_go_despite(step, deleting, class),
            want,
            "{step:?} deleting={deleting} {class:?}"
        );
    }
}

#[test]
fn effective_policy_defaults_by_ownership() {
    assert_eq!(effective_deletion_policy(&spec(None, None, None)), DeletionPolicy::Delete);
    assert_eq!(effective_deletion_policy(&spec(None, Some("eip-1"), None)), DeletionPolicy::Retain);
    assert_eq!(
        effective_deletion_policy(&spec(None, Some("eip-1"), Some(DeletionPolicy::Delete))),
        DeletionPolicy::Delete
    );
}

#[test]
fn every_stall_message_names_a_way_forward_or_the_blocker() {
    let stalls = [
        Stall::AdoptTargetNotFound {
            allocation_id: "eip-1".into(),
        },
        Stall::AdoptTargetOwnedElsewhere {
            allocation_id: "eip-1".into(),
            owner: OTHER.into(),
            owner_name: Some("default/web".into()),
        },
        Stall::AdoptTargetOwnedElsewhere {
            allocation_id: "eip-1".into(),
            owner: OTHER.into(),
            owner_name: None,
        },
        Stall::ReleasedOutOfBand {
            allocation_id: "eip-1".into(),
        },
        Stall::CloudStateFailed {
            state: "BIND_ERROR".into(),
        },
        Stall::Locked {
            state: "FREEZED".into(),
            locks: vec!["financial".into()],
        },
        Stall::PrepaidCannotRelease {
            allocation_id: "eip-1".into(),
        },
        Stall::NotOwned {
            allocation_id: "eip-1".into(),
            owner: OTHER.into(),
        },
        Stall::UnknownBinding { state: "ELB".into() },
        Stall::InvalidBinding { message: "x".into() },
        Stall::UnsupportedProviderId {
            node: "n1".into(),
            provider_id: "aws:///x".into(),
        },
        Stall::NodeWithoutProviderId { node: "n1".into() },
        Stall::NodeInAnotherRegion {
            node: "n1".into(),
            region: "cn-shanghai".into(),
            account_region: "cn-hangzhou".into(),
        },
    ];
    for stall in stalls {
        let message = stall.message();
        assert!(!message.is_empty() && message.len() < 1024, "{message}");
        assert!(stall.reason().chars().next().is_some_and(char::is_uppercase));
    }
    assert!(
        Stall::PrepaidCannotRelease { allocation_id: "x".into() }
            .message()
            .contains("deletionPolicy")
    );
}

/// Bindings by reference: (what the reference resolved to, cloud) → step. A Node's new instance
/// is bound only after the old one is unbound; a Node or load balancer that is gone unbinds and
/// waits; an unresolvable reference changes nothing.
#[test]
fn reference_table() {
    use Transition::*;
    let to = |id: &str| Wanted::Target {
        target: ecs(id),
        reference: Some(BoundReference {
            kind: "Node".into(),
            name: "n1".into(),
            instance_id: id.into(),
        }),
    };
    let awaiting = Wanted::Awaiting {
        reason: "NodeNotFound",
        message: "Node n1 does not exist".into(),
    };
    let unresolvable = Wanted::Unresolvable(Stall::UnsupportedProviderId {
        node: "n1".into(),
        provider_id: "aws:///x".into(),
    });
    let (first, second) = (to("i-1"), to("i-2"));
    let rows: Vec<(&Wanted, C, &str)> = vec![
        (&first, C::Unbound, "Associate"),
        (&first, C::BoundTo("i-1"), "Converged"),
        // The node's instance changed: unbind from the old one first.
        (&second, C::BoundTo("i-1"), "Unassociate"),
        (&second, C::Trans(Unassociating), "Wait"),
        (&second, C::Never, "Allocate"),
        // The node is gone: unbind, keep the EIP, wait for the node.
        (&awaiting, C::BoundTo("i-1"), "Unassociate"),
        (&awaiting, C::Trans(Unassociating), "Wait"),
        (&awaiting, C::Unbound, "NodeNotFound"),
        (&awaiting, C::Never, "Allocate"),
        // Nothing known of the target: leave the binding as it is.
        (&unresolvable, C::BoundTo("i-1"), "UnsupportedProviderId"),
        (&unresolvable, C::Unbound, "UnsupportedProviderId"),
        (&unresolvable, C::Trans(Associating), "Wait"),
        (&unresolvable, C::Locked, "Locked"),
    ];
    let spec = spec(None, None, None);
    for (wanted, cloud, want) in rows {
        let e = eip(cloud);
        let step = decide(&Inputs {
            spec: &spec,
            uid: UID,
            deleting: false,
            cloud: &view(e),
            wanted,
            absence_confirmed: e.confirmed,
        });
        assert_eq!(reason(&step), want, "{wanted:?} / {step:?}");
        if let Step::Unassociate { current } = &step {
            assert_eq!(current.instance_id, "i-1");
        }
        if let (Step::Associate { target }, Some(wanted)) = (&step, wanted.target()) {
            assert_eq!(target, wanted);
        }
    }
    // While deleting, the reference does not matter: the usual table applies.
    let step = decide(&Inputs {
        spec: &spec,
        uid: UID,
        deleting: true,
        cloud: &view(eip(C::BoundTo("i-1"))),
        wanted: &awaiting,
        absence_confirmed: true,
    });
    assert_eq!(reason(&step), "Unassociate");
}

#[test]
fn a_binding_by_id_is_its_own_target() {
    let spec = spec(Some("i-1"), None, None);
    assert_eq!(Wanted::of_instance(&spec).target(), Some(&ecs("i-1")));
    assert_eq!(Wanted::of_instance(&ElasticIPSpec::default()), Wanted::Unbound);
    let broken = ElasticIPSpec {
        binding: Some(eip_api::Binding::default()),
        ..Default::default()
    };
    assert!(matches!(
        Wanted::of_instance(&broken),
        Wanted::Unresolvable(Stall::InvalidBinding { .. })
    ));
}
