//! The providers this binary serves: one line per provider. Adding a cloud adds its factory here.

use std::sync::Arc;
use std::time::Duration;

use eip_cloud::Registry;

use crate::cloud_metrics::CloudMetrics;
use crate::telemetry::metrics::Metrics;

/// Every real cloud, counted in `metrics`, Describes coalesced within `describe_window`.
pub fn providers(metrics: Arc<Metrics>, describe_window: Duration) -> Registry {
    let counting = Arc::new(CloudMetrics(metrics));
    Registry::default()
        .register(Arc::new(eip_alibaba::AlibabaFactory))
        .register(Arc::new(eip_otc::OtcFactory))
        .register(Arc::new(eip_aws::AwsFactory))
        .decline(
            eip_api::ProviderType::Simulator,
            "needs the operator started with the built-in simulator (run --provider simulator)",
        )
        .hook(counting.clone())
        .observe_wire(counting)
        .describe_window(describe_window)
}
