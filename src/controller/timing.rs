//! When to look at an object again: pure functions of the step, its outcome and how long the
//! cloud has been working.

use std::time::Duration;

use rand::Rng;

use super::decide::Step;
use super::status::Outcome;
use eip_cloud::ErrorClass;

/// Requeue settings, from the command line.
#[derive(Clone, Debug)]
pub struct Timing {
    /// How often a converged object is checked for drift.
    pub resync: Duration,
    /// How soon a stalled object is checked again (the blocker may have been lifted out of sight
    /// of the operator: NAT entries removed, a lock lifted). Doubles with each consecutive stalled
    /// reconcile of the object, up to `stalled_resync_max`, so a permanent stall costs little.
    /// Causes the operator watches (its ProviderConfig, the credentials Secret) requeue at once.
    pub stalled_resync: Duration,
    /// The longest wait between two looks at a stalled object.
    pub stalled_resync_max: Duration,
    /// Earliest look after a mutating call was accepted (the cloud's expected transition time
    /// decides beyond that).
    pub after_call: Duration,
    /// Bounds of the growing poll while the cloud is in a transitional state.
    pub poll_min: Duration,
    pub poll_max: Duration,
    /// Bounds of the exponential backoff after retryable errors.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Cap of the same backoff after Kubernetes API errors (the API server down or restarting).
    /// Lower than the cloud's: retrying the operator's own API server spends no cloud quota, and
    /// when it is back every object must move within seconds, not minutes (the chaos soak found
    /// objects idle for over two minutes after a 25-second API server restart).
    pub kube_backoff_max: Duration,
    /// How long an absence must persist (seen by two well-formed looks at least this far apart)
    /// before the operator believes it: clouds are eventually consistent.
    pub absence_confirmation: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            resync: Duration::from_secs(300),
            stalled_resync: Duration::from_secs(30),
            stalled_resync_max: Duration::from_secs(600),
            after_call: Duration::from_millis(100),
            poll_min: Duration::from_millis(500),
            poll_max: Duration::from_secs(30),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            kube_backoff_max: Duration::from_secs(15),
            absence_confirmation: Duration::from_secs(5),
        }
    }
}

impl Timing {
    /// The delay before the next reconcile.
    ///
    /// `waited` is how long the current operation has been going on (a quarter of it is the
    /// next poll, so polls thin out on slow transitions); `failures` counts the consecutive
    /// reconciles of this object that ended the same way before this one: retryable failures for
    /// a retryable error (exponential backoff), stalls for a terminal error or a Stalled step
    /// ([`Timing::stalled_backoff`]); `expected` is how long the cloud usually takes to finish the
    /// call just made (the first look comes just after that).
    pub fn requeue_after(&self, step: &Step, outcome: &Outcome, waited: Duration, failures: u32, expected: Duration) -> Duration {
        match outcome {
            Outcome::Failed(err) if err.class() == ErrorClass::Retryable => match err.retry_after() {
                Some(after) => after + jitter(after / 10),
                None => self.backoff(failures),
            },
            Outcome::Failed(_) => self.stalled_backoff(failures),
            Outcome::Accepted { .. } => (expected + expected / 20).max(self.after_call),
            Outcome::NoCall => match step {
                Step::Wait { .. } => (waited / 4).clamp(self.poll_min, self.poll_max),
                Step::ConfirmAbsence { .. } => self.absence_confirmation + jitter(self.absence_confirmation / 10),
                Step::Stalled(_) => self.stalled_backoff(failures),
                _ => self.resync,
            },
        }
    }

    /// The wait before looking again at an object stalled `stalls` times in a row before this
    /// time: `stalled_resync`, doubled per consecutive stall, at most `stalled_resync_max` (or
    /// `stalled_resync`, if that is longer). No jitter: objects stalled by one cause look again
    /// together and share batched Describe calls.
    pub fn stalled_backoff(&self, stalls: u32) -> Duration {
        let cap = self.stalled_resync_max.max(self.stalled_resync);
        self.stalled_resync.saturating_mul(1u32 << stalls.min(16)).min(cap)
    }

