//! What the status says after a reconcile: a pure function of the previous status, the decision
//! and the outcome of the call it made.
//!
//! Conditions follow kstatus: `Ready`, `Reconciling` (work in flight), `Stalled` (a human must
//! act) and `Bound` (the EIP is attached to spec.binding's target). `lastTransitionTime` changes
//! only when a condition's status flips.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use super::decide::{CloudView, Step, Wanted, effective_deletion_policy, ownership};
use eip_api::{Absence, BoundTo, ElasticIPSpec, ElasticIPStatus, LastOperation, Phase};
use eip_cloud::{BindTarget, Blocker, CloudEip, CloudError, EipPhase, ErrorClass, Receipt, Transition};

pub const READY: &str = "Ready";
pub const BOUND: &str = "Bound";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// What came of executing the step.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The step made no cloud call.
    NoCall,
    /// The cloud accepted the call. `allocated` is the new EIP after an allocation.
    Accepted { receipt: Receipt, allocated: Option<CloudEip> },
    /// The call failed. Gone errors on unbind/release count as success and are reported as
    /// `Accepted` by the reconciler; what reaches here is retryable or terminal.
    Failed(CloudError),
}

/// Everything the status is computed from.
pub struct StatusInputs<'a> {
    pub generation: Option<i64>,
    pub spec: &'a ElasticIPSpec,
    pub deleting: bool,
    pub cloud: &'a CloudView,
    /// What spec.binding asks for, resolved.
    pub wanted: &'a Wanted,
    pub step: &'a Step,
    pub outcome: &'a Outcome,
    pub provider_config: &'a str,
    /// Whether the account's cloud can force an unbind past NAT entries (`spec.forceUnbind`).
    pub force_unbind_available: bool,
    /// When the reconcile began: a new operation's `startedAt`, the conditions' transition time.
    pub now: Timestamp,
    /// When the step's call was answered (after any wait for the API's pace).
    pub answered: Timestamp,
}

/// The status after this reconcile.
pub fn next_status(prev: Option<&ElasticIPStatus>, inputs: &StatusInputs<'_>) -> ElasticIPStatus {
    if let Step::ConfirmAbsence { allocation_id } = inputs.step {
        // Nothing is concluded from one answer: keep what was observed, say what is checked.
        let what = match allocation_id {
            Some(id) => format!("the cloud did not list EIP {id}"),
            None => "the cloud lists no EIP tagged with this object's UID".to_string(),
        };
        let blocked = Unobserved::ConfirmingAbsence(format!(
            "{what}; looking again before concluding it is gone (clouds are eventually consistent)"
        ));
        let mut status = unobserved_status(prev, inputs.generation, inputs.spec, &blocked, inputs.now);
        // The first look that missed it stays recorded until the absence is confirmed or undone.
        status.absence = match status.absence.take() {
            Some(seen) if seen.allocation_id == *allocation_id => Some(seen),
            _ => Some(Absence {
                allocation_id: allocation_id.clone(),
                since: inputs.now.to_string(),
            }),
        };
        return status;
    }
    let eip = match (inputs.outcome, inputs.cloud) {
        (Outcome::Accepted { allocated: Some(eip), .. }, _) => Some(eip),
        (_, CloudView::Present(eip)) => Some(eip),
        _ => None,
    };
    let recorded_id = match inputs.cloud {
        CloudView::Missing { allocation_id } => Some(allocation_id.clone()),
        _ => None,
    };
    let verdict = verdict(inputs, eip);
    let prev_conditions = prev.map(|p| p.conditions.as_slice()).unwrap_or_default();
    let mut conditions = Vec::with_capacity(4);
    let mut set = |type_: &str, status: bool, reason: &str, message: String| {
        conditions.push(condition(
            prev_conditions,
            type_,
            status,
            reason,
            message,
            inputs.generation,
            inputs.now,
        ));
    };
    set(READY, verdict.ready, verdict.reason, verdict.message.clone());
    let (bound, bound_reason, bound_message) = bound_condition(inputs.wanted, eip);
    set(BOUND, bound, bound_reason, bound_message);
    match &verdict.progress {
        Some((reason, message)) => set(RECONCILING, true, reason, message.clone()),
        None => set(RECONCILING, false, "Idle", "no cloud operation in flight".into()),
    }
    match &verdict.stalled {
        Some((reason, message)) => set(STALLED, true, reason, message.clone()),
        None => set(STALLED, false, "NotStalled", "nothing blocks progress".into()),
    }

    ElasticIPStatus {
        observed_generation: inputs.generation,
        allocation_id: eip.map(|e| e.allocation_id.clone()).or(recorded_id),
        ip_address: eip.map(|e| e.ip_address.clone()),
        cloud_state: eip.map(|e| e.raw_state.clone()),
        phase: Some(verdict.phase),
        bound_to: eip
            .and_then(|e| e.bound_to.as_ref())
            .map(|current| bound_to(current, inputs.wanted)),
        ownership: Some(ownership(inputs.spec)),
        effective_deletion_policy: Some(effective_deletion_policy(inputs.spec)),
        provider_config: Some(inputs.provider_config.to_string()),
        last_operation: last_operation(prev.and_then(|p| p.last_operation.as_ref()), inputs),
        drift: match inputs.step {
            Step::Observe { drift } => drift.clone(),
            _ => None,
        },
        absence: None,
        conditions,
    }
}

