//! Reconciler tests: the real reconciler and the real (in-process) simulator, with the
//! Kubernetes API mocked by a tiny fake (tower-test) that keeps one object's state.
//!
//! These prove the reconciler's call sequences; Kubernetes behaviour itself (finalizers holding
//! an object, the status subresource, CEL) is proven against a real API server in `tests/`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::client::Body;
use kube::runtime::reflector;
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde_json::{Value, json};

use super::events::EventPublisher;
use super::fixtures::{ElasticIPFixture, UID, ecs, elastic_ip, nat, provider_config, recorded, spec};
use super::providers::Providers;
use super::reconcile::{Context, reconcile};
use super::timing::Timing;
use eip_api::{DeletionPolicy, ElasticIP, ElasticIPSpec, FINALIZER, ProviderConfig};
use eip_cloud::{BindTarget, ChargeType, EipPhase, OWNER_TAG, Operation, Registry};
use eip_simulator::{CallOutcome, Latencies, SeedEip, Simulator, SimulatorConfig, SimulatorFactory};

mod absence;
mod adoption;
mod strays;

const REGION: &str = "cn-hangzhou";

/// One object as the fake API server holds it, and every request it answered.
#[derive(Clone, Default)]
struct FakeApi {
    object: Arc<Mutex<Option<ElasticIP>>>,
    requests: Arc<Mutex<Vec<(Method, String)>>>,
    events: Arc<Mutex<Vec<Value>>>,
    /// Answer the next finalizer patch with a server error.
    fail_finalizer_patch: Arc<Mutex<bool>>,
}

impl FakeApi {
    fn current(&self) -> Option<ElasticIP> {
        self.object.lock().expect("lock").clone()
    }

    fn update(&self, change: impl FnOnce(&mut ElasticIP)) {
        let mut guard = self.object.lock().expect("lock");
        let object = guard.as_mut().expect("object exists");
        change(object);
        bump(object);
    }

    fn requests(&self) -> Vec<(Method, String)> {
        self.requests.lock().expect("lock").clone()
    }

    fn event_reasons(&self) -> Vec<(String, String)> {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap_or_default().to_string(),
                    e["reason"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    fn handle(&self, method: Method, path: String, body: Value) -> (StatusCode, Value) {
        self.requests.lock().expect("lock").push((method.clone(), path.clone()));
        // kube's Recorder creates an event, then patches it when the same one recurs.
        if path.contains("/events") {
            self.events.lock().expect("lock").push(body.clone());
            return (StatusCode::CREATED, body);
        }
        let mut guard = self.object.lock().expect("lock");
        let Some(object) = guard.as_mut() else {
            return (
                StatusCode::NOT_FOUND,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}),
            );
        };
        if method == Method::PATCH && path.ends_with("/status") {
            object.status = Some(serde_json::from_value(body["status"].clone()).expect("status body"));
            bump(object);
            return (StatusCode::OK, serde_json::to_value(&*object).expect("serialize"));
        }
        if method == Method::PATCH {
            let mut fail = self.fail_finalizer_patch.lock().expect("lock");
            if *fail {
                *fail = false;
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "injected", "code": 500}),
                );
            }
            let rv = body["metadata"]["resourceVersion"].as_str().map(str::to_string);
            if rv.is_some() && rv != object.metadata.resource_version {
                return (
                    StatusCode::CONFLICT,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409}),
                );
            }
            let finalizers: Vec<String> = serde_json::from_value(body["metadata"]["finalizers"].clone()).expect("finalizers");
            object.metadata.finalizers = Some(finalizers.clone());
            bump(object);
            let answer = serde_json::to_value(&*object).expect("serialize");
            if object.metadata.deletion_timestamp.is_some() && finalizers.is_empty() {
                *guard = None; // the API server deletes it now
            }
            return (StatusCode::OK, answer);
        }
        panic!("unexpected request {method} {path}");
    }
}

fn bump(object: &mut ElasticIP) {
    let rv: u64 = object
        .metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    object.metadata.resource_version = Some((rv + 1).to_string());
}

/// A client whose requests the fake answers.
fn fake_client(fake: FakeApi) -> Client {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await.expect("body").to_bytes();
            let body: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).expect("json body")
            };
            let (status, answer) = fake.handle(parts.method, parts.uri.path().to_string(), body);
            let response = Response::builder()
                .status(status)
                .body(Body::from(serde_json::to_vec(&answer).expect("json")))
                .expect("response");
            send.send_response(response);
        }
    });
    Client::new(service, "default")
}

