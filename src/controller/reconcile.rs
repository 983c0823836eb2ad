//! The reconciler's I/O: observe the cloud, ask [`decide`] what to do, execute that one step
//! (the cloud calls themselves are in `cloud_calls`), then write the status, publish Events and
//! pick the requeue delay.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{debug, info, warn};

use super::finalizer::{add_finalizer, let_go_event, remove_finalizer};
use super::writes::write_status;

pub use super::cloud_calls::client_token;
use super::cloud_calls::{execute, expected_transition, observe};
use super::decide::{CloudView, Inputs, Step, decide, lets_go_despite};
use super::events::{EventPublisher, EventType};
pub use super::paused::is_paused;
use super::providers::{Providers, ResolveError};
use super::references::resolve_binding;
use super::status::{self, Outcome, StatusInputs, Unobserved};
use super::timing::Timing;
use crate::telemetry::metrics::Metrics;
use eip_api::{DeletionPolicy, ElasticIP, ElasticIPStatus, FINALIZER};
use eip_cloud::{CloudEip, CloudError, ErrorClass};

/// How long an allocation's answer stands in for a Describe.
const FRESH_FOR: Duration = Duration::from_secs(5);
/// How long the operator waits for the watch to deliver its own status write before it trusts
/// the cache again (someone else may have changed the status).
const STALE_FOR: Duration = Duration::from_secs(5);
/// Reconciles at once unless [`Context::with_concurrency`] says otherwise (`--concurrency`).
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Field manager of the operator's writes.
pub const MANAGER: &str = "eip-operator";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("object has no {0}")]
    MissingField(&'static str),
    #[error("cannot serialize: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// Shared state of the reconcilers.
pub struct Context {
    pub client: Client,
    pub providers: Providers,
    pub recorder: EventPublisher,
    pub timing: Timing,
    pub metrics: Arc<Metrics>,
    /// This cluster's ID, written with the owner tags ([`eip_cloud::CLUSTER_TAG`]) when known.
    pub cluster_id: Option<String>,
    /// Consecutive retryable failures per object UID, for backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// Reconciles that may run at once, granted first come, first served (tokio's semaphore is
    /// fair). kube's own concurrency limit keeps the objects waiting for a slot in a hash set and
    /// serves them in its iteration order: saturated, with short requeues churning, it starved
    /// some objects for minutes (found by the chaos soak, seed 2, N = 1,000).
    pub(crate) slots: Arc<tokio::sync::Semaphore>,
    /// Consecutive reconciles per object UID that failed on the Kubernetes API, for their own
    /// backoff: an API server outage must not lengthen the next cloud retry's backoff.
    kube_failures: Mutex<HashMap<String, u32>>,
    /// Consecutive stalled reconciles per object UID, for the slowing stalled resync.
    stalls: Mutex<HashMap<String, u32>>,
    /// EIPs as an allocation just returned them, by object UID: the next reconcile uses this
    /// instead of describing the EIP again.
    fresh: Mutex<HashMap<String, (std::time::Instant, CloudEip)>>,
    /// The fingerprint of the status each object was last written with, and when.
    written: Mutex<HashMap<String, (std::time::Instant, u64)>>,
    /// The first well-formed look that found an object's EIP absent, by object UID: what was
    /// absent (the allocation ID, or empty for "nothing tagged with the UID") and when.
    absences: Mutex<HashMap<String, (String, tokio::time::Instant)>>,
}

impl Context {
    pub fn new(client: Client, providers: Providers, recorder: EventPublisher, timing: Timing, metrics: Arc<Metrics>) -> Self {
        Context {
            client,
            providers,
            recorder,
            timing,
            metrics,
            cluster_id: None,
            failures: Mutex::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(DEFAULT_CONCURRENCY)),
            kube_failures: Mutex::default(),
            stalls: Mutex::default(),
            fresh: Mutex::default(),
            written: Mutex::default(),
            absences: Mutex::default(),
        }
    }

    /// Tags what this operator allocates or claims with `cluster_id` too.
    pub fn with_cluster_id(mut self, cluster_id: Option<String>) -> Self {
        self.cluster_id = cluster_id;
        self
    }

    /// At most `concurrency` reconciles at once (0: no limit).
    pub fn with_concurrency(mut self, concurrency: u16) -> Self {
        let permits = if concurrency == 0 {
            tokio::sync::Semaphore::MAX_PERMITS
        } else {
            usize::from(concurrency)
        };
        self.slots = Arc::new(tokio::sync::Semaphore::new(permits));
        self
    }

    /// Whether the absence `cloud` reports is confirmed: an earlier well-formed look saw the same
    /// absence at least the confirmation window ago, as this process remembers it (monotonic
    /// clock) or as the status records it (`status.absence`, written by whichever replica looked
    /// first: a restart, even every few seconds, must not start the confirmation again). A first
    /// absence is remembered; anything present forgets it.
    pub(crate) fn absence_confirmed(&self, uid: &str, cloud: &CloudView, deleting: bool, prev: Option<&ElasticIPStatus>) -> bool {
        let mut absences = self.absences.lock().unwrap_or_else(|p| p.into_inner());
        let absent = match cloud {
            CloudView::Missing { allocation_id } => allocation_id.clone(),
            // Only a deletion concludes anything from finding nothing tagged with the UID.
            CloudView::NeverAllocated if deleting => String::new(),
            _ => {
                absences.remove(uid);
                return false;
            }
        };
        if status::absence_recorded_for(prev, &absent, self.timing.absence_confirmation, Timestamp::now()) {
            return true;
        }
        let now = tokio::time::Instant::now();
        match absences.get(uid) {
            Some((seen, since)) if *seen == absent => now.duration_since(*since) >= self.timing.absence_confirmation,
            _ => {
                absences.insert(uid.to_string(), (absent, now));
                false
            }
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a retryable failure; returns the number before this one.
    pub(crate) fn record_failure(&self, uid: &str) -> u32 {
        let mut failures = self.failures();
        let count = failures.entry(uid.to_string()).or_insert(0);
        let before = *count;
        *count = count.saturating_add(1);
        before
    }

    /// Whether the cached object predates the status this operator wrote moments ago (the watch
    /// has not delivered that write yet). Acting on it would repeat the last step.
    fn is_stale(&self, uid: &str, status: Option<&ElasticIPStatus>) -> bool {
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        written
            .get(uid)
            .is_some_and(|(at, print)| at.elapsed() < STALE_FOR && *print != status::fingerprint(status))
    }

    fn remember_written(&self, uid: &str, status: &ElasticIPStatus) {
        let print = status::fingerprint(Some(status));
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(uid.to_string(), (std::time::Instant::now(), print));
    }

    /// Counts a stalled reconcile; returns the number of consecutive ones before this one.
    fn record_stall(&self, uid: &str) -> u32 {
        let mut stalls = self.stalls.lock().unwrap_or_else(|p| p.into_inner());
        let count = stalls.entry(uid.to_string()).or_insert(0);
        let before = *count;
        *count = count.saturating_add(1);
        before
    }

    fn clear_stalls(&self, uid: &str) {
        self.stalls.lock().unwrap_or_else(|p| p.into_inner()).remove(uid);
    }

    pub(super) fn forget(&self, uid: &str) {
        self.stalls.lock().unwrap_or_else(|p| p.into_inner()).remove(uid);
        self.kube_failures.lock().unwrap_or_else(|p| p.into_inner()).remove(uid);
        self.written.lock().unwrap_or_else(|p| p.into_inner()).remove(uid);
        self.fresh.lock().unwrap_or_else(|p| p.into_inner()).remove(uid);
        self.absences.lock().unwrap_or_else(|p| p.into_inner()).remove(uid);
    }

    /// The EIP an allocation returned moments ago, if it is the one recorded in the status.
    fn take_fresh(&self, uid: &str, recorded: Option<&String>) -> Option<CloudEip> {
        let (at, eip) = self.fresh.lock().unwrap_or_else(|p| p.into_inner()).remove(uid)?;
        (at.elapsed() < FRESH_FOR && recorded == Some(&eip.allocation_id)).then_some(eip)
    }

    fn remember_fresh(&self, uid: &str, eip: &CloudEip) {
        self.fresh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(uid.to_string(), (std::time::Instant::now(), eip.clone()));
    }

    fn clear_failures(&self, uid: &str) {
        self.failures().remove(uid);
    }
}

/// Reconciles one ElasticIP.
pub async fn reconcile(eip: Arc<ElasticIP>, ctx: Arc<Context>) -> Result<Action, Error> {
    // Never closed, so acquiring cannot fail; were it closed, running unlimited is the safe side.
    let permit = ctx.slots.clone().acquire_owned().await.ok();
    // Handed back while a call waits for its API's pace (`eip_cloud::slot`).
    let share = Arc::new(Share {
        slots: ctx.slots.clone(),
        held: Mutex::new(permit),
    });
    let started = std::time::Instant::now();
    ctx.metrics.reconciles_in_flight.inc();
    let mut result = "error";
    let action = eip_cloud::slot::holding(share, reconcile_inner(&eip, &ctx, &mut result)).await;
    if action.is_ok()
        && let Some(uid) = eip.uid()
    {
        ctx.kube_failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&uid);
    }
    ctx.metrics.reconciles_in_flight.dec();
    ctx.metrics.observe_reconcile(result, started.elapsed());
    debug!(name = %eip.name_any(), result, took_ms = started.elapsed().as_millis() as u64, next = ?action.as_ref().ok(), "reconciled");
    action
}

/// One reconcile's share of `--concurrency`.
struct Share {
    slots: Arc<tokio::sync::Semaphore>,
    held: Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
}

impl eip_cloud::slot::Slot for Share {
    fn release(&self) {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn reacquire(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if self.held.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
                return;
            }
            if let Ok(permit) = self.slots.clone().acquire_owned().await {
                self.held.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(permit);
            }
        })
    }
}

