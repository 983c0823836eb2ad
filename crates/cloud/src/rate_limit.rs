//! Client-side rate limits shared by every ElasticIP of one account (a ProviderConfig's
//! `rateLimits`): a [`CallHook`] whose `before` waits for the API's next slot, so calls do not
//! draw the cloud's throttling errors, and whose `after` backs off when one comes anyway.
//!
//! Each API paces its calls evenly at a rate below the cloud's quota (the headroom, 95 % by
//! default: a bucket run at exactly the quota crosses it on jitter alone). The rate adapts
//! (AIMD): a throttling answer halves it and stops the API for the answer's retry-after, then it
//! climbs back by a twentieth of the ceiling per second. Hand-written rather than `governor`:
//! governor's quotas are fixed at construction and its clock is not tokio's, so neither the
//! adaptation nor a paused-time test would fit it. A wait hands the reconcile's concurrency
//! share back meanwhile ([`crate::slot`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use eip_api::RateLimits;
use tokio::time::Instant;

use crate::stack::{CallHook, CallReport};
use crate::types::Operation;

/// The share of the quota the limiter uses when the ProviderConfig names none.
pub const DEFAULT_HEADROOM: f64 = 0.95;
/// The slowest a throttled API goes, as a share of its ceiling.
const FLOOR: f64 = 1.0 / 32.0;
/// Additive increase per second, as a share of the ceiling.
const CLIMB_PER_SECOND: f64 = 1.0 / 20.0;
/// Throttling answers within this long of a halving are the same episode (calls in flight when
/// the cloud started refusing): one halving, not one per answer.
const EPISODE: Duration = Duration::from_secs(1);

/// The APIs with a quota of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Api {
    /// Describe, find-by-owner, target lookups and list pages share the read quota.
    Reads,
    Allocate,
    Associate,
    Unassociate,
    Release,
    /// Tag and untag calls share one bucket (the clouds' tag APIs have one quota).
    Tags,
}

impl Api {
    pub const ALL: [Api; 6] = [Api::Reads, Api::Allocate, Api::Associate, Api::Unassociate, Api::Release, Api::Tags];

    pub fn of(operation: Operation) -> Api {
        match operation {
            Operation::Describe | Operation::FindByOwner | Operation::ResolveTarget | Operation::List => Api::Reads,
            Operation::Allocate => Api::Allocate,
            Operation::Associate => Api::Associate,
            Operation::Unassociate => Api::Unassociate,
            Operation::Release => Api::Release,
            Operation::Tag | Operation::Untag => Api::Tags,
        }
    }

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Api::Reads => "reads",
            Api::Allocate => "allocate",
            Api::Associate => "associate",
            Api::Unassociate => "unassociate",
            Api::Release => "release",
            Api::Tags => "tags",
        }
    }
}

/// One API's pacing.
struct Bucket {
    /// Calls per second the limiter never exceeds: quota × headroom.
    ceiling: f64,
    state: Mutex<Pace>,
}

struct Pace {
    rate: f64,
    /// The earliest moment the next call may start.
    next_slot: Instant,
    /// No call before this (a throttling answer's retry-after).
    paused_until: Instant,
    /// When the rate last changed (the climb counts from here).
    changed: Instant,
    last_halving: Option<Instant>,
}

impl Bucket {
    fn new(quota: u32, headroom: f64) -> Bucket {
        let ceiling = (f64::from(quota.max(1)) * headroom).max(0.1);
        let now = Instant::now();
        Bucket {
            ceiling,
            state: Mutex::new(Pace {
                rate: ceiling,
                next_slot: now,
                paused_until: now,
                changed: now,
                last_halving: None,
            }),
        }
    }

    fn pace(&self) -> std::sync::MutexGuard<'_, Pace> {
        // A poisoned pace is still a valid pace: every write leaves it consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves the next slot and says when it is.
    fn reserve(&self) -> Instant {
        let mut pace = self.pace();
        let now = Instant::now();
        self.climb(&mut pace, now);
        let slot = now.max(pace.next_slot).max(pace.paused_until);
        pace.next_slot = slot + Duration::from_secs_f64(1.0 / pace.rate);
        slot
    }

    fn climb(&self, pace: &mut Pace, now: Instant) {
        if now > pace.changed && pace.rate < self.ceiling {
            let climbed = pace.rate + self.ceiling * CLIMB_PER_SECOND * (now - pace.changed).as_secs_f64();
            pace.rate = climbed.min(self.ceiling);
        }
        pace.changed = pace.changed.max(now);
    }

    fn throttled(&self, retry_after: Option<Duration>) {
        let mut pace = self.pace();
        let now = Instant::now();
        self.climb(&mut pace, now);
        let pause = now + retry_after.unwrap_or_default();
        pace.paused_until = pace.paused_until.max(pause);
        if pace.last_halving.is_some_and(|at| now.duration_since(at) < EPISODE) {
            return;
        }
        pace.last_halving = Some(now);
        pace.rate = (pace.rate / 2.0).max(self.ceiling * FLOOR);
        // The climb starts once the pause is over.
        pace.changed = pace.paused_until;
    }