/// What the cloud reports bound, with the Node or Service it was resolved from when it is the
/// target spec.binding asks for.
fn bound_to(current: &BindTarget, wanted: &Wanted) -> BoundTo {
    let mut bound = BoundTo::from(current);
    if let Wanted::Target {
        target,
        reference: Some(reference),
    } = wanted
        && current.satisfies(target)
    {
        bound.reference = Some(reference.clone());
    }
    bound
}

struct Verdict {
    ready: bool,
    reason: &'static str,
    message: String,
    phase: Phase,
    progress: Option<(&'static str, String)>,
    stalled: Option<(&'static str, String)>,
}

fn verdict(inputs: &StatusInputs<'_>, eip: Option<&CloudEip>) -> Verdict {
    let stalled = match (inputs.step, inputs.outcome) {
        (Step::Stalled(stall), _) => Some((stall.reason(), stall.message())),
        (step, Outcome::Failed(err)) if err.class() == ErrorClass::Terminal => Some(terminal_stall(step, err, inputs)),
        _ => None,
    };
    if let Some((reason, message)) = stalled {
        return Verdict {
            ready: false,
            reason,
            message: message.clone(),
            phase: Phase::Stalled,
            progress: None,
            stalled: Some((reason, message)),
        };
    }

    let progress = progress(inputs.step, inputs.outcome);
    let phase = phase(inputs.step, inputs.deleting);
    if let Some((reason, message)) = progress {
        let (ready_reason, ready_message) = if inputs.deleting {
            ("Deleting", format!("deleting: {message}"))
        } else {
            (reason, message.clone())
        };
        return Verdict {
            ready: false,
            reason: ready_reason,
            message: ready_message,
            phase,
            progress: Some((reason, message)),
            stalled: None,
        };
    }

    // Observed, or converged (RemoveFinalizer writes no status).
    if let (Step::Observe { drift }, Some(eip)) = (inputs.step, eip) {
        let now = eip.bound_to.as_ref().map_or("unbound".to_string(), |t| format!("bound to {t}"));
        let drift = drift.as_ref().map_or(String::new(), |d| format!("; drift, not repaired: {d}"));
        return Verdict {
            ready: true,
            reason: "Observed",
            message: format!(
                "EIP {} ({}) is {now}, as observed under managementPolicy Observe (the operator changes nothing){drift}",
                eip.ip_address, eip.allocation_id
            ),
            phase,
            progress: None,
            stalled: None,
        };
    }
    let (reason, message) = match eip {
        Some(eip) => match &eip.bound_to {
            Some(target) => (
                "Bound",
                format!("EIP {} ({}) is bound to {target}", eip.ip_address, eip.allocation_id),
            ),
            None => (
                "Unbound",
                format!(
                    "EIP {} ({}) is allocated and unbound, as spec.binding is absent",
                    eip.ip_address, eip.allocation_id
                ),
            ),
        },
        None => ("Converged", "nothing to do".to_string()),
    };
    Verdict {
        ready: true,
        reason,
        message,
        phase,
        progress: None,
        stalled: None,
    }
}

/// Reconciling=True reason and message, if work is in flight.
fn progress(step: &Step, outcome: &Outcome) -> Option<(&'static str, String)> {
    if let Outcome::Failed(err) = outcome {
        let reason = if err.is_throttled() { "Throttled" } else { "RetryingAfterError" };
        return Some((
            reason,
            format!("{} failed, will retry: {}: {}", err.operation, err.code, err.message),
        ));
    }
    let request = match outcome {
        Outcome::Accepted { receipt, .. } if !receipt.request_id.is_empty() => format!(" (request {})", receipt.request_id),
        _ => String::new(),
    };
    match step {
        Step::Allocate => Some(("Allocating", format!("allocation requested{request}"))),
        Step::Claim => Some((
            "Claiming",
            format!(
                "claiming the adopted EIP for this object (owner tags) requested{request}; it is bound only once its tags read back name this object"
            ),
        )),
        Step::Unclaim { keys } => Some((
            "Unclaiming",
            format!("removing this object's claim ({}) from the EIP requested{request}", keys.join(", ")),
        )),
        Step::Associate { target } => Some(("Associating", format!("binding to {target} requested{request}"))),
        Step::Unassociate { current } => Some(("Unassociating", format!("unbinding from {current} requested{request}"))),
        Step::Release => Some(("Releasing", format!("release requested{request}"))),
        Step::Wait { transition, state } => Some((wait_reason(*transition), format!("waiting for the cloud to finish: state {state}"))),
        Step::ConfirmAbsence { .. } => Some(("ConfirmingAbsence", "looking again before concluding the EIP is gone".into())),
        Step::AwaitReference { reason, message } => Some((reason, message.clone())),
        Step::Converged | Step::Observe { .. } | Step::RemoveFinalizer | Step::Stalled(_) => None,
    }
}

fn wait_reason(transition: Transition) -> &'static str {
    match transition {
        Transition::Allocating => "Allocating",
        Transition::Associating => "Associating",
        Transition::Unassociating => "Unassociating",
        Transition::Releasing => "Releasing",
        Transition::Updating => "WaitingForCloud",
    }
}

fn phase(step: &Step, deleting: bool) -> Phase {
    match step {
        Step::Allocate
        | Step::Wait {
            transition: Transition::Allocating,
            ..
        } => Phase::Allocating,
        Step::Associate { .. }
        | Step::Wait {
            transition: Transition::Associating,
            ..
        } => Phase::Binding,
        Step::Unassociate { .. }
        | Step::Wait {
            transition: Transition::Unassociating,
            ..
        } => Phase::Unbinding,
        Step::Release
        | Step::Wait {
            transition: Transition::Releasing,
            ..
        } => Phase::Releasing,
        Step::Stalled(_) => Phase::Stalled,
        _ if deleting => Phase::Deleting,
        Step::Claim => Phase::Pending,
        Step::Wait { .. } | Step::ConfirmAbsence { .. } | Step::AwaitReference { .. } => Phase::Pending,
        // Unclaim runs only while deleting (above); a living object is never unclaimed.
        Step::Converged | Step::Observe { .. } | Step::RemoveFinalizer | Step::Unclaim { .. } => Phase::Ready,
    }
}

/// The Stalled reason and message for a terminal cloud error, with the way out.
fn terminal_stall(step: &Step, err: &CloudError, inputs: &StatusInputs<'_>) -> (&'static str, String) {
    let blocker = err.blocker().unwrap_or(Blocker::Other);
    let hint = match blocker {
        Blocker::NatEntriesBlockUnbind if !inputs.force_unbind_available => {
            " Delete the NAT gateway's SNAT/DNAT rules that use this address: this cloud cannot force the unbind (spec.forceUnbind has no effect here)."
        }
        Blocker::NatEntriesBlockUnbind if !inputs.spec.force_unbind => {
            " Remove the NAT gateway's SNAT/DNAT entries that use this address, or set spec.forceUnbind: true."
        }
        Blocker::PrepaidCannotRelease => " Set spec.deletionPolicy to Unbind or Retain to keep the address and let the object go.",
        Blocker::InvalidBindingTarget => " Fix spec.binding.",
        Blocker::DeletionProtection => " Turn off deletion protection in the cloud, or set spec.deletionPolicy to Retain.",
        Blocker::Forbidden if matches!(step, Step::Claim | Step::Unclaim { .. }) => {
            " The credentials need the permission to tag EIPs (Alibaba Cloud: vpc:TagResources and vpc:UnTagResources; OTC/Huawei Cloud: the EIP tag API)."
        }
        _ if matches!(step, Step::Unclaim { .. }) => {
            " To let the object go, remove the tags eip-operator.dev/owner-uid and eip-operator.dev/owner from the EIP in the console."
        }
        _ => "",
    };
    let action = match step {
        Step::Allocate => "allocate",
        Step::Claim => "tag the EIP (claim it)",
        Step::Unclaim { .. } => "untag the EIP (remove this object's claim)",
        Step::Associate { .. } => "bind",
        Step::Unassociate { .. } => "unbind",
        Step::Release => "release",
        _ => "call",
    };
    let request = err.request_id.as_deref().map(|id| format!(" (request {id})")).unwrap_or_default();
    (
        blocker.reason(),
        format!("the cloud refused to {action}: {}: {}{request}.{hint}", err.code, err.message),
    )
}

fn bound_condition(wanted: &Wanted, eip: Option<&CloudEip>) -> (bool, &'static str, String) {
    let Some(eip) = eip else {
        return (false, "NotAllocated", "no EIP is allocated".into());
    };
    if let (Wanted::Awaiting { reason, message }, false) = (wanted, matches!(eip.phase, EipPhase::Transitional(_))) {
        let now = eip.bound_to.as_ref().map_or("unbound".to_string(), |c| format!("bound to {c}"));
        return (false, reason, format!("{now}; {message}"));
    }
    match (&eip.bound_to, wanted.target(), eip.phase) {
        (_, _, EipPhase::Transitional(t)) => (
            false,
            wait_reason(t),
            format!("the cloud is working on the EIP (state {})", eip.raw_state),
        ),
        (Some(current), Some(target), _) if current.satisfies(target) => (true, "Bound", format!("bound to {current}")),
        (Some(current), Some(target), _) => (
            false,
            "BoundElsewhere",
            format!("bound to {current}, spec.binding asks for {target}"),
        ),
        (Some(current), None, _) => (false, "BoundElsewhere", format!("bound to {current}, spec.binding is absent")),
        (None, Some(target), _) => (false, "Unbound", format!("not bound yet; spec.binding asks for {target}")),
        (None, None, _) => (false, "NoBindingRequested", "unbound, as spec.binding is absent".into()),
    }
}

/// The name of the mutating call a step makes, as recorded in `status.lastOperation.action`.
pub fn step_action(step: &Step) -> Option<&'static str> {
    match step {
        Step::Allocate => Some("Allocate"),
        Step::Claim => Some("Claim"),
        Step::Associate { .. } => Some("Associate"),
        Step::Unassociate { .. } => Some("Unassociate"),
        Step::Release => Some("Release"),
        Step::Unclaim { .. } => Some("Unclaim"),
        _ => None,
    }
}

