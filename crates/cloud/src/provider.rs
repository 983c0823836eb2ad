//! The trait every provider implements, and what a provider says about itself.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::CloudError;
use crate::types::{AllocateRequest, Allocated, BindTarget, CloudEip, InstanceType, Operation, Receipt, UnbindRequest};

/// Largest number of allocation IDs one Describe call accepts (Alibaba's documented limit).
pub const DESCRIBE_BATCH: usize = 50;

/// What a provider can do, so the layers above it need not know which provider it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Most allocation IDs one Describe wire call names.
    pub describe_batch: usize,
    /// Whether allocating twice with the same client token yields the same EIP (Alibaba's
    /// `ClientToken`). Then a living object with no recorded allocation can allocate at once;
    /// otherwise it first looks for an EIP tagged with its UID.
    pub idempotent_allocation: bool,
    /// The binding target kinds this cloud accepts.
    pub binding_types: &'static [InstanceType],
    /// The target kinds this cloud binds through another resource, which
    /// [`CloudProvider::resolve_target`] looks up (OTC/Huawei: `EcsInstance`, through its port).
    pub resolved_types: &'static [InstanceType],
    /// Whether an unbind can be forced past a NAT gateway's SNAT/DNAT entries that use the
    /// address (Alibaba `Force`). Where it cannot, the entries must be deleted first.
    pub force_unbind: bool,
}

impl Capabilities {
    /// Whether a `target` of this kind is bound through another resource.
    pub fn resolves(&self, instance_type: InstanceType) -> bool {
        self.resolved_types.contains(&instance_type)
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            describe_batch: DESCRIBE_BATCH,
            idempotent_allocation: false,
            binding_types: &InstanceType::ALL,
            resolved_types: &[],
            force_unbind: true,
        }
    }
}

/// A cloud account in one region, as the reconciler sees it.
#[async_trait]
pub trait CloudProvider: Send + Sync + 'static {
    /// Short name for logs and metrics (`simulator`, `alibaba`, `otc`).
    fn name(&self) -> &str;

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// How long the cloud usually takes to finish `operation`: the first look after a call.
    fn expected_transition(&self, _operation: Operation) -> Duration {
        Duration::from_secs(1)
    }

    /// Describes the given EIPs. IDs the cloud does not know are absent from the result.
    /// Implementations split the IDs into batches of at most
    /// [`Capabilities::describe_batch`] ([`in_batches`]).
    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError>;

    /// EIPs tagged with [`crate::OWNER_TAG`] = `owner_uid` (finds an allocation a crash left
    /// unrecorded).
    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError>;

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError>;

    async fn associate(&self, allocation_id: &str, target: &BindTarget, client_token: &str) -> Result<Receipt, CloudError>;

    /// Undoes the binding the cloud reported, with the handle it reported it with.
    async fn unassociate(&self, request: &UnbindRequest) -> Result<Receipt, CloudError>;

    async fn release(&self, allocation_id: &str, client_token: &str) -> Result<Receipt, CloudError>;

    /// Sets `tags` on the EIP: added, or overwritten when the EIP has the key already. Tag writes
    /// are not compare-and-swap: of two writers of one key, the cloud keeps the last one's value.
    /// (Alibaba `TagResources`; OTC/Huawei `POST /v2.0/{project_id}/publicips/{id}/tags/action`
    /// with `create`.)
    async fn tag(&self, allocation_id: &str, tags: &BTreeMap<String, String>) -> Result<Receipt, CloudError>;

    /// What the cloud binds when asked to bind `target`, and reports bound afterwards. Most clouds
    /// bind what they are asked to (the default); Open Telekom Cloud / Huawei Cloud bind a server
    /// (`EcsInstance`) through its primary port, which this looks up. Called only for the kinds
    /// in [`Capabilities::resolved_types`].
    async fn resolve_target(&self, target: &BindTarget) -> Result<BindTarget, CloudError> {
        Ok(target.clone())
    }

    /// Removes the tags with these keys from the EIP; keys it does not carry are no error.
    /// (Alibaba `UnTagResources`; OTC/Huawei `…/tags/action` with `delete`.)
    async fn untag(&self, allocation_id: &str, keys: &[String]) -> Result<Receipt, CloudError>;

    /// One page of every EIP of the account and region: the first with `cursor` `None`, the next
    /// with the cursor the previous page returned, until a page returns none. The cursor is the
    /// provider's own (a page number, a marker) and opaque to callers. One call per page, so
    /// every page passes the hooks (a rate limit) on its own; [`list_all`] walks them. A
    /// provider that cannot list refuses (the default): a partial list would prove nothing.
    async fn list_page(&self, cursor: Option<&str>) -> Result<ListPage, CloudError> {
        let _ = cursor;
        Err(CloudError::terminal(
            Operation::List,
            crate::Blocker::Other,
            "ListNotSupported",
            format!("the {} provider cannot list the account's EIPs", self.name()),
        ))
    }
}

/// One page of an account's EIPs ([`CloudProvider::list_page`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub eips: Vec<CloudEip>,
    /// The cursor of the next page; `None` on the last one.
    pub next: Option<String>,
}

/// Pages [`list_all`] follows before giving up: 100,000 EIPs at 100 a page (a region holds
/// fewer; a walk longer than this is a cloud that does not end it).
pub const MAX_LIST_PAGES: usize = 1_000;

/// Every EIP of the account and region, page by page. Only a walk that ends properly is an
/// answer: an ID on two pages, a cursor that does not move or more than [`MAX_LIST_PAGES`]
/// pages is a retryable `InvalidResponse` (a partial list would claim the rest does not exist).
pub async fn list_all(provider: &dyn CloudProvider) -> Result<Vec<CloudEip>, CloudError> {
    let mut all: Vec<CloudEip> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_LIST_PAGES {
        let page = provider.list_page(cursor.as_deref()).await?;
        for eip in &page.eips {
            if !seen.insert(eip.allocation_id.clone()) {
                return Err(crate::http::invalid_response(
                    Operation::List,
                    format!("the EIP list names {} on two pages", eip.allocation_id),
                ));
            }
        }
        all.extend(page.eips);
        match page.next {
            None => return Ok(all),
            Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                return Err(crate::http::invalid_response(
                    Operation::List,
                    "the EIP list's cursor does not move",
                ));
            }
            Some(next) => cursor = Some(next),
        }
    }
    Err(CloudError::retryable(
        Operation::List,
        "TooManyPages",
        format!("the EIP list has more than {MAX_LIST_PAGES} pages; a partial list proves nothing"),
    ))
}

/// Describes `ids` in sequential batches of at most `batch` (at least one) IDs: the one place
/// Describe is chunked, for providers and layers alike.
pub async fn in_batches<F, Fut>(ids: &[String], batch: usize, mut describe: F) -> Result<Vec<CloudEip>, CloudError>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<CloudEip>, CloudError>>,
{
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(batch.max(1)) {
        found.extend(describe(chunk.to_vec()).await?);
    }
    Ok(found)
}
