//! The provider calls on a region: the reads, and the state machines of the four mutating
//! calls (allocate, associate, unassociate, release) with their lazy transitions.
//!
//! A mutating call on an existing EIP is admitted first ([`Region::admit`]: the EIP exists, the
//! request is not a replay, the EIP is neither locked nor transitional), then checks what is
//! particular to it, then commits ([`Region::commit`]: a new epoch, the client token remembered,
//! the transition started).

use std::cmp::Reverse;
use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;

use eip_cloud::{AllocateRequest, Allocated, BindTarget, ChargeType, CloudEip, InstanceType, Operation, Receipt, Transition};

use super::{
    AllocateToken, Ctx, EipRecord, Pending, Region, Reply, check_tags, check_target, check_token, exclusive, receipt, with_private_ip,
};
use crate::codes::Refusal;
use crate::config::Flavor;
use crate::limits::{MAX_EIPS_PER_REGION, MAX_INSTANCES_PER_REGION, MAX_LATENCY};

/// A mutating call on an existing EIP, as its idempotency record knows it.
pub(super) struct Call<'a> {
    pub operation: Operation,
    pub id: &'a str,
    pub client_token: &'a str,
    /// What makes a repeated request the same request: the EIP and the parameters.
    pub fingerprint: String,
}

impl<'a> Call<'a> {
    fn new(operation: Operation, id: &'a str, client_token: &'a str, fingerprint: String) -> Self {
        Call {
            operation,
            id,
            client_token,
            fingerprint,
        }
    }
}

/// What a mutating call on an existing EIP meets first.
enum Admit<'a> {
    /// The same request again, with the same client token: its original receipt.
    Replay(Reply<Receipt>),
    /// A new request, on this EIP.
    Fresh(&'a EipRecord),
}

/// A fresh or replayed allocation of `eip`.
fn allocated(eip: CloudEip, request_id: &str) -> Reply<Allocated> {
    let created_ids = Some(vec![eip.allocation_id.clone()]);
    Reply {
        value: Allocated {
            eip,
            receipt: Receipt {
                request_id: request_id.to_owned(),
            },
        },
        request_id: request_id.to_owned(),
        created_ids,
    }
}

impl Region {
    // ----- time -----

    /// Completes every transition due by `now`.
    pub fn settle(&mut self, now: Instant) {
        while let Some(Reverse((at, key, _))) = self.due.peek() {
            if *at > now {
                break;
            }
            let key = *key;
            let Some(Reverse((_, _, id))) = self.due.pop() else {
                break;
            };
            let transition = match self.eips.get_mut(&id) {
                Some(record) if record.pending.is_some_and(|p| p.key == key) => record.pending.take().map(|p| p.transition),
                _ => None, // cancelled or superseded
            };
            if let Some(transition) = transition {
                self.complete(&id, transition);
            }
        }
    }

    /// Puts `id` into `transition` for `latency`, or completes it at once for zero latency.
    /// AWS completes every call within it (EC2 has no transitional address states).
    pub(super) fn start(&mut self, id: &str, transition: Transition, latency: Duration, now: Instant) {
        if latency.is_zero() || self.flavor == Flavor::Aws {
            self.complete(id, transition);
            return;
        }
        self.next_key = self.next_key.wrapping_add(1);
        let key = self.next_key;
        if let Some(record) = self.eips.get_mut(id) {
            record.pending = Some(Pending { transition, key });
            // Latencies are clamped; even so, a far-future instant must not overflow.
            let at = now.checked_add(latency.min(MAX_LATENCY)).unwrap_or(now);
            self.due.push(Reverse((at, key, id.to_owned())));
        }
    }

    pub(super) fn complete(&mut self, id: &str, transition: Transition) {
        match transition {
            Transition::Allocating | Transition::Associating | Transition::Updating => {
                if let Some(record) = self.eips.get_mut(id) {
                    record.pending = None;
                }
            }
            Transition::Unassociating => {
                let old = self.eips.get_mut(id).and_then(|record| {
                    record.pending = None;
                    record.bound_to.take()
                });
                if let Some(old) = old {
                    self.release_holder(&old, id);
                }
            }
            Transition::Releasing => self.remove_eip(id),
        }
    }

    // ----- reads -----

    /// A Describe answer: [`Region::describe`] without the EIPs hidden by
    /// [`Region::hide_from_describe`], each of which uses up one hidden answer.
    pub fn describe_answer(&mut self, ctx: &Ctx, ids: &[String]) -> Reply<Vec<CloudEip>> {
        let mut reply = self.describe(ctx, ids);
        reply.value.retain(|eip| match self.eips.get_mut(&eip.allocation_id) {
            Some(record) if record.hidden_answers > 0 => {
                record.hidden_answers -= 1;
                false
            }
            _ => true,
        });
        reply
    }

