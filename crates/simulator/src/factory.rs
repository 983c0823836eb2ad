//! The simulator's entry in the provider registry: ProviderConfigs of type `simulator` get a
//! provider for their region of this process's simulated cloud.

use std::sync::Arc;

use eip_api::ProviderType;
use eip_cloud::{BuildContext, BuildError, CloudProvider, ProviderFactory};

use crate::Simulator;

/// Builds in-process providers of one [`Simulator`].
pub struct SimulatorFactory {
    simulator: Simulator,
    allocation_tokens: bool,
}

impl SimulatorFactory {
    pub fn new(simulator: Simulator) -> Self {
        SimulatorFactory {
            simulator,
            allocation_tokens: true,
        }
    }

    /// Providers that allocate without client tokens (see
    /// [`SimulatorProvider::without_allocation_tokens`](crate::SimulatorProvider::without_allocation_tokens)).
    pub fn without_allocation_tokens(mut self) -> Self {
        self.allocation_tokens = false;
        self
    }
}

impl ProviderFactory for SimulatorFactory {
    fn provider_types(&self) -> &'static [ProviderType] {
        &[ProviderType::Simulator]
    }

    fn build(&self, context: &BuildContext<'_>) -> Result<Arc<dyn CloudProvider>, BuildError> {
        let provider = self
            .simulator
            .provider(&context.spec.region)
            .map_err(|err| BuildError::Invalid(err.to_string()))?;
        Ok(Arc::new(if self.allocation_tokens {
            provider
        } else {
            provider.without_allocation_tokens()
        }))
    }
}
