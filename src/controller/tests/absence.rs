//! Absence is a fact only when proven: one answer without the EIP, or answers that cannot be
//! read, never let an object go or declare its address released.

use super::*;
use crate::controller::decide::CloudView;
use eip_simulator::Faults;

#[tokio::test(start_paused = true)]
async fn a_deleted_object_whose_eip_is_not_listed_waits_for_a_second_look() {
    let (h, allocation_id) = Harness::deleting_owner_of(&simulator(Latencies::default()), owned(None));
    h.sim
        .oob_release(REGION, &allocation_id)
        .expect("released behind the operator's back");

    assert!(h.reconcile_once().await);
    assert!(h.fake.current().is_some(), "one answer without the EIP is no proof");
    assert_eq!(
        h.condition("Reconciling").map(|c| (c.status, c.reason)),
        Some(("True".into(), "ConfirmingAbsence".into()))
    );
    let status = h.fake.current().and_then(|o| o.status).expect("status");
    assert_eq!(status.allocation_id.as_deref(), Some(allocation_id.as_str()), "nothing forgotten");

    // A look sooner than the confirmation window proves nothing either.
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(h.reconcile_once().await);
    assert!(h.fake.current().is_some());

    tokio::time::advance(Timing::default().absence_confirmation).await;
    assert!(h.reconcile_once().await);
    assert!(h.fake.current().is_none(), "two well-formed looks apart: the finalizer goes");
    assert!(h.mutating_calls().is_empty(), "{:?}", h.mutating_calls());
}

/// The chaos soak (seed 2, N = 1,000) killed the leader every 10 to 30 s: each new process
/// forgot the first look, and objects sat in ConfirmingAbsence for minutes.
#[tokio::test(start_paused = true)]
async fn a_restarted_operator_finishes_the_confirmation_the_status_records() {
    let (mut h, allocation_id) = Harness::deleting_owner_of(&simulator(Latencies::default()), owned(None));
    h.sim.oob_release(REGION, &allocation_id).expect("released out of band");

    assert!(h.reconcile_once().await);
    let status = h.fake.current().and_then(|o| o.status).expect("status");
    let seen = status.absence.clone().expect("the first look is recorded");
    assert_eq!(seen.allocation_id.as_deref(), Some(allocation_id.as_str()));

    // A restart soon after: the record is too young to prove anything.
    h.restart();
    assert!(h.reconcile_once().await);
    let again = h.fake.current().and_then(|o| o.status).expect("status");
    assert_eq!(again.absence, Some(seen.clone()), "the first look is kept, not restarted");

    // The look recorded a window ago (the process that made it is gone): the next one confirms.
    let window = Timing::default().absence_confirmation;
    let earlier = k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::try_from(window * 2).expect("fits");
    h.fake.update(|o| {
        if let Some(absence) = o.status.as_mut().and_then(|s| s.absence.as_mut()) {
            absence.since = earlier.to_string();
        }
    });
    h.restart();
    assert!(h.reconcile_once().await);
    assert!(h.fake.current().is_none(), "confirmed across the restart: the finalizer goes");
    assert!(h.mutating_calls().is_empty(), "{:?}", h.mutating_calls());
}

