//! Client-side rate limits shared by every ElasticIP of one account (a ProviderConfig's
//! `rateLimits`): calls wait for a permit instead of drawing the cloud's throttling errors.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::{AllocateRequest, Allocated, BindTarget, CloudEip, CloudError, CloudProvider, DESCRIBE_BATCH, Receipt};

/// Wraps a provider with one token bucket per mutating API (tag and untag share one) and one for
/// describe calls.
pub struct RateLimited {
    inner: Arc<dyn CloudProvider>,
    describe: DefaultDirectRateLimiter,
    allocate: DefaultDirectRateLimiter,
    associate: DefaultDirectRateLimiter,
    unassociate: DefaultDirectRateLimiter,
    release: DefaultDirectRateLimiter,
    /// Tag and untag calls share one bucket (the clouds' tag APIs have one quota).
    tags: DefaultDirectRateLimiter,
}

impl RateLimited {
    /// Limits in calls per second; zero is treated as one.
    pub fn new(inner: Arc<dyn CloudProvider>, mutating_per_second: u32, describe_per_second: u32) -> Self {
        let limiter = |per_second: u32| RateLimiter::direct(Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN)));
        RateLimited {
            inner,
            describe: limiter(describe_per_second),
            allocate: limiter(mutating_per_second),
            associate: limiter(mutating_per_second),
            unassociate: limiter(mutating_per_second),
            release: limiter(mutating_per_second),
            tags: limiter(mutating_per_second),
        }
    }
}

#[async_trait]
impl CloudProvider for RateLimited {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn allocation_is_idempotent(&self) -> bool {
        self.inner.allocation_is_idempotent()
    }

    fn expected_transition(&self, operation: crate::cloud::Operation) -> std::time::Duration {
        self.inner.expected_transition(operation)
    }

    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let mut found = Vec::with_capacity(allocation_ids.len());
        // One permit per wire call: split here so the inner provider sees single batches.
        for batch in allocation_ids.chunks(DESCRIBE_BATCH) {
            self.describe.until_ready().await;
            found.extend(self.inner.describe(batch).await?);
        }
        Ok(found)
    }

    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError> {
        self.describe.until_ready().await;
        self.inner.find_by_owner(owner_uid).await
    }

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError> {
        self.allocate.until_ready().await;
        self.inner.allocate(request).await
    }

    async fn associate(&self, allocation_id: &str, target: &BindTarget, client_token: &str) -> Result<Receipt, CloudError> {
        self.associate.until_ready().await;
        self.inner.associate(allocation_id, target, client_token).await
    }

    async fn unassociate(&self, allocation_id: &str, current: &BindTarget, force: bool, client_token: &str) -> Result<Receipt, CloudError> {
        self.unassociate.until_ready().await;
        self.inner.unassociate(allocation_id, current, force, client_token).await
    }

    async fn release(&self, allocation_id: &str, client_token: &str) -> Result<Receipt, CloudError> {
        self.release.until_ready().await;
        self.inner.release(allocation_id, client_token).await
    }

    async fn tag(&self, allocation_id: &str, tags: &BTreeMap<String, String>) -> Result<Receipt, CloudError> {
        self.tags.until_ready().await;
        self.inner.tag(allocation_id, tags).await
    }

    async fn untag(&self, allocation_id: &str, keys: &[String]) -> Result<Receipt, CloudError> {
        self.tags.until_ready().await;
        self.inner.untag(allocation_id, keys).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cloud::Operation;
    use crate::cloud::simulator::{RateLimits, Simulator, SimulatorConfig};

    /// The simulator throttles beyond 5 describe calls a second; the wrapper at 5/s never
    /// draws a throttling error, the bare provider does.
    #[tokio::test]
    async fn stays_under_the_cloud_quota() {
        let config = SimulatorConfig {
            rate_limits: RateLimits {
                mutating_per_second: Some(5),
                describe_per_second: Some(5),
            },
            ..SimulatorConfig::instant()
        };
        let sim = Simulator::new(config);
        let bare: Arc<dyn CloudProvider> = Arc::new(sim.provider("cn-hangzhou").expect("region"));
        let limited = RateLimited::new(bare.clone(), 5, 5);
        let started = tokio::time::Instant::now();
        for _ in 0..12 {
            limited.describe(&["eip-x".to_string()]).await.expect("never throttled");
        }
        // 5 at once (the burst), then 5 a second.
        assert!(started.elapsed() >= Duration::from_millis(1200), "{:?}", started.elapsed());
        // All at once, so a slow machine cannot spread them out under the quota.
        let ids = ["eip-x".to_string()];
        let answers = futures::future::join_all((0..12).map(|_| bare.describe(&ids))).await;
        let throttled = answers.iter().filter(|a| a.as_ref().is_err_and(|e| e.throttled)).count();
        assert!(throttled > 0, "without the wrapper the quota is exceeded");
        assert_eq!(sim.call_count(Operation::Describe), 24);
    }
}
