//! The one wrapper around a provider: Describe coalescing, then a stack of [`CallHook`]s around
//! every call (rate limits wait in `before`, metrics count in `after`).
//!
//! Concurrent Describes of one account arriving within the window share wire calls of at most
//! [`Capabilities::describe_batch`] IDs each, so polling N objects costs about N/50 calls instead
//! of N. Each of those calls passes the hooks on its own: one rate-limit permit and one count per
//! call the provider makes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::error::CloudError;
use crate::provider::{Capabilities, CloudProvider, ListPage, in_batches};
use crate::types::{AllocateRequest, Allocated, BindTarget, CloudEip, Operation, Receipt, UnbindRequest};

/// One finished call, as the hooks see it.
#[derive(Clone, Copy, Debug)]
pub struct CallReport<'a> {
    /// The provider's name (`alibaba`, `otc`, `simulator`, ...).
    pub provider: &'a str,
    pub operation: Operation,
    pub result: Result<(), &'a CloudError>,
    /// From after the `before` hooks to the answer.
    pub took: Duration,
}

/// Runs around every call the stack passes to the provider.
#[async_trait]
pub trait CallHook: Send + Sync + 'static {
    /// Before the call; may wait (a rate limit).
    async fn before(&self, _operation: Operation) {}

    /// After the call, with its outcome.
    fn after(&self, _report: &CallReport<'_>) {}
}

/// The provider and its hooks, shared with the coalescing task.
struct Hooked {
    inner: Arc<dyn CloudProvider>,
    hooks: Vec<Arc<dyn CallHook>>,
}

impl Hooked {
    async fn call<T, F>(&self, operation: Operation, call: F) -> Result<T, CloudError>
    where
        F: Future<Output = Result<T, CloudError>>,
    {
        for hook in &self.hooks {
            hook.before(operation).await;
        }
        let started = tokio::time::Instant::now();
        let result = call.await;
        let report = CallReport {
            provider: self.inner.name(),
            operation,
            result: result.as_ref().map(|_| ()),
            took: started.elapsed(),
        };
        for hook in &self.hooks {
            hook.after(&report);
        }
        result
    }

    async fn describe(&self, ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let batch = self.inner.capabilities().describe_batch;
        in_batches(ids, batch, |chunk| async move {
            self.call(Operation::Describe, self.inner.describe(&chunk)).await
        })
        .await
    }
}

/// A provider behind hooks and (optionally) Describe coalescing. Build it with [`Stack::new`],
/// then [`Stack::hook`] and [`Stack::coalesce_describes`].
pub struct Stack {
    hooked: Arc<Hooked>,
    describes: Option<mpsc::UnboundedSender<Pending>>,
}

impl Stack {
    pub fn new(inner: Arc<dyn CloudProvider>) -> Self {
        Stack {
            hooked: Arc::new(Hooked { inner, hooks: Vec::new() }),
            describes: None,
        }
    }

    /// Adds a hook; hooks run in the order they were added (`before`) and again (`after`).
    pub fn hook(mut self, hook: Arc<dyn CallHook>) -> Self {
        let hooked = Hooked {
            inner: self.hooked.inner.clone(),
            hooks: self.hooked.hooks.iter().cloned().chain([hook]).collect(),
        };
        self.hooked = Arc::new(hooked);
        self
    }

    /// Describes arriving within `window` of each other share wire calls. Spawns the coalescing
    /// task on the current Tokio runtime; it ends when the stack is dropped. Call it last.
    pub fn coalesce_describes(mut self, window: Duration) -> Self {
        let (queue, requests) = mpsc::unbounded_channel();
        tokio::spawn(coalesce(self.hooked.clone(), requests, window));
        self.describes = Some(queue);
        self
    }
}

type Reply = oneshot::Sender<Result<Vec<CloudEip>, CloudError>>;

struct Pending {
    ids: Vec<String>,
    reply: Reply,
}