fn simulator_config() -> ProviderConfig {
    provider_config("sim", json!({ "provider": "simulator", "region": REGION, "default": true }))
}

/// A simulated cloud with `latencies`, instant otherwise.
fn simulator(latencies: Latencies) -> Simulator {
    Simulator::new(
        SimulatorConfig {
            latencies,
            ..SimulatorConfig::instant()
        }
        .with_seed(7),
    )
}

/// Every mutating call the cloud saw, whoever made it.
fn mutating_calls(sim: &Simulator) -> Vec<(Operation, CallOutcome)> {
    sim.calls()
        .into_iter()
        .filter(|c| c.operation.is_mutating())
        .map(|c| (c.operation, c.outcome))
        .collect()
}

struct Harness {
    fake: FakeApi,
    sim: Simulator,
    ctx: Arc<Context>,
}

impl Harness {
    fn new(object: ElasticIP, latencies: Latencies) -> Self {
        Self::on(&simulator(latencies), object)
    }

    /// An operator (its own API server fake, holding `object`, and context) against the cloud `sim`.
    fn on(sim: &Simulator, object: ElasticIP) -> Self {
        let fake = FakeApi::default();
        *fake.object.lock().expect("lock") = Some(object);
        let ctx = Self::context(&fake, sim);
        Harness {
            fake,
            sim: sim.clone(),
            ctx,
        }
    }

    /// An operator whose object is being deleted, with the EIP the operator allocated for it
    /// earlier ([`UID`]) recorded in its status: seeded in `sim` as `seed`. Returns the EIP's
    /// allocation ID too.
    fn deleting_owner_of(sim: &Simulator, seed: SeedEip) -> (Self, String) {
        let eip = sim.seed_eip(REGION, seed).expect("seed");
        let object = elastic_ip(spec(Some("i-sim-0001"), None, None))
            .finalized()
            .deleting()
            .with_status(recorded(&eip.allocation_id));
        (Self::on(sim, object), eip.allocation_id)
    }

    /// This operator with a cloud that takes no client token for allocations (OTC, Huawei, AWS).
    fn without_allocation_tokens(mut self) -> Self {
        self.ctx = Self::context_with(&self.fake, SimulatorFactory::new(self.sim.clone()).without_allocation_tokens());
        self
    }

    /// A fresh operator (nothing remembered) against the same API server and cloud.
    fn context(fake: &FakeApi, sim: &Simulator) -> Arc<Context> {
        Self::context_with(fake, SimulatorFactory::new(sim.clone()))
    }

    fn context_with(fake: &FakeApi, factory: SimulatorFactory) -> Arc<Context> {
        let client = fake_client(fake.clone());
        let (store, mut writer) = reflector::store();
        writer.apply_watcher_event(&watcher::Event::Apply(simulator_config()));
        let registry = Registry::default().register(Arc::new(factory));
        let providers = Providers::new(store, registry);
        let recorder = EventPublisher::new(client.clone(), "eip-operator", None);
        Arc::new(Context::new(client, providers, recorder, Timing::default(), Arc::default()))
    }

    /// The operator process restarts.
    fn restart(&mut self) {
        self.ctx = Self::context(&self.fake, &self.sim);
    }

    /// Reconciles the current object once (as the controller would after a requeue).
    async fn reconcile_once(&self) -> bool {
        let Some(object) = self.fake.current() else { return false };
        reconcile(Arc::new(object), self.ctx.clone()).await.expect("reconcile");
        true
    }

    /// Reconciles until the object is gone or `limit` rounds pass, advancing the paused clock
    /// half a second between rounds. Returns the phases the status went through.
    async fn drive(&self, limit: usize) -> Vec<String> {
        let mut phases = Vec::new();
        for _ in 0..limit {
            if !self.reconcile_once().await {
                break;
            }
            if let Some(phase) = self.fake.current().and_then(|o| o.status).and_then(|s| s.phase) {
                let phase = format!("{phase:?}");
                if phases.last() != Some(&phase) {
                    phases.push(phase);
                }
            }
            tokio::time::advance(Duration::from_millis(500)).await;
        }
        phases
    }

    fn mutating_calls(&self) -> Vec<(Operation, CallOutcome)> {
        mutating_calls(&self.sim)
    }

    /// The allocation ID the current object's status records.
    fn recorded_allocation(&self) -> Option<String> {
        self.fake.current().and_then(|o| o.status).and_then(|s| s.allocation_id)
    }

    /// The current object's condition of type `type_`.
    fn condition(&self, type_: &str) -> Option<Condition> {
        self.fake.current().and_then(|o| o.condition(type_).cloned())
    }
}

