//! The simulator's entry in the provider registry: ProviderConfigs of type `simulator` get a
//! provider for their region of this process's simulated cloud.

use std::sync::Arc;

use eip_api::ProviderType;
use eip_cloud::{BuildContext, BuildError, CloudProvider, ProviderFactory};

use crate::Simulator;

/// Builds in-process providers of one [`Simulator`].
pub struct SimulatorFactory {
    simulator: Simulator,
}

impl SimulatorFactory {
    pub fn new(simulator: Simulator) -> Self {
        SimulatorFactory { simulator }
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
        Ok(Arc::new(provider))
    }
}
