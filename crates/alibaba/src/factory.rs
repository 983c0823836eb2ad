//! Alibaba Cloud's entry in the provider registry.

use std::sync::Arc;

use eip_api::{ProviderType, RateLimits};
use eip_cloud::{BuildContext, BuildError, CloudProvider, ProviderFactory};

use crate::AlibabaProvider;

/// Builds [`AlibabaProvider`]s from ProviderConfigs of type `alibaba`.
pub struct AlibabaFactory;

impl ProviderFactory for AlibabaFactory {
    fn provider_types(&self) -> &'static [ProviderType] {
        &[ProviderType::Alibaba]
    }

    fn build(&self, context: &BuildContext<'_>) -> Result<Arc<dyn CloudProvider>, BuildError> {
        let spec = context.spec;
        let provider = AlibabaProvider::new_observed(
            &spec.region,
            spec.endpoint.as_deref(),
            spec.alibaba.as_ref(),
            context.secrets()?,
            context.wire_observer.clone(),
        )?;
        Ok(Arc::new(provider))
    }

    /// Alibaba Cloud's published quotas per region and main account: 120 calls a minute for
    /// AllocateEipAddress, AssociateEipAddress and UnassociateEipAddress, 600 for
    /// DescribeEipAddresses and ReleaseEipAddress.
    fn default_rate_limits(&self) -> Option<RateLimits> {
        Some(RateLimits {
            mutating_per_second: 2,
            describe_per_second: 10,
            release_per_second: Some(10),
            headroom_percent: None,
        })
    }
}
