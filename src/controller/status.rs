//! What the status says after a reconcile: a pure function of the previous status, the decision
//! and the outcome of the call it made.
//!
//! Conditions follow kstatus: `Ready`, `Reconciling` (work in flight), `Stalled` (a human must
//! act) and `Bound` (the EIP is attached to spec.binding's target). `lastTransitionTime` changes
//! only when a condition's status flips.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use super::decide::{CloudView, Step, effective_deletion_policy, ownership};
use eip_api::{BoundTo, ElasticIPSpec, ElasticIPStatus, LastOperation, Phase};
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
    pub step: &'a Step,
    pub outcome: &'a Outcome,
    pub provider_config: &'a str,
    pub now: Timestamp,
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
        return unobserved_status(prev, inputs.generation, inputs.spec, &blocked, inputs.now);
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
    let (bound, bound_reason, bound_message) = bound_condition(inputs.spec, eip);
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
        bound_to: eip.and_then(|e| e.bound_to.as_ref()).map(BoundTo::from),
        ownership: Some(ownership(inputs.spec)),
        effective_deletion_policy: Some(effective_deletion_policy(inputs.spec)),
        provider_config: Some(inputs.provider_config.to_string()),
        last_operation: last_operation(prev.and_then(|p| p.last_operation.as_ref()), inputs),
        conditions,
    }
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
        (step, Outcome::Failed(err)) if err.class() == ErrorClass::Terminal => Some(terminal_stall(step, err, inputs.spec)),
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

    // Converged (RemoveFinalizer writes no status).
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
        Step::Converged | Step::RemoveFinalizer | Step::Stalled(_) => None,
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
        Step::Wait { .. } | Step::ConfirmAbsence { .. } => Phase::Pending,
        // Unclaim runs only while deleting (above); a living object is never unclaimed.
        Step::Converged | Step::RemoveFinalizer | Step::Unclaim { .. } => Phase::Ready,
    }
}

