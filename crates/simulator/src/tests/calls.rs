//! Describe batching, find-by-owner, rate limits, faults and the call log.

use super::*;

#[tokio::test(start_paused = true)]
async fn describe_is_batched_and_omits_unknown_ids() {
    let sim = sim(0);
    let provider = sim.provider(ALI).expect("region");
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(allocate(&provider).await.allocation_id);
    }
    ids.extend((0..20).map(|n| format!("eip-missing{n}")));
    let before = sim.last_seq();
    let found = provider.describe(&ids).await.expect("describes");
    assert_eq!(found.len(), 100);
    let calls = sim.calls_since(before);
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(|c| c.operation == Operation::Describe && c.outcome == "Ok"));
    assert_eq!(calls.iter().map(|c| c.allocation_ids.len()).collect::<Vec<_>>(), vec![50, 50, 20]);
    assert_eq!(sim.call_count(Operation::Describe), 3);

    // No IDs, no call.
    assert!(provider.describe(&[]).await.expect("describes").is_empty());
    assert_eq!(sim.call_count(Operation::Describe), 3);
}

#[tokio::test(start_paused = true)]
async fn find_by_owner_uses_the_owner_tag() {
    let sim = sim(0);
    let provider = sim.provider(OTC).expect("region");
    let tagged = AllocateRequest {
        tags: BTreeMap::from([(OWNER_TAG.to_owned(), "uid-7".to_owned())]),
        ..request("t-7")
    };
    let mine = provider.allocate(&tagged).await.expect("allocates").eip;
    allocate(&provider).await;
    let found = provider.find_by_owner("uid-7").await.expect("finds");
    assert_eq!(
        found.iter().map(|e| e.allocation_id.as_str()).collect::<Vec<_>>(),
        vec![mine.allocation_id.as_str()]
    );
    assert_eq!(found[0].owner_uid(), Some("uid-7"));
    assert!(provider.find_by_owner("uid-8").await.expect("finds").is_empty());
    assert_eq!(sim.call_count(Operation::FindByOwner), 2);
    // The other region does not see it.
    assert!(
        sim.provider("eu-nl")
            .expect("region")
            .find_by_owner("uid-7")
            .await
            .expect("finds")
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limits_throttle_and_recover() {
    let sim = Simulator::new(SimulatorConfig {
        rate_limits: RateLimits {
            mutating_per_second: Some(5),
            describe_per_second: Some(2),
            ..RateLimits::default()
        },
        ..SimulatorConfig::instant()
    });
    let provider = sim.provider(ALI).expect("region");
    for _ in 0..5 {
        allocate(&provider).await;
    }
    let err = provider.allocate(&AllocateRequest::default()).await.expect_err("throttled");
    assert!(err.is_throttled());
    assert_eq!((err.code.as_str(), err.class()), ("Throttling.User", ErrorClass::Retryable));
    let retry_after = err.retry_after().expect("says when");
    assert_eq!(retry_after, Duration::from_millis(200));
    assert_eq!(sim.eips(ALI).len(), 5, "a throttled call changes nothing");

    // Other operations and regions have their own buckets.
    let ids = vec!["eip-x".to_owned()];
    provider.describe(&ids).await.expect("own bucket");
    allocate(&sim.provider("cn-shanghai").expect("region")).await;

    advance(retry_after).await;
    allocate(&provider).await;
    let err = provider.allocate(&AllocateRequest::default()).await.expect_err("throttled again");
    assert_eq!(err.retry_after(), Some(Duration::from_millis(200)));

    let throttled = sim
        .counters()
        .into_iter()
        .find(|row| row.code.as_deref() == Some("Throttling.User"))
        .expect("counted");
    assert_eq!(
        (throttled.operation, throttled.outcome, throttled.count),
        (Operation::Allocate, CallOutcome::Error, 2)
    );

    // OTC words it differently; lifting the limit ends throttling.
    let otc = sim.provider(OTC).expect("region");
    for _ in 0..2 {
        otc.describe(&ids).await.expect("within burst");
    }
    assert_eq!(otc.describe(&ids).await.expect_err("throttled").code, "APIGW.0308");
    sim.set_rate_limits(RateLimits::default());
    otc.describe(&ids).await.expect("unlimited");
}

#[tokio::test(start_paused = true)]
async fn a_region_can_have_quotas_of_its_own_and_release_its_own_bucket() {
    let own = RateLimits {
        mutating_per_second: Some(1),
        release_per_second: Some(3),
        ..RateLimits::default()
    };
    let mut config = SimulatorConfig {
        rate_limits: crate::PUBLISHED_RATE_LIMITS,
        ..SimulatorConfig::instant()
    };
    for region in config.regions.iter_mut().filter(|r| r.name == ALI) {
        region.rate_limits = Some(own);
    }
    let sim = Simulator::new(config);
    let provider = sim.provider(ALI).expect("region");
    let first = allocate(&provider).await.allocation_id;
    assert!(
        provider
            .allocate(&AllocateRequest::default())
            .await
            .expect_err("1/s here")
            .is_throttled()
    );
    // The other Alibaba region keeps the simulator-wide (published) quotas: 2 allocations a second.
    let shanghai = sim.provider("cn-shanghai").expect("region");
    allocate(&shanghai).await;
    allocate(&shanghai).await;
    assert!(
        shanghai
            .allocate(&AllocateRequest::default())
            .await
            .expect_err("2/s there")
            .is_throttled()
    );
    // Release has a quota of its own: three at once, where the other mutating APIs allow one.
    let mut ids = vec![first];
    for _ in 0..2 {
        advance(Duration::from_secs(1)).await;
        ids.push(allocate(&provider).await.allocation_id);
    }
    for id in &ids {
        provider.release(id, "").await.expect("release quota of 3");
    }
}

#[tokio::test(start_paused = true)]
async fn faults_are_deterministic_for_a_seed() {
    async fn pattern(seed: u64) -> (Vec<bool>, Vec<String>) {
        let sim = Simulator::new(SimulatorConfig::instant().with_seed(seed));
        sim.set_faults(Faults {
            error_rate: 0.5,
            ..Faults::default()
        });
        let provider = sim.provider(ALI).expect("region");
        let mut outcomes = Vec::new();
        for _ in 0..40 {
            let result = provider.allocate(&AllocateRequest::default()).await;
            if let Err(err) = &result {
                assert_eq!((err.code.as_str(), err.class()), ("ServiceUnavailable", ErrorClass::Retryable));
            }
            outcomes.push(result.is_ok());
        }
        (outcomes, sim.eips(ALI).into_iter().map(|e| e.allocation_id).collect())
    }
    let (a, ids_a) = pattern(99).await;
    let (b, ids_b) = pattern(99).await;
    assert_eq!((&a, &ids_a), (&b, &ids_b));
    assert!(a.iter().any(|ok| *ok) && a.iter().any(|ok| !*ok), "{a:?}");
    let (c, _) = pattern(100).await;
    assert_ne!(a, c);
}

#[tokio::test(start_paused = true)]
async fn extra_latency_is_slept_before_the_call() {
    let sim = sim(0);
    sim.set_faults(Faults {
        extra_latency: Duration::from_millis(300),
        ..Faults::default()
    });
    let provider = sim.provider(ALI).expect("region");
    let start = Instant::now();
    allocate(&provider).await;
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(sim.calls()[0].at_ms, 300);
}

#[tokio::test(start_paused = true)]
async fn call_log_records_everything() {
    let sim = sim(0);
    let provider = sim.provider(OTC).expect("region");
    let eip = provider.allocate(&request("tok-a")).await.expect("allocates").eip;
    let err = provider.release("nope", "tok-r").await.expect_err("gone");
    let calls = sim.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].seq, 1);
    assert_eq!(calls[0].allocation_ids, vec![eip.allocation_id]);
    assert_eq!(calls[0].client_token.as_deref(), Some("tok-a"));
    assert_eq!((calls[1].outcome, calls[1].code.as_deref()), (CallOutcome::Error, Some("VPC.0504")));
    assert_eq!(Some(calls[1].request_id.clone()), err.request_id);
    assert_eq!(
        calls[1].request_id,
        calls[1].request_id.to_lowercase(),
        "OTC request IDs are lower-case"
    );
    assert_eq!(sim.calls_since(1).len(), 1);
    assert!(sim.provider("mars-1").is_err());
    assert_eq!(provider.name(), "simulator");
    assert_eq!(provider.flavor(), Flavor::Otc);
}

#[test]
fn token_bucket_refills_exactly() {
    let now = Instant::now();
    let mut bucket = TokenBucket::full(3, now);
    for _ in 0..3 {
        assert_eq!(bucket.try_take(3, now), Ok(()));
    }
    let wait = bucket.try_take(3, now).expect_err("empty");
    assert_eq!(wait, Duration::from_nanos(333_333_334));
    assert_eq!(bucket.try_take(3, now + wait), Ok(()));
    // Never more than one second's worth.
    let later = now + Duration::from_secs(60);
    for _ in 0..3 {
        assert_eq!(bucket.try_take(3, later), Ok(()));
    }
    assert!(bucket.try_take(3, later).is_err());
}

#[test]
fn an_unknown_region_is_refused_naming_the_known_ones() {
    let err = Simulator::default().provider("mars-1").expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "unknown simulator region \"mars-1\" (known: ap-southeast-1, cn-hangzhou, cn-shanghai, eu-de, eu-nl, us-east-1)"
    );
    assert_eq!((err.region.as_str(), err.known.len()), ("mars-1", 6));
}
