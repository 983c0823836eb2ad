//! Prometheus metrics: reconciles, cloud calls, and ElasticIPs by phase and cloud state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::ElasticIP;
use crate::cloud::{AllocateRequest, Allocated, BindTarget, CloudEip, CloudError, CloudProvider, Receipt};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// What the reconcile did: allocate, claim, associate, unassociate, release, unclaim, wait,
    /// confirm_absence, converged, finalized, stalled, retry (retryable cloud error) or error
    /// (Kubernetes API error).
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloudCallLabels {
    pub provider: String,
    pub operation: String,
    /// ok, retryable, terminal or gone.
    pub outcome: String,
    /// The cloud's error code, empty on success.
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KubeRequestLabels {
    /// The HTTP method of the request to the Kubernetes API.
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ThrottleLabels {
    pub provider: String,
    pub operation: String,
}

/// The operator's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub reconciles: Family<ReconcileLabels, Counter>,
    pub reconcile_duration: Family<ReconcileLabels, Histogram>,
    pub reconciles_in_flight: Gauge,
    pub cloud_calls: Family<CloudCallLabels, Counter>,
    pub cloud_call_duration: Family<ThrottleLabels, Histogram>,
    pub cloud_throttled: Family<ThrottleLabels, Counter>,
    pub kube_requests: Family<KubeRequestLabels, Counter>,
    elastic_ips: Arc<ElasticIpCollector>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("eip_operator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register("reconciles", "Reconciles by result", reconciles.clone());
        let reconcile_duration =
            Family::<ReconcileLabels, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 14)));
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration by result",
            reconcile_duration.clone(),
        );
        let reconciles_in_flight = Gauge::default();
        registry.register(
            "reconciles_in_flight",
            "Reconciles running now (the work queue being drained)",
            reconciles_in_flight.clone(),
        );
        let cloud_calls = Family::<CloudCallLabels, Counter>::default();
        registry.register(
            "cloud_calls",
            "Cloud API calls by provider, operation, outcome and error code",
            cloud_calls.clone(),
        );
        let cloud_call_duration =
            Family::<ThrottleLabels, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 16)));
        registry.register("cloud_call_duration_seconds", "Cloud API call latency", cloud_call_duration.clone());
        let cloud_throttled = Family::<ThrottleLabels, Counter>::default();
        registry.register(
            "cloud_throttled",
            "Cloud API calls answered with a throttling error",
            cloud_throttled.clone(),
        );
        let kube_requests = Family::<KubeRequestLabels, Counter>::default();
        registry.register("kube_requests", "Requests to the Kubernetes API by method", kube_requests.clone());
        let elastic_ips = Arc::new(ElasticIpCollector::default());
        registry.register_collector(Box::new(elastic_ips.clone()));
        Metrics {
            elastic_ips,
            registry,
            reconciles,
            reconcile_duration,
            reconciles_in_flight,
            cloud_calls,
            cloud_call_duration,
            cloud_throttled,
            kube_requests,
        }
    }

    /// Feeds the `elasticips` gauge (by phase and cloud state), computed from the controller's
    /// cache at scrape time.
    pub fn watch_elastic_ips(&self, store: Store<ElasticIP>) {
        *self.elastic_ips.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(store);
    }

    pub fn observe_reconcile(&self, result: &str, took: Duration) {
        let labels = ReconcileLabels {
            result: result.to_string(),
        };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_duration.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[derive(Debug, Default)]
struct ElasticIpCollector(std::sync::Mutex<Option<Store<ElasticIP>>>);

#[derive(Clone, Debug, Hash, PartialEq, Eq, Ord, PartialOrd, EncodeLabelSet)]
struct EipLabels {
    phase: String,
    cloud_state: String,
}

impl Collector for ElasticIpCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut counts: BTreeMap<EipLabels, i64> = BTreeMap::new();
        let store = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for eip in store.map(|s| s.state()).unwrap_or_default() {
            let status = eip.status.as_ref();
            let labels = EipLabels {
                phase: status
                    .and_then(|s| s.phase)
                    .map_or_else(|| "Unknown".to_string(), |p| format!("{p:?}")),
                cloud_state: status.and_then(|s| s.cloud_state.clone()).unwrap_or_default(),
            };
            *counts.entry(labels).or_default() += 1;
        }
        let gauge_type = ConstGauge::new(0i64).metric_type();
        let mut family = encoder.encode_descriptor("elasticips", "ElasticIPs by phase and cloud state", None, gauge_type)?;
        for (labels, count) in &counts {
            ConstGauge::new(*count).encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }
}