#[tokio::test(start_paused = true)]
async fn an_absence_recorded_for_another_eip_or_undone_proves_nothing() {
    let (h, allocation_id) = Harness::deleting_owner_of(&simulator(Latencies::default()), owned(None));
    let window = Timing::default().absence_confirmation;
    let long_ago = (k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(3600)).to_string();
    let status_with = |id: Option<&str>| {
        let mut status = h.fake.current().and_then(|o| o.status).expect("status");
        status.absence = Some(eip_api::Absence {
            allocation_id: id.map(str::to_owned),
            since: long_ago.clone(),
        });
        status
    };
    let now = k8s_openapi::jiff::Timestamp::now();
    let recorded = |status: &eip_api::ElasticIPStatus, absent: &str| {
        crate::controller::status::absence_recorded_for(Some(status), absent, window, now)
    };
    assert!(recorded(&status_with(Some(&allocation_id)), &allocation_id));
    assert!(!recorded(&status_with(Some("eip-other")), &allocation_id), "another EIP's absence");
    assert!(
        !recorded(&status_with(None), &allocation_id),
        "nothing tagged is not this ID's absence"
    );
    assert!(recorded(&status_with(None), ""));
    let mut garbled = status_with(Some(&allocation_id));
    if let Some(a) = garbled.absence.as_mut() {
        a.since = "yesterday".into();
    }
    assert!(!recorded(&garbled, &allocation_id), "an unreadable time proves nothing");

    // Seen again: the record goes with the next status.
    let recorded_status = status_with(Some(&allocation_id));
    h.fake.update(|o| o.status = Some(recorded_status));
    let ctx_view = CloudView::Present(h.sim.eips(REGION).into_iter().next().expect("still there"));
    assert!(!h.ctx.absence_confirmed(UID, &ctx_view, true, None));
    assert!(h.reconcile_once().await);
    let status = h.fake.current().and_then(|o| o.status).expect("status");
    assert_eq!(status.absence, None, "present again: no absence recorded");
}

#[tokio::test(start_paused = true)]
async fn an_absence_is_confirmed_only_by_the_same_absence_a_window_later() {
    let h = Harness::new(elastic_ip(ElasticIPSpec::default()), Latencies::default());
    let window = Timing::default().absence_confirmation;
    let missing = |id: &str| CloudView::Missing { allocation_id: id.into() };
    let present = h.sim.seed_eip(REGION, SeedEip::default()).map(CloudView::Present).expect("seed");
    let never = CloudView::NeverAllocated;
    let confirmed = |view: &CloudView, deleting| h.ctx.absence_confirmed(UID, view, deleting, None);

    assert!(!confirmed(&missing("eip-a"), false), "first look");
    tokio::time::advance(window).await;
    assert!(!confirmed(&present, false), "seen again: the absence is forgotten");
    assert!(!confirmed(&missing("eip-a"), false), "a new first look");
    tokio::time::advance(window / 2).await;
    assert!(!confirmed(&missing("eip-a"), false), "too soon");
    tokio::time::advance(window / 2).await;
    assert!(confirmed(&missing("eip-a"), false), "the same absence, a window later");
    assert!(!confirmed(&missing("eip-b"), false), "another absence starts over");
    // Finding nothing tagged with the UID counts only while deleting.
    tokio::time::advance(window).await;
    assert!(!confirmed(&never, false));
    assert!(!confirmed(&never, true));
    tokio::time::advance(window).await;
    assert!(confirmed(&never, true));
}

#[tokio::test(start_paused = true)]
async fn unreadable_answers_for_minutes_keep_the_finalizer_and_say_why() {
    let (h, allocation_id) = Harness::deleting_owner_of(&simulator(Latencies::default()), owned(Some(ecs("i-sim-0001"))));
    h.sim.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });

    // Ten minutes of failing answers.
    for _ in 0..40 {
        assert!(h.reconcile_once().await, "the finalizer holds the object");
        tokio::time::advance(Duration::from_secs(15)).await;
    }
    let object = h.fake.current().expect("held");
    let reconciling = object.condition("Reconciling").expect("Reconciling");
    assert_eq!(reconciling.status, "True");
    assert!(reconciling.message.contains("will retry"), "{}", reconciling.message);
    assert!(h.sim.eip(REGION, &allocation_id).is_some(), "nothing released blindly");

    // Sane answers again: the deletion completes, unbinding before releasing.
    h.sim.set_faults(Faults::default());
    for _ in 0..40 {
        if !h.reconcile_once().await {
            break;
        }
        tokio::time::advance(Duration::from_secs(5)).await;
    }
    assert!(h.fake.current().is_none(), "finalizer removed once answers are sane");
    assert!(h.sim.eip(REGION, &allocation_id).is_none(), "EIP released");
    let ok: Vec<_> = h.mutating_calls().into_iter().filter(|(_, o)| *o == CallOutcome::Ok).collect();
    assert_eq!(
        ok,
        vec![(Operation::Unassociate, CallOutcome::Ok), (Operation::Release, CallOutcome::Ok)]
    );
}
