//! Where the cloud layer meets the metrics: a [`CallHook`] that counts every call the registry's
//! stacks make and a [`WireObserver`] that counts every request providers put on the wire.

use std::sync::Arc;
use std::time::Duration;

use eip_cloud::http::WireObserver;
use eip_cloud::{CallHook, CallReport, Operation};

use crate::telemetry::metrics::Metrics;

/// Counts cloud calls and wire requests in [`Metrics`].
pub struct CloudMetrics(pub Arc<Metrics>);

#[async_trait::async_trait]
impl CallHook for CloudMetrics {
    fn after(&self, report: &CallReport<'_>) {
        let (outcome, code, throttled) = match report.result {
            Ok(()) => ("ok", "", false),
            Err(err) => (err.class().label(), err.code.as_str(), err.is_throttled()),
        };
        self.0
            .observe_cloud_call(report.provider, report.operation.as_str(), outcome, code, throttled, report.took);
    }
}

impl WireObserver for CloudMetrics {
    fn observe(&self, provider: &str, operation: Operation, status: Option<u16>, _took: Duration) {
        let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
        self.0.observe_wire_request(provider, operation.as_str(), &status);
    }
}