/// `result` names what the reconcile did, for the metrics.
async fn reconcile_inner(eip: &Arc<ElasticIP>, ctx: &Arc<Context>, result: &mut &'static str) -> Result<Action, Error> {
    let uid = eip.uid().ok_or(Error::MissingField("metadata.uid"))?;
    let namespace = eip.namespace().ok_or(Error::MissingField("metadata.namespace"))?;
    let api: Api<ElasticIP> = Api::namespaced(ctx.client.clone(), &namespace);
    let deleting = eip.meta().deletion_timestamp.is_some();
    let has_finalizer = eip.finalizers().iter().any(|f| f == FINALIZER);
    if is_paused(eip) {
        // Nothing at all is done for a paused object: no cloud call, no finalizer change.
        *result = "paused";
        return super::paused::paused(&api, eip, ctx, &uid).await;
    }

    if deleting && !has_finalizer {
        *result = "ignored";
        return Ok(Action::await_change());
    }
    if !has_finalizer {
        // Before anything exists in the cloud, so a deletion can never skip the cleanup.
        add_finalizer(&api, eip).await?;
    }

    let prev = eip.status.as_ref();
    if ctx.is_stale(&uid, prev) {
        *result = "stale";
        return Ok(Action::requeue(Duration::from_millis(200)));
    }
    let resolved = match ctx.providers.resolve(&eip.spec) {
        Ok(resolved) => resolved,
        Err(err) => {
            *result = "stalled";
            return unresolved(&api, eip, ctx, err).await;
        }
    };

    let wanted = match resolve_binding(&ctx.client, &eip.spec, &namespace, &resolved, deleting).await? {
        Ok(wanted) => wanted,
        Err(err) => {
            *result = if err.class() == ErrorClass::Terminal { "stalled" } else { "retry" };
            return unobserved(&api, eip, ctx, &uid, err).await;
        }
    };
    let fresh = if deleting {
        None
    } else {
        ctx.take_fresh(&uid, prev.and_then(|s| s.allocation_id.as_ref()))
    };
    let observed = match fresh {
        Some(eip) => Ok(CloudView::Present(eip)),
        None => observe(resolved.provider.as_ref(), eip, &uid, deleting).await,
    };
    let cloud = match observed {
        Ok(cloud) => cloud,
        Err(err) => {
            *result = if err.class() == ErrorClass::Terminal { "stalled" } else { "retry" };
            return unobserved(&api, eip, ctx, &uid, err).await;
        }
    };
    let absence_confirmed = ctx.absence_confirmed(&uid, &cloud, deleting, prev);
    if let Some(drift) = status::detect_drift(prev, &cloud, absence_confirmed) {
        publish(ctx, eip, EventType::Warning, "DriftDetected", "Observe", drift).await;
    }

    let step = decide(&Inputs {
        spec: &eip.spec,
        uid: &uid,
        deleting,
        cloud: &cloud,
        wanted: &wanted,
        absence_confirmed,
    });
    debug!(name = %eip.name_any(), namespace, ?step, "decided");
    let now = Timestamp::now();
    let outcome = execute(resolved.provider.as_ref(), eip, &uid, ctx.cluster_id.as_deref(), &step, &cloud, now).await;
    let answered = Timestamp::now();
    *result = result_label(&step, &outcome);
    if step == Step::Allocate {
        // Every allocation attempt, answered or not: where a leak investigation starts.
        match &outcome {
            Outcome::Accepted { allocated: Some(new), .. } => {
                info!(name = %eip.name_any(), namespace, uid, allocation_id = %new.allocation_id, "allocated");
            }
            Outcome::Failed(err) => info!(name = %eip.name_any(), namespace, uid, code = %err.code, "allocation not confirmed"),
            _ => {}
        }
    }

    let refused = match &outcome {
        Outcome::Failed(err) if lets_go_despite(&step, deleting, err.class()) => Some(err),
        _ => None,
    };
    if step == Step::RemoveFinalizer || refused.is_some() {
        remove_finalizer(&api, eip).await?;
        ctx.clear_failures(&uid);
        ctx.forget(&uid);
        let (type_, reason, note) = let_go_event(eip, &cloud, &step, refused);
        publish(ctx, eip, type_, reason, "RemoveFinalizer", note).await;
        info!(name = %eip.name_any(), namespace, reason, "finalizer removed");
        return Ok(Action::await_change());
    }

    announce(ctx, eip, &step, &outcome).await;
    let next = status::next_status(
        prev,
        &StatusInputs {
            generation: eip.meta().generation,
            spec: &eip.spec,
            deleting,
            cloud: &cloud,
            wanted: &wanted,
            step: &step,
            outcome: &outcome,
            provider_config: &resolved.config_name,
            force_unbind_available: resolved.provider.capabilities().force_unbind,
            now,
            answered,
        },
    );
    write_status(&api, eip.as_ref(), eip.status.as_ref(), &next).await?;
    ctx.remember_written(&uid, &next);
    if let Outcome::Accepted {
        allocated: Some(allocated),
        ..
    } = &outcome
    {
        ctx.remember_fresh(&uid, allocated);
    }

    // Consecutive reconciles that ended the same way: retryable failures back off, stalls slow
    // down; anything else starts both counts again.
    let failures = match &outcome {
        Outcome::Failed(err) if err.class() == ErrorClass::Retryable => {
            ctx.clear_stalls(&uid);
            ctx.record_failure(&uid)
        }
        Outcome::Failed(_) => {
            ctx.clear_failures(&uid);
            ctx.record_stall(&uid)
        }
        _ if matches!(step, Step::Stalled(_)) => {
            ctx.clear_failures(&uid);
            ctx.record_stall(&uid)
        }
        _ => {
            ctx.clear_failures(&uid);
            ctx.clear_stalls(&uid);
            0
        }
    };
    let waited = waited_for(prev, &step, now);
    let expected = expected_transition(resolved.provider.as_ref(), &step);
    Ok(Action::requeue(
        ctx.timing.requeue_after(&step, &outcome, waited, failures, expected),
    ))
}

