//! The reconcile decision: a pure function of what the object asks for and what the cloud says.
//!
//! It makes at most one cloud call per reconcile: the I/O layer executes the returned [`Step`]
//! and comes back later to look again.

use crate::api::{DeletionPolicy, ElasticIPSpec, Ownership};
use crate::cloud::{BindTarget, ChargeType, CloudEip, EipPhase, OWNER_NAME_TAG, OWNER_TAG, Transition};

/// What the cloud holds for this object.
#[derive(Clone, Debug, PartialEq)]
pub enum CloudView {
    /// Nothing was ever allocated for this object: no recorded allocation and no EIP tagged with
    /// its UID.
    NeverAllocated,
    /// The EIP this object refers to (adopted or recorded) does not exist (any more).
    Missing {
        allocation_id: String,
    },
    Present(CloudEip),
}

/// Everything the decision depends on.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    pub spec: &'a ElasticIPSpec,
    /// The object's UID, as found in the EIP's owner tag when the operator allocated it.
    pub uid: &'a str,
    /// `metadata.deletionTimestamp` is set (the finalizer holds the object).
    pub deleting: bool,
    pub cloud: &'a CloudView,
    /// The absence `cloud` reports (`Missing`, or `NeverAllocated` after a lookup) was also seen
    /// by an earlier well-formed look at least the confirmation window ago. A single answer
    /// never proves an address gone: clouds are eventually consistent.
    pub absence_confirmed: bool,
}

impl Inputs<'_> {
    pub fn ownership(&self) -> Ownership {
        ownership(self.spec)
    }

    pub fn deletion_policy(&self) -> DeletionPolicy {
        effective_deletion_policy(self.spec)
    }
}

pub fn ownership(spec: &ElasticIPSpec) -> Ownership {
    if spec.allocation_id.is_some() {
        Ownership::Adopted
    } else {
        Ownership::Allocated
    }
}

/// spec.deletionPolicy, else `Delete` for allocated EIPs and `Retain` for adopted ones.
pub fn effective_deletion_policy(spec: &ElasticIPSpec) -> DeletionPolicy {
    spec.deletion_policy.unwrap_or(match ownership(spec) {
        Ownership::Allocated => DeletionPolicy::Delete,
        Ownership::Adopted => DeletionPolicy::Retain,
    })
}

/// Why the operator cannot go on without a human.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stall {
    /// spec.allocationId names an EIP the cloud does not have.
    AdoptTargetNotFound { allocation_id: String },
    /// spec.allocationId names an EIP another object owns: one that allocated it or claimed it
    /// first (its owner tag names another UID; `owner_name` is that object's `namespace/name`,
    /// when the EIP says).
    AdoptTargetOwnedElsewhere {
        allocation_id: String,
        owner: String,
        owner_name: Option<String>,
    },
    /// The EIP this object allocated was released outside the operator.
    ReleasedOutOfBand { allocation_id: String },
    /// The cloud reports a failure state (`BIND_ERROR`, `ERROR`).
    CloudStateFailed { state: String },
    /// Frozen by billing or security.
    Locked { state: String, locks: Vec<String> },
    /// deletionPolicy Delete on a subscription EIP, which the API cannot release.
    PrepaidCannotRelease { allocation_id: String },
    /// deletionPolicy Delete on an EIP tagged as owned by another object.
    NotOwned { allocation_id: String, owner: String },
    /// The cloud says the EIP is bound but not to what.
    UnknownBinding { state: String },
}

