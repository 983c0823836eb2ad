//! Tags written after allocation: Alibaba `TagResources` / `UnTagResources` and the OTC/Huawei
//! v2.0 tag API reach the model here (so do the in-process provider's `tag` / `untag`), and the
//! tags live with the EIP, whichever front end wrote them.
//!
//! Writes are not compare-and-swap, as on the real clouds: a key written again takes the new
//! value, so of two concurrent writers of one key the last one wins. A call naming several EIPs
//! changes nothing unless every one of them exists and can take the tags.

use std::collections::{BTreeMap, BTreeSet};

use super::{Ctx, Region, Reply, check_tags, receipt};
use crate::codes::Refusal;
use eip_cloud::{OWNER_TAG, Receipt};

/// Tags one EIP may carry through the tag APIs (both clouds document 20).
pub const TAGS_PER_EIP: usize = 20;

impl Region {
    /// Sets `tags` on every EIP of `ids` (added, or overwritten).
    pub fn tag(&mut self, ctx: &Ctx, ids: &[String], tags: &BTreeMap<String, String>) -> Result<Reply<Receipt>, Refusal> {
        self.settle(ctx.now);
        check_tags(tags)?;
        for id in ids {
            let record = self.eips.get(id).ok_or_else(|| Refusal::NotFound { allocation_id: id.clone() })?;
            let keys: BTreeSet<&String> = record.tags.keys().chain(tags.keys()).collect();
            if keys.len() > TAGS_PER_EIP {
                return Err(Refusal::TooManyTags { max: TAGS_PER_EIP });
            }
        }
        for id in ids {
            self.change_tags(id, |current| current.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone()))));
        }
        Ok(receipt(&ctx.request_id))
    }

    /// Removes the tags with `keys` from every EIP of `ids`; keys an EIP lacks are no error.
    pub fn untag(&mut self, ctx: &Ctx, ids: &[String], keys: &[String]) -> Result<Reply<Receipt>, Refusal> {
        self.settle(ctx.now);
        if let Some(id) = ids.iter().find(|id| !self.eips.contains_key(*id)) {
            return Err(Refusal::NotFound { allocation_id: id.clone() });
        }
        for id in ids {
            self.change_tags(id, |current| current.retain(|k, _| !keys.contains(k)));
        }
        Ok(receipt(&ctx.request_id))
    }

    /// Applies `change` to the EIP's tags and keeps the owner index in step with its owner tag.
    fn change_tags(&mut self, id: &str, change: impl FnOnce(&mut BTreeMap<String, String>)) {
        let Some(record) = self.eips.get_mut(id) else {
            return;
        };
        let before = record.tags.get(OWNER_TAG).cloned();
        change(&mut record.tags);
        let after = record.tags.get(OWNER_TAG).cloned();
        if before == after {
            return;
        }
        if let Some(owner) = before
            && let Some(owned) = self.owners.get_mut(&owner)
        {
            owned.remove(id);
            if owned.is_empty() {
                self.owners.remove(&owner);
            }
        }
        if let Some(owner) = after {
            self.owners.entry(owner).or_default().insert(id.to_owned());
        }
    }
}
