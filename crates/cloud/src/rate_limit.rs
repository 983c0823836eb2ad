//! Client-side rate limits shared by every ElasticIP of one account (a ProviderConfig's
//! `rateLimits`): a [`CallHook`] whose `before` waits for a permit, so calls never draw the
//! cloud's throttling errors.

use std::num::NonZeroU32;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::stack::CallHook;
use crate::types::Operation;

/// One token bucket per mutating API (tag and untag share one) and one for reads (describe and
/// find-by-owner, target lookups and list pages).
pub struct RateLimit {
    reads: DefaultDirectRateLimiter,
    allocate: DefaultDirectRateLimiter,
    associate: DefaultDirectRateLimiter,
    unassociate: DefaultDirectRateLimiter,
    release: DefaultDirectRateLimiter,
    /// Tag and untag calls share one bucket (the clouds' tag APIs have one quota).
    tags: DefaultDirectRateLimiter,
}

impl RateLimit {
    /// Limits in calls per second; zero is treated as one.
    pub fn new(mutating_per_second: u32, describe_per_second: u32) -> Self {
        let limiter = |per_second: u32| RateLimiter::direct(Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN)));
        RateLimit {
            reads: limiter(describe_per_second),
            allocate: limiter(mutating_per_second),
            associate: limiter(mutating_per_second),
            unassociate: limiter(mutating_per_second),
            release: limiter(mutating_per_second),
            tags: limiter(mutating_per_second),
        }
    }

    fn bucket(&self, operation: Operation) -> &DefaultDirectRateLimiter {
        match operation {
            Operation::Describe | Operation::FindByOwner | Operation::ResolveTarget | Operation::List => &self.reads,
            Operation::Allocate => &self.allocate,
            Operation::Associate => &self.associate,
            Operation::Unassociate => &self.unassociate,
            Operation::Release => &self.release,
            Operation::Tag | Operation::Untag => &self.tags,
        }
    }
}

#[async_trait]
impl CallHook for RateLimit {
    async fn before(&self, operation: Operation) {
        self.bucket(operation).until_ready().await;
    }
}
