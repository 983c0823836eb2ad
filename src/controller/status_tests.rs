//! What the status says after a reconcile.
use super::*;
use crate::controller::decide::Stall;
use crate::controller::fixtures::{CloudEipFixture, accepted, cloud_eip, ecs, nat, waiting};
use eip_cloud::Operation;

fn spec(binding: Option<&str>) -> ElasticIPSpec {
    crate::controller::fixtures::spec(binding, None, None)
}

fn eip(bound: Option<&str>, phase: EipPhase, state: &str) -> CloudEip {
    cloud_eip(phase, state).bound(bound.map(ecs))
}

/// The cloud binding the EIP, and the step that waits for it.
fn associating() -> (CloudView, Step) {
    let transition = Transition::Associating;
    let cloud = CloudView::Present(eip(None, EipPhase::Transitional(transition), transition.as_str()));
    (cloud, waiting(transition))
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

/// What a reconcile of a living object at generation 3 (ProviderConfig `sim`) computes from.
fn inputs<'a>(spec: &'a ElasticIPSpec, cloud: &'a CloudView, step: &'a Step, outcome: &'a Outcome, now: &str) -> StatusInputs<'a> {
    StatusInputs {
        generation: Some(3),
        spec,
        deleting: false,
        cloud,
        // Leaked: a test's few bytes, so the inputs can borrow it for as long as they live.
        wanted: Box::leak(Box::new(Wanted::of_instance(spec))),
        step,
        outcome,
        provider_config: "sim",
        force_unbind_available: true,
        now: ts(now),
        answered: ts(now),
    }
}

fn status_of(
    prev: Option<&ElasticIPStatus>,
    spec: &ElasticIPSpec,
    cloud: &CloudView,
    step: &Step,
    outcome: &Outcome,
    now: &str,
) -> ElasticIPStatus {
    next_status(prev, &inputs(spec, cloud, step, outcome, now))
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
    let (cloud, step) = associating();
    let st = status_of(None, &s, &cloud, &step, &Outcome::NoCall, "2026-01-01T00:00:00Z");
    assert_eq!(cond(&st, READY).status, "False");
    assert_eq!(cond(&st, RECONCILING).status, "True");
    assert_eq!(cond(&st, RECONCILING).reason, "Associating");
    assert_eq!(st.phase, Some(Phase::Binding));
}

#[test]
fn transition_time_changes_only_when_status_flips() {
    let s = spec(Some("i-1"));
    let (waiting, step) = associating();
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
    let step = Step::Unassociate { current: nat("ngw-1") };
    let st = status_of(None, &s, &cloud, &step, &Outcome::Failed(err), "2026-01-01T00:00:00Z");
    let stalled = cond(&st, STALLED);
    assert_eq!(stalled.reason, "NatEntriesBlockUnbind");
    assert!(
        stalled.message.contains("forceUnbind") && stalled.message.contains("req-9"),
        "{}",
        stalled.message
    );
    assert_eq!(st.last_operation.as_ref().and_then(|o| o.request_id.as_deref()), Some("req-9"));

    // OTC/Huawei: no force; the way out is deleting the rules, which the cloud's message names.
    let err = CloudError::terminal(
        Operation::Unassociate,
        Blocker::NatEntriesBlockUnbind,
        "VPC.0513",
        "SNAT/DNAT rules of the NAT gateway use the EIP; delete them first: NAT gateway ngw-1 still has 2 SNAT/DNAT entries",
    );
    let failed = Outcome::Failed(err);
    let next = next_status(
        None,
        &StatusInputs {
            force_unbind_available: false,
            ..inputs(&s, &cloud, &step, &failed, "2026-01-01T00:00:00Z")
        },
    );
    let stalled = cond(&next, STALLED);
    assert_eq!(stalled.reason, "NatEntriesBlockUnbind");
    assert!(
        stalled.message.contains("ngw-1") && stalled.message.contains("cannot force") && !stalled.message.contains("set spec.forceUnbind"),
        "{}",
        stalled.message
    );
}

#[test]
fn retryable_errors_keep_reconciling_and_count_attempts() {
    let s = spec(Some("i-1"));
    let cloud = CloudView::Present(eip(None, EipPhase::Unbound, "Available"));
    let step = Step::Associate {
        target: Wanted::of_instance(&s).target().cloned().expect("binding"),
    };
    let err = CloudError::throttled(Operation::Associate, "Throttling.User", "flow control", None);
    let first = status_of(None, &s, &cloud, &step, &Outcome::Failed(err.clone()), "2026-01-01T00:00:00Z");
    assert_eq!(cond(&first, RECONCILING).reason, "Throttled");
    assert_eq!(cond(&first, STALLED).status, "False");
    let second = status_of(Some(&first), &s, &cloud, &step, &Outcome::Failed(err), "2026-01-01T00:00:02Z");
    let op = second.last_operation.clone().expect("last operation");
    assert_eq!((op.attempts, op.started_at.as_str()), (2, "2026-01-01T00:00:00Z"));
    let ok = accepted("r-1");
    let third = status_of(Some(&second), &s, &cloud, &step, &ok, "2026-01-01T00:00:04Z");
    let op = third.last_operation.expect("last operation");
    assert_eq!((op.attempts, op.error, op.request_id.as_deref()), (3, None, Some("r-1")));
}

/// Regression (the converge benchmark, N = 1,000): an unbind that waited 25 s in line for its
/// API's pace was polled as if the cloud had worked on it for 25 s, first again 6 s after
/// the transition's end, and the releases fell behind the unbinds (delete 1.42 × the bound).
#[test]
fn a_call_that_waited_for_its_pace_is_polled_from_its_answer() {
    use crate::controller::reconcile::waited_for;
    let s = spec(None);
    let cloud = CloudView::Present(eip(Some("i-1"), EipPhase::Bound, "InUse"));
    let step = Step::Unassociate { current: ecs("i-1") };
    let ok = accepted("r-1");
    let st = next_status(
        None,
        &StatusInputs {
            answered: ts("2026-01-01T00:00:25Z"),
            ..inputs(&s, &cloud, &step, &ok, "2026-01-01T00:00:00Z")
        },
    );
    let op = st.last_operation.clone().expect("last operation");
    assert_eq!(op.started_at, "2026-01-01T00:00:00Z", "the idempotency token's time");
    assert_eq!(op.answered_at.as_deref(), Some("2026-01-01T00:00:25Z"));
    let poll = waiting(Transition::Unassociating);
    assert_eq!(
        waited_for(Some(&st), &poll, ts("2026-01-01T00:00:27Z")),
        std::time::Duration::from_secs(2)
    );
    // A status written before `answeredAt` existed counts from the start, as before.
    let mut old = st.clone();
    if let Some(op) = old.last_operation.as_mut() {
        op.answered_at = None;
    }
    assert_eq!(
        waited_for(Some(&old), &poll, ts("2026-01-01T00:00:27Z")),
        std::time::Duration::from_secs(27)
    );
    // A step without a call records no answer.
    let waited = next_status(Some(&st), &inputs(&s, &cloud, &poll, &Outcome::NoCall, "2026-01-01T00:00:27Z"));
    assert_eq!(waited.last_operation, st.last_operation, "the unbind's record stays");
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
    let ok = accepted("r-1");
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
            deleting: true,
            ..inputs(&s, &cloud, &unclaim, &ok, "2026-01-01T00:00:00Z")
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