impl Stall {
    /// CamelCase reason for the `Stalled` condition and the Warning Event.
    pub fn reason(&self) -> &'static str {
        match self {
            Stall::AdoptTargetNotFound { .. } => "AdoptTargetNotFound",
            Stall::AdoptTargetOwnedElsewhere { .. } => "AdoptTargetOwnedElsewhere",
            Stall::ReleasedOutOfBand { .. } => "ReleasedOutOfBand",
            Stall::CloudStateFailed { .. } => "CloudStateFailed",
            Stall::Locked { .. } => "Locked",
            Stall::PrepaidCannotRelease { .. } => "PrepaidCannotRelease",
            Stall::NotOwned { .. } => "NotOwned",
            Stall::UnknownBinding { .. } => "UnknownBinding",
        }
    }

    /// What blocks progress and the way out.
    pub fn message(&self) -> String {
        match self {
            Stall::AdoptTargetNotFound { allocation_id } => format!(
                "spec.allocationId {allocation_id} does not exist in this account and region; the operator never allocates a replacement for an adopted EIP. Fix the ID by recreating the ElasticIP."
            ),
            Stall::AdoptTargetOwnedElsewhere {
                allocation_id,
                owner,
                owner_name,
            } => {
                let (who, it) = match owner_name {
                    Some(name) => (format!("ElasticIP {name} (owner UID {owner})"), name.clone()),
                    None => (format!("another object (owner UID {owner})"), "that object".to_string()),
                };
                format!(
                    "EIP {allocation_id} is owned by {who}; two objects must not manage one address, so this one changes nothing. Delete this ElasticIP (or recreate it with another spec.allocationId); once {it} lets the address go (deleted with deletionPolicy Retain or Unbind, which removes its claim), this object adopts it at its next check."
                )
            }
            Stall::ReleasedOutOfBand { allocation_id } => format!(
                "EIP {allocation_id} was released outside the operator; a new address is not allocated silently. Delete and recreate the ElasticIP to get a new address."
            ),
            Stall::CloudStateFailed { state } => format!(
                "the cloud reports the EIP in state {state}; resolve it in the cloud console or with support, the operator checks again periodically."
            ),
            Stall::Locked { state, locks } => format!(
                "the EIP is locked by the cloud (state {state}, locks: {}); nothing can be changed until the lock is lifted.",
                if locks.is_empty() {
                    "none reported".to_string()
                } else {
                    locks.join(", ")
                }
            ),
            Stall::PrepaidCannotRelease { allocation_id } => format!(
                "EIP {allocation_id} is a subscription (PrePaid) address, which the API cannot release. Set spec.deletionPolicy to Unbind or Retain to let the object go and keep the address, then end the subscription in the cloud."
            ),
            Stall::NotOwned { allocation_id, owner } => format!(
                "EIP {allocation_id} is tagged as owned by another object (owner UID {owner}); it is never released by this one. Set spec.deletionPolicy to Retain to let the object go."
            ),
            Stall::UnknownBinding { state } => {
                format!("the cloud reports the EIP bound (state {state}) without naming the target; the operator cannot unbind it safely.")
            }
        }
    }
}

/// The next step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Allocate a new EIP (with the UID-derived idempotency token and owner tags).
    Allocate,
    /// Claim the adopted, untagged EIP: tag it with this object's owner tags ([`OWNER_TAG`] =
    /// UID, [`OWNER_NAME_TAG`] = namespace/name) before any binding changes. Tag writes are not
    /// compare-and-swap, so nothing is bound on the strength of the write: the next reconcile
    /// reads the tags back, and of adopters that claimed at once only the one the cloud kept
    /// (the last writer) goes on; the others stall and change nothing.
    Claim,
    /// Remove this object's claim from the adopted EIP it lets go of (deletionPolicy Retain or
    /// Unbind): the owner tags, only while they name this object. Other tags stay.
    Unclaim { keys: Vec<String> },
    /// Bind the unbound EIP to the target.
    Associate { target: BindTarget },
    /// Unbind the EIP from what it is bound to now.
    Unassociate { current: BindTarget },
    /// Release the unbound EIP.
    Release,
    /// The cloud is working on the EIP; look again soon. No mutating call.
    Wait { transition: Transition, state: String },
    /// The cloud did not list the EIP (or found nothing tagged with the object's UID) for the
    /// first time: look again after the confirmation window before concluding anything.
    ConfirmAbsence { allocation_id: Option<String> },
    /// Converged: the EIP is as the spec says.
    Converged,
    /// Deletion is complete (or nothing to do): remove the finalizer.
    RemoveFinalizer,
    /// A human must act.
    Stalled(Stall),
}

impl Step {
    /// Whether the step calls a mutating cloud API.
    pub fn is_mutating(&self) -> bool {
        matches!(
            self,
            Step::Allocate | Step::Claim | Step::Associate { .. } | Step::Unassociate { .. } | Step::Release | Step::Unclaim { .. }
        )
    }
}