/// An EIP the operator allocated for [`UID`] (tagged with its owner UID), bound to `bound_to`.
fn owned(bound_to: Option<BindTarget>) -> SeedEip {
    SeedEip {
        tags: BTreeMap::from([(OWNER_TAG.to_string(), UID.to_string())]),
        bound_to,
        ..SeedEip::default()
    }
}

#[tokio::test(start_paused = true)]
async fn finalizer_is_added_before_anything_happens_in_the_cloud() {
    let h = Harness::new(elastic_ip(spec(Some("i-sim-0001"), None, None)), Latencies::default());

    // A failed finalizer patch stops the reconcile before any cloud call.
    *h.fake.fail_finalizer_patch.lock().expect("lock") = true;
    let object = h.fake.current().expect("object");
    assert!(reconcile(Arc::new(object), h.ctx.clone()).await.is_err());
    assert!(h.sim.calls().is_empty(), "no cloud call without the finalizer: {:?}", h.sim.calls());

    // Then it goes through: the first request is the finalizer patch, the allocation follows.
    assert!(h.reconcile_once().await);
    let requests = h.fake.requests();
    assert_eq!(
        requests[1],
        (
            Method::PATCH,
            "/apis/eip-operator.dev/v1alpha1/namespaces/default/elasticips/web".into()
        )
    );
    assert_eq!(
        h.fake.current().expect("object").metadata.finalizers,
        Some(vec![FINALIZER.to_string()])
    );
    let calls: Vec<Operation> = h.sim.calls().iter().map(|c| c.operation).collect();
    // Allocation is idempotent by token in the simulator, so no lookup comes first.
    assert_eq!(calls, vec![Operation::Allocate]);
}

#[tokio::test(start_paused = true)]
async fn created_object_is_allocated_bound_and_ready() {
    let latencies = Latencies {
        associate: Duration::from_secs(2),
        ..Latencies::default()
    };
    let h = Harness::new(elastic_ip(spec(Some("i-sim-0001"), None, None)), latencies);
    let phases = h.drive(12).await;

    let object = h.fake.current().expect("object");
    let status = object.status.as_ref().expect("status");
    let ready = object.condition("Ready").expect("Ready");
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("True", "Bound"), "{status:?}");
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.bound_to.as_ref().map(|b| b.instance_id.as_str()), Some("i-sim-0001"));
    assert_eq!(status.cloud_state.as_deref(), Some("InUse"));
    let allocation_id = status.allocation_id.clone().expect("allocation id");
    let eip = h.sim.eip(REGION, &allocation_id).expect("EIP exists");
    assert_eq!(eip.owner_uid(), Some(UID), "tagged with the owner UID");
    assert!(
        phases.contains(&"Binding".to_string()) && phases.last() == Some(&"Ready".to_string()),
        "{phases:?}"
    );
    assert_eq!(
        h.mutating_calls(),
        vec![(Operation::Allocate, CallOutcome::Ok), (Operation::Associate, CallOutcome::Ok)]
    );
    assert!(h.fake.event_reasons().contains(&("Normal".into(), "Allocated".into())));
}

#[tokio::test(start_paused = true)]
async fn restart_after_allocation_finds_the_same_eip() {
    let mut h = Harness::new(elastic_ip(ElasticIPSpec::default()), Latencies::default());
    assert!(h.reconcile_once().await);
    let first = h.recorded_allocation().expect("allocated");
    // The status write is lost (crash between the allocation and the status write).
    h.fake.update(|o| o.status = None);
    h.restart();
    assert!(h.reconcile_once().await);
    let second = h.recorded_allocation().expect("found");
    assert_eq!(first, second);
    assert_eq!(h.sim.eips(REGION).len(), 1, "no second EIP");
    // The retry carried the same UID-derived token, so the cloud replayed the first allocation.
    let allocations: Vec<_> = h.sim.calls().into_iter().filter(|c| c.operation == Operation::Allocate).collect();
    assert!(
        allocations
            .iter()
            .all(|c| c.allocation_ids == vec![first.clone()] && c.client_token == allocations[0].client_token)
    );
}

