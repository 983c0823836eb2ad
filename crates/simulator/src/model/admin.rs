//! Out-of-band changes and seeding: what a console, Terraform or billing does to a region, not
//! counted as provider calls.

use tokio::time::Instant;

use eip_cloud::{BindTarget, CloudEip, InstanceType, Transition};

use super::{AdminError, InstanceInfo, Region, SeedEip, check_tags, check_target, exclusive, instance_info, with_private_ip};
use crate::limits::{MAX_EIPS_PER_REGION, MAX_INSTANCES_PER_REGION};

impl Region {
    /// Adds instances (or sets their NAT entry count); refused as a whole when the region would
    /// hold more than [`MAX_INSTANCES_PER_REGION`].
    pub fn add_instances(&mut self, instance_type: InstanceType, ids: &[String], nat_entries: u32) -> Result<(), AdminError> {
        let new = ids
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .into_iter()
            .filter(|id| !self.instances.contains_key(&(instance_type, (*id).clone())))
            .count();
        // An OTC server brings its port.
        let new = if instance_type == InstanceType::EcsInstance && self.flavor == crate::config::Flavor::Otc {
            new.saturating_mul(2)
        } else {
            new
        };
        if self.instances.len().saturating_add(new) > MAX_INSTANCES_PER_REGION {
            return Err(AdminError::Invalid(format!(
                "region {} would hold {} instances; at most {MAX_INSTANCES_PER_REGION} are allowed",
                self.name,
                self.instances.len().saturating_add(new)
            )));
        }
        for id in ids {
            self.instances.entry((instance_type, id.clone())).or_default().nat_entries = nat_entries;
        }
        if instance_type == InstanceType::EcsInstance {
            self.add_server_ports();
        }
        Ok(())
    }

    /// Makes the next `answers` Describe answers naming `id` leave it out; returns `answers`.
    pub fn hide_from_describe(&mut self, now: Instant, id: &str, answers: u32) -> Result<u32, AdminError> {
        self.settle(now);
        let record = self.eips.get_mut(id).ok_or_else(|| AdminError::UnknownEip(id.to_owned()))?;
        record.hidden_answers = answers;
        Ok(answers)
    }

    pub fn set_nat_entries(&mut self, instance_id: &str, entries: u32) -> Result<InstanceInfo, AdminError> {
        let key = (InstanceType::Nat, instance_id.to_owned());
        let instance = self
            .instances
            .get_mut(&key)
            .ok_or_else(|| AdminError::UnknownInstance(instance_id.to_owned()))?;
        instance.nat_entries = entries;
        Ok(instance_info(&key, instance))
    }

    pub fn instances(&self) -> Vec<InstanceInfo> {
        let mut out: Vec<InstanceInfo> = self.instances.iter().map(|(key, instance)| instance_info(key, instance)).collect();
        out.sort_by(|a, b| (a.instance_type, &a.instance_id).cmp(&(b.instance_type, &b.instance_id)));
        out
    }

    pub fn seed_eip(&mut self, now: Instant, seed: SeedEip) -> Result<CloudEip, AdminError> {
        self.settle(now);
        if self.eips.len() >= MAX_EIPS_PER_REGION as usize {
            return Err(AdminError::Invalid(format!(
                "region {} already holds {MAX_EIPS_PER_REGION} EIPs, the most it can",
                self.name
            )));
        }
        check_tags(&seed.tags)?;
        if let Some(target) = &seed.bound_to {
            check_target(target)?;
        }
        let bound = match &seed.bound_to {
            Some(target) => {
                self.claim_for_admin(target, None)?;
                Some(with_private_ip(target))
            }
            None => None,
        };
        let id = self.insert_eip(seed.charge_type, seed.tags, seed.bandwidth_mbps);
        if let Some(target) = &bound {
            self.instances
                .entry((target.instance_type, target.instance_id.clone()))
                .or_default()
                .eips
                .insert(id.clone());
        }
        if let Some(record) = self.eips.get_mut(&id) {
            record.bound_to = bound;
            record.locked = seed.locked;
            record.deletion_protection = seed.deletion_protection;
        }
        self.eip(now, &id).ok_or(AdminError::UnknownEip(id))
    }

    /// Out-of-band unbind (console): immediate, cancels any transition except a release.
    pub fn oob_unbind(&mut self, now: Instant, id: &str) -> Result<CloudEip, AdminError> {
        self.oob_prepare(now, id)?;
        let old = self.eips.get_mut(id).and_then(|record| record.bound_to.take());
        if let Some(old) = old {
            self.release_holder(&old, id);
        }
        self.bump(id, |record| record.pending = None);
        self.eip(now, id).ok_or_else(|| AdminError::UnknownEip(id.to_owned()))
    }

    /// Out-of-band bind (console): immediate; unknown instances are created.
    pub fn oob_bind(&mut self, now: Instant, id: &str, target: &BindTarget) -> Result<CloudEip, AdminError> {
        check_target(target)?;
        self.oob_prepare(now, id)?;
        self.claim_for_admin(target, Some(id))?;
        let old = self.eips.get_mut(id).and_then(|record| record.bound_to.take());
        if let Some(old) = old {
            self.release_holder(&old, id);
        }
        self.instances
            .entry((target.instance_type, target.instance_id.clone()))
            .or_default()
            .eips
            .insert(id.to_owned());
        let bound = with_private_ip(target);
        self.bump(id, |record| {
            record.pending = None;
            record.bound_to = Some(bound);
        });
        self.eip(now, id).ok_or_else(|| AdminError::UnknownEip(id.to_owned()))
    }

    /// Out-of-band release (console, expired subscription): gone at once, whatever its state.
    pub fn oob_release(&mut self, now: Instant, id: &str) -> Result<(), AdminError> {
        self.settle(now);
        if !self.eips.contains_key(id) {
            return Err(AdminError::UnknownEip(id.to_owned()));
        }
        self.remove_eip(id);
        Ok(())
    }

    pub fn oob_lock(&mut self, now: Instant, id: &str, locked: bool) -> Result<CloudEip, AdminError> {
        self.settle(now);
        let record = self.eips.get_mut(id).ok_or_else(|| AdminError::UnknownEip(id.to_owned()))?;
        record.locked = locked;
        self.eip(now, id).ok_or_else(|| AdminError::UnknownEip(id.to_owned()))
    }

    fn oob_prepare(&mut self, now: Instant, id: &str) -> Result<(), AdminError> {
        self.settle(now);
        let record = self.eips.get(id).ok_or_else(|| AdminError::UnknownEip(id.to_owned()))?;
        if record.pending.is_some_and(|p| p.transition == Transition::Releasing) {
            return Err(AdminError::Conflict(format!("EIP {id} is being released")));
        }
        Ok(())
    }

    /// Admin binds create unknown instances but respect exclusivity (`except`: the EIP itself).
    fn claim_for_admin(&mut self, target: &BindTarget, except: Option<&str>) -> Result<(), AdminError> {
        let key = (target.instance_type, target.instance_id.clone());
        if !self.instances.contains_key(&key) && self.instances.len() >= MAX_INSTANCES_PER_REGION {
            return Err(AdminError::Invalid(format!(
                "region {} already holds {MAX_INSTANCES_PER_REGION} instances, the most it can",
                self.name
            )));
        }
        let instance = self
            .instances
            .entry((target.instance_type, target.instance_id.clone()))
            .or_default();
        if exclusive(target.instance_type)
            && let Some(holder) = instance.eips.iter().find(|holder| Some(holder.as_str()) != except)
        {
            return Err(AdminError::Conflict(format!("instance {target} already has EIP {holder}")));
        }
        Ok(())
    }
}
