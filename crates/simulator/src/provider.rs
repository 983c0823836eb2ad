//! The in-process provider: a [`CloudProvider`] whose calls go straight to one region of a
//! [`Simulator`].

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;

use eip_cloud::{
    AllocateRequest, Allocated, BindTarget, Capabilities, CloudEip, CloudError, CloudProvider, ListPage, Operation, Receipt, UnbindRequest,
    in_batches,
};

use crate::{Flavor, Simulator};

/// EIPs per page of the in-process provider's list (Alibaba's largest `PageSize`).
pub const LIST_PAGE_SIZE: usize = 100;

/// A [`CloudProvider`] for one simulated region.
#[derive(Clone, Debug)]
pub struct SimulatorProvider {
    pub(crate) sim: Simulator,
    pub(crate) region: String,
    pub(crate) flavor: Flavor,
    /// Whether allocations carry their client token (Alibaba). Without it (OTC, Huawei and AWS
    /// take none) a retried allocation makes a second EIP, and crash safety rests on the owner
    /// lookup alone.
    pub(crate) allocation_tokens: bool,
}

impl SimulatorProvider {
    /// This provider, allocating without client tokens, like the clouds that take none.
    pub fn without_allocation_tokens(mut self) -> Self {
        self.allocation_tokens = false;
        self
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }
}

#[async_trait]
impl CloudProvider for SimulatorProvider {
    fn name(&self) -> &str {
        "simulator"
    }

    /// Client tokens make allocation idempotent, as on Alibaba Cloud (unless turned off).
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            idempotent_allocation: self.allocation_tokens,
            ..Capabilities::default()
        }
    }

    fn expected_transition(&self, operation: Operation) -> Duration {
        let latencies = self.sim.latencies();
        match operation {
            Operation::Allocate => latencies.allocate,
            Operation::Associate => latencies.associate,
            Operation::Unassociate => latencies.unassociate,
            Operation::Release => latencies.release,
            // Tags change at once.
            Operation::Describe
            | Operation::FindByOwner
            | Operation::Tag
            | Operation::Untag
            | Operation::ResolveTarget
            | Operation::List => Duration::ZERO,
        }
    }

    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let found = in_batches(allocation_ids, self.capabilities().describe_batch, |batch| {
            self.sim
                .call(&self.region, Operation::Describe, batch.clone(), "", move |region, ctx| {
                    Ok(region.describe_answer(ctx, &batch))
                })
        })
        .await?;
        // An ID named in two batches is answered twice: keep the first.
        let mut seen = HashSet::new();
        Ok(found.into_iter().filter(|eip| seen.insert(eip.allocation_id.clone())).collect())
    }

    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError> {
        self.sim
            .call(&self.region, Operation::FindByOwner, Vec::new(), "", |region, ctx| {
                Ok(region.find_by_owner(ctx, owner_uid))
            })
            .await
    }

    /// Pages of [`LIST_PAGE_SIZE`] EIPs in allocation-ID order; the cursor is the last ID of the
    /// previous page.
    async fn list_page(&self, cursor: Option<&str>) -> Result<ListPage, CloudError> {
        let (eips, more) = self
            .sim
            .call(&self.region, Operation::List, Vec::new(), "", |region, ctx| {
                Ok(region.list_page(ctx, cursor, LIST_PAGE_SIZE))
            })
            .await?;
        let next = if more { eips.last().map(|e| e.allocation_id.clone()) } else { None };
        Ok(ListPage { eips, next })
    }

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError> {
        let mut request = request.clone();
        if !self.allocation_tokens {
            request.client_token.clear();
        }
        let token = request.client_token.clone();
        let token = token.as_str();
        self.sim
            .call(&self.region, Operation::Allocate, Vec::new(), token, |region, ctx| {
                region.allocate(ctx, &request)
            })
            .await
    }

    async fn associate(&self, allocation_id: &str, target: &BindTarget, client_token: &str) -> Result<Receipt, CloudError> {
        self.sim
            .call(
                &self.region,
                Operation::Associate,
                vec![allocation_id.to_owned()],
                client_token,
                |region, ctx| region.associate(ctx, allocation_id, target, client_token),
            )
            .await
    }

    async fn unassociate(&self, request: &UnbindRequest) -> Result<Receipt, CloudError> {
        let (allocation_id, current, force) = (request.allocation_id.as_str(), &request.current, request.force);
        let client_token = request.client_token.as_str();
        self.sim
            .call(
                &self.region,
                Operation::Unassociate,
                vec![allocation_id.to_owned()],
                client_token,
                |region, ctx| region.unassociate(ctx, allocation_id, current, force, client_token),
            )
            .await
    }

    async fn release(&self, allocation_id: &str, client_token: &str) -> Result<Receipt, CloudError> {
        self.sim
            .call(
                &self.region,
                Operation::Release,
                vec![allocation_id.to_owned()],
                client_token,
                |region, ctx| region.release(ctx, allocation_id, client_token),
            )
            .await
    }

    async fn tag(&self, allocation_id: &str, tags: &BTreeMap<String, String>) -> Result<Receipt, CloudError> {
        let ids = vec![allocation_id.to_owned()];
        self.sim
            .call(&self.region, Operation::Tag, ids.clone(), "", |region, ctx| {
                region.tag(ctx, &ids, tags)
            })
            .await
    }

    async fn untag(&self, allocation_id: &str, keys: &[String]) -> Result<Receipt, CloudError> {
        let ids = vec![allocation_id.to_owned()];
        self.sim
            .call(&self.region, Operation::Untag, ids.clone(), "", |region, ctx| {
                region.untag(ctx, &ids, keys)
            })
            .await
    }
}
