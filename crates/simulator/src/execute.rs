//! How one provider call runs: the injected latency, then the token bucket of its region and
//! operation, the seeded fault, the model's answer, and the call log and counters.

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use eip_cloud::{CloudEip, CloudError, Operation, Transition};

use crate::codes::{self, Refusal};
use crate::faults::{self, FaultKind, WireFault};
use crate::limits::{self, MAX_EIPS_PER_REGION};
use crate::model::{self, Ctx, Region, Reply};
use crate::{CallOutcome, CallRecord, Flavor, Inner, Simulator};

/// Token bucket in integer nano-tokens, so a paused clock advanced by exactly `retry_after`
/// always yields a whole token (no float rounding).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokenBucket {
    credit: u128,
    last: Instant,
}

const TOKEN: u128 = 1_000_000_000;

impl TokenBucket {
    pub(crate) fn full(rate: u32, now: Instant) -> Self {
        TokenBucket {
            credit: u128::from(rate) * TOKEN,
            last: now,
        }
    }

    /// Takes one token, or says how long until one is available.
    pub(crate) fn try_take(&mut self, rate: u32, now: Instant) -> Result<(), Duration> {
        if rate == 0 {
            return Err(Duration::from_secs(1));
        }
        let rate = u128::from(rate);
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        self.credit = self.credit.saturating_add(elapsed.saturating_mul(rate)).min(rate * TOKEN);
        self.last = now;
        if self.credit >= TOKEN {
            self.credit -= TOKEN;
            return Ok(());
        }
        let wait_nanos = (TOKEN - self.credit).div_ceil(rate);
        Err(Duration::from_nanos(u64::try_from(wait_nanos).unwrap_or(u64::MAX)))
    }
}

impl Simulator {
    /// One logged call of a wire front end's list: the EIPs `ids` names, as a Describe answer
    /// ([`Simulator::hide_from_describe`] applies), or, without IDs, every EIP of the region;
    /// with the call's request ID.
    pub(crate) async fn list(&self, region: &str, operation: Operation, ids: Vec<String>) -> Result<(Vec<CloudEip>, String), CloudError> {
        self.call(region, operation, ids.clone(), "", move |region, ctx| {
            let eips = if ids.is_empty() {
                region.all(ctx.now)
            } else {
                region.describe_answer(ctx, &ids).value
            };
            Ok(Reply::new((eips, ctx.request_id.clone()), ctx))
        })
        .await
    }

    /// One counted call: optional injected latency, then rate limit, fault, and `body`, logged;
    /// then what a fault after the model does to the answer (see [`crate::faults`]).
    pub(crate) async fn call<T>(
        &self,
        region: &str,
        operation: Operation,
        allocation_ids: Vec<String>,
        client_token: &str,
        body: impl FnOnce(&mut Region, &Ctx) -> Result<Reply<T>, Refusal> + Send,
    ) -> Result<T, CloudError> {
        let faults = self.lock().config.faults.clamped();
        if !faults.extra_latency.is_zero() {
            tokio::time::sleep(faults.extra_latency).await;
        }
        let (result, fault) = self.lock().execute(region, operation, allocation_ids, client_token, body);
        match fault {
            Some(FaultKind::Slow) => faults::slow(faults.slow).await,
            Some(FaultKind::Reset) => faults::strike(WireFault::Reset, operation)?,
            Some(FaultKind::Timeout) => faults::strike(WireFault::Timeout { hang: faults.hang }, operation)?,
            Some(FaultKind::Malformed) => faults::strike(WireFault::Malformed, operation)?,
            Some(FaultKind::Unavailable | FaultKind::Throttled | FaultKind::Busy) | None => {}
        }
        result
    }
}