#[tokio::test(start_paused = true)]
async fn deleting_a_bound_eip_unbinds_waits_releases_waits_then_lets_go() {
    let latencies = Latencies {
        unassociate: Duration::from_secs(2),
        release: Duration::from_secs(2),
        ..Latencies::default()
    };
    let (h, allocation_id) = Harness::deleting_owner_of(&simulator(latencies), owned(Some(ecs("i-sim-0001"))));

    let phases = h.drive(30).await;

    assert!(h.fake.current().is_none(), "finalizer removed, object gone");
    assert!(h.sim.eip(REGION, &allocation_id).is_none(), "EIP released");
    let mutating = h.mutating_calls();
    assert_eq!(
        mutating,
        vec![(Operation::Unassociate, CallOutcome::Ok), (Operation::Release, CallOutcome::Ok)]
    );
    assert_eq!(
        phases,
        vec!["Unbinding".to_string(), "Releasing".to_string()],
        "requeued while Unassociating and Releasing"
    );
    // The reconciler looked again (Describe) while the cloud was working, rather than blocking.
    let calls = h.sim.calls();
    let position = |op| calls.iter().position(|c| c.operation == op).expect("call made");
    let describes_between = calls[position(Operation::Unassociate)..position(Operation::Release)]
        .iter()
        .filter(|c| c.operation == Operation::Describe)
        .count();
    assert!(describes_between >= 2, "polled while Unassociating: {calls:?}");
    let events = h.fake.event_reasons();
    for reason in ["Unbinding", "Releasing", "Released"] {
        assert!(events.contains(&("Normal".into(), reason.into())), "{events:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn prepaid_eip_stalls_without_a_release_and_retain_lets_it_go() {
    let seed = SeedEip {
        charge_type: ChargeType::PrePaid,
        ..owned(Some(ecs("i-sim-0002")))
    };
    let (h, allocation_id) = Harness::deleting_owner_of(&simulator(Latencies::default()), seed);

    h.drive(3).await;
    let object = h.fake.current().expect("still held by the finalizer");
    let stalled = object.condition("Stalled").expect("Stalled");
    assert_eq!((stalled.status.as_str(), stalled.reason.as_str()), ("True", "PrepaidCannotRelease"));
    assert!(stalled.message.contains("deletionPolicy"), "{}", stalled.message);
    assert!(h.mutating_calls().is_empty(), "nothing touched: {:?}", h.mutating_calls());
    let warnings: Vec<_> = h.fake.event_reasons().into_iter().filter(|(t, _)| t == "Warning").collect();
    assert_eq!(
        warnings,
        vec![("Warning".to_string(), "PrepaidCannotRelease".to_string())],
        "one Warning, not one per retry"
    );

    // The documented way out: keep the address.
    h.fake.update(|o| {
        o.spec.deletion_policy = Some(DeletionPolicy::Retain);
        o.metadata.generation = Some(2);
    });
    h.drive(2).await;
    assert!(h.fake.current().is_none(), "finalizer removed");
    let eip = h.sim.eip(REGION, &allocation_id).expect("EIP kept");
    assert_eq!(eip.phase, EipPhase::Bound, "retained as it was");
    assert!(h.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn nat_entries_stall_the_unbind_until_force_is_set() {
    let sim = simulator(Latencies::default());
    sim.set_nat_entries(REGION, "ngw-sim-0001", 2).expect("nat entries");
    let (h, allocation_id) = Harness::deleting_owner_of(&sim, owned(Some(nat("ngw-sim-0001"))));

    h.drive(2).await;
    let object = h.fake.current().expect("held");
    let stalled = object.condition("Stalled").expect("Stalled");
    assert_eq!(
        (stalled.status.as_str(), stalled.reason.as_str()),
        ("True", "NatEntriesBlockUnbind"),
        "{stalled:?}"
    );
    assert!(stalled.message.contains("forceUnbind"));

    h.fake.update(|o| o.spec.force_unbind = true);
    // Unbind, release, then two looks that miss the EIP, the confirmation window apart.
    h.drive(30).await;
    assert!(h.fake.current().is_none());
    assert!(h.sim.eip(REGION, &allocation_id).is_none());
}

#[tokio::test(start_paused = true)]
async fn eip_of_another_owner_is_never_released() {
    let other = SeedEip {
        tags: BTreeMap::from([(OWNER_TAG.to_string(), "someone-else".to_string())]),
        ..SeedEip::default()
    };
    let (h, allocation_id) = Harness::deleting_owner_of(&simulator(Latencies::default()), other);
    h.drive(3).await;
    let object = h.fake.current().expect("held");
    assert_eq!(object.condition("Stalled").map(|c| c.reason.as_str()), Some("NotOwned"));
    assert!(h.sim.eip(REGION, &allocation_id).is_some());
    assert!(h.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn unchanged_status_is_not_written_again() {
    let h = Harness::new(elastic_ip(ElasticIPSpec::default()), Latencies::default());
    h.drive(3).await;
    let status_writes = |h: &Harness| {
        h.fake
            .requests()
            .iter()
            .filter(|(m, p)| m == Method::PATCH && p.ends_with("/status"))
            .count()
    };
    let before = status_writes(&h);
    h.drive(3).await;
    assert_eq!(status_writes(&h), before, "converged: no status writes");
    let object = h.fake.current().expect("object");
    assert_eq!(object.condition("Ready").map(|c| c.status.as_str()), Some("True"));
    assert_eq!(object.meta().generation, Some(1));
}

#[tokio::test(start_paused = true)]
async fn a_stale_cache_does_not_repeat_the_last_step() {
    let h = Harness::new(elastic_ip(spec(Some("i-sim-0001"), None, None)), Latencies::default());
    let before_write = h.fake.current().expect("object");
    assert!(h.reconcile_once().await);
    assert_eq!(h.mutating_calls(), vec![(Operation::Allocate, CallOutcome::Ok)]);
    // The watch has not delivered the status write yet: the controller hands over the old object.
    let mut stale = before_write;
    stale.metadata.finalizers = Some(vec![FINALIZER.into()]);
    reconcile(Arc::new(stale), h.ctx.clone()).await.expect("reconcile");
    assert_eq!(h.mutating_calls(), vec![(Operation::Allocate, CallOutcome::Ok)], "nothing repeated");
    // With the written status, it goes on.
    h.drive(3).await;
    assert_eq!(
        h.mutating_calls(),
        vec![(Operation::Allocate, CallOutcome::Ok), (Operation::Associate, CallOutcome::Ok)]
    );
}

/// The chaos soak (seed 2, N = 1,000): a minute without the API server counted as failures of the
/// object, so its next cloud retry backed off for minutes.
#[tokio::test(start_paused = true)]
async fn kubernetes_api_errors_do_not_lengthen_the_cloud_backoff() {
    let h = Harness::new(elastic_ip(spec(Some("i-sim-0001"), None, None)), Latencies::default());
    let object = Arc::new(h.fake.current().expect("object"));
    let outage = crate::controller::Error::MissingField("the API server (down)");
    let waits: Vec<Duration> = (0..8)
        .map(|_| requeue_after(&crate::controller::error_policy(object.clone(), &outage, h.ctx.clone())))
        .collect();
    let cap = h.ctx.timing.kube_backoff_max;
    assert!(waits.iter().all(|w| *w <= cap + cap / 5), "{waits:?}");
    assert!(waits[7] > waits[0], "the API server's own backoff grows: {waits:?}");
    // The first cloud failure after the outage waits the cloud's first step, not the 2^8th.
    assert_eq!(h.ctx.record_failure(UID), 0, "the outage counted nothing against the cloud");
}

/// The requeue an [`Action`] asks for (kube's Action keeps it private; its Debug shows it).
fn requeue_after(action: &kube::runtime::controller::Action) -> Duration {
    let text = format!("{action:?}");
    let secs = text
        .split("Some(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("a requeue");
    let (value, unit) = secs.split_at(secs.find(|c: char| c.is_alphabetic()).expect("a unit"));
    let value: f64 = value.parse().expect("a number");
    Duration::from_secs_f64(match unit {
        "s" => value,
        "ms" => value / 1000.0,
        "µs" => value / 1e6,
        other => panic!("unit {other}"),
    })
}

/// `--concurrency` is enforced by the Context's fair semaphore (kube's own limit starved objects
/// under load, the chaos soak found): a reconcile waits for a slot, and runs once one frees.
#[tokio::test(start_paused = true)]
async fn reconciles_wait_for_a_slot_of_the_context() {
    let mut h = Harness::new(elastic_ip(spec(Some("i-sim-0001"), None, None)), Latencies::default());
    let ctx = Arc::into_inner(std::mem::replace(&mut h.ctx, Harness::context(&h.fake, &h.sim))).expect("sole owner");
    h.ctx = Arc::new(ctx.with_concurrency(1));
    let held = h.ctx.slots.acquire().await.expect("a slot");
    let object = Arc::new(h.fake.current().expect("object"));
    let waiting = tokio::spawn(reconcile(object, h.ctx.clone()));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(h.fake.requests().is_empty(), "no slot, no work: {:?}", h.fake.requests());
    drop(held);
    waiting.await.expect("joins").expect("reconciles");
    assert!(!h.fake.requests().is_empty(), "ran once the slot was free");
}