/// Decides the next step. See `../shared/reference/lifecycle.md` and the table in the README.
pub fn decide(inputs: &Inputs<'_>) -> Step {
    if inputs.deleting {
        decide_deleting(inputs)
    } else {
        decide_living(inputs)
    }
}

fn decide_living(inputs: &Inputs<'_>) -> Step {
    let eip = match inputs.cloud {
        CloudView::NeverAllocated => {
            return match &inputs.spec.allocation_id {
                // The reconciler describes adopted IDs and never reports NeverAllocated for them;
                // treat it as missing rather than ever allocating a replacement.
                Some(id) => Step::Stalled(Stall::AdoptTargetNotFound { allocation_id: id.clone() }),
                None => Step::Allocate,
            };
        }
        CloudView::Missing { allocation_id } if !inputs.absence_confirmed => {
            return Step::ConfirmAbsence {
                allocation_id: Some(allocation_id.clone()),
            };
        }
        CloudView::Missing { allocation_id } => {
            let allocation_id = allocation_id.clone();
            return Step::Stalled(match inputs.ownership() {
                Ownership::Adopted => Stall::AdoptTargetNotFound { allocation_id },
                Ownership::Allocated => Stall::ReleasedOutOfBand { allocation_id },
            });
        }
        CloudView::Present(eip) => eip,
    };

    let adopted = inputs.ownership() == Ownership::Adopted;
    if adopted
        && let Some(owner) = owner_of(eip)
        && owner != inputs.uid
    {
        // Claimed (or allocated) by another object: change nothing, not even a tag.
        return Step::Stalled(Stall::AdoptTargetOwnedElsewhere {
            allocation_id: eip.allocation_id.clone(),
            owner: owner.to_string(),
            owner_name: eip.owner_name().map(str::to_string),
        });
    }
    // An adopted address is claimed before anything else changes (a frozen or failed one stalls
    // below, unclaimed: nothing at all is changed on it).
    if adopted && owner_of(eip).is_none() && !matches!(eip.phase, EipPhase::Failed | EipPhase::Locked) {
        return Step::Claim;
    }

    let wanted = inputs.spec.binding.as_ref().map(|b| b.target());
    match eip.phase {
        EipPhase::Transitional(transition) => Step::Wait {
            transition,
            state: eip.raw_state.clone(),
        },
        EipPhase::Failed => Step::Stalled(Stall::CloudStateFailed {
            state: eip.raw_state.clone(),
        }),
        EipPhase::Locked => Step::Stalled(locked(eip)),
        EipPhase::Bound => match (&eip.bound_to, wanted) {
            (None, _) => Step::Stalled(Stall::UnknownBinding {
                state: eip.raw_state.clone(),
            }),
            (Some(current), Some(wanted)) if current.satisfies(&wanted) => Step::Converged,
            // Bound elsewhere (spec changed, or rebound out of band): unbind first, bind next time.
            (Some(current), _) => Step::Unassociate { current: current.clone() },
        },
        EipPhase::Unbound => match wanted {
            Some(target) => Step::Associate { target },
            None => Step::Converged,
        },
    }
}