async fn coalesce(hooked: Arc<Hooked>, mut requests: mpsc::UnboundedReceiver<Pending>, window: Duration) {
    let batch_size = hooked.inner.capabilities().describe_batch;
    while let Some(first) = requests.recv().await {
        let mut batch = vec![first];
        let mut count = batch[0].ids.len();
        let deadline = tokio::time::Instant::now() + window;
        while count < batch_size {
            match tokio::time::timeout_at(deadline, requests.recv()).await {
                Ok(Some(next)) => {
                    count += next.ids.len();
                    batch.push(next);
                }
                Ok(None) | Err(_) => break,
            }
        }
        // Batches go out concurrently; the hooks (rate limits) decide the pace.
        tokio::spawn(describe_batch(hooked.clone(), batch));
    }
}

async fn describe_batch(hooked: Arc<Hooked>, batch: Vec<Pending>) {
    let mut ids: Vec<String> = batch.iter().flat_map(|p| p.ids.iter().cloned()).collect();
    ids.sort();
    ids.dedup();
    let result = hooked.describe(&ids).await;
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
impl CloudProvider for Stack {
    fn name(&self) -> &str {
        self.hooked.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.hooked.inner.capabilities()
    }

    fn expected_transition(&self, operation: Operation) -> Duration {
        self.hooked.inner.expected_transition(operation)
    }

    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let Some(queue) = &self.describes else {
            return self.hooked.describe(allocation_ids).await;
        };
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            ids: allocation_ids.to_vec(),
            reply,
        };
        if queue.send(pending).is_err() {
            return self.hooked.describe(allocation_ids).await;
        }
        crate::slot::handed_back_during(answer).await.unwrap_or_else(|_| {
            Err(CloudError::retryable(
                Operation::Describe,
                "BatchDropped",
                "the describe batch was dropped",
            ))
        })
    }

    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError> {
        let hooked = &self.hooked;
        hooked.call(Operation::FindByOwner, hooked.inner.find_by_owner(owner_uid)).await
    }

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError> {
        let hooked = &self.hooked;
        hooked.call(Operation::Allocate, hooked.inner.allocate(request)).await
    }

    async fn associate(&self, allocation_id: &str, target: &BindTarget, client_token: &str) -> Result<Receipt, CloudError> {
        let hooked = &self.hooked;
        hooked
            .call(Operation::Associate, hooked.inner.associate(allocation_id, target, client_token))
            .await
    }

    async fn unassociate(&self, request: &UnbindRequest) -> Result<Receipt, CloudError> {
        let hooked = &self.hooked;
        hooked.call(Operation::Unassociate, hooked.inner.unassociate(request)).await
    }

    async fn release(&self, allocation_id: &str, client_token: &str) -> Result<Receipt, CloudError> {
        let hooked = &self.hooked;
        hooked
            .call(Operation::Release, hooked.inner.release(allocation_id, client_token))
            .await
    }

    async fn tag(&self, allocation_id: &str, tags: &BTreeMap<String, String>) -> Result<Receipt, CloudError> {
        let hooked = &self.hooked;
        hooked.call(Operation::Tag, hooked.inner.tag(allocation_id, tags)).await
    }

    async fn untag(&self, allocation_id: &str, keys: &[String]) -> Result<Receipt, CloudError> {
        let hooked = &self.hooked;
        hooked.call(Operation::Untag, hooked.inner.untag(allocation_id, keys)).await
    }

    async fn resolve_target(&self, target: &BindTarget) -> Result<BindTarget, CloudError> {
        let hooked = &self.hooked;
        hooked.call(Operation::ResolveTarget, hooked.inner.resolve_target(target)).await
    }

    async fn list_page(&self, cursor: Option<&str>) -> Result<ListPage, CloudError> {
        let hooked = &self.hooked;
        hooked.call(Operation::List, hooked.inner.list_page(cursor)).await
    }
}