/// The previous operation, if this step retries it after a failure. Retries keep the start time
/// (and so the idempotency token); a new action starts afresh.
pub fn continued_operation<'a>(prev: Option<&'a LastOperation>, step: &Step) -> Option<&'a LastOperation> {
    let action = step_action(step)?;
    prev.filter(|p| p.action == action && p.error.is_some())
}

fn last_operation(prev: Option<&LastOperation>, inputs: &StatusInputs<'_>) -> Option<LastOperation> {
    let Some(action) = step_action(inputs.step) else {
        return prev.cloned();
    };
    let continuing = continued_operation(prev, inputs.step);
    let (request_id, error) = match inputs.outcome {
        Outcome::Accepted { receipt, .. } => (Some(receipt.request_id.clone()).filter(|id| !id.is_empty()), None),
        Outcome::Failed(err) => (err.request_id.clone(), Some(format!("{}: {}", err.code, err.message))),
        Outcome::NoCall => (None, None),
    };
    Some(LastOperation {
        action: action.to_string(),
        request_id,
        started_at: continuing.map(|p| p.started_at.clone()).unwrap_or_else(|| inputs.now.to_string()),
        answered_at: match inputs.outcome {
            Outcome::NoCall => None,
            _ => Some(inputs.answered.to_string()),
        },
        attempts: continuing.map(|p| p.attempts.saturating_add(1)).unwrap_or(1),
        error,
    })
}