    fn rate(&self) -> f64 {
        let mut pace = self.pace();
        self.climb(&mut pace, Instant::now());
        if Instant::now() < pace.paused_until { 0.0 } else { pace.rate }
    }
}

/// The pacing of one account's APIs.
pub struct RateLimit {
    buckets: [Bucket; 6],
}

impl RateLimit {
    /// Quotas in calls per second (zero is treated as one), each paced at 95 % of it.
    pub fn new(mutating_per_second: u32, describe_per_second: u32) -> Self {
        Self::with_headroom(mutating_per_second, describe_per_second, DEFAULT_HEADROOM)
    }

    pub fn with_headroom(mutating_per_second: u32, describe_per_second: u32, headroom: f64) -> Self {
        let limits = RateLimits {
            mutating_per_second,
            describe_per_second,
            release_per_second: None,
            headroom_percent: None,
        };
        Self::paced(&limits, headroom)
    }

    /// A ProviderConfig's `rateLimits`, at its headroom (95 % unless it says).
    pub fn from_limits(limits: &RateLimits) -> Self {
        let headroom = limits.headroom_percent.map_or(DEFAULT_HEADROOM, |p| f64::from(p) / 100.0);
        Self::paced(limits, headroom)
    }

    fn paced(limits: &RateLimits, headroom: f64) -> Self {
        let headroom = headroom.clamp(0.1, 1.0);
        let bucket = |api: Api| {
            let quota = match api {
                Api::Reads => limits.describe_per_second,
                Api::Release => limits.release_per_second.unwrap_or(limits.mutating_per_second),
                _ => limits.mutating_per_second,
            };
            Bucket::new(quota, headroom)
        };
        RateLimit {
            buckets: Api::ALL.map(bucket),
        }
    }

    fn bucket(&self, api: Api) -> &Bucket {
        &self.buckets[Api::ALL.iter().position(|a| *a == api).unwrap_or(0)]
    }

    /// The current rate of each API, calls per second (0 while paused by a retry-after).
    pub fn rates(&self) -> BTreeMap<Api, f64> {
        Api::ALL.iter().map(|api| (*api, self.bucket(*api).rate())).collect()
    }
}

#[async_trait]
impl CallHook for RateLimit {
    async fn before(&self, operation: Operation) {
        let bucket = self.bucket(Api::of(operation));
        // A slot reserved before a throttling answer may fall inside its pause: reserve again
        // after it (bounded: each round waits for a pause that has already begun).
        for _ in 0..8 {
            crate::slot::wait_until(bucket.reserve()).await;
            if Instant::now() >= bucket.pace().paused_until {
                return;
            }
        }
    }

    fn after(&self, report: &CallReport<'_>) {
        let Err(error) = report.result else { return };
        if error.is_throttled() {
            self.bucket(Api::of(report.operation)).throttled(error.retry_after());
        } else if error.is_timeout() {
            // No answer in time is the other sign of a cloud past its capacity: one that slows
            // down instead of refusing. Full speed would keep it there: every call times out,
            // is retried, and the cloud works on requests nobody waits for any more (the peer
            // benchmark: moto at N = 1,000 answered nothing within 30 s for minutes). The same
            // halving, without a pause.
            self.bucket(Api::of(report.operation)).throttled(None);
        }
    }
}

/// The limiters of the accounts a [`crate::Registry`] built, by ProviderConfig name, for the
/// current-rate metric. Holds them weakly: a rebuilt provider replaces its entry.
#[derive(Default)]
pub struct RateTable {
    limits: Mutex<BTreeMap<String, Weak<RateLimit>>>,
}

impl RateTable {
    pub(crate) fn insert(&self, config_name: &str, limit: &Arc<RateLimit>) {
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        limits.retain(|_, weak| weak.strong_count() > 0);
        limits.insert(config_name.to_string(), Arc::downgrade(limit));
    }

