//! Amazon EC2's entry in the provider registry.

use std::sync::Arc;

use eip_api::ProviderType;
use eip_cloud::{BuildContext, BuildError, CloudProvider, ProviderFactory};

use crate::AwsProvider;

/// Builds [`AwsProvider`]s from ProviderConfigs of type `aws`.
pub struct AwsFactory;

impl ProviderFactory for AwsFactory {
    fn provider_types(&self) -> &'static [ProviderType] {
        &[ProviderType::Aws]
    }

    fn build(&self, context: &BuildContext<'_>) -> Result<Arc<dyn CloudProvider>, BuildError> {
        let spec = context.spec;
        let provider = AwsProvider::new(
            &spec.region,
            spec.endpoint.as_deref(),
            spec.aws.as_ref(),
            context.secrets()?,
            context.wire_observer.clone(),
        )?;
        Ok(Arc::new(provider))
    }
}