/// Counts every cloud call of the wrapped provider.
pub struct Instrumented {
    inner: Arc<dyn CloudProvider>,
    metrics: Arc<Metrics>,
}

impl Instrumented {
    pub fn new(inner: Arc<dyn CloudProvider>, metrics: Arc<Metrics>) -> Self {
        Instrumented { inner, metrics }
    }

    fn record<T>(&self, operation: &str, started: std::time::Instant, result: &Result<T, CloudError>) {
        let provider = self.inner.name().to_string();
        let (outcome, code) = match result {
            Ok(_) => ("ok", String::new()),
            Err(err) => {
                if err.throttled {
                    self.metrics
                        .cloud_throttled
                        .get_or_create(&ThrottleLabels {
                            provider: provider.clone(),
                            operation: operation.into(),
                        })
                        .inc();
                }
                let outcome = match err.class {
                    crate::cloud::ErrorClass::Retryable => "retryable",
                    crate::cloud::ErrorClass::Terminal => "terminal",
                    crate::cloud::ErrorClass::Gone => "gone",
                };
                (outcome, err.code.clone())
            }
        };
        self.metrics
            .cloud_call_duration
            .get_or_create(&ThrottleLabels {
                provider: provider.clone(),
                operation: operation.into(),
            })
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .cloud_calls
            .get_or_create(&CloudCallLabels {
                provider,
                operation: operation.into(),
                outcome: outcome.into(),
                code,
            })
            .inc();
    }
}

#[async_trait]
impl CloudProvider for Instrumented {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn allocation_is_idempotent(&self) -> bool {
        self.inner.allocation_is_idempotent()
    }

    fn expected_transition(&self, operation: crate::cloud::Operation) -> std::time::Duration {
        self.inner.expected_transition(operation)
    }

    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        // One count per wire call: batches of DESCRIBE_BATCH, as the provider sends them.
        let mut found = Vec::with_capacity(allocation_ids.len());
        for batch in allocation_ids.chunks(crate::cloud::DESCRIBE_BATCH) {
            let started = std::time::Instant::now();
            let result = self.inner.describe(batch).await;
            self.record("Describe", started, &result);
            found.extend(result?);
        }
        Ok(found)
    }

    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError> {
        let started = std::time::Instant::now();
        let result = self.inner.find_by_owner(owner_uid).await;
        self.record("FindByOwner", started, &result);
        result
    }

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError> {
        let started = std::time::Instant::now();
        let result = self.inner.allocate(request).await;
        self.record("Allocate", started, &result);
        result
    }

    async fn associate(&self, allocation_id: &str, target: &BindTarget, client_token: &str) -> Result<Receipt, CloudError> {
        let started = std::time::Instant::now();
        let result = self.inner.associate(allocation_id, target, client_token).await;
        self.record("Associate", started, &result);
        result
    }

    async fn unassociate(&self, allocation_id: &str, current: &BindTarget, force: bool, client_token: &str) -> Result<Receipt, CloudError> {
        let started = std::time::Instant::now();
        let result = self.inner.unassociate(allocation_id, current, force, client_token).await;
        self.record("Unassociate", started, &result);
        result
    }

    async fn release(&self, allocation_id: &str, client_token: &str) -> Result<Receipt, CloudError> {
        let started = std::time::Instant::now();
        let result = self.inner.release(allocation_id, client_token).await;
        self.record("Release", started, &result);
        result
    }

    async fn tag(&self, allocation_id: &str, tags: &BTreeMap<String, String>) -> Result<Receipt, CloudError> {
        let started = std::time::Instant::now();
        let result = self.inner.tag(allocation_id, tags).await;
        self.record("Tag", started, &result);
        result
    }

    async fn untag(&self, allocation_id: &str, keys: &[String]) -> Result<Receipt, CloudError> {
        let started = std::time::Instant::now();
        let result = self.inner.untag(allocation_id, keys).await;
        self.record("Untag", started, &result);
        result
    }
}

/// A Kubernetes client whose every request is counted in `kube_requests`.
pub fn counting_client(config: kube::Config, metrics: Arc<Metrics>) -> Result<kube::Client, kube::Error> {
    let count = tower::util::MapRequestLayer::new(move |request: http::Request<kube::client::Body>| {
        metrics
            .kube_requests
            .get_or_create(&KubeRequestLabels {
                method: request.method().to_string(),
            })
            .inc();
        request
    });
    Ok(kube::client::ClientBuilder::try_from(config)?.with_layer(&count).build())
}
