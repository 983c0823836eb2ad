//! The provider stack against the simulator: Describe coalescing, rate limits as a hook, and
//! hooks that see every call the provider makes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eip_cloud::rate_limit::RateLimit;
use eip_cloud::{CallHook, CallReport, CloudProvider, Operation, Stack};
use eip_simulator::{RateLimits, SeedEip, Simulator, SimulatorConfig};

/// Paused time: the window closes only when every Describe has been queued, however slow the
/// machine.
#[tokio::test(start_paused = true)]
async fn concurrent_describes_share_wire_calls_and_get_their_own_answers() {
    let sim = Simulator::new(SimulatorConfig::instant());
    let ids: Vec<String> = (0..120)
        .map(|_| sim.seed_eip("cn-hangzhou", SeedEip::default()).expect("seed").allocation_id)
        .collect();
    let provider: Arc<dyn CloudProvider> = Arc::new(sim.provider("cn-hangzhou").expect("region"));
    let batcher = Arc::new(Stack::new(provider).coalesce_describes(Duration::from_millis(20)));
    let mut tasks = Vec::new();
    for id in ids.iter().cloned().chain(["eip-missing".to_string()]) {
        let batcher = batcher.clone();
        tasks.push(tokio::spawn(async move {
            (id.clone(), batcher.describe(std::slice::from_ref(&id)).await)
        }));
    }
    for task in tasks {
        let (id, result) = task.await.expect("join");
        let found = result.expect("describe");
        if id == "eip-missing" {
            assert!(found.is_empty());
        } else {
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].allocation_id, id);
        }
    }
    let calls = sim.call_count(Operation::Describe);
    assert!(calls <= 4, "121 describes in {calls} wire calls");
}

/// The simulator throttles beyond 5 describe calls a second; the stack with a 4/s limit never
/// draws a throttling error, the bare provider does. (A limit of exactly the quota races the
/// cloud's clock by nanoseconds: on a loaded machine one call in a few runs lands a hair early.)
#[tokio::test]
async fn a_rate_limit_hook_stays_under_the_cloud_quota() {
    let config = SimulatorConfig {
        rate_limits: RateLimits {
            mutating_per_second: Some(5),
            describe_per_second: Some(5),
            ..RateLimits::default()
        },
        ..SimulatorConfig::instant()
    };
    let sim = Simulator::new(config);
    let bare: Arc<dyn CloudProvider> = Arc::new(sim.provider("cn-hangzhou").expect("region"));
    let limited = Stack::new(bare.clone()).hook(Arc::new(RateLimit::new(4, 4)));
    let started = tokio::time::Instant::now();
    for _ in 0..12 {
        limited.describe(&["eip-x".to_string()]).await.expect("never throttled");
    }
    // Paced at 95 % of 4 a second: 11 intervals of 263 ms.
    assert!(started.elapsed() >= Duration::from_millis(2800), "{:?}", started.elapsed());
    // All at once, so a slow machine cannot spread them out under the quota.
    let ids = ["eip-x".to_string()];
    let answers = futures::future::join_all((0..12).map(|_| bare.describe(&ids))).await;
    let throttled = answers.iter().filter(|a| a.as_ref().is_err_and(|e| e.is_throttled())).count();
    assert!(throttled > 0, "without the wrapper the quota is exceeded");
    assert_eq!(sim.call_count(Operation::Describe), 24);
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Operation, bool)>>);

#[async_trait::async_trait]
impl CallHook for Recorder {
    fn after(&self, report: &CallReport<'_>) {
        let mut seen = self.0.lock().expect("lock");
        seen.push((report.provider.to_owned(), report.operation, report.result.is_ok()));
    }
}

/// A hook sees each call the provider gets: a Describe of 120 IDs is three calls of at most 50.
#[tokio::test]
async fn hooks_see_every_call_the_provider_makes() {
    let sim = Simulator::new(SimulatorConfig::instant());
    let ids: Vec<String> = (0..120)
        .map(|_| sim.seed_eip("cn-hangzhou", SeedEip::default()).expect("seed").allocation_id)
        .collect();
    let recorder = Arc::new(Recorder::default());
    let provider: Arc<dyn CloudProvider> = Arc::new(sim.provider("cn-hangzhou").expect("region"));
    let stack = Stack::new(provider).hook(recorder.clone());
    assert_eq!(stack.describe(&ids).await.expect("describes").len(), 120);
    stack.release("eip-unknown", "token").await.expect_err("gone");
    let seen = recorder.0.lock().expect("lock").clone();
    let describes = seen.iter().filter(|(_, op, ok)| *op == Operation::Describe && *ok).count();
    assert_eq!(describes, 3, "{seen:?}");
    assert_eq!(seen.last(), Some(&("simulator".to_owned(), Operation::Release, false)));
    assert_eq!(sim.call_count(Operation::Describe), 3);
}