fn result_label(step: &Step, outcome: &Outcome) -> &'static str {
    match (step, outcome) {
        (_, Outcome::Failed(err)) if err.class() == ErrorClass::Retryable => "retry",
        (_, Outcome::Failed(_)) | (Step::Stalled(_), _) => "stalled",
        (Step::Allocate, _) => "allocate",
        (Step::Claim, _) => "claim",
        (Step::Unclaim { .. }, _) => "unclaim",
        (Step::Associate { .. }, _) => "associate",
        (Step::Unassociate { .. }, _) => "unassociate",
        (Step::Release, _) => "release",
        (Step::Wait { .. }, _) => "wait",
        (Step::ConfirmAbsence { .. }, _) => "confirm_absence",
        (Step::Converged, _) => "converged",
        (Step::Observe { .. }, _) => "observed",
        (Step::AwaitReference { .. }, _) => "awaiting_reference",
        (Step::RemoveFinalizer, _) => "finalized",
    }
}

/// Requeue after errors of the Kubernetes API (cloud errors are handled inside [`reconcile`]).
pub fn error_policy(eip: Arc<ElasticIP>, error: &Error, ctx: Arc<Context>) -> Action {
    let uid = eip.uid().unwrap_or_default();
    let failures = {
        let mut kube_failures = ctx.kube_failures.lock().unwrap_or_else(|p| p.into_inner());
        let count = kube_failures.entry(uid).or_insert(0);
        let before = *count;
        *count = count.saturating_add(1);
        before
    };
    warn!(name = %eip.name_any(), namespace = eip.namespace().unwrap_or_default(), %error, failures, "reconcile failed");
    // Every error here is the Kubernetes side's (the cloud's are outcomes of a reconcile).
    Action::requeue(ctx.timing.kube_backoff(failures))
}

