//! The providers this binary serves: one line per provider. Adding a cloud adds its factory here.

use std::sync::Arc;
use std::time::Duration;

use eip_cloud::Registry;

use crate::cloud_metrics::CloudMetrics;
use crate::telemetry::metrics::Metrics;

/// Every real cloud, counted in `metrics` (with the client-side limiters' current rates),
/// Describes coalesced within `describe_window`.
pub fn providers(metrics: Arc<Metrics>, describe_window: Duration) -> Registry {
    let counting = Arc::new(CloudMetrics(metrics.clone()));
    let registry = Registry::default()
        .register(Arc::new(eip_alibaba::AlibabaFactory))
        .register(Arc::new(eip_otc::OtcFactory))
        .register(Arc::new(eip_aws::AwsFactory))
        .decline(
            eip_api::ProviderType::Simulator,
            "needs the operator started with the built-in simulator (run --provider simulator)",
        )
        .hook(counting.clone())
        .observe_wire(counting)
        .describe_window(describe_window);
    let rates = registry.rates();
    metrics.report_client_rates_with(move || rates.rates());
    registry
}

#[cfg(test)]
mod tests {
    use eip_api::ProviderConfigSpec;
    use eip_cloud::secrets::{SecretData, StaticSecret};

    use super::*;

    fn spec(yaml: serde_json::Value) -> ProviderConfigSpec {
        serde_json::from_value(yaml).expect("spec")
    }

    #[tokio::test(start_paused = true)]
    async fn alibaba_without_rate_limits_is_paced_at_its_published_quotas() {
        let registry = providers(Arc::new(Metrics::new()), Duration::from_millis(250));
        let secrets = || -> Option<Arc<dyn eip_cloud::SecretSource>> { Some(Arc::new(StaticSecret(SecretData::new()))) };
        let unset = spec(serde_json::json!({ "provider": "alibaba", "region": "cn-hangzhou" }));
        let _default = registry.build("published", &unset, secrets()).expect("alibaba");
        let set = spec(serde_json::json!({
            "provider": "otc", "region": "eu-de", "otc": { "projectName": "eu-de" },
            "rateLimits": { "mutatingPerSecond": 20, "describePerSecond": 40, "headroomPercent": 50 },
        }));
        let _own = registry.build("own", &set, secrets()).expect("otc");
        let unlimited = spec(serde_json::json!({ "provider": "otc", "region": "eu-nl", "otc": { "projectName": "eu-nl" } }));
        let _none = registry.build("none", &unlimited, secrets()).expect("otc");
        let rates = registry.rates().rates();
        let rate = |config: &str, api: &'static str| rates.get(&(config.to_string(), api)).copied();
        assert_eq!(
            (rate("published", "allocate"), rate("published", "release")),
            (Some(1.9), Some(9.5))
        );
        assert_eq!((rate("own", "allocate"), rate("own", "reads")), (Some(10.0), Some(20.0)));
        assert_eq!(rate("none", "allocate"), None, "OTC publishes no quota: unlimited unless set");
    }
}