impl Inner {
    fn execute<T>(
        &mut self,
        region_name: &str,
        operation: Operation,
        allocation_ids: Vec<String>,
        client_token: &str,
        body: impl FnOnce(&mut Region, &Ctx) -> Result<Reply<T>, Refusal>,
    ) -> (Result<T, CloudError>, Option<FaultKind>) {
        let now = Instant::now();
        self.last_seq = self.last_seq.saturating_add(1);
        let seq = self.last_seq;
        let Some(region) = self.regions.get_mut(region_name) else {
            // Providers exist only for known regions and regions are never removed.
            let unknown = CloudError::terminal(
                operation,
                eip_cloud::Blocker::Other,
                "UnknownRegion",
                format!("unknown region {region_name}"),
            );
            return (Err(unknown), None);
        };
        let flavor = region.flavor;
        let ctx = Ctx {
            now,
            latencies: self.config.latencies.clamped(),
            quota: self.config.eip_quota_per_region.min(MAX_EIPS_PER_REGION),
            auto_create_instances: self.config.auto_create_instances,
            request_id: request_id(self.config.seed, seq, flavor),
        };

        // Drawn for every call so the fault pattern depends only on the seed and call sequence.
        let faulted = self.fault_rng.random::<f64>() < self.config.faults.effective_error_rate();
        let mix = self.config.faults.mix;
        let mut fault = faulted.then(|| mix.single().unwrap_or_else(|| mix.pick(self.fault_rng.random())));
        let limits = self
            .config
            .regions
            .iter()
            .find(|r| r.name == region_name)
            .and_then(|r| r.rate_limits.as_ref())
            .unwrap_or(&self.config.rate_limits);
        let throttle = match limits.for_operation(operation) {
            Some(rate) => self
                .buckets
                .entry((region_name.to_owned(), operation))
                .or_insert_with(|| TokenBucket::full(rate, now))
                .try_take(rate, now)
                .err(),
            None => None,
        };
        if throttle.is_some() {
            // The quota refused the call before any fault could strike.
            fault = None;
        }
        let result = match (throttle, fault) {
            (Some(retry_after), _) => Err(Refusal::Throttled { retry_after }),
            (None, Some(FaultKind::Unavailable | FaultKind::Reset)) => Err(Refusal::Unavailable),
            (None, Some(FaultKind::Throttled)) => Err(Refusal::Throttled {
                retry_after: Duration::from_secs(1),
            }),
            (None, Some(FaultKind::Busy)) => Err(Refusal::Busy {
                transition: Transition::Updating,
            }),
            (None, Some(FaultKind::Slow | FaultKind::Timeout | FaultKind::Malformed) | None) => body(region, &ctx),
        };

        let (outcome, logged_request_id, logged_ids) = match &result {
            Ok(reply) => (
                CallOutcome::Ok,
                reply.request_id.clone(),
                reply.created_ids.clone().unwrap_or(allocation_ids),
            ),
            Err(_) => (CallOutcome::Error, ctx.request_id.clone(), allocation_ids),
        };
        let result = result
            .map(|reply| reply.value)
            .map_err(|refusal| codes::cloud_error(flavor, operation, refusal).with_request_id(ctx.request_id.clone()));
        let code = result.as_ref().err().map(|e| e.code.clone());

        tracing::trace!(seq, region = region_name, %operation, outcome = outcome.as_str(), code = code.as_deref(), "simulator call");
        let count = self.counters.entry((operation, outcome, code.clone(), fault)).or_default();
        *count = count.saturating_add(1);
        self.calls.push(CallRecord {
            seq,
            at_ms: u64::try_from(now.saturating_duration_since(self.started).as_millis()).unwrap_or(u64::MAX),
            region: limits::bounded(region_name),
            operation,
            allocation_ids: logged_ids,
            client_token: (!client_token.is_empty()).then(|| limits::bounded(client_token)),
            outcome,
            code,
            request_id: logged_request_id,
            fault,
        });
        (result, fault)
    }
}

/// Deterministic, unique request IDs: Alibaba's are upper-case UUIDs, OTC's lower-case.
fn request_id(seed: u64, seq: u64, flavor: Flavor) -> String {
    let high = u128::from(model::fnv64(&(seed ^ seq.rotate_left(17)).to_le_bytes()));
    // The low 48 bits carry the sequence number, which makes them unique.
    let bits = (high << 64) | (u128::from(seed & 0xffff) << 48) | u128::from(seq & 0xffff_ffff_ffff);
    model::format_uuid(bits, flavor == Flavor::Alibaba)
}
