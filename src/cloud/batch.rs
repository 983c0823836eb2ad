//! Coalesces concurrent Describe calls of one account into batched wire calls (up to
//! [`DESCRIBE_BATCH`] IDs each), so polling N objects costs about N/50 calls instead of N.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::{AllocateRequest, Allocated, BindTarget, CloudEip, CloudError, CloudProvider, DESCRIBE_BATCH, Operation, Receipt};

type Reply = oneshot::Sender<Result<Vec<CloudEip>, CloudError>>;

struct Pending {
    ids: Vec<String>,
    reply: Reply,
}

/// Wraps a provider; Describe calls arriving within `window` of each other share a wire call.
pub struct DescribeBatcher {
    inner: Arc<dyn CloudProvider>,
    queue: mpsc::UnboundedSender<Pending>,
}

impl DescribeBatcher {
    /// Spawns the batching task on the current Tokio runtime; it ends when the batcher is dropped.
    pub fn new(inner: Arc<dyn CloudProvider>, window: Duration) -> Self {
        let (queue, requests) = mpsc::unbounded_channel();
        tokio::spawn(run(inner.clone(), requests, window));
        DescribeBatcher { inner, queue }
    }
}

async fn run(inner: Arc<dyn CloudProvider>, mut requests: mpsc::UnboundedReceiver<Pending>, window: Duration) {
    while let Some(first) = requests.recv().await {
        let mut batch = vec![first];
        let mut count = batch[0].ids.len();
        let deadline = tokio::time::Instant::now() + window;
        while count < DESCRIBE_BATCH {
            match tokio::time::timeout_at(deadline, requests.recv()).await {
                Ok(Some(next)) => {
                    count += next.ids.len();
                    batch.push(next);
                }
                Ok(None) | Err(_) => break,
            }
        }
        // Batches go out concurrently; the rate limiter below decides the pace.
        tokio::spawn(describe_batch(inner.clone(), batch));
    }
}

async fn describe_batch(inner: Arc<dyn CloudProvider>, batch: Vec<Pending>) {
    let mut ids: Vec<String> = batch.iter().flat_map(|p| p.ids.iter().cloned()).collect();
    ids.sort();
    ids.dedup();
    let result = inner.describe(&ids).await;
    for pending in batch {
        let answer = match &result {
            Ok(found) => Ok(found.iter().filter(|e| pending.ids.contains(&e.allocation_id)).cloned().collect()),
            Err(err) => Err(err.clone()),
        };
        // The caller may have gone away (reconcile cancelled): nothing to do.
        let _ = pending.reply.send(answer);
    }
}

#[async_trait]
impl CloudProvider for DescribeBatcher {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn allocation_is_idempotent(&self) -> bool {
        self.inner.allocation_is_idempotent()
    }

    fn expected_transition(&self, operation: Operation) -> Duration {
        self.inner.expected_transition(operation)
    }

    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            ids: allocation_ids.to_vec(),
            reply,
        };
        if self.queue.send(pending).is_err() {
            return self.inner.describe(allocation_ids).await;
        }
        answer.await.unwrap_or_else(|_| {
            Err(CloudError::retryable(
                Operation::Describe,
                "BatchDropped",
                "the describe batch was dropped",
            ))
        })
    }

    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError> {
        self.inner.find_by_owner(owner_uid).await
    }

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError> {
        self.inner.allocate(request).await
    }

    async fn associate(&self, allocation_id: &str, target: &BindTarget, client_token: &str) -> Result<Receipt, CloudError> {
        self.inner.associate(allocation_id, target, client_token).await
    }

    async fn unassociate(&self, allocation_id: &str, current: &BindTarget, force: bool, client_token: &str) -> Result<Receipt, CloudError> {
        self.inner.unassociate(allocation_id, current, force, client_token).await
    }

    async fn release(&self, allocation_id: &str, client_token: &str) -> Result<Receipt, CloudError> {
        self.inner.release(allocation_id, client_token).await
    }

    async fn tag(&self, allocation_id: &str, tags: &BTreeMap<String, String>) -> Result<Receipt, CloudError> {
        self.inner.tag(allocation_id, tags).await
    }

    async fn untag(&self, allocation_id: &str, keys: &[String]) -> Result<Receipt, CloudError> {
        self.inner.untag(allocation_id, keys).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::simulator::{SeedEip, Simulator, SimulatorConfig};

    #[tokio::test]
    async fn concurrent_describes_share_wire_calls_and_get_their_own_answers() {
        let sim = Simulator::new(SimulatorConfig::instant());
        let ids: Vec<String> = (0..120)
            .map(|_| sim.seed_eip("cn-hangzhou", SeedEip::default()).expect("seed").allocation_id)
            .collect();
        let provider: Arc<dyn CloudProvider> = Arc::new(sim.provider("cn-hangzhou").expect("region"));
        let batcher = Arc::new(DescribeBatcher::new(provider, Duration::from_millis(20)));
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
}