    /// (ProviderConfig, API) → calls per second now.
    pub fn rates(&self) -> BTreeMap<(String, &'static str), f64> {
        let limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = BTreeMap::new();
        for (name, weak) in limits.iter() {
            let Some(limit) = weak.upgrade() else { continue };
            for (api, rate) in limit.rates() {
                out.insert((name.clone(), api.label()), rate);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CloudError;

    /// Starts `n` calls of `operation` at once and returns when each started, relative to now.
    async fn starts(limit: &Arc<RateLimit>, operation: Operation, n: usize) -> Vec<Duration> {
        let begin = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let limit = limit.clone();
                tokio::spawn(async move {
                    limit.before(operation).await;
                    Instant::now() - begin
                })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.expect("task"));
        }
        out.sort();
        out
    }

    fn report(limit: &RateLimit, error: &CloudError) {
        limit.after(&CallReport {
            provider: "test",
            operation: error.operation,
            result: Err(error),
            took: Duration::ZERO,
        });
    }

    fn throttle(limit: &RateLimit, operation: Operation, retry_after: Option<Duration>) {
        report(limit, &CloudError::throttled(operation, "Throttling", "slow down", retry_after));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_are_paced_below_the_quota() {
        let limit = Arc::new(RateLimit::new(20, 40));
        let times = starts(&limit, Operation::Allocate, 39).await;
        // 19 calls per second (95 % of 20), evenly: the 39th starts after 38 intervals, 2 s.
        let last = times.last().copied().unwrap_or_default();
        assert!((last.as_secs_f64() - 38.0 / 19.0).abs() < 0.01, "{last:?}");
        // Never more than the quota in any one-second window.
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|u| **u < *t + Duration::from_secs(1)).count();
            assert!(in_window <= 20, "{in_window} calls within a second from {t:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_apis_have_separate_paces() {
        let limit = Arc::new(RateLimit::new(10, 40));
        starts(&limit, Operation::Allocate, 20).await;
        // Allocations queued for two seconds do not delay a release or a read.
        let begin = Instant::now();
        limit.before(Operation::Release).await;
        limit.before(Operation::Describe).await;
        assert!(Instant::now() - begin < Duration::from_millis(200));
        // Tag and untag share one pace.
        let times = starts(&limit, Operation::Tag, 2).await;
        let untag = starts(&limit, Operation::Untag, 1).await;
        assert!(times[1] > Duration::ZERO && untag[0] > Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttling_answer_halves_the_rate_and_honours_retry_after() {
        let limit = Arc::new(RateLimit::new(20, 40));
        throttle(&limit, Operation::Associate, Some(Duration::from_secs(2)));
        assert_eq!(limit.rates()[&Api::Associate], 0.0, "paused for the retry-after");
        assert_eq!(limit.rates()[&Api::Allocate], 19.0, "other APIs untouched");
        let times = starts(&limit, Operation::Associate, 1).await;
        assert!(times[0] >= Duration::from_secs(2), "{times:?}");
        let rate = limit.rates()[&Api::Associate];
        assert!((rate - 9.5).abs() < 0.1, "halved: {rate}");
    }

    #[tokio::test(start_paused = true)]
    async fn answers_of_one_episode_halve_once_and_the_rate_climbs_back() {
        let limit = Arc::new(RateLimit::new(20, 40));
        for _ in 0..5 {
            throttle(&limit, Operation::Release, None);
        }
        assert!((limit.rates()[&Api::Release] - 9.5).abs() < 0.1);
        // A second episode later halves again, down to the floor at most.
        tokio::time::advance(Duration::from_millis(1_100)).await;
        throttle(&limit, Operation::Release, None);
        let rate = limit.rates()[&Api::Release];
        assert!((19.0 / 32.0..6.0).contains(&rate), "{rate}");
        // Additive increase: a twentieth of the ceiling per second, back at the ceiling in 20 s.
        tokio::time::advance(Duration::from_secs(5)).await;
        let climbed = limit.rates()[&Api::Release];
        assert!((climbed - (rate + 5.0 * 19.0 / 20.0)).abs() < 0.1, "{rate} → {climbed}");
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(limit.rates()[&Api::Release], 19.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_halves_the_rate_like_throttling_and_other_errors_do_not() {
        let limit = Arc::new(RateLimit::new(20, 40));
        let refused = CloudError::retryable(Operation::FindByOwner, "ServiceUnavailable", "try again");
        report(&limit, &refused);
        assert_eq!(limit.rates()[&Api::Reads], 38.0, "an error answer says nothing of the rate");
        let timeout = CloudError::retryable(Operation::FindByOwner, "RequestTimeout", "no answer within 30 s");
        assert!(timeout.is_timeout() && !timeout.is_throttled());
        report(&limit, &timeout);
        assert!((limit.rates()[&Api::Reads] - 19.0).abs() < 0.1, "halved");
        assert_eq!(limit.rates()[&Api::Allocate], 19.0, "other APIs untouched");
        let times = starts(&limit, Operation::Describe, 1).await;
        assert_eq!(times[0], Duration::ZERO, "no pause: a timeout carries no retry-after");
    }

    #[tokio::test(start_paused = true)]
    async fn a_provider_config_sets_the_quotas_and_the_headroom() {
        let limits = RateLimits {
            mutating_per_second: 2,
            describe_per_second: 10,
            release_per_second: Some(10),
            headroom_percent: Some(90),
        };
        let rates = RateLimit::from_limits(&limits).rates();
        assert_eq!((rates[&Api::Allocate], rates[&Api::Tags]), (1.8, 1.8));
        assert_eq!((rates[&Api::Release], rates[&Api::Reads]), (9.0, 9.0));
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_reports_live_limiters_only() {
        let table = RateTable::default();
        let kept = Arc::new(RateLimit::with_headroom(10, 20, 0.5));
        table.insert("kept", &kept);
        table.insert("dropped", &Arc::new(RateLimit::new(10, 20)));
        let rates = table.rates();
        assert_eq!(rates[&("kept".to_string(), "reads")], 10.0);
        assert_eq!(rates[&("kept".to_string(), "allocate")], 5.0);
        assert!(!rates.keys().any(|(name, _)| name == "dropped"));
    }
}