/// The status after a reconcile that could not observe the cloud (or resolve the account):
/// everything observed before is kept, the conditions say why nothing moved.
pub fn unobserved_status(
    prev: Option<&ElasticIPStatus>,
    generation: Option<i64>,
    spec: &ElasticIPSpec,
    blocked: &Unobserved,
    now: Timestamp,
) -> ElasticIPStatus {
    let mut status = prev.cloned().unwrap_or_default();
    let prev_conditions = status.conditions.clone();
    let (stalled, reason, message) = match blocked {
        Unobserved::Retrying(err) => (
            false,
            if err.is_throttled() { "Throttled" } else { "RetryingAfterError" },
            format!("cannot read the EIP from the cloud, will retry: {}: {}", err.code, err.message),
        ),
        Unobserved::Stalled { reason, message } => (true, *reason, message.clone()),
        Unobserved::ConfirmingAbsence(message) => (false, "ConfirmingAbsence", message.clone()),
    };
    let set = |type_: &str, status: bool, reason: &str, message: String| {
        condition(&prev_conditions, type_, status, reason, message, generation, now)
    };
    let bound = prev_conditions
        .iter()
        .find(|c| c.type_ == BOUND)
        .cloned()
        .unwrap_or_else(|| set(BOUND, false, "Unknown", "the EIP has not been observed yet".into()));
    status.conditions = vec![
        set(READY, false, reason, message.clone()),
        bound,
        if stalled {
            set(RECONCILING, false, "Stalled", "waiting for a human".into())
        } else {
            set(RECONCILING, true, reason, message.clone())
        },
        if stalled {
            set(STALLED, true, reason, message)
        } else {
            set(STALLED, false, "NotStalled", "nothing blocks progress".into())
        },
    ];
    status.observed_generation = generation;
    status.phase = Some(if stalled {
        Phase::Stalled
    } else {
        status.phase.unwrap_or(Phase::Pending)
    });
    status.ownership = Some(ownership(spec));
    status.effective_deletion_policy = Some(effective_deletion_policy(spec));
    status
}

