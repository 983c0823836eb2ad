//! Prometheus metrics: reconciles, cloud calls, wire requests, Kubernetes requests and
//! ElasticIPs by phase and cloud state. Labels are plain strings: this module knows no domain
//! type, the operator's wiring (`cloud_metrics`) translates.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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
pub struct WireLabels {
    pub provider: String,
    pub operation: String,
    /// The HTTP status of the answer, `none` when none came.
    pub status: String,
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderConfigLabels {
    pub provider_config: String,
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
    pub cloud_requests: Family<WireLabels, Counter>,
    pub kube_requests: Family<KubeRequestLabels, Counter>,
    /// EIPs the last leak-ledger scan of each ProviderConfig found orphaned.
    pub orphaned_eips: Family<ProviderConfigLabels, Gauge>,
    elastic_ips: Arc<ElasticIpCollector>,
    client_rates: Arc<RateCollector>,
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
        let cloud_requests = Family::<WireLabels, Counter>::default();
        registry.register(
            "cloud_requests",
            "HTTP requests sent to cloud APIs by provider, operation and status (a batched call is one request)",
            cloud_requests.clone(),
        );
        let kube_requests = Family::<KubeRequestLabels, Counter>::default();
        registry.register("kube_requests", "Requests to the Kubernetes API by method", kube_requests.clone());
        let orphaned_eips = Family::<ProviderConfigLabels, Gauge>::default();
        registry.register(
            "orphaned_eips",
            "EIPs tagged as owned by an object of this cluster that no longer exists, by ProviderConfig (the last leak-ledger scan)",
            orphaned_eips.clone(),
        );
        let elastic_ips = Arc::new(ElasticIpCollector::default());
        registry.register_collector(Box::new(elastic_ips.clone()));
        let client_rates = Arc::new(RateCollector::default());
        registry.register_collector(Box::new(client_rates.clone()));
        Metrics {
            orphaned_eips,
            elastic_ips,
            client_rates,
            registry,
            reconciles,
            reconcile_duration,
            reconciles_in_flight,
            cloud_calls,
            cloud_call_duration,
            cloud_throttled,
            cloud_requests,
            kube_requests,
        }
    }

    /// Feeds the `elasticips` gauge: `counts` gives the ElasticIPs by (phase, cloud state),
    /// asked at scrape time.
    pub fn count_elastic_ips_with(&self, counts: impl Fn() -> BTreeMap<(String, String), i64> + Send + Sync + 'static) {
        *self.elastic_ips.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(counts));
    }

    /// Feeds the `client_rate_limit` gauge: `rates` gives the client-side limiter's current
    /// calls per second by (ProviderConfig, API), asked at scrape time.
    pub fn report_client_rates_with(&self, rates: impl Fn() -> BTreeMap<(String, &'static str), f64> + Send + Sync + 'static) {
        *self.client_rates.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(rates));
    }

    /// One logical cloud call: `outcome` is ok, retryable, terminal or gone; `code` the cloud's
    /// error code (empty on success).
    pub fn observe_cloud_call(&self, provider: &str, operation: &str, outcome: &str, code: &str, throttled: bool, took: Duration) {
        let labels = ThrottleLabels {
            provider: provider.into(),
            operation: operation.into(),
        };
        if throttled {
            self.cloud_throttled.get_or_create(&labels).inc();
        }
        self.cloud_call_duration.get_or_create(&labels).observe(took.as_secs_f64());
        self.cloud_calls
            .get_or_create(&CloudCallLabels {
                provider: provider.into(),
                operation: operation.into(),
                outcome: outcome.into(),
                code: code.into(),
            })
            .inc();
    }

    /// One request on the wire to a cloud: `status` is the HTTP status, or `none` when no answer
    /// came.
    pub fn observe_wire_request(&self, provider: &str, operation: &str, status: &str) {
        self.cloud_requests
            .get_or_create(&WireLabels {
                provider: provider.into(),
                operation: operation.into(),
                status: status.into(),
            })
            .inc();
    }

    /// What the last scan of `provider_config` found orphaned.
    pub fn set_orphaned(&self, provider_config: &str, count: usize) {
        self.orphaned_eips
            .get_or_create(&ProviderConfigLabels {
                provider_config: provider_config.into(),
            })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
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

/// Counts by (phase, cloud state), computed at scrape time.
pub type PhaseCounts = Box<dyn Fn() -> BTreeMap<(String, String), i64> + Send + Sync>;

#[derive(Default)]
struct ElasticIpCollector(std::sync::Mutex<Option<PhaseCounts>>);

impl std::fmt::Debug for ElasticIpCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ElasticIpCollector")
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, Ord, PartialOrd, EncodeLabelSet)]
struct EipLabels {
    phase: String,
    cloud_state: String,
}

impl Collector for ElasticIpCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counts: BTreeMap<EipLabels, i64> = match &*self.0.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(source) => source()
                .into_iter()
                .map(|((phase, cloud_state), count)| (EipLabels { phase, cloud_state }, count))
                .collect(),
            None => BTreeMap::new(),
        };
        let gauge_type = ConstGauge::new(0i64).metric_type();
        let mut family = encoder.encode_descriptor("elasticips", "ElasticIPs by phase and cloud state", None, gauge_type)?;
        for (labels, count) in &counts {
            ConstGauge::new(*count).encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }
}

/// Rates by (ProviderConfig, API), computed at scrape time.
pub type ClientRates = Box<dyn Fn() -> BTreeMap<(String, &'static str), f64> + Send + Sync>;

#[derive(Default)]
struct RateCollector(std::sync::Mutex<Option<ClientRates>>);

impl std::fmt::Debug for RateCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateCollector")
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, Ord, PartialOrd, EncodeLabelSet)]
struct RateLabels {
    provider_config: String,
    api: String,
}

impl Collector for RateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rates: BTreeMap<RateLabels, f64> = match &*self.0.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(source) => source()
                .into_iter()
                .map(|((provider_config, api), rate)| {
                    (
                        RateLabels {
                            provider_config,
                            api: api.to_string(),
                        },
                        rate,
                    )
                })
                .collect(),
            None => BTreeMap::new(),
        };
        let gauge_type = ConstGauge::new(0f64).metric_type();
        let help = "Calls per second the client-side limiter allows now, by ProviderConfig and API (halved after a throttling answer, 0 during its retry-after)";
        let mut family = encoder.encode_descriptor("client_rate_limit", help, None, gauge_type)?;
        for (labels, rate) in &rates {
            ConstGauge::new(*rate).encode(family.encode_family(labels)?)?;
        }
        Ok(())
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
