//! Open Telekom Cloud's and Huawei Cloud's entry in the provider registry.

use std::sync::Arc;

use eip_api::ProviderType;
use eip_cloud::{BuildContext, BuildError, CloudProvider, ProviderFactory};

use crate::{OtcCloud, OtcProvider, OtcSettings};

/// Builds [`OtcProvider`]s from ProviderConfigs of type `otc` and `huawei`.
pub struct OtcFactory;

impl ProviderFactory for OtcFactory {
    fn provider_types(&self) -> &'static [ProviderType] {
        &[ProviderType::Otc, ProviderType::Huawei]
    }

    fn build(&self, context: &BuildContext<'_>) -> Result<Arc<dyn CloudProvider>, BuildError> {
        let spec = context.spec;
        let cloud = match spec.provider {
            ProviderType::Huawei => OtcCloud::HuaweiCloud,
            _ => OtcCloud::OpenTelekomCloud,
        };
        let settings = OtcSettings::new(cloud, &spec.region, spec.endpoint.as_deref(), spec.otc.as_ref());
        let provider = OtcProvider::new(settings, context.secrets()?)?.with_wire_observer(context.wire_observer.clone());
        Ok(Arc::new(provider))
    }
}
