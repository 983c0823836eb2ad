//! The reconcile decision: a pure function of what the object asks for and what the cloud says.
//!
//! It makes at most one cloud call per reconcile: the I/O layer executes the returned [`Step`]
//! and comes back later to look again.

use eip_api::{BindingSubject, BoundReference, DeletionPolicy, ElasticIPSpec, Ownership};
use eip_cloud::{BindTarget, CLUSTER_TAG, ChargeType, CloudEip, EipPhase, ErrorClass, OWNER_NAME_TAG, OWNER_TAG, Transition};

/// What the cloud holds for this object.
// One value per reconcile, never held in bulk: boxing the EIP would buy nothing.
#[allow(clippy::large_enum_variant)]
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

/// What spec.binding asks for, with its Kubernetes reference (nodeRef, serviceRef) read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// No binding: keep the EIP unbound.
    Unbound,
    /// Bind to `target` (as the cloud will report it: on OTC/Huawei a server's port).
    Target {
        target: BindTarget,
        /// The Node or Service it was resolved from.
        reference: Option<BoundReference>,
    },
    /// The reference names nothing to bind to now (the Node is gone, the Service has no load
    /// balancer yet): unbind, keep the EIP, and wait for it.
    Awaiting { reason: &'static str, message: String },
    /// The reference cannot be resolved as it stands (an unsupported providerID): a human must act.
    Unresolvable(Stall),
}

impl Wanted {
    /// What a binding by cloud ID (or none) asks for; references are resolved by the reconciler.
    pub fn of_instance(spec: &ElasticIPSpec) -> Wanted {
        match spec.binding.as_ref().map(|b| (b, b.subject())) {
            None => Wanted::Unbound,
            Some((binding, Some(BindingSubject::Instance(instance_type, id)))) => Wanted::Target {
                target: BindTarget {
                    instance_type,
                    instance_id: id.to_string(),
                    private_ip_address: binding.private_ip_address.clone(),
                },
                reference: None,
            },
            Some((_, Some(BindingSubject::Node(_) | BindingSubject::Service(_)))) => Wanted::Unresolvable(Stall::InvalidBinding {
                message: "spec.binding names a Kubernetes object, which is resolved by the reconciler".into(),
            }),
            Some((_, None)) => Wanted::Unresolvable(Stall::InvalidBinding {
                message: "spec.binding must name exactly one of instanceId (with instanceType), nodeRef or serviceRef".into(),
            }),
        }
    }