    /// Known EIPs among `ids`, in request order, each once.
    pub fn describe(&mut self, ctx: &Ctx, ids: &[String]) -> Reply<Vec<CloudEip>> {
        self.settle(ctx.now);
        let mut seen = HashSet::new();
        let found = ids
            .iter()
            .filter(|id| seen.insert(id.as_str()))
            .filter_map(|id| self.eips.get(id))
            .map(|record| self.render(record))
            .collect();
        Reply::new(found, ctx)
    }

    pub fn find_by_owner(&mut self, ctx: &Ctx, owner_uid: &str) -> Reply<Vec<CloudEip>> {
        self.settle(ctx.now);
        let mut records: Vec<&EipRecord> = self
            .owners
            .get(owner_uid)
            .into_iter()
            .flatten()
            .filter_map(|id| self.eips.get(id))
            .collect();
        records.sort_by_key(|record| record.created);
        Reply::new(records.into_iter().map(|record| self.render(record)).collect(), ctx)
    }

    /// Up to `limit` EIPs with IDs after `after`, in ID order, and whether more follow.
    pub fn list_page(&mut self, ctx: &Ctx, after: Option<&str>, limit: usize) -> Reply<(Vec<CloudEip>, bool)> {
        self.settle(ctx.now);
        let mut ids: Vec<&String> = self.eips.keys().filter(|id| after.is_none_or(|a| id.as_str() > a)).collect();
        ids.sort();
        let more = ids.len() > limit;
        let page = ids
            .into_iter()
            .take(limit)
            .filter_map(|id| self.eips.get(id))
            .map(|record| self.render(record))
            .collect();
        Reply::new((page, more), ctx)
    }

    // ----- mutating calls -----

    pub fn allocate(&mut self, ctx: &Ctx, request: &AllocateRequest) -> Result<Reply<Allocated>, Refusal> {
        self.settle(ctx.now);
        if let Some(token) = self.allocate_tokens.get(&request.client_token)
            && let Some(record) = self.eips.get(&token.allocation_id)
        {
            // Tokens of released EIPs were dropped with them, so this one is live.
            if token.request != *request {
                return Err(Refusal::TokenMismatch {
                    client_token: request.client_token.clone(),
                });
            }
            return Ok(allocated(self.render(record), &token.request_id));
        }
        if let Some(bandwidth) = request.bandwidth_mbps
            && !(1..=1000).contains(&bandwidth)
        {
            return Err(Refusal::InvalidParameter(format!(
                "Bandwidth {bandwidth} is out of range 1-1000 Mbit/s."
            )));
        }
        check_token(&request.client_token)?;
        check_tags(&request.tags)?;
        if self.eips.len() >= ctx.quota.min(MAX_EIPS_PER_REGION) as usize {
            return Err(Refusal::QuotaExceeded { quota: ctx.quota });
        }
        let id = self.insert_eip(request.charge_type, request.tags.clone(), Some(request.bandwidth_mbps.unwrap_or(5)));
        if !request.client_token.is_empty() {
            self.allocate_tokens.insert(
                request.client_token.clone(),
                AllocateToken {
                    request: request.clone(),
                    allocation_id: id.clone(),
                    request_id: ctx.request_id.clone(),
                },
            );
            if let Some(record) = self.eips.get_mut(&id) {
                record.tokens.push((Operation::Allocate, request.client_token.clone()));
            }
        }
        // Alibaba allocates synchronously (`Available` at once); OTC goes through PENDING_CREATE.
        if self.flavor == Flavor::Otc {
            self.start(&id, Transition::Allocating, ctx.latencies.allocate, ctx.now);
        }
        let eip = self.eip(ctx.now, &id).ok_or(Refusal::NotFound { allocation_id: id })?;
        Ok(allocated(eip, &ctx.request_id))
    }

    pub fn associate(&mut self, ctx: &Ctx, id: &str, target: &BindTarget, client_token: &str) -> Result<Reply<Receipt>, Refusal> {
        check_token(client_token)?;
        check_target(target)?;
        let call = Call::new(Operation::Associate, id, client_token, format!("{id}|{target:?}"));
        let record = match self.admit(ctx, &call)? {
            Admit::Replay(reply) => return Ok(reply),
            Admit::Fresh(record) => record,
        };
        if let Some(bound_to) = &record.bound_to {
            return Err(Refusal::AlreadyBound {
                bound_to: bound_to.clone(),
            });
        }
        let key = (target.instance_type, target.instance_id.clone());
        match self.instances.get(&key) {
            // Created on the fly, as long as the region has room for another instance.
            None if (target.instance_type == InstanceType::IpAddress || ctx.auto_create_instances)
                && self.instances.len() < MAX_INSTANCES_PER_REGION => {}
            None => {
                return Err(Refusal::UnknownInstance { target: target.clone() });
            }
            Some(instance) => {
                if exclusive(target.instance_type)
                    && let Some(holder) = instance.eips.iter().next()
                {
                    return Err(Refusal::InstanceHasEip {
                        target: target.clone(),
                        holder: holder.clone(),
                    });
                }
            }
        }
        let bound = with_private_ip(target);
        self.instances.entry(key).or_default().eips.insert(id.to_owned());
        Ok(self.commit(ctx, call, Transition::Associating, ctx.latencies.associate, |record| {
            record.bound_to = Some(bound);
        }))
    }

