//! Coalesces concurrent unbinds or releases of one provider into batch calls.
//!
//! The first caller opens a batch and a timer; callers within `window` join it; the batch is
//! sent when the window closes or it holds `max` distinct IDs. Every caller gets its own result:
//! the batch's on success, or that of a single call for its ID when the batch call failed
//! (except throttling, which every caller gets as it is, so a throttled account is not hit
//! with one call per ID). The same ID twice in one batch is sent once.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

use eip_cloud::{CloudError, Receipt};

pub(crate) type Waiter = oneshot::Sender<Result<Receipt, CloudError>>;

/// What a caller does after joining.
pub(crate) enum Joined {
    /// Opened a new batch: start its timer with this ID.
    Opened(u64),
    /// Joined an open batch.
    Added,
    /// Filled the batch: send these now.
    Full(Vec<(String, Waiter)>),
}

struct Open {
    id: u64,
    waiters: Vec<(String, Waiter)>,
    distinct: usize,
}

pub(crate) struct Coalescer {
    pub window: Duration,
    pub max: usize,
    state: Mutex<(u64, Option<Open>)>,
}

impl Coalescer {
    pub fn new(window: Duration, max: usize) -> Self {
        Coalescer {
            window,
            max: max.max(1),
            state: Mutex::new((0, None)),
        }
    }

    pub fn join(&self, allocation_id: &str, waiter: Waiter) -> Joined {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (next_id, open) = &mut *state;
        let opened = match open {
            Some(batch) => {
                if !batch.waiters.iter().any(|(id, _)| id == allocation_id) {
                    batch.distinct += 1;
                }
                batch.waiters.push((allocation_id.to_owned(), waiter));
                None
            }
            None => {
                *next_id += 1;
                *open = Some(Open {
                    id: *next_id,
                    waiters: vec![(allocation_id.to_owned(), waiter)],
                    distinct: 1,
                });
                Some(*next_id)
            }
        };
        if open.as_ref().is_some_and(|batch| batch.distinct >= self.max) {
            return Joined::Full(open.take().map(|batch| batch.waiters).unwrap_or_default());
        }
        match opened {
            Some(id) => Joined::Opened(id),
            None => Joined::Added,
        }
    }

    /// Takes the batch `id` when its window closes (nothing if it was sent full already).
    pub fn take(&self, id: u64) -> Vec<(String, Waiter)> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &state.1 {
            Some(batch) if batch.id == id => state.1.take().map(|batch| batch.waiters).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// Distinct IDs of `waiters`, in order.
pub(crate) fn distinct_ids(waiters: &[(String, Waiter)]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (id, _) in waiters {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_joins_and_fills() {
        let coalescer = Coalescer::new(Duration::from_millis(100), 2);
        let (tx, _rx1) = oneshot::channel();
        let Joined::Opened(id) = coalescer.join("a", tx) else {
            panic!("first caller opens");
        };
        let (tx, _rx2) = oneshot::channel();
        assert!(matches!(coalescer.join("a", tx), Joined::Added), "same ID does not count twice");
        let (tx, _rx3) = oneshot::channel();
        let Joined::Full(waiters) = coalescer.join("b", tx) else {
            panic!("second distinct ID fills it");
        };
        assert_eq!(distinct_ids(&waiters), vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(waiters.len(), 3);
        assert!(coalescer.take(id).is_empty(), "already sent");
        let (tx, _rx4) = oneshot::channel();
        let Joined::Opened(next) = coalescer.join("c", tx) else {
            panic!("a new batch");
        };
        assert_ne!(next, id);
        assert!(coalescer.take(id).is_empty(), "a stale timer takes nothing");
        assert_eq!(coalescer.take(next).len(), 1);
    }
}