/// The status of a paused object: what it said before, with `Reconciling=False`, reason `Paused`.
pub fn paused_status(prev: Option<&ElasticIPStatus>, now: Timestamp) -> ElasticIPStatus {
    let mut status = prev.cloned().unwrap_or_default();
    let generation = status.observed_generation;
    let paused = condition(
        &status.conditions,
        RECONCILING,
        false,
        "Paused",
        format!(
            "reconciling is paused by the annotation {}=true; remove it to resume",
            eip_api::PAUSED_ANNOTATION
        ),
        generation,
        now,
    );
    status.conditions.retain(|c| c.type_ != RECONCILING);
    status.conditions.push(paused);
    status
}

/// A digest of what the reconciler itself recorded in a status (allocation, phase, last
/// operation): fields that round-trip through the API server unchanged. Used to notice a cache
/// that has not yet seen the operator's own last write.
pub fn fingerprint(status: Option<&ElasticIPStatus>) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    if let Some(status) = status {
        status.allocation_id.hash(&mut hasher);
        status.phase.map(|p| format!("{p:?}")).hash(&mut hasher);
        if let Some(op) = &status.last_operation {
            (&op.action, &op.started_at, op.attempts, &op.request_id, &op.error).hash(&mut hasher);
        }
    }
    hasher.finish()
}

/// Why a reconcile could not observe the cloud.
#[derive(Clone, Debug)]
pub enum Unobserved {
    Retrying(CloudError),
    /// One answer did not show the EIP; the next look decides.
    ConfirmingAbsence(String),
    Stalled {
        reason: &'static str,
        message: String,
    },
}

/// A change of the EIP's binding or existence that the operator did not make, if any: the
/// previous status recorded a converged EIP and the cloud now says otherwise.
/// A disappearance counts only once confirmed (`absence_confirmed`).
pub fn detect_drift(prev: Option<&ElasticIPStatus>, cloud: &CloudView, absence_confirmed: bool) -> Option<String> {
    let prev = prev?;
    if prev.phase != Some(Phase::Ready) {
        return None;
    }
    let before = prev.bound_to.as_ref().map(BindTarget::from);
    match cloud {
        CloudView::Missing { allocation_id } if absence_confirmed => Some(format!("EIP {allocation_id} was released outside the operator")),
        CloudView::Present(eip) if matches!(eip.phase, EipPhase::Bound | EipPhase::Unbound) && eip.bound_to != before => {
            let show = |t: &Option<eip_cloud::BindTarget>| t.as_ref().map_or("nothing".to_string(), ToString::to_string);
            Some(format!(
                "EIP {} was rebound outside the operator: bound to {} before, now {}",
                eip.allocation_id,
                show(&before),
                show(&eip.bound_to)
            ))
        }
        _ => None,
    }
}

pub(crate) fn condition(
    prev: &[Condition],
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_string();
    let last_transition_time = prev
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    Condition {
        type_: type_.to_string(),
        status,
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;

/// Whether `prev` records the first look that missed the same EIP (`absent`: its allocation ID,
/// or empty for "nothing tagged with the UID") at least `window` before `now`.
pub fn absence_recorded_for(prev: Option<&ElasticIPStatus>, absent: &str, window: std::time::Duration, now: Timestamp) -> bool {
    let Some(seen) = prev.and_then(|s| s.absence.as_ref()) else {
        return false;
    };
    if seen.allocation_id.as_deref().unwrap_or_default() != absent {
        return false;
    }
    let Ok(since) = seen.since.parse::<Timestamp>() else {
        return false;
    };
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    now.as_millisecond().saturating_sub(since.as_millisecond()) >= window_ms
}