fn decide_deleting(inputs: &Inputs<'_>) -> Step {
    let policy = inputs.deletion_policy();
    let adopted = inputs.ownership() == Ownership::Adopted;
    // Retain touches nothing the object did not add; an adopted EIP carries its claim.
    if policy == DeletionPolicy::Retain && !adopted {
        return Step::RemoveFinalizer;
    }
    let eip = match inputs.cloud {
        // Removing the finalizer forgets the address (and any claim on it) for good: only on a
        // confirmed absence.
        CloudView::NeverAllocated | CloudView::Missing { .. } if !inputs.absence_confirmed => {
            return Step::ConfirmAbsence {
                allocation_id: match inputs.cloud {
                    CloudView::Missing { allocation_id } => Some(allocation_id.clone()),
                    _ => None,
                },
            };
        }
        CloudView::NeverAllocated | CloudView::Missing { .. } => return Step::RemoveFinalizer,
        CloudView::Present(eip) => eip,
    };
    let owner = owner_of(eip);
    let ours = owner == Some(inputs.uid);
    if policy == DeletionPolicy::Retain {
        // Only the claim goes (not while the cloud freezes the EIP: nothing can change then, and
        // Retain always lets the object go).
        return match unclaim(inputs, eip) {
            Some(step) if eip.phase != EipPhase::Locked => step,
            _ => Step::RemoveFinalizer,
        };
    }
    if policy == DeletionPolicy::Unbind && owner.is_some() && !ours {
        // Another object's address (an adopter that lost the claim to it): never unbound by this one.
        return Step::RemoveFinalizer;
    }
    match eip.phase {
        // Possibly our own unbind or release in flight.
        EipPhase::Transitional(transition) => {
            return Step::Wait {
                transition,
                state: eip.raw_state.clone(),
            };
        }
        EipPhase::Failed => {
            return Step::Stalled(Stall::CloudStateFailed {
                state: eip.raw_state.clone(),
            });
        }
        EipPhase::Locked => return Step::Stalled(locked(eip)),
        EipPhase::Bound | EipPhase::Unbound => {}
    }
    // With Delete, settle whether the address may be released before changing anything, so a
    // blocked deletion leaves the EIP exactly as it was.
    if policy == DeletionPolicy::Delete
        && let Some(stall) = release_blocker(inputs, eip)
    {
        return Step::Stalled(stall);
    }
    match (eip.phase, &eip.bound_to, policy) {
        (EipPhase::Bound, None, _) => Step::Stalled(Stall::UnknownBinding {
            state: eip.raw_state.clone(),
        }),
        (EipPhase::Bound, Some(current), _) => Step::Unassociate { current: current.clone() },
        (_, _, DeletionPolicy::Delete) => Step::Release,
        // Unbind: unbound now; an adopter lets go of its claim last.
        _ => unclaim(inputs, eip).unwrap_or(Step::RemoveFinalizer),
    }
}

/// The owner UID the EIP's tags name (an empty value names nobody).
fn owner_of(eip: &CloudEip) -> Option<&str> {
    eip.owner_uid().filter(|owner| !owner.is_empty())
}

/// The step that removes this adopter's claim from the EIP, while its tags name this object.
fn unclaim(inputs: &Inputs<'_>, eip: &CloudEip) -> Option<Step> {
    if inputs.ownership() != Ownership::Adopted || owner_of(eip) != Some(inputs.uid) {
        return None;
    }
    let keys = [OWNER_TAG, OWNER_NAME_TAG]
        .into_iter()
        .filter(|key| eip.tags.contains_key(*key))
        .map(str::to_string)
        .collect();
    Some(Step::Unclaim { keys })
}

/// Why this object must not release the EIP, if it must not.
fn release_blocker(inputs: &Inputs<'_>, eip: &CloudEip) -> Option<Stall> {
    if let Some(owner) = eip.owner_uid()
        && owner != inputs.uid
    {
        return Some(Stall::NotOwned {
            allocation_id: eip.allocation_id.clone(),
            owner: owner.to_string(),
        });
    }
    if eip.charge_type == ChargeType::PrePaid {
        return Some(Stall::PrepaidCannotRelease {
            allocation_id: eip.allocation_id.clone(),
        });
    }
    None
}

