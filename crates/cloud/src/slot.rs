//! A reconcile's share of the operator's concurrency, handed back while one of its calls waits
//! for its API's pace.
//!
//! The operator runs at most `--concurrency` reconciles at once. A call that waits seconds for
//! its rate limiter (1,000 allocations queued at 20 a second) would otherwise keep a share it
//! does nothing with, and every share ends up waiting for one API: the associations of objects
//! already allocated, or the calls of another account, queue behind the allocations, and the
//! phases of a thousand objects run one after the other instead of overlapping (the converge
//! benchmark: 2.1 × the lower bound with one FIFO semaphore held across the wait).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// Waits shorter than this keep the share: handing it back costs more than it frees.
const KEEP_FOR_SHORTER: Duration = Duration::from_millis(20);
/// The share is taken back this long before the call's slot, so that waiting in line for it
/// rarely makes the call late (late calls bunch up at the cloud).
const RETAKE_AHEAD: Duration = Duration::from_millis(50);

/// What a reconcile holds of the operator's concurrency.
pub trait Slot: Send + Sync {
    /// Hands the share back; nothing when it is not held.
    fn release(&self);
    /// Takes the share again, in line with every other reconcile; nothing when it is held.
    fn reacquire(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

tokio::task_local! {
    static SLOT: Arc<dyn Slot>;
}

/// Runs `work` (one reconcile) with `slot` as the share its paced calls hand back while waiting.
pub async fn holding<F: Future>(slot: Arc<dyn Slot>, work: F) -> F::Output {
    SLOT.scope(slot, work).await
}

/// Sleeps until `at`; a longer wait hands the current task's share back meanwhile.
pub(crate) async fn wait_until(at: Instant) {
    let slot = SLOT.try_with(Arc::clone).ok();
    match slot {
        Some(slot) if at > Instant::now() + KEEP_FOR_SHORTER => {
            slot.release();
            tokio::time::sleep_until(at - RETAKE_AHEAD).await;
            slot.reacquire().await;
            tokio::time::sleep_until(at).await;
        }
        _ => tokio::time::sleep_until(at).await,
    }
}

/// Awaits `work` (a Describe waiting for its batch to fill and be answered) with the current
/// task's share handed back, and takes it again after: a thousand objects polled at once would
/// otherwise hold every share through the coalescing window, and the reconciles with a call to
/// make (the releases after a thousand unbinds) wait behind them.
pub(crate) async fn handed_back_during<F: Future>(work: F) -> F::Output {
    let Ok(slot) = SLOT.try_with(Arc::clone) else {
        return work.await;
    };
    slot.release();
    let output = work.await;
    slot.reacquire().await;
    output
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::sync::{OwnedSemaphorePermit, Semaphore};

    use super::*;

    struct Share {
        slots: Arc<Semaphore>,
        held: Mutex<Option<OwnedSemaphorePermit>>,
    }

    impl Slot for Share {
        fn release(&self) {
            self.held.lock().expect("lock").take();
        }
        fn reacquire(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            Box::pin(async move {
                let permit = self.slots.clone().acquire_owned().await.expect("open");
                self.held.lock().expect("lock").get_or_insert(permit);
            })
        }
    }

    async fn share(slots: &Arc<Semaphore>) -> Arc<Share> {
        let permit = slots.clone().acquire_owned().await.expect("open");
        Arc::new(Share {
            slots: slots.clone(),
            held: Mutex::new(Some(permit)),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_wait_frees_the_share_and_takes_it_back_before_the_slot() {
        let slots = Arc::new(Semaphore::new(1));
        let mine = share(&slots).await;
        let at = Instant::now() + Duration::from_secs(3);
        let waiting = tokio::spawn(holding(mine.clone(), wait_until(at)));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(slots.available_permits(), 1, "free while waiting");
        // Someone else runs meanwhile and is done before the slot.
        let other = slots.clone().acquire_owned().await.expect("free");
        drop(other);
        waiting.await.expect("joins");
        assert_eq!(Instant::now(), at, "on time");
        assert!(mine.held.lock().expect("lock").is_some(), "held again");
        assert_eq!(slots.available_permits(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_share_is_free_while_its_batch_is_awaited_and_held_after() {
        let slots = Arc::new(Semaphore::new(1));
        let mine = share(&slots).await;
        let (answer, answered) = tokio::sync::oneshot::channel::<u32>();
        let waiting = tokio::spawn(holding(mine.clone(), handed_back_during(answered)));
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(slots.available_permits(), 1, "free while the batch fills");
        let other = slots.clone().acquire_owned().await.expect("free");
        answer.send(7).expect("sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiting.is_finished(), "waits in line for its share after the answer");
        drop(other);
        assert_eq!(waiting.await.expect("joins").expect("answered"), 7);
        assert!(mine.held.lock().expect("lock").is_some(), "held again");
        assert_eq!(slots.available_permits(), 0);
        // Outside a reconcile there is nothing to hand back.
        assert_eq!(handed_back_during(async { 3 }).await, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_wait_or_no_share_just_sleeps() {
        let slots = Arc::new(Semaphore::new(1));
        let mine = share(&slots).await;
        let at = Instant::now() + Duration::from_millis(10);
        holding(mine.clone(), wait_until(at)).await;
        assert_eq!(slots.available_permits(), 0, "kept");
        let at = Instant::now() + Duration::from_secs(1);
        wait_until(at).await;
        assert_eq!(Instant::now(), at);
    }
}