/// How long the cloud has been working on the current operation, for the growing poll interval:
/// from the answer to its call, not from its start, which includes the wait for the API's pace
/// (after 25 s in line behind a thousand unbinds, the first poll came 6 s late, and the delete
/// phase of the converge benchmark took 1.42 × its lower bound).
pub(super) fn waited_for(prev: Option<&ElasticIPStatus>, step: &Step, now: Timestamp) -> Duration {
    if !matches!(step, Step::Wait { .. }) {
        return Duration::ZERO;
    }
    prev.and_then(|s| s.last_operation.as_ref())
        .and_then(|op| op.answered_at.as_deref().unwrap_or(&op.started_at).parse::<Timestamp>().ok())
        .and_then(|started| Duration::try_from(now.duration_since(started)).ok())
        .unwrap_or(Duration::ZERO)
}

async fn unresolved(api: &Api<ElasticIP>, eip: &ElasticIP, ctx: &Context, err: ResolveError) -> Result<Action, Error> {
    let status = eip.status.as_ref();
    let never_touched_cloud =
        eip.spec.allocation_id.is_none() && status.is_none_or(|s| s.allocation_id.is_none() && s.last_operation.is_none());
    if eip.meta().deletion_timestamp.is_some()
        && (never_touched_cloud
            || eip.spec.observe_only()
            || crate::controller::decide::effective_deletion_policy(&eip.spec) == DeletionPolicy::Retain)
    {
        // Nothing was ever asked of any cloud for this object (or nothing is to be touched).
        remove_finalizer(api, eip).await?;
        publish(
            ctx,
            eip,
            EventType::Normal,
            "Finalized",
            "RemoveFinalizer",
            format!("no cloud EIP to clean up ({err})"),
        )
        .await;
        return Ok(Action::await_change());
    }
    let blocked = Unobserved::Stalled {
        reason: err.reason(),
        message: err.to_string(),
    };
    stall_unobserved(api, eip, ctx, blocked).await
}

