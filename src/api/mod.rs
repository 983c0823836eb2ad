//! The custom resources: `ElasticIP` (namespaced) and `ProviderConfig` (cluster-scoped).

mod elastic_ip;
mod provider_config;

pub use elastic_ip::*;
pub use provider_config::*;

use kube::CustomResourceExt;

/// Every CRD this operator serves, as multi-document YAML (what `eip-operator crd` prints and
/// `crds/` holds).
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for crd in [ElasticIP::crd(), ProviderConfig::crd()] {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    Ok(out)
}
