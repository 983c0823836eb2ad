//! A cloud that is eventually consistent: one Describe answer leaves an EIP out. Nothing is
//! dropped (a deleting object keeps its finalizer until the address is really released) and
//! nothing is declared released out of band.

use std::time::{Duration, Instant};

use eip_cloud::Operation;

use crate::support::{ControlPlane, REGION, Scenario, is_true};

/// Waits until a Describe naming `id` was answered after call `since` (the hidden answer is used).
async fn described_after(s: &Scenario<'_>, id: &str, since: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = s
            .sim
            .calls_since(since)
            .iter()
            .any(|c| c.operation == Operation::Describe && c.allocation_ids.iter().any(|a| a == id));
        if seen {
            return;
        }
        assert!(Instant::now() < deadline, "no Describe of {id} within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn one_answer_without_the_eip_drops_nothing(cp: &ControlPlane) {
    let s = Scenario::new(cp, "consistency").await;
    for (name, instance) in [("living", "i-sim-0003"), ("leaving", "i-sim-0004")] {
        s.apply(&s.manifest(name, &format!("binding:\n  instanceType: EcsInstance\n  instanceId: {instance}")));
    }
    let mut ids = Vec::new();
    for name in ["living", "leaving"] {
        let object = s.wait_ready(name, Duration::from_secs(60)).await;
        ids.push(object.status.and_then(|st| st.allocation_id).expect("allocation id"));
    }
    let (living, leaving) = (ids[0].clone(), ids[1].clone());

    // The living object's next look (its resync) misses its EIP once.
    let since = s.sim.last_seq();
    s.sim.hide_from_describe(REGION, &living, 1).expect("hide");
    described_after(&s, &living, since).await;

    // The deleting object's first look misses its EIP once.
    let since = s.sim.last_seq();
    s.sim.hide_from_describe(REGION, &leaving, 1).expect("hide");
    s.kubectl_ok(&["delete", "eip", "leaving", "--wait=false"]);
    described_after(&s, &leaving, since).await;
    s.wait_gone("leaving", Duration::from_secs(90)).await;
    assert!(
        s.sim.eip(REGION, &leaving).is_none(),
        "the deleted object's EIP was released, not forgotten"
    );
    let calls = s.mutating_calls(&leaving);
    let ok: Vec<&str> = calls.iter().filter(|c| c.ends_with(":Ok")).map(String::as_str).collect();
    assert_eq!(ok, vec!["Allocate:Ok", "Associate:Ok", "Unassociate:Ok", "Release:Ok"], "{calls:?}");

    // The living one is still Ready with the same address, and nobody was told it was released.
    let object = s
        .wait_for("living", "Ready again", Duration::from_secs(30), |o| is_true(o, "Ready"))
        .await;
    let status = object.status.expect("status");
    assert_eq!(status.allocation_id.as_deref(), Some(living.as_str()));
    assert!(s.sim.eip(REGION, &living).is_some());
    let warnings: Vec<_> = s
        .events("living")
        .await
        .into_iter()
        .filter(|(type_, _, _)| type_ == "Warning")
        .collect();
    assert!(warnings.is_empty(), "no ReleasedOutOfBand or DriftDetected: {warnings:?}");
    assert!(
        s.mutating_calls(&living).iter().all(|c| c == "Allocate:Ok" || c == "Associate:Ok"),
        "{:?}",
        s.mutating_calls(&living)
    );
    s.finish().await;
}