async fn unobserved(api: &Api<ElasticIP>, eip: &ElasticIP, ctx: &Context, uid: &str, err: CloudError) -> Result<Action, Error> {
    if err.class() == ErrorClass::Terminal {
        let reason = err.blocker().map_or("CloudRefused", |b| b.reason());
        let blocked = Unobserved::Stalled {
            reason,
            message: format!("cannot read the EIP from the cloud: {}: {}", err.code, err.message),
        };
        return stall_unobserved(api, eip, ctx, blocked).await;
    }
    ctx.clear_stalls(uid);
    let failures = ctx.record_failure(uid);
    if failures == 0 {
        publish(
            ctx,
            eip,
            EventType::Warning,
            "CloudCallFailed",
            "Observe",
            format!("{}: {}: {}", err.operation, err.code, err.message),
        )
        .await;
    }
    let delay = ctx.timing.requeue_after(
        &Step::Converged,
        &Outcome::Failed(err.clone()),
        Duration::ZERO,
        failures,
        Duration::ZERO,
    );
    let next = status::unobserved_status(
        eip.status.as_ref(),
        eip.meta().generation,
        &eip.spec,
        &Unobserved::Retrying(err),
        Timestamp::now(),
    );
    write_status(api, eip, eip.status.as_ref(), &next).await?;
    if let Some(uid) = eip.uid() {
        ctx.remember_written(&uid, &next);
    }
    Ok(Action::requeue(delay))
}