    pub fn unassociate(
        &mut self,
        ctx: &Ctx,
        id: &str,
        current: &BindTarget,
        force: bool,
        client_token: &str,
    ) -> Result<Reply<Receipt>, Refusal> {
        check_token(client_token)?;
        check_target(current)?;
        let call = Call::new(Operation::Unassociate, id, client_token, format!("{id}|{current:?}|{force}"));
        let (bound_to, epoch) = match self.admit(ctx, &call)? {
            Admit::Replay(reply) => return Ok(reply),
            Admit::Fresh(record) => (record.bound_to.clone(), record.epoch),
        };
        let Some(actual) = bound_to else {
            return match self.flavor {
                Flavor::Alibaba | Flavor::Aws => Err(Refusal::NotBound),
                // OTC: a blank port on an unbound EIP is accepted and changes nothing.
                Flavor::Otc => {
                    self.remember(call, epoch, &ctx.request_id);
                    Ok(receipt(&ctx.request_id))
                }
            };
        };
        // Alibaba's call names the instance; OTC's v1 unbind just blanks whatever port is set.
        if self.flavor != Flavor::Otc && !actual.satisfies(current) {
            return Err(Refusal::BindingMismatch {
                current: current.clone(),
                actual,
            });
        }
        if actual.instance_type == InstanceType::Nat && !force {
            let entries = self
                .instances
                .get(&(InstanceType::Nat, actual.instance_id.clone()))
                .map_or(0, |nat| nat.nat_entries);
            if entries > 0 {
                return Err(Refusal::NatEntries {
                    nat_gateway: actual.instance_id,
                    entries,
                });
            }
        }
        Ok(self.commit(ctx, call, Transition::Unassociating, ctx.latencies.unassociate, |_| {}))
    }

    pub fn release(&mut self, ctx: &Ctx, id: &str, client_token: &str) -> Result<Reply<Receipt>, Refusal> {
        check_token(client_token)?;
        let call = Call::new(Operation::Release, id, client_token, id.to_owned());
        let record = match self.admit(ctx, &call)? {
            Admit::Replay(reply) => return Ok(reply),
            Admit::Fresh(record) => record,
        };
        // Permanent blockers first: they tell the user more than "bound" does.
        if record.charge_type == ChargeType::PrePaid {
            return Err(Refusal::Prepaid);
        }
        if record.deletion_protection {
            return Err(Refusal::DeletionProtection);
        }
        if let Some(bound_to) = &record.bound_to {
            return Err(Refusal::ReleaseWhileBound {
                bound_to: bound_to.clone(),
            });
        }
        Ok(self.commit(ctx, call, Transition::Releasing, ctx.latencies.release, |_| {}))
    }

    /// Settles, finds the EIP of `call` and, unless `call` repeats a request made with its client
    /// token, refuses a locked or transitional EIP.
    fn admit(&mut self, ctx: &Ctx, call: &Call<'_>) -> Result<Admit<'_>, Refusal> {
        self.settle(ctx.now);
        let record = self.eips.get(call.id).ok_or_else(|| Refusal::NotFound {
            allocation_id: call.id.to_owned(),
        })?;
        if let Some(replay) = self.replay(call)? {
            return Ok(Admit::Replay(replay));
        }
        if record.locked {
            return Err(Refusal::Locked);
        }
        if let Some(pending) = record.pending {
            return Err(Refusal::Busy {
                transition: pending.transition,
            });
        }
        Ok(Admit::Fresh(record))
    }

    /// Applies `change` to the EIP in a new epoch, remembers the client token and puts the EIP
    /// into `transition` for `latency`; the receipt.
    fn commit(
        &mut self,
        ctx: &Ctx,
        call: Call<'_>,
        transition: Transition,
        latency: Duration,
        change: impl FnOnce(&mut EipRecord),
    ) -> Reply<Receipt> {
        let id = call.id;
        let epoch = self.bump(id, change);
        self.remember(call, epoch, &ctx.request_id);
        self.start(id, transition, latency, ctx.now);
        receipt(&ctx.request_id)
    }
}