    /// Exponential backoff with ±20% jitter, so objects that failed together do not retry together.
    pub fn backoff(&self, failures: u32) -> Duration {
        self.jittered_backoff(failures, self.backoff_max)
    }

    /// [`Timing::backoff`] after Kubernetes API errors: capped at `kube_backoff_max`.
    pub fn kube_backoff(&self, failures: u32) -> Duration {
        self.jittered_backoff(failures, self.kube_backoff_max.min(self.backoff_max))
    }

    fn jittered_backoff(&self, failures: u32, max: Duration) -> Duration {
        let exp = self.backoff_base.saturating_mul(1u32 << failures.min(16));
        let capped = exp.min(max);
        let spread = capped / 5;
        capped - spread + jitter(spread * 2)
    }
}

fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return max;
    }
    Duration::from_nanos(rand::rng().random_range(0..=max.as_nanos().min(u64::MAX as u128) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fixtures::{accepted, waiting};
    use eip_cloud::{Blocker, CloudError, Operation, Transition};

    fn wait() -> Step {
        waiting(Transition::Releasing)
    }

    #[test]
    fn polls_grow_with_the_wait_and_stay_bounded() {
        let t = Timing::default();
        let at = |secs| t.requeue_after(&wait(), &Outcome::NoCall, Duration::from_secs(secs), 0, Duration::ZERO);
        assert_eq!(at(0), t.poll_min);
        assert_eq!(at(8), Duration::from_secs(2));
        assert!(at(8) < at(40));
        assert_eq!(at(10_000), t.poll_max);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let t = Timing::default();
        for failures in 0..40 {
            let d = t.backoff(failures);
            let nominal = t.backoff_base.saturating_mul(1u32 << failures.min(16)).min(t.backoff_max);
            assert!(d >= nominal * 4 / 5 && d <= nominal * 6 / 5, "{failures}: {d:?}");
        }
        assert!(t.backoff(0) < Duration::from_secs(2));
        assert!(t.backoff(30) <= t.backoff_max * 6 / 5);
    }

    /// Regression (chaos soak, seed 2, N = 1,000): after a kube-apiserver restart, objects whose
    /// reconciles failed against it several times waited minutes to retry.
    #[test]
    fn kubernetes_api_errors_back_off_to_seconds_not_minutes() {
        let t = Timing::default();
        for failures in 0..40 {
            let d = t.kube_backoff(failures);
            let nominal = t.backoff_base.saturating_mul(1u32 << failures.min(16)).min(t.kube_backoff_max);
            assert!(d >= nominal * 4 / 5 && d <= nominal * 6 / 5, "{failures}: {d:?}");
        }
        assert!(t.kube_backoff(8) <= Duration::from_secs(18), "{:?}", t.kube_backoff(8));
        assert!(t.backoff(8) >= Duration::from_secs(200), "the cloud's backoff keeps its cap");
    }

    #[test]
    fn retry_after_is_honoured() {
        let t = Timing::default();
        let err = CloudError::throttled(Operation::Release, "Throttling.User", "slow down", Some(Duration::from_secs(3)));
        let d = t.requeue_after(&Step::Release, &Outcome::Failed(err), Duration::ZERO, 5, Duration::ZERO);
        assert!(d >= Duration::from_secs(3) && d <= Duration::from_millis(3300), "{d:?}");
    }

    #[test]
    fn terminal_errors_and_stalls_resync_slowly_and_calls_look_again_soon() {
        let t = Timing::default();
        let err = CloudError::terminal(
            Operation::Release,
            Blocker::PrepaidCannotRelease,
            "Forbidden.ChargeTypeIsPrepaid",
            "prepaid",
        );
        assert_eq!(
            t.requeue_after(&Step::Release, &Outcome::Failed(err), Duration::ZERO, 0, Duration::ZERO),
            t.stalled_resync
        );
        assert_eq!(t.stalled_resync, Duration::from_secs(30), "the default of --stalled-resync-seconds");
        let ok = accepted("");
        assert_eq!(
            t.requeue_after(&Step::Release, &ok, Duration::ZERO, 0, Duration::ZERO),
            t.after_call
        );
        assert_eq!(
            t.requeue_after(&Step::Release, &ok, Duration::ZERO, 0, Duration::from_secs(2)),
            Duration::from_millis(2100)
        );
        assert_eq!(
            t.requeue_after(&Step::Converged, &Outcome::NoCall, Duration::ZERO, 0, Duration::ZERO),
            t.resync
        );
    }

    #[test]
    fn an_absence_is_looked_at_again_after_the_confirmation_window() {
        let t = Timing::default();
        let step = Step::ConfirmAbsence { allocation_id: None };
        let d = t.requeue_after(&step, &Outcome::NoCall, Duration::ZERO, 0, Duration::ZERO);
        assert!(d >= t.absence_confirmation && d <= t.absence_confirmation * 11 / 10, "{d:?}");
    }

    fn stall() -> Step {
        Step::Stalled(crate::controller::decide::Stall::Locked {
            state: "Locked".into(),
            locks: vec!["financial".into()],
        })
    }

    #[test]
    fn stalls_back_off_by_doubling_from_the_flag_up_to_ten_minutes() {
        let t = Timing::default();
        let secs = |stalls| t.stalled_backoff(stalls).as_secs();
        let delays: Vec<u64> = (0..8).map(secs).collect();
        assert_eq!(delays, vec![30, 60, 120, 240, 480, 600, 600, 600]);
        // However long the stall lasts: no overflow, still the cap.
        assert_eq!(t.stalled_backoff(u32::MAX), Duration::from_secs(600));
        // From the flag's value.
        let fast = Timing {
            stalled_resync: Duration::from_secs(5),
            ..Timing::default()
        };
        assert_eq!(fast.stalled_backoff(0), Duration::from_secs(5));
        assert_eq!(fast.stalled_backoff(3), Duration::from_secs(40));
        assert_eq!(fast.stalled_backoff(7), Duration::from_secs(600));
        // A flag beyond the cap is the interval itself, not cut down to the cap.
        let slow = Timing {
            stalled_resync: Duration::from_secs(900),
            ..Timing::default()
        };
        assert_eq!(slow.stalled_backoff(0), Duration::from_secs(900));
        assert_eq!(slow.stalled_backoff(5), Duration::from_secs(900));
        // A cap equal to the interval: a constant resync.
        let constant = Timing {
            stalled_resync: Duration::from_secs(5),
            stalled_resync_max: Duration::from_secs(5),
            ..Timing::default()
        };
        assert!((0..20).all(|n| constant.stalled_backoff(n) == Duration::from_secs(5)));
    }

    #[test]
    fn stalled_steps_and_terminal_errors_use_the_stall_count() {
        let t = Timing::default();
        let terminal = || {
            Outcome::Failed(CloudError::terminal(
                Operation::Describe,
                Blocker::Authentication,
                "InvalidAccessKeySecret",
                "wrong secret",
            ))
        };
        for stalls in 0..10 {
            let expected = t.stalled_backoff(stalls);
            assert_eq!(
                t.requeue_after(&stall(), &Outcome::NoCall, Duration::ZERO, stalls, Duration::ZERO),
                expected
            );
            assert_eq!(
                t.requeue_after(&Step::Allocate, &terminal(), Duration::ZERO, stalls, Duration::ZERO),
                expected
            );
        }
        // The count starts again once the object is no longer stalled (the reconciler passes 0).
        assert_eq!(
            t.requeue_after(&stall(), &Outcome::NoCall, Duration::ZERO, 0, Duration::ZERO),
            t.stalled_resync
        );
        // Converged objects keep the drift resync whatever the count.
        assert_eq!(
            t.requeue_after(&Step::Converged, &Outcome::NoCall, Duration::ZERO, 7, Duration::ZERO),
            t.resync
        );
    }
}