async fn stall_unobserved(api: &Api<ElasticIP>, eip: &ElasticIP, ctx: &Context, blocked: Unobserved) -> Result<Action, Error> {
    if let Unobserved::Stalled { reason, message } = &blocked
        && !already_stalled(eip, reason)
    {
        publish(ctx, eip, EventType::Warning, reason, "Resolve", message.clone()).await;
    }
    let next = status::unobserved_status(eip.status.as_ref(), eip.meta().generation, &eip.spec, &blocked, Timestamp::now());
    write_status(api, eip, eip.status.as_ref(), &next).await?;
    let stalls = match eip.uid() {
        Some(uid) => {
            ctx.remember_written(&uid, &next);
            ctx.record_stall(&uid)
        }
        None => 0,
    };
    Ok(Action::requeue(ctx.timing.stalled_backoff(stalls)))
}

fn already_stalled(eip: &ElasticIP, reason: &str) -> bool {
    eip.condition(status::STALLED)
        .is_some_and(|c| c.status == "True" && c.reason == reason)
}

/// Events for what this reconcile did (and Warnings for what went wrong, once per episode).
async fn announce(ctx: &Context, eip: &ElasticIP, step: &Step, outcome: &Outcome) {
    let action = status::step_action(step).unwrap_or("Reconcile");
    match (step, outcome) {
        (Step::Stalled(stall), _) if !already_stalled(eip, stall.reason()) => {
            publish(ctx, eip, EventType::Warning, stall.reason(), action, stall.message()).await;
        }
        (_, Outcome::Failed(err)) => {
            let first_failure = eip
                .status
                .as_ref()
                .and_then(|s| s.last_operation.as_ref())
                .is_none_or(|op| op.action != action || op.error.is_none());
            let terminal = err.class() == ErrorClass::Terminal;
            let reason = if terminal {
                err.blocker().map_or("CloudRefused", |b| b.reason())
            } else if err.is_throttled() {
                "Throttled"
            } else {
                "CloudCallFailed"
            };
            if (terminal && !already_stalled(eip, reason)) || (!terminal && first_failure) {
                let request = err.request_id.as_deref().map(|id| format!(" (request {id})")).unwrap_or_default();
                publish(
                    ctx,
                    eip,
                    EventType::Warning,
                    reason,
                    action,
                    format!("{} failed: {}: {}{request}", err.operation, err.code, err.message),
                )
                .await;
            }
        }
        (_, Outcome::Accepted { receipt, allocated }) => {
            let (reason, what) = match step {
                Step::Allocate => {
                    let what = allocated
                        .as_ref()
                        .map_or(String::new(), |e| format!(" {} ({})", e.ip_address, e.allocation_id));
                    ("Allocated", format!("allocated EIP{what}"))
                }
                Step::Associate { target } => ("Binding", format!("binding to {target}")),
                Step::Unassociate { current } => ("Unbinding", format!("unbinding from {current}")),
                Step::Release => ("Releasing", "releasing the EIP".to_string()),
                Step::Claim => ("Claiming", "claiming the adopted EIP (owner tags)".to_string()),
                Step::Unclaim { .. } => ("Unclaimed", "removed this object's claim (owner tags) from the EIP".to_string()),
                _ => return,
            };
            let request = if receipt.request_id.is_empty() {
                String::new()
            } else {
                format!(" (request {})", receipt.request_id)
            };
            publish(ctx, eip, EventType::Normal, reason, action, format!("{what}{request}")).await;
        }
        _ => {}
    }
}

pub(super) async fn publish(ctx: &Context, eip: &ElasticIP, type_: EventType, reason: &str, action: &str, note: String) {
    let note = truncate(note, 1000);
    // Events are best effort: losing one must not stop the lifecycle. A failure is logged in one
    // line, at debug level while the namespace is being deleted (see `events`).
    ctx.recorder
        .publish_best_effort(eip.object_ref(&()), type_, reason, action, note)
        .await;
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("ééé".to_string(), 3), "é");
        assert_eq!(truncate("abc".to_string(), 10), "abc");
    }
}
