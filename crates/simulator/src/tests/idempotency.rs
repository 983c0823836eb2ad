//! Client tokens: replays answer with the original receipt, other parameters are refused.

use super::*;

#[tokio::test(start_paused = true)]
async fn allocate_is_idempotent_by_client_token() {
    let sim = sim(0);
    let provider = sim.provider(ALI).expect("region");
    let first = provider.allocate(&request("uid-1")).await.expect("allocates");
    let again = provider.allocate(&request("uid-1")).await.expect("replays");
    assert_eq!(first, again);
    assert_eq!(sim.eips(ALI).len(), 1);

    let changed = AllocateRequest {
        bandwidth_mbps: Some(10),
        ..request("uid-1")
    };
    let err = provider.allocate(&changed).await.expect_err("mismatch");
    assert_eq!(
        (err.code.as_str(), err.class(), err.blocker()),
        ("IdempotentParameterMismatch", ErrorClass::Terminal, Some(Blocker::InvalidRequest))
    );
    assert_eq!(sim.eips(ALI).len(), 1);

    // Both calls are logged, the replay with the original request ID and EIP.
    let calls = sim.calls();
    assert_eq!(calls[1].request_id, first.receipt.request_id);
    assert_eq!(calls[1].allocation_ids, vec![first.eip.allocation_id.clone()]);
}

#[tokio::test(start_paused = true)]
async fn associate_is_idempotent_by_client_token() {
    let (sim, provider, eip) = with_eip(5, ALI).await;
    let first = bind_with(&provider, &eip, &ecs("i-sim-0006"), "bind").await;
    let retry = provider
        .associate(&eip.allocation_id, &ecs("i-sim-0006"), "bind")
        .await
        .expect("replays while Associating");
    assert_eq!(first, retry);
    let err = provider
        .associate(&eip.allocation_id, &ecs("i-sim-0007"), "bind")
        .await
        .expect_err("mismatch");
    assert_eq!(err.code, "IdempotentParameterMismatch");
    advance(Duration::from_secs(5)).await;
    assert_eq!(provider.associate(&eip.allocation_id, &ecs("i-sim-0006"), "bind").await, Ok(first));

    // After an out-of-band unbind the token is a new request again.
    sim.oob_unbind(ALI, &eip.allocation_id).expect("unbinds");
    let rebind = provider
        .associate(&eip.allocation_id, &ecs("i-sim-0006"), "bind")
        .await
        .expect("binds again");
    assert_ne!(rebind.request_id, retry.request_id);
}
