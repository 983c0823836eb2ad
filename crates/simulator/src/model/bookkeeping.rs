//! Idempotency records (client tokens) and the EIP table's bookkeeping: insertion, removal,
//! instance holders, IDs and addresses.

use std::collections::BTreeMap;

use rand::Rng;

use super::lifecycle::Call;
use super::{BLOCKS_PER_REGION, EipRecord, IPS_PER_BLOCK, OpToken, Region, Reply, format_uuid, receipt};
use crate::codes::Refusal;
use crate::config::Flavor;
use eip_cloud::{BindTarget, ChargeType, OWNER_TAG, Operation, Receipt};

impl Region {
    // ----- idempotency -----

    /// The original receipt when `client_token` was used for this very request and the EIP has
    /// not changed hands since; a mismatch error when it was used for something else.
    pub(super) fn replay(&self, call: &Call<'_>) -> Result<Option<Reply<Receipt>>, Refusal> {
        if call.client_token.is_empty() {
            return Ok(None);
        }
        let Some(token) = self.op_tokens.get(&(call.operation, call.client_token.to_owned())) else {
            return Ok(None);
        };
        let live = self
            .eips
            .get(&token.allocation_id)
            .is_some_and(|record| record.epoch == token.epoch);
        if !live {
            return Ok(None);
        }
        if token.fingerprint != call.fingerprint {
            return Err(Refusal::TokenMismatch {
                client_token: call.client_token.to_owned(),
            });
        }
        Ok(Some(receipt(&token.request_id)))
    }

    /// Keeps the receipt of `call` (in `epoch`) for replays of its client token.
    pub(super) fn remember(&mut self, call: Call<'_>, epoch: u64, request_id: &str) {
        if call.client_token.is_empty() {
            return;
        }
        let id = call.id;
        let key = (call.operation, call.client_token.to_owned());
        let token = OpToken {
            allocation_id: id.to_owned(),
            epoch,
            fingerprint: call.fingerprint,
            request_id: request_id.to_owned(),
        };
        if let Some(previous) = self.op_tokens.insert(key.clone(), token)
            && previous.allocation_id != id
            && let Some(other) = self.eips.get_mut(&previous.allocation_id)
        {
            other.tokens.retain(|k| *k != key);
        }
        if let Some(record) = self.eips.get_mut(id) {
            // Tokens of older epochs can never replay again: drop them, so an EIP bound and
            // unbound forever with fresh tokens keeps a bounded list.
            let op_tokens = &mut self.op_tokens;
            record.tokens.retain(|k| {
                if k.0 == Operation::Allocate || *k == key {
                    return true;
                }
                let ours = op_tokens.get(k).is_some_and(|t| t.allocation_id == id);
                let live = ours && op_tokens.get(k).is_some_and(|t| t.epoch == epoch);
                if ours && !live {
                    op_tokens.remove(k);
                }
                live
            });
            if !record.tokens.contains(&key) {
                record.tokens.push(key);
            }
        }
    }

    /// Applies `change` to the EIP and starts a new epoch; returns it.
    pub(super) fn bump(&mut self, id: &str, change: impl FnOnce(&mut EipRecord)) -> u64 {
        match self.eips.get_mut(id) {
            Some(record) => {
                change(record);
                record.epoch = record.epoch.wrapping_add(1);
                record.epoch
            }
            None => 0,
        }
    }

    // ----- bookkeeping -----

    pub(super) fn insert_eip(&mut self, charge_type: ChargeType, tags: BTreeMap<String, String>, bandwidth_mbps: Option<u32>) -> String {
        let id = self.new_allocation_id();
        let ip = self.new_ip();
        self.created += 1;
        if let Some(owner) = tags.get(OWNER_TAG) {
            self.owners.entry(owner.clone()).or_default().insert(id.clone());
        }
        let record = EipRecord {
            id: id.clone(),
            ip,
            created: self.created,
            created_at: jiff::Timestamp::now(),
            bound_to: None,
            pending: None,
            charge_type,
            locked: false,
            deletion_protection: false,
            tags,
            bandwidth_mbps,
            epoch: 0,
            tokens: Vec::new(),
            hidden_answers: 0,
        };
        self.eips.insert(id.clone(), record);
        id
    }

    pub(super) fn remove_eip(&mut self, id: &str) {
        let Some(record) = self.eips.remove(id) else {
            return;
        };
        if let Some(owner) = record.tags.get(OWNER_TAG)
            && let Some(ids) = self.owners.get_mut(owner)
        {
            ids.remove(id);
            if ids.is_empty() {
                self.owners.remove(owner);
            }
        }
        if let Some(bound_to) = &record.bound_to {
            self.release_holder(bound_to, id);
        }
        for (operation, token) in record.tokens {
            if operation == Operation::Allocate {
                if self.allocate_tokens.get(&token).is_some_and(|t| t.allocation_id == id) {
                    self.allocate_tokens.remove(&token);
                }
            } else {
                let key = (operation, token);
                if self.op_tokens.get(&key).is_some_and(|t| t.allocation_id == id) {
                    self.op_tokens.remove(&key);
                }
            }
        }
    }

    pub(super) fn release_holder(&mut self, target: &BindTarget, id: &str) {
        let key = (target.instance_type, target.instance_id.clone());
        if let Some(instance) = self.instances.get_mut(&key) {
            instance.eips.remove(id);
        }
    }

    pub(super) fn new_allocation_id(&mut self) -> String {
        loop {
            let id = match self.flavor {
                Flavor::Alibaba => {
                    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
                    let suffix: String = (0..20)
                        .map(|_| char::from(ALPHABET[self.rng.random_range(0..ALPHABET.len())]))
                        .collect();
                    format!("eip-{suffix}")
                }
                Flavor::Otc => format_uuid(self.rng.random(), false),
                Flavor::Aws => format!("eipalloc-{:017x}", self.rng.random::<u64>()),
            };
            if !self.eips.contains_key(&id) {
                return id;
            }
        }
    }

    /// Unique within the region for over a million allocations; never reused.
    pub(super) fn new_ip(&mut self) -> String {
        let k = self.ip_offset + self.created;
        let (first, second) = self.ip_base;
        let second = (second + (k / IPS_PER_BLOCK) % BLOCKS_PER_REGION) % 256;
        let within = k % IPS_PER_BLOCK;
        format!("{first}.{second}.{}.{}", within / 254, 1 + within % 254)
    }
}