fn locked(eip: &CloudEip) -> Stall {
    Stall::Locked {
        state: eip.raw_state.clone(),
        locks: eip.locks.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::api::Binding;
    use crate::cloud::InstanceType;

    const UID: &str = "uid-1";
    const OTHER: &str = "uid-2";

    fn target(id: &str) -> BindTarget {
        BindTarget {
            instance_type: InstanceType::EcsInstance,
            instance_id: id.into(),
            private_ip_address: None,
        }
    }

    fn spec(binding: Option<&str>, adopt: Option<&str>, policy: Option<DeletionPolicy>) -> ElasticIPSpec {
        ElasticIPSpec {
            allocation_id: adopt.map(str::to_string),
            binding: binding.map(|id| Binding {
                instance_type: InstanceType::EcsInstance,
                instance_id: id.into(),
                private_ip_address: None,
                mode: None,
                vpc_id: None,
            }),
            deletion_policy: policy,
            ..Default::default()
        }
    }

    #[derive(Clone, Copy)]
    enum C {
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
    struct Eip {
        cloud: C,
        owner: Option<&'static str>,
        prepaid: bool,
        /// For `Missing` and `Never`: an earlier look saw the same absence.
        confirmed: bool,
    }

    fn eip(cloud: C) -> Eip {
        Eip {
            cloud,
            owner: Some(UID),
            prepaid: false,
            confirmed: true,
        }
    }

    /// An EIP without owner tags (made outside the operator).
    fn untagged(cloud: C) -> Eip {
        Eip { owner: None, ..eip(cloud) }
    }

    /// An EIP claimed (or allocated) by another object.
    fn other(cloud: C) -> Eip {
        Eip {
            owner: Some(OTHER),
            ..eip(cloud)
        }
    }

    /// The first look that finds nothing: not yet proof.
    fn first_look(cloud: C) -> Eip {
        Eip {
            confirmed: false,
            ..eip(cloud)
        }
    }

    fn view(e: Eip) -> CloudView {
        let (phase, bound_to, state) = match e.cloud {
            C::Never => return CloudView::NeverAllocated,
            C::Missing => {
                return CloudView::Missing {
                    allocation_id: "eip-1".into(),
                };
            }
            C::Unbound => (EipPhase::Unbound, None, "Available"),
            C::BoundTo(id) => (EipPhase::Bound, Some(target(id)), "InUse"),
            C::BoundUnknown => (EipPhase::Bound, None, "ELB"),
            C::Trans(t) => (EipPhase::Transitional(t), None, t.as_str()),
            C::Failed => (EipPhase::Failed, None, "BIND_ERROR"),
            C::Locked => (EipPhase::Locked, None, "FREEZED"),
        };
        // A user's own tag, which nothing here ever removes.
        let mut tags = BTreeMap::from([("team".to_string(), "web".to_string())]);
        if let Some(owner) = e.owner {
            tags.insert(OWNER_TAG.to_string(), owner.to_string());
            tags.insert(OWNER_NAME_TAG.to_string(), format!("default/{owner}"));
        }
        CloudView::Present(CloudEip {
            allocation_id: "eip-1".into(),
            ip_address: "47.0.0.1".into(),
            raw_state: state.into(),
            phase,
            bound_to,
            charge_type: if e.prepaid { ChargeType::PrePaid } else { ChargeType::PostPaid },
            locks: vec![],
            tags,
            bandwidth_mbps: None,
        })
    }

    fn run(spec: &ElasticIPSpec, deleting: bool, e: Eip) -> Step {
        let cloud = view(e);
        decide(&Inputs {
            spec,
            uid: UID,
            deleting,
            cloud: &cloud,
            absence_confirmed: e.confirmed,
        })
    }

    fn reason(step: &Step) -> &'static str {
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
            // Frozen: nothing can change, and Retain always lets go (the claim stays).
            (None, Some("eip-1"), eip(C::Locked), "RemoveFinalizer"),
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
        assert_eq!(step, Step::Unassociate { current: target("i-2") });
        let step = run(&spec(Some("i-1"), None, None), false, eip(C::Unbound));
        assert_eq!(step, Step::Associate { target: target("i-1") });
    }

    #[test]
    fn private_ip_must_match_only_when_the_spec_names_one() {
        let mut s = spec(Some("i-1"), None, None);
        let mut e = view(eip(C::BoundTo("i-1")));
        if let CloudView::Present(eip) = &mut e {
            eip.bound_to = Some(BindTarget {
                private_ip_address: Some("10.0.0.5".into()),
                ..target("i-1")
            });
        }
        let decide_with = |s: &ElasticIPSpec| {
            decide(&Inputs {
                spec: s,
                uid: UID,
                deleting: false,
                cloud: &e,
                absence_confirmed: false,
            })
        };
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
        let step = decide(&Inputs {
            spec: &adopted,
            uid: UID,
            deleting: true,
            cloud: &cloud,
            absence_confirmed: false,
        });
        assert_eq!(
            step,
            Step::Unclaim {
                keys: vec![OWNER_TAG.to_string()]
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
}