    /// The target to bind to, when there is one.
    pub fn target(&self) -> Option<&BindTarget> {
        match self {
            Wanted::Target { target, .. } => Some(target),
            _ => None,
        }
    }
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
    /// What spec.binding asks for, resolved.
    pub wanted: &'a Wanted,
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
    /// spec.binding names exactly none of its targets (the API server's rules prevent it).
    InvalidBinding { message: String },
    /// A Node's spec.providerID names no instance this operator can bind to.
    UnsupportedProviderId { node: String, provider_id: String },
    /// A Node has no spec.providerID (yet): its cloud controller manager has not named its instance.
    NodeWithoutProviderId { node: String },
    /// A Node's providerID names an instance in another region than the ProviderConfig's.
    NodeInAnotherRegion {
        node: String,
        region: String,
        account_region: String,
    },
    /// managementPolicy Observe with no EIP to observe: no allocationId, nothing recorded, nothing
    /// tagged with the object's UID (observing never allocates).
    NothingToObserve,
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
            Stall::InvalidBinding { .. } => "InvalidBinding",
            Stall::UnsupportedProviderId { .. } => "UnsupportedProviderId",
            Stall::NodeWithoutProviderId { .. } => "NodeWithoutProviderId",
            Stall::NodeInAnotherRegion { .. } => "NodeInAnotherRegion",
            Stall::NothingToObserve => "NothingToObserve",
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
            Stall::InvalidBinding { message } => format!("{message}; fix spec.binding."),
            Stall::UnsupportedProviderId { node, provider_id } => format!(
                "Node {node} has spec.providerID {provider_id:?}, which names no instance this operator binds to (it reads Alibaba ACK's <region-id>.<instance-id>, openstack:///<server-id> and a bare instance ID); the binding is left as it is."
            ),
            Stall::NodeWithoutProviderId { node } => format!(
                "Node {node} has no spec.providerID, so its cloud instance is unknown (is the cloud controller manager running?); the binding is left as it is."
            ),
            Stall::NodeInAnotherRegion {
                node,
                region,
                account_region,
            } => format!(
                "Node {node} runs in region {region}, the ProviderConfig's account in {account_region}: an EIP binds only in its own region; the binding is left as it is."
            ),
            Stall::NothingToObserve => "managementPolicy Observe names no EIP to observe (no spec.allocationId, none recorded in status, none tagged with this object's UID), and observing never allocates. Recreate the ElasticIP with spec.allocationId, or set managementPolicy to Manage to allocate one.".to_string(),
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
    /// managementPolicy Observe: the EIP is reported as the cloud has it, with how its binding
    /// differs from spec.binding (`drift`), and nothing is changed. No call.
    Observe { drift: Option<String> },
    /// Deletion is complete (or nothing to do): remove the finalizer.
    RemoveFinalizer,
    /// Unbound, waiting for the Node or Service spec.binding names to offer a target. No call.
    AwaitReference { reason: &'static str, message: String },
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

/// Whether a deleting object lets go although its step failed: a claim the cloud refuses
/// (terminally) to remove must not hold the object for ever, since letting go without touching
/// the address is what Retain and Unbind promise. The Event names the tags left behind.
pub fn lets_go_despite(step: &Step, deleting: bool, failure: ErrorClass) -> bool {
    deleting && failure == ErrorClass::Terminal && matches!(step, Step::Unclaim { .. })
}

/// Decides the next step. See `../shared/reference/lifecycle.md` and the table in the README.
pub fn decide(inputs: &Inputs<'_>) -> Step {
    if inputs.spec.observe_only() {
        decide_observing(inputs)
    } else if inputs.deleting {
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

    let wanted = inputs.wanted.target().cloned();
    if let (Wanted::Unresolvable(stall), EipPhase::Bound | EipPhase::Unbound) = (inputs.wanted, eip.phase) {
        // Nothing is known of the target: the binding stays as it is.
        return Step::Stalled(stall.clone());
    }
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
        EipPhase::Unbound => match (wanted, inputs.wanted) {
            (Some(target), _) => Step::Associate { target },
            (None, Wanted::Awaiting { reason, message }) => Step::AwaitReference {
                reason,
                message: message.clone(),
            },
            (None, _) => Step::Converged,
        },
    }
}

/// managementPolicy Observe: never a mutating step. Deletion only lets the object go; a living
/// object waits out transitions, stalls on what a human must know, and otherwise reports.
fn decide_observing(inputs: &Inputs<'_>) -> Step {
    if inputs.deleting {
        return Step::RemoveFinalizer;
    }
    let eip = match inputs.cloud {
        CloudView::NeverAllocated => {
            return Step::Stalled(match &inputs.spec.allocation_id {
                Some(id) => Stall::AdoptTargetNotFound { allocation_id: id.clone() },
                None => Stall::NothingToObserve,
            });
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
    match eip.phase {
        EipPhase::Transitional(transition) => Step::Wait {
            transition,
            state: eip.raw_state.clone(),
        },
        EipPhase::Failed => Step::Stalled(Stall::CloudStateFailed {
            state: eip.raw_state.clone(),
        }),
        EipPhase::Locked => Step::Stalled(locked(eip)),
        EipPhase::Bound | EipPhase::Unbound => match inputs.wanted {
            Wanted::Unresolvable(stall) => Step::Stalled(stall.clone()),
            wanted => Step::Observe {
                drift: binding_drift(wanted, eip),
            },
        },
    }
}

/// How the cloud's binding differs from what spec.binding asks for, if it does.
fn binding_drift(wanted: &Wanted, eip: &CloudEip) -> Option<String> {
    let now = match (&eip.bound_to, eip.phase) {
        (Some(current), _) => format!("bound to {current}"),
        (None, EipPhase::Bound) => format!("bound (state {}) to a target it does not name", eip.raw_state),
        (None, _) => "unbound".to_string(),
    };
    match (wanted, &eip.bound_to) {
        (Wanted::Target { target, .. }, Some(current)) if current.satisfies(target) => None,
        (Wanted::Target { target, .. }, _) => Some(format!("the cloud reports the EIP {now}; spec.binding asks for {target}")),
        (Wanted::Unbound, _) if eip.phase == EipPhase::Bound => Some(format!("the cloud reports the EIP {now}; spec.binding is absent")),
        (Wanted::Awaiting { message, .. }, _) if eip.phase == EipPhase::Bound => {
            Some(format!("the cloud reports the EIP {now}; {message}"))
        }
        _ => None,
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
        // Only the claim goes, also from a locked EIP: tags live on the tag APIs, which an
        // operation lock does not freeze, and a claim left behind names a deleted object and
        // keeps every later adopter away. (A refused unclaim still lets the object go: see
        // `lets_go_despite`.)
        return unclaim(inputs, eip).unwrap_or(Step::RemoveFinalizer);
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
    let keys = [OWNER_TAG, OWNER_NAME_TAG, CLUSTER_TAG]
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
#[path = "decide_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "decide_observe_tests.rs"]
mod observe_tests;