/// The Stalled reason and message for a terminal cloud error, with the way out.
fn terminal_stall(step: &Step, err: &CloudError, spec: &ElasticIPSpec) -> (&'static str, String) {
    let blocker = err.blocker().unwrap_or(Blocker::Other);
    let hint = match blocker {
        Blocker::NatEntriesBlockUnbind if !spec.force_unbind => {
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

fn bound_condition(spec: &ElasticIPSpec, eip: Option<&CloudEip>) -> (bool, &'static str, String) {
    let Some(eip) = eip else {
        return (false, "NotAllocated", "no EIP is allocated".into());
    };
    let wanted = spec.binding.as_ref().map(BindTarget::from);
    match (&eip.bound_to, wanted, eip.phase) {
        (_, _, EipPhase::Transitional(t)) => (
            false,
            wait_reason(t),
            format!("the cloud is working on the EIP (state {})", eip.raw_state),
        ),
        (Some(current), Some(wanted), _) if current.satisfies(&wanted) => (true, "Bound", format!("bound to {current}")),
        (Some(current), Some(wanted), _) => (
            false,
            "BoundElsewhere",
            format!("bound to {current}, spec.binding asks for {wanted}"),
        ),
        (Some(current), None, _) => (false, "BoundElsewhere", format!("bound to {current}, spec.binding is absent")),
        (None, Some(wanted), _) => (false, "Unbound", format!("not bound yet; spec.binding asks for {wanted}")),
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

fn condition(
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
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::controller::decide::Stall;
    use eip_api::Binding;
    use eip_cloud::{BindTarget, ChargeType, InstanceType, Operation};

    fn spec(binding: Option<&str>) -> ElasticIPSpec {
        ElasticIPSpec {
            binding: binding.map(|id| Binding {
                instance_type: InstanceType::EcsInstance,
                instance_id: id.into(),
                private_ip_address: None,
                mode: None,
                vpc_id: None,
            }),
            ..Default::default()
        }
    }

    fn eip(bound: Option<&str>, phase: EipPhase, state: &str) -> CloudEip {
        CloudEip {
            allocation_id: "eip-1".into(),
            ip_address: "47.0.0.1".into(),
            raw_state: state.into(),
            phase,
            bound_to: bound.map(|id| BindTarget {
                instance_type: InstanceType::EcsInstance,
                instance_id: id.into(),
                private_ip_address: None,
            }),
            charge_type: ChargeType::PostPaid,
            locks: vec![],
            tags: BTreeMap::new(),
            bandwidth_mbps: None,
            binding_handle: None,
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn status_of(
        prev: Option<&ElasticIPStatus>,
        spec: &ElasticIPSpec,
        cloud: &CloudView,
        step: &Step,
        outcome: &Outcome,
        now: &str,
    ) -> ElasticIPStatus {
        next_status(
            prev,
            &StatusInputs {
                generation: Some(3),
                spec,
                deleting: false,
                cloud,
                step,
                outcome,
                provider_config: "sim",
                now: ts(now),
            },
        )
    }

    fn cond<'a>(status: &'a ElasticIPStatus, type_: &str) -> &'a Condition {
        status.conditions.iter().find(|c| c.type_ == type_).expect("condition present")
    }

    #[test]
    fn converged_bound_eip_is_ready_and_not_reconciling() {
        let s = spec(Some("i-1"));
        let cloud = CloudView::Present(eip(Some("i-1"), EipPhase::Bound, "InUse"));
        let st = status_of(None, &s, &cloud, &Step::Converged, &Outcome::NoCall, "2026-01-01T00:00:00Z");
        assert_eq!(cond(&st, READY).status, "True");
        assert_eq!(cond(&st, READY).reason, "Bound");
        assert_eq!(cond(&st, BOUND).status, "True");
        assert_eq!(cond(&st, RECONCILING).status, "False");
        assert_eq!(cond(&st, STALLED).status, "False");
        assert_eq!(st.observed_generation, Some(3));
        assert!(st.conditions.iter().all(|c| c.observed_generation == Some(3)));
        assert_eq!(st.phase, Some(Phase::Ready));
        assert_eq!(st.cloud_state.as_deref(), Some("InUse"));
        assert_eq!(st.bound_to.as_ref().map(|b| b.instance_id.as_str()), Some("i-1"));
    }

    #[test]
    fn waiting_reports_reconciling_with_the_transition() {
        let s = spec(Some("i-1"));
        let cloud = CloudView::Present(eip(None, EipPhase::Transitional(Transition::Associating), "Associating"));
        let step = Step::Wait {
            transition: Transition::Associating,
            state: "Associating".into(),
        };
        let st = status_of(None, &s, &cloud, &step, &Outcome::NoCall, "2026-01-01T00:00:00Z");
        assert_eq!(cond(&st, READY).status, "False");
        assert_eq!(cond(&st, RECONCILING).status, "True");
        assert_eq!(cond(&st, RECONCILING).reason, "Associating");
        assert_eq!(st.phase, Some(Phase::Binding));
    }

    #[test]
    fn transition_time_changes_only_when_status_flips() {
        let s = spec(Some("i-1"));
        let waiting = CloudView::Present(eip(None, EipPhase::Transitional(Transition::Associating), "Associating"));
        let step = Step::Wait {
            transition: Transition::Associating,
            state: "Associating".into(),
        };
        let first = status_of(None, &s, &waiting, &step, &Outcome::NoCall, "2026-01-01T00:00:00Z");
        let second = status_of(Some(&first), &s, &waiting, &step, &Outcome::NoCall, "2026-01-01T00:00:05Z");
        assert_eq!(first.conditions, second.conditions, "nothing flipped, nothing changes");

        let bound = CloudView::Present(eip(Some("i-1"), EipPhase::Bound, "InUse"));
        let third = status_of(
            Some(&second),
            &s,
            &bound,
            &Step::Converged,
            &Outcome::NoCall,
            "2026-01-01T00:00:09Z",
        );
        assert_eq!(cond(&third, READY).last_transition_time, Time(ts("2026-01-01T00:00:09Z")));
        assert_eq!(cond(&third, STALLED).last_transition_time, Time(ts("2026-01-01T00:00:00Z")));
    }

    #[test]
    fn stalls_from_the_decision_and_from_terminal_errors() {
        let s = spec(Some("i-1"));
        let cloud = CloudView::Present(eip(None, EipPhase::Unbound, "Available"));
        let step = Step::Stalled(Stall::PrepaidCannotRelease {
            allocation_id: "eip-1".into(),
        });
        let st = status_of(None, &s, &cloud, &step, &Outcome::NoCall, "2026-01-01T00:00:00Z");
        assert_eq!(cond(&st, STALLED).status, "True");
        assert_eq!(cond(&st, STALLED).reason, "PrepaidCannotRelease");
        assert_eq!(cond(&st, READY).status, "False");
        assert_eq!(cond(&st, RECONCILING).status, "False");
        assert_eq!(st.phase, Some(Phase::Stalled));

        let err = CloudError::terminal(
            Operation::Unassociate,
            Blocker::NatEntriesBlockUnbind,
            "DependencyViolation.SnatEntry",
            "entries exist",
        )
        .with_request_id("req-9");
        let step = Step::Unassociate {
            current: BindTarget {
                instance_type: InstanceType::Nat,
                instance_id: "ngw-1".into(),
                private_ip_address: None,
            },
        };
        let st = status_of(None, &s, &cloud, &step, &Outcome::Failed(err), "2026-01-01T00:00:00Z");
        let stalled = cond(&st, STALLED);
        assert_eq!(stalled.reason, "NatEntriesBlockUnbind");
        assert!(
            stalled.message.contains("forceUnbind") && stalled.message.contains("req-9"),
            "{}",
            stalled.message
        );
        assert_eq!(st.last_operation.as_ref().and_then(|o| o.request_id.as_deref()), Some("req-9"));
    }

    #[test]
    fn retryable_errors_keep_reconciling_and_count_attempts() {
        let s = spec(Some("i-1"));
        let cloud = CloudView::Present(eip(None, EipPhase::Unbound, "Available"));
        let step = Step::Associate {
            target: s.binding.as_ref().map(BindTarget::from).expect("binding"),
        };
        let err = CloudError::throttled(Operation::Associate, "Throttling.User", "flow control", None);
        let first = status_of(None, &s, &cloud, &step, &Outcome::Failed(err.clone()), "2026-01-01T00:00:00Z");
        assert_eq!(cond(&first, RECONCILING).reason, "Throttled");
        assert_eq!(cond(&first, STALLED).status, "False");
        let second = status_of(Some(&first), &s, &cloud, &step, &Outcome::Failed(err), "2026-01-01T00:00:02Z");
        let op = second.last_operation.clone().expect("last operation");
        assert_eq!((op.attempts, op.started_at.as_str()), (2, "2026-01-01T00:00:00Z"));
        let ok = Outcome::Accepted {
            receipt: Receipt { request_id: "r-1".into() },
            allocated: None,
        };
        let third = status_of(Some(&second), &s, &cloud, &step, &ok, "2026-01-01T00:00:04Z");
        let op = third.last_operation.expect("last operation");
        assert_eq!((op.attempts, op.error, op.request_id.as_deref()), (3, None, Some("r-1")));
    }

    #[test]
    fn allocation_result_fills_the_status() {
        let s = spec(None);
        let allocated = eip(None, EipPhase::Unbound, "Available");
        let outcome = Outcome::Accepted {
            receipt: Receipt { request_id: "r-1".into() },
            allocated: Some(allocated),
        };
        let st = status_of(
            None,
            &s,
            &CloudView::NeverAllocated,
            &Step::Allocate,
            &outcome,
            "2026-01-01T00:00:00Z",
        );
        assert_eq!(st.allocation_id.as_deref(), Some("eip-1"));
        assert_eq!(st.ip_address.as_deref(), Some("47.0.0.1"));
        assert_eq!(st.phase, Some(Phase::Allocating));
        assert_eq!(st.ownership, Some(eip_api::Ownership::Allocated));
        assert_eq!(st.effective_deletion_policy, Some(eip_api::DeletionPolicy::Delete));
    }

    #[test]
    fn claims_are_work_in_flight_recorded_as_operations() {
        let s = spec(Some("i-1"));
        let cloud = CloudView::Present(eip(None, EipPhase::Unbound, "Available"));
        let ok = Outcome::Accepted {
            receipt: Receipt { request_id: "r-1".into() },
            allocated: None,
        };
        let st = status_of(None, &s, &cloud, &Step::Claim, &ok, "2026-01-01T00:00:00Z");
        assert_eq!(st.phase, Some(Phase::Pending));
        assert_eq!(cond(&st, RECONCILING).reason, "Claiming");
        assert!(cond(&st, RECONCILING).message.contains("r-1"));
        assert_eq!(cond(&st, READY).status, "False");
        assert_eq!(st.last_operation.map(|op| op.action), Some("Claim".to_string()));

        let unclaim = Step::Unclaim {
            keys: vec!["eip-operator.dev/owner-uid".into()],
        };
        let st = next_status(
            None,
            &StatusInputs {
                generation: Some(3),
                spec: &s,
                deleting: true,
                cloud: &cloud,
                step: &unclaim,
                outcome: &ok,
                provider_config: "sim",
                now: ts("2026-01-01T00:00:00Z"),
            },
        );
        assert_eq!(st.phase, Some(Phase::Deleting));
        assert_eq!(cond(&st, READY).reason, "Deleting");
        assert_eq!(cond(&st, RECONCILING).reason, "Unclaiming");
        assert_eq!(st.last_operation.map(|op| op.action), Some("Unclaim".to_string()));

        // A refused claim says what was refused, and what permission is missing.
        let refused = CloudError::terminal(Operation::Tag, Blocker::Forbidden, "Forbidden", "no permission");
        let st = status_of(None, &s, &cloud, &Step::Claim, &Outcome::Failed(refused), "2026-01-01T00:00:00Z");
        let stalled = cond(&st, STALLED);
        assert_eq!((stalled.status.as_str(), stalled.reason.as_str()), ("True", "Forbidden"));
        assert!(
            stalled.message.contains("claim") && stalled.message.contains("TagResources"),
            "{}",
            stalled.message
        );
    }

    #[test]
    fn missing_eip_keeps_the_recorded_id() {
        let s = spec(None);
        let cloud = CloudView::Missing {
            allocation_id: "eip-7".into(),
        };
        let step = Step::Stalled(Stall::ReleasedOutOfBand {
            allocation_id: "eip-7".into(),
        });
        let st = status_of(None, &s, &cloud, &step, &Outcome::NoCall, "2026-01-01T00:00:00Z");
        assert_eq!(st.allocation_id.as_deref(), Some("eip-7"));
        assert_eq!(st.ip_address, None);
        assert_eq!(cond(&st, STALLED).reason, "ReleasedOutOfBand");
    }
}
